/* server.h - the running server: what every handler shares, and its
 * lifecycle entry point.
 *
 * One bgs_server exists per process. The loop thread creates it, starts
 * the HTTP daemon and owns signals, timers and shutdown; HTTP threads read
 * it (the settings are immutable once serving, the rest is thread-safe or
 * atomic). */
#ifndef BGS_SERVER_H
#define BGS_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "server/auth.h"
#include "server/cache.h"
#include "server/compute.h"
#include "server/config.h"
#include "server/guard.h"
#include "server/metrics.h"

struct MHD_Daemon;

typedef struct {
    bgs_config cfg;
    int compute_threads; /* resolved from cfg (0 -> cores) */
    bgs_cache *cache;
    bgs_metrics *metrics;
    bgs_compute *compute;
    bgs_auth auth;    /* token and TLS material, read-only */
    bgs_guard *guard; /* request deadlines */
    struct MHD_Daemon *daemon;
    atomic_bool draining; /* set once, on SIGTERM/SIGINT */
    atomic_int suspended; /* connections suspended right now */
} bgs_server;

/* Run the server with *cfg until SIGTERM or SIGINT has drained it. Logs
 * its own failures. Returns the process exit status: 0 after a clean stop,
 * 1 if it could not start, 2 if a token or TLS file is unusable. */
int bgs_server_run(const bgs_config *cfg);

#endif

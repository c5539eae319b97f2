/* metrics.h - counters, gauges and histograms in Prometheus text format.
 *
 * One bgs_metrics per server, updated lock-free (C11 atomics) from any
 * thread. Label sets are bounded by construction: routes are the fixed
 * route templates, methods collapse to GET/HEAD/POST/OTHER and statuses to
 * a fixed list plus "other", so no client can grow the output. */
#ifndef BGS_METRICS_H
#define BGS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "api/routes.h"

typedef struct bgs_metrics bgs_metrics;

/* What the cache reports at render time (plain numbers). */
typedef struct {
    uint64_t hits, misses, evictions;
    uint64_t bytes, entries;
    uint64_t live_bytes; /* cached, computing or being sent */
} bgs_cache_stats;

/* A new, zeroed set of metrics; NULL on allocation failure. */
bgs_metrics *bgs_metrics_new(void);
void bgs_metrics_free(bgs_metrics *m);

/* Count one finished request: its route template (a 405 or 404 too: the
 * template its path matched, or OTHER), method as received, HTTP status,
 * seconds taken. */
void bgs_metrics_request(bgs_metrics *m, bgapi_route_template route,
                         const char *method, int status, double seconds);

/* Count one computed grid of `sources` sources that took `seconds`. */
void bgs_metrics_compute(bgs_metrics *m, uint64_t sources, double seconds);

/* Count one computation refused because the queue was full. */
void bgs_metrics_shed(bgs_metrics *m);

/* Gauges: requests in flight, computations queued and not yet started.
 * Add a signed delta; return the value after the change. */
int64_t bgs_metrics_inflight_add(bgs_metrics *m, int64_t delta);
int64_t bgs_metrics_pending_add(bgs_metrics *m, int64_t delta);

/* Reserve a place in the queue of pending computations: increments the
 * pending gauge and returns 0 if it was below max, else leaves it and
 * returns -1. */
int bgs_metrics_pending_try(bgs_metrics *m, int64_t max);

/* Current values, for readiness and shutdown decisions and for tests. */
int64_t bgs_metrics_inflight(const bgs_metrics *m);
uint64_t bgs_metrics_grids_computed(const bgs_metrics *m);

/* Render everything, plus the cache's numbers, as Prometheus text
 * exposition format 0.0.4. Returns a malloc'd buffer (caller frees) and
 * sets *len; NULL on allocation failure. */
char *bgs_metrics_render(const bgs_metrics *m, const bgs_cache_stats *cache,
                         size_t *len);

#endif

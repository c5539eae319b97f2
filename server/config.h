/* config.h - the server's settings: command-line flags and their BEAMGRID_*
 * environment twins.
 *
 * Every setting has a flag (--port) and an environment variable
 * (BEAMGRID_PORT); the flag wins over the variable, the variable over the
 * built-in default. Values are range-checked here, so the rest of the server
 * can trust them. */
#ifndef BGS_CONFIG_H
#define BGS_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#ifndef BGS_VERSION
#define BGS_VERSION "1.0.0"
#endif

#define BGS_BIND_MAX 64
#define BGS_PATH_MAX 1024

typedef enum {
    BGS_LOG_INFO,
    BGS_LOG_WARN,
    BGS_LOG_ERROR,
    BGS_LOG_OFF
} bgs_log_level;

typedef struct {
    char bind[BGS_BIND_MAX]; /* numeric IPv4 or IPv6 address */
    int64_t port;            /* 0: pick a free port */
    int64_t threads;         /* HTTP threads; 0: one per core */
    int64_t compute_threads; /* the compute team, all grids; 0: cores */
    int64_t cache_mb;        /* cache bound in MiB (0: no caching) */
    int64_t max_memory_mb;   /* grids alive at once: cached, being
                                computed or sent (503 past it) */
    int64_t max_sources;     /* largest grid served */
    int64_t max_body_kb;     /* largest request body, KiB */
    int64_t max_text_mb;     /* largest JSON or txt answer, MiB,
                                estimated from the count; 0: none */
    int64_t max_header_kb;   /* libmicrohttpd's memory per connection: the
                                request line (an id) and headers, KiB */
    int64_t max_pending;     /* queued computations before 503 */
    int64_t drain_s;         /* seconds in-flight work may take on stop */
    int64_t max_connections;
    int64_t per_ip_connections;  /* 0: no per-address limit */
    int64_t timeout_s;           /* idle connection timeout; 0: none */
    int64_t inline_max_kb;       /* work (output bytes of a grid or a
                                    body) done on an HTTP thread; more
                                    goes to the executor */
    int64_t request_timeout_s;   /* to send one request; 0: none */
    char log_file[BGS_PATH_MAX]; /* "" : stderr */
    bgs_log_level log_level;
    char token_file[BGS_PATH_MAX]; /* "": /v1/... is open */
    int64_t metrics_auth;          /* 1: /metrics needs the token too */
    char tls_cert[BGS_PATH_MAX];   /* "" (both): plain HTTP */
    char tls_key[BGS_PATH_MAX];
} bgs_config;

typedef enum {
    BGS_CONFIG_RUN,  /* settings are valid: serve */
    BGS_CONFIG_EXIT, /* --help or --version was printed */
    BGS_CONFIG_ERROR /* a message was written to err */
} bgs_config_result;

/* Set *cfg to the built-in defaults. */
void bgs_config_defaults(bgs_config *cfg);

/* Fill *cfg from defaults, then BEAMGRID_* variables (getenv), then the
 * flags in argv[1..argc) ("--name value" or "--name=value"). --help prints
 * the table of settings to out, --version the version; both return
 * BGS_CONFIG_EXIT. An unknown flag, a missing or malformed value or one out
 * of range writes one line naming the flag (or variable) to err and returns
 * BGS_CONFIG_ERROR; *cfg is then unspecified. */
bgs_config_result bgs_config_load(bgs_config *cfg, int argc, char **argv,
                                  FILE *out, FILE *err);

/* The resolved thread counts: `n` itself, or the number of online cores
 * when n is 0. Always >= 1. */
int bgs_config_threads(int64_t n);

/* The name of a log level ("info", "warn", "error", "off"). Static. */
const char *bgs_log_level_name(bgs_log_level level);

#endif

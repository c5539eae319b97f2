/* config.c - parses beamgrid's settings from the environment and argv.
 *
 * One table lists every setting with its flag, its BEAMGRID_* variable, its
 * kind, bounds, default and help line; the defaults, the parser and --help
 * are all driven by it, so adding a setting is one row. Parsing is strict:
 * a number must be all digits and in range, or the server refuses to start
 * (exit status 2 in main). */
#include "server/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* OPT_BOOL: "--flag" alone means 1; "--flag=0|1|true|false" and the
 * variable take a value. */
typedef enum { OPT_INT, OPT_ADDR, OPT_PATH, OPT_LEVEL, OPT_BOOL } opt_kind;

typedef struct {
    const char *flag; /* without the leading "--" */
    const char *env;
    opt_kind kind;
    size_t offset;    /* into bgs_config */
    int64_t min, max; /* OPT_INT only */
    const char *def;  /* default, as text */
    const char *help;
} opt_def;

#define OFF(field) offsetof(bgs_config, field)

static const opt_def OPTS[] = {
    {"bind", "BEAMGRID_BIND", OPT_ADDR, OFF(bind), 0, 0, "127.0.0.1",
     "numeric IPv4 or IPv6 address to listen on"},
    {"port", "BEAMGRID_PORT", OPT_INT, OFF(port), 0, 65535, "8080",
     "TCP port; 0 picks a free one (printed in the startup line)"},
    {"threads", "BEAMGRID_THREADS", OPT_INT, OFF(threads), 0, 1024, "0",
     "HTTP threads; 0 = number of cores"},
    {"compute-threads", "BEAMGRID_COMPUTE_THREADS", OPT_INT,
     OFF(compute_threads), 0, 1024, "0",
     "computing threads in all (the one OpenMP team); 0 = number of "
     "cores"},
    {"cache-mb", "BEAMGRID_CACHE_MB", OPT_INT, OFF(cache_mb), 0, 1048576, "256",
     "cache bound in MiB (grids and encoded bodies); 0 = no cache"},
    {"max-memory-mb", "BEAMGRID_MAX_MEMORY_MB", OPT_INT, OFF(max_memory_mb), 1,
     16777216, "4096",
     "MiB of grids alive at once (cached, computing, being sent); 503 past "
     "it"},
    {"max-sources", "BEAMGRID_MAX_SOURCES", OPT_INT, OFF(max_sources), 1,
     INT64_C(10000000000), "20000000", "largest grid served, in sources"},
    {"max-body-kb", "BEAMGRID_MAX_BODY_KB", OPT_INT, OFF(max_body_kb), 1,
     1048576, "1024",
     "largest request body in KiB (413 past it); the default admits a "
     "10,000-entry spectrum table"},
    {"max-text-mb", "BEAMGRID_MAX_TEXT_MB", OPT_INT, OFF(max_text_mb), 0,
     1048576, "256",
     "largest JSON or txt answer in MiB, estimated at 120 bytes a source "
     "(422 naming npy and bin past it); 0 = no limit"},
    {"max-header-kb", "BEAMGRID_MAX_HEADER_KB", OPT_INT, OFF(max_header_kb), 16,
     65536, "64",
     "memory per connection in KiB for the request line (a GET's id), the "
     "headers and the answer's headers (431/414 past it); 64 serves the id "
     "of a 1,000-channel spectrum table"},
    {"max-pending", "BEAMGRID_MAX_PENDING", OPT_INT, OFF(max_pending), 1,
     1000000, "16", "queued large computations before 503"},
    {"drain-s", "BEAMGRID_DRAIN_S", OPT_INT, OFF(drain_s), 0, 3600, "10",
     "seconds in-flight requests may take after SIGTERM"},
    {"max-connections", "BEAMGRID_MAX_CONNECTIONS", OPT_INT,
     OFF(max_connections), 1, 1000000, "1024", "open connections, at most"},
    {"per-ip-connections", "BEAMGRID_PER_IP_CONNECTIONS", OPT_INT,
     OFF(per_ip_connections), 0, 1000000, "256",
     "open connections per client address; 0 = no limit"},
    {"timeout-s", "BEAMGRID_TIMEOUT_S", OPT_INT, OFF(timeout_s), 0, 86400, "30",
     "idle connection timeout in seconds; 0 = none"},
    {"request-timeout-s", "BEAMGRID_REQUEST_TIMEOUT_S", OPT_INT,
     OFF(request_timeout_s), 0, 86400, "30",
     "seconds a client may take to send a request (line, headers, body), "
     "from its connection or previous response; 0 = none"},
    {"inline-max-kb", "BEAMGRID_INLINE_MAX_KB", OPT_INT, OFF(inline_max_kb), 0,
     1048576, "2048",
     "work (grid or body bytes) an HTTP thread does itself; larger goes to "
     "the compute thread, the connection suspended; 0 = none"},
    {"log-file", "BEAMGRID_LOG_FILE", OPT_PATH, OFF(log_file), 0, 0, "",
     "append JSON log lines here (default stderr); SIGHUP reopens it"},
    {"log-level", "BEAMGRID_LOG_LEVEL", OPT_LEVEL, OFF(log_level), 0, 0, "info",
     "info|warn|error|off (request lines are info)"},
    {"token-file", "BEAMGRID_TOKEN_FILE", OPT_PATH, OFF(token_file), 0, 0, "",
     "file holding the bearer token /v1/* requires (default: none)"},
    {"metrics-auth", "BEAMGRID_METRICS_AUTH", OPT_BOOL, OFF(metrics_auth), 0, 1,
     "0", "/metrics requires the token too (needs --token-file)"},
    {"tls-cert", "BEAMGRID_TLS_CERT", OPT_PATH, OFF(tls_cert), 0, 0, "",
     "PEM certificate (chain) file: serve HTTPS (with --tls-key)"},
    {"tls-key", "BEAMGRID_TLS_KEY", OPT_PATH, OFF(tls_key), 0, 0, "",
     "PEM private key file of --tls-cert"},
};

#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

static const char *const LEVEL_NAMES[] = {"info", "warn", "error", "off"};

const char *bgs_log_level_name(bgs_log_level level)
{
    if ((unsigned)level >= sizeof LEVEL_NAMES / sizeof LEVEL_NAMES[0])
        return "info";
    return LEVEL_NAMES[level];
}

int bgs_config_threads(int64_t n)
{
    if (n > 0)
        return (int)n;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)cores : 1;
}

static int parse_int(const opt_def *o, const char *text, int64_t *out)
{
    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < o->min || v > o->max)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int parse_bool(const char *text, int64_t *out)
{
    if (strcmp(text, "1") == 0 || strcmp(text, "true") == 0)
        *out = 1;
    else if (strcmp(text, "0") == 0 || strcmp(text, "false") == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

static int parse_addr(const char *text)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, text, buf) == 1 ||
                   inet_pton(AF_INET6, text, buf) == 1
               ? 0
               : -1;
}

static int parse_level(const char *text, bgs_log_level *out)
{
    for (size_t i = 0; i < sizeof LEVEL_NAMES / sizeof LEVEL_NAMES[0]; i++) {
        if (strcmp(text, LEVEL_NAMES[i]) == 0) {
            *out = (bgs_log_level)i;
            return 0;
        }
    }
    return -1;
}

/* Store text as the value of option o in *cfg. Returns 0 or -1. */
static int set_opt(bgs_config *cfg, const opt_def *o, const char *text)
{
    char *field = (char *)cfg + o->offset;
    switch (o->kind) {
    case OPT_INT:
        return parse_int(o, text, (int64_t *)(void *)field);
    case OPT_ADDR:
        if (strlen(text) >= BGS_BIND_MAX || parse_addr(text) != 0)
            return -1;
        strcpy(field, text);
        return 0;
    case OPT_PATH:
        if (strlen(text) >= BGS_PATH_MAX)
            return -1;
        strcpy(field, text);
        return 0;
    case OPT_LEVEL:
        return parse_level(text, (bgs_log_level *)(void *)field);
    case OPT_BOOL:
        return parse_bool(text, (int64_t *)(void *)field);
    }
    return -1;
}

static void describe(const opt_def *o, FILE *err)
{
    switch (o->kind) {
    case OPT_INT:
        fprintf(err, "an integer in %lld..%lld", (long long)o->min,
                (long long)o->max);
        break;
    case OPT_ADDR:
        fputs("a numeric IPv4 or IPv6 address", err);
        break;
    case OPT_PATH:
        fprintf(err, "a path shorter than %d bytes", BGS_PATH_MAX);
        break;
    case OPT_LEVEL:
        fputs("one of info, warn, error, off", err);
        break;
    case OPT_BOOL:
        fputs("0, 1, true or false", err);
        break;
    }
}

static int set_or_complain(bgs_config *cfg, const opt_def *o, const char *text,
                           const char *source, FILE *err)
{
    if (set_opt(cfg, o, text) == 0)
        return 0;
    fprintf(err, "beamgrid: invalid value for %s: ", source);
    describe(o, err);
    fputs(" expected\n", err);
    return -1;
}

void bgs_config_defaults(bgs_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_OPTS; i++)
        (void)set_opt(cfg, &OPTS[i], OPTS[i].def);
}

static const opt_def *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        if (strlen(OPTS[i].flag) == len &&
            strncmp(OPTS[i].flag, name, len) == 0)
            return &OPTS[i];
    }
    return NULL;
}

static int load_env(bgs_config *cfg, FILE *err)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *v = getenv(OPTS[i].env);
        if (v != NULL &&
            set_or_complain(cfg, &OPTS[i], v, OPTS[i].env, err) != 0)
            return -1;
    }
    return 0;
}

static void print_help(FILE *out)
{
    fputs("usage: beamgrid [--flag value ...]\n"
          "Serves nanoBragg-exact X-ray source grids over HTTP.\n\n"
          "Every flag has an environment twin; the flag wins.\n\n",
          out);
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_def *o = &OPTS[i];
        fprintf(out, "  --%-20s %-28s default %s\n      %s\n", o->flag, o->env,
                o->def[0] ? o->def : "(none)", o->help);
    }
    fputs("  --help                  this table\n"
          "  --version               the version\n",
          out);
}

/* Parse argv[*i] (and maybe argv[*i + 1]) as one flag. */
static bgs_config_result parse_flag(bgs_config *cfg, int argc, char **argv,
                                    int *i, FILE *out, FILE *err)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        print_help(out);
        return BGS_CONFIG_EXIT;
    }
    if (strcmp(arg, "--version") == 0) {
        fprintf(out, "beamgrid %s\n", BGS_VERSION);
        return BGS_CONFIG_EXIT;
    }
    if (strncmp(arg, "--", 2) != 0) {
        fprintf(err, "beamgrid: unexpected argument '%.64s' (try --help)\n",
                arg);
        return BGS_CONFIG_ERROR;
    }
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const opt_def *o = find_flag(name, len);
    if (o == NULL) {
        fprintf(err, "beamgrid: unknown flag '%.64s' (try --help)\n", arg);
        return BGS_CONFIG_ERROR;
    }
    const char *value = eq ? eq + 1 : NULL;
    if (value == NULL && o->kind == OPT_BOOL)
        value = "1";
    if (value == NULL) {
        if (*i + 1 >= argc) {
            fprintf(err, "beamgrid: --%s needs a value\n", o->flag);
            return BGS_CONFIG_ERROR;
        }
        value = argv[++*i];
    }
    char source[48];
    snprintf(source, sizeof source, "--%s", o->flag);
    return set_or_complain(cfg, o, value, source, err) == 0 ? BGS_CONFIG_RUN
                                                            : BGS_CONFIG_ERROR;
}

/* Settings that only make sense together. */
static bgs_config_result check_pairs(const bgs_config *cfg, FILE *err)
{
    if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
        fputs("beamgrid: --tls-cert and --tls-key go together\n", err);
        return BGS_CONFIG_ERROR;
    }
    if (cfg->metrics_auth && cfg->token_file[0] == '\0') {
        fputs("beamgrid: --metrics-auth needs --token-file\n", err);
        return BGS_CONFIG_ERROR;
    }
    return BGS_CONFIG_RUN;
}

bgs_config_result bgs_config_load(bgs_config *cfg, int argc, char **argv,
                                  FILE *out, FILE *err)
{
    bgs_config_defaults(cfg);
    /* --help and --version answer even when the environment is bad. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
            strcmp(argv[i], "--version") == 0)
            return parse_flag(cfg, argc, argv, &i, out, err);
    }
    if (load_env(cfg, err) != 0)
        return BGS_CONFIG_ERROR;
    for (int i = 1; i < argc; i++) {
        bgs_config_result r = parse_flag(cfg, argc, argv, &i, out, err);
        if (r != BGS_CONFIG_RUN)
            return r;
    }
    return check_pairs(cfg, err);
}

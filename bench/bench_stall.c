/* bench_stall.c - `make bench`: the machinery around the grids, measured on
 * the real server (build/beamgrid, or argv[optind], or BEAMGRID_BIN),
 * which this program starts itself on a free loopback port (--port 0; the
 * port is read from the JSON startup line), three times:
 *
 *  1. stalls: 6 clients POST never-seen grids of about 150k sources as JSON
 *     (lambda_A differs per request), a new connection each, for -d seconds
 *     (default 10), draining the bodies, while a seventh client probes
 *     GET /healthz and GET of a cached small grid S (npy), alternately,
 *     one at a time, on one keep-alive connection. Goal: the worst probe
 *     under 50 ms.
 *  2. threads: --threads 2 --compute-threads 8, 8 clients POST never-seen
 *     grids of about 300k sources (npy) for -t seconds (default 5), while
 *     /proc/<pid>/task is sampled every 10 ms. Goal: at most 1 (main) +
 *     2 (HTTP) + 8 (compute) + 2 (housekeeping) = 13 threads.
 *  3. memory: --cache-mb 2048, 8 distinct grids of about 110k sources
 *     POSTed as npy, then each GET as bin and as npy (twice); VmRSS growth
 *     over the sources cached, and beamgrid_cache_bytes (/metrics) over the
 *     same. Goal: at most 48 bytes a source (the grid's one block, which the
 *     npy and bin bodies are). Then each GET as JSON once: the same growth
 *     with a JSON body cached beside each block (no goal: the JSON body's
 *     own size is added).
 *
 * Only the flags --bind --port --threads --compute-threads --cache-mb
 * --max-memory-mb --log-level --log-file are used. Everything is on
 * loopback and bounded in time. Exit status 0 when the measurements were
 * made (met or not: it is a benchmark), 1 when they could not be (the
 * server did not start, a warm-up request failed, no probe answered). */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/server.h"

#define STALL_CLIENTS   6
#define THREAD_CLIENTS  8
#define MEM_GRIDS       8
#define STALL_GOAL_MS   50.0
#define THREAD_HTTP     2
#define THREAD_COMPUTE  8
#define THREAD_GOAL     (1 + THREAD_HTTP + THREAD_COMPUTE + 2)
#define BYTES_GOAL      48.0
#define REQUEST_TIMEOUT 120L

/* S of bench/http_bench.sh: 4473 sources, cached by the warm-up. */
static const char S_BODY[] = "{\"divergence_mrad\":0.5,\"divsteps\":25,"
                             "\"dispersion_percent\":0.1,\"dispsteps\":9}";

/* About 150k (divsteps 141), 300k (divsteps 200) and 110k (divsteps 121)
 * sources (the directions inside the divergence circle x 9 wavelengths;
 * the counts printed are the server's); lambda_A is appended. */
#define GRID_FMT                                                               \
    "{\"divergence_mrad\":0.5,\"divsteps\":%d,\"dispersion_percent\":0.1,"     \
    "\"dispsteps\":9,\"lambda_A\":%.9f}"
#define STALL_DIVSTEPS  141
#define THREAD_DIVSTEPS 200
#define MEM_DIVSTEPS    121

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000.0) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the server: tests/support/server.c's, with the log in g_dir ---- */

static char g_dir[128]; /* temporary folder of the logs */

/* Start BEAMGRID_BIN with --log-file g_dir/NAME.log and the given flags
 * (NULL-terminated). 0, or -1 with a message on stderr. */
static int server_start(bgt_server *s, const char *name,
                        const char *const *flags)
{
    char log[256];
    const char *argv[32] = {"--log-file", log};
    int argc = 2;
    snprintf(log, sizeof log, "%s/%s.log", g_dir, name);
    for (int i = 0; flags[i] != NULL && argc < 31; i++)
        argv[argc++] = flags[i];
    argv[argc] = NULL;
    if (bgt_server_start(s, argv) == 0)
        return 0;
    fprintf(stderr, "bench_stall: %s did not start (log: %s)\n",
            getenv("BEAMGRID_BIN"), log);
    return -1;
}

static void server_stop(bgt_server *s)
{
    bgt_server_stop(s, 15);
}

/* ---- HTTP (libcurl) ---- */

/* A response body drained as it comes: its size, and its first bytes
 * (enough for the JSON count, the npy header, the bin header). */
typedef struct {
    size_t len;
    char head[4096];
    size_t head_len;
    char location[1024]; /* Content-Location */
} sink;

static size_t on_body(char *ptr, size_t size, size_t n, void *userdata)
{
    sink *s = userdata;
    size_t add = size * n;
    if (s->head_len + 1 < sizeof s->head) {
        size_t k = sizeof s->head - 1 - s->head_len;
        if (k > add)
            k = add;
        memcpy(s->head + s->head_len, ptr, k);
        s->head_len += k;
        s->head[s->head_len] = '\0';
    }
    s->len += add;
    return add;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *userdata)
{
    sink *s = userdata;
    size_t add = size * n;
    static const char name[] = "content-location:";
    if (add > sizeof name - 1 && strncasecmp(ptr, name, sizeof name - 1) == 0) {
        const char *v = ptr + sizeof name - 1;
        size_t k = add - (sizeof name - 1);
        while (k > 0 && (*v == ' ' || *v == '\t'))
            v++, k--;
        while (k > 0 &&
               (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' '))
            k--;
        if (k >= sizeof s->location)
            k = sizeof s->location - 1;
        memcpy(s->location, v, k);
        s->location[k] = '\0';
    }
    return add;
}

static CURL *client_new(void)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return NULL;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, REQUEST_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* loopback, never a proxy */
    return c;
}

/* One request on c (its connection kept alive between calls): GET when
 * json is NULL, else POST of json. Returns the HTTP status, or -1 on a
 * transport error; *ms is the wall time it took either way. */
static long request(CURL *c, const char *url, const char *json, sink *s,
                    double *ms)
{
    static const char *const ct = "Content-Type: application/json";
    struct curl_slist *h = NULL;
    memset(s, 0, sizeof *s);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
    if (json != NULL) {
        h = curl_slist_append(NULL, ct);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(c);
    if (ms != NULL)
        *ms = (now_s() - t0) * 1000;
    long status = -1;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    return status;
}

/* The source count of a grid body from its first bytes: "count":N of
 * JSON, the shape of npy, the little-endian count at offset 8 of bin;
 * -1 if not found. */
static long long body_count(const sink *s, const char *format)
{
    const char *p;
    if (strcmp(format, "json") == 0 &&
        (p = strstr(s->head, "\"count\":")) != NULL)
        return strtoll(p + 8, NULL, 10);
    if (strcmp(format, "npy") == 0 && s->head_len > 10 &&
        (p = strstr(s->head + 10, "'shape': (")) != NULL)
        return strtoll(p + 10, NULL, 10);
    if (strcmp(format, "bin") == 0 && s->head_len >= 16) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
            v = v << 8 | (unsigned char)s->head[8 + i];
        return (long long)v;
    }
    return -1;
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    size_t k = (size_t)ceil(p / 100 * (double)n);
    return v[k == 0 ? 0 : k - 1];
}

static void print_latencies(const char *label, double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    printf("  %-26s %7zu %9.2f %9.2f %9.2f\n", label, n, pct(v, n, 50),
           pct(v, n, 99), n ? v[n - 1] : NAN);
}

/* ---- load clients ---- */

typedef struct {
    const bgt_server *srv;
    int id;
    int divsteps;
    const char *format;
    double lambda0;
    double deadline;
    /* results */
    long ok, bad_status, transport;
    long long sources, bytes, count_min, count_max;
} loader;

static void *run_loader(void *arg)
{
    loader *l = arg;
    char url[128], body[256];
    sink k;
    CURL *c = client_new();
    if (c == NULL) {
        l->transport++;
        return NULL;
    }
    /* a new connection per request, so the load reaches every thread that
     * accepts connections, not only those its first ones landed on */
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    snprintf(url, sizeof url, "%s/v1/sources?format=%s", l->srv->base,
             l->format);
    l->count_min = -1;
    for (long n = 0; now_s() < l->deadline; n++) {
        /* every request a grid never asked before */
        snprintf(body, sizeof body, GRID_FMT, l->divsteps,
                 l->lambda0 + l->id * 0.1 + (double)n * 1e-6);
        long st = request(c, url, body, &k, NULL);
        if (st == 200) {
            long long cnt = body_count(&k, l->format);
            l->ok++;
            l->sources += cnt > 0 ? cnt : 0;
            l->bytes += (long long)k.len;
            if (l->count_min < 0 || cnt < l->count_min)
                l->count_min = cnt;
            if (cnt > l->count_max)
                l->count_max = cnt;
        } else if (st < 0) {
            l->transport++;
        } else {
            l->bad_status++;
        }
    }
    curl_easy_cleanup(c);
    return NULL;
}

typedef struct {
    long ok, bad_status, transport;
    long long sources, bytes, count_min, count_max;
} load_total;

/* Start n loaders (join_load waits for them). */
static void run_load(const bgt_server *s, loader *l, pthread_t *t, int n,
                     int divsteps, const char *format, double lambda0,
                     double seconds)
{
    double deadline = now_s() + seconds;
    for (int i = 0; i < n; i++) {
        l[i] = (loader){.srv = s,
                        .id = i,
                        .divsteps = divsteps,
                        .format = format,
                        .lambda0 = lambda0,
                        .deadline = deadline};
        if (pthread_create(&t[i], NULL, run_loader, &l[i]) != 0)
            t[i] = 0, l[i].transport = 1;
    }
}

static load_total join_load(loader *l, pthread_t *t, int n)
{
    load_total tot;
    memset(&tot, 0, sizeof tot);
    tot.count_min = -1;
    for (int i = 0; i < n; i++) {
        if (t[i] != 0)
            pthread_join(t[i], NULL);
        tot.ok += l[i].ok;
        tot.bad_status += l[i].bad_status;
        tot.transport += l[i].transport;
        tot.sources += l[i].sources;
        tot.bytes += l[i].bytes;
        if (l[i].count_min > 0 &&
            (tot.count_min < 0 || l[i].count_min < tot.count_min))
            tot.count_min = l[i].count_min;
        if (l[i].count_max > tot.count_max)
            tot.count_max = l[i].count_max;
    }
    return tot;
}

static void print_load(const char *what, const load_total *t, double seconds)
{
    printf("  load: %ld %s answered 200 in %.1f s (%.1f/s), %.0f MB of "
           "bodies; grids of %lld",
           t->ok, what, seconds, (double)t->ok / seconds,
           (double)t->bytes / 1e6, t->count_min);
    if (t->count_max != t->count_min)
        printf("..%lld", t->count_max);
    printf(" sources\n");
    printf("  load errors: %ld non-200, %ld transport%s\n", t->bad_status,
           t->transport,
           t->bad_status + t->transport ? "  ** this run had errors **" : "");
}

/* The unlabelled sample `name` of /metrics; -1 if absent. */
static double metric(CURL *c, const bgt_server *s, const char *name)
{
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", s->base);
    char *body = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&body, &len);
    if (m == NULL)
        return -1;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, NULL); /* fwrite */
    curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, NULL);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, NULL);
    CURLcode rc = curl_easy_perform(c);
    fclose(m);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    double v = -1;
    size_t n = strlen(name);
    for (const char *p = body; rc == CURLE_OK && p != NULL && *p != '\0';) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    free(body);
    return v;
}

/* That every load request computed a new grid, from /metrics (when the
 * server has beamgrid_grids_computed_total). */
static void print_computed(double before, double after, long ok)
{
    if (before < 0 || after < 0)
        return;
    printf("  grids computed (/metrics): %.0f for %ld POSTs answered%s\n",
           after - before, ok,
           after - before < (double)ok ? "  ** some were not new **" : "");
}

/* ---- 1. stalls ---- */

typedef struct {
    const bgt_server *srv;
    const char *s_path;
    atomic_int *stop;
    double *ms[2]; /* 0: /healthz, 1: S */
    size_t n[2], cap;
    long errors;
    long rounds; /* 0: until *stop */
} prober;

/* Probes are paced, one every PROBE_PACE_US at most: a probe loop flat
 * out would take a core of its own from the 2 and measure itself. */
#define PROBE_PACE_US 2000

static void *run_prober(void *arg)
{
    prober *p = arg;
    char url[2][1200];
    sink k;
    CURL *c = client_new();
    if (c == NULL)
        return NULL;
    snprintf(url[0], sizeof url[0], "%s/healthz", p->srv->base);
    snprintf(url[1], sizeof url[1], "%s%s?format=npy", p->srv->base, p->s_path);
    for (long i = 0;; i++) {
        int which = (int)(i % 2);
        if (p->rounds > 0 ? i >= 2 * p->rounds : atomic_load(p->stop) != 0)
            break;
        if (p->n[which] == p->cap)
            break;
        double ms;
        long st = request(c, url[which], NULL, &k, &ms);
        p->ms[which][p->n[which]++] = ms;
        if (st != 200)
            p->errors++;
        if (ms * 1000.0 < PROBE_PACE_US)
            usleep((useconds_t)(PROBE_PACE_US - ms * 1000.0));
    }
    curl_easy_cleanup(c);
    return NULL;
}

static int phase_stall(double seconds)
{
    static const char *const flags[] = {NULL};
    bgt_server s;
    sink k;
    char url[1200], body[256];
    int rc = 1;
    fprintf(stderr, "bench_stall: 1. stalls (%.0f s)\n", seconds);
    if (server_start(&s, "stall", flags) != 0)
        return 1;
    CURL *c = client_new();
    /* cache S, and get its id */
    snprintf(url, sizeof url, "%s/v1/sources?format=npy", s.base);
    if (request(c, url, S_BODY, &k, NULL) != 200 || k.location[0] == '\0') {
        fprintf(stderr, "bench_stall: warm-up POST of S failed\n");
        goto out;
    }
    char s_path[1024];
    snprintf(s_path, sizeof s_path, "%s", k.location);
    long long s_count = body_count(&k, "npy");
    snprintf(url, sizeof url, "%s%s?format=npy", s.base, s_path);
    if (request(c, url, NULL, &k, NULL) != 200) {
        fprintf(stderr, "bench_stall: warm-up GET of S failed\n");
        goto out;
    }
    /* one grid of the load's size alone, for scale */
    snprintf(url, sizeof url, "%s/v1/sources?format=json", s.base);
    snprintf(body, sizeof body, GRID_FMT, STALL_DIVSTEPS, 0.9);
    double alone_ms;
    long alone_st = request(c, url, body, &k, &alone_ms);
    long long alone_count = body_count(&k, "json");

    atomic_int stop = 0;
    size_t cap = 1000000;
    prober idle = {.srv = &s, .s_path = s_path, .stop = &stop, .cap = cap};
    prober busy = idle;
    double *mem = malloc(4 * cap * sizeof *mem);
    if (mem == NULL)
        goto out;
    idle.ms[0] = mem, idle.ms[1] = mem + cap;
    busy.ms[0] = mem + 2 * cap, busy.ms[1] = mem + 3 * cap;
    idle.rounds = 200;
    run_prober(&idle);

    loader l[STALL_CLIENTS];
    pthread_t t[STALL_CLIENTS], pt;
    double computed0 = metric(c, &s, "beamgrid_grids_computed_total");
    double t0 = now_s();
    run_load(&s, l, t, STALL_CLIENTS, STALL_DIVSTEPS, "json", 1.2, seconds);
    if (pthread_create(&pt, NULL, run_prober, &busy) != 0) {
        atomic_store(&stop, 1);
        join_load(l, t, STALL_CLIENTS);
        free(mem);
        goto out;
    }
    load_total tot = join_load(l, t, STALL_CLIENTS);
    double load_s = now_s() - t0;
    atomic_store(&stop, 1); /* the probe ran for as long as the load */
    pthread_join(pt, NULL);
    double computed1 = metric(c, &s, "beamgrid_grids_computed_total");

    printf("1. Stalls: %d clients POST never-seen grids as JSON for %.0f s; "
           "a 7th client\n   probes GET /healthz and GET S (%lld sources, "
           "cached, npy), alternately,\n   one at a time, keep-alive "
           "(default threads).\n",
           STALL_CLIENTS, seconds, s_count);
    printf("  one such grid alone: %lld sources, %.0f ms (status %ld)\n",
           alone_count, alone_ms, alone_st);
    printf("  %-26s %7s %9s %9s %9s\n", "probe (ms)", "count", "p50", "p99",
           "worst");
    double *all = malloc((busy.n[0] + busy.n[1] + 1) * sizeof *all);
    size_t na = 0;
    for (int w = 0; w < 2 && all != NULL; w++)
        for (size_t i = 0; i < busy.n[w]; i++)
            all[na++] = busy.ms[w][i];
    memcpy(idle.ms[0] + idle.n[0], idle.ms[1], idle.n[1] * sizeof(double));
    print_latencies("idle, both", idle.ms[0], idle.n[0] + idle.n[1]);
    print_latencies("under load, /healthz", busy.ms[0], busy.n[0]);
    print_latencies("under load, S npy", busy.ms[1], busy.n[1]);
    if (all != NULL)
        print_latencies("under load, both", all, na);
    double worst = na ? all[na - 1] : NAN;
    printf("  probe errors: %ld under load, %ld idle\n", busy.errors,
           idle.errors);
    print_load("POSTs", &tot, load_s);
    print_computed(computed0, computed1, tot.ok);
    printf("  goal: worst probe under load < %.0f ms: %s (%.1f ms)\n",
           STALL_GOAL_MS, na > 0 && worst < STALL_GOAL_MS ? "met" : "NOT MET",
           worst);
    if (busy.errors + tot.bad_status + tot.transport > 0)
        printf("  (the run had errors: the figures are not clean)\n");
    rc = na > 0 && tot.ok > 0 ? 0 : 1;
    free(all);
    free(mem);
out:
    curl_easy_cleanup(c);
    server_stop(&s);
    return rc;
}

/* ---- 2. threads ---- */

typedef struct {
    pid_t pid;
    atomic_int *stop;
    int peak, samples, compute_peak;
    bgt_threads at_peak;
} sampler;

static void *run_sampler(void *arg)
{
    sampler *s = arg;
    bgt_threads now;
    while (atomic_load(s->stop) == 0) {
        int total = bgt_threads_look(s->pid, &now);
        if (total > 0) {
            s->samples++;
            int compute = bgt_threads_named(&now, "bg-compute");
            if (compute > s->compute_peak)
                s->compute_peak = compute;
            if (total > s->peak) {
                s->peak = total;
                s->at_peak = now;
            }
        }
        sleep_ms(10); /* the sampling interval */
    }
    return NULL;
}

static int phase_threads(double seconds)
{
    char http[8], compute[8];
    snprintf(http, sizeof http, "%d", THREAD_HTTP);
    snprintf(compute, sizeof compute, "%d", THREAD_COMPUTE);
    const char *const flags[] = {"--threads", http, "--compute-threads",
                                 compute, NULL};
    bgt_server s;
    fprintf(stderr, "bench_stall: 2. threads (%.0f s)\n", seconds);
    if (server_start(&s, "threads", flags) != 0)
        return 1;
    atomic_int stop = 0;
    sampler sm = {.pid = s.pid, .stop = &stop};
    bgt_threads idle;
    bgt_threads_look(s.pid, &idle);
    pthread_t st;
    if (pthread_create(&st, NULL, run_sampler, &sm) != 0) {
        server_stop(&s);
        return 1;
    }
    loader l[THREAD_CLIENTS];
    pthread_t t[THREAD_CLIENTS];
    CURL *c = client_new();
    double computed0 = metric(c, &s, "beamgrid_grids_computed_total");
    double t0 = now_s();
    run_load(&s, l, t, THREAD_CLIENTS, THREAD_DIVSTEPS, "npy", 1.3, seconds);
    load_total tot = join_load(l, t, THREAD_CLIENTS);
    double load_s = now_s() - t0;
    atomic_store(&stop, 1);
    pthread_join(st, NULL);
    double computed1 = metric(c, &s, "beamgrid_grids_computed_total");
    curl_easy_cleanup(c);
    server_stop(&s);

    printf("\n2. Threads: --threads %d --compute-threads %d; %d clients POST "
           "never-seen\n   grids as npy for %.0f s; /proc/<pid>/task sampled "
           "every 10 ms (%d samples).\n",
           THREAD_HTTP, THREAD_COMPUTE, THREAD_CLIENTS, seconds, sm.samples);
    char names[512];
    bgt_threads_format(&idle, names, sizeof names);
    printf("  idle: %d threads (%s)\n", idle.total, names);
    bgt_threads_format(&sm.at_peak, names, sizeof names);
    printf("  peak: %d threads (%s)\n", sm.peak, names);
    printf("  peak threads named bg-compute*: %d (at most %d wanted)\n",
           sm.compute_peak, THREAD_COMPUTE);
    print_load("POSTs", &tot, load_s);
    print_computed(computed0, computed1, tot.ok);
    printf("  goal: peak threads <= 1 main + %d HTTP + %d compute + 2 "
           "housekeeping = %d: %s (%d)\n",
           THREAD_HTTP, THREAD_COMPUTE, THREAD_GOAL,
           sm.peak <= THREAD_GOAL ? "met" : "NOT MET", sm.peak);
    return sm.samples > 0 && tot.ok > 0 ? 0 : 1;
}

/* ---- 3. memory ---- */

static long vm_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static void print_per_source(const char *label, double bytes, long long sources)
{
    double per = bytes / (double)sources;
    printf("  %-44s %10.1f MB %8.1f B/source  <= %.0f: %s\n", label,
           bytes / 1e6, per, BYTES_GOAL, per <= BYTES_GOAL ? "met" : "NOT MET");
}

static int phase_memory(void)
{
    static const char *const flags[] = {"--cache-mb", "2048", "--max-memory-mb",
                                        "4096", NULL};
    bgt_server s;
    sink k;
    char url[1200], body[256], paths[MEM_GRIDS][1024];
    long long sources = 0, cnt_min = -1, cnt_max = 0;
    long errors = 0;
    int rc = 1;
    fprintf(stderr, "bench_stall: 3. memory\n");
    if (server_start(&s, "memory", flags) != 0)
        return 1;
    CURL *c = client_new();
    snprintf(url, sizeof url, "%s/v1/sources?format=npy", s.base);
    if (request(c, url, S_BODY, &k, NULL) != 200) {
        fprintf(stderr, "bench_stall: warm-up POST failed\n");
        goto out;
    }
    long rss0 = vm_rss_kb(s.pid);
    double cache0 = metric(c, &s, "beamgrid_cache_bytes");
    for (int i = 0; i < MEM_GRIDS; i++) {
        snprintf(body, sizeof body, GRID_FMT, MEM_DIVSTEPS, 1.4 + i * 0.01);
        paths[i][0] = '\0';
        if (request(c, url, body, &k, NULL) != 200 || k.location[0] == '\0') {
            errors++;
            continue;
        }
        snprintf(paths[i], sizeof paths[i], "%s", k.location);
        long long n = body_count(&k, "npy");
        sources += n;
        if (cnt_min < 0 || n < cnt_min)
            cnt_min = n;
        if (n > cnt_max)
            cnt_max = n;
    }
    long rss_round[2];
    double cache_round[2];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < MEM_GRIDS; i++) {
            static const char *const fmts[] = {"bin", "npy"};
            for (int f = 0; f < 2 && paths[i][0] != '\0'; f++) {
                snprintf(url, sizeof url, "%s%.1023s?format=%s", s.base,
                         paths[i], fmts[f]);
                if (request(c, url, NULL, &k, NULL) != 200 ||
                    body_count(&k, fmts[f]) <= 0)
                    errors++;
            }
        }
        rss_round[round] = vm_rss_kb(s.pid);
        cache_round[round] = metric(c, &s, "beamgrid_cache_bytes");
    }
    /* then each as JSON once: its body is encoded into the entry too */
    double json_bytes = 0;
    for (int i = 0; i < MEM_GRIDS; i++) {
        if (paths[i][0] == '\0')
            continue;
        snprintf(url, sizeof url, "%s%.1023s?format=json", s.base, paths[i]);
        if (request(c, url, NULL, &k, NULL) != 200)
            errors++;
        json_bytes += (double)k.len;
    }
    long rss_json = vm_rss_kb(s.pid);
    double cache_json = metric(c, &s, "beamgrid_cache_bytes");
    if (sources <= 0 || rss0 < 0) {
        fprintf(stderr, "bench_stall: no grid was cached\n");
        goto out;
    }
    printf("\n3. Memory: --cache-mb 2048; %d distinct grids of %lld", MEM_GRIDS,
           cnt_min);
    if (cnt_max != cnt_min)
        printf("..%lld", cnt_max);
    printf(" sources (%lld in all)\n   POSTed as npy, then each GET as bin "
           "and as npy, twice; growth over the\n   idle server (after one "
           "small request).\n",
           sources);
    for (int round = 0; round < 2; round++) {
        char label[64];
        snprintf(label, sizeof label, "VmRSS growth, after GET round %d",
                 round + 1);
        print_per_source(label, (double)(rss_round[round] - rss0) * 1024,
                         sources);
    }
    if (cache0 >= 0 && cache_round[1] >= 0) {
        print_per_source("beamgrid_cache_bytes growth (/metrics)",
                         cache_round[1] - cache0, sources);
    } else {
        printf("  beamgrid_cache_bytes: not in /metrics\n");
    }
    printf("  then each GET as JSON once (%.1f bytes a source of JSON): no "
           "goal, the\n  JSON body is cached beside the block\n",
           json_bytes / (double)sources);
    printf("  %-44s %10.1f MB %8.1f B/source\n",
           "VmRSS growth, npy + bin + JSON cached",
           (double)(rss_json - rss0) * 1024 / 1e6,
           (double)(rss_json - rss0) * 1024 / (double)sources);
    if (cache0 >= 0 && cache_json >= 0)
        printf("  %-44s %10.1f MB %8.1f B/source\n",
               "beamgrid_cache_bytes, npy + bin + JSON",
               (cache_json - cache0) / 1e6,
               (cache_json - cache0) / (double)sources);
    printf("  errors: %ld%s\n", errors,
           errors ? "  ** this run had errors **" : "");
    printf("  goal: <= %.0f bytes a cached source (VmRSS, round 2): %s\n",
           BYTES_GOAL,
           (double)(rss_round[1] - rss0) * 1024 / (double)sources <= BYTES_GOAL
               ? "met"
               : "NOT MET");
    rc = 0;
out:
    curl_easy_cleanup(c);
    server_stop(&s);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_stall [-d STALL_SECONDS] [-t THREAD_SECONDS] "
                    "[-p PHASES] [BEAMGRID_BIN]\n"
                    "  PHASES: any of 1 (stalls), 2 (threads), 3 (memory); "
                    "default 123\n");
}

int main(int argc, char **argv)
{
    double stall_s = 10, thread_s = 5;
    const char *phases = "123";
    int opt;
    while ((opt = getopt(argc, argv, "d:t:p:h")) != -1) {
        switch (opt) {
        case 'd':
            stall_s = atof(optarg);
            break;
        case 't':
            thread_s = atof(optarg);
            break;
        case 'p':
            phases = optarg;
            break;
        default:
            usage();
            return opt == 'h' ? 0 : 2;
        }
    }
    if (stall_s <= 0 || thread_s <= 0 || stall_s > 600 || thread_s > 600) {
        usage();
        return 2;
    }
    const char *bin = optind < argc ? argv[optind] : getenv("BEAMGRID_BIN");
    if (bin == NULL)
        bin = "build/beamgrid";
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "bench_stall: %s: not an executable\n", bin);
        return 1;
    }
    setenv("BEAMGRID_BIN", bin, 1); /* for bgt_server_start */
    snprintf(g_dir, sizeof g_dir, "/tmp/bench_stall.XXXXXX");
    if (mkdtemp(g_dir) == NULL || curl_global_init(CURL_GLOBAL_ALL) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("%s, %ld CPUs, loopback; bounded runs.\n\n", bin, cpus);
    fflush(stdout);
    int rc = 0;
    if (strchr(phases, '1') && phase_stall(stall_s) != 0)
        rc = 1;
    fflush(stdout);
    if (strchr(phases, '2') && phase_threads(thread_s) != 0)
        rc = 1;
    fflush(stdout);
    if (strchr(phases, '3') && phase_memory() != 0)
        rc = 1;
    fflush(stdout);
    curl_global_cleanup();
    if (rc == 0) { /* the logs are kept when something failed */
        static const char *const logs[] = {"stall", "threads", "memory"};
        for (int i = 0; i < 3; i++) {
            char p[256];
            snprintf(p, sizeof p, "%s/%s.log", g_dir, logs[i]);
            unlink(p);
        }
        rmdir(g_dir);
    } else {
        fprintf(stderr, "bench_stall: a measurement failed (logs: %s)\n",
                g_dir);
    }
    return rc;
}

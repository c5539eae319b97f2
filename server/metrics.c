/* metrics.c - the server's Prometheus metrics.
 *
 * Request counters form a fixed cube route x method x status; latency is one
 * fixed-bucket histogram per route. Everything is a relaxed C11 atomic: a
 * scrape may see counters a few increments apart, never torn values.
 * Rendering writes into an open_memstream buffer. */
#include "server/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ROUTES  BGAPI_TEMPLATE_COUNT /* route templates */
#define N_METHODS 4
#define N_BUCKETS 16

static const char *const METHODS[N_METHODS] = {"GET", "HEAD", "POST", "OTHER"};
static const int STATUSES[] = {200, 201, 204, 304, 400, 404, 405, 406,
                               408, 413, 415, 422, 429, 500, 503};
#define N_STATUSES (sizeof STATUSES / sizeof STATUSES[0] + 1) /* + other */

static const double BUCKETS[N_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};

typedef struct {
    atomic_uint_fast64_t buckets[N_BUCKETS + 1]; /* last: +Inf only */
    atomic_uint_fast64_t sum_ns;
    atomic_uint_fast64_t count;
} histogram;

/* Indexed by route template; labels are bgapi_route_template_label's
 * static strings, so a series' labels never change. */
struct bgs_metrics {
    atomic_uint_fast64_t requests[N_ROUTES][N_METHODS][N_STATUSES];
    histogram latency[N_ROUTES];
    atomic_uint_fast64_t compute_ns;
    atomic_uint_fast64_t grids;
    atomic_uint_fast64_t sources;
    atomic_uint_fast64_t shed;
    atomic_int_fast64_t inflight;
    atomic_int_fast64_t pending;
};

#define RELAXED memory_order_relaxed

bgs_metrics *bgs_metrics_new(void)
{
    /* calloc zeroes; all-zero bits are a valid zero for these atomics on
     * every platform we build for. */
    return calloc(1, sizeof(bgs_metrics));
}

void bgs_metrics_free(bgs_metrics *m)
{
    free(m);
}

static size_t method_index(const char *method)
{
    for (size_t i = 0; i + 1 < N_METHODS; i++) {
        if (method != NULL && strcmp(method, METHODS[i]) == 0)
            return i;
    }
    return N_METHODS - 1;
}

static size_t status_index(int status)
{
    for (size_t i = 0; i + 1 < N_STATUSES; i++) {
        if (STATUSES[i] == status)
            return i;
    }
    return N_STATUSES - 1;
}

static uint64_t to_ns(double seconds)
{
    return seconds <= 0 ? 0 : (uint64_t)(seconds * 1e9 + 0.5);
}

static void observe(histogram *h, double seconds)
{
    size_t b = 0;
    while (b < N_BUCKETS && seconds > BUCKETS[b])
        b++;
    atomic_fetch_add_explicit(&h->buckets[b], 1, RELAXED);
    atomic_fetch_add_explicit(&h->sum_ns, to_ns(seconds), RELAXED);
    atomic_fetch_add_explicit(&h->count, 1, RELAXED);
}

void bgs_metrics_request(bgs_metrics *m, bgapi_route_template route,
                         const char *method, int status, double seconds)
{
    size_t r = (size_t)route < N_ROUTES ? (size_t)route : BGAPI_TEMPLATE_OTHER;
    atomic_fetch_add_explicit(
        &m->requests[r][method_index(method)][status_index(status)], 1,
        RELAXED);
    observe(&m->latency[r], seconds);
}

void bgs_metrics_compute(bgs_metrics *m, uint64_t sources, double seconds)
{
    atomic_fetch_add_explicit(&m->compute_ns, to_ns(seconds), RELAXED);
    atomic_fetch_add_explicit(&m->grids, 1, RELAXED);
    atomic_fetch_add_explicit(&m->sources, sources, RELAXED);
}

void bgs_metrics_shed(bgs_metrics *m)
{
    atomic_fetch_add_explicit(&m->shed, 1, RELAXED);
}

int64_t bgs_metrics_inflight_add(bgs_metrics *m, int64_t delta)
{
    return atomic_fetch_add(&m->inflight, delta) + delta;
}

int64_t bgs_metrics_pending_add(bgs_metrics *m, int64_t delta)
{
    return atomic_fetch_add(&m->pending, delta) + delta;
}

int bgs_metrics_pending_try(bgs_metrics *m, int64_t max)
{
    int_fast64_t cur = atomic_load(&m->pending);
    do {
        if (cur >= max)
            return -1;
    } while (!atomic_compare_exchange_weak(&m->pending, &cur, cur + 1));
    return 0;
}

int64_t bgs_metrics_inflight(const bgs_metrics *m)
{
    return atomic_load(&((bgs_metrics *)m)->inflight);
}

uint64_t bgs_metrics_grids_computed(const bgs_metrics *m)
{
    return atomic_load(&((bgs_metrics *)m)->grids);
}

static uint64_t load(const atomic_uint_fast64_t *a)
{
    return atomic_load_explicit((atomic_uint_fast64_t *)a, RELAXED);
}

static void family(FILE *f, const char *name, const char *type,
                   const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void status_label(char *buf, size_t cap, size_t s)
{
    if (s + 1 < N_STATUSES)
        snprintf(buf, cap, "%d", STATUSES[s]);
    else
        snprintf(buf, cap, "other");
}

static void render_requests(FILE *f, const bgs_metrics *m)
{
    family(f, "beamgrid_http_requests_total", "counter",
           "HTTP requests answered, by route template, method and status.");
    for (size_t r = 0; r < N_ROUTES; r++) {
        const char *label = bgapi_route_template_label((bgapi_route_template)r);
        for (size_t k = 0; k < N_METHODS; k++) {
            for (size_t s = 0; s < N_STATUSES; s++) {
                uint64_t n = load(&m->requests[r][k][s]);
                char st[16];
                if (n == 0)
                    continue;
                status_label(st, sizeof st, s);
                fprintf(f,
                        "beamgrid_http_requests_total{route=\"%s\","
                        "method=\"%s\",status=\"%s\"} %llu\n",
                        label, METHODS[k], st, (unsigned long long)n);
            }
        }
    }
}

static void render_histogram(FILE *f, const char *label, const histogram *h)
{
    const char *name = "beamgrid_http_request_duration_seconds";
    uint64_t cum = 0;
    for (size_t b = 0; b < N_BUCKETS; b++) {
        cum += load(&h->buckets[b]);
        fprintf(f, "%s_bucket{route=\"%s\",le=\"%g\"} %llu\n", name, label,
                BUCKETS[b], (unsigned long long)cum);
    }
    cum += load(&h->buckets[N_BUCKETS]);
    fprintf(f, "%s_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", name, label,
            (unsigned long long)cum);
    fprintf(f, "%s_sum{route=\"%s\"} %.9f\n", name, label,
            (double)load(&h->sum_ns) / 1e9);
    fprintf(f, "%s_count{route=\"%s\"} %llu\n", name, label,
            (unsigned long long)load(&h->count));
}

static void render_latency(FILE *f, const bgs_metrics *m)
{
    family(f, "beamgrid_http_request_duration_seconds", "histogram",
           "Time from request headers to the last response byte queued.");
    for (size_t r = 0; r < N_ROUTES; r++) {
        /* Routes not requested yet are left out. */
        if (load(&m->latency[r].count) != 0)
            render_histogram(
                f, bgapi_route_template_label((bgapi_route_template)r),
                &m->latency[r]);
    }
}

static void scalar(FILE *f, const char *name, const char *type,
                   const char *help, unsigned long long v)
{
    family(f, name, type, help);
    fprintf(f, "%s %llu\n", name, v);
}

static void render_cache(FILE *f, const bgs_cache_stats *c)
{
    scalar(f, "beamgrid_cache_hits_total", "counter",
           "Grid lookups answered from the cache.", c->hits);
    scalar(f, "beamgrid_cache_misses_total", "counter",
           "Grid lookups that started a computation.", c->misses);
    scalar(f, "beamgrid_cache_evictions_total", "counter",
           "Entries evicted to stay within --cache-mb.", c->evictions);
    scalar(f, "beamgrid_cache_bytes", "gauge",
           "Bytes held by cached grids and encoded bodies.", c->bytes);
    scalar(f, "beamgrid_cache_entries", "gauge", "Cached grids.", c->entries);
    scalar(f, "beamgrid_memory_live_bytes", "gauge",
           "Bytes of grids alive: cached, being computed or being sent "
           "(bounded by --max-memory-mb).",
           c->live_bytes);
}

static void render_compute(FILE *f, const bgs_metrics *m)
{
    family(f, "beamgrid_compute_seconds_total", "counter",
           "Seconds spent computing grids.");
    fprintf(f, "beamgrid_compute_seconds_total %.9f\n",
            (double)load(&m->compute_ns) / 1e9);
    scalar(f, "beamgrid_grids_computed_total", "counter", "Grids computed.",
           load(&m->grids));
    scalar(f, "beamgrid_sources_computed_total", "counter",
           "Sources in the grids computed.", load(&m->sources));
    scalar(f, "beamgrid_inflight_requests", "gauge",
           "Requests received and not yet completed.",
           (unsigned long long)atomic_load(&((bgs_metrics *)m)->inflight));
    scalar(f, "beamgrid_pending_computations", "gauge",
           "Large computations queued and not yet started.",
           (unsigned long long)atomic_load(&((bgs_metrics *)m)->pending));
    scalar(f, "beamgrid_shed_total", "counter",
           "Computations refused with 503 because the queue was full.",
           load(&m->shed));
}

char *bgs_metrics_render(const bgs_metrics *m, const bgs_cache_stats *cache,
                         size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (f == NULL)
        return NULL;
    render_requests(f, m);
    render_latency(f, m);
    render_cache(f, cache);
    render_compute(f, m);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = size;
    return buf;
}

/* test_metrics.c - the Prometheus exposition: families present, counters
 * and gauges move, histogram buckets are cumulative, label sets stay
 * bounded whatever methods and statuses arrive, each route template is a
 * series of its own with fixed labels (405s too), and the pending-queue
 * reservation respects its maximum under contention. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"

static char *render(bgs_metrics *m)
{
    bgs_cache_stats cs = {3, 4, 5, 6, 7, 8};
    size_t len = 0;
    char *text = bgs_metrics_render(m, &cs, &len);
    cr_assert_not_null(text);
    cr_assert_eq(strlen(text), len);
    return text;
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    }
    return 0;
}

Test(metrics, empty_families_and_cache_numbers)
{
    bgs_metrics *m = bgs_metrics_new();
    char *t = render(m);
    cr_assert(has_line(t, "# TYPE beamgrid_http_requests_total counter"));
    cr_assert(
        has_line(t, "# TYPE beamgrid_http_request_duration_seconds histogram"));
    cr_assert(has_line(t, "beamgrid_cache_hits_total 3"));
    cr_assert(has_line(t, "beamgrid_cache_misses_total 4"));
    cr_assert(has_line(t, "beamgrid_cache_evictions_total 5"));
    cr_assert(has_line(t, "beamgrid_cache_bytes 6"));
    cr_assert(has_line(t, "beamgrid_cache_entries 7"));
    cr_assert(has_line(t, "beamgrid_memory_live_bytes 8"));
    cr_assert(has_line(t, "beamgrid_grids_computed_total 0"));
    cr_assert(has_line(t, "beamgrid_shed_total 0"));
    cr_assert(has_line(t, "beamgrid_inflight_requests 0"));
    cr_assert(has_line(t, "beamgrid_pending_computations 0"));
    free(t);
    bgs_metrics_free(m);
}

Test(metrics, requests_and_histogram)
{
    bgs_metrics *m = bgs_metrics_new();
    bgs_metrics_request(m, BGAPI_TEMPLATE_SOURCES, "POST", 200, 0.0002);
    bgs_metrics_request(m, BGAPI_TEMPLATE_SOURCES, "POST", 200, 0.003);
    bgs_metrics_request(m, BGAPI_TEMPLATE_SOURCES, "POST", 422, 20.0);
    char *t = render(m);
    cr_assert(has_line(t, "beamgrid_http_requests_total{route=\"/v1/sources\","
                          "method=\"POST\",status=\"200\"} 2"),
              "%s", t);
    cr_assert(has_line(t, "beamgrid_http_requests_total{route=\"/v1/sources\","
                          "method=\"POST\",status=\"422\"} 1"));
    const char *b =
        "beamgrid_http_request_duration_seconds_bucket{route=\"/v1/sources\",";
    char line[256];
    snprintf(line, sizeof line, "%sle=\"0.0001\"} 0", b);
    cr_assert(has_line(t, line), "%s", line);
    snprintf(line, sizeof line, "%sle=\"0.00025\"} 1", b);
    cr_assert(has_line(t, line), "%s", line);
    snprintf(line, sizeof line, "%sle=\"0.005\"} 2", b);
    cr_assert(has_line(t, line), "%s", line);
    snprintf(line, sizeof line, "%sle=\"10\"} 2", b);
    cr_assert(has_line(t, line), "%s", line);
    snprintf(line, sizeof line, "%sle=\"+Inf\"} 3", b);
    cr_assert(has_line(t, line), "%s", line);
    cr_assert(has_line(t, "beamgrid_http_request_duration_seconds_count{route="
                          "\"/v1/sources\"} 3"));
    cr_assert_not_null(strstr(t, "beamgrid_http_request_duration_seconds_sum{"
                                 "route=\"/v1/sources\"} 20.0032"));
    cr_assert_null(strstr(t, "route=\"/healthz\""),
                   "unused routes are not shown");
    free(t);
    bgs_metrics_free(m);
}

Test(metrics, labels_stay_bounded)
{
    bgs_metrics *m = bgs_metrics_new();
    bgs_metrics_request(m, BGAPI_TEMPLATE_OTHER, "BREW", 418, 0.001);
    bgs_metrics_request(m, BGAPI_TEMPLATE_OTHER, "PATCH\"}\n", 299, 0.001);
    bgs_metrics_request(m, BGAPI_TEMPLATE_OTHER, NULL, 0, 0.001);
    char *t = render(m);
    cr_assert(has_line(t, "beamgrid_http_requests_total{route=\"other\","
                          "method=\"OTHER\",status=\"other\"} 3"),
              "%s", t);
    cr_assert_null(strstr(t, "BREW"));
    cr_assert_null(strstr(t, "PATCH"));
    free(t);
    bgs_metrics_free(m);
}

/* The route="..." labels of the request lines, in order, one per line. */
static void route_labels(const char *text, char *out, size_t cap)
{
    const char *key = "beamgrid_http_requests_total{route=\"";
    size_t o = 0;
    out[0] = '\0';
    for (const char *p = text; (p = strstr(p, key)) != NULL;) {
        p += strlen(key);
        size_t n = strcspn(p, "\"");
        cr_assert_lt(o + n + 2, cap);
        memcpy(out + o, p, n);
        o += n;
        out[o++] = '\n';
        out[o] = '\0';
    }
}

/* Each 405 counts under its own path's template: two series, and neither
 * is relabelled by the other or by later requests. */
Test(metrics, method_not_allowed_by_template)
{
    bgs_metrics *m = bgs_metrics_new();
    bgapi_route a, b, c;
    bgapi_route_match("POST", "/healthz", &a);
    bgapi_route_match("PUT", "/v1/sources/abc", &b);
    bgapi_route_match("GET", "/nowhere", &c);
    bgs_metrics_request(m, a.template, "POST", 405, 0.001);
    bgs_metrics_request(m, b.template, "OTHER", 405, 0.001);
    bgs_metrics_request(m, a.template, "POST", 405, 0.001);
    bgs_metrics_request(m, c.template, "GET", 404, 0.001);
    char *t = render(m);
    cr_assert(has_line(t, "beamgrid_http_requests_total{route=\"/healthz\","
                          "method=\"POST\",status=\"405\"} 2"),
              "%s", t);
    cr_assert(has_line(t, "beamgrid_http_requests_total{route=\"/v1/sources/"
                          "{id}\",method=\"OTHER\",status=\"405\"} 1"),
              "%s", t);
    cr_assert(has_line(t, "beamgrid_http_requests_total{route=\"other\","
                          "method=\"GET\",status=\"404\"} 1"),
              "%s", t);
    cr_assert(has_line(t, "beamgrid_http_request_duration_seconds_count{route="
                          "\"/healthz\"} 2"));
    cr_assert(has_line(t, "beamgrid_http_request_duration_seconds_count{route="
                          "\"/v1/sources/{id}\"} 1"));
    cr_assert_null(strstr(t, "/v1/sources/abc"), "no path as a label");
    cr_assert_null(strstr(t, "/nowhere"));

    /* Render again after another 405 elsewhere: the same label set, the
     * /healthz series unchanged. */
    char before[1024], after[1024];
    route_labels(t, before, sizeof before);
    bgs_metrics_request(m, b.template, "DELETE", 405, 0.001);
    char *t2 = render(m);
    route_labels(t2, after, sizeof after);
    cr_assert_str_eq(before, after);
    cr_assert(has_line(t2, "beamgrid_http_requests_total{route=\"/healthz\","
                           "method=\"POST\",status=\"405\"} 2"),
              "%s", t2);
    cr_assert(has_line(t2, "beamgrid_http_requests_total{route=\"/v1/sources/"
                           "{id}\",method=\"OTHER\",status=\"405\"} 2"),
              "%s", t2);
    char *t3 = render(m);
    cr_assert_str_eq(t2, t3, "rendering twice gives the same text");
    free(t);
    free(t2);
    free(t3);
    bgs_metrics_free(m);
}

/* Every template renders under its own label; out-of-range ones are
 * "other". */
Test(metrics, every_template_has_its_label)
{
    bgs_metrics *m = bgs_metrics_new();
    for (int r = 0; r < BGAPI_TEMPLATE_COUNT; r++)
        bgs_metrics_request(m, (bgapi_route_template)r, "GET", 200, 0.001);
    bgs_metrics_request(m, BGAPI_TEMPLATE_COUNT, "GET", 200, 0.001);
    char *t = render(m);
    for (int r = 0; r < BGAPI_TEMPLATE_COUNT; r++) {
        char line[256];
        const char *l = bgapi_route_template_label((bgapi_route_template)r);
        snprintf(line, sizeof line,
                 "beamgrid_http_requests_total{route=\"%s\",method=\"GET\","
                 "status=\"200\"} %d",
                 l, r == BGAPI_TEMPLATE_OTHER ? 2 : 1);
        cr_assert(has_line(t, line), "%s\n%s", line, t);
    }
    free(t);
    bgs_metrics_free(m);
}

Test(metrics, compute_shed_and_gauges)
{
    bgs_metrics *m = bgs_metrics_new();
    bgs_metrics_compute(m, 1000, 0.5);
    bgs_metrics_compute(m, 24, 0.25);
    bgs_metrics_shed(m);
    cr_assert_eq(bgs_metrics_inflight_add(m, 2), 2);
    cr_assert_eq(bgs_metrics_inflight_add(m, -1), 1);
    cr_assert_eq(bgs_metrics_inflight(m), 1);
    cr_assert_eq(bgs_metrics_grids_computed(m), 2);
    char *t = render(m);
    cr_assert(has_line(t, "beamgrid_grids_computed_total 2"));
    cr_assert(has_line(t, "beamgrid_sources_computed_total 1024"));
    cr_assert(has_line(t, "beamgrid_compute_seconds_total 0.750000000"));
    cr_assert(has_line(t, "beamgrid_shed_total 1"));
    cr_assert(has_line(t, "beamgrid_inflight_requests 1"));
    free(t);
    bgs_metrics_free(m);
}

static bgs_metrics *shared;
static int reserved[8];
static atomic_int over_max;

static void *reserve_many(void *arg)
{
    int *mine = arg;
    for (int i = 0; i < 10000; i++) {
        if (bgs_metrics_pending_try(shared, 5) == 0) {
            (*mine)++;
            if (bgs_metrics_pending_add(shared, 0) > 5)
                atomic_store(&over_max, 1);
            bgs_metrics_pending_add(shared, -1);
        }
    }
    return NULL;
}

Test(metrics, pending_reservation_respects_max)
{
    bgs_metrics *m = bgs_metrics_new();
    for (int i = 0; i < 3; i++)
        cr_assert_eq(bgs_metrics_pending_try(m, 3), 0);
    cr_assert_eq(bgs_metrics_pending_try(m, 3), -1);
    cr_assert_eq(bgs_metrics_pending_add(m, -3), 0);

    shared = m;
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, reserve_many, &reserved[i]);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(bgs_metrics_pending_add(m, 0), 0, "balanced");
    int total = 0;
    for (int i = 0; i < 8; i++)
        total += reserved[i];
    cr_assert_gt(total, 0);
    cr_assert_eq(atomic_load(&over_max), 0, "never more than 5 reserved");
    bgs_metrics_free(m);
}

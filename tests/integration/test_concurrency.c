/* test_concurrency.c - many clients at once.
 *
 * Identical misses arriving together are computed once (single-flight:
 * beamgrid_grids_computed_total goes up by one), both for large grids
 * (thread pool, suspended connections) and small ones (inline); a full
 * queue of large computations sheds with 503 and Retry-After; and the
 * answers under load are the same bytes as alone. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ids.h"
#include "api/request.h"
#include "core/resolve.h"
#include "tests/support/server.h"

#define CLIENTS 16

/* One million sources: long enough (tens of ms) for all clients to
 * arrive while it is computed. */
#define BIG                                                                    \
    "{\"hdivrange_mrad\":1,\"vdivrange_mrad\":1,\"hdivsteps\":1000,"           \
    "\"vdivsteps\":1000,\"round_div\":false%s}"

typedef struct {
    const bgt_server *srv;
    pthread_barrier_t *go;
    const char *method;
    char path[400];
    char body[256];
    long status;
    char cache[16];
    char retry_after[16];
    size_t len;
    unsigned long sum; /* a checksum of the body */
} client;

static void *run_client(void *arg)
{
    client *c = arg;
    const char *h[] = {"Content-Type: application/json", NULL};
    bgt_response r;
    pthread_barrier_wait(c->go);
    if (bgt_request(c->srv, c->method, c->path, h, c->body[0] ? c->body : NULL,
                    strlen(c->body), &r) != 0)
        return NULL;
    c->status = r.status;
    bgt_header(&r, "X-Cache", c->cache, sizeof c->cache);
    bgt_header(&r, "Retry-After", c->retry_after, sizeof c->retry_after);
    c->len = r.len;
    for (size_t i = 0; i < r.len; i++)
        c->sum = c->sum * 31 + (unsigned char)r.body[i];
    bgt_response_free(&r);
    return NULL;
}

/* Run n clients together; c[i] must have method, path and body set. */
static void run_together(const bgt_server *s, client *c, int n)
{
    pthread_t t[64];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        c[i].srv = s;
        c[i].go = &go;
        pthread_create(&t[i], NULL, run_client, &c[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
}

static double metric(const bgt_server *s, const char *name)
{
    double v = bgt_server_metric(s, name);
    cr_assert_geq(v, 0, "metric %s present", name);
    return v;
}

/* The GET path of a request's grid: ids are deterministic, so the test can
 * make them without a server (HEAD on it then computes the grid without
 * sending it). */
static void grid_path(const char *json, const char *query, char *out,
                      size_t cap)
{
    bg_params p;
    bg_resolved r;
    bgapi_problem prob;
    bgapi_key key;
    cr_assert_eq(bgapi_parse_params(json, strlen(json), &p, &prob), 0);
    cr_assert_eq(bg_resolve(&p, &r, NULL), BG_OK);
    cr_assert_eq(
        bgapi_key_build(&key, &r, (bgapi_repr){BGAPI_FMT_JSON, BG_F64}), 0);
    snprintf(out, cap, "/v1/sources/%s%s", key.id, query);
    bgapi_key_free(&key);
}

static void identical_misses(const char *const *flags, const char *method,
                             const char *path, const char *body)
{
    bgt_server s;
    client c[CLIENTS];
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    double before = metric(&s, "beamgrid_grids_computed_total");
    memset(c, 0, sizeof c);
    for (int i = 0; i < CLIENTS; i++) {
        c[i].method = method;
        snprintf(c[i].path, sizeof c[i].path, "%s", path);
        snprintf(c[i].body, sizeof c[i].body, "%s", body);
    }
    run_together(&s, c, CLIENTS);
    int misses = 0;
    for (int i = 0; i < CLIENTS; i++) {
        cr_assert_eq(c[i].status, 200, "client %d: %ld", i, c[i].status);
        misses += strcmp(c[i].cache, "MISS") == 0;
        cr_assert_eq(c[i].len, c[0].len);
        cr_assert_eq(c[i].sum, c[0].sum, "client %d got other bytes", i);
    }
    cr_assert_eq(misses, 1, "one client computed, the others waited");
    cr_assert_eq(metric(&s, "beamgrid_grids_computed_total"), before + 1);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

Test(concurrency, identical_large_misses_computed_once)
{
    char body[256], path[400];
    snprintf(body, sizeof body, BIG, "");
    grid_path(body, "?format=bin", path, sizeof path);
    identical_misses(NULL, "HEAD", path, "");
}

Test(concurrency, identical_small_misses_computed_once)
{
    identical_misses(NULL, "POST", "/v1/sources",
                     "{\"divergence_mrad\":0.3,\"divsteps\":31}");
}

Test(concurrency, identical_streamed_misses_computed_once)
{
    static const char *const pool[] = {"--inline-max-kb", "0", NULL};
    identical_misses(pool, "POST", "/v1/sources?format=txt",
                     "{\"divergence_mrad\":0.3,\"divsteps\":31}");
}

Test(concurrency, full_queue_sheds)
{
    static const char *const flags[] = {"--max-pending", "1",
                                        "--compute-threads", "1", NULL};
    bgt_server s;
    client c[8];
    setenv("UV_THREADPOOL_SIZE", "1", 1);
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    memset(c, 0, sizeof c);
    for (int i = 0; i < 8; i++) { /* eight different large grids */
        char extra[64];
        snprintf(extra, sizeof extra, ",\"lambda_A\":%d.5", i + 1);
        char body[256];
        snprintf(body, sizeof body, BIG, extra);
        c[i].method = "HEAD";
        grid_path(body, "?format=bin", c[i].path, sizeof c[i].path);
    }
    run_together(&s, c, 8);
    int ok = 0, shed = 0;
    for (int i = 0; i < 8; i++) {
        if (c[i].status == 200) {
            ok++;
        } else {
            cr_assert_eq(c[i].status, 503, "client %d: %ld", i, c[i].status);
            cr_assert_str_eq(c[i].retry_after, "1");
            shed++;
        }
    }
    cr_assert_geq(ok, 1);
    cr_assert_geq(shed, 1, "a queue of one cannot take eight at once");
    cr_assert_eq(metric(&s, "beamgrid_shed_total"), shed);
    cr_assert_eq(metric(&s, "beamgrid_pending_computations"), 0);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

Test(concurrency, memory_budget_sheds)
{
    static const char *const flags[] = {"--max-memory-mb", "1", NULL};
    bgt_server s;
    bgt_response r;
    char retry[16];
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    /* 40,000 sources with positions need 2.5 MiB. */
    cr_assert_eq(bgt_post_json(&s, "/v1/sources?format=bin",
                               "{\"divsteps\":200,\"divergence_mrad\":1,"
                               "\"round_div\":false}",
                               NULL, &r),
                 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    cr_assert_str_eq(bgt_header(&r, "Retry-After", retry, sizeof retry), "1");
    bgt_response_free(&r);
    /* Small grids still fit, one after another (the cache makes room). */
    for (int i = 1; i <= 20; i++) {
        char body[128];
        snprintf(body, sizeof body,
                 "{\"divsteps\":60,\"divergence_mrad\":1,\"round_div\":false,"
                 "\"lambda_A\":%d}",
                 i);
        cr_assert_eq(
            bgt_post_json(&s, "/v1/sources?format=bin", body, NULL, &r), 0);
        cr_assert_eq(r.status, 200, "grid %d: %s", i, r.body);
        bgt_response_free(&r);
    }
    cr_assert_leq(metric(&s, "beamgrid_memory_live_bytes"), 1 << 20);
    cr_assert_gt(metric(&s, "beamgrid_cache_evictions_total"), 0);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

/* test_http.c - the HTTP contract of grid responses (docs/semantics.md §5).
 *
 * ETags and 304, X-Cache MISS then HIT, requests that resolve alike sharing
 * one entry, ids answered by a freshly started second instance with the
 * same bytes, the headers every grid response carries, HEAD, content
 * negotiation, request ids, and GET hits served by a shared response. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/server.h"

#define GRID                                                                   \
    "{\"divergence_mrad\":0.2,\"divsteps\":5,\"dispsteps\":2,"                 \
    "\"dispersion_percent\":0.1}"

static bgt_server srv;

static void start(void)
{
    cr_assert_eq(bgt_server_start(&srv, NULL), 0);
}

static void stop(void)
{
    cr_assert_eq(bgt_server_stop(&srv, 10), 0, "log: %s", srv.log_path);
}

TestSuite(http, .init = start, .fini = stop);

static char *hdr(const bgt_response *r, const char *name)
{
    static char buf[8][512];
    static int next;
    char *b = buf[next++ % 8];
    return (char *)bgt_header(r, name, b, 512);
}

/* POST json, expect 200, return the id (static buffer). */
static const char *post_id(const char *json, bgt_response *r)
{
    static char id[512];
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources", json, NULL, r), 0);
    cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
    json_error_t err;
    json_t *j = json_loadb(r->body, r->len, 0, &err);
    cr_assert_not_null(j);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    return id;
}

Test(http, miss_then_hit)
{
    bgt_response a, b;
    const char *id = post_id(GRID, &a);
    cr_assert_str_eq(hdr(&a, "X-Cache"), "MISS");
    cr_assert_str_eq(post_id(GRID, &b), id);
    cr_assert_str_eq(hdr(&b, "X-Cache"), "HIT");
    cr_assert_eq(a.len, b.len);
    cr_assert_eq(memcmp(a.body, b.body, a.len), 0);
    cr_assert_str_eq(hdr(&a, "ETag"), hdr(&b, "ETag"));
    bgt_response_free(&a);
    bgt_response_free(&b);
}

Test(http, grid_headers)
{
    bgt_response r, g;
    char path[600], want[600];
    const char *id = post_id(GRID, &r);
    snprintf(want, sizeof want, "/v1/sources/%s", id);
    cr_assert_str_eq(hdr(&r, "Content-Location"), want);
    cr_assert_str_eq(hdr(&r, "X-Content-Type-Options"), "nosniff");
    cr_assert_str_eq(hdr(&r, "Vary"), "Accept");
    cr_assert_str_eq(hdr(&r, "Content-Type"), "application/json");
    const char *etag = hdr(&r, "ETag");
    cr_assert(etag != NULL && etag[0] == '"' && etag[strlen(etag) - 1] == '"',
              "strong ETag: %s", etag);
    cr_assert_not_null(hdr(&r, "X-Request-Id"));

    snprintf(path, sizeof path, "/v1/sources/%s", id);
    cr_assert_eq(bgt_request(&srv, "GET", path, NULL, NULL, 0, &g), 0);
    cr_assert_eq(g.status, 200);
    cr_assert_str_eq(hdr(&g, "Cache-Control"),
                     "public, max-age=31536000, immutable");
    cr_assert_str_eq(hdr(&g, "ETag"), etag);
    cr_assert_str_eq(hdr(&g, "X-Cache"), "HIT");
    cr_assert_eq(g.len, r.len);
    cr_assert_eq(memcmp(g.body, r.body, r.len), 0);
    bgt_response_free(&g);
    bgt_response_free(&r);
}

Test(http, etag_304)
{
    bgt_response r, g;
    char path[600], inm[700];
    const char *id = post_id(GRID, &r);
    snprintf(path, sizeof path, "/v1/sources/%s", id);
    char etag[128];
    snprintf(etag, sizeof etag, "%s", hdr(&r, "ETag"));

    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    const char *h1[] = {inm, NULL};
    cr_assert_eq(bgt_request(&srv, "GET", path, h1, NULL, 0, &g), 0);
    cr_assert_eq(g.status, 304);
    cr_assert_eq(g.len, 0);
    cr_assert_str_eq(hdr(&g, "ETag"), etag);
    bgt_response_free(&g);

    snprintf(inm, sizeof inm, "If-None-Match: \"other\", W/%s", etag);
    const char *h2[] = {inm, NULL};
    cr_assert_eq(bgt_request(&srv, "GET", path, h2, NULL, 0, &g), 0);
    cr_assert_eq(g.status, 304, "weak comparison in a list");
    bgt_response_free(&g);

    const char *h3[] = {"If-None-Match: \"nope\"", NULL};
    cr_assert_eq(bgt_request(&srv, "GET", path, h3, NULL, 0, &g), 0);
    cr_assert_eq(g.status, 200);
    bgt_response_free(&g);

    /* Another representation has another ETag. */
    snprintf(path, sizeof path, "/v1/sources/%s?format=npy", id);
    cr_assert_eq(bgt_request(&srv, "GET", path, h1, NULL, 0, &g), 0);
    cr_assert_eq(g.status, 200);
    cr_assert_str_neq(hdr(&g, "ETag"), etag);
    bgt_response_free(&g);
    bgt_response_free(&r);
}

Test(http, alike_requests_share_an_entry)
{
    bgt_response a, b;
    char id[512];
    snprintf(id, sizeof id, "%s",
             post_id("{\"divergence_mrad\":0.28,\"hdivstep_mrad\":0.02,"
                     "\"vdivstep_mrad\":0.02}",
                     &a));
    cr_assert_str_eq(hdr(&a, "X-Cache"), "MISS");
    cr_assert_str_eq(post_id("{\"hdivrange_mrad\":0.28,\"vdivrange_mrad\":0.28,"
                             "\"hdivstep_mrad\":0.02,\"vdivstep_mrad\":0.02}",
                             &b),
                     id);
    cr_assert_str_eq(hdr(&b, "X-Cache"), "HIT");
    cr_assert_str_eq(hdr(&a, "ETag"), hdr(&b, "ETag"));
    bgt_response_free(&a);
    bgt_response_free(&b);
}

Test(http, second_instance_answers_an_id)
{
    bgt_response r, g1, g2;
    char path[600];
    const char *id = post_id(GRID, &r);
    snprintf(path, sizeof path, "/v1/sources/%s?format=npy", id);
    cr_assert_eq(bgt_request(&srv, "GET", path, NULL, NULL, 0, &g1), 0);
    cr_assert_eq(g1.status, 200);

    bgt_server other;
    cr_assert_eq(bgt_server_start(&other, NULL), 0);
    cr_assert_eq(bgt_request(&other, "GET", path, NULL, NULL, 0, &g2), 0);
    cr_assert_eq(g2.status, 200);
    cr_assert_str_eq(hdr(&g2, "X-Cache"), "MISS");
    cr_assert_eq(g1.len, g2.len);
    cr_assert_eq(memcmp(g1.body, g2.body, g1.len), 0);
    cr_assert_str_eq(hdr(&g1, "ETag"), hdr(&g2, "ETag"));
    bgt_response_free(&g2);

    snprintf(path, sizeof path, "/v1/sources/%s", id);
    cr_assert_eq(bgt_request(&other, "GET", path, NULL, NULL, 0, &g2), 0);
    cr_assert_eq(g2.len, r.len);
    cr_assert_eq(memcmp(g2.body, r.body, r.len), 0, "JSON bytes identical");
    cr_assert_eq(bgt_server_stop(&other, 10), 0);
    bgt_response_free(&g2);
    bgt_response_free(&g1);
    bgt_response_free(&r);
}

Test(http, head_has_no_body)
{
    bgt_response r, h;
    char path[600], len[64];
    const char *id = post_id(GRID, &r);
    snprintf(path, sizeof path, "/v1/sources/%s", id);
    cr_assert_eq(bgt_request(&srv, "HEAD", path, NULL, NULL, 0, &h), 0);
    cr_assert_eq(h.status, 200);
    cr_assert_eq(h.len, 0);
    snprintf(len, sizeof len, "%zu", r.len);
    cr_assert_str_eq(hdr(&h, "Content-Length"), len);
    bgt_response_free(&h);
    bgt_response_free(&r);
}

Test(http, accept_and_format)
{
    bgt_response r;
    const char *npy[] = {"Accept: application/x-npy", NULL};
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources", GRID, npy, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(hdr(&r, "Content-Type"), "application/x-npy");
    cr_assert_eq(memcmp(r.body, "\x93NUMPY", 6), 0);
    bgt_response_free(&r);

    const char *txt[] = {"Accept: text/plain", NULL};
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources", GRID, txt, &r), 0);
    cr_assert_str_eq(hdr(&r, "Content-Type"), "text/plain; charset=utf-8");
    bgt_response_free(&r);

    /* ?format= wins over Accept. */
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources?format=bin", GRID, txt, &r),
                 0);
    cr_assert_str_eq(hdr(&r, "Content-Type"), "application/octet-stream");
    cr_assert_eq(memcmp(r.body, "BGRD", 4), 0);
    bgt_response_free(&r);
}

Test(http, request_ids)
{
    bgt_response r;
    const char *good[] = {"X-Request-Id: trace-42_A.b", NULL};
    cr_assert_eq(bgt_request(&srv, "GET", "/healthz", good, NULL, 0, &r), 0);
    cr_assert_str_eq(hdr(&r, "X-Request-Id"), "trace-42_A.b");
    bgt_response_free(&r);

    const char *bad[] = {"X-Request-Id: no spaces/or slashes", NULL};
    cr_assert_eq(bgt_request(&srv, "GET", "/healthz", bad, NULL, 0, &r), 0);
    const char *id = hdr(&r, "X-Request-Id");
    cr_assert_not_null(id);
    cr_assert_str_neq(id, "no spaces/or slashes");
    cr_assert_eq(strspn(id, "0123456789abcdef"), strlen(id));
    bgt_response_free(&r);

    char longer[128] = "X-Request-Id: ";
    memset(longer + 14, 'a', 65);
    const char *too_long[] = {longer, NULL};
    cr_assert_eq(bgt_request(&srv, "GET", "/healthz", too_long, NULL, 0, &r),
                 0);
    cr_assert_eq(strlen(hdr(&r, "X-Request-Id")), 16);
    bgt_response_free(&r);
}

/* GET hits on a cached body share one prepared response (server/
 * handler_sources.c): every one carries the same bytes and headers, and a
 * request that sends X-Request-Id still has it echoed. */
Test(http, repeated_get_hits_share_a_response)
{
    bgt_response r, g[3];
    char path[600];
    const char *id = post_id(GRID, &r);
    snprintf(path, sizeof path, "/v1/sources/%s?format=npy", id);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(bgt_request(&srv, "GET", path, NULL, NULL, 0, &g[i]), 0);
        cr_assert_eq(g[i].status, 200);
        cr_assert_str_eq(hdr(&g[i], "X-Cache"), "HIT");
        cr_assert_str_eq(hdr(&g[i], "Content-Type"), "application/x-npy");
        cr_assert_str_eq(hdr(&g[i], "X-Content-Type-Options"), "nosniff");
        cr_assert_str_eq(hdr(&g[i], "Cache-Control"),
                         "public, max-age=31536000, immutable");
        cr_assert_eq(g[i].len, g[0].len);
        cr_assert_eq(memcmp(g[i].body, g[0].body, g[0].len), 0);
        cr_assert_str_eq(hdr(&g[i], "ETag"), hdr(&g[0], "ETag"));
    }
    const char *traced[] = {"X-Request-Id: farm-7.req-1", NULL};
    bgt_response t;
    cr_assert_eq(bgt_request(&srv, "GET", path, traced, NULL, 0, &t), 0);
    cr_assert_eq(t.status, 200);
    cr_assert_str_eq(hdr(&t, "X-Request-Id"), "farm-7.req-1");
    cr_assert_eq(t.len, g[0].len);
    cr_assert_eq(memcmp(t.body, g[0].body, t.len), 0);
    bgt_response_free(&t);
    for (int i = 0; i < 3; i++)
        bgt_response_free(&g[i]);
    bgt_response_free(&r);
}

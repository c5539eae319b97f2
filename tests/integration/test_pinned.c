/* test_pinned.c - ids, ETags and bodies of real requests, pinned as
 * literals, through the real server.
 *
 * Ids are public URLs and ETags are promised immutable for a year
 * (Cache-Control: immutable): a POST of the same parameters must keep
 * answering with the same Content-Location, the same ETag and the same
 * bytes, and a GET of that id must too. tests/api/test_ids.c pins the same
 * ids and ETags at the unit level. If this test fails, a change altered
 * what clients and caches hold: that is a decision to make (bump
 * BGAPI_CANON_VERSION, BG_CORE_VERSION or BGAPI_ENCODE_VERSION and say so;
 * docs/semantics.md §4.4), not a literal to update quietly. The body is
 * pinned by length and FNV-1a 64 (computed independently with Python when
 * the pins were taken). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/server.h"

static uint64_t fnv1a64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

typedef struct {
    const char *body, *query; /* the POST, and the format's query */
    const char *location, *etag, *type;
    size_t len;
    uint64_t fnv;
} pin;

static const pin PINS[] = {
    {"{}", "", "/v1/sources/Ag", "\"39ac0ea289bcb316-json-c1e2\"",
     "application/json", 642, UINT64_C(0x30e20ac3d43744ef)},
    {"{\"divergence_mrad\":0.5,\"divsteps\":5,\"dispersion_percent\":0.1,"
     "\"dispsteps\":3}",
     "", "/v1/sources/AgIFA_yp8dJNYkA_CAMJ_Knx0k1iUD8",
     "\"b8b6e2708082a02a-json-c1e2\"", "application/json", 4106,
     UINT64_C(0x09324e659735e3b8)},
    {"{\"divergence_mrad\":0.5,\"divsteps\":25,\"dispersion_percent\":0.1,"
     "\"dispsteps\":9}",
     "?format=npy", "/v1/sources/AgIZA_yp8dJNYkA_CAkJ_Knx0k1iUD8",
     "\"86f8b85625e1c1fe-npy-f8-c1e2\"", "application/x-npy", 179048,
     UINT64_C(0xf1ec5fe2612334ed)},
    {"{\"convention\": \"XDS\", \"energy_eV\": 9000}",
     "?format=bin&dtype=float32", "/v1/sources/Aguu3FvFAe_iPQwQDQE",
     "\"bf95e18267e336fa-bin-f4-c1e2\"", "application/octet-stream", 84,
     UINT64_C(0x767de0c9211ffc6d)},
};

/* r is pin p's answer: 200, its id, ETag, media type and bytes. */
static void expect_pin(const bgt_response *r, const pin *p, const char *how)
{
    char buf[256];
    cr_assert_eq(r->status, 200, "%s %s: %ld %s", how, p->location, r->status,
                 r->body);
    cr_expect_str_eq(bgt_header(r, "Content-Location", buf, sizeof buf),
                     p->location, "%s", how);
    cr_expect_str_eq(bgt_header(r, "ETag", buf, sizeof buf), p->etag, "%s %s",
                     how, p->location);
    cr_expect_str_eq(bgt_header(r, "Content-Type", buf, sizeof buf), p->type,
                     "%s %s", how, p->location);
    cr_expect_eq(r->len, p->len, "%s %s: %zu bytes", how, p->location, r->len);
    cr_expect_eq(fnv1a64(r->body, r->len), p->fnv,
                 "%s %s: body FNV-1a 0x%016" PRIx64, how, p->location,
                 fnv1a64(r->body, r->len));
}

Test(pinned, ids_etags_and_bodies_of_real_requests, .timeout = 60)
{
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    for (size_t i = 0; i < sizeof PINS / sizeof PINS[0]; i++) {
        const pin *p = &PINS[i];
        char path[256];
        bgt_response r;
        snprintf(path, sizeof path, "/v1/sources%s", p->query);
        cr_assert_eq(bgt_post_json(&s, path, p->body, NULL, &r), 0);
        expect_pin(&r, p, "POST");
        bgt_response_free(&r);

        /* the id alone gives the same representation */
        snprintf(path, sizeof path, "%s%s", p->location, p->query);
        cr_assert_eq(bgt_request(&s, "GET", path, NULL, NULL, 0, &r), 0);
        expect_pin(&r, p, "GET");
        bgt_response_free(&r);

        /* and the pinned ETag validates it */
        char inm[128];
        snprintf(inm, sizeof inm, "If-None-Match: %s", p->etag);
        const char *h[] = {inm, NULL};
        cr_assert_eq(bgt_request(&s, "GET", path, h, NULL, 0, &r), 0);
        cr_expect_eq(r.status, 304, "%s with If-None-Match: %ld", path,
                     r.status);
        bgt_response_free(&r);
    }
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

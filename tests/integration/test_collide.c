/* test_collide.c - cache integrity under colliding hashes, end to end.
 *
 * build/beamgrid-collide is the server built with BG_CACHE_HASH_BITS=1:
 * every parameter set's hash collides with half of all others. Many
 * distinct parameter sets are POSTed to it and to the normal server; each
 * answer must be byte for byte the normal server's, on the first request
 * (MISS), on repeats (HIT, from a chain of colliding entries) and by id,
 * also with a cache small enough to evict in between. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/server.h"

#define N_SETS 40

static bgt_server normal, collide;

/* Start the binary named by env var `var` (default `def`). */
static void start_bin(bgt_server *s, const char *var, const char *def,
                      const char *const *flags)
{
    const char *bin = getenv(var);
    const char *saved = getenv("BEAMGRID_BIN");
    char keep[512];
    snprintf(keep, sizeof keep, "%s", saved ? saved : "build/beamgrid");
    setenv("BEAMGRID_BIN", bin ? bin : def, 1);
    cr_assert_eq(bgt_server_start(s, flags), 0, "start %s", bin ? bin : def);
    setenv("BEAMGRID_BIN", keep, 1);
}

/* Parameter set i: they differ in one field or another, so colliding
 * entries differ in different places of their keys. */
static void params(int i, char *out, size_t cap)
{
    switch (i % 4) {
    case 0:
        snprintf(out, cap, "{\"divergence_mrad\":0.5,\"divsteps\":%d}",
                 3 + i % 11);
        break;
    case 1:
        snprintf(out, cap,
                 "{\"lambda_A\":%.3f,\"dispersion_percent\":0.1,"
                 "\"dispsteps\":3}",
                 0.5 + i * 0.01);
        break;
    case 2:
        snprintf(out, cap,
                 "{\"hdivrange_mrad\":0.2,\"vdivrange_mrad\":0.%d,"
                 "\"hdivsteps\":5,\"vdivsteps\":4,\"round_div\":false}",
                 i);
        break;
    default:
        snprintf(out, cap,
                 "{\"divergence_mrad\":0.3,\"divsteps\":5,\"convention\":"
                 "\"%s\",\"source_distance_mm\":%d}",
                 i % 8 == 3 ? "XDS" : "DIALS", 1000 + i);
    }
}

static const char *const FORMATS[] = {"?format=bin", "?format=npy", "",
                                      "?format=txt"};

/* POST set i in format f to both servers: same status and bytes. Returns
 * the collide server's X-Cache; fills loc with the grid's path. */
static const char *same_answer(int i, int f, char *loc, size_t cap)
{
    static char cache[16];
    char body[256], path[64];
    bgt_response a, b;
    params(i, body, sizeof body);
    snprintf(path, sizeof path, "/v1/sources%s", FORMATS[f]);
    cr_assert_eq(bgt_post_json(&normal, path, body, NULL, &a), 0);
    cr_assert_eq(bgt_post_json(&collide, path, body, NULL, &b), 0);
    cr_assert_eq(a.status, 200, "set %d: %s", i, a.body);
    cr_assert_eq(b.status, 200, "set %d: %s", i, b.body);
    cr_assert_eq(a.len, b.len, "set %d %s: %zu vs %zu bytes", i, path, a.len,
                 b.len);
    cr_assert_eq(memcmp(a.body, b.body, a.len), 0, "set %d %s: other bytes", i,
                 path);
    bgt_header(&b, "X-Cache", cache, sizeof cache);
    bgt_header(&b, "Content-Location", loc, cap);
    bgt_response_free(&a);
    bgt_response_free(&b);
    return cache;
}

static void rounds(const char *cache_mb)
{
    const char *const flags[] = {"--cache-mb", cache_mb, NULL};
    start_bin(&normal, "BEAMGRID_BIN", "build/beamgrid", NULL);
    start_bin(&collide, "BEAMGRID_COLLIDE_BIN", "build/beamgrid-collide",
              flags);
    char loc[N_SETS][256];
    for (int i = 0; i < N_SETS; i++)
        cr_assert_str_eq(same_answer(i, i % 4, loc[i], sizeof loc[i]), "MISS",
                         "set %d is new", i);
    int hits = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N_SETS; i++) {
            char again[256];
            const char *c =
                same_answer(i, (i + round) % 4, again, sizeof again);
            hits += strcmp(c, "HIT") == 0;
            cr_assert_str_eq(again, loc[i], "same id");
        }
    }
    /* By id, in every representation. */
    for (int i = 0; i < N_SETS; i++) {
        char path[320];
        snprintf(path, sizeof path, "%s%s", loc[i], FORMATS[(i + 1) % 4]);
        bgt_response a, b;
        cr_assert_eq(bgt_request(&normal, "GET", path, NULL, NULL, 0, &a), 0);
        cr_assert_eq(bgt_request(&collide, "GET", path, NULL, NULL, 0, &b), 0);
        cr_assert_eq(b.status, 200);
        cr_assert(a.len == b.len && memcmp(a.body, b.body, a.len) == 0,
                  "GET %s: other bytes", path);
        bgt_response_free(&a);
        bgt_response_free(&b);
    }
    if (strcmp(cache_mb, "0") != 0)
        cr_assert_gt(hits, N_SETS, "repeats were served from the cache");
    cr_assert_eq(bgt_server_stop(&normal, 10), 0, "log: %s", normal.log_path);
    cr_assert_eq(bgt_server_stop(&collide, 10), 0, "log: %s", collide.log_path);
}

Test(collide, every_set_gets_its_own_grid)
{
    rounds("256");
}

Test(collide, with_evictions_in_between)
{
    rounds("1");
}

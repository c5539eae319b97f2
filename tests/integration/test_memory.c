/* test_memory.c - a cached grid is one block: its npy and BGRD bodies are
 * the grid's own bytes, so asking for both costs no more than the grid.
 *
 * The real server, several grids each fetched as npy and as bin (POST and
 * GET by id), then the cache's own byte count (beamgrid_cache_bytes) per
 * cached source: 40 bytes of columns plus an entry's fixed cost, at most 48
 * (the two bodies as copies were 120). The bodies themselves are checked
 * too: the npy's data and the BGRD's data are the same bytes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/server.h"

#define GRIDS 4

static double cache_bytes(const bgt_server *s)
{
    double v = bgt_server_metric(s, "beamgrid_cache_bytes");
    cr_assert_geq(v, 0);
    return v;
}

/* GET path; must be 200 with a body of at least `min` bytes. */
static bgt_response get_ok(const bgt_server *s, const char *path, size_t min)
{
    bgt_response r;
    cr_assert_eq(bgt_request(s, "GET", path, NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200, "%s", path);
    cr_assert_geq(r.len, min);
    return r;
}

Test(memory, npy_and_bin_share_the_grids_block)
{
    /* --inline-max-kb 0: every grid is made on the compute thread, as the
     * large grids this is about are. */
    const char *flags[] = {"--cache-mb", "512", "--inline-max-kb", "0", NULL};
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    double before = cache_bytes(&s);
    double sources = 0;
    for (int i = 0; i < GRIDS; i++) {
        char body[160], loc[1024], path[1100], count[32];
        snprintf(body, sizeof body,
                 "{\"divergence_mrad\":%d,\"divsteps\":121,"
                 "\"dispersion_percent\":0.1,\"dispsteps\":3}",
                 i + 1);
        bgt_response r;
        cr_assert_eq(
            bgt_post_json(&s, "/v1/sources?format=npy", body, NULL, &r), 0);
        cr_assert_eq(r.status, 200);
        cr_assert_not_null(bgt_header(&r, "Content-Location", loc, sizeof loc));
        cr_assert_not_null(bgt_header(&r, "X-Cache", count, sizeof count));
        cr_assert_str_eq(count, "MISS");
        size_t n = (r.len - 128) / 40;
        cr_assert_eq(r.len, 128 + 40 * n, "npy: header and 5 columns");
        sources += (double)n;
        snprintf(path, sizeof path, "%s?format=bin", loc);
        bgt_response b = get_ok(&s, path, 64);
        cr_assert_eq(b.len, 64 + 40 * n, "BGRD: header and 5 columns");
        cr_assert_eq(memcmp(b.body + 64, r.body + 128, 40 * n), 0,
                     "the same columns behind both headers");
        snprintf(path, sizeof path, "%s?format=npy", loc);
        bgt_response again = get_ok(&s, path, r.len);
        cr_assert_eq(again.len, r.len);
        cr_assert_eq(memcmp(again.body, r.body, r.len), 0);
        bgt_response_free(&again);
        bgt_response_free(&b);
        bgt_response_free(&r);
    }
    double per = (cache_bytes(&s) - before) / sources;
    cr_log_info("%.1f bytes a cached source with npy and bin asked", per);
    cr_assert_geq(per, 40.0, "the columns are there: %.1f", per);
    cr_assert_leq(per, 48.0, "%.1f bytes a cached source", per);
    cr_assert_eq(bgt_server_stop(&s, 10), 0);
}

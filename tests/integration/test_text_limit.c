/* test_text_limit.c - --max-text-mb (BEAMGRID_MAX_TEXT_MB) through the real
 * server: a grid whose JSON or txt answer would pass the limit gets a 422
 * problem naming the count, the limit and the better formats (npy, bin),
 * on POST and on GET by id, before anything is computed; the same grid as
 * npy or bin is served, and a grid under the limit is served as JSON; a
 * spectrum's channels count; and an npz past 4 GiB is refused before it is
 * computed. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/server.h"

static bgt_server srv;

/* 1 MiB at 120 bytes a source: 8738 sources. S (4473) is under, M
 * (44793) past it. */
#define S_BODY                                                                 \
    "{\"divergence_mrad\":0.5,\"divsteps\":25,\"dispersion_percent\":0.1,"     \
    "\"dispsteps\":9}"
#define M_BODY                                                                 \
    "{\"divergence_mrad\":0.5,\"divsteps\":51,\"dispersion_percent\":0.1,"     \
    "\"dispsteps\":21}"

static void start(void)
{
    static const char *const flags[] = {"--max-text-mb", "1", NULL};
    cr_assert_eq(bgt_server_start(&srv, flags), 0);
}

static void stop(void)
{
    cr_assert_eq(bgt_server_stop(&srv, 10), 0, "log: %s", srv.log_path);
}

TestSuite(text_limit, .init = start, .fini = stop);

static double metric(const char *name)
{
    double v = bgt_server_metric(&srv, name);
    cr_assert_geq(v, 0, "metric %s present", name);
    return v;
}

/* r is the 422 too-large-for-format problem for `fmt`, naming the count,
 * the limit and both better formats. */
static void expect_too_large(bgt_response *r, const char *fmt)
{
    char ct[128];
    cr_assert_eq(r->status, 422, "%ld: %s", r->status, r->body);
    cr_assert_str_eq(bgt_header(r, "Content-Type", ct, sizeof ct),
                     "application/problem+json");
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    cr_assert_not_null(j, "%s", r->body);
    cr_expect_str_eq(json_string_value(json_object_get(j, "type")),
                     "urn:beamgrid:problem:too-large-for-format");
    cr_expect_str_eq(json_string_value(json_object_get(j, "field")), "format");
    const char *d = json_string_value(json_object_get(j, "detail"));
    cr_assert_not_null(d);
    char want[64];
    snprintf(want, sizeof want, "44793 sources as %s", fmt);
    cr_expect_not_null(strstr(d, want), "count and format: %s", d);
    cr_expect_not_null(strstr(d, "limit of 1 MiB (--max-text-mb)"), "%s", d);
    cr_expect_not_null(strstr(d, "?format=npy"), "%s", d);
    cr_expect_not_null(strstr(d, "?format=bin"), "%s", d);
    json_decref(j);
}

Test(text_limit, json_and_txt_past_it_are_422_npy_served)
{
    double grids0 = metric("beamgrid_grids_computed_total");
    bgt_response r;
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources", M_BODY, NULL, &r), 0);
    expect_too_large(&r, "json");
    bgt_response_free(&r);
    cr_assert_eq(
        bgt_post_json(&srv, "/v1/sources?format=txt", M_BODY, NULL, &r), 0);
    expect_too_large(&r, "txt");
    bgt_response_free(&r);
    cr_expect_eq(metric("beamgrid_grids_computed_total"), grids0,
                 "refused before computing");

    /* the same grid as npy: served, 40 bytes a source plus the header */
    char loc[256];
    cr_assert_eq(
        bgt_post_json(&srv, "/v1/sources?format=npy", M_BODY, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_gt(r.len, (size_t)44793 * 40);
    cr_assert_not_null(bgt_header(&r, "Content-Location", loc, sizeof loc));
    bgt_response_free(&r);

    /* GET by id: the same limit for json and txt, bin served */
    char path[300];
    snprintf(path, sizeof path, "%s?format=json", loc);
    cr_assert_eq(bgt_request(&srv, "GET", path, NULL, NULL, 0, &r), 0);
    expect_too_large(&r, "json");
    bgt_response_free(&r);
    snprintf(path, sizeof path, "%s?format=bin", loc);
    cr_assert_eq(bgt_request(&srv, "GET", path, NULL, NULL, 0, &r), 0);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(r.len, (size_t)64 + 44793 * 40);
    bgt_response_free(&r);
}

Test(text_limit, under_it_json_is_served)
{
    bgt_response r;
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources", S_BODY, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *j = json_loadb(r.body, r.len, 0, NULL);
    cr_assert_not_null(j);
    cr_expect_eq(json_integer_value(json_object_get(j, "count")), 4473);
    json_decref(j);
    bgt_response_free(&r);
}

/* The variable sets it too (0: no limit), and the flag wins over it. */
Test(text_limit, variable_and_zero)
{
    bgt_server other;
    setenv("BEAMGRID_MAX_TEXT_MB", "0", 1);
    int rc = bgt_server_start(&other, NULL);
    unsetenv("BEAMGRID_MAX_TEXT_MB");
    cr_assert_eq(rc, 0);
    bgt_response r;
    cr_assert_eq(bgt_post_json(&other, "/v1/sources", M_BODY, NULL, &r), 0);
    cr_expect_eq(r.status, 200, "no limit: %s", r.status == 200 ? "" : r.body);
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&other, 10), 0);

    static const char *const flags[] = {"--max-text-mb", "1", NULL};
    setenv("BEAMGRID_MAX_TEXT_MB", "1000", 1);
    rc = bgt_server_start(&other, flags);
    unsetenv("BEAMGRID_MAX_TEXT_MB");
    cr_assert_eq(rc, 0);
    cr_assert_eq(bgt_post_json(&other, "/v1/sources", M_BODY, NULL, &r), 0);
    expect_too_large(&r, "json");
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&other, 10), 0);
}

/* The type slug and field of problem r, and that nothing was computed. */
static void expect_refused(bgt_response *r, const char *slug, double grids0,
                           double grids_now)
{
    cr_assert_eq(r->status, 422, "%ld: %.300s", r->status, r->body);
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    cr_assert_not_null(j, "%s", r->body);
    char type[96];
    snprintf(type, sizeof type, "urn:beamgrid:problem:%s", slug);
    cr_expect_str_eq(json_string_value(json_object_get(j, "type")), type);
    cr_expect_str_eq(json_string_value(json_object_get(j, "field")), "format");
    json_decref(j);
    cr_expect_eq(grids_now, grids0, "refused before computing");
}

/* A spectrum's channels count as the dispersion steps do: 2,000 channels
 * on a 10 x 10 divergence grid are past 1 MiB of JSON though the axes'
 * rectangle alone (100 points) is not. */
Test(text_limit, a_spectrums_channels_count)
{
    double grids0 = metric("beamgrid_grids_computed_total");
    bgt_response r;
    cr_assert_eq(bgt_post_json(&srv, "/v1/sources",
                               "{\"energy_eV\":9000,\"divergence_mrad\":0.5,"
                               "\"divsteps\":10,\"spectrum\":{\"kind\":"
                               "\"gaussian\",\"fwhm_eV\":10,\"channels\":2000,"
                               "\"channel_eV\":0.01}}",
                               NULL, &r),
                 0);
    expect_refused(&r, "too-large-for-format", grids0,
                   metric("beamgrid_grids_computed_total"));
    cr_expect_not_null(strstr(r.body, "?format=npy"), "%s", r.body);
    bgt_response_free(&r);
}

/* An npz past 4 GiB (no ZIP64: docs/formats.md) is refused before the
 * 108-million-source grid is computed, naming npy and bin. */
Test(text_limit, npz_past_4_gib_refused_before_computing, .timeout = 60)
{
    bgt_server big;
    static const char *const flags[] = {"--max-sources", "200000000", NULL};
    cr_assert_eq(bgt_server_start(&big, flags), 0);
    double grids0 = bgt_server_metric(&big, "beamgrid_grids_computed_total");
    cr_assert_geq(grids0, 0);
    bgt_response r;
    cr_assert_eq(bgt_post_json(&big, "/v1/sources?format=npz",
                               "{\"round_div\":false,\"divergence_mrad\":1,"
                               "\"divsteps\":10400}",
                               NULL, &r),
                 0);
    expect_refused(&r, "npz-too-large", grids0,
                   bgt_server_metric(&big, "beamgrid_grids_computed_total"));
    cr_expect_not_null(strstr(r.body, "npy"), "%s", r.body);
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&big, 10), 0);
}

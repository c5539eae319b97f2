/* test_range_warnings.c - values far outside X-ray practice through the
 * real server (docs/semantics.md §6): served as asked, with a warning in
 * the JSON answer and a Beamgrid-Warning header, the same by id (GET
 * rebuilds it from the id alone) and in a binary representation. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "tests/support/server.h"

static const char *const FLAGS[] = {NULL};

/* The field of the answer's only warning; the message must hold words. */
static void expect_one_warning(const bgt_response *r, const char *field,
                               const char *words)
{
    json_error_t err;
    json_t *j = json_loadb(r->body, r->len, 0, &err);
    cr_assert_not_null(j, "bad JSON: %s", err.text);
    json_t *w = json_object_get(j, "warnings");
    cr_assert_eq(json_array_size(w), 1, "%.300s", r->body);
    json_t *it = json_array_get(w, 0);
    cr_expect_str_eq(json_string_value(json_object_get(it, "field")), field);
    const char *msg = json_string_value(json_object_get(it, "message"));
    cr_assert_not_null(msg);
    cr_expect_not_null(strstr(msg, words), "%s", msg);
    json_decref(j);
    char h[512];
    cr_assert_not_null(bgt_header(r, "Beamgrid-Warning", h, sizeof h));
    char want[64];
    snprintf(want, sizeof want, "%s: ", field);
    cr_expect_eq(strncmp(h, want, strlen(want)), 0, "header %s", h);
}

static void check_case(const bgt_server *s, const char *body, const char *field,
                       const char *words)
{
    bgt_response r, g, b;
    cr_assert_eq(bgt_post_json(s, "/v1/sources", body, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s: %s", body, r.body);
    expect_one_warning(&r, field, words);
    char loc[512], path[600];
    cr_assert_not_null(bgt_header(&r, "Content-Location", loc, sizeof loc));
    cr_assert_eq(bgt_request(s, "GET", loc, NULL, NULL, 0, &g), 0);
    cr_assert_eq(g.status, 200);
    expect_one_warning(&g, field, words);
    cr_expect_eq(g.len, r.len, "the same body by id");
    cr_expect_eq(memcmp(g.body, r.body, r.len), 0);
    snprintf(path, sizeof path, "%s?format=npy", loc);
    cr_assert_eq(bgt_request(s, "GET", path, NULL, NULL, 0, &b), 0);
    cr_assert_eq(b.status, 200);
    char h[512];
    cr_expect_not_null(bgt_header(&b, "Beamgrid-Warning", h, sizeof h),
                       "npy: the header too");
    bgt_response_free(&r);
    bgt_response_free(&g);
    bgt_response_free(&b);
}

Test(range_warnings, served_with_a_warning, .timeout = 60)
{
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, FLAGS), 0);
    check_case(&s, "{\"lambda_A\":1e-10}", "lambda_A", "metres");
    check_case(&s, "{\"energy_eV\":12.4}", "energy_eV", "keV");
    check_case(&s, "{\"divsteps\":20}", "divergence_mrad", "1 rad");
    check_case(&s, "{\"dispersion_percent\":40,\"dispsteps\":3}",
               "dispersion_percent", "40 %");
    bgt_response r;
    cr_assert_eq(bgt_post_json(&s, "/v1/sources",
                               "{\"divergence_mrad\":0.5,\"divsteps\":5,"
                               "\"lambda_A\":1.2}",
                               NULL, &r),
                 0);
    cr_expect_eq(r.status, 200);
    cr_expect_null(strstr(r.body, "\"warnings\""), "X-ray values: none");
    char h[64];
    cr_expect_null(bgt_header(&r, "Beamgrid-Warning", h, sizeof h));
    bgt_response_free(&r);
    cr_expect_eq(bgt_server_stop(&s, 10), 0);
}

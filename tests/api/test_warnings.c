/* test_warnings.c - api/warnings.c: the generic list (add, full, JSON with
 * escapes, header form), the warnings the PyTorch port's semantics derives
 * from a resolved set and its grid, none under nanoBragg's; and the request
 * fields "semantics" and "dtype" in api/request.c (types, names, the
 * beam-model fields refused under torch). */
#include <criterion/criterion.h>
#include <string.h>

#include "api/request.h"
#include "api/warnings.h"
#include "core/grid.h"

Test(warnings, list_json_and_header)
{
    bgapi_warnings w;
    bgapi_warnings_init(&w);
    char out[BGAPI_WARNINGS_JSON_MAX];
    cr_expect_eq(bgapi_warnings_json(&w, out), 0, "empty: nothing");
    cr_assert_eq(bgapi_warnings_add(&w, "lambda_A", "looks like %s", "metres"),
                 0);
    cr_assert_eq(bgapi_warnings_add(&w, "x", "a \"quote\" and \\ and \n"), 0);
    size_t n = bgapi_warnings_json(&w, out);
    out[n] = '\0';
    cr_expect_str_eq(out, ",\"warnings\":[{\"field\":\"lambda_A\",\"message\":"
                          "\"looks like metres\"},{\"field\":\"x\",\"message\":"
                          "\"a \\\"quote\\\" and \\\\ and \\u000a\"}]");
    char h[64];
    bgapi_warning_header(&w.items[1], h, sizeof h);
    cr_expect_str_eq(h, "x: a \"quote\" and \\ and ?");
    bgapi_warning_header(&w.items[0], h, 8);
    cr_expect_str_eq(h, "lambda_", "truncated to the buffer");
    for (int i = 2; i < BGAPI_WARNINGS_MAX; i++)
        cr_expect_eq(bgapi_warnings_add(&w, "f", "m"), 0);
    cr_expect_eq(bgapi_warnings_add(&w, "f", "m"), -1, "full");
    cr_expect_eq(w.count, BGAPI_WARNINGS_MAX);
}

static bg_resolved resolve(const char *body)
{
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(bgapi_parse_params(body, strlen(body), &p, &prob), 0, "%s",
                 prob.detail);
    bg_resolved r;
    bg_error err;
    cr_assert_eq(bg_resolve(&p, &r, &err), BG_OK, "%s", err.detail);
    return r;
}

Test(warnings, derived_from_the_resolved_set)
{
    bgapi_warnings w;
    bg_resolved r =
        resolve("{\"divergence_mrad\":0.5,\"divsteps\":3,\"lambda_A\":2}");
    bgapi_warnings_of(&r, NULL, &w);
    cr_expect_eq(w.count, 0, "nanoBragg, X-ray values: none");
    r = resolve("{\"semantics\":\"nanobrag_torch\",\"divsteps\":3,"
                "\"beam_vector\":[1,0,0],\"polar_vector\":[0,0,1],"
                "\"lambda_A\":2,\"energy_eV\":9000}");
    bgapi_warnings_of(&r, NULL, &w);
    cr_assert_eq(w.count, 4);
    cr_expect_str_eq(w.items[0].field, "divsteps");
    cr_expect_str_eq(w.items[1].field, "beam_vector");
    cr_expect_str_eq(w.items[2].field, "polar_vector");
    cr_expect_str_eq(w.items[3].field, "lambda_A");
    /* the fallback: a grid with one source and no point */
    r = resolve("{\"semantics\":\"nanobrag_torch\",\"hdivrange_mrad\":0,"
                "\"hdivstep_mrad\":0.1}");
    uint64_t n, pts;
    cr_assert_eq(bg_grid_count(&r, 1000, &n, &pts, NULL), BG_OK);
    cr_expect_eq(n, 1);
    cr_expect_eq(pts, 0);
    bg_grid g;
    cr_assert_eq(bg_grid_alloc(&g, n, BG_F64, 0), BG_OK);
    cr_assert_eq(bg_grid_fill(&r, &g, 1), BG_OK);
    bgapi_warnings_of(&r, &g, &w);
    cr_assert_eq(w.count, 1);
    cr_expect_str_eq(w.items[0].field, "hdivsteps");
    cr_expect(strstr(w.items[0].message, "+z") != NULL);
    bg_grid_free(&g);
}

static int parse_status(const char *body, const char **field)
{
    static bgapi_problem prob;
    bg_params p;
    if (bgapi_parse_params(body, strlen(body), &p, &prob) == 0)
        return 0;
    *field = prob.field;
    return prob.status;
}

Test(request, semantics_and_dtype)
{
    bg_params p;
    bgapi_problem prob;
    const char *ok = "{\"semantics\":\"nanobrag_torch\",\"dtype\":\"float64\"}";
    cr_assert_eq(bgapi_parse_params(ok, strlen(ok), &p, &prob), 0);
    cr_expect_eq(p.semantics, BG_SEM_TORCH);
    cr_expect(p.dtype_given);
    cr_expect_eq(p.dtype, BG_F64);
    const char *def = "{}";
    cr_assert_eq(bgapi_parse_params(def, 2, &p, &prob), 0);
    cr_expect_eq(p.semantics, BG_SEM_NANOBRAGG);
    cr_expect(!p.dtype_given);
    const char *field = NULL;
    cr_expect_eq(parse_status("{\"semantics\":\"torch\"}", &field), 422);
    cr_expect_str_eq(field, "semantics");
    cr_expect_eq(parse_status("{\"semantics\":null}", &field), 400);
    cr_expect_str_eq(field, "semantics");
    cr_expect_eq(parse_status("{\"dtype\":\"float16\"}", &field), 422);
    cr_expect_str_eq(field, "dtype");
    cr_expect_eq(parse_status("{\"dtype\":[1]}", &field), 400);
    cr_expect_str_eq(field, "dtype");
    /* beam models under torch: 422 by name, before anything else */
    cr_expect_eq(parse_status("{\"weights\":\"x\",\"semantics\":"
                              "\"nanobrag_torch\"}",
                              &field),
                 422);
    cr_expect_str_eq(field, "weights");
    cr_expect_eq(parse_status("{\"hc_eV_A\":1,\"semantics\":"
                              "\"nanobrag_torch\"}",
                              &field),
                 422);
    cr_expect_str_eq(field, "hc_eV_A");
}

/* One warning and its field for a request, or none (field NULL). */
static void expect_range_warning(const char *body, const char *field,
                                 const char *words)
{
    bgapi_warnings w;
    bg_resolved r = resolve(body);
    bgapi_warnings_of(&r, NULL, &w);
    if (field == NULL) {
        cr_expect_eq(w.count, 0, "%s: no warning, got %s", body,
                     w.count ? w.items[0].message : "");
        return;
    }
    cr_assert_eq(w.count, 1, "%s: one warning", body);
    cr_expect_str_eq(w.items[0].field, field, "%s", body);
    cr_expect_not_null(strstr(w.items[0].message, words), "%s: %s", body,
                       w.items[0].message);
}

/* Values far outside X-ray practice (docs/semantics.md §6): the issue's
 * three mistakes, both sides of each limit, and both semantics. */
Test(warnings, values_outside_xray_practice)
{
    expect_range_warning("{\"lambda_A\":1e-10}", "lambda_A", "metres");
    expect_range_warning("{\"energy_eV\":12.4}", "energy_eV", "keV");
    expect_range_warning("{\"lambda_A\":1000}", "energy_eV", "1000 A");
    expect_range_warning("{\"lambda_A\":0.01}", NULL, NULL);
    expect_range_warning("{\"lambda_A\":0.0099}", "lambda_A", "0.0099 A");
    expect_range_warning("{\"lambda_A\":100}", NULL, NULL);
    expect_range_warning("{\"energy_eV\":12398.42}", NULL, NULL);
    expect_range_warning("{\"divsteps\":20}", "divergence_mrad", "1000 mrad");
    expect_range_warning("{\"hdivsteps\":20}", "hdivrange_mrad", "count alone");
    expect_range_warning("{\"divergence_mrad\":0.1,\"vdivrange_mrad\":150,"
                         "\"divsteps\":3}",
                         "vdivrange_mrad", "150 mrad");
    expect_range_warning("{\"divergence_mrad\":100,\"divsteps\":3}", NULL,
                         NULL);
    expect_range_warning("{\"dispersion_percent\":20,\"dispsteps\":3}", NULL,
                         NULL);
    expect_range_warning("{\"dispersion_percent\":30,\"dispsteps\":3}",
                         "dispersion_percent", "30 %");
    expect_range_warning("{\"semantics\":\"nanobrag_torch\","
                         "\"lambda_A\":1e-10}",
                         "lambda_A", "metres");
    expect_range_warning("{\"semantics\":\"nanobrag_torch\"}", NULL, NULL);
    /* all three at once, in a fixed order */
    bgapi_warnings w;
    bg_resolved r = resolve("{\"lambda_A\":1e-10,\"divsteps\":3,"
                            "\"dispersion_percent\":50,\"dispsteps\":2}");
    bgapi_warnings_of(&r, NULL, &w);
    cr_assert_eq(w.count, 3);
    cr_expect_str_eq(w.items[0].field, "lambda_A");
    cr_expect_str_eq(w.items[1].field, "divergence_mrad");
    cr_expect_str_eq(w.items[2].field, "dispersion_percent");
}

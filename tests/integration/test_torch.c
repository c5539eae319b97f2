/* test_torch.c - "semantics": "nanobrag_torch" through the real server
 * (docs/torch.md): every tests/golden-torch case POSTed as JSON and the
 * answer compared to the port's arrays (counts, weights and wavelengths
 * exact, directions within 1e-12 / 4 x 2^-24), then fetched again by its
 * id (GET, same body, same warnings); float32 npy and BGRD against the
 * JSON; the warnings in the body and in Beamgrid-Warning headers; the new
 * 422s naming their field; and default answers without a warnings member.
 * Runs with grids computed inline and on the pool (--inline-max-kb 0). */
#include <criterion/criterion.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/golden_torch.h"
#include "tests/support/server.h"

static const char *const INLINE[] = {NULL};
static const char *const POOL[] = {"--inline-max-kb", "0", NULL};

static json_t *parse(const bgt_response *r)
{
    json_error_t err;
    json_t *j = json_loadb(r->body, r->len, 0, &err);
    cr_assert_not_null(j, "bad JSON: %s", err.text);
    return j;
}

static void check_answer(const gt_case *c, json_t *got)
{
    double tol = c->dtype == BG_F32 ? GT_TOL_F32 : GT_TOL_F64;
    cr_assert_eq(json_integer_value(json_object_get(got, "count")),
                 (json_int_t)c->count, "%s: count", c->name);
    json_t *d = json_object_get(got, "directions");
    json_t *w = json_object_get(got, "weights");
    json_t *l = json_object_get(got, "wavelengths_m");
    cr_assert_eq(json_array_size(d), c->count, "%s", c->name);
    for (size_t i = 0; i < c->count; i++) {
        for (size_t k = 0; k < 3; k++) {
            double v =
                json_number_value(json_array_get(json_array_get(d, i), k));
            cr_assert(fabs(v - c->dir[3 * i + k]) <= tol,
                      "%s source %zu direction[%zu]: %.17g vs %.17g", c->name,
                      i, k, v, c->dir[3 * i + k]);
        }
        cr_assert(json_number_value(json_array_get(w, i)) == c->weight[i],
                  "%s weight %zu", c->name, i);
        cr_assert(json_number_value(json_array_get(l, i)) == c->lambda[i],
                  "%s wavelength %zu", c->name, i);
    }
    json_t *res = json_object_get(got, "resolved");
    cr_expect_str_eq(json_string_value(json_object_get(res, "semantics")),
                     "nanobrag_torch", "%s", c->name);
    cr_expect_str_eq(json_string_value(json_object_get(res, "dtype")),
                     c->dtype == BG_F32 ? "float32" : "float64", "%s", c->name);
}

/* The number of Beamgrid-Warning header lines in a response. */
static int warning_headers(const bgt_response *r)
{
    int n = 0;
    for (const char *p = r->headers; (p = strcasestr(p, "\nBeamgrid-Warning:"));
         p++)
        n++;
    return n;
}

static size_t warning_count(json_t *j)
{
    json_t *w = json_object_get(j, "warnings");
    return w == NULL ? 0 : json_array_size(w);
}

static void run_case(const bgt_server *s, const char *path)
{
    gt_case c;
    cr_assert_eq(gt_load(path, &c), 0, "%s", path);
    bgt_response r;
    cr_assert_eq(bgt_post_json(s, "/v1/sources", c.params_json, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s: %s", c.name, r.body);
    json_t *j = parse(&r);
    check_answer(&c, j);
    size_t nw = warning_count(j);
    cr_expect_eq((size_t)warning_headers(&r), nw, "%s: a header a warning",
                 c.name);
    /* the same answer from the id alone */
    char loc[512], etag[128], etag2[128];
    cr_assert_not_null(bgt_header(&r, "Content-Location", loc, sizeof loc));
    cr_assert_not_null(bgt_header(&r, "ETag", etag, sizeof etag));
    bgt_response g;
    cr_assert_eq(bgt_request(s, "GET", loc, NULL, NULL, 0, &g), 0);
    cr_assert_eq(g.status, 200, "%s GET %s", c.name, loc);
    cr_expect_eq(g.len, r.len, "%s: GET body", c.name);
    cr_expect_eq(memcmp(g.body, r.body, r.len), 0, "%s: GET body", c.name);
    cr_expect_str_eq(bgt_header(&g, "ETag", etag2, sizeof etag2), etag);
    cr_expect_eq(warning_headers(&g), (int)nw, "%s: GET warnings", c.name);
    /* float32 BGRD: the same values as the JSON, as floats */
    char bin[600];
    snprintf(bin, sizeof bin, "%s?format=bin&dtype=float32", loc);
    bgt_response b;
    cr_assert_eq(bgt_request(s, "GET", bin, NULL, NULL, 0, &b), 0);
    cr_assert_eq(b.status, 200);
    cr_assert_eq(b.len, 64 + c.count * 5 * sizeof(float), "%s", c.name);
    const float *cols = (const float *)(void *)(b.body + 64);
    json_t *d = json_object_get(j, "directions");
    for (size_t i = 0; i < c.count; i++)
        cr_expect(cols[i] == (float)json_number_value(
                                 json_array_get(json_array_get(d, i), 0)),
                  "%s bin x %zu", c.name, i);
    bgt_response_free(&b);
    bgt_response_free(&g);
    json_decref(j);
    bgt_response_free(&r);
    gt_free(&c);
}

static void every_case(const char *const *flags)
{
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    glob_t gl;
    cr_assert_eq(glob("tests/golden-torch/*.json", 0, NULL, &gl), 0);
    cr_expect_eq(gl.gl_pathc, 10);
    for (size_t i = 0; i < gl.gl_pathc; i++)
        run_case(&s, gl.gl_pathv[i]);
    globfree(&gl);
    cr_expect_eq(bgt_server_stop(&s, 10), 0);
}

Test(torch_http, golden_inline, .timeout = 60)
{
    every_case(INLINE);
}

Test(torch_http, golden_pool, .timeout = 60)
{
    every_case(POOL);
}

/* POST body -> status, and for errors the problem's field. */
static void expect_problem(const bgt_server *s, const char *body, long status,
                           const char *field)
{
    bgt_response r;
    cr_assert_eq(bgt_post_json(s, "/v1/sources", body, NULL, &r), 0);
    cr_expect_eq(r.status, status, "%s -> %ld: %s", body, r.status, r.body);
    char ct[128];
    cr_expect_str_eq(bgt_header(&r, "Content-Type", ct, sizeof ct),
                     "application/problem+json");
    json_t *j = parse(&r);
    cr_expect_str_eq(json_string_value(json_object_get(j, "field")), field,
                     "%s", body);
    json_decref(j);
    bgt_response_free(&r);
}

Test(torch_http, refusals_name_the_field, .timeout = 60)
{
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, INLINE), 0);
    expect_problem(&s, "{\"dtype\":\"float32\"}", 422, "dtype");
    expect_problem(&s, "{\"semantics\":\"nanobragg\",\"dtype\":\"float64\"}",
                   422, "dtype");
    expect_problem(&s, "{\"semantics\":\"nanobrag_torch\",\"dtype\":\"f16\"}",
                   422, "dtype");
    expect_problem(&s, "{\"semantics\":\"pytorch\"}", 422, "semantics");
    expect_problem(&s, "{\"semantics\":1}", 400, "semantics");
    expect_problem(&s, "{\"semantics\":\"nanobrag_torch\",\"dtype\":64}", 400,
                   "dtype");
    expect_problem(&s,
                   "{\"semantics\":\"nanobrag_torch\","
                   "\"dispstep_percent\":0.1}",
                   422, "dispstep_percent");
    expect_problem(&s,
                   "{\"semantics\":\"nanobrag_torch\","
                   "\"source_distance_mm\":100}",
                   422, "source_distance_mm");
    static const char *const models[] = {"spectrum", "divergence_profile",
                                         "weights", "hc_eV_A"};
    for (size_t i = 0; i < 4; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"%s\":1,\"semantics\":\"nanobrag_torch\"}", models[i]);
        expect_problem(&s, body, 422, models[i]);
    }
    expect_problem(&s, "{\"semantics\":\"nanobrag_torch\",\"hdivsteps\":-1}",
                   422, "hdivsteps");
    expect_problem(&s,
                   "{\"semantics\":\"nanobrag_torch\","
                   "\"dispersion_percent\":300}",
                   422, "dispersion_percent");
    cr_expect_eq(bgt_server_stop(&s, 10), 0);
}

/* The +z fallback is a 200 with a warning, also by id and from the cache;
 * ignored fields are warned about; default answers carry no warnings. */
Test(torch_http, warnings, .timeout = 60)
{
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, INLINE), 0);
    const char *body = "{\"semantics\":\"nanobrag_torch\",\"divsteps\":25,"
                       "\"divergence_mrad\":0.5,\"polar_vector\":[0,0,1]}";
    for (int round = 0; round < 2; round++) { /* MISS, then HIT */
        bgt_response r;
        cr_assert_eq(bgt_post_json(&s, "/v1/sources", body, NULL, &r), 0);
        cr_assert_eq(r.status, 200, "%s", r.body);
        json_t *j = parse(&r);
        json_t *w = json_object_get(j, "warnings");
        cr_assert_eq(json_array_size(w), 3, "%s", r.body);
        const char *fields[3] = {"divsteps", "polar_vector", "round_div"};
        for (size_t i = 0; i < 3; i++)
            cr_expect_str_eq(json_string_value(json_object_get(
                                 json_array_get(w, i), "field")),
                             fields[i]);
        cr_expect_eq(warning_headers(&r), 3);
        cr_expect(strstr(r.headers, "Beamgrid-Warning: round_div: ") != NULL);
        json_t *d0 = json_array_get(json_object_get(j, "directions"), 0);
        cr_expect(json_number_value(json_array_get(d0, 2)) == 1.0, "+z");
        json_decref(j);
        bgt_response_free(&r);
    }
    bgt_response r;
    cr_assert_eq(bgt_post_json(&s, "/v1/sources",
                               "{\"divergence_mrad\":0.5,\"divsteps\":5}", NULL,
                               &r),
                 0);
    cr_expect_eq(r.status, 200);
    cr_expect_null(strstr(r.body, "\"warnings\""), "default: no warnings");
    cr_expect_eq(warning_headers(&r), 0);
    bgt_response_free(&r);
    cr_expect_eq(bgt_server_stop(&s, 10), 0);
}

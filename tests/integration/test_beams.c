/* test_beams.c - the beam models of docs/beams.md through the real server.
 *
 * Every case of tests/golden-beams/ is POSTed: the JSON grid (count,
 * directions, weights, wavelengths, summary) against the case to 1e-12
 * relative, the same grid by GET of its id (on a server that never saw the
 * POST: ids are self-sufficient), npy, BGRD and the sourcefile text
 * carrying the same weights and wavelengths, and ?format=lam and
 * ?format=dxtbx where the case holds them. Then every 422 and 400 of the
 * models, each naming its field; a 1,000-channel table by GET of its id;
 * a 10,000-entry table within the default body limit (refused clearly for
 * its id length unless strided). Inline and streamed (--inline-max-kb 0).
 * The npz of every case is checked by tests/client/test_client.py
 * (GoldenBeamsNpz), with numpy. */
#include <criterion/criterion.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/server.h"

static const char *const INLINE[] = {NULL};
static const char *const POOL[] = {"--inline-max-kb", "0", NULL};

static bool close_to(double got, double want)
{
    return fabs(got - want) <= 1e-12 * fabs(want) || fabs(got - want) <= 1e-15;
}

static json_t *parse(const bgt_response *r)
{
    json_error_t err;
    json_t *j = json_loadb(r->body, r->len, 0, &err);
    cr_assert_not_null(j, "bad JSON (%s): %.200s", err.text, r->body);
    return j;
}

static double num_at(const json_t *a, size_t i)
{
    return json_number_value(json_array_get(a, i));
}

static void expect_numbers(const json_t *want, const json_t *got,
                           const char *what, const char *name)
{
    cr_assert_eq(json_array_size(got), json_array_size(want), "%s %s size",
                 name, what);
    for (size_t i = 0; i < json_array_size(want); i++) {
        const json_t *w = json_array_get(want, i), *g = json_array_get(got, i);
        if (json_is_array(w)) {
            expect_numbers(w, g, what, name);
            continue;
        }
        cr_assert(close_to(json_number_value(g), json_number_value(w)),
                  "%s %s[%zu]: %.17g vs %.17g", name, what, i,
                  json_number_value(g), json_number_value(w));
    }
}

static void expect_summary(const json_t *want, const json_t *got,
                           const char *name)
{
    cr_assert_not_null(got, "%s: no summary", name);
    const char *key;
    json_t *w;
    json_object_foreach((json_t *)want, key, w)
    {
        json_t *g = json_object_get(got, key);
        cr_assert_not_null(g, "%s: summary.%s missing", name, key);
        if (json_is_integer(w))
            cr_assert_eq(json_integer_value(g), json_integer_value(w),
                         "%s summary.%s", name, key);
        else
            cr_assert(close_to(json_number_value(g), json_number_value(w)),
                      "%s summary.%s %.17g vs %.17g", name, key,
                      json_number_value(g), json_number_value(w));
    }
}

/* A grid's JSON answer against a golden case. */
static void expect_grid(const json_t *c, const json_t *got, const char *name)
{
    cr_assert_eq(json_integer_value(json_object_get(got, "count")),
                 json_integer_value(json_object_get(c, "count")), "%s count",
                 name);
    expect_numbers(json_object_get(c, "directions"),
                   json_object_get(got, "directions"), "directions", name);
    expect_numbers(json_object_get(c, "weights"),
                   json_object_get(got, "weights"), "weights", name);
    expect_numbers(json_object_get(c, "wavelengths_m"),
                   json_object_get(got, "wavelengths_m"), "wavelengths_m",
                   name);
    expect_summary(json_object_get(c, "summary"),
                   json_object_get(got, "summary"), name);
}

static void get_ok(const bgt_server *s, const char *path, bgt_response *r)
{
    cr_assert_eq(bgt_request(s, "GET", path, NULL, NULL, 0, r), 0);
    cr_assert_eq(r->status, 200, "GET %.80s: %ld %.300s", path, r->status,
                 r->body);
}

/* Column k of an (N, 5) float64 body laid out column after column from
 * byte `head`, element i. */
static double column(const bgt_response *r, size_t head, size_t n, int k,
                     size_t i)
{
    double v;
    memcpy(&v, r->body + head + ((size_t)k * n + i) * 8, 8);
    return v;
}

/* npy, BGRD and the sourcefile carry the JSON answer's weights and
 * wavelengths, exactly (the text to its 17 digits). */
static void expect_binary_forms(const bgt_server *s, const char *id,
                                const json_t *got, const char *name)
{
    const json_t *w = json_object_get(got, "weights");
    const json_t *l = json_object_get(got, "wavelengths_m");
    size_t n = json_array_size(w);
    const struct {
        const char *q;
        size_t head;
    } forms[] = {{"npy", 128}, {"bin", 64}};
    for (size_t f = 0; f < 2; f++) {
        char path[512];
        bgt_response r;
        snprintf(path, sizeof path, "/v1/sources/%s?format=%s", id, forms[f].q);
        get_ok(s, path, &r);
        cr_assert_eq(r.len, forms[f].head + 40 * n, "%s %s size", name,
                     forms[f].q);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(column(&r, forms[f].head, n, 3, i), num_at(w, i),
                         "%s %s weight %zu", name, forms[f].q, i);
            cr_assert_eq(column(&r, forms[f].head, n, 4, i), num_at(l, i),
                         "%s %s wavelength %zu", name, forms[f].q, i);
        }
        bgt_response_free(&r);
    }
    char path[512];
    bgt_response r;
    snprintf(path, sizeof path, "/v1/sources/%s?format=txt", id);
    get_ok(s, path, &r);
    char *line = r.body;
    for (size_t i = 0; i < n; i++) {
        double x, y, z, wt, lam;
        cr_assert_eq(sscanf(line, "%lf %lf %lf %lf %lf", &x, &y, &z, &wt, &lam),
                     5, "%s txt line %zu", name, i);
        cr_assert_eq(wt, num_at(w, i), "%s txt weight %zu", name, i);
        cr_assert_eq(lam, num_at(l, i), "%s txt wavelength %zu", name, i);
        line = strchr(line, '\n') + 1;
    }
    bgt_response_free(&r);
}

/* ?format=lam: the header line and the line count exactly, numbers to
 * 1e-12. */
static void expect_lam(const char *want, const bgt_response *r,
                       const char *name)
{
    char ct[64];
    cr_assert_str_eq(bgt_header(r, "Content-Type", ct, sizeof ct),
                     "text/plain; charset=utf-8");
    const char *a = want, *b = r->body;
    const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
    cr_assert(ea != NULL && eb != NULL && ea - a == eb - b &&
                  memcmp(a, b, (size_t)(ea - a)) == 0,
              "%s lam header: %.60s", name, b);
    size_t lines = 1;
    for (a = ea + 1, b = eb + 1; *a != '\0'; lines++) {
        double la, wa, lb, wb;
        cr_assert_eq(sscanf(a, "%lf,%lf", &la, &wa), 2);
        cr_assert_eq(sscanf(b, "%lf,%lf", &lb, &wb), 2, "%s lam line %zu", name,
                     lines);
        cr_assert(close_to(lb, la) && close_to(wb, wa),
                  "%s lam line %zu: %.60s", name, lines, b);
        a = strchr(a, '\n') + 1;
        b = strchr(b, '\n');
        cr_assert_not_null(b, "%s lam: too few lines", name);
        b++;
    }
    cr_assert_eq(*b, '\0', "%s lam: too many lines", name);
}

static void expect_dxtbx(const json_t *want, const json_t *got,
                         const char *name)
{
    cr_assert_eq(json_object_size(got), json_object_size(want), "%s keys",
                 name);
    const char *key;
    json_t *w;
    json_object_foreach((json_t *)want, key, w)
    {
        json_t *g = json_object_get(got, key);
        cr_assert_not_null(g, "%s dxtbx.%s missing", name, key);
        if (json_is_string(w))
            cr_assert_str_eq(json_string_value(g), json_string_value(w));
        else if (json_is_array(w))
            expect_numbers(w, g, key, name);
        else if (json_is_object(w)) {
            expect_numbers(json_object_get(w, "energies"),
                           json_object_get(g, "energies"), "energies", name);
            expect_numbers(json_object_get(w, "weights"),
                           json_object_get(g, "weights"), "weights", name);
        } else
            cr_assert(close_to(json_number_value(g), json_number_value(w)),
                      "%s dxtbx.%s %.17g vs %.17g", name, key,
                      json_number_value(g), json_number_value(w));
    }
}

static void post_format(const bgt_server *s, const char *body,
                        const char *format, bgt_response *r)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/sources?format=%s", format);
    cr_assert_eq(bgt_post_json(s, path, body, NULL, r), 0);
    cr_assert_eq(r->status, 200, "%s: %ld %.300s", format, r->status, r->body);
}

/* One golden case on server a; the id answered again by server b. */
static void check_case(const bgt_server *a, const bgt_server *b,
                       const char *path)
{
    json_error_t jerr;
    json_t *c = json_load_file(path, 0, &jerr);
    cr_assert_not_null(c, "%s: %s", path, jerr.text);
    const char *name = strrchr(path, '/') + 1;
    char *body = json_dumps(json_object_get(c, "request"), JSON_COMPACT);
    bgt_response r;
    cr_assert_eq(bgt_post_json(a, "/v1/sources", body, NULL, &r), 0);
    json_t *expect = json_object_get(c, "expect_status");
    if (expect != NULL) {
        char ct[64];
        cr_assert_eq(r.status, json_integer_value(expect), "%s: %ld", name,
                     r.status);
        cr_assert_str_eq(bgt_header(&r, "Content-Type", ct, sizeof ct),
                         "application/problem+json");
        bgt_response_free(&r);
        free(body);
        json_decref(c);
        return;
    }
    cr_assert_eq(r.status, 200, "%s: %ld %.300s", name, r.status, r.body);
    json_t *got = parse(&r);
    expect_grid(c, got, name);
    char id_path[4096];
    snprintf(id_path, sizeof id_path, "/v1/sources/%s",
             json_string_value(json_object_get(got, "id")));
    bgt_response again;
    get_ok(b, id_path, &again);
    json_t *got2 = parse(&again);
    expect_grid(c, got2, name);
    expect_binary_forms(b, json_string_value(json_object_get(got, "id")), got,
                        name);
    json_decref(got2);
    bgt_response_free(&again);
    const json_t *lam = json_object_get(c, "lam");
    if (lam != NULL) {
        bgt_response l;
        post_format(a, body, "lam", &l);
        expect_lam(json_string_value(lam), &l, name);
        bgt_response_free(&l);
    }
    const json_t *dx = json_object_get(c, "dxtbx");
    if (dx != NULL) {
        bgt_response d;
        post_format(a, body, "dxtbx", &d);
        json_t *dg = parse(&d);
        expect_dxtbx(dx, dg, name);
        json_decref(dg);
        bgt_response_free(&d);
    }
    json_decref(got);
    bgt_response_free(&r);
    free(body);
    json_decref(c);
}

static void golden_all(const char *const *flags)
{
    bgt_server a, b;
    cr_assert_eq(bgt_server_start(&a, flags), 0);
    cr_assert_eq(bgt_server_start(&b, flags), 0);
    glob_t gl;
    cr_assert_eq(glob("tests/golden-beams/*.json", 0, NULL, &gl), 0);
    cr_assert_geq(gl.gl_pathc, 10);
    for (size_t i = 0; i < gl.gl_pathc; i++)
        check_case(&a, &b, gl.gl_pathv[i]);
    globfree(&gl);
    cr_assert_eq(bgt_server_stop(&a, 10), 0, "log: %s", a.log_path);
    cr_assert_eq(bgt_server_stop(&b, 10), 0, "log: %s", b.log_path);
}

Test(beams, golden_inline, .timeout = 120)
{
    golden_all(INLINE);
}

Test(beams, golden_streamed, .timeout = 120)
{
    golden_all(POOL);
}

/* ---- bad input: each a status and the field it names ---- */

typedef struct {
    const char *body;
    long status;
    const char *field;
} bad_case;

#define TBL "\"kind\":\"table\""
#define GAU "\"kind\":\"gaussian\""
#define LAM "\"kind\":\"lam\""
#define DQ  "\"kind\":\"gaussian\",\"sampling\":\"quantiles\""

static const bad_case bad[] = {
    /* 5.1 spectrum */
    {"{\"dispersion_percent\":0.1,\"spectrum\":{" TBL
     ",\"lambda_A\":[1],\"weights\":[1]}}",
     422, "spectrum"},
    {"{\"dispsteps\":3,\"spectrum\":{" TBL
     ",\"lambda_A\":[1],\"weights\":[1]}}",
     422, "spectrum"},
    {"{\"dispstep_percent\":0.1,\"spectrum\":{" TBL
     ",\"lambda_A\":[1],\"weights\":[1]}}",
     422, "spectrum"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1,2],\"weights\":[0,0]}}", 422,
     "spectrum.weights"},
    {"{\"spectrum\":{" TBL
     ",\"lambda_A\":[1,2,3],\"weights\":[0,5,0],\"stride\":2}}",
     422, "spectrum.weights"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1,1.1,1.2,1.3],\"weights\":[1,2,3,"
     "-1]}}",
     422, "spectrum.weights[3]"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1,0],\"weights\":[1,1]}}", 422,
     "spectrum.lambda_A[1]"},
    {"{\"spectrum\":{" TBL
     ",\"energy_eV\":[9000,9001,-3],\"weights\":[1,1,1]}}",
     422, "spectrum.energy_eV[2]"},
    {"{\"spectrum\":{" TBL
     ",\"lambda_A\":[1],\"energy_eV\":[9000],\"weights\":[1]}}",
     422, "spectrum.energy_eV"},
    {"{\"spectrum\":{" TBL ",\"weights\":[1]}}", 422, "spectrum.lambda_A"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1]}}", 422, "spectrum.weights"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1,2],\"weights\":[1]}}", 422,
     "spectrum.weights"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[],\"weights\":[]}}", 422,
     "spectrum.lambda_A"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1],\"weights\":[1],\"stride\":0}}",
     422, "spectrum.stride"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1],\"weights\":[1],\"fwhm_eV\":1}}",
     422, "spectrum.fwhm_eV"},
    {"{\"spectrum\":{\"kind\":\"sase\"}}", 422, "spectrum.kind"},
    {"{\"spectrum\":{\"lambda_A\":[1],\"weights\":[1]}}", 422, "spectrum.kind"},
    {"{\"spectrum\":{" LAM "}}", 422, "spectrum.text"},
    {"{\"spectrum\":{" LAM ",\"text\":\"# h\\n1.0,2.0\\n1.1 2.0\\n\"}}", 422,
     "spectrum.text"},
    {"{\"spectrum\":{" LAM ",\"text\":\"# h\\n1.0,2.0\\n# more\\n\"}}", 422,
     "spectrum.text"},
    {"{\"spectrum\":{" LAM ",\"text\":\"# only a header\\n\"}}", 422,
     "spectrum.text"},
    {"{\"spectrum\":{" LAM ",\"text\":\"# h\\n1.0,2.0,3.0\\n\"}}", 422,
     "spectrum.text"},
    {"{\"spectrum\":{" LAM ",\"text\":\"# h\\n1.0,-2.0\\n\"}}", 422,
     "spectrum.text"},
    {"{\"spectrum\":{" GAU ",\"channels\":5,\"channel_eV\":1}}", 422,
     "spectrum.fwhm_eV"},
    {"{\"spectrum\":{" GAU ",\"fwhm_eV\":0,\"channels\":5,\"channel_eV\":1}}",
     422, "spectrum.fwhm_eV"},
    {"{\"spectrum\":{" GAU ",\"fwhm_eV\":-2,\"channels\":5,\"channel_eV\":1}}",
     422, "spectrum.fwhm_eV"},
    {"{\"spectrum\":{" GAU ",\"fwhm_eV\":2,\"channels\":5,\"channel_eV\":0}}",
     422, "spectrum.channel_eV"},
    {"{\"spectrum\":{" GAU ",\"fwhm_eV\":2,\"channels\":5}}", 422,
     "spectrum.channel_eV"},
    {"{\"spectrum\":{" GAU ",\"fwhm_eV\":2,\"channel_eV\":1}}", 422,
     "spectrum.channels"},
    {"{\"spectrum\":{" GAU ",\"fwhm_eV\":2,\"channels\":0,\"channel_eV\":1}}",
     422, "spectrum.channels"},
    {"{\"spectrum\":{" GAU
     ",\"fwhm_eV\":2,\"channels\":10001,\"channel_eV\":1}}",
     422, "spectrum.channels"},
    {"{\"spectrum\":{" GAU ",\"sampling\":\"quantiles\",\"fwhm_eV\":2,"
     "\"channels\":5,\"channel_eV\":1}}",
     422, "spectrum.channel_eV"},
    {"{\"spectrum\":{" GAU ",\"sampling\":\"random\",\"fwhm_eV\":2,"
     "\"channels\":5}}",
     422, "spectrum.sampling"},
    {"{\"energy_eV\":10,\"spectrum\":{" GAU
     ",\"fwhm_eV\":2,\"channels\":20,\"channel_eV\":1}}",
     422, "spectrum.channel_eV"},
    {"{\"spectrum\":{" GAU
     ",\"fwhm_eV\":0.001,\"channels\":2,\"channel_eV\":100}}",
     422, "spectrum.channel_eV"},
    {"{\"energy_eV\":10,\"spectrum\":{" GAU ",\"sampling\":\"quantiles\","
     "\"fwhm_eV\":100,\"channels\":9}}",
     422, "spectrum.fwhm_eV"},
    {"{\"spectrum\":{" GAU ",\"stride\":2,\"fwhm_eV\":2,\"channels\":5,"
     "\"channel_eV\":1}}",
     422, "spectrum.stride"},
    /* 5.2 divergence profile */
    {"{\"divergence_profile\":{\"kind\":\"gaussian\",\"sigma_v_mrad\":1}}", 422,
     "divergence_profile.sigma_h_mrad"},
    {"{\"divergence_profile\":{\"kind\":\"gaussian\",\"sigma_h_mrad\":1,"
     "\"sigma_v_mrad\":0}}",
     422, "divergence_profile.sigma_v_mrad"},
    {"{\"divergence_profile\":{\"kind\":\"lorentzian\"}}", 422,
     "divergence_profile.kind"},
    {"{\"divergence_profile\":{\"sigma_h_mrad\":1}}", 422,
     "divergence_profile.kind"},
    {"{\"divergence_profile\":{\"kind\":\"gaussian\",\"sampling\":\"x\"}}", 422,
     "divergence_profile.sampling"},
    {"{\"divergence_profile\":{\"kind\":\"flat\",\"sigma_h_mrad\":1}}", 422,
     "divergence_profile.sigma_h_mrad"},
    {"{\"divergence_mrad\":0.2,\"divsteps\":3,\"divergence_profile\":{" DQ
     ",\"sigma_h_mrad\":1,\"sigma_v_mrad\":1}}",
     422, "divergence_mrad"},
    {"{\"hdivrange_mrad\":0.2,\"divergence_profile\":{" DQ
     ",\"sigma_h_mrad\":1,\"sigma_v_mrad\":1}}",
     422, "hdivrange_mrad"},
    {"{\"vdivstep_mrad\":0.2,\"divergence_profile\":{" DQ
     ",\"sigma_h_mrad\":1,\"sigma_v_mrad\":1}}",
     422, "vdivstep_mrad"},
    {"{\"divergence_mrad\":10,\"divsteps\":2,\"divergence_profile\":{"
     "\"kind\":\"gaussian\",\"sigma_h_mrad\":1e-6,\"sigma_v_mrad\":1e-6}}",
     422, "divergence_profile.sigma_h_mrad"},
    /* 5.3 weights, and hc */
    {"{\"weights\":{\"normalize\":\"max\"}}", 422, "weights.normalize"},
    {"{\"weights\":{\"normalize\":\"mean\",\"total_flux\":2}}", 422,
     "weights.total_flux"},
    {"{\"weights\":{\"normalize\":\"none\",\"total_flux\":2}}", 422,
     "weights.total_flux"},
    {"{\"weights\":{\"total_flux\":0}}", 422, "weights.total_flux"},
    {"{\"weights\":{\"total_flux\":-1}}", 422, "weights.total_flux"},
    {"{\"hc_eV_A\":0}", 422, "hc_eV_A"},
    {"{\"hc_eV_A\":-12398}", 422, "hc_eV_A"},
    /* wrong types and unknown fields: 400 */
    {"{\"spectrum\":[1,2]}", 400, "spectrum"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1],\"weights\":7}}", 400,
     "spectrum.weights"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1,2,3],\"weights\":[1,2,\"3\"]}}",
     400, "spectrum.weights[2]"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1],\"weights\":[1],\"color\":1}}",
     400, "spectrum.color"},
    {"{\"spectrum\":{\"kind\":3}}", 400, "spectrum.kind"},
    {"{\"spectrum\":{" TBL ",\"lambda_A\":[1],\"weights\":[1],\"stride\":1.5}}",
     400, "spectrum.stride"},
    {"{\"spectrum\":{" LAM ",\"text\":12}}", 400, "spectrum.text"},
    {"{\"divergence_profile\":{\"kind\":\"gaussian\",\"sigma\":1}}", 400,
     "divergence_profile.sigma"},
    {"{\"divergence_profile\":{\"kind\":\"gaussian\",\"sigma_h_mrad\":\"1\"}}",
     400, "divergence_profile.sigma_h_mrad"},
    {"{\"weights\":{\"total\":1}}", 400, "weights.total"},
    {"{\"weights\":{\"total_flux\":\"1\"}}", 400, "weights.total_flux"},
    {"{\"weights\":\"sum\"}", 400, "weights"},
    {"{\"hc_eV_A\":\"12398\"}", 400, "hc_eV_A"},
};

Test(beams, bad_input_names_the_field, .timeout = 60)
{
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bgt_response r;
        cr_assert_eq(bgt_post_json(&s, "/v1/sources", bad[i].body, NULL, &r),
                     0);
        cr_assert_eq(r.status, bad[i].status, "%s -> %ld %s", bad[i].body,
                     r.status, r.body);
        json_t *p = parse(&r);
        const char *field = json_string_value(json_object_get(p, "field"));
        cr_assert(field != NULL && strcmp(field, bad[i].field) == 0,
                  "%s: field %s, want %s", bad[i].body, field ? field : "-",
                  bad[i].field);
        json_decref(p);
        bgt_response_free(&r);
    }
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

/* ---- long tables ---- */

/* A table of n entries: lambda 1.29 + k*3.3333e-5 rounded to 9 digits and
 * pseudo-random weights of 6 digits (a measured spectrum's shape), with
 * `extra` members appended inside the spectrum object. */
static char *table_body(size_t n, const char *extra)
{
    size_t cap = 64 + n * 48 + strlen(extra);
    char *b = malloc(cap), *p = b;
    p += sprintf(p, "{\"spectrum\":{\"kind\":\"table\",\"lambda_A\":[");
    for (size_t k = 0; k < n; k++)
        p += sprintf(p, "%s%.9g", k ? "," : "", 1.29 + (double)k * 3.3333e-5);
    p += sprintf(p, "],\"weights\":[");
    uint64_t x = 88172645463325252u;
    for (size_t k = 0; k < n; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p += sprintf(p, "%s%.6g", k ? "," : "", (double)(x % 1000000) / 1e3);
    }
    sprintf(p, "]%s}}", extra);
    return b;
}

/* 1,000 channels: POSTed on one server, its id answered by another. */
Test(beams, thousand_channel_table_by_id, .timeout = 60)
{
    bgt_server a, b;
    cr_assert_eq(bgt_server_start(&a, NULL), 0);
    cr_assert_eq(bgt_server_start(&b, NULL), 0);
    char *body = table_body(1000, "");
    bgt_response r, g;
    cr_assert_eq(bgt_post_json(&a, "/v1/sources", body, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%ld %.300s", r.status, r.body);
    json_t *j = parse(&r);
    const char *id = json_string_value(json_object_get(j, "id"));
    cr_assert_gt(strlen(id), 4000, "a 1,000-channel id is long: %zu",
                 strlen(id));
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(j, "summary"), "channels")),
                 1000);
    char loc[32768], want[32768];
    snprintf(want, sizeof want, "/v1/sources/%s", id);
    cr_assert_not_null(bgt_header(&r, "Content-Location", loc, sizeof loc));
    cr_assert_str_eq(loc, want);
    get_ok(&b, loc, &g);
    cr_assert_eq(g.len, r.len);
    cr_assert(memcmp(g.body, r.body, r.len) == 0, "same answer on b");
    json_decref(j);
    bgt_response_free(&r);
    bgt_response_free(&g);
    free(body);
    cr_assert_eq(bgt_server_stop(&a, 10), 0, "log: %s", a.log_path);
    cr_assert_eq(bgt_server_stop(&b, 10), 0, "log: %s", b.log_path);
}

/* 10,000 entries fit the default body limit; the id of all of them is
 * longer than the default header memory passes (a clear 422 naming
 * spectrum), with stride 10 it is served; 10,001 entries are a 422. */
Test(beams, ten_thousand_entry_table, .timeout = 60)
{
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    char *full = table_body(10000, "");
    char *strided = table_body(10000, ",\"stride\":10");
    char *over = table_body(10001, "");
    cr_assert_gt(strlen(full), 64 * 1024, "more than the old 64 KiB");
    bgt_response r;
    cr_assert_eq(bgt_post_json(&s, "/v1/sources?format=lam", full, NULL, &r),
                 0);
    cr_assert_eq(r.status, 422, "%ld %.300s", r.status, r.body);
    cr_assert(strstr(r.body, "id-too-long") != NULL &&
                  strstr(r.body, "\"field\":\"spectrum\"") != NULL,
              "%s", r.body);
    bgt_response_free(&r);
    cr_assert_eq(bgt_post_json(&s, "/v1/sources?format=lam", strided, NULL, &r),
                 0);
    cr_assert_eq(r.status, 200, "%ld %.300s", r.status, r.body);
    size_t lines = 0;
    for (const char *p = r.body; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 1001, "header and 1,000 channels");
    bgt_response_free(&r);
    cr_assert_eq(bgt_post_json(&s, "/v1/sources", over, NULL, &r), 0);
    cr_assert_eq(r.status, 422);
    cr_assert(strstr(r.body, "\"field\":\"spectrum.lambda_A\"") != NULL);
    bgt_response_free(&r);
    free(full);
    free(strided);
    free(over);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

/* A spectrum with 10,000 channels (a Gaussian: its id is short) is
 * served, and nothing of docs/beams.md given is nanoBragg's 1/N. */
Test(beams, ten_thousand_gaussian_channels, .timeout = 60)
{
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    bgt_response r;
    cr_assert_eq(
        bgt_post_json(&s, "/v1/sources?format=lam",
                      "{\"energy_eV\":9000,\"spectrum\":{\"kind\":\"gaussian\","
                      "\"fwhm_eV\":20,\"channels\":10000,\"channel_eV\":0.01}}",
                      NULL, &r),
        0);
    cr_assert_eq(r.status, 200, "%ld %.300s", r.status, r.body);
    size_t lines = 0;
    for (const char *p = r.body; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 10001);
    bgt_response_free(&r);
    cr_assert_eq(bgt_post_json(&s, "/v1/sources",
                               "{\"divergence_mrad\":0.5,\"divsteps\":5}", NULL,
                               &r),
                 0);
    json_t *j = parse(&r);
    size_t n = (size_t)json_integer_value(json_object_get(j, "count"));
    json_t *w = json_object_get(j, "weights");
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(num_at(w, i), 1.0 / (double)n);
    json_decref(j);
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

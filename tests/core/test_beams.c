/* test_beams.c - the beam models of docs/beams.md in the core: every case
 * of tests/golden-beams/ through the request parser, bg_resolve,
 * bg_grid_count and bg_grid_fill (counts exact; directions, positions,
 * weights, wavelengths, channels and summary within 1e-12 relative, 1e-15
 * absolute near zero), and erfinv against scipy's values
 * (tests/core/erfinv_values.txt, made by tests/core/gen_erfinv.py). */
#include <criterion/criterion.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/problem.h"
#include "api/request.h"
#include "core/beam.h"
#include "core/grid.h"
#include "core/resolve.h"

#define REL 1e-12
#define ABS 1e-15

static bool close_to(double got, double want)
{
    return fabs(got - want) <= REL * fabs(want) || fabs(got - want) <= ABS;
}

/* Resolve the request object of a case (through the real parser). Returns
 * 0 with *r filled, or the HTTP status the server would give. */
static int resolve_request(const json_t *req, bg_resolved *r)
{
    char *body = json_dumps(req, JSON_COMPACT);
    cr_assert_not_null(body);
    bg_params p;
    bgapi_problem prob;
    int rc = bgapi_parse_params(body, strlen(body), &p, &prob);
    free(body);
    if (rc != 0)
        return prob.status;
    bg_error err;
    bg_status s = bg_resolve(&p, r, &err);
    bg_params_free(&p);
    if (s != BG_OK) {
        bgapi_problem_from_core(&prob, &err);
        return prob.status;
    }
    return 0;
}

static void expect_array(const json_t *a, const double *got, size_t n,
                         const char *what, const char *name)
{
    cr_assert_eq(json_array_size(a), n, "%s %s: %zu entries, want %zu", name,
                 what, n, json_array_size(a));
    for (size_t i = 0; i < n; i++) {
        double want = json_number_value(json_array_get(a, i));
        cr_assert(close_to(got[i], want), "%s %s[%zu]: %.17g vs %.17g", name,
                  what, i, got[i], want);
    }
}

static void expect_rows(const json_t *a, const double *x, const double *y,
                        const double *z, size_t n, const char *what,
                        const char *name)
{
    cr_assert_eq(json_array_size(a), n);
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_array_get(a, i);
        double got[3] = {x[i], y[i], z[i]};
        for (size_t k = 0; k < 3; k++) {
            double want = json_number_value(json_array_get(row, k));
            cr_assert(close_to(got[k], want), "%s %s[%zu][%zu]: %.17g vs %.17g",
                      name, what, i, k, got[k], want);
        }
    }
}

static void check_channels(const json_t *c, const bg_resolved *r,
                           const char *name)
{
    bg_channels ch;
    cr_assert_eq(bg_channels_make(r, &ch), BG_OK);
    double *w = malloc((size_t)ch.n * sizeof *w);
    bg_channels_normalized(r, &ch, w);
    expect_array(json_object_get(c, "lambda_A"), ch.lambda_A, (size_t)ch.n,
                 "channels.lambda_A", name);
    expect_array(json_object_get(c, "energy_eV"), ch.energy_eV, (size_t)ch.n,
                 "channels.energy_eV", name);
    expect_array(json_object_get(c, "weights"), w, (size_t)ch.n,
                 "channels.weights", name);
    free(w);
    bg_channels_free(&ch);
}

static void check_summary(const json_t *s, const bg_grid *g, const char *name)
{
    bg_summary got;
    bg_summary_of(g, &got);
    cr_assert_eq(got.count, json_integer_value(json_object_get(s, "count")));
    cr_assert_eq(got.points,
                 json_integer_value(json_object_get(s, "divergence_points")));
    cr_assert_eq(got.channels,
                 json_integer_value(json_object_get(s, "channels")));
    const struct {
        double got;
        const char *key;
    } v[] = {{got.weight_sum, "weight_sum"},
             {got.mean_wavelength_A, "mean_wavelength_A"},
             {got.min_wavelength_A, "min_wavelength_A"},
             {got.max_wavelength_A, "max_wavelength_A"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        double want = json_number_value(json_object_get(s, v[i].key));
        cr_assert(close_to(v[i].got, want), "%s summary.%s: %.17g vs %.17g",
                  name, v[i].key, v[i].got, want);
    }
}

static void run_case(const char *path)
{
    json_error_t jerr;
    json_t *c = json_load_file(path, 0, &jerr);
    cr_assert_not_null(c, "cannot load %s: %s", path, jerr.text);
    const char *name = strrchr(path, '/') + 1;
    bg_resolved r;
    int status = resolve_request(json_object_get(c, "request"), &r);
    json_t *expect = json_object_get(c, "expect_status");
    if (expect != NULL) {
        cr_assert_eq(status, json_integer_value(expect), "%s: status %d", name,
                     status);
        json_decref(c);
        return;
    }
    cr_assert_eq(status, 0, "%s: status %d", name, status);
    uint64_t count, points;
    bg_error err;
    cr_assert_eq(bg_grid_count(&r, 20000000, &count, &points, &err), BG_OK,
                 "%s: %s", name, err.detail);
    cr_assert_eq(count, json_integer_value(json_object_get(c, "count")),
                 "%s count %llu", name, (unsigned long long)count);
    for (int threads = 1; threads <= 2; threads++) {
        bg_grid g;
        cr_assert_eq(bg_grid_alloc(&g, count, BG_F64, BG_GRID_POSITIONS),
                     BG_OK);
        cr_assert_eq(bg_grid_fill(&r, &g, threads), BG_OK);
        expect_rows(json_object_get(c, "directions"), g.x, g.y, g.z, count,
                    "directions", name);
        if (json_object_get(c, "positions_m") != NULL)
            expect_rows(json_object_get(c, "positions_m"), g.px, g.py, g.pz,
                        count, "positions_m", name);
        expect_array(json_object_get(c, "weights"), g.weight, count, "weights",
                     name);
        expect_array(json_object_get(c, "wavelengths_m"), g.lambda, count,
                     "wavelengths_m", name);
        check_summary(json_object_get(c, "summary"), &g, name);
        bg_grid_free(&g);
    }
    check_channels(json_object_get(c, "channels"), &r, name);
    bg_resolved_free(&r);
    json_decref(c);
}

Test(beams, golden_cases)
{
    glob_t gl;
    cr_assert_eq(glob("tests/golden-beams/*.json", 0, NULL, &gl), 0);
    cr_assert_geq(gl.gl_pathc, 10);
    for (size_t i = 0; i < gl.gl_pathc; i++)
        run_case(gl.gl_pathv[i]);
    globfree(&gl);
}

/* bg_erfinv against scipy.special.erfinv (values as hex floats): within 2
 * ulp everywhere, towards +-1 and 0 included. */
Test(beams, erfinv_matches_scipy)
{
    FILE *f = fopen("tests/core/erfinv_values.txt", "r");
    cr_assert_not_null(f);
    char xs[64], ys[64];
    int n = 0, worst_ulp = 0;
    while (fscanf(f, "%63s %63s", xs, ys) == 2) {
        double x = strtod(xs, NULL), want = strtod(ys, NULL);
        double got = bg_erfinv(x);
        double ulp = nextafter(fabs(want), INFINITY) - fabs(want);
        double off = fabs(got - want) / ulp;
        cr_assert(off <= 2.0, "erfinv(%a) = %.17g, scipy %.17g (%g ulp)", x,
                  got, want, off);
        if (off > worst_ulp)
            worst_ulp = (int)off;
        n++;
    }
    fclose(f);
    cr_assert_gt(n, 2000);
    cr_assert(isinf(bg_erfinv(1.0)) && bg_erfinv(1.0) > 0);
    cr_assert(isinf(bg_erfinv(-1.0)) && bg_erfinv(-1.0) < 0);
    cr_assert(isnan(bg_erfinv(1.5)) && isnan(bg_erfinv(NAN)));
    cr_assert_eq(bg_erfinv(0.0), 0.0);
}

/* numpy's pairwise sum: exact on integers, and its block order (a sum that
 * a left-to-right loop rounds differently). */
Test(beams, pairwise_sum)
{
    double a[20000];
    for (int i = 0; i < 20000; i++)
        a[i] = (double)(i % 7);
    double want = 0;
    for (int i = 0; i < 20000; i++)
        want += a[i];
    cr_assert_eq(bg_pairwise_sum(a, 20000), want);
    cr_assert_eq(bg_pairwise_sum(a, 0), 0.0);
    double b[9] = {1e16, 1, 1, 1, 1, 1, 1, 1, 1};
    /* r[0] = 1e16 + 1 (rounds to 1e16), then the tree: 1e16 + 7 + 1 */
    cr_assert_eq(bg_pairwise_sum(b, 9), 1e16 + 8.0);
}

/* Resolve a request text, fill its grid; the caller frees both. */
static void grid_of(const char *body, bg_resolved *r, bg_grid *g)
{
    json_t *req = json_loads(body, 0, NULL);
    cr_assert_not_null(req, "%s", body);
    cr_assert_eq(resolve_request(req, r), 0, "%s", body);
    json_decref(req);
    uint64_t count;
    cr_assert_eq(bg_grid_count(r, 20000000, &count, NULL, NULL), BG_OK);
    cr_assert_eq(bg_grid_alloc(g, count, BG_F64, 0), BG_OK);
    cr_assert_eq(bg_grid_fill(r, g, 1), BG_OK);
}

/* Quantile divergence with no count on an axis: count 1 there, at angle
 * 0; the other axis at sigma*sqrt(2)*erfinv(2(i+0.5)/n - 1), no trim. */
Test(beams, quantile_divergence_counts)
{
    bg_resolved r;
    bg_grid g;
    grid_of("{\"hdivsteps\":3,\"divergence_profile\":{\"kind\":\"gaussian\","
            "\"sampling\":\"quantiles\",\"sigma_h_mrad\":0.1,"
            "\"sigma_v_mrad\":0.1}}",
            &r, &g);
    cr_assert_eq(g.count, 3);
    cr_assert_eq(r.vdiv.count, 1);
    const double *x = g.x, *y = g.y, *z = g.z, *w = g.weight;
    cr_assert_eq(x[1], -1.0, "the middle point is the beam");
    cr_assert_eq(y[1], 0.0);
    cr_assert_eq(z[1], 0.0);
    double h0 = bg_quantile(0.0001, 0, 3);
    cr_assert(
        close_to(h0, 0.0001 * sqrt(2.0) * -0.6840703496566226)); /* scipy */
    cr_assert(close_to(z[0], -sin(h0)), "%.17g vs %.17g", z[0], -sin(h0));
    for (int i = 0; i < 3; i++)
        cr_assert_eq(w[i], 1.0 / 3.0);
    bg_grid_free(&g);
    bg_resolved_free(&r);
}

/* A stride longer than the table keeps its first channel. */
Test(beams, stride_past_the_table)
{
    bg_resolved r;
    bg_grid g;
    grid_of("{\"spectrum\":{\"kind\":\"table\",\"lambda_A\":[1.5,1.6,1.7],"
            "\"weights\":[2,3,4],\"stride\":10}}",
            &r, &g);
    cr_assert_eq(g.count, 1);
    cr_assert_eq(((double *)g.lambda)[0], 1.5 / 1.0e10);
    cr_assert_eq(((double *)g.weight)[0], 1.0);
    bg_grid_free(&g);
    bg_resolved_free(&r);
}

/* weights.normalize: sum scales to total_flux, mean to a mean of 1, none
 * keeps the raw weights; with nothing of the models given it is 1/N. */
Test(beams, normalize_modes)
{
    const char *base = "{\"divergence_mrad\":0.3,\"divsteps\":5,\"dispersion_"
                       "percent\":0.2,\"dispsteps\":3,\"divergence_profile\":"
                       "{\"kind\":\"gaussian\",\"sigma_h_mrad\":0.1,"
                       "\"sigma_v_mrad\":0.2},\"weights\":";
    const char *modes[] = {"{\"total_flux\":1e12}", "{\"normalize\":\"mean\"}",
                           "{\"normalize\":\"none\"}"};
    for (int m = 0; m < 3; m++) {
        char body[512];
        snprintf(body, sizeof body, "%s%s}", base, modes[m]);
        bg_resolved r;
        bg_grid g;
        grid_of(body, &r, &g);
        double sum = bg_pairwise_sum(g.weight, g.count);
        const double *w = g.weight;
        if (m == 0)
            cr_assert(close_to(sum, 1e12), "sum %.17g", sum);
        if (m == 1)
            cr_assert(close_to(sum / (double)g.count, 1.0), "mean");
        if (m == 2) /* the central point, h = v = 0, has raw weight 1 */
            cr_assert_eq(w[g.count / 2], 1.0);
        bg_grid_free(&g);
        bg_resolved_free(&r);
    }
    bg_resolved r;
    bg_grid g;
    grid_of("{\"divergence_mrad\":0.3,\"divsteps\":5,\"dispsteps\":3,"
            "\"dispersion_percent\":0.1}",
            &r, &g);
    cr_assert(!bg_resolved_has_models(&r));
    for (uint64_t i = 0; i < g.count; i++)
        cr_assert_eq(((double *)g.weight)[i], 1.0 / (double)g.count);
    bg_grid_free(&g);
    bg_resolved_free(&r);
}

/* hc_eV_A converts energy_eV too: lambda0 = (hc / E) / 1e10. */
Test(beams, hc_converts_energy)
{
    bg_resolved r;
    bg_grid g;
    grid_of("{\"energy_eV\":9000,\"hc_eV_A\":12398.419843320027}", &r, &g);
    cr_assert_eq(r.lambda0_m, (12398.419843320027 / 9000.0) / 1.0e10);
    cr_assert_eq(((double *)g.lambda)[0], r.lambda0_m);
    bg_grid_free(&g);
    bg_resolved_free(&r);
}

/* bg_resolved_copy is deep: freeing the original leaves the copy whole. */
Test(beams, resolved_copy_owns_its_table)
{
    bg_resolved r, c;
    bg_grid g;
    grid_of("{\"spectrum\":{\"kind\":\"table\",\"energy_eV\":[9000,9010],"
            "\"weights\":[1,3]}}",
            &r, &g);
    cr_assert_eq(bg_resolved_copy(&c, &r), BG_OK);
    cr_assert_neq(c.spectrum.values, r.spectrum.values);
    bg_resolved_free(&r);
    cr_assert_eq(c.spectrum.values[1], 9010.0);
    cr_assert_eq(c.spectrum.weights[1], 3.0);
    bg_resolved_free(&c);
    bg_resolved_free(&c); /* idempotent */
    bg_grid_free(&g);
}

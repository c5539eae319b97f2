/* test_torch.c - the PyTorch port's semantics in the core (core/torch.h,
 * docs/torch.md): every tests/golden-torch case (computed by the port
 * itself) through bg_resolve, bg_grid_count and bg_grid_fill, with counts,
 * weights and wavelengths exact and directions within 1e-12 (float64) or
 * 4 x 2^-24 (float32) absolute; the two anchors' counts in both dtypes;
 * one test per row of docs/torch.md's edge-case table; the refusals; and
 * output independent of the thread count. */
#include <criterion/criterion.h>
#include <glob.h>
#include <math.h>
#include <string.h>

#include "core/grid.h"
#include "core/resolve.h"
#include "core/torch.h"
#include "tests/support/golden_torch.h"

#define BIG_LIMIT UINT64_C(100000000)

static bg_params torch_params(bg_dtype dt)
{
    bg_params p;
    bg_params_init(&p);
    p.semantics = BG_SEM_TORCH;
    p.dtype = dt;
    return p;
}

/* Resolve, count and fill *p into *g (columns of out_dt). */
static void make_grid(const bg_params *p, bg_resolved *r, bg_grid *g,
                      bg_dtype out_dt, int threads)
{
    bg_error err = {0};
    uint64_t n = 0;
    cr_assert_eq(bg_resolve(p, r, &err), BG_OK, "%s: %s", err.field,
                 err.detail);
    cr_assert_eq(bg_grid_count(r, BIG_LIMIT, &n, NULL, &err), BG_OK, "%s",
                 err.detail);
    cr_assert_eq(bg_grid_alloc(g, n, out_dt, 0), BG_OK);
    cr_assert_eq(bg_grid_fill(r, g, threads), BG_OK);
}

static double at(const bg_grid *g, const void *col, uint64_t i)
{
    return g->dtype == BG_F32 ? (double)((const float *)col)[i]
                              : ((const double *)col)[i];
}

static void check_axis(const char *name, const char *what, const bg_axis *got,
                       const bg_axis *want)
{
    cr_expect_eq(got->count, want->count, "%s %s count %lld vs %lld", name,
                 what, (long long)got->count, (long long)want->count);
    cr_expect(got->range == want->range, "%s %s range %.17g vs %.17g", name,
              what, got->range, want->range);
    cr_expect(got->step == want->step, "%s %s step %.17g vs %.17g", name, what,
              got->step, want->step);
}

static void check_case_grid(const gt_case *c, const bg_grid *g)
{
    double tol = c->dtype == BG_F32 ? GT_TOL_F32 : GT_TOL_F64;
    cr_assert_eq(g->count, c->count, "%s count %llu vs %llu", c->name,
                 (unsigned long long)g->count, (unsigned long long)c->count);
    for (uint64_t i = 0; i < c->count; i++) {
        double d[3] = {at(g, g->x, i), at(g, g->y, i), at(g, g->z, i)};
        for (int k = 0; k < 3; k++)
            cr_assert(fabs(d[k] - c->dir[3 * i + (uint64_t)k]) <= tol,
                      "%s source %llu direction[%d]: %.17g vs %.17g", c->name,
                      (unsigned long long)i, k, d[k],
                      c->dir[3 * i + (uint64_t)k]);
        cr_assert(at(g, g->weight, i) == c->weight[i], "%s weight %llu",
                  c->name, (unsigned long long)i);
        cr_assert(at(g, g->lambda, i) == c->lambda[i],
                  "%s source %llu wavelength %.17g vs %.17g", c->name,
                  (unsigned long long)i, at(g, g->lambda, i), c->lambda[i]);
    }
}

static void run_case(const char *path)
{
    gt_case c;
    cr_assert_eq(gt_load(path, &c), 0, "cannot load %s", path);
    bg_resolved r;
    bg_grid g;
    /* as the server holds it (float64 columns) and in the case's dtype */
    const bg_dtype outs[2] = {BG_F64, c.dtype};
    for (int o = 0; o < 2; o++) {
        make_grid(&c.params, &r, &g, outs[o], 1);
        check_axis(c.name, "hdiv", &r.hdiv, &c.hdiv);
        check_axis(c.name, "vdiv", &r.vdiv, &c.vdiv);
        check_axis(c.name, "disp", &r.disp, &c.disp);
        cr_expect(r.lambda0_m == c.lambda0_m, "%s lambda0 %.17g vs %.17g",
                  c.name, r.lambda0_m, c.lambda0_m);
        cr_expect(memcmp(r.beam, c.beam, sizeof r.beam) == 0, "%s beam",
                  c.name);
        cr_expect(r.polar[0] == c.polar[0] && r.polar[1] == c.polar[1] &&
                      r.polar[2] == c.polar[2],
                  "%s polar", c.name);
        check_case_grid(&c, &g);
        bg_grid_free(&g);
    }
    gt_free(&c);
}

Test(torch, every_golden_case)
{
    glob_t gl;
    cr_assert_eq(glob("tests/golden-torch/*.json", 0, NULL, &gl), 0,
                 "no golden-torch cases (run from the repository root)");
    cr_expect_eq(gl.gl_pathc, 10);
    for (size_t i = 0; i < gl.gl_pathc; i++)
        run_case(gl.gl_pathv[i]);
    globfree(&gl);
}

/* The port's counts for the two anchors (tests/golden-torch/README.md). */
static uint64_t anchor_count(int n, double div, int d, bg_dtype dt)
{
    bg_params p = torch_params(dt);
    p.hdivsteps = p.vdivsteps = (bg_opt_count){true, n};
    p.divergence_mrad = (bg_opt_real){true, div};
    p.dispersion_percent = (bg_opt_real){true, 0.2};
    p.dispsteps = (bg_opt_count){true, d};
    bg_resolved r;
    uint64_t count = 0;
    cr_assert_eq(bg_resolve(&p, &r, NULL), BG_OK);
    cr_assert_eq(bg_grid_count(&r, BIG_LIMIT, &count, NULL, NULL), BG_OK);
    return count;
}

Test(torch, anchor_counts_differ_by_dtype)
{
    cr_expect_eq(anchor_count(25, 0.24, 9, BG_F32), 3969);
    cr_expect_eq(anchor_count(25, 0.24, 9, BG_F64), 3951);
    cr_expect_eq(anchor_count(51, 0.5, 21, BG_F32), 41181);
    cr_expect_eq(anchor_count(51, 0.5, 21, BG_F64), 40929);
}

/* The 25-step middle angle is 1.36e-20, not 0: it must not rotate, so the
 * central source is -beam exactly, in both dtypes. */
Test(torch, tiny_angle_is_not_rotated)
{
    for (int t = 0; t < 2; t++) {
        bg_params p = torch_params(t ? BG_F64 : BG_F32);
        p.hdivsteps = p.vdivsteps = (bg_opt_count){true, 25};
        p.divergence_mrad = (bg_opt_real){true, 0.24};
        bg_resolved r;
        bg_grid g;
        make_grid(&p, &r, &g, BG_F64, 1);
        double mid = -0.00012 + 12 * 1e-05;
        cr_assert(mid != 0.0);
        int found = 0;
        for (uint64_t i = 0; i < g.count; i++) {
            const double *x = g.x, *y = g.y, *z = g.z;
            if (x[i] == -1.0 && y[i] == 0.0 && z[i] == 0.0)
                found++;
        }
        cr_expect_eq(found, 1, "dtype %d: central source -beam exactly", t);
        bg_grid_free(&g);
    }
}

/* Threads change nothing, bit for bit (51 x 51 x 21 is parallel). */
Test(torch, thread_count_does_not_matter)
{
    for (int t = 0; t < 2; t++) {
        bg_params p = torch_params(t ? BG_F64 : BG_F32);
        p.hdivsteps = p.vdivsteps = (bg_opt_count){true, 51};
        p.divergence_mrad = (bg_opt_real){true, 0.5};
        p.dispersion_percent = (bg_opt_real){true, 0.2};
        p.dispsteps = (bg_opt_count){true, 21};
        bg_resolved r;
        bg_grid a, b, c;
        make_grid(&p, &r, &a, p.dtype, 1);
        make_grid(&p, &r, &b, p.dtype, 2);
        make_grid(&p, &r, &c, p.dtype, 3);
        size_t bytes = (size_t)a.count * 5 * (t ? 8 : 4);
        cr_expect(a.count > 16384);
        cr_expect_eq(memcmp(a.x, b.x, bytes), 0);
        cr_expect_eq(memcmp(a.x, c.x, bytes), 0);
        bg_grid_free(&a);
        bg_grid_free(&b);
        bg_grid_free(&c);
    }
}

/* ---- docs/torch.md's edge-case table, one test a row ---- */

/* Resolve and fill p in float64 columns; returns the grid. */
static void edge(const bg_params *p, bg_resolved *r, bg_grid *g)
{
    make_grid(p, r, g, BG_F64, 1);
}

static void expect_dir(const bg_grid *g, uint64_t i, double x, double y,
                       double z, double tol)
{
    const double *gx = g->x, *gy = g->y, *gz = g->z;
    cr_expect(fabs(gx[i] - x) <= tol && fabs(gy[i] - y) <= tol &&
                  fabs(gz[i] - z) <= tol,
              "source %llu: (%.17g, %.17g, %.17g) vs (%g, %g, %g)",
              (unsigned long long)i, gx[i], gy[i], gz[i], x, y, z);
}

Test(torch_edge, nothing_is_one_source_at_minus_beam)
{
    bg_params p = torch_params(BG_F64);
    bg_resolved r;
    bg_grid g;
    edge(&p, &r, &g);
    cr_assert_eq(g.count, 1);
    cr_expect_eq(g.points, 1);
    expect_dir(&g, 0, -1, 0, 0, 0);
    cr_expect(((double *)g.weight)[0] == 1.0);
    cr_expect(((double *)g.lambda)[0] == 1e-10);
    bg_grid_free(&g);
}

Test(torch_edge, divsteps_alone_is_ignored)
{
    bg_params p = torch_params(BG_F64);
    p.divsteps = (bg_opt_count){true, 25};
    bg_resolved r;
    bg_grid g;
    edge(&p, &r, &g);
    cr_expect_eq(g.count, 1);
    cr_expect_eq(r.hdiv.count, 1);
    cr_expect_eq(r.vdiv.count, 1);
    cr_expect(r.ignored & BG_IGNORED_DIVSTEPS);
    expect_dir(&g, 0, -1, 0, 0, 0);
    bg_grid_free(&g);
}

Test(torch_edge, divsteps_with_divergence_falls_back_to_plus_z)
{
    for (int t = 0; t < 2; t++) {
        bg_params p = torch_params(t ? BG_F64 : BG_F32);
        p.divsteps = (bg_opt_count){true, 25};
        p.divergence_mrad = (bg_opt_real){true, 0.5};
        p.lambda_A = (bg_opt_real){true, 1.5};
        bg_resolved r;
        bg_grid g;
        edge(&p, &r, &g);
        cr_expect_eq(r.hdiv.count, 2);
        cr_expect(r.hdiv.range == 0.5 * 0.001 && r.hdiv.step == r.hdiv.range);
        cr_assert_eq(g.count, 1);
        cr_expect_eq(g.points, 0, "the fallback has no divergence point");
        expect_dir(&g, 0, 0, 0, 1, 0);
        cr_expect(((double *)g.weight)[0] == 1.0);
        double want = t ? 1.5 * 1e-10 : (double)(float)(1.5 * 1e-10);
        cr_expect(((double *)g.lambda)[0] == want);
        bg_grid_free(&g);
    }
}

Test(torch_edge, hdivsteps_one_alone_is_two_angles_half_a_radian)
{
    bg_params p = torch_params(BG_F64);
    p.hdivsteps = (bg_opt_count){true, 1};
    bg_resolved r;
    bg_grid g;
    edge(&p, &r, &g);
    cr_assert_eq(g.count, 2);
    cr_expect(r.hdiv.range == 1.0 && r.hdiv.step == 1.0);
    /* MOSFLM closed form: (-cos v cos h, -sin v, -cos v sin h), v = 0 */
    expect_dir(&g, 0, -cos(-0.5), 0, -sin(-0.5), 1e-15);
    expect_dir(&g, 1, -cos(0.5), 0, -sin(0.5), 1e-15);
    bg_grid_free(&g);
}

Test(torch_edge, count_one_with_range_is_one_angle_zero)
{
    bg_params p = torch_params(BG_F32);
    p.hdivsteps = (bg_opt_count){true, 1};
    p.hdivrange_mrad = (bg_opt_real){true, 0.3};
    bg_resolved r;
    bg_grid g;
    edge(&p, &r, &g);
    cr_expect_eq(r.hdiv.count, 1);
    cr_expect(r.hdiv.range == 0.3 * 0.001);
    cr_assert_eq(g.count, 1);
    expect_dir(&g, 0, -1, 0, 0, 0);
    bg_grid_free(&g);
}

Test(torch_edge, zero_range_with_counts_duplicates_angle_zero)
{
    bg_params p = torch_params(BG_F64);
    p.hdivsteps = p.vdivsteps = (bg_opt_count){true, 3};
    p.divergence_mrad = (bg_opt_real){true, 0.0};
    bg_resolved r;
    bg_grid g;
    edge(&p, &r, &g);
    cr_expect(r.hdiv.range == 0.0 && r.hdiv.step == 0.0);
    cr_assert_eq(g.count, 9, "no sanity reset: 3 x 3 identical points");
    for (uint64_t i = 0; i < 9; i++)
        expect_dir(&g, i, -1, 0, 0, 0);
    bg_grid_free(&g);
}

Test(torch_edge, zero_range_with_step_no_count_falls_back)
{
    bg_params p = torch_params(BG_F64);
    p.hdivrange_mrad = (bg_opt_real){true, 0.0};
    p.hdivstep_mrad = (bg_opt_real){true, 0.1};
    bg_resolved r;
    bg_grid g;
    edge(&p, &r, &g);
    cr_expect_eq(r.hdiv.count, 0, "rule 5: ceil(0 / step) = 0");
    cr_assert_eq(g.count, 1);
    cr_expect_eq(g.points, 0);
    expect_dir(&g, 0, 0, 0, 1, 0);
    bg_grid_free(&g);
}

Test(torch_edge, zero_divergence_is_four_sources_at_minus_beam)
{
    bg_params p = torch_params(BG_F32);
    p.divergence_mrad = (bg_opt_real){true, 0.0};
    bg_resolved r;
    bg_grid g;
    edge(&p, &r, &g);
    cr_assert_eq(g.count, 4);
    for (uint64_t i = 0; i < 4; i++)
        expect_dir(&g, i, -1, 0, 0, 0);
    bg_grid_free(&g);
}

Test(torch_edge, zero_dispersion_alone_doubles_every_source)
{
    bg_params p = torch_params(BG_F64);
    p.dispersion_percent = (bg_opt_real){true, 0.0};
    bg_resolved r;
    bg_grid g;
    edge(&p, &r, &g);
    cr_assert_eq(g.count, 2);
    const double *l = g.lambda;
    cr_expect(l[0] == 1e-10 && l[1] == 1e-10, "%.17g %.17g", l[0], l[1]);
    bg_grid_free(&g);
}

Test(torch_edge, dispsteps_alone_is_ten_percent)
{
    bg_params p = torch_params(BG_F64);
    p.dispsteps = (bg_opt_count){true, 3};
    bg_resolved r;
    bg_grid g;
    edge(&p, &r, &g);
    cr_expect(r.disp.range == 0.1 && r.disp.step == 0.05);
    cr_assert_eq(g.count, 3);
    const double *l = g.lambda;
    cr_expect(fabs(l[0] - 0.95e-10) < 1e-24 && l[1] == 1e-10 &&
                  fabs(l[2] - 1.05e-10) < 1e-24,
              "%.17g %.17g %.17g", l[0], l[1], l[2]);
    bg_grid_free(&g);
}

Test(torch_edge, dispsteps_one_with_dispersion_is_lambda0)
{
    bg_params p = torch_params(BG_F32);
    p.dispsteps = (bg_opt_count){true, 1};
    p.dispersion_percent = (bg_opt_real){true, 5.0};
    p.lambda_A = (bg_opt_real){true, 1.2};
    bg_resolved r;
    bg_grid g;
    edge(&p, &r, &g);
    cr_assert_eq(g.count, 1);
    cr_expect(((double *)g.lambda)[0] == (double)(float)(1.2 * 1e-10));
    bg_grid_free(&g);
}

Test(torch_edge, energy_or_lambda_zero_is_not_given)
{
    bg_params p = torch_params(BG_F64);
    bg_resolved r;
    p.lambda_A = (bg_opt_real){true, 0.0};
    cr_assert_eq(bg_resolve(&p, &r, NULL), BG_OK);
    cr_expect(r.lambda0_m == 1.0 * 1e-10);
    p.lambda_A = (bg_opt_real){true, 2.0};
    p.energy_eV = (bg_opt_real){true, 0.0};
    cr_assert_eq(bg_resolve(&p, &r, NULL), BG_OK);
    cr_expect(r.lambda0_m == 2.0 * 1e-10, "falls back to lambda_A");
    cr_expect_eq(r.ignored & BG_IGNORED_LAMBDA_A, 0);
}

Test(torch_edge, energy_wins_over_lambda)
{
    bg_params p = torch_params(BG_F64);
    p.lambda_A = (bg_opt_real){true, 2.0};
    p.energy_eV = (bg_opt_real){true, 12000.0};
    bg_resolved r;
    cr_assert_eq(bg_resolve(&p, &r, NULL), BG_OK);
    cr_expect(r.lambda0_m == (12398.42 / 12000.0) * 1e-10);
    cr_expect(r.ignored & BG_IGNORED_LAMBDA_A);
}

Test(torch_edge, vectors_make_custom_and_are_ignored)
{
    bg_params p = torch_params(BG_F32);
    p.beam_vector = (bg_opt_vec3){true, {1, 2, 3}};
    p.polar_vector = (bg_opt_vec3){true, {0, 0, 0}};
    bg_resolved r;
    cr_assert_eq(bg_resolve(&p, &r, NULL), BG_OK);
    const double beam[3] = {0, 0, 1}, polar[3] = {0, 1, 0};
    cr_expect(memcmp(r.beam, beam, sizeof beam) == 0);
    cr_expect(memcmp(r.polar, polar, sizeof polar) == 0);
    cr_expect(r.ignored & BG_IGNORED_BEAM_VECTOR);
    cr_expect(r.ignored & BG_IGNORED_POLAR_VECTOR);
    /* every convention but MOSFLM is the same pair */
    bg_params q = torch_params(BG_F32);
    q.convention = BG_CONV_DENZO;
    bg_resolved s;
    cr_assert_eq(bg_resolve(&q, &s, NULL), BG_OK);
    cr_expect(memcmp(s.beam, beam, sizeof beam) == 0);
    cr_expect_eq(s.ignored, 0);
}

Test(torch_edge, fields_the_port_cannot_take_are_refused)
{
    bg_params p = torch_params(BG_F32);
    bg_resolved r;
    bg_error err = {0};
    p.dispstep_percent = (bg_opt_real){true, 0.1};
    cr_expect_eq(bg_resolve(&p, &r, &err), BG_INVALID);
    cr_expect_str_eq(err.field, "dispstep_percent");
    p = torch_params(BG_F32);
    p.source_distance_mm = (bg_opt_real){true, 100.0};
    cr_expect_eq(bg_resolve(&p, &r, &err), BG_INVALID);
    cr_expect_str_eq(err.field, "source_distance_mm");
}

/* ---- refusals and checks of beamgrid's own ---- */

Test(torch, dtype_without_torch_is_refused)
{
    bg_params p;
    bg_params_init(&p);
    p.dtype_given = true;
    p.dtype = BG_F64;
    bg_resolved r;
    bg_error err = {0};
    cr_expect_eq(bg_resolve(&p, &r, &err), BG_INVALID);
    cr_expect_str_eq(err.field, "dtype");
}

Test(torch, negative_values_are_refused)
{
    bg_params p = torch_params(BG_F32);
    bg_resolved r;
    bg_error err = {0};
    p.hdivsteps = (bg_opt_count){true, -1};
    cr_expect_eq(bg_resolve(&p, &r, &err), BG_INVALID);
    cr_expect_str_eq(err.field, "hdivsteps");
    p = torch_params(BG_F32);
    p.divergence_mrad = (bg_opt_real){true, -0.1};
    cr_expect_eq(bg_resolve(&p, &r, &err), BG_INVALID);
    cr_expect_str_eq(err.field, "divergence_mrad");
    p = torch_params(BG_F32);
    p.dispersion_percent = (bg_opt_real){true, 250.0};
    cr_expect_eq(bg_resolve(&p, &r, &err), BG_INVALID);
    cr_expect_str_eq(err.field, "dispersion_percent");
}

Test(torch, zero_count_is_not_given)
{
    bg_params p = torch_params(BG_F32);
    p.hdivsteps = (bg_opt_count){true, 0};
    bg_resolved r;
    cr_assert_eq(bg_resolve(&p, &r, NULL), BG_OK);
    cr_expect_eq(r.hdiv.count, 1);
}

Test(torch, too_many_sources_is_refused)
{
    bg_params p = torch_params(BG_F32);
    p.hdivsteps = p.vdivsteps = (bg_opt_count){true, 2000};
    p.divergence_mrad = (bg_opt_real){true, 1.0};
    bg_resolved r;
    uint64_t n;
    bg_error err = {0};
    cr_assert_eq(bg_resolve(&p, &r, NULL), BG_OK);
    cr_expect_eq(bg_grid_count(&r, 100000, &n, NULL, &err), BG_TOO_MANY);
    cr_expect_neq(err.detail[0], '\0');
}

Test(torch, check_refuses_foreign_sets)
{
    bg_params p = torch_params(BG_F32);
    bg_resolved r;
    cr_assert_eq(bg_resolve(&p, &r, NULL), BG_OK);
    cr_expect_eq(bg_resolved_check(&r, NULL), BG_OK);
    bg_resolved bad = r;
    bad.source_distance_m = 5.0;
    cr_expect_neq(bg_resolved_check(&bad, NULL), BG_OK);
    bad = r;
    bad.beam[0] = 0.0, bad.beam[1] = 1.0;
    cr_expect_neq(bg_resolved_check(&bad, NULL), BG_OK);
    bad = r;
    bad.ignored = 64;
    cr_expect_neq(bg_resolved_check(&bad, NULL), BG_OK);
    bad = r;
    bad.semantics = BG_SEM_NANOBRAGG; /* a torch dtype under nanoBragg */
    cr_expect_neq(bg_resolved_check(&bad, NULL), BG_OK);
}

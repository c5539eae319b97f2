/* test_golden.c - every case of tests/golden/ (JSON) through bg_resolve,
 * bg_grid_count and bg_grid_fill: counts and order exact, values within
 * 1e-12 relative (per vector component relative to the vector's length, so
 * a component that is 0 in one and 1e-20 in the other is fine). */
#include <criterion/criterion.h>
#include <glob.h>
#include <math.h>

#include "core/grid.h"
#include "core/resolve.h"
#include "tests/support/golden.h"

#define REL 1e-12

static bool close_rel(double a, double b, double scale)
{
    return fabs(a - b) <= REL * scale;
}

static double norm3(const double *v)
{
    return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

static void check_resolved(const golden_case *c, const bg_resolved *r)
{
    const golden_resolved *e = &c->resolved;
    cr_expect_eq(r->hdiv.count, e->hdivsteps, "%s hdivsteps", c->name);
    cr_expect_eq(r->vdiv.count, e->vdivsteps, "%s vdivsteps", c->name);
    cr_expect_eq(r->disp.count, e->dispsteps, "%s dispsteps", c->name);
    const struct {
        double got, want;
        const char *what;
    } v[] = {
        {r->hdiv.range * 1000.0, e->hdivrange_mrad, "hdivrange"},
        {r->hdiv.step * 1000.0, e->hdivstep_mrad, "hdivstep"},
        {r->vdiv.range * 1000.0, e->vdivrange_mrad, "vdivrange"},
        {r->vdiv.step * 1000.0, e->vdivstep_mrad, "vdivstep"},
        {r->disp.range * 100.0, e->dispersion_percent, "dispersion"},
        {r->disp.step * 100.0, e->dispstep_percent, "dispstep"},
        {r->lambda0_m * 1e10, e->lambda_A, "lambda"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_expect(close_rel(v[i].got, v[i].want, fabs(v[i].want)),
                  "%s resolved %s: %.17g vs %.17g", c->name, v[i].what,
                  v[i].got, v[i].want);
}

static void check_grid(const golden_case *c, const bg_grid *g)
{
    const double *x = g->x, *y = g->y, *z = g->z, *w = g->weight,
                 *l = g->lambda;
    for (uint64_t i = 0; i < c->count; i++) {
        const double *ed = c->dir + 3 * i, *ep = c->pos + 3 * i;
        double got_d[3] = {x[i], y[i], z[i]};
        double got_p[3] = {g->px[i], g->py[i], g->pz[i]};
        for (int k = 0; k < 3; k++) {
            cr_assert(close_rel(got_d[k], ed[k], norm3(ed)),
                      "%s source %llu direction[%d]: %.17g vs %.17g", c->name,
                      (unsigned long long)i, k, got_d[k], ed[k]);
            cr_assert(close_rel(got_p[k], ep[k], norm3(ep)),
                      "%s source %llu position[%d]: %.17g vs %.17g", c->name,
                      (unsigned long long)i, k, got_p[k], ep[k]);
        }
        cr_assert(close_rel(w[i], c->weight[i], fabs(c->weight[i])),
                  "%s source %llu weight", c->name, (unsigned long long)i);
        cr_assert(close_rel(l[i], c->lambda[i], fabs(c->lambda[i])),
                  "%s source %llu wavelength: %.17g vs %.17g", c->name,
                  (unsigned long long)i, l[i], c->lambda[i]);
    }
}

static void run_case(const char *path)
{
    golden_case c;
    cr_assert_eq(golden_load(path, &c), 0, "cannot load %s", path);
    bg_resolved r;
    bg_error err = {0};
    bg_status s = bg_resolve(&c.params, &r, &err);
    uint64_t count = 0;
    if (s == BG_OK)
        s = bg_grid_count(&r, 100000000, &count, NULL, &err);
    if (c.expect_status != 0) {
        cr_expect_neq(s, BG_OK, "%s should fail", c.name);
        cr_expect_neq(err.detail[0], '\0', "%s has no detail", c.name);
        golden_free(&c);
        return;
    }
    cr_assert_eq(s, BG_OK, "%s: %s (%s)", c.name, err.detail, err.field);
    check_resolved(&c, &r);
    cr_assert_eq(count, c.count, "%s count %llu vs %llu", c.name,
                 (unsigned long long)count, (unsigned long long)c.count);
    bg_grid g;
    cr_assert_eq(bg_grid_alloc(&g, count, BG_F64, BG_GRID_POSITIONS), BG_OK);
    cr_assert_eq(bg_grid_fill(&r, &g, 0), BG_OK);
    check_grid(&c, &g);
    bg_grid_free(&g);
    golden_free(&c);
}

Test(golden, every_case)
{
    glob_t gl;
    cr_assert_eq(glob("tests/golden/*.json", 0, NULL, &gl), 0,
                 "no golden cases (run from the repository root)");
    cr_expect_geq(gl.gl_pathc, 12);
    for (size_t i = 0; i < gl.gl_pathc; i++)
        run_case(gl.gl_pathv[i]);
    globfree(&gl);
}

/* The two refusals name the right code and field. */
Test(golden, refusals_name_the_field)
{
    golden_case c;
    bg_resolved r;
    bg_error err = {0};
    uint64_t n;
    cr_assert_eq(golden_load("tests/golden/g11_all_trimmed.json", &c), 0);
    cr_assert_eq(bg_resolve(&c.params, &r, &err), BG_OK);
    cr_expect_eq(bg_grid_count(&r, 1000000, &n, NULL, &err), BG_EMPTY);
    cr_expect(strstr(err.detail, "round_div") != NULL, "%s", err.detail);
    golden_free(&c);
    cr_assert_eq(
        golden_load("tests/golden/g12_polar_parallel_to_beam.json", &c), 0);
    cr_expect_eq(bg_resolve(&c.params, &r, &err), BG_PARALLEL);
    cr_expect_str_eq(err.field, "polar_vector");
    golden_free(&c);
}

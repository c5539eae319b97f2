/* test_grid.c - core/grid.c against a literal transcription of nanoBragg.c's
 * source loop (tests/support/nanobragg_ref.h, shared with the bench): same
 * count, same order, bit-identical values, for hand-picked and pseudo-random
 * parameter sets; bit-identity across thread counts; float32; the
 * count/alloc/fill contract; the refusals. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grid.h"
#include "core/resolve.h"
#include "tests/support/nanobragg_ref.h"

/* ---- the reference: nanoBragg.c's loop (tests/support/nanobragg_ref.h) */

typedef nanobragg_cols ref_grid;

/* Count, then fill freshly allocated columns (positions included). */
static void ref_build(const bg_resolved *r, ref_grid *g)
{
    memset(g, 0, sizeof *g);
    g->n = nanobragg_pass(r, g);
    size_t b = (g->n + 1) * sizeof(double);
    g->x = malloc(b), g->y = malloc(b), g->z = malloc(b), g->w = malloc(b);
    g->l = malloc(b), g->px = malloc(b), g->py = malloc(b), g->pz = malloc(b);
    nanobragg_pass(r, g);
}

static void ref_free(ref_grid *g)
{
    free(g->x), free(g->y), free(g->z), free(g->w);
    free(g->l), free(g->px), free(g->py), free(g->pz);
}

/* ---- helpers ----------------------------------------------------------- */

static bg_resolved resolve_ok(const bg_params *p)
{
    bg_resolved r;
    bg_error e = {0};
    cr_assert_eq(bg_resolve(p, &r, &e), BG_OK, "%s: %s", e.field, e.detail);
    return r;
}

static bool same(const void *a, const void *b, uint64_t n, size_t size)
{
    return memcmp(a, b, (size_t)n * size) == 0;
}

/* Build *r with the core (positions on) at `threads`; BG_EMPTY gives an
 * empty grid. Returns the status of the count. */
static bg_status core_build(const bg_resolved *r, bg_grid *g, bg_dtype dt,
                            int threads)
{
    uint64_t n = 0, pts = 0;
    bg_error e;
    memset(g, 0, sizeof *g);
    bg_status s = bg_grid_count(r, 50000000, &n, &pts, &e);
    if (s != BG_OK)
        return s;
    cr_assert_eq(bg_grid_alloc(g, n, dt, BG_GRID_POSITIONS), BG_OK);
    cr_assert_eq(bg_grid_fill(r, g, threads), BG_OK);
    cr_assert_eq(g->count, n);
    cr_assert_eq(g->points * (uint64_t)r->disp.count, n);
    cr_assert_eq(g->points, pts);
    return BG_OK;
}

/* The core equals the reference bit for bit. */
static void expect_reference(const bg_resolved *r, const char *what)
{
    ref_grid ref;
    ref_build(r, &ref);
    bg_grid g;
    bg_status s = core_build(r, &g, BG_F64, 0);
    if (ref.n == 0) {
        cr_expect_eq(s, BG_EMPTY, "%s: nanoBragg keeps nothing", what);
        ref_free(&ref);
        return;
    }
    cr_assert_eq(s, BG_OK, "%s", what);
    cr_assert_eq(g.count, ref.n, "%s: count %llu, nanoBragg %llu", what,
                 (unsigned long long)g.count, (unsigned long long)ref.n);
    size_t d = sizeof(double);
    cr_expect(same(g.x, ref.x, ref.n, d) && same(g.y, ref.y, ref.n, d) &&
                  same(g.z, ref.z, ref.n, d),
              "%s: directions", what);
    cr_expect(same(g.px, ref.px, ref.n, d) && same(g.py, ref.py, ref.n, d) &&
                  same(g.pz, ref.pz, ref.n, d),
              "%s: positions", what);
    cr_expect(same(g.weight, ref.w, ref.n, d), "%s: weights", what);
    cr_expect(same(g.lambda, ref.l, ref.n, d), "%s: wavelengths", what);
    bg_grid_free(&g);
    ref_free(&ref);
}

/* ---- against nanoBragg's loop ----------------------------------------- */

Test(grid, hand_picked_cases_match_nanobragg)
{
    const struct {
        const char *what;
        double div, hr, vr, hs, vs, disp, dstep;
        int64_t steps, hn, vn, dn;
        bool square;
        bg_convention conv;
    } t[] = {
        /* what, div, hr, vr, hs, vs, disp, dstep, steps, hn, vn, dn */
        {"S", 0.5, -1, -1, -1, -1, 0.1, -1, 25, 0, 0, 9, false, 0},
        {"even 6", 0.5, -1, -1, -1, -1, -1, -1, 6, 0, 0, 0, false, 0},
        {"even 2", 0.5, -1, -1, -1, -1, -1, -1, 2, 0, 0, 0, false, 0},
        {"even/odd", -1, 0.4, 0.3, -1, -1, -1, -1, 0, 8, 7, 0, false, 0},
        {"0.28/0.02", -1, 0.28, 0.28, 0.02, 0.02, 0.1, -1, 0, 0, 0, 3, false,
         0},
        {"square", -1, 0.28, 0.28, 0.02, 0.02, 0.1, -1, 0, 0, 0, 3, true, 0},
        {"h line", -1, 0.3, -1, 0.1, -1, -1, -1, 0, 0, 0, 0, false, 0},
        {"v line", -1, -1, 0.3, -1, 0.1, -1, -1, 0, 0, 0, 0, false, 0},
        {"zero h range", -1, 0.0, 0.6, -1, 0.1, -1, -1, 0, 0, 0, 0, false, 0},
        {"count only", -1, -1, -1, -1, -1, -1, -1, 0, 4, 3, 5, false, 0},
        {"step > range", -1, 0.1, 0.1, 0.3, 0.05, -1, -1, 0, 6, 9, 0, false, 0},
        {"xds", 0.2, -1, -1, 0.05, 0.04, 0.5, -1, 0, 0, 0, 4, false,
         BG_CONV_XDS},
        {"dials", 0.2, -1, -1, 0.05, 0.04, 0.5, 0.1, 0, 0, 0, 0, false,
         BG_CONV_DIALS},
        {"M", 0.5, -1, -1, -1, -1, 0.1, -1, 51, 0, 0, 21, false, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bg_params p;
        bg_params_init(&p);
        if (t[i].div >= 0)
            p.divergence_mrad = (bg_opt_real){true, t[i].div};
        if (t[i].hr >= 0)
            p.hdivrange_mrad = (bg_opt_real){true, t[i].hr};
        if (t[i].vr >= 0)
            p.vdivrange_mrad = (bg_opt_real){true, t[i].vr};
        if (t[i].hs >= 0)
            p.hdivstep_mrad = (bg_opt_real){true, t[i].hs};
        if (t[i].vs >= 0)
            p.vdivstep_mrad = (bg_opt_real){true, t[i].vs};
        if (t[i].disp >= 0)
            p.dispersion_percent = (bg_opt_real){true, t[i].disp};
        if (t[i].dstep >= 0)
            p.dispstep_percent = (bg_opt_real){true, t[i].dstep};
        if (t[i].steps)
            p.divsteps = (bg_opt_count){true, t[i].steps};
        if (t[i].hn)
            p.hdivsteps = (bg_opt_count){true, t[i].hn};
        if (t[i].vn)
            p.vdivsteps = (bg_opt_count){true, t[i].vn};
        if (t[i].dn)
            p.dispsteps = (bg_opt_count){true, t[i].dn};
        p.round_div = !t[i].square;
        p.convention = t[i].conv;
        bg_resolved r = resolve_ok(&p);
        expect_reference(&r, t[i].what);
    }
}

/* The S case makes 4,473 sources (docs/semantics.md §2.4); even counts trim. */
Test(grid, known_counts)
{
    bg_params p;
    bg_params_init(&p);
    p.divergence_mrad = (bg_opt_real){true, 0.5};
    p.divsteps = (bg_opt_count){true, 25};
    p.dispersion_percent = (bg_opt_real){true, 0.1};
    p.dispsteps = (bg_opt_count){true, 9};
    bg_resolved r = resolve_ok(&p);
    uint64_t n, pts;
    cr_assert_eq(bg_grid_count(&r, 1000000, &n, &pts, NULL), BG_OK);
    cr_expect_eq(n, 4473);
    cr_expect_eq(pts, 497);
    p.divsteps.value = 6;
    p.dispsteps.given = false;
    p.dispersion_percent.given = false;
    r = resolve_ok(&p);
    cr_assert_eq(bg_grid_count(&r, 1000000, &n, NULL, NULL), BG_OK);
    cr_expect_eq(n, 24, "6 x 6 even grid keeps 24 of 36");
}

/* A zero range makes the test NaN: nothing trims, whatever the other axis. */
Test(grid, zero_range_never_trims)
{
    bg_params p;
    bg_params_init(&p);
    p.hdivrange_mrad = (bg_opt_real){true, 0.0};
    p.vdivrange_mrad = (bg_opt_real){true, 1000.0};
    p.vdivstep_mrad = (bg_opt_real){true, 1.0};
    p.vdivsteps = (bg_opt_count){true, 1001};
    bg_resolved r = resolve_ok(&p);
    cr_assert_eq(r.hdiv.count, 1);
    uint64_t n;
    cr_assert_eq(bg_grid_count(&r, 1000000, &n, NULL, NULL), BG_OK);
    cr_expect_eq(n, 1001);
    expect_reference(&r, "zero h range");
}

/* Deterministic pseudo-random sweep over small grids: every table row,
 * odd and even counts, step/range ratios on both sides of 1, both trims. */
static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005u + 1442695040888963407u;
    return *s >> 33;
}

static double pick(uint64_t *s, const double *v, size_t n)
{
    return v[lcg(s) % n];
}

Test(grid, random_sweep_matches_nanobragg)
{
    static const double ranges[] = {-1, 0, 0.02, 0.1, 0.28, 0.3, 0.5, 1, 7};
    static const double steps[] = {-1, 0, 0.01, 0.02, 0.05, 0.1, 0.3, 2};
    static const int64_t counts[] = {0, 1, 2, 3, 4, 5, 6, 13, 14, 25};
    uint64_t seed = 12345;
    for (int it = 0; it < 1500; it++) {
        bg_params p;
        bg_params_init(&p);
        double hr = pick(&seed, ranges, 9), vr = pick(&seed, ranges, 9);
        double hs = pick(&seed, steps, 8), vs = pick(&seed, steps, 8);
        int64_t hn = counts[lcg(&seed) % 10], vn = counts[lcg(&seed) % 10];
        if (hr >= 0)
            p.hdivrange_mrad = (bg_opt_real){true, hr};
        if (vr >= 0)
            p.vdivrange_mrad = (bg_opt_real){true, vr};
        if (hs >= 0)
            p.hdivstep_mrad = (bg_opt_real){true, hs};
        if (vs >= 0)
            p.vdivstep_mrad = (bg_opt_real){true, vs};
        if (hn > 0)
            p.hdivsteps = (bg_opt_count){true, hn};
        if (vn > 0)
            p.vdivsteps = (bg_opt_count){true, vn};
        p.dispsteps = (bg_opt_count){true, 1 + (int64_t)(lcg(&seed) % 3)};
        p.dispersion_percent = (bg_opt_real){true, 0.2};
        p.round_div = lcg(&seed) % 4 != 0;
        p.convention = (bg_convention)(lcg(&seed) % BG_CONV_COUNT);
        bg_resolved r;
        if (bg_resolve(&p, &r, NULL) != BG_OK)
            continue; /* an axis past the count limit */
        if (r.hdiv.count * r.vdiv.count > 200000)
            continue;
        char what[64];
        snprintf(what, sizeof what, "random case %d", it);
        expect_reference(&r, what);
    }
}

/* Custom, non-unit, non-orthogonal vectors and a custom distance. */
Test(grid, custom_vectors_match_nanobragg)
{
    const double beams[][3] = {{0.3, 0.2, 1.0}, {-2, 0, 0}, {0, 5, 5}};
    const double polars[][3] = {{1.0, 0.1, 0.0}, {0, 3, 1}, {1, 1, -7}};
    for (int i = 0; i < 3; i++) {
        bg_params p;
        bg_params_init(&p);
        p.beam_vector =
            (bg_opt_vec3){true, {beams[i][0], beams[i][1], beams[i][2]}};
        p.polar_vector =
            (bg_opt_vec3){true, {polars[i][0], polars[i][1], polars[i][2]}};
        p.divergence_mrad = (bg_opt_real){true, 2.0};
        p.divsteps = (bg_opt_count){true, 9 + i};
        p.source_distance_mm = (bg_opt_real){true, 1234.5};
        p.energy_eV = (bg_opt_real){true, 8048.0};
        p.dispersion_percent = (bg_opt_real){true, 0.3};
        p.dispsteps = (bg_opt_count){true, 2 + i};
        bg_resolved r = resolve_ok(&p);
        expect_reference(&r, "custom vectors");
    }
}

/* nanoBragg's trim test over the whole rectangle: the kept points. */
static uint64_t brute_points(const bg_resolved *r)
{
    uint64_t n = 0;
    int64_t hs = r->hdiv.count, vs = r->vdiv.count;
    for (int64_t ht = 0; ht < hs; ++ht)
        for (int64_t vt = 0; vt < vs; ++vt) {
            double hdiv = r->hdiv.step * ht - r->hdiv.range / 2.0;
            double vdiv = r->vdiv.step * vt - r->vdiv.range / 2.0;
            double test = (hdiv * hdiv -
                           r->hdiv.step * r->hdiv.step / 4.0 * (1 - hs % 2)) /
                          r->hdiv.range / r->hdiv.range;
            test += (vdiv * vdiv -
                     r->vdiv.step * r->vdiv.step / 4.0 * (1 - vs % 2)) /
                    r->vdiv.range / r->vdiv.range;
            n += !(r->round_div && test * 4.0 > 1.1);
        }
    return n;
}

static double log_uniform(uint64_t *s, double lo, double hi)
{
    double u = (double)(lcg(s) & 0xffffff) / (double)0x1000000;
    return exp(log(lo) + u * (log(hi) - log(lo)));
}

/* The binary-searched count equals the literal test on arbitrary doubles:
 * any range/step ratio, any counts, both even and odd. */
Test(grid, count_equals_literal_trim_on_random_doubles)
{
    uint64_t seed = 777;
    int compared = 0, trimmed = 0;
    for (int it = 0; it < 4000; it++) {
        bg_params p;
        bg_params_init(&p);
        p.hdivrange_mrad = (bg_opt_real){true, log_uniform(&seed, 1e-6, 50)};
        p.vdivrange_mrad = (bg_opt_real){true, log_uniform(&seed, 1e-6, 50)};
        double hr = p.hdivrange_mrad.value, vr = p.vdivrange_mrad.value;
        p.hdivstep_mrad = (bg_opt_real){true, hr * log_uniform(&seed, 1e-3, 3)};
        p.vdivstep_mrad = (bg_opt_real){true, vr * log_uniform(&seed, 1e-3, 3)};
        if (lcg(&seed) % 2)
            p.hdivsteps = (bg_opt_count){true, 1 + (int64_t)(lcg(&seed) % 400)};
        if (lcg(&seed) % 2)
            p.vdivsteps = (bg_opt_count){true, 1 + (int64_t)(lcg(&seed) % 400)};
        bg_resolved r;
        if (bg_resolve(&p, &r, NULL) != BG_OK ||
            r.hdiv.count * r.vdiv.count > 400000)
            continue;
        uint64_t want = brute_points(&r), n = 0;
        compared++;
        trimmed += want < (uint64_t)(r.hdiv.count * r.vdiv.count);
        bg_status st = bg_grid_count(&r, UINT64_C(1) << 40, &n, NULL, NULL);
        if (want == 0) {
            cr_expect_eq(st, BG_EMPTY, "case %d", it);
            continue;
        }
        cr_assert_eq(st, BG_OK, "case %d", it);
        cr_assert_eq(n, want,
                     "case %d: %llu points, literal %llu (h %lld "
                     "%.17g %.17g, v %lld %.17g %.17g)",
                     it, (unsigned long long)n, (unsigned long long)want,
                     (long long)r.hdiv.count, r.hdiv.range, r.hdiv.step,
                     (long long)r.vdiv.count, r.vdiv.range, r.vdiv.step);
        if (it % 8 == 0)
            expect_reference(&r, "random doubles");
    }
    cr_expect_gt(compared, 2000, "only %d cases compared", compared);
    cr_expect_gt(trimmed, 1000, "only %d cases trimmed", trimmed);
}

/* Step absurdly larger than the range: the untame path tests literally. */
Test(grid, untame_axes_match_nanobragg)
{
    bg_params p;
    bg_params_init(&p);
    p.hdivrange_mrad = (bg_opt_real){true, 1e-200};
    p.hdivstep_mrad = (bg_opt_real){true, 1e-10};
    p.hdivsteps = (bg_opt_count){true, 5};
    p.vdivrange_mrad = (bg_opt_real){true, 0.3};
    p.vdivsteps = (bg_opt_count){true, 4};
    p.round_div = true;
    bg_resolved r = resolve_ok(&p);
    expect_reference(&r, "untame h");
    p.hdivrange_mrad.value = 1e-170;
    p.hdivstep_mrad.value = 1e-180;
    p.hdivsteps.value = 7;
    r = resolve_ok(&p);
    expect_reference(&r, "tiny angles, tame");
}

/* ---- threads, float32, positions -------------------------------------- */

static void resolve_square(int64_t steps, int64_t disp, bool round,
                           bg_resolved *r)
{
    bg_params p;
    bg_params_init(&p);
    p.divergence_mrad = (bg_opt_real){true, 0.5};
    p.divsteps = (bg_opt_count){true, steps};
    if (disp > 1) { /* a count of 1 with a range would resolve to 2 */
        p.dispersion_percent = (bg_opt_real){true, 0.1};
        p.dispsteps = (bg_opt_count){true, disp};
    }
    p.round_div = round;
    *r = resolve_ok(&p);
}

static bool grids_identical(const bg_grid *a, const bg_grid *b)
{
    size_t s = a->dtype == BG_F32 ? sizeof(float) : sizeof(double);
    uint64_t n = a->count;
    return a->count == b->count && same(a->x, b->x, n, s) &&
           same(a->y, b->y, n, s) && same(a->z, b->z, n, s) &&
           same(a->weight, b->weight, n, s) &&
           same(a->lambda, b->lambda, n, s) &&
           same(a->px, b->px, n, sizeof(double)) &&
           same(a->py, b->py, n, sizeof(double)) &&
           same(a->pz, b->pz, n, sizeof(double));
}

Test(grid, bit_identical_for_1_to_4_threads)
{
    static const int64_t steps[] = {1, 2, 3, 7, 24, 25, 51, 100, 137, 301};
    static const int64_t disps[] = {1, 2, 9, 21};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        for (size_t k = 0; k < sizeof disps / sizeof disps[0]; k++)
            for (int round = 0; round < 2; round++) {
                bg_resolved r;
                resolve_square(steps[i], disps[k], round, &r);
                bg_dtype dt = (i + k) % 2 ? BG_F32 : BG_F64;
                bg_grid one;
                if (core_build(&r, &one, dt, 1) != BG_OK)
                    continue;
                for (int t = 2; t <= 4; t++) {
                    bg_grid g;
                    cr_assert_eq(core_build(&r, &g, dt, t), BG_OK);
                    cr_expect(grids_identical(&one, &g),
                              "steps %lld disp %lld round %d: %d threads "
                              "differ from 1",
                              (long long)steps[i], (long long)disps[k], round,
                              t);
                    bg_grid_free(&g);
                }
                bg_grid_free(&one);
            }
}

Test(grid, float32_is_the_rounded_float64)
{
    bg_resolved r;
    resolve_square(101, 5, true, &r);
    bg_grid d, f;
    cr_assert_eq(core_build(&r, &d, BG_F64, 0), BG_OK);
    cr_assert_eq(core_build(&r, &f, BG_F32, 0), BG_OK);
    cr_assert_eq(d.count, f.count);
    void *dc[5] = {d.x, d.y, d.z, d.weight, d.lambda};
    void *fc[5] = {f.x, f.y, f.z, f.weight, f.lambda};
    for (int c = 0; c < 5; c++)
        for (uint64_t i = 0; i < d.count; i++) {
            float want = (float)((double *)dc[c])[i];
            cr_assert(memcmp(&want, (float *)fc[c] + i, sizeof want) == 0,
                      "column %d source %llu", c, (unsigned long long)i);
        }
    cr_expect(same(d.px, f.px, d.count, sizeof(double)));
    bg_grid_free(&d);
    bg_grid_free(&f);
}

Test(grid, positions_only_on_request)
{
    bg_resolved r;
    resolve_square(5, 1, false, &r);
    uint64_t n;
    cr_assert_eq(bg_grid_count(&r, 1000, &n, NULL, NULL), BG_OK);
    bg_grid g;
    cr_assert_eq(bg_grid_alloc(&g, n, BG_F64, 0), BG_OK);
    cr_expect_null(g.px);
    cr_assert_eq(bg_grid_fill(&r, &g, 2), BG_OK);
    cr_expect_eq(((double *)g.weight)[0], 1.0 / 25.0);
    bg_grid_free(&g);
}

/* ---- the contract and the refusals ------------------------------------ */

Test(grid, fill_refuses_a_grid_of_the_wrong_size)
{
    bg_resolved r;
    resolve_square(25, 9, true, &r);
    bg_grid g;
    cr_assert_eq(bg_grid_alloc(&g, 4472, BG_F64, 0), BG_OK);
    cr_expect_eq(bg_grid_fill(&r, &g, 0), BG_INVALID);
    bg_grid_free(&g);
    cr_assert_eq(bg_grid_alloc(&g, 4474 * 9, BG_F64, 0), BG_OK);
    cr_expect_eq(bg_grid_fill(&r, &g, 0), BG_INVALID);
    bg_grid_free(&g);
}

Test(grid, count_refuses_past_the_limit)
{
    bg_resolved r;
    resolve_square(25, 9, true, &r);
    uint64_t n = 7;
    bg_error e;
    cr_expect_eq(bg_grid_count(&r, 4473, &n, NULL, &e), BG_OK);
    cr_expect_eq(bg_grid_count(&r, 4472, &n, NULL, &e), BG_TOO_MANY);
    cr_expect(strstr(e.detail, "4472") != NULL, "%s", e.detail);
    cr_expect_eq(n, 4473, "*count untouched on failure");
    cr_expect_eq(bg_grid_count(&r, 0, &n, NULL, &e), BG_TOO_MANY);
}

/* Axes at their maximum: refused at once, not after 10^18 tests. */
Test(grid, huge_rectangles_are_refused_quickly, .timeout = 10)
{
    bg_params p;
    bg_params_init(&p);
    p.divergence_mrad = (bg_opt_real){true, 0.5};
    p.divsteps = (bg_opt_count){true, BG_AXIS_COUNT_MAX};
    p.dispsteps = (bg_opt_count){true, BG_AXIS_COUNT_MAX};
    p.dispersion_percent = (bg_opt_real){true, 1};
    bg_resolved r = resolve_ok(&p);
    uint64_t n;
    bg_error e;
    cr_expect_eq(bg_grid_count(&r, UINT64_MAX, &n, NULL, &e), BG_TOO_MANY);
    cr_expect_eq(bg_grid_count(&r, 100000000, &n, NULL, &e), BG_TOO_MANY);
    p.round_div = false;
    r = resolve_ok(&p);
    cr_expect_eq(bg_grid_count(&r, UINT64_MAX, &n, NULL, &e), BG_TOO_MANY);
    /* the ellipse keeps few points of a huge sparse rectangle: exact count */
    bg_params_init(&p);
    p.hdivrange_mrad = (bg_opt_real){true, 1.0};
    p.hdivstep_mrad = (bg_opt_real){true, 0.3};
    p.hdivsteps = (bg_opt_count){true, BG_AXIS_COUNT_MAX};
    p.vdivrange_mrad = (bg_opt_real){true, 1.0};
    p.vdivstep_mrad = (bg_opt_real){true, 0.3};
    p.vdivsteps = (bg_opt_count){true, BG_AXIS_COUNT_MAX};
    r = resolve_ok(&p);
    cr_expect_eq(bg_grid_count(&r, 1000, &n, NULL, &e), BG_OK, "%s", e.detail);
    cr_expect_gt(n, 0);
    cr_expect_lt(n, 20);
    /* one kept column in each of ~10^9 rows: refused without walking them */
    bg_params_init(&p);
    p.divergence_mrad = (bg_opt_real){true, 1.0};
    p.hdivsteps = (bg_opt_count){true, BG_AXIS_COUNT_MAX};
    p.vdivstep_mrad = (bg_opt_real){true, 1000.0};
    p.vdivsteps = (bg_opt_count){true, BG_AXIS_COUNT_MAX - 1};
    r = resolve_ok(&p);
    cr_expect_eq(bg_grid_count(&r, 100000000, &n, NULL, &e), BG_TOO_MANY);
    /* the same, with an untame ratio: refused, saying why */
    bg_params_init(&p);
    p.hdivrange_mrad = (bg_opt_real){true, 1.0};
    p.hdivstep_mrad = (bg_opt_real){true, 0.3};
    p.hdivsteps = (bg_opt_count){true, BG_AXIS_COUNT_MAX};
    p.vdivrange_mrad = (bg_opt_real){true, 1.0};
    p.vdivstep_mrad = (bg_opt_real){true, 0.3};
    p.vdivsteps = (bg_opt_count){true, BG_AXIS_COUNT_MAX};
    p.hdivrange_mrad.value = 1e-200;
    r = resolve_ok(&p);
    cr_expect_eq(bg_grid_count(&r, 1000, &n, NULL, &e), BG_TOO_MANY);
    cr_expect(strstr(e.detail, "too large to test") != NULL, "%s", e.detail);
}

Test(grid, all_trimmed_is_empty)
{
    bg_params p;
    bg_params_init(&p);
    p.divsteps = (bg_opt_count){true, 1};
    bg_resolved r = resolve_ok(&p);
    uint64_t n;
    bg_error e;
    cr_expect_eq(bg_grid_count(&r, 1000, &n, NULL, &e), BG_EMPTY);
    cr_expect_eq(e.code, BG_EMPTY);
    cr_expect(strstr(e.detail, "round_div false") != NULL, "%s", e.detail);
    p.round_div = false;
    r = resolve_ok(&p);
    cr_expect_eq(bg_grid_count(&r, 1000, &n, NULL, &e), BG_OK);
    cr_expect_eq(n, 1);
}

Test(grid, count_checks_its_input)
{
    bg_resolved r;
    resolve_square(5, 1, true, &r);
    r.vdiv.count = 0;
    uint64_t n;
    bg_error e;
    cr_expect_eq(bg_grid_count(&r, 1000, &n, NULL, &e), BG_INVALID);
}

Test(grid, alloc_failure_leaves_nothing)
{
    bg_grid g;
    cr_expect_eq(bg_grid_alloc(&g, UINT64_MAX / 4, BG_F64, 0), BG_NOMEM);
    cr_expect_null(g.x);
    cr_expect_null(g.lambda);
    bg_grid_free(&g);
    bg_grid_free(&g);
    memset(&g, 0, sizeof g);
    bg_grid_free(&g);
}

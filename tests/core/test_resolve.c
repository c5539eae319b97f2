/* test_resolve.c - core/resolve.c: the table of docs/semantics.md §2.2
 * row by row for each of
 * the three axes, the sanity reset, the exact unit conversions, the
 * conventions and vectors of §2.5, and every validation error. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/resolve.h"

typedef enum { AX_H, AX_V, AX_D } axis_id;

/* The request fields of one axis. */
static void set_axis(bg_params *p, axis_id a, bool cg, int64_t count, bool rg,
                     double range, bool sg, double step)
{
    bg_opt_count *c = a == AX_H   ? &p->hdivsteps
                      : a == AX_V ? &p->vdivsteps
                                  : &p->dispsteps;
    bg_opt_real *r = a == AX_H   ? &p->hdivrange_mrad
                     : a == AX_V ? &p->vdivrange_mrad
                                 : &p->dispersion_percent;
    bg_opt_real *s = a == AX_H   ? &p->hdivstep_mrad
                     : a == AX_V ? &p->vdivstep_mrad
                                 : &p->dispstep_percent;
    *c = (bg_opt_count){cg, count};
    *r = (bg_opt_real){rg, range};
    *s = (bg_opt_real){sg, step};
}

static const bg_axis *axis_of(const bg_resolved *r, axis_id a)
{
    return a == AX_H ? &r->hdiv : a == AX_V ? &r->vdiv : &r->disp;
}

static bg_resolved resolve_ok(const bg_params *p)
{
    bg_resolved r;
    bg_error e = {0};
    bg_status s = bg_resolve(p, &r, &e);
    cr_assert_eq(s, BG_OK, "%s: %s", e.field, e.detail);
    cr_assert_eq(bg_resolved_check(&r, &e), BG_OK, "check: %s", e.detail);
    return r;
}

static void expect_axis(const bg_axis *got, int64_t count, double range,
                        double step, const char *what)
{
    cr_expect_eq(got->count, count, "%s count %lld, want %lld", what,
                 (long long)got->count, (long long)count);
    cr_expect_eq(got->range, range, "%s range %.17g, want %.17g", what,
                 got->range, range);
    cr_expect_eq(got->step, step, "%s step %.17g, want %.17g", what, got->step,
                 step);
}

/* One row of docs/semantics.md §2.2 for every axis. The dispersion range
 * is never "not
 * given" (it defaults to 0), so its expectation differs on those rows. */
typedef struct {
    bool cg;
    bool rg;
    bool sg;
} row;

static const row table[8] = {
    {false, false, false}, {false, false, true}, {false, true, false},
    {false, true, true},   {true, false, false}, {true, false, true},
    {true, true, false},   {true, true, true},
};

/* The expected axis for row t with count 4, range R, step S (SI). */
static bg_axis expected(int t, double R, double S, bool disp)
{
    bg_axis reset = {1, 0.0, 0.0};
    if (disp && !table[t].rg) /* a given 0 range: every such row resets */
        return reset;
    switch (t) {
    case 0:
        return reset;
    case 1:
        return (bg_axis){2, S, S};
    case 2:
        return (bg_axis){2, R, R};
    case 3:
        return (bg_axis){(int64_t)ceil(R / S), R, S};
    case 4:
        return (bg_axis){4, 1.0, 1.0 / 4.0};
    case 5:
        return (bg_axis){2, S, S};
    case 6:
        return (bg_axis){4, R, R / 3.0};
    default:
        return (bg_axis){4, R, S};
    }
}

Test(resolve, spec_2_2_table_every_row_every_axis)
{
    for (axis_id a = AX_H; a <= AX_D; a++) {
        double unit = a == AX_D ? 100.0 : 1000.0;
        double R = 0.3 / unit, S = 0.1 / unit;
        for (int t = 0; t < 8; t++) {
            bg_params p;
            bg_params_init(&p);
            set_axis(&p, a, table[t].cg, 4, table[t].rg, 0.3, table[t].sg, 0.1);
            bg_resolved r = resolve_ok(&p);
            bg_axis e = expected(t, R, S, a == AX_D);
            char what[32];
            snprintf(what, sizeof what, "axis %d row %d", (int)a, t);
            expect_axis(axis_of(&r, a), e.count, e.range, e.step, what);
        }
    }
}

/* Row "count given, range given, step not": a count of 1 becomes 2. */
Test(resolve, count_one_with_range_becomes_two)
{
    for (axis_id a = AX_H; a <= AX_D; a++) {
        double unit = a == AX_D ? 100.0 : 1000.0;
        bg_params p;
        bg_params_init(&p);
        set_axis(&p, a, true, 1, true, 0.3, false, 0);
        bg_resolved r = resolve_ok(&p);
        expect_axis(axis_of(&r, a), 2, 0.3 / unit, 0.3 / unit / 1.0, "c1");
    }
}

/* Row "count only": range 1.0 and step 1/count, in radians even though
 * the request is in mrad (nanoBragg's quirk). */
Test(resolve, count_only_is_one_radian)
{
    bg_params p;
    bg_params_init(&p);
    p.divsteps = (bg_opt_count){true, 5};
    bg_resolved r = resolve_ok(&p);
    expect_axis(&r.hdiv, 5, 1.0, 0.2, "h");
    expect_axis(&r.vdiv, 5, 1.0, 0.2, "v");
}

Test(resolve, sanity_reset)
{
    /* count and a zero range: step 0 -> reset */
    for (axis_id a = AX_H; a <= AX_D; a++) {
        bg_params p;
        bg_params_init(&p);
        set_axis(&p, a, true, 5, true, 0.0, false, 0);
        bg_resolved r = resolve_ok(&p);
        expect_axis(axis_of(&r, a), 1, 0.0, 0.0, "zero range");
        /* a zero range and a step: ceil(0) = 0 steps -> reset */
        set_axis(&p, a, false, 0, true, 0.0, true, 0.1);
        r = resolve_ok(&p);
        expect_axis(axis_of(&r, a), 1, 0.0, 0.0, "zero range, step");
        /* a zero step counts as not given */
        set_axis(&p, a, false, 0, true, 0.3, true, 0.0);
        r = resolve_ok(&p);
        double unit = a == AX_D ? 100.0 : 1000.0;
        expect_axis(axis_of(&r, a), 2, 0.3 / unit, 0.3 / unit, "zero step");
    }
    bg_params p;
    bg_params_init(&p);
    p.divergence_mrad = (bg_opt_real){true, 0.0};
    p.divsteps = (bg_opt_count){true, 7};
    bg_resolved r = resolve_ok(&p);
    expect_axis(&r.hdiv, 1, 0.0, 0.0, "h");
    expect_axis(&r.vdiv, 1, 0.0, 0.0, "v");
}

/* docs/semantics.md §2.1: 0.28/1000.0 / (0.02/1000.0) is 14 steps,
 * 0.28/0.02 would be 15;
 * 0.3/1000 / (0.1/1000) is 2.9999999999999996, so 3 steps. */
Test(resolve, conversions_decide_step_counts)
{
    bg_params p;
    bg_params_init(&p);
    p.hdivrange_mrad = (bg_opt_real){true, 0.28};
    p.hdivstep_mrad = (bg_opt_real){true, 0.02};
    p.vdivrange_mrad = (bg_opt_real){true, 0.3};
    p.vdivstep_mrad = (bg_opt_real){true, 0.1};
    bg_resolved r = resolve_ok(&p);
    cr_expect_eq(r.hdiv.count, 14);
    cr_expect_eq(r.hdiv.range, 0.28 / 1000.0);
    cr_expect_eq(r.vdiv.count, 3);
    cr_expect_eq(ceil(0.28 / 0.02), 15.0, "the naive ratio differs");
}

Test(resolve, specific_fields_override_general_ones)
{
    bg_params p;
    bg_params_init(&p);
    p.divergence_mrad = (bg_opt_real){true, 0.5};
    p.hdivrange_mrad = (bg_opt_real){true, 0.2};
    p.divsteps = (bg_opt_count){true, 6};
    p.vdivsteps = (bg_opt_count){true, 3};
    bg_resolved r = resolve_ok(&p);
    expect_axis(&r.hdiv, 6, 0.2 / 1000.0, 0.2 / 1000.0 / 5.0, "h");
    expect_axis(&r.vdiv, 3, 0.5 / 1000.0, 0.5 / 1000.0 / 2.0, "v");
}

Test(resolve, defaults)
{
    bg_params p;
    bg_params_init(&p);
    bg_resolved r = resolve_ok(&p);
    cr_expect_eq(r.lambda0_m, 1.0e-10);
    cr_expect_eq(r.source_distance_m, 10.0);
    cr_expect(r.round_div);
    expect_axis(&r.disp, 1, 0.0, 0.0, "disp");
    p.source_distance_mm = (bg_opt_real){true, 25000};
    p.round_div = false;
    r = resolve_ok(&p);
    cr_expect_eq(r.source_distance_m, 25.0);
    cr_expect(!r.round_div);
}

Test(resolve, energy_ev)
{
    bg_params p;
    bg_params_init(&p);
    p.energy_eV = (bg_opt_real){true, 12398.42};
    cr_expect_eq(resolve_ok(&p).lambda0_m, 1.0e-10);
    p.energy_eV.value = 8000.0;
    cr_expect_eq(resolve_ok(&p).lambda0_m, (12398.42 / 8000.0) / 1.0e10);
    bg_params_init(&p);
    p.lambda_A = (bg_opt_real){true, 0.9795};
    cr_expect_eq(resolve_ok(&p).lambda0_m, 0.9795 / 1.0e10);
}

static void expect_vec(const double *got, double x, double y, double z,
                       const char *what)
{
    cr_expect(got[0] == x && got[1] == y && got[2] == z,
              "%s: (%g, %g, %g), want (%g, %g, %g)", what, got[0], got[1],
              got[2], x, y, z);
}

Test(resolve, every_convention)
{
    const struct {
        bg_convention c;
        double b[3], p[3];
    } t[] = {
        {BG_CONV_MOSFLM, {1, 0, 0}, {0, 0, 1}},
        {BG_CONV_DENZO, {1, 0, 0}, {0, 0, 1}},
        {BG_CONV_XDS, {0, 0, 1}, {1, 0, 0}},
        {BG_CONV_ADXV, {0, 0, 1}, {1, 0, 0}},
        {BG_CONV_DIALS, {0, 0, 1}, {0, 1, 0}},
        {BG_CONV_CUSTOM, {1, 0, 0}, {0, 0, 1}},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bg_params p;
        bg_params_init(&p);
        p.convention_given = true;
        p.convention = t[i].c;
        bg_resolved r = resolve_ok(&p);
        const char *n = bg_convention_name(t[i].c);
        expect_vec(r.beam, t[i].b[0], t[i].b[1], t[i].b[2], n);
        expect_vec(r.polar, t[i].p[0], t[i].p[1], t[i].p[2], n);
        double v[3] = {t[i].b[1] * t[i].p[2] - t[i].b[2] * t[i].p[1],
                       t[i].b[2] * t[i].p[0] - t[i].b[0] * t[i].p[2],
                       t[i].b[0] * t[i].p[1] - t[i].b[1] * t[i].p[0]};
        expect_vec(r.vert, v[0], v[1], v[2], n);
    }
}

Test(resolve, vectors_are_normalized_not_orthogonalized)
{
    bg_params p;
    bg_params_init(&p);
    p.beam_vector = (bg_opt_vec3){true, {2, 0, 0}};
    p.polar_vector = (bg_opt_vec3){true, {0, 0, 5}};
    bg_resolved r = resolve_ok(&p);
    expect_vec(r.beam, 1, 0, 0, "beam");
    expect_vec(r.polar, 0, 0, 1, "polar");
    expect_vec(r.vert, 0, -1, 0, "vert");
    p.beam_vector = (bg_opt_vec3){true, {0.3, 0.2, 1.0}};
    p.polar_vector = (bg_opt_vec3){true, {1.0, 0.1, 0.0}};
    r = resolve_ok(&p);
    double m = sqrt(0.3 * 0.3 + 0.2 * 0.2 + 1.0 * 1.0);
    expect_vec(r.beam, 0.3 / m, 0.2 / m, 1.0 / m, "custom beam");
    double dot = r.beam[0] * r.polar[0] + r.beam[1] * r.polar[1] +
                 r.beam[2] * r.polar[2];
    cr_expect(fabs(dot) > 0.1, "polar kept its beam component");
    double vb =
        r.vert[0] * r.beam[0] + r.vert[1] * r.beam[1] + r.vert[2] * r.beam[2];
    cr_expect(fabs(vb) < 1e-15, "vert is perpendicular to the beam");
}

/* A vector not given keeps the named convention's default
 * (docs/semantics.md §2.5). */
Test(resolve, one_custom_vector_keeps_the_other_default)
{
    bg_params p;
    bg_params_init(&p);
    p.convention_given = true;
    p.convention = BG_CONV_XDS;
    p.beam_vector = (bg_opt_vec3){true, {0, 1, 0}};
    bg_resolved r = resolve_ok(&p);
    expect_vec(r.beam, 0, 1, 0, "beam");
    expect_vec(r.polar, 1, 0, 0, "XDS polar kept");
    bg_params_init(&p);
    p.polar_vector = (bg_opt_vec3){true, {0, 1, 0}};
    r = resolve_ok(&p);
    expect_vec(r.beam, 1, 0, 0, "MOSFLM beam kept");
    expect_vec(r.polar, 0, 1, 0, "polar");
}

/* Each case sets one thing wrong; the code and the field must match. */
typedef void (*mutate)(bg_params *);

static void neg_disp(bg_params *p)
{
    p->dispersion_percent = (bg_opt_real){true, -0.1};
}
static void neg_dstep(bg_params *p)
{
    p->dispstep_percent = (bg_opt_real){true, -1};
}
static void neg_div(bg_params *p)
{
    p->divergence_mrad = (bg_opt_real){true, -1};
}
static void neg_hr(bg_params *p)
{
    p->hdivrange_mrad = (bg_opt_real){true, -1};
}
static void neg_vr(bg_params *p)
{
    p->vdivrange_mrad = (bg_opt_real){true, -1};
}
static void neg_hs(bg_params *p)
{
    p->hdivstep_mrad = (bg_opt_real){true, -1};
}
static void neg_vs(bg_params *p)
{
    p->vdivstep_mrad = (bg_opt_real){true, -1e-300};
}
static void nan_hr(bg_params *p)
{
    p->hdivrange_mrad = (bg_opt_real){true, NAN};
}
static void inf_vs(bg_params *p)
{
    p->vdivstep_mrad = (bg_opt_real){true, INFINITY};
}
static void nan_lambda(bg_params *p)
{
    p->lambda_A = (bg_opt_real){true, NAN};
}
static void zero_lambda(bg_params *p)
{
    p->lambda_A = (bg_opt_real){true, 0};
}
static void neg_lambda(bg_params *p)
{
    p->lambda_A = (bg_opt_real){true, -1};
}
static void zero_energy(bg_params *p)
{
    p->energy_eV = (bg_opt_real){true, 0};
}
static void inf_energy(bg_params *p)
{
    p->energy_eV = (bg_opt_real){true, INFINITY};
}
static void zero_dist(bg_params *p)
{
    p->source_distance_mm = (bg_opt_real){true, 0};
}
static void nan_dist(bg_params *p)
{
    p->source_distance_mm = (bg_opt_real){true, NAN};
}
static void huge_dist(bg_params *p)
{
    p->source_distance_mm = (bg_opt_real){true, 1e300};
}
static void zero_steps(bg_params *p)
{
    p->divsteps = (bg_opt_count){true, 0};
}
static void neg_hsteps(bg_params *p)
{
    p->hdivsteps = (bg_opt_count){true, -1};
}
static void zero_dsteps(bg_params *p)
{
    p->dispsteps = (bg_opt_count){true, 0};
}
static void many_vsteps(bg_params *p)
{
    p->vdivsteps = (bg_opt_count){true, BG_AXIS_COUNT_MAX + 1};
}
static void many_dsteps(bg_params *p)
{
    p->dispsteps = (bg_opt_count){true, INT64_MAX};
}
static void both(bg_params *p)
{
    p->lambda_A = (bg_opt_real){true, 1};
    p->energy_eV = (bg_opt_real){true, 12398.42};
}
static void zero_beam(bg_params *p)
{
    p->beam_vector = (bg_opt_vec3){true, {0, 0, 0}};
}
static void nan_beam(bg_params *p)
{
    p->beam_vector = (bg_opt_vec3){true, {1, NAN, 0}};
}
static void inf_polar(bg_params *p)
{
    p->polar_vector = (bg_opt_vec3){true, {0, INFINITY, 0}};
}
static void zero_polar(bg_params *p)
{
    p->polar_vector = (bg_opt_vec3){true, {0, 0, 0}};
}
static void par_polar(bg_params *p)
{
    p->polar_vector = (bg_opt_vec3){true, {3, 0, 0}};
}
static void anti_polar(bg_params *p)
{
    p->polar_vector = (bg_opt_vec3){true, {-1, 0, 0}};
}
static void near_polar(bg_params *p)
{
    p->polar_vector = (bg_opt_vec3){true, {1, 1e-14, 0}};
}
static void beam_on_polar(bg_params *p)
{
    p->beam_vector = (bg_opt_vec3){true, {0, 0, -2}};
}
static void ceil_overflow(bg_params *p)
{
    p->hdivrange_mrad = (bg_opt_real){true, 1000};
    p->hdivstep_mrad = (bg_opt_real){true, 1e-10};
}
static void ceil_inf(bg_params *p)
{
    p->dispersion_percent = (bg_opt_real){true, 1e300};
    p->dispstep_percent = (bg_opt_real){true, 1e-300};
}
static void disp_200(bg_params *p)
{
    p->dispersion_percent = (bg_opt_real){true, 200};
    p->dispsteps = (bg_opt_count){true, 3};
}
static void bad_conv(bg_params *p)
{
    p->convention = BG_CONV_COUNT;
}

Test(resolve, every_error_names_its_field)
{
    const struct {
        mutate f;
        bg_status code;
        const char *field;
    } t[] = {
        {neg_disp, BG_INVALID, "dispersion_percent"},
        {neg_dstep, BG_INVALID, "dispstep_percent"},
        {neg_div, BG_INVALID, "divergence_mrad"},
        {neg_hr, BG_INVALID, "hdivrange_mrad"},
        {neg_vr, BG_INVALID, "vdivrange_mrad"},
        {neg_hs, BG_INVALID, "hdivstep_mrad"},
        {neg_vs, BG_INVALID, "vdivstep_mrad"},
        {nan_hr, BG_INVALID, "hdivrange_mrad"},
        {inf_vs, BG_INVALID, "vdivstep_mrad"},
        {nan_lambda, BG_INVALID, "lambda_A"},
        {zero_lambda, BG_INVALID, "lambda_A"},
        {neg_lambda, BG_INVALID, "lambda_A"},
        {zero_energy, BG_INVALID, "energy_eV"},
        {inf_energy, BG_INVALID, "energy_eV"},
        {zero_dist, BG_INVALID, "source_distance_mm"},
        {nan_dist, BG_INVALID, "source_distance_mm"},
        {huge_dist, BG_INVALID, "source_distance_mm"},
        {zero_steps, BG_INVALID, "divsteps"},
        {neg_hsteps, BG_INVALID, "hdivsteps"},
        {zero_dsteps, BG_INVALID, "dispsteps"},
        {many_vsteps, BG_TOO_MANY, "vdivsteps"},
        {many_dsteps, BG_TOO_MANY, "dispsteps"},
        {both, BG_CONFLICT, "energy_eV"},
        {zero_beam, BG_VECTOR, "beam_vector"},
        {nan_beam, BG_VECTOR, "beam_vector"},
        {inf_polar, BG_VECTOR, "polar_vector"},
        {zero_polar, BG_VECTOR, "polar_vector"},
        {par_polar, BG_PARALLEL, "polar_vector"},
        {anti_polar, BG_PARALLEL, "polar_vector"},
        {near_polar, BG_PARALLEL, "polar_vector"},
        {beam_on_polar, BG_PARALLEL, "polar_vector"},
        {ceil_overflow, BG_TOO_MANY, "hdivstep_mrad"},
        {ceil_inf, BG_TOO_MANY, "dispstep_percent"},
        {disp_200, BG_INVALID, "dispersion_percent"},
        {bad_conv, BG_INVALID, "convention"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bg_params p;
        bg_params_init(&p);
        t[i].f(&p);
        bg_resolved r;
        memset(&r, 0x5a, sizeof r);
        bg_resolved before = r;
        bg_error e = {0};
        bg_status s = bg_resolve(&p, &r, &e);
        cr_expect_eq(s, t[i].code, "case %zu: %s, want %s (%s)", i,
                     bg_strerror(s), bg_strerror(t[i].code), e.detail);
        cr_expect_eq(e.code, s, "case %zu", i);
        cr_expect_str_eq(e.field, t[i].field, "case %zu", i);
        cr_expect_neq(e.detail[0], '\0', "case %zu", i);
        cr_expect(memcmp(&r, &before, sizeof r) == 0, "case %zu wrote *out", i);
        cr_expect_eq(bg_resolve(&p, &r, NULL), t[i].code, "NULL err");
    }
}

Test(resolve, parallel_detail_says_what_to_do)
{
    bg_params p;
    bg_params_init(&p);
    par_polar(&p);
    bg_resolved r;
    bg_error e;
    cr_assert_eq(bg_resolve(&p, &r, &e), BG_PARALLEL);
    cr_expect(strstr(e.detail, "perpendicular") != NULL, "%s", e.detail);
}

/* A beam along the convention's default polarization, no polar_vector
 * given: the detail names the default and what to send, and the suggested
 * polar_vector resolves. */
Test(resolve, parallel_to_default_polar_names_it)
{
    static const struct {
        bg_convention conv;
        double beam[3];
        const char *says;
    } t[] = {
        {BG_CONV_MOSFLM,
         {0, 0, 1},
         "beam_vector [0, 0, 1] is parallel to the MOSFLM convention's "
         "default polar_vector [0, 0, 1], so there is no vertical axis; send "
         "a polar_vector perpendicular to the beam, such as [1, 0, 0]"},
        {BG_CONV_XDS,
         {-2, 0, 0},
         "the XDS convention's default polar_vector "
         "[1, 0, 0]"},
        {BG_CONV_DIALS,
         {0, 1, 0},
         "DIALS convention's default polar_vector "
         "[0, 1, 0]"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        bg_params p;
        bg_params_init(&p);
        p.convention = t[i].conv;
        p.convention_given = true;
        p.beam_vector =
            (bg_opt_vec3){true, {t[i].beam[0], t[i].beam[1], t[i].beam[2]}};
        bg_resolved r;
        bg_error e;
        cr_assert_eq(bg_resolve(&p, &r, &e), BG_PARALLEL, "case %zu", i);
        cr_expect_str_eq(e.field, "polar_vector");
        cr_expect_not_null(strstr(e.detail, t[i].says), "case %zu: %s", i,
                           e.detail);
        cr_expect_not_null(strstr(e.detail, "send a polar_vector"), "%s",
                           e.detail);
        /* the suggested vector, sent, resolves */
        const char *s = strstr(e.detail, "such as [");
        cr_assert_not_null(s);
        double v[3];
        cr_assert_eq(sscanf(s, "such as [%lf, %lf, %lf]", &v[0], &v[1], &v[2]),
                     3);
        p.polar_vector = (bg_opt_vec3){true, {v[0], v[1], v[2]}};
        cr_expect_eq(bg_resolve(&p, &r, &e), BG_OK, "case %zu: %s", i,
                     e.detail);
    }
    /* a polar_vector the client did send keeps the plain message */
    bg_params p;
    bg_params_init(&p);
    p.polar_vector = (bg_opt_vec3){true, {1, 0, 0}};
    bg_resolved r;
    bg_error e;
    cr_assert_eq(bg_resolve(&p, &r, &e), BG_PARALLEL);
    cr_expect_null(strstr(e.detail, "default"), "%s", e.detail);
}

Test(resolve, check_rejects_what_resolve_cannot_make)
{
    bg_params p;
    bg_params_init(&p);
    p.divergence_mrad = (bg_opt_real){true, 0.5};
    p.divsteps = (bg_opt_count){true, 5};
    bg_resolved good = resolve_ok(&p), r;
    bg_error e;
    r = good;
    r.hdiv.count = 0;
    cr_expect_eq(bg_resolved_check(&r, &e), BG_INVALID);
    r = good;
    r.vdiv.step = 0.0;
    cr_expect_eq(bg_resolved_check(&r, &e), BG_INVALID);
    r = good;
    r.disp.range = NAN;
    cr_expect_eq(bg_resolved_check(&r, &e), BG_INVALID);
    r = good;
    r.lambda0_m = -1;
    cr_expect_eq(bg_resolved_check(&r, &e), BG_INVALID);
    r = good;
    r.beam[0] = 2.0;
    cr_expect_eq(bg_resolved_check(&r, &e), BG_VECTOR);
    r = good;
    r.vert[1] = -r.vert[1];
    cr_expect_eq(bg_resolved_check(&r, &e), BG_VECTOR);
    r = good;
    memcpy(r.polar, r.beam, sizeof r.polar);
    cr_expect_eq(bg_resolved_check(&r, &e), BG_PARALLEL);
    r = good;
    r.source_distance_m = INFINITY;
    cr_expect_eq(bg_resolved_check(&r, &e), BG_INVALID);
}

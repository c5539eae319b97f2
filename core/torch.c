/* torch.c - the PyTorch port's semantics (docs/torch.md): resolution of the
 * request fields with the port's rules, the check of a resolved set, and
 * the count and fill of its grid, dispatched to the float or double
 * instance of core/torch_gen.h by the resolved dtype. */
#include "core/torch.h"

#include "core/colfill.h"
#include "core/count.h"
#include "core/fieldcheck.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Below this many sources the fill stays serial. */
#define BG_TORCH_PARALLEL_MIN 16384
/* lambda_A and energy_eV other than 0 must lie in this range (as under
 * nanoBragg semantics), so that the arithmetic stays finite. */
#define BG_TORCH_SCALE_MIN 1e-100
#define BG_TORCH_SCALE_MAX 1e100
/* The port's source distance (it passes 10.0 m and never reads it). */
#define BG_TORCH_DISTANCE_M 10.0

/* ---- resolution (docs/torch.md, "From fields to the configuration") ---- */

/* The port's count/range/step with its sentinels: count -1, range -1.0,
 * step -1.0 when not given. */
typedef struct {
    int64_t count;
    double range;
    double step;
    const char *field; /* blamed when rule 5 makes too many steps */
} torch_axis_input;

static bg_status refuse(bg_error *err, const char *field)
{
    return bg_error_set(err, BG_INVALID, field,
                        "%s has no equivalent in the PyTorch port (its "
                        "command line refuses it); remove it or use "
                        "\"semantics\": \"nanobragg\"",
                        field);
}

/* lambda_A or energy_eV: 0 means "not given" (the port tests truth);
 * else within [BG_TORCH_SCALE_MIN, BG_TORCH_SCALE_MAX]. */
static bg_status check_scale(const bg_opt_real *o, const char *field,
                             bg_error *err)
{
    bg_status s = bg_check_nonneg(o, field, err);
    if (s != BG_OK || !o->given || o->value == 0.0)
        return s;
    if (o->value < BG_TORCH_SCALE_MIN || o->value > BG_TORCH_SCALE_MAX)
        return bg_error_set(err, BG_INVALID, field,
                            "%s must be 0 (not given) or between %g and %g "
                            "(got %.17g)",
                            field, BG_TORCH_SCALE_MIN, BG_TORCH_SCALE_MAX,
                            o->value);
    return BG_OK;
}

static bg_status check_torch_fields(const bg_params *p, bg_error *err)
{
    if (p->dispstep_percent.given)
        return refuse(err, "dispstep_percent");
    if (p->source_distance_mm.given)
        return refuse(err, "source_distance_mm");
    bg_status s;
    if ((s = check_scale(&p->lambda_A, "lambda_A", err)) != BG_OK ||
        (s = check_scale(&p->energy_eV, "energy_eV", err)) != BG_OK)
        return s;
    /* counts of 0 are "not given", as the port's count <= 0 */
    if ((s = bg_check_axis_fields(p, 0, err)) != BG_OK)
        return s;
    for (int i = 0; i < 3; i++)
        if (!isfinite(p->beam_vector.v[i]) || !isfinite(p->polar_vector.v[i]))
            return bg_error_set(err, BG_VECTOR,
                                isfinite(p->beam_vector.v[i]) ? "polar_vector"
                                                              : "beam_vector",
                                "vectors must be finite");
    if (p->dtype != BG_F32 && p->dtype != BG_F64)
        return bg_error_set(err, BG_INVALID, "dtype",
                            "dtype must be float32 or float64");
    if ((int)p->convention < 0 || p->convention >= BG_CONV_COUNT)
        return bg_error_set(err, BG_INVALID, "convention",
                            "convention is not one of MOSFLM, XDS, DIALS, "
                            "ADXV, DENZO, CUSTOM");
    return BG_OK;
}

/* The port's auto_select_sampling: eight rules, checked in this order,
 * first match wins; no sanity reset. */
static bg_status torch_axis(const torch_axis_input *in, double default_range,
                            bg_axis *out, bg_error *err)
{
    int64_t c = in->count;
    double r = in->range, s = in->step;
    if (c <= 0 && r < 0.0 && s <= 0.0) { /* 1 */
        c = 1, r = 0.0, s = 0.0;
    } else if (c <= 0 && r < 0.0 && s > 0.0) { /* 2 */
        c = 2, r = s;
    } else if (c <= 0 && r >= 0.0 && s <= 0.0) { /* 3 */
        c = 2, s = r;
    } else if (c > 0 && r < 0.0 && s <= 0.0) { /* 4 */
        c = c > 2 ? c : 2;
        r = default_range;
        s = default_range / (double)(c - 1);
    } else if (c <= 0 && r >= 0.0 && s > 0.0) { /* 5 */
        double q = ceil(r / s);
        if (!(q <= (double)BG_AXIS_COUNT_MAX))
            return bg_error_set(err, BG_TOO_MANY, in->field,
                                "%s is so small that the range needs more "
                                "than %lld steps; give a larger step",
                                in->field, (long long)BG_AXIS_COUNT_MAX);
        c = (int64_t)q;
    } else if (c > 0 && r < 0.0 && s > 0.0) { /* 6 */
        c = 2, r = s;
    } else if (c > 0 && r >= 0.0 && s <= 0.0) { /* 7 */
        s = r / (double)(c - 1 > 1 ? c - 1 : 1);
    } /* 8: as given */
    out->count = c;
    out->range = r;
    out->step = s;
    return BG_OK;
}

/* Given and nonzero: the port's "if value:" on a count. */
static int64_t torch_count_of(const bg_opt_count *o)
{
    return o->given && o->value > 0 ? o->value : -1;
}

/* mrad * 0.001 (docs/torch.md: not / 1000.0). */
static double torch_rad(const bg_opt_real *specific, const bg_opt_real *general)
{
    if (specific->given)
        return specific->value * 0.001;
    if (general != NULL && general->given)
        return general->value * 0.001;
    return -1.0;
}

static bg_status torch_axes(const bg_params *p, bg_resolved *r, bg_error *err)
{
    const bg_opt_real none = {false, 0.0};
    const torch_axis_input h = {
        torch_count_of(&p->hdivsteps),
        torch_rad(&p->hdivrange_mrad, &p->divergence_mrad),
        torch_rad(&p->hdivstep_mrad, &none), "hdivstep_mrad"};
    const torch_axis_input v = {
        torch_count_of(&p->vdivsteps),
        torch_rad(&p->vdivrange_mrad, &p->divergence_mrad),
        torch_rad(&p->vdivstep_mrad, &none), "vdivstep_mrad"};
    const torch_axis_input d = {torch_count_of(&p->dispsteps),
                                p->dispersion_percent.given
                                    ? p->dispersion_percent.value / 100.0
                                    : -1.0,
                                -1.0, "dispsteps"};
    bg_status s;
    if ((s = torch_axis(&h, 1.0, &r->hdiv, err)) != BG_OK ||
        (s = torch_axis(&v, 1.0, &r->vdiv, err)) != BG_OK ||
        (s = torch_axis(&d, 0.1, &r->disp, err)) != BG_OK)
        return s;
    return BG_OK;
}

/* The first and last wavelength of the port's dispersion, in double:
 * both within float32's normal range (the port may compute in float32),
 * positive and finite. */
static bool torch_lambdas_ok(double lambda0, const bg_axis *d)
{
    if (!isfinite(lambda0) || !(lambda0 > 0.0))
        return false;
    double lmin = lambda0, lmax = lambda0;
    if (d->count != 1) {
        lmin = lambda0 * (1.0 - d->range / 2.0);
        lmax = lambda0 * (1.0 + d->range / 2.0);
    }
    return lmin >= FLT_MIN && lmax <= FLT_MAX;
}

/* lambda0 as the port: energy wins when given and nonzero, then lambda,
 * then 1 A; * 1e-10. */
static bg_status torch_lambda(const bg_params *p, bg_resolved *r, bg_error *err)
{
    bool energy = p->energy_eV.given && p->energy_eV.value != 0.0;
    bool lambda = p->lambda_A.given && p->lambda_A.value != 0.0;
    if (energy)
        r->lambda0_m = (12398.42 / p->energy_eV.value) * 1e-10;
    else if (lambda)
        r->lambda0_m = p->lambda_A.value * 1e-10;
    else
        r->lambda0_m = 1.0 * 1e-10;
    if (energy && lambda)
        r->ignored |= BG_IGNORED_LAMBDA_A;
    if (!torch_lambdas_ok(r->lambda0_m, &r->disp))
        return bg_error_set(err, BG_INVALID,
                            p->dispersion_percent.given ? "dispersion_percent"
                            : energy                    ? "energy_eV"
                                                        : "lambda_A",
                            "the wavelengths (lambda0 %.17g m, dispersion "
                            "%.17g %%) must lie within float32's normal "
                            "range and be positive; keep dispersion_percent "
                            "below 200",
                            r->lambda0_m, r->disp.range * 100.0);
    return BG_OK;
}

/* The port's vectors: MOSFLM, else (CUSTOM as soon as a vector is given)
 * beam (0,0,1) and polarization (0,1,0). vert = unit(beam x polar). */
static void torch_vectors(const bg_params *p, bg_resolved *r)
{
    static const double mosflm[3][3] = {{1, 0, 0}, {0, 0, 1}, {0, -1, 0}};
    static const double other[3][3] = {{0, 0, 1}, {0, 1, 0}, {-1, 0, 0}};
    bool custom = p->beam_vector.given || p->polar_vector.given;
    const double(*t)[3] =
        !custom && p->convention == BG_CONV_MOSFLM ? mosflm : other;
    memcpy(r->beam, t[0], sizeof r->beam);
    memcpy(r->polar, t[1], sizeof r->polar);
    memcpy(r->vert, t[2], sizeof r->vert);
    if (p->beam_vector.given)
        r->ignored |= BG_IGNORED_BEAM_VECTOR;
    if (p->polar_vector.given)
        r->ignored |= BG_IGNORED_POLAR_VECTOR;
}

bg_status bg_torch_resolve(const bg_params *p, bg_resolved *out, bg_error *err)
{
    bg_resolved r;
    bg_resolved_init(&r); /* no beam model: the port has none */
    r.semantics = BG_SEM_TORCH;
    bg_status s;
    if ((s = check_torch_fields(p, err)) != BG_OK ||
        (s = torch_axes(p, &r, err)) != BG_OK ||
        (s = torch_lambda(p, &r, err)) != BG_OK)
        return s;
    torch_vectors(p, &r);
    r.dtype = p->dtype;
    r.round_div = p->round_div;
    r.source_distance_m = BG_TORCH_DISTANCE_M;
    if (p->divsteps.given)
        r.ignored |= BG_IGNORED_DIVSTEPS;
    *out = r;
    return BG_OK;
}

/* ---- checking a resolved set ---- */

static bool axis_ok(const bg_axis *a, int64_t min_count)
{
    return a->count >= min_count && a->count <= BG_AXIS_COUNT_MAX &&
           isfinite(a->range) && isfinite(a->step) && a->range >= 0.0 &&
           a->step >= 0.0;
}

static bool same3(const double a[3], const double b[3])
{
    return memcmp(a, b, 3 * sizeof a[0]) == 0;
}

bg_status bg_torch_check(const bg_resolved *r, bg_error *err)
{
    static const double pairs[2][3][3] = {
        {{1, 0, 0}, {0, 0, 1}, {0, -1, 0}},
        {{0, 0, 1}, {0, 1, 0}, {-1, 0, 0}},
    };
    if (r->semantics != BG_SEM_TORCH ||
        (r->dtype != BG_F32 && r->dtype != BG_F64) ||
        (r->ignored & ~BG_IGNORED_ALL) != 0)
        return bg_error_set(err, BG_INVALID, "semantics",
                            "not a resolved nanobrag_torch set");
    if (bg_resolved_has_models(r) || !(r->hc_eV_A == BG_HC_DEFAULT))
        return bg_error_set(err, BG_INVALID, "spectrum",
                            "the PyTorch port takes no beam model");
    if (!axis_ok(&r->hdiv, 0) || !axis_ok(&r->vdiv, 0) || !axis_ok(&r->disp, 1))
        return bg_error_set(err, BG_INVALID, "divsteps",
                            "axis count, range or step out of range");
    if (!torch_lambdas_ok(r->lambda0_m, &r->disp))
        return bg_error_set(err, BG_INVALID, "lambda_A",
                            "a wavelength is not positive and finite");
    if (!(r->source_distance_m == BG_TORCH_DISTANCE_M))
        return bg_error_set(err, BG_INVALID, "source_distance_mm",
                            "the port's source distance is 10 m");
    for (int k = 0; k < 2; k++)
        if (same3(r->beam, pairs[k][0]) && same3(r->polar, pairs[k][1]) &&
            same3(r->vert, pairs[k][2]))
            return BG_OK;
    return bg_error_set(err, BG_VECTOR, "beam_vector",
                        "not one of the port's beam/polarization pairs");
}

/* ---- the generator, in float and in double ---- */

typedef struct {
    const bg_resolved *r;
    bg_grid *g;
    int threads;
} torch_job;

#define T    float
#define TS   f32
#define SIN  sinf
#define COS  cosf
#define SQRT sqrtf
#include "core/torch_gen.h"
#undef T
#undef TS
#undef SIN
#undef COS
#undef SQRT

#define T    double
#define TS   f64
#define SIN  sin
#define COS  cos
#define SQRT sqrt
#include "core/torch_gen.h"
#undef T
#undef TS
#undef SIN
#undef COS
#undef SQRT

bg_status bg_torch_count(const bg_resolved *r, uint64_t max_sources,
                         uint64_t *count, uint64_t *points, bg_error *err)
{
    bg_status s = bg_torch_check(r, err);
    if (s != BG_OK)
        return s;
    uint64_t d = (uint64_t)r->disp.count;
    uint64_t cap = max_sources / d;
    uint64_t work_cap = bg_count_work_cap(cap);
    bool refused = false;
    uint64_t n = r->dtype == BG_F32
                     ? torch_points_f32(r, cap, work_cap, &refused)
                     : torch_points_f64(r, cap, work_cap, &refused);
    if ((s = bg_count_verdict(r, d, max_sources, work_cap, refused,
                              n > cap || (n == 0 && max_sources < 1), err)) !=
        BG_OK)
        return s;
    *count = n == 0 ? 1 : n * d;
    if (points != NULL)
        *points = n;
    return BG_OK;
}

bg_status bg_torch_fill(const bg_resolved *r, bg_grid *g, int threads)
{
    if (bg_torch_check(r, NULL) != BG_OK || g->count == 0 || g->x == NULL)
        return BG_INVALID;
    int nt = 1;
    if (g->count >= BG_TORCH_PARALLEL_MIN)
        nt = threads > 0 ? threads : omp_get_max_threads();
    torch_job job = {r, g, nt};
    return r->dtype == BG_F32 ? torch_fill_f32(&job) : torch_fill_f64(&job);
}

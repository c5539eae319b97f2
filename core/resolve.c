/* resolve.c - docs/semantics.md §2.1-2.2: a client's fields to the sampling
 * nanoBragg.c would use. It validates every field (naming it on failure),
 * converts units exactly as §2.1 writes them, resolves count, range and
 * step of the three axes with nanoBragg's table and sanity reset, and picks,
 * normalizes and checks the beam and polarization vectors. Pure functions:
 * no allocation, no global state. */
#include "core/resolve.h"

#include "core/fieldcheck.h"

#include "core/torch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/beam.h"

/* Largest |lambda|, distance or vector scale we accept, so that squares and
 * products of them stay finite (see check_real_bounds). */
#define BG_SCALE_MIN 1e-100
#define BG_SCALE_MAX 1e100
/* |unit(beam) x unit(polar)| below this: no vertical axis
 * (docs/semantics.md §2.5). */
#define BG_PARALLEL_TOL 1e-12
/* Tolerance of bg_resolved_check on unit vectors. */
#define BG_UNIT_TOL 1e-12

/* The request fields of one axis after unit conversion, with nanoBragg's
 * sentinel: a count "given" only if > 0, a range if >= 0, a step if > 0. */
typedef struct {
    int64_t count; /* -1: not given */
    double range;  /* -1.0: not given */
    double step;   /* -1.0: not given */
    const char *step_field;
} axis_input;

/* Fail unless an optional real field is finite and >= 0 (or not given). */
bg_status bg_check_nonneg(const bg_opt_real *o, const char *field,
                          bg_error *err)
{
    if (!o->given)
        return BG_OK;
    if (!isfinite(o->value))
        return bg_error_set(err, BG_INVALID, field,
                            "%s must be a finite number", field);
    if (o->value < 0.0)
        return bg_error_set(err, BG_INVALID, field,
                            "%s must not be negative (got %.17g)", field,
                            o->value);
    return BG_OK;
}

/* Fail unless an optional real field is finite and within
 * [BG_SCALE_MIN, BG_SCALE_MAX] (or not given). */
static bg_status check_positive(const bg_opt_real *o, const char *field,
                                bg_error *err)
{
    if (!o->given)
        return BG_OK;
    if (!isfinite(o->value) || !(o->value > 0.0))
        return bg_error_set(err, BG_INVALID, field,
                            "%s must be a finite number greater than 0", field);
    if (o->value < BG_SCALE_MIN || o->value > BG_SCALE_MAX)
        return bg_error_set(err, BG_INVALID, field,
                            "%s must be between %g and %g (got %.17g)", field,
                            BG_SCALE_MIN, BG_SCALE_MAX, o->value);
    return BG_OK;
}

bg_status bg_check_count(const bg_opt_count *o, const char *field, int64_t min,
                         bg_error *err)
{
    if (!o->given)
        return BG_OK;
    if (o->value < min)
        return bg_error_set(err, BG_INVALID, field,
                            "%s must be at least %lld (got %lld)", field,
                            (long long)min, (long long)o->value);
    if (o->value > BG_AXIS_COUNT_MAX)
        return bg_error_set(err, BG_TOO_MANY, field,
                            "%s must be at most %lld (got %lld)", field,
                            (long long)BG_AXIS_COUNT_MAX, (long long)o->value);
    return BG_OK;
}

bg_status bg_check_axis_fields(const bg_params *p, int64_t min_count,
                               bg_error *err)
{
    const struct {
        const bg_opt_real *o;
        const char *name;
    } nonneg[] = {
        {&p->dispersion_percent, "dispersion_percent"},
        {&p->dispstep_percent, "dispstep_percent"},
        {&p->divergence_mrad, "divergence_mrad"},
        {&p->hdivrange_mrad, "hdivrange_mrad"},
        {&p->vdivrange_mrad, "vdivrange_mrad"},
        {&p->hdivstep_mrad, "hdivstep_mrad"},
        {&p->vdivstep_mrad, "vdivstep_mrad"},
    };
    const struct {
        const bg_opt_count *o;
        const char *name;
    } counts[] = {
        {&p->dispsteps, "dispsteps"},
        {&p->divsteps, "divsteps"},
        {&p->hdivsteps, "hdivsteps"},
        {&p->vdivsteps, "vdivsteps"},
    };
    bg_status s;
    for (size_t i = 0; i < sizeof nonneg / sizeof nonneg[0]; i++)
        if ((s = bg_check_nonneg(nonneg[i].o, nonneg[i].name, err)) != BG_OK)
            return s;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if ((s = bg_check_count(counts[i].o, counts[i].name, min_count, err)) !=
            BG_OK)
            return s;
    return BG_OK;
}

/* Validate every scalar field of *p on its own. */
static bg_status check_fields(const bg_params *p, bg_error *err)
{
    bg_status s;
    if ((s = check_positive(&p->lambda_A, "lambda_A", err)) != BG_OK ||
        (s = check_positive(&p->energy_eV, "energy_eV", err)) != BG_OK ||
        (s = check_positive(&p->source_distance_mm, "source_distance_mm",
                            err)) != BG_OK ||
        (s = check_positive(&p->hc_eV_A, "hc_eV_A", err)) != BG_OK)
        return s;
    if ((s = bg_check_axis_fields(p, 1, err)) != BG_OK)
        return s;
    if (p->lambda_A.given && p->energy_eV.given)
        return bg_error_set(err, BG_CONFLICT, "energy_eV",
                            "give either lambda_A or energy_eV, not both");
    if ((int)p->convention < 0 || p->convention >= BG_CONV_COUNT)
        return bg_error_set(err, BG_INVALID, "convention",
                            "convention is not one of MOSFLM, XDS, DIALS, "
                            "ADXV, DENZO, CUSTOM");
    return BG_OK;
}

/* The specific field if given, else the general one; converted by /div. */
static double pick_real(const bg_opt_real *specific, const bg_opt_real *general,
                        double div)
{
    if (specific->given)
        return specific->value / div;
    if (general->given)
        return general->value / div;
    return -1.0;
}

static int64_t pick_count(const bg_opt_count *specific,
                          const bg_opt_count *general)
{
    if (specific->given)
        return specific->value;
    if (general->given)
        return general->value;
    return -1;
}

/* docs/semantics.md §2.2's table, as nanoBragg.c writes it, then the sanity
 * reset. Fails only when ceil(range/step) is past BG_AXIS_COUNT_MAX. */
static bg_status resolve_axis(const axis_input *in, bg_axis *out, bg_error *err)
{
    int64_t count = in->count;
    double range = in->range;
    double step = in->step;
    if (count <= 0) {
        if (range < 0.0) {
            if (step <= 0.0) {
                count = 1;
                range = 0.0;
                step = 0.0;
            } else {
                range = step;
                count = 2;
            }
        } else if (step <= 0.0) {
            step = range;
            count = 2;
        } else {
            double q = ceil(range / step);
            if (!(q <= (double)BG_AXIS_COUNT_MAX))
                return bg_error_set(
                    err, BG_TOO_MANY, in->step_field,
                    "%s is so small that the range needs more than %lld "
                    "steps; give a larger step",
                    in->step_field, (long long)BG_AXIS_COUNT_MAX);
            count = (int64_t)q;
        }
    } else if (range < 0.0) {
        if (step <= 0.0) {
            range = 1.0;
            step = range / (double)count;
        } else {
            range = step;
            count = 2;
        }
    } else if (step <= 0.0) {
        if (count <= 1)
            count = 2;
        step = range / (double)(count - 1);
    }
    if (range <= 0.0 || step <= 0.0 || count <= 0) {
        count = 1;
        range = 0.0;
        step = 0.0;
    }
    out->count = count;
    out->range = range;
    out->step = step;
    return BG_OK;
}

/* Resolve the two divergence axes and the dispersion axis. */
static bg_status resolve_axes(const bg_params *p, bg_resolved *r, bg_error *err)
{
    const axis_input h = {
        pick_count(&p->hdivsteps, &p->divsteps),
        pick_real(&p->hdivrange_mrad, &p->divergence_mrad, 1000.0),
        pick_real(&p->hdivstep_mrad, &(bg_opt_real){false, 0.0}, 1000.0),
        "hdivstep_mrad"};
    const axis_input v = {
        pick_count(&p->vdivsteps, &p->divsteps),
        pick_real(&p->vdivrange_mrad, &p->divergence_mrad, 1000.0),
        pick_real(&p->vdivstep_mrad, &(bg_opt_real){false, 0.0}, 1000.0),
        "vdivstep_mrad"};
    const axis_input d = {
        p->dispsteps.given ? p->dispsteps.value : -1,
        p->dispersion_percent.given ? p->dispersion_percent.value / 100.0 : 0.0,
        p->dispstep_percent.given ? p->dispstep_percent.value / 100.0 : -1.0,
        "dispstep_percent"};
    bg_status s;
    if (r->div_form == BG_DIV_QUANTILES) {
        /* docs/beams.md: the counts alone (1 when not given), no range. */
        r->hdiv = (bg_axis){h.count > 0 ? h.count : 1, 0.0, 0.0};
        r->vdiv = (bg_axis){v.count > 0 ? v.count : 1, 0.0, 0.0};
        return resolve_axis(&d, &r->disp, err);
    }
    if ((s = resolve_axis(&h, &r->hdiv, err)) != BG_OK ||
        (s = resolve_axis(&v, &r->vdiv, err)) != BG_OK ||
        (s = resolve_axis(&d, &r->disp, err)) != BG_OK)
        return s;
    return BG_OK;
}

/* lambda0 in metres, converted as docs/semantics.md §2.1 says; then every
 * wavelength of the dispersion axis must be positive and finite. */
static bg_status resolve_lambda(const bg_params *p, bg_resolved *r,
                                bg_error *err)
{
    const char *field = "lambda_A";
    double lambda0 = 1.0 / 1.0e10;
    if (p->lambda_A.given) {
        lambda0 = p->lambda_A.value / 1.0e10;
    } else if (p->energy_eV.given) {
        lambda0 = (r->hc_eV_A / p->energy_eV.value) / 1.0e10;
        field = "energy_eV";
    }
    if (!isfinite(lambda0) || !(lambda0 > 0.0))
        return bg_error_set(err, BG_INVALID, field,
                            "%s gives a wavelength that is not a positive "
                            "finite number",
                            field);
    r->lambda0_m = lambda0;
    const bg_axis *d = &r->disp;
    double first = lambda0 * (1.0 + d->step * 0.0 - d->range / 2.0);
    double last =
        lambda0 * (1.0 + d->step * (double)(d->count - 1) - d->range / 2.0);
    if (!(first > 0.0) || !isfinite(last))
        return bg_error_set(err, BG_INVALID, "dispersion_percent",
                            "dispersion_percent %.17g makes a wavelength that "
                            "is not positive and finite; it must be below 200",
                            d->range * 100.0);
    return BG_OK;
}

/* nanoBragg's unitize: divide each component by the magnitude. Vectors of
 * extreme scale are first divided by their largest component so the
 * magnitude neither overflows nor underflows (a no-op for ordinary ones).
 * Returns 0, or -1 for a zero or non-finite vector. */
static int unitize(const double in[3], double out[3])
{
    double v[3] = {in[0], in[1], in[2]};
    double big = 0.0;
    for (int i = 0; i < 3; i++) {
        if (!isfinite(v[i]))
            return -1;
        if (fabs(v[i]) > big)
            big = fabs(v[i]);
    }
    if (big == 0.0)
        return -1;
    if (big < BG_SCALE_MIN || big > BG_SCALE_MAX)
        for (int i = 0; i < 3; i++)
            v[i] /= big;
    double mag = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (!(mag > 0.0) || !isfinite(mag))
        return -1;
    out[0] = v[0] / mag;
    out[1] = v[1] / mag;
    out[2] = v[2] / mag;
    return 0;
}

/* nanoBragg's cross_product: c = a x b, in its order of operations. */
static void cross(const double a[3], const double b[3], double c[3])
{
    c[0] = a[1] * b[2] - a[2] * b[1];
    c[1] = a[2] * b[0] - a[0] * b[2];
    c[2] = a[0] * b[1] - a[1] * b[0];
}

static double norm3(const double v[3])
{
    return sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
}

/* The default beam and polarization of a convention (docs/semantics.md §2.5);
 * CUSTOM alone keeps MOSFLM's. */
static void convention_vectors(bg_convention c, double beam[3], double polar[3])
{
    static const double mosflm[2][3] = {{1, 0, 0}, {0, 0, 1}};
    static const double xds[2][3] = {{0, 0, 1}, {1, 0, 0}};
    static const double dials[2][3] = {{0, 0, 1}, {0, 1, 0}};
    const double(*t)[3] = mosflm;
    if (c == BG_CONV_XDS || c == BG_CONV_ADXV)
        t = xds;
    else if (c == BG_CONV_DIALS)
        t = dials;
    memcpy(beam, t[0], sizeof t[0]);
    memcpy(polar, t[1], sizeof t[1]);
}

/* Derive vert = unit(beam x polar), refusing a polarization (anti)parallel
 * to the beam: there is then no vertical axis. */
static bg_status derive_vert(const double beam[3], const double polar[3],
                             double vert[3], bg_error *err)
{
    double c[3];
    cross(beam, polar, c);
    if (!(norm3(c) >= BG_PARALLEL_TOL) || unitize(c, vert) != 0)
        return bg_error_set(err, BG_PARALLEL, "polar_vector",
                            "polar_vector is parallel to beam_vector: there "
                            "is no vertical axis; give a polar_vector "
                            "perpendicular to the beam");
    return BG_OK;
}

bg_status bg_resolved_derive_vert(const double beam[3], const double polar[3],
                                  double vert[3], bg_error *err)
{
    return derive_vert(beam, polar, vert, err);
}

/* The client's beam lies along the convention's default polarization,
 * which the client never sent: say so, with both values, and suggest the
 * axis least along the beam as a polar_vector to send. */
static bg_status default_polar_parallel(const bg_params *p,
                                        const double beam[3],
                                        const double polar[3], bg_error *err)
{
    int k = 0;
    for (int i = 1; i < 3; i++)
        if (fabs(beam[i]) < fabs(beam[k]))
            k = i;
    return bg_error_set(
        err, BG_PARALLEL, "polar_vector",
        "beam_vector [%.6g, %.6g, %.6g] is parallel to the %s convention's "
        "default polar_vector [%g, %g, %g], so there is no vertical axis; "
        "send a polar_vector perpendicular to the beam, such as [%d, %d, %d]",
        beam[0], beam[1], beam[2], bg_convention_name(p->convention), polar[0],
        polar[1], polar[2], k == 0, k == 1, k == 2);
}

/* Beam, polarization and vertical axis (docs/semantics.md §2.5). */
static bg_status resolve_vectors(const bg_params *p, bg_resolved *r,
                                 bg_error *err)
{
    double beam[3], polar[3];
    convention_vectors(p->convention, beam, polar);
    if (p->beam_vector.given)
        memcpy(beam, p->beam_vector.v, sizeof beam);
    if (p->polar_vector.given)
        memcpy(polar, p->polar_vector.v, sizeof polar);
    if (unitize(beam, r->beam) != 0)
        return bg_error_set(err, BG_VECTOR, "beam_vector",
                            "beam_vector must be finite and not zero");
    if (unitize(polar, r->polar) != 0)
        return bg_error_set(err, BG_VECTOR, "polar_vector",
                            "polar_vector must be finite and not zero");
    bg_status s = derive_vert(r->beam, r->polar, r->vert, err);
    if (s == BG_PARALLEL && !p->polar_vector.given)
        return default_polar_parallel(p, r->beam, polar, err);
    return s;
}

void bg_resolved_init(bg_resolved *r)
{
    memset(r, 0, sizeof *r);
    r->hc_eV_A = BG_HC_DEFAULT;
    r->total_flux = 1.0;
    r->normalize = BG_NORM_SUM;
    r->div_form = BG_DIV_FLAT;
    r->spectrum.form = BG_SPEC_NONE;
}

void bg_resolved_free(bg_resolved *r)
{
    free(r->spectrum.values);
    memset(r, 0, sizeof *r);
}

bg_status bg_resolved_copy(bg_resolved *dst, const bg_resolved *src)
{
    *dst = *src;
    if (src->spectrum.values == NULL)
        return BG_OK;
    size_t n = (size_t)src->spectrum.n;
    double *m = malloc(2 * n * sizeof *m);
    if (m == NULL) {
        memset(dst, 0, sizeof *dst);
        return BG_NOMEM;
    }
    memcpy(m, src->spectrum.values, n * sizeof *m);
    memcpy(m + n, src->spectrum.weights, n * sizeof *m);
    dst->spectrum.values = m;
    dst->spectrum.weights = m + n;
    return BG_OK;
}

int64_t bg_resolved_channels(const bg_resolved *r)
{
    return r->spectrum.form != BG_SPEC_NONE ? r->spectrum.n : r->disp.count;
}

bool bg_resolved_has_models(const bg_resolved *r)
{
    return r->spectrum.form != BG_SPEC_NONE || r->div_form != BG_DIV_FLAT ||
           r->normalize != BG_NORM_SUM || r->total_flux != 1.0;
}

bg_status bg_resolve(const bg_params *p, bg_resolved *out, bg_error *err)
{
    if (p->semantics == BG_SEM_TORCH)
        return bg_torch_resolve(p, out, err);
    if (p->dtype_given)
        return bg_error_set(err, BG_INVALID, "dtype",
                            "dtype is a field of \"semantics\": "
                            "\"nanobrag_torch\" only; nanoBragg computes in "
                            "float64 (choose the output type with ?dtype=)");
    bg_resolved r;
    bg_resolved_init(&r);
    bg_status s;
    if ((s = check_fields(p, err)) != BG_OK)
        return s;
    if (p->hc_eV_A.given)
        r.hc_eV_A = p->hc_eV_A.value;
    if ((s = bg_beam_resolve(p, &r, err)) != BG_OK)
        return s;
    if ((s = resolve_axes(p, &r, err)) != BG_OK ||
        (s = resolve_lambda(p, &r, err)) != BG_OK ||
        (s = resolve_vectors(p, &r, err)) != BG_OK) {
        bg_resolved_free(&r);
        return s;
    }
    r.source_distance_m = p->source_distance_mm.given
                              ? p->source_distance_mm.value / 1000.0
                              : 10000.0 / 1000.0;
    r.round_div = p->round_div;
    *out = r;
    return BG_OK;
}

/* One resolved axis: count in range and either count >= 1 with positive
 * finite range and step, or the reset state (1, 0, 0). */
static bg_status check_axis(const bg_axis *a, const char *field, bool quant,
                            bg_error *err)
{
    if (a->count < 1 || a->count > BG_AXIS_COUNT_MAX)
        return bg_error_set(err, BG_INVALID, field,
                            "%s count %lld is out of range", field,
                            (long long)a->count);
    if (quant)
        return a->range == 0.0 && a->step == 0.0
                   ? BG_OK
                   : bg_error_set(err, BG_INVALID, field,
                                  "%s of quantile sampling has a range", field);
    bool reset = a->count == 1 && a->range == 0.0 && a->step == 0.0;
    bool live = isfinite(a->range) && isfinite(a->step) && a->range > 0.0 &&
                a->step > 0.0;
    if (!reset && !live)
        return bg_error_set(err, BG_INVALID, field,
                            "%s range and step are not a resolved pair", field);
    return BG_OK;
}

static bool is_unit(const double v[3])
{
    for (int i = 0; i < 3; i++)
        if (!isfinite(v[i]))
            return false;
    return fabs(norm3(v) - 1.0) <= BG_UNIT_TOL;
}

bg_status bg_resolved_check(const bg_resolved *r, bg_error *err)
{
    if (r->semantics == BG_SEM_TORCH)
        return bg_torch_check(r, err);
    if (r->semantics != BG_SEM_NANOBRAGG || r->dtype != BG_F64 ||
        r->ignored != 0)
        return bg_error_set(err, BG_INVALID, "semantics",
                            "semantics, dtype or ignored fields are not "
                            "nanoBragg's");
    bg_status s;
    bool q = r->div_form == BG_DIV_QUANTILES;
    if ((s = check_axis(&r->hdiv, "hdivsteps", q, err)) != BG_OK ||
        (s = check_axis(&r->vdiv, "vdivsteps", q, err)) != BG_OK ||
        (s = check_axis(&r->disp, "dispsteps", false, err)) != BG_OK ||
        (s = bg_beam_check(r, err)) != BG_OK)
        return s;
    if (!isfinite(r->lambda0_m) || !(r->lambda0_m > 0.0))
        return bg_error_set(err, BG_INVALID, "lambda_A",
                            "lambda0 must be positive and finite");
    double first = r->lambda0_m * (1.0 - r->disp.range / 2.0);
    double last =
        r->lambda0_m * (1.0 + r->disp.step * (double)(r->disp.count - 1) -
                        r->disp.range / 2.0);
    if (!(first > 0.0) || !isfinite(last))
        return bg_error_set(err, BG_INVALID, "dispersion_percent",
                            "the dispersion makes a wavelength that is not "
                            "positive and finite");
    double d_mm = r->source_distance_m * 1000.0;
    if (!isfinite(d_mm) || !(d_mm >= BG_SCALE_MIN * 0.5) ||
        !(d_mm <= BG_SCALE_MAX * 2.0))
        return bg_error_set(err, BG_INVALID, "source_distance_mm",
                            "source distance out of range");
    if (!is_unit(r->beam))
        return bg_error_set(err, BG_VECTOR, "beam_vector",
                            "beam_vector is not a finite unit vector");
    if (!is_unit(r->polar))
        return bg_error_set(err, BG_VECTOR, "polar_vector",
                            "polar_vector is not a finite unit vector");
    double vert[3];
    if ((s = derive_vert(r->beam, r->polar, vert, err)) != BG_OK)
        return s;
    for (int i = 0; i < 3; i++)
        if (!(fabs(vert[i] - r->vert[i]) <= BG_UNIT_TOL))
            return bg_error_set(err, BG_VECTOR, "polar_vector",
                                "vert is not unit(beam x polar)");
    return BG_OK;
}

/* beam.c - the beam models of docs/beams.md: resolving the `spectrum`,
 * `divergence_profile` and `weights` fields (every 422 names its field),
 * the channels of a spectrum (diffBragg's generate_gauss_spec with numpy's
 * linspace, Gaussian quantiles, tables and .lam text), and the numerics:
 * erfinv to full double precision and numpy's pairwise sum. Pure: no I/O,
 * no globals. */
#include "core/beam.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* diffBragg's generate_gauss_spec: sigma = fwhm / 2.35482. */
#define BG_FWHM_PER_SIGMA 2.35482
/* The bounds of bg_resolve for lambdas and energies (so squares stay
 * finite). */
#define BG_VALUE_MIN 1e-100
#define BG_VALUE_MAX 1e100
/* numpy's pairwise block and reduction buffer. */
#define PW_BLOCKSIZE 128
#define NP_BUFSIZE   8192

/* ---- numerics ---- */

/* Giles' approximation ("Approximating the erfinv function", GPU Computing
 * Gems, 2011): about 1e-7 relative, refined by Halley below. */
static double erfinv_guess(double x)
{
    double w = -log((1.0 - x) * (1.0 + x)), p;
    if (w < 5.0) {
        w -= 2.5;
        p = 2.81022636e-08;
        p = 3.43273939e-07 + p * w;
        p = -3.5233877e-06 + p * w;
        p = -4.39150654e-06 + p * w;
        p = 0.00021858087 + p * w;
        p = -0.00125372503 + p * w;
        p = -0.00417768164 + p * w;
        p = 0.246640727 + p * w;
        p = 1.50140941 + p * w;
    } else {
        w = sqrt(w) - 3.0;
        p = -0.000200214257;
        p = 0.000100950558 + p * w;
        p = 0.00134934322 + p * w;
        p = -0.00367342844 + p * w;
        p = 0.00573950773 + p * w;
        p = -0.0076224613 + p * w;
        p = 0.00943887047 + p * w;
        p = 1.00167406 + p * w;
        p = 2.83297682 + p * w;
    }
    return p * x;
}

double bg_erfinv(double x)
{
    if (isnan(x) || x < -1.0 || x > 1.0)
        return NAN;
    if (x == 1.0)
        return INFINITY;
    if (x == -1.0)
        return -INFINITY;
    if (x == 0.0)
        return x;
    double a = fabs(x);
    double y = erfinv_guess(a);
    /* Halley on f(y) = erf(y) - a, f' = 2/sqrt(pi) exp(-y^2), f''/f' = -2y;
     * past 0.5 the residual is (1 - a) - erfc(y), 1 - a exact there. Two or
     * three steps from the guess, more only very near 1 where the guess is
     * poor (Giles' fit stops at float's 1 - 2^-24). */
    for (int it = 0; it < 64; it++) {
        double r = a <= 0.5 ? erf(y) - a : (1.0 - a) - erfc(y);
        double d = 1.1283791670955126 * exp(-y * y);
        if (r == 0.0 || d == 0.0)
            break;
        double dy = r / (d + r * y);
        y -= dy;
        if (fabs(dy) <= 1e-17 * fabs(y))
            break; /* converged: cubic, so the next step is below an ulp */
    }
    return x < 0.0 ? -y : y;
}

/* numpy's pairwise_sum (numpy/core/src/umath/loops_utils.h.src). */
static double pairwise(const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.0;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= PW_BLOCKSIZE) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + (size_t)j];
        double res =
            ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

double bg_pairwise_sum(const double *a, size_t n)
{
    double res = 0.0;
    for (size_t o = 0; o < n; o += NP_BUFSIZE)
        res += pairwise(a + o, n - o < NP_BUFSIZE ? n - o : NP_BUFSIZE);
    return res;
}

double bg_quantile(double sigma, int64_t i, int64_t n)
{
    return sigma * sqrt(2.0) *
           bg_erfinv(2.0 * ((double)i + 0.5) / (double)n - 1.0);
}

double bg_div_weight(const bg_resolved *r, double h, double v)
{
    return exp(-(h * h) / (2.0 * r->sigma_h * r->sigma_h) -
               (v * v) / (2.0 * r->sigma_v * r->sigma_v));
}

/* ---- .lam text ---- */

/* One number at *s (strtod, leading blanks allowed), advancing *s; -1 if
 * there is none. */
static int read_number(const char **s, const char *end, double *out)
{
    char buf[64];
    const char *p = *s;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    size_t k = 0;
    while (p + k < end && k < sizeof buf - 1 && p[k] != ',' && p[k] != ' ' &&
           p[k] != '\t' && p[k] != '\r')
        k++;
    if (k == 0 || k == sizeof buf - 1)
        return -1;
    memcpy(buf, p, k);
    buf[k] = '\0';
    char *stop;
    errno = 0;
    *out = strtod(buf, &stop);
    if (*stop != '\0')
        return -1;
    *s = p + k;
    return 0;
}

/* One data line [s, end): "lambda,weight" with optional blanks. */
static int lam_line(const char *s, const char *end, double *l, double *w)
{
    if (read_number(&s, end, l) != 0)
        return -1;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s >= end || *s != ',')
        return -1;
    s++;
    if (read_number(&s, end, w) != 0)
        return -1;
    while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++;
    return s == end ? 0 : -1;
}

static bool blank_line(const char *s, const char *end)
{
    for (; s < end; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r')
            return false;
    return true;
}

bg_status bg_lam_parse(const char *text, size_t len, double **lambda,
                       double **weight, size_t *n, bg_error *err)
{
    size_t cap = 0, count = 0, line = 1;
    double *l = NULL, *w = NULL;
    const char *s = text, *end = text + len;
    const char *nl = memchr(s, '\n', len);
    s = nl != NULL ? nl + 1 : end; /* the header line */
    while (s < end) {
        line++;
        nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl != NULL ? nl : end;
        if (!blank_line(s, e)) {
            if (count == BG_CHANNELS_MAX) {
                free(l);
                free(w);
                return bg_error_set(err, BG_INVALID, "spectrum.text",
                                    "spectrum.text has more than %d lines of "
                                    "data; the limit is %d",
                                    BG_CHANNELS_MAX, BG_CHANNELS_MAX);
            }
            if (count == cap) {
                cap = cap ? 2 * cap : 64;
                double *nl2 = realloc(l, cap * sizeof *l);
                if (nl2 != NULL)
                    l = nl2;
                double *nw = realloc(w, cap * sizeof *w);
                if (nw != NULL)
                    w = nw;
                if (nl2 == NULL || nw == NULL) {
                    free(l);
                    free(w);
                    return bg_error_set(err, BG_NOMEM, "spectrum.text",
                                        "out of memory");
                }
            }
            if (lam_line(s, e, &l[count], &w[count]) != 0) {
                free(l);
                free(w);
                return bg_error_set(err, BG_INVALID, "spectrum.text",
                                    "spectrum.text line %zu is not "
                                    "\"lambda_A,weight\" (two numbers and a "
                                    "comma; only the first line is a header)",
                                    line);
            }
            count++;
        }
        s = nl != NULL ? nl + 1 : end;
    }
    if (count == 0) {
        free(l);
        free(w);
        return bg_error_set(err, BG_INVALID, "spectrum.text",
                            "spectrum.text has no data line after its header");
    }
    *lambda = l;
    *weight = w;
    *n = count;
    return BG_OK;
}

/* ---- resolving ---- */

/* A field that the given kind does not take. */
static bg_status not_for(bg_error *err, const char *field, const char *kind)
{
    return bg_error_set(err, BG_INVALID, field,
                        "%s is not a field of %s; remove it", field, kind);
}

/* The fields of *s that kind `mask` does not take, by name: the first
 * one given, or NULL. */
enum {
    F_LAMBDA = 1,
    F_ENERGY = 2,
    F_WEIGHTS = 4,
    F_STRIDE = 8,
    F_TEXT = 16,
    F_FWHM = 32,
    F_CHANNELS = 64,
    F_CHANNEL_EV = 128,
    F_SAMPLING = 256
};

static const char *extra_field(const bg_spectrum_params *s, unsigned allowed)
{
    const struct {
        unsigned bit;
        bool given;
        const char *name;
    } f[] = {
        {F_LAMBDA, s->lambda_A.given, "spectrum.lambda_A"},
        {F_ENERGY, s->energy_eV.given, "spectrum.energy_eV"},
        {F_WEIGHTS, s->weights.given, "spectrum.weights"},
        {F_STRIDE, s->stride.given, "spectrum.stride"},
        {F_TEXT, s->text != NULL, "spectrum.text"},
        {F_FWHM, s->fwhm_eV.given, "spectrum.fwhm_eV"},
        {F_CHANNELS, s->channels.given, "spectrum.channels"},
        {F_CHANNEL_EV, s->channel_eV.given, "spectrum.channel_eV"},
        {F_SAMPLING, s->sampling_given, "spectrum.sampling"},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].given && !(allowed & f[i].bit))
            return f[i].name;
    return NULL;
}

/* A positive finite real within [lo, hi], or a 422 naming field. */
static bg_status check_range(double v, const char *field, double lo, double hi,
                             bg_error *err)
{
    if (!isfinite(v) || !(v > 0.0))
        return bg_error_set(err, BG_INVALID, field,
                            "%s must be a finite number greater than 0 (got "
                            "%.17g)",
                            field, v);
    if (v < lo || v > hi)
        return bg_error_set(err, BG_INVALID, field,
                            "%s must be between %g and %g (got %.17g)", field,
                            lo, hi, v);
    return BG_OK;
}

/* The stride of a table (1 if not given), or a 422. */
static bg_status table_stride(const bg_spectrum_params *s, int64_t *stride,
                              bg_error *err)
{
    *stride = 1;
    if (!s->stride.given)
        return BG_OK;
    if (s->stride.value < 1)
        return bg_error_set(err, BG_INVALID, "spectrum.stride",
                            "spectrum.stride must be at least 1 (got %lld)",
                            (long long)s->stride.value);
    *stride = s->stride.value;
    return BG_OK;
}

/* Keep every stride-th entry of values/weights (n entries, named vname and
 * spectrum.weights, or spectrum.text for a .lam) as the table of *r. */
static bg_status make_table(bg_resolved *r, bg_spec_form form,
                            const double *values, const double *weights,
                            size_t n, int64_t stride, const char *vname,
                            bg_error *err)
{
    bool lam = strcmp(vname, "spectrum.text") == 0;
    if (n < 1 || n > BG_CHANNELS_MAX)
        return bg_error_set(err, BG_INVALID, vname,
                            "%s must have 1 to %d entries (got %zu)", vname,
                            BG_CHANNELS_MAX, n);
    for (size_t i = 0; i < n; i++) {
        char field[BG_ERROR_FIELD_MAX];
        if (!isfinite(values[i]) || !(values[i] >= BG_VALUE_MIN) ||
            values[i] > BG_VALUE_MAX) {
            if (lam)
                return bg_error_set(err, BG_INVALID, vname,
                                    "spectrum.text data line %zu: the "
                                    "wavelength must be finite and between "
                                    "%g and %g A",
                                    i + 1, BG_VALUE_MIN, BG_VALUE_MAX);
            snprintf(field, sizeof field, "%s[%zu]", vname, i);
            return bg_error_set(err, BG_INVALID, field,
                                "%s must be finite and between %g and %g "
                                "(got %.17g)",
                                field, BG_VALUE_MIN, BG_VALUE_MAX, values[i]);
        }
        if (!isfinite(weights[i]) || !(weights[i] >= 0.0) ||
            weights[i] > BG_VALUE_MAX * BG_VALUE_MAX) {
            if (lam)
                return bg_error_set(err, BG_INVALID, vname,
                                    "spectrum.text data line %zu: the weight "
                                    "must be finite and >= 0",
                                    i + 1);
            snprintf(field, sizeof field, "spectrum.weights[%zu]", i);
            return bg_error_set(err, BG_INVALID, field,
                                "%s must be finite and >= 0 (got %.17g)", field,
                                weights[i]);
        }
    }
    size_t k = (n - 1) / (size_t)stride + 1;
    double *m = malloc(2 * k * sizeof *m);
    if (m == NULL)
        return bg_error_set(err, BG_NOMEM, vname, "out of memory");
    bool any = false;
    for (size_t c = 0; c < k; c++) {
        m[c] = values[c * (size_t)stride];
        m[k + c] = weights[c * (size_t)stride];
        any = any || m[k + c] > 0.0;
    }
    const char *wname = lam ? vname : "spectrum.weights";
    if (!any) {
        free(m);
        return bg_error_set(err, BG_INVALID, wname,
                            "every weight of the spectrum is 0 (after "
                            "stride); at least one must be positive");
    }
    if (!isfinite(bg_pairwise_sum(m + k, k))) {
        free(m);
        return bg_error_set(err, BG_INVALID, wname,
                            "the spectrum's weights sum past the largest "
                            "double; scale them down");
    }
    r->spectrum.form = form;
    r->spectrum.n = (int64_t)k;
    r->spectrum.values = m;
    r->spectrum.weights = m + k;
    return BG_OK;
}

static bg_status resolve_table(const bg_spectrum_params *s, bg_resolved *r,
                               bg_error *err)
{
    const char *extra =
        extra_field(s, F_LAMBDA | F_ENERGY | F_WEIGHTS | F_STRIDE);
    if (extra != NULL)
        return not_for(err, extra, "a table spectrum");
    if (s->lambda_A.given && s->energy_eV.given)
        return bg_error_set(err, BG_CONFLICT, "spectrum.energy_eV",
                            "give spectrum.lambda_A or spectrum.energy_eV, "
                            "not both");
    if (!s->lambda_A.given && !s->energy_eV.given)
        return bg_error_set(err, BG_INVALID, "spectrum.lambda_A",
                            "a table spectrum needs spectrum.lambda_A or "
                            "spectrum.energy_eV");
    if (!s->weights.given)
        return bg_error_set(err, BG_INVALID, "spectrum.weights",
                            "a table spectrum needs spectrum.weights");
    const bg_opt_array *v = s->lambda_A.given ? &s->lambda_A : &s->energy_eV;
    const char *vname =
        s->lambda_A.given ? "spectrum.lambda_A" : "spectrum.energy_eV";
    if (v->n < 1 || v->n > BG_CHANNELS_MAX)
        return bg_error_set(err, BG_INVALID, vname,
                            "%s must have 1 to %d entries (got %zu)", vname,
                            BG_CHANNELS_MAX, v->n);
    if (s->weights.n != v->n)
        return bg_error_set(err, BG_INVALID, "spectrum.weights",
                            "spectrum.weights has %zu entries; %s has %zu: "
                            "give one weight per entry",
                            s->weights.n, vname, v->n);
    int64_t stride;
    bg_status st = table_stride(s, &stride, err);
    if (st != BG_OK)
        return st;
    return make_table(
        r, s->lambda_A.given ? BG_SPEC_TABLE_LAMBDA : BG_SPEC_TABLE_ENERGY,
        v->v, s->weights.v, v->n, stride, vname, err);
}

static bg_status resolve_lam(const bg_spectrum_params *s, bg_resolved *r,
                             bg_error *err)
{
    const char *extra = extra_field(s, F_TEXT | F_STRIDE);
    if (extra != NULL)
        return not_for(err, extra, "a lam spectrum");
    if (s->text == NULL)
        return bg_error_set(err, BG_INVALID, "spectrum.text",
                            "a lam spectrum needs spectrum.text, the "
                            "content of a diffBragg .lam file");
    int64_t stride;
    bg_status st = table_stride(s, &stride, err);
    if (st != BG_OK)
        return st;
    double *l, *w;
    size_t n;
    if ((st = bg_lam_parse(s->text, s->text_len, &l, &w, &n, err)) != BG_OK)
        return st;
    st = make_table(r, BG_SPEC_TABLE_LAMBDA, l, w, n, stride, "spectrum.text",
                    err);
    free(l);
    free(w);
    return st;
}

/* The Gaussian's channel energies into e[0..n): numpy's linspace(lo, hi,
 * n) for GAUSS, the quantile midpoints for QUANTILES. */
static void gauss_energies(const bg_spectrum *s, double *e)
{
    int64_t n = s->n;
    double sigma = s->fwhm_eV / BG_FWHM_PER_SIGMA;
    if (s->form == BG_SPEC_QUANTILES) {
        for (int64_t c = 0; c < n; c++)
            e[c] = s->e0_eV + bg_quantile(sigma, c, n);
        return;
    }
    double lo = s->e0_eV - (double)n / 2.0 * s->channel_eV;
    double hi = s->e0_eV + (double)n / 2.0 * s->channel_eV;
    if (n == 1) {
        e[0] = lo;
        return;
    }
    double step = (hi - lo) / (double)(n - 1);
    for (int64_t c = 0; c < n - 1; c++) {
        double t = (double)c * step;
        e[c] = t + lo;
    }
    e[n - 1] = hi;
}

/* generate_gauss_spec's weight of energy en: exp(-(d*d)/2/pow(sigma, 2)). */
static double gauss_weight(const bg_spectrum *s, double en)
{
    double sigma = s->fwhm_eV / BG_FWHM_PER_SIGMA;
    double d = en - s->e0_eV;
    return exp(-(d * d) / 2.0 / pow(sigma, 2.0));
}

/* The channels of a Gaussian must have positive energies and (GAUSS) a
 * weight that does not underflow everywhere. */
static bg_status check_gauss(const bg_spectrum *s, bg_error *err)
{
    double *e = malloc((size_t)s->n * sizeof *e);
    if (e == NULL)
        return bg_error_set(err, BG_NOMEM, "spectrum", "out of memory");
    gauss_energies(s, e);
    bool q = s->form == BG_SPEC_QUANTILES;
    const char *wide = q ? "spectrum.fwhm_eV" : "spectrum.channel_eV";
    bool any = q;
    for (int64_t c = 0; c < s->n; c++) {
        if (!isfinite(e[c]) || !(e[c] >= BG_VALUE_MIN)) {
            double bad = e[c];
            free(e);
            return bg_error_set(err, BG_INVALID, wide,
                                "channel %lld has energy %.17g eV, which is "
                                "not positive; make %s smaller or the centre "
                                "energy larger",
                                (long long)c, bad, wide);
        }
        any = any || gauss_weight(s, e[c]) > 0.0;
    }
    free(e);
    if (!any)
        return bg_error_set(err, BG_INVALID, "spectrum.channel_eV",
                            "every channel weight of the Gaussian underflows "
                            "to 0; make spectrum.channel_eV smaller or "
                            "spectrum.fwhm_eV larger");
    return BG_OK;
}

/* The centre energy of a Gaussian: energy_eV, or hc / lambda_A. */
static double centre_energy(const bg_params *p, double hc)
{
    if (p->energy_eV.given)
        return p->energy_eV.value;
    return hc / (p->lambda_A.given ? p->lambda_A.value : 1.0);
}

static bg_status resolve_gauss(const bg_params *p, bg_resolved *r,
                               bg_error *err)
{
    const bg_spectrum_params *s = &p->spectrum;
    unsigned allowed = F_FWHM | F_CHANNELS | F_SAMPLING;
    if (!s->quantiles)
        allowed |= F_CHANNEL_EV;
    const char *extra = extra_field(s, allowed);
    if (extra != NULL)
        return not_for(err, extra,
                       s->quantiles ? "a Gaussian spectrum with quantile "
                                      "sampling"
                                    : "a Gaussian spectrum");
    if (!s->fwhm_eV.given)
        return bg_error_set(err, BG_INVALID, "spectrum.fwhm_eV",
                            "a Gaussian spectrum needs spectrum.fwhm_eV");
    if (!s->channels.given)
        return bg_error_set(err, BG_INVALID, "spectrum.channels",
                            "a Gaussian spectrum needs spectrum.channels");
    if (!s->quantiles && !s->channel_eV.given)
        return bg_error_set(err, BG_INVALID, "spectrum.channel_eV",
                            "a Gaussian spectrum needs spectrum.channel_eV "
                            "(or \"sampling\": \"quantiles\")");
    bg_status st;
    if ((st = check_range(s->fwhm_eV.value, "spectrum.fwhm_eV", BG_VALUE_MIN,
                          BG_VALUE_MAX, err)) != BG_OK)
        return st;
    if (!s->quantiles &&
        (st = check_range(s->channel_eV.value, "spectrum.channel_eV",
                          BG_VALUE_MIN, BG_VALUE_MAX, err)) != BG_OK)
        return st;
    if (s->channels.value < 1 || s->channels.value > BG_CHANNELS_MAX)
        return bg_error_set(err, BG_INVALID, "spectrum.channels",
                            "spectrum.channels must be 1 to %d (got %lld)",
                            BG_CHANNELS_MAX, (long long)s->channels.value);
    bg_spectrum sp = {
        .form = s->quantiles ? BG_SPEC_QUANTILES : BG_SPEC_GAUSS,
        .n = s->channels.value,
        .e0_eV = centre_energy(p, r->hc_eV_A),
        .fwhm_eV = s->fwhm_eV.value,
        .channel_eV = s->quantiles ? 0.0 : s->channel_eV.value,
    };
    if ((st = check_gauss(&sp, err)) != BG_OK)
        return st;
    r->spectrum = sp;
    return BG_OK;
}

static bg_status resolve_spectrum(const bg_params *p, bg_resolved *r,
                                  bg_error *err)
{
    const bg_spectrum_params *s = &p->spectrum;
    if (s->kind == BG_SPECTRUM_NONE)
        return BG_OK;
    const char *disp = p->dispersion_percent.given ? "dispersion_percent"
                       : p->dispstep_percent.given ? "dispstep_percent"
                       : p->dispsteps.given        ? "dispsteps"
                                                   : NULL;
    if (disp != NULL)
        return bg_error_set(err, BG_CONFLICT, "spectrum",
                            "spectrum replaces the dispersion fields; give "
                            "spectrum or %s, not both",
                            disp);
    switch (s->kind) {
    case BG_SPECTRUM_TABLE:
        return resolve_table(s, r, err);
    case BG_SPECTRUM_LAM:
        return resolve_lam(s, r, err);
    case BG_SPECTRUM_GAUSSIAN:
        return resolve_gauss(p, r, err);
    case BG_SPECTRUM_NONE:
        break;
    }
    return bg_error_set(err, BG_INVALID, "spectrum.kind",
                        "spectrum.kind is unknown");
}

/* Quantile sampling: the range and step fields have no meaning. */
static bg_status no_grid_fields(const bg_params *p, bg_error *err)
{
    const struct {
        bool given;
        const char *name;
    } f[] = {
        {p->divergence_mrad.given, "divergence_mrad"},
        {p->hdivrange_mrad.given, "hdivrange_mrad"},
        {p->vdivrange_mrad.given, "vdivrange_mrad"},
        {p->hdivstep_mrad.given, "hdivstep_mrad"},
        {p->vdivstep_mrad.given, "vdivstep_mrad"},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].given)
            return bg_error_set(err, BG_INVALID, f[i].name,
                                "%s has no meaning with quantile sampling of "
                                "the divergence (angles come from the "
                                "sigmas and the counts); remove it",
                                f[i].name);
    return BG_OK;
}

static bg_status resolve_divprof(const bg_params *p, bg_resolved *r,
                                 bg_error *err)
{
    const bg_divprof_params *d = &p->divergence_profile;
    r->div_form = BG_DIV_FLAT;
    if (!d->given)
        return BG_OK;
    if (d->kind == BG_DIVPROF_FLAT) {
        const char *extra =
            d->sigma_h_mrad.given   ? "divergence_profile.sigma_h_mrad"
            : d->sigma_v_mrad.given ? "divergence_profile.sigma_v_mrad"
            : d->sampling_given     ? "divergence_profile.sampling"
                                    : NULL;
        return extra == NULL ? BG_OK : not_for(err, extra, "a flat profile");
    }
    if (!d->sigma_h_mrad.given)
        return bg_error_set(err, BG_INVALID, "divergence_profile.sigma_h_mrad",
                            "a Gaussian profile needs sigma_h_mrad");
    if (!d->sigma_v_mrad.given)
        return bg_error_set(err, BG_INVALID, "divergence_profile.sigma_v_mrad",
                            "a Gaussian profile needs sigma_v_mrad");
    bg_status st;
    if ((st = check_range(d->sigma_h_mrad.value,
                          "divergence_profile.sigma_h_mrad", BG_VALUE_MIN,
                          BG_VALUE_MAX, err)) != BG_OK ||
        (st = check_range(d->sigma_v_mrad.value,
                          "divergence_profile.sigma_v_mrad", BG_VALUE_MIN,
                          BG_VALUE_MAX, err)) != BG_OK)
        return st;
    if (d->quantiles && (st = no_grid_fields(p, err)) != BG_OK)
        return st;
    r->div_form = d->quantiles ? BG_DIV_QUANTILES : BG_DIV_GAUSS;
    r->sigma_h = d->sigma_h_mrad.value / 1000.0;
    r->sigma_v = d->sigma_v_mrad.value / 1000.0;
    return BG_OK;
}

static bg_status resolve_weights(const bg_params *p, bg_resolved *r,
                                 bg_error *err)
{
    const bg_weights_params *w = &p->weights;
    r->normalize = w->normalize_given ? w->normalize : BG_NORM_SUM;
    r->total_flux = 1.0;
    if (!w->total_flux.given)
        return BG_OK;
    if (r->normalize != BG_NORM_SUM)
        return bg_error_set(err, BG_INVALID, "weights.total_flux",
                            "weights.total_flux applies only to normalize "
                            "\"sum\"; remove it or use \"sum\"");
    bg_status st = check_range(w->total_flux.value, "weights.total_flux",
                               BG_VALUE_MIN, BG_VALUE_MAX, err);
    if (st == BG_OK)
        r->total_flux = w->total_flux.value;
    return st;
}

/* The angle nearest 0 of a resolved grid axis. */
static double nearest_angle(const bg_axis *a)
{
    if (a->step == 0.0)
        return -a->range / 2.0;
    double best = INFINITY;
    double q = floor(a->range / 2.0 / a->step);
    for (double i = q - 1.0; i <= q + 2.0; i += 1.0) {
        if (i < 0.0 || i > (double)(a->count - 1))
            continue;
        double x = a->step * i - a->range / 2.0;
        if (fabs(x) < fabs(best))
            best = x;
    }
    return isfinite(best) ? best : -a->range / 2.0;
}

/* The largest Gaussian divergence weight must not underflow. */
static bg_status check_div_weights(const bg_resolved *r, bg_error *err)
{
    if (r->div_form != BG_DIV_GAUSS)
        return BG_OK;
    double w =
        bg_div_weight(r, nearest_angle(&r->hdiv), nearest_angle(&r->vdiv));
    if (w > 0.0)
        return BG_OK;
    return bg_error_set(err, BG_INVALID, "divergence_profile.sigma_h_mrad",
                        "every divergence weight underflows to 0: the "
                        "sigmas are far smaller than the grid's angles; "
                        "make them larger");
}

bg_status bg_beam_resolve(const bg_params *p, bg_resolved *r, bg_error *err)
{
    bg_status st;
    if ((st = resolve_divprof(p, r, err)) != BG_OK ||
        (st = resolve_weights(p, r, err)) != BG_OK ||
        (st = resolve_spectrum(p, r, err)) != BG_OK)
        return st;
    if ((st = check_div_weights(r, err)) != BG_OK) {
        free(r->spectrum.values);
        memset(&r->spectrum, 0, sizeof r->spectrum);
    }
    return st;
}

static bool in_range(double v)
{
    return isfinite(v) && v >= BG_VALUE_MIN && v <= BG_VALUE_MAX;
}

static bg_status bad(bg_error *err, const char *field)
{
    return bg_error_set(err, BG_INVALID, field, "%s is out of range", field);
}

static bg_status check_spectrum(const bg_resolved *r, bg_error *err)
{
    const bg_spectrum *s = &r->spectrum;
    if (s->form == BG_SPEC_NONE)
        return s->n == 0 && s->values == NULL ? BG_OK : bad(err, "spectrum");
    if (r->disp.count != 1 || s->n < 1 || s->n > BG_CHANNELS_MAX)
        return bad(err, "spectrum");
    if (s->form == BG_SPEC_TABLE_LAMBDA || s->form == BG_SPEC_TABLE_ENERGY) {
        if (s->values == NULL || s->weights != s->values + s->n)
            return bad(err, "spectrum");
        bool any = false;
        for (int64_t k = 0; k < s->n; k++) {
            if (!in_range(s->values[k]) || !isfinite(s->weights[k]) ||
                !(s->weights[k] >= 0.0) ||
                s->weights[k] > BG_VALUE_MAX * BG_VALUE_MAX)
                return bad(err, "spectrum");
            any = any || s->weights[k] > 0.0;
        }
        if (!any || !isfinite(bg_pairwise_sum(s->weights, (size_t)s->n)))
            return bad(err, "spectrum.weights");
        return BG_OK;
    }
    if (s->form != BG_SPEC_GAUSS && s->form != BG_SPEC_QUANTILES)
        return bad(err, "spectrum.kind");
    bool q = s->form == BG_SPEC_QUANTILES;
    if (s->values != NULL || !in_range(s->e0_eV) || !in_range(s->fwhm_eV) ||
        (q ? s->channel_eV != 0.0 : !in_range(s->channel_eV)))
        return bad(err, "spectrum");
    return check_gauss(s, err);
}

bg_status bg_beam_check(const bg_resolved *r, bg_error *err)
{
    if (!in_range(r->hc_eV_A))
        return bad(err, "hc_eV_A");
    if (r->div_form != BG_DIV_FLAT && r->div_form != BG_DIV_GAUSS &&
        r->div_form != BG_DIV_QUANTILES)
        return bad(err, "divergence_profile.kind");
    if (r->div_form == BG_DIV_FLAT ? (r->sigma_h != 0.0 || r->sigma_v != 0.0)
                                   : (!in_range(r->sigma_h * 1000.0) ||
                                      !in_range(r->sigma_v * 1000.0)))
        return bad(err, "divergence_profile.sigma_h_mrad");
    if (r->normalize != BG_NORM_SUM && r->normalize != BG_NORM_MEAN &&
        r->normalize != BG_NORM_NONE)
        return bad(err, "weights.normalize");
    if (!in_range(r->total_flux) ||
        (r->normalize != BG_NORM_SUM && r->total_flux != 1.0))
        return bad(err, "weights.total_flux");
    bg_status st = check_spectrum(r, err);
    if (st != BG_OK)
        return st;
    return check_div_weights(r, err);
}

/* ---- channels ---- */

void bg_channels_free(bg_channels *c)
{
    free(c->lambda_m);
    memset(c, 0, sizeof *c);
}

bg_status bg_channels_make(const bg_resolved *r, bg_channels *c)
{
    memset(c, 0, sizeof *c);
    const bg_spectrum *s = &r->spectrum;
    int64_t n = s->form == BG_SPEC_NONE ? r->disp.count : s->n;
    double *m = malloc(4 * (size_t)n * sizeof *m);
    if (m == NULL)
        return BG_NOMEM;
    c->n = n;
    c->lambda_m = m;
    c->lambda_A = m + n;
    c->energy_eV = m + 2 * n;
    c->weight = m + 3 * n;
    double hc = r->hc_eV_A;
    for (int64_t k = 0; k < n; k++) {
        switch (s->form) {
        case BG_SPEC_NONE:
            c->lambda_m[k] = r->lambda0_m * (1.0 + r->disp.step * (double)k -
                                             r->disp.range / 2.0);
            c->lambda_A[k] = c->lambda_m[k] * 1e10;
            c->energy_eV[k] = hc / c->lambda_A[k];
            c->weight[k] = 1.0;
            break;
        case BG_SPEC_TABLE_LAMBDA:
            c->lambda_A[k] = s->values[k];
            c->lambda_m[k] = s->values[k] / 1.0e10;
            c->energy_eV[k] = hc / s->values[k];
            c->weight[k] = s->weights[k];
            break;
        case BG_SPEC_TABLE_ENERGY:
            c->energy_eV[k] = s->values[k];
            c->lambda_A[k] = hc / s->values[k];
            c->lambda_m[k] = (hc / s->values[k]) / 1.0e10;
            c->weight[k] = s->weights[k];
            break;
        case BG_SPEC_GAUSS:
        case BG_SPEC_QUANTILES:
            break;
        }
    }
    if (s->form == BG_SPEC_GAUSS || s->form == BG_SPEC_QUANTILES) {
        gauss_energies(s, c->energy_eV);
        for (int64_t k = 0; k < n; k++) {
            c->lambda_A[k] = hc / c->energy_eV[k];
            c->lambda_m[k] = (hc / c->energy_eV[k]) / 1.0e10;
            c->weight[k] = s->form == BG_SPEC_GAUSS
                               ? gauss_weight(s, c->energy_eV[k])
                               : 1.0;
        }
    }
    return BG_OK;
}

void bg_channels_normalized(const bg_resolved *r, const bg_channels *c,
                            double *out)
{
    double sum = bg_pairwise_sum(c->weight, (size_t)c->n);
    for (int64_t k = 0; k < c->n; k++) {
        double w = c->weight[k];
        if (r->normalize == BG_NORM_SUM)
            w = w / sum * r->total_flux;
        else if (r->normalize == BG_NORM_MEAN)
            w = w / (sum / (double)c->n);
        out[k] = w;
    }
}

/* ---- summary ---- */

/* Element i of a column as a double. */
static double col_at(const bg_grid *g, const void *col, uint64_t i)
{
    return g->dtype == BG_F32 ? (double)((const float *)col)[i]
                              : ((const double *)col)[i];
}

void bg_summary_of(const bg_grid *g, bg_summary *s)
{
    double buf[NP_BUFSIZE], ws = 0.0, wl = 0.0;
    double lo = INFINITY, hi = -INFINITY;
    s->count = g->count;
    s->points = g->points;
    s->channels = g->points ? g->count / g->points : 0;
    /* as np.sum(w) and np.sum(w * lambda): pairwise per 8192 */
    for (uint64_t o = 0; o < g->count; o += NP_BUFSIZE) {
        size_t n =
            (size_t)(g->count - o < NP_BUFSIZE ? g->count - o : NP_BUFSIZE);
        for (size_t i = 0; i < n; i++)
            buf[i] = col_at(g, g->weight, o + i);
        ws += pairwise(buf, n);
        for (size_t i = 0; i < n; i++) {
            double l = col_at(g, g->lambda, o + i);
            lo = l < lo ? l : lo;
            hi = l > hi ? l : hi;
            buf[i] *= l;
        }
        wl += pairwise(buf, n);
    }
    s->weight_sum = ws;
    s->mean_wavelength_A = wl / ws * 1e10;
    s->min_wavelength_A = lo * 1e10;
    s->max_wavelength_A = hi * 1e10;
}

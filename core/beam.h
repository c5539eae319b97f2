/* beam.h - the beam models of docs/beams.md: spectra (table, .lam text,
 * Gaussian, Gaussian quantiles), the divergence profile, flux weights, and
 * the numerics they need (erfinv, numpy's pairwise sum).
 *
 * bg_resolve calls bg_beam_resolve for the model fields; the grid
 * (core/grid.c) asks bg_channels_make for the channels and bg_div_weight /
 * bg_quantile_angle for the divergence. Pure: no I/O, no globals; the only
 * memory is what a bg_resolved or bg_channels owns. */
#ifndef BG_BEAM_H
#define BG_BEAM_H

#include <stddef.h>
#include <stdint.h>

#include "bg_error.h"
#include "grid.h"
#include "params.h"
#include "resolve.h"

/* The inverse error function, to full double precision (about 1 ulp):
 * erfinv(-1) = -inf, erfinv(1) = inf, NaN outside [-1, 1]. */
double bg_erfinv(double x);

/* numpy's np.sum of a[0..n) for float64: pairwise, 8 accumulators in
 * blocks of 128, over chunks of 8192 added in order. */
double bg_pairwise_sum(const double *a, size_t n);

/* The quantile angle (or energy offset) of bin i of n under a Gaussian of
 * sigma: sigma*sqrt(2)*erfinv(2*(i+0.5)/n - 1). */
double bg_quantile(double sigma, int64_t i, int64_t n);

/* The Gaussian divergence weight of a point (h, v) in radians:
 * exp(-h^2/(2 sh^2) - v^2/(2 sv^2)). */
double bg_div_weight(const bg_resolved *r, double h, double v);

/* Resolve the model fields of *p (hc_eV_A, spectrum, divergence_profile,
 * weights) into *r, whose axes and lambda0 bg_resolve has set. On failure
 * returns BG_INVALID or BG_CONFLICT with *err naming the field (for
 * example spectrum.weights[3]) and leaves nothing allocated in *r. */
bg_status bg_beam_resolve(const bg_params *p, bg_resolved *r, bg_error *err);

/* Check the model fields of a set that did not come from bg_resolve
 * (decoded from an id): everything bg_beam_resolve could have produced.
 * Returns BG_OK or BG_INVALID. */
bg_status bg_beam_check(const bg_resolved *r, bg_error *err);

/* Parse the text of a diffBragg .lam file: the first line is a header,
 * every other non-empty line is "lambda_A,weight". On success *lambda and
 * *weight are malloc'd arrays of *n entries (the caller frees both). On
 * failure BG_INVALID naming spectrum.text with the line number. */
bg_status bg_lam_parse(const char *text, size_t len, double **lambda,
                       double **weight, size_t *n, bg_error *err);

/* The channels of a grid: per channel its wavelength (m and A), energy
 * (eV) and raw spectral weight (1 without a spectrum). Without a spectrum
 * these are the dispersion channels: lambda_m = lambda0*(1 + step*k -
 * range/2), lambda_A = lambda_m*1e10, energy = hc/lambda_A. One
 * allocation, owned; free with bg_channels_free. */
typedef struct {
    int64_t n;
    double *lambda_m, *lambda_A, *energy_eV, *weight;
} bg_channels;

bg_status bg_channels_make(const bg_resolved *r, bg_channels *c);
void bg_channels_free(bg_channels *c);

/* The channel weights alone normalized as the weights say (sum: w/sum *
 * total_flux; mean: w/(sum/n); none: w) into out[0..c->n): what the .lam
 * export and dxtbx's spectrum carry. */
void bg_channels_normalized(const bg_resolved *r, const bg_channels *c,
                            double *out);

/* The summary of a filled float64 or float32 grid (docs/beams.md):
 * sources, divergence points, channels, the weights' sum (numpy's np.sum),
 * the weighted mean wavelength sum(w*lambda)/sum(w) and the extreme
 * wavelengths, in Angstrom (lambda_m * 1e10). */
typedef struct {
    uint64_t count, points, channels;
    double weight_sum, mean_wavelength_A, min_wavelength_A, max_wavelength_A;
} bg_summary;

void bg_summary_of(const bg_grid *g, bg_summary *s);

#endif

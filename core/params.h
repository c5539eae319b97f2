/* params.h - the request fields (docs/semantics.md §2.1) as a client gave them.
 *
 * Every field records whether it was given, because nanoBragg's resolution
 * (§2.2) depends on which fields are present, not only on their values.
 * Values are in the request's units (Angstrom, eV, percent, mrad, mm). */
#ifndef BG_PARAMS_H
#define BG_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    BG_CONV_MOSFLM,
    BG_CONV_XDS,
    BG_CONV_DIALS,
    BG_CONV_ADXV,
    BG_CONV_DENZO,
    BG_CONV_CUSTOM,
    BG_CONV_COUNT
} bg_convention;

/* How a request is resolved and computed: nanoBragg.c's rules (the
 * default; README) or the PyTorch port's (docs/torch.md). */
typedef enum { BG_SEM_NANOBRAGG, BG_SEM_TORCH, BG_SEM_COUNT } bg_semantics;

/* A floating-point type: of a grid's columns (core/grid.h), and under the
 * PyTorch port's semantics also of its arithmetic (docs/torch.md). */
typedef enum { BG_F64, BG_F32 } bg_dtype;

/* An optional real number: value is meaningful only when given. */
typedef struct {
    bool given;
    double value;
} bg_opt_real;

/* An optional count: value is meaningful only when given. */
typedef struct {
    bool given;
    int64_t value;
} bg_opt_count;

/* An optional 3-vector (not yet normalized). */
typedef struct {
    bool given;
    double v[3];
} bg_opt_vec3;

/* An optional array of reals, owned by the bg_params holding it (freed by
 * bg_params_free). */
typedef struct {
    bool given;
    size_t n;
    double *v;
} bg_opt_array;

/* docs/beams.md: the beam models. Kinds as the request names them. */
typedef enum {
    BG_SPECTRUM_NONE, /* no spectrum: nanoBragg's dispersion fields */
    BG_SPECTRUM_TABLE,
    BG_SPECTRUM_LAM,
    BG_SPECTRUM_GAUSSIAN
} bg_spectrum_kind;

typedef enum { BG_DIVPROF_FLAT, BG_DIVPROF_GAUSSIAN } bg_divprof_kind;

typedef enum { BG_NORM_SUM, BG_NORM_MEAN, BG_NORM_NONE } bg_normalize;

/* The `spectrum` object as given. text is owned (NUL-terminated, text_len
 * bytes before the NUL). */
typedef struct {
    bg_spectrum_kind kind; /* BG_SPECTRUM_NONE: not given */
    bool sampling_given;
    bool quantiles; /* "sampling": "quantiles" (else "weights") */
    bg_opt_array lambda_A, energy_eV, weights;
    char *text;
    size_t text_len;
    bg_opt_count stride, channels;
    bg_opt_real fwhm_eV, channel_eV;
} bg_spectrum_params;

/* The `divergence_profile` object as given. */
typedef struct {
    bool given;
    bg_divprof_kind kind;
    bool sampling_given;
    bool quantiles;
    bg_opt_real sigma_h_mrad, sigma_v_mrad;
} bg_divprof_params;

/* The `weights` object as given. */
typedef struct {
    bool given;
    bool normalize_given;
    bg_normalize normalize;
    bg_opt_real total_flux;
} bg_weights_params;

typedef struct {
    bg_opt_real lambda_A;
    bg_opt_real energy_eV;
    bg_opt_real dispersion_percent;
    bg_opt_real dispstep_percent;
    bg_opt_count dispsteps;
    bg_opt_real divergence_mrad;
    bg_opt_real hdivrange_mrad;
    bg_opt_real vdivrange_mrad;
    bg_opt_real hdivstep_mrad;
    bg_opt_real vdivstep_mrad;
    bg_opt_count divsteps;
    bg_opt_count hdivsteps;
    bg_opt_count vdivsteps;
    bool round_div; /* default true */
    bool convention_given;
    bg_convention convention; /* default BG_CONV_MOSFLM */
    bg_opt_vec3 beam_vector;
    bg_opt_vec3 polar_vector;
    bg_opt_real source_distance_mm;
    bg_semantics semantics; /* default BG_SEM_NANOBRAGG */
    bool dtype_given;       /* "dtype": only with BG_SEM_TORCH */
    bg_dtype dtype;         /* default BG_F32 (the port's -dtype) */
    bg_opt_real hc_eV_A;    /* docs/beams.md; default 12398.42 */
    bg_spectrum_params spectrum;
    bg_divprof_params divergence_profile;
    bg_weights_params weights;
} bg_params;

/* Set *p to the defaults: nothing given, round_div true, MOSFLM,
 * nanoBragg semantics. */
void bg_params_init(bg_params *p);

/* Free the arrays and text *p owns (a table spectrum, a .lam text) and
 * reset it to the defaults. Safe on an initialized or freed bg_params.
 * A bg_params may be moved by value (one owner at a time), not copied. */
void bg_params_free(bg_params *p);

/* Look up a convention by its upper-case name ("MOSFLM", "XDS", "DIALS",
 * "ADXV", "DENZO", "CUSTOM"). Returns 0 and sets *out, or -1 if unknown. */
int bg_convention_from_name(const char *name, bg_convention *out);

/* The upper-case name of a convention; a static string, "UNKNOWN" if out of
 * range. */
const char *bg_convention_name(bg_convention c);

/* Look up a semantics by its request name ("nanobragg", "nanobrag_torch").
 * Returns 0 and sets *out, or -1 if unknown. */
int bg_semantics_from_name(const char *name, bg_semantics *out);

/* The request name of a semantics; a static string, "unknown" if out of
 * range. */
const char *bg_semantics_name(bg_semantics s);

#endif

/* resolve.h - from request parameters to the sampling nanoBragg.c would use.
 *
 * bg_resolve applies docs/semantics.md §2.1's unit conversions (exactly so:
 * they decide step counts) and §2.2's count/range/step table and sanity
 * reset for each of the three axes, picks the beam and polarization vectors
 * of the convention (§2.5), normalizes them and derives the vertical
 * axis. The result is all the grid depends on, so it is also what ids and
 * cache keys are made of. */
#ifndef BG_RESOLVE_H
#define BG_RESOLVE_H

#include "bg_error.h"
#include "params.h"

/* The largest count any one axis may resolve to. Larger requests are
 * BG_TOO_MANY before any arithmetic on them. */
#define BG_AXIS_COUNT_MAX INT64_C(1000000000)

/* One sampled axis in SI units: radians for divergence, a fraction of
 * lambda0 for dispersion. After resolution either count >= 1 with range > 0
 * and step > 0, or (the sanity reset) count 1 with range == step == 0. */
typedef struct {
    int64_t count;
    double range;
    double step;
} bg_axis;

/* Request fields the PyTorch port reads and then ignores
 * (bg_resolved.ignored; docs/torch.md "Warnings"). They do not change the
 * grid, but they are part of the id, so that the warnings of an answer are
 * a function of its id. */
#define BG_IGNORED_DIVSTEPS     1u /* the port never reads -divsteps */
#define BG_IGNORED_BEAM_VECTOR  2u /* makes CUSTOM; the vector is unused */
#define BG_IGNORED_POLAR_VECTOR 4u /* likewise */
#define BG_IGNORED_LAMBDA_A     8u /* energy_eV wins over lambda_A */
#define BG_IGNORED_ALL          15u

typedef struct {
    bg_axis hdiv;             /* radians */
    bg_axis vdiv;             /* radians */
    bg_axis disp;             /* fraction of lambda0 */
    double lambda0_m;         /* metres */
    double beam[3];           /* unit */
    double polar[3];          /* unit, not orthogonalized */
    double vert[3];           /* unit(beam x polar) */
    double source_distance_m; /* metres */
    bool round_div;
    /* BG_SEM_TORCH: the PyTorch port's rules (core/torch.h, docs/torch.md).
     * Its axes may then hold what the port's table gives (a count of 0, a
     * range of 0 with several points, no sanity reset), beam and polar are
     * one of the port's two pairs, dtype is the arithmetic's type and
     * ignored holds BG_IGNORED_* bits. Under BG_SEM_NANOBRAGG (0, so a
     * zeroed struct) dtype is BG_F64 and ignored 0, both unused. */
    bg_semantics semantics;
    bg_dtype dtype;
    unsigned ignored;
} bg_resolved;

/* Resolve *p into *out. Returns BG_OK, or fills *err (may be NULL) and
 * returns BG_INVALID (a negative, zero or non-finite value where §2.1
 * forbids it), BG_CONFLICT (lambda_A with energy_eV), BG_VECTOR (a zero or
 * non-finite vector), BG_PARALLEL (polarization parallel to the beam) or
 * BG_TOO_MANY (an axis past BG_AXIS_COUNT_MAX). *out is written only on
 * success. Pure: no allocation, no global state.
 * Beyond "finite and > 0" (§2.1): lambda_A, energy_eV and
 * source_distance_mm must lie in [1e-100, 1e100] (so that squares stay
 * finite), dispersion_percent must leave every wavelength positive (below
 * 200), a step of 0 counts as not given (nanoBragg's `step <= 0`), and a
 * polarization within 1e-12 rad of the beam axis is BG_PARALLEL. */
bg_status bg_resolve(const bg_params *p, bg_resolved *out, bg_error *err);
/* With p->semantics == BG_SEM_TORCH, bg_resolve is bg_torch_resolve
 * (core/torch.h) and bg_resolved_check of such a set bg_torch_check. Under
 * nanoBragg semantics "dtype" is BG_INVALID naming it. */

/* Check that a resolved set that did not come from bg_resolve (say, decoded
 * from an id) is one bg_resolve could have produced: finite values, counts
 * in range, unit vectors with vert consistent with beam and polar. Returns
 * BG_OK or an error as bg_resolve does. */
bg_status bg_resolved_check(const bg_resolved *r, bg_error *err);

/* vert = unit(beam x polar), computed exactly as bg_resolve does (so from
 * the beam and polar of a resolved set it gives that set's vert, bit for
 * bit). Fails with BG_PARALLEL when polar is (anti)parallel to beam. Lets
 * a decoder rebuild vert instead of storing it. */
bg_status bg_resolved_derive_vert(const double beam[3], const double polar[3],
                                  double vert[3], bg_error *err);

#endif

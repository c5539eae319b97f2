/* torch.h - the PyTorch port's source list (nanobrag_torch's
 * generate_sources_from_divergence_dispersion, reached through its command
 * line), as a semantics of beamgrid: "semantics": "nanobrag_torch".
 *
 * docs/torch.md is the reference: the port's unit conversions (* 0.001,
 * * 1e-10), its count/range/step rules checked in their order with no
 * sanity reset, its two beam/polarization pairs, and its generator with the
 * angles, the elliptical trim and the wavelengths computed in the
 * requested dtype (float32 work in float), rotations skipped for
 * |angle| <= 1e-10, weights 1, and one +z source when nothing is left.
 * Pure: no global state; the fill is OpenMP-parallel for large grids and
 * bit-identical for every thread count. */
#ifndef BG_TORCH_H
#define BG_TORCH_H

#include <stdint.h>

#include "core/bg_error.h"
#include "core/grid.h"
#include "core/params.h"
#include "core/resolve.h"

/* Resolve *p (p->semantics == BG_SEM_TORCH) with the port's rules into
 * *out (semantics BG_SEM_TORCH, the dtype, the BG_IGNORED_* bits of the
 * fields the port ignores). Fails naming the field with BG_INVALID for a
 * field the port cannot take (dispstep_percent, source_distance_mm), a
 * negative or non-finite value, a count below 0, or a dispersion that
 * makes a wavelength <= 0; BG_TOO_MANY for an axis past
 * BG_AXIS_COUNT_MAX. A count of 0 and a lambda_A or energy_eV of 0 are
 * "not given", as in the port; energy_eV wins over lambda_A. */
bg_status bg_torch_resolve(const bg_params *p, bg_resolved *out, bg_error *err);

/* Check that *r (semantics BG_SEM_TORCH, say decoded from an id) is a set
 * bg_torch_resolve could have produced: counts in [0, BG_AXIS_COUNT_MAX]
 * (dispersion >= 1), finite ranges and steps >= 0, a positive lambda0 and
 * wavelengths, one of the port's two vector pairs, a source distance of
 * 10 m, a dtype and known ignored bits. */
bg_status bg_torch_check(const bg_resolved *r, bg_error *err);

/* Count the sources of *r: kept points times wavelengths, or 1 (the +z
 * fallback, *points then 0) when that is 0. BG_TOO_MANY past max_sources,
 * or when the trim would have to test a rectangle of more than
 * 4 x max_sources / dispsteps + 1024 points. Checks *r first. */
bg_status bg_torch_count(const bg_resolved *r, uint64_t max_sources,
                         uint64_t *count, uint64_t *points, bg_error *err);

/* Fill *g, allocated for exactly bg_torch_count(r) sources (any column
 * dtype; with BG_GRID_POSITIONS the positions are the directions times the
 * 10 m source distance), with the port's sources in its order. Values are
 * computed in r->dtype and then stored (float to double is exact). Sets
 * g->points (0 for the fallback). threads <= 0: the OpenMP default; small
 * grids stay serial. BG_INVALID if g does not match, BG_NOMEM. */
bg_status bg_torch_fill(const bg_resolved *r, bg_grid *g, int threads);

#endif

/* grid.h - the source grid of docs/semantics.md §2.3, in nanoBragg.c's order.
 *
 * The count of sources is known before anything is allocated
 * (bg_grid_count), the arrays are allocated once (bg_grid_alloc) and filled
 * in parallel (bg_grid_fill) with output bit-identical for every thread
 * count. Structure of arrays: one array per column. */
#ifndef BG_GRID_H
#define BG_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "bg_error.h"
#include "resolve.h"

/* The version of the values the core produces. Bump it whenever any value
 * bg_resolve or bg_grid_fill gives for some request changes (even in the
 * last bit): it is part of every ETag (api/ids.h), so caches holding grids
 * of the old code stop matching. */
#define BG_CORE_VERSION 1

/* Flags for bg_grid_alloc. */
#define BG_GRID_POSITIONS 1u /* also keep source positions (metres) */

/* A filled grid. Column arrays hold `count` elements of `dtype` (double or
 * float): x, y, z the unit direction from the sample toward the source,
 * weight 1/count (or the beam models' weights, docs/beams.md), lambda the
 * wavelength in metres. The five columns lie
 * back to back in one allocation, `block`, after `lead` bytes the caller
 * asked for (room for a file header, so header and columns can be one
 * contiguous body). px, py, pz are the positions in metres (always double,
 * one allocation starting at px), or NULL unless BG_GRID_POSITIONS was
 * asked for. The memory is owned by the grid and freed by bg_grid_free. */
typedef struct {
    uint64_t count;  /* sources */
    uint64_t points; /* kept divergence points = count / disp */
    bg_dtype dtype;
    void *block; /* lead bytes, then x, y, z, weight, lambda */
    size_t lead;
    void *x, *y, *z, *weight, *lambda;
    double *px, *py, *pz;
} bg_grid;

/* Count the sources *r makes, without allocating: kept divergence points
 * times dispersion steps (or spectrum channels), in 64 bits with overflow
 * checks. Fails with BG_TOO_MANY (naming the count and the limit) if the count
 * exceeds max_sources, or if the divergence rectangle alone is too large to
 * test, and with BG_EMPTY if every point is trimmed (docs/semantics.md §2.7).
 * On success sets *count and, if points is not NULL, *points. The count is
 * exact and costs O(rows x log columns): a grid within the limit is never
 * refused, except when an axis is "untame" (its angles or step more than 1e150
 * times its range, or past 1e150 rad), where every point is tested and a
 * rectangle of more than 4 x max_sources/dispsteps + 1024 points is refused as
 * too large to test. Checks *r with bg_resolved_check first (and returns its
 * error). */
bg_status bg_grid_count(const bg_resolved *r, uint64_t max_sources,
                        uint64_t *count, uint64_t *points, bg_error *err);

/* Allocate the columns of *g for `count` sources of `dtype` (flags: 0 or
 * BG_GRID_POSITIONS). Returns BG_OK or BG_NOMEM (nothing left allocated).
 * *g is fully initialized either way, so bg_grid_free is always safe. */
bg_status bg_grid_alloc(bg_grid *g, uint64_t count, bg_dtype dtype,
                        unsigned flags);

/* bg_grid_alloc with `lead` bytes before x in the columns' one block
 * (g->block; x is g->block + lead, so keep lead a multiple of 16 for
 * alignment). */
bg_status bg_grid_alloc_lead(bg_grid *g, uint64_t count, bg_dtype dtype,
                             unsigned flags, size_t lead);

/* Fill *g, allocated for exactly bg_grid_count(r) sources, with the grid of
 * *r. threads <= 0 means the OpenMP default; small grids stay serial. The
 * output does not depend on the thread count, bit for bit. Returns BG_OK
 * (and sets g->points), BG_INVALID if g->count does not match or *r fails
 * bg_resolved_check, or BG_NOMEM (scratch of about 24 bytes a column and 16
 * a row, allocated before any parallel region). An untame grid (see
 * bg_grid_count) is filled serially. Values are nanoBragg's arithmetic bit
 * for bit; float32 columns hold the float64 values rounded to float. */
bg_status bg_grid_fill(const bg_resolved *r, bg_grid *g, int threads);

/* Under "semantics": "nanobrag_torch" (r->semantics == BG_SEM_TORCH),
 * bg_grid_count and bg_grid_fill are bg_torch_count and bg_torch_fill
 * (core/torch.h): the port's grid, weights 1, and one +z source (points 0)
 * when nothing is left instead of BG_EMPTY. */

/* Free the columns of *g and zero it. Safe on a zeroed or freed grid. */
void bg_grid_free(bg_grid *g);

#endif

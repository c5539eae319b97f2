/* count.h - internal to core/: what the two semantics' counts
 * (bg_grid_count in core/grid.c, bg_torch_count in core/torch.c) share:
 * the cap on points tested literally, and the verdict on a count against
 * --max-sources, naming the largest axis (docs/semantics.md §2.7). */
#ifndef BG_COUNT_H
#define BG_COUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bg_error.h"
#include "core/resolve.h"

/* Points a count may test one by one for a cap of `cap` points: 4 x cap +
 * 1024, saturating. */
static inline uint64_t bg_count_work_cap(uint64_t cap)
{
    return cap > (UINT64_MAX - 1024) / 4 ? UINT64_MAX : 4 * cap + 1024;
}

/* The field to blame for a too large grid: the largest axis count. */
static inline const char *bg_count_largest_axis(const bg_resolved *r)
{
    const int64_t d = r->disp.count;
    if (d >= r->hdiv.count && d >= r->vdiv.count)
        return "dispsteps";
    return r->hdiv.count >= r->vdiv.count ? "hdivsteps" : "vdivsteps";
}

/* BG_TOO_MANY when the rectangle was refused as too large to test
 * (refused) or when `too_many`; else BG_OK. d: sources a point. */
static inline bg_status bg_count_verdict(const bg_resolved *r, uint64_t d,
                                         uint64_t max_sources,
                                         uint64_t work_cap, bool refused,
                                         bool too_many, bg_error *err)
{
    long long hc = (long long)r->hdiv.count, vc = (long long)r->vdiv.count,
              dc = (long long)d;
    const char *axis = bg_count_largest_axis(r);
    if (refused)
        return bg_error_set(
            err, BG_TOO_MANY, axis,
            "the divergence rectangle of %lld x %lld points is too large to "
            "test against the limit of %llu sources (%llu points at %lld "
            "dispersion steps); the step is extreme for the range",
            hc, vc, (unsigned long long)max_sources,
            (unsigned long long)work_cap, dc);
    if (too_many)
        return bg_error_set(
            err, BG_TOO_MANY, axis,
            "the grid has more than %llu sources (hdivsteps %lld x vdivsteps "
            "%lld before trimming, dispsteps %lld); the limit is %llu",
            (unsigned long long)max_sources, hc, vc, dc,
            (unsigned long long)max_sources);
    return BG_OK;
}

#endif

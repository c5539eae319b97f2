/* fieldcheck.h - internal to core/: the checks of request fields that
 * both semantics make (core/resolve.c for nanoBragg's, core/torch.c for
 * the PyTorch port's): a real field finite and >= 0, a count within
 * [min, BG_AXIS_COUNT_MAX], and the divergence and dispersion fields all
 * at once. Each names the field it refuses. */
#ifndef BG_FIELDCHECK_H
#define BG_FIELDCHECK_H

#include <stdint.h>

#include "core/bg_error.h"
#include "core/params.h"

/* Fail unless an optional real field is finite and >= 0 (or not given). */
bg_status bg_check_nonneg(const bg_opt_real *o, const char *field,
                          bg_error *err);

/* Fail unless an optional count is within [min, BG_AXIS_COUNT_MAX] (or
 * not given). */
bg_status bg_check_count(const bg_opt_count *o, const char *field, int64_t min,
                         bg_error *err);

/* The divergence and dispersion fields of *p: the real ones finite and
 * >= 0, the counts at least min_count. */
bg_status bg_check_axis_fields(const bg_params *p, int64_t min_count,
                               bg_error *err);

#endif

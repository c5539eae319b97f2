/* negotiate.h - choosing a representation from ?format=, ?dtype= and Accept.
 *
 * ?format= (json|npy|bin|txt|npz|svg) wins over the Accept header; without
 * either the answer is JSON. ?dtype=float32|float64 applies to npy, bin and
 * npz. svg is a picture of the grid (docs/formats-svg.md). */
#ifndef BGAPI_NEGOTIATE_H
#define BGAPI_NEGOTIATE_H

#include "api/problem.h"
#include "core/grid.h"

typedef enum {
    BGAPI_FMT_JSON,
    BGAPI_FMT_NPY,
    BGAPI_FMT_BIN,
    BGAPI_FMT_TXT,
    BGAPI_FMT_NPZ,
    BGAPI_FMT_SVG,
    BGAPI_FMT_LAM,  /* ?format=lam only: diffBragg's .lam (docs/beams.md) */
    BGAPI_FMT_DXTBX /* ?format=dxtbx only: a dxtbx beam model */
} bgapi_format;

typedef struct {
    bgapi_format format;
    bg_dtype dtype; /* BG_F64 unless npy/bin/npz with float32 */
} bgapi_repr;

/* The number of distinct representations (json, npy f8, npy f4, bin f8,
 * bin f4, txt, npz f8, npz f4, svg, lam, dxtbx) and a dense index of each,
 * for per-representation slots. */
#define BGAPI_REPR_SLOTS 11
int bgapi_repr_slot(bgapi_repr r);

/* Choose the representation. accept, format and dtype may each be NULL
 * (absent). Returns 0 with *out set; or -1 with *prob: 400 for an unknown
 * ?format= or ?dtype= value (or dtype with json/txt), 406 when Accept
 * admits nothing beamgrid produces. Accept q-values and wildcards are
 * honoured; ties go to json, npy, bin, txt, npz, svg in that order. */
int bgapi_negotiate(const char *accept, const char *format, const char *dtype,
                    bgapi_repr *out, bgapi_problem *prob);

/* The Content-Type of a representation: a static string
 * ("application/json", "application/x-npy", "application/octet-stream",
 * "text/plain; charset=utf-8", "application/x-npz", "image/svg+xml"). */
const char *bgapi_content_type(bgapi_repr r);

/* A short static tag naming the representation, for ETags, logs and
 * metrics: "json", "npy-f8", "npy-f4", "bin-f8", "bin-f4", "txt",
 * "npz-f8", "npz-f4", "svg". */
const char *bgapi_repr_tag(bgapi_repr r);

#endif

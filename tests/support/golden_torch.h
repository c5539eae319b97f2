/* golden_torch.h - test-only loader of the tests/golden-torch JSON cases
 * (computed by the PyTorch port itself; tests/golden-torch/README.md):
 * the request as bg_params with "semantics": "nanobrag_torch" and the
 * case's dtype, the port's resolved axes and vectors, and its three
 * arrays. */
#ifndef BG_TEST_GOLDEN_TORCH_H
#define BG_TEST_GOLDEN_TORCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/params.h"
#include "core/resolve.h"

/* Tolerances of the directions (README of tests/golden-torch). */
#define GT_TOL_F64 1e-12
#define GT_TOL_F32 (4.0 / 16777216.0)

typedef struct {
    char name[128];
    bg_params params;  /* semantics and dtype set */
    char *params_json; /* the case's params object with "semantics" and
                          "dtype" added, as a request body (malloc'd) */
    bg_dtype dtype;
    uint64_t count;
    bg_axis hdiv, vdiv, disp; /* port_resolved */
    double lambda0_m, beam[3], polar[3];
    double *dir;    /* 3*count */
    double *weight; /* count */
    double *lambda; /* count */
} gt_case;

/* Load a case. Returns 0, or -1 with a message on stderr. Release with
 * gt_free. */
int gt_load(const char *path, gt_case *out);

void gt_free(gt_case *c);

#endif

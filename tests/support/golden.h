/* golden.h - test-only loader of the tests/golden JSON cases.
 *
 * Maps a case's `request` object onto bg_params (the field names of
 * docs/semantics.md §2.1) and its
 * expected grid onto plain arrays. Uses jansson; no validation beyond what
 * the golden files need. */
#ifndef BG_TEST_GOLDEN_H
#define BG_TEST_GOLDEN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/params.h"

/* The `resolved` object of a case, in request units. */
typedef struct {
    int64_t hdivsteps, vdivsteps, dispsteps;
    double hdivrange_mrad, hdivstep_mrad, vdivrange_mrad, vdivstep_mrad;
    double dispersion_percent, dispstep_percent, lambda_A;
} golden_resolved;

typedef struct {
    char name[128];
    bg_params params;
    int expect_status; /* 0: a grid is expected */
    uint64_t count;
    golden_resolved resolved;
    double *dir;    /* 3*count */
    double *pos;    /* 3*count */
    double *weight; /* count */
    double *lambda; /* count */
} golden_case;

/* Load a golden file. Returns 0, or -1 with a message on stderr. The case
 * owns its arrays; release them with golden_free. */
int golden_load(const char *path, golden_case *out);

/* Fill *p from a JSON text holding one request object (the request fields
 * of docs/semantics.md §2.1). Returns 0, or -1 for an unknown field or type. */
int golden_params_from_json(const char *json, bg_params *p);

/* The same from a parsed JSON object. */
int golden_params_from_object(json_t *req, bg_params *p);

/* count rows of width numbers (width 1: a flat array of numbers) from a
 * JSON array, into one calloc'd array; NULL if the shape or a type is off. */
double *golden_read_rows(json_t *a, size_t count, size_t width);

void golden_free(golden_case *c);

#endif

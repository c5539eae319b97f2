/* request.h - the POST /v1/sources body: strict JSON to bg_params.
 *
 * Malformed JSON, a body that is not one object, trailing bytes, duplicate
 * keys, unknown fields and wrong types are 400; values the types allow but
 * docs/semantics.md §2.1 forbids are left to bg_resolve (422), but an unknown
 * name, which is 422 here. */
#ifndef BGAPI_REQUEST_H
#define BGAPI_REQUEST_H

#include <stddef.h>

#include "api/problem.h"
#include "core/params.h"

/* Check a request's Content-Type (NULL when absent). Absent, or
 * application/json with any parameters, is accepted (returns 0); anything
 * else fills *prob with 415 and returns -1. */
int bgapi_check_content_type(const char *content_type, bgapi_problem *prob);

/* Parse body[0..len) (need not be NUL-terminated) into *out, starting from
 * bg_params_init defaults. Returns 0, or -1 with *prob filled (400 naming
 * the field or the JSON position, or 422 for an unknown convention). */
int bgapi_parse_params(const char *body, size_t len, bg_params *out,
                       bgapi_problem *prob);

#endif

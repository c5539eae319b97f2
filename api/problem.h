/* problem.h - HTTP errors as RFC 9457 problem details.
 *
 * Every error beamgrid answers is a bgapi_problem: a status, a type URI
 * ("urn:beamgrid:problem:<slug>"), a title, the offending request field (or
 * parameter or header) and a detail sentence. This is the only place where
 * core status codes become HTTP statuses. */
#ifndef BGAPI_PROBLEM_H
#define BGAPI_PROBLEM_H

#include <stddef.h>

#include "core/bg_error.h"

#define BGAPI_PROBLEM_FIELD_MAX  48
#define BGAPI_PROBLEM_DETAIL_MAX 320

typedef struct {
    int status;        /* 400, 401, 404, 405, 406, 413, 415, 422, 503 */
    const char *slug;  /* static, e.g. "invalid-value" */
    const char *title; /* static, e.g. "Value out of range" */
    char field[BGAPI_PROBLEM_FIELD_MAX]; /* "" if none */
    char detail[BGAPI_PROBLEM_DETAIL_MAX];
} bgapi_problem;

/* Fill *p (if not NULL) with status, slug, title (static strings), field
 * (may be NULL) and a printf-formatted detail. A NULL title means the
 * standard title of the slug (bgapi_problem_title). field and detail are
 * truncated to their buffers on a UTF-8 boundary. Returns -1, so validation
 * can end with `return bgapi_problem_set(...)`. */
int bgapi_problem_set(bgapi_problem *p, int status, const char *slug,
                      const char *title, const char *field, const char *fmt,
                      ...) __attribute__((format(printf, 6, 7)));

/* The standard title of a slug ("not-found" -> "Not found"); a static
 * string, "Error" for an unknown slug. */
const char *bgapi_problem_title(const char *slug);

/* Map a core failure to a problem: BG_INVALID, BG_CONFLICT, BG_VECTOR,
 * BG_PARALLEL, BG_EMPTY, BG_TOO_MANY are 422 with the core's field and
 * detail; BG_NOMEM is 503. Returns -1. */
int bgapi_problem_from_core(bgapi_problem *p, const bg_error *err);

/* Render *p as an application/problem+json body: type, title, status,
 * detail, field (if any) and instance (if not NULL, e.g. the request path),
 * all JSON-escaped. Returns a malloc'd NUL-terminated string the caller
 * frees, and sets *len; NULL on allocation failure. */
char *bgapi_problem_render(const bgapi_problem *p, const char *instance,
                           size_t *len);

#endif

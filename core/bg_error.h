/* bg_error.h - the one error vocabulary of beamgrid's core.
 *
 * Every core function that can fail returns a bg_status and, where the caller
 * passes one, fills a bg_error with the offending field and a sentence that a
 * client can act on. The codes are declared once, in the X-macro below, with
 * their generic message; only api/ maps them to HTTP statuses. */
#ifndef BG_ERROR_H
#define BG_ERROR_H

#define BG_STATUS_MAP(X)                                                       \
    X(OK, "success")                                                           \
    X(INVALID, "value out of range")                                           \
    X(CONFLICT, "fields conflict with each other")                             \
    X(VECTOR, "vector is zero or not finite")                                  \
    X(PARALLEL, "polar_vector is parallel to beam_vector")                     \
    X(EMPTY, "every divergence point was trimmed")                             \
    X(TOO_MANY, "grid exceeds the source limit")                               \
    X(NOMEM, "out of memory")

typedef enum {
#define BG_STATUS_ENUM(name, msg) BG_##name,
    BG_STATUS_MAP(BG_STATUS_ENUM)
#undef BG_STATUS_ENUM
        BG_STATUS_COUNT
} bg_status;

#define BG_ERROR_FIELD_MAX  32
#define BG_ERROR_DETAIL_MAX 256

/* The detail of a failure: which request field (its docs/semantics.md §2.1
 * name, "" when the
 * failure is not about one field) and a full sentence saying what is wrong
 * and, where possible, what to change. Owned by the caller; plain data. */
typedef struct {
    bg_status code;
    char field[BG_ERROR_FIELD_MAX];
    char detail[BG_ERROR_DETAIL_MAX];
} bg_error;

/* The generic message of a status code ("success" for BG_OK). Returns a
 * static string; never NULL, also for codes out of range. */
const char *bg_strerror(bg_status code);

/* Fill *err (if err is not NULL) with code, field and a printf-formatted
 * detail, truncating to the buffers. Returns code, so a failing function can
 * end with `return bg_error_set(err, BG_INVALID, "lambda_A", "...");`. */
bg_status bg_error_set(bg_error *err, bg_status code, const char *field,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

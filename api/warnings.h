/* warnings.h - the warnings of an answer: a generic list of (field,
 * message) pairs, shown as the JSON answer's "warnings" array and as one
 * Beamgrid-Warning response header each (README "Warnings",
 * docs/torch.md).
 *
 * Answers are cached per key and GET /v1/sources/{id} rebuilds them from
 * the id alone, so every warning must be a function of the key: warnings
 * are derived (bgapi_warnings_of) from the resolved parameters, which the
 * id encodes (including, under the PyTorch port's semantics, which fields
 * the port ignored), and from the grid computed from them. A new kind of
 * warning is one more rule in bgapi_warnings_of over bg_resolved. */
#ifndef BGAPI_WARNINGS_H
#define BGAPI_WARNINGS_H

#include <stddef.h>

#include "core/grid.h"
#include "core/resolve.h"

#define BGAPI_WARNINGS_MAX        8
#define BGAPI_WARNING_FIELD_MAX   32
#define BGAPI_WARNING_MESSAGE_MAX 240
#define BGAPI_WARNING_HEADER      "Beamgrid-Warning"

/* Values far outside what an X-ray experiment uses are served as asked
 * (nanoBragg's behaviour) but warned about; where each limit comes from is
 * docs/semantics.md §6. Wavelengths in Angstrom, a divergence range in
 * radians, a dispersion as a fraction of the wavelength. */
#define BGAPI_WARN_LAMBDA_MIN_A       0.01
#define BGAPI_WARN_LAMBDA_MAX_A       100.0
#define BGAPI_WARN_DIVERGENCE_MAX_RAD 0.1
#define BGAPI_WARN_DISPERSION_MAX     0.2

/* Bytes of the JSON member (",\"warnings\":[...]") at most: every
 * character of a field or message escaped as \u00XX, plus punctuation. */
#define BGAPI_WARNINGS_JSON_MAX                                                \
    (16 + BGAPI_WARNINGS_MAX * (32 + 6 * (BGAPI_WARNING_FIELD_MAX +            \
                                          BGAPI_WARNING_MESSAGE_MAX)))

typedef struct {
    char field[BGAPI_WARNING_FIELD_MAX];     /* request field, "" if none */
    char message[BGAPI_WARNING_MESSAGE_MAX]; /* a sentence, ASCII */
} bgapi_warning;

typedef struct {
    size_t count;
    bgapi_warning items[BGAPI_WARNINGS_MAX];
} bgapi_warnings;

void bgapi_warnings_init(bgapi_warnings *w);

/* Append a warning (printf-formatted message, truncated to the buffers).
 * Returns 0, or -1 when the list is full (the warning is dropped). */
int bgapi_warnings_add(bgapi_warnings *w, const char *field, const char *fmt,
                       ...) __attribute__((format(printf, 3, 4)));

/* The warnings of the grid *g computed from *r (g may be NULL: then only
 * what *r alone says), in a fixed order. */
void bgapi_warnings_of(const bg_resolved *r, const bg_grid *g,
                       bgapi_warnings *w);

/* The JSON member ,"warnings":[{"field":...,"message":...},...] into out
 * (room for BGAPI_WARNINGS_JSON_MAX); nothing (returns 0) when the list is
 * empty, so answers without warnings keep their bytes. Returns the length
 * written (no NUL). */
size_t bgapi_warnings_json(const bgapi_warnings *w, char *out);

/* The value of warning i's Beamgrid-Warning header, "<field>: <message>"
 * (or the message alone without a field), into out[0..cap), NUL-ended;
 * characters outside printable ASCII become '?'. Returns the length. */
size_t bgapi_warning_header(const bgapi_warning *it, char *out, size_t cap);

#endif

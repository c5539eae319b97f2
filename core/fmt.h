/* fmt.h - fast decimal formatting of doubles for the JSON and text encoders.
 *
 * Two formatters, both pure, allocation-free and thread-safe:
 * bg_fmt_double writes the shortest decimal that parses back (strtod, any
 * correct JSON parser) to the identical double, as a JSON number;
 * bg_fmt_double17 writes exactly what printf("%.17g") writes. */
#ifndef BG_FMT_H
#define BG_FMT_H

#include <stddef.h>

/* Characters bg_fmt_double and bg_fmt_double17 write, at most. */
#define BG_FMT_DOUBLE_MAX 32

/* Write v into out[0..BG_FMT_DOUBLE_MAX) as a JSON number that reads back
 * as the identical double: the shortest such decimal, the closest to v when
 * there are several (Schubfach). Plain notation for decimal exponents -5..15
 * ("0.001", "12.5", "3.0"), else exponent notation ("1e-10", "1.5e+20");
 * integers keep a ".0" so they stay reals to typed readers; -0.0 is "-0.0". A
 * NaN or an infinity, which JSON cannot express, is written as "null". No NUL
 * is written. Returns the length. */
size_t bg_fmt_double(double v, char *out);

/* Write v into out[0..BG_FMT_DOUBLE_MAX) exactly as printf("%.17g", v)
 * would, without the NUL (a fast exact path, falling back to snprintf in the
 * rare cases the fast path cannot decide the rounding). Returns the
 * length. */
size_t bg_fmt_double17(double v, char *out);

#endif

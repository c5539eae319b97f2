/* negotiate.c - choosing a representation: ?format= over Accept (RFC 9110
 * media ranges with q-values and wildcards, the most specific range
 * deciding each type's quality), ?dtype= for npy, bin and npz, and the static
 * names (Content-Type, tag, slot) of each representation. */
#include "api/negotiate.h"

#include <string.h>
#include <strings.h>

#define NFORMATS 6 /* chosen by Accept too */
#define NNAMES   8 /* by ?format=: also lam and dxtbx (docs/beams.md) */

/* In bgapi_format's order, which is also the order ties go to. */
static const char *const format_names[NNAMES] = {"json", "npy", "bin", "txt",
                                                 "npz",  "svg", "lam", "dxtbx"};
static const char *const media_types[NFORMATS] = {
    "application/json", "application/x-npy", "application/octet-stream",
    "text/plain",       "application/x-npz", "image/svg+xml"};

int bgapi_repr_slot(bgapi_repr r)
{
    switch (r.format) {
    case BGAPI_FMT_JSON:
        return 0;
    case BGAPI_FMT_NPY:
        return r.dtype == BG_F32 ? 2 : 1;
    case BGAPI_FMT_BIN:
        return r.dtype == BG_F32 ? 4 : 3;
    case BGAPI_FMT_TXT:
        return 5;
    case BGAPI_FMT_NPZ:
        return r.dtype == BG_F32 ? 7 : 6;
    case BGAPI_FMT_SVG:
        return 8;
    case BGAPI_FMT_LAM:
        return 9;
    case BGAPI_FMT_DXTBX:
        return 10;
    }
    return 0;
}

const char *bgapi_content_type(bgapi_repr r)
{
    switch (r.format) {
    case BGAPI_FMT_NPY:
        return "application/x-npy";
    case BGAPI_FMT_BIN:
        return "application/octet-stream";
    case BGAPI_FMT_TXT:
    case BGAPI_FMT_LAM:
        return "text/plain; charset=utf-8";
    case BGAPI_FMT_NPZ:
        return "application/x-npz";
    case BGAPI_FMT_SVG:
        return "image/svg+xml";
    case BGAPI_FMT_JSON:
    case BGAPI_FMT_DXTBX:
        break;
    }
    return "application/json";
}

const char *bgapi_repr_tag(bgapi_repr r)
{
    static const char *const tags[BGAPI_REPR_SLOTS] = {
        "json",   "npy-f8", "npy-f4", "bin-f8", "bin-f4", "txt",
        "npz-f8", "npz-f4", "svg",    "lam",    "dxtbx"};
    return tags[bgapi_repr_slot(r)];
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Parse a qvalue ("1", "0.5", "1.000"): thousandths in *q, or -1. */
static int parse_q(const char *s, size_t n, int *q)
{
    while (n > 0 && is_ows(s[n - 1]))
        n--;
    if (n == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int v = (s[0] - '0') * 1000, scale = 100;
    if (n > 1) {
        if (s[1] != '.' || n > 5)
            return -1;
        for (size_t i = 2; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            v += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (v > 1000)
        return -1;
    *q = v;
    return 0;
}

/* One media range of an Accept header, s[0..n): how specifically it
 * matches media type `type` (3 exact, 2 type/\*, 1 *\/\*, 0 not at all) and
 * its quality in thousandths. A malformed range matches nothing. */
static int range_match(const char *s, size_t n, const char *type, int *q)
{
    while (n > 0 && is_ows(*s))
        s++, n--;
    const char *semi = memchr(s, ';', n);
    size_t mlen = semi != NULL ? (size_t)(semi - s) : n;
    while (mlen > 0 && is_ows(s[mlen - 1]))
        mlen--;
    *q = 1000;
    for (const char *p = semi; p != NULL && p < s + n;) {
        p++;
        const char *end = memchr(p, ';', (size_t)(s + n - p));
        size_t plen = end != NULL ? (size_t)(end - p) : (size_t)(s + n - p);
        while (plen > 0 && is_ows(*p))
            p++, plen--;
        if (plen >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=' &&
            parse_q(p + 2, plen - 2, q) != 0)
            return 0;
        p = end;
    }
    const char *slash = strchr(type, '/');
    size_t tlen = (size_t)(slash - type);
    if (mlen == 3 && memcmp(s, "*/*", 3) == 0)
        return 1;
    if (mlen == tlen + 2 && strncasecmp(s, type, tlen + 1) == 0 &&
        s[tlen + 1] == '*')
        return 2;
    if (mlen == strlen(type) && strncasecmp(s, type, mlen) == 0)
        return 3;
    return 0;
}

/* The quality (thousandths) Accept gives `type`: that of the most specific
 * matching range, 0 if none matches. */
static int accept_quality(const char *accept, const char *type)
{
    int best_spec = 0, best_q = 0;
    const char *s = accept;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);
        int q;
        int spec = range_match(s, n, type, &q);
        if (spec > best_spec || (spec == best_spec && spec > 0 && q > best_q)) {
            best_spec = spec;
            best_q = q;
        }
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    return best_spec > 0 ? best_q : 0;
}

static int blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    return *s == '\0';
}

static int choose_by_accept(const char *accept, bgapi_format *out)
{
    if (accept == NULL || blank(accept)) {
        *out = BGAPI_FMT_JSON;
        return 0;
    }
    int best = -1, best_q = 0;
    for (int f = 0; f < NFORMATS; f++) {
        int q = accept_quality(accept, media_types[f]);
        if (q > best_q) {
            best = f;
            best_q = q;
        }
    }
    if (best < 0)
        return -1;
    *out = (bgapi_format)best;
    return 0;
}

static int parse_dtype(const char *dtype, bg_dtype *out)
{
    if (strcmp(dtype, "float64") == 0 || strcmp(dtype, "f8") == 0) {
        *out = BG_F64;
        return 0;
    }
    if (strcmp(dtype, "float32") == 0 || strcmp(dtype, "f4") == 0) {
        *out = BG_F32;
        return 0;
    }
    return -1;
}

int bgapi_negotiate(const char *accept, const char *format, const char *dtype,
                    bgapi_repr *out, bgapi_problem *prob)
{
    bgapi_format fmt = BGAPI_FMT_JSON;
    bg_dtype dt = BG_F64;
    if (format != NULL) {
        int f = 0;
        while (f < NNAMES && strcmp(format, format_names[f]) != 0)
            f++;
        if (f == NNAMES)
            return bgapi_problem_set(prob, 400, "invalid-value", NULL, "format",
                                     "format must be one of json, npy, "
                                     "bin, txt, npz, svg, lam, dxtbx");
        fmt = (bgapi_format)f;
    }
    if (dtype != NULL && parse_dtype(dtype, &dt) != 0)
        return bgapi_problem_set(prob, 400, "invalid-value", NULL, "dtype",
                                 "dtype must be float64 or float32 (f8, f4)");
    if (format == NULL && choose_by_accept(accept, &fmt) != 0)
        return bgapi_problem_set(
            prob, 406, "not-acceptable", NULL, "Accept",
            "Accept admits none of application/json, application/x-npy, "
            "application/octet-stream, text/plain, application/x-npz, "
            "image/svg+xml; or use ?format=json|npy|bin|txt|npz|svg|lam|dxtbx");
    if (dtype != NULL && fmt != BGAPI_FMT_NPY && fmt != BGAPI_FMT_BIN &&
        fmt != BGAPI_FMT_NPZ)
        return bgapi_problem_set(prob, 400, "invalid-value", NULL, "dtype",
                                 "dtype applies to npy, bin and npz only, "
                                 "not %s",
                                 format_names[fmt]);
    out->format = fmt;
    out->dtype = dt;
    return 0;
}

/* problem.c - RFC 9457 problem details: filling a bgapi_problem, mapping
 * core failures to HTTP statuses (the only place that happens), and
 * rendering the application/problem+json body with jansson. Strings that
 * may hold client bytes are made valid UTF-8 before rendering; jansson
 * escapes quotes, backslashes and control characters, and <, > and & are
 * written as \u escapes, so a client's markup never appears as such even
 * where a careless reader pastes the text into HTML. */
#include "api/problem.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *slug;
    const char *title;
} problem_titles[] = {
    {"malformed-json", "Malformed JSON"},
    {"unknown-field", "Unknown field"},
    {"wrong-type", "Wrong type"},
    {"invalid-value", "Value out of range"},
    {"conflict", "Fields conflict"},
    {"degenerate-vector", "Degenerate vector"},
    {"all-trimmed", "Every source was trimmed"},
    {"too-many-sources", "Too many sources"},
    {"npz-too-large", "Too large for npz"},
    {"too-large-for-format", "Too large for this format"},
    {"unsupported-media-type", "Unsupported media type"},
    {"not-acceptable", "Not acceptable"},
    {"not-found", "Not found"},
    {"method-not-allowed", "Method not allowed"},
    {"payload-too-large", "Payload too large"},
    {"overloaded", "Overloaded"},
    {"unauthorized", "Unauthorized"},
    {"internal", "Internal error"},
};

const char *bgapi_problem_title(const char *slug)
{
    if (slug == NULL)
        return "Error";
    for (size_t i = 0; i < sizeof problem_titles / sizeof problem_titles[0];
         i++) {
        if (strcmp(slug, problem_titles[i].slug) == 0)
            return problem_titles[i].title;
    }
    return "Error";
}

/* Copy at most cap-1 bytes of src into dst without cutting a UTF-8
 * sequence in two. */
static void copy_utf8_trunc(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int bgapi_problem_set(bgapi_problem *p, int status, const char *slug,
                      const char *title, const char *field, const char *fmt,
                      ...)
{
    if (p == NULL)
        return -1;
    p->status = status;
    p->slug = slug != NULL ? slug : "internal";
    p->title = title != NULL ? title : bgapi_problem_title(p->slug);
    copy_utf8_trunc(p->field, sizeof p->field, field != NULL ? field : "");
    char tmp[BGAPI_PROBLEM_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    copy_utf8_trunc(p->detail, sizeof p->detail, tmp);
    return -1;
}

int bgapi_problem_from_core(bgapi_problem *p, const bg_error *err)
{
    const char *slug;
    int status = 422;
    switch (err->code) {
    case BG_INVALID:
        slug = "invalid-value";
        break;
    case BG_CONFLICT:
        slug = "conflict";
        break;
    case BG_VECTOR:
    case BG_PARALLEL:
        slug = "degenerate-vector";
        break;
    case BG_EMPTY:
        slug = "all-trimmed";
        break;
    case BG_TOO_MANY:
        slug = "too-many-sources";
        break;
    case BG_NOMEM:
        slug = "overloaded";
        status = 503;
        break;
    default:
        slug = "internal";
        status = 500;
        break;
    }
    const char *detail =
        err->detail[0] != '\0' ? err->detail : bg_strerror(err->code);
    return bgapi_problem_set(p, status, slug, NULL, err->field, "%s", detail);
}

/* A copy of s (at most cap-1 bytes) in which every byte that does not
 * belong to a well-formed UTF-8 sequence is replaced by '?'. */
static void utf8_sanitize(char *dst, size_t cap, const char *s)
{
    size_t n = strnlen(s, cap - 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80         ? 1
                     : (c >> 5) == 6  ? 2
                     : (c >> 4) == 14 ? 3
                     : (c >> 3) == 30 ? 4
                                      : 0;
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (ok && len == 2)
            ok = c >= 0xC2;
        if (ok && len == 3) {
            unsigned char c1 = (unsigned char)s[i + 1];
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
        }
        if (ok && len == 4) {
            unsigned char c1 = (unsigned char)s[i + 1];
            ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) &&
                 !(c == 0xF4 && c1 >= 0x90);
        }
        if (!ok) {
            dst[i++] = '?';
            continue;
        }
        memcpy(dst + i, s + i, len);
        i += len;
    }
    dst[n] = '\0';
}

static int set_string(json_t *obj, const char *key, const char *value)
{
    char clean[BGAPI_PROBLEM_DETAIL_MAX + 256];
    utf8_sanitize(clean, sizeof clean, value);
    return json_object_set_new(obj, key, json_string(clean));
}

/* s (a malloc'd JSON text, freed here) with every <, > and & - which
 * can only be inside strings - written as a \u escape. NULL on allocation
 * failure. */
static char *escape_markup(char *s)
{
    size_t n = 0, extra = 0;
    for (; s[n] != '\0'; n++)
        extra += (s[n] == '<' || s[n] == '>' || s[n] == '&') ? 5 : 0;
    if (extra == 0)
        return s;
    char *out = malloc(n + extra + 1);
    size_t k = 0;
    for (size_t i = 0; out != NULL && i < n; i++) {
        const char *esc = s[i] == '<'   ? "\\u003c"
                          : s[i] == '>' ? "\\u003e"
                          : s[i] == '&' ? "\\u0026"
                                        : NULL;
        if (esc != NULL) {
            memcpy(out + k, esc, 6);
            k += 6;
        } else {
            out[k++] = s[i];
        }
    }
    if (out != NULL)
        out[k] = '\0';
    free(s);
    return out;
}

char *bgapi_problem_render(const bgapi_problem *p, const char *instance,
                           size_t *len)
{
    char type[96];
    snprintf(type, sizeof type, "urn:beamgrid:problem:%s",
             p->slug != NULL ? p->slug : "internal");
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = set_string(o, "type", type);
    rc |= set_string(o, "title", p->title != NULL ? p->title : "Error");
    rc |= json_object_set_new(o, "status", json_integer(p->status));
    rc |= set_string(o, "detail", p->detail);
    if (p->field[0] != '\0')
        rc |= set_string(o, "field", p->field);
    if (instance != NULL)
        rc |= set_string(o, "instance", instance);
    char *s =
        rc == 0 ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (s != NULL)
        s = escape_markup(s);
    if (s != NULL && len != NULL)
        *len = strlen(s);
    return s;
}

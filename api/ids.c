/* ids.c - canonical form, ids, hashes and ETags of a resolved grid.
 *
 * The canonical form is a fixed 162-byte little-endian record of a
 * bg_resolved (layout below); the id is its unpadded base64url, decoded
 * strictly (any other spelling of the same bytes is not an id). The hash is
 * a word-at-a-time multiply-xorshift mix with a splitmix64 finalizer; the
 * ETag joins the encoder version, the hash and the representation tag. */
#include "api/ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CANON_VERSION 1
#define CANON_LEN     (2 + 3 * 24 + 8 + 9 * 8 + 8)
#define ETAG_VERSION  "bg1"

_Static_assert(CANON_LEN <= BGAPI_CANON_MAX, "canonical form too long");
_Static_assert((CANON_LEN + 2) / 3 * 4 <= BGAPI_ID_MAX, "id too long");

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static unsigned char *put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return p + 8;
}

static unsigned char *put_f64(unsigned char *p, double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return put_u64(p, b);
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static double get_f64(const unsigned char *p)
{
    uint64_t b = get_u64(p);
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static unsigned char *put_axis(unsigned char *p, const bg_axis *a)
{
    p = put_u64(p, (uint64_t)a->count);
    p = put_f64(p, a->range);
    return put_f64(p, a->step);
}

static const unsigned char *get_axis(const unsigned char *p, bg_axis *a)
{
    a->count = (int64_t)get_u64(p);
    a->range = get_f64(p + 8);
    a->step = get_f64(p + 16);
    return p + 24;
}

/* Layout: version, flags (bit 0 round_div), hdiv, vdiv, disp (count u64,
 * range, step), lambda0_m, beam[3], polar[3], vert[3], source_distance_m. */
size_t bgapi_canonical(const bg_resolved *r, unsigned char *buf)
{
    unsigned char *p = buf;
    *p++ = CANON_VERSION;
    *p++ = r->round_div ? 1 : 0;
    p = put_axis(p, &r->hdiv);
    p = put_axis(p, &r->vdiv);
    p = put_axis(p, &r->disp);
    p = put_f64(p, r->lambda0_m);
    for (int i = 0; i < 3; i++)
        p = put_f64(p, r->beam[i]);
    for (int i = 0; i < 3; i++)
        p = put_f64(p, r->polar[i]);
    for (int i = 0; i < 3; i++)
        p = put_f64(p, r->vert[i]);
    p = put_f64(p, r->source_distance_m);
    return (size_t)(p - buf);
}

/* The inverse of bgapi_canonical; -1 unless buf[0..len) is a canonical
 * form of this version with no unknown flag. */
static int canonical_parse(const unsigned char *buf, size_t len, bg_resolved *r)
{
    if (len != CANON_LEN || buf[0] != CANON_VERSION || (buf[1] & ~1u) != 0)
        return -1;
    memset(r, 0, sizeof *r);
    r->round_div = buf[1] & 1;
    const unsigned char *p = buf + 2;
    p = get_axis(p, &r->hdiv);
    p = get_axis(p, &r->vdiv);
    p = get_axis(p, &r->disp);
    r->lambda0_m = get_f64(p);
    p += 8;
    for (int i = 0; i < 3; i++, p += 8)
        r->beam[i] = get_f64(p);
    for (int i = 0; i < 3; i++, p += 8)
        r->polar[i] = get_f64(p);
    for (int i = 0; i < 3; i++, p += 8)
        r->vert[i] = get_f64(p);
    r->source_distance_m = get_f64(p);
    return 0;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t bgapi_hash64(const unsigned char *canon, size_t len)
{
    uint64_t h =
        UINT64_C(0x6a09e667f3bcc909) ^ (len * UINT64_C(0x9e3779b97f4a7c15));
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = get_u64(canon + i);
        h ^= mix64(w + i);
        h = (h << 27 | h >> 37) * UINT64_C(0x9e3779b97f4a7c15);
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < len; k++)
        tail |= (uint64_t)canon[i + k] << (8 * k);
    h ^= mix64(tail ^ UINT64_C(0xff51afd7ed558ccd));
    return mix64(h);
}

static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v =
            (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url[v >> 18];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    if (n - i == 1) {
        out[o++] = b64url[in[i] >> 2];
        out[o++] = b64url[(in[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
        out[o++] = b64url[v >> 10];
        out[o++] = b64url[(v >> 4) & 63];
        out[o++] = b64url[(v & 15) << 2];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Strict unpadded base64url: -1 on a bad character, a length that is 1
 * mod 4, nonzero unused trailing bits, or more than cap bytes out. */
static int b64url_decode(const char *s, size_t n, unsigned char *out,
                         size_t cap, size_t *out_len)
{
    if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return -1;
    *out_len = o;
    return 0;
}

size_t bgapi_id_encode(const bg_resolved *r, char *out)
{
    unsigned char canon[BGAPI_CANON_MAX];
    size_t n = bgapi_canonical(r, canon);
    return b64url_encode(canon, n, out);
}

int bgapi_id_decode(const char *id, bg_resolved *out, bgapi_problem *prob)
{
    size_t n = id != NULL ? strnlen(id, BGAPI_ID_MAX + 1) : 0;
    return bgapi_id_decode_n(id, n, out, prob);
}

int bgapi_id_decode_n(const char *id, size_t n, bg_resolved *out,
                      bgapi_problem *prob)
{
    unsigned char canon[BGAPI_CANON_MAX];
    size_t len;
    bg_resolved r;
    if (id == NULL || n == 0 || n > BGAPI_ID_MAX ||
        b64url_decode(id, n, canon, sizeof canon, &len) != 0 ||
        canonical_parse(canon, len, &r) != 0 ||
        bg_resolved_check(&r, NULL) != BG_OK)
        return bgapi_problem_set(prob, 404, "not-found", NULL, NULL,
                                 "no grid has this id; ids come from "
                                 "POST /v1/sources");
    *out = r;
    return 0;
}

void bgapi_etag(const bg_resolved *r, bgapi_repr repr, char *out)
{
    unsigned char canon[BGAPI_CANON_MAX];
    size_t n = bgapi_canonical(r, canon);
    snprintf(out, BGAPI_ETAG_MAX, "\"" ETAG_VERSION "-%016" PRIx64 "-%s\"",
             bgapi_hash64(canon, n), bgapi_repr_tag(repr));
}

/* The opaque-tag of an entity-tag (without W/ and quotes): start and
 * length, or -1 if there is none. */
static int opaque_tag(const char *s, size_t n, const char **tag, size_t *len)
{
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= 2 && s[0] == 'W' && s[1] == '/')
        s += 2, n -= 2;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    if (n == 0)
        return -1;
    *tag = s;
    *len = n;
    return 0;
}

/* Whether s[0..n) is "*" between optional whitespace. */
static int is_star(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i == n || s[i] != '*')
        return 0;
    for (i++; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    }
    return 1;
}

int bgapi_etag_matches(const char *if_none_match, const char *etag)
{
    const char *want;
    size_t want_len;
    if (if_none_match == NULL || etag == NULL ||
        opaque_tag(etag, strlen(etag), &want, &want_len) != 0)
        return 0;
    const char *s = if_none_match;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);
        const char *tag;
        size_t len;
        if (is_star(s, n))
            return 1;
        if (opaque_tag(s, n, &tag, &len) == 0 && len == want_len &&
            memcmp(tag, want, len) == 0)
            return 1;
        if (comma == NULL)
            return 0;
        s = comma + 1;
    }
}

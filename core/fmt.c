/* fmt.c - decimal formatting of doubles (see fmt.h).
 *
 * bg_fmt_double is Schubfach (Giulietti, "The Schubfach way to render
 * doubles", 2020): the double and the two ends of its rounding interval are
 * scaled by a 126-bit power of ten, rounded to odd, which is exact enough
 * to decide with integer comparisons whether the shortest candidates (one
 * digit fewer, or the two neighbours) read back as the same double; the
 * closest of the shortest wins. Three 64x128-bit products and no loop but
 * the digits'. bg_fmt_double17 computes the 17 significant digits of
 * printf("%.17g") from one 64x64-bit product with a 64-bit table, and falls
 * back to snprintf when the product is too close to a rounding tie to
 * decide. Both tables are in core/fmt_tables.h, generated with exact
 * integer arithmetic by tools/gen_fmt_tables.py. */
#include "core/fmt.h"
#include "core/fmt_tables.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

__extension__ typedef unsigned __int128 bg_u128;

/* "00".."99", for writing two digits at a time. */
static const char digit_pairs[200] = {
    '0', '0', '0', '1', '0', '2', '0', '3', '0', '4', '0', '5', '0', '6', '0',
    '7', '0', '8', '0', '9', '1', '0', '1', '1', '1', '2', '1', '3', '1', '4',
    '1', '5', '1', '6', '1', '7', '1', '8', '1', '9', '2', '0', '2', '1', '2',
    '2', '2', '3', '2', '4', '2', '5', '2', '6', '2', '7', '2', '8', '2', '9',
    '3', '0', '3', '1', '3', '2', '3', '3', '3', '4', '3', '5', '3', '6', '3',
    '7', '3', '8', '3', '9', '4', '0', '4', '1', '4', '2', '4', '3', '4', '4',
    '4', '5', '4', '6', '4', '7', '4', '8', '4', '9', '5', '0', '5', '1', '5',
    '2', '5', '3', '5', '4', '5', '5', '5', '6', '5', '7', '5', '8', '5', '9',
    '6', '0', '6', '1', '6', '2', '6', '3', '6', '4', '6', '5', '6', '6', '6',
    '7', '6', '8', '6', '9', '7', '0', '7', '1', '7', '2', '7', '3', '7', '4',
    '7', '5', '7', '6', '7', '7', '7', '8', '7', '9', '8', '0', '8', '1', '8',
    '2', '8', '3', '8', '4', '8', '5', '8', '6', '8', '7', '8', '8', '8', '9',
    '9', '0', '9', '1', '9', '2', '9', '3', '9', '4', '9', '5', '9', '6', '9',
    '7', '9', '8', '9', '9'};

static const uint64_t pow10_u64[20] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000),
};

#define DBL_HIDDEN    (UINT64_C(1) << 52)
#define DBL_FRAC_MASK (DBL_HIDDEN - 1)

/* A floating-point number f * 2^e with a 64-bit significand. */
typedef struct {
    uint64_t f;
    int e;
} diyfp;

static uint64_t double_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* v = f * 2^e exactly, for finite v != 0 (sign dropped). */
static diyfp diyfp_of(uint64_t bits)
{
    uint64_t frac = bits & DBL_FRAC_MASK;
    int bexp = (int)((bits >> 52) & 0x7ff);
    if (bexp == 0)
        return (diyfp){frac, 1 - 1075};
    return (diyfp){frac | DBL_HIDDEN, bexp - 1075};
}

/* floor(log10(2^b)) for |b| < 1700. */
static int floor_log10_pow2(int b)
{
    long t = (long)b * 78913L;
    return (int)(t >= 0 ? t / 262144L : -((-t + 262143L) / 262144L));
}

/* floor(log10(2^q)), floor(log10(3/4 * 2^q)), floor(log2(10^e)): exact for
 * the exponents of doubles (checked against exact rationals). */
static int flog10pow2(int q)
{
    return (int)(((int64_t)q * INT64_C(661971961083)) >> 41);
}

static int flog10three_quarters_pow2(int q)
{
    return (int)(((int64_t)q * INT64_C(661971961083) - INT64_C(274743187321)) >>
                 41);
}

static int flog2pow10(int e)
{
    return (int)(((int64_t)e * INT64_C(913124641741)) >> 38);
}

/* Write the 8 digits of v < 10^8, leading zeros included: two independent
 * halves, two digits at a time. */
static void write8(uint32_t v, char *p)
{
    uint32_t a = v / 10000, b = v % 10000;
    memcpy(p, digit_pairs + 2 * (a / 100), 2);
    memcpy(p + 2, digit_pairs + 2 * (a % 100), 2);
    memcpy(p + 4, digit_pairs + 2 * (b / 100), 2);
    memcpy(p + 6, digit_pairs + 2 * (b % 100), 2);
}

/* Write d < 10^17 as 17 digits, leading zeros included, into buf[0..17). */
static void write17(uint64_t d, char *buf)
{
    uint32_t hi = (uint32_t)(d / 100000000U); /* < 10^9 */
    uint32_t lo = (uint32_t)(d % 100000000U);
    buf[0] = (char)('0' + hi / 100000000U);
    write8(hi % 100000000U, buf + 1);
    write8(lo, buf + 9);
}

/* The number of decimal digits of f >= 1. */
static int digit_count(uint64_t f)
{
    int n = ((64 - __builtin_clzll(f)) * 1233) >> 12; /* ~log10(2^bits) */
    return n + (f >= pow10_u64[n]);
}

/* Round to odd of cp * g * 2^-127 (g = g1 * 2^63 + g0): the floor, with
 * the lowest bit set when anything was cut off. */
static uint64_t rop(uint64_t g1, uint64_t g0, uint64_t cp)
{
    uint64_t x1 = (uint64_t)(((bg_u128)g0 * cp) >> 64);
    bg_u128 y = (bg_u128)g1 * cp;
    uint64_t y0 = (uint64_t)y, y1 = (uint64_t)(y >> 64);
    uint64_t z = (y0 >> 1) + x1;
    uint64_t vbp = y1 + (z >> 63);
    uint64_t mask63 = (UINT64_C(1) << 63) - 1;
    return vbp | (((z & mask63) + mask63) >> 63);
}

/* Schubfach (R. Giulietti, "The Schubfach way to render doubles", 2020):
 * the shortest decimal f * 10^*e in the rounding interval of c * 2^q
 * (c >= 3), the closest to it when several are (ties to even). */
static uint64_t schubfach(int q, uint64_t c, int *e)
{
    uint64_t out = c & 1; /* odd: the interval's ends are excluded */
    uint64_t cb = c << 2, cbr = cb + 2, cbl;
    int k;
    if (c != DBL_HIDDEN || q == -1074) {
        cbl = cb - 2;
        k = flog10pow2(q);
    } else { /* a power of two: the lower neighbour is closer */
        cbl = cb - 1;
        k = flog10three_quarters_pow2(q);
    }
    int h = q + flog2pow10(-k) + 2;
    const uint64_t *g = g_table[-k - G_EMIN];
    uint64_t vb = rop(g[0], g[1], cb << h);
    uint64_t vbl = rop(g[0], g[1], cbl << h);
    uint64_t vbr = rop(g[0], g[1], cbr << h);
    uint64_t s = vb >> 2;
    if (s >= 10) { /* one digit fewer? */
        uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
        int upin = vbl + out <= sp10 << 2;
        int wpin = (tp10 << 2) + out <= vbr;
        if (upin != wpin) {
            *e = k;
            return upin ? sp10 : tp10;
        }
    }
    uint64_t t = s + 1;
    int uin = vbl + out <= s << 2;
    int win = (t << 2) + out <= vbr;
    *e = k;
    if (uin != win)
        return uin ? s : t;
    int64_t cmp = (int64_t)(vb - ((s + t) << 1));
    return cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t;
}

/* The shortest digits of finite, nonzero, positive bits: writes them to
 * buf[*first..) (at most 17, no trailing zero, within buf[0..17)) and
 * returns their count; value = digits * 10^*k. */
static int shortest(uint64_t bits, char *buf, int *k, int *first)
{
    uint64_t frac = bits & DBL_FRAC_MASK;
    int bexp = (int)(bits >> 52);
    uint64_t f;
    int e = 0;
    if (bexp != 0) {
        int q = bexp - 1075;
        uint64_t c = frac | DBL_HIDDEN;
        if (q < 0 && q > -53 && (c & ((UINT64_C(1) << -q) - 1)) == 0)
            f = c >> -q; /* an integer below 2^53: its own digits */
        else
            f = schubfach(q, c, &e);
    } else if (frac < 3) { /* the two tiniest: too narrow for the above */
        f = frac == 1 ? 5 : 1;
        e = frac == 1 ? -324 : -323;
    } else {
        f = schubfach(-1074, frac, &e);
    }
    write17(f, buf); /* f < 10^17: its digits, after leading zeros */
    int start = 17 - digit_count(f);
    int len = 17 - start;
    while (len > 1 && buf[start + len - 1] == '0') {
        len--;
        e++;
    }
    *k = e;
    *first = start;
    return len;
}

static char *write_exponent(char *p, int x)
{
    *p++ = 'e';
    if (x < 0) {
        *p++ = '-';
        x = -x;
    } else {
        *p++ = '+';
    }
    if (x >= 100) {
        *p++ = (char)('0' + x / 100);
        x %= 100;
        memcpy(p, digit_pairs + 2 * x, 2);
        return p + 2;
    }
    if (x >= 10) {
        memcpy(p, digit_pairs + 2 * x, 2);
        return p + 2;
    }
    *p++ = (char)('0' + x);
    return p;
}

/* Lay out digits d[0..len) * 10^k as a JSON number (see fmt.h). d has 33
 * readable bytes and out 31 writable ones (bg_fmt_double's contract, less
 * a sign), so the digits are copied in fixed 16- or 17-byte moves and the
 * length says where the number ends. */
static size_t layout_json(const char *d, int len, int k, char *out)
{
    int kk = len + k; /* value = 0.d * 10^kk */
    char *p = out;
    if (kk >= len && kk <= 16) { /* an integer: digits, zeros, ".0" */
        memcpy(p, d, 17);
        p += len;
        memset(p, '0', (size_t)(kk - len));
        p += kk - len;
        memcpy(p, ".0", 2);
        return (size_t)(p + 2 - out);
    }
    if (kk > 0 && kk <= 16) { /* d[0..kk) "." d[kk..len) */
        memcpy(p, d, 17);
        if (kk <= 14) /* a fixed copy stays within the 31 bytes */
            memcpy(p + kk + 1, d + kk, 16);
        else
            memcpy(p + kk + 1, d + kk, (size_t)(len - kk));
        p[kk] = '.';
        return (size_t)(len + 1);
    }
    if (kk <= 0 && kk > -4) { /* "0." zeros digits */
        memcpy(p, "0.000", 5);
        p += 2 - kk;
        memcpy(p, d, 17);
        return (size_t)(p + len - out);
    }
    p[0] = d[0];
    p[1] = '.';
    memcpy(p + 2, d + 1, 16);
    p += len > 1 ? len + 1 : 1;
    p = write_exponent(p, kk - 1);
    return (size_t)(p - out);
}

size_t bg_fmt_double(double v, char *out)
{
    uint64_t bits = double_bits(v);
    size_t n = 0;
    if (((bits >> 52) & 0x7ff) == 0x7ff) {
        memcpy(out, "null", 4);
        return 4;
    }
    if (bits >> 63)
        out[n++] = '-';
    if ((bits << 1) == 0) {
        memcpy(out + n, "0.0", 3);
        return n + 3;
    }
    char digits[48] = {0}; /* layout_json reads up to 33 past the first */
    int k, first;
    int len = shortest(bits & ~(UINT64_C(1) << 63), digits, &k, &first);
    return n + layout_json(digits + first, len, k, out + n);
}

/* The digits of %.17g: D in [1e16, 1e17) with v ~= D * 10^(x - 16),
 * correctly rounded. Returns 0, or -1 when the product is too close to a
 * rounding tie (or out of the table) to decide. */
static int digits17(uint64_t bits, uint64_t *d_out, int *x_out)
{
    diyfp v = diyfp_of(bits);
    int b = v.e + 63 - __builtin_clzll(v.f); /* v in [2^b, 2^(b+1)) */
    int x = floor_log10_pow2(b);
    for (int tries = 0; tries < 3; tries++) {
        int q = 16 - x;
        if (q < POW10_QMIN || q > POW10_QMAX)
            return -1;
        int s = -(pow10_e[q - POW10_QMIN] + v.e);
        if (s <= 8 || s >= 120)
            return -1;
        bg_u128 p = (bg_u128)v.f * pow10_f[q - POW10_QMIN];
        bg_u128 ip = p >> s;
        if (ip >= pow10_u64[17]) {
            x++;
            continue;
        }
        if (ip < pow10_u64[16]) {
            x--;
            continue;
        }
        bg_u128 frac = p & (((bg_u128)1 << s) - 1);
        bg_u128 half = (bg_u128)1 << (s - 1);
        /* |pow10_f - 10^q * 2^-e| <= 1/2, so p is off by at most f/2 */
        bg_u128 margin = (v.f >> 1) + 1;
        bg_u128 dist = frac > half ? frac - half : half - frac;
        if (dist <= margin)
            return -1;
        uint64_t d = (uint64_t)ip + (frac > half);
        if (d == pow10_u64[17]) {
            d = pow10_u64[16];
            x++;
        }
        *d_out = d;
        *x_out = x;
        return 0;
    }
    return -1;
}

static size_t fmt17_slow(double v, char *out)
{
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "%.17g", v);
    if (n < 0)
        n = 0;
    if (n > BG_FMT_DOUBLE_MAX)
        n = BG_FMT_DOUBLE_MAX;
    memcpy(out, tmp, (size_t)n);
    return (size_t)n;
}

size_t bg_fmt_double17(double v, char *out)
{
    uint64_t bits = double_bits(v);
    if (((bits >> 52) & 0x7ff) == 0x7ff)
        return fmt17_slow(v, out);
    size_t n = 0;
    if (bits >> 63)
        out[n++] = '-';
    if ((bits << 1) == 0) {
        out[n++] = '0';
        return n;
    }
    uint64_t d;
    int x;
    if (digits17(bits & ~(UINT64_C(1) << 63), &d, &x) != 0)
        return fmt17_slow(v, out);
    char dig[17];
    write17(d, dig);
    int len = 17;
    while (len > 1 && dig[len - 1] == '0')
        len--;
    char *p = out + n;
    if (x >= -4 && x < 17) {
        if (x >= 0) {
            int ip = x + 1;
            memcpy(p, dig, (size_t)ip);
            p += ip;
            if (len > ip) {
                *p++ = '.';
                memcpy(p, dig + ip, (size_t)(len - ip));
                p += len - ip;
            }
        } else {
            memcpy(p, "0.", 2);
            p += 2;
            memset(p, '0', (size_t)(-x - 1));
            p += -x - 1;
            memcpy(p, dig, (size_t)len);
            p += len;
        }
        return (size_t)(p - out);
    }
    *p++ = dig[0];
    if (len > 1) {
        *p++ = '.';
        memcpy(p, dig + 1, (size_t)(len - 1));
        p += len - 1;
    }
    *p++ = 'e';
    int ax = x;
    if (ax < 0) {
        *p++ = '-';
        ax = -ax;
    } else {
        *p++ = '+';
    }
    if (ax >= 100) {
        *p++ = (char)('0' + ax / 100);
        ax %= 100;
    }
    memcpy(p, digit_pairs + 2 * ax, 2);
    p += 2;
    return (size_t)(p - out);
}

/* test_fmt.c - core/fmt.c: every double bg_fmt_double writes reads back to
 * the identical bits and is JSON number syntax; bg_fmt_double17 writes what
 * printf("%.17g") writes. Millions of values from several distributions.
 * "Shortest, then closest" (fmt.h) is checked against a brute-force
 * reference built from printf("%.{p}e") and strtod alone, on a million
 * random bit patterns and on the edge cases. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static uint64_t to_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* JSON number grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        size_t j = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == j)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t j = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == j)
            return 0;
    }
    return i == n;
}

/* Format v both ways and check; returns 1 if all fine (criterion asserts
 * on failure with the value, so a failure names its input). */
static void check_one(double v)
{
    char buf[BG_FMT_DOUBLE_MAX + 1];
    char ref[64];
    memset(buf, 'X', sizeof buf);
    size_t n = bg_fmt_double(v, buf);
    cr_assert(n > 0 && n <= BG_FMT_DOUBLE_MAX, "length %zu for %a", n, v);
    cr_assert(is_json_number(buf, n), "not JSON: %.*s for %a", (int)n, buf, v);
    buf[n] = '\0';
    double back = strtod(buf, NULL);
    cr_assert(to_bits(back) == to_bits(v), "%s reads back as %a, not %a", buf,
              back, v);

    n = bg_fmt_double17(v, buf);
    cr_assert(n <= BG_FMT_DOUBLE_MAX);
    buf[n] = '\0';
    snprintf(ref, sizeof ref, "%.17g", v);
    cr_assert_str_eq(buf, ref, "%%.17g of %a", v);
}

Test(fmt, special_values)
{
    static const struct {
        double v;
        const char *json;
        const char *g17;
    } cases[] = {
        {0.0, "0.0", "0"},
        {-0.0, "-0.0", "-0"},
        {1.0, "1.0", "1"},
        {-1.0, "-1.0", "-1"},
        {0.1, "0.1", "0.10000000000000001"},
        {1e-10, "1e-10", "1e-10"},
        {100.0, "100.0", "100"},
        {0.5, "0.5", "0.5"},
        {1e16, "1e+16", "10000000000000000"},
        {1e15, "1000000000000000.0", "1000000000000000"},
        {0.001, "0.001", "0.001"},
        {1e-5, "1e-5", "1.0000000000000001e-05"},
        {1.5e300, "1.5e+300", "1.5000000000000001e+300"},
        {5e-324, "5e-324", "4.9406564584124654e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308",
         "1.7976931348623157e+308"},
        {2.2250738585072014e-308, "2.2250738585072014e-308",
         "2.2250738585072014e-308"},
        {-0.9999999894, "-0.9999999894", "-0.99999998940000001"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[BG_FMT_DOUBLE_MAX + 1];
        size_t n = bg_fmt_double(cases[i].v, buf);
        buf[n] = '\0';
        cr_expect_str_eq(buf, cases[i].json, "case %zu", i);
        n = bg_fmt_double17(cases[i].v, buf);
        buf[n] = '\0';
        cr_expect_str_eq(buf, cases[i].g17, "case %zu", i);
        check_one(cases[i].v);
    }
}

Test(fmt, nonfinite_is_null_in_json_and_printf_in_17)
{
    double vals[] = {INFINITY, -INFINITY, NAN};
    for (size_t i = 0; i < 3; i++) {
        char buf[BG_FMT_DOUBLE_MAX + 1], ref[64];
        size_t n = bg_fmt_double(vals[i], buf);
        buf[n] = '\0';
        cr_expect_str_eq(buf, "null");
        n = bg_fmt_double17(vals[i], buf);
        buf[n] = '\0';
        snprintf(ref, sizeof ref, "%.17g", vals[i]);
        cr_expect_str_eq(buf, ref);
    }
}

Test(fmt, random_bits, .timeout = 120)
{
    rng_state = 1;
    for (long i = 0; i < 2000000; i++) {
        double v = from_bits(rng());
        if (isfinite(v))
            check_one(v);
    }
}

Test(fmt, ranges_of_a_source_grid, .timeout = 120)
{
    /* magnitudes a grid holds: wavelengths ~1e-10, directions ~1e-6..1,
     * positions ~1e-2..1e4, weights ~1e-8..1 */
    static const double lo[] = {1e-12, 1e-6, 1e-2, 1e-8, 0.5};
    static const double hi[] = {1e-9, 1.0, 1e4, 1.0, 1.0};
    rng_state = 2;
    for (long i = 0; i < 2000000; i++) {
        size_t r = (size_t)i % 5;
        double u = (double)(rng() >> 11) / 9007199254740992.0;
        double v = lo[r] * pow(hi[r] / lo[r], u);
        check_one(i & 1 ? -v : v);
        check_one(nextafter(v, 0.0));
    }
}

Test(fmt, subnormals_and_extremes, .timeout = 120)
{
    rng_state = 3;
    for (long i = 0; i < 500000; i++) {
        uint64_t r = rng();
        check_one(from_bits(r & UINT64_C(0x000fffffffffffff)));
        check_one(from_bits((r & UINT64_C(0x001fffffffffffff)) |
                            UINT64_C(0x7fd0000000000000)));
    }
    check_one(from_bits(1));
    check_one(from_bits(UINT64_C(0x000fffffffffffff)));
    check_one(from_bits(UINT64_C(0x0010000000000000)));
    check_one(from_bits(UINT64_C(0x7fefffffffffffff)));
}

Test(fmt, powers_of_ten_and_two_and_integers, .timeout = 60)
{
    for (int e = -323; e <= 308; e++) {
        char s[32];
        snprintf(s, sizeof s, "1e%d", e);
        double v = strtod(s, NULL);
        check_one(v);
        check_one(nextafter(v, INFINITY));
        check_one(nextafter(v, 0.0));
    }
    for (int e = -1074; e <= 1023; e++)
        check_one(ldexp(1.0, e));
    for (long i = 0; i < 200000; i++)
        check_one((double)i);
    rng_state = 4;
    for (long i = 0; i < 200000; i++)
        check_one((double)(int64_t)(rng() >> (i % 64)));
}

Test(fmt, shortest_for_short_decimals)
{
    /* Values typed as short decimals come back as the same short text. */
    static const char *const texts[] = {"0.28",     "0.02",  "1.0", "0.0001",
                                        "12398.42", "1e-10", "0.3", "2.5e-8"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char buf[BG_FMT_DOUBLE_MAX + 1];
        size_t n = bg_fmt_double(strtod(texts[i], NULL), buf);
        buf[n] = '\0';
        cr_expect_str_eq(buf, texts[i]);
    }
}

/* ---- a brute-force reference for "shortest, then closest" ----
 * fmt.h promises the shortest decimal that reads back to v, and of those
 * the closest to v. The reference finds it with printf and strtod alone:
 * for p = 1..17 significant digits, the closest p-digit decimal to v is
 * printf("%.{p-1}e"); if it reads back, it is the answer (closest). If it
 * does not, its neighbour on the other side of v (one unit in its last
 * place away) may still read back (the rounding interval of a power of two
 * is narrower below than above); then that one is the answer (the p-digit
 * decimal nearest v on that side). The first p with an answer is the
 * shortest length. */

/* A decimal as its significant digits (no leading or trailing zero) and
 * its exponent: value = d[0].d[1..] * 10^exp10. */
typedef struct {
    char d[800];
    int exp10;
} decimal;

/* Normalize "[-]int[.frac][e[+-]x]" (any JSON number or %e text). */
static decimal decimal_of(const char *s)
{
    decimal r = {{0}, 0};
    char all[800];
    int n = 0, point = -1, x = 0;
    if (*s == '-')
        s++;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s == '.')
            point = n;
        else
            all[n++] = *s;
    }
    if (*s)
        x = atoi(s + 1);
    if (point < 0)
        point = n;
    int lead = 0;
    while (lead < n - 1 && all[lead] == '0')
        lead++;
    int end = n;
    while (end > lead + 1 && all[end - 1] == '0')
        end--;
    memcpy(r.d, all + lead, (size_t)(end - lead));
    r.exp10 = point - lead - 1 + x;
    return r;
}

static int reads_back(const char *text, double v)
{
    return to_bits(strtod(text, NULL)) == to_bits(v);
}

/* The p-digit decimal one unit in the last place from the p-digit text t
 * ("d.ddde+x", positive), upward (dir 1) or downward (dir -1), as text. */
static void neighbour(const char *t, int p, int dir, char *out, size_t cap)
{
    uint64_t m = 0;
    for (const char *c = t; *c && *c != 'e'; c++)
        if (*c != '.')
            m = m * 10 + (uint64_t)(*c - '0');
    int x = atoi(strchr(t, 'e') + 1) - (p - 1); /* value = m * 10^x */
    m = dir > 0 ? m + 1 : m - 1;
    snprintf(out, cap, "%llue%d", (unsigned long long)m, x);
}

/* The decimals of p digits nearest v on either side that read back as v:
 * the closest into best (else ""), the other one into alt (else "").
 * Returns whether any does. */
static int try_digits(double v, int p, char *best, char *alt, size_t cap)
{
    char near[64], other[64];
    snprintf(near, sizeof near, "%.*e", p - 1, v);
    double w = strtod(near, NULL);
    neighbour(near, p, w > v ? -1 : 1, other, sizeof other);
    best[0] = alt[0] = '\0';
    if (to_bits(w) == to_bits(v)) {
        snprintf(best, cap, "%s", near);
        if (reads_back(other, v))
            snprintf(alt, cap, "%s", other);
        return 1;
    }
    if (reads_back(other, v))
        snprintf(best, cap, "%s", other);
    return best[0] != '\0';
}

/* The reference for positive finite nonzero v: the first p = 1..17 for
 * which a p-digit decimal reads back, its answer into best and alt (see
 * try_digits). Found by bisection, which finds the same first p as a
 * linear scan: if some p-digit decimal reads back, so does the same
 * number written with p + 1 digits, so the property only turns on. */
static int shortest_reference(double v, char *best, char *alt, size_t cap)
{
    int lo = 1, hi = 17; /* a 17-digit decimal always reads back */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (try_digits(v, mid, best, alt, cap))
            hi = mid;
        else
            lo = mid + 1;
    }
    cr_assert(try_digits(v, lo, best, alt, cap),
              "no decimal of 17 digits reads back as %a", v);
    return lo;
}

/* Whether v lies exactly halfway between two decimals of p digits: its
 * exact digits (%.770e prints every digit a double has) are p + 1 long,
 * the last a 5. */
static int is_tie(double v, int p)
{
    static char exact[800];
    snprintf(exact, sizeof exact, "%.770e", v);
    decimal e = decimal_of(exact);
    return (int)strlen(e.d) == p + 1 && e.d[p] == '5';
}

static int same_decimal(const char *a, const char *b)
{
    decimal x = decimal_of(a), y = decimal_of(b);
    return strcmp(x.d, y.d) == 0 && x.exp10 == y.exp10;
}

/* bg_fmt_double(v) against the reference: it reads back, has the
 * reference's digit count, and is the reference's decimal (or, when v is
 * exactly halfway between two that read back, either of them). */
static void check_shortest(double v)
{
    if (!isfinite(v) || v == 0.0)
        return;
    char out[BG_FMT_DOUBLE_MAX + 1], ref[64], alt[64];
    size_t n = bg_fmt_double(v, out);
    out[n] = '\0';
    cr_assert(reads_back(out, v), "%s does not read back as %a", out, v);
    int p = shortest_reference(fabs(v), ref, alt, sizeof ref);
    decimal got = decimal_of(out);
    cr_assert_eq((int)strlen(got.d), p,
                 "%a: %s has %zu digits, the shortest that reads back "
                 "has %d (%s)",
                 v, out, strlen(got.d), p, ref);
    if (same_decimal(out, ref))
        return;
    cr_assert(alt[0] != '\0' && same_decimal(out, alt) && is_tie(fabs(v), p),
              "%a: %s, but %s is closer (same length)", v, out, ref);
}

Test(fmt, shortest_matches_brute_force_on_random_bits, .timeout = 120)
{
    rng_state = 5;
    long checked = 0;
    while (checked < 1000000) {
        double v = from_bits(rng());
        if (!isfinite(v) || v == 0.0)
            continue;
        check_shortest(v);
        checked++;
    }
}

Test(fmt, shortest_matches_brute_force_on_edge_cases, .timeout = 120)
{
    /* every power of two (the narrow-below intervals), the smallest and
     * largest subnormals and normals, powers of ten and their neighbours,
     * integers around 2^53, short decimals and the tiniest values */
    for (int e = -1074; e <= 1023; e++) {
        double v = ldexp(1.0, e);
        check_shortest(v);
        check_shortest(nextafter(v, 0.0));
        check_shortest(nextafter(v, INFINITY));
    }
    for (uint64_t b = 1; b < 4096; b++) {
        check_shortest(from_bits(b));
        check_shortest(from_bits(UINT64_C(0x0010000000000000) - b));
        check_shortest(from_bits(UINT64_C(0x0010000000000000) + b));
        check_shortest(from_bits(UINT64_C(0x7ff0000000000000) - b));
    }
    for (int e = -324; e <= 308; e++) {
        char s[32];
        snprintf(s, sizeof s, "1e%d", e);
        double v = strtod(s, NULL);
        check_shortest(v);
        check_shortest(nextafter(v, 0.0));
        check_shortest(nextafter(v, INFINITY));
        for (int d = 2; d <= 9; d++) {
            snprintf(s, sizeof s, "%de%d", d, e);
            check_shortest(strtod(s, NULL));
        }
    }
    for (int64_t i = -1000; i <= 1000; i++)
        check_shortest((double)((INT64_C(1) << 53) + i));
    static const double fixed[] = {5e-324,
                                   1e-323,
                                   2.2250738585072009e-308,
                                   2.2250738585072014e-308,
                                   1.7976931348623157e308,
                                   0.1,
                                   0.3,
                                   2.0 / 3.0,
                                   9007199254740993.0,
                                   1e23,
                                   9.5e-5,
                                   1.0e-10,
                                   123456789012345680.0};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        check_shortest(fixed[i]);
        check_shortest(-fixed[i]);
    }
}

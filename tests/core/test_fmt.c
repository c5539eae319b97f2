/* test_fmt.c - core/fmt.c: every double bg_fmt_double writes reads back to
 * the identical bits and is JSON number syntax; bg_fmt_double17 writes what
 * printf("%.17g") writes. Millions of values from several distributions. */
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

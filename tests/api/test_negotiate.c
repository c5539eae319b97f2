/* test_negotiate.c - api/negotiate.c: ?format= and ?dtype= combinations,
 * Accept with q-values, wildcards and specificity, ties, 406, and the
 * static names of each representation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "api/negotiate.h"

typedef struct {
    const char *accept, *format, *dtype;
    int status; /* 0: ok */
    bgapi_format fmt;
    bg_dtype dt;
    const char *field;
} neg_case;

#define J BGAPI_FMT_JSON
#define N BGAPI_FMT_NPY
#define B BGAPI_FMT_BIN
#define T BGAPI_FMT_TXT
#define Z BGAPI_FMT_NPZ
#define S BGAPI_FMT_SVG

Test(negotiate, table)
{
    static const neg_case cases[] = {
        {NULL, NULL, NULL, 0, J, BG_F64, NULL},
        {"", NULL, NULL, 0, J, BG_F64, NULL},
        {"*/*", NULL, NULL, 0, J, BG_F64, NULL},
        {"application/json", NULL, NULL, 0, J, BG_F64, NULL},
        {"application/x-npy", NULL, NULL, 0, N, BG_F64, NULL},
        {"application/octet-stream", NULL, NULL, 0, B, BG_F64, NULL},
        {"text/plain", NULL, NULL, 0, T, BG_F64, NULL},
        {"TEXT/Plain; charset=utf-8", NULL, NULL, 0, T, BG_F64, NULL},
        {"text/*", NULL, NULL, 0, T, BG_F64, NULL},
        {"application/*", NULL, NULL, 0, J, BG_F64, NULL},
        {"application/*, application/json;q=0", NULL, NULL, 0, N, BG_F64, NULL},
        {"*/*;q=0.1, text/plain", NULL, NULL, 0, T, BG_F64, NULL},
        {"text/plain;q=0.5, application/x-npy;q=0.8", NULL, NULL, 0, N, BG_F64,
         NULL},
        {"text/plain;q=0.8, application/x-npy;q=0.8", NULL, NULL, 0, N, BG_F64,
         NULL},
        {"text/plain, application/octet-stream", NULL, NULL, 0, B, BG_F64,
         NULL},
        {"text/plain , application/json ; q=0.9", NULL, NULL, 0, T, BG_F64,
         NULL},
        {"application/json;q=0.001, image/png", NULL, NULL, 0, J, BG_F64, NULL},
        {"*/*;q=0.5, application/json;q=0", NULL, NULL, 0, N, BG_F64, NULL},
        {"image/svg+xml", NULL, NULL, 0, S, BG_F64, NULL},
        {"image/*", NULL, NULL, 0, S, BG_F64, NULL},
        {"image/avif,image/webp,image/svg+xml,image/*,*/*;q=0.8", NULL, NULL, 0,
         S, BG_F64, NULL},
        {"image/svg+xml;q=0.5, text/plain;q=0.5", NULL, NULL, 0, T, BG_F64,
         NULL},
        {NULL, "svg", NULL, 0, S, BG_F64, NULL},
        {NULL, "svg", "f4", 400, J, BG_F64, "dtype"},
        {"image/svg+xml", NULL, "f8", 400, J, BG_F64, "dtype"},
        {"image/png", NULL, NULL, 406, J, BG_F64, "Accept"},
        {"application/problem+json", NULL, NULL, 406, J, BG_F64, "Accept"},
        {"application/json;q=0", NULL, NULL, 406, J, BG_F64, "Accept"},
        {"*/*;q=0", NULL, NULL, 406, J, BG_F64, "Accept"},
        {"text/html, application/xml;q=0.9", NULL, NULL, 406, J, BG_F64,
         "Accept"},
        {"application/json;q=2", NULL, NULL, 406, J, BG_F64, "Accept"},
        {"application/json;q=abc, text/plain", NULL, NULL, 0, T, BG_F64, NULL},
        {"application/x-npy", NULL, "float32", 0, N, BG_F32, NULL},
        {"application/octet-stream", NULL, "f4", 0, B, BG_F32, NULL},
        {NULL, "json", NULL, 0, J, BG_F64, NULL},
        {NULL, "npy", NULL, 0, N, BG_F64, NULL},
        {NULL, "bin", NULL, 0, B, BG_F64, NULL},
        {NULL, "txt", NULL, 0, T, BG_F64, NULL},
        {"image/png", "npy", NULL, 0, N, BG_F64, NULL},
        {"text/plain", "json", NULL, 0, J, BG_F64, NULL},
        {NULL, "npy", "float32", 0, N, BG_F32, NULL},
        {NULL, "npy", "float64", 0, N, BG_F64, NULL},
        {NULL, "npy", "f8", 0, N, BG_F64, NULL},
        {NULL, "bin", "f4", 0, B, BG_F32, NULL},
        {NULL, "bin", "float32", 0, B, BG_F32, NULL},
        {NULL, "json", "float32", 400, J, BG_F64, "dtype"},
        {NULL, "txt", "float64", 400, J, BG_F64, "dtype"},
        {NULL, NULL, "float32", 400, J, BG_F64, "dtype"},
        {"text/plain", NULL, "f4", 400, J, BG_F64, "dtype"},
        {NULL, "npy", "float16", 400, J, BG_F64, "dtype"},
        {NULL, "npy", "", 400, J, BG_F64, "dtype"},
        {"application/x-npz", NULL, NULL, 0, Z, BG_F64, NULL},
        {"application/x-npz", NULL, "float32", 0, Z, BG_F32, NULL},
        {"application/x-npz;q=0.9, text/plain;q=0.8", NULL, NULL, 0, Z, BG_F64,
         NULL},
        {"application/x-npz, application/x-npy", NULL, NULL, 0, N, BG_F64,
         NULL},
        {NULL, "npz", NULL, 0, Z, BG_F64, NULL},
        {NULL, "npz", "float32", 0, Z, BG_F32, NULL},
        {NULL, "npz", "f8", 0, Z, BG_F64, NULL},
        {"application/json", "npz", "f4", 0, Z, BG_F32, NULL},
        {NULL, "npz", "float16", 400, J, BG_F64, "dtype"},
        {NULL, "NPZ", NULL, 400, J, BG_F64, "format"},
        {NULL, "xml", NULL, 400, J, BG_F64, "format"},
        {NULL, "", NULL, 400, J, BG_F64, "format"},
        {NULL, "JSON", NULL, 400, J, BG_F64, "format"},
        {NULL, "xml", "f4", 400, J, BG_F64, "format"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const neg_case *c = &cases[i];
        bgapi_repr r = {J, BG_F64};
        bgapi_problem prob;
        memset(&prob, 0, sizeof prob);
        int rc = bgapi_negotiate(c->accept, c->format, c->dtype, &r, &prob);
        if (c->status == 0) {
            cr_expect_eq(rc, 0, "case %zu: %s", i, prob.detail);
            cr_expect_eq(r.format, c->fmt, "case %zu", i);
            cr_expect_eq(r.dtype, c->dt, "case %zu", i);
        } else {
            cr_expect_eq(rc, -1, "case %zu", i);
            cr_expect_eq(prob.status, c->status, "case %zu", i);
            cr_expect_str_eq(prob.field, c->field, "case %zu", i);
        }
    }
}

Test(negotiate, not_acceptable_lists_types)
{
    bgapi_repr r;
    bgapi_problem prob;
    cr_assert_eq(bgapi_negotiate("image/png", NULL, NULL, &r, &prob), -1);
    cr_expect_str_eq(prob.slug, "not-acceptable");
    cr_expect_not_null(strstr(prob.detail, "application/json"));
    cr_expect_not_null(strstr(prob.detail, "application/x-npy"));
    cr_expect_not_null(strstr(prob.detail, "application/octet-stream"));
    cr_expect_not_null(strstr(prob.detail, "text/plain"));
    cr_expect_not_null(strstr(prob.detail, "application/x-npz"));
    cr_expect_not_null(strstr(prob.detail, "image/svg+xml"));
    cr_assert_eq(bgapi_negotiate(NULL, "yaml", NULL, &r, &prob), -1);
    cr_expect_str_eq(prob.slug, "invalid-value");
    cr_expect_not_null(strstr(prob.detail, "npz"));
}

Test(negotiate, names_tags_slots)
{
    static const struct {
        bgapi_repr r;
        const char *ct, *tag;
        int slot;
    } cases[] = {
        {{J, BG_F64}, "application/json", "json", 0},
        {{N, BG_F64}, "application/x-npy", "npy-f8", 1},
        {{N, BG_F32}, "application/x-npy", "npy-f4", 2},
        {{B, BG_F64}, "application/octet-stream", "bin-f8", 3},
        {{B, BG_F32}, "application/octet-stream", "bin-f4", 4},
        {{T, BG_F64}, "text/plain; charset=utf-8", "txt", 5},
        {{Z, BG_F64}, "application/x-npz", "npz-f8", 6},
        {{Z, BG_F32}, "application/x-npz", "npz-f4", 7},
        {{S, BG_F64}, "image/svg+xml", "svg", 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_expect_str_eq(bgapi_content_type(cases[i].r), cases[i].ct);
        cr_expect_str_eq(bgapi_repr_tag(cases[i].r), cases[i].tag);
        cr_expect_eq(bgapi_repr_slot(cases[i].r), cases[i].slot);
        cr_expect_lt(bgapi_repr_slot(cases[i].r), BGAPI_REPR_SLOTS);
    }
}

Test(negotiate, long_and_hostile_accept)
{
    char accept[20000];
    size_t n = 0;
    while (n + 40 < sizeof accept)
        n += (size_t)snprintf(accept + n, sizeof accept - n, "x/y;q=0.%d, ",
                              (int)(n % 10));
    strcpy(accept + n, "text/plain;q=0.3");
    bgapi_repr r;
    bgapi_problem prob;
    cr_expect_eq(bgapi_negotiate(accept, NULL, NULL, &r, &prob), 0);
    cr_expect_eq(r.format, T);
    static const char *const junk[] = {";;;",
                                       ",,,",
                                       "/",
                                       "*/",
                                       ";q=",
                                       "text/plain;q",
                                       "text/plain;q=.5",
                                       "\x01\x02",
                                       "*/*;q=1.0000"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        bgapi_negotiate(junk[i], NULL, NULL, &r, &prob);
}

/* test_encode.c - api/encode*.c: JSON parsed back with jansson, every
 * number bit-identical to the grid; npy header layout, size, and numpy.load
 * (Debian's python3-numpy, required); BGRD header and size; txt lines
 * and digits; chunked reads of every size give the bytes of encode_all;
 * max_bytes refusals. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/encode.h"
#include "api/ids.h"
#include "api/request.h"

static const bgapi_repr all_reprs_json = {BGAPI_FMT_JSON, BG_F64};

typedef struct {
    bg_resolved r;
    bg_grid g;
    bgapi_key key; /* for its id; built in place, never copied */
    bgapi_view v;
} fixture;

static void fixture_make(fixture *f, const char *body, bg_dtype dt,
                         unsigned flags)
{
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(bgapi_parse_params(body, strlen(body), &p, &prob), 0, "%s",
                 prob.detail);
    bg_error err;
    cr_assert_eq(bg_resolve(&p, &f->r, &err), BG_OK, "%s", err.detail);
    uint64_t count, points;
    cr_assert_eq(bg_grid_count(&f->r, 10000000, &count, &points, &err), BG_OK,
                 "%s", err.detail);
    cr_assert_eq(bg_grid_alloc(&f->g, count, dt, flags), BG_OK);
    cr_assert_eq(bg_grid_fill(&f->r, &f->g, 1), BG_OK);
    cr_assert_eq(bgapi_key_build(&f->key, &f->r, all_reprs_json), 0);
    f->v = (bgapi_view){f->key.id, &f->r, &f->g};
}

static void fixture_free(fixture *f)
{
    bg_grid_free(&f->g);
    bgapi_key_free(&f->key);
}

static const char *const requests[] = {
    "{}",
    "{\"divergence_mrad\": 0.5, \"divsteps\": 5}",
    "{\"hdivrange_mrad\": 0.28, \"hdivstep_mrad\": 0.02, \"vdivrange_mrad\":"
    " 0.28, \"vdivstep_mrad\": 0.02, \"dispersion_percent\": 0.1,"
    " \"dispsteps\": 3}",
    "{\"divsteps\": 25, \"divergence_mrad\": 2, \"dispsteps\": 9,"
    " \"dispersion_percent\": 0.5, \"round_div\": false, \"convention\":"
    " \"XDS\"}",
    "{\"beam_vector\": [0.1, 0.2, 0.9], \"polar_vector\": [0, 1, 0],"
    " \"divsteps\": 4, \"divergence_mrad\": 1, \"round_div\": false}",
};
#define NREQ (sizeof requests / sizeof requests[0])

static const bgapi_repr all_reprs[] = {
    {BGAPI_FMT_JSON, BG_F64}, {BGAPI_FMT_NPY, BG_F64}, {BGAPI_FMT_NPY, BG_F32},
    {BGAPI_FMT_BIN, BG_F64},  {BGAPI_FMT_BIN, BG_F32}, {BGAPI_FMT_TXT, BG_F64},
    {BGAPI_FMT_NPZ, BG_F64},  {BGAPI_FMT_NPZ, BG_F32}};
#define NREPR (sizeof all_reprs / sizeof all_reprs[0])

static double col(const bg_grid *g, const void *c, uint64_t i)
{
    return g->dtype == BG_F32 ? (double)((const float *)c)[i]
                              : ((const double *)c)[i];
}

static void expect_same(double a, double b, const char *what, size_t i)
{
    cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "%s[%zu]: %a vs %a", what, i, a,
                 b);
}

static void check_json(const fixture *f, const char *buf, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(j, "%s at %d", jerr.text, jerr.position);
    cr_expect_str_eq(json_string_value(json_object_get(j, "id")), f->key.id);
    cr_expect_eq((uint64_t)json_integer_value(json_object_get(j, "count")),
                 f->g.count);
    json_t *res = json_object_get(j, "resolved");
    const bg_resolved *r = &f->r;
    cr_expect_eq(json_integer_value(json_object_get(res, "hdivsteps")),
                 r->hdiv.count);
    cr_expect_eq(json_integer_value(json_object_get(res, "vdivsteps")),
                 r->vdiv.count);
    cr_expect_eq(json_integer_value(json_object_get(res, "dispsteps")),
                 r->disp.count);
    static const char *const keys[] = {
        "hdivrange_mrad", "hdivstep_mrad",      "vdivrange_mrad",
        "vdivstep_mrad",  "dispersion_percent", "dispstep_percent",
        "lambda_A",       "source_distance_mm"};
    double want[] = {r->hdiv.range * 1000.0, r->hdiv.step * 1000.0,
                     r->vdiv.range * 1000.0, r->vdiv.step * 1000.0,
                     r->disp.range * 100.0,  r->disp.step * 100.0,
                     r->lambda0_m * 1e10,    r->source_distance_m * 1000.0};
    for (size_t k = 0; k < 8; k++) {
        json_t *v = json_object_get(res, keys[k]);
        cr_assert(json_is_real(v), "%s", keys[k]);
        expect_same(json_real_value(v), want[k], keys[k], 0);
    }
    for (int k = 0; k < 3; k++) {
        expect_same(json_real_value(json_array_get(
                        json_object_get(res, "beam_vector"), (size_t)k)),
                    r->beam[k], "beam", (size_t)k);
        expect_same(json_real_value(json_array_get(
                        json_object_get(res, "polar_vector"), (size_t)k)),
                    r->polar[k], "polar", (size_t)k);
    }
    cr_expect_eq(json_is_true(json_object_get(res, "round_div")), r->round_div);
    json_t *dirs = json_object_get(j, "directions");
    json_t *w = json_object_get(j, "weights");
    json_t *l = json_object_get(j, "wavelengths_m");
    cr_assert_eq(json_array_size(dirs), f->g.count);
    cr_assert_eq(json_array_size(w), f->g.count);
    cr_assert_eq(json_array_size(l), f->g.count);
    for (size_t i = 0; i < f->g.count; i++) {
        json_t *d = json_array_get(dirs, i);
        cr_assert_eq(json_array_size(d), 3);
        expect_same(json_real_value(json_array_get(d, 0)),
                    col(&f->g, f->g.x, i), "x", i);
        expect_same(json_real_value(json_array_get(d, 1)),
                    col(&f->g, f->g.y, i), "y", i);
        expect_same(json_real_value(json_array_get(d, 2)),
                    col(&f->g, f->g.z, i), "z", i);
        expect_same(json_real_value(json_array_get(w, i)),
                    col(&f->g, f->g.weight, i), "weight", i);
        expect_same(json_real_value(json_array_get(l, i)),
                    col(&f->g, f->g.lambda, i), "lambda", i);
    }
    json_decref(j);
}

static void encode(const fixture *f, bgapi_repr r, char **out, size_t *len)
{
    cr_assert_eq(bgapi_encode_all(&f->v, r, (size_t)1 << 30, out, len), 0);
}

Test(encode, json_round_trips_every_number)
{
    for (size_t i = 0; i < NREQ; i++) {
        for (int dt = 0; dt < 2; dt++) {
            fixture f;
            fixture_make(&f, requests[i], dt ? BG_F32 : BG_F64, 0);
            char *buf;
            size_t len;
            encode(&f, all_reprs[0], &buf, &len);
            cr_expect_eq(bgapi_encoded_size(&f.v, all_reprs[0]),
                         BGAPI_SIZE_UNKNOWN);
            check_json(&f, buf, len);
            free(buf);
            fixture_free(&f);
        }
    }
}

Test(encode, json_without_view_id_computes_it)
{
    fixture f;
    fixture_make(&f, requests[1], BG_F64, 0);
    f.v.id = NULL;
    char *buf;
    size_t len;
    encode(&f, all_reprs[0], &buf, &len);
    check_json(&f, buf, len);
    free(buf);
    fixture_free(&f);
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The five columns of the data part, cast to dt, compared with the grid. */
static void check_columns(const fixture *f, const unsigned char *data,
                          bg_dtype dt)
{
    const void *cols[5] = {f->g.x, f->g.y, f->g.z, f->g.weight, f->g.lambda};
    size_t es = dt == BG_F32 ? 4 : 8;
    for (size_t c = 0; c < 5; c++) {
        for (uint64_t i = 0; i < f->g.count; i++) {
            const unsigned char *p = data + (c * f->g.count + i) * es;
            double v = col(&f->g, cols[c], i);
            if (dt == BG_F32) {
                float want = (float)v, got;
                memcpy(&got, p, 4);
                cr_assert_eq(memcmp(&want, &got, 4), 0, "col %zu row %lu", c,
                             (unsigned long)i);
            } else {
                double got;
                memcpy(&got, p, 8);
                expect_same(got, v, "col", c);
            }
        }
    }
}

Test(encode, npy_header_and_data)
{
    for (size_t i = 0; i < NREQ; i++) {
        for (int dt = 0; dt < 2; dt++) {
            fixture f;
            fixture_make(&f, requests[i], BG_F64, 0);
            bgapi_repr r = {BGAPI_FMT_NPY, dt ? BG_F32 : BG_F64};
            char *buf;
            size_t len;
            encode(&f, r, &buf, &len);
            cr_assert_eq(bgapi_encoded_size(&f.v, r), len);
            const unsigned char *u = (const unsigned char *)buf;
            cr_expect_eq(memcmp(buf, "\x93NUMPY\x01\x00", 8), 0);
            size_t hlen = (size_t)le(u + 8, 2);
            size_t total = 10 + hlen;
            cr_expect_eq(total % 64, 0);
            cr_expect_eq(buf[total - 1], '\n');
            char want[128];
            int n = snprintf(want, sizeof want,
                             "{'descr': '<f%d', 'fortran_order': True, "
                             "'shape': (%lu, 5), }",
                             dt ? 4 : 8, (unsigned long)f.g.count);
            cr_expect_eq(memcmp(buf + 10, want, (size_t)n), 0, "%.*s",
                         (int)hlen, buf + 10);
            for (size_t k = 10 + (size_t)n; k < total - 1; k++)
                cr_expect_eq(buf[k], ' ');
            cr_assert_eq(len, total + f.g.count * 5 * (dt ? 4u : 8u));
            check_columns(&f, u + total, r.dtype);
            free(buf);
            fixture_free(&f);
        }
    }
}

Test(encode, npy_loads_in_numpy)
{
    /* make test installs python3-numpy (the Makefile's DEPS_PKGS): its
     * absence is a broken setup, not a reason to check less. */
    cr_assert_eq(access("/usr/bin/python3", X_OK), 0, "no /usr/bin/python3");
    cr_assert_eq(
        system("/usr/bin/python3 -c 'import numpy' 2>/dev/null"), 0,
        "no numpy for /usr/bin/python3: install python3-numpy (make deps)");
    fixture f;
    fixture_make(&f, requests[3], BG_F64, 0);
    for (int dt = 0; dt < 2; dt++) {
        bgapi_repr r = {BGAPI_FMT_NPY, dt ? BG_F32 : BG_F64};
        char *buf;
        size_t len;
        encode(&f, r, &buf, &len);
        char path[] = "/tmp/bgapi_npy_XXXXXX";
        int fd = mkstemp(path);
        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, buf, len), (ssize_t)len);
        close(fd);
        free(buf);
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"import numpy as np; a = np.load('%s');"
                 " print(a.shape[0], a.shape[1], a.dtype.str,"
                 " a[7, 0].item().hex(), a[-1, 4].item().hex(),"
                 " a[3, 3].item().hex())\"",
                 path);
        FILE *p = popen(cmd, "r");
        cr_assert_not_null(p);
        char line[512] = "";
        cr_assert_not_null(fgets(line, sizeof line, p));
        pclose(p);
        unlink(path);
        unsigned long rows, ncols;
        char dtype[8], h1[64], h2[64], h3[64];
        cr_assert_eq(sscanf(line, "%lu %lu %7s %63s %63s %63s", &rows, &ncols,
                            dtype, h1, h2, h3),
                     6, "%s", line);
        cr_expect_eq(rows, f.g.count);
        cr_expect_eq(ncols, 5);
        cr_expect_str_eq(dtype, dt ? "<f4" : "<f8");
        double x7 = ((double *)f.g.x)[7];
        double l_last = ((double *)f.g.lambda)[f.g.count - 1];
        double w3 = ((double *)f.g.weight)[3];
        if (dt) {
            x7 = (float)x7;
            l_last = (float)l_last;
            w3 = (float)w3;
        }
        expect_same(strtod(h1, NULL), x7, "x", 7);
        expect_same(strtod(h2, NULL), l_last, "lambda", 0);
        expect_same(strtod(h3, NULL), w3, "weight", 3);
    }
    fixture_free(&f);
}

Test(encode, bin_header_and_data)
{
    for (size_t i = 0; i < NREQ; i++) {
        for (int dt = 0; dt < 2; dt++) {
            fixture f;
            fixture_make(&f, requests[i], BG_F64, 0);
            bgapi_repr r = {BGAPI_FMT_BIN, dt ? BG_F32 : BG_F64};
            char *buf;
            size_t len;
            encode(&f, r, &buf, &len);
            const unsigned char *u = (const unsigned char *)buf;
            size_t es = dt ? 4 : 8;
            cr_assert_eq(len, 64 + f.g.count * 5 * es);
            cr_assert_eq(bgapi_encoded_size(&f.v, r), len);
            cr_expect_eq(memcmp(buf, "BGRD", 4), 0);
            cr_expect_eq(le(u + 4, 2), 1);
            cr_expect_eq(le(u + 6, 2), es);
            cr_expect_eq(le(u + 8, 8), f.g.count);
            cr_expect_eq(le(u + 16, 4), 5);
            cr_expect_eq(le(u + 20, 4), 64);
            cr_expect_eq(le(u + 24, 8), f.g.points);
            cr_expect_eq(le(u + 32, 8), (uint64_t)f.r.disp.count);
            cr_expect_eq(f.g.points * (uint64_t)f.r.disp.count, f.g.count);
            for (int k = 40; k < 64; k++)
                cr_expect_eq(u[k], 0);
            check_columns(&f, u + 64, r.dtype);
            free(buf);
            fixture_free(&f);
        }
    }
}

Test(encode, binary_from_f32_grid)
{
    fixture f32, f64;
    fixture_make(&f32, requests[2], BG_F32, 0);
    fixture_make(&f64, requests[2], BG_F64, 0);
    for (size_t k = 1; k < 5; k++) {
        char *buf;
        size_t len;
        encode(&f32, all_reprs[k], &buf, &len);
        size_t head =
            len - f32.g.count * 5 * (all_reprs[k].dtype == BG_F32 ? 4 : 8);
        check_columns(&f32, (const unsigned char *)buf + head,
                      all_reprs[k].dtype);
        free(buf);
    }
    fixture_free(&f32);
    fixture_free(&f64);
}

static void check_txt(const fixture *f, const char *buf, size_t len)
{
    cr_assert_gt(len, 0);
    cr_expect_eq(buf[len - 1], '\n');
    cr_expect_null(memchr(buf, '\r', len));
    cr_expect_null(memchr(buf, '#', len));
    const char *p = buf;
    for (uint64_t i = 0; i < f->g.count; i++) {
        const char *nl = memchr(p, '\n', len - (size_t)(p - buf));
        cr_assert_not_null(nl, "line %lu", (unsigned long)i);
        double want[5];
        for (int a = 0; a < 3; a++) {
            const double *pos = a == 0 ? f->g.px : a == 1 ? f->g.py : f->g.pz;
            const void *dir = a == 0 ? f->g.x : a == 1 ? f->g.y : f->g.z;
            want[a] =
                pos ? pos[i] : col(&f->g, dir, i) * f->r.source_distance_m;
        }
        want[3] = col(&f->g, f->g.weight, i);
        want[4] = col(&f->g, f->g.lambda, i);
        char line[256];
        int n = 0;
        for (int k = 0; k < 5; k++)
            n += snprintf(line + n, sizeof line - (size_t)n, "%s%.17g",
                          k ? " " : "", want[k]);
        cr_assert_eq((size_t)(nl - p), (size_t)n, "line %lu", (unsigned long)i);
        cr_assert_eq(memcmp(p, line, (size_t)n), 0, "line %lu: %.*s vs %s",
                     (unsigned long)i, (int)(nl - p), p, line);
        p = nl + 1;
    }
    cr_expect_eq((size_t)(p - buf), len);
}

Test(encode, txt_lines_and_digits)
{
    for (size_t i = 0; i < NREQ; i++) {
        fixture f;
        fixture_make(&f, requests[i], BG_F64, BG_GRID_POSITIONS);
        char *buf;
        size_t len;
        encode(&f, all_reprs[5], &buf, &len);
        cr_expect_eq(bgapi_encoded_size(&f.v, all_reprs[5]),
                     BGAPI_SIZE_UNKNOWN);
        check_txt(&f, buf, len);
        free(buf);
        fixture_free(&f);
    }
    fixture f;
    fixture_make(&f, requests[3], BG_F64, 0); /* no positions kept */
    char *buf;
    size_t len;
    encode(&f, all_reprs[5], &buf, &len);
    check_txt(&f, buf, len);
    free(buf);
    fixture_free(&f);
}

Test(encode, chunked_reads_match_encode_all, .timeout = 60)
{
    static const size_t caps[] = {
        BGAPI_CHUNK_MIN, BGAPI_CHUNK_MIN + 1, 1500, 4093, 65536, 1, 7, 100};
    fixture f;
    fixture_make(&f, requests[3], BG_F64, BG_GRID_POSITIONS);
    for (size_t k = 0; k < NREPR; k++) {
        char *all;
        size_t len;
        encode(&f, all_reprs[k], &all, &len);
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            bgapi_encoder *e = bgapi_encoder_new(&f.v, all_reprs[k]);
            cr_assert_not_null(e);
            char *got = malloc(len + caps[c]);
            size_t n = 0, m;
            char *chunk = malloc(caps[c]);
            while ((m = bgapi_encoder_read(e, chunk, caps[c])) > 0) {
                cr_assert_leq(m, caps[c]);
                cr_assert_leq(n + m, len, "repr %zu cap %zu", k, caps[c]);
                memcpy(got + n, chunk, m);
                n += m;
            }
            cr_expect_eq(bgapi_encoder_read(e, chunk, caps[c]), 0);
            cr_assert_eq(n, len, "repr %zu cap %zu", k, caps[c]);
            cr_assert_eq(memcmp(got, all, len), 0, "repr %zu cap %zu", k,
                         caps[c]);
            bgapi_encoder_free(e);
            free(chunk);
            free(got);
        }
        free(all);
    }
    fixture_free(&f);
}

Test(encode, max_bytes_refusal)
{
    fixture f;
    fixture_make(&f, requests[2], BG_F64, BG_GRID_POSITIONS);
    for (size_t k = 0; k < NREPR; k++) {
        char *buf;
        size_t len;
        encode(&f, all_reprs[k], &buf, &len);
        free(buf);
        char *out = (char *)0x1;
        size_t olen = 12345;
        cr_expect_eq(bgapi_encode_all(&f.v, all_reprs[k], len - 1, &out, &olen),
                     -1, "repr %zu", k);
        cr_expect_eq(out, (char *)0x1);
        cr_expect_eq(olen, 12345);
        cr_expect_eq(bgapi_encode_all(&f.v, all_reprs[k], 10, &out, &olen), -1);
        cr_assert_eq(bgapi_encode_all(&f.v, all_reprs[k], len, &out, &olen), 0,
                     "repr %zu", k);
        cr_expect_eq(olen, len);
        free(out);
    }
    fixture_free(&f);
}

/* test_encode_npz.c - api/encode_npz.c read back by an independent zip
 * reader: the end record, the central directory, every local header, the
 * .npy header and data of each member (values bit-identical to the grid,
 * directions as interleaved rows), the data descriptors, the offsets
 * chaining with no gap, and each CRC-32 against a bitwise CRC written here
 * (not zlib's); the gapped form a server caches, put back together with
 * the grid's columns, is the same bytes; the layout's arithmetic; the 4 GiB
 * limit (no ZIP64) at its exact boundary. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/encode.h"
#include "api/ids.h"
#include "api/request.h"

static const char *const names[3] = {"directions.npy", "weights.npy",
                                     "wavelengths.npy"};

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bit by bit. */
static uint32_t crc32_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static uint32_t rd16(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8;
}

static uint32_t rd32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
           (uint32_t)u[3] << 24;
}

typedef struct {
    bg_resolved r;
    bg_grid g;
    bgapi_view v;
} fixture;

static void fixture_make(fixture *f, const char *body)
{
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(bgapi_parse_params(body, strlen(body), &p, &prob), 0, "%s",
                 prob.detail);
    bg_error err;
    cr_assert_eq(bg_resolve(&p, &f->r, &err), BG_OK, "%s", err.detail);
    uint64_t count, points;
    cr_assert_eq(bg_grid_count(&f->r, 10000000, &count, &points, &err), BG_OK);
    cr_assert_eq(bg_grid_alloc(&f->g, count, BG_F64, 0), BG_OK);
    cr_assert_eq(bg_grid_fill(&f->r, &f->g, 1), BG_OK);
    f->v = (bgapi_view){NULL, &f->r, &f->g};
}

static double grid_value(const bg_grid *g, int member, uint64_t i)
{
    const double *cols[5] = {g->x, g->y, g->z, g->weight, g->lambda};
    if (member == 0)
        return cols[i % 3][i / 3];
    return cols[member + 2][i];
}

/* The .npy of member m at p (len bytes): header text and every value. */
static void check_npy(const fixture *f, int m, bg_dtype dt, const char *p,
                      uint32_t len)
{
    cr_assert_eq(memcmp(p, "\x93NUMPY\x01\x00", 8), 0, "member %d magic", m);
    uint32_t hlen = rd16(p + 8);
    cr_assert_eq((10 + hlen) % 64, 0, "member %d header padding", m);
    cr_assert_eq(p[10 + hlen - 1], '\n');
    char want[128];
    int n = snprintf(want, sizeof want,
                     m == 0 ? "{'descr': '<f%d', 'fortran_order': False, "
                              "'shape': (%" PRIu64 ", 3), }"
                            : "{'descr': '<f%d', 'fortran_order': False, "
                              "'shape': (%" PRIu64 ",), }",
                     dt == BG_F32 ? 4 : 8, f->g.count);
    cr_assert_eq(memcmp(p + 10, want, (size_t)n), 0, "member %d: %.*s", m,
                 (int)hlen, p + 10);
    for (uint32_t i = 10 + (uint32_t)n; i < 10 + hlen - 1; i++)
        cr_assert_eq(p[i], ' ');
    size_t es = dt == BG_F32 ? 4 : 8;
    uint64_t elems = f->g.count * (m == 0 ? 3 : 1);
    cr_assert_eq(len, 10 + hlen + elems * es, "member %d size", m);
    const char *data = p + 10 + hlen;
    for (uint64_t i = 0; i < elems; i++) {
        double want_v = grid_value(&f->g, m, i);
        if (dt == BG_F32) {
            float got, w = (float)want_v;
            memcpy(&got, data + 4 * i, 4);
            cr_assert_eq(memcmp(&got, &w, 4), 0, "m %d [%" PRIu64 "]", m, i);
        } else {
            double got;
            memcpy(&got, data + 8 * i, 8);
            cr_assert_eq(memcmp(&got, &want_v, 8), 0, "m %d [%" PRIu64 "]", m,
                         i);
        }
    }
}

/* Read the whole zip in buf[0..len) back and check everything. */
static void check_zip(const fixture *f, bg_dtype dt, const char *buf,
                      size_t len)
{
    cr_assert_geq(len, 22);
    const char *end = buf + len - 22;
    cr_assert_eq(rd32(end), 0x06054b50u, "end record");
    cr_assert_eq(rd16(end + 4), 0);
    cr_assert_eq(rd16(end + 6), 0);
    cr_assert_eq(rd16(end + 8), 3);
    cr_assert_eq(rd16(end + 10), 3);
    uint32_t cd_size = rd32(end + 12), cd_off = rd32(end + 16);
    cr_assert_eq(rd16(end + 20), 0, "no comment");
    cr_assert_eq((size_t)cd_off + cd_size, len - 22, "directory then end");
    const char *c = buf + cd_off;
    uint64_t next_local = 0;
    for (int m = 0; m < 3; m++) {
        size_t nlen = strlen(names[m]);
        cr_assert_eq(rd32(c), 0x02014b50u, "central %d", m);
        cr_assert_eq(rd16(c + 6), 20, "version needed");
        cr_assert_eq(rd16(c + 8), 0x0008, "flags: data descriptor");
        cr_assert_eq(rd16(c + 10), 0, "stored");
        uint32_t crc = rd32(c + 16), csize = rd32(c + 20);
        cr_assert_eq(rd32(c + 24), csize, "stored: sizes equal");
        cr_assert_eq(rd16(c + 28), nlen);
        cr_assert_eq(rd16(c + 30), 0);
        cr_assert_eq(rd16(c + 32), 0);
        uint32_t local = rd32(c + 42);
        cr_assert_eq(memcmp(c + 46, names[m], nlen), 0, "name %d", m);
        cr_assert_eq(local, next_local, "member %d follows the previous", m);
        /* the local header */
        const char *l = buf + local;
        cr_assert_eq(rd32(l), 0x04034b50u, "local %d", m);
        cr_assert_eq(rd16(l + 4), 20);
        cr_assert_eq(rd16(l + 6), 0x0008);
        cr_assert_eq(rd16(l + 8), 0);
        cr_assert_eq(rd16(l + 10), rd16(c + 12), "time");
        cr_assert_eq(rd16(l + 12), rd16(c + 14), "date");
        cr_assert_eq(rd32(l + 18), csize);
        cr_assert_eq(rd32(l + 22), csize);
        cr_assert_eq(rd16(l + 26), nlen);
        cr_assert_eq(rd16(l + 28), 0, "no extra field");
        cr_assert_eq(memcmp(l + 30, names[m], nlen), 0);
        const char *data = l + 30 + nlen;
        cr_assert_eq(crc32_bitwise((const unsigned char *)data, csize), crc,
                     "member %d CRC", m);
        check_npy(f, m, dt, data, csize);
        /* the data descriptor */
        const char *d = data + csize;
        cr_assert_eq(rd32(d), 0x08074b50u, "descriptor %d", m);
        cr_assert_eq(rd32(d + 4), crc);
        cr_assert_eq(rd32(d + 8), csize);
        cr_assert_eq(rd32(d + 12), csize);
        next_local = (uint64_t)(d + 16 - buf);
        c += 46 + nlen;
    }
    cr_assert_eq(next_local, cd_off, "directory after the last member");
    cr_assert_eq((uint64_t)(c - buf), (uint64_t)cd_off + cd_size);
}

Test(encode_npz, crc32_known_answer)
{
    cr_assert_eq(crc32_bitwise((const unsigned char *)"123456789", 9),
                 0xcbf43926u);
}

Test(encode_npz, zip_bytes_read_back)
{
    static const char *const bodies[] = {
        "{}",
        "{\"divergence_mrad\": 0.5, \"divsteps\": 5}",
        "{\"divergence_mrad\": 0.5, \"divsteps\": 25, \"dispersion_percent\":"
        " 0.1, \"dispsteps\": 9}",
    };
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
        fixture f;
        fixture_make(&f, bodies[b]);
        for (int k = 0; k < 2; k++) {
            bgapi_repr r = {BGAPI_FMT_NPZ, k ? BG_F32 : BG_F64};
            char *buf;
            size_t len;
            cr_assert_eq(bgapi_encode_all(&f.v, r, (size_t)1 << 30, &buf, &len),
                         0);
            cr_assert_eq(len, bgapi_encoded_size(&f.v, r));
            cr_assert_eq(len, bgapi_npz_size(f.g.count, r.dtype));
            check_zip(&f, r.dtype, buf, len);
            free(buf);
        }
        bg_grid_free(&f.g);
    }
}

/* A stream read in odd chunk sizes gives the same bytes (the CRCs are
 * accumulated as bytes go out, whatever the chunking). */
Test(encode_npz, chunked_stream_same_bytes)
{
    fixture f;
    fixture_make(&f, "{\"divergence_mrad\": 0.4, \"divsteps\": 9,"
                     " \"dispsteps\": 3, \"dispersion_percent\": 0.2}");
    static const size_t caps[] = {1, 3, 7, 61, 1024, 1029, 65536};
    for (int k = 0; k < 2; k++) {
        bgapi_repr r = {BGAPI_FMT_NPZ, k ? BG_F32 : BG_F64};
        char *all;
        size_t len;
        cr_assert_eq(bgapi_encode_all(&f.v, r, (size_t)1 << 30, &all, &len), 0);
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            bgapi_encoder *e = bgapi_encoder_new(&f.v, r);
            cr_assert_not_null(e);
            char *got = malloc(len + caps[c]), *chunk = malloc(caps[c]);
            size_t n = 0, m;
            while ((m = bgapi_encoder_read(e, chunk, caps[c])) > 0) {
                cr_assert_leq(n + m, len);
                memcpy(got + n, chunk, m);
                n += m;
            }
            cr_assert_eq(n, len, "cap %zu", caps[c]);
            cr_assert_eq(memcmp(got, all, len), 0, "cap %zu", caps[c]);
            check_zip(&f, r.dtype, got, n);
            bgapi_encoder_free(e);
            free(got);
            free(chunk);
        }
        free(all);
    }
    bg_grid_free(&f.g);
}

Test(encode_npz, layout_arithmetic)
{
    for (int k = 0; k < 2; k++) {
        bg_dtype dt = k ? BG_F32 : BG_F64;
        uint64_t es = k ? 4 : 8;
        static const uint64_t counts[] = {0, 1, 4473, 20000000};
        for (size_t i = 0; i < 4; i++) {
            uint64_t n = counts[i];
            bgapi_npz_layout l;
            bgapi_npz_layout_make(&l, n, dt);
            cr_assert_eq(l.start[0], 0);
            for (int s = 0; s < BGAPI_NPZ_SEGS; s++)
                cr_assert_leq(l.start[s], l.start[s + 1]);
            /* .npy headers of 128 bytes for these counts */
            cr_assert_eq(l.member_size[0], 128 + 3 * n * es);
            cr_assert_eq(l.member_size[1], 128 + n * es);
            cr_assert_eq(l.member_size[2], 128 + n * es);
            uint64_t names_len = 14 + 11 + 15;
            cr_assert_eq(l.central_size, 3 * 46 + names_len);
            cr_assert_eq(l.size, 3 * (30 + 16) + names_len + 3 * 128 +
                                     5 * n * es + l.central_size + 22);
            cr_assert_eq(l.central_off + l.central_size + 22, l.size);
            cr_assert_eq(bgapi_npz_size(n, dt), l.size);
        }
    }
}

/* No ZIP64: the largest count whose npz fits 0xfffffffe bytes passes, one
 * more source is a 422 naming npy and bin. */
Test(encode_npz, four_gib_limit)
{
    for (int k = 0; k < 2; k++) {
        bg_dtype dt = k ? BG_F32 : BG_F64;
        uint64_t per = k ? 20 : 40;
        uint64_t c = (BGAPI_NPZ_MAX - bgapi_npz_size(0, dt)) / per;
        while (bgapi_npz_size(c + 1, dt) <= BGAPI_NPZ_MAX)
            c++;
        while (bgapi_npz_size(c, dt) > BGAPI_NPZ_MAX)
            c--;
        cr_assert_gt(c, 20000000u, "the default --max-sources always fits");
        cr_expect_eq(c, k ? 214748326u : 107374163u, "docs/formats.md");
        bgapi_problem p;
        memset(&p, 0, sizeof p);
        cr_expect_eq(bgapi_npz_check(c, dt, &p), 0, "count %" PRIu64, c);
        cr_expect_eq(bgapi_npz_check(c + 1, dt, &p), -1);
        cr_expect_eq(p.status, 422);
        cr_expect_str_eq(p.slug, "npz-too-large");
        cr_expect_str_eq(p.field, "format");
        cr_expect_not_null(strstr(p.detail, "?format=npy"), "%s", p.detail);
        cr_expect_not_null(strstr(p.detail, "?format=bin"), "%s", p.detail);
        char size[32];
        snprintf(size, sizeof size, "%" PRIu64, bgapi_npz_size(c + 1, dt));
        cr_expect_not_null(strstr(p.detail, size), "%s", p.detail);
    }
}

/* The gapped body plus the weight and wavelength columns in their places
 * is the whole body, byte for byte; 16 bytes a source are not stored. */
Test(encode_npz, gapped_body_and_columns_are_the_body)
{
    fixture f;
    fixture_make(&f, "{\"divergence_mrad\": 0.5, \"divsteps\": 25,"
                     " \"dispersion_percent\": 0.1, \"dispsteps\": 9}");
    bgapi_repr r = {BGAPI_FMT_NPZ, BG_F64};
    cr_assert(bgapi_npz_gapped_repr(&f.v, r));
    bgapi_repr f4 = {BGAPI_FMT_NPZ, BG_F32}, npy = {BGAPI_FMT_NPY, BG_F64};
    cr_assert_not(bgapi_npz_gapped_repr(&f.v, f4));
    cr_assert_not(bgapi_npz_gapped_repr(&f.v, npy));
    char *all, *gapped;
    size_t len, glen;
    bgapi_npz_gaps gaps;
    cr_assert_eq(bgapi_encode_all(&f.v, r, (size_t)1 << 30, &all, &len), 0);
    cr_assert_eq(bgapi_npz_encode_gapped(&f.v, len - 1, &gapped, &glen, &gaps),
                 0);
    size_t col = f.g.count * sizeof(double);
    cr_assert_eq(glen + 2 * col, len);
    cr_assert_eq(len - glen, 16 * f.g.count);
    char *whole = malloc(len);
    size_t n = 0;
    memcpy(whole + n, gapped, gaps.cut[0]);
    n += gaps.cut[0];
    memcpy(whole + n, f.g.weight, col);
    n += col;
    memcpy(whole + n, gapped + gaps.cut[0], gaps.cut[1] - gaps.cut[0]);
    n += gaps.cut[1] - gaps.cut[0];
    memcpy(whole + n, f.g.lambda, col);
    n += col;
    memcpy(whole + n, gapped + gaps.cut[1], glen - gaps.cut[1]);
    n += glen - gaps.cut[1];
    cr_assert_eq(n, len);
    cr_assert_eq(memcmp(whole, all, len), 0);
    check_zip(&f, BG_F64, whole, len);
    char *none = (char *)0x1;
    cr_expect_eq(bgapi_npz_encode_gapped(&f.v, glen - 1, &none, &n, &gaps), -1);
    cr_expect_eq(none, (char *)0x1);
    free(whole);
    free(gapped);
    free(all);
    bg_grid_free(&f.g);
}

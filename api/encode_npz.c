/* encode_npz.c - the NumPy .npz form: a zip of three stored members.
 *
 * directions.npy (N, 3), weights.npy (N,) and wavelengths.npy (N,), C
 * order, <f8 or <f4, the names and shapes of the PyTorch port's three
 * tensors (docs/formats.md). The zip is written here, member by member:
 * local header, the .npy (header and data, stored: no compression),
 * a data descriptor; then the central directory and its end record. The
 * CRC-32 of a member is accumulated (zlib's crc32_z) over its bytes as
 * they are written, so the encoder makes one sequential pass and a large
 * body streams like the others; local headers carry flag bit 3 (CRC in the
 * descriptor that follows the data) with the sizes, which are known up
 * front. The bytes are the same whether a body is cached or streamed, so
 * one ETag names them. No ZIP64: a body must stay under 4 GiB
 * (bgapi_npz_check). The grid's x, y, z columns are interleaved into
 * rows on the fly; weights and wavelengths are straight column copies,
 * or, in the gapped form a server caches, left out to be sent from the
 * grid's own columns. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "api/encode_internal.h"

#define ZIP_LOCAL_SIG   UINT32_C(0x04034b50)
#define ZIP_DESC_SIG    UINT32_C(0x08074b50)
#define ZIP_CENTRAL_SIG UINT32_C(0x02014b50)
#define ZIP_END_SIG     UINT32_C(0x06054b50)
#define ZIP_VERSION     20     /* 2.0: data descriptors */
#define ZIP_FLAGS       0x0008 /* bit 3: CRC in the data descriptor */
#define ZIP_DOS_DATE    0x0021 /* 1980-01-01, 00:00:00: bytes never vary */
#define ZIP_LOCAL_LEN   30
#define ZIP_DESC_LEN    16
#define ZIP_CENTRAL_LEN 46
#define ZIP_END_LEN     22

/* Segments, in body order: per member local header, .npy header, data,
 * descriptor; then a central header per member, then the end record. */
enum { SEG_LOCAL, SEG_NPY_HEAD, SEG_DATA, SEG_DESC };
#define SEG_CENTRAL (4 * BGAPI_NPZ_MEMBERS)
#define SEG_END     (SEG_CENTRAL + BGAPI_NPZ_MEMBERS)

static const char *const member_names[BGAPI_NPZ_MEMBERS] = {
    "directions.npy", "weights.npy", "wavelengths.npy"};

static size_t elem_size(bg_dtype dt)
{
    return dt == BG_F32 ? 4 : 8;
}

static void put16(char *p, unsigned v)
{
    p[0] = (char)(v & 0xff);
    p[1] = (char)((v >> 8) & 0xff);
}

static void put32(char *p, uint64_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (char)((v >> (8 * i)) & 0xff);
}

/* The .npy v1.0 header of member m (count rows, dt) into out (room for
 * BGAPI_HEAD_MAX); returns its length, a multiple of 64. */
static size_t member_npy_head(int m, uint64_t count, bg_dtype dt, char *out)
{
    char dict[96];
    int n = m == 0 ? snprintf(dict, sizeof dict,
                              "{'descr': '<f%zu', 'fortran_order': False, "
                              "'shape': (%" PRIu64 ", 3), }",
                              elem_size(dt), count)
                   : snprintf(dict, sizeof dict,
                              "{'descr': '<f%zu', 'fortran_order': False, "
                              "'shape': (%" PRIu64 ",), }",
                              elem_size(dt), count);
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    put16(out + 8, (unsigned)hlen);
    memcpy(out + 10, dict, (size_t)n);
    memset(out + 10 + n, ' ', hlen - (size_t)n - 1);
    out[total - 1] = '\n';
    return total;
}

static uint64_t member_data_size(int m, uint64_t count, bg_dtype dt)
{
    return count * (m == 0 ? 3u : 1u) * elem_size(dt);
}

void bgapi_npz_layout_make(bgapi_npz_layout *l, uint64_t count, bg_dtype dt)
{
    char head[BGAPI_HEAD_MAX];
    uint64_t off = 0;
    memset(l, 0, sizeof *l);
    for (int m = 0; m < BGAPI_NPZ_MEMBERS; m++) {
        size_t name = strlen(member_names[m]);
        uint64_t head_len = member_npy_head(m, count, dt, head);
        uint64_t data = member_data_size(m, count, dt);
        uint64_t lens[4] = {ZIP_LOCAL_LEN + name, head_len, data, ZIP_DESC_LEN};
        l->member_size[m] = head_len + data;
        for (int s = 0; s < 4; s++) {
            l->start[4 * m + s] = off;
            off += lens[s];
        }
    }
    l->central_off = off;
    for (int m = 0; m < BGAPI_NPZ_MEMBERS; m++) {
        l->start[SEG_CENTRAL + m] = off;
        off += ZIP_CENTRAL_LEN + strlen(member_names[m]);
    }
    l->central_size = off - l->central_off;
    l->start[SEG_END] = off;
    off += ZIP_END_LEN;
    l->start[BGAPI_NPZ_SEGS] = off;
    l->size = off;
}

uint64_t bgapi_npz_size(uint64_t count, bg_dtype dt)
{
    bgapi_npz_layout l;
    bgapi_npz_layout_make(&l, count, dt);
    return l.size;
}

int bgapi_npz_check(uint64_t count, bg_dtype dt, bgapi_problem *prob)
{
    uint64_t size = bgapi_npz_size(count, dt);
    if (size <= BGAPI_NPZ_MAX)
        return 0;
    return bgapi_problem_set(
        prob, 422, "npz-too-large", NULL, "format",
        "the npz of these %" PRIu64 " sources would be %" PRIu64
        " bytes; beamgrid's npz has no ZIP64 and holds at most %" PRIu64
        " bytes: use ?format=npy or ?format=bin (same numbers, any size)",
        count, size, (uint64_t)BGAPI_NPZ_MAX);
}

/* Local (central: central != 0) header of member m into out; its length. */
static size_t member_header(const bgapi_encoder *e, int m, int central,
                            char *out)
{
    const bgapi_npz_layout *l = &e->npz.layout;
    size_t name = strlen(member_names[m]);
    size_t at = central ? 16 : 14; /* where the CRC goes */
    put32(out, central ? ZIP_CENTRAL_SIG : ZIP_LOCAL_SIG);
    if (central)
        put16(out + 4, ZIP_VERSION); /* made by: MS-DOS, 2.0 */
    char *p = out + (central ? 6 : 4);
    put16(p, ZIP_VERSION);
    put16(p + 2, ZIP_FLAGS);
    put16(p + 4, 0); /* stored */
    put16(p + 6, 0); /* time */
    put16(p + 8, ZIP_DOS_DATE);
    put32(out + at, central ? e->npz.crc[m] : 0);
    put32(out + at + 4, l->member_size[m]);
    put32(out + at + 8, l->member_size[m]);
    put16(out + at + 12, (unsigned)name);
    put16(out + at + 14, 0); /* extra */
    size_t len = central ? ZIP_CENTRAL_LEN : ZIP_LOCAL_LEN;
    if (central) {
        memset(out + 32, 0, 10); /* comment, disk, attributes */
        put32(out + 42, l->start[4 * m + SEG_LOCAL]);
    }
    memcpy(out + len, member_names[m], name);
    return len + name;
}

/* The bytes of non-data segment s into out (room for BGAPI_HEAD_MAX). */
static size_t segment_bytes(const bgapi_encoder *e, int s, char *out)
{
    const bgapi_npz_layout *l = &e->npz.layout;
    if (s == SEG_END) {
        put32(out, ZIP_END_SIG);
        put16(out + 4, 0);
        put16(out + 6, 0);
        put16(out + 8, BGAPI_NPZ_MEMBERS);
        put16(out + 10, BGAPI_NPZ_MEMBERS);
        put32(out + 12, l->central_size);
        put32(out + 16, l->central_off);
        put16(out + 20, 0);
        return ZIP_END_LEN;
    }
    if (s >= SEG_CENTRAL)
        return member_header(e, s - SEG_CENTRAL, 1, out);
    int m = s / 4;
    switch (s % 4) {
    case SEG_LOCAL:
        return member_header(e, m, 0, out);
    case SEG_NPY_HEAD:
        return member_npy_head(m, e->v.grid->count, e->r.dtype, out);
    default: /* SEG_DESC */
        put32(out, ZIP_DESC_SIG);
        put32(out + 4, e->npz.crc[m]);
        put32(out + 8, l->member_size[m]);
        put32(out + 12, l->member_size[m]);
        return ZIP_DESC_LEN;
    }
}

/* Element i of column col (stored as src) written as dst into out. */
static void put_elem(const void *col, bg_dtype src, bg_dtype dst, uint64_t i,
                     char *out)
{
    if (dst == BG_F64) {
        double d = bgapi_col(col, src, i);
        memcpy(out, &d, 8);
    } else {
        float f = src == BG_F32 ? ((const float *)col)[i]
                                : (float)((const double *)col)[i];
        memcpy(out, &f, 4);
    }
}

/* Bytes [off, off + n) of the (N, 3) rows x, y, z of the grid as dt. */
static void copy_directions(const bg_grid *g, bg_dtype dt, uint64_t off,
                            size_t n, char *out)
{
    const void *cols[3] = {g->x, g->y, g->z};
    size_t es = elem_size(dt);
    uint64_t k = off / es;
    size_t skip = (size_t)(off % es);
    char elem[8];
    while (n > 0) {
        if (skip == 0 && k % 3 == 0 && n >= 3 * es) { /* whole rows */
            uint64_t row = k / 3;
            size_t rows = n / (3 * es);
            for (size_t j = 0; j < rows; j++, out += 3 * es)
                for (int c = 0; c < 3; c++)
                    put_elem(cols[c], g->dtype, dt, row + j, out + c * es);
            k += 3 * rows;
            n -= rows * 3 * es;
            continue;
        }
        put_elem(cols[k % 3], g->dtype, dt, k / 3, elem);
        size_t take = es - skip < n ? es - skip : n;
        memcpy(out, elem + skip, take);
        out += take;
        n -= take;
        skip = 0;
        k++;
    }
}

static void copy_data(const bgapi_encoder *e, int m, uint64_t off, size_t n,
                      char *out)
{
    const bg_grid *g = e->v.grid;
    if (m == 0)
        copy_directions(g, e->r.dtype, off, n, out);
    else
        bgapi_copy_column(m == 1 ? g->weight : g->lambda, g->dtype, e->r.dtype,
                          off, n, out);
}

void bgapi_npz_init(bgapi_encoder *e)
{
    bgapi_npz_layout_make(&e->npz.layout, e->v.grid->count, e->r.dtype);
    for (int m = 0; m < BGAPI_NPZ_MEMBERS; m++)
        e->npz.crc[m] = (uint32_t)crc32_z(0L, Z_NULL, 0);
    e->npz.seg = 0;
}

size_t bgapi_npz_fill(bgapi_encoder *e, char *out, size_t cap)
{
    const bgapi_npz_layout *l = &e->npz.layout;
    char scratch[BGAPI_HEAD_MAX];
    size_t n = 0;
    while (n < cap && e->stage != BGAPI_STAGE_DONE) {
        int s = e->npz.seg;
        uint64_t in_seg = e->index - l->start[s];
        uint64_t left = l->start[s + 1] - e->index;
        size_t k = left < cap - n ? (size_t)left : cap - n;
        if (s < SEG_CENTRAL && s % 4 == SEG_DATA) {
            copy_data(e, s / 4, in_seg, k, out + n);
        } else if (k > 0) {
            segment_bytes(e, s, scratch);
            memcpy(out + n, scratch + in_seg, k);
        }
        if (s < SEG_CENTRAL && (s % 4 == SEG_NPY_HEAD || s % 4 == SEG_DATA))
            e->npz.crc[s / 4] = (uint32_t)crc32_z(
                e->npz.crc[s / 4], (const unsigned char *)out + n, k);
        n += k;
        e->index += k;
        if (e->index == l->start[s + 1] && ++e->npz.seg == BGAPI_NPZ_SEGS)
            e->stage = BGAPI_STAGE_DONE;
    }
    return n;
}

int bgapi_npz_gapped_repr(const bgapi_view *v, bgapi_repr r)
{
    return r.format == BGAPI_FMT_NPZ && r.dtype == BG_F64 &&
           v->grid->dtype == BG_F64 && v->grid->count > 0;
}

void bgapi_npz_gaps_of(uint64_t count, bgapi_npz_gaps *gaps)
{
    bgapi_npz_layout l;
    bgapi_npz_layout_make(&l, count, BG_F64);
    uint64_t weights = l.start[5 + SEG_DATA] - l.start[4 + SEG_DATA];
    gaps->cut[0] = (size_t)l.start[4 + SEG_DATA];
    gaps->cut[1] = (size_t)(l.start[8 + SEG_DATA] - weights);
}

/* Copy chunk [pos, pos + n) of the whole body into out, leaving out the
 * bytes in [gap[g][0], gap[g][1]) for g = 0, 1; returns the bytes kept. */
static size_t keep_outside(const char *chunk, uint64_t pos, size_t n,
                           const uint64_t gap[2][2], char *out)
{
    size_t kept = 0;
    uint64_t at = pos, end = pos + n;
    for (int g = 0; g <= 2 && at < end; g++) {
        uint64_t stop = g < 2 ? gap[g][0] : end;
        if (stop > end)
            stop = end;
        if (at < stop) {
            memcpy(out + kept, chunk + (at - pos), (size_t)(stop - at));
            kept += (size_t)(stop - at);
            at = stop;
        }
        if (g < 2 && at < gap[g][1])
            at = gap[g][1] < end ? gap[g][1] : end;
    }
    return kept;
}

int bgapi_npz_encode_gapped(const bgapi_view *v, size_t max_bytes, char **out,
                            size_t *len, bgapi_npz_gaps *gaps)
{
    bgapi_repr r = {BGAPI_FMT_NPZ, BG_F64};
    if (!bgapi_npz_gapped_repr(v, r))
        return -1;
    bgapi_npz_layout l;
    bgapi_npz_layout_make(&l, v->grid->count, BG_F64);
    const uint64_t gap[2][2] = {{l.start[4 + SEG_DATA], l.start[5 + SEG_DATA]},
                                {l.start[8 + SEG_DATA], l.start[9 + SEG_DATA]}};
    uint64_t size = l.size - (gap[0][1] - gap[0][0]) - (gap[1][1] - gap[1][0]);
    if (size > max_bytes || size > SIZE_MAX)
        return -1;
    bgapi_encoder *e = bgapi_encoder_new(v, r);
    char *buf = malloc((size_t)size);
    char *chunk = malloc(1u << 16);
    if (e == NULL || buf == NULL || chunk == NULL) {
        bgapi_encoder_free(e);
        free(buf);
        free(chunk);
        return -1;
    }
    uint64_t pos = 0;
    size_t kept = 0, n;
    while ((n = bgapi_encoder_read(e, chunk, 1u << 16)) > 0) {
        kept += keep_outside(chunk, pos, n, gap, buf + kept);
        pos += n;
    }
    bgapi_encoder_free(e);
    free(chunk);
    if (kept != size) { /* cannot happen: the layout is the encoder's */
        free(buf);
        return -1;
    }
    *out = buf;
    *len = kept;
    bgapi_npz_gaps_of(v->grid->count, gaps);
    return 0;
}

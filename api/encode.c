/* encode.c - the encoder machinery and the two binary forms.
 *
 * An encoder pulls bytes into its caller's buffer: whole items when they
 * fit, and through a small pending buffer when the caller's buffer ends
 * mid-item, so any cap >= 1 works. NumPy .npy (v1.0, Fortran order, so the
 * (N, 5) array is the grid's five columns one after the other) and BGRD (a
 * 64-byte header, then the same columns) are a header plus straight column
 * copies, cast element by element when the dtypes differ. JSON, txt and
 * npz live in encode_json.c, encode_txt.c and encode_npz.c; the SVG picture
 * (bounded in size) is rendered whole by encode_svg.c when its encoder is
 * made, then copied out. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/encode_internal.h"
#include "api/encode_svg.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the binary encoders copy columns as little-endian");

#define NCOLS 5

static size_t dtype_size(bg_dtype dt)
{
    return dt == BG_F32 ? 4 : 8;
}

size_t bgapi_npy_head(uint64_t count, bg_dtype dt, char *out)
{
    char dict[96];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '<f%zu', 'fortran_order': True, "
                     "'shape': (%" PRIu64 ", 5), }",
                     dtype_size(dt), count);
    size_t total = 10 + (size_t)n + 1;
    total = (total + 63) / 64 * 64;
    size_t hlen = total - 10;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (char)(hlen & 0xff);
    out[9] = (char)(hlen >> 8);
    memcpy(out + 10, dict, (size_t)n);
    memset(out + 10 + n, ' ', hlen - (size_t)n - 1);
    out[total - 1] = '\n';
    return total;
}

static void put_le(char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (char)(v >> (8 * i));
}

size_t bgapi_bgrd_head(const bg_grid *g, const bg_resolved *r, bg_dtype dt,
                       char *out)
{
    memset(out, 0, BGAPI_BGRD_HEAD);
    memcpy(out, "BGRD", 4);
    put_le(out + 4, 1, 2);
    put_le(out + 6, dtype_size(dt), 2);
    put_le(out + 8, g->count, 8);
    put_le(out + 16, NCOLS, 4);
    put_le(out + 20, BGAPI_BGRD_HEAD, 4);
    put_le(out + 24, g->points, 8);
    put_le(out + 32, g->points ? g->count / g->points : (uint64_t)r->disp.count,
           8); /* sources a point: the dispersion steps or the channels */
    return BGAPI_BGRD_HEAD;
}

uint64_t bgapi_encoded_size(const bgapi_view *v, bgapi_repr r)
{
    char head[128];
    uint64_t data = v->grid->count * NCOLS * (uint64_t)dtype_size(r.dtype);
    switch (r.format) {
    case BGAPI_FMT_NPY:
        return bgapi_npy_head(v->grid->count, r.dtype, head) + data;
    case BGAPI_FMT_BIN:
        return BGAPI_BGRD_HEAD + data;
    case BGAPI_FMT_NPZ:
        return bgapi_npz_size(v->grid->count, r.dtype);
    case BGAPI_FMT_JSON:
    case BGAPI_FMT_TXT:
    case BGAPI_FMT_SVG:
    case BGAPI_FMT_LAM:
    case BGAPI_FMT_DXTBX:
        break;
    }
    return BGAPI_SIZE_UNKNOWN;
}

size_t bgapi_binary_layout(const bgapi_view *v, bgapi_repr r, char *head,
                           const void *cols[NCOLS])
{
    const bg_grid *g = v->grid;
    if (r.dtype != g->dtype || g->count == 0)
        return 0;
    cols[0] = g->x;
    cols[1] = g->y;
    cols[2] = g->z;
    cols[3] = g->weight;
    cols[4] = g->lambda;
    if (r.format == BGAPI_FMT_NPY)
        return bgapi_npy_head(g->count, r.dtype, head);
    if (r.format == BGAPI_FMT_BIN)
        return bgapi_bgrd_head(g, v->resolved, r.dtype, head);
    return 0;
}

bgapi_encoder *bgapi_encoder_new(const bgapi_view *v, bgapi_repr r)
{
    bgapi_encoder *e = malloc(sizeof *e);
    if (e == NULL)
        return NULL;
    e->v = *v;
    e->r = r;
    e->stage = 0;
    e->index = 0;
    e->pend_off = e->pend_len = 0;
    memset(&e->key, 0, sizeof e->key);
    memset(e->memo, 0, sizeof e->memo);
    e->memo_probes = e->memo_hits = e->memo_skip = 0;
    if (r.format == BGAPI_FMT_JSON && v->id == NULL &&
        bgapi_key_build(&e->key, v->resolved, r) != 0) {
        free(e);
        return NULL;
    }
    e->head_len = 0;
    e->whole = NULL;
    e->whole_len = 0;
    if ((r.format == BGAPI_FMT_SVG &&
         bgapi_svg_render(v, &e->whole, &e->whole_len) != 0) ||
        ((r.format == BGAPI_FMT_LAM || r.format == BGAPI_FMT_DXTBX) &&
         bgapi_beam_build(e) != 0)) {
        bgapi_encoder_free(e);
        return NULL;
    }
    if (r.format == BGAPI_FMT_NPY)
        e->head_len = bgapi_npy_head(v->grid->count, r.dtype, e->head);
    else if (r.format == BGAPI_FMT_BIN)
        e->head_len = bgapi_bgrd_head(v->grid, v->resolved, r.dtype, e->head);
    else if (r.format == BGAPI_FMT_NPZ)
        bgapi_npz_init(e);
    return e;
}

void bgapi_encoder_free(bgapi_encoder *e)
{
    if (e != NULL) {
        bgapi_key_free(&e->key);
        free(e->whole);
    }
    free(e);
}

/* Element i of column src (stored as src_dt) as dst_dt, into elem. */
static void cast_elem(const void *src, bg_dtype src_dt, uint64_t i, char *elem)
{
    if (src_dt == BG_F64) {
        float f = (float)((const double *)src)[i];
        memcpy(elem, &f, 4);
    } else {
        double d = (double)((const float *)src)[i];
        memcpy(elem, &d, 8);
    }
}

/* A memcpy when the dtypes agree, else whole elements cast in a plain loop
 * and partial ones (a chunk boundary) through a scratch. */
void bgapi_copy_column(const void *src, bg_dtype src_dt, bg_dtype dst_dt,
                       uint64_t off, size_t n, char *out)
{
    if (src_dt == dst_dt) {
        memcpy(out, (const char *)src + off, n);
        return;
    }
    size_t es = dtype_size(dst_dt);
    uint64_t i = off / es;
    size_t skip = (size_t)(off % es);
    char elem[8];
    if (skip != 0) {
        size_t k = es - skip < n ? es - skip : n;
        cast_elem(src, src_dt, i++, elem);
        memcpy(out, elem + skip, k);
        out += k;
        n -= k;
    }
    size_t whole = n / es;
    if (dst_dt == BG_F32) {
        const double *s = (const double *)src + i;
        for (size_t j = 0; j < whole; j++) {
            float f = (float)s[j];
            memcpy(out + 4 * j, &f, 4);
        }
    } else {
        const float *s = (const float *)src + i;
        for (size_t j = 0; j < whole; j++) {
            double d = (double)s[j];
            memcpy(out + 8 * j, &d, 8);
        }
    }
    out += whole * es;
    n -= whole * es;
    if (n > 0) {
        cast_elem(src, src_dt, i + whole, elem);
        memcpy(out, elem, n);
    }
}

/* Binary fill: the header, then the five columns, as bytes [index, ...). */
static size_t binary_fill(bgapi_encoder *e, char *out, size_t cap)
{
    const bg_grid *g = e->v.grid;
    const void *cols[NCOLS] = {g->x, g->y, g->z, g->weight, g->lambda};
    uint64_t col_bytes = g->count * dtype_size(e->r.dtype);
    size_t n = 0;
    while (n < cap && e->stage != BGAPI_STAGE_DONE) {
        uint64_t off = e->index;
        size_t k;
        if (off < e->head_len) {
            k = e->head_len - (size_t)off;
            k = k < cap - n ? k : cap - n;
            memcpy(out + n, e->head + off, k);
        } else {
            uint64_t data_off = off - e->head_len;
            uint64_t c = col_bytes ? data_off / col_bytes : NCOLS;
            if (c >= NCOLS) {
                e->stage = BGAPI_STAGE_DONE;
                break;
            }
            uint64_t in_col = data_off - c * col_bytes;
            uint64_t left = col_bytes - in_col;
            k = left < cap - n ? (size_t)left : cap - n;
            bgapi_copy_column(cols[c], g->dtype, e->r.dtype, in_col, k,
                              out + n);
        }
        n += k;
        e->index += k;
        if (e->index == e->head_len + NCOLS * col_bytes)
            e->stage = BGAPI_STAGE_DONE;
    }
    return n;
}

/* Whole fill: the rendered picture, as bytes [index, ...). */
static size_t whole_fill(bgapi_encoder *e, char *out, size_t cap)
{
    size_t left = e->whole_len - (size_t)e->index;
    size_t k = left < cap ? left : cap;
    memcpy(out, e->whole + e->index, k);
    e->index += k;
    if (e->index == e->whole_len)
        e->stage = BGAPI_STAGE_DONE;
    return k;
}

static size_t fill(bgapi_encoder *e, char *out, size_t cap)
{
    switch (e->r.format) {
    case BGAPI_FMT_JSON:
        return bgapi_json_fill(e, out, cap);
    case BGAPI_FMT_TXT:
        return bgapi_txt_fill(e, out, cap);
    case BGAPI_FMT_NPZ:
        return bgapi_npz_fill(e, out, cap);
    case BGAPI_FMT_SVG:
    case BGAPI_FMT_LAM:
    case BGAPI_FMT_DXTBX:
        return whole_fill(e, out, cap);
    case BGAPI_FMT_NPY:
    case BGAPI_FMT_BIN:
        break;
    }
    return binary_fill(e, out, cap);
}

static int encoder_done(const bgapi_encoder *e)
{
    return e->stage == BGAPI_STAGE_DONE && e->pend_off == e->pend_len;
}

size_t bgapi_encoder_read(bgapi_encoder *e, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        if (e->pend_off < e->pend_len) {
            size_t k = e->pend_len - e->pend_off;
            k = k < cap - n ? k : cap - n;
            memcpy(buf + n, e->pend + e->pend_off, k);
            n += k;
            e->pend_off += k;
            if (e->pend_off < e->pend_len)
                return n;
        }
        if (n == cap || e->stage == BGAPI_STAGE_DONE)
            return n;
        size_t k = fill(e, buf + n, cap - n);
        n += k;
        if (k == 0 && e->stage != BGAPI_STAGE_DONE) {
            e->pend_len = fill(e, e->pend, sizeof e->pend);
            e->pend_off = 0;
        }
    }
}

static uint64_t size_bound(const bgapi_view *v, bgapi_repr r)
{
    uint64_t exact = bgapi_encoded_size(v, r);
    if (exact != BGAPI_SIZE_UNKNOWN)
        return exact;
    if (r.format == BGAPI_FMT_SVG)
        return BGAPI_SVG_MAX;
    if (r.format == BGAPI_FMT_LAM || r.format == BGAPI_FMT_DXTBX)
        return bgapi_beam_bound(v, r);
    return r.format == BGAPI_FMT_JSON ? bgapi_json_bound(v)
                                      : bgapi_txt_bound(v);
}

int bgapi_encode_all(const bgapi_view *v, bgapi_repr r, size_t max_bytes,
                     char **out, size_t *len)
{
    uint64_t bound = size_bound(v, r);
    uint64_t exact = bgapi_encoded_size(v, r);
    if (exact != BGAPI_SIZE_UNKNOWN && exact > max_bytes)
        return -1;
    /* room for everything, or max_bytes and one more byte to see overflow */
    uint64_t want =
        bound < (uint64_t)max_bytes ? bound : (uint64_t)max_bytes + 1;
    if (want > SIZE_MAX - 1)
        return -1;
    size_t cap = (size_t)want;
    bgapi_encoder *e = bgapi_encoder_new(v, r);
    char *buf = malloc(cap ? cap : 1);
    if (e == NULL || buf == NULL) {
        bgapi_encoder_free(e);
        free(buf);
        return -1;
    }
    size_t n = 0, k;
    while (n < cap && (k = bgapi_encoder_read(e, buf + n, cap - n)) > 0)
        n += k;
    int over = n > max_bytes || !encoder_done(e);
    bgapi_encoder_free(e);
    if (over) {
        free(buf);
        return -1;
    }
    char *shrunk = n < cap ? realloc(buf, n ? n : 1) : buf;
    *out = shrunk != NULL ? shrunk : buf;
    *len = n;
    return 0;
}

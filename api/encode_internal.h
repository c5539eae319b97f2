/* encode_internal.h - what the encoders of api/encode*.c share: the
 * encoder state and the per-format fill functions. Not part of the api
 * contract; only api/encode*.c include it. */
#ifndef BGAPI_ENCODE_INTERNAL_H
#define BGAPI_ENCODE_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "api/encode.h"
#include "api/ids.h"
#include "api/warnings.h"
#include "core/fmt.h"

/* Bytes of the pending buffer: holds items that did not fit a caller's
 * buffer; larger than any one item (the JSON head is the largest). */
/* everything of the head but the id, which streams (docs/beams.md: the
 * resolved models and the summary included), and the warnings */
#define BGAPI_JSON_HEAD_MAX (2048 + BGAPI_WARNINGS_JSON_MAX)
#define BGAPI_PEND_MAX      (BGAPI_JSON_HEAD_MAX + 648)
#define BGAPI_MEMO_SLOTS    256

/* A formatted number, remembered: grids repeat values (a direction for
 * every wavelength, one weight, a cycle of wavelengths). */
typedef struct {
    uint64_t bits;
    uint8_t len;
    char text[BG_FMT_DOUBLE_MAX];
} bgapi_memo;

/* The npz encoder's state (api/encode_npz.c). */
typedef struct {
    bgapi_npz_layout layout;
    uint32_t crc[BGAPI_NPZ_MEMBERS]; /* so far, then whole */
    int seg;                         /* the segment index is in */
} bgapi_npz_state;

struct bgapi_encoder {
    bgapi_view v;
    bgapi_repr r;
    int stage;      /* format-specific; -1 when done */
    uint64_t index; /* element (text) or byte (binary) offset */
    bgapi_key key;  /* for its id, when the view has none */
    char head[128]; /* npy/bin header */
    size_t head_len;
    char *whole; /* svg, lam, dxtbx: the whole body, made with the encoder */
    size_t whole_len;
    size_t pend_off, pend_len;
    char pend[BGAPI_PEND_MAX];
    bgapi_memo memo[BGAPI_MEMO_SLOTS];
    uint32_t memo_probes, memo_hits; /* in the current window */
    uint32_t memo_skip;              /* numbers to format without memo */
    bgapi_npz_state npz;
};

#define BGAPI_STAGE_DONE (-1)

/* Write whole items of the JSON (txt) form into out[0..cap), advancing
 * the encoder, and return the bytes written: 0 when the next item needs
 * more room than cap (the caller then fills its pending buffer) or at the
 * end (stage BGAPI_STAGE_DONE). */
size_t bgapi_json_fill(bgapi_encoder *e, char *out, size_t cap);
size_t bgapi_txt_fill(bgapi_encoder *e, char *out, size_t cap);

/* The npz encoder: set up its layout and CRCs; fill as above (whole
 * bytes [index, ...), any cap). */
void bgapi_npz_init(bgapi_encoder *e);
size_t bgapi_npz_fill(bgapi_encoder *e, char *out, size_t cap);

/* Copy bytes [off, off + n) of a column stored as src_dt, as if it were
 * stored as dst_dt (api/encode.c). */
void bgapi_copy_column(const void *src, bg_dtype src_dt, bg_dtype dst_dt,
                       uint64_t off, size_t n, char *out);
/* lam and dxtbx (api/encode_beam.c): build the whole body into e->whole
 * (0, or -1 out of memory; copied out as the svg is), and bound its
 * size. */
int bgapi_beam_build(bgapi_encoder *e);
uint64_t bgapi_beam_bound(const bgapi_view *v, bgapi_repr r);

/* Upper bounds of the JSON and txt sizes of *v, for bgapi_encode_all. */
uint64_t bgapi_json_bound(const bgapi_view *v);
uint64_t bgapi_txt_bound(const bgapi_view *v);

/* Writers of JSON pieces into a buffer with room (api/encode_json.c and
 * api/encode_beam.c): each returns the end of what it wrote. */
static inline char *bgapi_put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static inline char *bgapi_put_num(char *p, double v)
{
    return p + bg_fmt_double(v, p);
}

static inline char *bgapi_put_key_num(char *p, const char *key, double v)
{
    return bgapi_put_num(bgapi_put_str(p, key), v);
}

/* key, then [x,y,z]. */
static inline char *bgapi_put_vec(char *p, const char *key, const double v[3])
{
    p = bgapi_put_str(p, key);
    *p++ = '[';
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            *p++ = ',';
        p = bgapi_put_num(p, v[i]);
    }
    *p++ = ']';
    return p;
}

/* Element i of a grid column of dtype dt, as a double. */
static inline double bgapi_col(const void *col, bg_dtype dt, uint64_t i)
{
    return dt == BG_F32 ? (double)((const float *)col)[i]
                        : ((const double *)col)[i];
}

/* The memo pays when values repeat (real grids) and costs a lookup and a
 * copy when they do not: it is probed BGAPI_MEMO_WINDOW numbers at a time,
 * and after a window with few hits left out for the next BGAPI_MEMO_REST. */
#define BGAPI_MEMO_WINDOW   256u
#define BGAPI_MEMO_MIN_HITS 64u
#define BGAPI_MEMO_REST     4096u

/* Format v with fmt into out (room for BG_FMT_DOUBLE_MAX), through the
 * encoder's memo while it pays. */
static inline size_t bgapi_memo_fmt(bgapi_encoder *e, double v,
                                    size_t (*fmt)(double, char *), char *out)
{
    if (e->memo_skip > 0) {
        e->memo_skip--;
        return fmt(v, out);
    }
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bgapi_memo *m = &e->memo[(bits * UINT64_C(0x9e3779b97f4a7c15)) >> 56];
    if (m->len == 0 || m->bits != bits) {
        m->len = (uint8_t)fmt(v, m->text);
        m->bits = bits;
    } else {
        e->memo_hits++;
    }
    if (++e->memo_probes == BGAPI_MEMO_WINDOW) {
        if (e->memo_hits < BGAPI_MEMO_MIN_HITS)
            e->memo_skip = BGAPI_MEMO_REST;
        e->memo_probes = e->memo_hits = 0;
    }
    memcpy(out, m->text, BG_FMT_DOUBLE_MAX);
    return m->len;
}

#endif

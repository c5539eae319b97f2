/* ids.c - the key of a request: canonical form, id, digest and ETag.
 *
 * Canonical form, version 2 (BGAPI_CANON_VERSION):
 *
 *   version byte (2), then fields, each a tag (unsigned LEB128 varint)
 *   and a payload, in strictly ascending tag order; a field is present
 *   only when its value differs (bit for bit) from its default.
 *
 *   tag field              payload  default
 *    1  round_div          varint   1 (true); so only 0 is ever written
 *    2  hdiv.count         varint   1
 *    3  hdiv.range         f64      0.0
 *    4  hdiv.step          f64      step(hdiv.count, hdiv.range)
 *    5  vdiv.count         varint   hdiv.count
 *    6  vdiv.range         f64      hdiv.range
 *    7  vdiv.step          f64      hdiv.step if vdiv's count and range
 *                                   are hdiv's, else step(vdiv.count,
 *                                   vdiv.range)
 *    8  disp.count         varint   1
 *    9  disp.range         f64      0.0
 *   10  disp.step          f64      step(disp.count, disp.range)
 *   11  lambda0_m          f64      1e-10 (1.0 / 1.0e10)
 *   12  beam               vec      (1, 0, 0)
 *   13  polar              vec      (0, 0, 1)
 *   14  source_distance_m  f64      10.0
 *   15  semantics          varint   0 (nanoBragg); 1 is "nanobrag_torch"
 *   16  dtype              varint   0 (float32); 1 is float64. Written only
 *                                   with semantics 1 (it is the port's
 *                                   arithmetic type, docs/torch.md)
 *   17  ignored            varint   0; BG_IGNORED_* bits of the fields the
 *                                   port read and ignored (semantics 1
 *                                   only), so that an answer's warnings
 *                                   are a function of its id
 *   (18, 19 free)
 *   20  hc_eV_A            f64      12398.42
 *   21  divergence profile varint form (1 Gaussian weights, 2 Gaussian
 *                          quantiles), f64 sigma_h, f64 sigma_v (rad);
 *                          absent: flat
 *   22  normalize          varint   (1 mean, 2 none); absent: sum
 *   23  total_flux         f64      1.0
 *   24  spectrum           varint form, then by form:
 *                          1 table by lambda_A, 2 table by energy_eV:
 *                            varint n, the n values after stride, then
 *                            their n weights, each list as an array;
 *                          3 Gaussian: f64 E0, f64 fwhm, varint n, f64
 *                            channel_eV; 4 Gaussian quantiles: f64 E0, f64
 *                            fwhm, varint n; absent: no spectrum
 *
 *   An array is a mode byte and n values: mode 0, each a decimal; mode 1,
 *   each an f64; the shorter is written (decimals on a tie). A decimal is
 *   a double as its shortest round-trip decimal m * 10^e (Schubfach's
 *   digits, trailing zeros moved into e): varint zigzag(e), then varint
 *   (m << 1 | sign). 1.2935 is 3 bytes, 539.262 4, where an f64 is 8:
 *   measured spectra are short decimals (about 6-8 bytes a channel), and
 *   no table takes more than 16 bytes a channel (docs/beams.md has the
 *   measurements).
 *
 *   step(c, r) = c >= 2 ? r / (double)(c - 1) : r: what bg_resolve derives
 *   when a count and a range are given without a step (and, for c == 2,
 *   a range alone), computed by the same expression, so the same double.
 *   Under semantics 1 a count may be 0 (the port's table has no sanity
 *   reset) and the defaults above still apply as written.
 *   f64 is the IEEE-754 bit pattern, 8 bytes little-endian. vec is a mask
 *   byte, two bits per component (bits 0-1 x, 2-3 y, 4-5 z; 6-7 zero): 0
 *   for +0.0, 1 for 1.0, 2 for -1.0, 3 for an f64 that follows (in x, y, z
 *   order); the short codes are always used when they apply. vert is not
 *   stored: bg_resolved_derive_vert rebuilds it.
 *
 * The defaults are constants of this version of the form, not read from
 * bg_resolve at run time: an id must keep meaning the same grid even if a
 * later beamgrid changes a request default (test_ids checks that they
 * still match bg_resolve's, so `{}` stays tiny). A later field with a
 * variable length (a table spectrum) takes a new tag with a varint length
 * prefix. Decoding accepts exactly the forms bgapi_key_build writes: it
 * parses, checks, rebuilds the key and compares the bytes. */
#include "api/ids.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/encode.h"
#include "api/siphash.h"
#include "core/fmt.h"
#include "core/grid.h"

const unsigned char BGAPI_DIGEST_KEY[16] = {0};

enum {
    TAG_ROUND_DIV = 1,
    TAG_HDIV_COUNT,
    TAG_HDIV_RANGE,
    TAG_HDIV_STEP,
    TAG_VDIV_COUNT,
    TAG_VDIV_RANGE,
    TAG_VDIV_STEP,
    TAG_DISP_COUNT,
    TAG_DISP_RANGE,
    TAG_DISP_STEP,
    TAG_LAMBDA0,
    TAG_BEAM,
    TAG_POLAR,
    TAG_SOURCE_DISTANCE,
    TAG_SEMANTICS,
    TAG_DTYPE,
    TAG_IGNORED,
    TAG_HC = 20,
    TAG_DIVPROF,
    TAG_NORMALIZE,
    TAG_TOTAL_FLUX,
    TAG_SPECTRUM,
    TAG_END /* the first unknown tag */
};

/* The defaults of version 2 (see above). */
#define DEF_ROUND_DIV true
#define DEF_COUNT     1
#define DEF_RANGE     0.0
#define DEF_LAMBDA0   (1.0 / 1.0e10)
#define DEF_DISTANCE  10.0
static const double def_beam[3] = {1.0, 0.0, 0.0};
static const double def_polar[3] = {0.0, 0.0, 1.0};

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double double_of(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static bool same(double a, double b)
{
    return bits_of(a) == bits_of(b);
}

static double step_default(int64_t count, double range)
{
    return count >= 2 ? range / (double)(count - 1) : range;
}

static double vstep_default(const bg_axis *v, const bg_axis *h)
{
    if (v->count == h->count && same(v->range, h->range))
        return h->step;
    return step_default(v->count, v->range);
}

/* ---- writing: out may be NULL, to measure ---- */

typedef struct {
    unsigned char *out;
    size_t n;
} sink;

static void put_byte(sink *s, unsigned v)
{
    if (s->out != NULL)
        s->out[s->n] = (unsigned char)v;
    s->n++;
}

static void put_varint(sink *s, uint64_t v)
{
    while (v >= 0x80) {
        put_byte(s, (unsigned)(v & 0x7f) | 0x80u);
        v >>= 7;
    }
    put_byte(s, (unsigned)v);
}

static void put_f64(sink *s, double v)
{
    uint64_t b = bits_of(v);
    for (int i = 0; i < 8; i++)
        put_byte(s, (unsigned)(b >> (8 * i)) & 0xffu);
}

static void field_count(sink *s, unsigned tag, int64_t v, int64_t def)
{
    if (v == def)
        return;
    put_varint(s, tag);
    put_varint(s, (uint64_t)v);
}

static void field_f64(sink *s, unsigned tag, double v, double def)
{
    if (same(v, def))
        return;
    put_varint(s, tag);
    put_f64(s, v);
}

static unsigned vec_code(double v)
{
    return same(v, 0.0) ? 0u : same(v, 1.0) ? 1u : same(v, -1.0) ? 2u : 3u;
}

static void field_vec(sink *s, unsigned tag, const double v[3],
                      const double def[3])
{
    if (same(v[0], def[0]) && same(v[1], def[1]) && same(v[2], def[2]))
        return;
    put_varint(s, tag);
    unsigned mask = 0;
    for (int i = 0; i < 3; i++)
        mask |= vec_code(v[i]) << (2 * i);
    put_byte(s, mask);
    for (int i = 0; i < 3; i++)
        if (vec_code(v[i]) == 3)
            put_f64(s, v[i]);
}

/* The shortest round-trip decimal of v as (m, e, negative): v = +-m*10^e
 * with no trailing zero in m (0 is m = 0, e = 0). */
static void decimal_of(double v, uint64_t *m, int *e, bool *neg)
{
    char t[BG_FMT_DOUBLE_MAX + 1];
    size_t n = bg_fmt_double(v, t);
    t[n] = '\0';
    const char *p = t;
    *neg = *p == '-';
    if (*neg)
        p++;
    uint64_t mant = 0;
    int exp = 0, frac = 0;
    bool dot = false;
    for (; *p != '\0' && *p != 'e'; p++) {
        if (*p == '.') {
            dot = true;
            continue;
        }
        mant = mant * 10 + (uint64_t)(*p - '0');
        frac += dot;
    }
    if (*p == 'e')
        exp = atoi(p + 1);
    exp -= frac;
    while (mant != 0 && mant % 10 == 0) {
        mant /= 10;
        exp++;
    }
    if (mant == 0)
        exp = 0;
    *m = mant;
    *e = exp;
}

static void put_decimal(sink *s, double v)
{
    uint64_t m;
    int e;
    bool neg;
    decimal_of(v, &m, &e, &neg);
    put_varint(s, e >= 0 ? (uint64_t)e << 1 : ((uint64_t)(-e) << 1) - 1);
    put_varint(s, m << 1 | (neg ? 1u : 0u));
}

/* Bytes of v as a decimal. */
static size_t decimal_len(double v)
{
    sink m = {NULL, 0};
    put_decimal(&m, v);
    return m.n;
}

/* An array: mode 0 (decimals) unless f64 is shorter, mode 1. */
static void put_array(sink *s, const double *v, int64_t n)
{
    size_t dec = 0;
    for (int64_t k = 0; k < n; k++)
        dec += decimal_len(v[k]);
    bool raw = dec > 8 * (size_t)n;
    put_byte(s, raw ? 1u : 0u);
    for (int64_t k = 0; k < n; k++) {
        if (raw)
            put_f64(s, v[k]);
        else
            put_decimal(s, v[k]);
    }
}

static void field_models(sink *s, const bg_resolved *r)
{
    field_f64(s, TAG_HC, r->hc_eV_A, BG_HC_DEFAULT);
    if (r->div_form != BG_DIV_FLAT) {
        put_varint(s, TAG_DIVPROF);
        put_varint(s, r->div_form == BG_DIV_GAUSS ? 1 : 2);
        put_f64(s, r->sigma_h);
        put_f64(s, r->sigma_v);
    }
    if (r->normalize != BG_NORM_SUM) {
        put_varint(s, TAG_NORMALIZE);
        put_varint(s, r->normalize == BG_NORM_MEAN ? 1 : 2);
    }
    field_f64(s, TAG_TOTAL_FLUX, r->total_flux, 1.0);
    const bg_spectrum *sp = &r->spectrum;
    if (sp->form == BG_SPEC_NONE)
        return;
    put_varint(s, TAG_SPECTRUM);
    put_varint(s, (uint64_t)sp->form);
    if (sp->form == BG_SPEC_TABLE_LAMBDA || sp->form == BG_SPEC_TABLE_ENERGY) {
        put_varint(s, (uint64_t)sp->n);
        put_array(s, sp->values, sp->n);
        put_array(s, sp->weights, sp->n);
        return;
    }
    put_f64(s, sp->e0_eV);
    put_f64(s, sp->fwhm_eV);
    put_varint(s, (uint64_t)sp->n);
    if (sp->form == BG_SPEC_GAUSS)
        put_f64(s, sp->channel_eV);
}

/* The canonical form of *r into out (NULL: only measure); its length. */
static size_t canon_write(const bg_resolved *r, unsigned char *out)
{
    sink s = {out, 0};
    put_byte(&s, BGAPI_CANON_VERSION);
    if (r->round_div != DEF_ROUND_DIV) {
        put_varint(&s, TAG_ROUND_DIV);
        put_varint(&s, r->round_div ? 1 : 0);
    }
    const bg_axis *h = &r->hdiv, *v = &r->vdiv, *d = &r->disp;
    field_count(&s, TAG_HDIV_COUNT, h->count, DEF_COUNT);
    field_f64(&s, TAG_HDIV_RANGE, h->range, DEF_RANGE);
    field_f64(&s, TAG_HDIV_STEP, h->step, step_default(h->count, h->range));
    field_count(&s, TAG_VDIV_COUNT, v->count, h->count);
    field_f64(&s, TAG_VDIV_RANGE, v->range, h->range);
    field_f64(&s, TAG_VDIV_STEP, v->step, vstep_default(v, h));
    field_count(&s, TAG_DISP_COUNT, d->count, DEF_COUNT);
    field_f64(&s, TAG_DISP_RANGE, d->range, DEF_RANGE);
    field_f64(&s, TAG_DISP_STEP, d->step, step_default(d->count, d->range));
    field_f64(&s, TAG_LAMBDA0, r->lambda0_m, DEF_LAMBDA0);
    field_vec(&s, TAG_BEAM, r->beam, def_beam);
    field_vec(&s, TAG_POLAR, r->polar, def_polar);
    field_f64(&s, TAG_SOURCE_DISTANCE, r->source_distance_m, DEF_DISTANCE);
    if (r->semantics == BG_SEM_TORCH) {
        field_count(&s, TAG_SEMANTICS, 1, 0);
        field_count(&s, TAG_DTYPE, r->dtype == BG_F64 ? 1 : 0, 0);
        field_count(&s, TAG_IGNORED, (int64_t)r->ignored, 0);
    }
    field_models(&s, r);
    return s.n;
}

/* ---- reading ---- */

typedef struct {
    const unsigned char *p;
    size_t n, i;
} source;

/* A minimal unsigned LEB128 of at most 64 bits. */
static int get_varint(source *s, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (s->i >= s->n)
            return -1;
        unsigned b = s->p[s->i++];
        if (shift == 63 && b > 1)
            return -1; /* past 64 bits */
        if (shift > 0 && b == 0)
            return -1; /* overlong: a needless zero group */
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int get_f64(source *s, double *out)
{
    if (s->n - s->i < 8)
        return -1;
    uint64_t b = 0;
    for (int i = 0; i < 8; i++)
        b |= (uint64_t)s->p[s->i + (size_t)i] << (8 * i);
    s->i += 8;
    *out = double_of(b);
    return 0;
}

static int get_count(source *s, int64_t *out)
{
    uint64_t v;
    /* 0 only under semantics 1; bg_resolved_check refuses it otherwise */
    if (get_varint(s, &v) != 0 || v > (uint64_t)BG_AXIS_COUNT_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static int get_vec(source *s, double out[3])
{
    if (s->i >= s->n)
        return -1;
    unsigned mask = s->p[s->i++];
    if (mask >> 6 != 0)
        return -1;
    static const double shorts[3] = {0.0, 1.0, -1.0};
    for (int i = 0; i < 3; i++) {
        unsigned code = (mask >> (2 * i)) & 3u;
        if (code < 3)
            out[i] = shorts[code];
        else if (get_f64(s, &out[i]) != 0)
            return -1;
    }
    return 0;
}

static int get_decimal(source *s, double *out)
{
    uint64_t ze, zm;
    if (get_varint(s, &ze) != 0 || get_varint(s, &zm) != 0 || ze > 1000 ||
        (zm >> 1) > UINT64_C(100000000000000000))
        return -1;
    int e = (ze & 1) ? -(int)((ze + 1) >> 1) : (int)(ze >> 1);
    uint64_t m = zm >> 1;
    if (m == 0) {
        *out = (zm & 1) ? -0.0 : 0.0;
        return 0;
    }
    char t[64];
    snprintf(t, sizeof t, "%s%" PRIu64 "e%d", (zm & 1) ? "-" : "", m, e);
    errno = 0;
    *out = strtod(t, NULL);
    return 0;
}

static int get_array(source *s, double *out, uint64_t n)
{
    if (s->i >= s->n || s->p[s->i] > 1)
        return -1;
    bool raw = s->p[s->i++] == 1;
    for (uint64_t k = 0; k < n; k++)
        if ((raw ? get_f64(s, &out[k]) : get_decimal(s, &out[k])) != 0)
            return -1;
    return 0;
}

/* The model fields of tag `tag` into *o; -1 on anything malformed. The
 * table is allocated into o->spectrum (the caller frees *o on failure). */
static int get_models(source *s, uint64_t tag, bg_resolved *o)
{
    uint64_t v;
    switch (tag) {
    case TAG_HC:
        return get_f64(s, &o->hc_eV_A);
    case TAG_DIVPROF:
        if (get_varint(s, &v) != 0 || v < 1 || v > 2)
            return -1;
        o->div_form = v == 1 ? BG_DIV_GAUSS : BG_DIV_QUANTILES;
        return get_f64(s, &o->sigma_h) != 0 || get_f64(s, &o->sigma_v) != 0 ? -1
                                                                            : 0;
    case TAG_NORMALIZE:
        if (get_varint(s, &v) != 0 || v < 1 || v > 2)
            return -1;
        o->normalize = v == 1 ? BG_NORM_MEAN : BG_NORM_NONE;
        return 0;
    case TAG_TOTAL_FLUX:
        return get_f64(s, &o->total_flux);
    default:
        break;
    }
    bg_spectrum *sp = &o->spectrum;
    if (get_varint(s, &v) != 0 || v < BG_SPEC_TABLE_LAMBDA ||
        v > BG_SPEC_QUANTILES)
        return -1;
    sp->form = (bg_spec_form)v;
    if (sp->form == BG_SPEC_GAUSS || sp->form == BG_SPEC_QUANTILES) {
        if (get_f64(s, &sp->e0_eV) != 0 || get_f64(s, &sp->fwhm_eV) != 0 ||
            get_varint(s, &v) != 0 || v < 1 || v > BG_CHANNELS_MAX)
            return -1;
        sp->n = (int64_t)v;
        return sp->form == BG_SPEC_GAUSS ? get_f64(s, &sp->channel_eV) : 0;
    }
    if (get_varint(s, &v) != 0 || v < 1 || v > BG_CHANNELS_MAX)
        return -1;
    sp->n = (int64_t)v;
    sp->values = malloc(2 * (size_t)v * sizeof *sp->values);
    if (sp->values == NULL)
        return -1;
    sp->weights = sp->values + v;
    return get_array(s, sp->values, v) != 0 || get_array(s, sp->weights, v) != 0
               ? -1
               : 0;
}

/* Parse a canonical form into *r (vert derived, bg_resolved_check
 * passed); -1 on anything malformed. Spellings bgapi_key_build would not
 * write may pass here: the caller compares re-encoded bytes. */
static int canon_parse(const unsigned char *buf, size_t len, bg_resolved *r)
{
    if (len < 1 || buf[0] != BGAPI_CANON_VERSION)
        return -1;
    bool has[TAG_END] = {false};
    int64_t count[TAG_END] = {0};
    double real[TAG_END] = {0};
    double vec[TAG_END][3];
    bool round_div = DEF_ROUND_DIV;
    bg_resolved models;
    bg_resolved_init(&models);
    source s = {buf, len, 1};
    uint64_t last = 0;
    while (s.i < s.n) {
        uint64_t tag, flag;
        if (get_varint(&s, &tag) != 0 || tag <= last || tag >= TAG_END ||
            (tag > TAG_IGNORED && tag < TAG_HC)) {
            bg_resolved_free(&models);
            return -1;
        }
        last = tag;
        has[tag] = true;
        int rc;
        switch (tag) {
        case TAG_ROUND_DIV:
            rc = get_varint(&s, &flag) != 0 || flag > 1 ? -1 : 0;
            round_div = flag == 1;
            break;
        case TAG_HDIV_COUNT:
        case TAG_VDIV_COUNT:
        case TAG_DISP_COUNT:
            rc = get_count(&s, &count[tag]);
            break;
        case TAG_BEAM:
        case TAG_POLAR:
            rc = get_vec(&s, vec[tag]);
            break;
        case TAG_SEMANTICS:
        case TAG_DTYPE:
        case TAG_IGNORED:
            rc = get_varint(&s, &flag) != 0 || flag > BG_IGNORED_ALL ? -1 : 0;
            count[tag] = (int64_t)flag;
            break;
        case TAG_HC:
        case TAG_DIVPROF:
        case TAG_NORMALIZE:
        case TAG_TOTAL_FLUX:
        case TAG_SPECTRUM:
            rc = get_models(&s, tag, &models);
            break;
        default:
            rc = get_f64(&s, &real[tag]);
            break;
        }
        if (rc != 0) {
            bg_resolved_free(&models);
            return -1;
        }
    }
    bg_resolved o = models;
    o.round_div = round_div;
    bg_axis *h = &o.hdiv, *v = &o.vdiv, *d = &o.disp;
    h->count = has[TAG_HDIV_COUNT] ? count[TAG_HDIV_COUNT] : DEF_COUNT;
    h->range = has[TAG_HDIV_RANGE] ? real[TAG_HDIV_RANGE] : DEF_RANGE;
    h->step = has[TAG_HDIV_STEP] ? real[TAG_HDIV_STEP]
                                 : step_default(h->count, h->range);
    v->count = has[TAG_VDIV_COUNT] ? count[TAG_VDIV_COUNT] : h->count;
    v->range = has[TAG_VDIV_RANGE] ? real[TAG_VDIV_RANGE] : h->range;
    v->step = has[TAG_VDIV_STEP] ? real[TAG_VDIV_STEP] : vstep_default(v, h);
    d->count = has[TAG_DISP_COUNT] ? count[TAG_DISP_COUNT] : DEF_COUNT;
    d->range = has[TAG_DISP_RANGE] ? real[TAG_DISP_RANGE] : DEF_RANGE;
    d->step = has[TAG_DISP_STEP] ? real[TAG_DISP_STEP]
                                 : step_default(d->count, d->range);
    o.lambda0_m = has[TAG_LAMBDA0] ? real[TAG_LAMBDA0] : DEF_LAMBDA0;
    memcpy(o.beam, has[TAG_BEAM] ? vec[TAG_BEAM] : def_beam, sizeof o.beam);
    memcpy(o.polar, has[TAG_POLAR] ? vec[TAG_POLAR] : def_polar,
           sizeof o.polar);
    o.source_distance_m =
        has[TAG_SOURCE_DISTANCE] ? real[TAG_SOURCE_DISTANCE] : DEF_DISTANCE;
    if (has[TAG_SEMANTICS] && count[TAG_SEMANTICS] != 1) {
        bg_resolved_free(&o);
        return -1;
    }
    o.semantics = has[TAG_SEMANTICS] ? BG_SEM_TORCH : BG_SEM_NANOBRAGG;
    o.dtype = o.semantics == BG_SEM_TORCH && !(count[TAG_DTYPE] == 1) ? BG_F32
                                                                      : BG_F64;
    o.ignored = (unsigned)count[TAG_IGNORED];
    if (bg_resolved_derive_vert(o.beam, o.polar, o.vert, NULL) != BG_OK ||
        bg_resolved_check(&o, NULL) != BG_OK) {
        bg_resolved_free(&o);
        return -1;
    }
    *r = o;
    return 0;
}

/* ---- base64url ---- */

static void b64url_encode(const unsigned char *in, size_t n, char *out)
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

/* Strict unpadded base64url of s[0..n), n <= BGAPI_ID_MAX, into out
 * (BGAPI_CANON_MAX bytes): -1 on a bad character, a length that is 1 mod
 * 4, or nonzero unused trailing bits. */
static int b64url_decode(const char *s, size_t n, unsigned char *out,
                         size_t *out_len)
{
    if (n % 4 == 1)
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

/* ---- keys ---- */

static void key_clear(bgapi_key *k)
{
    k->canon = NULL;
    k->canon_len = 0;
    k->id = NULL;
    k->id_len = 0;
    k->digest = 0;
    k->etag[0] = '\0';
}

void bgapi_key_free(bgapi_key *k)
{
    if (k->canon != NULL && k->canon != k->canon_inline)
        free(k->canon);
    key_clear(k);
}

int bgapi_key_build(bgapi_key *k, const bg_resolved *r, bgapi_repr repr)
{
    key_clear(k);
    size_t len = canon_write(r, NULL);
    size_t id_len = BGAPI_B64URL_LEN(len);
    if (len > BGAPI_CANON_MAX)
        return -1;
    if (len <= BGAPI_KEY_INLINE) {
        k->canon = k->canon_inline;
        k->id = k->id_inline;
    } else {
        unsigned char *m = malloc(len + id_len + 1);
        if (m == NULL)
            return -1;
        k->canon = m;
        k->id = (char *)(m + len);
    }
    k->canon_len = canon_write(r, k->canon);
    k->id_len = id_len;
    b64url_encode(k->canon, len, k->id);
    k->digest = bgapi_siphash24(BGAPI_DIGEST_KEY, k->canon, len);
    snprintf(k->etag, sizeof k->etag, "\"%016" PRIx64 "-%s-c%de%d\"", k->digest,
             bgapi_repr_tag(repr), BG_CORE_VERSION, BGAPI_ENCODE_VERSION);
    return 0;
}

static int not_found(bgapi_problem *prob)
{
    return bgapi_problem_set(prob, 404, "not-found", NULL, NULL,
                             "no grid has this id; ids come from "
                             "POST /v1/sources");
}

static int out_of_memory(bgapi_problem *prob)
{
    return bgapi_problem_set(prob, 503, "out-of-memory", "Out of memory", NULL,
                             "no memory to answer; retry later");
}

/* The id's canonical bytes into canon (inline, or a heap block *heap the
 * caller frees): 0, -1 for a malformed id, -2 out of memory. */
static int id_bytes(const char *id, size_t id_len, unsigned char *inline_buf,
                    unsigned char **canon, unsigned char **heap, size_t *len)
{
    *heap = NULL;
    *canon = inline_buf;
    if (id == NULL || id_len == 0 || id_len > BGAPI_ID_MAX)
        return -1;
    if (id_len > BGAPI_B64URL_LEN(BGAPI_KEY_INLINE)) {
        *heap = malloc(id_len / 4 * 3 + 3);
        if (*heap == NULL)
            return -2;
        *canon = *heap;
    }
    return b64url_decode(id, id_len, *canon, len);
}

int bgapi_key_from_id(bgapi_key *k, const char *id, size_t id_len,
                      bgapi_repr repr, bg_resolved *out, bgapi_problem *prob)
{
    unsigned char buf[BGAPI_KEY_INLINE], *canon, *heap;
    size_t len;
    bg_resolved r;
    key_clear(k);
    int rc = id_bytes(id, id_len, buf, &canon, &heap, &len);
    if (rc == -2)
        return out_of_memory(prob);
    if (rc != 0 || canon_parse(canon, len, &r) != 0) {
        free(heap);
        return not_found(prob);
    }
    if (bgapi_key_build(k, &r, repr) != 0) {
        free(heap);
        bg_resolved_free(&r);
        return out_of_memory(prob);
    }
    bool same_bytes = k->canon_len == len && memcmp(k->canon, canon, len) == 0;
    free(heap);
    if (!same_bytes) {
        bgapi_key_free(k);
        bg_resolved_free(&r);
        return not_found(prob);
    }
    *out = r;
    return 0;
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

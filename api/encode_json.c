/* encode_json.c - the JSON representation of a grid: id, count, the
 * resolved parameters in request units, then directions, weights and
 * wavelengths, each number written by bg_fmt_double so it parses back to
 * the identical double; then the answer's warnings (api/warnings.h), if
 * any. Written item by item into the caller's buffer by
 * bgapi_json_fill (see encode_internal.h). */
#include <inttypes.h>
#include <stdio.h>

#include "api/encode_internal.h"
#include "core/beam.h"

enum { J_OPEN, J_ID, J_HEAD, J_DIRS, J_WEIGHTS, J_LAMBDA };

#define DIR_MAX   (3 * BG_FMT_DOUBLE_MAX + 5)
#define NUM_MAX   (BG_FMT_DOUBLE_MAX + 1)
#define FIXED_MAX 32

static char *put_key_int(char *p, const char *key, int64_t v)
{
    p = bgapi_put_str(p, key);
    return p + sprintf(p, "%" PRId64, v);
}

static const char *json_id(const bgapi_encoder *e)
{
    return e->v.id != NULL ? e->v.id : e->key.id;
}

/* The id, base64url (nothing to escape), as much as fits from e->index:
 * ids of table spectra run to hundreds of kilobytes, so they stream. */
static char *fill_id(bgapi_encoder *e, char *p, const char *end)
{
    const char *id = json_id(e);
    size_t n = strnlen(id, BGAPI_ID_MAX) - (size_t)e->index;
    size_t room = (size_t)(end - p);
    size_t k = n < room ? n : room;
    memcpy(p, id + e->index, k);
    e->index += k;
    return p + k;
}

static const char *norm_name(bg_normalize n)
{
    return n == BG_NORM_MEAN ? "mean" : n == BG_NORM_NONE ? "none" : "sum";
}

static const char *spec_kind(bg_spec_form f)
{
    switch (f) {
    case BG_SPEC_TABLE_LAMBDA:
        return "\"kind\":\"table\",\"by\":\"lambda_A\"";
    case BG_SPEC_TABLE_ENERGY:
        return "\"kind\":\"table\",\"by\":\"energy_eV\"";
    case BG_SPEC_GAUSS:
        return "\"kind\":\"gaussian\",\"sampling\":\"weights\"";
    default:
        return "\"kind\":\"gaussian\",\"sampling\":\"quantiles\"";
    }
}

/* The beam models of the resolved set (docs/beams.md), inside
 * "resolved": at most about 400 bytes. */
static char *put_models(char *p, const bg_resolved *r)
{
    p = bgapi_put_key_num(p, ",\"hc_eV_A\":", r->hc_eV_A);
    if (r->div_form == BG_DIV_FLAT) {
        p = bgapi_put_str(p, ",\"divergence_profile\":{\"kind\":\"flat\"}");
    } else {
        p = bgapi_put_str(
            p, r->div_form == BG_DIV_GAUSS
                   ? ",\"divergence_profile\":{\"kind\":\"gaussian\","
                     "\"sampling\":\"weights\""
                   : ",\"divergence_profile\":{\"kind\":\"gaussian\","
                     "\"sampling\":\"quantiles\"");
        p = bgapi_put_key_num(p, ",\"sigma_h_mrad\":", r->sigma_h * 1000.0);
        p = bgapi_put_key_num(p, ",\"sigma_v_mrad\":", r->sigma_v * 1000.0);
        *p++ = '}';
    }
    p = bgapi_put_str(p, ",\"weights\":{\"normalize\":\"");
    p = bgapi_put_str(p, norm_name(r->normalize));
    p = bgapi_put_key_num(p, "\",\"total_flux\":", r->total_flux);
    *p++ = '}';
    const bg_spectrum *s = &r->spectrum;
    if (s->form == BG_SPEC_NONE)
        return p;
    p = bgapi_put_str(p, ",\"spectrum\":{");
    p = bgapi_put_str(p, spec_kind(s->form));
    p = put_key_int(p, ",\"channels\":", s->n);
    if (s->form == BG_SPEC_GAUSS || s->form == BG_SPEC_QUANTILES) {
        p = bgapi_put_key_num(p, ",\"energy_eV\":", s->e0_eV);
        p = bgapi_put_key_num(p, ",\"fwhm_eV\":", s->fwhm_eV);
        if (s->form == BG_SPEC_GAUSS)
            p = bgapi_put_key_num(p, ",\"channel_eV\":", s->channel_eV);
    }
    *p++ = '}';
    return p;
}

/* docs/beams.md's summary object. */
static char *put_summary(char *p, const bg_grid *g)
{
    bg_summary s;
    bg_summary_of(g, &s);
    p = bgapi_put_str(p, ",\"summary\":{\"count\":");
    p += sprintf(p, "%" PRIu64, s.count);
    p = bgapi_put_str(p, ",\"divergence_points\":");
    p += sprintf(p, "%" PRIu64, s.points);
    p = bgapi_put_str(p, ",\"channels\":");
    p += sprintf(p, "%" PRIu64, s.channels);
    p = bgapi_put_key_num(p, ",\"weight_sum\":", s.weight_sum);
    p = bgapi_put_key_num(p, ",\"mean_wavelength_A\":", s.mean_wavelength_A);
    p = bgapi_put_key_num(p, ",\"min_wavelength_A\":", s.min_wavelength_A);
    p = bgapi_put_key_num(p, ",\"max_wavelength_A\":", s.max_wavelength_A);
    *p++ = '}';
    return p;
}

/* Everything after the id and before the first direction; at most
 * BGAPI_JSON_HEAD_MAX. */
static size_t json_head(const bgapi_encoder *e, char *out)
{
    const bg_resolved *r = e->v.resolved;
    char *p = out;
    p = bgapi_put_str(p, "\",\"count\":");
    p += sprintf(p, "%" PRIu64, e->v.grid->count);
    p = put_summary(p, e->v.grid);
    p = put_key_int(p, ",\"resolved\":{\"hdivsteps\":", r->hdiv.count);
    p = bgapi_put_key_num(p, ",\"hdivrange_mrad\":", r->hdiv.range * 1000.0);
    p = bgapi_put_key_num(p, ",\"hdivstep_mrad\":", r->hdiv.step * 1000.0);
    p = put_key_int(p, ",\"vdivsteps\":", r->vdiv.count);
    p = bgapi_put_key_num(p, ",\"vdivrange_mrad\":", r->vdiv.range * 1000.0);
    p = bgapi_put_key_num(p, ",\"vdivstep_mrad\":", r->vdiv.step * 1000.0);
    p = put_key_int(p, ",\"dispsteps\":", r->disp.count);
    p = bgapi_put_key_num(p, ",\"dispersion_percent\":", r->disp.range * 100.0);
    p = bgapi_put_key_num(p, ",\"dispstep_percent\":", r->disp.step * 100.0);
    p = bgapi_put_key_num(p, ",\"lambda_A\":", r->lambda0_m * 1e10);
    p = bgapi_put_vec(p, ",\"beam_vector\":", r->beam);
    p = bgapi_put_vec(p, ",\"polar_vector\":", r->polar);
    p = bgapi_put_key_num(
        p, ",\"source_distance_mm\":", r->source_distance_m * 1000.0);
    p = bgapi_put_str(p, r->round_div ? ",\"round_div\":true"
                                      : ",\"round_div\":false");
    if (r->semantics == BG_SEM_TORCH) {
        p = bgapi_put_str(p, ",\"semantics\":\"nanobrag_torch\",\"dtype\":");
        p = bgapi_put_str(p,
                          r->dtype == BG_F32 ? "\"float32\"" : "\"float64\"");
    }
    p = put_models(p, r);
    *p++ = '}';
    bgapi_warnings w;
    bgapi_warnings_of(r, e->v.grid, &w);
    p += bgapi_warnings_json(&w, p);
    p = bgapi_put_str(p, ",\"directions\":[");
    return (size_t)(p - out);
}

static char *fill_dirs(bgapi_encoder *e, char *p, const char *end)
{
    const bg_grid *g = e->v.grid;
    uint64_t i = e->index;
    while (i < g->count && end - p >= DIR_MAX) {
        if (i > 0)
            *p++ = ',';
        *p++ = '[';
        p += bgapi_memo_fmt(e, bgapi_col(g->x, g->dtype, i), bg_fmt_double, p);
        *p++ = ',';
        p += bgapi_memo_fmt(e, bgapi_col(g->y, g->dtype, i), bg_fmt_double, p);
        *p++ = ',';
        p += bgapi_memo_fmt(e, bgapi_col(g->z, g->dtype, i), bg_fmt_double, p);
        *p++ = ']';
        i++;
    }
    e->index = i;
    return p;
}

static char *fill_column(bgapi_encoder *e, const void *col, char *p,
                         const char *end)
{
    const bg_grid *g = e->v.grid;
    uint64_t i = e->index;
    while (i < g->count && end - p >= NUM_MAX) {
        if (i > 0)
            *p++ = ',';
        p += bgapi_memo_fmt(e, bgapi_col(col, g->dtype, i), bg_fmt_double, p);
        i++;
    }
    e->index = i;
    return p;
}

/* After a column ends: write the fixed piece s and move to stage next;
 * returns p unchanged (stage kept) if there is no room for it. */
static char *fill_fixed(bgapi_encoder *e, const char *s, int next, char *p,
                        const char *end)
{
    if (end - p < FIXED_MAX)
        return p;
    e->stage = next;
    e->index = 0;
    return bgapi_put_str(p, s);
}

size_t bgapi_json_fill(bgapi_encoder *e, char *out, size_t cap)
{
    char *p = out, *end = out + cap;
    const bg_grid *g = e->v.grid;
    for (;;) {
        int stage = e->stage;
        switch (stage) {
        case J_OPEN:
            if (end - p < FIXED_MAX)
                return (size_t)(p - out);
            p = bgapi_put_str(p, "{\"id\":\"");
            e->stage = J_ID;
            e->index = 0;
            break;
        case J_ID:
            p = fill_id(e, p, end);
            if (e->index == strnlen(json_id(e), BGAPI_ID_MAX)) {
                e->stage = J_HEAD;
                e->index = 0;
            }
            if (p == end)
                return (size_t)(p - out);
            continue;
        case J_HEAD:
            if ((size_t)(end - p) < BGAPI_JSON_HEAD_MAX)
                return (size_t)(p - out);
            p += json_head(e, p);
            e->stage = J_DIRS;
            e->index = 0;
            break;
        case J_DIRS:
            p = fill_dirs(e, p, end);
            if (e->index == g->count)
                p = fill_fixed(e, "],\"weights\":[", J_WEIGHTS, p, end);
            break;
        case J_WEIGHTS:
            p = fill_column(e, g->weight, p, end);
            if (e->index == g->count)
                p = fill_fixed(e, "],\"wavelengths_m\":[", J_LAMBDA, p, end);
            break;
        case J_LAMBDA:
            p = fill_column(e, g->lambda, p, end);
            if (e->index == g->count)
                p = fill_fixed(e, "]}", BGAPI_STAGE_DONE, p, end);
            break;
        default:
            return (size_t)(p - out);
        }
        if (e->stage == stage) /* out of room */
            return (size_t)(p - out);
    }
}

uint64_t bgapi_json_bound(const bgapi_view *v)
{
    uint64_t id = v->id != NULL ? strnlen(v->id, BGAPI_ID_MAX) : BGAPI_ID_MAX;
    return BGAPI_JSON_HEAD_MAX + id + 4 * FIXED_MAX +
           v->grid->count * (uint64_t)(DIR_MAX + 2 * NUM_MAX);
}

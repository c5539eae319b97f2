/* encode_beam.c - the simulators' own beam formats (docs/beams.md): the
 * diffBragg .lam text (?format=lam) and a dxtbx beam model with its
 * spectrum (?format=dxtbx). Both are small (a line or two numbers a
 * channel), so each is built whole when its encoder is made and then
 * copied out chunk by chunk like any other body. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/encode_internal.h"
#include "core/beam.h"

/* Bytes of a .lam line and of a dxtbx spectrum entry pair, at most. */
#define LAM_LINE   (2 * BG_FMT_DOUBLE_MAX + 2)
#define DXTBX_PAIR (2 * BG_FMT_DOUBLE_MAX + 2)
#define DXTBX_HEAD 1024

uint64_t bgapi_beam_bound(const bgapi_view *v, bgapi_repr r)
{
    uint64_t n = (uint64_t)bg_resolved_channels(v->resolved);
    return r.format == BGAPI_FMT_LAM ? 64 + n * LAM_LINE
                                     : DXTBX_HEAD + n * DXTBX_PAIR;
}

/* "# wavelengths, weights", then lambda_A,weight per channel (17
 * significant digits), the channel weights normalized on their own. */
static size_t lam_text(const bg_channels *c, const double *w, char *out)
{
    char *p = bgapi_put_str(out, "# wavelengths, weights\n");
    for (int64_t k = 0; k < c->n; k++) {
        p += bg_fmt_double17(c->lambda_A[k], p);
        *p++ = ',';
        p += bg_fmt_double17(w[k], p);
        *p++ = '\n';
    }
    return (size_t)(p - out);
}

/* The full divergence in radians: the larger resolved range, or for
 * quantile sampling the larger extent of the sampled angles. */
static double divergence_rad(const bg_resolved *r)
{
    if (r->div_form != BG_DIV_QUANTILES)
        return r->hdiv.range > r->vdiv.range ? r->hdiv.range : r->vdiv.range;
    int64_t nh = r->hdiv.count, nv = r->vdiv.count;
    double h =
        bg_quantile(r->sigma_h, nh - 1, nh) - bg_quantile(r->sigma_h, 0, nh);
    double v =
        bg_quantile(r->sigma_v, nv - 1, nv) - bg_quantile(r->sigma_v, 0, nv);
    return h > v ? h : v;
}

/* dxtbx's normal to the polarization plane: unit(polar x beam). */
static void polarization_normal(const bg_resolved *r, double n[3])
{
    const double *a = r->polar, *b = r->beam;
    double c[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                   a[0] * b[1] - a[1] * b[0]};
    double m = sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
    for (int i = 0; i < 3; i++)
        n[i] = c[i] / m;
}

static size_t dxtbx_json(const bgapi_view *v, const bg_channels *c,
                         const double *w, char *out)
{
    const bg_resolved *r = v->resolved;
    const double deg = 180.0 / M_PI;
    bg_summary s;
    bg_summary_of(v->grid, &s);
    double dir[3] = {-r->beam[0], -r->beam[1], -r->beam[2]}, pn[3];
    polarization_normal(r, pn);
    double sigma = r->div_form == BG_DIV_FLAT ? 0.0
                   : r->sigma_h > r->sigma_v  ? r->sigma_h
                                              : r->sigma_v;
    char *p = bgapi_put_str(out, "{\"__id__\":\"monochromatic\"");
    p = bgapi_put_vec(p, ",\"direction\":", dir);
    p = bgapi_put_key_num(p, ",\"wavelength\":", s.mean_wavelength_A);
    p = bgapi_put_key_num(p, ",\"divergence\":", divergence_rad(r) * deg);
    p = bgapi_put_key_num(p, ",\"sigma_divergence\":", sigma * deg);
    p = bgapi_put_vec(p, ",\"polarization_normal\":", pn);
    p = bgapi_put_str(p, ",\"polarization_fraction\":0.999");
    p = bgapi_put_key_num(p, ",\"flux\":", s.weight_sum);
    p = bgapi_put_str(p, ",\"transmission\":1.0,\"spectrum\":{\"energies\":[");
    for (int64_t k = 0; k < c->n; k++) {
        if (k > 0)
            *p++ = ',';
        p = bgapi_put_num(p, c->energy_eV[k]);
    }
    p = bgapi_put_str(p, "],\"weights\":[");
    for (int64_t k = 0; k < c->n; k++) {
        if (k > 0)
            *p++ = ',';
        p = bgapi_put_num(p, w[k]);
    }
    p = bgapi_put_str(p, "]}}");
    return (size_t)(p - out);
}

int bgapi_beam_build(bgapi_encoder *e)
{
    bg_channels c;
    if (bg_channels_make(e->v.resolved, &c) != BG_OK)
        return -1;
    double *w = malloc((size_t)c.n * sizeof *w);
    char *body = malloc((size_t)bgapi_beam_bound(&e->v, e->r));
    if (w == NULL || body == NULL) {
        free(w);
        free(body);
        bg_channels_free(&c);
        return -1;
    }
    bg_channels_normalized(e->v.resolved, &c, w);
    e->whole_len = e->r.format == BGAPI_FMT_LAM
                       ? lam_text(&c, w, body)
                       : dxtbx_json(&e->v, &c, w, body);
    e->whole = body;
    free(w);
    bg_channels_free(&c);
    return 0;
}

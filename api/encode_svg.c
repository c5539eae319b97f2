/* encode_svg.c - the SVG picture of a grid (docs/formats-svg.md).
 *
 * Read from the grid itself: the channels are the wavelengths that repeat
 * with the grid's period (count / points sources; any grid whose columns
 * do not repeat that way is read as one point per source and its
 * wavelengths sorted), a point's weight is the sum over its channels, and
 * its h and v angles come from its direction in the frame of the resolved
 * beam and vertical axes (h about vert, v toward vert, as the grid is
 * rotated). The trim ellipse is the resolved ranges' (round_div), the
 * spectrum the weight summed per distinct wavelength. Written whole into a
 * growing buffer with presentation attributes only (no <style>, no
 * script, no external reference), so it renders as an image, inline or
 * standalone. */
#include "api/encode_svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/encode_internal.h"

#define HC_EV_A 12398.42 /* nanoBragg's hc in eV A (README, Request fields) */

/* Layout, in SVG user units. */
#define W       980
#define H       470
#define PLOT_T  78.0
#define PLOT_B  388.0
#define FOOT_L  80.0
#define FOOT_R  420.0
#define SPEC_L  560.0
#define SPEC_R  940.0
#define N_TICKS 5

/* ---- a growing buffer ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_grow(sbuf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->len + need + 1)
        cap *= 2;
    if (cap > BGAPI_SVG_MAX + 1) {
        b->failed = true;
        return;
    }
    char *p = realloc(b->buf, cap);
    if (p == NULL) {
        b->failed = true;
        return;
    }
    b->buf = p;
    b->cap = cap;
}

__attribute__((format(printf, 2, 3))) static void
sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (int pass = 0; pass < 2; pass++) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap > b->len ? b->cap - b->len : 0;
        int n = vsnprintf(b->buf ? b->buf + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        sb_grow(b, (size_t)n);
        if (b->failed)
            return;
    }
    b->failed = true;
}

/* ---- reading the grid ---- */

/* How sources are laid out: `points` divergence points times `channels`
 * wavelengths, source (p, c) at index p * sp + c * sc: channels inner (sp
 * = channels, sc = 1, nanoBragg's order) or outer (sp = 1, sc = points).
 * A grid in neither layout is read as one point per source (grouped
 * false) and its wavelengths sorted. */
typedef struct {
    const bgapi_view *v;
    uint64_t count, points, channels, sp, sc;
    bool grouped;
    double b[3], w[3], vert[3]; /* sample-to-source frame */
} grid_reader;

static double dot(const double a[3], const double c[3])
{
    return a[0] * c[0] + a[1] * c[1] + a[2] * c[2];
}

static double col(const grid_reader *g, const void *c, uint64_t i)
{
    return bgapi_col(c, g->v->grid->dtype, i);
}

static double lambda_at(const grid_reader *g, uint64_t i)
{
    return col(g, g->v->grid->lambda, i);
}

/* Whether wavelengths repeat with period n (channels inner). */
static bool channels_inner(const grid_reader *g, uint64_t n)
{
    for (uint64_t i = n; i < g->count; i++)
        if (lambda_at(g, i) != lambda_at(g, i % n))
            return false;
    return true;
}

/* Whether wavelengths are constant over blocks of n (channels outer). */
static bool channels_outer(const grid_reader *g, uint64_t n)
{
    for (uint64_t i = 0; i < g->count; i++)
        if (lambda_at(g, i) != lambda_at(g, i / n * n))
            return false;
    return true;
}

static void layout(grid_reader *g)
{
    const bg_grid *gr = g->v->grid;
    uint64_t pts = gr->points, per = pts > 0 ? gr->count / pts : 0;
    g->grouped = true;
    if (per > 0 && per * pts == gr->count && channels_inner(g, per)) {
        g->points = pts, g->channels = per, g->sp = per, g->sc = 1;
    } else if (per > 0 && per * pts == gr->count && channels_outer(g, pts)) {
        g->points = pts, g->channels = per, g->sp = 1, g->sc = pts;
    } else {
        g->grouped = false;
        g->points = gr->count, g->channels = 1, g->sp = 1, g->sc = 1;
    }
}

/* The frame: b = -beam (the unrotated direction), vert, and w = vert x b,
 * the way b turns about vert; h = atan2(d.w, d.b), v = asin(d.vert). */
static void reader_init(grid_reader *g, const bgapi_view *v)
{
    const bg_resolved *r = v->resolved;
    g->v = v;
    g->count = v->grid->count;
    layout(g);
    for (int i = 0; i < 3; i++) {
        g->b[i] = -r->beam[i];
        g->vert[i] = r->vert[i];
    }
    g->w[0] = g->vert[1] * g->b[2] - g->vert[2] * g->b[1];
    g->w[1] = g->vert[2] * g->b[0] - g->vert[0] * g->b[2];
    g->w[2] = g->vert[0] * g->b[1] - g->vert[1] * g->b[0];
}

/* Point p's angles in mrad and its weight (summed over its channels). */
static void point_at(const grid_reader *g, uint64_t p, double *h, double *v,
                     double *wt)
{
    const bg_grid *gr = g->v->grid;
    uint64_t i = p * g->sp;
    double d[3] = {col(g, gr->x, i), col(g, gr->y, i), col(g, gr->z, i)};
    double s = dot(d, g->vert);
    s = s > 1.0 ? 1.0 : s < -1.0 ? -1.0 : s;
    *h = atan2(dot(d, g->w), dot(d, g->b)) * 1000.0;
    *v = asin(s) * 1000.0;
    double sum = 0.0;
    for (uint64_t c = 0; c < g->channels; c++)
        sum += col(g, gr->weight, i + c * g->sc);
    *wt = sum;
}

/* ---- the spectrum: weight per distinct wavelength ---- */

typedef struct {
    double lam_A, weight;
} channel;

static int channel_cmp(const void *a, const void *b)
{
    double x = ((const channel *)a)->lam_A, y = ((const channel *)b)->lam_A;
    return (x > y) - (x < y);
}

/* The distinct wavelengths (Angstrom, ascending) and their summed weights
 * into a malloc'd *out; returns how many, or 0 without memory. Grouped:
 * one entry per channel, every source's weight added to its channel's;
 * else one per source. Then sorted and equal wavelengths merged. */
static size_t spectrum(const grid_reader *g, channel **out)
{
    const bg_grid *gr = g->v->grid;
    uint64_t n = g->grouped ? g->channels : g->count;
    channel *ch = calloc(n ? n : 1, sizeof *ch);
    if (ch == NULL)
        return 0;
    for (uint64_t c = 0; c < n; c++)
        ch[c].lam_A = lambda_at(g, g->grouped ? c * g->sc : c) * 1e10;
    for (uint64_t i = 0; i < gr->count; i++) {
        uint64_t c = !g->grouped ? i : g->sc == 1 ? i % n : i / g->sc;
        ch[c].weight += col(g, gr->weight, i);
    }
    qsort(ch, n, sizeof *ch, channel_cmp);
    size_t k = 0;
    for (uint64_t c = 0; c < n; c++) {
        if (k > 0 && ch[k - 1].lam_A == ch[c].lam_A)
            ch[k - 1].weight += ch[c].weight;
        else
            ch[k++] = ch[c];
    }
    *out = ch;
    return k;
}

/* ---- axes ---- */

/* A linear map from [lo, hi] to pixels [p0, p1]. */
typedef struct {
    double lo, hi, p0, p1;
} scale;

static double at(const scale *s, double x)
{
    return s->p0 + (x - s->lo) / (s->hi - s->lo) * (s->p1 - s->p0);
}

/* A round tick step near span / N_TICKS. */
static double tick_step(double span)
{
    double raw = span / N_TICKS;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * mag;
}

/* Decimals that show ticks of `step` apart. */
static int tick_decimals(double step)
{
    int d = (int)ceil(-log10(step) - 1e-9);
    return d < 0 ? 0 : d > 12 ? 12 : d;
}

/* Ticks, grid lines and labels of one axis; x: along the bottom (y0 the
 * axis line), else along the left (x0 the axis line). */
static void axis(sbuf *b, const scale *s, bool x, double x0, double y0,
                 double len, const char *label, const char *cls)
{
    double step = tick_step(s->hi - s->lo);
    int dec = tick_decimals(step);
    double t0 = ceil(s->lo / step - 1e-9) * step;
    for (int i = 0; i < 40; i++) {
        double t = t0 + i * step;
        if (t > s->hi + step * 1e-9)
            break;
        double p = at(s, t);
        double shown = fabs(t) < step * 1e-9 ? 0.0 : t;
        if (x)
            sb_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                      "stroke=\"#e3e3e3\"/><text class=\"tick\" x=\"%.1f\" "
                      "y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n",
                      p, y0 - len, p, y0, p, y0 + 15, dec, shown);
        else
            sb_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                      "stroke=\"#e3e3e3\"/><text class=\"tick\" x=\"%.1f\" "
                      "y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
                      x0, p, x0 + len, p, x0 - 5, p + 4, dec, shown);
    }
    if (x)
        sb_printf(b,
                  "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" "
                  "text-anchor=\"middle\">%s</text>\n",
                  cls, (s->p0 + s->p1) / 2, y0 + 34, label);
    else
        sb_printf(b,
                  "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" "
                  "text-anchor=\"middle\" transform=\"rotate(-90 %.1f "
                  "%.1f)\">%s</text>\n",
                  cls, x0 - 48, (s->p0 + s->p1) / 2, x0 - 48,
                  (s->p0 + s->p1) / 2, label);
}

static void frame(sbuf *b, double l, double r)
{
    sb_printf(b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
              "fill=\"none\" stroke=\"#444\"/>\n",
              l, PLOT_T, r - l, PLOT_B - PLOT_T);
}

/* A shade of blue for a weight fraction t in [0, 1] (light to dark). */
static void shade(double t, char out[8])
{
    static const int lo[3] = {198, 219, 239}, hi[3] = {8, 48, 107};
    t = t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
    int c[3];
    for (int i = 0; i < 3; i++)
        c[i] = (int)lround(lo[i] + (hi[i] - lo[i]) * t);
    snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

/* ---- the footprint ---- */

typedef struct {
    double hmax, vmax, wmax; /* largest |h|, |v| (mrad) and point weight */
} extent;

static extent footprint_extent(const grid_reader *g)
{
    extent e = {0.0, 0.0, 0.0};
    for (uint64_t p = 0; p < g->points; p++) {
        double h, v, w;
        point_at(g, p, &h, &v, &w);
        e.hmax = fmax(e.hmax, fabs(h));
        e.vmax = fmax(e.vmax, fabs(v));
        e.wmax = fmax(e.wmax, w);
    }
    return e;
}

/* Half the plotted extent of an axis: the points and the trim ellipse. */
static double half_span(double amax, double range_rad, bool round_div)
{
    double half = range_rad * 500.0 * (round_div ? sqrt(1.1) : 1.0);
    double m = fmax(amax, half);
    return m > 0.0 && isfinite(m) ? m * 1.08 : 1.0;
}

/* A mark's radius: 0.4 of the resolved steps' spacing on the page (the
 * closer axis), else from the number of points; 1.2 to 7 units. */
static double mark_radius(const grid_reader *g, const scale *sh,
                          const scale *sv)
{
    const bg_resolved *r = g->v->resolved;
    double side = sqrt((double)g->points);
    double rad = 0.32 * (FOOT_R - FOOT_L) / (side > 1.0 ? side : 1.0);
    double dh = fabs(at(sh, r->hdiv.step * 1000.0) - at(sh, 0.0));
    double dv = fabs(at(sv, r->vdiv.step * 1000.0) - at(sv, 0.0));
    if (r->hdiv.count > 1 && dh > 0.0)
        rad = 0.4 * dh;
    if (r->vdiv.count > 1 && dv > 0.0 && (0.4 * dv < rad || r->hdiv.count <= 1))
        rad = 0.4 * dv;
    return rad < 1.2 ? 1.2 : rad > 7.0 ? 7.0 : rad;
}

static void draw_points(sbuf *b, const grid_reader *g, const scale *sh,
                        const scale *sv, double wmax)
{
    double rad = mark_radius(g, sh, sv);
    sb_printf(b, "<g class=\"points\" stroke=\"none\">\n");
    for (uint64_t p = 0; p < g->points; p++) {
        double h, v, w;
        char fill[8];
        point_at(g, p, &h, &v, &w);
        shade(wmax > 0.0 ? w / wmax : 1.0, fill);
        sb_printf(b,
                  "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.2f\" "
                  "fill=\"%s\"/>\n",
                  at(sh, h), at(sv, v), rad, fill);
    }
    sb_printf(b, "</g>\n");
}

/* Sum point weights into BGAPI_SVG_BINS^2 cells; draw the non-empty ones.
 * Returns the number of cells drawn, or -1 without memory. */
static long draw_bins(sbuf *b, const grid_reader *g, const scale *sh,
                      const scale *sv)
{
    const unsigned nb = BGAPI_SVG_BINS;
    double *cell = calloc((size_t)nb * nb, sizeof *cell);
    unsigned char *used = calloc((size_t)nb * nb, 1);
    if (cell == NULL || used == NULL) {
        free(cell);
        free(used);
        return -1;
    }
    for (uint64_t p = 0; p < g->points; p++) {
        double h, v, w;
        point_at(g, p, &h, &v, &w);
        double fx = (h - sh->lo) / (sh->hi - sh->lo) * nb;
        double fy = (v - sv->lo) / (sv->hi - sv->lo) * nb;
        unsigned ix = fx < 0 ? 0 : fx >= nb ? nb - 1 : (unsigned)fx;
        unsigned iy = fy < 0 ? 0 : fy >= nb ? nb - 1 : (unsigned)fy;
        cell[iy * nb + ix] += w;
        used[iy * nb + ix] = 1;
    }
    double cmax = 0.0;
    for (size_t i = 0; i < (size_t)nb * nb; i++)
        cmax = fmax(cmax, cell[i]);
    double cw = (sh->p1 - sh->p0) / nb, chh = (sv->p0 - sv->p1) / nb;
    long drawn = 0;
    sb_printf(b, "<g class=\"bins\" stroke=\"none\" "
                 "shape-rendering=\"crispEdges\">\n");
    for (unsigned iy = 0; iy < nb; iy++)
        for (unsigned ix = 0; ix < nb; ix++) {
            if (!used[iy * nb + ix])
                continue;
            char fill[8];
            shade(cmax > 0.0 ? cell[iy * nb + ix] / cmax : 1.0, fill);
            sb_printf(b,
                      "<rect class=\"bin\" x=\"%.1f\" y=\"%.1f\" "
                      "width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n",
                      sh->p0 + ix * cw, sv->p0 - (iy + 1) * chh, cw, chh, fill);
            drawn++;
        }
    sb_printf(b, "</g>\n");
    free(cell);
    free(used);
    return drawn;
}

/* The resolved ranges (dotted) and, with round_div, the trim ellipse:
 * kept points satisfy 4 (h^2/hr^2 + v^2/vr^2) <= 1.1 (README: the grid),
 * so its semi-axes are sqrt(1.1)/2 of the ranges. */
static void draw_trim(sbuf *b, const bg_resolved *r, const scale *sh,
                      const scale *sv)
{
    double hr = r->hdiv.range * 1000.0, vr = r->vdiv.range * 1000.0;
    if (!(hr > 0.0 && vr > 0.0))
        return;
    sb_printf(b,
              "<rect class=\"range\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
              "height=\"%.1f\" fill=\"none\" stroke=\"#999\" "
              "stroke-dasharray=\"2 3\"/>\n",
              at(sh, -hr / 2), at(sv, vr / 2), at(sh, hr / 2) - at(sh, -hr / 2),
              at(sv, -vr / 2) - at(sv, vr / 2));
    if (!r->round_div)
        return;
    double k = sqrt(1.1) / 2.0;
    sb_printf(b,
              "<ellipse class=\"trim\" cx=\"%.1f\" cy=\"%.1f\" rx=\"%.1f\" "
              "ry=\"%.1f\" fill=\"none\" stroke=\"#d62728\" "
              "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
              at(sh, 0.0), at(sv, 0.0), at(sh, hr * k) - at(sh, 0.0),
              at(sv, 0.0) - at(sv, vr * k));
}

/* Returns the footprint's note line into note[0..n). -1 without memory. */
static int footprint(sbuf *b, const grid_reader *g, char *note, size_t n)
{
    const bg_resolved *r = g->v->resolved;
    extent e = footprint_extent(g);
    double hs = half_span(e.hmax, r->hdiv.range, r->round_div);
    double vs = half_span(e.vmax, r->vdiv.range, r->round_div);
    scale sh = {-hs, hs, FOOT_L, FOOT_R}, sv = {-vs, vs, PLOT_B, PLOT_T};
    sb_printf(b,
              "<text class=\"heading\" x=\"%.1f\" y=\"%.1f\" "
              "font-weight=\"bold\">Divergence footprint</text>\n",
              FOOT_L, PLOT_T - 8);
    axis(b, &sh, true, 0, PLOT_B, PLOT_B - PLOT_T, "h (mrad)", "xlabel");
    axis(b, &sv, false, FOOT_L, 0, FOOT_R - FOOT_L, "v (mrad)", "ylabel");
    if (g->points <= BGAPI_SVG_POINT_MARKS) {
        draw_points(b, g, &sh, &sv, e.wmax);
        snprintf(note, n,
                 "each of the %llu points drawn, shaded by its weight "
                 "(darkest %.4g)",
                 (unsigned long long)g->points, e.wmax);
    } else {
        long cells = draw_bins(b, g, &sh, &sv);
        if (cells < 0)
            return -1;
        snprintf(note, n,
                 "binned: %llu points into %ld of %ux%u cells, shaded by "
                 "summed weight",
                 (unsigned long long)g->points, cells, BGAPI_SVG_BINS,
                 BGAPI_SVG_BINS);
    }
    draw_trim(b, r, &sh, &sv);
    frame(b, FOOT_L, FOOT_R);
    return 0;
}

/* ---- the spectrum panel ---- */

/* Channels per group when there are n (sorted) wavelengths: 1 up to
 * BGAPI_SVG_CHANNEL_MARKS, else enough for at most that many groups. */
static size_t group_size(size_t n)
{
    size_t m = BGAPI_SVG_CHANNEL_MARKS;
    return n <= m ? 1 : (n + m - 1) / m;
}

/* Merge runs of `per` consecutive wavelengths (in place: ch[0..k) becomes
 * each run's mean wavelength and mean channel weight). Runs of neighbours,
 * not equal-width bins: a regular spectrum then stays flat (no comb of 2
 * and 3 channels a bin), and denser channels still give denser stems, as
 * unbinned. Returns k. */
static size_t group_channels(channel *ch, size_t n, size_t per)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i += per) {
        size_t m = n - i < per ? n - i : per;
        double lam = 0.0, w = 0.0;
        for (size_t j = i; j < i + m; j++) {
            lam += ch[j].lam_A;
            w += ch[j].weight;
        }
        ch[k].lam_A = lam / (double)m;
        ch[k++].weight = w / (double)m;
    }
    return k;
}

/* The spectrum, its axes and marks; its two note lines into note[0..n)
 * and range[0..n). -1 without memory. */
static int spectrum_panel(sbuf *b, const grid_reader *g, char *note,
                          char *range, size_t n)
{
    channel *ch = NULL;
    size_t k = spectrum(g, &ch);
    if (k == 0)
        return -1;
    double lmin = ch[0].lam_A, lmax = ch[k - 1].lam_A;
    size_t distinct = k, per = group_size(k);
    if (per > 1)
        k = group_channels(ch, k, per);
    double wmax = 0.0;
    for (size_t i = 0; i < k; i++)
        wmax = fmax(wmax, ch[i].weight);
    double mid = (lmin + lmax) / 2, span = lmax - lmin;
    double half = fmax(span * 0.55, fabs(mid) * 1e-3);
    scale sx = {mid - half, mid + half, SPEC_L, SPEC_R};
    scale sy = {0.0, wmax > 0.0 ? wmax * 1.1 : 1.0, PLOT_B, PLOT_T};
    sb_printf(b,
              "<text class=\"heading\" x=\"%.1f\" y=\"%.1f\" "
              "font-weight=\"bold\">Spectrum</text>\n",
              SPEC_L, PLOT_T - 8);
    axis(b, &sx, true, 0, PLOT_B, PLOT_B - PLOT_T, "wavelength &#955; (&#197;)",
         "xlabel");
    axis(b, &sy, false, SPEC_L, 0, SPEC_R - SPEC_L, "channel weight", "ylabel");
    sb_printf(b, "<g class=\"channels\" stroke=\"#08306b\" "
                 "stroke-width=\"2\">\n");
    for (size_t i = 0; i < k; i++)
        sb_printf(b,
                  "<line class=\"ch\" x1=\"%.2f\" y1=\"%.1f\" "
                  "x2=\"%.2f\" y2=\"%.1f\"/>\n",
                  at(&sx, ch[i].lam_A), PLOT_B, at(&sx, ch[i].lam_A),
                  at(&sy, ch[i].weight));
    sb_printf(b, "</g>\n");
    frame(b, SPEC_L, SPEC_R);
    if (per > 1)
        snprintf(note, n,
                 "binned: %zu wavelengths in %zu runs of %zu neighbours, "
                 "each at its mean weight",
                 distinct, k, per);
    else
        snprintf(note, n, "one stem per wavelength (%zu), height its weight",
                 distinct);
    snprintf(range, n, "%.8g to %.8g \xC3\x85 = %.7g to %.7g eV", lmin, lmax,
             HC_EV_A / lmax, HC_EV_A / lmin);
    free(ch);
    return 0;
}

/* ---- the document ---- */

/* The semantics the grid follows (docs/torch.md), with the port's
 * arithmetic type. */
static const char *semantics_name(const bg_resolved *r)
{
    if (r->semantics != BG_SEM_TORCH)
        return "nanoBragg.c";
    return r->dtype == BG_F32 ? "nanobrag_torch (float32)"
                              : "nanobrag_torch (float64)";
}

/* Text with &, <, > and " escaped (the notes are ASCII and UTF-8). */
static void text_escaped(sbuf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            sb_printf(b, "&amp;");
            break;
        case '<':
            sb_printf(b, "&lt;");
            break;
        case '>':
            sb_printf(b, "&gt;");
            break;
        case '"':
            sb_printf(b, "&quot;");
            break;
        default:
            sb_printf(b, "%c", *s);
        }
    }
}

static const char *plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

static void head(sbuf *b, const grid_reader *g)
{
    const char *id = g->v->id;
    sb_printf(b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
              "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
              "font-size=\"12\" fill=\"#222\">\n"
              "<title>beamgrid source grid: %llu sources</title>\n"
              "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
              W, H, W, H, (unsigned long long)g->count);
    sb_printf(b,
              "<text class=\"title\" x=\"20\" y=\"26\" font-size=\"16\" "
              "font-weight=\"bold\">beamgrid source grid</text>\n"
              "<text class=\"semantics\" x=\"%d\" y=\"26\" "
              "text-anchor=\"end\">semantics: %s</text>\n",
              W - 20, semantics_name(g->v->resolved));
    if (g->grouped)
        sb_printf(b,
                  "<text class=\"counts\" x=\"20\" y=\"48\">%llu source%s "
                  "= %llu divergence point%s &#215; %llu channel%s</text>\n",
                  (unsigned long long)g->count, plural(g->count),
                  (unsigned long long)g->points, plural(g->points),
                  (unsigned long long)g->channels, plural(g->channels));
    else
        sb_printf(b,
                  "<text class=\"counts\" x=\"20\" y=\"48\">%llu sources "
                  "(not a points &#215; channels product: each drawn as a "
                  "point)</text>\n",
                  (unsigned long long)g->count);
    if (id != NULL) {
        size_t n = strlen(id);
        sb_printf(b,
                  "<text class=\"id\" x=\"%d\" y=\"48\" text-anchor=\"end\" "
                  "font-family=\"monospace\" font-size=\"10\">id %.*s%s"
                  "</text>\n",
                  W - 20, n > 48 ? 48 : (int)n, id, n > 48 ? "&#8230;" : "");
    }
}

static void note_line(sbuf *b, const char *cls, double x, double y,
                      const char *text)
{
    sb_printf(b, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\">",
              cls, x, y);
    text_escaped(b, text);
    sb_printf(b, "</text>\n");
}

int bgapi_svg_render(const bgapi_view *v, char **out, size_t *len)
{
    grid_reader g;
    sbuf b = {NULL, 0, 0, false};
    char fnote[200], snote[200], srange[200];
    reader_init(&g, v);
    head(&b, &g);
    if (footprint(&b, &g, fnote, sizeof fnote) != 0 ||
        spectrum_panel(&b, &g, snote, srange, sizeof snote) != 0)
        b.failed = true;
    note_line(&b, "note", FOOT_L - 50, H - 30, fnote);
    note_line(&b, "note", SPEC_L - 50, H - 30, snote);
    note_line(&b, "note", SPEC_L - 50, H - 12, srange);
    if (v->resolved->round_div && v->resolved->hdiv.range > 0 &&
        v->resolved->vdiv.range > 0)
        note_line(&b, "legend", FOOT_L - 50, H - 12,
                  "red dashed: round_div trim ellipse; grey dotted: the "
                  "resolved h and v ranges");
    else
        note_line(&b, "legend", FOOT_L - 50, H - 12,
                  v->resolved->round_div
                      ? "no trim ellipse: a divergence range is 0"
                      : "square_div: no trim; grey dotted: the resolved "
                        "ranges");
    sb_printf(&b, "</svg>\n");
    if (b.failed) {
        free(b.buf);
        return -1;
    }
    *out = b.buf;
    *len = b.len;
    return 0;
}

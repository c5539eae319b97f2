/* nanobragg_ref.h - nanoBragg.c's source loop, transcribed once for the two
 * places that redo it literally: the reference of tests/core/test_grid.c
 * (the core must equal it bit for bit) and the naive baseline of
 * bench/bench_core.c (timed against the core, and compared with its output
 * once). Header-only (static functions), so the bench needs no test
 * object. The rules it follows are docs/semantics.md §2.3-2.4. */
#ifndef BG_TEST_NANOBRAGG_REF_H
#define BG_TEST_NANOBRAGG_REF_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/resolve.h"

/* nanoBragg's rotate_axis: v rotated by phi about the unit vector axis,
 * into newv (which may not alias v); two trig calls per rotation. */
static void nanobragg_rotate_axis(const double *v, double *newv,
                                  const double *axis, double phi)
{
    double sinphi = sin(phi);
    double cosphi = cos(phi);
    double dot =
        (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - cosphi);
    double t[3];
    t[0] = axis[0] * dot + v[0] * cosphi +
           (-axis[2] * v[1] + axis[1] * v[2]) * sinphi;
    t[1] = axis[1] * dot + v[1] * cosphi +
           (+axis[2] * v[0] - axis[0] * v[2]) * sinphi;
    t[2] = axis[2] * dot + v[2] * cosphi +
           (-axis[1] * v[0] + axis[0] * v[1]) * sinphi;
    newv[0] = t[0], newv[1] = t[1], newv[2] = t[2];
}

/* The columns one pass fills. n is the source count, which the weight
 * 1/n needs: nanoBragg counts in a first pass (x == NULL: count only) and
 * fills in a second. px, py, pz (the source positions) may be NULL. */
typedef struct {
    uint64_t n;
    double *x, *y, *z, *w, *l;
    double *px, *py, *pz;
} nanobragg_cols;

/* One pass of nanoBragg's loop over r: the divergence rectangle row by row
 * (horizontal outer, vertical inner), the elliptical trim, two rotations,
 * then the dispersion steps of each kept direction. Stores into g when g->x
 * is set; returns the number of sources. */
static uint64_t nanobragg_pass(const bg_resolved *r, nanobragg_cols *g)
{
    uint64_t n = 0;
    int64_t hs = r->hdiv.count, vs = r->vdiv.count, ds = r->disp.count;
    double hstep = r->hdiv.step, hrange = r->hdiv.range;
    double vstep = r->vdiv.step, vrange = r->vdiv.range;
    double weight = g->n ? 1.0 / (double)g->n : 0.0;
    for (int64_t ht = 0; ht < hs; ++ht)
        for (int64_t vt = 0; vt < vs; ++vt) {
            double hdiv = hstep * ht - hrange / 2.0;
            double vdiv = vstep * vt - vrange / 2.0;
            double test = (hdiv * hdiv - hstep * hstep / 4.0 * (1 - hs % 2)) /
                          hrange / hrange;
            test += (vdiv * vdiv - vstep * vstep / 4.0 * (1 - vs % 2)) /
                    vrange / vrange;
            if (r->round_div && test * 4.0 > 1.1)
                continue;
            if (g->x == NULL) {
                n += (uint64_t)ds;
                continue;
            }
            double vec[3], nv[3];
            for (int k = 0; k < 3; k++)
                vec[k] = -r->source_distance_m * r->beam[k];
            nanobragg_rotate_axis(vec, nv, r->polar, vdiv);
            nanobragg_rotate_axis(nv, vec, r->vert, hdiv);
            double mag =
                sqrt(vec[0] * vec[0] + vec[1] * vec[1] + vec[2] * vec[2]);
            for (int64_t dt = 0; dt < ds; ++dt, ++n) {
                g->x[n] = vec[0] / mag;
                g->y[n] = vec[1] / mag;
                g->z[n] = vec[2] / mag;
                if (g->px != NULL) {
                    g->px[n] = vec[0];
                    g->py[n] = vec[1];
                    g->pz[n] = vec[2];
                }
                g->w[n] = weight;
                g->l[n] = r->lambda0_m *
                          (1.0 + r->disp.step * dt - r->disp.range / 2.0);
            }
        }
    return n;
}

#endif

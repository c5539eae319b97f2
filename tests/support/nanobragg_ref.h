/* nanobragg_ref.h - nanoBragg.c's rotate_axis, transcribed once for the two
 * places that redo nanoBragg's source loop literally: the reference of
 * tests/core/test_grid.c and the naive baseline of bench/bench_core.c.
 * Header-only (a static function, as it was in each), so the bench needs no
 * test object. Both includers call it. */
#ifndef BG_TEST_NANOBRAGG_REF_H
#define BG_TEST_NANOBRAGG_REF_H

#include <math.h>

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

#endif

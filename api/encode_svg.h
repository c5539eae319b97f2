/* encode_svg.h - a picture of a grid as a standalone SVG (docs/formats-
 * svg.md): the divergence footprint (h and v in mrad, each point shaded by
 * its weight, the trim ellipse) beside the spectrum (weight per distinct
 * wavelength), with axes, units, the counts and the semantics. Everything
 * is derived from the grid's columns and the resolved parameters, so any
 * grid the core makes can be drawn. The size is bounded whatever the count:
 * too many points are binned, too many channels merged, and the picture
 * says so. */
#ifndef BGAPI_ENCODE_SVG_H
#define BGAPI_ENCODE_SVG_H

#include <stddef.h>

#include "api/encode.h"

/* The most bytes bgapi_svg_render writes (it fails rather than exceed it;
 * the layout stays well below, docs/formats-svg.md). */
#define BGAPI_SVG_MAX (1u << 20)

/* Up to this many divergence points are drawn one mark each; more are
 * binned into BGAPI_SVG_BINS x BGAPI_SVG_BINS cells. */
#define BGAPI_SVG_POINT_MARKS 5000u
#define BGAPI_SVG_BINS        100u

/* Up to this many distinct wavelengths are drawn one stem each; more are
 * merged in runs of neighbours into at most this many stems. */
#define BGAPI_SVG_CHANNEL_MARKS 400u

/* Render the SVG of *v into a malloc'd buffer (*out, *len; the caller
 * frees). Returns 0, or -1 (nothing allocated) without memory. */
int bgapi_svg_render(const bgapi_view *v, char **out, size_t *len);

#endif

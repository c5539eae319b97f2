/* encode.h - the four representations of a grid.
 *
 * JSON (every number parses back to the identical double), NumPy .npy
 * (shape (N, 5): x, y, z, weight, wavelength_m; <f8 or <f4), the compact
 * binary layout "BGRD" (documented in openapi.yaml and README), and the
 * nanoBragg -sourcefile text (SPEC 2.5, 17 significant digits, "\n" line
 * ends, no header). Encoders are incremental: a caller pulls chunks into its
 * own buffer, so a large response streams from the grid's arrays without a
 * second full copy; bgapi_encode_all builds the whole thing for caching. */
#ifndef BGAPI_ENCODE_H
#define BGAPI_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "api/negotiate.h"
#include "core/grid.h"
#include "core/resolve.h"

/* The version of the encoders' output. Bump it whenever the bytes any
 * encoder writes for some grid change (a header, a number's spelling, a
 * field): it is part of every ETag (api/ids.h). */
#define BGAPI_ENCODE_VERSION 2 /* 2: JSON gained summary and the models */

#define BGAPI_SIZE_UNKNOWN UINT64_MAX
#define BGAPI_CHUNK_MIN    1024 /* smallest buffer bgapi_encoder_read takes */

/* What the encoders read: borrowed, must outlive any encoder using it. The
 * grid is float64; positions (px, py, pz) are needed for the text form. */
typedef struct {
    const char *id;
    const bg_resolved *resolved;
    const bg_grid *grid;
} bgapi_view;

typedef struct bgapi_encoder bgapi_encoder;

/* The exact byte size of representation r of *v, or BGAPI_SIZE_UNKNOWN
 * where it is not known without encoding (json, txt). */
uint64_t bgapi_encoded_size(const bgapi_view *v, bgapi_repr r);

#define BGAPI_HEAD_MAX  128 /* bytes of an npy or BGRD header, at most */
#define BGAPI_NPY_HEAD  128 /* bytes of the npy header of a (count, 5) array */
#define BGAPI_BGRD_HEAD 64  /* bytes of the BGRD header */

/* The npy header of a (count, 5) array of dt, Fortran order, into
 * out[0..BGAPI_HEAD_MAX); returns its length (128 for every count). */
size_t bgapi_npy_head(uint64_t count, bg_dtype dt, char *out);

/* The 64-byte BGRD header of grid *g as dt (see openapi.yaml) into out;
 * returns 64. */
size_t bgapi_bgrd_head(const bg_grid *g, const bg_resolved *r, bg_dtype dt,
                       char *out);

/* Whether representation r of *v is a header followed by the grid's five
 * columns as stored (npy and bin in the grid's dtype): if so, writes the
 * header into head[0..BGAPI_HEAD_MAX), the columns x, y, z, weight,
 * wavelength into cols (borrowed from the grid) and returns the header's
 * length; else returns 0. Lets a caller send the grid without encoding. */
size_t bgapi_binary_layout(const bgapi_view *v, bgapi_repr r, char *head,
                           const void *cols[5]);

/* A new encoder of representation r over *v (borrowed). NULL on allocation
 * failure. Free with bgapi_encoder_free. */
bgapi_encoder *bgapi_encoder_new(const bgapi_view *v, bgapi_repr r);

/* Write the next bytes into buf[0..cap), cap >= BGAPI_CHUNK_MIN. Returns
 * the number written (> 0), or 0 at the end. */
size_t bgapi_encoder_read(bgapi_encoder *e, char *buf, size_t cap);

void bgapi_encoder_free(bgapi_encoder *e);

/* Encode all of representation r into a malloc'd buffer (*out, *len; the
 * caller frees). Refuses (returns -1, nothing allocated) past max_bytes or
 * on allocation failure; returns 0 on success. */
int bgapi_encode_all(const bgapi_view *v, bgapi_repr r, size_t max_bytes,
                     char **out, size_t *len);

#endif

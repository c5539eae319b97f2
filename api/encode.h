/* encode.h - the five representations of a grid.
 *
 * JSON (every number parses back to the identical double), NumPy .npy
 * (shape (N, 5): x, y, z, weight, wavelength_m; <f8 or <f4), the compact
 * binary layout "BGRD" (documented in openapi.yaml and README), the
 * nanoBragg -sourcefile text (docs/semantics.md §2.6: 17 significant
 * digits, "\n" line
 * ends, no header), and the NumPy .npz of directions (N, 3), weights and
 * wavelengths (docs/formats.md). Encoders are incremental: a caller pulls
 * chunks into its own buffer, so a large response streams from the grid's
 * arrays without a second full copy; bgapi_encode_all builds the whole thing
 * for caching. */
#ifndef BGAPI_ENCODE_H
#define BGAPI_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "api/negotiate.h"
#include "api/problem.h"
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

/* ---- npz (api/encode_npz.c; docs/formats.md) ---- */

/* Members of the npz: directions.npy, weights.npy, wavelengths.npy. */
#define BGAPI_NPZ_MEMBERS 3
/* Segments of the body: per member a local header, the .npy header, the
 * data and a data descriptor; a central header per member; the end. */
#define BGAPI_NPZ_SEGS (5 * BGAPI_NPZ_MEMBERS + 1)
/* The largest npz written: without ZIP64, zip sizes and offsets are 32
 * bits (0xffffffff itself would mean "see ZIP64"). */
#define BGAPI_NPZ_MAX UINT64_C(0xfffffffe)

/* Where everything of an npz lies: segment s is bytes [start[s],
 * start[s + 1]); member_size is a member's .npy (header and data). */
typedef struct {
    uint64_t start[BGAPI_NPZ_SEGS + 1];
    uint64_t member_size[BGAPI_NPZ_MEMBERS];
    uint64_t central_off, central_size;
    uint64_t size; /* the whole body */
} bgapi_npz_layout;

void bgapi_npz_layout_make(bgapi_npz_layout *l, uint64_t count, bg_dtype dt);

/* The exact byte size of the npz of count sources as dt. */
uint64_t bgapi_npz_size(uint64_t count, bg_dtype dt);

/* 0 if the npz of count sources as dt fits BGAPI_NPZ_MAX; else -1 with a
 * 422 in *prob naming the size and the formats to use instead. */
int bgapi_npz_check(uint64_t count, bg_dtype dt, bgapi_problem *prob);

/* The npz in float64 of a float64 grid without its weights and
 * wavelengths data: a caller that holds the grid's columns sends those
 * from the columns themselves (docs/formats.md, Memory). The pieces of the
 * whole body, in order: bytes [0, cut[0]) of *out, the weight column
 * (count doubles), [cut[0], cut[1]) of *out, the wavelength column, then
 * [cut[1], *len) of *out. */
typedef struct {
    size_t cut[2];
} bgapi_npz_gaps;

/* Whether bgapi_npz_encode_gapped applies: r is npz float64 over a
 * float64 grid with sources. */
int bgapi_npz_gapped_repr(const bgapi_view *v, bgapi_repr r);

/* Where the columns go in the gapped npz of count sources. */
void bgapi_npz_gaps_of(uint64_t count, bgapi_npz_gaps *gaps);

/* Encode it into a malloc'd *out (*len bytes, *gaps where the columns go);
 * -1 (nothing allocated) past max_bytes or without memory, else 0. */
int bgapi_npz_encode_gapped(const bgapi_view *v, size_t max_bytes, char **out,
                            size_t *len, bgapi_npz_gaps *gaps);

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

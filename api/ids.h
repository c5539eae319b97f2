/* ids.h - grid ids, canonical keys and ETags.
 *
 * The canonical form of a grid is the byte string of its resolved
 * parameters (every count, range and step, lambda0, the unit vectors, the
 * source distance and round_div, little-endian IEEE doubles). Two requests
 * that resolve alike have the same canonical form, so they share an id and
 * a cache entry. The id is that canonical form in unpadded base64url:
 * self-sufficient, so any replica, including one that just restarted, can
 * rebuild the grid from the id alone. */
#ifndef BGAPI_IDS_H
#define BGAPI_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "api/negotiate.h"
#include "api/problem.h"
#include "core/resolve.h"

#define BGAPI_CANON_MAX 192 /* bytes of a canonical form, at most */
#define BGAPI_ID_MAX    256 /* characters of an id, at most */
#define BGAPI_ETAG_MAX  64  /* characters of an ETag, quotes included */

/* Write the canonical form of *r into buf (BGAPI_CANON_MAX bytes) and
 * return its length. Bit-exact (-0.0 and 0.0 differ), so equal canonical
 * forms always make bit-identical grids. */
size_t bgapi_canonical(const bg_resolved *r, unsigned char *buf);

/* A 64-bit hash of a canonical form (good mixing, not cryptographic). */
uint64_t bgapi_hash64(const unsigned char *canon, size_t len);

/* Write the id of *r, NUL-terminated, into out (BGAPI_ID_MAX + 1 bytes).
 * Returns its length. */
size_t bgapi_id_encode(const bg_resolved *r, char *out);

/* Decode an id into *out and validate it with bg_resolved_check. Returns 0,
 * or -1 with *prob (404: not an id beamgrid issued). Never reads past the
 * NUL of id. */
int bgapi_id_decode(const char *id, bg_resolved *out, bgapi_problem *prob);

/* The same for the n characters at id (no NUL needed; never reads past
 * them), e.g. the {id} of a bgapi_route. */
int bgapi_id_decode_n(const char *id, size_t n, bg_resolved *out,
                      bgapi_problem *prob);

/* The strong ETag of representation r of the grid of *r, with its quotes,
 * e.g. "\"bg1-9f3c0a...-npy-f8\"", into out (BGAPI_ETAG_MAX bytes). Changes
 * whenever the parameters, the representation or the encoders' version do. */
void bgapi_etag(const bg_resolved *r, bgapi_repr repr, char *out);

/* Whether an If-None-Match header value (NULL if absent) matches etag: "*",
 * or a comma-separated list holding it (weak W/ forms compare weakly, as
 * RFC 9110 says for If-None-Match). */
int bgapi_etag_matches(const char *if_none_match, const char *etag);

#endif

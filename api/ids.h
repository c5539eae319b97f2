/* ids.h - the key of a request: canonical bytes, id, digest and ETag,
 * built once.
 *
 * The canonical form of a grid is a byte string of its resolved parameters
 * (api/ids.c documents the layout): a version byte, then tagged fields in
 * ascending tag order, each present only when it differs from its default
 * (some defaults are relative: vdiv defaults to hdiv, a step to the one
 * bg_resolve derives from count and range). vert is not stored: it is a
 * function of beam and polar (bg_resolved_derive_vert). Counts are
 * unsigned LEB128 varints, doubles their 8-byte little-endian bit patterns
 * (bit exact: -0.0 and 0.0 differ). Two requests that resolve alike have
 * the same canonical form, so they share an id, an ETag and a cache entry.
 *
 * The id is the canonical form in unpadded base64url: self-sufficient, so
 * any replica, including one that just restarted, rebuilds the grid from
 * the id alone. Ids are strict: only the spelling a POST produces is
 * accepted (bgapi_key_from_id re-encodes what it decoded and compares).
 *
 * The digest is SipHash-2-4 of the canonical form under a fixed public key
 * (BGAPI_DIGEST_KEY: sixteen zero bytes), so it is the same on every
 * replica and machine; it is not a secret and not collision resistant
 * against someone who tries (2^32 work for a 64-bit birthday collision),
 * which is fine for an ETag: HTTP compares ETags of one URL only, and the
 * URL (the id) determines the grid. A cache that must resist hash flooding
 * hashes the canonical bytes under its own random key instead.
 *
 * The ETag is a strong entity-tag, quotes included:
 *   "<digest, 16 hex digits>-<repr
 * tag>-c<BG_CORE_VERSION>e<BGAPI_ENCODE_VERSION>" e.g.
 * "9f3c0a1b2c3d4e5f-npy-f8-c1e1": it changes with the parameters, the
 * representation, and the version of the core's values or of the
 * encoders' bytes. */
#ifndef BGAPI_IDS_H
#define BGAPI_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "api/negotiate.h"
#include "api/problem.h"
#include "core/resolve.h"

/* The version byte that starts every canonical form. Version 1 was a fixed
 * 162-byte record (216-character ids); those ids are no longer served. */
#define BGAPI_CANON_VERSION 2

/* Hard cap on a canonical form, in bytes, enforced by decoding: what a
 * 10,000-channel table needs at worst (8 bytes a value, two a channel)
 * plus every other field. Measured spectra take 6-8 bytes a channel
 * (docs/beams.md). */
#define BGAPI_CANON_MAX (BG_CHANNELS_MAX * 2 * 8 + 512)

/* Characters of unpadded base64url for n bytes. */
#define BGAPI_B64URL_LEN(n) ((n) / 3 * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* Characters of an id, at most (the base64url of BGAPI_CANON_MAX bytes). */
#define BGAPI_ID_MAX BGAPI_B64URL_LEN(BGAPI_CANON_MAX)

#define BGAPI_ETAG_MAX 64 /* characters of an ETag, quotes and NUL included */

/* Canonical bytes kept inside a bgapi_key; longer ones go to the heap.
 * Covers every request but those spelling out nearly every field with
 * vectors off the axes. */
#define BGAPI_KEY_INLINE    96
#define BGAPI_KEY_INLINE_ID BGAPI_B64URL_LEN(BGAPI_KEY_INLINE)

/* The key of a request. canon and id point into the struct itself (short
 * keys) or to one heap block: do not copy a bgapi_key by value; build it
 * in place and free it with bgapi_key_free. */
typedef struct {
    unsigned char *canon; /* canonical bytes */
    size_t canon_len;
    char *id; /* NUL-terminated unpadded base64url of canon */
    size_t id_len;
    uint64_t digest;           /* bgapi_siphash24(BGAPI_DIGEST_KEY, canon) */
    char etag[BGAPI_ETAG_MAX]; /* strong ETag of the repr, with quotes */
    unsigned char canon_inline[BGAPI_KEY_INLINE];
    char id_inline[BGAPI_KEY_INLINE_ID + 1];
} bgapi_key;

/* The public SipHash key of the digest: sixteen zero bytes. Changing it
 * changes every ETag. */
extern const unsigned char BGAPI_DIGEST_KEY[16];

/* Build the key of *r (from bg_resolve or bgapi_key_from_id: its vert is
 * not read, it is a function of beam and polar) for representation repr.
 * Returns 0, or -1 when out of memory (*k is then empty: bgapi_key_free is
 * still safe). Deterministic: the same *r gives the same bytes in every
 * process. */
int bgapi_key_build(bgapi_key *k, const bg_resolved *r, bgapi_repr repr);

/* Decode id[0..id_len) into *out and build its key into *k for repr.
 * Accepts only an id bgapi_key_build could have made: strict unpadded
 * base64url, a known version, known tags in ascending order, no default
 * written out, minimal varints, no trailing bytes, and a set that passes
 * bg_resolved_check. Returns 0, or -1 with *prob (may be NULL): 404
 * not-found for anything else, or 503 out-of-memory. *k is empty on
 * failure (bgapi_key_free is safe). */
/* On success *out may own memory (a table spectrum): the caller frees it
 * with bg_resolved_free. */
int bgapi_key_from_id(bgapi_key *k, const char *id, size_t id_len,
                      bgapi_repr repr, bg_resolved *out, bgapi_problem *prob);

/* Free what *k holds and leave it empty. Safe on a zeroed key, and
 * idempotent. */
void bgapi_key_free(bgapi_key *k);

/* Whether an If-None-Match header value (NULL if absent) matches etag: "*",
 * or a comma-separated list holding it (weak W/ forms compare weakly, as
 * RFC 9110 says for If-None-Match). */
int bgapi_etag_matches(const char *if_none_match, const char *etag);

#endif

/* siphash.h - SipHash-2-4 with a 64-bit output (Aumasson and Bernstein,
 * "SipHash: a fast short-input PRF", 2012): a keyed hash of a byte string.
 *
 * With a secret key it is a PRF, so an attacker who does not know the key
 * cannot make inputs collide on purpose (hash flooding). With a fixed,
 * public key it is only a good deterministic hash: anyone can compute it,
 * and 64 bits give birthday collisions after about 2^32 inputs. */
#ifndef BGAPI_SIPHASH_H
#define BGAPI_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define BGAPI_SIPHASH_KEY_LEN 16

/* SipHash-2-4 of data[0..len) under key (k0 = key[0..8), k1 = key[8..16),
 * both little-endian, as in the paper). Pure: no state, any alignment. */
uint64_t bgapi_siphash24(const unsigned char key[BGAPI_SIPHASH_KEY_LEN],
                         const void *data, size_t len);

#endif

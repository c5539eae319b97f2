/* cache.h - computed grids and their encoded bodies, shared and bounded.
 *
 * Entries are keyed by the canonical bytes of the resolved parameters (the
 * request key, api/ids.h). The cache hashes them itself with SipHash-2-4
 * under a key drawn at random for each cache, so nobody outside the process
 * can choose keys that collide; a lookup compares the full key, so even a
 * collision can never serve the wrong grid. The cache holds at most
 * max_bytes of grids and encoded representations, evicting entries the
 * clock algorithm finds unused (an approximation of least recently used
 * that needs no lock on a hit); entries are reference-counted, so eviction
 * never frees bytes a response is still sending. Concurrent misses on one
 * key are computed once (single-flight): the first caller becomes the
 * owner, later ones wait. The encoded bodies of an entry are built once
 * the same way, slot by slot (bgs_entry_slot_claim). All functions are
 * thread-safe. */
#ifndef BGS_CACHE_H
#define BGS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/negotiate.h"
#include "api/problem.h"
#include "core/grid.h"
#include "server/metrics.h"

typedef struct bgs_cache bgs_cache;
typedef struct bgs_entry bgs_entry;

typedef enum {
    BGS_ENTRY_COMPUTING, /* the owner is computing the grid */
    BGS_ENTRY_READY,     /* the grid is there and immutable */
    BGS_ENTRY_FAILED     /* the computation failed: see problem */
} bgs_entry_state;

typedef enum {
    BGS_LOOKUP_HIT,  /* a ready entry */
    BGS_LOOKUP_MISS, /* a new entry: the caller must compute */
    BGS_LOOKUP_WAIT  /* another caller is computing it */
} bgs_lookup;

/* A callback for the end of a wait (a grid computed, a body built). The
 * caller owns the memory and keeps it alive until `wake` has been called;
 * it is called exactly once, from the thread that ended the wait, with no
 * cache lock held. `next` is the cache's. */
typedef struct bgs_waiter {
    void (*wake)(struct bgs_waiter *w);
    struct bgs_waiter *next;
} bgs_waiter;

/* The bytes of lead room before a cached grid's columns (api/encode.h's
 * BGAPI_HEAD_MAX): the npy header is written there, so the npy body is
 * one contiguous run of the grid's own block. */
#define BGS_GRID_LEAD 128

/* A new cache holding at most max_bytes (0: nothing stays after its last
 * reference, but single-flight still works), and evicting, too, while the
 * memory alive (bgs_cache_live_bytes) exceeds max_live. Its hash key is
 * drawn from getrandom(2). NULL on allocation failure. */
bgs_cache *bgs_cache_new(uint64_t max_bytes, uint64_t max_live);

/* The same with a given 16-byte hash key (tests). */
bgs_cache *bgs_cache_new_keyed(uint64_t max_bytes, uint64_t max_live,
                               const unsigned char key[16]);

/* Free the cache and every entry it holds. Entries still referenced by
 * callers must have been released before; call when all requests are
 * done. */
void bgs_cache_free(bgs_cache *c);

/* Find or create the entry of key[0..len). Always returns with a new
 * reference in *out, which the caller drops with bgs_entry_release:
 * - HIT: the entry is READY (counted as a hit, marked recently used);
 * - WAIT: someone else computes it; wait with bgs_cache_subscribe
 *   (counted as a hit: it is computed once);
 * - MISS: a new COMPUTING entry; the caller must end it with exactly one
 *   bgs_cache_complete or bgs_cache_fail (counted as a miss).
 * Returns -1 (and *out NULL) only when out of memory. */
int bgs_cache_acquire(bgs_cache *c, const unsigned char *key, size_t len,
                      bgs_entry **out, bgs_lookup *how);

/* Mark the owner's entry READY with *grid, whose memory the entry takes
 * over (*grid is zeroed). Accounts its bytes, evicts down to the bound and
 * wakes every waiter. */
void bgs_cache_complete(bgs_entry *e, bg_grid *grid);

/* Mark the owner's entry FAILED with a copy of *p, remove it from the
 * cache (the next request computes afresh) and wake every waiter, which
 * then reads the problem with bgs_entry_problem. */
void bgs_cache_fail(bgs_entry *e, const bgapi_problem *p);

/* Register w to be woken when e stops COMPUTING. Returns 0 if registered,
 * or 1 if e is already READY or FAILED (w will not be called). */
int bgs_cache_subscribe(bgs_entry *e, bgs_waiter *w);

/* The state of e (an acquire load: after READY the grid is visible). */
bgs_entry_state bgs_entry_state_of(const bgs_entry *e);

/* The grid of a READY entry: borrowed, valid while the caller holds its
 * reference. Its block has BGS_GRID_LEAD bytes before x when the owner
 * allocated it so (bg_grid_alloc_lead). */
const bg_grid *bgs_entry_grid(const bgs_entry *e);

/* The entry's table hash (keyed, masked): for tests and diagnostics. */
uint64_t bgs_entry_hash(const bgs_entry *e);

/* The problem of a FAILED entry: borrowed, valid while referenced. */
const bgapi_problem *bgs_entry_problem(const bgs_entry *e);

/* Take another reference on e (for a response that outlives the caller's
 * own). */
void bgs_entry_retain(bgs_entry *e);

/* Drop a reference. The entry is freed when no reference is left and the
 * cache no longer holds it (after eviction or failure). */
void bgs_entry_release(bgs_entry *e);

/* ---- encoded bodies, one slot per representation ---- */

typedef enum {
    BGS_SLOT_READY,  /* the body is there: bgs_entry_repr */
    BGS_SLOT_BUILD,  /* the caller builds it: bgs_entry_repr_put, or
                        bgs_entry_slot_abandon */
    BGS_SLOT_WAIT,   /* another caller builds it: w was subscribed */
    BGS_SLOT_NOCACHE /* building it failed once: do not cache, stream */
} bgs_slot_claim;

/* Claim slot `slot` (< BGAPI_REPR_SLOTS) of a READY entry: see the enum.
 * On WAIT, w is woken once the builder puts or abandons the body. */
bgs_slot_claim bgs_entry_slot_claim(bgs_entry *e, int slot, bgs_waiter *w);

/* Register w to be woken when slot's build ends. Returns 0 if registered,
 * 1 if it has ended already (w will not be called). */
int bgs_entry_slot_subscribe(bgs_entry *e, int slot, bgs_waiter *w);

/* The builder gives up (out of memory): the slot becomes NOCACHE and its
 * waiters are woken. */
void bgs_entry_slot_abandon(bgs_entry *e, int slot);

/* The cached encoding of slot of a READY entry: returns 0 and sets *buf,
 * *len (borrowed, valid while the caller holds its reference), or -1 if
 * not cached. Lock-free: a stored body never changes. */
int bgs_entry_repr(bgs_entry *e, int slot, const char **buf, size_t *len);

/* Store the builder's encoding for `slot`, taking ownership of the
 * malloc'd buf; *out, *out_len is then the cached body (valid while the
 * caller holds its reference). If a body is there already, buf is freed
 * and that one returned. Counts the bytes, evicts down to the bound and
 * wakes the slot's waiters. */
void bgs_entry_repr_put(bgs_entry *e, int slot, char *buf, size_t len,
                        const char **out, size_t *out_len);

/* An object kept beside slot's body for reuse (say a ready HTTP
 * response): the one stored, or NULL. Borrowed, valid while the caller
 * holds its reference. Lock-free. */
void *bgs_entry_repr_extra(bgs_entry *e, int slot);

/* Keep obj beside slot's body unless another object is there already, and
 * return the one kept (if it is not obj, destroy(obj) has been called).
 * The entry calls destroy on the kept object when it is freed. */
void *bgs_entry_repr_set_extra(bgs_entry *e, int slot, void *obj,
                               void (*destroy)(void *));

/* ---- accounting ---- */

/* The cache's counters and gauges. */
void bgs_cache_stats_get(bgs_cache *c, bgs_cache_stats *out);

/* The longest bucket chain in the table right now (a flood of colliding
 * keys would show here). */
size_t bgs_cache_longest_chain(bgs_cache *c);

/* Memory alive: the bytes of every entry not yet freed (cached, or
 * evicted but still referenced by a response being sent) plus the
 * reservations below. */
uint64_t bgs_cache_live_bytes(bgs_cache *c);

/* Reserve `bytes` for a grid or body about to be computed: succeeds
 * (returns 0) only if the live bytes stay within max_live, evicting unused
 * entries to make room; returns -1 when even an empty cache leaves no room
 * (what is left is being computed or sent). The owner drops the
 * reservation with bgs_cache_unreserve once the memory counts through its
 * entry (or the computation failed). */
int bgs_cache_reserve(bgs_cache *c, uint64_t bytes);
void bgs_cache_unreserve(bgs_cache *c, uint64_t bytes);

/* The bytes a grid of `count` float64 sources takes (its block: the lead
 * and five columns), with source positions or without. */
uint64_t bgs_grid_bytes(uint64_t count, bool positions);

#endif

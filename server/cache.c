/* cache.c - the grid cache: sharded hash table, byte-bounded clock
 * eviction, single-flight grids and bodies.
 *
 * The table is split into SHARDS shards by the top bits of the keyed hash,
 * each with its own mutex and chained buckets (grown by doubling); an
 * entry's waiters and body slots are guarded by its shard's mutex too. The
 * READY entries form one ring for eviction under `lru_lock`, which a hit
 * never takes: a hit only sets the entry's `referenced` bit, and eviction
 * runs the clock (second chance) from the oldest end: a referenced entry
 * loses its bit and goes back to the newest end, an unreferenced one is
 * evicted. lru_lock is never held while a shard lock is taken, so an
 * evicted entry leaves the ring first and its bucket afterwards.
 *
 * Entries carry an atomic reference count; the table holds one reference
 * while an entry is in it, so an evicted entry lives on until its last
 * response releases it. A COMPUTING entry is in the table (that is what
 * makes later misses wait) but not in the ring (it cannot be evicted).
 * Waiters are woken outside every lock. BG_CACHE_HASH_BITS (default 64)
 * masks the hash; a small value forces collisions for tests. */
#include "server/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api/siphash.h"

#ifndef BG_CACHE_HASH_BITS
#define BG_CACHE_HASH_BITS 64
#endif

#define SHARD_BITS      4
#define SHARDS          (1u << SHARD_BITS)
#define INITIAL_BUCKETS 16
#define GRID_WAITERS    BGAPI_REPR_SLOTS /* waiters[] index of the grid */

enum { SLOT_EMPTY, SLOT_BUILDING, SLOT_READY, SLOT_NOCACHE };

/* An encoded body (malloc'd), written once under the shard lock, then
 * published by `state` (release), so readers need no lock. */
typedef struct {
    char *buf;
    size_t len;
    atomic_int state;
    _Atomic(void *) extra; /* set once, then read without the lock */
    void (*extra_free)(void *);
} repr_slot;

typedef struct shard {
    pthread_mutex_t lock;
    struct bgs_entry **buckets;
    size_t n_buckets; /* a power of two */
    size_t n;         /* entries in the shard, any state */
} shard;

struct bgs_entry {
    bgs_cache *cache;
    shard *shard;
    atomic_int refs;
    atomic_int state;              /* bgs_entry_state */
    atomic_bool referenced;        /* the clock's bit, set by hits */
    bool in_table;                 /* guarded by the shard lock */
    bool in_ring;                  /* guarded by lru_lock */
    uint64_t hash;                 /* masked */
    uint64_t bytes;                /* guarded by lru_lock once published */
    struct bgs_entry *hnext;       /* bucket chain (shard lock) */
    struct bgs_entry *prev, *next; /* the ring (lru_lock) */
    struct bgs_entry *dnext;       /* evicted, awaiting bucket removal */
    bgs_waiter *waiters[BGAPI_REPR_SLOTS + 1]; /* shard lock */
    bg_grid grid;
    bgapi_problem problem;
    repr_slot reprs[BGAPI_REPR_SLOTS];
    size_t key_len;
    unsigned char key[]; /* key_len bytes */
};

struct bgs_cache {
    shard shards[SHARDS];
    unsigned char hash_key[16];
    uint64_t max_bytes;
    uint64_t max_live;
    pthread_mutex_t lru_lock; /* the ring, bytes, n_ready */
    bgs_entry *ring_new, *ring_old;
    size_t n_ready;
    uint64_t bytes;
    atomic_uint_fast64_t hits, misses, evictions;
    atomic_uint_fast64_t live; /* every entry's bytes + reservations */
};

static uint64_t mask_hash(uint64_t h)
{
#if BG_CACHE_HASH_BITS >= 64
    return h;
#else
    return h & ((UINT64_C(1) << BG_CACHE_HASH_BITS) - 1);
#endif
}

static shard *shard_of(bgs_cache *c, uint64_t hash)
{
    return &c->shards[hash >> (64 - SHARD_BITS)];
}

bgs_cache *bgs_cache_new_keyed(uint64_t max_bytes, uint64_t max_live,
                               const unsigned char key[16])
{
    bgs_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    for (unsigned i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        s->buckets = calloc(INITIAL_BUCKETS, sizeof *s->buckets);
        s->n_buckets = INITIAL_BUCKETS;
        pthread_mutex_init(&s->lock, NULL);
        if (s->buckets == NULL) {
            bgs_cache_free(c);
            return NULL;
        }
    }
    memcpy(c->hash_key, key, sizeof c->hash_key);
    c->max_bytes = max_bytes;
    c->max_live = max_live;
    pthread_mutex_init(&c->lru_lock, NULL);
    return c;
}

/* 16 random bytes from the kernel; if it has none to give (an early-boot
 * container), the clock and addresses, which still differ per process. */
static void random_key(unsigned char key[16])
{
    if (getrandom(key, 16, 0) == 16)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
    uint64_t b = (uint64_t)(uintptr_t)&ts ^ (uint64_t)(uintptr_t)key;
    memcpy(key, &a, 8);
    memcpy(key + 8, &b, 8);
}

bgs_cache *bgs_cache_new(uint64_t max_bytes, uint64_t max_live)
{
    unsigned char key[16];
    random_key(key);
    return bgs_cache_new_keyed(max_bytes, max_live, key);
}

static void entry_free(bgs_entry *e)
{
    atomic_fetch_sub(&e->cache->live, e->bytes);
    bg_grid_free(&e->grid);
    for (int i = 0; i < BGAPI_REPR_SLOTS; i++) {
        repr_slot *s = &e->reprs[i];
        void *extra = atomic_load(&s->extra);
        if (extra != NULL)
            s->extra_free(extra);
        free(s->buf);
    }
    free(e);
}

void bgs_cache_free(bgs_cache *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        for (size_t b = 0; s->buckets != NULL && b < s->n_buckets; b++) {
            bgs_entry *e = s->buckets[b];
            while (e != NULL) {
                bgs_entry *next = e->hnext;
                entry_free(e);
                e = next;
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    pthread_mutex_destroy(&c->lru_lock);
    free(c);
}

/* ---- the ring; all with lru_lock held ---- */

static void ring_unlink(bgs_cache *c, bgs_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->ring_new = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->ring_old = e->prev;
    e->prev = e->next = NULL;
}

static void ring_push_new(bgs_cache *c, bgs_entry *e)
{
    e->prev = NULL;
    e->next = c->ring_new;
    if (c->ring_new)
        c->ring_new->prev = e;
    c->ring_new = e;
    if (c->ring_old == NULL)
        c->ring_old = e;
}

/* The clock's next victim, taken out of the ring and the byte count (its
 * bucket is left to evict_finish), or NULL when the ring is empty. Every
 * referenced entry passed over loses its bit and becomes newest. */
static bgs_entry *ring_evict_one(bgs_cache *c)
{
    for (size_t passed = 0; c->ring_old != NULL; passed++) {
        bgs_entry *e = c->ring_old;
        if (passed < c->n_ready &&
            atomic_load_explicit(&e->referenced, memory_order_relaxed)) {
            atomic_store_explicit(&e->referenced, false, memory_order_relaxed);
            ring_unlink(c, e);
            ring_push_new(c, e);
            continue;
        }
        ring_unlink(c, e);
        e->in_ring = false;
        c->n_ready--;
        c->bytes -= e->bytes;
        atomic_fetch_add(&c->evictions, 1);
        return e;
    }
    return NULL;
}

/* Evict until the bytes fit, both the cache's own and the memory alive
 * (as far as evicting can help: referenced entries live on). The victims
 * are chained on *dead for evict_finish. */
static void ring_evict_to_bound(bgs_cache *c, bgs_entry **dead)
{
    uint64_t unpinned = 0; /* bytes the chain will free, at most */
    while (c->bytes > c->max_bytes ||
           atomic_load(&c->live) - unpinned > c->max_live) {
        bgs_entry *e = ring_evict_one(c);
        if (e == NULL)
            break;
        unpinned += e->bytes;
        e->dnext = *dead;
        *dead = e;
    }
}

/* ---- buckets; with the shard's lock held ---- */

static bgs_entry **bucket_of(shard *s, uint64_t hash)
{
    return &s->buckets[hash & (s->n_buckets - 1)];
}

static bgs_entry *shard_find(shard *s, const unsigned char *key, size_t len,
                             uint64_t hash)
{
    for (bgs_entry *e = *bucket_of(s, hash); e != NULL; e = e->hnext) {
        if (e->hash == hash && e->key_len == len &&
            memcmp(e->key, key, len) == 0)
            return e;
    }
    return NULL;
}

/* Double the buckets; on allocation failure keep the longer chains. */
static void shard_grow(shard *s)
{
    size_t n = s->n_buckets * 2;
    bgs_entry **nb = calloc(n, sizeof *nb);
    if (nb == NULL)
        return;
    for (size_t b = 0; b < s->n_buckets; b++) {
        bgs_entry *e = s->buckets[b];
        while (e != NULL) {
            bgs_entry *next = e->hnext;
            bgs_entry **slot = &nb[e->hash & (n - 1)];
            e->hnext = *slot;
            *slot = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = nb;
    s->n_buckets = n;
}

static void shard_insert(shard *s, bgs_entry *e)
{
    if (s->n >= s->n_buckets)
        shard_grow(s);
    bgs_entry **slot = bucket_of(s, e->hash);
    e->hnext = *slot;
    *slot = e;
    e->in_table = true;
    s->n++;
}

static void shard_remove(shard *s, bgs_entry *e)
{
    bgs_entry **p = bucket_of(s, e->hash);
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    e->hnext = NULL;
    e->in_table = false;
    s->n--;
}

/* Take evicted entries out of their buckets and drop the table's
 * references (no lock held on entry). */
static void evict_finish(bgs_entry *dead)
{
    while (dead != NULL) {
        bgs_entry *next = dead->dnext;
        shard *s = dead->shard;
        pthread_mutex_lock(&s->lock);
        bool held = dead->in_table;
        if (held)
            shard_remove(s, dead);
        pthread_mutex_unlock(&s->lock);
        if (held)
            bgs_entry_release(dead);
        dead = next;
    }
}

/* ---- lookups ---- */

static bgs_entry *entry_new(bgs_cache *c, shard *s, const unsigned char *key,
                            size_t len, uint64_t hash)
{
    bgs_entry *e = calloc(1, sizeof *e + len);
    if (e == NULL)
        return NULL;
    e->cache = c;
    e->shard = s;
    atomic_init(&e->refs, 2); /* the table's and the owner's */
    atomic_init(&e->state, BGS_ENTRY_COMPUTING);
    e->hash = hash;
    e->key_len = len;
    memcpy(e->key, key, len);
    e->bytes = sizeof *e + len;
    atomic_fetch_add(&c->live, e->bytes);
    return e;
}

static uint64_t table_hash(const bgs_cache *c, const unsigned char *key,
                           size_t len)
{
    return mask_hash(bgapi_siphash24(c->hash_key, key, len));
}

int bgs_cache_acquire(bgs_cache *c, const unsigned char *key, size_t len,
                      bgs_entry **out, bgs_lookup *how)
{
    uint64_t hash = table_hash(c, key, len);
    shard *s = shard_of(c, hash);
    pthread_mutex_lock(&s->lock);
    bgs_entry *e = shard_find(s, key, len, hash);
    if (e != NULL) {
        atomic_fetch_add(&e->refs, 1);
        if (atomic_load(&e->state) == BGS_ENTRY_READY) {
            if (!atomic_load_explicit(&e->referenced, memory_order_relaxed))
                atomic_store_explicit(&e->referenced, true,
                                      memory_order_relaxed);
            *how = BGS_LOOKUP_HIT;
        } else {
            *how = BGS_LOOKUP_WAIT;
        }
    } else if ((e = entry_new(c, s, key, len, hash)) != NULL) {
        shard_insert(s, e);
        *how = BGS_LOOKUP_MISS;
    }
    pthread_mutex_unlock(&s->lock);
    if (e != NULL)
        atomic_fetch_add(*how == BGS_LOOKUP_MISS ? &c->misses : &c->hits, 1);
    *out = e;
    return e != NULL ? 0 : -1;
}

static uint64_t grid_bytes(const bg_grid *g)
{
    uint64_t per = 5u * (g->dtype == BG_F32 ? 4u : 8u);
    if (g->px != NULL)
        per += 3u * 8u;
    return g->count * per + g->lead;
}

static void wake_all(bgs_waiter *w)
{
    while (w != NULL) {
        bgs_waiter *next = w->next; /* w may be freed by its wake */
        w->wake(w);
        w = next;
    }
}

/* Add `more` bytes to e's account (and the cache's, while e is in the
 * ring), evicting down to the bound; the victims go on *dead. */
static void account(bgs_entry *e, uint64_t more, bool publish, bgs_entry **dead)
{
    bgs_cache *c = e->cache;
    atomic_fetch_add(&c->live, more);
    pthread_mutex_lock(&c->lru_lock);
    e->bytes += more;
    if (publish) {
        e->in_ring = true;
        c->n_ready++;
        c->bytes += e->bytes;
        ring_push_new(c, e);
    } else if (e->in_ring) {
        c->bytes += more;
    }
    ring_evict_to_bound(c, dead);
    pthread_mutex_unlock(&c->lru_lock);
}

void bgs_cache_complete(bgs_entry *e, bg_grid *grid)
{
    shard *s = e->shard;
    bgs_entry *dead = NULL;
    e->grid = *grid;
    memset(grid, 0, sizeof *grid);
    pthread_mutex_lock(&s->lock);
    atomic_store(&e->state, BGS_ENTRY_READY);
    bgs_waiter *w = e->waiters[GRID_WAITERS];
    e->waiters[GRID_WAITERS] = NULL;
    bool cached = e->in_table;
    pthread_mutex_unlock(&s->lock);
    account(e, grid_bytes(&e->grid), cached, &dead);
    evict_finish(dead);
    wake_all(w);
}

void bgs_cache_fail(bgs_entry *e, const bgapi_problem *p)
{
    shard *s = e->shard;
    e->problem = *p;
    pthread_mutex_lock(&s->lock);
    atomic_store(&e->state, BGS_ENTRY_FAILED);
    bgs_waiter *w = e->waiters[GRID_WAITERS];
    e->waiters[GRID_WAITERS] = NULL;
    bool held = e->in_table;
    if (held)
        shard_remove(s, e);
    pthread_mutex_unlock(&s->lock);
    if (held)
        bgs_entry_release(e); /* the table's reference */
    wake_all(w);
}

int bgs_cache_subscribe(bgs_entry *e, bgs_waiter *w)
{
    shard *s = e->shard;
    pthread_mutex_lock(&s->lock);
    int done = atomic_load(&e->state) != BGS_ENTRY_COMPUTING;
    if (!done) {
        w->next = e->waiters[GRID_WAITERS];
        e->waiters[GRID_WAITERS] = w;
    }
    pthread_mutex_unlock(&s->lock);
    return done;
}

bgs_entry_state bgs_entry_state_of(const bgs_entry *e)
{
    return (bgs_entry_state)atomic_load(&((bgs_entry *)e)->state);
}

const bg_grid *bgs_entry_grid(const bgs_entry *e)
{
    return &e->grid;
}

uint64_t bgs_entry_hash(const bgs_entry *e)
{
    return e->hash;
}

const bgapi_problem *bgs_entry_problem(const bgs_entry *e)
{
    return &e->problem;
}

void bgs_entry_retain(bgs_entry *e)
{
    atomic_fetch_add(&e->refs, 1);
}

void bgs_entry_release(bgs_entry *e)
{
    if (e != NULL && atomic_fetch_sub(&e->refs, 1) == 1)
        entry_free(e);
}

/* ---- body slots ---- */

static bool slot_ok(int slot)
{
    return slot >= 0 && slot < BGAPI_REPR_SLOTS;
}

bgs_slot_claim bgs_entry_slot_claim(bgs_entry *e, int slot, bgs_waiter *w)
{
    if (!slot_ok(slot))
        return BGS_SLOT_NOCACHE;
    repr_slot *r = &e->reprs[slot];
    int st = atomic_load_explicit(&r->state, memory_order_acquire);
    if (st == SLOT_READY)
        return BGS_SLOT_READY;
    if (st == SLOT_NOCACHE)
        return BGS_SLOT_NOCACHE;
    bgs_slot_claim how;
    pthread_mutex_lock(&e->shard->lock);
    switch (atomic_load_explicit(&r->state, memory_order_relaxed)) {
    case SLOT_EMPTY:
        atomic_store_explicit(&r->state, SLOT_BUILDING, memory_order_relaxed);
        how = BGS_SLOT_BUILD;
        break;
    case SLOT_BUILDING:
        w->next = e->waiters[slot];
        e->waiters[slot] = w;
        how = BGS_SLOT_WAIT;
        break;
    case SLOT_READY:
        how = BGS_SLOT_READY;
        break;
    default:
        how = BGS_SLOT_NOCACHE;
        break;
    }
    pthread_mutex_unlock(&e->shard->lock);
    return how;
}

int bgs_entry_slot_subscribe(bgs_entry *e, int slot, bgs_waiter *w)
{
    if (!slot_ok(slot))
        return 1;
    int done;
    pthread_mutex_lock(&e->shard->lock);
    done = atomic_load(&e->reprs[slot].state) != SLOT_BUILDING;
    if (!done) {
        w->next = e->waiters[slot];
        e->waiters[slot] = w;
    }
    pthread_mutex_unlock(&e->shard->lock);
    return done;
}

/* End slot's build in state `to`; returns its waiters (lock released). */
static bgs_waiter *slot_end(bgs_entry *e, int slot, int to, char *buf,
                            size_t len, bool *stored)
{
    repr_slot *r = &e->reprs[slot];
    pthread_mutex_lock(&e->shard->lock);
    *stored = atomic_load(&r->state) != SLOT_READY && to == SLOT_READY;
    if (*stored) {
        r->buf = buf;
        r->len = len;
    }
    if (atomic_load(&r->state) != SLOT_READY)
        atomic_store_explicit(&r->state, to, memory_order_release);
    bgs_waiter *w = e->waiters[slot];
    e->waiters[slot] = NULL;
    pthread_mutex_unlock(&e->shard->lock);
    return w;
}

void bgs_entry_slot_abandon(bgs_entry *e, int slot)
{
    bool stored;
    if (slot_ok(slot))
        wake_all(slot_end(e, slot, SLOT_NOCACHE, NULL, 0, &stored));
}

int bgs_entry_repr(bgs_entry *e, int slot, const char **buf, size_t *len)
{
    if (!slot_ok(slot))
        return -1;
    repr_slot *r = &e->reprs[slot];
    if (atomic_load_explicit(&r->state, memory_order_acquire) != SLOT_READY)
        return -1;
    *buf = r->buf;
    *len = r->len;
    return 0;
}

void bgs_entry_repr_put(bgs_entry *e, int slot, char *buf, size_t len,
                        const char **out, size_t *out_len)
{
    bgs_entry *dead = NULL;
    bool stored;
    if (!slot_ok(slot)) {
        free(buf);
        *out = NULL;
        *out_len = 0;
        return;
    }
    bgs_waiter *w = slot_end(e, slot, SLOT_READY, buf, len, &stored);
    if (stored)
        account(e, len, false, &dead);
    else
        free(buf);
    *out = e->reprs[slot].buf;
    *out_len = e->reprs[slot].len;
    evict_finish(dead);
    wake_all(w);
}

void *bgs_entry_repr_extra(bgs_entry *e, int slot)
{
    if (!slot_ok(slot))
        return NULL;
    return atomic_load_explicit(&e->reprs[slot].extra, memory_order_acquire);
}

void *bgs_entry_repr_set_extra(bgs_entry *e, int slot, void *obj,
                               void (*destroy)(void *))
{
    if (!slot_ok(slot)) {
        destroy(obj);
        return NULL;
    }
    repr_slot *r = &e->reprs[slot];
    pthread_mutex_lock(&e->shard->lock);
    void *kept = atomic_load_explicit(&r->extra, memory_order_relaxed);
    if (kept == NULL) {
        r->extra_free = destroy;
        atomic_store_explicit(&r->extra, obj, memory_order_release);
        kept = obj;
    }
    pthread_mutex_unlock(&e->shard->lock);
    if (kept != obj)
        destroy(obj);
    return kept;
}

/* ---- accounting ---- */

void bgs_cache_stats_get(bgs_cache *c, bgs_cache_stats *out)
{
    pthread_mutex_lock(&c->lru_lock);
    out->bytes = c->bytes;
    out->entries = c->n_ready;
    pthread_mutex_unlock(&c->lru_lock);
    out->hits = atomic_load(&c->hits);
    out->misses = atomic_load(&c->misses);
    out->evictions = atomic_load(&c->evictions);
    out->live_bytes = atomic_load(&c->live);
}

size_t bgs_cache_longest_chain(bgs_cache *c)
{
    size_t longest = 0;
    for (unsigned i = 0; i < SHARDS; i++) {
        shard *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        for (size_t b = 0; b < s->n_buckets; b++) {
            size_t n = 0;
            for (bgs_entry *e = s->buckets[b]; e != NULL; e = e->hnext)
                n++;
            if (n > longest)
                longest = n;
        }
        pthread_mutex_unlock(&s->lock);
    }
    return longest;
}

uint64_t bgs_cache_live_bytes(bgs_cache *c)
{
    return atomic_load(&c->live);
}

static int try_reserve(bgs_cache *c, uint64_t bytes)
{
    uint64_t limit = c->max_live;
    uint_fast64_t cur = atomic_load(&c->live);
    do {
        if (bytes > limit || cur > limit - bytes)
            return -1;
    } while (!atomic_compare_exchange_weak(&c->live, &cur, cur + bytes));
    return 0;
}

/* Evict the clock's next victim, if any. Returns 0 or -1. */
static int evict_one(bgs_cache *c)
{
    pthread_mutex_lock(&c->lru_lock);
    bgs_entry *e = ring_evict_one(c);
    pthread_mutex_unlock(&c->lru_lock);
    if (e == NULL)
        return -1;
    e->dnext = NULL;
    evict_finish(e); /* frees it unless a response still holds it */
    return 0;
}

int bgs_cache_reserve(bgs_cache *c, uint64_t bytes)
{
    while (try_reserve(c, bytes) != 0) {
        if (evict_one(c) != 0)
            return -1;
    }
    return 0;
}

void bgs_cache_unreserve(bgs_cache *c, uint64_t bytes)
{
    atomic_fetch_sub(&c->live, bytes);
}

uint64_t bgs_grid_bytes(uint64_t count, bool positions)
{
    return count * (5u + (positions ? 3u : 0u)) * sizeof(double) +
           BGS_GRID_LEAD;
}

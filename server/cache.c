/* cache.c - the grid cache: hash table, byte-bounded LRU, single-flight.
 *
 * One mutex guards the table (chained buckets, grown by doubling), the LRU
 * list of READY entries and the byte count. Entries carry an atomic
 * reference count; the table holds one reference while an entry is in it,
 * so an evicted entry lives on until its last response releases it. A
 * COMPUTING entry is in the table (that is what makes later misses wait)
 * but not in the LRU (it cannot be evicted). Waiters are woken outside the
 * lock, after the state change is published. BG_CACHE_HASH_BITS (default
 * 64) masks the caller's hash; a small value forces collisions for tests. */
#include "server/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/negotiate.h"

#ifndef BG_CACHE_HASH_BITS
#define BG_CACHE_HASH_BITS 64
#endif

#define KEY_MAX         255
#define INITIAL_BUCKETS 64

/* An encoded body (malloc'd), written once under the lock, then published
 * by `ready` (release), so readers need no lock. */
typedef struct {
    char *buf;
    size_t len;
    atomic_bool ready;
    _Atomic(void *) extra; /* set once, then read without the lock */
    void (*extra_free)(void *);
} repr_slot;

struct bgs_entry {
    bgs_cache *cache;
    atomic_int refs;
    atomic_int state;       /* bgs_entry_state */
    bool in_table;          /* guarded by cache->lock */
    uint64_t hash;          /* masked */
    uint64_t bytes;         /* accounted while in the table */
    bgs_entry *hnext;       /* bucket chain */
    bgs_entry *prev, *next; /* LRU, most recent at head */
    bgs_waiter *waiters;
    bg_grid grid;
    bgapi_problem problem;
    repr_slot reprs[BGAPI_REPR_SLOTS];
    size_t key_len;
    unsigned char key[KEY_MAX];
};

struct bgs_cache {
    pthread_mutex_t lock;
    pthread_cond_t done; /* broadcast when any entry completes */
    uint64_t max_bytes;
    uint64_t max_live;
    bgs_entry **buckets;
    size_t n_buckets; /* a power of two */
    size_t n_table;   /* entries in the table, any state */
    size_t n_ready;   /* READY entries in the table */
    uint64_t bytes;
    uint64_t hits, misses, evictions;
    bgs_entry *lru_head, *lru_tail;
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

bgs_cache *bgs_cache_new(uint64_t max_bytes, uint64_t max_live)
{
    bgs_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->buckets = calloc(INITIAL_BUCKETS, sizeof *c->buckets);
    if (c->buckets == NULL) {
        free(c);
        return NULL;
    }
    c->n_buckets = INITIAL_BUCKETS;
    c->max_bytes = max_bytes;
    c->max_live = max_live;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->done, NULL);
    return c;
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
    for (size_t b = 0; b < c->n_buckets; b++) {
        bgs_entry *e = c->buckets[b];
        while (e != NULL) {
            bgs_entry *next = e->hnext;
            entry_free(e);
            e = next;
        }
    }
    free(c->buckets);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- LRU list and table; all with c->lock held ---- */

static void lru_unlink(bgs_cache *c, bgs_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_head(bgs_cache *c, bgs_entry *e)
{
    e->prev = NULL;
    e->next = c->lru_head;
    if (c->lru_head)
        c->lru_head->prev = e;
    c->lru_head = e;
    if (c->lru_tail == NULL)
        c->lru_tail = e;
}

static bgs_entry **bucket_of(bgs_cache *c, uint64_t hash)
{
    return &c->buckets[hash & (c->n_buckets - 1)];
}

static bgs_entry *table_find(bgs_cache *c, const unsigned char *key, size_t len,
                             uint64_t hash)
{
    for (bgs_entry *e = *bucket_of(c, hash); e != NULL; e = e->hnext) {
        if (e->hash == hash && e->key_len == len &&
            memcmp(e->key, key, len) == 0)
            return e;
    }
    return NULL;
}

/* Double the buckets; on allocation failure keep the longer chains. */
static void table_grow(bgs_cache *c)
{
    size_t n = c->n_buckets * 2;
    bgs_entry **nb = calloc(n, sizeof *nb);
    if (nb == NULL)
        return;
    for (size_t b = 0; b < c->n_buckets; b++) {
        bgs_entry *e = c->buckets[b];
        while (e != NULL) {
            bgs_entry *next = e->hnext;
            bgs_entry **slot = &nb[e->hash & (n - 1)];
            e->hnext = *slot;
            *slot = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = nb;
    c->n_buckets = n;
}

static void table_insert(bgs_cache *c, bgs_entry *e)
{
    if (c->n_table >= c->n_buckets)
        table_grow(c);
    bgs_entry **slot = bucket_of(c, e->hash);
    e->hnext = *slot;
    *slot = e;
    e->in_table = true;
    c->n_table++;
}

/* Take e out of the table (and the LRU and the byte count). Returns the
 * table's reference to the caller, who must drop it after unlocking. */
static void table_remove(bgs_cache *c, bgs_entry *e)
{
    bgs_entry **p = bucket_of(c, e->hash);
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    e->hnext = NULL;
    e->in_table = false;
    c->n_table--;
    if (atomic_load(&e->state) == BGS_ENTRY_READY) {
        lru_unlink(c, e);
        c->n_ready--;
        c->bytes -= e->bytes;
    }
}

/* Evict least recently used entries until the bytes fit, both the cache's
 * own and the memory alive (as far as evicting can help: referenced
 * entries live on). The evicted entries' table references are chained on
 * *dead for release after unlocking. */
static void evict_to_bound(bgs_cache *c, bgs_entry **dead)
{
    uint64_t unpinned = 0; /* bytes the chain will free, at most */
    while ((c->bytes > c->max_bytes ||
            atomic_load(&c->live) - unpinned > c->max_live) &&
           c->lru_tail != NULL) {
        bgs_entry *e = c->lru_tail;
        table_remove(c, e);
        c->evictions++;
        unpinned += e->bytes;
        e->hnext = *dead;
        *dead = e;
    }
}

static void release_chain(bgs_entry *dead)
{
    while (dead != NULL) {
        bgs_entry *next = dead->hnext;
        bgs_entry_release(dead);
        dead = next;
    }
}

/* ---- lookups ---- */

static bgs_entry *entry_new(bgs_cache *c, const unsigned char *key, size_t len,
                            uint64_t hash)
{
    bgs_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    e->cache = c;
    atomic_init(&e->refs, 2); /* the table's and the owner's */
    atomic_init(&e->state, BGS_ENTRY_COMPUTING);
    e->hash = hash;
    e->key_len = len;
    memcpy(e->key, key, len);
    e->bytes = sizeof *e;
    atomic_fetch_add(&c->live, e->bytes);
    return e;
}

int bgs_cache_acquire(bgs_cache *c, const unsigned char *key, size_t len,
                      uint64_t hash, bgs_entry **out, bgs_lookup *how)
{
    *out = NULL;
    if (len > KEY_MAX)
        return -1;
    hash = mask_hash(hash);
    pthread_mutex_lock(&c->lock);
    bgs_entry *e = table_find(c, key, len, hash);
    if (e != NULL) {
        atomic_fetch_add(&e->refs, 1);
        c->hits++;
        if (atomic_load(&e->state) == BGS_ENTRY_READY) {
            if (c->lru_head != e) {
                lru_unlink(c, e);
                lru_push_head(c, e);
            }
            *how = BGS_LOOKUP_HIT;
        } else {
            *how = BGS_LOOKUP_WAIT;
        }
    } else if ((e = entry_new(c, key, len, hash)) != NULL) {
        table_insert(c, e);
        c->misses++;
        *how = BGS_LOOKUP_MISS;
    }
    pthread_mutex_unlock(&c->lock);
    *out = e;
    return e != NULL ? 0 : -1;
}

static uint64_t grid_bytes(const bg_grid *g)
{
    uint64_t per = 5u * (g->dtype == BG_F32 ? 4u : 8u);
    if (g->px != NULL)
        per += 3u * 8u;
    return g->count * per;
}

/* Publish the end of a computation: set the state, detach the waiters and
 * wake them (with the lock released). */
static void finish(bgs_cache *c, bgs_entry *e, bgs_entry *dead)
{
    bgs_waiter *w = e->waiters;
    e->waiters = NULL;
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->lock);
    release_chain(dead);
    while (w != NULL) {
        bgs_waiter *next = w->next; /* w may be freed by its wake */
        w->wake(w);
        w = next;
    }
}

void bgs_cache_complete(bgs_entry *e, bg_grid *grid)
{
    bgs_cache *c = e->cache;
    bgs_entry *dead = NULL;
    pthread_mutex_lock(&c->lock);
    e->grid = *grid;
    memset(grid, 0, sizeof *grid);
    uint64_t gb = grid_bytes(&e->grid);
    e->bytes += gb;
    atomic_fetch_add(&c->live, gb);
    atomic_store(&e->state, BGS_ENTRY_READY);
    if (e->in_table) {
        c->bytes += e->bytes;
        c->n_ready++;
        lru_push_head(c, e);
        evict_to_bound(c, &dead);
    }
    finish(c, e, dead);
}

void bgs_cache_fail(bgs_entry *e, const bgapi_problem *p)
{
    bgs_cache *c = e->cache;
    bgs_entry *dead = NULL;
    pthread_mutex_lock(&c->lock);
    e->problem = *p;
    atomic_store(&e->state, BGS_ENTRY_FAILED);
    if (e->in_table) {
        table_remove(c, e);
        dead = e; /* the table's reference; hnext is NULL */
    }
    finish(c, e, dead);
}

int bgs_cache_subscribe(bgs_entry *e, bgs_waiter *w)
{
    bgs_cache *c = e->cache;
    int done;
    pthread_mutex_lock(&c->lock);
    done = atomic_load(&e->state) != BGS_ENTRY_COMPUTING;
    if (!done) {
        w->next = e->waiters;
        e->waiters = w;
    }
    pthread_mutex_unlock(&c->lock);
    return done;
}

void bgs_cache_wait(bgs_entry *e)
{
    bgs_cache *c = e->cache;
    pthread_mutex_lock(&c->lock);
    while (atomic_load(&e->state) == BGS_ENTRY_COMPUTING)
        pthread_cond_wait(&c->done, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

bgs_entry_state bgs_entry_state_of(const bgs_entry *e)
{
    return (bgs_entry_state)atomic_load(&((bgs_entry *)e)->state);
}

const bg_grid *bgs_entry_grid(const bgs_entry *e)
{
    return &e->grid;
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

int bgs_entry_repr(bgs_entry *e, int slot, const char **buf, size_t *len)
{
    if (slot < 0 || slot >= BGAPI_REPR_SLOTS)
        return -1;
    repr_slot *s = &e->reprs[slot];
    if (!atomic_load_explicit(&s->ready, memory_order_acquire))
        return -1;
    *buf = s->buf;
    *len = s->len;
    return 0;
}

void bgs_entry_repr_put(bgs_entry *e, int slot, char *buf, size_t len,
                        const char **out, size_t *out_len)
{
    bgs_cache *c = e->cache;
    bgs_entry *dead = NULL;
    if (slot < 0 || slot >= BGAPI_REPR_SLOTS) {
        free(buf);
        *out = NULL;
        *out_len = 0;
        return;
    }
    pthread_mutex_lock(&c->lock);
    repr_slot *s = &e->reprs[slot];
    if (atomic_load_explicit(&s->ready, memory_order_relaxed)) {
        free(buf);
    } else {
        s->buf = buf;
        s->len = len;
        atomic_store_explicit(&s->ready, true, memory_order_release);
        e->bytes += len;
        atomic_fetch_add(&c->live, len);
        if (e->in_table) {
            c->bytes += len;
            evict_to_bound(c, &dead);
        }
    }
    *out = s->buf;
    *out_len = s->len;
    pthread_mutex_unlock(&c->lock);
    release_chain(dead);
}

void *bgs_entry_repr_extra(bgs_entry *e, int slot)
{
    if (slot < 0 || slot >= BGAPI_REPR_SLOTS)
        return NULL;
    return atomic_load_explicit(&e->reprs[slot].extra, memory_order_acquire);
}

void *bgs_entry_repr_set_extra(bgs_entry *e, int slot, void *obj,
                               void (*destroy)(void *))
{
    if (slot < 0 || slot >= BGAPI_REPR_SLOTS) {
        destroy(obj);
        return NULL;
    }
    repr_slot *s = &e->reprs[slot];
    pthread_mutex_lock(&e->cache->lock);
    void *kept = atomic_load_explicit(&s->extra, memory_order_relaxed);
    if (kept == NULL) {
        s->extra_free = destroy;
        atomic_store_explicit(&s->extra, obj, memory_order_release);
        kept = obj;
    }
    pthread_mutex_unlock(&e->cache->lock);
    if (kept != obj)
        destroy(obj);
    return kept;
}

void bgs_cache_stats_get(bgs_cache *c, bgs_cache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    out->hits = c->hits;
    out->misses = c->misses;
    out->evictions = c->evictions;
    out->bytes = c->bytes;
    out->entries = c->n_ready;
    pthread_mutex_unlock(&c->lock);
    out->live_bytes = atomic_load(&c->live);
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

/* Evict the least recently used entry, if any. Returns 0 or -1. */
static int evict_one(bgs_cache *c)
{
    pthread_mutex_lock(&c->lock);
    bgs_entry *e = c->lru_tail;
    if (e != NULL) {
        table_remove(c, e);
        c->evictions++;
    }
    pthread_mutex_unlock(&c->lock);
    bgs_entry_release(e); /* frees it unless a response still holds it */
    return e != NULL ? 0 : -1;
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
    return count * (5u + (positions ? 3u : 0u)) * sizeof(double);
}

/* test_cache.c - the grid cache: hits and misses, LRU order, the byte
 * bound, references outliving eviction, hash collisions and single-flight.
 *
 * Grids here are bare bg_grid_alloc'd columns of 1000 float64 sources
 * without positions (40,000 bytes each), marked in x[0] so a test can tell
 * which grid it got back. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/ids.h"
#include "server/cache.h"

#define SOURCES    1000
#define GRID_BYTES (SOURCES * 5 * 8)

static bg_grid make_grid(double mark)
{
    bg_grid g;
    cr_assert_eq(bg_grid_alloc(&g, SOURCES, BG_F64, 0), BG_OK);
    ((double *)g.x)[0] = mark;
    return g;
}

static double mark_of(const bgs_entry *e)
{
    return ((const double *)bgs_entry_grid(e)->x)[0];
}

/* Acquire key; it must be a miss; complete it with a grid marked `mark`.
 * Returns the entry with the caller's reference still held. */
static bgs_entry *insert(bgs_cache *c, const char *key, double mark)
{
    bgs_entry *e;
    bgs_lookup how;
    cr_assert_eq(
        bgs_cache_acquire(c, (const unsigned char *)key, strlen(key), &e, &how),
        0);
    cr_assert_eq(how, BGS_LOOKUP_MISS, "%s should be a miss", key);
    bg_grid g = make_grid(mark);
    bgs_cache_complete(e, &g);
    cr_assert_null(g.x, "the entry took the arrays");
    return e;
}

static bgs_lookup lookup(bgs_cache *c, const char *key, bgs_entry **e)
{
    bgs_lookup how;
    cr_assert_eq(
        bgs_cache_acquire(c, (const unsigned char *)key, strlen(key), e, &how),
        0);
    return how;
}

Test(cache, miss_then_hit)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    bgs_entry *e = insert(c, "a", 1.0);
    bgs_entry_release(e);
    cr_assert_eq(lookup(c, "a", &e), BGS_LOOKUP_HIT);
    cr_assert_eq(bgs_entry_state_of(e), BGS_ENTRY_READY);
    cr_assert_eq(mark_of(e), 1.0);
    bgs_entry_release(e);
    bgs_cache_stats st;
    bgs_cache_stats_get(c, &st);
    cr_assert_eq(st.hits, 1);
    cr_assert_eq(st.misses, 1);
    cr_assert_eq(st.entries, 1);
    cr_assert_geq(st.bytes, GRID_BYTES);
    bgs_cache_free(c);
}

Test(cache, lru_eviction_order)
{
    /* Room for two grids, not three. */
    bgs_cache *c = bgs_cache_new(2 * GRID_BYTES + GRID_BYTES / 2, UINT64_MAX);
    bgs_entry *e;
    bgs_entry_release(insert(c, "a", 1));
    bgs_entry_release(insert(c, "b", 2));
    cr_assert_eq(lookup(c, "a", &e), BGS_LOOKUP_HIT); /* a is newer */
    bgs_entry_release(e);
    bgs_entry_release(insert(c, "c", 3)); /* evicts b */
    cr_assert_eq(lookup(c, "a", &e), BGS_LOOKUP_HIT);
    bgs_entry_release(e);
    cr_assert_eq(lookup(c, "c", &e), BGS_LOOKUP_HIT);
    bgs_entry_release(e);
    bgs_cache_stats st;
    bgs_cache_stats_get(c, &st);
    cr_assert_eq(st.evictions, 1);
    cr_assert_eq(st.entries, 2);
    cr_assert_eq(lookup(c, "b", &e), BGS_LOOKUP_MISS, "b was evicted");
    bgapi_problem p;
    bgapi_problem_set(&p, 503, "test", "Test", NULL, "abandon");
    bgs_cache_fail(e, &p);
    bgs_entry_release(e);
    bgs_cache_free(c);
}

Test(cache, byte_bound_holds)
{
    uint64_t max = 5 * GRID_BYTES + GRID_BYTES / 2;
    bgs_cache *c = bgs_cache_new(max, UINT64_MAX);
    for (int i = 0; i < 50; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        bgs_entry_release(insert(c, key, i));
        bgs_cache_stats st;
        bgs_cache_stats_get(c, &st);
        cr_assert_leq(st.bytes, max, "after %d inserts", i + 1);
        cr_assert_leq(st.entries, 5);
    }
    bgs_cache_stats st;
    bgs_cache_stats_get(c, &st);
    cr_assert_eq(st.entries, 5);
    cr_assert_eq(st.evictions, 45);
    bgs_cache_free(c);
}

Test(cache, encoded_bodies_count_against_the_bound)
{
    bgs_cache *c = bgs_cache_new(3 * GRID_BYTES, UINT64_MAX);
    bgs_entry *a = insert(c, "a", 1);
    bgs_entry_release(insert(c, "b", 2));
    const char *buf;
    size_t len;
    cr_assert_eq(bgs_entry_repr(a, 0, &buf, &len), -1);
    char *body = malloc(2 * GRID_BYTES);
    memset(body, 'x', 2 * GRID_BYTES);
    bgs_entry_repr_put(a, 0, body, 2 * GRID_BYTES, &buf, &len);
    cr_assert_eq(buf, body);
    /* a now weighs three grids and more, so the least recently used entry,
     * a itself, goes; it lives on through our reference. */
    bgs_cache_stats st;
    bgs_cache_stats_get(c, &st);
    cr_assert_leq(st.bytes, 3 * GRID_BYTES);
    cr_assert_eq(st.evictions, 1);
    cr_assert_eq(st.entries, 1);
    cr_assert_eq(bgs_entry_repr(a, 0, &buf, &len), 0);
    cr_assert_eq(len, 2 * GRID_BYTES);
    cr_assert_eq(buf[len - 1], 'x');
    bgs_entry_release(a);
    bgs_cache_free(c);
}

Test(cache, second_body_for_a_slot_is_dropped)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    bgs_entry *a = insert(c, "a", 1);
    const char *buf;
    size_t len;
    bgs_entry_repr_put(a, 2, strdup("first"), 5, &buf, &len);
    bgs_entry_repr_put(a, 2, strdup("second"), 6, &buf, &len);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(buf, "first", 5), 0);
    bgs_entry_release(a);
    bgs_cache_free(c);
}

Test(cache, reference_outlives_eviction)
{
    bgs_cache *c = bgs_cache_new(GRID_BYTES + GRID_BYTES / 2, UINT64_MAX);
    bgs_entry *a = insert(c, "a", 7);     /* still referenced */
    bgs_entry_release(insert(c, "b", 8)); /* evicts a */
    bgs_cache_stats st;
    bgs_cache_stats_get(c, &st);
    cr_assert_eq(st.evictions, 1);
    cr_assert_eq(st.entries, 1);
    /* a's bytes are still valid (ASan would see a use after free). */
    cr_assert_eq(mark_of(a), 7);
    const double *x = bgs_entry_grid(a)->x;
    double sum = 0;
    for (int i = 0; i < SOURCES; i++)
        sum += x[i];
    cr_assert_geq(sum, 0);
    bgs_entry_release(a);
    bgs_cache_free(c);
}

Test(cache, zero_bound_keeps_nothing)
{
    bgs_cache *c = bgs_cache_new(0, UINT64_MAX);
    bgs_entry *e = insert(c, "a", 1);
    cr_assert_eq(mark_of(e), 1, "usable while referenced");
    bgs_entry_release(e);
    cr_assert_eq(lookup(c, "a", &e), BGS_LOOKUP_MISS);
    bgapi_problem p;
    bgapi_problem_set(&p, 503, "test", "Test", NULL, "abandon");
    bgs_cache_fail(e, &p);
    bgs_entry_release(e);
    bgs_cache_free(c);
}

Test(cache, near_keys_never_mix)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    const char *keys[] = {"alpha", "beta", "gamma", "alphA", "alph"};
    for (int i = 0; i < 5; i++)
        bgs_entry_release(insert(c, keys[i], i));
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 5; i++) {
            bgs_entry *e;
            cr_assert_eq(lookup(c, keys[i], &e), BGS_LOOKUP_HIT);
            cr_assert_eq(mark_of(e), i, "%s got another key's grid", keys[i]);
            bgs_entry_release(e);
        }
    }
    bgs_cache_free(c);
}

Test(cache, many_entries_grow_the_table)
{
    bgs_cache *c = bgs_cache_new(UINT64_MAX, UINT64_MAX);
    for (int i = 0; i < 300; i++) {
        char key[16];
        snprintf(key, sizeof key, "key-%d", i);
        bgs_entry *e;
        cr_assert_eq(lookup(c, key, &e), BGS_LOOKUP_MISS);
        bg_grid g;
        cr_assert_eq(bg_grid_alloc(&g, 1, BG_F64, 0), BG_OK);
        ((double *)g.x)[0] = i;
        bgs_cache_complete(e, &g);
        bgs_entry_release(e);
    }
    for (int i = 0; i < 300; i++) {
        char key[16];
        snprintf(key, sizeof key, "key-%d", i);
        bgs_entry *e;
        cr_assert_eq(lookup(c, key, &e), BGS_LOOKUP_HIT);
        cr_assert_eq(mark_of(e), i);
        bgs_entry_release(e);
    }
    bgs_cache_free(c);
}

/* ---- single-flight ---- */

/* A waiter a thread blocks on. */
typedef struct {
    bgs_waiter w;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool woken;
} blocking_wait;

static void blocking_wake(bgs_waiter *w)
{
    blocking_wait *b = (blocking_wait *)(void *)w;
    pthread_mutex_lock(&b->lock);
    b->woken = true;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

/* A count of threads that reached a point, and a condition to wait for
 * it on. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n;
} counter;

static void counter_add(counter *k)
{
    pthread_mutex_lock(&k->lock);
    k->n++;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->lock);
}

/* Wait until k reaches want, 10 s at most. */
static void counter_await(counter *k, int want)
{
    struct timespec end;
    clock_gettime(CLOCK_REALTIME, &end);
    end.tv_sec += 10;
    pthread_mutex_lock(&k->lock);
    while (k->n < want && pthread_cond_timedwait(&k->cond, &k->lock, &end) == 0)
        ;
    int n = k->n;
    pthread_mutex_unlock(&k->lock);
    cr_assert_eq(n, want, "only %d of %d", n, want);
}

typedef struct {
    bgs_cache *c;
    counter *waiting; /* threads that subscribed */
    bgs_lookup how;
    bgs_entry *e;
    double mark;
    bgs_entry_state state;
} waiter_arg;

static void *blocking_waiter(void *p)
{
    waiter_arg *a = p;
    blocking_wait b = {{blocking_wake, NULL},
                       PTHREAD_MUTEX_INITIALIZER,
                       PTHREAD_COND_INITIALIZER,
                       false};
    a->how = lookup(a->c, "k", &a->e);
    if (bgs_cache_subscribe(a->e, &b.w) == 0) {
        counter_add(a->waiting);
        pthread_mutex_lock(&b.lock);
        while (!b.woken)
            pthread_cond_wait(&b.cond, &b.lock);
        pthread_mutex_unlock(&b.lock);
    }
    a->state = bgs_entry_state_of(a->e);
    if (a->state == BGS_ENTRY_READY)
        a->mark = mark_of(a->e);
    return NULL;
}

Test(cache, concurrent_misses_compute_once)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    bgs_entry *owner;
    counter waiting = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    cr_assert_eq(lookup(c, "k", &owner), BGS_LOOKUP_MISS);
    pthread_t t[8];
    waiter_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (waiter_arg){.c = c, .waiting = &waiting};
        pthread_create(&t[i], NULL, blocking_waiter, &a[i]);
    }
    counter_await(&waiting, 8); /* every waiter is blocked on the entry */
    bg_grid g = make_grid(99);
    bgs_cache_complete(owner, &g);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(a[i].how, BGS_LOOKUP_WAIT, "waiter %d", i);
        cr_assert_eq(a[i].e, owner, "one entry for all");
        cr_assert_eq(a[i].state, BGS_ENTRY_READY);
        cr_assert_eq(a[i].mark, 99);
        bgs_entry_release(a[i].e);
    }
    bgs_entry_release(owner);
    bgs_cache_stats st;
    bgs_cache_stats_get(c, &st);
    cr_assert_eq(st.misses, 1);
    cr_assert_eq(st.hits, 8);
    bgs_cache_free(c);
}

typedef struct {
    bgs_waiter w;
    atomic_int calls;
} counting_waiter;

static void count_wake(bgs_waiter *w)
{
    atomic_fetch_add(&((counting_waiter *)(void *)w)->calls, 1);
}

Test(cache, failure_wakes_waiters_and_is_not_cached)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    bgs_entry *owner, *e1, *e2;
    cr_assert_eq(lookup(c, "k", &owner), BGS_LOOKUP_MISS);
    cr_assert_eq(lookup(c, "k", &e1), BGS_LOOKUP_WAIT);
    cr_assert_eq(lookup(c, "k", &e2), BGS_LOOKUP_WAIT);
    counting_waiter w1 = {{count_wake, NULL}, 0}, w2 = {{count_wake, NULL}, 0};
    cr_assert_eq(bgs_cache_subscribe(e1, &w1.w), 0);
    cr_assert_eq(bgs_cache_subscribe(e2, &w2.w), 0);

    bgapi_problem p;
    bgapi_problem_set(&p, 422, "too-many-sources", "Too many", "divsteps",
                      "too many");
    bgs_cache_fail(owner, &p);
    cr_assert_eq(atomic_load(&w1.calls), 1);
    cr_assert_eq(atomic_load(&w2.calls), 1);
    cr_assert_eq(bgs_entry_state_of(e1), BGS_ENTRY_FAILED);
    cr_assert_eq(bgs_entry_problem(e1)->status, 422);
    cr_assert_str_eq(bgs_entry_problem(e2)->field, "divsteps");
    counting_waiter late = {{count_wake, NULL}, 0};
    cr_assert_eq(bgs_cache_subscribe(e1, &late.w), 1, "already done");
    cr_assert_eq(atomic_load(&late.calls), 0);
    bgs_entry_release(e1);
    bgs_entry_release(e2);
    bgs_entry_release(owner);

    bgs_entry *again;
    cr_assert_eq(lookup(c, "k", &again), BGS_LOOKUP_MISS, "not cached");
    bg_grid g = make_grid(5);
    bgs_cache_complete(again, &g);
    bgs_entry_release(again);
    bgs_cache_free(c);
}

Test(cache, subscribers_woken_once_on_success)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    bgs_entry *owner, *e;
    cr_assert_eq(lookup(c, "k", &owner), BGS_LOOKUP_MISS);
    cr_assert_eq(lookup(c, "k", &e), BGS_LOOKUP_WAIT);
    counting_waiter w = {{count_wake, NULL}, 0};
    cr_assert_eq(bgs_cache_subscribe(e, &w.w), 0);
    bg_grid g = make_grid(3);
    bgs_cache_complete(owner, &g);
    cr_assert_eq(atomic_load(&w.calls), 1);
    cr_assert_eq(mark_of(e), 3);
    bgs_entry_release(e);
    bgs_entry_release(owner);
    bgs_cache_free(c);
}

/* ---- the memory budget ---- */

Test(cache, live_bytes_follow_entries_and_reservations)
{
    bgs_cache *c = bgs_cache_new(UINT64_MAX, UINT64_MAX);
    uint64_t empty = bgs_cache_live_bytes(c);
    cr_assert_eq(empty, 0);
    bgs_entry *a = insert(c, "a", 1);
    uint64_t one = bgs_cache_live_bytes(c);
    cr_assert_geq(one, GRID_BYTES);
    cr_assert_eq(bgs_cache_reserve(c, 1000), 0);
    cr_assert_eq(bgs_cache_live_bytes(c), one + 1000);
    bgs_cache_unreserve(c, 1000);
    bgs_entry_release(a);
    bgs_cache_free(c);
}

static bgs_cache *budget_cache(uint64_t extra)
{
    /* A cache whose memory budget is two grids (with their entries) plus
     * `extra`. */
    bgs_cache *probe = bgs_cache_new(UINT64_MAX, UINT64_MAX);
    bgs_entry_release(insert(probe, "a", 1));
    uint64_t one = bgs_cache_live_bytes(probe);
    bgs_cache_free(probe);
    return bgs_cache_new(UINT64_MAX, 2 * one + extra);
}

Test(cache, reserve_evicts_to_make_room)
{
    bgs_cache *c = budget_cache(GRID_BYTES / 2);
    bgs_entry_release(insert(c, "a", 1));
    bgs_entry_release(insert(c, "b", 2));
    /* Room for the new grid only if one entry goes: the older, a. */
    cr_assert_eq(bgs_cache_reserve(c, GRID_BYTES), 0);
    bgs_entry *e;
    cr_assert_eq(lookup(c, "b", &e), BGS_LOOKUP_HIT);
    bgs_entry_release(e);
    bgs_cache_stats st;
    bgs_cache_stats_get(c, &st);
    cr_assert_eq(st.evictions, 1);
    cr_assert_eq(st.entries, 1);
    bgs_cache_unreserve(c, GRID_BYTES);
    bgs_cache_free(c);
}

Test(cache, reserve_fails_when_memory_is_pinned)
{
    bgs_cache *c = budget_cache(0);
    bgs_entry *a = insert(c, "a", 1); /* held: a response sends it */
    cr_assert_eq(bgs_cache_reserve(c, 2 * GRID_BYTES), -1,
                 "evicting a frees nothing while it is referenced");
    cr_assert_eq(mark_of(a), 1);
    bgs_entry_release(a);
    cr_assert_eq(bgs_cache_reserve(c, 2 * GRID_BYTES), 0, "now it is gone");
    bgs_cache_unreserve(c, 2 * GRID_BYTES);
    cr_assert_eq(bgs_cache_reserve(c, UINT64_MAX), -1);
    bgs_cache_free(c);
}

Test(cache, inserts_keep_memory_alive_within_budget)
{
    bgs_cache *c = budget_cache(0);
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        bgs_entry *e = insert(c, key, i);
        const char *buf;
        size_t len;
        bgs_entry_repr_put(e, 0, calloc(1, 1000), 1000, &buf, &len);
        bgs_entry_release(e);
        bgs_cache_stats st;
        bgs_cache_stats_get(c, &st);
        cr_assert_leq(st.live_bytes, 2 * GRID_BYTES + 4096, "after %d", i);
    }
    bgs_cache_free(c);
}

/* ---- body slots ---- */

Test(cache, a_slot_is_built_once_and_waiters_woken)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    bgs_entry *e = insert(c, "a", 1);
    counting_waiter w1 = {{count_wake, NULL}, 0}, w2 = {{count_wake, NULL}, 0};
    cr_assert_eq(bgs_entry_slot_claim(e, 3, &w1.w), BGS_SLOT_BUILD);
    cr_assert_eq(bgs_entry_slot_claim(e, 3, &w1.w), BGS_SLOT_WAIT);
    cr_assert_eq(bgs_entry_slot_subscribe(e, 3, &w2.w), 0);
    cr_assert_eq(bgs_entry_slot_claim(e, 4, &w2.w), BGS_SLOT_BUILD,
                 "slots are independent");
    const char *buf;
    size_t len;
    cr_assert_eq(bgs_entry_repr(e, 3, &buf, &len), -1);
    bgs_entry_repr_put(e, 3, strdup("body"), 4, &buf, &len);
    cr_assert_eq(atomic_load(&w1.calls), 1);
    cr_assert_eq(atomic_load(&w2.calls), 1);
    cr_assert_eq(bgs_entry_slot_claim(e, 3, &w1.w), BGS_SLOT_READY);
    cr_assert_eq(bgs_entry_repr(e, 3, &buf, &len), 0);
    cr_assert_eq(memcmp(buf, "body", 4), 0);
    cr_assert_eq(bgs_entry_slot_subscribe(e, 3, &w1.w), 1, "already built");
    bgs_entry_slot_abandon(e, 4);
    cr_assert_eq(bgs_entry_slot_claim(e, 4, &w1.w), BGS_SLOT_NOCACHE);
    cr_assert_eq(atomic_load(&w1.calls), 1, "no wake without a subscribe");
    bgs_entry_release(e);
    bgs_cache_free(c);
}

/* ---- hash flooding ---- */

/* The table hash beamgrid used before (api/ids.c, version 1): unkeyed,
 * and made of invertible steps, so anyone could make keys that collide in
 * all 64 bits offline. Kept here to make such keys. */
static uint64_t old_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

#define OLD_K UINT64_C(0x9e3779b97f4a7c15)

static uint64_t old_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t old_hash64(const unsigned char *canon, size_t len)
{
    uint64_t h = UINT64_C(0x6a09e667f3bcc909) ^ (len * OLD_K);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        h ^= old_mix64(old_get_u64(canon + i) + i);
        h = (h << 27 | h >> 37) * OLD_K;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < len; k++)
        tail |= (uint64_t)canon[i + k] << (8 * k);
    h ^= old_mix64(tail ^ UINT64_C(0xff51afd7ed558ccd));
    return old_mix64(h);
}

static uint64_t inverse_odd(uint64_t a) /* a * x = 1 mod 2^64 */
{
    uint64_t x = a;
    for (int i = 0; i < 6; i++)
        x *= 2 - a * x;
    return x;
}

static uint64_t unxorshift(uint64_t y, int s)
{
    uint64_t x = y;
    for (int i = 0; i < 64 / s + 1; i++)
        x = y ^ (x >> s);
    return x;
}

static uint64_t old_unmix64(uint64_t z)
{
    z = unxorshift(z, 31) * inverse_odd(UINT64_C(0x94d049bb133111eb));
    z = unxorshift(z, 27) * inverse_odd(UINT64_C(0xbf58476d1ce4e5b9));
    return unxorshift(z, 30);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A 16-byte key with first word w0 whose old hash is the old hash of any
 * 16-byte key whose state after both words is `target`: solve for the
 * second word. */
static void colliding_key(uint64_t w0, uint64_t target, unsigned char *key)
{
    uint64_t h = UINT64_C(0x6a09e667f3bcc909) ^ (16 * OLD_K);
    h ^= old_mix64(w0);
    h = (h << 27 | h >> 37) * OLD_K;
    uint64_t want = target * inverse_odd(OLD_K);
    want = want >> 27 | want << 37; /* before the rotation */
    uint64_t w1 = old_unmix64(want ^ h) - 8;
    put_u64(key, w0);
    put_u64(key + 8, w1);
}

#define FLOOD 4000

Test(cache, a_flood_of_old_collisions_stays_flat)
{
    static unsigned char keys[FLOOD][16];
    uint64_t target = UINT64_C(0x0123456789abcdef);
    for (int i = 0; i < FLOOD; i++)
        colliding_key(UINT64_C(1000003) * (uint64_t)(i + 1), target, keys[i]);
    uint64_t first = old_hash64(keys[0], 16);
    for (int i = 1; i < FLOOD; i++) {
        cr_assert_neq(memcmp(keys[i], keys[0], 16), 0);
        cr_assert_eq(old_hash64(keys[i], 16), first,
                     "key %d does not collide under the old hash", i);
    }
    /* Under the old hash all of them would share one bucket, a chain of
     * FLOOD entries walked by every lookup; under the keyed hash the
     * longest chain stays that of random keys. */
    bgs_cache *c = bgs_cache_new(UINT64_MAX, UINT64_MAX);
    for (int i = 0; i < FLOOD; i++) {
        bgs_entry *e;
        bgs_lookup how;
        cr_assert_eq(bgs_cache_acquire(c, keys[i], 16, &e, &how), 0);
        cr_assert_eq(how, BGS_LOOKUP_MISS, "key %d", i);
        bg_grid g;
        cr_assert_eq(bg_grid_alloc(&g, 1, BG_F64, 0), BG_OK);
        ((double *)g.x)[0] = i;
        bgs_cache_complete(e, &g);
        bgs_entry_release(e);
    }
    size_t longest = bgs_cache_longest_chain(c);
    cr_assert_leq(longest, 12, "a chain of %zu", longest);
    for (int i = 0; i < FLOOD; i++) {
        bgs_entry *e;
        bgs_lookup how;
        cr_assert_eq(bgs_cache_acquire(c, keys[i], 16, &e, &how), 0);
        cr_assert_eq(how, BGS_LOOKUP_HIT);
        cr_assert_eq(mark_of(e), i);
        bgs_entry_release(e);
    }
    bgs_cache_free(c);
}

Test(cache, the_table_hash_is_keyed_per_cache)
{
    /* Same keys, two hash keys: the bucket layouts differ, so what
     * collides in one process does not in another. */
    unsigned char k1[16] = {0}, k2[16] = {1};
    bgs_cache *a = bgs_cache_new_keyed(UINT64_MAX, UINT64_MAX, k1);
    bgs_cache *b = bgs_cache_new_keyed(UINT64_MAX, UINT64_MAX, k2);
    size_t same = 0;
    for (int i = 0; i < 64; i++) {
        char key[16];
        snprintf(key, sizeof key, "key-%d", i);
        bgs_entry *ea = insert(a, key, i), *eb = insert(b, key, i);
        same += bgs_entry_hash(ea) == bgs_entry_hash(eb);
        bgs_entry_release(ea);
        bgs_entry_release(eb);
    }
    cr_assert_eq(same, 0);
    bgs_cache_free(a);
    bgs_cache_free(b);
}

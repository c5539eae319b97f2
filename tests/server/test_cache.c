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
#include <unistd.h>

#include "api/ids.h"
#include "api/siphash.h"
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
static bgs_entry *insert(bgs_cache *c, const char *key, uint64_t hash,
                         double mark)
{
    bgs_entry *e;
    bgs_lookup how;
    cr_assert_eq(bgs_cache_acquire(c, (const unsigned char *)key, strlen(key),
                                   hash, &e, &how),
                 0);
    cr_assert_eq(how, BGS_LOOKUP_MISS, "%s should be a miss", key);
    bg_grid g = make_grid(mark);
    bgs_cache_complete(e, &g);
    cr_assert_null(g.x, "the entry took the arrays");
    return e;
}

static bgs_lookup lookup(bgs_cache *c, const char *key, uint64_t hash,
                         bgs_entry **e)
{
    bgs_lookup how;
    cr_assert_eq(bgs_cache_acquire(c, (const unsigned char *)key, strlen(key),
                                   hash, e, &how),
                 0);
    return how;
}

static uint64_t h(const char *key)
{
    return bgapi_siphash24(BGAPI_DIGEST_KEY, key, strlen(key));
}

Test(cache, miss_then_hit)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    bgs_entry *e = insert(c, "a", h("a"), 1.0);
    bgs_entry_release(e);
    cr_assert_eq(lookup(c, "a", h("a"), &e), BGS_LOOKUP_HIT);
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
    bgs_entry_release(insert(c, "a", h("a"), 1));
    bgs_entry_release(insert(c, "b", h("b"), 2));
    cr_assert_eq(lookup(c, "a", h("a"), &e), BGS_LOOKUP_HIT); /* a is newer */
    bgs_entry_release(e);
    bgs_entry_release(insert(c, "c", h("c"), 3)); /* evicts b */
    cr_assert_eq(lookup(c, "a", h("a"), &e), BGS_LOOKUP_HIT);
    bgs_entry_release(e);
    cr_assert_eq(lookup(c, "c", h("c"), &e), BGS_LOOKUP_HIT);
    bgs_entry_release(e);
    bgs_cache_stats st;
    bgs_cache_stats_get(c, &st);
    cr_assert_eq(st.evictions, 1);
    cr_assert_eq(st.entries, 2);
    cr_assert_eq(lookup(c, "b", h("b"), &e), BGS_LOOKUP_MISS, "b was evicted");
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
        bgs_entry_release(insert(c, key, h(key), i));
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
    bgs_entry *a = insert(c, "a", h("a"), 1);
    bgs_entry_release(insert(c, "b", h("b"), 2));
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
    bgs_entry *a = insert(c, "a", h("a"), 1);
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
    bgs_entry *a = insert(c, "a", h("a"), 7);     /* still referenced */
    bgs_entry_release(insert(c, "b", h("b"), 8)); /* evicts a */
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
    bgs_entry *e = insert(c, "a", h("a"), 1);
    cr_assert_eq(mark_of(e), 1, "usable while referenced");
    bgs_entry_release(e);
    cr_assert_eq(lookup(c, "a", h("a"), &e), BGS_LOOKUP_MISS);
    bgapi_problem p;
    bgapi_problem_set(&p, 503, "test", "Test", NULL, "abandon");
    bgs_cache_fail(e, &p);
    bgs_entry_release(e);
    bgs_cache_free(c);
}

Test(cache, colliding_hashes_never_mix)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    const char *keys[] = {"alpha", "beta", "gamma", "alphA", "alph"};
    for (int i = 0; i < 5; i++)
        bgs_entry_release(insert(c, keys[i], 42, i)); /* one hash for all */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 5; i++) {
            bgs_entry *e;
            cr_assert_eq(lookup(c, keys[i], 42, &e), BGS_LOOKUP_HIT);
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
        cr_assert_eq(lookup(c, key, h(key), &e), BGS_LOOKUP_MISS);
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
        cr_assert_eq(lookup(c, key, h(key), &e), BGS_LOOKUP_HIT);
        cr_assert_eq(mark_of(e), i);
        bgs_entry_release(e);
    }
    bgs_cache_free(c);
}

/* ---- single-flight ---- */

typedef struct {
    bgs_cache *c;
    bgs_lookup how;
    bgs_entry *e;
    double mark;
    bgs_entry_state state;
} waiter_arg;

static void *blocking_waiter(void *p)
{
    waiter_arg *a = p;
    a->how = lookup(a->c, "k", 7, &a->e);
    bgs_cache_wait(a->e);
    a->state = bgs_entry_state_of(a->e);
    if (a->state == BGS_ENTRY_READY)
        a->mark = mark_of(a->e);
    return NULL;
}

Test(cache, concurrent_misses_compute_once)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    bgs_entry *owner;
    cr_assert_eq(lookup(c, "k", 7, &owner), BGS_LOOKUP_MISS);
    pthread_t t[8];
    waiter_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (waiter_arg){.c = c};
        pthread_create(&t[i], NULL, blocking_waiter, &a[i]);
    }
    usleep(50000); /* the waiters block on the computing entry */
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
    cr_assert_eq(lookup(c, "k", 7, &owner), BGS_LOOKUP_MISS);
    cr_assert_eq(lookup(c, "k", 7, &e1), BGS_LOOKUP_WAIT);
    cr_assert_eq(lookup(c, "k", 7, &e2), BGS_LOOKUP_WAIT);
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
    cr_assert_eq(lookup(c, "k", 7, &again), BGS_LOOKUP_MISS, "not cached");
    bg_grid g = make_grid(5);
    bgs_cache_complete(again, &g);
    bgs_entry_release(again);
    bgs_cache_free(c);
}

Test(cache, subscribers_woken_once_on_success)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    bgs_entry *owner, *e;
    cr_assert_eq(lookup(c, "k", 7, &owner), BGS_LOOKUP_MISS);
    cr_assert_eq(lookup(c, "k", 7, &e), BGS_LOOKUP_WAIT);
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
    bgs_entry *a = insert(c, "a", h("a"), 1);
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
    bgs_entry_release(insert(probe, "a", h("a"), 1));
    uint64_t one = bgs_cache_live_bytes(probe);
    bgs_cache_free(probe);
    return bgs_cache_new(UINT64_MAX, 2 * one + extra);
}

Test(cache, reserve_evicts_to_make_room)
{
    bgs_cache *c = budget_cache(GRID_BYTES / 2);
    bgs_entry_release(insert(c, "a", h("a"), 1));
    bgs_entry_release(insert(c, "b", h("b"), 2));
    /* Room for the new grid only if one entry goes: the older, a. */
    cr_assert_eq(bgs_cache_reserve(c, GRID_BYTES), 0);
    bgs_entry *e;
    cr_assert_eq(lookup(c, "b", h("b"), &e), BGS_LOOKUP_HIT);
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
    bgs_entry *a = insert(c, "a", h("a"), 1); /* held: a response sends it */
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
        bgs_entry *e = insert(c, key, h(key), i);
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

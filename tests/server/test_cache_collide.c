/* test_cache_collide.c - the cache built with BG_CACHE_HASH_BITS=0, so
 * every key's table hash collides: lookups must still tell keys apart by
 * their full canonical bytes. (cache.c is compiled into this test
 * with the mask; the archive's copy is then not linked.) */
#define BG_CACHE_HASH_BITS 0
#include "server/cache.c"

#include <criterion/criterion.h>
#include <stdio.h>

#include "api/ids.h"
#include "core/resolve.h"

/* The key of a resolved default grid with lambda_A = lambda. */
static void key_of(double lambda, bgapi_key *k)
{
    bg_params p;
    bg_resolved r;
    bg_params_init(&p);
    p.lambda_A.given = true;
    p.lambda_A.value = lambda;
    cr_assert_eq(bg_resolve(&p, &r, NULL), BG_OK);
    cr_assert_eq(bgapi_key_build(k, &r, (bgapi_repr){BGAPI_FMT_JSON, BG_F64}),
                 0);
}

Test(cache_collide, every_hash_collides_and_keys_stay_apart)
{
    bgs_cache *c = bgs_cache_new(1 << 20, UINT64_MAX);
    for (int round = 0; round < 2; round++) {
        for (int i = 1; i <= 20; i++) {
            bgapi_key k;
            key_of(i, &k);
            bgs_entry *e;
            bgs_lookup how;
            cr_assert_eq(bgs_cache_acquire(c, k.canon, k.canon_len, &e, &how),
                         0);
            bgapi_key_free(&k);
            if (round == 0) {
                cr_assert_eq(how, BGS_LOOKUP_MISS, "lambda %d", i);
                bg_grid g;
                cr_assert_eq(bg_grid_alloc(&g, 1, BG_F64, 0), BG_OK);
                ((double *)g.x)[0] = i;
                bgs_cache_complete(e, &g);
            } else {
                cr_assert_eq(how, BGS_LOOKUP_HIT, "lambda %d", i);
                cr_assert_eq(((const double *)bgs_entry_grid(e)->x)[0], i);
                cr_assert_eq(e->hash, 0, "the mask made it collide");
            }
            bgs_entry_release(e);
        }
    }
    bgs_cache_free(c);
}

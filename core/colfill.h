/* colfill.h - the column stores the fills of core/grid.c and core/torch.c
 * share: one value n times, and a pattern of d values m times, with SSE2
 * stores where the target has them (a store moves bits; values are never
 * changed). Static inline: no state, no allocation. */
#ifndef BG_COLFILL_H
#define BG_COLFILL_H

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* dst[k] = v for k < n. From 4 on, whole vectors only: the last one
 * overlaps the one before (same value), so there is no scalar tail. */
static inline void bg_splat_f32(float *dst, float v, uint64_t n)
{
#ifdef __SSE2__
    if (n >= 4) {
        const __m128 v4 = _mm_set1_ps(v);
        uint64_t k = 0;
        for (; k + 8 < n; k += 8) {
            _mm_storeu_ps(dst + k, v4);
            _mm_storeu_ps(dst + k + 4, v4);
        }
        for (; k + 4 < n; k += 4)
            _mm_storeu_ps(dst + k, v4);
        _mm_storeu_ps(dst + n - 4, v4);
        return;
    }
#endif
    for (uint64_t k = 0; k < n; k++)
        dst[k] = v;
}

static inline void bg_splat_f64(double *dst, double v, uint64_t n)
{
#ifdef __SSE2__
    if (n >= 2) {
        const __m128d v2 = _mm_set1_pd(v);
        uint64_t k = 0;
        for (; k + 4 < n; k += 4) {
            _mm_storeu_pd(dst + k, v2);
            _mm_storeu_pd(dst + k + 2, v2);
        }
        for (; k + 2 < n; k += 2)
            _mm_storeu_pd(dst + k, v2);
        _mm_storeu_pd(dst + n - 2, v2);
        return;
    }
#endif
    for (uint64_t k = 0; k < n; k++)
        dst[k] = v;
}

/* dst[b*d + k] = tile[k] for b < m, k < d, where tile holds the pattern
 * `reps` times over (tile_len = reps * d elements of `size` bytes): whole
 * tiles copied at once. */
static inline void bg_repeat(void *dst, const void *tile, uint64_t reps,
                             uint64_t d, uint64_t m, size_t size)
{
    char *p = dst;
    size_t chunk = (size_t)(reps * d) * size;
    while (m >= reps) {
        memcpy(p, tile, chunk);
        p += chunk;
        m -= reps;
    }
    if (m > 0)
        memcpy(p, tile, (size_t)(m * d) * size);
}

/* Repeat the first `unit` bytes of buf until it holds reps copies, by
 * doubling (a handful of memcpy calls, not reps of them). */
static inline void bg_tile_fill(void *buf, size_t unit, uint64_t reps)
{
    char *p = buf;
    size_t have = unit, want = unit * (size_t)reps;
    while (have < want) {
        size_t n = have < want - have ? have : want - have;
        memcpy(p + have, p, n);
        have += n;
    }
}

#endif

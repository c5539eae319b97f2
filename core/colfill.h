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

/* dst[k] = v for k < n. */
static inline void bg_splat_f32(float *dst, float v, uint64_t n)
{
    uint64_t k = 0;
#ifdef __SSE2__
    const __m128 v4 = _mm_set1_ps(v);
    for (; k + 8 <= n; k += 8) {
        _mm_storeu_ps(dst + k, v4);
        _mm_storeu_ps(dst + k + 4, v4);
    }
    for (; k + 4 <= n; k += 4)
        _mm_storeu_ps(dst + k, v4);
#endif
    for (; k < n; k++)
        dst[k] = v;
}

static inline void bg_splat_f64(double *dst, double v, uint64_t n)
{
    uint64_t k = 0;
#ifdef __SSE2__
    const __m128d v2 = _mm_set1_pd(v);
    for (; k + 4 <= n; k += 4) {
        _mm_storeu_pd(dst + k, v2);
        _mm_storeu_pd(dst + k + 2, v2);
    }
    for (; k + 2 <= n; k += 2)
        _mm_storeu_pd(dst + k, v2);
#endif
    for (; k < n; k++)
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

#endif

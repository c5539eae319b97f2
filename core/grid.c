/* grid.c - docs/semantics.md §2.3: a resolved set's sources, in nanoBragg.c's
 * order and bit for bit its arithmetic, counted before anything is allocated
 * and filled in parallel.
 *
 * Which points the elliptical trim keeps: test = A(i) + B(j), where A and B
 * are nanoBragg's two trim terms of the row and the column. Every IEEE
 * operation is monotone, so A is non-increasing then non-decreasing in i (B
 * likewise in j) and the kept points of a row are one contiguous run of j,
 * and the rows with any kept point one contiguous run of i. Binary search
 * finds them exactly (the same comparisons nanoBragg makes, at the run
 * ends), so counting costs O(rows log columns). That argument needs the
 * terms finite; for absurd step/range ratios ("untame" axes) we test every
 * point literally, within a work limit. The fill then rotates each column
 * once (sin/cos once per column), each row's angle once, and per kept point
 * only does nanoBragg's second rotation and the normalization. */
#include "core/grid.h"

#include "core/beam.h"
#include "core/colfill.h"
#include "core/count.h"
#include "core/torch.h"

#include <math.h>
#include <omp.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
/* AVX copies of the hot loops, chosen at run time (fill_ctx.avx): the same
 * IEEE operations per element, so the same bits. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BG_GRID_AVX 1
#endif
#include <stdlib.h>
#include <string.h>

/* Below this many sources the fill stays serial. */
#define BG_GRID_PARALLEL_MIN 16384
/* An axis whose |angle|/range or |angle| exceeds this is not tame. */
#define BG_GRID_TAME_MAX 1e150
/* Points rotated and unitized together (stack arrays, no allocation). */
#define BG_GRID_BATCH 128
/* Columns whose trim terms a plan keeps (the same doubles trim_term
 * gives, computed once instead of in every row's searches). */
#define BG_GRID_TERM_CACHE 256
/* Elements of the float32 wavelength tile, at most (a batch's worth of
 * the pattern when it fits). */
#define BG_GRID_TILE_MAX 65536

/* The kept-point structure of a grid: points == sum of row lengths. */
typedef struct {
    const bg_resolved *r;
    bool all_kept;    /* round_div false or a zero range: nothing trims */
    bool tame;        /* runs can be found by binary search */
    int64_t jmin;     /* column of the smallest B */
    double bmin;      /* B(jmin) */
    int64_t ilo, ihi; /* rows with kept points (ilo > ihi: none) */
    bool vcached;     /* vterm holds every column's trim term */
    bool hsame;       /* vcached, and row i's term is vterm[i] (same axis) */
    double vterm[BG_GRID_TERM_CACHE];
} trim_plan;

/* nanoBragg's angle of index i on axis a: step*i - range/2. */
static double axis_angle(const bg_axis *a, int64_t i)
{
    return a->step * (double)i - a->range / 2.0;
}

/* nanoBragg's trim term of index i on axis a, in its order of operations. */
static double trim_term(const bg_axis *a, int64_t i)
{
    double x = axis_angle(a, i);
    return (x * x - a->step * a->step / 4.0 * (double)(1 - a->count % 2)) /
           a->range / a->range;
}

/* nanoBragg's test: test = A; test += B; skip if round_div && test*4 > 1.1.
 * A NaN test (a zero range) never skips. */
static bool is_kept(bool round_div, double a, double b)
{
    double test = a;
    test += b;
    return !(round_div && test * 4.0 > 1.1);
}

/* True if every trim term of the axis is finite with margin, so that the
 * monotonicity argument of the file comment holds. */
static bool axis_tame(const bg_axis *a)
{
    if (a->range == 0.0)
        return true;
    double span = a->step * (double)(a->count - 1) + a->range + a->step;
    return span <= BG_GRID_TAME_MAX && span / a->range <= BG_GRID_TAME_MAX;
}

/* The index in [0, count) where the trim term is smallest: one of the two
 * indices around the sign change of the angle. */
static int64_t argmin_term(const bg_axis *a)
{
    int64_t lo = 0, hi = a->count; /* first i with angle >= 0, or count */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (axis_angle(a, mid) >= 0.0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo == a->count)
        return a->count - 1;
    if (lo == 0)
        return 0;
    return trim_term(a, lo - 1) <= trim_term(a, lo) ? lo - 1 : lo;
}

/* trim_term(a, m), from the plan's cache when it holds axis a. */
static inline double term_at(const trim_plan *t, const bg_axis *a, int64_t m)
{
    if (t->vcached && a == &t->r->vdiv)
        return t->vterm[m];
    return trim_term(a, m);
}

/* First index in [lo, mid] that is kept, given that kept is monotone
 * non-decreasing there and mid is kept. term_axis is the searched axis,
 * other the fixed term. */
static int64_t search_first(const trim_plan *t, const bg_axis *a, double other,
                            int64_t lo, int64_t mid)
{
    int64_t hi = mid;
    while (lo < hi) {
        int64_t m = lo + (hi - lo) / 2;
        if (is_kept(t->r->round_div, other, term_at(t, a, m)))
            hi = m;
        else
            lo = m + 1;
    }
    return lo;
}

/* Last index in [mid, hi] that is kept, mid kept, kept non-increasing. */
static int64_t search_last(const trim_plan *t, const bg_axis *a, double other,
                           int64_t mid, int64_t hi)
{
    int64_t lo = mid;
    while (lo < hi) {
        int64_t m = hi - (hi - lo) / 2;
        if (is_kept(t->r->round_div, other, term_at(t, a, m)))
            lo = m;
        else
            hi = m - 1;
    }
    return lo;
}

/* Whether two axes are the same bit for bit (count, range, step): then
 * their angles and trim terms are the same doubles index by index. */
static bool same_axis(const bg_axis *a, const bg_axis *b)
{
    return a->count == b->count &&
           memcmp(&a->range, &b->range, sizeof a->range) == 0 &&
           memcmp(&a->step, &b->step, sizeof a->step) == 0;
}

/* Work out which rows and columns can hold kept points. */
static void plan_trim(const bg_resolved *r, trim_plan *t)
{
    t->vcached = false;
    t->hsame = false;
    t->jmin = 0;
    t->bmin = 0.0;
    t->r = r;
    t->all_kept = !r->round_div || r->hdiv.range == 0.0 || r->vdiv.range == 0.0;
    t->tame = t->all_kept || (axis_tame(&r->hdiv) && axis_tame(&r->vdiv));
    t->ilo = 0;
    t->ihi = r->hdiv.count - 1;
    if (t->all_kept || !t->tame)
        return;
    if (r->vdiv.count <= BG_GRID_TERM_CACHE) {
        for (int64_t j = 0; j < r->vdiv.count; j++)
            t->vterm[j] = trim_term(&r->vdiv, j);
        t->vcached = true;
        t->hsame = same_axis(&r->hdiv, &r->vdiv);
    }

    t->jmin = argmin_term(&r->vdiv);
    t->bmin = trim_term(&r->vdiv, t->jmin);
    int64_t imin = argmin_term(&r->hdiv);
    /* A row has a kept point iff its A passes with the smallest B. */
    if (!is_kept(true, trim_term(&r->hdiv, imin), t->bmin)) {
        t->ilo = 0;
        t->ihi = -1;
        return;
    }
    t->ilo = search_first(t, &r->hdiv, t->bmin, 0, imin);
    t->ihi = search_last(t, &r->hdiv, t->bmin, imin, r->hdiv.count - 1);
}

/* The run [*lo, *lo + *len) of kept columns of row i (tame plans only). */
static void row_run(const trim_plan *t, int64_t i, int64_t *lo, int64_t *len)
{
    const bg_axis *v = &t->r->vdiv;
    if (t->all_kept) {
        *lo = 0;
        *len = v->count;
        return;
    }
    double a = t->hsame ? t->vterm[i] : trim_term(&t->r->hdiv, i);
    if (!is_kept(true, a, t->bmin)) {
        *lo = 0;
        *len = 0;
        return;
    }
    int64_t first = search_first(t, v, a, 0, t->jmin);
    int64_t last = search_last(t, v, a, t->jmin, v->count - 1);
    *lo = first;
    *len = last - first + 1;
}

/* Kept points of an untame plan, testing the rectangle literally. Stops
 * early (returning a value > cap) once more than cap points are kept. */
static uint64_t count_literal(const bg_resolved *r, uint64_t cap)
{
    uint64_t n = 0;
    for (int64_t i = 0; i < r->hdiv.count; i++) {
        double a = trim_term(&r->hdiv, i);
        for (int64_t j = 0; j < r->vdiv.count; j++)
            n += is_kept(r->round_div, a, trim_term(&r->vdiv, j));
        if (n > cap)
            return n;
    }
    return n;
}

/* Kept points of a plan, or a value > cap as soon as that is certain.
 * *work_refused is set if an untame rectangle exceeds work_cap points. */
static uint64_t count_points(const trim_plan *t, uint64_t cap,
                             uint64_t work_cap, bool *work_refused)
{
    const bg_resolved *r = t->r;
    uint64_t h = (uint64_t)r->hdiv.count, v = (uint64_t)r->vdiv.count;
    *work_refused = false;
    if (t->all_kept)
        return v != 0 && h > UINT64_MAX / v ? UINT64_MAX : h * v;
    if (!t->tame) {
        if (h > work_cap / v) {
            *work_refused = true;
            return UINT64_MAX;
        }
        return count_literal(r, cap);
    }
    /* Every row of [ilo, ihi] keeps a point: more rows than cap settle it
     * at once (a thin ellipse of 10^9 rows must not be walked). */
    if (t->ihi >= t->ilo && (uint64_t)(t->ihi - t->ilo + 1) > cap)
        return (uint64_t)(t->ihi - t->ilo + 1);
    uint64_t n = 0;
    for (int64_t i = t->ilo; i <= t->ihi; i++) {
        int64_t lo, len;
        row_run(t, i, &lo, &len);
        n += (uint64_t)len;
        if (n > cap)
            return n;
    }
    return n;
}

bg_status bg_grid_count(const bg_resolved *r, uint64_t max_sources,
                        uint64_t *count, uint64_t *points, bg_error *err)
{
    if (r->semantics == BG_SEM_TORCH)
        return bg_torch_count(r, max_sources, count, points, err);
    bg_status s = bg_resolved_check(r, err);
    if (s != BG_OK)
        return s;
    uint64_t d = (uint64_t)bg_resolved_channels(r);
    uint64_t cap = max_sources / d;
    uint64_t work_cap = bg_count_work_cap(cap);
    trim_plan t;
    plan_trim(r, &t);
    bool refused;
    uint64_t n = count_points(&t, cap, work_cap, &refused);
    if ((s = bg_count_verdict(r, d, max_sources, work_cap, refused, n > cap,
                              err)) != BG_OK)
        return s;
    if (n == 0)
        return bg_error_set(
            err, BG_EMPTY, "divsteps",
            "every divergence point was trimmed by the elliptical "
            "round_div test (hdivsteps %lld x vdivsteps %lld); give more "
            "divergence steps, or round_div false",
            (long long)r->hdiv.count, (long long)r->vdiv.count);
    *count = n * d;
    if (points != NULL)
        *points = n;
    return BG_OK;
}

/* One allocation of lead + cols * count * size bytes; NULL on overflow or
 * when malloc fails. */
static void *alloc_columns(uint64_t count, size_t size, unsigned cols,
                           size_t lead)
{
    uint64_t n = count > 0 ? count : 1;
    if (n > (SIZE_MAX - lead) / cols / size)
        return NULL;
    return malloc(lead + (size_t)n * cols * size);
}

bg_status bg_grid_alloc_lead(bg_grid *g, uint64_t count, bg_dtype dtype,
                             unsigned flags, size_t lead)
{
    memset(g, 0, sizeof *g);
    g->count = count;
    g->dtype = dtype;
    size_t size = dtype == BG_F32 ? sizeof(float) : sizeof(double);
    size_t col = (size_t)(count > 0 ? count : 1) * size;
    g->block = alloc_columns(count, size, 5, lead);
    if (g->block != NULL) {
        char *x = (char *)g->block + lead;
        g->lead = lead;
        g->x = x;
        g->y = x + col;
        g->z = x + 2 * col;
        g->weight = x + 3 * col;
        g->lambda = x + 4 * col;
    }
    bool ok = g->block != NULL;
    if (ok && (flags & BG_GRID_POSITIONS)) {
        g->px = alloc_columns(count, sizeof(double), 3, 0);
        if (g->px != NULL) {
            g->py = g->px + (count > 0 ? count : 1);
            g->pz = g->py + (count > 0 ? count : 1);
        }
        ok = g->px != NULL;
    }
    if (!ok) {
        bg_grid_free(g);
        g->count = count;
        g->dtype = dtype;
        return BG_NOMEM;
    }
    return BG_OK;
}

bg_status bg_grid_alloc(bg_grid *g, uint64_t count, bg_dtype dtype,
                        unsigned flags)
{
    return bg_grid_alloc_lead(g, count, dtype, flags, 0);
}

void bg_grid_free(bg_grid *g)
{
    free(g->block);
    free(g->px);
    memset(g, 0, sizeof *g);
}

/* nanoBragg's rotate_axis with sin and cos of the angle given. */
static void rotate(const double v[3], const double axis[3], double s, double c,
                   double out[3])
{
    double dot = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - c);
    out[0] = axis[0] * dot + v[0] * c + (-axis[2] * v[1] + axis[1] * v[2]) * s;
    out[1] = axis[1] * dot + v[1] * c + (+axis[2] * v[0] - axis[0] * v[2]) * s;
    out[2] = axis[2] * dot + v[2] * c + (-axis[1] * v[0] + axis[0] * v[1]) * s;
}

/* What the fill loops share; all arrays allocated before any parallel
 * region. */
typedef struct {
    const bg_resolved *r;
    bg_grid *g;
    uint64_t d;          /* dispersion steps */
    double weight;       /* 1/N */
    const double *wspec; /* d raw channel weights, or NULL: weight 1/N */
    double *wnorm;       /* d channel weights times the normalization */
    double *wdp;         /* per kept point: its Gaussian weight, or NULL */
    const double *hang;  /* quantile angles per row, or NULL */
    const double *vang;  /* quantile angles per column, or NULL */
    double *cv;          /* per column from col0: its angle */
    double *lambdas;     /* d wavelengths */
    float *lambdas_f32;  /* the same, rounded to float, tile_reps times */
    uint64_t tile_reps;
    double *cx, *cy, *cz; /* per column from col0: p rotated about polar */
    double *cs, *cc;      /* per column from col0: sin and cos of its angle */
    bool same_axes;       /* h and v angles alike: row i's sin, cos = col i's */
    int64_t ncols;        /* columns cached from col0 */
    int64_t col0;
    bool avx;         /* the CPU has AVX (unitize_batch_avx) */
    int64_t *run_lo;  /* per row from plan ilo: first kept column */
    uint64_t *offset; /* per row: first source index; rows+1 entries */
} fill_ctx;

/* dst[k] = v for k < d, two at a time: the inner store loop of the
 * dispersion fan-out (d is often small, so no prologue or call). */
static inline void splat_f64(double *dst, double v, uint64_t d)
{
    uint64_t k = 0;
#ifdef __SSE2__
    const __m128d v2 = _mm_set1_pd(v);
    for (; k + 2 <= d; k += 2)
        _mm_storeu_pd(dst + k, v2);
#endif
    for (; k < d; k++)
        dst[k] = v;
}

/* dst[b*d + k] = src[b] for b < m, k < d: one column of the dispersion
 * fan-out. */
static void spread_f64(double *restrict dst, const double *restrict src, int m,
                       uint64_t d)
{
    if (d == 1) {
#pragma omp simd
        for (int b = 0; b < m; b++)
            dst[b] = src[b];
        return;
    }
    for (int b = 0; b < m; b++, dst += d)
        splat_f64(dst, src[b], d);
}

static void spread_f32(float *restrict dst, const double *restrict src, int m,
                       uint64_t d)
{
    if (d == 1) {
#pragma omp simd
        for (int b = 0; b < m; b++)
            dst[b] = (float)src[b];
        return;
    }
    for (int b = 0; b < m; b++, dst += d)
        bg_splat_f32(dst, (float)src[b], d);
}

#ifdef BG_GRID_AVX
/* spread_f32 with 8-wide stores where the CPU has AVX (the last one
 * overlapping, as bg_splat_f32 does). */
__attribute__((target("avx"))) static void
spread_f32_avx(float *restrict dst, const double *restrict src, int m,
               uint64_t d)
{
    if (d < 8) {
        spread_f32(dst, src, m, d);
        return;
    }
    for (int b = 0; b < m; b++, dst += d) {
        const __m256 v8 = _mm256_set1_ps((float)src[b]);
        for (uint64_t k = 0; k + 8 < d; k += 8)
            _mm256_storeu_ps(dst + k, v8);
        _mm256_storeu_ps(dst + d - 8, v8);
    }
}

#endif

/* dst[i] = v for i < n. */
static void fill_f64(double *restrict dst, double v, uint64_t n)
{
#pragma omp simd
    for (uint64_t i = 0; i < n; i++)
        dst[i] = v;
}

static void fill_f32(float *restrict dst, float v, uint64_t n)
{
#pragma omp simd
    for (uint64_t i = 0; i < n; i++)
        dst[i] = v;
}

/* dst[b*d + k] = pattern[k]: the wavelengths of m points. */
static void repeat_f64(double *restrict dst, const double *restrict pattern,
                       int m, uint64_t d)
{
    if (d == 1) {
        fill_f64(dst, pattern[0], (uint64_t)m);
        return;
    }
    for (int b = 0; b < m; b++, dst += d) {
        uint64_t k = 0;
#ifdef __SSE2__
        for (; k + 2 <= d; k += 2)
            _mm_storeu_pd(dst + k, _mm_loadu_pd(pattern + k));
#endif
        for (; k < d; k++)
            dst[k] = pattern[k];
    }
}

/* The wavelengths of m points in float32: whole tiles of the pattern
 * (lambdas_f32 holds it tile_reps times). */
static void repeat_f32(float *restrict dst, const float *restrict tile,
                       uint64_t tile_reps, int m, uint64_t d)
{
    if (d == 1) {
        fill_f32(dst, tile[0], (uint64_t)m);
        return;
    }
    bg_repeat(dst, tile, tile_reps, d, (uint64_t)m, sizeof *dst);
}

/* Store the m points of a batch (unit directions u, positions p), d sources
 * each, from source o on: column by column, so that each loop writes one
 * sequential stream. */
/* The raw weights of m points (divergence weights wd, or 1 when NULL)
 * times the channel weights: docs/beams.md's w_div(p) * w_spec(c). */
static void raw_weights(const fill_ctx *f, const double *wd, int m,
                        double *restrict dst)
{
    const uint64_t d = f->d;
    if (wd == NULL) {
        repeat_f64(dst, f->wnorm, m, d);
        return;
    }
    for (int b = 0; b < m; b++, dst += d) {
        const double a = wd[b];
#pragma omp simd
        for (uint64_t k = 0; k < d; k++)
            dst[k] = a * f->wnorm[k];
    }
}

static void raw_weights_f32(const fill_ctx *f, const double *wd, int m,
                            float *restrict dst)
{
    const uint64_t d = f->d;
    for (int b = 0; b < m; b++, dst += d)
        for (uint64_t k = 0; k < d; k++)
            dst[k] = (float)((wd != NULL ? wd[b] : 1.0) * f->wnorm[k]);
}

static void store_batch(const fill_ctx *f, uint64_t o, int m,
                        double u[3][BG_GRID_BATCH], double p[3][BG_GRID_BATCH],
                        const double *wd)
{
    bg_grid *g = f->g;
    const uint64_t d = f->d, n = (uint64_t)m * d;
    if (g->dtype == BG_F32) {
#ifdef BG_GRID_AVX
        if (f->avx) {
            spread_f32_avx((float *)g->x + o, u[0], m, d);
            spread_f32_avx((float *)g->y + o, u[1], m, d);
            spread_f32_avx((float *)g->z + o, u[2], m, d);
        } else
#endif
        {
            spread_f32((float *)g->x + o, u[0], m, d);
            spread_f32((float *)g->y + o, u[1], m, d);
            spread_f32((float *)g->z + o, u[2], m, d);
        }
        if (f->wspec != NULL)
            raw_weights_f32(f, wd, m, (float *)g->weight + o);
        else
            fill_f32((float *)g->weight + o, (float)f->weight, n);
        repeat_f32((float *)g->lambda + o, f->lambdas_f32, f->tile_reps, m, d);
    } else {
        spread_f64((double *)g->x + o, u[0], m, d);
        spread_f64((double *)g->y + o, u[1], m, d);
        spread_f64((double *)g->z + o, u[2], m, d);
        if (f->wspec != NULL)
            raw_weights(f, wd, m, (double *)g->weight + o);
        else
            fill_f64((double *)g->weight + o, f->weight, n);
        repeat_f64((double *)g->lambda + o, f->lambdas, m, d);
    }
    if (g->px != NULL) {
        spread_f64(g->px + o, p[0], m, d);
        spread_f64(g->py + o, p[1], m, d);
        spread_f64(g->pz + o, p[2], m, d);
    }
}

/* Rotate the m column vectors q about axis by one row angle (sin s, cos c):
 * nanoBragg's rotate_axis, term for term, written over arrays so that it
 * vectorizes (packed IEEE operations round exactly as scalar ones). The
 * body is a macro so that an AVX copy (rotate_batch_avx) has the very same
 * operations. */
#define BG_ROTATE_BATCH_BODY                                                   \
    const double a0 = axis[0], a1 = axis[1], a2 = axis[2];                     \
    const double omc = 1.0 - c;                                                \
    _Pragma("omp simd") for (int b = 0; b < m; b++)                            \
    {                                                                          \
        double dot = (a0 * qx[b] + a1 * qy[b] + a2 * qz[b]) * omc;             \
        px[b] = a0 * dot + qx[b] * c + (-a2 * qy[b] + a1 * qz[b]) * s;         \
        py[b] = a1 * dot + qy[b] * c + (+a2 * qx[b] - a0 * qz[b]) * s;         \
        pz[b] = a2 * dot + qz[b] * c + (-a1 * qx[b] + a0 * qy[b]) * s;         \
    }

static void rotate_batch(const double *restrict qx, const double *restrict qy,
                         const double *restrict qz, const double axis[3],
                         double s, double c, int m, double *restrict px,
                         double *restrict py, double *restrict pz)
{
    BG_ROTATE_BATCH_BODY
}

/* nanoBragg's unitize over m vectors: u = p / sqrt(x*x + y*y + z*z). With
 * SSE2, two at a time (sqrtpd and divpd are correctly rounded, as the scalar
 * instructions are); the compiler cannot vectorize sqrt itself because of
 * errno. */
static void unitize_batch(const double *restrict px, const double *restrict py,
                          const double *restrict pz, int m, double *restrict ux,
                          double *restrict uy, double *restrict uz)
{
    int b = 0;
#ifdef __SSE2__
    for (; b + 2 <= m; b += 2) {
        __m128d x = _mm_loadu_pd(px + b), y = _mm_loadu_pd(py + b);
        __m128d z = _mm_loadu_pd(pz + b);
        __m128d sq = _mm_add_pd(_mm_add_pd(_mm_mul_pd(x, x), _mm_mul_pd(y, y)),
                                _mm_mul_pd(z, z));
        __m128d mag = _mm_sqrt_pd(sq);
        _mm_storeu_pd(ux + b, _mm_div_pd(x, mag));
        _mm_storeu_pd(uy + b, _mm_div_pd(y, mag));
        _mm_storeu_pd(uz + b, _mm_div_pd(z, mag));
    }
#endif
    for (; b < m; b++) {
        double mag = sqrt(px[b] * px[b] + py[b] * py[b] + pz[b] * pz[b]);
        ux[b] = px[b] / mag;
        uy[b] = py[b] / mag;
        uz[b] = pz[b] / mag;
    }
}

#ifdef BG_GRID_AVX
/* rotate_batch four at a time where the CPU has AVX: the same body. */
__attribute__((target("avx"))) static void
rotate_batch_avx(const double *restrict qx, const double *restrict qy,
                 const double *restrict qz, const double axis[3], double s,
                 double c, int m, double *restrict px, double *restrict py,
                 double *restrict pz)
{
    BG_ROTATE_BATCH_BODY
}

/* unitize_batch four at a time with AVX, where the CPU has it: the same
 * correctly rounded IEEE operations per element (vsqrtpd, vdivpd), so the
 * same bits; on CPUs whose 256-bit divider is as fast per instruction as
 * the 128-bit one, twice the throughput. */
__attribute__((target("avx"))) static void
unitize_batch_avx(const double *restrict px, const double *restrict py,
                  const double *restrict pz, int m, double *restrict ux,
                  double *restrict uy, double *restrict uz)
{
    int b = 0;
    for (; b + 4 <= m; b += 4) {
        __m256d x = _mm256_loadu_pd(px + b), y = _mm256_loadu_pd(py + b);
        __m256d z = _mm256_loadu_pd(pz + b);
        __m256d sq = _mm256_add_pd(
            _mm256_add_pd(_mm256_mul_pd(x, x), _mm256_mul_pd(y, y)),
            _mm256_mul_pd(z, z));
        __m256d mag = _mm256_sqrt_pd(sq);
        _mm256_storeu_pd(ux + b, _mm256_div_pd(x, mag));
        _mm256_storeu_pd(uy + b, _mm256_div_pd(y, mag));
        _mm256_storeu_pd(uz + b, _mm256_div_pd(z, mag));
    }
    if (b < m)
        unitize_batch(px + b, py + b, pz + b, m - b, ux + b, uy + b, uz + b);
}
#endif

/* Rotate, unitize and store the m points of one batch starting at column
 * index ci (relative to col0), sources from o on. */
static void emit_batch(const fill_ctx *f, int64_t ci, int m, double h, double s,
                       double c, uint64_t o)
{
    double p[3][BG_GRID_BATCH], u[3][BG_GRID_BATCH], wd[BG_GRID_BATCH];
#ifdef BG_GRID_AVX
    if (f->avx) {
        rotate_batch_avx(f->cx + ci, f->cy + ci, f->cz + ci, f->r->vert, s, c,
                         m, p[0], p[1], p[2]);
        unitize_batch_avx(p[0], p[1], p[2], m, u[0], u[1], u[2]);
    } else
#endif
    {
        rotate_batch(f->cx + ci, f->cy + ci, f->cz + ci, f->r->vert, s, c, m,
                     p[0], p[1], p[2]);
        unitize_batch(p[0], p[1], p[2], m, u[0], u[1], u[2]);
    }
    const double *w = NULL;
    if (f->wdp != NULL) { /* the points of a batch are consecutive */
        w = f->wdp + o / f->d;
    } else if (f->r->div_form == BG_DIV_GAUSS) {
        for (int b = 0; b < m; b++)
            wd[b] = bg_div_weight(f->r, h, f->cv[ci + b]);
        w = wd;
    }
    store_batch(f, o, m, u, p, w);
}

/* The angle of row i: the quantile table's, or nanoBragg's. */
static double row_angle(const fill_ctx *f, int64_t i)
{
    return f->hang != NULL ? f->hang[i] : axis_angle(&f->r->hdiv, i);
}

static double col_angle(const fill_ctx *f, int64_t j)
{
    return f->vang != NULL ? f->vang[j] : axis_angle(&f->r->vdiv, j);
}

/* Fill the sources of plan row index ri (row i = ilo + ri): sin and cos of
 * the row angle once, then the kept columns in batches. */
static void fill_row(const fill_ctx *f, int64_t i, int64_t ri)
{
    double h = row_angle(f, i);
    double s, c;
    int64_t k = i - f->col0;
    if (f->same_axes && k >= 0 && k < f->ncols) {
        s = f->cs[k]; /* the same angle, so the same bits */
        c = f->cc[k];
    } else {
        s = sin(h);
        c = cos(h);
    }
    uint64_t o = f->offset[ri];
    int64_t len = (int64_t)((f->offset[ri + 1] - o) / f->d);
    int64_t ci = f->run_lo[ri] - f->col0;
    for (int64_t j = 0; j < len; j += BG_GRID_BATCH) {
        int m = (int)(len - j < BG_GRID_BATCH ? len - j : BG_GRID_BATCH);
        emit_batch(f, ci + j, m, h, s, c, o + (uint64_t)j * f->d);
    }
}

/* The starting vector -distance*beam, rotated about polar by angle v (a
 * column's). */
static void column_vector_sc(const bg_resolved *r, double s, double c,
                             double q[3])
{
    double p0[3] = {-r->source_distance_m * r->beam[0],
                    -r->source_distance_m * r->beam[1],
                    -r->source_distance_m * r->beam[2]};
    rotate(p0, r->polar, s, c, q);
}

static void column_vector(const bg_resolved *r, double v, double q[3])
{
    column_vector_sc(r, sin(v), cos(v), q);
}

/* docs/beams.md's normalization, folded into the channel pattern: with
 * raw weight w_div(p) * w_spec(c) and sum_div the sum of the divergence
 * weights of the kept points, sum(raw) = sum_div * sum(w_spec) (each a
 * numpy-style pairwise sum), and each source's weight is w_div(p) *
 * wnorm[c] with wnorm[c] = w_spec(c) * total / sum (sum), * N / sum
 * (mean) or w_spec(c) (none): one multiply a source, no pass over the
 * grid after the fill. (Within 2 ulp of raw / sum * total.) */
static void set_weight_pattern(fill_ctx *f, double sum_div)
{
    if (f->wspec == NULL)
        return;
    double sum = sum_div * bg_pairwise_sum(f->wspec, (size_t)f->d);
    double k = f->r->normalize == BG_NORM_SUM    ? f->r->total_flux / sum
               : f->r->normalize == BG_NORM_MEAN ? (double)f->g->count / sum
                                                 : 1.0;
    for (uint64_t c = 0; c < f->d; c++)
        f->wnorm[c] =
            f->r->normalize == BG_NORM_NONE ? f->wspec[c] : f->wspec[c] * k;
}

/* The sum of the Gaussian divergence weights of the kept points of an
 * untame plan, in nanoBragg's order (1 a point when flat). */
static double literal_div_sum(const fill_ctx *f)
{
    const bg_resolved *r = f->r;
    if (r->div_form != BG_DIV_GAUSS)
        return (double)(f->g->count / f->d);
    double sum = 0.0;
    for (int64_t i = 0; i < r->hdiv.count; i++) {
        double a = trim_term(&r->hdiv, i), h = axis_angle(&r->hdiv, i);
        for (int64_t j = 0; j < r->vdiv.count; j++)
            if (is_kept(r->round_div, a, trim_term(&r->vdiv, j)))
                sum += bg_div_weight(r, h, axis_angle(&r->vdiv, j));
    }
    return sum;
}

/* The untame path: nanoBragg's loop literally, serial, one point at a time
 * through the same rotate/unitize/store code. */
static void fill_literal(fill_ctx *f)
{
    const bg_resolved *r = f->r;
    uint64_t o = 0;
    double q[3], cv;
    f->cx = &q[0], f->cy = &q[1], f->cz = &q[2];
    f->cv = &cv;
    f->col0 = 0;
    set_weight_pattern(f, literal_div_sum(f));
    for (int64_t i = 0; i < r->hdiv.count; i++) {
        double a = trim_term(&r->hdiv, i);
        double h = axis_angle(&r->hdiv, i);
        for (int64_t j = 0; j < r->vdiv.count; j++) {
            if (!is_kept(r->round_div, a, trim_term(&r->vdiv, j)))
                continue;
            double t[3];
            cv = axis_angle(&r->vdiv, j);
            column_vector(r, cv, t);
            q[0] = t[0], q[1] = t[1], q[2] = t[2];
            emit_batch(f, 0, 1, h, sin(h), cos(h), o);
            o += f->d;
        }
    }
    f->cx = f->cy = f->cz = f->cv = NULL;
}

/* Each row's run of kept columns, then the offsets of the rows: a serial
 * prefix sum, so every row knows where to write whatever the threads. */
static void plan_row(const trim_plan *t, fill_ctx *f, int64_t ri)
{
    int64_t lo, n;
    row_run(t, t->ilo + ri, &lo, &n);
    f->run_lo[ri] = lo;
    f->offset[ri + 1] = (uint64_t)n; /* the length, until the prefix sum */
}

static void plan_rows(const trim_plan *t, fill_ctx *f, int64_t rows, int nt)
{
    if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t ri = 0; ri < rows; ri++)
            plan_row(t, f, ri);
    } else {
        for (int64_t ri = 0; ri < rows; ri++)
            plan_row(t, f, ri);
    }
    f->offset[0] = 0;
    for (int64_t ri = 0; ri < rows; ri++)
        f->offset[ri + 1] = f->offset[ri] + f->offset[ri + 1] * f->d;
}

/* The vector of column j (absolute index), stored at j - col0. */
static void store_column(fill_ctx *f, int64_t j)
{
    double q[3];
    double v = col_angle(f, j);
    double s = sin(v), c = cos(v);
    column_vector_sc(f->r, s, c, q);
    f->cs[j - f->col0] = s;
    f->cc[j - f->col0] = c;
    f->cv[j - f->col0] = v;
    f->cx[j - f->col0] = q[0];
    f->cy[j - f->col0] = q[1];
    f->cz[j - f->col0] = q[2];
}

/* Range [*c0, *c1] of columns any row uses. */
static void column_span(const fill_ctx *f, int64_t rows, int64_t *c0,
                        int64_t *c1)
{
    *c0 = INT64_MAX;
    *c1 = -1;
    for (int64_t ri = 0; ri < rows; ri++) {
        int64_t n = (int64_t)((f->offset[ri + 1] - f->offset[ri]) / f->d);
        if (n == 0)
            continue;
        if (f->run_lo[ri] < *c0)
            *c0 = f->run_lo[ri];
        if (f->run_lo[ri] + n - 1 > *c1)
            *c1 = f->run_lo[ri] + n - 1;
    }
}

/* Cheap check that the plan can make `points` points before any scratch is
 * allocated: a tame plan has at least one point per row (the runs
 * themselves are checked in fill_runs), an untame one is counted. */
static bool plan_matches(const trim_plan *t, uint64_t points)
{
    if (t->tame)
        return t->ihi >= t->ilo && (uint64_t)(t->ihi - t->ilo + 1) <= points;
    bool refused;
    uint64_t n = count_points(t, points, 4 * points + 1024, &refused);
    return !refused && n == points;
}

static int fill_threads(int threads, uint64_t count)
{
    if (count < BG_GRID_PARALLEL_MIN)
        return 1;
    return threads > 0 ? threads : omp_get_max_threads();
}

/* The Gaussian divergence weight of every kept point, in source order,
 * before the fill, and the normalization pattern. exp(-h^2/(2 sh^2) -
 * v^2/(2 sv^2)) is taken as the product of a row's and a column's exp (an
 * exp a row and a column, not a point: within 2 ulp of the one exp).
 * colw has room for the columns of the plan (from col0). */
static bg_status div_weights(const trim_plan *t, fill_ctx *f, int64_t rows,
                             double *colw)
{
    uint64_t points = f->g->count / f->d;
    if (f->wspec == NULL)
        return BG_OK;
    if (f->r->div_form != BG_DIV_GAUSS) {
        set_weight_pattern(f, (double)points);
        return BG_OK;
    }
    f->wdp = malloc((size_t)points * sizeof *f->wdp);
    if (f->wdp == NULL)
        return BG_NOMEM;
    const double sh = f->r->sigma_h, sv = f->r->sigma_v;
    int64_t ncols = 0;
    for (int64_t ri = 0; ri < rows; ri++) {
        int64_t end = f->run_lo[ri] - f->col0 +
                      (int64_t)((f->offset[ri + 1] - f->offset[ri]) / f->d);
        ncols = end > ncols ? end : ncols;
    }
    for (int64_t c = 0; c < ncols; c++) {
        double v = col_angle(f, f->col0 + c);
        colw[c] = exp(-(v * v) / (2.0 * sv * sv));
    }
    for (int64_t ri = 0; ri < rows; ri++) {
        double h = row_angle(f, t->ilo + ri);
        double rw = exp(-(h * h) / (2.0 * sh * sh));
        uint64_t p0 = f->offset[ri] / f->d;
        int64_t len = (int64_t)((f->offset[ri + 1] - f->offset[ri]) / f->d);
        const double *cw = colw + (f->run_lo[ri] - f->col0);
        for (int64_t j = 0; j < len; j++)
            f->wdp[p0 + (uint64_t)j] = rw * cw[j];
    }
    set_weight_pattern(f, bg_pairwise_sum(f->wdp, (size_t)points));
    return BG_OK;
}

/* The tame path: plan rows, rotate columns, then rows in parallel, each
 * writing at its own prefix offset. */
/* Whether row i's angle is column i's for every i: the same nanoBragg
 * axis (count, range and step bit for bit) and no quantile tables. Then a
 * row reuses its column's sin and cos (the same double in, the same bits
 * out) instead of computing them again. */
static bool same_angles(const fill_ctx *f)
{
    return f->hang == NULL && f->vang == NULL &&
           same_axis(&f->r->hdiv, &f->r->vdiv);
}

static bg_status fill_runs(const trim_plan *t, fill_ctx *f, int nt)
{
    int64_t rows = t->ihi - t->ilo + 1;
    f->run_lo = malloc((size_t)rows * sizeof *f->run_lo);
    f->offset = malloc((size_t)(rows + 1) * sizeof *f->offset);
    if (f->run_lo == NULL || f->offset == NULL)
        return BG_NOMEM;
    plan_rows(t, f, rows, nt);
    if (f->offset[rows] != f->g->count)
        return BG_INVALID;
    int64_t c0, c1;
    column_span(f, rows, &c0, &c1);
    f->col0 = c0;
    size_t ncols = (size_t)(c1 - c0 + 1);
    f->cx = malloc(ncols * 7 * sizeof(double));
    if (f->cx == NULL)
        return BG_NOMEM;
    f->cy = f->cx + ncols;
    f->cz = f->cy + ncols;
    f->cv = f->cz + ncols;
    f->cs = f->cv + 2 * ncols; /* after div_weights' scratch */
    f->cc = f->cs + ncols;
    f->ncols = (int64_t)ncols;
    f->same_axes = same_angles(f);
    bg_status s = div_weights(t, f, rows, f->cv + ncols);
    if (s != BG_OK)
        return s;
    if (nt > 1) {
#pragma omp parallel num_threads(nt)
        {
#pragma omp for schedule(static)
            for (int64_t j = c0; j <= c1; j++)
                store_column(f, j);
#pragma omp for schedule(dynamic, 4)
            for (int64_t ri = 0; ri < rows; ri++)
                fill_row(f, t->ilo + ri, ri);
        }
    } else {
        for (int64_t j = c0; j <= c1; j++)
            store_column(f, j);
        for (int64_t ri = 0; ri < rows; ri++)
            fill_row(f, t->ilo + ri, ri);
    }
    return BG_OK;
}

/* The quantile angles of the two axes (docs/beams.md), into one
 * allocation: h at *hang, v after it. */
static bg_status quantile_angles(const bg_resolved *r, double **hang,
                                 double **vang)
{
    size_t nh = (size_t)r->hdiv.count, nv = (size_t)r->vdiv.count;
    double *a = malloc((nh + nv) * sizeof *a);
    if (a == NULL)
        return BG_NOMEM;
    for (size_t i = 0; i < nh; i++)
        a[i] = bg_quantile(r->sigma_h, (int64_t)i, (int64_t)nh);
    for (size_t j = 0; j < nv; j++)
        a[nh + j] = bg_quantile(r->sigma_v, (int64_t)j, (int64_t)nv);
    *hang = a;
    *vang = a + nh;
    return BG_OK;
}

static void fill_ctx_free(fill_ctx *f, bg_channels *ch, double *angles)
{
    free(f->lambdas);
    free(f->lambdas_f32);
    free(f->cx);
    free(f->run_lo);
    free(f->offset);
    free(f->wdp);
    free(f->wnorm);
    free(angles);
    bg_channels_free(ch);
}

bg_status bg_grid_fill(const bg_resolved *r, bg_grid *g, int threads)
{
    if (r->semantics == BG_SEM_TORCH)
        return bg_torch_fill(r, g, threads);
    if (bg_resolved_check(r, NULL) != BG_OK || g->count == 0 || g->x == NULL)
        return BG_INVALID;
    uint64_t d = (uint64_t)bg_resolved_channels(r);
    if (g->count % d != 0)
        return BG_INVALID;
    trim_plan t;
    plan_trim(r, &t);
    uint64_t points = g->count / d;
    if (!plan_matches(&t, points))
        return BG_INVALID;
    fill_ctx f = {.r = r, .g = g, .d = d, .weight = 1.0 / (double)g->count};
#ifdef BG_GRID_AVX
    f.avx = __builtin_cpu_supports("avx");
#endif
    f.tile_reps = d <= BG_GRID_TILE_MAX / BG_GRID_BATCH ? BG_GRID_BATCH : 1;
    bool models = bg_resolved_has_models(r);
    bg_channels ch = {0};
    double *angles = NULL;
    double *hang = NULL, *vang = NULL;
    f.lambdas = malloc((size_t)d * sizeof *f.lambdas);
    f.lambdas_f32 = malloc((size_t)(d * f.tile_reps) * sizeof *f.lambdas_f32);
    f.wnorm = malloc((size_t)d * sizeof *f.wnorm);
    bool ok = f.lambdas != NULL && f.lambdas_f32 != NULL && f.wnorm != NULL &&
              (!models || bg_channels_make(r, &ch) == BG_OK) &&
              (r->div_form != BG_DIV_QUANTILES ||
               quantile_angles(r, &hang, &vang) == BG_OK);
    angles = hang;
    if (!ok) {
        fill_ctx_free(&f, &ch, angles);
        return BG_NOMEM;
    }
    for (uint64_t k = 0; k < d; k++) {
        f.lambdas[k] = models ? ch.lambda_m[k]
                              : r->lambda0_m * (1.0 + r->disp.step * (double)k -
                                                r->disp.range / 2.0);
        f.lambdas_f32[k] = (float)f.lambdas[k];
    }
    bg_tile_fill(f.lambdas_f32, (size_t)d * sizeof(float), f.tile_reps);
    f.wspec = models ? ch.weight : NULL;
    f.hang = hang;
    f.vang = vang;
    int nt = fill_threads(threads, g->count);
    bg_status s = BG_OK;
    if (t.tame)
        s = fill_runs(&t, &f, nt);
    else
        fill_literal(&f);
    if (s == BG_OK)
        g->points = points;
    fill_ctx_free(&f, &ch, angles);
    return s;
}

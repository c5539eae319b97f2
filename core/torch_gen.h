/* torch_gen.h - the PyTorch port's generator (docs/torch.md, "The
 * generator") in one floating type: included by core/torch.c once with
 * T = float and once with T = double (TS the name suffix, SIN, COS, SQRT the
 * libm functions of T). Every operation is one IEEE operation in T, in the
 * port's order (the build has -ffp-contract=off): the angles, the trim
 * test, the wavelengths, the two Rodrigues rotations and the normalization.
 * Not a header of its own: no include guard on purpose. */

#define TG_CAT_(a, b) a##_##b
#define TG_CAT(a, b)  TG_CAT_(a, b)
#define FN(name)      TG_CAT(name, TS)

/* Columns whose trim terms the count keeps on the stack. */
#define TG_STACK_COLS 512

/* Angle i of axis a: 0 for a single point, else
 * f(-range/2) + (f(i) * f(step)). */
static inline T FN(tg_angle)(const bg_axis *a, int64_t i)
{
    if (a->count == 1)
        return (T)0;
    return (T)(-a->range / 2.0) + ((T)i * (T)a->step);
}

/* (angle / f(range/2))^2 in T, or 0 when the range is not > 0. */
static inline T FN(tg_norm2)(const bg_axis *a, T angle)
{
    if (!(a->range > 0.0))
        return (T)0;
    T n = angle / (T)(a->range / 2.0);
    return n * n;
}

/* Whether the port trims at all: round_div and more than one point on an
 * axis. */
static inline bool FN(tg_trims)(const bg_resolved *r)
{
    return r->round_div && (r->hdiv.count > 1 || r->vdiv.count > 1);
}

static inline bool FN(tg_kept)(T hn2, T vn2)
{
    return hn2 + vn2 <= (T)1;
}

/* Kept points in one row whose term is hn2, over vn2[0..v). */
static inline uint64_t FN(tg_row_kept)(T hn2, const T *vn2, int64_t v)
{
    uint64_t n = 0;
    for (int64_t j = 0; j < v; j++)
        n += FN(tg_kept)(hn2, vn2[j]);
    return n;
}

/* Kept divergence points of *r, or a value > cap as soon as that is
 * certain; *refused when a trimmed rectangle exceeds work_cap points. */
static uint64_t FN(torch_points)(const bg_resolved *r, uint64_t cap,
                                 uint64_t work_cap, bool *refused)
{
    uint64_t h = (uint64_t)r->hdiv.count, v = (uint64_t)r->vdiv.count;
    *refused = false;
    if (h == 0 || v == 0)
        return 0;
    if (!FN(tg_trims)(r))
        return h > UINT64_MAX / v ? UINT64_MAX : h * v;
    if (h > work_cap / v) {
        *refused = true;
        return UINT64_MAX;
    }
    T stack[TG_STACK_COLS];
    bool cached = v <= TG_STACK_COLS;
    if (cached)
        for (uint64_t j = 0; j < v; j++)
            stack[j] =
                FN(tg_norm2)(&r->vdiv, FN(tg_angle)(&r->vdiv, (int64_t)j));
    uint64_t n = 0;
    for (uint64_t i = 0; i < h && n <= cap; i++) {
        T hn2 = FN(tg_norm2)(&r->hdiv, FN(tg_angle)(&r->hdiv, (int64_t)i));
        if (cached) {
            n += FN(tg_row_kept)(hn2, stack, (int64_t)v);
            continue;
        }
        for (uint64_t j = 0; j < v; j++)
            n += FN(tg_kept)(
                hn2,
                FN(tg_norm2)(&r->vdiv, FN(tg_angle)(&r->vdiv, (int64_t)j)));
    }
    return n;
}

/* Rodrigues about unit axis k by (c, s), the port's way:
 * kd = ((0 + k0 d0) + k1 d1) + k2 d2, x = k x d,
 * d' = ((d c) + (x s)) + ((k kd) (1 - c)). */
static inline void FN(tg_rotate)(const T k[3], T c, T s, const T d[3], T out[3])
{
    T kd = (((T)0 + k[0] * d[0]) + k[1] * d[1]) + k[2] * d[2];
    T x[3] = {k[1] * d[2] - k[2] * d[1], k[2] * d[0] - k[0] * d[2],
              k[0] * d[1] - k[1] * d[0]};
    T omc = (T)1 - c;
    for (int m = 0; m < 3; m++)
        out[m] = ((d[m] * c) + (x[m] * s)) + ((k[m] * kd) * omc);
}

/* What the fill shares; all arrays allocated before the parallel region. */
typedef struct {
    const bg_resolved *r;
    bg_grid *g;
    uint64_t d;       /* wavelengths */
    T *vn2;           /* per column: trim term */
    T *cx, *cy, *cz;  /* per column: -beam rotated about polar */
    T *lambdas;       /* d wavelengths */
    uint64_t *offset; /* per row: first point; rows + 1 entries */
    bool trims;
} FN(tg_ctx);

/* Store value u at column col (of the grid's dtype) from source o, n
 * times. */
static inline void FN(tg_splat)(void *col, bg_dtype dt, uint64_t o, T u,
                                uint64_t n)
{
    if (dt == BG_F32) {
        float *p = (float *)col + o;
        const float f = (float)u;
        for (uint64_t k = 0; k < n; k++)
            p[k] = f;
    } else {
        double *p = (double *)col + o;
        const double f = (double)u;
        for (uint64_t k = 0; k < n; k++)
            p[k] = f;
    }
}

/* The wavelengths of m points from source o on: the pattern m times. */
static inline void FN(tg_lambdas)(const FN(tg_ctx) * f, uint64_t o, uint64_t m)
{
    const bg_grid *g = f->g;
    if (g->dtype == BG_F32) {
        float *p = (float *)g->lambda + o;
        for (uint64_t b = 0; b < m; b++, p += f->d)
            for (uint64_t k = 0; k < f->d; k++)
                p[k] = (float)f->lambdas[k];
    } else {
        double *p = (double *)g->lambda + o;
        for (uint64_t b = 0; b < m; b++, p += f->d)
            for (uint64_t k = 0; k < f->d; k++)
                p[k] = (double)f->lambdas[k];
    }
}

/* One kept point's direction, d sources from o on. */
static inline void FN(tg_store)(const FN(tg_ctx) * f, uint64_t o, const T u[3])
{
    bg_grid *g = f->g;
    FN(tg_splat)(g->x, g->dtype, o, u[0], f->d);
    FN(tg_splat)(g->y, g->dtype, o, u[1], f->d);
    FN(tg_splat)(g->z, g->dtype, o, u[2], f->d);
    if (g->px != NULL) {
        double dist = f->r->source_distance_m;
        for (uint64_t k = 0; k < f->d; k++) {
            g->px[o + k] = (double)u[0] * dist;
            g->py[o + k] = (double)u[1] * dist;
            g->pz[o + k] = (double)u[2] * dist;
        }
    }
}

/* Row i: the horizontal rotation of each kept column's vector, the
 * normalization, and the stores. */
static void FN(tg_row)(const FN(tg_ctx) * f, int64_t i)
{
    const bg_resolved *r = f->r;
    uint64_t o = f->offset[i], end = f->offset[i + 1];
    if (o == end)
        return;
    T h = FN(tg_angle)(&r->hdiv, i);
    T hn2 = FN(tg_norm2)(&r->hdiv, h);
    bool rot = (h < (T)0 ? -h : h) > (T)1e-10;
    T c = COS(h), s = SIN(h);
    const T k[3] = {(T)r->vert[0], (T)r->vert[1], (T)r->vert[2]};
    uint64_t first = o;
    for (int64_t j = 0; j < r->vdiv.count; j++) {
        if (f->trims && !FN(tg_kept)(hn2, f->vn2[j]))
            continue;
        T d[3] = {f->cx[j], f->cy[j], f->cz[j]}, q[3];
        if (rot)
            FN(tg_rotate)(k, c, s, d, q);
        else
            q[0] = d[0], q[1] = d[1], q[2] = d[2];
        T n = SQRT(q[0] * q[0] + q[1] * q[1] + q[2] * q[2]);
        T u[3] = {q[0] / n, q[1] / n, q[2] / n};
        FN(tg_store)(f, o * f->d, u);
        o++;
    }
    FN(tg_splat)
    (f->g->weight, f->g->dtype, first * f->d, (T)1, (end - first) * f->d);
    FN(tg_lambdas)(f, first * f->d, end - first);
}

/* Per column: the trim term and -beam rotated about polar by the angle
 * (not rotated when |angle| <= f(1e-10)). */
static void FN(tg_columns)(FN(tg_ctx) * f)
{
    const bg_resolved *r = f->r;
    const T k[3] = {(T)r->polar[0], (T)r->polar[1], (T)r->polar[2]};
    const T d0[3] = {-(T)r->beam[0], -(T)r->beam[1], -(T)r->beam[2]};
    for (int64_t j = 0; j < r->vdiv.count; j++) {
        T v = FN(tg_angle)(&r->vdiv, j);
        f->vn2[j] = FN(tg_norm2)(&r->vdiv, v);
        T q[3] = {d0[0], d0[1], d0[2]};
        if ((v < (T)0 ? -v : v) > (T)1e-10)
            FN(tg_rotate)(k, COS(v), SIN(v), d0, q);
        f->cx[j] = q[0];
        f->cy[j] = q[1];
        f->cz[j] = q[2];
    }
}

/* The port's wavelengths in T: [f(lambda0)] for one step, else
 * f(lmin) + ((f(k) * f(lmax - lmin)) / f(d - 1)). */
static void FN(tg_wavelengths)(const bg_resolved *r, T *out)
{
    const bg_axis *a = &r->disp;
    if (a->count == 1) {
        out[0] = (T)r->lambda0_m;
        return;
    }
    double lmin = r->lambda0_m * (1.0 - a->range / 2.0);
    double lmax = r->lambda0_m * (1.0 + a->range / 2.0);
    const T base = (T)lmin, span = (T)(lmax - lmin), den = (T)(a->count - 1);
    for (int64_t k = 0; k < a->count; k++)
        out[k] = base + (((T)k * span) / den);
}

/* Points of each row, then their prefix sum: offsets independent of the
 * thread count. Returns the total. */
static uint64_t FN(tg_offsets)(FN(tg_ctx) * f)
{
    const bg_resolved *r = f->r;
    uint64_t n = 0;
    for (int64_t i = 0; i < r->hdiv.count; i++) {
        f->offset[i] = n;
        if (!f->trims) {
            n += (uint64_t)r->vdiv.count;
            continue;
        }
        T hn2 = FN(tg_norm2)(&r->hdiv, FN(tg_angle)(&r->hdiv, i));
        n += FN(tg_row_kept)(hn2, f->vn2, r->vdiv.count);
    }
    f->offset[r->hdiv.count] = n;
    return n;
}

/* The one +z source of an empty list: direction (0,0,1), weight 1, lambda0
 * (in T). */
static void FN(tg_fallback)(const FN(tg_ctx) * f)
{
    const T u[3] = {(T)0, (T)0, (T)1};
    FN(tg_store)(f, 0, u);
    FN(tg_splat)(f->g->weight, f->g->dtype, 0, (T)1, 1);
    FN(tg_splat)(f->g->lambda, f->g->dtype, 0, (T)f->r->lambda0_m, 1);
    f->g->points = 0;
}

static void FN(tg_free)(FN(tg_ctx) * f)
{
    free(f->vn2);
    free(f->lambdas);
    free(f->offset);
}

static bg_status FN(tg_alloc)(FN(tg_ctx) * f)
{
    const bg_resolved *r = f->r;
    size_t v = (size_t)r->vdiv.count, h = (size_t)r->hdiv.count;
    f->vn2 = malloc((4 * v + 1) * sizeof(T));
    f->lambdas = malloc((size_t)f->d * sizeof(T));
    f->offset = malloc((h + 1) * sizeof(uint64_t));
    if (f->vn2 == NULL || f->lambdas == NULL || f->offset == NULL) {
        FN(tg_free)(f);
        return BG_NOMEM;
    }
    f->cx = f->vn2 + v;
    f->cy = f->cx + v;
    f->cz = f->cy + v;
    return BG_OK;
}

static bg_status FN(torch_fill)(const torch_job *job)
{
    const bg_resolved *r = job->r;
    FN(tg_ctx) f = {.r = r, .g = job->g, .d = (uint64_t)r->disp.count};
    f.trims = FN(tg_trims)(r);
    if (r->hdiv.count == 0 || r->vdiv.count == 0) {
        if (job->g->count != 1)
            return BG_INVALID;
        FN(tg_fallback)(&f);
        return BG_OK;
    }
    bg_status s = FN(tg_alloc)(&f);
    if (s != BG_OK)
        return s;
    FN(tg_columns)(&f);
    uint64_t points = FN(tg_offsets)(&f);
    if (points == 0 && job->g->count == 1) {
        FN(tg_fallback)(&f);
    } else if (points * f.d != job->g->count) {
        s = BG_INVALID;
    } else {
        FN(tg_wavelengths)(r, f.lambdas);
        int64_t rows = r->hdiv.count;
        if (job->threads > 1) {
#pragma omp parallel for num_threads(job->threads) schedule(dynamic, 4)
            for (int64_t i = 0; i < rows; i++)
                FN(tg_row)(&f, i);
        } else {
            for (int64_t i = 0; i < rows; i++)
                FN(tg_row)(&f, i);
        }
        job->g->points = points;
    }
    FN(tg_free)(&f);
    return s;
}

#undef FN
#undef TG_CAT
#undef TG_CAT_
#undef TG_STACK_COLS

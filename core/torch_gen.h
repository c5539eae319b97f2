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
/* Points rotated and normalized together (stack arrays). */
#define TG_BATCH 128
/* Elements of the wavelength tile, at most. */
#define TG_TILE_MAX 65536

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
    uint64_t d;      /* wavelengths */
    T *vn2;          /* per column: trim term */
    T *cx, *cy, *cz; /* per column: -beam rotated about polar */
    void *tile;      /* the wavelengths in the grid's dtype, tile_reps
                        times over */
    uint64_t tile_reps;
    uint64_t *offset; /* per row: first point; rows + 1 entries */
    bool trims;
} FN(tg_ctx);

/* Store the m directions u of a batch, d sources each, from source o on
 * (and positions, if the grid keeps them): column by column. */
static void FN(tg_store)(const FN(tg_ctx) * f, uint64_t o, int m,
                         T u[3][TG_BATCH])
{
    bg_grid *g = f->g;
    void *cols[3] = {g->x, g->y, g->z};
    const uint64_t d = f->d;
    for (int c = 0; c < 3; c++) {
        if (g->dtype == BG_F32) {
            float *p = (float *)cols[c] + o;
            for (int b = 0; b < m; b++, p += d)
                bg_splat_f32(p, (float)u[c][b], d);
        } else {
            double *p = (double *)cols[c] + o;
            for (int b = 0; b < m; b++, p += d)
                bg_splat_f64(p, (double)u[c][b], d);
        }
    }
    if (g->px != NULL) {
        double *pos[3] = {g->px, g->py, g->pz};
        for (int c = 0; c < 3; c++)
            for (int b = 0; b < m; b++)
                bg_splat_f64(pos[c] + o + (uint64_t)b * d,
                             (double)u[c][b] * f->r->source_distance_m, d);
    }
}

/* Weights (1) and wavelengths of n points from source o on. */
static void FN(tg_store_wl)(const FN(tg_ctx) * f, uint64_t o, uint64_t n)
{
    bg_grid *g = f->g;
    size_t size = g->dtype == BG_F32 ? sizeof(float) : sizeof(double);
    if (g->dtype == BG_F32)
        bg_splat_f32((float *)g->weight + o, 1.0f, n * f->d);
    else
        bg_splat_f64((double *)g->weight + o, 1.0, n * f->d);
    bg_repeat((char *)g->lambda + o * size, f->tile, f->tile_reps, f->d, n,
              size);
}

/* Rotate the m gathered column vectors q about k by (c, s) when rot, then
 * normalize into u: the port's arithmetic, over arrays so that it
 * vectorizes (packed IEEE operations round as scalar ones). */
static void FN(tg_batch)(const T k[3], T c, T s, bool rot, int m,
                         T q[3][TG_BATCH], T u[3][TG_BATCH])
{
    const T k0 = k[0], k1 = k[1], k2 = k[2], omc = (T)1 - c;
    if (rot) {
#pragma omp simd
        for (int b = 0; b < m; b++) {
            T d0 = q[0][b], d1 = q[1][b], d2 = q[2][b];
            T kd = (((T)0 + k0 * d0) + k1 * d1) + k2 * d2;
            T x0 = k1 * d2 - k2 * d1, x1 = k2 * d0 - k0 * d2,
              x2 = k0 * d1 - k1 * d0;
            q[0][b] = ((d0 * c) + (x0 * s)) + ((k0 * kd) * omc);
            q[1][b] = ((d1 * c) + (x1 * s)) + ((k1 * kd) * omc);
            q[2][b] = ((d2 * c) + (x2 * s)) + ((k2 * kd) * omc);
        }
    }
#pragma omp simd
    for (int b = 0; b < m; b++) {
        T n = SQRT(q[0][b] * q[0][b] + q[1][b] * q[1][b] + q[2][b] * q[2][b]);
        u[0][b] = q[0][b] / n;
        u[1][b] = q[1][b] / n;
        u[2][b] = q[2][b] / n;
    }
}

/* Row i: the kept columns in batches: gather, rotate about the vertical
 * axis by the row's angle (not when |angle| <= f(1e-10)), normalize,
 * store. */
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
    T q[3][TG_BATCH], u[3][TG_BATCH];
    FN(tg_store_wl)(f, o * f->d, end - o);
    int m = 0;
    for (int64_t j = 0; j < r->vdiv.count; j++) {
        if (f->trims && !FN(tg_kept)(hn2, f->vn2[j]))
            continue;
        q[0][m] = f->cx[j];
        q[1][m] = f->cy[j];
        q[2][m] = f->cz[j];
        if (++m == TG_BATCH) {
            FN(tg_batch)(k, c, s, rot, m, q, u);
            FN(tg_store)(f, o * f->d, m, u);
            o += (uint64_t)m;
            m = 0;
        }
    }
    if (m > 0) {
        FN(tg_batch)(k, c, s, rot, m, q, u);
        FN(tg_store)(f, o * f->d, m, u);
    }
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
 * f(lmin) + ((f(k) * f(lmax - lmin)) / f(d - 1)); stored in the grid's
 * dtype, tile_reps times over. */
static void FN(tg_wavelengths)(FN(tg_ctx) * f)
{
    const bg_resolved *r = f->r;
    const bg_axis *a = &r->disp;
    bool f32 = f->g->dtype == BG_F32;
    double lmin = r->lambda0_m * (1.0 - a->range / 2.0);
    double lmax = r->lambda0_m * (1.0 + a->range / 2.0);
    const T base = (T)lmin, span = (T)(lmax - lmin), den = (T)(a->count - 1);
    for (int64_t k = 0; k < a->count; k++) {
        T w = a->count == 1 ? (T)r->lambda0_m : base + (((T)k * span) / den);
        if (f32)
            ((float *)f->tile)[k] = (float)w;
        else
            ((double *)f->tile)[k] = (double)w;
    }
    size_t row = (size_t)f->d * (f32 ? sizeof(float) : sizeof(double));
    bg_tile_fill(f->tile, row, f->tile_reps);
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
    T u[3][TG_BATCH];
    u[0][0] = (T)0, u[1][0] = (T)0, u[2][0] = (T)1;
    FN(tg_ctx) one = *f;
    one.d = 1;
    FN(tg_store)(&one, 0, 1, u);
    if (f->g->dtype == BG_F32) {
        ((float *)f->g->weight)[0] = 1.0f;
        ((float *)f->g->lambda)[0] = (float)(T)f->r->lambda0_m;
    } else {
        ((double *)f->g->weight)[0] = 1.0;
        ((double *)f->g->lambda)[0] = (double)(T)f->r->lambda0_m;
    }
    f->g->points = 0;
}

static void FN(tg_free)(FN(tg_ctx) * f)
{
    free(f->vn2);
    free(f->tile);
    free(f->offset);
}

static bg_status FN(tg_alloc)(FN(tg_ctx) * f)
{
    const bg_resolved *r = f->r;
    size_t v = (size_t)r->vdiv.count, h = (size_t)r->hdiv.count;
    size_t size = f->g->dtype == BG_F32 ? sizeof(float) : sizeof(double);
    f->tile_reps = f->d <= TG_TILE_MAX / TG_BATCH ? TG_BATCH : 1;
    f->vn2 = malloc((4 * v + 1) * sizeof(T));
    f->tile = malloc((size_t)(f->d * f->tile_reps) * size);
    f->offset = malloc((h + 1) * sizeof(uint64_t));
    if (f->vn2 == NULL || f->tile == NULL || f->offset == NULL) {
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
        FN(tg_wavelengths)(&f);
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
#undef TG_BATCH
#undef TG_TILE_MAX

/* bench_core.c - `make bench`: times the core's grid against a plain C loop in
 * nanoBragg.c's style (tests/support/nanobragg_ref.h, the reference of
 * tests/core/test_grid.c; its output is compared with the core's once, byte
 * for byte, before timing) and against memset of the same bytes (with as many
 * threads as the core), all measured in the same run with the same compiler
 * flags, and prints whether the goals of issue 2 are met.
 * Then the beam models (docs/beams.md): a 100-channel table spectrum with
 * Gaussian divergence weights on nanoBragg's 25x25 grid (about 49k
 * sources) beside the top hat, in nanoseconds a source.
 *
 * One "grid" is the work of a request once its columns exist: count and
 * fill x, y, z, weight, lambda (float64, no positions), on both sides, into
 * the same columns; a "cold" column adds allocation and free. Times
 * are medians of repeats. The naive loop is serial, as nanoBragg's is. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/grid.h"
#include "core/params.h"
#include "core/resolve.h"
#include "core/torch.h"
#include "tests/support/nanobragg_ref.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return t[n / 2];
}

/* ---- the naive baseline: nanoBragg.c's source loop ----------------------
 * tests/support/nanobragg_ref.h, the reference test_grid.c holds the core
 * to; positions off, as the core's side here. */

typedef nanobragg_cols naive_grid;

/* Count (a first pass, as nanoBragg counts its sources), then fill the
 * columns of *out, which has room for them. */
static double naive_grid_once(const bg_resolved *r, const bg_grid *out,
                              size_t *count)
{
    double t0 = now();
    naive_grid g = {0};
    g.n = nanobragg_pass(r, &g);
    if (g.n > out->count) {
        fprintf(stderr, "naive: %llu sources, room for %llu\n",
                (unsigned long long)g.n, (unsigned long long)out->count);
        exit(1);
    }
    g.x = out->x, g.y = out->y, g.z = out->z, g.w = out->weight;
    g.l = out->lambda;
    nanobragg_pass(r, &g);
    *count = g.n;
    return now() - t0;
}

/* ---- the core ---------------------------------------------------------- */

/* Count and fill into *g (allocated for the count): the core's work. */
static double core_grid_once(const bg_resolved *r, int threads, bg_grid *g)
{
    double t0 = now();
    uint64_t n;
    bg_error err;
    if (bg_grid_count(r, UINT64_C(100000000), &n, NULL, &err) != BG_OK ||
        n != g->count || bg_grid_fill(r, g, threads) != BG_OK) {
        fprintf(stderr, "core: failed (%s)\n", err.detail);
        exit(1);
    }
    return now() - t0;
}

/* The same with allocation and free: what a request pays on fresh memory. */
static double core_cold_once(const bg_resolved *r, int threads)
{
    double t0 = now();
    uint64_t n;
    bg_grid g;
    if (bg_grid_count(r, UINT64_C(100000000), &n, NULL, NULL) != BG_OK ||
        bg_grid_alloc(&g, n, BG_F64, 0) != BG_OK ||
        bg_grid_fill(r, &g, threads) != BG_OK)
        exit(1);
    bg_grid_free(&g);
    return now() - t0;
}

/* memset the same five columns with `threads` threads, as many as the
 * core's fill it is compared with: each thread sets its own contiguous
 * share of every column. */
static double memset_once(const bg_grid *g, int threads)
{
    double t0 = now();
    size_t n = (size_t)g->count;
    double *cols[5] = {g->x, g->y, g->z, g->weight, g->lambda};
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        size_t lo = n * (size_t)t / (size_t)nt;
        size_t hi = n * (size_t)(t + 1) / (size_t)nt;
        for (int c = 0; c < 5; c++)
            memset(cols[c] + lo, 0x11, (hi - lo) * sizeof(double));
    }
    return now() - t0;
}

/* ---- the table ---------------------------------------------------------- */

typedef struct {
    const char *name;
    int64_t divsteps, dispsteps;
    int reps;
    uint64_t count;
    double naive, core1, coreN, cold1, memset;
} bench_case;

/* *p resolved, or a message naming the case and exit 1. */
static bg_resolved resolve_or_exit(const bg_params *p, const char *name)
{
    bg_resolved r;
    bg_error err;
    if (bg_resolve(p, &r, &err) != BG_OK) {
        fprintf(stderr, "%s: %s\n", name, err.detail);
        exit(1);
    }
    return r;
}

static bg_resolved resolve_case(const bench_case *c)
{
    bg_params p;
    bg_params_init(&p);
    p.divergence_mrad = (bg_opt_real){true, 0.5};
    p.divsteps = (bg_opt_count){true, c->divsteps};
    p.dispersion_percent = (bg_opt_real){true, 0.1};
    p.dispsteps = (bg_opt_count){true, c->dispsteps};
    return resolve_or_exit(&p, c->name);
}

/* Which thing a timing loop runs. */
typedef enum { RUN_CORE, RUN_CORE_COLD, RUN_NAIVE, RUN_MEMSET } run_kind;

static double run_once(run_kind k, const bg_resolved *r, int threads,
                       bg_grid *g)
{
    size_t n;
    switch (k) {
    case RUN_CORE:
        return core_grid_once(r, threads, g);
    case RUN_CORE_COLD:
        return core_cold_once(r, threads);
    case RUN_NAIVE:
        return naive_grid_once(r, g, &n);
    default:
        return memset_once(g, threads);
    }
}

/* Median of reps runs after one warm-up, at `threads` OpenMP threads. */
static double time_median(run_kind k, const bg_resolved *r, int threads,
                          bg_grid *g, int reps)
{
    double *t = malloc((size_t)reps * sizeof *t);
    omp_set_num_threads(threads);
    run_once(k, r, threads, g);
    for (int i = 0; i < reps; i++)
        t[i] = run_once(k, r, threads, g);
    double m = median(t, reps);
    free(t);
    return m;
}

/* Medians of nk things timed in turn, one run of each per repeat, so that
 * noise from a shared machine falls on all of them alike. */
enum { MAX_KINDS = 8 };

static void time_interleaved(const run_kind *k, const int *threads, int nk,
                             const bg_resolved *r, bg_grid *g, int reps,
                             double *out)
{
    double *t[MAX_KINDS];
    for (int j = 0; j < nk; j++) {
        t[j] = malloc((size_t)reps * sizeof *t[j]);
        omp_set_num_threads(threads[j]);
        run_once(k[j], r, threads[j], g);
    }
    for (int i = 0; i < reps; i++)
        for (int j = 0; j < nk; j++) {
            omp_set_num_threads(threads[j]);
            t[j][i] = run_once(k[j], r, threads[j], g);
        }
    for (int j = 0; j < nk; j++) {
        out[j] = median(t[j], reps);
        free(t[j]);
    }
}

/* The naive loop's output, in *naive, equals the core's byte for byte
 * (what test_grid.c checks, checked here once on the very grids timed, so
 * the two sides do the same work); exits otherwise. */
static void expect_same_as_core(const char *name, const bg_resolved *r,
                                const bg_grid *naive, int threads)
{
    bg_grid g;
    if (bg_grid_alloc(&g, naive->count, BG_F64, 0) != BG_OK)
        exit(1);
    omp_set_num_threads(threads);
    core_grid_once(r, threads, &g);
    size_t b = (size_t)g.count * sizeof(double);
    const struct {
        const char *what;
        const double *a, *b;
    } col[] = {{"x", naive->x, g.x},
               {"y", naive->y, g.y},
               {"z", naive->z, g.z},
               {"weight", naive->weight, g.weight},
               {"lambda", naive->lambda, g.lambda}};
    for (size_t i = 0; i < sizeof col / sizeof col[0]; i++)
        if (memcmp(col[i].a, col[i].b, b) != 0) {
            fprintf(stderr, "%s: the naive loop's %s differs from the core's\n",
                    name, col[i].what);
            exit(1);
        }
    bg_grid_free(&g);
}

static void run_case(bench_case *c, int all)
{
    bg_resolved r = resolve_case(c);
    bg_grid g;
    if (bg_grid_count(&r, UINT64_C(100000000), &c->count, NULL, NULL) !=
            BG_OK ||
        bg_grid_alloc(&g, c->count, BG_F64, 0) != BG_OK)
        exit(1);
    size_t n;
    naive_grid_once(&r, &g, &n);
    if ((uint64_t)n != c->count) {
        fprintf(stderr, "%s: naive %zu sources, core %llu\n", c->name, n,
                (unsigned long long)c->count);
        exit(1);
    }
    expect_same_as_core(c->name, &r, &g, all);
    const run_kind k[5] = {RUN_CORE, RUN_CORE, RUN_NAIVE, RUN_MEMSET,
                           RUN_CORE_COLD};
    const int th[5] = {1, all, 1, all, all}; /* memset: as many as core allT */
    double m[5];
    time_interleaved(k, th, 5, &r, &g, c->reps, m);
    c->core1 = m[0], c->coreN = m[1], c->naive = m[2], c->memset = m[3];
    c->cold1 = m[4];
    bg_grid_free(&g);
}

/* ---- the beam models (docs/beams.md) ---------------------------------- */

/* The 25x25 round grid of S with, when `models`, a 100-channel table
 * spectrum (spiky weights, as a SASE shot) and Gaussian divergence weights,
 * normalized to a total flux; else nanoBragg's top hat with 100
 * dispersion steps (the same count of sources). */
static bg_resolved resolve_beam(bool models)
{
    bg_params p;
    bg_params_init(&p);
    p.divergence_mrad = (bg_opt_real){true, 0.5};
    p.divsteps = (bg_opt_count){true, 25};
    if (!models) {
        p.dispersion_percent = (bg_opt_real){true, 0.1};
        p.dispsteps = (bg_opt_count){true, 100};
    } else {
        bg_spectrum_params *s = &p.spectrum;
        s->kind = BG_SPECTRUM_TABLE;
        s->lambda_A = (bg_opt_array){true, 100, malloc(100 * sizeof(double))};
        s->weights = (bg_opt_array){true, 100, malloc(100 * sizeof(double))};
        for (int k = 0; k < 100; k++) {
            s->lambda_A.v[k] = 1.29 + k * 3.3333e-5;
            s->weights.v[k] = 1.0 + 1000.0 * fabs(sin(k * 0.7) * sin(k * 0.13));
        }
        p.divergence_profile = (bg_divprof_params){.given = true,
                                                   .kind = BG_DIVPROF_GAUSSIAN,
                                                   .sigma_h_mrad = {true, 0.15},
                                                   .sigma_v_mrad = {true, 0.1}};
        p.weights.total_flux = (bg_opt_real){true, 1e12};
    }
    bg_resolved r = resolve_or_exit(&p, "beam");
    bg_params_free(&p);
    return r;
}

/* Per-source cost of the top hat (S's 25x25x9, and 25x25x100) and of the
 * models, one thread, timed in turn. Returns 1 when the models cost no
 * more a source than the top hat S (the ratio to the top hat of the same
 * size is printed beside it). */
static int run_beams(void)
{
    bench_case s9 = {"S", 25, 9, 0, 0, 0, 0, 0, 0, 0};
    bg_resolved rs = resolve_case(&s9);
    bg_resolved flat = resolve_beam(false), beam = resolve_beam(true);
    const bg_resolved *rr[3] = {&rs, &flat, &beam};
    const char *names[3] = {"top hat 25x25x9", "top hat 25x25x100",
                            "models 25x25 x 100-ch table, Gaussian div"};
    double ns[3];
    bg_grid g[3];
    uint64_t n[3];
    for (int i = 0; i < 3; i++)
        if (bg_grid_count(rr[i], UINT64_C(100000000), &n[i], NULL, NULL) !=
                BG_OK ||
            bg_grid_alloc(&g[i], n[i], BG_F64, 0) != BG_OK)
            exit(1);
    enum { REPS = 301 };
    double *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = malloc(REPS * sizeof(double));
        core_grid_once(rr[i], 1, &g[i]);
    }
    omp_set_num_threads(1);
    for (int k = 0; k < REPS; k++)
        for (int i = 0; i < 3; i++)
            t[i][k] = core_grid_once(rr[i], 1, &g[i]);
    printf("\nbeam models (docs/beams.md), 1 thread, medians of %d, timed in "
           "turn:\n",
           REPS);
    for (int i = 0; i < 3; i++) {
        ns[i] = median(t[i], REPS) / (double)n[i] * 1e9;
        printf("  %-44s %7llu sources %8.1f us %6.2f ns/source\n", names[i],
               (unsigned long long)n[i], median(t[i], REPS) * 1e6, ns[i]);
        free(t[i]);
        bg_grid_free(&g[i]);
    }
    bg_resolved_free(&beam);
    printf("  models / top hat of the same size: %.2fx; / top hat S: %.2fx\n",
           ns[2] / ns[1], ns[2] / ns[0]);
    return ns[2] <= ns[0];
}

static const char *verdict(int ok)
{
    return ok ? "met" : "NOT met";
}

/* ---- both semantics x both dtypes (issue 10) ---------------------------
 * The PyTorch port's vectorized generator, measured on 2 cores: 0.56 ms
 * (float32) and 1.09 ms (float64) at 25x25x9, 5.7 and 9.6 ms at 51x51x21.
 * The goal is 100x faster at equal dtype: count + fill into columns of that
 * dtype. Requests: divergence 0.24 mrad (25) or 0.5 mrad (51) on both
 * axes, dispersion 0.2 %; hdivsteps/vdivsteps for the port (it ignores
 * divsteps). */

typedef struct {
    const char *name;
    int64_t steps, dispsteps;
    double div_mrad;
    int reps;
    double goal_us[2]; /* float32, float64 */
} dtype_case;

static bg_resolved resolve_dtype_case(const dtype_case *c, bg_semantics sem,
                                      bg_dtype dt)
{
    bg_params p;
    bg_params_init(&p);
    p.semantics = sem;
    if (sem == BG_SEM_TORCH) {
        p.dtype_given = true;
        p.dtype = dt;
    }
    p.hdivsteps = p.vdivsteps = (bg_opt_count){true, c->steps};
    p.divergence_mrad = (bg_opt_real){true, c->div_mrad};
    p.dispersion_percent = (bg_opt_real){true, 0.2};
    p.dispsteps = (bg_opt_count){true, c->dispsteps};
    return resolve_or_exit(&p, c->name);
}

/* Median count + fill of *r into columns of dt, at `threads`. */
static double time_dtype(const bg_resolved *r, bg_dtype dt, int threads,
                         int reps, uint64_t *count)
{
    bg_grid g;
    if (bg_grid_count(r, UINT64_C(100000000), count, NULL, NULL) != BG_OK ||
        bg_grid_alloc(&g, *count, dt, 0) != BG_OK)
        exit(1);
    double *t = malloc((size_t)reps * sizeof *t);
    omp_set_num_threads(threads);
    core_grid_once(r, threads, &g);
    for (int i = 0; i < reps; i++)
        t[i] = core_grid_once(r, threads, &g);
    double m = median(t, reps);
    free(t);
    bg_grid_free(&g);
    return m;
}

static int dtype_table(int all)
{
    static const dtype_case cases[] = {
        {"25x25x9", 25, 9, 0.24, 4001, {5.6, 10.9}},
        {"51x51x21", 51, 21, 0.5, 801, {57.0, 96.0}},
    };
    static const bg_semantics sems[2] = {BG_SEM_NANOBRAGG, BG_SEM_TORCH};
    static const bg_dtype dts[2] = {BG_F32, BG_F64};
    int ok = 1;
    printf("\nboth semantics x both dtypes (count + fill into columns of the "
           "dtype; goal:\n100x faster than the PyTorch port's vectorized "
           "function at equal dtype,\nits 0.56/1.09 ms at 25x25x9 and 5.7/9.6 "
           "ms at 51x51x21 on 2 cores):\n");
    printf("%-9s %-15s %-7s %8s %11s %11s %9s  %s\n", "case", "semantics",
           "dtype", "sources", "core 1T", "core allT", "goal", "");
    for (size_t c = 0; c < 2; c++) {
        double f32_default = 0, f64_default = 0;
        for (int s = 0; s < 2; s++)
            for (int d = 0; d < 2; d++) {
                bg_resolved r = resolve_dtype_case(&cases[c], sems[s], dts[d]);
                uint64_t n = 0;
                double t1 = time_dtype(&r, dts[d], 1, cases[c].reps, &n);
                double tn = time_dtype(&r, dts[d], all, cases[c].reps, &n);
                double best = t1 < tn ? t1 : tn;
                double goal = cases[c].goal_us[d];
                int met = best * 1e6 <= goal;
                ok &= met;
                if (s == 0)
                    *(d == 0 ? &f32_default : &f64_default) = best;
                printf("%-9s %-15s %-7s %8llu %8.1f us %8.1f us %6.1f us  "
                       "%s\n",
                       cases[c].name, bg_semantics_name(sems[s]),
                       d == 0 ? "float32" : "float64", (unsigned long long)n,
                       t1 * 1e6, tn * 1e6, goal, verdict(met));
            }
        int faster = f32_default <= f64_default;
        ok &= faster;
        printf("%-9s nanobragg float32 no slower than float64: %.1f vs %.1f "
               "us  %s\n",
               cases[c].name, f32_default * 1e6, f64_default * 1e6,
               verdict(faster));
    }
    return ok;
}

int main(int argc, char **argv)
{
    int all = omp_get_num_procs();
    if (argc > 1 && strcmp(argv[1], "--dtypes") == 0) /* that table only */
        return dtype_table(all) ? 0 : 0;
    bench_case cases[] = {
        {"S 25x25x9", 25, 9, 2001, 0, 0, 0, 0, 0, 0},
        {"M 51x51x21", 51, 21, 401, 0, 0, 0, 0, 0, 0},
        {"L 1101x1101x10", 1101, 10, 15, 0, 0, 0, 0, 0, 0},
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < ncases; i++)
        run_case(&cases[i], all);
    bench_case *L = &cases[ncases - 1];
    double L2 = L->coreN;
    if (all > 2) {
        bg_resolved r = resolve_case(L);
        bg_grid g;
        if (bg_grid_alloc(&g, L->count, BG_F64, 0) != BG_OK)
            exit(1);
        L2 = time_median(RUN_CORE, &r, 2, &g, L->reps);
        bg_grid_free(&g);
    }

    printf("beamgrid core bench, %d CPUs. One grid = count + fill of x, y, z, "
           "weight, lambda\n(float64) into columns allocated once; naive = "
           "nanoBragg-style serial loop\n(count pass + fill pass, 4 trig "
           "calls per point), same flags, same columns.\nMedians of reps, "
           "the columns timed in turn within each repeat;\n'cold' adds alloc + "
           "free (fresh pages) to the core, all threads;\nmemset sets the same "
           "columns with all threads too (each its own share)."
           "\n\n",
           all);
    printf("%-15s %9s %5s %11s %11s %11s %7s %7s %11s %11s %9s\n", "case",
           "sources", "reps", "naive", "core 1T", "core allT", "1T/nv",
           "allT/nv", "cold allT", "memset allT", "allT GB/s");
    for (int i = 0; i < ncases; i++) {
        bench_case *c = &cases[i];
        double b = (double)c->count * 5.0 * sizeof(double);
        printf("%-15s %9llu %5d %8.1f us %8.1f us %8.1f us %6.3fx %6.3fx "
               "%8.1f us %8.1f us %9.2f\n",
               c->name, (unsigned long long)c->count, c->reps, c->naive * 1e6,
               c->core1 * 1e6, c->coreN * 1e6, c->core1 / c->naive,
               c->coreN / c->naive, c->cold1 * 1e6, c->memset * 1e6,
               b / c->coreN / 1e9);
    }
    double bytes = (double)L->count * 5.0 * sizeof(double);
    printf("\nL: %.0f MB of output; memset (%d threads) %.2f GB/s, core "
           "(%d threads) %.2f GB/s\n",
           bytes / 1e6, all, bytes / L->memset / 1e9, all,
           bytes / L->coreN / 1e9);
    if (all >= 2)
        printf("L: 1 thread %.1f us, 2 threads %.1f us, speedup %.2fx\n",
               L->core1 * 1e6, L2 * 1e6, L->core1 / L2);

    double rs = cases[0].core1 / cases[0].naive;
    double rm = cases[1].core1 / cases[1].naive;
    double bw = L->memset / L->coreN;
    printf("\ngoals:\n");
    printf("  core (1 thread) <= 0.5x naive on S: %.3fx  %s\n", rs,
           verdict(rs <= 0.5));
    printf("  core (1 thread) <= 0.5x naive on M: %.3fx  %s\n", rm,
           verdict(rm <= 0.5));
    if (all >= 2)
        printf("  >= 1.5x from 1 to 2 threads on L: %.2fx  %s\n", L->core1 / L2,
               verdict(L->core1 / L2 >= 1.5));
    else
        printf("  >= 1.5x from 1 to 2 threads on L: not measurable on 1 "
               "CPU\n");
    printf("  >= 0.3x memset bandwidth on L (both all threads): %.2fx  %s\n",
           bw, verdict(bw >= 0.3));
    int beams_ok = run_beams();
    printf("  beam models cost no more a source than the top hat (S): %s\n",
           verdict(beams_ok));
    dtype_table(all);
    return 0;
}

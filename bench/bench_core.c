/* bench_core.c - `make bench`: times the core's grid against a plain C loop in
 * nanoBragg.c's style (the "naive" section below, kept here as the baseline)
 * and against memset of the same bytes, all measured in the same run with
 * the same compiler flags, and prints whether the goals of issue 2 are met.
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

/* ---- the naive baseline: nanoBragg.c's source loop -------------------- */

typedef struct {
    size_t n;
    double *x, *y, *z, *w, *l;
} naive_grid;

/* One pass over the divergence rectangle; stores when g->x is set. */
static size_t naive_pass(const bg_resolved *r, naive_grid *g)
{
    size_t n = 0;
    int64_t hs = r->hdiv.count, vs = r->vdiv.count, ds = r->disp.count;
    double hstep = r->hdiv.step, hrange = r->hdiv.range;
    double vstep = r->vdiv.step, vrange = r->vdiv.range;
    double weight = g->n ? 1.0 / (double)g->n : 0.0;
    for (int64_t ht = 0; ht < hs; ++ht)
        for (int64_t vt = 0; vt < vs; ++vt) {
            double hdiv = hstep * ht - hrange / 2.0;
            double vdiv = vstep * vt - vrange / 2.0;
            double test = (hdiv * hdiv - hstep * hstep / 4.0 * (1 - hs % 2)) /
                          hrange / hrange;
            test += (vdiv * vdiv - vstep * vstep / 4.0 * (1 - vs % 2)) /
                    vrange / vrange;
            if (r->round_div && test * 4.0 > 1.1)
                continue;
            if (g->x == NULL) {
                n += (size_t)ds;
                continue;
            }
            double vec[3], nv[3];
            for (int k = 0; k < 3; k++)
                vec[k] = -r->source_distance_m * r->beam[k];
            nanobragg_rotate_axis(vec, nv, r->polar, vdiv);
            nanobragg_rotate_axis(nv, vec, r->vert, hdiv);
            double mag =
                sqrt(vec[0] * vec[0] + vec[1] * vec[1] + vec[2] * vec[2]);
            for (int64_t dt = 0; dt < ds; ++dt, ++n) {
                g->x[n] = vec[0] / mag;
                g->y[n] = vec[1] / mag;
                g->z[n] = vec[2] / mag;
                g->w[n] = weight;
                g->l[n] = r->lambda0_m *
                          (1.0 + r->disp.step * dt - r->disp.range / 2.0);
            }
        }
    return n;
}

/* Count (a first pass, as nanoBragg counts its sources), then fill the
 * columns of *out, which has room for them. */
static double naive_grid_once(const bg_resolved *r, const bg_grid *out,
                              size_t *count)
{
    double t0 = now();
    naive_grid g = {0};
    g.n = naive_pass(r, &g);
    if (g.n > out->count) {
        fprintf(stderr, "naive: %zu sources, room for %llu\n", g.n,
                (unsigned long long)out->count);
        exit(1);
    }
    g.x = out->x, g.y = out->y, g.z = out->z, g.w = out->weight;
    g.l = out->lambda;
    naive_pass(r, &g);
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

/* memset the same five columns. */
static double memset_once(const bg_grid *g)
{
    double t0 = now();
    size_t b = (size_t)g->count * sizeof(double);
    memset(g->x, 0x11, b);
    memset(g->y, 0x11, b);
    memset(g->z, 0x11, b);
    memset(g->weight, 0x11, b);
    memset(g->lambda, 0x11, b);
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

static bg_resolved resolve_case(const bench_case *c)
{
    bg_params p;
    bg_params_init(&p);
    p.divergence_mrad = (bg_opt_real){true, 0.5};
    p.divsteps = (bg_opt_count){true, c->divsteps};
    p.dispersion_percent = (bg_opt_real){true, 0.1};
    p.dispsteps = (bg_opt_count){true, c->dispsteps};
    bg_resolved r;
    bg_error err;
    if (bg_resolve(&p, &r, &err) != BG_OK) {
        fprintf(stderr, "%s: %s\n", c->name, err.detail);
        exit(1);
    }
    return r;
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
        return memset_once(g);
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
    const run_kind k[5] = {RUN_CORE, RUN_CORE, RUN_NAIVE, RUN_MEMSET,
                           RUN_CORE_COLD};
    const int th[5] = {1, all, 1, 1, all};
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
    bg_resolved r;
    bg_error err;
    if (bg_resolve(&p, &r, &err) != BG_OK) {
        fprintf(stderr, "beam: %s\n", err.detail);
        exit(1);
    }
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

int main(void)
{
    int all = omp_get_num_procs();
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
           "free (fresh pages) to the core, all threads."
           "\n\n",
           all);
    printf("%-15s %9s %5s %11s %11s %11s %7s %7s %11s %11s %9s\n", "case",
           "sources", "reps", "naive", "core 1T", "core allT", "1T/nv",
           "allT/nv", "cold allT", "memset", "allT GB/s");
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
    printf("\nL: %.0f MB of output; memset %.2f GB/s, core (all threads) "
           "%.2f GB/s\n",
           bytes / 1e6, bytes / L->memset / 1e9, bytes / L->coreN / 1e9);
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
    printf("  >= 0.3x memset bandwidth on L (core all threads): %.2fx  %s\n",
           bw, verdict(bw >= 0.3));
    int beams_ok = run_beams();
    printf("  beam models cost no more a source than the top hat (S): %s\n",
           verdict(beams_ok));
    return 0;
}

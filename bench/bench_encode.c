/* bench_encode.c - throughput of the four encoders (api/encode*.c) on a
 * 51 x 51 x 21 grid (~43k sources), MB/s of output, median of repeats, with
 * the same JSON written by snprintf("%.17g") as the baseline measured in
 * the same run. Also a grid of all-distinct random values, the worst case
 * for the encoders' memo of repeated numbers.
 *
 * Not wired into `make bench`; build and run with
 *   make build/libbgapi.a build/libbgcore.a
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -I. -fopenmp bench/bench_encode.c \
 *       build/libbgapi.a build/libbgcore.a -ljansson -lm -o build/bench_encode
 *   ./build/bench_encode */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/encode.h"
#include "api/ids.h"
#include "api/request.h"

#define REPEATS 15

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* The JSON of encode_json.c, but every number by snprintf("%.17g"). */
static size_t json_snprintf(const bgapi_view *v, char *out)
{
    const bg_grid *g = v->grid;
    const double *x = g->x, *y = g->y, *z = g->z, *w = g->weight,
                 *l = g->lambda;
    char *p = out;
    p += sprintf(p, "{\"id\":\"%s\",\"count\":%lu,\"directions\":[", v->id,
                 (unsigned long)g->count);
    for (uint64_t i = 0; i < g->count; i++)
        p += sprintf(p, "%s[%.17g,%.17g,%.17g]", i ? "," : "", x[i], y[i],
                     z[i]);
    p += sprintf(p, "],\"weights\":[");
    for (uint64_t i = 0; i < g->count; i++)
        p += sprintf(p, "%s%.17g", i ? "," : "", w[i]);
    p += sprintf(p, "],\"wavelengths_m\":[");
    for (uint64_t i = 0; i < g->count; i++)
        p += sprintf(p, "%s%.17g", i ? "," : "", l[i]);
    p += sprintf(p, "]}");
    return (size_t)(p - out);
}

static double run_all(const bgapi_view *v, bgapi_repr r, size_t *bytes)
{
    double t[REPEATS];
    for (int k = 0; k < REPEATS; k++) {
        char *buf;
        size_t len;
        double t0 = now();
        if (bgapi_encode_all(v, r, (size_t)1 << 31, &buf, &len) != 0) {
            fprintf(stderr, "encode failed\n");
            exit(1);
        }
        t[k] = now() - t0;
        *bytes = len;
        free(buf);
    }
    return median(t, REPEATS);
}

static double run_stream(const bgapi_view *v, bgapi_repr r, size_t *bytes)
{
    static char chunk[65536];
    double t[REPEATS];
    for (int k = 0; k < REPEATS; k++) {
        size_t total = 0, n;
        double t0 = now();
        bgapi_encoder *e = bgapi_encoder_new(v, r);
        while ((n = bgapi_encoder_read(e, chunk, sizeof chunk)) > 0)
            total += n;
        bgapi_encoder_free(e);
        t[k] = now() - t0;
        *bytes = total;
    }
    return median(t, REPEATS);
}

static void report(const char *name, size_t bytes, double secs)
{
    printf("%-28s %10zu bytes %9.3f ms %9.1f MB/s\n", name, bytes,
           secs * 1e3, (double)bytes / secs / 1e6);
}

static void bench_grid(const char *title, const bgapi_view *v)
{
    static const struct {
        const char *name;
        bgapi_repr r;
    } reprs[] = {
        {"json", {BGAPI_FMT_JSON, BG_F64}}, {"npy <f8", {BGAPI_FMT_NPY, BG_F64}},
        {"npy <f4", {BGAPI_FMT_NPY, BG_F32}}, {"bin f8", {BGAPI_FMT_BIN, BG_F64}},
        {"txt (%.17g)", {BGAPI_FMT_TXT, BG_F64}},
    };
    printf("%s: %lu sources\n", title, (unsigned long)v->grid->count);
    for (size_t i = 0; i < sizeof reprs / sizeof reprs[0]; i++) {
        size_t bytes;
        char name[64];
        double s = run_all(v, reprs[i].r, &bytes);
        snprintf(name, sizeof name, "%s encode_all", reprs[i].name);
        report(name, bytes, s);
        s = run_stream(v, reprs[i].r, &bytes);
        snprintf(name, sizeof name, "%s stream 64K", reprs[i].name);
        report(name, bytes, s);
    }
    char *buf = malloc(v->grid->count * 200 + 4096);
    double t[REPEATS];
    size_t bytes = 0;
    for (int k = 0; k < REPEATS; k++) {
        double t0 = now();
        bytes = json_snprintf(v, buf);
        t[k] = now() - t0;
    }
    report("json snprintf baseline", bytes, median(t, REPEATS));
    free(buf);
}

static uint64_t rng_state = 12345;

static double uniform(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

int main(void)
{
    static const char body[] = "{\"divsteps\": 51, \"divergence_mrad\": 2.0,"
                               " \"dispsteps\": 21, \"dispersion_percent\": 0.5}";
    bg_params p;
    bgapi_problem prob;
    bg_resolved r;
    bg_error err;
    uint64_t count;
    bg_grid g;
    if (bgapi_parse_params(body, sizeof body - 1, &p, &prob) != 0 ||
        bg_resolve(&p, &r, &err) != BG_OK ||
        bg_grid_count(&r, 100000000, &count, NULL, &err) != BG_OK ||
        bg_grid_alloc(&g, count, BG_F64, BG_GRID_POSITIONS) != BG_OK ||
        bg_grid_fill(&r, &g, 1) != BG_OK) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    char id[BGAPI_ID_MAX + 1];
    bgapi_id_encode(&r, id);
    bgapi_view v = {id, &r, &g};
    bench_grid("51 x 51 x 21 grid", &v);

    /* worst case: no value repeats */
    double *cols[8] = {g.x, g.y, g.z, g.weight, g.lambda, g.px, g.py, g.pz};
    for (int c = 0; c < 8; c++)
        for (uint64_t i = 0; i < count; i++)
            cols[c][i] = (c == 4 ? 1e-10 : 1.0) * (uniform() - 0.5);
    printf("\n");
    bench_grid("same size, all values distinct", &v);
    bg_grid_free(&g);
    return 0;
}

/* bench_encode.c - `make bench`: throughput of the four encoders
 * (api/encode*.c) on the M grid (51 x 51 x 21, 44793 sources), MB/s of
 * output, median of repeats, three ways: whole (encode_all into a fresh
 * buffer of the body's size, as a cached body is built, page faults
 * included), streamed in 64 KiB reads into one buffer of the body's size
 * (pre-touched: the output as large as a real body), and streamed into
 * one 64 KiB buffer over and over (it stays in L2: the encoder alone, an
 * upper bound no real body reaches); the same JSON written by
 * snprintf("%.17g") is the baseline measured in the same run. Then the same
 * grid with every value different, the worst case for the encoders' memo
 * of repeated numbers. Every JSON and text number is parsed back (strtod)
 * and must be the identical double. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/encode.h"
#include "api/ids.h"
#include "api/request.h"

#define REPEATS       15
#define JSON_GOAL_MBS 250.0

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
        p +=
            sprintf(p, "%s[%.17g,%.17g,%.17g]", i ? "," : "", x[i], y[i], z[i]);
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

/* The same 64 KiB reads, but each into its own place in one buffer of the
 * body's size (`cap`, touched once beforehand, so no page faults are
 * timed): the output is as large as a real body, unlike the one 64 KiB
 * chunk above, which stays in L2. */
static double run_stream_body(const bgapi_view *v, bgapi_repr r, size_t cap,
                              size_t *bytes)
{
    char *body = malloc(cap);
    if (body == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memset(body, 0, cap);
    double t[REPEATS];
    for (int k = 0; k < REPEATS; k++) {
        size_t total = 0, n, want;
        double t0 = now();
        bgapi_encoder *e = bgapi_encoder_new(v, r);
        do {
            want = cap - total < 65536 ? cap - total : 65536;
            n = bgapi_encoder_read(e, body + total, want);
            total += n;
        } while (n > 0 && want > 0);
        bgapi_encoder_free(e);
        t[k] = now() - t0;
        *bytes = total;
    }
    free(body);
    return median(t, REPEATS);
}

/* Parse n numbers from p on (skipping anything that cannot start one) and
 * compare them with want(i); returns the mismatches, *end after the last. */
static uint64_t check_numbers(const char **p, uint64_t n, const double *a,
                              const double *b, const double *c, int stride)
{
    uint64_t bad = 0;
    const char *s = *p;
    for (uint64_t i = 0; i < n; i++) {
        for (int k = 0; k < stride; k++) {
            while (*s != '\0' && *s != '-' && (*s < '0' || *s > '9'))
                s++;
            char *end;
            double v = strtod(s, &end);
            const double *col = k == 0 ? a : k == 1 ? b : c;
            double want = col[i];
            if (end == s || memcmp(&v, &want, sizeof v) != 0)
                bad++;
            s = end;
        }
    }
    *p = s;
    return bad;
}

/* Every number of the JSON body parses back to the grid's double. */
static uint64_t json_round_trip(const bgapi_view *v, const char *json)
{
    const bg_grid *g = v->grid;
    const char *p = strstr(json, "\"directions\":");
    if (p == NULL)
        return UINT64_MAX;
    p += 13;
    uint64_t bad = check_numbers(&p, g->count, g->x, g->y, g->z, 3);
    p = strstr(p, "\"weights\":");
    if (p == NULL)
        return UINT64_MAX;
    p += 10;
    bad += check_numbers(&p, g->count, g->weight, NULL, NULL, 1);
    p = strstr(p, "\"wavelengths_m\":");
    if (p == NULL)
        return UINT64_MAX;
    p += 16;
    bad += check_numbers(&p, g->count, g->lambda, NULL, NULL, 1);
    return bad;
}

/* Every line of the text body is "X Y Z weight lambda", exactly. */
static uint64_t txt_round_trip(const bgapi_view *v, const char *txt)
{
    const bg_grid *g = v->grid;
    uint64_t bad = 0;
    const char *p = txt;
    const double *w = g->weight, *l = g->lambda;
    for (uint64_t i = 0; i < g->count; i++) {
        bad += check_numbers(&p, 1, g->px + i, g->py + i, g->pz + i, 3);
        bad += check_numbers(&p, 1, w + i, NULL, NULL, 1);
        bad += check_numbers(&p, 1, l + i, NULL, NULL, 1);
    }
    return bad;
}

static uint64_t round_trip(const bgapi_view *v, bgapi_repr r)
{
    char *buf;
    size_t len;
    if (bgapi_encode_all(v, r, (size_t)1 << 31, &buf, &len) != 0)
        return UINT64_MAX;
    char *z = realloc(buf, len + 1);
    if (z == NULL) {
        free(buf);
        return UINT64_MAX;
    }
    z[len] = '\0';
    uint64_t bad = r.format == BGAPI_FMT_JSON ? json_round_trip(v, z)
                                              : txt_round_trip(v, z);
    free(z);
    return bad;
}

static void report(const char *name, size_t bytes, double secs)
{
    printf("%-28s %10zu bytes %9.3f ms %9.1f MB/s\n", name, bytes, secs * 1e3,
           (double)bytes / secs / 1e6);
}

/* JSON MB/s (streamed into a body-size buffer, whole) of the last
 * bench_grid, for the goals. */
static double json_stream_mbs, json_all_mbs;
static int round_trip_ok = 1;

static void bench_grid(const char *title, const bgapi_view *v)
{
    static const struct {
        const char *name;
        bgapi_repr r;
    } reprs[] = {
        {"json", {BGAPI_FMT_JSON, BG_F64}},
        {"npy <f8", {BGAPI_FMT_NPY, BG_F64}},
        {"npy <f4", {BGAPI_FMT_NPY, BG_F32}},
        {"bin f8", {BGAPI_FMT_BIN, BG_F64}},
        {"txt (%.17g)", {BGAPI_FMT_TXT, BG_F64}},
        {"npz <f8", {BGAPI_FMT_NPZ, BG_F64}},
        {"npz <f4", {BGAPI_FMT_NPZ, BG_F32}},
    };
    printf("%s: %lu sources\n", title, (unsigned long)v->grid->count);
    for (size_t i = 0; i < sizeof reprs / sizeof reprs[0]; i++) {
        size_t bytes;
        char name[64];
        double s = run_all(v, reprs[i].r, &bytes);
        snprintf(name, sizeof name, "%s encode_all", reprs[i].name);
        report(name, bytes, s);
        if (i == 0)
            json_all_mbs = (double)bytes / s / 1e6;
        size_t whole = bytes;
        s = run_stream_body(v, reprs[i].r, whole, &bytes);
        snprintf(name, sizeof name, "%s stream into body", reprs[i].name);
        report(name, bytes, s);
        if (i == 0)
            json_stream_mbs = (double)bytes / s / 1e6;
        s = run_stream(v, reprs[i].r, &bytes);
        snprintf(name, sizeof name, "%s stream 64K (L2)", reprs[i].name);
        report(name, bytes, s);
    }
    uint64_t bad_json = round_trip(v, reprs[0].r);
    uint64_t bad_txt = round_trip(v, reprs[4].r);
    printf("%-28s json: %s, txt: %s\n", "round trip (strtod)",
           bad_json == 0 ? "every number exact" : "MISMATCHES",
           bad_txt == 0 ? "every number exact" : "MISMATCHES");
    round_trip_ok = round_trip_ok && bad_json == 0 && bad_txt == 0;
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
    static const char body[] =
        "{\"divsteps\": 51, \"divergence_mrad\": 2.0,"
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
    bgapi_key key;
    if (bgapi_key_build(&key, &r, (bgapi_repr){BGAPI_FMT_JSON, BG_F64}) != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    bgapi_view v = {key.id, &r, &g};
    bench_grid("M: 51 x 51 x 21 grid", &v);
    double real_stream = json_stream_mbs, real_all = json_all_mbs;

    /* worst case: no value repeats */
    double *cols[8] = {g.x, g.y, g.z, g.weight, g.lambda, g.px, g.py, g.pz};
    for (int c = 0; c < 8; c++)
        for (uint64_t i = 0; i < count; i++)
            cols[c][i] = (c == 4 ? 1e-10 : 1.0) * (uniform() - 0.5);
    printf("\n");
    bench_grid("worst case: same size, all values distinct", &v);
    bg_grid_free(&g);
    bgapi_key_free(&key);
    printf("\ngoals:\n");
    printf(
        "  JSON >= %.0f MB/s on M, streamed into body: %.0f MB/s  %s; whole: "
        "%.0f MB/s "
        " %s\n",
        JSON_GOAL_MBS, real_stream,
        real_stream >= JSON_GOAL_MBS ? "met" : "NOT met", real_all,
        real_all >= JSON_GOAL_MBS ? "met" : "NOT met");
    printf("  JSON >= %.0f MB/s, worst case, streamed into body: %.0f MB/s  "
           "%s; whole: "
           "%.0f MB/s  %s\n",
           JSON_GOAL_MBS, json_stream_mbs,
           json_stream_mbs >= JSON_GOAL_MBS ? "met" : "NOT met", json_all_mbs,
           json_all_mbs >= JSON_GOAL_MBS ? "met" : "NOT met");
    printf("  exact round trip of every JSON and text number: %s\n",
           round_trip_ok ? "met" : "NOT met");
    return 0;
}

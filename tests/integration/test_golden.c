/* test_golden.c - every golden case through the real server.
 *
 * Each golden case (tests/golden, one JSON file each) is POSTed as JSON and the
 * grid compared to the expected one to 1e-12 relative (or the expected error
 * status checked as problem+json). Then the same grid in every other
 * representation (npy f8/f4 through numpy.load, BGRD f8/f4, the sourcefile
 * text) is checked against the JSON answer. Each runs twice: grids computed
 * inline and served from cached bodies, and grids computed on the thread pool
 * and streamed (--inline-max-kb 0). */
#include <criterion/criterion.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/server.h"

static const char *const INLINE[] = {NULL};
static const char *const POOL[] = {"--inline-max-kb", "0", NULL};

static int close_to(double a, double b, double abs_floor)
{
    double scale = fmax(fabs(a), fabs(b));
    return fabs(a - b) <= 1e-12 * scale + abs_floor;
}

static json_t *load_json(const char *text, size_t len)
{
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &err);
    cr_assert_not_null(j, "bad JSON: %s", err.text);
    return j;
}

static double num(json_t *arr, size_t i)
{
    return json_number_value(json_array_get(arr, i));
}

/* Compare a JSON answer's grid to the golden case's. */
static void check_grid(const char *name, json_t *want, json_t *got)
{
    size_t n = (size_t)json_integer_value(json_object_get(want, "count"));
    cr_assert_eq(json_integer_value(json_object_get(got, "count")),
                 (json_int_t)n, "%s: count", name);
    json_t *wd = json_object_get(want, "directions");
    json_t *gd = json_object_get(got, "directions");
    json_t *ww = json_object_get(want, "weights");
    json_t *gw = json_object_get(got, "weights");
    json_t *wl = json_object_get(want, "wavelengths_m");
    json_t *gl = json_object_get(got, "wavelengths_m");
    cr_assert_eq(json_array_size(gd), n, "%s: directions", name);
    cr_assert_eq(json_array_size(gw), n, "%s: weights", name);
    cr_assert_eq(json_array_size(gl), n, "%s: wavelengths", name);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < 3; k++) {
            double a = num(json_array_get(wd, i), k);
            double b = num(json_array_get(gd, i), k);
            cr_assert(close_to(a, b, 1e-15),
                      "%s: direction %zu.%zu %.17g vs %.17g", name, i, k, a, b);
        }
        cr_assert(close_to(num(ww, i), num(gw, i), 0), "%s: weight %zu", name,
                  i);
        cr_assert(close_to(num(wl, i), num(gl, i), 0), "%s: lambda %zu", name,
                  i);
    }
}

static char *golden_request(json_t *c)
{
    return json_dumps(json_object_get(c, "request"), JSON_COMPACT);
}

static void check_case(const bgt_server *s, const char *path)
{
    size_t len;
    char *text = bgt_read_file(path, &len);
    cr_assert_not_null(text, "%s", path);
    json_t *c = load_json(text, len);
    char *req = golden_request(c);
    bgt_response r;
    cr_assert_eq(bgt_post_json(s, "/v1/sources", req, NULL, &r), 0);
    json_t *want_status = json_object_get(c, "expect_status");
    char ct[128];
    if (want_status != NULL) {
        cr_assert_eq(r.status, json_integer_value(want_status), "%s: %ld", path,
                     r.status);
        cr_assert_str_eq(bgt_header(&r, "Content-Type", ct, sizeof ct),
                         "application/problem+json", "%s", path);
    } else {
        cr_assert_eq(r.status, 200, "%s: %ld %s", path, r.status, r.body);
        json_t *got = load_json(r.body, r.len);
        check_grid(path, c, got);
        json_decref(got);
    }
    bgt_response_free(&r);
    free(req);
    json_decref(c);
    free(text);
}

static void each_golden(void (*fn)(const bgt_server *, const char *),
                        const bgt_server *s)
{
    glob_t g;
    cr_assert_eq(glob("tests/golden/*.json", 0, NULL, &g), 0,
                 "no golden cases (run from the repository root)");
    cr_assert_geq(g.gl_pathc, 12);
    for (size_t i = 0; i < g.gl_pathc; i++)
        fn(s, g.gl_pathv[i]);
    globfree(&g);
}

static void run_with(const char *const *flags,
                     void (*fn)(const bgt_server *, const char *))
{
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    each_golden(fn, &s);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

Test(golden, json_inline)
{
    run_with(INLINE, check_case);
}

Test(golden, json_pool)
{
    run_with(POOL, check_case);
}

/* ---- the other representations against the JSON answer ---- */

typedef struct {
    size_t n;
    double *col[5]; /* x, y, z, weight, lambda */
} columns;

static void columns_from_json(json_t *j, columns *c)
{
    c->n = (size_t)json_integer_value(json_object_get(j, "count"));
    json_t *d = json_object_get(j, "directions");
    for (int k = 0; k < 5; k++)
        c->col[k] = calloc(c->n + 1, sizeof(double));
    for (size_t i = 0; i < c->n; i++) {
        for (size_t k = 0; k < 3; k++)
            c->col[k][i] = num(json_array_get(d, i), k);
        c->col[3][i] = num(json_object_get(j, "weights"), i);
        c->col[4][i] = num(json_object_get(j, "wavelengths_m"), i);
    }
}

static void columns_free(columns *c)
{
    for (int k = 0; k < 5; k++)
        free(c->col[k]);
}

static uint64_t le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void check_bin(const char *name, const bgt_response *r, const columns *c,
                      int f32)
{
    const unsigned char *b = (const unsigned char *)r->body;
    size_t size = f32 ? 4 : 8;
    cr_assert_eq(r->len, 64 + 5 * c->n * size, "%s: bin length", name);
    cr_assert_eq(memcmp(b, "BGRD", 4), 0);
    cr_assert_eq(le(b + 4, 2), 1);
    cr_assert_eq(le(b + 6, 2), size);
    cr_assert_eq(le(b + 8, 8), c->n);
    cr_assert_eq(le(b + 16, 4), 5);
    cr_assert_eq(le(b + 20, 4), 64);
    for (int k = 0; k < 5; k++) {
        for (size_t i = 0; i < c->n; i++) {
            const unsigned char *p = b + 64 + (k * c->n + i) * size;
            if (f32) {
                float v;
                memcpy(&v, p, 4);
                cr_assert(v == (float)c->col[k][i], "%s: bin f4 %d/%zu", name,
                          k, i);
            } else {
                double v;
                memcpy(&v, p, 8);
                cr_assert(v == c->col[k][i], "%s: bin f8 %d/%zu", name, k, i);
            }
        }
    }
}

static void check_txt(const char *name, const bgt_response *r, const columns *c,
                      json_t *golden)
{
    json_t *pos = json_object_get(golden, "positions_m");
    const char *p = r->body;
    cr_assert(r->len == 0 || r->body[r->len - 1] == '\n', "%s: final newline",
              name);
    cr_assert_null(strchr(r->body, '\r'), "%s: no CR", name);
    cr_assert_null(strchr(r->body, '#'), "%s: no comment", name);
    for (size_t i = 0; i < c->n; i++) {
        char *end;
        for (size_t k = 0; k < 3; k++) {
            double v = strtod(p, &end);
            cr_assert(end != p, "%s: txt line %zu", name, i);
            double want = num(json_array_get(pos, i), k);
            cr_assert(close_to(v, want, 1e-14),
                      "%s: txt pos %zu.%zu %.17g vs %.17g", name, i, k, v,
                      want);
            p = end;
        }
        cr_assert(strtod(p, &end) == c->col[3][i], "%s: txt weight %zu", name,
                  i);
        p = end;
        cr_assert(strtod(p, &end) == c->col[4][i], "%s: txt lambda %zu", name,
                  i);
        p = end;
        cr_assert_eq(*p, '\n', "%s: txt line end %zu", name, i);
        p++;
    }
    cr_assert_eq(*p, '\0', "%s: txt extra bytes", name);
}

/* npy files are checked by numpy in one python run per test: each check
 * leaves an (npy, json, dtype) triple of files and arguments. */
static const char NPY_CHECK[] =
    "import sys, json, numpy as np\n"
    "args = sys.argv[1:]\n"
    "for i in range(0, len(args), 3):\n"
    "    a = np.load(args[i]); d = json.load(open(args[i + 1]))\n"
    "    n = d['count']; dt = np.dtype('<' + args[i + 2])\n"
    "    assert a.shape == (n, 5), (args[i], a.shape)\n"
    "    assert a.dtype == dt, (args[i], a.dtype)\n"
    "    ref = np.zeros((n, 5))\n"
    "    if n:\n"
    "        ref[:, 0:3] = np.array(d['directions'])\n"
    "        ref[:, 3] = d['weights']; ref[:, 4] = d['wavelengths_m']\n"
    "    assert np.array_equal(a, ref.astype(dt)), (args[i], 'values "
    "differ')\n";

#define NPY_MAX 64
static char npy_args[NPY_MAX * 3][48];
static int npy_count;

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void check_npy(const bgt_response *npy, const bgt_response *json,
                      const char *dtype)
{
    cr_assert_lt(npy_count, NPY_MAX);
    char *a = npy_args[3 * npy_count], *b = npy_args[3 * npy_count + 1];
    snprintf(a, 48, "/tmp/bgt-%d-%d.npy", (int)getpid(), npy_count);
    snprintf(b, 48, "/tmp/bgt-%d-%d.json", (int)getpid(), npy_count);
    snprintf(npy_args[3 * npy_count + 2], 48, "%s", dtype);
    write_file(a, npy->body, npy->len);
    write_file(b, json->body, json->len);
    npy_count++;
}

static void run_npy_checks(void)
{
    char py[48], cmd[NPY_MAX * 3 * 50 + 64];
    size_t n = 0;
    snprintf(py, sizeof py, "/tmp/bgt-%d.py", (int)getpid());
    write_file(py, NPY_CHECK, sizeof NPY_CHECK - 1);
    n += (size_t)snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", py);
    for (int i = 0; i < 3 * npy_count; i++)
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " %s", npy_args[i]);
    int rc = system(cmd);
    for (int i = 0; i < npy_count; i++) {
        unlink(npy_args[3 * i]);
        unlink(npy_args[3 * i + 1]);
    }
    unlink(py);
    cr_assert_eq(rc, 0, "numpy.load checks failed (%d files)", npy_count);
}

static void get_repr(const bgt_server *s, const char *id, const char *query,
                     bgt_response *r, const char *want_type)
{
    char path[512], ct[128];
    snprintf(path, sizeof path, "/v1/sources/%s?%s", id, query);
    cr_assert_eq(bgt_request(s, "GET", path, NULL, NULL, 0, r), 0);
    cr_assert_eq(r->status, 200, "%s: %ld %s", query, r->status, r->body);
    cr_assert_str_eq(bgt_header(r, "Content-Type", ct, sizeof ct), want_type);
}

static void check_reprs(const bgt_server *s, const char *path)
{
    size_t len;
    char *text = bgt_read_file(path, &len);
    json_t *golden = load_json(text, len);
    if (json_object_get(golden, "expect_status") != NULL)
        goto out;
    char *req = golden_request(golden);
    bgt_response jr, r;
    cr_assert_eq(bgt_post_json(s, "/v1/sources", req, NULL, &jr), 0);
    cr_assert_eq(jr.status, 200);
    json_t *j = load_json(jr.body, jr.len);
    columns c;
    columns_from_json(j, &c);
    const char *id = json_string_value(json_object_get(j, "id"));
    cr_assert_not_null(id);

    get_repr(s, id, "format=bin", &r, "application/octet-stream");
    check_bin(path, &r, &c, 0);
    bgt_response_free(&r);
    get_repr(s, id, "format=bin&dtype=float32", &r, "application/octet-stream");
    check_bin(path, &r, &c, 1);
    bgt_response_free(&r);
    get_repr(s, id, "format=txt", &r, "text/plain; charset=utf-8");
    check_txt(path, &r, &c, golden);
    bgt_response_free(&r);
    get_repr(s, id, "format=npy", &r, "application/x-npy");
    check_npy(&r, &jr, "f8");
    bgt_response_free(&r);
    get_repr(s, id, "format=npy&dtype=float32", &r, "application/x-npy");
    check_npy(&r, &jr, "f4");
    bgt_response_free(&r);

    columns_free(&c);
    json_decref(j);
    bgt_response_free(&jr);
    free(req);
out:
    json_decref(golden);
    free(text);
}

Test(golden, representations_inline)
{
    run_with(INLINE, check_reprs);
    run_npy_checks();
}

Test(golden, representations_streamed)
{
    run_with(POOL, check_reprs);
    run_npy_checks();
}

/* test_npz.c - ?format=npz through the real server, read by numpy.
 *
 * For several grids (a single source up to 44,793 sources), the JSON answer
 * and the npz in float64 and float32 (by ?format= and by Accept) are
 * fetched, and one /usr/bin/python3 run checks each npz with numpy.load and
 * zipfile: the three names, shapes (N, 3), (N,), (N,), dtypes, every value
 * equal to the JSON answer's (cast to the dtype), and every member's CRC
 * (zipfile.testzip). The same npz is fetched from a server that builds and
 * caches bodies and from one that streams them (--cache-mb 0, work on the
 * executor): same ETag, same bytes. Also: the ETag's npz tag and 304 on
 * If-None-Match, a bad ?dtype= 400, X-Cache; and what a cached npz costs:
 * the grid's block plus 24 bytes a source (f8: its weights and
 * wavelengths are the block's own columns) or 20 (f4). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/server.h"

static const char *const REQUESTS[] = {
    "{}",
    "{\"divergence_mrad\": 0.5, \"divsteps\": 25, \"dispersion_percent\": 0.1,"
    " \"dispsteps\": 9}",
    "{\"hdivrange_mrad\": 0.3, \"hdivsteps\": 5, \"vdivrange_mrad\": 0.2,"
    " \"vdivsteps\": 4, \"round_div\": false, \"convention\": \"XDS\","
    " \"energy_eV\": 12000}",
    "{\"divergence_mrad\": 0.5, \"divsteps\": 51, \"dispersion_percent\": 0.2,"
    " \"dispsteps\": 21}",
};
#define NREQ (sizeof REQUESTS / sizeof REQUESTS[0])

static const char NPZ_CHECK[] =
    "import sys, json, zipfile, numpy as np\n"
    "args = sys.argv[1:]\n"
    "for i in range(0, len(args), 3):\n"
    "    path, ref, dt = args[i], json.load(open(args[i + 1])), "
    "np.dtype('<' + args[i + 2])\n"
    "    with zipfile.ZipFile(path) as z:\n"
    "        assert z.testzip() is None, (path, 'CRC')\n"
    "        assert z.namelist() == ['directions.npy', 'weights.npy', "
    "'wavelengths.npy'], z.namelist()\n"
    "        assert all(m.compress_type == zipfile.ZIP_STORED for m in "
    "z.infolist())\n"
    "    d = np.load(path)\n"
    "    assert sorted(d.files) == ['directions', 'wavelengths', 'weights'], "
    "d.files\n"
    "    n = ref['count']\n"
    "    want = {'directions': np.array(ref['directions'], "
    "dtype=np.float64).reshape(n, 3),\n"
    "            'weights': np.array(ref['weights'], dtype=np.float64),\n"
    "            'wavelengths': np.array(ref['wavelengths_m'], "
    "dtype=np.float64)}\n"
    "    for k, w in want.items():\n"
    "        a = d[k]\n"
    "        assert a.shape == w.shape, (path, k, a.shape, w.shape)\n"
    "        assert a.dtype == dt, (path, k, a.dtype)\n"
    "        assert np.array_equal(a, w.astype(dt)), (path, k, 'values')\n"
    "    print(path, n, dt, 'ok')\n";

#define FILES_MAX 64
static char args[FILES_MAX * 3][64];
static int nfiles;

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Keep an (npz, json, dtype) triple for the one python run. */
static void keep(const bgt_response *npz, const bgt_response *json,
                 const char *dtype)
{
    cr_assert_lt(nfiles, FILES_MAX);
    char *a = args[3 * nfiles], *b = args[3 * nfiles + 1];
    snprintf(a, 64, "/tmp/bgt-npz-%d-%d.npz", (int)getpid(), nfiles);
    snprintf(b, 64, "/tmp/bgt-npz-%d-%d.json", (int)getpid(), nfiles);
    snprintf(args[3 * nfiles + 2], 64, "%s", dtype);
    write_file(a, npz->body, npz->len);
    write_file(b, json->body, json->len);
    nfiles++;
}

static void run_numpy_checks(void)
{
    char py[64], cmd[FILES_MAX * 3 * 66 + 80];
    size_t n = 0;
    snprintf(py, sizeof py, "/tmp/bgt-npz-%d.py", (int)getpid());
    write_file(py, NPZ_CHECK, sizeof NPZ_CHECK - 1);
    n += (size_t)snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", py);
    for (int i = 0; i < 3 * nfiles; i++)
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " %s", args[i]);
    int rc = system(cmd);
    for (int i = 0; i < nfiles; i++) {
        unlink(args[3 * i]);
        unlink(args[3 * i + 1]);
    }
    unlink(py);
    cr_assert_eq(rc, 0, "numpy checks failed (%d files)", nfiles);
}

static void get_npz(const bgt_server *s, const char *id, const char *query,
                    const char *accept, bgt_response *r)
{
    char path[512], ct[128], hdr[160];
    const char *headers[2] = {NULL, NULL};
    if (accept != NULL) {
        snprintf(hdr, sizeof hdr, "Accept: %s", accept);
        headers[0] = hdr;
    }
    snprintf(path, sizeof path, "/v1/sources/%s%s%s", id, query ? "?" : "",
             query ? query : "");
    cr_assert_eq(bgt_request(s, "GET", path, headers, NULL, 0, r), 0);
    cr_assert_eq(r->status, 200, "%s: %ld %s", path, r->status, r->body);
    cr_assert_str_eq(bgt_header(r, "Content-Type", ct, sizeof ct),
                     "application/x-npz");
}

static void post_json(const bgt_server *s, const char *body, bgt_response *r,
                      char *id, size_t cap)
{
    cr_assert_eq(bgt_post_json(s, "/v1/sources", body, NULL, r), 0);
    cr_assert_eq(r->status, 200, "%s: %ld %s", body, r->status, r->body);
    json_error_t err;
    json_t *j = json_loadb(r->body, r->len, 0, &err);
    cr_assert_not_null(j);
    snprintf(id, cap, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

static void start(bgt_server *s, const char *const *flags)
{
    cr_assert_eq(bgt_server_start(s, flags), 0);
}

Test(npz, numpy_reads_what_json_says, .timeout = 120)
{
    static const char *const streamed[] = {"--cache-mb", "0", "--inline-max-kb",
                                           "0", NULL};
    bgt_server cached, streaming;
    start(&cached, NULL);
    start(&streaming, streamed);
    for (size_t i = 0; i < NREQ; i++) {
        bgt_response jr, a, b, c, d;
        char id[256], etag[128], etag2[128], xc[16];
        post_json(&cached, REQUESTS[i], &jr, id, sizeof id);
        get_npz(&cached, id, "format=npz", NULL, &a);
        cr_assert_not_null(bgt_header(&a, "ETag", etag, sizeof etag));
        cr_expect_not_null(strstr(etag, "-npz-f8-"), "%s", etag);
        keep(&a, &jr, "f8");
        get_npz(&cached, id, "format=npz&dtype=float32", NULL, &b);
        cr_assert_not_null(bgt_header(&b, "ETag", etag2, sizeof etag2));
        cr_expect_not_null(strstr(etag2, "-npz-f4-"), "%s", etag2);
        keep(&b, &jr, "f4");
        /* by Accept, and a second time: the cached body */
        get_npz(&cached, id, NULL, "application/x-npz", &c);
        cr_assert_eq(c.len, a.len);
        cr_assert_eq(memcmp(c.body, a.body, a.len), 0, "Accept: same bytes");
        cr_expect_str_eq(bgt_header(&c, "X-Cache", xc, sizeof xc), "HIT");
        bgt_response_free(&c);
        /* streamed by the other server: the same ETag names the same bytes */
        get_npz(&streaming, id, "format=npz", NULL, &d);
        cr_assert_not_null(bgt_header(&d, "ETag", etag2, sizeof etag2));
        cr_expect_str_eq(etag2, etag);
        cr_assert_eq(d.len, a.len, "streamed length");
        cr_assert_eq(memcmp(d.body, a.body, a.len), 0, "streamed bytes");
        bgt_response_free(&d);
        get_npz(&streaming, id, "format=npz&dtype=f4", NULL, &d);
        cr_assert_eq(d.len, b.len);
        cr_assert_eq(memcmp(d.body, b.body, b.len), 0, "streamed f4 bytes");
        bgt_response_free(&d);
        bgt_response_free(&a);
        bgt_response_free(&b);
        bgt_response_free(&jr);
    }
    run_numpy_checks();
    cr_expect_eq(bgt_server_stop(&streaming, 10), 0);
    cr_expect_eq(bgt_server_stop(&cached, 10), 0);
}

Test(npz, post_etag_304_and_bad_dtype)
{
    bgt_server s;
    start(&s, NULL);
    bgt_response r, jr;
    char id[256], etag[128], loc[300], hdr[200], ct[128];
    /* POST straight to npz */
    cr_assert_eq(
        bgt_post_json(&s, "/v1/sources?format=npz", REQUESTS[1], NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(bgt_header(&r, "Content-Type", ct, sizeof ct),
                     "application/x-npz");
    cr_assert_not_null(bgt_header(&r, "Content-Location", loc, sizeof loc));
    cr_assert_not_null(bgt_header(&r, "ETag", etag, sizeof etag));
    cr_assert_eq(memcmp(r.body, "PK\x03\x04", 4), 0);
    post_json(&s, REQUESTS[1], &jr, id, sizeof id);
    keep(&r, &jr, "f8");
    bgt_response_free(&r);
    bgt_response_free(&jr);
    /* If-None-Match: 304, empty */
    snprintf(hdr, sizeof hdr, "If-None-Match: %s", etag);
    const char *h[] = {hdr, NULL};
    char path[400];
    snprintf(path, sizeof path, "%s?format=npz", loc);
    cr_assert_eq(bgt_request(&s, "GET", path, h, NULL, 0, &r), 0);
    cr_expect_eq(r.status, 304);
    cr_expect_eq(r.len, 0);
    bgt_response_free(&r);
    /* the float32 ETag is another one */
    snprintf(path, sizeof path, "%s?format=npz&dtype=float32", loc);
    cr_assert_eq(bgt_request(&s, "GET", path, h, NULL, 0, &r), 0);
    cr_expect_eq(r.status, 200);
    bgt_response_free(&r);
    /* a bad dtype */
    snprintf(path, sizeof path, "%s?format=npz&dtype=float16", loc);
    cr_assert_eq(bgt_request(&s, "GET", path, NULL, NULL, 0, &r), 0);
    cr_expect_eq(r.status, 400);
    cr_expect_not_null(strstr(r.body, "\"dtype\""), "%s", r.body);
    bgt_response_free(&r);
    run_numpy_checks();
    cr_expect_eq(bgt_server_stop(&s, 10), 0);
}

static double cache_bytes(const bgt_server *s)
{
    double v = bgt_server_metric(s, "beamgrid_cache_bytes");
    cr_assert_geq(v, 0);
    return v;
}

Test(npz, cached_bytes_per_source)
{
    bgt_server s;
    start(&s, NULL);
    bgt_response r;
    /* 51 x 51 x 21: 44,793 sources */
    const double n = 44793;
    cr_assert_eq(
        bgt_post_json(&s, "/v1/sources?format=npz", REQUESTS[3], NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.len, (size_t)(762 + 40 * n));
    char loc[300], path[400];
    cr_assert_not_null(bgt_header(&r, "Content-Location", loc, sizeof loc));
    bgt_response_free(&r);
    double grid = cache_bytes(&s); /* the block, the npz f8 slot */
    cr_log_info("cache bytes per source, grid and npz f8: %.2f", grid / n);
    cr_expect_geq(grid, 40 * n + 24 * n);
    cr_expect_leq(grid, 40 * n + 24 * n + 4096, "%.0f: more than 24 B a source",
                  grid);
    snprintf(path, sizeof path, "%s?format=npz&dtype=float32", loc);
    cr_assert_eq(bgt_request(&s, "GET", path, NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200);
    bgt_response_free(&r);
    double both = cache_bytes(&s);
    cr_expect_geq(both - grid, 20 * n);
    cr_expect_leq(both - grid, 20 * n + 1024);
    cr_expect_eq(bgt_server_stop(&s, 10), 0);
}

/* test_ids.c - api/ids.c: canonical form layout, id round trips over many
 * resolved sets, shared ids for equivalent requests, strict decoding
 * (tampered, padded, long and garbage ids are 404; by pointer and length
 * too), hash mixing, ETag form and If-None-Match matching. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/ids.h"
#include "api/request.h"

/* Resolve a JSON request (through the real parser and bg_resolve). */
static bg_resolved resolve_json(const char *body)
{
    bg_params p;
    bgapi_problem prob;
    cr_assert_eq(bgapi_parse_params(body, strlen(body), &p, &prob), 0, "%s: %s",
                 body, prob.detail);
    bg_resolved r;
    bg_error err;
    cr_assert_eq(bg_resolve(&p, &r, &err), BG_OK, "%s: %s", body, err.detail);
    return r;
}

static const char *const requests[] = {
    "{}",
    "{\"divergence_mrad\": 0.5, \"divsteps\": 5}",
    "{\"hdivrange_mrad\": 0.28, \"hdivstep_mrad\": 0.02, \"vdivrange_mrad\":"
    " 0.28, \"vdivstep_mrad\": 0.02, \"dispersion_percent\": 0.1,"
    " \"dispsteps\": 3}",
    "{\"divsteps\": 25, \"divergence_mrad\": 2, \"dispsteps\": 9,"
    " \"dispersion_percent\": 0.5, \"round_div\": false}",
    "{\"convention\": \"XDS\", \"energy_eV\": 9000}",
    "{\"convention\": \"DIALS\", \"lambda_A\": 0.9795}",
    "{\"beam_vector\": [0.1, 0.2, 0.9], \"polar_vector\": [0, 1, 0]}",
    "{\"source_distance_mm\": 1234.5, \"hdivsteps\": 3,"
    " \"hdivrange_mrad\": 1}",
    "{\"vdivsteps\": 7, \"vdivrange_mrad\": 0.7, \"lambda_A\": 1.54}",
};
#define NREQ (sizeof requests / sizeof requests[0])

Test(ids, canonical_layout)
{
    bg_resolved r = resolve_json("{\"divsteps\": 3, \"divergence_mrad\": 1}");
    unsigned char buf[BGAPI_CANON_MAX];
    size_t n = bgapi_canonical(&r, buf);
    cr_assert_eq(n, 162);
    cr_expect_eq(buf[0], 1);
    cr_expect_eq(buf[1], 1); /* round_div */
    uint64_t count;
    memcpy(&count, buf + 2, 8);
    cr_expect_eq(count, (uint64_t)r.hdiv.count);
    double range;
    memcpy(&range, buf + 10, 8);
    cr_expect_eq(range, r.hdiv.range);
    double dist;
    memcpy(&dist, buf + 154, 8);
    cr_expect_eq(dist, r.source_distance_m);
    r.round_div = false;
    bgapi_canonical(&r, buf);
    cr_expect_eq(buf[1], 0);
}

Test(ids, round_trip)
{
    for (size_t i = 0; i < NREQ; i++) {
        bg_resolved r = resolve_json(requests[i]);
        char id[BGAPI_ID_MAX + 1];
        size_t n = bgapi_id_encode(&r, id);
        cr_assert_eq(n, strlen(id));
        cr_assert_eq(n, 216);
        for (size_t k = 0; k < n; k++)
            cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                             "vwxyz0123456789-_",
                             id[k]) != NULL);
        bg_resolved back;
        bgapi_problem prob;
        cr_assert_eq(bgapi_id_decode(id, &back, &prob), 0, "%s: %s",
                     requests[i], prob.detail);
        unsigned char a[BGAPI_CANON_MAX], b[BGAPI_CANON_MAX];
        size_t na = bgapi_canonical(&r, a), nb = bgapi_canonical(&back, b);
        cr_assert_eq(na, nb);
        cr_expect_eq(memcmp(a, b, na), 0, "%s", requests[i]);
        for (size_t j = 0; j < i; j++) {
            char other[BGAPI_ID_MAX + 1];
            bg_resolved o = resolve_json(requests[j]);
            bgapi_id_encode(&o, other);
            cr_expect_str_neq(id, other, "%zu vs %zu", i, j);
        }
    }
}

Test(ids, round_trip_sweep)
{
    for (int h = 1; h <= 30; h += 3) {
        for (int d = 1; d <= 9; d += 2) {
            char body[256];
            snprintf(body, sizeof body,
                     "{\"hdivsteps\": %d, \"vdivsteps\": %d, "
                     "\"divergence_mrad\": %g, \"dispsteps\": %d, "
                     "\"dispersion_percent\": %g, \"round_div\": %s}",
                     h, h + 1, 0.1 * h, d, 0.05 * d, d % 3 ? "true" : "false");
            bg_resolved r = resolve_json(body);
            char id[BGAPI_ID_MAX + 1], id2[BGAPI_ID_MAX + 1];
            bgapi_id_encode(&r, id);
            bg_resolved back;
            cr_assert_eq(bgapi_id_decode(id, &back, NULL), 0, "%s", body);
            bgapi_id_encode(&back, id2);
            cr_expect_str_eq(id, id2);
        }
    }
}

Test(ids, equivalent_requests_share_an_id)
{
    static const char *const pairs[][2] = {
        {"{\"divergence_mrad\": 0.5, \"divsteps\": 5}",
         "{\"hdivrange_mrad\": 0.5, \"vdivrange_mrad\": 0.5, \"hdivsteps\": 5,"
         " \"vdivsteps\": 5}"},
        {"{\"divergence_mrad\": 0.5, \"divsteps\": 5}",
         "{\"vdivsteps\": 5, \"divergence_mrad\": 0.5, \"hdivsteps\": 5}"},
        {"{}", "{\"convention\": \"mosflm\", \"round_div\": true}"},
        {"{\"convention\": \"XDS\"}", "{\"convention\": \"adxv\"}"},
        {"{\"convention\": \"MOSFLM\"}", "{\"convention\": \"DENZO\"}"},
        {"{\"lambda_A\": 1}", "{\"energy_eV\": 12398.42}"},
        {"{\"beam_vector\": [2, 0, 0]}", "{\"beam_vector\": [1, 0, 0]}"},
        {"{\"source_distance_mm\": 10000}", "{}"},
        {"{\"lambda_A\": 1.0}", "{\"lambda_A\": 1}"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        bg_resolved a = resolve_json(pairs[i][0]);
        bg_resolved b = resolve_json(pairs[i][1]);
        char ia[BGAPI_ID_MAX + 1], ib[BGAPI_ID_MAX + 1];
        bgapi_id_encode(&a, ia);
        bgapi_id_encode(&b, ib);
        cr_expect_str_eq(ia, ib, "pair %zu", i);
        char ea[BGAPI_ETAG_MAX], eb[BGAPI_ETAG_MAX];
        bgapi_repr json = {BGAPI_FMT_JSON, BG_F64};
        bgapi_etag(&a, json, ea);
        bgapi_etag(&b, json, eb);
        cr_expect_str_eq(ea, eb);
    }
}

static void expect_404(const char *id, const char *why)
{
    bg_resolved r;
    bgapi_problem prob;
    memset(&prob, 0, sizeof prob);
    cr_expect_eq(bgapi_id_decode(id, &r, &prob), -1, "%s", why);
    cr_expect_eq(prob.status, 404, "%s", why);
    cr_expect_str_eq(prob.slug, "not-found", "%s", why);
    cr_expect_not_null(strstr(prob.detail, "POST /v1/sources"));
}

Test(ids, garbage_rejected)
{
    expect_404("", "empty");
    expect_404("A", "one char");
    expect_404("AAAA", "short");
    expect_404("!!!!", "bad chars");
    bg_resolved r;
    cr_expect_eq(bgapi_id_decode(NULL, &r, NULL), -1);
    char big[4096];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_404(big, "long");
}

/* bgapi_id_decode_n reads exactly n characters: an id followed by more
 * text (as the {id} of a route is, inside its path) decodes alike, and
 * only its n characters count. */
Test(ids, decode_n_by_length)
{
    bg_resolved r = resolve_json(requests[1]);
    char text[BGAPI_ID_MAX + 16];
    size_t n = bgapi_id_encode(&r, text);
    memcpy(text + n, "/tail!", 7);
    bg_resolved back;
    bgapi_problem prob;
    cr_assert_eq(bgapi_id_decode_n(text, n, &back, &prob), 0, "%s",
                 prob.detail);
    unsigned char a[BGAPI_CANON_MAX], b[BGAPI_CANON_MAX];
    size_t na = bgapi_canonical(&r, a), nb = bgapi_canonical(&back, b);
    cr_assert_eq(na, nb);
    cr_expect_eq(memcmp(a, b, na), 0);
    cr_expect_eq(bgapi_id_decode_n(text, n + 1, &back, &prob), -1);
    cr_expect_eq(prob.status, 404);
    cr_expect_eq(bgapi_id_decode_n(text, n - 1, &back, NULL), -1);
    cr_expect_eq(bgapi_id_decode_n(text, 0, &back, NULL), -1);
    cr_expect_eq(bgapi_id_decode_n(NULL, 4, &back, NULL), -1);
    char big[BGAPI_ID_MAX + 4];
    memset(big, 'A', sizeof big);
    cr_expect_eq(bgapi_id_decode_n(big, sizeof big, &back, NULL), -1,
                 "longer than BGAPI_ID_MAX, no NUL");
}

Test(ids, tampering_rejected_or_canonical)
{
    bg_resolved r = resolve_json(requests[2]);
    char id[BGAPI_ID_MAX + 1];
    size_t n = bgapi_id_encode(&r, id);

    char t[BGAPI_ID_MAX + 8];
    /* length changes */
    memcpy(t, id, n + 1);
    t[n - 1] = '\0';
    expect_404(t, "one shorter");
    memcpy(t, id, n);
    strcpy(t + n, "A");
    expect_404(t, "one longer");
    memcpy(t, id, n);
    strcpy(t + n, "AAAA");
    expect_404(t, "four longer");
    memcpy(t, id, n);
    strcpy(t + n, "==");
    expect_404(t, "padding");
    /* standard base64 alphabet is not base64url */
    static const char bad[] = "+/=.~ %\n";
    for (size_t k = 0; k < sizeof bad - 1; k++) {
        memcpy(t, id, n + 1);
        t[n / 2] = bad[k];
        expect_404(t, "bad char");
    }
    /* version byte: first 6 bits of char 0 and 2 of char 1 */
    memcpy(t, id, n + 1);
    t[0] = 'B';
    expect_404(t, "version 5");
    /* flags byte with an unknown bit (byte 1 = bits 2..7 of char 1, 0..3 of
     * char 2) */
    memcpy(t, id, n + 1);
    t[2] = (char)(t[2] == 'I' ? 'J' : 'I');
    expect_404(t, "flags");

    /* every single-character change either fails or is itself canonical */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int rejected = 0;
    for (size_t pos = 0; pos < n; pos++) {
        for (size_t a = 0; a < 64; a += 7) {
            memcpy(t, id, n + 1);
            if (t[pos] == alphabet[a])
                continue;
            t[pos] = alphabet[a];
            bg_resolved back;
            if (bgapi_id_decode(t, &back, NULL) != 0) {
                rejected++;
                continue;
            }
            char again[BGAPI_ID_MAX + 1];
            bgapi_id_encode(&back, again);
            cr_assert_str_eq(again, t);
        }
    }
    cr_expect_gt(rejected, 500);
}

Test(ids, hash_mixes)
{
    bg_resolved r = resolve_json(requests[3]);
    unsigned char c[BGAPI_CANON_MAX];
    size_t n = bgapi_canonical(&r, c);
    uint64_t h0 = bgapi_hash64(c, n);
    cr_expect_eq(h0, bgapi_hash64(c, n));
    long total = 0;
    for (size_t bit = 0; bit < n * 8; bit++) {
        c[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        uint64_t h = bgapi_hash64(c, n);
        c[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        cr_assert_neq(h, h0, "bit %zu", bit);
        total += __builtin_popcountll(h ^ h0);
    }
    double avg = (double)total / (double)(n * 8);
    cr_expect(avg > 28.0 && avg < 36.0, "avalanche %f", avg);
    cr_expect_neq(bgapi_hash64(c, n - 1), h0);
    cr_expect_neq(bgapi_hash64(c, 0), bgapi_hash64(c, 1));
}

Test(ids, etag_form)
{
    bg_resolved r = resolve_json(requests[1]);
    static const bgapi_repr reprs[] = {
        {BGAPI_FMT_JSON, BG_F64}, {BGAPI_FMT_NPY, BG_F64},
        {BGAPI_FMT_NPY, BG_F32},  {BGAPI_FMT_BIN, BG_F64},
        {BGAPI_FMT_BIN, BG_F32},  {BGAPI_FMT_TXT, BG_F64}};
    char tags[6][BGAPI_ETAG_MAX];
    for (size_t i = 0; i < 6; i++) {
        bgapi_etag(&r, reprs[i], tags[i]);
        const char *e = tags[i];
        size_t n = strlen(e);
        cr_expect_lt(n, BGAPI_ETAG_MAX);
        cr_expect_eq(strncmp(e, "\"bg1-", 5), 0, "%s", e);
        for (int k = 5; k < 21; k++)
            cr_expect(strchr("0123456789abcdef", e[k]) != NULL, "%s", e);
        cr_expect_eq(e[21], '-');
        cr_expect_eq(e[n - 1], '"');
        char tail[16];
        snprintf(tail, sizeof tail, "-%s\"", bgapi_repr_tag(reprs[i]));
        cr_expect_str_eq(e + n - strlen(tail), tail);
        for (size_t j = 0; j < i; j++)
            cr_expect_str_neq(tags[i], tags[j]);
    }
    bg_resolved r2 = resolve_json(requests[2]);
    char other[BGAPI_ETAG_MAX];
    bgapi_etag(&r2, reprs[0], other);
    cr_expect_str_neq(other, tags[0]);
}

Test(ids, etag_matches)
{
    const char *etag = "\"bg1-0123456789abcdef-json\"";
    static const struct {
        const char *inm;
        int match;
    } cases[] = {
        {NULL, 0},
        {"", 0},
        {"*", 1},
        {" * ", 1},
        {"\"bg1-0123456789abcdef-json\"", 1},
        {"W/\"bg1-0123456789abcdef-json\"", 1},
        {"\"x\", \"bg1-0123456789abcdef-json\"", 1},
        {"\"x\",W/\"bg1-0123456789abcdef-json\" , \"y\"", 1},
        {"\"x\",\t\"bg1-0123456789abcdef-json\"\t", 1},
        {"\"bg1-0123456789abcdef-npy-f8\"", 0},
        {"\"bg1-0123456789abcdef-jso\"", 0},
        {"\"bg1-0123456789abcdef-json", 0},
        {"\"x\", \"y\"", 0},
        {"\"*\"", 0},
        {",,,", 0},
        {"W/", 0},
        {"\"\"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(bgapi_etag_matches(cases[i].inm, etag), cases[i].match,
                     "case %zu: %s", i, cases[i].inm ? cases[i].inm : "NULL");
    cr_expect_eq(bgapi_etag_matches("*", NULL), 0);
}

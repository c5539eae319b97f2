/* fuzz_request.c - libFuzzer driver over everything a client's bytes reach.
 *
 * One input is split at the first NUL-free newline into the query part
 * (format, dtype and Accept, as the server passes them) and the POST body.
 * The body goes through strict parsing, resolution, the source count with a
 * small limit, the grid and every encoder; ids are encoded, decoded and
 * compared. Every refusal is rendered as problem+json with the client's
 * bytes as the instance and must parse back as a JSON object with the same
 * status (nothing a client sends is echoed unescaped). Any crash, sanitizer
 * report or broken invariant is a finding. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/encode.h"
#include "api/ids.h"
#include "api/negotiate.h"
#include "api/request.h"
#include "api/routes.h"
#include "core/grid.h"
#include "core/resolve.h"

#define FUZZ_MAX_SOURCES 20000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Pull every representation through a small buffer and through
 * bgapi_encode_all, and insist both give the same bytes. */
static void encode_every_representation(const bgapi_view *view)
{
    static const bgapi_repr reprs[] = {
        {BGAPI_FMT_JSON, BG_F64},  {BGAPI_FMT_NPY, BG_F64},
        {BGAPI_FMT_NPY, BG_F32},   {BGAPI_FMT_BIN, BG_F64},
        {BGAPI_FMT_BIN, BG_F32},   {BGAPI_FMT_TXT, BG_F64},
        {BGAPI_FMT_NPZ, BG_F64},   {BGAPI_FMT_NPZ, BG_F32},
        {BGAPI_FMT_SVG, BG_F64},   {BGAPI_FMT_LAM, BG_F64},
        {BGAPI_FMT_DXTBX, BG_F64},
    };
    for (size_t i = 0; i < sizeof reprs / sizeof reprs[0]; i++) {
        char *all = NULL;
        size_t len = 0;
        if (bgapi_encode_all(view, reprs[i], (size_t)64 << 20, &all, &len))
            continue;
        uint64_t size = bgapi_encoded_size(view, reprs[i]);
        check(size == BGAPI_SIZE_UNKNOWN || size == len);
        bgapi_encoder *e = bgapi_encoder_new(view, reprs[i]);
        check(e != NULL);
        char chunk[BGAPI_CHUNK_MIN];
        size_t off = 0, n;
        while ((n = bgapi_encoder_read(e, chunk, sizeof chunk)) > 0) {
            check(off + n <= len && memcmp(all + off, chunk, n) == 0);
            off += n;
        }
        check(off == len);
        bgapi_encoder_free(e);
        free(all);
    }
}

static void grid_and_encode(const bg_resolved *r, const char *id)
{
    uint64_t count = 0;
    if (bg_grid_count(r, FUZZ_MAX_SOURCES, &count, NULL, NULL) != BG_OK)
        return;
    bg_grid g;
    if (bg_grid_alloc(&g, count, BG_F64, BG_GRID_POSITIONS) != BG_OK)
        return;
    check(bg_grid_fill(r, &g, 1) == BG_OK);
    bgapi_view view = {.id = id, .resolved = r, .grid = &g};
    encode_every_representation(&view);
    bg_grid_free(&g);
}

/* The key of *r into *k; its id must decode to the same key and set. */
static void ids_round_trip(const bg_resolved *r, bgapi_key *k)
{
    static const bgapi_repr json = {BGAPI_FMT_JSON, BG_F64};
    check(bgapi_key_build(k, r, json) == 0);
    bgapi_key back;
    bg_resolved rb;
    bgapi_problem prob;
    check(bgapi_key_from_id(&back, k->id, k->id_len, json, &rb, &prob) == 0);
    check(back.canon_len == k->canon_len &&
          memcmp(back.canon, k->canon, k->canon_len) == 0);
    check(strcmp(back.etag, k->etag) == 0 && back.digest == k->digest);
    check(memcmp(&rb.hdiv, &r->hdiv, sizeof rb.hdiv) == 0 &&
          memcmp(&rb.vdiv, &r->vdiv, sizeof rb.vdiv) == 0 &&
          memcmp(&rb.disp, &r->disp, sizeof rb.disp) == 0 &&
          memcmp(&rb.lambda0_m, &r->lambda0_m, sizeof rb.lambda0_m) == 0 &&
          memcmp(rb.beam, r->beam, sizeof rb.beam) == 0 &&
          memcmp(rb.polar, r->polar, sizeof rb.polar) == 0 &&
          memcmp(rb.vert, r->vert, sizeof rb.vert) == 0 &&
          memcmp(&rb.source_distance_m, &r->source_distance_m,
                 sizeof rb.source_distance_m) == 0 &&
          rb.round_div == r->round_div);
    /* the beam models (docs/beams.md) */
    const bg_spectrum *a = &rb.spectrum, *b = &r->spectrum;
    check(a->form == b->form && a->n == b->n &&
          (a->values == NULL) == (b->values == NULL) &&
          memcmp(&a->e0_eV, &b->e0_eV, sizeof a->e0_eV) == 0 &&
          memcmp(&a->fwhm_eV, &b->fwhm_eV, sizeof a->fwhm_eV) == 0 &&
          memcmp(&a->channel_eV, &b->channel_eV, sizeof a->channel_eV) == 0);
    check(a->values == NULL ||
          memcmp(a->values, b->values, 2 * (size_t)a->n * sizeof(double)) == 0);
    check(rb.div_form == r->div_form && rb.normalize == r->normalize &&
          memcmp(&rb.sigma_h, &r->sigma_h, sizeof rb.sigma_h) == 0 &&
          memcmp(&rb.sigma_v, &r->sigma_v, sizeof rb.sigma_v) == 0 &&
          memcmp(&rb.total_flux, &r->total_flux, sizeof rb.total_flux) == 0 &&
          memcmp(&rb.hc_eV_A, &r->hc_eV_A, sizeof rb.hc_eV_A) == 0);
    bg_resolved_free(&rb);
    bgapi_key_free(&back);
}

/* Render p with the hostile instance and insist on valid JSON that says
 * the same status. */
static void render_checked(const bgapi_problem *p, const char *instance)
{
    size_t len = 0;
    char *body = bgapi_problem_render(p, instance, &len);
    check(body != NULL);
    json_error_t jerr;
    json_t *j = json_loadb(body, len, 0, &jerr);
    check(j != NULL && json_is_object(j));
    check(json_integer_value(json_object_get(j, "status")) == p->status);
    json_decref(j);
    free(body);
}

/* The part before the first '\n' is "format dtype accept", space-separated;
 * each token is also tried as a route path and as an id. */
static void fuzz_query(const char *q)
{
    char buf[512];
    size_t n = strnlen(q, sizeof buf - 1);
    memcpy(buf, q, n);
    buf[n] = '\0';
    char *format = strtok(buf, " ");
    char *dtype = format ? strtok(NULL, " ") : NULL;
    char *accept = dtype ? strtok(NULL, "") : NULL;
    bgapi_repr repr;
    bgapi_problem prob;
    if (bgapi_negotiate(accept, format, dtype, &repr, &prob) != 0)
        render_checked(&prob, q);
    (void)bgapi_negotiate(format, NULL, NULL, &repr, &prob);
    bgapi_route route;
    bgapi_route_match("GET", format ? format : "", &route);
    bg_resolved r;
    bgapi_key k;
    static const bgapi_repr json = {BGAPI_FMT_JSON, BG_F64};
    if (format &&
        bgapi_key_from_id(&k, format, strlen(format), json, &r, &prob) == 0) {
        check(strcmp(k.id, format) == 0); /* only canonical ids pass */
        bgapi_key_free(&k);
        grid_and_encode(&r, format);
        bg_resolved_free(&r);
    } else if (format) {
        render_checked(&prob, format);
    }
    if (format) {
        bg_resolved zero;
        bg_resolved_init(&zero);
        check(bgapi_key_build(&k, &zero, json) == 0);
        (void)bgapi_etag_matches(format, k.etag);
        bgapi_key_free(&k);
    }
}

/* The body as a NUL-terminated string (cut at its first NUL, bounded),
 * for use as a hostile instance; a static buffer. */
static const char *body_text(const char *body, size_t len)
{
    static char text[1024];
    size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
    memcpy(text, body, n);
    text[n] = '\0';
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t qlen = nl ? (size_t)(nl - data) : 0;
    char *query = malloc(qlen + 1);
    if (!query)
        return 0;
    memcpy(query, data, qlen);
    query[qlen] = '\0';
    fuzz_query(query);
    free(query);

    const char *body = (const char *)data + (nl ? qlen + 1 : 0);
    size_t blen = size - (nl ? qlen + 1 : 0);
    bg_params p;
    bgapi_problem prob;
    if (bgapi_parse_params(body, blen, &p, &prob) != 0) {
        check(prob.status == 400 || prob.status == 422);
        render_checked(&prob, body_text(body, blen));
        return 0;
    }
    bg_resolved r;
    bg_error err;
    bg_status st = bg_resolve(&p, &r, &err);
    bg_params_free(&p);
    if (st != BG_OK) {
        check(bgapi_problem_from_core(&prob, &err) == -1);
        check(prob.status == 422);
        render_checked(&prob, NULL);
        return 0;
    }
    bgapi_key k;
    ids_round_trip(&r, &k);
    grid_and_encode(&r, k.id);
    bgapi_key_free(&k);
    bg_resolved_free(&r);
    return 0;
}

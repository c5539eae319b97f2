/* handler_sources.c - POST /v1/sources and GET|HEAD /v1/sources/{id}.
 *
 * Both end in the same path: resolved parameters -> the request key (api/
 * ids.h: canonical bytes, id, ETag, built once) -> the cache (hit, wait
 * for another request's computation, or compute) -> the negotiated
 * representation. Work is placed by its size in output bytes (--inline-
 * max-kb): small grids and bodies are made inline on the HTTP thread with
 * one thread, larger ones on the executor (compute.c), the connection
 * suspended meanwhile, so no HTTP thread ever stalls on a big grid or
 * encode.
 *
 * A cached grid is one block: 128 bytes of lead holding its npy header,
 * then the five float64 columns. The npy body is that block as it is, and
 * the BGRD body is its own 64-byte header followed by the same columns (an
 * iovec), so neither is a copy. The npz in float64 is kept without its
 * weights and wavelengths (16 bytes a source): its body slot holds the zip
 * with the interleaved directions, and the response is an iovec of that
 * and the block's own weight and wavelength columns (docs/formats.md,
 * Memory). The other representations (JSON, txt, svg, npz and npy/bin in
 * float32) are encoded once per entry into a body slot
 * (single-flight: one request builds, the others wait) when they fit a
 * quarter of the cache, and streamed through an encoder otherwise. GET
 * hits on a cached body go out through one shared MHD response. Every
 * response is covered by an entry reference (its own, or the entry's own
 * for shared responses), so eviction never frees bytes in flight.
 *
 * Why not sendfile from a memory file, as a static file server does: with
 * libmicrohttpd 0.9.75 that sends the headers as a segment of their own,
 * toggles TCP_CORK/TCP_NODELAY around the body and sends it 128 KiB at a
 * time, and measured slower than one sendmsg of headers and body from
 * memory (bench/earlier.md). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/encode.h"
#include "api/encode_svg.h"
#include "api/ids.h"
#include "api/request.h"
#include "api/warnings.h"
#include "core/grid.h"
#include "server/http.h"

#define STREAM_BLOCK        (64u * 1024u)
#define MIN_CACHED_BODY_CAP (1u << 20)

/* ---- where work goes ---- */

/* npy and bin in float64: the cached grid's own block. */
static bool block_repr(bgapi_repr r)
{
    return r.dtype == BG_F64 &&
           (r.format == BGAPI_FMT_NPY || r.format == BGAPI_FMT_BIN);
}

/* An estimate of the bytes a source costs in representation r: what the
 * encoder writes, plus, for txt, the positions computed for it. For svg,
 * whose size is bounded (body_size), the work of reading the source. */
static uint64_t body_bytes_per_source(bgapi_repr r)
{
    switch (r.format) {
    case BGAPI_FMT_JSON:
        return 120; /* 5 numbers of up to 24 characters */
    case BGAPI_FMT_TXT:
        return 128 + 64; /* 5 numbers, and 8 float64 of grid */
    case BGAPI_FMT_SVG:
        return 8; /* the columns read twice, a few angles computed */
    case BGAPI_FMT_LAM:
    case BGAPI_FMT_DXTBX:
        return 1; /* a line a channel, and one pass over the grid */
    case BGAPI_FMT_NPY:
    case BGAPI_FMT_BIN:
    case BGAPI_FMT_NPZ:
        break;
    }
    return r.dtype == BG_F32 ? 20 : 40;
}

/* Whether `bytes` of output are small enough to make on an HTTP thread. */
static bool inline_work(const bgs_request *req, uint64_t bytes)
{
    return bytes <= (uint64_t)req->srv->cfg.inline_max_kb * 1024u;
}

/* The largest body kept in an entry: a quarter of the cache. */
static size_t body_cap(const bgs_request *req)
{
    size_t cap = (size_t)req->srv->cfg.cache_mb * (1u << 20) / 4u;
    return cap < MIN_CACHED_BODY_CAP ? MIN_CACHED_BODY_CAP : cap;
}

static uint64_t count_of(const bgs_request *req)
{
    return bgs_entry_grid(req->entry)->count;
}

/* ---- positions for the text form ---- */

/* Cached grids keep no source positions: 40 bytes a source, the npy's own
 * size. The nanoBragg text form needs nanoBragg's positions, so a txt
 * body is made from the grid computed again with them, within
 * --max-memory-mb. */
typedef struct bgs_positions {
    bg_grid grid;
    bgs_cache *cache;
    uint64_t reserved;
} txt_grid;

static void txt_grid_free(txt_grid *t)
{
    bg_grid_free(&t->grid);
    if (t->reserved != 0)
        bgs_cache_unreserve(t->cache, t->reserved);
    t->reserved = 0;
}

/* Compute the grid of *r (count sources) with positions into *t with
 * `threads` threads. Returns 0, or -1 (nothing held) without memory. */
static int txt_grid_fill(txt_grid *t, bgs_cache *cache, const bg_resolved *r,
                         uint64_t count, int threads)
{
    memset(t, 0, sizeof *t);
    t->cache = cache;
    uint64_t bytes = bgs_grid_bytes(count, true);
    if (bgs_cache_reserve(cache, bytes) != 0)
        return -1;
    t->reserved = bytes;
    if (bg_grid_alloc(&t->grid, count, BG_F64, BG_GRID_POSITIONS) != BG_OK ||
        bg_grid_fill(r, &t->grid, threads) != BG_OK) {
        txt_grid_free(t);
        return -1;
    }
    return 0;
}

/* ---- building a body ---- */

/* npz in float64 of a cached grid: kept gapped (see the top). */
static bool gapped_npz(const bg_grid *g, bgapi_repr r)
{
    bgapi_view view = {NULL, NULL, g};
    return bgapi_npz_gapped_repr(&view, r);
}

/* Encode representation repr of the entry's grid into a malloc'd body of
 * at most cap bytes, with `threads` for the positions of txt. 0 or -1. */
static int build_body(bgs_cache *cache, bgs_entry *e, const bg_resolved *r,
                      const char *id, bgapi_repr repr, size_t cap, int threads,
                      char **out, size_t *len)
{
    txt_grid positions = {0};
    bgapi_view view = {id, r, bgs_entry_grid(e)};
    if (gapped_npz(view.grid, repr)) {
        bgapi_npz_gaps gaps;
        return bgapi_npz_encode_gapped(&view, cap, out, len, &gaps);
    }
    if (repr.format == BGAPI_FMT_TXT) {
        if (txt_grid_fill(&positions, cache, r, view.grid->count, threads) != 0)
            return -1;
        view.grid = &positions.grid;
    }
    int rc = bgapi_encode_all(&view, repr, cap, out, len);
    txt_grid_free(&positions);
    return rc;
}

/* Build the slot the request claimed and store it, or give the slot up. */
static void build_slot(bgs_cache *cache, bgs_entry *e, const bg_resolved *r,
                       const char *id, bgapi_repr repr, size_t cap, int threads)
{
    char *body;
    size_t len;
    const char *kept;
    size_t kept_len;
    int slot = bgapi_repr_slot(repr);
    if (build_body(cache, e, r, id, repr, cap, threads, &body, &len) == 0)
        bgs_entry_repr_put(e, slot, body, len, &kept, &kept_len);
    else
        bgs_entry_slot_abandon(e, slot);
}

/* A body built on the executor. */
typedef struct {
    bgs_task task;
    bgs_cache *cache;
    bgs_entry *entry; /* a reference */
    bg_resolved resolved;
    bgapi_repr repr;
    size_t cap;
    char *id;
} body_task;

static void body_task_free(body_task *b)
{
    bg_resolved_free(&b->resolved);
    bgs_entry_release(b->entry);
    free(b->id);
    free(b);
}

static void body_run(bgs_task *t, int threads)
{
    body_task *b = (body_task *)t;
    build_slot(b->cache, b->entry, &b->resolved, b->id, b->repr, b->cap,
               threads);
    body_task_free(b);
}

static void body_cancel(bgs_task *t)
{
    body_task *b = (body_task *)t;
    bgs_entry_slot_abandon(b->entry, bgapi_repr_slot(b->repr));
    body_task_free(b);
}

/* Post the build of the claimed slot. 0, or -1 (the slot is abandoned). */
static int post_body(bgs_request *req, size_t cap)
{
    body_task *b = calloc(1, sizeof *b);
    char *id = strdup(req->key.id);
    if (b == NULL || id == NULL ||
        bg_resolved_copy(&b->resolved, &req->resolved) != BG_OK) {
        free(b);
        free(id);
        bgs_entry_slot_abandon(req->entry, bgapi_repr_slot(req->repr));
        return -1;
    }
    /* txt computes positions first: a parallel task, with the team */
    b->task = (bgs_task){.run = body_run,
                         .cancel = body_cancel,
                         .serial = req->repr.format != BGAPI_FMT_TXT};
    b->cache = req->srv->cache;
    b->entry = req->entry;
    bgs_entry_retain(b->entry);
    b->repr = req->repr;
    b->cap = cap;
    b->id = id;
    if (bgs_compute_post(req->srv->compute, &b->task) != 0) {
        body_cancel(&b->task);
        return -1;
    }
    return 0;
}

/* ---- positions for a streamed txt, on the executor ---- */

typedef struct {
    bgs_task task;
    bgs_request *req; /* suspended until woken */
} positions_task;

static void positions_run(bgs_task *t, int threads)
{
    positions_task *p = (positions_task *)t;
    bgs_request *req = p->req;
    txt_grid *g = req->positions;
    if (txt_grid_fill(g, req->srv->cache, &req->resolved, count_of(req),
                      threads) != 0)
        req->positions_failed = true;
    free(p);
    req->waiter.wake(&req->waiter);
}

static void positions_cancel(bgs_task *t)
{
    positions_task *p = (positions_task *)t;
    bgs_request *req = p->req;
    req->positions_failed = true;
    free(p);
    req->waiter.wake(&req->waiter);
}

/* ---- streaming a large representation ---- */

/* An encoder over an entry's grid (or the positions grid it owns), with
 * copies of what the view borrows, so it does not depend on the request's
 * lifetime. */
typedef struct {
    bgs_entry *entry; /* a reference */
    bg_resolved resolved;
    char *id;
    bgapi_view view;
    bgapi_encoder *enc;
    txt_grid *positions; /* owned, for txt */
    uint64_t *sent;      /* the request's byte count */
    size_t stage_len, stage_pos;
    char stage[STREAM_BLOCK];
} stream;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    (void)pos;
    if (s->stage_pos == s->stage_len) {
        if (max >= BGAPI_CHUNK_MIN) { /* straight into MHD's buffer */
            size_t n = bgapi_encoder_read(s->enc, buf, max);
            *s->sent += n;
            return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
        }
        s->stage_len = bgapi_encoder_read(s->enc, s->stage, sizeof s->stage);
        s->stage_pos = 0;
        if (s->stage_len == 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = s->stage_len - s->stage_pos;
    if (n > max)
        n = max;
    memcpy(buf, s->stage + s->stage_pos, n);
    s->stage_pos += n;
    *s->sent += n;
    return (ssize_t)n;
}

static void positions_free(txt_grid *t)
{
    if (t != NULL)
        txt_grid_free(t);
    free(t);
}

static void stream_free(void *cls)
{
    stream *s = cls;
    bgapi_encoder_free(s->enc);
    bg_resolved_free(&s->resolved);
    positions_free(s->positions);
    bgs_entry_release(s->entry);
    free(s->id);
    free(s);
}

/* A streamed response; takes over req->positions (txt). */
static struct MHD_Response *stream_response(bgs_request *req, uint64_t *size)
{
    stream *s = calloc(1, sizeof *s);
    if (s == NULL || (s->id = strdup(req->key.id)) == NULL) {
        free(s);
        return NULL;
    }
    if (bg_resolved_copy(&s->resolved, &req->resolved) != BG_OK) {
        free(s->id);
        free(s);
        return NULL;
    }
    s->view.id = s->id;
    s->view.resolved = &s->resolved;
    s->view.grid = bgs_entry_grid(req->entry);
    if (req->repr.format == BGAPI_FMT_TXT) {
        s->positions = req->positions;
        req->positions = NULL;
        s->view.grid = &s->positions->grid;
    }
    s->entry = req->entry;
    bgs_entry_retain(s->entry);
    s->sent = &req->bytes;
    s->enc = bgapi_encoder_new(&s->view, req->repr);
    if (s->enc == NULL) {
        stream_free(s);
        return NULL;
    }
    uint64_t total = bgapi_encoded_size(&s->view, req->repr);
    struct MHD_Response *resp = MHD_create_response_from_callback(
        total == BGAPI_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : total, STREAM_BLOCK,
        stream_read, s, stream_free);
    if (resp == NULL)
        stream_free(s);
    *size = 0; /* stream_read counts what is sent */
    return resp;
}

/* ---- the entry's own bytes ---- */

static void release_entry(void *cls)
{
    bgs_entry_release(cls);
}

/* The BGRD body: its header (here) and the block's columns. */
typedef struct {
    bgs_entry *entry; /* a reference, or NULL for a shared response */
    char head[BGAPI_HEAD_MAX];
} bgrd_head;

static void bgrd_head_free(void *cls)
{
    bgrd_head *h = cls;
    bgs_entry_release(h->entry);
    free(h);
}

_Static_assert(BGS_GRID_LEAD == BGAPI_NPY_HEAD,
               "the npy header fills a cached grid's lead");

/* The five float64 columns of a cached grid, back to back in its block. */
static uint64_t columns_bytes(const bg_grid *g)
{
    return g->count * 5u * sizeof(double);
}

/* The length of the body the entry holds for the request's
 * representation: the block (npy: lead and columns; BGRD: its own header
 * and the columns) or a slot's body (0 if there is none). */
static uint64_t entry_body_size(bgs_request *req)
{
    const bg_grid *g = bgs_entry_grid(req->entry);
    const char *buf;
    size_t len = 0;
    if (block_repr(req->repr))
        return (req->repr.format == BGAPI_FMT_BIN ? BGAPI_BGRD_HEAD
                                                  : BGS_GRID_LEAD) +
               columns_bytes(g);
    if (gapped_npz(g, req->repr))
        return bgapi_npz_size(g->count, BG_F64);
    bgs_entry_repr(req->entry, bgapi_repr_slot(req->repr), &buf, &len);
    return len;
}

/* The gapped npz f8 body: the slot's pieces around the block's weight and
 * wavelength columns. NULL if the slot holds none (or without memory). */
static struct MHD_Response *npz_body(bgs_request *req, bool ref)
{
    bgs_entry *e = req->entry;
    const bg_grid *g = bgs_entry_grid(e);
    const char *buf;
    size_t len;
    bgapi_npz_gaps gaps;
    if (bgs_entry_repr(e, bgapi_repr_slot(req->repr), &buf, &len) != 0)
        return NULL;
    bgapi_npz_gaps_of(g->count, &gaps);
    size_t col = (size_t)g->count * sizeof(double);
    struct MHD_IoVec iov[5] = {{buf, gaps.cut[0]},
                               {g->weight, col},
                               {buf + gaps.cut[0], gaps.cut[1] - gaps.cut[0]},
                               {g->lambda, col},
                               {buf + gaps.cut[1], len - gaps.cut[1]}};
    bgrd_head *h = calloc(1, sizeof *h); /* for the reference only */
    if (h == NULL)
        return NULL;
    h->entry = ref ? e : NULL;
    if (ref)
        bgs_entry_retain(e);
    struct MHD_Response *resp =
        MHD_create_response_from_iovec(iov, 5, bgrd_head_free, h);
    if (resp == NULL)
        bgrd_head_free(h);
    return resp;
}

/* The response for a body the entry holds (the block, or a slot's body),
 * or NULL if it holds none (or without memory). `ref`: the response takes
 * an entry reference (a response of this request); without, it borrows
 * (kept beside the body, freed with the entry). */
static struct MHD_Response *entry_body(bgs_request *req, bool ref,
                                       uint64_t *size)
{
    bgs_entry *e = req->entry;
    const bg_grid *g = bgs_entry_grid(e);
    const char *buf = NULL;
    size_t len = 0;
    struct MHD_Response *resp = NULL;
    *size = entry_body_size(req);
    if (gapped_npz(g, req->repr))
        return npz_body(req, ref);
    if (req->repr.format == BGAPI_FMT_BIN && block_repr(req->repr)) {
        bgrd_head *h = calloc(1, sizeof *h);
        if (h == NULL)
            return NULL;
        size_t n = bgapi_bgrd_head(g, &req->resolved, BG_F64, h->head);
        struct MHD_IoVec iov[2] = {{h->head, n}, {g->x, columns_bytes(g)}};
        h->entry = ref ? e : NULL;
        if (ref)
            bgs_entry_retain(e);
        resp = MHD_create_response_from_iovec(iov, 2, bgrd_head_free, h);
        if (resp == NULL)
            bgrd_head_free(h);
        return resp;
    }
    if (block_repr(req->repr)) {
        buf = g->block; /* the lead is the npy header */
        len = (size_t)*size;
    } else if (bgs_entry_repr(e, bgapi_repr_slot(req->repr), &buf, &len) != 0) {
        return NULL;
    }
    if (ref) {
        bgs_entry_retain(e);
        resp = MHD_create_response_from_buffer_with_free_callback_cls(
            len, (void *)buf, release_entry, e);
        if (resp == NULL)
            bgs_entry_release(e);
    } else {
        resp = MHD_create_response_from_buffer(len, (void *)buf,
                                               MHD_RESPMEM_PERSISTENT);
    }
    return resp;
}

/* ---- headers and answers ---- */

static void grid_headers(bgs_request *req, struct MHD_Response *resp)
{
    char small[256]; /* a long id (a table spectrum) goes to the heap */
    size_t need = req->key.id_len + 16;
    char *location = need <= sizeof small ? small : malloc(need);
    if (location != NULL) {
        snprintf(location, need, "/v1/sources/%s", req->key.id);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_LOCATION,
                                location);
        if (location != small)
            free(location);
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, req->key.etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept");
    if (req->route.id == BGAPI_ROUTE_SOURCES_GET)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "public, max-age=31536000, immutable");
}

/* One Beamgrid-Warning header per warning of the answer (api/warnings.h):
 * a function of the key and the entry's grid, so shared responses may
 * carry them too. */
static void warning_headers(bgs_request *req, struct MHD_Response *resp)
{
    bgapi_warnings w;
    bgapi_warnings_of(&req->resolved, bgs_entry_grid(req->entry), &w);
    for (size_t i = 0; i < w.count; i++) {
        char value[BGAPI_WARNING_FIELD_MAX + BGAPI_WARNING_MESSAGE_MAX + 4];
        bgapi_warning_header(&w.items[i], value, sizeof value);
        MHD_add_response_header(resp, BGAPI_WARNING_HEADER, value);
    }
}

static enum MHD_Result out_of_memory(bgs_request *req)
{
    bgapi_problem p;
    bgapi_problem_set(&p, 503, "out-of-memory", "Out of memory", NULL,
                      "no memory to answer; retry later");
    return bgs_respond_problem(req, &p);
}

static enum MHD_Result overloaded(bgs_request *req)
{
    bgapi_problem p;
    bgs_compute_overloaded(req->srv->compute, BGS_COMPUTE_BUSY, &p);
    return bgs_respond_problem(req, &p);
}

static void destroy_response(void *resp)
{
    MHD_destroy_response(resp);
}

/* A GET hit: one response per body, built on the first such hit and kept
 * beside the body (which it borrows: the entry outlives it), queued for
 * every later one (MHD counts its uses). Its headers are fixed, so it
 * serves only requests that sent no X-Request-Id (the access log still has
 * the request's id). Returns 1 and sets *r when it answered. */
static int shared_hit(bgs_request *req, enum MHD_Result *r)
{
    if (req->route.id != BGAPI_ROUTE_SOURCES_GET || req->early_close ||
        req->cache_tag != BGS_CACHE_HIT ||
        bgs_header(req, "X-Request-Id") != NULL)
        return 0;
    int slot = bgapi_repr_slot(req->repr);
    struct MHD_Response *resp = bgs_entry_repr_extra(req->entry, slot);
    uint64_t size = entry_body_size(req);
    if (resp == NULL) {
        resp = entry_body(req, false, &size);
        if (resp == NULL)
            return 0;
        grid_headers(req, resp);
        warning_headers(req, resp);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                bgapi_content_type(req->repr));
        MHD_add_response_header(resp, "X-Cache", "HIT");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        resp =
            bgs_entry_repr_set_extra(req->entry, slot, resp, destroy_response);
        if (resp == NULL)
            return 0;
    }
    *r = bgs_respond_shared(req, 200, resp, size);
    return 1;
}

static enum MHD_Result send_grid(bgs_request *req, struct MHD_Response *resp,
                                 uint64_t size)
{
    if (resp == NULL)
        return out_of_memory(req);
    grid_headers(req, resp);
    warning_headers(req, resp);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            bgapi_content_type(req->repr));
    MHD_add_response_header(resp, "X-Cache",
                            bgs_cache_tag_name(req->cache_tag));
    return bgs_respond(req, 200, resp, size);
}

/* The body the entry holds, shared for plain GET hits. */
static enum MHD_Result send_entry_body(bgs_request *req)
{
    enum MHD_Result shared;
    uint64_t size = 0;
    if (shared_hit(req, &shared))
        return shared;
    return send_grid(req, entry_body(req, true, &size), size);
}

/* Streamed txt needs positions: inline when small, else on the executor
 * (the connection suspended until they are there). */
static enum MHD_Result send_stream(bgs_request *req)
{
    uint64_t size = 0;
    if (req->positions_failed)
        return out_of_memory(req);
    if (req->repr.format != BGAPI_FMT_TXT || req->positions != NULL)
        return send_grid(req, stream_response(req, &size), size);
    txt_grid *t = calloc(1, sizeof *t);
    if (t == NULL)
        return out_of_memory(req);
    req->positions = t;
    if (inline_work(req, count_of(req) * 64u)) {
        if (txt_grid_fill(t, req->srv->cache, &req->resolved, count_of(req),
                          1) != 0) {
            positions_free(t);
            req->positions = NULL;
            return out_of_memory(req);
        }
        return send_grid(req, stream_response(req, &size), size);
    }
    positions_task *p = calloc(1, sizeof *p);
    if (p == NULL)
        return out_of_memory(req);
    p->task = (bgs_task){.run = positions_run, .cancel = positions_cancel};
    p->req = req;
    bgs_wait_arm(req);
    if (bgs_compute_post(req->srv->compute, &p->task) != 0) {
        free(p);
        return overloaded(req);
    }
    return bgs_wait_suspend(req);
}

static enum MHD_Result respond_grid(bgs_request *req);

/* The slot of the request's representation: serve it, wait for it, or
 * build it (inline when small, else on the executor). */
static enum MHD_Result send_slot(bgs_request *req)
{
    int slot = bgapi_repr_slot(req->repr);
    uint64_t est = count_of(req) * body_bytes_per_source(req->repr);
    uint64_t size = req->repr.format == BGAPI_FMT_SVG ? BGAPI_SVG_MAX : est;
    size_t cap = body_cap(req);
    if (size > cap)
        return send_stream(req);
    switch (bgs_entry_slot_claim(req->entry, slot, bgs_wait_arm(req))) {
    case BGS_SLOT_READY:
        return send_entry_body(req);
    case BGS_SLOT_WAIT:
        return bgs_wait_suspend(req);
    case BGS_SLOT_NOCACHE:
        return send_stream(req);
    case BGS_SLOT_BUILD:
        break;
    }
    if (inline_work(req, est)) {
        build_slot(req->srv->cache, req->entry, &req->resolved, req->key.id,
                   req->repr, cap, 1);
        return respond_grid(req);
    }
    if (post_body(req, cap) != 0)
        return overloaded(req);
    if (bgs_entry_slot_subscribe(req->entry, slot, bgs_wait_arm(req)) == 0)
        return bgs_wait_suspend(req);
    return respond_grid(req);
}

static enum MHD_Result respond_grid(bgs_request *req)
{
    if (block_repr(req->repr))
        return send_entry_body(req);
    return send_slot(req);
}

static enum MHD_Result not_modified(bgs_request *req)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    grid_headers(req, resp);
    return bgs_respond(req, 304, resp, 0);
}

/* Answer from an entry that is no longer computing. */
static enum MHD_Result respond_entry(bgs_request *req)
{
    if (bgs_entry_state_of(req->entry) == BGS_ENTRY_FAILED)
        return bgs_respond_problem(req, bgs_entry_problem(req->entry));
    return respond_grid(req);
}

/* The request owns a new entry: count, then compute inline or post. */
static enum MHD_Result compute(bgs_request *req)
{
    const bgs_config *cfg = &req->srv->cfg;
    uint64_t count = 0;
    bg_error err;
    if (bg_grid_count(&req->resolved, (uint64_t)cfg->max_sources, &count, NULL,
                      &err) != BG_OK) {
        bgapi_problem p;
        bgapi_problem_from_core(&p, &err);
        bgs_cache_fail(req->entry, &p);
        return respond_entry(req);
    }
    if (inline_work(req, count * 5u * sizeof(double))) {
        bgs_compute_inline(req->srv->compute, req->entry, &req->resolved,
                           count);
        return respond_entry(req);
    }
    (void)bgs_compute_submit(req->srv->compute, req->entry, &req->resolved,
                             count);
    if (bgs_wait_entry(req, req->entry))
        return MHD_YES;
    return respond_entry(req);
}

/* Sources in the rectangle of *r's axes times its channels: a bound of
 * the real count, cheap to take before counting. */
static double rectangle_sources(const bg_resolved *r)
{
    return (double)r->hdiv.count * (double)r->vdiv.count *
           (double)bg_resolved_channels(r);
}

/* An answer too large for its format, refused before anything is
 * computed: JSON or txt past --max-text-mb, estimated at TEXT_BYTES_EST a
 * source (422 naming npy and bin: README, Limits), and an npz past 4 GiB
 * (docs/formats.md). The rectangle bounds the real count, so the exact
 * count is taken only for grids near a limit. */
#define TEXT_BYTES_EST 120u
static bool too_large_for_format(bgs_request *req, bgapi_problem *p)
{
    const bg_resolved *r = &req->resolved;
    bgapi_format f = req->repr.format;
    bool text = f == BGAPI_FMT_JSON || f == BGAPI_FMT_TXT;
    uint64_t limit = text ? (uint64_t)req->srv->cfg.max_text_mb << 20
                     : f == BGAPI_FMT_NPZ ? BGAPI_NPZ_MAX
                                          : 0;
    double per =
        text ? TEXT_BYTES_EST : 5.0 * (req->repr.dtype == BG_F32 ? 4.0 : 8.0);
    uint64_t n;
    if (limit == 0 || rectangle_sources(r) * per <= (double)limit ||
        bg_grid_count(r, (uint64_t)req->srv->cfg.max_sources, &n, NULL, NULL) !=
            BG_OK)
        return false;
    if (!text)
        return bgapi_npz_check(n, req->repr.dtype, p) != 0;
    if (n * TEXT_BYTES_EST <= limit)
        return false;
    bgapi_problem_set(
        p, 422, "too-large-for-format", NULL, "format",
        "%llu sources as %s would be about %llu MiB, past the limit of "
        "%lld MiB (--max-text-mb); ask for ?format=npy or ?format=bin "
        "(40 bytes a source, 20 with dtype=float32) or a smaller grid",
        (unsigned long long)n, f == BGAPI_FMT_JSON ? "json" : "txt",
        (unsigned long long)((n * TEXT_BYTES_EST) >> 20),
        (long long)req->srv->cfg.max_text_mb);
    return true;
}

/* From resolved parameters and the request key to an answer. */
static enum MHD_Result serve(bgs_request *req)
{
    bgapi_problem p;
    if (too_large_for_format(req, &p))
        return bgs_respond_problem(req, &p);
    req->repr_tag = bgapi_repr_tag(req->repr);
    if (req->route.id == BGAPI_ROUTE_SOURCES_GET &&
        bgapi_etag_matches(bgs_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH),
                           req->key.etag))
        return not_modified(req);
    bgs_lookup how;
    if (bgs_cache_acquire(req->srv->cache, req->key.canon, req->key.canon_len,
                          &req->entry, &how) != 0)
        return out_of_memory(req);
    req->cache_tag = how == BGS_LOOKUP_MISS ? BGS_CACHE_MISS : BGS_CACHE_HIT;
    if (how == BGS_LOOKUP_MISS)
        return compute(req);
    if (how == BGS_LOOKUP_WAIT && bgs_wait_entry(req, req->entry))
        return MHD_YES;
    return respond_entry(req);
}

static int negotiate(bgs_request *req, bgapi_problem *p)
{
    return bgapi_negotiate(bgs_header(req, MHD_HTTP_HEADER_ACCEPT),
                           bgs_query(req, "format"), bgs_query(req, "dtype"),
                           &req->repr, p);
}

void bgs_handle_sources_begin(bgs_request *req)
{
    const char *ct = bgs_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (bgapi_check_content_type(ct, &req->problem) != 0 ||
        negotiate(req, &req->problem) != 0)
        req->early = true;
}

/* The longest id this server passes: its request line (a GET) and the
 * answer's Content-Location must fit libmicrohttpd's per-connection memory
 * (--max-header-kb) with the rest of the request; 3/8 of it, measured
 * (docs/beams.md: 24,576 characters at the default 64 KiB, more than any
 * 1,000-channel table needs), and never past BGS_ID_SERVED_CAP, where
 * libmicrohttpd 0.9.75 was measured to send a 200 without its headers
 * whatever its memory (a 128k-character Content-Location failed with 2 MiB;
 * 96k passed with 256 KiB). */
#define BGS_ID_SERVED_CAP 98304u
static size_t id_limit(const bgs_request *req)
{
    size_t n = (size_t)req->srv->cfg.max_header_kb * 1024u / 8u * 3u;
    return n < BGS_ID_SERVED_CAP ? n : BGS_ID_SERVED_CAP;
}

/* A table spectrum so long that its id would not pass: a 422 saying what
 * to change, rather than an answer whose headers cannot be sent. */
static bool id_too_long(const bgs_request *req, bgapi_problem *p)
{
    if (req->key.id_len <= id_limit(req))
        return false;
    bgapi_problem_set(p, 422, "id-too-long", "Id too long", "spectrum",
                      "this spectrum makes an id of %zu characters; this "
                      "server passes ids of up to %zu (--max-header-kb %lld): "
                      "use spectrum.stride or fewer channels, or raise "
                      "--max-header-kb and the proxy's header buffers",
                      req->key.id_len, id_limit(req),
                      (long long)req->srv->cfg.max_header_kb);
    return true;
}

static enum MHD_Result handle_post(bgs_request *req)
{
    bgapi_problem p;
    bg_params params;
    bg_error err;
    if (bgapi_parse_params(req->body ? req->body : "", req->body_len, &params,
                           &p) != 0)
        return bgs_respond_problem(req, &p);
    bg_status st = bg_resolve(&params, &req->resolved, &err);
    bg_params_free(&params);
    if (st != BG_OK) {
        bgapi_problem_from_core(&p, &err);
        return bgs_respond_problem(req, &p);
    }
    if (bgapi_key_build(&req->key, &req->resolved, req->repr) != 0)
        return out_of_memory(req);
    if (id_too_long(req, &p))
        return bgs_respond_problem(req, &p);
    return serve(req);
}

static enum MHD_Result handle_get(bgs_request *req)
{
    bgapi_problem p;
    if (negotiate(req, &p) != 0 ||
        bgapi_key_from_id(&req->key, req->route.sources_id,
                          req->route.sources_id_len, req->repr, &req->resolved,
                          &p) != 0)
        return bgs_respond_problem(req, &p);
    return serve(req);
}

enum MHD_Result bgs_handle_sources(bgs_request *req)
{
    if (req->phase == BGS_PHASE_WAITING)
        return respond_entry(req);
    if (req->route.id == BGAPI_ROUTE_SOURCES_POST)
        return handle_post(req);
    return handle_get(req);
}

void bgs_handle_sources_end(bgs_request *req)
{
    positions_free(req->positions);
    req->positions = NULL;
    bgapi_key_free(&req->key);
    bg_resolved_free(&req->resolved); /* a table spectrum is owned */
}

/* handler_sources.c - POST /v1/sources and GET|HEAD /v1/sources/{id}.
 *
 * Both end in the same path: resolved parameters -> canonical key -> cache
 * (hit, wait for another request's computation, or compute: inline when
 * small, on the thread pool when large) -> the negotiated representation.
 * npy and bin of a grid just computed, or too large to cache, are sent
 * straight from the grid's columns; other small grids' bodies are encoded
 * once and cached in the entry, then served from it without a copy (GET
 * hits through one shared response); other large ones stream through an
 * encoder. Every response is covered by an entry reference (its own, or
 * the request's until MHD reports it complete), so eviction never frees
 * bytes in flight.
 *
 * Why not sendfile from a memory file, as a static file server does: with
 * libmicrohttpd 0.9.75 that sends the headers as a segment of their own,
 * toggles TCP_CORK/TCP_NODELAY around the body and sends it 128 KiB at a
 * time, and measured slower (11.8-13.3k vs 14.3-15.1k cached 180 KB hits/s,
 * p99 7-9 vs 3.5-6.5 ms) than one sendmsg of headers and body from memory,
 * the copy included. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/encode.h"
#include "api/ids.h"
#include "api/request.h"
#include "core/grid.h"
#include "server/http.h"

#define STREAM_BLOCK        (64u * 1024u)
#define MIN_CACHED_BODY_CAP (1u << 20)

/* ---- positions for the text form ---- */

/* Cached grids keep no source positions: 40 bytes a source, the npy's own
 * size. The nanoBragg text form needs nanoBragg's positions, so a txt
 * request computes the grid again with them, within --max-memory-mb. */
typedef struct {
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

/* The grid the view of repr should read: the entry's, or for txt of a grid
 * without positions one computed now into *t (freed by the caller with
 * txt_grid_free). NULL when there is no memory for it. */
static const bg_grid *grid_for(bgs_request *req, txt_grid *t)
{
    const bg_grid *g = bgs_entry_grid(req->entry);
    memset(t, 0, sizeof *t);
    if (req->repr.format != BGAPI_FMT_TXT || g->px != NULL)
        return g;
    bool large = g->count >= (uint64_t)req->srv->cfg.async_min_sources;
    t->cache = req->srv->cache;
    uint64_t bytes = bgs_grid_bytes(g->count, true);
    if (bgs_cache_reserve(t->cache, bytes) != 0)
        return NULL;
    t->reserved = bytes;
    if (bg_grid_alloc(&t->grid, g->count, BG_F64, BG_GRID_POSITIONS) != BG_OK ||
        bg_grid_fill(&req->resolved, &t->grid,
                     large ? req->srv->compute_threads : 1) != BG_OK) {
        txt_grid_free(t);
        return NULL;
    }
    return &t->grid;
}

/* ---- streaming a large representation ---- */

/* An encoder over an entry's grid, with copies of what the view borrows,
 * so it does not depend on the request's lifetime. */

typedef struct {
    bgs_entry *entry; /* a reference */
    bg_resolved resolved;
    char id[BGAPI_ID_MAX + 1];
    bgapi_view view;
    bgapi_encoder *enc;
    txt_grid positions; /* for txt */
    uint64_t *sent;     /* the request's byte count */
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

static void stream_free(void *cls)
{
    stream *s = cls;
    bgapi_encoder_free(s->enc);
    txt_grid_free(&s->positions);
    bgs_entry_release(s->entry);
    free(s);
}

static struct MHD_Response *stream_response(bgs_request *req, uint64_t *size)
{
    stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->resolved = req->resolved;
    memcpy(s->id, req->id, sizeof s->id);
    s->view.id = s->id;
    s->view.resolved = &s->resolved;
    s->view.grid = grid_for(req, &s->positions);
    s->sent = &req->bytes;
    s->enc = s->view.grid ? bgapi_encoder_new(&s->view, req->repr) : NULL;
    if (s->enc == NULL) {
        txt_grid_free(&s->positions);
        free(s);
        return NULL;
    }
    s->entry = req->entry;
    bgs_entry_retain(s->entry);
    uint64_t total = bgapi_encoded_size(&s->view, req->repr);
    struct MHD_Response *resp = MHD_create_response_from_callback(
        total == BGAPI_SIZE_UNKNOWN ? MHD_SIZE_UNKNOWN : total, STREAM_BLOCK,
        stream_read, s, stream_free);
    if (resp == NULL)
        stream_free(s);
    *size = 0; /* stream_read counts what is sent */
    return resp;
}

/* ---- serving a cached body ---- */

static void release_entry(void *cls)
{
    bgs_entry_release(cls);
}

/* The body of the request's representation, encoded now if not cached.
 * Returns 0, or -1 if it is too large to keep (stream it instead). */
static int cached_body(bgs_request *req, const char **buf, size_t *len)
{
    int slot = bgapi_repr_slot(req->repr);
    if (bgs_entry_repr(req->entry, slot, buf, len) == 0)
        return 0;
    size_t cap = (size_t)req->srv->cfg.cache_mb * (1u << 20) / 4u;
    if (cap < MIN_CACHED_BODY_CAP)
        cap = MIN_CACHED_BODY_CAP;
    txt_grid positions;
    bgapi_view view = {req->id, &req->resolved, grid_for(req, &positions)};
    char *out = NULL;
    size_t n = 0;
    int r = view.grid != NULL
                ? bgapi_encode_all(&view, req->repr, cap, &out, &n)
                : -1;
    txt_grid_free(&positions);
    if (r != 0)
        return -1;
    bgs_entry_repr_put(req->entry, slot, out, n, buf, len);
    return 0;
}

static struct MHD_Response *buffer_response(bgs_request *req, uint64_t *size)
{
    const char *buf;
    size_t len;
    if (cached_body(req, &buf, &len) != 0)
        return stream_response(req, size);
    bgs_entry_retain(req->entry);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(
            len, (void *)buf, release_entry, req->entry);
    if (resp == NULL)
        bgs_entry_release(req->entry);
    *size = len;
    return resp;
}

/* ---- a fresh grid, sent from its columns ---- */

/* npy and bin of a grid just computed: the header and the grid's columns
 * as they are (an iovec), so a miss neither encodes nor copies; the first
 * hit caches the body. Holds an entry reference until MHD frees it. */
typedef struct {
    bgs_entry *entry;
    char head[BGAPI_HEAD_MAX];
} columns_body;

static void columns_free(void *cls)
{
    columns_body *b = cls;
    bgs_entry_release(b->entry);
    free(b);
}

static struct MHD_Response *columns_response(bgs_request *req, uint64_t *size)
{
    bgapi_view view = {req->id, &req->resolved, bgs_entry_grid(req->entry)};
    columns_body *b = malloc(sizeof *b);
    const void *cols[5];
    size_t head = b ? bgapi_binary_layout(&view, req->repr, b->head, cols) : 0;
    if (head == 0) {
        free(b);
        return NULL;
    }
    size_t col = (size_t)(bgapi_encoded_size(&view, req->repr) - head) / 5u;
    struct MHD_IoVec iov[6] = {{b->head, head}};
    for (int i = 0; i < 5; i++)
        iov[i + 1] = (struct MHD_IoVec){cols[i], col};
    b->entry = req->entry;
    bgs_entry_retain(b->entry);
    struct MHD_Response *resp =
        MHD_create_response_from_iovec(iov, 6, columns_free, b);
    if (resp == NULL) {
        columns_free(b);
        return NULL;
    }
    *size = head + 5u * col;
    return resp;
}

/* ---- headers and answers ---- */

static void grid_headers(bgs_request *req, struct MHD_Response *resp)
{
    char location[sizeof req->id + 16];
    snprintf(location, sizeof location, "/v1/sources/%s", req->id);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, req->etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_LOCATION, location);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept");
    if (req->route.id == BGAPI_ROUTE_SOURCES_GET)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "public, max-age=31536000, immutable");
}

static enum MHD_Result out_of_memory(bgs_request *req)
{
    bgapi_problem p;
    bgapi_problem_set(&p, 503, "out-of-memory", "Out of memory", NULL,
                      "no memory to answer; retry later");
    return bgs_respond_problem(req, &p);
}

static void destroy_response(void *resp)
{
    MHD_destroy_response(resp);
}

/* A GET hit on a small grid's cached body: one response, built on the
 * first such hit and kept beside the body (which it borrows: the entry
 * outlives it), queued for every later one (MHD counts its uses). Its
 * headers are fixed, so it serves only requests that sent no X-Request-Id
 * (the access log still has the request's id). Returns 1 and sets *r when
 * it answered. */
static int shared_hit(bgs_request *req, enum MHD_Result *r)
{
    if (req->route.id != BGAPI_ROUTE_SOURCES_GET || req->early_close ||
        bgs_header(req, "X-Request-Id") != NULL)
        return 0;
    int slot = bgapi_repr_slot(req->repr);
    struct MHD_Response *resp = bgs_entry_repr_extra(req->entry, slot);
    const char *buf;
    size_t len;
    if (cached_body(req, &buf, &len) != 0)
        return 0;
    if (resp == NULL) {
        resp = MHD_create_response_from_buffer(len, (void *)buf,
                                               MHD_RESPMEM_PERSISTENT);
        if (resp == NULL)
            return 0;
        grid_headers(req, resp);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                bgapi_content_type(req->repr));
        MHD_add_response_header(resp, "X-Cache", "HIT");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        resp =
            bgs_entry_repr_set_extra(req->entry, slot, resp, destroy_response);
        if (resp == NULL)
            return 0;
    }
    *r = bgs_respond_shared(req, 200, resp, len);
    return 1;
}

static enum MHD_Result respond_grid(bgs_request *req)
{
    const bg_grid *g = bgs_entry_grid(req->entry);
    uint64_t size = 0;
    bool large = g->count >= (uint64_t)req->srv->cfg.async_min_sources;
    bool miss = req->cache_tag != NULL && strcmp(req->cache_tag, "MISS") == 0;
    struct MHD_Response *resp = NULL;
    enum MHD_Result shared;
    if (!miss && !large && shared_hit(req, &shared))
        return shared;
    if (miss || large)
        resp = columns_response(req, &size);
    if (resp == NULL)
        resp =
            large ? stream_response(req, &size) : buffer_response(req, &size);
    if (resp == NULL)
        return out_of_memory(req);
    grid_headers(req, resp);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            bgapi_content_type(req->repr));
    MHD_add_response_header(resp, "X-Cache", req->cache_tag);
    return bgs_respond(req, 200, resp, size);
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

/* The request owns a new entry: count, then compute inline or queue. */
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
    if (count < (uint64_t)cfg->async_min_sources) {
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

/* From resolved parameters to an answer. */
static enum MHD_Result serve(bgs_request *req)
{
    unsigned char canon[BGAPI_CANON_MAX];
    size_t len = bgapi_canonical(&req->resolved, canon);
    bgapi_id_encode(&req->resolved, req->id);
    bgapi_etag(&req->resolved, req->repr, req->etag);
    req->repr_tag = bgapi_repr_tag(req->repr);
    if (req->route.id == BGAPI_ROUTE_SOURCES_GET &&
        bgapi_etag_matches(bgs_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH),
                           req->etag))
        return not_modified(req);
    bgs_lookup how;
    if (bgs_cache_acquire(req->srv->cache, canon, len, bgapi_hash64(canon, len),
                          &req->entry, &how) != 0)
        return out_of_memory(req);
    req->cache_tag = how == BGS_LOOKUP_MISS ? "MISS" : "HIT";
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

static enum MHD_Result handle_post(bgs_request *req)
{
    bgapi_problem p;
    bg_params params;
    bg_error err;
    if (bgapi_parse_params(req->body ? req->body : "", req->body_len, &params,
                           &p) != 0)
        return bgs_respond_problem(req, &p);
    if (bg_resolve(&params, &req->resolved, &err) != BG_OK) {
        bgapi_problem_from_core(&p, &err);
        return bgs_respond_problem(req, &p);
    }
    return serve(req);
}

static enum MHD_Result handle_get(bgs_request *req)
{
    bgapi_problem p;
    if (negotiate(req, &p) != 0 ||
        bgapi_id_decode_n(req->route.sources_id, req->route.sources_id_len,
                          &req->resolved, &p) != 0)
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

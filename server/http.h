/* http.h - one HTTP request as the handlers see it, and how they answer.
 *
 * http.c owns the MHD callbacks: it creates a bgs_request when a request's
 * headers arrive, feeds the body, calls the route's handler once the body
 * is complete (and again after a suspended request is resumed), and frees
 * the request, logging and counting it, when MHD reports completion. The
 * handlers (handler_*.c) answer through the bgs_respond_* functions, which
 * add the headers every response carries (X-Request-Id). */
#ifndef BGS_HTTP_H
#define BGS_HTTP_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/ids.h"
#include "api/negotiate.h"
#include "api/problem.h"
#include "api/routes.h"
#include "core/resolve.h"
#include "server/cache.h"
#include "server/server.h"

#define BGS_REQUEST_ID_MAX 64

typedef enum {
    BGS_PHASE_NEW,     /* headers seen, handler not yet run */
    BGS_PHASE_WAITING, /* suspended until an entry is done */
    BGS_PHASE_ANSWERED /* a response is queued */
} bgs_phase;

/* Whether the request found its grid cached; for X-Cache and the log. */
typedef enum { BGS_CACHE_NONE, BGS_CACHE_HIT, BGS_CACHE_MISS } bgs_cache_tag;

static inline const char *bgs_cache_tag_name(bgs_cache_tag t)
{
    return t == BGS_CACHE_MISS ? "MISS" : t == BGS_CACHE_HIT ? "HIT" : NULL;
}

struct bgs_positions; /* handler_sources.c's: a grid with positions */

typedef struct bgs_request {
    bgs_server *srv;
    struct MHD_Connection *conn;
    const char *method; /* MHD's, valid for the request */
    const char *path;   /* MHD's, without the query */
    uint64_t t0_ns;
    bgapi_route route;
    char request_id[BGS_REQUEST_ID_MAX + 1];
    bgs_phase phase;

    /* An answer decided before the body was read (415, 406, 413, 503
     * draining...): sent once the body has been consumed. */
    bool early;
    bool early_close; /* with Connection: close */
    bgapi_problem problem;

    /* POST body, bounded by --max-body-kb. */
    char *body;
    size_t body_len, body_cap;

    /* The grid being served. */
    bgapi_repr repr;
    bg_resolved resolved;
    bgapi_key key;    /* canonical bytes, id, ETag: built once */
    bgs_entry *entry; /* a reference while set */
    bgs_waiter waiter;
    atomic_int wait_state;
    struct bgs_positions *positions; /* for a streamed txt */
    bool positions_failed;

    /* For the access log and metrics. */
    int status;
    uint64_t bytes;
    bgs_cache_tag cache_tag;
    const char *repr_tag;
} bgs_request;

/* Decide, from the headers alone, whether a POST /v1/sources is refused
 * before its body is read (415, 406, 400 for ?format=): sets req->early
 * and req->problem. */
void bgs_handle_sources_begin(bgs_request *req);

/* Free what a /v1/sources request holds (called as it completes). */
void bgs_handle_sources_end(bgs_request *req);

/* The handlers, one per route family. Each returns MHD_YES once it has
 * queued a response or suspended the connection, MHD_NO to drop the
 * connection. */
enum MHD_Result bgs_handle_sources(bgs_request *req);
enum MHD_Result bgs_handle_ops(bgs_request *req);

/* A request header (case-insensitive name) or NULL. */
const char *bgs_header(const bgs_request *req, const char *name);

/* A query argument or NULL. */
const char *bgs_query(const bgs_request *req, const char *name);

/* Queue resp with `status`, adding X-Request-Id, and record the status and
 * the body length for the log. Destroys the caller's handle on resp. */
enum MHD_Result bgs_respond(bgs_request *req, int status,
                            struct MHD_Response *resp, uint64_t body_len);

/* Queue resp, a response shared between requests, as it is: no header is
 * added (it carries its own X-Content-Type-Options, and no X-Request-Id)
 * and the caller's handle on resp stays valid. Records status and length
 * for the log. */
enum MHD_Result bgs_respond_shared(bgs_request *req, int status,
                                   struct MHD_Response *resp,
                                   uint64_t body_len);

/* Answer with a static (never freed) body of the given content type. */
enum MHD_Result bgs_respond_static(bgs_request *req, int status,
                                   const char *content_type, const void *body,
                                   size_t len);

/* Answer with a malloc'd body, which MHD frees. */
enum MHD_Result bgs_respond_owned(bgs_request *req, int status,
                                  const char *content_type, char *body,
                                  size_t len);

/* Answer with *p as application/problem+json (instance: the path), with
 * Retry-After: 1 on 503 and Allow on 405 when the route has one. */
enum MHD_Result bgs_respond_problem(bgs_request *req, const bgapi_problem *p);

/* Suspend the connection until entry `e` is done (the request's waiter is
 * subscribed). Returns 1 if suspended, 0 if e was already done (answer
 * now). */
int bgs_wait_entry(bgs_request *req, bgs_entry *e);

/* Waiting on anything else, in two steps: arm the request's waiter and
 * hand it to whatever will wake it (a body slot, a task), then suspend.
 * The wake may come before the suspend: the connection is then resumed at
 * once. When woken, the handler runs again (phase WAITING). */
bgs_waiter *bgs_wait_arm(bgs_request *req);
enum MHD_Result bgs_wait_suspend(bgs_request *req);

/* Start the HTTP daemon for srv with its settings (threads, limits,
 * timeouts, bind address). Returns NULL after logging why it failed. */
struct MHD_Daemon *bgs_http_start(bgs_server *srv);

/* The port the daemon listens on (useful after --port 0). */
unsigned bgs_http_port(struct MHD_Daemon *d);

#endif

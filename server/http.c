/* http.c - the libmicrohttpd side of beamgrid: daemon options, the access
 * handler, request lifetimes and the responses every handler shares.
 *
 * MHD calls on_access several times per request: once when the headers are
 * in (a bgs_request is created, the route matched, early refusals decided),
 * once per body chunk (kept up to --max-body-kb, or discarded), and once
 * more when the body is complete, which runs the route's handler. A handler
 * that waits for a computation suspends the connection; whoever ends the
 * computation resumes it and on_access runs the handler again.
 * on_completed logs and counts the request and frees it. Every response
 * carries X-Content-Type-Options: nosniff, and X-Request-Id but for the
 * shared responses of cached GET hits (bgs_respond_shared: no id was
 * sent, the log has the generated one); requests the token guards
 * (auth.c) are refused with 401 before their body is read. */
#include "server/http.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "server/log.h"

enum { WAIT_ARMED = 1, WAIT_SUSPENDED, WAIT_WOKEN };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- request ids ---- */

static int sane_request_id(const char *s)
{
    size_t n = 0;
    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok || n >= BGS_REQUEST_ID_MAX)
            return 0;
    }
    return n > 0;
}

static uint64_t splitmix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* A fresh id: 16 hex digits, unique within the process, unpredictable
 * across processes. */
static void new_request_id(char *out)
{
    static atomic_uint_fast64_t counter;
    static atomic_uint_fast64_t seed;
    uint64_t s = atomic_load(&seed);
    if (s == 0) {
        if (getrandom(&s, sizeof s, GRND_NONBLOCK) != sizeof s)
            s = now_ns() ^ ((uint64_t)getpid() << 32);
        s |= 1;
        uint_fast64_t expected = 0;
        if (!atomic_compare_exchange_strong(&seed, &expected, s))
            s = expected;
    }
    uint64_t n = atomic_fetch_add(&counter, 1);
    snprintf(out, BGS_REQUEST_ID_MAX + 1, "%016llx",
             (unsigned long long)splitmix64(s + n));
}

/* ---- small accessors ---- */

const char *bgs_header(const bgs_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *bgs_query(const bgs_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- responses ---- */

enum MHD_Result bgs_respond(bgs_request *req, int status,
                            struct MHD_Response *resp, uint64_t body_len)
{
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (req->early_close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    req->status = status;
    req->bytes = body_len;
    req->phase = BGS_PHASE_ANSWERED;
    enum MHD_Result r = MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return r;
}

enum MHD_Result bgs_respond_shared(bgs_request *req, int status,
                                   struct MHD_Response *resp, uint64_t body_len)
{
    req->status = status;
    req->bytes = body_len;
    req->phase = BGS_PHASE_ANSWERED;
    return MHD_queue_response(req->conn, (unsigned)status, resp);
}

enum MHD_Result bgs_respond_static(bgs_request *req, int status,
                                   const char *content_type, const void *body,
                                   size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return bgs_respond(req, status, resp, len);
}

enum MHD_Result bgs_respond_owned(bgs_request *req, int status,
                                  const char *content_type, char *body,
                                  size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return bgs_respond(req, status, resp, len);
}

enum MHD_Result bgs_respond_problem(bgs_request *req, const bgapi_problem *p)
{
    size_t len = 0;
    char *body = bgapi_problem_render(p, req->path, &len);
    if (body == NULL)
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/problem+json");
    if (p->status == 503)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (p->status == 405 && req->route.allow != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->route.allow);
    if (p->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"beamgrid\"");
    return bgs_respond(req, p->status, resp, len);
}

/* ---- suspension ---- */

static void resume(bgs_request *req)
{
    bgs_server *srv = req->srv;
    struct MHD_Connection *conn = req->conn;
    atomic_fetch_sub(&srv->suspended, 1);
    MHD_resume_connection(conn); /* req may be gone after this */
}

/* Called once by the cache, from whichever thread ended the entry. Exactly
 * one of on_wake and bgs_wait_entry resumes, and only after the suspend. */
static void on_wake(bgs_waiter *w)
{
    bgs_request *req =
        (bgs_request *)(void *)((char *)w - offsetof(bgs_request, waiter));
    if (atomic_exchange(&req->wait_state, WAIT_WOKEN) == WAIT_SUSPENDED)
        resume(req);
}

bgs_waiter *bgs_wait_arm(bgs_request *req)
{
    req->waiter.wake = on_wake;
    req->waiter.next = NULL;
    atomic_store(&req->wait_state, WAIT_ARMED);
    return &req->waiter;
}

enum MHD_Result bgs_wait_suspend(bgs_request *req)
{
    req->phase = BGS_PHASE_WAITING;
    atomic_fetch_add(&req->srv->suspended, 1);
    MHD_suspend_connection(req->conn);
    if (atomic_exchange(&req->wait_state, WAIT_SUSPENDED) == WAIT_WOKEN)
        resume(req);
    return MHD_YES;
}

int bgs_wait_entry(bgs_request *req, bgs_entry *e)
{
    if (bgs_cache_subscribe(e, bgs_wait_arm(req)) != 0)
        return 0;
    bgs_wait_suspend(req);
    return 1;
}

/* ---- the request lifecycle ---- */

static void set_early(bgs_request *req, int status, const char *slug,
                      const char *title, const char *detail)
{
    req->early = true;
    bgapi_problem_set(&req->problem, status, slug, title, NULL, "%s", detail);
}

static bgs_request *request_new(bgs_server *srv, struct MHD_Connection *conn,
                                const char *url, const char *method)
{
    bgs_request *req = calloc(1, sizeof *req);
    if (req == NULL)
        return NULL;
    req->srv = srv;
    req->conn = conn;
    req->method = method;
    req->path = url;
    req->t0_ns = now_ns();
    const char *rid = bgs_header(req, "X-Request-Id");
    if (sane_request_id(rid))
        snprintf(req->request_id, sizeof req->request_id, "%s", rid);
    else
        new_request_id(req->request_id);
    bgapi_route_match(method, url, &req->route);
    bgs_metrics_inflight_add(srv->metrics, 1);
    return req;
}

static void begin(bgs_request *req)
{
    if (atomic_load(&req->srv->draining)) {
        req->early_close = true;
        set_early(req, 503, "draining", "Server shutting down",
                  "this instance is shutting down; retry on another");
        return;
    }
    if (!bgs_auth_allows(&req->srv->auth, &req->route, req->path,
                         bgs_header(req, MHD_HTTP_HEADER_AUTHORIZATION))) {
        set_early(req, 401, "unauthorized", "Unauthorized",
                  "this resource needs Authorization: Bearer <token>");
        return;
    }
    if (req->route.id == BGAPI_ROUTE_SOURCES_POST)
        bgs_handle_sources_begin(req);
}

/* Make room for n more body bytes: double, at least 4 KiB, at most max. */
static int grow_body(bgs_request *req, size_t n, size_t max)
{
    size_t cap = req->body_cap ? req->body_cap * 2 : 4096;
    if (cap < req->body_len + n)
        cap = req->body_len + n;
    if (cap > max)
        cap = max;
    char *b = realloc(req->body, cap);
    if (b == NULL)
        return -1;
    req->body = b;
    req->body_cap = cap;
    return 0;
}

/* Keep a body chunk, or discard it once an answer is decided. */
static void take_body(bgs_request *req, const char *data, size_t n)
{
    size_t max = (size_t)req->srv->cfg.max_body_kb * 1024u;
    if (req->early || req->route.id != BGAPI_ROUTE_SOURCES_POST)
        return;
    if (n > max - req->body_len) {
        free(req->body);
        req->body = NULL;
        req->body_len = req->body_cap = 0;
        set_early(req, 413, "payload-too-large", "Request body too large",
                  "the request body is larger than this server accepts "
                  "(--max-body-kb)");
        return;
    }
    if (req->body_len + n > req->body_cap && grow_body(req, n, max) != 0) {
        set_early(req, 503, "out-of-memory", "Out of memory",
                  "no memory for the request body; retry later");
        return;
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
}

static enum MHD_Result dispatch(bgs_request *req)
{
    bgapi_problem p;
    if (req->early)
        return bgs_respond_problem(req, &req->problem);
    switch (req->route.id) {
    case BGAPI_ROUTE_NOT_FOUND:
        bgapi_problem_set(&p, 404, "not-found", "Not found", NULL,
                          "no resource at this path");
        return bgs_respond_problem(req, &p);
    case BGAPI_ROUTE_METHOD_NOT_ALLOWED:
        bgapi_problem_set(&p, 405, "method-not-allowed", "Method not allowed",
                          NULL, "this path allows %s",
                          req->route.allow ? req->route.allow : "no method");
        return bgs_respond_problem(req, &p);
    case BGAPI_ROUTE_SOURCES_POST:
    case BGAPI_ROUTE_SOURCES_GET:
        return bgs_handle_sources(req);
    default:
        return bgs_handle_ops(req);
    }
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    bgs_request *req = *con_cls;
    (void)version;
    if (req == NULL) {
        req = request_new(cls, conn, url, method);
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        begin(req);
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        take_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->phase == BGS_PHASE_ANSWERED)
        return MHD_YES;
    bgs_guard_busy(conn);
    return dispatch(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    bgs_server *srv = cls;
    bgs_request *req = *con_cls;
    (void)toe;
    bgs_guard_ready(conn);
    if (req == NULL)
        return;
    uint64_t ns = now_ns() - req->t0_ns;
    bgs_metrics_request(srv->metrics, req->route.template, req->method,
                        req->status, (double)ns * 1e-9);
    bgs_access a = {req->request_id,
                    req->method,
                    req->route.label,
                    req->status,
                    req->bytes,
                    ns / 1000u,
                    bgs_cache_tag_name(req->cache_tag),
                    req->repr_tag};
    bgs_log_access(&a);
    bgs_handle_sources_end(req);
    bgs_entry_release(req->entry);
    free(req->body);
    free(req);
    *con_cls = NULL;
    bgs_metrics_inflight_add(srv->metrics, -1);
}

/* ---- the daemon ---- */

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    bgs_log_event(BGS_LOG_WARN, "mhd", "%s", msg);
}

/* MHD splits its connection limit between its threads; the exact limit is
 * the accept policy's (guard.c), so each thread may take all of it, plus
 * the accept policy's possible overshoot. */
static unsigned mhd_connection_limit(const bgs_config *cfg, unsigned threads)
{
    uint64_t n = ((uint64_t)cfg->max_connections + threads) * threads;
    return n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
}

/* The options that depend on auth and guard settings: TLS material and
 * the connection notifications of the request deadline. */
static void extra_options(bgs_server *srv, struct MHD_OptionItem *o,
                          unsigned *flags)
{
    size_t n = 0;
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION,
                                     (intptr_t)bgs_guard_notify, srv->guard};
    if (srv->auth.tls_cert != NULL) {
        *flags |= MHD_USE_TLS;
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                         srv->auth.tls_cert};
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
                                         srv->auth.tls_key};
    }
    o[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

typedef union {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
} bind_addr;

static int make_addr(const bgs_config *cfg, bind_addr *a, unsigned *flags)
{
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, cfg->bind, &a->v4.sin_addr) == 1) {
        a->v4.sin_family = AF_INET;
        a->v4.sin_port = htons((uint16_t)cfg->port);
        return 0;
    }
    if (inet_pton(AF_INET6, cfg->bind, &a->v6.sin6_addr) == 1) {
        a->v6.sin6_family = AF_INET6;
        a->v6.sin6_port = htons((uint16_t)cfg->port);
        *flags |= MHD_USE_IPv6;
        return 0;
    }
    return -1;
}

struct MHD_Daemon *bgs_http_start(bgs_server *srv)
{
    const bgs_config *cfg = &srv->cfg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES
                 ? MHD_USE_EPOLL
                 : MHD_USE_POLL;
    bind_addr addr;
    if (make_addr(cfg, &addr, &flags) != 0) {
        bgs_log_event(BGS_LOG_ERROR, "start_failed", "bad bind address %s",
                      cfg->bind);
        return NULL;
    }
    struct MHD_OptionItem extra[4];
    extra_options(srv, extra, &flags);
    unsigned threads = (unsigned)bgs_config_threads(cfg->threads);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)cfg->port, bgs_guard_accept, srv->guard, on_access,
        srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_SOCK_ADDR,
        &addr.sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, mhd_connection_limit(cfg, threads),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s,
        /* per connection (--max-header-kb, default 64 KiB): the request
         * line holds the id, and a table spectrum's id (docs/beams.md) runs
         * to ~11 KB at 1,000 channels, echoed in Content-Location. MHD
         * zeroes it between keep-alive requests, a per-request cost. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->max_header_kb * 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_ARRAY, extra,
        MHD_OPTION_END);
    if (d == NULL)
        bgs_log_event(BGS_LOG_ERROR, "start_failed",
                      "cannot listen on %s port %lld", cfg->bind,
                      (long long)cfg->port);
    return d;
}

unsigned bgs_http_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return info != NULL ? info->port : 0;
}

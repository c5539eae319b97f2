/* daemon.c - the process lifecycle, run by the main thread's libuv loop.
 *
 * Start-up: log, cache, metrics, the compute queue, signal handlers
 * (libuv's: the raw handler only writes to a pipe, the work happens here),
 * the HTTP daemon, then one JSON line on stdout naming the address. On
 * SIGTERM or SIGINT the drain starts: /readyz and every new request answer
 * 503 (with Connection: close), the listening socket is quiesced, and a
 * timer polls until no request is in flight and the kernel has delivered
 * every byte of their responses (sendq.h), or --drain-s has passed; then
 * the daemon stops, the handles close and the loop returns. SIGHUP reopens
 * the log file. A second timer sweeps the request deadlines
 * (--request-timeout-s, guard.c). The token and TLS files are read before
 * anything starts; an unusable one stops the start (exit status 2). */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "server/http.h"
#include "server/log.h"
#include "server/sendq.h"
#include "server/server.h"

#define DRAIN_POLL_MS 20
#define SWEEP_MS      250

typedef struct {
    bgs_server srv;
    uv_loop_t loop;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t drain_timer;
    uv_timer_t sweep_timer;
    uint64_t drain_deadline; /* uv_now() ms */
    MHD_socket listen_fd;
    unsigned port; /* the port it listens on, for sendq.h */
} runtime;

static void close_handles(runtime *rt)
{
    uv_close((uv_handle_t *)&rt->sig_term, NULL);
    uv_close((uv_handle_t *)&rt->sig_int, NULL);
    uv_close((uv_handle_t *)&rt->sig_hup, NULL);
    uv_close((uv_handle_t *)&rt->drain_timer, NULL);
    uv_close((uv_handle_t *)&rt->sweep_timer, NULL);
}

static void stop_daemon(runtime *rt)
{
    MHD_stop_daemon(rt->srv.daemon);
    rt->srv.daemon = NULL;
    if (rt->listen_fd != MHD_INVALID_SOCKET)
        close(rt->listen_fd);
}

/* The deadline passed with requests still in flight. Streams and idle
 * connections are simply closed by MHD_stop_daemon; a request suspended on
 * a computation cannot be (MHD forbids stopping with suspended
 * connections, and the compute thread cannot be interrupted), so then the
 * process leaves at once. */
static void drain_expired(runtime *rt, int64_t inflight)
{
    int suspended = atomic_load(&rt->srv.suspended);
    bgs_log_event(BGS_LOG_WARN, "drain_timeout",
                  "%lld requests still in flight after %lld s (%d waiting "
                  "on computations); closing them",
                  (long long)inflight, (long long)rt->srv.cfg.drain_s,
                  suspended);
    if (suspended > 0) {
        bgs_log_event(BGS_LOG_INFO, "stopped", "forced exit");
        _exit(0);
    }
}

/* Bytes of finished responses the kernel still holds for clients: the
 * process must outlive them in a container (sendq.h). */
static void drain_unsent_expired(unsigned long long unsent, long long drain_s)
{
    bgs_log_event(BGS_LOG_WARN, "drain_timeout",
                  "%llu response bytes still unsent after %lld s", unsent,
                  drain_s);
}

static void drain_tick(uv_timer_t *t)
{
    runtime *rt = t->data;
    int64_t inflight = bgs_metrics_inflight(rt->srv.metrics);
    unsigned long long unsent = inflight > 0 ? 0 : bgs_sendq_unsent(rt->port);
    bool early = uv_now(&rt->loop) < rt->drain_deadline;
    if (early && (inflight > 0 || unsent > 0))
        return;
    if (inflight > 0)
        drain_expired(rt, inflight);
    else if (unsent > 0)
        drain_unsent_expired(unsent, (long long)rt->srv.cfg.drain_s);
    uv_timer_stop(t);
    stop_daemon(rt);
    close_handles(rt);
}

static void start_drain(runtime *rt, int signum)
{
    if (atomic_exchange(&rt->srv.draining, true)) {
        bgs_log_event(BGS_LOG_INFO, "signal", "signal %d: already draining",
                      signum);
        return;
    }
    bgs_log_event(BGS_LOG_INFO, "draining",
                  "signal %d: refusing new requests, %lld in flight, "
                  "waiting up to %lld s",
                  signum, (long long)bgs_metrics_inflight(rt->srv.metrics),
                  (long long)rt->srv.cfg.drain_s);
    /* MHD stops accepting; shutting the socket down (it stays open until
     * MHD_stop_daemon, as MHD requires) makes the kernel refuse new
     * connections too, so clients go elsewhere at once. */
    rt->listen_fd = MHD_quiesce_daemon(rt->srv.daemon);
    if (rt->listen_fd != MHD_INVALID_SOCKET)
        shutdown(rt->listen_fd, SHUT_RDWR);
    rt->drain_deadline =
        uv_now(&rt->loop) + (uint64_t)rt->srv.cfg.drain_s * 1000u;
    uv_timer_start(&rt->drain_timer, drain_tick, 0, DRAIN_POLL_MS);
}

static void on_signal(uv_signal_t *h, int signum)
{
    runtime *rt = h->data;
    if (signum == SIGHUP)
        bgs_log_reopen();
    else
        start_drain(rt, signum);
}

static void sweep_tick(uv_timer_t *t)
{
    runtime *rt = t->data;
    uint64_t refused = 0;
    unsigned n = bgs_guard_sweep(rt->srv.guard, &refused);
    if (refused > 0)
        bgs_log_event(BGS_LOG_WARN, "connection_limit",
                      "closed %llu new connections at once: %lld are open "
                      "(--max-connections)",
                      (unsigned long long)refused,
                      (long long)rt->srv.cfg.max_connections);
    if (n > 0)
        bgs_log_event(BGS_LOG_WARN, "request_timeout",
                      "closed %u connections that did not send a request "
                      "within %lld s",
                      n, (long long)rt->srv.cfg.request_timeout_s);
}

static int watch(runtime *rt, uv_signal_t *h, int signum)
{
    h->data = rt;
    if (uv_signal_init(&rt->loop, h) != 0)
        return -1;
    return uv_signal_start(h, on_signal, signum);
}

static void announce(const runtime *rt, unsigned port)
{
    const bgs_config *c = &rt->srv.cfg;
    int v6 = strchr(c->bind, ':') != NULL;
    const char *scheme = rt->srv.auth.tls_cert ? "https" : "http";
    printf("{\"event\":\"listening\",\"address\":\"%s\",\"port\":%u,"
           "\"url\":\"%s://%s%s%s:%u\",\"version\":\"%s\",\"pid\":%ld,"
           "\"http_threads\":%d,\"compute_threads\":%d}\n",
           c->bind, port, scheme, v6 ? "[" : "", c->bind, v6 ? "]" : "", port,
           BGS_VERSION, (long)getpid(), bgs_config_threads(c->threads),
           rt->srv.compute_threads);
    fflush(stdout);
    bgs_log_event(BGS_LOG_INFO, "listening", "%s://%s%s%s:%u (version %s)",
                  scheme, v6 ? "[" : "", c->bind, v6 ? "]" : "", port,
                  BGS_VERSION);
}

static int start(runtime *rt)
{
    bgs_server *srv = &rt->srv;
    srv->compute_threads = bgs_config_threads(srv->cfg.compute_threads);
    srv->metrics = bgs_metrics_new();
    srv->cache = bgs_cache_new((uint64_t)srv->cfg.cache_mb << 20,
                               (uint64_t)srv->cfg.max_memory_mb << 20);
    srv->guard = bgs_guard_new((uint64_t)srv->cfg.request_timeout_s * 1000u,
                               (uint64_t)srv->cfg.max_connections);
    if (srv->metrics == NULL || srv->cache == NULL || srv->guard == NULL ||
        uv_loop_init(&rt->loop) != 0)
        return -1;
    bgs_compute_limits lim = {srv->compute_threads, srv->cfg.max_pending};
    srv->compute = bgs_compute_new(&lim, srv->cache, srv->metrics);
    if (srv->compute == NULL || watch(rt, &rt->sig_term, SIGTERM) != 0 ||
        watch(rt, &rt->sig_int, SIGINT) != 0 ||
        watch(rt, &rt->sig_hup, SIGHUP) != 0 ||
        uv_timer_init(&rt->loop, &rt->drain_timer) != 0 ||
        uv_timer_init(&rt->loop, &rt->sweep_timer) != 0)
        return -1;
    rt->drain_timer.data = rt;
    rt->sweep_timer.data = rt;
    uv_timer_start(&rt->sweep_timer, sweep_tick, SWEEP_MS, SWEEP_MS);
    srv->daemon = bgs_http_start(srv);
    return srv->daemon != NULL ? 0 : -1;
}

int bgs_server_run(const bgs_config *cfg)
{
    static runtime rt; /* zeroed; referenced by libuv handles */
    rt.srv.cfg = *cfg;
    rt.listen_fd = MHD_INVALID_SOCKET;
    if (bgs_log_open(cfg->log_file, cfg->log_level) != 0) {
        fprintf(stderr, "beamgrid: cannot open log file %s\n", cfg->log_file);
        return 1;
    }
    if (bgs_auth_load(&rt.srv.auth, cfg, stderr) != 0) {
        bgs_log_event(BGS_LOG_ERROR, "start_failed",
                      "unusable token or TLS file");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (start(&rt) != 0) {
        bgs_log_event(BGS_LOG_ERROR, "start_failed", "could not start");
        return 1;
    }
    rt.port = bgs_http_port(rt.srv.daemon);
    announce(&rt, rt.port);
    uv_run(&rt.loop, UV_RUN_DEFAULT);
    uv_loop_close(&rt.loop);
    bgs_compute_free(rt.srv.compute); /* after the daemon: no request left */
    bgs_cache_free(rt.srv.cache);
    bgs_metrics_free(rt.srv.metrics);
    bgs_guard_free(rt.srv.guard);
    bgs_auth_free(&rt.srv.auth);
    bgs_log_event(BGS_LOG_INFO, "stopped", "clean exit");
    bgs_log_close();
    return 0;
}

/* test_ops.c - the operator's view: health, readiness, metrics, the OpenAPI
 * document, the command line, the log, and shutdown.
 *
 * The drain test holds a request in flight (a POST whose body is not yet
 * complete) and a second, idle keep-alive connection, sends SIGTERM, and
 * checks what each sees: new connections are refused, a new request on the
 * kept-alive one gets 503 with Connection: close, the in-flight request
 * still completes, and the process exits 0. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/server.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *hdr(const bgt_response *r, const char *name)
{
    static char buf[4][256];
    static int next;
    return bgt_header(r, name, buf[next++ % 4], 256);
}

static void get_ok(const bgt_server *s, const char *path, bgt_response *r)
{
    cr_assert_eq(bgt_request(s, "GET", path, NULL, NULL, 0, r), 0);
    cr_assert_eq(r->status, 200, "%s: %ld", path, r->status);
}

/* The body of /metrics once every earlier request has been counted (only
 * this one in flight), into *r. */
static void settled_metrics(const bgt_server *s, bgt_response *r)
{
    double inflight;
    cr_assert_eq(bgt_wait_metric_body(s, "beamgrid_inflight_requests", 1, 10,
                                      &inflight, r),
                 0, "requests still in flight: %.0f", inflight);
}

Test(ops, health_ready_metrics_openapi)
{
    bgt_server s;
    bgt_response r;
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    get_ok(&s, "/healthz", &r);
    cr_assert_str_eq(hdr(&r, "Content-Type"), "application/json");
    cr_assert_not_null(strstr(r.body, "\"ok\""));
    bgt_response_free(&r);
    get_ok(&s, "/readyz", &r);
    bgt_response_free(&r);

    /* A grid first, so the grid metrics move. */
    cr_assert_eq(
        bgt_post_json(&s, "/v1/sources",
                      "{\"hdivsteps\":4,\"vdivsteps\":3,\"dispsteps\":5}", NULL,
                      &r),
        0);
    bgt_response_free(&r);
    /* The server counts a request when libmicrohttpd reports it complete,
     * which may come just after the client has read the whole answer: wait
     * until only the /metrics request is in flight, so every earlier one
     * has been counted. */
    settled_metrics(&s, &r);
    cr_assert_not_null(strstr(hdr(&r, "Content-Type"), "text/plain"));
    const char *names[] = {"beamgrid_cache_hits_total",
                           "beamgrid_cache_misses_total",
                           "beamgrid_cache_evictions_total",
                           "beamgrid_cache_bytes",
                           "beamgrid_cache_entries",
                           "beamgrid_compute_seconds_total",
                           "beamgrid_grids_computed_total",
                           "beamgrid_sources_computed_total",
                           "beamgrid_inflight_requests",
                           "beamgrid_pending_computations",
                           "beamgrid_shed_total"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert_geq(bgt_metric(r.body, names[i]), 0, "%s", names[i]);
    cr_assert_eq(bgt_metric(r.body, "beamgrid_grids_computed_total"), 1);
    cr_assert_eq(bgt_metric(r.body, "beamgrid_sources_computed_total"), 9,
                 "golden g05 has 9 sources");
    cr_assert_eq(bgt_metric(r.body, "beamgrid_inflight_requests"), 1,
                 "this one");
    cr_assert_not_null(
        strstr(r.body, "beamgrid_http_requests_total{route=\"/v1/sources\","
                       "method=\"POST\",status=\"200\"} 1\n"));
    cr_assert_not_null(strstr(r.body,
                              "beamgrid_http_request_duration_seconds_bucket{"
                              "route=\"/healthz\",le=\"+Inf\"} 1\n"));
    bgt_response_free(&r);

    get_ok(&s, "/openapi.yaml", &r);
    size_t len;
    char *file = bgt_read_file("openapi.yaml", &len);
    cr_assert_not_null(file);
    cr_assert_eq(r.len, len);
    cr_assert_eq(memcmp(r.body, file, len), 0, "serves the repository's file");
    free(file);
    bgt_response_free(&r);

    cr_assert_eq(bgt_request(&s, "HEAD", "/healthz", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200);
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&s, 10), 0);
}

/* 405s and 404s count under their route template: POST /healthz and
 * PUT /v1/sources/{id} are two series, unknown paths are "other", and a
 * later 405 elsewhere relabels nothing. */
Test(ops, metrics_405_and_404_by_template)
{
    bgt_server s;
    bgt_response r;
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    static const struct {
        const char *method, *path;
        long status;
    } reqs[] = {{"POST", "/healthz", 405},
                {"PUT", "/v1/sources/abc", 405},
                {"GET", "/no/such/path", 404}};
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        cr_assert_eq(
            bgt_request(&s, reqs[i].method, reqs[i].path, NULL, NULL, 0, &r),
            0);
        cr_assert_eq(r.status, reqs[i].status, "%s %s", reqs[i].method,
                     reqs[i].path);
        bgt_response_free(&r);
    }
    settled_metrics(&s, &r);
    static const char *const lines[] = {
        "beamgrid_http_requests_total{route=\"/healthz\",method=\"POST\","
        "status=\"405\"} 1\n",
        "beamgrid_http_requests_total{route=\"/v1/sources/{id}\","
        "method=\"OTHER\",status=\"405\"} 1\n",
        "beamgrid_http_requests_total{route=\"other\",method=\"GET\","
        "status=\"404\"} 1\n"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        cr_assert_not_null(strstr(r.body, lines[i]), "%s\n%s", lines[i],
                           r.body);
    cr_assert_null(strstr(r.body, "/no/such/path"));
    cr_assert_null(strstr(r.body, "/v1/sources/abc"));
    bgt_response_free(&r);

    /* One more 405 on another path: the first series keep their labels. */
    cr_assert_eq(bgt_request(&s, "DELETE", "/metrics", NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 405);
    bgt_response_free(&r);
    settled_metrics(&s, &r);
    cr_assert_not_null(strstr(r.body, lines[0]), "%s", r.body);
    cr_assert_not_null(strstr(r.body, lines[1]), "%s", r.body);
    cr_assert_not_null(strstr(r.body,
                              "beamgrid_http_requests_total{route=\"/metrics\","
                              "method=\"OTHER\",status=\"405\"} 1\n"),
                       "%s", r.body);
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&s, 10), 0);
}

/* ---- raw sockets, for the drain test ---- */

static void send_all(int fd, const char *s)
{
    size_t n = strlen(s);
    cr_assert_eq(write(fd, s, n), (ssize_t)n);
}

/* Read one response (headers + Content-Length body) into buf. */
static void read_response(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        cr_assert_gt(r, 0, "response expected (have %zu bytes)", n);
        n += (size_t)r;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "Content-Length:");
        if (end != NULL && cl != NULL &&
            n >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10))
            return;
    }
}

/* A connection attempt to port is refused within timeout_s (the drain
 * shuts the listening socket down just after its log line). */
static int refused_within(int port, double timeout_s)
{
    double end = now_s() + timeout_s;
    for (;;) {
        int fd = bgt_dial(port, 1);
        if (fd < 0)
            return 0;
        close(fd);
        if (now_s() > end)
            return -1;
        struct timespec ts = {0, 5 * 1000 * 1000}; /* the polling interval */
        nanosleep(&ts, NULL);
    }
}

Test(ops, drain_on_sigterm)
{
    bgt_server s;
    char buf[8192];
    cr_assert_eq(bgt_server_start(&s, NULL), 0);

    int idle = bgt_dial(s.port, 5);
    cr_assert_geq(idle, 0);
    send_all(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(idle, buf, sizeof buf);
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);

    const char *body = "{\"divsteps\":4}";
    int busy = bgt_dial(s.port, 5);
    cr_assert_geq(busy, 0);
    snprintf(buf, sizeof buf,
             "POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Type: "
             "application/json\r\nContent-Length: %zu\r\n\r\n{",
             strlen(body));
    send_all(busy, buf);
    /* The headers are in: the request is in flight (it and /metrics). */
    double inflight;
    cr_assert_eq(
        bgt_wait_metric(&s, "beamgrid_inflight_requests", 2, 10, &inflight), 0,
        "in flight: %.0f", inflight);

    kill(s.pid, SIGTERM);
    cr_assert_eq(bgt_wait_file_has(s.log_path, "\"event\":\"draining\"", 10), 0,
                 "the drain began");
    cr_assert_eq(refused_within(s.port, 5), 0,
                 "no new connections while draining");

    send_all(idle, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
    read_response(idle, buf, sizeof buf);
    cr_assert(strncmp(buf, "HTTP/1.1 503", 12) == 0, "%s", buf);
    cr_assert_not_null(strcasestr(buf, "Connection: close"), "%s", buf);
    close(idle);

    send_all(busy, body + 1);
    read_response(busy, buf, sizeof buf);
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "in-flight finishes: %s",
              buf);
    close(busy);

    int status;
    cr_assert_eq(waitpid(s.pid, &status, 0), s.pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit 0");
    s.pid = 0;
    unlink(s.log_path);
}

Test(ops, drain_deadline)
{
    char log[64];
    snprintf(log, sizeof log, "/tmp/bgt-drain-%d.log", (int)getpid());
    const char *const flags[] = {"--drain-s", "1", "--log-file", log, NULL};
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    int busy = bgt_dial(s.port, 5);
    cr_assert_geq(busy, 0);
    send_all(busy, "POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "application/json\r\nContent-Length: 10\r\n\r\n{");
    double inflight;
    cr_assert_eq(
        bgt_wait_metric(&s, "beamgrid_inflight_requests", 2, 10, &inflight), 0,
        "in flight: %.0f", inflight);
    /* The request never completes: the drain waits --drain-s (1 s) for it,
     * then gives up and closes it. Not sooner (a server that ignored the
     * flag and left at once would), not much later. */
    double t0 = now_s();
    cr_assert_eq(bgt_server_stop(&s, 5), 0);
    double took = now_s() - t0;
    cr_assert(took >= 0.95 && took < 3.0, "exit %.2f s after SIGTERM", took);
    char buf[256];
    ssize_t r = read(busy, buf, sizeof buf);
    cr_assert(r == 0 || r == -1, "busy: closed unanswered, got %zd bytes: %.*s",
              r, r > 0 ? (int)r : 0, buf);
    close(busy);
    char *text = bgt_read_file(log, NULL);
    cr_assert_not_null(text);
    cr_assert_not_null(strstr(text, "\"event\":\"drain_timeout\""), "%s", text);
    free(text);
    unlink(log);
}

Test(ops, log_file_and_sighup)
{
    char path[64], moved[80];
    snprintf(path, sizeof path, "/tmp/bgt-log-%d.log", (int)getpid());
    snprintf(moved, sizeof moved, "%s.1", path);
    const char *const flags[] = {"--log-file", path, NULL};
    bgt_server s;
    bgt_response r;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    const char *h[] = {"X-Request-Id: first-one", NULL};
    cr_assert_eq(bgt_request(&s, "GET", "/healthz", h, NULL, 0, &r), 0);
    bgt_response_free(&r);
    cr_assert_eq(rename(path, moved), 0);
    kill(s.pid, SIGHUP);
    cr_assert_eq(bgt_wait_file_has(path, "\"event\":\"log_reopened\"", 10), 0,
                 "the log reopened at %s", path);
    const char *h2[] = {"X-Request-Id: second-one", NULL};
    cr_assert_eq(bgt_request(&s, "GET", "/healthz", h2, NULL, 0, &r), 0);
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&s, 10), 0);

    char *old = bgt_read_file(moved, NULL), *cur = bgt_read_file(path, NULL);
    cr_assert_not_null(old);
    cr_assert_not_null(cur);
    cr_assert_not_null(strstr(old, "\"request_id\":\"first-one\""), "%s", old);
    cr_assert_not_null(strstr(cur, "\"request_id\":\"second-one\""), "%s", cur);
    cr_assert_null(strstr(cur, "first-one"));
    cr_assert_not_null(strstr(cur, "\"event\":\"stopped\""));
    free(old);
    free(cur);
    unlink(path);
    unlink(moved);
}

/* Run the binary with args and return its exit status; its stdout and
 * stderr go to out (may be NULL). */
static int run_binary(const char *args, const char *env, char *out, size_t cap)
{
    const char *bin = getenv("BEAMGRID_BIN");
    char cmd[512], sink[8192];
    if (out == NULL) {
        out = sink;
        cap = sizeof sink;
    }
    snprintf(cmd, sizeof cmd, "%s %s %s 2>&1", env ? env : "",
             bin ? bin : "build/beamgrid", args);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, cap - 1, p); /* all of it: no SIGPIPE */
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(ops, command_line)
{
    char out[8192];
    cr_assert_eq(run_binary("--help", NULL, out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "--max-sources"));
    cr_assert_not_null(strstr(out, "BEAMGRID_MAX_SOURCES"));
    cr_assert_eq(run_binary("--version", NULL, out, sizeof out), 0);
    cr_assert_not_null(strstr(out, "beamgrid "));
    cr_assert_eq(run_binary("--port 70000", NULL, out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "--port"));
    cr_assert_eq(run_binary("--threads -1", NULL, NULL, 0), 2);
    cr_assert_eq(run_binary("--bind localhost", NULL, NULL, 0), 2);
    cr_assert_eq(run_binary("--log-level loud", NULL, NULL, 0), 2);
    cr_assert_eq(run_binary("--no-such-flag 1", NULL, NULL, 0), 2);
    cr_assert_eq(run_binary("", "BEAMGRID_CACHE_MB=lots", out, sizeof out), 2);
    cr_assert_not_null(strstr(out, "BEAMGRID_CACHE_MB"));
}

Test(ops, env_twin_and_flag_precedence)
{
    bgt_server s;
    bgt_response r;
    setenv("BEAMGRID_MAX_SOURCES", "3", 1);
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    cr_assert_eq(bgt_post_json(&s, "/v1/sources", "{\"divsteps\":4}", NULL, &r),
                 0);
    cr_assert_eq(r.status, 422, "env limit applies");
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&s, 10), 0);

    static const char *const flags[] = {"--max-sources", "100", NULL};
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    cr_assert_eq(bgt_post_json(&s, "/v1/sources", "{\"divsteps\":4}", NULL, &r),
                 0);
    cr_assert_eq(r.status, 200, "the flag wins");
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&s, 10), 0);
    unsetenv("BEAMGRID_MAX_SOURCES");
}

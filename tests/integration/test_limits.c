/* test_limits.c - every bound a client can run into, as it runs into it.
 *
 * Open connections in total (--max-connections: the next one is closed at
 * once, the server stays healthy and serves again when they go) and per
 * address (--per-ip-connections); a huge header block (431 from MHD, not a
 * hang); a client trickling a request one byte at a time (slowloris: cut
 * after --request-timeout-s although it is never idle for --timeout-s);
 * the cache's byte bound (beamgrid_cache_bytes stays within --cache-mb
 * after many distinct grids). Body size, --max-sources and the pending
 * queue are in test_errors.c and test_concurrency.c. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/server.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int dial(int port)
{
    int fd = bgt_dial(port, 0);
    cr_assert_geq(fd, 0, "connect to port %d", port);
    return fd;
}

static void healthy(const bgt_server *s)
{
    bgt_response r;
    cr_assert_eq(bgt_request(s, "GET", "/healthz", NULL, NULL, 0, &r), 0,
                 "server gone (log: %s)", s->log_path);
    cr_assert_eq(r.status, 200);
    bgt_response_free(&r);
}

/* Wait up to timeout_s for fd to become readable; then read. Returns the
 * read's result (0: closed, <0: reset), or -2 on timeout. */
static ssize_t read_within(int fd, char *buf, size_t cap, double timeout_s)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, (int)(timeout_s * 1000)) <= 0)
        return -2;
    return read(fd, buf, cap);
}

/* The server closes fd (end of stream or reset) within timeout_s without
 * answering. */
static void closed_unanswered(int fd, double timeout_s, const char *what)
{
    char buf[256];
    ssize_t r = read_within(fd, buf, sizeof buf, timeout_s);
    cr_assert(r == 0 || r == -1, "%s: %s (%zd bytes: %.*s)", what,
              r == -2 ? "still open" : "answered", r, r > 0 ? (int)r : 0, buf);
}

/* A keep-alive request on fd is answered 200. */
static void served(int fd)
{
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[512];
    cr_assert_eq(send(fd, req, strlen(req), MSG_NOSIGNAL),
                 (ssize_t)strlen(req));
    ssize_t r = read_within(fd, buf, sizeof buf - 1, 5.0);
    cr_assert_gt(r, 12);
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0);
}

static void hold_connections(const char *const *flags, int n)
{
    bgt_server s;
    int fds[16];
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    /* the start-up probe's connection is gone */
    cr_assert_eq(bgt_wait_connections(&s, 0, 10), 0, "%d connections open",
                 bgt_server_connections(&s));
    for (int i = 0; i < n; i++) { /* each one served: open and counted */
        fds[i] = dial(s.port);
        served(fds[i]);
    }
    cr_assert_eq(bgt_server_connections(&s), n, "the server holds %d", n);
    for (int i = 0; i < 3; i++) {
        int extra = dial(s.port);
        const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        (void)!send(extra, req, strlen(req), MSG_NOSIGNAL);
        closed_unanswered(extra, 2.0, "connection past the limit");
        close(extra);
    }
    served(fds[0]); /* the ones held are still served */
    for (int i = 0; i < n; i++)
        close(fds[i]);
    /* the server has closed them all, so it takes new ones again */
    cr_assert_eq(bgt_wait_connections(&s, 0, 10), 0, "%d connections open",
                 bgt_server_connections(&s));
    healthy(&s);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

Test(limits, max_connections_closes_the_next)
{
    static const char *const flags[] = {"--max-connections", "4",
                                        "--per-ip-connections", "0", NULL};
    hold_connections(flags, 4);
}

Test(limits, max_connections_one_http_thread)
{
    static const char *const flags[] = {"--max-connections", "3", "--threads",
                                        "1", NULL};
    hold_connections(flags, 3);
}

Test(limits, per_ip_connections_closes_the_next)
{
    static const char *const flags[] = {"--per-ip-connections", "5", NULL};
    hold_connections(flags, 5);
}

Test(limits, huge_header_gets_431)
{
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    int fd = dial(s.port);
    const char *head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ";
    cr_assert_eq(send(fd, head, strlen(head), MSG_NOSIGNAL),
                 (ssize_t)strlen(head));
    char chunk[4096], buf[512];
    memset(chunk, 'a', sizeof chunk);
    ssize_t got = -2;
    /* Send until the server answers (it must, well before 1 MiB). */
    for (int i = 0; i < 256 && got == -2; i++) {
        if (send(fd, chunk, sizeof chunk, MSG_NOSIGNAL) <= 0)
            break;
        got = read_within(fd, buf, sizeof buf - 1, 0.0);
    }
    if (got == -2)
        got = read_within(fd, buf, sizeof buf - 1, 5.0);
    cr_assert_gt(got, 12, "an answer, not a hang or a reset");
    buf[got] = '\0';
    cr_assert(strncmp(buf, "HTTP/1.1 431", 12) == 0 ||
                  strncmp(buf, "HTTP/1.1 413", 12) == 0,
              "%s", buf);
    close(fd);
    healthy(&s);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

/* Send `text` one byte every step_s until the server closes; returns the
 * seconds it took (or a large number if it never did). */
static double trickle(int port, const char *text, double step_s, double max_s)
{
    int fd = dial(port);
    double t0 = now_s();
    size_t i = 0, n = strlen(text);
    char buf[256];
    while (now_s() - t0 < max_s) {
        char c = i < n ? text[i] : ' ';
        i++;
        if (send(fd, &c, 1, MSG_NOSIGNAL) != 1)
            break;
        ssize_t r = read_within(fd, buf, sizeof buf, step_s);
        if (r == 0 || r == -1)
            break;
        cr_assert_eq(r, -2, "no answer expected: %.*s", (int)r, buf);
    }
    double took = now_s() - t0;
    close(fd);
    return took;
}

Test(limits, slowloris_is_cut)
{
    static const char *const flags[] = {"--timeout-s", "1",
                                        "--request-timeout-s", "2", NULL};
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    /* Never idle for a second, never done: headers ... */
    double took =
        trickle(s.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaa",
                0.3, 10.0);
    cr_assert(took >= 1.9 && took < 4.0, "headers: cut after %.2f s", took);
    /* ... and a body. */
    took = trickle(s.port,
                   "POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "application/json\r\nContent-Length: 500\r\n\r\n{",
                   0.3, 10.0);
    cr_assert(took >= 1.9 && took < 4.0, "body: cut after %.2f s", took);
    healthy(&s);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
    /* A keep-alive connection waiting between requests is governed by the
     * idle timeout, and a slow download is not a slow request: neither is
     * covered here (test_robustness.c has the idle timeout). */
}

Test(limits, request_timeout_spares_slow_downloads)
{
    /* A download read slowly for longer than the deadline completes: the
     * deadline covers sending the request, not receiving the answer. */
    static const char *const flags[] = {"--request-timeout-s", "1", NULL};
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    const char *body = "{\"divergence_mrad\":1,\"divsteps\":500,"
                       "\"round_div\":false}";
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /v1/sources?format=npy HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nConnection: close"
                     "\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    int fd = dial(s.port);
    int small = 16384;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    cr_assert_eq(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    static char buf[262144];
    size_t total = 0;
    double t0 = now_s();
    ssize_t r;
    while ((r = read_within(fd, buf, sizeof buf, 5.0)) > 0) {
        total += (size_t)r;
        usleep(20000); /* the slow reader under test, not a synchronisation */
    }
    close(fd);
    double took = now_s() - t0;
    /* 250,000 sources x 5 columns x 8 bytes, plus the headers. */
    cr_assert_geq(total, 10000000u, "the whole body: %zu bytes", total);
    cr_assert_gt(took, 1.2, "slower than the deadline: %.2f s", took);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

Test(limits, cache_bytes_stay_within_cache_mb)
{
    static const char *const flags[] = {"--cache-mb", "1", NULL};
    bgt_server s;
    bgt_response r;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    /* 60 distinct grids of 3,600 sources (~200 KiB each with positions,
     * plus their JSON bodies): many times the bound. */
    for (int i = 0; i < 60; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"divsteps\":60,\"divergence_mrad\":1,\"round_div\":false,"
                 "\"lambda_A\":%d.25}",
                 i + 1);
        cr_assert_eq(
            bgt_post_json(&s, i % 2 ? "/v1/sources?format=txt" : "/v1/sources",
                          body, NULL, &r),
            0);
        cr_assert_eq(r.status, 200, "grid %d: %s", i, r.body);
        bgt_response_free(&r);
        cr_assert_eq(bgt_request(&s, "GET", "/metrics", NULL, NULL, 0, &r), 0);
        double bytes = bgt_metric(r.body, "beamgrid_cache_bytes");
        bgt_response_free(&r);
        cr_assert(bytes >= 0 && bytes <= 1 << 20,
                  "after grid %d: %.0f cached bytes > 1 MiB", i, bytes);
    }
    cr_assert_eq(bgt_request(&s, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    cr_assert_gt(bgt_metric(r.body, "beamgrid_cache_evictions_total"), 10);
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

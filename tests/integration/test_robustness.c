/* test_robustness.c - hostile and broken clients.
 *
 * Raw bytes over a socket, table-driven: malformed request lines, huge and
 * binary headers, odd methods, chunked and truncated bodies, pipelining,
 * clients that vanish mid-upload or while their grid is being computed.
 * After each, the server must still answer /healthz, and at the end it must
 * exit 0 (under the sanitizer build, any memory error would fail that). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/server.h"

static bgt_server srv;

static const char *const FLAGS[] = {"--max-body-kb",   "4",  "--timeout-s", "1",
                                    "--inline-max-kb", "32", NULL};

static void start(void)
{
    cr_assert_eq(bgt_server_start(&srv, FLAGS), 0);
}

static void alive(void)
{
    bgt_response r;
    cr_assert_eq(bgt_request(&srv, "GET", "/healthz", NULL, NULL, 0, &r), 0,
                 "server gone (log: %s)", srv.log_path);
    cr_assert_eq(r.status, 200);
    bgt_response_free(&r);
}

static void stop(void)
{
    alive();
    cr_assert_eq(bgt_server_stop(&srv, 10), 0, "log: %s", srv.log_path);
}

TestSuite(robust, .init = start, .fini = stop);

static int dial(void)
{
    int fd = bgt_dial(srv.port, 5);
    cr_assert_geq(fd, 0, "connect to port %d", srv.port);
    return fd;
}

/* Whether out[0..n) holds a whole response (headers and Content-Length
 * body); responses without a length end when the server closes. */
static int complete(const char *out, size_t n)
{
    const char *end = strstr(out, "\r\n\r\n");
    const char *cl = strcasestr(out, "\r\nContent-Length:");
    if (end == NULL || cl == NULL || cl > end)
        return 0;
    return n >= (size_t)(end + 4 - out) + strtoul(cl + 17, NULL, 10);
}

/* Send raw bytes, half-close, read the server's answer (to the end of the
 * first response, or until it closes). Returns the status of the first
 * response line, or 0 if it said nothing. */
static int exchange(const char *data, size_t len, char *out, size_t cap)
{
    int fd = dial();
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, data + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close early: fine */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    size_t n = 0;
    ssize_t r;
    out[0] = '\0';
    while (n + 1 < cap && !complete(out, n) &&
           (r = read(fd, out + n, cap - 1 - n)) > 0) {
        n += (size_t)r;
        out[n] = '\0';
    }
    close(fd);
    int status = 0;
    if (n > 12 && strncmp(out, "HTTP/1.", 7) == 0)
        status = atoi(out + 9);
    return status;
}

typedef struct {
    const char *name;
    const char *raw;
    int want; /* expected first status; 0: any or none */
} raw_case;

static const raw_case CASES[] = {
    {"garbage", "\x01\x02\x03\xff\xfe garbage\r\n\r\n", 0},
    {"no version", "GET /healthz\r\n\r\n", 0},
    {"bad version", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 0},
    {"http/1.0", "GET /healthz HTTP/1.0\r\n\r\n", 200},
    {"odd method", "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405},
    {"long method",
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
     " /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
     405},
    {"binary path",
     "GET /v1/sources/\x01\x7f\xc3\x28 HTTP/1.1\r\nHost: x\r\n\r\n", 0},
    {"percent nul id", "GET /v1/sources/AB%00CD HTTP/1.1\r\nHost: x\r\n\r\n",
     404},
    {"dot dot", "GET /v1/../v1/sources/x HTTP/1.1\r\nHost: x\r\n\r\n", 404},
    {"query junk", "GET /healthz?%zz&&==&format HTTP/1.1\r\nHost: x\r\n\r\n",
     200},
    {"format twice",
     "POST /v1/sources?format=npy&format=xml HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: 2\r\n\r\n{}",
     0},
    {"binary header",
     "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: \x01\xff\r\n\r\n", 0},
    {"binary accept",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\nAccept: \xff\xfe;q=\x01\r\n"
     "Content-Length: 2\r\n\r\n{}",
     0},
    {"bad content-length",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: -5\r\n\r\n{}",
     0},
    {"huge content-length",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: 99999999999999999999\r\n\r\n{}",
     0},
    {"chunked",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     "Content-Type: application/json\r\n\r\n"
     "1\r\n{\r\n1\r\n}\r\n0\r\n\r\n",
     200},
    {"bad chunk",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
     "chunked\r\n\r\n"
     "zz\r\n{}\r\n0\r\n\r\n",
     0},
    {"truncated body",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: 100\r\n\r\n{\"lambda",
     0},
    {"nul in body",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n{\0}\n",
     400},
    {"deep json",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n"
     "[[[[[[[[[[[[",
     400},
    {"huge number",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Length: 19\r\n\r\n"
     "{\"divsteps\":1e999}\n",
     0},
    {"huge count",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\n\r\n"
     "{\"divsteps\":9223372036854775807}\n",
     422},
    {"bad content-type",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Type: \x01\xff"
     "\r\nContent-Length: 2\r\n\r\n{}",
     415},
    {"expect continue",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
     "Content-Length: 2\r\n\r\n{}",
     0},
    {"nan literal",
     "POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Length: 18\r\n\r\n"
     "{\"lambda_A\": NaN}\n",
     400},
    {"pipelined",
     "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /readyz HTTP/1.1\r\nHost: "
     "x\r\n\r\n"
     "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
     200},
};

Test(robust, raw_requests)
{
    char out[65536];
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const raw_case *c = &CASES[i];
        size_t len = strlen(c->raw);
        if (strcmp(c->name, "nul in body") == 0)
            len = strstr(c->raw, "\r\n\r\n") - c->raw + 4 + 4;
        int status = exchange(c->raw, len, out, sizeof out);
        if (c->want != 0)
            cr_assert_eq(status, c->want, "%s: got %d: %.300s", c->name, status,
                         out);
        alive();
    }
}

Test(robust, oversized_headers)
{
    size_t n = 200 * 1024;
    char *raw = malloc(n + 128), out[8192];
    int k = snprintf(raw, n, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(raw + k, 'a', n - (size_t)k);
    memcpy(raw + n, "\r\n\r\n", 5);
    int status = exchange(raw, n + 4, out, sizeof out);
    cr_assert(status == 0 || status >= 400, "got %d", status);
    free(raw);
    alive();
}

Test(robust, many_headers)
{
    size_t cap = 64 * 1024, k = 0;
    char *raw = malloc(cap), out[8192];
    k += (size_t)snprintf(raw, cap, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; k + 32 < cap; i++)
        k += (size_t)snprintf(raw + k, cap - k, "Accept: t%d/x\r\n", i);
    k += (size_t)snprintf(raw + k, cap - k, "\r\n");
    exchange(raw, k, out, sizeof out);
    free(raw);
    alive();
}

Test(robust, vanish_mid_upload)
{
    for (int i = 0; i < 20; i++) {
        int fd = dial();
        const char *part = "POST /v1/sources HTTP/1.1\r\nHost: x\r\n"
                           "Content-Length: 3000\r\n\r\n{\"lambda_A\":";
        send(fd, part, strlen(part), MSG_NOSIGNAL);
        close(fd);
    }
    alive();
}

/* The value of a /metrics sample now. */
static double metric_now(const char *name)
{
    double v = bgt_server_metric(&srv, name);
    cr_assert_geq(v, 0, "metric %s present", name);
    return v;
}

Test(robust, vanish_while_computing)
{
    /* Large enough for the executor (--inline-max-kb 32: 820 sources): the
     * connection is suspended when the client leaves. Ten distinct grids:
     * each is computed although nobody waits for it. */
    enum { VANISHED = 10 };
    double computed0 = metric_now("beamgrid_grids_computed_total");
    cr_assert_geq(computed0, 0);
    for (int i = 0; i < VANISHED; i++) {
        char body[200], raw[400];
        int n = snprintf(body, sizeof body,
                         "{\"divergence_mrad\":%d,\"divsteps\":300,"
                         "\"round_div\":false}",
                         i + 1);
        snprintf(raw, sizeof raw,
                 "POST /v1/sources HTTP/1.1\r\nHost: x\r\nContent-Length: %d"
                 "\r\n\r\n%s",
                 n, body);
        int fd = dial();
        send(fd, raw, strlen(raw), MSG_NOSIGNAL);
        close(fd);
    }
    alive();
    /* They complete once computed (a slow build may take a while). */
    double computed = -1, inflight = -1;
    cr_assert_eq(bgt_wait_metric(&srv, "beamgrid_grids_computed_total",
                                 computed0 + VANISHED, 60, &computed),
                 0, "%d grids computed, %.0f before and %.0f now", VANISHED,
                 computed0, computed);
    cr_assert_eq(
        bgt_wait_metric(&srv, "beamgrid_inflight_requests", 1, 30, &inflight),
        0, "the vanished requests completed (%.0f in flight)", inflight);
}

Test(robust, vanish_while_streaming)
{
    /* A large text body, abandoned after the first bytes. */
    const char *body =
        "{\"divergence_mrad\":1,\"divsteps\":400,\"round_div\":false}";
    char raw[400], buf[4096];
    snprintf(
        raw, sizeof raw,
        "POST /v1/sources?format=txt HTTP/1.1\r\nHost: x\r\nContent-Length: "
        "%zu\r\n\r\n%s",
        strlen(body), body);
    for (int i = 0; i < 5; i++) {
        int fd = dial();
        send(fd, raw, strlen(raw), MSG_NOSIGNAL);
        cr_assert_gt(read(fd, buf, sizeof buf), 0);
        close(fd);
    }
    /* The server notices each abandoned stream and ends its request. */
    double inflight = -1;
    cr_assert_eq(
        bgt_wait_metric(&srv, "beamgrid_inflight_requests", 1, 30, &inflight),
        0, "the abandoned streams ended (%.0f in flight)", inflight);
    alive();
}

Test(robust, idle_timeout_closes)
{
    int fd = dial();
    char buf[64];
    /* --timeout-s 1: an idle connection is closed by the server. */
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    cr_assert_eq(r, 0, "closed without a word");
    close(fd);
}

/* test_security.c - who gets in, and what comes back out.
 *
 * The bearer token (--token-file, BEAMGRID_TOKEN_FILE): /v1/... needs it
 * (401 problem+json with WWW-Authenticate otherwise, right or wrong token,
 * any scheme), the operational endpoints stay open, /metrics closes with
 * --metrics-auth, and unusable files stop the start. TLS (--tls-cert,
 * --tls-key) with a certificate made here by openssl. Every response path
 * carries X-Content-Type-Options: nosniff. Hostile bytes (field names,
 * X-Request-Id, paths with quotes, <script>, control characters, invalid
 * UTF-8) never come back raw: bodies and log lines stay valid JSON. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/server.h"

#define TOKEN "Zm9vYmFy.s3cret-token_42"
#define GOOD  "Authorization: Bearer " TOKEN
#define JSON  "Content-Type: application/json"

static char dir[64];

/* A scratch folder with token files and a self-signed certificate. */
static void make_files(void)
{
    char cmd[512];
    snprintf(dir, sizeof dir, "/tmp/bgt-sec-%d", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && cd %s && printf '%s\\n' > token && : > empty && "
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
             "-keyout key.pem -out cert.pem 2>/dev/null",
             dir, dir, TOKEN);
    cr_assert_eq(system(cmd), 0, "openssl made a certificate");
}

static void remove_files(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(security, .init = make_files, .fini = remove_files);

static const char *path_in(const char *name)
{
    static char buf[4][128];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, 128, "%s/%s", dir, name);
    return b;
}

static long status_of(const bgt_server *s, const char *method, const char *path,
                      const char *auth)
{
    const char *h[] = {JSON, auth, NULL};
    const char *body = strcmp(method, "POST") == 0 ? "{}" : NULL;
    bgt_response r;
    cr_assert_eq(
        bgt_request(s, method, path, h, body, body ? strlen(body) : 0, &r), 0);
    long st = r.status;
    if (st == 401) {
        char v[128];
        cr_assert_str_eq(bgt_header(&r, "WWW-Authenticate", v, sizeof v),
                         "Bearer realm=\"beamgrid\"");
        cr_assert_str_eq(bgt_header(&r, "Content-Type", v, sizeof v),
                         "application/problem+json");
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        cr_assert_not_null(j, "%s", r.body);
        cr_assert_eq(json_integer_value(json_object_get(j, "status")), 401);
        json_decref(j);
    }
    bgt_response_free(&r);
    return st;
}

Test(security, token_guards_v1_only)
{
    bgt_server s;
    const char *flags[] = {"--token-file", path_in("token"), NULL};
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    const char *wrong[] = {NULL,
                           "Authorization: Bearer wrong",
                           "Authorization: Bearer " TOKEN "x",
                           "Authorization: Bearer Zm9vYmFy",
                           "Authorization: Basic " TOKEN,
                           "Authorization: " TOKEN,
                           "Authorization: Bearer",
                           "X-Token: " TOKEN};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        cr_assert_eq(status_of(&s, "POST", "/v1/sources", wrong[i]), 401,
                     "case %zu", i);
        cr_assert_eq(status_of(&s, "GET", "/v1/sources/AAAA", wrong[i]), 401);
        cr_assert_eq(status_of(&s, "GET", "/v1/nothing", wrong[i]), 401);
        cr_assert_eq(status_of(&s, "GET", "/v1/sources", wrong[i]), 401);
    }
    cr_assert_eq(status_of(&s, "POST", "/v1/sources", GOOD), 200);
    cr_assert_eq(
        status_of(&s, "POST", "/v1/sources", "Authorization: bearer  " TOKEN),
        200, "the scheme is case-insensitive");
    cr_assert_eq(status_of(&s, "GET", "/v1/sources/AAAA", GOOD), 404);
    const char *open[] = {"/healthz", "/readyz", "/metrics", "/openapi.yaml"};
    for (size_t i = 0; i < sizeof open / sizeof open[0]; i++)
        cr_assert_eq(status_of(&s, "GET", open[i], NULL), 200, "%s", open[i]);
    cr_assert_eq(status_of(&s, "GET", "/nope", NULL), 404);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

Test(security, metrics_auth_and_env_twins)
{
    bgt_server s;
    setenv("BEAMGRID_TOKEN_FILE", path_in("token"), 1);
    setenv("BEAMGRID_METRICS_AUTH", "1", 1);
    cr_assert_eq(bgt_server_start(&s, NULL), 0);
    cr_assert_eq(status_of(&s, "GET", "/metrics", NULL), 401);
    cr_assert_eq(status_of(&s, "GET", "/metrics", GOOD), 200);
    cr_assert_eq(status_of(&s, "GET", "/healthz", NULL), 200);
    cr_assert_eq(status_of(&s, "POST", "/v1/sources", NULL), 401);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
    unsetenv("BEAMGRID_TOKEN_FILE");
    unsetenv("BEAMGRID_METRICS_AUTH");
}

/* Run the binary with args; its exit status (it must not start). */
static int refuses(const char *args)
{
    const char *bin = getenv("BEAMGRID_BIN");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "timeout 10 %s --port 0 %s >/dev/null 2>&1",
             bin ? bin : "build/beamgrid", args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(security, unusable_files_refuse_to_start)
{
    char args[512];
    snprintf(args, sizeof args, "--token-file %s", path_in("empty"));
    cr_assert_eq(refuses(args), 2, "empty token file");
    snprintf(args, sizeof args, "--token-file %s", path_in("missing"));
    cr_assert_eq(refuses(args), 2, "missing token file");
    cr_assert_eq(refuses("--metrics-auth"), 2, "metrics-auth without token");
    snprintf(args, sizeof args, "--tls-cert %s", path_in("cert.pem"));
    cr_assert_eq(refuses(args), 2, "certificate without key");
    snprintf(args, sizeof args, "--tls-key %s", path_in("key.pem"));
    cr_assert_eq(refuses(args), 2, "key without certificate");
    snprintf(args, sizeof args, "--tls-cert %s --tls-key %s",
             path_in("missing"), path_in("key.pem"));
    cr_assert_eq(refuses(args), 2, "unreadable certificate");
    snprintf(args, sizeof args, "--tls-cert %s --tls-key %s",
             path_in("cert.pem"), path_in("empty"));
    cr_assert_eq(refuses(args), 2, "empty key");
    snprintf(args, sizeof args, "--tls-cert %s --tls-key %s", path_in("token"),
             path_in("token"));
    cr_assert_eq(refuses(args), 1, "not PEM: the daemon does not start");
}

Test(security, tls_with_token)
{
    bgt_server s;
    const char *flags[] = {
        "--tls-cert",   path_in("cert.pem"), "--tls-key", path_in("key.pem"),
        "--token-file", path_in("token"),    NULL};
    cr_assert_eq(bgt_server_start_tls(&s, flags, path_in("cert.pem")), 0);
    cr_assert(strncmp(s.base, "https://", 8) == 0, "%s", s.base);
    bgt_response r;
    const char *h[] = {GOOD, NULL};
    cr_assert_eq(bgt_post_json(&s, "/v1/sources?format=npy",
                               "{\"divergence_mrad\":0.5,\"divsteps\":9}", h,
                               &r),
                 0);
    cr_assert_eq(r.status, 200);
    cr_assert(r.len > 128 && memcmp(r.body, "\x93NUMPY", 6) == 0);
    bgt_response_free(&r);
    cr_assert_eq(status_of(&s, "POST", "/v1/sources", NULL), 401);

    /* Plain HTTP to the TLS port is not served. */
    bgt_server plain = s;
    snprintf(plain.base, sizeof plain.base, "http://127.0.0.1:%d", s.port);
    plain.cacert[0] = '\0';
    int rc = bgt_request(&plain, "GET", "/healthz", NULL, NULL, 0, &r);
    cr_assert(rc != 0 || r.status != 200, "plain HTTP got %ld", r.status);
    bgt_response_free(&r);
    /* Nor a client that does not trust the certificate. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "curl -sf -o /dev/null %s/healthz", s.base);
    cr_assert_neq(system(cmd), 0, "an untrusted certificate is refused");
    snprintf(cmd, sizeof cmd, "curl -sf -o /dev/null --cacert %s %s/healthz",
             s.cacert, s.base);
    cr_assert_eq(system(cmd), 0, "curl --cacert works");
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

/* ---- nosniff and echoes ---- */

static void expect_nosniff(const bgt_response *r, const char *what)
{
    char v[64];
    cr_assert_not_null(bgt_header(r, "X-Content-Type-Options", v, sizeof v),
                       "%s (%ld) lacks nosniff", what, r->status);
    cr_assert_str_eq(v, "nosniff", "%s", what);
}

typedef struct {
    const char *method, *path, *body, *header;
    long status;
} call;

Test(security, nosniff_everywhere)
{
    bgt_server s;
    const char *flags[] = {"--token-file", path_in("token"), "--max-body-kb",
                           "1", NULL};
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    bgt_response r;
    cr_assert_eq(bgt_post_json(&s, "/v1/sources", "{}",
                               (const char *[]){GOOD, NULL}, &r),
                 0);
    char etag[128], loc[256], inm[200];
    bgt_header(&r, "ETag", etag, sizeof etag);
    bgt_header(&r, "Content-Location", loc, sizeof loc);
    snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
    bgt_response_free(&r);
    char big[2048];
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    const call calls[] = {
        {"GET", "/healthz", NULL, NULL, 200},
        {"HEAD", "/healthz", NULL, NULL, 200},
        {"GET", "/readyz", NULL, NULL, 200},
        {"GET", "/metrics", NULL, NULL, 200},
        {"GET", "/openapi.yaml", NULL, NULL, 200},
        {"GET", "/nope", NULL, NULL, 404},
        {"DELETE", "/healthz", NULL, NULL, 405},
        {"POST", "/v1/sources", "{}", NULL, 401},
        {"POST", "/v1/sources", "{}", GOOD, 200},
        {"POST", "/v1/sources?format=txt", "{}", GOOD, 200},
        {"POST", "/v1/sources?format=xml", "{}", GOOD, 400},
        {"POST", "/v1/sources", "{\"x\":1}", GOOD, 400},
        {"POST", "/v1/sources", "{\"lambda_A\":-1}", GOOD, 422},
        {"POST", "/v1/sources", big, GOOD, 413},
        {"GET", loc, NULL, GOOD, 200},
        {"HEAD", loc, NULL, GOOD, 200},
        {"GET", loc, NULL, "If-None-Match: *", 401},
        {"GET", "/v1/sources/AAAA", NULL, GOOD, 404},
        {"GET", "/v1/sources", NULL, GOOD, 405},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        const call *c = &calls[i];
        const char *h[] = {JSON, c->header, NULL};
        cr_assert_eq(bgt_request(&s, c->method, c->path, h, c->body,
                                 c->body ? strlen(c->body) : 0, &r),
                     0);
        cr_assert_eq(r.status, c->status, "%s %s: %ld", c->method, c->path,
                     r.status);
        expect_nosniff(&r, c->path);
        bgt_response_free(&r);
    }
    /* 304, 415 and 406 too. */
    const char *h304[] = {GOOD, inm, NULL};
    cr_assert_eq(bgt_request(&s, "GET", loc, h304, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 304);
    expect_nosniff(&r, "304");
    bgt_response_free(&r);
    const char *h415[] = {GOOD, "Content-Type: text/plain", NULL};
    cr_assert_eq(bgt_request(&s, "POST", "/v1/sources", h415, "{}", 2, &r), 0);
    cr_assert_eq(r.status, 415);
    expect_nosniff(&r, "415");
    bgt_response_free(&r);
    const char *h406[] = {GOOD, JSON, "Accept: image/png", NULL};
    cr_assert_eq(bgt_request(&s, "POST", "/v1/sources", h406, "{}", 2, &r), 0);
    cr_assert_eq(r.status, 406);
    expect_nosniff(&r, "406");
    bgt_response_free(&r);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

static int dial(int port)
{
    int fd = bgt_dial(port, 5);
    cr_assert_geq(fd, 0, "connect to port %d", port);
    return fd;
}

/* Send raw and read the whole answer (Connection: close). */
static size_t raw_exchange(int port, const char *raw, size_t len, char *out,
                           size_t cap)
{
    int fd = dial(port);
    cr_assert_eq(send(fd, raw, len, MSG_NOSIGNAL), (ssize_t)len);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fd);
    return n;
}

/* The header block has only printable ASCII, tabs and CRLFs; the body (if
 * any) is a JSON object. */
static void check_answer(const char *name, const char *out, size_t n)
{
    const char *end = strstr(out, "\r\n\r\n");
    cr_assert_not_null(end, "%s: a response: %s", name, out);
    for (const char *p = out; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        cr_assert(c == '\r' || c == '\n' || c == '\t' ||
                      (c >= 0x20 && c < 0x7f),
                  "%s: raw byte 0x%02x in the headers", name, c);
    }
    cr_assert_null(strstr(out, "<script>alert"), "%s: %s", name, out);
    const char *body = end + 4;
    size_t blen = n - (size_t)(body - out);
    if (blen == 0)
        return;
    json_error_t err;
    json_t *j = json_loadb(body, blen, 0, &err);
    cr_assert_not_null(j, "%s: body is JSON (%s): %s", name, err.text, body);
    cr_assert(json_is_object(j));
    json_decref(j);
}

/* A hostile request: method line path, extra header lines, body. */
typedef struct {
    const char *name, *path, *headers, *body;
} hostile;

static const hostile HOSTILE[] = {
    {"field name", "/v1/sources", "",
     "{\"<script>alert(1)</script>\\\"\\u0000\\u001b[31m\":1}"},
    {"raw control in field", "/v1/sources", "", "{\"a\x01\x1b\x7f\":1}"},
    {"invalid utf-8 field", "/v1/sources", "", "{\"\xc3\x28\xff\xfe\":1}"},
    {"long field", "/v1/sources", "",
     "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaa\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\":1}"},
    {"string value", "/v1/sources", "",
     "{\"convention\":\"</script><script>alert(1)</script>\\\"\\n\"}"},
    {"request id", "/v1/sources",
     "X-Request-Id: \"><script>alert(1)</script>\x01\r\n", "{}"},
    {"path quotes", "/v1/sources/\"><script>alert(1)</script>", "", NULL},
    {"path control", "/v1/sources/%01%1b%22%5c%ff%c3%28", "", NULL},
    {"path utf-8", "/nope/\xc3\x28\xe2\x82\x28\"\\", "", NULL},
    {"query", "/v1/sources?format=<script>\"\\%00", "", "{}"},
    {"accept", "/v1/sources", "Accept: <script>\"\x01\r\n", "{}"},
};

Test(security, hostile_bytes_never_echoed_raw)
{
    char log[128];
    snprintf(log, sizeof log, "%s/server.log", dir);
    const char *flags[] = {"--log-file", log, NULL};
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    static char raw[8192], out[65536];
    for (size_t i = 0; i < sizeof HOSTILE / sizeof HOSTILE[0]; i++) {
        const hostile *h = &HOSTILE[i];
        const char *method = h->body ? "POST" : "GET";
        int n = snprintf(raw, sizeof raw,
                         "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         "Content-Type: application/json\r\n%s"
                         "Content-Length: %zu\r\n\r\n%s",
                         method, h->path, h->headers,
                         h->body ? strlen(h->body) : 0, h->body ? h->body : "");
        size_t got = raw_exchange(s.port, raw, (size_t)n, out, sizeof out);
        check_answer(h->name, out, got);
    }
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
    char *text = bgt_read_file(log, NULL);
    cr_assert_not_null(text);
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        cr_assert_not_null(j, "log line is JSON (%s): %s", err.text, line);
        json_decref(j);
        for (const char *p = line; *p; p++)
            cr_assert((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
                      "raw byte in the log: %s", line);
        lines++;
    }
    cr_assert_geq(lines, (int)(sizeof HOSTILE / sizeof HOSTILE[0]));
    free(text);
}

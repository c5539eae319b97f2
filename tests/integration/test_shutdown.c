/* test_shutdown.c - SIGTERM under real concurrent load.
 *
 * Eight clients loop over small grids, grids by id and large streamed
 * grids on keep-alive connections, each request with its own X-Request-Id,
 * while a ninth polls /readyz. SIGTERM arrives mid-load. Every request must
 * end in one of three ways: a complete response (200, or 503 once the drain
 * has begun), a refused connection, or - only when the server had not read
 * it - a connection closed before any response byte. Nothing is lost: every
 * request the server's log says it answered was received whole by its
 * client. /readyz answered 200 before, turned 503 (or refused) once the
 * drain began, and never answered 200 to a poll sent after the drain's log
 * line; the process exits 0 within --drain-s. The load is counted, not
 * slept for. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/server.h"

#define CLIENTS 8
#define MAX_REQ 4096

typedef enum { OUT_NONE, OUT_OK, OUT_REFUSED, OUT_UNREAD, OUT_BROKEN } outcome;

typedef struct {
    const bgt_server *srv;
    int no;
    atomic_bool *stop;
    atomic_int n; /* requests made (read by the main thread while running) */
    outcome out[MAX_REQ];
    long status[MAX_REQ];
    int code[MAX_REQ];
} client;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    *(size_t *)u += s * n;
    return s * n;
}

static const char *SMALL = "{\"divergence_mrad\":0.5,\"divsteps\":9}";
static const char *LARGE =
    "{\"divergence_mrad\":1,\"divsteps\":250,\"round_div\":false}";

/* One request on the client's handle; classify how it ended. */
static outcome one(CURL *c, client *cl, int k, const char *id_path)
{
    char url[512], rid[64];
    size_t got = 0;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: "
                                                   "application/json");
    snprintf(rid, sizeof rid, "X-Request-Id: c%d-%d", cl->no, k);
    h = curl_slist_append(h, rid);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    switch (k % 3) {
    case 0:
        snprintf(url, sizeof url, "%s/v1/sources", cl->srv->base);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, SMALL);
        break;
    case 1:
        snprintf(url, sizeof url, "%s%s?format=npy", cl->srv->base, id_path);
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        break;
    default:
        snprintf(url, sizeof url, "%s/v1/sources?format=txt", cl->srv->base);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, LARGE);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    CURLcode rc = curl_easy_perform(c);
    long hdr = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &cl->status[k]);
    curl_easy_getinfo(c, CURLINFO_HEADER_SIZE, &hdr);
    curl_slist_free_all(h);
    cl->code[k] = (int)rc;
    if (rc == CURLE_OK)
        return OUT_OK;
    if (rc == CURLE_COULDNT_CONNECT)
        return OUT_REFUSED;
    if (hdr == 0 && got == 0 &&
        (rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR ||
         rc == CURLE_SEND_ERROR))
        return OUT_UNREAD;
    return OUT_BROKEN;
}

static char g_id_path[256];

static void *run_client(void *arg)
{
    client *cl = arg;
    CURL *c = curl_easy_init();
    for (int k = 0; k < MAX_REQ; k++) {
        outcome o = one(c, cl, k, g_id_path);
        cl->out[k] = o;
        cl->n = k + 1;
        if (o == OUT_REFUSED || atomic_load(cl->stop))
            break;
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* How the /readyz poller ended. */
typedef enum { READY_STOPPED, READY_503, READY_REFUSED } ready_end;

typedef struct {
    const bgt_server *srv;
    atomic_bool *stop;
    ready_end end;
    int ok_before, n_503, ok_after_503; /* 200s before, 503s, 200s after */
    double last_ok_sent; /* when the last poll answered 200 was sent */
} ready_poller;

/* Poll /readyz on one kept-alive connection until it is refused (or the
 * test stops it), counting the answers: once a 503 came (the drain began),
 * a later 200 would be a server that took the drain back. */
static void *poll_ready(void *arg)
{
    ready_poller *p = arg;
    CURL *c = curl_easy_init();
    char url[128];
    size_t got = 0;
    snprintf(url, sizeof url, "%s/readyz", p->srv->base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    p->end = READY_STOPPED;
    while (!atomic_load(p->stop)) {
        long st = 0;
        double sent = now_s();
        if (curl_easy_perform(c) != CURLE_OK) {
            p->end = READY_REFUSED; /* the drain closed the listener */
            break;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        if (st == 503) {
            p->n_503++;
            p->end = READY_503;
        } else if (st == 200) {
            p->last_ok_sent = sent;
            p->ok_before += p->n_503 == 0;
            p->ok_after_503 += p->n_503 > 0;
        }
        /* the polling interval (a probe's pace, not a synchronisation) */
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    curl_easy_cleanup(c);
    return NULL;
}

/* Requests the clients have made so far. */
static int requests_made(client *cl)
{
    int n = 0;
    for (int i = 0; i < CLIENTS; i++)
        n += atomic_load(&cl[i].n);
    return n;
}

/* Every request line of the server's log with a status: its client got
 * a complete response. */
static int check_log(const char *path, client *cl)
{
    char *text = bgt_read_file(path, NULL);
    cr_assert_not_null(text, "log %s", path);
    int answered = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        cr_assert_not_null(j, "%s", line);
        const char *rid = json_string_value(json_object_get(j, "request_id"));
        int c, k;
        if (rid != NULL && sscanf(rid, "c%d-%d", &c, &k) == 2 && c >= 0 &&
            c < CLIENTS && k < cl[c].n) {
            long st = (long)json_integer_value(json_object_get(j, "status"));
            cr_assert_eq(cl[c].out[k], OUT_OK,
                         "%s: the server answered %ld, the client got curl "
                         "error %d",
                         rid, st, cl[c].code[k]);
            cr_assert_eq(cl[c].status[k], st, "%s", rid);
            answered++;
        }
        json_decref(j);
    }
    free(text);
    return answered;
}

Test(shutdown, sigterm_under_load)
{
    char log[128];
    snprintf(log, sizeof log, "/tmp/bgt-shutdown-%d.log", (int)getpid());
    const char *flags[] = {
        "--drain-s", "5", "--inline-max-kb", "800", "--log-file", log, NULL};
    bgt_server s;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    bgt_response r;
    cr_assert_eq(bgt_post_json(&s, "/v1/sources", SMALL, NULL, &r), 0);
    bgt_header(&r, "Content-Location", g_id_path, sizeof g_id_path);
    bgt_response_free(&r);

    static client cl[CLIENTS];
    atomic_bool stop = false;
    ready_poller rp = {.srv = &s, .stop = &stop};
    pthread_t t[CLIENTS], tr;
    pthread_create(&tr, NULL, poll_ready, &rp);
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (client){.srv = &s, .no = i, .stop = &stop};
        pthread_create(&t[i], NULL, run_client, &cl[i]);
    }
    /* Under load: enough requests made on every kind of path (bounded). */
    double t_load = now_s();
    while (requests_made(cl) < 90 && now_s() - t_load < 30) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_geq(requests_made(cl), 90, "load: %d requests in 30 s",
                  requests_made(cl));
    double t0 = now_s();
    kill(s.pid, SIGTERM);
    /* The drain began before its log line, so before t_drain: a request
     * sent after t_drain must not be served as ready. */
    cr_assert_eq(bgt_wait_file_has(log, "\"event\":\"draining\"", 10), 0,
                 "the drain's log line");
    double t_drain = now_s();
    int status = 0;
    pid_t w = 0;
    while ((w = waitpid(s.pid, &status, WNOHANG)) == 0 && now_s() - t0 < 10) {
        struct timespec ts = {0, 5 * 1000 * 1000}; /* polling the exit */
        nanosleep(&ts, NULL);
    }
    double took = now_s() - t0;
    atomic_store(&stop, true);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    pthread_join(tr, NULL);
    cr_assert_eq(w, s.pid, "exited");
    s.pid = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit 0");
    cr_assert_lt(took, 5.0, "within --drain-s: %.2f s", took);
    /* The poller was ready before, then saw /readyz turn 503 on its
     * kept-alive connection or was refused, and never a 200 after the drain
     * began. */
    cr_assert_gt(rp.ok_before, 0, "/readyz answered 200 before SIGTERM");
    cr_assert(rp.end == READY_503 || rp.end == READY_REFUSED,
              "/readyz never turned 503 nor refused (%d 200s)", rp.ok_before);
    cr_assert_eq(rp.ok_after_503, 0, "/readyz answered 200 %d times after 503",
                 rp.ok_after_503);
    cr_assert_lt(rp.last_ok_sent, t_drain,
                 "/readyz answered 200 to a poll sent %.3f s after the drain "
                 "began",
                 rp.last_ok_sent - t_drain);

    int ok = 0, refused = 0, unread = 0, drained = 0;
    for (int i = 0; i < CLIENTS; i++) {
        for (int k = 0; k < cl[i].n; k++) {
            cr_assert_neq(cl[i].out[k], OUT_BROKEN,
                          "client %d request %d broke mid-response (curl "
                          "error %d)",
                          i, k, cl[i].code[k]);
            if (cl[i].out[k] == OUT_OK) {
                cr_assert(cl[i].status[k] == 200 || cl[i].status[k] == 503,
                          "status %ld", cl[i].status[k]);
                ok++;
                drained += cl[i].status[k] == 503;
            }
            refused += cl[i].out[k] == OUT_REFUSED;
            unread += cl[i].out[k] == OUT_UNREAD;
        }
    }
    int answered = check_log(log, cl);
    cr_log_info("%d complete (%d of them 503 draining), %d refused, %d closed "
                "unread; server answered %d; exit after %.2f s",
                ok, drained, refused, unread, answered, took);
    cr_assert_gt(ok, 50, "real load: %d requests", ok);
    cr_assert_eq(answered, ok, "the log and the clients agree");
    unlink(log);
    unlink(s.log_path);
}

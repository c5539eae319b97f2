/* server.c - test-only: starts build/beamgrid on a free port, speaks HTTP
 * to it with libcurl and stops it with SIGTERM (h2o's t/Util.pm, in C).
 *
 * The startup line is read from a pipe on the child's stdout with a
 * deadline; the child's stderr (its log) goes to a file under /tmp that a
 * failing test can point at. */
#include "tests/support/server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void exec_child(const char *bin, char **argv, int out_fd,
                       const char *log_path)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out_fd, STDOUT_FILENO);
    if (log_fd >= 0)
        dup2(log_fd, STDERR_FILENO);
    execv(bin, argv);
    fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
    _exit(127);
}

/* Read one line from fd within timeout_s. Returns 0 or -1. */
static int read_line(int fd, char *buf, size_t cap, double timeout_s)
{
    size_t n = 0;
    double end = now_s() + timeout_s;
    while (n + 1 < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        int ms = (int)((end - now_s()) * 1000);
        if (ms <= 0 || poll(&p, 1, ms) <= 0)
            return -1;
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0)
            return -1;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return 0;
}

/* The port and the scheme ("http" or "https") of the startup line. */
static int parse_port(const char *line, char *scheme, size_t cap)
{
    json_error_t err;
    json_t *j = json_loads(line, 0, &err);
    int port = -1;
    if (j != NULL && json_is_integer(json_object_get(j, "port")))
        port = (int)json_integer_value(json_object_get(j, "port"));
    const char *url = json_string_value(json_object_get(j, "url"));
    snprintf(scheme, cap, "%s",
             url != NULL && strncmp(url, "https:", 6) == 0 ? "https" : "http");
    json_decref(j);
    return port;
}

static int wait_ready(bgt_server *s, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        bgt_response r;
        if (bgt_request(s, "GET", "/readyz", NULL, NULL, 0, &r) == 0) {
            long status = r.status;
            bgt_response_free(&r);
            if (status == 200)
                return 0;
        }
        usleep(10000);
    }
    return -1;
}

int bgt_server_start(bgt_server *s, const char *const *flags)
{
    return bgt_server_start_tls(s, flags, NULL);
}

int bgt_server_start_tls(bgt_server *s, const char *const *flags,
                         const char *cacert)
{
    const char *bin = getenv("BEAMGRID_BIN");
    char *argv[MAX_ARGS], scheme[8];
    int argc = 0, fds[2];
    static int serial;
    if (bin == NULL)
        bin = "build/beamgrid";
    memset(s, 0, sizeof *s);
    snprintf(s->cacert, sizeof s->cacert, "%s", cacert ? cacert : "");
    snprintf(s->log_path, sizeof s->log_path, "/tmp/beamgrid-test-%d-%d.log",
             (int)getpid(), serial++);
    argv[argc++] = (char *)bin;
    argv[argc++] = "--port";
    argv[argc++] = "0";
    for (int i = 0; flags != NULL && flags[i] != NULL && argc < MAX_ARGS - 1;
         i++)
        argv[argc++] = (char *)flags[i];
    argv[argc] = NULL;
    if (pipe(fds) != 0)
        return -1;
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0)
        exec_child(bin, argv, fds[1], s->log_path);
    close(fds[1]);
    char line[1024];
    int ok = read_line(fds[0], line, sizeof line, 10.0);
    close(fds[0]);
    s->port = ok == 0 ? parse_port(line, scheme, sizeof scheme) : -1;
    if (s->port <= 0) {
        fprintf(stderr, "beamgrid did not start (log: %s)\n", s->log_path);
        bgt_server_stop(s, 1);
        return -1;
    }
    snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d", scheme, s->port);
    return wait_ready(s, 10.0);
}

int bgt_server_stop(bgt_server *s, int timeout_s)
{
    int status = 0;
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    double end = now_s() + timeout_s;
    for (;;) {
        pid_t r = waitpid(s->pid, &status, WNOHANG);
        if (r == s->pid)
            break;
        if (r < 0 || now_s() > end) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            s->pid = 0;
            return -1;
        }
        usleep(5000);
    }
    s->pid = 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0)
        unlink(s->log_path); /* kept only when something went wrong */
    return code;
}

/* ---- the client ---- */

typedef struct {
    char *data;
    size_t len, cap;
} growbuf;

/* Capacity doubles, so a body of n bytes costs O(n) copies even where
 * realloc always moves (ASan's does: growing by each 16 KiB piece made
 * 12 MB bodies quadratic there). */
static size_t append(char *ptr, size_t size, size_t n, void *userdata)
{
    growbuf *g = userdata;
    size_t add = size * n;
    if (g->len + add + 1 > g->cap) {
        size_t cap = g->cap ? g->cap : 4096;
        while (cap < g->len + add + 1)
            cap *= 2;
        char *d = realloc(g->data, cap);
        if (d == NULL)
            return 0;
        g->data = d;
        g->cap = cap;
    }
    memcpy(g->data + g->len, ptr, add);
    g->len += add;
    g->data[g->len] = '\0';
    return add;
}

static void set_method(CURL *c, const char *method, const void *body,
                       size_t len)
{
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
}

int bgt_request(const bgt_server *s, const char *method, const char *path,
                const char *const *headers, const void *body, size_t len,
                bgt_response *out)
{
    /* the path may hold a long id (a table spectrum's, docs/beams.md) */
    size_t url_len = strlen(s->base) + strlen(path) + 1;
    char *url = malloc(url_len);
    growbuf b = {NULL, 0, 0}, h = {NULL, 0, 0};
    struct curl_slist *list = NULL;
    CURL *c = url != NULL ? curl_easy_init() : NULL;
    memset(out, 0, sizeof *out);
    if (c == NULL) {
        free(url);
        return -1;
    }
    snprintf(url, url_len, "%s%s", s->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    set_method(c, method, body, len);
    for (int i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, append);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (s->cacert[0] != '\0')
        curl_easy_setopt(c, CURLOPT_CAINFO, s->cacert);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    free(url);
    out->body = b.data ? b.data : calloc(1, 1);
    out->len = b.len;
    out->headers = h.data ? h.data : calloc(1, 1);
    return rc == CURLE_OK ? 0 : -1;
}

int bgt_post_json(const bgt_server *s, const char *path, const char *json,
                  const char *const *headers, bgt_response *out)
{
    const char *all[16];
    int n = 0;
    all[n++] = "Content-Type: application/json";
    for (int i = 0; headers != NULL && headers[i] != NULL && n < 15; i++)
        all[n++] = headers[i];
    all[n] = NULL;
    return bgt_request(s, "POST", path, all, json, strlen(json), out);
}

const char *bgt_header(const bgt_response *r, const char *name, char *buf,
                       size_t cap)
{
    size_t nlen = strlen(name);
    const char *found = NULL;
    for (const char *p = r->headers; p != NULL && *p != '\0';) {
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':')
            found = p + nlen + 1;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    if (found == NULL)
        return NULL;
    while (*found == ' ' || *found == '\t')
        found++;
    size_t n = strcspn(found, "\r\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, found, n);
    buf[n] = '\0';
    return buf;
}

void bgt_response_free(bgt_response *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

double bgt_metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return -1;
}

double bgt_server_metric(const bgt_server *s, const char *name)
{
    bgt_response r;
    if (bgt_request(s, "GET", "/metrics", NULL, NULL, 0, &r) != 0) {
        bgt_response_free(&r);
        return -1;
    }
    double v = r.status == 200 ? bgt_metric(r.body, name) : -1;
    bgt_response_free(&r);
    return v;
}

/* Poll every 5 ms until pred(arg) != 0 or timeout_s passes. */
static int wait_until(int (*pred)(const void *), const void *arg,
                      double timeout_s)
{
    double end = now_s() + timeout_s;
    for (;;) {
        if (pred(arg))
            return 0;
        if (now_s() > end)
            return -1;
        struct timespec ts = {0, 5 * 1000 * 1000}; /* the polling interval */
        nanosleep(&ts, NULL);
    }
}

typedef struct {
    CURL *c;
    const char *name;
    double want, *last;
    growbuf body, head; /* the last /metrics answer read */
} metric_wait;

static int metric_is(const void *arg)
{
    metric_wait *w = (metric_wait *)arg;
    free(w->body.data);
    free(w->head.data);
    w->body = w->head = (growbuf){NULL, 0, 0};
    CURLcode rc = curl_easy_perform(w->c);
    long status = 0;
    curl_easy_getinfo(w->c, CURLINFO_RESPONSE_CODE, &status);
    double v = -1;
    if (rc == CURLE_OK && status == 200 && w->body.data != NULL)
        v = bgt_metric(w->body.data, w->name);
    *w->last = v;
    return v == w->want;
}

/* The polls go over one kept-alive connection (one curl handle): the
 * server ends a request, and counts it out, before it reads the next one
 * on the same connection, so an in-flight count read this way is exact
 * (the poll itself and the others), where polls on fresh connections may
 * still count the previous poll. */
int bgt_wait_metric_body(const bgt_server *s, const char *name, double want,
                         double timeout_s, double *last, bgt_response *out)
{
    double sink = -1;
    char url[256];
    metric_wait w = {curl_easy_init(),    name,         want,
                     last ? last : &sink, {NULL, 0, 0}, {NULL, 0, 0}};
    if (w.c == NULL)
        return -1;
    snprintf(url, sizeof url, "%s/metrics", s->base);
    curl_easy_setopt(w.c, CURLOPT_URL, url);
    curl_easy_setopt(w.c, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(w.c, CURLOPT_WRITEDATA, &w.body);
    curl_easy_setopt(w.c, CURLOPT_HEADERFUNCTION, append);
    curl_easy_setopt(w.c, CURLOPT_HEADERDATA, &w.head);
    curl_easy_setopt(w.c, CURLOPT_TIMEOUT, 60L);
    if (s->cacert[0] != '\0')
        curl_easy_setopt(w.c, CURLOPT_CAINFO, s->cacert);
    int rc = wait_until(metric_is, &w, timeout_s);
    curl_easy_cleanup(w.c);
    if (out != NULL && rc == 0) {
        memset(out, 0, sizeof *out);
        out->status = 200;
        out->body = w.body.data;
        out->len = w.body.len;
        out->headers = w.head.data ? w.head.data : calloc(1, 1);
    } else {
        free(w.body.data);
        free(w.head.data);
    }
    return rc;
}

int bgt_wait_metric(const bgt_server *s, const char *name, double want,
                    double timeout_s, double *last)
{
    return bgt_wait_metric_body(s, name, want, timeout_s, last, NULL);
}

typedef struct {
    const char *path, *needle;
} file_wait;

static int file_has(const void *arg)
{
    const file_wait *w = arg;
    char *text = bgt_read_file(w->path, NULL);
    int found = text != NULL && strstr(text, w->needle) != NULL;
    free(text);
    return found;
}

int bgt_wait_file_has(const char *path, const char *needle, double timeout_s)
{
    file_wait w = {path, needle};
    return wait_until(file_has, &w, timeout_s);
}

/* Sockets of local port `port` in state ESTABLISHED (01) or CLOSE_WAIT
 * (08) in one /proc/net/tcp-style table; -1 if it cannot be read. */
static int count_sockets(const char *table, int port)
{
    FILE *f = fopen(table, "r");
    if (f == NULL)
        return -1;
    char line[512];
    int n = 0;
    if (fgets(line, sizeof line, f) == NULL) { /* the heading */
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char local[128];
        unsigned st;
        if (sscanf(line, "%*d: %127s %*s %x", local, &st) != 2)
            continue;
        const char *colon = strrchr(local, ':');
        if (colon != NULL && (int)strtol(colon + 1, NULL, 16) == port &&
            (st == 0x01 || st == 0x08))
            n++;
    }
    fclose(f);
    return n;
}

int bgt_server_connections(const bgt_server *s)
{
    int v4 = count_sockets("/proc/net/tcp", s->port);
    int v6 = count_sockets("/proc/net/tcp6", s->port);
    if (v4 < 0)
        return -1;
    return v4 + (v6 > 0 ? v6 : 0);
}

typedef struct {
    const bgt_server *s;
    int want;
} conn_wait;

static int connections_are(const void *arg)
{
    const conn_wait *w = arg;
    return bgt_server_connections(w->s) == w->want;
}

int bgt_wait_connections(const bgt_server *s, int want, double timeout_s)
{
    conn_wait w = {s, want};
    return wait_until(connections_are, &w, timeout_s);
}

char *bgt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    growbuf g = {NULL, 0, 0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (append(chunk, 1, n, &g) != n) {
            free(g.data);
            fclose(f);
            return NULL;
        }
    }
    fclose(f);
    if (g.data == NULL)
        g.data = calloc(1, 1);
    if (len != NULL)
        *len = g.len;
    return g.data;
}

int bgt_dial(int port, int recv_timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (recv_timeout_s > 0) {
        struct timeval tv = {recv_timeout_s, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    return fd;
}

/* ---- threads ---- */

/* The name of thread `task` of pid into comm (cap bytes), "?" if gone. */
static void thread_name(pid_t pid, const char *task, char *comm, size_t cap)
{
    char path[300];
    snprintf(path, sizeof path, "/proc/%d/task/%s/comm", (int)pid, task);
    FILE *f = fopen(path, "r");
    snprintf(comm, cap, "?");
    if (f == NULL)
        return;
    if (fgets(comm, (int)cap, f) == NULL)
        snprintf(comm, cap, "?");
    comm[strcspn(comm, "\n")] = '\0';
    fclose(f);
}

int bgt_threads_look(pid_t pid, bgt_threads *out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    memset(out, 0, sizeof *out);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        out->total++;
        char comm[20];
        thread_name(pid, e->d_name, comm, sizeof comm);
        int i = 0;
        while (i < out->n_names && strcmp(out->names[i].name, comm) != 0)
            i++;
        if (i == out->n_names && i < BGT_THREAD_NAMES) {
            snprintf(out->names[i].name, sizeof out->names[i].name, "%s", comm);
            out->n_names++;
        }
        if (i < out->n_names)
            out->names[i].count++;
    }
    closedir(d);
    return out->total;
}

int bgt_threads_named(const bgt_threads *t, const char *prefix)
{
    int n = 0;
    for (int i = 0; i < t->n_names; i++)
        if (strncmp(t->names[i].name, prefix, strlen(prefix)) == 0)
            n += t->names[i].count;
    return n;
}

void bgt_threads_format(const bgt_threads *t, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->n_names && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s %d", i ? ", " : "",
                                t->names[i].name, t->names[i].count);
}

int bgt_xmllint(const void *body, size_t len)
{
    char path[] = "/tmp/bgt_xmllint_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, body, len);
    close(fd);
    int rc = -1;
    if (w == (ssize_t)len) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "xmllint --noout %s", path);
        rc = system(cmd);
    }
    unlink(path);
    return rc;
}

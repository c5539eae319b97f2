/* server.h - test-only: run the real build/beamgrid and talk HTTP to it.
 *
 * bgt_server_start forks and execs the binary (BEAMGRID_BIN, default
 * build/beamgrid) with --port 0 plus the caller's flags, reads the port
 * from its startup line on stdout and waits until /readyz answers 200.
 * bgt_server_stop sends SIGTERM and returns the exit status. The server
 * dies with the test process (PR_SET_PDEATHSIG), so a failed assertion
 * never leaves one behind. The client is libcurl, one request at a time per
 * call (a fresh connection unless a bgt_conn is reused). */
#ifndef BGT_SERVER_H
#define BGT_SERVER_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int port;
    char base[64];      /* "http://127.0.0.1:PORT" (https with TLS) */
    char log_path[128]; /* the server's stderr (its log) */
    char cacert[256];   /* CA file the client trusts ("" : none) */
} bgt_server;

typedef struct {
    long status;
    char *body; /* NUL-terminated, malloc'd */
    size_t len;
    char *headers; /* raw header block, NUL-terminated */
} bgt_response;

/* Start beamgrid with extra flags (NULL-terminated list, may be NULL).
 * Returns 0, or -1 with a message on stderr. */
int bgt_server_start(bgt_server *s, const char *const *flags);

/* The same for a server started with --tls-cert/--tls-key: the client
 * trusts the certificate file cacert (copied into s->cacert). */
int bgt_server_start_tls(bgt_server *s, const char *const *flags,
                         const char *cacert);

/* SIGTERM the server and wait for it (up to timeout_s seconds, then
 * SIGKILL). Returns its exit status, or -1 if it died of a signal or had to
 * be killed. The server's log file is removed after a clean exit 0 and
 * kept otherwise. */
int bgt_server_stop(bgt_server *s, int timeout_s);

/* Send a request. method: "GET", "HEAD", "POST", ...; path includes any
 * query; headers: NULL-terminated "Name: value" list or NULL; body may be
 * NULL. Returns 0 with *out filled (free with bgt_response_free), or -1 on
 * a transport error. */
int bgt_request(const bgt_server *s, const char *method, const char *path,
                const char *const *headers, const void *body, size_t len,
                bgt_response *out);

/* POST a JSON text to path with Content-Type: application/json plus the
 * given extra headers (may be NULL). */
int bgt_post_json(const bgt_server *s, const char *path, const char *json,
                  const char *const *headers, bgt_response *out);

/* The value of the last header `name` (case-insensitive) in r, copied into
 * buf (trimmed); NULL if absent. */
const char *bgt_header(const bgt_response *r, const char *name, char *buf,
                       size_t cap);

void bgt_response_free(bgt_response *r);

/* The value of an unlabelled Prometheus sample `name` in a /metrics body;
 * -1 if absent. */
double bgt_metric(const char *metrics_text, const char *name);

/* The value of sample `name` in s's /metrics now; -1 if absent or on a
 * transport error or a status other than 200. */
double bgt_server_metric(const bgt_server *s, const char *name);

/* ---- waiting on the server's state, with a deadline ----
 * Tests wait on the state they need (a metric, a log line, the server's
 * sockets), never on a sleep; each of these polls every few milliseconds
 * until the state holds or timeout_s passes. */

/* GET /metrics until the sample `name` equals want. Returns 0, or -1 at the
 * deadline; *last (may be NULL) gets the last value read (-1: absent). The
 * polls share one kept-alive connection, so beamgrid_inflight_requests
 * counts exactly the poll itself and the other requests in flight. */
int bgt_wait_metric(const bgt_server *s, const char *name, double want,
                    double timeout_s, double *last);

/* The same, and on success *out (free with bgt_response_free) holds the
 * /metrics answer that showed the value (status, headers and body). */
int bgt_wait_metric_body(const bgt_server *s, const char *name, double want,
                         double timeout_s, double *last, bgt_response *out);

/* Until the file at path contains needle. Returns 0, or -1 at the
 * deadline. */
int bgt_wait_file_has(const char *path, const char *needle, double timeout_s);

/* The server's open connections on its port, as the kernel sees them (TCP
 * sockets of local port s->port, ESTABLISHED or CLOSE_WAIT: accepted or
 * waiting to be, and not yet closed by the server), from /proc/net/tcp and
 * tcp6; -1 if unreadable. */
int bgt_server_connections(const bgt_server *s);

/* Until bgt_server_connections(s) == want. Returns 0, or -1 at the
 * deadline. */
int bgt_wait_connections(const bgt_server *s, int want, double timeout_s);

/* A raw TCP connection to 127.0.0.1:port, with a receive timeout of
 * recv_timeout_s seconds when that is > 0. Returns the socket, or -1 (and
 * nothing open) if the connection failed. */
int bgt_dial(int port, int recv_timeout_s);

/* The threads of a process, by name: one look at /proc/<pid>/task (a
 * thread's name is its comm). */
#define BGT_THREAD_NAMES 32
typedef struct {
    int total;   /* threads */
    int n_names; /* distinct names, at most BGT_THREAD_NAMES kept */
    struct {
        char name[20];
        int count;
    } names[BGT_THREAD_NAMES];
} bgt_threads;

/* Look at pid's threads into *out. Returns the thread count, or -1 if the
 * process is gone. */
int bgt_threads_look(pid_t pid, bgt_threads *out);

/* The threads whose name begins with prefix. */
int bgt_threads_named(const bgt_threads *t, const char *prefix);

/* "name count, name count, ..." into buf[0..cap). */
void bgt_threads_format(const bgt_threads *t, char *buf, size_t cap);

/* Read a whole file into a malloc'd NUL-terminated buffer; NULL on error. */
char *bgt_read_file(const char *path, size_t *len);

/* xmllint --noout on body[0..len), through a temporary file: its exit
 * status (0 when well-formed), or -1 if the file could not be written. */
int bgt_xmllint(const void *body, size_t len);

#endif

/* log.c - the JSON-lines log: access lines, events, reopen on SIGHUP.
 *
 * Each line is built in a fixed stack buffer (bounded: long strings are cut).
 * Every string goes through one escaper that writes printable ASCII as is
 * and everything else as \u00XX, so no client byte reaches the log raw and
 * every line is valid JSON.
 *
 * Access lines, one per request, are the hot path: each thread appends to
 * its own shard (a buffer whose lock no other thread takes but a flush),
 * and a shard goes out in one write(2) when full, or at the latest FLUSH_MS
 * later (a flusher thread, started with the first access line). Whole
 * lines only, and writes are serialized, so lines never interleave; across
 * threads they can be out of order by up to FLUSH_MS (each carries its
 * timestamp). Events (start, stop, warnings) flush every shard first and
 * are written at once, as is everything before a reopen or close. */
#include "server/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES  2048
#define FIELD_MAX_CHARS 200 /* of one string field, before escaping */
#define SHARDS          8
#define SHARD_BYTES     (32u * 1024u)
#define FLUSH_MS        100

typedef struct {
    pthread_mutex_t lock;
    size_t len;
    char buf[SHARD_BYTES];
} shard;

static struct {
    pthread_mutex_t lock;    /* the file, and one write at a time */
    FILE *file;              /* stderr or an owned file */
    char path[BGS_PATH_MAX]; /* "" for stderr */
    bgs_log_level level;
    shard shards[SHARDS];
    atomic_uint next_shard;
    pthread_once_t flusher_once;
    pthread_mutex_t flusher_lock;
    pthread_cond_t flusher_wake;
    bool flusher_running, flusher_stop;
    pthread_t flusher;
} g_log = {.lock = PTHREAD_MUTEX_INITIALIZER,
           .level = BGS_LOG_INFO,
           .flusher_once = PTHREAD_ONCE_INIT,
           .flusher_lock = PTHREAD_MUTEX_INITIALIZER,
           .flusher_wake = PTHREAD_COND_INITIALIZER};

static _Thread_local int t_shard = -1;

/* A bounded line under construction; appends past the end are dropped. */
typedef struct {
    char buf[LINE_MAX_BYTES];
    size_t len;
} line;

static void put(line *l, const char *s, size_t n)
{
    size_t room = sizeof l->buf - 2 - l->len; /* keep "}\n" */
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_raw(line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Append s as a JSON string, quotes included. */
static void put_string(line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(l, "\"", 1);
    for (size_t i = 0; s[i] != '\0' && i < FIELD_MAX_CHARS; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(l, esc, 2);
        } else if (c >= 0x20 && c < 0x7f) {
            put(l, (const char *)&c, 1);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(l, esc, 6);
        }
    }
    put(l, "\"", 1);
}

static void put_key(line *l, const char *key)
{
    put(l, ",\"", 2);
    puts_raw(l, key);
    put(l, "\":", 2);
}

static void put_str_field(line *l, const char *key, const char *value)
{
    put_key(l, key);
    put_string(l, value ? value : "-");
}

static void put_u64_field(line *l, const char *key, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    put_key(l, key);
    put(l, num, (size_t)n);
}

/* Start a line: {"ts":"...","level":"...","event":"..." (the date and time
 * to the second are formatted once a second per thread) */
static void begin(line *l, bgs_log_level level, const char *event)
{
    static _Thread_local time_t t_sec = -1;
    static _Thread_local char t_stamp[24];
    static _Thread_local size_t t_len;
    struct timespec ts;
    char stamp[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != t_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        t_len = strftime(t_stamp, sizeof t_stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        t_sec = ts.tv_sec;
    }
    memcpy(stamp, t_stamp, t_len);
    snprintf(stamp + t_len, sizeof stamp - t_len, ".%06ldZ", ts.tv_nsec / 1000);
    l->len = 0;
    puts_raw(l, "{\"ts\":");
    put_string(l, stamp);
    put_str_field(l, "level", bgs_log_level_name(level));
    put_str_field(l, "event", event);
}

static void end_line(line *l)
{
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
}

/* Write buf[0..n) to the log file; g_log.lock held. */
static void write_out(const char *buf, size_t n)
{
    int fd = fileno(g_log.file ? g_log.file : stderr);
    while (n > 0) {
        ssize_t k = write(fd, buf, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return; /* nowhere to say that the log fails */
        buf += k;
        n -= (size_t)k;
    }
}

/* Write shard s out; its lock held (then g_log.lock is taken: always in
 * this order). */
static void shard_flush(shard *s)
{
    if (s->len == 0)
        return;
    pthread_mutex_lock(&g_log.lock);
    write_out(s->buf, s->len);
    pthread_mutex_unlock(&g_log.lock);
    s->len = 0;
}

static void flush_all(void)
{
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &g_log.shards[i];
        pthread_mutex_lock(&s->lock);
        shard_flush(s);
        pthread_mutex_unlock(&s->lock);
    }
}

static void *flusher_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_log.flusher_lock);
    while (!g_log.flusher_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += FLUSH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g_log.flusher_wake, &g_log.flusher_lock,
                               &until);
        pthread_mutex_unlock(&g_log.flusher_lock);
        flush_all();
        pthread_mutex_lock(&g_log.flusher_lock);
    }
    pthread_mutex_unlock(&g_log.flusher_lock);
    return NULL;
}

static void flusher_start(void)
{
    pthread_mutex_lock(&g_log.flusher_lock);
    if (!g_log.flusher_stop)
        g_log.flusher_running =
            pthread_create(&g_log.flusher, NULL, flusher_main, NULL) == 0;
    pthread_mutex_unlock(&g_log.flusher_lock);
}

static void flusher_stop(void)
{
    pthread_mutex_lock(&g_log.flusher_lock);
    bool running = g_log.flusher_running;
    g_log.flusher_stop = true;
    g_log.flusher_running = false;
    pthread_cond_signal(&g_log.flusher_wake);
    pthread_mutex_unlock(&g_log.flusher_lock);
    if (running)
        pthread_join(g_log.flusher, NULL);
}

/* An event line: written at once, after every buffered access line. */
static void emit(line *l)
{
    end_line(l);
    flush_all();
    pthread_mutex_lock(&g_log.lock);
    write_out(l->buf, l->len);
    pthread_mutex_unlock(&g_log.lock);
}

/* An access line: into this thread's shard, written out when the shard is
 * full or by the flusher (at once if the flusher could not start). */
static void emit_buffered(line *l)
{
    end_line(l);
    if (t_shard < 0)
        t_shard = (int)(atomic_fetch_add(&g_log.next_shard, 1) % SHARDS);
    pthread_once(&g_log.flusher_once, flusher_start);
    shard *s = &g_log.shards[t_shard];
    pthread_mutex_lock(&s->lock);
    if (s->len + l->len > sizeof s->buf)
        shard_flush(s);
    memcpy(s->buf + s->len, l->buf, l->len);
    s->len += l->len;
    if (!g_log.flusher_running)
        shard_flush(s);
    pthread_mutex_unlock(&s->lock);
}

int bgs_log_enabled(bgs_log_level level)
{
    return g_log.level != BGS_LOG_OFF && level >= g_log.level;
}

static FILE *open_append(const char *path)
{
    return fopen(path, "a");
}

int bgs_log_open(const char *path, bgs_log_level level)
{
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&g_log.shards[i].lock, NULL);
    g_log.level = level;
    g_log.file = stderr;
    g_log.path[0] = '\0';
    if (path == NULL || path[0] == '\0')
        return 0;
    FILE *f = open_append(path);
    if (f == NULL)
        return -1;
    g_log.file = f;
    snprintf(g_log.path, sizeof g_log.path, "%s", path);
    return 0;
}

void bgs_log_reopen(void)
{
    if (g_log.path[0] == '\0')
        return;
    FILE *f = open_append(g_log.path);
    int saved = errno;
    if (f == NULL) {
        bgs_log_event(BGS_LOG_WARN, "log_reopen_failed", "%s: %s", g_log.path,
                      strerror(saved));
        return;
    }
    flush_all(); /* what came before goes to the old file */
    pthread_mutex_lock(&g_log.lock);
    FILE *old = g_log.file;
    g_log.file = f;
    pthread_mutex_unlock(&g_log.lock);
    if (old != NULL && old != stderr)
        fclose(old);
    bgs_log_event(BGS_LOG_INFO, "log_reopened", "%s", g_log.path);
}

void bgs_log_close(void)
{
    flusher_stop();
    flush_all();
    pthread_mutex_lock(&g_log.lock);
    if (g_log.file != NULL && g_log.file != stderr)
        fclose(g_log.file);
    g_log.file = stderr;
    pthread_mutex_unlock(&g_log.lock);
}

void bgs_log_event(bgs_log_level level, const char *event, const char *fmt, ...)
{
    if (!bgs_log_enabled(level))
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    line l;
    begin(&l, level, event);
    put_key(&l, "msg");
    put_string(&l, msg);
    emit(&l);
}

void bgs_log_access(const bgs_access *a)
{
    if (!bgs_log_enabled(BGS_LOG_INFO))
        return;
    line l;
    begin(&l, BGS_LOG_INFO, "request");
    put_str_field(&l, "request_id", a->request_id);
    put_str_field(&l, "method", a->method);
    put_str_field(&l, "route", a->route);
    put_u64_field(&l, "status", (uint64_t)a->status);
    put_u64_field(&l, "bytes", a->bytes);
    put_u64_field(&l, "us", a->micros);
    put_str_field(&l, "cache", a->cache);
    put_str_field(&l, "repr", a->repr);
    emit_buffered(&l);
}

/* log.c - the JSON-lines log: access lines, events, reopen on SIGHUP.
 *
 * Each line is built in a fixed stack buffer (bounded: long strings are cut)
 * and written with one fwrite under a mutex, so lines from different threads
 * never interleave. Every string goes through one escaper that writes
 * printable ASCII as is and everything else as \u00XX, so no client byte
 * reaches the log raw and every line is valid JSON. */
#include "server/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LINE_MAX_BYTES  2048
#define FIELD_MAX_CHARS 200 /* of one string field, before escaping */

static struct {
    pthread_mutex_t lock;
    FILE *file;              /* stderr or an owned file */
    char path[BGS_PATH_MAX]; /* "" for stderr */
    bgs_log_level level;
} g_log = {PTHREAD_MUTEX_INITIALIZER, NULL, "", BGS_LOG_INFO};

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

/* Start a line: {"ts":"...","level":"...","event":"..." */
static void begin(line *l, bgs_log_level level, const char *event)
{
    struct timespec ts;
    struct tm tm;
    char stamp[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%06ldZ", ts.tv_nsec / 1000);
    l->len = 0;
    puts_raw(l, "{\"ts\":");
    put_string(l, stamp);
    put_str_field(l, "level", bgs_log_level_name(level));
    put_str_field(l, "event", event);
}

static void emit(line *l)
{
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    pthread_mutex_lock(&g_log.lock);
    FILE *f = g_log.file ? g_log.file : stderr;
    fwrite(l->buf, 1, l->len, f);
    fflush(f);
    pthread_mutex_unlock(&g_log.lock);
}

int bgs_log_enabled(bgs_log_level level)
{
    return g_log.level != BGS_LOG_OFF && level >= g_log.level;
}

static FILE *open_append(const char *path)
{
    FILE *f = fopen(path, "a");
    if (f != NULL)
        setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

int bgs_log_open(const char *path, bgs_log_level level)
{
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
    emit(&l);
}

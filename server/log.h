/* log.h - the server's log: one JSON object per line.
 *
 * A process-wide log, written by any thread under a lock. Lines carry a UTC
 * timestamp, a level and an event name; request lines add the request's
 * fields. Strings that come from clients are made printable ASCII before
 * they are written, so the log is always valid JSON lines. */
#ifndef BGS_LOG_H
#define BGS_LOG_H

#include <stdint.h>

#include "server/config.h"

/* One finished request, as the access log shows it. Strings are borrowed
 * for the call; any may be NULL (written as "-"). */
typedef struct {
    const char *request_id;
    const char *method;
    const char *route; /* route template, e.g. "/v1/sources/{id}" */
    int status;
    uint64_t bytes;    /* body bytes sent */
    uint64_t micros;   /* from headers received to completion */
    const char *cache; /* "HIT", "MISS" or NULL */
    const char *repr;  /* representation tag or NULL */
} bgs_access;

/* Open the log: path "" (or NULL) means stderr, else the file is opened for
 * appending (created 0644). Lines below `level` are dropped. Returns 0, or
 * -1 if the file cannot be opened (errno set). Not thread-safe: call before
 * starting threads. */
int bgs_log_open(const char *path, bgs_log_level level);

/* Reopen the log file (after rotation). A no-op for stderr. On failure the
 * old file stays in use and a warning is logged. Thread-safe. */
void bgs_log_reopen(void);

/* Close the log file (stderr stays open). */
void bgs_log_close(void);

/* Whether lines of `level` are written. */
int bgs_log_enabled(bgs_log_level level);

/* Log an event with a printf-formatted message: {"ts","level","event",
 * "msg"}. The message is escaped. Thread-safe. */
void bgs_log_event(bgs_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Log a request line at info level. Thread-safe. */
void bgs_log_access(const bgs_access *a);

#endif

/* guard.h - the connection limit, and cutting clients that take too long
 * to send a request.
 *
 * MHD's own timeout (--timeout-s) is an idle timeout: a client that
 * trickles one byte at a time (slowloris) never trips it. The guard gives
 * every request a deadline instead (--request-timeout-s): from the moment
 * the server is ready for it (the connection's accept, or the end of the
 * previous response) until its last body byte. Connections are registered
 * through MHD's connection notifications; handlers mark a request read
 * (bgs_guard_busy) and answered (bgs_guard_ready); the loop thread sweeps
 * the registry and shuts down the socket of a connection past its
 * deadline, so MHD sees the peer gone and closes it the usual way. Time
 * spent computing or sending a response is never cut here.
 *
 * The registry also counts open connections, for the accept policy: past
 * --max-connections a new connection is closed at once (MHD's own limit is
 * split between its threads and leaves the excess waiting unanswered in
 * the kernel's queue). */
#ifndef BGS_GUARD_H
#define BGS_GUARD_H

#include <microhttpd.h>
#include <stdint.h>

typedef struct bgs_guard bgs_guard;

/* A guard cutting requests not received within limit_ms (0: never) and
 * admitting at most max_conns open connections. NULL on allocation
 * failure. */
bgs_guard *bgs_guard_new(uint64_t limit_ms, uint64_t max_conns);

/* Free the guard; call after the daemon has stopped. */
void bgs_guard_free(bgs_guard *g);

/* The MHD accept policy; cls is the guard. MHD_NO (close at once) while
 * max_conns connections are open; concurrent accepts on different HTTP
 * threads may overshoot by one each. */
enum MHD_Result bgs_guard_accept(void *cls, const struct sockaddr *addr,
                                 socklen_t addrlen);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the guard. */
void bgs_guard_notify(void *cls, struct MHD_Connection *conn,
                      void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* The request on conn has been read in full: no deadline until it is
 * answered. Any thread (the connection's). */
void bgs_guard_busy(struct MHD_Connection *conn);

/* The request on conn is done: the next one's deadline starts now. */
void bgs_guard_ready(struct MHD_Connection *conn);

/* Cut every connection past its deadline. Returns how many were cut, and
 * in *refused how many connections the accept policy closed since the
 * last sweep. Thread-safe; the loop thread calls it from a timer. */
unsigned bgs_guard_sweep(bgs_guard *g, uint64_t *refused);

#endif

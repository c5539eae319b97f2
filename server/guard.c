/* guard.c - the request deadline (--request-timeout-s) and the connection
 * limit (--max-connections): a registry of open connections, the sweep
 * that cuts the ones too slow to send a request, and the accept policy.
 *
 * Each connection gets a slot when MHD starts it and loses it when MHD
 * closes it; MHD notifies the close before it closes the socket, and both
 * happen under the registry lock here, so the sweep never touches a socket
 * that is gone (or a number already reused). A slot's `since` is the start
 * of the current request's deadline, or 0 while the request is being
 * handled; it is an atomic, written by the connection's thread and read by
 * the sweep. Cutting is shutdown(2): MHD then reads end-of-stream and
 * closes the connection itself, with its usual notifications. */
#include "server/guard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

typedef struct slot {
    struct slot *prev, *next; /* guarded by the registry lock */
    MHD_socket fd;
    atomic_uint_fast64_t since_ms; /* 0: being handled */
    bool cut;                      /* guarded by the registry lock */
} slot;

struct bgs_guard {
    pthread_mutex_t lock;
    slot head; /* sentinel of a circular list */
    uint64_t limit_ms;
    uint64_t max_conns;
    atomic_uint_fast64_t open;    /* slots in the registry */
    atomic_uint_fast64_t refused; /* since the last sweep */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* +1: never 0, which means "being handled" */
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + 1u;
}

bgs_guard *bgs_guard_new(uint64_t limit_ms, uint64_t max_conns)
{
    bgs_guard *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NULL;
    pthread_mutex_init(&g->lock, NULL);
    g->head.prev = g->head.next = &g->head;
    g->limit_ms = limit_ms;
    g->max_conns = max_conns;
    return g;
}

void bgs_guard_free(bgs_guard *g)
{
    if (g == NULL)
        return;
    while (g->head.next != &g->head) { /* none left once MHD stopped */
        slot *s = g->head.next;
        g->head.next = s->next;
        free(s);
    }
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static void started(bgs_guard *g, struct MHD_Connection *conn, void **ctx)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    slot *s = info ? calloc(1, sizeof *s) : NULL;
    *ctx = s;
    if (s == NULL)
        return; /* not guarded: MHD's idle timeout still applies */
    s->fd = info->connect_fd;
    atomic_store(&s->since_ms, now_ms());
    pthread_mutex_lock(&g->lock);
    s->next = g->head.next;
    s->prev = &g->head;
    g->head.next->prev = s;
    g->head.next = s;
    pthread_mutex_unlock(&g->lock);
    atomic_fetch_add(&g->open, 1);
}

static void closed(bgs_guard *g, slot *s)
{
    pthread_mutex_lock(&g->lock);
    s->prev->next = s->next;
    s->next->prev = s->prev;
    pthread_mutex_unlock(&g->lock);
    atomic_fetch_sub(&g->open, 1);
    free(s);
}

enum MHD_Result bgs_guard_accept(void *cls, const struct sockaddr *addr,
                                 socklen_t addrlen)
{
    bgs_guard *g = cls;
    (void)addr;
    (void)addrlen;
    if (atomic_load(&g->open) < g->max_conns)
        return MHD_YES;
    atomic_fetch_add(&g->refused, 1);
    return MHD_NO;
}

void bgs_guard_notify(void *cls, struct MHD_Connection *conn,
                      void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    bgs_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        started(g, conn, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context != NULL) {
        closed(g, *socket_context);
        *socket_context = NULL;
    }
}

static slot *slot_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

void bgs_guard_busy(struct MHD_Connection *conn)
{
    slot *s = slot_of(conn);
    if (s != NULL)
        atomic_store(&s->since_ms, 0);
}

void bgs_guard_ready(struct MHD_Connection *conn)
{
    slot *s = slot_of(conn);
    if (s != NULL)
        atomic_store(&s->since_ms, now_ms());
}

unsigned bgs_guard_sweep(bgs_guard *g, uint64_t *refused)
{
    unsigned n = 0;
    *refused = atomic_exchange(&g->refused, 0);
    if (g->limit_ms == 0)
        return 0;
    uint64_t now = now_ms();
    pthread_mutex_lock(&g->lock);
    for (slot *s = g->head.next; s != &g->head; s = s->next) {
        uint64_t since = atomic_load(&s->since_ms);
        if (since != 0 && since < now && now - since > g->limit_ms && !s->cut) {
            shutdown(s->fd, SHUT_RDWR);
            s->cut = true;
            n++;
        }
    }
    pthread_mutex_unlock(&g->lock);
    return n;
}

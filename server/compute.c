/* compute.c - runs grid computations and ends their cache entries.
 *
 * Inline jobs run in the caller's thread. Pool jobs cross threads twice:
 * an HTTP thread pushes the job on a mutex-guarded list and pokes a
 * uv_async handle; the loop thread (the only one that may touch libuv)
 * moves it to uv_queue_work; a pool thread allocates and fills the grid;
 * the after-work callback, back on the loop thread, ends the entry, which
 * wakes (resumes) the waiting connections. A job owns one entry reference
 * from submit to its end. */
#include "server/compute.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "api/problem.h"
#include "core/grid.h"

typedef struct job {
    uv_work_t work;
    bgs_compute *q;
    bgs_entry *entry;
    bg_resolved resolved;
    uint64_t count;
    bg_grid grid;
    bg_error err;
    bg_status status;
    double seconds;
    struct job *next;
} job;

struct bgs_compute {
    uv_async_t async; /* loop thread: drain `incoming` */
    uv_loop_t *loop;
    bgs_compute_limits lim;
    bgs_cache *cache;
    bgs_metrics *metrics;
    pthread_mutex_t lock;
    job *head, *tail; /* pushed by HTTP threads, FIFO */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Allocate and fill; pure apart from the allocation. */
static bg_status run(const bg_resolved *r, uint64_t count, int threads,
                     bg_grid *g, bg_error *err, double *seconds)
{
    double t0 = now_s();
    bg_status s = bg_grid_alloc(g, count, BG_F64, 0); /* no positions */
    if (s == BG_OK)
        s = bg_grid_fill(r, g, threads);
    if (s != BG_OK) {
        bg_grid_free(g);
        bg_error_set(err, s, "", "%s", bg_strerror(s));
    }
    *seconds = now_s() - t0;
    return s;
}

/* End entry e with the outcome of a run and drop the run's memory
 * reservation (the grid's bytes now count through the entry). */
static void finish(bgs_compute *q, bgs_entry *e, bg_status s, bg_grid *g,
                   const bg_error *err, double seconds, uint64_t count)
{
    if (s == BG_OK) {
        bgs_metrics_compute(q->metrics, g->count, seconds);
        bgs_cache_complete(e, g);
    } else {
        bgapi_problem p;
        bgapi_problem_from_core(&p, err);
        bgs_cache_fail(e, &p);
    }
    bgs_cache_unreserve(q->cache, bgs_grid_bytes(count, false));
}

/* Refuse a computation with 503: e is failed and the shed counted. */
static int shed(bgs_compute *q, bgs_entry *e, const char *why)
{
    bgapi_problem p;
    bgs_metrics_shed(q->metrics);
    bgapi_problem_set(&p, 503, "overloaded", "Server overloaded", NULL,
                      "%s; retry shortly", why);
    bgs_cache_fail(e, &p);
    return -1;
}

static int reserve(bgs_compute *q, bgs_entry *e, uint64_t count)
{
    if (bgs_cache_reserve(q->cache, bgs_grid_bytes(count, false)) == 0)
        return 0;
    return shed(q, e, "the memory for grids (--max-memory-mb) is in use");
}

/* Inline grids are small and computed by the HTTP threads, which already
 * run in parallel: one thread each, so no OpenMP team competes with (or
 * spins against) the other HTTP threads. */
void bgs_compute_inline(bgs_compute *q, bgs_entry *e, const bg_resolved *r,
                        uint64_t count)
{
    bg_grid g;
    bg_error err;
    double seconds;
    if (reserve(q, e, count) != 0)
        return;
    bg_status s = run(r, count, 1, &g, &err, &seconds);
    finish(q, e, s, &g, &err, seconds, count);
}

/* ---- the pool path ---- */

static void work_cb(uv_work_t *w)
{
    job *j = w->data;
    bgs_metrics_pending_add(j->q->metrics, -1);
    j->status = run(&j->resolved, j->count, j->q->lim.threads, &j->grid,
                    &j->err, &j->seconds);
}

static void after_work_cb(uv_work_t *w, int status)
{
    job *j = w->data;
    if (status != 0) { /* cancelled: never started */
        bgs_metrics_pending_add(j->q->metrics, -1);
        j->status = bg_error_set(&j->err, BG_NOMEM, "",
                                 "the computation was cancelled");
    }
    finish(j->q, j->entry, j->status, &j->grid, &j->err, j->seconds, j->count);
    bgs_entry_release(j->entry);
    free(j);
}

static void async_cb(uv_async_t *a)
{
    bgs_compute *q = a->data;
    pthread_mutex_lock(&q->lock);
    job *list = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->lock);
    while (list != NULL) {
        job *j = list;
        list = j->next;
        j->work.data = j;
        if (uv_queue_work(q->loop, &j->work, work_cb, after_work_cb) != 0)
            after_work_cb(&j->work, UV_ECANCELED);
    }
}

/* Grids come and go by the thousand (a cold M grid is 2.9 MB in eight
 * columns): keep freed memory in the heap for the next grid instead of
 * returning it to the kernel and taking page faults to get it back. Grids
 * past the mmap threshold (32 MiB, glibc's largest) still come from and go
 * back to the kernel at once. An operator's MALLOC_*_ settings win. */
static void tune_malloc(void)
{
    static atomic_flag done = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&done))
        return;
    if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL)
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
    if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL)
        mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

bgs_compute *bgs_compute_new(uv_loop_t *loop, const bgs_compute_limits *lim,
                             bgs_cache *cache, bgs_metrics *metrics)
{
    tune_malloc();
    bgs_compute *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->loop = loop;
    q->lim = *lim;
    q->cache = cache;
    q->metrics = metrics;
    pthread_mutex_init(&q->lock, NULL);
    if (uv_async_init(loop, &q->async, async_cb) != 0) {
        pthread_mutex_destroy(&q->lock);
        free(q);
        return NULL;
    }
    q->async.data = q;
    return q;
}

static void closed_cb(uv_handle_t *h)
{
    bgs_compute *q = h->data;
    pthread_mutex_destroy(&q->lock);
    free(q);
}

void bgs_compute_close(bgs_compute *q)
{
    uv_close((uv_handle_t *)&q->async, closed_cb);
}

int bgs_compute_submit(bgs_compute *q, bgs_entry *e, const bg_resolved *r,
                       uint64_t count)
{
    if (bgs_metrics_pending_try(q->metrics, q->lim.max_pending) != 0)
        return shed(q, e, "too many large computations are waiting");
    if (reserve(q, e, count) != 0) {
        bgs_metrics_pending_add(q->metrics, -1);
        return -1;
    }
    job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        bg_error err;
        bgs_metrics_pending_add(q->metrics, -1);
        bg_error_set(&err, BG_NOMEM, "", "out of memory queueing a grid");
        finish(q, e, BG_NOMEM, NULL, &err, 0, count);
        return -1;
    }
    j->q = q;
    j->entry = e;
    bgs_entry_retain(e);
    j->resolved = *r;
    j->count = count;
    pthread_mutex_lock(&q->lock);
    if (q->tail != NULL)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    pthread_mutex_unlock(&q->lock);
    uv_async_send(&q->async);
    return 0;
}

/* compute.c - the executor: one thread, one OpenMP team, a FIFO of tasks.
 *
 * HTTP threads post tasks on a mutex-guarded list and signal a condition;
 * the executor takes the head: a parallel task runs alone with the team's
 * size; a serial one runs in one parallel region with the next serial
 * tasks of the queue (up to the team's size), a task per team thread. libgomp
 * keeps a team's threads for the thread that started it, so with one starting
 * thread the process holds at most --compute-threads computing threads; they
 * are born of the executor and carry its name. Whoever ends a task's work wakes
 * its waiters from this thread (MHD_resume_connection is thread-safe). */
#include "server/compute.h"

#include <malloc.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/encode.h"
#include "api/problem.h"
#include "core/grid.h"

struct bgs_compute {
    bgs_compute_limits lim;
    bgs_cache *cache;
    bgs_metrics *metrics;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t more;
    bgs_task *head, *tail; /* FIFO */
    bool stop;
    bgs_task **batch; /* lim.threads slots, the executor's */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the executor ---- */

/* Take the next batch: the head alone if it is a parallel task, else up
 * to max serial tasks from anywhere in the queue (so encodes keep every
 * team thread busy even between grids). Blocks until there is one or the
 * executor stops (NULL). */
static bgs_task *take_batch(bgs_compute *q, int max, int *n)
{
    pthread_mutex_lock(&q->lock);
    while (q->head == NULL && !q->stop)
        pthread_cond_wait(&q->more, &q->lock);
    bgs_task *batch = NULL, **tail = &batch;
    *n = 0;
    bgs_task **p = &q->head, *prev = NULL;
    bool serial = q->head != NULL && q->head->serial;
    while (*p != NULL && *n < max) {
        bgs_task *t = *p;
        if (t->serial != serial) {
            prev = t;
            p = &t->next;
            continue;
        }
        *p = t->next; /* unlink t */
        if (q->tail == t)
            q->tail = prev;
        t->next = NULL;
        *tail = t;
        tail = &t->next;
        (*n)++;
        if (!serial)
            break;
    }
    pthread_mutex_unlock(&q->lock);
    return batch;
}

static void run_batch(bgs_compute *q, bgs_task *batch, int n)
{
    bgs_metrics_pending_add(q->metrics, -n);
    if (n == 1 && !batch->serial) {
        batch->run(batch, q->lim.threads);
        return;
    }
    bgs_task **tasks = q->batch;
    for (int i = 0; i < n; i++, batch = batch->next)
        tasks[i] = batch;
    if (n == 1) {
        tasks[0]->run(tasks[0], 1);
        return;
    }
#pragma omp parallel for num_threads(n) schedule(static, 1)
    for (int i = 0; i < n; i++)
        tasks[i]->run(tasks[i], 1);
}

static void *executor_main(void *arg)
{
    bgs_compute *q = arg;
    int n;
    /* before any team exists: libgomp's threads inherit the name */
    pthread_setname_np(pthread_self(), "bg-compute");
    bgs_task *batch;
    while ((batch = take_batch(q, q->lim.threads, &n)) != NULL)
        run_batch(q, batch, n);
    return NULL;
}

/* Grids come and go by the thousand (a cold M grid is 1.8 MB): keep freed
 * memory in the heap for the next grid instead of returning it to the
 * kernel and taking page faults to get it back. Grids past the mmap
 * threshold (32 MiB, glibc's largest) still come from and go back to the
 * kernel at once. An operator's MALLOC_*_ settings win. */
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

bgs_compute *bgs_compute_new(const bgs_compute_limits *lim, bgs_cache *cache,
                             bgs_metrics *metrics)
{
    tune_malloc();
    bgs_compute *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->lim = *lim;
    if (q->lim.threads < 1)
        q->lim.threads = 1;
    q->cache = cache;
    q->metrics = metrics;
    q->batch = calloc((size_t)q->lim.threads, sizeof *q->batch);
    if (q->batch == NULL) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->more, NULL);
    if (pthread_create(&q->thread, NULL, executor_main, q) != 0) {
        pthread_cond_destroy(&q->more);
        pthread_mutex_destroy(&q->lock);
        free(q->batch);
        free(q);
        return NULL;
    }
    return q;
}

void bgs_compute_free(bgs_compute *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    bgs_task *left = q->head;
    q->head = q->tail = NULL;
    pthread_cond_signal(&q->more);
    pthread_mutex_unlock(&q->lock);
    while (left != NULL) {
        bgs_task *next = left->next;
        bgs_metrics_pending_add(q->metrics, -1);
        left->cancel(left);
        left = next;
    }
    pthread_join(q->thread, NULL);
    pthread_cond_destroy(&q->more);
    pthread_mutex_destroy(&q->lock);
    free(q->batch);
    free(q);
}

int bgs_compute_post(bgs_compute *q, bgs_task *t)
{
    if (bgs_metrics_pending_try(q->metrics, q->lim.max_pending) != 0)
        return -1;
    t->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail != NULL)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    pthread_cond_signal(&q->more);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

/* ---- grids ---- */

/* Allocate and fill with the npy header in the lead; pure apart from the
 * allocation. */
static bg_status fill_grid(const bg_resolved *r, uint64_t count, int threads,
                           bg_grid *g, bg_error *err, double *seconds)
{
    double t0 = now_s();
    bg_status s = bg_grid_alloc_lead(g, count, BG_F64, 0, BGS_GRID_LEAD);
    if (s == BG_OK)
        s = bg_grid_fill(r, g, threads);
    if (s == BG_OK) {
        char head[BGAPI_HEAD_MAX];
        size_t n = bgapi_npy_head(count, BG_F64, head);
        memcpy((char *)g->block + BGS_GRID_LEAD - n, head, n);
    } else {
        bg_grid_free(g);
        bg_error_set(err, s, "", "%s", bg_strerror(s));
    }
    *seconds = now_s() - t0;
    return s;
}

/* End entry e with the outcome of a fill and drop the fill's memory
 * reservation (the grid's bytes now count through the entry). */
static void end_grid(bgs_compute *q, bgs_entry *e, bg_status s, bg_grid *g,
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

void bgs_compute_overloaded(bgs_compute *q, const char *why, bgapi_problem *p)
{
    bgs_metrics_shed(q->metrics);
    bgapi_problem_set(p, 503, "overloaded", "Server overloaded", NULL,
                      "%s; retry shortly", why);
}

int bgs_compute_shed(bgs_compute *q, bgs_entry *e, const char *why)
{
    bgapi_problem p;
    bgs_compute_overloaded(q, why, &p);
    bgs_cache_fail(e, &p);
    return -1;
}

static int reserve(bgs_compute *q, bgs_entry *e, uint64_t count)
{
    if (bgs_cache_reserve(q->cache, bgs_grid_bytes(count, false)) == 0)
        return 0;
    return bgs_compute_shed(q, e,
                            "the memory for grids (--max-memory-mb) is in use");
}

void bgs_compute_inline(bgs_compute *q, bgs_entry *e, const bg_resolved *r,
                        uint64_t count)
{
    bg_grid g;
    bg_error err;
    double seconds;
    if (reserve(q, e, count) != 0)
        return;
    bg_status s = fill_grid(r, count, 1, &g, &err, &seconds);
    end_grid(q, e, s, &g, &err, seconds, count);
}

typedef struct {
    bgs_task task;
    bgs_compute *q;
    bgs_entry *entry; /* a reference */
    bg_resolved resolved;
    uint64_t count;
} grid_task;

static void grid_run(bgs_task *t, int threads)
{
    grid_task *j = (grid_task *)t;
    bg_grid g;
    bg_error err;
    double seconds;
    bg_status s =
        fill_grid(&j->resolved, j->count, threads, &g, &err, &seconds);
    end_grid(j->q, j->entry, s, &g, &err, seconds, j->count);
    bgs_entry_release(j->entry);
    bg_resolved_free(&j->resolved);
    free(j);
}

static void grid_cancel(bgs_task *t)
{
    grid_task *j = (grid_task *)t;
    bg_error err;
    bg_error_set(&err, BG_NOMEM, "", "the server is stopping");
    end_grid(j->q, j->entry, BG_NOMEM, NULL, &err, 0, j->count);
    bgs_entry_release(j->entry);
    bg_resolved_free(&j->resolved);
    free(j);
}

int bgs_compute_submit(bgs_compute *q, bgs_entry *e, const bg_resolved *r,
                       uint64_t count)
{
    if (reserve(q, e, count) != 0)
        return -1;
    grid_task *j = calloc(1, sizeof *j);
    if (j != NULL && bg_resolved_copy(&j->resolved, r) != BG_OK) {
        free(j);
        j = NULL;
    }
    if (j == NULL) {
        bg_error err;
        bg_error_set(&err, BG_NOMEM, "", "out of memory queueing a grid");
        end_grid(q, e, BG_NOMEM, NULL, &err, 0, count);
        return -1;
    }
    j->task = (bgs_task){.run = grid_run, .cancel = grid_cancel};
    j->q = q;
    j->entry = e;
    j->count = count;
    bgs_entry_retain(e);
    if (bgs_compute_post(q, &j->task) != 0) {
        bgs_entry_release(e);
        bg_resolved_free(&j->resolved);
        free(j);
        bgs_cache_unreserve(q->cache, bgs_grid_bytes(count, false));
        return bgs_compute_shed(q, e, BGS_COMPUTE_BUSY);
    }
    return 0;
}

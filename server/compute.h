/* compute.h - the one home of computation: an executor thread and its
 * OpenMP team.
 *
 * Every grid fill or body encode too large for an HTTP thread is a task
 * posted here. One executor thread ("bg-compute") runs the tasks in order;
 * a parallel task (a grid fill) gets the whole team of --compute-threads,
 * and consecutive serial tasks (encodes) run side by side, one per team
 * thread. Only the executor ever starts an OpenMP team, so the process
 * never has more than --compute-threads computing threads, however many
 * requests are in flight. The HTTP threads compute only small grids and
 * bodies, inline and with one thread (no team).
 *
 * Grid tasks fill a cache entry the caller owns (a MISS) and end it with
 * bgs_cache_complete or bgs_cache_fail, which wakes everyone waiting. */
#ifndef BGS_COMPUTE_H
#define BGS_COMPUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/resolve.h"
#include "server/cache.h"
#include "server/metrics.h"

typedef struct bgs_compute bgs_compute;

/* Limits of the executor. */
typedef struct {
    int threads;         /* the OpenMP team: --compute-threads */
    int64_t max_pending; /* tasks that may wait before 503 */
} bgs_compute_limits;

/* A unit of work. The poster owns its memory until run or cancel has been
 * called (exactly one of them, once, on the executor thread; cancel also
 * from bgs_compute_free). */
typedef struct bgs_task {
    /* threads: the team size the task may use (1 for a serial task). */
    void (*run)(struct bgs_task *t, int threads);
    /* The task will never run: the executor is stopping. */
    void (*cancel)(struct bgs_task *t);
    bool serial; /* one thread: may run beside other serial tasks */
    struct bgs_task *next;
} bgs_task;

/* Start the executor thread. The cache and metrics are borrowed and must
 * outlive it. NULL on failure. */
bgs_compute *bgs_compute_new(const bgs_compute_limits *lim, bgs_cache *cache,
                             bgs_metrics *metrics);

/* Stop: tasks not started are cancelled, the running one finishes, the
 * thread is joined and the executor freed. */
void bgs_compute_free(bgs_compute *q);

/* Queue t. Returns 0, or -1 if max_pending tasks already wait (nothing
 * queued: the caller answers 503). Thread-safe. */
int bgs_compute_post(bgs_compute *q, bgs_task *t);

/* Fill the grid of *r (count sources, from bg_grid_count) into a cached
 * block (BGS_GRID_LEAD bytes of lead holding its npy header) and end the
 * owner's entry e with it, in the calling thread with one thread. If its
 * memory cannot be reserved, e is failed with 503. */
void bgs_compute_inline(bgs_compute *q, bgs_entry *e, const bg_resolved *r,
                        uint64_t count);

/* The same as a task of the executor. Takes its own reference on e.
 * Returns 0, or -1 if too many tasks wait or the memory cannot be reserved
 * (e is then failed with 503 "overloaded" and the shed counted). */
int bgs_compute_submit(bgs_compute *q, bgs_entry *e, const bg_resolved *r,
                       uint64_t count);

/* The detail of a 503 when max_pending tasks already wait. */
#define BGS_COMPUTE_BUSY "too many large computations are waiting"

/* Count a shed and set *p to the 503 "overloaded" problem (why: the
 * detail, "; retry shortly" appended). */
void bgs_compute_overloaded(bgs_compute *q, const char *why, bgapi_problem *p);

/* Fail owner's entry e with that problem. Returns -1. */
int bgs_compute_shed(bgs_compute *q, bgs_entry *e, const char *why);

#endif

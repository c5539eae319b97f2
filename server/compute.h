/* compute.h - computing grids, inline or on libuv's thread pool.
 *
 * A computation fills a cache entry the caller owns (a MISS from
 * bgs_cache_acquire) and ends it with bgs_cache_complete or bgs_cache_fail,
 * which wakes everyone waiting on it. Small grids are computed inline in the
 * calling thread; large ones are handed to the loop thread (uv_async), which
 * queues them on the thread pool (uv_queue_work) and completes them from
 * the after-work callback. The queue of jobs not yet started is bounded. */
#ifndef BGS_COMPUTE_H
#define BGS_COMPUTE_H

#include <stdint.h>
#include <uv.h>

#include "core/resolve.h"
#include "server/cache.h"
#include "server/metrics.h"

typedef struct bgs_compute bgs_compute;

/* Limits of a compute queue. */
typedef struct {
    int threads;         /* OpenMP threads per grid */
    int64_t max_pending; /* pool jobs that may wait */
} bgs_compute_limits;

/* A new compute queue on `loop` (the loop thread owns it). The cache and
 * metrics are borrowed and must outlive the queue. NULL on failure. */
bgs_compute *bgs_compute_new(uv_loop_t *loop, const bgs_compute_limits *lim,
                             bgs_cache *cache, bgs_metrics *metrics);

/* Close the queue's loop handle; the queue is freed once libuv has closed
 * it. Call from the loop thread when no job is left. */
void bgs_compute_close(bgs_compute *q);

/* Compute the grid of *r (count sources, from bg_grid_count) with
 * positions, in the calling thread, and end entry e with it. If its memory
 * cannot be reserved (bgs_cache_reserve), e is failed with 503. */
void bgs_compute_inline(bgs_compute *q, bgs_entry *e, const bg_resolved *r,
                        uint64_t count);

/* Queue the computation for the thread pool. Thread-safe. Takes its own
 * reference on e. Returns 0, or -1 if max_pending jobs already wait or
 * the memory cannot be reserved (the entry is then failed with 503
 * "overloaded" and the shed is counted). */
int bgs_compute_submit(bgs_compute *q, bgs_entry *e, const bg_resolved *r,
                       uint64_t count);

#endif

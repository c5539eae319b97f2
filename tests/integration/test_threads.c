/* test_threads.c - the server's threads stay within its flags.
 *
 * With --threads 2 --compute-threads 3, 8 clients each ask for 2 distinct
 * large grids (about 300k sources, npy) at once, while /proc/<pid>/task is
 * sampled. The server may have at most 1 (main) + 2 (HTTP) + 3 (compute)
 * + 2 (housekeeping, e.g. the log flusher) threads, however many grids are
 * asked at once; at most 3 of them named bg-compute* (the compute thread
 * and the OpenMP workers, which inherit its name); and every request is
 * answered 200. The three are expectations, so a failing run reports each
 * of them. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/support/server.h"

#define CLIENTS     8
#define PER_CLIENT  2
#define MAX_THREADS (1 + 2 + 3 + 2)
#define MAX_COMPUTE 3

/* 301,536 sources (the directions inside the divergence circle x 9
 * wavelengths), a distinct lambda_A per request. */
#define LARGE                                                                  \
    "{\"divergence_mrad\":0.5,\"divsteps\":200,\"dispersion_percent\":0.1,"    \
    "\"dispsteps\":9,\"lambda_A\":%.6f}"

typedef struct {
    const bgt_server *srv;
    pthread_barrier_t *go;
    int id;
    long status[PER_CLIENT];
    int transport_errors;
} client;

typedef struct {
    pid_t pid;
    atomic_int *stop;
    int samples, peak, compute_peak;
    char at_peak[512]; /* "name count, ..." at the peak */
} sampler;

static void *run_client(void *arg)
{
    client *c = arg;
    char body[256];
    pthread_barrier_wait(c->go);
    for (int k = 0; k < PER_CLIENT; k++) {
        bgt_response r;
        snprintf(body, sizeof body, LARGE, 1.1 + c->id * 0.1 + k * 0.01);
        if (bgt_post_json(c->srv, "/v1/sources?format=npy", body, NULL, &r) !=
            0) {
            c->transport_errors++;
            c->status[k] = -1;
        } else {
            c->status[k] = r.status;
        }
        bgt_response_free(&r);
    }
    return NULL;
}

static void *run_sampler(void *arg)
{
    sampler *s = arg;
    bgt_threads now;
    while (atomic_load(s->stop) == 0) {
        int total = bgt_threads_look(s->pid, &now);
        int compute = bgt_threads_named(&now, "bg-compute");
        if (total > 0) {
            s->samples++;
            if (compute > s->compute_peak)
                s->compute_peak = compute;
            if (total > s->peak) {
                s->peak = total;
                bgt_threads_format(&now, s->at_peak, sizeof s->at_peak);
            }
        }
        /* the sampling interval (a measurement, not a synchronisation) */
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

Test(threads, bounded_by_flags_under_concurrent_large_grids, .timeout = 120)
{
    static const char *const flags[] = {"--threads", "2", "--compute-threads",
                                        "3", NULL};
    bgt_server s;
    client c[CLIENTS];
    pthread_t t[CLIENTS], st;
    pthread_barrier_t go;
    atomic_int stop = 0;
    cr_assert_eq(bgt_server_start(&s, flags), 0);
    sampler sm = {.pid = s.pid, .stop = &stop};
    cr_assert_eq(pthread_create(&st, NULL, run_sampler, &sm), 0);
    pthread_barrier_init(&go, NULL, CLIENTS);
    memset(c, 0, sizeof c);
    for (int i = 0; i < CLIENTS; i++) {
        c[i].srv = &s;
        c[i].go = &go;
        c[i].id = i;
        cr_assert_eq(pthread_create(&t[i], NULL, run_client, &c[i]), 0);
    }
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&stop, 1);
    pthread_join(st, NULL);
    pthread_barrier_destroy(&go);

    cr_assert_gt(sm.samples, 0, "the sampler saw the server");
    cr_expect_leq(sm.peak, MAX_THREADS,
                  "peak %d threads > 1 main + 2 HTTP + 3 compute + 2 "
                  "housekeeping = %d (at the peak: %s)",
                  sm.peak, MAX_THREADS, sm.at_peak);
    cr_expect_leq(sm.compute_peak, MAX_COMPUTE,
                  "%d threads named bg-compute* at once > --compute-threads "
                  "%d",
                  sm.compute_peak, MAX_COMPUTE);
    for (int i = 0; i < CLIENTS; i++)
        for (int k = 0; k < PER_CLIENT; k++)
            cr_expect_eq(c[i].status[k], 200, "client %d request %d: %ld", i, k,
                         c[i].status[k]);
    cr_assert_eq(bgt_server_stop(&s, 10), 0, "log: %s", s.log_path);
}

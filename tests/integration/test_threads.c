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
#include <dirent.h>
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

/* One look at /proc/pid/task: the thread count, the bg-compute* count and
 * the names with their counts. */
static int look(pid_t pid, int *compute, char *names, size_t cap)
{
    char path[64], seen[64][20];
    int counts[64], n = 0, total = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    *compute = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        total++;
        char comm_path[400], comm[20] = "?";
        snprintf(comm_path, sizeof comm_path, "%s/%s/comm", path, e->d_name);
        FILE *f = fopen(comm_path, "r");
        if (f != NULL) {
            if (fgets(comm, sizeof comm, f) == NULL)
                snprintf(comm, sizeof comm, "?");
            comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        if (strncmp(comm, "bg-compute", 10) == 0)
            (*compute)++;
        int i = 0;
        while (i < n && strcmp(seen[i], comm) != 0)
            i++;
        if (i == n && n < 64) {
            snprintf(seen[n], sizeof seen[n], "%s", comm);
            counts[n++] = 0;
        }
        if (i < n)
            counts[i]++;
    }
    closedir(d);
    size_t len = 0;
    names[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(names + len, cap - len, "%s%s %d",
                                i ? ", " : "", seen[i], counts[i]);
    return total;
}

static void *run_sampler(void *arg)
{
    sampler *s = arg;
    char names[512];
    while (atomic_load(s->stop) == 0) {
        int compute;
        int total = look(s->pid, &compute, names, sizeof names);
        if (total > 0) {
            s->samples++;
            if (compute > s->compute_peak)
                s->compute_peak = compute;
            if (total > s->peak) {
                s->peak = total;
                snprintf(s->at_peak, sizeof s->at_peak, "%s", names);
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

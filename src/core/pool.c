/*
 * pool.c - the fork-join pool of pool.h.
 *
 * Each worker has its own cache line with a `go` ticket and a `done`
 * ticket.  The caller writes the job, then bumps `go` of exactly the
 * workers it uses; each of them runs its range and copies `go` into
 * `done`.  Workers that a job does not use are never touched, so a later
 * job can never be mistaken for an earlier one.  A worker that has
 * waited longer than the spin time sleeps on its own condition variable;
 * the caller wakes it only if it says it is asleep.
 */
#include "core/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#include "core/core.h"

#define POOL_MAX_WORKERS 255
#define POOL_DEFAULT_SPIN_US 200

typedef struct {
    _Alignas(64) atomic_uint go; /* job tickets handed to this worker */
    atomic_uint done;            /* the last ticket it finished */
    atomic_uint claimed;         /* the last ticket whose range someone
                                    (it, or the caller) took */
    atomic_int sleeping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int begin, end; /* its range of the current job */
    int index;      /* its thread number in jobs: 1, 2, ... */
} worker;

static struct {
    worker *workers[POOL_MAX_WORKERS];
    int n_workers;
    pool_fn fn;
    void *ctx;
    atomic_long spin_ns;
} pool = {.spin_ns = -1};

/* One caller at a time; others run their loops alone. */
static pthread_mutex_t submit_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int in_job;

static long spin_ns(void) {
    long ns = atomic_load_explicit(&pool.spin_ns, memory_order_relaxed);
    if (ns >= 0)
        return ns;
    const char *env = getenv("T5E_SPIN_US");
    long us = env && *env ? strtol(env, NULL, 10) : POOL_DEFAULT_SPIN_US;
    ns = (us < 0 ? 0 : us) * 1000;
    atomic_store_explicit(&pool.spin_ns, ns, memory_order_relaxed);
    return ns;
}

void pool_set_spin_us(long us) {
    atomic_store(&pool.spin_ns, (us < 0 ? 0 : us) * 1000);
}

static long elapsed_ns(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/* Spins until `go` moves past `seen` or the spin time is over; returns
 * whether it moved.  Every 256 pauses (a few microseconds) it yields the
 * core, so a thread that has work there (OpenBLAS's OpenMP threads run
 * the large products) takes it instead of sharing it with a spinner. */
static int spin_for_ticket(worker *w, unsigned seen) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long limit = spin_ns();
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(&w->go, memory_order_acquire) != seen)
            return 1;
        cpu_relax();
        if ((i & 255) == 0) {
            if (elapsed_ns(&t0) >= limit)
                return 0;
            sched_yield();
        }
    }
}

static unsigned wait_for_ticket(worker *w, unsigned seen) {
    if (!spin_for_ticket(w, seen)) {
        pthread_mutex_lock(&w->mu);
        atomic_store(&w->sleeping, 1);
        while (atomic_load(&w->go) == seen)
            pthread_cond_wait(&w->cv, &w->mu);
        atomic_store(&w->sleeping, 0);
        pthread_mutex_unlock(&w->mu);
    }
    return atomic_load_explicit(&w->go, memory_order_acquire);
}

/*
 * Takes ticket t's range for whoever calls: the worker when it wakes, or
 * the caller when it has finished its own range first.  Exactly one of
 * them wins, so a worker that is not running (the machine is shared, and
 * its core may be busy) does not hold the caller up.
 */
static int claim(worker *w, unsigned t) {
    unsigned before = t - 1;
    return atomic_compare_exchange_strong(&w->claimed, &before, t);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    in_job = 1; /* a pool_for from inside a job runs inline */
#ifdef _OPENMP
    omp_set_num_threads(1); /* OpenBLAS called from a job stays on it */
#endif
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_ticket(w, seen);
        if (!claim(w, seen))
            continue; /* the caller ran this range itself */
        pool.fn(pool.ctx, w->begin, w->end, w->index);
        atomic_store_explicit(&w->done, seen, memory_order_release);
    }
    return NULL;
}

static worker *worker_start(void) {
    worker *w = aligned_alloc(64, (sizeof(worker) + 63) / 64 * 64);
    if (!w)
        return NULL;
    atomic_init(&w->go, 0);
    atomic_init(&w->done, 0);
    atomic_init(&w->claimed, 0);
    atomic_init(&w->sleeping, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_attr_t attr;
    pthread_t tid;
    int ok = pthread_attr_init(&attr) == 0;
    ok = ok && pthread_attr_setdetachstate(&attr,
                                           PTHREAD_CREATE_DETACHED) == 0;
    ok = ok && pthread_create(&tid, &attr, worker_main, w) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

/* Starts workers until `want` exist (or no more can be); returns how
 * many there are. */
static int workers_ensure(int want) {
    if (want > POOL_MAX_WORKERS)
        want = POOL_MAX_WORKERS;
    while (pool.n_workers < want) {
        worker *w = worker_start();
        if (!w)
            break;
        w->index = pool.n_workers + 1;
        pool.workers[pool.n_workers++] = w;
    }
    return pool.n_workers < want ? pool.n_workers : want;
}

static void hand_out(worker *w) {
    atomic_fetch_add(&w->go, 1);
    if (atomic_load(&w->sleeping)) {
        pthread_mutex_lock(&w->mu);
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

static int wants_inline(int n, int *threads) {
    int T = core_max_threads();
#ifdef _OPENMP
    if (omp_in_parallel())
        return 1;
#endif
    *threads = T < n ? T : n;
    return in_job || *threads < 2;
}

/* Runs a range in the caller (as thread `thread`) with OpenMP limited to
 * one thread. */
static void run_here(pool_fn fn, void *ctx, int begin, int end,
                     int thread) {
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    in_job = 1;
    fn(ctx, begin, end, thread);
    in_job = 0;
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
}

void pool_for(int n, pool_fn fn, void *ctx) {
    int T = 1;
    if (n <= 0)
        return;
    if (wants_inline(n, &T) || pthread_mutex_trylock(&submit_mu) != 0) {
        fn(ctx, 0, n, 0);
        return;
    }
    int W = workers_ensure(T - 1);
    T = W + 1;
    pool.fn = fn;
    pool.ctx = ctx;
    unsigned ticket[POOL_MAX_WORKERS];
    for (int i = 0; i < W; i++) {
        worker *w = pool.workers[i];
        w->begin = (int)((long)n * (i + 1) / T);
        w->end = (int)((long)n * (i + 2) / T);
        ticket[i] = atomic_load(&w->go) + 1;
        hand_out(w);
    }
    run_here(fn, ctx, 0, (int)((long)n / T), 0);
    for (int i = 0; i < W; i++) {
        worker *w = pool.workers[i];
        if (claim(w, ticket[i])) { /* not started: run it here */
            run_here(fn, ctx, w->begin, w->end, w->index);
            continue;
        }
        /* started: wait, yielding now and then in case the worker was
         * preempted on this core */
        for (unsigned k = 1; atomic_load_explicit(&w->done,
                 memory_order_acquire) != ticket[i]; k++) {
            cpu_relax();
            if ((k & 255) == 0)
                sched_yield();
        }
    }
    pthread_mutex_unlock(&submit_mu);
}

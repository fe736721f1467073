/*
 * test_pool.c - pool_for covers every item exactly once, in contiguous
 * ranges, for any item and thread count; runs inline where it must
 * (nested calls, OpenMP regions, a busy pool); survives workers that
 * went to sleep; and serves several application threads at once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/pool.h"
#include "harness.h"

typedef struct {
    atomic_int *hits;  /* per item */
    atomic_int calls;  /* fn invocations */
    atomic_int empty;  /* invocations with begin >= end */
} cover_ctx;

static void cover_fn(void *p, int begin, int end, int thread) {
    cover_ctx *c = p;
    atomic_fetch_add(&c->calls, 1);
    if (begin >= end)
        atomic_fetch_add(&c->empty, 1);
    for (int i = begin; i < end; i++)
        atomic_fetch_add(&c->hits[i], 1);
}

/* Runs pool_for over n items; checks each was hit once. */
static void check_cover(int n, int threads) {
    cover_ctx c = {calloc((size_t)(n > 0 ? n : 1), sizeof(atomic_int)), 0, 0};
    pool_for(n, cover_fn, &c);
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += atomic_load(&c.hits[i]) != 1;
    CHECK(bad == 0, "n %d threads %d: %d items not hit exactly once", n,
          threads, bad);
    int calls = atomic_load(&c.calls);
    int most = n < threads ? n : threads;
    CHECK(n == 0 ? calls == 0 : calls >= 1 && calls <= most,
          "n %d threads %d: %d calls", n, threads, calls);
    CHECK(atomic_load(&c.empty) == 0, "n %d: an empty range was run", n);
    free(c.hits);
}

static void set_threads(int t) {
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

static void test_cover(void) {
    static const int ns[] = {0, 1, 2, 3, 5, 7, 64, 1000, 4097};
    static const int ts[] = {1, 2, 3, 4, 8};
    for (size_t t = 0; t < sizeof ts / sizeof *ts; t++) {
        set_threads(ts[t]);
        for (size_t i = 0; i < sizeof ns / sizeof *ns; i++)
            for (int rep = 0; rep < 20; rep++)
                check_cover(ns[i], ts[t]);
    }
    set_threads(2);
}

/* Workers sleep when not spinning: every job must still wake them. */
static void test_sleeping_workers(void) {
    set_threads(4);
    pool_set_spin_us(0);
    for (int rep = 0; rep < 200; rep++)
        check_cover(100, 4);
    struct timespec ms = {0, 2000000};
    nanosleep(&ms, NULL); /* let them all fall asleep */
    check_cover(100, 4);
    pool_set_spin_us(200);
    set_threads(2);
}

/* Ranges are contiguous and in order: the first belongs to the caller. */
typedef struct {
    int begin[64], end[64];
    atomic_int thread_seen[64]; /* ranges run per thread number */
    atomic_int n;
    pthread_t caller;
    atomic_int caller_begin;
} range_ctx;

static void range_fn(void *p, int begin, int end, int thread) {
    range_ctx *c = p;
    int i = atomic_fetch_add(&c->n, 1);
    if (i < 64)
        c->begin[i] = begin, c->end[i] = end;
    if (thread >= 0 && thread < 64)
        atomic_fetch_add(&c->thread_seen[thread], 1);
    /* the caller may also run a worker's range it claimed first, under
     * that worker's number; its own range is the first, as thread 0 */
    if (pthread_equal(pthread_self(), c->caller) && thread == 0)
        atomic_store(&c->caller_begin, begin);
    else if (thread == 0)
        atomic_store(&c->caller_begin, 1000 + begin);
}

static int cmp_int(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

static void test_ranges(void) {
    set_threads(3);
    range_ctx c = {.caller = pthread_self(), .caller_begin = -1};
    pool_for(10, range_fn, &c);
    int n = atomic_load(&c.n);
    CHECK(n >= 1 && n <= 3, "%d ranges", n);
    int b[64], e[64];
    memcpy(b, c.begin, sizeof b), memcpy(e, c.end, sizeof e);
    qsort(b, (size_t)n, sizeof *b, cmp_int);
    qsort(e, (size_t)n, sizeof *e, cmp_int);
    CHECK(b[0] == 0 && e[n - 1] == 10, "ranges %d..%d", b[0], e[n - 1]);
    for (int i = 1; i < n; i++)
        CHECK(b[i] == e[i - 1], "range %d starts at %d, previous ends %d", i,
              b[i], e[i - 1]);
    CHECK(atomic_load(&c.caller_begin) == 0, "thread 0's range began at "
          "%d%s", atomic_load(&c.caller_begin) % 1000,
          atomic_load(&c.caller_begin) >= 1000 ? ", not in the caller" : "");
    for (int t = 0; t < 64; t++)
        CHECK(atomic_load(&c.thread_seen[t]) == (t < n),
              "thread number %d ran %d ranges of %d", t,
              atomic_load(&c.thread_seen[t]), n);
    set_threads(2);
}

/* A pool_for inside a job runs inline on that job's thread. */
typedef struct {
    atomic_int inner_calls, outer_calls, mismatched;
} nest_ctx;

static void inner_fn(void *p, int begin, int end, int thread) {
    nest_ctx *c = p;
    atomic_fetch_add(&c->inner_calls, 1);
    if (begin != 0 || end != 50)
        atomic_fetch_add(&c->mismatched, 1);
}

static void outer_fn(void *p, int begin, int end, int thread) {
    nest_ctx *c = p;
    atomic_fetch_add(&c->outer_calls, 1);
    for (int i = begin; i < end; i++)
        pool_for(50, inner_fn, c);
}

static void test_nested(void) {
    set_threads(2);
    nest_ctx c = {0};
    pool_for(8, outer_fn, &c);
    CHECK(atomic_load(&c.inner_calls) == 8, "%d inner calls",
          atomic_load(&c.inner_calls));
    CHECK(atomic_load(&c.mismatched) == 0, "a nested loop was split");
#ifdef _OPENMP
    nest_ctx d = {0};
#pragma omp parallel num_threads(2)
    {
#pragma omp single
        pool_for(50, inner_fn, &d);
    }
    CHECK(atomic_load(&d.inner_calls) == 1 && atomic_load(&d.mismatched) == 0,
          "inside an OpenMP region: %d calls, %d split",
          atomic_load(&d.inner_calls), atomic_load(&d.mismatched));
#endif
}

/* Inside a job OpenMP sees one thread, so OpenBLAS does not fan out. */
static void threads_fn(void *p, int begin, int end, int thread) {
#ifdef _OPENMP
    if (omp_get_max_threads() != 1)
        atomic_fetch_add((atomic_int *)p, 1);
#endif
}

static void test_one_omp_thread_inside(void) {
    set_threads(2);
    atomic_int bad = 0;
    pool_for(2, threads_fn, &bad);
    CHECK(atomic_load(&bad) == 0, "%d ranges saw more than one OpenMP "
          "thread", atomic_load(&bad));
#ifdef _OPENMP
    CHECK(omp_get_max_threads() == 2, "the caller's thread count is %d "
          "after the loop", omp_get_max_threads());
#endif
}

/* Several application threads: each loop completes exactly once. */
static void *client(void *arg) {
    (void)arg;
    set_threads(2); /* a new thread has OpenMP's default count */
    for (int rep = 0; rep < 200; rep++)
        check_cover(300, 2);
    return NULL;
}

static void test_concurrent_callers(void) {
    set_threads(2);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, client, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
}

int main(void) {
    RUN(test_cover);
    RUN(test_sleeping_workers);
    RUN(test_ranges);
    RUN(test_nested);
    RUN(test_one_omp_thread_inside);
    RUN(test_concurrent_callers);
    return harness_finish();
}

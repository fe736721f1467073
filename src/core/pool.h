/*
 * pool.h - a fork-join thread pool for the short parallel loops of
 * decoding.
 *
 * A decoding step is some fifty matrix-vector products of 10-500 us
 * each.  OpenMP with OMP_WAIT_POLICY=passive puts its threads to sleep
 * between regions, and waking one costs about 65 us on this machine kind
 * (a virtual CPU has to be rescheduled), which is more than a small
 * product saves by running on two cores.  The pool's workers instead spin
 * for a short while (T5E_SPIN_US, default 200 us) after each job before
 * sleeping, so the products of one step find them awake, and an idle
 * program still sleeps.
 *
 * The thread count is OpenMP's (omp_set_num_threads, OMP_NUM_THREADS),
 * so one setting governs both.
 */
#ifndef T5E_POOL_H
#define T5E_POOL_H

/* One thread's share of a loop: items [begin, end); `thread` numbers
 * the threads of the loop from 0 (the caller) up (for scratch space). */
typedef void (*pool_fn)(void *ctx, int begin, int end, int thread);

/*
 * Runs fn over the items [0, n), split into contiguous ranges of nearly
 * equal size, one per thread (the caller takes the first).  Returns when
 * every range is done.  Runs fn(ctx, 0, n, 0) on the calling thread alone
 * when n < 2, when one thread is allowed, when called from inside a pool
 * job or an OpenMP parallel region, or when another thread is using the
 * pool.  Inside fn, OpenMP (and so OpenBLAS) sees one thread.
 */
void pool_for(int n, pool_fn fn, void *ctx);

/* How long idle workers spin before they sleep (for tests and
 * benchmarks; the default comes from T5E_SPIN_US). */
void pool_set_spin_us(long us);

#endif

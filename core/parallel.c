/* parallel.c — the core's thread pool (see coconut/parallel.h).
 *
 * One job at a time. Its description lives in globals written by the caller;
 * `g_next` packs (generation << 32 | next range) and is the only thing workers
 * claim through. Publishing a job: close the counter (range CLOSED under a new
 * generation) so no late worker of the previous job can claim, write the
 * description, then open it at range 0. A worker reads the description after
 * seeing a generation and claims with a compare-and-swap on the exact value it
 * saw, so a claim can only succeed while that generation is open: whatever it
 * read belongs to the job it runs. All of this is seq_cst; it happens once per
 * range, not per item. */
#include "coconut/parallel.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "coconut/base.h"
#include "coconut/runtime.h"

#define CLOSED 0xffffffffu
#define MAX_WORKERS 1023
#define SPIN_NS 50000 /* idle workers poll this long before sleeping */

static _Atomic uint64_t g_next;             /* gen << 32 | next range */
static _Atomic uint32_t g_gen;              /* futex word: generation of the latest job */
static _Atomic(coco_range_fn) g_fn;
static _Atomic(void *) g_ctx;
static _Atomic int64_t g_n, g_grain, g_ranges;
static _Atomic int g_nworkers_job;          /* workers allowed on this job */
static _Atomic int64_t g_done;              /* ranges finished in this job */
static _Atomic int g_sleepers;
static _Atomic int g_busy;                  /* a caller owns the pool */
static pthread_mutex_t g_spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_nworkers;                      /* started so far */

static __thread int t_slot = 0;
static __thread int t_inside = 0;

int coco_parallel_slot(void) { return t_slot; }

static void futex_wait(_Atomic uint32_t *w, uint32_t v) {
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}
static void futex_wake_all(_Atomic uint32_t *w) { syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0); }

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Claims and runs ranges of generation `gen` until none are left. */
static void work(uint32_t gen) {
    coco_range_fn fn = atomic_load(&g_fn);
    void *ctx = atomic_load(&g_ctx);
    int64_t n = atomic_load(&g_n), grain = atomic_load(&g_grain), ranges = atomic_load(&g_ranges);
    for (;;) {
        uint64_t v = atomic_load(&g_next);
        if ((uint32_t)(v >> 32) != gen) return;
        uint32_t r = (uint32_t)v;
        if (r == CLOSED || (int64_t)r >= ranges) return;
        if (!atomic_compare_exchange_weak(&g_next, &v, v + 1)) continue;
        int64_t lo = (int64_t)r * grain, hi = lo + grain < n ? lo + grain : n;
        t_inside = 1;
        fn(ctx, lo, hi);
        t_inside = 0;
        atomic_fetch_add(&g_done, 1);
    }
}

static void *worker_main(void *arg) {
    t_slot = (int)(intptr_t)arg;
    uint32_t seen = atomic_load(&g_gen);
    for (;;) {
        uint32_t g = atomic_load(&g_gen);
        if (g == seen) {
            int64_t t0 = now_ns();
            int k = 0;
            while ((g = atomic_load(&g_gen)) == seen) {
                cpu_relax();
                if (++k % 64 == 0 && now_ns() - t0 > SPIN_NS) {
                    atomic_fetch_add(&g_sleepers, 1);
                    if (atomic_load(&g_gen) == seen) futex_wait(&g_gen, seen);
                    atomic_fetch_sub(&g_sleepers, 1);
                    t0 = now_ns();
                }
            }
        }
        seen = g;
        if (t_slot <= atomic_load(&g_nworkers_job)) work(g);
    }
    return NULL;
}

static void ensure_workers(int want) {
    if (want > MAX_WORKERS) want = MAX_WORKERS;
    if (want <= g_nworkers) return;
    pthread_mutex_lock(&g_spawn_lock);
    while (g_nworkers < want) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, worker_main, (void *)(intptr_t)(g_nworkers + 1));
        pthread_attr_destroy(&at);
        if (rc != 0) break; /* fewer workers: the caller does more ranges */
        g_nworkers++;
    }
    pthread_mutex_unlock(&g_spawn_lock);
}

static void run_inline(int64_t n, int64_t grain, coco_range_fn fn, void *ctx) {
    int was = t_inside;
    t_inside = 1;
    for (int64_t lo = 0; lo < n; lo += grain) fn(ctx, lo, lo + grain < n ? lo + grain : n);
    t_inside = was;
}

void coco_parallel_for(int64_t n, int64_t grain, coco_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int64_t ranges = (n + grain - 1) / grain;
    int nt = coco_threads();
    if (nt < 2 || ranges < 2 || t_inside || ranges >= (int64_t)CLOSED) {
        run_inline(n, grain, fn, ctx);
        return;
    }
    int expect = 0;
    if (!atomic_compare_exchange_strong(&g_busy, &expect, 1)) { /* another thread has the pool */
        run_inline(n, grain, fn, ctx);
        return;
    }
    ensure_workers(nt - 1);
    uint32_t gen = atomic_load(&g_gen) + 1;
    if (gen == 0) gen = 1;
    atomic_store(&g_next, (uint64_t)gen << 32 | CLOSED);
    atomic_store(&g_fn, fn);
    atomic_store(&g_ctx, ctx);
    atomic_store(&g_n, n);
    atomic_store(&g_grain, grain);
    atomic_store(&g_ranges, ranges);
    atomic_store(&g_nworkers_job, nt - 1);
    atomic_store(&g_done, 0);
    atomic_store(&g_next, (uint64_t)gen << 32);
    atomic_store(&g_gen, gen);
    if (atomic_load(&g_sleepers) > 0) futex_wake_all(&g_gen);
    work(gen);
    /* Only ranges a worker already took are outstanding. */
    for (int k = 0; atomic_load(&g_done) < ranges; k++) {
        if (k < 4096) cpu_relax();
        else sched_yield();
    }
    atomic_store(&g_busy, 0);
}

int64_t coco_parallel_grain(int64_t n, int64_t min_grain, int per_thread) {
    int nt = coco_threads();
    if (min_grain < 1) min_grain = 1;
    if (nt < 2) return n > 0 ? n : 1;
    int64_t parts = (int64_t)nt * (per_thread > 0 ? per_thread : 1);
    int64_t g = (n + parts - 1) / parts;
    return g < min_grain ? min_grain : g;
}

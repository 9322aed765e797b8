/* coconut/parallel.h — the one way the core runs work on several threads.
 *
 * Contract
 *   coco_parallel_for(n, grain, fn, ctx) calls fn(ctx, lo, hi) over disjoint
 *   ranges covering [0, n), each of at most `grain` items (the last may be
 *   shorter), and returns when all have run. Ranges are handed out dynamically
 *   (an atomic counter) to the calling thread and up to coco_threads() - 1 pool
 *   workers. Which thread runs a range is not fixed, so fn must give the same
 *   result whatever thread runs it (per-range work, no cross-range reductions
 *   except into per-range slots).
 *   - The caller works too and never waits for a worker that has not started:
 *     a worker that is slow to wake (a busy machine) finds no ranges left and
 *     goes back to sleep. The caller only waits for ranges already taken.
 *     This is why the core does not use OpenMP's fork/join or BLIS's threads:
 *     both wait at a barrier for every thread of the team, and on a loaded
 *     machine a descheduled thread costs a time slice per barrier.
 *   - Runs inline (one call fn(ctx, 0, n)... split by grain, on the caller) when
 *     coco_threads() == 1, when there is a single range, when called from inside
 *     a range (no nesting), or when another thread is already using the pool.
 *   - Idle workers spin for a short while (about 50 us) and then sleep on a
 *     futex; they are created on first use and live until the process exits.
 *   coco_parallel_slot() is the index of the running thread within the pool
 *   (0 = the caller, 1.. = workers), below coco_threads(); it indexes
 *   per-thread scratch buffers sized coco_threads().
 */
#ifndef COCONUT_PARALLEL_H
#define COCONUT_PARALLEL_H

#include <stdint.h>

typedef void (*coco_range_fn)(void *ctx, int64_t lo, int64_t hi);

void coco_parallel_for(int64_t n, int64_t grain, coco_range_fn fn, void *ctx);
int coco_parallel_slot(void);

/* A grain that cuts [0, n) into about `per_thread` ranges per thread, each at
 * least min_grain items (work per item varies by caller). */
int64_t coco_parallel_grain(int64_t n, int64_t min_grain, int per_thread);

#endif

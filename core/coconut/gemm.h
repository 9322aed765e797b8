/* coconut/gemm.h — the one matrix-multiply entry point (BLIS).
 *
 * Contract
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major.
 *   lda/ldb/ldc are row strides of the matrices *as stored*: A is stored M x K
 *   (or K x M when transA), B is stored K x N (or N x K when transB).
 *   beta == 0 overwrites C (its old contents may be NaN).
 *   Threads: products of at least a few MFLOP are cut into tiles of C run on
 *   the core's pool (coconut/parallel.h), each tile one single-threaded BLIS
 *   call; smaller ones, and any call from inside a parallel range, run on the
 *   calling thread. BLIS's own threading is never used (gemm.c says why).
 *   Tiles cover disjoint parts of C and each computes its dot products in
 *   BLIS's order, but the tiling depends on the thread count, so results are
 *   bitwise reproducible at a fixed thread count.
 */
#ifndef COCONUT_GEMM_H
#define COCONUT_GEMM_H

#include <stdint.h>

void coco_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Same with a thread budget: 1 runs on the calling thread; more tiles C for
 * that many threads, run on the pool (whose size is coco_threads()). */
void coco_sgemm_threads(int nthreads, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

#endif

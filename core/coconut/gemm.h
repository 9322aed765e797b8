/* coconut/gemm.h — the one matrix-multiply entry point (BLIS).
 *
 * Contract
 *   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major.
 *   lda/ldb/ldc are row strides of the matrices *as stored*: A is stored M x K
 *   (or K x M when transA), B is stored K x N (or N x K when transB).
 *   beta == 0 overwrites C (its old contents may be NaN).
 *   Threads: coco_threads() BLIS threads, or exactly one when called from inside
 *   an OpenMP parallel region (no nesting). Every call is counted when the
 *   profile is on.
 */
#ifndef COCONUT_GEMM_H
#define COCONUT_GEMM_H

#include <stdint.h>

void coco_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Same, with an explicit BLIS thread count (>= 1). */
void coco_sgemm_threads(int nthreads, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

#endif

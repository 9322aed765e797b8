/* gemm.c — BLIS sgemm behind one wrapper (see coconut/gemm.h). */
#include "coconut/gemm.h"

#include <blis.h>
#include <omp.h>

#include "coconut/runtime.h"

void coco_sgemm_threads(int nthreads, int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M < 0 || N < 0 || K < 0) coco_fail("sgemm: negative size M=%lld N=%lld K=%lld", (long long)M, (long long)N, (long long)K);
    if (M == 0 || N == 0) return;
    if (K == 0) {
        /* BLIS handles k=0 as C = beta*C; do the same without relying on it. */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(nthreads < 1 ? 1 : nthreads, &rntm);
    /* BLIS 0.9 sends matrices with one dimension below ~500 to its unpacked
     * "sup" kernels. At GPT-2 shapes with M (or N) of 64..500 rows — short
     * training batches, prompt prefill — those read the weight matrix in place
     * with a 3072-float row stride and run at 25-35 GF/s per core here, against
     * 70-85 for the packed path (bench_gemm's "small M" rows). The packed path
     * only loses when a dimension is tiny (decode steps, M < 64), K is short
     * (attention's per-head products, K = 64), or both M and N are small
     * (attention's P V at 64 x 64), so it is forced only outside those. */
    if (M >= 64 && N >= 64 && K >= 128 && (M >= 512 || N >= 512)) bli_rntm_disable_l3_sup(&rntm);
    float a = alpha, b = beta;
    /* Row-major A (M x K): rs = lda, cs = 1. BLIS's transa refers to the stored matrix. */
    bli_sgemm_ex(transA ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, transB ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)M,
                 (dim_t)N, (dim_t)K, &a, (float *)A, (inc_t)lda, 1, (float *)B, (inc_t)ldb, 1, &b, C, (inc_t)ldc, 1,
                 NULL, &rntm);
}

void coco_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    int nt = omp_in_parallel() ? 1 : coco_threads();
    coco_sgemm_threads(nt, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

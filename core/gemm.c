/* gemm.c — BLIS sgemm behind one wrapper (see coconut/gemm.h).
 *
 * Threads are ours, not BLIS's. BLIS's own threading synchronises its threads
 * many times per call with a spin barrier (bli_thrcomm_bcast) that never
 * sleeps: on a busy machine a descheduled partner makes the other thread spin
 * its whole time slice at every barrier, and small GEMMs (the single-column
 * latent passes) pay the barrier more often than they compute. Measured before
 * this change: a tiny Coconut step went from 18 ms on one thread to 0.2-7 s on
 * two. So every BLIS call here is single-threaded, and a large product is cut
 * into independent tiles of C that the core's pool (coconut/parallel.h) hands
 * out dynamically: the caller never waits for a thread that has not started,
 * and a thread that gets less CPU simply takes fewer tiles. */
#include "coconut/gemm.h"

#include <blis.h>

#include "coconut/parallel.h"
#include "coconut/runtime.h"

/* Below this many flops a product runs on one thread: a fork/join costs a few
 * microseconds, which a 2 MFLOP product (~30 us) barely repays. */
#define GEMM_PAR_MIN_FLOPS 4e6
/* Tiles are at least this big, so each single-threaded BLIS call still packs
 * and computes at full speed; and there are up to 4 per thread, so a thread
 * slowed by other load hands its share to the others. */
#define GEMM_TILE_MIN_FLOPS 2e6
#define GEMM_TILES_PER_THREAD 4
/* Tile edges are multiples of this (a multiple of every BLIS x86 micro-tile edge). */
#define GEMM_TILE_ALIGN 48

static void blis_one(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
    /* BLIS 0.9 sends matrices with one dimension below ~500 to its unpacked
     * "sup" kernels. At GPT-2 shapes with M (or N) of 64..500 rows — short
     * training batches, prompt prefill — those read the weight matrix in place
     * with a 3072-float row stride and run at 25-35 GF/s per core (Zen 3),
     * against 70-85 for the packed path (bench_gemm's "small M" rows). The
     * packed path only loses when a dimension is tiny (decode steps, M < 64),
     * K is short (attention's per-head products, K = 64), or both M and N are
     * small (attention's P V at 64 x 64), so it is forced only outside those. */
    if (M >= 64 && N >= 64 && K >= 128 && (M >= 512 || N >= 512)) bli_rntm_disable_l3_sup(&rntm);
    float a = alpha, b = beta;
    /* Row-major A (M x K): rs = lda, cs = 1. BLIS's transa refers to the stored matrix. */
    bli_sgemm_ex(transA ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, transB ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)M,
                 (dim_t)N, (dim_t)K, &a, (float *)A, (inc_t)lda, 1, (float *)B, (inc_t)ldb, 1, &b, C, (inc_t)ldc, 1,
                 NULL, &rntm);
}

typedef struct gemm_job {
    int transA, transB, split_m;
    int64_t M, N, K;
    float alpha, beta;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    float *C;
    int64_t ldc;
} gemm_job;

/* Rows [lo, hi) of op(A) and C (split_m), or columns [lo, hi) of op(B) and C. */
static void gemm_tiles(void *ctx, int64_t lo, int64_t hi) {
    const gemm_job *j = ctx;
    int64_t n = hi - lo;
    if (j->split_m)
        blis_one(j->transA, j->transB, n, j->N, j->K, j->alpha, j->transA ? j->A + lo : j->A + lo * j->lda, j->lda, j->B,
                 j->ldb, j->beta, j->C + lo * j->ldc, j->ldc);
    else
        blis_one(j->transA, j->transB, j->M, n, j->K, j->alpha, j->A, j->lda, j->transB ? j->B + lo * j->ldb : j->B + lo,
                 j->ldb, j->beta, j->C + lo, j->ldc);
}

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
    double flops = 2.0 * (double)M * (double)N * (double)K;
    if (nthreads < 2 || flops < GEMM_PAR_MIN_FLOPS) {
        blis_one(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* Cut the longer side of C: tiles of rows (each re-packs B, K x N, which is
     * small next to its rows' work when M is the long side) or of columns. */
    int split_m = M >= N;
    int64_t side = split_m ? M : N;
    int64_t tiles = (int64_t)nthreads * GEMM_TILES_PER_THREAD;
    int64_t by_size = (int64_t)(flops / GEMM_TILE_MIN_FLOPS);
    if (tiles > by_size) tiles = by_size;
    if (tiles < nthreads) tiles = nthreads;
    int64_t edge = (side + tiles - 1) / tiles;
    edge = (edge + GEMM_TILE_ALIGN - 1) / GEMM_TILE_ALIGN * GEMM_TILE_ALIGN;
    int64_t ntiles = (side + edge - 1) / edge;
    if (ntiles < 2) {
        blis_one(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_job j = {transA, transB, split_m, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc};
    coco_parallel_for(side, edge, gemm_tiles, &j);
}

void coco_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    coco_sgemm_threads(coco_threads(), transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* bench_gemm.c — sgemm GFLOP/s at GPT-2 training shapes through coco_sgemm,
 * side by side with two references measured in the same process:
 *   - the core's fp32 FMA peak, from a register-only FMA loop (upper bound);
 *   - BLIS called directly (bli_sgemm), to show the wrapper costs nothing.
 * Shapes: M = 2048 rows (B*T), K = 768, N in {768, 3072, 50257}; op(A) is M x K,
 * op(B) K x N, for NN, NT and TN storage; then the small-M shapes of a B4 T64
 * step and a 384-token prefill, where the wrapper overrides BLIS's path choice.
 * Medians of repeated runs.
 * Usage: bench_gemm [reps]   (COCONUT_BENCH_QUICK=1: only N=768, 3 reps) */
#include <blis.h>
#include <immintrin.h>
#include <stdio.h>

#include "bench_util.h"
#include <stdlib.h>
#include <string.h>

#include "coconut/gemm.h"
#include "coconut/runtime.h"

#if defined(__AVX2__) && defined(__FMA__)
/* 12 independent 8-wide FMA chains: enough to saturate two FMA pipes with
 * 4-cycle latency. Returns GFLOP/s of one thread. */
static double fma_peak(void) {
    __m256 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i * 1e-3f);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    long iters = 20000000;
    double t = coco_now();
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    t = coco_now() - t;
    float sink = 0;
    for (int i = 0; i < 12; i++) {
        float tmp[8];
        _mm256_storeu_ps(tmp, acc[i]);
        sink += tmp[0];
    }
    if (sink == 12345.0f) printf("#");
    return (double)iters * 12 * 8 * 2 / t * 1e-9;
}
#else
static double fma_peak(void) { return 0.0; }
#endif

int main(int argc, char **argv) {
    coco_runtime_init();
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    int quick = getenv("COCONUT_BENCH_QUICK") != NULL;
    if (quick) reps = 3;
    coco_runtime_info info;
    coco_runtime_info_get(&info);
    printf("BLIS %s config %s (%s kernels), AVX-512 %s, AVX2+FMA %s\n", info.blis_version, info.blis_arch,
           info.blis_kernels, info.cpu_avx512 ? "yes" : "no", info.cpu_avx2_fma ? "yes" : "no");
    double peaks[5];
    for (int i = 0; i < 5; i++) peaks[i] = fma_peak();
    double peak = bench_median(peaks, 5);
    printf("measured fp32 FMA peak, one core: %.1f GFLOP/s (AVX2, 2 FMA pipes)\n\n", peak);

    /* Big shapes: M = 2048 rows (B8 T256), K = 768. Small-M shapes: the rows of a
     * B4 T64 training step (256) and of a 384-token prefill, where BLIS on its own
     * picks its unpacked "sup" path (see gemm.c). */
    const int64_t Ns[3] = {768, 3072, 50257};
    const char *names[3] = {"NN", "NT", "TN"};
    typedef struct { int64_t M, N, K; int v; } shape;
    shape sm[8] = {{256, 2304, 768, 0}, {256, 3072, 768, 0}, {256, 768, 3072, 0}, {256, 768, 3072, 1},
                   {384, 2304, 768, 0}, {384, 3072, 768, 0}, {384, 768, 3072, 0}, {384, 768, 768, 0}};
    int nN = quick ? 1 : 3, nsm = quick ? 2 : 8;
    int64_t maxN = Ns[nN - 1], Mbig = 2048, Kmax = 3072;
    float *A = malloc(sizeof(float) * (size_t)(Mbig * Kmax));
    float *B = malloc(sizeof(float) * (size_t)(Kmax * maxN));
    float *C = malloc(sizeof(float) * (size_t)(Mbig * maxN));
    for (int64_t i = 0; i < Mbig * Kmax; i++) A[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    for (int64_t i = 0; i < Kmax * maxN; i++) B[i] = (float)((i * 53) % 103) / 103.0f - 0.5f;
    memset(C, 0, sizeof(float) * (size_t)(Mbig * maxN));

    printf("%-5s %-7s %-5s %-3s %4s %10s %10s %9s %9s\n", "M", "N", "K", "op", "thr", "coco GF/s", "BLIS GF/s", "coco/BLIS",
           "coco/peak");
    for (int part = 0; part < 2; part++)
        for (int threads = 1; threads <= 2; threads++) {
            coco_set_threads(threads);
            int count = part == 0 ? nN * 3 : nsm;
            for (int c = 0; c < count; c++) {
                int64_t M, N, K;
                int v;
                if (part == 0) {
                    M = Mbig, K = 768, N = Ns[c / 3], v = c % 3;
                } else {
                    M = sm[c].M, N = sm[c].N, K = sm[c].K, v = sm[c].v;
                }
                int ta = v == 2, tb = v == 1;
                int64_t lda = ta ? M : K, ldb = tb ? K : N;
                double tc[16], tr[16];
                int r = reps > 16 ? 16 : reps;
                double flops = 2.0 * M * N * K;
                /* warm-up */
                coco_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
                for (int i = 0; i < r; i++) {
                    double t = coco_now();
                    coco_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
                    tc[i] = flops / (coco_now() - t) * 1e-9;
                    float one = 1.0f, zero = 0.0f;
                    t = coco_now();
                    bli_sgemm(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, M, N, K,
                              &one, A, lda, 1, B, ldb, 1, &zero, C, N, 1);
                    tr[i] = flops / (coco_now() - t) * 1e-9;
                }
                double gc = bench_median(tc, r), gr = bench_median(tr, r);
                printf("%-5lld %-7lld %-5lld %-3s %4d %10.1f %10.1f %9.2f %9.2f\n", (long long)M, (long long)N, (long long)K,
                       names[v], threads, gc, gr, gc / gr, peak > 0 ? gc / (peak * threads) : 0.0);
            }
            if (part == 1 && threads == 1) printf("\n");
        }
    free(A);
    free(B);
    free(C);
    return 0;
}

/* ops_internal.h — helpers shared by the op implementations (not installed). */
#ifndef COCONUT_OPS_INTERNAL_H
#define COCONUT_OPS_INTERNAL_H

#include <math.h>
#include <omp.h>
#include <string.h>

#include "coconut/gemm.h"
#include "coconut/ops.h"
#include "coconut/runtime.h"

/* glibc's libmvec has vector variants of these; declaring the SIMD clones lets
 * GCC vectorise our loops over them without -ffast-math (errno is not used:
 * the build passes -fno-math-errno). Accuracy: within 4 ulp (glibc manual). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
float expf(float) __attribute__((simd("notinbranch")));
float tanhf(float) __attribute__((simd("notinbranch")));
float logf(float) __attribute__((simd("notinbranch")));
#endif

/* GELU, tanh approximation (GPT-2's gelu_new), and its derivative. */
#define COCO_GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define COCO_GELU_C 0.044715f
static inline float coco_gelu_f(float v) {
    return 0.5f * v * (1.0f + tanhf(COCO_GELU_K * (v + COCO_GELU_C * v * v * v)));
}
static inline float coco_gelu_d(float v) {
    float t = tanhf(COCO_GELU_K * (v + COCO_GELU_C * v * v * v));
    return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * COCO_GELU_K * (1.0f + 3.0f * COCO_GELU_C * v * v);
}

/* log(sum(exp(x[0..V)))), stable; the exp loop vectorises through libmvec. */
static inline float coco_row_lse(const float *x, int64_t V) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < V; j++) s += expf(x[j] - mx);
    return mx + logf(s);
}

/* Parallelise a loop only when there is enough work to pay for waking threads. */
#define COCO_PAR_MIN 32768

#define PROF_BEGIN() double prof_t0_ = coco_profile_enabled ? coco_now() : 0.0
#define PROF_END(name, flops) \
    do { \
        if (coco_profile_enabled) coco_profile_add(name, 0, coco_now() - prof_t0_, (double)(flops)); \
    } while (0)

#define SHAPE(t, buf) coco_shape_str((t), (buf), sizeof(buf))

/* Output tensor with `like`'s leading dims and a new last dim. */
static inline coco_tensor *out_with_last(coco_tape *tp, const coco_tensor *like, int64_t last) {
    int64_t shape[COCO_MAX_DIMS];
    memcpy(shape, like->shape, sizeof shape);
    shape[like->ndim - 1] = last;
    return coco_tape_tensor(tp, COCO_F32, like->ndim, shape);
}

/* y[rows, out] = x[rows, in] W + b with W [in, out] (b may be NULL): the bias
 * is broadcast into y first and the GEMM accumulates onto it. */
static inline void affine_rows(const float *x, int64_t rows, int64_t in, const float *W, const float *b, int64_t out,
                               float *y) {
    float beta = 0.0f;
    if (b) {
#pragma omp parallel for schedule(static) if (rows * out >= COCO_PAR_MIN)
        for (int64_t r = 0; r < rows; r++) memcpy(y + r * out, b, (size_t)out * 4);
        beta = 1.0f;
    }
    coco_sgemm(0, 0, rows, out, in, 1.0f, x, in, W, out, beta, y, out);
}

/* dx (+)= g * gelu'(x) elementwise (fresh: overwrite). Two loops rather than a
 * select inside one: keeps tanhf vectorised. */
static inline void gelu_backward_acc(float *dx, const float *g, const float *x, int64_t n, int fresh) {
    if (fresh) {
#pragma omp parallel for simd schedule(static) if (n >= COCO_PAR_MIN)
        for (int64_t i = 0; i < n; i++) dx[i] = g[i] * coco_gelu_d(x[i]);
    } else {
#pragma omp parallel for simd schedule(static) if (n >= COCO_PAR_MIN)
        for (int64_t i = 0; i < n; i++) dx[i] += g[i] * coco_gelu_d(x[i]);
    }
}

/* Column-block partition of [0, n) for thread t of nt (contiguous blocks). */
static inline void col_block(int64_t n, int t, int nt, int64_t *lo, int64_t *hi) {
    int64_t q = n / nt, r = n % nt;
    *lo = t * q + (t < r ? t : r);
    *hi = *lo + q + (t < r ? 1 : 0);
}

/* out[j] (+)= sum over rows of x[r, j], parallel over column blocks, row order fixed. */
static inline void colsum_acc(const float *x, int64_t rows, int64_t cols, float *out, int fresh) {
    int nt = (rows * cols >= COCO_PAR_MIN) ? coco_threads() : 1;
    if (nt > cols) nt = (int)cols > 0 ? (int)cols : 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int64_t lo, hi;
        col_block(cols, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (fresh)
            for (int64_t j = lo; j < hi; j++) out[j] = 0.0f;
        for (int64_t r = 0; r < rows; r++) {
            const float *xr = x + r * cols;
            for (int64_t j = lo; j < hi; j++) out[j] += xr[j];
        }
    }
}

#endif

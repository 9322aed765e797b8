/* ops_internal.h — helpers shared by the op implementations (not installed). */
#ifndef COCONUT_OPS_INTERNAL_H
#define COCONUT_OPS_INTERNAL_H

#include <math.h>
#include <string.h>

#include "coconut/gemm.h"
#include "coconut/ops.h"
#include "coconut/parallel.h"
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

/* Runs fn over [0, n) items of about `cost` floats of work each on the pool
 * (coconut/parallel.h): inline as one range when the loop is below
 * COCO_PAR_MIN, else in ranges of about a quarter of a thread's share, each at
 * least COCO_PAR_MIN / 4 of work. */
static inline void par_for(int64_t n, int64_t cost, coco_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (cost < 1) cost = 1;
    int64_t grain = n;
    if (n * cost >= COCO_PAR_MIN) {
        int64_t min = COCO_PAR_MIN / 4 / cost;
        grain = coco_parallel_grain(n, min > 0 ? min : 1, 4);
    }
    coco_parallel_for(n, grain, fn, ctx);
}

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
/* Elementwise kernels over flat ranges: o = s a, o += s a, o = a + b, o = gelu(a),
 * o (+)= a gelu'(b). One loop per kind rather than a select inside one: keeps
 * tanhf vectorised. */
enum { EW_SCALE, EW_ACC_SCALE, EW_ADD, EW_GELU, EW_GELU_D, EW_ACC_GELU_D };
typedef struct ew_ctx {
    int kind;
    float *o;
    const float *a, *b;
    float s;
} ew_ctx;

static void ew_range(void *c_, int64_t lo, int64_t hi) {
    const ew_ctx *c = c_;
    float *o = c->o;
    const float *a = c->a, *b = c->b;
    float s = c->s;
    switch (c->kind) {
    case EW_SCALE:
        for (int64_t i = lo; i < hi; i++) o[i] = s * a[i];
        break;
    case EW_ACC_SCALE:
        for (int64_t i = lo; i < hi; i++) o[i] += s * a[i];
        break;
    case EW_ADD:
        for (int64_t i = lo; i < hi; i++) o[i] = a[i] + b[i];
        break;
    case EW_GELU_D:
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) o[i] = a[i] * coco_gelu_d(b[i]);
        break;
    case EW_ACC_GELU_D:
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) o[i] += a[i] * coco_gelu_d(b[i]);
        break;
    default:
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) o[i] = coco_gelu_f(a[i]);
    }
}

static inline void ew_run(int kind, float *o, const float *a, const float *b, float s, int64_t n) {
    ew_ctx c = {kind, o, a, b, s};
    par_for(n, kind >= EW_GELU ? 8 : 1, ew_range, &c);
}

/* y[r, :] = b + (res ? res[r, :] : 0) for rows r: the bias (and residual) a
 * GEMM then accumulates onto with beta = 1. */
typedef struct bcast_ctx {
    const float *b, *res;
    float *y;
    int64_t out;
} bcast_ctx;
static void bcast_rows(void *c_, int64_t lo, int64_t hi) {
    const bcast_ctx *c = c_;
    int64_t out = c->out;
    for (int64_t r = lo; r < hi; r++) {
        float *yr = c->y + r * out;
        if (!c->res)
            memcpy(yr, c->b, (size_t)out * 4);
        else if (!c->b)
            memcpy(yr, c->res + r * out, (size_t)out * 4);
        else
            for (int64_t j = 0; j < out; j++) yr[j] = c->res[r * out + j] + c->b[j];
    }
}
static inline void bias_rows(float *y, const float *b, const float *res, int64_t rows, int64_t out) {
    bcast_ctx c = {b, res, y, out};
    par_for(rows, out, bcast_rows, &c);
}
static inline void affine_rows(const float *x, int64_t rows, int64_t in, const float *W, const float *b, int64_t out,
                               float *y) {
    float beta = 0.0f;
    if (b) {
        bias_rows(y, b, NULL, rows, out);
        beta = 1.0f;
    }
    coco_sgemm(0, 0, rows, out, in, 1.0f, x, in, W, out, beta, y, out);
}

/* dx (+)= g * gelu'(x) elementwise (fresh: overwrite). */
static inline void gelu_backward_acc(float *dx, const float *g, const float *x, int64_t n, int fresh) {
    ew_run(fresh ? EW_GELU_D : EW_ACC_GELU_D, dx, g, x, 0.0f, n);
}

/* out[j] (+)= sum over rows of x[r, j], parallel over column blocks, row order
 * fixed: the result does not depend on the thread count. */
typedef struct colsum_ctx {
    const float *x;
    int64_t rows, cols;
    float *out;
    int fresh;
} colsum_ctx;
static void colsum_range(void *c_, int64_t lo, int64_t hi) {
    const colsum_ctx *c = c_;
    if (c->fresh)
        for (int64_t j = lo; j < hi; j++) c->out[j] = 0.0f;
    for (int64_t r = 0; r < c->rows; r++) {
        const float *xr = c->x + r * c->cols;
        for (int64_t j = lo; j < hi; j++) c->out[j] += xr[j];
    }
}
static inline void colsum_acc(const float *x, int64_t rows, int64_t cols, float *out, int fresh) {
    colsum_ctx c = {x, rows, cols, out, fresh};
    /* column blocks of at least 16 floats: one cache line per row and block */
    int64_t grain = rows * cols >= COCO_PAR_MIN ? coco_parallel_grain(cols, 16, 1) : cols;
    coco_parallel_for(cols, grain, colsum_range, &c);
}

#endif

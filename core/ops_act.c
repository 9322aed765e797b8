/* ops_act.c — layernorm, GELU (tanh), sigmoid, BCE, BCE-with-logits, dropout. */
#include "ops_internal.h"

#include <stdlib.h>

#include "coconut/rng.h"

/* ------------------------------------------------------------------ layernorm */

typedef struct ln_saved {
    float *mean, *rstd; /* [rows] */
} ln_saved;

#define LN_BLOCK 32 /* rows per partial sum of the weight/bias gradients */

typedef struct ln_bwd_ctx {
    const float *xp, *wp, *dy, *mean, *rstd;
    float *dx;
    int fx;
    float *part; /* [blocks, 2, d] or NULL */
    int64_t rows, d;
} ln_bwd_ctx;

/* Row blocks [lo, hi): dx rows, and each block's dw/db partial sums. */
static void ln_bwd_blocks(void *c_, int64_t lo, int64_t hi) {
    const ln_bwd_ctx *c = c_;
    int64_t d = c->d;
    const float *wp = c->wp;
    for (int64_t blk = lo; blk < hi; blk++) {
        float *pw = c->part ? c->part + (size_t)blk * 2 * d : NULL, *pb = pw ? pw + d : NULL;
        int64_t r1 = (blk + 1) * LN_BLOCK < c->rows ? (blk + 1) * LN_BLOCK : c->rows;
        for (int64_t r = blk * LN_BLOCK; r < r1; r++) {
            const float *xr = c->xp + r * d, *g = c->dy + r * d;
            float mu = c->mean[r], rs = c->rstd[r];
            if (pw) {
                for (int64_t j = 0; j < d; j++) {
                    float xh = (xr[j] - mu) * rs;
                    pw[j] += g[j] * xh;
                    pb[j] += g[j];
                }
            }
            if (c->dx) {
                float a = 0.0f, cc = 0.0f;
                for (int64_t j = 0; j < d; j++) {
                    float gw = g[j] * wp[j];
                    a += gw;
                    cc += gw * (xr[j] - mu) * rs;
                }
                a /= (float)d;
                cc /= (float)d;
                float *dr = c->dx + r * d;
                for (int64_t j = 0; j < d; j++) {
                    float xh = (xr[j] - mu) * rs;
                    float v = rs * (g[j] * wp[j] - a - xh * cc);
                    dr[j] = c->fx ? v : dr[j] + v;
                }
            }
        }
    }
}

/* Layernorm backward over rows given the upstream gradient dy [rows, d]:
 * accumulates into x's, w's and b's grads (shared by layernorm and ln_linear). */
static void ln_backward(coco_tape *tp, coco_tensor *x, coco_tensor *w, coco_tensor *b, const float *mean, const float *rstd,
                        const float *dy) {
    int64_t rows = coco_tensor_rows(x), d = coco_tensor_cols(x);
    const float *xp = coco_f32(x), *wp = coco_f32(w);
    int fx, fw, fb;
    float *dx = coco_grad_acc(tp, x, &fx);
    float *dw = coco_grad_acc(tp, w, &fw);
    float *db = b ? coco_grad_acc(tp, b, &fb) : NULL;
    /* Partial sums of dw/db per block of LN_BLOCK rows, added in block order:
     * the result does not depend on the thread count or on who ran a block. */
    int64_t nblk = (rows + LN_BLOCK - 1) / LN_BLOCK;
    float *part = NULL;
    if (dw || db) {
        part = coco_tape_temp(tp, (size_t)nblk * 2 * (size_t)d * 4);
        memset(part, 0, (size_t)nblk * 2 * (size_t)d * 4);
    }
    ln_bwd_ctx c = {xp, wp, dy, mean, rstd, dx, fx, part, rows, d};
    par_for(nblk, LN_BLOCK * d * 3, ln_bwd_blocks, &c);
    if (part) {
        for (int64_t t = 0; t < nblk; t++) {
            const float *pw = part + (size_t)t * 2 * d, *pb = pw + d;
            if (dw)
                for (int64_t j = 0; j < d; j++) dw[j] = (fw && t == 0) ? pw[j] : dw[j] + pw[j];
            if (db)
                for (int64_t j = 0; j < d; j++) db[j] = (fb && t == 0) ? pb[j] : db[j] + pb[j];
        }
        coco_tape_temp_free(tp, part);
    }
}

static void layernorm_bwd(coco_tape *tp, coco_node *n) {
    const ln_saved *sv = n->saved;
    ln_backward(tp, n->in[0], n->in[1], n->in[2], sv->mean, sv->rstd, coco_f32(n->out->grad));
}

/* Statistics in double, output in float; apply() recomputes the same output
 * bit for bit from the saved statistics (same float expression). */
static inline void ln_apply_row(const float *xr, const float *wp, const float *bp, float mu, float rs, float *yr, int64_t d) {
    for (int64_t j = 0; j < d; j++) yr[j] = (xr[j] - mu) * rs * wp[j] + (bp ? bp[j] : 0.0f);
}

typedef struct ln_fwd_ctx {
    const float *xp, *wp, *bp;
    int64_t d;
    float eps;
    float *mean, *rstd, *yp;
} ln_fwd_ctx;

static void ln_fwd_range(void *c_, int64_t lo, int64_t hi) {
    const ln_fwd_ctx *c = c_;
    int64_t d = c->d;
    for (int64_t r = lo; r < hi; r++) {
        const float *xr = c->xp + r * d;
        double s = 0.0;
        for (int64_t j = 0; j < d; j++) s += xr[j];
        float mu = (float)(s / (double)d);
        double v = 0.0;
        for (int64_t j = 0; j < d; j++) {
            double t = (double)xr[j] - mu;
            v += t * t;
        }
        float rs = (float)(1.0 / sqrt(v / (double)d + (double)c->eps));
        c->mean[r] = mu;
        c->rstd[r] = rs;
        ln_apply_row(xr, c->wp, c->bp, mu, rs, c->yp + r * d, d);
    }
}

static void ln_forward_rows(const float *xp, const float *wp, const float *bp, int64_t rows, int64_t d, float eps, float *mean,
                            float *rstd, float *yp) {
    ln_fwd_ctx c = {xp, wp, bp, d, eps, mean, rstd, yp};
    par_for(rows, 3 * d, ln_fwd_range, &c);
}

/* Recomputes the normalised rows h = LN(x) from saved statistics. */
typedef struct ln_apply_ctx {
    const float *xp, *wp, *bp, *mean, *rstd;
    int64_t d;
    float *h;
} ln_apply_ctx;

static void ln_apply_range(void *c_, int64_t lo, int64_t hi) {
    const ln_apply_ctx *c = c_;
    for (int64_t r = lo; r < hi; r++) ln_apply_row(c->xp + r * c->d, c->wp, c->bp, c->mean[r], c->rstd[r], c->h + r * c->d, c->d);
}

static void ln_check(coco_tensor *x, coco_tensor *w, coco_tensor *b, float eps, const char *op) {
    char s1[96], s2[96];
    coco_check_dtype(x, COCO_F32, op, "x");
    coco_check_dtype(w, COCO_F32, op, "weight");
    coco_check_ndim(x, 1, COCO_MAX_DIMS, op, "x");
    int64_t d = coco_tensor_cols(x);
    if (w->ndim != 1 || w->numel != d) coco_fail("%s: weight %s must be [%lld] for x %s", op, SHAPE(w, s1), (long long)d, SHAPE(x, s2));
    if (b) {
        coco_check_dtype(b, COCO_F32, op, "bias");
        if (b->ndim != 1 || b->numel != d) coco_fail("%s: bias %s must be [%lld] for x %s", op, SHAPE(b, s1), (long long)d, SHAPE(x, s2));
    }
    if (!(eps > 0.0f)) coco_fail("%s: eps must be > 0, got %g", op, (double)eps);
}

coco_tensor *coco_layernorm(coco_tape *tp, coco_tensor *x, coco_tensor *w, coco_tensor *b, float eps) {
    ln_check(x, w, b, eps, "layernorm");
    PROF_BEGIN();
    int64_t rows = coco_tensor_rows(x), d = coco_tensor_cols(x);
    coco_tensor *y = coco_tape_like(tp, x);
    float *mean = coco_tape_alloc(tp, (size_t)rows * 4), *rstd = coco_tape_alloc(tp, (size_t)rows * 4);
    ln_forward_rows(coco_f32(x), coco_f32(w), b ? coco_f32(b) : NULL, rows, d, eps, mean, rstd, coco_f32(y));
    coco_tensor *in[3] = {x, w, b};
    if (coco_tape_needs_grad(tp, 3, in)) {
        coco_node *n = coco_tape_record(tp, "layernorm", layernorm_bwd, y, 3, in);
        ln_saved *sv = coco_tape_alloc(tp, sizeof *sv);
        sv->mean = mean;
        sv->rstd = rstd;
        n->saved = sv;
    }
    PROF_END("layernorm", 0);
    return y;
}

/* ------------------------------------------------------------------ layernorm -> linear */

/* y = LN(x) W + b with the normalised rows h only in a temporary: backward
 * recomputes h from x and the saved statistics (bitwise the forward's h), so
 * the step keeps x (needed anyway as the residual stream) instead of x and h. */
static void ln_linear_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *x = n->in[0], *lw = n->in[1], *lb = n->in[2], *W = n->in[3], *b = n->in[4];
    const ln_saved *sv = n->saved;
    int64_t rows = coco_tensor_rows(x), d = coco_tensor_cols(x), out = W->shape[1];
    const float *dy = coco_f32(n->out->grad), *xp = coco_f32(x), *lwp = coco_f32(lw), *lbp = lb ? coco_f32(lb) : NULL;
    float *h = coco_tape_temp(tp, sizeof(float) * (size_t)(rows * d));
    int fresh;
    float *dW = coco_grad_acc(tp, W, &fresh);
    if (dW) {
        ln_apply_ctx ac = {xp, lwp, lbp, sv->mean, sv->rstd, d, h};
        par_for(rows, d, ln_apply_range, &ac);
        /* dW[d, out] (+)= h^T dy */
        coco_sgemm(1, 0, d, out, rows, 1.0f, h, d, dy, out, fresh ? 0.0f : 1.0f, dW, out);
    }
    if (b) {
        float *db = coco_grad_acc(tp, b, &fresh);
        if (db) colsum_acc(dy, rows, out, db, fresh);
    }
    if (x->requires_grad || lw->requires_grad || (lb && lb->requires_grad)) {
        /* dh = dy W^T, into the same temporary (h is no longer needed) */
        coco_sgemm(0, 1, rows, d, out, 1.0f, dy, out, coco_f32(W), out, 0.0f, h, d);
        ln_backward(tp, x, lw, lb, sv->mean, sv->rstd, h);
    }
    coco_tape_temp_free(tp, h);
}

coco_tensor *coco_ln_linear(coco_tape *tp, coco_tensor *x, coco_tensor *lw, coco_tensor *lb, float eps, coco_tensor *W,
                            coco_tensor *b) {
    char s1[96], s2[96];
    ln_check(x, lw, lb, eps, "ln_linear");
    coco_check_dtype(W, COCO_F32, "ln_linear", "weight");
    coco_check_ndim(W, 2, 2, "ln_linear", "weight");
    int64_t rows = coco_tensor_rows(x), d = coco_tensor_cols(x);
    if (W->shape[0] != d)
        coco_fail("ln_linear: x %s has last dim %lld but weight %s expects %lld inputs", SHAPE(x, s1), (long long)d,
                  SHAPE(W, s2), (long long)W->shape[0]);
    int64_t out = W->shape[1];
    if (b) {
        coco_check_dtype(b, COCO_F32, "ln_linear", "bias");
        if (b->ndim != 1 || b->numel != out)
            coco_fail("ln_linear: bias %s must be [%lld] for weight %s", SHAPE(b, s1), (long long)out, SHAPE(W, s2));
    }
    PROF_BEGIN();
    coco_tensor *in[5] = {x, lw, lb, W, b};
    int rec = coco_tape_needs_grad(tp, 5, in);
    float *mean = coco_tape_alloc(tp, (size_t)rows * 4), *rstd = coco_tape_alloc(tp, (size_t)rows * 4);
    float *h = coco_tape_temp(tp, sizeof(float) * (size_t)(rows * d));
    ln_forward_rows(coco_f32(x), coco_f32(lw), lb ? coco_f32(lb) : NULL, rows, d, eps, mean, rstd, h);
    coco_tensor *y = out_with_last(tp, x, out);
    affine_rows(h, rows, d, coco_f32(W), b ? coco_f32(b) : NULL, out, coco_f32(y));
    coco_tape_temp_free(tp, h);
    if (rec) {
        coco_node *n = coco_tape_record(tp, "ln_linear", ln_linear_bwd, y, 5, in);
        ln_saved *sv = coco_tape_alloc(tp, sizeof *sv);
        sv->mean = mean;
        sv->rstd = rstd;
        n->saved = sv;
        n->flops = 4.0 * (double)rows * (double)d * (double)out;
    }
    PROF_END("ln_linear", 2.0 * (double)rows * (double)d * (double)out);
    return y;
}

/* ------------------------------------------------------------------ GELU (tanh) */

static void gelu_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *x = n->in[0];
    int fresh;
    float *dx = coco_grad_acc(tp, x, &fresh);
    if (!dx) return;
    gelu_backward_acc(dx, coco_f32(n->out->grad), coco_f32(x), x->numel, fresh);
}

coco_tensor *coco_gelu(coco_tape *tp, coco_tensor *x) {
    coco_check_dtype(x, COCO_F32, "gelu", "x");
    PROF_BEGIN();
    coco_tensor *y = coco_tape_like(tp, x);
    const float *xp = coco_f32(x);
    float *yp = coco_f32(y);
    ew_run(EW_GELU, yp, xp, NULL, 0.0f, x->numel);
    coco_tensor *in[1] = {x};
    if (coco_tape_needs_grad(tp, 1, in)) coco_tape_record(tp, "gelu", gelu_bwd, y, 1, in);
    PROF_END("gelu", 0);
    return y;
}

/* ------------------------------------------------------------------ sigmoid */

static void sigmoid_bwd(coco_tape *tp, coco_node *n) {
    int fresh;
    float *dx = coco_grad_acc(tp, n->in[0], &fresh);
    if (!dx) return;
    const float *y = coco_f32(n->out), *g = coco_f32(n->out->grad);
    for (int64_t i = 0; i < n->out->numel; i++) {
        float r = g[i] * y[i] * (1.0f - y[i]);
        dx[i] = fresh ? r : dx[i] + r;
    }
}

static inline float sigmoidf(float x) {
    /* Stable on both tails. */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

coco_tensor *coco_sigmoid(coco_tape *tp, coco_tensor *x) {
    coco_check_dtype(x, COCO_F32, "sigmoid", "x");
    coco_tensor *y = coco_tape_like(tp, x);
    for (int64_t i = 0; i < x->numel; i++) coco_f32(y)[i] = sigmoidf(coco_f32(x)[i]);
    coco_tensor *in[1] = {x};
    if (coco_tape_needs_grad(tp, 1, in)) coco_tape_record(tp, "sigmoid", sigmoid_bwd, y, 1, in);
    return y;
}

/* ------------------------------------------------------------------ BCE */

static void check_targets(const coco_tensor *x, const coco_tensor *y, const char *op) {
    char a[96], b[96];
    coco_check_dtype(x, COCO_F32, op, "input");
    coco_check_dtype(y, COCO_F32, op, "target");
    if (!coco_tensor_same_shape(x, y)) coco_fail("%s: target %s does not match input %s", op, SHAPE(y, a), SHAPE(x, b));
    if (x->numel == 0) coco_fail("%s: input has no elements", op);
}

static void bce_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *p = n->in[0];
    const coco_tensor *y = n->saved;
    int fresh;
    float *dp = coco_grad_acc(tp, p, &fresh);
    if (!dp) return;
    float g = coco_f32(n->out->grad)[0] / (float)p->numel;
    for (int64_t i = 0; i < p->numel; i++) {
        float pi = coco_f32(p)[i], yi = coco_f32(y)[i];
        float den = (1.0f - pi) * pi;
        if (den < 1e-12f) den = 1e-12f; /* torch's BCE backward epsilon */
        float r = g * (pi - yi) / den;
        dp[i] = fresh ? r : dp[i] + r;
    }
}

coco_tensor *coco_bce(coco_tape *tp, coco_tensor *p, const coco_tensor *y) {
    check_targets(p, y, "bce");
    double s = 0;
    for (int64_t i = 0; i < p->numel; i++) {
        float pi = coco_f32(p)[i], yi = coco_f32(y)[i];
        if (!(pi >= 0.0f && pi <= 1.0f)) coco_fail("bce: input[%lld] = %g is not a probability in [0, 1]", (long long)i, (double)pi);
        float lp = logf(pi), lq = logf(1.0f - pi);
        if (lp < -100.0f) lp = -100.0f;
        if (lq < -100.0f) lq = -100.0f;
        s -= (double)yi * lp + (1.0 - (double)yi) * lq;
    }
    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, 0, NULL);
    coco_f32(out)[0] = (float)(s / (double)p->numel);
    coco_tensor *in[1] = {p};
    if (coco_tape_needs_grad(tp, 1, in)) {
        coco_node *n = coco_tape_record(tp, "bce", bce_bwd, out, 1, in);
        coco_tensor *keep = coco_tape_like(tp, y);
        memcpy(keep->data, y->data, (size_t)y->numel * 4);
        n->saved = keep;
    }
    return out;
}

static void bce_logits_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *x = n->in[0];
    const coco_tensor *y = n->saved;
    int fresh;
    float *dx = coco_grad_acc(tp, x, &fresh);
    if (!dx) return;
    float g = coco_f32(n->out->grad)[0] / (float)x->numel;
    for (int64_t i = 0; i < x->numel; i++) {
        float r = g * (sigmoidf(coco_f32(x)[i]) - coco_f32(y)[i]);
        dx[i] = fresh ? r : dx[i] + r;
    }
}

coco_tensor *coco_bce_with_logits(coco_tape *tp, coco_tensor *logits, const coco_tensor *y) {
    check_targets(logits, y, "bce_with_logits");
    double s = 0;
    for (int64_t i = 0; i < logits->numel; i++) {
        double x = coco_f32(logits)[i], t = coco_f32(y)[i];
        /* max(x,0) - x t + log(1 + exp(-|x|)) */
        s += (x > 0 ? x : 0) - x * t + log1p(exp(-fabs(x)));
    }
    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, 0, NULL);
    coco_f32(out)[0] = (float)(s / (double)logits->numel);
    coco_tensor *in[1] = {logits};
    if (coco_tape_needs_grad(tp, 1, in)) {
        coco_node *n = coco_tape_record(tp, "bce_with_logits", bce_logits_bwd, out, 1, in);
        coco_tensor *keep = coco_tape_like(tp, y);
        memcpy(keep->data, y->data, (size_t)y->numel * 4);
        n->saved = keep;
    }
    return out;
}

/* ------------------------------------------------------------------ dropout */

/* y = x * scale where the hashed uniform is >= p, else 0; with acc, y += that
 * (backward applies the same mask to the gradient). */
typedef struct dropout_ctx {
    uint64_t seed, stream;
    float p, scale;
    const float *x;
    float *y;
    int fresh;
} dropout_ctx;

static void dropout_range(void *c_, int64_t lo, int64_t hi) {
    const dropout_ctx *c = c_;
    for (int64_t i = lo; i < hi; i++) {
        float r = coco_hash_uniform(c->seed, c->stream, (uint64_t)i) < c->p ? 0.0f : c->x[i] * c->scale;
        c->y[i] = c->fresh ? r : c->y[i] + r;
    }
}

static void dropout_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *x = n->in[0];
    int fresh;
    float *dx = coco_grad_acc(tp, x, &fresh);
    if (!dx) return;
    uint64_t seed = (uint64_t)n->i[0], stream = (uint64_t)n->i[1];
    float p = n->f[0], scale = n->f[1];
    dropout_ctx c = {seed, stream, p, scale, coco_f32(n->out->grad), dx, fresh};
    par_for(x->numel, 4, dropout_range, &c);
}

coco_tensor *coco_dropout(coco_tape *tp, coco_tensor *x, float p) {
    coco_check_dtype(x, COCO_F32, "dropout", "x");
    if (!(p >= 0.0f && p < 1.0f)) coco_fail("dropout: p = %g must be in [0, 1)", (double)p);
    if (p == 0.0f) return x;
    PROF_BEGIN();
    uint64_t seed = coco_tape_seed(tp), stream = coco_tape_next_stream(tp);
    float scale = 1.0f / (1.0f - p);
    coco_tensor *y = coco_tape_like(tp, x);
    const float *xp = coco_f32(x);
    float *yp = coco_f32(y);
    dropout_ctx c = {seed, stream, p, scale, xp, yp, 1};
    par_for(x->numel, 4, dropout_range, &c);
    coco_tensor *in[1] = {x};
    if (coco_tape_needs_grad(tp, 1, in)) {
        coco_node *n = coco_tape_record(tp, "dropout", dropout_bwd, y, 1, in);
        n->i[0] = (int64_t)seed;
        n->i[1] = (int64_t)stream;
        n->f[0] = p;
        n->f[1] = scale;
    }
    PROF_END("dropout", 0);
    return y;
}

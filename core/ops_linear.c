/* ops_linear.c — x W + b with W [in,out] (Conv1D) and x W^T + b with W [out,in]. */
#include "ops_internal.h"

/* Shared body. wt = 0: W is [in, out]; wt = 1: W is [out, in]. */
static void linear_check(coco_tensor *x, coco_tensor *W, coco_tensor *b, int wt, const char *op, int64_t *in_dim,
                         int64_t *out_dim) {
    char s1[96], s2[96];
    coco_check_dtype(x, COCO_F32, op, "x");
    coco_check_dtype(W, COCO_F32, op, "weight");
    coco_check_ndim(x, 1, COCO_MAX_DIMS, op, "x");
    coco_check_ndim(W, 2, 2, op, "weight");
    int64_t in = wt ? W->shape[1] : W->shape[0], out = wt ? W->shape[0] : W->shape[1];
    if (coco_tensor_cols(x) != in)
        coco_fail("%s: x %s has last dim %lld but weight %s expects %lld inputs", op, SHAPE(x, s1),
                  (long long)coco_tensor_cols(x), SHAPE(W, s2), (long long)in);
    if (b) {
        coco_check_dtype(b, COCO_F32, op, "bias");
        if (b->numel != out || b->ndim != 1)
            coco_fail("%s: bias %s must be [%lld] for weight %s", op, SHAPE(b, s1), (long long)out, SHAPE(W, s2));
    }
    *in_dim = in;
    *out_dim = out;
}

static void linear_bwd_common(coco_tape *tp, coco_node *n, int wt) {
    coco_tensor *x = n->in[0], *W = n->in[1], *b = n->in[2];
    int64_t rows = coco_tensor_rows(x), in = n->i[0], out = n->i[1];
    const float *dy = coco_f32(n->out->grad);
    int fresh;
    float *dx = coco_grad_acc(tp, x, &fresh);
    if (dx) {
        if (wt) /* dx[rows,in] = dy[rows,out] W[out,in] */
            coco_sgemm(0, 0, rows, in, out, 1.0f, dy, out, coco_f32(W), in, fresh ? 0.0f : 1.0f, dx, in);
        else /* dx = dy W^T, W stored [in,out] */
            coco_sgemm(0, 1, rows, in, out, 1.0f, dy, out, coco_f32(W), out, fresh ? 0.0f : 1.0f, dx, in);
    }
    float *dW = coco_grad_acc(tp, W, &fresh);
    if (dW) {
        if (wt) /* dW[out,in] += dy^T x */
            coco_sgemm(1, 0, out, in, rows, 1.0f, dy, out, coco_f32(x), in, fresh ? 0.0f : 1.0f, dW, in);
        else /* dW[in,out] += x^T dy */
            coco_sgemm(1, 0, in, out, rows, 1.0f, coco_f32(x), in, dy, out, fresh ? 0.0f : 1.0f, dW, out);
    }
    if (b) {
        float *db = coco_grad_acc(tp, b, &fresh);
        if (db) colsum_acc(dy, rows, out, db, fresh);
    }
}

static void linear_bwd(coco_tape *tp, coco_node *n) { linear_bwd_common(tp, n, 0); }
static void linear_wt_bwd(coco_tape *tp, coco_node *n) { linear_bwd_common(tp, n, 1); }

static coco_tensor *linear_fwd(coco_tape *tp, coco_tensor *x, coco_tensor *W, coco_tensor *b, int wt) {
    const char *op = wt ? "linear_wt" : "linear";
    int64_t in, outd;
    linear_check(x, W, b, wt, op, &in, &outd);
    PROF_BEGIN();
    int64_t rows = coco_tensor_rows(x);
    coco_tensor *y = out_with_last(tp, x, outd);
    float *yp = coco_f32(y);
    if (!wt) {
        affine_rows(coco_f32(x), rows, in, coco_f32(W), b ? coco_f32(b) : NULL, outd, yp);
    } else {
        float beta = 0.0f;
        if (b) {
            bias_rows(yp, coco_f32(b), NULL, rows, outd);
            beta = 1.0f;
        }
        coco_sgemm(0, 1, rows, outd, in, 1.0f, coco_f32(x), in, coco_f32(W), in, beta, yp, outd);
    }
    coco_tensor *inputs[3] = {x, W, b};
    if (coco_tape_needs_grad(tp, 3, inputs)) {
        coco_node *n = coco_tape_record(tp, op, wt ? linear_wt_bwd : linear_bwd, y, 3, inputs);
        n->i[0] = in;
        n->i[1] = outd;
        n->flops = 4.0 * (double)rows * (double)in * (double)outd;
    }
    PROF_END(op, 2.0 * (double)rows * (double)in * (double)outd);
    return y;
}

coco_tensor *coco_linear(coco_tape *tp, coco_tensor *x, coco_tensor *W, coco_tensor *b) { return linear_fwd(tp, x, W, b, 0); }
coco_tensor *coco_linear_wt(coco_tape *tp, coco_tensor *x, coco_tensor *W, coco_tensor *b) {
    return linear_fwd(tp, x, W, b, 1);
}

/* ------------------------------------------------------------------ fused GELU -> linear */

/* y = gelu(x) W + b keeping only x: the GELU output (4d wide in GPT-2's MLP, the
 * largest activation of a block) is recomputed in backward into a pooled
 * temporary instead of being kept for the whole step. */
static void gelu_all(const float *x, float *y, int64_t n) { ew_run(EW_GELU, y, x, NULL, 0.0f, n); }

static void gelu_linear_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *x = n->in[0], *W = n->in[1], *b = n->in[2];
    int64_t rows = coco_tensor_rows(x), in = n->i[0], out = n->i[1];
    const float *dy = coco_f32(n->out->grad), *xp = coco_f32(x);
    int fresh;
    float *dW = coco_grad_acc(tp, W, &fresh);
    float *g = coco_tape_temp(tp, sizeof(float) * (size_t)(rows * in)); /* gelu(x), then d gelu(x) */
    if (dW) {
        gelu_all(xp, g, rows * in);
        coco_sgemm(1, 0, in, out, rows, 1.0f, g, in, dy, out, fresh ? 0.0f : 1.0f, dW, out);
    }
    if (b) {
        float *db = coco_grad_acc(tp, b, &fresh);
        if (db) colsum_acc(dy, rows, out, db, fresh);
    }
    float *dx = coco_grad_acc(tp, x, &fresh);
    if (dx) {
        coco_sgemm(0, 1, rows, in, out, 1.0f, dy, out, coco_f32(W), out, 0.0f, g, in);
        gelu_backward_acc(dx, g, xp, rows * in, fresh);
    }
    coco_tape_temp_free(tp, g);
}

coco_tensor *coco_gelu_linear(coco_tape *tp, coco_tensor *x, coco_tensor *W, coco_tensor *b) {
    int64_t in, outd;
    linear_check(x, W, b, 0, "gelu_linear", &in, &outd);
    PROF_BEGIN();
    int64_t rows = coco_tensor_rows(x);
    coco_tensor *y = out_with_last(tp, x, outd);
    float *g = coco_tape_temp(tp, sizeof(float) * (size_t)(rows * in));
    gelu_all(coco_f32(x), g, rows * in);
    affine_rows(g, rows, in, coco_f32(W), b ? coco_f32(b) : NULL, outd, coco_f32(y));
    coco_tape_temp_free(tp, g);
    coco_tensor *inputs[3] = {x, W, b};
    if (coco_tape_needs_grad(tp, 3, inputs)) {
        coco_node *n = coco_tape_record(tp, "gelu_linear", gelu_linear_bwd, y, 3, inputs);
        n->i[0] = in;
        n->i[1] = outd;
        n->flops = 4.0 * (double)rows * (double)in * (double)outd;
    }
    PROF_END("gelu_linear", 2.0 * (double)rows * (double)in * (double)outd);
    return y;
}

/* ------------------------------------------------------------------ linear + residual */

/* y = res + x W + b in one pass: the GEMM accumulates onto a copy of the residual
 * stream (beta = 1), so the projection output never exists on its own. */
static void linear_add_bwd(coco_tape *tp, coco_node *n) {
    linear_bwd_common(tp, n, 0);
    coco_tensor *res = n->in[3];
    int fresh;
    float *dr = coco_grad_acc(tp, res, &fresh);
    if (!dr) return;
    const float *g = coco_f32(n->out->grad);
    int64_t N = res->numel;
    if (fresh)
        memcpy(dr, g, (size_t)N * 4);
    else
        ew_run(EW_ACC_SCALE, dr, g, NULL, 1.0f, N);
}

coco_tensor *coco_linear_add(coco_tape *tp, coco_tensor *x, coco_tensor *W, coco_tensor *b, coco_tensor *res) {
    char s1[96], s2[96];
    int64_t in, outd;
    linear_check(x, W, b, 0, "linear_add", &in, &outd);
    coco_check_dtype(res, COCO_F32, "linear_add", "residual");
    int64_t rows = coco_tensor_rows(x);
    if (coco_tensor_cols(res) != outd || coco_tensor_rows(res) != rows)
        coco_fail("linear_add: residual %s does not match the output [%lld rows, %lld] of x %s", SHAPE(res, s1),
                  (long long)rows, (long long)outd, SHAPE(x, s2));
    PROF_BEGIN();
    coco_tensor *y = coco_tape_like(tp, res);
    float *yp = coco_f32(y);
    bias_rows(yp, b ? coco_f32(b) : NULL, coco_f32(res), rows, outd);
    coco_sgemm(0, 0, rows, outd, in, 1.0f, coco_f32(x), in, coco_f32(W), outd, 1.0f, yp, outd);
    coco_tensor *inputs[4] = {x, W, b, res};
    if (coco_tape_needs_grad(tp, 4, inputs)) {
        coco_node *n = coco_tape_record(tp, "linear_add", linear_add_bwd, y, 4, inputs);
        n->i[0] = in;
        n->i[1] = outd;
        n->flops = 4.0 * (double)rows * (double)in * (double)outd;
    }
    PROF_END("linear_add", 2.0 * (double)rows * (double)in * (double)outd);
    return y;
}

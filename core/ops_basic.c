/* ops_basic.c — embedding, add, scale, sum/mean, row gather/scatter, concat. */
#include "ops_internal.h"

#include <stdlib.h>

/* ------------------------------------------------------------------ embedding */

typedef struct emb_ctx {
    const int32_t *id;
    int64_t rows, d;
    const float *src; /* backward: dout [rows, d]; forward: W [V, d] */
    float *dst;       /* backward: dW [V, d]; forward: out [rows, d] */
} emb_ctx;

static void emb_bwd_cols(void *c_, int64_t lo, int64_t hi) {
    const emb_ctx *c = c_;
    for (int64_t r = 0; r < c->rows; r++) {
        float *dst = c->dst + (int64_t)c->id[r] * c->d;
        const float *src = c->src + r * c->d;
        for (int64_t j = lo; j < hi; j++) dst[j] += src[j];
    }
}

static void emb_fwd_rows(void *c_, int64_t lo, int64_t hi) {
    const emb_ctx *c = c_;
    for (int64_t r = lo; r < hi; r++) memcpy(c->dst + r * c->d, c->src + (int64_t)c->id[r] * c->d, (size_t)c->d * 4);
}

/* dW[ids[r], :] += dout[r, :]. Ranges own column blocks so rows that share an
 * id never race and the summation order is the row order. */
static void embedding_bwd(coco_tape *tp, coco_node *n) {
    const coco_tensor *ids = (const coco_tensor *)n->saved;
    coco_tensor *W = n->in[0];
    float *dW = coco_grad_acc(tp, W, NULL);
    if (!dW) return;
    emb_ctx c = {coco_i32(ids), ids->numel, W->shape[1], coco_f32(n->out->grad), dW};
    int64_t grain = c.rows * c.d >= COCO_PAR_MIN ? coco_parallel_grain(c.d, 16, 1) : c.d;
    coco_parallel_for(c.d, grain, emb_bwd_cols, &c);
}

coco_tensor *coco_embedding(coco_tape *tp, const coco_tensor *ids, coco_tensor *W) {
    char a[96], b[96];
    coco_check_dtype(ids, COCO_I32, "embedding", "ids");
    coco_check_dtype(W, COCO_F32, "embedding", "weight");
    coco_check_ndim(W, 2, 2, "embedding", "weight");
    if (ids->ndim >= COCO_MAX_DIMS) coco_fail("embedding: ids %s has too many dims", SHAPE(ids, a));
    PROF_BEGIN();
    int64_t V = W->shape[0], d = W->shape[1];
    const int32_t *id = coco_i32(ids);
    for (int64_t r = 0; r < ids->numel; r++)
        if (id[r] < 0 || id[r] >= V)
            coco_fail("embedding: id %d at flat position %lld is outside the vocabulary [0, %lld) of weight %s", id[r],
                      (long long)r, (long long)V, SHAPE(W, b));
    int64_t shape[COCO_MAX_DIMS];
    for (int i = 0; i < ids->ndim; i++) shape[i] = ids->shape[i];
    shape[ids->ndim] = d;
    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, ids->ndim + 1, shape);
    emb_ctx c = {id, ids->numel, d, coco_f32(W), coco_f32(out)};
    par_for(c.rows, d, emb_fwd_rows, &c);
    coco_tensor *in[1] = {W};
    if (coco_tape_needs_grad(tp, 1, in)) {
        coco_node *n = coco_tape_record(tp, "embedding", embedding_bwd, out, 1, in);
        /* Keep a copy of the ids: the caller's buffer may change before backward. */
        coco_tensor *keep = coco_tape_tensor(tp, COCO_I32, ids->ndim, ids->shape);
        memcpy(keep->data, ids->data, (size_t)ids->numel * 4);
        n->saved = keep;
    }
    PROF_END("embedding", 0);
    return out;
}

/* ------------------------------------------------------------------ add / scale */

static void acc_into(coco_tape *tp, coco_tensor *t, const float *g, float s) {
    int fresh;
    float *d = coco_grad_acc(tp, t, &fresh);
    if (!d) return;
    ew_run(fresh ? EW_SCALE : EW_ACC_SCALE, d, g, NULL, s, t->numel);
}

static void add_bwd(coco_tape *tp, coco_node *n) {
    const float *g = coco_f32(n->out->grad);
    acc_into(tp, n->in[0], g, 1.0f);
    acc_into(tp, n->in[1], g, 1.0f);
}

coco_tensor *coco_add(coco_tape *tp, coco_tensor *a, coco_tensor *b) {
    char x[96], y[96];
    coco_check_dtype(a, COCO_F32, "add", "a");
    coco_check_dtype(b, COCO_F32, "add", "b");
    if (!coco_tensor_same_shape(a, b)) coco_fail("add: shapes differ: a %s, b %s", SHAPE(a, x), SHAPE(b, y));
    PROF_BEGIN();
    coco_tensor *out = coco_tape_like(tp, a);
    float *o = coco_f32(out);
    ew_run(EW_ADD, o, coco_f32(a), coco_f32(b), 0.0f, a->numel);
    coco_tensor *in[2] = {a, b};
    if (coco_tape_needs_grad(tp, 2, in)) coco_tape_record(tp, "add", add_bwd, out, 2, in);
    PROF_END("add", 0);
    return out;
}

static void scale_bwd(coco_tape *tp, coco_node *n) { acc_into(tp, n->in[0], coco_f32(n->out->grad), n->f[0]); }

coco_tensor *coco_scale(coco_tape *tp, coco_tensor *a, float s) {
    coco_check_dtype(a, COCO_F32, "scale", "a");
    coco_tensor *out = coco_tape_like(tp, a);
    float *o = coco_f32(out);
    const float *p = coco_f32(a);
    for (int64_t i = 0; i < a->numel; i++) o[i] = p[i] * s;
    coco_tensor *in[1] = {a};
    if (coco_tape_needs_grad(tp, 1, in)) coco_tape_record(tp, "scale", scale_bwd, out, 1, in)->f[0] = s;
    return out;
}

/* ------------------------------------------------------------------ sum / mean */

static void sum_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *x = n->in[0];
    int fresh;
    float *d = coco_grad_acc(tp, x, &fresh);
    if (!d) return;
    float g = coco_f32(n->out->grad)[0] * n->f[0];
    for (int64_t i = 0; i < x->numel; i++) d[i] = fresh ? g : d[i] + g;
}

static coco_tensor *reduce_all(coco_tape *tp, coco_tensor *x, int mean) {
    const char *op = mean ? "mean" : "sum";
    coco_check_dtype(x, COCO_F32, op, "x");
    if (mean && x->numel == 0) coco_fail("mean: tensor has no elements");
    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, 0, NULL);
    const float *p = coco_f32(x);
    double s = 0;
    for (int64_t i = 0; i < x->numel; i++) s += p[i];
    float scale = mean ? 1.0f / (float)x->numel : 1.0f;
    coco_f32(out)[0] = (float)(s * scale);
    coco_tensor *in[1] = {x};
    if (coco_tape_needs_grad(tp, 1, in)) coco_tape_record(tp, op, sum_bwd, out, 1, in)->f[0] = scale;
    return out;
}

coco_tensor *coco_sum(coco_tape *tp, coco_tensor *x) { return reduce_all(tp, x, 0); }
coco_tensor *coco_mean(coco_tape *tp, coco_tensor *x) { return reduce_all(tp, x, 1); }

/* ------------------------------------------------------------------ gather / scatter rows */

static void check_idx(const coco_tensor *idx, int64_t nrows, const char *op) {
    coco_check_dtype(idx, COCO_I32, op, "idx");
    coco_check_ndim(idx, 1, 1, op, "idx");
    const int32_t *p = coco_i32(idx);
    for (int64_t i = 0; i < idx->numel; i++)
        if (p[i] < 0 || p[i] >= nrows)
            coco_fail("%s: idx[%lld] = %d is outside [0, %lld)", op, (long long)i, p[i], (long long)nrows);
}

static coco_tensor *keep_ids(coco_tape *tp, const coco_tensor *idx) {
    coco_tensor *k = coco_tape_tensor(tp, COCO_I32, idx->ndim, idx->shape);
    memcpy(k->data, idx->data, (size_t)idx->numel * 4);
    return k;
}

static void gather_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *src = n->in[0];
    float *d = coco_grad_acc(tp, src, NULL);
    if (!d) return;
    const coco_tensor *idx = n->saved;
    const int32_t *p = coco_i32(idx);
    int64_t cols = n->i[0];
    const float *g = coco_f32(n->out->grad);
    for (int64_t i = 0; i < idx->numel; i++) {
        float *dr = d + (int64_t)p[i] * cols;
        const float *gr = g + i * cols;
        for (int64_t j = 0; j < cols; j++) dr[j] += gr[j];
    }
}

coco_tensor *coco_gather_rows(coco_tape *tp, coco_tensor *src, const coco_tensor *idx) {
    coco_check_dtype(src, COCO_F32, "gather_rows", "src");
    coco_check_ndim(src, 1, COCO_MAX_DIMS, "gather_rows", "src");
    int64_t cols = coco_tensor_cols(src), nrows = coco_tensor_rows(src);
    check_idx(idx, nrows, "gather_rows");
    int64_t shape[2] = {idx->numel, cols};
    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, 2, shape);
    const int32_t *p = coco_i32(idx);
    for (int64_t i = 0; i < idx->numel; i++)
        memcpy(coco_f32(out) + i * cols, coco_f32(src) + (int64_t)p[i] * cols, (size_t)cols * 4);
    coco_tensor *in[1] = {src};
    if (coco_tape_needs_grad(tp, 1, in)) {
        coco_node *n = coco_tape_record(tp, "gather_rows", gather_bwd, out, 1, in);
        n->saved = keep_ids(tp, idx);
        n->i[0] = cols;
    }
    return out;
}

static void scatter_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *dst = n->in[0], *src = n->in[1];
    const coco_tensor *idx = n->saved;
    const int32_t *p = coco_i32(idx);
    int64_t cols = n->i[0], nrows = n->i[1];
    const float *g = coco_f32(n->out->grad);
    int fresh;
    float *dd = coco_grad_acc(tp, dst, &fresh);
    if (dd) {
        /* Replaced rows of dst did not reach the output: their grad is zero. */
        unsigned char *hit = coco_tape_alloc(tp, (size_t)nrows);
        memset(hit, 0, (size_t)nrows);
        for (int64_t i = 0; i < idx->numel; i++) hit[p[i]] = 1;
        for (int64_t r = 0; r < nrows; r++) {
            float *dr = dd + r * cols;
            const float *gr = g + r * cols;
            if (hit[r]) {
                if (fresh) memset(dr, 0, (size_t)cols * 4);
            } else if (fresh) {
                memcpy(dr, gr, (size_t)cols * 4);
            } else {
                for (int64_t j = 0; j < cols; j++) dr[j] += gr[j];
            }
        }
    }
    float *ds = coco_grad_acc(tp, src, &fresh);
    if (ds) {
        for (int64_t i = 0; i < idx->numel; i++) {
            float *dr = ds + i * cols;
            const float *gr = g + (int64_t)p[i] * cols;
            if (fresh)
                memcpy(dr, gr, (size_t)cols * 4);
            else
                for (int64_t j = 0; j < cols; j++) dr[j] += gr[j];
        }
    }
}

coco_tensor *coco_scatter_rows(coco_tape *tp, coco_tensor *dst, coco_tensor *src, const coco_tensor *idx) {
    char a[96], b[96];
    coco_check_dtype(dst, COCO_F32, "scatter_rows", "dst");
    coco_check_dtype(src, COCO_F32, "scatter_rows", "src");
    coco_check_ndim(dst, 1, COCO_MAX_DIMS, "scatter_rows", "dst");
    int64_t cols = coco_tensor_cols(dst), nrows = coco_tensor_rows(dst);
    check_idx(idx, nrows, "scatter_rows");
    if (coco_tensor_cols(src) != cols || coco_tensor_rows(src) != idx->numel)
        coco_fail("scatter_rows: src %s must have %lld rows of %lld (dst %s)", SHAPE(src, a), (long long)idx->numel,
                  (long long)cols, SHAPE(dst, b));
    const int32_t *p = coco_i32(idx);
    unsigned char *hit = coco_tape_alloc(tp, (size_t)(nrows ? nrows : 1));
    memset(hit, 0, (size_t)nrows);
    for (int64_t i = 0; i < idx->numel; i++) {
        if (hit[p[i]]) coco_fail("scatter_rows: row %d appears twice in idx", p[i]);
        hit[p[i]] = 1;
    }
    coco_tensor *out = coco_tape_like(tp, dst);
    memcpy(out->data, dst->data, (size_t)dst->numel * 4);
    for (int64_t i = 0; i < idx->numel; i++)
        memcpy(coco_f32(out) + (int64_t)p[i] * cols, coco_f32(src) + i * cols, (size_t)cols * 4);
    coco_tensor *in[2] = {dst, src};
    if (coco_tape_needs_grad(tp, 2, in)) {
        coco_node *n = coco_tape_record(tp, "scatter_rows", scatter_bwd, out, 2, in);
        n->saved = keep_ids(tp, idx);
        n->i[0] = cols;
        n->i[1] = nrows;
    }
    return out;
}

/* ------------------------------------------------------------------ concat */

/* View every tensor as [outer, len_k * inner]: the k-th input's block of each
 * outer row is contiguous in both input and output. The input list is kept in
 * `saved` so any number of tensors can be joined by one node. */
static void concat_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor **xs = n->saved;
    int64_t outer = n->i[0], inner_out = n->i[1], count = n->i[2];
    const float *g = coco_f32(n->out->grad);
    int64_t off = 0;
    for (int64_t k = 0; k < count; k++) {
        coco_tensor *x = xs[k];
        int64_t blk = outer ? x->numel / outer : 0;
        int fresh;
        float *d = coco_grad_acc(tp, x, &fresh);
        if (d) {
            for (int64_t o = 0; o < outer; o++) {
                const float *gs = g + o * inner_out + off;
                float *dr = d + o * blk;
                if (fresh)
                    memcpy(dr, gs, (size_t)blk * 4);
                else
                    for (int64_t j = 0; j < blk; j++) dr[j] += gs[j];
            }
        }
        off += blk;
    }
}

coco_tensor *coco_concat(coco_tape *tp, int n, coco_tensor *const *xs, int axis) {
    char a[96], b[96];
    if (n < 1) coco_fail("concat: needs at least one tensor, got %d", n);
    coco_tensor *x0 = xs[0];
    coco_check_dtype(x0, COCO_F32, "concat", "xs[1]");
    if (axis < 0 || axis >= x0->ndim) coco_fail("concat: axis %d is outside the rank of %s", axis, SHAPE(x0, a));
    int64_t shape[COCO_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[axis] = 0;
    for (int k = 0; k < n; k++) {
        coco_check_dtype(xs[k], COCO_F32, "concat", "xs[k]");
        if (xs[k]->ndim != x0->ndim) coco_fail("concat: tensor %d is %s, tensor 1 is %s", k + 1, SHAPE(xs[k], a), SHAPE(x0, b));
        for (int d = 0; d < x0->ndim; d++)
            if (d != axis && xs[k]->shape[d] != x0->shape[d])
                coco_fail("concat: tensor %d is %s, tensor 1 is %s (only axis %d may differ)", k + 1, SHAPE(xs[k], a),
                          SHAPE(x0, b), axis);
        shape[axis] += xs[k]->shape[axis];
    }
    PROF_BEGIN();
    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, x0->ndim, shape);
    int64_t outer = 1;
    for (int d = 0; d < axis; d++) outer *= shape[d];
    int64_t inner_out = outer ? out->numel / outer : 0;
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        int64_t blk = outer ? xs[k]->numel / outer : 0;
        for (int64_t o = 0; o < outer; o++)
            memcpy(coco_f32(out) + o * inner_out + off, coco_f32(xs[k]) + o * blk, (size_t)blk * 4);
        off += blk;
    }
    if (coco_tape_needs_grad(tp, n, xs)) {
        coco_node *nd = coco_tape_record(tp, "concat", concat_bwd, out, 0, NULL);
        coco_tensor **keep = coco_tape_alloc(tp, sizeof *keep * (size_t)n);
        memcpy(keep, xs, sizeof *keep * (size_t)n);
        nd->saved = keep;
        nd->i[0] = outer;
        nd->i[1] = inner_out;
        nd->i[2] = n;
    }
    PROF_END("concat", 0);
    return out;
}

/* ------------------------------------------------------------------ reshape / slice */

static void reshape_bwd(coco_tape *tp, coco_node *n) {
    acc_into(tp, n->in[0], coco_f32(n->out->grad), 1.0f);
}

coco_tensor *coco_reshape(coco_tape *tp, coco_tensor *x, int ndim, const int64_t *shape) {
    char a[96];
    coco_check_not_null(x, "reshape", "x");
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (ndim < 0 || ndim > COCO_MAX_DIMS || n != x->numel)
        coco_fail("reshape: cannot view %s as a rank-%d shape with %lld elements", SHAPE(x, a), ndim, (long long)n);
    coco_tensor *out = coco_tape_alloc(tp, sizeof *out);
    memset(out, 0, sizeof *out);
    out->dtype = x->dtype;
    out->ndim = ndim;
    for (int i = 0; i < ndim; i++) out->shape[i] = shape[i];
    out->numel = n;
    out->data = x->data; /* alias: tensors are contiguous */
    out->kind = COCO_ARENA;
    coco_tensor *in[1] = {x};
    if (x->dtype == COCO_F32 && coco_tape_needs_grad(tp, 1, in)) coco_tape_record(tp, "reshape", reshape_bwd, out, 1, in);
    return out;
}

static void slice_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *x = n->in[0];
    float *d = coco_grad_acc(tp, x, NULL);
    if (!d) return;
    int64_t outer = n->i[0], len_in = n->i[1], a = n->i[2], len = n->i[3], inner = n->i[4];
    const float *g = coco_f32(n->out->grad);
    for (int64_t o = 0; o < outer; o++) {
        float *dr = d + (o * len_in + a) * inner;
        const float *gr = g + o * len * inner;
        for (int64_t j = 0; j < len * inner; j++) dr[j] += gr[j];
    }
}

coco_tensor *coco_slice(coco_tape *tp, coco_tensor *x, int axis, int64_t a, int64_t b) {
    char s[96];
    coco_check_not_null(x, "slice", "x");
    if (axis < 0 || axis >= x->ndim) coco_fail("slice: axis %d is outside the rank of %s", axis, SHAPE(x, s));
    if (a < 0 || b < a || b > x->shape[axis])
        coco_fail("slice: range [%lld, %lld) is outside axis %d of %s", (long long)a, (long long)b, axis, SHAPE(x, s));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    int64_t shape[COCO_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = b - a;
    coco_tensor *out = coco_tape_tensor(tp, x->dtype, x->ndim, shape);
    int64_t len_in = x->shape[axis], len = b - a;
    for (int64_t o = 0; o < outer; o++)
        memcpy((char *)out->data + (size_t)(o * len * inner) * 4, (const char *)x->data + (size_t)((o * len_in + a) * inner) * 4,
               (size_t)(len * inner) * 4);
    coco_tensor *in[1] = {x};
    if (x->dtype == COCO_F32 && coco_tape_needs_grad(tp, 1, in)) {
        coco_node *n = coco_tape_record(tp, "slice", slice_bwd, out, 1, in);
        n->i[0] = outer, n->i[1] = len_in, n->i[2] = a, n->i[3] = len, n->i[4] = inner;
    }
    return out;
}

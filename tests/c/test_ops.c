/* test_ops.c — every autograd op: forward against a naive double-precision
 * reference, backward against central finite differences (tolerances in
 * testutil.h), and proof that each gradient test fails when the op's backward
 * is wrong by 10% (the mutation hook). Label sets (the "bfs" loss) are checked
 * the same way, plus: a set of one id is the plain cross-entropy. */
#include "testutil.h"

#define H_FD 1e-2
#define ATOL 2e-3
#define RTOL 1e-2

/* ------------------------------------------------------------ forwards under test */

static coco_tensor *f_embedding(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_embedding(tp, (coco_tensor *)ud, in[0]);
}
static coco_tensor *f_linear(coco_tape *tp, coco_tensor **in, void *ud) { return coco_linear(tp, in[0], in[1], in[2]); }
static coco_tensor *f_linear_wt(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_linear_wt(tp, in[0], in[1], in[2]);
}
static coco_tensor *f_gelu_linear(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_gelu_linear(tp, in[0], in[1], in[2]);
}
static coco_tensor *f_linear_add(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_linear_add(tp, in[0], in[1], in[2], in[3]);
}
static coco_tensor *f_reshape_slice(coco_tape *tp, coco_tensor **in, void *ud) {
    /* [2,6,3] -> slice columns 1..4 of axis 1 -> [2,3,3] -> reshape [6,3] -> times 1 to keep it an op chain */
    coco_tensor *s = coco_slice(tp, in[0], 1, 1, 4);
    return coco_reshape(tp, s, 2, (int64_t[]){6, 3});
}
static coco_tensor *f_ln_linear(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_ln_linear(tp, in[0], in[1], in[2], 1e-5f, in[3], in[4]);
}
static coco_tensor *f_ln_then_linear(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_linear(tp, coco_layernorm(tp, in[0], in[1], in[2], 1e-5f), in[3], in[4]);
}
static coco_tensor *f_layernorm(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_layernorm(tp, in[0], in[1], in[2], 1e-5f);
}
static coco_tensor *f_gelu(coco_tape *tp, coco_tensor **in, void *ud) { return coco_gelu(tp, in[0]); }
static coco_tensor *f_add(coco_tape *tp, coco_tensor **in, void *ud) { return coco_add(tp, in[0], in[1]); }
static coco_tensor *f_sum(coco_tape *tp, coco_tensor **in, void *ud) { return coco_sum(tp, in[0]); }
static coco_tensor *f_mean(coco_tape *tp, coco_tensor **in, void *ud) { return coco_mean(tp, in[0]); }
static coco_tensor *f_scale(coco_tape *tp, coco_tensor **in, void *ud) { return coco_scale(tp, in[0], -1.7f); }
static coco_tensor *f_ce(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_cross_entropy(tp, in[0], (coco_tensor *)ud, -100);
}
static coco_tensor *f_lmce(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_lm_head_ce(tp, in[0], in[1], (coco_tensor *)ud, -100);
}
static coco_tensor *f_gather(coco_tape *tp, coco_tensor **in, void *ud) { return coco_gather_rows(tp, in[0], ud); }
static coco_tensor *f_scatter(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_scatter_rows(tp, in[0], in[1], ud);
}
static coco_tensor *f_concat(coco_tape *tp, coco_tensor **in, void *ud) { return coco_concat(tp, 3, in, 1); }
static coco_tensor *f_sigmoid(coco_tape *tp, coco_tensor **in, void *ud) { return coco_sigmoid(tp, in[0]); }
static coco_tensor *f_bce(coco_tape *tp, coco_tensor **in, void *ud) { return coco_bce(tp, in[0], ud); }
static coco_tensor *f_bce_logits(coco_tape *tp, coco_tensor **in, void *ud) {
    return coco_bce_with_logits(tp, in[0], ud);
}
static coco_tensor *f_dropout(coco_tape *tp, coco_tensor **in, void *ud) { return coco_dropout(tp, in[0], 0.4f); }

typedef struct attn_case {
    int64_t t0;
    int n_head;
    float p;
    coco_tensor *mask;
} attn_case;

static coco_tensor *f_attention(coco_tape *tp, coco_tensor **in, void *ud) {
    attn_case *c = ud;
    return coco_attention(tp, in[0], in[1], in[2], c->t0, c->mask, c->n_head, c->p);
}

static coco_tensor *f_attention_nc(coco_tape *tp, coco_tensor **in, void *ud) {
    attn_case *c = ud;
    return coco_attention(tp, in[0], NULL, NULL, 0, c->mask, c->n_head, c->p);
}

/* Runs gradcheck, then again with the op's backward mutated: must pass, then fail. */
static void check_op(const char *name, const char *op, tu_fwd f, int n, coco_tensor **in, void *ud) {
    double w = gradcheck(name, f, n, in, ud, H_FD, ATOL, RTOL);
    if (w > 1.0) fail_msg("%s: gradient check failed (worst error %.2fx tolerance)", name, w);
    coco_debug_set_mutation(op);
    double wm = gradcheck(name, f, n, in, ud, H_FD, ATOL, RTOL);
    coco_debug_set_mutation(NULL);
    if (wm <= 1.0) fail_msg("%s: gradient check did not notice a backward off by 10%% (worst %.2fx)", name, wm);
}

static void release_all(int n, coco_tensor **in) {
    for (int i = 0; i < n; i++) coco_tensor_release(in[i]);
}

static coco_tensor *req(coco_tensor *t) {
    t->requires_grad = 1;
    return t;
}

/* ------------------------------------------------------------ gradient tests */

static void test_grad_embedding(void **s) {
    coco_tensor *in[1] = {req(tu_randn(1, 1.0f, 2, (int64_t)7, (int64_t)4))};
    int32_t v[6] = {3, 0, 3, 6, 1, 3};
    coco_tensor *ids = coco_tensor_new(COCO_I32, 2, (int64_t[]){2, 3});
    memcpy(ids->data, v, sizeof v);
    check_op("embedding", "embedding", f_embedding, 1, in, ids);
    coco_tensor_release(ids);
    release_all(1, in);
}

static void test_grad_linear(void **s) {
    coco_tensor *in[3] = {req(tu_randn(2, 1.0f, 3, (int64_t)2, (int64_t)3, (int64_t)5)),
                          req(tu_randn(3, 0.5f, 2, (int64_t)5, (int64_t)4)), req(tu_randn(4, 0.5f, 1, (int64_t)4))};
    check_op("linear", "linear", f_linear, 3, in, NULL);
    release_all(3, in);
}

static void test_grad_gelu_linear(void **s) {
    coco_tensor *in[3] = {req(tu_randn(27, 1.5f, 2, (int64_t)4, (int64_t)6)), req(tu_randn(28, 0.5f, 2, (int64_t)6, (int64_t)3)),
                          req(tu_randn(29, 0.5f, 1, (int64_t)3))};
    check_op("gelu_linear", "gelu_linear", f_gelu_linear, 3, in, NULL);
    /* equals the unfused pair */
    coco_tape *tp = coco_tape_new();
    coco_tensor *a = coco_gelu_linear(tp, in[0], in[1], in[2]);
    coco_tensor *b = coco_linear(tp, coco_gelu(tp, in[0]), in[1], in[2]);
    assert_true(coco_max_abs_diff(coco_f32(a), coco_f32(b), a->numel) < 1e-6);
    coco_tape_free(tp);
    release_all(3, in);
}

static void test_grad_linear_add(void **s) {
    coco_tensor *in[4] = {req(tu_randn(33, 1.0f, 2, (int64_t)4, (int64_t)5)), req(tu_randn(34, 0.5f, 2, (int64_t)5, (int64_t)3)),
                          req(tu_randn(35, 0.5f, 1, (int64_t)3)), req(tu_randn(36, 1.0f, 2, (int64_t)4, (int64_t)3))};
    check_op("linear_add", "linear_add", f_linear_add, 4, in, NULL);
    coco_tape *tp = coco_tape_new();
    coco_tensor *a = coco_linear_add(tp, in[0], in[1], in[2], in[3]);
    coco_tensor *b = coco_add(tp, in[3], coco_linear(tp, in[0], in[1], in[2]));
    assert_true(coco_max_abs_diff(coco_f32(a), coco_f32(b), a->numel) < 1e-6);
    coco_tape_free(tp);
    release_all(4, in);
}

static void test_grad_slice_reshape(void **s) {
    coco_tensor *in[1] = {req(tu_randn(37, 1.0f, 3, (int64_t)2, (int64_t)6, (int64_t)3))};
    check_op("slice", "slice", f_reshape_slice, 1, in, NULL);
    check_op("reshape", "reshape", f_reshape_slice, 1, in, NULL);
    /* values: row 1 of the result is element [0, 2, :] */
    coco_tape *tp = coco_tape_new();
    coco_tensor *y = f_reshape_slice(tp, in, NULL);
    for (int j = 0; j < 3; j++) assert_float_equal(coco_f32(y)[3 + j], coco_f32(in[0])[(0 * 6 + 2) * 3 + j], 0);
    EXPECT_FAIL(coco_slice(tp, in[0], 1, 4, 7), "slice: range [4, 7) is outside axis 1 of [2,6,3] f32");
    EXPECT_FAIL(coco_reshape(tp, in[0], 2, (int64_t[]){5, 7}), "reshape: cannot view [2,6,3] f32 as a rank-2 shape with 35 elements");
    coco_set_error_handler(NULL, NULL);
    coco_tape_free(tp);
    release_all(1, in);
}

static void test_grad_linear_wt(void **s) {
    coco_tensor *in[3] = {req(tu_randn(5, 1.0f, 2, (int64_t)6, (int64_t)5)),
                          req(tu_randn(6, 0.5f, 2, (int64_t)7, (int64_t)5)), NULL};
    check_op("linear_wt", "linear_wt", f_linear_wt, 3, in, NULL);
    release_all(3, in);
}

static void test_grad_layernorm(void **s) {
    coco_tensor *in[3] = {req(tu_randn(7, 1.0f, 2, (int64_t)4, (int64_t)6)), req(tu_randn(8, 1.0f, 1, (int64_t)6)),
                          req(tu_randn(9, 1.0f, 1, (int64_t)6))};
    check_op("layernorm", "layernorm", f_layernorm, 3, in, NULL);
    release_all(3, in);
}

/* Fused layernorm -> linear: its own gradient check, and the same values and
 * gradients as layernorm followed by linear. */
static void test_grad_ln_linear(void **s) {
    coco_tensor *in[5] = {req(tu_randn(60, 1.0f, 3, (int64_t)2, (int64_t)5, (int64_t)7)), req(tu_randn(61, 1.0f, 1, (int64_t)7)),
                          req(tu_randn(62, 1.0f, 1, (int64_t)7)), req(tu_randn(63, 0.5f, 2, (int64_t)7, (int64_t)6)),
                          req(tu_randn(64, 1.0f, 1, (int64_t)6))};
    check_op("ln_linear", "ln_linear", f_ln_linear, 5, in, NULL);
    float *ref_y = malloc(sizeof(float) * 60), *ref_g[5];
    coco_tensor *R = tu_randn(65, 1.0f, 3, (int64_t)2, (int64_t)5, (int64_t)6), *W2 = tu_randn(66, 1.0f, 2, (int64_t)6, (int64_t)6);
    for (int pass = 0; pass < 2; pass++) {
        coco_tape *tp = coco_tape_new();
        for (int k = 0; k < 5; k++) coco_zero_grad(in[k]);
        coco_tensor *y = pass == 0 ? f_ln_then_linear(tp, in, NULL) : f_ln_linear(tp, in, NULL);
        coco_tensor *Rt = coco_tape_like(tp, R);
        memcpy(coco_f32(Rt), coco_f32(R), sizeof(float) * 60);
        coco_backward(tp, coco_sum(tp, coco_linear_add(tp, y, W2, NULL, Rt)));
        if (pass == 0) {
            memcpy(ref_y, coco_f32(y), sizeof(float) * 60);
            for (int k = 0; k < 5; k++) {
                ref_g[k] = malloc(sizeof(float) * (size_t)in[k]->numel);
                memcpy(ref_g[k], coco_f32(in[k]->grad), sizeof(float) * (size_t)in[k]->numel);
            }
        } else {
            assert_true(coco_max_abs_diff(ref_y, coco_f32(y), 60) <= 1e-6);
            for (int k = 0; k < 5; k++) {
                assert_true(coco_max_abs_diff(ref_g[k], coco_f32(in[k]->grad), in[k]->numel) <= 1e-5);
                free(ref_g[k]);
            }
        }
        coco_tape_free(tp);
    }
    free(ref_y);
    coco_tensor_release(R);
    coco_tensor_release(W2);
    coco_tape *tp = coco_tape_new();
    EXPECT_FAIL(coco_ln_linear(tp, in[0], in[1], in[2], 1e-5f, in[3], in[1]), "ln_linear: bias [7] f32 must be [6]");
    coco_tape_free(tp);
    release_all(5, in);
}

static void test_grad_gelu(void **s) {
    coco_tensor *in[1] = {req(tu_randn(10, 1.5f, 2, (int64_t)5, (int64_t)7))};
    check_op("gelu", "gelu", f_gelu, 1, in, NULL);
    release_all(1, in);
}

static void test_grad_add_sum_mean_scale(void **s) {
    coco_tensor *in[2] = {req(tu_randn(11, 1.0f, 2, (int64_t)3, (int64_t)4)), req(tu_randn(12, 1.0f, 2, (int64_t)3, (int64_t)4))};
    check_op("add", "add", f_add, 2, in, NULL);
    check_op("sum", "sum", f_sum, 1, in, NULL);
    check_op("mean", "mean", f_mean, 1, in, NULL);
    check_op("scale", "scale", f_scale, 1, in, NULL);
    release_all(2, in);
}

static void test_grad_cross_entropy(void **s) {
    coco_tensor *in[1] = {req(tu_randn(13, 2.0f, 3, (int64_t)2, (int64_t)3, (int64_t)5))};
    int32_t t[6] = {1, -100, 3, 0, 4, -100};
    coco_tensor *tg = tu_ids(6, t);
    check_op("cross_entropy", "cross_entropy", f_ce, 1, in, tg);
    coco_tensor_release(tg);
    release_all(1, in);
}

/* The fused head equals linear_wt + cross_entropy in value and gradients, and
 * passes its own gradient check (more rows than one chunk, some ignored). */
static void test_lm_head_ce(void **s) {
    int64_t R = 300, d = 6, V = 11;
    coco_tensor *h = req(tu_randn(23, 1.0f, 2, R, d)), *W = req(tu_randn(24, 1.0f, 2, V, d));
    coco_tensor *tg = coco_tensor_new(COCO_I32, 1, (int64_t[]){R});
    for (int64_t r = 0; r < R; r++) coco_i32(tg)[r] = r % 3 == 0 ? -100 : (int32_t)((r * 7) % V);
    coco_tape *tp = coco_tape_new();
    coco_tensor *l1 = coco_lm_head_ce(tp, h, W, tg, -100);
    coco_backward(tp, l1);
    float v1 = coco_f32(l1)[0]; /* the tape is reset below */
    coco_tensor *gh = coco_tensor_clone(h->grad), *gW = coco_tensor_clone(W->grad);
    coco_zero_grad(h), coco_zero_grad(W);
    coco_tape_reset(tp);
    coco_tensor *l2 = coco_cross_entropy(tp, coco_linear_wt(tp, h, W, NULL), tg, -100);
    coco_backward(tp, l2);
    assert_true(fabsf(v1 - coco_f32(l2)[0]) < 1e-5f * fabsf(coco_f32(l2)[0]));
    assert_true(coco_max_abs_diff(coco_f32(gh), coco_f32(h->grad), gh->numel) < 1e-6);
    assert_true(coco_max_abs_diff(coco_f32(gW), coco_f32(W->grad), gW->numel) < 1e-6);
    coco_tape_free(tp);
    coco_tensor_release(gh), coco_tensor_release(gW);
    /* small case for finite differences */
    coco_tensor *h2 = req(tu_randn(25, 1.0f, 2, (int64_t)5, (int64_t)4)), *W2 = req(tu_randn(26, 1.0f, 2, (int64_t)7, (int64_t)4));
    coco_tensor *tg2 = tu_ids(5, (int32_t[]){3, -100, 6, 0, 2});
    coco_tensor *in[2] = {h2, W2};
    check_op("lm_head_ce", "lm_head_ce", f_lmce, 2, in, tg2);
    coco_tensor *all[] = {h, W, tg, h2, W2, tg2};
    release_all(6, all);
}

/* ------------------------------------------------------------ label sets ("bfs" loss) */

typedef struct sets_case {
    coco_tensor *tg;      /* plain targets, -100 on the set rows */
    coco_label_sets sets; /* rows, offsets, ids */
} sets_case;

static coco_tensor *f_ce_sets(coco_tape *tp, coco_tensor **in, void *ud) {
    sets_case *c = ud;
    return coco_cross_entropy_sets(tp, in[0], c->tg, -100, &c->sets);
}
static coco_tensor *f_lmce_sets(coco_tape *tp, coco_tensor **in, void *ud) {
    sets_case *c = ud;
    return coco_lm_head_ce_sets(tp, in[0], in[1], c->tg, -100, &c->sets);
}

/* The set scoring row r, -1 for none (linear search: the reference stays obvious). */
static int64_t set_at(const coco_label_sets *s, int64_t r) {
    for (int64_t i = 0; i < s->n; i++)
        if (s->row[i] == r) return i;
    return -1;
}

/* Direct double-precision loss and d loss / d x of logits x [R, V]: mean over
 * rows with a target (lse - x_t) and rows with a set (-log sum_{v in S} p_v). */
static double ref_sets(const float *x, int64_t R, int64_t V, const int32_t *tg, const coco_label_sets *s, double *dx) {
    double tot = 0;
    int cnt = 0;
    for (int64_t r = 0; r < R; r++) cnt += tg[r] != -100 || set_at(s, r) >= 0;
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * V;
        double mx = -1e30, z = 0;
        for (int64_t j = 0; j < V; j++) mx = fmax(mx, xr[j]);
        for (int64_t j = 0; j < V; j++) z += exp(xr[j] - mx);
        double lse = mx + log(z);
        int64_t k = set_at(s, r);
        for (int64_t j = 0; j < V; j++) dx[r * V + j] = 0;
        if (k < 0 && tg[r] == -100) continue;
        double ps = 0; /* probability of the set */
        if (k >= 0)
            for (int32_t q = s->off[k]; q < s->off[k + 1]; q++) ps += exp(xr[s->ids[q]] - lse);
        tot += k >= 0 ? -log(ps) : lse - xr[tg[r]];
        for (int64_t j = 0; j < V; j++) dx[r * V + j] = exp(xr[j] - lse) / cnt;
        if (k < 0) dx[r * V + tg[r]] -= 1.0 / cnt;
        else
            for (int32_t q = s->off[k]; q < s->off[k + 1]; q++) dx[r * V + s->ids[q]] -= exp(xr[s->ids[q]] - lse) / ps / cnt;
    }
    return tot / cnt;
}

/* Value and gradient against the direct computation; the fused head equals
 * linear_wt + cross_entropy_sets with sets spread over several chunks. */
static void test_label_sets_reference(void **s) {
    int64_t R = 6, V = 13;
    coco_tensor *x = req(tu_randn(700, 2.0f, 2, R, V));
    int32_t t[6] = {4, -100, -100, 9, -100, -100};
    coco_tensor *tg = tu_ids(R, t);
    /* row 1: {0, 5, 12}; row 2: {7}; row 4: {3, 11}; row 5 ignored */
    int32_t rows[3] = {1, 2, 4}, off[4] = {0, 3, 4, 6}, ids[6] = {0, 5, 12, 7, 3, 11};
    coco_label_sets ls = {3, rows, off, ids};
    double dref[6 * 13];
    double ref = ref_sets(coco_f32(x), R, V, t, &ls, dref);
    coco_tape *tp = coco_tape_new();
    coco_tensor *L = coco_cross_entropy_sets(tp, x, tg, -100, &ls);
    assert_true(fabs(ref - coco_f32(L)[0]) < 1e-5 * fabs(ref));
    coco_zero_grad(x);
    coco_backward(tp, L);
    double worst = 0;
    for (int64_t i = 0; i < R * V; i++) worst = fmax(worst, fabs(dref[i] - coco_f32(x->grad)[i]));
    assert_true(worst < 1e-6);
    /* The loss counts 5 rows: a wrong count (e.g. sets left out of the mean) shows here. */
    double plain_only = 0;
    coco_tape_reset(tp);
    coco_tensor *Lp = coco_cross_entropy(tp, x, tg, -100);
    plain_only = coco_f32(Lp)[0];
    assert_true(fabs(plain_only - coco_f32(L)[0]) > 1e-3);
    coco_tape_free(tp);
    coco_tensor_release(x), coco_tensor_release(tg);

    /* fused head vs the unfused op: 300 rows (two chunks), a set every 7th row */
    int64_t R2 = 300, d = 6, V2 = 11;
    coco_tensor *h = req(tu_randn(701, 1.0f, 2, R2, d)), *W = req(tu_randn(702, 1.0f, 2, V2, d));
    coco_tensor *tg2 = coco_tensor_new(COCO_I32, 1, (int64_t[]){R2});
    int32_t srow[64], soff[65], sids[256];
    int64_t n = 0, k = 0;
    soff[0] = 0;
    for (int64_t r = 0; r < R2; r++) {
        coco_i32(tg2)[r] = r % 3 == 0 ? -100 : (int32_t)((r * 7) % V2);
        if (r % 7 != 0) continue;
        coco_i32(tg2)[r] = -100;
        srow[n] = (int32_t)r;
        for (int64_t j = 0; j <= r % 4; j++) sids[k++] = (int32_t)((r + 3 * j) % V2); /* 1..4 distinct ids */
        soff[++n] = (int32_t)k;
    }
    coco_label_sets ls2 = {n, srow, soff, sids};
    tp = coco_tape_new();
    coco_tensor *l1 = coco_lm_head_ce_sets(tp, h, W, tg2, -100, &ls2);
    coco_backward(tp, l1);
    float v1 = coco_f32(l1)[0];
    coco_tensor *gh = coco_tensor_clone(h->grad), *gW = coco_tensor_clone(W->grad);
    coco_zero_grad(h), coco_zero_grad(W);
    coco_tape_reset(tp);
    coco_tensor *l2 = coco_cross_entropy_sets(tp, coco_linear_wt(tp, h, W, NULL), tg2, -100, &ls2);
    coco_backward(tp, l2);
    assert_true(fabsf(v1 - coco_f32(l2)[0]) < 1e-5f * fabsf(coco_f32(l2)[0]));
    assert_true(coco_max_abs_diff(coco_f32(gh), coco_f32(h->grad), gh->numel) < 1e-6);
    assert_true(coco_max_abs_diff(coco_f32(gW), coco_f32(W->grad), gW->numel) < 1e-6);
    coco_tape_free(tp);
    coco_tensor_release(gh), coco_tensor_release(gW);
    coco_tensor_release(h), coco_tensor_release(W), coco_tensor_release(tg2);
}

/* Central finite differences (check_op: and a 10% wrong backward must fail). */
static void test_grad_label_sets(void **s) {
    int32_t rows[2] = {0, 3}, off[3] = {0, 3, 5}, ids[5] = {6, 1, 4, 2, 0};
    sets_case c = {tu_ids(5, (int32_t[]){-100, 5, -100, -100, 3}), {2, rows, off, ids}};
    coco_tensor *in[1] = {req(tu_randn(710, 1.5f, 2, (int64_t)5, (int64_t)7))};
    check_op("cross_entropy_sets", "cross_entropy", f_ce_sets, 1, in, &c);
    coco_tensor *in2[2] = {req(tu_randn(711, 1.0f, 2, (int64_t)5, (int64_t)4)), req(tu_randn(712, 1.0f, 2, (int64_t)7, (int64_t)4))};
    check_op("lm_head_ce_sets", "lm_head_ce", f_lmce_sets, 2, in2, &c);
    /* only sets, no plain target */
    sets_case c2 = {tu_ids(5, (int32_t[]){-100, -100, -100, -100, -100}), {2, rows, off, ids}};
    check_op("cross_entropy_sets (sets only)", "cross_entropy", f_ce_sets, 1, in, &c2);
    coco_tensor_release(c.tg), coco_tensor_release(c2.tg);
    release_all(1, in);
    release_all(2, in2);
}

/* A set {t} is the plain cross-entropy with target t: same floats, loss and gradients. */
static void test_label_set_of_one_is_ce(void **s) {
    int64_t R = 8, V = 11, d = 5;
    int32_t plain[8] = {3, -100, 5, 0, 10, -100, 2, 7};
    int32_t with_sets[8] = {-100, -100, -100, 0, 10, -100, -100, 7};
    int32_t rows[3] = {0, 2, 6}, off[4] = {0, 1, 2, 3}, ids[3] = {3, 5, 2};
    coco_label_sets ls = {3, rows, off, ids};
    coco_tensor *tp_ = tu_ids(R, plain), *ts = tu_ids(R, with_sets);
    coco_tensor *x = req(tu_randn(720, 2.0f, 2, R, V));
    coco_tensor *h = req(tu_randn(721, 1.0f, 2, R, d)), *W = req(tu_randn(722, 1.0f, 2, V, d));
    coco_tape *tp = coco_tape_new();
    for (int fused = 0; fused < 2; fused++) {
        coco_tensor *a = fused ? coco_lm_head_ce(tp, h, W, tp_, -100) : coco_cross_entropy(tp, x, tp_, -100);
        coco_backward(tp, a);
        float va = coco_f32(a)[0];
        coco_tensor *g1 = coco_tensor_clone(fused ? h->grad : x->grad), *g2 = fused ? coco_tensor_clone(W->grad) : NULL;
        coco_zero_grad(x), coco_zero_grad(h), coco_zero_grad(W);
        coco_tape_reset(tp);
        coco_tensor *b = fused ? coco_lm_head_ce_sets(tp, h, W, ts, -100, &ls) : coco_cross_entropy_sets(tp, x, ts, -100, &ls);
        coco_backward(tp, b);
        assert_true(va == coco_f32(b)[0]);
        assert_memory_equal(g1->data, (fused ? h->grad : x->grad)->data, (size_t)g1->numel * 4);
        if (g2) assert_memory_equal(g2->data, W->grad->data, (size_t)g2->numel * 4);
        coco_tensor_release(g1);
        if (g2) coco_tensor_release(g2);
        coco_zero_grad(x), coco_zero_grad(h), coco_zero_grad(W);
        coco_tape_reset(tp);
    }
    coco_tape_free(tp);
    coco_tensor_release(tp_), coco_tensor_release(ts), coco_tensor_release(x), coco_tensor_release(h), coco_tensor_release(W);
}

static void test_label_sets_bad_input(void **s) {
    coco_tape *tp = coco_tape_new();
    coco_tensor *x = tu_randn(730, 1.0f, 2, (int64_t)6, (int64_t)13);
    coco_tensor *W = tu_randn(731, 1.0f, 2, (int64_t)13, (int64_t)4), *h = tu_randn(732, 1.0f, 2, (int64_t)6, (int64_t)4);
    coco_tensor *tg = tu_ids(6, (int32_t[]){4, -100, -100, 9, -100, -100});
    int32_t off[3] = {0, 2, 3};
    int32_t r_target[2] = {0, 2}, ids_ok[3] = {1, 2, 3};
    EXPECT_FAIL(coco_cross_entropy_sets(tp, x, tg, -100, &((coco_label_sets){2, r_target, off, ids_ok})),
                "cross_entropy: row 0 has target 4 and label set 0; a row with a set must have target ignore_index -100");
    int32_t r_ok[2] = {1, 2}, ids_far[3] = {1, 2, 13};
    EXPECT_FAIL(coco_cross_entropy_sets(tp, x, tg, -100, &((coco_label_sets){2, r_ok, off, ids_far})),
                "cross_entropy: label set 1 (row 2): id 13 is outside [0, 13)");
    int32_t ids_dup[3] = {5, 5, 3};
    EXPECT_FAIL(coco_lm_head_ce_sets(tp, h, W, tg, -100, &((coco_label_sets){2, r_ok, off, ids_dup})),
                "lm_head_ce: label set 0 (row 1): id 5 appears twice");
    int32_t off_empty[3] = {0, 0, 3};
    EXPECT_FAIL(coco_cross_entropy_sets(tp, x, tg, -100, &((coco_label_sets){2, r_ok, off_empty, ids_ok})),
                "cross_entropy: label set 0 (row 1) is empty");
    int32_t r_down[2] = {2, 1};
    EXPECT_FAIL(coco_cross_entropy_sets(tp, x, tg, -100, &((coco_label_sets){2, r_down, off, ids_ok})),
                "rows must be strictly increasing");
    int32_t r_out[2] = {1, 6};
    EXPECT_FAIL(coco_cross_entropy_sets(tp, x, tg, -100, &((coco_label_sets){2, r_out, off, ids_ok})),
                "cross_entropy: label set 1 scores row 6, outside [0, 6)");
    coco_tape_free(tp);
    coco_tensor_release(x), coco_tensor_release(W), coco_tensor_release(h), coco_tensor_release(tg);
}

static void test_grad_gather_scatter(void **s) {
    coco_tensor *in[2] = {req(tu_randn(14, 1.0f, 2, (int64_t)5, (int64_t)3)), req(tu_randn(15, 1.0f, 2, (int64_t)2, (int64_t)3))};
    coco_tensor *gi = tu_ids(3, (int32_t[]){3, 0, 3});
    check_op("gather_rows", "gather_rows", f_gather, 1, in, gi);
    coco_tensor *si = tu_ids(2, (int32_t[]){4, 1});
    check_op("scatter_rows", "scatter_rows", f_scatter, 2, in, si);
    coco_tensor_release(gi);
    coco_tensor_release(si);
    release_all(2, in);
}

static void test_grad_concat(void **s) {
    coco_tensor *in[3] = {req(tu_randn(16, 1.0f, 3, (int64_t)2, (int64_t)1, (int64_t)3)),
                          req(tu_randn(17, 1.0f, 3, (int64_t)2, (int64_t)2, (int64_t)3)),
                          req(tu_randn(18, 1.0f, 3, (int64_t)2, (int64_t)1, (int64_t)3))};
    check_op("concat", "concat", f_concat, 3, in, NULL);
    release_all(3, in);
}

static void test_grad_sigmoid_bce(void **s) {
    coco_tensor *x = req(tu_randn(19, 1.5f, 1, (int64_t)8));
    coco_tensor *in[1] = {x};
    check_op("sigmoid", "sigmoid", f_sigmoid, 1, in, NULL);
    coco_tensor *y = tu_randn(20, 1.0f, 1, (int64_t)8);
    for (int i = 0; i < 8; i++) coco_f32(y)[i] = (float)(i % 3) / 2.0f; /* 0, .5, 1 */
    check_op("bce_with_logits", "bce_with_logits", f_bce_logits, 1, in, y);
    coco_tensor *p = req(tu_randn(21, 1.0f, 1, (int64_t)8));
    for (int i = 0; i < 8; i++) coco_f32(p)[i] = 0.15f + 0.09f * (float)i; /* inside (0,1), away from the clamp */
    coco_tensor *pin[1] = {p};
    /* smaller step: p must stay inside (0, 1) */
    double w = gradcheck("bce", f_bce, 1, pin, y, 1e-3, ATOL, RTOL);
    if (w > 1.0) fail_msg("bce: gradient check failed (%.2fx)", w);
    coco_debug_set_mutation("bce");
    double wm = gradcheck("bce", f_bce, 1, pin, y, 1e-3, ATOL, RTOL);
    coco_debug_set_mutation(NULL);
    assert_true(wm > 1.0);
    coco_tensor_release(p);
    coco_tensor_release(y);
    coco_tensor_release(x);
}

static void test_grad_dropout(void **s) {
    coco_tensor *in[1] = {req(tu_randn(22, 1.0f, 2, (int64_t)6, (int64_t)5))};
    check_op("dropout", "dropout", f_dropout, 1, in, NULL);
    release_all(1, in);
}

static coco_tensor *mask2(int64_t B, int64_t T, const int32_t *v) {
    coco_tensor *m = coco_tensor_new(COCO_I32, 2, (int64_t[]){B, T});
    memcpy(m->data, v, (size_t)(B * T) * 4);
    return m;
}

static void test_grad_attention_prefix(void **s) {
    /* B=2, span of 3 after a prefix of 2, H=2, D=3, Tmax=6. Row 1's mask makes its
     * first query see only padded keys (uniform case). */
    int64_t B = 2, Tn = 3, H = 2, D = 3, C = H * D, Tmax = 6;
    coco_tensor *in[3] = {req(tu_randn(30, 1.0f, 3, B, Tn, 3 * C)), req(tu_randn(31, 1.0f, 4, B, H, Tmax, D)),
                          req(tu_randn(32, 1.0f, 4, B, H, Tmax, D))};
    int32_t mv[12] = {1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    attn_case c = {2, (int)H, 0.0f, mask2(B, 6, mv)};
    check_op("attention(prefix,mask)", "attention", f_attention, 3, in, &c);
    /* Grad reached the prefix columns of the caches and not the span's. */
    float *gk = coco_f32(in[1]->grad);
    double pre = 0, span = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < Tmax; t++)
                for (int64_t e = 0; e < D; e++) {
                    double v = fabs(gk[((b * H + h) * Tmax + t) * D + e]);
                    if (t < 2) pre += v;
                    else span += v;
                }
    assert_true(pre > 1e-3);
    assert_true(span == 0.0);
    coco_tensor_release(c.mask);
    /* With attention dropout. */
    attn_case c2 = {1, (int)H, 0.3f, NULL};
    check_op("attention(dropout)", "attention", f_attention, 3, in, &c2);
    release_all(3, in);
}

/* Without caches: same output and d(qkv) as with caches at t0 = 0, and its own
 * gradient check (mask with a fully padded query row; dropout). */
static void test_attention_no_cache(void **s) {
    int64_t B = 2, Tn = 5, H = 2, D = 3, C = H * D;
    coco_tensor *qkv = req(tu_randn(40, 1.0f, 3, B, Tn, 3 * C));
    int32_t mv[10] = {1, 1, 1, 1, 1, 0, 0, 1, 1, 1};
    coco_tensor *mask = mask2(B, Tn, mv);
    coco_tensor *kc = tu_randn(41, 1.0f, 4, B, H, Tn, D), *vc = tu_randn(42, 1.0f, 4, B, H, Tn, D);
    coco_tensor *Wp = tu_randn(43, 1.0f, 2, C, (int64_t)1); /* loss = sum(o Wp): a dense upstream gradient */
    float *ref_out = malloc(sizeof(float) * (size_t)(B * Tn * C)), *ref_g = malloc(sizeof(float) * (size_t)qkv->numel);
    for (int pass = 0; pass < 2; pass++) {
        coco_tape *tp = coco_tape_new();
        coco_tensor *o = pass == 0 ? coco_attention(tp, qkv, kc, vc, 0, mask, (int)H, 0.0f)
                                   : coco_attention(tp, qkv, NULL, NULL, 0, mask, (int)H, 0.0f);
        coco_tensor *L = coco_sum(tp, coco_linear(tp, o, Wp, NULL));
        coco_zero_grad(qkv);
        coco_backward(tp, L);
        if (pass == 0) {
            memcpy(ref_out, coco_f32(o), sizeof(float) * (size_t)o->numel);
            memcpy(ref_g, coco_f32(qkv->grad), sizeof(float) * (size_t)qkv->numel);
        } else {
            assert_true(coco_max_abs_diff(ref_out, coco_f32(o), o->numel) <= 1e-6);
            assert_true(coco_max_abs_diff(ref_g, coco_f32(qkv->grad), qkv->numel) <= 1e-6);
        }
        coco_tape_free(tp);
    }
    free(ref_out);
    free(ref_g);
    attn_case c = {0, (int)H, 0.0f, mask};
    coco_tensor *in[1] = {qkv};
    check_op("attention(no cache, mask)", "attention", f_attention_nc, 1, in, &c);
    attn_case c2 = {0, (int)H, 0.3f, NULL};
    check_op("attention(no cache, dropout)", "attention", f_attention_nc, 1, in, &c2);
    /* A span after a prefix needs a cache. */
    coco_tape *tp = coco_tape_new();
    EXPECT_FAIL(coco_attention(tp, qkv, NULL, NULL, 2, NULL, (int)H, 0.0f),
                "attention: without a KV cache the span must start at column 0 (t0 = 2)");
    coco_tape_free(tp);
    coco_tensor_release(mask);
    coco_tensor_release(kc);
    coco_tensor_release(vc);
    coco_tensor_release(Wp);
    coco_tensor_release(qkv);
}

/* ------------------------------------------------------------ forward references */

static void test_fwd_linear_reference(void **s) {
    int64_t R = 37, I = 29, O = 41;
    coco_tensor *x = tu_randn(40, 1.0f, 2, R, I), *W = tu_randn(41, 1.0f, 2, I, O), *b = tu_randn(42, 1.0f, 1, O);
    coco_tensor *Wt = tu_randn(43, 1.0f, 2, O, I);
    coco_tape *tp = coco_tape_new();
    coco_tensor *y = coco_linear(tp, x, W, b), *y2 = coco_linear_wt(tp, x, Wt, b);
    double worst = 0, worst2 = 0;
    for (int64_t r = 0; r < R; r++)
        for (int64_t o = 0; o < O; o++) {
            double acc = coco_f32(b)[o], acc2 = coco_f32(b)[o];
            for (int64_t i = 0; i < I; i++) {
                acc += (double)coco_f32(x)[r * I + i] * coco_f32(W)[i * O + o];
                acc2 += (double)coco_f32(x)[r * I + i] * coco_f32(Wt)[o * I + i];
            }
            worst = fmax(worst, fabs(acc - coco_f32(y)[r * O + o]));
            worst2 = fmax(worst2, fabs(acc2 - coco_f32(y2)[r * O + o]));
        }
    /* 29-term dot products of O(1) values: f32 error well under 1e-4. */
    assert_true(worst < 1e-4);
    assert_true(worst2 < 1e-4);
    coco_tape_free(tp);
    coco_tensor_release(x), coco_tensor_release(W), coco_tensor_release(b), coco_tensor_release(Wt);
}

static void test_fwd_layernorm_gelu_reference(void **s) {
    int64_t R = 5, D = 33;
    coco_tensor *x = tu_randn(44, 3.0f, 2, R, D), *w = tu_randn(45, 1.0f, 1, D), *b = tu_randn(46, 1.0f, 1, D);
    for (int64_t i = 0; i < x->numel; i++) coco_f32(x)[i] += 5.0f; /* offset mean */
    coco_tape *tp = coco_tape_new();
    coco_tensor *y = coco_layernorm(tp, x, w, b, 1e-5f), *g = coco_gelu(tp, x);
    for (int64_t r = 0; r < R; r++) {
        double m = 0, v = 0;
        for (int64_t j = 0; j < D; j++) m += coco_f32(x)[r * D + j];
        m /= D;
        for (int64_t j = 0; j < D; j++) v += pow(coco_f32(x)[r * D + j] - m, 2);
        v /= D;
        for (int64_t j = 0; j < D; j++) {
            double ref = (coco_f32(x)[r * D + j] - m) / sqrt(v + 1e-5) * coco_f32(w)[j] + coco_f32(b)[j];
            assert_true(fabs(ref - coco_f32(y)[r * D + j]) < 1e-5 * (1 + fabs(ref)));
            double xv = coco_f32(x)[r * D + j];
            double gr = 0.5 * xv * (1 + tanh(sqrt(2 / M_PI) * (xv + 0.044715 * xv * xv * xv)));
            assert_true(fabs(gr - coco_f32(g)[r * D + j]) < 2e-6 * (1 + fabs(gr)));
        }
    }
    coco_tape_free(tp);
    coco_tensor_release(x), coco_tensor_release(w), coco_tensor_release(b);
}

static void test_fwd_cross_entropy_reference(void **s) {
    int64_t R = 4, V = 50;
    coco_tensor *x = tu_randn(47, 4.0f, 2, R, V);
    int32_t t[4] = {3, -100, 49, 0};
    coco_tensor *tg = tu_ids(4, t);
    coco_tape *tp = coco_tape_new();
    float L = coco_f32(coco_cross_entropy(tp, x, tg, -100))[0];
    double ref = 0;
    int cnt = 0;
    for (int64_t r = 0; r < R; r++) {
        if (t[r] == -100) continue;
        double m = -1e30, sum = 0;
        for (int64_t j = 0; j < V; j++) m = fmax(m, coco_f32(x)[r * V + j]);
        for (int64_t j = 0; j < V; j++) sum += exp(coco_f32(x)[r * V + j] - m);
        ref += m + log(sum) - coco_f32(x)[r * V + t[r]];
        cnt++;
    }
    ref /= cnt;
    assert_true(fabs(ref - L) < 1e-5 * fabs(ref));
    /* All rows ignored: NaN, as torch. */
    int32_t none[4] = {-100, -100, -100, -100};
    coco_tensor *tn = tu_ids(4, none);
    assert_true(isnan(coco_f32(coco_cross_entropy(tp, x, tn, -100))[0]));
    coco_tape_free(tp);
    coco_tensor_release(x), coco_tensor_release(tg), coco_tensor_release(tn);
}

/* Naive attention over the full cache in double, as HF's eager GPT-2 computes it. */
static void test_fwd_attention_reference(void **s) {
    int64_t B = 2, Tn = 4, H = 3, D = 5, C = H * D, Tmax = 9, t0 = 3, Tk = t0 + Tn;
    coco_tensor *qkv = tu_randn(50, 1.0f, 3, B, Tn, 3 * C);
    coco_tensor *K = tu_randn(51, 1.0f, 4, B, H, Tmax, D), *V = tu_randn(52, 1.0f, 4, B, H, Tmax, D);
    int32_t mv[14] = {1, 1, 1, 1, 1, 1, 1, /* row 1: pads at 0..3 -> query col 3 sees none */ 0, 0, 0, 0, 1, 1, 1};
    coco_tensor *mask = mask2(B, Tk, mv);
    coco_tape *tp = coco_tape_new();
    coco_tensor *out = coco_attention(tp, qkv, K, V, t0, mask, (int)H, 0.0f);
    double worst = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < Tn; i++) {
                double sc[16], mx = -1e300;
                const float *q = coco_f32(qkv) + (b * Tn + i) * 3 * C + h * D;
                int any = 0;
                for (int64_t j = 0; j <= t0 + i; j++) any |= mv[b * Tk + j];
                for (int64_t j = 0; j < Tk; j++) {
                    const float *k = j < t0 ? coco_f32(K) + ((b * H + h) * Tmax + j) * D
                                            : coco_f32(qkv) + (b * Tn + (j - t0)) * 3 * C + C + h * D;
                    double dot = 0;
                    for (int64_t e = 0; e < D; e++) dot += (double)q[e] * k[e];
                    sc[j] = dot / sqrt((double)D);
                    int ok = j <= t0 + i && (mv[b * Tk + j] || !any);
                    if (!any && ok) sc[j] = 0; /* uniform */
                    if (!ok) sc[j] = -INFINITY;
                    mx = fmax(mx, sc[j]);
                }
                double z = 0;
                for (int64_t j = 0; j < Tk; j++) z += exp(sc[j] - mx);
                for (int64_t e = 0; e < D; e++) {
                    double o = 0;
                    for (int64_t j = 0; j < Tk; j++) {
                        const float *v = j < t0 ? coco_f32(V) + ((b * H + h) * Tmax + j) * D
                                                : coco_f32(qkv) + (b * Tn + (j - t0)) * 3 * C + 2 * C + h * D;
                        o += exp(sc[j] - mx) / z * v[e];
                    }
                    worst = fmax(worst, fabs(o - coco_f32(out)[(b * Tn + i) * C + h * D + e]));
                }
            }
    assert_true(worst < 1e-5);
    coco_tape_free(tp);
    coco_tensor_release(qkv), coco_tensor_release(K), coco_tensor_release(V), coco_tensor_release(mask);
}

/* Chunked attention with the cache equals one pass over the whole sequence. */
static void test_attention_chunked_equals_full(void **s) {
    int64_t B = 2, T = 7, H = 2, D = 4, C = H * D;
    coco_tensor *qkv = tu_randn(60, 1.0f, 3, B, T, 3 * C);
    int32_t mv[14] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    coco_tensor *mask = mask2(B, T, mv);
    coco_tape *tp = coco_tape_new();
    coco_tensor *K = coco_tensor_zeros(4, (int64_t[]){B, H, T, D}), *V = coco_tensor_zeros(4, (int64_t[]){B, H, T, D});
    coco_tensor *full = coco_attention(tp, qkv, K, V, 0, mask, (int)H, 0.0f);
    coco_tensor *K2 = coco_tensor_zeros(4, (int64_t[]){B, H, T, D}), *V2 = coco_tensor_zeros(4, (int64_t[]){B, H, T, D});
    int64_t cuts[4] = {0, 3, 4, 7};
    for (int c = 0; c < 3; c++) {
        int64_t a = cuts[c], n = cuts[c + 1] - a;
        coco_tensor *part = coco_tape_tensor(tp, COCO_F32, 3, (int64_t[]){B, n, 3 * C});
        for (int64_t b = 0; b < B; b++)
            memcpy(coco_f32(part) + b * n * 3 * C, coco_f32(qkv) + (b * T + a) * 3 * C, (size_t)(n * 3 * C) * 4);
        coco_tensor *o = coco_attention(tp, part, K2, V2, a, mask, (int)H, 0.0f);
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < n * C; i++)
                assert_float_equal(coco_f32(o)[b * n * C + i], coco_f32(full)[(b * T + a) * C + i], 1e-6);
    }
    coco_tape_free(tp);
    coco_tensor_release(qkv), coco_tensor_release(mask), coco_tensor_release(K), coco_tensor_release(V);
    coco_tensor_release(K2), coco_tensor_release(V2);
}

/* ------------------------------------------------------------ autograd behaviour */

static void test_grad_accumulates(void **s) {
    /* y = sum(x + x): dx = 2; a second backward adds another 2. */
    coco_tensor *x = req(tu_randn(70, 1.0f, 1, (int64_t)4));
    coco_tape *tp = coco_tape_new();
    for (int rep = 1; rep <= 2; rep++) {
        coco_tape_reset(tp);
        coco_backward(tp, coco_sum(tp, coco_add(tp, x, x)));
        for (int i = 0; i < 4; i++) assert_float_equal(coco_f32(x->grad)[i], 2.0f * rep, 0);
    }
    coco_zero_grad(x);
    assert_float_equal(coco_f32(x->grad)[0], 0.0f, 0);
    coco_tape_free(tp);
    coco_tensor_release(x);
}

static void test_no_grad_records_nothing(void **s) {
    coco_tensor *x = req(tu_randn(71, 1.0f, 2, (int64_t)3, (int64_t)4));
    coco_tensor *W = req(tu_randn(72, 1.0f, 2, (int64_t)4, (int64_t)2));
    coco_tape *tp = coco_tape_new();
    coco_tape_set_grad_enabled(tp, 0);
    coco_tensor *y = coco_linear(tp, x, W, NULL);
    assert_int_equal(coco_tape_num_nodes(tp), 0);
    assert_int_equal(y->requires_grad, 0);
    coco_tape_set_grad_enabled(tp, 1);
    coco_linear(tp, x, W, NULL);
    assert_int_equal(coco_tape_num_nodes(tp), 1);
    coco_tape_free(tp);
    coco_tensor_release(x), coco_tensor_release(W);
}

/* A small transformer-like graph run twice at 2 threads: bitwise identical. */
static void run_graph(coco_tensor **p, float *out_loss, float *grads) {
    coco_tape *tp = coco_tape_new();
    coco_tape_set_seed(tp, 77);
    for (int i = 0; i < 5; i++) coco_zero_grad(p[i]);
    int64_t B = 4, T = 33, H = 4, C = 64;
    int32_t *ids = malloc((size_t)(B * T) * 4);
    for (int64_t i = 0; i < B * T; i++) ids[i] = (int32_t)((i * 7919) % 97);
    coco_tensor *idt = coco_tensor_new(COCO_I32, 2, (int64_t[]){B, T});
    memcpy(idt->data, ids, (size_t)(B * T) * 4);
    coco_tensor *x = coco_embedding(tp, idt, p[0]);
    x = coco_dropout(tp, x, 0.1f);
    coco_tensor *h = coco_layernorm(tp, x, p[3], p[4], 1e-5f);
    coco_tensor *qkv = coco_linear(tp, h, p[1], NULL);
    coco_tensor *K = coco_tape_tensor(tp, COCO_F32, 4, (int64_t[]){B, H, T, C / H});
    coco_tensor *V = coco_tape_tensor(tp, COCO_F32, 4, (int64_t[]){B, H, T, C / H});
    K->requires_grad = V->requires_grad = 0;
    coco_tensor *a = coco_attention(tp, qkv, K, V, 0, NULL, (int)H, 0.1f);
    a = coco_gelu(tp, coco_linear(tp, a, p[2], NULL));
    coco_tensor *logits = coco_linear_wt(tp, coco_add(tp, a, x), p[0], NULL);
    coco_tensor *tg = coco_tensor_new(COCO_I32, 1, (int64_t[]){B * T});
    for (int64_t i = 0; i < B * T; i++) coco_i32(tg)[i] = (i % 5 == 0) ? -100 : ids[(i + 1) % (B * T)];
    coco_tensor *loss = coco_cross_entropy(tp, logits, tg, -100);
    coco_backward(tp, loss);
    *out_loss = coco_f32(loss)[0];
    int64_t off = 0;
    for (int i = 0; i < 5; i++) {
        memcpy(grads + off, p[i]->grad->data, (size_t)p[i]->numel * 4);
        off += p[i]->numel;
    }
    coco_tensor_release(tg);
    coco_tensor_release(idt);
    free(ids);
    coco_tape_free(tp);
}

static void test_determinism(void **s) {
    int old = coco_threads();
    coco_set_threads(2);
    coco_tensor *p[5] = {req(tu_randn(80, 0.1f, 2, (int64_t)97, (int64_t)64)), req(tu_randn(81, 0.1f, 2, (int64_t)64, (int64_t)192)),
                         req(tu_randn(82, 0.1f, 2, (int64_t)64, (int64_t)64)), req(tu_randn(83, 1.0f, 1, (int64_t)64)),
                         req(tu_randn(84, 0.1f, 1, (int64_t)64))};
    int64_t total = 0;
    for (int i = 0; i < 5; i++) total += p[i]->numel;
    float *g1 = malloc((size_t)total * 4), *g2 = malloc((size_t)total * 4);
    float l1, l2;
    run_graph(p, &l1, g1);
    run_graph(p, &l2, g2);
    assert_true(isfinite(l1));
    assert_memory_equal(&l1, &l2, sizeof l1);
    assert_memory_equal(g1, g2, (size_t)total * 4);
    free(g1);
    free(g2);
    release_all(5, p);
    coco_set_threads(old);
}

/* ------------------------------------------------------------ bad input */

static void test_bad_input_messages(void **s) {
    coco_tape *tp = coco_tape_new();
    coco_tensor *x = tu_randn(90, 1.0f, 2, (int64_t)3, (int64_t)4), *W = tu_randn(91, 1.0f, 2, (int64_t)5, (int64_t)2);
    EXPECT_FAIL(coco_linear(tp, x, W, NULL), "linear: x [3,4] f32 has last dim 4 but weight [5,2] f32 expects 5 inputs");
    coco_tensor *b = tu_randn(92, 1.0f, 1, (int64_t)3);
    coco_tensor *W2 = tu_randn(93, 1.0f, 2, (int64_t)4, (int64_t)2);
    EXPECT_FAIL(coco_linear(tp, x, W2, b), "linear: bias [3] f32 must be [2]");
    EXPECT_FAIL(coco_add(tp, x, W), "add: shapes differ: a [3,4] f32, b [5,2] f32");
    coco_tensor *ids = tu_ids(2, (int32_t[]){1, 9});
    EXPECT_FAIL(coco_embedding(tp, ids, W), "embedding: id 9 at flat position 1 is outside the vocabulary [0, 5)");
    EXPECT_FAIL(coco_embedding(tp, x, W), "embedding: 'ids' must be i32");
    coco_tensor *tg = tu_ids(3, (int32_t[]){0, 7, -100});
    EXPECT_FAIL(coco_cross_entropy(tp, x, tg, -100), "cross_entropy: target 7 at row 1 is outside [0, 4)");
    coco_tensor *tg2 = tu_ids(2, (int32_t[]){0, 1});
    EXPECT_FAIL(coco_cross_entropy(tp, x, tg2, -100), "must have one entry per row");
    coco_tensor *qkv = tu_randn(94, 1.0f, 3, (int64_t)1, (int64_t)2, (int64_t)12);
    coco_tensor *K = coco_tensor_zeros(4, (int64_t[]){1, 2, 3, 2});
    EXPECT_FAIL(coco_attention(tp, qkv, K, K, 2, NULL, 2, 0.0f), "attention: span [2, 4) does not fit the cache of 3 columns");
    EXPECT_FAIL(coco_attention(tp, qkv, K, K, 0, NULL, 1, 0.0f), "attention: kcache [1,2,3,2] f32 must be [1,1,Tmax,4]");
    EXPECT_FAIL(coco_attention(tp, qkv, K, K, 0, NULL, 3, 0.0f), "attention: n_head 3 does not divide C = 4");
    EXPECT_FAIL(coco_layernorm(tp, x, b, NULL, 1e-5f), "layernorm: weight [3] f32 must be [4]");
    EXPECT_FAIL(coco_dropout(tp, x, 1.0f), "dropout: p = 1 must be in [0, 1)");
    coco_tensor *dup = tu_ids(2, (int32_t[]){1, 1});
    coco_tensor *src = tu_randn(95, 1.0f, 2, (int64_t)2, (int64_t)4);
    EXPECT_FAIL(coco_scatter_rows(tp, x, src, dup), "scatter_rows: row 1 appears twice");
    coco_tensor *xs[2] = {x, W};
    EXPECT_FAIL(coco_concat(tp, 2, xs, 1), "concat: tensor 2 is [5,2] f32, tensor 1 is [3,4] f32 (only axis 1 may differ)");
    coco_tensor *sc = coco_sum(tp, x);
    sc->requires_grad = 0;
    EXPECT_FAIL(coco_backward(tp, x), "backward: loss must be a scalar, got [3,4] f32");
    coco_set_error_handler(NULL, NULL);
    coco_tensor *all[] = {x, W, b, W2, ids, tg, tg2, qkv, K, dup, src};
    release_all(11, all);
    coco_tape_free(tp);
}

/* ------------------------------------------------------------ attention kernels at research sizes */

typedef struct attn_shape {
    int64_t B, H, D, t0, Tn; /* t0 = -1: no cache (span at column 0) */
    int masked;              /* pad a prefix of row 0's keys (a fully padded first query) and one key of row 1 */
} attn_shape;

/* fmax that does not drop a NaN error (it counts as infinite). */
static double worse(double worst, double err) { return isnan(err) ? INFINITY : fmax(worst, err); }

/* Forward and backward of one shape against a naive double-precision reference
 * (softmax, uniform rows for queries with no attendable key, gradients of
 * sum(out * G) for a random G); then the same run at 2 threads is bitwise equal. */
static void check_attention_shape(const attn_shape *sh) {
    int64_t B = sh->B, H = sh->H, D = sh->D, Tn = sh->Tn, C = H * D, C3 = 3 * C;
    int cached = sh->t0 >= 0;
    int64_t t0 = cached ? sh->t0 : 0, Tk = t0 + Tn, Tmax = Tk + 3;
    coco_tensor *qkv = req(tu_randn(200 + (uint64_t)D, 1.0f, 3, B, Tn, C3));
    coco_tensor *K0 = tu_randn(300 + (uint64_t)D, 1.0f, 4, B, H, Tmax, D), *V0 = tu_randn(400 + (uint64_t)D, 1.0f, 4, B, H, Tmax, D);
    coco_tensor *G = tu_randn(500 + (uint64_t)D, 1.0f, 3, B, Tn, C);
    coco_tensor *mask = NULL;
    int32_t *mv = malloc((size_t)(B * Tk) * 4);
    for (int64_t i = 0; i < B * Tk; i++) mv[i] = 1;
    if (sh->masked) {
        for (int64_t j = 0; j < Tk / 2 + 1; j++) mv[j] = 0;
        if (B > 1) mv[Tk + Tk / 3] = 0;
        mask = mask2(B, Tk, mv);
    }
    /* Reference. */
    int64_t nK = B * H * Tk * D;
    double *dq = calloc((size_t)(B * Tn * C), sizeof(double)), *dk = calloc((size_t)nK, sizeof(double));
    double *dv = calloc((size_t)nK, sizeof(double)), *ref = calloc((size_t)(B * Tn * C), sizeof(double));
    double *P = malloc((size_t)Tk * sizeof(double)), *dP = malloc((size_t)Tk * sizeof(double));
    const float *x = coco_f32(qkv), *g = coco_f32(G);
    double scale = 1.0 / sqrt((double)D);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
#define KEY(j) ((j) < t0 ? coco_f32(K0) + ((b * H + h) * Tmax + (j)) * D : x + (b * Tn + (j) - t0) * C3 + C + h * D)
#define VAL(j) ((j) < t0 ? coco_f32(V0) + ((b * H + h) * Tmax + (j)) * D : x + (b * Tn + (j) - t0) * C3 + 2 * C + h * D)
            for (int64_t i = 0; i < Tn; i++) {
                const float *q = x + (b * Tn + i) * C3 + h * D, *gi = g + (b * Tn + i) * C + h * D;
                int64_t lim = t0 + i;
                int any = 0;
                for (int64_t j = 0; j <= lim; j++) any |= mv[b * Tk + j];
                double mx = -INFINITY, z = 0, dot = 0;
                for (int64_t j = 0; j <= lim; j++) {
                    double s = 0;
                    for (int64_t e = 0; e < D; e++) s += (double)q[e] * KEY(j)[e];
                    P[j] = !any ? 0.0 : mv[b * Tk + j] ? s * scale : -INFINITY;
                    mx = fmax(mx, P[j]);
                }
                for (int64_t j = 0; j <= lim; j++) z += (P[j] = exp(P[j] - mx));
                for (int64_t j = 0; j <= lim; j++) {
                    P[j] /= z;
                    dP[j] = 0;
                    for (int64_t e = 0; e < D; e++) {
                        ref[(b * Tn + i) * C + h * D + e] += P[j] * VAL(j)[e];
                        dv[((b * H + h) * Tk + j) * D + e] += P[j] * gi[e];
                        dP[j] += (double)gi[e] * VAL(j)[e];
                    }
                    dot += P[j] * dP[j];
                }
                if (!any) continue;
                for (int64_t j = 0; j <= lim; j++) {
                    double ds = P[j] * (dP[j] - dot) * scale;
                    for (int64_t e = 0; e < D; e++) {
                        dq[(b * Tn + i) * C + h * D + e] += ds * KEY(j)[e];
                        dk[((b * H + h) * Tk + j) * D + e] += ds * q[e];
                    }
                }
            }
#undef KEY
#undef VAL
        }
    /* Run 0: 1 thread, checked against the reference. Run 1: 2 threads, bitwise
     * equal to run 0. Run 2: qkv and caches on the tape, so their gradients come
     * fresh (uninitialised) from the tape's pool, filled with NaN buffers before
     * the backward: every element must be written before it is accumulated into. */
    float *first_out = NULL, *first_g = NULL;
    int old = coco_threads();
    for (int run = 0; run < 3; run++) {
        coco_set_threads(run == 1 ? 2 : 1);
        coco_tape *tp = coco_tape_new();
        coco_tensor *K = NULL, *V = NULL, *xq = qkv;
        if (cached) {
            K = run == 2 ? coco_tape_tensor(tp, COCO_F32, 4, K0->shape) : coco_tensor_new(COCO_F32, 4, K0->shape);
            V = run == 2 ? coco_tape_tensor(tp, COCO_F32, 4, V0->shape) : coco_tensor_new(COCO_F32, 4, V0->shape);
            memcpy(K->data, K0->data, (size_t)K0->numel * 4);
            memcpy(V->data, V0->data, (size_t)V0->numel * 4);
        }
        if (run == 2) {
            xq = coco_tape_tensor(tp, COCO_F32, 3, qkv->shape);
            memcpy(xq->data, qkv->data, (size_t)qkv->numel * 4);
            xq->requires_grad = 1;
        }
        coco_zero_grad(qkv);
        coco_tensor *out = coco_attention(tp, xq, K, V, t0, mask, (int)H, 0.0f);
        if (run == 2) { /* every free pool buffer the gradients could come from is NaN */
            size_t sizes[3] = {(size_t)qkv->numel * 4, (size_t)K0->numel * 4, (size_t)K0->numel * 4};
            void *bufs[9];
            for (int k = 0; k < 9; k++) {
                bufs[k] = coco_tape_temp(tp, sizes[k % 3]);
                for (size_t e = 0; e < sizes[k % 3] / 4; e++) ((float *)bufs[k])[e] = NAN;
            }
            for (int k = 0; k < 9; k++) coco_tape_temp_free(tp, bufs[k]);
        }
        coco_backward_from(tp, out, G);
        const float *o = coco_f32(out), *gq = coco_f32(xq->grad);
        if (run != 1) {
            double worst = 0;
            for (int64_t b = 0; b < B; b++)
                for (int64_t i = 0; i < Tn; i++)
                    for (int64_t h = 0; h < H; h++)
                        for (int64_t e = 0; e < D; e++) {
                            int64_t r = (b * Tn + i) * C + h * D + e, kv = ((b * H + h) * Tk + t0 + i) * D + e;
                            const float *row = gq + (b * Tn + i) * C3 + h * D + e;
                            worst = worse(worst, fabs(o[r] - ref[r]) / (1 + fabs(ref[r])));
                            worst = worse(worst, fabs(row[0] - dq[r]) / (1 + fabs(dq[r])));
                            worst = worse(worst, fabs(row[C] - dk[kv]) / (1 + fabs(dk[kv])));
                            worst = worse(worst, fabs(row[2 * C] - dv[kv]) / (1 + fabs(dv[kv])));
                        }
            if (cached && K->grad) /* prefix columns in the cache grads, nothing at or past the span
                                    * (a pooled grad of a cache used from column 0 is given back) */
                for (int64_t bh = 0; bh < B * H; bh++)
                    for (int64_t j = 0; j < Tmax; j++)
                        for (int64_t e = 0; e < D; e++) {
                            float a = coco_f32(K->grad)[(bh * Tmax + j) * D + e], c = coco_f32(V->grad)[(bh * Tmax + j) * D + e];
                            double rk = j < t0 ? dk[(bh * Tk + j) * D + e] : 0, rv = j < t0 ? dv[(bh * Tk + j) * D + e] : 0;
                            worst = worse(worst, fabs(a - rk) / (1 + fabs(rk)));
                            worst = worse(worst, fabs(c - rv) / (1 + fabs(rv)));
                        }
            if (!(worst < 1e-4))
                fail_msg("attention B=%lld H=%lld D=%lld t0=%lld Tn=%lld masked=%d run %d: worst error %.3g", (long long)B,
                         (long long)H, (long long)D, (long long)sh->t0, (long long)Tn, sh->masked, run, worst);
        }
        if (run == 0) {
            first_out = malloc((size_t)out->numel * 4);
            first_g = malloc((size_t)qkv->numel * 4);
            memcpy(first_out, o, (size_t)out->numel * 4);
            memcpy(first_g, gq, (size_t)qkv->numel * 4);
        } else if (run == 1) {
            assert_memory_equal(first_out, o, (size_t)out->numel * 4);
            assert_memory_equal(first_g, gq, (size_t)qkv->numel * 4);
        }
        coco_tape_free(tp);
        if (cached && run != 2) {
            coco_tensor_release(K);
            coco_tensor_release(V);
        }
    }
    coco_set_threads(old);
    free(first_out), free(first_g), free(dq), free(dk), free(dv), free(ref), free(P), free(dP), free(mv);
    if (mask) coco_tensor_release(mask);
    coco_tensor_release(qkv), coco_tensor_release(K0), coco_tensor_release(V0), coco_tensor_release(G);
}

/* Head sizes that are and are not multiples of the vector width, several query
 * blocks (Tn > 64), one query over a cache (the latent passes), padded keys. */
static void test_attention_kernel_shapes(void **s) {
    static const attn_shape shapes[] = {
        {2, 2, 32, -1, 80, 1},  /* two query blocks, no cache */
        {2, 1, 96, 5, 67, 1},   /* D = 96 over a prefix */
        {2, 2, 13, -1, 70, 1},  /* D not a multiple of 8 */
        {3, 2, 8, 40, 1, 1},    /* one query over a cache */
        {2, 3, 20, 10, 3, 1},   /* a few queries over a cache, D = 16 + 4 */
        {1, 2, 37, 0, 9, 0},    /* odd D, cache from column 0 */
        {2, 2, 24, 7, 17, 1},   /* D = 16 + 8 */
        {2, 1, 64, 50, 30, 0},  /* the Coconut pass after the thoughts */
        {1, 1, 128, 3, 66, 1},  /* GPT-2 XL's head size */
        {2, 4, 2, -1, 19, 1},   /* tiny heads */
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) check_attention_shape(&shapes[k]);
    /* Finite differences (with dropout) on the vector paths with a tail. */
    int64_t B = 1, Tn = 9, H = 1, D = 10, C = H * D;
    coco_tensor *in[1] = {req(tu_randn(600, 1.0f, 3, B, Tn, 3 * C))};
    attn_case c = {0, (int)H, 0.2f, NULL};
    check_op("attention(D=10, dropout)", "attention", f_attention_nc, 1, in, &c);
    coco_tensor *inc[3] = {req(tu_randn(601, 1.0f, 3, B, (int64_t)2, 3 * C)), req(tu_randn(602, 1.0f, 4, B, H, (int64_t)9, D)),
                           req(tu_randn(603, 1.0f, 4, B, H, (int64_t)9, D))};
    attn_case c2 = {6, (int)H, 0.2f, NULL};
    check_op("attention(D=10, Tn=2 over a cache, dropout)", "attention", f_attention, 3, inc, &c2);
    release_all(1, in);
    release_all(3, inc);
}

int main(void) {
    coco_runtime_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_embedding),
        cmocka_unit_test(test_grad_linear),
        cmocka_unit_test(test_grad_linear_wt),
        cmocka_unit_test(test_grad_gelu_linear),
        cmocka_unit_test(test_grad_linear_add),
        cmocka_unit_test(test_grad_slice_reshape),
        cmocka_unit_test(test_grad_layernorm),
        cmocka_unit_test(test_grad_ln_linear),
        cmocka_unit_test(test_grad_gelu),
        cmocka_unit_test(test_grad_add_sum_mean_scale),
        cmocka_unit_test(test_grad_cross_entropy),
        cmocka_unit_test(test_lm_head_ce),
        cmocka_unit_test(test_label_sets_reference),
        cmocka_unit_test(test_grad_label_sets),
        cmocka_unit_test(test_label_set_of_one_is_ce),
        cmocka_unit_test(test_label_sets_bad_input),
        cmocka_unit_test(test_grad_gather_scatter),
        cmocka_unit_test(test_grad_concat),
        cmocka_unit_test(test_grad_sigmoid_bce),
        cmocka_unit_test(test_grad_dropout),
        cmocka_unit_test(test_grad_attention_prefix),
        cmocka_unit_test(test_attention_no_cache),
        cmocka_unit_test(test_fwd_linear_reference),
        cmocka_unit_test(test_fwd_layernorm_gelu_reference),
        cmocka_unit_test(test_fwd_cross_entropy_reference),
        cmocka_unit_test(test_fwd_attention_reference),
        cmocka_unit_test(test_attention_chunked_equals_full),
        cmocka_unit_test(test_attention_kernel_shapes),
        cmocka_unit_test(test_grad_accumulates),
        cmocka_unit_test(test_no_grad_records_nothing),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_bad_input_messages),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}

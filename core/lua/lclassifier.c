/* lclassifier.c — coconut.classifier: a small binary classifier trained with
 * weighted binary cross-entropy on the autograd core (issue 16: the learned
 * <eot> policy's P(stop); plugins/eot/learned.c evaluates the same model).
 *
 *   coconut.classifier.new{kind = "logistic" | "mlp", d_in =, hidden = 32, seed = 0,
 *                          lr = 1e-2, weight_decay = 0}                    -> c
 *   c:fit_normalization(X)   per-feature mean and std of X over its rows into
 *                            norm.mean / norm.std (std < 1e-6 -> 1); before it: 0 / 1
 *   c:step(X, y [, {pos_weight = 1, neg_weight = 1}]) -> loss, grad_norm
 *                            loss (before the update) on the tape, backward, one AdamW step
 *   c:loss(X, y [, {pos_weight =, neg_weight =}]) -> loss   (no gradients)
 *   c:logits(X) -> Tensor [N]                               (no gradients)
 *   c:params() -> {name = Tensor} (shared with c: norm.mean, norm.std, then the trained ones)
 *   c:config() -> {kind =, d_in =, hidden =}
 *   c:close()
 *
 * Shapes: X is an f32 Tensor [N, d_in] (N >= 1); y a list of N numbers or an f32
 * Tensor [N], each 0 (continue) or 1 (stop).
 * Model ([in, out] weights, as coco_linear):  z = (x - norm.mean) / norm.std
 *   logistic: logit = z out.weight + out.bias            out.weight [d_in, 1], out.bias [1]
 *   mlp:      logit = gelu(z fc1.weight + fc1.bias) out.weight + out.bias
 *             fc1.weight [d_in, H], fc1.bias [H], out.weight [H, 1], out.bias [1]
 *   (gelu = GPT-2's tanh approximation, coco_gelu.)
 * Loss: the class-weighted mean (1/N) sum_i w_i BCE(logit_i, y_i), w_i = pos_weight
 * for y_i = 1 and neg_weight for y_i = 0, built from existing ops: the rows of
 * each class are gathered (coco_gather_rows), scored by coco_bce_with_logits
 * (a mean) and the two means added with weights w_c n_c / N (coco_scale, coco_add).
 * Initialisation (seeded): fc1.weight ~ N(0, 1/d_in), out.weight ~ N(0, 1/H) for
 * the MLP, zeros for logistic regression, biases 0. AdamW (coconut/optim.h).
 * Misuse (wrong shapes, labels other than 0/1, non-finite X) raises naming the
 * argument; nothing is half-updated (checks run before the tape).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/autograd.h"
#include "coconut/ops.h"
#include "coconut/optim.h"
#include "lcoco.h"

#define LCOCO_CLASSIFIER "coconut.Classifier"

enum { CLF_LOGISTIC = 0, CLF_MLP = 1 };

typedef struct lclf {
    int kind, d_in, hidden;
    coco_tensor *mean, *std; /* [d_in], not trained */
    int np;
    coco_tensor *p[4]; /* trained: (fc1.weight, fc1.bias,) out.weight, out.bias */
    const char *names[4];
    coco_tape *tp;
    coco_adamw *opt;
} lclf;

static lclf *check_clf(lua_State *L, int i) {
    lclf *c = luaL_checkudata(L, i, LCOCO_CLASSIFIER);
    if (!c->tp) luaL_argerror(L, i, "classifier was closed");
    return c;
}

static coco_tensor *param(int64_t r, int64_t cols, uint64_t seed, float std) {
    int64_t shape[2] = {r, cols};
    int nd = cols ? 2 : 1;
    coco_tensor *t = std > 0 ? coco_tensor_randn(nd, shape, seed, std) : coco_tensor_new(COCO_F32, nd, shape);
    t->requires_grad = 1;
    return t;
}

static int l_new(lua_State *L) {
    LCOCO_ENTER(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"kind", "d_in", "hidden", "seed", "lr", "weight_decay", NULL};
    const char *w = "classifier.new";
    lcoco_check_keys(L, 1, keys, w);
    const char *kind = lcoco_opt_str(L, 1, "kind", "logistic", w);
    int k;
    if (!strcmp(kind, "logistic")) k = CLF_LOGISTIC;
    else if (!strcmp(kind, "mlp")) k = CLF_MLP;
    else return lcoco_errorf(L, "classifier.new: kind = '%s', expected logistic or mlp", kind);
    int d_in = lcoco_opt_int(L, 1, "d_in", -1, w);
    if (d_in < 1) return lcoco_errorf(L, "classifier.new: d_in (the feature width) must be an integer >= 1");
    int hidden = lcoco_opt_int(L, 1, "hidden", 32, w);
    if (k == CLF_MLP && hidden < 1) return lcoco_errorf(L, "classifier.new: hidden = %d must be >= 1", hidden);
    int seed = lcoco_opt_int(L, 1, "seed", 0, w);
    coco_adamw_config cfg = coco_adamw_defaults();
    cfg.lr = lcoco_opt_num(L, 1, "lr", 1e-2, w);
    cfg.weight_decay = lcoco_opt_num(L, 1, "weight_decay", 0.0, w);
    if (!(cfg.lr > 0) || !(cfg.weight_decay >= 0)) return lcoco_errorf(L, "classifier.new: lr must be > 0 and weight_decay >= 0");
    lclf *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, LCOCO_CLASSIFIER);
    c->kind = k;
    c->d_in = d_in;
    c->hidden = k == CLF_MLP ? hidden : 0;
    c->mean = coco_tensor_new(COCO_F32, 1, (int64_t[]){d_in});
    c->std = coco_tensor_new(COCO_F32, 1, (int64_t[]){d_in});
    coco_tensor_fill(c->std, 1.0f);
    uint64_t s = (uint64_t)(int64_t)seed * 2654435761u + 17u;
    if (k == CLF_MLP) {
        c->p[0] = param(d_in, hidden, s, (float)(1.0 / sqrt((double)d_in)));
        c->p[1] = param(hidden, 0, 0, 0);
        c->p[2] = param(hidden, 1, s + 1, (float)(1.0 / sqrt((double)hidden)));
        c->p[3] = param(1, 0, 0, 0);
        c->names[0] = "fc1.weight", c->names[1] = "fc1.bias", c->names[2] = "out.weight", c->names[3] = "out.bias";
        c->np = 4;
    } else {
        c->p[0] = param(d_in, 1, 0, 0);
        c->p[1] = param(1, 0, 0, 0);
        c->names[0] = "out.weight", c->names[1] = "out.bias";
        c->np = 2;
    }
    c->tp = coco_tape_new();
    c->opt = coco_adamw_new(c->np, c->p, c->names, &cfg);
    return 1;
}

/* X [N, d_in], f32, finite. */
static coco_tensor *check_x(lua_State *L, lclf *c, int idx) {
    coco_tensor *X = lcoco_check_tensor(L, idx);
    if (X->dtype != COCO_F32 || X->ndim != 2 || X->shape[1] != c->d_in || X->shape[0] < 1) {
        char buf[64];
        lcoco_errorf(L, "classifier: X must be an f32 tensor [N, %d] with N >= 1, got %s", c->d_in,
                     coco_shape_str(X, buf, sizeof buf));
        return NULL;
    }
    for (int64_t i = 0; i < X->numel; i++)
        if (!isfinite(coco_f32(X)[i]))
            lcoco_errorf(L, "classifier: X row %lld, column %lld is not finite", (long long)(i / c->d_in + 1),
                         (long long)(i % c->d_in + 1));
    return X;
}

/* y (list or f32 tensor [N]) -> malloc'ed 0/1 floats (checked before the allocation). */
static double y_at(lua_State *L, int idx, const coco_tensor *t, int64_t i, int *isnum) {
    *isnum = 1;
    if (t) return coco_f32(t)[i];
    lua_geti(L, idx, i + 1);
    double v = lua_tonumberx(L, -1, isnum);
    lua_pop(L, 1);
    return v;
}

static float *check_y(lua_State *L, int idx, int64_t N) {
    coco_tensor *t = lcoco_opt_tensor(L, idx);
    int64_t n = t ? t->numel : (lua_istable(L, idx) ? (int64_t)luaL_len(L, idx) : -1);
    if (n != N || (t && t->dtype != COCO_F32))
        lcoco_errorf(L, "classifier: y must be a list (or f32 tensor) of %lld labels, one per row of X", (long long)N);
    int isnum;
    for (int64_t i = 0; i < N; i++) {
        double v = y_at(L, idx, t, i, &isnum);
        if (!isnum) lcoco_errorf(L, "classifier: y[%lld] is not a number; labels are 0 (continue) or 1 (stop)", (long long)(i + 1));
        if (v != 0.0 && v != 1.0) lcoco_errorf(L, "classifier: y[%lld] = %g; labels are 0 (continue) or 1 (stop)", (long long)(i + 1), v);
    }
    float *y = malloc(sizeof(float) * (size_t)N);
    for (int64_t i = 0; i < N; i++) y[i] = (float)y_at(L, idx, t, i, &isnum);
    return y;
}

static void class_weights(lua_State *L, int idx, double *wp, double *wn) {
    *wp = *wn = 1.0;
    if (lua_isnoneornil(L, idx)) return;
    static const char *const keys[] = {"pos_weight", "neg_weight", NULL};
    lcoco_check_keys(L, idx, keys, "classifier loss options");
    *wp = lcoco_opt_num(L, idx, "pos_weight", 1.0, "classifier loss options");
    *wn = lcoco_opt_num(L, idx, "neg_weight", 1.0, "classifier loss options");
    if (!(*wp >= 0 && *wn >= 0 && isfinite(*wp) && isfinite(*wn))) lcoco_errorf(L, "classifier: class weights must be finite and >= 0");
}

/* Logits [N, 1] of X on the tape (recorded when grad is on). */
static coco_tensor *forward(lclf *c, const coco_tensor *X) {
    coco_tape *tp = c->tp;
    int64_t N = X->shape[0], D = c->d_in;
    coco_tensor *Z = coco_tape_tensor(tp, COCO_F32, 2, (int64_t[]){N, D});
    Z->requires_grad = 0;
    const float *x = coco_f32(X), *mu = coco_f32(c->mean), *sd = coco_f32(c->std);
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < D; j++) coco_f32(Z)[i * D + j] = (x[i * D + j] - mu[j]) / sd[j];
    if (c->kind == CLF_MLP) {
        coco_tensor *A = coco_linear(tp, Z, c->p[0], c->p[1]); /* [N, H] */
        return coco_gelu_linear(tp, A, c->p[2], c->p[3]);      /* gelu(A) out.weight + out.bias: [N, 1] */
    }
    return coco_linear(tp, Z, c->p[0], c->p[1]);
}

/* The class-weighted mean BCE (scalar on the tape). */
static coco_tensor *weighted_bce(lclf *c, coco_tensor *logits, const float *y, int64_t N, double wp, double wn) {
    coco_tape *tp = c->tp;
    int64_t npos = 0;
    for (int64_t i = 0; i < N; i++) npos += y[i] == 1.0f;
    coco_tensor *loss = NULL;
    for (int cls = 1; cls >= 0; cls--) {
        int64_t m = cls ? npos : N - npos;
        double w = cls ? wp : wn;
        if (m == 0) continue;
        coco_tensor *idx = coco_tape_tensor(tp, COCO_I32, 1, (int64_t[]){m});
        coco_tensor *tgt = coco_tape_tensor(tp, COCO_F32, 2, (int64_t[]){m, 1});
        int64_t k = 0;
        for (int64_t i = 0; i < N; i++)
            if ((y[i] == 1.0f) == cls) coco_i32(idx)[k++] = (int32_t)i;
        coco_tensor_fill(tgt, (float)cls);
        coco_tensor *part = coco_bce_with_logits(tp, coco_gather_rows(tp, logits, idx), tgt);
        part = coco_scale(tp, part, (float)(w * (double)m / (double)N));
        loss = loss ? coco_add(tp, loss, part) : part;
    }
    return loss;
}

static int c_step(lua_State *L) {
    LCOCO_ENTER(L);
    lclf *c = check_clf(L, 1);
    coco_tensor *X = check_x(L, c, 2);
    double wp, wn;
    class_weights(L, 4, &wp, &wn);
    int64_t N = X->shape[0];
    float *y = check_y(L, 3, N);
    coco_tape_reset(c->tp);
    coco_tape_set_grad_enabled(c->tp, 1);
    for (int i = 0; i < c->np; i++) coco_zero_grad(c->p[i]);
    coco_tensor *loss = weighted_bce(c, forward(c, X), y, N, wp, wn);
    free(y);
    double l = coco_f32(loss)[0];
    if (!isfinite(l)) {
        coco_tape_reset(c->tp);
        return lcoco_errorf(L, "classifier step: loss is %g; parameters left unchanged", l);
    }
    coco_backward(c->tp, loss);
    double gn = coco_adamw_step(c->opt);
    coco_tape_reset(c->tp);
    if (isnan(gn)) return lcoco_errorf(L, "classifier step: gradients contain NaN/Inf; parameters left unchanged");
    lua_pushnumber(L, l);
    lua_pushnumber(L, gn);
    return 2;
}

static int c_loss(lua_State *L) {
    LCOCO_ENTER(L);
    lclf *c = check_clf(L, 1);
    coco_tensor *X = check_x(L, c, 2);
    double wp, wn;
    class_weights(L, 4, &wp, &wn);
    int64_t N = X->shape[0];
    float *y = check_y(L, 3, N);
    coco_tape_reset(c->tp);
    coco_tape_set_grad_enabled(c->tp, 0);
    coco_tensor *loss = weighted_bce(c, forward(c, X), y, N, wp, wn);
    free(y);
    lua_pushnumber(L, coco_f32(loss)[0]);
    coco_tape_reset(c->tp);
    return 1;
}

static int c_logits(lua_State *L) {
    LCOCO_ENTER(L);
    lclf *c = check_clf(L, 1);
    coco_tensor *X = check_x(L, c, 2);
    coco_tape_reset(c->tp);
    coco_tape_set_grad_enabled(c->tp, 0);
    coco_tensor *lg = forward(c, X);
    coco_tensor *out = coco_tensor_new(COCO_F32, 1, (int64_t[]){X->shape[0]});
    memcpy(out->data, lg->data, sizeof(float) * (size_t)X->shape[0]);
    coco_tape_reset(c->tp);
    lcoco_push_tensor(L, out);
    return 1;
}

static int c_fit_normalization(lua_State *L) {
    LCOCO_ENTER(L);
    lclf *c = check_clf(L, 1);
    coco_tensor *X = check_x(L, c, 2);
    int64_t N = X->shape[0], D = c->d_in;
    for (int64_t j = 0; j < D; j++) {
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < N; i++) s += coco_f32(X)[i * D + j];
        double mu = s / (double)N;
        for (int64_t i = 0; i < N; i++) {
            double e = coco_f32(X)[i * D + j] - mu;
            s2 += e * e;
        }
        double sd = sqrt(s2 / (double)N);
        coco_f32(c->mean)[j] = (float)mu;
        coco_f32(c->std)[j] = sd < 1e-6 ? 1.0f : (float)sd; /* a constant feature is left unscaled */
    }
    return 0;
}

static int c_params(lua_State *L) {
    lclf *c = check_clf(L, 1);
    lua_createtable(L, 0, c->np + 2);
    lcoco_push_tensor(L, coco_tensor_retain(c->mean));
    lua_setfield(L, -2, "norm.mean");
    lcoco_push_tensor(L, coco_tensor_retain(c->std));
    lua_setfield(L, -2, "norm.std");
    for (int i = 0; i < c->np; i++) {
        lcoco_push_tensor(L, coco_tensor_retain(c->p[i]));
        lua_setfield(L, -2, c->names[i]);
    }
    return 1;
}

static int c_config(lua_State *L) {
    lclf *c = check_clf(L, 1);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, c->kind == CLF_MLP ? "mlp" : "logistic");
    lua_setfield(L, -2, "kind");
    lua_pushinteger(L, c->d_in);
    lua_setfield(L, -2, "d_in");
    lua_pushinteger(L, c->hidden);
    lua_setfield(L, -2, "hidden");
    return 1;
}

static int c_gc(lua_State *L) {
    lclf *c = luaL_checkudata(L, 1, LCOCO_CLASSIFIER);
    if (!c->tp) return 0;
    coco_adamw_free(c->opt);
    coco_tape_free(c->tp);
    for (int i = 0; i < c->np; i++) coco_tensor_release(c->p[i]);
    coco_tensor_release(c->mean);
    coco_tensor_release(c->std);
    c->tp = NULL;
    c->opt = NULL;
    return 0;
}

static int c_tostring(lua_State *L) {
    lclf *c = luaL_checkudata(L, 1, LCOCO_CLASSIFIER);
    if (!c->tp) lua_pushstring(L, "coconut.Classifier (closed)");
    else if (c->kind == CLF_MLP) lua_pushfstring(L, "coconut.Classifier mlp d_in=%d hidden=%d", c->d_in, c->hidden);
    else lua_pushfstring(L, "coconut.Classifier logistic d_in=%d", c->d_in);
    return 1;
}

void lcoco_open_classifier(lua_State *L) {
    static const luaL_Reg m[] = {{"step", c_step},     {"loss", c_loss},     {"logits", c_logits},
                                 {"fit_normalization", c_fit_normalization}, {"params", c_params},
                                 {"config", c_config}, {"close", c_gc},      {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", c_gc}, {"__close", c_gc}, {"__tostring", c_tostring}, {NULL, NULL}};
    lcoco_newclass(L, LCOCO_CLASSIFIER, m, meta);
    static const luaL_Reg f[] = {{"new", l_new}, {NULL, NULL}};
    luaL_newlib(L, f);
    lua_setfield(L, -2, "classifier");
}

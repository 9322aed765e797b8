/* ops_loss.c — softmax cross-entropy with ignore index, mean over counted rows;
 * optionally with set-valued targets (coco_label_sets) on some rows. */
#include "ops_internal.h"

/* ------------------------------------------------------------------ label sets */

/* What a loss keeps of its label sets. The arrays are copied onto the tape
 * (the caller's may be gone by backward). */
typedef struct set_plan {
    int32_t *of;  /* [rows] index of the set scoring each row, -1 for none; NULL when there are no sets */
    int32_t *off; /* [n+1] */
    int32_t *ids; /* [off[n]] */
    float *q;     /* [off[n]] q_v = p_v / sum_{u in S} p_u of each set's ids, filled by the forward */
    int64_t n;
} set_plan;

/* Checks the sets against rows, V and the plain targets (rules in ops.h) and
 * copies them. No sets: a zeroed plan. */
static void set_plan_build(coco_tape *tp, const char *op, const coco_label_sets *s, int64_t rows, int64_t V,
                           const int32_t *tg, int ignore, set_plan *pl) {
    memset(pl, 0, sizeof *pl);
    if (!s || s->n == 0) return;
    if (s->n < 0 || !s->row || !s->off || !s->ids) coco_fail("%s: label sets: n = %lld with missing arrays", op, (long long)s->n);
    int64_t n = s->n;
    if (s->off[0] != 0) coco_fail("%s: label sets: off[0] = %d must be 0", op, s->off[0]);
    for (int64_t i = 0; i < n; i++) {
        int32_t r = s->row[i];
        if (r < 0 || r >= rows)
            coco_fail("%s: label set %lld scores row %d, outside [0, %lld)", op, (long long)i, r, (long long)rows);
        if (i > 0 && r <= s->row[i - 1])
            coco_fail("%s: label set %lld scores row %d after set %lld scored row %d; rows must be strictly increasing "
                      "(one set per row)", op, (long long)i, r, (long long)(i - 1), s->row[i - 1]);
        if (tg[r] != ignore)
            coco_fail("%s: row %d has target %d and label set %lld; a row with a set must have target ignore_index %d", op,
                      r, tg[r], (long long)i, ignore);
        if (s->off[i + 1] <= s->off[i]) coco_fail("%s: label set %lld (row %d) is empty", op, (long long)i, r);
    }
    int64_t K = s->off[n];
    pl->n = n;
    pl->of = coco_tape_alloc(tp, sizeof(int32_t) * (size_t)rows);
    pl->off = coco_tape_alloc(tp, sizeof(int32_t) * (size_t)(n + 1));
    pl->ids = coco_tape_alloc(tp, sizeof(int32_t) * (size_t)K);
    pl->q = coco_tape_alloc(tp, sizeof(float) * (size_t)K);
    for (int64_t r = 0; r < rows; r++) pl->of[r] = -1;
    memcpy(pl->off, s->off, sizeof(int32_t) * (size_t)(n + 1));
    memcpy(pl->ids, s->ids, sizeof(int32_t) * (size_t)K);
    /* Duplicates: seen[v] holds the last set that contained v (one pass, no sorting). */
    int32_t *seen = coco_tape_temp(tp, sizeof(int32_t) * (size_t)V);
    for (int64_t v = 0; v < V; v++) seen[v] = -1;
    for (int64_t i = 0; i < n; i++) {
        pl->of[s->row[i]] = (int32_t)i;
        for (int32_t k = s->off[i]; k < s->off[i + 1]; k++) {
            int32_t v = s->ids[k];
            if (v < 0 || v >= V) {
                coco_tape_temp_free(tp, seen);
                coco_fail("%s: label set %lld (row %d): id %d is outside [0, %lld)", op, (long long)i, s->row[i], v,
                          (long long)V);
            }
            if (seen[v] == (int32_t)i) {
                coco_tape_temp_free(tp, seen);
                coco_fail("%s: label set %lld (row %d): id %d appears twice", op, (long long)i, s->row[i], v);
            }
            seen[v] = (int32_t)i;
        }
    }
    coco_tape_temp_free(tp, seen);
}

/* Loss of a row x [V] with log-sum-exp lse against the set ids[0..k):
 * lse - log sum_{v in S} exp(x_v). Also fills q[i] = p_{ids[i]} / P(S) =
 * exp(x_v - lse_S), the set's share of the gradient. For k = 1 this is
 * lse - x_t and q = 1, the plain cross-entropy's floats. */
static float set_row_loss(const float *x, float lse, const int32_t *ids, int32_t k, float *q) {
    float mx = -INFINITY;
    for (int32_t i = 0; i < k; i++) mx = x[ids[i]] > mx ? x[ids[i]] : mx;
    float s = 0.0f;
    for (int32_t i = 0; i < k; i++) s += expf(x[ids[i]] - mx);
    float lse_s = mx + logf(s);
    for (int32_t i = 0; i < k; i++) q[i] = expf(x[ids[i]] - lse_s);
    return lse - lse_s;
}

/* The set index scoring row r, -1 for none. */
static inline int32_t set_of(const set_plan *pl, int64_t r) { return pl->of ? pl->of[r] : -1; }

/* ------------------------------------------------------------------ cross-entropy */

typedef struct ce_saved {
    float *lse;       /* [rows] log-sum-exp of each row */
    int32_t *target;  /* [rows] copy of the targets */
    int64_t count;    /* rows that count (plain targets + sets) */
    set_plan sets;
} ce_saved;

typedef struct ce_ctx {
    const float *x;   /* logits [rows, V] */
    float *lse;       /* [rows] */
    const int32_t *target;
    const set_plan *sets;
    float *rowloss;   /* forward: [rows] */
    float *dx;        /* backward: [rows, V] */
    int64_t V;
    int ignore, fresh;
    float g;
} ce_ctx;

static void ce_fwd_rows(void *c_, int64_t lo, int64_t hi) {
    const ce_ctx *c = c_;
    const set_plan *sp = c->sets;
    for (int64_t r = lo; r < hi; r++) {
        const float *xr = c->x + r * c->V;
        float lse = coco_row_lse(xr, c->V);
        c->lse[r] = lse;
        int32_t s = set_of(sp, r);
        if (s >= 0)
            c->rowloss[r] = set_row_loss(xr, lse, sp->ids + sp->off[s], sp->off[s + 1] - sp->off[s], sp->q + sp->off[s]);
        else
            c->rowloss[r] = c->target[r] == c->ignore ? 0.0f : lse - xr[c->target[r]];
    }
}

/* d x = g (softmax(x) - onehot(t)), or for a set g (softmax(x) - q on S). */
static void ce_bwd_rows(void *c_, int64_t lo, int64_t hi) {
    const ce_ctx *c = c_;
    const set_plan *sp = c->sets;
    int64_t V = c->V;
    float g = c->g;
    for (int64_t r = lo; r < hi; r++) {
        float *d = c->dx + r * V;
        const float *xr = c->x + r * V;
        int32_t t = c->target[r], s = set_of(sp, r);
        if (t == c->ignore && s < 0) {
            if (c->fresh) memset(d, 0, (size_t)V * 4);
            continue;
        }
        float lse = c->lse[r];
        if (c->fresh) {
#pragma omp simd
            for (int64_t j = 0; j < V; j++) d[j] = g * expf(xr[j] - lse);
        } else {
#pragma omp simd
            for (int64_t j = 0; j < V; j++) d[j] += g * expf(xr[j] - lse);
        }
        if (s < 0) {
            d[t] -= g;
        } else {
            for (int32_t k = sp->off[s]; k < sp->off[s + 1]; k++) d[sp->ids[k]] -= g * sp->q[k];
        }
    }
}

static void ce_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *x = n->in[0];
    int fresh;
    float *dx = coco_grad_acc(tp, x, &fresh);
    if (!dx) return;
    const ce_saved *sv = n->saved;
    int64_t rows = coco_tensor_rows(x), V = coco_tensor_cols(x);
    int ignore = (int)n->i[0];
    float g = sv->count ? coco_f32(n->out->grad)[0] / (float)sv->count : 0.0f;
    ce_ctx c = {coco_f32(x), sv->lse, sv->target, &sv->sets, NULL, dx, V, ignore, fresh, g};
    par_for(rows, 4 * V, ce_bwd_rows, &c);
}

coco_tensor *coco_cross_entropy_sets(coco_tape *tp, coco_tensor *logits, const coco_tensor *targets, int ignore_index,
                                     const coco_label_sets *sets) {
    char a[96], b[96];
    coco_check_dtype(logits, COCO_F32, "cross_entropy", "logits");
    coco_check_dtype(targets, COCO_I32, "cross_entropy", "targets");
    coco_check_ndim(logits, 1, COCO_MAX_DIMS, "cross_entropy", "logits");
    int64_t rows = coco_tensor_rows(logits), V = coco_tensor_cols(logits);
    if (targets->numel != rows)
        coco_fail("cross_entropy: targets %s must have one entry per row of logits %s (%lld rows)", SHAPE(targets, a),
                  SHAPE(logits, b), (long long)rows);
    const int32_t *tg = coco_i32(targets);
    int64_t count = 0;
    for (int64_t r = 0; r < rows; r++) {
        if (tg[r] == ignore_index) continue;
        if (tg[r] < 0 || tg[r] >= V)
            coco_fail("cross_entropy: target %d at row %lld is outside [0, %lld) and is not ignore_index %d", tg[r],
                      (long long)r, (long long)V, ignore_index);
        count++;
    }
    PROF_BEGIN();
    ce_saved *sv = coco_tape_alloc(tp, sizeof *sv);
    set_plan_build(tp, "cross_entropy", sets, rows, V, tg, ignore_index, &sv->sets);
    count += sv->sets.n;
    sv->lse = coco_tape_alloc(tp, (size_t)rows * 4);
    sv->target = coco_tape_alloc(tp, (size_t)rows * 4);
    memcpy(sv->target, tg, (size_t)rows * 4);
    sv->count = count;
    float *rowloss = coco_tape_alloc(tp, (size_t)rows * 4);
    ce_ctx c = {coco_f32(logits), sv->lse, sv->target, &sv->sets, rowloss, NULL, V, ignore_index, 1, 0.0f};
    par_for(rows, 4 * V, ce_fwd_rows, &c);
    double total = 0.0;
    for (int64_t r = 0; r < rows; r++) total += rowloss[r];
    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, 0, NULL);
    coco_f32(out)[0] = count ? (float)(total / (double)count) : NAN;
    coco_tensor *in[1] = {logits};
    if (coco_tape_needs_grad(tp, 1, in)) {
        coco_node *n = coco_tape_record(tp, "cross_entropy", ce_bwd, out, 1, in);
        n->saved = sv;
        n->i[0] = ignore_index;
    }
    PROF_END("cross_entropy", 0);
    return out;
}

coco_tensor *coco_cross_entropy(coco_tape *tp, coco_tensor *logits, const coco_tensor *targets, int ignore_index) {
    return coco_cross_entropy_sets(tp, logits, targets, ignore_index, NULL);
}

/* ------------------------------------------------------------------ fused LM head + CE */

/* loss = mean over scored rows r (targets[r] != ignore, or a label set) of
 * CE(h[r] W^T, targets[r]) or the set loss. Only scored rows are multiplied by
 * the head, in chunks, and the [rows, V] logits never exist. Because the loss is
 * a scalar whose upstream gradient is a single number g, the gradients are
 * formed during the forward for g = 1 and only scaled in backward: dh (scored
 * rows, [Nc, d]) and dW ([V, d]). */
typedef struct lmce_saved {
    int32_t *rows; /* [Nc] scored row indices */
    int64_t nc;
    float *dh;     /* [Nc, d] gradient of the rows for g = 1 (NULL without grad) */
    float *dW;     /* [V, d] */
} lmce_saved;

#define LMCE_CHUNK 256

/* Per chunk row: the row's loss, and (rec) its logits turned into
 * d loss / d logits for g = 1. */
typedef struct lmce_ctx {
    float *lg;            /* [m, V] */
    const int32_t *tg;    /* all targets */
    const int32_t *rows;  /* the chunk's row indices */
    const set_plan *sets;
    float *rl;            /* [m] */
    int64_t V;
    int rec;
    float inv;
} lmce_ctx;

static void lmce_rows(void *c_, int64_t lo, int64_t hi) {
    const lmce_ctx *c = c_;
    const set_plan *sp = c->sets;
    int64_t V = c->V;
    for (int64_t i = lo; i < hi; i++) {
        float *x = c->lg + i * V;
        int32_t t = c->tg[c->rows[i]], s = set_of(sp, c->rows[i]);
        float lse = coco_row_lse(x, V);
        /* the set's q is read from x before x is overwritten below */
        if (s >= 0) c->rl[i] = set_row_loss(x, lse, sp->ids + sp->off[s], sp->off[s + 1] - sp->off[s], sp->q + sp->off[s]);
        else c->rl[i] = lse - x[t];
        if (c->rec) {
#pragma omp simd
            for (int64_t j = 0; j < V; j++) x[j] = expf(x[j] - lse) * c->inv;
            if (s < 0) {
                x[t] -= c->inv;
            } else {
                for (int32_t k = sp->off[s]; k < sp->off[s + 1]; k++) x[sp->ids[k]] -= sp->q[k] * c->inv;
            }
        }
    }
}

static void lmce_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *h = n->in[0], *W = n->in[1];
    lmce_saved *sv = n->saved;
    float g = coco_f32(n->out->grad)[0];
    int64_t d = coco_tensor_cols(h);
    float *dh = coco_grad_acc(tp, h, NULL);
    if (dh)
        for (int64_t i = 0; i < sv->nc; i++) {
            float *dr = dh + (int64_t)sv->rows[i] * d;
            const float *s = sv->dh + i * d;
            for (int64_t j = 0; j < d; j++) dr[j] += g * s[j];
        }
    float *dW = coco_grad_acc(tp, W, NULL);
    if (dW) {
        ew_run(EW_ACC_SCALE, dW, sv->dW, NULL, g, W->numel);
    }
    coco_tape_saved_big_free(tp, sv->dW);
}

coco_tensor *coco_lm_head_ce_sets(coco_tape *tp, coco_tensor *h, coco_tensor *W, const coco_tensor *targets,
                                  int ignore_index, const coco_label_sets *sets) {
    char a[96], b[96];
    coco_check_dtype(h, COCO_F32, "lm_head_ce", "hidden");
    coco_check_dtype(W, COCO_F32, "lm_head_ce", "weight");
    coco_check_dtype(targets, COCO_I32, "lm_head_ce", "targets");
    coco_check_ndim(W, 2, 2, "lm_head_ce", "weight");
    int64_t rows = coco_tensor_rows(h), d = coco_tensor_cols(h), V = W->shape[0];
    if (W->shape[1] != d) coco_fail("lm_head_ce: hidden %s and weight %s disagree on d", SHAPE(h, a), SHAPE(W, b));
    if (targets->numel != rows)
        coco_fail("lm_head_ce: targets %s must have one entry per row of hidden %s", SHAPE(targets, a), SHAPE(h, b));
    const int32_t *tg = coco_i32(targets);
    PROF_BEGIN();
    for (int64_t r = 0; r < rows; r++)
        if (tg[r] != ignore_index && (tg[r] < 0 || tg[r] >= V))
            coco_fail("lm_head_ce: target %d at row %lld is outside [0, %lld) and is not ignore_index %d", tg[r], (long long)r,
                      (long long)V, ignore_index);
    lmce_saved *sv = coco_tape_alloc(tp, sizeof *sv);
    set_plan sp;
    set_plan_build(tp, "lm_head_ce", sets, rows, V, tg, ignore_index, &sp);
    /* scored rows in row order: a plain target or a set */
    sv->rows = coco_tape_alloc(tp, sizeof(int32_t) * (size_t)(rows ? rows : 1));
    sv->nc = 0;
    for (int64_t r = 0; r < rows; r++)
        if (tg[r] != ignore_index || set_of(&sp, r) >= 0) sv->rows[sv->nc++] = (int32_t)r;
    int64_t nc = sv->nc;
    coco_tensor *in[2] = {h, W};
    int rec = coco_tape_needs_grad(tp, 2, in);
    sv->dh = rec ? coco_tape_alloc(tp, sizeof(float) * (size_t)(nc * d + 1)) : NULL;
    sv->dW = rec ? coco_tape_saved_big(tp, sizeof(float) * (size_t)(V * d)) : NULL;
    int64_t ch = nc < LMCE_CHUNK ? nc : LMCE_CHUNK;
    float *hc = coco_tape_temp(tp, sizeof(float) * (size_t)(ch * d + 1));
    float *lg = coco_tape_temp(tp, sizeof(float) * (size_t)(ch * V + 1));
    float *rl = coco_tape_temp(tp, sizeof(float) * (size_t)(ch + 1));
    const float *hp = coco_f32(h), *wp = coco_f32(W);
    float inv = nc ? 1.0f / (float)nc : 0.0f;
    double total = 0.0;
    for (int64_t c0 = 0; c0 < nc; c0 += ch) {
        int64_t m = nc - c0 < ch ? nc - c0 : ch;
        for (int64_t i = 0; i < m; i++) memcpy(hc + i * d, hp + (int64_t)sv->rows[c0 + i] * d, sizeof(float) * (size_t)d);
        /* logits[m, V] = hc W^T */
        coco_sgemm(0, 1, m, V, d, 1.0f, hc, d, wp, d, 0.0f, lg, V);
        lmce_ctx lc = {lg, tg, sv->rows + c0, &sp, rl, V, rec, inv};
        par_for(m, 4 * V, lmce_rows, &lc);
        for (int64_t i = 0; i < m; i++) total += rl[i];
        if (rec) {
            /* dh[m, d] = dlogits W ; dW[V, d] (+)= dlogits^T hc */
            coco_sgemm(0, 0, m, d, V, 1.0f, lg, V, wp, d, 0.0f, sv->dh + c0 * d, d);
            coco_sgemm(1, 0, V, d, m, 1.0f, lg, V, hc, d, c0 == 0 ? 0.0f : 1.0f, sv->dW, d);
        }
    }
    coco_tape_temp_free(tp, hc);
    coco_tape_temp_free(tp, lg);
    coco_tape_temp_free(tp, rl);
    if (rec && nc == 0) memset(sv->dW, 0, sizeof(float) * (size_t)(V * d));
    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, 0, NULL);
    coco_f32(out)[0] = nc ? (float)(total / (double)nc) : NAN;
    if (rec) {
        coco_node *nd = coco_tape_record(tp, "lm_head_ce", lmce_bwd, out, 2, in);
        nd->saved = sv;
    }
    PROF_END("lm_head_ce", 6.0 * (double)nc * (double)V * (double)d);
    return out;
}

coco_tensor *coco_lm_head_ce(coco_tape *tp, coco_tensor *h, coco_tensor *W, const coco_tensor *targets, int ignore_index) {
    return coco_lm_head_ce_sets(tp, h, W, targets, ignore_index, NULL);
}

/* ops_loss.c — softmax cross-entropy with ignore index, mean over counted rows. */
#include "ops_internal.h"

typedef struct ce_saved {
    float *lse;       /* [rows] log-sum-exp of each row */
    int32_t *target;  /* [rows] copy of the targets */
    int64_t count;    /* rows that count */
} ce_saved;

static void ce_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *x = n->in[0];
    int fresh;
    float *dx = coco_grad_acc(tp, x, &fresh);
    if (!dx) return;
    const ce_saved *sv = n->saved;
    int64_t rows = coco_tensor_rows(x), V = coco_tensor_cols(x);
    int ignore = (int)n->i[0];
    float g = sv->count ? coco_f32(n->out->grad)[0] / (float)sv->count : 0.0f;
    const float *xp = coco_f32(x);
#pragma omp parallel for schedule(static) if (rows * V >= COCO_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        float *d = dx + r * V;
        const float *xr = xp + r * V;
        int32_t t = sv->target[r];
        if (t == ignore) {
            if (fresh) memset(d, 0, (size_t)V * 4);
            continue;
        }
        float lse = sv->lse[r];
        if (fresh) {
#pragma omp simd
            for (int64_t j = 0; j < V; j++) d[j] = g * expf(xr[j] - lse);
        } else {
#pragma omp simd
            for (int64_t j = 0; j < V; j++) d[j] += g * expf(xr[j] - lse);
        }
        d[t] -= g;
    }
}

coco_tensor *coco_cross_entropy(coco_tape *tp, coco_tensor *logits, const coco_tensor *targets, int ignore_index) {
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
    sv->lse = coco_tape_alloc(tp, (size_t)rows * 4);
    sv->target = coco_tape_alloc(tp, (size_t)rows * 4);
    memcpy(sv->target, tg, (size_t)rows * 4);
    sv->count = count;
    float *rowloss = coco_tape_alloc(tp, (size_t)rows * 4);
    const float *xp = coco_f32(logits);
#pragma omp parallel for schedule(static) if (rows * V >= COCO_PAR_MIN)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = xp + r * V;
        float m = -INFINITY;
        for (int64_t j = 0; j < V; j++) m = xr[j] > m ? xr[j] : m;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < V; j++) s += expf(xr[j] - m);
        float lse = m + logf(s);
        sv->lse[r] = lse;
        rowloss[r] = tg[r] == ignore_index ? 0.0f : lse - xr[tg[r]];
    }
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

/* ops_attention.c — causal multi-head attention of a span over a KV prefix.
 *
 * Layout: qkv [B, Tn, 3C] row-major, q | k | v each C = H*D wide, head h at
 * offset h*D. Caches [B, H, Tmax, D] so one head's keys are a contiguous
 * [Tmax, D] matrix. Work is split over the B*H (batch, head) pairs; each pair
 * writes disjoint memory, so the result does not depend on the schedule.
 * GEMMs issued inside the parallel loop run single-threaded (see gemm.h).
 */
#include "ops_internal.h"

#include "coconut/rng.h"

typedef struct attn_saved {
    float *P;          /* [B, H, Tn, Tk] softmax probabilities (before dropout) */
    int32_t *mask;     /* [B, Tk] copy of the key mask (all ones when none given) */
    uint64_t seed, stream;
} attn_saved;

typedef struct attn_dims {
    int64_t B, Tn, C, H, D, Tmax, t0, Tk;
} attn_dims;

/* Softmax of row i of S (length Tk) in place with causal limit t0+i and key mask.
 * Returns 1 if the row had at least one attendable key, 0 for the uniform case. */
static int masked_softmax_row(float *s, int64_t Tk, int64_t limit, const int32_t *mask) {
    float m = -INFINITY;
    int any = 0;
    for (int64_t j = 0; j <= limit; j++)
        if (mask[j] && s[j] > m) {
            m = s[j];
            any = 1;
        }
    if (!any) {
        /* Only padded keys in the causal window (a left-pad query): uniform over
         * the window, independent of how the sequence was chunked (see ops.h). */
        float u = 1.0f / (float)(limit + 1);
        for (int64_t j = 0; j <= limit; j++) s[j] = u;
        for (int64_t j = limit + 1; j < Tk; j++) s[j] = 0.0f;
        return 0;
    }
    float sum = 0.0f;
    for (int64_t j = 0; j <= limit; j++) {
        float e = mask[j] ? expf(s[j] - m) : 0.0f;
        s[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
    for (int64_t j = 0; j <= limit; j++) s[j] *= inv;
    for (int64_t j = limit + 1; j < Tk; j++) s[j] = 0.0f;
    return 1;
}

static inline void apply_dropout(float *dst, const float *src, int64_t n, uint64_t seed, uint64_t stream,
                                 uint64_t base, float p, float scale) {
    for (int64_t j = 0; j < n; j++)
        dst[j] = coco_hash_uniform(seed, stream, base + (uint64_t)j) < p ? 0.0f : src[j] * scale;
}

static void attention_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *qkv = n->in[0], *kc = n->in[1], *vc = n->in[2];
    const attn_saved *sv = n->saved;
    attn_dims d = {n->i[0], n->i[1], n->i[2], n->i[3], n->i[4], n->i[5], n->i[6], n->i[7]};
    float p = n->f[0], dscale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f, scale = n->f[1];
    int fq;
    float *dqkv = coco_grad_acc(tp, qkv, &fq);
    float *dK = coco_grad_acc(tp, kc, NULL), *dV = coco_grad_acc(tp, vc, NULL);
    const float *dO = coco_f32(n->out->grad), *q = coco_f32(qkv), *K = coco_f32(kc), *Vv = coco_f32(vc);
    int64_t C3 = 3 * d.C, TT = d.Tn * d.Tk;
    int nt = coco_threads();
    float *scratch = coco_tape_alloc(tp, (size_t)nt * 2 * (size_t)TT * 4);
    int64_t BH = d.B * d.H;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (BH > 1 && TT * d.D * BH >= COCO_PAR_MIN)
    for (int64_t bh = 0; bh < BH; bh++) {
        int64_t b = bh / d.H, h = bh % d.H;
        float *dP = scratch + (size_t)omp_get_thread_num() * 2 * TT, *Pd = dP + TT;
        const float *P = sv->P + bh * TT;
        const float *dOb = dO + b * d.Tn * d.C + h * d.D;
        const float *Kb = K + bh * d.Tmax * d.D, *Vb = Vv + bh * d.Tmax * d.D;
        const float *Qb = q + b * d.Tn * C3 + h * d.D;
        const int32_t *mk = sv->mask + b * d.Tk;
        const float *Puse = P;
        if (p > 0.0f) {
            apply_dropout(Pd, P, TT, sv->seed, sv->stream, (uint64_t)(bh * TT), p, dscale);
            Puse = Pd;
        }
        /* dV[Tk, D] += Pd^T dO */
        coco_sgemm(1, 0, d.Tk, d.D, d.Tn, 1.0f, Puse, d.Tk, dOb, d.C, 1.0f, dV + bh * d.Tmax * d.D, d.D);
        /* dP[Tn, Tk] = dO V^T */
        coco_sgemm(0, 1, d.Tn, d.Tk, d.D, 1.0f, dOb, d.C, Vb, d.D, 0.0f, dP, d.Tk);
        for (int64_t i = 0; i < d.Tn; i++) {
            float *dr = dP + i * d.Tk;
            const float *pr = P + i * d.Tk;
            int64_t limit = d.t0 + i;
            int any = 0;
            for (int64_t j = 0; j <= limit && !any; j++) any = mk[j] != 0;
            if (!any) { /* uniform row: constant in the scores, no gradient */
                memset(dr, 0, (size_t)d.Tk * 4);
                continue;
            }
            if (p > 0.0f) {
                for (int64_t j = 0; j <= limit; j++) {
                    if (coco_hash_uniform(sv->seed, sv->stream, (uint64_t)(bh * TT + i * d.Tk + j)) < p)
                        dr[j] = 0.0f;
                    else
                        dr[j] *= dscale;
                }
            }
            float dot = 0.0f;
            for (int64_t j = 0; j <= limit; j++) dot += pr[j] * dr[j];
            for (int64_t j = 0; j <= limit; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;
            for (int64_t j = limit + 1; j < d.Tk; j++) dr[j] = 0.0f;
        }
        /* dQ[Tn, D] = dS K ; written straight into the q block of d(qkv). */
        if (dqkv)
            coco_sgemm(0, 0, d.Tn, d.D, d.Tk, 1.0f, dP, d.Tk, Kb, d.D, fq ? 0.0f : 1.0f, dqkv + b * d.Tn * C3 + h * d.D,
                       C3);
        /* dK[Tk, D] += dS^T Q */
        coco_sgemm(1, 0, d.Tk, d.D, d.Tn, 1.0f, dP, d.Tk, Qb, C3, 1.0f, dK + bh * d.Tmax * d.D, d.D);
    }
    /* The span's own key/value columns came from qkv: move their gradient there.
     * After this the cache grad holds only the prefix's share. */
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t h = 0; h < d.H; h++)
            for (int64_t i = 0; i < d.Tn; i++) {
                float *gk = dK + ((b * d.H + h) * d.Tmax + d.t0 + i) * d.D;
                float *gv = dV + ((b * d.H + h) * d.Tmax + d.t0 + i) * d.D;
                if (dqkv) {
                    float *tk = dqkv + (b * d.Tn + i) * C3 + d.C + h * d.D, *tv = tk + d.C;
                    for (int64_t e = 0; e < d.D; e++) {
                        tk[e] = fq ? gk[e] : tk[e] + gk[e];
                        tv[e] = fq ? gv[e] : tv[e] + gv[e];
                    }
                }
                memset(gk, 0, (size_t)d.D * 4);
                memset(gv, 0, (size_t)d.D * 4);
            }
}

coco_tensor *coco_attention(coco_tape *tp, coco_tensor *qkv, coco_tensor *kcache, coco_tensor *vcache, int64_t t0,
                            const coco_tensor *mask, int n_head, float dropout_p) {
    char a[96], b[96];
    coco_check_dtype(qkv, COCO_F32, "attention", "qkv");
    coco_check_dtype(kcache, COCO_F32, "attention", "kcache");
    coco_check_dtype(vcache, COCO_F32, "attention", "vcache");
    coco_check_ndim(qkv, 3, 3, "attention", "qkv");
    coco_check_ndim(kcache, 4, 4, "attention", "kcache");
    attn_dims d;
    d.B = qkv->shape[0];
    d.Tn = qkv->shape[1];
    if (qkv->shape[2] % 3) coco_fail("attention: qkv %s last dim is not 3*C", SHAPE(qkv, a));
    d.C = qkv->shape[2] / 3;
    if (n_head < 1 || d.C % n_head) coco_fail("attention: n_head %d does not divide C = %lld", n_head, (long long)d.C);
    d.H = n_head;
    d.D = d.C / n_head;
    d.Tmax = kcache->shape[2];
    d.t0 = t0;
    d.Tk = t0 + d.Tn;
    if (kcache->shape[0] != d.B || kcache->shape[1] != d.H || kcache->shape[3] != d.D)
        coco_fail("attention: kcache %s must be [%lld,%lld,Tmax,%lld] for qkv %s", SHAPE(kcache, a), (long long)d.B,
                  (long long)d.H, (long long)d.D, SHAPE(qkv, b));
    if (!coco_tensor_same_shape(kcache, vcache))
        coco_fail("attention: vcache %s differs from kcache %s", SHAPE(vcache, a), SHAPE(kcache, b));
    if (t0 < 0 || d.Tk > d.Tmax)
        coco_fail("attention: span [%lld, %lld) does not fit the cache of %lld columns", (long long)t0, (long long)d.Tk,
                  (long long)d.Tmax);
    if (mask) {
        coco_check_dtype(mask, COCO_I32, "attention", "mask");
        if (mask->ndim != 2 || mask->shape[0] != d.B || mask->shape[1] < d.Tk)
            coco_fail("attention: mask %s must be [%lld, >=%lld]", SHAPE(mask, a), (long long)d.B, (long long)d.Tk);
    }
    if (!(dropout_p >= 0.0f && dropout_p < 1.0f)) coco_fail("attention: dropout p = %g must be in [0, 1)", (double)dropout_p);
    PROF_BEGIN();
    coco_tensor *in[3] = {qkv, kcache, vcache};
    int rec = coco_tape_needs_grad(tp, 3, in);
    if (rec) kcache->requires_grad = vcache->requires_grad = 1;

    int64_t C3 = 3 * d.C, TT = d.Tn * d.Tk, BH = d.B * d.H;
    const float *x = coco_f32(qkv);
    float *K = coco_f32(kcache), *Vv = coco_f32(vcache);
    /* 1. Append the span's k, v to the caches. */
    for (int64_t bb = 0; bb < d.B; bb++)
        for (int64_t i = 0; i < d.Tn; i++) {
            const float *row = x + (bb * d.Tn + i) * C3;
            for (int64_t h = 0; h < d.H; h++) {
                memcpy(K + ((bb * d.H + h) * d.Tmax + d.t0 + i) * d.D, row + d.C + h * d.D, (size_t)d.D * 4);
                memcpy(Vv + ((bb * d.H + h) * d.Tmax + d.t0 + i) * d.D, row + 2 * d.C + h * d.D, (size_t)d.D * 4);
            }
        }
    /* 2. Key mask over the first Tk columns (all ones when absent). */
    int32_t *mk = coco_tape_alloc(tp, (size_t)(d.B * d.Tk) * 4);
    for (int64_t bb = 0; bb < d.B; bb++)
        for (int64_t j = 0; j < d.Tk; j++) mk[bb * d.Tk + j] = mask ? (coco_i32(mask)[bb * mask->shape[1] + j] != 0) : 1;

    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, 3, (int64_t[]){d.B, d.Tn, d.C});
    float *o = coco_f32(out);
    int nt = coco_threads();
    float *Pall = rec ? coco_tape_alloc(tp, (size_t)(BH * TT) * 4) : NULL;
    float *scratch = coco_tape_alloc(tp, (size_t)nt * 2 * (size_t)TT * 4);
    float scale = 1.0f / sqrtf((float)d.D), dscale = dropout_p > 0.0f ? 1.0f / (1.0f - dropout_p) : 1.0f;
    uint64_t seed = 0, stream = 0;
    if (dropout_p > 0.0f) {
        seed = coco_tape_seed(tp);
        stream = coco_tape_next_stream(tp);
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (BH > 1 && TT * d.D * BH >= COCO_PAR_MIN)
    for (int64_t bh = 0; bh < BH; bh++) {
        int64_t bb = bh / d.H, h = bh % d.H;
        float *S = Pall ? Pall + bh * TT : scratch + (size_t)omp_get_thread_num() * 2 * TT;
        float *Sd = scratch + (size_t)omp_get_thread_num() * 2 * TT + TT;
        const float *Qb = x + bb * d.Tn * C3 + h * d.D;
        const float *Kb = K + bh * d.Tmax * d.D, *Vb = Vv + bh * d.Tmax * d.D;
        /* S[Tn, Tk] = Q K^T / sqrt(D) */
        coco_sgemm(0, 1, d.Tn, d.Tk, d.D, scale, Qb, C3, Kb, d.D, 0.0f, S, d.Tk);
        for (int64_t i = 0; i < d.Tn; i++) masked_softmax_row(S + i * d.Tk, d.Tk, d.t0 + i, mk + bb * d.Tk);
        const float *Puse = S;
        if (dropout_p > 0.0f) {
            apply_dropout(Sd, S, TT, seed, stream, (uint64_t)(bh * TT), dropout_p, dscale);
            Puse = Sd;
        }
        /* O[Tn, D] = P V, written into the head's slice of out [B, Tn, C]. */
        coco_sgemm(0, 0, d.Tn, d.D, d.Tk, 1.0f, Puse, d.Tk, Vb, d.D, 0.0f, o + bb * d.Tn * d.C + h * d.D, d.C);
    }
    if (rec) {
        coco_node *n = coco_tape_record(tp, "attention", attention_bwd, out, 3, in);
        attn_saved *sv = coco_tape_alloc(tp, sizeof *sv);
        sv->P = Pall;
        sv->mask = mk;
        sv->seed = seed;
        sv->stream = stream;
        n->saved = sv;
        int64_t dims[8] = {d.B, d.Tn, d.C, d.H, d.D, d.Tmax, d.t0, d.Tk};
        memcpy(n->i, dims, sizeof dims);
        n->f[0] = dropout_p;
        n->f[1] = scale;
        n->flops = 8.0 * (double)BH * (double)TT * (double)d.D;
    }
    PROF_END("attention", 4.0 * (double)BH * (double)TT * (double)d.D);
    return out;
}

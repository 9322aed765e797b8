/* ops_attention.c — causal multi-head attention of a span over a KV prefix.
 *
 * Layout: qkv [B, Tn, 3C] row-major, q | k | v each C = H*D wide, head h at
 * offset h*D. Caches [B, H, Tmax, D] so one head's keys are a contiguous
 * [Tmax, D] matrix. Work is split over the B*H (batch, head) pairs; each pair
 * writes disjoint memory, so the result does not depend on the schedule.
 * GEMMs issued inside the parallel loop run single-threaded (see gemm.h);
 * scratch is per pool thread (coco_parallel_slot).
 */
#include "ops_internal.h"

#include "coconut/rng.h"

/* Nothing of size Tn x Tk is kept: backward recomputes each query block's
 * scores with the same GEMM call (same shapes, one thread: bitwise the same
 * result) and the same softmax, so it sees exactly the forward's P. This costs
 * one extra Q K^T per block and saves B*H*Tn*Tk floats per layer (300 MB over
 * GPT-2's 12 layers at B8 T256). */
typedef struct attn_saved {
    float *madd;       /* [B, Tk] additive key mask: 0 (attend) or -inf (padded) */
    uint64_t seed, stream;
} attn_saved;

typedef struct attn_dims {
    int64_t B, Tn, C, H, D, Tmax, t0, Tk;
} attn_dims;

/* Where head (b, h)'s keys and values live: in the caches ([Tmax, D] per head,
 * row stride D) or, without caches, inside qkv (row stride 3C). */
static inline const float *head_k(const attn_dims *d, const float *K, const float *qkv, int64_t b, int64_t h) {
    return K ? K + (b * d->H + h) * d->Tmax * d->D : qkv + b * d->Tn * 3 * d->C + d->C + h * d->D;
}
static inline const float *head_v(const attn_dims *d, const float *V, const float *qkv, int64_t b, int64_t h) {
    return V ? V + (b * d->H + h) * d->Tmax * d->D : qkv + b * d->Tn * 3 * d->C + 2 * d->C + h * d->D;
}

/* Queries are processed in blocks of QB rows: block [i0, i1) only needs keys
 * [0, t0 + i1), so the GEMMs skip most of the causally masked upper triangle
 * (about half the attention flops for a span starting at column 0). */
#define QB 64

/* Softmax of one score row s[0..limit] in place, with the additive key mask;
 * columns (limit, kend) are zeroed. Returns 0 for a row with no attendable key
 * (a left-pad query): then it is uniform over its causal window (see ops.h). */
static int masked_softmax_row(float *s, int64_t limit, int64_t kend, const float *madd) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j <= limit; j++) {
        float v = s[j] + madd[j];
        s[j] = v;
        m = v > m ? v : m;
    }
    if (m == -INFINITY) {
        float u = 1.0f / (float)(limit + 1);
        for (int64_t j = 0; j <= limit; j++) s[j] = u;
        for (int64_t j = limit + 1; j < kend; j++) s[j] = 0.0f;
        return 0;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j <= limit; j++) {
        float e = expf(s[j] - m); /* exp(-inf) = 0 for padded keys */
        s[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j <= limit; j++) s[j] *= inv;
    for (int64_t j = limit + 1; j < kend; j++) s[j] = 0.0f;
    return 1;
}

static inline void apply_dropout(float *dst, const float *src, int64_t n, uint64_t seed, uint64_t stream,
                                 uint64_t base, float p, float scale) {
    for (int64_t j = 0; j < n; j++)
        dst[j] = coco_hash_uniform(seed, stream, base + (uint64_t)j) < p ? 0.0f : src[j] * scale;
}

typedef struct attn_bwd_ctx {
    attn_dims d;
    const attn_saved *sv;
    float p, dscale, scale;
    int cached, fq;
    int64_t C3, TT, QT, ldkv;
    float *dqkv, *dK, *dV, *scratch;
    const float *dO, *q, *K, *Vv;
} attn_bwd_ctx;

/* Backward of the (batch, head) pairs [lo, hi). */
static void attn_bwd_heads(void *ctx, int64_t lo, int64_t hi) {
    const attn_bwd_ctx *c = ctx;
    const attn_dims d = c->d;
    const attn_saved *sv = c->sv;
    const float p = c->p, dscale = c->dscale, scale = c->scale;
    const int cached = c->cached, fq = c->fq;
    const int64_t C3 = c->C3, TT = c->TT, QT = c->QT, ldkv = c->ldkv;
    float *dqkv = c->dqkv, *dK = c->dK, *dV = c->dV, *scratch = c->scratch;
    const float *dO = c->dO, *q = c->q, *K = c->K, *Vv = c->Vv;
    for (int64_t bh = lo; bh < hi; bh++) {
        int64_t b = bh / d.H, h = bh % d.H;
        float *dP = scratch + (size_t)coco_parallel_slot() * 3 * QT, *Pd = dP + QT, *Pr = Pd + QT;
        const float *dOb = dO + b * d.Tn * d.C + h * d.D;
        const float *Kb = head_k(&d, K, q, b, h), *Vb = head_v(&d, Vv, q, b, h);
        float *dKb = cached ? dK + bh * d.Tmax * d.D : dqkv + b * d.Tn * C3 + d.C + h * d.D;
        float *dVb = cached ? dV + bh * d.Tmax * d.D : dqkv + b * d.Tn * C3 + 2 * d.C + h * d.D;
        const float *Qb = q + b * d.Tn * C3 + h * d.D;
        const float *madd = sv->madd + b * d.Tk;
        for (int64_t i0 = 0; i0 < d.Tn; i0 += QB) {
            int64_t i1 = i0 + QB < d.Tn ? i0 + QB : d.Tn, nq = i1 - i0, kend = d.t0 + i1;
            /* P of the block, recomputed exactly as the forward computed it */
            coco_sgemm(0, 1, nq, kend, d.D, scale, Qb + i0 * C3, C3, Kb, ldkv, 0.0f, Pr, d.Tk);
            for (int64_t i = 0; i < nq; i++) masked_softmax_row(Pr + i * d.Tk, d.t0 + i0 + i, kend, madd);
            const float *P = Pr, *Puse = P;
            if (p > 0.0f) {
                for (int64_t i = 0; i < nq; i++)
                    apply_dropout(Pd + i * d.Tk, P + i * d.Tk, kend, sv->seed, sv->stream,
                                  (uint64_t)(bh * TT + (i0 + i) * d.Tk), p, dscale);
                Puse = Pd;
            }
            /* dV[0:kend] += Pd^T dO */
            coco_sgemm(1, 0, kend, d.D, nq, 1.0f, Puse, d.Tk, dOb + i0 * d.C, d.C, 1.0f, dVb, ldkv);
            /* dP[nq, kend] = dO V^T */
            coco_sgemm(0, 1, nq, kend, d.D, 1.0f, dOb + i0 * d.C, d.C, Vb, ldkv, 0.0f, dP, d.Tk);
            for (int64_t i = 0; i < nq; i++) {
                float *dr = dP + i * d.Tk;
                const float *pr = P + i * d.Tk;
                int64_t limit = d.t0 + i0 + i;
                float mx = -INFINITY;
                for (int64_t j = 0; j <= limit; j++) mx = madd[j] > mx ? madd[j] : mx;
                if (mx == -INFINITY) { /* uniform row: constant in the scores, no gradient */
                    memset(dr, 0, (size_t)kend * 4);
                    continue;
                }
                if (p > 0.0f) {
                    uint64_t base = (uint64_t)(bh * TT + (i0 + i) * d.Tk);
                    for (int64_t j = 0; j <= limit; j++)
                        dr[j] = coco_hash_uniform(sv->seed, sv->stream, base + (uint64_t)j) < p ? 0.0f : dr[j] * dscale;
                }
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int64_t j = 0; j <= limit; j++) dot += pr[j] * dr[j];
#pragma omp simd
                for (int64_t j = 0; j <= limit; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;
                for (int64_t j = limit + 1; j < kend; j++) dr[j] = 0.0f;
            }
            /* dQ[nq, D] = dS K, straight into the q block of d(qkv) */
            if (dqkv)
                coco_sgemm(0, 0, nq, d.D, kend, 1.0f, dP, d.Tk, Kb, ldkv, fq ? 0.0f : 1.0f,
                           dqkv + (b * d.Tn + i0) * C3 + h * d.D, C3);
            /* dK[0:kend] += dS^T Q */
            coco_sgemm(1, 0, kend, d.D, nq, 1.0f, dP, d.Tk, Qb + i0 * C3, C3, 1.0f, dKb, ldkv);
        }
    }
}

static void attention_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *qkv = n->in[0], *kc = n->in[1], *vc = n->in[2];
    const attn_saved *sv = n->saved;
    attn_dims d = {n->i[0], n->i[1], n->i[2], n->i[3], n->i[4], n->i[5], n->i[6], n->i[7]};
    float p = n->f[0], dscale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f, scale = n->f[1];
    int fq;
    int64_t C3 = 3 * d.C, TT = d.Tn * d.Tk, QT = (d.Tn < QB ? d.Tn : QB) * d.Tk;
    int cached = kc != NULL;
    float *dqkv = coco_grad_acc(tp, qkv, &fq);
    if (!cached && !dqkv) return;
    if (!cached && fq) { /* dK, dV accumulate over query blocks straight into d(qkv) */
        memset(dqkv, 0, (size_t)(d.B * d.Tn * C3) * 4);
        fq = 0;
    }
    float *dK = cached ? coco_grad_acc(tp, kc, NULL) : NULL, *dV = cached ? coco_grad_acc(tp, vc, NULL) : NULL;
    const float *dO = coco_f32(n->out->grad), *q = coco_f32(qkv);
    const float *K = cached ? coco_f32(kc) : NULL, *Vv = cached ? coco_f32(vc) : NULL;
    int64_t ldkv = cached ? d.D : C3;
    int nt = coco_threads();
    float *scratch = coco_tape_temp(tp, (size_t)nt * 3 * (size_t)QT * 4);
    int64_t BH = d.B * d.H;
    attn_bwd_ctx c = {d, sv, p, dscale, scale, cached, fq, C3, TT, QT, ldkv, dqkv, dK, dV, scratch, dO, q, K, Vv};
    coco_parallel_for(BH, TT * d.D * BH >= COCO_PAR_MIN ? 1 : BH, attn_bwd_heads, &c);
    coco_tape_temp_free(tp, scratch);
    if (!cached) return;
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
    /* A span starting at column 0 is the first pass over this cache: every later
     * pass has already run its backward, and the loop above moved the last
     * columns' gradient into d(qkv). What is left is zero; give it back. */
    if (d.t0 == 0) {
        coco_grad_release(tp, kc);
        coco_grad_release(tp, vc);
    }
}

typedef struct attn_fwd_ctx {
    attn_dims d;
    int64_t C3, TT, QT, ldkv;
    const float *x, *K, *Vv, *madd;
    float *o, *scratch;
    float scale, dscale, dropout_p;
    uint64_t seed, stream;
} attn_fwd_ctx;

/* Forward of the (batch, head) pairs [lo, hi). */
static void attn_fwd_heads(void *ctx, int64_t lo, int64_t hi) {
    const attn_fwd_ctx *c = ctx;
    const attn_dims d = c->d;
    const int64_t C3 = c->C3, TT = c->TT, QT = c->QT, ldkv = c->ldkv;
    const float *x = c->x, *K = c->K, *Vv = c->Vv, *madd = c->madd;
    float *o = c->o, *scratch = c->scratch;
    const float scale = c->scale, dscale = c->dscale, dropout_p = c->dropout_p;
    const uint64_t seed = c->seed, stream = c->stream;
    for (int64_t bh = lo; bh < hi; bh++) {
        int64_t bb = bh / d.H, h = bh % d.H;
        float *mine = scratch + (size_t)coco_parallel_slot() * 2 * QT;
        const float *Qb = x + bb * d.Tn * C3 + h * d.D;
        const float *Kb = head_k(&d, K, x, bb, h), *Vb = head_v(&d, Vv, x, bb, h);
        const float *madd_b = madd + bb * d.Tk;
        for (int64_t i0 = 0; i0 < d.Tn; i0 += QB) {
            int64_t i1 = i0 + QB < d.Tn ? i0 + QB : d.Tn, nq = i1 - i0, kend = d.t0 + i1;
            float *S = mine;
            /* S[nq, kend] = Q K^T / sqrt(D) */
            coco_sgemm(0, 1, nq, kend, d.D, scale, Qb + i0 * C3, C3, Kb, ldkv, 0.0f, S, d.Tk);
            for (int64_t i = 0; i < nq; i++) masked_softmax_row(S + i * d.Tk, d.t0 + i0 + i, kend, madd_b);
            const float *Puse = S;
            if (dropout_p > 0.0f) {
                float *Sd = mine + QT;
                for (int64_t i = 0; i < nq; i++)
                    apply_dropout(Sd + i * d.Tk, S + i * d.Tk, kend, seed, stream, (uint64_t)(bh * TT + (i0 + i) * d.Tk),
                                  dropout_p, dscale);
                Puse = Sd;
            }
            /* O[nq, D] = P V, into the head's slice of out [B, Tn, C] */
            coco_sgemm(0, 0, nq, d.D, kend, 1.0f, Puse, d.Tk, Vb, ldkv, 0.0f, o + (bb * d.Tn + i0) * d.C + h * d.D, d.C);
        }
    }
}

coco_tensor *coco_attention(coco_tape *tp, coco_tensor *qkv, coco_tensor *kcache, coco_tensor *vcache, int64_t t0,
                            const coco_tensor *mask, int n_head, float dropout_p) {
    char a[96], b[96];
    coco_check_dtype(qkv, COCO_F32, "attention", "qkv");
    coco_check_ndim(qkv, 3, 3, "attention", "qkv");
    int cached = kcache || vcache;
    if (cached) {
        coco_check_not_null(kcache, "attention", "kcache (vcache given)");
        coco_check_not_null(vcache, "attention", "vcache (kcache given)");
        coco_check_dtype(kcache, COCO_F32, "attention", "kcache");
        coco_check_dtype(vcache, COCO_F32, "attention", "vcache");
        coco_check_ndim(kcache, 4, 4, "attention", "kcache");
    } else if (t0 != 0) {
        coco_fail("attention: without a KV cache the span must start at column 0 (t0 = %lld)", (long long)t0);
    }
    attn_dims d;
    d.B = qkv->shape[0];
    d.Tn = qkv->shape[1];
    if (qkv->shape[2] % 3) coco_fail("attention: qkv %s last dim is not 3*C", SHAPE(qkv, a));
    d.C = qkv->shape[2] / 3;
    if (n_head < 1 || d.C % n_head) coco_fail("attention: n_head %d does not divide C = %lld", n_head, (long long)d.C);
    d.H = n_head;
    d.D = d.C / n_head;
    d.Tmax = cached ? kcache->shape[2] : d.Tn;
    d.t0 = t0;
    d.Tk = t0 + d.Tn;
    if (cached && (kcache->shape[0] != d.B || kcache->shape[1] != d.H || kcache->shape[3] != d.D))
        coco_fail("attention: kcache %s must be [%lld,%lld,Tmax,%lld] for qkv %s", SHAPE(kcache, a), (long long)d.B,
                  (long long)d.H, (long long)d.D, SHAPE(qkv, b));
    if (cached && !coco_tensor_same_shape(kcache, vcache))
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
    if (rec && cached) kcache->requires_grad = vcache->requires_grad = 1;

    int64_t C3 = 3 * d.C, TT = d.Tn * d.Tk, BH = d.B * d.H, ldkv = cached ? d.D : C3;
    const float *x = coco_f32(qkv);
    float *K = cached ? coco_f32(kcache) : NULL, *Vv = cached ? coco_f32(vcache) : NULL;
    /* 1. Append the span's k, v to the caches. */
    for (int64_t bb = 0; cached && bb < d.B; bb++)
        for (int64_t i = 0; i < d.Tn; i++) {
            const float *row = x + (bb * d.Tn + i) * C3;
            for (int64_t h = 0; h < d.H; h++) {
                memcpy(K + ((bb * d.H + h) * d.Tmax + d.t0 + i) * d.D, row + d.C + h * d.D, (size_t)d.D * 4);
                memcpy(Vv + ((bb * d.H + h) * d.Tmax + d.t0 + i) * d.D, row + 2 * d.C + h * d.D, (size_t)d.D * 4);
            }
        }
    /* 2. Additive key mask over the first Tk columns (all zeros when absent). */
    float *madd = coco_tape_alloc(tp, (size_t)(d.B * d.Tk) * 4);
    for (int64_t bb = 0; bb < d.B; bb++)
        for (int64_t j = 0; j < d.Tk; j++)
            madd[bb * d.Tk + j] = (mask && !coco_i32(mask)[bb * mask->shape[1] + j]) ? -INFINITY : 0.0f;

    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, 3, (int64_t[]){d.B, d.Tn, d.C});
    float *o = coco_f32(out);
    int nt = coco_threads();
    int64_t QT = (d.Tn < QB ? d.Tn : QB) * d.Tk;
    float *scratch = coco_tape_alloc(tp, (size_t)nt * 2 * (size_t)QT * 4);
    float scale = 1.0f / sqrtf((float)d.D), dscale = dropout_p > 0.0f ? 1.0f / (1.0f - dropout_p) : 1.0f;
    uint64_t seed = 0, stream = 0;
    if (dropout_p > 0.0f) {
        seed = coco_tape_seed(tp);
        stream = coco_tape_next_stream(tp);
    }
    attn_fwd_ctx c = {d, C3, TT, QT, ldkv, x, K, Vv, madd, o, scratch, scale, dscale, dropout_p, seed, stream};
    coco_parallel_for(BH, TT * d.D * BH >= COCO_PAR_MIN ? 1 : BH, attn_fwd_heads, &c);
    if (rec) {
        coco_node *n = coco_tape_record(tp, "attention", attention_bwd, out, 3, in);
        attn_saved *sv = coco_tape_alloc(tp, sizeof *sv);
        sv->madd = madd;
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

/* ops_attention.c — causal multi-head attention of a span over a KV prefix.
 *
 * Layout: qkv [B, Tn, 3C] row-major, q | k | v each C = H*D wide, head h at
 * offset h*D. Caches [B, H, Tmax, D] so one head's keys are a contiguous
 * [Tmax, D] matrix. Work is split over the B*H (batch, head) pairs; each pair
 * writes disjoint memory (the span's cache rows are appended per pair too), so
 * the result does not depend on the schedule or the thread count. The products
 * are the hand-written kernels below (no BLIS: at these sizes its per-call
 * overhead dominated); scratch is per pool thread (coco_parallel_slot).
 */
#include "ops_internal.h"

#include "coconut/rng.h"

/* Nothing of size Tn x Tk is kept: backward recomputes each query block's
 * probabilities with the same functions (block_scores, block_softmax, each
 * one compiled body serving both) on the same inputs, so it sees bitwise the
 * forward's P. This costs one extra Q K^T per block and
 * saves B*H*Tn*Tk floats per layer (300 MB over GPT-2's 12 layers at B8 T256). */
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
 * [0, t0 + i1), and within a block each group of rows only computes the keys
 * up to its last row's causal limit, so the kernels skip the masked upper
 * triangle (about half the attention flops for a span starting at column 0). */
#define QB 64

/* ------------------------------------------------------------------ kernels
 *
 * Heads are small (D = 8..128) and spans short, so instead of a handful of
 * tiny GEMM calls per (batch, head, block) — where call overhead and small-
 * matrix paths dominate — everything below is one register-blocked kernel,
 *
 *     Y[r, 0:W] (+)= alpha * sum_{k in [klo, khi)} A(r, k) * X[k, 0:W]
 *
 * for a group of up to RM rows r, vectorised along the W columns with GCC
 * vector extensions (16 floats on AVX-512 builds, 8 otherwise; then an
 * 8-wide piece and a scalar tail, so any width is exact). A(r, k) is read
 * either as A[r * lda + k] (tile_n) or as A[k * lda + r] (tile_t, a transposed
 * operand used in place). Every attention product is one such call per group:
 *   S  = Q K^T     X = K^T (transposed once per head into scratch), W = keys
 *   O  = P V       X = V rows,  W = D, k over the row group's causal window
 *   dV += P^T dO   tile_t over P, X = dO rows, k over the queries that see the key
 *   dP = dO V^T    X = V^T (transposed once per head)
 *   dQ = dS K      X = K rows
 *   dK += dS^T Q   tile_t over dS, X = Q rows
 * Spans of at most ATT_DOT_MAX queries (the latent passes: one query over the
 * cache) compute S and dP as dot products against the key rows instead, which
 * spares the per-head transposes. */
#if defined(__AVX512F__)
#define VW 16
#define RM 8
#else
#define VW 8
#define RM 6
#endif
#define ATT_DOT_MAX 4

typedef float vf __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4), may_alias));
typedef float v8f __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t v8i __attribute__((vector_size(32)));

/* Lane shuffles with constant indices (GCC's and clang's spellings). */
#if defined(__clang__)
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#define SHUF8(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUF(a, b, ...) __builtin_shuffle(a, b, (vi){__VA_ARGS__})
#define SHUF8(a, b, ...) __builtin_shuffle(a, b, (v8i){__VA_ARGS__})
#endif

/* One compiled body for code whose results must match bit for bit wherever it
 * is called from (no inlining, cloning or interprocedural specialisation). */
#if defined(__clang__)
#define ATT_ONE_BODY __attribute__((noinline))
#else
#define ATT_ONE_BODY __attribute__((noipa))
#endif

#define LD(p) (*(const vfu *)(p))
#define ST(p, v) (*(vfu *)(p) = (v))
#define LD8(p) (*(const v8fu *)(p))
#define ST8(p, v) (*(v8fu *)(p) = (v))

static inline int64_t round_vw(int64_t n) { return (n + VW - 1) / VW * VW; }

static inline vf vsplat(float x) { return (vf){} + x; }
static inline vf vsel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
static inline vi lane_ids(void) {
#if VW == 16
    return (vi){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
#else
    return (vi){0, 1, 2, 3, 4, 5, 6, 7};
#endif
}

/* Horizontal sums by halving in registers (a fixed order: deterministic). */
static inline float hsum8(v8f v) {
    v += SHUF8(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
    v += SHUF8(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
    v += SHUF8(v, v, 1, 0, 3, 2, 5, 4, 7, 6);
    return v[0];
}
static inline float hsum(vf v) {
#if VW == 16
    v += SHUF(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    v += SHUF(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    v += SHUF(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    v += SHUF(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    return v[0];
#else
    return hsum8(v);
#endif
}

/* exp(x) for x <= 0 (and -inf -> 0), within about 2 ulp: x = n ln2 + r with
 * |r| <= ln2/2, a degree-7 Taylor polynomial for e^r, 2^n built in the exponent
 * bits. Below -87 (where exp < 2^-125) it returns 0; NaN stays NaN. */
static inline vf vexp_neg(vf x) {
    const vf lo = vsplat(-87.0f), magic = vsplat(12582912.0f); /* 1.5 * 2^23: t - magic rounds to an integer */
    vi under = x < lo;
    x = vsel(under, lo, x);
    vf t = x * 1.44269504088896341f + magic;
    vf n = t - magic;
    vf r = x - n * 0.693359375f; /* ln2 split in a short high part (n * hi exact) and the rest */
    r = r + n * 2.12194440e-4f;
    vf p = vsplat(1.98412698e-4f);
    p = p * r + 1.38888889e-3f;
    p = p * r + 8.33333333e-3f;
    p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    vi e = ((vi)t - (vi)magic + 127) << 23; /* n + 127 in the exponent field; n >= -126 */
    return (vf)((vi)(p * (vf)e) & ~under);
}

/* Y rows [0, R) of the group, see above. TR selects A's layout. Written for a
 * compile-time R (always inlined into the R-specialised wrappers below) so the
 * accumulators stay in registers. */
static inline __attribute__((always_inline)) void tile_core(const int R, const int TR, const float *A, int64_t lda,
                                                            const float *X, int64_t ldx, float *Y, int64_t ldy,
                                                            int64_t klo, int64_t khi, int64_t W, float alpha,
                                                            int accum) {
#define AV(r, k) (TR ? A[(k) * lda + (r)] : A[(r) * lda + (k)])
    int64_t c = 0;
    for (; c + 2 * VW <= W; c += 2 * VW) {
        vf s0[RM], s1[RM];
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) s0[r] = s1[r] = (vf){};
        for (int64_t k = klo; k < khi; k++) {
            const float *x = X + k * ldx + c;
            vf x0 = LD(x), x1 = LD(x + VW);
#pragma GCC unroll 16
            for (int r = 0; r < R; r++) {
                float a = AV(r, k);
                s0[r] += a * x0;
                s1[r] += a * x1;
            }
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            float *y = Y + r * ldy + c;
            vf v0 = s0[r] * alpha, v1 = s1[r] * alpha;
            if (accum) {
                v0 += LD(y);
                v1 += LD(y + VW);
            }
            ST(y, v0);
            ST(y + VW, v1);
        }
    }
    for (; c + VW <= W; c += VW) {
        vf s0[RM];
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) s0[r] = (vf){};
        for (int64_t k = klo; k < khi; k++) {
            vf x0 = LD(X + k * ldx + c);
#pragma GCC unroll 16
            for (int r = 0; r < R; r++) s0[r] += AV(r, k) * x0;
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            float *y = Y + r * ldy + c;
            vf v0 = s0[r] * alpha;
            if (accum) v0 += LD(y);
            ST(y, v0);
        }
    }
#if VW == 16
    if (c + 8 <= W) {
        v8f s0[RM];
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) s0[r] = (v8f){};
        for (int64_t k = klo; k < khi; k++) {
            v8f x0 = LD8(X + k * ldx + c);
#pragma GCC unroll 16
            for (int r = 0; r < R; r++) s0[r] += AV(r, k) * x0;
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            float *y = Y + r * ldy + c;
            v8f v0 = s0[r] * alpha;
            if (accum) v0 += LD8(y);
            ST8(y, v0);
        }
        c += 8;
    }
#endif
    for (; c < W; c++) { /* D not a multiple of 8 */
        float s0[RM];
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) s0[r] = 0.0f;
        for (int64_t k = klo; k < khi; k++) {
            float x0 = X[k * ldx + c];
#pragma GCC unroll 16
            for (int r = 0; r < R; r++) s0[r] += AV(r, k) * x0;
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            float *y = Y + r * ldy + c;
            float v0 = s0[r] * alpha;
            *y = accum ? *y + v0 : v0;
        }
    }
#undef AV
}

#define TILE_CASE(n, TR) \
    case n: tile_core(n, TR, A, lda, X, ldx, Y, ldy, klo, khi, W, alpha, accum); break;
#if RM == 8
#define TILE_CASES_MORE(TR) TILE_CASE(7, TR) TILE_CASE(8, TR)
#else
#define TILE_CASES_MORE(TR)
#endif
#define TILE_SWITCH(TR) \
    switch (R) { \
        TILE_CASE(1, TR) TILE_CASE(2, TR) TILE_CASE(3, TR) TILE_CASE(4, TR) TILE_CASE(5, TR) TILE_CASE(6, TR) \
        TILE_CASES_MORE(TR) \
    }
/* A(r, k) = A[r * lda + k] */
static __attribute__((noinline)) void tile_n(int R, const float *A, int64_t lda, const float *X, int64_t ldx, float *Y,
                                             int64_t ldy, int64_t klo, int64_t khi, int64_t W, float alpha, int accum) {
    TILE_SWITCH(0)
}
/* A(r, k) = A[k * lda + r] */
static __attribute__((noinline)) void tile_t(int R, const float *A, int64_t lda, const float *X, int64_t ldx, float *Y,
                                             int64_t ldy, int64_t klo, int64_t khi, int64_t W, float alpha, int accum) {
    TILE_SWITCH(1)
}

/* out[j] = alpha * <q, K[j]> for j in [0, n): rows of K at stride ldk. */
static void dot_keys(const float *q, const float *K, int64_t ldk, int64_t n, int64_t D, float alpha, float *out) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *k0 = K + j * ldk, *k1 = k0 + ldk, *k2 = k1 + ldk, *k3 = k2 + ldk;
        vf a0 = {}, a1 = {}, a2 = {}, a3 = {};
        int64_t e = 0;
        for (; e + VW <= D; e += VW) {
            vf qv = LD(q + e);
            a0 += qv * LD(k0 + e);
            a1 += qv * LD(k1 + e);
            a2 += qv * LD(k2 + e);
            a3 += qv * LD(k3 + e);
        }
        float t0 = hsum(a0), t1 = hsum(a1), t2 = hsum(a2), t3 = hsum(a3);
#if VW == 16
        if (e + 8 <= D) {
            v8f qv = LD8(q + e);
            t0 += hsum8(qv * LD8(k0 + e));
            t1 += hsum8(qv * LD8(k1 + e));
            t2 += hsum8(qv * LD8(k2 + e));
            t3 += hsum8(qv * LD8(k3 + e));
            e += 8;
        }
#endif
        for (; e < D; e++) {
            t0 += q[e] * k0[e];
            t1 += q[e] * k1[e];
            t2 += q[e] * k2[e];
            t3 += q[e] * k3[e];
        }
        out[j] = alpha * t0;
        out[j + 1] = alpha * t1;
        out[j + 2] = alpha * t2;
        out[j + 3] = alpha * t3;
    }
    for (; j < n; j++) {
        const float *k0 = K + j * ldk;
        vf a0 = {};
        int64_t e = 0;
        for (; e + VW <= D; e += VW) a0 += LD(q + e) * LD(k0 + e);
        float t0 = hsum(a0);
#if VW == 16
        if (e + 8 <= D) {
            t0 += hsum8(LD8(q + e) * LD8(k0 + e));
            e += 8;
        }
#endif
        for (; e < D; e++) t0 += q[e] * k0[e];
        out[j] = alpha * t0;
    }
}

/* Raw products of a query block against the keys: S[i, j] = alpha * <A[i0+i], key j>
 * for j up to each row's causal limit (rounded up to whole vectors; columns
 * past the limit hold finite junk that the callers mask). Keys either
 * transposed in Kt [D, ldk_t] (use_t) or as rows of Kr at stride ldk. Shared by
 * the forward and the backward's recomputation of P (one body: the same code
 * on the same inputs gives the same bits). */
static ATT_ONE_BODY void block_scores(const float *Ab, int64_t lda, int64_t i0, int64_t nq, int64_t t0, int64_t D,
                                      int use_t, const float *Kt, int64_t ldk_t, const float *Kr, int64_t ldk,
                                      float alpha, float *S, int64_t lds) {
    if (use_t) {
        for (int64_t r0 = 0; r0 < nq; r0 += RM) {
            int R = nq - r0 < RM ? (int)(nq - r0) : RM;
            int64_t W = round_vw(t0 + i0 + r0 + R); /* keys [0, last row's limit] */
            tile_n(R, Ab + (i0 + r0) * lda, lda, Kt, ldk_t, S + r0 * lds, lds, 0, D, W, alpha, 0);
        }
    } else {
        for (int64_t i = 0; i < nq; i++) dot_keys(Ab + (i0 + i) * lda, Kr, ldk, t0 + i0 + i + 1, D, alpha, S + i * lds);
    }
}

/* Row layout of the [nq, lds] score buffers (S, P, dropped P, dP/dS): row i
 * (causal limit lim = t0 + i0 + i) holds its values in [0, lim] and zeros in
 * (lim, row_end(lim)), i.e. at least the next VW >= RM columns: as far as the
 * row-group kernels read past a row's limit (a group of RM rows or keys runs
 * to its last member's limit). Nothing further is written or read. */
static inline int64_t row_end(int64_t lim) { return (lim / VW + 2) * VW; }

static inline vf vmax(vf a, vf b) { return vsel(a > b, a, b); }
static inline float hmax(vf v) {
#if VW == 16
    v = vmax(v, SHUF(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    v = vmax(v, SHUF(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11));
    v = vmax(v, SHUF(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
    v = vmax(v, SHUF(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14));
#else
    v = vmax(v, SHUF(v, v, 4, 5, 6, 7, 0, 1, 2, 3));
    v = vmax(v, SHUF(v, v, 2, 3, 0, 1, 6, 7, 4, 5));
    v = vmax(v, SHUF(v, v, 1, 0, 3, 2, 5, 4, 7, 6));
#endif
    return v[0];
}

/* Softmax of the block's score rows in place (row i over keys [0, lim0 + i]),
 * with the additive key mask (madd padded to whole vectors). ok[i] = 0 marks a
 * row with no attendable key (a left-pad query): it is uniform over its causal
 * window (see ops.h); ok may be NULL. Shared by forward and backward (one body). */
static ATT_ONE_BODY void block_softmax(float *S, int64_t lds, int64_t nq, int64_t lim0, const float *madd, int *ok) {
    const vf ninf = vsplat(-INFINITY), zero = {};
    float sums[QB];
    /* exp(s - max) and the row sums; the normalisation in a second loop, so the
     * rows' divisions overlap instead of each stalling its row */
    for (int64_t i = 0; i < nq; i++) {
        float *s = S + i * lds;
        const int64_t limit = lim0 + i, last = limit / VW * VW;
        vf mx = ninf;
        for (int64_t j = 0; j < last; j += VW) {
            vf x = LD(s + j) + LD(madd + j);
            ST(s + j, x);
            mx = vmax(mx, x);
        }
        vf x = LD(s + last) + LD(madd + last);
        x = vsel(lane_ids() + (int32_t)last <= (int32_t)limit, x, ninf);
        ST(s + last, x);
        ST(s + last + VW, zero);
        float m = hmax(vmax(mx, x));
        if (m == -INFINITY) {
            float u = 1.0f / (float)(limit + 1);
            for (int64_t j = 0; j <= limit; j++) s[j] = u;
            for (int64_t j = limit + 1; j < last + VW; j++) s[j] = 0.0f;
            sums[i] = 0.0f;
            continue;
        }
        vf sum = {};
        for (int64_t j = 0; j <= last; j += VW) {
            vf e = vexp_neg(LD(s + j) - m); /* exp(-inf) = 0 for padded keys and columns past limit */
            ST(s + j, e);
            sum += e;
        }
        sums[i] = hsum(sum); /* >= 1 (the max column gives exp(0) = 1): 0 flags a uniform row */
    }
    for (int64_t i = 0; i < nq; i++) {
        if (ok) ok[i] = sums[i] != 0.0f;
        if (sums[i] == 0.0f) continue;
        float *s = S + i * lds, inv = 1.0f / sums[i];
        for (int64_t j = 0, last = (lim0 + i) / VW * VW; j <= last; j += VW) ST(s + j, LD(s + j) * inv);
    }
}

/* dst row = dropout of src row over [0, limit], zeros up to row_end(limit). */
static inline void apply_dropout(float *dst, const float *src, int64_t limit, uint64_t seed, uint64_t stream,
                                 uint64_t base, float p, float scale) {
    for (int64_t j = 0; j <= limit; j++)
        dst[j] = coco_hash_uniform(seed, stream, base + (uint64_t)j) < p ? 0.0f : src[j] * scale;
    for (int64_t j = limit + 1, e = row_end(limit); j < e; j++) dst[j] = 0.0f;
}

/* Per-thread scratch, ldt = Tk rounded up to whole vectors, lds = ldt + VW:
 * Kt, Vt [D, ldt] transposed keys/values; S, Sd, dP [min(Tn, QB), lds];
 * madd [ldt] (the batch row's mask, padded); tmp [8, D]; ok [QB] row flags. */
typedef struct attn_ws {
    float *Kt, *Vt, *S, *Sd, *dP, *madd, *tmp;
    int *ok;
} attn_ws;

static int64_t ws_floats(const attn_dims *d) {
    int64_t ldt = round_vw(d->Tk), nq = d->Tn < QB ? d->Tn : QB;
    return round_vw(2 * d->D * ldt + 3 * nq * (ldt + VW) + ldt + 8 * d->D + QB) + VW;
}

static attn_ws ws_slot(const attn_dims *d, float *scratch) {
    int64_t ldt = round_vw(d->Tk), nq = d->Tn < QB ? d->Tn : QB;
    float *p = scratch + (size_t)coco_parallel_slot() * (size_t)ws_floats(d);
    attn_ws w;
    w.Kt = p;
    w.Vt = w.Kt + d->D * ldt;
    w.S = w.Vt + d->D * ldt;
    w.Sd = w.S + nq * (ldt + VW);
    w.dP = w.Sd + nq * (ldt + VW);
    w.madd = w.dP + nq * (ldt + VW);
    w.tmp = w.madd + ldt;
    w.ok = (int *)(w.tmp + 8 * d->D);
    return w;
}

/* o[c * ldo + u] = s[u * lds + c] for an 8 x 8 block, in registers. */
static inline void transpose8x8(float *o, int64_t ldo, const float *s, int64_t lds) {
    v8f r0 = LD8(s), r1 = LD8(s + lds), r2 = LD8(s + 2 * lds), r3 = LD8(s + 3 * lds);
    v8f r4 = LD8(s + 4 * lds), r5 = LD8(s + 5 * lds), r6 = LD8(s + 6 * lds), r7 = LD8(s + 7 * lds);
    v8f t0 = SHUF8(r0, r1, 0, 8, 1, 9, 4, 12, 5, 13), t1 = SHUF8(r0, r1, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t2 = SHUF8(r2, r3, 0, 8, 1, 9, 4, 12, 5, 13), t3 = SHUF8(r2, r3, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t4 = SHUF8(r4, r5, 0, 8, 1, 9, 4, 12, 5, 13), t5 = SHUF8(r4, r5, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t6 = SHUF8(r6, r7, 0, 8, 1, 9, 4, 12, 5, 13), t7 = SHUF8(r6, r7, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f u0 = SHUF8(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13), u1 = SHUF8(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f u2 = SHUF8(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13), u3 = SHUF8(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f u4 = SHUF8(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13), u5 = SHUF8(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f u6 = SHUF8(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13), u7 = SHUF8(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    ST8(o, SHUF8(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11));
    ST8(o + ldo, SHUF8(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11));
    ST8(o + 2 * ldo, SHUF8(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11));
    ST8(o + 3 * ldo, SHUF8(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11));
    ST8(o + 4 * ldo, SHUF8(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15));
    ST8(o + 5 * ldo, SHUF8(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15));
    ST8(o + 6 * ldo, SHUF8(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15));
    ST8(o + 7 * ldo, SHUF8(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15));
}

/* dst[e, j] = src[j, e] for j < n, zero for j in [n, ldt): 8 x 8 blocks
 * transposed in registers (the last partial block of keys from a zero-padded
 * copy), scalar for the columns of D past a multiple of 8. tmp: 8 * D floats. */
static void transpose_kv(float *dst, int64_t ldt, const float *src, int64_t lds, int64_t n, int64_t D, float *tmp) {
    const int64_t D8 = D / 8 * 8;
    for (int64_t j = 0; j < ldt; j += 8) {
        const float *s = src + j * lds;
        int64_t ls = lds;
        if (j + 8 > n) { /* the last keys, then zero rows */
            for (int64_t u = 0; u < 8; u++)
                for (int64_t e = 0; e < D; e++) tmp[u * D + e] = j + u < n ? src[(j + u) * lds + e] : 0.0f;
            s = tmp;
            ls = D;
        }
        for (int64_t e = 0; e < D8; e += 8) transpose8x8(dst + e * ldt + j, ldt, s + e, ls);
        for (int64_t e = D8; e < D; e++)
            for (int u = 0; u < 8; u++) dst[e * ldt + j + u] = s[u * ls + e];
    }
}

static void pad_mask(float *dst, const float *madd, int64_t Tk) {
    memcpy(dst, madd, (size_t)Tk * 4);
    for (int64_t j = Tk; j < round_vw(Tk); j++) dst[j] = 0.0f;
}

typedef struct attn_bwd_ctx {
    attn_dims d;
    const attn_saved *sv;
    float p, dscale, scale;
    int cached, fq, fk, fv; /* d(qkv), dK, dV fresh (uninitialised): written, not accumulated, on first touch */
    int64_t C3, TT, ldkv;
    float *dqkv, *dK, *dV, *scratch;
    const float *dO, *q, *K, *Vv;
} attn_bwd_ctx;

/* Backward of the (batch, head) pairs [lo, hi). */
static void attn_bwd_heads(void *ctx, int64_t lo, int64_t hi) {
    const attn_bwd_ctx *c = ctx;
    const attn_dims d = c->d;
    const attn_saved *sv = c->sv;
    const float p = c->p, dscale = c->dscale, scale = c->scale;
    const int cached = c->cached, fq = c->fq, fk = c->fk, fv = c->fv;
    const int64_t C3 = c->C3, TT = c->TT, ldkv = c->ldkv, ldt = round_vw(d.Tk), lds = ldt + VW;
    const int use_t = d.Tn > ATT_DOT_MAX;
    float *dqkv = c->dqkv, *dK = c->dK, *dV = c->dV;
    const float *dO = c->dO, *q = c->q, *K = c->K, *Vv = c->Vv;
    const attn_ws w = ws_slot(&d, c->scratch);
    for (int64_t bh = lo; bh < hi; bh++) {
        int64_t b = bh / d.H, h = bh % d.H;
        const float *dOb = dO + b * d.Tn * d.C + h * d.D;
        const float *Kb = head_k(&d, K, q, b, h), *Vb = head_v(&d, Vv, q, b, h);
        float *dKb = cached ? dK + bh * d.Tmax * d.D : dqkv + b * d.Tn * C3 + d.C + h * d.D;
        float *dVb = cached ? dV + bh * d.Tmax * d.D : dqkv + b * d.Tn * C3 + 2 * d.C + h * d.D;
        const float *Qb = q + b * d.Tn * C3 + h * d.D;
        pad_mask(w.madd, sv->madd + b * d.Tk, d.Tk);
        if (use_t) {
            transpose_kv(w.Kt, ldt, Kb, ldkv, d.Tk, d.D, w.tmp);
            transpose_kv(w.Vt, ldt, Vb, ldkv, d.Tk, d.D, w.tmp);
        }
        for (int64_t i0 = 0; i0 < d.Tn; i0 += QB) {
            int64_t i1 = i0 + QB < d.Tn ? i0 + QB : d.Tn, nq = i1 - i0, kend = d.t0 + i1;
            float *P = w.S, *dP = w.dP;
            /* P of the block, recomputed exactly as the forward computed it */
            block_scores(Qb, C3, i0, nq, d.t0, d.D, use_t, w.Kt, ldt, Kb, ldkv, scale, P, lds);
            block_softmax(P, lds, nq, d.t0 + i0, w.madd, w.ok);
            const float *Puse = P;
            if (p > 0.0f) {
                for (int64_t i = 0; i < nq; i++)
                    apply_dropout(w.Sd + i * lds, P + i * lds, d.t0 + i0 + i, sv->seed, sv->stream,
                                  (uint64_t)(bh * TT + (i0 + i) * d.Tk), p, dscale);
                Puse = w.Sd;
            }
            /* dV[0:kend] += Pd^T dO: key j only gets the queries i with t0 + i0 + i >= j.
             * Keys from jnew on are touched first by this block (no group straddles it). */
            const int64_t jnew = i0 == 0 ? 0 : d.t0 + i0;
            for (int64_t j0 = 0, R; j0 < kend; j0 += R) {
                int64_t jend = j0 < jnew ? jnew : kend, klo = j0 > d.t0 + i0 ? j0 - d.t0 - i0 : 0;
                R = jend - j0 < RM ? jend - j0 : RM;
                tile_t((int)R, Puse + j0, lds, dOb + i0 * d.C, d.C, dVb + j0 * ldkv, ldkv, klo, nq, d.D, 1.0f,
                       !(fv && j0 >= jnew));
            }
            /* dP[nq, kend] = dO V^T (up to each row's limit) */
            block_scores(dOb, d.C, i0, nq, d.t0, d.D, use_t, w.Vt, ldt, Vb, ldkv, 1.0f, dP, lds);
            /* dS = P * (dP - <P, dP>) * scale, in place of dP; zero past limit */
            for (int64_t i = 0; i < nq; i++) {
                float *dr = dP + i * lds;
                const float *pr = P + i * lds;
                int64_t limit = d.t0 + i0 + i, last = limit / VW * VW;
                if (!w.ok[i]) { /* uniform row: constant in the scores, no gradient */
                    memset(dr, 0, (size_t)row_end(limit) * 4);
                    continue;
                }
                if (p > 0.0f) {
                    uint64_t base = (uint64_t)(bh * TT + (i0 + i) * d.Tk);
                    for (int64_t j = 0; j <= limit; j++)
                        dr[j] = coco_hash_uniform(sv->seed, sv->stream, base + (uint64_t)j) < p ? 0.0f : dr[j] * dscale;
                }
                const vi keep = lane_ids() + (int32_t)last <= (int32_t)limit;
                vf dotv = {};
                for (int64_t j = 0; j < last; j += VW) dotv += LD(pr + j) * LD(dr + j);
                vf dl = vsel(keep, LD(dr + last), (vf){});
                dotv += LD(pr + last) * dl;
                float dot = hsum(dotv);
                for (int64_t j = 0; j < last; j += VW) ST(dr + j, LD(pr + j) * (LD(dr + j) - dot) * scale);
                ST(dr + last, vsel(keep, LD(pr + last) * (dl - dot) * scale, (vf){}));
                ST(dr + last + VW, (vf){});
            }
            /* dQ[nq, D] = dS K, straight into the q block of d(qkv) */
            if (dqkv)
                for (int64_t r0 = 0; r0 < nq; r0 += RM) {
                    int R = nq - r0 < RM ? (int)(nq - r0) : RM;
                    tile_n(R, dP + r0 * lds, lds, Kb, ldkv, dqkv + (b * d.Tn + i0 + r0) * C3 + h * d.D, C3, 0,
                           d.t0 + i0 + r0 + R, d.D, 1.0f, !fq);
                }
            /* dK[0:kend] += dS^T Q */
            for (int64_t j0 = 0, R; j0 < kend; j0 += R) {
                int64_t jend = j0 < jnew ? jnew : kend, klo = j0 > d.t0 + i0 ? j0 - d.t0 - i0 : 0;
                R = jend - j0 < RM ? jend - j0 : RM;
                tile_t((int)R, dP + j0, lds, Qb + i0 * C3, C3, dKb + j0 * ldkv, ldkv, klo, nq, d.D, 1.0f,
                       !(fk && j0 >= jnew));
            }
        }
        if (!cached) continue;
        /* Fresh cache grads: the columns past the keys were never written. */
        if (fk) memset(dKb + d.Tk * d.D, 0, (size_t)((d.Tmax - d.Tk) * d.D) * 4);
        if (fv) memset(dVb + d.Tk * d.D, 0, (size_t)((d.Tmax - d.Tk) * d.D) * 4);
        /* The span's own key/value columns came from qkv: move their gradient
         * there. After this the cache grad holds only the prefix's share. */
        for (int64_t i = 0; i < d.Tn; i++) {
            float *gk = dKb + (d.t0 + i) * d.D, *gv = dVb + (d.t0 + i) * d.D;
            if (dqkv) {
                float *tk = dqkv + (b * d.Tn + i) * C3 + d.C + h * d.D, *tv = tk + d.C;
                if (fq)
                    for (int64_t e = 0; e < d.D; e++) tk[e] = gk[e], tv[e] = gv[e];
                else
                    for (int64_t e = 0; e < d.D; e++) tk[e] += gk[e], tv[e] += gv[e];
            }
            for (int64_t e = 0; e < d.D; e++) gk[e] = gv[e] = 0.0f;
        }
    }
}

static void attention_bwd(coco_tape *tp, coco_node *n) {
    coco_tensor *qkv = n->in[0], *kc = n->in[1], *vc = n->in[2];
    const attn_saved *sv = n->saved;
    attn_dims d = {n->i[0], n->i[1], n->i[2], n->i[3], n->i[4], n->i[5], n->i[6], n->i[7]};
    float p = n->f[0], dscale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f, scale = n->f[1];
    int fq = 0, fk = 0, fv = 0;
    int64_t C3 = 3 * d.C, TT = d.Tn * d.Tk;
    int cached = kc != NULL;
    float *dqkv = coco_grad_acc(tp, qkv, &fq);
    if (!cached && !dqkv) return;
    /* A fresh gradient buffer is uninitialised: every element gets written once
     * before anything accumulates into it (no memset). Without caches dK, dV
     * live inside d(qkv); with caches the first backward over a cache (the last
     * pass's) writes all its key columns. */
    float *dK = cached ? coco_grad_acc(tp, kc, &fk) : NULL, *dV = cached ? coco_grad_acc(tp, vc, &fv) : NULL;
    if (!cached) fk = fv = fq;
    const float *dO = coco_f32(n->out->grad), *q = coco_f32(qkv);
    const float *K = cached ? coco_f32(kc) : NULL, *Vv = cached ? coco_f32(vc) : NULL;
    int64_t ldkv = cached ? d.D : C3;
    int nt = coco_threads();
    float *scratch = coco_tape_temp(tp, (size_t)nt * (size_t)ws_floats(&d) * 4);
    int64_t BH = d.B * d.H;
    attn_bwd_ctx c = {.d = d, .sv = sv, .p = p, .dscale = dscale, .scale = scale, .cached = cached, .fq = fq, .fk = fk,
                      .fv = fv, .C3 = C3, .TT = TT, .ldkv = ldkv, .dqkv = dqkv, .dK = dK, .dV = dV,
                      .scratch = scratch, .dO = dO, .q = q, .K = K, .Vv = Vv};
    coco_parallel_for(BH, TT * d.D * BH >= COCO_PAR_MIN ? 1 : BH, attn_bwd_heads, &c);
    coco_tape_temp_free(tp, scratch);
    if (!cached) return;
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
    int64_t C3, TT, ldkv;
    const float *x;
    float *K, *Vv;
    const float *madd;
    float *o, *scratch;
    float scale, dscale, dropout_p;
    uint64_t seed, stream;
} attn_fwd_ctx;

/* Forward of the (batch, head) pairs [lo, hi). */
static void attn_fwd_heads(void *ctx, int64_t lo, int64_t hi) {
    const attn_fwd_ctx *c = ctx;
    const attn_dims d = c->d;
    const int64_t C3 = c->C3, TT = c->TT, ldkv = c->ldkv, ldt = round_vw(d.Tk), lds = ldt + VW;
    const int use_t = d.Tn > ATT_DOT_MAX;
    const float *x = c->x, *madd = c->madd;
    float *K = c->K, *Vv = c->Vv;
    float *o = c->o;
    const float scale = c->scale, dscale = c->dscale, dropout_p = c->dropout_p;
    const uint64_t seed = c->seed, stream = c->stream;
    const attn_ws w = ws_slot(&d, c->scratch);
    for (int64_t bh = lo; bh < hi; bh++) {
        int64_t bb = bh / d.H, h = bh % d.H;
        const float *Qb = x + bb * d.Tn * C3 + h * d.D;
        const float *Kb = head_k(&d, K, x, bb, h), *Vb = head_v(&d, Vv, x, bb, h);
        if (K) /* append the span's keys and values to this head's caches */
            for (int64_t i = 0; i < d.Tn; i++) {
                const float *row = x + (bb * d.Tn + i) * C3 + h * d.D;
                float *kr = K + (bh * d.Tmax + d.t0 + i) * d.D, *vr = Vv + (bh * d.Tmax + d.t0 + i) * d.D;
                for (int64_t e = 0; e < d.D; e++) kr[e] = row[d.C + e], vr[e] = row[2 * d.C + e];
            }
        pad_mask(w.madd, madd + bb * d.Tk, d.Tk);
        if (use_t) transpose_kv(w.Kt, ldt, Kb, ldkv, d.Tk, d.D, w.tmp);
        for (int64_t i0 = 0; i0 < d.Tn; i0 += QB) {
            int64_t nq = i0 + QB < d.Tn ? QB : d.Tn - i0;
            float *S = w.S;
            /* S = Q K^T / sqrt(D) over keys [0, t0 + i0 + nq), then P = softmax in place */
            block_scores(Qb, C3, i0, nq, d.t0, d.D, use_t, w.Kt, ldt, Kb, ldkv, scale, S, lds);
            block_softmax(S, lds, nq, d.t0 + i0, w.madd, NULL);
            const float *Puse = S;
            if (dropout_p > 0.0f) {
                for (int64_t i = 0; i < nq; i++)
                    apply_dropout(w.Sd + i * lds, S + i * lds, d.t0 + i0 + i, seed, stream,
                                  (uint64_t)(bh * TT + (i0 + i) * d.Tk), dropout_p, dscale);
                Puse = w.Sd;
            }
            /* O[nq, D] = P V, into the head's slice of out [B, Tn, C]; each row
             * group only over its causal window */
            for (int64_t r0 = 0; r0 < nq; r0 += RM) {
                int R = nq - r0 < RM ? (int)(nq - r0) : RM;
                tile_n(R, Puse + r0 * lds, lds, Vb, ldkv, o + (bb * d.Tn + i0 + r0) * d.C + h * d.D, d.C, 0,
                       d.t0 + i0 + r0 + R, d.D, 1.0f, 0);
            }
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
    /* Additive key mask over the first Tk columns (all zeros when absent). */
    float *madd = coco_tape_alloc(tp, (size_t)(d.B * d.Tk) * 4);
    for (int64_t bb = 0; bb < d.B; bb++)
        for (int64_t j = 0; j < d.Tk; j++)
            madd[bb * d.Tk + j] = (mask && !coco_i32(mask)[bb * mask->shape[1] + j]) ? -INFINITY : 0.0f;

    coco_tensor *out = coco_tape_tensor(tp, COCO_F32, 3, (int64_t[]){d.B, d.Tn, d.C});
    float *o = coco_f32(out);
    int nt = coco_threads();
    float *scratch = coco_tape_temp(tp, (size_t)nt * (size_t)ws_floats(&d) * 4);
    float scale = 1.0f / sqrtf((float)d.D), dscale = dropout_p > 0.0f ? 1.0f / (1.0f - dropout_p) : 1.0f;
    uint64_t seed = 0, stream = 0;
    if (dropout_p > 0.0f) {
        seed = coco_tape_seed(tp);
        stream = coco_tape_next_stream(tp);
    }
    attn_fwd_ctx c = {.d = d, .C3 = C3, .TT = TT, .ldkv = ldkv, .x = x, .K = K, .Vv = Vv, .madd = madd, .o = o,
                      .scratch = scratch, .scale = scale, .dscale = dscale, .dropout_p = dropout_p, .seed = seed,
                      .stream = stream};
    coco_parallel_for(BH, TT * d.D * BH >= COCO_PAR_MIN ? 1 : BH, attn_fwd_heads, &c);
    coco_tape_temp_free(tp, scratch);
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

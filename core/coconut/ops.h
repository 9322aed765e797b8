/* coconut/ops.h — differentiable ops. Each allocates its output on the tape and,
 * when grad is on and an input requires it, records a node whose backward
 * accumulates into the inputs' grads.
 *
 * Shapes below: "[..., d]" means any rank >= 1 whose last dim is d; rows are the
 * product of the leading dims. All f32 unless marked i32.
 * Every op checks its arguments first and fails through coco_fail naming the op,
 * the argument and the shapes; no op starts threads before its checks pass.
 * Parallelism: the core's pool (parallel.h) over rows/columns/heads, GEMMs through coco_sgemm; results
 * are bitwise reproducible at a fixed thread count (no atomics, fixed reduction
 * order).
 */
#ifndef COCONUT_OPS_H
#define COCONUT_OPS_H

#include "coconut/autograd.h"

/* ids i32 [...], W [V, d] -> [..., d]; ids outside [0, V) fail naming the position. */
coco_tensor *coco_embedding(coco_tape *tp, const coco_tensor *ids, coco_tensor *W);

/* x [..., in], W [in, out] (HF Conv1D layout), b [out] or NULL -> [..., out] = x W + b. */
coco_tensor *coco_linear(coco_tape *tp, coco_tensor *x, coco_tensor *W, coco_tensor *b);
/* x [..., in], W [out, in] (nn.Linear layout; the tied LM head), b [out] or NULL -> x W^T + b. */
coco_tensor *coco_linear_wt(coco_tape *tp, coco_tensor *x, coco_tensor *W, coco_tensor *b);

/* res + x W + b (W [in, out]); res has x's rows and out columns. */
coco_tensor *coco_linear_add(coco_tape *tp, coco_tensor *x, coco_tensor *W, coco_tensor *b, coco_tensor *res);

/* linear(gelu(x), W, b) keeping only x (the GELU output is recomputed in backward). */
coco_tensor *coco_gelu_linear(coco_tape *tp, coco_tensor *x, coco_tensor *W, coco_tensor *b);

/* x [..., d], w [d], b [d] -> layer norm over the last dim with eps. */
coco_tensor *coco_layernorm(coco_tape *tp, coco_tensor *x, coco_tensor *w, coco_tensor *b, float eps);

/* linear(layernorm(x, lw, lb, eps), W, b), W [in, out]: the normalised rows
 * are recomputed in backward instead of kept (GPT-2's ln_1 -> c_attn and
 * ln_2 -> c_fc). Same values and gradients as the two ops. */
coco_tensor *coco_ln_linear(coco_tape *tp, coco_tensor *x, coco_tensor *lw, coco_tensor *lb, float eps, coco_tensor *W,
                            coco_tensor *b);

/* GELU, tanh approximation (GPT-2's "gelu_new"). */
coco_tensor *coco_gelu(coco_tape *tp, coco_tensor *x);

/* a + b, same shape. */
coco_tensor *coco_add(coco_tape *tp, coco_tensor *a, coco_tensor *b);
/* a * s for a constant scalar s. */
coco_tensor *coco_scale(coco_tape *tp, coco_tensor *a, float s);

/* Scalar (rank 0) sum / mean of all elements. */
coco_tensor *coco_sum(coco_tape *tp, coco_tensor *x);
coco_tensor *coco_mean(coco_tape *tp, coco_tensor *x);

/* logits [..., V], targets i32 with one entry per row of logits. Rows whose
 * target equals ignore_index do not count. Returns the scalar mean over counted
 * rows (NaN when none count, as PyTorch). Targets outside [0, V) fail. */
coco_tensor *coco_cross_entropy(coco_tape *tp, coco_tensor *logits, const coco_tensor *targets, int ignore_index);

/* Fused tied LM head + cross-entropy: hidden [..., d], W [V, d], targets i32
 * (one per row). Same value and gradients as
 * cross_entropy(linear_wt(hidden, W), targets), but only rows whose target
 * counts go through the head, in chunks, and no [rows, V] logits are kept. */
coco_tensor *coco_lm_head_ce(coco_tape *tp, coco_tensor *hidden, coco_tensor *W, const coco_tensor *targets, int ignore_index);

/* Set-valued targets (issue 12's "bfs" loss). Set i scores logits row row[i]
 * with the loss -log sum_{v in S_i} softmax(row)_v, where
 * S_i = ids[off[i] .. off[i+1]); its gradient with respect to the row's logit v
 * is p_v - [v in S_i] p_v / sum_{u in S_i} p_u. A set of one id {t} is exactly
 * the plain cross-entropy with target t (same floats).
 * Rules, checked (coco_fail naming the set and row): row[] strictly increasing
 * in [0, rows) (one set per row); the plain target of such a row is
 * ignore_index (a row is scored one way or the other); off[0] = 0 and every set
 * non-empty; ids in [0, V) and distinct within a set. The arrays are copied:
 * they need not outlive the call. */
typedef struct coco_label_sets {
    int64_t n;          /* number of sets (0: none) */
    const int32_t *row; /* [n] the logits row each set scores */
    const int32_t *off; /* [n+1] offsets into ids */
    const int32_t *ids; /* [off[n]] token ids */
} coco_label_sets;

/* cross_entropy / lm_head_ce with label sets as well (sets NULL or n = 0: the
 * plain ops, bit for bit). The scalar is the mean over all scored rows: the
 * rows with a plain target and the rows with a set, one weight each. */
coco_tensor *coco_cross_entropy_sets(coco_tape *tp, coco_tensor *logits, const coco_tensor *targets, int ignore_index,
                                     const coco_label_sets *sets);
coco_tensor *coco_lm_head_ce_sets(coco_tape *tp, coco_tensor *hidden, coco_tensor *W, const coco_tensor *targets,
                                  int ignore_index, const coco_label_sets *sets);

/* Rows are the rows of a tensor viewed as [N, d] (d = last dim).
 * gather: src [..., d], idx i32 [M] -> [M, d] (indices may repeat).
 * scatter: returns a copy of dst [..., d] whose rows idx[i] are replaced by the
 * rows of src [M, d]; duplicate indices fail. Both differentiable in all f32 inputs. */
coco_tensor *coco_gather_rows(coco_tape *tp, coco_tensor *src, const coco_tensor *idx);
coco_tensor *coco_scatter_rows(coco_tape *tp, coco_tensor *dst, coco_tensor *src, const coco_tensor *idx);

/* Same data viewed with another shape of equal size (no copy; i32 allowed, no grad). */
coco_tensor *coco_reshape(coco_tape *tp, coco_tensor *x, int ndim, const int64_t *shape);
/* Copy of x restricted to [a, b) along `axis` (f32 differentiable; i32 allowed). */
coco_tensor *coco_slice(coco_tape *tp, coco_tensor *x, int axis, int64_t a, int64_t b);

/* Concatenate n tensors along `axis`; all other dims must agree. */
coco_tensor *coco_concat(coco_tape *tp, int n, coco_tensor *const *xs, int axis);

/* Elementwise sigmoid. */
coco_tensor *coco_sigmoid(coco_tape *tp, coco_tensor *x);
/* Binary cross-entropy of probabilities p with targets y in [0,1] (same shape),
 * mean; log terms clamped at -100 as torch.nn.BCELoss. */
coco_tensor *coco_bce(coco_tape *tp, coco_tensor *p, const coco_tensor *y);
/* Numerically stable sigmoid + BCE on logits, mean. */
coco_tensor *coco_bce_with_logits(coco_tape *tp, coco_tensor *logits, const coco_tensor *y);

/* Inverted dropout: zero with probability p, scale the rest by 1/(1-p); returns
 * x itself when p == 0 (callers pass p = 0 in eval). Mask from the tape's seed
 * and a fresh stream, regenerated in backward. */
coco_tensor *coco_dropout(coco_tape *tp, coco_tensor *x, float p);

/* Causal multi-head self-attention for a span appended after a KV prefix.
 *   qkv     [B, Tn, 3C]   c_attn output for the span (q | k | v), C = n_head * D
 *   kcache  [B, H, Tmax, D], vcache likewise; columns [t0, t0+Tn) are overwritten
 *           with the span's k and v; columns [0, t0) are the prefix.
 *   mask    i32 [B, Tm] with Tm >= t0+Tn (1 attend, 0 padded key), or NULL.
 *   -> out  [B, Tn, C]: query i (column t0+i) attends to key columns j <= t0+i
 *           with mask 1, scaled by 1/sqrt(D). A query with no such key (a
 *           left-pad row) attends uniformly to columns 0..t0+i. HF's eager
 *           attention instead mixes in the later unpadded keys of the same call,
 *           which depends on how a sequence is split into cached chunks; such
 *           rows never reach a loss or a real token, and this rule keeps chunked
 *           and one-shot forwards identical.
 *   dropout_p on the attention probabilities (0 in eval).
 * Backward gives dq, and accumulates dK, dV into the caches' grads for all
 * columns < t0+Tn; the span's own columns are then moved into d(qkv), so
 * gradients reach earlier spans through the cache.
 * kcache = vcache = NULL (t0 must be 0): a single span with no cache; keys and
 * values are read from qkv in place and their gradients go straight to d(qkv).
 * Same results, without the [B, H, Tn, D] copies and their gradients. */
coco_tensor *coco_attention(coco_tape *tp, coco_tensor *qkv, coco_tensor *kcache, coco_tensor *vcache, int64_t t0,
                            const coco_tensor *mask, int n_head, float dropout_p);

#endif

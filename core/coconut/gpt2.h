/* coconut/gpt2.h — GPT-2, exactly Hugging Face's GPT2LMHeadModel, with a KV cache.
 *
 * Contract
 *   - Architecture: wte [V,d], wpe [n_positions,d]; n_layer pre-LN blocks
 *     (ln_1 -> c_attn [d,3d] -> causal MHA / sqrt(D) -> c_proj [d,d] -> residual;
 *      ln_2 -> c_fc [d,4d] -> GELU-tanh -> c_proj [4d,d] -> residual); ln_f;
 *     LM head tied to wte. LayerNorm eps from the config. Dropout (embedding,
 *     attention, residual) only while m->training is set.
 *   - Parameters are heap tensors named and shaped as HF's model.safetensors
 *     ("wte.weight", "h.3.attn.c_attn.weight" [in,out] Conv1D layout, ...),
 *     listed in m->names / m->params in HF order. Each has a persistent grad.
 *   - Forward runs over a span of columns [t0, t0+Tn) given token ids or input
 *     embeddings (the token-embedding part, positions are added inside), with
 *     explicit position ids and an attention mask over all columns so far. The
 *     span's keys/values are appended to the KV cache. It returns the last hidden
 *     state after ln_f, [B, Tn, d]; coco_gpt2_logits applies the tied head.
 *   - Caches: heap caches for generation (no grad), or tape caches for a training
 *     step, whose gradients flow back into earlier spans (latent stepper).
 *   - Loading: HF safetensors with config.json beside the file or the config in
 *     __metadata__["config"]; "transformer." prefixes, attn.bias/attn.masked_bias
 *     buffers and an lm_head.weight equal to wte are accepted. Any missing,
 *     misshapen or unknown tensor is an error naming the file and the tensor.
 *   - Threading: a model may be used by one step at a time.
 */
#ifndef COCONUT_GPT2_H
#define COCONUT_GPT2_H

#include "coconut/autograd.h"

typedef struct coco_gpt2_config {
    int n_layer, n_head, n_embd, vocab_size, n_positions;
    float layer_norm_epsilon;
    float embd_pdrop, attn_pdrop, resid_pdrop; /* HF defaults 0.1 */
} coco_gpt2_config;

typedef struct coco_gpt2_block {
    coco_tensor *ln1_w, *ln1_b, *attn_w, *attn_b, *attn_proj_w, *attn_proj_b;
    coco_tensor *ln2_w, *ln2_b, *fc_w, *fc_b, *mlp_proj_w, *mlp_proj_b;
} coco_gpt2_block;

typedef struct coco_gpt2 {
    coco_gpt2_config cfg;
    coco_tensor *wte, *wpe, *lnf_w, *lnf_b;
    coco_gpt2_block *h;
    int training;
    int n_params;
    char **names;         /* HF names, HF order */
    coco_tensor **params; /* aliases of the fields above */
} coco_gpt2;

/* Presets: "gpt2" (124M), "gpt2-medium", "tiny" (2x4x32, V=96, ctx 48), "small"
 * (4 layers, 4 heads, d=128, ctx 512), "mini" (6x6x192, ctx 512). Returns 0, or -1 + errmsg. */
int coco_gpt2_preset(const char *name, coco_gpt2_config *cfg);
/* Checks ranges and divisibility; -1 + errmsg naming the field. */
int coco_gpt2_config_check(const coco_gpt2_config *cfg);
/* Fills defaults (eps 1e-5, dropouts 0.1) then values from an HF config.json text. */
int coco_gpt2_config_from_json(const char *json_text, const char *what, coco_gpt2_config *cfg);
/* HF-style config.json text (malloc'ed). */
char *coco_gpt2_config_to_json(const coco_gpt2_config *cfg);

/* GPT-2 initialisation: N(0, 0.02); c_proj weights N(0, 0.02/sqrt(2 n_layer));
 * biases 0; LayerNorm weight 1, bias 0. Deterministic in seed. */
coco_gpt2 *coco_gpt2_new(const coco_gpt2_config *cfg, uint64_t seed);
/* NULL + errmsg (naming the file and tensor) on a bad file, a shape that does
 * not fit the config, or a NaN / Inf weight. */
coco_gpt2 *coco_gpt2_load(const char *path);
/* model.safetensors with HF names and the config in __metadata__["config"];
 * also writes config.json beside it when write_config_json. Atomic. */
int coco_gpt2_save(const coco_gpt2 *m, const char *path, int write_config_json);
void coco_gpt2_free(coco_gpt2 *m);

coco_tensor *coco_gpt2_param(const coco_gpt2 *m, const char *name); /* NULL if unknown */
void coco_gpt2_zero_grad(coco_gpt2 *m);
int64_t coco_gpt2_num_params(const coco_gpt2 *m);
/* Grow the vocabulary by n rows, each copied from row init_from (the paper uses
 * "<<", id 16791). Returns the first new id. Grads are resized too. */
int coco_gpt2_add_tokens(coco_gpt2 *m, int n, int init_from);

/* ------------------------------------------------------------------ KV cache */

typedef struct coco_kv_cache {
    int n_layer;
    int64_t B, H, D, Tmax;
    int64_t len;         /* columns filled */
    coco_tensor **k, **v; /* per layer [B, H, Tmax, D] */
    int on_tape;
} coco_kv_cache;

coco_kv_cache *coco_kv_new(const coco_gpt2 *m, int64_t B, int64_t Tmax);                 /* heap */
coco_kv_cache *coco_kv_on_tape(const coco_gpt2 *m, coco_tape *tp, int64_t B, int64_t Tmax); /* until tape reset */
void coco_kv_free(coco_kv_cache *kv);                                                     /* heap caches */
void coco_kv_truncate(coco_kv_cache *kv, int64_t len);

/* ------------------------------------------------------------------ forward */

typedef struct coco_gpt2_span {
    const coco_tensor *ids;  /* i32 [B, Tn], or NULL when embeds given */
    coco_tensor *embeds;     /* f32 [B, Tn, d] token embeddings (no positions), or NULL */
    const coco_tensor *pos;  /* i32 [B, Tn] position ids; NULL = t0 + i */
    const coco_tensor *mask; /* i32 [B, >= t0+Tn] 1 attend / 0 pad; NULL = all ones */
} coco_gpt2_span;

/* Runs the span at columns [kv->len, kv->len + Tn), appends to the cache and
 * returns the last hidden state after ln_f [B, Tn, d]. kv = NULL: one span
 * from column 0 with no cache (a plain training step; saves the cache's copy
 * of every layer's keys and values and their gradients). */
coco_tensor *coco_gpt2_forward(coco_gpt2 *m, coco_tape *tp, coco_kv_cache *kv, const coco_gpt2_span *span);
/* Token embeddings wte[ids] (differentiable), [..., d]. */
coco_tensor *coco_gpt2_embed(coco_gpt2 *m, coco_tape *tp, const coco_tensor *ids);
/* Tied LM head: hidden [..., d] -> logits [..., V]. */
coco_tensor *coco_gpt2_logits(coco_gpt2 *m, coco_tape *tp, coco_tensor *hidden);

#endif

/* coconut/latent.h — the Coconut latent stepper: multi-pass training forward
 * with gradients through every thought, and batched latent generation.
 *
 * Batch layout (what coco_collate / the official collator produce), all i32 [B, T]:
 *   input_ids with <|latent|> slots contiguous within a row, right after
 *   <|start-latent|>; every row that has latents has its first one at the same
 *   column s; attention_mask 1/0; labels (-100 = ignored; may be absent);
 *   position_ids.
 *
 * Training forward (the official Coconut.forward), N = max latents in the batch:
 *   pass 0 computes columns [0, s) from token embeddings; pass j = 1..N-1
 *   computes column s+j-1; the final pass computes [s+N-1, T). Before the pass
 *   that computes column s+j (j = 0..N-1), the input embedding of every row with
 *   a latent there is replaced by the last hidden state (after ln_f) at column
 *   s+j-1. All passes share one KV cache on the tape, honour the attention mask
 *   and add position embeddings from position_ids. Logits equal a plain forward
 *   over the final input embeddings. loss = mean over (b, t) of
 *   CE(logits[b,t], labels[b,t+1]) for labels != -100 — one mean over the batch.
 *   With label sets (below), the set columns join that mean: a set S at column
 *   c of row b adds -log sum_{v in S} softmax(logits[b,c-1])_v, one term among
 *   the others (coco_cross_entropy_sets in coconut/ops.h).
 *   Nothing is detached: backward reaches every thought and, through the cache,
 *   every earlier pass. With no latents it is one plain GPT-2 pass.
 *
 * Generation: see coco_latent_generate.
 * Threading: one call at a time per model; parallelism is inside the ops.
 */
#ifndef COCONUT_LATENT_H
#define COCONUT_LATENT_H

#include "coconut/gpt2.h"

typedef struct coco_batch {
    const coco_tensor *input_ids, *attention_mask, *labels, *position_ids; /* i32 [B, T]; labels may be NULL */
    /* Optional label sets (issue 12's "bfs" loss): all three or none (NULL), i32.
     *   set_pos     [M]   flat index b*T + c of the label column c each set
     *                     scores (the logits at column c-1 predict it); strictly
     *                     increasing, c >= 1, attention_mask 1 and labels -100 there;
     *   set_offsets [M+1] set k is set_ids[set_offsets[k] .. set_offsets[k+1]),
     *                     set_offsets[0] = 0, every set non-empty;
     *   set_ids     [K]   token ids in [0, V), distinct within a set.
     * Labels are required with sets. coco_collate_sets builds them. */
    const coco_tensor *set_pos, *set_offsets, *set_ids;
} coco_batch;

typedef struct coco_special_ids {
    int32_t latent, start, end, eos; /* <|latent|>, <|start-latent|>, <|end-latent|>, <|endoftext|> */
} coco_special_ids;

typedef struct coco_step_result {
    coco_tensor *loss;   /* scalar; NULL without labels */
    coco_tensor *logits; /* [B, T, V]; NULL unless asked for */
    coco_tensor *hidden; /* [B, T, d] last hidden state after ln_f */
    coco_tensor *embeds; /* [B, T, d] input embeddings after the thoughts were fed back */
    int64_t first_latent, max_latents, passes;
    int64_t label_tokens; /* positions in the loss's mean: labels != -100 plus label sets */
} coco_step_result;

/* The official collator. Example i has ids[i][0..len[i]) and optionally labels
 * (same length). Rows with latents are left-padded so that every first latent
 * lands in the same column; left pads have id pad_id, mask 0, label -100,
 * position 0, and positions restart at 0 after them. Then every row is
 * right-padded to the longest with the same values. Fills heap tensors in *out
 * (labels NULL when labels is NULL); free with coco_batch_free. */
int coco_collate(int n, const int32_t *const *ids, const int32_t *const *labels, const int *len, int32_t latent_id,
                 int32_t pad_id, coco_batch *out);
void coco_batch_free(coco_batch *b);

/* Label sets of one example, for coco_collate_sets: set k stands for the token
 * at 0-based position pos[k] of the example, with the ids ids[off[k] ..
 * off[k+1]). Duplicate ids are allowed here and dropped. */
typedef struct coco_example_sets {
    int n;              /* sets of this example (0: none) */
    const int *pos;     /* [n] */
    const int *off;     /* [n+1], off[0] = 0 */
    const int32_t *ids; /* [off[n]] */
} coco_example_sets;

/* Adds set_pos / set_offsets / set_ids to a batch that coco_collate built
 * from the same examples, in the same order (sets[i] for example i, one per
 * row). A position maps to its column through the row's left padding. Sets are
 * ordered by row then column; the ids of a set are sorted ascending with
 * duplicates dropped. No set in any example: the batch is left unchanged.
 * Checks (messages number examples and positions from 1, as Lua does): the
 * batch has labels; 1 <= pos < len (the first token has no logits before it);
 * one set per position; labels -100 there; sets non-empty; ids >= 0 (the
 * vocabulary is checked at forward). Returns 0, or -1 + errmsg. */
int coco_collate_sets(coco_batch *b, const coco_example_sets *sets);

/* The label-set part of coco_batch_check (which calls it with V = 0, after
 * checking the [B, T] shapes this relies on): layout, positions, labels and
 * mask; with V > 0 also ids in [0, V) and distinct within a set (the forward
 * passes the model's vocabulary size). 0 or -1 + errmsg naming the set, row
 * and column. */
int coco_batch_check_sets(const coco_batch *b, int64_t V);

/* Checks the layout; returns 0 or -1 + errmsg naming the row and column.
 * Optional outputs: first latent column s (-1 when none), max latents N, and
 * per-row latent counts (n_latent[B]). */
int coco_batch_check(const coco_batch *b, int32_t latent_id, int32_t start_id, int64_t *s, int64_t *N, int *n_latent);

/* Runs the multi-pass forward on the tape. want_logits = 0 skips the [B,T,V]
 * logits tensor (the loss is computed by a fused head + cross-entropy).
 * Returns 0, or -1 + errmsg for a malformed batch (nothing recorded). */
int coco_latent_forward(coco_gpt2 *m, coco_tape *tp, const coco_batch *b, int32_t latent_id, int32_t start_id,
                        int want_logits, coco_step_result *out);

/* Same result computed the slow, obvious way: for every thought, re-run the
 * whole prefix from scratch (no cache). For tests. */
int coco_latent_forward_recompute(coco_gpt2 *m, coco_tape *tp, const coco_batch *b, int32_t latent_id, int32_t start_id,
                                  coco_step_result *out);

/* ------------------------------------------------------------------ generation */

/* <eot> policy: decides, for each example still thinking, whether to stop.
 * Called with n rows (indices into the batch), the thoughts each has produced so
 * far, the planned count per row (opts->planned, -1 when none) and the latest
 * hidden state of each ([n, d]: after the prompt when n_thoughts = 0, else the
 * hidden state the next thought would feed back). Sets stop[i] = 1 to end
 * latent mode for row rows[i]. Returns 0, or -1 with errmsg set to abort. */
typedef struct coco_eot_policy {
    void *self;
    int (*decide)(void *self, int n, const int *rows, const int *n_thoughts, const int *planned, const float *hidden,
                  int d, unsigned char *stop);
} coco_eot_policy;

/* start_id value for coco_batch_check / coco_latent_forward: latents may follow
 * any token (the marker-less layout); a latent in column 0 is still an error. */
#define COCO_NO_START_MARKER (-2)

typedef struct coco_gen_options {
    int max_new_tokens;     /* greedy tokens after the thoughts (eos ends early, not emitted) */
    int max_thoughts;       /* hard cap on thoughts per example (required with a policy) */
    const int *planned;     /* per-row thought counts; without a policy, exactly these are produced */
    const coco_eot_policy *policy;
    int return_thoughts;    /* fill thoughts[] */
    int return_logits;      /* fill logits[] */
    /* Appended. 1: the marker-less layout ("Reasoning by Superposition"):
     * every prompt with planned[i] > 0 (or a policy) thinks right after its
     * last token, no <|end-latent|> is fed, and the last thought's own logits
     * give the first new token. 0: the official markers. */
    int no_markers;
} coco_gen_options;

typedef struct coco_gen_result {
    int n;
    int32_t **tokens; int *n_tokens;  /* new tokens per prompt (eos not included) */
    int *n_thoughts;
    float **thoughts;                 /* [n_thoughts, d] per prompt when asked */
    float **logits;                   /* [n_tokens (+1 if stopped at eos), V] per prompt when asked */
    int *n_logits;
    int d, V;
    int64_t forward_passes;
} coco_gen_result;

/* Generates for n prompts at once. A prompt ending with <|start-latent|>
 * produces thoughts (count from the policy, or planned[i]), then
 * <|end-latent|> is appended and greedy decoding runs; other prompts decode
 * directly. Prompts are left-padded (mask 0, positions restart at 0) so each
 * row computes exactly what it would alone. Returns 0 or -1 + errmsg. */
int coco_latent_generate(coco_gpt2 *m, const coco_special_ids *ids, int n, const int32_t *const *prompts,
                         const int *lens, const coco_gen_options *opt, coco_gen_result *res);
void coco_gen_result_free(coco_gen_result *res);

#endif

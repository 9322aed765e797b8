/* latent.c — Coconut multi-pass forward and batched latent generation (see coconut/latent.h). */
#include "coconut/latent.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/ops.h"

/* ------------------------------------------------------------------ batch checks */

static int check_2d(const coco_tensor *t, const char *name, int64_t B, int64_t T) {
    char s[96];
    if (!t) return coco_seterr("batch: '%s' is missing", name);
    if (t->dtype != COCO_I32) return coco_seterr("batch: '%s' must be i32, got %s", name, coco_shape_str(t, s, sizeof s));
    if (t->ndim != 2 || t->shape[0] != B || t->shape[1] != T)
        return coco_seterr("batch: '%s' is %s but input_ids is [%lld,%lld] (lengths disagree)", name,
                           coco_shape_str(t, s, sizeof s), (long long)B, (long long)T);
    return 0;
}

int coco_batch_check(const coco_batch *b, int32_t latent_id, int32_t start_id, int64_t *s_out, int64_t *N_out,
                     int *n_latent) {
    char s[96];
    if (!b->input_ids) return coco_seterr("batch: 'input_ids' is missing");
    if (b->input_ids->dtype != COCO_I32 || b->input_ids->ndim != 2)
        return coco_seterr("batch: 'input_ids' must be i32 [B, T], got %s", coco_shape_str(b->input_ids, s, sizeof s));
    int64_t B = b->input_ids->shape[0], T = b->input_ids->shape[1];
    if (B < 1 || T < 1) return coco_seterr("batch: input_ids is empty");
    if (check_2d(b->attention_mask, "attention_mask", B, T) || check_2d(b->position_ids, "position_ids", B, T)) return -1;
    if (b->labels && check_2d(b->labels, "labels", B, T)) return -1;
    if (coco_batch_check_sets(b, 0) != 0) return -1;
    const int32_t *ids = coco_i32(b->input_ids), *mask = coco_i32(b->attention_mask);
    int64_t s0 = -1, N = 0;
    int64_t s_row = -1;
    for (int64_t r = 0; r < B; r++) {
        const int32_t *row = ids + r * T;
        int64_t first = -1, count = 0;
        for (int64_t c = 0; c < T; c++) {
            if (row[c] != latent_id) continue;
            if (first < 0) {
                first = c;
                if (c == 0)
                    return coco_seterr("batch: row %lld: <|latent|> at column 0 has no hidden state before it to feed back",
                                       (long long)r);
                if (start_id != COCO_NO_START_MARKER && row[c - 1] != start_id)
                    return coco_seterr("batch: row %lld: <|latent|> at column %lld is not preceded by <|start-latent|> "
                                       "(id %d); latents must follow the start marker",
                                       (long long)r, (long long)c, start_id);
            } else if (c != first + count) {
                return coco_seterr("batch: row %lld: latents are not contiguous (a run starts at column %lld, another "
                                   "latent at column %lld)",
                                   (long long)r, (long long)first, (long long)c);
            }
            if (!mask[r * T + c])
                return coco_seterr("batch: row %lld: latent at column %lld has attention_mask 0", (long long)r, (long long)c);
            count++;
        }
        if (n_latent) n_latent[r] = (int)count;
        if (count == 0) continue;
        if (s0 < 0) {
            s0 = first;
            s_row = r;
        } else if (first != s0) {
            return coco_seterr("batch: row %lld's first latent is at column %lld but row %lld's is at column %lld; "
                               "rows must be left-padded so their first latents align (use coconut.collate)",
                               (long long)r, (long long)first, (long long)s_row, (long long)s0);
        }
        if (count > N) N = count;
    }
    if (s_out) *s_out = s0;
    if (N_out) *N_out = N;
    return 0;
}

/* ------------------------------------------------------------------ collate */

int coco_collate(int n, const int32_t *const *ids, const int32_t *const *labels, const int *len, int32_t latent_id,
                 int32_t pad_id, coco_batch *out) {
    memset(out, 0, sizeof *out);
    if (n < 1) return coco_seterr("collate: no examples");
    int *first = coco_malloc(sizeof(int) * (size_t)n, "collate");
    int latest = -1;
    for (int i = 0; i < n; i++) {
        if (len[i] < 1) {
            free(first);
            return coco_seterr("collate: example %d is empty", i + 1);
        }
        first[i] = -1;
        for (int c = 0; c < len[i]; c++)
            if (ids[i][c] == latent_id) {
                first[i] = c;
                break;
            }
        if (first[i] > latest) latest = first[i];
    }
    int T = 0;
    for (int i = 0; i < n; i++) {
        int padded = (first[i] >= 0 ? latest - first[i] : 0) + len[i];
        if (padded > T) T = padded;
    }
    int64_t shape[2] = {n, T};
    coco_tensor *I = coco_tensor_new(COCO_I32, 2, shape), *M = coco_tensor_new(COCO_I32, 2, shape);
    coco_tensor *P = coco_tensor_new(COCO_I32, 2, shape), *L = labels ? coco_tensor_new(COCO_I32, 2, shape) : NULL;
    for (int i = 0; i < n; i++) {
        int lp = first[i] >= 0 ? latest - first[i] : 0;
        for (int c = 0; c < T; c++) {
            int k = c - lp, real = k >= 0 && k < len[i];
            coco_i32(I)[(int64_t)i * T + c] = real ? ids[i][k] : pad_id;
            coco_i32(M)[(int64_t)i * T + c] = real;
            coco_i32(P)[(int64_t)i * T + c] = real ? k : 0;
            if (L) coco_i32(L)[(int64_t)i * T + c] = real ? labels[i][k] : -100;
        }
    }
    free(first);
    out->input_ids = I;
    out->attention_mask = M;
    out->position_ids = P;
    out->labels = L;
    return 0;
}

void coco_batch_free(coco_batch *b) {
    coco_tensor_release((coco_tensor *)b->input_ids);
    coco_tensor_release((coco_tensor *)b->attention_mask);
    coco_tensor_release((coco_tensor *)b->position_ids);
    coco_tensor_release((coco_tensor *)b->labels);
    coco_tensor_release((coco_tensor *)b->set_pos);
    coco_tensor_release((coco_tensor *)b->set_offsets);
    coco_tensor_release((coco_tensor *)b->set_ids);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ forward */

/* Shifted targets: tg[b*T + t] = labels[b, t+1], -100 in the last column. */
static coco_tensor *shifted_targets(coco_tape *tp, const coco_tensor *labels, int64_t *count) {
    int64_t B = labels->shape[0], T = labels->shape[1];
    coco_tensor *tg = coco_tape_tensor(tp, COCO_I32, 1, (int64_t[]){B * T});
    int64_t n = 0;
    for (int64_t r = 0; r < B; r++)
        for (int64_t t = 0; t < T; t++) {
            int32_t v = t + 1 < T ? coco_i32(labels)[r * T + t + 1] : -100;
            coco_i32(tg)[r * T + t] = v;
            n += v != -100;
        }
    *count = n;
    return tg;
}

/* E [B, L, d]: replace column `col` of the rows in `rows` by the last column of
 * prev [B, Lp, d]. Differentiable in both (gather + scatter). */
static coco_tensor *feed_back(coco_tape *tp, coco_tensor *E, int64_t col, coco_tensor *prev, const int *rows, int nrows) {
    int64_t L = E->shape[1], Lp = prev->shape[1];
    coco_tensor *src = coco_tape_tensor(tp, COCO_I32, 1, (int64_t[]){nrows});
    coco_tensor *dst = coco_tape_tensor(tp, COCO_I32, 1, (int64_t[]){nrows});
    for (int i = 0; i < nrows; i++) {
        coco_i32(src)[i] = (int32_t)(rows[i] * Lp + Lp - 1);
        coco_i32(dst)[i] = (int32_t)(rows[i] * L + col);
    }
    coco_tensor *h = coco_gather_rows(tp, prev, src);
    return coco_scatter_rows(tp, E, h, dst);
}

/* The batch's label sets as the loss ops take them: a set at label column c
 * scores the logits row of column c-1 (the same shift as shifted_targets).
 * n = 0 without sets. */
static coco_label_sets shifted_sets(coco_tape *tp, const coco_batch *b) {
    coco_label_sets ls = {0, NULL, NULL, NULL};
    if (!b->set_pos || b->set_pos->numel == 0) return ls;
    int64_t M = b->set_pos->numel;
    int32_t *row = coco_tape_alloc(tp, sizeof(int32_t) * (size_t)M);
    for (int64_t i = 0; i < M; i++) row[i] = coco_i32(b->set_pos)[i] - 1; /* column >= 1: same row b */
    ls.n = M;
    ls.row = row;
    ls.off = coco_i32(b->set_offsets);
    ls.ids = coco_i32(b->set_ids);
    return ls;
}

/* Hidden states -> logits (if wanted) and the one loss over labels and label
 * sets. Without logits the fused head runs only on the scored rows. */
static void finish(coco_gpt2 *m, coco_tape *tp, const coco_batch *b, coco_tensor *hidden, coco_tensor *embeds,
                   int want_logits, coco_step_result *out) {
    out->hidden = hidden;
    out->embeds = embeds;
    out->logits = NULL;
    out->loss = NULL;
    out->label_tokens = 0;
    coco_tensor *lg = want_logits ? coco_gpt2_logits(m, tp, hidden) : NULL;
    out->logits = lg;
    if (!b->labels) return;
    coco_tensor *tg = shifted_targets(tp, b->labels, &out->label_tokens);
    coco_label_sets ls = shifted_sets(tp, b);
    out->label_tokens += ls.n;
    if (lg) out->loss = coco_cross_entropy_sets(tp, lg, tg, -100, &ls);
    else out->loss = coco_lm_head_ce_sets(tp, hidden, m->wte, tg, -100, &ls);
}

int coco_latent_forward(coco_gpt2 *m, coco_tape *tp, const coco_batch *b, int32_t latent_id, int32_t start_id,
                        int want_logits, coco_step_result *out) {
    memset(out, 0, sizeof *out);
    int64_t s, N;
    if (!b->input_ids || b->input_ids->ndim != 2) return coco_seterr("batch: 'input_ids' must be i32 [B, T]");
    int64_t B = b->input_ids->shape[0], T = b->input_ids->shape[1];
    int *nl = coco_tape_alloc(tp, sizeof(int) * (size_t)(B > 0 ? B : 1));
    if (coco_batch_check(b, latent_id, start_id, &s, &N, nl) != 0) return -1;
    if (coco_batch_check_sets(b, m->cfg.vocab_size) != 0) return -1;
    if (T > m->cfg.n_positions)
        return coco_seterr("batch: %lld columns exceed the model's n_positions = %d", (long long)T, m->cfg.n_positions);
    out->first_latent = s;
    out->max_latents = N;
    coco_tensor *tok = coco_gpt2_embed(m, tp, b->input_ids);
    coco_tensor *pos = (coco_tensor *)b->position_ids;
    if (N == 0) {
        coco_gpt2_span sp = {NULL, tok, pos, b->attention_mask};
        coco_tensor *h = coco_gpt2_forward(m, tp, NULL, &sp); /* one pass: no cache needed */
        out->passes = 1;
        finish(m, tp, b, h, tok, want_logits, out);
        return 0;
    }
    int np = (int)N + 1;
    coco_kv_cache *kv = coco_kv_on_tape(m, tp, B, T);
    coco_tensor **hs = coco_tape_alloc(tp, sizeof *hs * (size_t)np), **es = coco_tape_alloc(tp, sizeof *es * (size_t)np);
    int *rows = coco_tape_alloc(tp, sizeof(int) * (size_t)B);
    coco_tensor *prev = NULL;
    for (int p = 0; p < np; p++) {
        int64_t a = p == 0 ? 0 : s + p - 1, e = p == 0 ? s : (p == np - 1 ? T : s + p);
        coco_tensor *E = coco_slice(tp, tok, 1, a, e);
        if (p >= 1) {
            /* Column a holds latent number p-1 in rows that have at least p latents. */
            int nr = 0;
            for (int64_t r = 0; r < B; r++)
                if (nl[r] >= p) rows[nr++] = (int)r;
            E = feed_back(tp, E, 0, prev, rows, nr);
        }
        coco_tensor *ps = coco_slice(tp, pos, 1, a, e);
        coco_gpt2_span sp = {NULL, E, ps, b->attention_mask};
        hs[p] = prev = coco_gpt2_forward(m, tp, kv, &sp);
        es[p] = E;
    }
    out->passes = np;
    finish(m, tp, b, coco_concat(tp, np, hs, 1), coco_concat(tp, np, es, 1), want_logits, out);
    return 0;
}

int coco_latent_forward_recompute(coco_gpt2 *m, coco_tape *tp, const coco_batch *b, int32_t latent_id,
                                  int32_t start_id, coco_step_result *out) {
    memset(out, 0, sizeof *out);
    int64_t s, N;
    if (!b->input_ids || b->input_ids->ndim != 2) return coco_seterr("batch: 'input_ids' must be i32 [B, T]");
    int64_t B = b->input_ids->shape[0], T = b->input_ids->shape[1];
    int *nl = coco_tape_alloc(tp, sizeof(int) * (size_t)B);
    if (coco_batch_check(b, latent_id, start_id, &s, &N, nl) != 0) return -1;
    if (coco_batch_check_sets(b, m->cfg.vocab_size) != 0) return -1;
    coco_tensor *E = coco_gpt2_embed(m, tp, b->input_ids);
    int *rows = coco_tape_alloc(tp, sizeof(int) * (size_t)B);
    for (int64_t j = 0; j < N; j++) {
        /* Whole prefix [0, s+j) from scratch, then fill latent j at column s+j. */
        coco_kv_cache *kv = coco_kv_on_tape(m, tp, B, s + j);
        coco_tensor *Ep = coco_slice(tp, E, 1, 0, s + j);
        coco_tensor *pp = coco_slice(tp, (coco_tensor *)b->position_ids, 1, 0, s + j);
        coco_gpt2_span sp = {NULL, Ep, pp, b->attention_mask};
        coco_tensor *h = coco_gpt2_forward(m, tp, kv, &sp);
        int nr = 0;
        for (int64_t r = 0; r < B; r++)
            if (nl[r] > j) rows[nr++] = (int)r;
        E = feed_back(tp, E, s + j, h, rows, nr);
        out->passes++;
    }
    coco_kv_cache *kv = coco_kv_on_tape(m, tp, B, T);
    coco_gpt2_span sp = {NULL, E, (coco_tensor *)b->position_ids, b->attention_mask};
    coco_tensor *h = coco_gpt2_forward(m, tp, kv, &sp);
    out->passes++;
    out->first_latent = s;
    out->max_latents = N;
    finish(m, tp, b, h, E, 1, out);
    return 0;
}

/* ------------------------------------------------------------------ generation */

enum { ST_THINK, ST_END, ST_TOKEN, ST_DONE };

typedef struct row_state {
    int state;      /* what the next column feeds */
    int32_t token;  /* ST_TOKEN: the token to feed */
    int n_thoughts;
    int pos;        /* next position id */
    int cap_tok, cap_th, n_log;
} row_state;

static void push_f(float **arr, int *cap, int count, int width, const float *src) {
    if (count + 1 > *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *arr = coco_realloc(*arr, sizeof(float) * (size_t)(*cap) * (size_t)width, "generation buffer");
    }
    memcpy(*arr + (size_t)count * width, src, sizeof(float) * (size_t)width);
}

static int32_t argmax_row(const float *x, int64_t V) {
    int64_t best = 0;
    for (int64_t j = 1; j < V; j++)
        if (x[j] > x[best]) best = j; /* ties -> lowest id, as torch.argmax on CPU */
    return (int32_t)best;
}

void coco_gen_result_free(coco_gen_result *res) {
    if (!res) return;
    for (int i = 0; i < res->n; i++) {
        if (res->tokens) free(res->tokens[i]);
        if (res->thoughts) free(res->thoughts[i]);
        if (res->logits) free(res->logits[i]);
    }
    free(res->tokens);
    free(res->n_tokens);
    free(res->n_thoughts);
    free(res->thoughts);
    free(res->logits);
    free(res->n_logits);
    memset(res, 0, sizeof *res);
}

int coco_latent_generate(coco_gpt2 *m, const coco_special_ids *ids, int n, const int32_t *const *prompts,
                         const int *lens, const coco_gen_options *opt, coco_gen_result *res) {
    memset(res, 0, sizeof *res);
    if (n < 1) return coco_seterr("generate: no prompts");
    if (opt->max_new_tokens < 0) return coco_seterr("generate: max_new_tokens = %d must be >= 0", opt->max_new_tokens);
    int V = m->cfg.vocab_size, d = m->cfg.n_embd;
    int Lmax = 0;
    for (int i = 0; i < n; i++) {
        if (lens[i] < 1) return coco_seterr("generate: prompt %d is empty", i + 1);
        for (int j = 0; j < lens[i]; j++)
            if (prompts[i][j] < 0 || prompts[i][j] >= V)
                return coco_seterr("generate: prompt %d: token %d at position %d is outside the vocabulary [0, %d)", i + 1,
                                   prompts[i][j], j + 1, V);
        if (lens[i] > Lmax) Lmax = lens[i];
    }
    if (opt->policy && opt->max_thoughts <= 0)
        return coco_seterr("generate: max_thoughts must be > 0 when an <eot> policy decides the thought count");
    int max_th = opt->max_thoughts > 0 ? opt->max_thoughts : 0;
    if (!opt->policy && opt->planned)
        for (int i = 0; i < n; i++) {
            if (opt->planned[i] < 0) return coco_seterr("generate: thought count %d for prompt %d is negative", opt->planned[i], i + 1);
            if (opt->planned[i] > max_th) max_th = opt->planned[i];
        }
    int64_t Tmax = (int64_t)Lmax + max_th + 1 + opt->max_new_tokens;
    int longest_row = 0;
    for (int i = 0; i < n; i++)
        if (lens[i] > longest_row) longest_row = lens[i];
    if (longest_row + max_th + 1 + opt->max_new_tokens > m->cfg.n_positions)
        return coco_seterr("generate: a prompt of %d tokens + %d thoughts + end marker + %d new tokens exceeds n_positions = %d",
                           longest_row, max_th, opt->max_new_tokens, m->cfg.n_positions);
    if (Tmax > m->cfg.n_positions) Tmax = m->cfg.n_positions; /* columns beyond are never reached: rows finish first */

    res->n = n;
    res->d = d;
    res->V = V;
    res->tokens = coco_calloc((size_t)n, sizeof *res->tokens, "gen");
    res->n_tokens = coco_calloc((size_t)n, sizeof(int), "gen");
    res->n_thoughts = coco_calloc((size_t)n, sizeof(int), "gen");
    res->thoughts = coco_calloc((size_t)n, sizeof *res->thoughts, "gen");
    res->logits = coco_calloc((size_t)n, sizeof *res->logits, "gen");
    res->n_logits = coco_calloc((size_t)n, sizeof(int), "gen");
    row_state *st = coco_calloc((size_t)n, sizeof *st, "gen");
    int *cap_tok = coco_calloc((size_t)n, sizeof(int), "gen");

    int was_training = m->training;
    m->training = 0;
    coco_tape *tp = coco_tape_new();
    coco_tape_set_grad_enabled(tp, 0);
    coco_kv_cache *kv = coco_kv_new(m, n, Tmax);
    coco_tensor *mask = coco_tensor_new(COCO_I32, 2, (int64_t[]){n, Tmax});
    int rc = 0;

    /* Pass 0: left-padded prompts. */
    coco_tensor *pid = coco_tape_tensor(tp, COCO_I32, 2, (int64_t[]){n, Lmax});
    coco_tensor *ppos = coco_tape_tensor(tp, COCO_I32, 2, (int64_t[]){n, Lmax});
    for (int i = 0; i < n; i++) {
        int pad = Lmax - lens[i];
        for (int c = 0; c < Lmax; c++) {
            int real = c >= pad;
            coco_i32(pid)[i * Lmax + c] = real ? prompts[i][c - pad] : ids->eos;
            coco_i32(ppos)[i * Lmax + c] = real ? c - pad : 0;
            coco_i32(mask)[(int64_t)i * Tmax + c] = real;
        }
        st[i].pos = lens[i];
        if (opt->no_markers)
            st[i].state = opt->policy || (opt->planned && opt->planned[i] > 0) ? ST_THINK : ST_TOKEN;
        else
            st[i].state = prompts[i][lens[i] - 1] == ids->start ? ST_THINK : ST_TOKEN;
    }
    coco_gpt2_span sp0 = {pid, NULL, ppos, mask};
    coco_tensor *h = coco_gpt2_forward(m, tp, kv, &sp0);
    res->forward_passes = 1;
    int64_t hcols = Lmax; /* h is [n, hcols, d]; the newest column is the last */

    float *hl = coco_malloc(sizeof(float) * (size_t)n * d, "gen hidden");
    int *qrows = coco_malloc(sizeof(int) * (size_t)n, "gen"), *qth = coco_malloc(sizeof(int) * (size_t)n, "gen");
    int *qplan = coco_malloc(sizeof(int) * (size_t)n, "gen");
    float *qh = coco_malloc(sizeof(float) * (size_t)n * d, "gen");
    unsigned char *stop = coco_malloc((size_t)n, "gen");
    /* needs_token[i]: the newest column's logits choose row i's next token. */
    unsigned char *needs_token = coco_calloc((size_t)n, 1, "gen");
    for (int i = 0; i < n; i++) needs_token[i] = st[i].state == ST_TOKEN;
    /* ask_policy[i]: the newest hidden state is a candidate thought for row i. */
    unsigned char *ask = coco_calloc((size_t)n, 1, "gen");
    for (int i = 0; i < n; i++) ask[i] = st[i].state == ST_THINK;

    for (;;) {
        for (int i = 0; i < n; i++) memcpy(hl + (size_t)i * d, coco_f32(h) + ((size_t)i * hcols + hcols - 1) * d, sizeof(float) * d);
        /* 1. <eot> decisions for rows whose newest hidden state could be a thought. */
        int q = 0;
        for (int i = 0; i < n; i++)
            if (ask[i]) {
                qrows[q] = i;
                qth[q] = st[i].n_thoughts;
                qplan[q] = opt->planned ? opt->planned[i] : -1;
                memcpy(qh + (size_t)q * d, hl + (size_t)i * d, sizeof(float) * d);
                q++;
            }
        if (q > 0) {
            memset(stop, 0, (size_t)q);
            if (opt->policy) {
                if (opt->policy->decide(opt->policy->self, q, qrows, qth, qplan, qh, d, stop) != 0) {
                    rc = -1;
                    break;
                }
            } else {
                for (int k = 0; k < q; k++) stop[k] = qth[k] >= (qplan[k] > 0 ? qplan[k] : 0);
            }
            for (int k = 0; k < q; k++) {
                int i = qrows[k];
                if (opt->max_thoughts > 0 && st[i].n_thoughts >= opt->max_thoughts) stop[k] = 1;
                st[i].state = stop[k] ? ST_END : ST_THINK;
                /* marker-less: no <|end-latent|>; the newest hidden state (the
                 * last thought's output) predicts the first token now */
                if (stop[k] && opt->no_markers) st[i].state = ST_TOKEN, needs_token[i] = 1;
            }
        }
        /* 2. Greedy tokens for rows whose newest column predicts one. */
        q = 0;
        for (int i = 0; i < n; i++)
            if (needs_token[i]) qrows[q++] = i;
        if (q > 0) {
            coco_tensor *hq = coco_tape_tensor(tp, COCO_F32, 2, (int64_t[]){q, d});
            for (int k = 0; k < q; k++) memcpy(coco_f32(hq) + (size_t)k * d, hl + (size_t)qrows[k] * d, sizeof(float) * d);
            coco_tensor *lg = coco_gpt2_logits(m, tp, hq);
            for (int k = 0; k < q; k++) {
                int i = qrows[k];
                const float *row = coco_f32(lg) + (size_t)k * V;
                if (opt->return_logits) push_f(&res->logits[i], &st[i].n_log, res->n_logits[i]++, V, row);
                int32_t t = argmax_row(row, V);
                if (t == ids->eos || opt->max_new_tokens == 0) {
                    st[i].state = ST_DONE;
                } else {
                    if (res->n_tokens[i] + 1 > cap_tok[i]) {
                        cap_tok[i] = cap_tok[i] ? 2 * cap_tok[i] : 16;
                        res->tokens[i] = coco_realloc(res->tokens[i], sizeof(int32_t) * (size_t)cap_tok[i], "gen tokens");
                    }
                    res->tokens[i][res->n_tokens[i]++] = t;
                    st[i].state = res->n_tokens[i] >= opt->max_new_tokens ? ST_DONE : ST_TOKEN;
                    st[i].token = t;
                }
            }
        }
        int active = 0;
        for (int i = 0; i < n; i++) active += st[i].state != ST_DONE;
        if (!active) break;
        /* 3. Next column: thought / end marker / token / padding per row. */
        coco_tape_reset(tp);
        int64_t col = kv->len;
        if (col >= Tmax) {
            rc = coco_seterr("generate: ran out of cache columns (%lld)", (long long)Tmax);
            break;
        }
        coco_tensor *ids1 = coco_tape_tensor(tp, COCO_I32, 2, (int64_t[]){n, 1});
        coco_tensor *pos1 = coco_tape_tensor(tp, COCO_I32, 2, (int64_t[]){n, 1});
        for (int i = 0; i < n; i++) {
            int32_t t = ids->eos;
            if (st[i].state == ST_END) t = ids->end;
            if (st[i].state == ST_TOKEN) t = st[i].token;
            coco_i32(ids1)[i] = t;
            coco_i32(pos1)[i] = st[i].state == ST_DONE ? 0 : st[i].pos;
            coco_i32(mask)[(int64_t)i * Tmax + col] = st[i].state != ST_DONE;
        }
        coco_tensor *E = coco_gpt2_embed(m, tp, ids1); /* [n, 1, d] */
        for (int i = 0; i < n; i++) {
            ask[i] = needs_token[i] = 0;
            switch (st[i].state) {
            case ST_THINK:
                memcpy(coco_f32(E) + (size_t)i * d, hl + (size_t)i * d, sizeof(float) * d);
                if (opt->return_thoughts) push_f(&res->thoughts[i], &st[i].cap_th, st[i].n_thoughts, d, hl + (size_t)i * d);
                st[i].n_thoughts++;
                ask[i] = 1;
                st[i].pos++;
                break;
            case ST_END:
            case ST_TOKEN:
                needs_token[i] = 1;
                st[i].pos++;
                break;
            default:
                break;
            }
        }
        coco_gpt2_span sp = {NULL, E, pos1, mask};
        h = coco_gpt2_forward(m, tp, kv, &sp);
        hcols = 1;
        res->forward_passes++;
    }
    for (int i = 0; i < n; i++) res->n_thoughts[i] = st[i].n_thoughts;
    if (!opt->return_thoughts) {
        free(res->thoughts);
        res->thoughts = NULL;
    }
    if (!opt->return_logits) {
        free(res->logits);
        free(res->n_logits);
        res->logits = NULL;
        res->n_logits = NULL;
    }
    free(hl);
    free(qrows);
    free(qth);
    free(qplan);
    free(qh);
    free(stop);
    free(needs_token);
    free(ask);
    free(st);
    free(cap_tok);
    coco_tensor_release(mask);
    coco_kv_free(kv);
    coco_tape_free(tp);
    m->training = was_training;
    if (rc != 0) coco_gen_result_free(res);
    return rc;
}

/* test_latent.c — the Coconut stepper on a random tiny GPT-2, without fixtures:
 * collate layout, zero latents == plain forward, multi-pass with KV reuse ==
 * full recompute, finite differences of the loss through the thoughts, batched
 * generation == one at a time, label sets (the "bfs" loss) in a latent batch,
 * and malformed batches refused.
 * (tests/c/test_fixtures.c checks the same code against PyTorch.) */
#include "coconut/latent.h"
#include "testutil.h"

enum { V = 40, PAD = 39, START = 36, END = 37, LAT = 38 };

static coco_gpt2 *tiny_model(uint64_t seed) {
    coco_gpt2_config c;
    coco_gpt2_preset("tiny", &c);
    c.vocab_size = V;
    c.n_positions = 40;
    c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0;
    coco_gpt2 *m = coco_gpt2_new(&c, seed);
    /* Larger weights than GPT-2's init so logits and thoughts are far from uniform. */
    coco_rng r;
    coco_rng_seed(&r, seed + 1);
    for (int i = 0; i < m->n_params; i++) {
        coco_tensor *t = m->params[i];
        for (int64_t j = 0; j < t->numel; j++)
            coco_f32(t)[j] = t->ndim == 1 ? (strstr(m->names[i], "weight") ? 1.0f : 0.0f) + 0.1f * (float)coco_rng_normal(&r)
                                          : 0.25f * (float)coco_rng_normal(&r);
    }
    return m;
}

/* Example: q question tokens, START, k latents, END, a answer tokens, eos. Labels -100 up to END. */
static int make_example(int32_t *ids, int32_t *lab, int q, int k, int a, int salt) {
    int n = 0;
    for (int i = 0; i < q; i++) lab[n] = -100, ids[n++] = (i * 7 + salt) % 30;
    lab[n] = -100, ids[n++] = START;
    for (int i = 0; i < k; i++) lab[n] = -100, ids[n++] = LAT;
    lab[n] = -100, ids[n++] = END;
    for (int i = 0; i < a; i++) ids[n] = (i * 5 + salt + 3) % 30, lab[n] = ids[n], n++;
    ids[n] = PAD, lab[n] = PAD, n++;
    return n;
}

static void collate4(coco_batch *b, const int *q, const int *k, const int *a, int n) {
    int32_t ids[8][64], lab[8][64];
    const int32_t *ip[8], *lp[8];
    int len[8];
    for (int i = 0; i < n; i++) {
        len[i] = make_example(ids[i], lab[i], q[i], k[i], a[i], i * 3);
        ip[i] = ids[i];
        lp[i] = lab[i];
    }
    assert_int_equal(coco_collate(n, ip, lp, len, LAT, PAD, b), 0);
}

static void test_collate_layout(void **s) {
    int q[3] = {4, 2, 3}, k[3] = {2, 3, 0}, a[3] = {2, 1, 4};
    coco_batch b;
    collate4(&b, q, k, a, 3);
    int64_t T = b.input_ids->shape[1];
    /* Row 0's first latent at column 5 (4 + start); row 1's at 3 -> 2 left pads. */
    const int32_t *I = coco_i32(b.input_ids), *M = coco_i32(b.attention_mask), *P = coco_i32(b.position_ids);
    assert_int_equal(I[0 * T + 5], LAT);
    assert_int_equal(I[1 * T + 5], LAT);
    assert_int_equal(I[1 * T + 0], PAD);
    assert_int_equal(M[1 * T + 1], 0);
    assert_int_equal(M[1 * T + 2], 1);
    assert_int_equal(P[1 * T + 2], 0); /* positions restart after the pads */
    assert_int_equal(P[1 * T + 3], 1);
    assert_int_equal(coco_i32(b.labels)[1 * T + 0], -100);
    /* Row 2 has no latents: no left pads. */
    assert_int_equal(M[2 * T + 0], 1);
    assert_int_equal(P[2 * T + 0], 0);
    /* Right padding to the longest row. */
    assert_int_equal(T, 2 + 2 + 1 + 3 + 1 + 1 + 1); /* row 1: 2 pads + 9 tokens */
    int64_t s0, N;
    assert_int_equal(coco_batch_check(&b, LAT, START, &s0, &N, NULL), 0);
    assert_int_equal(s0, 5);
    assert_int_equal(N, 3);
    coco_batch_free(&b);
}

static void test_zero_latents_equals_plain(void **s) {
    coco_gpt2 *m = tiny_model(1);
    int q[2] = {5, 3}, k[2] = {0, 0}, a[2] = {3, 2};
    coco_batch b;
    collate4(&b, q, k, a, 2);
    coco_tape *tp = coco_tape_new();
    coco_step_result r;
    assert_int_equal(coco_latent_forward(m, tp, &b, LAT, START, 1, &r), 0);
    assert_int_equal(r.passes, 1);
    float loss = coco_f32(r.loss)[0];
    coco_tape *tp2 = coco_tape_new();
    coco_kv_cache *kv = coco_kv_on_tape(m, tp2, 2, b.input_ids->shape[1]);
    coco_gpt2_span sp = {b.input_ids, NULL, b.position_ids, b.attention_mask};
    coco_tensor *lg = coco_gpt2_logits(m, tp2, coco_gpt2_forward(m, tp2, kv, &sp));
    assert_memory_equal(lg->data, r.logits->data, (size_t)lg->numel * 4);
    assert_true(isfinite(loss));
    coco_tape_free(tp);
    coco_tape_free(tp2);
    coco_batch_free(&b);
    coco_gpt2_free(m);
}

static void grads_copy(coco_gpt2 *m, float *dst) {
    int64_t off = 0;
    for (int i = 0; i < m->n_params; i++) {
        memcpy(dst + off, m->params[i]->grad->data, (size_t)m->params[i]->numel * 4);
        off += m->params[i]->numel;
    }
}

static void test_multipass_equals_recompute(void **s) {
    coco_gpt2 *m = tiny_model(2);
    int q[4] = {4, 2, 6, 3}, k[4] = {3, 1, 0, 4}, a[4] = {2, 3, 1, 2};
    coco_batch b;
    collate4(&b, q, k, a, 4);
    int64_t np = coco_gpt2_num_params(m);
    float *g1 = malloc((size_t)np * 4), *g2 = malloc((size_t)np * 4);
    coco_tape *tp = coco_tape_new();
    coco_step_result r1, r2;
    coco_gpt2_zero_grad(m);
    assert_int_equal(coco_latent_forward(m, tp, &b, LAT, START, 1, &r1), 0);
    assert_int_equal(r1.passes, 5); /* N = 4 latents -> N + 1 passes */
    coco_backward(tp, r1.loss);
    grads_copy(m, g1);
    coco_tape *tp2 = coco_tape_new();
    coco_gpt2_zero_grad(m);
    assert_int_equal(coco_latent_forward_recompute(m, tp2, &b, LAT, START, &r2), 0);
    coco_backward(tp2, r2.loss);
    grads_copy(m, g2);
    /* Same math, different summation order in attention: f32 agreement. */
    assert_true(coco_max_abs_diff(coco_f32(r1.logits), coco_f32(r2.logits), r1.logits->numel) < 2e-5);
    assert_true(coco_max_abs_diff(coco_f32(r1.embeds), coco_f32(r2.embeds), r1.embeds->numel) < 2e-5);
    assert_true(fabsf(coco_f32(r1.loss)[0] - coco_f32(r2.loss)[0]) < 1e-5f);
    double gmax = 0;
    for (int64_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g1[i]));
    assert_true(coco_max_abs_diff(g1, g2, np) < 1e-4 * fmax(1.0, gmax));
    /* The thoughts really were fed back: embeds at latent slots differ from wte[LAT]. */
    int64_t T = b.input_ids->shape[1], d = m->cfg.n_embd;
    const float *e = coco_f32(r1.embeds) + (0 * T + r1.first_latent) * d;
    assert_true(coco_max_abs_diff(e, coco_f32(m->wte) + (int64_t)LAT * d, d) > 1e-3);
    free(g1);
    free(g2);
    coco_tape_free(tp);
    coco_tape_free(tp2);
    coco_batch_free(&b);
    coco_gpt2_free(m);
}

static double loss_of(coco_gpt2 *m, coco_batch *b) {
    coco_tape *tp = coco_tape_new();
    coco_tape_set_grad_enabled(tp, 0);
    coco_step_result r;
    assert_int_equal(coco_latent_forward(m, tp, b, LAT, START, 0, &r), 0);
    double L = coco_f32(r.loss)[0];
    coco_tape_free(tp);
    return L;
}

/* d loss / d param by central differences for parameters whose only route to
 * the answer tokens' loss goes through the thoughts (ln_f feeds every thought
 * back; the last layer's MLP shapes the fed-back hidden state). */
static void test_finite_differences_through_thoughts(void **s) {
    coco_gpt2 *m = tiny_model(3);
    int q[2] = {4, 3}, k[2] = {3, 2}, a[2] = {3, 3};
    coco_batch b;
    collate4(&b, q, k, a, 2);
    coco_tape *tp = coco_tape_new();
    coco_step_result r;
    coco_gpt2_zero_grad(m);
    assert_int_equal(coco_latent_forward(m, tp, &b, LAT, START, 0, &r), 0);
    coco_backward(tp, r.loss);
    const char *names[3] = {"ln_f.weight", "h.1.mlp.c_proj.weight", "h.0.attn.c_attn.weight"};
    double worst = 0;
    for (int pi = 0; pi < 3; pi++) {
        coco_tensor *p = coco_gpt2_param(m, names[pi]);
        for (int t = 0; t < 12; t++) {
            int64_t j = (int64_t)(t * 7919) % p->numel;
            float keep = coco_f32(p)[j];
            double h = 1e-2;
            coco_f32(p)[j] = keep + (float)h;
            double lp = loss_of(m, &b);
            coco_f32(p)[j] = keep - (float)h;
            double lm = loss_of(m, &b);
            coco_f32(p)[j] = keep;
            double num = (lp - lm) / (2 * h), ana = coco_f32(p->grad)[j];
            double err = fabs(num - ana) / (2e-3 + 2e-2 * fmax(fabs(num), fabs(ana)));
            if (err > worst) worst = err;
        }
    }
    assert_true(worst <= 1.0);
    coco_tape_free(tp);
    coco_batch_free(&b);
    coco_gpt2_free(m);
}

static void test_batched_generation_equals_single(void **s) {
    coco_gpt2 *m = tiny_model(4);
    int32_t p[4][16];
    int lens[4] = {6, 3, 9, 4}, k[4] = {2, 0, 3, 1};
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < lens[i] - 1; j++) p[i][j] = (j * 11 + i * 5) % 30;
        p[i][lens[i] - 1] = START;
    }
    p[1][lens[1] - 1] = 7; /* a prompt without thoughts (CoT-style) */
    const int32_t *pp[4] = {p[0], p[1], p[2], p[3]};
    coco_special_ids ids = {LAT, START, END, PAD};
    coco_gen_options o = {.max_new_tokens = 6, .planned = k, .return_thoughts = 1, .return_logits = 1};
    coco_gen_result all;
    assert_int_equal(coco_latent_generate(m, &ids, 4, pp, lens, &o, &all), 0);
    int total = 0;
    for (int i = 0; i < 4; i++) {
        coco_gen_result one;
        coco_gen_options o1 = o;
        o1.planned = &k[i];
        assert_int_equal(coco_latent_generate(m, &ids, 1, &pp[i], &lens[i], &o1, &one), 0);
        assert_int_equal(all.n_tokens[i], one.n_tokens[0]);
        assert_int_equal(all.n_thoughts[i], i == 1 ? 0 : k[i]);
        assert_int_equal(one.n_thoughts[0], all.n_thoughts[i]);
        if (one.n_tokens[0]) assert_memory_equal(all.tokens[i], one.tokens[0], sizeof(int32_t) * (size_t)one.n_tokens[0]);
        if (one.n_thoughts[0])
            assert_true(coco_max_abs_diff(all.thoughts[i], one.thoughts[0], (int64_t)one.n_thoughts[0] * all.d) < 1e-5);
        assert_int_equal(all.n_logits[i], one.n_logits[0]);
        total += one.n_tokens[0];
        coco_gen_result_free(&one);
    }
    assert_true(total > 4); /* the test means something only if tokens were produced */
    coco_gen_result_free(&all);
    coco_gpt2_free(m);
}

/* The thoughts of generation equal the hidden states the training forward feeds back. */
static void test_generation_thoughts_match_forward(void **s) {
    coco_gpt2 *m = tiny_model(5);
    int32_t ids[32], lab[32];
    int n = make_example(ids, lab, 5, 3, 2, 1);
    coco_batch b;
    const int32_t *ip[1] = {ids};
    assert_int_equal(coco_collate(1, ip, NULL, &n, LAT, PAD, &b), 0);
    coco_tape *tp = coco_tape_new();
    coco_step_result r;
    assert_int_equal(coco_latent_forward(m, tp, &b, LAT, START, 1, &r), 0);
    int plen = 6, k = 3;
    coco_special_ids sid = {LAT, START, END, PAD};
    coco_gen_options o = {.max_new_tokens = 1, .planned = &k, .return_thoughts = 1, .return_logits = 1};
    coco_gen_result g;
    const int32_t *pp[1] = {ids};
    assert_int_equal(coco_latent_generate(m, &sid, 1, pp, &plen, &o, &g), 0);
    int64_t d = m->cfg.n_embd;
    for (int j = 0; j < 3; j++)
        assert_true(coco_max_abs_diff(g.thoughts[0] + j * d, coco_f32(r.embeds) + (6 + j) * d, d) < 1e-5);
    /* First generated token's logits = forward logits at the END column. */
    assert_true(coco_max_abs_diff(g.logits[0], coco_f32(r.logits) + (int64_t)(6 + 3) * V, V) < 1e-4);
    coco_gen_result_free(&g);
    coco_tape_free(tp);
    coco_batch_free(&b);
    coco_gpt2_free(m);
}

/* Loss and gradients of one forward (grads summed into g, which must hold np floats). */
static float step_grads(coco_gpt2 *m, const coco_batch *b, int want_logits, float *g, coco_step_result *keep, coco_tape *tp) {
    coco_gpt2_zero_grad(m);
    assert_int_equal(coco_latent_forward(m, tp, b, LAT, START, want_logits, keep), 0);
    coco_backward(tp, keep->loss);
    grads_copy(m, g);
    return coco_f32(keep->loss)[0];
}

/* Label sets in a latent batch (the "bfs" loss through the multi-pass forward):
 *  - collate_sets maps an example's position through the row's left padding;
 *  - a set {t} at each first answer token = label t there: same loss, same
 *    gradients, in both loss paths (logits kept or fused head);
 *  - larger sets (given with a duplicate, which collate drops) give the same
 *    loss with and without logits, equal to a direct computation from the logits;
 *  - bad positions, labels and ids are refused with messages naming them. */
static void test_label_sets_latent_batch(void **s) {
    coco_gpt2 *m = tiny_model(6);
    int q[3] = {4, 2, 3}, k[3] = {2, 3, 0}, a[3] = {2, 1, 4};
    int32_t ids[3][64], lab[3][64], lab_s[3][64], one[3], four[3][4];
    const int32_t *ip[3], *lp[3], *lsp[3];
    int len[3], pos[3], off1[2] = {0, 1}, off4[2] = {0, 4};
    coco_example_sets es1[3], es4[3];
    for (int i = 0; i < 3; i++) {
        len[i] = make_example(ids[i], lab[i], q[i], k[i], a[i], i * 3);
        pos[i] = q[i] + k[i] + 2; /* question, START, latents, END: the first answer token */
        memcpy(lab_s[i], lab[i], sizeof lab[i]);
        one[i] = lab[i][pos[i]];
        lab_s[i][pos[i]] = -100;
        int32_t f[4] = {(one[i] + 7) % 30, one[i], (one[i] + 1) % 30, (one[i] + 7) % 30};
        memcpy(four[i], f, sizeof f);
        es1[i] = (coco_example_sets){1, &pos[i], off1, &one[i]};
        es4[i] = (coco_example_sets){1, &pos[i], off4, four[i]};
        ip[i] = ids[i], lp[i] = lab[i], lsp[i] = lab_s[i];
    }
    coco_batch bl, b1, b4;
    assert_int_equal(coco_collate(3, ip, lp, len, LAT, PAD, &bl), 0);
    assert_int_equal(coco_collate(3, ip, lsp, len, LAT, PAD, &b1), 0);
    assert_int_equal(coco_collate_sets(&b1, es1), 0);
    assert_int_equal(coco_collate(3, ip, lsp, len, LAT, PAD, &b4), 0);
    assert_int_equal(coco_collate_sets(&b4, es4), 0);
    int64_t T = bl.input_ids->shape[1];
    /* row 0: first latent at 5, row 1 at 3 -> 2 left pads; row 2 has no latents */
    assert_int_equal(coco_i32(b1.set_pos)[0], 0 * T + pos[0]);
    assert_int_equal(coco_i32(b1.set_pos)[1], 1 * T + 2 + pos[1]);
    assert_int_equal(coco_i32(b1.set_pos)[2], 2 * T + pos[2]);
    assert_int_equal(coco_i32(b1.labels)[1 * T + 2 + pos[1]], -100);
    /* duplicates dropped, ids sorted */
    assert_int_equal(b4.set_ids->numel, 9);
    assert_int_equal(coco_i32(b4.set_offsets)[3], 9);
    const int32_t *s4 = coco_i32(b4.set_ids);
    assert_true(s4[0] < s4[1] && s4[1] < s4[2]);

    int64_t np = coco_gpt2_num_params(m);
    float *g1 = malloc((size_t)np * 4), *g2 = malloc((size_t)np * 4);
    coco_tape *tp = coco_tape_new(), *tp2 = coco_tape_new();
    coco_step_result r1, r2;
    for (int want = 0; want < 2; want++) {
        float l1 = step_grads(m, &bl, want, g1, &r1, tp);
        float l2 = step_grads(m, &b1, want, g2, &r2, tp2);
        assert_true(r2.passes == 4 && r1.label_tokens == r2.label_tokens);
        assert_true(l1 == l2);
        assert_memory_equal(g1, g2, (size_t)np * 4);
        coco_tape_reset(tp), coco_tape_reset(tp2);
    }
    /* sets of 3: logits kept vs fused head, and the direct computation from the logits */
    float lf = step_grads(m, &b4, 0, g1, &r1, tp);
    float lk = step_grads(m, &b4, 1, g2, &r2, tp2);
    assert_true(fabsf(lf - lk) < 1e-5f * fabsf(lk));
    double gmax = 0;
    for (int64_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g2[i]));
    assert_true(coco_max_abs_diff(g1, g2, np) < 1e-5 * fmax(1.0, gmax));
    double tot = 0;
    int cnt = 0;
    const float *lg = coco_f32(r2.logits);
    const int32_t *L4 = coco_i32(b4.labels), *sp = coco_i32(b4.set_pos), *so = coco_i32(b4.set_offsets);
    for (int64_t r = 0; r < 3; r++)
        for (int64_t c = 1; c < T; c++) {
            const float *x = lg + (r * T + c - 1) * V;
            double mx = -1e30, z = 0;
            for (int j = 0; j < V; j++) mx = fmax(mx, x[j]);
            for (int j = 0; j < V; j++) z += exp(x[j] - mx);
            double lse = mx + log(z);
            int set = -1;
            for (int j = 0; j < 3; j++)
                if (sp[j] == r * T + c) set = j;
            if (set >= 0) {
                double ps = 0;
                for (int32_t j = so[set]; j < so[set + 1]; j++) ps += exp(x[s4[j]] - lse);
                tot += -log(ps), cnt++;
            } else if (L4[r * T + c] != -100) {
                tot += lse - x[L4[r * T + c]], cnt++;
            }
        }
    assert_int_equal(r2.label_tokens, cnt);
    assert_true(fabs(tot / cnt - lk) < 1e-5 * fabs(lk));
    /* the set changed the loss (it is not silently ignored) */
    coco_tape_reset(tp);
    coco_tape_set_grad_enabled(tp, 0);
    assert_int_equal(coco_latent_forward(m, tp, &b1, LAT, START, 0, &r1), 0);
    assert_true(fabsf(coco_f32(r1.loss)[0] - lk) > 1e-3f);
    coco_tape_free(tp);
    coco_tape_free(tp2);
    free(g1), free(g2);

    /* refused: the first position, a labelled position, an id outside the vocabulary */
    int p0 = 0, pl = pos[0] - 1, off_bad[2] = {0, 1};
    int32_t big = V;
    coco_example_sets bad[3] = {{1, &p0, off1, &one[0]}, {0, NULL, NULL, NULL}, {0, NULL, NULL, NULL}};
    coco_batch bb;
    assert_int_equal(coco_collate(3, ip, lsp, len, LAT, PAD, &bb), 0);
    assert_int_equal(coco_collate_sets(&bb, bad), -1);
    assert_non_null(strstr(coco_errmsg(), "example 1: label set at position 1 is outside 2.."));
    bad[0] = (coco_example_sets){0, NULL, NULL, NULL};
    bad[2] = (coco_example_sets){1, &pl, off_bad, &one[0]};
    pl = pos[2] + 1; /* an answer token: label != -100 */
    assert_int_equal(coco_collate_sets(&bb, bad), -1);
    assert_non_null(strstr(coco_errmsg(), "example 3: label set at position"));
    assert_non_null(strstr(coco_errmsg(), "must have label -100"));
    bad[2] = (coco_example_sets){1, &pos[2], off_bad, &big};
    assert_int_equal(coco_collate_sets(&bb, bad), 0);
    coco_tape *tp3 = coco_tape_new();
    assert_int_equal(coco_latent_forward(m, tp3, &bb, LAT, START, 0, &r1), -1);
    assert_non_null(strstr(coco_errmsg(), "label set 0 (row 2, column"));
    assert_non_null(strstr(coco_errmsg(), "token id 40 is outside the vocabulary [0, 40)"));
    coco_tape_free(tp3);
    coco_batch_free(&bb);
    coco_batch_free(&bl), coco_batch_free(&b1), coco_batch_free(&b4);
    coco_gpt2_free(m);
}

static void test_malformed_batches(void **s) {
    int32_t I[2][8] = {{1, 2, START, LAT, LAT, END, 3, PAD}, {1, START, LAT, 5, LAT, END, 3, PAD}};
    coco_tensor *ids = coco_tensor_new(COCO_I32, 2, (int64_t[]){2, 8});
    memcpy(ids->data, I, sizeof I);
    coco_tensor *ones = coco_tensor_new(COCO_I32, 2, (int64_t[]){2, 8});
    coco_tensor_fill(ones, 1);
    coco_tensor *short_ = coco_tensor_new(COCO_I32, 2, (int64_t[]){2, 7});
    coco_batch b = {.input_ids = ids, .attention_mask = ones, .labels = NULL, .position_ids = ones};
    assert_int_equal(coco_batch_check(&b, LAT, START, NULL, NULL, NULL), -1);
    assert_non_null(strstr(coco_errmsg(), "row 1: latents are not contiguous"));
    int32_t J[2][8] = {{1, 2, START, LAT, LAT, END, 3, PAD}, {1, 4, LAT, LAT, END, 3, PAD, PAD}};
    memcpy(ids->data, J, sizeof J);
    assert_int_equal(coco_batch_check(&b, LAT, START, NULL, NULL, NULL), -1);
    assert_non_null(strstr(coco_errmsg(), "row 1: <|latent|> at column 2 is not preceded by <|start-latent|>"));
    int32_t K[2][8] = {{1, 2, START, LAT, LAT, END, 3, PAD}, {1, START, LAT, LAT, END, 3, PAD, PAD}};
    memcpy(ids->data, K, sizeof K);
    assert_int_equal(coco_batch_check(&b, LAT, START, NULL, NULL, NULL), -1);
    assert_non_null(strstr(coco_errmsg(), "first latent is at column 2 but row 0's is at column 3"));
    b.position_ids = short_;
    assert_int_equal(coco_batch_check(&b, LAT, START, NULL, NULL, NULL), -1);
    assert_non_null(strstr(coco_errmsg(), "'position_ids' is [2,7] i32 but input_ids is [2,8] (lengths disagree)"));
    coco_tensor_release(ids);
    coco_tensor_release(ones);
    coco_tensor_release(short_);
}

int main(void) {
    coco_runtime_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collate_layout),
        cmocka_unit_test(test_zero_latents_equals_plain),
        cmocka_unit_test(test_multipass_equals_recompute),
        cmocka_unit_test(test_finite_differences_through_thoughts),
        cmocka_unit_test(test_batched_generation_equals_single),
        cmocka_unit_test(test_generation_thoughts_match_forward),
        cmocka_unit_test(test_label_sets_latent_batch),
        cmocka_unit_test(test_malformed_batches),
    };
    return cmocka_run_group_tests_name("latent", tests, NULL, NULL);
}

/* test_fixtures.c — GPT-2, AdamW and the latent stepper against the PyTorch
 * reference (tests/fixtures/README.md; written offline by tests/make_fixtures.py).
 *
 * Tolerances (errors are max |c - torch| over the tensor, divided by max |torch|):
 *  - logits, hidden, loss: 1e-5. Both sides compute in f32 with different
 *    summation orders (BLIS vs torch's kernels); with d = 32 and |values| <= ~10
 *    the expected discrepancy is a few f32 ulps, ~1e-6 relative.
 *  - gradients: 1e-4 relative to the largest gradient of that tensor (plus 1e-6
 *    absolute for tensors that are nearly zero, e.g. the key bias whose true
 *    gradient is 0 and whose stored value is rounding noise ~1e-8). Gradients
 *    accumulate over more terms than the forward (B*T rows into each weight), so
 *    they get a 10x looser bound than the forward.
 *  - AdamW: losses 1e-5; final parameters 2e-5 absolute, except the key bias
 *    h.i.attn.c_attn.bias[32:64) (see the README: its zero gradient's rounding
 *    noise is normalised by Adam, so it is skipped).
 */
#include <jansson.h>
#include <unistd.h>

#include "coconut/latent.h"
#include "coconut/optim.h"
#include "coconut/safetensors.h"
#include "testutil.h"

#define FIX "tests/fixtures/"

static coco_tensor *fx(coco_st_file *f, const char *name) {
    coco_tensor *t = coco_st_get(f, name);
    if (!t) fail_msg("fixture: %s", coco_errmsg());
    return t;
}

static double rel_err(const coco_tensor *a, const coco_tensor *ref) {
    assert_int_equal(a->numel, ref->numel);
    double mx = 0, d = 0;
    for (int64_t i = 0; i < ref->numel; i++) {
        mx = fmax(mx, fabs(coco_f32(ref)[i]));
        d = fmax(d, fabs((double)coco_f32(a)[i] - coco_f32(ref)[i]));
    }
    return mx > 0 ? d / mx : d;
}

static void check_close(const char *what, const coco_tensor *a, const coco_tensor *ref, double tol) {
    double e = rel_err(a, ref);
    if (!(e <= tol)) fail_msg("%s: relative error %.3g exceeds %.1g", what, e, tol);
}

static void check_grads(coco_gpt2 *m, coco_st_file *f, const char *prefix) {
    for (int i = 0; i < m->n_params; i++) {
        char name[160];
        snprintf(name, sizeof name, "%sgrad.%s", prefix, m->names[i]);
        coco_tensor *ref = fx(f, name);
        double mx = 0, d = 0;
        for (int64_t j = 0; j < ref->numel; j++) {
            mx = fmax(mx, fabs(coco_f32(ref)[j]));
            d = fmax(d, fabs((double)coco_f32(m->params[i]->grad)[j] - coco_f32(ref)[j]));
        }
        if (!(d <= 1e-4 * mx + 1e-6)) fail_msg("%s: gradient error %.3g (max |grad| %.3g)", name, d, mx);
        coco_tensor_release(ref);
    }
}

/* ------------------------------------------------------------------ GPT-2 */

static coco_gpt2 *load_tiny(const char *path) {
    coco_gpt2 *m = coco_gpt2_load(path);
    if (!m) fail_msg("load %s: %s", path, coco_errmsg());
    m->cfg.embd_pdrop = m->cfg.attn_pdrop = m->cfg.resid_pdrop = 0; /* config says 0 too */
    return m;
}

static void test_gpt2_forward_backward(void **s) {
    coco_gpt2 *m = load_tiny(FIX "gpt2/model.safetensors");
    assert_int_equal(m->cfg.n_layer, 2);
    assert_int_equal(m->cfg.vocab_size, 96);
    coco_st_file *f = coco_st_open(FIX "gpt2/io.safetensors");
    assert_non_null(f);
    coco_tensor *ids = fx(f, "input_ids"), *mask = fx(f, "attention_mask"), *pos = fx(f, "position_ids"), *lab = fx(f, "labels");
    coco_batch b = {.input_ids = ids, .attention_mask = mask, .labels = lab, .position_ids = pos};
    coco_tape *tp = coco_tape_new();
    coco_step_result r;
    coco_gpt2_zero_grad(m);
    assert_int_equal(coco_latent_forward(m, tp, &b, -1, -1, 1, &r), 0);
    coco_tensor *lg = fx(f, "logits"), *hid = fx(f, "hidden"), *loss = fx(f, "loss");
    check_close("logits", r.logits, lg, 1e-5);
    check_close("hidden", r.hidden, hid, 1e-5);
    check_close("loss", r.loss, loss, 1e-5);
    coco_backward(tp, r.loss);
    check_grads(m, f, "");

    /* Forward from embeddings equals forward from ids. */
    coco_tensor *emb = fx(f, "inputs_embeds");
    coco_tape *tp2 = coco_tape_new();
    coco_tape_set_grad_enabled(tp2, 0);
    coco_kv_cache *kv = coco_kv_on_tape(m, tp2, 3, 12);
    coco_gpt2_span se = {NULL, emb, pos, mask};
    coco_tensor *le = coco_gpt2_logits(m, tp2, coco_gpt2_forward(m, tp2, kv, &se));
    check_close("logits from embeds", le, lg, 1e-5);

    /* Chunked KV-cached forward ([0,5) + [5,9) + [9,12)) equals the full forward. */
    coco_kv_cache *kv2 = coco_kv_on_tape(m, tp2, 3, 12);
    int64_t cuts[4] = {0, 5, 9, 12};
    for (int c = 0; c < 3; c++) {
        coco_tensor *ic = coco_slice(tp2, ids, 1, cuts[c], cuts[c + 1]), *pc = coco_slice(tp2, pos, 1, cuts[c], cuts[c + 1]);
        coco_gpt2_span sc = {ic, NULL, pc, mask};
        coco_tensor *lc = coco_gpt2_logits(m, tp2, coco_gpt2_forward(m, tp2, kv2, &sc));
        coco_tensor *ref = coco_slice(tp2, lg, 1, cuts[c], cuts[c + 1]);
        check_close("chunked logits", lc, ref, 1e-5);
    }
    coco_tensor *all[] = {ids, mask, pos, lab, lg, hid, loss, emb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) coco_tensor_release(all[i]);
    coco_tape_free(tp);
    coco_tape_free(tp2);
    coco_st_close(f);
    coco_gpt2_free(m);
}

static void test_gpt2_hf_style_file(void **s) {
    coco_gpt2 *a = load_tiny(FIX "gpt2/model.safetensors");
    coco_gpt2 *b = load_tiny(FIX "gpt2/hf_style/model.safetensors");
    for (int i = 0; i < a->n_params; i++) assert_memory_equal(a->params[i]->data, b->params[i]->data, (size_t)a->params[i]->numel * 4);
    coco_gpt2_free(a);
    coco_gpt2_free(b);
}

/* One AdamW run over the fixture batch; micro = 2 splits it as the fixture does. */
static void adamw_run(coco_gpt2 *m, coco_st_file *io, int steps, double clip, int micro, float *losses, float *norms) {
    coco_tensor *ids = fx(io, "input_ids"), *mask = fx(io, "attention_mask"), *pos = fx(io, "position_ids"), *lab = fx(io, "labels");
    coco_adamw_config c = coco_adamw_defaults();
    c.lr = 1e-2;
    c.weight_decay = 0.01;
    c.clip = clip;
    coco_adamw *o = coco_adamw_new(m->n_params, m->params, (const char *const *)m->names, &c);
    coco_tape *tp = coco_tape_new();
    for (int st = 0; st < steps; st++) {
        coco_gpt2_zero_grad(m);
        losses[st] = 0;
        for (int k = 0; k < micro; k++) {
            coco_tape_reset(tp);
            int64_t r0 = micro == 1 ? 0 : (k == 0 ? 0 : 2), r1 = micro == 1 ? 3 : (k == 0 ? 2 : 3);
            coco_batch b = {.input_ids = coco_slice(tp, ids, 0, r0, r1), .attention_mask = coco_slice(tp, mask, 0, r0, r1),
                            .labels = coco_slice(tp, lab, 0, r0, r1), .position_ids = coco_slice(tp, pos, 0, r0, r1)};
            coco_step_result r;
            assert_int_equal(coco_latent_forward(m, tp, &b, -1, -1, 0, &r), 0);
            losses[st] += coco_f32(r.loss)[0] / micro;
            coco_backward_scaled(tp, r.loss, 1.0f / micro);
        }
        double n = coco_adamw_step(o);
        if (norms) norms[st] = (float)n;
    }
    assert_int_equal(coco_adamw_steps(o), steps);
    coco_tape_free(tp);
    coco_adamw_free(o);
    coco_tensor_release(ids), coco_tensor_release(mask), coco_tensor_release(pos), coco_tensor_release(lab);
}

static void check_finals(coco_gpt2 *m, coco_st_file *f, const char *prefix) {
    for (int i = 0; i < m->n_params; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s.%s", prefix, m->names[i]);
        coco_tensor *ref = fx(f, name);
        int keybias = strstr(m->names[i], "attn.c_attn.bias") != NULL;
        for (int64_t j = 0; j < ref->numel; j++) {
            if (keybias && j >= 32 && j < 64) continue;
            double d = fabs((double)coco_f32(m->params[i])[j] - coco_f32(ref)[j]);
            if (!(d <= 2e-5)) fail_msg("%s[%lld]: %.7g vs torch %.7g", name, (long long)j, coco_f32(m->params[i])[j], coco_f32(ref)[j]);
        }
        coco_tensor_release(ref);
    }
}

static void test_adamw_trajectories(void **s) {
    coco_st_file *io = coco_st_open(FIX "gpt2/io.safetensors"), *f = coco_st_open(FIX "gpt2/adamw.safetensors");
    assert_non_null(io);
    assert_non_null(f);
    float losses[5], norms[5];
    /* plain */
    coco_gpt2 *m = load_tiny(FIX "gpt2/model.safetensors");
    adamw_run(m, io, 5, 0, 1, losses, NULL);
    coco_tensor *ref = fx(f, "losses");
    for (int i = 0; i < 5; i++) assert_true(fabs(losses[i] - coco_f32(ref)[i]) <= 1e-5 * fabs(coco_f32(ref)[i]));
    coco_tensor_release(ref);
    check_finals(m, f, "final");
    coco_gpt2_free(m);
    /* clipped */
    m = load_tiny(FIX "gpt2/model.safetensors");
    adamw_run(m, io, 5, 0.5, 1, losses, norms);
    ref = fx(f, "losses_clip");
    coco_tensor *rn = fx(f, "gradnorms_clip");
    for (int i = 0; i < 5; i++) {
        assert_true(fabs(losses[i] - coco_f32(ref)[i]) <= 1e-5 * fabs(coco_f32(ref)[i]));
        assert_true(fabs(norms[i] - coco_f32(rn)[i]) <= 1e-5 * fabs(coco_f32(rn)[i]));
    }
    coco_tensor_release(ref);
    coco_tensor_release(rn);
    check_finals(m, f, "final_clip");
    coco_gpt2_free(m);
    /* accumulated over two micro-batches */
    m = load_tiny(FIX "gpt2/model.safetensors");
    adamw_run(m, io, 3, 0, 2, losses, NULL);
    ref = fx(f, "losses_accum");
    for (int i = 0; i < 3; i++) assert_true(fabs(losses[i] - coco_f32(ref)[i]) <= 1e-5 * fabs(coco_f32(ref)[i]));
    coco_tensor_release(ref);
    check_finals(m, f, "final_accum");
    coco_gpt2_free(m);
    coco_st_close(io);
    coco_st_close(f);
}

static void test_adamw_save_load_reset(void **s) {
    coco_gpt2 *m = load_tiny(FIX "gpt2/model.safetensors");
    coco_st_file *io = coco_st_open(FIX "gpt2/io.safetensors");
    float losses[5];
    adamw_run(m, io, 2, 0, 1, losses, NULL);
    /* A fresh optimizer restored from a save continues identically. */
    coco_adamw_config c = coco_adamw_defaults();
    coco_adamw *o = coco_adamw_new(m->n_params, m->params, (const char *const *)m->names, &c);
    for (int i = 0; i < m->n_params; i++) coco_tensor_fill(m->params[i]->grad, 0.01f * (float)(i + 1));
    coco_adamw_step(o);
    const char *path = "/tmp/coconut_test_adamw.safetensors";
    assert_int_equal(coco_adamw_save(o, path), 0);
    coco_adamw *o2 = coco_adamw_new(m->n_params, m->params, (const char *const *)m->names, &c);
    assert_int_equal(coco_adamw_load(o2, path), 0);
    assert_int_equal(coco_adamw_steps(o2), 1);
    coco_tensor *keep = coco_tensor_clone(m->params[3]);
    coco_adamw_step(o);
    coco_tensor *after1 = coco_tensor_clone(m->params[3]);
    coco_tensor_copy(m->params[3], keep);
    coco_adamw_step(o2);
    assert_memory_equal(after1->data, m->params[3]->data, (size_t)keep->numel * 4);
    coco_adamw_reset(o2);
    assert_int_equal(coco_adamw_steps(o2), 0);
    /* A state file for other parameters is refused, naming the tensor. */
    coco_adamw *o3 = coco_adamw_new(1, &m->params[2], (const char *const *)&m->names[3], &c);
    assert_int_equal(coco_adamw_load(o3, path), -1);
    assert_non_null(strstr(coco_errmsg(), "coconut_test_adamw.safetensors: tensor 'm.h.0.ln_1.bias' is [32] f32, parameter is [32] f32") ||
                    strstr(coco_errmsg(), "holds 56 tensors, expected 2"));
    remove(path);
    coco_tensor_release(keep);
    coco_tensor_release(after1);
    coco_adamw_free(o);
    coco_adamw_free(o2);
    coco_adamw_free(o3);
    coco_st_close(io);
    coco_gpt2_free(m);
}

static void test_gpt2_save_reload_and_add_tokens(void **s) {
    coco_gpt2 *m = load_tiny(FIX "gpt2/model.safetensors");
    const char *dir = "/tmp/coconut_test_save";
    mkdir(dir, 0755);
    assert_int_equal(coco_gpt2_save(m, "/tmp/coconut_test_save/model.safetensors", 0), 0);
    coco_gpt2 *r = coco_gpt2_load("/tmp/coconut_test_save/model.safetensors"); /* config from metadata */
    assert_non_null(r);
    for (int i = 0; i < m->n_params; i++) assert_memory_equal(m->params[i]->data, r->params[i]->data, (size_t)m->params[i]->numel * 4);
    int first = coco_gpt2_add_tokens(r, 3, 16);
    assert_int_equal(first, 96);
    assert_int_equal(r->cfg.vocab_size, 99);
    assert_int_equal(r->wte->shape[0], 99);
    assert_int_equal(r->wte->grad->shape[0], 99);
    for (int k = 96; k < 99; k++) assert_memory_equal(coco_f32(r->wte) + k * 32, coco_f32(m->wte) + 16 * 32, 32 * 4);
    assert_ptr_equal(coco_gpt2_param(r, "wte.weight"), r->wte);
    coco_gpt2_free(r);
    remove("/tmp/coconut_test_save/model.safetensors");
    rmdir(dir);
    coco_gpt2_free(m);
}

/* Corrupt and mismatched checkpoints: clear errors naming the file and tensor. */
static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

static void test_gpt2_bad_checkpoints(void **s) {
    FILE *f = fopen(FIX "gpt2/model.safetensors", "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    mkdir("/tmp/coconut_bad", 0755);
    const char *p = "/tmp/coconut_bad/model.safetensors";
    write_bytes(p, buf, (size_t)n - 100);
    assert_null(coco_gpt2_load(p));
    assert_non_null(strstr(coco_errmsg(), "/tmp/coconut_bad/model.safetensors: tensor '"));
    assert_non_null(strstr(coco_errmsg(), "runs past the end of the file"));
    write_bytes(p, buf, 5);
    assert_null(coco_gpt2_load(p));
    assert_non_null(strstr(coco_errmsg(), "too short for a safetensors header"));
    unsigned char *bad = malloc((size_t)n);
    memcpy(bad, buf, (size_t)n);
    bad[9] = '#'; /* break the JSON header */
    write_bytes(p, bad, (size_t)n);
    assert_null(coco_gpt2_load(p));
    assert_non_null(strstr(coco_errmsg(), "header is not valid JSON"));
    free(bad);
    /* Missing tensor / wrong shape: rebuild files from the model. */
    coco_gpt2 *m = load_tiny(FIX "gpt2/model.safetensors");
    coco_st_item items[64];
    for (int i = 0; i < m->n_params; i++) items[i] = (coco_st_item){m->names[i], m->params[i]};
    char *cfg = coco_gpt2_config_to_json(&m->cfg);
    const char *meta[2] = {"config", cfg};
    assert_int_equal(coco_st_save(p, items + 1, m->n_params - 1, meta, 1), 0); /* no wte */
    assert_null(coco_gpt2_load(p));
    assert_string_equal(coco_errmsg(), "/tmp/coconut_bad/model.safetensors: missing tensor 'wte.weight'");
    coco_tensor *wrong = coco_tensor_zeros(2, (int64_t[]){32, 97});
    items[4].t = wrong; /* h.0.attn.c_attn.weight */
    assert_int_equal(coco_st_save(p, items, m->n_params, meta, 1), 0);
    assert_null(coco_gpt2_load(p));
    assert_string_equal(coco_errmsg(), "/tmp/coconut_bad/model.safetensors: tensor 'h.0.attn.c_attn.weight' has shape [32,97], "
                                       "expected [32,96] f32 for this config");
    items[4].t = m->params[4];
    coco_tensor *extra = coco_tensor_zeros(1, (int64_t[]){3});
    items[m->n_params] = (coco_st_item){"h.0.attn.c_attn.wieght", extra};
    assert_int_equal(coco_st_save(p, items, m->n_params + 1, meta, 1), 0);
    assert_null(coco_gpt2_load(p));
    assert_non_null(strstr(coco_errmsg(), "unexpected tensor 'h.0.attn.c_attn.wieght'"));
    /* No config anywhere. */
    assert_int_equal(coco_st_save(p, items, m->n_params, NULL, 0), 0);
    assert_null(coco_gpt2_load(p));
    assert_non_null(strstr(coco_errmsg(), "no config.json beside the file"));
    free(cfg);
    coco_tensor_release(wrong);
    coco_tensor_release(extra);
    coco_gpt2_free(m);
    remove(p);
    rmdir("/tmp/coconut_bad");
    free(buf);
}

/* ------------------------------------------------------------------ latent */

static void latent_batch_case(coco_gpt2 *m, coco_st_file *f, const char *pre) {
    char n[64];
#define G(x) (snprintf(n, sizeof n, "%s%s", pre, x), fx(f, n))
    coco_tensor *ids = G("input_ids"), *mask = G("attention_mask"), *pos = G("position_ids"), *lab = G("labels");
    coco_tensor *lg = G("logits"), *hid = G("hidden"), *emb = G("embeds"), *loss = G("loss"), *pr = G("pass_ranges");
#undef G
    /* Our collator rebuilds the same batch from the unpadded examples. */
    int B = (int)ids->shape[0], T = (int)ids->shape[1];
    int32_t *ex[8], *exl[8];
    int len[8];
    for (int b = 0; b < B; b++) {
        ex[b] = malloc(sizeof(int32_t) * T);
        exl[b] = malloc(sizeof(int32_t) * T);
        len[b] = 0;
        for (int c = 0; c < T; c++)
            if (coco_i32(mask)[b * T + c]) {
                ex[b][len[b]] = coco_i32(ids)[b * T + c];
                exl[b][len[b]++] = coco_i32(lab)[b * T + c];
            }
    }
    coco_batch cb;
    assert_int_equal(coco_collate(B, (const int32_t *const *)ex, (const int32_t *const *)exl, len, 98, 95, &cb), 0);
    assert_memory_equal(cb.input_ids->data, ids->data, (size_t)ids->numel * 4);
    assert_memory_equal(cb.attention_mask->data, mask->data, (size_t)ids->numel * 4);
    assert_memory_equal(cb.position_ids->data, pos->data, (size_t)ids->numel * 4);
    assert_memory_equal(cb.labels->data, lab->data, (size_t)ids->numel * 4);
    coco_tape *tp = coco_tape_new();
    coco_step_result r;
    coco_gpt2_zero_grad(m);
    assert_int_equal(coco_latent_forward(m, tp, &cb, 98, 96, 1, &r), 0);
    assert_int_equal(r.passes, pr->shape[0]);
    check_close("latent logits", r.logits, lg, 1e-5);
    check_close("latent hidden", r.hidden, hid, 1e-5);
    check_close("latent embeds", r.embeds, emb, 1e-5);
    check_close("latent loss", r.loss, loss, 1e-5);
    coco_backward(tp, r.loss);
    check_grads(m, f, pre);
    for (int b = 0; b < B; b++) free(ex[b]), free(exl[b]);
    coco_batch_free(&cb);
    coco_tape_free(tp);
    coco_tensor *all[] = {ids, mask, pos, lab, lg, hid, emb, loss, pr};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) coco_tensor_release(all[i]);
}

static void test_latent_forward_backward(void **s) {
    coco_gpt2 *m = load_tiny(FIX "latent/model.safetensors");
    coco_st_file *f = coco_st_open(FIX "latent/io.safetensors");
    assert_non_null(f);
    latent_batch_case(m, f, "");
    latent_batch_case(m, f, "b2.");
    coco_st_close(f);
    coco_gpt2_free(m);
}

static void test_latent_generation(void **s) {
    coco_gpt2 *m = load_tiny(FIX "latent/model.safetensors");
    json_error_t je;
    json_t *js = json_load_file(FIX "latent/generate.json", 0, &je);
    assert_non_null(js);
    json_t *gens = json_object_get(js, "generations");
    int n = (int)json_array_size(gens);
    assert_int_equal(n, 4);
    int32_t *prompts[4];
    int lens[4], ks[4];
    for (int i = 0; i < n; i++) {
        json_t *g = json_array_get(gens, i), *p = json_object_get(g, "prompt_ids");
        lens[i] = (int)json_array_size(p);
        prompts[i] = malloc(sizeof(int32_t) * lens[i]);
        for (int j = 0; j < lens[i]; j++) prompts[i][j] = (int32_t)json_integer_value(json_array_get(p, j));
        ks[i] = (int)json_integer_value(json_object_get(g, "k"));
    }
    coco_special_ids ids = {98, 96, 97, 95};
    coco_gen_options o = {.max_new_tokens = 8, .planned = ks, .return_thoughts = 1, .return_logits = 1};
    coco_gen_result r;
    assert_int_equal(coco_latent_generate(m, &ids, n, (const int32_t *const *)prompts, lens, &o, &r), 0);
    coco_st_file *f = coco_st_open(FIX "latent/generate.safetensors");
    for (int i = 0; i < n; i++) {
        json_t *want = json_object_get(json_array_get(gens, i), "new_tokens");
        assert_int_equal(r.n_tokens[i], (int)json_array_size(want));
        for (int j = 0; j < r.n_tokens[i]; j++) assert_int_equal(r.tokens[i][j], json_integer_value(json_array_get(want, j)));
        assert_int_equal(r.n_thoughts[i], ks[i]);
        char name[32];
        if (ks[i] > 0) {
            snprintf(name, sizeof name, "thoughts.%d", i);
            coco_tensor *t = fx(f, name);
            assert_true(coco_max_abs_diff(r.thoughts[i], coco_f32(t), t->numel) < 1e-5);
            coco_tensor_release(t);
        }
        snprintf(name, sizeof name, "step_logits.%d", i);
        coco_tensor *sl = fx(f, name);
        assert_int_equal(r.n_logits[i], sl->shape[0]);
        assert_true(coco_max_abs_diff(r.logits[i], coco_f32(sl), sl->numel) < 1e-4);
        coco_tensor_release(sl);
        free(prompts[i]);
    }
    coco_gen_result_free(&r);
    coco_st_close(f);
    json_decref(js);
    coco_gpt2_free(m);
}

int main(void) {
    coco_runtime_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_forward_backward),
        cmocka_unit_test(test_gpt2_hf_style_file),
        cmocka_unit_test(test_adamw_trajectories),
        cmocka_unit_test(test_adamw_save_load_reset),
        cmocka_unit_test(test_gpt2_save_reload_and_add_tokens),
        cmocka_unit_test(test_gpt2_bad_checkpoints),
        cmocka_unit_test(test_latent_forward_backward),
        cmocka_unit_test(test_latent_generation),
    };
    return cmocka_run_group_tests_name("fixtures", tests, NULL, NULL);
}

/* bench_gpt2.c — GPT-2 124M (random weights) training step (forward + loss +
 * backward + AdamW) and forward-only timing, medians of several steps, peak RSS,
 * and a per-op profile of one step.
 * Usage: bench_gpt2 CONFIG THREADS STEPS [--profile] [--json] [--logits] [--last]
 *   --logits  train: materialise [B,T,V] logits + cross-entropy instead of the fused head
 *   --last    fwd: logits of the last position only (what generation needs)
 *   CONFIG: train_b4_t64 | train_b8_t256 | fwd_b1_t384 | train_b<B>_t<T> | fwd_b<B>_t<T>
 *   (COCONUT_BENCH_MODEL=tiny|small|mini|gpt2 picks the model; default gpt2)
 * Run one config per process so the peak RSS belongs to that config. */
#include <stdio.h>

#include "bench_util.h"
#include <stdlib.h>
#include <string.h>

#include "coconut/gpt2.h"
#include "coconut/ops.h"
#include "coconut/optim.h"
#include "coconut/runtime.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s CONFIG THREADS STEPS [--profile] [--json]\n", argv[0]);
        return 2;
    }
    coco_runtime_init();
    int train, B, T;
    if (sscanf(argv[1], "train_b%d_t%d", &B, &T) == 2)
        train = 1;
    else if (sscanf(argv[1], "fwd_b%d_t%d", &B, &T) == 2)
        train = 0;
    else {
        fprintf(stderr, "bad config '%s'\n", argv[1]);
        return 2;
    }
    int threads = atoi(argv[2]), steps = atoi(argv[3]);
    int profile = 0, json = 0, logits = 0, last_only = 0;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--profile")) profile = 1;
        if (!strcmp(argv[i], "--json")) json = 1;
        if (!strcmp(argv[i], "--logits")) logits = 1;
        if (!strcmp(argv[i], "--last")) last_only = 1;
    }
    coco_set_threads(threads);
    const char *preset = getenv("COCONUT_BENCH_MODEL") ? getenv("COCONUT_BENCH_MODEL") : "gpt2";
    coco_gpt2_config cfg;
    if (coco_gpt2_preset(preset, &cfg) != 0) {
        fprintf(stderr, "%s\n", coco_errmsg());
        return 2;
    }
    cfg.embd_pdrop = cfg.attn_pdrop = cfg.resid_pdrop = 0.0f; /* same math as the PyTorch script */
    coco_gpt2 *m = coco_gpt2_new(&cfg, 1);
    long rss_model = coco_peak_rss();
    coco_adamw_config oc = coco_adamw_defaults();
    oc.lr = 1e-4;
    coco_adamw *opt = train ? coco_adamw_new(m->n_params, m->params, (const char *const *)m->names, &oc) : NULL;
    coco_tensor *ids = coco_tensor_new(COCO_I32, 2, (int64_t[]){B, T});
    coco_tensor *tg = coco_tensor_new(COCO_I32, 1, (int64_t[]){(int64_t)B * T});
    for (int64_t i = 0; i < (int64_t)B * T; i++) coco_i32(ids)[i] = (int32_t)((i * 2654435761u) % (uint32_t)cfg.vocab_size);
    for (int64_t i = 0; i < (int64_t)B * T; i++) coco_i32(tg)[i] = (i % T == T - 1) ? -100 : coco_i32(ids)[i + 1];
    long rss_opt = coco_peak_rss();
    coco_tape *tp = coco_tape_new();
    double times[64];
    if (steps > 63) steps = 63;
    float loss = 0;
    for (int s = 0; s <= steps; s++) { /* step 0 is warm-up */
        if (profile && s == steps) {
            coco_profile_reset();
            coco_profile_enabled = 1;
        }
        double t0 = coco_now();
        coco_tape_reset(tp);
        coco_tape_set_grad_enabled(tp, train);
        /* One span from column 0: no KV cache, as the training loop's plain step. */
        coco_gpt2_span sp = {ids, NULL, NULL, NULL};
        coco_tensor *h = coco_gpt2_forward(m, tp, NULL, &sp);
        if (train) {
            /* The training loop's path: fused head + cross-entropy (no [B,T,V]
             * logits); --logits materialises them as a forward for probes would. */
            coco_tensor *L = logits ? coco_cross_entropy(tp, coco_gpt2_logits(m, tp, h), tg, -100)
                                    : coco_lm_head_ce(tp, h, m->wte, tg, -100);
            loss = coco_f32(L)[0];
            coco_gpt2_zero_grad(m);
            coco_backward(tp, L);
            double t1 = coco_now();
            coco_adamw_step(opt);
            if (profile && s == steps) coco_profile_add("adamw", 1, coco_now() - t1, 0);
        } else if (!last_only) {
            /* Logits for every position, as the PyTorch script computes them. */
            coco_tensor *lg = coco_gpt2_logits(m, tp, h);
            loss = coco_f32(lg)[0];
        } else {
            /* Generation needs only the last position's logits (--last). */
            coco_tensor *last = coco_tape_tensor(tp, COCO_F32, 2, (int64_t[]){B, cfg.n_embd});
            for (int b = 0; b < B; b++)
                memcpy(coco_f32(last) + (int64_t)b * cfg.n_embd, coco_f32(h) + ((int64_t)b * T + T - 1) * cfg.n_embd,
                       (size_t)cfg.n_embd * 4);
            coco_tensor *lg = coco_gpt2_logits(m, tp, last);
            loss = coco_f32(lg)[0];
        }
        times[s] = coco_now() - t0;
    }
    coco_profile_enabled = 0;
    double sorted[64];
    memcpy(sorted, times + 1, sizeof(double) * (size_t)steps);
    double med = bench_median(sorted, steps);
    long rss = coco_peak_rss();
    if (json) {
        printf("{\"impl\": \"coconut\", \"config\": \"%s\", \"threads\": %d, \"median_s\": %.4f, \"times\": [", argv[1], threads, med);
        for (int s = 1; s <= steps; s++) printf("%s%.4f", s > 1 ? ", " : "", times[s]);
        printf("], \"peak_rss_mb\": %.0f, \"loss\": %.4f}\n", rss / 1048576.0, loss);
    } else {
        printf("%s %s threads=%d median %.3f s over %d steps (peak RSS %.0f MB, tape %.0f MB)\n", preset, argv[1], threads,
               med, steps, rss / 1048576.0, coco_tape_bytes(tp) / 1048576.0);
        size_t apeak = coco_arena_peak(coco_tape_arena(tp)), aused = coco_arena_used(coco_tape_arena(tp));
        printf("  memory: peak RSS after model %.0f MB, after optimizer %.0f MB; activation arena peak %.0f MB; "
               "gradient pool %.0f MB\n", rss_model / 1048576.0, rss_opt / 1048576.0, apeak / 1048576.0,
               (coco_tape_bytes(tp) - aused) / 1048576.0);
    }
    if (profile) coco_profile_report(stdout);
    coco_tape_free(tp);
    coco_adamw_free(opt);
    coco_tensor_release(ids);
    coco_tensor_release(tg);
    coco_gpt2_free(m);
    return 0;
}

/* bench_small.c — the sizes CPU research runs: small GPT-2s trained from scratch.
 *
 *   bench_small train L D H V B T N THREADS STEPS [--profile]
 *       one Coconut training step (N latents: N+1 passes, loss, backward, AdamW)
 *       and one plain step over the same B x T tokens (one pass, same loss,
 *       backward, AdamW), interleaved so both see the same machine state.
 *   bench_small eval L D H V P N A THREADS QUESTIONS [BATCH]
 *       greedy evaluation: prompts of P tokens ending in <bot>, N thoughts, <eot>,
 *       then exactly A new tokens (eos is an id the model never predicts),
 *       BATCH (default 64) prompts per call; seconds per question.
 *       --profile: the per-op profile of one extra call (stderr).
 *
 * The token layout is the one bench/torch_small.py builds, so both sides run the
 * same work: the last three ids are <bot>, <eot>, <latent>; row b, column t
 * holds (b*7919 + t*104729) % (V-3); the first latent is at column
 * s = max(2, T - N - 30), <bot> at s-1, <eot> at s+N; labels are the tokens
 * after <eot>. Weights are random (GPT-2 init, seed 1), dropout off.
 * Output: one JSON object per line (train: "coconut_s", "plain_s", their
 * ratio, tokens/s and the medians' spread; eval: "per_question_s").
 * --profile prints the per-op profile of one extra Coconut step (stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "coconut/latent.h"
#include "coconut/optim.h"
#include "coconut/runtime.h"

static coco_gpt2 *small_model(int L, int D, int H, int V, int ctx) {
    coco_gpt2_config c = {.n_layer = L, .n_head = H, .n_embd = D, .vocab_size = V, .n_positions = ctx,
                          .layer_norm_epsilon = 1e-5f};
    if (coco_gpt2_config_check(&c) != 0) {
        fprintf(stderr, "bench_small: %s\n", coco_errmsg());
        exit(2);
    }
    return coco_gpt2_new(&c, 1);
}

static int first_latent(int T, int N) {
    int s = T - N - 30;
    return s < 2 ? 2 : s;
}

static int bench_train(int L, int D, int H, int V, int B, int T, int N, int steps, int profile) {
    coco_gpt2 *m = small_model(L, D, H, V, T + 16 > 256 ? T + 16 : 256);
    m->training = 1;
    int START = V - 3, LAT = V - 1;
    if (first_latent(T, N) + N + 1 >= T) {
        fprintf(stderr, "bench_small: T=%d is too short for %d latents\n", T, N);
        return 2;
    }
    coco_batch bl;
    bench_coconut_batch(B, T, N, V, &bl);
    coco_adamw_config oc = coco_adamw_defaults();
    oc.lr = 1e-4;
    coco_adamw *opt = coco_adamw_new(m->n_params, m->params, (const char *const *)m->names, &oc);
    coco_tape *tp = coco_tape_new();
    double tl[64], tpl[64], loss0[2] = {0, 0};
    if (steps > 63) steps = 63;
    if (steps < 1) steps = 1;
    for (int k = 0; k <= steps + (profile ? 1 : 0); k++) {
        if (profile && k == steps + 1) {
            coco_profile_reset();
            coco_profile_enabled = 1;
        }
        for (int variant = 0; variant < 2; variant++) {
            if (profile && k == steps + 1 && variant == 1) break;
            double t0 = coco_now();
            coco_tape_reset(tp);
            coco_step_result r;
            if (coco_latent_forward(m, tp, &bl, variant == 0 ? LAT : -1, START, 0, &r) != 0) {
                fprintf(stderr, "bench_small: %s\n", coco_errmsg());
                return 1;
            }
            if (k == 0) loss0[variant] = coco_f32(r.loss)[0];
            coco_gpt2_zero_grad(m);
            coco_backward(tp, r.loss);
            coco_adamw_step(opt);
            double dt = coco_now() - t0;
            if (k > 0 && k <= steps) (variant == 0 ? tl : tpl)[k - 1] = dt;
        }
    }
    if (profile) {
        coco_profile_enabled = 0;
        fprintf(stderr, "per-op profile, one Coconut step L=%d d=%d H=%d V=%d B=%d T=%d N=%d threads=%d:\n", L, D, H,
                V, B, T, N, coco_threads());
        coco_profile_report(stderr);
    }
    double lo = tl[0], hi = tl[0];
    for (int i = 1; i < steps; i++) lo = tl[i] < lo ? tl[i] : lo, hi = tl[i] > hi ? tl[i] : hi;
    double a = bench_median(tl, steps), b = bench_median(tpl, steps);
    printf("{\"mode\":\"train\",\"L\":%d,\"d\":%d,\"H\":%d,\"V\":%d,\"B\":%d,\"T\":%d,\"N\":%d,\"threads\":%d,"
           "\"coconut_s\":%.6f,\"plain_s\":%.6f,\"latent_over_plain\":%.3f,\"tokens_per_s\":%.0f,\"min_s\":%.6f,"
           "\"max_s\":%.6f,\"loss\":%.5f,\"plain_loss\":%.5f,\"steps\":%d}\n",
           L, D, H, V, B, T, N, coco_threads(), a, b, a / b, (double)B * T / a, lo, hi, loss0[0], loss0[1], steps);
    coco_tape_free(tp);
    coco_adamw_free(opt);
    coco_batch_free(&bl);
    coco_gpt2_free(m);
    return 0;
}

static int bench_eval(int L, int D, int H, int V, int P, int N, int A, int questions, int batch, int profile) {
    /* one more id than training: eos, whose LM-head row is zero so it never wins */
    coco_gpt2 *m = small_model(L, D, H, V + 1, P + N + A + 16 > 256 ? P + N + A + 16 : 256);
    int START = V - 3, END = V - 2, LAT = V - 1, EOS = V;
    for (int64_t j = 0; j < D; j++) coco_f32(m->wte)[(int64_t)EOS * D + j] = 0.0f;
    if (batch < 1) batch = 1;
    int32_t **pr = malloc(sizeof *pr * (size_t)batch);
    int *len = malloc(sizeof(int) * (size_t)batch), *plan = malloc(sizeof(int) * (size_t)batch);
    for (int i = 0; i < batch; i++) {
        pr[i] = malloc(sizeof(int32_t) * (size_t)P);
        for (int t = 0; t < P - 1; t++) pr[i][t] = (int32_t)(((int64_t)i * 7919 + (int64_t)t * 104729) % (V - 3));
        pr[i][P - 1] = START;
        len[i] = P;
        plan[i] = N;
    }
    coco_special_ids ids = {LAT, START, END, EOS};
    coco_gen_options o = {.max_new_tokens = A, .planned = plan};
    int calls = (questions + batch - 1) / batch;
    if (calls < 1) calls = 1;
    if (calls > 255) calls = 255;
    double times[256];
    for (int r = 0; r <= calls + (profile ? 1 : 0); r++) {
        coco_gen_result res;
        if (profile && r == calls + 1) {
            coco_profile_reset();
            coco_profile_enabled = 1;
        }
        double t0 = coco_now();
        if (coco_latent_generate(m, &ids, batch, (const int32_t *const *)pr, len, &o, &res) != 0) {
            fprintf(stderr, "bench_small: %s\n", coco_errmsg());
            return 1;
        }
        if (r > 0 && r <= calls) times[r - 1] = (coco_now() - t0) / batch;
        for (int i = 0; i < batch; i++)
            if (res.n_tokens[i] != A) {
                fprintf(stderr, "bench_small: prompt %d produced %d tokens, not %d\n", i, res.n_tokens[i], A);
                return 1;
            }
        coco_gen_result_free(&res);
    }
    if (profile) {
        coco_profile_enabled = 0;
        fprintf(stderr, "per-op profile, one eval call of %d prompts, L=%d d=%d H=%d V=%d P=%d N=%d A=%d threads=%d:\n", batch,
                L, D, H, V, P, N, A, coco_threads());
        coco_profile_report(stderr);
    }
    printf("{\"mode\":\"eval\",\"L\":%d,\"d\":%d,\"H\":%d,\"V\":%d,\"P\":%d,\"N\":%d,\"A\":%d,\"batch\":%d,\"threads\":%d,"
           "\"questions\":%d,\"per_question_s\":%.7f}\n",
           L, D, H, V, P, N, A, batch, coco_threads(), calls * batch, bench_median(times, calls));
    for (int i = 0; i < batch; i++) free(pr[i]);
    free(pr), free(len), free(plan);
    coco_gpt2_free(m);
    return 0;
}

int main(int argc, char **argv) {
    coco_runtime_init();
    int profile = argc > 1 && !strcmp(argv[argc - 1], "--profile");
    if (profile) argc--;
    if (argc >= 11 && !strcmp(argv[1], "train")) {
        coco_set_threads(atoi(argv[9]));
        return bench_train(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]),
                           atoi(argv[8]), atoi(argv[10]), profile);
    }
    if (argc >= 11 && !strcmp(argv[1], "eval")) {
        coco_set_threads(atoi(argv[9]));
        return bench_eval(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]),
                          atoi(argv[8]), atoi(argv[10]), argc >= 12 ? atoi(argv[11]) : 64, profile);
    }
    fprintf(stderr,
            "usage: %s train L D H V B T N THREADS STEPS [--profile]\n"
            "       %s eval  L D H V P N A THREADS QUESTIONS [BATCH]\n",
            argv[0], argv[0]);
    return 2;
}

/* bench_latent.c — the Coconut stepper's costs, side by side with plain GPT-2.
 *
 *   bench_latent train MODEL B T THOUGHTS THREADS STEPS
 *       a training step (forward + loss + backward) of a batch whose rows carry
 *       THOUGHTS latents at the same column (N+1 passes), against a plain
 *       single-pass step over the same B x T tokens; prints both medians and the
 *       ratio latent/plain.
 *   bench_latent eval MODEL PROMPT THOUGHTS ANSWER BATCH THREADS QUESTIONS
 *       ProsQA-shaped generation: prompts of PROMPT tokens ending in
 *       <|start-latent|>, THOUGHTS thoughts, then ANSWER greedy tokens (the random
 *       model is steered to emit exactly ANSWER tokens by max_new_tokens, eos never
 *       chosen), BATCH prompts per call; prints seconds per question.
 * MODEL is a GPT-2 preset (gpt2, small, ...); weights are random.
 * COCONUT_BENCH_PROFILE=1 prints the per-op profile of the last eval call. */
#include <stdio.h>

#include "bench_util.h"
#include <stdlib.h>
#include <string.h>

#include "coconut/latent.h"
#include "coconut/runtime.h"

static coco_gpt2 *model(const char *preset, int extra_vocab) {
    coco_gpt2_config c;
    if (coco_gpt2_preset(preset, &c) != 0) {
        fprintf(stderr, "%s\n", coco_errmsg());
        exit(2);
    }
    c.vocab_size += extra_vocab;
    c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0;
    return coco_gpt2_new(&c, 1);
}

static int bench_train(const char *preset, int B, int T, int N, int steps) {
    coco_gpt2 *m = model(preset, 3);
    int V = m->cfg.vocab_size, START = V - 3, LAT = V - 1;
    coco_batch bl;
    bench_coconut_batch(B, T, N, V, &bl);
    coco_tape *tp = coco_tape_new();
    double tl[32], tpl[32];
    if (steps > 31) steps = 31;
    for (int k = 0; k <= steps; k++) {
        for (int variant = 0; variant < 2; variant++) { /* interleaved: same machine state for both */
            double t0 = coco_now();
            coco_tape_reset(tp);
            coco_step_result r;
            /* plain: the same tokens with latent handling off (one pass) */
            if (coco_latent_forward(m, tp, &bl, variant == 0 ? LAT : -1, START, 0, &r) != 0) {
                fprintf(stderr, "%s\n", coco_errmsg());
                return 1;
            }
            coco_gpt2_zero_grad(m);
            coco_backward(tp, r.loss);
            double dt = coco_now() - t0;
            if (k > 0) (variant == 0 ? tl : tpl)[k - 1] = dt;
        }
    }
    double a = bench_median(tl, steps), b = bench_median(tpl, steps);
    printf("train %-6s B=%d T=%d thoughts=%d threads=%d: latent %.3f s (%d passes), plain %.3f s, ratio %.2f\n", preset, B, T,
           N, coco_threads(), a, N + 1, b, a / b);
    coco_tape_free(tp);
    coco_batch_free(&bl);
    coco_gpt2_free(m);
    return 0;
}

/* No eos in a random model's argmax can be guaranteed, so eos is an id that the
 * model never predicts here: a fresh id whose LM-head row is far negative. */
static int bench_eval(const char *preset, int P, int N, int A, int batch, int questions) {
    coco_gpt2 *m = model(preset, 4);
    int V = m->cfg.vocab_size, START = V - 4, END = V - 3, LAT = V - 2, EOS = V - 1;
    int64_t d = m->cfg.n_embd;
    for (int64_t j = 0; j < d; j++) coco_f32(m->wte)[(int64_t)EOS * d + j] = 0.0f;
    int32_t **pr = malloc(sizeof *pr * (size_t)batch);
    int *len = malloc(sizeof(int) * (size_t)batch), *plan = malloc(sizeof(int) * (size_t)batch);
    for (int i = 0; i < batch; i++) {
        pr[i] = malloc(sizeof(int32_t) * (size_t)P);
        for (int t = 0; t < P - 1; t++) pr[i][t] = (int32_t)((i * 31 + t * 17) % (V - 4));
        pr[i][P - 1] = START;
        len[i] = P;
        plan[i] = N;
    }
    coco_special_ids ids = {LAT, START, END, EOS};
    coco_gen_options o = {.max_new_tokens = A, .planned = plan};
    double times[64];
    int reps = questions / batch;
    if (reps < 1) reps = 1;
    if (reps > 63) reps = 63;
    int64_t passes = 0;
    for (int r = 0; r <= reps; r++) {
        coco_gen_result res;
        if (r == reps && getenv("COCONUT_BENCH_PROFILE")) { /* profile the last call only */
            coco_profile_reset();
            coco_profile_enabled = 1;
        }
        double t0 = coco_now();
        if (coco_latent_generate(m, &ids, batch, (const int32_t *const *)pr, len, &o, &res) != 0) {
            fprintf(stderr, "%s\n", coco_errmsg());
            return 1;
        }
        if (r > 0) times[r - 1] = (coco_now() - t0) / batch;
        passes = res.forward_passes;
        coco_gen_result_free(&res);
    }
    if (getenv("COCONUT_BENCH_PROFILE")) coco_profile_report(stdout);
    printf("eval  %-6s prompt=%d thoughts=%d answer=%d batch=%d threads=%d: %.3f s per question (%lld passes per call)\n",
           preset, P, N, A, batch, coco_threads(), bench_median(times, reps), (long long)passes);
    for (int i = 0; i < batch; i++) free(pr[i]);
    free(pr), free(len), free(plan);
    coco_gpt2_free(m);
    return 0;
}

int main(int argc, char **argv) {
    coco_runtime_init();
    if (argc >= 8 && !strcmp(argv[1], "train")) {
        coco_set_threads(atoi(argv[6]));
        return bench_train(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[7]));
    }
    if (argc >= 9 && !strcmp(argv[1], "eval")) {
        coco_set_threads(atoi(argv[7]));
        return bench_eval(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[8]));
    }
    fprintf(stderr, "usage: %s train MODEL B T THOUGHTS THREADS STEPS | eval MODEL PROMPT THOUGHTS ANSWER BATCH THREADS QUESTIONS\n", argv[0]);
    return 2;
}

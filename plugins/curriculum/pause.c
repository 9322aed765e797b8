/* pause.c — curriculum plugin "pause": the Pause-token baseline (Goyal et al.
 * 2023, "Think before you speak"), the Pause Token row of Coconut's Table 1.
 *
 * One stage (0) for `epochs` epochs, no curriculum. Training and evaluation
 * use the same layout: the question, n_pause <pause> tokens, then (training)
 * the answer; every reasoning step is dropped and there are no thoughts or
 * markers. Coconut sets the number of pauses to its own number of thoughts
 * (6 on every dataset: 3 x c=2 on GSM8k, 6 x c=1 on ProntoQA/ProsQA), hence
 * the default; the experiment passes its Coconut's final-stage count. Pauses
 * carry no label and are not counted as generated tokens. The host needs the
 * <|pause|> token in its tokenizer.
 */
#include <stdlib.h>

#include "coconut/plugin.h"

static const coco_host *host;

typedef struct pause_cur {
    int epochs, n_pause;
} pause_cur;

static const coco_option_spec options[] = {
    {"epochs", COCO_OPT_INT, "50", "training epochs (all at stage 0)"},
    {"n_pause", COCO_OPT_INT, "6", "<pause> tokens between question and answer (Coconut's final-stage thoughts)"},
    {NULL, 0, NULL, NULL},
};

static int pause_create(const coco_options *o, void **self) {
    int64_t e = host->opt_int(o, "epochs"), n = host->opt_int(o, "n_pause");
    if (e < 0 || e > 1000000)
        return host->seterr("curriculum 'pause': epochs = %lld is outside 0..1000000", (long long)e);
    if (n < 0 || n > 10000) return host->seterr("curriculum 'pause': n_pause = %lld is outside 0..10000", (long long)n);
    pause_cur *k = calloc(1, sizeof *k);
    if (!k) return host->seterr("curriculum 'pause': out of memory");
    k->epochs = (int)e;
    k->n_pause = (int)n;
    *self = k;
    return 0;
}

static void pause_destroy(void *self) { free(self); }
static int pause_num_stages(void *self) { return 1; }
static int pause_stage_epochs(void *self, int stage) { return stage == 0 ? ((pause_cur *)self)->epochs : 0; }
static int pause_reset_optimizer(void *self, int stage) { return 0; }

/* The same layout for training and evaluation. */
static int pause_layout(pause_cur *k, int stage, int n_steps, coco_plan *out) {
    if (stage != 0) return host->seterr("curriculum 'pause': stage %d does not exist (only stage 0)", stage);
    if (n_steps < 0) return host->seterr("curriculum 'pause': negative step count %d", n_steps);
    out->drop_steps = n_steps; /* every step */
    out->n_latent = 0;
    out->markers = 0;
    out->n_pause = k->n_pause;
    return 0;
}

static int pause_train_plan(void *self, int stage, int n_steps, coco_rng *rng, coco_plan *out) {
    return pause_layout(self, stage, n_steps, out);
}

static int pause_eval_plan(void *self, int stage, int n_steps, coco_plan *out) {
    return pause_layout(self, stage, n_steps, out);
}

static const coco_curriculum_vt vt = {
    .struct_size = sizeof(coco_curriculum_vt),
    .create = pause_create,
    .destroy = pause_destroy,
    .num_stages = pause_num_stages,
    .stage_epochs = pause_stage_epochs,
    .reset_optimizer = pause_reset_optimizer,
    .train_plan = pause_train_plan,
    .eval_plan = pause_eval_plan,
};

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_CURRICULUM;
    p->name = "pause";
    p->doc = "Pause-token baseline: question, n_pause <pause> tokens, answer; no chain, no curriculum";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

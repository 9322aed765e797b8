/* cot.c — curriculum plugin "cot": the chain-of-thought baseline.
 *
 * One stage (0) for `epochs` epochs. Training keeps every reasoning step as
 * language (drop_steps 0), with no thoughts, markers or pauses; the evaluation
 * prompt is the bare question and the model generates the chain and the
 * answer. This is run.py with cot: True, which fixes scheduled_stage = 0 and
 * passes no_special_marker = True to both dataset builders.
 */
#include <stdlib.h>

#include "coconut/plugin.h"

static const coco_host *host;

typedef struct cot_cur {
    int epochs;
} cot_cur;

static const coco_option_spec options[] = {
    {"epochs", COCO_OPT_INT, "50", "training epochs (all at stage 0)"},
    {NULL, 0, NULL, NULL},
};

static int cot_create(const coco_options *o, void **self) {
    int64_t e = host->opt_int(o, "epochs");
    if (e < 0 || e > 1000000) return host->seterr("curriculum 'cot': epochs = %lld is outside 0..1000000", (long long)e);
    cot_cur *k = calloc(1, sizeof *k);
    if (!k) return host->seterr("curriculum 'cot': out of memory");
    k->epochs = (int)e;
    *self = k;
    return 0;
}

static void cot_destroy(void *self) { free(self); }
static int cot_num_stages(void *self) { return 1; }
static int cot_stage_epochs(void *self, int stage) { return stage == 0 ? ((cot_cur *)self)->epochs : 0; }
static int cot_reset_optimizer(void *self, int stage) { return 0; }

static int cot_layout(int stage, int n_steps, coco_plan *out) {
    if (stage != 0) return host->seterr("curriculum 'cot': stage %d does not exist (only stage 0)", stage);
    if (n_steps < 0) return host->seterr("curriculum 'cot': negative step count %d", n_steps);
    out->drop_steps = 0;
    out->n_latent = 0;
    out->markers = 0;
    out->n_pause = 0;
    return 0;
}

static int cot_train_plan(void *self, int stage, int n_steps, coco_rng *rng, coco_plan *out) {
    return cot_layout(stage, n_steps, out);
}

static int cot_eval_plan(void *self, int stage, int n_steps, coco_plan *out) { return cot_layout(stage, n_steps, out); }

static const coco_curriculum_vt vt = {
    .struct_size = sizeof(coco_curriculum_vt),
    .create = cot_create,
    .destroy = cot_destroy,
    .num_stages = cot_num_stages,
    .stage_epochs = cot_stage_epochs,
    .reset_optimizer = cot_reset_optimizer,
    .train_plan = cot_train_plan,
    .eval_plan = cot_eval_plan,
};

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_CURRICULUM;
    p->name = "cot";
    p->doc = "CoT baseline: full language reasoning chain, no thoughts, no markers";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

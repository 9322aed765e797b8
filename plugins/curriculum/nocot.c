/* nocot.c — curriculum plugin "nocot": the No-CoT baseline.
 *
 * One stage (0) for `epochs` epochs. Training drops every reasoning step and
 * trains question -> answer directly, with no thoughts, markers or pauses; the
 * evaluation prompt is the bare question. This is run.py with no_cot: True:
 * scheduled_stage = 0, n_skip_steps = all, n_latent_tokens = 0 and
 * no_special_marker = True.
 */
#include <stdlib.h>

#include "coconut/plugin.h"

static const coco_host *host;

typedef struct nocot_cur {
    int epochs;
} nocot_cur;

static const coco_option_spec options[] = {
    {"epochs", COCO_OPT_INT, "50", "training epochs (all at stage 0)"},
    {NULL, 0, NULL, NULL},
};

static int nocot_create(const coco_options *o, void **self) {
    int64_t e = host->opt_int(o, "epochs");
    if (e < 0 || e > 1000000)
        return host->seterr("curriculum 'nocot': epochs = %lld is outside 0..1000000", (long long)e);
    nocot_cur *k = calloc(1, sizeof *k);
    if (!k) return host->seterr("curriculum 'nocot': out of memory");
    k->epochs = (int)e;
    *self = k;
    return 0;
}

static void nocot_destroy(void *self) { free(self); }
static int nocot_num_stages(void *self) { return 1; }
static int nocot_stage_epochs(void *self, int stage) { return stage == 0 ? ((nocot_cur *)self)->epochs : 0; }
static int nocot_reset_optimizer(void *self, int stage) { return 0; }

static int nocot_layout(int stage, int n_steps, coco_plan *out) {
    if (stage != 0) return host->seterr("curriculum 'nocot': stage %d does not exist (only stage 0)", stage);
    if (n_steps < 0) return host->seterr("curriculum 'nocot': negative step count %d", n_steps);
    out->drop_steps = n_steps; /* every step */
    out->n_latent = 0;
    out->markers = 0;
    out->n_pause = 0;
    return 0;
}

static int nocot_train_plan(void *self, int stage, int n_steps, coco_rng *rng, coco_plan *out) {
    return nocot_layout(stage, n_steps, out);
}

static int nocot_eval_plan(void *self, int stage, int n_steps, coco_plan *out) {
    return nocot_layout(stage, n_steps, out);
}

static const coco_curriculum_vt vt = {
    .struct_size = sizeof(coco_curriculum_vt),
    .create = nocot_create,
    .destroy = nocot_destroy,
    .num_stages = nocot_num_stages,
    .stage_epochs = nocot_stage_epochs,
    .reset_optimizer = nocot_reset_optimizer,
    .train_plan = nocot_train_plan,
    .eval_plan = nocot_eval_plan,
};

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_CURRICULUM;
    p->name = "nocot";
    p->doc = "No-CoT baseline: question -> answer, every reasoning step dropped, no thoughts";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

/* curriculum.c — template of a curriculum plugin (named "curriculum"; rename it).
 *
 * A working example: a linear schedule with optional pause tokens.
 *   stages 0..`stages`-1, each `epochs_per_stage` epochs;
 *   training at stage s replaces the first min(s, n_steps) steps by c thoughts
 *   each, between <|start-latent|>/<|end-latent|> markers, then `pause` pause
 *   tokens; evaluation prompts get the same number of thoughts and pauses.
 * The difference to the built-in "coconut" curriculum: thoughts are capped by
 * the example's step count at every stage, and no stage drops all steps.
 *
 * The host builds each example as
 *   question [start] latent x n_latent [end] pause x n_pause steps[drop_steps..] answer
 * (see coco_plan in coconut/plugin.h).
 */
#include <stdlib.h>

#include "coconut/plugin.h"

COCO_PLUGIN_DECLARE();

static const coco_host *host;

static const coco_option_spec options[] = {
    {"stages", COCO_OPT_INT, "4", "number of stages"},
    {"epochs_per_stage", COCO_OPT_INT, "2", "epochs of each stage"},
    {"c", COCO_OPT_INT, "1", "thoughts per replaced step"},
    {"pause", COCO_OPT_INT, "0", "pause tokens after the thoughts"},
    {NULL, 0, NULL, NULL},
};

typedef struct linear_cur {
    int stages, epochs_per_stage, c, pause;
} linear_cur;

static int cur_create(const coco_options *o, void **self) {
    int64_t st = host->opt_int(o, "stages"), e = host->opt_int(o, "epochs_per_stage");
    int64_t c = host->opt_int(o, "c"), pz = host->opt_int(o, "pause");
    if (st < 1 || st > 1000) return host->seterr("curriculum 'curriculum': stages = %lld is outside 1..1000", (long long)st);
    if (e < 0 || e > 100000)
        return host->seterr("curriculum 'curriculum': epochs_per_stage = %lld is outside 0..100000", (long long)e);
    if (c < 0 || c > 100) return host->seterr("curriculum 'curriculum': c = %lld is outside 0..100", (long long)c);
    if (pz < 0 || pz > 1000) return host->seterr("curriculum 'curriculum': pause = %lld is outside 0..1000", (long long)pz);
    linear_cur *k = calloc(1, sizeof *k);
    if (!k) return host->seterr("curriculum 'curriculum': out of memory");
    k->stages = (int)st, k->epochs_per_stage = (int)e, k->c = (int)c, k->pause = (int)pz;
    *self = k;
    return 0;
}

static void cur_destroy(void *self) { free(self); }

/* Number of stages; the host runs 0..num_stages-1 in order. */
static int cur_num_stages(void *self) { return ((linear_cur *)self)->stages; }

/* Epochs spent in a stage (0 skips it). */
static int cur_stage_epochs(void *self, int stage) { return ((linear_cur *)self)->epochs_per_stage; }

/* 1 = fresh optimizer state when training enters this stage (> 0). */
static int cur_reset_optimizer(void *self, int stage) { return 1; }

static int layout(linear_cur *k, int stage, int n_steps, coco_plan *out) {
    if (stage < 0 || stage >= k->stages)
        return host->seterr("curriculum 'curriculum': stage %d is outside 0..%d", stage, k->stages - 1);
    int r = stage < n_steps ? stage : n_steps;
    out->drop_steps = r;
    out->n_latent = r * k->c;
    out->markers = 1;
    out->n_pause = k->pause;
    return 0;
}

/* Training layout; rng (seeded per run, epoch and example) is there for
 * randomised schedules — this one is deterministic and ignores it. */
static int cur_train_plan(void *self, int stage, int n_steps, coco_rng *rng, coco_plan *out) {
    return layout(self, stage, n_steps, out);
}

/* Evaluation prompt layout (drop_steps is ignored: prompts hold no steps). */
static int cur_eval_plan(void *self, int stage, int n_steps, coco_plan *out) {
    return layout(self, stage, n_steps, out);
}

static const coco_curriculum_vt vt = {
    .struct_size = sizeof(coco_curriculum_vt),
    .create = cur_create,
    .destroy = cur_destroy,
    .num_stages = cur_num_stages,
    .stage_epochs = cur_stage_epochs,
    .reset_optimizer = cur_reset_optimizer,
    .train_plan = cur_train_plan,
    .eval_plan = cur_eval_plan,
};

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_CURRICULUM;
    p->name = "curriculum";
    p->doc = "template: linear schedule, c thoughts per replaced step (capped by the chain), optional pauses";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

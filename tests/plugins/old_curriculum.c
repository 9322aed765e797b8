/* old_curriculum.c — a curriculum plugin compiled against the ABI-1 header as
 * first released (tests/plugins/abi1_v0/plugin.h: coco_plan has only
 * drop_steps, n_latent, markers, n_pause; coco_host ends at opt_str). The
 * host must load it and read every plan field appended since as absent (0).
 *
 * Layout at stage s: drop min(s, n_steps) steps, s thoughts between markers,
 * one pause; eval: the same thoughts and pause. Two stages of `epochs` epochs.
 * It writes exactly sizeof(its coco_plan) bytes, as an old plugin would.
 */
#include <stdlib.h>
#include <string.h>

#include "abi1_v0/plugin.h" /* NOT coconut/plugin.h */

static const coco_host *host;

static const coco_option_spec options[] = {
    {"epochs", COCO_OPT_INT, "1", "epochs per stage"},
    {NULL, 0, NULL, NULL},
};

static int create(const coco_options *o, void **self) {
    int *e = malloc(sizeof *e);
    if (!e) return host->seterr("old_curriculum: out of memory");
    *e = (int)host->opt_int(o, "epochs");
    *self = e;
    return 0;
}

static void destroy(void *self) { free(self); }
static int num_stages(void *self) { return 2; }
static int stage_epochs(void *self, int stage) { return *(int *)self; }
static int reset_optimizer(void *self, int stage) { return 0; }

static int layout(int stage, int n_steps, coco_plan *out) {
    coco_plan p = {stage < n_steps ? stage : n_steps, stage, 1, 1};
    memcpy(out, &p, sizeof p); /* the old plan's size, nothing beyond */
    return 0;
}

static int train_plan(void *self, int stage, int n_steps, coco_rng *rng, coco_plan *out) {
    return layout(stage, n_steps, out);
}
static int eval_plan(void *self, int stage, int n_steps, coco_plan *out) { return layout(stage, n_steps, out); }

static const coco_curriculum_vt vt = {
    .struct_size = sizeof(coco_curriculum_vt),
    .create = create,
    .destroy = destroy,
    .num_stages = num_stages,
    .stage_epochs = stage_epochs,
    .reset_optimizer = reset_optimizer,
    .train_plan = train_plan,
    .eval_plan = eval_plan,
};

COCO_PLUGIN_DECLARE();

COCO_PLUGIN_EXPORT int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_CURRICULUM;
    p->name = "old_curriculum";
    p->doc = "test: a curriculum built against the first ABI-1 header";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

/* icot.c — curriculum plugin "icot": stepwise internalisation of the chain of
 * thought at token level (Deng et al. 2024, arXiv 2405.14838; reference code
 * da03/Internalize_CoT_Step_by_Step, train.py), the iCoT row of Coconut's
 * Table 1.
 *
 * Schedule. One stage per epoch (stage e = epoch e, 0-based), `epochs` stages.
 * At stage e the chain loses
 *     scheduled(e) = max(0, e - pretrain_epochs) * remove_per_epoch
 * tokens from its start (removal side left: the tokens right after the
 * question). Once scheduled(e) >= remove_all_when_remove_beyond (> 0), the
 * whole chain is removed from then on (the reference sets the count to inf).
 * The reference raises the count one token at a time within an epoch (every
 * steps_per_epoch / remove_per_epoch optimizer steps); the host builds one
 * epoch's layouts at its start, so here the count moves in whole epochs:
 * epoch e trains at e * remove_per_epoch where the reference ramps from there
 * to (e + 1) * remove_per_epoch.
 *
 * Removal smoothing. With lambda = removal_smoothing_lambda > 0, every example
 * (per epoch: the host's rng stream) removes an extra offset o drawn from
 *     P(o) = (1 - e^-lambda) e^(-lambda o),  o = 0 .. 98,  P(99) = the rest
 * (the reference's compute_lambda_distribution with truncate_length 100),
 * sampled by inverting the geometric CDF: o = floor(-ln(1 - u) / lambda),
 * capped at 99, with u = coco_rng_uniform. lambda = 0 turns smoothing off
 * (the reference's lambda = inf) and draws nothing.
 *
 * Plan. Training: drop_steps 0, drop_tokens = scheduled(e) + o (the host
 * clips it to the chain's length; the answer always stays), or drop_steps =
 * n_steps once everything is removed. No thoughts, markers or pauses.
 * Evaluation: the bare question; the model answers directly (whatever it
 * still generates of a chain counts as new tokens).
 *
 * Selection. Only stages without any chain (and the last stage) may give the
 * run's best checkpoint (icot_selectable).
 *
 * Optimizer. With reset_optimizer the host resets AdamW when training enters
 * a stage whose removed count differs from the previous stage's, except after
 * a stage that already removed everything (the reference resets when the
 * count grows and not all_cot_removed_in_prev_batch).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/plugin.h"

static const coco_host *host;

#define ICOT_TRUNCATE 100 /* offsets 0..99, as the reference's truncate_length */

typedef struct icot_cur {
    int epochs, remove_per_epoch, remove_all_beyond, pretrain_epochs, reset_optimizer;
    double lambda; /* 0 = no smoothing */
} icot_cur;

static const coco_option_spec options[] = {
    {"epochs", COCO_OPT_INT, "50", "training epochs (one stage each)"},
    {"remove_per_epoch", COCO_OPT_INT, "8", "chain tokens removed per epoch, from the start of the chain"},
    {"removal_smoothing_lambda", COCO_OPT_NUM, "4",
     "extra removal offset o per example with P(o) ~ exp(-lambda o); 0: off (the reference's inf)"},
    {"remove_all_when_remove_beyond", COCO_OPT_INT, "39",
     "once this many tokens are scheduled, remove the whole chain (0: never, the reference's inf)"},
    {"pretrain_epochs", COCO_OPT_INT, "0", "epochs on the full chain before removal starts"},
    {"reset_optimizer", COCO_OPT_BOOL, "true", "reset the optimizer whenever the removed count changes"},
    {NULL, 0, NULL, NULL},
};

static int icot_create(const coco_options *o, void **self) {
    int64_t e = host->opt_int(o, "epochs"), r = host->opt_int(o, "remove_per_epoch");
    int64_t all = host->opt_int(o, "remove_all_when_remove_beyond"), pre = host->opt_int(o, "pretrain_epochs");
    double lam = host->opt_num(o, "removal_smoothing_lambda");
    if (e < 0 || e > 1000000) return host->seterr("curriculum 'icot': epochs = %lld is outside 0..1000000", (long long)e);
    if (r < 0 || r > 1000000)
        return host->seterr("curriculum 'icot': remove_per_epoch = %lld is outside 0..1000000", (long long)r);
    if (all < 0 || all > 1000000000)
        return host->seterr("curriculum 'icot': remove_all_when_remove_beyond = %lld is outside 0..1000000000",
                            (long long)all);
    if (pre < 0 || pre > 1000000)
        return host->seterr("curriculum 'icot': pretrain_epochs = %lld is outside 0..1000000", (long long)pre);
    if (!(lam >= 0 && lam <= 1e6))
        return host->seterr("curriculum 'icot': removal_smoothing_lambda = %g is outside [0, 1e6] (0 turns smoothing off)",
                            lam);
    if (!COCO_PLAN_HAS(host, drop_tokens))
        return host->seterr("curriculum 'icot': this host's coco_plan has no drop_tokens (token-level removal)");
    icot_cur *k = calloc(1, sizeof *k);
    if (!k) return host->seterr("curriculum 'icot': out of memory");
    k->epochs = (int)e;
    k->remove_per_epoch = (int)r;
    k->remove_all_beyond = (int)all;
    k->pretrain_epochs = (int)pre;
    k->reset_optimizer = host->opt_bool(o, "reset_optimizer");
    k->lambda = lam;
    *self = k;
    return 0;
}

static void icot_destroy(void *self) { free(self); }
static int icot_num_stages(void *self) { return ((icot_cur *)self)->epochs; }

static int icot_stage_epochs(void *self, int stage) {
    return stage >= 0 && stage < ((icot_cur *)self)->epochs ? 1 : 0;
}

/* Tokens scheduled for removal at a stage; -1 = the whole chain. */
static long removed(const icot_cur *k, int stage) {
    long e = stage - k->pretrain_epochs;
    long n = e > 0 ? e * k->remove_per_epoch : 0;
    if (k->remove_all_beyond > 0 && n >= k->remove_all_beyond) return -1;
    return n;
}

static int icot_reset_optimizer(void *self, int stage) {
    icot_cur *k = self;
    if (!k->reset_optimizer || stage <= 0) return 0;
    long prev = removed(k, stage - 1);
    return prev >= 0 && removed(k, stage) != prev;
}

/* Best-checkpoint selection: only stages that train with the whole chain
 * removed (the model answers directly, as iCoT does at inference), and the
 * last stage in any case, so that a schedule that never removes everything
 * still selects something. An earlier stage that still writes its chain
 * would otherwise win on validation and make "iCoT" a CoT model. */
static int icot_selectable(void *self, int stage) {
    icot_cur *k = self;
    return removed(k, stage) < 0 || stage >= k->epochs - 1;
}

static int check_args(const icot_cur *k, int stage, int n_steps, coco_plan *out) {
    if (!out) return host->seterr("curriculum 'icot': NULL plan");
    if (stage < 0 || stage >= k->epochs)
        return host->seterr("curriculum 'icot': stage %d is outside 0..%d (one stage per epoch)", stage, k->epochs - 1);
    if (n_steps < 0) return host->seterr("curriculum 'icot': negative step count %d", n_steps);
    return 0;
}

static int icot_train_plan(void *self, int stage, int n_steps, coco_rng *rng, coco_plan *out) {
    icot_cur *k = self;
    if (check_args(k, stage, n_steps, out)) return -1;
    long n = removed(k, stage);
    out->n_latent = 0;
    out->markers = 0;
    out->n_pause = 0;
    out->supervision = COCO_SUPERVISE_STEPS;
    if (n < 0) { /* the whole chain */
        out->drop_steps = n_steps;
        out->drop_tokens = 0;
        return 0;
    }
    long off = 0;
    if (k->lambda > 0) {
        if (!rng) return host->seterr("curriculum 'icot': removal smoothing (lambda > 0) needs an rng");
        double u = coco_rng_uniform(rng); /* [0, 1) */
        double x = floor(-log1p(-u) / k->lambda);
        off = x >= ICOT_TRUNCATE - 1 ? ICOT_TRUNCATE - 1 : (long)x;
    }
    long t = n + off;
    out->drop_steps = 0;
    out->drop_tokens = t > 1000000000 ? 1000000000 : (int)t;
    return 0;
}

static int icot_eval_plan(void *self, int stage, int n_steps, coco_plan *out) {
    icot_cur *k = self;
    if (check_args(k, stage, n_steps, out)) return -1;
    out->drop_steps = n_steps; /* prompts hold no steps: the bare question */
    out->n_latent = 0;
    out->markers = 0;
    out->n_pause = 0;
    return 0;
}

static const coco_curriculum_vt vt = {
    .struct_size = sizeof(coco_curriculum_vt),
    .create = icot_create,
    .destroy = icot_destroy,
    .num_stages = icot_num_stages,
    .stage_epochs = icot_stage_epochs,
    .reset_optimizer = icot_reset_optimizer,
    .train_plan = icot_train_plan,
    .eval_plan = icot_eval_plan,
    .selectable = icot_selectable,
};

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_CURRICULUM;
    p->name = "icot";
    p->doc = "iCoT: stepwise internalisation, removing remove_per_epoch chain tokens per epoch (with smoothing)";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

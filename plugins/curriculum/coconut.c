/* coconut.c — curriculum plugin "coconut": the official Coconut schedule.
 *
 * Reproduces facebookresearch/coconut (run.py; dataset.py
 * get_cot_latent_dataset and get_question_latent_dataset) for one example with
 * n_steps reasoning steps:
 *
 *   training at stage s (coco_plan = drop_steps, n_latent, markers):
 *     with probability uniform_prob, s is replaced by a uniform draw from
 *     0..n_steps (per example, per epoch: the host's rng stream);
 *     s > max_latent_stage : drop every step; n_latent = max_latent_stage if
 *                            pad_latent_to_max, else min(n_steps, max_latent_stage)
 *     otherwise            : drop_steps = s, n_latent = s — NOT capped by
 *                            n_steps: an example with 3 steps at stage 5 drops
 *                            its 3 steps and gets 5 thoughts, as in the
 *                            official code
 *     n_latent *= c_thought; markers = 1 (<|start-latent|> ... <|end-latent|>)
 *   evaluation prompt at stage s:
 *     k = min(max_latent_stage if pad_latent_to_max
 *             else min(max_latent_stage, n_steps), s) * c_thought; markers = 1
 *
 * Stages and epochs. run.py trains num_epochs epochs with
 * scheduled_stage = epoch // epochs_per_stage. Every stage above
 * max_latent_stage yields the same layouts (all steps dropped, thoughts
 * capped), so they are merged into one final stage:
 *   num_stages = max_latent_stage + 2 (stages 0..max_latent_stage, then
 *                max_latent_stage + 1 = "all steps replaced")
 *   stage_epochs(s) = epochs_per_stage for s <= max_latent_stage (fewer, down
 *                to 0, when `epochs` runs out first), and whatever remains of
 *                `epochs` for the last stage (0 when nothing remains).
 * With the ProsQA config (epochs 50, epochs_per_stage 5, max_latent_stage 6)
 * that is 7 stages x 5 epochs + 15 epochs at stage 7: epochs 35..49, whose
 * official scheduled_stage 7, 8, 9 all behave like stage 7. The host runs the
 * stages in order and skips a stage with 0 epochs.
 *
 * Optimizer. With reset_optimizer the host resets AdamW on entering every
 * stage > 0 (the paper: "reset the optimizer state when switching stages").
 * Note that run.py, when reset_optimizer is set, actually builds a fresh AdamW
 * at the start of every epoch; the curriculum vtable can only express resets
 * at stage switches.
 *
 * Loss (option `loss`, coco_plan.supervision): `official` labels the kept
 * language steps and the answer; `frontier` (the single-token loss of
 * "Reasoning by Superposition") puts one label right after the stage's s
 * thoughts while s < n_steps: a random node of the shortest-path frontier at
 * depth s + 1; `bfs` scores that position against the whole BFS frontier at
 * depth s + 1; `bfs_all` also scores the output after each earlier thought
 * against the BFS frontier of its depth (coconut/plugin.h). At the final stage
 * (every step dropped) all label the answer.
 * The layout (scripts/coco/layout.lua) turns the plan into labels.
 *
 * Ablations (paper Table 1, v2 §4.3; issue 13), the same plugin with one
 * option changed, so they share every other knob and the schedule:
 *   curriculum = false   "w/o curriculum": only the final stage (every step
 *                        dropped, its thoughts) for all `epochs`, from the
 *                        first epoch; stages 0..max_latent_stage get 0 epochs
 *                        and uniform_prob is not applied (it would mix in the
 *                        earlier stages' language steps);
 *   thoughts = none      "w/o thought": the same stages dropping the same
 *                        steps, with no thoughts and no markers (train and
 *                        eval): the answer follows the remaining steps;
 *   thoughts = pause     "pause as thought": the same layout, but each thought
 *                        slot holds the learned <pause> embedding
 *                        (coco_plan.pause_as_thought): one forward pass, the
 *                        slots are not counted as generated thoughts.
 *
 * Defaults follow the issue: pad_latent_to_max is false here, while the
 * released ProsQA and GSM8k configs set it to true — experiments reproducing
 * those runs must set pad_latent_to_max=true.
 */
#include <stdlib.h>
#include <string.h>

#include "coconut/plugin.h"

static const coco_host *host;

typedef struct coconut_cur {
    int c_thought, max_latent_stage, epochs_per_stage, epochs, pad_latent_to_max, reset_optimizer;
    double uniform_prob;
    int supervision; /* COCO_SUPERVISE_* from the `loss` option */
    int markers;     /* <|start-latent|> / <|end-latent|> around the thoughts */
    int thoughts;    /* THOUGHTS_* from the `thoughts` option */
    int curriculum;  /* 0: the final stage only ("w/o curriculum") */
} coconut_cur;

enum { THOUGHTS_LATENT = 0, THOUGHTS_NONE = 1, THOUGHTS_PAUSE = 2 };

static const coco_option_spec options[] = {
    {"c_thought", COCO_OPT_INT, "1", "continuous thoughts per replaced reasoning step (c)"},
    {"max_latent_stage", COCO_OPT_INT, "6", "last stage that replaces steps one by one"},
    {"epochs_per_stage", COCO_OPT_INT, "5", "epochs of each stage"},
    {"epochs", COCO_OPT_INT, "50", "total training epochs (official num_epochs); the last stage gets the rest"},
    {"pad_latent_to_max", COCO_OPT_BOOL, "false",
     "beyond the last stage (and at eval), use max_latent_stage thoughts even for shorter chains"},
    {"uniform_prob", COCO_OPT_NUM, "0.0", "probability of training an example at a uniformly drawn stage"},
    {"reset_optimizer", COCO_OPT_BOOL, "true", "reset the optimizer when a new stage starts"},
    {"loss", COCO_OPT_STR, "official",
     "official (kept steps + answer) | frontier (one random shortest-path frontier node after the thoughts) | bfs "
     "(-log of the BFS frontier set's probability) | bfs_all (bfs after every thought, each against its depth's set)"},
    {"markers", COCO_OPT_BOOL, "true",
     "<|start-latent|> ... <|end-latent|> around the thoughts (official); false: the thoughts follow the question's "
     "last token directly (the Reasoning-by-Superposition layout)"},
    {"thoughts", COCO_OPT_STR, "continuous",
     "what fills the thought slots: continuous (Coconut) | none (ablation 'w/o thought': no thoughts, no markers) | "
     "pause (ablation 'pause as thought': a learned <pause> token per slot)"},
    {"curriculum", COCO_OPT_BOOL, "true",
     "false: ablation 'w/o curriculum', every epoch at the final stage (all steps replaced by thoughts)"},
    {NULL, 0, NULL, NULL},
};

static int cur_create(const coco_options *o, void **self) {
    int64_t c = host->opt_int(o, "c_thought"), m = host->opt_int(o, "max_latent_stage");
    int64_t e = host->opt_int(o, "epochs_per_stage"), tot = host->opt_int(o, "epochs");
    double u = host->opt_num(o, "uniform_prob");
    if (c < 1 || c > 1000) return host->seterr("curriculum 'coconut': c_thought = %lld is outside 1..1000", (long long)c);
    if (m < 0 || m > 1000)
        return host->seterr("curriculum 'coconut': max_latent_stage = %lld is outside 0..1000", (long long)m);
    if (e < 1 || e > 1000000)
        return host->seterr("curriculum 'coconut': epochs_per_stage = %lld is outside 1..1000000", (long long)e);
    if (tot < 0 || tot > 1000000)
        return host->seterr("curriculum 'coconut': epochs = %lld is outside 0..1000000", (long long)tot);
    if (!(u >= 0 && u <= 1)) return host->seterr("curriculum 'coconut': uniform_prob = %g is outside [0, 1]", u);
    const char *loss = host->opt_str(o, "loss");
    int sup;
    if (!strcmp(loss, "official")) sup = COCO_SUPERVISE_STEPS;
    else if (!strcmp(loss, "frontier")) sup = COCO_SUPERVISE_FRONTIER;
    else if (!strcmp(loss, "bfs")) sup = COCO_SUPERVISE_BFS;
    else if (!strcmp(loss, "bfs_all")) sup = COCO_SUPERVISE_BFS_ALL;
    else return host->seterr("curriculum 'coconut': loss = '%s' is not official, frontier, bfs or bfs_all", loss);
    const char *th = host->opt_str(o, "thoughts");
    int thoughts;
    if (!strcmp(th, "continuous")) thoughts = THOUGHTS_LATENT;
    else if (!strcmp(th, "none")) thoughts = THOUGHTS_NONE;
    else if (!strcmp(th, "pause")) thoughts = THOUGHTS_PAUSE;
    else return host->seterr("curriculum 'coconut': thoughts = '%s' is not continuous, none or pause", th);
    if (thoughts == THOUGHTS_PAUSE && !COCO_PLAN_HAS(host, pause_as_thought))
        return host->seterr("curriculum 'coconut': thoughts = pause needs a host whose coco_plan has pause_as_thought");
    coconut_cur *k = calloc(1, sizeof *k);
    if (!k) return host->seterr("curriculum 'coconut': out of memory");
    k->c_thought = (int)c;
    k->max_latent_stage = (int)m;
    k->epochs_per_stage = (int)e;
    k->epochs = (int)tot;
    k->pad_latent_to_max = host->opt_bool(o, "pad_latent_to_max");
    k->uniform_prob = u;
    k->reset_optimizer = host->opt_bool(o, "reset_optimizer");
    k->supervision = sup;
    k->markers = host->opt_bool(o, "markers");
    k->thoughts = thoughts;
    k->curriculum = host->opt_bool(o, "curriculum");
    *self = k;
    return 0;
}

static void cur_destroy(void *self) { free(self); }

static int cur_num_stages(void *self) { return ((coconut_cur *)self)->max_latent_stage + 2; }

static int cur_stage_epochs(void *self, int stage) {
    coconut_cur *k = self;
    if (stage < 0 || stage > k->max_latent_stage + 1) return 0;
    if (!k->curriculum) return stage == k->max_latent_stage + 1 ? k->epochs : 0;
    long before = (long)stage * k->epochs_per_stage, left = k->epochs - before;
    if (left <= 0) return 0;
    if (stage == k->max_latent_stage + 1) return (int)left;
    return left < k->epochs_per_stage ? (int)left : k->epochs_per_stage;
}

static int cur_reset_optimizer(void *self, int stage) { return stage > 0 && ((coconut_cur *)self)->reset_optimizer; }

static int check_args(const coconut_cur *k, int stage, int n_steps, coco_plan *out) {
    if (!out) return host->seterr("curriculum 'coconut': NULL plan");
    if (stage < 0 || stage > k->max_latent_stage + 1)
        return host->seterr("curriculum 'coconut': stage %d is outside 0..%d", stage, k->max_latent_stage + 1);
    if (n_steps < 0) return host->seterr("curriculum 'coconut': negative step count %d", n_steps);
    return 0;
}

/* The ablations' change to a plan that has Coconut's thoughts and markers. */
static void set_thoughts(const coconut_cur *k, coco_plan *out) {
    if (k->thoughts == THOUGHTS_NONE) {
        out->n_latent = 0;
        out->markers = 0;
    } else if (k->thoughts == THOUGHTS_PAUSE) {
        out->pause_as_thought = 1; /* COCO_PLAN_HAS was checked by create */
    }
}

static int cur_train_plan(void *self, int stage, int n_steps, coco_rng *rng, coco_plan *out) {
    coconut_cur *k = self;
    if (check_args(k, stage, n_steps, out)) return -1;
    if (!k->curriculum) stage = k->max_latent_stage + 1; /* every stage is the final one */
    /* random.random() < uniform_prob, then random.choice(range(n_steps + 1)).
     * With uniform_prob = 0 no draw is needed, so rng may be NULL then. */
    if (k->uniform_prob > 0 && k->curriculum) {
        if (!rng) return host->seterr("curriculum 'coconut': uniform_prob > 0 needs an rng");
        if (coco_rng_uniform(rng) < k->uniform_prob) stage = (int)coco_rng_below(rng, (uint64_t)n_steps + 1);
    }
    int drop, n;
    if (stage > k->max_latent_stage) {
        drop = n_steps; /* all */
        n = k->pad_latent_to_max ? k->max_latent_stage : (n_steps < k->max_latent_stage ? n_steps : k->max_latent_stage);
    } else {
        drop = stage; /* >= n_steps drops all, like the official slice steps[stage:] */
        n = stage;
    }
    out->drop_steps = drop;
    out->n_latent = n * k->c_thought;
    out->markers = k->markers;
    out->n_pause = 0;
    out->supervision = k->supervision;
    set_thoughts(k, out);
    return 0;
}

static int cur_eval_plan(void *self, int stage, int n_steps, coco_plan *out) {
    coconut_cur *k = self;
    if (check_args(k, stage, n_steps, out)) return -1;
    if (!k->curriculum) stage = k->max_latent_stage + 1; /* every stage is the final one */
    int cap = k->pad_latent_to_max ? k->max_latent_stage
                                   : (n_steps < k->max_latent_stage ? n_steps : k->max_latent_stage);
    int n = stage < cap ? stage : cap;
    out->drop_steps = 0; /* ignored for prompts: they hold no steps */
    out->n_latent = n * k->c_thought;
    out->markers = k->markers;
    out->n_pause = 0;
    set_thoughts(k, out);
    return 0;
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

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_CURRICULUM;
    p->name = "coconut";
    p->doc = "official Coconut schedule: stage k replaces the first k steps by k*c_thought continuous thoughts "
             "(ablations: thoughts=none|pause, curriculum=false)";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

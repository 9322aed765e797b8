/* test_baselines.c — the curricula of the paper's Table 1 baselines (issue 13)
 * against their definitions (paper.md §2.3), plan by plan:
 *
 *  - icot: removed tokens per epoch (remove_per_epoch, pretrain_epochs),
 *    remove_all_when_remove_beyond, optimizer resets exactly when the removed
 *    count changes (not after everything was removed), removal smoothing
 *    replayed from a fixed rng and checked against the truncated geometric
 *    distribution computed here by a cumulative sum (not the plugin's inverse
 *    CDF), the draw statistics, eval = bare question, bad options.
 *  - pause: one stage, n_pause pauses in training and eval, every step dropped.
 *  - coconut ablations: curriculum=false (final stage from the first epoch,
 *    uniform_prob ignored), thoughts=none at every stage, thoughts=pause
 *    (pause_as_thought set, Coconut's counts and markers).
 *  - ABI: a plugin compiled against the first ABI-1 header (tests/plugins/
 *    old_curriculum.c) loads, runs, and leaves the appended plan fields as
 *    the host zero-filled them; host->plan_size and COCO_PLAN_HAS.
 * Tests run from the project root.
 */
#include "testutil.h"

#include "coconut/pluginhost.h"
#include "testplugins.h"

#ifndef COCO_BUILD_DIR
#define COCO_BUILD_DIR "build"
#endif

static const char *path_of(const char *dir, const char *name) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s/%s.so", COCO_BUILD_DIR, dir, name);
    return p;
}

static coco_loaded_plugin *load_cur(const char *name) {
    coco_loaded_plugin *p = coco_plugin_load(path_of("plugins/curriculum", name));
    if (!p) fail_msg("loading %s: %s", name, coco_errmsg());
    assert_int_equal(p->desc.kind, COCO_KIND_CURRICULUM);
    return p;
}

#define ASSERT_MSG(substr)                                                                                  \
    do {                                                                                                     \
        if (!strstr(coco_errmsg(), substr)) fail_msg("message '%s' lacks '%s'", coco_errmsg(), substr);     \
    } while (0)

typedef struct cur {
    coco_loaded_plugin *p;
    const coco_curriculum_vt *vt;
    coco_options *o;
    void *self;
} cur;

static cur cur_new(coco_loaded_plugin *p, const char *const *kv) {
    cur c = {p, coco_plugin_curriculum(p), tu_plugin_options(p, kv), NULL};
    if (c.vt->create(c.o, &c.self) != 0) fail_msg("%s", coco_errmsg());
    return c;
}

static void cur_free(cur *c) {
    c->vt->destroy(c->self);
    coco_options_free(c->o);
}

/* create must fail with a message containing `msg`. */
static void create_fails(coco_loaded_plugin *p, const char *kv, const char *msg) {
    coco_options *o = tu_plugin_options(p, (const char *[]){kv, NULL});
    void *self = NULL;
    assert_int_equal(coco_plugin_curriculum(p)->create(o, &self), -1);
    ASSERT_MSG(msg);
    coco_options_free(o);
}

/* A plan as the host hands it over: zero-filled. */
static coco_plan train(cur *c, int stage, int n, coco_rng *rng) {
    coco_plan pl;
    memset(&pl, 0, sizeof pl);
    if (c->vt->train_plan(c->self, stage, n, rng, &pl) != 0) fail_msg("train stage %d: %s", stage, coco_errmsg());
    return pl;
}

static coco_plan eval(cur *c, int stage, int n) {
    coco_plan pl;
    memset(&pl, 0, sizeof pl);
    if (c->vt->eval_plan(c->self, stage, n, &pl) != 0) fail_msg("eval stage %d: %s", stage, coco_errmsg());
    return pl;
}

#define PLAN_EQ(pl, drop, dtok, lat, mark, pause, pat, what)                                                     \
    do {                                                                                                          \
        if ((pl).drop_steps != (drop) || (pl).drop_tokens != (dtok) || (pl).n_latent != (lat) ||                  \
            (pl).markers != (mark) || (pl).n_pause != (pause) || (pl).pause_as_thought != (pat))                  \
            fail_msg("%s: plan {drop %d, tokens %d, latent %d, markers %d, pause %d, pat %d}, want "              \
                     "{%d, %d, %d, %d, %d, %d}",                                                                  \
                     what, (pl).drop_steps, (pl).drop_tokens, (pl).n_latent, (pl).markers, (pl).n_pause,          \
                     (pl).pause_as_thought, (int)(drop), (int)(dtok), (int)(lat), (int)(mark), (int)(pause),      \
                     (int)(pat));                                                                                 \
    } while (0)

/* ============================================================ icot */

/* The reference's compute_lambda_distribution(lambda, 100), then the index
 * whose cumulative probability first exceeds u (torch.multinomial's inverse
 * CDF): P(o) = (1 - e^-lambda) e^(-lambda o) for o < 99, P(99) = the rest. */
static int ref_offset(double lambda, double u) {
    double cum = 0;
    for (int o = 0; o < 99; o++) {
        cum += (1 - exp(-lambda)) * exp(-lambda * o);
        if (u < cum) return o;
    }
    return 99;
}

static void test_icot_schedule(void **s) {
    coco_loaded_plugin *p = load_cur("icot");
    assert_string_equal(p->desc.name, "icot");
    /* no smoothing: exactly e * remove_per_epoch tokens at epoch e */
    cur c = cur_new(p, (const char *[]){"epochs=12", "remove_per_epoch=5", "removal_smoothing_lambda=0",
                                         "remove_all_when_remove_beyond=30", NULL});
    assert_int_equal(c.vt->num_stages(c.self), 12);
    for (int st = 0; st < 12; st++) assert_int_equal(c.vt->stage_epochs(c.self, st), 1);
    assert_int_equal(c.vt->stage_epochs(c.self, 12), 0);
    for (int st = 0; st < 6; st++) {
        char what[32];
        snprintf(what, sizeof what, "epoch %d", st);
        coco_plan pl = train(&c, st, 4, NULL); /* lambda 0 needs no rng */
        PLAN_EQ(pl, 0, 5 * st, 0, 0, 0, 0, what);
        assert_int_equal(pl.supervision, COCO_SUPERVISE_STEPS);
    }
    /* 6 * 5 = 30 >= 30: the whole chain, from then on */
    for (int st = 6; st < 12; st++) {
        coco_plan pl = train(&c, st, 4, NULL);
        PLAN_EQ(pl, 4, 0, 0, 0, 0, 0, "remove all");
        pl = train(&c, st, 2, NULL);
        PLAN_EQ(pl, 2, 0, 0, 0, 0, 0, "remove all (2 steps)");
    }
    /* resets: when the count changes (1..6), never after everything was removed */
    assert_int_equal(c.vt->reset_optimizer(c.self, 0), 0);
    for (int st = 1; st <= 6; st++) assert_int_equal(c.vt->reset_optimizer(c.self, st), 1);
    for (int st = 7; st < 12; st++) assert_int_equal(c.vt->reset_optimizer(c.self, st), 0);
    /* eval: the bare question at every epoch */
    for (int st = 0; st < 12; st++) {
        coco_plan pl = eval(&c, st, 3);
        PLAN_EQ(pl, 3, 0, 0, 0, 0, 0, "eval");
    }
    coco_plan pl;
    assert_int_equal(c.vt->train_plan(c.self, 12, 3, NULL, &pl), -1);
    ASSERT_MSG("stage 12 is outside 0..11");
    cur_free(&c);

    /* pretrain_epochs, reset off, never remove all */
    c = cur_new(p, (const char *[]){"epochs=6", "remove_per_epoch=3", "removal_smoothing_lambda=0",
                                     "remove_all_when_remove_beyond=0", "pretrain_epochs=2", "reset_optimizer=false",
                                     NULL});
    int want[6] = {0, 0, 0, 3, 6, 9};
    for (int st = 0; st < 6; st++) {
        pl = train(&c, st, 5, NULL);
        PLAN_EQ(pl, 0, want[st], 0, 0, 0, 0, "pretrain");
        assert_int_equal(c.vt->reset_optimizer(c.self, st), 0);
    }
    cur_free(&c);
    c = cur_new(p, (const char *[]){"epochs=6", "remove_per_epoch=3", "removal_smoothing_lambda=0",
                                     "pretrain_epochs=2", NULL});
    assert_int_equal(c.vt->reset_optimizer(c.self, 1), 0); /* 0 -> 0 */
    assert_int_equal(c.vt->reset_optimizer(c.self, 2), 0); /* 0 -> 0 */
    assert_int_equal(c.vt->reset_optimizer(c.self, 3), 1); /* 0 -> 3 */
    cur_free(&c);
    /* remove_per_epoch 0: nothing ever changes, no reset */
    c = cur_new(p, (const char *[]){"epochs=4", "remove_per_epoch=0", "removal_smoothing_lambda=0", NULL});
    for (int st = 0; st < 4; st++) {
        pl = train(&c, st, 3, NULL);
        PLAN_EQ(pl, 0, 0, 0, 0, 0, 0, "rpe 0");
        assert_int_equal(c.vt->reset_optimizer(c.self, st), 0);
    }
    cur_free(&c);

    /* defaults: the iCoT reference's 8 tokens per epoch, lambda 4, all beyond 39 */
    c = cur_new(p, NULL);
    assert_int_equal(c.vt->num_stages(c.self), 50);
    coco_rng r;
    coco_rng_seed(&r, 5);
    pl = train(&c, 4, 6, &r);
    assert_true(pl.drop_tokens >= 32 && pl.drop_steps == 0);
    pl = train(&c, 5, 6, &r); /* 40 >= 39 */
    PLAN_EQ(pl, 6, 0, 0, 0, 0, 0, "default remove all");
    assert_int_equal(c.vt->train_plan(c.self, 1, 3, NULL, &pl), -1);
    ASSERT_MSG("needs an rng");
    cur_free(&c);

    create_fails(p, "remove_per_epoch=-1", "remove_per_epoch = -1");
    create_fails(p, "removal_smoothing_lambda=-2", "removal_smoothing_lambda = -2");
    create_fails(p, "remove_all_when_remove_beyond=-5", "remove_all_when_remove_beyond = -5");
    create_fails(p, "epochs=-1", "epochs = -1");
    create_fails(p, "pretrain_epochs=-1", "pretrain_epochs = -1");
    coco_plugin_unload(p);
}

/* Smoothing: every example's offset is the draw of the host's rng, replayed. */
static void test_icot_smoothing(void **s) {
    coco_loaded_plugin *p = load_cur("icot");
    const double lambdas[3] = {4, 1, 0.3};
    for (int li = 0; li < 3; li++) {
        char lam[64];
        snprintf(lam, sizeof lam, "removal_smoothing_lambda=%g", lambdas[li]);
        cur c = cur_new(p, (const char *[]){"epochs=8", "remove_per_epoch=2", lam,
                                             "remove_all_when_remove_beyond=0", NULL});
        for (int st = 0; st < 8; st += 3) { /* epochs 0, 3, 6 */
            coco_rng r, ref;
            coco_rng_seed(&r, 1000 + st);
            coco_rng_seed(&ref, 1000 + st);
            long hist[100] = {0};
            int n = 4000;
            for (int i = 0; i < n; i++) {
                int o = ref_offset(lambdas[li], coco_rng_uniform(&ref));
                hist[o]++;
                coco_plan pl = train(&c, st, 3, &r);
                if (pl.drop_tokens != 2 * st + o)
                    fail_msg("lambda %g epoch %d example %d: drop_tokens %d, want %d + %d", lambdas[li], st, i,
                             pl.drop_tokens, 2 * st, o);
                assert_int_equal(pl.drop_steps, 0);
            }
            /* the draws follow P(o) (1 - e^-lambda) e^(-lambda o): P(0) within 4 sigma */
            double p0 = 1 - exp(-lambdas[li]), sd = sqrt(p0 * (1 - p0) / n);
            assert_true(fabs((double)hist[0] / n - p0) < 4 * sd + 1e-9);
        }
        cur_free(&c);
    }
    /* lambda 0.01: the truncation at 99 is reached */
    cur c = cur_new(p, (const char *[]){"epochs=2", "remove_per_epoch=1", "removal_smoothing_lambda=0.01",
                                         "remove_all_when_remove_beyond=0", NULL});
    coco_rng r;
    coco_rng_seed(&r, 7);
    int maxo = 0;
    for (int i = 0; i < 2000; i++) {
        coco_plan pl = train(&c, 0, 3, &r);
        assert_true(pl.drop_tokens >= 0 && pl.drop_tokens <= 99);
        if (pl.drop_tokens > maxo) maxo = pl.drop_tokens;
    }
    assert_int_equal(maxo, 99);
    cur_free(&c);
    coco_plugin_unload(p);
}

/* ============================================================ pause */

static void test_pause(void **s) {
    coco_loaded_plugin *p = load_cur("pause");
    cur c = cur_new(p, NULL);
    assert_int_equal(c.vt->num_stages(c.self), 1);
    assert_int_equal(c.vt->stage_epochs(c.self, 0), 50);
    for (int n = 0; n < 7; n++) {
        coco_plan pl = train(&c, 0, n, NULL);
        PLAN_EQ(pl, n, 0, 0, 0, 6, 0, "pause default train");
        pl = eval(&c, 0, n);
        PLAN_EQ(pl, n, 0, 0, 0, 6, 0, "pause default eval");
    }
    cur_free(&c);
    c = cur_new(p, (const char *[]){"n_pause=4", "epochs=9", NULL});
    assert_int_equal(c.vt->stage_epochs(c.self, 0), 9);
    assert_int_equal(c.vt->reset_optimizer(c.self, 0), 0);
    coco_plan pl = train(&c, 0, 3, NULL);
    PLAN_EQ(pl, 3, 0, 0, 0, 4, 0, "pause 4 train");
    pl = eval(&c, 0, 5);
    PLAN_EQ(pl, 5, 0, 0, 0, 4, 0, "pause 4 eval");
    assert_int_equal(c.vt->train_plan(c.self, 1, 3, NULL, &pl), -1);
    ASSERT_MSG("stage 1 does not exist");
    cur_free(&c);
    create_fails(p, "n_pause=-1", "n_pause = -1");
    coco_plugin_unload(p);
}

/* ============================================================ Coconut ablations */

static void test_coconut_nocur(void **s) {
    coco_loaded_plugin *p = load_cur("coconut");
    /* max 3, 2 epochs per stage, 11 epochs: Coconut would be 4 stages x 2 + 3 */
    cur c = cur_new(p, (const char *[]){"curriculum=false", "max_latent_stage=3", "epochs_per_stage=2", "epochs=11",
                                         "uniform_prob=1", NULL});
    assert_int_equal(c.vt->num_stages(c.self), 5);
    for (int st = 0; st <= 3; st++) assert_int_equal(c.vt->stage_epochs(c.self, st), 0);
    assert_int_equal(c.vt->stage_epochs(c.self, 4), 11); /* every epoch at the final stage */
    coco_rng r;
    coco_rng_seed(&r, 3);
    for (int st = 0; st <= 4; st++) {
        for (int n = 1; n <= 5; n++) {
            /* uniform_prob is not applied: always the final stage, min(n, 3) thoughts */
            coco_plan pl = train(&c, st, n, &r);
            PLAN_EQ(pl, n, 0, n < 3 ? n : 3, 1, 0, 0, "nocur train");
            pl = eval(&c, st, n);
            PLAN_EQ(pl, 0, 0, n < 3 ? n : 3, 1, 0, 0, "nocur eval");
        }
    }
    cur_free(&c);
    c = cur_new(p, (const char *[]){"curriculum=false", "pad_latent_to_max=true", "c_thought=2", "max_latent_stage=3",
                                     "markers=false", NULL});
    assert_int_equal(c.vt->stage_epochs(c.self, 4), 50);
    coco_plan pl = train(&c, 4, 2, NULL);
    PLAN_EQ(pl, 2, 0, 6, 0, 0, 0, "nocur padded");
    pl = eval(&c, 4, 1);
    PLAN_EQ(pl, 0, 0, 6, 0, 0, 0, "nocur padded eval");
    cur_free(&c);
    coco_plugin_unload(p);
}

static void test_coconut_nothought(void **s) {
    coco_loaded_plugin *p = load_cur("coconut");
    cur c = cur_new(p, (const char *[]){"thoughts=none", "max_latent_stage=4", "epochs_per_stage=3", "epochs=20", NULL});
    /* Coconut's schedule */
    assert_int_equal(c.vt->num_stages(c.self), 6);
    for (int st = 0; st <= 4; st++) assert_int_equal(c.vt->stage_epochs(c.self, st), 3);
    assert_int_equal(c.vt->stage_epochs(c.self, 5), 5);
    assert_int_equal(c.vt->reset_optimizer(c.self, 2), 1);
    /* every stage: drop one more step, no thoughts, no markers; eval the bare question */
    for (int st = 0; st <= 5; st++) {
        for (int n = 3; n <= 6; n++) {
            coco_plan pl = train(&c, st, n, NULL);
            int drop = st <= 4 ? st : n;
            PLAN_EQ(pl, drop, 0, 0, 0, 0, 0, "nothought train");
            pl = eval(&c, st, n);
            PLAN_EQ(pl, 0, 0, 0, 0, 0, 0, "nothought eval");
        }
    }
    cur_free(&c);
    coco_plugin_unload(p);
}

static void test_coconut_pausethought(void **s) {
    coco_loaded_plugin *p = load_cur("coconut");
    cur c = cur_new(p, (const char *[]){"thoughts=pause", "max_latent_stage=3", "c_thought=2", NULL});
    for (int st = 0; st <= 4; st++) {
        for (int n = 2; n <= 5; n++) {
            /* Coconut's counts and markers, the slots marked as pauses */
            int drop = st <= 3 ? st : n, lat = (st <= 3 ? st : (n < 3 ? n : 3)) * 2;
            coco_plan pl = train(&c, st, n, NULL);
            PLAN_EQ(pl, drop, 0, lat, 1, 0, 1, "pausethought train");
            int cap = n < 3 ? n : 3, k = (st < cap ? st : cap) * 2;
            pl = eval(&c, st, n);
            PLAN_EQ(pl, 0, 0, k, 1, 0, 1, "pausethought eval");
        }
    }
    cur_free(&c);
    /* plain Coconut keeps pause_as_thought 0 */
    c = cur_new(p, NULL);
    coco_plan pl = train(&c, 2, 4, NULL);
    PLAN_EQ(pl, 2, 0, 2, 1, 0, 0, "coconut");
    cur_free(&c);
    create_fails(p, "thoughts=latent", "thoughts = 'latent' is not continuous, none or pause");
    coco_plugin_unload(p);
}

/* ============================================================ ABI */

static void test_old_header_plugin(void **s) {
    const coco_host *h = coco_host_get();
    assert_int_equal(h->plan_size, sizeof(coco_plan));
    assert_true(COCO_PLAN_HAS(h, drop_tokens));
    assert_true(COCO_PLAN_HAS(h, pause_as_thought));
    /* an older host: its coco_host ends before plan_size, or its plan before the field */
    coco_host old = *h;
    old.struct_size = (uint32_t)offsetof(coco_host, plan_size);
    assert_false(COCO_PLAN_HAS(&old, drop_tokens));
    old = *h;
    old.plan_size = (uint32_t)offsetof(coco_plan, drop_tokens);
    assert_false(COCO_PLAN_HAS(&old, drop_tokens));
    assert_true(COCO_PLAN_HAS(&old, supervision));

    coco_loaded_plugin *p = coco_plugin_load(path_of("tests/plugins", "old_curriculum"));
    if (!p) fail_msg("old_curriculum: %s", coco_errmsg());
    assert_string_equal(p->desc.name, "old_curriculum");
    cur c = cur_new(p, (const char *[]){"epochs=2", NULL});
    assert_int_equal(c.vt->num_stages(c.self), 2);
    assert_int_equal(c.vt->stage_epochs(c.self, 1), 2);
    coco_plan pl = train(&c, 1, 3, NULL); /* zero-filled, as the host does */
    PLAN_EQ(pl, 1, 0, 1, 1, 1, 0, "old plugin");
    assert_int_equal(pl.supervision, COCO_SUPERVISE_STEPS);
    /* it writes its own (old) plan only: what lies beyond is the host's */
    memset(&pl, 0x5a, sizeof pl);
    assert_int_equal(c.vt->eval_plan(c.self, 1, 3, &pl), 0);
    assert_int_equal(pl.n_pause, 1);
    assert_int_equal(pl.supervision, 0x5a5a5a5a);
    assert_int_equal(pl.drop_tokens, 0x5a5a5a5a);
    assert_int_equal(pl.pause_as_thought, 0x5a5a5a5a);
    cur_free(&c);
    coco_plugin_unload(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_icot_schedule),      cmocka_unit_test(test_icot_smoothing),
        cmocka_unit_test(test_pause),              cmocka_unit_test(test_coconut_nocur),
        cmocka_unit_test(test_coconut_nothought),  cmocka_unit_test(test_coconut_pausethought),
        cmocka_unit_test(test_old_header_plugin),
    };
    return cmocka_run_group_tests_name("baselines", tests, NULL, NULL);
}

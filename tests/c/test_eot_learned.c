/* test_eot_learned.c — plugins/eot/learned.c on hand-made hidden states with
 * known weights (issue 16).
 *
 *  - logistic regression with the step feature, no normalisation: the exact
 *    stop decision of every row (logits computed by hand), the threshold edge
 *    (P = 0.5 exactly: continue at threshold 0.5, stop just below it), the cap
 *    (max_thoughts from the option and from the file's metadata), min_thoughts,
 *    and a batch deciding what each row decides alone;
 *  - an MLP with standardisation: P(stop) recomputed here in double (z-score,
 *    GELU tanh, output layer) with thresholds just below / above it;
 *  - a hidden-state width other than the file's d is an error naming the file
 *    and both widths; corrupt / mismatching files and bad options fail at
 *    create() with messages naming the file, tensor or option.
 * Files go to /tmp and are removed.
 */
#include "testutil.h"

#include <unistd.h>

#include "coconut/pluginhost.h"
#include "coconut/safetensors.h"
#include "testplugins.h"

#ifndef COCO_BUILD_DIR
#define COCO_BUILD_DIR "build"
#endif

#define ASSERT_MSG(substr) \
    do { \
        if (!strstr(coco_errmsg(), substr)) fail_msg("message '%s' lacks '%s'", coco_errmsg(), substr); \
    } while (0)

static char g_dir[256];
static coco_loaded_plugin *g_p;
static const coco_eot_vt *g_vt;

static int setup(void **s) {
    snprintf(g_dir, sizeof g_dir, "/tmp/coconut_test_eot_learned.%ld", (long)getpid());
    mkdir(g_dir, 0777);
    char path[512];
    snprintf(path, sizeof path, "%s/plugins/eot/learned.so", COCO_BUILD_DIR);
    g_p = coco_plugin_load(path);
    if (!g_p) {
        fprintf(stderr, "loading %s: %s\n", path, coco_errmsg());
        return -1;
    }
    g_vt = coco_plugin_eot(g_p);
    return 0;
}

static int teardown(void **s) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) return -1;
    if (g_p) coco_plugin_unload(g_p);
    return 0;
}

static coco_tensor *vec(int64_t n, const float *v) {
    coco_tensor *t = coco_tensor_new(COCO_F32, 1, (int64_t[]){n});
    memcpy(t->data, v, sizeof(float) * (size_t)n);
    return t;
}

static coco_tensor *mat(int64_t r, int64_t c, const float *v) {
    coco_tensor *t = coco_tensor_new(COCO_F32, 2, (int64_t[]){r, c});
    memcpy(t->data, v, sizeof(float) * (size_t)(r * c));
    return t;
}

/* Writes a file with the given tensors (released here) and metadata pairs. */
static const char *write_file(const char *name, int n, const char *const *names, coco_tensor **ts, const char *const *meta,
                              int nmeta) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.safetensors", g_dir, name);
    coco_st_item items[8];
    for (int i = 0; i < n; i++) items[i] = (coco_st_item){names[i], ts[i]};
    if (coco_st_save(path, items, n, meta, nmeta) != 0) fail_msg("saving %s: %s", path, coco_errmsg());
    for (int i = 0; i < n; i++) coco_tensor_release(ts[i]);
    return path;
}

/* logistic, d = 3, step feature, no normalisation:
 *   logit = h1 - h2 + 0.5 h3 + 2 n - 1   (weights exact in binary) */
static const char *logistic_file(const char *name, const char *max_meta) {
    const char *names[] = {"out.weight", "out.bias"};
    coco_tensor *ts[] = {mat(4, 1, (const float[]){1, -1, 0.5f, 2}), vec(1, (const float[]){-1})};
    const char *meta[] = {"format", "coconut-eot-classifier", "version", "1", "kind", "logistic", "d", "3",
                          "step_feature", "true", "normalize", "none", "max_thoughts", max_meta};
    return write_file(name, 2, names, ts, meta, max_meta ? 7 : 6);
}

static void *create(const char *const *kv, int expect_rc) {
    coco_options *o = tu_plugin_options(g_p, kv);
    void *self = NULL;
    int rc = g_vt->create(o, &self);
    coco_options_free(o);
    if (rc != expect_rc) fail_msg("create returned %d (expected %d): %s", rc, expect_rc, coco_errmsg());
    return self;
}

static void test_logistic_decisions(void **s) {
    const char *path = logistic_file("logistic", "5");
    char wopt[600];
    snprintf(wopt, sizeof wopt, "weights=%s", path);
    void *e = create((const char *[]){wopt, NULL}, 0);
    assert_int_equal(g_vt->max_thoughts(e), 5); /* option 0 -> the file's max_thoughts */
    /* rows and their logits:
     *   0: h (0,0,0)   n 0 -> -1          P 0.27  continue
     *   1: h (1,0,0)   n 0 ->  0          P 0.5   continue (stop only when P > threshold)
     *   2: h (0,0,0)   n 1 ->  1          P 0.73  stop
     *   3: h (0,4,0)   n 2 -> -4 + 4 - 1  P 0.27  continue
     *   4: h (0,0,6)   n 0 ->  3 - 1      P 0.88  stop
     *   5: h (0,9,0)   n 5 -> cap (5 thoughts) stop although P is tiny */
    int rows[6] = {0, 1, 2, 3, 4, 5}, nt[6] = {0, 0, 1, 2, 0, 5}, planned[6] = {-1, -1, -1, -1, -1, 3};
    float h[18] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 6, 0, 9, 0};
    unsigned char stop[6], want[6] = {0, 0, 1, 0, 1, 1};
    memset(stop, 7, sizeof stop);
    assert_int_equal(g_vt->decide(e, 6, rows, nt, planned, h, 3, stop), 0);
    for (int i = 0; i < 6; i++)
        if (stop[i] != want[i]) fail_msg("row %d: stop = %d, expected %d", i, stop[i], want[i]);
    /* each row alone decides the same */
    for (int i = 0; i < 6; i++) {
        unsigned char one = 9;
        assert_int_equal(g_vt->decide(e, 1, rows + i, nt + i, planned + i, h + 3 * i, 3, &one), 0);
        assert_int_equal(one, want[i]);
    }
    g_vt->destroy(e);

    /* the threshold edge: P = 0.5 exactly stops once the threshold is below it */
    char thr[64];
    snprintf(thr, sizeof thr, "threshold=0.4999");
    e = create((const char *[]){wopt, thr, NULL}, 0);
    unsigned char st1;
    assert_int_equal(g_vt->decide(e, 1, rows + 1, nt + 1, planned + 1, h + 3, 3, &st1), 0);
    assert_int_equal(st1, 1);
    g_vt->destroy(e);
    /* threshold 1: only the cap stops; threshold 0: every P > 0 stops */
    e = create((const char *[]){wopt, "threshold=1", NULL}, 0);
    unsigned char st[6];
    assert_int_equal(g_vt->decide(e, 6, rows, nt, planned, h, 3, st), 0);
    for (int i = 0; i < 6; i++) assert_int_equal(st[i], i == 5);
    g_vt->destroy(e);

    /* the cap from the option, and min_thoughts holding rows that would stop */
    e = create((const char *[]){wopt, "max_thoughts=2", "min_thoughts=1", NULL}, 0);
    assert_int_equal(g_vt->max_thoughts(e), 2);
    /* row 4 (P 0.88 at n 0) continues: n < min; row 3 (n 2) stops at the cap */
    assert_int_equal(g_vt->decide(e, 6, rows, nt, planned, h, 3, st), 0);
    unsigned char want2[6] = {0, 0, 1, 1, 0, 1};
    for (int i = 0; i < 6; i++)
        if (st[i] != want2[i]) fail_msg("max 2 / min 1, row %d: stop = %d, expected %d", i, st[i], want2[i]);
    g_vt->destroy(e);
}

static void test_width_mismatch(void **s) {
    const char *path = logistic_file("width", "4");
    char wopt[600];
    snprintf(wopt, sizeof wopt, "weights=%s", path);
    void *e = create((const char *[]){wopt, NULL}, 0);
    int rows[1] = {0}, nt[1] = {0}, planned[1] = {-1};
    float h[4] = {0};
    unsigned char stop[1];
    assert_int_equal(g_vt->decide(e, 1, rows, nt, planned, h, 4, stop), -1);
    ASSERT_MSG(path);
    ASSERT_MSG("width 3");
    ASSERT_MSG("width 4");
    assert_int_equal(g_vt->decide(e, 1, rows, nt, planned, h, 2, stop), -1);
    ASSERT_MSG("width 2");
    assert_int_equal(g_vt->decide(e, 1, rows, nt, planned, h, 3, stop), 0); /* the right width still works */
    g_vt->destroy(e);
}

static double gelu(double x) { return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))); }

static void test_mlp_standardised(void **s) {
    /* d = 2, no step feature, H = 2, standardised with mean (1, -1), std (2, 0.5) */
    const float mean[2] = {1, -1}, sd[2] = {2, 0.5f};
    const float W1[4] = {0.5f, -1.25f, 1.5f, 0.75f}, b1[2] = {0.25f, -0.5f}, w2[2] = {2.0f, -3.0f}, b2 = 0.125f;
    const char *names[] = {"norm.mean", "norm.std", "fc1.weight", "fc1.bias", "out.weight", "out.bias"};
    coco_tensor *ts[] = {vec(2, mean), vec(2, sd), mat(2, 2, W1), vec(2, b1), mat(2, 1, w2), vec(1, &b2)};
    const char *meta[] = {"format", "coconut-eot-classifier", "version", "1", "kind", "mlp", "d", "2", "hidden", "2",
                          "step_feature", "false", "normalize", "standard", "activation", "gelu_tanh", "max_thoughts", "6",
                          "label", "steps"};
    const char *path = write_file("mlp", 6, names, ts, meta, 10);
    const float hs[3][2] = {{3, -1}, {-1, 0}, {0.5f, -2}};
    for (int r = 0; r < 3; r++) {
        double z[2], a[2], logit = b2;
        for (int j = 0; j < 2; j++) z[j] = (hs[r][j] - mean[j]) / sd[j];
        for (int k = 0; k < 2; k++) a[k] = b1[k] + z[0] * W1[0 * 2 + k] + z[1] * W1[1 * 2 + k];
        for (int k = 0; k < 2; k++) logit += gelu(a[k]) * w2[k];
        double p = 1.0 / (1.0 + exp(-logit));
        assert_true(p > 0.01 && p < 0.99);
        for (int side = 0; side < 2; side++) {
            char wopt[600], thr[64];
            snprintf(wopt, sizeof wopt, "weights=%s", path);
            snprintf(thr, sizeof thr, "threshold=%.9f", side ? p + 1e-5 : p - 1e-5);
            void *e = create((const char *[]){wopt, thr, NULL}, 0);
            int rows[1] = {0}, nt[1] = {1}, planned[1] = {-1};
            unsigned char stop = 9;
            assert_int_equal(g_vt->decide(e, 1, rows, nt, planned, hs[r], 2, &stop), 0);
            if (stop != (side == 0)) fail_msg("row %d, P = %.6f, threshold %s: stop = %d", r, p, thr, stop);
            g_vt->destroy(e);
        }
    }
}

static void test_bad_files_and_options(void **s) {
    char wopt[600];
    /* missing file */
    snprintf(wopt, sizeof wopt, "weights=%s/nope.safetensors", g_dir);
    create((const char *[]){wopt, NULL}, -1);
    ASSERT_MSG("nope.safetensors");
    /* not a classifier file (e.g. a model checkpoint) */
    {
        const char *names[] = {"wte.weight"};
        coco_tensor *ts[] = {mat(2, 2, (const float[]){1, 2, 3, 4})};
        const char *meta[] = {"format", "pt"};
        snprintf(wopt, sizeof wopt, "weights=%s", write_file("model", 1, names, ts, meta, 1));
        create((const char *[]){wopt, NULL}, -1);
        ASSERT_MSG("is not an <eot> classifier file");
        ASSERT_MSG("model.safetensors");
    }
    /* a tensor shaped against the metadata, a missing tensor, std <= 0 */
    {
        const char *names[] = {"out.weight", "out.bias"};
        coco_tensor *ts[] = {mat(3, 1, (const float[]){1, 2, 3}), vec(1, (const float[]){0})};
        const char *meta[] = {"format", "coconut-eot-classifier", "version", "1", "kind", "logistic", "d", "3",
                              "step_feature", "true", "normalize", "none", "max_thoughts", "4"};
        snprintf(wopt, sizeof wopt, "weights=%s", write_file("shape", 2, names, ts, meta, 7));
        create((const char *[]){wopt, NULL}, -1);
        ASSERT_MSG("tensor 'out.weight' has shape [3, 1], expected [4, 1]");
    }
    {
        const char *names[] = {"out.weight"};
        coco_tensor *ts[] = {mat(3, 1, (const float[]){1, 2, 3})};
        const char *meta[] = {"format", "coconut-eot-classifier", "version", "1", "kind", "logistic", "d", "3",
                              "step_feature", "false", "normalize", "none", "max_thoughts", "4"};
        snprintf(wopt, sizeof wopt, "weights=%s", write_file("nobias", 1, names, ts, meta, 7));
        create((const char *[]){wopt, NULL}, -1);
        ASSERT_MSG("tensor 'out.bias' is missing");
    }
    {
        const char *names[] = {"norm.mean", "norm.std", "out.weight", "out.bias"};
        coco_tensor *ts[] = {vec(2, (const float[]){0, 0}), vec(2, (const float[]){1, 0}), mat(2, 1, (const float[]){1, 2}),
                             vec(1, (const float[]){0})};
        const char *meta[] = {"format", "coconut-eot-classifier", "version", "1", "kind", "logistic", "d", "2",
                              "step_feature", "false", "normalize", "standard", "max_thoughts", "4"};
        snprintf(wopt, sizeof wopt, "weights=%s", write_file("std0", 4, names, ts, meta, 7));
        create((const char *[]){wopt, NULL}, -1);
        ASSERT_MSG("norm.std[1] = 0 must be > 0");
    }
    {
        const char *names[] = {"out.weight", "out.bias"};
        coco_tensor *ts[] = {mat(2, 1, (const float[]){1, 2}), vec(1, (const float[]){0})};
        const char *meta[] = {"format", "coconut-eot-classifier", "version", "1", "kind", "forest", "d", "2",
                              "step_feature", "false", "normalize", "none"};
        snprintf(wopt, sizeof wopt, "weights=%s", write_file("kind", 2, names, ts, meta, 6));
        create((const char *[]){wopt, NULL}, -1);
        ASSERT_MSG("metadata kind = 'forest', expected logistic or mlp");
    }
    /* no max_thoughts in the file and none given; then given */
    snprintf(wopt, sizeof wopt, "weights=%s", logistic_file("nomax", NULL));
    create((const char *[]){wopt, NULL}, -1);
    ASSERT_MSG("has no max_thoughts metadata; set the option max_thoughts");
    void *e = create((const char *[]){wopt, "max_thoughts=3", NULL}, 0);
    assert_int_equal(g_vt->max_thoughts(e), 3);
    g_vt->destroy(e);
    /* option ranges */
    create((const char *[]){wopt, "max_thoughts=3", "threshold=1.5", NULL}, -1);
    ASSERT_MSG("threshold = 1.5 is outside [0, 1]");
    create((const char *[]){wopt, "max_thoughts=3", "min_thoughts=4", NULL}, -1);
    ASSERT_MSG("min_thoughts = 4 is above max_thoughts = 3");
    /* weights is required (the host refuses before create) */
    coco_options *o = coco_options_new(g_p->desc.options, g_p->desc.name);
    assert_int_equal(coco_options_finish(o), -1);
    ASSERT_MSG("weights");
    coco_options_free(o);
}

int main(void) {
    tu_install_handler();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logistic_decisions),
        cmocka_unit_test(test_width_mismatch),
        cmocka_unit_test(test_mlp_standardised),
        cmocka_unit_test(test_bad_files_and_options),
    };
    return cmocka_run_group_tests_name("eot_learned", tests, setup, teardown);
}

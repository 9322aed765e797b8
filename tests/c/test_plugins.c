/* test_plugins.c — plugin host (core/pluginhost.c) and the built-in plugins.
 *
 *  - Options: defaults, set/finish, canonical text, every rejection message
 *    (unknown option lists the valid ones, bad int/number/bool values, missing
 *    required option, invalid specs), and getter misuse through coco_fail.
 *  - Loader, with the test plugins of tests/plugins (built to
 *    <build>/tests/plugins): a good probe loads and works through its vtable;
 *    an ABI-999 plugin is refused without running its init (its init would
 *    create a marker file); a failing init returns its message and leaves the
 *    object unmapped (dlopen RTLD_NOLOAD); each descriptor defect is refused;
 *    a plain .so is "not a coconut plugin".
 *  - Search path: COCONUT_PLUGIN_PATH / COCONUT_HOME / the executable's
 *    directory, find (kinds, extensions, shadowing, messages) and scan.
 *  - Built-ins: curriculum/coconut against hand-computed official values
 *    (dataset.py get_cot_latent_dataset / get_question_latent_dataset),
 *    cot, nocot, eot/fixed, dataset/prosqa on a tiny generated directory,
 *    probe/template on a hand-made event, and the three templates.
 *  - Out of tree: `make install PREFIX=<tmp>` (and a DESTDIR install), then
 *    plugins/probe/template.c compiled with exactly
 *    cc -shared -fPIC $(pkg-config --cflags coconut) and loaded.
 * Tests run from the project root; temp files go to /tmp and are removed.
 */
#include "testutil.h"

#include <dirent.h>
#include <dlfcn.h>
#include <jansson.h>
#include <limits.h>
#include <unistd.h>

#include "coconut/pluginhost.h"
#include "testplugins.h"

#ifndef COCO_BUILD_DIR
#define COCO_BUILD_DIR "build"
#endif

static char g_tmp[256];

static void rm_rf(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        remove(dir);
        return;
    }
    struct dirent *de;
    char p[2048];
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rm_rf(p);
        else remove(p);
    }
    closedir(d);
    rmdir(dir);
}

static void touch(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static int setup(void **s) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/coconut_test_plugins.%ld", (long)getpid());
    rm_rf(g_tmp);
    return mkdir(g_tmp, 0777);
}

static int teardown(void **s) {
    rm_rf(g_tmp);
    return 0;
}

static const char *tplugin(const char *name) { /* test plugin path */
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/tests/plugins/%s.so", COCO_BUILD_DIR, name);
    return p[k];
}

static const char *bplugin(const char *kind, const char *name) { /* built-in plugin path */
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/plugins/%s/%s.so", COCO_BUILD_DIR, kind, name);
    return p[k];
}

static coco_loaded_plugin *load_ok(const char *path) {
    coco_loaded_plugin *p = coco_plugin_load(path);
    if (!p) fail_msg("loading %s: %s", path, coco_errmsg());
    return p;
}

static int is_mapped(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (h) dlclose(h);
    return h != NULL;
}

#define ASSERT_MSG(substr) \
    do { \
        if (!strstr(coco_errmsg(), substr)) fail_msg("message '%s' lacks '%s'", coco_errmsg(), substr); \
    } while (0)

/* ============================================================ options */

static const coco_option_spec spec_all[] = {
    {"steps", COCO_OPT_INT, "6", "an int"},
    {"lr", COCO_OPT_NUM, "1e-4", "a number"},
    {"pad", COCO_OPT_BOOL, "false", "a bool"},
    {"dir", COCO_OPT_STR, "datasets/prosqa", "a string"},
    {"tag", COCO_OPT_STR, NULL, "required"},
    {NULL, 0, NULL, NULL},
};

static void test_options_basic(void **s) {
    coco_options *o = coco_options_new(spec_all, "probe 'x'");
    assert_non_null(o);
    assert_int_equal(coco_options_count(o), 5);
    assert_string_equal(coco_options_owner(o), "probe 'x'");
    assert_string_equal(coco_options_name(o, 1), "lr");
    assert_int_equal(coco_options_type(o, 2), COCO_OPT_BOOL);
    assert_string_equal(coco_options_doc(o, 3), "a string");
    assert_null(coco_options_default(o, 4));
    /* Defaults, as values and as canonical text. */
    assert_int_equal(coco_opt_int(o, "steps"), 6);
    assert_true(coco_opt_num(o, "lr") == 1e-4);
    assert_int_equal(coco_opt_bool(o, "pad"), 0);
    assert_string_equal(coco_opt_str(o, "dir"), "datasets/prosqa");
    assert_string_equal(coco_options_text(o, 0), "6");
    assert_string_equal(coco_options_text(o, 1), "0.0001");
    assert_string_equal(coco_options_text(o, 2), "false");
    assert_null(coco_options_text(o, 4));
    assert_int_equal(coco_options_is_set(o, 0), 0);
    /* The required option is reported by finish until set. */
    assert_int_equal(coco_options_finish(o), -1);
    ASSERT_MSG("probe 'x': required option 'tag'");
    assert_int_equal(coco_options_set(o, "tag", "hello"), 0);
    assert_int_equal(coco_options_finish(o), 0);
    assert_string_equal(coco_opt_str(o, "tag"), "hello");
    /* Values of every type; last set wins; canonical text. */
    assert_int_equal(coco_options_set(o, "steps", "-3"), 0);
    assert_int_equal(coco_options_set(o, "steps", "+12"), 0);
    assert_int_equal(coco_opt_int(o, "steps"), 12);
    assert_string_equal(coco_options_text(o, 0), "12");
    assert_int_equal(coco_options_is_set(o, 0), 1);
    assert_true(coco_opt_num(o, "steps") == 12.0); /* an int is a number */
    assert_int_equal(coco_options_set(o, "lr", "3"), 0);
    assert_true(coco_opt_num(o, "lr") == 3.0);
    assert_int_equal(coco_options_set(o, "lr", "2.5e-3"), 0);
    assert_string_equal(coco_options_text(o, 1), "0.0025");
    static const char *yes[] = {"true", "TRUE", "1", "yes", "Yes"}, *no[] = {"false", "False", "0", "no", "NO"};
    for (int k = 0; k < 5; k++) {
        assert_int_equal(coco_options_set(o, "pad", yes[k]), 0);
        assert_int_equal(coco_opt_bool(o, "pad"), 1);
        assert_string_equal(coco_options_text(o, 2), "true");
        assert_int_equal(coco_options_set(o, "pad", no[k]), 0);
        assert_int_equal(coco_opt_bool(o, "pad"), 0);
    }
    assert_int_equal(coco_options_set(o, "dir", ""), 0);
    assert_string_equal(coco_opt_str(o, "dir"), "");
    coco_options_free(o);
    /* No options at all. */
    o = coco_options_new(NULL, "eot 'none'");
    assert_int_equal(coco_options_count(o), 0);
    assert_int_equal(coco_options_finish(o), 0);
    assert_int_equal(coco_options_set(o, "k", "1"), -1);
    ASSERT_MSG("eot 'none': unknown option 'k'; this plugin takes no options");
    coco_options_free(o);
}

static void test_options_errors(void **s) {
    coco_options *o = coco_options_new(spec_all, "probe 'x'");
    assert_int_equal(coco_options_set(o, "foo", "1"), -1);
    ASSERT_MSG("probe 'x': unknown option 'foo'; valid options: steps, lr, pad, dir, tag");
    static const char *bad_int[] = {"abc", "1.5", "", " 3", "3 ", "0x10", "1e3", "99999999999999999999", "--1"};
    for (size_t k = 0; k < sizeof bad_int / sizeof *bad_int; k++) {
        assert_int_equal(coco_options_set(o, "steps", bad_int[k]), -1);
        char want[128];
        snprintf(want, sizeof want, "probe 'x': option 'steps' = '%s' is not an int", bad_int[k]);
        ASSERT_MSG(want);
    }
    assert_int_equal(coco_opt_int(o, "steps"), 6); /* unchanged by the failed sets */
    static const char *bad_num[] = {"x", "", "nan", "inf", "-Infinity", "1e999", "0x1p3", "1.5.2", "1,5", " 2"};
    for (size_t k = 0; k < sizeof bad_num / sizeof *bad_num; k++) {
        assert_int_equal(coco_options_set(o, "lr", bad_num[k]), -1);
        char want[128];
        snprintf(want, sizeof want, "option 'lr' = '%s' is not a number", bad_num[k]);
        ASSERT_MSG(want);
    }
    static const char *bad_bool[] = {"maybe", "", "2", "on", "t"};
    for (size_t k = 0; k < sizeof bad_bool / sizeof *bad_bool; k++) {
        assert_int_equal(coco_options_set(o, "pad", bad_bool[k]), -1);
        ASSERT_MSG("is not a bool (true|false|1|0|yes|no)");
    }
    coco_options_free(o);

    /* Invalid specs: NULL + a message naming the owner and the option. */
    coco_option_spec bad[3];
    memcpy(bad, spec_all, sizeof(coco_option_spec) * 2);
    bad[2] = (coco_option_spec){NULL, 0, NULL, NULL};
    bad[1].name = "steps";
    assert_null(coco_options_new(bad, "curriculum 'c'"));
    ASSERT_MSG("curriculum 'c': option 'steps' is declared twice");
    bad[1] = spec_all[1];
    bad[1].type = (coco_opt_type)7;
    assert_null(coco_options_new(bad, "curriculum 'c'"));
    ASSERT_MSG("option 'lr' has an unknown type 7");
    bad[1] = spec_all[1];
    bad[1].def = "fast";
    assert_null(coco_options_new(bad, "curriculum 'c'"));
    ASSERT_MSG("the default 'fast' of option 'lr' is not a number");
    bad[1] = spec_all[1];
    bad[1].name = "two words";
    assert_null(coco_options_new(bad, "curriculum 'c'"));
    ASSERT_MSG("invalid name 'two words'");
    bad[1].name = "";
    assert_null(coco_options_new(bad, "curriculum 'c'"));
    ASSERT_MSG("invalid name ''");
    /* The spec is copied: the caller may free it. */
    coco_option_spec *heap = malloc(sizeof spec_all);
    memcpy(heap, spec_all, sizeof spec_all);
    char *nm = strdup("steps");
    heap[0].name = nm;
    o = coco_options_new(heap, "x");
    free(nm);
    free(heap);
    assert_int_equal(coco_options_set(o, "steps", "4"), 0);
    assert_string_equal(coco_options_name(o, 0), "steps");
    coco_options_free(o);
}

static void test_options_misuse(void **s) {
    coco_options *o = coco_options_new(spec_all, "probe 'x'");
    EXPECT_FAIL(coco_opt_int(o, "nope"), "probe 'x': opt_int reads option 'nope', which its option list does not declare");
    EXPECT_FAIL(coco_opt_int(o, "lr"), "opt_int reads option 'lr', which is declared as number");
    EXPECT_FAIL(coco_opt_str(o, "pad"), "declared as bool");
    EXPECT_FAIL(coco_opt_str(o, "tag"), "required option 'tag' read before it was set");
    EXPECT_FAIL(coco_options_name(o, 5), "out of range");
    coco_set_error_handler(NULL, NULL);
    coco_options_free(o);
}

static void test_kinds_and_host(void **s) {
    assert_string_equal(coco_plugin_kind_name(COCO_KIND_DATASET), "dataset");
    assert_string_equal(coco_plugin_kind_name(COCO_KIND_CURRICULUM), "curriculum");
    assert_string_equal(coco_plugin_kind_name(COCO_KIND_EOT), "eot");
    assert_string_equal(coco_plugin_kind_name(COCO_KIND_PROBE), "probe");
    assert_string_equal(coco_plugin_kind_name((coco_plugin_kind)9), "?");
    assert_int_equal(coco_plugin_kind_parse("probe"), COCO_KIND_PROBE);
    assert_int_equal(coco_plugin_kind_parse("eot"), COCO_KIND_EOT);
    assert_int_equal(coco_plugin_kind_parse("Probe"), -1);
    assert_int_equal(coco_plugin_kind_parse(NULL), -1);
    const coco_host *h = coco_host_get();
    assert_int_equal(h->abi_version, COCO_PLUGIN_ABI_VERSION);
    assert_int_equal(h->struct_size, sizeof(coco_host));
    assert_string_equal(h->coconut_version, COCONUT_VERSION_STRING);
    assert_int_equal(h->seterr("via host %d", 7), -1);
    assert_string_equal(coco_errmsg(), "via host 7");
    assert_true(h->opt_int == coco_opt_int && h->opt_str == coco_opt_str);
    assert_int_equal(coco_opt_type_parse("int"), COCO_OPT_INT);
    assert_int_equal(coco_opt_type_parse("number"), COCO_OPT_NUM);
    assert_int_equal(coco_opt_type_parse("bool"), COCO_OPT_BOOL);
    assert_int_equal(coco_opt_type_parse("string"), COCO_OPT_STR);
    assert_int_equal(coco_opt_type_parse("float"), -1);
    assert_int_equal(coco_opt_type_parse(NULL), -1);
}

/* ============================================================ loader */

typedef struct rows {
    int n, width;
    char cell[16][16][128];
} rows;

static int capture_row(void *ud, const char *const *values) {
    rows *r = ud;
    if (r->n >= 16) return coco_seterr("too many rows");
    for (int k = 0; k < r->width; k++) snprintf(r->cell[r->n][k], 128, "%s", values[k]);
    r->n++;
    return 0;
}

static int ncols(const char *const *c) {
    int n = 0;
    while (c[n]) n++;
    return n;
}

static void test_load_good(void **s) {
    const char *path = tplugin("good_probe");
    coco_loaded_plugin *p = load_ok(path);
    assert_string_equal(p->path, path);
    assert_int_equal(p->desc.kind, COCO_KIND_PROBE);
    assert_string_equal(p->desc.name, "good_probe");
    assert_string_equal(p->desc.doc, "test probe");
    assert_int_equal(p->desc.abi_version, COCO_PLUGIN_ABI_VERSION);
    assert_string_equal(p->desc.options[0].name, "tag");
    assert_null(p->desc.options[0].def);
    const coco_probe_vt *vt = coco_plugin_probe(p);
    assert_true(COCO_VT_HAS(vt, coco_probe_vt, on_example));
    assert_false(COCO_VT_HAS(vt, coco_probe_vt, on_end)); /* optional, NULL */
    EXPECT_FAIL(coco_plugin_eot(p), "is a probe plugin, not a eot plugin");
    coco_set_error_handler(NULL, NULL);

    /* Options through the schema: the required tag must be given. */
    coco_options *o = coco_options_new(p->desc.options, "probe 'good_probe'");
    assert_int_equal(coco_options_finish(o), -1);
    ASSERT_MSG("required option 'tag'");
    assert_int_equal(coco_options_set(o, "scale", "2"), 0);
    assert_int_equal(coco_options_set(o, "tag", "t1"), 0);
    assert_int_equal(coco_options_set(o, "limit", "1"), 0);
    assert_int_equal(coco_options_finish(o), 0);

    int *live = dlsym(p->handle, "good_probe_live");
    assert_non_null(live);
    void *self = NULL;
    assert_int_equal(vt->create(o, &self), 0);
    assert_int_equal(*live, 1);
    assert_int_equal(vt->wants(self), COCO_PROBE_THOUGHTS);
    const char *const *cols = vt->columns(self);
    assert_int_equal(ncols(cols), 6);
    assert_string_equal(cols[2], "sum");

    float thoughts[6] = {1, 2, 3, 4, 5, 6.5f};
    const char *text[2] = {"Tom", " is"};
    int32_t toks[2] = {5, 6};
    const char *steps[2] = {"Tom is a cat.", "Every cat is a mammal."};
    coco_probe_event ev = {.split = "valid", .epoch = 1, .stage = 2, .index = 0, .correct = 1, .n_thoughts = 2, .d = 3,
                           .thoughts = thoughts, .n_tokens = 2, .vocab = 10, .tokens = toks, .token_text = text,
                           .n_steps = 2, .steps = steps};
    rows r = {.width = 6};
    coco_probe_emit emit = {&r, capture_row};
    assert_int_equal(vt->on_example(self, &ev, &emit), 0);
    ev.index = 1;
    ev.n_thoughts = 0, ev.thoughts = NULL;
    ev.n_steps = 0, ev.steps = NULL;
    assert_int_equal(vt->on_example(self, &ev, &emit), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.cell[0][0], "0");
    assert_string_equal(r.cell[0][1], "t1");
    assert_string_equal(r.cell[0][2], "43"); /* 21.5 * 2 */
    assert_string_equal(r.cell[0][3], "Tom");
    assert_string_equal(r.cell[0][4], "2");
    assert_string_equal(r.cell[0][5], "2:Tom is a cat."); /* the appended event fields reach the plugin */
    assert_string_equal(r.cell[1][2], "0");
    assert_string_equal(r.cell[1][5], "0:");
    /* An expected failure inside a callback comes back as -1 + message. */
    ev.index = 2;
    assert_int_equal(vt->on_example(self, &ev, &emit), -1);
    ASSERT_MSG("good_probe: index 2 > limit 1");
    vt->destroy(self);
    assert_int_equal(*live, 0);
    coco_options_free(o);
    coco_plugin_unload(p);
    assert_false(is_mapped(path));
    coco_plugin_unload(NULL);
}

static void test_load_wrong_abi(void **s) {
    char marker[512];
    snprintf(marker, sizeof marker, "%s/abi999_init_ran", g_tmp);
    setenv("COCO_TEST_MARKER", marker, 1);
    const char *path = tplugin("abi999");
    assert_null(coco_plugin_load(path));
    ASSERT_MSG(path);
    ASSERT_MSG("plugin built for ABI 999, this coconut has ABI 1");
    assert_false(tu_file_exists(marker)); /* init never ran */
    assert_false(is_mapped(path));
    /* The test is meaningful: calling that init by hand does create the marker. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    coco_plugin_init_fn init;
    *(void **)&init = dlsym(h, "coco_plugin_init");
    coco_plugin d = {0};
    init(&d, coco_host_get());
    dlclose(h);
    assert_true(tu_file_exists(marker));
    remove(marker);
    unsetenv("COCO_TEST_MARKER");
}

static void test_load_init_fails(void **s) {
    const char *path = tplugin("init_fails");
    assert_null(coco_plugin_load(path));
    ASSERT_MSG(path);
    ASSERT_MSG("init_fails: the frobnicator is missing (42)");
    assert_false(is_mapped(path));
}

static void test_load_bad_descriptor(void **s) {
    static const struct {
        const char *defect, *msg;
    } cases[] = {
        {"kind", "unknown kind 7"},
        {"name", "name 'other_name' differs from the file's base name 'bad_desc'"},
        {"emptyname", "empty name"},
        {"vtable", "eot 'bad_desc' has no vtable"},
        {"size", "vtable struct_size 8 is smaller than coco_eot_vt of ABI 1"},
        {"callback", "eot 'bad_desc' has no decide callback"},
        {"optdup", "option 'alpha' is declared twice"},
        {"opttype", "option 'beta' has an unknown type 9"},
        {"optdefault", "the default '1.5' of option 'alpha' is not an int"},
        {"optname", "invalid name 'has space'"},
    };
    const char *path = tplugin("bad_desc");
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        setenv("COCO_TEST_BAD", cases[k].defect, 1);
        if (coco_plugin_load(path)) fail_msg("defect '%s' was accepted", cases[k].defect);
        ASSERT_MSG(path);
        ASSERT_MSG("invalid plugin descriptor");
        ASSERT_MSG(cases[k].msg);
        assert_false(is_mapped(path));
    }
    unsetenv("COCO_TEST_BAD"); /* without a defect it is a valid eot plugin */
    coco_loaded_plugin *p = load_ok(path);
    assert_int_equal(p->desc.kind, COCO_KIND_EOT);
    coco_plugin_unload(p);
}

static void test_load_not_plugin(void **s) {
    const char *path = tplugin("not_a_plugin");
    assert_null(coco_plugin_load(path));
    ASSERT_MSG("not a coconut plugin");
    ASSERT_MSG(path);
    assert_false(is_mapped(path));
    /* Declares the ABI but exports no init. */
    path = tplugin("no_init");
    assert_null(coco_plugin_load(path));
    ASSERT_MSG("exports no coco_plugin_init");
    assert_false(is_mapped(path));
    /* Missing file: dlerror's text. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nothing_here.so", g_tmp);
    assert_null(coco_plugin_load(missing));
    ASSERT_MSG("nothing_here.so: cannot load plugin");
    ASSERT_MSG("No such file");
    /* A file that is not a shared object at all. */
    char junk[512];
    snprintf(junk, sizeof junk, "%s/junk.so", g_tmp);
    FILE *f = fopen(junk, "w");
    fputs("not an ELF file\n", f);
    fclose(f);
    assert_null(coco_plugin_load(junk));
    ASSERT_MSG("junk.so: cannot load plugin");
    remove(junk);
}

/* ============================================================ search path */

typedef struct scan_hits {
    int n;
    char kind[32][16], name[32][64], path[32][512];
} scan_hits;

static void scan_cb(void *ud, const char *kind, const char *name, const char *path) {
    scan_hits *h = ud;
    if (h->n >= 32) return;
    snprintf(h->kind[h->n], 16, "%s", kind ? kind : "-");
    snprintf(h->name[h->n], 64, "%s", name);
    snprintf(h->path[h->n], 512, "%s", path);
    h->n++;
}

static int hit(const scan_hits *h, const char *kind, const char *name, const char *path_suffix) {
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->kind[i], kind) && !strcmp(h->name[i], name)) {
            size_t a = strlen(h->path[i]), b = strlen(path_suffix);
            return a >= b && !strcmp(h->path[i] + a - b, path_suffix) ? 1 : -1;
        }
    return 0;
}

static void test_find_and_scan(void **s) {
    char d1[512], d2[512], p[1024], env[1100], home[600];
    snprintf(d1, sizeof d1, "%s/pp1", g_tmp);
    snprintf(d2, sizeof d2, "%s/pp2", g_tmp);
    snprintf(home, sizeof home, "%s/emptyhome", g_tmp);
    mkdir(d1, 0777), mkdir(d2, 0777), mkdir(home, 0777);
    const char *files[] = {"pp1/probe/foo.so", "pp1/probe/foo.lua", "pp1/probe/bar.lua", "pp1/dataset/foo.lua",
                           "pp1/baz.lua",      "pp1/probe/notes.txt", "pp2/probe/foo.so", "pp2/probe/qux.so",
                           "pp2/curriculum/cur.so", "pp2/eot/e.lua"};
    for (size_t k = 0; k < sizeof files / sizeof *files; k++) {
        char dir[1024];
        snprintf(p, sizeof p, "%s/%s", g_tmp, files[k]);
        snprintf(dir, sizeof dir, "%s", p);
        *strrchr(dir, '/') = 0;
        mkdir(dir, 0777);
        touch(p);
    }
    snprintf(env, sizeof env, "%s::%s/", d1, d2); /* empty entry and trailing '/' are tolerated */
    setenv("COCONUT_PLUGIN_PATH", env, 1);
    setenv("COCONUT_HOME", home, 1); /* no built-in directories exist there */

    char **dirs;
    int nd = coco_plugin_dirs(&dirs);
    assert_int_equal(nd, 2);
    assert_string_equal(dirs[0], d1);
    assert_string_equal(dirs[1], d2);
    coco_plugin_dirs_free(dirs, nd);

    char want[PATH_MAX + 64];
    char *f = coco_plugin_find("probe", "foo");
    snprintf(want, sizeof want, "%s/probe/foo.so", d1); /* .so before .lua, pp1 before pp2 */
    assert_string_equal(f, want);
    free(f);
    f = coco_plugin_find("probe", "foo.lua"); /* explicit extension picks the Lua twin */
    snprintf(want, sizeof want, "%s/probe/foo.lua", d1);
    assert_string_equal(f, want);
    free(f);
    f = coco_plugin_find("probe", "bar");
    snprintf(want, sizeof want, "%s/probe/bar.lua", d1);
    assert_string_equal(f, want);
    free(f);
    f = coco_plugin_find("probe", "qux");
    snprintf(want, sizeof want, "%s/probe/qux.so", d2);
    assert_string_equal(f, want);
    free(f);
    f = coco_plugin_find("dataset", "foo");
    snprintf(want, sizeof want, "%s/dataset/foo.lua", d1);
    assert_string_equal(f, want);
    free(f);
    f = coco_plugin_find("eot", "baz"); /* a loose file serves any kind */
    snprintf(want, sizeof want, "%s/baz.lua", d1);
    assert_string_equal(f, want);
    free(f);
    f = coco_plugin_find(NULL, "cur"); /* kind NULL: every kind subdirectory */
    snprintf(want, sizeof want, "%s/curriculum/cur.so", d2);
    assert_string_equal(f, want);
    free(f);
    snprintf(p, sizeof p, "%s/probe/qux.so", d2); /* a path is returned as is */
    f = coco_plugin_find("probe", p);
    assert_string_equal(f, p);
    free(f);

    assert_null(coco_plugin_find("probe", "missing"));
    ASSERT_MSG("no probe plugin 'missing'");
    ASSERT_MSG(d1);
    ASSERT_MSG(d2);
    assert_null(coco_plugin_find("curriculum", "foo")); /* kinds do not mix */
    assert_null(coco_plugin_find("probe", "/no/such/dir/x.so"));
    ASSERT_MSG("/no/such/dir/x.so': no such file");
    assert_null(coco_plugin_find("widget", "foo"));
    ASSERT_MSG("unknown plugin kind 'widget'");

    scan_hits h = {0};
    int n = coco_plugin_scan(scan_cb, &h);
    assert_int_equal(n, h.n);
    assert_int_equal(n, 7); /* probe/foo (pp1's .so), bar, dataset/foo, baz, qux, cur, e */
    assert_int_equal(hit(&h, "probe", "foo", "pp1/probe/foo.so"), 1);
    assert_int_equal(hit(&h, "probe", "bar", "pp1/probe/bar.lua"), 1);
    assert_int_equal(hit(&h, "dataset", "foo", "pp1/dataset/foo.lua"), 1);
    assert_int_equal(hit(&h, "-", "baz", "pp1/baz.lua"), 1);
    assert_int_equal(hit(&h, "probe", "qux", "pp2/probe/qux.so"), 1);
    assert_int_equal(hit(&h, "curriculum", "cur", "pp2/curriculum/cur.so"), 1);
    assert_int_equal(hit(&h, "eot", "e", "pp2/eot/e.lua"), 1);
    assert_int_equal(hit(&h, "probe", "notes", ""), 0);

    /* COCONUT_HOME = the project root: its build/plugins and plugins. */
    char cwd[PATH_MAX], real[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    unsetenv("COCONUT_PLUGIN_PATH");
    setenv("COCONUT_HOME", cwd, 1);
    nd = coco_plugin_dirs(&dirs);
    snprintf(want, sizeof want, "%s/plugins", cwd);
    int found = 0;
    for (int i = 0; i < nd; i++) found |= !strcmp(dirs[i], want);
    assert_true(found);
    coco_plugin_dirs_free(dirs, nd);
    f = coco_plugin_find("probe", "template.lua");
    snprintf(want, sizeof want, "%s/plugins/probe/template.lua", cwd);
    assert_string_equal(f, want);
    free(f);

    /* No variables: relative to the executable (<build>/tests/test_plugins), so
     * <exe_dir>/../plugins is this build's plugin directory. */
    unsetenv("COCONUT_HOME");
    assert_non_null(realpath(COCO_BUILD_DIR "/plugins", real));
    nd = coco_plugin_dirs(&dirs);
    found = 0;
    for (int i = 0; i < nd; i++) found |= !strcmp(dirs[i], real);
    assert_true(found);
    coco_plugin_dirs_free(dirs, nd);
    f = coco_plugin_find("curriculum", "coconut");
    snprintf(want, sizeof want, "%s/curriculum/coconut.so", real);
    assert_string_equal(f, want);
    free(f);
}

/* ============================================================ built-ins */

typedef struct cur_inst {
    coco_loaded_plugin *p;
    const coco_curriculum_vt *vt;
    coco_options *o;
    void *self;
} cur_inst;

static cur_inst cur_new(coco_loaded_plugin *p, const char *const *kv) {
    cur_inst c = {p, coco_plugin_curriculum(p), tu_plugin_options(p, kv), NULL};
    if (c.vt->create(c.o, &c.self) != 0) fail_msg("%s", coco_errmsg());
    return c;
}

static void cur_free(cur_inst *c) {
    c->vt->destroy(c->self);
    coco_options_free(c->o);
}

/* Checks one plan; drop_all means "drop_steps >= n_steps". */
static void expect_plan(const coco_plan *pl, int drop, int drop_all, int n_steps, int n_latent, int markers,
                        const char *what) {
    if (drop_all ? pl->drop_steps < n_steps : pl->drop_steps != drop)
        fail_msg("%s: drop_steps %d, want %s%d", what, pl->drop_steps, drop_all ? ">= " : "", drop_all ? n_steps : drop);
    if (pl->n_latent != n_latent) fail_msg("%s: n_latent %d, want %d", what, pl->n_latent, n_latent);
    if (pl->markers != markers) fail_msg("%s: markers %d, want %d", what, pl->markers, markers);
    if (pl->n_pause != 0) fail_msg("%s: n_pause %d, want 0", what, pl->n_pause);
}

static void train(cur_inst *c, int stage, int n, coco_rng *rng, int drop, int drop_all, int lat, int markers) {
    coco_plan pl = {-1, -1, -1, -1};
    if (c->vt->train_plan(c->self, stage, n, rng, &pl) != 0) fail_msg("%s", coco_errmsg());
    char what[64];
    snprintf(what, sizeof what, "train stage %d n_steps %d", stage, n);
    expect_plan(&pl, drop, drop_all, n, lat, markers, what);
}

static int eval_k(cur_inst *c, int stage, int n) {
    coco_plan pl = {-1, -1, -1, -1};
    if (c->vt->eval_plan(c->self, stage, n, &pl) != 0) fail_msg("%s", coco_errmsg());
    assert_int_equal(pl.markers, 1);
    assert_int_equal(pl.n_pause, 0);
    return pl.n_latent;
}

/* Expected values computed by hand from dataset.py: train at stage s with n steps:
 * s > max: skip all, n_latent = max if pad else min(n, max); else skip s, n_latent s;
 * times c. Eval: min(max if pad else min(max, n), s) * c. */
static void test_curriculum_coconut(void **s) {
    coco_loaded_plugin *p = load_ok(bplugin("curriculum", "coconut"));
    assert_string_equal(p->desc.name, "coconut");
    assert_int_equal(p->desc.kind, COCO_KIND_CURRICULUM);

    /* Defaults: c 1, max 6, 5 epochs per stage, 50 epochs, pad false. */
    cur_inst c = cur_new(p, NULL);
    assert_int_equal(c.vt->num_stages(c.self), 8);
    for (int st = 0; st <= 6; st++) assert_int_equal(c.vt->stage_epochs(c.self, st), 5);
    assert_int_equal(c.vt->stage_epochs(c.self, 7), 15); /* official epochs 35..49 (stages 7, 8, 9) */
    assert_int_equal(c.vt->reset_optimizer(c.self, 0), 0);
    assert_int_equal(c.vt->reset_optimizer(c.self, 1), 1);
    train(&c, 0, 4, NULL, 0, 0, 0, 1);
    train(&c, 2, 4, NULL, 2, 0, 2, 1);
    train(&c, 4, 4, NULL, 4, 1, 4, 1);
    train(&c, 5, 3, NULL, 0, 1, 5, 1); /* not capped by n_steps: 5 thoughts for a 3-step chain */
    train(&c, 6, 6, NULL, 0, 1, 6, 1);
    train(&c, 7, 3, NULL, 0, 1, 3, 1); /* all dropped, min(3, 6) */
    train(&c, 7, 8, NULL, 0, 1, 6, 1); /* all dropped, min(8, 6) */
    assert_int_equal(eval_k(&c, 0, 4), 0);
    assert_int_equal(eval_k(&c, 2, 4), 2);
    assert_int_equal(eval_k(&c, 5, 3), 3); /* min(min(6, 3), 5) */
    assert_int_equal(eval_k(&c, 6, 8), 6);
    assert_int_equal(eval_k(&c, 7, 8), 6);
    assert_int_equal(eval_k(&c, 7, 2), 2);
    coco_plan pl;
    assert_int_equal(c.vt->train_plan(c.self, 8, 3, NULL, &pl), -1);
    ASSERT_MSG("stage 8 is outside 0..7");
    assert_int_equal(c.vt->eval_plan(c.self, -1, 3, &pl), -1);
    cur_free(&c);

    /* pad_latent_to_max (the released ProsQA config). */
    c = cur_new(p, (const char *[]){"pad_latent_to_max=true", NULL});
    train(&c, 3, 5, NULL, 3, 0, 3, 1);
    train(&c, 5, 3, NULL, 0, 1, 5, 1);
    train(&c, 7, 3, NULL, 0, 1, 6, 1); /* padded to max */
    assert_int_equal(eval_k(&c, 5, 3), 5); /* min(6, 5) */
    assert_int_equal(eval_k(&c, 7, 3), 6);
    assert_int_equal(eval_k(&c, 2, 3), 2);
    assert_int_equal(c.vt->reset_optimizer(c.self, 3), 1);
    cur_free(&c);

    /* c_thought = 2, GSM8k-like schedule: max 3, 3 epochs per stage, 25 epochs. */
    c = cur_new(p, (const char *[]){"c_thought=2", "max_latent_stage=3", "epochs_per_stage=3", "epochs=25",
                                     "reset_optimizer=false", NULL});
    assert_int_equal(c.vt->num_stages(c.self), 5);
    for (int st = 0; st <= 3; st++) assert_int_equal(c.vt->stage_epochs(c.self, st), 3);
    assert_int_equal(c.vt->stage_epochs(c.self, 4), 13);
    assert_int_equal(c.vt->reset_optimizer(c.self, 2), 0);
    train(&c, 2, 4, NULL, 2, 0, 4, 1);
    train(&c, 3, 2, NULL, 0, 1, 6, 1);
    train(&c, 4, 2, NULL, 0, 1, 4, 1); /* min(2, 3) * 2 */
    train(&c, 4, 5, NULL, 0, 1, 6, 1); /* min(5, 3) * 2 */
    assert_int_equal(eval_k(&c, 3, 4), 6);
    assert_int_equal(eval_k(&c, 3, 1), 2);
    assert_int_equal(eval_k(&c, 4, 9), 6);
    cur_free(&c);

    /* Too few epochs: the schedule stops early. */
    c = cur_new(p, (const char *[]){"epochs=7", NULL});
    assert_int_equal(c.vt->stage_epochs(c.self, 0), 5);
    assert_int_equal(c.vt->stage_epochs(c.self, 1), 2);
    for (int st = 2; st <= 7; st++) assert_int_equal(c.vt->stage_epochs(c.self, st), 0);
    cur_free(&c);

    /* uniform_prob = 1: every example trains at a stage drawn from 0..n_steps.
     * Replay the same rng stream: uniform() < 1 always holds, then below(n+1). */
    c = cur_new(p, (const char *[]){"uniform_prob=1", "max_latent_stage=2", NULL});
    coco_rng r, ref;
    coco_rng_seed(&r, 1234);
    coco_rng_seed(&ref, 1234);
    int seen[7] = {0};
    for (int i = 0; i < 200; i++) {
        int n = 1 + i % 5;
        (void)coco_rng_uniform(&ref);
        int st = (int)coco_rng_below(&ref, (uint64_t)n + 1);
        seen[st]++;
        if (st > 2) train(&c, 0, n, &r, 0, 1, n < 2 ? n : 2, 1);
        else train(&c, 0, n, &r, st, 0, st, 1);
    }
    for (int st = 0; st <= 5; st++) assert_true(seen[st] > 0);
    assert_int_equal(c.vt->train_plan(c.self, 0, 3, NULL, &pl), -1);
    ASSERT_MSG("uniform_prob > 0 needs an rng");
    cur_free(&c);
    /* uniform_prob = 0.5: about half the examples keep the scheduled stage. */
    c = cur_new(p, (const char *[]){"uniform_prob=0.5", NULL});
    coco_rng_seed(&r, 99);
    coco_rng_seed(&ref, 99);
    for (int i = 0; i < 100; i++) {
        int st = 3;
        if (coco_rng_uniform(&ref) < 0.5) st = (int)coco_rng_below(&ref, 7);
        train(&c, 3, 6, &r, st, 0, st, 1);
    }
    cur_free(&c);

    /* Invalid values are rejected by create. */
    static const char *bad[][2] = {{"c_thought=0", "c_thought = 0"},
                                   {"max_latent_stage=-1", "max_latent_stage = -1"},
                                   {"epochs_per_stage=0", "epochs_per_stage = 0"},
                                   {"uniform_prob=1.5", "uniform_prob = 1.5"}};
    for (int k = 0; k < 4; k++) {
        coco_options *o = tu_plugin_options(p, (const char *[]){bad[k][0], NULL});
        void *self = NULL;
        assert_int_equal(coco_plugin_curriculum(p)->create(o, &self), -1);
        ASSERT_MSG(bad[k][1]);
        coco_options_free(o);
    }
    coco_plugin_unload(p);
}

static void test_curriculum_cot_nocot(void **s) {
    coco_loaded_plugin *cot = load_ok(bplugin("curriculum", "cot"));
    cur_inst c = cur_new(cot, (const char *[]){"epochs=12", NULL});
    assert_int_equal(c.vt->num_stages(c.self), 1);
    assert_int_equal(c.vt->stage_epochs(c.self, 0), 12);
    assert_int_equal(c.vt->reset_optimizer(c.self, 0), 0);
    for (int n = 0; n < 7; n++) {
        train(&c, 0, n, NULL, 0, 0, 0, 0);
        assert_int_equal(c.vt->eval_plan(c.self, 0, n, &(coco_plan){0}), 0);
    }
    coco_plan pl = {9, 9, 9, 9};
    c.vt->eval_plan(c.self, 0, 4, &pl);
    assert_int_equal(pl.n_latent, 0), assert_int_equal(pl.markers, 0), assert_int_equal(pl.n_pause, 0);
    assert_int_equal(c.vt->train_plan(c.self, 1, 3, NULL, &pl), -1);
    ASSERT_MSG("stage 1 does not exist");
    cur_free(&c);
    coco_plugin_unload(cot);

    coco_loaded_plugin *nocot = load_ok(bplugin("curriculum", "nocot"));
    c = cur_new(nocot, NULL);
    assert_int_equal(c.vt->num_stages(c.self), 1);
    assert_int_equal(c.vt->stage_epochs(c.self, 0), 50);
    for (int n = 0; n < 7; n++) train(&c, 0, n, NULL, 0, 1, 0, 0);
    pl = (coco_plan){9, 9, 9, 9};
    c.vt->eval_plan(c.self, 0, 4, &pl);
    assert_int_equal(pl.n_latent, 0), assert_int_equal(pl.markers, 0), assert_int_equal(pl.n_pause, 0);
    cur_free(&c);
    coco_plugin_unload(nocot);
}

static void test_eot_fixed(void **s) {
    coco_loaded_plugin *p = load_ok(bplugin("eot", "fixed"));
    const coco_eot_vt *vt = coco_plugin_eot(p);
    coco_options *o = tu_plugin_options(p, (const char *[]){"k=3", NULL});
    void *self;
    assert_int_equal(vt->create(o, &self), 0);
    assert_int_equal(vt->max_thoughts(self), 3);
    int rows[4] = {0, 1, 5, 7}, nt[4] = {0, 2, 3, 5}, planned[4] = {9, 9, 1, -1};
    float hidden[8] = {0};
    unsigned char stop[4];
    assert_int_equal(vt->decide(self, 4, rows, nt, planned, hidden, 2, stop), 0);
    assert_int_equal(stop[0], 0), assert_int_equal(stop[1], 0), assert_int_equal(stop[2], 1), assert_int_equal(stop[3], 1);
    assert_int_equal(vt->decide(self, 4, rows, nt, NULL, hidden, 2, stop), 0); /* no plan needed */
    vt->destroy(self);
    coco_options_free(o);

    /* k = -1: follow the plan, bounded by max. */
    o = tu_plugin_options(p, NULL);
    assert_int_equal(vt->create(o, &self), 0);
    assert_int_equal(vt->max_thoughts(self), 16);
    int nt2[3] = {2, 0, 1}, pl2[3] = {2, 0, 4};
    assert_int_equal(vt->decide(self, 3, rows, nt2, pl2, hidden, 2, stop), 0);
    assert_int_equal(stop[0], 1), assert_int_equal(stop[1], 1), assert_int_equal(stop[2], 0);
    int pl3[3] = {2, -1, 4};
    assert_int_equal(vt->decide(self, 3, rows, nt2, pl3, hidden, 2, stop), -1);
    ASSERT_MSG("row 1 has no planned count");
    int pl4[3] = {2, 17, 4};
    assert_int_equal(vt->decide(self, 3, rows, nt2, pl4, hidden, 2, stop), -1);
    ASSERT_MSG("row 1 plans 17 thoughts, more than max = 16");
    vt->destroy(self);
    coco_options_free(o);

    o = tu_plugin_options(p, (const char *[]){"max=4", NULL});
    assert_int_equal(vt->create(o, &self), 0);
    assert_int_equal(vt->max_thoughts(self), 4);
    vt->destroy(self);
    coco_options_free(o);
    o = tu_plugin_options(p, (const char *[]){"k=-2", NULL});
    assert_int_equal(vt->create(o, &self), -1);
    ASSERT_MSG("k = -2 is outside");
    coco_options_free(o);
    coco_plugin_unload(p);
}

/* ----------------------------------------------------------- dataset/prosqa */

typedef struct collected {
    int n, stop_after;
    json_t *items; /* array of {question, steps, answer, meta} */
} collected;

static int collect(void *ud, const coco_example *ex) {
    collected *c = ud;
    if (c->stop_after && c->n >= c->stop_after) return coco_seterr("sink: enough");
    json_t *steps = json_array();
    for (int i = 0; i < ex->n_steps; i++) json_array_append_new(steps, json_string(ex->steps[i]));
    json_error_t err;
    json_t *meta = ex->meta_json ? json_loads(ex->meta_json, 0, &err) : json_null();
    if (!meta) return coco_seterr("meta_json does not parse: %s", err.text);
    json_t *raw = json_string(ex->meta_json ? ex->meta_json : "");
    json_array_append_new(c->items, json_pack("{s:s,s:o,s:s,s:o,s:o}", "question", ex->question, "steps", steps,
                                              "answer", ex->answer, "meta", meta, "raw", raw));
    c->n++;
    return 0;
}

static void test_dataset_prosqa(void **s) {
    coco_loaded_plugin *p = load_ok(bplugin("dataset", "prosqa"));
    const coco_dataset_vt *vt = coco_plugin_dataset(p);
    assert_non_null(vt->prepare);
    char dir[600], opt_dir[700], path[800];
    snprintf(dir, sizeof dir, "%s/pq", g_tmp);
    snprintf(opt_dir, sizeof opt_dir, "dir=%s", dir);
    coco_options *o = tu_plugin_options(p, (const char *[]){opt_dir, "n_train=12", "n_valid=4", "n_test=6", "seed=3", NULL});
    void *self;
    assert_int_equal(vt->create(o, &self), 0);

    /* The directory is empty: load generates the three splits. */
    collected c = {0, 0, json_array()};
    coco_example_sink sink = {&c, collect};
    if (vt->load(self, "valid", &sink) != 0) fail_msg("%s", coco_errmsg());
    assert_int_equal(c.n, 4);
    static const char *const names[] = {"train", "valid", "test"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s.json", dir, names[k]);
        assert_true(tu_file_exists(path));
    }
    /* Every example matches the file, with the graph in meta_json. */
    snprintf(path, sizeof path, "%s/valid.json", dir);
    json_error_t err;
    json_t *file = json_load_file(path, 0, &err);
    assert_non_null(file);
    assert_int_equal(json_array_size(file), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *f = json_array_get(file, i), *got = json_array_get(c.items, i), *meta = json_object_get(got, "meta");
        assert_string_equal(json_string_value(json_object_get(got, "question")),
                            json_string_value(json_object_get(f, "question")));
        assert_string_equal(json_string_value(json_object_get(got, "answer")),
                            json_string_value(json_object_get(f, "answer")));
        assert_true(json_equal(json_object_get(got, "steps"), json_object_get(f, "steps")));
        assert_int_equal(json_object_size(meta), 5);
        static const char *const keys[] = {"idx_to_symbol", "edges", "root", "target", "neg_target"};
        for (int k = 0; k < 5; k++) assert_true(json_equal(json_object_get(meta, keys[k]), json_object_get(f, keys[k])));
        /* Compact text, keys in the documented order. */
        const char *raw = json_string_value(json_object_get(got, "raw"));
        assert_true(!strncmp(raw, "{\"idx_to_symbol\":[\"", 19));
        assert_non_null(strstr(raw, "],\"edges\":[["));
        assert_non_null(strstr(raw, "]],\"root\":"));
        assert_non_null(strstr(raw, ",\"target\":"));
        assert_non_null(strstr(raw, ",\"neg_target\":"));
        assert_null(strchr(raw, ' ')); /* names have no spaces: compact separators */
    }
    json_decref(file);
    json_decref(c.items);
    /* The other splits have the generated sizes. */
    c = (collected){0, 0, json_array()};
    assert_int_equal(vt->load(self, "train", &sink), 0);
    assert_int_equal(c.n, 12);
    json_decref(c.items);
    c = (collected){0, 0, json_array()};
    assert_int_equal(vt->load(self, "test", &sink), 0);
    assert_int_equal(c.n, 6);
    json_decref(c.items);
    /* A sink that stops: load returns -1 with the sink's message. */
    c = (collected){0, 2, json_array()};
    assert_int_equal(vt->load(self, "train", &sink), -1);
    assert_int_equal(c.n, 2);
    ASSERT_MSG("sink: enough");
    json_decref(c.items);
    assert_int_equal(vt->load(self, "dev", &sink), -1);
    ASSERT_MSG("unknown split 'dev'");
    /* prepare regenerates. */
    snprintf(path, sizeof path, "%s/test.json", dir);
    remove(path);
    assert_int_equal(vt->prepare(self), 0);
    assert_true(tu_file_exists(path));
    vt->destroy(self);
    coco_options_free(o);

    /* Official names are found when the generator's are absent; generate=false
     * reports both names; explicit files are used as given. */
    char dir2[600], opt_dir2[700], cmd[2048];
    snprintf(dir2, sizeof dir2, "%s/official", g_tmp);
    snprintf(opt_dir2, sizeof opt_dir2, "dir=%s", dir2);
    mkdir(dir2, 0777);
    snprintf(cmd, sizeof cmd, "cp '%s/valid.json' '%s/prosqa_valid.json'", dir, dir2);
    assert_int_equal(system(cmd), 0);
    o = tu_plugin_options(p, (const char *[]){opt_dir2, "generate=false", NULL});
    assert_int_equal(vt->create(o, &self), 0);
    c = (collected){0, 0, json_array()};
    assert_int_equal(vt->load(self, "valid", &sink), 0);
    assert_int_equal(c.n, 4);
    json_decref(c.items);
    assert_int_equal(vt->load(self, "test", &sink), -1);
    ASSERT_MSG("no test split");
    ASSERT_MSG("official/test.json");
    ASSERT_MSG("official/prosqa_test.json");
    snprintf(path, sizeof path, "%s/test.json", dir2);
    assert_false(tu_file_exists(path)); /* nothing generated */
    vt->destroy(self);
    coco_options_free(o);

    char opt_file[800];
    snprintf(opt_file, sizeof opt_file, "test_file=%s/train.json", dir);
    o = tu_plugin_options(p, (const char *[]){opt_dir2, opt_file, NULL});
    assert_int_equal(vt->create(o, &self), 0);
    c = (collected){0, 0, json_array()};
    assert_int_equal(vt->load(self, "test", &sink), 0);
    assert_int_equal(c.n, 12); /* the file we named */
    json_decref(c.items);
    vt->destroy(self);
    coco_options_free(o);
    o = tu_plugin_options(p, (const char *[]){"test_file=/nonexistent/t.json", NULL});
    assert_int_equal(vt->create(o, &self), 0);
    assert_int_equal(vt->load(self, "test", &sink), -1);
    ASSERT_MSG("test_file '/nonexistent/t.json' does not exist");
    vt->destroy(self);
    coco_options_free(o);
    o = tu_plugin_options(p, (const char *[]){"n_valid=-1", NULL});
    assert_int_equal(vt->create(o, &self), -1);
    ASSERT_MSG("option 'n_valid' = -1");
    coco_options_free(o);
    coco_plugin_unload(p);
}

/* ----------------------------------------------------------- probe/template */

static void check_template_probe(coco_loaded_plugin *p) {
    assert_int_equal(p->desc.kind, COCO_KIND_PROBE);
    assert_string_equal(p->desc.name, "template");
    const coco_probe_vt *vt = coco_plugin_probe(p);
    coco_options *o = tu_plugin_options(p, (const char *[]){"precision=4", NULL});
    void *self;
    assert_int_equal(vt->create(o, &self), 0);
    assert_int_equal(vt->wants(self), COCO_PROBE_THOUGHTS | COCO_PROBE_LOGITS);
    const char *const *cols = vt->columns(self);
    int nc = ncols(cols);
    assert_int_equal(nc, 13);
    assert_string_equal(cols[7], "thought_norms");
    /* Thoughts (3,4), (4,3), (0,2): norms 5, 5, 2; cosines 24/25, 6/10.
     * Logits row 0 = (0, ln 3, -inf-ish): top-1 id 1 with p = 3/4. */
    float th[6] = {3, 4, 4, 3, 0, 2};
    float lg[6] = {0, logf(3.0f), -100, 9, 9, 9};
    const char *text[1] = {"Tom"};
    int32_t toks[1] = {1};
    coco_probe_event ev = {.split = "test", .epoch = 3, .stage = 2, .index = 17, .correct = 1, .n_thoughts = 3,
                           .d = 2, .thoughts = th, .n_tokens = 1, .vocab = 3, .tokens = toks, .n_logits = 2,
                           .logits = lg, .token_text = text, .meta_json = "{}"};
    rows r = {.width = nc};
    coco_probe_emit emit = {&r, capture_row};
    assert_int_equal(vt->on_example(self, &ev, &emit), 0);
    const char *want[13] = {"test", "3", "2", "17", "1", "3", "1", "5;5;2", "0.96;0.6", "Tom", "1", "0.75", "1"};
    for (int k = 0; k < 13; k++)
        if (strcmp(r.cell[0][k], want[k])) fail_msg("column %s: '%s', want '%s'", cols[k], r.cell[0][k], want[k]);
    /* A second example without thoughts or logits; then the summary row. */
    coco_probe_event ev2 = {.split = "test", .epoch = 3, .stage = 2, .index = 18, .correct = 0};
    assert_int_equal(vt->on_example(self, &ev2, &emit), 0);
    assert_string_equal(r.cell[1][7], "");
    assert_string_equal(r.cell[1][11], "");
    assert_string_equal(r.cell[1][12], "0");
    assert_non_null(vt->on_end);
    assert_int_equal(vt->on_end(self, "test", 3, 2, &emit), 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.cell[2][3], "mean");
    assert_string_equal(r.cell[2][4], "0.5");
    assert_string_equal(r.cell[2][5], "1.5");
    assert_string_equal(r.cell[2][7], "4");    /* (5+5+2)/3 */
    assert_string_equal(r.cell[2][8], "0.78"); /* (0.96+0.6)/2 */
    assert_string_equal(r.cell[2][11], "0.75");
    vt->destroy(self);
    coco_options_free(o);
    o = tu_plugin_options(p, (const char *[]){"precision=0", NULL});
    assert_int_equal(vt->create(o, &self), -1);
    ASSERT_MSG("precision = 0 is outside 1..17");
    coco_options_free(o);
}

static void test_probe_template(void **s) {
    coco_loaded_plugin *p = load_ok(bplugin("probe", "template"));
    check_template_probe(p);
    coco_plugin_unload(p);
}

/* ----------------------------------------------------------- templates */

static void test_templates(void **s) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/plugins/templates/dataset.so", COCO_BUILD_DIR);
    coco_loaded_plugin *p = load_ok(path);
    const coco_dataset_vt *dv = coco_plugin_dataset(p);
    coco_options *o = tu_plugin_options(p, (const char *[]){"n=5", "terms=4", NULL});
    void *self;
    assert_int_equal(dv->create(o, &self), 0);
    collected c = {0, 0, json_array()};
    coco_example_sink sink = {&c, collect};
    assert_int_equal(dv->load(self, "valid", &sink), 0);
    assert_int_equal(c.n, 5);
    for (int i = 0; i < 5; i++) {
        json_t *it = json_array_get(c.items, (size_t)i), *terms = json_object_get(json_object_get(it, "meta"), "terms");
        assert_int_equal(json_array_size(terms), 4);
        assert_int_equal(json_array_size(json_object_get(it, "steps")), 3);
        int sum = 0;
        for (int k = 0; k < 4; k++) sum += (int)json_integer_value(json_array_get(terms, (size_t)k));
        assert_int_equal(atoi(json_string_value(json_object_get(it, "answer"))), sum);
    }
    json_decref(c.items);
    dv->destroy(self);
    coco_options_free(o);
    coco_plugin_unload(p);

    snprintf(path, sizeof path, "%s/tests/plugins/templates/curriculum.so", COCO_BUILD_DIR);
    p = load_ok(path);
    cur_inst ci = cur_new(p, (const char *[]){"c=2", "pause=1", NULL});
    assert_int_equal(ci.vt->num_stages(ci.self), 4);
    coco_plan pl;
    assert_int_equal(ci.vt->train_plan(ci.self, 3, 2, NULL, &pl), 0);
    assert_int_equal(pl.drop_steps, 2), assert_int_equal(pl.n_latent, 4), assert_int_equal(pl.n_pause, 1);
    cur_free(&ci);
    coco_plugin_unload(p);

    snprintf(path, sizeof path, "%s/tests/plugins/templates/eot.so", COCO_BUILD_DIR);
    p = load_ok(path);
    const coco_eot_vt *ev = coco_plugin_eot(p);
    o = tu_plugin_options(p, (const char *[]){"threshold=1", "min=1", "max=3", NULL});
    assert_int_equal(ev->create(o, &self), 0);
    int rows_[3] = {0, 1, 2}, nt[3] = {0, 1, 3};
    float hidden[6] = {0.1f, 0.1f, 0.1f, 0.1f, 5, 5};
    unsigned char stop[3];
    assert_int_equal(ev->decide(self, 3, rows_, nt, NULL, hidden, 2, stop), 0);
    assert_int_equal(stop[0], 0), assert_int_equal(stop[1], 1), assert_int_equal(stop[2], 1);
    assert_int_equal(ev->max_thoughts(self), 3);
    ev->destroy(self);
    coco_options_free(o);
    coco_plugin_unload(p);
}

/* ============================================================ out of tree */

static int run(const char *cmd, const char *log) {
    int rc = system(cmd);
    if (rc != 0) {
        printf("# command failed (status %d): %s\n", rc, cmd);
        FILE *f = fopen(log, "r");
        char line[512];
        int n = 0;
        while (f && fgets(line, sizeof line, f) && n++ < 40) printf("#   %s", line);
        if (f) fclose(f);
    }
    return rc;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_out_of_tree(void **s) {
    if (!tu_file_exists("Makefile") || !tu_file_exists("plugins/probe/template.c")) {
        printf("# skipped: not run from the project root\n");
        skip();
    }
    char root[600], prefix[700], log[700], cmd[3 * PATH_MAX], p[900], cwd[PATH_MAX];
    snprintf(root, sizeof root, "%s/oot", g_tmp);
    mkdir(root, 0777);
    snprintf(prefix, sizeof prefix, "%s/prefix", root);
    snprintf(log, sizeof log, "%s/log", root);
    assert_non_null(getcwd(cwd, sizeof cwd));
    /* The real install rule (MAKEFLAGS from an enclosing make carries its
     * variables, e.g. the sanitizer build's). Everything is built already, so
     * this only copies files. */
    snprintf(cmd, sizeof cmd, "make -s --no-print-directory -C '%s' install BUILD='%s' PREFIX='%s' >'%s' 2>&1", cwd,
             COCO_BUILD_DIR, prefix, log);
    assert_int_equal(run(cmd, log), 0);
    static const char *const installed[] = {
        "bin/coconut", "lib/libcoconut.a", "lib/libcoconut.so", "include/coconut/plugin.h",
        "include/coconut/pluginhost.h", "include/coconut/base.h", "lib/pkgconfig/coconut.pc",
        "lib/coconut/plugins/curriculum/coconut.so", "lib/coconut/plugins/curriculum/cot.so",
        "lib/coconut/plugins/curriculum/nocot.so", "lib/coconut/plugins/curriculum/icot.so",
        "lib/coconut/plugins/curriculum/pause.so", "lib/coconut/plugins/dataset/prosqa.so",
        "lib/coconut/plugins/eot/fixed.so", "lib/coconut/plugins/probe/template.so",
        "lib/coconut/plugins/probe/template.lua", "lib/coconut/plugins/probe/paths.lua",
        "share/coconut/plugins/README.md",
        "share/coconut/plugins/templates/template.c", "share/coconut/plugins/templates/template.lua",
        "share/coconut/plugins/templates/dataset.c", "share/coconut/plugins/templates/curriculum.c",
        "share/coconut/plugins/templates/eot.c", "share/coconut/scripts"};
    for (size_t k = 0; k < sizeof installed / sizeof *installed; k++) {
        snprintf(p, sizeof p, "%s/%s", prefix, installed[k]);
        if (!tu_file_exists(p)) fail_msg("not installed: %s", p);
    }
    snprintf(p, sizeof p, "%s/lib/coconut/plugins/templates", prefix);
    assert_false(tu_file_exists(p)); /* templates are not built-ins */
    snprintf(p, sizeof p, "%s/lib/pkgconfig/coconut.pc", prefix);
    char *pc = read_all(p);
    assert_non_null(pc);
    char want[800];
    snprintf(want, sizeof want, "prefix=%s\n", prefix);
    assert_non_null(strstr(pc, want));
    assert_non_null(strstr(pc, "Cflags: -I${includedir}"));
    assert_non_null(strstr(pc, "Libs: -L${libdir} -lcoconut"));

    /* pkg-config answers from the installed .pc. */
    char pcout[700];
    snprintf(pcout, sizeof pcout, "%s/cflags", root);
    snprintf(cmd, sizeof cmd,
             "PKG_CONFIG_PATH='%s/lib/pkgconfig'${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} pkg-config --cflags coconut "
             ">'%s' 2>'%s'",
             prefix, pcout, log);
    assert_int_equal(run(cmd, log), 0);
    snprintf(want, sizeof want, "-I%s/include", prefix);
    assert_non_null(strstr(read_all(pcout), want));

    /* Build the probe template out of tree, exactly as documented, from a copy
     * outside the source tree, and load it. */
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/src' && cp plugins/probe/template.c '%s/src/' && cd '%s/src' && "
             "cc -shared -fPIC $(PKG_CONFIG_PATH='%s/lib/pkgconfig'${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} "
             "pkg-config --cflags coconut) template.c -o template.so >'%s' 2>&1",
             root, root, root, prefix, log);
    assert_int_equal(run(cmd, log), 0);
    snprintf(p, sizeof p, "%s/src/template.so", root);
    coco_loaded_plugin *pl = load_ok(p);
    check_template_probe(pl);
    coco_plugin_unload(pl);
    /* Found through the installed layout: COCONUT_HOME = the prefix. */
    setenv("COCONUT_HOME", prefix, 1);
    unsetenv("COCONUT_PLUGIN_PATH");
    char *f = coco_plugin_find("eot", "fixed");
    snprintf(want, sizeof want, "%s/lib/coconut/plugins/eot/fixed.so", prefix);
    assert_string_equal(f, want);
    free(f);
    unsetenv("COCONUT_HOME");

    /* DESTDIR stages the same tree; the .pc still names PREFIX. */
    snprintf(cmd, sizeof cmd,
             "make -s --no-print-directory -C '%s' install BUILD='%s' PREFIX=/opt/coconut-test DESTDIR='%s/dest' "
             ">'%s' 2>&1",
             cwd, COCO_BUILD_DIR, root, log);
    assert_int_equal(run(cmd, log), 0);
    snprintf(p, sizeof p, "%s/dest/opt/coconut-test/lib/coconut/plugins/curriculum/coconut.so", root);
    assert_true(tu_file_exists(p));
    snprintf(p, sizeof p, "%s/dest/opt/coconut-test/lib/pkgconfig/coconut.pc", root);
    pc = read_all(p);
    assert_non_null(pc);
    assert_non_null(strstr(pc, "prefix=/opt/coconut-test\n"));
    assert_null(strstr(pc, root));
    rm_rf(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_basic),
        cmocka_unit_test(test_options_errors),
        cmocka_unit_test(test_options_misuse),
        cmocka_unit_test(test_kinds_and_host),
        cmocka_unit_test(test_load_good),
        cmocka_unit_test(test_load_wrong_abi),
        cmocka_unit_test(test_load_init_fails),
        cmocka_unit_test(test_load_bad_descriptor),
        cmocka_unit_test(test_load_not_plugin),
        cmocka_unit_test(test_find_and_scan),
        cmocka_unit_test(test_curriculum_coconut),
        cmocka_unit_test(test_curriculum_cot_nocot),
        cmocka_unit_test(test_eot_fixed),
        cmocka_unit_test(test_dataset_prosqa),
        cmocka_unit_test(test_probe_template),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_out_of_tree),
    };
    return cmocka_run_group_tests_name("plugins", tests, setup, teardown);
}

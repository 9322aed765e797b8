/* test_prosqa.c — ProsQA generator, writer and loader (plugins/dataset/prosqa.c).
 *
 *  - Statistics of 2,000 generated graphs against the 800 released valid+test
 *    items (nodes, edges, hop shares, shortest paths, entities), with the
 *    official valid.json side by side when ../shared/data is present.
 *  - Determinism, seed sensitivity, split independence and cross-split dedupe.
 *  - Every generated example is self-consistent (prosqa_check_example), and the
 *    checker itself rejects broken examples.
 *  - Writer/loader round trip; the official valid.json loads and is written back
 *    byte for byte; malformed files give messages naming file:line:column or
 *    example and field.
 * Temp files go to /tmp/coconut_test_prosqa.<pid>/ and are removed.
 */
#include "testutil.h"

#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "../../plugins/dataset/prosqa.c"

static char g_tmp[256];

static void rm_rf(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char p[1024];
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

static int setup(void **s) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/coconut_test_prosqa.%ld", (long)getpid());
    rm_rf(g_tmp);
    return mkdir(g_tmp, 0777);
}

static int teardown(void **s) {
    rm_rf(g_tmp);
    return 0;
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    buf[got] = 0;
    if (n) *n = got;
    return buf;
}

static int files_equal(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int eq = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x), free(y);
    return eq;
}

/* Path of the official valid split, or NULL (with a printed reason). */
static const char *official_valid(void) {
    static char p[1100];
    const char *d = shared_data();
    if (!d) return NULL;
    snprintf(p, sizeof p, "%s/prosqa/valid.json", d);
    return tu_file_exists(p) ? p : NULL;
}

/* ------------------------------------------------------------ statistics */

/* The released data (800 valid+test items, datasets/README.md):
 *   nodes mean 22.81 (22.82 valid, 22.80 test), edges mean 36.0 (36.26, 35.84),
 *   hops 3/4/5/6 = 326/350/105/19 of 800, shortest paths 1.6 (given rounded),
 *   parentless nodes 2.55.
 * Tolerance for a mean: the generated mean over N graphs and the released mean
 * over 800 each carry sampling error, so their difference has standard error
 * s * sqrt(1/N + 1/800) with s the per-graph sd (taken from the generated
 * sample); we allow 3.5 of those (two-sided p ~ 5e-4 per statistic, ~0.5% for
 * the nine together) plus half the last digit of a rounded target. For a share
 * p the per-graph sd is sqrt(p (1 - p)). With N = 2000 that is 0.30 nodes, 0.84
 * edges, 0.19 paths, 0.12 entities and 0.022-0.072 for the hop shares; the
 * paper's literal symmetric candidate probabilities (2.80 entities) fail. */
#define N_STATS 2000
#define N_REL 800.0
#define ZTOL 3.5

static int check_mean(const char *what, double got, double sd, double target, double rounding) {
    double tol = ZTOL * sd * sqrt(1.0 / N_STATS + 1.0 / N_REL) + rounding;
    int ok = fabs(got - target) <= tol;
    if (!ok) printf("# FAIL %s: generated %.4f, released %.4f, tolerance %.4f\n", what, got, target, tol);
    return ok;
}

static void test_statistics(void **s) {
    prosqa_params p;
    prosqa_params_default(&p);
    coco_rng r;
    coco_rng_seed(&r, 12345);
    prosqa_set gen = {0};
    clock_t t0 = clock();
    for (int i = 0; i < N_STATS; i++) {
        prosqa_example e;
        assert_int_equal(prosqa_generate_example(&p, &r, &e), 0);
        pq_set_push(&gen, &e);
    }
    double ms = 1e3 * (double)(clock() - t0) / CLOCKS_PER_SEC;
    prosqa_stats g, o;
    memset(&o, 0, sizeof o);
    prosqa_stats_compute(&gen, &g);
    const char *ov = official_valid();
    prosqa_set off = {0};
    int have_off = ov && prosqa_load_json(ov, &off) == 0;
    if (have_off) prosqa_stats_compute(&off, &o);

    /* Graphs outside the released ranges (nodes 14-28, edges 16-54): none in
     * 800 items puts the true rate below 3/800 = 0.4% (95%, rule of three); a
     * 1% ceiling leaves room for the binomial noise of 2000 draws. */
    int outside = 0;
    for (int i = 0; i < gen.n; i++) {
        const prosqa_example *e = &gen.ex[i];
        outside += e->n_nodes < 14 || e->n_nodes > 28 || e->n_edges < 16 || e->n_edges > 54;
    }

    double H = g.n, rel_h[4] = {326 / N_REL, 350 / N_REL, 105 / N_REL, 19 / N_REL};
    printf("# ProsQA statistics: %d generated graphs (%.0f ms) | released valid+test (800) | official valid.json (%s)\n",
           g.n, ms, have_off ? "300" : "absent");
#define ROW(name, gv, rv, ov_) \
    do { \
        if (have_off) printf("# %-24s %9.3f | %9s | %9.3f\n", name, gv, rv, ov_); \
        else printf("# %-24s %9.3f | %9s |         -\n", name, gv, rv); \
    } while (0)
#define RANGE(name, lo, hi, rv, olo, ohi) \
    do { \
        if (have_off) printf("# %-24s %5d-%-3d | %9s | %5d-%-3d\n", name, lo, hi, rv, olo, ohi); \
        else printf("# %-24s %5d-%-3d | %9s |         -\n", name, lo, hi, rv); \
    } while (0)
    ROW("nodes mean", g.nodes_mean, "22.81", o.nodes_mean);
    RANGE("nodes range", g.nodes_min, g.nodes_max, "14-28", o.nodes_min, o.nodes_max);
    ROW("edges mean", g.edges_mean, "36.0", o.edges_mean);
    RANGE("edges range", g.edges_min, g.edges_max, "16-54", o.edges_min, o.edges_max);
    static const char *rh[4] = {"0.4075", "0.4375", "0.1313", "0.0238"};
    for (int k = 0; k < 4; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "share %d hops", k + 3);
        ROW(nm, g.hops[k + 3] / H, rh[k], have_off ? o.hops[k + 3] / (double)o.n : 0);
    }
    ROW("shortest paths mean", g.paths_mean, "1.6", o.paths_mean);
    ROW("entities mean", g.entities_mean, "2.55", o.entities_mean);
    ROW("root = seed 1", g.root1_share, "-", o.root1_share);
    ROW("nodes below seed 0 only", g.label_mean[1], "-", o.label_mean[1]);
    ROW("nodes below seed 1 only", g.label_mean[2], "-", o.label_mean[2]);
    ROW("nodes below both seeds", g.label_mean[3], "-", o.label_mean[3]);
    ROW("nodes below neither", g.label_mean[0], "-", o.label_mean[0]);
    printf("# %-24s %9.4f | %9s |         -\n", "outside released range", outside / H, "0");
#undef ROW
#undef RANGE

    int ok = 1;
    ok &= check_mean("nodes mean", g.nodes_mean, g.nodes_sd, 22.81, 0.005);
    ok &= check_mean("edges mean", g.edges_mean, g.edges_sd, 36.0, 0.05);
    for (int k = 0; k < 4; k++) {
        char nm[32];
        snprintf(nm, sizeof nm, "share of %d hops", k + 3);
        ok &= check_mean(nm, g.hops[k + 3] / H, sqrt(rel_h[k] * (1 - rel_h[k])), rel_h[k], 0);
    }
    ok &= check_mean("shortest paths", g.paths_mean, g.paths_sd, 1.6, 0.05);
    ok &= check_mean("entities", g.entities_mean, g.entities_sd, 2.55, 0.005);
    assert_true(ok);
    /* Structural: only 3-6 hops; never more than the 28 grown nodes. */
    assert_int_equal(g.hops[0] + g.hops[1] + g.hops[2] + g.hops[7], 0);
    assert_true(g.nodes_max <= 28);
    assert_true(outside <= N_STATS / 100);
    prosqa_set_free(&gen);
    prosqa_set_free(&off);
}

/* ------------------------------------------------------------ generation */

static void gen_dir(const char *name, uint64_t seed, int train, char *out, size_t n) {
    snprintf(out, n, "%s/%s", g_tmp, name);
    int counts[PROSQA_NSPLITS] = {train, 60, 80};
    if (prosqa_generate_files(out, NULL, seed, counts) != 0) fail_msg("%s", coco_errmsg());
}

static void split_path(char *out, size_t n, const char *dir, int split) {
    snprintf(out, n, "%s/%s.json", dir, prosqa_split_name(split));
}

static void test_determinism(void **s) {
    char a[512], b[512], c[512], d[512], pa[600], pb[600];
    gen_dir("a", 7, 200, a, sizeof a);
    gen_dir("b", 7, 200, b, sizeof b);
    gen_dir("c", 8, 200, c, sizeof c);
    gen_dir("d", 7, 120, d, sizeof d); /* smaller train */
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++) {
        split_path(pa, sizeof pa, a, sp);
        split_path(pb, sizeof pb, b, sp);
        assert_true(files_equal(pa, pb)); /* same seed -> same bytes */
        split_path(pb, sizeof pb, c, sp);
        assert_false(files_equal(pa, pb)); /* other seed -> other data */
    }
    /* valid and test are generated first: unchanged by the train size. */
    for (int sp = PROSQA_VALID; sp <= PROSQA_TEST; sp++) {
        split_path(pa, sizeof pa, a, sp);
        split_path(pb, sizeof pb, d, sp);
        assert_true(files_equal(pa, pb));
    }
    /* No temp files left behind. */
    DIR *dd = opendir(a);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(dd))) {
        assert_null(strstr(de->d_name, ".tmp."));
        files += de->d_name[0] != '.';
    }
    closedir(dd);
    assert_int_equal(files, 3);
}

/* Splits are disjoint as graphs, and a forced duplicate is redrawn. */
static void test_dedupe(void **s) {
    prosqa_params p;
    prosqa_params_default(&p);
    int counts[PROSQA_NSPLITS] = {1500, 300, 500};
    prosqa_set sets[PROSQA_NSPLITS];
    assert_int_equal(prosqa_generate_splits(&p, 99, counts, sets), 0);
    pq_keyset keys = {0};
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++) {
        assert_int_equal(sets[sp].n, counts[sp]);
        for (int i = 0; i < sets[sp].n; i++) assert_true(pq_keyset_insert(&keys, prosqa_graph_key(&sets[sp].ex[i])));
    }
    free(keys.slot);
    /* The key ignores sentence order: the same facts shuffled give the same key. */
    prosqa_example *e = &sets[PROSQA_VALID].ex[0];
    uint64_t k0 = prosqa_graph_key(e);
    int t0 = e->edges[0][0], t1 = e->edges[0][1];
    e->edges[0][0] = e->edges[1][0], e->edges[0][1] = e->edges[1][1];
    e->edges[1][0] = t0, e->edges[1][1] = t1;
    assert_true(prosqa_graph_key(e) == k0);
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++) prosqa_set_free(&sets[sp]);
    /* Redraw path: pre-load the keys of the first 50 graphs of a stream, then
     * draw 60 more from the same stream: the first 50 are all duplicates and
     * must be redrawn, and the 60 delivered graphs are new. */
    coco_rng r;
    pq_split_rng(&r, 42, PROSQA_VALID);
    prosqa_set first = {0}, second = {0};
    keys = (pq_keyset){0};
    assert_int_equal(pq_generate_into(&p, &r, 50, &keys, &first), 0);
    assert_int_equal(first.n_redrawn, 0);
    pq_split_rng(&r, 42, PROSQA_VALID);
    assert_int_equal(pq_generate_into(&p, &r, 60, &keys, &second), 0);
    assert_int_equal(second.n_redrawn, 50);
    assert_int_equal(second.n, 60);
    assert_int_equal(keys.n, 110);
    prosqa_set_free(&first);
    prosqa_set_free(&second);
    free(keys.slot);
}

static void test_self_consistency(void **s) {
    prosqa_params p;
    prosqa_params_default(&p);
    int counts[PROSQA_NSPLITS] = {1000, 300, 500};
    prosqa_set sets[PROSQA_NSPLITS];
    assert_int_equal(prosqa_generate_splits(&p, PROSQA_DEFAULT_SEED, counts, sets), 0);
    char why[512];
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++)
        for (int i = 0; i < sets[sp].n; i++) {
            const prosqa_example *e = &sets[sp].ex[i];
            if (prosqa_check_example(e, why, sizeof why) != 0) fail_msg("%s example %d: %s", prosqa_split_name(sp), i, why);
            /* Root is a seed; steps 3..6; text shapes. */
            assert_true(e->root == 0 || e->root == 1);
            assert_true(e->n_steps >= 3 && e->n_steps <= 6);
            assert_non_null(strstr(e->question, " Is "));
            assert_int_equal(e->question[strlen(e->question) - 1], '?');
        }
    /* The checker catches broken examples: each case is a shallow copy of a
     * good example with one field replaced. */
    const prosqa_example *e = &sets[PROSQA_VALID].ex[0];
    assert_true(e->n_steps >= 3 && e->n_nodes > 3);
    char *bad_answer = coco_strdup(e->answer), *bad_question = coco_strdup(e->question);
    bad_answer[0] = bad_answer[0] == 'X' ? 'Y' : 'X';             /* names another root */
    bad_question[strlen(bad_question) - 1] = '.';                    /* query without '?' */
    char *bad_step[8], *swapped[8], *dup_names[64];
    memcpy(bad_step, e->steps, sizeof(char *) * (size_t)e->n_steps);
    bad_step[1] = "Every zzz is a zzz.";                             /* not an edge */
    memcpy(swapped, e->steps, sizeof(char *) * (size_t)e->n_steps);
    swapped[0] = e->steps[1], swapped[1] = e->steps[0];              /* not a path from the root */
    memcpy(dup_names, e->symbols, sizeof(char *) * (size_t)e->n_nodes);
    dup_names[2] = dup_names[3];                                     /* names not unique */
    for (int c = 0; c < 6; c++) {
        prosqa_example x = *e;
        switch (c) {
        case 0: x.answer = bad_answer; break;
        case 1: x.question = bad_question; break;
        case 2: x.steps = bad_step; break;
        case 3: x.steps = swapped; break;
        case 4: x.neg_target = x.target; break; /* reachable from the root */
        case 5: x.symbols = dup_names; break;
        }
        if (prosqa_check_example(&x, why, sizeof why) == 0) fail_msg("checker accepted broken case %d", c);
    }
    free(bad_answer), free(bad_question);
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++) prosqa_set_free(&sets[sp]);
}

static void assert_examples_equal(const prosqa_example *a, const prosqa_example *b) {
    assert_string_equal(a->question, b->question);
    assert_string_equal(a->answer, b->answer);
    assert_int_equal(a->n_steps, b->n_steps);
    for (int k = 0; k < a->n_steps; k++) assert_string_equal(a->steps[k], b->steps[k]);
    assert_int_equal(a->n_nodes, b->n_nodes);
    for (int k = 0; k < a->n_nodes; k++) assert_string_equal(a->symbols[k], b->symbols[k]);
    assert_int_equal(a->n_edges, b->n_edges);
    assert_memory_equal(a->edges, b->edges, sizeof *a->edges * (size_t)a->n_edges);
    assert_int_equal(a->root, b->root);
    assert_int_equal(a->target, b->target);
    assert_int_equal(a->neg_target, b->neg_target);
}

static void test_roundtrip(void **s) {
    prosqa_params p;
    prosqa_params_default(&p);
    int counts[PROSQA_NSPLITS] = {100, 30, 40};
    prosqa_set sets[PROSQA_NSPLITS];
    assert_int_equal(prosqa_generate_splits(&p, 5, counts, sets), 0);
    char dir[512], path[600], again[600];
    snprintf(dir, sizeof dir, "%s/rt/nested", g_tmp); /* also checks mkdir -p */
    assert_int_equal(prosqa_write_splits(dir, sets), 0);
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++) {
        split_path(path, sizeof path, dir, sp);
        prosqa_set back;
        if (prosqa_load_json(path, &back) != 0) fail_msg("%s", coco_errmsg());
        assert_int_equal(back.n, counts[sp]);
        for (int i = 0; i < back.n; i++) assert_examples_equal(&back.ex[i], &sets[sp].ex[i]);
        snprintf(again, sizeof again, "%s/again.json", g_tmp);
        assert_int_equal(prosqa_write_json(again, &back), 0);
        assert_true(files_equal(path, again));
        prosqa_set_free(&back);
    }
    /* Layout of the official files: key order, separators, no trailing newline. */
    split_path(path, sizeof path, dir, PROSQA_VALID);
    size_t n = 0;
    char *txt = slurp(path, &n);
    assert_true(!strncmp(txt, "[{\"question\": \"", 15));
    assert_non_null(strstr(txt, "\", \"answer\": \""));
    assert_non_null(strstr(txt, "\"], \"idx_to_symbol\": [\""));
    assert_non_null(strstr(txt, "]], \"root\": "));
    assert_true(!strcmp(txt + n - 2, "}]"));
    free(txt);
    /* Empty set: "[]". */
    prosqa_set empty = {0};
    snprintf(path, sizeof path, "%s/empty.json", g_tmp);
    assert_int_equal(prosqa_write_json(path, &empty), 0);
    txt = slurp(path, NULL);
    assert_string_equal(txt, "[]");
    free(txt);
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++) prosqa_set_free(&sets[sp]);
}

/* Default sizes and location parameter: 17,886 / 300 / 500 examples. */
static void test_default_sizes(void **s) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/full", g_tmp);
    clock_t t0 = clock();
    if (prosqa_generate_files(dir, NULL, PROSQA_DEFAULT_SEED, NULL) != 0) fail_msg("%s", coco_errmsg());
    double ms = 1e3 * (double)(clock() - t0) / CLOCKS_PER_SEC;
    static const int want[PROSQA_NSPLITS] = {17886, 300, 500};
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++) {
        split_path(path, sizeof path, dir, sp);
        /* Count objects in the text (parsing 30 MB of train takes a second;
         * the loader is covered elsewhere), and parse the two small splits. */
        size_t len = 0;
        char *txt = slurp(path, &len);
        assert_non_null(txt);
        /* A plain byte scan: strstr per hit would rescan the 30 MB string
         * under AddressSanitizer, which checks the whole length every call. */
        static const char key[] = "{\"question\": ";
        int n = 0;
        for (size_t i = 0; i + sizeof key - 1 <= len; i++)
            if (txt[i] == '{' && !memcmp(txt + i, key, sizeof key - 1)) n++;
        free(txt);
        assert_int_equal(n, want[sp]);
        if (sp == PROSQA_TRAIN) continue;
        prosqa_set back;
        if (prosqa_load_json(path, &back) != 0) fail_msg("%s", coco_errmsg());
        assert_int_equal(back.n, want[sp]);
        prosqa_set_free(&back);
    }
    printf("# default splits (17886/300/500) generated and written in %.0f ms\n", ms);
}

/* ------------------------------------------------------------ official data */

static void test_official_valid(void **s) {
    const char *ov = official_valid();
    if (!ov) {
        printf("# skipped: official ProsQA valid.json not found (../shared/data/prosqa or $COCONUT_SHARED_DATA)\n");
        skip();
    }
    prosqa_set off;
    if (prosqa_load_json(ov, &off) != 0) fail_msg("%s", coco_errmsg());
    assert_int_equal(off.n, 300);
    /* Fields of the first example, intact. */
    const prosqa_example *e = &off.ex[0];
    assert_true(!strncmp(e->question, "Every shumpus is a rempus. Every shumpus is a yimpus.", 53));
    assert_true(strstr(e->question, " Is Tom a lempus or scrompus?") == e->question + strlen(e->question) - 29);
    assert_string_equal(e->answer, "Tom is a lempus.");
    assert_int_equal(e->n_steps, 3);
    assert_string_equal(e->steps[0], "Tom is a terpus.");
    assert_string_equal(e->steps[2], "Every brimpus is a lempus.");
    assert_int_equal(e->n_nodes, 18);
    assert_string_equal(e->symbols[0], "Davis");
    assert_string_equal(e->symbols[17], "dumpus");
    assert_int_equal(e->n_edges, 23);
    assert_int_equal(e->edges[0][0], 0), assert_int_equal(e->edges[0][1], 2);
    assert_int_equal(e->edges[22][0], 1), assert_int_equal(e->edges[22][1], 17);
    assert_int_equal(e->root, 1), assert_int_equal(e->target, 16), assert_int_equal(e->neg_target, 13);
    /* The official examples pass the same consistency check as ours. */
    char why[512];
    for (int i = 0; i < off.n; i++)
        if (prosqa_check_example(&off.ex[i], why, sizeof why) != 0) fail_msg("official example %d: %s", i, why);
    /* Our writer reproduces the official file byte for byte. */
    char out[512];
    snprintf(out, sizeof out, "%s/official_again.json", g_tmp);
    assert_int_equal(prosqa_write_json(out, &off), 0);
    assert_true(files_equal(ov, out));
    prosqa_set_free(&off);
}

/* ------------------------------------------------------------ malformed input */

static void expect_load_error(const char *name, const char *content, const char *want1, const char *want2) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "wb");
    fputs(content, f);
    fclose(f);
    prosqa_set set;
    assert_int_equal(prosqa_load_json(path, &set), -1);
    assert_int_equal(set.n, 0);
    assert_null(set.ex);
    const char *m = coco_errmsg();
    if (!strstr(m, want1) || (want2 && !strstr(m, want2)))
        fail_msg("error '%s' lacks '%s'%s%s", m, want1, want2 ? " or " : "", want2 ? want2 : "");
    if (!strstr(m, path)) fail_msg("error '%s' does not name the file", m);
}

#define GOOD_EX \
    "{\"question\": \"Tom is a wumpus. Every wumpus is a yumpus. Every yumpus is a rompus. Sam is a lempus. Is Tom a " \
    "rompus or lempus?\", \"answer\": \"Tom is a rompus.\", \"steps\": [\"Tom is a wumpus.\", \"Every wumpus is a " \
    "yumpus.\", \"Every yumpus is a rompus.\"], \"idx_to_symbol\": [\"Sam\", \"Tom\", \"wumpus\", \"yumpus\", " \
    "\"rompus\", \"lempus\"], \"edges\": [[1, 2], [2, 3], [3, 4], [0, 5]], \"root\": 1, \"target\": 4, " \
    "\"neg_target\": 5}"

static void test_malformed(void **s) {
    /* The hand-written example is valid, so each case below breaks one thing. */
    char path[512];
    snprintf(path, sizeof path, "%s/good.json", g_tmp);
    FILE *f = fopen(path, "wb");
    fputs("[" GOOD_EX ", " GOOD_EX "]", f);
    fclose(f);
    prosqa_set set;
    if (prosqa_load_json(path, &set) != 0) fail_msg("%s", coco_errmsg());
    assert_int_equal(set.n, 2);
    char why[256];
    if (prosqa_check_example(&set.ex[1], why, sizeof why) != 0) fail_msg("%s", why);
    prosqa_set_free(&set);

    expect_load_error("syntax.json", "[\n  {\"question\": \"a\",\n   \"answer\": }\n]", "syntax.json:3:", NULL);
    expect_load_error("trunc.json", "[" GOOD_EX ", {\"question\"", "trunc.json:1:", NULL);
    expect_load_error("object.json", "{\"question\": \"x\"}", "top level is not a JSON array", NULL);
    expect_load_error("notobj.json", "[" GOOD_EX ", 3]", "example 1 is not a JSON object", NULL);
    expect_load_error("steps.json", "[" GOOD_EX ", {\"question\": \"q\", \"answer\": \"a\", \"steps\": [\"x\", 2]}]",
                      "example 1: field 'steps' is not an array of strings", NULL);
    expect_load_error("missing.json", "[{\"question\": \"q\", \"steps\": []}]", "example 0: field 'answer' is missing",
                      NULL);
    expect_load_error("question.json", "[{\"question\": 5}]", "example 0: field 'question' is not a string", NULL);
    expect_load_error("sym.json",
                      "[{\"question\": \"q\", \"answer\": \"a\", \"steps\": [], \"idx_to_symbol\": \"Tom\"}]",
                      "example 0: field 'idx_to_symbol' is not an array of strings", NULL);
    expect_load_error("edge.json",
                      "[{\"question\": \"q\", \"answer\": \"a\", \"steps\": [], \"idx_to_symbol\": [\"A\", \"b\"], "
                      "\"edges\": [[0, 1], [1]], \"root\": 0, \"target\": 1, \"neg_target\": 1}]",
                      "example 0: field 'edges' entry 1 is not an [int, int] pair", NULL);
    expect_load_error("edgerange.json",
                      "[{\"question\": \"q\", \"answer\": \"a\", \"steps\": [], \"idx_to_symbol\": [\"A\", \"b\"], "
                      "\"edges\": [[0, 7]], \"root\": 0, \"target\": 1, \"neg_target\": 1}]",
                      "example 0: field 'edges' entry 0 refers to node 7", NULL);
    expect_load_error("root.json",
                      "[{\"question\": \"q\", \"answer\": \"a\", \"steps\": [], \"idx_to_symbol\": [\"A\", \"b\"], "
                      "\"edges\": [], \"root\": \"0\", \"target\": 1, \"neg_target\": 1}]",
                      "example 0: field 'root' is not an integer", NULL);
    expect_load_error("target.json",
                      "[{\"question\": \"q\", \"answer\": \"a\", \"steps\": [], \"idx_to_symbol\": [\"A\", \"b\"], "
                      "\"edges\": [], \"root\": 0, \"target\": 2, \"neg_target\": 1}]",
                      "example 0: field 'target' = 2 is not a node index", NULL);
    expect_load_error("dupkey.json", "[{\"question\": \"q\", \"question\": \"r\"}]", "dupkey.json:1:", "duplicate");
    /* Missing file. */
    snprintf(path, sizeof path, "%s/nope.json", g_tmp);
    assert_int_equal(prosqa_load_json(path, &set), -1);
    assert_non_null(strstr(coco_errmsg(), "nope.json"));
}

/* Writing into an impossible place fails cleanly, with no files left behind. */
static void test_write_errors(void **s) {
    prosqa_params p;
    prosqa_params_default(&p);
    int counts[PROSQA_NSPLITS] = {10, 5, 5};
    prosqa_set sets[PROSQA_NSPLITS];
    assert_int_equal(prosqa_generate_splits(&p, 3, counts, sets), 0);
    char file[512], dir[600], block[700], path[700];
    /* A path component that is a regular file. */
    snprintf(file, sizeof file, "%s/plainfile", g_tmp);
    FILE *f = fopen(file, "wb");
    fclose(f);
    snprintf(dir, sizeof dir, "%s/sub", file);
    assert_int_equal(prosqa_write_splits(dir, sets), -1);
    assert_non_null(strstr(coco_errmsg(), "plainfile"));
    /* The second temp file cannot be opened: the first is removed again and
     * nothing is renamed into place. */
    snprintf(dir, sizeof dir, "%s/blocked", g_tmp);
    mkdir(dir, 0777);
    snprintf(block, sizeof block, "%s/valid.json.tmp.%ld", dir, (long)getpid());
    mkdir(block, 0777);
    assert_int_equal(prosqa_write_splits(dir, sets), -1);
    assert_non_null(strstr(coco_errmsg(), "valid.json"));
    rmdir(block);
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d))) assert_true(de->d_name[0] == '.');
    closedir(d);
    /* Single-file writer into a missing directory. */
    snprintf(path, sizeof path, "%s/missing/x.json", g_tmp);
    assert_int_equal(prosqa_write_json(path, &sets[0]), -1);
    assert_non_null(strstr(coco_errmsg(), "missing/x.json"));
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++) prosqa_set_free(&sets[sp]);
    /* Misuse goes through coco_fail. */
    p.n_nodes = 100;
    prosqa_set out[PROSQA_NSPLITS];
    EXPECT_FAIL(prosqa_generate_splits(&p, 1, counts, out), "n_nodes 100 is outside 4..40");
    coco_set_error_handler(NULL, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statistics),     cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_dedupe),         cmocka_unit_test(test_self_consistency),
        cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_default_sizes),
        cmocka_unit_test(test_official_valid), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests_name("prosqa", tests, setup, teardown);
}

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
 *  - Symbolic rendering token by token on a hand-made graph (question, file
 *    and shuffled edge orders, markers, words re-rendering, parse errors); the
 *    shortest-path and BFS frontiers on hand-made graphs (two shortest paths,
 *    a dead end, a detour, an unreachable target); node ids (creation keeps
 *    them, shuffle/permute are bijections, deterministic per seed and epoch,
 *    and remove the creation-order cue); generator filters (hop and node
 *    ranges, unchanged stream when they reject nothing); the official
 *    valid.json in symbolic form when present.
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

/* ------------------------------------------------------------ symbolic rendering */

/* Tom (1) reaches rompus (4) over two shortest paths, through wumpus (2) or
 * gorpus (6) and then yumpus (3); Sam (0) is a lempus (5). The question lists
 * the facts in another order than `edges` and asks for the candidates swapped. */
#define HAND_EX \
    "{\"question\": \"Sam is a lempus. Every yumpus is a rompus. Tom is a gorpus. Every wumpus is a yumpus. Tom is a " \
    "wumpus. Every gorpus is a yumpus. Is Tom a lempus or rompus?\", \"answer\": \"Tom is a rompus.\", \"steps\": " \
    "[\"Tom is a gorpus.\", \"Every gorpus is a yumpus.\", \"Every yumpus is a rompus.\"], \"idx_to_symbol\": " \
    "[\"Sam\", \"Tom\", \"wumpus\", \"yumpus\", \"rompus\", \"lempus\", \"gorpus\"], \"edges\": [[1, 2], [1, 6], " \
    "[2, 3], [6, 3], [3, 4], [0, 5]], \"root\": 1, \"target\": 4, \"neg_target\": 5}"

static void load_text(const char *name, const char *content, prosqa_set *set) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "wb");
    fputs(content, f);
    fclose(f);
    if (prosqa_load_json(path, set) != 0) fail_msg("%s", coco_errmsg());
}

/* s split on single spaces must be exactly the NULL-terminated want. */
static void assert_tokens(const char *s, const char *const *want) {
    char *copy = coco_strdup(s);
    int k = 0;
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save), k++) {
        if (!want[k]) fail_msg("'%s': more tokens than the %d expected (extra '%s')", s, k, t);
        if (strcmp(t, want[k])) fail_msg("'%s': token %d is '%s', expected '%s'", s, k, t, want[k]);
    }
    if (want[k]) fail_msg("'%s': %d tokens, expected more ('%s' next)", s, k, want[k]);
    /* single spaces, none leading or trailing */
    assert_true(s[0] != ' ' && s[strlen(s) - 1] != ' ' && !strstr(s, "  "));
    free(copy);
}

static void render_ok(const prosqa_example *e, const prosqa_render_opts *o, prosqa_rendered *r) {
    if (prosqa_render(e, o, r) != 0) fail_msg("render: %s", coco_errmsg());
}

static void test_symbolic_render(void **s) {
    prosqa_set set;
    load_text("hand.json", "[" HAND_EX "]", &set);
    const prosqa_example *e = &set.ex[0];
    char why[256];
    if (prosqa_check_example(e, why, sizeof why) != 0) fail_msg("hand-made example: %s", why);
    prosqa_render_opts o;
    prosqa_render_opts_default(&o);
    o.format = PROSQA_FORMAT_SYMBOLIC;
    prosqa_rendered r;

    /* Creation ids, question order: the facts as the question states them. */
    render_ok(e, &o, &r);
    static const char *const q_question[] = {"0", "5", "|", "3", "4", "|", "1", "6", "|", "2", "3", "|", "1", "2",
                                             "|", "6", "3", "Q", "5", "4", "R", "1", NULL};
    assert_tokens(r.question, q_question);
    assert_int_equal(r.n_steps, 3);
    assert_string_equal(r.steps[0], "6"); /* the file's path: gorpus, yumpus, rompus */
    assert_string_equal(r.steps[1], "3");
    assert_string_equal(r.steps[2], "4");
    static const char *const ans[] = {"A", "4", NULL};
    assert_tokens(r.answer, ans);
    for (int v = 0; v < e->n_nodes; v++) assert_int_equal(r.ids[v], v);
    prosqa_rendered_free(&r);

    /* File order and the published bracket markers. */
    o.edge_order = PROSQA_EDGES_FILE;
    o.markers[0] = "[Q]", o.markers[1] = "[R]", o.markers[2] = "[A]", o.markers[3] = "|";
    render_ok(e, &o, &r);
    static const char *const q_file[] = {"1", "2", "|", "1", "6", "|", "2", "3", "|", "6", "3", "|", "3", "4",
                                         "|", "0", "5", "[Q]", "5", "4", "[R]", "1", NULL};
    assert_tokens(r.question, q_file);
    assert_string_equal(r.answer, "[A] 4");
    prosqa_rendered_free(&r);

    /* Words: the file's text unchanged; re-rendered in file order. */
    prosqa_render_opts_default(&o);
    render_ok(e, &o, &r);
    assert_string_equal(r.question, e->question);
    assert_string_equal(r.answer, e->answer);
    assert_int_equal(r.n_steps, 3);
    assert_string_equal(r.steps[1], "Every gorpus is a yumpus.");
    assert_null(r.ids);
    prosqa_rendered_free(&r);
    o.edge_order = PROSQA_EDGES_FILE;
    render_ok(e, &o, &r);
    assert_string_equal(r.question, "Tom is a wumpus. Tom is a gorpus. Every wumpus is a yumpus. Every gorpus is a "
                                    "yumpus. Every yumpus is a rompus. Sam is a lempus. Is Tom a lempus or rompus?");
    /* Words meta: the file's graph only, unless frontiers are asked for. */
    assert_null(strstr(r.meta_json, "frontier"));
    assert_string_equal(r.meta_json + strlen(r.meta_json) - 16, ",\"neg_target\":5}");
    prosqa_rendered_free(&r);
    o.frontiers = 1;
    render_ok(e, &o, &r);
    assert_non_null(strstr(r.meta_json, ",\"neg_target\":5,\"format\":\"words\",\"hops\":3,\"frontier\":[[2,6],[3],[4]],"
                                        "\"bfs_frontier\":[[2,6],[3],[4]],\"node_tokens\":[\"Sam\",\"Tom\",\"wumpus\","));
    prosqa_rendered_free(&r);

    /* The meta JSON carries the graph, both frontiers and the node tokens. */
    prosqa_render_opts_default(&o);
    o.format = PROSQA_FORMAT_SYMBOLIC;
    render_ok(e, &o, &r);
    assert_string_equal(r.meta_json,
                        "{\"idx_to_symbol\":[\"Sam\",\"Tom\",\"wumpus\",\"yumpus\",\"rompus\",\"lempus\",\"gorpus\"],"
                        "\"edges\":[[1,2],[1,6],[2,3],[6,3],[3,4],[0,5]],\"root\":1,\"target\":4,\"neg_target\":5,"
                        "\"format\":\"symbolic\",\"hops\":3,\"frontier\":[[2,6],[3],[4]],\"bfs_frontier\":[[2,6],[3],[4]],"
                        "\"node_tokens\":[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\"]}");
    prosqa_rendered_free(&r);

    /* Errors name what cannot be parsed; file order does not need the question. */
    prosqa_example x = *e;
    char *steps[3] = {e->steps[0], "Every wumpus is a rompus.", e->steps[2]};
    x.steps = steps;
    assert_int_equal(prosqa_render(&x, &o, &r), -1);
    assert_non_null(strstr(coco_errmsg(), "step 1 'Every wumpus is a rompus.' is not the sentence of an edge"));
    assert_null(r.question);
    x = *e;
    x.question = "Sam is a lempus. Tom is a rompus. Is Tom a lempus or rompus?";
    assert_int_equal(prosqa_render(&x, &o, &r), -1);
    assert_non_null(strstr(coco_errmsg(), "question fact 1 'Tom is a rompus.'"));
    x.question = "Sam is a lempus. Is Tom a yumpus or rompus?";
    o.edge_order = PROSQA_EDGES_FILE;
    assert_int_equal(prosqa_render(&x, &o, &r), -1);
    assert_non_null(strstr(coco_errmsg(), "does not end with the query 'Is Tom a rompus or lempus?'"));
    o.edge_order = PROSQA_EDGES_SHUFFLE; /* draws the candidate order itself */
    render_ok(&x, &o, &r);
    prosqa_rendered_free(&r);
    prosqa_set_free(&set);
}

/* ------------------------------------------------------------ frontiers */

static void assert_set(const int *off, const int *v, int k, const int *want, int nwant) {
    int n = off[k] - off[k - 1];
    int ok = n == nwant;
    for (int i = 0; ok && i < n; i++) ok = v[off[k - 1] + i] == want[i];
    if (!ok) {
        char got[256] = "", w[256] = "";
        for (int i = 0; i < n; i++) snprintf(got + strlen(got), sizeof got - strlen(got), " %d", v[off[k - 1] + i]);
        for (int i = 0; i < nwant; i++) snprintf(w + strlen(w), sizeof w - strlen(w), " %d", want[i]);
        fail_msg("k = %d: got {%s }, expected {%s }", k, got, w);
    }
}

static void test_frontiers(void **s) {
    /* Root 0, target 4 at distance 3 over two shortest paths 0-1-3-4 and
     * 0-2-3-4; a dead-end branch 0-5-6; a detour 1-7-8-9-4 that reaches the
     * target but not on a shortest path; 11-12-4 unreachable from the root. */
    int edges[][2] = {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {3, 4}, {0, 5}, {5, 6},
                      {1, 7}, {7, 8}, {8, 9}, {9, 4}, {11, 12}, {12, 4}};
    prosqa_example e = {0};
    e.n_nodes = 13;
    e.edges = edges;
    e.n_edges = (int)(sizeof edges / sizeof *edges);
    e.root = 0, e.target = 4, e.neg_target = 10;
    prosqa_frontier f;
    prosqa_frontiers(&e, &f);
    assert_int_equal(f.hops, 3);
    assert_set(f.sp_off, f.sp, 1, (int[]){1, 2}, 2);
    assert_set(f.sp_off, f.sp, 2, (int[]){3}, 1);
    assert_set(f.sp_off, f.sp, 3, (int[]){4}, 1);
    assert_set(f.bfs_off, f.bfs, 1, (int[]){1, 2, 5}, 3);
    assert_set(f.bfs_off, f.bfs, 2, (int[]){3, 6, 7}, 3);
    assert_set(f.bfs_off, f.bfs, 3, (int[]){4, 8}, 2);
    prosqa_frontier_free(&f);

    /* A shortcut 5-4 makes 0-5-4 the only shortest path (D = 2). */
    int edges2[][2] = {{0, 1}, {0, 2}, {1, 3}, {2, 3}, {3, 4}, {0, 5}, {5, 6}, {5, 4}};
    e.edges = edges2;
    e.n_edges = 8;
    prosqa_frontiers(&e, &f);
    assert_int_equal(f.hops, 2);
    assert_set(f.sp_off, f.sp, 1, (int[]){5}, 1);
    assert_set(f.sp_off, f.sp, 2, (int[]){4}, 1);
    assert_set(f.bfs_off, f.bfs, 1, (int[]){1, 2, 5}, 3);
    assert_set(f.bfs_off, f.bfs, 2, (int[]){3, 4, 6}, 3);
    prosqa_frontier_free(&f);

    /* Unreachable target: no hops, no sets. */
    e.target = 11;
    prosqa_frontiers(&e, &f);
    assert_int_equal(f.hops, -1);
    assert_null(f.sp);
    assert_null(f.bfs_off);
    prosqa_frontier_free(&f);
}

/* ------------------------------------------------------------ node ids */

/* Maps every all-digit token of s through ids (other tokens unchanged). */
static char *map_ids(const char *s, const int *ids) {
    pq_buf b = {0};
    char *copy = coco_strdup(s);
    int k = 0;
    for (char *save = NULL, *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save), k++) {
        if (k) pq_buf_str(&b, " ");
        if (t[0] >= '0' && t[0] <= '9') pq_buf_int(&b, ids[atoi(t)]);
        else pq_buf_str(&b, t);
    }
    free(copy);
    return b.s;
}

static int same_ids(const prosqa_rendered *a, const prosqa_rendered *b, int n) {
    return !memcmp(a->ids, b->ids, sizeof(int) * (size_t)n);
}

static void test_node_ids(void **s) {
    prosqa_params p;
    prosqa_params_default(&p);
    coco_rng rng;
    coco_rng_seed(&rng, 77);
    enum { NG = 200 };
    int root01[3] = {0}, ascending[3] = {0};
    for (int g = 0; g < NG; g++) {
        prosqa_example e;
        assert_int_equal(prosqa_generate_example(&p, &rng, &e), 0);
        int n = e.n_nodes;
        prosqa_render_opts o;
        prosqa_render_opts_default(&o);
        o.format = PROSQA_FORMAT_SYMBOLIC;
        o.seed = 11;
        prosqa_rendered cr, r1, r2, r3;
        render_ok(&e, &o, &cr); /* creation: the file's indices */
        for (int v = 0; v < n; v++) assert_int_equal(cr.ids[v], v);
        for (int mode = PROSQA_IDS_CREATION; mode <= PROSQA_IDS_PERMUTE; mode++) {
            o.node_ids = mode;
            o.epoch = 0;
            render_ok(&e, &o, &r1);
            /* A bijection onto 0..n-1. */
            char *seen = calloc((size_t)n, 1);
            for (int v = 0; v < n; v++) {
                assert_true(r1.ids[v] >= 0 && r1.ids[v] < n);
                assert_false(seen[r1.ids[v]]);
                seen[r1.ids[v]] = 1;
            }
            free(seen);
            /* The rendering is the creation rendering relabelled, token by token. */
            char *q = map_ids(cr.question, r1.ids), *a = map_ids(cr.answer, r1.ids);
            assert_string_equal(r1.question, q);
            assert_string_equal(r1.answer, a);
            free(q), free(a);
            for (int k = 0; k < cr.n_steps; k++) {
                char *st = map_ids(cr.steps[k], r1.ids);
                assert_string_equal(r1.steps[k], st);
                free(st);
            }
            /* Deterministic for a seed and epoch. */
            render_ok(&e, &o, &r2);
            assert_true(same_ids(&r1, &r2, n));
            assert_string_equal(r1.question, r2.question);
            prosqa_rendered_free(&r2);
            /* Another epoch: permute relabels, shuffle and creation do not. */
            o.epoch = 1;
            render_ok(&e, &o, &r2);
            if (mode == PROSQA_IDS_PERMUTE) assert_false(same_ids(&r1, &r2, n));
            else assert_true(same_ids(&r1, &r2, n));
            prosqa_rendered_free(&r2);
            /* Another seed: another relabelling (except creation). */
            o.epoch = 0;
            o.seed = 12;
            render_ok(&e, &o, &r3);
            if (mode == PROSQA_IDS_CREATION) assert_true(same_ids(&r1, &r3, n));
            else assert_false(same_ids(&r1, &r3, n));
            prosqa_rendered_free(&r3);
            o.seed = 11;
            /* The depth cue: root among ids 0/1, every edge ascending. */
            root01[mode] += r1.ids[e.root] <= 1;
            int asc = 1;
            for (int k = 0; k < e.n_edges; k++) asc &= r1.ids[e.edges[k][0]] < r1.ids[e.edges[k][1]];
            ascending[mode] += asc;
            prosqa_rendered_free(&r1);
        }
        /* id_space: distinct ids below it; too small is an error. */
        o.node_ids = PROSQA_IDS_SHUFFLE;
        o.id_space = 64;
        render_ok(&e, &o, &r1);
        int above = 0;
        for (int v = 0; v < n; v++) {
            assert_true(r1.ids[v] >= 0 && r1.ids[v] < 64);
            above += r1.ids[v] >= n;
            for (int w = 0; w < v; w++) assert_int_not_equal(r1.ids[v], r1.ids[w]);
        }
        assert_true(above > 0); /* all n below n: probability 1 / C(64, n) */
        prosqa_rendered_free(&r1);
        o.id_space = n - 1;
        assert_int_equal(prosqa_render(&e, &o, &r1), -1);
        assert_non_null(strstr(coco_errmsg(), "more than id_space"));
        /* Edge shuffle: a fresh order per epoch, the same edges. */
        o.id_space = 0;
        o.node_ids = PROSQA_IDS_CREATION;
        o.edge_order = PROSQA_EDGES_SHUFFLE;
        render_ok(&e, &o, &r1);
        o.epoch = 1;
        render_ok(&e, &o, &r2);
        assert_string_not_equal(r1.question, r2.question);
        assert_int_equal(strlen(r1.question), strlen(r2.question));
        o.epoch = 0;
        render_ok(&e, &o, &r3);
        assert_string_equal(r1.question, r3.question);
        prosqa_rendered_free(&r1), prosqa_rendered_free(&r2), prosqa_rendered_free(&r3);
        prosqa_rendered_free(&cr);
        prosqa_example_free(&e);
    }
    printf("# root id in {0,1}: creation %d, shuffle %d, permute %d of %d; all edges ascending: %d, %d, %d\n", root01[0],
           root01[1], root01[2], NG, ascending[0], ascending[1], ascending[2]);
    assert_int_equal(root01[0], NG);
    assert_int_equal(ascending[0], NG);
    for (int mode = 1; mode <= 2; mode++) {
        assert_true(root01[mode] < NG / 3); /* about 2/n of the graphs */
        assert_true(ascending[mode] == 0);   /* ~36 edges all ascending: ~1/36! */
    }
}

/* ------------------------------------------------------------ generator filters */

static void test_filters(void **s) {
    prosqa_params p;
    prosqa_params_default(&p);
    p.n_nodes = 16, p.min_hops = 3, p.max_hops = 4;
    int counts[PROSQA_NSPLITS] = {300, 50, 50};
    prosqa_set free_sets[PROSQA_NSPLITS], sets[PROSQA_NSPLITS], wide[PROSQA_NSPLITS];
    assert_int_equal(prosqa_generate_splits(&p, 5, counts, free_sets), 0);
    /* A range that rejects nothing leaves the stream unchanged. */
    p.min_nodes = 1, p.max_nodes = 40;
    assert_int_equal(prosqa_generate_splits(&p, 5, counts, wide), 0);
    p.min_nodes = 14, p.max_nodes = 16;
    assert_int_equal(prosqa_generate_splits(&p, 5, counts, sets), 0);
    int outside = 0, sizes[17] = {0}, hops[5] = {0};
    char why[512];
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++) {
        assert_int_equal(sets[sp].n, counts[sp]);
        for (int i = 0; i < counts[sp]; i++) {
            assert_examples_equal(&wide[sp].ex[i], &free_sets[sp].ex[i]);
            const prosqa_example *e = &sets[sp].ex[i];
            if (prosqa_check_example(e, why, sizeof why) != 0) fail_msg("%s", why);
            assert_true(e->n_nodes >= 14 && e->n_nodes <= 16);
            assert_true(e->n_steps >= 3 && e->n_steps <= 4);
            prosqa_frontier f;
            prosqa_frontiers(e, &f);
            assert_int_equal(f.hops, e->n_steps);
            prosqa_frontier_free(&f);
            sizes[e->n_nodes]++, hops[e->n_steps]++;
            int n = free_sets[sp].ex[i].n_nodes;
            outside += n < 14 || n > 16;
            assert_true(free_sets[sp].ex[i].n_steps >= 3 && free_sets[sp].ex[i].n_steps <= 4);
        }
    }
    printf("# filtered: nodes 14/15/16 = %d/%d/%d, hops 3/4 = %d/%d; without the size filter %d of 400 outside 14..16\n",
           sizes[14], sizes[15], sizes[16], hops[3], hops[4], outside);
    assert_true(outside > 0); /* the filter has something to do */
    assert_true(hops[3] > 0 && hops[4] > 0);
    for (int sp = 0; sp < PROSQA_NSPLITS; sp++)
        prosqa_set_free(&free_sets[sp]), prosqa_set_free(&sets[sp]), prosqa_set_free(&wide[sp]);
    /* Impossible ranges: a clear error, or misuse. */
    p.min_nodes = 3, p.max_nodes = 3;
    coco_rng r;
    coco_rng_seed(&r, 1);
    prosqa_example e;
    assert_int_equal(prosqa_generate_example(&p, &r, &e), -1);
    assert_non_null(strstr(coco_errmsg(), "node count 3..3"));
    p.min_nodes = 10, p.max_nodes = 9;
    EXPECT_FAIL(prosqa_generate_example(&p, &r, &e), "node count range [10, 9]");
    coco_set_error_handler(NULL, NULL);
    /* The plugin's file filter: hop and node ranges on any example. */
    prosqa_params_default(&p);
    p.min_hops = p.max_hops = 3;
    prosqa_set hand;
    load_text("hand2.json", "[" HAND_EX "]", &hand);
    assert_true(pq_in_ranges(&p, &hand.ex[0]));
    p.min_hops = p.max_hops = 4;
    assert_false(pq_in_ranges(&p, &hand.ex[0]));
    p.min_hops = 3, p.max_nodes = 6;
    assert_false(pq_in_ranges(&p, &hand.ex[0]));
    p.max_nodes = 7;
    assert_true(pq_in_ranges(&p, &hand.ex[0]));
    prosqa_set_free(&hand);
}

/* ------------------------------------------------------------ official data, symbolic */

static void test_official_symbolic(void **s) {
    const char *ov = official_valid();
    if (!ov) {
        printf("# skipped: official ProsQA valid.json not found (../shared/data/prosqa or $COCONUT_SHARED_DATA)\n");
        skip();
    }
    prosqa_set off;
    if (prosqa_load_json(ov, &off) != 0) fail_msg("%s", coco_errmsg());
    prosqa_render_opts o;
    prosqa_render_opts_default(&o);
    o.format = PROSQA_FORMAT_SYMBOLIC;
    prosqa_rendered r;
    /* Example 0, checked against an independent rendering of the JSON. */
    render_ok(&off.ex[0], &o, &r);
    assert_string_equal(r.question, "2 5 | 2 11 | 3 6 | 3 8 | 8 14 | 4 5 | 7 13 | 7 11 | 3 14 | 14 16 | 1 3 | 2 15 | "
                                    "11 12 | 0 2 | 8 9 | 0 6 | 2 12 | 2 7 | 3 9 | 12 15 | 6 10 | 1 17 | 5 7 Q 16 13 R 1");
    assert_int_equal(r.n_steps, 3);
    assert_string_equal(r.steps[0], "3"), assert_string_equal(r.steps[1], "14"), assert_string_equal(r.steps[2], "16");
    assert_string_equal(r.answer, "A 16");
    assert_non_null(strstr(r.meta_json, "\"hops\":3,\"frontier\":[[3],[14],[16]],"
                                        "\"bfs_frontier\":[[3,17],[6,8,9,14],[10,16]]"));
    prosqa_rendered_free(&r);
    /* Every example: 3E - 1 + 5 question tokens, a path along edges to the
     * target whose k-th node is in the shortest-path frontier k, which is a
     * subset of the BFS frontier k; the frontier at D is the target. */
    prosqa_params p;
    prosqa_params_default(&p);
    p.min_hops = 3, p.max_hops = 4;
    int in34 = 0;
    double sp_size[7] = {0}, bfs_size[7] = {0};
    int at_k[7] = {0};
    for (int i = 0; i < off.n; i++) {
        const prosqa_example *e = &off.ex[i];
        render_ok(e, &o, &r);
        int ntok = 1;
        for (const char *c = r.question; *c; c++) ntok += *c == ' ';
        assert_int_equal(ntok, 3 * e->n_edges - 1 + 5);
        prosqa_frontier f;
        prosqa_frontiers(e, &f);
        assert_int_equal(f.hops, e->n_steps);
        int prev = e->root;
        for (int k = 1; k <= e->n_steps; k++) {
            int v = atoi(r.steps[k - 1]), edge = 0, in_sp = 0;
            for (int j = 0; j < e->n_edges; j++) edge |= e->edges[j][0] == prev && e->edges[j][1] == v;
            assert_true(edge);
            for (int j = f.sp_off[k - 1]; j < f.sp_off[k]; j++) in_sp |= f.sp[j] == v;
            assert_true(in_sp);
            for (int j = f.sp_off[k - 1]; j < f.sp_off[k]; j++) {
                int in_bfs = 0;
                for (int t = f.bfs_off[k - 1]; t < f.bfs_off[k]; t++) in_bfs |= f.bfs[t] == f.sp[j];
                assert_true(in_bfs);
            }
            sp_size[k] += f.sp_off[k] - f.sp_off[k - 1], bfs_size[k] += f.bfs_off[k] - f.bfs_off[k - 1], at_k[k]++;
            prev = v;
        }
        assert_int_equal(prev, e->target);
        assert_int_equal(f.sp_off[f.hops] - f.sp_off[f.hops - 1], 1);
        assert_int_equal(f.sp[f.sp_off[f.hops - 1]], e->target);
        in34 += pq_in_ranges(&p, e);
        prosqa_frontier_free(&f);
        prosqa_rendered_free(&r);
    }
    printf("# official valid, symbolic: frontier sizes k=1..4 %.2f %.2f %.2f %.2f, BFS %.2f %.2f %.2f %.2f; "
           "%d of %d with 3-4 hops\n",
           sp_size[1] / at_k[1], sp_size[2] / at_k[2], sp_size[3] / at_k[3], sp_size[4] / at_k[4], bfs_size[1] / at_k[1],
           bfs_size[2] / at_k[2], bfs_size[3] / at_k[3], bfs_size[4] / at_k[4], in34, off.n);
    assert_int_equal(in34, 257); /* the published 3-4-hop valid subset */
    prosqa_set_free(&off);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statistics),     cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_dedupe),         cmocka_unit_test(test_self_consistency),
        cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_default_sizes),
        cmocka_unit_test(test_official_valid), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_write_errors),   cmocka_unit_test(test_symbolic_render),
        cmocka_unit_test(test_frontiers),      cmocka_unit_test(test_node_ids),
        cmocka_unit_test(test_filters),        cmocka_unit_test(test_official_symbolic),
    };
    return cmocka_run_group_tests_name("prosqa", tests, setup, teardown);
}

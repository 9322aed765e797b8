/* test_prontoqa.c — the ProntoQA loader (plugins/dataset/prontoqa.c).
 *
 *  - Format corners on a hand-made file: an empty steps list, an empty step,
 *    unicode written raw and as \u escapes (a surrogate pair too), escaped
 *    quotes, backslashes, tab and newline escapes, keys in another order, an
 *    extra key, CRLF line ends; every string compared byte for byte.
 *  - Malformed input: each file breaks one rule and must fail as a whole
 *    (nothing loaded), with a message naming the file, the line and column of
 *    the offending value, the example index and the field.
 *  - The position finder on text whose strings hold brackets, braces, commas,
 *    escaped quotes and a decoy "answer" key; columns count characters.
 *  - The real splits (../shared/data/prontoqa or $COCONUT_SHARED_DATA), when
 *    present: 9000 / 200 / 800 examples, answers True/False with the counts
 *    of ../shared/data/README.md, 6 steps each, the query sentence, and the
 *    paper's Appendix A.1 example as test[0]. Skipped when absent.
 *  - The reasoning graph (option frontiers) of hand-made questions: edges,
 *    a negated concept, both frontiers where they differ, every error; and of
 *    every real question: 6 hops, each frontier the gold chain's concept.
 *  - The concept relabelling (option concepts = permute): deterministic in its
 *    key, one stem map over question and steps, case and suffix kept, a
 *    bijection on the stems, everything else untouched.
 * Temp files go to /tmp/coconut_test_prontoqa.<pid>/ and are removed.
 */
#include "testutil.h"

#include <ctype.h>
#include <unistd.h>

#include "../../plugins/dataset/prontoqa.c"

static char g_tmp[256];

static void rm_tmp(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) fprintf(stderr, "# could not remove %s\n", g_tmp);
}

static int setup(void **s) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/coconut_test_prontoqa.%ld", (long)getpid());
    rm_tmp();
    return mkdir(g_tmp, 0777);
}

static int teardown(void **s) {
    rm_tmp();
    return 0;
}

/* Writes content (len bytes; -1 = strlen) to g_tmp/name; the file name goes to path. */
static void write_tmp(char *path, size_t cap, const char *name, const char *content, long len) {
    snprintf(path, cap, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    size_t n = len < 0 ? strlen(content) : (size_t)len;
    assert_int_equal(fwrite(content, 1, n, f), n);
    fclose(f);
}

/* ------------------------------------------------------------ format corners */

/* CRLF line ends; raw UTF-8 and escapes; see the contract above. */
static const char corners[] =
    "[\r\n"
    "  {\"question\": \"Wren is a zumpus. True or false: Wren is not \\\"dull\\\".\", \"steps\": [], \"answer\": "
    "\"True\"},\r\n"
    "  {\"question\": \"Every caf\xc3\xa9 is a w\xc3\xbcmpus. \xe6\x97\xa5\xe6\x9c\xac \xe2\x9c\x93 \xf0\x9f\x98\x80 "
    "\\u00e9\\ud83d\\ude00\",\r\n"
    "   \"steps\": [\"\xc3\x89lan is a w\xc3\xbcmpus. Every w\xc3\xbcmpus is a caf\xc3\xa9.\", \"\", "
    "\"tab\\there\\nnewline\", \"back\\\\slash \\\"q\\\" \\/\"],\r\n"
    "   \"answer\": \"False\", \"extra\": {\"ignored\": [1, 2, {\"answer\": 3}]}},\r\n"
    "  {\"answer\": \"Tom is a lempus.\", \"steps\": [\"Keys in another order.\"], \"question\": \"Is Tom a lempus?\"}\r\n"
    "]\r\n";

static void test_format_corners(void **s) {
    char path[512];
    write_tmp(path, sizeof path, "corners.json", corners, -1);
    prontoqa_set set;
    if (prontoqa_load_json(path, &set) != 0) fail_msg("%s", coco_errmsg());
    assert_int_equal(set.n, 3);

    const prontoqa_example *e = &set.ex[0];
    assert_string_equal(e->question, "Wren is a zumpus. True or false: Wren is not \"dull\".");
    assert_int_equal(e->n_steps, 0); /* an empty chain */
    assert_string_equal(e->answer, "True");

    e = &set.ex[1];
    /* raw UTF-8 unchanged; \u00e9 and the surrogate pair of U+1F600 decoded to UTF-8 */
    assert_string_equal(e->question, "Every caf\xc3\xa9 is a w\xc3\xbcmpus. \xe6\x97\xa5\xe6\x9c\xac \xe2\x9c\x93 "
                                     "\xf0\x9f\x98\x80 \xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(e->n_steps, 4);
    assert_string_equal(e->steps[0], "\xc3\x89lan is a w\xc3\xbcmpus. Every w\xc3\xbcmpus is a caf\xc3\xa9.");
    assert_string_equal(e->steps[1], "");
    assert_string_equal(e->steps[2], "tab\there\nnewline");
    assert_string_equal(e->steps[3], "back\\slash \"q\" /");
    assert_string_equal(e->answer, "False");

    e = &set.ex[2];
    assert_string_equal(e->question, "Is Tom a lempus?");
    assert_int_equal(e->n_steps, 1);
    assert_string_equal(e->steps[0], "Keys in another order.");
    assert_string_equal(e->answer, "Tom is a lempus."); /* not only True/False: the format is general */
    prontoqa_set_free(&set);
    assert_int_equal(set.n, 0);
    assert_null(set.ex);

    /* A single example on one line without a final newline (the real files' shape). */
    write_tmp(path, sizeof path, "one.json", "[{\"question\": \"q\", \"steps\": [\"s\"], \"answer\": \"True\"}]", -1);
    if (prontoqa_load_json(path, &set) != 0) fail_msg("%s", coco_errmsg());
    assert_int_equal(set.n, 1);
    assert_string_equal(set.ex[0].steps[0], "s");
    prontoqa_set_free(&set);

    /* Split names. */
    assert_string_equal(prontoqa_split_name(PRONTOQA_TRAIN), "train");
    assert_string_equal(prontoqa_split_name(PRONTOQA_VALID), "valid");
    assert_string_equal(prontoqa_split_name(PRONTOQA_TEST), "test");
    assert_null(prontoqa_split_name(3));
}

/* ------------------------------------------------------------ malformed input */

/* Loads content from g_tmp/name and requires failure with nothing loaded and a
 * message that starts with the path and contains every string of want (NULL-terminated). */
static void expect_error_n(const char *name, const char *content, long len, const char *const *want) {
    char path[512];
    write_tmp(path, sizeof path, name, content, len);
    prontoqa_set set = {(prontoqa_example *)1, 99};
    assert_int_equal(prontoqa_load_json(path, &set), -1);
    assert_int_equal(set.n, 0);
    assert_null(set.ex);
    const char *m = coco_errmsg();
    if (strncmp(m, path, strlen(path)) != 0) fail_msg("error '%s' does not start with the file %s", m, path);
    for (int k = 0; want[k]; k++)
        if (!strstr(m, want[k])) fail_msg("error '%s' lacks '%s'", m, want[k]);
}

#define EXPECT_ERROR(name, content, ...) expect_error_n(name, content, -1, (const char *const[]){__VA_ARGS__, NULL})

#define OK_EX "{\"question\": \"q\", \"steps\": [\"s\"], \"answer\": \"True\"}"

static void test_malformed(void **s) {
    /* Not JSON: the library's message, with line and column. */
    EXPECT_ERROR("syntax.json", "[\n  " OK_EX ",\n  {\"question\": \"q\", \"steps\": [], \"answer\": }\n]",
                 "syntax.json:3:44: unexpected token near '}'");
    EXPECT_ERROR("trunc.json", "[" OK_EX ", {\"question\"", "trunc.json:1:");
    EXPECT_ERROR("comma.json", "[" OK_EX ",]", "comma.json:1:");
    EXPECT_ERROR("trailing.json", "[" OK_EX "]\n[]", "trailing.json:2:", "end of file expected");
    EXPECT_ERROR("text.json", "question: q\n", "text.json:1:");
    EXPECT_ERROR("dupkey.json", "[\n{\"question\": \"q\", \"steps\": [], \"question\": \"r\", \"answer\": \"True\"}]",
                 "dupkey.json:2:", "duplicate object key");
    /* invalid UTF-8 (a lone continuation byte) and an escaped NUL are refused, not passed on */
    EXPECT_ERROR("utf8.json", "[{\"question\": \"bad \x80 byte\", \"steps\": [], \"answer\": \"True\"}]", "utf8.json:1:",
                 "unable to decode byte 0x80");
    EXPECT_ERROR("nul.json", "[{\"question\": \"a\\u0000b\", \"steps\": [], \"answer\": \"True\"}]", "nul.json:1:",
                 "NUL");
    EXPECT_ERROR("empty.json", "", "empty.json: the file is empty");
    EXPECT_ERROR("blank.json", " \n\t\n", "blank.json: the file is empty");

    /* JSON, but not the format. */
    EXPECT_ERROR("object.json", "\n  {\"question\": \"q\", \"steps\": [], \"answer\": \"True\"}",
                 "object.json:2:3: the top level is an object, not an array of examples");
    EXPECT_ERROR("string.json", "\"True\"", "string.json:1:1: the top level is a string, not an array");
    EXPECT_ERROR("noex.json", "[ ]\n", "noex.json: no examples (an empty JSON array)");
    EXPECT_ERROR("notobj.json", "[\n  " OK_EX ",\n  " OK_EX ",\n  7\n]",
                 "notobj.json:4:3: example 2 is a number, not an object");
    EXPECT_ERROR("notobj2.json", "[" OK_EX ", [\"q\", [], \"True\"]]", "notobj2.json:1:",
                 "example 1 is an array, not an object");
    EXPECT_ERROR("missing.json", "[\n  " OK_EX ",\n  {\"question\": \"q\",\n   \"steps\": []}\n]",
                 "missing.json:3:3: example 1: no 'answer' field", "question (string), steps (list of strings)");
    EXPECT_ERROR("noquestion.json", "[{\"steps\": [], \"answer\": \"True\"}]",
                 "noquestion.json:1:2: example 0: no 'question' field");
    EXPECT_ERROR("nosteps.json", "[{\"question\": \"q\", \"answer\": \"True\"}]",
                 "nosteps.json:1:2: example 0: no 'steps' field");
    /* wrong types, located at the value */
    EXPECT_ERROR("qtype.json", "[" OK_EX ",\n {\"question\": 5, \"steps\": [], \"answer\": \"True\"}]",
                 "qtype.json:2:15: example 1: field 'question' is a number, not a string");
    EXPECT_ERROR("atype.json", "[{\"question\": \"q\", \"steps\": [], \"answer\": true}]",
                 "atype.json:1:43: example 0: field 'answer' is true, not a string");
    EXPECT_ERROR("anull.json", "[{\"question\": \"q\", \"steps\": [], \"answer\": null}]",
                 "example 0: field 'answer' is null, not a string");
    /* steps a string; the column counts characters (5 for the 6 bytes of "é日本" plus quotes) */
    EXPECT_ERROR("stype.json", "[{\"question\": \"\xc3\xa9\xe6\x97\xa5\xe6\x9c\xac\", \"steps\": \"x\", \"answer\": \"True\"}]",
                 "stype.json:1:31: example 0: field 'steps' is a string, not a list of strings");
    EXPECT_ERROR("sobj.json", "[{\"question\": \"q\", \"steps\": {\"0\": \"a\"}, \"answer\": \"True\"}]",
                 "example 0: field 'steps' is an object, not a list of strings");
    /* a non-string step, on its own line */
    EXPECT_ERROR("step.json",
                 "[" OK_EX ",\n {\"question\": \"q\", \"steps\": [\n    \"one\",\n    \"two\",\n    null\n  ], "
                 "\"answer\": \"True\"}]",
                 "step.json:5:5: example 1: field 'steps' entry 2 is null, not a string");
    EXPECT_ERROR("step2.json", "[{\"question\": \"q\", \"steps\": [\"a\", [\"b\"]], \"answer\": \"True\"}]",
                 "step2.json:1:35: example 0: field 'steps' entry 1 is an array, not a string");
    EXPECT_ERROR("step3.json", "[{\"question\": \"q\", \"steps\": [1.5], \"answer\": \"True\"}]",
                 "example 0: field 'steps' entry 0 is a number, not a string");
    /* values that cannot be used */
    EXPECT_ERROR("qempty.json", "[{\"question\": \"\", \"steps\": [], \"answer\": \"True\"}]",
                 "qempty.json:1:15: example 0: field 'question' is empty");
    EXPECT_ERROR("aempty.json", "[{\"question\": \"q\", \"steps\": [], \"answer\": \"\"}]",
                 "aempty.json:1:43: example 0: field 'answer' = \"\" can never be scored correct: it is empty",
                 "text after the last '#'");
    EXPECT_ERROR("ahash.json", "[{\"question\": \"q\", \"steps\": [], \"answer\": \"### True\"}]",
                 "example 0: field 'answer' = \"### True\" can never be scored correct: it contains '#'");
    EXPECT_ERROR("acomma.json", "[{\"question\": \"q\", \"steps\": [], \"answer\": \"1,000\"}]",
                 "example 0: field 'answer' = \"1,000\" can never be scored correct: it contains ','");
    EXPECT_ERROR("aspace.json", "[{\"question\": \"q\", \"steps\": [], \"answer\": \"True \"}]",
                 "it starts or ends with white space");
    EXPECT_ERROR("aline.json", "[{\"question\": \"q\", \"steps\": [], \"answer\": \"Tr\\nue\"}]",
                 "it contains a line break");
    /* a bad example after good ones: the whole file fails, nothing is kept */
    EXPECT_ERROR("late.json", "[" OK_EX ", " OK_EX ", " OK_EX ", {\"question\": \"q\", \"steps\": [3], \"answer\": \"True\"}]",
                 "example 3: field 'steps' entry 0 is a number");

    /* The file itself. */
    char path[512];
    prontoqa_set set;
    snprintf(path, sizeof path, "%s/nope.json", g_tmp);
    assert_int_equal(prontoqa_load_json(path, &set), -1);
    assert_int_equal(set.n, 0);
    assert_non_null(strstr(coco_errmsg(), "nope.json: cannot open: No such file or directory"));
    assert_int_equal(prontoqa_load_json(g_tmp, &set), -1); /* a directory */
    assert_non_null(strstr(coco_errmsg(), g_tmp));
    assert_int_equal(set.n, 0);
}

/* ------------------------------------------------------------ positions */

static void test_locate(void **s) {
    /* brackets, braces, commas and a decoy "answer" key inside strings; an
     * escaped backslash right before a closing quote; a nested object in
     * another key before the one looked for */
    static const char t[] = "[{\"question\": \"a {\\\"answer\\\": [1,2]} b\", \"x\": {\"answer\": [0, {}]}, "
                            "\"steps\": [\"x]\", \"y}\", \"c:\\\\dir\\\\\"], \"answer\": 5}]";
    int line, col;
    pq_locate(t, strlen(t), 0, NULL, -1, &line, &col);
    assert_int_equal(line, 1), assert_int_equal(col, 2);
    pq_locate(t, strlen(t), 0, "answer", -1, &line, &col);
    assert_int_equal(line, 1), assert_int_equal(col, (int)(strstr(t, "\"answer\": 5") - t) + 11);
    pq_locate(t, strlen(t), 0, "steps", 2, &line, &col);
    assert_int_equal(line, 1), assert_int_equal(col, (int)(strstr(t, "\"c:") - t) + 1);
    /* a key or an element that is not there leaves the last position found */
    pq_locate(t, strlen(t), 0, "nokey", -1, &line, &col);
    assert_int_equal(col, 2);
    pq_locate(t, strlen(t), 0, "steps", 7, &line, &col);
    assert_int_equal(col, (int)(strstr(t, "[\"x]") - t) + 1);
    pq_locate(t, strlen(t), 3, "steps", -1, &line, &col);
    assert_int_equal(line, 1), assert_int_equal(col, 1);

    /* lines: LF and CRLF; multi-byte characters count one column each */
    static const char u[] = "\r\n[\r\n \"\xc3\xa9\xc3\xa9\", {\"steps\": [ \"\xe6\x97\xa5\",  \"b\"]}]";
    pq_locate(u, strlen(u), 1, "steps", 1, &line, &col);
    assert_int_equal(line, 3);
    assert_int_equal(col, 26); /* ' "éé", {"steps": [ "日",  ' is 25 characters */
    pq_locate(u, strlen(u), 0, NULL, -1, &line, &col);
    assert_int_equal(line, 3), assert_int_equal(col, 2);
}

/* ------------------------------------------------------------ the real splits */

/* The shared data directory holding prontoqa/, or the test is skipped. */
static const char *real_data_or_skip(void) {
    const char *d = shared_data();
    char path[1100];
    if (d) snprintf(path, sizeof path, "%s/prontoqa/train.json", d);
    if (!d || !tu_file_exists(path)) {
        printf("# skipped: ProntoQA not found (../shared/data/prontoqa or $COCONUT_SHARED_DATA/prontoqa)\n");
        skip();
    }
    return d;
}

static void test_real_files(void **s) {
    const char *d = real_data_or_skip();
    char path[1100];
    /* counts and answer shares from ../shared/data/README.md */
    static const int want_n[3] = {9000, 200, 800}, want_true[3] = {4431, 89, 397};
    for (int sp = 0; sp < PRONTOQA_NSPLITS; sp++) {
        snprintf(path, sizeof path, "%s/prontoqa/%s.json", d, prontoqa_split_name(sp));
        prontoqa_set set;
        if (prontoqa_load_json(path, &set) != 0) fail_msg("%s", coco_errmsg());
        assert_int_equal(set.n, want_n[sp]);
        int n_true = 0, n_false = 0;
        for (int i = 0; i < set.n; i++) {
            const prontoqa_example *e = &set.ex[i];
            n_true += !strcmp(e->answer, "True");
            n_false += !strcmp(e->answer, "False");
            if (!*e->question || !strstr(e->question, ". True or false: "))
                fail_msg("%s example %d: question without the query sentence: %.80s", path, i, e->question);
            size_t ql = strlen(e->question);
            if (e->question[ql - 1] != '.') fail_msg("%s example %d: question does not end with '.'", path, i);
            if (e->n_steps != 6) fail_msg("%s example %d: %d steps, expected 6 (5 hops)", path, i, e->n_steps);
            for (int k = 0; k < e->n_steps; k++)
                if (!*e->steps[k]) fail_msg("%s example %d: step %d is empty", path, i, k);
        }
        assert_int_equal(n_true + n_false, set.n); /* every answer is True or False */
        assert_int_equal(n_true, want_true[sp]);
        if (sp == PRONTOQA_TEST) {
            /* the example of the paper's Appendix A.1 */
            const prontoqa_example *e = &set.ex[0];
            assert_string_equal(e->steps[5], "Stella is floral.");
            assert_string_equal(e->answer, "False");
        }
        if (sp == PRONTOQA_TRAIN) {
            const prontoqa_example *e = &set.ex[0];
            assert_true(!strncmp(e->question, "Numpuses are not wooden. Vumpuses are lempuses.", 47));
            assert_string_equal(e->steps[0], "Max is a vumpus. Each vumpus is a brimpus.");
            assert_string_equal(e->steps[5], "Max is not wooden.");
            assert_string_equal(e->answer, "True");
        }
        prontoqa_set_free(&set);
    }
}

/* One form rewrite (option forms) of in against want. */
static void check_form(char *(*form)(const char *), const char *name, const char *in, const char *want) {
    char *got = form(in);
    if (strcmp(got, want)) fail_msg("%s(\"%s\") = \"%s\", want \"%s\"", name, in, got, want);
    free(got);
}

/* The singular concept forms (option forms): "…puses" words only, first
 * letter lower-cased, punctuation and non-ASCII bytes copied unchanged. */
static void check_singular(const char *in, const char *want) { check_form(prontoqa_singular, "prontoqa_singular", in, want); }

static void test_singular(void **state) {
    (void)state;
    check_singular("", "");
    check_singular("Zumpuses are gorpuses. Stella is a zumpus. Every lorpus is floral.",
                   "zumpus are gorpus. Stella is a zumpus. Every lorpus is floral.");
    check_singular("True or false: Impuses are not Brimpuses.", "True or false: impus are not brimpus.");
    check_singular("Wumpuses,jompuses:\nShumpuses", "wumpus,jompus:\nshumpus");
    check_singular("puses Puses", "puses Puses");               /* "puses" alone is no plural of a -pus word */
    check_singular("rompusesX rompus houses", "rompusesX rompus houses"); /* the word must end in "puses" */
    check_singular("Zo\xc3\xab Tumpuses \xc3\x85sa", "Zo\xc3\xab tumpus \xc3\x85sa"); /* UTF-8 passes through */
    check_singular("lempuses.", "lempus.");
}

/* The compact forms (option forms): singular, without the function words. */
static void check_compact(const char *in, const char *want) { check_form(prontoqa_compact, "prontoqa_compact", in, want); }

static void test_compact(void **state) {
    (void)state;
    check_compact("", "");
    check_compact("Each vumpus is a brimpus. Zumpuses are gorpuses. Every lorpus is floral. Max is an impus.",
                  "vumpus brimpus. zumpus gorpus. lorpus floral. Max impus.");
    check_compact("Numpuses are not wooden. Each impus is not a rompus.", "numpus not wooden. impus not rompus.");
    check_compact("True or false: Max is not wooden.", "True or false: Max not wooden.");
    check_compact("EACH Is ARE An", "");                                   /* any case */
    check_compact("Isabel is areal. Anna ate a banana.", "Isabel areal. Anna ate banana."); /* whole words only */
    check_compact("Max is.", "Max.");                                      /* no space after: the one before goes */
    check_compact("Zo\xc3\xab is a tumpus", "Zo\xc3\xab tumpus");             /* UTF-8 passes through */
}

/* ------------------------------------------------------------ reasoning graph */

/* Node index of name in the graph JSON, -1 when absent. */
static int graph_node(json_t *g, const char *name) {
    json_t *names = json_object_get(g, "idx_to_symbol");
    for (size_t i = 0; i < json_array_size(names); i++)
        if (!strcmp(json_string_value(json_array_get(names, i)), name)) return (int)i;
    return -1;
}

/* The names of frontier set k (1-based) of kind, sorted, joined by ' '. */
static void graph_set(json_t *g, const char *kind, int k, char *out, size_t cap) {
    json_t *sets = json_object_get(g, kind), *set = json_array_get(sets, (size_t)k - 1), *names = json_object_get(g, "idx_to_symbol");
    assert_non_null(set);
    const char *v[64];
    size_t n = json_array_size(set);
    assert_true(n < 64);
    for (size_t i = 0; i < n; i++)
        v[i] = json_string_value(json_array_get(names, (size_t)json_integer_value(json_array_get(set, i))));
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of names */
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) { const char *t = v[j]; v[j] = v[j - 1], v[j - 1] = t; }
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) strncat(out, " ", cap - strlen(out) - 1);
        strncat(out, v[i], cap - strlen(out) - 1);
    }
}

static json_t *graph_of(const char *q) {
    char err[256];
    char *txt = prontoqa_graph(q, err, sizeof err);
    if (!txt) fail_msg("prontoqa_graph: %s", err);
    json_t *g = json_loads(txt, 0, NULL);
    free(txt);
    assert_non_null(g);
    return g;
}

static void expect_graph_error(const char *q, const char *want) {
    char err[256];
    char *txt = prontoqa_graph(q, err, sizeof err);
    if (txt) fail_msg("prontoqa_graph accepted \"%s\": %s", q, txt);
    if (!strstr(err, want)) fail_msg("prontoqa_graph(\"%s\"): message \"%s\" lacks \"%s\"", q, err, want);
}

/* A hand-made question whose graph is known: two entity facts, two branches
 * from "a", one of them reaching "cold" in 3 hops and one in 4 (so the
 * shortest-path frontier is narrower than the BFS one), a negated concept that
 * must not be an edge, and a distractor rule on the other polarity. */
static void test_graph(void **state) {
    (void)state;
    const char *q = "Each a is a b. a are c. Every b is a d. c are e. d are not cold. e is cold. "
                    "Every x is not a a. Each f is an a. f are not cold. Rex is a a. Rex is a x. "
                    "True or false: Rex is not cold.";
    json_t *g = graph_of(q);
    char set[256];
    assert_string_equal(json_string_value(json_object_get(g, "format")), "prontoqa");
    assert_int_equal(json_integer_value(json_object_get(g, "root")), graph_node(g, "Rex"));
    assert_int_equal(json_integer_value(json_object_get(g, "target")), graph_node(g, "cold"));
    assert_int_equal(json_integer_value(json_object_get(g, "neg_target")), -1);
    assert_int_equal(json_integer_value(json_object_get(g, "hops")), 4); /* Rex a b d cold and Rex a c e cold */
    /* 11 sentences, one negated concept ("x is not a a"): 10 edges */
    assert_int_equal(json_array_size(json_object_get(g, "edges")), 10);
    graph_set(g, "frontier", 1, set, sizeof set), assert_string_equal(set, "a");
    graph_set(g, "frontier", 2, set, sizeof set), assert_string_equal(set, "b c");
    graph_set(g, "frontier", 3, set, sizeof set), assert_string_equal(set, "d e");
    graph_set(g, "frontier", 4, set, sizeof set), assert_string_equal(set, "cold");
    graph_set(g, "bfs_frontier", 1, set, sizeof set), assert_string_equal(set, "a x"); /* x is reached, inherits nothing */
    graph_set(g, "bfs_frontier", 2, set, sizeof set), assert_string_equal(set, "b c");
    assert_int_equal(json_array_size(json_object_get(g, "frontier")), 4);
    assert_true(json_equal(json_object_get(g, "node_tokens"), json_object_get(g, "idx_to_symbol")));
    json_decref(g);

    /* a shorter branch narrows the shortest-path frontier: Rex -> a -> cold
     * via a new rule, so only "a" and "cold" are on a shortest path */
    g = graph_of("Each a is a b. b is cold. a is cold. Rex is a a. True or false: Rex is cold.");
    assert_int_equal(json_integer_value(json_object_get(g, "hops")), 2);
    graph_set(g, "frontier", 2, set, sizeof set), assert_string_equal(set, "cold");
    graph_set(g, "bfs_frontier", 2, set, sizeof set), assert_string_equal(set, "b cold");
    json_decref(g);

    /* extra white space is fine */
    g = graph_of("  Tom   is a  z .\n z are warm. True or false: Tom is  warm.");
    assert_int_equal(json_integer_value(json_object_get(g, "hops")), 2);
    json_decref(g);
    /* the last "True or false:" is the query: an earlier one is a sentence of the wrong shape */
    expect_graph_error("Tom is a z. z are warm. True or false: nothing. True or false: Tom is warm.",
                       "sentence 3 (\" True or false: nothing\")");

    expect_graph_error("Rex is a a. a is cold.", "no query");
    expect_graph_error("Rex is a a. a is cold. True or false: Rex cold.", "the query \"");
    expect_graph_error("Rex is a a. a seems cold. True or false: Rex is cold.", "sentence 2 (\"");
    expect_graph_error("Rex is a a. Each is cold. True or false: Rex is cold.", "sentence 2");
    expect_graph_error("Rex is a a. a is very very cold. True or false: Rex is cold.", "sentence 2");
    expect_graph_error("Rex is a a. b is cold. True or false: Rex is cold.", "'cold' is not reachable from 'Rex'");
    expect_graph_error("Rex is a a. a is not a b. b is cold. True or false: Rex is cold.", "not reachable");
    expect_graph_error("Rex is a a. True or false: Rex is Rex.", "not reachable"); /* D = 0 */
}

/* The real splits with frontiers: every question's graph reads, the target is
 * 6 hops away (the number of steps), every shortest-path frontier is the one
 * concept (or, at depth 6, the property) that the gold chain names, and the
 * BFS frontier holds it. */
static void test_real_graphs(void **s) {
    const char *d = real_data_or_skip();
    char path[1100];
    for (int sp = 0; sp < PRONTOQA_NSPLITS; sp++) {
        snprintf(path, sizeof path, "%s/prontoqa/%s.json", d, prontoqa_split_name(sp));
        prontoqa_set set;
        if (prontoqa_load_json(path, &set) != 0) fail_msg("%s", coco_errmsg());
        for (int i = 0; i < set.n; i++) {
            char *q = prontoqa_singular(set.ex[i].question), err[256];
            char *txt = prontoqa_graph(q, err, sizeof err);
            if (!txt) fail_msg("%s example %d: %s", path, i, err);
            json_t *g = json_loads(txt, 0, NULL);
            assert_non_null(g);
            if (json_integer_value(json_object_get(g, "hops")) != 6) fail_msg("%s example %d: %s", path, i, txt);
            for (int k = 1; k <= 6; k++) {
                /* gold: step k's first sentence "E is a C." names C (k <= 5); step 6 is "E is [not] P." */
                char *st = prontoqa_singular(set.ex[i].steps[k - 1]), want[64];
                char *dot = strchr(st, '.');
                assert_non_null(dot);
                *dot = 0;
                const char *sp_ = strrchr(st, ' ');
                assert_non_null(sp_);
                snprintf(want, sizeof want, "%s", sp_ + 1);
                free(st);
                char got[256], bfs[256];
                graph_set(g, "frontier", k, got, sizeof got);
                if (strcmp(got, want)) fail_msg("%s example %d: frontier %d is '%s', the chain names '%s'", path, i, k, got, want);
                graph_set(g, "bfs_frontier", k, bfs, sizeof bfs);
                if (!strstr(bfs, want)) fail_msg("%s example %d: BFS frontier %d '%s' lacks '%s'", path, i, k, bfs, want);
            }
            json_decref(g);
            free(txt);
            free(q);
        }
        prontoqa_set_free(&set);
    }
}

/* ------------------------------------------------------------ concept relabelling */

static char **texts_of(const char *const *in, int n) {
    char **t = malloc(sizeof *t * (size_t)n);
    for (int i = 0; i < n; i++) t[i] = coco_strdup(in[i]);
    return t;
}

static void free_texts(char **t, int n) {
    for (int i = 0; i < n; i++) free(t[i]);
    free(t);
}

/* The stem of word w (0-based, split at spaces and punctuation) of s, into
 * out: the word without "puses" / "pus". */
static void word_stem(const char *s, int w, char *out) {
    int k = -1;
    for (size_t i = 0; s[i];) {
        size_t j = i;
        while (isalpha((unsigned char)s[j])) j++;
        if (j == i) { i++; continue; }
        if (++k == w) {
            size_t n = j - i;
            if (n > 5 && !memcmp(s + j - 5, "puses", 5)) n -= 5;
            else if (n > 3 && !memcmp(s + j - 3, "pus", 3)) n -= 3;
            else fail_msg("word %d of \"%s\" is no concept", w, s);
            assert_true(n < 16);
            memcpy(out, s + i, n), out[n] = 0;
            return;
        }
        i = j;
    }
    fail_msg("\"%s\" has no word %d", s, w);
}

/* prontoqa_permute on a hand-made example, read back word by word. */
static void test_permute(void **state) {
    (void)state;
    const char *in[] = {"Zumpuses are gorpuses. Each zumpus is a lempus. Max is a Zumpus. Max is not wooden, campus.",
                        "Max is a zumpus. Zumpuses are gorpuses.", ""};
    /* same key, same relabelling; the texts keep their shape */
    char **a = texts_of(in, 3), **b = texts_of(in, 3);
    prontoqa_permute(a, 3, 42), prontoqa_permute(b, 3, 42);
    for (int i = 0; i < 3; i++) assert_string_equal(a[i], b[i]);
    assert_string_equal(a[2], "");
    /* four stems (zum, gor, lem, and cam: "campus" has the shape of a
     * concept) permuted consistently */
    /* a[0]'s words 0, 2, 4, 7, 11 and 16 are Zumpuses, gorpuses, zumpus,
     * lempus, Zumpus and campus; a[1]'s 3, 4 and 6 are zumpus, Zumpuses and
     * gorpuses */
    char Z1[16], g[16], z[16], l[16], z2[16], c[16], z3[16], Z2[16], g2[16];
    word_stem(a[0], 0, Z1), word_stem(a[0], 2, g), word_stem(a[0], 4, z), word_stem(a[0], 7, l);
    word_stem(a[0], 11, z2), word_stem(a[0], 16, c);
    word_stem(a[1], 3, z3), word_stem(a[1], 4, Z2), word_stem(a[1], 6, g2);
    assert_true(Z1[0] >= 'A' && Z1[0] <= 'Z'); /* the capital stays */
    assert_true(z2[0] >= 'A' && z2[0] <= 'Z');
    assert_true(z[0] >= 'a' && z[0] <= 'z');
    assert_int_equal(tolower((unsigned char)Z1[0]), z[0]); /* Zumpuses, zumpus and Zumpus: one stem */
    assert_string_equal(Z1 + 1, z + 1);
    assert_string_equal(z2 + 1, z + 1);
    assert_string_equal(z3, z); /* the steps use the question's relabelling */
    assert_string_equal(g2, g);
    assert_string_equal(Z2 + 1, z + 1);
    assert_true(strstr(a[0], "puses are ") && strstr(a[1], "puses are ")); /* the suffixes stay */
    /* the images are the input's stems, each once */
    const char *stems[] = {"zum", "gor", "lem", "cam"};
    const char *img[] = {z, g, l, c};
    for (int i = 0; i < 4; i++) {
        int hits = 0;
        for (int j = 0; j < 4; j++) hits += !strcmp(img[j], stems[i]);
        if (hits != 1) fail_msg("stem %s is the image of %d stems (%s %s %s %s)", stems[i], hits, z, g, l, c);
    }
    /* "wooden", "Max" and the punctuation are untouched */
    assert_non_null(strstr(a[0], "Max is not wooden, "));
    /* some key among a few moves the stems (4! = 24 relabellings) */
    int moved = 0;
    for (unsigned long long k = 1; k <= 8 && !moved; k++) {
        char **x = texts_of(in, 3);
        prontoqa_permute(x, 3, k);
        moved = strcmp(x[0], in[0]) != 0;
        free_texts(x, 3);
    }
    assert_true(moved);
    free_texts(a, 3), free_texts(b, 3);
    /* one stem, or none: nothing to permute */
    const char *one[] = {"Zumpuses are zumpus. puses pus"};
    char **o = texts_of(one, 1);
    prontoqa_permute(o, 1, 7);
    assert_string_equal(o[0], one[0]);
    free_texts(o, 1);
    /* a long stem replacing short ones: the buffer grows */
    const char *grow[] = {"apus apus apus apus apus apus apus apus Verylongstempuses"};
    int grew = 0;
    for (unsigned long long k = 0; k < 8; k++) {
        char **x = texts_of(grow, 1);
        prontoqa_permute(x, 1, k);
        grew |= strlen(x[0]) > strlen(grow[0]);
        free_texts(x, 1);
    }
    assert_true(grew);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_singular),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_format_corners),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_locate),
        cmocka_unit_test(test_real_files),
        cmocka_unit_test(test_graph),
        cmocka_unit_test(test_real_graphs),
        cmocka_unit_test(test_permute),
    };
    return cmocka_run_group_tests_name("prontoqa", tests, setup, teardown);
}

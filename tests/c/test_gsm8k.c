/* test_gsm8k.c — the GSM8k (iCoT text format) loader of plugins/dataset/gsm8k.c.
 *
 *  - Hand-made files for every format corner: several <<...>> items, an empty
 *    chain, commas in answers, Unicode (’ “ ” € ¾ NBSP) kept byte for byte,
 *    extra spaces around and between items, items written without a space
 *    between them, an item holding spaces, CRLF line ends, blank lines
 *    (skipped, line numbers still counted), no final newline.
 *  - Malformed lines: every rejected form gives "file:line:column: what" with
 *    the exact position, and a failed load leaves nothing behind.
 *  - The real files ../shared/data/gsm8k/{valid,test}.txt when present
 *    (skipped otherwise): 500 / 1319 examples, 1573 / 4282 steps, 6 / 18
 *    empty chains, every answer non-empty and without commas (4 / 14 had
 *    commas in the file), every step an <<...>> item, the first and last
 *    lines field by field.
 * Temp files go to /tmp/coconut_test_gsm8k.<pid>/ and are removed.
 */
#include "testutil.h"

#include <unistd.h>

#include "../../plugins/dataset/gsm8k.c"

static char g_tmp[256];

static int setup(void **s) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/coconut_test_gsm8k.%ld", (long)getpid());
    return mkdir(g_tmp, 0777);
}

static int teardown(void **s) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes n bytes of text to <tmp>/<name>; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text, size_t n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
    return path;
}

static const char *write_text(const char *name, const char *text) { return write_file(name, text, strlen(text)); }

static void check_steps(const gsm8k_example *e, int n, const char *const *want) {
    assert_int_equal(e->n_steps, n);
    for (int i = 0; i < n; i++) assert_string_equal(e->steps[i], want[i]);
}

static void test_corners(void **state) {
    const char *text =
        /* 1: the official shape, two items */
        "John cuts his grass.  How much?||<<4-2=2>> <<2/.5=4>> #### 300\n"
        /* 2: empty chain */
        "Mia has 5 pens. How many pens?|| #### 5\n"
        /* 3: commas in the answer */
        "Big number?||<<800*2000=1600000>> #### 1,600,000\n"
        /* 4: Unicode in the question and in an item */
        "Janet\xe2\x80\x99s \xe2\x80\x9c" "ducks\xe2\x80\x9d cost \xe2\x82\xac" "2\xc2\xa0" "each, \xc2\xbe left?||<<16\xe2\x80\x93" "3=13>> #### 13\n"
        /* 5: blank and whitespace-only lines are skipped */
        "\n"
        "   \t \n"
        /* 7: extra spaces everywhere, items without a space between them */
        "Spaces  ||   <<1+1=2>>    <<2*3=6>><<6+1=7>>   ####    7   \n"
        /* 8: CRLF, an item holding spaces, a negative decimal answer */
        "Item with spaces?||<<4 - 2=2>> <<2-2.5=-0.5>> #### -0.5\r\n"
        /* 9: no final newline */
        "Last?||<<1*1=1>> #### 1";
    const char *path = write_text("corners.txt", text);
    gsm8k_set s;
    if (gsm8k_load_file(path, &s) != 0) fail_msg("%s", coco_errmsg());
    assert_int_equal(s.n, 7);

    assert_string_equal(s.ex[0].question, "John cuts his grass.  How much?");
    check_steps(&s.ex[0], 2, (const char *[]){"<<4-2=2>>", "<<2/.5=4>>"});
    assert_string_equal(s.ex[0].answer, "300");
    assert_int_equal(s.ex[0].line, 1);

    assert_string_equal(s.ex[1].question, "Mia has 5 pens. How many pens?");
    assert_int_equal(s.ex[1].n_steps, 0);
    assert_null(s.ex[1].steps);
    assert_string_equal(s.ex[1].answer, "5");

    check_steps(&s.ex[2], 1, (const char *[]){"<<800*2000=1600000>>"});
    assert_string_equal(s.ex[2].answer, "1600000");

    assert_string_equal(s.ex[3].question, "Janet\xe2\x80\x99s \xe2\x80\x9c" "ducks\xe2\x80\x9d cost \xe2\x82\xac"
                                          "2\xc2\xa0" "each, \xc2\xbe left?");
    check_steps(&s.ex[3], 1, (const char *[]){"<<16\xe2\x80\x93" "3=13>>"});
    assert_string_equal(s.ex[3].answer, "13");

    /* line numbers count the skipped blank lines */
    assert_int_equal(s.ex[4].line, 7);
    assert_string_equal(s.ex[4].question, "Spaces  "); /* not stripped, as gsm_icot.py */
    check_steps(&s.ex[4], 3, (const char *[]){"<<1+1=2>>", "<<2*3=6>>", "<<6+1=7>>"});
    assert_string_equal(s.ex[4].answer, "7");

    assert_int_equal(s.ex[5].line, 8);
    check_steps(&s.ex[5], 2, (const char *[]){"<<4 - 2=2>>", "<<2-2.5=-0.5>>"});
    assert_string_equal(s.ex[5].answer, "-0.5"); /* the "\r" is gone */

    assert_int_equal(s.ex[6].line, 9);
    assert_string_equal(s.ex[6].question, "Last?");
    assert_string_equal(s.ex[6].answer, "1");
    gsm8k_set_free(&s);
    assert_int_equal(s.n, 0);
}

/* Loads a file of one good line followed by `bad` (line 2) and asserts the
 * error is "<path>:2:<want>" exactly, with nothing returned. */
static void expect_bad(const char *bad, size_t n, const char *want) {
    char text[1024];
    const char *good = "Good?||<<1+1=2>> #### 2\n";
    size_t g = strlen(good);
    assert_true(g + n < sizeof text);
    memcpy(text, good, g);
    memcpy(text + g, bad, n);
    const char *path = write_file("bad.txt", text, g + n);
    char full[1024];
    snprintf(full, sizeof full, "%s:2:%s", path, want);
    gsm8k_set s;
    s.n = 99;
    assert_int_equal(gsm8k_load_file(path, &s), -1);
    assert_string_equal(coco_errmsg(), full);
    assert_int_equal(s.n, 0);
    assert_null(s.ex);
}

#define BAD(line, want) expect_bad(line, sizeof(line) - 1, want)

static void test_malformed(void **state) {
    BAD("No bars <<1+1=2>> #### 2\n", "1: no '||' between the question and the chain (expected 'question||<<...>> #### answer')");
    BAD("Q?||<<1+1=2>>||x #### 2\n", "14: a second '||' (the first is at column 3)");
    BAD("Q?||<<1+1=2>> ## 2\n", "5: no '####' before the answer after '||'");
    BAD("Q?||<<1+1=2>> #### 2 #### 3\n", "22: a second '####' (the first is at column 15)");
    BAD("Q?||<<1+1=2 #### 2\n", "5: '<<' is never closed by '>>'");
    BAD("Q?||<<1+1=2 <<2+2=4>> #### 4\n", "5: unbalanced '<<': another '<<' opens at column 13 before its '>>'");
    BAD("Q?||1+1=2>> #### 2\n", "5: text outside '<<...>>' in the chain: '1+1=2>>'");
    BAD("Q?||<<1+1=2>> >> #### 2\n", "15: '>>' without '<<'");
    BAD("Q?||<<>> #### 2\n", "5: empty step '<<>>'");
    BAD("Q?||<<1+1=2>> so <<2+2=4>> #### 4\n", "15: text outside '<<...>>' in the chain: 'so'");
    BAD("   ||<<1+1=2>> #### 2\n", "1: empty question before '||'");
    BAD("Q?||<<1+1=2>> ####   \n", "19: empty answer after '####'");
    BAD("Q?||<<1+1=2>> #### 2#3\n", "21: the answer holds '#' (answers are read back after the last '#')");
    BAD("Q?||<<1+1=2>> #### ,,\n", "19: the answer is only commas");
    BAD("Caf\xe9?||<<1+1=2>> #### 2\n", "4: bytes that are not UTF-8");
    BAD("Q\xe2\x80?||<<1+1=2>> #### 2\n", "2: bytes that are not UTF-8"); /* truncated sequence */
    BAD("Q\xed\xa0\x80?||<<1+1=2>> #### 2\n", "2: bytes that are not UTF-8"); /* a surrogate */
    BAD("Q\0?||<<1+1=2>> #### 2\n", "2: NUL byte");

    /* a file without examples, a missing file */
    const char *empty = write_text("empty.txt", "\n  \n");
    gsm8k_set s;
    assert_int_equal(gsm8k_load_file(empty, &s), -1);
    assert_non_null(strstr(coco_errmsg(), "empty.txt: no examples"));
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope.txt", g_tmp);
    assert_int_equal(gsm8k_load_file(missing, &s), -1);
    assert_non_null(strstr(coco_errmsg(), "nope.txt: cannot open: No such file or directory"));

    /* the line number counts blank lines, and the first bad line is reported */
    const char *path = write_text("late.txt", "A?||<<1+1=2>> #### 2\n\nB?|| #### 3\nC? #### 4\nD?|| ####\n");
    assert_int_equal(gsm8k_load_file(path, &s), -1);
    char want[600];
    snprintf(want, sizeof want, "%s:4:1: no '||'", path);
    assert_non_null(strstr(coco_errmsg(), want));
}

/* Real files: counts and per-example invariants. */
static void check_real(const char *path, int n, int n_steps, int n_empty, int n_comma_raw, const char *first_q_prefix,
                       const char *first_answer, const char *last_step, const char *last_answer) {
    gsm8k_set s;
    if (gsm8k_load_file(path, &s) != 0) fail_msg("%s", coco_errmsg());
    assert_int_equal(s.n, n);
    int steps = 0, empty = 0;
    for (int i = 0; i < s.n; i++) {
        const gsm8k_example *e = &s.ex[i];
        assert_int_equal(e->line, i + 1);
        assert_true(e->answer[0] != 0);
        assert_null(strchr(e->answer, ','));
        /* every answer is a number: digits with an optional sign and point */
        for (const char *c = e->answer; *c; c++) assert_true((*c >= '0' && *c <= '9') || *c == '.' || *c == '-');
        assert_true(e->question[0] != 0);
        for (int k = 0; k < e->n_steps; k++) {
            size_t len = strlen(e->steps[k]);
            assert_true(len > 4 && !strncmp(e->steps[k], "<<", 2) && !strcmp(e->steps[k] + len - 2, ">>"));
        }
        steps += e->n_steps;
        empty += e->n_steps == 0;
    }
    assert_int_equal(steps, n_steps);
    assert_int_equal(empty, n_empty);
    assert_int_equal(strncmp(s.ex[0].question, first_q_prefix, strlen(first_q_prefix)), 0);
    assert_string_equal(s.ex[0].answer, first_answer);
    const gsm8k_example *last = &s.ex[s.n - 1];
    assert_string_equal(last->steps[last->n_steps - 1], last_step);
    assert_string_equal(last->answer, last_answer);
    /* the commas were in the file: count the raw answers holding one */
    FILE *f = fopen(path, "rb");
    char line[8192];
    int commas = 0;
    while (fgets(line, sizeof line, f)) {
        char *h = strstr(line, "####");
        if (h && strchr(h, ',')) commas++;
    }
    fclose(f);
    assert_int_equal(commas, n_comma_raw);
    printf("# %s: %d examples, %d steps, %d empty chains, %d answers had commas\n", path, s.n, steps, empty, commas);
    gsm8k_set_free(&s);
}

static void test_real_files(void **state) {
    const char *root = shared_data();
    char valid[1100], test[1100];
    if (root) {
        snprintf(valid, sizeof valid, "%s/gsm8k/valid.txt", root);
        snprintf(test, sizeof test, "%s/gsm8k/test.txt", root);
    }
    if (!root || !tu_file_exists(valid) || !tu_file_exists(test)) {
        skip(); /* ../shared/data/gsm8k absent: nothing to check */
        return;
    }
    check_real(valid, 500, 1573, 6, 4, "John cuts his grass to 2 inches.", "300", "<<11-2=9>>", "9");
    check_real(test, 1319, 4282, 18, 14, "Janet\xe2\x80\x99s ducks lay 16 eggs per day.", "18", "<<56/4=14>>", "14");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corners),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_real_files),
    };
    return cmocka_run_group_tests_name("gsm8k", tests, setup, teardown);
}

/* test_arith.c — the multiplication generator of plugins/dataset/arith.c.
 *
 *  - Every step of every generated example is parsed back from its rendered
 *    text (plain, spaced and reversed numbers, digits 1..9) and recomputed:
 *    the partial products are a * (b_i 10^i) for b's digits from the least
 *    significant, each sum adds the product just written to the previous
 *    running total, the last result is the answer, and the answer is a * b of
 *    the question; operands have exactly `digits` digits; the text is in the
 *    rendering's exact spacing; meta_json names a and b.
 *  - Splits are disjoint as unordered pairs and have no repeats, exactly: at
 *    full capacity (1-digit operands, 45 pairs) every pair is used once; one
 *    more example is refused with a message.
 *  - Determinism in the seed, different seeds differ, test does not depend on
 *    n_valid / n_train and valid not on n_train.
 *  - prepare's writer: three files, one line per problem in the gsm8k format.
 * Temp files go to /tmp/coconut_test_arith.<pid>/ and are removed.
 */
#include "testutil.h"

#include <unistd.h>

#include "../../plugins/dataset/arith.c"

static char g_tmp[256];

static int setup(void **s) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/coconut_test_arith.%ld", (long)getpid());
    return mkdir(g_tmp, 0777);
}

static int teardown(void **s) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* Parses a number written in the rendering `numbers` at *p (advancing it).
 * Strict: plain = decimal digits without a leading zero; spaced / reversed =
 * single digits separated by single spaces, most / least significant first,
 * no leading (most significant) zero unless the number is 0. Fails the test
 * otherwise. Returns the value and its digit count in *nd. */
static uint64_t parse_num(const char **p, int numbers, int *nd) {
    char d[32];
    int n = 0;
    const char *c = *p;
    if (numbers == ARITH_PLAIN) {
        while (*c >= '0' && *c <= '9') d[n++] = *c++;
    } else {
        while (*c >= '0' && *c <= '9') {
            d[n++] = *c++;
            if (c[0] == ' ' && c[1] >= '0' && c[1] <= '9') c++;
            else break;
        }
        if (numbers == ARITH_REVERSED)
            for (int i = 0; i < n / 2; i++) {
                char t = d[i];
                d[i] = d[n - 1 - i], d[n - 1 - i] = t;
            }
    }
    if (n == 0 || n > 19) fail_msg("no number at '%s'", *p);
    if (n > 1 && d[0] == '0') fail_msg("leading zero in the number at '%s'", *p);
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (uint64_t)(d[i] - '0');
    *p = c;
    if (nd) *nd = n;
    return v;
}

static void expect_lit(const char **p, const char *lit) {
    if (strncmp(*p, lit, strlen(lit))) fail_msg("expected '%s' at '%s'", lit, *p);
    *p += strlen(lit);
}

/* "<<x op y=z>>" (plain) or "<< x op y = z >>" (spaced forms). */
static void parse_step(const char *s, int numbers, uint64_t *x, char *op, uint64_t *y, uint64_t *z) {
    const char *p = s;
    int sp = numbers != ARITH_PLAIN;
    expect_lit(&p, sp ? "<< " : "<<");
    *x = parse_num(&p, numbers, NULL);
    if (sp) expect_lit(&p, " ");
    *op = *p++;
    if (*op != '*' && *op != '+') fail_msg("bad operator in '%s'", s);
    if (sp) expect_lit(&p, " ");
    *y = parse_num(&p, numbers, NULL);
    expect_lit(&p, sp ? " = " : "=");
    *z = parse_num(&p, numbers, NULL);
    expect_lit(&p, sp ? " >>" : ">>");
    if (*p) fail_msg("trailing text in '%s'", s);
}

/* Checks one rendered problem completely; returns a * b. */
static uint64_t check_problem(const arith_pair *pr, int digits, int numbers) {
    arith_text t;
    arith_render(pr, digits, numbers, &t);
    int sp = numbers != ARITH_PLAIN, na, nb;
    const char *p = t.question;
    expect_lit(&p, "What is ");
    uint64_t a = parse_num(&p, numbers, &na);
    expect_lit(&p, " * ");
    uint64_t b = parse_num(&p, numbers, &nb);
    expect_lit(&p, sp ? " ?" : "?");
    assert_int_equal(*p, 0);
    assert_int_equal(na, digits);
    assert_int_equal(nb, digits);
    assert_true(a == pr->a && b == pr->b);

    assert_int_equal(t.n_steps, 2 * digits - 1);
    uint64_t total = 0, last_prod = 0, last_result = 0, rest = b, shift = 1;
    int k = 0;
    for (int i = 0; i < digits; i++, rest /= 10, shift *= 10) {
        uint64_t x, y, z;
        char op;
        parse_step(t.steps[k++], numbers, &x, &op, &y, &z);
        /* partial product: a times b's i-th digit, shifted */
        assert_int_equal(op, '*');
        assert_true(x == a);
        assert_true(y == rest % 10 * shift);
        assert_true(z == x * y);
        last_prod = z, last_result = z;
        if (i == 0) {
            total = z;
            continue;
        }
        parse_step(t.steps[k++], numbers, &x, &op, &y, &z);
        /* running sum: the previous total plus the product just written */
        assert_int_equal(op, '+');
        assert_true(x == total);
        assert_true(y == last_prod);
        assert_true(z == x + y);
        total = z, last_result = z;
    }
    assert_int_equal(k, t.n_steps);
    p = t.answer;
    uint64_t ans = parse_num(&p, numbers, NULL);
    assert_int_equal(*p, 0);
    assert_true(ans == last_result);
    assert_true(ans == a * b);
    char meta[128];
    snprintf(meta, sizeof meta, "{\"a\":%llu,\"b\":%llu,\"digits\":%d}", (unsigned long long)a, (unsigned long long)b,
             digits);
    assert_string_equal(t.meta, meta);
    arith_text_free(&t);
    return ans;
}

static void test_steps_correct(void **state) {
    for (int d = 1; d <= ARITH_MAX_DIGITS; d++) {
        int counts[ARITH_NSPLITS] = {d == 1 ? 25 : 300, 10, 10};
        arith_pair *pairs[ARITH_NSPLITS];
        assert_int_equal(arith_generate(d, 7, counts, pairs), 0);
        for (int numbers = ARITH_PLAIN; numbers <= ARITH_REVERSED; numbers++)
            for (int s = 0; s < ARITH_NSPLITS; s++)
                for (int i = 0; i < counts[s]; i++) check_problem(&pairs[s][i], d, numbers);
        for (int s = 0; s < ARITH_NSPLITS; s++) free(pairs[s]);
    }
    /* hand-checked texts (the example at the top of arith.c) */
    arith_pair p = {1234, 5678};
    arith_text t;
    arith_render(&p, 4, ARITH_PLAIN, &t);
    assert_string_equal(t.question, "What is 1234 * 5678?");
    const char *want[7] = {"<<1234*8=9872>>",        "<<1234*70=86380>>",      "<<9872+86380=96252>>",
                           "<<1234*600=740400>>",    "<<96252+740400=836652>>", "<<1234*5000=6170000>>",
                           "<<836652+6170000=7006652>>"};
    for (int i = 0; i < 7; i++) assert_string_equal(t.steps[i], want[i]);
    assert_string_equal(t.answer, "7006652");
    arith_text_free(&t);
    arith_render(&p, 4, ARITH_REVERSED, &t);
    assert_string_equal(t.question, "What is 4 3 2 1 * 8 7 6 5 ?");
    assert_string_equal(t.steps[1], "<< 4 3 2 1 * 0 7 = 0 8 3 6 8 >>");
    assert_string_equal(t.answer, "2 5 6 6 0 0 7");
    arith_text_free(&t);
    arith_render(&p, 4, ARITH_SPACED, &t);
    assert_string_equal(t.steps[2], "<< 9 8 7 2 + 8 6 3 8 0 = 9 6 2 5 2 >>");
    assert_string_equal(t.answer, "7 0 0 6 6 5 2");
    arith_text_free(&t);
    /* a zero digit in b: its partial product is a * 0 = 0 */
    arith_pair z = {1234, 5008};
    arith_render(&z, 4, ARITH_PLAIN, &t);
    assert_string_equal(t.steps[1], "<<1234*0=0>>");
    assert_string_equal(t.steps[2], "<<9872+0=9872>>");
    assert_string_equal(t.answer, "6179872");
    arith_text_free(&t);
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Unordered keys of all pairs of all splits, sorted; asserts no key repeats
 * (within or across splits). Returns the count. */
static size_t check_disjoint(int digits, arith_pair *pairs[ARITH_NSPLITS], const int counts[ARITH_NSPLITS]) {
    size_t n = 0;
    for (int s = 0; s < ARITH_NSPLITS; s++) n += (size_t)counts[s];
    uint64_t *k = malloc(sizeof(uint64_t) * (n ? n : 1));
    size_t m = 0;
    uint64_t lo = ar_pow10(digits - 1), hi = ar_pow10(digits);
    for (int s = 0; s < ARITH_NSPLITS; s++)
        for (int i = 0; i < counts[s]; i++) {
            uint64_t a = pairs[s][i].a, b = pairs[s][i].b;
            assert_true(a >= lo && a < hi && b >= lo && b < hi);
            k[m++] = (a < b ? a : b) * hi + (a < b ? b : a);
        }
    qsort(k, m, sizeof *k, cmp_u64);
    for (size_t i = 1; i < m; i++)
        if (k[i] == k[i - 1]) fail_msg("pair key %llu occurs twice", (unsigned long long)k[i]);
    free(k);
    return m;
}

static void test_disjoint(void **state) {
    /* full capacity: 1-digit operands have 9 * 10 / 2 = 45 unordered pairs */
    assert_int_equal(arith_capacity(1), 45);
    assert_int_equal(arith_capacity(2), 90 * 91 / 2);
    int full[ARITH_NSPLITS] = {20, 10, 15};
    arith_pair *pairs[ARITH_NSPLITS];
    assert_int_equal(arith_generate(1, 3, full, pairs), 0);
    assert_int_equal(check_disjoint(1, pairs, full), 45);
    for (int s = 0; s < ARITH_NSPLITS; s++) free(pairs[s]);
    int over[ARITH_NSPLITS] = {21, 10, 15};
    assert_int_equal(arith_generate(1, 3, over, pairs), -1);
    assert_non_null(strstr(coco_errmsg(), "46 examples asked for (n_train + n_valid + n_test), but 1-digit operands "
                                          "give only 45 distinct pairs"));
    /* 2 digits near capacity (4095 pairs), and 4 digits at a realistic size */
    int near[ARITH_NSPLITS] = {3500, 300, 295};
    assert_int_equal(arith_generate(2, 11, near, pairs), 0);
    assert_int_equal(check_disjoint(2, pairs, near), 4095);
    for (int s = 0; s < ARITH_NSPLITS; s++) free(pairs[s]);
    int big[ARITH_NSPLITS] = {20000, 1000, 1000};
    assert_int_equal(arith_generate(4, 20241209, big, pairs), 0);
    assert_int_equal(check_disjoint(4, pairs, big), 22000);
    /* both operand orders occur (pairs are drawn ordered, compared unordered) */
    int a_lt_b = 0;
    for (int i = 0; i < big[ARITH_TRAIN]; i++) a_lt_b += pairs[ARITH_TRAIN][i].a < pairs[ARITH_TRAIN][i].b;
    assert_true(a_lt_b > 9000 && a_lt_b < 11000);
    for (int s = 0; s < ARITH_NSPLITS; s++) free(pairs[s]);
}

static int same_pairs(const arith_pair *x, const arith_pair *y, int n) {
    for (int i = 0; i < n; i++)
        if (x[i].a != y[i].a || x[i].b != y[i].b) return 0;
    return 1;
}

static void test_determinism(void **state) {
    int c[ARITH_NSPLITS] = {500, 100, 200};
    arith_pair *p1[ARITH_NSPLITS], *p2[ARITH_NSPLITS], *p3[ARITH_NSPLITS], *p4[ARITH_NSPLITS];
    assert_int_equal(arith_generate(4, 42, c, p1), 0);
    assert_int_equal(arith_generate(4, 42, c, p2), 0);
    assert_int_equal(arith_generate(4, 43, c, p3), 0);
    for (int s = 0; s < ARITH_NSPLITS; s++) {
        assert_true(same_pairs(p1[s], p2[s], c[s]));  /* same seed: same data */
        assert_false(same_pairs(p1[s], p3[s], c[s])); /* another seed: other data */
    }
    int same = 0;
    for (int i = 0; i < c[ARITH_TEST]; i++) same += p1[ARITH_TEST][i].a == p3[ARITH_TEST][i].a;
    assert_true(same < 5); /* not a shifted copy either */
    /* test does not depend on the other sizes, valid not on n_train */
    int c2[ARITH_NSPLITS] = {50, 30, 200};
    assert_int_equal(arith_generate(4, 42, c2, p4), 0);
    assert_true(same_pairs(p1[ARITH_TEST], p4[ARITH_TEST], 200));
    assert_true(same_pairs(p1[ARITH_VALID], p4[ARITH_VALID], 30));
    assert_true(same_pairs(p1[ARITH_TRAIN], p4[ARITH_TRAIN], 50));
    for (int s = 0; s < ARITH_NSPLITS; s++) free(p1[s]), free(p2[s]), free(p3[s]), free(p4[s]);
}

static void test_write_files(void **state) {
    int c[ARITH_NSPLITS] = {6, 2, 3};
    arith_pair *p[ARITH_NSPLITS];
    assert_int_equal(arith_generate(3, 5, c, p), 0);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/a/b", g_tmp); /* created with its parent */
    assert_int_equal(arith_write_files(dir, 3, ARITH_PLAIN, p, c), 0);
    for (int s = 0; s < ARITH_NSPLITS; s++) {
        char path[600], line[1024];
        snprintf(path, sizeof path, "%s/%s.txt", dir, arith_split_names[s]);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        int n = 0;
        while (fgets(line, sizeof line, f)) {
            arith_text t;
            arith_render(&p[s][n], 3, ARITH_PLAIN, &t);
            char want[1024];
            int k = snprintf(want, sizeof want, "%s||", t.question);
            for (int i = 0; i < t.n_steps; i++) k += snprintf(want + k, sizeof want - (size_t)k, "%s%s", i ? " " : "", t.steps[i]);
            snprintf(want + k, sizeof want - (size_t)k, " #### %s\n", t.answer);
            assert_string_equal(line, want);
            arith_text_free(&t);
            n++;
        }
        fclose(f);
        assert_int_equal(n, c[s]);
        free(p[s]);
    }
    /* a directory that cannot be created: an error naming it, nothing written */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/a/b/train.txt/x", g_tmp);
    assert_int_equal(arith_write_files(bad, 3, ARITH_PLAIN, p, (int[]){0, 0, 0}), -1);
    assert_non_null(strstr(coco_errmsg(), "cannot create directory"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_correct),
        cmocka_unit_test(test_disjoint),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_write_files),
    };
    return cmocka_run_group_tests_name("arith", tests, setup, teardown);
}

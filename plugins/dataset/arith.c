/* arith.c — dataset plugin "arith": generated multi-digit multiplication in the
 * GSM8k step format (issue 14; the iCoT papers' 4x4 / 5x5 task as a CPU-sized
 * stand-in for "math with intermediate results").
 *
 * Owns: drawing the operand pairs of the three splits, rendering each problem
 * as question / steps / answer, and (prepare) writing the splits as text files
 * in the gsm8k plugin's format. load() generates in memory; it reads no files.
 *
 * Problem: a * b with a and b uniform d-digit numbers (no leading zero;
 * d = option `digits`, 1..9, so a * b < 10^18 fits 64 bits).
 *
 * Steps (2d - 1 of them, every one a single true equation). With b_i the i-th
 * digit of b counted from the least significant (b = sum b_i 10^i):
 *   partial products  p_i = a * (b_i 10^i), written <<a*m=p>> with m = b_i 10^i
 *                     (the shifted multiplier, so the equation holds as written;
 *                     a zero digit gives <<a*0=0>>);
 *   running sums      s_1 = p_0 + p_1, s_i = s_(i-1) + p_i, written <<s+p=t>>;
 * in the order p_0, p_1, s_1, p_2, s_2, ..., p_(d-1), s_(d-1) (each partial
 * product followed by the sum that absorbs it, as iCoT writes its chains), and
 * the answer is s_(d-1) = a * b (p_0 when d = 1). Example, 1234 * 5678:
 *   <<1234*8=9872>> <<1234*70=86380>> <<9872+86380=96252>>
 *   <<1234*600=740400>> <<96252+740400=836652>> <<1234*5000=6170000>>
 *   <<836652+6170000=7006652>> #### 7006652
 *
 * Number rendering (option `numbers`), applied to every number of the
 * question, the steps and the answer:
 *   plain     "1234"      the GSM8k text; the word-level tokenizer keeps a whole
 *                         number as one token, so a model from scratch sees an
 *                         opaque symbol per number (a lookup table, no digits);
 *   spaced    "1 2 3 4"   one token per digit, most significant first;
 *   reversed  "4 3 2 1"   one token per digit, least significant first (the
 *                         iCoT data's convention: carries then flow in the
 *                         direction of generation).
 * With spaced / reversed the operators and brackets are spaced too, so the
 * texts read "What is 4 3 2 1 * 8 7 6 5 ?", "<< 4 3 2 1 * 8 = 2 7 8 9 >>",
 * answer "2 5 6 6 0 0 7" (the word tokenizer decodes exactly that canonical
 * spacing, so predictions compare equal to the gold text). Plain:
 * "What is 1234 * 5678?", "<<1234*8=9872>>", "7006652".
 *
 * Splits. The pairs are unordered for disjointness: {a, b} used in one split
 * (as a*b or b*a) never occurs again, in that split or another. Each split
 * draws from its own stream seeded from (seed, split); test is drawn first,
 * then valid, then train, and a pair already taken is redrawn. So the data is
 * a pure function of (seed, digits, counts), test does not depend on n_valid
 * or n_train, valid not on n_train, and different seeds give different data.
 * Counts beyond the number of distinct pairs, d' (d' + 1) / 2 with
 * d' = 9 * 10^(d-1), are refused.
 *
 * meta_json: {"a":A,"b":B,"digits":d} (plain integers).
 *
 * Options: digits (4), n_train (10000), n_valid (500), n_test (1000), seed (1),
 * numbers (plain), dir (datasets/arith: where prepare() writes
 * {train,valid,test}.txt as "question||step step ... #### answer" lines, read
 * back by the gsm8k plugin). The driver's train_file / valid_file / test_file
 * must stay empty (this dataset reads no files; use gsm8k for files), and
 * generate is accepted and unused (the data is always generated).
 *
 * Errors: out-of-range options (named, with the valid range) in create, more
 * examples than distinct pairs, a file option set, write failures in prepare
 * (no file is replaced unless all three are written).
 *
 * tests/c/test_arith.c includes this file to test the generator directly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "coconut/base.h"
#include "coconut/plugin.h"
#include "coconut/rng.h"

/* ================================================================== generator */

enum { ARITH_TRAIN, ARITH_VALID, ARITH_TEST, ARITH_NSPLITS };
enum { ARITH_PLAIN, ARITH_SPACED, ARITH_REVERSED };
#define ARITH_MAX_DIGITS 9
#define ARITH_MAX_COUNT 10000000 /* per split */

static const char *const arith_split_names[ARITH_NSPLITS] = {"train", "valid", "test"};
static const char *const arith_number_names[] = {"plain", "spaced", "reversed", NULL};

typedef struct arith_pair {
    uint64_t a, b;
} arith_pair;

static uint64_t ar_pow10(int e) {
    uint64_t p = 1;
    while (e-- > 0) p *= 10;
    return p;
}

/* Distinct unordered pairs of d-digit numbers: m (m + 1) / 2, m = 9 10^(d-1). */
uint64_t arith_capacity(int digits) {
    uint64_t m = 9 * ar_pow10(digits - 1);
    return m % 2 ? (m + 1) / 2 * m : m / 2 * (m + 1);
}

/* Open-addressing set of pair keys (key != 0). */
typedef struct ar_keys {
    uint64_t *k;
    size_t cap;
} ar_keys;

/* Inserts key; 1 if it was new, 0 if present. */
static int ar_keys_add(ar_keys *s, uint64_t key) {
    size_t i = (size_t)coco_mix64(key) & (s->cap - 1);
    while (s->k[i]) {
        if (s->k[i] == key) return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->k[i] = key;
    return 1;
}

/* Draws counts[s] pairs for each split into out[s] (malloc'ed; NULL for 0).
 * 0, or -1 + errmsg when the counts exceed the distinct pairs. */
int arith_generate(int digits, uint64_t seed, const int counts[ARITH_NSPLITS], arith_pair *out[ARITH_NSPLITS]) {
    if (digits < 1 || digits > ARITH_MAX_DIGITS) coco_fail("arith_generate: digits = %d outside 1..%d", digits, ARITH_MAX_DIGITS);
    uint64_t total = 0;
    for (int s = 0; s < ARITH_NSPLITS; s++) {
        if (counts[s] < 0) coco_fail("arith_generate: negative count");
        total += (uint64_t)counts[s];
    }
    uint64_t cap = arith_capacity(digits);
    if (total > cap)
        return coco_seterr("dataset 'arith': %llu examples asked for (n_train + n_valid + n_test), but %d-digit operands "
                           "give only %llu distinct pairs",
                           (unsigned long long)total, digits, (unsigned long long)cap);
    ar_keys set = {0};
    set.cap = 16;
    while (set.cap < total * 2 + 16) set.cap *= 2;
    set.k = coco_calloc(set.cap, sizeof(uint64_t), "arith pair set");
    uint64_t lo = ar_pow10(digits - 1), m = 9 * lo, base = ar_pow10(digits);
    static const int order[ARITH_NSPLITS] = {ARITH_TEST, ARITH_VALID, ARITH_TRAIN};
    for (int k = 0; k < ARITH_NSPLITS; k++) {
        int s = order[k];
        out[s] = counts[s] ? coco_malloc(sizeof(arith_pair) * (size_t)counts[s], "arith pairs") : NULL;
        coco_rng r;
        coco_rng_seed(&r, coco_mix64(seed) ^ coco_mix64(0x61726974680000ULL + (uint64_t)s));
        for (int i = 0; i < counts[s];) {
            uint64_t a = lo + coco_rng_below(&r, m), b = lo + coco_rng_below(&r, m);
            uint64_t x = a < b ? a : b, y = a < b ? b : a;
            if (!ar_keys_add(&set, x * base + y + 1)) continue; /* taken: redraw */
            out[s][i].a = a, out[s][i].b = b;
            i++;
        }
    }
    free(set.k);
    return 0;
}

/* One rendered problem; owns its memory. */
typedef struct arith_text {
    char *question, *answer, *meta;
    char **steps;
    int n_steps;
} arith_text;

void arith_text_free(arith_text *t) {
    if (!t) return;
    free(t->question);
    free(t->answer);
    free(t->meta);
    for (int i = 0; i < t->n_steps; i++) free(t->steps[i]);
    free(t->steps);
    memset(t, 0, sizeof *t);
}

/* v in the rendering `numbers` into dst (>= 40 bytes); returns the length. */
static int ar_num(char *dst, uint64_t v, int numbers) {
    char d[24];
    int n = snprintf(d, sizeof d, "%llu", (unsigned long long)v);
    if (numbers == ARITH_PLAIN) {
        memcpy(dst, d, (size_t)n + 1);
        return n;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (i) dst[k++] = ' ';
        dst[k++] = numbers == ARITH_REVERSED ? d[n - 1 - i] : d[i];
    }
    dst[k] = 0;
    return k;
}

/* "<<x op y=z>>" in the rendering (spaced forms put a space between tokens). */
static char *ar_step(uint64_t x, char op, uint64_t y, uint64_t z, int numbers) {
    char a[40], b[40], c[40], buf[160];
    ar_num(a, x, numbers), ar_num(b, y, numbers), ar_num(c, z, numbers);
    if (numbers == ARITH_PLAIN) snprintf(buf, sizeof buf, "<<%s%c%s=%s>>", a, op, b, c);
    else snprintf(buf, sizeof buf, "<< %s %c %s = %s >>", a, op, b, c);
    return coco_strdup(buf);
}

/* Renders a * b as question, steps (see the top), answer and meta. */
void arith_render(const arith_pair *p, int digits, int numbers, arith_text *out) {
    memset(out, 0, sizeof *out);
    char a[40], b[40], buf[160];
    ar_num(a, p->a, numbers), ar_num(b, p->b, numbers);
    snprintf(buf, sizeof buf, numbers == ARITH_PLAIN ? "What is %s * %s?" : "What is %s * %s ?", a, b);
    out->question = coco_strdup(buf);
    out->steps = coco_malloc(sizeof(char *) * (size_t)(2 * digits - 1), "arith steps");
    uint64_t rest = p->b, shift = 1, sum = 0;
    for (int i = 0; i < digits; i++, rest /= 10, shift *= 10) {
        uint64_t mul = rest % 10 * shift, prod = p->a * mul;
        out->steps[out->n_steps++] = ar_step(p->a, '*', mul, prod, numbers);
        if (i > 0) out->steps[out->n_steps++] = ar_step(sum, '+', prod, sum + prod, numbers);
        sum += prod;
    }
    ar_num(buf, sum, numbers);
    out->answer = coco_strdup(buf);
    snprintf(buf, sizeof buf, "{\"a\":%llu,\"b\":%llu,\"digits\":%d}", (unsigned long long)p->a,
             (unsigned long long)p->b, digits);
    out->meta = coco_strdup(buf);
}

/* mkdir -p; 0 or -1 + errmsg. */
static int ar_mkdirs(const char *dir) {
    char *p = coco_strdup(dir);
    for (char *c = p + 1;; c++) {
        if (*c == '/' || !*c) {
            char keep = *c;
            *c = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                coco_seterr("dataset 'arith': cannot create directory %s: %s", p, strerror(errno));
                free(p);
                return -1;
            }
            *c = keep;
            if (!keep) break;
        }
    }
    free(p);
    return 0;
}

/* Writes the splits as dir/{train,valid,test}.txt, one line per problem:
 * "question||step step ... #### answer". All three are written to temp files
 * and renamed into place only when all succeeded. */
int arith_write_files(const char *dir, int digits, int numbers, arith_pair *const pairs[ARITH_NSPLITS],
                      const int counts[ARITH_NSPLITS]) {
    if (ar_mkdirs(dir) != 0) return -1;
    coco_atomic_file af[ARITH_NSPLITS];
    memset(af, 0, sizeof af);
    int rc = 0, opened = 0;
    for (int s = 0; s < ARITH_NSPLITS && rc == 0; s++) {
        size_t n = strlen(dir) + 16;
        char *path = coco_malloc(n, "arith path");
        snprintf(path, n, "%s/%s.txt", dir, arith_split_names[s]);
        FILE *f = coco_atomic_open(&af[s], path);
        free(path);
        if (!f) {
            rc = -1;
            break;
        }
        opened = s + 1;
        for (int i = 0; i < counts[s]; i++) {
            arith_text t;
            arith_render(&pairs[s][i], digits, numbers, &t);
            fputs(t.question, f);
            fputs("||", f);
            for (int k = 0; k < t.n_steps; k++) {
                if (k) fputc(' ', f);
                fputs(t.steps[k], f);
            }
            fprintf(f, " #### %s\n", t.answer);
            arith_text_free(&t);
        }
        if (ferror(f)) rc = coco_seterr("dataset 'arith': write error in %s", af[s].path);
    }
    for (int s = 0; s < opened; s++) {
        if (rc == 0) rc = coco_atomic_commit(&af[s]);
        else coco_atomic_abort(&af[s]);
    }
    return rc;
}

/* ================================================================== plugin */

static const coco_host *ar_host;

typedef struct ar_plugin {
    char *dir;
    int digits, numbers, counts[ARITH_NSPLITS];
    uint64_t seed;
    arith_pair *pairs[ARITH_NSPLITS]; /* drawn on first use */
    int drawn;
} ar_plugin;

static const coco_option_spec ar_options[] = {
    {"digits", COCO_OPT_INT, "4", "digits of both operands (3 = 3x3, 4 = 4x4, ...; 1..9)"},
    {"n_train", COCO_OPT_INT, "10000", "training problems"},
    {"n_valid", COCO_OPT_INT, "500", "validation problems"},
    {"n_test", COCO_OPT_INT, "1000", "test problems"},
    {"seed", COCO_OPT_INT, "1", "generator seed (the data is a function of seed, digits and the counts)"},
    {"numbers", COCO_OPT_STR, "plain",
     "how numbers are written: plain (1234) | spaced (1 2 3 4) | reversed (4 3 2 1, least significant digit first, as iCoT)"},
    {"dir", COCO_OPT_STR, "datasets/arith", "where prepare() writes {train,valid,test}.txt (gsm8k format)"},
    {"train_file", COCO_OPT_STR, "", "must be empty: arith generates its data (read files with gsm8k)"},
    {"valid_file", COCO_OPT_STR, "", "must be empty: arith generates its data (read files with gsm8k)"},
    {"test_file", COCO_OPT_STR, "", "must be empty: arith generates its data (read files with gsm8k)"},
    {"generate", COCO_OPT_BOOL, "true", "unused: the data is always generated (accepted as the driver passes it)"},
    {NULL, 0, NULL, NULL},
};

static void ar_destroy(void *self) {
    ar_plugin *q = self;
    if (!q) return;
    free(q->dir);
    for (int s = 0; s < ARITH_NSPLITS; s++) free(q->pairs[s]);
    free(q);
}

static int ar_create(const coco_options *o, void **self) {
    static const char *const count_opt[ARITH_NSPLITS] = {"n_train", "n_valid", "n_test"};
    static const char *const file_opt[ARITH_NSPLITS] = {"train_file", "valid_file", "test_file"};
    int64_t d = ar_host->opt_int(o, "digits");
    if (d < 1 || d > ARITH_MAX_DIGITS)
        return ar_host->seterr("dataset 'arith': option 'digits' = %lld is outside 1..%d", (long long)d, ARITH_MAX_DIGITS);
    int counts[ARITH_NSPLITS];
    for (int s = 0; s < ARITH_NSPLITS; s++) {
        int64_t c = ar_host->opt_int(o, count_opt[s]);
        if (c < 0 || c > ARITH_MAX_COUNT)
            return ar_host->seterr("dataset 'arith': option '%s' = %lld is outside 0..%d", count_opt[s], (long long)c,
                                   ARITH_MAX_COUNT);
        counts[s] = (int)c;
        const char *f = ar_host->opt_str(o, file_opt[s]);
        if (*f)
            return ar_host->seterr("dataset 'arith': option '%s' = '%s': arith generates its data and reads no files "
                                   "(load files in this format with the gsm8k dataset)",
                                   file_opt[s], f);
    }
    const char *nm = ar_host->opt_str(o, "numbers");
    int numbers = -1;
    for (int i = 0; arith_number_names[i]; i++)
        if (!strcmp(nm, arith_number_names[i])) numbers = i;
    if (numbers < 0)
        return ar_host->seterr("dataset 'arith': option 'numbers' = '%s' is not one of plain, spaced, reversed", nm);
    uint64_t total = (uint64_t)counts[0] + (uint64_t)counts[1] + (uint64_t)counts[2];
    if (total > arith_capacity((int)d))
        return ar_host->seterr("dataset 'arith': n_train + n_valid + n_test = %llu exceeds the %llu distinct pairs of "
                               "%lld-digit operands",
                               (unsigned long long)total, (unsigned long long)arith_capacity((int)d), (long long)d);
    const char *dir = ar_host->opt_str(o, "dir");
    if (!*dir) return ar_host->seterr("dataset 'arith': option 'dir' is empty");
    ar_plugin *q = coco_calloc(1, sizeof *q, "arith plugin");
    q->dir = coco_strdup(dir);
    q->digits = (int)d;
    q->numbers = numbers;
    memcpy(q->counts, counts, sizeof counts);
    q->seed = (uint64_t)ar_host->opt_int(o, "seed");
    *self = q;
    return 0;
}

static int ar_draw(ar_plugin *q) {
    if (q->drawn) return 0;
    if (arith_generate(q->digits, q->seed, q->counts, q->pairs) != 0) return -1;
    q->drawn = 1;
    return 0;
}

static int ar_load(void *self, const char *split, const coco_example_sink *sink) {
    ar_plugin *q = self;
    int s = -1;
    for (int k = 0; k < ARITH_NSPLITS; k++)
        if (split && !strcmp(split, arith_split_names[k])) s = k;
    if (s < 0) return ar_host->seterr("dataset 'arith': unknown split '%s' (expected train, valid or test)", split);
    if (ar_draw(q) != 0) return -1;
    for (int i = 0; i < q->counts[s]; i++) {
        arith_text t;
        arith_render(&q->pairs[s][i], q->digits, q->numbers, &t);
        coco_example ex = {t.question, (const char *const *)t.steps, t.n_steps, t.answer, t.meta};
        int rc = sink->add(sink->ud, &ex);
        arith_text_free(&t);
        if (rc != 0) return -1;
    }
    return 0;
}

static int ar_prepare(void *self) {
    ar_plugin *q = self;
    if (ar_draw(q) != 0) return -1;
    ar_host->log("writing %dx%d multiplication into %s (seed %llu; %d train, %d valid, %d test; numbers %s)", q->digits,
                 q->digits, q->dir, (unsigned long long)q->seed, q->counts[ARITH_TRAIN], q->counts[ARITH_VALID],
                 q->counts[ARITH_TEST], arith_number_names[q->numbers]);
    return arith_write_files(q->dir, q->digits, q->numbers, q->pairs, q->counts);
}

static const coco_dataset_vt ar_vt = {
    .struct_size = sizeof(coco_dataset_vt),
    .create = ar_create,
    .destroy = ar_destroy,
    .load = ar_load,
    .prepare = ar_prepare,
};

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *host) {
    ar_host = host;
    p->kind = COCO_KIND_DATASET;
    p->name = "arith";
    p->doc = "generated d x d multiplication, partial products and running sums as <<a*b=c>> steps (GSM8k format)";
    p->options = ar_options;
    p->vtable = &ar_vt;
    return 0;
}

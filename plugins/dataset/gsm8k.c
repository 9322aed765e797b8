/* gsm8k.c — dataset plugin "gsm8k": GSM8k in the iCoT text format.
 *
 * Owns: reading <dir>/{train,valid,test}.txt (or the files named by the
 * train_file / valid_file / test_file options) and turning each line into one
 * example. It never writes files and has no generator.
 *
 * Format (da03/Internalize_CoT_Step_by_Step data/gsm8k/{train,valid,test}.txt, the files the
 * Coconut repo's preprocessing/gsm_icot.py reads): UTF-8 text, one example per
 * line,
 *
 *   QUESTION||<<calc1>> <<calc2>> ... #### ANSWER
 *
 * e.g. "...How much does he pay per year?||<<4-2=2>> <<2/.5=4>> #### 300".
 * The official preprocessing (../shared/research/paper.md §4.2) gives
 *   question  the text before "||", unchanged (not stripped);
 *   steps     the "<<...>>" items of the chain (between "||" and "####"),
 *             each kept verbatim with its brackets, in order; an empty chain
 *             (the line "...?|| #### 9") gives no steps;
 *   answer    the text after "####", whitespace-stripped, commas removed
 *             ("1,600" -> "1600"; the official scorer removes commas from
 *             the prediction and the gold answer alike).
 * Differences from gsm_icot.py, which splits the chain on single spaces: an
 * empty chain gives zero steps here where gsm_icot.py gives one empty step
 * [""]; extra spaces between items do not create empty steps; an item may
 * contain spaces ("<<4 - 2=2>>" stays one step). On the published valid and
 * test files (no empty-chain line aside) the two parses agree.
 *
 * Lines: "\n" separated; a trailing "\r" is dropped; blank (whitespace-only)
 * lines are skipped; line numbers in messages count every line from 1.
 * Unicode passes through byte for byte (the files hold ’ “ ” € ¾ and NBSP).
 *
 * Errors (load returns -1, nothing of the split is emitted, the message names
 * "file:line:column" and what is wrong):
 *   no "||", more than one "||", no "####" after "||", more than one "####";
 *   a "<<" that is never closed or is followed by another "<<" before its
 *   ">>", a ">>" without "<<", an empty item "<<>>", text in the chain outside
 *   "<<...>>" items; an empty question; an empty answer or one holding '#'
 *   (answers are read back as the text after the last '#', so it could never
 *   be scored); bytes that are not UTF-8, NUL bytes; a file without examples;
 *   a missing or unreadable file.
 *
 * Options: dir (default datasets/gsm8k), train_file, valid_file, test_file
 * ("" = <dir>/<split>.txt). generate and seed are accepted and unused: the
 * experiment driver (scripts/coco/experiment.lua) passes them to every dataset
 * plugin, and GSM8k has nothing to generate. meta_json is NULL.
 *
 * tests/c/test_gsm8k.c includes this file to test the parser directly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coconut/base.h"
#include "coconut/plugin.h"

/* ================================================================== parser */

/* One parsed line; owns its memory. */
typedef struct gsm8k_example {
    char *question, *answer;
    char **steps;
    int n_steps;
    int line; /* 1-based line number in its file */
} gsm8k_example;

typedef struct gsm8k_set {
    gsm8k_example *ex;
    int n, cap;
} gsm8k_set;

void gsm8k_example_free(gsm8k_example *e) {
    if (!e) return;
    free(e->question);
    free(e->answer);
    for (int i = 0; i < e->n_steps; i++) free(e->steps[i]);
    free(e->steps);
    memset(e, 0, sizeof *e);
}

void gsm8k_set_free(gsm8k_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) gsm8k_example_free(&s->ex[i]);
    free(s->ex);
    memset(s, 0, sizeof *s);
}

static char *g8_dup(const char *s, size_t n) {
    char *d = coco_malloc(n + 1, "gsm8k text");
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static int g8_space(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

/* Byte offset of the first invalid UTF-8 sequence in s[0..n), or -1 when it is
 * all valid (overlong forms, surrogates and code points > U+10FFFF are invalid). */
static long g8_utf8_bad(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        int len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
        else return (long)i;
        if (i + (size_t)len > n) return (long)i;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return (long)i;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return (long)i;
        i += (size_t)len;
    }
    return -1;
}

/* First occurrence of pat in s[from..n), or -1. */
static long g8_find(const char *s, size_t n, size_t from, const char *pat) {
    size_t m = strlen(pat);
    for (size_t i = from; i + m <= n; i++)
        if (!memcmp(s + i, pat, m)) return (long)i;
    return -1;
}

/* Parses one line s[0..n) (without its "\n"; a trailing "\r" is ignored).
 * Returns 0 and fills *out, 1 for a blank line (out untouched), or -1 with
 * coco_seterr("<col>: <what>") — the column (1-based, in bytes) first, so the
 * caller can prefix "file:line:". */
int gsm8k_parse_line(const char *s, size_t n, gsm8k_example *out) {
    if (n && s[n - 1] == '\r') n--;
    size_t k = 0;
    while (k < n && (g8_space(s[k]) || s[k] == '\n')) k++;
    if (k == n) return 1;
    const char *nul = memchr(s, 0, n);
    if (nul) return coco_seterr("%ld: NUL byte", (long)(nul - s) + 1);
    long bad = g8_utf8_bad((const unsigned char *)s, n);
    if (bad >= 0) return coco_seterr("%ld: bytes that are not UTF-8", bad + 1);

    long bar = g8_find(s, n, 0, "||");
    if (bar < 0) return coco_seterr("1: no '||' between the question and the chain (expected 'question||<<...>> #### answer')");
    long bar2 = g8_find(s, n, (size_t)bar + 2, "||");
    if (bar2 >= 0) return coco_seterr("%ld: a second '||' (the first is at column %ld)", bar2 + 1, bar + 1);
    long hash = g8_find(s, n, (size_t)bar + 2, "####");
    if (hash < 0) return coco_seterr("%ld: no '####' before the answer after '||'", bar + 3);
    long hash2 = g8_find(s, n, (size_t)hash + 4, "####");
    if (hash2 >= 0) return coco_seterr("%ld: a second '####' (the first is at column %ld)", hash2 + 1, hash + 1);

    /* question: s[0..bar), kept verbatim; must hold more than whitespace */
    int q_text = 0;
    for (long i = 0; i < bar; i++) q_text |= !g8_space(s[i]);
    if (!q_text) return coco_seterr("1: empty question before '||'");

    /* answer: s[hash+4..n), stripped, commas removed */
    size_t a0 = (size_t)hash + 4, a1 = n;
    while (a0 < a1 && g8_space(s[a0])) a0++;
    while (a1 > a0 && g8_space(s[a1 - 1])) a1--;
    if (a0 == a1) return coco_seterr("%ld: empty answer after '####'", hash + 5);
    for (size_t i = a0; i < a1; i++)
        if (s[i] == '#') return coco_seterr("%zu: the answer holds '#' (answers are read back after the last '#')", i + 1);

    /* chain: s[bar+2..hash): "<<...>>" items separated by whitespace. First a
     * pass that validates and counts, then one that copies. */
    int n_steps = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            out->steps = n_steps ? coco_malloc(sizeof(char *) * (size_t)n_steps, "gsm8k steps") : NULL;
            out->n_steps = 0;
        }
        size_t i = (size_t)bar + 2, end = (size_t)hash;
        while (i < end) {
            if (g8_space(s[i])) { i++; continue; }
            if (i + 1 < end && s[i] == '<' && s[i + 1] == '<') {
                long close = g8_find(s, end, i + 2, ">>");
                long reopen = g8_find(s, end, i + 2, "<<");
                if (close < 0) return coco_seterr("%zu: '<<' is never closed by '>>'", i + 1);
                if (reopen >= 0 && reopen < close)
                    return coco_seterr("%zu: unbalanced '<<': another '<<' opens at column %ld before its '>>'", i + 1,
                                       reopen + 1);
                if ((size_t)close == i + 2) return coco_seterr("%zu: empty step '<<>>'", i + 1);
                if (pass == 1) out->steps[out->n_steps++] = g8_dup(s + i, (size_t)close + 2 - i);
                else n_steps++;
                i = (size_t)close + 2;
                continue;
            }
            if (i + 1 < end && s[i] == '>' && s[i + 1] == '>') return coco_seterr("%zu: '>>' without '<<'", i + 1);
            size_t j = i;
            while (j < end && !g8_space(s[j]) && !(j + 1 < end && s[j] == '<' && s[j + 1] == '<')) j++;
            return coco_seterr("%zu: text outside '<<...>>' in the chain: '%.*s'", i + 1, (int)(j - i > 40 ? 40 : j - i),
                               s + i);
        }
    }
    out->question = g8_dup(s, (size_t)bar);
    out->answer = coco_malloc(a1 - a0 + 1, "gsm8k answer");
    size_t m = 0;
    for (size_t i = a0; i < a1; i++)
        if (s[i] != ',') out->answer[m++] = s[i];
    out->answer[m] = 0;
    if (!m) {
        gsm8k_example_free(out);
        return coco_seterr("%ld: the answer is only commas", hash + 5);
    }
    return 0;
}

/* Reads every example of path into *out (0), or -1 with "path:line:col: what"
 * and *out empty. */
int gsm8k_load_file(const char *path, gsm8k_set *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return coco_seterr("%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = coco_malloc(cap, "gsm8k file");
    for (;;) {
        if (len == cap) buf = coco_realloc(buf, cap *= 2, "gsm8k file");
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return coco_seterr("%s: read error", path);
    }
    int line = 0;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - buf) : len;
        line++;
        gsm8k_example ex = {0};
        int rc = gsm8k_parse_line(buf + p, e - p, &ex);
        if (rc < 0) {
            char *why = coco_strdup(coco_errmsg());
            gsm8k_set_free(out);
            free(buf);
            coco_seterr("%s:%d:%s", path, line, why);
            free(why);
            return -1;
        }
        if (rc == 0) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 256;
                out->ex = coco_realloc(out->ex, sizeof *out->ex * (size_t)out->cap, "gsm8k examples");
            }
            ex.line = line;
            out->ex[out->n++] = ex;
        }
        p = e + 1;
    }
    free(buf);
    if (!out->n) return coco_seterr("%s: no examples (expected lines 'question||<<...>> #### answer')", path);
    return 0;
}

/* ================================================================== plugin */

static const coco_host *g8_host;

enum { G8_TRAIN, G8_VALID, G8_TEST, G8_NSPLITS };
static const char *const g8_split_names[G8_NSPLITS] = {"train", "valid", "test"};

typedef struct g8_plugin {
    char *dir, *file[G8_NSPLITS];
} g8_plugin;

static const coco_option_spec g8_options[] = {
    {"dir", COCO_OPT_STR, "datasets/gsm8k", "directory of {train,valid,test}.txt (iCoT format)"},
    {"train_file", COCO_OPT_STR, "", "explicit train file (\"\" = <dir>/train.txt)"},
    {"valid_file", COCO_OPT_STR, "", "explicit valid file (\"\" = <dir>/valid.txt)"},
    {"test_file", COCO_OPT_STR, "", "explicit test file (\"\" = <dir>/test.txt)"},
    {"generate", COCO_OPT_BOOL, "false", "unused: GSM8k has no generator (accepted as the driver passes it)"},
    {"seed", COCO_OPT_INT, "0", "unused: GSM8k has no generator (accepted as the driver passes it)"},
    {NULL, 0, NULL, NULL},
};

static void g8_destroy(void *self) {
    g8_plugin *q = self;
    if (!q) return;
    free(q->dir);
    for (int s = 0; s < G8_NSPLITS; s++) free(q->file[s]);
    free(q);
}

static int g8_create(const coco_options *o, void **self) {
    static const char *const file_opt[G8_NSPLITS] = {"train_file", "valid_file", "test_file"};
    const char *dir = g8_host->opt_str(o, "dir");
    if (!*dir) return g8_host->seterr("dataset 'gsm8k': option 'dir' is empty");
    g8_plugin *q = coco_calloc(1, sizeof *q, "gsm8k plugin");
    q->dir = coco_strdup(dir);
    for (int s = 0; s < G8_NSPLITS; s++) q->file[s] = coco_strdup(g8_host->opt_str(o, file_opt[s]));
    *self = q;
    return 0;
}

static int g8_load(void *self, const char *split, const coco_example_sink *sink) {
    g8_plugin *q = self;
    int s = -1;
    for (int k = 0; k < G8_NSPLITS; k++)
        if (split && !strcmp(split, g8_split_names[k])) s = k;
    if (s < 0) return g8_host->seterr("dataset 'gsm8k': unknown split '%s' (expected train, valid or test)", split);
    char *path;
    if (q->file[s][0]) {
        path = coco_strdup(q->file[s]);
    } else {
        size_t n = strlen(q->dir) + 16;
        path = coco_malloc(n, "gsm8k path");
        snprintf(path, n, "%s/%s.txt", q->dir, g8_split_names[s]);
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        int rc = q->file[s][0]
                     ? g8_host->seterr("dataset 'gsm8k': %s_file '%s' does not exist", g8_split_names[s], path)
                     : g8_host->seterr("dataset 'gsm8k': no %s split: %s does not exist (set %s_file, or dir to a "
                                       "directory holding %s.txt)",
                                       g8_split_names[s], path, g8_split_names[s], g8_split_names[s]);
        free(path);
        return rc;
    }
    gsm8k_set set;
    int rc = gsm8k_load_file(path, &set);
    free(path);
    /* the whole file parsed before the first example is emitted: a malformed
     * line fails the load without handing the host half a split */
    for (int i = 0; rc == 0 && i < set.n; i++) {
        const gsm8k_example *e = &set.ex[i];
        coco_example ex = {e->question, (const char *const *)e->steps, e->n_steps, e->answer, NULL};
        rc = sink->add(sink->ud, &ex);
    }
    gsm8k_set_free(&set);
    return rc ? -1 : 0;
}

static const coco_dataset_vt g8_vt = {
    .struct_size = sizeof(coco_dataset_vt),
    .create = g8_create,
    .destroy = g8_destroy,
    .load = g8_load,
    .prepare = NULL,
};

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *host) {
    g8_host = host;
    p->kind = COCO_KIND_DATASET;
    p->name = "gsm8k";
    p->doc = "GSM8k in the iCoT text format (question||<<a*b=c>> ... #### answer): {train,valid,test}.txt";
    p->options = g8_options;
    p->vtable = &g8_vt;
    return 0;
}

/* prontoqa.c — ProntoQA in the Coconut JSON format: loader and dataset plugin.
 *
 * Owns: reading, validating and emitting ProntoQA examples. ProntoQA cannot be
 * generated here (its generator is asaparov/prontoqa, a Python program), so
 * this plugin only reads files that already exist.
 *
 * Format (Coconut's preprocessing/prontoqa.py; ../shared/data/README.md): one
 * JSON array, each element an object with
 *   question  string, the facts and rules then the query, e.g.
 *             "... Max is a vumpus. True or false: Max is not wooden."
 *   steps     list of strings, the chain of thought two sentences per step
 *             (6 steps for 5 hops; an empty list is allowed)
 *   answer    string, "True" or "False" in the real data
 * Other keys are ignored (Coconut's dataset.py reads only these three). Text
 * is UTF-8 and passes through unchanged (JSON escapes such as \u00e9 or \"
 * are decoded by the JSON library, nothing else is touched). The released
 * splits are 9000 / 200 / 800 examples; this loader does not insist on it.
 *
 * Checks, each an error for the whole file (no example of a file that fails is
 * ever emitted: the file is validated completely before the first one is):
 *   - the file is readable, non-empty, valid UTF-8 JSON without duplicate keys;
 *   - the top level is a non-empty array;
 *   - every element is an object with question (non-empty string), steps
 *     (array of strings, possibly empty; a step may be "") and answer;
 *   - the answer is something the official scoring can reproduce: the
 *     prediction is the generated text after its last '#', commas removed,
 *     white space stripped (scripts/coco/layout.lua, extract_answer), so a
 *     gold answer that is empty, contains '#' or ',' or a line break, or
 *     starts or ends with white space could never be scored correct.
 *
 * Errors: -1 with coco_seterr. A JSON syntax error reports the library's
 * "<file>:<line>:<column>: <what>". A shape error names the file, the line and
 * column of the offending value (the example's opening brace for a missing
 * key, the step itself for a non-string step), the 0-based example index and
 * the field: "<file>:<line>:<column>: example <i>: field 'steps' entry <j> is
 * a number, not a string". Columns count characters, as the library's do.
 *
 * JSON: parsed with jansson, the library prosqa.c and the core use (the host
 * API itself exposes no JSON helper). jansson keeps no source positions for
 * values, so after a shape error pq_locate re-scans the already-parsed text to
 * find the offending value; that scanner only skips over valid JSON and never
 * builds values, and it runs only on the error path.
 *
 * Plugin "prontoqa" (the end of this file; built to
 * build/plugins/dataset/prontoqa.so). Options:
 *   dir          directory of {train,valid,test}.json, or of Coconut's own
 *                prontoqa_{train,valid,test}.json (datasets/prontoqa)
 *   train_file, valid_file, test_file   explicit files ("" = from dir)
 *   generate, seed   accepted because the shared experiment driver passes
 *                them to every dataset; ProntoQA has no generator, so a
 *                missing file is an error either way
 *   forms        written (default): the text as in the file; singular: every
 *                plural concept noun ("Zumpuses", "gorpuses") in the question
 *                and steps becomes its lower-case singular ("zumpus",
 *                "gorpus"), so that a word-level tokenizer gives each concept
 *                one token instead of three ("Zumpuses", "zumpuses",
 *                "zumpus") and a rule can be found by token identity
 *                (prontoqa_singular); compact: singular, and the function
 *                words each, every, is, are, a, an are left out ("Each zumpus
 *                is a gorpus." -> "zumpus gorpus.", "Max is not hot." -> "Max
 *                not hot."): a rule's object is one token after its subject
 *                (two after a "not"), as in ProsQA's symbolic rendering
 *                (prontoqa_compact); the answer is untouched
 *   frontiers    false (default): meta_json NULL; true: meta_json is the
 *                question's reasoning graph and frontiers (prontoqa_graph),
 *                for the frontier losses and the stage probe, whatever forms
 *                the text is emitted in (node names are the singular forms)
 *   concepts     fixed (default) | permute: at epoch >= 1 (option epoch, which
 *                the driver sets for each training epoch) every example's
 *                concept names are relabelled (prontoqa_permute), keyed by
 *                seed, epoch, split and example index; epoch 0 is the file
 *   epoch        see concepts (0)
 * load(split) emits the split's examples in file order.
 * tests/c/test_prontoqa.c includes this file directly to test the loader.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coconut/base.h"
#include "coconut/plugin.h"

/* ================================================================== API */

enum { PRONTOQA_TRAIN, PRONTOQA_VALID, PRONTOQA_TEST, PRONTOQA_NSPLITS };

#define PRONTOQA_DEFAULT_DIR "datasets/prontoqa"

/* One example; owns its strings. */
typedef struct prontoqa_example {
    char *question, *answer;
    char **steps;
    int n_steps;
} prontoqa_example;

typedef struct prontoqa_set {
    prontoqa_example *ex;
    int n;
} prontoqa_set;

const char *prontoqa_split_name(int split); /* "train", "valid", "test"; NULL outside */
/* Reads and validates the whole file: 0 with out filled, or -1 + errmsg and
 * out empty (n = 0, ex = NULL). */
int prontoqa_load_json(const char *path, prontoqa_set *out);
void prontoqa_set_free(prontoqa_set *s);
/* The "singular" concept forms (option forms): a malloc'ed copy of s in which
 * every word of ASCII letters ending in "puses" (ProntoQA's plural concept
 * nouns: "Zumpuses", "gorpuses") becomes its singular, lower-cased
 * ("zumpus", "gorpus"). Every other byte is copied unchanged. */
char *prontoqa_singular(const char *s);
/* The "compact" forms (option forms): prontoqa_singular(s) without the whole
 * words (any case) each, every, is, are, a, an, each with the space after it
 * (or, at the end of a sentence, the one before it). Malloc'ed. */
char *prontoqa_compact(const char *s);
/* The reasoning graph of a question (option frontiers), for the frontier
 * losses and probes that ProsQA's meta feeds (scripts/coco/layout.lua). q is a
 * question in singular forms (prontoqa_singular). Every sentence before the
 * last "True or false:" is a fact or a rule, read as
 *   [Each|Every] S (is|are) [not] [a|an] O
 * and gives the edge S -> O (a node per distinct word: entity names,
 * concepts, properties), except a negated concept ("is not a O") which
 * inherits nothing; a negated property is still an edge, since the property
 * is what the chain reaches ("numpus are not wooden"). The query "R is [not]
 * T" names the root R and the target T. With D = dist(R, T):
 *   frontier[k]     nodes v with dist(R, v) = k and dist(v, T) = D - k
 *                   (on a shortest path), k = 1..D;
 *   bfs_frontier[k] nodes v with dist(R, v) = k.
 * On the released splits D = 6 = the number of steps and every frontier has
 * one node, the gold chain's concept (tests/c/test_prontoqa.c). Returns the
 * compact JSON {"format":"prontoqa","idx_to_symbol":[..],"edges":[[s,t]..],
 * "root":r,"target":t,"neg_target":-1,"hops":D,"frontier":[[..]..],
 * "bfs_frontier":[[..]..],"node_tokens":[names]} (malloc'ed), or NULL with
 * a message in err (size errn) for a sentence that is not of that shape, a
 * missing query, or a target the root does not reach. */
char *prontoqa_graph(const char *q, char *err, size_t errn);
/* The concept relabelling (option concepts = permute): every word of ASCII
 * letters ending in "pus" or "puses" is a concept, its stem the lower-cased
 * word without that suffix ("Zumpuses" -> "zum"). The n texts of one example
 * (question, then steps) are rewritten in place (each freed and replaced) with
 * one random permutation of their distinct stems (sorted, then shuffled by a
 * generator seeded with `key`), the suffix and the first letter's case kept:
 * with zum -> gor, "Zumpuses are zumpus." becomes "Gorpuses are gorpus.". The
 * same key gives the same relabelling; the answer is never touched. */
void prontoqa_permute(char **texts, int n, unsigned long long key);

/* ================================================================== text positions */

/* A cursor over JSON text that knows its line and (character) column. */
typedef struct pq_cur {
    const char *s;
    size_t n, i;
    int line, col;
} pq_cur;

static void pq_adv(pq_cur *c) {
    if (c->i >= c->n) return;
    unsigned char ch = (unsigned char)c->s[c->i++];
    if (ch == '\n') c->line++, c->col = 1;
    else if ((ch & 0xC0) != 0x80) c->col++; /* a UTF-8 continuation byte is not a new character */
}

static int pq_peek(const pq_cur *c) { return c->i < c->n ? (unsigned char)c->s[c->i] : -1; }

static void pq_skip_ws(pq_cur *c) {
    for (int ch; (ch = pq_peek(c)) == ' ' || ch == '\t' || ch == '\n' || ch == '\r';) pq_adv(c);
}

/* At '"': past the closing quote. */
static void pq_skip_string(pq_cur *c) {
    pq_adv(c);
    for (int ch; (ch = pq_peek(c)) >= 0;) {
        pq_adv(c);
        if (ch == '\\') pq_adv(c);
        else if (ch == '"') return;
    }
}

/* Past one value (the text is known to be valid JSON). */
static void pq_skip_value(pq_cur *c) {
    int ch = pq_peek(c);
    if (ch == '"') {
        pq_skip_string(c);
    } else if (ch == '[' || ch == '{') {
        int depth = 0;
        while ((ch = pq_peek(c)) >= 0) {
            if (ch == '"') {
                pq_skip_string(c);
                continue;
            }
            pq_adv(c);
            if (ch == '[' || ch == '{') depth++;
            else if ((ch == ']' || ch == '}') && --depth == 0) return;
        }
    } else {
        while ((ch = pq_peek(c)) >= 0 && ch != ',' && ch != ']' && ch != '}' && ch != ' ' && ch != '\t' && ch != '\n' &&
               ch != '\r')
            pq_adv(c);
    }
}

/* At '[': moves to the start of element k; 0, or -1 when there are fewer. */
static int pq_enter_elem(pq_cur *c, int k) {
    if (pq_peek(c) != '[') return -1;
    pq_adv(c);
    pq_skip_ws(c);
    if (pq_peek(c) == ']') return -1;
    for (int j = 0; j < k; j++) {
        pq_skip_value(c);
        pq_skip_ws(c);
        if (pq_peek(c) != ',') return -1;
        pq_adv(c);
        pq_skip_ws(c);
    }
    return 0;
}

/* At '{': moves to the value of key (compared as written between the quotes;
 * a key spelt with escapes is not found); 0, or -1 when absent. */
static int pq_enter_key(pq_cur *c, const char *key) {
    if (pq_peek(c) != '{') return -1;
    pq_adv(c);
    size_t klen = strlen(key);
    for (;;) {
        pq_skip_ws(c);
        if (pq_peek(c) != '"') return -1;
        size_t k0 = c->i + 1;
        pq_skip_string(c);
        int match = c->i - 1 - k0 == klen && !memcmp(c->s + k0, key, klen);
        pq_skip_ws(c);
        if (pq_peek(c) != ':') return -1;
        pq_adv(c);
        pq_skip_ws(c);
        if (match) return 0;
        pq_skip_value(c);
        pq_skip_ws(c);
        if (pq_peek(c) != ',') return -1;
        pq_adv(c);
    }
}

/* Line and column of example ex of the top-level array, of its field key
 * (NULL: the example itself) and of that field's element elem (-1: the field
 * itself). Each step that cannot be taken leaves the position of the last one
 * that could (e.g. a missing key: the example's opening brace). */
static void pq_locate(const char *s, size_t n, int ex, const char *key, int elem, int *line, int *col) {
    pq_cur c = {s, n, 0, 1, 1};
    pq_skip_ws(&c);
    *line = c.line, *col = c.col;
    if (ex < 0 || pq_enter_elem(&c, ex) != 0) return;
    *line = c.line, *col = c.col;
    if (!key || pq_enter_key(&c, key) != 0) return;
    *line = c.line, *col = c.col;
    if (elem < 0 || pq_enter_elem(&c, elem) != 0) return;
    *line = c.line, *col = c.col;
}

/* ================================================================== loader */

const char *prontoqa_split_name(int split) {
    static const char *const names[PRONTOQA_NSPLITS] = {"train", "valid", "test"};
    return split >= 0 && split < PRONTOQA_NSPLITS ? names[split] : NULL;
}

void prontoqa_set_free(prontoqa_set *s) {
    for (int i = 0; i < s->n; i++) {
        prontoqa_example *e = &s->ex[i];
        free(e->question);
        free(e->answer);
        for (int k = 0; k < e->n_steps; k++) free(e->steps[k]);
        free(e->steps);
    }
    free(s->ex);
    s->ex = NULL;
    s->n = 0;
}

static const char *pq_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return "null";
    }
}

/* The file's bytes (malloc'ed, NUL-terminated) or NULL + errmsg. */
static char *pq_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        coco_seterr("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = coco_malloc(cap, "prontoqa file");
    for (;;) {
        if (n + 1 >= cap) buf = coco_realloc(buf, cap *= 2, "prontoqa file");
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f), err = errno;
    fclose(f);
    if (bad) {
        free(buf);
        coco_seterr("%s: cannot read: %s", path, strerror(err));
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* The shape checks of one example (see the contract); 0, or -1 + errmsg with
 * the position of the offending value. */
static int pq_check_example(const char *path, const char *text, size_t len, int i, json_t *o) {
    int line, col;
    static const char *const need = "each example needs question (string), steps (list of strings) and answer (string)";
    if (!json_is_object(o)) {
        pq_locate(text, len, i, NULL, -1, &line, &col);
        return coco_seterr("%s:%d:%d: example %d is %s, not an object (%s)", path, line, col, i, pq_type_name(o), need);
    }
    static const char *const fields[] = {"question", "steps", "answer"};
    for (int f = 0; f < 3; f++) {
        json_t *v = json_object_get(o, fields[f]);
        if (!v) {
            pq_locate(text, len, i, NULL, -1, &line, &col);
            return coco_seterr("%s:%d:%d: example %d: no '%s' field (%s)", path, line, col, i, fields[f], need);
        }
        int want_array = f == 1;
        if (want_array ? !json_is_array(v) : !json_is_string(v)) {
            pq_locate(text, len, i, fields[f], -1, &line, &col);
            return coco_seterr("%s:%d:%d: example %d: field '%s' is %s, not %s", path, line, col, i, fields[f],
                               pq_type_name(v), want_array ? "a list of strings" : "a string");
        }
    }
    json_t *steps = json_object_get(o, "steps");
    for (size_t k = 0; k < json_array_size(steps); k++) {
        json_t *s = json_array_get(steps, k);
        if (!json_is_string(s)) {
            pq_locate(text, len, i, "steps", (int)k, &line, &col);
            return coco_seterr("%s:%d:%d: example %d: field 'steps' entry %zu is %s, not a string", path, line, col, i,
                               k, pq_type_name(s));
        }
    }
    if (json_string_length(json_object_get(o, "question")) == 0) {
        pq_locate(text, len, i, "question", -1, &line, &col);
        return coco_seterr("%s:%d:%d: example %d: field 'question' is empty", path, line, col, i);
    }
    const char *a = json_string_value(json_object_get(o, "answer"));
    size_t an = strlen(a);
    const char *why = NULL;
    if (an == 0) why = "it is empty";
    else if (strchr(a, '#')) why = "it contains '#'";
    else if (strchr(a, ',')) why = "it contains ','";
    else if (strpbrk(a, "\n\r")) why = "it contains a line break";
    else if (strchr(" \t\v\f", a[0]) || strchr(" \t\v\f", a[an - 1])) why = "it starts or ends with white space";
    if (why) {
        pq_locate(text, len, i, "answer", -1, &line, &col);
        return coco_seterr("%s:%d:%d: example %d: field 'answer' = \"%.40s\" can never be scored correct: %s (the "
                           "prediction is the text after the last '#', commas removed, white space stripped)",
                           path, line, col, i, a, why);
    }
    return 0;
}

int prontoqa_load_json(const char *path, prontoqa_set *out) {
    memset(out, 0, sizeof *out);
    size_t len = 0;
    char *text = pq_read_file(path, &len);
    if (!text) return -1;
    size_t ws = strspn(text, " \t\r\n");
    if (ws == len) {
        free(text);
        return coco_seterr("%s: the file is empty (expected a JSON array of examples)", path);
    }
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!root) {
        free(text);
        if (err.line > 0) return coco_seterr("%s:%d:%d: %s", path, err.line, err.column, err.text);
        return coco_seterr("%s: %s", path, err.text);
    }
    int rc = 0, line, col;
    if (!json_is_array(root)) {
        pq_locate(text, len, -1, NULL, -1, &line, &col);
        rc = coco_seterr("%s:%d:%d: the top level is %s, not an array of examples", path, line, col,
                         pq_type_name(root));
    } else if (json_array_size(root) == 0) {
        rc = coco_seterr("%s: no examples (an empty JSON array)", path);
    } else if (json_array_size(root) > (size_t)INT32_MAX) {
        rc = coco_seterr("%s: more than %d examples", path, INT32_MAX);
    }
    /* Validate everything first, so that a bad example late in the file
     * leaves nothing half-loaded. */
    size_t n = rc ? 0 : json_array_size(root);
    for (size_t i = 0; rc == 0 && i < n; i++) rc = pq_check_example(path, text, len, (int)i, json_array_get(root, i));
    if (rc == 0) {
        out->ex = coco_calloc(n, sizeof *out->ex, "prontoqa examples");
        out->n = (int)n;
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_array_get(root, i), *steps = json_object_get(o, "steps");
            prontoqa_example *e = &out->ex[i];
            e->question = coco_strdup(json_string_value(json_object_get(o, "question")));
            e->answer = coco_strdup(json_string_value(json_object_get(o, "answer")));
            e->n_steps = (int)json_array_size(steps);
            e->steps = coco_malloc(sizeof(char *) * (size_t)(e->n_steps ? e->n_steps : 1), "prontoqa steps");
            for (int k = 0; k < e->n_steps; k++) e->steps[k] = coco_strdup(json_string_value(json_array_get(steps, k)));
        }
    }
    json_decref(root);
    free(text);
    return rc ? -1 : 0;
}

/* The end of the run of ASCII letters that starts at s[i] (i itself when s[i]
 * is none); both form rewrites walk their text word by word with it. */
static size_t pq_word_end(const char *s, size_t i, size_t n) {
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) i++;
    return i;
}

char *prontoqa_singular(const char *s) {
    size_t n = strlen(s), o = 0;
    char *out = coco_malloc(n + 1, "prontoqa singular");
    for (size_t i = 0; i < n;) {
        size_t j = pq_word_end(s, i, n);
        if (j == i) { out[o++] = s[i++]; continue; }
        /* s[i, j) is a word of letters; "…puses" -> "…pus", first letter lower */
        size_t w = j - i;
        if (w > 5 && !memcmp(s + j - 5, "puses", 5)) {
            out[o++] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
            memcpy(out + o, s + i + 1, w - 3);
            o += w - 3;
        } else {
            memcpy(out + o, s + i, w);
            o += w;
        }
        i = j;
    }
    out[o] = 0;
    return out;
}

static int pq_is_filler(const char *w, size_t n) {
    static const char *const fill[] = {"each", "every", "is", "are", "a", "an"};
    for (size_t k = 0; k < sizeof fill / sizeof *fill; k++) {
        size_t m = strlen(fill[k]), i = 0;
        if (m != n) continue;
        while (i < n && (w[i] | 0x20) == fill[k][i]) i++;
        if (i == n) return 1;
    }
    return 0;
}

char *prontoqa_compact(const char *s) {
    char *in = prontoqa_singular(s);
    size_t n = strlen(in), o = 0;
    char *out = coco_malloc(n + 1, "prontoqa compact");
    for (size_t i = 0; i < n;) {
        size_t j = pq_word_end(in, i, n); /* in[i, j) is a whole word: i follows a non-letter */
        if (j == i) { out[o++] = in[i++]; continue; }
        if (pq_is_filler(in + i, j - i)) { /* drop it with one space */
            if (j < n && in[j] == ' ') j++;
            else if (o > 0 && out[o - 1] == ' ') o--;
        } else {
            memcpy(out + o, in + i, j - i);
            o += j - i;
        }
        i = j;
    }
    out[o] = 0;
    free(in);
    return out;
}

/* ================================================================== concept relabelling */

/* The concept word at s[i, j) (letters): its stem length (the word minus
 * "pus" or "puses"), or 0 when it is no concept. */
static size_t pq_stem_len(const char *s, size_t i, size_t j) {
    size_t w = j - i;
    if (w > 5 && !memcmp(s + j - 5, "puses", 5)) return w - 5;
    if (w > 3 && !memcmp(s + j - 3, "pus", 3)) return w - 3;
    return 0;
}

static int pq_is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static char pq_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Stems are compared lower-cased: "Zum" and "zum" are one stem. */
static int pq_stem_eq(const char *a, size_t al, const char *b, size_t bl) {
    if (al != bl) return 0;
    for (size_t k = 0; k < al; k++)
        if (pq_lower(a[k]) != pq_lower(b[k])) return 0;
    return 1;
}

static int pq_stem_cmp(const void *x, const void *y) {
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    return strcmp(a, b);
}

static unsigned long long pq_mix(unsigned long long *st) { /* splitmix64 */
    unsigned long long z = (*st += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void prontoqa_permute(char **texts, int n, unsigned long long key) {
    char **stem = NULL; /* distinct lower-cased stems */
    int ns = 0, cap = 0;
    for (int t = 0; t < n; t++) {
        const char *s = texts[t];
        for (size_t i = 0, len = strlen(s); i < len;) {
            size_t j = i;
            while (j < len && pq_is_alpha(s[j])) j++;
            if (j == i) { i++; continue; }
            size_t sl = pq_stem_len(s, i, j);
            int seen = 0;
            for (int k = 0; sl && k < ns && !seen; k++) seen = pq_stem_eq(stem[k], strlen(stem[k]), s + i, sl);
            if (sl && !seen) {
                if (ns == cap) cap = cap ? 2 * cap : 32, stem = coco_realloc(stem, sizeof *stem * (size_t)cap, "prontoqa permute");
                char *c = coco_malloc(sl + 1, "prontoqa permute");
                for (size_t k = 0; k < sl; k++) c[k] = pq_lower(s[i + k]);
                c[sl] = 0;
                stem[ns++] = c;
            }
            i = j;
        }
    }
    if (ns > 1) {
        qsort(stem, (size_t)ns, sizeof *stem, pq_stem_cmp); /* the draw must not depend on text order */
        int *to = coco_malloc(sizeof(int) * (size_t)ns, "prontoqa permute");
        for (int k = 0; k < ns; k++) to[k] = k;
        unsigned long long st = key;
        for (int k = ns - 1; k > 0; k--) { /* Fisher-Yates */
            int r = (int)(pq_mix(&st) % (unsigned long long)(k + 1)), x = to[k];
            to[k] = to[r], to[r] = x;
        }
        for (int t = 0; t < n; t++) {
            const char *s = texts[t];
            size_t len = strlen(s), longest = 0, o = 0;
            for (int k = 0; k < ns; k++) if (strlen(stem[k]) > longest) longest = strlen(stem[k]);
            /* a stem can grow by at most longest bytes per concept word */
            char *out = coco_malloc(len + (len / 4 + 1) * (longest + 1) + 1, "prontoqa permute");
            for (size_t i = 0; i < len;) {
                size_t j = i;
                while (j < len && pq_is_alpha(s[j])) j++;
                if (j == i) { out[o++] = s[i++]; continue; }
                size_t sl = pq_stem_len(s, i, j);
                int k = 0;
                while (sl && k < ns && !pq_stem_eq(stem[k], strlen(stem[k]), s + i, sl)) k++;
                if (!sl || k == ns) { memcpy(out + o, s + i, j - i), o += j - i; i = j; continue; }
                const char *ns_ = stem[to[k]];
                size_t nl = strlen(ns_);
                memcpy(out + o, ns_, nl);
                if (s[i] >= 'A' && s[i] <= 'Z' && out[o] >= 'a' && out[o] <= 'z') out[o] = (char)(out[o] - 'a' + 'A');
                o += nl;
                memcpy(out + o, s + i + sl, j - i - sl), o += j - i - sl; /* the suffix */
                i = j;
            }
            out[o] = 0;
            free(texts[t]);
            texts[t] = out;
        }
        free(to);
    }
    for (int k = 0; k < ns; k++) free(stem[k]);
    free(stem);
}

/* ================================================================== reasoning graph */

typedef struct pq_graph {
    char **name;       /* n node names */
    int n, cap;
    int (*edge)[2];    /* m edges */
    int m, ecap;
} pq_graph;

static int pq_node(pq_graph *g, const char *w, size_t len) {
    for (int i = 0; i < g->n; i++)
        if (strlen(g->name[i]) == len && !memcmp(g->name[i], w, len)) return i;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 32;
        g->name = coco_realloc(g->name, sizeof *g->name * (size_t)g->cap, "prontoqa graph");
    }
    char *c = coco_malloc(len + 1, "prontoqa graph");
    memcpy(c, w, len), c[len] = 0;
    g->name[g->n] = c;
    return g->n++;
}

static void pq_edge(pq_graph *g, int a, int b) {
    if (g->m == g->ecap) {
        g->ecap = g->ecap ? 2 * g->ecap : 64;
        g->edge = coco_realloc(g->edge, sizeof *g->edge * (size_t)g->ecap, "prontoqa graph");
    }
    g->edge[g->m][0] = a, g->edge[g->m][1] = b, g->m++;
}

static void pq_graph_free(pq_graph *g) {
    for (int i = 0; i < g->n; i++) free(g->name[i]);
    free(g->name), free(g->edge);
}

/* Words of the sentence s[0, len): up to cap (start, length) pairs; returns
 * the count (cap + 1 when there are more). */
static int pq_words(const char *s, size_t len, const char **w, size_t *wl, int cap) {
    int n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
        if (i >= len) break;
        size_t j = i;
        while (j < len && !(s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) j++;
        if (n == cap) return cap + 1;
        w[n] = s + i, wl[n] = j - i, n++;
        i = j;
    }
    return n;
}

static int pq_is(const char *w, size_t l, const char *lit) { return strlen(lit) == l && !memcmp(w, lit, l); }

/* One sentence s[0, len) as [Each|Every] S (is|are) [not] [a|an] O: *subj,
 * *obj (word spans), *neg_concept (a negated "a|an O"). 0, or -1 when it has
 * another shape. */
static int pq_sentence(const char *s, size_t len, const char **subj, size_t *sl, const char **obj, size_t *ol,
                       int *neg_concept) {
    const char *w[8];
    size_t wl[8];
    int n = pq_words(s, len, w, wl, 7), i = 0;
    if (n > 7) return -1;
    if (n > 0 && (pq_is(w[0], wl[0], "Each") || pq_is(w[0], wl[0], "Every"))) i++;
    if (n - i < 3) return -1;
    *subj = w[i], *sl = wl[i], i++;
    if (!pq_is(w[i], wl[i], "is") && !pq_is(w[i], wl[i], "are")) return -1;
    i++;
    int neg = 0, art = 0;
    if (i < n - 1 && pq_is(w[i], wl[i], "not")) neg = 1, i++;
    if (i < n - 1 && (pq_is(w[i], wl[i], "a") || pq_is(w[i], wl[i], "an"))) art = 1, i++;
    if (i != n - 1) return -1;
    *obj = w[i], *ol = wl[i];
    *neg_concept = neg && art;
    return 0;
}

/* Breadth-first distances from src over the edges (reverse: against them);
 * -1 = unreached. */
static void pq_bfs(const pq_graph *g, int src, int reverse, int *dist, int *queue) {
    for (int i = 0; i < g->n; i++) dist[i] = -1;
    int h = 0, t = 0;
    dist[src] = 0, queue[t++] = src;
    while (h < t) {
        int u = queue[h++];
        for (int e = 0; e < g->m; e++) {
            int a = g->edge[e][reverse], b = g->edge[e][!reverse];
            if (a == u && dist[b] < 0) dist[b] = dist[u] + 1, queue[t++] = b;
        }
    }
}

static json_t *pq_layer_json(const int *dist, const int *rdist, int n, int k, int D) {
    json_t *set = json_array();
    for (int v = 0; v < n; v++)
        if (dist[v] == k && (!rdist || rdist[v] == D - k)) json_array_append_new(set, json_integer(v));
    return set;
}

char *prontoqa_graph(const char *q, char *err, size_t errn) {
    const char *key = "True or false:", *query = NULL;
    for (const char *p = strstr(q, key); p; p = strstr(p + 1, key)) query = p;
    if (!query) {
        snprintf(err, errn, "no query: the question has no \"True or false:\"");
        return NULL;
    }
    pq_graph g = {0};
    const char *subj, *obj;
    size_t sl, ol;
    int negc, sentence = 0;
    for (const char *p = q; p < query;) {
        const char *e = memchr(p, '.', (size_t)(query - p));
        if (!e) e = query;
        int blank = 1;
        for (const char *c = p; c < e; c++)
            if (!(*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')) blank = 0;
        if (!blank) {
            sentence++;
            if (pq_sentence(p, (size_t)(e - p), &subj, &sl, &obj, &ol, &negc) != 0) {
                int show = (int)(e - p > 60 ? 60 : e - p);
                snprintf(err, errn, "sentence %d (\"%.*s\") is not \"[Each|Every] S is|are [not] [a|an] O\"", sentence,
                         show, p);
                pq_graph_free(&g);
                return NULL;
            }
            int a = pq_node(&g, subj, sl), b = pq_node(&g, obj, ol);
            if (!negc) pq_edge(&g, a, b);
        }
        p = e + 1;
    }
    const char *qs = query + strlen(key), *qe = strchr(qs, '.');
    if (!qe) qe = qs + strlen(qs);
    if (pq_sentence(qs, (size_t)(qe - qs), &subj, &sl, &obj, &ol, &negc) != 0 || negc) {
        snprintf(err, errn, "the query \"%.*s\" is not \"R is [not] T\"", (int)(qe - qs > 60 ? 60 : qe - qs), qs);
        pq_graph_free(&g);
        return NULL;
    }
    int root = pq_node(&g, subj, sl), target = pq_node(&g, obj, ol);
    int *dist = coco_malloc(sizeof(int) * (size_t)g.n * 3, "prontoqa graph"), *rdist = dist + g.n, *queue = rdist + g.n;
    pq_bfs(&g, root, 0, dist, queue);
    pq_bfs(&g, target, 1, rdist, queue);
    int D = dist[target];
    if (D <= 0) {
        snprintf(err, errn, "the query's property '%s' is not reachable from '%s'", g.name[target], g.name[root]);
        free(dist);
        pq_graph_free(&g);
        return NULL;
    }
    json_t *o = json_object(), *names = json_array(), *edges = json_array(), *fr = json_array(), *bfs = json_array();
    for (int i = 0; i < g.n; i++) json_array_append_new(names, json_string(g.name[i]));
    for (int e = 0; e < g.m; e++) json_array_append_new(edges, json_pack("[ii]", g.edge[e][0], g.edge[e][1]));
    for (int k = 1; k <= D; k++) {
        json_array_append_new(fr, pq_layer_json(dist, rdist, g.n, k, D));
        json_array_append_new(bfs, pq_layer_json(dist, NULL, g.n, k, D));
    }
    json_object_set_new(o, "format", json_string("prontoqa"));
    json_object_set(o, "idx_to_symbol", names);
    json_object_set_new(o, "edges", edges);
    json_object_set_new(o, "root", json_integer(root));
    json_object_set_new(o, "target", json_integer(target));
    json_object_set_new(o, "neg_target", json_integer(-1));
    json_object_set_new(o, "hops", json_integer(D));
    json_object_set_new(o, "frontier", fr);
    json_object_set_new(o, "bfs_frontier", bfs);
    json_object_set_new(o, "node_tokens", names); /* the names are the words a word tokenizer reads */
    free(dist);
    pq_graph_free(&g);
    char *txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!txt) coco_fail("prontoqa: out of memory serialising an example's graph");
    char *copy = coco_strdup(txt); /* jansson's allocator may differ from ours */
    free(txt);
    return copy;
}

/* ================================================================== dataset plugin */

static const coco_host *pq_host;

typedef struct pq_plugin {
    char *dir, *file[PRONTOQA_NSPLITS];
    int singular;  /* option forms = "singular" (1) or "compact" (2) */
    int frontiers; /* option frontiers: meta_json = prontoqa_graph */
    int permute;   /* option concepts = "permute" */
    long long seed, epoch;
} pq_plugin;

static const coco_option_spec pq_options[] = {
    {"dir", COCO_OPT_STR, PRONTOQA_DEFAULT_DIR,
     "directory of {train,valid,test}.json (or Coconut's prontoqa_{split}.json), e.g. ../shared/data/prontoqa"},
    {"train_file", COCO_OPT_STR, "", "explicit train file (\"\" = from dir)"},
    {"valid_file", COCO_OPT_STR, "", "explicit valid file (\"\" = from dir)"},
    {"test_file", COCO_OPT_STR, "", "explicit test file (\"\" = from dir)"},
    {"generate", COCO_OPT_BOOL, "false", "accepted for the shared driver; ProntoQA cannot be generated here"},
    {"seed", COCO_OPT_INT, "0", "seeds the concept relabelling of concepts = permute (nothing else: no generator)"},
    {"forms", COCO_OPT_STR, "written",
     "concept nouns: written (as in the file) | singular (\"Zumpuses are gorpuses.\" -> \"zumpus are gorpus.\": one "
     "token per concept for a word-level tokenizer; the answer is untouched) | compact (singular, without each, every, "
     "is, are, a, an: \"Each zumpus is a gorpus.\" -> \"zumpus gorpus.\", a rule's object right after its subject)"},
    {"frontiers", COCO_OPT_BOOL, "false",
     "give each example its reasoning graph in meta_json (root, target, shortest-path and BFS frontiers, node names "
     "in singular forms), for --coconut_loss frontier|bfs and --stage_probe; a question whose graph cannot be read "
     "is an error naming the file, line and example"},
    {"concepts", COCO_OPT_STR, "fixed",
     "concept names: fixed (as in the file) | permute (at epoch >= 1, each example's concept stems permuted at random, "
     "consistently over its question and steps, from seed, epoch and example: fresh names every epoch, so a rule can "
     "only be found by looking it up; epoch 0, which valid and test use, is the file)"},
    {"epoch", COCO_OPT_INT, "0", "the training epoch the driver asks for (concepts = permute draws from it; 0 = the file)"},
    {NULL, 0, NULL, NULL},
};

static void pq_plugin_destroy(void *self) {
    pq_plugin *q = self;
    if (!q) return;
    free(q->dir);
    for (int s = 0; s < PRONTOQA_NSPLITS; s++) free(q->file[s]);
    free(q);
}

static int pq_plugin_create(const coco_options *o, void **self) {
    const char *dir = pq_host->opt_str(o, "dir");
    if (!*dir) return pq_host->seterr("dataset 'prontoqa': option 'dir' is empty");
    const char *forms = pq_host->opt_str(o, "forms");
    if (strcmp(forms, "written") && strcmp(forms, "singular") && strcmp(forms, "compact"))
        return pq_host->seterr("dataset 'prontoqa': option 'forms' is '%s' (expected written, singular or compact)", forms);
    const char *concepts = pq_host->opt_str(o, "concepts");
    if (strcmp(concepts, "fixed") && strcmp(concepts, "permute"))
        return pq_host->seterr("dataset 'prontoqa': option 'concepts' is '%s' (expected fixed or permute)", concepts);
    long long epoch = pq_host->opt_int(o, "epoch");
    if (epoch < 0) return pq_host->seterr("dataset 'prontoqa': option 'epoch' is %lld (expected >= 0)", epoch);
    pq_plugin *q = coco_calloc(1, sizeof *q, "prontoqa plugin");
    q->dir = coco_strdup(dir);
    q->singular = !strcmp(forms, "singular") ? 1 : !strcmp(forms, "compact") ? 2 : 0;
    q->frontiers = pq_host->opt_bool(o, "frontiers");
    q->permute = !strcmp(concepts, "permute");
    q->seed = pq_host->opt_int(o, "seed");
    q->epoch = epoch;
    for (int s = 0; s < PRONTOQA_NSPLITS; s++) {
        char opt[32];
        snprintf(opt, sizeof opt, "%s_file", prontoqa_split_name(s));
        q->file[s] = coco_strdup(pq_host->opt_str(o, opt));
    }
    *self = q;
    return 0;
}

static int pq_is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The file of split s (malloc'ed) or NULL + errmsg naming what was tried and
 * the options that choose it. */
static char *pq_plugin_path(const pq_plugin *q, int s) {
    const char *name = prontoqa_split_name(s);
    if (q->file[s][0]) {
        if (pq_is_file(q->file[s])) return coco_strdup(q->file[s]);
        coco_seterr("dataset 'prontoqa': %s_file '%s' does not exist or is not a file", name, q->file[s]);
        return NULL;
    }
    size_t n = strlen(q->dir) + 32;
    char *ours = coco_malloc(n, "prontoqa path"), *official = coco_malloc(n, "prontoqa path");
    snprintf(ours, n, "%s/%s.json", q->dir, name);
    snprintf(official, n, "%s/prontoqa_%s.json", q->dir, name);
    char *found = NULL;
    if (pq_is_file(ours)) found = ours, ours = NULL;
    else if (pq_is_file(official)) found = official, official = NULL;
    else
        coco_seterr("dataset 'prontoqa': no %s split: neither %s nor %s exists. ProntoQA cannot be generated here: "
                    "set option 'dir' to a directory holding {train,valid,test}.json in the Coconut format (e.g. "
                    "../shared/data/prontoqa), or option '%s_file'",
                    name, ours, official, name);
    free(ours);
    free(official);
    return found;
}

static int pq_plugin_load(void *self, const char *split, const coco_example_sink *sink) {
    pq_plugin *q = self;
    int s = -1;
    for (int k = 0; k < PRONTOQA_NSPLITS; k++)
        if (split && !strcmp(split, prontoqa_split_name(k))) s = k;
    if (s < 0)
        return coco_seterr("dataset 'prontoqa': unknown split '%s' (expected train, valid or test)", split ? split : "(null)");
    char *path = pq_plugin_path(q, s);
    if (!path) return -1;
    prontoqa_set set;
    int rc = prontoqa_load_json(path, &set);
    if (rc == 0 && q->permute && q->epoch > 0) {
        for (int i = 0; i < set.n; i++) {
            prontoqa_example *e = &set.ex[i];
            char **t = coco_malloc(sizeof *t * (size_t)(e->n_steps + 1), "prontoqa permute");
            t[0] = e->question;
            for (int k = 0; k < e->n_steps; k++) t[k + 1] = e->steps[k];
            unsigned long long key = (unsigned long long)q->seed * 0x100000001b3ULL ^ (unsigned long long)q->epoch * 0x9e3779b97f4a7c15ULL
                                   ^ ((unsigned long long)i + 1) * 0xc2b2ae3d27d4eb4fULL ^ (unsigned long long)s * 0x165667b19e3779f9ULL;
            prontoqa_permute(t, e->n_steps + 1, key);
            e->question = t[0];
            for (int k = 0; k < e->n_steps; k++) e->steps[k] = t[k + 1];
            free(t);
        }
    }
    char **meta = rc == 0 && q->frontiers ? coco_calloc((size_t)set.n + 1, sizeof *meta, "prontoqa meta") : NULL;
    /* every graph is read before the first example is emitted: a file that
     * fails emits nothing */
    for (int i = 0; rc == 0 && meta && i < set.n; i++) {
        char *sq = prontoqa_singular(set.ex[i].question), err[256];
        meta[i] = prontoqa_graph(sq, err, sizeof err);
        free(sq);
        if (!meta[i]) {
            size_t len;
            int line = 0, col = 0;
            char *text = pq_read_file(path, &len);
            if (text) pq_locate(text, len, i, "question", -1, &line, &col);
            free(text);
            rc = coco_seterr("%s:%d:%d: example %d: field 'question': frontiers = true: %s", path, line, col, i, err);
        }
    }
    for (int i = 0; rc == 0 && i < set.n; i++) {
        prontoqa_example *e = &set.ex[i];
        if (q->singular) { /* rewritten in place: the set is freed below */
            char *(*form)(const char *) = q->singular == 2 ? prontoqa_compact : prontoqa_singular;
            char *t = form(e->question);
            free(e->question), e->question = t;
            for (int k = 0; k < e->n_steps; k++) t = form(e->steps[k]), free(e->steps[k]), e->steps[k] = t;
        }
        coco_example ex = {e->question, (const char *const *)e->steps, e->n_steps, e->answer, meta ? meta[i] : NULL};
        rc = sink->add(sink->ud, &ex); /* -1: the host asked to stop; its message is set */
    }
    if (meta)
        for (int i = 0; i < set.n; i++) free(meta[i]);
    free(meta);
    free(path);
    prontoqa_set_free(&set);
    return rc ? -1 : 0;
}

static const coco_dataset_vt pq_vt = {
    .struct_size = sizeof(coco_dataset_vt),
    .create = pq_plugin_create,
    .destroy = pq_plugin_destroy,
    .load = pq_plugin_load,
    .prepare = NULL, /* nothing to generate */
};

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *host) {
    pq_host = host;
    p->kind = COCO_KIND_DATASET;
    p->name = "prontoqa";
    p->doc = "ProntoQA (Coconut JSON: question, steps, answer) from {train,valid,test}.json; no generator";
    p->options = pq_options;
    p->vtable = &pq_vt;
    return 0;
}

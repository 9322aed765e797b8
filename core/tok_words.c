/* tok_words.c — word-level tokenizer for synthetic data (ProsQA, ProntoQA):
 * splitting rules, deterministic vocabulary, canonical decode, JSON save/load.
 * The rules are stated in coconut/tokenizer.h. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

static inline int is_alnum(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_wordc(unsigned char c) { return is_alnum(c) || c == '_' || c >= 0x80; }
static inline int is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

typedef int (*emit_fn)(void *ctx, const char *s, size_t n);

/* Splits s[0..n) into words, marks and newlines (see the header). */
static int scan(const char *s, size_t n, emit_fn emit, void *ctx) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        size_t j = i + 1;
        if (is_blank(c)) {
            i++;
            continue;
        }
        if (is_wordc(c)) {
            for (;;) {
                if (j < n && is_wordc(u[j])) {
                    j++;
                } else if (j + 1 < n && is_wordc(u[j + 1]) &&
                           (u[j] == '\'' || u[j] == '-' ||
                            ((u[j] == '.' || u[j] == ',') && is_digit(u[j - 1]) && is_digit(u[j + 1])))) {
                    j += 2;
                } else {
                    break;
                }
            }
        } else if (c != '\n') {
            while (j < n && u[j] == c) j++;
        }
        if (emit(ctx, s + i, j - i) < 0) return -1;
        i = j;
    }
    return 0;
}

/* ------------------------------------------------------------ encode */

typedef struct enc_ctx {
    const coco_tokenizer *t;
    coco_tk_ids *out;
    const char *text; /* for byte offsets in messages */
} enc_ctx;

static int enc_emit(void *ctx, const char *s, size_t n) {
    enc_ctx *c = ctx;
    int64_t id = coco_tk_map_find(&c->t->vocab, s, n, coco_tk_hash(s, n));
    if (id < 0) {
        if (c->t->unk < 0)
            return coco_seterr("words tokenizer: unknown word \"%.*s\" at byte %zu (not among the %u tokens; "
                               "build with <unk> to map unknown words to it)",
                               (int)(n > 200 ? 200 : n), s, (size_t)(s - c->text), c->t->vocab.n);
        id = c->t->unk;
    }
    coco_tk_ids_push(c->out, (int32_t)id);
    return 0;
}

static int enc_seg(void *ctx, const char *s, size_t n, coco_tk_ids *out) {
    enc_ctx *c = ctx;
    c->out = out;
    return scan(s, n, enc_emit, c);
}

int64_t coco_tk_words_encode(const coco_tokenizer *t, const char *text, size_t len, coco_tk_ids *out) {
    enc_ctx c = {t, out, text};
    if (coco_tk_split_specials(t, text, len, enc_seg, &c, out) < 0) return -1;
    return (int64_t)out->n;
}

/* ------------------------------------------------------------ decode */

enum { C_WORD, C_OPEN, C_CLOSE, C_NL, C_GLUE };

static int tok_class(const coco_tokenizer *t, int32_t id) {
    if (t->special[id] && id != t->unk) return C_GLUE;
    const coco_tk_ent *e = &t->vocab.ent[id];
    unsigned char c = (unsigned char)t->vocab.keys[e->off];
    if (c == '\n' && e->len == 1) return C_NL;
    if (c && strchr(".,;:!?)]}%", c)) return C_CLOSE;
    if (c && e->len == 1 && strchr("([{", c)) return C_OPEN;
    return C_WORD;
}

int coco_tk_words_decode(const coco_tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += t->vocab.ent[ids[i]].len + 1;
    char *s = coco_malloc(total + 1, "decoded text"), *p = s;
    int prev = C_GLUE;
    for (size_t i = 0; i < n; i++) {
        int cur = tok_class(t, ids[i]);
        if ((prev == C_WORD || prev == C_CLOSE) && (cur == C_WORD || cur == C_OPEN)) *p++ = ' ';
        const coco_tk_ent *e = &t->vocab.ent[ids[i]];
        memcpy(p, t->vocab.keys + e->off, e->len);
        p += e->len;
        prev = cur;
    }
    *p = 0;
    *out = s;
    if (len) *len = (size_t)(p - s);
    return 0;
}

/* ------------------------------------------------------------ build */

typedef struct build_ctx {
    coco_tk_map words;
} build_ctx;

static int build_emit(void *ctx, const char *s, size_t n) {
    build_ctx *c = ctx;
    coco_tk_map_put(&c->words, s, n, coco_tk_hash(s, n), 0, NULL);
    return 0;
}

static int build_seg(void *ctx, const char *s, size_t n, coco_tk_ids *out) { return scan(s, n, build_emit, ctx); }

typedef struct span {
    const char *s;
    uint32_t n;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

coco_tokenizer *coco_tok_words_build(const char *const *texts, size_t n, const char *const *specials,
                                     size_t nspecial, int with_unk) {
    if (!texts && n) coco_fail("coco_tok_words_build: texts is NULL with count %zu", n);
    if (!specials && nspecial) coco_fail("coco_tok_words_build: specials is NULL with count %zu", nspecial);
    for (size_t i = 0; i < n; i++)
        if (!texts[i]) coco_fail("coco_tok_words_build: texts[%zu] is NULL", i);
    for (size_t i = 0; i < nspecial; i++)
        if (!specials[i] || !*specials[i]) coco_fail("coco_tok_words_build: specials[%zu] is NULL or empty", i);
    coco_tokenizer *t = coco_tk_new(COCO_TK_WORDS, 1024);
    coco_tk_append(t, "<|endoftext|>", 13);
    for (size_t i = 0; i < nspecial; i++) coco_tk_mark_special(t, coco_tk_append(t, specials[i], strlen(specials[i])));
    if (with_unk) {
        t->unk = coco_tk_append(t, "<unk>", 5);
        coco_tk_mark_special(t, t->unk);
    }
    build_ctx c;
    coco_tk_map_init(&c.words, 1024);
    coco_tk_ids scratch = {0};
    for (size_t i = 0; i < n; i++) {
        scratch.n = 0;
        coco_tk_split_specials(t, texts[i], strlen(texts[i]), build_seg, &c, &scratch);
    }
    free(scratch.v);
    span *sp = coco_malloc((c.words.n ? c.words.n : 1) * sizeof *sp, "word list");
    for (uint32_t i = 0; i < c.words.n; i++) sp[i] = (span){coco_tk_key(&c.words, i), c.words.ent[i].len};
    qsort(sp, c.words.n, sizeof *sp, span_cmp);
    for (uint32_t i = 0; i < c.words.n; i++) coco_tk_append(t, sp[i].s, sp[i].n);
    free(sp);
    coco_tk_map_free(&c.words);
    return t;
}

/* ------------------------------------------------------------ save / load */

static json_t *tok_json(const coco_tokenizer *t, int32_t id) {
    const coco_tk_ent *e = &t->vocab.ent[id];
    return json_stringn(t->vocab.keys + e->off, e->len); /* NULL if not UTF-8 */
}

int coco_tk_words_save(const coco_tokenizer *t, const char *path) {
    json_t *root = json_object(), *toks = json_array(), *spec = json_array();
    json_object_set_new(root, "kind", json_string("words"));
    json_object_set_new(root, "version", json_integer(1));
    int rc = -1;
    for (uint32_t i = 0; i < t->vocab.n; i++) {
        json_t *s = tok_json(t, (int32_t)i);
        if (!s) {
            coco_seterr("%s: not saved: token %u is not valid UTF-8", path, i);
            goto done;
        }
        json_array_append_new(toks, s);
    }
    for (size_t k = 0; k < t->nspec; k++) json_array_append_new(spec, tok_json(t, t->spec_ids[k]));
    json_object_set(root, "tokens", toks);
    json_object_set(root, "specials", spec);
    json_object_set_new(root, "unk", t->unk >= 0 ? tok_json(t, t->unk) : json_null());
    coco_atomic_file af;
    FILE *fp = coco_atomic_open(&af, path);
    if (!fp) goto done;
    if (json_dumpf(root, fp, JSON_INDENT(1)) != 0 || fputc('\n', fp) == EOF) {
        coco_atomic_abort(&af);
        coco_seterr("%s: write failed", path);
        goto done;
    }
    rc = coco_atomic_commit(&af);
done:
    json_decref(toks);
    json_decref(spec);
    json_decref(root);
    return rc;
}

/* Looks s up; -1 + errmsg naming `field` when s is not a token string. */
static int32_t field_token(const coco_tokenizer *t, const char *path, const char *field, json_t *s) {
    if (!json_is_string(s)) return coco_seterr("%s: %s is not a string", path, field);
    const char *v = json_string_value(s);
    size_t n = json_string_length(s);
    int64_t id = coco_tk_map_find(&t->vocab, v, n, coco_tk_hash(v, n));
    if (id < 0) return coco_seterr("%s: %s \"%s\" is not in \"tokens\"", path, field, v);
    return (int32_t)id;
}

coco_tokenizer *coco_tok_words_load(const char *path) {
    if (!path) coco_fail("coco_tok_words_load: path is NULL");
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (je.line < 1)
            coco_seterr("%s: %s", path, je.text);
        else
            coco_seterr("%s:%d:%d: %s", path, je.line, je.column, je.text);
        return NULL;
    }
    coco_tokenizer *t = NULL;
    json_t *kind = json_object_get(root, "kind"), *ver = json_object_get(root, "version");
    json_t *toks = json_object_get(root, "tokens"), *spec = json_object_get(root, "specials");
    json_t *unk = json_object_get(root, "unk");
    if (!json_is_object(root) || !json_is_string(kind) || strcmp(json_string_value(kind), "words") != 0) {
        coco_seterr("%s: not a word-level tokenizer (expected an object with \"kind\": \"words\")", path);
        goto fail;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        coco_seterr("%s: unsupported \"version\" (this build reads version 1)", path);
        goto fail;
    }
    if (!json_is_array(toks)) {
        coco_seterr("%s: \"tokens\" must be an array of strings (index = id)", path);
        goto fail;
    }
    if (spec && !json_is_array(spec)) {
        coco_seterr("%s: \"specials\" must be an array of strings", path);
        goto fail;
    }
    t = coco_tk_new(COCO_TK_WORDS, (uint32_t)json_array_size(toks));
    size_t i;
    json_t *v;
    json_array_foreach(toks, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0) {
            coco_seterr("%s: tokens[%zu] is not a non-empty string", path, i);
            goto fail;
        }
        int32_t id = coco_tk_append(t, json_string_value(v), json_string_length(v));
        if ((size_t)id != i) {
            coco_seterr("%s: tokens[%zu] \"%s\" duplicates tokens[%d]", path, i, json_string_value(v), id);
            goto fail;
        }
    }
    char field[64];
    json_array_foreach(spec, i, v) {
        snprintf(field, sizeof field, "specials[%zu]", i);
        int32_t id = field_token(t, path, field, v);
        if (id < 0) goto fail;
        coco_tk_mark_special(t, id);
    }
    if (unk && !json_is_null(unk)) {
        if ((t->unk = field_token(t, path, "\"unk\"", unk)) < 0) goto fail;
        coco_tk_mark_special(t, t->unk);
    }
    json_decref(root);
    return t;
fail:
    coco_tok_free(t);
    json_decref(root);
    return NULL;
}

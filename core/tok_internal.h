/* tok_internal.h — shared parts of the tokenizers (not installed).
 *
 * tokenizer.c: the byte-string hash map, the common struct, special-token
 * splitting and the public dispatch. tok_bpe.c: GPT-2. tok_words.c: word-level.
 */
#ifndef COCONUT_TOK_INTERNAL_H
#define COCONUT_TOK_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "coconut/tokenizer.h"

/* Open-addressing hash map from byte strings to a 64-bit value. Entries are
 * numbered in insertion order and never removed (only cleared all at once), so
 * a vocabulary inserted in id order has entry index == id. Keys live in one
 * pool, each followed by a NUL so they can be handed out as C strings. */
typedef struct coco_tk_ent {
    uint64_t hash;
    uint64_t off; /* into keys */
    uint32_t len;
    uint64_t val;
} coco_tk_ent;

typedef struct coco_tk_map {
    uint32_t *slot; /* cap slots: entry index + 1, 0 = empty */
    uint32_t cap;   /* power of two, at least 2 * n */
    coco_tk_ent *ent;
    uint32_t n, ent_cap;
    char *keys;
    size_t keys_len, keys_cap;
} coco_tk_map;

uint64_t coco_tk_hash(const void *p, size_t n);
void coco_tk_map_init(coco_tk_map *m, uint32_t expect);
void coco_tk_map_free(coco_tk_map *m);
void coco_tk_map_clear(coco_tk_map *m);
/* Entry index of key, or -1. */
int64_t coco_tk_map_find(const coco_tk_map *m, const void *key, size_t len, uint64_t h);
/* Inserts key (if absent) with val; returns its entry index; *added says which. */
uint32_t coco_tk_map_put(coco_tk_map *m, const void *key, size_t len, uint64_t h, uint64_t val, int *added);
static inline const char *coco_tk_key(const coco_tk_map *m, uint32_t i) { return m->keys + m->ent[i].off; }

/* Growable id buffer for encode output. */
typedef struct coco_tk_ids {
    int32_t *v;
    size_t n, cap;
} coco_tk_ids;
void coco_tk_ids_grow(coco_tk_ids *o, size_t need);
static inline void coco_tk_ids_push(coco_tk_ids *o, int32_t id) {
    if (o->n == o->cap) coco_tk_ids_grow(o, o->n + 1);
    o->v[o->n++] = id;
}

enum { COCO_TK_GPT2 = 1, COCO_TK_WORDS = 2 };

struct coco_tk_bpe;

struct coco_tokenizer {
    int kind;
    coco_tk_map vocab;   /* token bytes -> id; entry index == id */
    uint8_t *special;    /* per id: 1 if added/special */
    size_t special_cap;
    int32_t *spec_ids;   /* specials in order of addition */
    size_t nspec, spec_cap;
    uint16_t spec_first[256]; /* active specials starting with this byte */
    int32_t eos;         /* -1 if absent */
    int eos_special;     /* eos is matched in text */
    int32_t unk;         /* word-level <unk>, -1 if off */
    struct coco_tk_bpe *bpe; /* GPT-2 only */
};

/* Common construction: empty tokenizer of `kind`; append a token (returns id). */
coco_tokenizer *coco_tk_new(int kind, uint32_t expect);
int32_t coco_tk_append(coco_tokenizer *t, const char *s, size_t len);
/* Mark id special (in order); recompute the first-byte table. */
void coco_tk_mark_special(coco_tokenizer *t, int32_t id);
void coco_tk_refresh_specials(coco_tokenizer *t);

/* Split text on active specials: calls seg(ctx, piece) for ordinary text and
 * pushes special ids into out. Stops and returns -1 when seg does. */
typedef int (*coco_tk_seg_fn)(void *ctx, const char *s, size_t n, coco_tk_ids *out);
int coco_tk_split_specials(const coco_tokenizer *t, const char *text, size_t len, coco_tk_seg_fn seg, void *ctx,
                           coco_tk_ids *out);

/* GPT-2 (tok_bpe.c). */
int64_t coco_tk_bpe_encode(coco_tokenizer *t, const char *text, size_t len, coco_tk_ids *out);
void coco_tk_bpe_free(struct coco_tk_bpe *b);
int coco_tk_bpe_set_cache(coco_tokenizer *t, int on);

/* Word-level (tok_words.c). */
int64_t coco_tk_words_encode(const coco_tokenizer *t, const char *text, size_t len, coco_tk_ids *out);
int coco_tk_words_decode(const coco_tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len);
int coco_tk_words_save(const coco_tokenizer *t, const char *path);

#endif

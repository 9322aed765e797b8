/* tokenizer.c — what both tokenizers share: the byte-string hash map, the
 * vocabulary and special-token bookkeeping, splitting text on special tokens,
 * and the public entry points that dispatch to tok_bpe.c / tok_words.c. */
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* ------------------------------------------------------------ hashing */

static inline uint64_t mix64(uint64_t h) {
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return h;
}

/* 8 bytes per step; words are short, so the tail load dominates. */
uint64_t coco_tk_hash(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)n * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = mix64(h ^ w) * 0x9E3779B97F4A7C15ull;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return mix64(mix64(h ^ w) + 0x632BE59BD9B4E019ull);
}

/* ------------------------------------------------------------ map */

void coco_tk_map_init(coco_tk_map *m, uint32_t expect) {
    memset(m, 0, sizeof *m);
    m->cap = 16;
    while (m->cap < 2u * expect) m->cap <<= 1;
    m->slot = coco_calloc(m->cap, sizeof *m->slot, "token map slots");
    m->ent_cap = expect > 8 ? expect : 8;
    m->ent = coco_malloc((size_t)m->ent_cap * sizeof *m->ent, "token map entries");
    m->keys_cap = (size_t)m->ent_cap * 8 + 64;
    m->keys = coco_malloc(m->keys_cap, "token map keys");
}

void coco_tk_map_free(coco_tk_map *m) {
    free(m->slot);
    free(m->ent);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

void coco_tk_map_clear(coco_tk_map *m) {
    memset(m->slot, 0, (size_t)m->cap * sizeof *m->slot);
    m->n = 0;
    m->keys_len = 0;
}

int64_t coco_tk_map_find(const coco_tk_map *m, const void *key, size_t len, uint64_t h) {
    uint32_t mask = m->cap - 1, i = (uint32_t)h & mask;
    for (;;) {
        uint32_t s = m->slot[i];
        if (!s) return -1;
        const coco_tk_ent *e = &m->ent[s - 1];
        if (e->hash == h && e->len == len && memcmp(m->keys + e->off, key, len) == 0) return s - 1;
        i = (i + 1) & mask;
    }
}

static void map_place(coco_tk_map *m, uint32_t idx) {
    uint32_t mask = m->cap - 1, i = (uint32_t)m->ent[idx].hash & mask;
    while (m->slot[i]) i = (i + 1) & mask;
    m->slot[i] = idx + 1;
}

uint32_t coco_tk_map_put(coco_tk_map *m, const void *key, size_t len, uint64_t h, uint64_t val, int *added) {
    int64_t f = coco_tk_map_find(m, key, len, h);
    if (added) *added = f < 0;
    if (f >= 0) return (uint32_t)f;
    if (m->n >= 0x7FFFFFFEu) coco_fail("token map: more than 2^31 entries");
    if ((uint64_t)(m->n + 1) * 2 > m->cap) {
        free(m->slot);
        m->cap <<= 1;
        m->slot = coco_calloc(m->cap, sizeof *m->slot, "token map slots");
        for (uint32_t i = 0; i < m->n; i++) map_place(m, i);
    }
    if (m->n == m->ent_cap) {
        m->ent_cap *= 2;
        m->ent = coco_realloc(m->ent, (size_t)m->ent_cap * sizeof *m->ent, "token map entries");
    }
    if (m->keys_len + len + 1 > m->keys_cap) {
        while (m->keys_len + len + 1 > m->keys_cap) m->keys_cap *= 2;
        m->keys = coco_realloc(m->keys, m->keys_cap, "token map keys");
    }
    memcpy(m->keys + m->keys_len, key, len);
    m->keys[m->keys_len + len] = 0;
    coco_tk_ent *e = &m->ent[m->n];
    e->hash = h;
    e->off = m->keys_len;
    e->len = (uint32_t)len;
    e->val = val;
    m->keys_len += len + 1;
    map_place(m, m->n);
    return m->n++;
}

void coco_tk_ids_grow(coco_tk_ids *o, size_t need) {
    size_t cap = o->cap ? o->cap : 16;
    while (cap < need) cap *= 2;
    o->v = coco_realloc(o->v, cap * sizeof *o->v, "token ids");
    o->cap = cap;
}

/* ------------------------------------------------------------ vocabulary */

static const char EOS_STR[] = "<|endoftext|>";

coco_tokenizer *coco_tk_new(int kind, uint32_t expect) {
    coco_tokenizer *t = coco_calloc(1, sizeof *t, "tokenizer");
    t->kind = kind;
    coco_tk_map_init(&t->vocab, expect);
    t->eos = -1;
    t->unk = -1;
    t->eos_special = 1;
    return t;
}

int32_t coco_tk_append(coco_tokenizer *t, const char *s, size_t len) {
    int added;
    uint32_t id = coco_tk_map_put(&t->vocab, s, len, coco_tk_hash(s, len), t->vocab.n, &added);
    if (!added) return (int32_t)id;
    if (id >= t->special_cap) {
        size_t cap = t->special_cap ? t->special_cap * 2 : 1024;
        while (cap <= id) cap *= 2;
        t->special = coco_realloc(t->special, cap, "special flags");
        memset(t->special + t->special_cap, 0, cap - t->special_cap);
        t->special_cap = cap;
    }
    if (len == sizeof EOS_STR - 1 && memcmp(s, EOS_STR, len) == 0) {
        t->eos = (int32_t)id;
        coco_tk_mark_special(t, (int32_t)id);
    }
    return (int32_t)id;
}

static int spec_active(const coco_tokenizer *t, int32_t id) { return id != t->eos || t->eos_special; }

void coco_tk_refresh_specials(coco_tokenizer *t) {
    memset(t->spec_first, 0, sizeof t->spec_first);
    for (size_t k = 0; k < t->nspec; k++) {
        int32_t id = t->spec_ids[k];
        if (spec_active(t, id)) t->spec_first[(unsigned char)coco_tk_key(&t->vocab, id)[0]]++;
    }
}

void coco_tk_mark_special(coco_tokenizer *t, int32_t id) {
    if (t->special[id]) return;
    t->special[id] = 1;
    if (t->nspec == t->spec_cap) {
        t->spec_cap = t->spec_cap ? t->spec_cap * 2 : 8;
        t->spec_ids = coco_realloc(t->spec_ids, t->spec_cap * sizeof *t->spec_ids, "special ids");
    }
    t->spec_ids[t->nspec++] = id;
    coco_tk_refresh_specials(t);
}

/* Leftmost match first; among specials starting at the same byte, the longest
 * (so "<|latent|>" can coexist with a hypothetical "<|latent|>x"). */
int coco_tk_split_specials(const coco_tokenizer *t, const char *text, size_t len, coco_tk_seg_fn seg, void *ctx,
                           coco_tk_ids *out) {
    size_t start = 0, i = 0;
    int any = 0;
    for (int c = 0; c < 256 && !any; c++) any = t->spec_first[c] != 0;
    if (any) {
        while (i < len) {
            unsigned char c = (unsigned char)text[i];
            if (!t->spec_first[c]) {
                i++;
                continue;
            }
            size_t best = 0;
            int32_t bid = -1;
            for (size_t k = 0; k < t->nspec; k++) {
                int32_t id = t->spec_ids[k];
                const coco_tk_ent *e = &t->vocab.ent[id];
                if (e->len <= best || e->len > len - i || !spec_active(t, id)) continue;
                if (memcmp(t->vocab.keys + e->off, text + i, e->len) == 0) best = e->len, bid = id;
            }
            if (bid < 0) {
                i++;
                continue;
            }
            if (i > start && seg(ctx, text + start, i - start, out) < 0) return -1;
            coco_tk_ids_push(out, bid);
            i += best;
            start = i;
        }
    }
    if (start < len && seg(ctx, text + start, len - start, out) < 0) return -1;
    return 0;
}

/* ------------------------------------------------------------ public API */

static void check_tok(const coco_tokenizer *t, const char *fn) {
    if (!t) coco_fail("%s: tokenizer is NULL", fn);
}

int64_t coco_tok_encode(coco_tokenizer *t, const char *text, size_t len, int32_t **ids) {
    check_tok(t, "coco_tok_encode");
    if (!ids) coco_fail("coco_tok_encode: ids is NULL");
    if (!text && len) coco_fail("coco_tok_encode: text is NULL with length %zu", len);
    *ids = NULL;
    coco_tk_ids out = {0};
    coco_tk_ids_grow(&out, len / 4 + 16);
    int64_t rc = t->kind == COCO_TK_GPT2 ? coco_tk_bpe_encode(t, text ? text : "", len, &out)
                                         : coco_tk_words_encode(t, text ? text : "", len, &out);
    if (rc < 0) {
        free(out.v);
        return -1;
    }
    *ids = out.v;
    return (int64_t)out.n;
}

static int check_ids(const coco_tokenizer *t, const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= t->vocab.n)
            return coco_seterr("coco_tok_decode: id %d at position %zu is out of range [0, %u)", ids[i], i,
                               t->vocab.n);
    return 0;
}

int coco_tok_decode(const coco_tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len) {
    check_tok(t, "coco_tok_decode");
    if (!out) coco_fail("coco_tok_decode: out is NULL");
    if (!ids && n) coco_fail("coco_tok_decode: ids is NULL with count %zu", n);
    *out = NULL;
    if (len) *len = 0;
    if (check_ids(t, ids, n) < 0) return -1;
    if (t->kind == COCO_TK_WORDS) return coco_tk_words_decode(t, ids, n, out, len);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += t->vocab.ent[ids[i]].len;
    char *s = coco_malloc(total + 1, "decoded text"), *p = s;
    for (size_t i = 0; i < n; i++) {
        const coco_tk_ent *e = &t->vocab.ent[ids[i]];
        memcpy(p, t->vocab.keys + e->off, e->len);
        p += e->len;
    }
    *p = 0;
    *out = s;
    if (len) *len = total;
    return 0;
}

int32_t coco_tok_add_special(coco_tokenizer *t, const char *s) {
    check_tok(t, "coco_tok_add_special");
    if (!s || !*s) coco_fail("coco_tok_add_special: token must be a non-empty string");
    int32_t id = coco_tk_append(t, s, strlen(s));
    coco_tk_mark_special(t, id);
    return id;
}

int32_t coco_tok_id(const coco_tokenizer *t, const char *s) {
    check_tok(t, "coco_tok_id");
    if (!s) coco_fail("coco_tok_id: string is NULL");
    size_t n = strlen(s);
    return (int32_t)coco_tk_map_find(&t->vocab, s, n, coco_tk_hash(s, n));
}

const char *coco_tok_token(const coco_tokenizer *t, int32_t id, size_t *len) {
    check_tok(t, "coco_tok_token");
    if (id < 0 || (uint32_t)id >= t->vocab.n) return NULL;
    if (len) *len = t->vocab.ent[id].len;
    return coco_tk_key(&t->vocab, (uint32_t)id);
}

int coco_tok_is_special(const coco_tokenizer *t, int32_t id) {
    check_tok(t, "coco_tok_is_special");
    return id >= 0 && (uint32_t)id < t->vocab.n && t->special[id];
}

int32_t coco_tok_size(const coco_tokenizer *t) {
    check_tok(t, "coco_tok_size");
    return (int32_t)t->vocab.n;
}

const char *coco_tok_kind(const coco_tokenizer *t) {
    check_tok(t, "coco_tok_kind");
    return t->kind == COCO_TK_GPT2 ? "gpt2" : "words";
}

int32_t coco_tok_eos(const coco_tokenizer *t) {
    check_tok(t, "coco_tok_eos");
    return t->eos;
}

int coco_tok_set_eos_special(coco_tokenizer *t, int on) {
    check_tok(t, "coco_tok_set_eos_special");
    int old = t->eos_special;
    t->eos_special = on != 0;
    coco_tk_refresh_specials(t);
    return old;
}

int coco_tok_set_cache(coco_tokenizer *t, int on) {
    check_tok(t, "coco_tok_set_cache");
    return t->kind == COCO_TK_GPT2 ? coco_tk_bpe_set_cache(t, on) : 0;
}

int coco_tok_save(const coco_tokenizer *t, const char *json_path) {
    check_tok(t, "coco_tok_save");
    if (!json_path) coco_fail("coco_tok_save: path is NULL");
    if (t->kind == COCO_TK_GPT2)
        return coco_seterr("%s: not saved: a GPT-2 tokenizer is defined by its vocab.json + merges.txt "
                           "(add the special tokens again after loading); coco_tok_save writes word-level "
                           "tokenizers only",
                           json_path);
    return coco_tk_words_save(t, json_path);
}

void coco_tok_free(coco_tokenizer *t) {
    if (!t) return;
    if (t->bpe) coco_tk_bpe_free(t->bpe);
    coco_tk_map_free(&t->vocab);
    free(t->special);
    free(t->spec_ids);
    free(t);
}

/* tok_bpe.c — GPT-2 byte-level BPE: vocab.json/merges.txt loading, the
 * pre-tokenizer regex (PCRE2), rank-ordered merges and the word cache.
 *
 * Pre-tokenizer. OpenAI's encoder.py and Hugging Face use Python's `regex`
 * module with
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * where `regex`'s \s is the Unicode White_Space property: U+0009..000D, U+0020,
 * U+0085, U+00A0, U+1680, U+2000..200A, U+2028, U+2029, U+202F, U+205F, U+3000.
 * PCRE2 10.42 with PCRE2_UCP matches those *and* U+180E (MONGOLIAN VOWEL
 * SEPARATOR, White_Space only before Unicode 6.3); JavaScript's \s (the
 * gpt-3-encoder package that wrote reference_encodings.jsonl) adds U+FEFF and
 * drops U+0085. So \s is never used: WS below spells White_Space out, and
 * \S becomes [^WS]. U+0085 is therefore whitespace, U+FEFF, U+200B and U+180E
 * are not (they fall in [^\s\p{L}\p{N}]), U+3000 is. \p{L} and \p{N} come
 * from PCRE2's Unicode tables (Unicode 14 in 10.42); characters assigned in
 * later Unicode versions may classify differently than in a newer Python.
 *
 * Invalid UTF-8 (outside Python's domain): the pattern is compiled with
 * PCRE2_MATCH_INVALID_UTF, so invalid bytes never match; each run of them
 * between matches becomes its own piece and goes through byte-level BPE, so no
 * byte is lost.
 *
 * BPE. A piece's bytes start as their single-byte tokens. A min-heap holds
 * (rank, left position) of adjacent pairs; popping the lowest rank, leftmost
 * first, merges occurrences of one pair left to right without overlap before
 * any higher rank — the same result as encoder.py's "merge all occurrences of
 * the best bigram, repeat". Stale heap entries are skipped by re-looking up the
 * pair. O(n log n) per piece, so long runs (digits, whitespace) stay fast.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <jansson.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tok_internal.h"

#define WS "\\t\\n\\x0B\\f\\r\\x20\\x85\\xA0\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
static const char GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+"
                                   "|[" WS "]+(?![^" WS "])|[" WS "]+";

#define MERGE_EMPTY UINT64_MAX
#define CACHE_MAX_WORD 128         /* bytes; longer pieces are not cached */
#define CACHE_MAX_ENTRIES (1u << 18)
#define CACHE_MAX_IDS (1u << 22)

typedef struct coco_tk_bpe {
    int32_t byte_id[256];
    uint32_t byte_cp[256]; /* byte -> code point of its vocab.json character */
    int16_t cp_byte[324];  /* inverse; -1 where none */
    /* (left id, right id) -> rank, merged id; linear probing */
    uint64_t *mkey;
    int32_t *mrank, *mnew;
    uint32_t mcap, mshift;
    pcre2_code *re;
    /* Guarded by lock: the cache, its id pool and the holder's match data. */
    pthread_mutex_t lock;
    int cache_on;
    coco_tk_map cache; /* piece bytes -> (offset into cids) << 8 | count */
    int32_t *cids;
    size_t ncids, cids_cap;
    pcre2_match_data *md;
} coco_tk_bpe;

/* ------------------------------------------------------------ byte mapping */

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * other 68 to U+0100.. in byte order (space -> U+0120 'Ġ', '\n' -> U+010A). */
static void byte_map(coco_tk_bpe *b) {
    int n = 0;
    for (int i = 0; i < 324; i++) b->cp_byte[i] = -1;
    for (int c = 0; c < 256; c++) {
        int keep = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        b->byte_cp[c] = keep ? (uint32_t)c : 256u + (uint32_t)n++;
        b->cp_byte[b->byte_cp[c]] = (int16_t)c;
    }
}

/* Decode one UTF-8 code point at s[*i] (strict enough for vocab strings);
 * returns -1 on a malformed sequence. */
static int32_t utf8_next(const unsigned char *s, size_t n, size_t *i) {
    unsigned c = s[*i];
    int k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (k < 0 || *i + (size_t)k >= n) return -1;
    uint32_t cp = k == 0 ? c : c & (0x3Fu >> k);
    for (int j = 1; j <= k; j++) {
        unsigned d = s[*i + (size_t)j];
        if ((d & 0xC0) != 0x80) return -1;
        cp = cp << 6 | (d & 0x3F);
    }
    *i += (size_t)k + 1;
    return (int32_t)cp;
}

/* vocab.json / merges.txt string (byte-level characters) -> raw bytes in dst
 * (capacity >= n). Strings with characters outside the 256-character alphabet
 * (hand-added tokens) are taken as their own UTF-8 bytes. Returns the length. */
static size_t unbyte(const coco_tk_bpe *b, const char *s, size_t n, char *dst) {
    size_t i = 0, o = 0;
    while (i < n) {
        int32_t cp = utf8_next((const unsigned char *)s, n, &i);
        if (cp < 0 || cp >= 324 || b->cp_byte[cp] < 0) {
            memcpy(dst, s, n);
            return n;
        }
        dst[o++] = (char)b->cp_byte[cp];
    }
    return o;
}

/* ------------------------------------------------------------ files */

static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        coco_seterr("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = coco_malloc(cap + 1, "file contents");
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            cap *= 2;
            buf = coco_realloc(buf, cap + 1, "file contents");
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        coco_seterr("%s: read error", path);
        return NULL;
    }
    buf[len] = 0;
    *n = len;
    return buf;
}

/* Line of the first `"key":` in a JSON text (escaped either way jansson would
 * write it), 0 if not found: jansson reports positions only for syntax errors. */
static int key_line(const char *buf, size_t n, const char *key) {
    for (int pass = 0; pass < 2; pass++) {
        json_t *js = json_string(key);
        char *enc = js ? json_dumps(js, JSON_ENCODE_ANY | (pass ? JSON_ENSURE_ASCII : 0)) : NULL;
        json_decref(js);
        if (!enc) continue;
        size_t el = strlen(enc);
        const char *p = buf, *end = buf + n;
        while ((p = memmem(p, (size_t)(end - p), enc, el)) != NULL) {
            const char *q = p + el;
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) q++;
            if (q < end && *q == ':') {
                int line = 1;
                for (const char *r = buf; r < p; r++) line += *r == '\n';
                free(enc);
                return line;
            }
            p++;
        }
        free(enc);
    }
    return 0;
}

static int load_vocab(coco_tokenizer *t, const char *path) {
    size_t n;
    char *buf = read_file(path, &n);
    if (!buf) return -1;
    json_error_t je;
    json_t *root = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        coco_seterr("%s:%d:%d: %s", path, je.line, je.column, je.text);
        free(buf);
        return -1;
    }
    int rc = -1;
    const char **by_id = NULL;
    char *tmp = NULL;
    if (!json_is_object(root)) {
        coco_seterr("%s: expected a JSON object mapping token strings to ids", path);
        goto done;
    }
    size_t count = json_object_size(root);
    if (count == 0 || count > INT32_MAX) {
        coco_seterr("%s: the vocabulary is empty", path);
        goto done;
    }
    by_id = coco_calloc(count, sizeof *by_id, "vocab ids");
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!json_is_integer(val)) {
            coco_seterr("%s:%d: token \"%s\": id is not an integer", path, key_line(buf, n, key), key);
            goto done;
        }
        json_int_t id = json_integer_value(val);
        if (id < 0 || (size_t)id >= count) {
            coco_seterr("%s:%d: token \"%s\": id %lld is outside 0..%zu (ids must number the %zu entries densely)",
                        path, key_line(buf, n, key), key, (long long)id, count - 1, count);
            goto done;
        }
        if (by_id[id]) {
            coco_seterr("%s:%d: token \"%s\": duplicate id %lld (already used by \"%s\")", path,
                        key_line(buf, n, key), key, (long long)id, by_id[id]);
            goto done;
        }
        by_id[id] = key;
    }
    size_t maxlen = 0;
    for (size_t i = 0; i < count; i++) {
        size_t l = strlen(by_id[i]);
        if (l > maxlen) maxlen = l;
    }
    tmp = coco_malloc(maxlen + 1, "token bytes");
    for (size_t i = 0; i < count; i++) {
        size_t l = unbyte(t->bpe, by_id[i], strlen(by_id[i]), tmp);
        int32_t got = coco_tk_append(t, tmp, l);
        if (got != (int32_t)i) {
            coco_seterr("%s:%d: token \"%s\" (id %zu) has the same bytes as id %d", path,
                        key_line(buf, n, by_id[i]), by_id[i], i, got);
            goto done;
        }
    }
    for (int c = 0; c < 256; c++) {
        char ch = (char)c;
        int64_t id = coco_tk_map_find(&t->vocab, &ch, 1, coco_tk_hash(&ch, 1));
        if (id < 0) {
            coco_seterr("%s: no token for byte 0x%02X (character U+%04X); a byte-level vocabulary needs all 256",
                        path, c, t->bpe->byte_cp[c]);
            goto done;
        }
        t->bpe->byte_id[c] = (int32_t)id;
    }
    rc = 0;
done:
    free(tmp);
    free(by_id);
    json_decref(root);
    free(buf);
    return rc;
}

static void merges_alloc(coco_tk_bpe *b, size_t n) {
    b->mcap = 16;
    b->mshift = 60;
    while (b->mcap < 2 * n + 16) b->mcap <<= 1, b->mshift--;
    b->mkey = coco_malloc((size_t)b->mcap * sizeof *b->mkey, "merge keys");
    b->mrank = coco_malloc((size_t)b->mcap * sizeof *b->mrank, "merge ranks");
    b->mnew = coco_malloc((size_t)b->mcap * sizeof *b->mnew, "merge results");
    for (uint32_t i = 0; i < b->mcap; i++) b->mkey[i] = MERGE_EMPTY;
}

static inline uint64_t pair_key(int32_t l, int32_t r) { return (uint64_t)(uint32_t)l << 32 | (uint32_t)r; }

static inline uint32_t merge_slot(const coco_tk_bpe *b, uint64_t k) {
    uint32_t mask = b->mcap - 1, i = (uint32_t)((k * 0x9E3779B97F4A7C15ull) >> b->mshift) & mask;
    while (b->mkey[i] != MERGE_EMPTY && b->mkey[i] != k) i = (i + 1) & mask;
    return i;
}

static inline int merge_find(const coco_tk_bpe *b, int32_t l, int32_t r, int32_t *rank, int32_t *nid) {
    uint32_t i = merge_slot(b, pair_key(l, r));
    if (b->mkey[i] == MERGE_EMPTY) return 0;
    *rank = b->mrank[i];
    if (nid) *nid = b->mnew[i];
    return 1;
}

static int load_merges(coco_tokenizer *t, const char *path) {
    coco_tk_bpe *b = t->bpe;
    size_t n;
    char *buf = read_file(path, &n);
    if (!buf) return -1;
    size_t nlines = 1;
    for (size_t i = 0; i < n; i++) nlines += buf[i] == '\n';
    merges_alloc(b, nlines);
    char *tmp = coco_malloc(2 * n + 2, "merge symbols");
    int rc = -1;
    int32_t rank = 0;
    size_t lineno = 0;
    char *p = buf, *end = buf + n;
    while (p < end) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        lineno++;
        size_t len = (size_t)(eol - p);
        if (len && p[len - 1] == '\r') len--;
        char *line = p;
        p = eol + 1;
        if (lineno == 1 && len >= 8 && memcmp(line, "#version", 8) == 0) continue;
        char *sp = memchr(line, ' ', len);
        if (!sp || sp == line || sp == line + len - 1 || memchr(sp + 1, ' ', (size_t)(line + len - sp - 1))) {
            coco_seterr("%s:%zu: expected two symbols separated by one space, got \"%.*s\"", path, lineno,
                        (int)(len > 80 ? 80 : len), line);
            goto done;
        }
        size_t la = (size_t)(sp - line), lb = len - la - 1;
        size_t ba = unbyte(b, line, la, tmp);
        size_t bb = unbyte(b, sp + 1, lb, tmp + ba);
        int64_t ia = coco_tk_map_find(&t->vocab, tmp, ba, coco_tk_hash(tmp, ba));
        int64_t ib = coco_tk_map_find(&t->vocab, tmp + ba, bb, coco_tk_hash(tmp + ba, bb));
        int64_t im = coco_tk_map_find(&t->vocab, tmp, ba + bb, coco_tk_hash(tmp, ba + bb));
        if (ia < 0 || ib < 0) {
            coco_seterr("%s:%zu: symbol \"%.*s\" is not in the vocabulary", path, lineno, (int)(ia < 0 ? la : lb),
                        ia < 0 ? line : sp + 1);
            goto done;
        }
        if (im < 0) {
            coco_seterr("%s:%zu: merged token \"%.*s%.*s\" is not in the vocabulary", path, lineno, (int)la, line,
                        (int)lb, sp + 1);
            goto done;
        }
        /* A repeated pair takes its last rank, as a Python dict / Rust HashMap
         * built from the list would. */
        uint64_t k = pair_key((int32_t)ia, (int32_t)ib);
        uint32_t s = merge_slot(b, k);
        b->mkey[s] = k;
        b->mrank[s] = rank++;
        b->mnew[s] = (int32_t)im;
    }
    rc = 0;
done:
    free(tmp);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------ load */

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = coco_malloc(n, "path");
    snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static coco_tokenizer *load_files(const char *vocab_path, const char *merges_path) {
    coco_tokenizer *t = coco_tk_new(COCO_TK_GPT2, 65536);
    coco_tk_bpe *b = coco_calloc(1, sizeof *b, "BPE state");
    t->bpe = b;
    byte_map(b);
    pthread_mutex_init(&b->lock, NULL);
    b->cache_on = 1;
    coco_tk_map_init(&b->cache, 4096);
    if (load_vocab(t, vocab_path) < 0 || load_merges(t, merges_path) < 0) {
        coco_tok_free(t);
        return NULL;
    }
    int err;
    PCRE2_SIZE eoff;
    b->re = pcre2_compile((PCRE2_SPTR)GPT2_PATTERN, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &eoff, NULL);
    if (!b->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        coco_fail("GPT-2 pre-tokenizer regex does not compile at offset %zu: %s", (size_t)eoff, (char *)msg);
    }
    pcre2_jit_compile(b->re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter when JIT is unavailable */
    b->md = pcre2_match_data_create_from_pattern(b->re, NULL);
    if (!b->md) coco_fail("out of memory for PCRE2 match data");
    return t;
}

coco_tokenizer *coco_tok_gpt2_load(const char *vocab_path, const char *merges_path) {
    if (!vocab_path) coco_fail("coco_tok_gpt2_load: vocab_path is NULL");
    if (merges_path) return load_files(vocab_path, merges_path);
    if (!is_dir(vocab_path)) {
        coco_seterr("%s: not a directory (pass vocab and merges files, or a directory holding them)", vocab_path);
        return NULL;
    }
    static const char *pairs[2][2] = {{"vocab.json", "merges.txt"}, {"encoder.json", "vocab.bpe"}};
    for (int k = 0; k < 2; k++) {
        char *v = join(vocab_path, pairs[k][0]), *m = join(vocab_path, pairs[k][1]);
        struct stat st;
        coco_tokenizer *t = NULL;
        int found = stat(v, &st) == 0 && stat(m, &st) == 0;
        if (found) t = load_files(v, m);
        free(v);
        free(m);
        if (found) return t;
    }
    coco_seterr("%s: holds neither vocab.json + merges.txt nor encoder.json + vocab.bpe", vocab_path);
    return NULL;
}

void coco_tk_bpe_free(coco_tk_bpe *b) {
    free(b->mkey);
    free(b->mrank);
    free(b->mnew);
    if (b->re) pcre2_code_free(b->re);
    if (b->md) pcre2_match_data_free(b->md);
    coco_tk_map_free(&b->cache);
    free(b->cids);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

int coco_tk_bpe_set_cache(coco_tokenizer *t, int on) {
    coco_tk_bpe *b = t->bpe;
    int old = b->cache_on;
    b->cache_on = on != 0;
    if (!on) {
        coco_tk_map_clear(&b->cache);
        b->ncids = 0;
    }
    return old;
}

/* ------------------------------------------------------------ BPE */

static inline void heap_push(uint64_t *h, size_t *n, uint64_t v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static inline uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0], v = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && h[c + 1] < h[c]) c++;
        if (v <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    if (m) h[i] = v;
    return top;
}

/* Appends the BPE of piece p[0..m) to out. */
static void bpe_piece(const coco_tk_bpe *b, const unsigned char *p, size_t m, coco_tk_ids *out) {
    enum { SMALL = 64 };
    int32_t sbuf[3 * SMALL];
    uint64_t hbuf[3 * SMALL];
    int32_t *sym = sbuf, *nxt, *prv;
    uint64_t *heap = hbuf;
    if (m > SMALL) {
        sym = coco_malloc(3 * m * sizeof *sym, "BPE symbols");
        heap = coco_malloc(3 * m * sizeof *heap, "BPE heap");
    }
    nxt = sym + m;
    prv = nxt + m;
    size_t nh = 0;
    for (size_t i = 0; i < m; i++) {
        sym[i] = b->byte_id[p[i]];
        nxt[i] = i + 1 < m ? (int32_t)(i + 1) : -1;
        prv[i] = (int32_t)i - 1;
    }
    int32_t r, nid;
    for (size_t i = 0; i + 1 < m; i++)
        if (merge_find(b, sym[i], sym[i + 1], &r, NULL)) heap_push(heap, &nh, (uint64_t)r << 32 | i);
    while (nh) {
        uint64_t e = heap_pop(heap, &nh);
        int32_t rank = (int32_t)(e >> 32), i = (int32_t)(uint32_t)e, j;
        if (sym[i] < 0 || (j = nxt[i]) < 0) continue;
        if (!merge_find(b, sym[i], sym[j], &r, &nid) || r != rank) continue; /* stale */
        sym[i] = nid;
        sym[j] = -1;
        nxt[i] = nxt[j];
        if (nxt[j] >= 0) prv[nxt[j]] = i;
        if (prv[i] >= 0 && merge_find(b, sym[prv[i]], sym[i], &r, NULL))
            heap_push(heap, &nh, (uint64_t)r << 32 | (uint32_t)prv[i]);
        if (nxt[i] >= 0 && merge_find(b, sym[i], sym[nxt[i]], &r, NULL))
            heap_push(heap, &nh, (uint64_t)r << 32 | (uint32_t)i);
    }
    for (int32_t i = 0; i >= 0; i = nxt[i]) coco_tk_ids_push(out, sym[i]);
    if (sym != sbuf) {
        free(sym);
        free(heap);
    }
}

typedef struct bpe_ctx {
    coco_tk_bpe *b;
    pcre2_match_data *md;
    int use_cache;
} bpe_ctx;

static void piece(bpe_ctx *c, const char *s, size_t m, coco_tk_ids *out) {
    coco_tk_bpe *b = c->b;
    if (m == 1) {
        coco_tk_ids_push(out, b->byte_id[(unsigned char)s[0]]);
        return;
    }
    if (!c->use_cache || m > CACHE_MAX_WORD) {
        bpe_piece(b, (const unsigned char *)s, m, out);
        return;
    }
    uint64_t h = coco_tk_hash(s, m);
    int64_t e = coco_tk_map_find(&b->cache, s, m, h);
    if (e >= 0) {
        uint64_t v = b->cache.ent[e].val;
        size_t cnt = v & 0xFF, off = v >> 8;
        if (out->n + cnt > out->cap) coco_tk_ids_grow(out, out->n + cnt);
        memcpy(out->v + out->n, b->cids + off, cnt * sizeof *out->v);
        out->n += cnt;
        return;
    }
    size_t n0 = out->n;
    bpe_piece(b, (const unsigned char *)s, m, out);
    size_t cnt = out->n - n0; /* <= m <= CACHE_MAX_WORD < 256 */
    if (b->cache.n >= CACHE_MAX_ENTRIES || b->ncids + cnt > CACHE_MAX_IDS) {
        coco_tk_map_clear(&b->cache);
        b->ncids = 0;
    }
    if (b->ncids + cnt > b->cids_cap) {
        b->cids_cap = b->cids_cap ? b->cids_cap * 2 : 65536;
        b->cids = coco_realloc(b->cids, b->cids_cap * sizeof *b->cids, "BPE cache ids");
    }
    memcpy(b->cids + b->ncids, out->v + n0, cnt * sizeof *out->v);
    coco_tk_map_put(&b->cache, s, m, h, (uint64_t)b->ncids << 8 | cnt, NULL);
    b->ncids += cnt;
}

static int segment(void *ctx, const char *s, size_t n, coco_tk_ids *out) {
    bpe_ctx *c = ctx;
    size_t off = 0;
    while (off < n) {
        int rc = pcre2_match(c->b->re, (PCRE2_SPTR)s, n, off, 0, c->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) { /* only invalid UTF-8 is left */
            piece(c, s + off, n - off, out);
            break;
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return coco_seterr("coco_tok_encode: pre-tokenizer failed at byte %zu: %s", off, (char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        if (ov[0] > off) piece(c, s + off, ov[0] - off, out); /* invalid UTF-8 run */
        piece(c, s + ov[0], ov[1] - ov[0], out);
        off = ov[1];
    }
    return 0;
}

int64_t coco_tk_bpe_encode(coco_tokenizer *t, const char *text, size_t len, coco_tk_ids *out) {
    coco_tk_bpe *b = t->bpe;
    bpe_ctx c = {b, NULL, 0};
    int locked = pthread_mutex_trylock(&b->lock) == 0;
    if (locked) {
        c.md = b->md;
        c.use_cache = b->cache_on;
    } else {
        c.md = pcre2_match_data_create_from_pattern(b->re, NULL);
        if (!c.md) coco_fail("out of memory for PCRE2 match data");
    }
    int rc = coco_tk_split_specials(t, text, len, segment, &c, out);
    if (locked)
        pthread_mutex_unlock(&b->lock);
    else
        pcre2_match_data_free(c.md);
    return rc < 0 ? -1 : (int64_t)out->n;
}

/* coconut/tokenizer.h — GPT-2 byte-level BPE and a word-level tokenizer.
 *
 * Contract
 *   - A coco_tokenizer owns its vocabulary (id -> token bytes, bytes -> id), its
 *     added ("special") tokens and, for GPT-2, the merge table, the compiled
 *     pre-tokenizer regex and a word cache. Ids are dense: 0 .. coco_tok_size()-1.
 *   - Token strings are raw bytes everywhere in this API: coco_tok_id(t, " the")
 *     finds GPT-2's "Ġthe" (the byte-to-unicode form only lives in vocab.json and
 *     merges.txt). decode(ids) is the concatenation of the tokens' bytes (GPT-2)
 *     or the canonical text (word-level, see below).
 *   - Special (added) tokens are matched as whole strings in the text *before*
 *     pre-tokenization: the text is split on them (leftmost, then longest match)
 *     and each piece in between is tokenized on its own, as Hugging Face does.
 *     `<|endoftext|>` is the eos/pad token. By default it is special in text too
 *     (Hugging Face GPT2Tokenizer behaviour: "a<|endoftext|>" -> [64, 50256]);
 *     coco_tok_set_eos_special(t, 0) makes it plain text (OpenAI encoder.py /
 *     gpt-3-encoder behaviour: split into "<", "|", "endoftext", "|", ">" pieces).
 *     Tokens added with coco_tok_add_special are always special.
 *   - GPT-2 (kind "gpt2"): exact OpenAI encoder.py / HF GPT2Tokenizer semantics:
 *     pre-tokenizer regex with Python `regex` module semantics (see tok_bpe.c for
 *     how \s is matched), byte-level BPE with merges applied by rank. Bytes that
 *     are not valid UTF-8 are not dropped: each maximal run of them becomes its
 *     own piece, so decode(encode(s)) == s for every byte string.
 *     Coconut's tokens are added after the base vocabulary in this order:
 *     `<|start-latent|>` 50257, `<|end-latent|>` 50258, `<|latent|>` 50259
 *     (then a pause token if an experiment needs one).
 *   - Word-level (kind "words"): every word, punctuation mark (a run of one
 *     repeated mark, so "###" is one token) and newline is one token; other
 *     whitespace only separates. Words are runs of ASCII letters/digits, '_' and
 *     bytes >= 0x80, with inner ' and - joined ("don't", "well-known") and inner
 *     . and , joined between digits ("1.5", "1,000"). Ids: 0 = `<|endoftext|>`,
 *     then the caller's specials in order, then `<unk>` (with_unk), then all
 *     other tokens sorted bytewise (so the same word set gives the same ids
 *     whatever the order or counts of the texts); later add_special calls append.
 *     decode writes the canonical text: one space between tokens, except none
 *     before a newline, after a newline, before . , ; : ! ? ) ] } %, after ( [ {,
 *     and none on either side of a special token (`<unk>` is spaced like a word).
 *     Text already in that form round-trips exactly.
 *   - Errors: NULL tokenizer/arguments are misuse (coco_fail). Missing or
 *     malformed files, unknown words and out-of-range ids return NULL / -1 with
 *     coco_errmsg() naming the file and line (or the word / id).
 *   - Threading: decode, id, token, size, kind and eos only read and may run
 *     concurrently. coco_tok_encode may be called from several threads on one
 *     tokenizer: the only shared mutable state is the GPT-2 word cache, taken
 *     with a trylock for the whole call; a call that finds it busy runs without
 *     the cache (same result, slower). For parallel throughput give each thread
 *     its own tokenizer. add_special, set_eos_special, set_cache and free must
 *     not run concurrently with any other call on the same tokenizer.
 */
#ifndef COCONUT_TOKENIZER_H
#define COCONUT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "coconut/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coco_tokenizer coco_tokenizer;

/* GPT-2 byte-level BPE from Hugging Face files (vocab.json + merges.txt) or
 * OpenAI's (encoder.json + vocab.bpe); the formats are the same. With
 * merges_path == NULL, vocab_path is a directory holding either pair.
 * `<|endoftext|>` in the vocabulary becomes the eos token. NULL + errmsg. */
coco_tokenizer *coco_tok_gpt2_load(const char *vocab_path, const char *merges_path);

/* Word-level: vocabulary of every token in texts[0..n) (see the contract for
 * ids). specials may be NULL when nspecial == 0. with_unk: unknown words encode
 * to `<unk>` instead of failing. */
coco_tokenizer *coco_tok_words_build(const char *const *texts, size_t n, const char *const *specials,
                                     size_t nspecial, int with_unk);
/* Load a word-level tokenizer written by coco_tok_save. NULL + errmsg. */
coco_tokenizer *coco_tok_words_load(const char *json_path);
/* Word-level: write JSON {"kind":"words","version":1,"tokens":[...id order],
 * "specials":[...],"unk":str|null} atomically. GPT-2: refuses (-1 + errmsg). */
int coco_tok_save(const coco_tokenizer *t, const char *json_path);
void coco_tok_free(coco_tokenizer *t);

/* Encode UTF-8 text[0..len) (text need not be NUL-terminated). *ids is malloc'ed
 * (caller frees; non-NULL even for 0 ids). Returns the count, or -1 + errmsg
 * (word-level unknown word, naming it) with *ids = NULL. */
int64_t coco_tok_encode(coco_tokenizer *t, const char *text, size_t len, int32_t **ids);
/* Decode ids to bytes. *out is malloc'ed and NUL-terminated, *len its length
 * without the NUL (len may be NULL). -1 + errmsg (naming the id and its position)
 * on an id out of range, with *out = NULL. */
int coco_tok_decode(const coco_tokenizer *t, const int32_t *ids, size_t n, char **out, size_t *len);

/* Add a special token (matched whole in text before pre-tokenization). Returns
 * its id: the existing id if s is already a token (it becomes special), else the
 * next free id (size grows by one). s must be non-empty. */
int32_t coco_tok_add_special(coco_tokenizer *t, const char *s);
/* Id of the token whose bytes are s (ordinary or special), -1 if none. */
int32_t coco_tok_id(const coco_tokenizer *t, const char *s);
/* Bytes of token `id` (NUL-terminated; *len = byte count, may be NULL), NULL if
 * id is out of range. Valid until the next add_special on t. */
const char *coco_tok_token(const coco_tokenizer *t, int32_t id, size_t *len);
/* 1 if id is a special (added) token, else 0. */
int coco_tok_is_special(const coco_tokenizer *t, int32_t id);
int32_t coco_tok_size(const coco_tokenizer *t);
const char *coco_tok_kind(const coco_tokenizer *t); /* "gpt2" or "words" */
int32_t coco_tok_eos(const coco_tokenizer *t);      /* `<|endoftext|>` id, -1 if absent */

/* Whether `<|endoftext|>` inside text encodes to eos (1, the default) or is
 * tokenized as plain text (0). Returns the previous setting. */
int coco_tok_set_eos_special(coco_tokenizer *t, int on);
/* GPT-2 word cache on (default) or off (for benchmarks and tests); turning it
 * off also empties it. Word-level: no-op. Returns the previous setting. */
int coco_tok_set_cache(coco_tokenizer *t, int on);

#ifdef __cplusplus
}
#endif
#endif

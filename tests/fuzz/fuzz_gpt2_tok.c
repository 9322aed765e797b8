/* fuzz_gpt2_tok.c — libFuzzer harness: the GPT-2 tokenizer loaders
 * (core/tok_bpe.c: vocab.json / encoder.json and merges.txt / vocab.bpe). The
 * input is split at its first NUL byte into the vocabulary and the merges
 * (no NUL: all vocabulary, no merges file); a tokenizer that loads then
 * encodes and decodes a fixed text. See fuzz.h. */
#include "coconut/tokenizer.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t nv = nul ? (size_t)(nul - data) : size;
    const char *vocab = fuzz_file(0, "vocab.json", data, nv);
    const char *merges = nul ? fuzz_file(1, "merges.txt", nul + 1, size - nv - 1) : NULL;
    coco_tokenizer *t = coco_tok_gpt2_load(vocab, merges);
    if (t) {
        static const char text[] = "Every wumpus is a zumpus. Is Alex 12 a \xc3\xa9t\xc3\xa9? <|endoftext|>\n";
        int32_t *ids = NULL;
        int64_t n = coco_tok_encode(t, text, sizeof text - 1, &ids);
        if (n > 0) {
            char *out = NULL;
            size_t len = 0;
            if (coco_tok_decode(t, ids, (size_t)n, &out, &len) == 0) free(out);
        }
        free(ids);
        coco_tok_free(t);
    }
    return 0;
}

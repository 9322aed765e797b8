/* fuzz_words_vocab.c — libFuzzer harness: the word-level vocabulary JSON
 * (core/tok_words.c, the tokenizer.json a run writes) on arbitrary bytes; a
 * vocabulary that loads then encodes, decodes and saves. See fuzz.h. */
#include "coconut/tokenizer.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(0, "tokenizer.json", data, size);
    coco_tokenizer *t = coco_tok_words_load(path);
    if (t) {
        static const char text[] = "Every wumpus is a zumpus . Is Alex a zumpus ? ### \n";
        int32_t *ids = NULL;
        int64_t n = coco_tok_encode(t, text, sizeof text - 1, &ids);
        if (n > 0) {
            char *out = NULL;
            size_t len = 0;
            if (coco_tok_decode(t, ids, (size_t)n, &out, &len) == 0) free(out);
        }
        free(ids);
        char back[600];
        snprintf(back, sizeof back, "%s.out", path);
        (void)coco_tok_save(t, back);
        coco_tok_free(t);
    }
    return 0;
}

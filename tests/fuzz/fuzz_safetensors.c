/* fuzz_safetensors.c — libFuzzer harness: the safetensors reader
 * (core/safetensors.c) on arbitrary bytes: open (header length, JSON header,
 * offsets, dtypes, shapes), then every tensor converted and every metadata
 * entry read, as a checkpoint load does. Then the same bytes as a GPT-2
 * checkpoint (coco_gpt2_load: names, shapes, the config in the metadata, the
 * NaN check). See fuzz.h. */
#include "coconut/gpt2.h"
#include "coconut/safetensors.h"
#include "coconut/tensor.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(0, "model.safetensors", data, size);
    coco_st_file *f = coco_st_open(path);
    if (f) {
        int64_t shape[8];
        for (int i = 0; i < coco_st_count(f); i++) {
            const char *name = coco_st_name(f, i);
            (void)coco_st_dtype(f, i);
            (void)coco_st_shape(f, i, shape);
            if (coco_st_find(f, name) < 0) abort(); /* a listed name must be found */
            coco_tensor *t = coco_st_get(f, name);
            coco_tensor_release(t);
        }
        for (int i = 0; i < coco_st_meta_count(f); i++) {
            const char *k = coco_st_meta_key(f, i), *v = coco_st_meta_value(f, i);
            if (!k || !v || coco_st_meta(f, k) == NULL) abort(); /* a listed key must be found */
        }
        coco_st_close(f);
    }
    coco_gpt2 *m = coco_gpt2_load(path); /* no config.json beside it: the metadata's, if any */
    if (m) coco_gpt2_free(m);
    return 0;
}

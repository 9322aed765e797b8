/* fuzz_prosqa.c — libFuzzer harness: the ProsQA loader (plugins/dataset/prosqa.c)
 * on arbitrary bytes, in the words format and the symbolic ones (node ids in
 * file order, shuffled, permuted; edges in question / file / shuffled order),
 * chosen by the first byte. See fuzz.h and fuzz_dataset.h. */
#include "../../plugins/dataset/prosqa.c"
#include "coconut/pluginhost.h"

static void fz_prosqa_variant(coco_options *o, unsigned v) {
    static const char *const ids[] = {"creation", "shuffle", "permute"};
    static const char *const order[] = {"question", "file", "shuffle"};
    if (v & 1) {
        if (coco_options_set(o, "format", "symbolic") != 0) abort();
        if (coco_options_set(o, "node_ids", ids[(v >> 1) % 3]) != 0) abort();
    }
    if (coco_options_set(o, "edge_order", order[(v >> 3) % 3]) != 0) abort();
    if (v & 0x40 && coco_options_set(o, "filter_files", "true") != 0) abort();
}
#define FUZZ_DATASET_VARIANT fz_prosqa_variant
#define FUZZ_DATASET_FILE "train.json"
#include "fuzz_dataset.h"

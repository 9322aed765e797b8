/* fuzz_prontoqa.c — libFuzzer harness: the ProntoQA loader
 * (plugins/dataset/prontoqa.c, Coconut JSON) on arbitrary bytes, with both
 * concept forms (written, and compact over singular) and the reasoning graph. See fuzz.h. */
#include "../../plugins/dataset/prontoqa.c"

#define FUZZ_DATASET_FILE "train.json"
/* every input is loaded as written, then again with forms = compact (which
 * runs the singular rewrite first) and frontiers = true (the reasoning-graph
 * reader, prontoqa_graph) */
#define FUZZ_DATASET_SECOND_PASS(o) \
    do { \
        if (coco_options_set((o), "forms", "compact") != 0) abort(); \
        if (coco_options_set((o), "frontiers", "true") != 0) abort(); \
    } while (0)
#include "fuzz_dataset.h"

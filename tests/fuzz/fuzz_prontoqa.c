/* fuzz_prontoqa.c — libFuzzer harness: the ProntoQA loader
 * (plugins/dataset/prontoqa.c, Coconut JSON) on arbitrary bytes. See fuzz.h. */
#include "../../plugins/dataset/prontoqa.c"

#define FUZZ_DATASET_FILE "train.json"
#include "fuzz_dataset.h"

/* fuzz_gsm8k.c — libFuzzer harness: the GSM8k loader (plugins/dataset/gsm8k.c,
 * iCoT text lines) on arbitrary bytes. See fuzz.h. */
#include "../../plugins/dataset/gsm8k.c"

#define FUZZ_DATASET_FILE "train.txt"
#include "fuzz_dataset.h"

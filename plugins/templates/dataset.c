/* dataset.c — template of a dataset plugin (named "dataset"; rename it).
 *
 * A working toy: "addition chains". Each example asks for the sum of a few
 * small numbers and lists the running sums as its reasoning steps:
 *   question "Add 3, 5 and 2."
 *   steps    ["3 + 5 = 8.", "8 + 2 = 10."]
 *   answer   "10"
 *   meta     {"terms":[3,5,2]}
 * Each split is generated from its own seed, so the splits differ and every
 * run sees the same data. A real dataset would read files in load() (and maybe
 * create them in prepare()).
 *
 * Copy to plugins/dataset/<name>.c (or out of tree), set name = <name>, build
 * (see plugins/README.md). Strings handed to the sink only need to live until
 * sink->add returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/plugin.h"

COCO_PLUGIN_DECLARE();

static const coco_host *host;

static const coco_option_spec options[] = {
    {"n", COCO_OPT_INT, "100", "examples per split"},
    {"terms", COCO_OPT_INT, "3", "numbers to add (2..8)"},
    {"seed", COCO_OPT_INT, "1", "data seed"},
    {NULL, 0, NULL, NULL},
};

typedef struct toy_data {
    int n, terms;
    unsigned long long seed;
} toy_data;

static int data_create(const coco_options *o, void **self) {
    int64_t n = host->opt_int(o, "n"), t = host->opt_int(o, "terms");
    if (n < 0 || n > 10000000) return host->seterr("dataset 'dataset': n = %lld is outside 0..10000000", (long long)n);
    if (t < 2 || t > 8) return host->seterr("dataset 'dataset': terms = %lld is outside 2..8", (long long)t);
    toy_data *d = calloc(1, sizeof *d);
    if (!d) return host->seterr("dataset 'dataset': out of memory");
    d->n = (int)n, d->terms = (int)t;
    d->seed = (unsigned long long)host->opt_int(o, "seed");
    *self = d;
    return 0;
}

static void data_destroy(void *self) { free(self); }

/* splitmix64: a tiny self-contained generator (a plugin may also use coco_rng). */
static unsigned long long next(unsigned long long *s) {
    unsigned long long z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int data_load(void *self, const char *split, const coco_example_sink *sink) {
    toy_data *d = self;
    int which = !strcmp(split, "train") ? 0 : !strcmp(split, "valid") ? 1 : !strcmp(split, "test") ? 2 : -1;
    if (which < 0) return host->seterr("dataset 'dataset': unknown split '%s' (expected train, valid or test)", split);
    unsigned long long s = d->seed * 3 + (unsigned long long)which;
    char question[128], answer[32], meta[128], stepbuf[8][48];
    const char *steps[8];
    for (int i = 0; i < d->n; i++) {
        int x[8], sum = 0;
        for (int k = 0; k < d->terms; k++) x[k] = 1 + (int)(next(&s) % 9);
        int q = snprintf(question, sizeof question, "Add %d", x[0]);
        int m = snprintf(meta, sizeof meta, "{\"terms\":[%d", x[0]);
        for (int k = 1; k < d->terms; k++) {
            q += snprintf(question + q, sizeof question - (size_t)q, k == d->terms - 1 ? " and %d." : ", %d", x[k]);
            m += snprintf(meta + m, sizeof meta - (size_t)m, ",%d", x[k]);
        }
        snprintf(meta + m, sizeof meta - (size_t)m, "]}");
        sum = x[0];
        for (int k = 1; k < d->terms; k++) {
            snprintf(stepbuf[k - 1], sizeof stepbuf[k - 1], "%d + %d = %d.", sum, x[k], sum + x[k]);
            steps[k - 1] = stepbuf[k - 1];
            sum += x[k];
        }
        snprintf(answer, sizeof answer, "%d", sum);
        coco_example ex = {question, steps, d->terms - 1, answer, meta};
        if (sink->add(sink->ud, &ex) != 0) return -1; /* the host asked to stop; its message is set */
    }
    return 0;
}

static const coco_dataset_vt vt = {
    .struct_size = sizeof(coco_dataset_vt),
    .create = data_create,
    .destroy = data_destroy,
    .load = data_load,
    .prepare = NULL, /* nothing to prepare: data is generated on the fly */
};

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_DATASET;
    p->name = "dataset";
    p->doc = "template: addition chains with running sums as steps";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

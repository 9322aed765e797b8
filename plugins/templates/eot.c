/* eot.c — template of an <eot> policy plugin (named "eot"; rename it).
 *
 * A working example that looks at the hidden states: a row stops thinking
 * once it has at least `min` thoughts and the L2 norm of its latest hidden
 * state (the thought it would feed back next) is below `threshold`, or when it
 * reaches `max`. With threshold 0 it always thinks exactly `max` thoughts.
 *
 * decide() is called once per latent step with the rows still thinking:
 *   rows[i]        the row's index in the generation batch
 *   n_thoughts[i]  thoughts it has produced so far (0 = right after the prompt)
 *   planned[i]     the curriculum's eval-plan count, -1 when none
 *   hidden         [n, d] latest hidden states, row i at hidden + i*d
 * and sets stop[i] = 1 to end latent mode for rows[i]. max_thoughts() bounds
 * the KV cache: the host never asks beyond it.
 */
#include <math.h>
#include <stdlib.h>

#include "coconut/plugin.h"

COCO_PLUGIN_DECLARE();

static const coco_host *host;

static const coco_option_spec options[] = {
    {"threshold", COCO_OPT_NUM, "0", "stop when the hidden-state norm drops below this (0 = never)"},
    {"min", COCO_OPT_INT, "1", "thoughts before the threshold may stop a row"},
    {"max", COCO_OPT_INT, "6", "hard upper bound on thoughts"},
    {NULL, 0, NULL, NULL},
};

typedef struct norm_eot {
    double threshold;
    int min, max;
} norm_eot;

static int eot_create(const coco_options *o, void **self) {
    double t = host->opt_num(o, "threshold");
    int64_t mn = host->opt_int(o, "min"), mx = host->opt_int(o, "max");
    if (t < 0) return host->seterr("eot 'eot': threshold = %g is negative", t);
    if (mx < 0 || mx > 10000) return host->seterr("eot 'eot': max = %lld is outside 0..10000", (long long)mx);
    if (mn < 0 || mn > mx) return host->seterr("eot 'eot': min = %lld is outside 0..max (%lld)", (long long)mn, (long long)mx);
    norm_eot *e = calloc(1, sizeof *e);
    if (!e) return host->seterr("eot 'eot': out of memory");
    e->threshold = t, e->min = (int)mn, e->max = (int)mx;
    *self = e;
    return 0;
}

static void eot_destroy(void *self) { free(self); }

static int eot_decide(void *self, int n, const int *rows, const int *n_thoughts, const int *planned,
                      const float *hidden, int d, unsigned char *stop) {
    norm_eot *e = self;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)hidden[(size_t)i * d + j] * hidden[(size_t)i * d + j];
        int low = e->threshold > 0 && sqrt(s) < e->threshold;
        stop[i] = n_thoughts[i] >= e->max || (n_thoughts[i] >= e->min && low);
    }
    return 0;
}

static int eot_max_thoughts(void *self) { return ((norm_eot *)self)->max; }

static const coco_eot_vt vt = {
    .struct_size = sizeof(coco_eot_vt),
    .create = eot_create,
    .destroy = eot_destroy,
    .decide = eot_decide,
    .max_thoughts = eot_max_thoughts,
};

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_EOT;
    p->name = "eot";
    p->doc = "template: stop when the hidden-state norm falls below a threshold (min..max thoughts)";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

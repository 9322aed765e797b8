/* fixed.c — <eot> plugin "fixed": a fixed number of continuous thoughts.
 *
 * With k >= 0 every example thinks exactly k thoughts. With k = -1 (default)
 * each row follows the count its curriculum's eval plan gave it (`planned`),
 * which is what the official Coconut evaluation does: the prompt carries
 * k = min(stage, ...) * c_thought latent slots. max_thoughts (the KV cache
 * bound) is k, or the option `max` when k follows the plan; a plan above `max`
 * is an error rather than a silent cut.
 */
#include <stdlib.h>

#include "coconut/plugin.h"

static const coco_host *host;

typedef struct fixed_eot {
    int k, max;
} fixed_eot;

static const coco_option_spec options[] = {
    {"k", COCO_OPT_INT, "-1", "thoughts per example; -1 = the curriculum's planned count per row"},
    {"max", COCO_OPT_INT, "16", "upper bound on thoughts when k = -1"},
    {NULL, 0, NULL, NULL},
};

static int fixed_create(const coco_options *o, void **self) {
    int64_t k = host->opt_int(o, "k"), m = host->opt_int(o, "max");
    if (k < -1 || k > 100000) return host->seterr("eot 'fixed': k = %lld is outside -1..100000", (long long)k);
    if (m < 0 || m > 100000) return host->seterr("eot 'fixed': max = %lld is outside 0..100000", (long long)m);
    fixed_eot *e = calloc(1, sizeof *e);
    if (!e) return host->seterr("eot 'fixed': out of memory");
    e->k = (int)k;
    e->max = (int)m;
    *self = e;
    return 0;
}

static void fixed_destroy(void *self) { free(self); }

static int fixed_decide(void *self, int n, const int *rows, const int *n_thoughts, const int *planned,
                        const float *hidden, int d, unsigned char *stop) {
    fixed_eot *e = self;
    for (int i = 0; i < n; i++) {
        int target = e->k;
        if (target < 0) {
            target = planned ? planned[i] : -1;
            if (target < 0)
                return host->seterr("eot 'fixed': k = -1 follows the curriculum's plan, but row %d has no planned "
                                    "count; set k",
                                    rows ? rows[i] : i);
            if (target > e->max)
                return host->seterr("eot 'fixed': row %d plans %d thoughts, more than max = %d", rows ? rows[i] : i,
                                    target, e->max);
        }
        stop[i] = n_thoughts[i] >= target;
    }
    return 0;
}

static int fixed_max_thoughts(void *self) {
    fixed_eot *e = self;
    return e->k >= 0 ? e->k : e->max;
}

static const coco_eot_vt vt = {
    .struct_size = sizeof(coco_eot_vt),
    .create = fixed_create,
    .destroy = fixed_destroy,
    .decide = fixed_decide,
    .max_thoughts = fixed_max_thoughts,
};

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_EOT;
    p->name = "fixed";
    p->doc = "fixed thought count: k per example, or the curriculum's planned count (k = -1)";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

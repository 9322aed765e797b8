/* good_probe.c — test plugin: a valid probe with options of every type, one
 * of them required. Row: index, tag, scaled sum of the thoughts, first token,
 * n_thoughts, and "<n_steps>:<first step>" from the event fields appended
 * after ABI 1 (read through COCO_PROBE_EVENT_HAS; "-" when the host has none).
 * Counts live instances in a global so the test can check that destroy ran. */
#include <stdio.h>
#include <stdlib.h>

#include "coconut/plugin.h"

COCO_PLUGIN_DECLARE();

static const coco_host *host;
COCO_PLUGIN_EXPORT int good_probe_live; /* instances alive */

static const coco_option_spec options[] = {
    {"tag", COCO_OPT_STR, NULL, "required label copied into every row"},
    {"scale", COCO_OPT_NUM, "1.5", "factor on the thought sum"},
    {"limit", COCO_OPT_INT, "-1", "fail on examples with index > limit (-1 = never)"},
    {"thoughts", COCO_OPT_BOOL, "true", "ask for thoughts"},
    {NULL, 0, NULL, NULL},
};

typedef struct gp {
    char tag[64];
    double scale;
    long long limit;
    int thoughts;
    char cells[6][64];
} gp;

static const char *const cols[] = {"index", "tag", "sum", "first", "n_thoughts", "steps", NULL};

static int gp_create(const coco_options *o, void **self) {
    gp *p = calloc(1, sizeof *p);
    snprintf(p->tag, sizeof p->tag, "%s", host->opt_str(o, "tag"));
    p->scale = host->opt_num(o, "scale");
    p->limit = host->opt_int(o, "limit");
    p->thoughts = host->opt_bool(o, "thoughts");
    good_probe_live++;
    *self = p;
    return 0;
}

static void gp_destroy(void *self) {
    free(self);
    good_probe_live--;
}

static const char *const *gp_columns(void *self) { return cols; }
static int gp_wants(void *self) { return ((gp *)self)->thoughts ? COCO_PROBE_THOUGHTS : 0; }

static int gp_on_example(void *self, const coco_probe_event *ev, const coco_probe_emit *emit) {
    gp *p = self;
    if (p->limit >= 0 && ev->index > p->limit) return host->seterr("good_probe: index %d > limit %lld", ev->index, p->limit);
    double s = 0;
    for (int i = 0; ev->thoughts && i < ev->n_thoughts * ev->d; i++) s += ev->thoughts[i];
    snprintf(p->cells[0], 64, "%d", ev->index);
    snprintf(p->cells[1], 64, "%s", p->tag);
    snprintf(p->cells[2], 64, "%g", s * p->scale);
    snprintf(p->cells[3], 64, "%s", ev->n_tokens > 0 ? ev->token_text[0] : "");
    snprintf(p->cells[4], 64, "%d", ev->n_thoughts);
    if (COCO_PROBE_EVENT_HAS(host, steps))
        snprintf(p->cells[5], 64, "%d:%s", ev->n_steps, ev->n_steps > 0 ? ev->steps[0] : "");
    else
        snprintf(p->cells[5], 64, "-");
    const char *row[6] = {p->cells[0], p->cells[1], p->cells[2], p->cells[3], p->cells[4], p->cells[5]};
    return emit->row(emit->ud, row);
}

static const coco_probe_vt vt = {
    .struct_size = sizeof(coco_probe_vt),
    .create = gp_create,
    .destroy = gp_destroy,
    .columns = gp_columns,
    .wants = gp_wants,
    .on_example = gp_on_example,
    .on_end = NULL,
};

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    if (h->abi_version != COCO_PLUGIN_ABI_VERSION || h->struct_size < sizeof(coco_host))
        return h->seterr("good_probe: unexpected host table");
    h->log("good_probe init (coconut %s)", h->coconut_version);
    p->kind = COCO_KIND_PROBE;
    p->name = "good_probe";
    p->doc = "test probe";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

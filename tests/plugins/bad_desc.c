/* bad_desc.c — test plugin that fills an invalid descriptor; which defect is
 * chosen by $COCO_TEST_BAD (read at init, so each load can differ):
 *   kind, name, emptyname, vtable, size, callback, optdup, opttype, optdefault,
 *   optname; anything else (or unset) = a valid eot plugin. */
#include <stdlib.h>
#include <string.h>

#include "coconut/plugin.h"

COCO_PLUGIN_DECLARE();

static int bd_create(const coco_options *o, void **self) { return *self = NULL, 0; }
static void bd_destroy(void *self) {}
static int bd_decide(void *self, int n, const int *rows, const int *nt, const int *pl, const float *h, int d,
                     unsigned char *stop) {
    for (int i = 0; i < n; i++) stop[i] = 1;
    return 0;
}
static int bd_max(void *self) { return 1; }

static coco_eot_vt vt;
static coco_option_spec opts[3];

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    const char *bad = getenv("COCO_TEST_BAD");
    if (!bad) bad = "";
    vt = (coco_eot_vt){sizeof(coco_eot_vt), bd_create, bd_destroy, bd_decide, bd_max};
    opts[0] = (coco_option_spec){"alpha", COCO_OPT_INT, "1", "a"};
    opts[1] = (coco_option_spec){"beta", COCO_OPT_NUM, "0.5", "b"};
    opts[2] = (coco_option_spec){NULL, 0, NULL, NULL};
    p->kind = COCO_KIND_EOT;
    p->name = "bad_desc";
    p->doc = "test";
    p->options = opts;
    p->vtable = &vt;
    if (!strcmp(bad, "kind")) p->kind = (coco_plugin_kind)7;
    else if (!strcmp(bad, "name")) p->name = "other_name";
    else if (!strcmp(bad, "emptyname")) p->name = "";
    else if (!strcmp(bad, "vtable")) p->vtable = NULL;
    else if (!strcmp(bad, "size")) vt.struct_size = 8;
    else if (!strcmp(bad, "callback")) vt.decide = NULL;
    else if (!strcmp(bad, "optdup")) opts[1].name = "alpha";
    else if (!strcmp(bad, "opttype")) opts[1].type = (coco_opt_type)9;
    else if (!strcmp(bad, "optdefault")) opts[0].def = "1.5";
    else if (!strcmp(bad, "optname")) opts[1].name = "has space";
    return 0;
}

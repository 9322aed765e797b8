/* abi999.c — test plugin built for a future ABI: the host must refuse it
 * without running its init, which would leave a marker file behind. */
#include <stdio.h>
#include <stdlib.h>

#include "coconut/plugin.h"

COCO_PLUGIN_EXPORT const uint32_t coco_plugin_abi = 999;

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    const char *m = getenv("COCO_TEST_MARKER");
    if (m) {
        FILE *f = fopen(m, "w");
        if (f) fclose(f);
    }
    p->kind = COCO_KIND_PROBE;
    p->name = "abi999";
    return 0;
}

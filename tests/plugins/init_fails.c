/* init_fails.c — test plugin whose init refuses to start with a message. */
#include "coconut/plugin.h"

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    return h->seterr("init_fails: the frobnicator is missing (%d)", 42);
}

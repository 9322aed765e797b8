/* no_init.c — test plugin that declares the ABI but has no coco_plugin_init. */
#include "coconut/plugin.h"

COCO_PLUGIN_DECLARE();

int no_init_something(void) { return 1; }

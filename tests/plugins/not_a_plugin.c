/* not_a_plugin.c — an ordinary shared object: no coco_plugin_abi. */
int not_a_plugin_answer(void) { return 42; }

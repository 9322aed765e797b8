/* testplugins.h — helpers shared by the C tests of plugins (test_plugins.c,
 * test_baselines.c). Header-only, like testutil.h; include after it. */
#ifndef COCONUT_TESTPLUGINS_H
#define COCONUT_TESTPLUGINS_H

#include "coconut/pluginhost.h"

/* A plugin's options from "name=value" strings (NULL-terminated kv, may be
 * NULL), finished; fails the test on any error. */
static COCO_UNUSED coco_options *tu_plugin_options(const coco_loaded_plugin *p, const char *const *kv) {
    coco_options *o = coco_options_new(p->desc.options, p->desc.name);
    assert_non_null(o);
    for (int i = 0; kv && kv[i]; i++) {
        char name[128];
        const char *eq = strchr(kv[i], '=');
        assert_non_null(eq);
        snprintf(name, sizeof name, "%.*s", (int)(eq - kv[i]), kv[i]);
        if (coco_options_set(o, name, eq + 1) != 0) fail_msg("%s", coco_errmsg());
    }
    if (coco_options_finish(o) != 0) fail_msg("%s", coco_errmsg());
    return o;
}

#endif

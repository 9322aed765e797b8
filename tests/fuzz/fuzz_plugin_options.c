/* fuzz_plugin_options.c — libFuzzer harness: the plugin options validator
 * (core/pluginhost.c). The input is lines: the first part (up to a line "--")
 * declares a spec, one option per line "name type default" (a default of "-"
 * = required; the spec is checked as a plugin's would be); the rest sets
 * values, "name=value" per line. Every value of an accepted set is then read
 * back with the getter of its type and as canonical text. See fuzz.h. */
#include "coconut/pluginhost.h"
#include "fuzz.h"

#define FZ_MAX_OPTS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    coco_option_spec spec[FZ_MAX_OPTS + 1];
    int n = 0;
    char *line = text, *next;
    int in_spec = 1;
    coco_options *o = NULL;
    for (; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (in_spec) {
            if (!strcmp(line, "--") || n == FZ_MAX_OPTS) {
                spec[n] = (coco_option_spec){NULL, 0, NULL, NULL};
                o = coco_options_new(n ? spec : NULL, "probe 'fuzz'");
                in_spec = 0;
                if (!o) break;
                if (!strcmp(line, "--")) continue;
            } else {
                char *ty = strchr(line, ' ');
                if (!ty) continue;
                *ty++ = 0;
                char *def = strchr(ty, ' ');
                if (def) *def++ = 0;
                int t = coco_opt_type_parse(ty);
                if (t < 0) continue;
                spec[n++] = (coco_option_spec){line, (coco_opt_type)t, def && strcmp(def, "-") ? def : NULL, "fuzzed"};
                continue;
            }
        }
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        (void)coco_options_set(o, line, eq + 1);
    }
    if (in_spec) {
        spec[n] = (coco_option_spec){NULL, 0, NULL, NULL};
        o = coco_options_new(n ? spec : NULL, "probe 'fuzz'");
    }
    if (o) {
        if (coco_options_finish(o) == 0) {
            for (int i = 0; i < coco_options_count(o); i++) {
                const char *name = coco_options_name(o, i);
                (void)coco_options_text(o, i);
                switch (coco_options_type(o, i)) {
                case COCO_OPT_INT: (void)coco_opt_int(o, name); break;
                case COCO_OPT_NUM: (void)coco_opt_num(o, name); break;
                case COCO_OPT_BOOL: (void)coco_opt_bool(o, name); break;
                default: (void)coco_opt_str(o, name); break;
                }
            }
        }
        coco_options_free(o);
    }
    free(text);
    return 0;
}

/* coconut/pluginhost.h — the host side of the plugin ABI (coconut/plugin.h):
 * option validation, loading C plugins, and finding plugin files.
 *
 * Contract
 *   - Options. coco_options holds the values of one plugin instance, checked
 *     against the plugin's coco_option_spec. Values are set as text (what the
 *     user wrote in a script or on the command line) and parsed by type:
 *       int     base-10 integer fitting in int64 ("-3", "17886")
 *       number  a finite decimal/exponent number ("1e-4", "0.5", "3")
 *       bool    true|false|1|0|yes|no (case-insensitive)
 *       string  any text
 *     Defaults come from the spec; an option whose def is NULL is required and
 *     coco_options_finish reports it when unset. Every rejection is an expected
 *     failure (-1 / NULL + coco_seterr) whose message starts with the owner
 *     ("probe 'first_token': ..."), names the option and, for unknown names,
 *     lists the valid ones. Reading an option the spec does not declare, or
 *     with the getter of another type, is a plugin bug: coco_fail. (opt_num
 *     also reads int options, since an int is a number.)
 *     Lua plugins are validated by the Lua layer through the same functions,
 *     so both kinds of plugin follow one set of rules; coco_options_new copies
 *     the spec, so the caller may free its spec right after.
 *   - Loading. coco_plugin_load dlopens a C plugin (RTLD_NOW | RTLD_LOCAL),
 *     checks coco_plugin_abi BEFORE running any plugin function, calls
 *     coco_plugin_init, and validates the descriptor it filled. Any failure
 *     leaves nothing loaded (the object is dlclose'd) and returns NULL with a
 *     message that starts with the path. The plugin's undefined coco_* symbols
 *     resolve against the running program, which must export libcoconut
 *     (-Wl,--export-dynamic, as the coconut program and the tests do) or load
 *     libcoconut.so globally. Unload only after every instance is destroyed.
 *     Loading the same file twice maps it once (dlopen reference counting) and
 *     runs init twice: plugins must not rely on init running only once.
 *   - Search path: $COCONUT_PLUGIN_PATH entries (colon-separated, in order),
 *     then the built-in directories that exist, from $COCONUT_HOME when set
 *     (root = a project checkout or an install prefix), else from the directory
 *     of /proc/self/exe:
 *         $COCONUT_HOME/build/plugins   <exe_dir>/plugins              (in-tree .so)
 *         $COCONUT_HOME/plugins         <exe_dir>/../plugins           (in-tree .lua)
 *         $COCONUT_HOME/lib/coconut/plugins  <exe_dir>/../lib/coconut/plugins (installed)
 *     A plugin file is <dir>/<kind>/<name>.so|.lua or <dir>/<name>.so|.lua; in a
 *     directory .so is tried before .lua, and earlier directories win.
 *   - Log context: host->log prefixes each line with a thread-local name
 *     ("[probe first_token] ..."). The loader sets it around init; code that
 *     calls into plugins (the Lua layer) sets it with coco_host_set_context.
 *   - Threading: the functions here may be called from any thread, but one
 *     coco_options / coco_loaded_plugin from one thread at a time.
 */
#ifndef COCONUT_PLUGINHOST_H
#define COCONUT_PLUGINHOST_H

#include <stddef.h>

#include "coconut/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ options */

/* Checks a spec (NULL = no options): names non-empty, made of [A-Za-z0-9_],
 * unique; types known; every default parses as its type. 0, or -1 + errmsg
 * starting with owner. */
int coco_option_spec_check(const coco_option_spec *spec, const char *owner);

/* New option set with the defaults applied; owner (e.g. "probe 'first_token'")
 * prefixes every message. NULL + errmsg when the spec is invalid (see above). */
coco_options *coco_options_new(const coco_option_spec *spec, const char *owner);
/* Sets one value from text. -1 + errmsg: unknown option (lists the valid
 * ones), or a value that does not parse (names option, value, expected type). */
int coco_options_set(coco_options *o, const char *name, const char *value);
/* After all sets: -1 + errmsg naming a required option that was not set. */
int coco_options_finish(coco_options *o);

int64_t coco_opt_int(const coco_options *o, const char *name);
double coco_opt_num(const coco_options *o, const char *name);
int coco_opt_bool(const coco_options *o, const char *name);
const char *coco_opt_str(const coco_options *o, const char *name); /* valid until the next set or free */

/* Iteration in spec order, e.g. to write a run's resolved config. */
int coco_options_count(const coco_options *o);
const char *coco_options_name(const coco_options *o, int i);
/* The resolved value as canonical text ("42", "0.0001", "true", the string);
 * NULL for a required option not set. */
const char *coco_options_text(const coco_options *o, int i);
coco_opt_type coco_options_type(const coco_options *o, int i);
const char *coco_options_doc(const coco_options *o, int i);    /* "" when none */
const char *coco_options_default(const coco_options *o, int i);/* NULL = required */
int coco_options_is_set(const coco_options *o, int i);         /* 1 when set explicitly */
const char *coco_options_owner(const coco_options *o);
void coco_options_free(coco_options *o);

const char *coco_opt_type_name(coco_opt_type t); /* "int", "number", "bool", "string" */
int coco_opt_type_parse(const char *s);          /* the inverse (e.g. for Lua specs), -1 if unknown */

/* ------------------------------------------------------------------ host table */

/* The table passed to every plugin (static; never freed). seterr is
 * coco_seterr; log writes "[<context>] <msg>\n" to stderr. */
const coco_host *coco_host_get(void);
/* Sets this thread's log context (copied; NULL = "plugin"). */
void coco_host_set_context(const char *who);

/* ------------------------------------------------------------------ loading */

typedef struct coco_loaded_plugin {
    char *path;         /* as given to coco_plugin_load */
    void *handle;       /* dlopen handle */
    coco_plugin desc;   /* what init filled (doc never NULL) */
} coco_loaded_plugin;

/* NULL + errmsg (starting with path) when: dlopen fails (dlerror text); the
 * object has no coco_plugin_abi ("not a coconut plugin"); the ABI differs
 * ("<path>: plugin built for ABI 2, this coconut has ABI 1" — refused without
 * running init); no coco_plugin_init; init returns non-zero (its seterr
 * message); the descriptor is invalid (kind, name == file base name, vtable,
 * vtable struct_size >= the ABI-1 size, required callbacks, option spec). */
coco_loaded_plugin *coco_plugin_load(const char *path);
void coco_plugin_unload(coco_loaded_plugin *p); /* NULL ok */

/* The vtable, typed; coco_fail if the plugin is of another kind. */
const coco_dataset_vt *coco_plugin_dataset(const coco_loaded_plugin *p);
const coco_curriculum_vt *coco_plugin_curriculum(const coco_loaded_plugin *p);
const coco_eot_vt *coco_plugin_eot(const coco_loaded_plugin *p);
const coco_probe_vt *coco_plugin_probe(const coco_loaded_plugin *p);

/* 1 when a vtable (or any struct carrying struct_size first) provides `field`:
 * fields appended after the plugin was built read as absent. */
#define COCO_VT_HAS(vt, type, field) \
    ((vt) && (size_t)(vt)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field) && (vt)->field)

const char *coco_plugin_kind_name(coco_plugin_kind k); /* "dataset", ...; "?" when unknown */
int coco_plugin_kind_parse(const char *s);             /* coco_plugin_kind, or -1 if unknown */

/* ------------------------------------------------------------------ finding */

/* The search directories in order (see the contract). Returns the count;
 * *dirs is a malloc'ed array of malloc'ed strings (free each, then the array). */
int coco_plugin_dirs(char ***dirs);
void coco_plugin_dirs_free(char **dirs, int n);

/* Path of the plugin file for (kind, name), malloc'ed. kind NULL searches every
 * kind subdirectory. A name containing '/' is a path: returned if it exists.
 * A name ending in .so or .lua is tried as a path first, then as a file name in
 * the search directories (so "template.lua" picks the Lua twin of a C plugin).
 * Otherwise <dir>/<kind>/<name>.so, <dir>/<kind>/<name>.lua, <dir>/<name>.so,
 * <dir>/<name>.lua in each directory. NULL + errmsg naming kind, name and the
 * directories searched. */
char *coco_plugin_find(const char *kind, const char *name);

/* Calls cb for every plugin file (*.so, *.lua) in the search path, directory
 * by directory, each directory's entries sorted by name; kind is the
 * subdirectory's kind, or NULL for files directly in a search directory.
 * The first occurrence of a kind/name wins (later ones are not reported).
 * Returns the number of plugins reported. */
int coco_plugin_scan(void (*cb)(void *ud, const char *kind, const char *name, const char *path), void *ud);

#ifdef __cplusplus
}
#endif
#endif

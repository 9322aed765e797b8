/* pluginhost.c — plugin options, loader and search path (coconut/pluginhost.h). */
#include "coconut/pluginhost.h"
#include "coconut/suggest.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ================================================================== options */

typedef struct coco_opt_entry {
    char *name, *doc, *def; /* copies of the spec (def NULL = required) */
    coco_opt_type type;
    int set;                /* set explicitly */
    int has;                /* has a value (default or set) */
    char *text;             /* canonical text of the value */
    int64_t i;
    double d;
    int b;
} coco_opt_entry;

struct coco_options {
    char *owner;
    int n;
    coco_opt_entry *e;
};

int coco_opt_type_parse(const char *s) {
    for (int t = COCO_OPT_INT; s && t <= COCO_OPT_STR; t++)
        if (!strcmp(s, coco_opt_type_name((coco_opt_type)t))) return t;
    return -1;
}

const char *coco_opt_type_name(coco_opt_type t) {
    switch (t) {
    case COCO_OPT_INT: return "int";
    case COCO_OPT_NUM: return "number";
    case COCO_OPT_BOOL: return "bool";
    case COCO_OPT_STR: return "string";
    }
    return "?";
}

static const char *opt_expect(coco_opt_type t) {
    switch (t) {
    case COCO_OPT_INT: return "an int (a base-10 integer such as 42 or -1)";
    case COCO_OPT_NUM: return "a number (such as 0.5, 3 or 1e-4)";
    case COCO_OPT_BOOL: return "a bool (true|false|1|0|yes|no)";
    default: return "a string";
    }
}

static char *xasprintf(const char *fmt, ...) COCO_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = coco_malloc((size_t)n + 1, "string");
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Shortest "%.*g" text that reads back as the same double, so a resolved
 * config shows 0.0001 rather than 0.00010000000000000000479. */
static char *num_text(double d) {
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    return coco_strdup(buf);
}

/* Parses text as type t into the entry's value fields. 0 or -1 (no message). */
static int opt_parse(coco_opt_type t, const char *s, int64_t *i, double *d, int *b) {
    switch (t) {
    case COCO_OPT_INT: {
        const char *p = s;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return -1;
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno == ERANGE || *end) return -1;
        *i = v;
        return 0;
    }
    case COCO_OPT_NUM: {
        const char *p;
        if (!*s || isspace((unsigned char)*s)) return -1; /* strtod would skip leading blanks */
        char *end;
        double v = strtod(s, &end);
        /* Reject inf/nan spellings and hex floats: options are decimal numbers. */
        if (*end || !isfinite(v)) return -1;
        for (p = s; *p; p++)
            if (*p == 'x' || *p == 'X') return -1;
        *d = v;
        return 0;
    }
    case COCO_OPT_BOOL: {
        static const char *yes[] = {"true", "1", "yes"}, *no[] = {"false", "0", "no"};
        for (int k = 0; k < 3; k++) {
            if (!strcasecmp(s, yes[k])) return *b = 1, 0;
            if (!strcasecmp(s, no[k])) return *b = 0, 0;
        }
        return -1;
    }
    case COCO_OPT_STR: return 0;
    }
    return -1;
}

static void opt_store(coco_opt_entry *e, const char *s) {
    int64_t i = 0;
    double d = 0;
    int b = 0;
    opt_parse(e->type, s, &i, &d, &b); /* validated by the caller */
    free(e->text);
    switch (e->type) {
    case COCO_OPT_INT: e->i = i, e->d = (double)i, e->text = xasprintf("%lld", (long long)i); break;
    case COCO_OPT_NUM: e->d = d, e->text = num_text(d); break;
    case COCO_OPT_BOOL: e->b = b, e->text = coco_strdup(b ? "true" : "false"); break;
    case COCO_OPT_STR: e->text = coco_strdup(s); break;
    }
    e->has = 1;
}

static int valid_name(const char *s) {
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_') return 0;
    return 1;
}

int coco_option_spec_check(const coco_option_spec *spec, const char *owner) {
    if (!owner) owner = "plugin";
    if (!spec) return 0;
    for (int k = 0; spec[k].name; k++) {
        const coco_option_spec *s = &spec[k];
        if (!valid_name(s->name))
            return coco_seterr("%s: option %d has an invalid name '%s' (use letters, digits and '_')", owner, k + 1,
                               s->name);
        if (s->type < COCO_OPT_INT || s->type > COCO_OPT_STR)
            return coco_seterr("%s: option '%s' has an unknown type %d (expected int, number, bool or string)", owner,
                               s->name, (int)s->type);
        for (int j = 0; j < k; j++)
            if (!strcmp(spec[j].name, s->name)) return coco_seterr("%s: option '%s' is declared twice", owner, s->name);
        int64_t i;
        double d;
        int b;
        if (s->def && opt_parse(s->type, s->def, &i, &d, &b) != 0)
            return coco_seterr("%s: the default '%s' of option '%s' is not %s", owner, s->def, s->name,
                               opt_expect(s->type));
    }
    return 0;
}

coco_options *coco_options_new(const coco_option_spec *spec, const char *owner) {
    if (!owner) owner = "plugin";
    if (coco_option_spec_check(spec, owner) != 0) return NULL;
    coco_options *o = coco_calloc(1, sizeof *o, "options");
    o->owner = coco_strdup(owner);
    while (spec && spec[o->n].name) o->n++;
    o->e = coco_calloc((size_t)(o->n ? o->n : 1), sizeof *o->e, "options");
    for (int k = 0; k < o->n; k++) {
        coco_opt_entry *e = &o->e[k];
        e->name = coco_strdup(spec[k].name);
        e->doc = coco_strdup(spec[k].doc ? spec[k].doc : "");
        e->def = spec[k].def ? coco_strdup(spec[k].def) : NULL;
        e->type = spec[k].type;
        if (e->def) opt_store(e, e->def);
    }
    return o;
}

static coco_opt_entry *opt_find(const coco_options *o, const char *name) {
    for (int k = 0; k < o->n; k++)
        if (!strcmp(o->e[k].name, name)) return &o->e[k];
    return NULL;
}

int coco_options_set(coco_options *o, const char *name, const char *value) {
    if (!o || !name || !value) coco_fail("coco_options_set: NULL argument");
    coco_opt_entry *e = opt_find(o, name);
    if (!e) {
        if (!o->n) return coco_seterr("%s: unknown option '%s'; this plugin takes no options", o->owner, name);
        size_t len = 1;
        for (int k = 0; k < o->n; k++) len += strlen(o->e[k].name) + 2;
        char *list = coco_malloc(len, "option list");
        list[0] = 0;
        for (int k = 0; k < o->n; k++) {
            if (k) strcat(list, ", ");
            strcat(list, o->e[k].name);
        }
        const char **names = coco_malloc(sizeof *names * (size_t)o->n, "option names");
        for (int k = 0; k < o->n; k++) names[k] = o->e[k].name;
        const char *near = coco_closest(name, names, o->n);
        /* the hint goes last: messages keep their "unknown option 'x'; valid options:" start */
        coco_seterr("%s: unknown option '%s'; valid options: %s%s%s%s", o->owner, name, list, near ? "; did you mean '" : "",
                    near ? near : "", near ? "'?" : "");
        free(names);
        free(list);
        return -1;
    }
    int64_t i;
    double d;
    int b;
    if (opt_parse(e->type, value, &i, &d, &b) != 0)
        return coco_seterr("%s: option '%s' = '%s' is not %s", o->owner, name, value, opt_expect(e->type));
    opt_store(e, value);
    e->set = 1;
    return 0;
}

int coco_options_finish(coco_options *o) {
    if (!o) coco_fail("coco_options_finish: NULL options");
    for (int k = 0; k < o->n; k++)
        if (!o->e[k].has)
            return coco_seterr("%s: required option '%s' (%s) was not set%s%s", o->owner, o->e[k].name,
                               coco_opt_type_name(o->e[k].type), o->e[k].doc[0] ? ": " : "", o->e[k].doc);
    return 0;
}

/* Getter lookup: misuse (a plugin bug) when the name or type is wrong. */
static const coco_opt_entry *opt_get(const coco_options *o, const char *name, coco_opt_type t, const char *fn) {
    if (!o || !name) coco_fail("%s: NULL argument", fn);
    const coco_opt_entry *e = opt_find(o, name);
    if (!e) coco_fail("%s: %s reads option '%s', which its option list does not declare", o->owner, fn, name);
    if (e->type != t && !(t == COCO_OPT_NUM && e->type == COCO_OPT_INT))
        coco_fail("%s: %s reads option '%s', which is declared as %s", o->owner, fn, name, coco_opt_type_name(e->type));
    if (!e->has)
        coco_fail("%s: required option '%s' read before it was set (coco_options_finish was not called)", o->owner,
                  name);
    return e;
}

int64_t coco_opt_int(const coco_options *o, const char *name) { return opt_get(o, name, COCO_OPT_INT, "opt_int")->i; }
double coco_opt_num(const coco_options *o, const char *name) { return opt_get(o, name, COCO_OPT_NUM, "opt_num")->d; }
int coco_opt_bool(const coco_options *o, const char *name) { return opt_get(o, name, COCO_OPT_BOOL, "opt_bool")->b; }
const char *coco_opt_str(const coco_options *o, const char *name) {
    return opt_get(o, name, COCO_OPT_STR, "opt_str")->text;
}

static const coco_opt_entry *opt_at(const coco_options *o, int i, const char *fn) {
    if (!o || i < 0 || i >= o->n) coco_fail("%s: index %d out of range", fn, i);
    return &o->e[i];
}

int coco_options_count(const coco_options *o) { return o ? o->n : 0; }
const char *coco_options_name(const coco_options *o, int i) { return opt_at(o, i, "coco_options_name")->name; }
const char *coco_options_text(const coco_options *o, int i) {
    const coco_opt_entry *e = opt_at(o, i, "coco_options_text");
    return e->has ? e->text : NULL;
}
coco_opt_type coco_options_type(const coco_options *o, int i) { return opt_at(o, i, "coco_options_type")->type; }
const char *coco_options_doc(const coco_options *o, int i) { return opt_at(o, i, "coco_options_doc")->doc; }
const char *coco_options_default(const coco_options *o, int i) { return opt_at(o, i, "coco_options_default")->def; }
int coco_options_is_set(const coco_options *o, int i) { return opt_at(o, i, "coco_options_is_set")->set; }
const char *coco_options_owner(const coco_options *o) { return o ? o->owner : ""; }

void coco_options_free(coco_options *o) {
    if (!o) return;
    for (int k = 0; k < o->n; k++) {
        free(o->e[k].name), free(o->e[k].doc), free(o->e[k].def), free(o->e[k].text);
    }
    free(o->e);
    free(o->owner);
    free(o);
}

/* ================================================================== host table */

static _Thread_local char g_context[128];

void coco_host_set_context(const char *who) { snprintf(g_context, sizeof g_context, "%s", who ? who : ""); }

static void host_log(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One fprintf per line keeps lines from different threads whole. */
    fprintf(stderr, "[%s] %s\n", g_context[0] ? g_context : "plugin", msg);
}

static const coco_host g_host = {
    .abi_version = COCO_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(coco_host),
    .coconut_version = COCONUT_VERSION_STRING,
    .seterr = coco_seterr,
    .log = host_log,
    .opt_int = coco_opt_int,
    .opt_num = coco_opt_num,
    .opt_bool = coco_opt_bool,
    .opt_str = coco_opt_str,
    .plan_size = sizeof(coco_plan),
    .probe_event_size = sizeof(coco_probe_event),
};

const coco_host *coco_host_get(void) { return &g_host; }

/* ================================================================== kinds */

static const char *const g_kinds[] = {NULL, "dataset", "curriculum", "eot", "probe"};
#define N_KINDS 4

const char *coco_plugin_kind_name(coco_plugin_kind k) {
    return (int)k >= 1 && (int)k <= N_KINDS ? g_kinds[k] : "?";
}

int coco_plugin_kind_parse(const char *s) {
    if (s)
        for (int k = 1; k <= N_KINDS; k++)
            if (!strcmp(s, g_kinds[k])) return k;
    return -1;
}

/* ================================================================== loader */

/* End of the last member an ABI-1 vtable has. These stay fixed when members
 * are appended later: a plugin built for ABI 1 must provide at least these. */
#define V1_END(type, last) (offsetof(type, last) + sizeof(((type *)0)->last))
static const size_t g_vt_min[] = {
    0,
    V1_END(coco_dataset_vt, prepare),
    V1_END(coco_curriculum_vt, eval_plan),
    V1_END(coco_eot_vt, max_thoughts),
    V1_END(coco_probe_vt, on_end),
};
static const char *const g_vt_name[] = {NULL, "coco_dataset_vt", "coco_curriculum_vt", "coco_eot_vt", "coco_probe_vt"};

/* File base name without directory and without ".so". */
static char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 3 && !strcmp(b + n - 3, ".so")) n -= 3;
    else if (n > 4 && !strcmp(b + n - 4, ".lua")) n -= 4;
    char *s = coco_malloc(n + 1, "plugin name");
    memcpy(s, b, n);
    s[n] = 0;
    return s;
}

#define MISSING(cb) \
    do { \
        if (!v->cb) return coco_seterr("%s: invalid plugin descriptor: %s '%s' has no %s callback", path, kn, d->name, #cb); \
    } while (0)

static int check_descriptor(const char *path, const coco_plugin *d) {
    if ((int)d->kind < 1 || (int)d->kind > N_KINDS)
        return coco_seterr("%s: invalid plugin descriptor: unknown kind %d (expected dataset, curriculum, eot or probe)",
                           path, (int)d->kind);
    const char *kn = g_kinds[d->kind];
    if (!d->name || !*d->name) return coco_seterr("%s: invalid plugin descriptor: empty name", path);
    char *base = base_name(path);
    int same = !strcmp(base, d->name);
    if (!same) {
        coco_seterr("%s: invalid plugin descriptor: name '%s' differs from the file's base name '%s'", path, d->name,
                    base);
        free(base);
        return -1;
    }
    free(base);
    if (!d->vtable) return coco_seterr("%s: invalid plugin descriptor: %s '%s' has no vtable", path, kn, d->name);
    uint32_t size = *(const uint32_t *)d->vtable; /* every vtable starts with struct_size */
    if (size < g_vt_min[d->kind])
        return coco_seterr("%s: invalid plugin descriptor: %s '%s' vtable struct_size %u is smaller than %s of ABI %u "
                           "(%zu bytes)",
                           path, kn, d->name, (unsigned)size, g_vt_name[d->kind], COCO_PLUGIN_ABI_VERSION,
                           g_vt_min[d->kind]);
    switch (d->kind) {
    case COCO_KIND_DATASET: {
        const coco_dataset_vt *v = d->vtable;
        MISSING(create); MISSING(destroy); MISSING(load);
        break;
    }
    case COCO_KIND_CURRICULUM: {
        const coco_curriculum_vt *v = d->vtable;
        MISSING(create); MISSING(destroy); MISSING(num_stages); MISSING(stage_epochs); MISSING(reset_optimizer);
        MISSING(train_plan); MISSING(eval_plan);
        break;
    }
    case COCO_KIND_EOT: {
        const coco_eot_vt *v = d->vtable;
        MISSING(create); MISSING(destroy); MISSING(decide); MISSING(max_thoughts);
        break;
    }
    case COCO_KIND_PROBE: {
        const coco_probe_vt *v = d->vtable;
        MISSING(create); MISSING(destroy); MISSING(columns); MISSING(wants); MISSING(on_example);
        break;
    }
    }
    char owner[300];
    snprintf(owner, sizeof owner, "%s: invalid plugin descriptor: %s '%s'", path, kn, d->name);
    return coco_option_spec_check(d->options, owner);
}
#undef MISSING

coco_loaded_plugin *coco_plugin_load(const char *path) {
    if (!path || !*path) coco_fail("coco_plugin_load: empty path");
    /* dlopen searches the library path for names without '/'; a plugin path is a file. */
    char *open_path = strchr(path, '/') ? coco_strdup(path) : xasprintf("./%s", path);
    dlerror();
    void *h = dlopen(open_path, RTLD_NOW | RTLD_LOCAL);
    free(open_path);
    if (!h) {
        const char *e = dlerror();
        coco_seterr("%s: cannot load plugin: %s", path, e ? e : "dlopen failed");
        return NULL;
    }
    /* The ABI word is data: reading it runs nothing from the plugin. */
    const uint32_t *abi = dlsym(h, "coco_plugin_abi");
    if (!abi) {
        dlclose(h);
        coco_seterr("%s: not a coconut plugin (it does not export coco_plugin_abi; see COCO_PLUGIN_DECLARE in "
                    "coconut/plugin.h)",
                    path);
        return NULL;
    }
    if (*abi != COCO_PLUGIN_ABI_VERSION) {
        unsigned got = *abi;
        dlclose(h);
        coco_seterr("%s: plugin built for ABI %u, this coconut has ABI %u (rebuild it against this coconut's headers)",
                    path, got, COCO_PLUGIN_ABI_VERSION);
        return NULL;
    }
    coco_plugin_init_fn init;
    *(void **)&init = dlsym(h, "coco_plugin_init"); /* POSIX's blessed object-to-function cast */
    if (!init) {
        dlclose(h);
        coco_seterr("%s: not a coconut plugin (it declares coco_plugin_abi but exports no coco_plugin_init)", path);
        return NULL;
    }
    coco_loaded_plugin *p = coco_calloc(1, sizeof *p, "plugin");
    p->desc.abi_version = COCO_PLUGIN_ABI_VERSION;
    p->desc.struct_size = sizeof(coco_plugin);
    char *base = base_name(path);
    char ctx[128];
    snprintf(ctx, sizeof ctx, "%s", g_context);
    coco_host_set_context(base);
    free(base);
    coco_seterr("%s", "");
    int rc = init(&p->desc, &g_host);
    coco_host_set_context(ctx);
    if (rc != 0) {
        char *msg = coco_strdup(coco_errmsg());
        dlclose(h);
        free(p);
        coco_seterr("%s: plugin init failed: %s", path, msg[0] ? msg : "it returned an error without a message");
        free(msg);
        return NULL;
    }
    /* The host owns these two fields; a plugin must not change them. */
    p->desc.abi_version = COCO_PLUGIN_ABI_VERSION;
    p->desc.struct_size = sizeof(coco_plugin);
    if (check_descriptor(path, &p->desc) != 0) {
        dlclose(h);
        free(p);
        return NULL;
    }
    if (!p->desc.doc) p->desc.doc = "";
    p->path = coco_strdup(path);
    p->handle = h;
    return p;
}

void coco_plugin_unload(coco_loaded_plugin *p) {
    if (!p) return;
    if (p->handle) dlclose(p->handle);
    free(p->path);
    free(p);
}

static const void *typed_vt(const coco_loaded_plugin *p, coco_plugin_kind k) {
    if (!p) coco_fail("plugin vtable: NULL plugin");
    if (p->desc.kind != k)
        coco_fail("plugin '%s' is a %s plugin, not a %s plugin", p->desc.name, coco_plugin_kind_name(p->desc.kind),
                  coco_plugin_kind_name(k));
    return p->desc.vtable;
}
const coco_dataset_vt *coco_plugin_dataset(const coco_loaded_plugin *p) { return typed_vt(p, COCO_KIND_DATASET); }
const coco_curriculum_vt *coco_plugin_curriculum(const coco_loaded_plugin *p) {
    return typed_vt(p, COCO_KIND_CURRICULUM);
}
const coco_eot_vt *coco_plugin_eot(const coco_loaded_plugin *p) { return typed_vt(p, COCO_KIND_EOT); }
const coco_probe_vt *coco_plugin_probe(const coco_loaded_plugin *p) { return typed_vt(p, COCO_KIND_PROBE); }

/* ================================================================== search path */

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

typedef struct strvec {
    char **v;
    int n, cap;
} strvec;

static void sv_push(strvec *s, char *str) { /* takes ownership */
    for (int k = 0; k < s->n; k++)
        if (!strcmp(s->v[k], str)) {
            free(str);
            return;
        }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->v = coco_realloc(s->v, sizeof(char *) * (size_t)s->cap, "string list");
    }
    s->v[s->n++] = str;
}

/* A built-in directory: added (canonical) only if it exists. */
static void add_builtin(strvec *s, const char *root, const char *rel) {
    char *p = xasprintf("%s/%s", root, rel);
    char *real = realpath(p, NULL);
    free(p);
    if (real && is_dir(real)) sv_push(s, coco_strdup(real));
    free(real);
}

int coco_plugin_dirs(char ***dirs) {
    strvec s = {0};
    const char *env = getenv("COCONUT_PLUGIN_PATH");
    if (env) {
        const char *c = env;
        while (*c) {
            const char *e = strchr(c, ':');
            size_t n = e ? (size_t)(e - c) : strlen(c);
            if (n) {
                char *d = coco_malloc(n + 1, "plugin dir");
                memcpy(d, c, n);
                d[n] = 0;
                for (size_t m = n; m > 1 && d[m - 1] == '/';) d[--m] = 0; /* "dir/" and "dir" are one directory */
                sv_push(&s, d);
            }
            c += n;
            if (*c == ':') c++;
        }
    }
    const char *home = getenv("COCONUT_HOME");
    if (home && *home) {
        add_builtin(&s, home, "build/plugins");
        add_builtin(&s, home, "plugins");
        add_builtin(&s, home, "lib/coconut/plugins");
    } else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = 0;
            char *slash = strrchr(exe, '/');
            if (slash) *slash = 0;
            add_builtin(&s, exe, "plugins");
            add_builtin(&s, exe, "../plugins");
            add_builtin(&s, exe, "../lib/coconut/plugins");
        }
    }
    *dirs = s.v ? s.v : coco_malloc(sizeof(char *), "plugin dirs");
    return s.n;
}

void coco_plugin_dirs_free(char **dirs, int n) {
    if (!dirs) return;
    for (int k = 0; k < n; k++) free(dirs[k]);
    free(dirs);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Names of the plugins of one kind (coco_plugin_scan callback), for hints. */
typedef struct name_list {
    const char *kind;
    char **v;
    int n, cap;
} name_list;

static void collect_name(void *ud, const char *kind, const char *name, const char *path) {
    (void)path;
    name_list *l = ud;
    if (!kind || strcmp(kind, l->kind) != 0) return;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = coco_realloc(l->v, sizeof(char *) * (size_t)l->cap, "plugin names");
    }
    l->v[l->n++] = coco_strdup(name);
}

char *coco_plugin_find(const char *kind, const char *name) {
    if (!name || !*name) coco_fail("coco_plugin_find: empty plugin name");
    if (kind && coco_plugin_kind_parse(kind) < 0)
        return coco_seterr("unknown plugin kind '%s' (expected dataset, curriculum, eot or probe)", kind), NULL;
    int has_ext = ends_with(name, ".so") || ends_with(name, ".lua");
    if (strchr(name, '/')) {
        if (is_file(name)) return coco_strdup(name);
        coco_seterr("%s plugin '%s': no such file", kind ? kind : "a", name);
        return NULL;
    }
    if (has_ext && is_file(name)) return coco_strdup(name);
    char **dirs;
    int nd = coco_plugin_dirs(&dirs);
    /* Kind subdirectories to try: the given kind, or every kind. */
    const char *kinds[N_KINDS];
    int nk = 0;
    if (kind) kinds[nk++] = kind;
    else
        for (int k = 1; k <= N_KINDS; k++) kinds[nk++] = g_kinds[k];
    static const char *const exts[] = {".so", ".lua"};
    int next = has_ext ? 1 : 2;
    for (int d = 0; d < nd; d++) {
        for (int k = 0; k < nk; k++)
            for (int x = 0; x < next; x++) {
                char *p = xasprintf("%s/%s/%s%s", dirs[d], kinds[k], name, has_ext ? "" : exts[x]);
                if (is_file(p)) return coco_plugin_dirs_free(dirs, nd), p;
                free(p);
            }
        for (int x = 0; x < next; x++) {
            char *p = xasprintf("%s/%s%s", dirs[d], name, has_ext ? "" : exts[x]);
            if (is_file(p)) return coco_plugin_dirs_free(dirs, nd), p;
            free(p);
        }
    }
    size_t len = 64;
    for (int d = 0; d < nd; d++) len += strlen(dirs[d]) + 2;
    char *list = coco_malloc(len, "dir list");
    list[0] = 0;
    for (int d = 0; d < nd; d++) {
        if (d) strcat(list, ", ");
        strcat(list, dirs[d]);
    }
    if (!nd) strcpy(list, "no directories: set COCONUT_PLUGIN_PATH or COCONUT_HOME");
    if (kind) {
        /* a typo of an installed plugin's name gets a hint */
        name_list known = {kind, NULL, 0, 0};
        coco_plugin_scan(collect_name, &known);
        const char *near = coco_closest(name, (const char *const *)known.v, known.n);
        coco_seterr("no %s plugin '%s'%s%s%s (looked for %s/%s%s in: %s)", kind, name, near ? "; did you mean '" : "",
                    near ? near : "", near ? "'?" : "", kind, name, has_ext ? "" : ".so|.lua", list);
        for (int k = 0; k < known.n; k++) free(known.v[k]);
        free(known.v);
    } else
        coco_seterr("no plugin '%s' of any kind (looked for <kind>/%s%s in: %s)", name, name, has_ext ? "" : ".so|.lua",
                    list);
    free(list);
    coco_plugin_dirs_free(dirs, nd);
    return NULL;
}

/* By base name, then .so before .lua: the order coco_plugin_find tries them,
 * so scan reports the file find would load. */
static int cmp_plugin_file(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t nx = strlen(x) - (ends_with(x, ".so") ? 3 : 4), ny = strlen(y) - (ends_with(y, ".so") ? 3 : 4);
    size_t n = nx < ny ? nx : ny;
    int c = memcmp(x, y, n);
    if (c) return c;
    if (nx != ny) return nx < ny ? -1 : 1;
    return ends_with(x, ".so") ? (ends_with(y, ".so") ? 0 : -1) : (ends_with(y, ".so") ? 1 : 0);
}

/* Sorted plugin file names (*.so, *.lua) of a directory. */
static int list_plugins(const char *dir, char ***out) {
    strvec s = {0};
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            if (!ends_with(de->d_name, ".so") && !ends_with(de->d_name, ".lua")) continue;
            char *p = xasprintf("%s/%s", dir, de->d_name);
            int f = is_file(p);
            free(p);
            if (f) sv_push(&s, coco_strdup(de->d_name));
        }
        closedir(d);
    }
    if (s.n > 1) qsort(s.v, (size_t)s.n, sizeof(char *), cmp_plugin_file);
    *out = s.v;
    return s.n;
}

int coco_plugin_scan(void (*cb)(void *ud, const char *kind, const char *name, const char *path), void *ud) {
    if (!cb) coco_fail("coco_plugin_scan: NULL callback");
    char **dirs;
    int nd = coco_plugin_dirs(&dirs), reported = 0;
    strvec seen = {0};
    for (int d = 0; d < nd; d++) {
        /* kind subdirectories first, then loose files (kind unknown) */
        for (int k = 1; k <= N_KINDS + 1; k++) {
            const char *kind = k <= N_KINDS ? g_kinds[k] : NULL;
            char *sub = kind ? xasprintf("%s/%s", dirs[d], kind) : coco_strdup(dirs[d]);
            char **files;
            int nf = list_plugins(sub, &files);
            for (int f = 0; f < nf; f++) {
                char *name = base_name(files[f]);
                char *key = xasprintf("%s/%s", kind ? kind : "", name);
                int dup = 0;
                for (int j = 0; j < seen.n && !dup; j++) dup = !strcmp(seen.v[j], key);
                if (!dup) {
                    char *path = xasprintf("%s/%s", sub, files[f]);
                    cb(ud, kind, name, path);
                    free(path);
                    sv_push(&seen, key);
                    reported++;
                } else
                    free(key);
                free(name);
                free(files[f]);
            }
            free(files);
            free(sub);
        }
    }
    for (int j = 0; j < seen.n; j++) free(seen.v[j]);
    free(seen.v);
    coco_plugin_dirs_free(dirs, nd);
    return reported;
}

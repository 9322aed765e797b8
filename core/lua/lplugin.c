/* lplugin.c — coconut.plugin: load C (.so) and Lua (.lua) plugins behind one
 * interface.
 *
 *   coconut.plugin.load(kind, name_or_path [, options]) -> plugin instance
 *   coconut.plugin.list() -> { {kind=, name=, path=, doc=}, ... }
 *   coconut.plugin.find(kind, name) -> path | nil, msg
 *
 * An instance has fields kind, name, doc, path, options (the resolved values)
 * and, per kind:
 *   dataset:    p:load(split) -> { {question=, steps={...}, answer=, meta=table|nil}, ... };  p:prepare()
 *   curriculum: p:num_stages(), p:stage_epochs(stage), p:reset_optimizer(stage), p:selectable(stage),
 *               p:train_plan(stage, n_steps, rng) -> plan, p:eval_plan(stage, n_steps) -> plan
 *               (plan = {drop_steps=, n_latent=, markers=bool, n_pause=, supervision=,
 *                drop_tokens=, pause_as_thought=bool}; see coco_plan)
 *   eot:        pass it to m:generate{eot = p}; p:max_thoughts()
 *   probe:      p:columns() -> {...}; p:wants() -> {thoughts=bool, logits=bool};
 *               p:on_example(event) -> rows; p:on_end(split, epoch, stage) -> rows
 * A Lua plugin file returns a table with the same callbacks (see plugins/README.md);
 * its options are validated by the same code as a C plugin's.
 * load() raises user errors (lerrors.c: one line, exit status 2 in `coconut
 * run`) for what the user controls: an unknown name (with a "did you mean"),
 * a file of the wrong ABI / without coco_plugin_init / whose init or create
 * fails, the wrong kind, and bad options. A Lua plugin's own Lua errors stay
 * ordinary errors (a traceback helps its author).
 */
#include <stdlib.h>
#include <string.h>

#include "coconut/latent.h"
#include "coconut/plugin.h"
#include "coconut/pluginhost.h"
#include "lcoco.h"

#define LCOCO_PLUGIN "coconut.Plugin"

/* uservalues: 1 = info table (kind, name, doc, path, options), 2 = Lua plugin
 * table (Lua plugins), 3 = Lua self (Lua plugins), 4 = Lua options table */
typedef struct lplugin {
    int kind;
    int is_lua;
    coco_loaded_plugin *lp; /* C plugins */
    void *self;             /* C instance */
    coco_options *opts;
    int closed;
} lplugin;

static lplugin *check_plugin(lua_State *L, int i) {
    lplugin *p = luaL_checkudata(L, i, LCOCO_PLUGIN);
    if (p->closed) luaL_argerror(L, i, "plugin instance was closed");
    return p;
}

static lplugin *check_kind(lua_State *L, int i, int kind, const char *method) {
    lplugin *p = check_plugin(L, i);
    if (p->kind != kind)
        lcoco_errorf(L, "%s: this is a %s plugin, not a %s plugin", method, coco_plugin_kind_name(p->kind), coco_plugin_kind_name(kind));
    return p;
}

static const void *vt_of(lplugin *p) {
    switch (p->kind) {
    case COCO_KIND_DATASET: return coco_plugin_dataset(p->lp);
    case COCO_KIND_CURRICULUM: return coco_plugin_curriculum(p->lp);
    case COCO_KIND_EOT: return coco_plugin_eot(p->lp);
    default: return coco_plugin_probe(p->lp);
    }
}

/* Raise the plugin's message (from host->seterr / coco_seterr). */
static int plugin_error(lua_State *L, int idx, const char *what) {
    lua_getiuservalue(L, idx, 1);
    lua_getfield(L, -1, "name");
    lua_pushstring(L, coco_errmsg());
    return lcoco_errorf(L, "plugin '%s': %s: %s", lua_tostring(L, -2), what, lua_tostring(L, -1));
}

/* For Lua plugins: push T[fn] (a function) or raise if missing (when required). */
static int lua_cb(lua_State *L, int idx, const char *fn, int required) {
    lua_getiuservalue(L, idx, 2);
    int t = lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    if (t != LUA_TFUNCTION) {
        lua_pop(L, 1);
        if (required) {
            lua_getiuservalue(L, idx, 1);
            lua_getfield(L, -1, "name");
            return lcoco_errorf(L, "Lua plugin '%s' has no function '%s'", lua_tostring(L, -1), fn);
        }
        return 0;
    }
    lua_getiuservalue(L, idx, 3); /* self */
    return 1;
}

/* ---------------------------------------------------------------- options */

/* Options table from Lua -> validated coco_options; values converted to text. */
static coco_options *read_options(lua_State *L, int opt_idx, const coco_option_spec *spec, const char *owner) {
    if (!lua_isnoneornil(L, opt_idx)) luaL_checktype(L, opt_idx, LUA_TTABLE); /* before o exists: no leak */
    coco_options *o = coco_options_new(spec, owner);
    if (!o) lcoco_errorf(L, "%s", coco_errmsg());
    if (!lua_isnoneornil(L, opt_idx)) {
        lua_pushnil(L);
        while (lua_next(L, opt_idx)) {
            if (lua_type(L, -2) != LUA_TSTRING) {
                coco_options_free(o);
                lcoco_errorf(L, "%s: option names must be strings", owner);
            }
            char buf[64];
            const char *v;
            if (lua_type(L, -1) == LUA_TBOOLEAN) v = lua_toboolean(L, -1) ? "true" : "false";
            else if (lua_isinteger(L, -1)) snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, -1)), v = buf;
            else if (lua_type(L, -1) == LUA_TNUMBER) snprintf(buf, sizeof buf, "%.17g", lua_tonumber(L, -1)), v = buf;
            else if (lua_type(L, -1) == LUA_TSTRING) v = lua_tostring(L, -1);
            else {
                coco_options_free(o);
                lcoco_errorf(L, "%s: option '%s' has a %s value", owner, lua_tostring(L, -2), luaL_typename(L, -1));
                v = NULL;
            }
            if (coco_options_set(o, lua_tostring(L, -2), v) != 0) {
                /* a bad plugin option (name or value) comes from the run's
                 * configuration: a user error (one line, exit status 2) */
                lcoco_push_user_error(L, coco_errmsg());
                coco_options_free(o);
                lua_error(L);
            }
            lua_pop(L, 1);
        }
    }
    if (coco_options_finish(o) != 0) {
        lcoco_push_user_error(L, coco_errmsg());
        coco_options_free(o);
        lua_error(L);
    }
    return o;
}

/* Push resolved options as a Lua table of typed values. */
static void push_options(lua_State *L, const coco_options *o) {
    lua_createtable(L, 0, coco_options_count(o));
    for (int i = 0; i < coco_options_count(o); i++) {
        const char *n = coco_options_name(o, i);
        switch (coco_options_type(o, i)) {
        case COCO_OPT_INT: lua_pushinteger(L, coco_opt_int(o, n)); break;
        case COCO_OPT_NUM: lua_pushnumber(L, coco_opt_num(o, n)); break;
        case COCO_OPT_BOOL: lua_pushboolean(L, coco_opt_bool(o, n)); break;
        default: lua_pushstring(L, coco_opt_str(o, n)); break;
        }
        lua_setfield(L, -2, n);
    }
}

/* A Lua plugin's option list -> coco_option_spec array (strings anchored in
 * the plugin table). The array is the memory of a userdata left on the stack
 * (the caller pops it once the options are read), so the errors raised while
 * it is filled or used leave nothing to free. */
static coco_option_spec *lua_spec(lua_State *L, int t, const char *file) {
    int n = 0;
    if (lua_getfield(L, t, "options") == LUA_TTABLE) n = (int)luaL_len(L, -1);
    coco_option_spec *spec = lua_newuserdatauv(L, ((size_t)n + 1) * sizeof *spec, 0);
    memset(spec, 0, ((size_t)n + 1) * sizeof *spec);
    lua_insert(L, -2); /* the array below the options table */
    int oi = lua_gettop(L);
    for (int i = 0; i < n; i++) {
        lua_geti(L, oi, i + 1);
        int e = lua_gettop(L);
        if (!lua_istable(L, e)) lcoco_errorf(L, "%s: options[%d] is not a table", file, i + 1);
        /* Strings stay anchored in the option table, which the plugin table holds. */
        lua_getfield(L, e, "name");
        spec[i].name = lua_tostring(L, -1);
        lua_getfield(L, e, "type");
        const char *ty = lua_tostring(L, -1);
        lua_getfield(L, e, "doc");
        spec[i].doc = lua_tostring(L, -1);
        lua_pop(L, 3);
        if (!spec[i].name || !ty) lcoco_errorf(L, "%s: options[%d] needs a name and a type", file, i + 1);
        if (!strcmp(ty, "int")) spec[i].type = COCO_OPT_INT;
        else if (!strcmp(ty, "number")) spec[i].type = COCO_OPT_NUM;
        else if (!strcmp(ty, "bool")) spec[i].type = COCO_OPT_BOOL;
        else if (!strcmp(ty, "string")) spec[i].type = COCO_OPT_STR;
        else lcoco_errorf(L, "%s: option '%s' has unknown type '%s' (int, number, bool, string)", file, spec[i].name, ty);
        int dt = lua_getfield(L, e, "default");
        if (dt == LUA_TBOOLEAN) {
            spec[i].def = lua_toboolean(L, -1) ? "true" : "false";
        } else if (dt != LUA_TNIL) {
            luaL_tolstring(L, -1, NULL);
            lua_setfield(L, e, "default_text"); /* anchor the text form */
            lua_getfield(L, e, "default_text");
            spec[i].def = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 2); /* default, option table */
    }
    lua_pop(L, 1);
    return spec;
}

/* ---------------------------------------------------------------- loading */

static void set_info(lua_State *L, const char *kind, const char *name, const char *doc, const char *path) {
    lua_createtable(L, 0, 5);
    lua_pushstring(L, kind), lua_setfield(L, -2, "kind");
    lua_pushstring(L, name), lua_setfield(L, -2, "name");
    lua_pushstring(L, doc ? doc : ""), lua_setfield(L, -2, "doc");
    lua_pushstring(L, path), lua_setfield(L, -2, "path");
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* Loads a Lua plugin file and leaves its table on the stack. */
static void load_lua_table(lua_State *L, const char *path) {
    /* a plugin file that does not parse is a bad input file (its message names file:line) */
    if (luaL_loadfile(L, path) != LUA_OK) lcoco_user_errorf(L, "%s", lua_tostring(L, -1));
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1)) lcoco_errorf(L, "%s: a Lua plugin must return a table", path);
}

static int l_load(lua_State *L) {
    LCOCO_ENTER(L);
    lua_settop(L, 3);
    const char *kind = luaL_checkstring(L, 1), *name = luaL_checkstring(L, 2);
    int k = coco_plugin_kind_parse(kind);
    if (k < 0) return luaL_argerror(L, 1, "kind must be dataset, curriculum, eot or probe");
    char *path = coco_plugin_find(kind, name);
    if (!path) lcoco_user_errorf(L, "%s", coco_errmsg()); /* with a "did you mean" when a name is close */
    lua_pushstring(L, path);
    free(path);
    path = (char *)lua_tostring(L, -1);
    int path_idx = lua_gettop(L);
    lplugin *p = lua_newuserdatauv(L, sizeof *p, 4);
    memset(p, 0, sizeof *p);
    p->kind = k;
    luaL_setmetatable(L, LCOCO_PLUGIN);
    int ud = lua_gettop(L);
    char owner[256];
    if (ends_with(path, ".lua")) {
        p->is_lua = 1;
        load_lua_table(L, path);
        int t = lua_gettop(L);
        const char *tk = lcoco_opt_str(L, t, "kind", NULL, path), *tn = lcoco_opt_str(L, t, "name", NULL, path);
        if (!tk || coco_plugin_kind_parse(tk) != k) return lcoco_user_errorf(L, "%s: kind is '%s', expected '%s'", path, tk ? tk : "(missing)", kind);
        if (!tn || !*tn) return lcoco_errorf(L, "%s: a Lua plugin needs a name", path);
        if (lua_getfield(L, t, "create") != LUA_TFUNCTION) return lcoco_errorf(L, "%s: a Lua plugin needs a create(options) function", path);
        lua_pop(L, 1);
        snprintf(owner, sizeof owner, "%s '%s'", kind, tn);
        coco_option_spec *spec = lua_spec(L, t, path);
        p->opts = read_options(L, 3, spec, owner);
        lua_pop(L, 1); /* the spec array: coco_options keeps its own copy of the schema */
        set_info(L, kind, tn, lcoco_opt_str(L, t, "doc", "", path), path);
        push_options(L, p->opts);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, ud, 4);
        lua_setfield(L, -2, "options");
        lua_setiuservalue(L, ud, 1);
        lua_pushvalue(L, t);
        lua_setiuservalue(L, ud, 2);
        lua_getfield(L, t, "create");
        lua_getiuservalue(L, ud, 4);
        lua_call(L, 1, 1);
        lua_setiuservalue(L, ud, 3);
        lua_settop(L, ud);
        return 1;
    }
    p->lp = coco_plugin_load(path);
    if (!p->lp) {
        /* wrong ABI, missing symbol, failed init, bad descriptor: the file is
         * at fault, not the script; the message starts with its path */
        p->closed = 1;
        lcoco_user_errorf(L, "%s", coco_errmsg());
    }
    if ((int)p->lp->desc.kind != k) {
        const char *actual = coco_plugin_kind_name(p->lp->desc.kind);
        coco_plugin_unload(p->lp);
        p->lp = NULL;
        p->closed = 1;
        return lcoco_user_errorf(L, "%s: this is a %s plugin, not a %s plugin", path, actual, kind);
    }
    snprintf(owner, sizeof owner, "%s '%s'", kind, p->lp->desc.name);
    p->opts = read_options(L, 3, p->lp->desc.options, owner);
    set_info(L, kind, p->lp->desc.name, p->lp->desc.doc, path);
    push_options(L, p->opts);
    lua_setfield(L, -2, "options");
    lua_setiuservalue(L, ud, 1);
    typedef int (*create_fn)(const coco_options *, void **);
    create_fn create = NULL;
    switch (k) {
    case COCO_KIND_DATASET: create = coco_plugin_dataset(p->lp)->create; break;
    case COCO_KIND_CURRICULUM: create = coco_plugin_curriculum(p->lp)->create; break;
    case COCO_KIND_EOT: create = coco_plugin_eot(p->lp)->create; break;
    default: create = coco_plugin_probe(p->lp)->create; break;
    }
    coco_host_set_context(p->lp->desc.name);
    if (create(p->opts, &p->self) != 0) {
        lua_pushstring(L, coco_errmsg());
        p->closed = 1;
        coco_options_free(p->opts);
        p->opts = NULL;
        coco_plugin_unload(p->lp);
        p->lp = NULL;
        return lcoco_user_errorf(L, "%s: create failed: %s", owner, lua_tostring(L, -1));
    }
    lua_settop(L, ud);
    (void)path_idx;
    return 1;
}

static int p_close(lua_State *L) {
    lplugin *p = luaL_checkudata(L, 1, LCOCO_PLUGIN);
    if (p->closed) return 0;
    p->closed = 1;
    if (p->is_lua) {
        if (lua_cb(L, 1, "destroy", 0)) lua_call(L, 1, 0);
    } else if (p->lp) {
        const void *vt = vt_of(p);
        /* every vtable starts with struct_size, create, destroy */
        void (*destroy)(void *) = ((const coco_dataset_vt *)vt)->destroy;
        if (destroy && p->self) destroy(p->self);
        coco_plugin_unload(p->lp);
        p->lp = NULL;
    }
    coco_options_free(p->opts);
    p->opts = NULL;
    return 0;
}

static int p_index(lua_State *L) {
    luaL_checkudata(L, 1, LCOCO_PLUGIN);
    /* methods first, then the info fields */
    luaL_getmetatable(L, LCOCO_PLUGIN);
    lua_getfield(L, -1, "methods");
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL) return 1;
    lua_getiuservalue(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_gettable(L, -2);
    return 1;
}

static int p_tostring(lua_State *L) {
    lplugin *p = luaL_checkudata(L, 1, LCOCO_PLUGIN);
    lua_getiuservalue(L, 1, 1);
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "name");
        lua_pushfstring(L, "coconut.Plugin %s '%s' (%s)%s", coco_plugin_kind_name(p->kind), lua_tostring(L, -1),
                        p->is_lua ? "Lua" : "C", p->closed ? " closed" : "");
    } else {
        lua_pushstring(L, "coconut.Plugin (failed)");
    }
    return 1;
}

/* ---------------------------------------------------------------- dataset */

typedef struct sink_ctx {
    lua_State *L;
    int list;
    lua_Integer n;
} sink_ctx;

static int sink_add(void *ud, const coco_example *ex) {
    sink_ctx *c = ud;
    lua_State *L = c->L;
    lua_createtable(L, 0, 4);
    lua_pushstring(L, ex->question ? ex->question : ""), lua_setfield(L, -2, "question");
    lua_pushstring(L, ex->answer ? ex->answer : ""), lua_setfield(L, -2, "answer");
    lua_createtable(L, ex->n_steps, 0);
    for (int i = 0; i < ex->n_steps; i++) lua_pushstring(L, ex->steps[i]), lua_rawseti(L, -2, i + 1);
    lua_setfield(L, -2, "steps");
    if (ex->meta_json) lua_pushstring(L, ex->meta_json), lua_setfield(L, -2, "meta_json");
    lua_rawseti(L, c->list, ++c->n);
    return 0;
}

static int p_load(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_DATASET, "load");
    const char *split = luaL_checkstring(L, 2);
    if (p->is_lua) {
        lua_cb(L, 1, "load", 1);
        lua_pushvalue(L, 2);
        lua_call(L, 2, 1);
        if (!lua_istable(L, -1)) return lcoco_errorf(L, "dataset load(%s) must return a list of examples", split);
        return 1;
    }
    lua_newtable(L);
    sink_ctx c = {L, lua_gettop(L), 0};
    coco_example_sink s = {&c, sink_add};
    coco_host_set_context(p->lp->desc.name);
    if (coco_plugin_dataset(p->lp)->load(p->self, split, &s) != 0) return plugin_error(L, 1, "load");
    return 1;
}

static int p_prepare(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_DATASET, "prepare");
    if (p->is_lua) {
        if (lua_cb(L, 1, "prepare", 0)) lua_call(L, 1, 0);
        return 0;
    }
    const coco_dataset_vt *vt = coco_plugin_dataset(p->lp);
    if (vt->prepare && vt->prepare(p->self) != 0) return plugin_error(L, 1, "prepare");
    return 0;
}

/* ---------------------------------------------------------------- curriculum */

static void push_plan(lua_State *L, const coco_plan *pl) {
    lua_createtable(L, 0, 7);
    lua_pushinteger(L, pl->drop_steps), lua_setfield(L, -2, "drop_steps");
    lua_pushinteger(L, pl->n_latent), lua_setfield(L, -2, "n_latent");
    lua_pushboolean(L, pl->markers), lua_setfield(L, -2, "markers");
    lua_pushinteger(L, pl->n_pause), lua_setfield(L, -2, "n_pause");
    static const char *const sup[] = {"steps", "frontier", "bfs", "bfs_all"};
    lua_pushstring(L, pl->supervision >= 0 && pl->supervision <= 3 ? sup[pl->supervision] : "steps");
    lua_setfield(L, -2, "supervision");
    lua_pushinteger(L, pl->drop_tokens), lua_setfield(L, -2, "drop_tokens");
    lua_pushboolean(L, pl->pause_as_thought), lua_setfield(L, -2, "pause_as_thought");
}

static int lua_int_call(lua_State *L, const char *fn, int nargs_from) {
    /* self is pushed by lua_cb; copy args 2.. */
    int top = lua_gettop(L);
    (void)top;
    lua_cb(L, 1, fn, 1);
    for (int i = nargs_from; i <= nargs_from; i++) lua_pushvalue(L, i);
    lua_call(L, 2, 1);
    return 1;
}

static int p_num_stages(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_CURRICULUM, "num_stages");
    if (p->is_lua) {
        lua_cb(L, 1, "num_stages", 1);
        lua_call(L, 1, 1);
        return 1;
    }
    lua_pushinteger(L, coco_plugin_curriculum(p->lp)->num_stages(p->self));
    return 1;
}

static int p_stage_epochs(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_CURRICULUM, "stage_epochs");
    lua_Integer st = luaL_checkinteger(L, 2);
    if (p->is_lua) return lua_int_call(L, "stage_epochs", 2);
    lua_pushinteger(L, coco_plugin_curriculum(p->lp)->stage_epochs(p->self, (int)st));
    return 1;
}

/* A curriculum's per-stage yes/no callback, p:<name>(stage): a Lua plugin's
 * function of that name, or the C vtable's `fn` (NULL: absent); either way an
 * absent callback answers `dflt`. */
static int stage_bool(lua_State *L, const char *name, int (*fn)(void *, int), int dflt) {
    lplugin *p = check_kind(L, 1, COCO_KIND_CURRICULUM, name);
    lua_Integer st = luaL_checkinteger(L, 2);
    if (p->is_lua) {
        if (!lua_cb(L, 1, name, 0)) {
            lua_pushboolean(L, dflt);
            return 1;
        }
        lua_pushvalue(L, 2);
        lua_call(L, 2, 1);
        lua_pushboolean(L, lua_toboolean(L, -1));
        return 1;
    }
    lua_pushboolean(L, fn ? fn(p->self, (int)st) != 0 : dflt);
    return 1;
}

/* p:reset_optimizer(stage) -> reset AdamW when training enters `stage`? */
static int p_reset_optimizer(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_CURRICULUM, "reset_optimizer");
    const coco_curriculum_vt *vt = p->is_lua ? NULL : coco_plugin_curriculum(p->lp);
    return stage_bool(L, "reset_optimizer", vt ? vt->reset_optimizer : NULL, 0);
}

/* p:selectable(stage) -> may a checkpoint trained at `stage` be the run's best?
 * Optional on both sides (appended to the ABI): absent answers true. */
static int p_selectable(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_CURRICULUM, "selectable");
    const coco_curriculum_vt *vt = p->is_lua ? NULL : coco_plugin_curriculum(p->lp);
    return stage_bool(L, "selectable", vt && COCO_CURRICULUM_HAS(vt, selectable) ? vt->selectable : NULL, 1);
}

static void read_plan(lua_State *L, int idx, coco_plan *pl) {
    if (!lua_istable(L, idx)) lcoco_errorf(L, "curriculum plan must be a table {drop_steps=, n_latent=, markers=, n_pause=}");
    pl->drop_steps = lcoco_opt_int(L, idx, "drop_steps", 0, "plan");
    pl->n_latent = lcoco_opt_int(L, idx, "n_latent", 0, "plan");
    pl->markers = lcoco_opt_bool(L, idx, "markers", 0, "plan");
    pl->n_pause = lcoco_opt_int(L, idx, "n_pause", 0, "plan");
    const char *sup = lcoco_opt_str(L, idx, "supervision", "steps", "plan");
    if (!strcmp(sup, "steps")) pl->supervision = COCO_SUPERVISE_STEPS;
    else if (!strcmp(sup, "frontier")) pl->supervision = COCO_SUPERVISE_FRONTIER;
    else if (!strcmp(sup, "bfs")) pl->supervision = COCO_SUPERVISE_BFS;
    else if (!strcmp(sup, "bfs_all")) pl->supervision = COCO_SUPERVISE_BFS_ALL;
    else lcoco_errorf(L, "plan.supervision must be 'steps', 'frontier', 'bfs' or 'bfs_all', got '%s'", sup);
    pl->drop_tokens = lcoco_opt_int(L, idx, "drop_tokens", 0, "plan");
    pl->pause_as_thought = lcoco_opt_bool(L, idx, "pause_as_thought", 0, "plan");
}

/* The fields of a plan the host checks, whoever made it (C or Lua plugin). */
static void check_plan(lua_State *L, const coco_plan *pl) {
    if (pl->n_latent < 0 || pl->n_pause < 0 || pl->drop_steps < 0 || pl->drop_tokens < 0)
        lcoco_errorf(L, "curriculum returned a negative count in its plan");
    if (pl->drop_tokens > 0 && pl->supervision != COCO_SUPERVISE_STEPS)
        lcoco_errorf(L, "curriculum plan: drop_tokens needs 'steps' supervision (it removes tokens of the kept steps)");
}

/* p:train_plan(stage, n_steps, rng) */
static int p_train_plan(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_CURRICULUM, "train_plan");
    int st = (int)luaL_checkinteger(L, 2), ns = (int)luaL_checkinteger(L, 3);
    coco_rng *rng = luaL_checkudata(L, 4, "coconut.Rng");
    coco_plan pl;
    memset(&pl, 0, sizeof pl); /* fields an older plugin does not know stay 0 */
    if (p->is_lua) {
        lua_cb(L, 1, "train_plan", 1);
        lua_pushvalue(L, 2), lua_pushvalue(L, 3), lua_pushvalue(L, 4);
        lua_call(L, 4, 1);
        read_plan(L, -1, &pl);
    } else if (coco_plugin_curriculum(p->lp)->train_plan(p->self, st, ns, rng, &pl) != 0) {
        return plugin_error(L, 1, "train_plan");
    }
    check_plan(L, &pl);
    push_plan(L, &pl);
    return 1;
}

static int p_eval_plan(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_CURRICULUM, "eval_plan");
    int st = (int)luaL_checkinteger(L, 2), ns = (int)luaL_checkinteger(L, 3);
    coco_plan pl;
    memset(&pl, 0, sizeof pl); /* fields an older plugin does not know stay 0 */
    if (p->is_lua) {
        lua_cb(L, 1, "eval_plan", 1);
        lua_pushvalue(L, 2), lua_pushvalue(L, 3);
        lua_call(L, 3, 1);
        read_plan(L, -1, &pl);
    } else if (coco_plugin_curriculum(p->lp)->eval_plan(p->self, st, ns, &pl) != 0) {
        return plugin_error(L, 1, "eval_plan");
    }
    check_plan(L, &pl);
    push_plan(L, &pl);
    return 1;
}

/* ---------------------------------------------------------------- eot */

typedef struct lua_eot {
    lua_State *L;
    int ud_idx;
} lua_eot;

static int lua_eot_decide(void *self, int n, const int *rows, const int *nth, const int *planned, const float *hidden, int d,
                          unsigned char *stop) {
    lua_eot *e = self;
    lua_State *L = e->L;
    if (!lua_cb(L, e->ud_idx, "decide", 0)) return coco_seterr("Lua eot plugin has no decide function");
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) lua_pushinteger(L, rows[i] + 1), lua_rawseti(L, -2, i + 1);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) lua_pushinteger(L, nth[i]), lua_rawseti(L, -2, i + 1);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) lua_pushinteger(L, planned[i]), lua_rawseti(L, -2, i + 1);
    coco_tensor *h = coco_tensor_new(COCO_F32, 2, (int64_t[]){n, d});
    memcpy(h->data, hidden, sizeof(float) * (size_t)n * (size_t)d);
    lcoco_push_tensor(L, h);
    if (lua_pcall(L, 5, 1, 0) != LUA_OK) {
        coco_seterr("eot decide: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return coco_seterr("eot decide must return a list of booleans (true = stop)");
    }
    for (int i = 0; i < n; i++) {
        lua_geti(L, -1, i + 1);
        stop[i] = (unsigned char)lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    LCOCO_ENTER(L);
    return 0;
}

typedef struct c_eot {
    const coco_eot_vt *vt;
    void *self;
} c_eot;

static int c_eot_decide(void *self, int n, const int *rows, const int *nth, const int *planned, const float *hidden, int d,
                        unsigned char *stop) {
    c_eot *e = self;
    return e->vt->decide(e->self, n, rows, nth, planned, hidden, d, stop);
}

int lcoco_eot_policy(lua_State *L, int idx, coco_eot_policy *pol, int *max_thoughts) {
    lplugin *p = luaL_testudata(L, idx, LCOCO_PLUGIN);
    if (!p || p->closed || p->kind != COCO_KIND_EOT) return 0;
    idx = lua_absindex(L, idx);
    if (p->is_lua) {
        lua_eot *e = lua_newuserdatauv(L, sizeof *e, 0); /* lives on the caller's stack for the call */
        e->L = L;
        e->ud_idx = idx;
        pol->self = e;
        pol->decide = lua_eot_decide;
        *max_thoughts = 16;
        if (lua_cb(L, idx, "max_thoughts", 0)) {
            lua_call(L, 1, 1);
            *max_thoughts = (int)luaL_checkinteger(L, -1);
            lua_pop(L, 1);
        }
        return 1;
    }
    c_eot *e = lua_newuserdatauv(L, sizeof *e, 0);
    e->vt = coco_plugin_eot(p->lp);
    e->self = p->self;
    pol->self = e;
    pol->decide = c_eot_decide;
    *max_thoughts = e->vt->max_thoughts ? e->vt->max_thoughts(p->self) : 16;
    return 1;
}

static int p_max_thoughts(lua_State *L) {
    lplugin *p = check_kind(L, 1, COCO_KIND_EOT, "max_thoughts");
    coco_eot_policy pol;
    int mt = 0;
    lcoco_eot_policy(L, 1, &pol, &mt);
    (void)p;
    lua_pushinteger(L, mt);
    return 1;
}

/* ---------------------------------------------------------------- probe */

static int p_columns(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_PROBE, "columns");
    if (p->is_lua) {
        lua_cb(L, 1, "columns", 1);
        lua_call(L, 1, 1);
        return 1;
    }
    const char *const *c = coco_plugin_probe(p->lp)->columns(p->self);
    lua_newtable(L);
    for (int i = 0; c && c[i]; i++) lua_pushstring(L, c[i]), lua_rawseti(L, -2, i + 1);
    return 1;
}

static int p_wants(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_PROBE, "wants");
    int w = 0;
    if (p->is_lua) {
        if (lua_cb(L, 1, "wants", 0)) {
            lua_call(L, 1, 1);
            w = (lcoco_opt_bool(L, -1, "thoughts", 0, "wants") ? COCO_PROBE_THOUGHTS : 0) |
                (lcoco_opt_bool(L, -1, "logits", 0, "wants") ? COCO_PROBE_LOGITS : 0);
        }
    } else {
        const coco_probe_vt *vt = coco_plugin_probe(p->lp);
        w = vt->wants ? vt->wants(p->self) : 0;
    }
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, w & COCO_PROBE_THOUGHTS), lua_setfield(L, -2, "thoughts");
    lua_pushboolean(L, (w & COCO_PROBE_LOGITS) != 0), lua_setfield(L, -2, "logits");
    return 1;
}

typedef struct emit_ctx {
    lua_State *L;
    int rows;
    int ncols;
    lua_Integer n;
} emit_ctx;

static int emit_row(void *ud, const char *const *values) {
    emit_ctx *c = ud;
    lua_createtable(c->L, c->ncols, 0);
    for (int i = 0; i < c->ncols; i++) {
        lua_pushstring(c->L, values[i] ? values[i] : "");
        lua_rawseti(c->L, -2, i + 1);
    }
    lua_rawseti(c->L, c->rows, ++c->n);
    return 0;
}

/* Lua emit(row): appends to the rows table (upvalue 1). */
static int lua_emit(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_rawseti(L, lua_upvalueindex(1), n + 1);
    return 0;
}

static const char *field_str(lua_State *L, int t, const char *k) {
    lua_getfield(L, t, k);
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1); /* the event table anchors the string */
    return s;
}

/* p:on_example(event) -> rows */
static int p_on_example(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_PROBE, "on_example");
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_newtable(L);
    int rows = lua_gettop(L);
    if (p->is_lua) {
        lua_cb(L, 1, "on_example", 1);
        lua_pushvalue(L, 2);
        lua_pushvalue(L, rows);
        lua_pushcclosure(L, lua_emit, 1);
        lua_call(L, 3, 0);
        lua_settop(L, rows);
        return 1;
    }
    const coco_probe_vt *vt = coco_plugin_probe(p->lp);
    int ncols = 0;
    const char *const *cols = vt->columns(p->self);
    while (cols && cols[ncols]) ncols++;
    coco_probe_event ev;
    memset(&ev, 0, sizeof ev);
    ev.split = field_str(L, 2, "split");
    ev.epoch = lcoco_opt_int(L, 2, "epoch", 0, "event");
    ev.stage = lcoco_opt_int(L, 2, "stage", 0, "event");
    ev.index = lcoco_opt_int(L, 2, "index", 0, "event");
    ev.question = field_str(L, 2, "question");
    ev.gold = field_str(L, 2, "gold");
    ev.prediction = field_str(L, 2, "prediction");
    ev.output_text = field_str(L, 2, "output_text");
    ev.correct = lcoco_opt_bool(L, 2, "correct", 0, "event");
    ev.meta_json = field_str(L, 2, "meta_json");
    lua_getfield(L, 2, "thoughts");
    coco_tensor *th = lcoco_opt_tensor(L, -1);
    if (th && th->ndim == 2) {
        ev.n_thoughts = (int)th->shape[0];
        ev.d = (int)th->shape[1];
        ev.thoughts = coco_f32(th);
    }
    lua_getfield(L, 2, "logits");
    coco_tensor *lg = lcoco_opt_tensor(L, -1);
    if (lg && lg->ndim == 2) {
        ev.n_logits = (int)lg->shape[0];
        ev.vocab = (int)lg->shape[1];
        ev.logits = coco_f32(lg);
    }
    int32_t *toks = NULL;
    if (lua_getfield(L, 2, "tokens") != LUA_TNIL) toks = lcoco_to_ints(L, -1, &ev.n_tokens, "event.tokens");
    ev.tokens = toks;
    const char **tt = NULL;
    if (lua_getfield(L, 2, "token_text") == LUA_TTABLE) {
        int nt = (int)luaL_len(L, -1);
        tt = calloc((size_t)nt + 1, sizeof *tt);
        for (int i = 0; i < nt && i < ev.n_tokens; i++) {
            lua_geti(L, -1, i + 1);
            tt[i] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
        ev.token_text = tt;
    }
    const char **st = NULL;
    if (lua_getfield(L, 2, "steps") == LUA_TTABLE) {
        int ns = (int)luaL_len(L, -1);
        st = calloc((size_t)ns + 1, sizeof *st);
        for (int i = 0; i < ns; i++) {
            /* a string of the table stays anchored by it (the event holds the
             * table) for the call; a number converted here would not be */
            int is_str = lua_geti(L, -1, i + 1) == LUA_TSTRING;
            st[i] = is_str ? lua_tostring(L, -1) : NULL;
            lua_pop(L, 1);
            if (!is_str) {
                free(toks), free(tt), free(st);
                return luaL_error(L, "event.steps[%d] is not a string", i + 1);
            }
        }
        ev.n_steps = ns;
        ev.steps = st;
    }
    emit_ctx c = {L, rows, ncols, 0};
    coco_probe_emit em = {&c, emit_row};
    coco_host_set_context(p->lp->desc.name);
    int rc = vt->on_example(p->self, &ev, &em);
    free(toks);
    free(tt);
    free(st);
    if (rc != 0) return plugin_error(L, 1, "on_example");
    lua_settop(L, rows);
    return 1;
}

static int p_on_end(lua_State *L) {
    LCOCO_ENTER(L);
    lplugin *p = check_kind(L, 1, COCO_KIND_PROBE, "on_end");
    const char *split = luaL_checkstring(L, 2);
    int epoch = (int)luaL_checkinteger(L, 3), stage = (int)luaL_checkinteger(L, 4);
    lua_newtable(L);
    int rows = lua_gettop(L);
    if (p->is_lua) {
        if (lua_cb(L, 1, "on_end", 0)) {
            lua_pushvalue(L, 2), lua_pushvalue(L, 3), lua_pushvalue(L, 4);
            lua_pushvalue(L, rows);
            lua_pushcclosure(L, lua_emit, 1);
            lua_call(L, 5, 0);
        }
        lua_settop(L, rows);
        return 1;
    }
    const coco_probe_vt *vt = coco_plugin_probe(p->lp);
    if (!vt->on_end) return 1;
    int ncols = 0;
    const char *const *cols = vt->columns(p->self);
    while (cols && cols[ncols]) ncols++;
    emit_ctx c = {L, rows, ncols, 0};
    coco_probe_emit em = {&c, emit_row};
    if (vt->on_end(p->self, split, epoch, stage, &em) != 0) return plugin_error(L, 1, "on_end");
    lua_settop(L, rows);
    return 1;
}

/* ---------------------------------------------------------------- list */

typedef struct scan_ctx {
    lua_State *L;
    int list;
    lua_Integer n;
} scan_ctx;

static void scan_cb(void *ud, const char *kind, const char *name, const char *path) {
    scan_ctx *c = ud;
    lua_State *L = c->L;
    const char *doc = "";
    const char *k = kind ? kind : "?";
    char docbuf[512] = "";
    if (ends_with(path, ".so")) {
        coco_loaded_plugin *lp = coco_plugin_load(path);
        if (lp) {
            snprintf(docbuf, sizeof docbuf, "%s", lp->desc.doc ? lp->desc.doc : "");
            k = coco_plugin_kind_name(lp->desc.kind);
            coco_plugin_unload(lp);
        } else {
            snprintf(docbuf, sizeof docbuf, "(cannot load: %s)", coco_errmsg());
        }
        doc = docbuf;
    } else {
        int top = lua_gettop(L);
        if (luaL_loadfile(L, path) == LUA_OK && lua_pcall(L, 0, 1, 0) == LUA_OK && lua_istable(L, -1)) {
            lua_getfield(L, -1, "doc");
            snprintf(docbuf, sizeof docbuf, "%s", lua_isstring(L, -1) ? lua_tostring(L, -1) : "");
            lua_getfield(L, -2, "kind");
            if (lua_isstring(L, -1) && !kind) k = lua_tostring(L, -1);
        } else {
            snprintf(docbuf, sizeof docbuf, "(cannot load: %s)", lua_isstring(L, -1) ? lua_tostring(L, -1) : "not a table");
        }
        doc = docbuf;
        lua_pushstring(L, k);
        k = lua_tostring(L, -1);
        lua_rotate(L, top + 1, 1);
        lua_settop(L, top + 1); /* keep k's string alive */
    }
    lua_createtable(L, 0, 4);
    lua_pushstring(L, k), lua_setfield(L, -2, "kind");
    lua_pushstring(L, name), lua_setfield(L, -2, "name");
    lua_pushstring(L, path), lua_setfield(L, -2, "path");
    lua_pushstring(L, doc), lua_setfield(L, -2, "doc");
    lua_pushstring(L, ends_with(path, ".lua") ? "lua" : "c"), lua_setfield(L, -2, "lang");
    lua_rawseti(L, c->list, ++c->n);
}

static int l_list(lua_State *L) {
    LCOCO_ENTER(L);
    lua_newtable(L);
    scan_ctx c = {L, lua_gettop(L), 0};
    coco_plugin_scan(scan_cb, &c);
    lua_settop(L, c.list);
    return 1;
}

static int l_find(lua_State *L) {
    LCOCO_ENTER(L);
    char *p = coco_plugin_find(luaL_checkstring(L, 1), luaL_checkstring(L, 2));
    if (!p) return lcoco_fail_result(L, coco_errmsg());
    lua_pushstring(L, p);
    free(p);
    return 1;
}

static int l_dirs(lua_State *L) {
    char **d = NULL;
    int n = coco_plugin_dirs(&d);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) lua_pushstring(L, d[i]), lua_rawseti(L, -2, i + 1);
    coco_plugin_dirs_free(d, n);
    return 1;
}

void lcoco_open_plugin(lua_State *L) {
    luaL_newmetatable(L, LCOCO_PLUGIN);
    static const luaL_Reg meta[] = {{"__gc", p_close}, {"__close", p_close}, {"__tostring", p_tostring}, {"__index", p_index}, {NULL, NULL}};
    luaL_setfuncs(L, meta, 0);
    static const luaL_Reg m[] = {{"load", p_load},
                                 {"prepare", p_prepare},
                                 {"num_stages", p_num_stages},
                                 {"stage_epochs", p_stage_epochs},
                                 {"reset_optimizer", p_reset_optimizer},
                                 {"selectable", p_selectable},
                                 {"train_plan", p_train_plan},
                                 {"eval_plan", p_eval_plan},
                                 {"max_thoughts", p_max_thoughts},
                                 {"columns", p_columns},
                                 {"wants", p_wants},
                                 {"on_example", p_on_example},
                                 {"on_end", p_on_end},
                                 {"close", p_close},
                                 {NULL, NULL}};
    luaL_newlib(L, m);
    lua_setfield(L, -2, "methods");
    lua_pop(L, 1);
    static const luaL_Reg f[] = {{"load", l_load}, {"list", l_list}, {"find", l_find}, {"dirs", l_dirs}, {NULL, NULL}};
    luaL_newlib(L, f);
    lua_setfield(L, -2, "plugin");
}

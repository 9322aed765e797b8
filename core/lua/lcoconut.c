/* lcoconut.c — the `coconut` Lua module: entry point, shared helpers, runtime
 * functions (info, threads, time, rng). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coconut/rng.h"
#include "coconut/runtime.h"
#include "lcoco.h"

lua_State *lcoco_current = NULL;

static void lua_error_handler(const char *msg, void *ud) {
    (void)ud;
    lua_State *L = lcoco_current;
    if (!L) {
        fprintf(stderr, "coconut: %s\n", msg);
        abort();
    }
    /* luaL_error adds the position of the calling Lua code. */
    luaL_error(L, "%s", msg);
}

void lcoco_install_error_handler(lua_State *L) {
    lcoco_current = L;
    coco_set_error_handler(lua_error_handler, NULL);
}

void lcoco_newclass(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta) {
    luaL_newmetatable(L, name);
    if (meta) luaL_setfuncs(L, meta, 0);
    lua_newtable(L);
    if (methods) luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}

/* luaL_error with printf formats (lua_pushfstring lacks %lld, %zu, %.3g ...). */
int lcoco_errorf(lua_State *L, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return luaL_error(L, "%s", buf);
}

int lcoco_fail_result(lua_State *L, const char *msg) {
    luaL_pushfail(L);
    lua_pushstring(L, msg);
    return 2;
}

/* ---------------------------------------------------------------- option tables */

int lcoco_opt_int(lua_State *L, int t, const char *field, int def, const char *what) {
    if (lua_isnoneornil(L, t)) return def;
    int ty = lua_getfield(L, t, field);
    int v = def;
    if (ty != LUA_TNIL) {
        int ok;
        lua_Integer x = lua_tointegerx(L, -1, &ok);
        if (!ok) lcoco_errorf(L, "%s.%s must be an integer, got %s", what, field, luaL_typename(L, -1));
        v = (int)x;
    }
    lua_pop(L, 1);
    return v;
}

double lcoco_opt_num(lua_State *L, int t, const char *field, double def, const char *what) {
    if (lua_isnoneornil(L, t)) return def;
    int ty = lua_getfield(L, t, field);
    double v = def;
    if (ty != LUA_TNIL) {
        if (ty != LUA_TNUMBER) lcoco_errorf(L, "%s.%s must be a number, got %s", what, field, luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

int lcoco_opt_bool(lua_State *L, int t, const char *field, int def, const char *what) {
    if (lua_isnoneornil(L, t)) return def;
    int ty = lua_getfield(L, t, field);
    int v = def;
    if (ty != LUA_TNIL) {
        if (ty != LUA_TBOOLEAN) lcoco_errorf(L, "%s.%s must be a boolean, got %s", what, field, luaL_typename(L, -1));
        v = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

const char *lcoco_opt_str(lua_State *L, int t, const char *field, const char *def, const char *what) {
    if (lua_isnoneornil(L, t)) return def;
    int ty = lua_getfield(L, t, field);
    const char *v = def;
    if (ty != LUA_TNIL) {
        if (ty != LUA_TSTRING) lcoco_errorf(L, "%s.%s must be a string, got %s", what, field, luaL_typename(L, -1));
        v = lua_tostring(L, -1); /* the table keeps it alive */
    }
    lua_pop(L, 1);
    return v;
}

void lcoco_check_keys(lua_State *L, int t, const char *const *allowed, const char *what) {
    if (lua_isnoneornil(L, t)) return;
    t = lua_absindex(L, t);
    luaL_checktype(L, t, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) lcoco_errorf(L, "%s: keys must be option names (strings)", what);
        const char *k = lua_tostring(L, -1);
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            if (!strcmp(allowed[i], k)) ok = 1;
        if (!ok) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; allowed[i]; i++) {
                if (i) luaL_addstring(&b, ", ");
                luaL_addstring(&b, allowed[i]);
            }
            luaL_pushresult(&b);
            lcoco_errorf(L, "%s: unknown option '%s'; valid options: %s", what, k, lua_tostring(L, -1));
        }
    }
}

/* ---------------------------------------------------------------- runtime */

static int l_info(lua_State *L) {
    LCOCO_ENTER(L);
    coco_runtime_info in;
    coco_runtime_info_get(&in);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, in.version);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, LUA_RELEASE);
    lua_setfield(L, -2, "lua");
    lua_pushstring(L, in.blis_version);
    lua_setfield(L, -2, "blis");
    lua_pushstring(L, in.blis_arch);
    lua_setfield(L, -2, "blis_arch");
    lua_pushstring(L, in.blis_kernels);
    lua_setfield(L, -2, "blis_kernels");
    lua_pushinteger(L, in.threads);
    lua_setfield(L, -2, "threads");
    lua_pushboolean(L, in.cpu_avx512);
    lua_setfield(L, -2, "avx512");
    lua_pushboolean(L, in.cpu_avx2_fma);
    lua_setfield(L, -2, "avx2");
    return 1;
}

static int l_set_threads(lua_State *L) {
    LCOCO_ENTER(L);
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 1 && n <= 1024, 1, "thread count must be in 1..1024");
    coco_set_threads((int)n);
    return 0;
}

static int l_threads(lua_State *L) {
    lua_pushinteger(L, coco_threads());
    return 1;
}

static int l_time(lua_State *L) {
    lua_pushnumber(L, coco_now());
    return 1;
}

static int l_peak_rss(lua_State *L) {
    lua_pushinteger(L, coco_peak_rss());
    return 1;
}

/* coconut.rss() -> resident bytes of the process now (/proc/self/statm), or
 * nil, message where that file is missing. peak_rss() never decreases, so
 * tests of memory growth late in a long process need this one. */
static int l_rss(lua_State *L) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    int n = f ? fscanf(f, "%ld %ld", &size, &resident) : 0;
    if (f) fclose(f);
    if (n != 2) return lcoco_fail_result(L, "rss: cannot read /proc/self/statm");
    lua_pushinteger(L, (lua_Integer)resident * sysconf(_SC_PAGESIZE));
    return 1;
}

static int l_isatty(lua_State *L) {
    lua_Integer fd = luaL_optinteger(L, 1, 2);
    lua_pushboolean(L, isatty((int)fd));
    return 1;
}

static int l_profile(lua_State *L) {
    /* coconut.profile(true|false) or coconut.profile("report") -> string */
    if (lua_type(L, 1) == LUA_TSTRING && !strcmp(lua_tostring(L, 1), "report")) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        coco_profile_report(f);
        fclose(f);
        lua_pushlstring(L, buf, len);
        free(buf);
        return 1;
    }
    int on = lua_toboolean(L, 1);
    if (on) coco_profile_reset();
    coco_profile_enabled = on;
    return 0;
}

/* ---------------------------------------------------------------- rng */

#define LCOCO_RNG "coconut.Rng"

static coco_rng *check_rng(lua_State *L, int i) { return luaL_checkudata(L, i, LCOCO_RNG); }

static int l_rng_new(lua_State *L) {
    lua_Integer seed = luaL_checkinteger(L, 1);
    coco_rng *r = lua_newuserdatauv(L, sizeof *r, 0);
    coco_rng_seed(r, (uint64_t)seed);
    luaL_setmetatable(L, LCOCO_RNG);
    return 1;
}

static int rng_uniform(lua_State *L) {
    lua_pushnumber(L, coco_rng_uniform(check_rng(L, 1)));
    return 1;
}
static int rng_normal(lua_State *L) {
    lua_pushnumber(L, coco_rng_normal(check_rng(L, 1)));
    return 1;
}
/* r:below(n) -> integer in [0, n); r:int(a, b) -> integer in [a, b] */
static int rng_below(lua_State *L) {
    coco_rng *r = check_rng(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n >= 1, 2, "n must be >= 1");
    lua_pushinteger(L, (lua_Integer)coco_rng_below(r, (uint64_t)n));
    return 1;
}
static int rng_int(lua_State *L) {
    coco_rng *r = check_rng(L, 1);
    lua_Integer a = luaL_checkinteger(L, 2), b = luaL_checkinteger(L, 3);
    luaL_argcheck(L, b >= a, 3, "empty range");
    lua_pushinteger(L, a + (lua_Integer)coco_rng_below(r, (uint64_t)(b - a + 1)));
    return 1;
}
/* r:shuffle(t): Fisher-Yates in place over t[1..#t]; returns t. */
static int rng_shuffle(lua_State *L) {
    coco_rng *r = check_rng(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2);
    for (lua_Integer i = n; i > 1; i--) {
        lua_Integer j = 1 + (lua_Integer)coco_rng_below(r, (uint64_t)i);
        lua_geti(L, 2, i);
        lua_geti(L, 2, j);
        lua_seti(L, 2, i);
        lua_seti(L, 2, j);
    }
    lua_settop(L, 2);
    return 1;
}
static int rng_tostring(lua_State *L) {
    lua_pushfstring(L, "coconut.Rng (%p)", check_rng(L, 1));
    return 1;
}
static int rng_noop(lua_State *L) {
    (void)L;
    return 0;
}

void lcoco_open_util(lua_State *L) {
    static const luaL_Reg rng_m[] = {{"uniform", rng_uniform}, {"normal", rng_normal}, {"below", rng_below},
                                     {"int", rng_int},         {"shuffle", rng_shuffle}, {NULL, NULL}};
    static const luaL_Reg rng_meta[] = {{"__tostring", rng_tostring}, {"__gc", rng_noop}, {"__close", rng_noop}, {NULL, NULL}};
    lcoco_newclass(L, LCOCO_RNG, rng_m, rng_meta);
    static const luaL_Reg f[] = {{"info", l_info},       {"set_threads", l_set_threads}, {"threads", l_threads},
                                 {"time", l_time},       {"peak_rss", l_peak_rss},       {"rss", l_rss},
                                 {"isatty", l_isatty},   {"rng", l_rng_new},             {"profile", l_profile},
                                 {NULL, NULL}};
    luaL_setfuncs(L, f, 0);
}

int luaopen_coconut(lua_State *L) {
    lcoco_install_error_handler(L);
    coco_runtime_init();
    lua_newtable(L);
    lua_pushstring(L, COCONUT_VERSION_STRING);
    lua_setfield(L, -2, "version");
    lcoco_open_util(L);
    lcoco_open_errors(L);
    lcoco_open_tensor(L);
    lcoco_open_model(L);
    lcoco_open_tokenizer(L);
    lcoco_open_files(L);
    lcoco_open_plugin(L);
    lcoco_open_classifier(L);
    lcoco_open_mpi(L);
    return 1;
}

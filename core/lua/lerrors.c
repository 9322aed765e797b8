/* lerrors.c — user errors: the one mechanism that tells a mistake of the user
 * (a mistyped option, a missing or malformed file, a bad plugin name) from a
 * bug in a script.
 *
 *   coconut.user_error(msg)        raises a user error (never returns)
 *   coconut.is_user_error(v)       -> boolean
 *   coconut.check(v, msg, ...)     assert() that raises a user error: returns
 *                                  v, msg, ... when v is truthy; for the
 *                                  `nil, message` results of file functions
 *   coconut.suggest(word, list)    -> the closest name (coconut/suggest.h) or nil
 *
 * Also the guards of the C bindings (lcoco_guard_new): cleanup that runs when
 * a binding raises after allocating (see below).
 *
 * A user error is a table {message = text} whose metatable is the registry's
 * "coconut.UserError" (its __tostring gives the text, so pcall + tostring and
 * the test helpers see the message). Only this file makes that metatable, so
 * the `coconut` command (core/main.c) recognises a user error by identity, not
 * by its text: it prints "coconut: <message>" without a traceback and exits
 * with status 2; any other error is a script bug: message, traceback, status 1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/suggest.h"
#include "lcoco.h"

#define LCOCO_USER_ERROR "coconut.UserError"

void lcoco_push_user_error(lua_State *L, const char *msg) {
    lua_createtable(L, 0, 1);
    lua_pushstring(L, msg ? msg : "");
    lua_setfield(L, -2, "message");
    luaL_setmetatable(L, LCOCO_USER_ERROR);
}

int lcoco_user_errorf(lua_State *L, const char *fmt, ...) {
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lcoco_push_user_error(L, buf);
    return lua_error(L);
}

int lcoco_is_user_error(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
    luaL_getmetatable(L, LCOCO_USER_ERROR);
    int yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

const char *lcoco_user_error_message(lua_State *L, int idx) {
    if (!lcoco_is_user_error(L, idx)) return NULL;
    lua_getfield(L, idx, "message");
    const char *s = lua_tostring(L, -1); /* the error table keeps it alive */
    lua_pop(L, 1);
    return s ? s : "";
}

static int ue_tostring(lua_State *L) {
    lua_getfield(L, 1, "message");
    if (!lua_isstring(L, -1)) lua_pushstring(L, "(user error without a message)");
    return 1;
}

/* coconut.user_error(msg): msg is text (or a user error, raised again as it is). */
static int l_user_error(lua_State *L) {
    if (lcoco_is_user_error(L, 1)) {
        lua_settop(L, 1);
        return lua_error(L);
    }
    lcoco_push_user_error(L, luaL_tolstring(L, 1, NULL));
    return lua_error(L);
}

static int l_is_user_error(lua_State *L) {
    lua_pushboolean(L, lcoco_is_user_error(L, 1));
    return 1;
}

static int l_check(lua_State *L) {
    luaL_checkany(L, 1);
    if (lua_toboolean(L, 1)) return lua_gettop(L);
    if (lcoco_is_user_error(L, 2)) {
        lua_settop(L, 2);
        return lua_error(L);
    }
    lcoco_push_user_error(L, lua_isnoneornil(L, 2) ? "check failed" : luaL_tolstring(L, 2, NULL));
    return lua_error(L);
}

static int l_suggest(lua_State *L) {
    const char *word = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = (int)luaL_len(L, 2);
    luaL_checkstack(L, n, "coconut.suggest: too many names");
    const char **c = calloc((size_t)(n > 0 ? n : 1), sizeof *c);
    for (int i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        c[i] = lua_tostring(L, -1); /* the copy stays on the stack while c is used */
    }
    const char *best = coco_closest(word, c, n);
    free(c);
    if (best) lua_pushstring(L, best);
    else lua_pushnil(L);
    return 1;
}

/* ---------------------------------------------------------------- guards
 * A C binding that allocates and may then raise (a Lua error is a longjmp: no
 * C cleanup runs) keeps what it allocated in a guard: a userdata on the stack
 * whose __gc runs the cleanup unless the binding disarmed it on its way out. */

#define LCOCO_GUARD "coconut.Guard"

typedef struct guard_hdr {
    void (*fn)(void *payload);
    int armed;
    int pad;
    /* the payload follows, max_align_t aligned */
} guard_hdr;

#define GUARD_OFF ((sizeof(guard_hdr) + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) * _Alignof(max_align_t))

void *lcoco_guard_new(lua_State *L, size_t size, void (*fn)(void *payload)) {
    guard_hdr *g = lua_newuserdatauv(L, GUARD_OFF + size, 0);
    memset(g, 0, GUARD_OFF + size);
    g->fn = fn;
    g->armed = 1;
    luaL_setmetatable(L, LCOCO_GUARD);
    return (char *)g + GUARD_OFF;
}

void lcoco_guard_disarm(void *payload) {
    guard_hdr *g = (guard_hdr *)((char *)payload - GUARD_OFF);
    g->armed = 0;
}

static int guard_gc(lua_State *L) {
    guard_hdr *g = luaL_checkudata(L, 1, LCOCO_GUARD);
    if (g->armed && g->fn) g->fn((char *)g + GUARD_OFF);
    g->armed = 0;
    return 0;
}

void lcoco_open_errors(lua_State *L) {
    luaL_newmetatable(L, LCOCO_GUARD);
    lua_pushcfunction(L, guard_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    luaL_newmetatable(L, LCOCO_USER_ERROR);
    lua_pushcfunction(L, ue_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    static const luaL_Reg f[] = {{"user_error", l_user_error}, {"is_user_error", l_is_user_error},
                                 {"check", l_check},           {"suggest", l_suggest},
                                 {NULL, NULL}};
    luaL_setfuncs(L, f, 0);
}

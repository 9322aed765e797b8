/* fuzz_options.c — libFuzzer harness: the command-line option parser
 * (scripts/coco/options.lua, O.parse) with the shared option list of every
 * experiment (coco.experiment E.spec) and two presets. The input is the
 * argument list, one argument per line (at most 64). The parser must answer
 * every argument list with values or a user error (coconut.user_error, what
 * `coconut run` prints as one line with exit status 2); any other Lua error is
 * a bug in the parser and aborts (a finding). `--help` prints nothing here
 * (print is silenced) and its os.exit becomes a sentinel error.
 * The scripts are found in $COCONUT_HOME/scripts or ./scripts. See fuzz.h. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "fuzz.h"
#include "lua/lcoco.h"

static lua_State *L;
static int parse_ref = LUA_NOREF, exit_ref = LUA_NOREF;

static const char *setup_code =
    "local exit_sentinel = setmetatable({}, {__tostring = function() return 'os.exit' end})\n"
    "os.exit = function() error(exit_sentinel, 0) end\n"
    "print = function() end\n"
    "local O = require 'coco.options'\n"
    "local E = require 'coco.experiment'\n"
    "local spec = E.spec{{'graph_nodes', 'int', 28, 'nodes', '[6, inf)'},\n"
    "                    {'format', 'string', 'words', 'rendering', {'words', 'symbolic'}}}\n"
    "local presets = {default_preset = 'quick', quick = {lr = 3e-3, batch_size = 16, micro_batch = 16},\n"
    "                 small = {epochs = 2, format = 'symbolic', uniform_prob = 0.5}}\n"
    "return function(argv) return O.parse(spec, presets, argv) end, exit_sentinel\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "coconut", luaopen_coconut, 1);
    lua_pop(L, 1);
    const char *home = getenv("COCONUT_HOME");
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/scripts/?.lua", home && *home ? home : ".");
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
    if (luaL_loadstring(L, setup_code) != LUA_OK || lua_pcall(L, 0, 2, 0) != LUA_OK) {
        fprintf(stderr, "fuzz_options: setup failed: %s\n", lua_tostring(L, -1));
        abort();
    }
    exit_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    parse_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lcoco_current = L;
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, parse_ref);
    lua_createtable(L, 8, 0);
    size_t start = 0;
    int n = 0;
    for (size_t i = 0; i <= size && n < 64; i++) {
        if (i == size || data[i] == '\n') {
            lua_pushlstring(L, (const char *)data + start, i - start);
            lua_rawseti(L, -2, ++n);
            start = i + 1;
        }
    }
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, exit_ref);
        int is_exit = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);
        if (!is_exit && !lcoco_is_user_error(L, -1)) {
            /* not a user error: a bug in the parser */
            fprintf(stderr, "fuzz_options: O.parse raised a non-user error: %s\n", luaL_tolstring(L, -1, NULL));
            abort();
        }
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}

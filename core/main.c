/* main.c — the `coconut` command.
 *
 *   coconut run <script.lua> [args...]   run a Lua script with the coconut module
 *   coconut plugins                      list every plugin found (kind, name, where, doc)
 *   coconut version                      coconut, Lua, BLIS (+ kernels), threads
 *   coconut help | <cmd> --help
 *
 * Exit status: 0 success, 1 a script bug (message + Lua traceback), 2 a user
 * error (coconut.user_error, lerrors.c: one line, no traceback unless
 * --traceback / COCONUT_TRACEBACK=1) or a bad command line.
 *
 * Under mpirun (coconut/mpi.h) `run` starts MPI first; a script that fails on
 * any rank prints its message prefixed with the rank and ends the whole job
 * (MPI_Abort) with the exit status above, so no rank is left waiting.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "coconut/mpi.h"
#include "coconut/plot.h"
#include "coconut/plugin.h"
#include "coconut/runtime.h"
#include "lua/lcoco.h"

static const char *usage_text =
    "usage: coconut <command> [args]\n"
    "\n"
    "commands:\n"
    "  run <script.lua> [args...]  run an experiment or any Lua script; the `coconut`\n"
    "                              module is a global and `require \"coconut\"`; the\n"
    "                              project's scripts/ directory is on package.path\n"
    "  plugins                     list every plugin found: kind, name, language, path, doc\n"
    "  version                     coconut, Lua and BLIS versions, BLIS kernels, threads\n"
    "  help                        this text; `coconut <command> --help` for one command\n"
    "\n"
    "environment:\n"
    "  COCONUT_THREADS       threads of the core's pool (default: the CPUs available)\n"
    "  COCONUT_PLUGIN_PATH   extra plugin directories, colon-separated, searched first\n"
    "  COCONUT_HOME          project checkout or install prefix (default: found from the binary)\n"
    "  COCONUT_BLIS_ARCH     auto | blis | <BLIS configuration>: override the kernel choice\n"
    "  COCONUT_TRACEBACK     1: print a Lua traceback for user errors too (as `run --traceback`)\n"
    "\n"
    "data-parallel: `mpirun -np N coconut run <script.lua> ...` (README: multi-machine runs)\n"
    "\n"
    "exit status: 0 success; 1 a script bug or internal error (message and Lua traceback);\n"
    "2 a user error (unknown option or preset, bad value, missing or malformed file, bad\n"
    "plugin name, ...): one line `coconut: <message>` with a hint, no traceback.\n";

static const char *help_run =
    "usage: coconut run [--traceback] <script.lua> [args...]\n"
    "Runs the script with Lua 5.4. `arg` is set as the lua interpreter sets it\n"
    "(arg[0] = script, arg[1..] = args) and the args are also passed as `...`.\n"
    "A user error (raised with coconut.user_error: an unknown option, a bad value,\n"
    "a missing or malformed file, a bad plugin name) prints `coconut: <message>` on\n"
    "one line and exits with status 2. Any other error is a bug: the message\n"
    "(script:line) and a Lua traceback go to stderr and the exit status is 1.\n"
    "--traceback (or COCONUT_TRACEBACK=1) adds the traceback to user errors too.\n"
    "example: coconut run experiments/prosqa_k6.lua --preset quick\n";
static const char *help_plugins =
    "usage: coconut plugins\n"
    "Lists the plugins in $COCONUT_PLUGIN_PATH and the built-in directories, one per\n"
    "line: kind, name, language (c/lua), path and the plugin's one-line doc.\n";
static const char *help_version = "usage: coconut version\nPrints coconut, Lua, BLIS (configuration, kernels), gnuplot, the plugin ABI and the thread count.\n";

/* Directory of the running binary, and the scripts directory next to it. */
static void exe_dir(char *out, size_t n) {
    char buf[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (k <= 0) {
        snprintf(out, n, ".");
        return;
    }
    buf[k] = 0;
    snprintf(out, n, "%s", dirname(buf));
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void scripts_dir(char *out, size_t n) {
    const char *home = getenv("COCONUT_HOME");
    char d[PATH_MAX], cand[2 * PATH_MAX];
    if (home && *home) {
        snprintf(cand, sizeof cand, "%s/scripts", home);
        if (is_dir(cand)) goto found;
        snprintf(cand, sizeof cand, "%s/share/coconut/scripts", home);
        if (is_dir(cand)) goto found;
    }
    exe_dir(d, sizeof d);
    snprintf(cand, sizeof cand, "%s/../scripts", d); /* in-tree: build/coconut */
    if (is_dir(cand)) goto found;
    snprintf(cand, sizeof cand, "%s/../share/coconut/scripts", d); /* installed */
    if (is_dir(cand)) goto found;
    snprintf(out, n, "scripts");
    return;
found:
    if (!realpath(cand, out)) {
        size_t k = strlen(cand) < n - 1 ? strlen(cand) : n - 1;
        memcpy(out, cand, k);
        out[k] = 0;
    }
}

/* Set by msghandler: the error that ended the script was a user error
 * (lerrors.c), reported as one line and exit status 2. */
static int g_user_error = 0;
/* --traceback / COCONUT_TRACEBACK=1: tracebacks for user errors too. */
static int g_traceback = 0;

static int msghandler(lua_State *L) {
    if (lcoco_is_user_error(L, 1)) {
        g_user_error = 1;
        const char *um = lcoco_user_error_message(L, 1);
        if (g_traceback) luaL_traceback(L, L, um, 1);
        else lua_pushstring(L, um);
        return 1;
    }
    g_user_error = 0;
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static lua_State *new_state(void) {
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "coconut: cannot create a Lua state (out of memory)\n");
        exit(1);
    }
    luaL_openlibs(L);
    /* require "coconut" and the global `coconut` are the same table. */
    luaL_requiref(L, "coconut", luaopen_coconut, 1);
    lua_pop(L, 1);
    char sd[PATH_MAX];
    scripts_dir(sd, sizeof sd);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", sd, sd, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
    lua_pushstring(L, sd);
    lua_setglobal(L, "COCONUT_SCRIPTS");
    return L;
}

static int env_on(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0 && strcasecmp(v, "no") != 0 && strcasecmp(v, "false") != 0;
}

static int cmd_run(int argc, char **argv) {
    g_traceback = env_on("COCONUT_TRACEBACK");
    if (argc >= 1 && !strcmp(argv[0], "--traceback")) {
        g_traceback = 1;
        argc--, argv++;
    }
    if (argc < 1) {
        fputs(help_run, stderr);
        return 2;
    }
    const char *script = argv[0];
    lua_State *L = new_state();
    /* arg table as the lua interpreter builds it. */
    lua_createtable(L, argc, 2);
    lua_pushstring(L, "coconut");
    lua_rawseti(L, -2, -1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    lua_setglobal(L, "arg");
    lua_pushcfunction(L, msghandler);
    int mh = lua_gettop(L);
    int rc = luaL_loadfile(L, script);
    if (rc == LUA_OK) {
        for (int i = 1; i < argc; i++) lua_pushstring(L, argv[i]);
        rc = lua_pcall(L, argc - 1, 0, mh);
    }
    int status = 0;
    if (rc != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        /* a script file that cannot be read is the user's typo, like a bad option */
        status = g_user_error || rc == LUA_ERRFILE ? 2 : 1;
        if (coco_mpi_size() > 1) {
            /* one rank failed: its message, then the whole job ends (the
             * other ranks may be blocked in a collective that never completes) */
            fprintf(stderr, "coconut: rank %d of %d (%s): %s\n", coco_mpi_rank(), coco_mpi_size(), coco_mpi_host(),
                    m ? m : "(error without a message)");
            coco_mpi_abort(status);
        }
        fprintf(stderr, "coconut: %s\n", m ? m : "(error without a message)");
    }
    lcoco_current = L;
    lua_close(L);
    lcoco_current = NULL;
    return status;
}

static int cmd_plugins(void) {
    lua_State *L = new_state();
    const char *code =
        "local list = coconut.plugin.list()\n"
        "table.sort(list, function(a, b) if a.kind ~= b.kind then return a.kind < b.kind end return a.name < b.name end)\n"
        "if #list == 0 then print('no plugins found; searched: ' .. table.concat(coconut.plugin.dirs(), ', ')) end\n"
        "for _, p in ipairs(list) do\n"
        "  print(string.format('%-11s %-16s %-4s %s\\n    %s', p.kind, p.name, p.lang, p.doc, p.path))\n"
        "end\n";
    lua_pushcfunction(L, msghandler);
    int status = 0;
    if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, 0, 1) != LUA_OK) {
        fprintf(stderr, "coconut: %s\n", lua_tostring(L, -1));
        status = g_user_error ? 2 : 1;
    }
    lua_close(L);
    return status;
}

static int cmd_version(void) {
    coco_runtime_info info;
    coco_runtime_info_get(&info);
    printf("coconut %s (plugin ABI %u)\n", info.version, COCO_PLUGIN_ABI_VERSION);
    printf("%s\n", LUA_RELEASE);
    printf("BLIS %s, configuration %s (%s sgemm kernels; BLIS detected %s: %s)\n", info.blis_version, info.blis_arch,
           info.blis_kernels, info.blis_detected, info.blis_reason);
    printf("CPU: AVX2+FMA %s, AVX-512 F/BW/DQ/VL %s\n", info.cpu_avx2_fma ? "yes" : "no", info.cpu_avx512 ? "yes" : "no");
    printf("threads %d (COCONUT_THREADS; one pool: parallel loops and GEMM tiles over single-threaded BLIS)\n", info.threads);
    const char *gp = coco_plot_version();
    printf("%s\n", gp && *gp ? gp : "gnuplot: not found");
    return 0;
}

/* Error handler while the environment is checked, before any Lua state. */
static void startup_error(const char *msg, void *ud) {
    (void)ud;
    fprintf(stderr, "coconut: %s\n", msg);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    int want_help = argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"));
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc > 2 && !strcmp(argv[2], "run")) fputs(help_run, stdout);
        else if (argc > 2 && !strcmp(argv[2], "plugins")) fputs(help_plugins, stdout);
        else if (argc > 2 && !strcmp(argv[2], "version")) fputs(help_version, stdout);
        else fputs(usage_text, stdout);
        return 0;
    }
    /* Validate COCONUT_THREADS / COCONUT_BLIS_ARCH before anything runs: a bad
     * value is the user's (exit 2 with the message), not a crash (abort). */
    coco_set_error_handler(startup_error, NULL);
    coco_runtime_init();
    coco_set_error_handler(NULL, NULL);
    if (!strcmp(cmd, "run")) {
        if (want_help) return fputs(help_run, stdout), 0;
        /* under a launcher (mpirun): MPI starts here, ends after the script */
        coco_mpi_init(&argc, &argv);
        int status = cmd_run(argc - 2, argv + 2);
        coco_mpi_finalize();
        return status;
    }
    if (!strcmp(cmd, "plugins")) {
        if (want_help) return fputs(help_plugins, stdout), 0;
        return cmd_plugins();
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        if (want_help) return fputs(help_version, stdout), 0;
        return cmd_version();
    }
    fprintf(stderr, "coconut: unknown command '%s'\n\n%s", cmd, usage_text);
    return 2;
}

/* lfiles.c — files from Lua: coconut.safetensors, coconut.csv, coconut.plot,
 * coconut.json and coconut.fs.
 *
 *   safetensors.load(path) -> tensors, metadata | nil, msg
 *   safetensors.save(path, tensors, metadata) -> true | nil, msg        (atomic)
 *   csv.open(path, columns [, {append = bool}]) -> writer: w:row(t), w:flush(), w:close()
 *   csv.read(path) -> rows, columns | nil, msg     (rows keyed by column name)
 *   plot(gp_script, {args...} [, workdir]) -> true; raises with gnuplot's message
 *   json.decode(s) / json.encode(v [, {indent = n}]) / json.read(path) / json.write(path, v)
 *   fs.exists, fs.isdir, fs.mkdir(path [, {parents = true}]), fs.listdir, fs.remove,
 *   fs.read(path), fs.write(path, text) (atomic), fs.dirname, fs.basename
 *   fs.rename(from, to) -> true | nil, msg          (rename(2): atomic on one file system)
 *   fs.exchange(a, b) -> true | nil, msg            (renameat2 RENAME_EXCHANGE: swaps two
 *                                                    paths atomically; nil where unsupported)
 *   fs.rmtree(path) -> true | nil, msg              (a file or a directory and its contents;
 *                                                    symbolic links are removed, not followed)
 *   fs.lock(path) -> lock | nil, msg, holder        (an exclusive flock(2) on path, created if
 *                                                    missing; see "run locks" below)
 *
 * Run locks. fs.lock opens path (O_CLOEXEC, so children such as gnuplot never
 * inherit it) and takes flock(LOCK_EX | LOCK_NB). On success it writes
 * "pid <pid> on <host> since <time>" into the file and returns a lock handle
 * (lock:release(), also on __gc / __close). When another process holds it, it
 * returns nil, a message, and the holder's line read from the file. The
 * kernel drops a flock when its holder dies (even by SIGKILL), so a stale lock
 * file never blocks a later run; the file is never unlinked (unlinking would
 * let two processes lock two different inodes of the same name).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coconut/csv.h"
#include "coconut/plot.h"
#include "coconut/safetensors.h"
#include "lcoco.h"

/* ---------------------------------------------------------------- safetensors */

static int l_st_load(lua_State *L) {
    LCOCO_ENTER(L);
    const char *path = luaL_checkstring(L, 1);
    coco_st_file *f = coco_st_open(path);
    if (!f) return lcoco_fail_result(L, coco_errmsg());
    lua_createtable(L, 0, coco_st_count(f));
    for (int i = 0; i < coco_st_count(f); i++) {
        coco_tensor *t = coco_st_get(f, coco_st_name(f, i));
        if (!t) {
            lua_pushstring(L, coco_errmsg());
            coco_st_close(f);
            return lcoco_fail_result(L, lua_tostring(L, -1));
        }
        lcoco_push_tensor(L, t);
        lua_setfield(L, -2, coco_st_name(f, i));
    }
    lua_createtable(L, 0, coco_st_meta_count(f));
    for (int i = 0; i < coco_st_meta_count(f); i++) {
        lua_pushstring(L, coco_st_meta_value(f, i));
        lua_setfield(L, -2, coco_st_meta_key(f, i));
    }
    coco_st_close(f);
    return 2;
}

static int cmp_items(const void *a, const void *b) {
    return strcmp(((const coco_st_item *)a)->name, ((const coco_st_item *)b)->name);
}

static int l_st_save(lua_State *L) {
    LCOCO_ENTER(L);
    lua_settop(L, 3);
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) n++, lua_pop(L, 1);
    coco_st_item *items = calloc((size_t)(n ? n : 1), sizeof *items);
    int k = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            free(items);
            return lcoco_errorf(L, "safetensors.save: tensor names must be strings");
        }
        coco_tensor *t = lcoco_opt_tensor(L, -1);
        if (!t) {
            free(items);
            return lcoco_errorf(L, "safetensors.save: '%s' is not a tensor", lua_tostring(L, -2));
        }
        items[k].name = lua_tostring(L, -2);
        items[k].t = t;
        k++;
        lua_pop(L, 1);
    }
    qsort(items, (size_t)n, sizeof *items, cmp_items); /* deterministic file layout */
    /* Metadata values as strings, collected into a fresh table that keeps them alive. */
    int nm = 0;
    const char **meta = NULL;
    lua_newtable(L);
    int strs = lua_gettop(L);
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            if (lua_type(L, -2) != LUA_TSTRING || (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)) {
                free(items);
                return lcoco_errorf(L, "safetensors.save: metadata must map strings to strings");
            }
            lua_pushvalue(L, -2);
            lua_rawseti(L, strs, 2 * nm + 1);
            lua_pushstring(L, lua_tostring(L, -1)); /* a string copy, numbers converted */
            lua_rawseti(L, strs, 2 * nm + 2);
            lua_pop(L, 1);
            nm++;
        }
        meta = calloc((size_t)(2 * nm + 1), sizeof *meta);
        for (int j = 0; j < 2 * nm; j++) {
            lua_rawgeti(L, strs, j + 1);
            meta[j] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
    }
    int rc = coco_st_save(path, items, n, meta, nm);
    free(items);
    free(meta);
    if (rc != 0) return lcoco_fail_result(L, coco_errmsg());
    lua_pushboolean(L, 1);
    return 1;
}

/* ---------------------------------------------------------------- csv */

#define LCOCO_CSV "coconut.CsvWriter"

typedef struct lcsv {
    coco_csv_writer *w;
    int ncols;
} lcsv;

static int l_csv_open(lua_State *L) {
    LCOCO_ENTER(L);
    lua_settop(L, 3);
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    static const char *const keys[] = {"append", NULL};
    lcoco_check_keys(L, 3, keys, "csv.open options");
    int append = lcoco_opt_bool(L, 3, "append", 0, "csv.open options");
    int n = (int)luaL_len(L, 2);
    if (n < 1) return luaL_argerror(L, 2, "at least one column");
    const char **cols = calloc((size_t)n, sizeof *cols);
    for (int i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            free(cols);
            return lcoco_errorf(L, "csv.open: column %d is not a string", i + 1);
        }
        cols[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    coco_csv_writer *w = coco_csv_open(path, n, cols, append);
    free(cols);
    if (!w) return lcoco_fail_result(L, coco_errmsg());
    lcsv *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->w = w;
    u->ncols = n;
    luaL_setmetatable(L, LCOCO_CSV);
    lua_pushvalue(L, 2); /* the column list, for keyed rows */
    lua_setiuservalue(L, -2, 1);
    return 1;
}

static lcsv *check_csv(lua_State *L, int i) {
    lcsv *u = luaL_checkudata(L, i, LCOCO_CSV);
    if (!u->w) luaL_argerror(L, i, "csv writer was closed");
    return u;
}

/* Format a Lua value as a CSV cell: integers exactly, floats with %.9g, NaN as "nan". */
static const char *cell_text(lua_State *L, int idx, char *buf, size_t n) {
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return NULL;
    case LUA_TBOOLEAN: return lua_toboolean(L, idx) ? "1" : "0";
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) snprintf(buf, n, "%lld", (long long)lua_tointeger(L, idx));
        else {
            double v = lua_tonumber(L, idx);
            if (isnan(v)) snprintf(buf, n, "nan");
            else snprintf(buf, n, "%.9g", v);
        }
        return buf;
    case LUA_TSTRING: return lua_tostring(L, idx);
    default: lcoco_errorf(L, "csv row: a %s cannot be written to a CSV cell", luaL_typename(L, idx));
    }
    return NULL;
}

/* w:row(t): t keyed by column name (missing = empty) or a list in column order.
 * Keys that are not columns are an error (a typo would silently lose data). */
static int csv_row(lua_State *L) {
    LCOCO_ENTER(L);
    lcsv *u = check_csv(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getiuservalue(L, 1, 1);
    int cols = lua_gettop(L);
    int keyed = luaL_len(L, 2) == 0;
    if (keyed) {
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            lua_pop(L, 1);
            int found = 0;
            for (int j = 1; j <= u->ncols && !found; j++) {
                lua_geti(L, cols, j);
                found = lua_rawequal(L, -1, -2);
                lua_pop(L, 1);
            }
            if (!found) return lcoco_errorf(L, "csv row: '%s' is not a column of this file", lua_tostring(L, -1));
        }
    } else if (luaL_len(L, 2) != u->ncols) {
        return lcoco_errorf(L, "csv row: %d values for %d columns", (int)luaL_len(L, 2), u->ncols);
    }
    const char **vals = calloc((size_t)u->ncols, sizeof *vals);
    char (*bufs)[64] = calloc((size_t)u->ncols, 64);
    for (int j = 0; j < u->ncols; j++) {
        if (keyed) {
            lua_geti(L, cols, j + 1);
            lua_gettable(L, 2);
        } else {
            lua_geti(L, 2, j + 1);
        }
        vals[j] = cell_text(L, -1, bufs[j], 64); /* strings stay referenced by the row table */
        lua_pop(L, 1);
    }
    int rc = coco_csv_row(u->w, vals);
    free(vals);
    free(bufs);
    if (rc != 0) {
        lua_pushstring(L, coco_errmsg());
        return lcoco_errorf(L, "csv row: %s", lua_tostring(L, -1));
    }
    return 0;
}

static int csv_flush(lua_State *L) {
    LCOCO_ENTER(L);
    if (coco_csv_flush(check_csv(L, 1)->w) != 0) return lcoco_fail_result(L, coco_errmsg());
    lua_pushboolean(L, 1);
    return 1;
}

static int csv_close(lua_State *L) {
    LCOCO_ENTER(L);
    lcsv *u = luaL_checkudata(L, 1, LCOCO_CSV);
    if (!u->w) return 0;
    int rc = coco_csv_close(u->w);
    u->w = NULL;
    if (rc != 0) return lcoco_fail_result(L, coco_errmsg());
    lua_pushboolean(L, 1);
    return 1;
}

/* Collected without close: an unfinished table is not published. */
static int csv_gc(lua_State *L) {
    lcsv *u = luaL_checkudata(L, 1, LCOCO_CSV);
    if (u->w) coco_csv_abort(u->w);
    u->w = NULL;
    return 0;
}

static int csv_tostring(lua_State *L) {
    lcsv *u = luaL_checkudata(L, 1, LCOCO_CSV);
    lua_pushfstring(L, "coconut.CsvWriter (%s, %d columns)", u->w ? "open" : "closed", u->ncols);
    return 1;
}

static int l_csv_read(lua_State *L) {
    LCOCO_ENTER(L);
    coco_csv_table *t = coco_csv_read(luaL_checkstring(L, 1));
    if (!t) return lcoco_fail_result(L, coco_errmsg());
    int nc = coco_csv_ncols(t);
    int64_t nr = coco_csv_nrows(t);
    lua_createtable(L, (int)nr, 0);
    for (int64_t r = 0; r < nr; r++) {
        lua_createtable(L, 0, nc);
        for (int c = 0; c < nc; c++) {
            lua_pushstring(L, coco_csv_cell(t, r, c));
            lua_setfield(L, -2, coco_csv_colname(t, c));
        }
        lua_rawseti(L, -2, r + 1);
    }
    lua_createtable(L, nc, 0);
    for (int c = 0; c < nc; c++) {
        lua_pushstring(L, coco_csv_colname(t, c));
        lua_rawseti(L, -2, c + 1);
    }
    coco_csv_free(t);
    return 2;
}

/* ---------------------------------------------------------------- plot */

static int l_plot(lua_State *L) {
    LCOCO_ENTER(L);
    const char *script = luaL_checkstring(L, 1);
    int n = 0;
    const char **args = NULL;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        n = (int)luaL_len(L, 2);
        args = calloc((size_t)(n ? n : 1), sizeof *args);
        for (int i = 0; i < n; i++) {
            lua_geti(L, 2, i + 1);
            args[i] = lua_tostring(L, -1);
            if (!args[i]) {
                free(args);
                return lcoco_errorf(L, "plot: argument %d is not a string", i + 1);
            }
            lua_pop(L, 1);
        }
    }
    const char *wd = luaL_optstring(L, 3, NULL);
    int rc = coco_plot(script, n, args, wd);
    free(args);
    if (rc != 0) {
        lua_pushstring(L, coco_errmsg());
        return lcoco_errorf(L, "plot: %s", lua_tostring(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* ---------------------------------------------------------------- json */

static const char JSON_NULL_KEY = 'n';
static const char JSON_OBJECT_MT = 'o';

static void push_json(lua_State *L, json_t *v) {
    luaL_checkstack(L, 4, "json nesting too deep");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            push_json(L, x);
            lua_setfield(L, -2, k);
        }
        lua_rawgetp(L, LUA_REGISTRYINDEX, &JSON_OBJECT_MT);
        lua_setmetatable(L, -2);
        break;
    }
    case JSON_ARRAY: {
        lua_createtable(L, (int)json_array_size(v), 0);
        for (size_t i = 0; i < json_array_size(v); i++) {
            push_json(L, json_array_get(v, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    default: lua_rawgetp(L, LUA_REGISTRYINDEX, &JSON_NULL_KEY); break;
    }
}

static void json_decref_guarded(void *p) { json_decref(*(json_t **)p); }

static json_t *to_json(lua_State *L, int idx, int depth) {
    idx = lua_absindex(L, idx);
    if (depth > 200) lcoco_errorf(L, "json.encode: nesting deeper than 200 (a cycle?)");
    luaL_checkstack(L, 4, "json.encode: nesting too deep"); /* a guard, a key and a value per level */
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
        if (!isfinite(lua_tonumber(L, idx))) lcoco_errorf(L, "json.encode: %f cannot be represented in JSON", lua_tonumber(L, idx));
        return json_real(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        json_t *j = json_stringn(s, n);
        if (!j) lcoco_errorf(L, "json.encode: string is not valid UTF-8");
        return j;
    }
    case LUA_TLIGHTUSERDATA: {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &JSON_NULL_KEY);
        int isnull = lua_rawequal(L, -1, idx);
        lua_pop(L, 1);
        if (isnull) return json_null();
        break;
    }
    case LUA_TTABLE: {
        int is_obj = 0;
        if (lua_getmetatable(L, idx)) {
            lua_rawgetp(L, LUA_REGISTRYINDEX, &JSON_OBJECT_MT);
            is_obj = lua_rawequal(L, -1, -2);
            lua_pop(L, 2);
        }
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        lua_Integer count = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) count++, lua_pop(L, 1);
        /* the container in a guard: a value deeper down may raise (a function,
         * a bad key), and the part built so far is freed then */
        json_t **g = lcoco_guard_new(L, sizeof *g, json_decref_guarded);
        int gi = lua_gettop(L);
        if (!is_obj && count == n) { /* a sequence (or empty): array */
            json_t *a = *g = json_array();
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, idx, i);
                json_array_append_new(a, to_json(L, -1, depth + 1));
                lua_pop(L, 1);
            }
            lcoco_guard_disarm(g);
            lua_remove(L, gi);
            return a;
        }
        json_t *o = *g = json_object();
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            char kb[32];
            const char *k = NULL;
            if (lua_type(L, -2) == LUA_TSTRING) k = lua_tostring(L, -2);
            else if (lua_isinteger(L, -2)) snprintf(kb, sizeof kb, "%lld", (long long)lua_tointeger(L, -2)), k = kb;
            else lcoco_errorf(L, "json.encode: table keys must be strings or integers");
            json_object_set_new(o, k, to_json(L, -1, depth + 1));
            lua_pop(L, 1);
        }
        lcoco_guard_disarm(g);
        lua_remove(L, gi);
        return o;
    }
    default: break;
    }
    lcoco_errorf(L, "json.encode: a %s cannot be encoded", luaL_typename(L, idx));
    return NULL;
}

static int l_json_decode(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    json_error_t e;
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY, &e);
    if (!v) {
        lua_pushfstring(L, "json: line %d, column %d: %s", e.line, e.column, e.text);
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    push_json(L, v);
    json_decref(v);
    return 1;
}

static char *encode_text(lua_State *L, int idx, int indent) {
    json_t *v = to_json(L, idx, 0);
    size_t flags = JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12);
    if (indent > 0) flags |= JSON_INDENT(indent);
    else flags |= JSON_COMPACT;
    char *s = json_dumps(v, flags);
    json_decref(v);
    return s;
}

static int l_json_encode(lua_State *L) {
    lua_settop(L, 2);
    int indent = lcoco_opt_int(L, 2, "indent", 0, "json.encode options");
    char *s = encode_text(L, 1, indent);
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static int l_json_read(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    json_error_t e;
    json_t *v = json_load_file(path, JSON_DECODE_ANY, &e);
    if (!v) {
        lua_pushfstring(L, "%s:%d:%d: %s", path, e.line, e.column, e.text);
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    push_json(L, v);
    json_decref(v);
    return 1;
}

static int write_atomic(lua_State *L, const char *path, const char *data, size_t n) {
    coco_atomic_file af;
    FILE *fp = coco_atomic_open(&af, path);
    if (!fp) return lcoco_fail_result(L, coco_errmsg());
    fwrite(data, 1, n, fp);
    if (coco_atomic_commit(&af) != 0) return lcoco_fail_result(L, coco_errmsg());
    lua_pushboolean(L, 1);
    return 1;
}

static int l_json_write(lua_State *L) {
    LCOCO_ENTER(L);
    lua_settop(L, 3);
    const char *path = luaL_checkstring(L, 1);
    int indent = lcoco_opt_int(L, 3, "indent", 2, "json.write options");
    char *s = encode_text(L, 2, indent);
    size_t n = strlen(s);
    char *t = malloc(n + 2);
    memcpy(t, s, n);
    t[n] = '\n';
    free(s);
    int r = write_atomic(L, path, t, n + 1);
    free(t);
    return r;
}

/* json.object([t]) marks a table so it encodes as an object even when empty. */
static int l_json_object(lua_State *L) {
    if (lua_isnoneornil(L, 1)) lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &JSON_OBJECT_MT);
    lua_setmetatable(L, 1);
    return 1;
}

/* ---------------------------------------------------------------- fs */

static int l_fs_exists(lua_State *L) {
    struct stat st;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0);
    return 1;
}

static int l_fs_isdir(lua_State *L) {
    struct stat st;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0 && S_ISDIR(st.st_mode));
    return 1;
}

static int mkdir_p(const char *path) {
    char *p = strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

static int l_fs_mkdir(lua_State *L) {
    lua_settop(L, 2);
    const char *path = luaL_checkstring(L, 1);
    int parents = lcoco_opt_bool(L, 2, "parents", 1, "fs.mkdir options");
    int rc = parents ? mkdir_p(path) : (mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0);
    if (rc != 0) {
        lua_pushfstring(L, "%s: cannot create directory: %s", path, strerror(errno));
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int l_fs_listdir(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d) {
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) cap = cap ? 2 * cap : 16, names = realloc(names, cap * sizeof *names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_str); /* an empty directory has names == NULL: qsort(NULL) is UB */
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
        free(names[i]);
    }
    free(names);
    return 1;
}

static int l_fs_remove(lua_State *L) {
    const char *p = luaL_checkstring(L, 1);
    if (remove(p) != 0) {
        lua_pushfstring(L, "%s: %s", p, strerror(errno));
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_fs_read(lua_State *L) {
    const char *p = luaL_checkstring(L, 1);
    FILE *f = fopen(p, "rb");
    if (!f) {
        lua_pushfstring(L, "%s: %s", p, strerror(errno));
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) luaL_addlstring(&b, buf, k);
    fclose(f);
    luaL_pushresult(&b);
    return 1;
}

static int l_fs_write(lua_State *L) {
    LCOCO_ENTER(L);
    size_t n;
    const char *p = luaL_checkstring(L, 1), *s = luaL_checklstring(L, 2, &n);
    return write_atomic(L, p, s, n);
}

static int l_fs_rename(lua_State *L) {
    const char *a = luaL_checkstring(L, 1), *b = luaL_checkstring(L, 2);
    if (rename(a, b) != 0) {
        lua_pushfstring(L, "cannot rename %s to %s: %s", a, b, strerror(errno));
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_fs_exchange(lua_State *L) {
    const char *a = luaL_checkstring(L, 1), *b = luaL_checkstring(L, 2);
    if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0) {
        lua_pushfstring(L, "cannot exchange %s and %s: %s", a, b, strerror(errno));
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Removes path and, for a directory, everything below it; returns 0 or -1
 * (errno set). lstat: a symbolic link is removed itself, never followed. */
static int rmtree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *c = malloc(n);
        snprintf(c, n, "%s/%s", path, e->d_name);
        rc = rmtree(c);
        free(c);
    }
    int saved = errno;
    closedir(d);
    errno = saved;
    return rc == 0 ? rmdir(path) : -1;
}

static int l_fs_rmtree(lua_State *L) {
    const char *p = luaL_checkstring(L, 1);
    if (rmtree(p) != 0) {
        lua_pushfstring(L, "%s: cannot remove: %s", p, strerror(errno));
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    lua_pushboolean(L, 1);
    return 1;
}

#define LCOCO_LOCK "coconut.Lock"

typedef struct llock {
    int fd; /* -1 once released */
} llock;

static int lock_release(lua_State *L) {
    llock *k = luaL_checkudata(L, 1, LCOCO_LOCK);
    if (k->fd >= 0) close(k->fd); /* closing the last descriptor drops the flock */
    k->fd = -1;
    return 0;
}

static int lock_tostring(lua_State *L) {
    llock *k = luaL_checkudata(L, 1, LCOCO_LOCK);
    lua_pushfstring(L, "coconut.Lock (%s)", k->fd >= 0 ? "held" : "released");
    return 1;
}

static int l_fs_lock(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        lua_pushfstring(L, "%s: cannot open the lock file: %s", path, strerror(errno));
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err != EWOULDBLOCK) {
            close(fd);
            lua_pushfstring(L, "%s: cannot lock: %s", path, strerror(err));
            return lcoco_fail_result(L, lua_tostring(L, -1));
        }
        char who[512];
        ssize_t n = pread(fd, who, sizeof who - 1, 0);
        close(fd);
        if (n < 0) n = 0;
        who[n] = 0;
        while (n > 0 && (who[n - 1] == '\n' || who[n - 1] == ' ')) who[--n] = 0;
        luaL_pushfail(L);
        lua_pushfstring(L, "%s is locked by another process", path);
        lua_pushstring(L, n > 0 ? who : "a process that has not written its pid yet");
        return 3;
    }
    char host[256] = "?", when[64] = "?", line[512];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    time_t now = time(NULL);
    struct tm tmv;
    if (localtime_r(&now, &tmv)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tmv);
    int len = snprintf(line, sizeof line, "pid %ld on %s since %s\n", (long)getpid(), host, when);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        int err = errno;
        close(fd);
        lua_pushfstring(L, "%s: cannot write the lock file: %s", path, strerror(err));
        return lcoco_fail_result(L, lua_tostring(L, -1));
    }
    llock *k = lua_newuserdatauv(L, sizeof *k, 0);
    k->fd = fd;
    luaL_setmetatable(L, LCOCO_LOCK);
    return 1;
}

static int l_fs_dirname(lua_State *L) {
    char *p = strdup(luaL_checkstring(L, 1));
    lua_pushstring(L, dirname(p));
    free(p);
    return 1;
}

static int l_fs_basename(lua_State *L) {
    char *p = strdup(luaL_checkstring(L, 1));
    lua_pushstring(L, basename(p));
    free(p);
    return 1;
}

void lcoco_open_files(lua_State *L) {
    lua_pushlightuserdata(L, (void *)&JSON_NULL_KEY);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &JSON_NULL_KEY);
    lua_newtable(L);
    lua_pushstring(L, "object");
    lua_setfield(L, -2, "__name");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &JSON_OBJECT_MT);

    static const luaL_Reg st[] = {{"load", l_st_load}, {"save", l_st_save}, {NULL, NULL}};
    luaL_newlib(L, st);
    lua_setfield(L, -2, "safetensors");

    static const luaL_Reg cm[] = {{"row", csv_row}, {"flush", csv_flush}, {"close", csv_close}, {NULL, NULL}};
    static const luaL_Reg cmeta[] = {{"__gc", csv_gc}, {"__close", csv_close}, {"__tostring", csv_tostring}, {NULL, NULL}};
    lcoco_newclass(L, LCOCO_CSV, cm, cmeta);
    static const luaL_Reg csv[] = {{"open", l_csv_open}, {"read", l_csv_read}, {NULL, NULL}};
    luaL_newlib(L, csv);
    lua_setfield(L, -2, "csv");

    lua_pushcfunction(L, l_plot);
    lua_setfield(L, -2, "plot");

    static const luaL_Reg js[] = {{"decode", l_json_decode}, {"encode", l_json_encode}, {"read", l_json_read},
                                  {"write", l_json_write},   {"object", l_json_object}, {NULL, NULL}};
    luaL_newlib(L, js);
    lua_pushlightuserdata(L, (void *)&JSON_NULL_KEY);
    lua_setfield(L, -2, "null");
    lua_setfield(L, -2, "json");

    static const luaL_Reg fs[] = {{"exists", l_fs_exists}, {"isdir", l_fs_isdir},   {"mkdir", l_fs_mkdir},
                                  {"listdir", l_fs_listdir}, {"remove", l_fs_remove}, {"read", l_fs_read},
                                  {"write", l_fs_write},   {"dirname", l_fs_dirname}, {"basename", l_fs_basename},
                                  {"rename", l_fs_rename}, {"exchange", l_fs_exchange}, {"rmtree", l_fs_rmtree},
                                  {"lock", l_fs_lock},     {NULL, NULL}};
    static const luaL_Reg lockm[] = {{"release", lock_release}, {NULL, NULL}};
    static const luaL_Reg lockmeta[] = {{"__gc", lock_release}, {"__close", lock_release}, {"__tostring", lock_tostring},
                                        {NULL, NULL}};
    lcoco_newclass(L, LCOCO_LOCK, lockm, lockmeta);
    luaL_newlib(L, fs);
    lua_setfield(L, -2, "fs");
}

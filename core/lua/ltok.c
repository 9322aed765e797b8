/* ltok.c — coconut.tokenizer: GPT-2 BPE and word-level tokenizers.
 *
 *   coconut.tokenizer.gpt2(vocab_path, merges_path)  -- or (dir) holding either file pair
 *   coconut.tokenizer.words(texts [, {specials = {...}, unk = false}])
 *   coconut.tokenizer.load(json_path)                -- a saved word-level tokenizer
 *   tok:encode(s) -> {ids}      tok:decode(ids) -> string    tok:add_special(s) -> id
 *   tok:id(s) -> id | nil       tok:token(id) -> string      tok:size()  tok:kind()
 *   tok:eos()  tok:save(path)   tok:set_eos_special(bool)   tok:is_special(id)
 * Encoding an unknown word (word-level without <unk>) raises an error naming it.
 * Ids are 0-based, as in the files and the model.
 */
#include <stdlib.h>
#include <string.h>

#include "coconut/tokenizer.h"
#include "lcoco.h"

#define LCOCO_TOK "coconut.Tokenizer"

typedef struct ltok {
    coco_tokenizer *t;
} ltok;

static coco_tokenizer *check_tok(lua_State *L, int i) {
    ltok *u = luaL_checkudata(L, i, LCOCO_TOK);
    if (!u->t) luaL_argerror(L, i, "tokenizer was closed");
    return u->t;
}

static void push_tok(lua_State *L, coco_tokenizer *t) {
    ltok *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->t = t;
    luaL_setmetatable(L, LCOCO_TOK);
}

static int l_gpt2(lua_State *L) {
    LCOCO_ENTER(L);
    const char *v = luaL_checkstring(L, 1), *m = luaL_optstring(L, 2, NULL);
    coco_tokenizer *t = coco_tok_gpt2_load(v, m);
    if (!t) return lcoco_fail_result(L, coco_errmsg());
    push_tok(L, t);
    return 1;
}

static int l_words(lua_State *L) {
    LCOCO_ENTER(L);
    lua_settop(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"specials", "unk", NULL};
    lcoco_check_keys(L, 2, keys, "tokenizer.words options");
    size_t n = (size_t)luaL_len(L, 1);
    const char **texts = malloc(sizeof *texts * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        lua_geti(L, 1, (lua_Integer)i + 1);
        if (!lua_isstring(L, -1)) {
            free(texts);
            return lcoco_errorf(L, "tokenizer.words: texts[%d] is not a string", (int)i + 1);
        }
        texts[i] = lua_tostring(L, -1);
        lua_pop(L, 1); /* the table keeps the string alive */
    }
    size_t ns = 0;
    const char **sp = NULL;
    if (!lua_isnoneornil(L, 2) && lua_getfield(L, 2, "specials") != LUA_TNIL) {
        int si = lua_gettop(L);
        ns = (size_t)luaL_len(L, si);
        sp = malloc(sizeof *sp * (ns ? ns : 1));
        for (size_t i = 0; i < ns; i++) {
            lua_geti(L, si, (lua_Integer)i + 1);
            sp[i] = luaL_checkstring(L, -1);
            lua_pop(L, 1);
        }
    }
    int unk = lcoco_opt_bool(L, 2, "unk", 0, "tokenizer.words options");
    coco_tokenizer *t = coco_tok_words_build(texts, n, sp, ns, unk);
    free(texts);
    free(sp);
    if (!t) return lcoco_fail_result(L, coco_errmsg());
    push_tok(L, t);
    return 1;
}

static int l_load(lua_State *L) {
    LCOCO_ENTER(L);
    coco_tokenizer *t = coco_tok_words_load(luaL_checkstring(L, 1));
    if (!t) return lcoco_fail_result(L, coco_errmsg());
    push_tok(L, t);
    return 1;
}

static int t_encode(lua_State *L) {
    LCOCO_ENTER(L);
    coco_tokenizer *t = check_tok(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    int32_t *ids = NULL;
    int64_t n = coco_tok_encode(t, s, len, &ids);
    if (n < 0) {
        lua_pushstring(L, coco_errmsg());
        return lcoco_errorf(L, "encode: %s", lua_tostring(L, -1));
    }
    lcoco_push_ints(L, ids, (int)n);
    free(ids);
    return 1;
}

static int t_decode(lua_State *L) {
    LCOCO_ENTER(L);
    coco_tokenizer *t = check_tok(L, 1);
    int n;
    int32_t *ids = lcoco_to_ints(L, 2, &n, "decode ids");
    char *out = NULL;
    size_t len = 0;
    int rc = coco_tok_decode(t, ids, (size_t)n, &out, &len);
    free(ids);
    if (rc != 0) {
        lua_pushstring(L, coco_errmsg());
        return lcoco_errorf(L, "decode: %s", lua_tostring(L, -1));
    }
    lua_pushlstring(L, out, len);
    free(out);
    return 1;
}

static int t_add_special(lua_State *L) {
    LCOCO_ENTER(L);
    coco_tokenizer *t = check_tok(L, 1);
    const char *s = luaL_checkstring(L, 2);
    luaL_argcheck(L, *s, 2, "special token must not be empty");
    lua_pushinteger(L, coco_tok_add_special(t, s));
    return 1;
}

static int t_id(lua_State *L) {
    int32_t id = coco_tok_id(check_tok(L, 1), luaL_checkstring(L, 2));
    if (id < 0) lua_pushnil(L);
    else lua_pushinteger(L, id);
    return 1;
}

static int t_token(lua_State *L) {
    size_t len;
    const char *s = coco_tok_token(check_tok(L, 1), (int32_t)luaL_checkinteger(L, 2), &len);
    if (!s) lua_pushnil(L);
    else lua_pushlstring(L, s, len);
    return 1;
}

static int t_is_special(lua_State *L) {
    lua_pushboolean(L, coco_tok_is_special(check_tok(L, 1), (int32_t)luaL_checkinteger(L, 2)));
    return 1;
}

static int t_size(lua_State *L) {
    lua_pushinteger(L, coco_tok_size(check_tok(L, 1)));
    return 1;
}
static int t_kind(lua_State *L) {
    lua_pushstring(L, coco_tok_kind(check_tok(L, 1)));
    return 1;
}
static int t_eos(lua_State *L) {
    lua_pushinteger(L, coco_tok_eos(check_tok(L, 1)));
    return 1;
}
static int t_set_eos_special(lua_State *L) {
    lua_pushboolean(L, coco_tok_set_eos_special(check_tok(L, 1), lua_toboolean(L, 2)));
    return 1;
}
static int t_save(lua_State *L) {
    LCOCO_ENTER(L);
    if (coco_tok_save(check_tok(L, 1), luaL_checkstring(L, 2)) != 0) return lcoco_fail_result(L, coco_errmsg());
    lua_pushboolean(L, 1);
    return 1;
}
static int t_gc(lua_State *L) {
    ltok *u = luaL_checkudata(L, 1, LCOCO_TOK);
    coco_tok_free(u->t);
    u->t = NULL;
    return 0;
}
static int t_tostring(lua_State *L) {
    ltok *u = luaL_checkudata(L, 1, LCOCO_TOK);
    if (!u->t) lua_pushstring(L, "coconut.Tokenizer (closed)");
    else lua_pushfstring(L, "coconut.Tokenizer %s, %d tokens", coco_tok_kind(u->t), (int)coco_tok_size(u->t));
    return 1;
}

void lcoco_open_tokenizer(lua_State *L) {
    static const luaL_Reg m[] = {{"encode", t_encode},   {"decode", t_decode}, {"add_special", t_add_special},
                                 {"id", t_id},           {"token", t_token},   {"is_special", t_is_special},   {"size", t_size},
                                 {"kind", t_kind},       {"eos", t_eos},       {"set_eos_special", t_set_eos_special},
                                 {"save", t_save},       {"close", t_gc},      {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", t_gc}, {"__close", t_gc}, {"__tostring", t_tostring}, {NULL, NULL}};
    lcoco_newclass(L, LCOCO_TOK, m, meta);
    static const luaL_Reg f[] = {{"gpt2", l_gpt2}, {"words", l_words}, {"load", l_load}, {NULL, NULL}};
    luaL_newlib(L, f);
    lua_setfield(L, -2, "tokenizer");
}

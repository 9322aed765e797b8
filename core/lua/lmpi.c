/* lmpi.c — coconut.mpi: the collectives of coconut/mpi.h for scripts.
 *
 *   coconut.mpi.rank(), .size(), .host(), .compiled(), .launched()
 *   coconut.mpi.barrier()
 *   coconut.mpi.allreduce_sum(x [, scale=1])
 *       x a number          -> the sum over ranks (f64)
 *       x a Tensor (f32)    -> summed in place (times scale); returns x
 *       x a list of Tensors -> packed into one buffer, one allreduce, unpacked
 *       x a Model           -> its gradients, as one buffer (the training step)
 *       the tensor forms return the number of floats reduced
 *   coconut.mpi.bcast(x [, root=0])
 *       a Tensor, list of Tensors, Model (parameters) or Optimizer (moments and
 *       step count): root's values copied in place on every rank;
 *       nil / boolean / number / string: returns root's value
 *   coconut.mpi.allgather(s)   -> {s of rank 0, s of rank 1, ...} (strings)
 *   coconut.mpi.config_hash_check(s) -> hex hash of s and the binary; raises a
 *       user error on every rank when the ranks' hashes differ, naming them
 *   coconut.mpi.abort(code, msg) prints "coconut: rank r of N (host): msg" and
 *       ends the job (MPI_Abort; a single process exits with code)
 *   coconut.mpi.comm_stats()   -> seconds inside collectives, their count
 * Every call is a collective except rank/size/host/compiled/launched/abort/
 * comm_stats: all ranks must make it in the same order.
 */
#include <stdlib.h>
#include <string.h>

#include "coconut/gpt2.h"
#include "coconut/mpi.h"
#include "coconut/optim.h"
#include "lcoco.h"

static int l_rank(lua_State *L) { return lua_pushinteger(L, coco_mpi_rank()), 1; }
static int l_size(lua_State *L) { return lua_pushinteger(L, coco_mpi_size()), 1; }
static int l_host(lua_State *L) { return lua_pushstring(L, coco_mpi_host()), 1; }
static int l_compiled(lua_State *L) { return lua_pushboolean(L, coco_mpi_compiled()), 1; }
static int l_launched(lua_State *L) { return lua_pushboolean(L, coco_mpi_launched()), 1; }
static int l_barrier(lua_State *L) {
    (void)L;
    coco_mpi_barrier();
    return 0;
}

/* The tensors of a list argument (f32 checked by the reduce), borrowed from
 * the Lua handles, which the list keeps alive during the call. */
static coco_tensor **list_tensors(lua_State *L, int idx, int *n, const char *what) {
    int k = (int)luaL_len(L, idx);
    coco_tensor **ts = lua_newuserdatauv(L, sizeof *ts * (size_t)(k ? k : 1), 0); /* freed by the GC */
    for (int i = 1; i <= k; i++) {
        lua_geti(L, idx, i);
        coco_tensor *t = lcoco_opt_tensor(L, -1);
        if (!t) lcoco_errorf(L, "%s: entry %d of the list is a %s, not a Tensor", what, i, luaL_typename(L, -1));
        ts[i - 1] = t;
        lua_pop(L, 1);
    }
    *n = k;
    return ts;
}

static int l_allreduce_sum(lua_State *L) {
    LCOCO_ENTER(L);
    float scale = (float)luaL_optnumber(L, 2, 1.0);
    if (lua_type(L, 1) == LUA_TNUMBER) {
        double v = lua_tonumber(L, 1);
        coco_mpi_allreduce_sum_f64(&v, 1);
        lua_pushnumber(L, v * scale);
        return 1;
    }
    coco_tensor *t = lcoco_opt_tensor(L, 1);
    if (t) {
        coco_mpi_allreduce_tensors(1, &t, scale);
        lua_settop(L, 1);
        return 1;
    }
    struct coco_gpt2 *m = lcoco_to_model(L, 1);
    if (m) {
        /* the gradients of every parameter, HF order, as one buffer */
        coco_tensor **g = lua_newuserdatauv(L, sizeof *g * (size_t)m->n_params, 0);
        for (int i = 0; i < m->n_params; i++) g[i] = m->params[i]->grad;
        lua_pushinteger(L, coco_mpi_allreduce_tensors(m->n_params, g, scale));
        return 1;
    }
    if (lua_istable(L, 1)) {
        int n;
        coco_tensor **ts = list_tensors(L, 1, &n, "mpi.allreduce_sum");
        lua_pushinteger(L, coco_mpi_allreduce_tensors(n, ts, scale));
        return 1;
    }
    return luaL_argerror(L, 1, "expected a number, a Tensor, a list of Tensors or a Model");
}

/* Lua scalars travel as a tag byte and a payload (a string's bytes, a
 * number's 8 bytes); the length goes first so every rank can size its buffer. */
static int bcast_value(lua_State *L, int root) {
    int me = coco_mpi_rank() == root;
    int64_t head[2] = {0, 0}; /* tag, payload bytes */
    size_t len = 0;
    const char *s = NULL;
    if (me) {
        switch (lua_type(L, 1)) {
        case LUA_TNIL: case LUA_TNONE: head[0] = 0; break;
        case LUA_TBOOLEAN: head[0] = lua_toboolean(L, 1) ? 2 : 1; break;
        case LUA_TNUMBER: head[0] = lua_isinteger(L, 1) ? 3 : 4; head[1] = 8; break;
        case LUA_TSTRING: head[0] = 5; s = lua_tolstring(L, 1, &len); head[1] = (int64_t)len; break;
        default: return luaL_argerror(L, 1, "mpi.bcast: expected nil, a boolean, a number, a string, a Tensor, a list of Tensors, a Model or an Optimizer");
        }
    }
    coco_mpi_bcast(head, sizeof head, root);
    switch (head[0]) {
    case 0: lua_pushnil(L); return 1;
    case 1: case 2: lua_pushboolean(L, head[0] == 2); return 1;
    case 3: {
        lua_Integer v = me ? lua_tointeger(L, 1) : 0;
        coco_mpi_bcast(&v, sizeof v, root);
        lua_pushinteger(L, v);
        return 1;
    }
    case 4: {
        lua_Number v = me ? lua_tonumber(L, 1) : 0;
        coco_mpi_bcast(&v, sizeof v, root);
        lua_pushnumber(L, v);
        return 1;
    }
    default: {
        luaL_Buffer b;
        char *p = luaL_buffinitsize(L, &b, (size_t)head[1]);
        if (me) memcpy(p, s, len);
        coco_mpi_bcast(p, head[1], root);
        luaL_pushresultsize(&b, (size_t)head[1]);
        return 1;
    }
    }
}

static int l_bcast(lua_State *L) {
    LCOCO_ENTER(L);
    int root = (int)luaL_optinteger(L, 2, 0);
    if (root < 0 || root >= coco_mpi_size()) return luaL_argerror(L, 2, "root is not a rank");
    coco_tensor *t = lcoco_opt_tensor(L, 1);
    if (t) {
        coco_mpi_bcast_tensors(1, &t, root);
        lua_settop(L, 1);
        return 1;
    }
    struct coco_gpt2 *m = lcoco_to_model(L, 1);
    if (m) {
        coco_mpi_bcast_tensors(m->n_params, m->params, root);
        lua_settop(L, 1);
        return 1;
    }
    struct coco_adamw *o = lcoco_to_optim(L, 1);
    if (o) {
        int n = coco_adamw_count(o);
        coco_tensor **ts = lua_newuserdatauv(L, sizeof *ts * (size_t)(2 * n), 0);
        for (int i = 0; i < n; i++) ts[2 * i] = coco_adamw_moment(o, i, 0), ts[2 * i + 1] = coco_adamw_moment(o, i, 1);
        coco_mpi_bcast_tensors(2 * n, ts, root);
        int64_t steps = coco_adamw_steps(o);
        coco_mpi_bcast(&steps, sizeof steps, root);
        coco_adamw_set_steps(o, steps);
        lua_settop(L, 1);
        return 1;
    }
    if (lua_istable(L, 1)) {
        int n;
        coco_tensor **ts = list_tensors(L, 1, &n, "mpi.bcast");
        coco_mpi_bcast_tensors(n, ts, root);
        lua_settop(L, 1);
        return 1;
    }
    return bcast_value(L, root);
}

static int l_allgather(lua_State *L) {
    LCOCO_ENTER(L);
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    int n = coco_mpi_size();
    int64_t *lens = lua_newuserdatauv(L, sizeof *lens * (size_t)n, 0);
    char *all = coco_mpi_allgatherv(s, (int64_t)len, lens);
    lua_createtable(L, n, 0);
    int64_t off = 0;
    for (int r = 0; r < n; r++) {
        lua_pushlstring(L, all + off, (size_t)lens[r]);
        lua_rawseti(L, -2, r + 1);
        off += lens[r];
    }
    free(all);
    return 1;
}

/* Start-up check: the hash of the caller's string (the resolved config, the
 * scripts) combined with the binary's, gathered from every rank. */
static int l_config_hash_check(lua_State *L) {
    LCOCO_ENTER(L);
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    uint64_t h = coco_fnv1a(coco_mpi_code_hash(), s, len);
    char mine[320];
    snprintf(mine, sizeof mine, "%016llx %016llx %s", (unsigned long long)h, (unsigned long long)coco_mpi_code_hash(),
             coco_mpi_host());
    int n = coco_mpi_size();
    int64_t *lens = lua_newuserdatauv(L, sizeof *lens * (size_t)n, 0);
    char *all = coco_mpi_allgatherv(mine, (int64_t)strlen(mine), lens);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int bad = 0;
    int64_t off = 0;
    size_t hl = 16; /* the combined hash's hex digits */
    const char *first = all;
    for (int r = 0; r < n; r++) {
        const char *e = all + off;
        if (lens[r] < (int64_t)hl || memcmp(e, first, hl) != 0) bad = 1;
        off += lens[r];
    }
    if (bad) {
        luaL_addstring(&b, "the ranks of this MPI job differ in their binary or resolved configuration (every rank must run "
                           "the same build, scripts and options); rank: config+code hash, binary hash, host:");
        off = 0;
        for (int r = 0; r < n; r++) {
            char line[400];
            snprintf(line, sizeof line, " [%d] %.*s", r, (int)lens[r], all + off);
            luaL_addstring(&b, line);
            off += lens[r];
        }
        free(all);
        luaL_pushresult(&b);
        lcoco_push_user_error(L, lua_tostring(L, -1));
        return lua_error(L);
    }
    free(all);
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)h);
    lua_pushstring(L, hex);
    return 1;
}

static int l_abort(lua_State *L) {
    int code = (int)luaL_optinteger(L, 1, 1);
    const char *msg = luaL_optstring(L, 2, NULL);
    if (msg) fprintf(stderr, "coconut: rank %d of %d (%s): %s\n", coco_mpi_rank(), coco_mpi_size(), coco_mpi_host(), msg);
    coco_mpi_abort(code);
}

static int l_comm_stats(lua_State *L) {
    lua_pushnumber(L, coco_mpi_comm_seconds());
    lua_pushinteger(L, coco_mpi_comm_calls());
    return 2;
}

void lcoco_open_mpi(lua_State *L) {
    static const luaL_Reg f[] = {{"rank", l_rank},
                                 {"size", l_size},
                                 {"host", l_host},
                                 {"compiled", l_compiled},
                                 {"launched", l_launched},
                                 {"barrier", l_barrier},
                                 {"allreduce_sum", l_allreduce_sum},
                                 {"bcast", l_bcast},
                                 {"allgather", l_allgather},
                                 {"config_hash_check", l_config_hash_check},
                                 {"abort", l_abort},
                                 {"comm_stats", l_comm_stats},
                                 {NULL, NULL}};
    luaL_newlib(L, f);
    lua_setfield(L, -2, "mpi");
}

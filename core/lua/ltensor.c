/* ltensor.c — coconut.Tensor: handles on C tensors.
 *
 *   coconut.tensor.zeros(shape [, "f32"|"i32"])   coconut.tensor.randn(shape, seed [, std])
 *   coconut.tensor.from(nested_table [, "f32"|"i32"])   coconut.tensor.live_bytes()
 *   t:shape() t:numel() t:dtype() t:totable() t:item() t:get(i, ...) t:set(v, i, ...)
 *   t:matmul(u) t:clone() t:sum() t:mean() t:norm() t:argmax() t:max()
 *   t:dot(u) t:cosine(u) t:row(i) -- 1-based indices, like Lua
 *   t:matmul(u, true) (t x u^T)   t:log_softmax()   t:topk(k)   -- for probes (issue 15)
 *   coconut.tensor.cat(list [, dim])                             -- join along a dimension (issue 16)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/gemm.h"
#include "lcoco.h"

static lcoco_tensor *check_ud(lua_State *L, int idx) { return luaL_checkudata(L, idx, LCOCO_TENSOR); }

coco_tensor *lcoco_check_tensor(lua_State *L, int idx) {
    lcoco_tensor *u = check_ud(L, idx);
    if (!u->t) luaL_argerror(L, idx, "tensor was closed");
    if (u->alive && !*u->alive) luaL_argerror(L, idx, "tensor belongs to a step output that was closed");
    return u->t;
}

coco_tensor *lcoco_opt_tensor(lua_State *L, int idx) {
    if (!luaL_testudata(L, idx, LCOCO_TENSOR)) return NULL;
    return lcoco_check_tensor(L, idx);
}

/* ---------------------------------------------------------------- collector accounting
 *
 * To Lua a tensor handle is a userdata of a few dozen bytes while its data, often
 * megabytes, lives in C; the collector paces itself on the small Lua heap alone.
 * A loop of `c = a:matmul(b)` then piles up dead results until a cycle happens to
 * run: RSS grows by one result per iteration and every result faults in fresh
 * pages instead of reusing the last one's (issue 11: 2048x768 @ 768x3072 ran at
 * 75-80 GF/s instead of ~175).
 *
 * Policy. Each lua_State keeps one account (a userdata in the registry): `live`,
 * the bytes owned by its open tensor handles, and `since`, the bytes handed to
 * Lua since the last collection run here. lcoco_push_tensor, through which every
 * new Lua-owned tensor goes, charges a handle its tensor's bytes when the handle
 * is the tensor's only owner (refcount 1: a fresh result, a copy, a tensor read
 * from a file); closing or collecting the handle credits them back. Handles on
 * tensors the core also holds (m:params()) and borrowed step outputs free nothing
 * when collected, so they are not charged. When `since` exceeds what survived the
 * last collection (live tensor bytes + the Lua heap), floored at
 * LCOCO_GC_MIN_BYTES, a full collection runs: the collector's own "collect when
 * memory may have doubled" rule (pause 200), applied to the memory Lua really
 * holds. Garbage tensors then stay below the live size (or the floor), and the
 * cost of a collection, which grows with the Lua heap and not with tensor bytes,
 * is paid at most once per that many tensor bytes. (Feeding the bytes to
 * LUA_GCSTEP as debt instead would pace cycles on the Lua heap alone, blind to
 * live tensors: a small-heap script would run a whole cycle for nearly every
 * result.) The floor keeps small results (KBs) from triggering a collection each
 * time the heap is small. A stopped collector (collectgarbage "stop") is obeyed;
 * `since` keeps counting and the first push after a restart collects. */
#define LCOCO_GC_MIN_BYTES ((size_t)16 << 20)

typedef struct lcoco_gcacct {
    size_t live;      /* bytes charged to handles not yet closed or collected */
    size_t since;     /* bytes charged since the last collection run here */
    size_t threshold; /* collect when `since` exceeds this */
} lcoco_gcacct;

static const char gcacct_key = 0; /* its address keys the account in the registry */

/* The account of L's state (shared by its coroutines), created on first use. It
 * is never collected before the tensors charged to it: the registry holds it, and
 * lua_close runs every finalizer before it frees any object. */
static lcoco_gcacct *gc_account(lua_State *L) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &gcacct_key);
    lcoco_gcacct *a = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!a) {
        a = lua_newuserdatauv(L, sizeof *a, 0);
        a->live = a->since = 0;
        a->threshold = LCOCO_GC_MIN_BYTES;
        lua_rawsetp(L, LUA_REGISTRYINDEX, &gcacct_key);
    }
    return a;
}

/* Bytes that collecting the only Lua handle on t would free now. */
static size_t owned_bytes(const coco_tensor *t) {
    if (t->refcount != 1) return 0; /* shared with the core or another handle */
    if (t->kind == COCO_HEAP) return (size_t)t->numel * 4;
    if (t->kind == COCO_VIEW && t->owner->refcount == 1) return (size_t)t->owner->numel * 4;
    return 0;
}

/* Charges the handle at the top of the stack; may run a full collection (the
 * handle itself is reachable from the stack). */
static void gc_charge(lua_State *L, lcoco_tensor *u) {
    size_t n = owned_bytes(u->t);
    if (!n) return;
    lcoco_gcacct *a = gc_account(L);
    u->charged = n;
    u->acct = a;
    a->live += n;
    a->since += n;
    if (a->since <= a->threshold || !lua_gc(L, LUA_GCISRUNNING)) return;
    if (lua_gc(L, LUA_GCCOLLECT) < 0) return; /* refused (inside a finalizer): try at the next push */
    size_t heap = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
    a->since = 0;
    a->threshold = a->live + heap > LCOCO_GC_MIN_BYTES ? a->live + heap : LCOCO_GC_MIN_BYTES;
}

static void gc_credit(lcoco_tensor *u) {
    if (!u->charged) return;
    u->acct->live -= u->charged;
    u->charged = 0;
}

void lcoco_push_tensor(lua_State *L, coco_tensor *t) {
    lcoco_tensor *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->t = t;
    u->alive = NULL;
    u->charged = 0;
    u->acct = NULL;
    luaL_setmetatable(L, LCOCO_TENSOR);
    gc_charge(L, u);
}

void lcoco_push_borrowed(lua_State *L, coco_tensor *t, int owner_idx, const int *alive) {
    owner_idx = lua_absindex(L, owner_idx);
    lcoco_tensor *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->t = t;
    u->alive = alive;
    u->charged = 0; /* the owner's arena holds the data */
    u->acct = NULL;
    luaL_setmetatable(L, LCOCO_TENSOR);
    lua_pushvalue(L, owner_idx); /* keep the owner (and its arena) alive */
    lua_setiuservalue(L, -2, 1);
}

static int t_gc(lua_State *L) {
    lcoco_tensor *u = check_ud(L, 1);
    if (u->t && !u->alive) {
        gc_credit(u);
        coco_tensor_release(u->t);
    }
    u->t = NULL;
    return 0;
}

/* coconut.tensor.live_bytes() -> bytes owned by open Lua tensor handles (the
 * account above; tensors shared with the core or borrowed from a step are not in it) */
static int l_live_bytes(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)gc_account(L)->live);
    return 1;
}

/* coconut.tensor.cat(list [, dim = 1]) -> a new tensor: the tensors of `list`
 * (same dtype and rank, equal sizes except along dim, 1-based) joined along
 * dim, in order (issue 16: per-example thoughts [k_i, d] -> features [sum k_i, d];
 * a [N, d] and an [N, 1] column -> [N, d + 1]). Tensors with size 0 along dim
 * add nothing. Misuse raises naming the list position. */
static int l_cat(lua_State *L) {
    LCOCO_ENTER(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)luaL_len(L, 1);
    if (n < 1) return luaL_argerror(L, 1, "an empty list: nothing to concatenate");
    lua_geti(L, 1, 1);
    coco_tensor *a = lcoco_opt_tensor(L, -1);
    lua_pop(L, 1);
    if (!a) return lcoco_errorf(L, "tensor.cat: element 1 is not a tensor");
    int nd = a->ndim;
    if (nd < 1) return lcoco_errorf(L, "tensor.cat: element 1 is a scalar; cat joins tensors of rank >= 1");
    lua_Integer dim = luaL_optinteger(L, 2, 1);
    if (dim < 1 || dim > nd) return lcoco_errorf(L, "tensor.cat: dim = %lld is outside 1..%d (the tensors' rank)", (long long)dim, nd);
    int ax = (int)dim - 1;
    int64_t shape[COCO_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[ax] = 0;
    for (int i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        coco_tensor *t = lcoco_opt_tensor(L, -1);
        lua_pop(L, 1);
        if (!t) return lcoco_errorf(L, "tensor.cat: element %d is not a tensor", i);
        if (t->dtype != a->dtype || t->ndim != nd) return lcoco_errorf(L, "tensor.cat: element %d differs from element 1 in dtype or rank", i);
        for (int k = 0; k < nd; k++)
            if (k != ax && t->shape[k] != a->shape[k])
                return lcoco_errorf(L, "tensor.cat: element %d has size %lld in dimension %d, element 1 has %lld", i,
                                    (long long)t->shape[k], k + 1, (long long)a->shape[k]);
        shape[ax] += t->shape[ax];
    }
    coco_tensor *r = coco_tensor_new(a->dtype, nd, shape);
    /* outer = product of the dims before ax; each tensor contributes, per outer
     * index, one contiguous block of shape[ax] * inner elements */
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < ax; k++) outer *= shape[k];
    for (int k = ax + 1; k < nd; k++) inner *= shape[k];
    size_t es = 4; /* f32 and i32 */
    int64_t off = 0; /* offset along ax */
    for (int i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        coco_tensor *t = lcoco_check_tensor(L, -1);
        lua_pop(L, 1);
        int64_t blk = t->shape[ax] * inner;
        for (int64_t o = 0; o < outer && blk > 0; o++)
            memcpy((char *)r->data + ((size_t)(o * shape[ax] + off) * inner) * es, (const char *)t->data + (size_t)(o * blk) * es,
                   (size_t)blk * es);
        off += t->shape[ax];
    }
    lcoco_push_tensor(L, r);
    return 1;
}

static int t_tostring(lua_State *L) {
    lcoco_tensor *u = check_ud(L, 1);
    if (!u->t || (u->alive && !*u->alive)) {
        lua_pushstring(L, "coconut.Tensor (closed)");
        return 1;
    }
    char b[96];
    coco_shape_str(u->t, b, sizeof b);
    lua_pushfstring(L, "coconut.Tensor %s", b);
    return 1;
}

/* ---------------------------------------------------------------- construction */

static int check_shape(lua_State *L, int idx, int64_t *shape) {
    luaL_checktype(L, idx, LUA_TTABLE);
    int n = (int)luaL_len(L, idx);
    luaL_argcheck(L, n >= 0 && n <= COCO_MAX_DIMS, idx, "shape must have 0..4 dimensions");
    for (int i = 0; i < n; i++) {
        lua_geti(L, idx, i + 1);
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < 0) return luaL_argerror(L, idx, "shape entries must be non-negative integers");
        shape[i] = v;
        lua_pop(L, 1);
    }
    return n;
}

static coco_dtype check_dtype(lua_State *L, int idx) {
    static const char *const names[] = {"f32", "i32", NULL};
    return luaL_checkoption(L, idx, "f32", names) == 0 ? COCO_F32 : COCO_I32;
}

static int l_zeros(lua_State *L) {
    LCOCO_ENTER(L);
    int64_t shape[COCO_MAX_DIMS];
    int n = check_shape(L, 1, shape);
    lcoco_push_tensor(L, coco_tensor_new(check_dtype(L, 2), n, shape));
    return 1;
}

static int l_randn(lua_State *L) {
    LCOCO_ENTER(L);
    int64_t shape[COCO_MAX_DIMS];
    int n = check_shape(L, 1, shape);
    lua_Integer seed = luaL_checkinteger(L, 2);
    double std = luaL_optnumber(L, 3, 1.0);
    lcoco_push_tensor(L, coco_tensor_randn(n, shape, (uint64_t)seed, (float)std));
    return 1;
}

/* Walks a nested table to find its shape (rectangular), then fills. */
static void nested_shape(lua_State *L, int idx, int depth, int64_t *shape, int *ndim, const char *what) {
    if (lua_type(L, idx) != LUA_TTABLE) {
        *ndim = depth;
        return;
    }
    if (depth >= COCO_MAX_DIMS) {
        lcoco_errorf(L, "%s: nested deeper than %d levels", what, COCO_MAX_DIMS);
        return;
    }
    lua_Integer n = luaL_len(L, idx);
    shape[depth] = n;
    if (n == 0) {
        *ndim = depth + 1;
        return;
    }
    lua_geti(L, idx, 1);
    nested_shape(L, lua_gettop(L), depth + 1, shape, ndim, what);
    lua_pop(L, 1);
}

static void nested_fill(lua_State *L, int idx, int depth, int ndim, const int64_t *shape, coco_tensor *t, int64_t *pos,
                        const char *what) {
    if (depth == ndim) {
        int isnum;
        lua_Number v = lua_tonumberx(L, idx, &isnum);
        if (!isnum) lcoco_errorf(L, "%s: element %lld is a %s, not a number", what, (long long)(*pos + 1), luaL_typename(L, idx));
        if (t->dtype == COCO_F32) {
            coco_f32(t)[(*pos)++] = (float)v;
        } else {
            if (v != floor(v) || v < INT32_MIN || v > INT32_MAX)
                lcoco_errorf(L, "%s: element %lld = %g is not a 32-bit integer", what, (long long)(*pos + 1), v);
            coco_i32(t)[(*pos)++] = (int32_t)v;
        }
        return;
    }
    if (lua_type(L, idx) != LUA_TTABLE) lcoco_errorf(L, "%s: ragged nesting (a number where a list of %lld was expected)", what, (long long)shape[depth]);
    lua_Integer n = luaL_len(L, idx);
    if (n != shape[depth])
        lcoco_errorf(L, "%s: row lengths disagree (%lld vs %lld at depth %d)", what, (long long)n, (long long)shape[depth], depth + 1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, idx, i);
        nested_fill(L, lua_gettop(L), depth + 1, ndim, shape, t, pos, what);
        lua_pop(L, 1);
    }
}

static void release_guarded(void *p) { coco_tensor_release(*(coco_tensor **)p); }
static void free_guarded(void *p) { free(*(void **)p); }

coco_tensor *lcoco_to_tensor(lua_State *L, int idx, coco_dtype dt, const char *what) {
    idx = lua_absindex(L, idx);
    coco_tensor *t = lcoco_opt_tensor(L, idx);
    if (t) {
        if (t->dtype != dt) lcoco_errorf(L, "%s: expected an %s tensor", what, dt == COCO_F32 ? "f32" : "i32");
        return t->kind == COCO_ARENA ? coco_tensor_clone(t) : coco_tensor_retain(t);
    }
    if (lua_type(L, idx) != LUA_TTABLE) lcoco_errorf(L, "%s: expected a tensor or a (nested) table of numbers, got %s", what, luaL_typename(L, idx));
    int64_t shape[COCO_MAX_DIMS] = {0};
    int ndim = 0;
    nested_shape(L, idx, 0, shape, &ndim, what);
    coco_tensor *r = coco_tensor_new(dt, ndim, shape);
    /* nested_fill raises on a bad element: the guard releases r then */
    coco_tensor **g = lcoco_guard_new(L, sizeof *g, release_guarded);
    *g = r;
    int64_t pos = 0;
    nested_fill(L, idx, 0, ndim, shape, r, &pos, what);
    lcoco_guard_disarm(g);
    lua_pop(L, 1);
    return r;
}

int32_t *lcoco_to_ints(lua_State *L, int idx, int *n, const char *what) {
    idx = lua_absindex(L, idx);
    coco_tensor *t = lcoco_opt_tensor(L, idx);
    if (t) {
        if (t->dtype != COCO_I32) lcoco_errorf(L, "%s: expected an i32 tensor", what);
        int32_t *v = malloc(sizeof(int32_t) * (size_t)(t->numel ? t->numel : 1));
        memcpy(v, t->data, (size_t)t->numel * 4);
        *n = (int)t->numel;
        return v;
    }
    if (lua_type(L, idx) != LUA_TTABLE) lcoco_errorf(L, "%s: expected a list of token ids, got %s", what, luaL_typename(L, idx));
    lua_Integer len = luaL_len(L, idx);
    int32_t *v = malloc(sizeof(int32_t) * (size_t)(len ? len : 1));
    int32_t **g = lcoco_guard_new(L, sizeof *g, free_guarded); /* frees v if an element raises */
    *g = v;
    for (lua_Integer i = 1; i <= len; i++) {
        lua_geti(L, idx, i);
        int ok;
        lua_Integer x = lua_tointegerx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok || x < INT32_MIN || x > INT32_MAX) lcoco_errorf(L, "%s: element %d is not an integer token id", what, (int)i);
        v[i - 1] = (int32_t)x;
    }
    lcoco_guard_disarm(g);
    lua_pop(L, 1);
    *n = (int)len;
    return v;
}

void lcoco_push_ints(lua_State *L, const int32_t *v, int n) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushinteger(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int l_from(lua_State *L) {
    LCOCO_ENTER(L);
    coco_dtype dt = check_dtype(L, 2);
    lcoco_push_tensor(L, lcoco_to_tensor(L, 1, dt, "tensor.from"));
    return 1;
}

/* ---------------------------------------------------------------- methods */

static int t_shape(lua_State *L) {
    coco_tensor *t = lcoco_check_tensor(L, 1);
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) {
        lua_pushinteger(L, t->shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int t_numel(lua_State *L) {
    lua_pushinteger(L, lcoco_check_tensor(L, 1)->numel);
    return 1;
}

static int t_dtype(lua_State *L) {
    lua_pushstring(L, lcoco_check_tensor(L, 1)->dtype == COCO_F32 ? "f32" : "i32");
    return 1;
}

static void push_elem(lua_State *L, const coco_tensor *t, int64_t i) {
    if (t->dtype == COCO_F32)
        lua_pushnumber(L, coco_f32(t)[i]);
    else
        lua_pushinteger(L, coco_i32(t)[i]);
}

static void totable_rec(lua_State *L, const coco_tensor *t, int d, int64_t *off) {
    if (d >= t->ndim || d >= COCO_MAX_DIMS) {
        push_elem(L, t, (*off)++);
        return;
    }
    lua_createtable(L, (int)t->shape[d], 0);
    for (int64_t i = 0; i < t->shape[d]; i++) {
        totable_rec(L, t, d + 1, off);
        lua_rawseti(L, -2, i + 1);
    }
}

static int t_totable(lua_State *L) {
    coco_tensor *t = lcoco_check_tensor(L, 1);
    if (t->numel > 50000000) return lcoco_errorf(L, "totable: tensor has %lld elements; too large for a Lua table", (long long)t->numel);
    int64_t off = 0;
    totable_rec(L, t, 0, &off);
    return 1;
}

static int t_item(lua_State *L) {
    coco_tensor *t = lcoco_check_tensor(L, 1);
    if (t->numel != 1) {
        char b[96];
        return lcoco_errorf(L, "item: tensor %s has %lld elements, not 1", coco_shape_str(t, b, sizeof b), (long long)t->numel);
    }
    push_elem(L, t, 0);
    return 1;
}

static int64_t flat_index(lua_State *L, const coco_tensor *t, int first) {
    int n = lua_gettop(L) - first + 1;
    if (n != t->ndim) return lcoco_errorf(L, "index: tensor has %d dimensions, got %d indices", t->ndim, n);
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) {
        lua_Integer i = luaL_checkinteger(L, first + d);
        if (i < 1 || i > t->shape[d]) return lcoco_errorf(L, "index %lld is outside 1..%lld at dimension %d", (long long)i, (long long)t->shape[d], d + 1);
        off = off * t->shape[d] + (i - 1);
    }
    return off;
}

static int t_get(lua_State *L) {
    coco_tensor *t = lcoco_check_tensor(L, 1);
    push_elem(L, t, flat_index(L, t, 2));
    return 1;
}

static int t_set(lua_State *L) {
    coco_tensor *t = lcoco_check_tensor(L, 1);
    lua_Number v = luaL_checknumber(L, 2);
    int64_t i = flat_index(L, t, 3);
    if (t->dtype == COCO_F32)
        coco_f32(t)[i] = (float)v;
    else
        coco_i32(t)[i] = (int32_t)v;
    return 0;
}

static int t_clone(lua_State *L) {
    LCOCO_ENTER(L);
    lcoco_push_tensor(L, coco_tensor_clone(lcoco_check_tensor(L, 1)));
    return 1;
}

/* t:row(i) -> copy of row i of the leading dimension */
static int t_row(lua_State *L) {
    LCOCO_ENTER(L);
    coco_tensor *t = lcoco_check_tensor(L, 1);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (t->ndim < 1 || i < 1 || i > t->shape[0]) return luaL_argerror(L, 2, "row index out of range");
    int64_t inner = t->numel / t->shape[0];
    coco_tensor *r = coco_tensor_new(t->dtype, t->ndim - 1, t->shape + 1);
    memcpy(r->data, (char *)t->data + (size_t)((i - 1) * inner) * 4, (size_t)inner * 4);
    lcoco_push_tensor(L, r);
    return 1;
}

static coco_tensor *check_f32(lua_State *L, int i) {
    coco_tensor *t = lcoco_check_tensor(L, i);
    if (t->dtype != COCO_F32) luaL_argerror(L, i, "expected an f32 tensor");
    return t;
}

static int t_sum(lua_State *L) {
    coco_tensor *t = lcoco_check_tensor(L, 1);
    double s = 0;
    for (int64_t i = 0; i < t->numel; i++) s += t->dtype == COCO_F32 ? coco_f32(t)[i] : coco_i32(t)[i];
    lua_pushnumber(L, s);
    return 1;
}

static int t_mean(lua_State *L) {
    coco_tensor *t = lcoco_check_tensor(L, 1);
    if (!t->numel) return lcoco_errorf(L, "mean of an empty tensor");
    t_sum(L);
    lua_pushnumber(L, lua_tonumber(L, -1) / (double)t->numel);
    return 1;
}

static int t_norm(lua_State *L) {
    coco_tensor *t = check_f32(L, 1);
    double s = 0;
    for (int64_t i = 0; i < t->numel; i++) s += (double)coco_f32(t)[i] * coco_f32(t)[i];
    lua_pushnumber(L, sqrt(s));
    return 1;
}

static int t_dot(lua_State *L) {
    coco_tensor *a = check_f32(L, 1), *b = check_f32(L, 2);
    if (a->numel != b->numel) return lcoco_errorf(L, "dot: %lld vs %lld elements", (long long)a->numel, (long long)b->numel);
    double s = 0;
    for (int64_t i = 0; i < a->numel; i++) s += (double)coco_f32(a)[i] * coco_f32(b)[i];
    lua_pushnumber(L, s);
    return 1;
}

static int t_cosine(lua_State *L) {
    coco_tensor *a = check_f32(L, 1), *b = check_f32(L, 2);
    if (a->numel != b->numel) return lcoco_errorf(L, "cosine: %lld vs %lld elements", (long long)a->numel, (long long)b->numel);
    double s = 0, na = 0, nb = 0;
    for (int64_t i = 0; i < a->numel; i++) {
        double x = coco_f32(a)[i], y = coco_f32(b)[i];
        s += x * y, na += x * x, nb += y * y;
    }
    lua_pushnumber(L, (na > 0 && nb > 0) ? s / sqrt(na * nb) : 0.0);
    return 1;
}

/* argmax over all elements (1-based flat index) and the max value */
static int t_argmax(lua_State *L) {
    coco_tensor *t = check_f32(L, 1);
    if (!t->numel) return lcoco_errorf(L, "argmax of an empty tensor");
    int64_t best = 0;
    for (int64_t i = 1; i < t->numel; i++)
        if (coco_f32(t)[i] > coco_f32(t)[best]) best = i;
    lua_pushinteger(L, best + 1);
    lua_pushnumber(L, coco_f32(t)[best]);
    return 2;
}

/* t:matmul(u [, transpose]): [.., K] x [K, N] -> [.., N] (2-D u), through the
 * BLIS wrapper. With transpose = true, u is [N, K] and the product is t x u^T:
 * e.g. thoughts [n, d] x the token embedding wte [V, d] = the LM head's logits. */
static int t_matmul(lua_State *L) {
    LCOCO_ENTER(L);
    coco_tensor *a = check_f32(L, 1), *b = check_f32(L, 2);
    int tb = lua_toboolean(L, 3);
    char s1[96], s2[96];
    int64_t K = b->ndim == 2 ? b->shape[tb ? 1 : 0] : -1, N = b->ndim == 2 ? b->shape[tb ? 0 : 1] : -1;
    if (a->ndim < 1 || b->ndim != 2 || coco_tensor_cols(a) != K)
        return lcoco_errorf(L, "matmul: cannot multiply %s by %s%s", coco_shape_str(a, s1, sizeof s1),
                            coco_shape_str(b, s2, sizeof s2), tb ? " transposed" : "");
    int64_t shape[COCO_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    int nd = a->ndim;
    shape[nd - 1] = N;
    coco_tensor *c = coco_tensor_new(COCO_F32, nd, shape);
    int64_t M = coco_tensor_rows(a);
    if (nd == 1) M = 1;
    coco_sgemm(0, tb, M, N, K, 1.0f, coco_f32(a), K, coco_f32(b), tb ? K : N, 0.0f, coco_f32(c), N);
    lcoco_push_tensor(L, c);
    return 1;
}

/* t:log_softmax() -> a new f32 tensor of t's shape: log softmax along the last
 * dimension (max-shifted, accumulated in double), for token log-probabilities. */
static int t_log_softmax(lua_State *L) {
    LCOCO_ENTER(L);
    coco_tensor *t = check_f32(L, 1);
    if (t->ndim < 1 || t->numel == 0) return lcoco_errorf(L, "log_softmax of an empty tensor");
    int64_t V = t->shape[t->ndim - 1], R = t->numel / V;
    coco_tensor *r = coco_tensor_new(COCO_F32, t->ndim, t->shape);
    const float *x = coco_f32(t);
    float *y = coco_f32(r);
    for (int64_t i = 0; i < R; i++) {
        const float *xi = x + i * V;
        float mx = xi[0];
        for (int64_t j = 1; j < V; j++)
            if (xi[j] > mx) mx = xi[j];
        double s = 0;
        for (int64_t j = 0; j < V; j++) s += exp((double)xi[j] - mx);
        double lse = mx + log(s);
        for (int64_t j = 0; j < V; j++) y[i * V + j] = (float)((double)xi[j] - lse);
    }
    lcoco_push_tensor(L, r);
    return 1;
}

/* t:topk(k) -> indices, values: the k largest entries along the last dimension,
 * largest first, ties to the lower index (as argmax); indices 1-based. A 1-D t
 * gives two lists of min(k, n); a t with more dimensions gives one such pair of
 * lists per row of the last dimension (leading dimensions flattened). */
static int t_topk(lua_State *L) {
    coco_tensor *t = check_f32(L, 1);
    lua_Integer k = luaL_checkinteger(L, 2);
    if (k < 1) return luaL_argerror(L, 2, "k must be >= 1");
    if (t->ndim < 1 || t->numel == 0) return lcoco_errorf(L, "topk of an empty tensor");
    int64_t V = t->shape[t->ndim - 1], R = t->numel / V;
    int64_t kk = k < V ? k : V;
    int64_t *best = malloc(sizeof(int64_t) * (size_t)kk);
    if (!best) return lcoco_errorf(L, "topk: out of memory");
    lua_createtable(L, t->ndim == 1 ? (int)kk : (int)R, 0);
    lua_createtable(L, t->ndim == 1 ? (int)kk : (int)R, 0);
    int ii = lua_gettop(L) - 1, vi = lua_gettop(L);
    for (int64_t i = 0; i < R; i++) {
        const float *x = coco_f32(t) + i * V;
        int64_t n = 0; /* insertion into a sorted list of at most kk: O(V kk), kk small */
        for (int64_t j = 0; j < V; j++) {
            if (n == kk && !(x[j] > x[best[n - 1]])) continue;
            int64_t p = n < kk ? n++ : kk - 1;
            while (p > 0 && x[j] > x[best[p - 1]]) best[p] = best[p - 1], p--;
            best[p] = j;
        }
        if (t->ndim > 1) {
            lua_createtable(L, (int)kk, 0);
            lua_createtable(L, (int)kk, 0);
        }
        for (int64_t q = 0; q < kk; q++) {
            lua_pushinteger(L, best[q] + 1);
            lua_rawseti(L, t->ndim > 1 ? -3 : ii, q + 1);
            lua_pushnumber(L, x[best[q]]);
            lua_rawseti(L, t->ndim > 1 ? -2 : vi, q + 1);
        }
        if (t->ndim > 1) {
            lua_rawseti(L, vi, i + 1);
            lua_rawseti(L, ii, i + 1);
        }
    }
    free(best);
    return 2;
}

static int t_close(lua_State *L) { return t_gc(L); }

static int t_len(lua_State *L) {
    coco_tensor *t = lcoco_check_tensor(L, 1);
    lua_pushinteger(L, t->ndim ? t->shape[0] : 1);
    return 1;
}

void lcoco_open_tensor(lua_State *L) {
    static const luaL_Reg m[] = {{"shape", t_shape},   {"numel", t_numel}, {"dtype", t_dtype}, {"totable", t_totable},
                                 {"item", t_item},     {"get", t_get},     {"set", t_set},     {"clone", t_clone},
                                 {"row", t_row},       {"sum", t_sum},     {"mean", t_mean},   {"norm", t_norm},
                                 {"dot", t_dot},       {"cosine", t_cosine}, {"argmax", t_argmax}, {"matmul", t_matmul},
                                 {"log_softmax", t_log_softmax}, {"topk", t_topk},
                                 {"close", t_close},   {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", t_gc}, {"__close", t_close}, {"__tostring", t_tostring}, {"__len", t_len}, {NULL, NULL}};
    lcoco_newclass(L, LCOCO_TENSOR, m, meta);
    static const luaL_Reg f[] = {{"zeros", l_zeros}, {"randn", l_randn}, {"from", l_from}, {"live_bytes", l_live_bytes}, {"cat", l_cat}, {NULL, NULL}};
    luaL_newlib(L, f);
    lua_setfield(L, -2, "tensor");
}

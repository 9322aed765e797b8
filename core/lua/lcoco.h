/* lcoco.h — shared helpers of the `coconut` Lua module (internal to core/lua).
 *
 * Conventions (lauxlib style)
 *   - Core types are full userdata with metatables named "coconut.<Type>", each
 *     with __gc, __close and __tostring; methods live in the metatable's __index.
 *   - Misuse raises a Lua error naming the argument (luaL_argerror / luaL_error).
 *     Expected failures (missing file, corrupt checkpoint) return nil, message.
 *   - libcoconut reports misuse through coco_fail; while a binding runs, the
 *     handler raises it as a Lua error on the running state (LCOCO_ENTER).
 *   - Big data stays in C tensors; Lua sees handles, shapes and scalars.
 */
#ifndef COCONUT_LCOCO_H
#define COCONUT_LCOCO_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "coconut/tensor.h"

/* The state whose binding is running: coco_fail raises the error there. */
extern lua_State *lcoco_current;
#define LCOCO_ENTER(L) (lcoco_current = (L))

void lcoco_install_error_handler(lua_State *L);

/* ---- tensors ---- */
struct lcoco_gcacct;
typedef struct lcoco_tensor {
    coco_tensor *t;      /* NULL once closed */
    const int *alive;    /* for tensors living in a step's arena: *alive == 0 once the step is released */
    size_t charged;      /* bytes reported to the collector for this handle (0: none; see ltensor.c) */
    struct lcoco_gcacct *acct; /* the state's tensor-memory account, when charged */
} lcoco_tensor;

#define LCOCO_TENSOR "coconut.Tensor"
/* Push a heap tensor (takes one reference; pass a retained tensor). When the
 * handle is the tensor's only owner, its bytes are reported to the garbage
 * collector (may run a full collection: call it where an allocation could). */
void lcoco_push_tensor(lua_State *L, coco_tensor *t);
/* Push an arena tensor owned by the userdata at stack index owner_idx. */
void lcoco_push_borrowed(lua_State *L, coco_tensor *t, int owner_idx, const int *alive);
coco_tensor *lcoco_check_tensor(lua_State *L, int idx);
coco_tensor *lcoco_opt_tensor(lua_State *L, int idx); /* NULL if not a tensor */
/* Tensor from a tensor or a nested table of numbers (dtype for tables). The
 * result is a new heap reference the caller must release. `what` names the
 * argument in errors ("batch.input_ids"). */
coco_tensor *lcoco_to_tensor(lua_State *L, int idx, coco_dtype dt, const char *what);
/* Flat list of integers (table or i32 tensor) -> malloc'ed array; *n set. */
int32_t *lcoco_to_ints(lua_State *L, int idx, int *n, const char *what);
void lcoco_push_ints(lua_State *L, const int32_t *v, int n);

/* ---- models and optimizers (lmodel.c), for other bindings (lmpi.c) ----
 * The object at idx if it is an open coconut.Model / coconut.Optimizer (an
 * optimizer whose model is closed or was resized raises), else NULL. */
struct coco_gpt2;
struct coco_adamw;
struct coco_gpt2 *lcoco_to_model(lua_State *L, int idx);
struct coco_adamw *lcoco_to_optim(lua_State *L, int idx);

/* ---- <eot> policies ---- */
struct coco_eot_policy;
/* If the value at idx is an eot plugin instance, fill *pol and the largest
 * thought count it may ask for; returns 1, else 0. */
int lcoco_eot_policy(lua_State *L, int idx, struct coco_eot_policy *pol, int *max_thoughts);

/* ---- user errors (lerrors.c) ----
 * A user error (bad option, file, plugin name) is reported by the `coconut`
 * command as one line and exit status 2, without a traceback. */
void lcoco_push_user_error(lua_State *L, const char *msg);
int lcoco_user_errorf(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lcoco_is_user_error(lua_State *L, int idx);
const char *lcoco_user_error_message(lua_State *L, int idx); /* NULL unless a user error */

/* Guards (lerrors.c): a binding that allocates C memory and may then raise
 * keeps it in the payload of a guard, a userdata pushed on the stack whose
 * __gc calls fn(payload) unless lcoco_guard_disarm(payload) ran first. The
 * payload (size bytes) starts zeroed. Pop the guard when the stack must be
 * balanced. */
void *lcoco_guard_new(lua_State *L, size_t size, void (*fn)(void *payload));
void lcoco_guard_disarm(void *payload);

/* ---- registration ---- */
void lcoco_newclass(lua_State *L, const char *name, const luaL_Reg *methods, const luaL_Reg *meta);
int lcoco_fail_result(lua_State *L, const char *msg); /* pushes nil, msg; returns 2 */
/* luaL_error with full printf formats; never returns. */
int lcoco_errorf(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option tables: typed field reads with errors naming "<what>.<field>". */
int lcoco_opt_int(lua_State *L, int t, const char *field, int def, const char *what);
double lcoco_opt_num(lua_State *L, int t, const char *field, double def, const char *what);
int lcoco_opt_bool(lua_State *L, int t, const char *field, int def, const char *what);
const char *lcoco_opt_str(lua_State *L, int t, const char *field, const char *def, const char *what);
/* Errors on keys of table t that are not in `allowed` (NULL-terminated). */
void lcoco_check_keys(lua_State *L, int t, const char *const *allowed, const char *what);

/* ---- submodules: each pushes its table or registers its classes ---- */
void lcoco_open_tensor(lua_State *L);    /* coconut.tensor */
void lcoco_open_model(lua_State *L);     /* coconut.gpt2, coconut.collate, coconut.optim */
void lcoco_open_tokenizer(lua_State *L); /* coconut.tokenizer */
void lcoco_open_files(lua_State *L);     /* coconut.safetensors, csv, plot, json, fs */
void lcoco_open_plugin(lua_State *L);    /* coconut.plugin */
void lcoco_open_classifier(lua_State *L); /* coconut.classifier (issue 16) */
void lcoco_open_util(lua_State *L);      /* coconut.rng, info, set_threads, time ... */
void lcoco_open_errors(lua_State *L);    /* coconut.user_error, is_user_error, check, suggest */
void lcoco_open_mpi(lua_State *L);       /* coconut.mpi (issue 18) */

int luaopen_coconut(lua_State *L);

#endif

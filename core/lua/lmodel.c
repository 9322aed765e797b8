/* lmodel.c — coconut.gpt2 (Model), step outputs, coconut.collate, generation,
 * coconut.optim.adamw.
 *
 * A forward step records on a tape taken from the model's pool; the returned
 * output object owns that tape (its logits/hidden/embeds live there) until it
 * is closed or collected, then the tape goes back to the pool. Training loops
 * should close outputs (`local out <close> = m:forward(b)`) so memory is reused
 * at once; if many outputs are left open the model runs a full GC first.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/gpt2.h"
#include "coconut/latent.h"
#include "coconut/optim.h"
#include "coconut/rng.h"
#include "lcoco.h"

#define LCOCO_MODEL "coconut.Model"
#define LCOCO_STEP "coconut.StepOutput"
#define LCOCO_OPTIM "coconut.Optimizer"

typedef struct lmodel {
    coco_gpt2 *m;
    coco_tape **pool;
    int npool, cappool, outstanding;
    int64_t generation; /* bumped when parameters are replaced (add_tokens) */
    uint64_t seed, steps;
} lmodel;

typedef struct lstep {
    coco_tape *tp;
    lmodel *owner;
    int alive;
    coco_step_result r;
} lstep;

typedef struct loptim {
    coco_adamw *o;
    lmodel *owner;
    int64_t generation;
} loptim;

static lmodel *check_model(lua_State *L, int i) {
    lmodel *u = luaL_checkudata(L, i, LCOCO_MODEL);
    if (!u->m) luaL_argerror(L, i, "model was closed");
    return u;
}

/* ---------------------------------------------------------------- config */

static void push_config(lua_State *L, const coco_gpt2_config *c) {
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, c->n_layer), lua_setfield(L, -2, "n_layer");
    lua_pushinteger(L, c->n_head), lua_setfield(L, -2, "n_head");
    lua_pushinteger(L, c->n_embd), lua_setfield(L, -2, "n_embd");
    lua_pushinteger(L, c->vocab_size), lua_setfield(L, -2, "vocab_size");
    lua_pushinteger(L, c->n_positions), lua_setfield(L, -2, "n_positions");
    lua_pushnumber(L, c->layer_norm_epsilon), lua_setfield(L, -2, "layer_norm_epsilon");
    lua_pushnumber(L, c->embd_pdrop), lua_setfield(L, -2, "embd_pdrop");
    lua_pushnumber(L, c->attn_pdrop), lua_setfield(L, -2, "attn_pdrop");
    lua_pushnumber(L, c->resid_pdrop), lua_setfield(L, -2, "resid_pdrop");
}

static lmodel *push_model(lua_State *L, coco_gpt2 *m, uint64_t seed) {
    lmodel *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    u->m = m;
    u->seed = seed;
    luaL_setmetatable(L, LCOCO_MODEL);
    return u;
}

static int l_gpt2_new(lua_State *L) {
    LCOCO_ENTER(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"preset", "n_layer", "n_head", "n_embd", "vocab_size", "n_positions", "dropout",
                                       "embd_pdrop", "attn_pdrop", "resid_pdrop", "layer_norm_epsilon", "seed", NULL};
    lcoco_check_keys(L, 1, keys, "gpt2.new");
    coco_gpt2_config c;
    const char *preset = lcoco_opt_str(L, 1, "preset", NULL, "gpt2.new");
    if (preset) {
        if (coco_gpt2_preset(preset, &c) != 0) return lcoco_errorf(L, "gpt2.new: %s", coco_errmsg());
    } else {
        memset(&c, 0, sizeof c);
        c.layer_norm_epsilon = 1e-5f;
        c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0.1f;
    }
    c.n_layer = lcoco_opt_int(L, 1, "n_layer", c.n_layer, "gpt2.new");
    c.n_head = lcoco_opt_int(L, 1, "n_head", c.n_head, "gpt2.new");
    c.n_embd = lcoco_opt_int(L, 1, "n_embd", c.n_embd, "gpt2.new");
    c.vocab_size = lcoco_opt_int(L, 1, "vocab_size", c.vocab_size, "gpt2.new");
    c.n_positions = lcoco_opt_int(L, 1, "n_positions", c.n_positions ? c.n_positions : 1024, "gpt2.new");
    float dp = (float)lcoco_opt_num(L, 1, "dropout", c.embd_pdrop, "gpt2.new");
    c.embd_pdrop = (float)lcoco_opt_num(L, 1, "embd_pdrop", dp, "gpt2.new");
    c.attn_pdrop = (float)lcoco_opt_num(L, 1, "attn_pdrop", dp, "gpt2.new");
    c.resid_pdrop = (float)lcoco_opt_num(L, 1, "resid_pdrop", dp, "gpt2.new");
    c.layer_norm_epsilon = (float)lcoco_opt_num(L, 1, "layer_norm_epsilon", c.layer_norm_epsilon, "gpt2.new");
    lua_Integer seed = lcoco_opt_int(L, 1, "seed", 0, "gpt2.new");
    if (coco_gpt2_config_check(&c) != 0) return lcoco_errorf(L, "gpt2.new: %s", coco_errmsg());
    push_model(L, coco_gpt2_new(&c, (uint64_t)seed), (uint64_t)seed);
    return 1;
}

static int l_gpt2_load(lua_State *L) {
    LCOCO_ENTER(L);
    const char *path = luaL_checkstring(L, 1);
    coco_gpt2 *m = coco_gpt2_load(path);
    if (!m) return lcoco_fail_result(L, coco_errmsg());
    push_model(L, m, 0);
    return 1;
}

static int l_gpt2_presets(lua_State *L) {
    const char *names[] = {"gpt2", "gpt2-medium", "tiny", "small", "mini"};
    lua_createtable(L, 0, 5);
    for (int i = 0; i < 5; i++) {
        coco_gpt2_config c;
        coco_gpt2_preset(names[i], &c);
        push_config(L, &c);
        lua_setfield(L, -2, names[i]);
    }
    return 1;
}

/* ---------------------------------------------------------------- model methods */

static int m_gc(lua_State *L) {
    lmodel *u = luaL_checkudata(L, 1, LCOCO_MODEL);
    for (int i = 0; i < u->npool; i++) coco_tape_free(u->pool[i]);
    free(u->pool);
    u->pool = NULL;
    u->npool = 0;
    if (u->m) coco_gpt2_free(u->m);
    u->m = NULL;
    return 0;
}

static int m_tostring(lua_State *L) {
    lmodel *u = luaL_checkudata(L, 1, LCOCO_MODEL);
    if (!u->m) {
        lua_pushstring(L, "coconut.Model (closed)");
        return 1;
    }
    const coco_gpt2_config *c = &u->m->cfg;
    lua_pushfstring(L, "coconut.Model GPT-2 %d layers, %d heads, d=%d, vocab %d, ctx %d, %d parameters", c->n_layer, c->n_head,
                    c->n_embd, c->vocab_size, c->n_positions, (int)coco_gpt2_num_params(u->m));
    return 1;
}

static int m_config(lua_State *L) {
    lmodel *u = check_model(L, 1);
    push_config(L, &u->m->cfg);
    return 1;
}

static int m_num_params(lua_State *L) {
    lua_pushinteger(L, coco_gpt2_num_params(check_model(L, 1)->m));
    return 1;
}

static int m_save(lua_State *L) {
    LCOCO_ENTER(L);
    lua_settop(L, 3);
    lmodel *u = check_model(L, 1);
    const char *path = luaL_checkstring(L, 2);
    int cfg = lcoco_opt_bool(L, 3, "config_json", 1, "save");
    if (coco_gpt2_save(u->m, path, cfg) != 0) return lcoco_fail_result(L, coco_errmsg());
    lua_pushboolean(L, 1);
    return 1;
}

static int push_named(lua_State *L, lmodel *u, int grads) {
    lua_createtable(L, 0, u->m->n_params);
    for (int i = 0; i < u->m->n_params; i++) {
        coco_tensor *t = grads ? u->m->params[i]->grad : u->m->params[i];
        lcoco_push_tensor(L, coco_tensor_retain(t));
        lua_setfield(L, -2, u->m->names[i]);
    }
    return 1;
}

static int m_params(lua_State *L) { return push_named(L, check_model(L, 1), 0); }
static int m_grads(lua_State *L) { return push_named(L, check_model(L, 1), 1); }

static int m_param_names(lua_State *L) {
    lmodel *u = check_model(L, 1);
    lua_createtable(L, u->m->n_params, 0);
    for (int i = 0; i < u->m->n_params; i++) {
        lua_pushstring(L, u->m->names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int m_zero_grad(lua_State *L) {
    coco_gpt2_zero_grad(check_model(L, 1)->m);
    return 0;
}

static int m_add_tokens(lua_State *L) {
    LCOCO_ENTER(L);
    lmodel *u = check_model(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2), from = luaL_checkinteger(L, 3);
    luaL_argcheck(L, n >= 0, 2, "n must be >= 0");
    luaL_argcheck(L, from >= 0 && from < u->m->cfg.vocab_size, 3, "init_from_id outside the vocabulary");
    int first = coco_gpt2_add_tokens(u->m, (int)n, (int)from);
    if (n > 0) u->generation++;
    lua_pushinteger(L, first);
    return 1;
}

static int m_train(lua_State *L) {
    lmodel *u = check_model(L, 1);
    u->m->training = lua_isnone(L, 2) ? 1 : lua_toboolean(L, 2);
    lua_settop(L, 1);
    return 1;
}

static int m_training(lua_State *L) {
    lua_pushboolean(L, check_model(L, 1)->m->training);
    return 1;
}

/* m:init_positions("sinusoid", std): position embeddings set to the sinusoids of
 * "Attention is all you need", scaled so each element has standard deviation std
 * (GPT-2 learns positions from N(0, 0.02); a from-scratch model reaches
 * relative-offset attention much sooner from sinusoids, which stay trainable). */
static int m_init_positions(lua_State *L) {
    LCOCO_ENTER(L);
    lmodel *u = check_model(L, 1);
    static const char *const kinds[] = {"sinusoid", NULL};
    luaL_checkoption(L, 2, NULL, kinds);
    double std = luaL_optnumber(L, 3, 0.02);
    coco_tensor *w = u->m->wpe;
    int64_t P = w->shape[0], d = w->shape[1];
    double amp = std * sqrt(2.0); /* sin and cos have standard deviation 1/sqrt(2) */
    for (int64_t p = 0; p < P; p++)
        for (int64_t i = 0; i < d; i += 2) {
            double f = (double)p / pow(10000.0, (double)i / (double)d);
            coco_f32(w)[p * d + i] = (float)(amp * sin(f));
            if (i + 1 < d) coco_f32(w)[p * d + i + 1] = (float)(amp * cos(f));
        }
    return 0;
}

/* m:seed(n [, forwards]): base seed of the dropout streams (each forward step
 * derives its own from the seed and the count of forwards so far). forwards
 * (default 0) restores the count a checkpoint recorded (m:forward_count()), so
 * a resumed run draws the dropout masks an uninterrupted one would. */
static int m_seed(lua_State *L) {
    lmodel *u = check_model(L, 1);
    u->seed = (uint64_t)luaL_checkinteger(L, 2);
    lua_Integer fw = luaL_optinteger(L, 3, 0);
    luaL_argcheck(L, fw >= 0, 3, "forward count must be >= 0");
    u->steps = (uint64_t)fw;
    return 0;
}

/* m:forward_count() -> forwards since the last m:seed (or creation).
 * m:forward_count(n) sets it, keeping the seed (data-parallel ranks draw the
 * dropout stream of a micro-batch's place in the step, coco.dist). */
static int m_forward_count(lua_State *L) {
    lmodel *u = check_model(L, 1);
    if (!lua_isnoneornil(L, 2)) {
        lua_Integer fw = luaL_checkinteger(L, 2);
        luaL_argcheck(L, fw >= 0, 2, "forward count must be >= 0");
        u->steps = (uint64_t)fw;
    }
    lua_pushinteger(L, (lua_Integer)u->steps);
    return 1;
}

/* ---------------------------------------------------------------- tapes */

static coco_tape *take_tape(lua_State *L, lmodel *u) {
    if (u->outstanding >= 8) lua_gc(L, LUA_GCCOLLECT); /* outputs left open: collect them first */
    u->outstanding++;
    if (u->npool) return u->pool[--u->npool];
    return coco_tape_new();
}

static void give_tape(lmodel *u, coco_tape *tp) {
    u->outstanding--;
    coco_tape_reset(tp);
    if (u->npool == u->cappool) {
        u->cappool = u->cappool ? 2 * u->cappool : 4;
        u->pool = realloc(u->pool, sizeof *u->pool * (size_t)u->cappool);
    }
    u->pool[u->npool++] = tp;
}

/* ---------------------------------------------------------------- forward */

static lstep *check_step(lua_State *L, int i) {
    lstep *s = luaL_checkudata(L, i, LCOCO_STEP);
    if (!s->alive) luaL_argerror(L, i, "step output was closed");
    return s;
}

static int step_close(lua_State *L) {
    lstep *s = luaL_checkudata(L, 1, LCOCO_STEP);
    if (s->alive && s->tp) {
        if (s->owner->m) give_tape(s->owner, s->tp);
        else coco_tape_free(s->tp);
    }
    s->tp = NULL;
    s->alive = 0;
    return 0;
}

static int step_backward(lua_State *L) {
    LCOCO_ENTER(L);
    lstep *s = check_step(L, 1);
    double scale = luaL_optnumber(L, 2, 1.0);
    if (!s->r.loss) return lcoco_errorf(L, "backward: this step has no loss (the batch had no labels)");
    if (!s->r.loss->requires_grad) return lcoco_errorf(L, "backward: the forward ran without gradients ({grad = false})");
    float l = coco_f32(s->r.loss)[0];
    if (!isfinite(l)) return lcoco_errorf(L, "backward: loss is %f (NaN/Inf); refusing to propagate it", (double)l);
    coco_backward_scaled(s->tp, s->r.loss, (float)scale);
    return 0;
}

static int step_tostring(lua_State *L) {
    lstep *s = luaL_checkudata(L, 1, LCOCO_STEP);
    if (!s->alive) lua_pushstring(L, "coconut.StepOutput (closed)");
    else if (s->r.loss) lua_pushfstring(L, "coconut.StepOutput loss=%f passes=%d", (double)coco_f32(s->r.loss)[0], (int)s->r.passes);
    else lua_pushfstring(L, "coconut.StepOutput passes=%d", (int)s->r.passes);
    return 1;
}

static int step_index(lua_State *L) {
    lstep *s = luaL_checkudata(L, 1, LCOCO_STEP);
    const char *k = luaL_checkstring(L, 2);
    if (!strcmp(k, "backward")) {
        lua_pushcfunction(L, step_backward);
        return 1;
    }
    if (!strcmp(k, "close")) {
        lua_pushcfunction(L, step_close);
        return 1;
    }
    if (!s->alive) return lcoco_errorf(L, "step output was closed; read '%s' before closing it", k);
    if (!strcmp(k, "loss")) {
        if (s->r.loss) lua_pushnumber(L, coco_f32(s->r.loss)[0]);
        else lua_pushnil(L);
        return 1;
    }
    if (!strcmp(k, "passes")) return lua_pushinteger(L, s->r.passes), 1;
    if (!strcmp(k, "label_tokens")) return lua_pushinteger(L, s->r.label_tokens), 1;
    if (!strcmp(k, "first_latent")) return lua_pushinteger(L, s->r.first_latent), 1;
    if (!strcmp(k, "max_latents")) return lua_pushinteger(L, s->r.max_latents), 1;
    coco_tensor *t = NULL;
    if (!strcmp(k, "logits")) t = s->r.logits;
    else if (!strcmp(k, "hidden")) t = s->r.hidden;
    else if (!strcmp(k, "embeds")) t = s->r.embeds;
    else return lcoco_errorf(L, "StepOutput has no field '%s' (loss, logits, hidden, embeds, passes, label_tokens, backward, close)", k);
    if (!t) {
        if (!strcmp(k, "logits")) return lcoco_errorf(L, "logits were not kept: call forward with {logits = true}");
        lua_pushnil(L);
        return 1;
    }
    /* Cache the handle so repeated reads return the same object. */
    lua_getiuservalue(L, 1, 2);
    if (lua_getfield(L, -1, k) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    lcoco_push_borrowed(L, t, 1, &s->alive);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, k);
    return 1;
}

typedef struct batch_tensors {
    coco_tensor *ids, *mask, *labels, *pos;
    coco_tensor *set_pos, *set_offsets, *set_ids; /* label sets, optional (coconut/latent.h) */
} batch_tensors;

static void batch_release(batch_tensors *b) {
    coco_tensor_release(b->ids);
    coco_tensor_release(b->mask);
    coco_tensor_release(b->labels);
    coco_tensor_release(b->pos);
    coco_tensor_release(b->set_pos);
    coco_tensor_release(b->set_offsets);
    coco_tensor_release(b->set_ids);
}

/* Guard cleanup (lcoco_guard_new): a batch read half-way when an error raised. */
static void batch_release_guarded(void *p) { batch_release(p); }

/* Reads a batch table; defaults: mask all ones, positions 0..T-1 per row. */
static void read_batch(lua_State *L, int idx, batch_tensors *b) {
    memset(b, 0, sizeof *b);
    luaL_checktype(L, idx, LUA_TTABLE);
    static const char *const keys[] = {"input_ids", "attention_mask", "labels", "position_ids", "latent_id", "start_id",
                                       "set_pos", "set_offsets", "set_ids", NULL};
    lcoco_check_keys(L, idx, keys, "batch");
    if (lua_getfield(L, idx, "input_ids") == LUA_TNIL) lcoco_errorf(L, "batch.input_ids is missing");
    b->ids = lcoco_to_tensor(L, -1, COCO_I32, "batch.input_ids");
    lua_pop(L, 1);
    if (b->ids->ndim != 2) {
        char s[96];
        lcoco_errorf(L, "batch.input_ids must be [B, T], got %s", coco_shape_str(b->ids, s, sizeof s));
    }
    int64_t B = b->ids->shape[0], T = b->ids->shape[1];
    if (lua_getfield(L, idx, "attention_mask") != LUA_TNIL) b->mask = lcoco_to_tensor(L, -1, COCO_I32, "batch.attention_mask");
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "labels") != LUA_TNIL) b->labels = lcoco_to_tensor(L, -1, COCO_I32, "batch.labels");
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "position_ids") != LUA_TNIL) b->pos = lcoco_to_tensor(L, -1, COCO_I32, "batch.position_ids");
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "set_pos") != LUA_TNIL) b->set_pos = lcoco_to_tensor(L, -1, COCO_I32, "batch.set_pos");
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "set_offsets") != LUA_TNIL) b->set_offsets = lcoco_to_tensor(L, -1, COCO_I32, "batch.set_offsets");
    lua_pop(L, 1);
    if (lua_getfield(L, idx, "set_ids") != LUA_TNIL) b->set_ids = lcoco_to_tensor(L, -1, COCO_I32, "batch.set_ids");
    lua_pop(L, 1);
    if (!b->mask) {
        b->mask = coco_tensor_new(COCO_I32, 2, (int64_t[]){B, T});
        coco_tensor_fill(b->mask, 1);
    }
    if (!b->pos) {
        b->pos = coco_tensor_new(COCO_I32, 2, (int64_t[]){B, T});
        for (int64_t r = 0; r < B; r++)
            for (int64_t c = 0; c < T; c++) coco_i32(b->pos)[r * T + c] = (int32_t)c;
    }
}

/* m:forward(batch [, {logits = true, grad = true, seed = n}]) -> StepOutput */
static int m_forward(lua_State *L) {
    LCOCO_ENTER(L);
    lua_settop(L, 3);
    lmodel *u = check_model(L, 1);
    static const char *const okeys[] = {"logits", "grad", "seed", NULL};
    lcoco_check_keys(L, 3, okeys, "forward options");
    int want_logits = lcoco_opt_bool(L, 3, "logits", 1, "forward options");
    int grad = lcoco_opt_bool(L, 3, "grad", 1, "forward options");
    /* in a guard: read_batch and the option reads below may raise */
    batch_tensors *bt = lcoco_guard_new(L, sizeof *bt, batch_release_guarded);
    read_batch(L, 2, bt);
    int latent = lcoco_opt_int(L, 2, "latent_id", -1, "batch");
    int start = lcoco_opt_int(L, 2, "start_id", -1, "batch");
    lstep *s = lua_newuserdatauv(L, sizeof *s, 2);
    memset(s, 0, sizeof *s);
    luaL_setmetatable(L, LCOCO_STEP);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1); /* keep the model alive */
    lua_newtable(L);
    lua_setiuservalue(L, -2, 2); /* tensor handle cache */
    s->owner = u;
    s->tp = take_tape(L, u);
    s->alive = 1;
    u->steps++;
    uint64_t seed = lua_isnoneornil(L, 3) ? 0 : (uint64_t)lcoco_opt_int(L, 3, "seed", 0, "forward options");
    coco_tape_set_seed(s->tp, seed ? seed : coco_mix64(u->seed * 0x9e3779b97f4a7c15ULL + u->steps));
    coco_tape_set_grad_enabled(s->tp, grad);
    coco_batch b = {bt->ids, bt->mask, bt->labels, bt->pos, bt->set_pos, bt->set_offsets, bt->set_ids};
    int rc = coco_latent_forward(u->m, s->tp, &b, latent, start, want_logits, &s->r);
    batch_release(bt);
    lcoco_guard_disarm(bt);
    if (rc != 0) {
        const char *msg = coco_errmsg();
        lua_pushstring(L, msg);
        return lcoco_errorf(L, "forward: %s", lua_tostring(L, -1));
    }
    return 1;
}

/* ---------------------------------------------------------------- collate */

/* Element count of a label set value (a list of ids or an i32 tensor); raises otherwise. */
static lua_Integer set_size(lua_State *L, int idx, int i, lua_Integer t) {
    coco_tensor *x = lcoco_opt_tensor(L, idx);
    if (x) {
        if (x->dtype != COCO_I32) lcoco_errorf(L, "collate: example %d: label set at position %d must hold i32 ids", i + 1, (int)t);
        return x->numel;
    }
    if (!lua_istable(L, idx))
        lcoco_errorf(L, "collate: example %d: label set at position %d must be a list of token ids, got %s", i + 1, (int)t,
                     luaL_typename(L, idx));
    return (lua_Integer)lua_rawlen(L, idx);
}

/* examples[i].label_sets (at stack index tbl) = {[t] = {id, ...}, ...}, t the
 * 1-based position in input_ids of the token the set stands for, -> es with
 * 0-based positions. The arrays live in one userdata stored at anchor[slot]
 * (anchor: a stack index; so a Lua error raised here or later leaks nothing).
 * Positions, labels and emptiness are checked by coco_collate_sets. */
static void read_label_sets(lua_State *L, int tbl, int i, int len, int anchor, int slot, coco_example_sets *es) {
    tbl = lua_absindex(L, tbl);
    memset(es, 0, sizeof *es);
    if (!lua_istable(L, tbl))
        lcoco_errorf(L, "collate: examples[%d].label_sets must be a table {[position] = {token ids}}, got %s", i + 1,
                     luaL_typename(L, tbl));
    /* pass 1: count sets and ids, check keys */
    int n = 0;
    int64_t K = 0;
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        int isint = 0;
        lua_Integer t = lua_type(L, -2) == LUA_TNUMBER ? lua_tointegerx(L, -2, &isint) : 0;
        if (!isint) {
            lua_pushvalue(L, -2);
            lcoco_errorf(L, "collate: examples[%d].label_sets: key '%s' is not an integer position", i + 1,
                         luaL_tolstring(L, -1, NULL));
        }
        if (t < 2 || t > len)
            lcoco_errorf(L, "collate: example %d: label set at position %lld is outside 2..%d (the example has %d tokens; "
                         "the first token has no logits before it)", i + 1, (long long)t, len, len);
        K += set_size(L, -1, i, t);
        n++;
        lua_pop(L, 1);
    }
    if (n == 0) return;
    size_t bytes = sizeof(int) * (size_t)(2 * n + 1) + sizeof(int32_t) * (size_t)(K ? K : 1);
    int *mem = lua_newuserdatauv(L, bytes, 0);
    lua_rawseti(L, anchor, slot);
    int *pos = mem, *off = mem + n;
    int32_t *ids = (int32_t *)(off + n + 1);
    /* pass 2: fill (same traversal order: the table is not modified) */
    int k = 0;
    int64_t q = 0;
    off[0] = 0;
    lua_pushnil(L);
    while (lua_next(L, tbl)) {
        lua_Integer t = lua_tointeger(L, -2);
        coco_tensor *x = lcoco_opt_tensor(L, -1);
        if (x) {
            memcpy(ids + q, x->data, sizeof(int32_t) * (size_t)x->numel);
            q += x->numel;
        } else {
            lua_Integer sz = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer j = 1; j <= sz; j++) {
                lua_rawgeti(L, -1, j);
                int ok;
                lua_Integer v = lua_tointegerx(L, -1, &ok);
                if (!ok || v < INT32_MIN || v > INT32_MAX)
                    lcoco_errorf(L, "collate: example %d: label set at position %d: element %d is not an integer token id",
                                 i + 1, (int)t, (int)j);
                ids[q++] = (int32_t)v;
                lua_pop(L, 1);
            }
        }
        pos[k] = (int)t - 1;
        off[++k] = (int)q;
        lua_pop(L, 1);
    }
    es->n = n;
    es->pos = pos;
    es->off = off;
    es->ids = ids;
}

/* lcoco_to_ints into a userdata stored at anchor[slot] (collected with the
 * anchor table, so a later Lua error leaks nothing). */
static int32_t *anchored_ints(lua_State *L, int idx, int *n, const char *what, int anchor, int slot) {
    idx = lua_absindex(L, idx);
    int32_t *v = lcoco_to_ints(L, idx, n, what);
    int32_t *u = lua_newuserdatauv(L, sizeof(int32_t) * (size_t)(*n ? *n : 1), 0);
    memcpy(u, v, sizeof(int32_t) * (size_t)*n);
    free(v);
    lua_rawseti(L, anchor, slot);
    return u;
}

/* coconut.collate(examples, {latent_id=, pad_id=}) -> batch table of i32 tensors.
 * An example may carry label_sets = {[t] = {ids...}} (see read_label_sets);
 * the batch then has set_pos, set_offsets and set_ids (coconut/latent.h). */
static int l_collate(lua_State *L) {
    LCOCO_ENTER(L);
    lua_settop(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *const keys[] = {"latent_id", "pad_id", "start_id", "markers", NULL};
    lcoco_check_keys(L, 2, keys, "collate options");
    if (lua_isnoneornil(L, 2)) return luaL_argerror(L, 2, "options {latent_id=, pad_id=} are required");
    int latent = lcoco_opt_int(L, 2, "latent_id", -1, "collate options");
    int start = lcoco_opt_int(L, 2, "start_id", -1, "collate options");
    /* markers = false: latents may follow any token (COCO_NO_START_MARKER) */
    if (!lcoco_opt_bool(L, 2, "markers", 1, "collate options")) start = COCO_NO_START_MARKER;
    lua_getfield(L, 2, "pad_id");
    if (lua_isnil(L, -1)) return lcoco_errorf(L, "collate: pad_id is required (the eos id in the official setup)");
    int pad = (int)luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    int n = (int)luaL_len(L, 1);
    if (n < 1) return luaL_argerror(L, 1, "no examples");
    /* Scratch memory is Lua-owned (userdata; the per-example arrays are kept in
     * the anchor table at stack index 3), so the errors raised below leak
     * nothing. Example i uses slots 3i+1..3i+3: input_ids, labels, label sets. */
    lua_newtable(L);
    int32_t **ids = lua_newuserdatauv(L, sizeof *ids * (size_t)n, 0), **lab = lua_newuserdatauv(L, sizeof *lab * (size_t)n, 0);
    int *len = lua_newuserdatauv(L, sizeof *len * (size_t)n, 0);
    coco_example_sets *es = lua_newuserdatauv(L, sizeof *es * (size_t)n, 0); /* stack 4..7 */
    memset(lab, 0, sizeof *lab * (size_t)n);
    memset(es, 0, sizeof *es * (size_t)n);
    int has_labels = 0, all_labels = 1, has_sets = 0;
    for (int i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        if (!lua_istable(L, -1)) return lcoco_errorf(L, "collate: example %d is not a table", i + 1);
        lua_getfield(L, -1, "input_ids");
        char what[64];
        snprintf(what, sizeof what, "examples[%d].input_ids", i + 1);
        ids[i] = anchored_ints(L, -1, &len[i], what, 3, 3 * i + 1);
        lua_pop(L, 1);
        if (lua_getfield(L, -1, "labels") != LUA_TNIL) {
            int ln;
            snprintf(what, sizeof what, "examples[%d].labels", i + 1);
            lab[i] = anchored_ints(L, -1, &ln, what, 3, 3 * i + 2);
            if (ln != len[i]) return lcoco_errorf(L, "collate: example %d has %d input_ids but %d labels (lengths disagree)", i + 1, len[i], ln);
            has_labels = 1;
        } else {
            all_labels = 0;
        }
        if (lua_getfield(L, -2, "label_sets") != LUA_TNIL) {
            read_label_sets(L, -1, i, len[i], 3, 3 * i + 3, &es[i]);
            has_sets |= es[i].n > 0;
        }
        lua_pop(L, 3);
    }
    if (has_labels && !all_labels) return lcoco_errorf(L, "collate: some examples have labels and some do not");
    coco_batch b;
    int rc = coco_collate(n, (const int32_t *const *)ids, has_labels ? (const int32_t *const *)lab : NULL, len, latent, pad, &b);
    if (rc != 0) return lcoco_errorf(L, "collate: %s", coco_errmsg());
    if (has_sets && coco_collate_sets(&b, es) != 0) {
        coco_batch_free(&b);
        return lcoco_errorf(L, "%s", coco_errmsg());
    }
    lua_createtable(L, 0, 9);
    lcoco_push_tensor(L, (coco_tensor *)b.input_ids), lua_setfield(L, -2, "input_ids");
    lcoco_push_tensor(L, (coco_tensor *)b.attention_mask), lua_setfield(L, -2, "attention_mask");
    lcoco_push_tensor(L, (coco_tensor *)b.position_ids), lua_setfield(L, -2, "position_ids");
    if (b.labels) lcoco_push_tensor(L, (coco_tensor *)b.labels), lua_setfield(L, -2, "labels");
    if (b.set_pos) {
        lcoco_push_tensor(L, (coco_tensor *)b.set_pos), lua_setfield(L, -2, "set_pos");
        lcoco_push_tensor(L, (coco_tensor *)b.set_offsets), lua_setfield(L, -2, "set_offsets");
        lcoco_push_tensor(L, (coco_tensor *)b.set_ids), lua_setfield(L, -2, "set_ids");
    }
    if (latent >= 0) lua_pushinteger(L, latent), lua_setfield(L, -2, "latent_id");
    if (start >= 0 || start == COCO_NO_START_MARKER) lua_pushinteger(L, start), lua_setfield(L, -2, "start_id");
    return 1;
}

/* ---------------------------------------------------------------- generate */

typedef struct lua_policy {
    lua_State *L;
    int fn_idx; /* stack index of the Lua function */
} lua_policy;

/* A Lua function eot(row, n_thoughts, planned, hidden) -> true to stop. */
static int lua_policy_decide(void *self, int n, const int *rows, const int *nth, const int *planned, const float *hidden,
                             int d, unsigned char *stop) {
    lua_policy *p = self;
    lua_State *L = p->L;
    for (int i = 0; i < n; i++) {
        lua_pushvalue(L, p->fn_idx);
        lua_pushinteger(L, rows[i] + 1);
        lua_pushinteger(L, nth[i]);
        if (planned[i] >= 0) lua_pushinteger(L, planned[i]);
        else lua_pushnil(L);
        coco_tensor *h = coco_tensor_new(COCO_F32, 1, (int64_t[]){d});
        memcpy(h->data, hidden + (size_t)i * d, sizeof(float) * (size_t)d);
        lcoco_push_tensor(L, h);
        if (lua_pcall(L, 4, 1, 0) != LUA_OK) {
            coco_seterr("eot function: %s", lua_tostring(L, -1));
            lua_pop(L, 1);
            return -1;
        }
        stop[i] = (unsigned char)lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    LCOCO_ENTER(L);
    return 0;
}

/* m:generate's per-prompt arrays (a guard payload, lcoco_guard_new). */
typedef struct gen_scratch {
    int n;
    int32_t **pr;
    int *len, *planned;
} gen_scratch;

static void gen_scratch_free(void *p) {
    gen_scratch *sc = p;
    for (int i = 0; sc->pr && i < sc->n; i++) free(sc->pr[i]);
    free(sc->pr), free(sc->len), free(sc->planned);
    sc->pr = NULL, sc->len = NULL, sc->planned = NULL;
}

/* m:generate(prompts, opts) -> outputs[, extras]
 *   opts: max_new_tokens (64), eos_id, start_id, end_id, latent_id,
 *         eot = number | {k per prompt} | eot plugin | function(row, n, planned, hidden) -> stop,
 *         planned = {k per prompt} (what a policy sees as the planned count),
 *         max_thoughts (16 with a policy), return_thoughts, return_logits.
 * Prompts ending with start_id think; prompts holding k latent slots followed by
 * end_id (the official eval layout) get exactly k thoughts. */
static int m_generate(lua_State *L) {
    LCOCO_ENTER(L);
    lua_settop(L, 3);
    lmodel *u = check_model(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    static const char *const keys[] = {"max_new_tokens", "eos_id", "start_id", "end_id", "latent_id", "eot", "max_thoughts",
                                       "planned", "return_thoughts", "return_logits", "markers", NULL};
    lcoco_check_keys(L, 3, keys, "generate options");
    const char *w = "generate options";
    int max_new = lcoco_opt_int(L, 3, "max_new_tokens", 64, w);
    lua_getfield(L, 3, "eos_id");
    if (lua_isnil(L, -1)) return lcoco_errorf(L, "generate: eos_id is required");
    lua_pop(L, 1);
    coco_special_ids ids;
    ids.eos = lcoco_opt_int(L, 3, "eos_id", -1, w);
    ids.start = lcoco_opt_int(L, 3, "start_id", -1, w);
    ids.end = lcoco_opt_int(L, 3, "end_id", -1, w);
    ids.latent = lcoco_opt_int(L, 3, "latent_id", -1, w);
    int max_thoughts = lcoco_opt_int(L, 3, "max_thoughts", 0, w);
    coco_gen_options o;
    memset(&o, 0, sizeof o);
    o.max_new_tokens = max_new;
    o.return_thoughts = lcoco_opt_bool(L, 3, "return_thoughts", 0, w);
    o.return_logits = lcoco_opt_bool(L, 3, "return_logits", 0, w);
    o.no_markers = !lcoco_opt_bool(L, 3, "markers", 1, w);
    int n = (int)luaL_len(L, 2);
    if (n < 1) return luaL_argerror(L, 2, "no prompts");
    /* the prompts' arrays live in a guard: the checks below may raise */
    gen_scratch *sc = lcoco_guard_new(L, sizeof *sc, gen_scratch_free);
    sc->n = n;
    int32_t **pr = sc->pr = calloc((size_t)n, sizeof *pr);
    int *len = sc->len = calloc((size_t)n, sizeof *len), *planned = sc->planned = calloc((size_t)n, sizeof *planned);
    for (int i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        char what[48];
        snprintf(what, sizeof what, "prompts[%d]", i + 1);
        pr[i] = lcoco_to_ints(L, -1, &len[i], what);
        lua_pop(L, 1);
        planned[i] = -1;
        /* Official eval layout: ... start, latent x k, end  ->  ... start with k planned. */
        int k = 0;
        for (int j = 0; j < len[i]; j++) k += pr[i][j] == ids.latent && ids.latent >= 0;
        if (k > 0 || (len[i] >= 2 && pr[i][len[i] - 1] == ids.end && pr[i][len[i] - 2] == ids.start && ids.end >= 0)) {
            int s = len[i] - k - 2;
            int ok = s >= 0 && pr[i][s] == ids.start && pr[i][len[i] - 1] == ids.end;
            for (int j = s + 1; ok && j < len[i] - 1; j++) ok = pr[i][j] == ids.latent;
            if (!ok) return lcoco_errorf(L, "generate: prompt %d has latent slots but is not '... <start-latent> <latent> x k <end-latent>'", i + 1);
            len[i] = s + 1;
            planned[i] = k;
        }
    }
    /* Planned thought counts (e.g. from the curriculum's eval plan), seen by the policy. */
    if (lua_getfield(L, 3, "planned") == LUA_TTABLE) {
        if ((int)luaL_len(L, -1) != n) lcoco_errorf(L, "generate: planned has %d counts for %d prompts", (int)luaL_len(L, -1), n);
        for (int i = 0; i < n; i++) {
            lua_geti(L, -1, i + 1);
            if (planned[i] < 0) planned[i] = (int)luaL_checkinteger(L, -1);
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    /* The <eot> policy. */
    coco_eot_policy pol;
    lua_policy lp;
    int has_policy = 0;
    lua_getfield(L, 3, "eot");
    int eidx = lua_gettop(L);
    if (lua_isinteger(L, eidx)) {
        int k = (int)lua_tointeger(L, eidx);
        luaL_argcheck(L, k >= 0, 3, "eot count must be >= 0");
        for (int i = 0; i < n; i++)
            if (planned[i] < 0) planned[i] = k;
    } else if (lua_istable(L, eidx) && !luaL_testudata(L, eidx, "coconut.Plugin")) {
        if ((int)luaL_len(L, eidx) != n) return lcoco_errorf(L, "generate: eot table has %d counts for %d prompts", (int)luaL_len(L, eidx), n);
        for (int i = 0; i < n; i++) {
            lua_geti(L, eidx, i + 1);
            planned[i] = (int)luaL_checkinteger(L, -1);
            lua_pop(L, 1);
        }
    } else if (lua_isfunction(L, eidx)) {
        lp.L = L;
        lp.fn_idx = eidx;
        pol.self = &lp;
        pol.decide = lua_policy_decide;
        has_policy = 1;
        if (max_thoughts <= 0) max_thoughts = 16;
    } else if (!lua_isnil(L, eidx)) {
        int mt = 0;
        if (!lcoco_eot_policy(L, eidx, &pol, &mt)) return lcoco_errorf(L, "generate: eot must be a number, a list of numbers, a function or an eot plugin");
        has_policy = 1;
        if (max_thoughts <= 0) max_thoughts = mt > 0 ? mt : 16;
    }
    for (int i = 0; i < n; i++)
        if (planned[i] < 0) planned[i] = has_policy ? -1 : 0;
    o.planned = planned;
    o.policy = has_policy ? &pol : NULL;
    o.max_thoughts = max_thoughts;
    coco_gen_result r;
    int rc = coco_latent_generate(u->m, &ids, n, (const int32_t *const *)pr, len, &o, &r);
    gen_scratch_free(sc);
    lcoco_guard_disarm(sc);
    if (rc != 0) {
        lua_pushstring(L, coco_errmsg());
        return lcoco_errorf(L, "generate: %s", lua_tostring(L, -1));
    }
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lcoco_push_ints(L, r.tokens[i] ? r.tokens[i] : (int32_t[]){0}, r.n_tokens[i]);
        lua_rawseti(L, -2, i + 1);
    }
    int nret = 1;
    if (o.return_thoughts || o.return_logits) {
        lua_createtable(L, n, 0);
        for (int i = 0; i < n; i++) {
            lua_createtable(L, 0, 3);
            lua_pushinteger(L, r.n_thoughts[i]);
            lua_setfield(L, -2, "n_thoughts");
            if (o.return_thoughts) {
                coco_tensor *t = coco_tensor_new(COCO_F32, 2, (int64_t[]){r.n_thoughts[i], r.d});
                if (r.n_thoughts[i]) memcpy(t->data, r.thoughts[i], sizeof(float) * (size_t)r.n_thoughts[i] * r.d);
                lcoco_push_tensor(L, t);
                lua_setfield(L, -2, "thoughts");
            }
            if (o.return_logits) {
                coco_tensor *t = coco_tensor_new(COCO_F32, 2, (int64_t[]){r.n_logits[i], r.V});
                if (r.n_logits[i]) memcpy(t->data, r.logits[i], sizeof(float) * (size_t)r.n_logits[i] * r.V);
                lcoco_push_tensor(L, t);
                lua_setfield(L, -2, "logits");
            }
            lua_rawseti(L, -2, i + 1);
        }
        nret = 2;
    }
    coco_gen_result_free(&r);
    return nret;
}

/* ---------------------------------------------------------------- optimizer */

static loptim *check_optim(lua_State *L, int i) {
    loptim *o = luaL_checkudata(L, i, LCOCO_OPTIM);
    if (!o->o) luaL_argerror(L, i, "optimizer was closed");
    if (!o->owner->m) luaL_argerror(L, i, "the optimizer's model was closed");
    if (o->generation != o->owner->generation)
        lcoco_errorf(L, "optimizer: the model's parameters were replaced (add_tokens) after the optimizer was created; create it again");
    return o;
}

static int l_adamw(lua_State *L) {
    LCOCO_ENTER(L);
    lua_settop(L, 2);
    lmodel *u = check_model(L, 1);
    static const char *const keys[] = {"lr", "weight_decay", "betas", "eps", "clip", NULL};
    lcoco_check_keys(L, 2, keys, "adamw options");
    coco_adamw_config c = coco_adamw_defaults();
    c.lr = lcoco_opt_num(L, 2, "lr", c.lr, "adamw options");
    c.weight_decay = lcoco_opt_num(L, 2, "weight_decay", c.weight_decay, "adamw options");
    c.eps = lcoco_opt_num(L, 2, "eps", c.eps, "adamw options");
    c.clip = lcoco_opt_num(L, 2, "clip", 0.0, "adamw options");
    if (!lua_isnoneornil(L, 2) && lua_getfield(L, 2, "betas") != LUA_TNIL) {
        if (!lua_istable(L, -1) || luaL_len(L, -1) != 2) return lcoco_errorf(L, "adamw options.betas must be {beta1, beta2}");
        lua_geti(L, -1, 1), lua_geti(L, -2, 2);
        c.beta1 = luaL_checknumber(L, -2);
        c.beta2 = luaL_checknumber(L, -1);
        lua_pop(L, 3);
    } else if (!lua_isnoneornil(L, 2)) {
        lua_pop(L, 1);
    }
    loptim *o = lua_newuserdatauv(L, sizeof *o, 1);
    memset(o, 0, sizeof *o);
    luaL_setmetatable(L, LCOCO_OPTIM);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    o->owner = u;
    o->generation = u->generation;
    o->o = coco_adamw_new(u->m->n_params, u->m->params, (const char *const *)u->m->names, &c);
    return 1;
}

static int o_step(lua_State *L) {
    LCOCO_ENTER(L);
    loptim *o = check_optim(L, 1);
    double norm = coco_adamw_step(o->o);
    if (isnan(norm)) return lcoco_errorf(L, "optimizer step: gradients contain NaN/Inf; parameters left unchanged");
    lua_pushnumber(L, norm);
    return 1;
}
static int o_reset(lua_State *L) {
    coco_adamw_reset(check_optim(L, 1)->o);
    return 0;
}
static int o_set_lr(lua_State *L) {
    LCOCO_ENTER(L);
    coco_adamw_set_lr(check_optim(L, 1)->o, luaL_checknumber(L, 2));
    return 0;
}
static int o_lr(lua_State *L) {
    lua_pushnumber(L, coco_adamw_get_config(check_optim(L, 1)->o).lr);
    return 1;
}
static int o_steps(lua_State *L) {
    lua_pushinteger(L, coco_adamw_steps(check_optim(L, 1)->o));
    return 1;
}
static int o_save(lua_State *L) {
    LCOCO_ENTER(L);
    loptim *o = check_optim(L, 1);
    if (coco_adamw_save(o->o, luaL_checkstring(L, 2)) != 0) return lcoco_fail_result(L, coco_errmsg());
    lua_pushboolean(L, 1);
    return 1;
}
static int o_load(lua_State *L) {
    LCOCO_ENTER(L);
    loptim *o = check_optim(L, 1);
    if (coco_adamw_load(o->o, luaL_checkstring(L, 2)) != 0) return lcoco_fail_result(L, coco_errmsg());
    lua_pushboolean(L, 1);
    return 1;
}
static int o_gc(lua_State *L) {
    loptim *o = luaL_checkudata(L, 1, LCOCO_OPTIM);
    coco_adamw_free(o->o);
    o->o = NULL;
    return 0;
}
static int o_tostring(lua_State *L) {
    loptim *o = luaL_checkudata(L, 1, LCOCO_OPTIM);
    if (!o->o) {
        lua_pushstring(L, "coconut.Optimizer (closed)");
        return 1;
    }
    coco_adamw_config c = coco_adamw_get_config(o->o);
    lua_pushfstring(L, "coconut.Optimizer AdamW lr=%f wd=%f steps=%d", c.lr, c.weight_decay, (int)coco_adamw_steps(o->o));
    return 1;
}

struct coco_gpt2 *lcoco_to_model(lua_State *L, int idx) {
    lmodel *u = luaL_testudata(L, idx, LCOCO_MODEL);
    if (!u) return NULL;
    if (!u->m) luaL_argerror(L, idx, "model was closed");
    return u->m;
}

struct coco_adamw *lcoco_to_optim(lua_State *L, int idx) {
    if (!luaL_testudata(L, idx, LCOCO_OPTIM)) return NULL;
    return check_optim(L, idx)->o;
}

/* ---------------------------------------------------------------- registration */

void lcoco_open_model(lua_State *L) {
    static const luaL_Reg mm[] = {{"config", m_config},     {"save", m_save},           {"params", m_params},
                                  {"grads", m_grads},       {"param_names", m_param_names}, {"zero_grad", m_zero_grad},
                                  {"add_tokens", m_add_tokens}, {"train", m_train},     {"training", m_training},
                                  {"forward", m_forward},   {"generate", m_generate},   {"num_params", m_num_params},
                                  {"seed", m_seed}, {"forward_count", m_forward_count},         {"close", m_gc},            {"init_positions", m_init_positions},
                                  {NULL, NULL}};
    static const luaL_Reg mmeta[] = {{"__gc", m_gc}, {"__close", m_gc}, {"__tostring", m_tostring}, {NULL, NULL}};
    lcoco_newclass(L, LCOCO_MODEL, mm, mmeta);
    /* StepOutput: fields and methods through __index. */
    luaL_newmetatable(L, LCOCO_STEP);
    static const luaL_Reg smeta[] = {{"__gc", step_close}, {"__close", step_close}, {"__tostring", step_tostring},
                                     {"__index", step_index}, {NULL, NULL}};
    luaL_setfuncs(L, smeta, 0);
    lua_pop(L, 1);
    static const luaL_Reg om[] = {{"step", o_step}, {"reset", o_reset}, {"set_lr", o_set_lr}, {"lr", o_lr},
                                  {"steps", o_steps}, {"save", o_save}, {"load", o_load},     {"close", o_gc},
                                  {NULL, NULL}};
    static const luaL_Reg ometa[] = {{"__gc", o_gc}, {"__close", o_gc}, {"__tostring", o_tostring}, {NULL, NULL}};
    lcoco_newclass(L, LCOCO_OPTIM, om, ometa);

    static const luaL_Reg g[] = {{"new", l_gpt2_new}, {"load", l_gpt2_load}, {"presets", l_gpt2_presets}, {NULL, NULL}};
    luaL_newlib(L, g);
    lua_setfield(L, -2, "gpt2");
    lua_pushcfunction(L, l_collate);
    lua_setfield(L, -2, "collate");
    static const luaL_Reg op[] = {{"adamw", l_adamw}, {NULL, NULL}};
    luaL_newlib(L, op);
    lua_setfield(L, -2, "optim");
}

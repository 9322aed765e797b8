/* autograd.c — tape, gradient pool and reverse replay (see coconut/autograd.h). */
#include "coconut/autograd.h"

#include <stdlib.h>
#include <string.h>

#include "coconut/runtime.h"

typedef struct pool_buf {
    size_t bytes;
    void *data;
} pool_buf;

struct coco_tape {
    coco_arena *arena;
    coco_node *nodes;
    size_t n, cap;
    int grad_enabled;
    uint64_t seed, stream;
    /* Grad pool: `free_` holds buffers ready for reuse; `live` those handed out
     * during this step (returned on reset). */
    pool_buf *free_, *live;
    size_t nfree, capfree, nlive, caplive;
    size_t pool_bytes;
    /* Saved state handed back to the OS as soon as backward has used it
     * (coco_tape_saved_big); whatever backward did not free goes on reset. */
    pool_buf *big;
    size_t nbig, capbig, big_bytes;
};

coco_tape *coco_tape_new(void) {
    coco_tape *tp = coco_calloc(1, sizeof *tp, "tape");
    tp->arena = coco_arena_new();
    tp->grad_enabled = 1;
    tp->seed = 0x5eed;
    return tp;
}

void coco_tape_free(coco_tape *tp) {
    if (!tp) return;
    for (size_t i = 0; i < tp->nfree; i++) free(tp->free_[i].data);
    for (size_t i = 0; i < tp->nlive; i++) free(tp->live[i].data);
    for (size_t i = 0; i < tp->nbig; i++) free(tp->big[i].data);
    free(tp->big);
    free(tp->free_);
    free(tp->live);
    free(tp->nodes);
    coco_arena_free(tp->arena);
    free(tp);
}

static void pool_push(pool_buf **arr, size_t *n, size_t *cap, pool_buf b) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *arr = coco_realloc(*arr, *cap * sizeof **arr, "grad pool");
    }
    (*arr)[(*n)++] = b;
}

void coco_tape_reset(coco_tape *tp) {
    for (size_t i = 0; i < tp->nlive; i++) pool_push(&tp->free_, &tp->nfree, &tp->capfree, tp->live[i]);
    tp->nlive = 0;
    for (size_t i = 0; i < tp->nbig; i++) free(tp->big[i].data);
    tp->nbig = 0;
    tp->big_bytes = 0;
    tp->n = 0;
    tp->stream = 0;
    coco_arena_reset(tp->arena);
}

void *coco_tape_saved_big(coco_tape *tp, size_t nbytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, nbytes ? nbytes : 64) != 0) coco_fail("out of memory allocating %zu bytes of saved state", nbytes);
    pool_push(&tp->big, &tp->nbig, &tp->capbig, (pool_buf){nbytes, p});
    tp->big_bytes += nbytes;
    return p;
}

void coco_tape_saved_big_free(coco_tape *tp, void *p) {
    for (size_t i = 0; i < tp->nbig; i++)
        if (tp->big[i].data == p) {
            tp->big_bytes -= tp->big[i].bytes;
            free(p);
            tp->big[i] = tp->big[--tp->nbig];
            return;
        }
}

coco_arena *coco_tape_arena(coco_tape *tp) { return tp->arena; }
void coco_tape_set_grad_enabled(coco_tape *tp, int on) { tp->grad_enabled = on != 0; }
int coco_tape_grad_enabled(const coco_tape *tp) { return tp->grad_enabled; }
void coco_tape_set_seed(coco_tape *tp, uint64_t seed) { tp->seed = seed; }
uint64_t coco_tape_seed(const coco_tape *tp) { return tp->seed; }
uint64_t coco_tape_next_stream(coco_tape *tp) { return tp->stream++; }
size_t coco_tape_num_nodes(const coco_tape *tp) { return tp->n; }
size_t coco_tape_bytes(const coco_tape *tp) { return coco_arena_used(tp->arena) + tp->pool_bytes + tp->big_bytes; }

void *coco_tape_alloc(coco_tape *tp, size_t nbytes) { return coco_arena_alloc(tp->arena, nbytes); }

coco_tensor *coco_tape_tensor(coco_tape *tp, coco_dtype dt, int ndim, const int64_t *shape) {
    return coco_tensor_new_arena(tp->arena, dt, ndim, shape);
}

coco_tensor *coco_tape_like(coco_tape *tp, const coco_tensor *like) {
    return coco_tensor_new_arena(tp->arena, COCO_F32, like->ndim, like->shape);
}

int coco_tape_needs_grad(const coco_tape *tp, int n, coco_tensor *const *in) {
    if (!tp->grad_enabled) return 0;
    for (int i = 0; i < n; i++)
        if (in[i] && in[i]->requires_grad) return 1;
    return 0;
}

coco_node *coco_tape_record(coco_tape *tp, const char *op, coco_backward_fn bwd, coco_tensor *out, int n_in,
                            coco_tensor *const *in) {
    if (n_in > COCO_NODE_MAX_IN) coco_fail("%s: too many inputs (%d) for a tape node", op, n_in);
    if (tp->n == tp->cap) {
        tp->cap = tp->cap ? tp->cap * 2 : 256;
        tp->nodes = coco_realloc(tp->nodes, tp->cap * sizeof *tp->nodes, "tape nodes");
    }
    coco_node *nd = &tp->nodes[tp->n++];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    nd->backward = bwd;
    nd->out = out;
    nd->n_in = n_in;
    for (int i = 0; i < n_in; i++) nd->in[i] = in[i];
    out->requires_grad = 1;
    return nd;
}

/* Take the smallest free buffer that holds `bytes` (best fit), or allocate one.
 * Shapes repeat from layer to layer and, up to the sequence length, from step to
 * step, so after a step or two every request is served from the free list and a
 * training loop stops touching fresh pages. */
static void *pool_get(coco_tape *tp, size_t bytes) {
    size_t best = (size_t)-1;
    for (size_t i = 0; i < tp->nfree; i++) {
        size_t b = tp->free_[i].bytes;
        if (b >= bytes && (best == (size_t)-1 || b < tp->free_[best].bytes)) best = i;
    }
    if (best != (size_t)-1 && tp->free_[best].bytes <= 4 * bytes + 4096) {
        pool_buf b = tp->free_[best];
        tp->free_[best] = tp->free_[--tp->nfree];
        pool_push(&tp->live, &tp->nlive, &tp->caplive, b);
        return b.data;
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) coco_fail("out of memory allocating %zu bytes of gradient", bytes);
    tp->pool_bytes += bytes;
    pool_push(&tp->live, &tp->nlive, &tp->caplive, (pool_buf){bytes, p});
    return p;
}

/* Return one live buffer to the free list early (its gradient is complete and consumed). */
static void pool_put(coco_tape *tp, void *data) {
    for (size_t i = tp->nlive; i-- > 0;) {
        if (tp->live[i].data == data) {
            pool_push(&tp->free_, &tp->nfree, &tp->capfree, tp->live[i]);
            tp->live[i] = tp->live[--tp->nlive];
            return;
        }
    }
}

void *coco_tape_temp(coco_tape *tp, size_t nbytes) { return pool_get(tp, nbytes ? nbytes : 64); }
void coco_tape_temp_free(coco_tape *tp, void *p) {
    if (p) pool_put(tp, p);
}

float *coco_grad_acc(coco_tape *tp, coco_tensor *t, int *fresh) {
    if (!t || !t->requires_grad) return NULL;
    if (t->grad) {
        if (fresh) *fresh = 0;
        return coco_f32(t->grad);
    }
    if (t->kind == COCO_ARENA) {
        coco_tensor *g = coco_arena_alloc(tp->arena, sizeof *g);
        memset(g, 0, sizeof *g);
        g->dtype = COCO_F32;
        g->ndim = t->ndim;
        memcpy(g->shape, t->shape, sizeof g->shape);
        g->numel = t->numel;
        g->kind = COCO_ARENA;
        g->data = pool_get(tp, (size_t)t->numel * 4);
        t->grad = g;
        t->grad_pooled = 1;
        if (fresh)
            *fresh = 1;
        else
            memset(g->data, 0, (size_t)t->numel * 4);
    } else {
        t->grad = coco_tensor_new(COCO_F32, t->ndim, t->shape); /* zeroed */
        t->grad_pooled = 0;
        if (fresh) *fresh = 0;
    }
    return coco_f32(t->grad);
}

static void release_grad(coco_tape *tp, coco_tensor *t) {
    if (t->kind != COCO_ARENA || !t->grad || !t->grad_pooled || t->retain_grad) return;
    pool_put(tp, t->grad->data);
    t->grad = NULL;
}

void coco_grad_release(coco_tape *tp, coco_tensor *t) { release_grad(tp, t); }

/* Test hook: when set, the named op receives its upstream gradient scaled by
 * 1.1, i.e. its backward becomes wrong by 10%. The gradient tests use it to show
 * that each of them fails on a broken backward. */
static const char *g_mutate_op = NULL;
void coco_debug_set_mutation(const char *op) { g_mutate_op = op; }

static void run_backward(coco_tape *tp) {
    for (size_t k = tp->n; k-- > 0;) {
        coco_node *nd = &tp->nodes[k];
        if (!nd->out->grad) continue; /* nothing flowed into this output */
        if (g_mutate_op && strcmp(g_mutate_op, nd->op) == 0) {
            float *g = coco_f32(nd->out->grad);
            for (int64_t i = 0; i < nd->out->numel; i++) g[i] *= 1.1f;
        }
        if (coco_profile_enabled) {
            double t0 = coco_now();
            nd->backward(tp, nd);
            coco_profile_add(nd->op, 1, coco_now() - t0, nd->flops);
        } else {
            nd->backward(tp, nd);
        }
        release_grad(tp, nd->out);
    }
}

void coco_backward(coco_tape *tp, coco_tensor *loss) { coco_backward_scaled(tp, loss, 1.0f); }

void coco_backward_scaled(coco_tape *tp, coco_tensor *loss, float scale) {
    coco_check_not_null(loss, "backward", "loss");
    if (loss->numel != 1) {
        char b[96];
        coco_fail("backward: loss must be a scalar, got %s", coco_shape_str(loss, b, sizeof b));
    }
    if (!loss->requires_grad) coco_fail("backward: loss does not require grad (no parameter reached it, or grad was disabled)");
    int fresh;
    float *g = coco_grad_acc(tp, loss, &fresh);
    g[0] = fresh ? scale : g[0] + scale;
    run_backward(tp);
}

void coco_backward_from(coco_tape *tp, coco_tensor *out, const coco_tensor *grad_out) {
    coco_check_not_null(out, "backward_from", "out");
    coco_check_dtype(grad_out, COCO_F32, "backward_from", "grad_out");
    if (!coco_tensor_same_shape(out, grad_out)) {
        char a[96], b[96];
        coco_fail("backward_from: grad %s does not match output %s", coco_shape_str(grad_out, a, sizeof a),
                  coco_shape_str(out, b, sizeof b));
    }
    if (!out->requires_grad) coco_fail("backward_from: output does not require grad");
    int fresh;
    float *g = coco_grad_acc(tp, out, &fresh);
    const float *s = coco_f32(grad_out);
    for (int64_t i = 0; i < out->numel; i++) g[i] = fresh ? s[i] : g[i] + s[i];
    run_backward(tp);
}

void coco_zero_grad(coco_tensor *t) {
    if (!t || !t->grad) return;
    memset(t->grad->data, 0, (size_t)t->grad->numel * 4);
}

/* coconut/autograd.h — the tape: records ops of one step, replays them backwards.
 *
 * Contract
 *   - A tape owns an arena (activations, saved state) and a list of nodes. Ops
 *     (ops.h) allocate their outputs on the tape and record one node per call
 *     when grad is enabled and any input requires grad.
 *   - coco_backward seeds d(loss)=1 and runs the nodes in reverse. Each node's
 *     backward *accumulates* into its inputs' grads, so a tensor used twice gets
 *     the sum, and parameter grads accumulate across steps until zeroed.
 *   - Activation grads come from a pool owned by the tape; once a node's backward
 *     has run, nothing later can add to its output's grad, so that buffer goes
 *     back to the pool (unless the tensor has retain_grad). This bounds the
 *     memory of a backward pass to a few layers of gradients.
 *   - Leaf tensors on the heap (parameters) get heap grads that persist.
 *   - coco_tape_reset drops nodes and arena contents; the arena's memory and the
 *     pool's buffers are kept for the next step. Tensors allocated on the tape
 *     are invalid after a reset.
 *   - Dropout streams: each dropout-using op takes a fresh stream number from the
 *     tape, so masks are a pure function of (tape seed, op order, element index).
 *   - Not thread-safe: one tape per thread of control.
 */
#ifndef COCONUT_AUTOGRAD_H
#define COCONUT_AUTOGRAD_H

#include "coconut/tensor.h"

typedef struct coco_tape coco_tape;
typedef struct coco_node coco_node;
typedef void (*coco_backward_fn)(coco_tape *tp, coco_node *n);

#define COCO_NODE_MAX_IN 6

struct coco_node {
    const char *op;
    coco_backward_fn backward;
    coco_tensor *out;
    coco_tensor *in[COCO_NODE_MAX_IN];
    int n_in;
    void *saved;  /* op-specific state, arena-allocated */
    int64_t i[8]; /* op-specific integers */
    float f[4];   /* op-specific floats */
    double flops; /* backward flops, for the profile */
};

coco_tape *coco_tape_new(void);
void coco_tape_free(coco_tape *tp);
void coco_tape_reset(coco_tape *tp);
coco_arena *coco_tape_arena(coco_tape *tp);
void coco_tape_set_grad_enabled(coco_tape *tp, int on);
int coco_tape_grad_enabled(const coco_tape *tp);
void coco_tape_set_seed(coco_tape *tp, uint64_t seed);
uint64_t coco_tape_seed(const coco_tape *tp);
uint64_t coco_tape_next_stream(coco_tape *tp);
size_t coco_tape_num_nodes(const coco_tape *tp);
/* Bytes: arena in use now, and grad-pool buffers held. */
size_t coco_tape_bytes(const coco_tape *tp);

/* Arena tensor on the tape (uninitialised). */
coco_tensor *coco_tape_tensor(coco_tape *tp, coco_dtype dt, int ndim, const int64_t *shape);
/* Arena tensor shaped like `like` (f32). */
coco_tensor *coco_tape_like(coco_tape *tp, const coco_tensor *like);
void *coco_tape_alloc(coco_tape *tp, size_t nbytes);

/* Short-lived scratch from the tape's buffer pool (not the arena): give it back
 * with coco_tape_temp_free as soon as the op is done, so a big temporary does
 * not stay resident for the rest of the step. Uninitialised. */
void *coco_tape_temp(coco_tape *tp, size_t nbytes);
void coco_tape_temp_free(coco_tape *tp, void *p);

/* For op implementations: a large buffer of saved state that only the op's
 * backward reads (e.g. the fused LM head's [V, d] weight gradient). It is
 * malloc'd, and coco_tape_saved_big_free returns it to the OS the moment
 * backward is done with it, so it does not add to the step's peak alongside
 * the gradients that backward allocates afterwards. Freed on reset otherwise. */
void *coco_tape_saved_big(coco_tape *tp, size_t nbytes);
void coco_tape_saved_big_free(coco_tape *tp, void *p);

/* For op implementations: hands an arena tensor's pooled gradient back to the
 * pool once the caller knows nothing will read it again (no-op for heap
 * tensors and tensors marked retain_grad). */
void coco_grad_release(coco_tape *tp, coco_tensor *t);

/* For op implementations: whether any of the inputs needs a gradient. */
int coco_tape_needs_grad(const coco_tape *tp, int n, coco_tensor *const *in);
/* Records a node (call only when coco_tape_needs_grad); marks out->requires_grad. */
coco_node *coco_tape_record(coco_tape *tp, const char *op, coco_backward_fn bwd, coco_tensor *out, int n_in,
                            coco_tensor *const *in);

/* Gradient buffer of t for accumulation. If `fresh` is non-NULL and the buffer
 * is newly created, it is left uninitialised and *fresh = 1: the caller must
 * overwrite every element. Otherwise the buffer holds the sum so far (zero when
 * new) and *fresh = 0. Returns NULL when t does not require grad. */
float *coco_grad_acc(coco_tape *tp, coco_tensor *t, int *fresh);

/* Backward from a scalar loss (seed 1) or from any output with a given grad. */
void coco_backward(coco_tape *tp, coco_tensor *loss);
/* Seed d(loss) = scale instead of 1 (gradient accumulation over micro-batches). */
void coco_backward_scaled(coco_tape *tp, coco_tensor *loss, float scale);
void coco_backward_from(coco_tape *tp, coco_tensor *out, const coco_tensor *grad_out);

/* Zero the grad of a tensor (if it has one). */
void coco_zero_grad(coco_tensor *t);

/* Testing only: make op `op`'s backward wrong by 10% (NULL: off). */
void coco_debug_set_mutation(const char *op);

#endif

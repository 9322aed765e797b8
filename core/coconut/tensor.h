/* coconut/tensor.h — dense row-major tensors (f32 values, i32 ids), up to 4 dims.
 *
 * Contract
 *   - A tensor is always contiguous and row-major: element (i0,i1,i2,i3) lives at
 *     ((i0*s1 + i1)*s2 + i2)*s3 + i3. Rank 0 is a scalar with numel 1.
 *   - Three lifetimes:
 *       HEAP  — refcounted (coco_tensor_retain/release), owns its data;
 *               parameters, optimizer state, anything handed to Lua.
 *       VIEW  — heap handle onto a contiguous slice of another heap tensor; holds
 *               a reference to the owner.
 *       ARENA — header and data live in a tape's arena (step activations); valid
 *               until that tape is reset. retain/release are no-ops.
 *   - `grad` is an f32 tensor of the same shape, created on first accumulation
 *     (see autograd.h); `requires_grad` marks leaves and activations that need it.
 *   - Threading: tensors carry no locks; ops parallelise inside one op only.
 */
#ifndef COCONUT_TENSOR_H
#define COCONUT_TENSOR_H

#include "coconut/base.h"
#include "coconut/arena.h"

#define COCO_MAX_DIMS 4

typedef enum coco_dtype { COCO_F32 = 0, COCO_I32 = 1 } coco_dtype;
typedef enum coco_tkind { COCO_HEAP = 0, COCO_VIEW = 1, COCO_ARENA = 2 } coco_tkind;

typedef struct coco_tensor {
    coco_dtype dtype;
    int ndim;
    int64_t shape[COCO_MAX_DIMS];
    int64_t numel;
    void *data;
    struct coco_tensor *grad; /* f32, same shape; NULL until first accumulated */
    int requires_grad;
    int retain_grad;  /* keep an activation's grad after backward consumed it */
    coco_tkind kind;
    int refcount;     /* HEAP and VIEW only */
    struct coco_tensor *owner; /* VIEW: the heap tensor whose data this aliases */
    int grad_pooled;  /* grad data came from the tape's pool (autograd.c) */
} coco_tensor;

/* Creation. Heap tensors are zero-filled; arena tensors are uninitialised. */
coco_tensor *coco_tensor_new(coco_dtype dt, int ndim, const int64_t *shape);
coco_tensor *coco_tensor_new_arena(coco_arena *a, coco_dtype dt, int ndim, const int64_t *shape);
coco_tensor *coco_tensor_zeros(int ndim, const int64_t *shape); /* heap f32 */
/* N(0, std^2) from seed, deterministic. */
coco_tensor *coco_tensor_randn(int ndim, const int64_t *shape, uint64_t seed, float std);
/* Heap copy of any tensor (data only; no grad). */
coco_tensor *coco_tensor_clone(const coco_tensor *t);
/* Heap view of `count` leading-axis rows starting at `row0` (shares data). */
coco_tensor *coco_tensor_view_rows(coco_tensor *t, int64_t row0, int64_t count);

coco_tensor *coco_tensor_retain(coco_tensor *t);
void coco_tensor_release(coco_tensor *t);

/* Shape helpers. */
int coco_tensor_same_shape(const coco_tensor *a, const coco_tensor *b);
/* "[2,3,4] f32" into buf; returns buf. */
char *coco_shape_str(const coco_tensor *t, char *buf, size_t n);
int64_t coco_tensor_rows(const coco_tensor *t); /* product of all dims but the last */
int64_t coco_tensor_cols(const coco_tensor *t); /* last dim (1 for scalars) */

static inline float *coco_f32(const coco_tensor *t) { return (float *)t->data; }
static inline int32_t *coco_i32(const coco_tensor *t) { return (int32_t *)t->data; }

/* Checks that fail through coco_fail naming `op` and `arg`. */
void coco_check_dtype(const coco_tensor *t, coco_dtype dt, const char *op, const char *arg);
void coco_check_ndim(const coco_tensor *t, int lo, int hi, const char *op, const char *arg);
void coco_check_not_null(const void *p, const char *op, const char *arg);

/* Fill and copy (heap or arena). */
void coco_tensor_fill(coco_tensor *t, float v);
void coco_tensor_copy(coco_tensor *dst, const coco_tensor *src); /* same numel and dtype */

/* Max |a-b| / (|b| + tiny) style comparison used by tests and tools. */
double coco_max_abs_diff(const float *a, const float *b, int64_t n);

#endif

/* coconut/optim.h — AdamW, step for step what torch.optim.AdamW (1.13, default
 * single-tensor path, amsgrad off) computes, in f32:
 *     p *= 1 - lr*wd
 *     m  = b1*m + (1-b1)*g
 *     v  = b2*v + (1-b2)*g*g
 *     p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * Weight decay applies to every parameter (as the official Coconut code does).
 *
 * Contract
 *   - The optimizer holds references to the parameter tensors and reads their
 *     .grad. Gradient accumulation is the caller's: run several backward passes
 *     (scaled, see coco_backward_scaled) and then one step.
 *   - clip > 0 rescales all grads so their global L2 norm is at most clip
 *     (torch.nn.utils.clip_grad_norm_: coef = clip / (norm + 1e-6), capped at 1).
 *   - reset() zeroes the moments and the step count (stage switches).
 *   - save/load: safetensors with m.<name>, v.<name> and the step/config in
 *     metadata; load checks names and shapes, naming the file and tensor.
 *   - Elementwise work is split over the core's pool in fixed pieces; results do
 *     not depend on the thread count (no reductions except the clip norm,
 *     summed per piece and per tensor in a fixed order in double).
 */
#ifndef COCONUT_OPTIM_H
#define COCONUT_OPTIM_H

#include "coconut/tensor.h"

typedef struct coco_adamw_config {
    /* doubles, as the Python floats torch computes its scalars from */
    double lr, beta1, beta2, eps, weight_decay, clip; /* clip <= 0: off */
} coco_adamw_config;

typedef struct coco_adamw coco_adamw;

/* Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01, no clip (torch's defaults). */
coco_adamw_config coco_adamw_defaults(void);
coco_adamw *coco_adamw_new(int n, coco_tensor *const *params, const char *const *names, const coco_adamw_config *cfg);
void coco_adamw_free(coco_adamw *o);
/* One update; returns the global grad norm before clipping. NaN/Inf grads are
 * refused: returns NAN and leaves parameters untouched. */
double coco_adamw_step(coco_adamw *o);
void coco_adamw_reset(coco_adamw *o);
void coco_adamw_set_lr(coco_adamw *o, double lr);
coco_adamw_config coco_adamw_get_config(const coco_adamw *o);
int64_t coco_adamw_steps(const coco_adamw *o);
int coco_adamw_save(const coco_adamw *o, const char *path);
int coco_adamw_load(coco_adamw *o, const char *path);

/* Appended (issue 18: sending an optimizer's state to other processes).
 * The number of parameters, the first and second moments of parameter i
 * (which 0: m, 1: v; borrowed, shaped as the parameter) and a step count to
 * set, as coco_adamw_load would. */
int coco_adamw_count(const coco_adamw *o);
coco_tensor *coco_adamw_moment(const coco_adamw *o, int i, int which);
void coco_adamw_set_steps(coco_adamw *o, int64_t t);

#endif

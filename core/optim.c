/* optim.c — AdamW (see coconut/optim.h). */
#include "coconut/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/parallel.h"
#include "coconut/safetensors.h"

struct coco_adamw {
    coco_adamw_config cfg;
    int n;
    coco_tensor **p;
    char **names;
    coco_tensor **m, **v;
    int64_t t;
};

coco_adamw_config coco_adamw_defaults(void) {
    coco_adamw_config c = {1e-3, 0.9, 0.999, 1e-8, 0.01, 0.0};
    return c;
}

static void check_cfg(const coco_adamw_config *c) {
    if (!(c->lr >= 0)) coco_fail("adamw: lr = %g must be >= 0", (double)c->lr);
    if (!(c->beta1 >= 0 && c->beta1 < 1)) coco_fail("adamw: beta1 = %g must be in [0, 1)", (double)c->beta1);
    if (!(c->beta2 >= 0 && c->beta2 < 1)) coco_fail("adamw: beta2 = %g must be in [0, 1)", (double)c->beta2);
    if (!(c->eps >= 0)) coco_fail("adamw: eps = %g must be >= 0", (double)c->eps);
    if (!(c->weight_decay >= 0)) coco_fail("adamw: weight_decay = %g must be >= 0", (double)c->weight_decay);
}

coco_adamw *coco_adamw_new(int n, coco_tensor *const *params, const char *const *names, const coco_adamw_config *cfg) {
    if (n < 1) coco_fail("adamw: no parameters");
    coco_adamw_config c = cfg ? *cfg : coco_adamw_defaults();
    check_cfg(&c);
    coco_adamw *o = coco_calloc(1, sizeof *o, "adamw");
    o->cfg = c;
    o->n = n;
    o->p = coco_calloc((size_t)n, sizeof *o->p, "adamw");
    o->names = coco_calloc((size_t)n, sizeof *o->names, "adamw");
    o->m = coco_calloc((size_t)n, sizeof *o->m, "adamw");
    o->v = coco_calloc((size_t)n, sizeof *o->v, "adamw");
    for (int i = 0; i < n; i++) {
        coco_check_dtype(params[i], COCO_F32, "adamw", "params[i]");
        o->p[i] = coco_tensor_retain(params[i]);
        char buf[32];
        snprintf(buf, sizeof buf, "param%d", i);
        o->names[i] = coco_strdup(names && names[i] ? names[i] : buf);
        o->m[i] = coco_tensor_new(COCO_F32, params[i]->ndim, params[i]->shape);
        o->v[i] = coco_tensor_new(COCO_F32, params[i]->ndim, params[i]->shape);
    }
    return o;
}

void coco_adamw_free(coco_adamw *o) {
    if (!o) return;
    for (int i = 0; i < o->n; i++) {
        coco_tensor_release(o->p[i]);
        coco_tensor_release(o->m[i]);
        coco_tensor_release(o->v[i]);
        free(o->names[i]);
    }
    free(o->p);
    free(o->m);
    free(o->v);
    free(o->names);
    free(o);
}

/* The step runs as two pool jobs over fixed-size pieces of every parameter
 * (one job for all tensors: a small model has dozens of tiny ones). Pieces do
 * not depend on the thread count, and the squared-norm partials are summed in
 * piece order, so the norm and the update are the same on any thread count. */
#define ADAMW_PIECE 16384

typedef struct adamw_piece {
    int i;          /* parameter index */
    int64_t lo, hi; /* element range */
} adamw_piece;

typedef struct adamw_job {
    coco_adamw *o;
    const adamw_piece *pc;
    double *sq; /* [pieces] */
    float gscale, step_size, bc2_sqrt, decay, b1, b2, omb1, omb2, eps;
} adamw_job;

static void adamw_sq_range(void *ctx, int64_t lo, int64_t hi) {
    const adamw_job *j = ctx;
    for (int64_t k = lo; k < hi; k++) {
        const adamw_piece *pc = &j->pc[k];
        const float *g = coco_f32(j->o->p[pc->i]->grad);
        double s = 0;
        for (int64_t e = pc->lo; e < pc->hi; e++) s += (double)g[e] * g[e];
        j->sq[k] = s;
    }
}

static void adamw_update_range(void *ctx, int64_t lo, int64_t hi) {
    const adamw_job *j = ctx;
    const float gscale = j->gscale, step_size = j->step_size, bc2_sqrt = j->bc2_sqrt, decay = j->decay;
    const float b1 = j->b1, b2 = j->b2, omb1 = j->omb1, omb2 = j->omb2, eps = j->eps;
    for (int64_t k = lo; k < hi; k++) {
        const adamw_piece *pc = &j->pc[k];
        coco_tensor *pt = j->o->p[pc->i];
        float *p = coco_f32(pt), *m = coco_f32(j->o->m[pc->i]), *v = coco_f32(j->o->v[pc->i]);
        float *g = coco_f32(pt->grad);
        for (int64_t e = pc->lo; e < pc->hi; e++) {
            float ge = g[e];
            if (gscale != 1.0f) {
                ge *= gscale;
                g[e] = ge; /* clip_grad_norm_ rescales the grads in place */
            }
            p[e] *= decay;
            /* Same operation order as torch: mul_/add_(alpha), addcmul_(value),
             * addcdiv_ computes self + (value * t1) / t2. */
            m[e] = m[e] * b1 + omb1 * ge;
            v[e] = v[e] * b2 + omb2 * ge * ge;
            float denom = sqrtf(v[e]) / bc2_sqrt + eps;
            p[e] = p[e] + (-step_size * m[e]) / denom;
        }
    }
}

double coco_adamw_step(coco_adamw *o) {
    int64_t npc = 0;
    for (int i = 0; i < o->n; i++)
        if (o->p[i]->grad) npc += (o->p[i]->numel + ADAMW_PIECE - 1) / ADAMW_PIECE;
    adamw_piece *pc = coco_malloc(sizeof *pc * (size_t)(npc ? npc : 1), "adamw pieces");
    double *sq = coco_malloc(sizeof *sq * (size_t)(npc ? npc : 1), "adamw norm partials");
    int64_t k = 0;
    for (int i = 0; i < o->n; i++) {
        if (!o->p[i]->grad) continue;
        for (int64_t lo = 0; lo < o->p[i]->numel; lo += ADAMW_PIECE)
            pc[k++] = (adamw_piece){i, lo, lo + ADAMW_PIECE < o->p[i]->numel ? lo + ADAMW_PIECE : o->p[i]->numel};
    }
    adamw_job j = {.o = o, .pc = pc, .sq = sq};
    /* Global norm of the gradients, per tensor then across tensors (torch's order). */
    coco_parallel_for(npc, coco_parallel_grain(npc, 1, 4), adamw_sq_range, &j);
    double total = 0;
    for (int64_t a = 0; a < npc;) {
        double s = 0;
        int64_t b = a;
        for (; b < npc && pc[b].i == pc[a].i; b++) s += sq[b];
        total += s;
        a = b;
    }
    double norm = sqrt(total);
    if (!isfinite(norm)) {
        free(pc), free(sq);
        return NAN;
    }
    float gscale = 1.0f;
    if (o->cfg.clip > 0) {
        double coef = (double)o->cfg.clip / (norm + 1e-6);
        if (coef < 1.0) gscale = (float)coef;
    }
    o->t++;
    const coco_adamw_config *c = &o->cfg;
    /* Scalars in double, rounded to f32 where torch's kernels round them. */
    double bc1 = 1.0 - pow(c->beta1, (double)o->t), bc2 = 1.0 - pow(c->beta2, (double)o->t);
    j.gscale = gscale;
    j.step_size = (float)(c->lr / bc1);
    j.bc2_sqrt = (float)sqrt(bc2);
    j.decay = (float)(1.0 - c->lr * c->weight_decay);
    j.b1 = (float)c->beta1, j.b2 = (float)c->beta2, j.omb1 = (float)(1.0 - c->beta1), j.omb2 = (float)(1.0 - c->beta2);
    j.eps = (float)c->eps;
    coco_parallel_for(npc, coco_parallel_grain(npc, 1, 4), adamw_update_range, &j);
    free(pc), free(sq);
    return norm;
}

void coco_adamw_reset(coco_adamw *o) {
    for (int i = 0; i < o->n; i++) {
        memset(o->m[i]->data, 0, (size_t)o->m[i]->numel * 4);
        memset(o->v[i]->data, 0, (size_t)o->v[i]->numel * 4);
    }
    o->t = 0;
}

void coco_adamw_set_lr(coco_adamw *o, double lr) {
    if (!(lr >= 0)) coco_fail("adamw: lr = %g must be >= 0", (double)lr);
    o->cfg.lr = lr;
}
coco_adamw_config coco_adamw_get_config(const coco_adamw *o) { return o->cfg; }
int64_t coco_adamw_steps(const coco_adamw *o) { return o->t; }

int coco_adamw_save(const coco_adamw *o, const char *path) {
    coco_st_item *items = coco_malloc(sizeof *items * (size_t)(2 * o->n), "adamw save");
    char **nm = coco_malloc(sizeof *nm * (size_t)(2 * o->n), "adamw save");
    for (int i = 0; i < o->n; i++) {
        size_t l = strlen(o->names[i]) + 3;
        nm[2 * i] = coco_malloc(l, "name");
        nm[2 * i + 1] = coco_malloc(l, "name");
        snprintf(nm[2 * i], l, "m.%s", o->names[i]);
        snprintf(nm[2 * i + 1], l, "v.%s", o->names[i]);
        items[2 * i] = (coco_st_item){nm[2 * i], o->m[i]};
        items[2 * i + 1] = (coco_st_item){nm[2 * i + 1], o->v[i]};
    }
    char step[32], cfg[256];
    snprintf(step, sizeof step, "%lld", (long long)o->t);
    snprintf(cfg, sizeof cfg, "{\"lr\": %.17g, \"beta1\": %.17g, \"beta2\": %.17g, \"eps\": %.17g, \"weight_decay\": %.17g, \"clip\": %.17g}",
             o->cfg.lr, o->cfg.beta1, o->cfg.beta2, o->cfg.eps, o->cfg.weight_decay, o->cfg.clip);
    const char *meta[6] = {"kind", "coconut.adamw", "step", step, "config", cfg};
    int rc = coco_st_save(path, items, 2 * o->n, meta, 3);
    for (int i = 0; i < 2 * o->n; i++) free(nm[i]);
    free(nm);
    free(items);
    return rc;
}

int coco_adamw_load(coco_adamw *o, const char *path) {
    coco_st_file *f = coco_st_open(path);
    if (!f) return -1;
    const char *kind = coco_st_meta(f, "kind"), *step = coco_st_meta(f, "step");
    if (!kind || strcmp(kind, "coconut.adamw") != 0 || !step) {
        coco_st_close(f);
        return coco_seterr("%s: not an AdamW state file (metadata kind/step missing)", path);
    }
    /* Validate everything before touching the optimizer. */
    coco_tensor **mv = coco_calloc((size_t)(2 * o->n), sizeof *mv, "adamw load");
    int rc = 0;
    for (int i = 0; i < o->n && rc == 0; i++)
        for (int w = 0; w < 2 && rc == 0; w++) {
            char name[512];
            snprintf(name, sizeof name, "%c.%s", w ? 'v' : 'm', o->names[i]);
            coco_tensor *t = coco_st_get(f, name);
            if (!t) {
                rc = coco_seterr("%s: missing tensor '%s'", path, name);
            } else if (t->dtype != COCO_F32 || !coco_tensor_same_shape(t, o->p[i])) {
                char a[96], b[96];
                rc = coco_seterr("%s: tensor '%s' is %s, parameter is %s", path, name, coco_shape_str(t, a, sizeof a),
                                 coco_shape_str(o->p[i], b, sizeof b));
            }
            mv[2 * i + w] = t;
        }
    if (rc == 0 && coco_st_count(f) != 2 * o->n)
        rc = coco_seterr("%s: holds %d tensors, expected %d (2 per parameter)", path, coco_st_count(f), 2 * o->n);
    if (rc == 0) {
        for (int i = 0; i < o->n; i++) {
            coco_tensor_copy(o->m[i], mv[2 * i]);
            coco_tensor_copy(o->v[i], mv[2 * i + 1]);
        }
        o->t = strtoll(step, NULL, 10);
    }
    for (int i = 0; i < 2 * o->n; i++) coco_tensor_release(mv[i]);
    free(mv);
    coco_st_close(f);
    return rc;
}

int coco_adamw_count(const coco_adamw *o) { return o->n; }

coco_tensor *coco_adamw_moment(const coco_adamw *o, int i, int which) {
    if (i < 0 || i >= o->n) coco_fail("adamw: parameter index %d outside [0, %d)", i, o->n);
    return which ? o->v[i] : o->m[i];
}

void coco_adamw_set_steps(coco_adamw *o, int64_t t) {
    if (t < 0) coco_fail("adamw: step count %lld must be >= 0", (long long)t);
    o->t = t;
}

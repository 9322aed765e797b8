/* tensor.c — tensor lifetimes, creation and checks (see coconut/tensor.h). */
#include "coconut/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/rng.h"

static const char *dtype_name(coco_dtype d) { return d == COCO_F32 ? "f32" : "i32"; }

static int64_t shape_numel(int ndim, const int64_t *shape, const char *what) {
    if (ndim < 0 || ndim > COCO_MAX_DIMS) coco_fail("%s: rank %d is outside 0..%d", what, ndim, COCO_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) coco_fail("%s: negative dimension %lld at axis %d", what, (long long)shape[i], i);
        n *= shape[i];
    }
    return n;
}

static void init_header(coco_tensor *t, coco_dtype dt, int ndim, const int64_t *shape, int64_t numel) {
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->numel = numel;
}

coco_tensor *coco_tensor_new(coco_dtype dt, int ndim, const int64_t *shape) {
    int64_t n = shape_numel(ndim, shape, "tensor_new");
    coco_tensor *t = coco_malloc(sizeof *t, "tensor header");
    init_header(t, dt, ndim, shape, n);
    size_t bytes = (size_t)n * 4;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) coco_fail("out of memory allocating a %lld-element tensor", (long long)n);
    memset(p, 0, bytes);
    t->data = p;
    t->kind = COCO_HEAP;
    t->refcount = 1;
    return t;
}

coco_tensor *coco_tensor_new_arena(coco_arena *a, coco_dtype dt, int ndim, const int64_t *shape) {
    int64_t n = shape_numel(ndim, shape, "tensor_new_arena");
    coco_tensor *t = coco_arena_alloc(a, sizeof *t);
    init_header(t, dt, ndim, shape, n);
    t->data = coco_arena_alloc(a, (size_t)n * 4);
    t->kind = COCO_ARENA;
    return t;
}

coco_tensor *coco_tensor_zeros(int ndim, const int64_t *shape) { return coco_tensor_new(COCO_F32, ndim, shape); }

coco_tensor *coco_tensor_randn(int ndim, const int64_t *shape, uint64_t seed, float std) {
    coco_tensor *t = coco_tensor_new(COCO_F32, ndim, shape);
    coco_rng r;
    coco_rng_seed(&r, seed);
    float *p = coco_f32(t);
    for (int64_t i = 0; i < t->numel; i++) p[i] = (float)(coco_rng_normal(&r) * std);
    return t;
}

coco_tensor *coco_tensor_clone(const coco_tensor *t) {
    coco_tensor *c = coco_tensor_new(t->dtype, t->ndim, t->shape);
    memcpy(c->data, t->data, (size_t)t->numel * 4);
    return c;
}

coco_tensor *coco_tensor_view_rows(coco_tensor *t, int64_t row0, int64_t count) {
    if (t->kind == COCO_ARENA) coco_fail("view_rows: cannot take a heap view of an arena tensor");
    if (t->ndim < 1) coco_fail("view_rows: tensor is a scalar");
    if (row0 < 0 || count < 0 || row0 + count > t->shape[0])
        coco_fail("view_rows: rows [%lld, %lld) outside leading dimension %lld", (long long)row0,
                  (long long)(row0 + count), (long long)t->shape[0]);
    coco_tensor *v = coco_malloc(sizeof *v, "tensor view");
    int64_t inner = t->numel / (t->shape[0] ? t->shape[0] : 1);
    int64_t shape[COCO_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = count;
    init_header(v, t->dtype, t->ndim, shape, count * inner);
    coco_tensor *owner = t->kind == COCO_VIEW ? t->owner : t;
    v->data = (char *)t->data + (size_t)(row0 * inner) * 4;
    v->kind = COCO_VIEW;
    v->refcount = 1;
    v->owner = coco_tensor_retain(owner);
    return v;
}

coco_tensor *coco_tensor_retain(coco_tensor *t) {
    if (t && t->kind != COCO_ARENA) t->refcount++;
    return t;
}

void coco_tensor_release(coco_tensor *t) {
    if (!t || t->kind == COCO_ARENA) return;
    if (--t->refcount > 0) return;
    if (t->grad && !t->grad_pooled) coco_tensor_release(t->grad);
    if (t->kind == COCO_VIEW)
        coco_tensor_release(t->owner);
    else
        free(t->data);
    free(t);
}

int coco_tensor_same_shape(const coco_tensor *a, const coco_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

char *coco_shape_str(const coco_tensor *t, char *buf, size_t n) {
    if (!t) {
        snprintf(buf, n, "(null)");
        return buf;
    }
    size_t k = 0;
    k += snprintf(buf + k, n - k, "[");
    for (int i = 0; i < t->ndim && k < n; i++) k += snprintf(buf + k, n - k, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "] %s", dtype_name(t->dtype));
    return buf;
}

int64_t coco_tensor_cols(const coco_tensor *t) { return t->ndim ? t->shape[t->ndim - 1] : 1; }
int64_t coco_tensor_rows(const coco_tensor *t) {
    int64_t c = coco_tensor_cols(t);
    return c ? t->numel / c : 0;
}

void coco_check_not_null(const void *p, const char *op, const char *arg) {
    if (!p) coco_fail("%s: argument '%s' is NULL", op, arg);
}

void coco_check_dtype(const coco_tensor *t, coco_dtype dt, const char *op, const char *arg) {
    coco_check_not_null(t, op, arg);
    if (t->dtype != dt) {
        char b[96];
        coco_fail("%s: '%s' must be %s, got %s", op, arg, dtype_name(dt), coco_shape_str(t, b, sizeof b));
    }
}

void coco_check_ndim(const coco_tensor *t, int lo, int hi, const char *op, const char *arg) {
    coco_check_not_null(t, op, arg);
    if (t->ndim < lo || t->ndim > hi) {
        char b[96];
        if (lo == hi)
            coco_fail("%s: '%s' must have rank %d, got %s", op, arg, lo, coco_shape_str(t, b, sizeof b));
        coco_fail("%s: '%s' must have rank %d..%d, got %s", op, arg, lo, hi, coco_shape_str(t, b, sizeof b));
    }
}

void coco_tensor_fill(coco_tensor *t, float v) {
    if (t->dtype == COCO_F32) {
        float *p = coco_f32(t);
        for (int64_t i = 0; i < t->numel; i++) p[i] = v;
    } else {
        int32_t *p = coco_i32(t);
        for (int64_t i = 0; i < t->numel; i++) p[i] = (int32_t)v;
    }
}

void coco_tensor_copy(coco_tensor *dst, const coco_tensor *src) {
    if (dst->numel != src->numel || dst->dtype != src->dtype) {
        char a[96], b[96];
        coco_fail("tensor_copy: destination %s and source %s differ", coco_shape_str(dst, a, sizeof a),
                  coco_shape_str(src, b, sizeof b));
    }
    memmove(dst->data, src->data, (size_t)src->numel * 4);
}

double coco_max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

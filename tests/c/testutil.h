/* testutil.h — shared helpers for the C tests (cmocka).
 *
 *  - EXPECT_FAIL(stmt, substr): runs stmt with an error handler that longjmps
 *    back, and asserts that coco_fail was called with a message containing substr.
 *  - gradcheck(): central finite differences of L = sum(out * R) (R fixed random)
 *    against the tape's backward, for every element of every input marked
 *    requires_grad. Forward in f32, L accumulated in double.
 *    Tolerance: |num - ana| <= atol + rtol * max(|num|, |ana|); with h = 1e-2 the
 *    truncation error is O(h^2 f''') ~ 1e-4 and the f32 rounding noise in L is
 *    ~1e-7 |L| / h ~ 1e-4 for the small, O(1)-scaled tensors used here, so
 *    atol = 2e-3, rtol = 1e-2 has margin while a backward that is off by 10%
 *    (the mutation hook) or drops a term fails.
 *  - fixture_dir(): tests/fixtures (the tests run from the project root).
 *  - shared_data(): ../shared/data or $COCONUT_SHARED_DATA, NULL if absent.
 */
#ifndef COCONUT_TESTUTIL_H
#define COCONUT_TESTUTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "coconut/autograd.h"
#include "coconut/gemm.h"
#include "coconut/ops.h"
#include "coconut/rng.h"
#include "coconut/runtime.h"

static jmp_buf tu_jmp;
static char tu_msg[2048];
static int tu_armed;

static void tu_handler(const char *msg, void *ud) {
    (void)ud;
    snprintf(tu_msg, sizeof tu_msg, "%s", msg);
    if (tu_armed) longjmp(tu_jmp, 1);
    fprintf(stderr, "unexpected coconut error: %s\n", msg);
    abort();
}

static COCO_UNUSED void tu_install_handler(void) { coco_set_error_handler(tu_handler, NULL); }

#define EXPECT_FAIL(stmt, substr) \
    do { \
        tu_install_handler(); \
        tu_msg[0] = 0; \
        tu_armed = 1; \
        if (setjmp(tu_jmp) == 0) { \
            stmt; \
            tu_armed = 0; \
            fail_msg("expected an error containing '%s' from: %s", substr, #stmt); \
        } \
        tu_armed = 0; \
        if (!strstr(tu_msg, substr)) fail_msg("error '%s' does not contain '%s'", tu_msg, substr); \
    } while (0)

/* Heap tensor with N(0, std) values. */
static COCO_UNUSED coco_tensor *tu_randn(uint64_t seed, float std, int ndim, ...) {
    int64_t shape[COCO_MAX_DIMS];
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++) shape[i] = va_arg(ap, int64_t);
    va_end(ap);
    return coco_tensor_randn(ndim, shape, seed, std);
}

static COCO_UNUSED coco_tensor *tu_ids(int64_t n, const int32_t *vals) {
    coco_tensor *t = coco_tensor_new(COCO_I32, 1, (int64_t[]){n});
    memcpy(t->data, vals, (size_t)n * 4);
    return t;
}

typedef coco_tensor *(*tu_fwd)(coco_tape *tp, coco_tensor **in, void *ud);

static double tu_loss(tu_fwd f, coco_tensor **in, void *ud, coco_tape *tp, const float *R, int64_t *nout) {
    coco_tape_reset(tp);
    coco_tape_set_grad_enabled(tp, 0);
    coco_tensor *out = f(tp, in, ud);
    *nout = out->numel;
    double L = 0;
    for (int64_t i = 0; i < out->numel; i++) L += (double)coco_f32(out)[i] * (R ? R[i] : 1.0);
    coco_tape_set_grad_enabled(tp, 1);
    return L;
}

/* Returns the worst ratio err / (atol + rtol*scale): <= 1 passes. */
static COCO_UNUSED double gradcheck(const char *name, tu_fwd f, int n, coco_tensor **in, void *ud, double h,
                                    double atol, double rtol) {
    coco_tape *tp = coco_tape_new();
    coco_tape_set_seed(tp, 1234);
    /* Analytic. */
    for (int k = 0; k < n; k++)
        if (in[k] && in[k]->requires_grad) coco_zero_grad(in[k]);
    coco_tensor *out = f(tp, in, ud);
    coco_rng r;
    coco_rng_seed(&r, 99);
    int64_t nout = out->numel;
    float *R = malloc((size_t)nout * 4);
    for (int64_t i = 0; i < nout; i++) R[i] = (float)coco_rng_normal(&r);
    coco_tensor *g = coco_tape_tensor(tp, COCO_F32, out->ndim, out->shape);
    memcpy(g->data, R, (size_t)nout * 4);
    coco_backward_from(tp, out, g);
    double worst = 0;
    for (int k = 0; k < n; k++) {
        coco_tensor *x = in[k];
        if (!x || !x->requires_grad || x->dtype != COCO_F32) continue;
        assert_non_null(x->grad);
        float *ana = malloc((size_t)x->numel * 4);
        memcpy(ana, x->grad->data, (size_t)x->numel * 4);
        float *p = coco_f32(x);
        for (int64_t i = 0; i < x->numel; i++) {
            float keep = p[i];
            int64_t no;
            p[i] = keep + (float)h;
            double lp = tu_loss(f, in, ud, tp, R, &no);
            p[i] = keep - (float)h;
            double lm = tu_loss(f, in, ud, tp, R, &no);
            p[i] = keep;
            double hh = ((double)(keep + (float)h) - (double)(keep - (float)h));
            double num = (lp - lm) / hh;
            double a = ana[i];
            double tol = atol + rtol * fmax(fabs(num), fabs(a));
            double ratio = fabs(num - a) / tol;
            if (ratio > worst) worst = ratio;
            if (ratio > 1.0 && getenv("GRADCHECK_VERBOSE"))
                fprintf(stderr, "  %s: input %d elem %lld numeric %.6g analytic %.6g\n", name, k, (long long)i, num, a);
        }
        free(ana);
    }
    free(R);
    coco_tape_free(tp);
    return worst;
}

static COCO_UNUSED int tu_file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static COCO_UNUSED const char *shared_data(void) {
    static char buf[1024];
    const char *e = getenv("COCONUT_SHARED_DATA");
    if (e && *e) {
        snprintf(buf, sizeof buf, "%s", e);
        return tu_file_exists(buf) ? buf : NULL;
    }
    snprintf(buf, sizeof buf, "../shared/data");
    return tu_file_exists(buf) ? buf : NULL;
}

#endif

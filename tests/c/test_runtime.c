/* test_runtime.c — threads, BLIS kernel selection, arena, tensors, rng. */
#include <blis.h>
#include <pthread.h>
#include <stdatomic.h>

#include "coconut/optim.h"
#include "coconut/parallel.h"

#include "testutil.h"

/* The interposer's decision, on synthetic inputs (works on any CPU). */
static void test_blis_decision(void **s) {
    const char *why;
    char err[512];
    /* Zen 5 under BLIS 0.9.0: generic + AVX-512 -> skx. */
    assert_int_equal(coco_blis_decide_arch(BLIS_ARCH_GENERIC, 1, NULL, &why, err, sizeof err), BLIS_ARCH_SKX);
    assert_non_null(strstr(why, "skx"));
    /* An AVX-512 Intel part BLIS 0.9 files under haswell -> skx; without AVX-512 haswell stays. */
    assert_int_equal(coco_blis_decide_arch(BLIS_ARCH_HASWELL, 1, NULL, &why, err, sizeof err), BLIS_ARCH_SKX);
    assert_int_equal(coco_blis_decide_arch(BLIS_ARCH_HASWELL, 0, NULL, &why, err, sizeof err), BLIS_ARCH_HASWELL);
    assert_int_equal(coco_blis_decide_arch(BLIS_ARCH_HASWELL, 1, "blis", &why, err, sizeof err), BLIS_ARCH_HASWELL);
    /* Generic without AVX-512: leave it. */
    assert_int_equal(coco_blis_decide_arch(BLIS_ARCH_GENERIC, 0, NULL, &why, err, sizeof err), BLIS_ARCH_GENERIC);
    /* A CPU BLIS knows: never second-guess it. */
    assert_int_equal(coco_blis_decide_arch(BLIS_ARCH_ZEN3, 1, "auto", &why, err, sizeof err), BLIS_ARCH_ZEN3);
    /* Overrides. */
    assert_int_equal(coco_blis_decide_arch(BLIS_ARCH_GENERIC, 1, "blis", &why, err, sizeof err), BLIS_ARCH_GENERIC);
    assert_int_equal(coco_blis_decide_arch(BLIS_ARCH_ZEN3, 0, "haswell", &why, err, sizeof err), BLIS_ARCH_HASWELL);
    assert_int_equal(coco_blis_decide_arch(BLIS_ARCH_ZEN3, 0, "zen9", &why, err, sizeof err), -1);
    assert_non_null(strstr(err, "COCONUT_BLIS_ARCH='zen9' is not valid; use auto, blis, skx"));
}

/* On a machine with AVX-512 (or AVX2+FMA) the sgemm kernels must be optimised:
 * the reference kernels are 5x slower and would silently ruin every benchmark. */
static void test_blis_kernels_not_reference(void **s) {
    coco_runtime_info info;
    coco_runtime_info_get(&info);
    printf("# BLIS %s config %s (detected %s) kernels %s; avx512 %d avx2 %d\n", info.blis_version, info.blis_arch,
           info.blis_detected, info.blis_kernels, info.cpu_avx512, info.cpu_avx2_fma);
    if (info.cpu_avx512 || info.cpu_avx2_fma) {
        if (strcmp(info.blis_kernels, "optimzd") != 0)
            fail_msg("BLIS uses %s sgemm kernels (config %s) on a CPU with %s", info.blis_kernels, info.blis_arch,
                     info.cpu_avx512 ? "AVX-512" : "AVX2+FMA");
        assert_string_not_equal(info.blis_arch, "generic");
    }
}

static void test_threads(void **s) {
    int old = coco_threads();
    assert_true(old >= 1);
    coco_set_threads(1);
    assert_int_equal(coco_threads(), 1);
    assert_int_equal(bli_thread_get_num_threads(), 1);
    coco_set_threads(2);
    assert_int_equal(coco_threads(), 2);
    EXPECT_FAIL(coco_set_threads(0), "set_threads: thread count 0 is outside 1..1024");
    coco_set_error_handler(NULL, NULL);
    coco_set_threads(old);
}

/* GEMM wrapper against a naive product for all transpose combinations, with
 * row strides larger than the matrices (sub-matrix views). */
static void test_gemm_variants(void **s) {
    int64_t M = 13, N = 11, K = 7, pad = 3;
    coco_rng r;
    coco_rng_seed(&r, 5);
    float A[(13 + 3) * (13 + 3)], B[(13 + 3) * (13 + 3)], Cm[13 * (11 + 3)];
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
            for (size_t i = 0; i < sizeof A / 4; i++) A[i] = (float)coco_rng_normal(&r);
            for (size_t i = 0; i < sizeof B / 4; i++) B[i] = (float)coco_rng_normal(&r);
            for (size_t i = 0; i < sizeof Cm / 4; i++) Cm[i] = 1.0f;
            coco_sgemm(ta, tb, M, N, K, 2.0f, A, lda, B, ldb, 0.5f, Cm, ldc);
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double acc = 0;
                    for (int64_t k = 0; k < K; k++)
                        acc += (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
                    assert_float_equal(Cm[i * ldc + j], 2.0 * acc + 0.5, 1e-4);
                }
        }
}


/* ---------------------------------------------------------------- the pool */

typedef struct cover_ctx {
    _Atomic int *hits;
    int64_t grain;
    _Atomic int bad;   /* a range not aligned to grain, too long, or a bad slot */
    int nested;        /* call coco_parallel_for again from inside each range */
} cover_ctx;

static void count_inner(void *c_, int64_t lo, int64_t hi) {
    cover_ctx *c = c_;
    for (int64_t i = lo; i < hi; i++) atomic_fetch_add(&c->hits[i], 1);
}

static void cover_range(void *c_, int64_t lo, int64_t hi) {
    cover_ctx *c = c_;
    if (lo % c->grain || hi - lo > c->grain || hi <= lo) atomic_store(&c->bad, 1);
    if (coco_parallel_slot() < 0 || coco_parallel_slot() >= coco_threads()) atomic_store(&c->bad, 1);
    if (c->nested) {
        /* nested: runs inline, on this thread, over its own sub-ranges */
        int slot = coco_parallel_slot();
        cover_ctx in = {c->hits + lo, 1, 0, 0};
        coco_parallel_for(hi - lo, 1, count_inner, &in);
        if (coco_parallel_slot() != slot) atomic_store(&c->bad, 1);
        return;
    }
    count_inner(c, lo, hi);
}

static void check_cover(int64_t n, int64_t grain, int nested) {
    _Atomic int *hits = calloc((size_t)(n ? n : 1), sizeof *hits);
    cover_ctx c = {hits, grain, 0, nested};
    coco_parallel_for(n, grain, cover_range, &c);
    assert_int_equal(atomic_load(&c.bad), 0);
    for (int64_t i = 0; i < n; i++)
        if (atomic_load(&hits[i]) != 1) fail_msg("n=%lld grain=%lld: item %lld ran %d times", (long long)n, (long long)grain, (long long)i, atomic_load(&hits[i]));
    free(hits);
}

/* Every item runs exactly once, in ranges of at most grain aligned to grain,
 * on 1, 2 and 3 threads (more threads than cores must work too). */
static void test_parallel_for_cover(void **s) {
    int old = coco_threads();
    int64_t ns[] = {0, 1, 2, 7, 1000, 100003};
    int64_t grains[] = {1, 7, 64, 100003};
    for (int t = 1; t <= 3; t++) {
        coco_set_threads(t);
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
            for (size_t b = 0; b < sizeof grains / sizeof *grains; b++)
                for (int rep = 0; rep < 20; rep++) check_cover(ns[a], grains[b], 0);
        check_cover(5000, 100, 1);
    }
    coco_set_threads(old);
}

static void *hammer(void *arg) {
    for (int i = 0; i < 300; i++) check_cover(3000 + (int64_t)(intptr_t)arg, 17, 0);
    return NULL;
}

/* Two threads using the pool at once: one gets it, the other runs inline. */
static void test_parallel_for_two_callers(void **s) {
    int old = coco_threads();
    coco_set_threads(2);
    pthread_t a, b;
    pthread_create(&a, NULL, hammer, (void *)1);
    pthread_create(&b, NULL, hammer, (void *)2);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    coco_set_threads(old);
}

/* GEMMs large enough to be tiled, cut along M and along N, all transposes,
 * against a double-precision reference. */
static void test_gemm_tiled(void **s) {
    int old = coco_threads();
    coco_set_threads(2);
    int64_t shapes[2][3] = {{700, 130, 96}, {90, 1000, 80}};
    coco_rng r;
    coco_rng_seed(&r, 9);
    for (int sh = 0; sh < 2; sh++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int64_t M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2];
                int64_t lda = (ta ? M : K) + 5, ldb = (tb ? K : N) + 3, ldc = N + 2;
                float *A = malloc(sizeof(float) * (size_t)((ta ? K : M) * lda));
                float *B = malloc(sizeof(float) * (size_t)((tb ? N : K) * ldb));
                float *C = malloc(sizeof(float) * (size_t)(M * ldc));
                for (int64_t i = 0; i < (ta ? K : M) * lda; i++) A[i] = (float)coco_rng_normal(&r);
                for (int64_t i = 0; i < (tb ? N : K) * ldb; i++) B[i] = (float)coco_rng_normal(&r);
                for (int64_t i = 0; i < M * ldc; i++) C[i] = 1.0f;
                coco_sgemm(ta, tb, M, N, K, 1.5f, A, lda, B, ldb, 0.5f, C, ldc);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double acc = 0;
                        for (int64_t k = 0; k < K; k++)
                            acc += (double)(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
                        if (fabs(C[i * ldc + j] - (1.5 * acc + 0.5)) > 1e-3)
                            fail_msg("shape %d ta %d tb %d: C[%lld,%lld] = %g, want %g", sh, ta, tb, (long long)i, (long long)j,
                                     C[i * ldc + j], 1.5 * acc + 0.5);
                    }
                /* the padding between rows of C is untouched */
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = N; j < ldc; j++) assert_float_equal(C[i * ldc + j], 1.0f, 0.0f);
                free(A), free(B), free(C);
            }
    coco_set_threads(old);
}

/* AdamW and layernorm's weight gradient sum in fixed pieces: bitwise the same
 * on 1 and 3 threads. */
static void run_ln_adamw(int threads, float *out_w, float *out_x) {
    coco_set_threads(threads);
    int64_t rows = 333, d = 200;
    coco_tensor *x = coco_tensor_new(COCO_F32, 2, (int64_t[]){rows, d});
    coco_tensor *w = coco_tensor_new(COCO_F32, 1, (int64_t[]){d}), *b = coco_tensor_new(COCO_F32, 1, (int64_t[]){d});
    coco_rng r;
    coco_rng_seed(&r, 3);
    for (int64_t i = 0; i < x->numel; i++) coco_f32(x)[i] = (float)coco_rng_normal(&r);
    for (int64_t i = 0; i < d; i++) coco_f32(w)[i] = 1.0f + 0.1f * (float)coco_rng_normal(&r);
    x->requires_grad = w->requires_grad = b->requires_grad = 1;
    coco_tape *tp = coco_tape_new();
    coco_tensor *y = coco_layernorm(tp, x, w, b, 1e-5f);
    coco_tensor *g = coco_gelu(tp, y);
    coco_tensor *loss = coco_sum(tp, g);
    coco_backward(tp, loss);
    coco_tensor *ps[3] = {x, w, b};
    coco_adamw_config oc = coco_adamw_defaults();
    oc.clip = 0.5;
    coco_adamw *o = coco_adamw_new(3, ps, NULL, &oc);
    coco_adamw_step(o);
    memcpy(out_w, coco_f32(w), sizeof(float) * (size_t)d);
    memcpy(out_x, coco_f32(x), sizeof(float) * (size_t)x->numel);
    coco_adamw_free(o);
    coco_tape_free(tp);
    coco_tensor_release(x), coco_tensor_release(w), coco_tensor_release(b);
}

static void test_thread_count_invariance(void **s) {
    int old = coco_threads();
    static float w1[200], w3[200], x1[333 * 200], x3[333 * 200];
    run_ln_adamw(1, w1, x1);
    run_ln_adamw(3, w3, x3);
    assert_memory_equal(w1, w3, sizeof w1);
    assert_memory_equal(x1, x3, sizeof x1);
    coco_set_threads(old);
}

static void test_arena(void **s) {
    coco_arena *a = coco_arena_new();
    char *p = coco_arena_alloc(a, 10), *q = coco_arena_alloc(a, 100);
    assert_int_equal((uintptr_t)p % 64, 0);
    assert_int_equal((uintptr_t)q % 64, 0);
    assert_true(q >= p + 10);
    /* Larger than a chunk: still served. */
    char *big = coco_arena_alloc(a, (size_t)100 << 20);
    big[((size_t)100 << 20) - 1] = 1;
    size_t peak = coco_arena_peak(a);
    assert_true(peak >= ((size_t)100 << 20));
    coco_arena_reset(a);
    assert_int_equal(coco_arena_used(a), 0);
    /* After reset the step fits in one chunk. */
    size_t cap = coco_arena_capacity(a);
    coco_arena_alloc(a, 10);
    coco_arena_alloc(a, (size_t)100 << 20);
    assert_int_equal(coco_arena_capacity(a), cap);
    coco_arena_free(a);

    /* mark / rewind: memory after the mark is handed out again, before it is kept;
     * a rewind across a chunk the allocations spilled into empties that chunk. */
    a = coco_arena_new();
    char *keep = coco_arena_alloc(a, 1000);
    coco_arena_mark m = coco_arena_mark_now(a);
    char *x1 = coco_arena_alloc(a, 5000);
    coco_arena_rewind(a, m);
    assert_int_equal(coco_arena_used(a), 1024);
    char *x2 = coco_arena_alloc(a, 5000);
    assert_ptr_equal(x1, x2);
    assert_true(x2 >= keep + 1000);
    coco_arena_alloc(a, (size_t)80 << 20); /* a second chunk */
    size_t cap2 = coco_arena_capacity(a);
    coco_arena_rewind(a, m);
    assert_int_equal(coco_arena_used(a), 1024);
    char *x3 = coco_arena_alloc(a, (size_t)80 << 20); /* reuses the emptied chunk */
    assert_non_null(x3);
    assert_int_equal(coco_arena_capacity(a), cap2);
    char *x4 = coco_arena_alloc(a, 64);
    assert_non_null(x4);
    coco_arena_rewind(a, m);
    assert_ptr_equal(coco_arena_alloc(a, 5000), x1);
    coco_arena_free(a);
}

static void test_tensor_lifetimes(void **s) {
    coco_tensor *t = coco_tensor_zeros(3, (int64_t[]){2, 3, 4});
    assert_int_equal(t->numel, 24);
    coco_tensor *v = coco_tensor_view_rows(t, 1, 1);
    coco_f32(v)[0] = 5.0f;
    assert_float_equal(coco_f32(t)[12], 5.0f, 0);
    coco_tensor_release(t); /* the view keeps the data alive */
    assert_float_equal(coco_f32(v)[0], 5.0f, 0);
    coco_tensor_release(v);
    char buf[64];
    coco_tensor *i = coco_tensor_new(COCO_I32, 2, (int64_t[]){4, 1});
    assert_string_equal(coco_shape_str(i, buf, sizeof buf), "[4,1] i32");
    coco_tensor_release(i);
    EXPECT_FAIL(coco_tensor_zeros(2, (int64_t[]){2, -1}), "negative dimension -1 at axis 1");
    coco_set_error_handler(NULL, NULL);
}

static void test_rng_deterministic(void **s) {
    coco_tensor *a = coco_tensor_randn(1, (int64_t[]){1000}, 42, 1.0f), *b = coco_tensor_randn(1, (int64_t[]){1000}, 42, 1.0f);
    assert_memory_equal(a->data, b->data, 4000);
    double m = 0, v = 0;
    for (int i = 0; i < 1000; i++) m += coco_f32(a)[i];
    m /= 1000;
    for (int i = 0; i < 1000; i++) v += pow(coco_f32(a)[i] - m, 2);
    v /= 1000;
    assert_true(fabs(m) < 0.1 && fabs(v - 1) < 0.1);
    coco_tensor_release(a), coco_tensor_release(b);
    /* Counter-based stream: pure function. */
    assert_true(coco_hash_uniform(1, 2, 3) == coco_hash_uniform(1, 2, 3));
    assert_true(coco_hash_uniform(1, 2, 3) != coco_hash_uniform(1, 2, 4));
}

int main(void) {
    coco_runtime_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blis_decision),   cmocka_unit_test(test_blis_kernels_not_reference),
        cmocka_unit_test(test_threads),         cmocka_unit_test(test_gemm_variants),
        cmocka_unit_test(test_arena),           cmocka_unit_test(test_tensor_lifetimes),
        cmocka_unit_test(test_rng_deterministic),
        cmocka_unit_test(test_parallel_for_cover), cmocka_unit_test(test_parallel_for_two_callers),
        cmocka_unit_test(test_gemm_tiled),         cmocka_unit_test(test_thread_count_invariance),
    };
    return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}

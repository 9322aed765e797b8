/* test_runtime.c — threads, BLIS kernel selection, arena, tensors, rng. */
#include <blis.h>

#include "testutil.h"

/* The interposer's decision, on synthetic inputs (works on any CPU). */
static void test_blis_decision(void **s) {
    const char *why;
    char err[512];
    /* Zen 5 under BLIS 0.9.0: generic + AVX-512 -> skx. */
    assert_int_equal(coco_blis_decide_arch(BLIS_ARCH_GENERIC, 1, NULL, &why, err, sizeof err), BLIS_ARCH_SKX);
    assert_non_null(strstr(why, "skx"));
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
    };
    return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}

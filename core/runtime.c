/* runtime.c — threads, BLIS configuration choice, CPU features, timing, profile. */
#include "coconut/runtime.h"

#include <blis.h>
#include <dlfcn.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* ---------------------------------------------------------------- CPU features */

#if defined(__x86_64__) || defined(__i386__)
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
static int os_saves_ymm(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0; /* OSXSAVE */
    return (xgetbv0() & 0x6) == 0x6;
}
#endif

int coco_cpu_has_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!os_saves_ymm()) return 0;
    if ((xgetbv0() & 0xe6) != 0xe6) return 0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31); /* F, DQ, BW, VL */
    return (b & need) == need;
#else
    return 0;
#endif
}

int coco_cpu_has_avx2_fma(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!os_saves_ymm()) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx2 = (b >> 5) & 1;
    return fma && avx2;
#else
    return 0;
#endif
}

/* ---------------------------------------------------------------- BLIS arch */

/* The configurations Debian's x86_64 BLIS build registers. Forcing one of these
 * is allowed; anything else is refused before BLIS could abort on it. */
static const char *const x86_configs[] = {"skx",   "knl",       "haswell",     "sandybridge", "penryn",
                                          "zen3",  "zen2",      "zen",         "excavator",   "steamroller",
                                          "piledriver", "bulldozer", "generic", NULL};

const char *coco_blis_arch_name(int id) {
    if (id < 0 || id >= (int)BLIS_NUM_ARCHS) return "?";
    return bli_arch_string((arch_t)id);
}

int coco_blis_decide_arch(int detected, int cpu_avx512, const char *env, const char **reason, char *err,
                          size_t errlen) {
    if (env && *env && strcmp(env, "auto") != 0) {
        if (strcmp(env, "blis") == 0) {
            *reason = "COCONUT_BLIS_ARCH=blis: BLIS's own detection, uncorrected";
            return detected;
        }
        for (int i = 0; x86_configs[i]; i++) {
            if (strcmp(env, x86_configs[i]) != 0) continue;
            for (int id = 0; id < (int)BLIS_NUM_ARCHS; id++)
                if (strcmp(bli_arch_string((arch_t)id), env) == 0) {
                    *reason = "forced by COCONUT_BLIS_ARCH";
                    return id;
                }
        }
        size_t k = (size_t)snprintf(err, errlen, "COCONUT_BLIS_ARCH='%s' is not valid; use auto, blis", env);
        for (int i = 0; x86_configs[i] && k < errlen; i++) k += (size_t)snprintf(err + k, errlen - k, ", %s", x86_configs[i]);
        return -1;
    }
    if (detected == (int)BLIS_ARCH_GENERIC && cpu_avx512) {
        *reason = "BLIS detected no known CPU (generic reference kernels); CPU has AVX-512 F/BW/DQ/VL, using skx";
        return BLIS_ARCH_SKX;
    }
    /* BLIS 0.9 only calls an Intel part skx when it recognises the model as
     * having two AVX-512 FMA units; newer Xeons (Sapphire/Emerald Rapids, model
     * 143/207) fall through to haswell's AVX2 kernels. Measured on an Emerald
     * Rapids guest: GPT-2-shaped GEMMs at 95-100 GF/s with skx, 52 with haswell. */
    if (detected == (int)BLIS_ARCH_HASWELL && cpu_avx512) {
        *reason = "BLIS chose haswell (AVX2) on a CPU with AVX-512 F/BW/DQ/VL, using skx";
        return BLIS_ARCH_SKX;
    }
    *reason = "BLIS's own detection";
    return detected;
}

typedef arch_t (*arch_fn)(void);
static pthread_once_t g_arch_once = PTHREAD_ONCE_INIT;
static int g_arch_id = -1, g_arch_detected = -1;
static const char *g_arch_reason = "";
static char g_arch_err[512];

static void arch_init(void) {
    arch_fn real = (arch_fn)dlsym(RTLD_NEXT, "bli_arch_query_id");
    g_arch_detected = real ? (int)real() : (int)BLIS_ARCH_GENERIC;
    int id = coco_blis_decide_arch(g_arch_detected, coco_cpu_has_avx512(), getenv("COCONUT_BLIS_ARCH"),
                                   &g_arch_reason, g_arch_err, sizeof g_arch_err);
    if (id < 0) {
        /* coco_runtime_init reports this as an error first; a library user that
         * skipped init gets BLIS's own choice rather than a crash inside BLIS. */
        id = g_arch_detected;
        g_arch_reason = "invalid COCONUT_BLIS_ARCH ignored";
    }
    g_arch_id = id;
}

/* Interposes libblis's own symbol: BLIS calls this through its PLT whenever it
 * picks the context (kernels, blocksizes) for an operation. */
arch_t bli_arch_query_id(void) {
    pthread_once(&g_arch_once, arch_init);
    return (arch_t)g_arch_id;
}

/* ---------------------------------------------------------------- threads */

static int g_threads = 0;

int coco_cpu_count(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

/* Our pool (coconut/parallel.h) is the only source of threads: BLIS and any
 * OpenMP region run on one thread each (see gemm.c for why). */
static void threads_apply(void) {
    omp_set_num_threads(1);
    bli_thread_set_num_threads(1);
}

void coco_set_threads(int n) {
    if (n < 1 || n > 1024) coco_fail("set_threads: thread count %d is outside 1..1024", n);
    g_threads = n;
    threads_apply();
}

int coco_threads(void) {
    if (g_threads == 0) coco_runtime_init();
    return g_threads;
}

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static char g_init_err[600];

static void runtime_init_once(void) {
    omp_set_max_active_levels(1);
    int n = coco_cpu_count();
    const char *e = getenv("COCONUT_THREADS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end || v < 1 || v > 1024) {
            snprintf(g_init_err, sizeof g_init_err, "COCONUT_THREADS='%s' is not a thread count (1..1024)", e);
            return;
        }
        n = (int)v;
    }
    const char *r;
    char err[512];
    if (coco_blis_decide_arch(BLIS_ARCH_GENERIC, 0, getenv("COCONUT_BLIS_ARCH"), &r, err, sizeof err) < 0) {
        snprintf(g_init_err, sizeof g_init_err, "%s", err);
        return;
    }
    g_threads = n;
    threads_apply();
}

void coco_runtime_init(void) {
    pthread_once(&g_init_once, runtime_init_once);
    if (g_init_err[0]) coco_fail("%s", g_init_err);
}

void coco_runtime_info_get(coco_runtime_info *info) {
    coco_runtime_init();
    memset(info, 0, sizeof *info);
    info->version = COCONUT_VERSION_STRING;
    info->blis_version = bli_info_get_version_str();
    int id = (int)bli_arch_query_id();
    info->blis_arch = coco_blis_arch_name(id);
    info->blis_detected = coco_blis_arch_name(g_arch_detected);
    info->blis_reason = g_arch_reason;
    info->blis_kernels = bli_info_get_gemm_ukr_impl_string(BLIS_NAT, BLIS_FLOAT);
    info->threads = coco_threads();
    info->cpu_avx2_fma = coco_cpu_has_avx2_fma();
    info->cpu_avx512 = coco_cpu_has_avx512();
}

/* ---------------------------------------------------------------- timing */

double coco_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

long coco_peak_rss(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* ---------------------------------------------------------------- profile */

int coco_profile_enabled = 0;

#define PROF_MAX 64
static struct {
    const char *name;
    double sec[2], flops[2];
    long calls[2];
} g_prof[PROF_MAX];
static int g_nprof = 0;

void coco_profile_add(const char *name, int backward, double seconds, double flops) {
    int i;
    for (i = 0; i < g_nprof; i++)
        if (g_prof[i].name == name || strcmp(g_prof[i].name, name) == 0) break;
    if (i == g_nprof) {
        if (g_nprof == PROF_MAX) return;
        g_prof[g_nprof++].name = name;
    }
    g_prof[i].sec[backward] += seconds;
    g_prof[i].flops[backward] += flops;
    g_prof[i].calls[backward]++;
}

void coco_profile_reset(void) {
    memset(g_prof, 0, sizeof g_prof);
    g_nprof = 0;
}

void coco_profile_report(FILE *fp) {
    double total = 0;
    for (int i = 0; i < g_nprof; i++) total += g_prof[i].sec[0] + g_prof[i].sec[1];
    fprintf(fp, "%-22s %9s %9s %7s %9s %9s\n", "op", "fwd s", "bwd s", "share", "fwd GF/s", "bwd GF/s");
    for (int i = 0; i < g_nprof; i++) {
        double f = g_prof[i].sec[0], b = g_prof[i].sec[1];
        fprintf(fp, "%-22s %9.4f %9.4f %6.1f%% %9.1f %9.1f\n", g_prof[i].name, f, b,
                total > 0 ? 100.0 * (f + b) / total : 0.0, f > 0 ? g_prof[i].flops[0] / f * 1e-9 : 0.0,
                b > 0 ? g_prof[i].flops[1] / b * 1e-9 : 0.0);
    }
    fprintf(fp, "%-22s %9.4f\n", "total", total);
}

/* coconut/runtime.h — threads, BLIS kernel selection, CPU features, timing, profile.
 *
 * Contract
 *   - One thread count for the whole process (COCONUT_THREADS, default: the CPUs
 *     this process may run on). It sizes the core's own pool
 *     (coconut/parallel.h), which runs every parallel loop and tiles large
 *     GEMMs over single-threaded BLIS calls; BLIS and OpenMP are set to one
 *     thread. Nested parallelism is disabled: a GEMM issued from inside one of
 *     our parallel loops runs single-threaded.
 *   - BLIS kernel selection. Debian's BLIS 0.9.0 does not know AMD Zen 5 and
 *     falls back to its reference ("generic") kernels there, 5x slower. libcoconut
 *     interposes bli_arch_query_id(): when BLIS would pick "generic" or
 *     "haswell" (what 0.9 picks on Sapphire/Emerald Rapids Xeons) and the CPU
 *     (with OS support) has AVX-512 F/BW/DQ/VL, it answers "skx". The variable
 *     COCONUT_BLIS_ARCH overrides: "auto" (default), "blis" (BLIS's own choice,
 *     no correction) or a configuration name such as skx, zen3, haswell, generic.
 *     coco_runtime_init() validates the variables and fails with a clear message.
 *   - Profile: when enabled, ops add their forward/backward wall time under their
 *     name; coco_profile_report prints a table. Off by default (one branch per op).
 */
#ifndef COCONUT_RUNTIME_H
#define COCONUT_RUNTIME_H

#include <stdio.h>

#include "coconut/base.h"

typedef struct coco_runtime_info {
    const char *version;      /* coconut */
    const char *blis_version; /* e.g. "0.9.0" */
    const char *blis_arch;    /* configuration in use, e.g. "zen3" */
    const char *blis_detected;/* what BLIS itself detected */
    const char *blis_kernels; /* "optimzd" or "refrnce" (sgemm micro-kernel) */
    const char *blis_reason;  /* why this configuration was chosen */
    int threads;
    int cpu_avx2_fma;
    int cpu_avx512;           /* F, BW, DQ and VL, with OS support */
} coco_runtime_info;

/* Reads COCONUT_THREADS and COCONUT_BLIS_ARCH (once); fails on invalid values. */
void coco_runtime_init(void);
void coco_runtime_info_get(coco_runtime_info *info);

int coco_threads(void);
void coco_set_threads(int n); /* n >= 1; fails otherwise */
int coco_cpu_count(void);     /* CPUs in this process's affinity mask */

/* Pure decision used by the interposer (exposed for tests). `detected` and the
 * result are BLIS arch_t values; env may be NULL. On an invalid name returns -1
 * and writes a message into err. */
int coco_blis_decide_arch(int detected, int cpu_avx512, const char *env, const char **reason, char *err,
                          size_t errlen);
const char *coco_blis_arch_name(int id);

int coco_cpu_has_avx512(void);
int coco_cpu_has_avx2_fma(void);

/* Monotonic seconds. */
double coco_now(void);
/* Peak resident set size of the process in bytes (from /proc/self/status VmHWM). */
long coco_peak_rss(void);

/* Profiling. */
extern int coco_profile_enabled;
void coco_profile_add(const char *name, int backward, double seconds, double flops);
void coco_profile_reset(void);
void coco_profile_report(FILE *fp);

#endif

/* bench_util.h — helpers shared by the benchmarks: medians of repeated runs. */
#ifndef COCONUT_BENCH_UTIL_H
#define COCONUT_BENCH_UTIL_H

#include <stdlib.h>

static inline int bench_cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorts v in place). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmpd);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif

/* bench_util.h — helpers shared by the benchmarks: medians of repeated runs. */
#ifndef COCONUT_BENCH_UTIL_H
#define COCONUT_BENCH_UTIL_H

#include <stdlib.h>

#include "coconut/latent.h"

static inline int bench_cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorts v in place). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmpd);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The Coconut-shaped training batch every latent benchmark (and
 * bench/torch_small.py) uses: the last three ids of a V-token vocabulary are
 * <bot>, <eot>, <latent>; row b, column t holds (b*7919 + t*104729) % (V-3);
 * the first latent is at s = max(2, T - N - 30), <bot> at s-1, <eot> at s+N
 * (question first, latents near the end, as in ProsQA); labels are the tokens
 * after <eot>; positions 0..T-1, no padding. Returns s. Free with
 * coco_batch_free (the tensors are heap tensors). */
static inline int bench_coconut_batch(int B, int T, int N, int V, coco_batch *out) {
    int START = V - 3, END = V - 2, LAT = V - 1, s = T - N - 30;
    if (s < 2) s = 2;
    int64_t shape[2] = {B, T};
    coco_tensor *ids = coco_tensor_new(COCO_I32, 2, shape), *lab = coco_tensor_new(COCO_I32, 2, shape);
    coco_tensor *mask = coco_tensor_new(COCO_I32, 2, shape), *pos = coco_tensor_new(COCO_I32, 2, shape);
    coco_tensor_fill(mask, 1);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int32_t v = (int32_t)(((int64_t)b * 7919 + (int64_t)t * 104729) % (V - 3));
            if (t == s - 1) v = START;
            if (t >= s && t < s + N) v = LAT;
            if (t == s + N) v = END;
            coco_i32(ids)[b * T + t] = v;
            coco_i32(lab)[b * T + t] = t > s + N ? v : -100;
            coco_i32(pos)[b * T + t] = t;
        }
    *out = (coco_batch){.input_ids = ids, .attention_mask = mask, .labels = lab, .position_ids = pos};
    return s;
}

#endif

/* bench_tokenizer.c — encode throughput on real text: the questions of
 * ProntoQA's train.json (9000 texts, ~5.6 MB), one text per encode call, one
 * thread. Reported as MB/s (10^6 bytes of input per second), median of runs.
 * Side by side, measured in the same process on the same texts:
 *   - GPT-2 BPE with the word cache (default) vs. the same encoder with the
 *     cache off (every piece goes through the merge loop) — the reference;
 *   - the word-level tokenizer, for scale.
 * Target: GPT-2 with cache >= 10 MB/s.
 * Usage: bench_tokenizer [runs]   (COCONUT_BENCH_QUICK=1: 3 runs)
 * Data: ../shared/data or $COCONUT_SHARED_DATA; prints a skip line and exits 0
 * when absent. */
#include <jansson.h>
#include <stdio.h>

#include "bench_util.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coconut/runtime.h"
#include "coconut/tokenizer.h"

static const char *data_dir(void) {
    const char *e = getenv("COCONUT_SHARED_DATA");
    const char *d = e && *e ? e : "../shared/data";
    struct stat st;
    return stat(d, &st) == 0 ? d : NULL;
}

/* One pass over all texts; returns seconds, sets *ntok. */
static double run(coco_tokenizer *t, char **texts, size_t *lens, size_t n, int64_t *ntok) {
    double t0 = coco_now();
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t *ids;
        int64_t k = coco_tok_encode(t, texts[i], lens[i], &ids);
        if (k < 0) {
            fprintf(stderr, "encode failed: %s\n", coco_errmsg());
            exit(1);
        }
        total += k;
        free(ids);
    }
    *ntok = total;
    return coco_now() - t0;
}

static double measure(coco_tokenizer *t, char **texts, size_t *lens, size_t n, double mb, int runs, int64_t *ntok,
                      double *first) {
    double v[64];
    for (int r = 0; r < runs; r++) v[r] = mb / run(t, texts, lens, n, ntok);
    *first = v[0];
    return bench_median(v, runs);
}

int main(int argc, char **argv) {
    coco_runtime_init();
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (getenv("COCONUT_BENCH_QUICK")) runs = 3;
    if (runs < 1) runs = 1;
    if (runs > 64) runs = 64;
    const char *d = data_dir();
    char vpath[1024], qpath[1024];
    snprintf(vpath, sizeof vpath, "%s/gpt2-tokenizer", d ? d : "");
    snprintf(qpath, sizeof qpath, "%s/prontoqa/train.json", d ? d : "");
    struct stat st;
    if (!d) {
        printf("SKIP bench_tokenizer: shared data absent (../shared/data or $COCONUT_SHARED_DATA)\n");
        return 0;
    }
    if (stat(vpath, &st) != 0 || stat(qpath, &st) != 0) {
        printf("SKIP bench_tokenizer: needs %s and %s\n", vpath, qpath);
        return 0;
    }
    json_error_t je;
    json_t *root = json_load_file(qpath, 0, &je);
    if (!root) {
        fprintf(stderr, "%s:%d: %s\n", qpath, je.line, je.text);
        return 1;
    }
    size_t n = json_array_size(root);
    char **texts = malloc(n * sizeof *texts);
    size_t *lens = malloc(n * sizeof *lens), bytes = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *q = json_object_get(json_array_get(root, i), "question");
        texts[i] = strdup(json_string_value(q));
        lens[i] = json_string_length(q);
        bytes += lens[i];
    }
    json_decref(root);
    double mb = (double)bytes / 1e6;

    coco_tokenizer *g = coco_tok_gpt2_load(vpath, NULL);
    if (!g) {
        fprintf(stderr, "%s\n", coco_errmsg());
        return 1;
    }
    coco_tokenizer *w = coco_tok_words_build((const char *const *)texts, n, NULL, 0, 0);

    printf("tokenizer encode, ProntoQA train questions: %zu texts, %.2f MB, 1 thread, median of %d runs\n", n, mb,
           runs);
    int64_t tok_c, tok_r, tok_w;
    double first_c, first_r, first_w;
    double c = measure(g, texts, lens, n, mb, runs, &tok_c, &first_c);
    coco_tok_set_cache(g, 0);
    double r = measure(g, texts, lens, n, mb, runs, &tok_r, &first_r);
    double wl = measure(w, texts, lens, n, mb, runs, &tok_w, &first_w);
    printf("  %-34s %9s %10s %11s\n", "variant", "MB/s", "1st run", "tokens");
    printf("  %-34s %9.1f %10.1f %11lld\n", "gpt2 BPE, word cache (default)", c, first_c, (long long)tok_c);
    printf("  %-34s %9.1f %10.1f %11lld\n", "gpt2 BPE, no cache (reference)", r, first_r, (long long)tok_r);
    printf("  %-34s %9.1f %10.1f %11lld\n", "word-level", wl, first_w, (long long)tok_w);
    printf("  ratio cached / no-cache: %.2fx; target >= 10 MB/s: %s\n", c / r, c >= 10.0 ? "met" : "NOT met");
    if (tok_c != tok_r) {
        printf("  ERROR: cached and uncached token counts differ\n");
        return 1;
    }
    coco_tok_free(g);
    coco_tok_free(w);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    return 0;
}

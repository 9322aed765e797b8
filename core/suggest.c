/* suggest.c — edit distance and the closest-name rule behind "did you mean"
 * hints (coconut/suggest.h). Names are short (options, presets, plugins), so a
 * plain O(|a| |b|) table is fine; longer inputs are compared on their first
 * 255 characters, which is all a hint needs. */
#include "coconut/suggest.h"

#include <ctype.h>
#include <string.h>

#define COCO_SUGGEST_MAX 255

static int min3(int a, int b, int c) { return a < b ? (a < c ? a : c) : (b < c ? b : c); }

int coco_edit_distance(const char *a, const char *b) {
    if (!a) a = "";
    if (!b) b = "";
    size_t n = strlen(a), m = strlen(b);
    if (n > COCO_SUGGEST_MAX) n = COCO_SUGGEST_MAX;
    if (m > COCO_SUGGEST_MAX) m = COCO_SUGGEST_MAX;
    /* three rows of the table: i-2, i-1 and i (the swap looks two rows back) */
    int r0[COCO_SUGGEST_MAX + 1], r1[COCO_SUGGEST_MAX + 1], r2[COCO_SUGGEST_MAX + 1];
    int *pp = r0, *p = r1, *c = r2;
    for (size_t j = 0; j <= m; j++) p[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        c[0] = (int)i;
        int ai = tolower((unsigned char)a[i - 1]);
        for (size_t j = 1; j <= m; j++) {
            int bj = tolower((unsigned char)b[j - 1]);
            int cost = ai != bj;
            int v = min3(p[j] + 1, c[j - 1] + 1, p[j - 1] + cost);
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) && tolower((unsigned char)a[i - 2]) == bj &&
                pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
        }
        int *t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[m];
}

const char *coco_closest(const char *word, const char *const *candidates, int n) {
    if (!word || !*word || !candidates) return NULL;
    int len = (int)strlen(word);
    int limit = len / 3;
    if (limit > 3) limit = 3;
    if (limit < 1) limit = 1;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int k = 0; k < n; k++) {
        if (!candidates[k]) continue;
        int d = coco_edit_distance(word, candidates[k]);
        if (d < best_d) best_d = d, best = candidates[k];
    }
    return best;
}

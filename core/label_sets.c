/* label_sets.c — set-valued labels of a batch (issue 12's "bfs" loss): packing
 * per-example sets into the batch (coco_collate_sets) and checking the packed
 * form (coco_batch_check_sets). The loss itself is coco_cross_entropy_sets /
 * coco_lm_head_ce_sets (ops_loss.c); latent.c passes the sets to it.
 *
 * Packed form, i32 (see coconut/latent.h): set_pos [M] flat b*T + c of the
 * label column, set_offsets [M+1], set_ids [K]. */
#include <stdlib.h>
#include <string.h>

#include "coconut/latent.h"

/* ------------------------------------------------------------------ collate */

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* (position, set index) of one example, sorted by position. */
typedef struct pos_ix {
    int pos, k;
} pos_ix;

static int cmp_pos(const void *a, const void *b) {
    const pos_ix *x = a, *y = b;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Left padding and length of row r: coco_collate puts mask-0 pads, then the
 * example's tokens (mask 1), then mask-0 pads. */
static void row_extent(const coco_batch *b, int64_t r, int64_t T, int64_t *lp, int64_t *len) {
    const int32_t *m = coco_i32(b->attention_mask) + r * T;
    int64_t c = 0;
    while (c < T && !m[c]) c++;
    *lp = c;
    while (c < T && m[c]) c++;
    *len = c - *lp;
}

int coco_collate_sets(coco_batch *b, const coco_example_sets *sets) {
    int64_t B = b->input_ids->shape[0], T = b->input_ids->shape[1];
    int64_t M = 0, K = 0;
    for (int64_t i = 0; i < B; i++) {
        if (sets[i].n < 0) return coco_seterr("collate: example %lld: %d label sets", (long long)i + 1, sets[i].n);
        M += sets[i].n;
        if (sets[i].n > 0) K += sets[i].off[sets[i].n];
    }
    if (M == 0) return 0;
    if (!b->labels)
        return coco_seterr("collate: examples carry label_sets but no labels; a set's position needs label -100");
    /* Checks first, per example in position order; nothing is allocated for the batch until they pass. */
    int maxn = 0;
    for (int64_t i = 0; i < B; i++)
        if (sets[i].n > maxn) maxn = sets[i].n;
    pos_ix *order = coco_malloc(sizeof *order * (size_t)maxn, "collate label sets");
    int32_t *pos = coco_malloc(sizeof(int32_t) * (size_t)M, "collate label sets");
    int32_t *off = coco_malloc(sizeof(int32_t) * (size_t)(M + 1), "collate label sets");
    int32_t *ids = coco_malloc(sizeof(int32_t) * (size_t)(K ? K : 1), "collate label sets");
    int64_t m = 0, k = 0;
    off[0] = 0;
    int rc = 0;
    for (int64_t i = 0; i < B && rc == 0; i++) {
        const coco_example_sets *es = &sets[i];
        if (es->n == 0) continue;
        int64_t lp, len;
        row_extent(b, i, T, &lp, &len);
        for (int j = 0; j < es->n; j++) order[j] = (pos_ix){es->pos[j], j};
        qsort(order, (size_t)es->n, sizeof *order, cmp_pos);
        for (int j = 0; j < es->n && rc == 0; j++) {
            int p = order[j].pos, s = order[j].k;
            const int32_t *lab = coco_i32(b->labels) + i * T + lp;
            if (p < 1 || p >= len) {
                rc = coco_seterr("collate: example %lld: label set at position %d is outside 2..%lld (the example has %lld "
                                 "tokens; the first token has no logits before it)",
                                 (long long)i + 1, p + 1, (long long)len, (long long)len);
            } else if (j > 0 && order[j - 1].pos == p) {
                rc = coco_seterr("collate: example %lld: two label sets at position %d", (long long)i + 1, p + 1);
            } else if (lab[p] != -100) {
                rc = coco_seterr("collate: example %lld: label set at position %d, but labels[%d] = %d; a position scored "
                                 "by a set must have label -100",
                                 (long long)i + 1, p + 1, p + 1, lab[p]);
            } else if (es->off[s + 1] <= es->off[s]) {
                rc = coco_seterr("collate: example %lld: label set at position %d is empty", (long long)i + 1, p + 1);
            }
            if (rc) break;
            /* copy, sort, drop duplicates */
            int32_t *dst = ids + k;
            int n = es->off[s + 1] - es->off[s];
            memcpy(dst, es->ids + es->off[s], sizeof(int32_t) * (size_t)n);
            qsort(dst, (size_t)n, sizeof *dst, cmp_i32);
            if (dst[0] < 0) {
                rc = coco_seterr("collate: example %lld: label set at position %d has id %d (token ids are >= 0)",
                                 (long long)i + 1, p + 1, dst[0]);
                break;
            }
            int u = 1;
            for (int q = 1; q < n; q++)
                if (dst[q] != dst[u - 1]) dst[u++] = dst[q];
            k += u;
            pos[m] = (int32_t)(i * T + lp + p);
            off[++m] = (int32_t)k;
        }
    }
    free(order);
    if (rc == 0) {
        coco_tensor *P = coco_tensor_new(COCO_I32, 1, (int64_t[]){M});
        coco_tensor *O = coco_tensor_new(COCO_I32, 1, (int64_t[]){M + 1});
        coco_tensor *I = coco_tensor_new(COCO_I32, 1, (int64_t[]){k});
        memcpy(P->data, pos, sizeof(int32_t) * (size_t)M);
        memcpy(O->data, off, sizeof(int32_t) * (size_t)(M + 1));
        memcpy(I->data, ids, sizeof(int32_t) * (size_t)k);
        b->set_pos = P, b->set_offsets = O, b->set_ids = I;
    }
    free(pos), free(off), free(ids);
    return rc;
}

/* ------------------------------------------------------------------ checks */

static int check_1d(const coco_tensor *t, const char *name) {
    char s[96];
    if (t->dtype != COCO_I32 || t->ndim != 1)
        return coco_seterr("batch: '%s' must be i32 [n], got %s", name, coco_shape_str(t, s, sizeof s));
    return 0;
}

int coco_batch_check_sets(const coco_batch *b, int64_t V) {
    int have = !!b->set_pos + !!b->set_offsets + !!b->set_ids;
    if (have == 0) return 0;
    if (have != 3) return coco_seterr("batch: 'set_pos', 'set_offsets' and 'set_ids' go together; some are missing");
    if (check_1d(b->set_pos, "set_pos") || check_1d(b->set_offsets, "set_offsets") || check_1d(b->set_ids, "set_ids"))
        return -1;
    int64_t M = b->set_pos->numel, K = b->set_ids->numel;
    if (b->set_offsets->numel != M + 1)
        return coco_seterr("batch: 'set_offsets' has %lld entries but 'set_pos' has %lld sets (needs %lld)",
                           (long long)b->set_offsets->numel, (long long)M, (long long)M + 1);
    const int32_t *pos = coco_i32(b->set_pos), *off = coco_i32(b->set_offsets), *ids = coco_i32(b->set_ids);
    if (off[0] != 0) return coco_seterr("batch: set_offsets[0] = %d must be 0", off[0]);
    if (off[M] != K)
        return coco_seterr("batch: the last set offset is %d but 'set_ids' has %lld ids", off[M], (long long)K);
    if (M > 0 && !b->labels) return coco_seterr("batch: label sets need 'labels' (-100 at each set's column)");
    int64_t B = b->input_ids->shape[0], T = b->input_ids->shape[1];
    const int32_t *lab = M > 0 ? coco_i32(b->labels) : NULL, *mask = coco_i32(b->attention_mask);
    /* seen[v] = last set containing v (duplicate check, only with V known) */
    int32_t *seen = NULL;
    if (V > 0) {
        seen = coco_malloc(sizeof(int32_t) * (size_t)V, "label set check");
        for (int64_t v = 0; v < V; v++) seen[v] = -1;
    }
    int rc = 0;
    for (int64_t s = 0; s < M && rc == 0; s++) {
        int64_t p = pos[s], r = p / T, c = p % T;
        if (p < 0 || p >= B * T) {
            rc = coco_seterr("batch: label set %lld: set_pos %lld is outside [0, %lld) (B*T)", (long long)s, (long long)p,
                             (long long)(B * T));
        } else if (s > 0 && p <= pos[s - 1]) {
            rc = coco_seterr("batch: label set %lld: set_pos %lld after %d; set_pos must be strictly increasing",
                             (long long)s, (long long)p, pos[s - 1]);
        } else if (c == 0) {
            rc = coco_seterr("batch: label set %lld (row %lld, column 0): column 0 has no logits before it", (long long)s,
                             (long long)r);
        } else if (!mask[p]) {
            rc = coco_seterr("batch: label set %lld (row %lld, column %lld) is on a padded column (attention_mask 0)",
                             (long long)s, (long long)r, (long long)c);
        } else if (lab[p] != -100) {
            rc = coco_seterr("batch: label set %lld (row %lld, column %lld): labels there is %d, must be -100", (long long)s,
                             (long long)r, (long long)c, lab[p]);
        } else if (off[s + 1] <= off[s]) {
            rc = coco_seterr("batch: label set %lld (row %lld, column %lld) is empty (offsets %d, %d)", (long long)s,
                             (long long)r, (long long)c, off[s], off[s + 1]);
        } else if (off[s + 1] > K) {
            rc = coco_seterr("batch: label set %lld: offset %d is past the %lld ids", (long long)s, off[s + 1], (long long)K);
        }
        for (int32_t q = off[s]; rc == 0 && q < off[s + 1]; q++) {
            int32_t v = ids[q];
            if (v < 0 && V <= 0)
                rc = coco_seterr("batch: label set %lld (row %lld, column %lld): token id %d is negative", (long long)s,
                                 (long long)r, (long long)c, v);
            else if (V > 0 && (v < 0 || v >= V))
                rc = coco_seterr("batch: label set %lld (row %lld, column %lld): token id %d is outside the vocabulary "
                                 "[0, %lld)",
                                 (long long)s, (long long)r, (long long)c, v, (long long)V);
            else if (seen && seen[v] == (int32_t)s)
                rc = coco_seterr("batch: label set %lld (row %lld, column %lld): token id %d appears twice", (long long)s,
                                 (long long)r, (long long)c, v);
            else if (seen)
                seen[v] = (int32_t)s;
        }
    }
    free(seen);
    return rc;
}

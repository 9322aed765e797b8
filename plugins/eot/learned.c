/* learned.c — <eot> plugin "learned": a binary classifier on each candidate
 * thought's hidden state decides when latent mode ends (the paper's option (a),
 * ../shared/research/paper.md §3; experiments/eot_classifier.lua trains it).
 *
 * Options
 *   weights       safetensors file of the classifier (required; format below)
 *   threshold     stop when P(stop) > threshold (strict), in [0, 1]; default 0.5
 *   max_thoughts  cap: a row that has produced this many thoughts stops; 0 (default)
 *                 = the file's `max_thoughts` metadata (the largest count the
 *                 classifier was trained on; an error if the file has none)
 *   min_thoughts  a row with fewer thoughts continues whatever P says; default 0:
 *                 the decision at n = 0 (on the hidden state after the prompt,
 *                 which would become the first thought) is the classifier's too,
 *                 as the fixed k = 0 policy exists and the labels cover n = 0
 *
 * decide() (one call per latent step, the rows still thinking): row i stops iff
 *   n_thoughts[i] >= max_thoughts, or
 *   n_thoughts[i] >= min_thoughts and sigmoid(logit(x_i)) > threshold,
 * where x_i is built from rows i's hidden state alone, so a row's decision never
 * depends on the other rows of the batch (batched = one-at-a-time generation).
 * `planned` is ignored. hidden is [n, d] with d the model's width; d must equal
 * the file's `d` (checked on every call: a clear error naming the file and both
 * widths; the ABI passes d only to decide, so that is where it can be checked).
 *
 * File (written atomically by coco.eot, scripts/coco/eot.lua)
 *   __metadata__ (strings):
 *     format "coconut-eot-classifier", version "1",
 *     kind "logistic" | "mlp", d (hidden-state width), hidden (MLP width, mlp only),
 *     step_feature "true" | "false", normalize "standard" | "none",
 *     activation "gelu_tanh" (mlp), max_thoughts (optional), anything else (ignored)
 *   features: x = [h_1 .. h_d, n] (n = thoughts so far, only with step_feature), d_in = d + step_feature
 *   tensors (F32, [in, out] layout as coco_linear):
 *     norm.mean [d_in], norm.std [d_in] (normalize standard; std > 0): z = (x - mean) / std, else z = x
 *     logistic: out.weight [d_in, 1], out.bias [1]:           logit = z . w + b
 *     mlp:      fc1.weight [d_in, H], fc1.bias [H],
 *               out.weight [H, 1], out.bias [1]:              logit = gelu_tanh(z W1 + b1) . w + b
 *   P(stop) = 1 / (1 + exp(-logit)), computed in double.
 * Errors (create): missing/corrupt file, unknown format/kind, missing tensor,
 * shape disagreeing with the metadata, a non-finite value or std <= 0; each
 * message names the file (and the tensor or key).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/plugin.h"
#include "coconut/safetensors.h"

static const coco_host *host;

enum { KIND_LOGISTIC = 0, KIND_MLP = 1 };

typedef struct learned_eot {
    char *path;
    int kind, d, d_in, hidden, step_feature, normalize;
    int max_thoughts, min_thoughts;
    double threshold;
    float *mean, *std;      /* [d_in] (normalize) */
    float *w1, *b1;         /* mlp: [d_in, H], [H] */
    float *w, b;            /* out: [d_in or H] (the [in, 1] column), bias */
    double *z, *a;          /* scratch [d_in], [H] */
} learned_eot;

static const coco_option_spec options[] = {
    {"weights", COCO_OPT_STR, NULL, "safetensors file of the classifier (experiments/eot_classifier.lua writes it)"},
    {"threshold", COCO_OPT_NUM, "0.5", "stop when P(stop) > threshold, in [0, 1]"},
    {"max_thoughts", COCO_OPT_INT, "0", "cap on thoughts per example (0: the file's max_thoughts metadata)"},
    {"min_thoughts", COCO_OPT_INT, "0", "thoughts before the classifier may stop a row (0: it decides at n = 0 too)"},
    {NULL, 0, NULL, NULL},
};

static void learned_free(learned_eot *e) {
    if (!e) return;
    free(e->path);
    free(e->mean);
    free(e->std);
    free(e->w1);
    free(e->b1);
    free(e->w);
    free(e->z);
    free(e->a);
    free(e);
}

/* Parses a metadata integer in [lo, hi]; -1 + message naming the file and key. */
static int meta_int(const coco_st_file *f, const char *path, const char *key, int required, int lo, int hi, int *out) {
    const char *v = coco_st_meta(f, key);
    if (!v) {
        if (required) return host->seterr("eot 'learned': %s: metadata key '%s' is missing", path, key);
        return 1;
    }
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return host->seterr("eot 'learned': %s: metadata %s = '%s' is not an integer in %d..%d", path, key, v, lo, hi);
    *out = (int)x;
    return 0;
}

/* Copies tensor `name` of shape [r] or [r, c] (c = 0: rank 1) into a new float array. */
static float *take(const coco_st_file *f, const char *path, const char *name, int64_t r, int64_t c) {
    int i = coco_st_find(f, name);
    if (i < 0) {
        host->seterr("eot 'learned': %s: tensor '%s' is missing", path, name);
        return NULL;
    }
    int64_t shape[8];
    int nd = coco_st_shape(f, i, shape);
    int ok = c ? (nd == 2 && shape[0] == r && shape[1] == c) : (nd == 1 && shape[0] == r);
    if (!ok) {
        char got[96] = "[";
        for (int k = 0; k < nd && k < 4; k++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", k ? ", " : "", (long long)shape[k]);
        strncat(got, "]", sizeof got - strlen(got) - 1);
        if (c)
            host->seterr("eot 'learned': %s: tensor '%s' has shape %s, expected [%lld, %lld] from the metadata", path, name, got,
                         (long long)r, (long long)c);
        else
            host->seterr("eot 'learned': %s: tensor '%s' has shape %s, expected [%lld] from the metadata", path, name, got,
                         (long long)r);
        return NULL;
    }
    coco_tensor *t = coco_st_get(f, name);
    if (!t) {
        host->seterr("eot 'learned': %s: tensor '%s': %s", path, name, coco_errmsg());
        return NULL;
    }
    int64_t n = r * (c ? c : 1);
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!v) {
        coco_tensor_release(t);
        host->seterr("eot 'learned': out of memory");
        return NULL;
    }
    memcpy(v, t->data, sizeof(float) * (size_t)n);
    coco_tensor_release(t);
    for (int64_t k = 0; k < n; k++)
        if (!isfinite(v[k])) {
            host->seterr("eot 'learned': %s: tensor '%s' element %lld is not finite", path, name, (long long)k);
            free(v);
            return NULL;
        }
    return v;
}

/* Reads and validates the classifier file into e. 0, or -1 with the message set. */
static int load_weights(learned_eot *e, const char *path) {
    coco_st_file *f = coco_st_open(path);
    if (!f) {
        /* coco_errmsg names the file already */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", coco_errmsg());
        return host->seterr("eot 'learned': cannot read the weights: %s", msg);
    }
    int rc = -1;
    const char *fmt = coco_st_meta(f, "format");
    const char *kind = coco_st_meta(f, "kind");
    const char *step = coco_st_meta(f, "step_feature");
    const char *norm = coco_st_meta(f, "normalize");
    const char *act = coco_st_meta(f, "activation");
    const char *ver = coco_st_meta(f, "version");
    if (!fmt || strcmp(fmt, "coconut-eot-classifier") != 0) {
        host->seterr("eot 'learned': %s is not an <eot> classifier file (metadata format = '%s', expected "
                     "'coconut-eot-classifier'; experiments/eot_classifier.lua writes them)",
                     path, fmt ? fmt : "(none)");
        goto done;
    }
    if (!ver || strcmp(ver, "1") != 0) {
        host->seterr("eot 'learned': %s: classifier file version '%s' is not supported (expected 1)", path, ver ? ver : "(none)");
        goto done;
    }
    if (!kind || (strcmp(kind, "logistic") != 0 && strcmp(kind, "mlp") != 0)) {
        host->seterr("eot 'learned': %s: metadata kind = '%s', expected logistic or mlp", path, kind ? kind : "(none)");
        goto done;
    }
    e->kind = strcmp(kind, "mlp") == 0 ? KIND_MLP : KIND_LOGISTIC;
    if (!step || (strcmp(step, "true") != 0 && strcmp(step, "false") != 0)) {
        host->seterr("eot 'learned': %s: metadata step_feature = '%s', expected true or false", path, step ? step : "(none)");
        goto done;
    }
    e->step_feature = strcmp(step, "true") == 0;
    if (!norm || (strcmp(norm, "standard") != 0 && strcmp(norm, "none") != 0)) {
        host->seterr("eot 'learned': %s: metadata normalize = '%s', expected standard or none", path, norm ? norm : "(none)");
        goto done;
    }
    e->normalize = strcmp(norm, "standard") == 0;
    if (meta_int(f, path, "d", 1, 1, 1 << 20, &e->d) < 0) goto done;
    e->d_in = e->d + e->step_feature;
    if (e->kind == KIND_MLP) {
        if (meta_int(f, path, "hidden", 1, 1, 1 << 16, &e->hidden) < 0) goto done;
        if (!act || strcmp(act, "gelu_tanh") != 0) {
            host->seterr("eot 'learned': %s: metadata activation = '%s', expected gelu_tanh", path, act ? act : "(none)");
            goto done;
        }
    }
    int file_max = -1;
    if (meta_int(f, path, "max_thoughts", 0, 0, 100000, &file_max) < 0) goto done;
    if (e->max_thoughts == 0) {
        if (file_max < 0) {
            host->seterr("eot 'learned': %s has no max_thoughts metadata; set the option max_thoughts", path);
            goto done;
        }
        e->max_thoughts = file_max;
    }
    if (e->min_thoughts > e->max_thoughts) {
        host->seterr("eot 'learned': min_thoughts = %d is above max_thoughts = %d", e->min_thoughts, e->max_thoughts);
        goto done;
    }
    if (e->normalize) {
        if (!(e->mean = take(f, path, "norm.mean", e->d_in, 0))) goto done;
        if (!(e->std = take(f, path, "norm.std", e->d_in, 0))) goto done;
        for (int k = 0; k < e->d_in; k++)
            if (!(e->std[k] > 0)) {
                host->seterr("eot 'learned': %s: norm.std[%d] = %g must be > 0", path, k, e->std[k]);
                goto done;
            }
    }
    int in = e->d_in;
    if (e->kind == KIND_MLP) {
        if (!(e->w1 = take(f, path, "fc1.weight", e->d_in, e->hidden))) goto done;
        if (!(e->b1 = take(f, path, "fc1.bias", e->hidden, 0))) goto done;
        in = e->hidden;
    }
    if (!(e->w = take(f, path, "out.weight", in, 1))) goto done;
    float *b = take(f, path, "out.bias", 1, 0);
    if (!b) goto done;
    e->b = b[0];
    free(b);
    e->z = malloc(sizeof(double) * (size_t)e->d_in);
    e->a = malloc(sizeof(double) * (size_t)(e->hidden > 0 ? e->hidden : 1));
    if (!e->z || !e->a) {
        host->seterr("eot 'learned': out of memory");
        goto done;
    }
    rc = 0;
done:
    coco_st_close(f);
    return rc;
}

static int learned_create(const coco_options *o, void **self) {
    const char *path = host->opt_str(o, "weights");
    double thr = host->opt_num(o, "threshold");
    int64_t mx = host->opt_int(o, "max_thoughts"), mn = host->opt_int(o, "min_thoughts");
    if (!path || !*path) return host->seterr("eot 'learned': weights is empty; pass the classifier's safetensors file");
    if (!(thr >= 0 && thr <= 1)) return host->seterr("eot 'learned': threshold = %g is outside [0, 1]", thr);
    if (mx < 0 || mx > 100000) return host->seterr("eot 'learned': max_thoughts = %lld is outside 0..100000", (long long)mx);
    if (mn < 0 || mn > 100000) return host->seterr("eot 'learned': min_thoughts = %lld is outside 0..100000", (long long)mn);
    learned_eot *e = calloc(1, sizeof *e);
    if (!e) return host->seterr("eot 'learned': out of memory");
    e->path = strdup(path);
    e->threshold = thr;
    e->max_thoughts = (int)mx;
    e->min_thoughts = (int)mn;
    if (!e->path || load_weights(e, path) != 0) {
        int nomem = !e->path;
        learned_free(e);
        return nomem ? host->seterr("eot 'learned': out of memory") : -1;
    }
    *self = e;
    return 0;
}

static void learned_destroy(void *self) { learned_free(self); }

/* GPT-2's gelu_new (tanh approximation), the activation the trainer uses (coco_gelu). */
static double gelu_tanh(double x) { return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

/* P(stop) of one row: h [d] its hidden state, n its thought count. */
static double p_stop(learned_eot *e, const float *h, int n) {
    for (int j = 0; j < e->d; j++) e->z[j] = h[j];
    if (e->step_feature) e->z[e->d] = n;
    if (e->normalize)
        for (int j = 0; j < e->d_in; j++) e->z[j] = (e->z[j] - e->mean[j]) / e->std[j];
    double logit = e->b;
    if (e->kind == KIND_MLP) {
        for (int k = 0; k < e->hidden; k++) e->a[k] = e->b1[k];
        for (int j = 0; j < e->d_in; j++) {
            const float *row = e->w1 + (size_t)j * e->hidden; /* [d_in, H] row j */
            for (int k = 0; k < e->hidden; k++) e->a[k] += e->z[j] * row[k];
        }
        for (int k = 0; k < e->hidden; k++) logit += gelu_tanh(e->a[k]) * e->w[k];
    } else {
        for (int j = 0; j < e->d_in; j++) logit += e->z[j] * e->w[j];
    }
    return 1.0 / (1.0 + exp(-logit));
}

static int learned_decide(void *self, int n, const int *rows, const int *n_thoughts, const int *planned, const float *hidden,
                          int d, unsigned char *stop) {
    learned_eot *e = self;
    if (d != e->d)
        return host->seterr("eot 'learned': %s holds a classifier of hidden states of width %d, but this model's hidden "
                            "states have width %d (train the classifier on this model's thoughts)",
                            e->path, e->d, d);
    for (int i = 0; i < n; i++) {
        int k = n_thoughts[i];
        if (k >= e->max_thoughts) stop[i] = 1;
        else if (k < e->min_thoughts) stop[i] = 0;
        else stop[i] = p_stop(e, hidden + (size_t)i * d, k) > e->threshold;
    }
    return 0;
}

static int learned_max_thoughts(void *self) { return ((learned_eot *)self)->max_thoughts; }

static const coco_eot_vt vt = {
    .struct_size = sizeof(coco_eot_vt),
    .create = learned_create,
    .destroy = learned_destroy,
    .decide = learned_decide,
    .max_thoughts = learned_max_thoughts,
};

COCO_PLUGIN_DECLARE();

int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_EOT;
    p->name = "learned";
    p->doc = "learned stop: a logistic / MLP classifier on each thought's hidden state, stop when P(stop) > threshold";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

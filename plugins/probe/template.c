/* template.c — probe plugin "template": a working probe to copy.
 *
 * What it records (one CSV row per evaluated example, probes/template.csv):
 *   split, epoch, stage, index   where the example was evaluated
 *   correct                      1/0 as judged by the host
 *   n_thoughts, n_tokens         continuous thoughts used, tokens generated
 *   thought_norms                L2 norm of each thought, ';'-separated
 *   thought_cos                  cosine similarity of consecutive thoughts
 *                                (thought i-1 vs i), ';'-separated
 *   first_token                  text of the first generated token
 *   top1_id, top1_prob           argmax and its softmax probability in the
 *                                logits behind the first generated token
 *   has_meta                     1 when the dataset attached metadata (ProsQA:
 *                                its graph as JSON in ev->meta_json)
 * and, when option summary is true, one row per evaluation pass from on_end
 * with index "mean": the accuracy, mean thoughts, mean tokens, the mean norm
 * of all thoughts, the mean consecutive cosine and the mean top1_prob.
 *
 * To make your own probe:
 *   1. copy this file to <name>.c (plugins/probe/ in the tree, or anywhere);
 *   2. change the name in coco_plugin_init to <name> — it must equal the file's
 *      base name, the loader checks;
 *   3. edit columns, wants and on_example;
 *   4. build it: in the tree `make` builds plugins/probe/<name>.c to
 *      build/plugins/probe/<name>.so; out of tree
 *         cc -shared -fPIC $(pkg-config --cflags coconut) <name>.c -o <name>.so
 *      and put the .so in a directory listed in $COCONUT_PLUGIN_PATH (or in
 *      <dir>/probe/).
 *   5. `coconut plugins` lists it; an experiment asks for it by name.
 *
 * Rules that matter (coconut/plugin.h has the full contract):
 *   - Everything the host passes (event, strings, arrays) is valid only during
 *     the call; copy what you keep.
 *   - Report expected failures with host->seterr(...) and return -1; the run
 *     stops with your message. Never exit() or abort().
 *   - One instance is called from one thread at a time, but several instances
 *     (different options) may exist: keep state in the instance, not in
 *     globals. The only global here is the host table, which is the same for
 *     every instance.
 *   - This template uses only libc, libm and the host table, so it also loads
 *     into a program that does not export libcoconut; a plugin may call any
 *     coco_* function from the installed headers when the program exports
 *     them (the coconut program does).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/plugin.h"

/* ABI word the loader reads before calling anything: must appear once. */
COCO_PLUGIN_DECLARE();

/* The host's function table, saved by coco_plugin_init. */
static const coco_host *host;

/* ------------------------------------------------------------------ options */

/* Declared options: the host checks user values against these (unknown names
 * and wrong types are rejected before create) and fills in the defaults. */
static const coco_option_spec options[] = {
    {"precision", COCO_OPT_INT, "6", "significant digits of the numbers written"},
    {"summary", COCO_OPT_BOOL, "true", "write a 'mean' row after each evaluation pass"},
    {NULL, 0, NULL, NULL},
};

/* ------------------------------------------------------------------ instance */

/* A growable text buffer: each CSV field is formatted into its own. */
typedef struct tbuf {
    char *s;
    size_t len, cap;
} tbuf;

static int tb_printf(tbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return -1;
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        size_t cap = b->cap ? b->cap : 64;
        while (cap <= b->len + (size_t)n) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) return -1;
        if (!b->s) s[0] = 0;
        b->s = s, b->cap = cap;
    }
}

static void tb_clear(tbuf *b) {
    b->len = 0;
    if (b->s) b->s[0] = 0;
}

enum { F_SPLIT, F_EPOCH, F_STAGE, F_INDEX, F_CORRECT, F_NTH, F_NTOK, F_NORMS, F_COS, F_FIRST, F_TOPID, F_TOPP, F_META, NF };

static const char *const column_names[NF + 1] = {
    "split",      "epoch",       "stage",   "index",   "correct",   "n_thoughts", "n_tokens",
    "thought_norms", "thought_cos", "first_token", "top1_id", "top1_prob", "has_meta",   NULL,
};

typedef struct template_probe {
    int precision, summary;
    tbuf f[NF];
    /* running sums for the summary row of the current pass */
    long n, n_correct, n_thoughts, n_tokens, n_norms, n_cos, n_top;
    double sum_norm, sum_cos, sum_top;
} template_probe;

/* create: build an instance from validated options (read them with host->opt_*).
 * Return 0 and set *self, or host->seterr(...) and -1 for a value that is the
 * right type but unusable. */
static int probe_create(const coco_options *o, void **self) {
    int64_t prec = host->opt_int(o, "precision");
    if (prec < 1 || prec > 17) return host->seterr("probe 'template': precision = %lld is outside 1..17", (long long)prec);
    template_probe *p = calloc(1, sizeof *p);
    if (!p) return host->seterr("probe 'template': out of memory");
    p->precision = (int)prec;
    p->summary = host->opt_bool(o, "summary");
    *self = p;
    return 0;
}

/* destroy: free the instance (called once, also after an error). */
static void probe_destroy(void *self) {
    template_probe *p = self;
    if (!p) return;
    for (int k = 0; k < NF; k++) free(p->f[k].s);
    free(p);
}

/* columns: the CSV header, NULL-terminated. It must not change during the
 * instance's life: the host writes it once and checks every row's width. */
static const char *const *probe_columns(void *self) { return column_names; }

/* wants: which expensive data the host should collect for this probe.
 * COCO_PROBE_THOUGHTS fills ev->thoughts, COCO_PROBE_LOGITS ev->logits
 * (n_logits x vocab floats per example: ask only if you use them). */
static int probe_wants(void *self) { return COCO_PROBE_THOUGHTS | COCO_PROBE_LOGITS; }

static double l2(const float *x, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)x[j] * x[j];
    return sqrt(s);
}

/* on_example: called once per evaluated example, after generation. Emit any
 * number of rows (usually one) through emit->row, each with exactly as many
 * values as columns() has. Return 0, or -1 after host->seterr to stop the run. */
static int probe_on_example(void *self, const coco_probe_event *ev, const coco_probe_emit *emit) {
    template_probe *p = self;
    int prec = p->precision;
    for (int k = 0; k < NF; k++) tb_clear(&p->f[k]);
    int bad = 0;
    bad |= tb_printf(&p->f[F_SPLIT], "%s", ev->split ? ev->split : "");
    bad |= tb_printf(&p->f[F_EPOCH], "%d", ev->epoch);
    bad |= tb_printf(&p->f[F_STAGE], "%d", ev->stage);
    bad |= tb_printf(&p->f[F_INDEX], "%d", ev->index);
    bad |= tb_printf(&p->f[F_CORRECT], "%d", ev->correct ? 1 : 0);
    bad |= tb_printf(&p->f[F_NTH], "%d", ev->n_thoughts);
    bad |= tb_printf(&p->f[F_NTOK], "%d", ev->n_tokens);

    /* Thoughts: row i of the [n_thoughts, d] matrix is the i-th continuous
     * thought (the last hidden state that was fed back as an embedding). */
    if (ev->thoughts && ev->d > 0) {
        const float *t = ev->thoughts;
        for (int i = 0; i < ev->n_thoughts; i++) {
            double nrm = l2(t + (size_t)i * ev->d, ev->d);
            bad |= tb_printf(&p->f[F_NORMS], "%s%.*g", i ? ";" : "", prec, nrm);
            p->sum_norm += nrm, p->n_norms++;
            if (i > 0) {
                const float *a = t + (size_t)(i - 1) * ev->d, *b = t + (size_t)i * ev->d;
                double dot = 0;
                for (int j = 0; j < ev->d; j++) dot += (double)a[j] * b[j];
                double den = l2(a, ev->d) * nrm;
                double cs = den > 0 ? dot / den : 0;
                bad |= tb_printf(&p->f[F_COS], "%s%.*g", i > 1 ? ";" : "", prec, cs);
                p->sum_cos += cs, p->n_cos++;
            }
        }
    }

    /* The first generated token, as text (the host decoded it). */
    if (ev->n_tokens > 0 && ev->token_text && ev->token_text[0])
        bad |= tb_printf(&p->f[F_FIRST], "%s", ev->token_text[0]);

    /* Logits row 0 is the distribution the first token was picked from:
     * numerically stable softmax in double for the top-1 probability. */
    if (ev->logits && ev->n_logits > 0 && ev->vocab > 0) {
        const float *z = ev->logits;
        int best = 0;
        for (int v = 1; v < ev->vocab; v++)
            if (z[v] > z[best]) best = v;
        double sum = 0;
        for (int v = 0; v < ev->vocab; v++) sum += exp((double)z[v] - z[best]);
        double prob = 1.0 / sum;
        bad |= tb_printf(&p->f[F_TOPID], "%d", best);
        bad |= tb_printf(&p->f[F_TOPP], "%.*g", prec, prob);
        p->sum_top += prob, p->n_top++;
    }
    bad |= tb_printf(&p->f[F_META], "%d", ev->meta_json != NULL);
    if (bad) return host->seterr("probe 'template': out of memory formatting a row");

    p->n++, p->n_correct += ev->correct != 0, p->n_thoughts += ev->n_thoughts, p->n_tokens += ev->n_tokens;

    const char *row[NF];
    for (int k = 0; k < NF; k++) row[k] = p->f[k].s ? p->f[k].s : "";
    return emit->row(emit->ud, row);
}

/* on_end (optional, may be NULL): called after each evaluation pass over a
 * split; here it writes one summary row and resets the sums. */
static int probe_on_end(void *self, const char *split, int epoch, int stage, const coco_probe_emit *emit) {
    template_probe *p = self;
    int rc = 0;
    if (p->summary && p->n > 0) {
        int prec = p->precision, bad = 0;
        for (int k = 0; k < NF; k++) tb_clear(&p->f[k]);
        bad |= tb_printf(&p->f[F_SPLIT], "%s", split ? split : "");
        bad |= tb_printf(&p->f[F_EPOCH], "%d", epoch);
        bad |= tb_printf(&p->f[F_STAGE], "%d", stage);
        bad |= tb_printf(&p->f[F_INDEX], "mean");
        bad |= tb_printf(&p->f[F_CORRECT], "%.*g", prec, (double)p->n_correct / p->n);
        bad |= tb_printf(&p->f[F_NTH], "%.*g", prec, (double)p->n_thoughts / p->n);
        bad |= tb_printf(&p->f[F_NTOK], "%.*g", prec, (double)p->n_tokens / p->n);
        if (p->n_norms) bad |= tb_printf(&p->f[F_NORMS], "%.*g", prec, p->sum_norm / p->n_norms);
        if (p->n_cos) bad |= tb_printf(&p->f[F_COS], "%.*g", prec, p->sum_cos / p->n_cos);
        if (p->n_top) bad |= tb_printf(&p->f[F_TOPP], "%.*g", prec, p->sum_top / p->n_top);
        if (bad) return host->seterr("probe 'template': out of memory formatting a row");
        const char *row[NF];
        for (int k = 0; k < NF; k++) row[k] = p->f[k].s ? p->f[k].s : "";
        rc = emit->row(emit->ud, row);
    }
    p->n = p->n_correct = p->n_thoughts = p->n_tokens = p->n_norms = p->n_cos = p->n_top = 0;
    p->sum_norm = p->sum_cos = p->sum_top = 0;
    return rc;
}

/* The vtable: struct_size lets a newer host tell which callbacks exist. */
static const coco_probe_vt vt = {
    .struct_size = sizeof(coco_probe_vt),
    .create = probe_create,
    .destroy = probe_destroy,
    .columns = probe_columns,
    .wants = probe_wants,
    .on_example = probe_on_example,
    .on_end = probe_on_end,
};

/* The one init function: fill the descriptor and return 0 (or seterr + -1 if
 * this plugin cannot work here, e.g. a missing resource; it is then unloaded).
 * The host has already checked the ABI word and zeroed *p. */
int coco_plugin_init(coco_plugin *p, const coco_host *h) {
    host = h;
    p->kind = COCO_KIND_PROBE;
    p->name = "template"; /* = file base name */
    p->doc = "per example: correctness, thought norms and consecutive cosines, first token and its probability";
    p->options = options;
    p->vtable = &vt;
    return 0;
}

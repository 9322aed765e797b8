/* gpt2.c — GPT-2 parameters, HF checkpoint I/O, span forward (see coconut/gpt2.h). */
#include "coconut/gpt2.h"

#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coconut/ops.h"
#include "coconut/rng.h"
#include "coconut/safetensors.h"

/* ------------------------------------------------------------------ config */

int coco_gpt2_preset(const char *name, coco_gpt2_config *c) {
    memset(c, 0, sizeof *c);
    c->layer_norm_epsilon = 1e-5f;
    c->embd_pdrop = c->attn_pdrop = c->resid_pdrop = 0.1f;
    if (!strcmp(name, "gpt2")) {
        c->n_layer = 12, c->n_head = 12, c->n_embd = 768, c->vocab_size = 50257, c->n_positions = 1024;
    } else if (!strcmp(name, "gpt2-medium")) {
        c->n_layer = 24, c->n_head = 16, c->n_embd = 1024, c->vocab_size = 50257, c->n_positions = 1024;
    } else if (!strcmp(name, "tiny")) {
        c->n_layer = 2, c->n_head = 4, c->n_embd = 32, c->vocab_size = 96, c->n_positions = 48;
    } else if (!strcmp(name, "small")) {
        c->n_layer = 4, c->n_head = 4, c->n_embd = 128, c->vocab_size = 512, c->n_positions = 512;
    } else if (!strcmp(name, "mini")) {
        c->n_layer = 6, c->n_head = 6, c->n_embd = 192, c->vocab_size = 512, c->n_positions = 512;
    } else {
        return coco_seterr("unknown GPT-2 preset '%s' (known: gpt2, gpt2-medium, tiny, small, mini)", name);
    }
    return 0;
}

int coco_gpt2_config_check(const coco_gpt2_config *c) {
    if (c->n_layer < 1 || c->n_layer > 256) return coco_seterr("GPT-2 config: n_layer = %d is outside 1..256", c->n_layer);
    if (c->n_head < 1) return coco_seterr("GPT-2 config: n_head = %d must be >= 1", c->n_head);
    if (c->n_embd < 1 || c->n_embd % c->n_head)
        return coco_seterr("GPT-2 config: n_embd = %d must be a positive multiple of n_head = %d", c->n_embd, c->n_head);
    if (c->vocab_size < 1) return coco_seterr("GPT-2 config: vocab_size = %d must be >= 1", c->vocab_size);
    if (c->n_positions < 1) return coco_seterr("GPT-2 config: n_positions = %d must be >= 1", c->n_positions);
    if (!(c->layer_norm_epsilon > 0)) return coco_seterr("GPT-2 config: layer_norm_epsilon must be > 0");
    float p[3] = {c->embd_pdrop, c->attn_pdrop, c->resid_pdrop};
    const char *pn[3] = {"embd_pdrop", "attn_pdrop", "resid_pdrop"};
    for (int i = 0; i < 3; i++)
        if (!(p[i] >= 0 && p[i] < 1)) return coco_seterr("GPT-2 config: %s = %g must be in [0, 1)", pn[i], (double)p[i]);
    return 0;
}

static int json_num(json_t *o, const char *key, double *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return -1;
    *out = json_number_value(v);
    return 1;
}

int coco_gpt2_config_from_json(const char *text, const char *what, coco_gpt2_config *c) {
    json_error_t err;
    json_t *o = json_loads(text, 0, &err);
    if (!o) return coco_seterr("%s: invalid JSON at line %d, column %d: %s", what, err.line, err.column, err.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return coco_seterr("%s: config is not a JSON object", what);
    }
    memset(c, 0, sizeof *c);
    c->layer_norm_epsilon = 1e-5f;
    c->embd_pdrop = c->attn_pdrop = c->resid_pdrop = 0.1f;
    struct {
        const char *key;
        int *i;
        float *f;
        int required;
    } fields[] = {{"n_layer", &c->n_layer, NULL, 1},        {"n_head", &c->n_head, NULL, 1},
                  {"n_embd", &c->n_embd, NULL, 1},          {"vocab_size", &c->vocab_size, NULL, 1},
                  {"n_positions", &c->n_positions, NULL, 1}, {"layer_norm_epsilon", NULL, &c->layer_norm_epsilon, 0},
                  {"embd_pdrop", NULL, &c->embd_pdrop, 0},  {"attn_pdrop", NULL, &c->attn_pdrop, 0},
                  {"resid_pdrop", NULL, &c->resid_pdrop, 0}};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        double v = 0;
        int r = json_num(o, fields[k].key, &v);
        if (r < 0) {
            json_decref(o);
            return coco_seterr("%s: '%s' is not a number", what, fields[k].key);
        }
        if (r == 0 && fields[k].i && !strcmp(fields[k].key, "n_positions")) r = json_num(o, "n_ctx", &v);
        if (r == 0 && fields[k].required) {
            json_decref(o);
            return coco_seterr("%s: missing '%s'", what, fields[k].key);
        }
        if (r == 0) continue;
        if (fields[k].i) {
            if (v != floor(v)) {
                json_decref(o);
                return coco_seterr("%s: '%s' = %g is not an integer", what, fields[k].key, v);
            }
            *fields[k].i = (int)v;
        } else {
            *fields[k].f = (float)v;
        }
    }
    json_t *act = json_object_get(o, "activation_function");
    if (act && json_is_string(act) && strcmp(json_string_value(act), "gelu_new") != 0 &&
        strcmp(json_string_value(act), "gelu_pytorch_tanh") != 0) {
        coco_seterr("%s: activation_function '%s' is not supported (GPT-2 uses gelu_new)", what, json_string_value(act));
        json_decref(o);
        return -1;
    }
    json_t *sc = json_object_get(o, "scale_attn_weights");
    if (sc && json_is_false(sc)) {
        json_decref(o);
        return coco_seterr("%s: scale_attn_weights=false is not supported", what);
    }
    json_decref(o);
    if (coco_gpt2_config_check(c) != 0) {
        char m[1024];
        snprintf(m, sizeof m, "%s", coco_errmsg());
        return coco_seterr("%s: %s", what, m);
    }
    return 0;
}

char *coco_gpt2_config_to_json(const coco_gpt2_config *c) {
    json_t *o = json_object();
    json_object_set_new(o, "model_type", json_string("gpt2"));
    json_t *arch = json_array();
    json_array_append_new(arch, json_string("GPT2LMHeadModel"));
    json_object_set_new(o, "architectures", arch);
    json_object_set_new(o, "n_layer", json_integer(c->n_layer));
    json_object_set_new(o, "n_head", json_integer(c->n_head));
    json_object_set_new(o, "n_embd", json_integer(c->n_embd));
    json_object_set_new(o, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(o, "n_positions", json_integer(c->n_positions));
    json_object_set_new(o, "n_ctx", json_integer(c->n_positions));
    json_object_set_new(o, "layer_norm_epsilon", json_real(c->layer_norm_epsilon));
    json_object_set_new(o, "embd_pdrop", json_real(c->embd_pdrop));
    json_object_set_new(o, "attn_pdrop", json_real(c->attn_pdrop));
    json_object_set_new(o, "resid_pdrop", json_real(c->resid_pdrop));
    json_object_set_new(o, "activation_function", json_string("gelu_new"));
    json_object_set_new(o, "tie_word_embeddings", json_true());
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(o);
    return s;
}

/* ------------------------------------------------------------------ parameters */

static coco_tensor *add_param(coco_gpt2 *m, int *k, const char *name, int ndim, int64_t d0, int64_t d1) {
    int64_t shape[2] = {d0, d1};
    coco_tensor *t = coco_tensor_new(COCO_F32, ndim, shape);
    t->requires_grad = 1;
    t->grad = coco_tensor_new(COCO_F32, ndim, shape);
    m->names[*k] = coco_strdup(name);
    m->params[*k] = t;
    (*k)++;
    return t;
}

/* Allocates all parameters (zeroed) in HF order. */
static coco_gpt2 *alloc_model(const coco_gpt2_config *cfg) {
    coco_gpt2 *m = coco_calloc(1, sizeof *m, "gpt2 model");
    m->cfg = *cfg;
    int L = cfg->n_layer;
    int64_t d = cfg->n_embd;
    m->n_params = 2 + 12 * L + 2;
    m->names = coco_calloc((size_t)m->n_params, sizeof *m->names, "gpt2 names");
    m->params = coco_calloc((size_t)m->n_params, sizeof *m->params, "gpt2 params");
    m->h = coco_calloc((size_t)L, sizeof *m->h, "gpt2 blocks");
    int k = 0;
    char nm[96];
    m->wte = add_param(m, &k, "wte.weight", 2, cfg->vocab_size, d);
    m->wpe = add_param(m, &k, "wpe.weight", 2, cfg->n_positions, d);
    for (int i = 0; i < L; i++) {
        coco_gpt2_block *b = &m->h[i];
#define P(field, suffix, nd, a, c) \
    snprintf(nm, sizeof nm, "h.%d.%s", i, suffix); \
    b->field = add_param(m, &k, nm, nd, a, c)
        P(ln1_w, "ln_1.weight", 1, d, 0);
        P(ln1_b, "ln_1.bias", 1, d, 0);
        P(attn_w, "attn.c_attn.weight", 2, d, 3 * d);
        P(attn_b, "attn.c_attn.bias", 1, 3 * d, 0);
        P(attn_proj_w, "attn.c_proj.weight", 2, d, d);
        P(attn_proj_b, "attn.c_proj.bias", 1, d, 0);
        P(ln2_w, "ln_2.weight", 1, d, 0);
        P(ln2_b, "ln_2.bias", 1, d, 0);
        P(fc_w, "mlp.c_fc.weight", 2, d, 4 * d);
        P(fc_b, "mlp.c_fc.bias", 1, 4 * d, 0);
        P(mlp_proj_w, "mlp.c_proj.weight", 2, 4 * d, d);
        P(mlp_proj_b, "mlp.c_proj.bias", 1, d, 0);
#undef P
    }
    m->lnf_w = add_param(m, &k, "ln_f.weight", 1, d, 0);
    m->lnf_b = add_param(m, &k, "ln_f.bias", 1, d, 0);
    return m;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

coco_gpt2 *coco_gpt2_new(const coco_gpt2_config *cfg, uint64_t seed) {
    if (coco_gpt2_config_check(cfg) != 0) coco_fail("gpt2_new: %s", coco_errmsg());
    coco_gpt2 *m = alloc_model(cfg);
    coco_rng r;
    coco_rng_seed(&r, seed);
    double proj_std = 0.02 / sqrt(2.0 * cfg->n_layer);
    for (int i = 0; i < m->n_params; i++) {
        const char *n = m->names[i];
        coco_tensor *t = m->params[i];
        float *p = coco_f32(t);
        if (ends_with(n, "ln_1.weight") || ends_with(n, "ln_2.weight") || !strcmp(n, "ln_f.weight")) {
            coco_tensor_fill(t, 1.0f);
        } else if (t->ndim == 1) {
            coco_tensor_fill(t, 0.0f);
        } else {
            double sd = ends_with(n, "c_proj.weight") ? proj_std : 0.02;
            for (int64_t j = 0; j < t->numel; j++) p[j] = (float)(coco_rng_normal(&r) * sd);
        }
    }
    return m;
}

void coco_gpt2_free(coco_gpt2 *m) {
    if (!m) return;
    for (int i = 0; i < m->n_params; i++) {
        coco_tensor_release(m->params[i]);
        free(m->names[i]);
    }
    free(m->names);
    free(m->params);
    free(m->h);
    free(m);
}

coco_tensor *coco_gpt2_param(const coco_gpt2 *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->names[i], name)) return m->params[i];
    return NULL;
}

void coco_gpt2_zero_grad(coco_gpt2 *m) {
    for (int i = 0; i < m->n_params; i++) coco_zero_grad(m->params[i]);
}

int64_t coco_gpt2_num_params(const coco_gpt2 *m) {
    int64_t n = 0;
    for (int i = 0; i < m->n_params; i++) n += m->params[i]->numel;
    return n;
}

int coco_gpt2_add_tokens(coco_gpt2 *m, int n, int init_from) {
    int V = m->cfg.vocab_size;
    if (n < 0) coco_fail("add_tokens: n = %d must be >= 0", n);
    if (init_from < 0 || init_from >= V) coco_fail("add_tokens: init_from id %d is outside the vocabulary [0, %d)", init_from, V);
    if (n == 0) return V;
    int64_t d = m->cfg.n_embd;
    coco_tensor *old = m->wte;
    coco_tensor *w = coco_tensor_new(COCO_F32, 2, (int64_t[]){V + n, d});
    memcpy(w->data, old->data, (size_t)V * (size_t)d * 4);
    for (int i = 0; i < n; i++) memcpy(coco_f32(w) + (int64_t)(V + i) * d, coco_f32(old) + (int64_t)init_from * d, (size_t)d * 4);
    w->requires_grad = 1;
    w->grad = coco_tensor_new(COCO_F32, 2, w->shape);
    if (old->grad) memcpy(w->grad->data, old->grad->data, (size_t)V * (size_t)d * 4);
    m->wte = w;
    m->params[0] = w;
    coco_tensor_release(old);
    m->cfg.vocab_size = V + n;
    return V;
}

/* ------------------------------------------------------------------ load / save */

static char *read_text_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = coco_malloc((size_t)n + 1, "text file");
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = 0;
    fclose(f);
    return s;
}

static char *sibling_path(const char *path, const char *name) {
    char *tmp = coco_strdup(path);
    const char *dir = dirname(tmp);
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = coco_malloc(n, "path");
    snprintf(p, n, "%s/%s", dir, name);
    free(tmp);
    return p;
}

static int is_ignored_buffer(const char *n) {
    return ends_with(n, ".attn.bias") || ends_with(n, ".attn.masked_bias");
}

static const char *strip_prefix(const char *n) {
    return strncmp(n, "transformer.", 12) == 0 ? n + 12 : n;
}

coco_gpt2 *coco_gpt2_load(const char *path) {
    coco_st_file *f = coco_st_open(path);
    if (!f) return NULL;
    coco_gpt2_config cfg;
    char *cfg_path = sibling_path(path, "config.json");
    char *text = read_text_file(cfg_path);
    int rc;
    if (text) {
        rc = coco_gpt2_config_from_json(text, cfg_path, &cfg);
        free(text);
    } else if (coco_st_meta(f, "config")) {
        char what[1100];
        snprintf(what, sizeof what, "%s: __metadata__ config", path);
        rc = coco_gpt2_config_from_json(coco_st_meta(f, "config"), what, &cfg);
    } else {
        rc = coco_seterr("%s: no config.json beside the file and no \"config\" in __metadata__", path);
    }
    free(cfg_path);
    if (rc != 0) {
        coco_st_close(f);
        return NULL;
    }
    coco_gpt2 *m = alloc_model(&cfg);
    unsigned char *seen = coco_calloc((size_t)m->n_params, 1, "seen");
    int lm_head = -1;
    for (int i = 0; i < coco_st_count(f); i++) {
        const char *raw = coco_st_name(f, i), *n = strip_prefix(raw);
        if (is_ignored_buffer(n)) continue;
        if (!strcmp(raw, "lm_head.weight")) {
            lm_head = i;
            continue;
        }
        int k;
        for (k = 0; k < m->n_params; k++)
            if (!strcmp(m->names[k], n)) break;
        if (k == m->n_params) {
            coco_seterr("%s: unexpected tensor '%s' (not a GPT-2 parameter)", path, raw);
            goto fail;
        }
        if (seen[k]) {
            coco_seterr("%s: tensor '%s' appears twice (with and without 'transformer.' prefix)", path, raw);
            goto fail;
        }
        coco_tensor *dst = m->params[k];
        int64_t shape[8];
        int nd = coco_st_shape(f, i, shape);
        int ok = nd == dst->ndim;
        for (int j = 0; ok && j < nd; j++) ok = shape[j] == dst->shape[j];
        if (!ok) {
            char want[96], got[128] = "[";
            for (int j = 0; j < nd; j++) snprintf(got + strlen(got), sizeof got - strlen(got), j ? ",%lld" : "%lld", (long long)shape[j]);
            strcat(got, "]");
            coco_seterr("%s: tensor '%s' has shape %s, expected %s for this config", path, raw, got,
                        coco_shape_str(dst, want, sizeof want));
            goto fail;
        }
        coco_tensor *src = coco_st_get(f, raw);
        if (!src) goto fail;
        if (src->dtype != COCO_F32) {
            coco_tensor_release(src);
            coco_seterr("%s: tensor '%s' has integer dtype %s", path, raw, coco_st_dtype(f, i));
            goto fail;
        }
        /* A NaN or Inf weight (a checkpoint saved after a diverged step, a
         * corrupt file) would surface much later as a NaN loss or garbage
         * output; refuse it here, naming the tensor and the element. */
        const float *sv = (const float *)src->data;
        for (int64_t j = 0; j < src->numel; j++)
            if (!isfinite(sv[j])) {
                coco_seterr("%s: tensor '%s' holds a non-finite value (%s) at element %lld; the checkpoint is corrupt or "
                            "was saved after training diverged", path, raw, isnan(sv[j]) ? "NaN" : "Inf", (long long)j);
                coco_tensor_release(src);
                goto fail;
            }
        memcpy(dst->data, src->data, (size_t)dst->numel * 4);
        coco_tensor_release(src);
        seen[k] = 1;
    }
    for (int k = 0; k < m->n_params; k++)
        if (!seen[k]) {
            coco_seterr("%s: missing tensor '%s'", path, m->names[k]);
            goto fail;
        }
    if (lm_head >= 0) {
        coco_tensor *lh = coco_st_get(f, "lm_head.weight");
        int same = lh && lh->dtype == COCO_F32 && coco_tensor_same_shape(lh, m->wte) &&
                   memcmp(lh->data, m->wte->data, (size_t)lh->numel * 4) == 0;
        coco_tensor_release(lh);
        if (!same) {
            coco_seterr("%s: lm_head.weight differs from wte.weight; GPT-2's head is tied and an untied head is not supported", path);
            goto fail;
        }
    }
    free(seen);
    coco_st_close(f);
    return m;
fail:
    free(seen);
    coco_gpt2_free(m);
    coco_st_close(f);
    return NULL;
}

int coco_gpt2_save(const coco_gpt2 *m, const char *path, int write_config_json) {
    coco_st_item *items = coco_malloc(sizeof *items * (size_t)m->n_params, "save items");
    for (int i = 0; i < m->n_params; i++) items[i] = (coco_st_item){m->names[i], m->params[i]};
    char *cfg = coco_gpt2_config_to_json(&m->cfg);
    const char *meta[4] = {"format", "pt", "config", cfg};
    int rc = coco_st_save(path, items, m->n_params, meta, 2);
    free(items);
    if (rc == 0 && write_config_json) {
        char *cp = sibling_path(path, "config.json");
        coco_atomic_file af;
        FILE *fp = coco_atomic_open(&af, cp);
        if (!fp) {
            rc = -1;
        } else {
            fputs(cfg, fp);
            fputc('\n', fp);
            rc = coco_atomic_commit(&af);
        }
        free(cp);
    }
    free(cfg);
    return rc;
}

/* ------------------------------------------------------------------ KV cache */

static coco_kv_cache *kv_make(const coco_gpt2 *m, coco_tape *tp, int64_t B, int64_t Tmax) {
    if (B < 1 || Tmax < 1) coco_fail("kv cache: B = %lld and Tmax = %lld must be >= 1", (long long)B, (long long)Tmax);
    if (Tmax > m->cfg.n_positions)
        coco_fail("kv cache: Tmax = %lld exceeds n_positions = %d", (long long)Tmax, m->cfg.n_positions);
    int L = m->cfg.n_layer;
    coco_kv_cache *kv = tp ? coco_tape_alloc(tp, sizeof *kv) : coco_malloc(sizeof *kv, "kv cache");
    memset(kv, 0, sizeof *kv);
    kv->n_layer = L;
    kv->B = B;
    kv->H = m->cfg.n_head;
    kv->D = m->cfg.n_embd / m->cfg.n_head;
    kv->Tmax = Tmax;
    kv->on_tape = tp != NULL;
    size_t pb = sizeof(coco_tensor *) * (size_t)L;
    kv->k = tp ? coco_tape_alloc(tp, pb) : coco_malloc(pb, "kv cache");
    kv->v = tp ? coco_tape_alloc(tp, pb) : coco_malloc(pb, "kv cache");
    int64_t shape[4] = {B, kv->H, Tmax, kv->D};
    for (int l = 0; l < L; l++) {
        kv->k[l] = tp ? coco_tape_tensor(tp, COCO_F32, 4, shape) : coco_tensor_new(COCO_F32, 4, shape);
        kv->v[l] = tp ? coco_tape_tensor(tp, COCO_F32, 4, shape) : coco_tensor_new(COCO_F32, 4, shape);
        kv->k[l]->requires_grad = kv->v[l]->requires_grad = 0; /* set by attention when recording */
    }
    return kv;
}

coco_kv_cache *coco_kv_new(const coco_gpt2 *m, int64_t B, int64_t Tmax) { return kv_make(m, NULL, B, Tmax); }
coco_kv_cache *coco_kv_on_tape(const coco_gpt2 *m, coco_tape *tp, int64_t B, int64_t Tmax) {
    coco_check_not_null(tp, "kv_on_tape", "tape");
    return kv_make(m, tp, B, Tmax);
}

void coco_kv_free(coco_kv_cache *kv) {
    if (!kv || kv->on_tape) return;
    for (int l = 0; l < kv->n_layer; l++) {
        coco_tensor_release(kv->k[l]);
        coco_tensor_release(kv->v[l]);
    }
    free(kv->k);
    free(kv->v);
    free(kv);
}

void coco_kv_truncate(coco_kv_cache *kv, int64_t len) {
    if (len < 0 || len > kv->len) coco_fail("kv_truncate: length %lld outside [0, %lld]", (long long)len, (long long)kv->len);
    kv->len = len;
}

/* ------------------------------------------------------------------ forward */

coco_tensor *coco_gpt2_embed(coco_gpt2 *m, coco_tape *tp, const coco_tensor *ids) { return coco_embedding(tp, ids, m->wte); }

coco_tensor *coco_gpt2_logits(coco_gpt2 *m, coco_tape *tp, coco_tensor *hidden) {
    return coco_linear_wt(tp, hidden, m->wte, NULL);
}

coco_tensor *coco_gpt2_forward(coco_gpt2 *m, coco_tape *tp, coco_kv_cache *kv, const coco_gpt2_span *sp) {
    char a[96], b[96];
    coco_check_not_null(m, "gpt2_forward", "model");
    coco_check_not_null(sp, "gpt2_forward", "span");
    if ((sp->ids == NULL) == (sp->embeds == NULL)) coco_fail("gpt2_forward: give exactly one of ids and embeds");
    const coco_gpt2_config *c = &m->cfg;
    int64_t B, Tn, d = c->n_embd;
    if (sp->ids) {
        coco_check_dtype(sp->ids, COCO_I32, "gpt2_forward", "ids");
        coco_check_ndim(sp->ids, 2, 2, "gpt2_forward", "ids");
        B = sp->ids->shape[0];
        Tn = sp->ids->shape[1];
    } else {
        coco_check_dtype(sp->embeds, COCO_F32, "gpt2_forward", "embeds");
        coco_check_ndim(sp->embeds, 3, 3, "gpt2_forward", "embeds");
        B = sp->embeds->shape[0];
        Tn = sp->embeds->shape[1];
        if (sp->embeds->shape[2] != d)
            coco_fail("gpt2_forward: embeds %s must have last dim n_embd = %lld", coco_shape_str(sp->embeds, a, sizeof a), (long long)d);
    }
    if (kv && B != kv->B) coco_fail("gpt2_forward: batch %lld does not match the kv cache batch %lld", (long long)B, (long long)kv->B);
    int64_t t0 = kv ? kv->len : 0;
    if (kv && t0 + Tn > kv->Tmax)
        coco_fail("gpt2_forward: span [%lld, %lld) does not fit the kv cache of %lld columns", (long long)t0,
                  (long long)(t0 + Tn), (long long)kv->Tmax);
    const coco_tensor *pos = sp->pos;
    if (pos) {
        coco_check_dtype(pos, COCO_I32, "gpt2_forward", "position_ids");
        if (pos->ndim != 2 || pos->shape[0] != B || pos->shape[1] != Tn)
            coco_fail("gpt2_forward: position_ids %s must be [%lld,%lld]", coco_shape_str(pos, a, sizeof a), (long long)B, (long long)Tn);
        for (int64_t i = 0; i < pos->numel; i++)
            if (coco_i32(pos)[i] < 0 || coco_i32(pos)[i] >= c->n_positions)
                coco_fail("gpt2_forward: position id %d at row %lld is outside [0, n_positions = %d)", coco_i32(pos)[i],
                          (long long)(i / Tn), c->n_positions);
    } else {
        coco_tensor *p = coco_tape_tensor(tp, COCO_I32, 2, (int64_t[]){B, Tn});
        for (int64_t r = 0; r < B; r++)
            for (int64_t i = 0; i < Tn; i++) coco_i32(p)[r * Tn + i] = (int32_t)(t0 + i);
        if (t0 + Tn > c->n_positions) coco_fail("gpt2_forward: default positions run past n_positions = %d", c->n_positions);
        pos = p;
    }
    if (sp->mask) {
        coco_check_dtype(sp->mask, COCO_I32, "gpt2_forward", "attention_mask");
        if (sp->mask->ndim != 2 || sp->mask->shape[0] != B || sp->mask->shape[1] < t0 + Tn)
            coco_fail("gpt2_forward: attention_mask %s must be [%lld, >= %lld] (all columns up to the span's end)",
                      coco_shape_str(sp->mask, b, sizeof b), (long long)B, (long long)(t0 + Tn));
    }
    int tr = m->training;
    coco_tensor *x = sp->ids ? coco_embedding(tp, sp->ids, m->wte) : sp->embeds;
    x = coco_add(tp, x, coco_embedding(tp, pos, m->wpe));
    if (tr) x = coco_dropout(tp, x, c->embd_pdrop);
    /* Without grad nothing refers back to a layer's activations: copy each layer's
     * output into one of two buffers and rewind the arena, so inference holds one
     * layer's activations (warm memory) instead of all n_layer. */
    int nograd = !coco_tape_grad_enabled(tp);
    coco_tensor *xbuf[2] = {NULL, NULL};
    coco_arena_mark mk = {0};
    if (nograd) {
        xbuf[0] = coco_tape_tensor(tp, COCO_F32, 3, (int64_t[]){B, Tn, d});
        xbuf[1] = coco_tape_tensor(tp, COCO_F32, 3, (int64_t[]){B, Tn, d});
        mk = coco_arena_mark_now(coco_tape_arena(tp));
    }
    for (int l = 0; l < c->n_layer; l++) {
        coco_gpt2_block *bl = &m->h[l];
        if (nograd) {
            coco_tensor *keep = xbuf[l & 1];
            memcpy(coco_f32(keep), coco_f32(x), (size_t)(B * Tn * d) * sizeof(float));
            coco_arena_rewind(coco_tape_arena(tp), mk);
            x = keep;
        }
        coco_tensor *qkv = coco_ln_linear(tp, x, bl->ln1_w, bl->ln1_b, c->layer_norm_epsilon, bl->attn_w, bl->attn_b);
        coco_tensor *att = coco_attention(tp, qkv, kv ? kv->k[l] : NULL, kv ? kv->v[l] : NULL, t0, sp->mask, c->n_head,
                                          tr ? c->attn_pdrop : 0.0f);
        /* x + c_proj(att): fused unless residual dropout sits between them */
        if (tr && c->resid_pdrop > 0) {
            att = coco_dropout(tp, coco_linear(tp, att, bl->attn_proj_w, bl->attn_proj_b), c->resid_pdrop);
            x = coco_add(tp, x, att);
        } else {
            x = coco_linear_add(tp, att, bl->attn_proj_w, bl->attn_proj_b, x);
        }
        coco_tensor *f = coco_ln_linear(tp, x, bl->ln2_w, bl->ln2_b, c->layer_norm_epsilon, bl->fc_w, bl->fc_b);
        f = coco_gelu_linear(tp, f, bl->mlp_proj_w, bl->mlp_proj_b); /* c_proj(gelu(c_fc(h))) */
        if (tr && c->resid_pdrop > 0) f = coco_dropout(tp, f, c->resid_pdrop);
        x = coco_add(tp, x, f);
    }
    if (kv) kv->len = t0 + Tn;
    return coco_layernorm(tp, x, m->lnf_w, m->lnf_b, c->layer_norm_epsilon);
}

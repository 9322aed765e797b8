/* FROZEN: core/coconut/plugin.h as first released (commit bd88e7c), before
 * any field was appended. tests/plugins/old_curriculum.c is compiled against
 * it to check that a plugin built for the original ABI-1 header still loads
 * and runs. Do not edit. */
/* coconut/plugin.h — the one header a plugin includes.
 *
 * ABI
 *   COCO_PLUGIN_ABI_VERSION = 1. A plugin is a shared object exporting
 *     const uint32_t coco_plugin_abi;          (COCO_PLUGIN_DECLARE() defines it)
 *     int coco_plugin_init(coco_plugin *p, const coco_host *host);
 *   The host reads coco_plugin_abi first and refuses a plugin built for another
 *   ABI without calling any of its code. coco_plugin_init fills *p (the host
 *   zeroes it and sets p->abi_version / p->struct_size to its own values first)
 *   and returns 0, or non-zero after host->seterr(...) — the host then unloads
 *   the plugin. Structs are append-only: new fields go at the end and every
 *   struct carries struct_size, so an older plugin keeps working with a newer
 *   host (fields beyond its struct_size read as absent).
 *
 *   A Lua plugin is a .lua file returning a table with the same fields and
 *   callbacks (kind, name, doc, options, create, ...; see plugins/README.md);
 *   the host wraps both behind the same interface. Built-in plugins use exactly
 *   this mechanism (plugins/<kind>/<name>.c built to .so, or <name>.lua).
 *
 * Options
 *   Every plugin declares its options (name, type, default, doc). The host
 *   validates what the user passes against that schema before create(): an
 *   unknown option is an error naming it and listing the valid ones; a value of
 *   the wrong type names the option and the expected type. create() reads the
 *   validated values with host->opt_int / opt_num / opt_bool / opt_str.
 *
 * Instances and threading
 *   create() returns an instance (void *self); one plugin may have several
 *   instances with different options. The host calls an instance from one
 *   thread at a time. Strings and arrays passed to callbacks are valid only
 *   during the call; copy what you keep.
 *
 * Plugins may call any coco_* function declared in the installed coconut/
 * headers (the coconut program exports libcoconut), e.g. coco_rng_* for
 * randomness or coco_atomic_open for files.
 */
#ifndef COCONUT_PLUGIN_H
#define COCONUT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "coconut/base.h"
#include "coconut/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define COCO_PLUGIN_ABI_VERSION 1u

#if defined(__GNUC__)
#define COCO_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define COCO_PLUGIN_EXPORT
#endif

/* Put this once in a plugin's source file. */
#define COCO_PLUGIN_DECLARE() COCO_PLUGIN_EXPORT const uint32_t coco_plugin_abi = COCO_PLUGIN_ABI_VERSION

typedef enum coco_plugin_kind {
    COCO_KIND_DATASET = 1,
    COCO_KIND_CURRICULUM = 2,
    COCO_KIND_EOT = 3,
    COCO_KIND_PROBE = 4
} coco_plugin_kind;

/* ------------------------------------------------------------------ options */

typedef enum coco_opt_type { COCO_OPT_INT = 1, COCO_OPT_NUM = 2, COCO_OPT_BOOL = 3, COCO_OPT_STR = 4 } coco_opt_type;

typedef struct coco_option_spec {
    const char *name;
    coco_opt_type type;
    const char *def; /* default as text ("1e-4", "true", "datasets/prosqa"); NULL = required */
    const char *doc; /* one line */
} coco_option_spec;   /* arrays end with an entry whose name is NULL */

typedef struct coco_options coco_options; /* validated values, host-owned */

/* ------------------------------------------------------------------ host */

typedef struct coco_host {
    uint32_t abi_version;  /* the host's COCO_PLUGIN_ABI_VERSION */
    uint32_t struct_size;  /* sizeof(coco_host) in the host */
    const char *coconut_version;
    /* Expected failure: set the message the host reports (returns -1). */
    int (*seterr)(const char *fmt, ...) COCO_PRINTF(1, 2);
    /* A line on the run log (stderr), prefixed with the plugin's name. */
    void (*log)(const char *fmt, ...) COCO_PRINTF(1, 2);
    int64_t (*opt_int)(const coco_options *o, const char *name);
    double (*opt_num)(const coco_options *o, const char *name);
    int (*opt_bool)(const coco_options *o, const char *name);
    const char *(*opt_str)(const coco_options *o, const char *name);
} coco_host;

/* ------------------------------------------------------------------ dataset */

/* One example. meta_json is a JSON object text with whatever the dataset keeps
 * (ProsQA: its graph) or NULL. */
typedef struct coco_example {
    const char *question;
    const char *const *steps;
    int n_steps;
    const char *answer;
    const char *meta_json;
} coco_example;

typedef struct coco_example_sink {
    void *ud;
    int (*add)(void *ud, const coco_example *ex); /* 0, or -1 to stop loading */
} coco_example_sink;

typedef struct coco_dataset_vt {
    uint32_t struct_size;
    int (*create)(const coco_options *opts, void **self);
    void (*destroy)(void *self);
    /* Emit every example of split ("train", "valid", "test") in order. */
    int (*load)(void *self, const char *split, const coco_example_sink *sink);
    /* Optional (NULL): (re)create the data files, e.g. run a generator. */
    int (*prepare)(void *self);
} coco_dataset_vt;

/* ------------------------------------------------------------------ curriculum */

/* Layout of one example, built by the host as (official Coconut layout):
 *   tok(question + "\n")
 *   [<|start-latent|>]   if markers
 *   <|latent|> x n_latent
 *   [<|end-latent|>]     if markers
 *   <pause> x n_pause
 *   tok(step + "\n")     for the steps [drop_steps, n_steps)
 *   tok("### " + answer) <eos>     (training only)
 * Labels are -100 on the question, markers, latents and pauses. For eval, the
 * prompt stops after the pauses; the model generates the rest. */
typedef struct coco_plan {
    int drop_steps; /* leading steps replaced (>= n_steps drops all) */
    int n_latent;
    int markers;
    int n_pause;
} coco_plan;

typedef struct coco_curriculum_vt {
    uint32_t struct_size;
    int (*create)(const coco_options *opts, void **self);
    void (*destroy)(void *self);
    int (*num_stages)(void *self);
    int (*stage_epochs)(void *self, int stage);
    /* 1: reset the optimizer when training enters `stage` (stage > 0). */
    int (*reset_optimizer)(void *self, int stage);
    /* Training layout at `stage` for an example with n_steps steps; rng is a
     * host stream seeded per (run seed, epoch, example). */
    int (*train_plan)(void *self, int stage, int n_steps, coco_rng *rng, coco_plan *out);
    /* Evaluation prompt layout at `stage` (drop_steps is ignored: no steps in prompts). */
    int (*eval_plan)(void *self, int stage, int n_steps, coco_plan *out);
} coco_curriculum_vt;

/* ------------------------------------------------------------------ <eot> */

/* Per decision batch: rows still thinking, thoughts each has produced, planned
 * thoughts per row from the curriculum's eval plan (-1 if none), their latest
 * hidden states [n, d]. Set stop[i] = 1 to end latent mode for rows[i]. */
typedef struct coco_eot_vt {
    uint32_t struct_size;
    int (*create)(const coco_options *opts, void **self);
    void (*destroy)(void *self);
    int (*decide)(void *self, int n, const int *rows, const int *n_thoughts, const int *planned, const float *hidden,
                  int d, unsigned char *stop);
    /* Largest number of thoughts this policy may ask for (bounds the KV cache). */
    int (*max_thoughts)(void *self);
} coco_eot_vt;

/* ------------------------------------------------------------------ probe */

#define COCO_PROBE_THOUGHTS 1 /* wants thought hidden states */
#define COCO_PROBE_LOGITS 2   /* wants the logits behind each generated token */

typedef struct coco_probe_event {
    const char *split;
    int epoch, stage;
    int index;              /* example index in the split */
    const char *question, *gold, *prediction, *output_text;
    int correct;
    const char *meta_json;  /* the dataset's metadata for this example, or NULL */
    int n_thoughts, d;
    const float *thoughts;  /* [n_thoughts, d] continuous thoughts (last hidden states fed back) */
    int n_tokens, vocab;
    const int32_t *tokens;  /* generated ids */
    int n_logits;
    const float *logits;    /* [n_logits, vocab] when COCO_PROBE_LOGITS, else NULL */
    const char *const *token_text; /* decoded text of each generated token (n_tokens) */
} coco_probe_event;

typedef struct coco_probe_emit {
    void *ud;
    /* One CSV row: exactly as many values as columns() declared. */
    int (*row)(void *ud, const char *const *values);
} coco_probe_emit;

typedef struct coco_probe_vt {
    uint32_t struct_size;
    int (*create)(const coco_options *opts, void **self);
    void (*destroy)(void *self);
    /* CSV columns (NULL-terminated), constant for the instance's life. */
    const char *const *(*columns)(void *self);
    int (*wants)(void *self); /* COCO_PROBE_* flags */
    int (*on_example)(void *self, const coco_probe_event *ev, const coco_probe_emit *emit);
    /* Optional (NULL): called after each evaluation pass, e.g. for summary rows. */
    int (*on_end)(void *self, const char *split, int epoch, int stage, const coco_probe_emit *emit);
} coco_probe_vt;

/* ------------------------------------------------------------------ descriptor */

typedef struct coco_plugin {
    uint32_t abi_version;  /* host fills in before init */
    uint32_t struct_size;
    coco_plugin_kind kind;
    const char *name;      /* must equal the file's base name */
    const char *doc;       /* one line for `coconut plugins` */
    const coco_option_spec *options;
    const void *vtable;    /* coco_dataset_vt / coco_curriculum_vt / coco_eot_vt / coco_probe_vt */
} coco_plugin;

typedef int (*coco_plugin_init_fn)(coco_plugin *p, const coco_host *host);

#ifdef __cplusplus
}
#endif
#endif

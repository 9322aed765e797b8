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
 *   host (fields beyond its struct_size read as absent). The converse holds
 *   too: a plugin built against a newer header of the same ABI checks
 *   host->struct_size before using a host field, and p->struct_size before
 *   writing a descriptor field, that this header appended after ABI 1.
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
    /* Appended (issue 13): sizeof(coco_plan) in the host. The host zero-fills
     * a plan of this size before train_plan / eval_plan; a plugin writes a
     * plan field appended after ABI 1 only when COCO_PLAN_HAS says the host
     * has it (an older host passes a shorter plan). */
    uint32_t plan_size;
    /* Appended (issue 14): sizeof(coco_probe_event) in the host. A probe reads
     * an event field appended after ABI 1 only when COCO_PROBE_EVENT_HAS says
     * the host fills it (an older host passes a shorter event). */
    uint32_t probe_event_size;
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
 *   <|latent|> x n_latent          (<pause> x n_latent if pause_as_thought)
 *   [<|end-latent|>]     if markers
 *   <pause> x n_pause
 *   tok(step + "\n")     for the steps [drop_steps, n_steps), less their
 *                        first drop_tokens tokens (the chain, concatenated)
 *   tok("### " + answer) <eos>     (training only)
 * Labels are -100 on the question, markers, latents and pauses. For eval, the
 * prompt stops after the pauses; the model generates the rest.
 *
 * supervision (appended; the host zeroes the plan, so plugins built before it
 * get COCO_SUPERVISE_STEPS): while steps remain (drop_steps < n_steps),
 *   STEPS     the kept steps and the answer are labelled (the official loss);
 *   FRONTIER  one label right after the n_latent thoughts (no <|end-latent|>):
 *             a node drawn at random from the example's shortest-path
 *             frontier at depth drop_steps + 1 (meta "frontier");
 *   BFS       the same position scored against the whole BFS frontier set at
 *             that depth: -log sum_{v in set} p(v) (meta "bfs_frontier").
 *   BFS_ALL   (appended) BFS at every thought count: the output after j
 *             thoughts, j = 0..n_latent, is scored against the BFS frontier
 *             at depth 1 + floor(j * drop_steps / n_latent) (j + 1 when
 *             c = 1), so every thought is held to its depth, not only the
 *             last one.
 * Once every step is dropped all of them label the answer as STEPS does. */
enum { COCO_SUPERVISE_STEPS = 0, COCO_SUPERVISE_FRONTIER = 1, COCO_SUPERVISE_BFS = 2, COCO_SUPERVISE_BFS_ALL = 3 };

typedef struct coco_plan {
    int drop_steps; /* leading steps replaced (>= n_steps drops all) */
    int n_latent;
    int markers;
    int n_pause;
    int supervision; /* COCO_SUPERVISE_* */
    /* Appended (issue 13). Zero (what the host fills in) = the layout above
     * without them, so older plugins are unaffected. Write them only when
     * COCO_PLAN_HAS(host, field). */
    int drop_tokens;      /* token-level removal (iCoT): after drop_steps, drop this
                           * many leading tokens of the rendered chain (the kept
                           * steps' tokens, separators included, in order; the
                           * answer is never touched); >= the chain's length
                           * drops the whole chain. Needs STEPS supervision. */
    int pause_as_thought; /* 1: the n_latent thought slots hold the <pause> token,
                           * a learned embedding, instead of fed-back hidden
                           * states: no latent passes, and the slots are not
                           * counted as thoughts (Coconut "pause as thought") */
} coco_plan;

/* 1 when the host's coco_plan has `field` (a plugin built against this header
 * may run on an older host whose plan is shorter). */
#define COCO_PLAN_HAS(host, field)                                                                      \
    ((host)->struct_size >= offsetof(coco_host, plan_size) + sizeof(uint32_t) &&                         \
     (host)->plan_size >= offsetof(coco_plan, field) + sizeof(((coco_plan *)0)->field))

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
    /* Appended (optional: a host reads it only when struct_size covers it and
     * it is non-NULL). 1 if a checkpoint trained at `stage` may be selected as
     * the run's best, i.e. it was trained on the method's final layout (iCoT:
     * once the whole chain is gone). Absent: every stage may. */
    int (*selectable)(void *self, int stage);
} coco_curriculum_vt;

/* 1 when a curriculum vtable has the appended member `field` set. */
#define COCO_CURRICULUM_HAS(vt, field)                                                                  \
    ((vt)->struct_size >= offsetof(coco_curriculum_vt, field) + sizeof((vt)->field) && (vt)->field)

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
    /* Appended (issue 14; read only when COCO_PROBE_EVENT_HAS(host, steps)):
     * the example's gold reasoning steps as its dataset gave them (ProntoQA
     * sentences, GSM8k / arith "<<a*b=c>>" items, ProsQA statements), before
     * any curriculum replaced or dropped some. */
    int n_steps;
    const char *const *steps;
} coco_probe_event;

/* 1 when the host fills the probe-event field `field` appended after ABI 1. */
#define COCO_PROBE_EVENT_HAS(host, field)                                                               \
    ((host)->struct_size >= offsetof(coco_host, probe_event_size) + sizeof(uint32_t) &&                 \
     (host)->probe_event_size >= offsetof(coco_probe_event, field) + sizeof(((coco_probe_event *)0)->field))

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

/* The two symbols a plugin defines. Declared here so that a definition is
 * type-checked and exported even when the plugin is compiled with
 * -fvisibility=hidden (the built-in plugins are), and has C linkage in C++. */
COCO_PLUGIN_EXPORT extern const uint32_t coco_plugin_abi;
COCO_PLUGIN_EXPORT int coco_plugin_init(coco_plugin *p, const coco_host *host);

#ifdef __cplusplus
}
#endif
#endif

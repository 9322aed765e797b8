/* fuzz_dataset.h — the body of the dataset-loader harnesses (fuzz_prosqa.c,
 * fuzz_prontoqa.c, fuzz_gsm8k.c): each includes its plugin's source, then this.
 * The input becomes the train file; the plugin is driven exactly as the host
 * drives it (coco_plugin_init, options through the host's validator, create,
 * load("train") into a sink that reads every field, destroy), so the JSON /
 * text parsing, the checks and any rendering (ProsQA's symbolic formats,
 * selected by the first input byte through FUZZ_DATASET_VARIANT, the rest
 * being the file) all run. FUZZ_DATASET_SECOND_PASS(o), when defined, sets
 * options for a second load of the same file (ProntoQA's singular forms), so
 * a variant needs no byte of the input and the corpus keeps its format.
 * Needs FUZZ_DATASET_FILE (the train file's name). */
#include "coconut/pluginhost.h"
#include "fuzz.h"

static size_t fz_sink_bytes;

static int fz_add(void *ud, const coco_example *ex) {
    (void)ud;
    /* touch every field: a dangling or unterminated string shows up under ASan */
    if (ex->question) fz_sink_bytes += strlen(ex->question);
    if (ex->answer) fz_sink_bytes += strlen(ex->answer);
    for (int i = 0; i < ex->n_steps; i++) fz_sink_bytes += strlen(ex->steps[i]);
    if (ex->meta_json) fz_sink_bytes += strlen(ex->meta_json);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static coco_plugin desc;
    static int ready;
    if (!ready) {
        desc.abi_version = COCO_PLUGIN_ABI_VERSION;
        desc.struct_size = sizeof desc;
        if (coco_plugin_init(&desc, coco_host_get()) != 0) abort();
        ready = 1;
    }
    const coco_dataset_vt *vt = desc.vtable;
#ifdef FUZZ_DATASET_VARIANT
    /* the first byte picks the variant; the rest is the file */
    unsigned variant = size ? data[0] : 0;
    if (size) data++, size--;
#endif
    const char *path = fuzz_file(0, FUZZ_DATASET_FILE, data, size);
#ifdef FUZZ_DATASET_SECOND_PASS
    for (int pass = 0; pass < 2; pass++) {
#else
    for (int pass = 0; pass < 1; pass++) {
#endif
    coco_options *o = coco_options_new(desc.options, "fuzz");
    if (!o) abort();
    if (coco_options_set(o, "train_file", path) != 0) abort();
    if (coco_options_set(o, "generate", "false") != 0) abort();
#ifdef FUZZ_DATASET_VARIANT
    FUZZ_DATASET_VARIANT(o, variant);
#endif
#ifdef FUZZ_DATASET_SECOND_PASS
    if (pass == 1) FUZZ_DATASET_SECOND_PASS(o);
#endif
    if (coco_options_finish(o) != 0) abort();
    void *self = NULL;
    int crc = vt->create(o, &self);
    if (crc != 0 && fuzz_verbose()) fprintf(stderr, "create: %s\n", coco_errmsg());
    if (crc == 0) {
        coco_example_sink sink = {NULL, fz_add};
        int rc = vt->load(self, "train", &sink); /* -1 with a message is the expected answer to bad bytes */
        if (fuzz_verbose()) fprintf(stderr, "load: %d %s\n", rc, rc ? coco_errmsg() : "");
        vt->destroy(self);
    }
    coco_options_free(o);
    }
    return 0;
}

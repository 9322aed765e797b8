/* test_tokenizer.c — GPT-2 BPE (reference encodings, tiny committed vocab in HF
 * and OpenAI names, Python-vs-JS whitespace, special tokens, malformed files,
 * round-trip property) and the word-level tokenizer (build/save/load, unknown
 * words, <unk>, exact round trip over ProsQA/ProntoQA).
 *
 * The tiny fixture (tests/fixtures/tok/{hf,openai}) has the 256 byte tokens in
 * GPT-2's order (ids 0..255, so 'a' = 64, ' ' = 220, '\n' = 198), then one id
 * per merge line in rank order — Ġt 256, he 257, Ġthe 258, ll 259, ell 260,
 * hell 261, hello 262, Ġw 263, or 264, Ġwor 265, ld 266, Ġworld 267, aa 268,
 * aaaa 269, ĠÂ 270, Ġï 271, 's 272, ĠĠ 273, 12 274, er 275 — then
 * <|endoftext|> 276 and, out of merge order, Ġá 277 (merge rank 20).
 * Expected ids were worked out with OpenAI's algorithm (encoder.py: regex
 * pieces with \s = Unicode White_Space, then "merge every occurrence of the
 * best-ranked bigram, repeat"), cross-checked offline by a Python
 * re-implementation (not committed; CI needs no Python). */
#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

#include "coconut/tokenizer.h"
#include "testutil.h"

#define FIX_HF "tests/fixtures/tok/hf"
#define FIX_OAI "tests/fixtures/tok/openai"

/* ------------------------------------------------------------ helpers */

static coco_tokenizer *fixture(void) {
    coco_tokenizer *t = coco_tok_gpt2_load(FIX_HF "/vocab.json", FIX_HF "/merges.txt");
    if (!t) fail_msg("fixture: %s", coco_errmsg());
    return t;
}

/* Real GPT-2 files, or NULL (the caller skips). */
static coco_tokenizer *gpt2_real(void) {
    const char *d = shared_data();
    if (!d) return NULL;
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/gpt2-tokenizer", d);
    if (!tu_file_exists(dir)) return NULL;
    coco_tokenizer *t = coco_tok_gpt2_load(dir, NULL);
    if (!t) fail_msg("GPT-2 files: %s", coco_errmsg());
    return t;
}

#define SKIP_MSG(...) \
    do { \
        printf("# SKIP: " __VA_ARGS__); \
        printf("\n"); \
        skip(); \
    } while (0)

static void expect_ids(coco_tokenizer *t, const char *text, size_t len, const int32_t *want, size_t nwant) {
    int32_t *ids;
    int64_t n = coco_tok_encode(t, text, len, &ids);
    if (n < 0) fail_msg("encode failed: %s", coco_errmsg());
    int same = (size_t)n == nwant && memcmp(ids, want, nwant * sizeof *ids) == 0;
    if (!same) {
        char got[2048] = "", exp[2048] = "";
        for (int64_t i = 0; i < n && strlen(got) < 2000; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%d,", ids[i]);
        for (size_t i = 0; i < nwant && strlen(exp) < 2000; i++)
            snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%d,", want[i]);
        free(ids);
        fail_msg("encode(\"%.*s\"): got [%s] want [%s]", (int)len, text, got, exp);
    }
    free(ids);
}
#define EXPECT_IDS(t, s, ...) \
    do { \
        const int32_t want_[] = {__VA_ARGS__}; \
        expect_ids((t), (s), sizeof(s) - 1, want_, sizeof want_ / sizeof *want_); \
    } while (0)

/* decode(encode(s)) == s, byte for byte. */
static void expect_roundtrip(coco_tokenizer *t, const char *s, size_t len) {
    int32_t *ids;
    int64_t n = coco_tok_encode(t, s, len, &ids);
    if (n < 0) fail_msg("encode failed: %s", coco_errmsg());
    char *out;
    size_t olen;
    assert_int_equal(coco_tok_decode(t, ids, (size_t)n, &out, &olen), 0);
    if (olen != len || memcmp(out, s, len) != 0) {
        free(ids);
        fail_msg("round trip changed \"%.*s\" (%zu bytes) into \"%s\" (%zu bytes)", (int)len, s, len, out, olen);
    }
    assert_int_equal(out[olen], 0);
    free(out);
    free(ids);
}

static char tmpdir[64];

static int make_tmpdir(void **state) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/coco_tok_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_tmp(const char *name, const char *content) {
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return p;
}

/* ------------------------------------------------------------ GPT-2: reference file */

static void test_gpt2_reference_encodings(void **s) {
    coco_tokenizer *t = gpt2_real();
    if (!t) SKIP_MSG("../shared/data/gpt2-tokenizer absent: reference encodings not checked");
    char path[1200];
    snprintf(path, sizeof path, "%s/gpt2-tokenizer/reference_encodings.jsonl", shared_data());
    FILE *f = fopen(path, "r");
    if (!f) {
        coco_tok_free(t);
        SKIP_MSG("%s absent", path);
    }
    assert_int_equal(coco_tok_size(t), 50257);
    assert_int_equal(coco_tok_eos(t), 50256);
    /* gpt-3-encoder has no special tokens: <|endoftext|> in its texts is plain. */
    coco_tok_set_eos_special(t, 0);
    static char line[1 << 16];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *j = json_loads(line, JSON_ALLOW_NUL, &je);
        json_t *tx = json_object_get(j, "text"), *want = json_object_get(j, "ids");
        if (!j || !json_is_string(tx) || !json_is_array(want)) fail_msg("%s:%d: unreadable line", path, lines + 1);
        size_t nw = json_array_size(want);
        int32_t *w = malloc((nw + 1) * sizeof *w);
        for (size_t i = 0; i < nw; i++) w[i] = (int32_t)json_integer_value(json_array_get(want, i));
        expect_ids(t, json_string_value(tx), json_string_length(tx), w, nw);
        expect_roundtrip(t, json_string_value(tx), json_string_length(tx));
        free(w);
        json_decref(j);
        lines++;
    }
    fclose(f);
    assert_int_equal(lines, 253);
    /* The cache must not change anything: same file again, cold. */
    coco_tok_set_cache(t, 0);
    expect_roundtrip(t, "Hello world", 11);
    coco_tok_free(t);
}

/* ------------------------------------------------------------ GPT-2: tiny fixture */

static void check_fixture(coco_tokenizer *t) {
    assert_string_equal(coco_tok_kind(t), "gpt2");
    assert_int_equal(coco_tok_size(t), 278);
    assert_int_equal(coco_tok_eos(t), 276);
    assert_true(coco_tok_is_special(t, 276));
    assert_false(coco_tok_is_special(t, 258));
    size_t len;
    assert_string_equal(coco_tok_token(t, 258, &len), " the");
    assert_int_equal(len, 4);
    assert_int_equal(coco_tok_id(t, " the"), 258);
    assert_int_equal(coco_tok_id(t, "\xC4\xA0the"), -1); /* "Ġthe" is vocab.json's spelling, not the token */
    assert_int_equal(coco_tok_id(t, "\n"), 198);
    assert_null(coco_tok_token(t, 278, NULL));
    assert_null(coco_tok_token(t, -1, NULL));
    /* Merges by rank, not longest match: "he" (rank 1) wins over "ll" (3), so
     * "hello" (rank 6 via "hell") is never reached; "ell" (4) still is. */
    EXPECT_IDS(t, "hello world", 257, 259, 78, 267);
    EXPECT_IDS(t, "Hello", 39, 260, 78);
    EXPECT_IDS(t, " the the", 258, 258);
    EXPECT_IDS(t, "her", 257, 81);
    /* Overlapping occurrences merge left to right. */
    EXPECT_IDS(t, "aaa", 268, 64);
    EXPECT_IDS(t, "aaaa", 269);
    EXPECT_IDS(t, "aaaaa", 269, 64);
    /* Contractions and digits are their own pieces. */
    EXPECT_IDS(t, "it's", 72, 83, 272);
    EXPECT_IDS(t, "12345", 274, 18, 19, 20);
    /* Whitespace: a run before a word leaves its last space to the word. */
    EXPECT_IDS(t, "   x", 273, 220, 87);
    EXPECT_IDS(t, "Hello\n\n  world", 39, 260, 78, 198, 198, 220, 267);
    int32_t *ids;
    assert_int_equal(coco_tok_encode(t, "", 0, &ids), 0);
    assert_non_null(ids);
    free(ids);
}

static void test_fixture_hf_and_openai_names(void **s) {
    const char *pairs[4][2] = {{FIX_HF "/vocab.json", FIX_HF "/merges.txt"},
                               {FIX_OAI "/encoder.json", FIX_OAI "/vocab.bpe"},
                               {FIX_HF, NULL},
                               {FIX_OAI, NULL}};
    for (int k = 0; k < 4; k++) {
        coco_tokenizer *t = coco_tok_gpt2_load(pairs[k][0], pairs[k][1]);
        if (!t) fail_msg("load %s: %s", pairs[k][0], coco_errmsg());
        check_fixture(t);
        coco_tok_set_cache(t, 0); /* the same answers without the cache */
        check_fixture(t);
        coco_tok_free(t);
    }
    assert_null(coco_tok_gpt2_load("tests/fixtures", NULL));
    assert_non_null(strstr(coco_errmsg(), "tests/fixtures: holds neither vocab.json + merges.txt nor encoder.json"));
    assert_null(coco_tok_gpt2_load(FIX_HF "/vocab.json", NULL));
    assert_non_null(strstr(coco_errmsg(), "not a directory"));
    assert_null(coco_tok_gpt2_load("/nonexistent/vocab.json", FIX_HF "/merges.txt"));
    assert_non_null(strstr(coco_errmsg(), "/nonexistent/vocab.json: cannot open"));
}

/* ------------------------------------------------------------ Python vs JS \s */

/* Python's `regex` \s (OpenAI, HF) has U+0085 and not U+FEFF; JavaScript's
 * (gpt-3-encoder) the opposite.
 *   "x \u0085y": Python pieces "x", " ", "\u0085", "y" (" \u0085" is a
 *   whitespace run followed by "y", so \s+(?!\S) backs off to " ", and
 *   "\u0085" alone takes the plain \s+); JS: "x", " \u0085" (space + a
 *   non-space "other" char via " ?[^\s\p{L}\p{N}]+"), "y".
 *   "a \uFEFFb": Python "a", " \uFEFF" (FEFF is Cf: an "other" char), "b";
 *   JS "a", " ", "\uFEFF", "b".
 * Bytes: U+0085 = C2 85 ("Âħ"), U+FEFF = EF BB BF ("ï»¿"). */
static void test_whitespace_python_not_js(void **s) {
    coco_tokenizer *t = fixture();
    /* Fixture: merges "Ġ Â" (270) and "Ġ ï" (271) expose the piece boundaries. */
    EXPECT_IDS(t, "x \xC2\x85y", 87, 220, 126, 227, 88); /* JS would give 87, 270, 227, 88 */
    EXPECT_IDS(t, "a \xEF\xBB\xBF" "b", 64, 271, 119, 123, 65); /* JS: 64, 220, 171, 119, 123, 65 */
    /* U+180E (E1 A0 8E, "á ł") is not White_Space, though PCRE2's UCP \s says
     * it is: Python pieces "a", " \u180E", "b" (merge "Ġ á" = 277 applies);
     * with PCRE2's \s: "a", " ", "\u180E", "b" -> 64, 220, 157, 254, 236, 65. */
    EXPECT_IDS(t, "a \xE1\xA0\x8E" "b", 64, 277, 254, 236, 65);
    /* U+0085 is whitespace: "\t\u0085\n" is one whitespace piece; U+3000 too. */
    EXPECT_IDS(t, "tab\t\xC2\x85\n", 83, 64, 65, 197, 126, 227, 198);
    coco_tok_free(t);
}

/* The same on the real vocabulary; expected ids from OpenAI's algorithm with
 * \s = White_Space (and, for contrast, what gpt-3-encoder gives). */
static void test_whitespace_python_not_js_gpt2(void **s) {
    coco_tokenizer *t = gpt2_real();
    if (!t) SKIP_MSG("../shared/data/gpt2-tokenizer absent: real-vocabulary part not checked");
    EXPECT_IDS(t, "hello \xC2\x85world", 31373, 220, 126, 227, 6894); /* JS: 31373, 1587, 227, 6894 */
    EXPECT_IDS(t, "a \xEF\xBB\xBF" "b", 64, 27332, 119, 123, 65);     /* JS: 64, 220, 171, 119, 123, 65 */
    EXPECT_IDS(t, "x\xC2\x85y", 87, 126, 227, 88);
    EXPECT_IDS(t, " \xC2\x85", 1587, 227);
    EXPECT_IDS(t, "tab\t\xC2\x85\n", 8658, 197, 126, 227, 198);
    EXPECT_IDS(t, "a\xE1\xA0\x8E" "b", 64, 157, 254, 236, 65);
    EXPECT_IDS(t, "a \xE1\xA0\x8E" "b", 64, 28053, 254, 236, 65);
    EXPECT_IDS(t, "a \xE2\x80\x8B" "b", 64, 20126, 65);
    EXPECT_IDS(t, "a\xE3\x80\x80\xE3\x80\x80" "b", 64, 5099, 222, 5099, 222, 65);
    coco_tok_free(t);
}

/* ------------------------------------------------------------ specials */

static void test_special_tokens(void **s) {
    coco_tokenizer *t = fixture();
    assert_int_equal(coco_tok_add_special(t, "<|start-latent|>"), 278);
    assert_int_equal(coco_tok_add_special(t, "<|end-latent|>"), 279);
    assert_int_equal(coco_tok_add_special(t, "<|latent|>"), 280);
    assert_int_equal(coco_tok_add_special(t, "<|latent|>"), 280); /* existing id */
    assert_int_equal(coco_tok_add_special(t, "<|endoftext|>"), 276);
    assert_int_equal(coco_tok_size(t), 281);
    assert_int_equal(coco_tok_id(t, "<|latent|>"), 280);
    assert_true(coco_tok_is_special(t, 280));
    EXPECT_IDS(t, "a<|latent|><|latent|>b", 64, 280, 280, 65);
    EXPECT_IDS(t, "<|start-latent|><|latent|><|end-latent|> the", 278, 280, 279, 258);
    /* Pieces are tokenized on their own: the space before a special stays a space. */
    EXPECT_IDS(t, "x <|latent|>", 87, 220, 280);
    /* eos: special by default (Hugging Face), plain text on request (OpenAI). */
    EXPECT_IDS(t, "a<|endoftext|>b", 64, 276, 65);
    assert_int_equal(coco_tok_set_eos_special(t, 0), 1);
    EXPECT_IDS(t, "a<|endoftext|>b", 64, 27, 91, 68, 77, 67, 78, 69, 83, 68, 87, 83, 91, 29, 65);
    EXPECT_IDS(t, "a<|latent|>b", 64, 280, 65); /* added tokens stay special */
    assert_int_equal(coco_tok_set_eos_special(t, 1), 0);
    EXPECT_IDS(t, "<|endoftext|><|endoftext|>", 276, 276);
    /* An added token that is also an ordinary one becomes special in text. */
    assert_int_equal(coco_tok_add_special(t, "aa"), 268);
    EXPECT_IDS(t, "aaaa", 268, 268);
    const char *mixed = "q<|start-latent|><|latent|><|latent|><|end-latent|>x<|endoftext|>";
    expect_roundtrip(t, mixed, strlen(mixed));
    char *out;
    assert_int_equal(coco_tok_decode(t, (int32_t[]){64, 280, 276}, 3, &out, NULL), 0);
    assert_string_equal(out, "a<|latent|><|endoftext|>");
    free(out);
    coco_tok_free(t);
}

static void test_special_tokens_gpt2(void **s) {
    coco_tokenizer *t = gpt2_real();
    if (!t) SKIP_MSG("../shared/data/gpt2-tokenizer absent: real-vocabulary ids not checked");
    assert_int_equal(coco_tok_add_special(t, "<|start-latent|>"), 50257);
    assert_int_equal(coco_tok_add_special(t, "<|end-latent|>"), 50258);
    assert_int_equal(coco_tok_add_special(t, "<|latent|>"), 50259);
    assert_int_equal(coco_tok_add_special(t, "<|pause|>"), 50260);
    assert_int_equal(coco_tok_eos(t), 50256);
    EXPECT_IDS(t, "a<|latent|><|latent|>b", 64, 50259, 50259, 65);
    EXPECT_IDS(t, "Hello world<|endoftext|>", 15496, 995, 50256);
    coco_tok_set_eos_special(t, 0);
    EXPECT_IDS(t, "Hello world<|endoftext|>", 15496, 995, 27, 91, 437, 1659, 5239, 91, 29);
    coco_tok_free(t);
}

static void test_decode_errors(void **s) {
    coco_tokenizer *t = fixture();
    char *out = (char *)1;
    size_t len = 7;
    assert_int_equal(coco_tok_decode(t, (int32_t[]){64, 278}, 2, &out, &len), -1);
    assert_null(out);
    assert_string_equal(coco_errmsg(), "coco_tok_decode: id 278 at position 1 is out of range [0, 278)");
    assert_int_equal(coco_tok_decode(t, (int32_t[]){-100}, 1, &out, &len), -1);
    assert_non_null(strstr(coco_errmsg(), "id -100 at position 0"));
    assert_int_equal(coco_tok_decode(t, NULL, 0, &out, &len), 0);
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    free(out);
    assert_int_equal(coco_tok_save(t, "/tmp/never_written.json"), -1);
    assert_non_null(strstr(coco_errmsg(), "/tmp/never_written.json: not saved: a GPT-2 tokenizer"));
    coco_tok_free(t);
}

/* ------------------------------------------------------------ malformed files */

/* A valid 256-byte vocabulary as JSON text, one entry per line (id k on line
 * k + 2), with `extra` spliced in before the closing "}" (so its first entry
 * is on line 258). Ids in GPT-2's order: printable bytes first. */
static char *vocab_text(const char *extra) {
    int cp[256], n = 0, id = 0;
    for (int c = 0; c < 256; c++) {
        int keep = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
        cp[c] = keep ? c : 256 + n++;
    }
    char *r = malloc(256 * 16 + strlen(extra) + 8), *p = r;
    p += sprintf(p, "{");
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < 256; c++) {
            if ((cp[c] < 256) != (pass == 0)) continue;
            char u[3] = {0};
            if (cp[c] < 0x80) {
                u[0] = (char)cp[c];
            } else {
                u[0] = (char)(0xC0 | cp[c] >> 6);
                u[1] = (char)(0x80 | (cp[c] & 63));
            }
            p += sprintf(p, "%s\n \"%s%s\": %d", id ? "," : "", (c == '"' || c == '\\') ? "\\" : "", u, id);
            id++;
        }
    p += sprintf(p, "%s\n}\n", extra);
    return r;
}

static void expect_load_error(const char *vocab, const char *merges, const char *substr) {
    const char *v = write_tmp("vocab.json", vocab);
    const char *m = write_tmp("merges.txt", merges);
    coco_tokenizer *t = coco_tok_gpt2_load(v, m);
    if (t) {
        coco_tok_free(t);
        fail_msg("loading succeeded; expected an error containing '%s'", substr);
    }
    if (!strstr(coco_errmsg(), substr)) fail_msg("error '%s' does not contain '%s'", coco_errmsg(), substr);
}

static void test_malformed_vocab(void **s) {
    const char *merges = "#version: 0.2\nh e\n";
    char *good = vocab_text(",\n \"he\": 256");
    const char *v = write_tmp("vocab.json", good), *m = write_tmp("merges.txt", merges);
    coco_tokenizer *t = coco_tok_gpt2_load(v, m);
    if (!t) fail_msg("the well-formed variant must load: %s", coco_errmsg());
    EXPECT_IDS(t, "hehe", 256, 256);
    coco_tok_free(t);
    free(good);

    char msg[512];
    /* Bad JSON: jansson's line and column, with the file name. */
    expect_load_error("{\n \"a\": 0,\n \"b\": ,\n}\n", merges, "vocab.json:3:");
    expect_load_error("{\n \"a\": 0,\n \"b\": ,\n}\n", merges, "unexpected token near ','");
    /* Non-integer id: the line of its key. */
    char *bad = vocab_text(",\n \"he\": \"x\"");
    snprintf(msg, sizeof msg, "vocab.json:%d: token \"he\": id is not an integer", 258);
    expect_load_error(bad, merges, msg);
    free(bad);
    bad = vocab_text(",\n \"he\": 1.5");
    expect_load_error(bad, merges, "token \"he\": id is not an integer");
    free(bad);
    /* Duplicate id. */
    bad = vocab_text(",\n \"he\": 7");
    snprintf(msg, sizeof msg, "vocab.json:%d: token \"he\": duplicate id 7 (already used by \"(\")", 258);
    expect_load_error(bad, merges, msg);
    free(bad);
    /* Gap in the ids. */
    bad = vocab_text(",\n \"he\": 300");
    expect_load_error(bad, merges, "token \"he\": id 300 is outside 0..256");
    free(bad);
    /* Duplicate key (jansson, with line). */
    bad = vocab_text(",\n \"he\": 256,\n \"he\": 257");
    expect_load_error(bad, merges, "vocab.json:259:");
    expect_load_error(bad, merges, "duplicate object key");
    free(bad);
    /* Not an object; missing byte tokens. */
    expect_load_error("[1, 2]", merges, "vocab.json: expected a JSON object");
    expect_load_error("{\"a\": 0}", merges, "vocab.json: no token for byte 0x00 (character U+0100)");
}

static void test_malformed_merges(void **s) {
    char *voc = vocab_text(",\n \"he\": 256,\n \"Ġt\": 257");
    expect_load_error(voc, "#version: 0.2\nh e\nĠt\n",
                      "merges.txt:3: expected two symbols separated by one space, got \"Ġt\"");
    expect_load_error(voc, "#version: 0.2\nh e\n\nĠ t\n", "merges.txt:3: expected two symbols");
    expect_load_error(voc, "h e\nĠ t x\n", "merges.txt:2: expected two symbols");
    expect_load_error(voc, "#version: 0.2\nh e\nzz t\n", "merges.txt:3: symbol \"zz\" is not in the vocabulary");
    expect_load_error(voc, "#version: 0.2\nh e\nh x\n", "merges.txt:3: merged token \"hx\" is not in the vocabulary");
    /* CRLF line ends and a missing final newline are fine; no #version line too. */
    const char *v = write_tmp("vocab.json", voc), *m = write_tmp("merges.txt", "h e\r\nĠ t");
    coco_tokenizer *t = coco_tok_gpt2_load(v, m);
    if (!t) fail_msg("CRLF merges: %s", coco_errmsg());
    EXPECT_IDS(t, "he the", 256, 257, 256);
    coco_tok_free(t);
    free(voc);
}

/* ------------------------------------------------------------ round-trip property */

static size_t put_utf8(char *o, uint32_t c) {
    if (c < 0x80) return o[0] = (char)c, 1;
    if (c < 0x800) return o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 63)), 2;
    if (c < 0x10000)
        return o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | (c >> 6 & 63)), o[2] = (char)(0x80 | (c & 63)), 3;
    o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | (c >> 12 & 63)), o[2] = (char)(0x80 | (c >> 6 & 63));
    o[3] = (char)(0x80 | (c & 63));
    return 4;
}

/* Random valid UTF-8 built from classes that stress the pre-tokenizer. */
static size_t random_text(coco_rng *r, char *buf, size_t maxchars) {
    static const uint32_t special[] = {0x85,   0xFEFF, 0x200B, 0x3000, 0x180E, 0xA0,    0x2028, 0x2029,
                                       0x1680, 0x202F, 0x205F, 0x0301, 0x0308, 0x200D, 0xFE0F, 0x1F600,
                                       0x1F44D, 0x1F3FD, 0x1F1FA, 0x1F1F8, 0x10FFFF, 0xE0001, 0xFFFD, 0x0};
    static const char *words[] = {"'s", "'ll", "'S", " the", "Hello", "<|endoftext|>", "<|latent|>", "123", " 4.5",
                                  "don't", "...", "\r\n", "\n\n", "   ", "\t", "\x1c\x1d\x1e\x1f"};
    size_t n = 0, nc = coco_rng_below(r, maxchars + 1);
    for (size_t k = 0; k < nc; k++) {
        uint32_t c;
        switch (coco_rng_below(r, 9)) {
        case 0: c = (uint32_t)coco_rng_below(r, 0x80); break;                /* ASCII incl. controls */
        case 1: c = " \t\n\r\v\f"[coco_rng_below(r, 6)]; break;             /* whitespace */
        case 2: c = special[coco_rng_below(r, sizeof special / 4)]; break;
        case 3: c = 0x80 + (uint32_t)coco_rng_below(r, 0x780); break;        /* 2-byte */
        case 4:
            do c = 0x800 + (uint32_t)coco_rng_below(r, 0xF800);
            while (c >= 0xD800 && c < 0xE000);
            break;                                                           /* 3-byte, no surrogates */
        case 5: c = 0x10000 + (uint32_t)coco_rng_below(r, 0x100000); break; /* 4-byte */
        case 6: {
            const char *w = words[coco_rng_below(r, sizeof words / sizeof *words)];
            size_t l = strlen(w);
            memcpy(buf + n, w, l);
            n += l;
            continue;
        }
        default: c = 'a' + (uint32_t)coco_rng_below(r, 26); break;
        }
        n += put_utf8(buf + n, c);
    }
    return n;
}

static void roundtrip_many(coco_tokenizer *t, int count, uint64_t seed) {
    coco_rng r;
    coco_rng_seed(&r, seed);
    static char buf[64 * 16 + 64];
    for (int i = 0; i < count; i++) {
        size_t n = random_text(&r, buf, 64);
        expect_roundtrip(t, buf, n);
    }
}

static void test_roundtrip_property(void **s) {
    coco_tokenizer *t = fixture();
    coco_tok_add_special(t, "<|latent|>");
    roundtrip_many(t, 3000, 1);
    coco_tok_set_eos_special(t, 0);
    roundtrip_many(t, 1000, 2);
    /* Not UTF-8 at all: still lossless (invalid runs are pieces of their own). */
    coco_rng r;
    coco_rng_seed(&r, 3);
    char buf[256];
    for (int i = 0; i < 2000; i++) {
        size_t n = coco_rng_below(&r, sizeof buf);
        for (size_t k = 0; k < n; k++) buf[k] = (char)coco_rng_below(&r, 256);
        expect_roundtrip(t, buf, n);
    }
    expect_roundtrip(t, "ab\xff\xfe cd \xc3 \xe2\x82", sizeof "ab\xff\xfe cd \xc3 \xe2\x82" - 1);
    coco_tok_free(t);
}

static void test_roundtrip_property_gpt2(void **s) {
    coco_tokenizer *t = gpt2_real();
    if (!t) SKIP_MSG("../shared/data/gpt2-tokenizer absent: real-vocabulary round trip not checked");
    roundtrip_many(t, 3000, 4);
    coco_tok_free(t);
}

/* Long pieces: the heap merge stays O(n log n) and the regex needs no big stack. */
static void test_long_inputs(void **s) {
    coco_tokenizer *t = fixture();
    size_t n = 1 << 20;
    char *buf = malloc(n);
    const char fills[] = {'a', ' ', '1', '.', 'h'};
    for (size_t f = 0; f < sizeof fills; f++) {
        memset(buf, fills[f], n);
        expect_roundtrip(t, buf, n);
    }
    int32_t *ids;
    memset(buf, 'a', n);
    assert_int_equal(coco_tok_encode(t, buf, n, &ids), (int64_t)(n / 4)); /* all "aaaa" */
    free(ids);
    free(buf);
    coco_tok_free(t);
}

/* Several threads on one tokenizer: one holds the cache, the others run
 * without it; all must agree with a single-threaded encode. */
typedef struct thr_arg {
    coco_tokenizer *t;
    const char *text;
    size_t len;
    int32_t *ids;
    int64_t n;
} thr_arg;

static void *thr_encode(void *p) {
    thr_arg *a = p;
    for (int rep = 0; rep < 20; rep++) {
        free(a->ids);
        a->n = coco_tok_encode(a->t, a->text, a->len, &a->ids);
    }
    return NULL;
}

static void test_threads_share_tokenizer(void **s) {
    coco_tokenizer *t = fixture();
    char text[4096];
    coco_rng r;
    coco_rng_seed(&r, 9);
    size_t len = random_text(&r, text, 200);
    int32_t *want;
    int64_t nw = coco_tok_encode(t, text, len, &want);
    thr_arg a[4] = {{0}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thr_arg){t, text, len, NULL, 0};
        pthread_create(&th[i], NULL, thr_encode, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].n, nw);
        assert_memory_equal(a[i].ids, want, (size_t)nw * sizeof *want);
        free(a[i].ids);
    }
    free(want);
    coco_tok_free(t);
}

/* ------------------------------------------------------------ word-level */

static void test_words_build_save_load(void **s) {
    const char *texts[] = {"Every wumpus is a yumpus.\n### Tom is a lempus.", "Is Tom a lempus or scrompus?",
                           "True or false: Alex is not bright."};
    const char *specials[] = {"<|start-latent|>", "<|end-latent|>", "<|latent|>"};
    coco_tokenizer *t = coco_tok_words_build(texts, 3, specials, 3, 0);
    assert_string_equal(coco_tok_kind(t), "words");
    /* Fixed low ids, then the sorted tokens ("\n" < "###" < "." < ":" < "?" < "Alex" ...). */
    assert_int_equal(coco_tok_eos(t), 0);
    assert_int_equal(coco_tok_id(t, "<|start-latent|>"), 1);
    assert_int_equal(coco_tok_id(t, "<|end-latent|>"), 2);
    assert_int_equal(coco_tok_id(t, "<|latent|>"), 3);
    assert_int_equal(coco_tok_id(t, "\n"), 4);
    assert_int_equal(coco_tok_id(t, "###"), 5);
    assert_int_equal(coco_tok_id(t, "."), 6);
    assert_int_equal(coco_tok_id(t, ":"), 7);
    assert_int_equal(coco_tok_id(t, "?"), 8);
    assert_int_equal(coco_tok_id(t, "Alex"), 9);
    assert_int_equal(coco_tok_id(t, "<unk>"), -1);
    const char *uniq[] = {"\n", "###", ".", ":", "?", "Alex", "Every", "Is", "Tom", "True", "a", "bright", "false",
                          "is", "lempus", "not", "or", "scrompus", "wumpus", "yumpus"};
    size_t nu = sizeof uniq / sizeof *uniq;
    assert_int_equal(coco_tok_size(t), 4 + (int)nu);
    for (size_t i = 0; i < nu; i++) assert_int_equal(coco_tok_id(t, uniq[i]), 4 + (int)i);
    /* Deterministic: other order, repeated texts -> same ids. */
    const char *texts2[] = {texts[2], texts[0], texts[1], texts[0]};
    coco_tokenizer *t2 = coco_tok_words_build(texts2, 4, specials, 3, 0);
    assert_int_equal(coco_tok_size(t2), coco_tok_size(t));
    for (int32_t i = 0; i < coco_tok_size(t); i++)
        assert_string_equal(coco_tok_token(t, i, NULL), coco_tok_token(t2, i, NULL));
    coco_tok_free(t2);

    /* One token per word / mark / newline; exact round trip. */
    int32_t *ids;
    assert_int_equal(coco_tok_encode(t, texts[0], strlen(texts[0]), &ids), 13);
    free(ids);
    for (int i = 0; i < 3; i++) expect_roundtrip(t, texts[i], strlen(texts[i]));
    const char *coconut = "Is Tom a lempus?\n<|start-latent|><|latent|><|latent|><|end-latent|>### Tom is a lempus.";
    expect_roundtrip(t, coconut, strlen(coconut));
    EXPECT_IDS(t, "Tom<|latent|> <|latent|>is", 12, 3, 3, 17);
    /* Non-canonical spacing is normalised, not an error. */
    char *out;
    int32_t *nids;
    int64_t nn = coco_tok_encode(t, "Tom  is\ta lempus .", 18, &nids);
    assert_int_equal(nn, 5);
    assert_int_equal(coco_tok_decode(t, nids, (size_t)nn, &out, NULL), 0);
    assert_string_equal(out, "Tom is a lempus.");
    free(out);
    free(nids);

    /* Unknown word: error naming it. */
    assert_int_equal(coco_tok_encode(t, "Tom is a zorpus.", 16, &ids), -1);
    assert_null(ids);
    assert_non_null(strstr(coco_errmsg(), "unknown word \"zorpus\" at byte 9"));
    /* eos as plain text splits into unknown marks. */
    coco_tok_set_eos_special(t, 0);
    assert_int_equal(coco_tok_encode(t, "Tom<|endoftext|>", 16, &ids), -1);
    assert_non_null(strstr(coco_errmsg(), "unknown word \"<\""));
    coco_tok_set_eos_special(t, 1);
    EXPECT_IDS(t, "Tom<|endoftext|>", 12, 0);

    /* Save, load, same encodings; add_special appends and survives a save. */
    assert_int_equal(coco_tok_add_special(t, "<|pause|>"), 24);
    char path[128];
    snprintf(path, sizeof path, "%s/words.json", tmpdir);
    assert_int_equal(coco_tok_save(t, path), 0);
    coco_tokenizer *l = coco_tok_words_load(path);
    if (!l) fail_msg("load: %s", coco_errmsg());
    assert_int_equal(coco_tok_size(l), coco_tok_size(t));
    assert_int_equal(coco_tok_eos(l), 0);
    assert_true(coco_tok_is_special(l, 24));
    assert_false(coco_tok_is_special(l, 21));
    const char *probe = "Every wumpus is a yumpus.\n<|pause|>### Tom is a lempus.<|endoftext|>";
    int32_t *a, *b;
    int64_t na = coco_tok_encode(t, probe, strlen(probe), &a), nb = coco_tok_encode(l, probe, strlen(probe), &b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, (size_t)na * sizeof *a);
    expect_roundtrip(l, probe, strlen(probe));
    free(a);
    free(b);
    /* No temp file left behind. */
    char tmpname[160];
    snprintf(tmpname, sizeof tmpname, "%s.tmp.%ld", path, (long)getpid());
    assert_false(tu_file_exists(tmpname));
    coco_tok_free(l);
    coco_tok_free(t);
}

static void test_words_unk(void **s) {
    const char *texts[] = {"Tom is a cat."};
    coco_tokenizer *t = coco_tok_words_build(texts, 1, NULL, 0, 1);
    int32_t unk = coco_tok_id(t, "<unk>");
    assert_int_equal(unk, 1);
    assert_int_equal(coco_tok_id(t, "."), 2);
    EXPECT_IDS(t, "Tom is a dog.", coco_tok_id(t, "Tom"), coco_tok_id(t, "is"), coco_tok_id(t, "a"), unk, 2);
    char *out;
    int32_t *ids;
    int64_t n = coco_tok_encode(t, "Tom is a dog.", 13, &ids);
    assert_int_equal(coco_tok_decode(t, ids, (size_t)n, &out, NULL), 0);
    assert_string_equal(out, "Tom is a <unk>."); /* <unk> is spaced like a word */
    free(out);
    free(ids);
    expect_roundtrip(t, "Tom is a <unk>.", 15);
    char path[128];
    snprintf(path, sizeof path, "%s/unk.json", tmpdir);
    assert_int_equal(coco_tok_save(t, path), 0);
    coco_tokenizer *l = coco_tok_words_load(path);
    assert_non_null(l);
    EXPECT_IDS(l, "a dog", coco_tok_id(t, "a"), unk);
    coco_tok_free(l);
    coco_tok_free(t);
    /* Splitting rules. */
    const char *t2[] = {"don't stop: 1.5 and 1,000 well-known (x)... ok!? end. Next"};
    t = coco_tok_words_build(t2, 1, NULL, 0, 0);
    const char *toks[] = {"don't", "stop", ":", "1.5", "and", "1,000", "well-known", "(", "x", ")",
                          "...", "ok", "!", "?", "end", ".", "Next"};
    n = coco_tok_encode(t, t2[0], strlen(t2[0]), &ids);
    assert_int_equal(n, sizeof toks / sizeof *toks);
    for (int64_t i = 0; i < n; i++) assert_string_equal(coco_tok_token(t, ids[i], NULL), toks[i]);
    free(ids);
    expect_roundtrip(t, t2[0], strlen(t2[0]));
    coco_tok_free(t);
}

static void test_words_load_malformed(void **s) {
    const char *p = write_tmp("w.json", "{\"kind\": \"words\",\n \"version\": 1,\n \"tokens\": [\"a\" \"b\"]}");
    assert_null(coco_tok_words_load(p));
    assert_non_null(strstr(coco_errmsg(), "w.json:3:"));
    p = write_tmp("w.json", "{\"kind\": \"words\", \"version\": 1, \"tokens\": [\"a\", \"b\", \"a\"]}");
    assert_null(coco_tok_words_load(p));
    assert_non_null(strstr(coco_errmsg(), "w.json: tokens[2] \"a\" duplicates tokens[0]"));
    p = write_tmp("w.json", "{\"kind\": \"words\", \"version\": 1, \"tokens\": [\"a\", 5]}");
    assert_null(coco_tok_words_load(p));
    assert_non_null(strstr(coco_errmsg(), "w.json: tokens[1] is not a non-empty string"));
    p = write_tmp("w.json", "{\"kind\": \"gpt2\", \"version\": 1, \"tokens\": []}");
    assert_null(coco_tok_words_load(p));
    assert_non_null(strstr(coco_errmsg(), "not a word-level tokenizer"));
    p = write_tmp("w.json", "{\"kind\": \"words\", \"version\": 1, \"tokens\": [\"a\"], \"specials\": [\"<x>\"]}");
    assert_null(coco_tok_words_load(p));
    assert_non_null(strstr(coco_errmsg(), "w.json: specials[0] \"<x>\" is not in \"tokens\""));
    p = write_tmp("w.json", "{\"kind\": \"words\", \"version\": 1, \"tokens\": [\"a\"], \"unk\": \"<unk>\"}");
    assert_null(coco_tok_words_load(p));
    assert_non_null(strstr(coco_errmsg(), "\"unk\" \"<unk>\" is not in \"tokens\""));
    assert_null(coco_tok_words_load("/nonexistent/w.json"));
    assert_non_null(strstr(coco_errmsg(), "/nonexistent/w.json"));
    /* A save into a missing directory fails cleanly. */
    const char *texts[] = {"a b"};
    coco_tokenizer *t = coco_tok_words_build(texts, 1, NULL, 0, 0);
    assert_int_equal(coco_tok_save(t, "/nonexistent/dir/w.json"), -1);
    assert_non_null(strstr(coco_errmsg(), "/nonexistent/dir/w.json: cannot open for writing"));
    coco_tok_free(t);
}

/* Independent count of words + marks in canonical data text: a run of letters
 * and digits is one word, a run of one repeated mark ("###") one mark. */
static int64_t count_units(const char *s) {
    int64_t n = 0;
    while (*s) {
        unsigned char c = (unsigned char)*s;
        int w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (c == ' ') {
            s++;
            continue;
        }
        n++;
        if (w) {
            while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')) s++;
        } else {
            while (*s == (char)c) s++;
        }
    }
    return n;
}

static void dataset_roundtrip(const char *file, int *checked) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", shared_data(), file);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return;
    size_t n = json_array_size(root);
    const char **texts = malloc(n * 3 * sizeof *texts);
    char **joined = malloc(n * sizeof *joined);
    /* Canonical Coconut layout: question, steps one per line, "### answer". */
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(root, i), *steps = json_object_get(e, "steps");
        size_t len = 64 + strlen(json_string_value(json_object_get(e, "question"))) +
                     strlen(json_string_value(json_object_get(e, "answer")));
        for (size_t k = 0; k < json_array_size(steps); k++)
            len += strlen(json_string_value(json_array_get(steps, k))) + 1;
        joined[i] = malloc(len);
        strcpy(joined[i], json_string_value(json_object_get(e, "question")));
        for (size_t k = 0; k < json_array_size(steps); k++) {
            strcat(joined[i], "\n");
            strcat(joined[i], json_string_value(json_array_get(steps, k)));
        }
        strcat(joined[i], "\n### ");
        strcat(joined[i], json_string_value(json_object_get(e, "answer")));
        texts[i] = joined[i];
    }
    coco_tokenizer *t = coco_tok_words_build(texts, n, NULL, 0, 0);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(root, i), *steps = json_object_get(e, "steps");
        const char *parts[64];
        size_t np = 0;
        parts[np++] = json_string_value(json_object_get(e, "question"));
        parts[np++] = json_string_value(json_object_get(e, "answer"));
        for (size_t k = 0; k < json_array_size(steps) && np < 63; k++)
            parts[np++] = json_string_value(json_array_get(steps, k));
        parts[np++] = joined[i];
        for (size_t k = 0; k < np; k++) {
            int32_t *ids;
            int64_t m = coco_tok_encode(t, parts[k], strlen(parts[k]), &ids);
            if (m < 0) fail_msg("%s[%zu]: %s", file, i, coco_errmsg());
            if (m != count_units(parts[k])) fail_msg("%s[%zu]: %lld tokens for %lld words/marks in \"%s\"", file, i,
                                                     (long long)m, (long long)count_units(parts[k]), parts[k]);
            free(ids);
            expect_roundtrip(t, parts[k], strlen(parts[k]));
            (*checked)++;
        }
    }
    printf("# %s: %d strings round-trip, vocabulary %d tokens\n", file, *checked, coco_tok_size(t));
    coco_tok_free(t);
    for (size_t i = 0; i < n; i++) free(joined[i]);
    free(joined);
    free(texts);
    json_decref(root);
}

static void test_words_datasets(void **s) {
    if (!shared_data()) SKIP_MSG("../shared/data absent: ProsQA/ProntoQA round trip not checked");
    int a = 0, b = 0;
    dataset_roundtrip("prosqa/valid.json", &a);
    dataset_roundtrip("prontoqa/valid.json", &b);
    if (a + b == 0) SKIP_MSG("prosqa/valid.json and prontoqa/valid.json absent");
}

/* ------------------------------------------------------------ misuse */

static void test_misuse(void **s) {
    coco_tokenizer *t = fixture();
    int32_t *ids;
    EXPECT_FAIL(coco_tok_encode(NULL, "a", 1, &ids), "coco_tok_encode: tokenizer is NULL");
    EXPECT_FAIL(coco_tok_encode(t, NULL, 3, &ids), "text is NULL with length 3");
    EXPECT_FAIL(coco_tok_encode(t, "a", 1, NULL), "ids is NULL");
    EXPECT_FAIL(coco_tok_add_special(t, ""), "non-empty string");
    EXPECT_FAIL(coco_tok_size(NULL), "coco_tok_size: tokenizer is NULL");
    EXPECT_FAIL(coco_tok_words_build(NULL, 2, NULL, 0, 0), "texts is NULL with count 2");
    coco_set_error_handler(NULL, NULL);
    coco_tok_free(NULL);
    coco_tok_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_reference_encodings),
        cmocka_unit_test(test_fixture_hf_and_openai_names),
        cmocka_unit_test(test_whitespace_python_not_js),
        cmocka_unit_test(test_whitespace_python_not_js_gpt2),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_special_tokens_gpt2),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_malformed_vocab),
        cmocka_unit_test(test_malformed_merges),
        cmocka_unit_test(test_roundtrip_property),
        cmocka_unit_test(test_roundtrip_property_gpt2),
        cmocka_unit_test(test_long_inputs),
        cmocka_unit_test(test_threads_share_tokenizer),
        cmocka_unit_test(test_words_build_save_load),
        cmocka_unit_test(test_words_unk),
        cmocka_unit_test(test_words_load_malformed),
        cmocka_unit_test(test_words_datasets),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests_name("tokenizer", tests, make_tmpdir, remove_tmpdir);
}

/* test_csv_plot.c — CSV writer/reader (coconut/csv.h) and gnuplot runner (coconut/plot.h).
 *
 * Every test works in its own mkdtemp directory under /tmp, removed afterwards.
 * gnuplot tests are skipped (with a message) when gnuplot is not installed.
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "coconut/csv.h"
#include "coconut/plot.h"

/* ------------------------------------------------------------------ helpers */

typedef struct tdir {
    char path[256];
} tdir;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static int setup_dir(void **state) {
    tdir *d = calloc(1, sizeof *d);
    snprintf(d->path, sizeof d->path, "/tmp/coco_csvplot_XXXXXX");
    if (!mkdtemp(d->path)) {
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

static int teardown_dir(void **state) {
    tdir *d = *state;
    nftw(d->path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
    return 0;
}

static char *tpath(void **state, const char *name) {
    static char buf[4][512];
    static int k;
    char *b = buf[k++ & 3];
    snprintf(b, 512, "%s/%s", ((tdir *)*state)->path, name);
    return b;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    fclose(f);
    s[got] = 0;
    if (len) *len = got;
    return s;
}

static void spit(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Number of directory entries (excluding . and ..); with substr, only those containing it. */
static int count_entries(const char *dir, const char *substr) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!substr || strstr(e->d_name, substr)) n++;
    }
    closedir(d);
    return n;
}

#define ASSERT_MSG_HAS(sub) \
    do { \
        if (!strstr(coco_errmsg(), (sub))) fail_msg("error message '%s' does not contain '%s'", coco_errmsg(), (sub)); \
    } while (0)

static int have_gnuplot(void) { return coco_plot_version() != NULL; }

#define REQUIRE_GNUPLOT() \
    do { \
        if (!have_gnuplot()) { \
            fprintf(stderr, "# gnuplot not installed (%s): skipping\n", coco_errmsg()); \
            skip(); \
        } \
    } while (0)

/* ------------------------------------------------------------------ CSV */

static const char *const tricky_cols[] = {"id", "text, with comma", "say \"hi\"", "note"};
#define TRICKY_ROWS 8
static const char *const tricky[TRICKY_ROWS][4] = {
    {"1", "plain", "0.5", "x"},
    {"2", "a,b", "he said \"no\"", "line1\nline2"},
    {"3", "", NULL, "crlf\r\ninside"},
    {"4", " leading space", "trailing\t", "\"\""},
    {"5", "héllo ✓ 中文", "naïve,café", "emoji 🙂"},
    {"6", "\"", ",", "\n"},
    {"7", "-1.5e-07", "nan", "inf"},
    {"8", "  ", "a\"\"b", "end"},
};

static void test_csv_roundtrip(void **state) {
    const char *p = tpath(state, "round trip.csv");
    coco_csv_writer *w = coco_csv_open(p, 4, tricky_cols, 0);
    assert_non_null(w);
    for (int r = 0; r < TRICKY_ROWS; r++) assert_int_equal(coco_csv_row(w, tricky[r]), 0);
    assert_int_equal(coco_csv_close(w), 0);

    coco_csv_table *t = coco_csv_read(p);
    if (!t) fail_msg("read: %s", coco_errmsg());
    assert_int_equal(coco_csv_ncols(t), 4);
    assert_int_equal(coco_csv_nrows(t), TRICKY_ROWS);
    for (int j = 0; j < 4; j++) assert_string_equal(coco_csv_colname(t, j), tricky_cols[j]);
    for (int r = 0; r < TRICKY_ROWS; r++)
        for (int j = 0; j < 4; j++) assert_string_equal(coco_csv_cell(t, r, j), tricky[r][j] ? tricky[r][j] : "");
    assert_int_equal(coco_csv_col(t, "say \"hi\""), 2);
    assert_int_equal(coco_csv_col(t, "note"), 3);
    assert_int_equal(coco_csv_col(t, "nope"), -1);
    coco_csv_free(t);

    /* Minimal quoting: numbers and plain words stay bare (gnuplot needs that). */
    char *raw = slurp(p, NULL);
    assert_non_null(raw);
    assert_non_null(strstr(raw, "id,\"text, with comma\",\"say \"\"hi\"\"\",note\n"));
    assert_non_null(strstr(raw, "\n1,plain,0.5,x\n"));
    assert_non_null(strstr(raw, "\n7,-1.5e-07,nan,inf\n"));
    assert_non_null(strstr(raw, "\n3,,,\"crlf\r\ninside\"\n"));
    free(raw);
}

static void test_csv_one_column_and_empty(void **state) {
    const char *p = tpath(state, "one.csv");
    const char *cols[] = {"v"};
    coco_csv_writer *w = coco_csv_open(p, 1, cols, 0);
    assert_non_null(w);
    const char *a[] = {"x"}, *b[] = {""}, *c[] = {NULL};
    assert_int_equal(coco_csv_row(w, a), 0);
    assert_int_equal(coco_csv_row(w, b), 0);
    assert_int_equal(coco_csv_row(w, c), 0);
    assert_int_equal(coco_csv_close(w), 0);
    coco_csv_table *t = coco_csv_read(p);
    if (!t) fail_msg("read: %s", coco_errmsg());
    assert_int_equal(coco_csv_nrows(t), 3);
    assert_string_equal(coco_csv_cell(t, 0, 0), "x");
    assert_string_equal(coco_csv_cell(t, 1, 0), "");
    assert_string_equal(coco_csv_cell(t, 2, 0), "");
    coco_csv_free(t);

    /* Header only: zero rows. BOM and blank lines are tolerated by the reader. */
    const char *q = tpath(state, "hdr.csv");
    spit(q, "\xEF\xBB\xBF" "a,b\n\n1,2\n\n");
    t = coco_csv_read(q);
    if (!t) fail_msg("read: %s", coco_errmsg());
    assert_string_equal(coco_csv_colname(t, 0), "a");
    assert_int_equal(coco_csv_nrows(t), 1);
    assert_string_equal(coco_csv_cell(t, 0, 1), "2");
    coco_csv_free(t);
    spit(q, "a,b\n");
    t = coco_csv_read(q);
    assert_non_null(t);
    assert_int_equal(coco_csv_nrows(t), 0);
    coco_csv_free(t);
    /* CRLF line endings (Excel, RFC 4180) read the same; ragged rows still get line numbers. */
    spit(q, "a,b\r\n1,\"x\r\ny\"\r\n3,4\r\n");
    t = coco_csv_read(q);
    if (!t) fail_msg("read: %s", coco_errmsg());
    assert_int_equal(coco_csv_nrows(t), 2);
    assert_string_equal(coco_csv_cell(t, 0, 1), "x\r\ny");
    assert_string_equal(coco_csv_cell(t, 1, 1), "4");
    coco_csv_free(t);
    spit(q, "a,b\r\n1,2\r\n\r\n3\r\n");
    assert_null(coco_csv_read(q));
    ASSERT_MSG_HAS("line 4: row has 1 field but");
    /* Last record without a newline is accepted by the reader. */
    spit(q, "a,b\n1,\"2\"");
    t = coco_csv_read(q);
    assert_non_null(t);
    assert_int_equal(coco_csv_nrows(t), 1);
    assert_string_equal(coco_csv_cell(t, 0, 1), "2");
    coco_csv_free(t);
}

static void test_csv_atomic(void **state) {
    const char *dir = ((tdir *)*state)->path;
    const char *p = tpath(state, "eval.csv");
    const char *cols[] = {"a", "b"};
    const char *row[] = {"1", "2"};

    /* New file: absent until close. */
    coco_csv_writer *w = coco_csv_open(p, 2, cols, 0);
    assert_non_null(w);
    for (int i = 0; i < 100; i++) assert_int_equal(coco_csv_row(w, row), 0);
    assert_int_equal(coco_csv_flush(w), 0);
    assert_false(tu_file_exists(p));
    assert_int_equal(count_entries(dir, ".tmp."), 1);
    assert_int_equal(coco_csv_close(w), 0);
    assert_true(tu_file_exists(p));
    assert_int_equal(count_entries(dir, NULL), 1);

    /* Overwrite: old content stays visible until close. */
    w = coco_csv_open(p, 2, (const char *[]){"x", "y"}, 0);
    assert_non_null(w);
    assert_int_equal(coco_csv_row(w, row), 0);
    assert_int_equal(coco_csv_flush(w), 0);
    char *s = slurp(p, NULL);
    assert_true(strncmp(s, "a,b\n", 4) == 0);
    free(s);
    assert_int_equal(coco_csv_close(w), 0);
    s = slurp(p, NULL);
    assert_string_equal(s, "x,y\n1,2\n");
    free(s);

    /* Abort: temp removed, old file untouched; a new path never appears. */
    w = coco_csv_open(p, 2, cols, 0);
    assert_non_null(w);
    assert_int_equal(coco_csv_row(w, row), 0);
    coco_csv_abort(w);
    s = slurp(p, NULL);
    assert_string_equal(s, "x,y\n1,2\n");
    free(s);
    const char *q = tpath(state, "never.csv");
    w = coco_csv_open(q, 2, cols, 0);
    assert_non_null(w);
    assert_int_equal(coco_csv_row(w, row), 0);
    assert_int_equal(coco_csv_flush(w), 0);
    coco_csv_abort(w);
    assert_false(tu_file_exists(q));
    assert_int_equal(count_entries(dir, NULL), 1);
    coco_csv_abort(NULL);

    /* Cannot open: missing directory, message names the file. */
    const char *bad = tpath(state, "no/such/dir/x.csv");
    assert_null(coco_csv_open(bad, 2, cols, 0));
    ASSERT_MSG_HAS(bad);
    assert_null(coco_csv_open(bad, 2, cols, 1));
    ASSERT_MSG_HAS(bad);
}

static void test_csv_append(void **state) {
    const char *p = tpath(state, "metrics.csv");
    const char *cols[] = {"step", "loss"};
    coco_csv_writer *w = coco_csv_open(p, 2, cols, 1);
    assert_non_null(w);
    assert_int_equal(coco_csv_dropped_bytes(w), 0);
    assert_int_equal(coco_csv_row(w, (const char *[]){"1", "2.5"}), 0);
    /* Flushed line by line: visible while the writer is still open. */
    char *s = slurp(p, NULL);
    assert_string_equal(s, "step,loss\n1,2.5\n");
    free(s);
    assert_int_equal(coco_csv_close(w), 0);

    /* Resume: same header, rows appended, header not repeated. */
    w = coco_csv_open(p, 2, cols, 1);
    assert_non_null(w);
    assert_int_equal(coco_csv_row(w, (const char *[]){"2", "a,b"}), 0);
    assert_int_equal(coco_csv_close(w), 0);
    coco_csv_table *t = coco_csv_read(p);
    assert_non_null(t);
    assert_int_equal(coco_csv_nrows(t), 2);
    assert_string_equal(coco_csv_cell(t, 1, 1), "a,b");
    coco_csv_free(t);

    /* Header mismatch: names the file and both headers. */
    assert_null(coco_csv_open(p, 3, (const char *[]){"step", "loss", "acc"}, 1));
    ASSERT_MSG_HAS(p);
    ASSERT_MSG_HAS("[step,loss]");
    ASSERT_MSG_HAS("[step,loss,acc]");
    assert_null(coco_csv_open(p, 2, (const char *[]){"loss", "step"}, 1));
    ASSERT_MSG_HAS("[loss,step]");
    s = slurp(p, NULL);
    assert_string_equal(s, "step,loss\n1,2.5\n2,\"a,b\"\n");
    free(s);

    /* Existing file with a ragged row: refuse to append. */
    const char *r = tpath(state, "ragged.csv");
    spit(r, "step,loss\n1,2\n3\n");
    assert_null(coco_csv_open(r, 2, cols, 1));
    ASSERT_MSG_HAS(r);
    ASSERT_MSG_HAS("line 3");

    /* Empty existing file: header written. */
    const char *e = tpath(state, "empty.csv");
    spit(e, "");
    w = coco_csv_open(e, 2, cols, 1);
    assert_non_null(w);
    assert_int_equal(coco_csv_close(w), 0);
    s = slurp(e, NULL);
    assert_string_equal(s, "step,loss\n");
    free(s);
}

static void test_csv_append_repair(void **state) {
    const char *cols[] = {"step", "note"};
    /* A crash mid-row left "3,0.2" without its newline: cut off, then append. */
    const char *p = tpath(state, "m.csv");
    spit(p, "step,note\n1,a\n2,\"x\ny\"\n3,0.2");
    coco_csv_writer *w = coco_csv_open(p, 2, cols, 1);
    if (!w) fail_msg("open: %s", coco_errmsg());
    assert_int_equal(coco_csv_dropped_bytes(w), 5);
    assert_int_equal(coco_csv_row(w, (const char *[]){"3", "b"}), 0);
    assert_int_equal(coco_csv_close(w), 0);
    char *s = slurp(p, NULL);
    assert_string_equal(s, "step,note\n1,a\n2,\"x\ny\"\n3,b\n");
    free(s);

    /* Interrupted inside a quoted multi-line field (the tail holds a newline). */
    spit(p, "step,note\n1,a\n2,\"x\ny");
    w = coco_csv_open(p, 2, cols, 1);
    assert_non_null(w);
    assert_int_equal(coco_csv_dropped_bytes(w), 6);
    coco_csv_abort(w);
    s = slurp(p, NULL);
    assert_string_equal(s, "step,note\n1,a\n");
    free(s);

    /* Interrupted while writing the header: start over. */
    spit(p, "ste");
    w = coco_csv_open(p, 2, cols, 1);
    assert_non_null(w);
    assert_int_equal(coco_csv_dropped_bytes(w), 3);
    assert_int_equal(coco_csv_close(w), 0);
    s = slurp(p, NULL);
    assert_string_equal(s, "step,note\n");
    free(s);
}

static void test_csv_reader_errors(void **state) {
    const char *p = tpath(state, "bad.csv");

    spit(p, "a,b,c\n1,2,3\n4,5\n6,7,8\n");
    assert_null(coco_csv_read(p));
    ASSERT_MSG_HAS(p);
    ASSERT_MSG_HAS("line 3");
    ASSERT_MSG_HAS("2 fields");
    ASSERT_MSG_HAS("header has 3");

    /* Too many fields; the record starts on line 3 although it spans lines. */
    spit(p, "a,b\n1,\"x\ny\"\n2,\"p\nq\",3\n");
    assert_null(coco_csv_read(p));
    ASSERT_MSG_HAS("line 4: row has 3 fields");

    /* Malformed quoting. */
    spit(p, "a,b\n1,2\n3,x\"y\n");
    assert_null(coco_csv_read(p));
    ASSERT_MSG_HAS(p);
    ASSERT_MSG_HAS("line 3: malformed quoting");
    spit(p, "a,b\n1,\"x\"y\n");
    assert_null(coco_csv_read(p));
    ASSERT_MSG_HAS("line 2: malformed quoting");

    /* Unterminated quote at end of file names the line where it began. */
    spit(p, "a,b\n1,2\n3,\"open\nmore\n");
    assert_null(coco_csv_read(p));
    ASSERT_MSG_HAS("line 3: unterminated quoted field");

    /* Empty file and missing file. */
    spit(p, "");
    assert_null(coco_csv_read(p));
    ASSERT_MSG_HAS("no header");
    const char *m = tpath(state, "missing.csv");
    assert_null(coco_csv_read(m));
    ASSERT_MSG_HAS(m);
    ASSERT_MSG_HAS("No such file");
}

static void test_csv_misuse(void **state) {
    const char *p = tpath(state, "x.csv");
    const char *cols[] = {"a", "b"};
    EXPECT_FAIL(coco_csv_open(p, 0, cols, 0), "ncols");
    EXPECT_FAIL(coco_csv_open(p, 2, NULL, 0), "columns");
    EXPECT_FAIL(coco_csv_open(p, 2, (const char *[]){"a", NULL}, 0), "column 1");
    EXPECT_FAIL(coco_csv_open(p, 2, (const char *[]){"a", ""}, 0), "column 1");
    EXPECT_FAIL(coco_csv_open(p, 2, (const char *[]){"a", "a"}, 0), "duplicate column name 'a'");
    EXPECT_FAIL(coco_csv_open(NULL, 2, cols, 0), "path");
    assert_int_equal(count_entries(((tdir *)*state)->path, NULL), 0);

    coco_csv_writer *w = coco_csv_open(p, 2, cols, 0);
    EXPECT_FAIL(coco_csv_row(w, NULL), "values");
    assert_int_equal(coco_csv_row(w, cols), 0);
    assert_int_equal(coco_csv_close(w), 0);
    coco_csv_table *t = coco_csv_read(p);
    assert_non_null(t);
    EXPECT_FAIL(coco_csv_cell(t, 1, 0), "row 1 out of range");
    EXPECT_FAIL(coco_csv_cell(t, 0, 2), "column 2 out of range");
    EXPECT_FAIL(coco_csv_colname(t, -1), "out of range");
    coco_csv_free(t);
    coco_csv_free(NULL);
    coco_set_error_handler(NULL, NULL);
}

/* File-size limit makes writes fail with EFBIG, standing in for a full disk. */
static void test_csv_write_error(void **state) {
    const char *dir = ((tdir *)*state)->path;
    const char *cols[] = {"k", "v"};
    char big[200];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const char *row[] = {"1", big};

    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

    const char *p = tpath(state, "full append.csv");
    coco_csv_writer *w = coco_csv_open(p, 2, cols, 1);
    int rc = 0, i;
    for (i = 0; i < 100 && rc == 0; i++) rc = coco_csv_row(w, row);
    char msg1[2048];
    snprintf(msg1, sizeof msg1, "%s", coco_errmsg());
    int rc_again = coco_csv_row(w, row);
    int rc_close = coco_csv_close(w);

    const char *q = tpath(state, "full atomic.csv");
    w = coco_csv_open(q, 2, cols, 0);
    int rc2 = 0;
    for (int j = 0; j < 100 && rc2 == 0; j++) rc2 = coco_csv_row(w, row);
    int rc2_close = coco_csv_close(w);
    char msg2[2048];
    snprintf(msg2, sizeof msg2, "%s", coco_errmsg());

    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, oldsig);

    assert_int_equal(rc, -1);
    assert_true(i > 5); /* some rows fit */
    if (!strstr(msg1, p) || !strstr(msg1, "write failed")) fail_msg("message: %s", msg1);
    assert_int_equal(rc_again, -1);
    assert_int_equal(rc_close, -1);
    assert_int_equal(rc2_close, -1);
    if (!strstr(msg2, q)) fail_msg("message: %s", msg2);
    assert_false(tu_file_exists(q));
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    /* The appended file keeps the complete rows written before the failure. */
    coco_csv_writer *w2 = coco_csv_open(p, 2, cols, 1);
    if (!w2) fail_msg("reopen: %s", coco_errmsg());
    coco_csv_abort(w2);
    coco_csv_table *t = coco_csv_read(p);
    if (!t) fail_msg("read: %s", coco_errmsg());
    assert_true(coco_csv_nrows(t) >= 5);
    coco_csv_free(t);
}

/* ------------------------------------------------------------------ gnuplot */

static const char *k_both_gp =
    "# renders ARG1 (PNG) and ARG2 (SVG) from data.csv\n"
    "set datafile separator comma\n"
    "set key autotitle columnhead\n"
    "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
    "    set terminal pngcairo size 640,400 font \"sans,10\"\n"
    "} else {\n"
    "    set terminal png size 640,400\n"
    "}\n"
    "set output ARG1\n"
    "plot \"data.csv\" using \"step\":\"loss\" with linespoints\n"
    "set terminal svg size 640,400 dynamic font \"sans,10\"\n"
    "set output ARG2\n"
    "replot\n"
    "unset output\n";

static void test_plot_png_svg(void **state) {
    REQUIRE_GNUPLOT();
    const char *dir = ((tdir *)*state)->path;
    const char *cols[] = {"step", "loss", "note"};
    coco_csv_writer *w = coco_csv_open(tpath(state, "data.csv"), 3, cols, 0);
    char a[32], b[32];
    for (int i = 0; i < 20; i++) {
        snprintf(a, sizeof a, "%d", i);
        snprintf(b, sizeof b, "%.6g", 3.0 / (1 + i));
        assert_int_equal(coco_csv_row(w, (const char *[]){a, b, i % 3 ? "x, y" : NULL}), 0);
    }
    assert_int_equal(coco_csv_close(w), 0);
    const char *gp = tpath(state, "fig both.gp");
    spit(gp, k_both_gp);

    const char *args[] = {"loss fig.png", "loss 'fig\".svg"};
    if (coco_plot(gp, 2, args, dir) != 0) fail_msg("coco_plot: %s", coco_errmsg());

    size_t n;
    char *png = slurp(tpath(state, "loss fig.png"), &n);
    assert_non_null(png);
    assert_true(n > 1000);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    free(png);
    char *svg = slurp(tpath(state, "loss 'fig\".svg"), &n);
    assert_non_null(svg);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "</svg>"));
    assert_non_null(strstr(svg, "<path"));
    free(svg);
}

static void test_plot_errors(void **state) {
    REQUIRE_GNUPLOT();
    const char *dir = ((tdir *)*state)->path;
    const char *gp = tpath(state, "bad script.gp");
    spit(gp, "set terminal svg\nset output \"bad.svg\"\nplot sin(x) wit lines bogus_token\n");
    assert_int_equal(coco_plot(gp, 0, NULL, dir), -1);
    ASSERT_MSG_HAS(gp);
    ASSERT_MSG_HAS("exit status");
    ASSERT_MSG_HAS("bogus_token");          /* gnuplot's complaint ... */
    ASSERT_MSG_HAS("line 3: unexpected or"); /* ... with its line number */

    /* A missing data file is only a warning to gnuplot (exit 0); we fail. */
    spit(tpath(state, "d.csv"), "x,y\n1,2\n2,3\n");
    spit(gp, "set datafile separator comma\nset terminal svg\nset output \"m.svg\"\n"
             "plot \"d.csv\" using 1:2, \"missing.csv\" using 1:2\n");
    assert_int_equal(coco_plot(gp, 0, NULL, dir), -1);
    ASSERT_MSG_HAS(gp);
    ASSERT_MSG_HAS("missing.csv");

    /* Other warnings are not failures. */
    spit(gp, "set datafile separator comma\nset terminal svg\nset output \"w.svg\"\n"
             "plot \"d.csv\" using 1:2, \"d.csv\" using 1:(1/0)\n");
    if (coco_plot(gp, 0, NULL, dir) != 0) fail_msg("warning treated as error: %s", coco_errmsg());

    /* Missing script, bad workdir. */
    const char *none = tpath(state, "none.gp");
    assert_int_equal(coco_plot(none, 0, NULL, dir), -1);
    ASSERT_MSG_HAS(none);
    assert_int_equal(coco_plot(gp, 0, NULL, tpath(state, "nodir")), -1);
    ASSERT_MSG_HAS("nodir");
}

static void test_plot_args_workdir(void **state) {
    REQUIRE_GNUPLOT();
    const char *dir = ((tdir *)*state)->path;
    const char *sub = tpath(state, "figs dir");
    assert_int_equal(mkdir(sub, 0755), 0);
    spit(tpath(state, "args.gp"), "set terminal svg\nset output ARG1\nset title ARG2\nplot sin(x)\n");

    /* Relative script path, relative workdir: both from the caller's cwd. */
    int cwd = open(".", O_RDONLY | O_DIRECTORY);
    assert_true(cwd >= 0);
    assert_int_equal(chdir(dir), 0);
    const char *args[] = {"out \"q\" 'x'.svg", "title with $HOME and `ls`"};
    int rc = coco_plot("args.gp", 2, args, "figs dir");
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", coco_errmsg());
    assert_int_equal(fchdir(cwd), 0);
    close(cwd);
    if (rc != 0) fail_msg("coco_plot: %s", msg);

    char *path = tpath(state, "figs dir/out \"q\" 'x'.svg");
    char *svg = slurp(path, NULL);
    if (!svg) fail_msg("%s not written", path);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "title with $HOME and `ls`")); /* no shell expansion */
    free(svg);
    assert_int_equal(count_entries(sub, NULL), 1);
}

static void test_plot_no_gnuplot(void **state) {
    const char *gp = tpath(state, "x.gp");
    spit(gp, "print 1\n");
    char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    setenv("PATH", ((tdir *)*state)->path, 1);
    int rc = coco_plot(gp, 0, NULL, NULL);
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", coco_errmsg());
    if (old) {
        setenv("PATH", old, 1);
        free(old);
    } else {
        unsetenv("PATH");
    }
    assert_int_equal(rc, -1);
    if (!strstr(msg, "gnuplot not found") || !strstr(msg, gp)) fail_msg("message: %s", msg);
}

static const char *const ten_args[10] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"};

static void test_plot_misuse(void **state) {
    const char *gp = tpath(state, "x.gp");
    spit(gp, "print 1\n");
    EXPECT_FAIL(coco_plot(gp, 10, ten_args, NULL), "nargs"); /* gnuplot -c would drop ARG10 */
    EXPECT_FAIL(coco_plot(gp, -1, NULL, NULL), "nargs");
    EXPECT_FAIL(coco_plot(NULL, 0, NULL, NULL), "gp_script");
    EXPECT_FAIL(coco_plot(gp, 1, NULL, NULL), "args");
    EXPECT_FAIL(coco_plot(gp, 2, (const char *[]){"a", NULL}, NULL), "args[1]");
    coco_set_error_handler(NULL, NULL);
}

static void test_plot_version_nine_args(void **state) {
    REQUIRE_GNUPLOT();
    const char *gp = tpath(state, "nine.gp");
    /* All nine arrive: the script fails (exit 1) unless ARGC == 9 and ARG9 == "9". */
    spit(gp, "if (ARGC != 9 || ARG9 ne \"9\") { exit status 1 }\n");
    const char *v = coco_plot_version();
    assert_non_null(v);
    assert_true(strncmp(v, "gnuplot ", 8) == 0);
    assert_ptr_equal(coco_plot_version(), v); /* cached */
    if (coco_plot(gp, 9, ten_args, NULL) != 0) fail_msg("coco_plot: %s", coco_errmsg());
    spit(gp, "exit status 3\n");
    assert_int_equal(coco_plot(gp, 0, NULL, NULL), -1);
    ASSERT_MSG_HAS("exit status 3");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv_roundtrip, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_csv_one_column_and_empty, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_csv_atomic, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_csv_append, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_csv_append_repair, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_csv_reader_errors, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_csv_misuse, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_csv_write_error, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_plot_png_svg, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_plot_errors, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_plot_args_workdir, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_plot_no_gnuplot, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_plot_misuse, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_plot_version_nine_args, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

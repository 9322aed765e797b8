/* csv.c — CSV writer (atomic or append) and reader on top of libcsv.
 *
 * libcsv does the quoting on write (csv_write) and the tokenizing on read
 * (csv_parse in strict mode). We feed the parser one LF-terminated line at a
 * time, which lets us keep line numbers for messages and, in append mode, find
 * the byte offset just after the last complete record.
 */
#include "coconut/csv.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ parsing */

typedef struct parse_state {
    const char *path;
    /* Cell storage: all fields NUL-terminated in one pool, located by offsets
     * (offsets, not pointers, because the pool moves when it grows). The first
     * ncols offsets are the header. */
    char *pool;
    size_t pool_len, pool_cap;
    size_t *off;
    size_t off_len, off_cap;
    int keep_rows; /* reader: store rows; append check: header only */
    int ncols;     /* -1 until the header record is complete */
    int64_t nrows;
    int nf; /* fields seen in the current record */
    /* Expected header (append mode), compared when the header completes. */
    int want_n;
    const char *const *want;
    /* Line tracking. */
    int64_t line;     /* number of the line being fed */
    int64_t rec_line; /* line where the current record started */
    int in_record;    /* a record has begun and not ended */
    int err;          /* an error message has been set: stop */
} parse_state;

static void pool_push(parse_state *st, const void *s, size_t len) {
    if (st->off_len == st->off_cap) {
        st->off_cap = st->off_cap ? 2 * st->off_cap : 64;
        st->off = coco_realloc(st->off, st->off_cap * sizeof *st->off, "CSV cell offsets");
    }
    if (st->pool_len + len + 1 > st->pool_cap) {
        size_t cap = st->pool_cap ? st->pool_cap : 1024;
        while (cap < st->pool_len + len + 1) cap *= 2;
        st->pool = coco_realloc(st->pool, cap, "CSV cells");
        st->pool_cap = cap;
    }
    st->off[st->off_len++] = st->pool_len;
    if (len) memcpy(st->pool + st->pool_len, s, len);
    st->pool[st->pool_len + len] = 0;
    st->pool_len += len + 1;
}

/* Header names joined with commas (bounded; for messages). */
static void join_names(char *buf, size_t cap, int n, const char *(*get)(void *, int), void *ud) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < n && k + 1 < cap; i++) {
        int w = snprintf(buf + k, cap - k, "%s%s", i ? "," : "", get(ud, i));
        if (w < 0) break;
        k += (size_t)w;
    }
    if (k + 1 >= cap && cap > 4) memcpy(buf + cap - 4, "...", 4);
}

static const char *get_pool_name(void *ud, int i) {
    parse_state *st = ud;
    return st->pool + st->off[i];
}

static const char *get_want_name(void *ud, int i) {
    parse_state *st = ud;
    return st->want[i];
}

static void on_field(void *s, size_t len, void *data) {
    parse_state *st = data;
    if (st->err) return;
    if (!st->in_record) { /* a record that began mid-line (after a bare CR) */
        st->in_record = 1;
        st->rec_line = st->line;
    }
    /* Store header fields always, row fields only when reading, and never more
     * than ncols per row so that row r, column c stays at a fixed offset. */
    if (st->ncols < 0 || (st->keep_rows && st->nf < st->ncols)) pool_push(st, s ? s : "", s ? len : 0);
    st->nf++;
}

static void on_record(int c, void *data) {
    parse_state *st = data;
    (void)c;
    if (st->err) return;
    st->in_record = 0;
    if (st->ncols < 0) {
        st->ncols = st->nf;
        if (st->want) {
            int same = st->ncols == st->want_n;
            for (int i = 0; same && i < st->ncols; i++) same = strcmp(st->pool + st->off[i], st->want[i]) == 0;
            if (!same) {
                char have[800], want[800];
                join_names(have, sizeof have, st->ncols, get_pool_name, st);
                join_names(want, sizeof want, st->want_n, get_want_name, st);
                coco_seterr("%s: header mismatch: the file has columns [%s] but the writer was opened with [%s]",
                            st->path, have, want);
                st->err = 1;
            }
        }
    } else if (st->nf != st->ncols) {
        coco_seterr("%s: line %lld: row has %d field%s but the header has %d", st->path, (long long)st->rec_line,
                    st->nf, st->nf == 1 ? "" : "s", st->ncols);
        st->err = 1;
    } else {
        st->nrows++;
    }
    st->nf = 0;
}

/* RFC 4180: spaces are part of a field. libcsv trims them by default. */
static int no_space(unsigned char c) {
    (void)c;
    return 0;
}

static int has_content(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\n' && s[i] != '\r') return 1;
    return 0;
}

/* Parse fp into st. Returns 0 or -1 (errmsg set). With complete_end != NULL
 * (append mode) an incomplete final record is not an error: *complete_end gets
 * the byte offset just after the last complete record (and trailing blank
 * lines), and that record is not reported. */
static int parse_stream(parse_state *st, FILE *fp, long long *complete_end) {
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return coco_seterr("%s: cannot initialise the CSV parser", st->path);
    csv_set_space_func(&p, no_space);
    st->ncols = -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long long offset = 0, good_end = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, fp)) > 0) {
        st->line++;
        const char *s = line;
        size_t len = (size_t)n;
        if (st->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 BOM */
            s += 3;
            len -= 3;
        }
        if (!st->in_record && has_content(s, len)) {
            st->in_record = 1;
            st->rec_line = st->line;
        }
        size_t used = csv_parse(&p, s, len, on_field, on_record, st);
        offset += n;
        if (st->err) {
            rc = -1;
            break;
        }
        if (used < len) {
            int e = csv_error(&p);
            if (e == CSV_EPARSE)
                coco_seterr("%s: line %lld: malformed quoting (a quote inside an unquoted field, or text after a "
                            "closing quote)",
                            st->path, (long long)st->line);
            else
                coco_seterr("%s: line %lld: %s", st->path, (long long)st->line, csv_strerror(e));
            rc = -1;
            break;
        }
        if (!st->in_record) good_end = offset;
    }
    if (rc == 0 && ferror(fp)) rc = coco_seterr("%s: read error: %s", st->path, strerror(errno));
    if (rc == 0 && complete_end) {
        *complete_end = good_end;
    } else if (rc == 0) {
        /* Delivers a final record that lacks its newline. */
        if (csv_fini(&p, on_field, on_record, st) != 0 && !st->err)
            rc = coco_seterr("%s: line %lld: unterminated quoted field", st->path, (long long)st->rec_line);
        else if (st->err)
            rc = -1;
    }
    free(line);
    csv_free(&p);
    return rc;
}

/* ------------------------------------------------------------------ reader */

struct coco_csv_table {
    int ncols;
    int64_t nrows;
    char *pool;
    size_t *off; /* ncols header offsets, then nrows * ncols cell offsets */
};

coco_csv_table *coco_csv_read(const char *path) {
    if (!path) coco_fail("coco_csv_read: path is NULL");
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        coco_seterr("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    parse_state st = {.path = path, .keep_rows = 1};
    int rc = parse_stream(&st, fp, NULL);
    fclose(fp);
    if (rc == 0 && st.ncols < 0) rc = coco_seterr("%s: empty file: no header line", path);
    if (rc != 0) {
        free(st.pool);
        free(st.off);
        return NULL;
    }
    coco_csv_table *t = coco_malloc(sizeof *t, "CSV table");
    t->ncols = st.ncols;
    t->nrows = st.nrows;
    t->pool = st.pool;
    t->off = st.off;
    return t;
}

static void check_table(const coco_csv_table *t, const char *fn) {
    if (!t) coco_fail("%s: table is NULL", fn);
}

int coco_csv_ncols(const coco_csv_table *t) {
    check_table(t, "coco_csv_ncols");
    return t->ncols;
}

const char *coco_csv_colname(const coco_csv_table *t, int j) {
    check_table(t, "coco_csv_colname");
    if (j < 0 || j >= t->ncols) coco_fail("coco_csv_colname: column %d out of range [0, %d)", j, t->ncols);
    return t->pool + t->off[j];
}

int64_t coco_csv_nrows(const coco_csv_table *t) {
    check_table(t, "coco_csv_nrows");
    return t->nrows;
}

const char *coco_csv_cell(const coco_csv_table *t, int64_t row, int col) {
    check_table(t, "coco_csv_cell");
    if (row < 0 || row >= t->nrows)
        coco_fail("coco_csv_cell: row %lld out of range [0, %lld)", (long long)row, (long long)t->nrows);
    if (col < 0 || col >= t->ncols) coco_fail("coco_csv_cell: column %d out of range [0, %d)", col, t->ncols);
    return t->pool + t->off[(size_t)t->ncols * (size_t)(row + 1) + (size_t)col];
}

int coco_csv_col(const coco_csv_table *t, const char *name) {
    check_table(t, "coco_csv_col");
    if (!name) coco_fail("coco_csv_col: name is NULL");
    for (int j = 0; j < t->ncols; j++)
        if (strcmp(t->pool + t->off[j], name) == 0) return j;
    return -1;
}

void coco_csv_free(coco_csv_table *t) {
    if (!t) return;
    free(t->pool);
    free(t->off);
    free(t);
}

/* ------------------------------------------------------------------ writer */

struct coco_csv_writer {
    char *path;
    int ncols;
    int append;
    coco_atomic_file af; /* append = 0 */
    FILE *fp;
    char *buf; /* the row being formatted */
    size_t cap;
    int failed; /* sticky: a write already failed */
    int64_t dropped;
};

static void buf_reserve(coco_csv_writer *w, size_t need) {
    if (need <= w->cap) return;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < need) cap *= 2;
    w->buf = coco_realloc(w->buf, cap, "CSV row buffer");
    w->cap = cap;
}

static int needs_quotes(const char *v, size_t n, int ncols) {
    if (n == 0) return ncols == 1; /* else a one-column empty row is a blank line */
    if (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t') return 1;
    return strpbrk(v, ",\"\r\n") != NULL;
}

/* Formats values[0..ncols) as one LF-terminated line into w->buf; returns its length. */
static size_t format_row(coco_csv_writer *w, const char *const *values) {
    size_t len = 0;
    for (int i = 0; i < w->ncols; i++) {
        const char *v = values[i] ? values[i] : "";
        size_t n = strlen(v);
        /* Worst case: every byte a quote (doubled) plus two quotes, a comma, LF. */
        buf_reserve(w, len + 2 * n + 4);
        if (i) w->buf[len++] = ',';
        if (needs_quotes(v, n, w->ncols)) {
            len += csv_write(w->buf + len, w->cap - len, v, n);
        } else {
            memcpy(w->buf + len, v, n);
            len += n;
        }
    }
    w->buf[len++] = '\n';
    return len;
}

static int write_line(coco_csv_writer *w, const char *const *values) {
    size_t len = format_row(w, values);
    errno = 0;
    /* One fwrite per row, flushed at once in append mode: a crash leaves at
     * most one incomplete final line, which the next append open cuts off. */
    if (fwrite(w->buf, 1, len, w->fp) != len || (w->append && fflush(w->fp) != 0)) {
        w->failed = 1;
        return coco_seterr("%s: write failed: %s", w->path, errno ? strerror(errno) : "I/O error");
    }
    return 0;
}

static void check_columns(int ncols, const char *const *columns) {
    if (ncols < 1) coco_fail("coco_csv_open: ncols must be >= 1, got %d", ncols);
    if (!columns) coco_fail("coco_csv_open: columns is NULL");
    for (int i = 0; i < ncols; i++) {
        if (!columns[i] || !columns[i][0]) coco_fail("coco_csv_open: column %d has no name", i);
        for (int j = 0; j < i; j++)
            if (strcmp(columns[i], columns[j]) == 0)
                coco_fail("coco_csv_open: duplicate column name '%s' (columns %d and %d)", columns[i], j, i);
    }
}

static void writer_free(coco_csv_writer *w) {
    free(w->path);
    free(w->buf);
    free(w);
}

/* Append mode: validate an existing file, cut off an incomplete tail, open for
 * appending. Sets *fresh when the header still has to be written. */
static FILE *open_append(coco_csv_writer *w, int ncols, const char *const *columns, int *fresh) {
    const char *path = w->path;
    struct stat sb;
    *fresh = 1;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            coco_seterr("%s: cannot append: not a regular file", path);
            return NULL;
        }
        FILE *in = fopen(path, "rb");
        if (!in) {
            coco_seterr("%s: cannot open: %s", path, strerror(errno));
            return NULL;
        }
        parse_state st = {.path = path, .keep_rows = 0, .want_n = ncols, .want = columns};
        long long good_end = 0;
        int rc = parse_stream(&st, in, &good_end);
        fclose(in);
        free(st.pool);
        free(st.off);
        if (rc != 0) return NULL;
        if (good_end < (long long)sb.st_size) {
            if (truncate(path, (off_t)good_end) != 0) {
                coco_seterr("%s: cannot cut off the incomplete last record: %s", path, strerror(errno));
                return NULL;
            }
            w->dropped = (int64_t)sb.st_size - good_end;
        }
        *fresh = good_end == 0 || st.ncols < 0;
    } else if (errno != ENOENT) {
        coco_seterr("%s: cannot stat: %s", path, strerror(errno));
        return NULL;
    }
    FILE *fp = fopen(path, "ab");
    if (!fp) coco_seterr("%s: cannot open for appending: %s", path, strerror(errno));
    return fp;
}

coco_csv_writer *coco_csv_open(const char *path, int ncols, const char *const *columns, int append) {
    if (!path) coco_fail("coco_csv_open: path is NULL");
    check_columns(ncols, columns);
    coco_csv_writer *w = coco_calloc(1, sizeof *w, "CSV writer");
    w->path = coco_strdup(path);
    w->ncols = ncols;
    w->append = append ? 1 : 0;
    int fresh = 1;
    if (w->append) {
        w->fp = open_append(w, ncols, columns, &fresh);
    } else {
        w->fp = coco_atomic_open(&w->af, path);
    }
    if (!w->fp) {
        writer_free(w);
        return NULL;
    }
    if (fresh && write_line(w, columns) != 0) {
        coco_csv_abort(w);
        return NULL;
    }
    return w;
}

int coco_csv_row(coco_csv_writer *w, const char *const *values) {
    if (!w) coco_fail("coco_csv_row: writer is NULL");
    if (!values) coco_fail("coco_csv_row: values is NULL");
    if (w->failed) return coco_seterr("%s: an earlier write failed", w->path);
    return write_line(w, values);
}

int coco_csv_flush(coco_csv_writer *w) {
    if (!w) coco_fail("coco_csv_flush: writer is NULL");
    if (w->failed) return coco_seterr("%s: an earlier write failed", w->path);
    if (fflush(w->fp) != 0) {
        w->failed = 1;
        return coco_seterr("%s: write failed: %s", w->path, strerror(errno));
    }
    return 0;
}

int coco_csv_close(coco_csv_writer *w) {
    if (!w) coco_fail("coco_csv_close: writer is NULL");
    int rc = 0;
    if (w->append) {
        int bad = w->failed || ferror(w->fp);
        errno = 0;
        if (fflush(w->fp) != 0) bad = 1;
        if (fsync(fileno(w->fp)) != 0 && errno != EINVAL) bad = 1;
        int e = errno;
        if (fclose(w->fp) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        if (bad) rc = coco_seterr("%s: write failed: %s", w->path, e ? strerror(e) : "I/O error");
    } else if (w->failed) {
        coco_atomic_abort(&w->af);
        rc = coco_seterr("%s: write failed earlier; nothing was written", w->path);
    } else {
        rc = coco_atomic_commit(&w->af);
    }
    writer_free(w);
    return rc;
}

void coco_csv_abort(coco_csv_writer *w) {
    if (!w) return;
    if (w->append)
        fclose(w->fp);
    else
        coco_atomic_abort(&w->af);
    writer_free(w);
}

int64_t coco_csv_dropped_bytes(const coco_csv_writer *w) {
    if (!w) coco_fail("coco_csv_dropped_bytes: writer is NULL");
    return w->dropped;
}

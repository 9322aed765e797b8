/* coconut/csv.h — CSV results files: a writer (atomic or append) and a reader.
 *
 * Contract
 *   - Format: RFC 4180 style, comma separated, one header line naming the
 *     columns, LF line endings. A field is quoted (by libcsv, quotes doubled)
 *     only when it must be: when it contains a comma, a double quote, CR or LF,
 *     or begins/ends with a space or tab (lenient readers strip those). Numbers
 *     therefore stay unquoted, which gnuplot's `set datafile separator comma`
 *     needs. A one-column row whose value is empty is written as "" so it is not
 *     a blank line (blank lines are skipped by readers, libcsv included).
 *   - The writer deals in strings: numbers are formatted by the caller (the Lua
 *     layer decides precision and how NaN is spelled). A NULL value is an empty
 *     field. Column names must be non-empty and distinct.
 *   - append = 0: rows go to "<path>.tmp.<pid>" (coco_atomic_open) and the file
 *     appears at `path` only on a successful coco_csv_close, by rename, so a
 *     reader never sees a half-written table and an old file at `path` stays
 *     intact until then. coco_csv_abort (or a failed close) removes the temp file.
 *   - append = 1 (metrics.csv of long runs; --resume continues the same file):
 *     if `path` exists and is non-empty its header must equal `columns` exactly
 *     (else an error naming the file and both headers) and every existing row
 *     must have that many fields; new rows are appended and each row is written
 *     with one fwrite and flushed, so a crash keeps every completed row. A final
 *     record without its terminating newline can only come from an interrupted
 *     write (this writer always ends rows with LF), so it is cut off before
 *     appending; coco_csv_dropped_bytes() tells how many bytes were removed so the
 *     caller can log it. If `path` does not exist (or holds no complete header)
 *     it is created with the header. Abort in append mode just closes the file:
 *     rows already flushed stay. Two writers must not append to one file at once.
 *   - The reader loads the whole table into memory (results files are small):
 *     the first record is the header; every other record must have exactly as
 *     many fields (blank lines are skipped). Spaces are data (not trimmed). A
 *     UTF-8 byte order mark at the start is skipped. Cells are NUL-terminated
 *     strings ("" for empty fields), valid until coco_csv_free. Line numbers in
 *     messages count LF-terminated lines from 1 and name the line where the
 *     offending record starts (a quoted field may span lines).
 *   - Errors: NULL arguments, ncols < 1, empty or duplicate column names and
 *     out-of-range row/column indices are misuse (coco_fail). Files that cannot
 *     be opened, header mismatches, write failures, ragged rows and malformed
 *     quoting return NULL / -1 with coco_errmsg() naming the file (and the line
 *     for the reader).
 *   - Threading: a writer belongs to one thread at a time. A table is immutable
 *     after coco_csv_read, so its accessors may run concurrently.
 */
#ifndef COCONUT_CSV_H
#define COCONUT_CSV_H

#include <stdint.h>

#include "coconut/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct coco_csv_writer coco_csv_writer;
typedef struct coco_csv_table coco_csv_table;

/* Open a writer for `ncols` columns named columns[0..ncols) (see the contract
 * for append = 0 / 1). The header is written immediately (append: when the file
 * is new). NULL + errmsg on failure. */
coco_csv_writer *coco_csv_open(const char *path, int ncols, const char *const *columns, int append);
/* Write one row of exactly ncols values (NULL value = empty field). 0, or -1 +
 * errmsg on a write error; after a write error every later call fails too. */
int coco_csv_row(coco_csv_writer *w, const char *const *values);
/* Push buffered rows to the OS (append mode already flushes every row). 0 / -1. */
int coco_csv_flush(coco_csv_writer *w);
/* Finish and free the writer (always freed, even on failure). append = 0:
 * flush, fsync and rename the temp file into place. append = 1: flush, fsync,
 * close. 0, or -1 + errmsg (append = 0: the temp file is removed, `path` untouched). */
int coco_csv_close(coco_csv_writer *w);
/* Free the writer without publishing: append = 0 removes the temp file
 * (`path` keeps its old content or stays absent); append = 1 closes the file.
 * NULL is a no-op. */
void coco_csv_abort(coco_csv_writer *w);
/* append = 1: bytes of an incomplete final record cut off at open (0 if none). */
int64_t coco_csv_dropped_bytes(const coco_csv_writer *w);

/* Read a whole CSV file. NULL + errmsg ("<path>: line N: ...") on failure. */
coco_csv_table *coco_csv_read(const char *path);
int coco_csv_ncols(const coco_csv_table *t);
const char *coco_csv_colname(const coco_csv_table *t, int j);
int64_t coco_csv_nrows(const coco_csv_table *t); /* data rows, header excluded */
const char *coco_csv_cell(const coco_csv_table *t, int64_t row, int col);
/* Index of the first column named `name`, -1 if none. */
int coco_csv_col(const coco_csv_table *t, const char *name);
void coco_csv_free(coco_csv_table *t); /* NULL is a no-op */

#ifdef __cplusplus
}
#endif
#endif

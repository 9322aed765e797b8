/* fuzz_csv.c — libFuzzer harness: the CSV reader (core/csv.c, what --resume
 * and the figures read back) on arbitrary bytes; every cell of a table that
 * parses is read, by index and by column name. Then the same bytes as a file
 * to append to (the header check of a resumed run's tables). See fuzz.h. */
#include "coconut/csv.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(0, "table.csv", data, size);
    coco_csv_table *t = coco_csv_read(path);
    if (t) {
        size_t sum = 0;
        int nc = coco_csv_ncols(t);
        for (int j = 0; j < nc; j++) {
            const char *name = coco_csv_colname(t, j);
            sum += strlen(name);
            if (coco_csv_col(t, name) < 0) abort(); /* a header name must be found */
        }
        for (int64_t r = 0; r < coco_csv_nrows(t); r++)
            for (int j = 0; j < nc; j++) {
                const char *c = coco_csv_cell(t, r, j);
                if (c) sum += strlen(c);
            }
        coco_csv_free(t);
        (void)sum;
    }
    static const char *const cols[] = {"split", "epoch", "accuracy"};
    coco_csv_writer *w = coco_csv_open(path, 3, cols, 1);
    if (w) {
        const char *row[] = {"valid", "1", "0.5"};
        (void)coco_csv_row(w, row);
        (void)coco_csv_close(w);
    }
    return 0;
}

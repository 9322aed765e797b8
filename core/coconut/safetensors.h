/* coconut/safetensors.h — read and write the safetensors format.
 *
 * Format: u64 little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...,
 *    "__metadata__": {"key": "string", ...}}
 * then the data block; offsets are relative to the data block.
 *
 * Contract
 *   - coco_st_open reads the whole file and validates it before returning:
 *     header JSON, known dtypes, offsets inside the file, byte sizes equal to
 *     dtype size x shape, no overlapping tensors. Every failure returns NULL
 *     with a message naming the file (and the tensor when one is at fault).
 *   - coco_st_get converts to a heap tensor: F32 as is, F16/BF16/F64 to f32,
 *     I32/I64/I16/I8/U8/BOOL to i32 (I64 values must fit).
 *   - coco_st_save writes atomically (temp file + rename); tensors in the order
 *     given, header padded with spaces to a multiple of 8 as HF does.
 *   - No global state; a file handle is not thread-safe.
 */
#ifndef COCONUT_SAFETENSORS_H
#define COCONUT_SAFETENSORS_H

#include "coconut/tensor.h"

typedef struct coco_st_file coco_st_file;

coco_st_file *coco_st_open(const char *path);
void coco_st_close(coco_st_file *f);
const char *coco_st_path(const coco_st_file *f);
int coco_st_count(const coco_st_file *f);
const char *coco_st_name(const coco_st_file *f, int i);
/* Index of a tensor by name, -1 if absent. */
int coco_st_find(const coco_st_file *f, const char *name);
/* dtype string ("F32", ...), rank and shape of tensor i. */
const char *coco_st_dtype(const coco_st_file *f, int i);
int coco_st_shape(const coco_st_file *f, int i, int64_t *shape /* [8] */);
/* New heap tensor (see conversions above); NULL + errmsg if absent or rank > 4. */
coco_tensor *coco_st_get(const coco_st_file *f, const char *name);
/* Metadata: number of keys, key/value by index, value by key (NULL if absent). */
int coco_st_meta_count(const coco_st_file *f);
const char *coco_st_meta_key(const coco_st_file *f, int i);
const char *coco_st_meta_value(const coco_st_file *f, int i);
const char *coco_st_meta(const coco_st_file *f, const char *key);

typedef struct coco_st_item {
    const char *name;
    const coco_tensor *t; /* f32 -> "F32", i32 -> "I32" */
} coco_st_item;

/* meta: nmeta (key, value) pairs as a flat array of 2*nmeta strings. 0 / -1 + errmsg. */
int coco_st_save(const char *path, const coco_st_item *items, int n, const char *const *meta, int nmeta);

#endif

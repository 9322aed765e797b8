/* safetensors.c — validated reader and atomic writer (see coconut/safetensors.h). */
#include "coconut/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct st_entry {
    char *name;
    char dtype[8];
    int dsize;
    int ndim;
    int64_t shape[8];
    int64_t numel;
    uint64_t begin, end;
} st_entry;

struct coco_st_file {
    char *path;
    unsigned char *map;
    size_t map_len;
    const unsigned char *data; /* start of the data block */
    uint64_t data_len;
    st_entry *e;
    int n;
    char **meta; /* 2 * nmeta strings */
    int nmeta;
};

static int dtype_size(const char *d) {
    static const struct {
        const char *n;
        int s;
    } t[] = {{"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8}, {"I32", 4},
             {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(d, t[i].n) == 0) return t[i].s;
    return 0;
}

static int cmp_begin(const void *a, const void *b) {
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

void coco_st_close(coco_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->e[i].name);
    for (int i = 0; i < 2 * f->nmeta; i++) free(f->meta[i]);
    free(f->meta);
    free(f->e);
    if (f->map && f->map != MAP_FAILED) munmap(f->map, f->map_len);
    free(f->path);
    free(f);
}

static coco_st_file *fail_open(coco_st_file *f, json_t *root) {
    if (root) json_decref(root);
    coco_st_close(f);
    return NULL;
}

static int parse_entry(coco_st_file *f, const char *key, json_t *v, st_entry *e) {
    if (!json_is_object(v)) return coco_seterr("%s: tensor '%s': header entry is not an object", f->path, key);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt)) return coco_seterr("%s: tensor '%s': missing or non-string 'dtype'", f->path, key);
    const char *d = json_string_value(dt);
    int ds = dtype_size(d);
    if (!ds || strlen(d) >= sizeof e->dtype) return coco_seterr("%s: tensor '%s': unsupported dtype '%s'", f->path, key, d);
    if (!json_is_array(sh) || json_array_size(sh) > 8)
        return coco_seterr("%s: tensor '%s': 'shape' must be an array of at most 8 sizes", f->path, key);
    if (!json_is_array(off) || json_array_size(off) != 2)
        return coco_seterr("%s: tensor '%s': 'data_offsets' must be [begin, end]", f->path, key);
    e->name = coco_strdup(key);
    snprintf(e->dtype, sizeof e->dtype, "%s", d);
    e->dsize = ds;
    e->ndim = (int)json_array_size(sh);
    e->numel = 1;
    for (int i = 0; i < e->ndim; i++) {
        json_t *x = json_array_get(sh, i);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return coco_seterr("%s: tensor '%s': shape entry %d is not a non-negative integer", f->path, key, i);
        e->shape[i] = json_integer_value(x);
        if (e->shape[i] && e->numel > INT64_MAX / e->shape[i]) return coco_seterr("%s: tensor '%s': shape overflows", f->path, key);
        e->numel *= e->shape[i];
    }
    json_t *b = json_array_get(off, 0), *en = json_array_get(off, 1);
    if (!json_is_integer(b) || !json_is_integer(en) || json_integer_value(b) < 0 || json_integer_value(en) < json_integer_value(b))
        return coco_seterr("%s: tensor '%s': invalid data_offsets", f->path, key);
    e->begin = (uint64_t)json_integer_value(b);
    e->end = (uint64_t)json_integer_value(en);
    if (e->end > f->data_len)
        return coco_seterr("%s: tensor '%s': data [%llu, %llu) runs past the end of the file (data block is %llu bytes; "
                           "truncated file?)",
                           f->path, key, (unsigned long long)e->begin, (unsigned long long)e->end,
                           (unsigned long long)f->data_len);
    if (e->end - e->begin != (uint64_t)e->numel * (uint64_t)ds)
        return coco_seterr("%s: tensor '%s': %llu bytes of data for %lld elements of %s", f->path, key,
                           (unsigned long long)(e->end - e->begin), (long long)e->numel, d);
    return 0;
}

coco_st_file *coco_st_open(const char *path) {
    coco_st_file *f = coco_calloc(1, sizeof *f, "safetensors file");
    f->path = coco_strdup(path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        coco_seterr("%s: cannot open: %s", path, strerror(errno));
        return fail_open(f, NULL);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        coco_seterr("%s: not a regular file", path);
        close(fd);
        return fail_open(f, NULL);
    }
    f->map_len = (size_t)st.st_size;
    if (f->map_len < 8) {
        coco_seterr("%s: file is %zu bytes, too short for a safetensors header", path, f->map_len);
        close(fd);
        return fail_open(f, NULL);
    }
    f->map = mmap(NULL, f->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->map == MAP_FAILED) {
        f->map = NULL;
        coco_seterr("%s: cannot map: %s", path, strerror(errno));
        return fail_open(f, NULL);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->map[i];
    if (hlen > f->map_len - 8 || hlen > ((uint64_t)100 << 20)) {
        coco_seterr("%s: header length %llu does not fit the %zu-byte file (not safetensors, or truncated)", path,
                    (unsigned long long)hlen, f->map_len);
        return fail_open(f, NULL);
    }
    f->data = f->map + 8 + hlen;
    f->data_len = f->map_len - 8 - hlen;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)f->map + 8, (size_t)hlen, 0, &jerr);
    if (!root) {
        coco_seterr("%s: header is not valid JSON (line %d, column %d: %s)", path, jerr.line, jerr.column, jerr.text);
        return fail_open(f, NULL);
    }
    if (!json_is_object(root)) {
        coco_seterr("%s: header is not a JSON object", path);
        return fail_open(f, root);
    }
    size_t cap = json_object_size(root);
    f->e = coco_calloc(cap ? cap : 1, sizeof *f->e, "safetensors entries");
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                coco_seterr("%s: __metadata__ is not an object", path);
                return fail_open(f, root);
            }
            f->meta = coco_calloc(2 * json_object_size(val) + 1, sizeof *f->meta, "safetensors metadata");
            const char *mk;
            json_t *mv;
            json_object_foreach(val, mk, mv) {
                if (!json_is_string(mv)) {
                    coco_seterr("%s: __metadata__ value for '%s' is not a string", path, mk);
                    return fail_open(f, root);
                }
                f->meta[2 * f->nmeta] = coco_strdup(mk);
                f->meta[2 * f->nmeta + 1] = coco_strdup(json_string_value(mv));
                f->nmeta++;
            }
            continue;
        }
        if (parse_entry(f, key, val, &f->e[f->n]) != 0) {
            if (f->e[f->n].name) f->n++; /* so close frees it */
            return fail_open(f, root);
        }
        f->n++;
    }
    json_decref(root);
    /* No two tensors may share bytes. */
    if (f->n > 1) {
        st_entry **ord = coco_malloc(sizeof *ord * (size_t)f->n, "safetensors order");
        for (int i = 0; i < f->n; i++) ord[i] = &f->e[i];
        qsort(ord, (size_t)f->n, sizeof *ord, cmp_begin);
        for (int i = 1; i < f->n; i++)
            if (ord[i]->begin < ord[i - 1]->end && ord[i]->end > ord[i]->begin) {
                coco_seterr("%s: tensors '%s' and '%s' overlap", path, ord[i - 1]->name, ord[i]->name);
                free(ord);
                return fail_open(f, NULL);
            }
        free(ord);
    }
    return f;
}

const char *coco_st_path(const coco_st_file *f) { return f->path; }
int coco_st_count(const coco_st_file *f) { return f->n; }
const char *coco_st_name(const coco_st_file *f, int i) { return (i >= 0 && i < f->n) ? f->e[i].name : NULL; }
int coco_st_find(const coco_st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->e[i].name, name) == 0) return i;
    return -1;
}
const char *coco_st_dtype(const coco_st_file *f, int i) { return f->e[i].dtype; }
int coco_st_shape(const coco_st_file *f, int i, int64_t *shape) {
    for (int k = 0; k < f->e[i].ndim; k++) shape[k] = f->e[i].shape[k];
    return f->e[i].ndim;
}
int coco_st_meta_count(const coco_st_file *f) { return f->nmeta; }
const char *coco_st_meta_key(const coco_st_file *f, int i) { return f->meta[2 * i]; }
const char *coco_st_meta_value(const coco_st_file *f, int i) { return f->meta[2 * i + 1]; }
const char *coco_st_meta(const coco_st_file *f, const char *key) {
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

coco_tensor *coco_st_get(const coco_st_file *f, const char *name) {
    int i = coco_st_find(f, name);
    if (i < 0) {
        coco_seterr("%s: no tensor named '%s'", f->path, name);
        return NULL;
    }
    const st_entry *e = &f->e[i];
    if (e->ndim > COCO_MAX_DIMS) {
        coco_seterr("%s: tensor '%s' has rank %d; at most %d is supported", f->path, name, e->ndim, COCO_MAX_DIMS);
        return NULL;
    }
    const char *d = e->dtype;
    int is_float = !strcmp(d, "F32") || !strcmp(d, "F16") || !strcmp(d, "BF16") || !strcmp(d, "F64");
    coco_tensor *t = coco_tensor_new(is_float ? COCO_F32 : COCO_I32, e->ndim, e->shape);
    const unsigned char *src = f->data + e->begin;
    int64_t n = e->numel;
    if (!strcmp(d, "F32") || !strcmp(d, "I32")) {
        memcpy(t->data, src, (size_t)n * 4);
    } else if (!strcmp(d, "F16")) {
        for (int64_t k = 0; k < n; k++) {
            uint16_t h;
            memcpy(&h, src + 2 * k, 2);
            coco_f32(t)[k] = half_to_float(h);
        }
    } else if (!strcmp(d, "BF16")) {
        for (int64_t k = 0; k < n; k++) {
            uint16_t h;
            memcpy(&h, src + 2 * k, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&coco_f32(t)[k], &bits, 4);
        }
    } else if (!strcmp(d, "F64")) {
        for (int64_t k = 0; k < n; k++) {
            double v;
            memcpy(&v, src + 8 * k, 8);
            coco_f32(t)[k] = (float)v;
        }
    } else if (!strcmp(d, "I64")) {
        for (int64_t k = 0; k < n; k++) {
            int64_t v;
            memcpy(&v, src + 8 * k, 8);
            if (v < INT32_MIN || v > INT32_MAX) {
                coco_seterr("%s: tensor '%s' element %lld = %lld does not fit in i32", f->path, name, (long long)k,
                            (long long)v);
                coco_tensor_release(t);
                return NULL;
            }
            coco_i32(t)[k] = (int32_t)v;
        }
    } else if (!strcmp(d, "I16")) {
        for (int64_t k = 0; k < n; k++) {
            int16_t v;
            memcpy(&v, src + 2 * k, 2);
            coco_i32(t)[k] = v;
        }
    } else if (!strcmp(d, "I8")) {
        for (int64_t k = 0; k < n; k++) coco_i32(t)[k] = (int8_t)src[k];
    } else { /* U8, BOOL */
        for (int64_t k = 0; k < n; k++) coco_i32(t)[k] = src[k];
    }
    return t;
}

int coco_st_save(const char *path, const coco_st_item *items, int n, const char *const *meta, int nmeta) {
    json_t *hdr = json_object();
    if (nmeta > 0) {
        json_t *m = json_object();
        for (int i = 0; i < nmeta; i++) json_object_set_new(m, meta[2 * i], json_string(meta[2 * i + 1]));
        json_object_set_new(hdr, "__metadata__", m);
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const coco_tensor *t = items[i].t;
        if (!t || !items[i].name) coco_fail("safetensors save: item %d has no tensor or name", i);
        if (json_object_get(hdr, items[i].name)) {
            json_decref(hdr);
            return coco_seterr("%s: tensor name '%s' given twice", path, items[i].name);
        }
        json_t *e = json_object(), *sh = json_array();
        for (int k = 0; k < t->ndim; k++) json_array_append_new(sh, json_integer(t->shape[k]));
        json_object_set_new(e, "dtype", json_string(t->dtype == COCO_F32 ? "F32" : "I32"));
        json_object_set_new(e, "shape", sh);
        json_t *o = json_array();
        json_array_append_new(o, json_integer((json_int_t)off));
        off += (uint64_t)t->numel * 4;
        json_array_append_new(o, json_integer((json_int_t)off));
        json_object_set_new(e, "data_offsets", o);
        json_object_set_new(hdr, items[i].name, e);
    }
    char *js = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(hdr);
    size_t hl = strlen(js), padded = (hl + 7) & ~(size_t)7;
    coco_atomic_file af;
    FILE *fp = coco_atomic_open(&af, path);
    if (!fp) {
        free(js);
        return -1;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(((uint64_t)padded >> (8 * i)) & 0xff);
    fwrite(len8, 1, 8, fp);
    fwrite(js, 1, hl, fp);
    for (size_t i = hl; i < padded; i++) fputc(' ', fp);
    free(js);
    for (int i = 0; i < n; i++) fwrite(items[i].t->data, 4, (size_t)items[i].t->numel, fp);
    return coco_atomic_commit(&af);
}

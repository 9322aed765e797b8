/* error.c — the two error channels, checked allocation and atomic file writes. */
#include "coconut/base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void default_handler(const char *msg, void *ud) {
    (void)ud;
    fprintf(stderr, "coconut: %s\n", msg);
    fflush(stderr);
    abort();
}

static coco_error_handler g_handler = default_handler;
static void *g_handler_ud = NULL;
static _Thread_local char g_errbuf[2048];

coco_error_handler coco_set_error_handler(coco_error_handler h, void *ud) {
    coco_error_handler old = g_handler;
    g_handler = h ? h : default_handler;
    g_handler_ud = h ? ud : NULL;
    return old;
}

void coco_fail(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    g_handler(msg, g_handler_ud);
    /* A handler that returns would let the caller continue on bad state. */
    fprintf(stderr, "coconut: error handler returned (message was: %s)\n", msg);
    abort();
}

int coco_seterr(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errbuf, sizeof g_errbuf, fmt, ap);
    va_end(ap);
    return -1;
}

const char *coco_errmsg(void) { return g_errbuf; }

void *coco_malloc(size_t n, const char *what) {
    void *p = malloc(n ? n : 1);
    if (!p) coco_fail("out of memory allocating %zu bytes for %s", n, what);
    return p;
}

void *coco_calloc(size_t n, size_t sz, const char *what) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) coco_fail("out of memory allocating %zu x %zu bytes for %s", n, sz, what);
    return p;
}

void *coco_realloc(void *p, size_t n, const char *what) {
    void *q = realloc(p, n ? n : 1);
    if (!q) coco_fail("out of memory reallocating %zu bytes for %s", n, what);
    return q;
}

char *coco_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = coco_malloc(n, "string");
    memcpy(d, s, n);
    return d;
}

void *coco_atomic_open(coco_atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + 32;
    af->path = coco_strdup(path);
    af->tmp = coco_malloc(n, "temp path");
    snprintf(af->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *fp = fopen(af->tmp, "wb");
    if (!fp) {
        coco_seterr("%s: cannot open for writing: %s", path, strerror(errno));
        free(af->path);
        free(af->tmp);
        af->path = af->tmp = NULL;
        return NULL;
    }
    af->fp = fp;
    return fp;
}

int coco_atomic_commit(coco_atomic_file *af) {
    FILE *fp = af->fp;
    int bad = ferror(fp);
    if (fflush(fp) != 0) bad = 1;
    if (fsync(fileno(fp)) != 0 && errno != EINVAL) bad = 1;
    if (fclose(fp) != 0) bad = 1;
    af->fp = NULL;
    if (bad) {
        coco_seterr("%s: write failed: %s", af->path, strerror(errno));
        remove(af->tmp);
    } else if (rename(af->tmp, af->path) != 0) {
        coco_seterr("%s: cannot rename temp file into place: %s", af->path, strerror(errno));
        remove(af->tmp);
        bad = 1;
    }
    free(af->path);
    free(af->tmp);
    af->path = af->tmp = NULL;
    return bad ? -1 : 0;
}

void coco_atomic_abort(coco_atomic_file *af) {
    if (af->fp) fclose(af->fp);
    if (af->tmp) remove(af->tmp);
    free(af->path);
    free(af->tmp);
    memset(af, 0, sizeof *af);
}

/* coconut/base.h — version, error channel and shared macros of libcoconut.
 *
 * Contract
 *   - Two error channels.
 *     1. Misuse (shape mismatch, invalid argument, NaN where forbidden) calls
 *        coco_fail(), which formats a message and hands it to the installed
 *        handler. The default handler prints "coconut: <msg>" to stderr and
 *        aborts. The Lua layer installs a handler that raises a Lua error
 *        (longjmp); a handler must not return — if it does, coco_fail aborts.
 *        coco_fail is never called from inside a parallel range (parallel.h):
 *        every op validates its arguments before it starts threads.
 *     2. Expected failures (missing file, corrupt JSON, bad checkpoint)
 *        return NULL / -1 from the function and leave a message in a
 *        thread-local buffer readable with coco_errmsg(). The message names
 *        the file and, where known, the line, tensor or option.
 *   - Nothing in libcoconut calls exit().
 *   - Threading: the handler pointer is process-global; set it once at start.
 */
#ifndef COCONUT_BASE_H
#define COCONUT_BASE_H

#include <stddef.h>
#include <stdint.h>

#define COCONUT_VERSION_MAJOR 0
#define COCONUT_VERSION_MINOR 1
#define COCONUT_VERSION_PATCH 0
#define COCONUT_VERSION_STRING "0.1.0"

#if defined(__GNUC__)
#define COCO_NORETURN __attribute__((noreturn))
#define COCO_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define COCO_UNUSED __attribute__((unused))
#else
#define COCO_NORETURN
#define COCO_PRINTF(a, b)
#define COCO_UNUSED
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Handler for misuse errors. Receives the formatted message; must not return. */
typedef void (*coco_error_handler)(const char *msg, void *ud);

/* Install a handler (NULL restores the default print-and-abort). Returns the old one. */
coco_error_handler coco_set_error_handler(coco_error_handler h, void *ud);

/* Report misuse: formats, calls the handler, never returns. */
COCO_NORETURN void coco_fail(const char *fmt, ...) COCO_PRINTF(1, 2);

/* Expected-failure channel: set the message (returns -1 for `return coco_seterr(...)`). */
int coco_seterr(const char *fmt, ...) COCO_PRINTF(1, 2);
/* The last message set by coco_seterr on this thread ("" if none). */
const char *coco_errmsg(void);

/* Checked allocation: fails through coco_fail (naming `what`) when out of memory. */
void *coco_malloc(size_t n, const char *what);
void *coco_calloc(size_t n, size_t sz, const char *what);
void *coco_realloc(void *p, size_t n, const char *what);
char *coco_strdup(const char *s);

/* Atomic write helper: writes go to "<path>.tmp.<pid>" and are renamed into
 * place by coco_atomic_commit; coco_atomic_abort removes the temp file. */
typedef struct coco_atomic_file {
    char *path;
    char *tmp;
    void *fp; /* FILE* */
} coco_atomic_file;
void *coco_atomic_open(coco_atomic_file *af, const char *path); /* returns FILE* or NULL (errmsg set) */
int coco_atomic_commit(coco_atomic_file *af);                   /* 0 ok, -1 (errmsg set, temp removed) */
void coco_atomic_abort(coco_atomic_file *af);

#ifdef __cplusplus
}
#endif
#endif

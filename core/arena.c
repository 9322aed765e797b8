/* arena.c — chunked bump allocator (see coconut/arena.h). */
#include "coconut/arena.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA_ALIGN 64
#define ARENA_MIN_CHUNK ((size_t)64 << 20)

typedef struct chunk {
    struct chunk *next;
    char *base;
    size_t size, used;
} chunk;

struct coco_arena {
    chunk *head; /* current chunk first */
    size_t used, peak, capacity;
    size_t since_reset_overflow; /* bytes allocated in extra chunks since reset */
};

static chunk *chunk_new(size_t size) {
    chunk *c = coco_malloc(sizeof *c, "arena chunk header");
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) coco_fail("arena: out of memory mapping %zu bytes", size);
#ifdef MADV_HUGEPAGE
    madvise(p, size, MADV_HUGEPAGE);
#endif
    c->base = p;
    c->size = size;
    c->used = 0;
    c->next = NULL;
    return c;
}

static void chunk_free(chunk *c) {
    munmap(c->base, c->size);
    free(c);
}

coco_arena *coco_arena_new(void) {
    coco_arena *a = coco_calloc(1, sizeof *a, "arena");
    return a;
}

void coco_arena_free(coco_arena *a) {
    if (!a) return;
    chunk *c = a->head;
    while (c) {
        chunk *n = c->next;
        chunk_free(c);
        c = n;
    }
    free(a);
}

void *coco_arena_alloc(coco_arena *a, size_t nbytes) {
    size_t n = (nbytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0) n = ARENA_ALIGN;
    chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        /* Look for a later chunk with room (kept from before a reset). */
        chunk *prev = c, *it = c ? c->next : NULL;
        while (it && it->size - it->used < n) {
            prev = it;
            it = it->next;
        }
        if (it) {
            prev->next = it->next; /* move to front */
            it->next = a->head;
            a->head = it;
            c = it;
        } else {
            size_t sz = n > ARENA_MIN_CHUNK ? n : ARENA_MIN_CHUNK;
            if (a->head && a->head->used > 0) {
                /* Grow geometrically so a steady workload needs few chunks. */
                size_t g = a->head->size;
                if (g > sz) sz = g;
            }
            sz = (sz + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
            c = chunk_new(sz);
            c->next = a->head;
            a->head = c;
            a->capacity += sz;
            a->since_reset_overflow += sz;
        }
    }
    void *p = c->base + c->used;
    c->used += n;
    a->used += n;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

void coco_arena_reset(coco_arena *a) {
    /* If the last step needed more than one chunk, replace them all by one chunk
     * of the total size, so the next step runs from a single warm region. */
    int nchunks = 0;
    for (chunk *c = a->head; c; c = c->next) nchunks++;
    if (nchunks > 1 && a->since_reset_overflow > 0) {
        size_t total = a->peak;
        chunk *c = a->head;
        while (c) {
            chunk *n = c->next;
            chunk_free(c);
            c = n;
        }
        total = (total + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
        if (total < ARENA_MIN_CHUNK) total = ARENA_MIN_CHUNK;
        a->head = chunk_new(total);
        a->capacity = total;
    } else {
        for (chunk *c = a->head; c; c = c->next) c->used = 0;
    }
    a->used = 0;
    a->since_reset_overflow = 0;
}

coco_arena_mark coco_arena_mark_now(const coco_arena *a) {
    return (coco_arena_mark){a->head, a->head ? a->head->used : 0, a->used};
}

/* Chunks created or moved to the front after the mark sit before the marked
 * chunk in the list; they are emptied (kept), the marked one is cut back. A mark
 * taken before a reset must not be rewound to (the reset may replace chunks). */
void coco_arena_rewind(coco_arena *a, coco_arena_mark m) {
    chunk *c = a->head;
    while (c && c != (chunk *)m.chunk) {
        c->used = 0;
        c = c->next;
    }
    if (m.chunk) {
        if (!c) coco_fail("arena: rewind to a mark that is not in this arena");
        c->used = m.chunk_used;
    }
    a->used = m.used;
}

size_t coco_arena_used(const coco_arena *a) { return a->used; }
size_t coco_arena_capacity(const coco_arena *a) { return a->capacity; }
size_t coco_arena_peak(const coco_arena *a) { return a->peak; }

/* coconut/arena.h — bump allocator for step activations.
 *
 * Contract
 *   - coco_arena_alloc returns 64-byte aligned, uninitialised memory that lives
 *     until coco_arena_reset or coco_arena_free.
 *   - Memory is taken from the OS in chunks (>= 64 MiB, huge-page advised).
 *     reset keeps the chunks so the next step touches warm pages; after a reset
 *     several chunks are merged into one big one on the next growth, so a steady
 *     training loop converges to a single chunk and no page faults.
 *   - coco_arena_mark / coco_arena_rewind give stack discipline on top: rewind
 *     frees everything allocated after the mark (the memory stays with the
 *     arena, warm). Inference uses it to drop a layer's activations once the
 *     layer's output has been copied out.
 *   - Not thread-safe: one arena per tape / per thread.
 */
#ifndef COCONUT_ARENA_H
#define COCONUT_ARENA_H

#include "coconut/base.h"

typedef struct coco_arena coco_arena;

coco_arena *coco_arena_new(void);
void coco_arena_free(coco_arena *a);
void *coco_arena_alloc(coco_arena *a, size_t nbytes);
void coco_arena_reset(coco_arena *a);
typedef struct coco_arena_mark {
    void *chunk;  /* the chunk in use at the mark (NULL: none yet) */
    size_t chunk_used, used;
} coco_arena_mark;
coco_arena_mark coco_arena_mark_now(const coco_arena *a);
void coco_arena_rewind(coco_arena *a, coco_arena_mark m);

size_t coco_arena_used(const coco_arena *a);     /* bytes handed out since reset */
size_t coco_arena_capacity(const coco_arena *a); /* bytes held from the OS */
size_t coco_arena_peak(const coco_arena *a);     /* max used over the arena's life */

#endif

/* coconut/rng.h — deterministic random numbers.
 *
 * Contract
 *   - coco_rng is a small sequential generator (xoshiro256**), seeded with
 *     splitmix64; same seed -> same stream on every machine.
 *   - coco_hash_uniform(seed, stream, i) is counter-based: a pure function of
 *     its arguments, so parallel loops (dropout masks) give the same bits for
 *     any thread count and a backward pass can regenerate a forward mask.
 *   - Normals use Box-Muller in double precision.
 */
#ifndef COCONUT_RNG_H
#define COCONUT_RNG_H

#include <stdint.h>

typedef struct coco_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
} coco_rng;

void coco_rng_seed(coco_rng *r, uint64_t seed);
uint64_t coco_rng_u64(coco_rng *r);
double coco_rng_uniform(coco_rng *r);              /* [0, 1) */
double coco_rng_normal(coco_rng *r);               /* N(0, 1) */
uint64_t coco_rng_below(coco_rng *r, uint64_t n);  /* uniform in [0, n), unbiased */
int coco_rng_poisson(coco_rng *r, double lambda);  /* Knuth's method, small lambda */

/* Counter-based uniform in [0,1) with 24 bits (exactly representable in f32). */
static inline uint64_t coco_mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline float coco_hash_uniform(uint64_t seed, uint64_t stream, uint64_t i) {
    uint64_t h = coco_mix64(seed ^ coco_mix64(stream * 0x632be59bd9b4e019ULL + i));
    return (float)(h >> 40) * (1.0f / 16777216.0f);
}

#endif

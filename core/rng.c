/* rng.c — xoshiro256** seeded by splitmix64 (see coconut/rng.h). */
#include "coconut/rng.h"

#include <math.h>

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void coco_rng_seed(coco_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&x);
    r->has_spare = 0;
    r->spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t coco_rng_u64(coco_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double coco_rng_uniform(coco_rng *r) { return (double)(coco_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

double coco_rng_normal(coco_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1, u2;
    do u1 = coco_rng_uniform(r);
    while (u1 <= 0.0);
    u2 = coco_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

uint64_t coco_rng_below(coco_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = coco_rng_u64(r);
    while (x >= lim);
    return x % n;
}

int coco_rng_poisson(coco_rng *r, double lambda) {
    double L = exp(-lambda), p = 1.0;
    int k = 0;
    do {
        k++;
        p *= coco_rng_uniform(r);
    } while (p > L);
    return k - 1;
}

/*
 * generate.h - decoding strategies over a step function: greedy, sampling
 * and beam search with the reference's exact scoring and stop rules.
 */
#ifndef T5E_GENERATE_H
#define T5E_GENERATE_H

#include <stdint.h>

#include "t5e.h"

/* A small, fast, seedable generator (xoshiro256**). */
typedef struct {
    uint64_t s[4];
} rng_state;

void rng_seed(rng_state *r, uint64_t seed);
uint64_t rng_next(rng_state *r);
/* Uniform in [0, 1) with 24 random bits. */
float rng_uniform(rng_state *r);

/*
 * Turns logits [V] into sampling probabilities in place, as the reference's
 * warpers do in order: temperature, top-k, top-p (keeping at least one
 * token), then softmax.  Returns the sampled id.
 */
int sample_token(float *logits, int V, const t5e_generate_options *opt,
                 rng_state *rng, void *scratch);
/* Bytes of the scratch sample_token needs for V logits (allocated once
 * per generation, so decoding allocates nothing per token). */
size_t sample_scratch_bytes(int V);

/* Index of the largest value; the first one on ties, as argmax. */
int argmax(const float *x, int n);

#endif

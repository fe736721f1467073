/* sample.c - the random generator and the sampling warpers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate/generate.h"
#include "ops/ops.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rng_seed(rng_state *r, uint64_t seed) {
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(rng_state *r) {
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

float rng_uniform(rng_state *r) {
    return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* Keeps values >= the k-th largest (ties at the k-th are kept). */
static void top_k_filter(float *x, int V, int k, float *sorted) {
    if (k <= 0 || k >= V)
        return;
    memcpy(sorted, x, (size_t)V * sizeof *x);
    qsort(sorted, (size_t)V, sizeof *sorted, cmp_desc);
    float kth = sorted[k - 1];
    for (int i = 0; i < V; i++)
        if (x[i] < kth)
            x[i] = -INFINITY;
}

typedef struct {
    float p;
    int id;
} prob_id;

static int cmp_prob_asc(const void *a, const void *b) {
    const prob_id *x = a, *y = b;
    if (x->p != y->p)
        return (x->p > y->p) - (x->p < y->p);
    return (x->id > y->id) - (x->id < y->id);
}

/*
 * Nucleus filter: sorts ascending and drops the tokens whose cumulative
 * probability stays <= 1 - top_p, always keeping the most likely one.
 */
static void top_p_filter(float *x, int V, float top_p, prob_id *pi,
                         float *p) {
    if (top_p >= 1.0f)
        return;
    memcpy(p, x, (size_t)V * sizeof *p);
    op_softmax(p, V);
    for (int i = 0; i < V; i++)
        pi[i] = (prob_id){p[i], i};
    qsort(pi, (size_t)V, sizeof *pi, cmp_prob_asc);
    float cum = 0.0f;
    for (int i = 0; i < V - 1; i++) {
        cum += pi[i].p;
        if (cum <= 1.0f - top_p)
            x[pi[i].id] = -INFINITY;
    }
}

size_t sample_scratch_bytes(int V) {
    return (size_t)V * (sizeof(prob_id) + 2 * sizeof(float));
}

int sample_token(float *logits, int V, const t5e_generate_options *opt,
                 rng_state *rng, void *scratch) {
    prob_id *pi = scratch;
    float *sorted = (float *)(pi + V), *p = sorted + V;
    if (opt->temperature != 1.0f)
        for (int i = 0; i < V; i++)
            logits[i] /= opt->temperature;
    top_k_filter(logits, V, opt->top_k, sorted);
    top_p_filter(logits, V, opt->top_p, pi, p);
    op_softmax(logits, V);
    float u = rng_uniform(rng), cum = 0.0f;
    int last = 0;
    for (int i = 0; i < V; i++) {
        if (logits[i] <= 0.0f)
            continue;
        last = i;
        cum += logits[i];
        if (u < cum)
            return i;
    }
    return last; /* rounding left u above the total */
}

/* nn.c - norms, activations, softmax and attention. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "ops/ops.h"

/* Sums in 16 lanes added pairwise at the end: the lanes are independent
 * chains the compiler vectorizes, where one running sum would wait on
 * every add.  The order is fixed, so results do not depend on threads. */
#define NORM_LANES 16

static float lanes_total(float *acc) {
    for (int w = NORM_LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] += acc[l + w];
    return acc[0];
}

static float sum_lanes(const float *x, int D) {
    float acc[NORM_LANES] = {0};
    int d = 0;
    for (; d + NORM_LANES <= D; d += NORM_LANES)
        for (int l = 0; l < NORM_LANES; l++)
            acc[l] += x[d + l];
    for (; d < D; d++)
        acc[d % NORM_LANES] += x[d];
    return lanes_total(acc);
}

static float sum_sq_dev_lanes(const float *x, int D, float mean) {
    float acc[NORM_LANES] = {0};
    int d = 0;
    for (; d + NORM_LANES <= D; d += NORM_LANES)
        for (int l = 0; l < NORM_LANES; l++) {
            float c = x[d + l] - mean;
            acc[l] += c * c;
        }
    for (; d < D; d++)
        acc[d % NORM_LANES] += (x[d] - mean) * (x[d] - mean);
    return lanes_total(acc);
}

void op_rmsnorm(float *out, const float *x, const float *w, int M, int D,
                float eps) {
    for (int i = 0; i < M; i++) {
        const float *xi = x + (size_t)i * D;
        float *oi = out + (size_t)i * D;
        float ss = sum_sq_dev_lanes(xi, D, 0.0f);
        float r = 1.0f / sqrtf(ss / (float)D + eps);
        for (int d = 0; d < D; d++)
            oi[d] = w[d] * (xi[d] * r);
    }
}

void op_layernorm(float *out, const float *x, const float *w,
                  const float *b, int M, int D, float eps) {
    for (int i = 0; i < M; i++) {
        const float *xi = x + (size_t)i * D;
        float *oi = out + (size_t)i * D;
        float mean = sum_lanes(xi, D) / (float)D;
        float var = sum_sq_dev_lanes(xi, D, mean) / (float)D;
        float r = 1.0f / sqrtf(var + eps);
        for (int d = 0; d < D; d++)
            oi[d] = (xi[d] - mean) * r * w[d] + b[d];
    }
}

float op_activate1(float x, t5e_activation act) {
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    switch (act) {
    case T5E_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case T5E_ACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678f));
    case T5E_ACT_GELU_NEW:
        return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    case T5E_ACT_GELU_FAST:
        return 0.5f * x * (1.0f + tanhf(x * k * (1.0f + 0.044715f * x * x)));
    case T5E_ACT_QUICK_GELU: return x / (1.0f + expf(-1.702f * x));
    case T5E_ACT_SILU: return x / (1.0f + expf(-x));
    case T5E_ACT_TANH: return tanhf(x);
    case T5E_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case T5E_ACT_LINEAR: return x;
    }
    return x;
}

/*
 * The vector activations call glibc's libmvec (erff, tanhf, expf on 16 or
 * 8 lanes, within 4 ulp): the scalar libm calls cost more than the
 * matrix products around them in an ELECTRA-Small layer.  The formulas
 * are op_activate1's, lane by lane.
 */
#if defined(__AVX512F__)
#include <immintrin.h>
#define VW 16
typedef __m512 vf;
__m512 _ZGVeN16v_erff(__m512 x);
__m512 _ZGVeN16v_tanhf(__m512 x);
__m512 _ZGVeN16v_expf(__m512 x);
#define V_ERF _ZGVeN16v_erff
#define V_TANH _ZGVeN16v_tanhf
#define V_EXP _ZGVeN16v_expf
#define V_SET1 _mm512_set1_ps
#define V_LOAD _mm512_loadu_ps
#define V_STORE _mm512_storeu_ps
#define V_ADD _mm512_add_ps
#define V_MUL _mm512_mul_ps
#define V_DIV _mm512_div_ps
#elif defined(__AVX2__)
#include <immintrin.h>
#define VW 8
typedef __m256 vf;
__m256 _ZGVdN8v_erff(__m256 x);
__m256 _ZGVdN8v_tanhf(__m256 x);
__m256 _ZGVdN8v_expf(__m256 x);
#define V_ERF _ZGVdN8v_erff
#define V_TANH _ZGVdN8v_tanhf
#define V_EXP _ZGVdN8v_expf
#define V_SET1 _mm256_set1_ps
#define V_LOAD _mm256_loadu_ps
#define V_STORE _mm256_storeu_ps
#define V_ADD _mm256_add_ps
#define V_MUL _mm256_mul_ps
#define V_DIV _mm256_div_ps
#endif

#ifdef VW
/* One vector of lanes; 0 when act has no vector form here. */
static int activate_vec(float *x, t5e_activation act) {
    vf v = V_LOAD(x), one = V_SET1(1.0f), half = V_SET1(0.5f), r;
    vf k = V_SET1(0.7978845608028654f), c = V_SET1(0.044715f);
    switch (act) {
    case T5E_ACT_GELU:
        r = V_MUL(V_MUL(half, v),
                  V_ADD(one, V_ERF(V_MUL(v, V_SET1(0.70710678f)))));
        break;
    case T5E_ACT_GELU_NEW: /* k * (x + c * x * x * x), in that order */
        r = V_MUL(V_MUL(V_MUL(c, v), v), v);
        r = V_TANH(V_MUL(k, V_ADD(v, r)));
        r = V_MUL(V_MUL(half, v), V_ADD(one, r));
        break;
    case T5E_ACT_SILU:
        r = V_DIV(v, V_ADD(one, V_EXP(V_MUL(V_SET1(-1.0f), v))));
        break;
    case T5E_ACT_SIGMOID:
        r = V_DIV(one, V_ADD(one, V_EXP(V_MUL(V_SET1(-1.0f), v))));
        break;
    case T5E_ACT_TANH:
        r = V_TANH(v);
        break;
    default:
        return 0;
    }
    V_STORE(x, r);
    return 1;
}
#endif

/* x[0..n) in place, vector lanes first, the tail one by one. */
static void activate_span(float *x, size_t n, t5e_activation act) {
    size_t i = 0;
#ifdef VW
    for (; i + VW <= n; i += VW)
        if (!activate_vec(x + i, act))
            break;
#endif
    for (; i < n; i++)
        x[i] = op_activate1(x[i], act);
}

void op_activate(float *x, size_t n, t5e_activation act) {
    /* threads from 512K values: a wake-up of a sleeping thread costs
     * about what 100K vector GELUs do (see ops/wmat.c) */
    const size_t chunk = 4096;
    if (act == T5E_ACT_RELU || act == T5E_ACT_LINEAR || n < (1u << 19)) {
        activate_span(x, n, act);
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i += chunk)
        activate_span(x + i, n - i < chunk ? n - i : chunk, act);
}

int op_activation_from_name(const char *name, t5e_activation *out) {
    static const struct {
        const char *name;
        t5e_activation act;
    } names[] = {
        {"relu", T5E_ACT_RELU},         {"gelu", T5E_ACT_GELU},
        {"gelu_new", T5E_ACT_GELU_NEW}, {"gelu_pytorch_tanh", T5E_ACT_GELU_NEW},
        {"gelu_fast", T5E_ACT_GELU_FAST}, {"quick_gelu", T5E_ACT_QUICK_GELU},
        {"silu", T5E_ACT_SILU},         {"swish", T5E_ACT_SILU},
        {"tanh", T5E_ACT_TANH},         {"sigmoid", T5E_ACT_SIGMOID},
        {"linear", T5E_ACT_LINEAR},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].act;
            return 1;
        }
    return 0;
}

void op_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

void op_mul(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] *= x[i];
}

void op_exp_shifted(float *x, int n, float mx) {
    int i = 0;
#ifdef VW
    vf m = V_SET1(mx);
    for (; i + VW <= n; i += VW)
        V_STORE(x + i, V_EXP(V_ADD(V_LOAD(x + i), V_MUL(V_SET1(-1.0f), m))));
#endif
    for (; i < n; i++)
        x[i] = expf(x[i] - mx);
}

void op_softmax(float *x, int n) {
    float mx = -INFINITY, sum = 0.0f;
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    op_exp_shifted(x, n, mx);
    for (int i = 0; i < n; i++)
        sum += x[i];
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

float op_log_softmax(float *out, const float *x, int n) {
    float mx = -INFINITY;
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++)
        sum += expf(x[i] - mx);
    float lse = mx + (float)log(sum);
    for (int i = 0; i < n; i++)
        out[i] = x[i] - lse;
    return lse;
}

/* A dot product in eight interleaved partial sums, added in a fixed
 * tree: compilers vectorize it (a single running sum they may not
 * reorder), and the result does not depend on the instruction set. */
static float dot_lanes(const float *a, const float *b, int n) {
    float acc[8] = {0};
    int d = 0;
    for (; d + 8 <= n; d += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += a[d + l] * b[d + l];
    for (int l = 0; d < n; d++, l++)
        acc[l] += a[d] * b[d];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
           ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void op_attention_row_scores(float *s, const float *q, const float *k,
                             int h, int i, int j0, int j1,
                             const attn_shape *a) {
    const float *qi = q + (size_t)i * a->q_stride + h * a->dk;
    const float *bias = a->bias ? a->bias + h * a->bias_h + i * a->bias_q
                                : NULL;
    int qpos = a->q_pos0 + i;
    for (int j = j0; j < j1; j++) {
        const float *kj = k + (size_t)j * a->kv_stride + h * a->dk;
        float v = dot_lanes(qi, kj, a->dk) * a->scale;
        if (bias)
            v += bias[j];
        int masked = (a->key_mask && !a->key_mask[j]) ||
                     (a->causal && j > qpos);
        if (masked)
            v += OP_MASKED;
        s[j - j0] = v;
    }
}

void op_attention_row_probs(float *p, const float *q, const float *k,
                            int h, int i, const attn_shape *a) {
    op_attention_row_scores(p, q, k, h, i, 0, a->Tk, a);
    op_softmax(p, a->Tk);
}

/* ------------------------------------------------------------------ */
/* Dropout                                                             */
/* ------------------------------------------------------------------ */

/* A 32-bit integer hash with good avalanche (two multiply-xorshift
 * rounds), cheap enough to run per element and vectorised by the
 * compiler. */
static inline uint32_t mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

uint64_t op_dropout_site(uint64_t step_key, uint64_t site) {
    uint64_t z = step_key + 0x9e3779b97f4a7c15ull * (site + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void op_dropout(float *y, const float *x, size_t n, size_t first, float p,
                uint64_t key) {
    if (p <= 0.0f) {
        if (y != x)
            memmove(y, x, n * sizeof *y);
        return;
    }
    uint32_t lo = (uint32_t)key, hi = (uint32_t)(key >> 32);
    uint32_t drop_below = (uint32_t)((double)p * 4294967296.0);
    float keep_scale = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) {
        uint64_t at = first + i;
        uint32_t h = mix32(mix32((uint32_t)at + lo) ^ hi ^
                           (uint32_t)(at >> 32));
        y[i] = h >= drop_below ? x[i] * keep_scale : 0.0f;
    }
}

void op_dropout_par(float *y, const float *x, size_t n, float p,
                    uint64_t key) {
    const size_t chunk = 16384;
    long nc = (long)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) if (nc > 1)
    for (long c = 0; c < nc; c++) {
        size_t o = (size_t)c * chunk;
        op_dropout(y + o, x + o, n - o < chunk ? n - o : chunk, o, p, key);
    }
}

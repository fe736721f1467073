/*
 * electra_train.c - forward with saved activations, and backward, for
 * ELECTRA (see electra_train.h).
 *
 * Shapes: B batch, S length, BS = B*S, E embedding, H hidden, NH heads,
 * HD = H/NH, F intermediate, V vocabulary, L labels, R head rows.
 * Each layer saves its input x_in, q, k, v, the probabilities p
 * [B, NH, S, S], the context ctx, the two LayerNorm inputs (a_sum,
 * f_sum), the attention block output h1, the FFN activation f and its
 * derivative f_grad (computed with it, so the backward skips the erf).
 * Every matrix product goes through BLAS; attention runs one (batch
 * item, head) per OpenMP task.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cjson/cJSON.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "io/config.h"
#include "model/electra_train.h"
#include "model/tensor_source.h"
#include "ops/ops_backward.h"
#include "train/checkpoint.h"
#include "train/param_source.h"

/* Gradient views are electra_params too; their pointers are writable. */
#define G(x) ((float *)(x))

/* ------------------------------------------------------------------ */
/* Parameter names                                                     */
/* ------------------------------------------------------------------ */

#define GET(dst, d0, d1, ...)                                             \
    do {                                                                 \
        if (!s)                                                          \
            s = source_get(src, &(dst), (d1) ? 2 : 1, (d0), (d1), err,    \
                           __VA_ARGS__);                                 \
    } while (0)
#define GETW(dst, d0, d1, ...)                                            \
    do {                                                                 \
        if (!s)                                                          \
            s = source_get_w(src, &(dst), (d0), (d1), err, __VA_ARGS__);  \
    } while (0)
/* A dense weight's float32 data: trainable models are float32 only. */
#define W(m) ((const float *)(m).data)

static t5e_status name_embeddings(const t5e_electra_config *c,
                                  electra_params *p, tensor_source *src,
                                  const char *pre, const char *emb_pre,
                                  t5e_err *err) {
    long E = c->embedding_size, H = c->hidden_size;
    const char *e = "electra.embeddings";
    t5e_status s = T5E_OK;
    GET(p->word, c->vocab_size, E, "%s%s.word_embeddings.weight", emb_pre,
        e);
    GET(p->pos, c->max_position_embeddings, E,
        "%s%s.position_embeddings.weight", emb_pre, e);
    GET(p->type, c->type_vocab_size, E, "%s%s.token_type_embeddings.weight",
        emb_pre, e);
    GET(p->eln_w, E, 0, "%s%s.LayerNorm.weight", emb_pre, e);
    GET(p->eln_b, E, 0, "%s%s.LayerNorm.bias", emb_pre, e);
    /* The reference builds embeddings_project only when E != H. */
    p->proj_w = p->proj_b = NULL;
    if (E != H) {
        GET(p->proj_w, H, E, "%selectra.embeddings_project.weight", pre);
        GET(p->proj_b, H, 0, "%selectra.embeddings_project.bias", pre);
    }
    return s;
}

static t5e_status name_layer(const t5e_electra_config *c, electra_layer *l,
                             tensor_source *src, const char *pre, int i,
                             t5e_err *err) {
    long H = c->hidden_size, F = c->intermediate_size;
    char at[96];
    t5e_status s = T5E_OK;
    snprintf(at, sizeof at, "%selectra.encoder.layer.%d", pre, i);
    GETW(l->q_w, H, H, "%s.attention.self.query.weight", at);
    GET(l->q_b, H, 0, "%s.attention.self.query.bias", at);
    GETW(l->k_w, H, H, "%s.attention.self.key.weight", at);
    GET(l->k_b, H, 0, "%s.attention.self.key.bias", at);
    GETW(l->v_w, H, H, "%s.attention.self.value.weight", at);
    GET(l->v_b, H, 0, "%s.attention.self.value.bias", at);
    GETW(l->ao_w, H, H, "%s.attention.output.dense.weight", at);
    GET(l->ao_b, H, 0, "%s.attention.output.dense.bias", at);
    GET(l->aln_w, H, 0, "%s.attention.output.LayerNorm.weight", at);
    GET(l->aln_b, H, 0, "%s.attention.output.LayerNorm.bias", at);
    l->rel = NULL;
    if (c->position_embedding_type != T5E_POSITION_ABSOLUTE)
        GET(l->rel, 2L * c->max_position_embeddings - 1,
            H / c->num_attention_heads,
            "%s.attention.self.distance_embedding.weight", at);
    GETW(l->ff1_w, F, H, "%s.intermediate.dense.weight", at);
    GET(l->ff1_b, F, 0, "%s.intermediate.dense.bias", at);
    GETW(l->ff2_w, H, F, "%s.output.dense.weight", at);
    GET(l->ff2_b, H, 0, "%s.output.dense.bias", at);
    GET(l->fln_w, H, 0, "%s.output.LayerNorm.weight", at);
    GET(l->fln_b, H, 0, "%s.output.LayerNorm.bias", at);
    return s;
}

static t5e_status name_head(const t5e_electra_config *c, electra_params *p,
                            tensor_source *src, const char *pre,
                            t5e_err *err) {
    long E = c->embedding_size, H = c->hidden_size;
    t5e_status s = T5E_OK;
    switch (c->head) {
    case T5E_ELECTRA_DISCRIMINATOR:
        GET(p->hd_w, H, H, "%sdiscriminator_predictions.dense.weight", pre);
        GET(p->hd_b, H, 0, "%sdiscriminator_predictions.dense.bias", pre);
        GET(p->hout_w, 1, H,
            "%sdiscriminator_predictions.dense_prediction.weight", pre);
        GET(p->hout_b, 1, 0,
            "%sdiscriminator_predictions.dense_prediction.bias", pre);
        break;
    case T5E_ELECTRA_GENERATOR:
        GET(p->hd_w, E, H, "%sgenerator_predictions.dense.weight", pre);
        GET(p->hd_b, E, 0, "%sgenerator_predictions.dense.bias", pre);
        GET(p->hln_w, E, 0, "%sgenerator_predictions.LayerNorm.weight", pre);
        GET(p->hln_b, E, 0, "%sgenerator_predictions.LayerNorm.bias", pre);
        /* generator_lm_head.weight is the word-embedding matrix: not a
         * parameter of its own, and its gradient adds to the word's. */
        p->hout_w = p->word;
        GET(p->hout_b, c->vocab_size, 0, "%sgenerator_lm_head.bias", pre);
        break;
    case T5E_ELECTRA_CLASSIFIER:
        GET(p->hd_w, H, H, "%sclassifier.dense.weight", pre);
        GET(p->hd_b, H, 0, "%sclassifier.dense.bias", pre);
        GET(p->hout_w, c->num_labels, H, "%sclassifier.out_proj.weight", pre);
        GET(p->hout_b, c->num_labels, 0, "%sclassifier.out_proj.bias", pre);
        break;
    case T5E_ELECTRA_BASE: break;
    }
    return s;
}
#undef GET

/* Requests every tensor of the network from src into p. */
static t5e_status name_all(const t5e_electra_config *c, electra_params *p,
                           tensor_source *src, const char *pre,
                           const char *emb_pre, t5e_err *err) {
    t5e_status s = name_embeddings(c, p, src, pre, emb_pre, err);
    for (int i = 0; i < c->num_hidden_layers && !s; i++)
        s = name_layer(c, &p->layers[i], src, pre, i, err);
    return s ? s : name_head(c, p, src, pre, err);
}

t5e_status electra_net_declare(electra_net *n, const t5e_electra_config *c,
                               param_set *ps, const char *pre,
                               const char *emb_pre, t5e_err *err) {
    memset(n, 0, sizeof *n);
    n->model.cfg = *c;
    size_t NL = (size_t)c->num_hidden_layers;
    n->model.p.layers = xcalloc(NL, sizeof *n->model.p.layers);
    n->grad.layers = xcalloc(NL, sizeof *n->grad.layers);
    if (!n->model.p.layers || !n->grad.layers)
        return err_set(err, T5E_ERR_NOMEM, "electra: out of memory");
    param_source_ctx dc = {ps, PSRC_DECLARE};
    tensor_source decl = param_source(&dc);
    return name_all(c, &n->model.p, &decl, pre, emb_pre, err);
}

t5e_status electra_net_bind(electra_net *n, param_set *ps, const char *pre,
                            const char *emb_pre, t5e_err *err) {
    param_source_ctx dc = {ps, PSRC_DATA}, gc = {ps, PSRC_GRAD};
    tensor_source ds = param_source(&dc), gs = param_source(&gc);
    const t5e_electra_config *c = &n->model.cfg;
    t5e_status s = name_all(c, &n->model.p, &ds, pre, emb_pre, err);
    return s ? s : name_all(c, &n->grad, &gs, pre, emb_pre, err);
}

/* ------------------------------------------------------------------ */
/* Activations                                                         */
/* ------------------------------------------------------------------ */

typedef struct {
    float *x_in;            /* [BS, H] the layer's input */
    float *q, *k, *v, *ctx; /* [BS, H] */
    float *p;               /* [B, NH, S, S] attention probabilities */
    float *a_sum;           /* [BS, H] attention output + x_in */
    float *h1;              /* [BS, H] LayerNorm(a_sum) */
    float *f_grad, *f;      /* [BS, F] hidden_act' and hidden_act */
    float *f_sum;           /* [BS, H] FFN output + h1 */
} layer_acts;

struct electra_acts {
    int B, S, threads;
    layer_acts *l;           /* [NL] */
    float *emb_sum, *emb;    /* [BS, E] before / after the LayerNorm */
    float *x;                /* [BS, H] the last layer's output */
    float *dx, *da, *db;     /* [BS, H] backward work */
    float *dq, *dk, *dv;     /* [BS, H] */
    float *df;               /* [BS, F] */
    float *de;               /* [BS, E] */
    float *sc;               /* [threads, S, S] attention backward */
    /* relative position types only (else NULL): the scores' scratch
     * [threads, S, 2S - 1], and the score gradients scattered by
     * distance, [NH, B, S, 2S - 1] for the query term then (relative_
     * key_query) as many for the key term: the table's gradient is
     * summed from them after the parallel loop */
    float *rel_w, *rel_g;
    float *part;             /* [threads, 2, max(E, H)] LayerNorm sums */
    float *hz;               /* [2, max(BS, B*L)] head logits and grads */
    float *arena;
    size_t arena_len;
    float *head;             /* head work, grown as needed */
    size_t head_len;
    int32_t *rows;           /* [BS] rows the generator head runs on */
    size_t rows_len;
};


static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static int num_threads(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

typedef struct {
    float *base;
    size_t used;
} carver;

/* Views stay 64-byte aligned for the BLAS kernels. */
static float *carve(carver *c, size_t n) {
    float *p = c->base ? c->base + c->used : NULL;
    c->used += (n + 15) & ~(size_t)15;
    return p;
}

static void carve_acts(carver *cv, electra_acts *a,
                       const t5e_electra_config *c) {
    size_t BS = (size_t)a->B * a->S, E = c->embedding_size;
    size_t H = c->hidden_size, F = c->intermediate_size;
    size_t P = (size_t)a->B * c->num_attention_heads * a->S * a->S;
    size_t D = E > H ? E : H;
    for (int i = 0; i < c->num_hidden_layers; i++) {
        layer_acts *l = &a->l[i];
        float **h[] = {&l->x_in, &l->q, &l->k, &l->v, &l->ctx, &l->a_sum,
                       &l->h1, &l->f_sum};
        for (size_t j = 0; j < sizeof h / sizeof h[0]; j++)
            *h[j] = carve(cv, BS * H);
        l->p = carve(cv, P);
        l->f_grad = carve(cv, BS * F);
        l->f = carve(cv, BS * F);
    }
    float **h[] = {&a->x, &a->dx, &a->da, &a->db, &a->dq, &a->dk, &a->dv};
    for (size_t j = 0; j < sizeof h / sizeof h[0]; j++)
        *h[j] = carve(cv, BS * H);
    a->emb_sum = carve(cv, BS * E);
    a->emb = carve(cv, BS * E);
    a->de = carve(cv, BS * E);
    a->df = carve(cv, BS * F);
    /* per thread: dS, and the dropped-out probabilities */
    a->sc = carve(cv, (size_t)a->threads * 2 * a->S * a->S);
    a->rel_w = a->rel_g = NULL;
    if (c->position_embedding_type != T5E_POSITION_ABSOLUTE) {
        size_t RW = electra_rel_scratch(a->S);
        int terms = c->position_embedding_type ==
                    T5E_POSITION_RELATIVE_KEY_QUERY ? 2 : 1;
        a->rel_w = carve(cv, (size_t)a->threads * RW);
        a->rel_g = carve(cv, (size_t)terms * a->B *
                                 c->num_attention_heads * RW);
    }
    a->part = carve(cv, (size_t)a->threads * 2 * D);
    size_t BL = (size_t)a->B * c->num_labels;
    a->hz = carve(cv, 2 * (BS > BL ? BS : BL));
}

/* Sizes and carves the arena for B x S; reuses it when big enough. */
static t5e_status acts_reserve(electra_net *n, int B, int S, t5e_err *err) {
    const t5e_electra_config *c = &n->model.cfg;
    electra_acts *a = n->acts;
    if (!a) {
        a = n->acts = xcalloc(1, sizeof *a);
        if (a)
            a->l = xcalloc((size_t)c->num_hidden_layers, sizeof *a->l);
        if (!a || !a->l)
            return err_set(err, T5E_ERR_NOMEM, "electra: out of memory");
    }
    int T = core_max_threads();
    if (a->B == B && a->S == S && a->threads >= T)
        return T5E_OK;
    a->B = B;
    a->S = S;
    a->threads = T;
    carver cv = {NULL, 0};
    carve_acts(&cv, a, c);
    if (cv.used > a->arena_len) {
        free(a->arena);
        a->arena_len = 0;
        if (posix_memalign((void **)&a->arena, 64, cv.used * sizeof(float)))
            return err_set(err, T5E_ERR_NOMEM, "electra: out of memory for "
                           "the activations of B=%d, S=%d (%zu MB)", B, S,
                           cv.used * sizeof(float) >> 20);
        a->arena_len = cv.used;
    }
    if ((size_t)B * S > a->rows_len) {
        free(a->rows);
        a->rows_len = 0;
        a->rows = xcalloc((size_t)B * S, sizeof *a->rows);
        if (!a->rows)
            return err_set(err, T5E_ERR_NOMEM, "electra: out of memory");
        a->rows_len = (size_t)B * S;
    }
    cv.base = a->arena;
    cv.used = 0;
    carve_acts(&cv, a, c);
    return T5E_OK;
}

/* Grows the head's work buffer to n floats. */
static float *head_reserve(electra_acts *a, size_t n) {
    if (n > a->head_len) {
        free(a->head);
        a->head_len = 0;
        if (posix_memalign((void **)&a->head, 64, n * sizeof(float)))
            return a->head = NULL;
        a->head_len = n;
    }
    return a->head;
}

void electra_net_free(electra_net *n) {
    if (n->acts) {
        free(n->acts->l);
        free(n->acts->arena);
        free(n->acts->head);
        free(n->acts->rows);
        free(n->acts);
    }
    free(n->model.p.layers);
    free(n->grad.layers);
    for (int i = 0; n->model.labels && i < n->model.cfg.num_labels; i++)
        free(n->model.labels[i]);
    free(n->model.labels);
    free(n->model.ws);
    memset(n, 0, sizeof *n);
}

static t5e_status check_range(const int32_t *a, long n, int hi,
                              const char *what, t5e_err *err) {
    for (long i = 0; i < n; i++)
        if (a[i] < 0 || a[i] >= hi)
            return err_set(err, T5E_ERR_ARG, "electra: %s[%ld] = %d is out "
                           "of range [0, %d)", what, i, a[i], hi);
    return T5E_OK;
}

t5e_status electra_net_prepare(electra_net *n, int B, int S,
                               const int32_t *ids, const int32_t *types,
                               const int32_t *mask, t5e_err *err) {
    const t5e_electra_config *c = &n->model.cfg;
    long BS = (long)B * S;
    if (B <= 0 || S <= 0 || !ids)
        return err_set(err, T5E_ERR_ARG, "electra: empty batch (B=%d, S=%d)",
                       B, S);
    if (S > c->max_position_embeddings)
        return err_set(err, T5E_ERR_ARG, "electra: %d tokens exceed "
                       "max_position_embeddings %d", S,
                       c->max_position_embeddings);
    t5e_status s = check_range(ids, BS, c->vocab_size, "ids", err);
    if (!s && types)
        s = check_range(types, BS, c->type_vocab_size, "type_ids", err);
    if (!s && mask)
        s = check_range(mask, BS, 2, "mask", err);
    return s ? s : acts_reserve(n, B, S, err);
}

/* ------------------------------------------------------------------ */
/* Row-parallel kernels                                                */
/* ------------------------------------------------------------------ */

#define ROW_CHUNK 32

static void par_layernorm(float *out, const float *x, const float *w,
                          const float *b, int M, int D, float eps) {
#pragma omp parallel for schedule(static) if (M >= 2 * ROW_CHUNK)
    for (int r = 0; r < M; r += ROW_CHUNK) {
        int m = M - r < ROW_CHUNK ? M - r : ROW_CHUNK;
        size_t o = (size_t)r * D;
        op_layernorm(out + o, x + o, w, b, m, D, eps);
    }
}

/* out = act(x) over n values (out may equal x). */
static void par_activate(float *out, const float *x, size_t n,
                         t5e_activation act) {
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (size_t i = 0; i < n; i++)
        out[i] = op_activate1(x[i], act);
}

/* GCC if-converts the selects and vectorizes floorf below only without
 * trapping math; nothing here reads the floating-point flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

/* e^x for x <= 0 without calls, so loops over it vectorize: Cephes'
 * expf (range reduction by ln 2, degree-6 polynomial, ~1 ulp). */
static inline float exp_nonpos(float x) {
    x = x < -87.0f ? -87.0f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23); /* 2^n */
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}

/*
 * Exact-erf GELU and its derivative in one pass: Phi(x) from Abramowitz
 * and Stegun 7.1.26 (|error| < 1.5e-7 in erf, about float32 rounding of
 * 1 + erf), whose exp(-x^2/2) is also the density.  The tail
 * 0.5 (1 - erf) is formed directly, so negative x lose nothing to
 * cancellation.  glibc's erff and expf do not vectorize, and this is
 * the largest elementwise cost of a training step.  g holds x on entry
 * and GELU'(x) on return; y gets GELU(x).
 */
static void gelu_chunk(float *restrict y, float *restrict g, int n) {
    for (int i = 0; i < n; i++) {
        float x = g[i], z = fabsf(x) * 0.70710678118654752f;
        float t = 1.0f / (1.0f + 0.3275911f * z);
        float poly = t * (0.254829592f + t * (-0.284496736f + t *
                     (1.421413741f + t * (-1.453152027f + t *
                     1.061405429f))));
        float e = exp_nonpos(-z * z);
        float tail = 0.5f * poly * e;
        float cdf = x >= 0.0f ? 1.0f - tail : tail;
        y[i] = x * cdf;
        g[i] = cdf + x * e * 0.39894228040143268f;
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/*
 * Training forward: y = act(x), and x is replaced by act'(x), which is
 * all the backward needs.
 */
static void par_activate_keep_grad(float *y, float *x, size_t n,
                                   t5e_activation act) {
    if (act == T5E_ACT_GELU) {
        const size_t chunk = 4096;
        long nc = (long)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) if (nc > 1)
        for (long c = 0; c < nc; c++) {
            size_t o = (size_t)c * chunk;
            gelu_chunk(y + o, x + o, (int)(n - o < chunk ? n - o : chunk));
        }
        return;
    }
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = op_activate1(v, act);
        x[i] = op_activate_grad1(v, act);
    }
}

static void par_mul(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (size_t i = 0; i < n; i++)
        y[i] *= x[i];
}

static void par_activate_backward(float *dx, const float *dy,
                                  const float *x, size_t n,
                                  t5e_activation act) {
#pragma omp parallel for schedule(static) if (n >= 16384)
    for (size_t i = 0; i < n; i++)
        dx[i] = dy[i] * op_activate_grad1(x[i], act);
}

/*
 * LayerNorm backward over rows split between threads; each thread sums
 * its dw, db into its own slice of part [threads, 2, D], then the slices
 * are added, so the result does not depend on scheduling races.
 */
static void par_layernorm_backward(electra_acts *a, float *dx, float *dw,
                                   float *db, const float *dy,
                                   const float *x, const float *w, int M,
                                   int D, float eps) {
    int used = 1;
    memset(a->part, 0, (size_t)a->threads * 2 * D * sizeof *a->part);
#pragma omp parallel if (M >= 2 * ROW_CHUNK)
    {
        int t = thread_id(), nt = num_threads();
        int r0 = (int)((long)M * t / nt), r1 = (int)((long)M * (t + 1) / nt);
        float *pw = a->part + (size_t)t * 2 * D;
        size_t o = (size_t)r0 * D;
        if (r1 > r0)
            op_layernorm_backward(dx + o, pw, pw + D, dy + o, x + o, w,
                                  r1 - r0, D, eps);
        if (t == 0)
            used = nt;
    }
    for (int t = 0; t < used; t++)
        for (int d = 0; d < D; d++) {
            dw[d] += a->part[(size_t)t * 2 * D + d];
            db[d] += a->part[(size_t)t * 2 * D + D + d];
        }
}

/* ------------------------------------------------------------------ */
/* Attention                                                           */
/* ------------------------------------------------------------------ */

/* p = softmax(scale q k^T + mask), ctx = dropout(p) v, one task per
 * (b, head); p is kept undropped (the softmax backward needs it), the
 * dropped copy lives in the thread's scratch.  drop_p 0: no dropout. */
static void attn_forward(const t5e_electra_config *c, electra_acts *a,
                         int B, int S, const int32_t *mask, layer_acts *l,
                         const float *rel, float drop_p, uint64_t key) {
    int H = c->hidden_size, NH = c->num_attention_heads, HD = H / NH;
    int P = c->max_position_embeddings;
    int kq = c->position_embedding_type == T5E_POSITION_RELATIVE_KEY_QUERY;
    float scale = 1.0f / sqrtf((float)HD);
#pragma omp parallel for schedule(dynamic, 1) if (B * NH > 1)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t o = (size_t)b * S * H + (size_t)h * HD;
        float *p = l->p + (size_t)bh * S * S;
        const int32_t *mk = mask ? mask + (size_t)b * S : NULL;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, S, HD,
                    scale, l->q + o, H, l->k + o, H, 0.0f, p, S);
        if (rel)
            electra_rel_scores(p, l->q + o, l->k + o, H, rel, P, S, HD, kq,
                               scale, a->rel_w + (size_t)thread_id() *
                                                     electra_rel_scratch(S));
        for (int i = 0; i < S; i++) {
            float *row = p + (size_t)i * S;
            /* The reference adds (1 - mask) * float32_min, not -inf. */
            for (int j = 0; mk && j < S; j++)
                if (!mk[j])
                    row[j] += OP_MASKED;
            op_softmax(row, S);
        }
        const float *pv = p;
        if (drop_p > 0.0f) {
            float *pd = a->sc + ((size_t)thread_id() * 2 + 1) * S * S;
            op_dropout(pd, p, (size_t)S * S, (size_t)bh * S * S, drop_p, key);
            pv = pd;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, HD, S,
                    1.0f, pv, S, l->v + o, H, 0.0f, l->ctx + o, H);
    }
}

/*
 * The relative terms' share of dq (and dk) for one (batch item, head):
 * the score gradients ds [S, S] regrouped by distance, gd [S, 2S - 1]
 * (row i, column i - j + S - 1) for the query term and gk (row j) for
 * the key term; dq += scale gd e, dk += scale gk e over the table's
 * window e.  gd and gk are kept for rel_table_backward.
 */
static void rel_qk_backward(float *dq, float *dk, int ld, float *gd,
                            float *gk, const float *ds, const float *rel,
                            int P, int S, int HD, float scale) {
    size_t W = 2 * (size_t)S - 1;
    const float *ew = rel + (size_t)(P - S) * HD;
    memset(gd, 0, S * W * sizeof *gd);
    if (gk)
        memset(gk, 0, S * W * sizeof *gk);
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
            float g = ds[(size_t)i * S + j];
            gd[i * W + (size_t)(i - j + S - 1)] = g;
            if (gk)
                gk[j * W + (size_t)(i - j + S - 1)] = g;
        }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, HD, (int)W,
                scale, gd, (int)W, ew, HD, 1.0f, dq, ld);
    if (gk)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, HD, (int)W,
                    scale, gk, (int)W, ew, HD, 1.0f, dk, ld);
}

/* The distance table's gradient: the window rows += scale gd^T q (and
 * gk^T k), head by head over all batch items, after the parallel loop so
 * the sum has one order whatever the thread count. */
static void rel_table_backward(const t5e_electra_config *c, electra_acts *a,
                               int B, int S, const layer_acts *l,
                               float *drel) {
    int H = c->hidden_size, NH = c->num_attention_heads, HD = H / NH;
    int P = c->max_position_embeddings, W = 2 * S - 1;
    int kq = c->position_embedding_type == T5E_POSITION_RELATIVE_KEY_QUERY;
    float scale = 1.0f / sqrtf((float)HD);
    size_t per_head = (size_t)B * electra_rel_scratch(S);
    float *dew = drel + (size_t)(P - S) * HD;
    for (int term = 0; term < 1 + kq; term++)
        for (int h = 0; h < NH; h++) {
            const float *g = a->rel_g + ((size_t)term * NH + h) * per_head;
            const float *x = (term ? l->k : l->q) + (size_t)h * HD;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, W, HD,
                        B * S, scale, g, W, x, H, 1.0f, dew, HD);
        }
}

/*
 * From dctx [BS, H]: dP = dO V^T, dS = P (dP - rowsum(dP P)),
 * dq = scale dS K, dk = scale dS^T Q, dv = P^T dO (all overwritten;
 * heads own disjoint columns), plus the relative terms' shares.
 */
static void attn_backward(const t5e_electra_config *c, electra_acts *a,
                          int B, int S, const layer_acts *l,
                          const float *rel, float *drel, const float *dctx,
                          float drop_p, uint64_t key) {
    int H = c->hidden_size, NH = c->num_attention_heads, HD = H / NH;
    int P = c->max_position_embeddings;
    int kq = c->position_embedding_type == T5E_POSITION_RELATIVE_KEY_QUERY;
    size_t per_head = (size_t)B * electra_rel_scratch(S);
    float scale = 1.0f / sqrtf((float)HD);
#pragma omp parallel for schedule(dynamic, 1) if (B * NH > 1)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t o = (size_t)b * S * H + (size_t)h * HD;
        const float *p = l->p + (size_t)bh * S * S;
        float *ds = a->sc + (size_t)thread_id() * 2 * S * S, *pd = ds + S * S;
        size_t first = (size_t)bh * S * S;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, S, HD, 1.0f,
                    dctx + o, H, l->v + o, H, 0.0f, ds, S);
        if (drop_p > 0.0f) /* through the dropout: the same mask */
            op_dropout(ds, ds, (size_t)S * S, first, drop_p, key);
        for (int i = 0; i < S; i++) {
            const float *pr = p + (size_t)i * S;
            float *dr = ds + (size_t)i * S, dot = 0.0f;
            for (int j = 0; j < S; j++)
                dot += pr[j] * dr[j];
            for (int j = 0; j < S; j++)
                dr[j] = pr[j] * (dr[j] - dot);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, HD, S,
                    scale, ds, S, l->k + o, H, 0.0f, a->dq + o, H);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, S, HD, S,
                    scale, ds, S, l->q + o, H, 0.0f, a->dk + o, H);
        if (rel) {
            size_t at = (size_t)h * per_head +
                        (size_t)b * electra_rel_scratch(S);
            rel_qk_backward(a->dq + o, a->dk + o, H, a->rel_g + at,
                            kq ? a->rel_g + NH * per_head + at : NULL, ds,
                            rel, P, S, HD, scale);
        }
        if (drop_p > 0.0f)
            op_dropout(pd, p, (size_t)S * S, first, drop_p, key);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, S, HD, S, 1.0f,
                    drop_p > 0.0f ? pd : p, S, dctx + o, H, 0.0f,
                    a->dv + o, H);
    }
    if (rel)
        rel_table_backward(c, a, B, S, l, drel);
}

/* ------------------------------------------------------------------ */
/* Encoder forward and backward                                        */
/* ------------------------------------------------------------------ */

/*
 * Dropout, as the reference's train mode: after the embedding LayerNorm,
 * on the attention probabilities, on the attention output and the
 * feed-forward output before their residual adds (hidden_dropout_prob /
 * attention_probs_dropout_prob), and twice in the classification head.
 * Each place of a step is a site with its own key.
 */
enum { SITE_EMB = 0, SITE_HEAD_IN = 1, SITE_HEAD_ACT = 2 };
/* Layer i's sites: 0 probabilities, 1 attention output, 2 FFN output. */
static uint64_t layer_site(int i, int j) {
    return 16 + 3 * (uint64_t)i + (uint64_t)j;
}

void electra_net_set_dropout(electra_net *n, int on, uint64_t key) {
    n->drop_on = on;
    n->drop_key = key;
}

static float hidden_drop(const electra_net *n) {
    return n->drop_on ? n->model.cfg.hidden_dropout_prob : 0.0f;
}

static uint64_t site_key(const electra_net *n, uint64_t site) {
    return op_dropout_site(n->drop_key, site);
}

/* y = dropout(x) over n elements, split over threads (the masks depend
 * on the position only); p = 0 leaves y = x. */
static void par_dropout(float *y, const float *x, size_t n, float p,
                        uint64_t key) {
    if (p <= 0.0f) {
        if (y != x)
            memcpy(y, x, n * sizeof *y);
        return;
    }
    op_dropout_par(y, x, n, p, key);
}

/* The gradient dy [n] through a hidden dropout site: dy itself when
 * dropout is off, else the masked copy written to buf. */
static const float *masked(const electra_net *n, float *buf,
                           const float *dy, size_t count, uint64_t site) {
    float p = hidden_drop(n);
    if (p <= 0.0f)
        return dy;
    par_dropout(buf, dy, count, p, site_key(n, site));
    return buf;
}

static void embed_forward(electra_net *n, int B, int S, const int32_t *ids,
                          const int32_t *types) {
    const t5e_electra_config *c = &n->model.cfg;
    const electra_params *p = &n->model.p;
    electra_acts *a = n->acts;
    int E = c->embedding_size, BS = B * S;
    float *x0 = c->num_hidden_layers ? a->l[0].x_in : a->x;
    /* Same order as the reference: (word + type) + position; relative
     * position types add no position here. */
    int absolute = c->position_embedding_type == T5E_POSITION_ABSOLUTE;
    for (int t = 0; t < BS; t++) {
        const float *we = p->word + (size_t)ids[t] * E;
        const float *te = p->type + (size_t)(types ? types[t] : 0) * E;
        const float *pe = p->pos + (size_t)(t % S) * E;
        float *o = a->emb_sum + (size_t)t * E;
        for (int d = 0; d < E; d++)
            o[d] = absolute ? (we[d] + te[d]) + pe[d] : we[d] + te[d];
    }
    par_layernorm(a->emb, a->emb_sum, p->eln_w, p->eln_b, BS, E,
                  c->layer_norm_eps);
    par_dropout(a->emb, a->emb, (size_t)BS * E, hidden_drop(n),
                site_key(n, SITE_EMB));
    if (p->proj_w)
        op_linear(x0, a->emb, p->proj_w, p->proj_b, BS, E, c->hidden_size);
    else
        memcpy(x0, a->emb, (size_t)BS * E * sizeof *x0);
}

/* Layer i: l->x_in -> out [BS, H]. */
static void layer_forward(electra_net *n, int i, int B, int S,
                          const int32_t *mask, float *out) {
    const t5e_electra_config *c = &n->model.cfg;
    const electra_layer *w = &n->model.p.layers[i];
    layer_acts *l = &n->acts->l[i];
    int H = c->hidden_size, F = c->intermediate_size, BS = B * S;
    float eps = c->layer_norm_eps;

    float hp = hidden_drop(n);
    float ap = n->drop_on ? c->attention_probs_dropout_prob : 0.0f;

    op_linear(l->q, l->x_in, W(w->q_w), w->q_b, BS, H, H);
    op_linear(l->k, l->x_in, W(w->k_w), w->k_b, BS, H, H);
    op_linear(l->v, l->x_in, W(w->v_w), w->v_b, BS, H, H);
    attn_forward(c, n->acts, B, S, mask, l, w->rel, ap,
                 site_key(n, layer_site(i, 0)));
    op_linear(l->a_sum, l->ctx, W(w->ao_w), w->ao_b, BS, H, H);
    par_dropout(l->a_sum, l->a_sum, (size_t)BS * H, hp,
                site_key(n, layer_site(i, 1)));
    op_add(l->a_sum, l->x_in, (size_t)BS * H);
    par_layernorm(l->h1, l->a_sum, w->aln_w, w->aln_b, BS, H, eps);

    op_linear(l->f_grad, l->h1, W(w->ff1_w), w->ff1_b, BS, H, F);
    par_activate_keep_grad(l->f, l->f_grad, (size_t)BS * F, c->hidden_act);
    op_linear(l->f_sum, l->f, W(w->ff2_w), w->ff2_b, BS, F, H);
    par_dropout(l->f_sum, l->f_sum, (size_t)BS * H, hp,
                site_key(n, layer_site(i, 2)));
    op_add(l->f_sum, l->h1, (size_t)BS * H);
    par_layernorm(out, l->f_sum, w->fln_w, w->fln_b, BS, H, eps);
}

void electra_net_forward(electra_net *n, int B, int S, const int32_t *ids,
                         const int32_t *types, const int32_t *mask) {
    int NL = n->model.cfg.num_hidden_layers;
    embed_forward(n, B, S, ids, types);
    for (int i = 0; i < NL; i++)
        layer_forward(n, i, B, S, mask,
                      i + 1 < NL ? n->acts->l[i + 1].x_in : n->acts->x);
}

/* Layer i backward: a->dx holds d out on entry and d x_in on return. */
static void layer_backward(electra_net *n, int i, int B, int S) {
    const t5e_electra_config *c = &n->model.cfg;
    const electra_layer *w = &n->model.p.layers[i];
    const electra_layer *g = &n->grad.layers[i];
    electra_acts *a = n->acts;
    const layer_acts *l = &a->l[i];
    int H = c->hidden_size, F = c->intermediate_size, BS = B * S;
    size_t nH = (size_t)BS * H;
    float eps = c->layer_norm_eps;
    float ap = n->drop_on ? c->attention_probs_dropout_prob : 0.0f;

    /* Output LayerNorm, then the FFN; da = d f_sum, db = d h1.  With
     * dropout the dense output's gradient is da through the mask (in
     * dq, free until the attention backward); the residual's is da. */
    par_layernorm_backward(a, a->da, G(g->fln_w), G(g->fln_b), a->dx,
                           l->f_sum, w->fln_w, BS, H, eps);
    const float *dout = masked(n, a->dq, a->da, nH, layer_site(i, 2));
    op_linear_backward(a->df, G(W(g->ff2_w)), G(g->ff2_b), dout, l->f,
                       W(w->ff2_w), BS, F, H);
    par_mul(a->df, l->f_grad, (size_t)BS * F);
    op_linear_backward(a->db, G(W(g->ff1_w)), G(g->ff1_b), a->df, l->h1,
                       W(w->ff1_w), BS, H, F);
    op_add(a->db, a->da, nH);

    /* Attention LayerNorm and output dense; db = d ctx. */
    par_layernorm_backward(a, a->da, G(g->aln_w), G(g->aln_b), a->db,
                           l->a_sum, w->aln_w, BS, H, eps);
    dout = masked(n, a->dq, a->da, nH, layer_site(i, 1));
    op_linear_backward(a->db, G(W(g->ao_w)), G(g->ao_b), dout, l->ctx,
                       W(w->ao_w), BS, H, H);
    attn_backward(c, a, B, S, l, w->rel, G(g->rel), a->db, ap,
                  site_key(n, layer_site(i, 0)));

    /* Projections and the residual into d x_in. */
    op_linear_backward(a->dx, G(W(g->q_w)), G(g->q_b), a->dq, l->x_in, W(w->q_w),
                       BS, H, H);
    op_linear_backward_acc(a->dx, G(W(g->k_w)), G(g->k_b), a->dk, l->x_in,
                           W(w->k_w), BS, H, H);
    op_linear_backward_acc(a->dx, G(W(g->v_w)), G(g->v_b), a->dv, l->x_in,
                           W(w->v_w), BS, H, H);
    op_add(a->dx, a->da, nH);
}

/* a->dx = d x0 -> the embedding gradients. */
static void embed_backward(electra_net *n, int B, int S, const int32_t *ids,
                           const int32_t *types) {
    const t5e_electra_config *c = &n->model.cfg;
    const electra_params *p = &n->model.p, *g = &n->grad;
    electra_acts *a = n->acts;
    int E = c->embedding_size, BS = B * S;
    float *de = a->dx; /* E == H: no projection */
    if (p->proj_w) {
        de = a->de;
        op_linear_backward(de, G(g->proj_w), G(g->proj_b), a->dx, a->emb,
                           p->proj_w, BS, E, c->hidden_size);
    }
    par_dropout(de, de, (size_t)BS * E, hidden_drop(n),
                site_key(n, SITE_EMB));
    par_layernorm_backward(a, de, G(g->eln_w), G(g->eln_b), de, a->emb_sum,
                           p->eln_w, BS, E, c->layer_norm_eps);
    for (int t = 0; t < BS; t++) {
        const float *d = de + (size_t)t * E;
        /* padding_idx: the pad row never receives a gradient. */
        float *gw = ids[t] == c->pad_token_id
                        ? NULL
                        : G(g->word) + (size_t)ids[t] * E;
        float *gt = G(g->type) + (size_t)(types ? types[t] : 0) * E;
        /* relative position types: the table is not used, no gradient */
        float *gp = c->position_embedding_type == T5E_POSITION_ABSOLUTE
                        ? G(g->pos) + (size_t)(t % S) * E
                        : NULL;
        for (int k = 0; k < E; k++) {
            if (gw)
                gw[k] += d[k];
            gt[k] += d[k];
            if (gp)
                gp[k] += d[k];
        }
    }
}

void electra_net_backward(electra_net *n, int B, int S, const int32_t *ids,
                          const int32_t *types, const int32_t *mask) {
    (void)mask; /* the saved probabilities already hold it */
    for (int i = n->model.cfg.num_hidden_layers - 1; i >= 0; i--)
        layer_backward(n, i, B, S);
    embed_backward(n, B, S, ids, types);
}

/* ------------------------------------------------------------------ */
/* Heads                                                               */
/* ------------------------------------------------------------------ */

/* BCE with logits of one position, and d loss / d z. */
static double bce(float z, int y, float *dz) {
    float sig = 1.0f / (1.0f + expf(-z));
    *dz = sig - (float)y;
    return fmax(z, 0.0) - (double)z * y + log1p(exp(-fabs((double)z)));
}

double electra_disc_head(electra_net *n, int B, int S,
                         const int32_t *labels, const int32_t *mask,
                         float scale, float *logits, double *acc) {
    const t5e_electra_config *c = &n->model.cfg;
    const electra_params *p = &n->model.p, *g = &n->grad;
    electra_acts *a = n->acts;
    int H = c->hidden_size, BS = B * S;
    /* z and dz [BS] live in the head buffer; pre, act reuse dq, dk. */
    float *z = a->hz, *dz = z + BS;
    float *pre = a->dq, *act = a->dk;
    op_linear(pre, a->x, p->hd_w, p->hd_b, BS, H, H);
    par_activate(act, pre, (size_t)BS * H, c->hidden_act);
    op_linear(z, act, p->hout_w, p->hout_b, BS, H, 1);

    int count = 0, right = 0;
    for (int t = 0; t < BS; t++)
        count += !mask || mask[t];
    double loss = 0;
    for (int t = 0; t < BS; t++) {
        float d = 0.0f;
        if (!mask || mask[t]) {
            loss += bce(z[t], labels[t], &d);
            right += (z[t] > 0.0f) == (labels[t] != 0);
        }
        dz[t] = count ? d * scale / count : 0.0f;
    }
    if (logits)
        memcpy(logits, z, (size_t)BS * sizeof *z);
    if (acc)
        *acc = count ? (double)right / count : 0.0;

    op_linear_backward(a->da, G(g->hout_w), G(g->hout_b), dz, act,
                       p->hout_w, BS, H, 1);
    par_activate_backward(a->da, a->da, pre, (size_t)BS * H, c->hidden_act);
    op_linear_backward(a->dx, G(g->hd_w), G(g->hd_b), a->da, a->x, p->hd_w,
                       BS, H, H);
    return count ? loss / count : 0.0;
}

/* splitmix64: a per-row stream, so samples do not depend on threads. */
static double row_uniform(uint64_t base, uint64_t row) {
    uint64_t z = base + 0x9e3779b97f4a7c15ull * (row + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (z >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * One generator row in one pass of expf: the cross-entropy of `label`,
 * d loss * k / d logits written over l [V], and, when u >= 0, a token
 * drawn from softmax(l) by the inverse CDF of u into *sample: the same
 * distribution as the original's Gumbel-max at temperature 1, with one
 * random number per row instead of V.
 */
static double mlm_row(float *l, int V, int label, float k, double u,
                      int32_t *sample) {
    float mx = l[0];
    for (int j = 1; j < V; j++)
        mx = l[j] > mx ? l[j] : mx;
    float z_label = l[label] - mx;
    double sum = 0;
    for (int j = 0; j < V; j++) {
        l[j] = expf(l[j] - mx);
        sum += l[j];
    }
    if (u >= 0) {
        double target = u * sum, run = 0;
        int j = 0;
        while (j < V - 1 && (run += l[j]) <= target)
            j++;
        *sample = j;
    }
    float scale = (float)(k / sum);
    for (int j = 0; j < V; j++)
        l[j] *= scale;
    l[label] -= k;
    return log(sum) - z_label;
}

t5e_status electra_mlm_head(electra_net *n, int B, int S,
                            const int32_t *labels, float scale,
                            rng_state *rng, int32_t *sampled, double *loss,
                            int *count, t5e_err *err) {
    const t5e_electra_config *c = &n->model.cfg;
    const electra_params *p = &n->model.p, *g = &n->grad;
    electra_acts *a = n->acts;
    int H = c->hidden_size, E = c->embedding_size, V = c->vocab_size;
    int BS = B * S, R = 0;
    for (int t = 0; t < BS; t++) {
        if (labels[t] == -100)
            continue;
        if (labels[t] < 0 || labels[t] >= V)
            return err_set(err, T5E_ERR_ARG, "electra: label %d at position "
                           "%d is outside the vocabulary (%d)", labels[t],
                           t, V);
        a->rows[R++] = t;
    }
    *count = R;
    *loss = 0.0;
    memset(a->dx, 0, (size_t)BS * H * sizeof *a->dx);
    if (!R)
        return T5E_OK;

    /* xg [R, H], pre, act, nrm, dn [R, E], lab [R], logits [R, V] */
    size_t RV = (size_t)R * V, RE = (size_t)R * E, RH = (size_t)R * H;
    float *xg = head_reserve(a, RV + 4 * RE + 2 * RH + 3 * (size_t)R + 64);
    if (!xg)
        return err_set(err, T5E_ERR_NOMEM, "electra: out of memory for the "
                       "generator head over %d rows", R);
    float *pre = xg + RH, *act = pre + RE, *nrm = act + RE, *dn = nrm + RE;
    float *dxg = dn + RE, *logits = dxg + RH;
    int32_t *lab = (int32_t *)(logits + RV);
    /* per-row losses, summed in row order: the total must not depend on
     * which thread took which rows */
    double *row_loss = (double *)(((uintptr_t)(lab + R) + 7) & ~(uintptr_t)7);
    for (int r = 0; r < R; r++) {
        memcpy(xg + (size_t)r * H, a->x + (size_t)a->rows[r] * H,
               H * sizeof *xg);
        lab[r] = labels[a->rows[r]];
    }
    op_linear(pre, xg, p->hd_w, p->hd_b, R, H, E);
    /* The generator head uses the exact GELU whatever hidden_act is. */
    par_activate(act, pre, RE, T5E_ACT_GELU);
    par_layernorm(nrm, act, p->hln_w, p->hln_b, R, E, c->layer_norm_eps);
    op_linear(logits, nrm, p->hout_w, p->hout_b, R, E, V);

    /* samples (no gradient), the loss and d logits, rows in parallel */
    uint64_t base = rng ? rng_next(rng) : 0;
    double sum = 0;
#pragma omp parallel for schedule(dynamic, 4)
    for (int r = 0; r < R; r++) {
        int32_t *dst = rng ? &sampled[a->rows[r]] : NULL;
        row_loss[r] = mlm_row(logits + (size_t)r * V, V, lab[r], scale / R,
                              rng ? row_uniform(base, r) : -1.0, dst);
    }
    for (int r = 0; r < R; r++)
        sum += row_loss[r];
    *loss = sum / R;

    op_linear_backward(dn, G(g->hout_w), G(g->hout_b), logits, nrm,
                       p->hout_w, R, E, V);
    par_layernorm_backward(a, dn, G(g->hln_w), G(g->hln_b), dn, act,
                           p->hln_w, R, E, c->layer_norm_eps);
    par_activate_backward(dn, dn, pre, RE, T5E_ACT_GELU);
    op_linear_backward(dxg, G(g->hd_w), G(g->hd_b), dn, xg, p->hd_w, R, H,
                       E);
    for (int r = 0; r < R; r++)
        memcpy(a->dx + (size_t)a->rows[r] * H, dxg + (size_t)r * H,
               H * sizeof *dxg);
    return T5E_OK;
}

/* Regression (num_labels 1): MSE; z, dz [B]. */
static double mse(const float *z, const float *t, float *dz, int B,
                  float scale) {
    double loss = 0;
    for (int b = 0; b < B; b++) {
        double d = (double)z[b] - t[b];
        loss += d * d;
        dz[b] = (float)(2.0 * d * scale / B);
    }
    return loss / B;
}

double electra_cls_head(electra_net *n, int B, int S, const int32_t *labels,
                        const float *targets, float scale, float *logits) {
    const t5e_electra_config *c = &n->model.cfg;
    const electra_params *p = &n->model.p, *g = &n->grad;
    electra_acts *a = n->acts;
    int H = c->hidden_size, L = c->num_labels, cnt;
    /* [CLS] rows, pre, act [B, H] in dq, dk, dv; z, dz [B, L] */
    float *cls = a->dq, *pre = a->dk, *act = a->dv, *dact = a->da;
    float *z = a->hz, *dz = z + (size_t)B * L;
    /* ElectraClassificationHead: dropout before the dense layer and
     * before out_proj, classifier_dropout or else hidden_dropout_prob */
    float dp = !n->drop_on ? 0.0f
               : c->classifier_dropout >= 0.0f ? c->classifier_dropout
                                               : c->hidden_dropout_prob;
    uint64_t k_in = site_key(n, SITE_HEAD_IN);
    uint64_t k_act = site_key(n, SITE_HEAD_ACT);
    for (int b = 0; b < B; b++)
        memcpy(cls + (size_t)b * H, a->x + (size_t)b * S * H,
               H * sizeof *cls);
    par_dropout(cls, cls, (size_t)B * H, dp, k_in);
    op_linear(pre, cls, p->hd_w, p->hd_b, B, H, H);
    /* Exact GELU here too, not hidden_act (ElectraClassificationHead). */
    par_activate(act, pre, (size_t)B * H, T5E_ACT_GELU);
    par_dropout(act, act, (size_t)B * H, dp, k_act);
    op_linear(z, act, p->hout_w, p->hout_b, B, H, L);
    if (logits)
        memcpy(logits, z, (size_t)B * L * sizeof *z);

    double loss = L == 1 && targets
                      ? mse(z, targets, dz, B, scale)
                      : op_cross_entropy(dz, z, labels, B, L, -100, 0.0f,
                                         scale, &cnt);
    op_linear_backward(dact, G(g->hout_w), G(g->hout_b), dz, act, p->hout_w,
                       B, H, L);
    par_dropout(dact, dact, (size_t)B * H, dp, k_act);
    par_activate_backward(dact, dact, pre, (size_t)B * H, T5E_ACT_GELU);
    op_linear_backward(a->db, G(g->hd_w), G(g->hd_b), dact, cls, p->hd_w, B,
                       H, H);
    par_dropout(a->db, a->db, (size_t)B * H, dp, k_in);
    memset(a->dx, 0, (size_t)B * S * H * sizeof *a->dx);
    for (int b = 0; b < B; b++)
        memcpy(a->dx + (size_t)b * S * H, a->db + (size_t)b * H,
               H * sizeof *a->dx);
    return loss;
}

/* ------------------------------------------------------------------ */
/* A network that owns its parameters                                  */
/* ------------------------------------------------------------------ */

static t5e_status default_labels(t5e_electra *m, t5e_err *err) {
    int L = m->cfg.num_labels;
    m->labels = xcalloc((size_t)(L > 0 ? L : 1), sizeof *m->labels);
    if (!m->labels)
        return err_set(err, T5E_ERR_NOMEM, "electra: out of memory");
    for (int i = 0; i < L; i++) {
        char name[32];
        snprintf(name, sizeof name, "LABEL_%d", i);
        if (!(m->labels[i] = strdup(name)))
            return err_set(err, T5E_ERR_NOMEM, "electra: out of memory");
    }
    return T5E_OK;
}

t5e_status electra_trainable_init(electra_trainable *t,
                                  const t5e_electra_config *c,
                                  int regression, t5e_err *err) {
    memset(t, 0, sizeof *t);
    t->initializer_range = 0.02f;
    t5e_status s = electra_net_declare(&t->net, c, &t->ps, "", "", err);
    t->net.model.problem_regression = regression;
    if (!s)
        s = param_alloc(&t->ps, err);
    if (!s)
        s = electra_net_bind(&t->net, &t->ps, "", "", err);
    if (!s)
        s = default_labels(&t->net.model, err);
    if (s)
        electra_trainable_free(t);
    return s;
}

/* Takes over the label names of a loaded model. */
static void take_labels(t5e_electra *dst, t5e_electra *src) {
    for (int i = 0; dst->labels && i < dst->cfg.num_labels; i++)
        free(dst->labels[i]);
    free(dst->labels);
    dst->labels = src->labels;
    src->labels = NULL;
    src->cfg.num_labels = 0;
}

t5e_status electra_trainable_load(electra_trainable *t, const char *dir,
                                  t5e_err *err) {
    t5e_electra *m = NULL;
    memset(t, 0, sizeof *t);
    t5e_status s = t5e_electra_load(dir, NULL, &m, err);
    if (!s && m->cfg.head == T5E_ELECTRA_BASE)
        s = err_set(err, T5E_ERR_UNSUPPORTED, "%s: training needs a head "
                    "(discriminator, generator or classifier)", dir);
    if (!s)
        s = electra_trainable_init(t, &m->cfg, m->problem_regression, err);
    if (!s)
        s = param_load(&t->ps, &m->store, err);
    if (!s) {
        take_labels(&t->net.model, m);
        config_file cf;
        char path[4096];
        /* initializer_range matters only to save it back */
        path_join(path, sizeof path, dir, "config.json");
        if (!config_open(path, &cf, err)) {
            config_float(&cf, "initializer_range", 0.02,
                         &t->initializer_range, err);
            config_close(&cf);
        }
    }
    t5e_electra_free(m);
    if (s)
        electra_trainable_free(t);
    return s;
}

void electra_trainable_free(electra_trainable *t) {
    electra_net_free(&t->net);
    param_free(&t->ps);
    memset(t, 0, sizeof *t);
}

/* A standard normal from the generator (Box-Muller). */
static double normal01(rng_state *r) {
    double u1 = ((rng_next(r) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (rng_next(r) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void electra_init_params(param_set *ps, const char *pre, float sd,
                         int pad_id, rng_state *rng) {
    size_t np = strlen(pre);
    for (int i = 0; i < ps->n; i++) {
        const param *p = &ps->p[i];
        float *w = param_data(ps, i);
        if (strncmp(p->name, pre, np))
            continue;
        if (strstr(p->name, "LayerNorm") || ends_with(p->name, ".bias")) {
            float v = strstr(p->name, "LayerNorm.weight") ? 1.0f : 0.0f;
            for (size_t k = 0; k < p->numel; k++)
                w[k] = v;
            continue;
        }
        for (size_t k = 0; k < p->numel; k++)
            w[k] = (float)(sd * normal01(rng));
        /* nn.Embedding with padding_idx: _init_weights zeroes that row */
        if (ends_with(p->name, "word_embeddings.weight"))
            memset(w + (size_t)pad_id * p->shape[1], 0,
                   (size_t)p->shape[1] * sizeof *w);
    }
}

void electra_trainable_init_random(electra_trainable *t, uint64_t seed) {
    rng_state r;
    rng_seed(&r, seed);
    electra_init_params(&t->ps, "", t->initializer_range,
                        t->net.model.cfg.pad_token_id, &r);
}

t5e_status electra_trainable_step(electra_trainable *t, int B, int S,
                                  const int32_t *ids, const int32_t *types,
                                  const int32_t *mask, const int32_t *labels,
                                  const float *targets, float scale,
                                  double *loss, t5e_err *err) {
    electra_net *n = &t->net;
    const t5e_electra_config *c = &n->model.cfg;
    int cnt, regress = c->num_labels == 1 && c->head ==
                                                 T5E_ELECTRA_CLASSIFIER;
    if (regress ? !targets : !labels)
        return err_set(err, T5E_ERR_ARG, "electra: no %s for the step",
                       regress ? "regression targets" : "labels");
    t5e_status s = electra_net_prepare(n, B, S, ids, types, mask, err);
    if (!s && c->head == T5E_ELECTRA_DISCRIMINATOR)
        s = check_range(labels, (long)B * S, 2, "labels", err);
    for (int b = 0; !s && !regress && c->head == T5E_ELECTRA_CLASSIFIER &&
                    b < B; b++)
        if (labels[b] != -100 && (labels[b] < 0 || labels[b] >= c->num_labels))
            s = err_set(err, T5E_ERR_ARG, "electra: label %d of item %d is "
                        "not a class id (num_labels %d)", labels[b], b,
                        c->num_labels);
    if (s)
        return s;
    electra_net_forward(n, B, S, ids, types, mask);
    switch (c->head) {
    case T5E_ELECTRA_DISCRIMINATOR:
        *loss = electra_disc_head(n, B, S, labels, mask, scale, NULL, NULL);
        break;
    case T5E_ELECTRA_GENERATOR:
        s = electra_mlm_head(n, B, S, labels, scale, NULL, NULL, loss, &cnt,
                             err);
        if (s)
            return s;
        break;
    case T5E_ELECTRA_CLASSIFIER:
        *loss = electra_cls_head(n, B, S, labels, targets, scale, NULL);
        break;
    case T5E_ELECTRA_BASE:
        return err_set(err, T5E_ERR_ARG, "electra: no head to train");
    }
    electra_net_backward(n, B, S, ids, types, mask);
    return T5E_OK;
}

/* ------------------------------------------------------------------ */
/* Saving                                                              */
/* ------------------------------------------------------------------ */

const char *op_activation_name(t5e_activation act); /* t5_save.c */

static const char *arch_name(t5e_electra_head h) {
    switch (h) {
    case T5E_ELECTRA_DISCRIMINATOR: return "ElectraForPreTraining";
    case T5E_ELECTRA_GENERATOR: return "ElectraForMaskedLM";
    case T5E_ELECTRA_CLASSIFIER: return "ElectraForSequenceClassification";
    case T5E_ELECTRA_BASE: break;
    }
    return "ElectraModel";
}

static void add_labels(cJSON *o, int L, char *const *labels) {
    cJSON *id2 = cJSON_AddObjectToObject(o, "id2label");
    cJSON *l2id = cJSON_CreateObject();
    for (int i = 0; i < L; i++) {
        char key[32], def[32];
        snprintf(key, sizeof key, "%d", i);
        snprintf(def, sizeof def, "LABEL_%d", i);
        const char *name = labels && labels[i] ? labels[i] : def;
        cJSON_AddStringToObject(id2, key, name);
        cJSON_AddNumberToObject(l2id, name, i);
    }
    cJSON_AddItemToObject(o, "label2id", l2id);
}

/* A float32 value written with the digits that read back as it (0.1,
 * not 0.10000000149). */
static void add_float(cJSON *o, const char *key, float v) {
    char num[32];
    snprintf(num, sizeof num, "%.7g", (double)v);
    cJSON_AddRawToObject(o, key, num);
}

/* Sorted keys, as the reference writes them. */
static char *config_json(const t5e_electra_config *c, float range,
                         int regression, char *const *labels) {
    char num[32];
    cJSON *o = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString(arch_name(c->head)));
    add_float(o, "attention_probs_dropout_prob",
              c->attention_probs_dropout_prob);
    if (c->classifier_dropout < 0.0f)
        cJSON_AddNullToObject(o, "classifier_dropout");
    else
        add_float(o, "classifier_dropout", c->classifier_dropout);
    cJSON_AddNumberToObject(o, "embedding_size", c->embedding_size);
    cJSON_AddStringToObject(o, "hidden_act",
                            op_activation_name(c->hidden_act));
    add_float(o, "hidden_dropout_prob", c->hidden_dropout_prob);
    cJSON_AddNumberToObject(o, "hidden_size", c->hidden_size);
    if (c->head == T5E_ELECTRA_CLASSIFIER)
        add_labels(o, c->num_labels, labels);
    snprintf(num, sizeof num, "%.7g", (double)range);
    cJSON_AddRawToObject(o, "initializer_range", num);
    cJSON_AddNumberToObject(o, "intermediate_size", c->intermediate_size);
    snprintf(num, sizeof num, "%.7g", (double)c->layer_norm_eps);
    cJSON_AddRawToObject(o, "layer_norm_eps", num);
    cJSON_AddNumberToObject(o, "max_position_embeddings",
                            c->max_position_embeddings);
    cJSON_AddStringToObject(o, "model_type", "electra");
    cJSON_AddNumberToObject(o, "num_attention_heads",
                            c->num_attention_heads);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->num_hidden_layers);
    cJSON_AddNumberToObject(o, "pad_token_id", c->pad_token_id);
    cJSON_AddStringToObject(o, "position_embedding_type",
                            electra_position_name(c->position_embedding_type));
    if (regression)
        cJSON_AddStringToObject(o, "problem_type", "regression");
    cJSON_AddStringToObject(o, "summary_activation", "gelu");
    cJSON_AddNumberToObject(o, "summary_last_dropout", 0.1);
    cJSON_AddStringToObject(o, "summary_type", "first");
    cJSON_AddBoolToObject(o, "summary_use_proj", 1);
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    cJSON_AddStringToObject(o, "transformers_version", "4.36.2");
    cJSON_AddNumberToObject(o, "type_vocab_size", c->type_vocab_size);
    cJSON_AddBoolToObject(o, "use_cache", 1);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

t5e_status electra_write_config(const char *dir, const t5e_electra_config *c,
                                float initializer_range, int regression,
                                char *const *labels, t5e_err *err) {
    char path[4096];
    if (!path_join(path, sizeof path, dir, "config.json"))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", dir);
    char *json = config_json(c, initializer_range, regression, labels);
    if (!json)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    t5e_status s = write_text_file(path, json, err);
    free(json);
    return s;
}

/* Whether ps name `name` goes into the file, and under which name. */
static const char *saved_name(const char *name, const char *pre,
                              const char *emb_pre, char *buf, size_t n) {
    const char *emb = "electra.embeddings.";
    size_t np = strlen(pre);
    if (emb_pre && strcmp(emb_pre, pre)) {
        size_t ne = strlen(emb_pre);
        if (!strncmp(name, emb_pre, ne) &&
            !strncmp(name + ne, emb, strlen(emb))) {
            snprintf(buf, n, "%s", name + ne);
            return buf;
        }
    }
    return strncmp(name, pre, np) ? NULL : name + np;
}

t5e_status electra_write_weights(const char *dir, const param_set *ps,
                                 const char *pre, const char *emb_pre,
                                 t5e_err *err) {
    char path[4096];
    if (!path_join(path, sizeof path, dir, "model.safetensors"))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", dir);
    st_item *all = param_items(ps, 0);
    char (*names)[256] = xcalloc((size_t)ps->n + 1, sizeof *names);
    if (!all || !names) {
        free(all);
        free(names);
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    }
    int k = 0;
    for (int i = 0; i < ps->n; i++) {
        const char *nm = saved_name(ps->p[i].name, pre, emb_pre, names[i],
                                    sizeof names[i]);
        if (!nm)
            continue;
        all[k] = all[i];
        all[k++].name = nm;
    }
    t5e_status s = st_write(path, all, k, err);
    free(all);
    free(names);
    return s;
}

t5e_status electra_trainable_save(const electra_trainable *t,
                                  const char *dir, t5e_err *err) {
    const t5e_electra *m = &t->net.model;
    t5e_status s = electra_write_config(dir, &m->cfg, t->initializer_range,
                                        m->problem_regression, m->labels,
                                        err);
    return s ? s : electra_write_weights(dir, &t->ps, "", NULL, err);
}

/*
 * The j-th pinned head's distance i - j: +1 (the previous token), -1
 * (the next), +2, -2, ...; a single head takes both neighbours.
 */
static int local_head_distance(int j) {
    return (j % 2 ? -1 : 1) * (j / 2 + 1);
}

void electra_init_local_attention(param_set *ps, const char *pre,
                                  const t5e_electra_config *c,
                                  float strength, int heads) {
    int NH = c->num_attention_heads, HD = c->hidden_size / NH;
    int K = heads > 0 && heads < NH ? heads : NH;
    long P = c->max_position_embeddings;
    /* bias . row = strength * sqrt(HD): after the 1/sqrt(HD) scaling the
     * preferred key's score is `strength` above the others' */
    float amp = sqrtf(strength * sqrtf((float)HD));
    char name[160];
    for (int l = 0; l < c->num_hidden_layers; l++) {
        snprintf(name, sizeof name,
                 "%selectra.encoder.layer.%d.attention.self.query.bias",
                 pre, l);
        int qi = param_find(ps, name);
        snprintf(name, sizeof name, "%selectra.encoder.layer.%d.attention."
                 "self.distance_embedding.weight", pre, l);
        int ri = param_find(ps, name);
        if (qi < 0 || ri < 0)
            continue;
        float *qb = param_data(ps, qi), *rel = param_data(ps, ri);
        for (int h = 0; h < K && h < HD; h++) {
            /* head h owns coordinate h of the shared distance rows; with
             * some heads left free, the pinned ones alternate between
             * the previous and the next token from layer to layer */
            qb[(size_t)h * HD + h] = amp;
            int d = local_head_distance(K < NH ? (l * K + h) % 2 : h);
            rel[(size_t)(d + P - 1) * HD + h] = amp;
            if (NH == 1)
                rel[(size_t)(-d + P - 1) * HD + h] = amp;
        }
    }
}

/*
 * electra.h - the ELECTRA model inside the library: parameters, the
 * forward pass as separate steps over caller-owned buffers, and a traced
 * forward for tests.
 *
 * Dimension names:
 *   B batch, S sequence length, E embedding size, H hidden size,
 *   NH attention heads, HD head size (H / NH), F feed-forward size
 *   (intermediate_size), V vocabulary size, P max positions,
 *   TV type vocabulary size, L number of labels, NL number of layers.
 *
 * The steps (electra_embed, electra_layer_forward, the heads) keep every
 * intermediate they compute in the buffers they are given, so training can
 * keep one electra_layer_acts per layer for the backward pass while
 * inference reuses one set for all layers.
 */
#ifndef T5E_ELECTRA_H
#define T5E_ELECTRA_H

#include "io/config.h"
#include "io/weights.h"
#include "ops/wmat.h"

/* One post-LN BERT layer; all pointers into the weight store.  The dense
 * weights are wmat (float32, or F16 / BF16 / int8 for inference: see
 * t5e_load_options); biases and norms are float32. */
typedef struct {
    wmat q_w; const float *q_b;   /* [H, H], [H] */
    wmat k_w; const float *k_b;   /* [H, H], [H] */
    wmat v_w; const float *v_b;   /* [H, H], [H] */
    wmat ao_w; const float *ao_b; /* attention output dense [H, H], [H] */
    const float *aln_w, *aln_b;   /* attention LayerNorm [H], [H] */
    wmat ff1_w; const float *ff1_b; /* intermediate dense [F, H], [F] */
    wmat ff2_w; const float *ff2_b; /* output dense [H, F], [H] */
    const float *fln_w, *fln_b;   /* output LayerNorm [H], [H] */
    /* relative position types only: distance table [2P - 1, HD], row
     * d + P - 1 for query position minus key position d; else NULL */
    const float *rel;
    /* q, k and v stacked into one [3H, H] product: an owned copy made at
     * load, which the forward then uses.  A training net's view of its
     * parameters has none (qkv_mem NULL) and runs the three products. */
    wmat qkv_w; const float *qkv_b; /* [3H, H], [3H] */
    void *qkv_mem;
    /* Float32 layers on a build with the packed kernel: qkv, ao, ff1 and
     * ff2 rearranged once for it (see ops/gemm_packed.h), owned here;
     * the wmats' `packed` point into it.  NULL otherwise. */
    float *pack_mem;
} electra_layer;

typedef struct {
    const float *word;            /* [V, E] */
    const float *pos;             /* [P, E] */
    const float *type;            /* [TV, E] */
    const float *eln_w, *eln_b;   /* embedding LayerNorm [E], [E] */
    const float *proj_w, *proj_b; /* [H, E], [H]; NULL when E == H */
    electra_layer *layers;        /* [NL] */

    /* Heads; only those of the loaded head are set.
     * discriminator: dense [H, H], pred [1, H]
     * generator:     dense [E, H], LayerNorm [E], out bias [V]
     *                (the output weight is `word`)
     * classifier:    dense [H, H], out_proj [L, H] */
    const float *hd_w, *hd_b;
    const float *hln_w, *hln_b;
    const float *hout_w, *hout_b;
} electra_params;

/* What one layer keeps: every buffer [B, S, H] unless noted. */
typedef struct {
    float *qkv;        /* [B, S, 3H] projections, q, k, v side by side
                          in each row; without a stacked product, three
                          [B, S, H] blocks */
    float *ctx;        /* attention output before the output dense */
    float *h1;         /* after attention residual + LayerNorm */
    float *ff;         /* [B, S, F] intermediate, after hidden_act */
    float *tmp;        /* dense outputs before their residual */
} electra_layer_acts;

struct t5e_electra {
    t5e_electra_config cfg;
    int problem_regression; /* classifier: problem_type "regression" */
    int n_threads;          /* 0: leave the thread count alone */
    t5e_dtype dtype;        /* dense weights (t5e_load_options.dtype) */
    weights store;
    electra_params p;
    char **labels;          /* [L] label names */

    /* Per-call workspace, grown to the largest B * S seen. */
    float *ws;
    size_t ws_len;
};

/*
 * Embeddings: ids, types [B, S] -> emb [B, S, E] after the LayerNorm,
 * then x [B, S, H] after the projection (x may equal emb when E == H).
 */
void electra_embed(const t5e_electra *m, int B, int S, const int32_t *ids,
                   const int32_t *types, float *emb, float *x);

/*
 * One layer over x [B, S, H] in place; mask [B, S] (NULL: no padding).
 * scratch holds electra_attn_scratch(&m->cfg, S) floats.
 */
void electra_layer_forward(const t5e_electra *m, const electra_layer *l,
                           int B, int S, const int32_t *mask, float *x,
                           const electra_layer_acts *a, float *scratch);
size_t electra_attn_scratch(const t5e_electra_config *c, int S);

/* Heads over the final x [B, S, H]; work buffers as documented. */
/* -> logits [B, S]; work [B, S, H] */
void electra_head_detect(const t5e_electra *m, int B, int S,
                         const float *x, float *work, float *logits);
/* -> logits [B, S, V]; work [B, S, E] */
void electra_head_mlm(const t5e_electra *m, int B, int S, const float *x,
                      float *work, float *logits);
/* -> logits [B, L]; work [2, B, H] */
void electra_head_classify(const t5e_electra *m, int B, int S,
                           const float *x, float *work, float *logits);

/*
 * The encoder with its intermediates exposed: emb [B, S, E] (may be NULL)
 * gets the embedding output, hs[0..NL] (may be NULL) each [B, S, H] the
 * input of the first layer and the output of every layer.
 */
t5e_status electra_forward_trace(t5e_electra *m, int B, int S,
                                 const int32_t *ids, const int32_t *types,
                                 const int32_t *mask, float *emb,
                                 float *const *hs, t5e_err *err);

/* Reference attention through op_attention, for tests of the fast one:
 * q, k, v [B, S, H] -> ctx [B, S, H]; rel is the layer's distance table
 * (NULL for absolute positions). */
void electra_attention_ref(const t5e_electra *m, int B, int S,
                           const int32_t *mask, const float *q,
                           const float *k, const float *v, const float *rel,
                           float *ctx);
void electra_attention(const t5e_electra *m, int B, int S,
                       const int32_t *mask, const float *q, const float *k,
                       const float *v, const float *rel, float *ctx,
                       float *scratch);
/* The same with q, k, v rows ld floats apart (3H for the fused layout). */
void electra_attention_ld(const t5e_electra *m, int B, int S,
                          const int32_t *mask, const float *q,
                          const float *k, const float *v, const float *rel,
                          int ld, float *ctx, float *scratch);

/*
 * Relative position scores of one (batch item, head), for
 * position_embedding_type relative_key (with_key 0) and
 * relative_key_query (1): sc [S, S] += scale * (q_i . e(i - j) + with_key
 * * k_j . e(i - j)), e(d) row d + P - 1 of rel [2P - 1, HD]; q and k rows
 * ld floats apart; w is scratch [S, 2S - 1].  Needs S <= P.
 */
void electra_rel_scores(float *sc, const float *q, const float *k, int ld,
                        const float *rel, int P, int S, int HD, int with_key,
                        float scale, float *w);
/* The per-thread scratch of electra_rel_scores, in floats. */
size_t electra_rel_scratch(int S);

/* position_embedding_type names <-> values; from_name returns 0 for an
 * unknown name. */
int electra_position_from_name(const char *name, t5e_position_embedding *out);
const char *electra_position_name(t5e_position_embedding t);

/* The size keys of an ELECTRA config.json, with the reference's
 * defaults, checked (hidden_size a multiple of the head count). */
t5e_status electra_read_sizes(const config_file *cf,
                              t5e_electra_config *c, t5e_err *err);

#endif

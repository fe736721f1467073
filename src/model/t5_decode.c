/*
 * t5_decode.c - one decoder step at a time with a key/value cache.
 *
 * Self-attention keys and values of past steps are kept per row; cross-
 * attention keys and values depend only on the encoder output, so they are
 * computed once per encoder item and shared by all rows (beams) of it.
 */
#include <stdlib.h>
#include <string.h>

#include "model/t5.h"
#include "ops/ops.h"

void t5_decode_free(t5_decode_state *st) {
    free(st->enc_row);
    free(st->self_k);
    free(st->self_v);
    free(st->cross_k);
    free(st->cross_v);
    free(st->scratch_k);
    free(st->x);
    free(st->h);
    free(st->q);
    free(st->k);
    free(st->v);
    free(st->att);
    free(st->ff0);
    free(st->ff1);
    free(st->bias);
    memset(st, 0, sizeof *st);
}

static t5e_status alloc_state(const t5e_t5 *m, t5_decode_state *st,
                              t5e_err *err) {
    const t5e_t5_config *c = &m->cfg;
    size_t L = (size_t)c->num_decoder_layers, N = (size_t)st->N;
    size_t HD = (size_t)c->num_heads * c->d_kv, T = (size_t)st->max_T;
    size_t BS = (size_t)st->B * st->S;
    st->enc_row = xcalloc(N, sizeof *st->enc_row);
    st->self_k = xmalloc_array(L * N * T * HD, sizeof(float));
    st->self_v = xmalloc_array(L * N * T * HD, sizeof(float));
    st->cross_k = xmalloc_array(L * BS * HD, sizeof(float));
    st->cross_v = xmalloc_array(L * BS * HD, sizeof(float));
    st->scratch_k = xmalloc_array(N * T * HD, sizeof(float));
    st->x = xmalloc_array(N * c->d_model, sizeof(float));
    st->h = xmalloc_array(N * c->d_model, sizeof(float));
    st->q = xmalloc_array(N * HD, sizeof(float));
    st->k = xmalloc_array(N * HD, sizeof(float));
    st->v = xmalloc_array(N * HD, sizeof(float));
    st->att = xmalloc_array(N * HD, sizeof(float));
    st->ff0 = xmalloc_array(N * c->d_ff, sizeof(float));
    st->ff1 = xmalloc_array(N * c->d_ff, sizeof(float));
    st->bias = xmalloc_array((size_t)c->num_heads * T, sizeof(float));
    if (!st->enc_row || !st->self_k || !st->self_v || !st->cross_k ||
        !st->cross_v || !st->scratch_k || !st->x || !st->h || !st->q ||
        !st->k || !st->v || !st->att || !st->ff0 || !st->ff1 || !st->bias)
        return err_set(err, T5E_ERR_NOMEM, "out of memory for a decoding "
                       "cache of %zu rows x %zu steps", N, T);
    return T5E_OK;
}

t5e_status t5_decode_init(t5e_t5 *m, t5_decode_state *st, int B, int S,
                          const float *enc, const int32_t *enc_mask, int N,
                          const int *enc_row, int max_T, t5e_err *err) {
    const t5e_t5_config *c = &m->cfg;
    memset(st, 0, sizeof *st);
    st->N = N;
    st->max_T = max_T;
    st->B = B;
    st->S = S;
    st->enc_mask = enc_mask;
    t5e_status s = alloc_state(m, st, err);
    if (s) {
        t5_decode_free(st);
        return s;
    }
    memcpy(st->enc_row, enc_row, (size_t)N * sizeof *enc_row);
    size_t HD = (size_t)c->num_heads * c->d_kv, BS = (size_t)B * S;
    for (int l = 0; l < c->num_decoder_layers; l++) {
        const t5_attn_weights *a = &m->dec[l].cross;
        wmat_linear(st->cross_k + l * BS * HD, enc, &a->k, NULL, (int)BS, 0);
        wmat_linear(st->cross_v + l * BS * HD, enc, &a->v, NULL, (int)BS, 0);
    }
    return T5E_OK;
}

/* The new query (position t) against the cached keys 0..t of each row. */
static void self_attention_step(t5e_t5 *m, t5_decode_state *st, int l) {
    const t5e_t5_config *c = &m->cfg;
    const t5_block *b = &m->dec[l];
    int D = c->d_model, HD = c->num_heads * c->d_kv, N = st->N, t = st->t;
    size_t row = (size_t)st->max_T * HD;
    float *K = st->self_k + (size_t)l * N * row;
    float *V = st->self_v + (size_t)l * N * row;
    op_rmsnorm(st->h, st->x, b->ln_self, N, D, c->layer_norm_epsilon);
    const wmat_job qkv[3] = {{st->q, st->h, &b->self.q},
                             {st->k, st->h, &b->self.k},
                             {st->v, st->h, &b->self.v}};
    wmat_linear_jobs(qkv, 3, N);
    for (int r = 0; r < N; r++) {
        memcpy(K + r * row + (size_t)t * HD, st->k + (size_t)r * HD,
               HD * sizeof(float));
        memcpy(V + r * row + (size_t)t * HD, st->v + (size_t)r * HD,
               HD * sizeof(float));
    }
    attn_shape as = {
        .Tq = 1, .Tk = t + 1, .H = c->num_heads, .dk = c->d_kv,
        .q_stride = HD, .kv_stride = HD, .o_stride = HD, .scale = 1.0f,
        .bias = st->bias, .bias_h = t + 1, .bias_q = 0,
    };
    for (int r = 0; r < N; r++)
        op_attention(st->att + (size_t)r * HD, st->q + (size_t)r * HD,
                     K + r * row, V + r * row, &as);
    wmat_linear(st->x, st->att, &b->self.o, NULL, N, 1);
}

static void cross_attention_step(t5e_t5 *m, t5_decode_state *st, int l) {
    const t5e_t5_config *c = &m->cfg;
    const t5_block *b = &m->dec[l];
    int D = c->d_model, HD = c->num_heads * c->d_kv, N = st->N, S = st->S;
    size_t BS = (size_t)st->B * S;
    const float *K = st->cross_k + l * BS * HD;
    const float *V = st->cross_v + l * BS * HD;
    op_rmsnorm(st->h, st->x, b->ln_cross, N, D, c->layer_norm_epsilon);
    wmat_linear(st->q, st->h, &b->cross.q, NULL, N, 0);
    attn_shape as = {
        .Tq = 1, .Tk = S, .H = c->num_heads, .dk = c->d_kv,
        .q_stride = HD, .kv_stride = HD, .o_stride = HD, .scale = 1.0f,
    };
    for (int r = 0; r < N; r++) {
        size_t e = (size_t)st->enc_row[r];
        as.key_mask = st->enc_mask ? st->enc_mask + e * S : NULL;
        op_attention(st->att + (size_t)r * HD, st->q + (size_t)r * HD,
                     K + e * S * HD, V + e * S * HD, &as);
    }
    wmat_linear(st->x, st->att, &b->cross.o, NULL, N, 1);
}

void t5_decode_step(t5e_t5 *m, t5_decode_state *st, const int32_t *tokens,
                    float *logits) {
    const t5e_t5_config *c = &m->cfg;
    int D = c->d_model, N = st->N;
    t5e_apply_threads(m->n_threads);
    for (int r = 0; r < N; r++)
        wmat_row(st->x + (size_t)r * D, &m->embed, tokens[r]);
    /* the bias row of query position t against keys 0..t */
    if (c->num_decoder_layers)
        t5_position_bias(m, 1, 1, st->t, st->t + 1, st->bias);
    for (int l = 0; l < c->num_decoder_layers; l++) {
        self_attention_step(m, st, l);
        cross_attention_step(m, st, l);
        t5_feed_forward(m, &m->dec[l], st->x, st->h, st->ff0, st->ff1, N);
    }
    op_rmsnorm(st->x, st->x, m->dec_final_ln, N, D, c->layer_norm_epsilon);
    t5_lm_head(m, st->x, N, logits);
    st->t++;
}

/* Gathers rows of one cache array [N, max_T, HD] by src, steps 0..t-1. */
static void reorder_rows(float *cache, float *scratch, const int *src,
                         int N, size_t row, size_t used) {
    for (int r = 0; r < N; r++)
        memcpy(scratch + r * row, cache + (size_t)src[r] * row,
               used * sizeof(float));
    for (int r = 0; r < N; r++)
        memcpy(cache + r * row, scratch + r * row, used * sizeof(float));
}

void t5_decode_reorder(t5e_t5 *m, t5_decode_state *st, const int *src) {
    const t5e_t5_config *c = &m->cfg;
    size_t HD = (size_t)c->num_heads * c->d_kv, row = st->max_T * HD;
    size_t used = (size_t)st->t * HD, N = (size_t)st->N;
    for (int l = 0; l < c->num_decoder_layers; l++) {
        reorder_rows(st->self_k + l * N * row, st->scratch_k, src, st->N,
                     row, used);
        reorder_rows(st->self_v + l * N * row, st->scratch_k, src, st->N,
                     row, used);
    }
}

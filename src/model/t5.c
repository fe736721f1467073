/* t5.c - the T5 encoder and the teacher-forced decoder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/t5.h"
#include "ops/ops.h"

int t5_relative_bucket(int rel, int bidirectional, int num_buckets,
                       int max_distance) {
    int bucket = 0, n;
    if (bidirectional) {
        num_buckets /= 2;
        if (rel > 0)
            bucket += num_buckets;
        n = rel < 0 ? -rel : rel;
    } else {
        n = rel < 0 ? -rel : 0;
    }
    int max_exact = num_buckets / 2;
    if (n < max_exact)
        return bucket + n;
    /* float32 throughout and truncation toward zero, as the reference */
    float r = logf((float)n / (float)max_exact);
    r = r / (float)log((double)max_distance / max_exact);
    r = r * (float)(num_buckets - max_exact);
    long large = max_exact + (long)r;
    if (large > num_buckets - 1)
        large = num_buckets - 1;
    return bucket + (int)large;
}

void t5_position_bias(const t5e_t5 *m, int decoder, int Tq, int q0, int Tk,
                      float *bias) {
    const t5e_t5_config *c = &m->cfg;
    const float *table = decoder ? m->dec_rel_bias : m->enc_rel_bias;
    int H = c->num_heads;
    for (int i = 0; i < Tq; i++)
        for (int j = 0; j < Tk; j++) {
            int b = t5_relative_bucket(j - (q0 + i), !decoder,
                                       c->relative_attention_num_buckets,
                                       c->relative_attention_max_distance);
            for (int h = 0; h < H; h++)
                bias[((size_t)h * Tq + i) * Tk + j] = table[b * H + h];
        }
}

t5e_status t5_check_ids(const t5e_t5 *m, const char *what, int B, int T,
                        const int32_t *ids, t5e_err *err) {
    if (B <= 0 || T <= 0 || T > T5_MAX_LEN)
        return err_set(err, T5E_ERR_ARG, "%s: shape [%d, %d] is out of "
                       "range (batch >= 1, 1 <= length <= %d)", what, B, T,
                       T5_MAX_LEN);
    for (long i = 0; i < (long)B * T; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size)
            return err_set(err, T5E_ERR_ARG, "%s: token id %d at [%ld, %ld] "
                           "is outside the vocabulary [0, %d)", what, ids[i],
                           i / T, i % T, m->cfg.vocab_size);
    return T5E_OK;
}

/* Buffers of one forward pass over M = B * T rows. */
typedef struct {
    float *h, *q, *k, *v, *att, *ff0, *ff1, *bias;
} t5_work;

static void work_free(t5_work *w) {
    free(w->h);
    free(w->q);
    free(w->k);
    free(w->v);
    free(w->att);
    free(w->ff0);
    free(w->ff1);
    free(w->bias);
}

/* Tq queries against Tk keys, M rows of queries and Mk rows of keys. */
static t5e_status work_alloc(const t5e_t5 *m, t5_work *w, size_t M,
                             size_t Mk, size_t Tq, size_t Tk, t5e_err *err) {
    const t5e_t5_config *c = &m->cfg;
    size_t HD = (size_t)c->num_heads * c->d_kv, Mkv = M > Mk ? M : Mk;
    memset(w, 0, sizeof *w);
    w->h = xmalloc_array(Mkv * c->d_model, sizeof(float));
    w->q = xmalloc_array(M * HD, sizeof(float));
    w->k = xmalloc_array(Mkv * HD, sizeof(float));
    w->v = xmalloc_array(Mkv * HD, sizeof(float));
    w->att = xmalloc_array(M * HD, sizeof(float));
    w->ff0 = xmalloc_array(M * c->d_ff, sizeof(float));
    w->ff1 = xmalloc_array(M * c->d_ff, sizeof(float));
    w->bias = xmalloc_array((size_t)c->num_heads * Tq * Tk, sizeof(float));
    if (!w->h || !w->q || !w->k || !w->v || !w->att || !w->ff0 ||
        !w->ff1 || !w->bias) {
        work_free(w);
        return err_set(err, T5E_ERR_NOMEM, "out of memory for a batch of "
                       "%zu x %zu tokens", M, Mk);
    }
    return T5E_OK;
}

/* x[M, D] += FF(rmsnorm(x)): ReLU-style or gated, as configured. */
void t5_feed_forward(const t5e_t5 *m, const t5_block *b, float *x,
                     float *h, float *ff0, float *ff1, int M) {
    const t5e_t5_config *c = &m->cfg;
    int D = c->d_model, F = c->d_ff;
    op_rmsnorm(h, x, b->ln_ff, M, D, c->layer_norm_epsilon);
    if (c->is_gated_act) {
        const wmat_job gate[2] = {{ff0, h, &b->wi_0}, {ff1, h, &b->wi_1}};
        wmat_linear_jobs(gate, 2, M);
        op_activate(ff0, (size_t)M * F, c->dense_act);
        op_mul(ff0, ff1, (size_t)M * F);
    } else {
        wmat_linear(ff0, h, &b->wi, NULL, M, 0);
        op_activate(ff0, (size_t)M * F, c->dense_act);
    }
    wmat_linear(x, ff0, &b->wo, NULL, M, 1);
}

/*
 * x[B*Tq, D] += Attention(rmsnorm(x), kv) o^T.  kv_src [B*Tk, D] is the
 * encoder output for cross-attention, or NULL for self-attention.
 * T5 does not scale scores by 1/sqrt(DK): that is folded into its init.
 */
static void attention_layer(const t5e_t5 *m, const t5_attn_weights *a,
                            const float *ln, float *x, const float *kv_src,
                            int B, int Tq, int Tk, const int32_t *key_mask,
                            const float *bias, int causal, t5_work *w) {
    const t5e_t5_config *c = &m->cfg;
    int D = c->d_model, HD = c->num_heads * c->d_kv;
    int Mq = B * Tq, Mk = B * Tk;
    op_rmsnorm(w->h, x, ln, Mq, D, c->layer_norm_epsilon);
    wmat_linear(w->q, w->h, &a->q, NULL, Mq, 0);
    const float *src = kv_src ? kv_src : w->h;
    wmat_linear(w->k, src, &a->k, NULL, Mk, 0);
    wmat_linear(w->v, src, &a->v, NULL, Mk, 0);
    attn_shape as = {
        .Tq = Tq, .Tk = Tk, .H = c->num_heads, .dk = c->d_kv,
        .q_stride = HD, .kv_stride = HD, .o_stride = HD, .scale = 1.0f,
        .bias = bias, .bias_h = (long)Tq * Tk, .bias_q = Tk,
        .causal = causal, .q_pos0 = 0,
    };
    for (int b = 0; b < B; b++) {
        as.key_mask = key_mask ? key_mask + (size_t)b * Tk : NULL;
        op_attention(w->att + (size_t)b * Tq * HD, w->q + (size_t)b * Tq * HD,
                     w->k + (size_t)b * Tk * HD, w->v + (size_t)b * Tk * HD,
                     &as);
    }
    wmat_linear(x, w->att, &a->o, NULL, Mq, 1);
}

static void embed_tokens(const t5e_t5 *m, const int32_t *ids, size_t M,
                         float *x) {
    size_t D = (size_t)m->cfg.d_model;
    for (size_t i = 0; i < M; i++)
        wmat_row(x + i * D, &m->embed, ids[i]);
}

t5e_status t5_encoder_forward(t5e_t5 *m, int B, int S, const int32_t *ids,
                              const int32_t *mask, float *hidden,
                              float *states, t5e_err *err) {
    const t5e_t5_config *c = &m->cfg;
    size_t M = (size_t)B * S, D = (size_t)c->d_model;
    t5_work w;
    t5e_status s = t5_check_ids(m, "encoder input", B, S, ids, err);
    if (s || (s = work_alloc(m, &w, M, M, S, S, err)))
        return s;
    t5e_apply_threads(m->n_threads);
    if (c->num_layers)
        t5_position_bias(m, 0, S, 0, S, w.bias);
    float *x = hidden; /* the residual stream lives in the output */
    embed_tokens(m, ids, M, x);
    for (int l = 0; l < c->num_layers; l++) {
        if (states)
            memcpy(states + l * M * D, x, M * D * sizeof *x);
        const t5_block *b = &m->enc[l];
        attention_layer(m, &b->self, b->ln_self, x, NULL, B, S, S, mask,
                        w.bias, 0, &w);
        t5_feed_forward(m, b, x, w.h, w.ff0, w.ff1, (int)M);
    }
    op_rmsnorm(x, x, m->enc_final_ln, (int)M, (int)D, c->layer_norm_epsilon);
    if (states)
        memcpy(states + c->num_layers * M * D, x, M * D * sizeof *x);
    work_free(&w);
    return T5E_OK;
}

/* The tied head's d_model^-0.5 (in place on x), then the vocabulary. */
void t5_lm_head(const t5e_t5 *m, float *x, int M, float *logits) {
    const t5e_t5_config *c = &m->cfg;
    int D = c->d_model;
    if (c->tie_word_embeddings) {
        float scale = (float)(1.0 / sqrt((double)D));
        for (size_t i = 0; i < (size_t)M * D; i++)
            x[i] *= scale;
    }
    wmat_linear(logits, x, &m->lm_head, NULL, M, 0);
}

t5e_status t5_decoder_forward(t5e_t5 *m, int B, int S, const float *enc,
                              const int32_t *enc_mask, int T,
                              const int32_t *dec_ids, float *logits,
                              float *states, t5e_err *err) {
    const t5e_t5_config *c = &m->cfg;
    size_t M = (size_t)B * T, D = (size_t)c->d_model;
    t5_work w;
    t5e_status s = t5_check_ids(m, "decoder input", B, T, dec_ids, err);
    if (s || (s = work_alloc(m, &w, M, (size_t)B * S, T, T, err)))
        return s;
    float *x = xmalloc_array(M * D, sizeof *x);
    if (!x) {
        work_free(&w);
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    }
    t5e_apply_threads(m->n_threads);
    if (c->num_decoder_layers)
        t5_position_bias(m, 1, T, 0, T, w.bias);
    embed_tokens(m, dec_ids, M, x);
    for (int l = 0; l < c->num_decoder_layers; l++) {
        if (states)
            memcpy(states + l * M * D, x, M * D * sizeof *x);
        const t5_block *b = &m->dec[l];
        attention_layer(m, &b->self, b->ln_self, x, NULL, B, T, T, NULL,
                        w.bias, 1, &w);
        attention_layer(m, &b->cross, b->ln_cross, x, enc, B, T, S,
                        enc_mask, NULL, 0, &w);
        t5_feed_forward(m, b, x, w.h, w.ff0, w.ff1, (int)M);
    }
    op_rmsnorm(x, x, m->dec_final_ln, (int)M, (int)D, c->layer_norm_epsilon);
    if (states)
        memcpy(states + c->num_decoder_layers * M * D, x, M * D * sizeof *x);
    t5_lm_head(m, x, (int)M, logits);
    free(x);
    work_free(&w);
    return T5E_OK;
}

t5e_status t5e_t5_encode(t5e_t5 *m, int B, int S, const int32_t *ids,
                         const int32_t *mask, float *hidden, t5e_err *err) {
    return t5_encoder_forward(m, B, S, ids, mask, hidden, NULL, err);
}

t5e_status t5e_t5_forward(t5e_t5 *m, int B, int S, const int32_t *ids,
                          const int32_t *mask, int T,
                          const int32_t *decoder_ids, float *logits,
                          t5e_err *err) {
    if (B <= 0 || S <= 0)
        return err_set(err, T5E_ERR_ARG, "forward: empty batch [%d, %d]", B,
                       S);
    float *enc = xmalloc_array((size_t)B * S * m->cfg.d_model, sizeof *enc);
    if (!enc)
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    t5e_status s = t5_encoder_forward(m, B, S, ids, mask, enc, NULL, err);
    if (!s)
        s = t5_decoder_forward(m, B, S, enc, mask, T, decoder_ids, logits,
                               NULL, err);
    free(enc);
    return s;
}

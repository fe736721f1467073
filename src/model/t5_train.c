/*
 * t5_train.c - forward with saved activations, and backward, for T5.
 *
 * Shapes: B batch, S encoder length, T decoder length, Me = B*S,
 * Md = B*T, D d_model, H heads, DK d_kv, HD = H*DK, F d_ff, V vocab.
 * Each block saves: its input x_in, the normed attention input h, q, k,
 * v, the attention probabilities p [B, H, Tq, Tk], the attention output
 * att, (decoder) the same for cross-attention, the FF input and normed
 * FF input, the FF pre-activations and the FF hidden f (after dropout:
 * what wo multiplied).
 *
 * Dropout in train mode, at the reference's places: the embeddings, the
 * attention probabilities, each sublayer's output before its residual
 * add, the FF hidden before wo, and each stack's final norm output.
 * Masks are a function of (step key, site, position), so the backward
 * draws them again instead of storing them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/t5_train.h"
#include "model/tensor_source.h"
#include "ops/ops_backward.h"
#include "train/param_source.h"

typedef struct {
    float *x_in, *h, *q, *k, *v, *p, *att;   /* self-attention */
    float *x_c, *hc, *qc, *kc, *vc, *pc, *attc; /* cross (decoder) */
    float *x_f, *hf, *a0, *a1, *f;             /* feed-forward */
} layer_acts;

struct t5_acts {
    int B, S, T;
    layer_acts *enc, *dec;
    float *enc_pre, *enc_out;  /* [Me, D] before / after the final norm */
    float *dec_pre, *dec_out;  /* [Md, D] */
    float *logits;             /* [Md, V], then d logits */
    float *bias_e, *bias_d;    /* [H, S, S], [H, T, T] */
    float *dbias_e, *dbias_d;
    float *dx, *dh, *tmp, *dq, *dk, *dv, *datt, *dff, *dff1; /* scratch */
    float *denc;               /* [Me, D] */
    float *drop_buf;           /* [H, Tq, Tk] of one batch item */
    float drop_p;              /* this step's dropout rate, 0: off */
    uint64_t drop_key;
    float *arena;
    size_t capacity;           /* floats in arena */
};

/* ---- parameters --------------------------------------------------- */

static t5e_status bind_all(t5_trainable *t, t5e_err *err) {
    param_source_ctx dc = {&t->ps, PSRC_DATA}, gc = {&t->ps, PSRC_GRAD};
    tensor_source ds = param_source(&dc), gs = param_source(&gc);
    t5e_status s = t5_bind(&t->model, &ds, err);
    return s ? s : t5_bind(&t->grads, &gs, err);
}

t5e_status t5_trainable_init(t5_trainable *t, const t5e_t5_config *cfg,
                             t5e_err *err) {
    memset(t, 0, sizeof *t);
    t->model.cfg = *cfg;
    t->grads.cfg = *cfg;
    param_source_ctx dc = {&t->ps, PSRC_DECLARE};
    tensor_source decl = param_source(&dc);
    t5e_status s = t5_bind(&t->model, &decl, err);
    if (!s)
        s = param_alloc(&t->ps, err);
    if (!s)
        s = bind_all(t, err);
    if (s)
        t5_trainable_free(t);
    return s;
}

t5e_status t5_trainable_read_weights(t5_trainable *t, const char *dir,
                                     t5e_err *err) {
    weights w;
    t5e_status s = weights_open(dir, &w, err);
    if (s)
        return s;
    /* the embedding may be stored under any of its tied names */
    static const char *const emb[] = {"shared.weight",
        "encoder.embed_tokens.weight", "decoder.embed_tokens.weight"};
    for (int i = 0; i < t->ps.n && !s; i++) {
        const char *name = t->ps.p[i].name;
        if (!strcmp(name, "shared.weight"))
            for (int k = 0; k < 3; k++)
                if (weights_find(&w, emb[k])) {
                    name = emb[k];
                    break;
                }
        s = param_load_as(&t->ps, i, &w, name, err);
    }
    weights_close(&w);
    return s;
}

t5e_status t5_trainable_load(t5_trainable *t, const char *dir,
                             t5e_err *err) {
    t5e_t5_config cfg;
    t5e_status s = t5_read_config(dir, &cfg, err);
    if (s || (s = t5_trainable_init(t, &cfg, err)))
        return s;
    s = t5_trainable_read_weights(t, dir, err);
    if (s)
        t5_trainable_free(t);
    return s;
}

/* Box-Muller normal samples from a 64-bit LCG: reproducible and fast. */
static float normal(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    double u1 = ((*state >> 11) + 1.0) / 9007199254740993.0;
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    double u2 = (*state >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/*
 * The reference's T5 init (factor 1): norms 1; embedding N(0, 1);
 * q N(0, (D*DK)^-1/2), k, v, o N(0, D^-1/2) (o: HD^-1/2); wi N(0, D^-1/2),
 * wo N(0, F^-1/2); relative bias N(0, D^-1/2); lm_head N(0, 1).
 */
void t5_trainable_init_random(t5_trainable *t, uint64_t seed) {
    const t5e_t5_config *c = &t->model.cfg;
    double D = c->d_model, DK = c->d_kv, HD = (double)c->num_heads * DK;
    uint64_t st = seed * 2654435761u + 1;
    for (int i = 0; i < t->ps.n; i++) {
        const param *p = &t->ps.p[i];
        const char *n = p->name;
        float *w = param_data(&t->ps, i), sd = 1.0f;
        if (strstr(n, "layer_norm")) {
            for (size_t k = 0; k < p->numel; k++)
                w[k] = 1.0f;
            continue;
        }
        if (strstr(n, ".q.weight"))
            sd = (float)(1.0 / sqrt(D * DK));
        else if (strstr(n, ".o.weight"))
            sd = (float)(1.0 / sqrt(HD));
        else if (strstr(n, ".wo.weight"))
            sd = (float)(1.0 / sqrt((double)c->d_ff));
        else if (strstr(n, "shared") || strstr(n, "lm_head"))
            sd = 1.0f;
        else
            sd = (float)(1.0 / sqrt(D));
        for (size_t k = 0; k < p->numel; k++)
            w[k] = sd * normal(&st);
    }
}

static void acts_free(t5_acts *a) {
    if (!a)
        return;
    free(a->enc);
    free(a->dec);
    free(a->arena);
    free(a);
}

void t5_trainable_free(t5_trainable *t) {
    free(t->model.enc);
    free(t->model.dec);
    free(t->grads.enc);
    free(t->grads.dec);
    param_free(&t->ps);
    acts_free(t->acts);
    memset(t, 0, sizeof *t);
}

/* ---- activation storage ------------------------------------------- */

typedef struct {
    float *base;
    size_t used;
} carver;

static float *carve(carver *c, size_t n) {
    float *p = c->base ? c->base + c->used : NULL;
    c->used += (n + 15) & ~(size_t)15; /* 64-byte steps */
    return p;
}

static void carve_layer(carver *c, layer_acts *l, const t5e_t5_config *cf,
                        int B, int Tq, int Tk_self, int S, int cross) {
    size_t M = (size_t)B * Tq, D = cf->d_model, F = cf->d_ff;
    size_t HD = (size_t)cf->num_heads * cf->d_kv, H = cf->num_heads;
    l->x_in = carve(c, M * D);
    l->h = carve(c, M * D);
    l->q = carve(c, M * HD);
    l->k = carve(c, M * HD);
    l->v = carve(c, M * HD);
    l->att = carve(c, M * HD);
    l->p = carve(c, (size_t)B * H * Tq * Tk_self);
    if (cross) {
        l->x_c = carve(c, M * D);
        l->hc = carve(c, M * D);
        l->qc = carve(c, M * HD);
        l->kc = carve(c, (size_t)B * S * HD);
        l->vc = carve(c, (size_t)B * S * HD);
        l->attc = carve(c, M * HD);
        l->pc = carve(c, (size_t)B * H * Tq * S);
    }
    l->x_f = carve(c, M * D);
    l->hf = carve(c, M * D);
    l->a0 = carve(c, M * F);
    l->a1 = cf->is_gated_act ? carve(c, M * F) : NULL;
    l->f = carve(c, M * F);
}

static void carve_all(carver *c, t5_acts *a, const t5e_t5_config *cf) {
    int B = a->B, S = a->S, T = a->T;
    size_t Me = (size_t)B * S, Md = (size_t)B * T, D = cf->d_model;
    size_t Mx = Me > Md ? Me : Md, H = cf->num_heads;
    size_t HD = H * cf->d_kv;
    for (int l = 0; l < cf->num_layers; l++)
        carve_layer(c, &a->enc[l], cf, B, S, S, S, 0);
    for (int l = 0; l < cf->num_decoder_layers; l++)
        carve_layer(c, &a->dec[l], cf, B, T, T, S, 1);
    a->enc_pre = carve(c, Me * D);
    a->enc_out = carve(c, Me * D);
    a->dec_pre = carve(c, Md * D);
    a->dec_out = carve(c, Md * D);
    a->logits = carve(c, Md * cf->vocab_size);
    a->bias_e = carve(c, H * S * S);
    a->bias_d = carve(c, H * T * T);
    a->dbias_e = carve(c, H * S * S);
    a->dbias_d = carve(c, H * T * T);
    a->dx = carve(c, Mx * D);
    a->dh = carve(c, Mx * D);
    a->tmp = carve(c, Mx * D);
    a->dq = carve(c, Mx * HD);
    a->dk = carve(c, Mx * HD);
    a->dv = carve(c, Mx * HD);
    a->datt = carve(c, Mx * HD);
    a->dff = carve(c, Mx * cf->d_ff);
    a->dff1 = carve(c, Mx * cf->d_ff);
    a->denc = carve(c, Me * D);
    size_t most = (size_t)S * S;
    most = most > (size_t)T * T ? most : (size_t)T * T;
    most = most > (size_t)T * S ? most : (size_t)T * S;
    a->drop_buf = carve(c, H * most);
}

/*
 * Points the activation views at an arena sized for this shape; the
 * arena only grows, so batches of varying length do not reallocate.
 */
static t5e_status acts_ensure(t5_trainable *t, int B, int S, int T,
                              t5e_err *err) {
    const t5e_t5_config *cf = &t->model.cfg;
    t5_acts *a = t->acts;
    if (!a) {
        t->acts = a = calloc(1, sizeof *a);
        if (a) {
            a->enc = calloc((size_t)cf->num_layers + 1, sizeof *a->enc);
            a->dec = calloc((size_t)cf->num_decoder_layers + 1,
                            sizeof *a->dec);
        }
        if (!a || !a->enc || !a->dec) {
            acts_free(a);
            t->acts = NULL;
            return err_set(err, T5E_ERR_NOMEM, "out of memory");
        }
    }
    a->B = B, a->S = S, a->T = T;
    carver c = {NULL, 0};
    carve_all(&c, a, cf);
    if (c.used > a->capacity) {
        free(a->arena);
        a->arena = xmalloc_array(c.used, sizeof(float));
        a->capacity = a->arena ? c.used : 0;
        if (!a->arena)
            return err_set(err, T5E_ERR_NOMEM, "cannot allocate %zu MB of "
                           "activations for a batch of %d x (%d + %d)",
                           c.used * 4 >> 20, B, S, T);
    }
    c.base = a->arena;
    c.used = 0;
    carve_all(&c, a, cf);
    return T5E_OK;
}

/* ---- forward ------------------------------------------------------ */

#define G(p) ((float *)(p)) /* gradient views share the const layout */
/* A linear weight's float32 data: trainable models are float32 only. */
#define W(m) ((const float *)(m).data)

static attn_shape shape_of(const t5e_t5_config *c, int Tq, int Tk,
                           const float *bias, int causal) {
    int HD = c->num_heads * c->d_kv;
    attn_shape as = {
        .Tq = Tq, .Tk = Tk, .H = c->num_heads, .dk = c->d_kv,
        .q_stride = HD, .kv_stride = HD, .o_stride = HD, .scale = 1.0f,
        .bias = bias, .bias_h = (long)Tq * Tk, .bias_q = Tk,
        .causal = causal,
    };
    return as;
}

/* Dropout sites of a step: the stacks' embeddings and final outputs,
 * then SITES_PER_LAYER per block (encoder blocks first). */
enum { SITE_ENC_EMB, SITE_ENC_OUT, SITE_DEC_EMB, SITE_DEC_OUT,
       SITE_LAYERS = 16, SITES_PER_LAYER = 8 };
/* Within a block. */
enum { AT_SELF_P, AT_SELF_OUT, AT_FF_HIDDEN, AT_FF_OUT, AT_CROSS_P,
       AT_CROSS_OUT };

static uint64_t block_site(const t5e_t5_config *c, int decoder, int l,
                           int at) {
    int block = decoder ? c->num_layers + l : l;
    return SITE_LAYERS + (uint64_t)block * SITES_PER_LAYER + (uint64_t)at;
}

/* x [n] through the dropout of `site` (nothing when off). */
static void drop(const t5_acts *a, float *x, size_t n, uint64_t site) {
    if (a->drop_p > 0.0f)
        op_dropout_par(x, x, n, a->drop_p, op_dropout_site(a->drop_key, site));
}

/* The probabilities' dropout of batch item b in an attention shape. */
static void drop_attn(const t5_acts *a, attn_shape *as, int b,
                      uint64_t site) {
    if (a->drop_p <= 0.0f)
        return;
    as->drop_p = a->drop_p;
    as->drop_key = op_dropout_site(a->drop_key, site);
    as->drop_first = (size_t)b * as->H * as->Tq * as->Tk;
    as->drop_buf = a->drop_buf;
}

/* y = x W^T through dropout, added to out (a sublayer's residual). */
static void add_dropped(const t5_acts *a, float *out, float *y,
                        const float *x, const float *w, int M, int K, int N,
                        uint64_t site) {
    if (a->drop_p <= 0.0f) {
        op_linear_acc(out, x, w, M, K, N);
        return;
    }
    op_linear(y, x, w, NULL, M, K, N);
    drop(a, y, (size_t)M * N, site);
    op_add(out, y, (size_t)M * N);
}

/* dy [n] as the gradient of a dropped sublayer output: dy itself when
 * off, else its masked copy in buf. */
static const float *dropped_grad(const t5_acts *a, float *buf,
                                 const float *dy, size_t n, uint64_t site) {
    if (a->drop_p <= 0.0f)
        return dy;
    op_dropout_par(buf, dy, n, a->drop_p, op_dropout_site(a->drop_key, site));
    return buf;
}

/* x[B*T, D] += SelfAttention(rmsnorm(x)) with bias [H, T, T]. */
static void self_attn_fwd(const t5e_t5 *m, t5_acts *a,
                          const t5_attn_weights *w, const float *ln, float *x,
                          int B, int T, const int32_t *mask,
                          const float *bias, int causal, layer_acts *L,
                          uint64_t site0) {
    const t5e_t5_config *c = &m->cfg;
    int D = c->d_model, HD = c->num_heads * c->d_kv, M = B * T;
    size_t per = (size_t)T * HD, pp = (size_t)c->num_heads * T * T;
    memcpy(L->x_in, x, (size_t)M * D * sizeof *x);
    op_rmsnorm(L->h, x, ln, M, D, c->layer_norm_epsilon);
    op_linear(L->q, L->h, W(w->q), NULL, M, D, HD);
    op_linear(L->k, L->h, W(w->k), NULL, M, D, HD);
    op_linear(L->v, L->h, W(w->v), NULL, M, D, HD);
    attn_shape as = shape_of(c, T, T, bias, causal);
    for (int b = 0; b < B; b++) {
        as.key_mask = mask ? mask + (size_t)b * T : NULL;
        drop_attn(a, &as, b, site0 + AT_SELF_P);
        op_attention_probs(L->att + b * per, L->p + b * pp, L->q + b * per,
                           L->k + b * per, L->v + b * per, &as);
    }
    add_dropped(a, x, a->dh, L->att, W(w->o), M, HD, D, site0 + AT_SELF_OUT);
}

/* x[B*T, D] += CrossAttention(rmsnorm(x), enc[B*S, D]). */
static void cross_attn_fwd(const t5e_t5 *m, t5_acts *a,
                           const t5_attn_weights *w, const float *ln,
                           float *x, int B, int T, int S, const float *enc,
                           const int32_t *enc_mask, layer_acts *L,
                           uint64_t site0) {
    const t5e_t5_config *c = &m->cfg;
    int D = c->d_model, HD = c->num_heads * c->d_kv, M = B * T;
    size_t pq = (size_t)T * HD, pk = (size_t)S * HD;
    size_t pp = (size_t)c->num_heads * T * S;
    memcpy(L->x_c, x, (size_t)M * D * sizeof *x);
    op_rmsnorm(L->hc, x, ln, M, D, c->layer_norm_epsilon);
    op_linear(L->qc, L->hc, W(w->q), NULL, M, D, HD);
    op_linear(L->kc, enc, W(w->k), NULL, B * S, D, HD);
    op_linear(L->vc, enc, W(w->v), NULL, B * S, D, HD);
    attn_shape as = shape_of(c, T, S, NULL, 0);
    for (int b = 0; b < B; b++) {
        as.key_mask = enc_mask ? enc_mask + (size_t)b * S : NULL;
        drop_attn(a, &as, b, site0 + AT_CROSS_P);
        op_attention_probs(L->attc + b * pq, L->pc + b * pp, L->qc + b * pq,
                           L->kc + b * pk, L->vc + b * pk, &as);
    }
    add_dropped(a, x, a->dh, L->attc, W(w->o), M, HD, D,
                site0 + AT_CROSS_OUT);
}

/* x[M, D] += FF(rmsnorm(x)), keeping pre-activations and hidden. */
static void ff_fwd(const t5e_t5 *m, t5_acts *a, const t5_block *blk,
                   float *x, int M, layer_acts *L, uint64_t site0) {
    const t5e_t5_config *c = &m->cfg;
    int D = c->d_model, F = c->d_ff;
    size_t n = (size_t)M * F;
    memcpy(L->x_f, x, (size_t)M * D * sizeof *x);
    op_rmsnorm(L->hf, x, blk->ln_ff, M, D, c->layer_norm_epsilon);
    op_linear(L->a0, L->hf, c->is_gated_act ? W(blk->wi_0) : W(blk->wi), NULL, M,
              D, F);
    memcpy(L->f, L->a0, n * sizeof *L->f);
    op_activate(L->f, n, c->dense_act);
    if (c->is_gated_act) {
        op_linear(L->a1, L->hf, W(blk->wi_1), NULL, M, D, F);
        op_mul(L->f, L->a1, n);
    }
    drop(a, L->f, n, site0 + AT_FF_HIDDEN);
    add_dropped(a, x, a->dh, L->f, W(blk->wo), M, F, D, site0 + AT_FF_OUT);
}

static void embed(const t5e_t5 *m, const int32_t *ids, size_t M, float *x) {
    size_t D = (size_t)m->cfg.d_model;
    for (size_t i = 0; i < M; i++)
        memcpy(x + i * D, W(m->embed) + (size_t)ids[i] * D, D * sizeof *x);
}

static void forward(const t5e_t5 *m, t5_acts *a, const int32_t *ids,
                    const int32_t *mask, const int32_t *dec_ids) {
    const t5e_t5_config *c = &m->cfg;
    int B = a->B, S = a->S, T = a->T, D = c->d_model;
    int Me = B * S, Md = B * T;
    if (c->num_layers)
        t5_position_bias(m, 0, S, 0, S, a->bias_e);
    if (c->num_decoder_layers)
        t5_position_bias(m, 1, T, 0, T, a->bias_d);
    float *x = a->enc_pre;
    embed(m, ids, (size_t)Me, x);
    drop(a, x, (size_t)Me * D, SITE_ENC_EMB);
    for (int l = 0; l < c->num_layers; l++) {
        const t5_block *b = &m->enc[l];
        uint64_t site0 = block_site(c, 0, l, 0);
        self_attn_fwd(m, a, &b->self, b->ln_self, x, B, S, mask, a->bias_e,
                      0, &a->enc[l], site0);
        ff_fwd(m, a, b, x, Me, &a->enc[l], site0);
    }
    op_rmsnorm(a->enc_out, x, m->enc_final_ln, Me, D, c->layer_norm_epsilon);
    drop(a, a->enc_out, (size_t)Me * D, SITE_ENC_OUT);
    x = a->dec_pre;
    embed(m, dec_ids, (size_t)Md, x);
    drop(a, x, (size_t)Md * D, SITE_DEC_EMB);
    for (int l = 0; l < c->num_decoder_layers; l++) {
        const t5_block *b = &m->dec[l];
        uint64_t site0 = block_site(c, 1, l, 0);
        self_attn_fwd(m, a, &b->self, b->ln_self, x, B, T, NULL, a->bias_d,
                      1, &a->dec[l], site0);
        cross_attn_fwd(m, a, &b->cross, b->ln_cross, x, B, T, S, a->enc_out,
                       mask, &a->dec[l], site0);
        ff_fwd(m, a, b, x, Md, &a->dec[l], site0);
    }
    op_rmsnorm(a->dec_out, x, m->dec_final_ln, Md, D, c->layer_norm_epsilon);
    drop(a, a->dec_out, (size_t)Md * D, SITE_DEC_OUT);
    /* the head scales a copy: dec_out stays the normed output */
    memcpy(a->tmp, a->dec_out, (size_t)Md * D * sizeof *x);
    t5_lm_head(m, a->tmp, Md, a->logits);
}

/* ---- backward ----------------------------------------------------- */

/* dx += d/dx of rmsnorm(x_in) given dh; dln accumulates. */
static void norm_back_add(const t5e_t5_config *c, float *dx, float *tmp,
                          float *dln, const float *dh, const float *x_in,
                          const float *ln, int M) {
    op_rmsnorm_backward(tmp, dln, dh, x_in, ln, M, c->d_model,
                        c->layer_norm_epsilon);
    op_add(dx, tmp, (size_t)M * c->d_model);
}

static void ff_bwd(const t5e_t5 *m, const t5_block *b, const t5_block *gb,
                   t5_acts *a, const layer_acts *L, float *dx, int M,
                   uint64_t site0) {
    const t5e_t5_config *c = &m->cfg;
    int D = c->d_model, F = c->d_ff;
    size_t n = (size_t)M * F;
    const float *dout = dropped_grad(a, a->tmp, dx, (size_t)M * D,
                                     site0 + AT_FF_OUT);
    op_linear_backward(a->dff, G(W(gb->wo)), NULL, dout, L->f, W(b->wo), M,
                       F, D);
    drop(a, a->dff, n, site0 + AT_FF_HIDDEN);
    if (c->is_gated_act) { /* f = act(a0) * a1 */
        for (size_t i = 0; i < n; i++) {
            float act = op_activate1(L->a0[i], c->dense_act);
            a->dff1[i] = a->dff[i] * act;
            a->dff[i] *= L->a1[i] * op_activate_grad1(L->a0[i],
                                                      c->dense_act);
        }
        op_linear_backward(a->dh, G(W(gb->wi_0)), NULL, a->dff, L->hf,
                           W(b->wi_0), M, D, F);
        op_linear_backward_acc(a->dh, G(W(gb->wi_1)), NULL, a->dff1, L->hf,
                               W(b->wi_1), M, D, F);
    } else {
        op_activate_backward(a->dff, a->dff, L->a0, n, c->dense_act);
        op_linear_backward(a->dh, G(W(gb->wi)), NULL, a->dff, L->hf, W(b->wi), M,
                           D, F);
    }
    norm_back_add(c, dx, a->tmp, G(gb->ln_ff), a->dh, L->x_f, b->ln_ff, M);
}

static void self_attn_bwd(const t5e_t5 *m, const t5_block *b,
                          const t5_block *gb, t5_acts *a,
                          const layer_acts *L, float *dx, int T,
                          const int32_t *mask, const float *bias,
                          float *dbias, int causal, uint64_t site0) {
    const t5e_t5_config *c = &m->cfg;
    int B = a->B, D = c->d_model, HD = c->num_heads * c->d_kv, M = B * T;
    size_t per = (size_t)T * HD, pp = (size_t)c->num_heads * T * T;
    const float *dout = dropped_grad(a, a->tmp, dx, (size_t)M * D,
                                     site0 + AT_SELF_OUT);
    op_linear_backward(a->datt, G(W(gb->self.o)), NULL, dout, L->att,
                       W(b->self.o), M, HD, D);
    memset(a->dk, 0, (size_t)M * HD * sizeof(float));
    memset(a->dv, 0, (size_t)M * HD * sizeof(float));
    attn_shape as = shape_of(c, T, T, bias, causal);
    for (int i = 0; i < B; i++) {
        as.key_mask = mask ? mask + (size_t)i * T : NULL;
        drop_attn(a, &as, i, site0 + AT_SELF_P);
        op_attention_backward(a->dq + i * per, a->dk + i * per,
                              a->dv + i * per, dbias, a->datt + i * per,
                              L->p + i * pp, L->q + i * per, L->k + i * per,
                              L->v + i * per, &as);
    }
    op_linear_backward(a->dh, G(W(gb->self.q)), NULL, a->dq, L->h, W(b->self.q),
                       M, D, HD);
    op_linear_backward_acc(a->dh, G(W(gb->self.k)), NULL, a->dk, L->h,
                           W(b->self.k), M, D, HD);
    op_linear_backward_acc(a->dh, G(W(gb->self.v)), NULL, a->dv, L->h,
                           W(b->self.v), M, D, HD);
    norm_back_add(c, dx, a->tmp, G(gb->ln_self), a->dh, L->x_in, b->ln_self,
                  M);
}

static void cross_attn_bwd(const t5e_t5 *m, const t5_block *b,
                           const t5_block *gb, t5_acts *a,
                           const layer_acts *L, float *dx,
                           const int32_t *enc_mask, uint64_t site0) {
    const t5e_t5_config *c = &m->cfg;
    int B = a->B, S = a->S, T = a->T, D = c->d_model;
    int HD = c->num_heads * c->d_kv, M = B * T;
    size_t pq = (size_t)T * HD, pk = (size_t)S * HD;
    size_t pp = (size_t)c->num_heads * T * S;
    const float *dout = dropped_grad(a, a->tmp, dx, (size_t)M * D,
                                     site0 + AT_CROSS_OUT);
    op_linear_backward(a->datt, G(W(gb->cross.o)), NULL, dout, L->attc,
                       W(b->cross.o), M, HD, D);
    memset(a->dk, 0, (size_t)B * S * HD * sizeof(float));
    memset(a->dv, 0, (size_t)B * S * HD * sizeof(float));
    attn_shape as = shape_of(c, T, S, NULL, 0);
    for (int i = 0; i < B; i++) {
        as.key_mask = enc_mask ? enc_mask + (size_t)i * S : NULL;
        drop_attn(a, &as, i, site0 + AT_CROSS_P);
        op_attention_backward(a->dq + i * pq, a->dk + i * pk, a->dv + i * pk,
                              NULL, a->datt + i * pq, L->pc + i * pp,
                              L->qc + i * pq, L->kc + i * pk, L->vc + i * pk,
                              &as);
    }
    op_linear_backward(a->dh, G(W(gb->cross.q)), NULL, a->dq, L->hc,
                       W(b->cross.q), M, D, HD);
    op_linear_backward_acc(a->denc, G(W(gb->cross.k)), NULL, a->dk, a->enc_out,
                           W(b->cross.k), B * S, D, HD);
    op_linear_backward_acc(a->denc, G(W(gb->cross.v)), NULL, a->dv, a->enc_out,
                           W(b->cross.v), B * S, D, HD);
    norm_back_add(c, dx, a->tmp, G(gb->ln_cross), a->dh, L->x_c,
                  b->ln_cross, M);
}

static void embed_bwd(float *dembed, const float *dx, const int32_t *ids,
                      size_t M, int D) {
    for (size_t i = 0; i < M; i++) {
        float *row = dembed + (size_t)ids[i] * D;
        for (int d = 0; d < D; d++)
            row[d] += dx[i * D + d];
    }
}

/* Sums dbias [H, T, T] into the bucket table's gradient [NB, H]. */
static void bias_bwd(const t5e_t5_config *c, float *dtable,
                     const float *dbias, int T, int bidirectional) {
    int H = c->num_heads;
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            int k = t5_relative_bucket(j - i, bidirectional,
                                       c->relative_attention_num_buckets,
                                       c->relative_attention_max_distance);
            for (int h = 0; h < H; h++)
                dtable[k * H + h] += dbias[((size_t)h * T + i) * T + j];
        }
}

static void backward(const t5e_t5 *m, const t5e_t5 *g, t5_acts *a,
                     const int32_t *ids, const int32_t *mask,
                     const int32_t *dec_ids) {
    const t5e_t5_config *c = &m->cfg;
    int B = a->B, S = a->S, T = a->T, D = c->d_model;
    int Me = B * S, Md = B * T;
    /* logits = tmp lm_head^T, tmp = dec_out (times d_model^-0.5 if tied) */
    op_linear_backward(a->dx, G(W(g->lm_head)), NULL, a->logits, a->tmp,
                       W(m->lm_head), Md, D, c->vocab_size);
    if (c->tie_word_embeddings) {
        float s = (float)(1.0 / sqrt((double)D));
        for (size_t i = 0; i < (size_t)Md * D; i++)
            a->dx[i] *= s;
    }
    drop(a, a->dx, (size_t)Md * D, SITE_DEC_OUT);
    op_rmsnorm_backward(a->dx, G(g->dec_final_ln), a->dx, a->dec_pre,
                        m->dec_final_ln, Md, D, c->layer_norm_epsilon);
    memset(a->denc, 0, (size_t)Me * D * sizeof(float));
    memset(a->dbias_d, 0, (size_t)c->num_heads * T * T * sizeof(float));
    for (int l = c->num_decoder_layers - 1; l >= 0; l--) {
        const t5_block *b = &m->dec[l], *gb = &g->dec[l];
        uint64_t site0 = block_site(c, 1, l, 0);
        ff_bwd(m, b, gb, a, &a->dec[l], a->dx, Md, site0);
        cross_attn_bwd(m, b, gb, a, &a->dec[l], a->dx, mask, site0);
        self_attn_bwd(m, b, gb, a, &a->dec[l], a->dx, T, NULL, a->bias_d,
                      a->dbias_d, 1, site0);
    }
    drop(a, a->dx, (size_t)Md * D, SITE_DEC_EMB);
    embed_bwd(G(W(g->embed)), a->dx, dec_ids, (size_t)Md, D);
    if (c->num_decoder_layers)
        bias_bwd(c, G(g->dec_rel_bias), a->dbias_d, T, 0);
    drop(a, a->denc, (size_t)Me * D, SITE_ENC_OUT);
    op_rmsnorm_backward(a->dx, G(g->enc_final_ln), a->denc, a->enc_pre,
                        m->enc_final_ln, Me, D, c->layer_norm_epsilon);
    memset(a->dbias_e, 0, (size_t)c->num_heads * S * S * sizeof(float));
    for (int l = c->num_layers - 1; l >= 0; l--) {
        const t5_block *b = &m->enc[l], *gb = &g->enc[l];
        uint64_t site0 = block_site(c, 0, l, 0);
        ff_bwd(m, b, gb, a, &a->enc[l], a->dx, Me, site0);
        self_attn_bwd(m, b, gb, a, &a->enc[l], a->dx, S, mask, a->bias_e,
                      a->dbias_e, 0, site0);
    }
    drop(a, a->dx, (size_t)Me * D, SITE_ENC_EMB);
    embed_bwd(G(W(g->embed)), a->dx, ids, (size_t)Me, D);
    if (c->num_layers)
        bias_bwd(c, G(g->enc_rel_bias), a->dbias_e, S, 1);
}

t5e_status t5_train_step(t5_trainable *t, int B, int S, const int32_t *ids,
                         const int32_t *mask, int T, const int32_t *dec_ids,
                         const int32_t *labels, float smoothing, float scale,
                         double *loss, int *count, t5e_err *err) {
    const t5e_t5 *m = &t->model;
    t5e_status s = t5_check_ids(m, "encoder input", B, S, ids, err);
    if (!s)
        s = t5_check_ids(m, "decoder input", B, T, dec_ids, err);
    for (long i = 0; !s && i < (long)B * T; i++)
        if (labels[i] != -100 &&
            (labels[i] < 0 || labels[i] >= m->cfg.vocab_size))
            s = err_set(err, T5E_ERR_ARG, "label %d at %ld is outside the "
                        "vocabulary", labels[i], i);
    if (s || (s = acts_ensure(t, B, S, T, err)))
        return s;
    t5e_apply_threads(m->n_threads);
    t5_acts *a = t->acts;
    a->drop_p = t->drop_on ? m->cfg.dropout_rate : 0.0f;
    a->drop_key = t->drop_key;
    forward(m, a, ids, mask, dec_ids);
    *loss = op_cross_entropy(a->logits, a->logits, labels, B * T,
                             m->cfg.vocab_size, -100, smoothing, scale,
                             count);
    backward(m, &t->grads, a, ids, mask, dec_ids);
    return T5E_OK;
}

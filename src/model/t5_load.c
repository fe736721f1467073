/* t5_load.c - reads a T5 folder: config.json, then every weight, checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "io/config.h"
#include "model/t5.h"
#include "model/tensor_source.h"
#include "ops/gemm_packed.h"
#include "ops/ops.h"

void t5e_load_options_default(t5e_load_options *opt) {
    opt->n_threads = 0;
    opt->dtype = T5E_DTYPE_AUTO;
}

void t5e_apply_threads(int n_threads) {
    if (n_threads <= 0)
        return;
#ifdef _OPENMP
    omp_set_num_threads(n_threads);
#endif
    openblas_set_num_threads(n_threads);
}

/*
 * feed_forward_proj is "ACT" or "gated-ACT", as the reference parses it;
 * "gated-gelu" means the tanh GELU for backward compatibility.
 */
static t5e_status parse_ff_proj(const char *path, const char *proj,
                                t5e_t5_config *c, t5e_err *err) {
    const char *act = proj;
    c->is_gated_act = 0;
    if (strncmp(proj, "gated-", 6) == 0) {
        c->is_gated_act = 1;
        act = proj + 6;
    }
    if (strcmp(proj, "gated-gelu") == 0)
        act = "gelu_new";
    if (strchr(act, '-') || !op_activation_from_name(act, &c->dense_act))
        return err_set(err, T5E_ERR_CONFIG, "%s: feed_forward_proj \"%s\" is "
                       "not supported (expected ACT or gated-ACT with ACT "
                       "one of relu, gelu, gelu_new, silu, ...)", path, proj);
    return T5E_OK;
}

/* Every key with the reference's T5Config default. */
static t5e_status read_config(const config_file *cf, t5e_t5_config *c,
                              t5e_err *err) {
    const long big = 1L << 24;
    const char *proj, *type;
    t5e_status s;
    if ((s = config_string(cf, "model_type", "t5", &type, err)))
        return s;
    if (strcmp(type, "t5") && strcmp(type, "mt5"))
        return err_set(err, T5E_ERR_CONFIG, "%s: model_type \"%s\" is not "
                       "a T5 model", cf->path, type);
    if ((s = config_int(cf, "vocab_size", 32128, 1, big, &c->vocab_size,
                        err)) ||
        (s = config_int(cf, "d_model", 512, 1, 65536, &c->d_model, err)) ||
        (s = config_int(cf, "d_kv", 64, 1, 65536, &c->d_kv, err)) ||
        (s = config_int(cf, "num_heads", 8, 1, 4096, &c->num_heads, err)) ||
        (s = config_int(cf, "d_ff", 2048, 1, big, &c->d_ff, err)) ||
        (s = config_int(cf, "num_layers", 6, 0, 4096, &c->num_layers,
                        err)) ||
        (s = config_int(cf, "num_decoder_layers", c->num_layers, 0, 4096,
                        &c->num_decoder_layers, err)) ||
        (s = config_int(cf, "relative_attention_num_buckets", 32, 2, 65536,
                        &c->relative_attention_num_buckets, err)) ||
        (s = config_int(cf, "relative_attention_max_distance", 128, 1, big,
                        &c->relative_attention_max_distance, err)) ||
        (s = config_float(cf, "layer_norm_epsilon", 1e-6,
                          &c->layer_norm_epsilon, err)) ||
        (s = config_float(cf, "dropout_rate", 0.1, &c->dropout_rate,
                          err)) ||
        (s = config_bool(cf, "tie_word_embeddings", 1,
                         &c->tie_word_embeddings, err)) ||
        (s = config_int(cf, "pad_token_id", 0, 0, big, &c->pad_token_id,
                        err)) ||
        (s = config_int(cf, "eos_token_id", 1, 0, big, &c->eos_token_id,
                        err)) ||
        (s = config_int(cf, "decoder_start_token_id", c->pad_token_id, 0,
                        big, &c->decoder_start_token_id, err)) ||
        (s = config_string(cf, "feed_forward_proj", "relu", &proj, err)))
        return s;
    if (c->dropout_rate < 0.0f || c->dropout_rate >= 1.0f)
        return err_set(err, T5E_ERR_CONFIG, "%s: dropout_rate = %g is not "
                       "a probability in [0, 1)", cf->path,
                       (double)c->dropout_rate);
    if (c->pad_token_id >= c->vocab_size || c->eos_token_id >= c->vocab_size
        || c->decoder_start_token_id >= c->vocab_size)
        return err_set(err, T5E_ERR_CONFIG, "%s: a special token id is not "
                       "below vocab_size %d", cf->path, c->vocab_size);
    return parse_ff_proj(cf->path, proj, c, err);
}

static t5e_status load_attn(t5e_t5 *m, tensor_source *src,
                            t5_attn_weights *a, const char *prefix,
                            t5e_err *err) {
    int D = m->cfg.d_model, HD = m->cfg.num_heads * m->cfg.d_kv;
    t5e_status s;
    if ((s = source_get_w(src, &a->q, HD, D, err, "%s.q.weight",
                         prefix)) ||
        (s = source_get_w(src, &a->k, HD, D, err, "%s.k.weight",
                         prefix)) ||
        (s = source_get_w(src, &a->v, HD, D, err, "%s.v.weight",
                         prefix)) ||
        (s = source_get_w(src, &a->o, D, HD, err, "%s.o.weight",
                         prefix)))
        return s;
    return T5E_OK;
}

static t5e_status load_ff(t5e_t5 *m, tensor_source *src, t5_block *b,
                          const char *prefix, t5e_err *err) {
    int D = m->cfg.d_model, F = m->cfg.d_ff;
    t5e_status s;
    if (m->cfg.is_gated_act) {
        if ((s = source_get_w(src, &b->wi_0, F, D, err,
                             "%s.DenseReluDense.wi_0.weight", prefix)) ||
            (s = source_get_w(src, &b->wi_1, F, D, err,
                             "%s.DenseReluDense.wi_1.weight", prefix)))
            return s;
    } else if ((s = source_get_w(src, &b->wi, F, D, err,
                                "%s.DenseReluDense.wi.weight", prefix))) {
        return s;
    }
    if ((s = source_get_w(src, &b->wo, D, F, err,
                         "%s.DenseReluDense.wo.weight", prefix)) ||
        (s = source_get(src, &b->ln_ff, 1, D, 0, err,
                         "%s.layer_norm.weight", prefix)))
        return s;
    return T5E_OK;
}

/* Block i of a stack: layer.0 self-attention, [layer.1 cross], then FF. */
static t5e_status load_block(t5e_t5 *m, tensor_source *src, t5_block *b,
                             const char *stack, int i, t5e_err *err) {
    char p[128];
    int D = m->cfg.d_model, dec = strcmp(stack, "decoder") == 0;
    t5e_status s;
    snprintf(p, sizeof p, "%s.block.%d.layer.0", stack, i);
    if ((s = source_get(src, &b->ln_self, 1, D, 0, err,
                         "%s.layer_norm.weight", p)))
        return s;
    snprintf(p, sizeof p, "%s.block.%d.layer.0.SelfAttention", stack, i);
    if ((s = load_attn(m, src, &b->self, p, err)))
        return s;
    if (dec) {
        snprintf(p, sizeof p, "%s.block.%d.layer.1", stack, i);
        if ((s = source_get(src, &b->ln_cross, 1, D, 0, err,
                             "%s.layer_norm.weight", p)))
            return s;
        snprintf(p, sizeof p, "%s.block.%d.layer.1.EncDecAttention", stack,
                 i);
        if ((s = load_attn(m, src, &b->cross, p, err)))
            return s;
    }
    snprintf(p, sizeof p, "%s.block.%d.layer.%d", stack, i, dec ? 2 : 1);
    return load_ff(m, src, b, p, err);
}

/* The input table may be stored under any of its tied names. */
static t5e_status load_embeddings(t5e_t5 *m, tensor_source *src,
                                  t5e_err *err) {
    static const char *const names[] = {"shared.weight",
                                        "encoder.embed_tokens.weight",
                                        "decoder.embed_tokens.weight"};
    int V = m->cfg.vocab_size, D = m->cfg.d_model;
    const char *name = names[0];
    for (int i = 0; i < 3; i++)
        if (src->has(src, names[i])) {
            name = names[i];
            break;
        }
    t5e_status s = source_get_w(src, &m->embed, V, D, err, "%s", name);
    if (s)
        return s;
    if (m->cfg.tie_word_embeddings) {
        m->lm_head = m->embed; /* the same table: one copy in any type */
        return T5E_OK;
    }
    return source_get_w(src, &m->lm_head, V, D, err, "lm_head.weight");
}

static t5e_status load_stacks(t5e_t5 *m, tensor_source *src,
                              t5e_err *err) {
    const t5e_t5_config *c = &m->cfg;
    int D = c->d_model, NB = c->relative_attention_num_buckets;
    t5e_status s;
    if (!m->enc)
        m->enc = calloc((size_t)c->num_layers + 1, sizeof *m->enc);
    if (!m->dec)
        m->dec = calloc((size_t)c->num_decoder_layers + 1, sizeof *m->dec);
    if (!m->enc || !m->dec)
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    for (int i = 0; i < c->num_layers; i++)
        if ((s = load_block(m, src, &m->enc[i], "encoder", i, err)))
            return s;
    for (int i = 0; i < c->num_decoder_layers; i++)
        if ((s = load_block(m, src, &m->dec[i], "decoder", i, err)))
            return s;
    const char *rb = "block.0.layer.0.SelfAttention.relative_attention_bias"
                     ".weight";
    if ((c->num_layers &&
         (s = source_get(src, &m->enc_rel_bias, 2, NB, c->num_heads,
                          err, "encoder.%s", rb))) ||
        (c->num_decoder_layers &&
         (s = source_get(src, &m->dec_rel_bias, 2, NB, c->num_heads,
                          err, "decoder.%s", rb))) ||
        (s = source_get(src, &m->enc_final_ln, 1, D, 0, err,
                         "encoder.final_layer_norm.weight")) ||
        (s = source_get(src, &m->dec_final_ln, 1, D, 0, err,
                         "decoder.final_layer_norm.weight")))
        return s;
    return T5E_OK;
}

t5e_status t5_bind(t5e_t5 *m, tensor_source *src, t5e_err *err) {
    t5e_status s = load_embeddings(m, src, err);
    return s ? s : load_stacks(m, src, err);
}

t5e_status t5_read_config(const char *dir, t5e_t5_config *cfg,
                          t5e_err *err) {
    char path[4096];
    config_file cf;
    if (file_exists(dir)) /* a config.json named directly */
        snprintf(path, sizeof path, "%s", dir);
    else if (!dir_exists(dir))
        return err_set(err, T5E_ERR_IO, "%s: no such model folder", dir);
    else if (!path_join(path, sizeof path, dir, "config.json"))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", dir);
    t5e_status s = config_open(path, &cf, err);
    if (s)
        return s;
    memset(cfg, 0, sizeof *cfg);
    s = read_config(&cf, cfg, err);
    config_close(&cf);
    return s;
}

/* The float32 matrices t5_pack gives a packed copy; n of them. */
static int sequence_mats(t5e_t5 *m, wmat **out) {
    int n = 0;
    for (int i = 0; i < m->cfg.num_layers; i++) {
        t5_block *b = &m->enc[i];
        wmat *all[] = {&b->self.q, &b->self.k, &b->self.v, &b->self.o,
                       &b->wi, &b->wi_0, &b->wi_1, &b->wo};
        for (int j = 0; j < 8; j++)
            if (all[j]->data && all[j]->dtype == WMAT_F32)
                out[n++] = all[j];
    }
    for (int i = 0; i < m->cfg.num_decoder_layers; i++) {
        t5_attn_weights *a = &m->dec[i].cross;
        if (a->k.data && a->k.dtype == WMAT_F32)
            out[n++] = &a->k;
        if (a->v.data && a->v.dtype == WMAT_F32)
            out[n++] = &a->v;
    }
    return n;
}

/*
 * Packed copies of the matrices that only ever multiply whole sequences
 * (M = input length): sgemm would rearrange them on every call.  The
 * decoder's per-token products keep the streaming kernel, which reads
 * the Hugging Face layout.
 */
static t5e_status t5_pack(t5e_t5 *m, t5e_err *err) {
    int most = 8 * m->cfg.num_layers + 2 * m->cfg.num_decoder_layers;
    wmat **mats = calloc((size_t)most + 1, sizeof *mats);
    if (!mats)
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    int n = sequence_mats(m, mats);
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += (gemm_packed_floats(mats[i]->N, mats[i]->K) + 15) / 16 * 16;
    if (n && posix_memalign((void **)&m->pack_mem, 64,
                            total * sizeof(float))) {
        m->pack_mem = NULL;
        free(mats);
        return err_set(err, T5E_ERR_NOMEM, "t5: out of memory for the "
                       "packed encoder weights (%zu MB)", total >> 18);
    }
    float *dst = m->pack_mem;
    for (int i = 0; i < n; i++) {
        gemm_pack(dst, mats[i]->data, mats[i]->N, mats[i]->K);
        mats[i]->packed = dst;
        dst += (gemm_packed_floats(mats[i]->N, mats[i]->K) + 15) / 16 * 16;
    }
    free(mats);
    return T5E_OK;
}

t5e_status t5e_t5_load(const char *dir, const t5e_load_options *opt,
                       t5e_t5 **out, t5e_err *err) {
    *out = NULL;
    t5e_t5 *m = calloc(1, sizeof *m);
    if (!m)
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    m->n_threads = opt ? opt->n_threads : 0;
    t5e_dtype dtype = opt ? opt->dtype : T5E_DTYPE_AUTO;
    t5e_status s = t5_read_config(dir, &m->cfg, err);
    if (!s)
        s = weights_open(dir, &m->w, err);
    if (!s) {
        tensor_source src = weights_source(&m->w, dtype);
        s = t5_bind(m, &src, err);
    }
    if (!s && gemm_packed_available())
        s = t5_pack(m, err);
    /* converted or packed: drop the originals' pages (those still used
     * are read back from the file) */
    if (!s && (m->lm_head.dtype != WMAT_F32 || m->pack_mem))
        weights_release_pages(&m->w);
    if (s) {
        t5e_t5_free(m);
        return s;
    }
    *out = m;
    return T5E_OK;
}

void t5e_t5_free(t5e_t5 *m) {
    if (!m)
        return;
    weights_close(&m->w);
    free(m->enc);
    free(m->dec);
    free(m->pack_mem);
    free(m);
}

const t5e_t5_config *t5e_t5_get_config(const t5e_t5 *m) {
    return &m->cfg;
}

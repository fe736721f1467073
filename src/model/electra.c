/*
 * electra.c - ELECTRA inference: embeddings, post-LN BERT layers and the
 * discriminator, generator and classification heads, matching
 * transformers 4.36.2 (ElectraModel and its heads) in float32.
 *
 * Shapes use the names of electra.h (B, S, E, H, NH, HD, F, V, L, NL).
 * The whole forward runs over one workspace carved per call from B * S,
 * so nothing is allocated inside the layer loop.
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

#include "core/pool.h"
#include "io/config.h"
#include "model/electra.h"
#include "ops/gemm_packed.h"
#include "ops/ops.h"

/* ------------------------------------------------------------------ */
/* Config                                                              */
/* ------------------------------------------------------------------ */

static const struct {
    const char *arch;
    t5e_electra_head head;
} arch_heads[] = {
    {"ElectraForPreTraining", T5E_ELECTRA_DISCRIMINATOR},
    {"ElectraForMaskedLM", T5E_ELECTRA_GENERATOR},
    {"ElectraForSequenceClassification", T5E_ELECTRA_CLASSIFIER},
    {"ElectraModel", T5E_ELECTRA_BASE},
    /* Heads t5e does not run; their encoder still serves `embed`. */
    {"ElectraForTokenClassification", T5E_ELECTRA_BASE},
    {"ElectraForQuestionAnswering", T5E_ELECTRA_BASE},
    {"ElectraForMultipleChoice", T5E_ELECTRA_BASE},
    {"ElectraForCausalLM", T5E_ELECTRA_BASE},
};

static const char *head_desc(t5e_electra_head h) {
    switch (h) {
    case T5E_ELECTRA_DISCRIMINATOR:
        return "a discriminator (ElectraForPreTraining)";
    case T5E_ELECTRA_GENERATOR: return "a generator (ElectraForMaskedLM)";
    case T5E_ELECTRA_CLASSIFIER:
        return "a classifier (ElectraForSequenceClassification)";
    case T5E_ELECTRA_BASE: break;
    }
    return "an encoder without a head (ElectraModel)";
}

/*
 * The head from "architectures"; -1 when the key is absent, so the
 * caller infers it from the tensors.
 */
static t5e_status read_head(const config_file *cf, int *head, t5e_err *err) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(cf->root,
                                                      "architectures");
    *head = -1;
    if (!a || cJSON_IsNull(a) || (cJSON_IsArray(a) && !a->child))
        return T5E_OK;
    const cJSON *first = cJSON_IsArray(a) ? a->child : NULL;
    if (!cJSON_IsString(first))
        return err_set(err, T5E_ERR_CONFIG, "%s: architectures must be a "
                       "list of strings", cf->path);
    int n = (int)(sizeof arch_heads / sizeof arch_heads[0]);
    for (int i = 0; i < n; i++)
        if (!strcmp(first->valuestring, arch_heads[i].arch)) {
            *head = (int)arch_heads[i].head;
            return T5E_OK;
        }
    return err_set(err, T5E_ERR_UNSUPPORTED, "%s: architecture '%s' is not "
                   "an ELECTRA model t5e runs", cf->path, first->valuestring);
}

/* Label names from id2label ({"0": "NEG", ...}); else num_labels. */
static t5e_status read_labels(const config_file *cf, t5e_electra *m,
                              t5e_err *err) {
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(cf->root, "id2label");
    int L = 0;
    if (cJSON_IsObject(map))
        L = cJSON_GetArraySize(map);
    t5e_status s = T5E_OK;
    if (L == 0)
        s = config_int(cf, "num_labels", 2, 1, 1 << 20, &L, err);
    if (s)
        return s;
    m->cfg.num_labels = L;
    m->labels = xcalloc((size_t)L, sizeof *m->labels);
    if (!m->labels)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", cf->path);
    for (int i = 0; i < L; i++) {
        char key[32], def[32];
        snprintf(key, sizeof key, "%d", i);
        snprintf(def, sizeof def, "LABEL_%d", i);
        const cJSON *v = cJSON_IsObject(map)
                             ? cJSON_GetObjectItemCaseSensitive(map, key)
                             : NULL;
        if (cJSON_IsObject(map) && !cJSON_IsString(v))
            return err_set(err, T5E_ERR_CONFIG, "%s: id2label has no string "
                           "for id %d (ids must be 0 .. %d)", cf->path, i,
                           L - 1);
        m->labels[i] = strdup(v ? v->valuestring : def);
        if (!m->labels[i])
            return err_set(err, T5E_ERR_NOMEM, "%s: out of memory",
                           cf->path);
    }
    return T5E_OK;
}

static const char *const position_names[] = {
    [T5E_POSITION_ABSOLUTE] = "absolute",
    [T5E_POSITION_RELATIVE_KEY] = "relative_key",
    [T5E_POSITION_RELATIVE_KEY_QUERY] = "relative_key_query",
};

int electra_position_from_name(const char *name, t5e_position_embedding *out) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, position_names[i])) {
            *out = (t5e_position_embedding)i;
            return 1;
        }
    return 0;
}

const char *electra_position_name(t5e_position_embedding t) {
    return (unsigned)t < 3 ? position_names[t] : "absolute";
}

/* Strings that select behaviour: only values t5e implements pass. */
static t5e_status read_strings(const config_file *cf, t5e_electra *m,
                               t5e_err *err) {
    const char *v;
    t5e_status s = config_string(cf, "model_type", "electra", &v, err);
    if (!s && strcmp(v, "electra"))
        return err_set(err, T5E_ERR_UNSUPPORTED, "%s: model_type '%s' is "
                       "not electra", cf->path, v);
    if (!s)
        s = config_string(cf, "hidden_act", "gelu", &v, err);
    if (!s && !op_activation_from_name(v, &m->cfg.hidden_act))
        return err_set(err, T5E_ERR_UNSUPPORTED, "%s: hidden_act '%s' is "
                       "not supported", cf->path, v);
    if (!s)
        s = config_string(cf, "position_embedding_type", "absolute", &v,
                          err);
    if (!s && !electra_position_from_name(v, &m->cfg.position_embedding_type))
        return err_set(err, T5E_ERR_UNSUPPORTED, "%s: position_embedding_"
                       "type '%s' is not supported (absolute, relative_key "
                       "or relative_key_query)", cf->path, v);
    if (!s)
        s = config_string(cf, "problem_type", "", &v, err);
    if (!s)
        m->problem_regression = !strcmp(v, "regression");
    int dec = 0;
    if (!s)
        s = config_bool(cf, "is_decoder", 0, &dec, err);
    if (!s && dec)
        return err_set(err, T5E_ERR_UNSUPPORTED, "%s: is_decoder true "
                       "(causal ELECTRA) is not supported", cf->path);
    return s;
}

/* A dropout probability in [0, 1), or def when the key is absent or
 * null. */
static t5e_status read_prob(const config_file *cf, const char *key,
                            double def, float *out, t5e_err *err) {
    t5e_status s = config_float(cf, key, def, out, err);
    if (!s && *out != (float)def && (*out < 0.0f || *out >= 1.0f))
        s = err_set(err, T5E_ERR_CONFIG, "%s: %s = %g is not a "
                    "probability in [0, 1)", cf->path, key, (double)*out);
    return s;
}

t5e_status electra_read_sizes(const config_file *cf,
                              t5e_electra_config *c, t5e_err *err) {
    const long big = 1 << 24;
    t5e_status s = T5E_OK;
    if (!s) s = config_int(cf, "vocab_size", 30522, 1, 1L << 28,
                           &c->vocab_size, err);
    if (!s) s = config_int(cf, "embedding_size", 128, 1, big,
                           &c->embedding_size, err);
    if (!s) s = config_int(cf, "hidden_size", 256, 1, big,
                           &c->hidden_size, err);
    if (!s) s = config_int(cf, "num_hidden_layers", 12, 1, 1024,
                           &c->num_hidden_layers, err);
    if (!s) s = config_int(cf, "num_attention_heads", 4, 1, big,
                           &c->num_attention_heads, err);
    if (!s) s = config_int(cf, "intermediate_size", 1024, 1, big,
                           &c->intermediate_size, err);
    if (!s) s = config_int(cf, "max_position_embeddings", 512, 1, big,
                           &c->max_position_embeddings, err);
    if (!s) s = config_int(cf, "type_vocab_size", 2, 1, big,
                           &c->type_vocab_size, err);
    if (!s) s = config_int(cf, "pad_token_id", 0, 0, c->vocab_size - 1,
                           &c->pad_token_id, err);
    if (!s) s = config_float(cf, "layer_norm_eps", 1e-12,
                             &c->layer_norm_eps, err);
    if (!s) s = read_prob(cf, "hidden_dropout_prob", 0.1,
                          &c->hidden_dropout_prob, err);
    if (!s) s = read_prob(cf, "attention_probs_dropout_prob", 0.1,
                          &c->attention_probs_dropout_prob, err);
    if (!s) s = read_prob(cf, "classifier_dropout", -1.0,
                          &c->classifier_dropout, err);
    if (!s && c->hidden_size % c->num_attention_heads)
        s = err_set(err, T5E_ERR_CONFIG, "%s: hidden_size %d is not a "
                    "multiple of num_attention_heads %d", cf->path,
                    c->hidden_size, c->num_attention_heads);
    return s;
}

static t5e_status read_config(const char *dir, t5e_electra *m, int *head,
                              t5e_err *err) {
    char path[4096];
    config_file cf;
    if (!path_join(path, sizeof path, dir, "config.json"))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", dir);
    if (!dir_exists(dir))
        return err_set(err, T5E_ERR_IO, "%s: no such model folder", dir);
    t5e_status s = config_open(path, &cf, err);
    if (s)
        return s;
    s = electra_read_sizes(&cf, &m->cfg, err);
    if (!s)
        s = read_strings(&cf, m, err);
    if (!s)
        s = read_head(&cf, head, err);
    if (!s)
        s = read_labels(&cf, m, err);
    config_close(&cf);
    return s;
}

/* ------------------------------------------------------------------ */
/* Weights                                                             */
/* ------------------------------------------------------------------ */

/* Checkpoints of a head prefix the encoder with "electra."; a bare
 * ElectraModel does not. */
static const char *encoder_prefix(const weights *w) {
    if (weights_find(w, "electra.embeddings.word_embeddings.weight"))
        return "electra.";
    if (weights_find(w, "embeddings.word_embeddings.weight"))
        return "";
    return "electra.";
}

static t5e_electra_head infer_head(const weights *w) {
    if (weights_find(w, "discriminator_predictions.dense_prediction.weight"))
        return T5E_ELECTRA_DISCRIMINATOR;
    if (weights_find(w, "generator_predictions.dense.weight"))
        return T5E_ELECTRA_GENERATOR;
    if (weights_find(w, "classifier.out_proj.weight"))
        return T5E_ELECTRA_CLASSIFIER;
    return T5E_ELECTRA_BASE;
}

/* A weight [d0, d1] (d1 = 0: a vector [d0]) named printf-style. */
#define GET(dst, d0, d1, ...)                                             \
    do {                                                                 \
        if (!s)                                                          \
            s = weights_get(w, &(dst), (d1) ? 2 : 1, (d0), (d1), err,     \
                            __VA_ARGS__);                                \
    } while (0)

static t5e_status bind_embeddings(t5e_electra *m, const char *pre,
                                  t5e_err *err) {
    const t5e_electra_config *c = &m->cfg;
    electra_params *p = &m->p;
    weights *w = &m->store;
    long E = c->embedding_size, H = c->hidden_size;
    t5e_status s = T5E_OK;
    GET(p->word, c->vocab_size, E,
        "%sembeddings.word_embeddings.weight", pre);
    GET(p->pos, c->max_position_embeddings, E,
        "%sembeddings.position_embeddings.weight", pre);
    GET(p->type, c->type_vocab_size, E,
        "%sembeddings.token_type_embeddings.weight", pre);
    GET(p->eln_w, E, 0, "%sembeddings.LayerNorm.weight", pre);
    GET(p->eln_b, E, 0, "%sembeddings.LayerNorm.bias", pre);
    /* The reference builds embeddings_project only when E != H. */
    if (E != H) {
        GET(p->proj_w, H, E, "%sembeddings_project.weight", pre);
        GET(p->proj_b, H, 0, "%sembeddings_project.bias", pre);
    }
    return s;
}

static t5e_status bind_layer(t5e_electra *m, const char *pre, int i,
                             electra_layer *l, t5e_err *err) {
    weights *w = &m->store;
    long H = m->cfg.hidden_size, F = m->cfg.intermediate_size;
    const char *at = "encoder.layer.%d.attention";
    char f[160];
    t5e_status s = T5E_OK;
#define LW(dst, d0, d1, sub)                                              \
    do {                                                                 \
        snprintf(f, sizeof f, "%%s%s%s", at, sub);                       \
        GET(dst, d0, d1, f, pre, i);                                     \
    } while (0)
#define LWM(dst, d0, d1, sub)                                             \
    do {                                                                 \
        snprintf(f, sizeof f, "%%s%s%s", at, sub);                       \
        if (!s)                                                          \
            s = weights_get_w(w, &(dst), (d0), (d1), m->dtype, err, f,    \
                              pre, i);                                   \
    } while (0)
    LWM(l->q_w, H, H, ".self.query.weight");
    LW(l->q_b, H, 0, ".self.query.bias");
    LWM(l->k_w, H, H, ".self.key.weight");
    LW(l->k_b, H, 0, ".self.key.bias");
    LWM(l->v_w, H, H, ".self.value.weight");
    LW(l->v_b, H, 0, ".self.value.bias");
    LWM(l->ao_w, H, H, ".output.dense.weight");
    LW(l->ao_b, H, 0, ".output.dense.bias");
    LW(l->aln_w, H, 0, ".output.LayerNorm.weight");
    LW(l->aln_b, H, 0, ".output.LayerNorm.bias");
    l->rel = NULL;
    if (m->cfg.position_embedding_type != T5E_POSITION_ABSOLUTE)
        LW(l->rel, 2L * m->cfg.max_position_embeddings - 1,
           H / m->cfg.num_attention_heads, ".self.distance_embedding.weight");
    at = "encoder.layer.%d";
    LWM(l->ff1_w, F, H, ".intermediate.dense.weight");
    LW(l->ff1_b, F, 0, ".intermediate.dense.bias");
    LWM(l->ff2_w, H, F, ".output.dense.weight");
    LW(l->ff2_b, H, 0, ".output.dense.bias");
    LW(l->fln_w, H, 0, ".output.LayerNorm.weight");
    LW(l->fln_b, H, 0, ".output.LayerNorm.bias");
#undef LW
#undef LWM
    return s;
}

static t5e_status bind_head(t5e_electra *m, t5e_err *err) {
    const t5e_electra_config *c = &m->cfg;
    electra_params *p = &m->p;
    weights *w = &m->store;
    long E = c->embedding_size, H = c->hidden_size;
    t5e_status s = T5E_OK;
    switch (c->head) {
    case T5E_ELECTRA_DISCRIMINATOR:
        GET(p->hd_w, H, H, "discriminator_predictions.dense.weight");
        GET(p->hd_b, H, 0, "discriminator_predictions.dense.bias");
        GET(p->hout_w, 1, H,
            "discriminator_predictions.dense_prediction.weight");
        GET(p->hout_b, 1, 0,
            "discriminator_predictions.dense_prediction.bias");
        break;
    case T5E_ELECTRA_GENERATOR:
        GET(p->hd_w, E, H, "generator_predictions.dense.weight");
        GET(p->hd_b, E, 0, "generator_predictions.dense.bias");
        GET(p->hln_w, E, 0, "generator_predictions.LayerNorm.weight");
        GET(p->hln_b, E, 0, "generator_predictions.LayerNorm.bias");
        /* generator_lm_head.weight is tied to the word embeddings and is
         * not stored; only its bias is. */
        p->hout_w = p->word;
        GET(p->hout_b, c->vocab_size, 0, "generator_lm_head.bias");
        break;
    case T5E_ELECTRA_CLASSIFIER:
        GET(p->hd_w, H, H, "classifier.dense.weight");
        GET(p->hd_b, H, 0, "classifier.dense.bias");
        GET(p->hout_w, c->num_labels, H, "classifier.out_proj.weight");
        GET(p->hout_b, c->num_labels, 0, "classifier.out_proj.bias");
        break;
    case T5E_ELECTRA_BASE: break;
    }
    return s;
}
#undef GET

static size_t round64(size_t n) {
    return (n + 63) & ~(size_t)63;
}

/*
 * Stacks a layer's q, k and v weights and biases into one [3H, H] product,
 * so the three projections read the layer input once and take one
 * hand-out to the threads.  The copy keeps their dtype; should they differ
 * (a checkpoint mixing dtypes), it is float32.
 */
static t5e_status fuse_qkv(electra_layer *l, int H, t5e_err *err) {
    const wmat *w[3] = {&l->q_w, &l->k_w, &l->v_w};
    const float *b[3] = {l->q_b, l->k_b, l->v_b};
    wmat_dtype dt = l->q_w.dtype;
    for (int i = 1; i < 3; i++)
        if (w[i]->dtype != dt)
            dt = WMAT_F32;
    int same = dt == l->q_w.dtype && dt == l->k_w.dtype &&
               dt == l->v_w.dtype;
    size_t row = (size_t)H * wmat_dtype_size(dt), block = row * H;
    size_t vec = (size_t)H * sizeof(float);
    size_t data_bytes = round64(3 * block), bias_bytes = round64(3 * vec);
    int i8 = dt == WMAT_I8;
    char *mem = NULL;
    if (posix_memalign((void **)&mem, 64,
                       data_bytes + bias_bytes * (i8 ? 2 : 1)))
        return err_set(err, T5E_ERR_NOMEM, "electra: out of memory for "
                       "the stacked attention projections");
    float *bias = (float *)(mem + data_bytes);
    float *scale = i8 ? (float *)(mem + data_bytes + bias_bytes) : NULL;
    for (int i = 0; i < 3; i++) {
        char *dst = mem + i * block;
        if (same)
            memcpy(dst, w[i]->data, block);
        else
            for (int n = 0; n < H; n++)
                wmat_row((float *)(dst + n * row), w[i], n);
        memcpy(bias + (size_t)i * H, b[i], vec);
        if (i8)
            memcpy(scale + (size_t)i * H, w[i]->scale, vec);
    }
    l->qkv_w = (wmat){dt, 3 * H, H, mem, scale, NULL};
    l->qkv_b = bias;
    l->qkv_mem = mem;
    return T5E_OK;
}

/*
 * The packed copies of a float32 layer's four products (qkv, attention
 * output, intermediate, output), so an encoder pass does not rearrange
 * the weights in every sgemm call.  Other dtypes keep their own paths.
 */
static t5e_status pack_layer(electra_layer *l, t5e_err *err) {
    wmat *w[4] = {&l->qkv_w, &l->ao_w, &l->ff1_w, &l->ff2_w};
    size_t off[5] = {0};
    for (int i = 0; i < 4; i++) {
        if (w[i]->dtype != WMAT_F32)
            return T5E_OK;
        off[i + 1] = off[i] + round64(gemm_packed_floats(w[i]->N, w[i]->K));
    }
    float *mem = NULL;
    if (posix_memalign((void **)&mem, 64, off[4] * sizeof *mem))
        return err_set(err, T5E_ERR_NOMEM, "electra: out of memory for "
                       "the packed layer weights");
    for (int i = 0; i < 4; i++) {
        gemm_pack(mem + off[i], w[i]->data, w[i]->N, w[i]->K);
        w[i]->packed = mem + off[i];
    }
    l->pack_mem = mem;
    return T5E_OK;
}

static t5e_status bind_weights(t5e_electra *m, t5e_err *err) {
    const char *pre = encoder_prefix(&m->store);
    int NL = m->cfg.num_hidden_layers;
    m->p.layers = xcalloc((size_t)NL, sizeof *m->p.layers);
    if (!m->p.layers)
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    t5e_status s = bind_embeddings(m, pre, err);
    for (int i = 0; i < NL && !s; i++) {
        s = bind_layer(m, pre, i, &m->p.layers[i], err);
        if (!s)
            s = fuse_qkv(&m->p.layers[i], m->cfg.hidden_size, err);
        if (!s && gemm_packed_available())
            s = pack_layer(&m->p.layers[i], err);
    }
    if (!s)
        s = bind_head(m, err);
    return s;
}

t5e_status t5e_electra_load(const char *dir, const t5e_load_options *opt,
                            t5e_electra **out, t5e_err *err) {
    *out = NULL;
    t5e_electra *m = xcalloc(1, sizeof *m);
    if (!m)
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    m->n_threads = opt ? opt->n_threads : 0;
    m->dtype = opt ? opt->dtype : T5E_DTYPE_AUTO;
    int head;
    t5e_status s = read_config(dir, m, &head, err);
    if (!s)
        s = weights_open(dir, &m->store, err);
    if (!s) {
        m->cfg.head = head >= 0 ? (t5e_electra_head)head
                                : infer_head(&m->store);
        s = bind_weights(m, err);
    }
    if (!s && m->p.layers && m->cfg.num_hidden_layers &&
        (m->p.layers[0].q_w.dtype != WMAT_F32 || m->p.layers[0].pack_mem))
        weights_release_pages(&m->store); /* converted: drop originals */
    if (s) {
        t5e_electra_free(m);
        return s;
    }
    *out = m;
    return T5E_OK;
}

void t5e_electra_free(t5e_electra *m) {
    if (!m)
        return;
    weights_close(&m->store);
    for (int i = 0; m->labels && i < m->cfg.num_labels; i++)
        free(m->labels[i]);
    free(m->labels);
    for (int i = 0; m->p.layers && i < m->cfg.num_hidden_layers; i++)
        free(m->p.layers[i].qkv_mem), free(m->p.layers[i].pack_mem);
    free(m->p.layers);
    free(m->ws);
    free(m);
}

const t5e_electra_config *t5e_electra_get_config(const t5e_electra *m) {
    return &m->cfg;
}

const char *t5e_electra_label_name(const t5e_electra *m, int i) {
    if (i < 0 || i >= m->cfg.num_labels || !m->labels || !m->labels[i])
        return "?";
    return m->labels[i];
}

/* ------------------------------------------------------------------ */
/* Row-parallel helpers (the ops kernels are serial)                   */
/* ------------------------------------------------------------------ */

/* Norms and activations are split over the pool (core/pool.h) in a few
 * contiguous parts, one per thread: its workers are spinning between the
 * products of a layer, so a hand-out costs microseconds, and a batch-1
 * ELECTRA-Small layer's LayerNorm (32K values) or GELU (128K) already
 * pays for it.  Fewer values than this stay on the caller's thread. */
#define PAR_MIN_VALUES (1L << 14)

typedef struct {
    float *out;
    float *x;          /* LayerNorm input; res is added to it first */
    const float *res, *w, *b;
    int M, D, parts;
    float eps;
    size_t n;
    t5e_activation act;
} rows_job;

/* Rows [M * p0 / parts, M * p1 / parts) of a LayerNorm. */
static void layernorm_parts(void *ctx, int p0, int p1, int thread) {
    const rows_job *j = ctx;
    (void)thread;
    int r0 = (int)((long)j->M * p0 / j->parts);
    int r1 = (int)((long)j->M * p1 / j->parts);
    size_t o = (size_t)r0 * j->D;
    if (j->res)
        op_add(j->x + o, j->res + o, (size_t)(r1 - r0) * j->D);
    op_layernorm(j->out + o, j->x + o, j->w, j->b, r1 - r0, j->D, j->eps);
}

static int parts_for(size_t values) {
    int T = core_max_threads();
    return values >= (size_t)PAR_MIN_VALUES && T > 1 ? T : 1;
}

/* out = LayerNorm(x + res) over rows of D (res may be NULL; x then is
 * read only, else it gets the sum). */
static void par_layernorm(float *out, float *x, const float *res,
                          const float *w, const float *b, int M, int D,
                          float eps) {
    rows_job j = {out, x, res, w, b, M, D, parts_for((size_t)M * D), eps,
                  0, T5E_ACT_LINEAR};
    if (j.parts > M)
        j.parts = M > 0 ? M : 1;
    pool_for(j.parts, layernorm_parts, &j);
}

/* Values [n * p0 / parts, n * p1 / parts) of an activation, in place. */
static void activate_parts(void *ctx, int p0, int p1, int thread) {
    const rows_job *j = ctx;
    (void)thread;
    size_t a = j->n * (size_t)p0 / (size_t)j->parts;
    size_t e = j->n * (size_t)p1 / (size_t)j->parts;
    op_activate(j->out + a, e - a, j->act);
}

static void par_activate(float *x, size_t n, t5e_activation act) {
    rows_job j = {x, NULL, NULL, NULL, NULL, 0, 0, parts_for(n), 0.0f, n,
                  act};
    pool_for(j.parts, activate_parts, &j);
}

/* out = LayerNorm(y + res) over rows of D: the post-LN residual, the add
 * done by each thread on its own rows. */
static void residual_layernorm(float *out, float *y, const float *res,
                               const float *w, const float *b, int M, int D,
                               float eps) {
    par_layernorm(out, y, res, w, b, M, D, eps);
}

/* ------------------------------------------------------------------ */
/* Forward steps                                                       */
/* ------------------------------------------------------------------ */

void electra_embed(const t5e_electra *m, int B, int S, const int32_t *ids,
                   const int32_t *types, float *emb, float *x) {
    const t5e_electra_config *c = &m->cfg;
    const electra_params *p = &m->p;
    int E = c->embedding_size, BS = B * S;
    /* Same order as the reference: (word + type) + position; relative
     * position types add no position here (the reference skips it). */
    int absolute = c->position_embedding_type == T5E_POSITION_ABSOLUTE;
    for (int t = 0; t < BS; t++) {
        const float *we = p->word + (size_t)ids[t] * E;
        const float *te = p->type + (size_t)(types ? types[t] : 0) * E;
        const float *pe = p->pos + (size_t)(t % S) * E;
        float *o = emb + (size_t)t * E;
        for (int d = 0; d < E; d++)
            o[d] = absolute ? (we[d] + te[d]) + pe[d] : we[d] + te[d];
    }
    par_layernorm(emb, emb, NULL, p->eln_w, p->eln_b, BS, E,
                  c->layer_norm_eps);
    if (p->proj_w)
        op_linear(x, emb, p->proj_w, p->proj_b, BS, E, c->hidden_size);
    else if (x != emb)
        memcpy(x, emb, (size_t)BS * E * sizeof *x);
}


/* ------------------------------------------------------------------ */
/* Relative position scores                                            */
/* ------------------------------------------------------------------ */

size_t electra_rel_scratch(int S) {
    return (size_t)S * (2 * (size_t)S - 1);
}

/*
 * The distances of S positions run from -(S-1) to S-1, rows P - S ..
 * P + S - 2 of the table: one product of q (or k) with those 2S - 1
 * rows gives w [S, 2S - 1], and score (i, j) takes column i - j + S - 1
 * of row i (of row j for the key term).
 */
void electra_rel_scores(float *sc, const float *q, const float *k, int ld,
                        const float *rel, int P, int S, int HD, int with_key,
                        float scale, float *w) {
    int W = 2 * S - 1;
    const float *ew = rel + (size_t)(P - S) * HD;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, W, HD, scale, q,
                ld, ew, HD, 0.0f, w, W);
    for (int i = 0; i < S; i++) {
        float *row = sc + (size_t)i * S;
        const float *wi = w + (size_t)i * W + i + S - 1; /* distance i - 0 */
        for (int j = 0; j < S; j++)
            row[j] += wi[-j];
    }
    if (!with_key)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, W, HD, scale, k,
                ld, ew, HD, 0.0f, w, W);
    for (int i = 0; i < S; i++) {
        float *row = sc + (size_t)i * S;
        for (int j = 0; j < S; j++)
            row[j] += w[(size_t)j * W + i - j + S - 1];
    }
}

size_t electra_attn_scratch(const t5e_electra_config *c, int S) {
    size_t per = (size_t)S * S;
    if (c->position_embedding_type != T5E_POSITION_ABSOLUTE)
        per += electra_rel_scratch(S);
    return (size_t)core_max_threads() * per;
}

typedef struct {
    int S, H, NH, HD, ld;
    float scale;
    const int32_t *mask;
    const float *q, *k, *v;
    const float *rel; /* distance table, NULL for absolute positions */
    int P, with_key;
    float *ctx, *scratch;
    size_t per_thread; /* scratch floats of one thread */
} heads_job;

/*
 * Attention of one (batch item, head) through BLAS: scores [S, S] =
 * scale * Q K^T (+ relative terms) + mask, softmax per row, ctx = P V.
 * Q, K, V, ctx are column blocks of [S, H] rows (leading dimension ld).
 */
static void attention_head(const heads_job *j, float *ctx, const float *q,
                           const float *k, const float *v,
                           const int32_t *mask, float *sc) {
    int S = j->S, ld = j->ld, HD = j->HD;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, S, S, HD, j->scale,
                q, ld, k, ld, 0.0f, sc, S);
    if (j->rel)
        electra_rel_scores(sc, q, k, ld, j->rel, j->P, S, HD, j->with_key,
                           j->scale, sc + (size_t)S * S);
    for (int i = 0; i < S; i++) {
        float *row = sc + (size_t)i * S;
        /* The reference adds (1 - mask) * float32_min, not -inf. */
        for (int c = 0; mask && c < S; c++)
            if (!mask[c])
                row[c] += OP_MASKED;
        op_softmax(row, S);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, S, HD, S, 1.0f,
                sc, S, v, ld, 0.0f, ctx, j->H);
}

/* Heads bh0 .. bh1-1 (batch item b = bh / NH, head h = bh % NH). */
static void heads_range(void *p, int bh0, int bh1, int thread) {
    const heads_job *j = p;
    float *sc = j->scratch + (size_t)thread * j->per_thread;
    for (int bh = bh0; bh < bh1; bh++) {
        int b = bh / j->NH, h = bh % j->NH;
        size_t o = (size_t)b * j->S * j->H + (size_t)h * j->HD;
        size_t oi = (size_t)b * j->S * j->ld + (size_t)h * j->HD;
        attention_head(j, j->ctx + o, j->q + oi, j->k + oi, j->v + oi,
                       j->mask ? j->mask + (size_t)b * j->S : NULL, sc);
    }
}

/* q, k, v [B, S, H] -> ctx [B, S, H]; scratch: electra_attn_scratch.
 * Heads are the unit of parallelism, on the pool (core/pool.h), where
 * BLAS runs single-threaded. */
void electra_attention_ld(const t5e_electra *m, int B, int S,
                          const int32_t *mask, const float *q,
                          const float *k, const float *v, const float *rel,
                          int ld, float *ctx, float *scratch) {
    const t5e_electra_config *c = &m->cfg;
    int H = c->hidden_size, NH = c->num_attention_heads;
    heads_job j = {S, H, NH, H / NH, ld, 1.0f / sqrtf((float)(H / NH)),
                   mask, q, k, v, rel, c->max_position_embeddings,
                   c->position_embedding_type ==
                       T5E_POSITION_RELATIVE_KEY_QUERY,
                   ctx, scratch, electra_attn_scratch(c, S) /
                                     (size_t)core_max_threads()};
    pool_for(B * NH, heads_range, &j);
}

void electra_attention(const t5e_electra *m, int B, int S,
                       const int32_t *mask, const float *q, const float *k,
                       const float *v, const float *rel, float *ctx,
                       float *scratch) {
    electra_attention_ld(m, B, S, mask, q, k, v, rel, m->cfg.hidden_size,
                         ctx, scratch);
}

/* The relative terms as an additive bias [NH, S, S], summed the plain
 * way (no table window, no product): the test reference. */
static void rel_bias_ref(float *bias, const t5e_electra_config *c, int S,
                         const float *q, const float *k, const float *rel,
                         float scale) {
    int H = c->hidden_size, NH = c->num_attention_heads, HD = H / NH;
    int P = c->max_position_embeddings;
    int kq = c->position_embedding_type == T5E_POSITION_RELATIVE_KEY_QUERY;
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                const float *e = rel + (size_t)(i - j + P - 1) * HD;
                const float *qi = q + (size_t)i * H + h * HD;
                const float *kj = k + (size_t)j * H + h * HD;
                double sum = 0;
                for (int d = 0; d < HD; d++)
                    sum += (double)qi[d] * e[d] + (kq ? (double)kj[d] * e[d]
                                                       : 0.0);
                bias[((size_t)h * S + i) * S + j] = (float)(scale * sum);
            }
}

void electra_attention_ref(const t5e_electra *m, int B, int S,
                           const int32_t *mask, const float *q,
                           const float *k, const float *v, const float *rel,
                           float *ctx) {
    int H = m->cfg.hidden_size, NH = m->cfg.num_attention_heads;
    attn_shape a = {0};
    a.Tq = a.Tk = S;
    a.H = NH;
    a.dk = H / NH;
    a.q_stride = a.kv_stride = a.o_stride = H;
    a.scale = 1.0f / sqrtf((float)a.dk);
    float *bias = rel ? malloc((size_t)NH * S * S * sizeof *bias) : NULL;
    if (rel && !bias) { /* a test helper: NaNs make the comparison fail */
        for (size_t t = 0; t < (size_t)B * S * H; t++)
            ctx[t] = NAN;
        return;
    }
    a.bias_h = (long)S * S;
    a.bias_q = S;
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * S * H;
        a.key_mask = mask ? mask + (size_t)b * S : NULL;
        if (rel)
            rel_bias_ref(bias, &m->cfg, S, q + o, k + o, rel, a.scale);
        a.bias = bias;
        op_attention(ctx + o, q + o, k + o, v + o, &a);
    }
    free(bias);
}

void electra_layer_forward(const t5e_electra *m, const electra_layer *l,
                           int B, int S, const int32_t *mask, float *x,
                           const electra_layer_acts *a, float *scratch) {
    const t5e_electra_config *c = &m->cfg;
    int H = c->hidden_size, F = c->intermediate_size, BS = B * S;
    float eps = c->layer_norm_eps;

    /* Self-attention, output dense, residual + LayerNorm -> h1. */
    if (l->qkv_mem) {
        wmat_linear(a->qkv, x, &l->qkv_w, l->qkv_b, BS, 0);
        electra_attention_ld(m, B, S, mask, a->qkv, a->qkv + H,
                             a->qkv + 2 * H, l->rel, 3 * H, a->ctx, scratch);
    } else { /* a training net's view: its weights change every step */
        float *q = a->qkv, *k = q + (size_t)BS * H, *v = k + (size_t)BS * H;
        wmat_linear(q, x, &l->q_w, l->q_b, BS, 0);
        wmat_linear(k, x, &l->k_w, l->k_b, BS, 0);
        wmat_linear(v, x, &l->v_w, l->v_b, BS, 0);
        electra_attention(m, B, S, mask, q, k, v, l->rel, a->ctx, scratch);
    }
    wmat_linear(a->tmp, a->ctx, &l->ao_w, l->ao_b, BS, 0);
    residual_layernorm(a->h1, a->tmp, x, l->aln_w, l->aln_b, BS, H, eps);

    /* Feed-forward, residual + LayerNorm -> x. */
    wmat_linear(a->ff, a->h1, &l->ff1_w, l->ff1_b, BS, 0);
    par_activate(a->ff, (size_t)BS * F, c->hidden_act);
    wmat_linear(a->tmp, a->ff, &l->ff2_w, l->ff2_b, BS, 0);
    residual_layernorm(x, a->tmp, a->h1, l->fln_w, l->fln_b, BS, H, eps);
}

void electra_head_detect(const t5e_electra *m, int B, int S,
                         const float *x, float *work, float *logits) {
    const electra_params *p = &m->p;
    int H = m->cfg.hidden_size, BS = B * S;
    op_linear(work, x, p->hd_w, p->hd_b, BS, H, H);
    par_activate(work, (size_t)BS * H, m->cfg.hidden_act);
    op_linear(logits, work, p->hout_w, p->hout_b, BS, H, 1);
}

void electra_head_mlm(const t5e_electra *m, int B, int S, const float *x,
                      float *work, float *logits) {
    const electra_params *p = &m->p;
    const t5e_electra_config *c = &m->cfg;
    int E = c->embedding_size, BS = B * S;
    op_linear(work, x, p->hd_w, p->hd_b, BS, c->hidden_size, E);
    /* The generator head uses the exact GELU whatever hidden_act is. */
    par_activate(work, (size_t)BS * E, T5E_ACT_GELU);
    par_layernorm(work, work, NULL, p->hln_w, p->hln_b, BS, E,
                  c->layer_norm_eps);
    op_linear(logits, work, p->hout_w, p->hout_b, BS, E, c->vocab_size);
}

void electra_head_classify(const t5e_electra *m, int B, int S,
                           const float *x, float *work, float *logits) {
    const electra_params *p = &m->p;
    int H = m->cfg.hidden_size;
    float *cls = work, *hid = work + (size_t)B * H; /* [B, H] each */
    for (int b = 0; b < B; b++)
        memcpy(cls + (size_t)b * H, x + (size_t)b * S * H, H * sizeof *cls);
    op_linear(hid, cls, p->hd_w, p->hd_b, B, H, H);
    /* Exact GELU here too, not hidden_act (ElectraClassificationHead). */
    op_activate(hid, (size_t)B * H, T5E_ACT_GELU);
    op_linear(logits, hid, p->hout_w, p->hout_b, B, H, m->cfg.num_labels);
}

/* ------------------------------------------------------------------ */
/* Workspace and the encoder                                           */
/* ------------------------------------------------------------------ */

typedef struct {
    float *emb;    /* [B, S, E] */
    float *x;      /* [B, S, H] residual stream */
    float *work;   /* [B, S, max(H, E)] head work */
    float *scratch;
    electra_layer_acts a;
} ws_views;

/* Carves the views from one buffer, growing it when needed.  With
 * ws == NULL only computes the size. */
static size_t ws_carve(const t5e_electra *m, int B, int S, float *ws,
                       ws_views *v) {
    const t5e_electra_config *c = &m->cfg;
    size_t BS = (size_t)B * S, E = c->embedding_size, H = c->hidden_size;
    size_t F = c->intermediate_size, n = 0;
    size_t work = BS * (H > E ? H : E);
    if (work < 2 * (size_t)B * H)
        work = 2 * (size_t)B * H; /* the classifier's [2, B, H] */
    size_t sizes[] = {BS * E, BS * H, work, electra_attn_scratch(c, S),
                      3 * BS * H, BS * H, BS * H, BS * F, BS * H};
    float **dst[] = {&v->emb, &v->x, &v->work, &v->scratch, &v->a.qkv,
                     &v->a.ctx, &v->a.h1, &v->a.ff, &v->a.tmp};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (ws)
            *dst[i] = ws + n;
        /* Keep every view 64-byte aligned for the BLAS kernels. */
        n += (sizes[i] + 15) & ~(size_t)15;
    }
    return n;
}

static t5e_status ws_reserve(t5e_electra *m, int B, int S, ws_views *v,
                             t5e_err *err) {
    size_t need = ws_carve(m, B, S, NULL, v);
    if (need > m->ws_len) {
        free(m->ws);
        m->ws_len = 0;
        m->ws = NULL;
        if (posix_memalign((void **)&m->ws, 64, need * sizeof(float)))
            return err_set(err, T5E_ERR_NOMEM, "electra: out of memory for "
                           "a workspace of B=%d, S=%d (%zu MB)", B, S,
                           need * sizeof(float) >> 20);
        m->ws_len = need;
    }
    ws_carve(m, B, S, m->ws, v);
    return T5E_OK;
}

static t5e_status check_ids(const int32_t *a, int B, int S, int hi,
                            const char *what, const char *limit,
                            t5e_err *err) {
    for (int b = 0; b < B; b++)
        for (int s = 0; s < S; s++) {
            int32_t id = a[(size_t)b * S + s];
            if (id < 0 || id >= hi)
                return err_set(err, T5E_ERR_ARG, "electra: %s[%d][%d] = %d "
                               "is out of range [0, %d) (%s)", what, b, s,
                               id, hi, limit);
        }
    return T5E_OK;
}

static t5e_status check_inputs(const t5e_electra *m, int B, int S,
                               const int32_t *ids, const int32_t *types,
                               const int32_t *mask, t5e_err *err) {
    const t5e_electra_config *c = &m->cfg;
    if (B <= 0 || S <= 0 || !ids)
        return err_set(err, T5E_ERR_ARG, "electra: empty input (B=%d, S=%d)",
                       B, S);
    if (S > c->max_position_embeddings)
        return err_set(err, T5E_ERR_ARG, "electra: sequence of %d tokens is "
                       "longer than the model's limit of %d "
                       "(max_position_embeddings)", S,
                       c->max_position_embeddings);
    t5e_status s = check_ids(ids, B, S, c->vocab_size, "ids", "vocab_size",
                             err);
    if (!s && types)
        s = check_ids(types, B, S, c->type_vocab_size, "type_ids",
                      "type_vocab_size", err);
    if (!s && mask)
        s = check_ids(mask, B, S, 2, "mask", "0 or 1", err);
    return s;
}

static void apply_threads(const t5e_electra *m) {
    if (m->n_threads <= 0)
        return;
#ifdef _OPENMP
    omp_set_num_threads(m->n_threads);
#endif
    openblas_set_num_threads(m->n_threads);
}

/*
 * Checks the inputs, reserves the workspace and runs embeddings and
 * layers; v->x then holds the last layer's output.  emb and hs as in
 * electra_forward_trace.
 */
static t5e_status run_encoder(t5e_electra *m, int B, int S,
                              const int32_t *ids, const int32_t *types,
                              const int32_t *mask, ws_views *v, float *emb,
                              float *const *hs, t5e_err *err) {
    t5e_status s = check_inputs(m, B, S, ids, types, mask, err);
    if (!s)
        s = ws_reserve(m, B, S, v, err);
    if (s)
        return s;
    apply_threads(m);
    size_t nH = (size_t)B * S * m->cfg.hidden_size;
    electra_embed(m, B, S, ids, types, v->emb, v->x);
    if (emb)
        memcpy(emb, v->emb,
               (size_t)B * S * m->cfg.embedding_size * sizeof *emb);
    for (int i = 0; i < m->cfg.num_hidden_layers; i++) {
        if (hs)
            memcpy(hs[i], v->x, nH * sizeof *v->x);
        electra_layer_forward(m, &m->p.layers[i], B, S, mask, v->x, &v->a,
                              v->scratch);
    }
    if (hs)
        memcpy(hs[m->cfg.num_hidden_layers], v->x, nH * sizeof *v->x);
    return T5E_OK;
}

t5e_status electra_forward_trace(t5e_electra *m, int B, int S,
                                 const int32_t *ids, const int32_t *types,
                                 const int32_t *mask, float *emb,
                                 float *const *hs, t5e_err *err) {
    ws_views v;
    return run_encoder(m, B, S, ids, types, mask, &v, emb, hs, err);
}

/* ------------------------------------------------------------------ */
/* Public entry points                                                 */
/* ------------------------------------------------------------------ */

static t5e_status need_head(const t5e_electra *m, t5e_electra_head want,
                            const char *fn, t5e_err *err) {
    if (m->cfg.head == want)
        return T5E_OK;
    return err_set(err, T5E_ERR_ARG, "%s needs %s, but %s is %s", fn,
                   head_desc(want), m->store.dir, head_desc(m->cfg.head));
}

t5e_status t5e_electra_hidden(t5e_electra *m, int B, int S,
                              const int32_t *ids, const int32_t *type_ids,
                              const int32_t *mask, float *hidden,
                              t5e_err *err) {
    ws_views v;
    t5e_status s = run_encoder(m, B, S, ids, type_ids, mask, &v, NULL,
                               NULL, err);
    if (!s)
        memcpy(hidden, v.x,
               (size_t)B * S * m->cfg.hidden_size * sizeof *hidden);
    return s;
}

t5e_status t5e_electra_detect(t5e_electra *m, int B, int S,
                              const int32_t *ids, const int32_t *type_ids,
                              const int32_t *mask, float *logits,
                              t5e_err *err) {
    ws_views v;
    t5e_status s = need_head(m, T5E_ELECTRA_DISCRIMINATOR,
                                 "t5e_electra_detect", err);
    if (!s)
        s = run_encoder(m, B, S, ids, type_ids, mask, &v, NULL, NULL, err);
    if (!s)
        electra_head_detect(m, B, S, v.x, v.work, logits);
    return s;
}

t5e_status t5e_electra_mlm(t5e_electra *m, int B, int S, const int32_t *ids,
                           const int32_t *type_ids, const int32_t *mask,
                           float *logits, t5e_err *err) {
    ws_views v;
    t5e_status s = need_head(m, T5E_ELECTRA_GENERATOR, "t5e_electra_mlm", err);
    if (!s)
        s = run_encoder(m, B, S, ids, type_ids, mask, &v, NULL, NULL, err);
    if (!s)
        electra_head_mlm(m, B, S, v.x, v.work, logits);
    return s;
}

t5e_status t5e_electra_classify(t5e_electra *m, int B, int S,
                                const int32_t *ids, const int32_t *type_ids,
                                const int32_t *mask, float *logits,
                                t5e_err *err) {
    ws_views v;
    t5e_status s = need_head(m, T5E_ELECTRA_CLASSIFIER,
                                 "t5e_electra_classify", err);
    if (!s)
        s = run_encoder(m, B, S, ids, type_ids, mask, &v, NULL, NULL, err);
    if (!s)
        electra_head_classify(m, B, S, v.x, v.work, logits);
    return s;
}

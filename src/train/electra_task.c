/* electra_task.c - see electra_task.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "ops/ops.h"
#include "train/checkpoint.h"
#include "train/electra_task.h"
#include "train/metrics.h"

/* The evaluation draws its masks and samples from this fixed seed, so
 * every evaluation scores the same corrupted held-out sequences. */
#define EVAL_SEED 0x5eed5eedULL
/* data_permutation stream of the classifier's epoch order */
#define CLS_STREAM 7

/* ------------------------------------------------------------------ */
/* Shapes                                                              */
/* ------------------------------------------------------------------ */

/* The sizes as the inference loader reads them, plus hidden_act. */
static t5e_status read_sizes(const config_file *cf, t5e_electra_config *c,
                             t5e_err *err) {
    const char *act;
    t5e_status s = electra_read_sizes(cf, c, err);
    if (!s)
        s = config_string(cf, "hidden_act", "gelu", &act, err);
    if (!s && !op_activation_from_name(act, &c->hidden_act))
        s = err_set(err, T5E_ERR_UNSUPPORTED, "%s: hidden_act '%s' is not "
                    "supported", cf->path, act);
    const char *pos;
    if (!s)
        s = config_string(cf, "position_embedding_type", "absolute", &pos,
                          err);
    if (!s && !electra_position_from_name(pos, &c->position_embedding_type))
        s = err_set(err, T5E_ERR_UNSUPPORTED, "%s: position_embedding_type "
                    "'%s' is not supported (absolute, relative_key or "
                    "relative_key_query)", cf->path, pos);
    return s;
}

t5e_status electra_task_read_config(const char *path, t5e_electra_config *c,
                                    float *initializer_range, t5e_err *err) {
    char file[4096];
    config_file cf;
    memset(c, 0, sizeof *c);
    if (dir_exists(path))
        path_join(file, sizeof file, path, "config.json");
    else
        snprintf(file, sizeof file, "%s", path);
    t5e_status s = config_open(file, &cf, err);
    if (s)
        return s;
    s = read_sizes(&cf, c, err);
    if (!s && initializer_range)
        s = config_float(&cf, "initializer_range", 0.02, initializer_range,
                         err);
    config_close(&cf);
    return s;
}

void electra_task_generator_of(const t5e_electra_config *disc,
                               t5e_electra_config *gen) {
    *gen = *disc;
    gen->head = T5E_ELECTRA_GENERATOR;
    gen->num_attention_heads = disc->num_attention_heads / 4 > 1
                                   ? disc->num_attention_heads / 4 : 1;
    /* a width the heads divide: H / 4 rounded down to a multiple */
    int NH = gen->num_attention_heads, H = disc->hidden_size / 4;
    gen->hidden_size = H / NH > 0 ? H / NH * NH : NH;
    gen->intermediate_size = disc->intermediate_size / 4 > 0
                                 ? disc->intermediate_size / 4 : 1;
}

int electra_task_named_config(const char *name, int V, int P,
                              t5e_electra_config *disc,
                              t5e_electra_config *gen) {
    memset(disc, 0, sizeof *disc);
    disc->vocab_size = V;
    disc->max_position_embeddings = P;
    disc->type_vocab_size = 2;
    disc->hidden_act = T5E_ACT_GELU;
    disc->layer_norm_eps = 1e-12f;
    disc->hidden_dropout_prob = disc->attention_probs_dropout_prob = 0.1f;
    disc->classifier_dropout = -1.0f;
    disc->embedding_size = 128;
    disc->head = T5E_ELECTRA_DISCRIMINATOR;
    if (!strcmp(name, "small")) {
        disc->hidden_size = 256, disc->num_hidden_layers = 12;
        disc->num_attention_heads = 4, disc->intermediate_size = 1024;
    } else if (!strcmp(name, "tiny")) {
        disc->hidden_size = 128, disc->num_hidden_layers = 4;
        disc->num_attention_heads = 2, disc->intermediate_size = 512;
    } else {
        return 0;
    }
    electra_task_generator_of(disc, gen);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Shared helpers                                                      */
/* ------------------------------------------------------------------ */

/*
 * Copies the WordPiece files beside `vocab` (a vocab.txt, or a folder
 * holding one) into dir: vocab.txt, and tokenizer_config.json and
 * special_tokens_map.json when present; without a tokenizer_config.json
 * a minimal one records the lower-casing the tokenizer used.
 */
static t5e_status copy_tokenizer(const char *vocab, const char *dir,
                                 t5e_err *err) {
    static const char *const extra[] = {"tokenizer_config.json",
                                        "special_tokens_map.json"};
    char src_dir[4096], src[4200], dst[4200];
    if (dir_exists(vocab)) {
        snprintf(src_dir, sizeof src_dir, "%s", vocab);
        path_join(src, sizeof src, vocab, "vocab.txt");
    } else {
        snprintf(src_dir, sizeof src_dir, "%s", vocab);
        char *slash = strrchr(src_dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(src_dir, sizeof src_dir, ".");
        snprintf(src, sizeof src, "%s", vocab);
    }
    path_join(dst, sizeof dst, dir, "vocab.txt");
    t5e_status s = copy_file(src, dst, err);
    int have_config = 0;
    for (int i = 0; i < 2 && !s; i++) {
        path_join(src, sizeof src, src_dir, extra[i]);
        path_join(dst, sizeof dst, dir, extra[i]);
        if (!file_exists(src))
            continue;
        have_config |= i == 0;
        s = copy_file(src, dst, err);
    }
    if (!s && !have_config) {
        path_join(dst, sizeof dst, dir, "tokenizer_config.json");
        s = write_text_file(dst, "{\n  \"do_lower_case\": true,\n  "
                            "\"tokenizer_class\": \"ElectraTokenizer\"\n}\n",
                            err);
    }
    return s;
}

/* ------------------------------------------------------------------ */
/* Pretraining                                                         */
/* ------------------------------------------------------------------ */

static t5e_status special_ids(electra_pretrain_task *t, t5e_err *err) {
    t5e_special_ids sp = t5e_tokenizer_special_ids(t->tok);
    if (sp.mask < 0 || sp.cls < 0 || sp.sep < 0 || sp.pad < 0)
        return err_set(err, T5E_ERR_CONFIG, "%s: the vocabulary needs "
                       "[MASK], [CLS], [SEP] and [PAD]", t->opt.vocab_path);
    electra_pretrain_config *pc = &t->model->pc;
    pc->mask_id = sp.mask, pc->cls_id = sp.cls;
    pc->sep_id = sp.sep, pc->pad_id = sp.pad;
    return T5E_OK;
}

t5e_status electra_pretrain_task_init(electra_pretrain_task *t,
                                      const electra_pretrain_task_options *o,
                                      electra_pretrain *model,
                                      t5e_err *err) {
    memset(t, 0, sizeof *t);
    t->opt = *o;
    t->model = model;
    rng_seed(&t->rng, o->seed ^ 0x6d61736bULL);
    t5e_status s = t5e_tokenizer_load(o->vocab_path, &t->tok, err);
    if (!s)
        s = special_ids(t, err);
    if (!s)
        s = shard_open(o->shard_path, &t->shard, err);
    if (!s)
        s = shard_check_tokenizer(&t->shard, t->tok, err);
    if (!s)
        s = electra_data_init(&t->data, &t->shard, t->tok, o->seq_len,
                              o->seed, err);
    if (!s && o->dev_shard_path) {
        s = shard_open(o->dev_shard_path, &t->dev_shard, err);
        t->has_dev = !s;
        if (!s)
            s = shard_check_tokenizer(&t->dev_shard, t->tok, err);
    }
    size_t BS = (size_t)o->batch_size * o->seq_len;
    if (!s) {
        t->ids = xmalloc_array(BS, 4), t->types = xmalloc_array(BS, 4);
        t->mask = xmalloc_array(BS, 4);
        if (!t->ids || !t->types || !t->mask)
            s = err_set(err, T5E_ERR_NOMEM, "batch buffers");
    }
    if (s)
        electra_pretrain_task_free(t);
    return s;
}

void electra_pretrain_task_free(electra_pretrain_task *t) {
    if (t->data.sh)
        electra_data_free(&t->data);
    shard_close(&t->shard);
    if (t->has_dev)
        shard_close(&t->dev_shard);
    t5e_tokenizer_free(t->tok);
    free(t->ids), free(t->types), free(t->mask);
    memset(t, 0, sizeof *t);
}

static t5e_status pre_step(void *ctx, long step, double *metrics,
                           double *tokens, t5e_err *err) {
    electra_pretrain_task *t = ctx;
    int B = t->opt.batch_size, S = t->opt.seq_len, k = t->opt.grad_accum;
    double gen = 0, disc = 0, acc = 0;
    *tokens = 0;
    for (int i = 0; i < k; i++) {
        electra_pretrain_stats st;
        t5e_status s = electra_data_next_batch(&t->data, B, S, t->ids,
                                               t->types, t->mask, err);
        /* the dropout key comes from the checkpointed generator, so a
         * resumed run draws the same masks */
        t->model->drop_on = 1;
        t->model->drop_key = rng_next(&t->rng);
        if (!s)
            s = electra_pretrain_step(t->model, B, S, t->ids, t->types,
                                      t->mask, &t->rng, 1.0f / k, &st, err);
        if (s)
            return err_prefix(err, s, "step %ld", step + 1);
        gen += st.gen_loss, disc += st.disc_loss, acc += st.disc_acc;
        *tokens += st.n_tokens;
    }
    metrics[0] = gen / k;
    metrics[1] = disc / k;
    metrics[2] = acc / k;
    metrics[3] = gen / k + t->model->pc.disc_weight * disc / k;
    return T5E_OK;
}

/* Keeps the attention-mask positions of a batch: scores and labels. */
static int gather_positions(const electra_pretrain_task *t, const float *z,
                            const int *y, float *scores, int *labels) {
    int n = 0;
    size_t BS = (size_t)t->opt.batch_size * t->opt.seq_len;
    for (size_t i = 0; i < BS; i++)
        if (t->mask[i]) {
            scores[n] = z[i];
            labels[n++] = y[i];
        }
    return n;
}

/*
 * Detection quality on the held-out sequences: the first eval_examples
 * sequences of the dev shard (packed with EVAL_SEED), masked and sampled
 * with EVAL_SEED, so every evaluation sees the same corruption.
 * metrics: auc, f1, precision, recall, accuracy, gen_loss, disc_loss.
 */
static t5e_status pre_eval(void *ctx, double *metrics, t5e_err *err) {
    electra_pretrain_task *t = ctx;
    int B = t->opt.batch_size, S = t->opt.seq_len;
    int nb = (t->opt.eval_examples + B - 1) / B;
    size_t BS = (size_t)B * S, cap = BS * (size_t)nb;
    electra_data d;
    rng_state r;
    rng_seed(&r, EVAL_SEED);
    float *z = xmalloc_array(BS, sizeof *z);
    int *y = xmalloc_array(BS, sizeof *y);
    float *scores = xmalloc_array(cap, sizeof *scores);
    int *labels = xmalloc_array(cap, sizeof *labels);
    int *pred = xmalloc_array(cap, sizeof *pred);
    t5e_status s = z && y && scores && labels && pred ? T5E_OK
        : err_set(err, T5E_ERR_NOMEM, "evaluation buffers");
    int have_data = 0;
    if (!s)
        have_data = !(s = electra_data_init(&d, &t->dev_shard, t->tok, S,
                                            EVAL_SEED, err));
    double gen = 0, disc = 0;
    int n = 0;
    for (int b = 0; b < nb && !s; b++) {
        electra_pretrain_stats st;
        s = electra_data_next_batch(&d, B, S, t->ids, t->types, t->mask,
                                    err);
        if (!s)
            s = electra_pretrain_eval_batch(t->model, B, S, t->ids, t->types,
                                            t->mask, &r, z, y, &st, err);
        if (s)
            break;
        n += gather_positions(t, z, y, scores + n, labels + n);
        gen += st.gen_loss, disc += st.disc_loss;
    }
    if (have_data)
        electra_data_free(&d);
    if (!s) {
        for (int i = 0; i < n; i++)
            pred[i] = scores[i] > 0.0f;
        double auc = metric_auc(scores, labels, n);
        metrics[0] = isfinite(auc) ? auc : 0.5;
        metric_prf(pred, labels, n, 1, &metrics[2], &metrics[3],
                   &metrics[1]);
        metrics[4] = metric_accuracy(pred, labels, n);
        metrics[5] = gen / nb, metrics[6] = disc / nb;
    }
    free(z), free(y), free(scores), free(labels), free(pred);
    return s;
}

static t5e_status pre_save(void *ctx, const char *dir, t5e_err *err) {
    electra_pretrain_task *t = ctx;
    char dd[4096], gd[4096];
    if (!path_join(dd, sizeof dd, dir, "discriminator") ||
        !path_join(gd, sizeof gd, dir, "generator"))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", dir);
    t5e_status s = electra_pretrain_save(t->model, dd, gd, err);
    if (!s)
        s = copy_tokenizer(t->opt.vocab_path, dd, err);
    if (!s)
        s = copy_tokenizer(t->opt.vocab_path, gd, err);
    return s;
}

/* Reads the parameters named pre* from a folder's weights. */
static t5e_status load_prefixed(param_set *ps, const char *pre,
                                const char *dir, t5e_err *err) {
    t5e_electra *m = NULL;
    size_t n = strlen(pre);
    t5e_status s = t5e_electra_load(dir, NULL, &m, err);
    for (int i = 0; i < ps->n && !s; i++)
        if (!strncmp(ps->p[i].name, pre, n))
            s = param_load_as(ps, i, &m->store, ps->p[i].name + n, err);
    t5e_electra_free(m);
    return s;
}

static t5e_status pre_load(void *ctx, const char *dir, t5e_err *err) {
    electra_pretrain_task *t = ctx;
    char dd[4096], gd[4096];
    path_join(dd, sizeof dd, dir, "discriminator");
    path_join(gd, sizeof gd, dir, "generator");
    /* the generator folder's embeddings are the shared ones: only the
     * discriminator's are read */
    t5e_status s = load_prefixed(&t->model->ps, "disc.", dd, err);
    return s ? s : load_prefixed(&t->model->ps, "gen.", gd, err);
}

static t5e_status pre_save_state(void *ctx, cJSON *obj, t5e_err *err) {
    electra_pretrain_task *t = ctx;
    electra_data_state st;
    electra_data_state_get(&t->data, &st);
    json_add_bytes(obj, "electra_data", &st, sizeof st);
    json_add_bytes(obj, "mask_rng", &t->rng, sizeof t->rng);
    return T5E_OK;
}

static t5e_status pre_load_state(void *ctx, const cJSON *obj,
                                 t5e_err *err) {
    electra_pretrain_task *t = ctx;
    electra_data_state st;
    if (!json_get_bytes(obj, "electra_data", &st, sizeof st) ||
        !json_get_bytes(obj, "mask_rng", &t->rng, sizeof t->rng))
        return err_set(err, T5E_ERR_FORMAT, "trainer state: bad "
                       "electra_data or mask_rng");
    return electra_data_restore(&t->data, &st, err);
}

trainer_task electra_pretrain_task_callbacks(electra_pretrain_task *t) {
    static const char *const step_names[] = {"gen_loss", "disc_loss",
                                             "disc_acc", "loss"};
    /* AUC comes first: it does not depend on a threshold, and F1 at
     * logit 0 stays near 0 for many steps while the discriminator already
     * ranks replaced tokens above original ones.  It does not select a
     * model (keep_last): the held-out replacements come from the current
     * generator, so later steps face a harder test (session 4: the
     * step-300 model, 0.71 on the first generator's samples, was kept
     * over far better trained ones). */
    static const char *const eval_names[] = {
        "disc_auc", "disc_f1", "disc_precision", "disc_recall",
        "disc_accuracy", "gen_loss", "disc_loss"};
    trainer_task task = {
        .ctx = t,
        .metric_names = step_names,
        .n_metrics = 4,
        .eval_names = eval_names,
        .n_eval = 7,
        .step = pre_step,
        .evaluate = t->has_dev ? pre_eval : NULL,
        .keep_last = 1,
        .save_model = pre_save,
        .load_model = pre_load,
        .save_state = pre_save_state,
        .load_state = pre_load_state,
    };
    return task;
}

/* ------------------------------------------------------------------ */
/* Sequence classification                                             */
/* ------------------------------------------------------------------ */

t5e_status electra_cls_task_init(electra_cls_task *t,
                                 const electra_cls_task_options *o,
                                 t5e_err *err) {
    memset(t, 0, sizeof *t);
    t->opt = *o;
    t->order_epoch = UINT64_MAX;
    t5e_status s = t5e_tokenizer_load(o->tokenizer_dir, &t->tok, err);
    if (!s)
        s = labeled_open(o->train_path, o->format, NULL, 0, &t->train, err);
    if (!s && t->train.n == 0)
        s = err_set(err, T5E_ERR_FORMAT, "%s: no examples", o->train_path);
    if (!s && o->dev_path) {
        s = labeled_open(o->dev_path, o->format,
                         (const char *const *)t->train.label_names,
                         t->train.n_labels, &t->dev, err);
        t->has_dev = !s;
    }
    if (s) {
        electra_cls_task_free(t);
        return s;
    }
    int B = o->batch_size, L = t->train.n_labels;
    t->B = t->train.n < B ? (int)t->train.n : B;
    size_t BS = (size_t)B * o->seq_len;
    t->order = xmalloc_array((size_t)t->train.n, sizeof *t->order);
    t->idx = xmalloc_array((size_t)B, sizeof *t->idx);
    t->ids = xmalloc_array(BS, 4), t->types = xmalloc_array(BS, 4);
    t->mask = xmalloc_array(BS, 4), t->labels = xmalloc_array(B, 4);
    t->logits = xmalloc_array((size_t)B * (L > 0 ? L : 1), 4);
    if (!t->order || !t->idx || !t->ids || !t->types || !t->mask ||
        !t->labels || !t->logits) {
        electra_cls_task_free(t);
        return err_set(err, T5E_ERR_NOMEM, "batch buffers");
    }
    return T5E_OK;
}

void electra_cls_task_free(electra_cls_task *t) {
    if (t->train.buf || t->train.ex)
        labeled_free(&t->train);
    if (t->has_dev)
        labeled_free(&t->dev);
    t5e_tokenizer_free(t->tok);
    free(t->order), free(t->idx), free(t->ids), free(t->types);
    free(t->mask), free(t->labels), free(t->logits);
    memset(t, 0, sizeof *t);
}

long electra_cls_steps_per_epoch(const electra_cls_task *t) {
    long n = (long)(t->train.n / t->B) / t->opt.grad_accum;
    return n > 0 ? n : 1;
}

/* The next B example indices: the epoch's order, reshuffled per epoch
 * from (seed, epoch); a remainder smaller than B is skipped. */
static void next_indices(electra_cls_task *t) {
    uint64_t n = (uint64_t)t->train.n;
    if (t->pos + (uint64_t)t->B > n)
        t->epoch++, t->pos = 0;
    if (t->order_epoch != t->epoch) {
        data_permutation(t->order, n, t->opt.seed, CLS_STREAM, t->epoch);
        t->order_epoch = t->epoch;
    }
    for (int i = 0; i < t->B; i++)
        t->idx[i] = (int64_t)t->order[t->pos + i];
    t->pos += (uint64_t)t->B;
}

/* Cuts the padding columns no row of [B, S] uses; returns the new S. */
static int trim_columns(electra_cls_task *t, int B) {
    int S = t->opt.seq_len, ms = 1;
    for (int b = 0; b < B; b++)
        for (int i = S - 1; i >= ms; i--)
            if (t->mask[(size_t)b * S + i]) {
                ms = i + 1;
                break;
            }
    for (int b = 1; b < B; b++) {
        memmove(t->ids + (size_t)b * ms, t->ids + (size_t)b * S, ms * 4);
        memmove(t->types + (size_t)b * ms, t->types + (size_t)b * S,
                ms * 4);
        memmove(t->mask + (size_t)b * ms, t->mask + (size_t)b * S, ms * 4);
    }
    return ms;
}

static t5e_status cls_step(void *ctx, long step, double *metrics,
                           double *tokens, t5e_err *err) {
    electra_cls_task *t = ctx;
    int B = t->B, k = t->opt.grad_accum;
    double sum = 0;
    *tokens = 0;
    for (int i = 0; i < k; i++) {
        double loss;
        next_indices(t);
        t5e_status s = labeled_encode_batch(&t->train, t->tok, t->idx, B,
                                            t->opt.seq_len, t->ids, t->types,
                                            t->mask, t->labels, err);
        int S = s ? 0 : trim_columns(t, B);
        /* dropout masks keyed by the data position (checkpointed) */
        electra_net_set_dropout(&t->model->net, 1,
                                op_dropout_site(t->opt.seed, t->epoch << 32 |
                                                                 t->pos));
        if (!s)
            s = electra_trainable_step(t->model, B, S, t->ids, t->types,
                                       t->mask, t->labels, NULL, 1.0f / k,
                                       &loss, err);
        electra_net_set_dropout(&t->model->net, 0, 0);
        if (s)
            return err_prefix(err, s, "step %ld", step + 1);
        sum += loss;
        for (int j = 0; j < B * S; j++)
            *tokens += t->mask[j];
    }
    metrics[0] = sum / k;
    return T5E_OK;
}

/* Predicted classes of every dev example into pred, gold into gold. */
static t5e_status predict_dev(electra_cls_task *t, int *pred, int *gold,
                              t5e_err *err) {
    t5e_electra *m = &t->model->net.model;
    int L = m->cfg.num_labels, B = t->opt.batch_size;
    t5e_status s = T5E_OK;
    for (int64_t start = 0; start < t->dev.n && !s; start += B) {
        int b = t->dev.n - start < B ? (int)(t->dev.n - start) : B;
        for (int i = 0; i < b; i++)
            t->idx[i] = start + i;
        s = labeled_encode_batch(&t->dev, t->tok, t->idx, b, t->opt.seq_len,
                                 t->ids, t->types, t->mask, t->labels, err);
        int S = s ? 0 : trim_columns(t, b);
        if (!s)
            s = t5e_electra_classify(m, b, S, t->ids, t->types, t->mask,
                                     t->logits, err);
        for (int i = 0; i < b && !s; i++) {
            const float *z = t->logits + (size_t)i * L;
            int best = 0;
            for (int c = 1; c < L; c++)
                best = z[c] > z[best] ? c : best;
            pred[start + i] = best;
            gold[start + i] = t->labels[i];
        }
    }
    return s;
}

/* accuracy, F1 (binary: of class 1; more classes: macro), MCC, in the
 * order of the eval names (the selection metric first). */
static t5e_status cls_eval(void *ctx, double *metrics, t5e_err *err) {
    electra_cls_task *t = ctx;
    int n = (int)t->dev.n, L = t->train.n_labels;
    int *pred = xmalloc_array((size_t)n + 1, sizeof *pred);
    int *gold = xmalloc_array((size_t)n + 1, sizeof *gold);
    t5e_status s = pred && gold ? predict_dev(t, pred, gold, err)
                                : err_set(err, T5E_ERR_NOMEM, "evaluation");
    if (!s) {
        double v[3];
        v[CLS_METRIC_ACCURACY] = metric_accuracy(pred, gold, n);
        v[CLS_METRIC_F1] = L == 2 ? metric_f1(pred, gold, n, 1)
                                  : metric_macro_f1(pred, gold, n, L);
        v[CLS_METRIC_MCC] = metric_mcc(pred, gold, n, L);
        metrics[0] = v[t->opt.metric];
        for (int i = 0, j = 1; i < 3; i++)
            if (i != (int)t->opt.metric)
                metrics[j++] = v[i];
    }
    free(pred), free(gold);
    return s;
}

static t5e_status cls_save(void *ctx, const char *dir, t5e_err *err) {
    electra_cls_task *t = ctx;
    t5e_status s = electra_trainable_save(t->model, dir, err);
    return s ? s : copy_tokenizer(t->opt.tokenizer_dir, dir, err);
}

static t5e_status cls_load(void *ctx, const char *dir, t5e_err *err) {
    electra_cls_task *t = ctx;
    t5e_electra *m = NULL;
    t5e_status s = t5e_electra_load(dir, NULL, &m, err);
    if (!s)
        s = param_load(&t->model->ps, &m->store, err);
    t5e_electra_free(m);
    return s;
}

static t5e_status cls_save_state(void *ctx, cJSON *obj, t5e_err *err) {
    electra_cls_task *t = ctx;
    cJSON_AddNumberToObject(obj, "epoch", (double)t->epoch);
    cJSON_AddNumberToObject(obj, "position", (double)t->pos);
    return T5E_OK;
}

static t5e_status cls_load_state(void *ctx, const cJSON *obj, t5e_err *err) {
    electra_cls_task *t = ctx;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(obj, "epoch");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(obj, "position");
    if (!cJSON_IsNumber(e) || !cJSON_IsNumber(p) || e->valuedouble < 0 ||
        p->valuedouble < 0 || p->valuedouble > (double)t->train.n)
        return err_set(err, T5E_ERR_FORMAT, "trainer state: bad epoch or "
                       "position");
    t->epoch = (uint64_t)e->valuedouble;
    t->pos = (uint64_t)p->valuedouble;
    t->order_epoch = UINT64_MAX;
    return T5E_OK;
}

trainer_task electra_cls_task_callbacks(electra_cls_task *t,
                                        electra_trainable *model) {
    static const char *const step_names[] = {"loss"};
    static const char *const names[3][3] = {
        {"accuracy", "f1", "mcc"},
        {"f1", "accuracy", "mcc"},
        {"mcc", "accuracy", "f1"},
    };
    t->model = model;
    trainer_task task = {
        .ctx = t,
        .metric_names = step_names,
        .n_metrics = 1,
        .eval_names = names[t->opt.metric],
        .n_eval = 3,
        .step = cls_step,
        .evaluate = t->has_dev ? cls_eval : NULL,
        .save_model = cls_save,
        .load_model = cls_load,
        .save_state = cls_save_state,
        .load_state = cls_load_state,
    };
    return task;
}

/* Encoder weights of a folder: "electra.*" from a model with a head,
 * the same names without "electra." from a bare ElectraModel. */
static t5e_status load_encoder(param_set *ps, const weights *w,
                               t5e_err *err) {
    int bare = !weights_find(w, "electra.embeddings.word_embeddings.weight");
    t5e_status s = T5E_OK;
    for (int i = 0; i < ps->n && !s; i++) {
        const char *name = ps->p[i].name;
        if (strncmp(name, "electra.", 8))
            continue;
        s = param_load_as(ps, i, (weights *)w, bare ? name + 8 : name, err);
    }
    return s;
}

static t5e_status set_labels(t5e_electra *m, char *const *labels, int L,
                             t5e_err *err) {
    for (int i = 0; i < L; i++) {
        char *dup = strdup(labels[i]);
        if (!dup)
            return err_set(err, T5E_ERR_NOMEM, "label names");
        free(m->labels[i]);
        m->labels[i] = dup;
    }
    return T5E_OK;
}

t5e_status electra_cls_model(electra_trainable *m, const char *dir,
                             char *const *labels, int n_labels,
                             int from_scratch, uint64_t seed, t5e_err *err) {
    t5e_electra *src = NULL;
    float range = 0.02f;
    t5e_electra_config cfg;
    memset(m, 0, sizeof *m);
    t5e_status s = t5e_electra_load(dir, NULL, &src, err);
    if (!s)
        s = electra_task_read_config(dir, &cfg, &range, err);
    if (s) {
        t5e_electra_free(src);
        return s;
    }
    cfg = src->cfg;
    cfg.head = T5E_ELECTRA_CLASSIFIER;
    cfg.num_labels = n_labels;
    s = electra_trainable_init(m, &cfg, 0, err);
    if (!s) {
        m->initializer_range = range;
        s = set_labels(&m->net.model, labels, n_labels, err);
    }
    if (!s)
        electra_trainable_init_random(m, seed);
    if (!s && !from_scratch && (s = load_encoder(&m->ps, &src->store, err)))
        err_prefix(err, s, "%s", dir);
    t5e_electra_free(src);
    if (s && m->ps.p)
        electra_trainable_free(m);
    return s;
}

/* Depth of a parameter as _get_layer_lrs: see electra_task.h. */
static int param_depth(const char *name, int NL) {
    int i;
    if (!strncmp(name, "electra.embeddings", 18))
        return 0; /* embeddings.* and embeddings_project.* */
    if (sscanf(name, "electra.encoder.layer.%d.", &i) == 1 && i >= 0 &&
        i < NL)
        return i + 1;
    return NL + 2; /* the task-specific head */
}

void electra_cls_layerwise_lr(param_set *ps, int n_layers, double decay) {
    for (int i = 0; i < ps->n; i++) {
        int depth = param_depth(ps->p[i].name, n_layers);
        ps->p[i].lr_scale = (float)pow(decay, n_layers + 2 - depth);
    }
}

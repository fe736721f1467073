/*
 * electra_task.h - ELECTRA training as trainer tasks:
 *
 *   pretraining   replaced-token detection (electra_pretrain.h) on
 *                 [CLS] A [SEP] B [SEP] sequences packed from a token
 *                 shard, evaluated on a held-out shard by the quality of
 *                 the detection (AUC, F1, precision, recall, accuracy).
 *   classifier    ElectraForSequenceClassification fine-tuned on a GLUE
 *                 style TSV, shuffled per epoch, with layer-wise
 *                 learning-rate decay, evaluated on a dev TSV (accuracy,
 *                 F1, Matthews correlation).
 *
 * Dimension names: B batch, S sequence length, L labels, NL layers.
 */
#ifndef T5E_ELECTRA_TASK_H
#define T5E_ELECTRA_TASK_H

#include "model/electra_train.h"
#include "train/data.h"
#include "train/electra_pretrain.h"
#include "train/trainer.h"

/* ------------------------------------------------------------------ */
/* Shapes                                                              */
/* ------------------------------------------------------------------ */

/*
 * Reads the model sizes of a Hugging Face ELECTRA config.json (a file,
 * or a folder holding one) into c; c->head is left to the caller.
 */
t5e_status electra_task_read_config(const char *path, t5e_electra_config *c,
                                    float *initializer_range, t5e_err *err);

/*
 * Named sizes for pretraining, with vocab_size V and max positions P:
 * "small" is ELECTRA-Small (E 128, H 256, 12 layers, 4 heads, F 1024),
 * "tiny" fits a laptop (E 128, H 128, 4 layers, 2 heads, F 512).  The
 * generator is the discriminator at a quarter width (see below).
 * Returns 0 for an unknown name.
 */
int electra_task_named_config(const char *name, int V, int P,
                              t5e_electra_config *disc,
                              t5e_electra_config *gen);

/* A generator for a discriminator: H / 4, max(1, NH / 4) heads, F / 4,
 * the same depth and embeddings (the paper's 1/4-width generator). */
void electra_task_generator_of(const t5e_electra_config *disc,
                               t5e_electra_config *gen);

/* ------------------------------------------------------------------ */
/* Pretraining                                                         */
/* ------------------------------------------------------------------ */

typedef struct {
    int batch_size, grad_accum;
    int seq_len;                  /* S */
    uint64_t seed;
    const char *shard_path;       /* training shard */
    const char *dev_shard_path;   /* held-out shard, or NULL */
    int eval_examples;            /* held-out sequences per evaluation */
    const char *vocab_path;       /* vocab.txt copied into saves */
} electra_pretrain_task_options;

typedef struct {
    electra_pretrain_task_options opt;
    electra_pretrain *model;
    t5e_tokenizer *tok;
    token_shard shard, dev_shard;
    int has_dev;
    electra_data data;
    rng_state rng;                /* masking and sampling */
    int32_t *ids, *types, *mask;  /* [B, S] */
} electra_pretrain_task;

/* Opens the shards; the model must already be initialised or loaded
 * (its special ids are set here from the vocabulary). */
t5e_status electra_pretrain_task_init(electra_pretrain_task *t,
                                      const electra_pretrain_task_options *o,
                                      electra_pretrain *model,
                                      t5e_err *err);
void electra_pretrain_task_free(electra_pretrain_task *t);
trainer_task electra_pretrain_task_callbacks(electra_pretrain_task *t);

/*
 * Replaced-token detection on a batch without learning (in
 * electra_pretrain_eval.c): the masking and generator sampling of a
 * training step drawn from rng, then the discriminator.  Outputs, over
 * ids, types, mask [B, S]: logits [B, S] and labels [B, S] (1: the token
 * was replaced); stats as a step's.  The heads run with gradient scale
 * 0, so parameter gradients receive zeros only: call it between steps.
 */
t5e_status electra_pretrain_eval_batch(electra_pretrain *st, int B, int S,
                                       const int32_t *ids,
                                       const int32_t *types,
                                       const int32_t *mask, rng_state *rng,
                                       float *logits, int *labels,
                                       electra_pretrain_stats *stats,
                                       t5e_err *err);

/* ------------------------------------------------------------------ */
/* Sequence classification                                             */
/* ------------------------------------------------------------------ */

typedef enum {
    CLS_METRIC_ACCURACY = 0, CLS_METRIC_F1, CLS_METRIC_MCC
} cls_metric;

typedef struct {
    int batch_size, grad_accum;
    int seq_len;                  /* S: max_seq_length */
    uint64_t seed;
    labeled_format format;
    const char *train_path, *dev_path; /* dev may be NULL */
    cls_metric metric;            /* selects the best model */
    const char *tokenizer_dir;    /* vocab.txt etc. copied into saves */
} electra_cls_task_options;

typedef struct {
    electra_cls_task_options opt;
    electra_trainable *model;
    t5e_tokenizer *tok;
    labeled_set train, dev;
    int has_dev;
    uint64_t *order;              /* [n] this epoch's example order */
    uint64_t epoch, pos;          /* the data position */
    uint64_t order_epoch;
    int B;                        /* min(batch_size, examples) */
    int64_t *idx;                 /* [B] */
    int32_t *ids, *types, *mask, *labels; /* [B, S] x 3, [B] */
    float *logits;                /* [B, L] */
} electra_cls_task;

/*
 * Opens the TSVs (dev with the training label names) and the tokenizer
 * of tokenizer_dir.  Does not touch the model; see electra_cls_model.
 */
t5e_status electra_cls_task_init(electra_cls_task *t,
                                 const electra_cls_task_options *o,
                                 t5e_err *err);
void electra_cls_task_free(electra_cls_task *t);
/* Binds the model (after electra_cls_model) and gives the callbacks. */
trainer_task electra_cls_task_callbacks(electra_cls_task *t,
                                        electra_trainable *model);
/* Optimizer steps in one pass over the training set. */
long electra_cls_steps_per_epoch(const electra_cls_task *t);

/*
 * The classifier to fine-tune: the architecture of the ELECTRA folder
 * `dir` (any head) with a classification head over the label names,
 * initialised as the reference's _init_weights with `seed`; unless
 * from_scratch, every encoder weight (electra.*) is then read from dir.
 */
t5e_status electra_cls_model(electra_trainable *m, const char *dir,
                             char *const *labels, int n_labels,
                             int from_scratch, uint64_t seed, t5e_err *err);

/*
 * Layer-wise learning-rate decay as google-research/electra's
 * _get_layer_lrs: depth 0 for the embeddings (and their projection),
 * i + 1 for encoder layer i, NL + 2 for the head; lr_scale =
 * decay^(NL + 2 - depth).  decay 1 leaves every scale at 1.
 */
void electra_cls_layerwise_lr(param_set *ps, int n_layers, double decay);

#endif

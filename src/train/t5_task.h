/*
 * t5_task.h - T5 training as a trainer task: span-corruption
 * pretraining on a token shard, or text-to-text fine-tuning on a mixture
 * of (input, target) files, with generation-based evaluation on a dev
 * file (exact match and BLEU).
 */
#ifndef T5E_T5_TASK_H
#define T5E_T5_TASK_H

#include "model/t5_train.h"
#include "train/data.h"
#include "train/trainer.h"

typedef enum { T5_PRETRAIN = 1, T5_FINETUNE = 2 } t5_task_kind;

typedef struct {
    t5_task_kind kind;
    int batch_size, grad_accum;
    int input_len, target_len; /* S and T of a batch */
    float label_smoothing;
    uint64_t seed;
    const char *tokenizer_path;   /* spiece.model copied into saves */
    const char *config_path;      /* config.json copied into saves, or NULL */
    const char *gen_config_path;  /* generation_config.json, or NULL */
    /* fine-tuning */
    const char *const *train_files;
    int n_train;
    const char *prefix;
    long mixing_cap;
    const char *dev_file;
    int eval_examples;            /* dev examples generated per evaluation */
    int eval_bleu_first;          /* select on BLEU (else exact match) */
    /* pretraining */
    const char *shard_path;
    double noise_density, mean_span;
} t5_task_options;

typedef struct {
    t5_task_options opt;
    t5_trainable *model;
    t5e_tokenizer *tok;
    token_shard shard;
    span_data span;
    t2t_task tasks[T2T_MAX_TASKS];
    int n_tasks;
    t2t_mix mix;
    t2t_task dev;
    int has_dev;
    int32_t *ids, *mask, *labels, *dec;  /* [B, S], [B, S], [B, T], [B, T] */
    int32_t *ids2, *mask2, *labels2, *dec2; /* trimmed copies */
} t5_task;

/* Opens the data; the model must already be initialised or loaded. */
t5e_status t5_task_init(t5_task *t, const t5_task_options *opt,
                        t5_trainable *model, t5e_err *err);
void t5_task_free(t5_task *t);
/* The trainer callbacks over t. */
trainer_task t5_task_callbacks(t5_task *t);

/* Generates for eval_examples dev examples (spread over the file) and
 * scores them: corpus BLEU (sacreBLEU's default) and exact match. */
t5e_status t5_task_evaluate(t5_task *t, double *bleu, double *em,
                            t5e_err *err);

/*
 * The dev metrics of two trivial systems, for context: copying the input
 * (without its task prefix) and always answering the most frequent
 * training target.  out = {copy BLEU, copy exact match, frequent BLEU,
 * frequent exact match}.
 */
t5e_status t5_task_baselines(t5_task *t, double out[4], t5e_err *err);

/* Decoder inputs from labels: shifted right, start token first, -100 ->
 * pad, as the reference's _shift_right. */
void t5_shift_right(const int32_t *labels, int B, int T, int start,
                    int pad, int32_t *dec);

#endif

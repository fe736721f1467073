/* t5_task.c - see t5_task.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/t5_task.h"

void t5_shift_right(const int32_t *labels, int B, int T, int start,
                    int pad, int32_t *dec) {
    for (int b = 0; b < B; b++) {
        dec[(size_t)b * T] = start;
        for (int t = 1; t < T; t++) {
            int32_t v = labels[(size_t)b * T + t - 1];
            dec[(size_t)b * T + t] = v == -100 ? pad : v;
        }
    }
}

static t5e_status alloc_batch(t5_task *t, t5e_err *err) {
    size_t BS = (size_t)t->opt.batch_size * t->opt.input_len;
    size_t BT = (size_t)t->opt.batch_size * t->opt.target_len;
    t->ids = xmalloc_array(BS, 4), t->mask = xmalloc_array(BS, 4);
    t->labels = xmalloc_array(BT, 4), t->dec = xmalloc_array(BT, 4);
    t->ids2 = xmalloc_array(BS, 4), t->mask2 = xmalloc_array(BS, 4);
    t->labels2 = xmalloc_array(BT, 4), t->dec2 = xmalloc_array(BT, 4);
    if (!t->ids || !t->mask || !t->labels || !t->dec || !t->ids2 ||
        !t->mask2 || !t->labels2 || !t->dec2)
        return err_set(err, T5E_ERR_NOMEM, "batch buffers");
    return T5E_OK;
}

static t5e_status open_finetune(t5_task *t, t5e_err *err) {
    const t5_task_options *o = &t->opt;
    t5e_status s = T5E_OK;
    if (o->n_train == 0 && o->dev_file) { /* evaluation only */
        s = t2t_task_open(o->dev_file, o->prefix, &t->dev, err);
        t->has_dev = !s;
        return s;
    }
    if (o->n_train < 1 || o->n_train > T2T_MAX_TASKS)
        return err_set(err, T5E_ERR_ARG, "between 1 and %d training files "
                       "are needed (got %d)", T2T_MAX_TASKS, o->n_train);
    for (int i = 0; i < o->n_train && !s; i++) {
        s = t2t_task_open(o->train_files[i], o->prefix, &t->tasks[i], err);
        if (!s)
            t->n_tasks++;
    }
    const t2t_task *ptrs[T2T_MAX_TASKS];
    for (int i = 0; i < t->n_tasks; i++)
        ptrs[i] = &t->tasks[i];
    if (!s)
        s = t2t_mix_init(&t->mix, ptrs, t->n_tasks, o->mixing_cap, t->tok,
                         o->seed, err);
    if (!s && o->dev_file) {
        s = t2t_task_open(o->dev_file, o->prefix, &t->dev, err);
        t->has_dev = !s;
    }
    return s;
}

static t5e_status open_pretrain(t5_task *t, t5e_err *err) {
    const t5_task_options *o = &t->opt;
    t5e_status s = shard_open(o->shard_path, &t->shard, err);
    if (!s)
        s = shard_check_tokenizer(&t->shard, t->tok, err);
    if (!s)
        s = span_data_init(&t->span, &t->shard, o->input_len,
                           o->noise_density, o->mean_span, t->tok, o->seed,
                           err);
    if (!s)
        t->opt.target_len = t->span.target_len;
    return s;
}

t5e_status t5_task_init(t5_task *t, const t5_task_options *opt,
                        t5_trainable *model, t5e_err *err) {
    memset(t, 0, sizeof *t);
    t->opt = *opt;
    t->model = model;
    t5e_status s = t5e_tokenizer_load(opt->tokenizer_path, &t->tok, err);
    if (!s)
        s = opt->kind == T5_PRETRAIN ? open_pretrain(t, err)
                                     : open_finetune(t, err);
    if (!s)
        s = alloc_batch(t, err);
    if (s)
        t5_task_free(t);
    return s;
}

void t5_task_free(t5_task *t) {
    if (t->opt.kind == T5_PRETRAIN) {
        span_data_free(&t->span);
        shard_close(&t->shard);
    } else {
        if (t->n_tasks)
            t2t_mix_free(&t->mix);
        for (int i = 0; i < t->n_tasks; i++)
            t2t_task_close(&t->tasks[i]);
        if (t->has_dev)
            t2t_task_close(&t->dev);
    }
    t5e_tokenizer_free(t->tok);
    free(t->ids), free(t->mask), free(t->labels), free(t->dec);
    free(t->ids2), free(t->mask2), free(t->labels2), free(t->dec2);
    memset(t, 0, sizeof *t);
}

/*
 * Cuts the padding columns that no row uses: attention costs grow with
 * the square of the length, and most batches are far shorter than the
 * limit.  Returns the trimmed S and T through *s2 and *t2.
 */
static void trim_batch(t5_task *t, int *s2, int *t2) {
    int B = t->opt.batch_size, S = t->opt.input_len, T = t->opt.target_len;
    int ms = 1, mt = 1;
    for (int b = 0; b < B; b++) {
        for (int i = S - 1; i >= ms; i--)
            if (t->mask[(size_t)b * S + i]) {
                ms = i + 1;
                break;
            }
        for (int i = T - 1; i >= mt; i--)
            if (t->labels[(size_t)b * T + i] != -100) {
                mt = i + 1;
                break;
            }
    }
    for (int b = 0; b < B; b++) {
        memcpy(t->ids2 + (size_t)b * ms, t->ids + (size_t)b * S, ms * 4);
        memcpy(t->mask2 + (size_t)b * ms, t->mask + (size_t)b * S, ms * 4);
        memcpy(t->labels2 + (size_t)b * mt, t->labels + (size_t)b * T,
               mt * 4);
    }
    *s2 = ms;
    *t2 = mt;
}

static t5e_status next_batch(t5_task *t, t5e_err *err) {
    int B = t->opt.batch_size;
    if (t->opt.kind == T5_PRETRAIN)
        return span_data_next_batch(&t->span, B, t->ids, t->mask, t->labels,
                                    err);
    return t2t_mix_next_batch(&t->mix, B, t->opt.input_len,
                              t->opt.target_len, t->ids, t->mask, t->labels,
                              NULL, err);
}

static t5e_status step_fn(void *ctx, long step, double *metrics,
                          double *tokens, t5e_err *err) {
    t5_task *t = ctx;
    const t5e_t5_config *c = &t->model->model.cfg;
    int B = t->opt.batch_size, k = t->opt.grad_accum;
    double sum = 0;
    *tokens = 0;
    for (int i = 0; i < k; i++) {
        int S, T, count;
        double loss;
        t5e_status s = next_batch(t, err);
        if (s)
            return s;
        trim_batch(t, &S, &T);
        t5_shift_right(t->labels2, B, T, c->decoder_start_token_id,
                       c->pad_token_id, t->dec2);
        /* train mode: dropout keyed by (seed, step, micro-batch), which a
         * resumed run restores */
        t->model->drop_on = 1;
        t->model->drop_key = op_dropout_site(t->opt.seed,
                                             (uint64_t)step * k + i);
        s = t5_train_step(t->model, B, S, t->ids2, t->mask2, T, t->dec2,
                          t->labels2, t->opt.label_smoothing, 1.0f / k,
                          &loss, &count, err);
        t->model->drop_on = 0;
        if (s)
            return err_prefix(err, s, "step %ld", step + 1);
        sum += loss;
        for (int j = 0; j < B * S; j++)
            *tokens += t->mask2[j];
        *tokens += count;
    }
    metrics[0] = sum / k;
    return T5E_OK;
}

static t5e_status t5_eval_dev(void *ctx, double *metrics, t5e_err *err);

/*
 * Greedy generations of n dev examples spread evenly over the file (dev
 * files are often sorted by length, so the first n would all be short).
 */
static int64_t dev_index(const t5_task *t, int i, int n) {
    return (int64_t)((double)i * (double)t->dev.n / n);
}

static t5e_status generate_dev(t5_task *t, int n, char **hyps, char **refs,
                               t5e_err *err) {
    t5e_generate_options go;
    t5e_generate_options_default(&go);
    go.max_new_tokens = t->opt.target_len;
    t5e_status s = T5E_OK;
    for (int i = 0; i < n && !s; i++) {
        char *input;
        t5e_encoding enc;
        t5e_generation g = {0};
        s = t2t_task_text(&t->dev, dev_index(t, i, n), &input, &refs[i],
                          err);
        if (s)
            break;
        t5e_encode_options eo;
        t5e_encode_options_default(&eo);
        eo.max_length = t->opt.input_len;
        s = t5e_tokenizer_encode(t->tok, input, -1, NULL, 0, &eo, &enc, err);
        free(input);
        if (s)
            break;
        const int32_t *rows[1] = {enc.ids};
        int lens[1] = {enc.n};
        s = t5e_t5_generate(&t->model->model, 1, rows, lens, &go, &g, err);
        if (!s)
            s = t5e_tokenizer_decode(t->tok, g.seqs[0].ids, g.seqs[0].n, 1,
                                     &hyps[i], err);
        t5e_generation_free(&g);
        t5e_encoding_free(&enc);
    }
    return s;
}

t5e_status t5_task_evaluate(t5_task *t, double *bleu, double *em,
                            t5e_err *err) {
    double m[2];
    int first = t->opt.eval_bleu_first;
    t->opt.eval_bleu_first = 1;
    t5e_status s = t->has_dev ? t5_eval_dev(t, m, err)
                              : err_set(err, T5E_ERR_ARG, "no dev file");
    t->opt.eval_bleu_first = first;
    if (!s)
        *bleu = m[0], *em = m[1];
    return s;
}

static t5e_status eval_fn(void *ctx, double *metrics, t5e_err *err) {
    return t5_eval_dev(ctx, metrics, err);
}

static t5e_status t5_eval_dev(void *ctx, double *metrics, t5e_err *err) {
    t5_task *t = ctx;
    int n = (int)(t->dev.n < t->opt.eval_examples ? t->dev.n
                                                   : t->opt.eval_examples);
    char **hyps = xcalloc((size_t)n + 1, sizeof *hyps);
    char **refs = xcalloc((size_t)n + 1, sizeof *refs);
    t5e_status s = hyps && refs ? generate_dev(t, n, hyps, refs, err)
                                : err_set(err, T5E_ERR_NOMEM, "eval");
    if (!s) {
        double bleu = metric_bleu((const char *const *)hyps,
                                  (const char *const *)refs, n, NULL);
        double em = metric_exact_match((const char *const *)hyps,
                                       (const char *const *)refs, n);
        metrics[0] = t->opt.eval_bleu_first ? bleu : em;
        metrics[1] = t->opt.eval_bleu_first ? em : bleu;
    }
    for (int i = 0; hyps && refs && i < n; i++)
        free(hyps[i]), free(refs[i]);
    free(hyps), free(refs);
    return s;
}

static t5e_status copy_beside(const char *src, const char *dir,
                              const char *name, t5e_err *err) {
    char dst[4096];
    if (!src || !file_exists(src))
        return T5E_OK;
    if (!path_join(dst, sizeof dst, dir, name))
        return err_set(err, T5E_ERR_ARG, "%s: path too long", dir);
    return copy_file(src, dst, err);
}

static t5e_status save_fn(void *ctx, const char *dir, t5e_err *err) {
    t5_task *t = ctx;
    t5e_status s = t5_trainable_save(t->model, dir, err);
    /* a fine-tuned model keeps the config it was loaded with, key for key */
    if (!s)
        s = copy_beside(t->opt.config_path, dir, "config.json", err);
    if (!s)
        s = copy_beside(t->opt.gen_config_path, dir,
                        "generation_config.json", err);
    if (!s)
        s = copy_beside(t->opt.tokenizer_path, dir, "spiece.model", err);
    return s;
}

static t5e_status load_fn(void *ctx, const char *dir, t5e_err *err) {
    t5_task *t = ctx;
    return t5_trainable_read_weights(t->model, dir, err);
}

static t5e_status save_state_fn(void *ctx, cJSON *obj, t5e_err *err) {
    t5_task *t = ctx;
    if (t->opt.kind == T5_PRETRAIN) {
        span_data_state st;
        span_data_state_get(&t->span, &st);
        json_add_bytes(obj, "span_data", &st, sizeof st);
    } else {
        t2t_mix_state st;
        t2t_mix_state_get(&t->mix, &st);
        json_add_bytes(obj, "t2t_mix", &st, sizeof st);
    }
    return T5E_OK;
}

static t5e_status load_state_fn(void *ctx, const cJSON *obj, t5e_err *err) {
    t5_task *t = ctx;
    if (t->opt.kind == T5_PRETRAIN) {
        span_data_state st;
        if (!json_get_bytes(obj, "span_data", &st, sizeof st))
            return err_set(err, T5E_ERR_FORMAT, "trainer state: bad "
                           "span_data");
        return span_data_restore(&t->span, &st, err);
    }
    t2t_mix_state st;
    if (!json_get_bytes(obj, "t2t_mix", &st, sizeof st))
        return err_set(err, T5E_ERR_FORMAT, "trainer state: bad t2t_mix");
    return t2t_mix_restore(&t->mix, &st, err);
}

trainer_task t5_task_callbacks(t5_task *t) {
    static const char *const step_names[] = {"loss"};
    static const char *const bleu_first[] = {"bleu", "exact_match"};
    static const char *const em_first[] = {"exact_match", "bleu"};
    trainer_task task = {
        .ctx = t,
        .metric_names = step_names,
        .n_metrics = 1,
        .eval_names = t->opt.eval_bleu_first ? bleu_first : em_first,
        .n_eval = 2,
        .step = step_fn,
        .evaluate = t->has_dev ? eval_fn : NULL,
        .save_model = save_fn,
        .load_model = load_fn,
        .save_state = save_state_fn,
        .load_state = load_state_fn,
    };
    return task;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The most frequent target of the first training file (malloc'd). */
static char *most_frequent_target(const t5_task *t, t5e_err *err) {
    const t2t_task *task = &t->tasks[0];
    char **targets = xcalloc((size_t)task->n + 1, sizeof *targets);
    char *best = NULL;
    if (!targets)
        return NULL;
    int64_t n = 0;
    for (; n < task->n; n++) {
        char *input;
        if (t2t_task_text(task, n, &input, &targets[n], err))
            break;
        free(input);
    }
    qsort(targets, (size_t)n, sizeof *targets, cmp_str);
    int64_t run = 0, best_run = 0;
    for (int64_t i = 0; i < n; i++) {
        run = i && !strcmp(targets[i], targets[i - 1]) ? run + 1 : 1;
        if (run > best_run)
            best_run = run, best = targets[i];
    }
    best = best ? strdup(best) : NULL;
    for (int64_t i = 0; i < n; i++)
        free(targets[i]);
    free(targets);
    return best;
}

t5e_status t5_task_baselines(t5_task *t, double out[4], t5e_err *err) {
    if (!t->has_dev || !t->n_tasks)
        return err_set(err, T5E_ERR_ARG, "baselines need --train and --dev");
    int n = (int)(t->dev.n < t->opt.eval_examples ? t->dev.n
                                                   : t->opt.eval_examples);
    size_t skip = t->opt.prefix ? strlen(t->opt.prefix) : 0;
    char **copy = xcalloc((size_t)n + 1, sizeof *copy);
    char **major = xcalloc((size_t)n + 1, sizeof *major);
    char **refs = xcalloc((size_t)n + 1, sizeof *refs);
    char *frequent = most_frequent_target(t, err);
    t5e_status s = copy && major && refs && frequent ? T5E_OK
        : err_set(err, T5E_ERR_NOMEM, "baselines");
    for (int i = 0; i < n && !s; i++) {
        char *input;
        s = t2t_task_text(&t->dev, dev_index(t, i, n), &input, &refs[i],
                          err);
        if (s)
            break;
        copy[i] = strdup(input + skip); /* the input without its prefix */
        free(input);
        major[i] = frequent;
    }
    if (!s) {
        const char *const *r = (const char *const *)refs;
        out[0] = metric_bleu((const char *const *)copy, r, n, NULL);
        out[1] = metric_exact_match((const char *const *)copy, r, n);
        out[2] = metric_bleu((const char *const *)major, r, n, NULL);
        out[3] = metric_exact_match((const char *const *)major, r, n);
    }
    for (int i = 0; copy && refs && i < n; i++)
        free(copy[i]), free(refs[i]);
    free(copy), free(major), free(refs), free(frequent);
    return s;
}

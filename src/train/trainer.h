/*
 * trainer.h - the training loop every t5e trainer shares.
 *
 * A task (ELECTRA pretraining, classifier fine-tuning, T5 pretraining or
 * fine-tuning) supplies callbacks: compute one step's gradients, evaluate,
 * save and load its model folder, save and load its data position.  The
 * loop owns the rest: gradient clipping, the learning-rate schedule, the
 * optimizer, the progress line and metrics log, evaluation with the best
 * model kept, atomic checkpoints, and exact resumption.
 *
 * OUTPUT_DIR/
 *   checkpoint-STEP/   model files, optimizer.safetensors,
 *                      trainer_state.json (step, schedule, data, RNG)
 *   best/              the model with the best evaluation so far
 *   metrics.jsonl      one JSON object per logged step and evaluation
 *   (model files)      the final model (the best one when evaluating)
 */
#ifndef T5E_TRAINER_H
#define T5E_TRAINER_H

#include <cjson/cJSON.h>

#include "train/optim.h"

#define TRAINER_MAX_METRICS 16

typedef struct {
    void *ctx;
    const char *const *metric_names; /* reported every step */
    int n_metrics;
    const char *const *eval_names;   /* eval_names[0] picks the best */
    int n_eval;
    /* Gradients of one optimizer step (the arena is zeroed before). */
    t5e_status (*step)(void *ctx, long step, double *metrics,
                       double *tokens, t5e_err *err);
    /* Higher eval_names[0] is better; NULL: no evaluation. */
    t5e_status (*evaluate)(void *ctx, double *metrics, t5e_err *err);
    /* Evaluations are logged but do not pick a best model (no best/; the
     * output is the last model): for metrics that steps cannot be
     * ranked by, such as detection of the current generator's samples,
     * which get harder as the generator learns. */
    int keep_last;
    t5e_status (*save_model)(void *ctx, const char *dir, t5e_err *err);
    t5e_status (*load_model)(void *ctx, const char *dir, t5e_err *err);
    /* The data position and random state, as members of obj. */
    t5e_status (*save_state)(void *ctx, cJSON *obj, t5e_err *err);
    t5e_status (*load_state)(void *ctx, const cJSON *obj, t5e_err *err);
} trainer_task;

typedef struct {
    const char *output_dir;
    long max_steps;
    long save_steps;      /* checkpoint every N steps (0: only at the end) */
    long eval_steps;      /* evaluate every N steps (0: only at the end) */
    long log_steps;       /* metrics.jsonl every N steps */
    int keep_checkpoints; /* newest checkpoints kept */
    float max_grad_norm;  /* global-norm clipping (0: off) */
    schedule sched;
    optim_config optim;
    int resume;           /* continue from the newest checkpoint */
    long kill_at;         /* tests: SIGKILL inside checkpoint N (-1) */
    double max_time;      /* seconds of this run; 0: no limit.  The step
                           * that crosses it is treated as the last one:
                           * evaluated, checkpointed, saved as final. */
} trainer_config;

void trainer_config_default(trainer_config *c);

t5e_status trainer_run(const trainer_config *cfg, trainer_task *task,
                       param_set *ps, t5e_err *err);

/* An RNG state as a JSON string (and back), for task states. */
void json_add_u64s(cJSON *obj, const char *key, const uint64_t *v, int n);
int json_get_u64s(const cJSON *obj, const char *key, uint64_t *v, int n);
/* A plain struct as hex of its bytes (and back; 0 when absent or of
 * another size).  Same machine and build only: states are not portable. */
void json_add_bytes(cJSON *obj, const char *key, const void *p, size_t n);
int json_get_bytes(const cJSON *obj, const char *key, void *p, size_t n);

#endif

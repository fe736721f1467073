/*
 * train_args.h - the options every training command shares, named like
 * the reference trainer's arguments, and their help text.
 */
#ifndef T5E_TRAIN_ARGS_H
#define T5E_TRAIN_ARGS_H

#include <getopt.h>

#include "train/trainer.h"

typedef struct {
    trainer_config tc;
    const char *optimizer;   /* name, applied by train_args_finish */
    const char *schedule;
    double learning_rate, weight_decay;
    long batch_size, grad_accum, threads;
    unsigned long long seed;
    int lr_set, wd_set, sched_set, opt_set;
    int scale_parameter;     /* --adafactor-scale-parameter */
} train_args;

/* Option codes from 1000 up; a command's own codes stay below. */
enum {
    TA_OUTPUT_DIR = 1000, TA_MAX_STEPS, TA_BATCH, TA_LR, TA_WARMUP, TA_WD,
    TA_SEED, TA_RESUME, TA_OPTIMIZER, TA_SCHEDULE, TA_SAVE_STEPS,
    TA_EVAL_STEPS, TA_LOG_STEPS, TA_CLIP, TA_ACCUM, TA_THREADS, TA_KEEP,
    TA_KILL_AT, TA_MAX_TIME, TA_SCALE_PARAM
};

#define TRAIN_ARGS_LONG_OPTIONS                                         \
    {"output-dir", required_argument, 0, TA_OUTPUT_DIR},                \
    {"max-steps", required_argument, 0, TA_MAX_STEPS},                  \
    {"batch-size", required_argument, 0, TA_BATCH},                     \
    {"learning-rate", required_argument, 0, TA_LR},                     \
    {"warmup-steps", required_argument, 0, TA_WARMUP},                  \
    {"weight-decay", required_argument, 0, TA_WD},                      \
    {"seed", required_argument, 0, TA_SEED},                            \
    {"resume", no_argument, 0, TA_RESUME},                              \
    {"optimizer", required_argument, 0, TA_OPTIMIZER},                  \
    {"lr-schedule", required_argument, 0, TA_SCHEDULE},                 \
    {"save-steps", required_argument, 0, TA_SAVE_STEPS},                \
    {"eval-steps", required_argument, 0, TA_EVAL_STEPS},                \
    {"logging-steps", required_argument, 0, TA_LOG_STEPS},              \
    {"max-grad-norm", required_argument, 0, TA_CLIP},                   \
    {"gradient-accumulation-steps", required_argument, 0, TA_ACCUM},    \
    {"threads", required_argument, 0, TA_THREADS},                      \
    {"save-total-limit", required_argument, 0, TA_KEEP},                \
    {"kill-at-checkpoint", required_argument, 0, TA_KILL_AT},           \
    {"max-time", required_argument, 0, TA_MAX_TIME},                    \
    {"adafactor-scale-parameter", no_argument, 0, TA_SCALE_PARAM}

/* The help lines of the shared options, given the command's defaults. */
void train_args_help(FILE *out, const train_args *defaults);

/* Sets the command's defaults (it may change fields afterwards). */
void train_args_init(train_args *a, long batch, double lr, long steps,
                     const char *opt_name, const char *sched_name);
/* Handles a shared option; 1 if handled, 0 if not ours, -1 bad value. */
int train_args_parse(train_args *a, int code, const char *arg);
/* Resolves names into the trainer config; a message when invalid. */
int train_args_finish(train_args *a, const char *cmd);

#endif

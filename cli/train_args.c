/* train_args.c - see train_args.h. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "train_args.h"

void train_args_init(train_args *a, long batch, double lr, long steps,
                     const char *opt_name, const char *sched_name) {
    memset(a, 0, sizeof *a);
    trainer_config_default(&a->tc);
    a->tc.max_steps = steps;
    a->tc.save_steps = 500;
    a->batch_size = batch;
    a->learning_rate = lr;
    a->optimizer = opt_name;
    a->schedule = sched_name;
    a->grad_accum = 1;
    a->weight_decay = -1; /* the optimizer's own default */
}

void train_args_help(FILE *o, const train_args *d) {
    fprintf(o,
"  --output-dir DIR           where checkpoints, metrics and the final\n"
"                             model go (required)\n"
"  --max-steps N              optimizer steps (default %ld)\n"
"  --max-time SECONDS         stop after the step that ends past this\n"
"                             much time of this run, saving as after the\n"
"                             last step (default 0: no limit; schedules\n"
"                             still run over --max-steps)\n"
"  --batch-size N             examples per step (default %ld)\n"
"  --gradient-accumulation-steps N\n"
"                             micro-batches per step (default 1)\n"
"  --learning-rate X          peak learning rate (default %g)\n"
"  --lr-schedule S            constant, linear, electra, inverse-sqrt\n"
"                             (default %s)\n"
"  --warmup-steps N           linear warmup steps (default %ld)\n"
"  --optimizer O              adamw, adamw-electra, adafactor\n"
"                             (default %s)\n"
"  --adafactor-scale-parameter  Adafactor steps scaled by each\n"
"                             parameter's RMS (at least 1e-3), as T5's\n"
"                             pretraining ran it (default off: the\n"
"                             transformers fine-tuning setting)\n"
"  --weight-decay X           decoupled weight decay, not applied to\n"
"                             LayerNorm weights and biases (default: the\n"
"                             optimizer's: 0.01 Adam, 0 Adafactor)\n"
"  --max-grad-norm X          global gradient-norm clipping; 0 off\n"
"                             (default %g)\n"
"  --seed N                   data order, masking and init (default 0)\n"
"  --save-steps N             checkpoint every N steps (default %ld)\n"
"  --save-total-limit N       checkpoints kept (default %d)\n"
"  --eval-steps N             evaluate every N steps; 0: at the end\n"
"                             (default %ld)\n"
"  --logging-steps N          metrics.jsonl every N steps (default %ld)\n"
"  --resume                   continue from the newest checkpoint in\n"
"                             --output-dir\n"
"  --threads N                threads (default 0: all cores)\n",
            d->tc.max_steps, d->batch_size, d->learning_rate, d->schedule,
            d->tc.sched.warmup, d->optimizer, d->tc.max_grad_norm,
            d->tc.save_steps, d->tc.keep_checkpoints, d->tc.eval_steps,
            d->tc.log_steps);
}

int train_args_parse(train_args *a, int code, const char *arg) {
    long v;
    double x;
    trainer_config *c = &a->tc;
    switch (code) {
    case TA_OUTPUT_DIR: c->output_dir = arg; return 1;
    case TA_RESUME: c->resume = 1; return 1;
    case TA_OPTIMIZER: a->optimizer = arg; a->opt_set = 1; return 1;
    case TA_SCALE_PARAM: a->scale_parameter = 1; return 1;
    case TA_SCHEDULE: a->schedule = arg; a->sched_set = 1; return 1;
    case TA_LR:
        if (!cli_parse_float(arg, 0, 10, &x))
            return -1;
        a->learning_rate = x, a->lr_set = 1;
        return 1;
    case TA_WD:
        if (!cli_parse_float(arg, 0, 10, &x))
            return -1;
        a->weight_decay = x, a->wd_set = 1;
        return 1;
    case TA_CLIP:
        if (!cli_parse_float(arg, 0, 1e9, &x))
            return -1;
        c->max_grad_norm = (float)x;
        return 1;
    case TA_MAX_TIME:
        if (!cli_parse_float(arg, 0, 1e9, &x))
            return -1;
        c->max_time = x;
        return 1;
    default:
        break;
    }
    if (code < TA_MAX_STEPS || code > TA_KILL_AT)
        return 0;
    if (!cli_parse_int(arg, code == TA_KILL_AT ? -1 : 0, 1L << 40, &v))
        return -1;
    switch (code) {
    case TA_MAX_STEPS: c->max_steps = v; break;
    case TA_BATCH: a->batch_size = v; break;
    case TA_WARMUP: c->sched.warmup = v; break;
    case TA_SEED: a->seed = (unsigned long long)v; break;
    case TA_SAVE_STEPS: c->save_steps = v; break;
    case TA_EVAL_STEPS: c->eval_steps = v; break;
    case TA_LOG_STEPS: c->log_steps = v; break;
    case TA_ACCUM: a->grad_accum = v; break;
    case TA_THREADS: a->threads = v; break;
    case TA_KEEP: c->keep_checkpoints = (int)v; break;
    case TA_KILL_AT: c->kill_at = v; break;
    }
    return 1;
}

int train_args_finish(train_args *a, const char *cmd) {
    trainer_config *c = &a->tc;
    optim_kind kind;
    if (!c->output_dir)
        return cli_usage_error(cmd, "--output-dir is required");
    if (!optim_kind_from_name(a->optimizer, &kind))
        return cli_usage_error(cmd, "unknown optimizer '%s'", a->optimizer);
    if (!sched_kind_from_name(a->schedule, &c->sched.kind))
        return cli_usage_error(cmd, "unknown schedule '%s'", a->schedule);
    if (c->max_steps < 1 || a->batch_size < 1 || a->grad_accum < 1)
        return cli_usage_error(cmd, "--max-steps, --batch-size and "
                               "--gradient-accumulation-steps must be >= 1");
    if (a->batch_size > 65536 || a->grad_accum > 65536)
        return cli_usage_error(cmd, "batch size out of range");
    if (a->scale_parameter && kind != OPTIM_ADAFACTOR)
        return cli_usage_error(cmd, "--adafactor-scale-parameter needs "
                               "--optimizer adafactor");
    optim_config_default(&c->optim, kind);
    c->optim.scale_parameter = a->scale_parameter;
    if (a->weight_decay >= 0)
        c->optim.weight_decay = (float)a->weight_decay;
    c->sched.lr = (float)a->learning_rate;
    c->sched.total = c->max_steps;
    if (c->keep_checkpoints < 1)
        c->keep_checkpoints = 1;
    return 0;
}

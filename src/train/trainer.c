/* trainer.c - see trainer.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "train/checkpoint.h"
#include "train/progress.h"
#include "train/trainer.h"

void trainer_config_default(trainer_config *c) {
    memset(c, 0, sizeof *c);
    c->max_steps = 1000;
    c->save_steps = 500;
    c->eval_steps = 0;
    c->log_steps = 10;
    c->keep_checkpoints = 2;
    c->max_grad_norm = 1.0f;
    c->sched.kind = SCHED_LINEAR;
    c->sched.lr = 1e-4f;
    c->kill_at = -1;
    optim_config_default(&c->optim, OPTIM_ADAMW);
}

void json_add_u64s(cJSON *obj, const char *key, const uint64_t *v, int n) {
    char buf[17 * 8 + 1] = "";
    for (int i = 0; i < n && i < 8; i++)
        snprintf(buf + 17 * i, 18, "%016" PRIx64 "%s", v[i],
                 i + 1 < n ? ":" : "");
    cJSON_AddStringToObject(obj, key, buf);
}

int json_get_u64s(const cJSON *obj, const char *key, uint64_t *v, int n) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(s) || strlen(s->valuestring) != (size_t)(17 * n - 1))
        return 0;
    for (int i = 0; i < n; i++) {
        char part[17];
        memcpy(part, s->valuestring + 17 * i, 16);
        part[16] = '\0';
        char *end;
        v[i] = strtoull(part, &end, 16);
        if (*end)
            return 0;
    }
    return 1;
}

/* Plain structs (reader states) as hex of their bytes. */
void json_add_bytes(cJSON *obj, const char *key, const void *p, size_t n) {
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return;
    for (size_t i = 0; i < n; i++)
        sprintf(hex + 2 * i, "%02x", ((const unsigned char *)p)[i]);
    cJSON_AddStringToObject(obj, key, hex);
    free(hex);
}

int json_get_bytes(const cJSON *obj, const char *key, void *p, size_t n) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(s) || strlen(s->valuestring) != 2 * n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s->valuestring + 2 * i, "%2x", &v) != 1)
            return 0;
        ((unsigned char *)p)[i] = (unsigned char)v;
    }
    return 1;
}

typedef struct {
    const trainer_config *cfg;
    trainer_task *task;
    param_set *ps;
    optimizer opt;
    progress prog;
    long step;         /* optimizer steps done */
    double best;       /* best eval_names[0] so far */
} run_state;

/* trainer_state.json: where we are, for an exact resume. */
static t5e_status save_state_json(run_state *r, const char *dir,
                                  t5e_err *err) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "step", (double)r->step);
    cJSON_AddNumberToObject(root, "optimizer_step", (double)r->opt.step);
    cJSON_AddNumberToObject(root, "best_metric", r->best);
    cJSON_AddNumberToObject(root, "max_steps", (double)r->cfg->max_steps);
    cJSON *task = cJSON_AddObjectToObject(root, "task");
    t5e_status s = r->task->save_state ? r->task->save_state(r->task->ctx,
                                                             task, err)
                                       : T5E_OK;
    char *text = s ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    if (s)
        return s;
    if (!text)
        return err_set(err, T5E_ERR_NOMEM, "trainer state");
    char path[4096];
    path_join(path, sizeof path, dir, "trainer_state.json");
    s = write_text_file(path, text, err);
    free(text);
    return s;
}

static t5e_status save_optimizer(run_state *r, const char *dir,
                                 t5e_err *err) {
    int n;
    st_item *items = optim_state_items(&r->opt, &n);
    if (!items)
        return err_set(err, T5E_ERR_NOMEM, "optimizer state");
    char path[4096];
    path_join(path, sizeof path, dir, "optimizer.safetensors");
    t5e_status s = st_write(path, items, n, err);
    optim_state_items_free(items, n);
    return s;
}

static t5e_status save_checkpoint(run_state *r, t5e_err *err) {
    char tmp[4096];
    const char *out = r->cfg->output_dir;
    t5e_status s = ckpt_begin(out, r->step, tmp, sizeof tmp, err);
    if (!s)
        s = r->task->save_model(r->task->ctx, tmp, err);
    if (!s && r->cfg->kill_at == r->step)
        raise(SIGKILL); /* fault injection for the crash-safety test */
    if (!s)
        s = save_optimizer(r, tmp, err);
    if (!s)
        s = save_state_json(r, tmp, err);
    if (!s)
        s = ckpt_commit(out, tmp, NULL, err);
    if (!s)
        ckpt_prune(out, r->cfg->keep_checkpoints);
    return s;
}

static t5e_status save_best(run_state *r, t5e_err *err) {
    char tmp[4096];
    t5e_status s = ckpt_begin(r->cfg->output_dir, -1, tmp, sizeof tmp, err);
    if (!s)
        s = r->task->save_model(r->task->ctx, tmp, err);
    if (!s)
        s = save_state_json(r, tmp, err);
    if (!s)
        s = ckpt_commit(r->cfg->output_dir, tmp, "best", err);
    return s;
}

static t5e_status load_state_json(run_state *r, const char *dir,
                                  t5e_err *err) {
    char path[4200], *text;
    size_t len;
    path_join(path, sizeof path, dir, "trainer_state.json");
    t5e_status s = file_read_all(path, &text, &len, err);
    if (s)
        return s;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    cJSON *step = cJSON_GetObjectItem(root, "step");
    cJSON *ostep = cJSON_GetObjectItem(root, "optimizer_step");
    cJSON *best = cJSON_GetObjectItem(root, "best_metric");
    if (!cJSON_IsNumber(step) || !cJSON_IsNumber(ostep)) {
        cJSON_Delete(root);
        return err_set(err, T5E_ERR_FORMAT, "%s: no step", path);
    }
    r->step = (long)step->valuedouble;
    r->opt.step = (long)ostep->valuedouble;
    if (cJSON_IsNumber(best))
        r->best = best->valuedouble;
    if (r->task->load_state)
        s = r->task->load_state(r->task->ctx,
                                cJSON_GetObjectItem(root, "task"), err);
    cJSON_Delete(root);
    return s;
}

/* Model, optimizer and position from the newest complete checkpoint. */
static t5e_status resume(run_state *r, t5e_err *err) {
    char dir[4096], path[4200];
    if (ckpt_latest(r->cfg->output_dir, dir, sizeof dir) < 0)
        return T5E_OK; /* nothing to resume: start fresh */
    t5e_status s = r->task->load_model(r->task->ctx, dir, err);
    st_file f;
    if (!s) {
        path_join(path, sizeof path, dir, "optimizer.safetensors");
        s = st_open(path, &f, err);
    }
    if (!s) {
        s = optim_load_state(&r->opt, &f, err);
        st_close(&f);
    }
    if (!s)
        s = load_state_json(r, dir, err);
    if (!s)
        fprintf(stderr, "resuming from %s at step %ld\n", dir, r->step);
    return s;
}

static t5e_status evaluate(run_state *r, t5e_err *err) {
    double m[TRAINER_MAX_METRICS];
    t5e_status s = r->task->evaluate(r->task->ctx, m, err);
    if (s)
        return s;
    progress_event(&r->prog, r->step, "eval", r->task->n_eval,
                   r->task->eval_names, m);
    if (r->task->keep_last || !(m[0] > r->best))
        return T5E_OK;
    r->best = m[0];
    return save_best(r, err);
}

static int due(long step, long every, long last) {
    return step == last || (every > 0 && step % every == 0);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The step the loop ends on: max_steps, or the current one once the
 * --max-time budget is spent (it then gets the last step's evaluation,
 * checkpoint and final save). */
static long last_step(const run_state *r, double t0) {
    const trainer_config *c = r->cfg;
    if (c->max_time > 0 && now_s() - t0 >= c->max_time) {
        if (r->step < c->max_steps)
            fprintf(stderr, "\nstopping at step %ld: --max-time %g s "
                    "reached\n", r->step, c->max_time);
        return r->step;
    }
    return c->max_steps;
}

static t5e_status one_step(run_state *r, t5e_err *err) {
    const trainer_config *c = r->cfg;
    double m[TRAINER_MAX_METRICS + 3], tokens = 0;
    param_zero_grad(r->ps);
    t5e_status s = r->task->step(r->task->ctx, r->step, m, &tokens, err);
    if (s)
        return s;
    float norm = optim_clip_grad_norm(r->ps, c->max_grad_norm);
    if (!isfinite(norm))
        return err_set(err, T5E_ERR_ARG, "step %ld: the gradient norm is "
                       "not finite (learning rate too high?)", r->step + 1);
    float lr = schedule_lr(&c->sched, r->step);
    optim_step(&r->opt, lr);
    r->step++;
    int n = r->task->n_metrics;
    const char *keys[TRAINER_MAX_METRICS + 3];
    memcpy(keys, r->task->metric_names, (size_t)n * sizeof *keys);
    keys[n] = "lr", m[n] = lr;
    keys[n + 1] = "grad_norm", m[n + 1] = norm;
    progress_step(&r->prog, r->step, tokens, n + 2, keys, m,
                  due(r->step, c->log_steps, c->max_steps));
    return T5E_OK;
}

/* After training: the output folder gets the best model, else the last. */
static t5e_status save_final(run_state *r, t5e_err *err) {
    char best[4096];
    path_join(best, sizeof best, r->cfg->output_dir, "best");
    t5e_status s = T5E_OK;
    if (r->task->evaluate && !r->task->keep_last && dir_exists(best))
        s = r->task->load_model(r->task->ctx, best, err);
    return s ? s : r->task->save_model(r->task->ctx, r->cfg->output_dir,
                                        err);
}

t5e_status trainer_run(const trainer_config *cfg, trainer_task *task,
                       param_set *ps, t5e_err *err) {
    run_state r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg, r.task = task, r.ps = ps, r.best = -INFINITY;
    char log[4096];
    t5e_status s = T5E_OK;
    if (mkdir(cfg->output_dir, 0755) != 0 && errno != EEXIST)
        s = err_set(err, T5E_ERR_IO, "%s: cannot create: %s",
                    cfg->output_dir, strerror(errno));
    if (!s)
        s = optim_init(&r.opt, &cfg->optim, ps, err);
    if (!s && cfg->resume)
        s = resume(&r, err);
    if (s) {
        optim_free(&r.opt);
        return s;
    }
    path_join(log, sizeof log, cfg->output_dir, "metrics.jsonl");
    s = progress_open(&r.prog, log, cfg->max_steps, r.step, err);
    r.prog.max_time = cfg->max_time;
    double t0 = now_s();
    for (long last = cfg->max_steps; !s && r.step < last;) {
        s = one_step(&r, err);
        last = last_step(&r, t0);
        if (!s && task->evaluate && due(r.step, cfg->eval_steps, last))
            s = evaluate(&r, err);
        if (!s && due(r.step, cfg->save_steps, last))
            s = save_checkpoint(&r, err);
    }
    progress_close(&r.prog);
    if (!s)
        s = save_final(&r, err);
    optim_free(&r.opt);
    return s;
}

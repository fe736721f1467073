/*
 * data_text2text.c - (input, target) examples for T5 fine-tuning: TSV,
 * JSON lines or two line-aligned files; a task prefix; examples-
 * proportional mixing of tasks with a cap (T5 paper, section 3.5.2):
 *
 *     rate_i = min(n_i, K) / sum_j min(n_j, K)
 *
 * Files are memory-mapped and indexed by line at open; text is tokenized
 * only when a batch needs it, so opening a large task is quick.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "train/data.h"

/* ------------------------------------------------------------------ */
/* Lines                                                               */
/* ------------------------------------------------------------------ */

/* [start, end) of the line at `start`, without its "\n" or "\r\n". */
static size_t line_end(const file_map *m, size_t start) {
    const char *p = (const char *)m->data;
    const char *nl = memchr(p + start, '\n', m->len - start);
    size_t end = nl ? (size_t)(nl - p) : m->len;
    if (end > start && p[end - 1] == '\r')
        end--;
    return end;
}

static int span_is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

/*
 * Indexes the lines of m: starts[i] and 1-based numbers[i] (numbers may be
 * NULL).  Blank lines are skipped unless keep_blank.
 */
static t5e_status lines_index(const file_map *m, const char *path,
                              int keep_blank, uint64_t **starts,
                              uint64_t **numbers, int64_t *n,
                              t5e_err *err) {
    const char *p = (const char *)m->data;
    uint64_t cap = 1;
    for (size_t i = 0; i < m->len; i++)
        cap += p[i] == '\n';
    *starts = xcalloc(cap, sizeof **starts);
    if (numbers)
        *numbers = xcalloc(cap, sizeof **numbers);
    if (!*starts || (numbers && !*numbers))
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory for %llu "
                       "lines", path, (unsigned long long)cap);
    int64_t k = 0;
    uint64_t line_no = 0;
    for (size_t at = 0; at < m->len;) {
        size_t end = line_end(m, at);
        line_no++;
        if (keep_blank || !span_is_blank(p + at, end - at)) {
            (*starts)[k] = at;
            if (numbers)
                (*numbers)[k] = line_no;
            k++;
        }
        const char *nl = memchr(p + at, '\n', m->len - at);
        at = nl ? (size_t)(nl - p) + 1 : m->len;
    }
    *n = k;
    return T5E_OK;
}

/* ------------------------------------------------------------------ */
/* Fields of one example                                               */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *input, *target;
    size_t input_len, target_len;
    cJSON *json; /* owns input/target for JSON lines */
} t2t_fields;

static const char *json_text(const cJSON *obj, const char *a,
                             const char *b) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);
    if (!v)
        v = cJSON_GetObjectItemCaseSensitive(obj, b);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Splits example i into input and target; errors name file:line. */
static t5e_status t2t_fields_get(const t2t_task *t, int64_t i,
                                 t2t_fields *f, t5e_err *err) {
    memset(f, 0, sizeof *f);
    const char *p = (const char *)t->src.data;
    size_t at = t->src_off[i], end = line_end(&t->src, at);
    unsigned long long line_no = (unsigned long long)t->src_line[i];
    if (t->format == T2T_PARALLEL) {
        size_t tat = t->tgt_off[i];
        f->input = p + at;
        f->input_len = end - at;
        f->target = (const char *)t->tgt.data + tat;
        f->target_len = line_end(&t->tgt, tat) - tat;
        return T5E_OK;
    }
    if (t->format == T2T_TSV) {
        const char *tab = memchr(p + at, '\t', end - at);
        const char *tab2 = tab ? memchr(tab + 1, '\t', (size_t)(p + end -
                                        tab - 1)) : NULL;
        if (!tab || tab2)
            return err_set(err, T5E_ERR_FORMAT,
                           "%s:%llu: expected 2 tab-separated columns "
                           "(input, target), found %d", t->name, line_no,
                           tab ? 3 : 1);
        f->input = p + at;
        f->input_len = (size_t)(tab - (p + at));
        f->target = tab + 1;
        f->target_len = (size_t)(p + end - tab - 1);
        return T5E_OK;
    }
    f->json = cJSON_ParseWithLength(p + at, end - at);
    const char *in = f->json ? json_text(f->json, "input", "inputs") : NULL;
    const char *tg = f->json ? json_text(f->json, "target", "targets")
                             : NULL;
    if (!in || !tg) {
        int parsed = f->json != NULL;
        cJSON_Delete(f->json);
        f->json = NULL;
        return err_set(err, T5E_ERR_FORMAT,
                       parsed ? "%s:%llu: expected string fields \"input\" "
                                "and \"target\" (or \"inputs\"/\"targets\")"
                              : "%s:%llu: not valid JSON", t->name, line_no);
    }
    f->input = in;
    f->input_len = strlen(in);
    f->target = tg;
    f->target_len = strlen(tg);
    return T5E_OK;
}

static void t2t_fields_free(t2t_fields *f) {
    cJSON_Delete(f->json);
    f->json = NULL;
}

/* ------------------------------------------------------------------ */
/* Opening                                                             */
/* ------------------------------------------------------------------ */

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

static t2t_format t2t_detect(const char *path, const file_map *m) {
    if (ends_with(path, ".jsonl") || ends_with(path, ".json"))
        return T2T_JSONL;
    const char *p = (const char *)m->data;
    size_t i = 0;
    while (i < m->len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' ||
                          p[i] == '\t'))
        i++;
    return i < m->len && p[i] == '{' ? T2T_JSONL : T2T_TSV;
}

static t5e_status t2t_task_start(t2t_task *t, const char *path,
                                 const char *prefix, t5e_err *err) {
    memset(t, 0, sizeof *t);
    t->name = strdup(path);
    t->prefix = strdup(prefix ? prefix : "");
    if (!t->name || !t->prefix)
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", path);
    return file_map_open(path, &t->src, err);
}

t5e_status t2t_task_open(const char *path, const char *prefix,
                         t2t_task *task, t5e_err *err) {
    t5e_status st = t2t_task_start(task, path, prefix, err);
    if (!st) {
        task->format = t2t_detect(path, &task->src);
        st = lines_index(&task->src, path, 0, &task->src_off,
                         &task->src_line, &task->n, err);
    }
    if (!st && task->n == 0)
        st = err_set(err, T5E_ERR_FORMAT, "%s: no examples", path);
    /* check every line now, so a bad one fails at open, not mid-run */
    for (int64_t i = 0; !st && i < task->n; i++) {
        t2t_fields f;
        st = t2t_fields_get(task, i, &f, err);
        t2t_fields_free(&f);
    }
    if (st)
        t2t_task_close(task);
    return st;
}

t5e_status t2t_task_open_parallel(const char *src_path,
                                  const char *tgt_path, const char *prefix,
                                  t2t_task *task, t5e_err *err) {
    t5e_status st = t2t_task_start(task, src_path, prefix, err);
    int64_t n_tgt = 0;
    task->format = T2T_PARALLEL;
    if (!st)
        st = file_map_open(tgt_path, &task->tgt, err);
    if (!st)
        st = lines_index(&task->src, src_path, 1, &task->src_off,
                         &task->src_line, &task->n, err);
    if (!st)
        st = lines_index(&task->tgt, tgt_path, 1, &task->tgt_off, NULL,
                         &n_tgt, err);
    if (!st && (task->n != n_tgt || task->n == 0))
        st = err_set(err, T5E_ERR_FORMAT,
                     "%s has %lld lines, %s has %lld; expected the same, "
                     "non-zero count", src_path, (long long)task->n,
                     tgt_path, (long long)n_tgt);
    if (st)
        t2t_task_close(task);
    return st;
}

void t2t_task_close(t2t_task *task) {
    file_map_close(&task->src);
    file_map_close(&task->tgt);
    free(task->name);
    free(task->prefix);
    free(task->src_off);
    free(task->tgt_off);
    free(task->src_line);
    memset(task, 0, sizeof *task);
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */
/* ------------------------------------------------------------------ */

static char *concat2(const char *a, size_t na, const char *b, size_t nb) {
    char *s = malloc(na + nb + 1);
    if (!s)
        return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb);
    s[na + nb] = '\0';
    return s;
}

t5e_status t2t_task_text(const t2t_task *task, int64_t i, char **input,
                         char **target, t5e_err *err) {
    *input = *target = NULL;
    if (i < 0 || i >= task->n)
        return err_set(err, T5E_ERR_ARG, "%s: example %lld of %lld",
                       task->name, (long long)i, (long long)task->n);
    t2t_fields f;
    t5e_status st = t2t_fields_get(task, i, &f, err);
    if (st)
        return st;
    *input = concat2(task->prefix, strlen(task->prefix), f.input,
                     f.input_len);
    *target = concat2("", 0, f.target, f.target_len);
    t2t_fields_free(&f);
    if (!*input || !*target) {
        free(*input);
        free(*target);
        *input = *target = NULL;
        return err_set(err, T5E_ERR_NOMEM, "%s: out of memory", task->name);
    }
    return T5E_OK;
}

/*
 * Encodes text into row[n]: ids without specials, cut to n - 1, then </s>,
 * then `fill`; mask (may be NULL) gets 1 for tokens, 0 after.
 */
static t5e_status encode_row(const t5e_tokenizer *tok, const char *text,
                             int n, int32_t eos, int32_t fill, int32_t *row,
                             int32_t *mask, t5e_err *err) {
    t5e_encode_options opt;
    t5e_encode_options_default(&opt);
    opt.add_special_tokens = 0;
    t5e_encoding enc = {0};
    t5e_status st = t5e_tokenizer_encode(tok, text, -1, NULL, 0, &opt, &enc,
                                         err);
    if (st)
        return st;
    int k = enc.n < n - 1 ? enc.n : n - 1;
    for (int i = 0; i < n; i++) {
        row[i] = i < k ? enc.ids[i] : i == k ? eos : fill;
        if (mask)
            mask[i] = i <= k;
    }
    t5e_encoding_free(&enc);
    return T5E_OK;
}

/* Encodes example i into one input row [S] and one label row [T]. */
static t5e_status t2t_encode_example(const t2t_task *t,
                                     const t5e_tokenizer *tok, int64_t i,
                                     int S, int T, int32_t *in,
                                     int32_t *in_mask, int32_t *lab,
                                     t5e_err *err) {
    t5e_special_ids sp = t5e_tokenizer_special_ids(tok);
    char *input, *target;
    t5e_status st = t2t_task_text(t, i, &input, &target, err);
    if (st)
        return st;
    st = encode_row(tok, input, S, sp.eos, sp.pad, in, in_mask, err);
    if (!st)
        st = encode_row(tok, target, T, sp.eos, DATA_IGNORE_LABEL, lab,
                        NULL, err);
    if (st)
        err_prefix(err, st, "%s:%llu", t->name,
                   (unsigned long long)t->src_line[i]);
    free(input);
    free(target);
    return st;
}

static t5e_status t2t_check_shape(const t5e_tokenizer *tok, int B, int S,
                                  int T, t5e_err *err) {
    t5e_special_ids sp = t5e_tokenizer_special_ids(tok);
    if (sp.eos < 0 || sp.pad < 0)
        return err_set(err, T5E_ERR_CONFIG,
                       "text-to-text data: the tokenizer has no </s> or pad");
    if (B <= 0 || S < 2 || T < 2)
        return err_set(err, T5E_ERR_ARG,
                       "text-to-text data: batch %d x %d / %d, expected "
                       "B > 0 and lengths >= 2", B, S, T);
    return T5E_OK;
}

t5e_status t2t_task_batch(const t2t_task *task, const t5e_tokenizer *tok,
                          int64_t start, int B, int S, int T,
                          int32_t *inputs, int32_t *input_mask,
                          int32_t *labels, int *n_rows, t5e_err *err) {
    t5e_status st = t2t_check_shape(tok, B, S, T, err);
    *n_rows = 0;
    int32_t pad = t5e_tokenizer_special_ids(tok).pad;
    for (int b = 0; !st && b < B; b++) {
        int32_t *in = inputs + (size_t)b * S, *m = input_mask + (size_t)b * S;
        int32_t *lab = labels + (size_t)b * T;
        if (start + b >= 0 && start + b < task->n) {
            st = t2t_encode_example(task, tok, start + b, S, T, in, m, lab,
                                    err);
            ++*n_rows;
            continue;
        }
        for (int i = 0; i < S; i++) {
            in[i] = pad;
            m[i] = 0;
        }
        for (int i = 0; i < T; i++)
            lab[i] = DATA_IGNORE_LABEL;
    }
    return st;
}

/* ------------------------------------------------------------------ */
/* Mixtures                                                            */
/* ------------------------------------------------------------------ */

static void t2t_order_sync(t2t_mix *m, int k) {
    if (m->order_epoch[k] == m->st.epoch[k])
        return;
    data_permutation(m->order[k], (uint64_t)m->tasks[k]->n, m->seed,
                     0x7E47 + (uint64_t)k, m->st.epoch[k]);
    m->order_epoch[k] = m->st.epoch[k];
}

t5e_status t2t_mix_init(t2t_mix *m, const t2t_task *const *tasks, int n,
                        int64_t cap, const t5e_tokenizer *tok,
                        uint64_t seed, t5e_err *err) {
    memset(m, 0, sizeof *m);
    if (n <= 0 || n > T2T_MAX_TASKS)
        return err_set(err, T5E_ERR_ARG,
                       "text-to-text mixture: %d tasks, expected 1..%d", n,
                       T2T_MAX_TASKS);
    double total = 0;
    for (int k = 0; k < n; k++) {
        int64_t nk = tasks[k]->n;
        m->rate[k] = (double)(cap > 0 && nk > cap ? cap : nk);
        total += m->rate[k];
    }
    m->n_tasks = m->st.n_tasks = n;
    m->tok = tok;
    m->seed = seed;
    rng_seed(&m->st.rng, seed);
    for (int k = 0; k < n; k++) {
        m->tasks[k] = tasks[k];
        m->rate[k] /= total;
        m->order[k] = xcalloc((size_t)tasks[k]->n, sizeof *m->order[k]);
        if (!m->order[k]) {
            t2t_mix_free(m);
            return err_set(err, T5E_ERR_NOMEM, "%s: out of memory",
                           tasks[k]->name);
        }
        m->order_epoch[k] = UINT64_MAX;
        t2t_order_sync(m, k);
    }
    return T5E_OK;
}

void t2t_mix_free(t2t_mix *m) {
    for (int k = 0; k < T2T_MAX_TASKS; k++)
        free(m->order[k]);
    memset(m, 0, sizeof *m);
}

/* Draws a task by rate, then that task's next example index. */
static int64_t t2t_mix_draw(t2t_mix *m, int *task) {
    double u = data_rand_double(&m->st.rng), acc = 0;
    int k = m->n_tasks - 1; /* rounding can leave u above the last sum */
    for (int j = 0; j < m->n_tasks; j++) {
        acc += m->rate[j];
        if (u < acc) {
            k = j;
            break;
        }
    }
    if (m->st.pos[k] == (uint64_t)m->tasks[k]->n) {
        m->st.pos[k] = 0;
        m->st.epoch[k]++;
        t2t_order_sync(m, k);
    }
    *task = k;
    return (int64_t)m->order[k][m->st.pos[k]++];
}

t5e_status t2t_mix_next_batch(t2t_mix *m, int B, int S, int T,
                              int32_t *inputs, int32_t *input_mask,
                              int32_t *labels, int *task_of, t5e_err *err) {
    t5e_status st = t2t_check_shape(m->tok, B, S, T, err);
    for (int b = 0; !st && b < B; b++) {
        int k;
        int64_t i = t2t_mix_draw(m, &k);
        if (task_of)
            task_of[b] = k;
        st = t2t_encode_example(m->tasks[k], m->tok, i, S, T,
                                inputs + (size_t)b * S,
                                input_mask + (size_t)b * S,
                                labels + (size_t)b * T, err);
    }
    return st;
}

void t2t_mix_state_get(const t2t_mix *m, t2t_mix_state *st) {
    *st = m->st;
}

t5e_status t2t_mix_restore(t2t_mix *m, const t2t_mix_state *st,
                           t5e_err *err) {
    if (st->n_tasks != m->n_tasks)
        return err_set(err, T5E_ERR_ARG,
                       "text-to-text mixture: state of %d tasks, the mixture "
                       "has %d", st->n_tasks, m->n_tasks);
    for (int k = 0; k < m->n_tasks; k++)
        if (st->pos[k] > (uint64_t)m->tasks[k]->n)
            return err_set(err, T5E_ERR_ARG,
                           "%s: state position %llu, the task has %lld "
                           "examples", m->tasks[k]->name,
                           (unsigned long long)st->pos[k],
                           (long long)m->tasks[k]->n);
    m->st = *st;
    for (int k = 0; k < m->n_tasks; k++)
        t2t_order_sync(m, k);
    return T5E_OK;
}

/*
 * t5_generate.c - t5e_t5_generate: encodes a ragged batch once, then runs
 * greedy decoding, sampling or beam search over the cached decoder.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate/beam.h"
#include "generate/generate.h"
#include "model/t5.h"
#include "ops/ops.h"

void t5e_generate_options_default(t5e_generate_options *opt) {
    opt->max_new_tokens = 19;
    opt->min_new_tokens = 0;
    opt->num_beams = 1;
    opt->num_return_sequences = 1;
    opt->length_penalty = 1.0f;
    opt->early_stopping = 0;
    opt->do_sample = 0;
    opt->temperature = 1.0f;
    opt->top_k = 50;
    opt->top_p = 1.0f;
    opt->seed = 0;
}

void t5e_generation_free(t5e_generation *g) {
    if (!g)
        return;
    for (int i = 0; i < g->n; i++)
        free(g->seqs[i].ids);
    free(g->seqs);
    g->seqs = NULL;
    g->n = 0;
}

static t5e_status check_options(const t5e_generate_options *o,
                                t5e_err *err) {
    if (o->max_new_tokens < 1 || o->max_new_tokens > T5_MAX_LEN - 1)
        return err_set(err, T5E_ERR_ARG, "max_new_tokens %d is out of range "
                       "[1, %d]", o->max_new_tokens, T5_MAX_LEN - 1);
    if (o->min_new_tokens < 0)
        return err_set(err, T5E_ERR_ARG, "min_new_tokens %d is negative",
                       o->min_new_tokens);
    if (o->num_beams < 1 || o->num_beams > 1024)
        return err_set(err, T5E_ERR_ARG, "num_beams %d is out of range "
                       "[1, 1024]", o->num_beams);
    if (o->num_return_sequences < 1 ||
        (!o->do_sample && o->num_return_sequences > o->num_beams))
        return err_set(err, T5E_ERR_ARG, "num_return_sequences %d must be "
                       "between 1 and num_beams (%d)",
                       o->num_return_sequences, o->num_beams);
    if (o->do_sample && o->num_beams > 1)
        return err_set(err, T5E_ERR_UNSUPPORTED, "sampling with beams "
                       "(beam-sample) is not supported; use num_beams 1");
    if (o->do_sample && !(o->temperature > 0.0f))
        return err_set(err, T5E_ERR_ARG, "temperature must be > 0 when "
                       "sampling (got %g)", o->temperature);
    if (!(o->top_p > 0.0f && o->top_p <= 1.0f) || o->top_k < 0)
        return err_set(err, T5E_ERR_ARG, "top_p must be in (0, 1] and top_k "
                       ">= 0");
    if (o->early_stopping < 0 || o->early_stopping > 2)
        return err_set(err, T5E_ERR_ARG, "early_stopping must be 0 (false), "
                       "1 (true) or 2 (never)");
    return T5E_OK;
}

/* Right-pads the ragged inputs into ids/mask [B, S]. */
static t5e_status pad_inputs(int B, const int32_t *const *ids,
                             const int *lens, int32_t **pids,
                             int32_t **pmask, int *pS, int pad,
                             t5e_err *err) {
    int S = 0;
    for (int b = 0; b < B; b++) {
        if (lens[b] < 1)
            return err_set(err, T5E_ERR_ARG, "input %d is empty", b);
        if (lens[b] > S)
            S = lens[b];
    }
    if (S > T5_MAX_LEN)
        return err_set(err, T5E_ERR_ARG, "an input of %d tokens is longer "
                       "than the limit of %d", S, T5_MAX_LEN);
    int32_t *p = xcalloc((size_t)B * S, sizeof *p);
    int32_t *mk = xcalloc((size_t)B * S, sizeof *mk);
    if (!p || !mk) {
        free(p);
        free(mk);
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < S; t++) {
            p[(size_t)b * S + t] = t < lens[b] ? ids[b][t] : pad;
            mk[(size_t)b * S + t] = t < lens[b];
        }
    *pids = p;
    *pmask = mk;
    *pS = S;
    return T5E_OK;
}

static t5e_status store_sequence(t5e_sequence *seq, const int32_t *ids,
                                 int n, float score, t5e_err *err) {
    seq->ids = xmalloc_array((size_t)(n > 0 ? n : 1), sizeof *seq->ids);
    if (!seq->ids)
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    memcpy(seq->ids, ids, (size_t)n * sizeof *ids);
    seq->n = n;
    seq->score = score;
    return T5E_OK;
}

/*
 * Greedy decoding and sampling: N = B * R rows, each decoded until </s> or
 * max_new_tokens.  A finished row keeps being fed the pad id, as the
 * reference does, so batch results equal single results.
 */
static t5e_status decode_simple(t5e_t5 *m, t5_decode_state *st, int B,
                                int R, const t5e_generate_options *o,
                                t5e_generation *out, t5e_err *err) {
    const t5e_t5_config *c = &m->cfg;
    int N = B * R, V = c->vocab_size, maxn = o->max_new_tokens;
    int32_t *tok = xmalloc_array((size_t)N, sizeof *tok);
    int32_t *gen = xmalloc_array((size_t)N * maxn, sizeof *gen);
    int *len = xcalloc((size_t)N, sizeof *len), *done = xcalloc(N, 4);
    float *logits = xmalloc_array((size_t)N * V, sizeof *logits);
    void *scratch = o->do_sample ? malloc(sample_scratch_bytes(V)) : NULL;
    t5e_status s = T5E_OK;
    if (!tok || !gen || !len || !done || !logits ||
        (o->do_sample && !scratch))
        s = err_set(err, T5E_ERR_NOMEM, "out of memory");
    rng_state rng;
    rng_seed(&rng, o->seed);
    for (int r = 0; r < N && !s; r++)
        tok[r] = c->decoder_start_token_id;
    int active = N;
    for (int step = 0; step < maxn && active && !s; step++) {
        t5_decode_step(m, st, tok, logits);
        for (int r = 0; r < N; r++) {
            float *lr = logits + (size_t)r * V;
            if (done[r]) {
                tok[r] = c->pad_token_id;
                continue;
            }
            if (step < o->min_new_tokens)
                lr[c->eos_token_id] = -INFINITY;
            int id = o->do_sample ? sample_token(lr, V, o, &rng, scratch)
                                  : argmax(lr, V);
            gen[(size_t)r * maxn + len[r]++] = id;
            tok[r] = id;
            if (id == c->eos_token_id) {
                done[r] = 1;
                active--;
            }
        }
    }
    for (int b = 0; b < B && !s; b++) {
        out[b].seqs = xcalloc((size_t)R, sizeof *out[b].seqs);
        if (!out[b].seqs) {
            s = err_set(err, T5E_ERR_NOMEM, "out of memory");
            break;
        }
        out[b].n = R;
        for (int k = 0; k < R && !s; k++) {
            int r = b * R + k;
            s = store_sequence(&out[b].seqs[k], gen + (size_t)r * maxn,
                               len[r], NAN, err);
        }
    }
    free(tok), free(gen), free(len), free(done), free(logits), free(scratch);
    return s;
}

t5e_status t5e_t5_generate(t5e_t5 *m, int B, const int32_t *const *ids,
                           const int *lens, const t5e_generate_options *opt,
                           t5e_generation *out, t5e_err *err) {
    t5e_generate_options def;
    if (!opt) {
        t5e_generate_options_default(&def);
        opt = &def;
    }
    if (B < 1)
        return err_set(err, T5E_ERR_ARG, "generate: batch of %d inputs", B);
    memset(out, 0, (size_t)B * sizeof *out);
    t5e_status s = check_options(opt, err);
    int32_t *pids = NULL, *mask = NULL;
    int S = 0;
    if (!s)
        s = pad_inputs(B, ids, lens, &pids, &mask, &S, m->cfg.pad_token_id,
                       err);
    if (s)
        return s;
    float *enc = xmalloc_array((size_t)B * S * m->cfg.d_model, sizeof *enc);
    if (!enc)
        s = err_set(err, T5E_ERR_NOMEM, "out of memory");
    if (!s)
        s = t5_encoder_forward(m, B, S, pids, mask, enc, NULL, err);
    int R = opt->num_beams > 1 ? opt->num_beams : opt->num_return_sequences;
    int N = B * R;
    int *enc_row = xmalloc_array((size_t)N, sizeof *enc_row);
    t5_decode_state st;
    memset(&st, 0, sizeof st);
    if (!s && !enc_row)
        s = err_set(err, T5E_ERR_NOMEM, "out of memory");
    for (int r = 0; r < N && !s; r++)
        enc_row[r] = r / R;
    if (!s)
        s = t5_decode_init(m, &st, B, S, enc, mask, N, enc_row,
                           opt->max_new_tokens + 1, err);
    if (!s && opt->num_beams > 1)
        s = beam_search(m, &st, B, opt, out, err);
    else if (!s)
        s = decode_simple(m, &st, B, R, opt, out, err);
    if (s)
        for (int b = 0; b < B; b++)
            t5e_generation_free(&out[b]);
    t5_decode_free(&st);
    free(enc_row), free(enc), free(pids), free(mask);
    return s;
}

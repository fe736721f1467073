/*
 * beam.c - beam search with the reference's scoring and stop rule.
 *
 * Per step each of the nb beams of an input adds log_softmax of its logits
 * to its running score; the best 2*nb (beam, token) pairs are walked in
 * order.  A </s> among the first nb closes a hypothesis, scored
 * sum / generated_len ** length_penalty (generated_len counts the </s>);
 * a </s> further down is skipped; other pairs fill the next beams.  An
 * input is done once it has nb hypotheses that no open beam can beat.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "generate/beam.h"
#include "ops/ops.h"

typedef struct {
    double score;
    int32_t *ids; /* generated ids, without the start token or </s> */
    int n;
    int eos;      /* closed by </s> (it is appended on output) */
} hypothesis;

/* The finished hypotheses of one input, at most nb kept. */
typedef struct {
    hypothesis *h; /* [nb + 1] */
    int count;
    double worst;
} hyp_set;

static int hyp_add(hyp_set *hs, int nb, const int32_t *ids, int n,
                   float sum_logprobs, int generated_len, float lp) {
    double score = (double)sum_logprobs / pow((double)generated_len, lp);
    if (hs->count == nb && !(score > hs->worst))
        return 1;
    int32_t *copy = xmalloc_array((size_t)(n > 0 ? n : 1), sizeof *copy);
    if (!copy)
        return 0;
    memcpy(copy, ids, (size_t)n * sizeof *ids);
    hs->h[hs->count++] = (hypothesis){score, copy, n, 0};
    if (hs->count > nb) { /* drop the worst, the first one on ties */
        int w = 0;
        for (int i = 1; i < hs->count; i++)
            if (hs->h[i].score < hs->h[w].score)
                w = i;
        free(hs->h[w].ids);
        memmove(&hs->h[w], &hs->h[w + 1],
                (size_t)(hs->count - w - 1) * sizeof *hs->h);
        hs->count--;
        hs->worst = hs->h[0].score;
        for (int i = 1; i < hs->count; i++)
            if (hs->h[i].score < hs->worst)
                hs->worst = hs->h[i].score;
    } else if (score < hs->worst) {
        hs->worst = score;
    }
    return 1;
}

static int hyp_is_done(const hyp_set *hs, int nb, float best_sum,
                       int generated, const t5e_generate_options *o) {
    if (hs->count < nb)
        return 0;
    if (o->early_stopping == 1)
        return 1;
    int len = generated;
    if (o->early_stopping == 2 && o->length_penalty > 0.0f)
        len = o->max_new_tokens;
    double best = (double)best_sum / pow((double)len, o->length_penalty);
    return hs->worst >= best;
}

typedef struct {
    float score;
    int index; /* beam * V + token */
} candidate;

/* The k best of x[n], best first; ties go to the lower index. */
static void top_candidates(const float *x, int n, int k, candidate *top) {
    int have = 0;
    for (int i = 0; i < n; i++) {
        float v = x[i];
        if (have == k && !(v > top[k - 1].score))
            continue;
        int j = have < k ? have++ : k - 1;
        while (j > 0 && top[j - 1].score < v) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = (candidate){v, i};
    }
}

typedef struct {
    int B, nb, V, maxn;
    float *scores, *next_scores; /* [N] running sums */
    int32_t *seq, *next_seq;     /* [N, maxn] generated ids */
    int32_t *tokens;             /* [N] next input ids */
    int *src;                    /* [N] row each new beam continues */
    int *done;                   /* [B] */
    float *logp;                 /* [N, V] */
    candidate *top;              /* [2 * nb] */
    hyp_set *hyps;               /* [B] */
} beam_state;

static void beam_free(beam_state *s) {
    for (int b = 0; s->hyps && b < s->B; b++) {
        for (int i = 0; i < s->hyps[b].count; i++)
            free(s->hyps[b].h[i].ids);
        free(s->hyps[b].h);
    }
    free(s->hyps), free(s->scores), free(s->next_scores), free(s->seq);
    free(s->next_seq), free(s->tokens), free(s->src), free(s->done);
    free(s->logp), free(s->top);
}

static int beam_alloc(beam_state *s, int B, int nb, int V, int maxn) {
    size_t N = (size_t)B * nb;
    memset(s, 0, sizeof *s);
    s->B = B, s->nb = nb, s->V = V, s->maxn = maxn;
    s->scores = xmalloc_array(N, sizeof(float));
    s->next_scores = xmalloc_array(N, sizeof(float));
    s->seq = xcalloc(N * maxn, sizeof(int32_t));
    s->next_seq = xcalloc(N * maxn, sizeof(int32_t));
    s->tokens = xmalloc_array(N, sizeof(int32_t));
    s->src = xmalloc_array(N, sizeof(int));
    s->done = xcalloc((size_t)B, sizeof(int));
    s->logp = xmalloc_array(N * V, sizeof(float));
    s->top = xmalloc_array(2 * (size_t)nb, sizeof(candidate));
    s->hyps = xcalloc((size_t)B, sizeof(hyp_set));
    if (!s->scores || !s->next_scores || !s->seq || !s->next_seq ||
        !s->tokens || !s->src || !s->done || !s->logp || !s->top ||
        !s->hyps)
        return 0;
    for (int b = 0; b < B; b++) {
        s->hyps[b].h = xcalloc((size_t)nb + 1, sizeof(hypothesis));
        s->hyps[b].worst = 1e9;
        if (!s->hyps[b].h)
            return 0;
    }
    for (size_t r = 0; r < N; r++)
        s->scores[r] = r % nb ? -1e9f : 0.0f;
    return 1;
}

/* Chooses the next beams of input b from its 2*nb best continuations. */
static int select_beams(beam_state *s, int b, int step, int eos,
                        const t5e_generate_options *o) {
    int nb = s->nb, V = s->V, filled = 0;
    top_candidates(s->logp + (size_t)b * nb * V, nb * V, 2 * nb, s->top);
    for (int rank = 0; rank < 2 * nb && filled < nb; rank++) {
        candidate c = s->top[rank];
        int row = b * nb + c.index / V, tok = c.index % V;
        if (tok == eos) {
            if (rank >= nb)
                continue;
            if (!hyp_add(&s->hyps[b], nb, s->seq + (size_t)row * s->maxn,
                         step, c.score, step + 1, o->length_penalty))
                return 0;
            continue;
        }
        int r = b * nb + filled++;
        s->next_scores[r] = c.score;
        s->tokens[r] = tok;
        s->src[r] = row;
    }
    s->done[b] = hyp_is_done(&s->hyps[b], nb, s->top[0].score, step + 1, o);
    return 1;
}

/* Adds this step's log-probabilities to each row's running score. */
static void score_rows(beam_state *s, const float *logits, int step,
                       int eos, const t5e_generate_options *o) {
    int N = s->B * s->nb, V = s->V;
    for (int r = 0; r < N; r++) {
        float *lp = s->logp + (size_t)r * V;
        op_log_softmax(lp, logits + (size_t)r * V, V);
        if (step < o->min_new_tokens)
            lp[eos] = -INFINITY;
        for (int v = 0; v < V; v++)
            lp[v] += s->scores[r];
    }
}

/* Extends each row by its chosen token, continuing row src[r]. */
static void advance(beam_state *s, int step, int pad, const int *was_done) {
    int N = s->B * s->nb, nb = s->nb;
    for (int r = 0; r < N; r++) {
        if (was_done[r / nb]) {
            s->src[r] = r;
            s->tokens[r] = pad;
            s->next_scores[r] = 0.0f;
        }
        memcpy(s->next_seq + (size_t)r * s->maxn,
               s->seq + (size_t)s->src[r] * s->maxn,
               (size_t)step * sizeof(int32_t));
        s->next_seq[(size_t)r * s->maxn + step] = s->tokens[r];
    }
    int32_t *t = s->seq;
    s->seq = s->next_seq;
    s->next_seq = t;
    float *f = s->scores;
    s->scores = s->next_scores;
    s->next_scores = f;
}

static int cmp_hyp(const void *a, const void *b) {
    const hypothesis *x = a, *y = b;
    return (x->score > y->score) - (x->score < y->score);
}

/* Best R hypotheses of input b; </s> appended to the closed ones. */
static t5e_status emit(beam_state *s, int b, int R, int eos,
                       t5e_generation *out, t5e_err *err) {
    hyp_set *hs = &s->hyps[b];
    /* stable ascending sort; the reference pops from the end */
    for (int i = 1; i < hs->count; i++)
        for (int j = i; j > 0 && cmp_hyp(&hs->h[j - 1], &hs->h[j]) > 0; j--) {
            hypothesis t = hs->h[j];
            hs->h[j] = hs->h[j - 1];
            hs->h[j - 1] = t;
        }
    out->seqs = xcalloc((size_t)R, sizeof *out->seqs);
    if (!out->seqs)
        return err_set(err, T5E_ERR_NOMEM, "out of memory");
    out->n = R;
    for (int k = 0; k < R; k++) {
        hypothesis *h = &hs->h[hs->count - 1 - k];
        int add_eos = h->n < s->maxn;
        t5e_sequence *q = &out->seqs[k];
        q->ids = xmalloc_array((size_t)h->n + 1, sizeof *q->ids);
        if (!q->ids)
            return err_set(err, T5E_ERR_NOMEM, "out of memory");
        memcpy(q->ids, h->ids, (size_t)h->n * sizeof *h->ids);
        if (add_eos)
            q->ids[h->n] = eos;
        q->n = h->n + add_eos;
        q->score = (float)h->score;
    }
    return T5E_OK;
}

static t5e_status run_steps(t5e_t5 *m, t5_decode_state *st, beam_state *s,
                            const t5e_generate_options *o, float *logits,
                            int *was_done, t5e_err *err) {
    const t5e_t5_config *c = &m->cfg;
    int N = s->B * s->nb, step = 0;
    for (int r = 0; r < N; r++)
        s->tokens[r] = c->decoder_start_token_id;
    for (; step < s->maxn; step++) {
        t5_decode_step(m, st, s->tokens, logits);
        score_rows(s, logits, step, c->eos_token_id, o);
        int all_done = 1;
        for (int b = 0; b < s->B; b++) {
            was_done[b] = s->done[b];
            if (!s->done[b] &&
                !select_beams(s, b, step, c->eos_token_id, o))
                return err_set(err, T5E_ERR_NOMEM, "out of memory");
            all_done &= s->done[b];
        }
        advance(s, step, c->pad_token_id, was_done);
        t5_decode_reorder(m, st, s->src);
        if (all_done)
            return T5E_OK;
    }
    /* out of length: the open beams compete with the closed hypotheses */
    for (int b = 0; b < s->B; b++)
        for (int k = 0; !s->done[b] && k < s->nb; k++) {
            int r = b * s->nb + k;
            if (!hyp_add(&s->hyps[b], s->nb, s->seq + (size_t)r * s->maxn,
                         s->maxn, s->scores[r], s->maxn, o->length_penalty))
                return err_set(err, T5E_ERR_NOMEM, "out of memory");
        }
    return T5E_OK;
}

t5e_status beam_search(t5e_t5 *m, t5_decode_state *st, int B,
                       const t5e_generate_options *o, t5e_generation *out,
                       t5e_err *err) {
    int V = m->cfg.vocab_size, nb = o->num_beams;
    beam_state s;
    int ok = beam_alloc(&s, B, nb, V, o->max_new_tokens);
    float *logits = xmalloc_array((size_t)B * nb * V, sizeof *logits);
    int *was_done = xcalloc((size_t)B, sizeof *was_done);
    t5e_status status = T5E_OK;
    if (!ok || !logits || !was_done)
        status = err_set(err, T5E_ERR_NOMEM, "out of memory for %d beams",
                         B * nb);
    if (!status)
        status = run_steps(m, st, &s, o, logits, was_done, err);
    for (int b = 0; b < B && !status; b++)
        status = emit(&s, b, o->num_return_sequences, m->cfg.eos_token_id,
                      &out[b], err);
    beam_free(&s);
    free(logits);
    free(was_done);
    return status;
}

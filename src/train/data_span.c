/*
 * data_span.c - T5 span corruption, as t5.data.preprocessors does it
 * (random_spans_helper, random_spans_noise_mask, noise_span_to_unique_
 * sentinel and nonnoise_span_to_unique_sentinel, span_corruption):
 *
 *   "Thank you for inviting me to your party last week ."
 *   inputs:  Thank you <extra_id_0> me to your party <extra_id_1> week . </s>
 *   targets: <extra_id_0> for inviting <extra_id_1> last <extra_id_2> </s>
 *
 * (that is the paper's figure; here the last span is always noise, as in
 * the original mask, so targets end with noise tokens, then </s>).
 *
 * Counts are rounded half to even in double precision, as Python's round()
 * does in random_spans_helper; the TF mask rounds in float32, which can
 * differ by one token when n * density is within 1e-7 of a half.  Using one
 * rounding for both keeps every input exactly input_len long.  The clamps
 * of the mask (at least one noise and one non-noise token, at least one
 * span) are applied in the helper too, for the same reason; they only
 * matter for inputs shorter than about 10 tokens.
 *
 * A segmentation of m items into k non-empty runs is drawn as k - 1 cut
 * points among the m - 1 gaps, every subset equally likely (the original
 * shuffles an indicator vector; same distribution), here by sequential
 * selection sampling so that no scratch memory is needed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/data.h"

static const uint64_t span_stream = 0x5BA4C0;

/* Noise tokens and noise spans of a length-L example (L >= 2). */
static void span_counts(int L, double density, double mean_span,
                        int *n_noise, int *n_spans) {
    int noise = (int)nearbyint((double)L * density);
    if (noise < 1)
        noise = 1;
    if (noise > L - 1)
        noise = L - 1;
    int spans = (int)nearbyint((double)noise / mean_span);
    if (spans > L - noise) /* every span needs a kept token before it */
        spans = L - noise;
    *n_noise = noise;
    *n_spans = spans < 1 ? 1 : spans;
}

void span_lengths(int input_len, double noise_density, double mean_span,
                  int *tokens_len, int *target_len) {
    int L = input_len - 1, noise, spans;
    for (;;) {
        span_counts(L + 1 < 2 ? 2 : L + 1, noise_density, mean_span, &noise,
                    &spans);
        if (L + 1 - noise + spans + 1 > input_len)
            break;
        L++;
    }
    span_counts(L < 2 ? 2 : L, noise_density, mean_span, &noise, &spans);
    int targets = noise + spans + 1;
    /* the original's hack: equal lengths when density is 0.5 */
    if (noise_density == 0.5 && targets > input_len) {
        L--;
        targets--;
    }
    *tokens_len = L;
    *target_len = targets;
}

/* Sequential selection of cut points: the lengths of a random
 * segmentation of `items` into `segments` runs, one at a time. */
typedef struct {
    int gaps; /* gaps not yet decided */
    int cuts; /* cuts still to place */
} segmenter;

static int segment_next(segmenter *s, rng_state *r) {
    int len = 1;
    while (s->gaps > 0) {
        int cut = s->cuts == s->gaps ||
                  (s->cuts > 0 &&
                   data_rand_below(r, (uint64_t)s->gaps) < (uint64_t)s->cuts);
        s->gaps--;
        if (cut) {
            s->cuts--;
            return len;
        }
        len++;
    }
    return len;
}

t5e_status span_corrupt(const int32_t *tokens, int n, double noise_density,
                        double mean_span, rng_state *rng,
                        const int32_t *sentinels, int n_sentinels,
                        int32_t eos, int32_t *out_in, int *n_in,
                        int32_t *out_tgt, int *n_tgt, t5e_err *err) {
    int ni = 0, nt = 0;
    if (n < 2) {
        /* the original pads the length to 2 and cuts the mask back: the
         * one token stays, the target is a lone sentinel */
        if (n == 1) {
            out_in[ni++] = tokens[0];
            out_tgt[nt++] = sentinels[0];
        }
        out_in[ni++] = eos;
        out_tgt[nt++] = eos;
        *n_in = ni;
        *n_tgt = nt;
        return T5E_OK;
    }
    int noise, spans;
    span_counts(n, noise_density, mean_span, &noise, &spans);
    if (spans > n_sentinels)
        return err_set(err, T5E_ERR_ARG,
                       "span corruption: %d tokens need %d noise spans, "
                       "only %d sentinels exist", n, spans, n_sentinels);
    segmenter keep = {n - noise - 1, spans - 1}, drop = {noise - 1, spans - 1};
    int at = 0;
    for (int s = 0; s < spans; s++) {
        int n_keep = segment_next(&keep, rng);
        int n_drop = segment_next(&drop, rng);
        /* a kept run is copied to the input and is one sentinel in the
         * target; a noise run is the reverse */
        memcpy(out_in + ni, tokens + at, (size_t)n_keep * sizeof *tokens);
        ni += n_keep;
        at += n_keep;
        out_in[ni++] = sentinels[s];
        out_tgt[nt++] = sentinels[s];
        memcpy(out_tgt + nt, tokens + at, (size_t)n_drop * sizeof *tokens);
        nt += n_drop;
        at += n_drop;
    }
    out_in[ni++] = eos;
    out_tgt[nt++] = eos;
    *n_in = ni;
    *n_tgt = nt;
    return T5E_OK;
}

/* ------------------------------------------------------------------ */
/* The reader                                                          */
/* ------------------------------------------------------------------ */

static void span_order_sync(span_data *d) {
    if (d->order_epoch == d->st.epoch)
        return;
    data_permutation(d->order, d->sh->n_docs, d->seed, span_stream,
                     d->st.epoch);
    d->order_epoch = d->st.epoch;
}

/* Looks up <extra_id_0>, <extra_id_1>, ... until the tokenizer has none. */
static t5e_status span_find_sentinels(span_data *d,
                                      const t5e_tokenizer *tok,
                                      t5e_err *err) {
    char piece[32];
    d->n_sentinels = 0;
    for (int i = 0; i < SPAN_MAX_SENTINELS; i++) {
        snprintf(piece, sizeof piece, "<extra_id_%d>", i);
        int id = t5e_tokenizer_piece_to_id(tok, piece);
        if (id < 0)
            break;
        d->sentinels[d->n_sentinels++] = id;
    }
    if (d->n_sentinels == 0)
        return err_set(err, T5E_ERR_CONFIG,
                       "span corruption: the tokenizer has no <extra_id_0> "
                       "sentinel (a T5 SentencePiece vocabulary is needed)");
    return T5E_OK;
}

t5e_status span_data_init(span_data *d, const token_shard *sh,
                          int input_len, double noise_density,
                          double mean_span, const t5e_tokenizer *tok,
                          uint64_t seed, t5e_err *err) {
    memset(d, 0, sizeof *d);
    t5e_status st = shard_check_tokenizer(sh, tok, err);
    if (!st)
        st = span_find_sentinels(d, tok, err);
    if (st)
        return st;
    t5e_special_ids sp = t5e_tokenizer_special_ids(tok);
    if (sp.eos < 0 || sp.pad < 0)
        return err_set(err, T5E_ERR_CONFIG,
                       "span corruption: the tokenizer has no </s> or pad");
    if (input_len < 4 || !(noise_density > 0 && noise_density < 1) ||
        !(mean_span >= 1))
        return err_set(err, T5E_ERR_ARG,
                       "span corruption: input length %d, noise density %g, "
                       "mean span %g; expected >= 4, in (0, 1), >= 1",
                       input_len, noise_density, mean_span);
    span_lengths(input_len, noise_density, mean_span, &d->raw_len,
                 &d->target_len);
    int noise, spans;
    span_counts(d->raw_len, noise_density, mean_span, &noise, &spans);
    if (spans > d->n_sentinels)
        return err_set(err, T5E_ERR_ARG,
                       "span corruption: input length %d needs %d sentinels, "
                       "the tokenizer has %d", input_len, spans,
                       d->n_sentinels);
    d->sh = sh;
    d->input_len = input_len;
    d->noise_density = noise_density;
    d->mean_span = mean_span;
    d->eos = sp.eos;
    d->pad = sp.pad;
    d->seed = seed;
    d->order = xcalloc(sh->n_docs, sizeof *d->order);
    d->raw = xcalloc((size_t)d->raw_len, sizeof *d->raw);
    d->in = xcalloc((size_t)d->raw_len + 1, sizeof *d->in);
    d->tgt = xcalloc((size_t)d->raw_len + 2, sizeof *d->tgt);
    if (!d->order || !d->raw || !d->in || !d->tgt) {
        span_data_free(d);
        return err_set(err, T5E_ERR_NOMEM, "span corruption: out of memory");
    }
    rng_seed(&d->st.rng, seed);
    d->order_epoch = UINT64_MAX;
    span_order_sync(d);
    return T5E_OK;
}

void span_data_free(span_data *d) {
    free(d->order);
    free(d->raw);
    free(d->in);
    free(d->tgt);
    memset(d, 0, sizeof *d);
}

/* Copies the next raw_len tokens of the endless, epoch-shuffled stream of
 * documents into d->raw. */
static void span_take_raw(span_data *d) {
    const token_shard *sh = d->sh;
    int got = 0;
    while (got < d->raw_len) {
        uint64_t doc = d->order[d->st.doc_pos];
        uint64_t first = sh->line_starts[sh->doc_starts[doc]];
        uint64_t end = sh->line_starts[sh->doc_starts[doc + 1]];
        uint64_t avail = end - first - d->st.tok_off;
        uint64_t n = (uint64_t)(d->raw_len - got);
        if (n > avail)
            n = avail;
        const uint32_t *src = sh->tokens + first + d->st.tok_off;
        for (uint64_t i = 0; i < n; i++)
            d->raw[got++] = (int32_t)src[i];
        d->st.tok_off += n;
        if (d->st.tok_off == end - first) {
            d->st.tok_off = 0;
            if (++d->st.doc_pos == sh->n_docs) {
                d->st.doc_pos = 0;
                d->st.epoch++;
                span_order_sync(d);
            }
        }
    }
}

t5e_status span_data_next_batch(span_data *d, int B, int32_t *inputs,
                                int32_t *input_mask, int32_t *labels,
                                t5e_err *err) {
    int S = d->input_len, T = d->target_len;
    for (int b = 0; b < B; b++) {
        span_take_raw(d);
        int n_in, n_tgt;
        t5e_status st = span_corrupt(d->raw, d->raw_len, d->noise_density,
                                     d->mean_span, &d->st.rng, d->sentinels,
                                     d->n_sentinels, d->eos, d->in, &n_in,
                                     d->tgt, &n_tgt, err);
        if (st)
            return st;
        if (n_in > S || n_tgt > T) /* span_lengths guarantees otherwise */
            return err_set(err, T5E_ERR_SHAPE,
                           "span corruption: example of %d -> %d inputs, %d "
                           "targets; expected at most %d, %d", d->raw_len,
                           n_in, n_tgt, S, T);
        int32_t *in = inputs + (size_t)b * S, *m = input_mask + (size_t)b * S;
        int32_t *lab = labels + (size_t)b * T;
        for (int i = 0; i < S; i++) {
            in[i] = i < n_in ? d->in[i] : d->pad;
            m[i] = i < n_in;
        }
        for (int i = 0; i < T; i++)
            lab[i] = i < n_tgt ? d->tgt[i] : DATA_IGNORE_LABEL;
    }
    return T5E_OK;
}

void span_data_state_get(const span_data *d, span_data_state *st) {
    *st = d->st;
}

t5e_status span_data_restore(span_data *d, const span_data_state *st,
                             t5e_err *err) {
    const token_shard *sh = d->sh;
    if (st->doc_pos >= sh->n_docs)
        return err_set(err, T5E_ERR_ARG,
                       "span corruption: state document %llu, the shard has "
                       "%llu", (unsigned long long)st->doc_pos,
                       (unsigned long long)sh->n_docs);
    span_data_state old = d->st;
    d->st = *st;
    span_order_sync(d);
    uint64_t doc = d->order[st->doc_pos];
    uint64_t len = sh->line_starts[sh->doc_starts[doc + 1]] -
                   sh->line_starts[sh->doc_starts[doc]];
    if (st->tok_off >= len) {
        d->st = old;
        span_order_sync(d);
        return err_set(err, T5E_ERR_ARG,
                       "span corruption: state offset %llu is past document "
                       "%llu (%llu tokens); saved with another shard?",
                       (unsigned long long)st->tok_off,
                       (unsigned long long)doc, (unsigned long long)len);
    }
    return T5E_OK;
}

/*
 * data_electra.c - ELECTRA pretraining sequences from a token shard, built
 * as google-research/electra build_pretraining_dataset.py (ExampleBuilder)
 * builds them:
 *
 *  - sentences (shard lines) of one document are gathered until their
 *    length reaches the target length, or the document ends;
 *  - with probability 0.1 the example has one segment only; otherwise the
 *    first segment aims at (target - 3) / 2 tokens: a sentence joins it when
 *    it is the first, when it keeps it under that length, or, while the
 *    second segment is empty and the first still short, with probability
 *    0.5; every other sentence goes to the second segment;
 *  - the first segment is cut to S - 2 tokens, the second to S - 3 - |A|;
 *  - afterwards the target length is S, or with probability 0.05 a uniform
 *    integer in [5, S] for the next example.
 *
 * Differences from the original, all deliberate:
 *  - documents are visited in a per-epoch shuffled order (the original
 *    writes files in order and leaves shuffling to the input pipeline);
 *  - a line longer than S - 2 tokens, which the original would truncate to
 *    one example and lose the rest of, is cut into pieces of (S - 3) / 2
 *    tokens that act as sentences (corpora with one document per line,
 *    such as sotu.txt, then keep all their text);
 *  - the random numbers come from xoshiro256**, not Python's random.
 */
#include <stdlib.h>
#include <string.h>

#include "train/data.h"

#define ELECTRA_ONE_SEGMENT_PROB 0.1
#define ELECTRA_RANDOM_LENGTH_PROB 0.05
#define ELECTRA_MIN_RANDOM_LENGTH 5

static const uint64_t electra_stream = 0xE1EC7A;

/* Makes d->order the document order of the state's epoch. */
static void electra_order_sync(electra_data *d) {
    if (d->order_epoch == d->st.epoch)
        return;
    data_permutation(d->order, d->sh->n_docs, d->seed, electra_stream,
                     d->st.epoch);
    d->order_epoch = d->st.epoch;
}

static uint64_t electra_doc_end(const electra_data *d) {
    return d->sh->doc_starts[d->order[d->st.doc_pos] + 1];
}

/* Moves to the first line of the next document, starting an epoch if
 * the last one is done. */
static void electra_next_doc(electra_data *d) {
    d->st.doc_pos++;
    if (d->st.doc_pos == d->sh->n_docs) {
        d->st.doc_pos = 0;
        d->st.epoch++;
        electra_order_sync(d);
    }
    d->st.line = d->sh->doc_starts[d->order[d->st.doc_pos]];
    d->st.line_off = 0;
}

t5e_status electra_data_init(electra_data *d, const token_shard *sh,
                             const t5e_tokenizer *tok, int max_len,
                             uint64_t seed, t5e_err *err) {
    memset(d, 0, sizeof *d);
    t5e_status st = shard_check_tokenizer(sh, tok, err);
    if (st)
        return st;
    t5e_special_ids sp = t5e_tokenizer_special_ids(tok);
    if (sp.cls < 0 || sp.sep < 0 || sp.pad < 0)
        return err_set(err, T5E_ERR_CONFIG,
                       "ELECTRA data: the tokenizer lacks [CLS], [SEP] or "
                       "[PAD] (cls %d, sep %d, pad %d)", sp.cls, sp.sep,
                       sp.pad);
    if (max_len < 8)
        return err_set(err, T5E_ERR_ARG,
                       "ELECTRA data: max_seq_len %d, expected at least 8",
                       max_len);
    d->sh = sh;
    d->max_len = max_len;
    d->piece_len = (max_len - 3) / 2;
    d->cls = sp.cls;
    d->sep = sp.sep;
    d->pad = sp.pad;
    d->seed = seed;
    d->order = xcalloc(sh->n_docs, sizeof *d->order);
    d->sent = xcalloc((size_t)max_len, sizeof *d->sent);
    d->sent_len = xcalloc((size_t)max_len, sizeof *d->sent_len);
    d->in_first = xcalloc((size_t)max_len, 1);
    if (!d->order || !d->sent || !d->sent_len || !d->in_first) {
        electra_data_free(d);
        return err_set(err, T5E_ERR_NOMEM,
                       "ELECTRA data: out of memory for %llu documents",
                       (unsigned long long)sh->n_docs);
    }
    rng_seed(&d->st.rng, seed);
    d->st.target_len = max_len;
    d->order_epoch = UINT64_MAX;
    electra_order_sync(d);
    d->st.line = sh->doc_starts[d->order[0]];
    return T5E_OK;
}

void electra_data_free(electra_data *d) {
    free(d->order);
    free(d->sent);
    free(d->sent_len);
    free(d->in_first);
    memset(d, 0, sizeof *d);
}

/*
 * Gathers the next example's sentences into d->sent / d->sent_len, as
 * add_line does; returns how many.  Every stored line has a token, so the
 * loop always ends: at the latest when a document runs out.
 */
static int electra_gather(electra_data *d) {
    const token_shard *sh = d->sh;
    int n_sent = 0;
    int64_t total = 0;
    for (;;) {
        if (d->st.line == electra_doc_end(d)) {
            electra_next_doc(d);
            if (total > 0)
                return n_sent;
            continue;
        }
        uint64_t start = sh->line_starts[d->st.line];
        uint64_t line_len = sh->line_starts[d->st.line + 1] - start;
        uint64_t len = line_len - d->st.line_off;
        uint64_t piece = (uint64_t)d->piece_len;
        if (line_len > (uint64_t)d->max_len - 2 && len > piece)
            len = piece;
        d->sent[n_sent] = sh->tokens + start + d->st.line_off;
        d->sent_len[n_sent++] = (int)len;
        total += (int64_t)len;
        d->st.line_off += len;
        if (d->st.line_off == line_len) {
            d->st.line++;
            d->st.line_off = 0;
        }
        /* n_sent < max_len holds: each sentence adds >= 1 token */
        if (total >= d->st.target_len)
            return n_sent;
    }
}

/* Appends n tokens (shard ids) to a row. */
static void row_put(int32_t *row, int *at, const uint32_t *tok, int n) {
    for (int i = 0; i < n; i++)
        row[(*at)++] = (int32_t)tok[i];
}

/*
 * Splits the gathered sentences into segments A and B and writes one row
 * (ids, types, mask [S]), as _create_example and _make_tf_example do.
 */
static void electra_emit(electra_data *d, int n_sent, int S, int32_t *ids,
                         int32_t *types, int32_t *mask) {
    rng_state *r = &d->st.rng;
    int64_t first_target = (d->st.target_len - 3) / 2;
    if (data_rand_double(r) < ELECTRA_ONE_SEGMENT_PROB)
        first_target = 100000;
    char *in_first = d->in_first;
    int64_t len_a = 0, len_b = 0;
    for (int i = 0; i < n_sent; i++) {
        int64_t n = d->sent_len[i];
        int first = len_a == 0 || len_a + n < first_target ||
                    (len_b == 0 && len_a < first_target &&
                     data_rand_double(r) < 0.5);
        in_first[i] = (char)first;
        if (first)
            len_a += n;
        else
            len_b += n;
    }
    int64_t keep_a = len_a < d->max_len - 2 ? len_a : d->max_len - 2;
    int64_t room_b = d->max_len - keep_a - 3;
    int64_t keep_b = len_b < room_b ? len_b : (room_b > 0 ? room_b : 0);

    /* copy segment A, then B, each sentence in order, within its budget */
    int at = 1;
    ids[0] = d->cls;
    for (int pass = 0; pass < 2; pass++) {
        int64_t budget = pass == 0 ? keep_a : keep_b;
        if (pass == 1 && budget == 0)
            break;
        for (int i = 0; i < n_sent && budget > 0; i++) {
            if (in_first[i] != (pass == 0))
                continue;
            int n = d->sent_len[i] < budget ? d->sent_len[i] : (int)budget;
            row_put(ids, &at, d->sent[i], n);
            budget -= n;
        }
        ids[at++] = d->sep;
        if (pass == 0)
            for (int i = 0; i < at; i++)
                types[i] = 0;
    }
    for (int i = (int)keep_a + 2; i < at; i++)
        types[i] = 1;
    for (int i = 0; i < S; i++)
        mask[i] = i < at;
    for (int i = at; i < S; i++) {
        ids[i] = d->pad;
        types[i] = 0;
    }

    d->st.target_len = d->max_len;
    if (data_rand_double(r) < ELECTRA_RANDOM_LENGTH_PROB)
        d->st.target_len = ELECTRA_MIN_RANDOM_LENGTH +
            (int64_t)data_rand_below(r, (uint64_t)(d->max_len -
                                     ELECTRA_MIN_RANDOM_LENGTH + 1));
}

t5e_status electra_data_next_batch(electra_data *d, int B, int S,
                                   int32_t *ids, int32_t *type_ids,
                                   int32_t *mask, t5e_err *err) {
    if (B <= 0 || S < d->max_len)
        return err_set(err, T5E_ERR_ARG,
                       "ELECTRA data: batch %d x %d, expected B > 0 and "
                       "S >= max_seq_len %d", B, S, d->max_len);
    for (int b = 0; b < B; b++) {
        int n_sent = electra_gather(d);
        size_t row = (size_t)b * (size_t)S;
        electra_emit(d, n_sent, S, ids + row, type_ids + row, mask + row);
    }
    return T5E_OK;
}

void electra_data_state_get(const electra_data *d, electra_data_state *st) {
    *st = d->st;
}

t5e_status electra_data_restore(electra_data *d,
                                const electra_data_state *st, t5e_err *err) {
    const token_shard *sh = d->sh;
    if (st->doc_pos >= sh->n_docs ||
        st->target_len < ELECTRA_MIN_RANDOM_LENGTH ||
        st->target_len > d->max_len)
        return err_set(err, T5E_ERR_ARG,
                       "ELECTRA data: state (document %llu of %llu, target "
                       "length %lld) does not fit this shard and length %d",
                       (unsigned long long)st->doc_pos,
                       (unsigned long long)sh->n_docs,
                       (long long)st->target_len, d->max_len);
    electra_data_state old = d->st;
    d->st = *st;
    electra_order_sync(d);
    uint64_t doc = d->order[st->doc_pos];
    uint64_t first = sh->doc_starts[doc], end = sh->doc_starts[doc + 1];
    int line_ok = st->line >= first && st->line <= end;
    if (line_ok && st->line < end)
        line_ok = st->line_off < sh->line_starts[st->line + 1] -
                                 sh->line_starts[st->line];
    if (!line_ok || (st->line == end && st->line_off != 0)) {
        d->st = old;
        electra_order_sync(d);
        return err_set(err, T5E_ERR_ARG,
                       "ELECTRA data: state line %llu (+%llu) is not in "
                       "document %llu (lines %llu..%llu); was it saved with "
                       "another shard or seed?", (unsigned long long)st->line,
                       (unsigned long long)st->line_off,
                       (unsigned long long)doc, (unsigned long long)first,
                       (unsigned long long)end);
    }
    return T5E_OK;
}

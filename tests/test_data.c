/*
 * test_data.c - the training data pipeline (src/train/data.h): token
 * shards and their validation, ELECTRA sequence packing, T5 span
 * corruption, text-to-text tasks and mixing, GLUE readers.  Every reader
 * is also checked for determinism and exact resumption from a saved state.
 *
 * Fixtures: tests/data/corpus/pretrain_slice.txt (88 KB of KJV, one
 * State of the Union line and Moby-Dick) and tests/data/glue/ (the
 * first rows of the real GLUE dev files).  Scratch files go to a temporary
 * folder that is removed at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "harness.h"
#include "train/data.h"

#define CORPUS "corpus/pretrain_slice.txt"

static t5e_tokenizer *t5_tok, *bert_tok;
static char tmp_dir[] = "/tmp/t5e_test_data.XXXXXX";
static char t5_shard[300], bert_shard[300];

static const char *tmp_path(const char *name) {
    static char buf[4][300];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_dir, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

static void write_text(const char *path, const char *text) {
    write_file(path, text, strlen(text));
}

static t5e_tokenizer *open_tok(const char *rel) {
    t5e_tokenizer *tok = NULL;
    t5e_err err = {0};
    if (t5e_tokenizer_load(data_path(rel), &tok, &err)) {
        fprintf(stderr, "cannot load %s: %s\n", rel, err.msg);
        exit(2);
    }
    return tok;
}

/* Ids of text without special tokens (malloc'd), count in *n. */
static int32_t *encode_raw(const t5e_tokenizer *tok, const char *text,
                           int *n) {
    t5e_encode_options opt;
    t5e_encode_options_default(&opt);
    opt.add_special_tokens = 0;
    t5e_encoding enc = {0};
    t5e_err err = {0};
    if (t5e_tokenizer_encode(tok, text, -1, NULL, 0, &opt, &enc, &err)) {
        fprintf(stderr, "encode failed: %s\n", err.msg);
        exit(2);
    }
    int32_t *ids = malloc(((size_t)enc.n + 1) * sizeof *ids);
    memcpy(ids, enc.ids, (size_t)enc.n * sizeof *ids);
    *n = enc.n;
    t5e_encoding_free(&enc);
    return ids;
}

/* ------------------------------------------------------------------ */
/* Shards                                                              */
/* ------------------------------------------------------------------ */

static int is_blank(const char *s) {
    return strspn(s, " \t\r\n\f\v") == strlen(s);
}

/* The shard holds, line by line, what direct tokenization gives, and
 * documents split at blank lines. */
static void test_shard_round_trip(void) {
    token_shard sh;
    t5e_err err = {0};
    CHECK_OK(shard_open(t5_shard, &sh, &err), &err);
    if (err.status)
        return;
    CHECK_OK(shard_verify(&sh, &err), &err);
    CHECK_OK(shard_check_tokenizer(&sh, t5_tok, &err), &err);
    CHECK(shard_check_tokenizer(&sh, bert_tok, &err) == T5E_ERR_CONFIG,
          "a BERT tokenizer must be refused");
    CHECK(strstr(err.msg, "vocabulary") != NULL, "message: %s", err.msg);

    FILE *f = fopen(data_path(CORPUS), "r");
    char *line = NULL;
    size_t cap = 0;
    uint64_t li = 0, docs = 0, mismatches = 0;
    int in_doc = 0;
    while (getline(&line, &cap, f) >= 0) {
        if (is_blank(line)) {
            in_doc = 0;
            continue;
        }
        int n;
        int32_t *ids = encode_raw(t5_tok, line, &n);
        if (n > 0) {
            docs += !in_doc;
            in_doc = 1;
            uint64_t a = sh.line_starts[li], b = sh.line_starts[li + 1];
            int same = b - a == (uint64_t)n;
            for (int i = 0; same && i < n; i++)
                same = sh.tokens[a + i] == (uint32_t)ids[i];
            if (!same && mismatches++ == 0)
                fprintf(stderr, "  line %llu differs: %llu vs %d ids\n",
                        (unsigned long long)li,
                        (unsigned long long)(b - a), n);
            li++;
        }
        free(ids);
    }
    free(line);
    fclose(f);
    CHECK(mismatches == 0, "%llu lines differ",
          (unsigned long long)mismatches);
    CHECK(li == sh.n_lines, "lines %llu vs shard %llu",
          (unsigned long long)li, (unsigned long long)sh.n_lines);
    CHECK(docs == sh.n_docs, "documents %llu vs shard %llu",
          (unsigned long long)docs, (unsigned long long)sh.n_docs);
    fprintf(stderr, "  shard: %llu tokens, %llu lines, %llu documents\n",
            (unsigned long long)sh.n_tokens, (unsigned long long)sh.n_lines,
            (unsigned long long)sh.n_docs);
    shard_close(&sh);
}

/* Writes a damaged copy of the T5 shard and expects `want` in the error. */
static void expect_bad_shard(const uint8_t *data, size_t n,
                             const char *want, int verify) {
    const char *path = tmp_path("bad.shard");
    write_file(path, data, n);
    token_shard sh;
    t5e_err err = {0};
    t5e_status st = shard_open(path, &sh, &err);
    if (!st && verify) {
        st = shard_verify(&sh, &err);
        shard_close(&sh);
    } else if (!st) {
        shard_close(&sh);
    }
    CHECK(st == T5E_ERR_FORMAT, "expected a format error (%s)", want);
    CHECK(strstr(err.msg, want) != NULL, "message \"%s\" lacks \"%s\"",
          err.msg, want);
}

static void test_shard_corrupt(void) {
    char *data;
    size_t n;
    t5e_err err = {0};
    CHECK_OK(file_read_all(t5_shard, &data, &n, &err), &err);
    uint8_t *p = (uint8_t *)data;
    expect_bad_shard(p, n - 8, "truncated", 0);
    expect_bad_shard(p, 40, "shorter than", 0);

    uint8_t *copy = malloc(n);
    memcpy(copy, p, n);
    copy[0] = 'X';
    expect_bad_shard(copy, n, "not a token shard", 0);

    memcpy(copy, p, n);
    uint64_t huge = UINT64_MAX / 2;
    memcpy(copy + 16, &huge, 8); /* n_tokens */
    expect_bad_shard(copy, n, "truncated or corrupt", 0);

    /* an offset table out of order */
    memcpy(copy, p, n);
    uint64_t n_tok;
    memcpy(&n_tok, p + 16, 8);
    size_t lines_at = SHARD_HEADER_BYTES + ((n_tok * 4 + 7) & ~7ULL);
    uint64_t big = 1000000;
    memcpy(copy + lines_at + 8 * 3, &big, 8);
    expect_bad_shard(copy, n, "out of order", 0);

    /* a flipped token id is caught by the checksum */
    memcpy(copy, p, n);
    copy[SHARD_HEADER_BYTES + 40] ^= 1;
    expect_bad_shard(copy, n, "checksum", 1);
    free(copy);
    free(data);

    token_shard sh;
    CHECK(shard_open(tmp_path("missing.shard"), &sh, &err) == T5E_ERR_IO,
          "a missing shard is an i/o error");
    const char *text = tmp_path("empty.txt");
    write_text(text, "\n  \n\n");
    const char *files[] = {text};
    CHECK(shard_build(files, 1, t5_tok, tmp_path("e.shard"), NULL, NULL,
                      &err) == T5E_ERR_FORMAT, "no tokens: %s", err.msg);
}

/* ------------------------------------------------------------------ */
/* ELECTRA                                                             */
/* ------------------------------------------------------------------ */

enum { EB = 16, ES = 64 };

/* One row is [CLS] A [SEP] (B [SEP]) then padding, types as documented. */
static int electra_row_ok(const int32_t *ids, const int32_t *types,
                          const int32_t *mask, t5e_special_ids sp,
                          int *two_segments) {
    int len = 0;
    while (len < ES && mask[len])
        len++;
    for (int i = len; i < ES; i++)
        if (mask[i] || ids[i] != sp.pad || types[i] != 0)
            return 0;
    if (len < 3 || ids[0] != sp.cls || ids[len - 1] != sp.sep)
        return 0;
    int seps = 0, first_sep = -1;
    for (int i = 0; i < len; i++)
        if (ids[i] == sp.sep && seps++ == 0)
            first_sep = i;
    if (seps < 1 || seps > 2)
        return 0;
    for (int i = 0; i < len; i++)
        if (types[i] != (i > first_sep))
            return 0;
    *two_segments = seps == 2;
    return 1;
}

static void electra_open(token_shard *sh, electra_data *d, uint64_t seed) {
    t5e_err err = {0};
    CHECK_OK(shard_open(bert_shard, sh, &err), &err);
    CHECK_OK(electra_data_init(d, sh, bert_tok, ES, seed, &err), &err);
}

static void test_electra_packing(void) {
    token_shard sh;
    electra_data d;
    electra_open(&sh, &d, 7);
    t5e_special_ids sp = t5e_tokenizer_special_ids(bert_tok);
    int32_t ids[EB * ES], types[EB * ES], mask[EB * ES];
    t5e_err err = {0};
    int bad = 0, two = 0, rows = 0, short_rows = 0;
    uint64_t tokens = 0;
    for (int step = 0; step < 60; step++) {
        CHECK_OK(electra_data_next_batch(&d, EB, ES, ids, types, mask, &err),
                 &err);
        for (int b = 0; b < EB; b++) {
            int t = 0, len = 0;
            const int32_t *m = mask + b * ES;
            bad += !electra_row_ok(ids + b * ES, types + b * ES, m, sp, &t);
            two += t;
            rows++;
            while (len < ES && m[len])
                len++;
            tokens += (uint64_t)len;
            short_rows += len < ES / 2;
        }
    }
    CHECK(bad == 0, "%d of %d rows are malformed", bad, rows);
    CHECK(two > rows / 2 && two < rows, "%d of %d rows have two segments",
          two, rows);
    CHECK(short_rows > 0, "no short rows (document ends, random lengths)");
    CHECK(d.st.epoch >= 1, "60 batches should pass an epoch of this corpus");
    fprintf(stderr, "  electra: %d rows, %d with two segments, %d short, "
            "%.1f tokens per row, epoch %llu\n", rows, two, short_rows,
            (double)tokens / rows, (unsigned long long)d.st.epoch);
    CHECK(electra_data_next_batch(&d, EB, ES - 1, ids, types, mask, &err) ==
          T5E_ERR_ARG, "S below max_seq_len must fail");
    electra_data_free(&d);
    shard_close(&sh);
}

/*
 * The segment rules on a corpus of 10-token lines, 20 per document, S 64:
 * an example gathers 7 lines (70 >= 64); A aims at (64 - 3) / 2 = 30, so
 * it takes lines 1-2 and, on a coin flip, line 3 (20 + 10 is not < 30):
 * |A| is 20 or 30 and B fills the rest up to 64.  One example in ten has
 * a single segment: 70 tokens cut to 62 (60 at a document's end, where
 * 6 lines are left).  Only the 5% of random target lengths break these.
 */
static void test_electra_segment_rules(void) {
    const char *path = tmp_path("tens.txt");
    FILE *f = fopen(path, "w");
    for (int doc = 0; doc < 30; doc++) {
        for (int i = 0; i < 20; i++)
            fputs("a b c d e f g h i j\n", f);
        fputs("\n", f);
    }
    fclose(f);
    const char *files[] = {path}, *out = tmp_path("tens.shard");
    t5e_err err = {0};
    token_shard sh;
    electra_data d;
    CHECK_OK(shard_build(files, 1, bert_tok, out, NULL, NULL, &err), &err);
    CHECK_OK(shard_open(out, &sh, &err), &err);
    CHECK_OK(electra_data_init(&d, &sh, bert_tok, ES, 3, &err), &err);
    if (err.status)
        return;
    t5e_special_ids sp = t5e_tokenizer_special_ids(bert_tok);
    static int32_t ids[EB * ES], types[EB * ES], mask[EB * ES];
    int count[4] = {0}; /* |A| 20, |A| 30, single segment, other */
    for (int step = 0; step < 40; step++) {
        electra_data_next_batch(&d, EB, ES, ids, types, mask, &err);
        for (int b = 0; b < EB; b++) {
            const int32_t *row = ids + b * ES;
            int a = 1, len = 0;
            while (row[a] != sp.sep)
                a++;
            while (len < ES && mask[b * ES + len])
                len++;
            int single = len == a + 1;
            int k = single && (a - 1 == 62 || a - 1 == 60) ? 2
                  : !single && a - 1 == 20 ? 0
                  : !single && a - 1 == 30 ? 1 : 3;
            count[k]++;
        }
    }
    int rows = 40 * EB;
    fprintf(stderr, "  segments: |A|=20 %d, |A|=30 %d, single %d, other "
            "(random lengths) %d\n", count[0], count[1], count[2],
            count[3]);
    CHECK(count[0] > rows / 5 && count[1] > rows / 5,
          "|A| should be 20 or 30 about equally often");
    CHECK(count[2] > rows / 20 && count[2] < rows / 5,
          "single-segment rows %d of %d, expected about 10%%", count[2],
          rows);
    CHECK(count[3] < rows / 10, "%d rows outside the rules", count[3]);
    electra_data_free(&d);
    shard_close(&sh);
    unlink(out);
    unlink(path);
}

static void test_electra_resume(void) {
    token_shard sh;
    electra_data a, b, c;
    electra_open(&sh, &a, 11);
    t5e_err err = {0};
    CHECK_OK(electra_data_init(&b, &sh, bert_tok, ES, 11, &err), &err);
    CHECK_OK(electra_data_init(&c, &sh, bert_tok, ES, 12, &err), &err);
    static int32_t x[3][EB * ES], y[3][EB * ES], z[3][EB * ES];
    int same_seed = 1, other_seed = 1;
    for (int step = 0; step < 30; step++) {
        electra_data_next_batch(&a, EB, ES, x[0], x[1], x[2], &err);
        electra_data_next_batch(&b, EB, ES, y[0], y[1], y[2], &err);
        electra_data_next_batch(&c, EB, ES, z[0], z[1], z[2], &err);
        same_seed &= memcmp(x, y, sizeof x) == 0;
        other_seed &= memcmp(x, z, sizeof x) == 0;
    }
    CHECK(same_seed, "one seed, two runs, different batches");
    CHECK(!other_seed, "two seeds gave the same batches");

    /* save mid-run (in the second epoch), continue in a fresh reader */
    electra_data_state st;
    electra_data_state_get(&a, &st);
    CHECK(st.epoch >= 1, "the state should be past an epoch");
    electra_data_free(&b);
    CHECK_OK(electra_data_init(&b, &sh, bert_tok, ES, 11, &err), &err);
    CHECK_OK(electra_data_restore(&b, &st, &err), &err);
    for (int step = 0; step < 5; step++) {
        electra_data_next_batch(&a, EB, ES, x[0], x[1], x[2], &err);
        electra_data_next_batch(&b, EB, ES, y[0], y[1], y[2], &err);
        CHECK(memcmp(x, y, sizeof x) == 0, "resumed batch %d differs", step);
    }
    st.doc_pos = sh.n_docs;
    CHECK(electra_data_restore(&b, &st, &err) == T5E_ERR_ARG,
          "a state past the shard must be refused");
    electra_data_free(&a);
    electra_data_free(&b);
    electra_data_free(&c);
    shard_close(&sh);
}

/* ------------------------------------------------------------------ */
/* Span corruption                                                     */
/* ------------------------------------------------------------------ */

static void ids_to_text(const int32_t *ids, int n, char *out, size_t cap) {
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < n && at + 1 < cap; i++) {
        const char *p = t5e_tokenizer_id_to_piece(t5_tok, ids[i]);
        at += (size_t)snprintf(out + at, cap - at, "%s%s", i ? " " : "",
                               p ? p : "?");
    }
}

static void sentinels_of(const t5e_tokenizer *tok, int32_t *s, int n) {
    char piece[32];
    for (int i = 0; i < n; i++) {
        snprintf(piece, sizeof piece, "<extra_id_%d>", i);
        s[i] = t5e_tokenizer_piece_to_id(tok, piece);
    }
}

/* Interleaves corrupted inputs and targets back into the original. */
static int span_rebuild(const int32_t *in, int n_in, const int32_t *tgt,
                        int n_tgt, const int32_t *sent, int32_t eos,
                        int32_t *out) {
    int n = 0, t = 0, s = 0;
    for (int i = 0; i < n_in && in[i] != eos; i++) {
        if (in[i] != sent[s]) {
            out[n++] = in[i];
            continue;
        }
        if (tgt[t++] != sent[s])
            return -1; /* sentinels out of order */
        while (t < n_tgt && tgt[t] != eos && tgt[t] != sent[s + 1])
            out[n++] = tgt[t++];
        s++;
    }
    return t == n_tgt - 1 && tgt[t] == eos ? n : -1;
}

/*
 * A documented example: the paper's sentence and two more, 46 tokens,
 * corrupted with seed 42 ("_" stands for U+2581, the word-start mark).
 * round(46 * 0.15) = 7 noise tokens in max(1, round(7 / 3)) = 2 spans;
 * the last span is noise, as in the original's mask.
 *
 *   text    Thank you for inviting me to your party last week. The food
 *           was wonderful, the music was even better, and we danced until
 *           midnight. We hope to see you again soon, and next time the
 *           dinner is on us.
 *   inputs  .. _The _food _was _wonderful , <extra_id_0> _and _we _dance d
 *           _until _midnight . .. _the _dinner _is _on _us <extra_id_1> </s>
 *   targets <extra_id_0> _the _music _was _even _better , <extra_id_1> .
 *           </s>
 */
static const char SPAN_TEXT[] =
    "Thank you for inviting me to your party last week. The food was "
    "wonderful, the music was even better, and we danced until midnight. "
    "We hope to see you again soon, and next time the dinner is on us.";
#define W "\xe2\x96\x81" /* U+2581 */
static const char SPAN_EXAMPLE_IN[] =
    W "Thank " W "you " W "for " W "inviting " W "me " W "to " W "your "
    W "party " W "last " W "week . " W "The " W "food " W "was "
    W "wonderful , <extra_id_0> " W "and " W "we " W "dance d " W "until "
    W "midnight . " W "We " W "hope " W "to " W "see " W "you " W "again "
    W "soon , " W "and " W "next " W "time " W "the " W "dinner " W "is "
    W "on " W "us <extra_id_1> </s>";
static const char SPAN_EXAMPLE_TGT[] =
    "<extra_id_0> " W "the " W "music " W "was " W "even " W "better , "
    "<extra_id_1> . </s>";
#undef W

static void test_span_example(void) {
    int tok_len, tgt_len;
    span_lengths(512, 0.15, 3.0, &tok_len, &tgt_len);
    CHECK(tok_len == 568 && tgt_len == 114,
          "random_spans_helper(512) = (%d, %d), T5 gives (568, 114)",
          tok_len, tgt_len);
    span_lengths(128, 0.15, 3.0, &tok_len, &tgt_len);
    fprintf(stderr, "  span lengths for 128: raw %d, targets %d\n", tok_len,
            tgt_len);

    int n;
    int32_t *ids = encode_raw(t5_tok, SPAN_TEXT, &n);
    int32_t sent[100], in[64], tgt[64];
    CHECK(n == 46, "the example text is %d tokens, expected 46", n);
    sentinels_of(t5_tok, sent, 100);
    CHECK(sent[0] == t5e_tokenizer_vocab_size(t5_tok) - 1,
          "<extra_id_0> is %d, expected the last id", sent[0]);
    int32_t eos = t5e_tokenizer_special_ids(t5_tok).eos;
    rng_state r;
    rng_seed(&r, 42);
    int n_in, n_tgt;
    t5e_err err = {0};
    CHECK_OK(span_corrupt(ids, n, 0.15, 3.0, &r, sent, 100, eos, in, &n_in,
                          tgt, &n_tgt, &err), &err);
    char text_in[1024], text_tgt[512];
    ids_to_text(in, n_in, text_in, sizeof text_in);
    ids_to_text(tgt, n_tgt, text_tgt, sizeof text_tgt);
    fprintf(stderr, "  inputs:  %s\n  targets: %s\n", text_in, text_tgt);
    CHECK(strcmp(text_in, SPAN_EXAMPLE_IN) == 0, "inputs %s", text_in);
    CHECK(strcmp(text_tgt, SPAN_EXAMPLE_TGT) == 0, "targets %s", text_tgt);
    int32_t back[64];
    CHECK(span_rebuild(in, n_in, tgt, n_tgt, sent, eos, back) == n &&
          memcmp(back, ids, (size_t)n * sizeof *ids) == 0,
          "inputs + targets do not give back the sentence");
    free(ids);
}

/* Over a whole pass of the corpus: exact lengths, sentinels in order,
 * inputs + targets = the raw text, density 0.15 within 1%. */
static void test_span_corpus(void) {
    token_shard sh;
    span_data d;
    t5e_err err = {0};
    CHECK_OK(shard_open(t5_shard, &sh, &err), &err);
    CHECK_OK(span_data_init(&d, &sh, 128, 0.15, 3.0, t5_tok, 5, &err),
             &err);
    if (err.status)
        return;
    enum { B = 8 };
    int S = d.input_len, T = d.target_len;
    int32_t *in = malloc(sizeof *in * B * S), *m = malloc(sizeof *m * B * S);
    int32_t *lab = malloc(sizeof *lab * B * T), *back = malloc(4 * 1024);
    uint64_t noise = 0, total = 0, bad = 0;
    while (d.st.epoch == 0) {
        CHECK_OK(span_data_next_batch(&d, B, in, m, lab, &err), &err);
        for (int b = 0; b < B; b++) {
            const int32_t *x = in + b * S, *y = lab + b * T;
            int n = span_rebuild(x, S, y, T, d.sentinels, d.eos, back);
            bad += n != d.raw_len || x[S - 1] != d.eos || y[T - 1] != d.eos;
            for (int i = 0; i < S; i++)
                bad += m[b * S + i] != 1;
            int sentinels = 0;
            for (int i = 0; i < T; i++)
                sentinels += y[i] >= d.sentinels[d.n_sentinels - 1];
            noise += (uint64_t)(T - 1 - sentinels);
            total += (uint64_t)d.raw_len;
        }
    }
    double density = (double)noise / (double)total;
    CHECK(bad == 0, "%llu malformed examples", (unsigned long long)bad);
    CHECK(density > 0.15 * 0.99 && density < 0.15 * 1.01,
          "noise density %.4f", density);
    fprintf(stderr, "  span: %llu raw tokens, density %.4f, S %d T %d\n",
            (unsigned long long)total, density, S, T);

    /* resume: a fresh reader restored from the state continues alike */
    span_data_state st;
    span_data_state_get(&d, &st);
    span_data e;
    CHECK_OK(span_data_init(&e, &sh, 128, 0.15, 3.0, t5_tok, 5, &err), &err);
    CHECK_OK(span_data_restore(&e, &st, &err), &err);
    int32_t *in2 = malloc(sizeof *in2 * B * S), *lab2 = malloc(4 * B * T);
    for (int step = 0; step < 3; step++) {
        span_data_next_batch(&d, B, in, m, lab, &err);
        span_data_next_batch(&e, B, in2, m, lab2, &err);
        CHECK(memcmp(in, in2, sizeof *in * B * S) == 0 &&
              memcmp(lab, lab2, sizeof *lab * B * T) == 0,
              "resumed batch %d differs", step);
    }
    span_data_free(&e);
    CHECK(span_data_init(&e, &sh, 128, 0.15, 3.0, bert_tok, 5, &err) ==
          T5E_ERR_CONFIG, "a shard of another vocabulary must be refused");
    free(in);
    free(m);
    free(lab);
    free(back);
    free(in2);
    free(lab2);
    span_data_free(&d);
    span_data_free(&e);
    shard_close(&sh);
}

/* ------------------------------------------------------------------ */
/* Text to text                                                        */
/* ------------------------------------------------------------------ */

static const char *PREFIX = "translate English to German: ";

static void test_t2t_files(void) {
    const char *tsv = tmp_path("a.tsv"), *jsonl = tmp_path("b.jsonl");
    write_text(tsv, "Hi.\tHallo!\n\nThank you.\tDanke.\r\nGo.\tGeh.\n");
    write_text(jsonl, "{\"input\": \"I see.\", \"target\": \"Ich sehe.\"}\n"
                      "{\"inputs\": \"Run!\", \"targets\": \"Lauf!\"}\n");
    t2t_task a, b;
    t5e_err err = {0};
    CHECK_OK(t2t_task_open(tsv, PREFIX, &a, &err), &err);
    CHECK_OK(t2t_task_open(jsonl, NULL, &b, &err), &err);
    CHECK(a.n == 3 && b.n == 2, "examples %lld / %lld", (long long)a.n,
          (long long)b.n);
    char *in, *tgt;
    CHECK_OK(t2t_task_text(&a, 1, &in, &tgt, &err), &err);
    CHECK(strcmp(in, "translate English to German: Thank you.") == 0 &&
          strcmp(tgt, "Danke.") == 0, "got \"%s\" -> \"%s\"", in, tgt);
    free(in);
    free(tgt);
    CHECK_OK(t2t_task_text(&b, 1, &in, &tgt, &err), &err);
    CHECK(strcmp(in, "Run!") == 0 && strcmp(tgt, "Lauf!") == 0,
          "got \"%s\" -> \"%s\"", in, tgt);
    free(in);
    free(tgt);

    /* in-order batch: prefix + input + </s>, padding, -100 labels */
    enum { B = 4, S = 24, T = 8 };
    int32_t x[B * S], m[B * S], y[B * T];
    int rows;
    CHECK_OK(t2t_task_batch(&a, t5_tok, 1, B, S, T, x, m, y, &rows, &err),
             &err);
    CHECK(rows == 2, "rows %d, expected 2 (examples 1 and 2 of 3)", rows);
    int n_in, n_tgt;
    int32_t *want_in = encode_raw(t5_tok, "translate English to German: "
                                          "Thank you.", &n_in);
    int32_t *want_tgt = encode_raw(t5_tok, "Danke.", &n_tgt);
    t5e_special_ids sp = t5e_tokenizer_special_ids(t5_tok);
    int ok = memcmp(x, want_in, sizeof *x * (size_t)n_in) == 0 &&
             x[n_in] == sp.eos && m[n_in] == 1 && m[n_in + 1] == 0 &&
             x[n_in + 1] == sp.pad;
    CHECK(ok, "input row is not prefix + text + </s> + padding");
    ok = memcmp(y, want_tgt, sizeof *y * (size_t)n_tgt) == 0 &&
         y[n_tgt] == sp.eos && y[n_tgt + 1] == DATA_IGNORE_LABEL;
    CHECK(ok, "label row is not text + </s> + -100");
    CHECK(m[2 * S] == 0 && y[3 * T] == DATA_IGNORE_LABEL,
          "rows past the end must be padding");
    free(want_in);
    free(want_tgt);
    t2t_task_close(&a);
    t2t_task_close(&b);

    /* bad lines name file:line */
    write_text(tsv, "Hi.\tHallo!\nno tab here\n");
    CHECK(t2t_task_open(tsv, NULL, &a, &err) == T5E_ERR_FORMAT &&
          strstr(err.msg, "a.tsv:2") != NULL, "message: %s", err.msg);
    write_text(jsonl, "{\"input\": \"x\", \"target\": \"y\"}\n"
                      "{\"input\": 1}\n");
    CHECK(t2t_task_open(jsonl, NULL, &b, &err) == T5E_ERR_FORMAT &&
          strstr(err.msg, "b.jsonl:2") != NULL, "message: %s", err.msg);

    /* two line-aligned files */
    write_text(tmp_path("p.en"), "A dog runs.\nTwo men.\n");
    write_text(tmp_path("p.de"), "Ein Hund rennt.\nZwei Männer.\n");
    CHECK_OK(t2t_task_open_parallel(tmp_path("p.en"), tmp_path("p.de"),
                                    PREFIX, &a, &err), &err);
    CHECK_OK(t2t_task_text(&a, 1, &in, &tgt, &err), &err);
    CHECK(a.n == 2 && strcmp(tgt, "Zwei Männer.") == 0, "got \"%s\"", tgt);
    free(in);
    free(tgt);
    t2t_task_close(&a);
}

/* Rates min(n_i, K) / sum, observed frequencies, resumption. */
static void test_t2t_mixing(void) {
    const char *p1 = tmp_path("m1.tsv"), *p2 = tmp_path("m2.tsv");
    write_text(p1, "a\tA\nb\tB\nc\tC\n");
    write_text(p2, "d\tD\ne\tE\nf\tF\ng\tG\nh\tH\ni\tI\nj\tJ\nk\tK\n");
    t2t_task a, b;
    t5e_err err = {0};
    CHECK_OK(t2t_task_open(p1, "x: ", &a, &err), &err);
    CHECK_OK(t2t_task_open(p2, "y: ", &b, &err), &err);
    const t2t_task *tasks[] = {&a, &b};
    t2t_mix m, r;
    CHECK_OK(t2t_mix_init(&m, tasks, 2, 4, t5_tok, 3, &err), &err);
    CHECK(m.rate[0] > 3.0 / 7 - 1e-12 && m.rate[0] < 3.0 / 7 + 1e-12,
          "rate %.6f, expected 3/7 (cap 4: min(3,4) / (3 + 4))", m.rate[0]);
    t2t_mix nocap;
    CHECK_OK(t2t_mix_init(&nocap, tasks, 2, 0, t5_tok, 3, &err), &err);
    CHECK(nocap.rate[1] > 8.0 / 11 - 1e-12 && nocap.rate[1] < 8.0 / 11 +
          1e-12, "uncapped rate %.6f, expected 8/11", nocap.rate[1]);
    t2t_mix_free(&nocap);

    enum { B = 50, S = 8, T = 4, STEPS = 40 };
    static int32_t x[B * S], mk[B * S], y[B * T], x2[B * S], y2[B * T];
    int task_of[B], count = 0;
    for (int s = 0; s < STEPS; s++) {
        CHECK_OK(t2t_mix_next_batch(&m, B, S, T, x, mk, y, task_of, &err),
                 &err);
        for (int i = 0; i < B; i++)
            count += task_of[i] == 0;
    }
    double f = (double)count / (B * STEPS);
    CHECK(f > 3.0 / 7 - 0.04 && f < 3.0 / 7 + 0.04,
          "task 0 drawn %.3f of the time, expected 0.429", f);

    t2t_mix_state st;
    t2t_mix_state_get(&m, &st);
    CHECK_OK(t2t_mix_init(&r, tasks, 2, 4, t5_tok, 3, &err), &err);
    CHECK_OK(t2t_mix_restore(&r, &st, &err), &err);
    for (int s = 0; s < 3; s++) {
        t2t_mix_next_batch(&m, B, S, T, x, mk, y, NULL, &err);
        t2t_mix_next_batch(&r, B, S, T, x2, mk, y2, NULL, &err);
        CHECK(memcmp(x, x2, sizeof x) == 0 && memcmp(y, y2, sizeof y) == 0,
              "resumed batch %d differs", s);
    }
    t2t_mix_free(&m);
    t2t_mix_free(&r);
    t2t_task_close(&a);
    t2t_task_close(&b);
}

/* ------------------------------------------------------------------ */
/* GLUE                                                                */
/* ------------------------------------------------------------------ */

static void test_glue_readers(void) {
    labeled_set s;
    t5e_err err = {0};
    CHECK_OK(labeled_open(data_path("glue/sst2_dev_head.tsv"), LABELED_AUTO,
                          NULL, 0, &s, &err), &err);
    CHECK(s.format == LABELED_SST2 && s.n == 5, "SST-2: format %d, %lld",
          s.format, (long long)s.n);
    CHECK(s.n == 5 && s.ex[1].label == 0 && s.ex[0].label == 1 &&
          strcmp(s.ex[1].text_a, "unflinchingly bleak and desperate ") == 0,
          "SST-2 row 1: \"%s\" %d", s.n ? s.ex[1].text_a : "", s.ex[1].label);
    CHECK(strcmp(s.label_names[1], "positive") == 0, "SST-2 names");
    labeled_free(&s);

    CHECK_OK(labeled_open(data_path("glue/cola_dev_head.tsv"), LABELED_AUTO,
                          NULL, 0, &s, &err), &err);
    CHECK(s.format == LABELED_COLA && s.n == 5 && s.ex[4].label == 0 &&
          strcmp(s.ex[4].text_a,
                 "As you eat the most, you want the least.") == 0,
          "CoLA: format %d, %lld rows", s.format, (long long)s.n);
    labeled_free(&s);

    CHECK_OK(labeled_open(data_path("glue/rte_dev_head.tsv"), LABELED_AUTO,
                          NULL, 0, &s, &err), &err);
    CHECK(s.format == LABELED_RTE && s.n == 4 && s.ex[0].label == 1 &&
          s.ex[1].label == 0 && s.ex[0].text_b != NULL,
          "RTE: format %d, %lld rows", s.format, (long long)s.n);
    CHECK(s.n_labels == 2 && strcmp(s.label_names[0], "entailment") == 0,
          "RTE label names");
    enum { S = 24 }; /* shorter than the pair: truncated */
    int64_t idx[2] = {0, 1};
    int32_t ids[2 * S], types[2 * S], mask[2 * S], labels[2];
    CHECK_OK(labeled_encode_batch(&s, bert_tok, idx, 2, S, ids, types, mask,
                                  labels, &err), &err);
    t5e_special_ids sp = t5e_tokenizer_special_ids(bert_tok);
    CHECK(ids[0] == sp.cls && types[S - 1] == 1 && mask[S - 1] == 1 &&
          ids[S - 1] == sp.sep && labels[0] == 1,
          "RTE pair row: [CLS] .. [SEP] .. [SEP] truncated to %d", S);
    labeled_free(&s);

    /* generic files, sorted labels, given labels, bad rows */
    const char *g = tmp_path("g.tsv");
    write_text(g, "text\tlabel\ngood\tpos\nbad\tneg\nfine\tpos\n");
    CHECK_OK(labeled_open(g, LABELED_AUTO, NULL, 0, &s, &err), &err);
    CHECK(s.format == LABELED_SINGLE && s.n == 3 && s.n_labels == 2 &&
          strcmp(s.label_names[0], "neg") == 0 && s.ex[0].label == 1,
          "generic: %lld rows, %d labels", (long long)s.n, s.n_labels);
    labeled_free(&s);
    const char *names[] = {"pos", "neg", "neutral"};
    CHECK_OK(labeled_open(g, LABELED_SINGLE, names, 3, &s, &err), &err);
    CHECK(s.n_labels == 3 && s.ex[0].label == 0, "given labels");
    labeled_free(&s);
    write_text(g, "a\tb\tneg\nc\td\tmaybe\n");
    CHECK(labeled_open(g, LABELED_PAIR, names, 3, &s, &err) ==
          T5E_ERR_FORMAT && strstr(err.msg, "g.tsv:2") != NULL,
          "message: %s", err.msg);
    write_text(g, "sentence\tlabel\nfine\t1\nbroken line\n");
    CHECK(labeled_open(g, LABELED_AUTO, NULL, 0, &s, &err) ==
          T5E_ERR_FORMAT && strstr(err.msg, "g.tsv:3") != NULL,
          "message: %s", err.msg);
    write_text(g, "sentence\tlabel\nfine\t2\n");
    CHECK(labeled_open(g, LABELED_SST2, NULL, 0, &s, &err) ==
          T5E_ERR_FORMAT && strstr(err.msg, "g.tsv:2") != NULL,
          "message: %s", err.msg);
}

/* ------------------------------------------------------------------ */

static void build_shard(t5e_tokenizer *tok, char *out, const char *name) {
    snprintf(out, 300, "%s", tmp_path(name));
    const char *files[] = {data_path(CORPUS)};
    t5e_err err = {0};
    double t0 = time_now();
    if (shard_build(files, 1, tok, out, NULL, NULL, &err)) {
        fprintf(stderr, "shard_build: %s\n", err.msg);
        exit(2);
    }
    fprintf(stderr, "built %s in %.2f s\n", name, time_now() - t0);
}

static void remove_tmp(void) {
    const char *names[] = {"t5.shard", "bert.shard", "bad.shard", "empty.txt",
                           "a.tsv", "b.jsonl", "p.en", "p.de", "m1.tsv",
                           "m2.tsv", "g.tsv"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmp_dir);
}

int main(void) {
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 2;
    }
    t5_tok = open_tok("tokenizers/t5/spiece.model");
    bert_tok = open_tok("tokenizers/electra/vocab.txt");
    build_shard(t5_tok, t5_shard, "t5.shard");
    build_shard(bert_tok, bert_shard, "bert.shard");
    RUN(test_shard_round_trip);
    RUN(test_shard_corrupt);
    RUN(test_electra_packing);
    RUN(test_electra_segment_rules);
    RUN(test_electra_resume);
    RUN(test_span_example);
    RUN(test_span_corpus);
    RUN(test_t2t_files);
    RUN(test_t2t_mixing);
    RUN(test_glue_readers);
    remove_tmp();
    t5e_tokenizer_free(t5_tok);
    t5e_tokenizer_free(bert_tok);
    return harness_finish();
}

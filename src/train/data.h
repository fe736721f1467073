/*
 * data.h - the training data pipeline shared by ELECTRA pretraining, T5
 * span-corruption pretraining and fine-tuning.
 *
 *   token shard   raw UTF-8 text tokenized once into one binary file that
 *                 is memory-mapped afterwards (corpora larger than RAM).
 *   electra_data  [CLS] A [SEP] B [SEP] sequences packed from a shard as
 *                 google-research/electra build_pretraining_dataset.py does.
 *   span_data     T5 span corruption (t5.data.preprocessors) over a shard.
 *   t2t           (input, target) text files, task prefixes, and mixing of
 *                 tasks by examples-proportional rates with a cap.
 *   labeled       GLUE-style classification TSVs (SST-2, CoLA, RTE, generic).
 *
 * Every reader is deterministic for a seed and keeps its position in a small
 * POD state: saving the state and restoring it into a fresh reader gives
 * exactly the batches an uninterrupted run would have seen.  Special ids
 * (pad, eos, [CLS], [SEP], sentinels) always come from the tokenizer.
 *
 * Dimension names: B batch, S input length, T target length.
 * Token buffers are int32; label padding is -100 (ignored by the loss).
 */
#ifndef T5E_TRAIN_DATA_H
#define T5E_TRAIN_DATA_H

#include <stdint.h>

#include "core/core.h"
#include "generate/generate.h"
#include "t5e.h"

#define DATA_IGNORE_LABEL (-100)

/* ------------------------------------------------------------------ */
/* Token shards (data_shard.c)                                         */
/* ------------------------------------------------------------------ */

/*
 * File layout (little-endian, every section 8-byte aligned):
 *   header, 64 bytes:
 *     0  char     magic[8] = "T5ESHRD1"
 *     8  uint32   version (1)
 *    12  uint32   vocab_size of the tokenizer that built it
 *    16  uint64   n_tokens
 *    24  uint64   n_lines    (a line of text = a sentence)
 *    32  uint64   n_docs     (blank-line separated; a file ends a doc)
 *    40  uint64   vocab_hash (FNV-1a over every piece, in id order)
 *    48  uint64   token_hash (FNV-1a over the token section)
 *    56  uint64   reserved (0)
 *   uint32 tokens[n_tokens], zero-padded to a multiple of 8 bytes
 *   uint64 line_starts[n_lines + 1]  token offset of each line; the last
 *                                    entry is n_tokens
 *   uint64 doc_starts[n_docs + 1]    first line of each document; the
 *                                    last entry is n_lines
 * Lines that tokenize to nothing are not stored, so every line and every
 * document holds at least one token.
 */
#define SHARD_MAGIC "T5ESHRD1"
#define SHARD_VERSION 1
#define SHARD_HEADER_BYTES 64

typedef struct {
    file_map map;
    const uint32_t *tokens;      /* [n_tokens] */
    const uint64_t *line_starts; /* [n_lines + 1] */
    const uint64_t *doc_starts;  /* [n_docs + 1] */
    uint64_t n_tokens, n_lines, n_docs;
    uint32_t vocab_size;
    uint64_t vocab_hash, token_hash;
} token_shard;

/* Called now and then during shard_build with the bytes read so far. */
typedef void (*shard_progress_fn)(void *ctx, const char *file,
                                  uint64_t bytes_read, uint64_t n_tokens);

/*
 * Tokenizes n text files (streamed line by line, any size) without
 * special tokens into one shard at out_path, written atomically.
 * Every file starts a new document; blank lines end one.  A single line
 * must fit in memory.  progress may be NULL.
 */
t5e_status shard_build(const char *const *files, int n,
                       const t5e_tokenizer *tok, const char *out_path,
                       shard_progress_fn progress, void *ctx, t5e_err *err);

/*
 * Maps a shard and checks its header, every count against the file size
 * and every offset table (monotone, in range).  Token ids are not read
 * here, so opening a huge shard is cheap; see shard_verify.
 */
t5e_status shard_open(const char *path, token_shard *sh, t5e_err *err);
void shard_close(token_shard *sh);

/* Reads every token: ids below vocab_size and token_hash as stored. */
t5e_status shard_verify(const token_shard *sh, t5e_err *err);

/* Refuses a shard built with another vocabulary than tok's. */
t5e_status shard_check_tokenizer(const token_shard *sh,
                                 const t5e_tokenizer *tok, t5e_err *err);

/* FNV-1a over the tokenizer's pieces: the identity of a vocabulary. */
uint64_t data_vocab_hash(const t5e_tokenizer *tok);

/* ------------------------------------------------------------------ */
/* Helpers shared by the readers (data_shard.c)                        */
/* ------------------------------------------------------------------ */

/* Uniform double in [0, 1) with 53 random bits. */
double data_rand_double(rng_state *r);
/* Uniform integer in [0, n); n > 0. */
uint64_t data_rand_below(rng_state *r, uint64_t n);
/*
 * A permutation of 0..n-1 that depends only on (seed, stream, epoch), so a
 * restored reader rebuilds its epoch order from the state alone.
 */
void data_permutation(uint64_t *order, uint64_t n, uint64_t seed,
                      uint64_t stream, uint64_t epoch);

/* ------------------------------------------------------------------ */
/* ELECTRA pretraining sequences (data_electra.c)                      */
/* ------------------------------------------------------------------ */

/* Where the next example starts; restore it to resume exactly. */
typedef struct {
    uint64_t epoch;    /* passes over the shard started before this one */
    uint64_t doc_pos;  /* index into this epoch's document order */
    uint64_t line;     /* next line (absolute index into the shard) */
    uint64_t line_off; /* tokens of that line already used */
    int64_t target_len; /* length goal of the next example */
    rng_state rng;
} electra_data_state;

typedef struct {
    const token_shard *sh;
    int max_len;           /* S: max_seq_length, [CLS] and [SEP]s included */
    int piece_len;         /* long lines are cut into pieces this long */
    int32_t cls, sep, pad;
    uint64_t seed;
    uint64_t *order;       /* [n_docs] this epoch's document order */
    uint64_t order_epoch;  /* epoch `order` was built for */
    const uint32_t **sent; /* [max_len] sentences of the example in build */
    int *sent_len;         /* [max_len] */
    char *in_first;        /* [max_len] 1: the sentence goes to segment A */
    electra_data_state st;
} electra_data;

/*
 * Binds a reader to a shard built with tok (checked).  Documents are
 * shuffled per epoch with the seed.  max_len is at least 8.
 */
t5e_status electra_data_init(electra_data *d, const token_shard *sh,
                             const t5e_tokenizer *tok, int max_len,
                             uint64_t seed, t5e_err *err);
void electra_data_free(electra_data *d);

/*
 * Fills B sequences of S >= max_len ids: ids, type_ids, mask [B, S].
 * Each is [CLS] A [SEP] or [CLS] A [SEP] B [SEP]; type ids are 0 up to the
 * first [SEP] and 1 for B [SEP]; padding has the pad id, type 0, mask 0.
 */
t5e_status electra_data_next_batch(electra_data *d, int B, int S,
                                   int32_t *ids, int32_t *type_ids,
                                   int32_t *mask, t5e_err *err);

void electra_data_state_get(const electra_data *d, electra_data_state *st);
t5e_status electra_data_restore(electra_data *d,
                                const electra_data_state *st, t5e_err *err);

/* ------------------------------------------------------------------ */
/* T5 span corruption (data_span.c)                                    */
/* ------------------------------------------------------------------ */

/*
 * random_spans_helper: the raw token count per example (*tokens_len) such
 * that the corrupted input plus EOS is at most input_len long (exactly, in
 * practice), and the target length (*target_len, EOS included).
 */
void span_lengths(int input_len, double noise_density, double mean_span,
                  int *tokens_len, int *target_len);

/*
 * Corrupts tokens[n] as T5 does: round(n * density) noise tokens in
 * max(1, round(noise / mean_span)) spans; spans alternate non-noise then
 * noise, every segmentation equally likely.  Noise span i becomes
 * sentinels[i] in the input (out_in, n + 1 slots suffice) and is spelled
 * out after sentinels[i] in the target (out_tgt, n + 2 slots suffice);
 * both end with eos.  Fails when more spans than n_sentinels are needed.
 */
t5e_status span_corrupt(const int32_t *tokens, int n, double noise_density,
                        double mean_span, rng_state *rng,
                        const int32_t *sentinels, int n_sentinels,
                        int32_t eos, int32_t *out_in, int *n_in,
                        int32_t *out_tgt, int *n_tgt, t5e_err *err);

typedef struct {
    uint64_t epoch;   /* passes over the shard started before this one */
    uint64_t doc_pos; /* index into this epoch's document order */
    uint64_t tok_off; /* tokens of that document already used */
    rng_state rng;
} span_data_state;

#define SPAN_MAX_SENTINELS 100

typedef struct {
    const token_shard *sh;
    int input_len;  /* S: encoder length, EOS included */
    int target_len; /* T: label length, EOS included */
    int raw_len;    /* shard tokens consumed per example */
    double noise_density, mean_span;
    int32_t eos, pad;
    int32_t sentinels[SPAN_MAX_SENTINELS]; /* id of <extra_id_i> */
    int n_sentinels;
    uint64_t seed;
    uint64_t *order; /* [n_docs] this epoch's document order */
    uint64_t order_epoch;
    int32_t *raw, *in, *tgt; /* [raw_len], [raw_len + 1], [raw_len + 2] */
    span_data_state st;
} span_data;

/*
 * Examples are cut from the documents of the shard concatenated in the
 * epoch's shuffled order (as T5's reduce_concat_tokens + split_tokens), so
 * every input is exactly input_len long and every target target_len long.
 */
t5e_status span_data_init(span_data *d, const token_shard *sh,
                          int input_len, double noise_density,
                          double mean_span, const t5e_tokenizer *tok,
                          uint64_t seed, t5e_err *err);
void span_data_free(span_data *d);

/* inputs, input_mask [B, d->input_len]; labels [B, d->target_len]. */
t5e_status span_data_next_batch(span_data *d, int B, int32_t *inputs,
                                int32_t *input_mask, int32_t *labels,
                                t5e_err *err);

void span_data_state_get(const span_data *d, span_data_state *st);
t5e_status span_data_restore(span_data *d, const span_data_state *st,
                             t5e_err *err);

/* ------------------------------------------------------------------ */
/* Text-to-text tasks and mixtures (data_text2text.c)                  */
/* ------------------------------------------------------------------ */

typedef enum {
    T2T_TSV = 1,      /* input<TAB>target per line */
    T2T_JSONL = 2,    /* {"input": .., "target": ..} ("inputs"/"targets") */
    T2T_PARALLEL = 3  /* line i of one file -> line i of another */
} t2t_format;

typedef struct {
    char *name;       /* the file path, for messages */
    char *prefix;     /* prepended to every input ("" for none) */
    t2t_format format;
    file_map src, tgt; /* tgt only for T2T_PARALLEL */
    uint64_t *src_off; /* [n + 1] line starts in src (end = next start) */
    uint64_t *tgt_off; /* [n + 1] line starts in tgt (parallel only) */
    uint64_t *src_line; /* [n] 1-based line numbers, for messages */
    int64_t n;
} t2t_task;

/*
 * Opens a TSV or JSON-lines file (format by extension .jsonl / .json, or by
 * a first line starting with '{').  Every line is checked here: a bad one
 * fails with file:line.  Blank lines are skipped.  prefix may be NULL.
 */
t5e_status t2t_task_open(const char *path, const char *prefix,
                         t2t_task *task, t5e_err *err);
/* Two line-aligned files (Multi30k train.en / train.de). */
t5e_status t2t_task_open_parallel(const char *src_path,
                                  const char *tgt_path, const char *prefix,
                                  t2t_task *task, t5e_err *err);
void t2t_task_close(t2t_task *task);

/* Example i as two malloc'd strings; the input has the prefix applied. */
t5e_status t2t_task_text(const t2t_task *task, int64_t i, char **input,
                         char **target, t5e_err *err);

/*
 * Encodes examples start..start+B-1 in file order (evaluation): inputs,
 * input_mask [B, S], labels [B, T]; both sides end with </s> (truncated to
 * fit).  Rows past the end are padding; *n_rows gets the real ones.
 */
t5e_status t2t_task_batch(const t2t_task *task, const t5e_tokenizer *tok,
                          int64_t start, int B, int S, int T,
                          int32_t *inputs, int32_t *input_mask,
                          int32_t *labels, int *n_rows, t5e_err *err);

#define T2T_MAX_TASKS 16

typedef struct {
    uint64_t epoch[T2T_MAX_TASKS]; /* per task: passes started before */
    uint64_t pos[T2T_MAX_TASKS];   /* per task: next index in its order */
    int n_tasks;
    rng_state rng;
} t2t_mix_state;

typedef struct {
    const t2t_task *tasks[T2T_MAX_TASKS];
    double rate[T2T_MAX_TASKS]; /* min(n_i, K) / sum_j min(n_j, K) */
    int n_tasks;
    const t5e_tokenizer *tok;
    uint64_t seed;
    uint64_t *order[T2T_MAX_TASKS]; /* [n_i] each task's epoch order */
    uint64_t order_epoch[T2T_MAX_TASKS];
    t2t_mix_state st;
} t2t_mix;

/*
 * Mixes n tasks by examples-proportional rates with cap K (T5 paper,
 * section 3.5.2); K <= 0 means no cap.  Each task is visited in its own
 * shuffled order, reshuffled each time it runs out.
 */
t5e_status t2t_mix_init(t2t_mix *m, const t2t_task *const *tasks, int n,
                        int64_t cap, const t5e_tokenizer *tok,
                        uint64_t seed, t5e_err *err);
void t2t_mix_free(t2t_mix *m);

/* inputs, input_mask [B, S]; labels [B, T]; task_of [B] may be NULL. */
t5e_status t2t_mix_next_batch(t2t_mix *m, int B, int S, int T,
                              int32_t *inputs, int32_t *input_mask,
                              int32_t *labels, int *task_of, t5e_err *err);

void t2t_mix_state_get(const t2t_mix *m, t2t_mix_state *st);
t5e_status t2t_mix_restore(t2t_mix *m, const t2t_mix_state *st,
                           t5e_err *err);

/* ------------------------------------------------------------------ */
/* Labeled classification data (data_labeled.c)                        */
/* ------------------------------------------------------------------ */

typedef enum {
    LABELED_AUTO = 0, /* by header / column count, see labeled_open */
    LABELED_SST2,     /* header "sentence\tlabel"; labels 0/1 */
    LABELED_COLA,     /* no header; source, label, star, sentence */
    LABELED_RTE,      /* header "index\tsentence1\tsentence2\tlabel" */
    LABELED_SINGLE,   /* text<TAB>label */
    LABELED_PAIR      /* text_a<TAB>text_b<TAB>label */
} labeled_format;

typedef struct {
    const char *text_a;
    const char *text_b; /* NULL for single-text tasks */
    int label;
} labeled_example;

typedef struct {
    char *name;      /* the file path, for messages */
    char *buf;       /* the file's text, cut into NUL-terminated fields */
    labeled_example *ex; /* [n] */
    int64_t n;
    char **label_names; /* [n_labels] */
    int n_labels;
    labeled_format format;
} labeled_set;

/*
 * Reads a classification TSV.  Label ids: SST-2 negative 0 / positive 1,
 * CoLA unacceptable 0 / acceptable 1, RTE entailment 0 / not_entailment 1
 * (the GLUE order); generic files use the sorted label strings, or
 * `labels` (n_labels names) when given, so that dev and train agree.
 * LABELED_AUTO picks SST-2 or RTE by their header, CoLA by 4 columns with
 * a 0/1 second column, else SINGLE (2 columns) or PAIR (3 columns); a
 * generic header line "text\tlabel" / "text_a\ttext_b\tlabel" is skipped.
 */
t5e_status labeled_open(const char *path, labeled_format format,
                        const char *const *labels, int n_labels,
                        labeled_set *set, t5e_err *err);
void labeled_free(labeled_set *set);

/*
 * Encodes examples idx[0..B-1] for a WordPiece classifier: ids, type_ids,
 * mask [B, S] ([CLS] a [SEP] (b [SEP]), truncated, padded) and labels [B].
 */
t5e_status labeled_encode_batch(const labeled_set *set,
                                const t5e_tokenizer *tok,
                                const int64_t *idx, int B, int S,
                                int32_t *ids, int32_t *type_ids,
                                int32_t *mask, int32_t *labels,
                                t5e_err *err);

#endif

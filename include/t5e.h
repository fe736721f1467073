/*
 * t5e.h - T5 and ELECTRA inference and training in C.
 *
 * Every handle is opaque and owned by the caller: each *_load / *_new has a
 * matching *_free.  The library keeps no global state.  Every fallible call
 * returns a t5e_status and, when `err` is not NULL, writes a one-line message
 * into it that names the file, tensor or value at fault and what was expected.
 *
 * Dimension names used in comments:
 *   B batch, S encoder length, T decoder length, D d_model / hidden size,
 *   V vocabulary size, L number of labels.
 * Tensors are row-major float32 unless said otherwise; token ids are int32.
 */
#ifndef T5E_H
#define T5E_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define T5E_VERSION "0.1.0"

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

typedef enum {
    T5E_OK = 0,
    T5E_ERR_IO,          /* a file is missing, unreadable or unwritable */
    T5E_ERR_FORMAT,      /* a file is corrupt, truncated or malformed */
    T5E_ERR_CONFIG,      /* a config value is missing, invalid or unknown */
    T5E_ERR_SHAPE,       /* a tensor has the wrong dtype or shape */
    T5E_ERR_ARG,         /* a caller argument is out of range */
    T5E_ERR_NOMEM,       /* an allocation failed */
    T5E_ERR_UNSUPPORTED  /* valid, but not something t5e does */
} t5e_status;

#define T5E_ERR_MSG_MAX 512

/* Filled by a failing call; left untouched by a succeeding one. */
typedef struct {
    t5e_status status;
    char msg[T5E_ERR_MSG_MAX];
} t5e_err;

/* A short constant name for a status ("io error", "bad format", ...). */
const char *t5e_status_name(t5e_status s);

/* ------------------------------------------------------------------ */
/* Tokenizers                                                          */
/* ------------------------------------------------------------------ */

typedef struct t5e_tokenizer t5e_tokenizer;

typedef enum {
    T5E_TOKENIZER_SENTENCEPIECE = 1, /* unigram model, T5 conventions */
    T5E_TOKENIZER_WORDPIECE = 2      /* BERT / ELECTRA conventions */
} t5e_tokenizer_kind;

/*
 * Loads the tokenizer of a model folder, or a folder that holds only the
 * tokenizer files.  Looked for, in order: spiece.model, tokenizer.json,
 * vocab.txt (with tokenizer_config.json when present).  `path` may also
 * name one of those files directly.
 */
t5e_status t5e_tokenizer_load(const char *path, t5e_tokenizer **out,
                              t5e_err *err);
void t5e_tokenizer_free(t5e_tokenizer *tok);

t5e_tokenizer_kind t5e_tokenizer_get_kind(const t5e_tokenizer *tok);
/* Number of ids the tokenizer can produce (T5: pieces + 100 sentinels). */
int t5e_tokenizer_vocab_size(const t5e_tokenizer *tok);
/* The piece text of an id, or NULL when out of range.  Owned by `tok`. */
const char *t5e_tokenizer_id_to_piece(const t5e_tokenizer *tok, int id);
/* The id of a piece, or -1 when the vocabulary does not have it. */
int t5e_tokenizer_piece_to_id(const t5e_tokenizer *tok, const char *piece);

/* Special ids; -1 where the tokenizer has none. */
typedef struct {
    int pad, unk, eos, bos, cls, sep, mask;
} t5e_special_ids;
t5e_special_ids t5e_tokenizer_special_ids(const t5e_tokenizer *tok);

/* One encoded text.  Arrays are owned by the struct; see t5e_encoding_free. */
typedef struct {
    int32_t *ids;            /* [n] */
    int32_t *type_ids;       /* [n] token type (0 / 1), WordPiece pairs */
    int32_t *attention_mask; /* [n] 1 for tokens, 0 for padding */
    char **pieces;           /* [n] the piece text of each id */
    int n;
} t5e_encoding;

typedef struct {
    int add_special_tokens; /* T5: append </s>; WordPiece: [CLS] .. [SEP] */
    int max_length;         /* truncate to this many ids; 0: no limit */
    int pad_to;             /* pad with the pad id up to this length; 0: no */
    int legacy;             /* T5: legacy=True behaviour (the default) */
} t5e_encode_options;

void t5e_encode_options_default(t5e_encode_options *opt);

/*
 * Encodes UTF-8 text (`len` bytes; -1 means NUL-terminated).  `text_b`
 * may be NULL; when given, WordPiece encodes the pair
 * [CLS] a [SEP] b [SEP] with type ids 0 then 1.  Invalid UTF-8 sequences
 * are each replaced by U+FFFD before tokenization (never an error).
 */
t5e_status t5e_tokenizer_encode(const t5e_tokenizer *tok, const char *text,
                                long len, const char *text_b, long len_b,
                                const t5e_encode_options *opt,
                                t5e_encoding *out, t5e_err *err);
void t5e_encoding_free(t5e_encoding *enc);

/*
 * Encodes n texts (texts_b may be NULL, or hold NULLs, for single texts)
 * into out[n].  With pad_to_longest every encoding is padded to the
 * longest one (pad id, mask 0).  On failure nothing is left allocated.
 */
t5e_status t5e_tokenizer_encode_batch(const t5e_tokenizer *tok, int n,
                                      const char *const *texts,
                                      const char *const *texts_b,
                                      const t5e_encode_options *opt,
                                      int pad_to_longest, t5e_encoding *out,
                                      t5e_err *err);

/*
 * Decodes ids to a newly allocated NUL-terminated UTF-8 string (free()).
 * skip_special drops the special tokens (pad, eos, unk, cls, sep, mask,
 * T5's sentinels) as the reference's skip_special_tokens does.
 */
t5e_status t5e_tokenizer_decode(const t5e_tokenizer *tok, const int32_t *ids,
                                int n, int skip_special, char **out,
                                t5e_err *err);

/* ------------------------------------------------------------------ */
/* Loading options shared by the models                                */
/* ------------------------------------------------------------------ */

typedef enum {
    T5E_DTYPE_F32 = 0,
    T5E_DTYPE_F16,
    T5E_DTYPE_BF16,
    T5E_DTYPE_I8,
    T5E_DTYPE_AUTO /* load options: the type the checkpoint stores */
} t5e_dtype;

/*
 * dtype is the type linear layers compute from (norms, biases and
 * position tables stay float32; accumulation is float32 always):
 *   AUTO (the default)  as stored: float32 checkpoints run in float32,
 *                       F16/BF16 and int8 ones in place from the map;
 *   F32                 everything converted to float32 (exactly what
 *                       the reference computes from the stored values);
 *   F16, BF16, I8       converted at load when stored otherwise; I8 is
 *                       per-output-channel symmetric int8 (`t5e quantize`
 *                       writes such checkpoints).
 */
typedef struct {
    int n_threads;   /* 0: all cores */
    t5e_dtype dtype; /* linear weights; see above */
} t5e_load_options;

void t5e_load_options_default(t5e_load_options *opt);

/* ------------------------------------------------------------------ */
/* T5                                                                  */
/* ------------------------------------------------------------------ */

typedef struct t5e_t5 t5e_t5;

typedef enum {
    T5E_ACT_RELU = 0,
    T5E_ACT_GELU,      /* exact, erf */
    T5E_ACT_GELU_NEW,  /* tanh approximation */
    T5E_ACT_GELU_FAST,
    T5E_ACT_QUICK_GELU,
    T5E_ACT_SILU,
    T5E_ACT_TANH,
    T5E_ACT_SIGMOID,
    T5E_ACT_LINEAR
} t5e_activation;

typedef struct {
    int vocab_size, d_model, d_kv, num_heads, d_ff;
    int num_layers, num_decoder_layers;
    int relative_attention_num_buckets, relative_attention_max_distance;
    int is_gated_act;
    t5e_activation dense_act;
    int tie_word_embeddings;
    float layer_norm_epsilon;
    float dropout_rate;   /* training only (inference is eval mode) */
    int pad_token_id, eos_token_id, decoder_start_token_id;
} t5e_t5_config;

/* Loads `dir`/config.json and model.safetensors (or a sharded index). */
t5e_status t5e_t5_load(const char *dir, const t5e_load_options *opt,
                       t5e_t5 **out, t5e_err *err);
void t5e_t5_free(t5e_t5 *m);
const t5e_t5_config *t5e_t5_get_config(const t5e_t5 *m);

/*
 * Encoder: ids [B, S], mask [B, S] (1 token, 0 padding; NULL: all ones)
 * -> hidden [B, S, D] after the final layer norm.
 */
t5e_status t5e_t5_encode(t5e_t5 *m, int B, int S, const int32_t *ids,
                         const int32_t *mask, float *hidden, t5e_err *err);

/*
 * Teacher-forced forward: encoder input as above, decoder input ids
 * [B, T] -> logits [B, T, V].
 */
t5e_status t5e_t5_forward(t5e_t5 *m, int B, int S, const int32_t *ids,
                          const int32_t *mask, int T,
                          const int32_t *decoder_ids, float *logits,
                          t5e_err *err);

typedef struct {
    int max_new_tokens;       /* default 19: the reference's max_length 20
                                 counts the decoder start token */
    int min_new_tokens;       /* default 0: </s> is masked before this */
    int num_beams;            /* default 1 */
    int num_return_sequences; /* default 1, at most num_beams */
    float length_penalty;     /* default 1.0 */
    int early_stopping;       /* 0 False (default), 1 True, 2 "never" */
    int do_sample;            /* default 0 */
    float temperature;        /* default 1.0 */
    int top_k;                /* default 50 (0: off) */
    float top_p;              /* default 1.0 */
    uint64_t seed;            /* default 0 */
} t5e_generate_options;

void t5e_generate_options_default(t5e_generate_options *opt);

/*
 * Applies dir/generation_config.json, when the folder has one, on top of
 * *opt, as the reference's generate() does: max_length (which counts the
 * start token), max_new_tokens, min_length, min_new_tokens, num_beams,
 * num_return_sequences, length_penalty, early_stopping, do_sample,
 * temperature, top_k, top_p.  A missing file is not an error.
 */
t5e_status t5e_generate_options_from_folder(const char *dir,
                                            t5e_generate_options *opt,
                                            t5e_err *err);

/* One generated sequence: ids without the decoder start token, ending in
 * </s> when the model produced it. */
typedef struct {
    int32_t *ids;
    int n;
    float score; /* beam score; NAN for greedy and sampling */
} t5e_sequence;

/* The generations of one input: num_return_sequences of them, best first. */
typedef struct {
    t5e_sequence *seqs;
    int n;
} t5e_generation;

/*
 * Generates for B inputs of different lengths: ids[b] has lens[b] ids.
 * `out` must hold B entries; free each with t5e_generation_free.
 */
t5e_status t5e_t5_generate(t5e_t5 *m, int B, const int32_t *const *ids,
                           const int *lens, const t5e_generate_options *opt,
                           t5e_generation *out, t5e_err *err);
void t5e_generation_free(t5e_generation *g);

/* ------------------------------------------------------------------ */
/* ELECTRA                                                             */
/* ------------------------------------------------------------------ */

typedef struct t5e_electra t5e_electra;

typedef enum {
    T5E_ELECTRA_BASE = 0,       /* ElectraModel: hidden states only */
    T5E_ELECTRA_DISCRIMINATOR,  /* ElectraForPreTraining */
    T5E_ELECTRA_GENERATOR,      /* ElectraForMaskedLM */
    T5E_ELECTRA_CLASSIFIER      /* ElectraForSequenceClassification */
} t5e_electra_head;

/* config position_embedding_type.  absolute: a learned table [P, E]
 * added to the embeddings.  relative_key: no such addition; each layer's
 * table e [2P - 1, head size] adds q_i . e(i - j) to the score of query
 * i and key j (before the 1 / sqrt(head size) scaling); relative_key_query
 * adds k_j . e(i - j) as well. */
typedef enum {
    T5E_POSITION_ABSOLUTE = 0,
    T5E_POSITION_RELATIVE_KEY,
    T5E_POSITION_RELATIVE_KEY_QUERY
} t5e_position_embedding;

typedef struct {
    int vocab_size, embedding_size, hidden_size;
    int num_hidden_layers, num_attention_heads, intermediate_size;
    int max_position_embeddings, type_vocab_size;
    t5e_activation hidden_act;
    float layer_norm_eps;
    int pad_token_id;
    int num_labels;      /* classifier only */
    t5e_electra_head head;
    /* Training only (inference is the reference's eval mode): dropout
     * on embeddings and sublayer outputs, on attention probabilities,
     * and in the classification head (< 0: config null, which means
     * hidden_dropout_prob). */
    float hidden_dropout_prob, attention_probs_dropout_prob;
    float classifier_dropout;
    t5e_position_embedding position_embedding_type;
} t5e_electra_config;

/* Loads an ELECTRA folder; the head is read from config "architectures". */
t5e_status t5e_electra_load(const char *dir, const t5e_load_options *opt,
                            t5e_electra **out, t5e_err *err);
void t5e_electra_free(t5e_electra *m);
const t5e_electra_config *t5e_electra_get_config(const t5e_electra *m);
/* The label name of class `i` (config id2label), never NULL. */
const char *t5e_electra_label_name(const t5e_electra *m, int i);

/*
 * Encoder: ids, type_ids, mask [B, S] (type_ids / mask may be NULL)
 * -> hidden [B, S, H] (output of the last layer).
 */
t5e_status t5e_electra_hidden(t5e_electra *m, int B, int S,
                              const int32_t *ids, const int32_t *type_ids,
                              const int32_t *mask, float *hidden,
                              t5e_err *err);
/* Discriminator: -> logits [B, S] (replaced-token logits). */
t5e_status t5e_electra_detect(t5e_electra *m, int B, int S,
                              const int32_t *ids, const int32_t *type_ids,
                              const int32_t *mask, float *logits,
                              t5e_err *err);
/* Generator: -> logits [B, S, V]. */
t5e_status t5e_electra_mlm(t5e_electra *m, int B, int S, const int32_t *ids,
                           const int32_t *type_ids, const int32_t *mask,
                           float *logits, t5e_err *err);
/* Classifier: -> logits [B, L]. */
t5e_status t5e_electra_classify(t5e_electra *m, int B, int S,
                                const int32_t *ids, const int32_t *type_ids,
                                const int32_t *mask, float *logits,
                                t5e_err *err);

#ifdef __cplusplus
}
#endif

#endif /* T5E_H */

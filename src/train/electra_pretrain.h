/*
 * electra_pretrain.h - one ELECTRA pre-training step, as the original
 * recipe (google-research/electra, pretrain/pretrain_helpers.py and
 * run_pretraining.py):
 *
 *   1. mask: per sequence, round(mask_prob * tokens) positions (at least
 *      1, at most max_predictions), never [CLS], [SEP], [MASK], [PAD] or
 *      padding; 85% of them become [MASK], 15% keep their token; no
 *      random replacement.
 *   2. generator forward, MLM cross-entropy over the selected positions.
 *   3. one token per selected position sampled from the generator's
 *      softmax (temperature 1, no gradient through the sample).
 *   4. discriminator labels = (sampled input != original); forward, BCE
 *      over attention-mask positions.
 *   5. loss = gen_loss + disc_weight (50) * disc_loss, backward.
 *
 * The generator shares the discriminator's embedding module (word,
 * position and type embeddings and the embedding LayerNorm); its output
 * layer is the shared word-embedding matrix plus its own bias.  One
 * param_set holds both networks: "disc.<name>" and "gen.<name>" with the
 * Hugging Face names, the shared embeddings only as "disc.electra.
 * embeddings.*", where both paths add their gradients.  Optimizers,
 * clipping and checkpoints walk that one set.
 */
#ifndef T5E_ELECTRA_PRETRAIN_H
#define T5E_ELECTRA_PRETRAIN_H

#include "generate/generate.h"
#include "model/electra_train.h"

typedef struct {
    float mask_prob;       /* 0.15 */
    int max_predictions;   /* per sequence; 0: (mask_prob + 0.005) * S */
    float mask_replace;    /* 0.85: share of selected set to [MASK] */
    float disc_weight;     /* 50 */
    /* from the vocabulary; defaults are BERT uncased (vocab.txt) */
    int mask_id, cls_id, sep_id, pad_id;
} electra_pretrain_config;

void electra_pretrain_config_default(electra_pretrain_config *pc);

typedef struct {
    double loss;           /* gen_loss + disc_weight * disc_loss */
    double gen_loss, disc_loss;
    double disc_acc;       /* over attention-mask positions */
    int n_masked;          /* selected positions */
    int n_replaced;        /* of those, sampled != original */
    int n_tokens;          /* attention-mask positions */
} electra_pretrain_stats;

typedef struct {
    param_set ps;          /* "disc.*" and "gen.*" */
    electra_net disc, gen;
    electra_pretrain_config pc;
    float initializer_range;
    int32_t *buf;          /* [4, B, S] inputs and labels of a step */
    size_t buf_len;
    /* Dropout in the steps (both networks, their configs' rates), masks
     * from drop_key, which the caller sets before every step; off by
     * default (the reference's eval mode, as the fixtures). */
    int drop_on;
    uint64_t drop_key;
} electra_pretrain;

/*
 * Declares and allocates both networks (zero values).  dc must be a
 * discriminator, gc a generator with the same vocab_size,
 * embedding_size, max_position_embeddings, type_vocab_size and pad id.
 */
t5e_status electra_pretrain_init(electra_pretrain *st,
                                 const t5e_electra_config *dc,
                                 const t5e_electra_config *gc,
                                 const electra_pretrain_config *pc,
                                 t5e_err *err);
/* From two Hugging Face folders; the generator's own embeddings are
 * ignored (the discriminator's are shared). */
t5e_status electra_pretrain_load(electra_pretrain *st, const char *disc_dir,
                                 const char *gen_dir,
                                 const electra_pretrain_config *pc,
                                 t5e_err *err);
/* _init_weights with N(0, initializer_range) over both networks. */
void electra_pretrain_init_random(electra_pretrain *st, uint64_t seed);
/* electra_init_local_attention on both networks (after init_random) */
void electra_pretrain_init_local_attention(electra_pretrain *st,
                                           float strength, int heads);
/* Writes both folders (created if missing) as save_pretrained would:
 * the generator with the shared embeddings under its own names and
 * without generator_lm_head.weight. */
t5e_status electra_pretrain_save(const electra_pretrain *st,
                                 const char *disc_dir, const char *gen_dir,
                                 t5e_err *err);
void electra_pretrain_free(electra_pretrain *st);

/*
 * Step 1 alone: ids, mask [B, S] (mask may be NULL) -> gen_ids (masked
 * input) and labels (original id at selected positions, -100 elsewhere)
 * [B, S].  Positions are drawn without replacement (the original draws
 * with replacement, so it sometimes masks fewer).  Returns the number of
 * selected positions.
 */
int electra_pretrain_mask(const electra_pretrain_config *pc, int B, int S,
                          const int32_t *ids, const int32_t *mask,
                          rng_state *rng, int32_t *gen_ids,
                          int32_t *labels);

/*
 * The whole step over ids, types, mask [B, S] (types / mask may be NULL):
 * adds the gradients of loss * scale to ps.grad (zero them first with
 * param_zero_grad unless accumulating) and fills *stats.  Deterministic
 * for a given rng state, whatever the thread count.
 */
t5e_status electra_pretrain_step(electra_pretrain *st, int B, int S,
                                 const int32_t *ids, const int32_t *types,
                                 const int32_t *mask, rng_state *rng,
                                 float scale, electra_pretrain_stats *stats,
                                 t5e_err *err);
/* The same with given masking (gen_ids, gen_labels) and given
 * discriminator input (disc_ids) instead of samples; scale 1. */
t5e_status electra_pretrain_step_fixed(electra_pretrain *st, int B, int S,
                                       const int32_t *ids,
                                       const int32_t *types,
                                       const int32_t *mask,
                                       const int32_t *gen_ids,
                                       const int32_t *gen_labels,
                                       const int32_t *disc_ids,
                                       electra_pretrain_stats *stats,
                                       t5e_err *err);

#endif

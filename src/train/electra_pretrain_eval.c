/*
 * electra_pretrain_eval.c - replaced-token detection without learning,
 * for evaluation during pretraining (see electra_task.h).  It reuses the
 * training path (electra_net_forward and the heads of electra_train.h),
 * so the masking, the generator's samples and the discriminator's logits
 * are exactly those a training step would see for the same rng state.
 */
#include <stdlib.h>
#include <string.h>

#include "train/electra_task.h"

t5e_status electra_pretrain_eval_batch(electra_pretrain *st, int B, int S,
                                       const int32_t *ids,
                                       const int32_t *types,
                                       const int32_t *mask, rng_state *rng,
                                       float *logits, int *labels,
                                       electra_pretrain_stats *stats,
                                       t5e_err *err) {
    size_t BS = (size_t)B * S;
    memset(stats, 0, sizeof *stats);
    /* gen_ids, gen_labels, disc_ids, disc_labels [B, S] */
    int32_t *buf = malloc(4 * BS * sizeof *buf);
    if (!buf)
        return err_set(err, T5E_ERR_NOMEM, "electra evaluation: out of "
                       "memory");
    int32_t *gen_ids = buf, *gen_labels = buf + BS;
    int32_t *disc_ids = buf + 2 * BS, *dl = buf + 3 * BS;
    t5e_status s = T5E_OK;
    if (electra_pretrain_mask(&st->pc, B, S, ids, mask, rng, gen_ids,
                              gen_labels) < 0)
        s = err_set(err, T5E_ERR_NOMEM, "electra evaluation: out of memory");

    /* generator: samples at the selected positions into disc_ids */
    memcpy(disc_ids, ids, BS * sizeof *ids);
    if (!s)
        s = electra_net_prepare(&st->gen, B, S, gen_ids, types, mask, err);
    if (!s) {
        electra_net_forward(&st->gen, B, S, gen_ids, types, mask);
        s = electra_mlm_head(&st->gen, B, S, gen_labels, 0.0f, rng,
                             disc_ids, &stats->gen_loss, &stats->n_masked,
                             err);
    }

    /* discriminator over the corrupted input */
    for (size_t t = 0; !s && t < BS; t++) {
        dl[t] = disc_ids[t] != ids[t];
        labels[t] = dl[t];
        stats->n_replaced += dl[t];
        stats->n_tokens += !mask || mask[t];
    }
    if (!s)
        s = electra_net_prepare(&st->disc, B, S, disc_ids, types, mask, err);
    if (!s) {
        electra_net_forward(&st->disc, B, S, disc_ids, types, mask);
        stats->disc_loss = electra_disc_head(&st->disc, B, S, dl, mask, 0.0f,
                                             logits, &stats->disc_acc);
        stats->loss = stats->gen_loss +
                      st->pc.disc_weight * stats->disc_loss;
    }
    free(buf);
    return s;
}

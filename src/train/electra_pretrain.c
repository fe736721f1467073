/*
 * electra_pretrain.c - the ELECTRA pre-training step (see
 * electra_pretrain.h): masking, generator, sampling, discriminator, and
 * both backward passes into one param_set.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/ops.h"
#include "train/electra_pretrain.h"

#define DISC_PRE "disc."
#define GEN_PRE "gen."

void electra_pretrain_config_default(electra_pretrain_config *pc) {
    pc->mask_prob = 0.15f;
    pc->max_predictions = 0;
    pc->mask_replace = 0.85f;
    pc->disc_weight = 50.0f;
    pc->mask_id = 103;
    pc->cls_id = 101;
    pc->sep_id = 102;
    pc->pad_id = 0;
}

/* The generator reads the discriminator's embedding tables. */
static t5e_status check_pair(const t5e_electra_config *d,
                             const t5e_electra_config *g, t5e_err *err) {
    if (d->head != T5E_ELECTRA_DISCRIMINATOR ||
        g->head != T5E_ELECTRA_GENERATOR)
        return err_set(err, T5E_ERR_ARG, "electra pretraining needs a "
                       "discriminator and a generator");
    const struct {
        const char *what;
        int d, g;
    } same[] = {
        {"vocab_size", d->vocab_size, g->vocab_size},
        {"embedding_size", d->embedding_size, g->embedding_size},
        {"max_position_embeddings", d->max_position_embeddings,
         g->max_position_embeddings},
        {"type_vocab_size", d->type_vocab_size, g->type_vocab_size},
        {"pad_token_id", d->pad_token_id, g->pad_token_id},
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        if (same[i].d != same[i].g)
            return err_set(err, T5E_ERR_CONFIG, "electra pretraining: the "
                           "generator's %s is %d but the discriminator's "
                           "is %d; shared embeddings need them equal",
                           same[i].what, same[i].g, same[i].d);
    return T5E_OK;
}

t5e_status electra_pretrain_init(electra_pretrain *st,
                                 const t5e_electra_config *dc,
                                 const t5e_electra_config *gc,
                                 const electra_pretrain_config *pc,
                                 t5e_err *err) {
    memset(st, 0, sizeof *st);
    st->pc = *pc;
    st->initializer_range = 0.02f;
    t5e_status s = check_pair(dc, gc, err);
    if (!s)
        s = electra_net_declare(&st->disc, dc, &st->ps, DISC_PRE, DISC_PRE,
                                err);
    if (!s)
        s = electra_net_declare(&st->gen, gc, &st->ps, GEN_PRE, DISC_PRE,
                                err);
    if (!s)
        s = param_alloc(&st->ps, err);
    if (!s)
        s = electra_net_bind(&st->disc, &st->ps, DISC_PRE, DISC_PRE, err);
    if (!s)
        s = electra_net_bind(&st->gen, &st->ps, GEN_PRE, DISC_PRE, err);
    if (s)
        electra_pretrain_free(st);
    return s;
}

/* Copies the parameters named pre* from a store (names without pre). */
static t5e_status load_prefixed(param_set *ps, const char *pre, weights *w,
                                t5e_err *err) {
    size_t n = strlen(pre);
    for (int i = 0; i < ps->n; i++) {
        if (strncmp(ps->p[i].name, pre, n))
            continue;
        t5e_status s = param_load_as(ps, i, w, ps->p[i].name + n, err);
        if (s)
            return s;
    }
    return T5E_OK;
}

t5e_status electra_pretrain_load(electra_pretrain *st, const char *disc_dir,
                                 const char *gen_dir,
                                 const electra_pretrain_config *pc,
                                 t5e_err *err) {
    t5e_electra *d = NULL, *g = NULL;
    memset(st, 0, sizeof *st);
    t5e_status s = t5e_electra_load(disc_dir, NULL, &d, err);
    if (!s)
        s = t5e_electra_load(gen_dir, NULL, &g, err);
    if (!s)
        s = electra_pretrain_init(st, &d->cfg, &g->cfg, pc, err);
    if (!s)
        s = load_prefixed(&st->ps, DISC_PRE, &d->store, err);
    if (!s)
        s = load_prefixed(&st->ps, GEN_PRE, &g->store, err);
    t5e_electra_free(d);
    t5e_electra_free(g);
    if (s)
        electra_pretrain_free(st);
    return s;
}

void electra_pretrain_init_random(electra_pretrain *st, uint64_t seed) {
    rng_state r;
    rng_seed(&r, seed);
    electra_init_params(&st->ps, "", st->initializer_range,
                        st->disc.model.cfg.pad_token_id, &r);
}

void electra_pretrain_init_local_attention(electra_pretrain *st,
                                           float strength, int heads) {
    electra_init_local_attention(&st->ps, DISC_PRE, &st->disc.model.cfg,
                                 strength, heads);
    electra_init_local_attention(&st->ps, GEN_PRE, &st->gen.model.cfg,
                                 strength, heads);
}

static t5e_status make_dir(const char *dir, t5e_err *err) {
    if (mkdir(dir, 0755) && errno != EEXIST)
        return err_set(err, T5E_ERR_IO, "%s: cannot create: %s", dir,
                       strerror(errno));
    return T5E_OK;
}

t5e_status electra_pretrain_save(const electra_pretrain *st,
                                 const char *disc_dir, const char *gen_dir,
                                 t5e_err *err) {
    float r = st->initializer_range;
    t5e_status s = make_dir(disc_dir, err);
    if (!s)
        s = electra_write_config(disc_dir, &st->disc.model.cfg, r, 0, NULL,
                                 err);
    if (!s)
        s = electra_write_weights(disc_dir, &st->ps, DISC_PRE, NULL, err);
    if (!s)
        s = make_dir(gen_dir, err);
    if (!s)
        s = electra_write_config(gen_dir, &st->gen.model.cfg, r, 0, NULL,
                                 err);
    if (!s)
        s = electra_write_weights(gen_dir, &st->ps, GEN_PRE, DISC_PRE, err);
    return s;
}

void electra_pretrain_free(electra_pretrain *st) {
    electra_net_free(&st->disc);
    electra_net_free(&st->gen);
    param_free(&st->ps);
    free(st->buf);
    memset(st, 0, sizeof *st);
}

/* ------------------------------------------------------------------ */
/* Masking                                                             */
/* ------------------------------------------------------------------ */

static int is_candidate(const electra_pretrain_config *pc, int32_t id) {
    return id != pc->cls_id && id != pc->sep_id && id != pc->mask_id &&
           id != pc->pad_id;
}

/* A uniform integer in [0, n). */
static int rng_below(rng_state *r, int n) {
    return (int)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* One sequence; cand is [S] scratch.  Returns the positions selected. */
static int mask_row(const electra_pretrain_config *pc, int S, int N,
                    const int32_t *ids, const int32_t *mask, rng_state *rng,
                    int32_t *gen_ids, int32_t *labels, int *cand) {
    int tokens = 0, nc = 0;
    for (int s = 0; s < S; s++) {
        int on = !mask || mask[s];
        tokens += on;
        gen_ids[s] = ids[s];
        labels[s] = -100;
        if (on && is_candidate(pc, ids[s]))
            cand[nc++] = s;
    }
    /* float32 product as TF's, and tf.round rounds half to even, as
     * nearbyintf does in the default rounding mode */
    int k = (int)nearbyintf((float)tokens * pc->mask_prob);
    k = k < N ? k : N;
    k = k > 1 ? k : 1;
    k = k < nc ? k : nc;
    for (int i = 0; i < k; i++) { /* partial Fisher-Yates */
        int j = i + rng_below(rng, nc - i), pos = cand[j];
        cand[j] = cand[i];
        cand[i] = pos;
        labels[pos] = ids[pos];
        if (rng_uniform(rng) < pc->mask_replace)
            gen_ids[pos] = pc->mask_id;
    }
    return k;
}

int electra_pretrain_mask(const electra_pretrain_config *pc, int B, int S,
                          const int32_t *ids, const int32_t *mask,
                          rng_state *rng, int32_t *gen_ids,
                          int32_t *labels) {
    int N = pc->max_predictions;
    if (N <= 0)
        N = (int)((pc->mask_prob + 0.005) * S);
    int *cand = malloc((size_t)S * sizeof *cand), total = 0;
    if (!cand)
        return -1;
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * S;
        total += mask_row(pc, S, N, ids + o, mask ? mask + o : NULL, rng,
                          gen_ids + o, labels + o, cand);
    }
    free(cand);
    return total;
}

/* ------------------------------------------------------------------ */
/* The step                                                            */
/* ------------------------------------------------------------------ */

static t5e_status reserve_buf(electra_pretrain *st, size_t BS,
                              t5e_err *err) {
    if (4 * BS <= st->buf_len)
        return T5E_OK;
    free(st->buf);
    st->buf_len = 0;
    st->buf = malloc(4 * BS * sizeof *st->buf);
    if (!st->buf)
        return err_set(err, T5E_ERR_NOMEM, "electra pretraining: out of "
                       "memory");
    st->buf_len = 4 * BS;
    return T5E_OK;
}

/* Generator half: forward, loss, samples (rng) into disc_ids, backward. */
static t5e_status gen_half(electra_pretrain *st, int B, int S,
                           const int32_t *types, const int32_t *mask,
                           const int32_t *gen_ids, const int32_t *labels,
                           rng_state *rng, int32_t *disc_ids, float scale,
                           electra_pretrain_stats *stats, t5e_err *err) {
    electra_net *g = &st->gen;
    t5e_status s = electra_net_prepare(g, B, S, gen_ids, types, mask, err);
    if (s)
        return s;
    /* the generator samples in train mode, dropout included */
    electra_net_set_dropout(g, st->drop_on, op_dropout_site(st->drop_key, 1));
    electra_net_forward(g, B, S, gen_ids, types, mask);
    s = electra_mlm_head(g, B, S, labels, scale, rng, disc_ids,
                         &stats->gen_loss, &stats->n_masked, err);
    if (!s)
        electra_net_backward(g, B, S, gen_ids, types, mask);
    electra_net_set_dropout(g, 0, 0);
    return s;
}

/* Discriminator half over disc_ids; labels built into dl [B, S]. */
static t5e_status disc_half(electra_pretrain *st, int B, int S,
                            const int32_t *ids, const int32_t *types,
                            const int32_t *mask, const int32_t *disc_ids,
                            int32_t *dl, float scale,
                            electra_pretrain_stats *stats, t5e_err *err) {
    electra_net *d = &st->disc;
    size_t BS = (size_t)B * S;
    stats->n_replaced = stats->n_tokens = 0;
    for (size_t t = 0; t < BS; t++) {
        dl[t] = disc_ids[t] != ids[t];
        stats->n_replaced += dl[t];
        stats->n_tokens += !mask || mask[t];
    }
    t5e_status s = electra_net_prepare(d, B, S, disc_ids, types, mask, err);
    if (s)
        return s;
    electra_net_set_dropout(d, st->drop_on, op_dropout_site(st->drop_key, 2));
    electra_net_forward(d, B, S, disc_ids, types, mask);
    stats->disc_loss = electra_disc_head(d, B, S, dl, mask,
                                         scale * st->pc.disc_weight, NULL,
                                         &stats->disc_acc);
    electra_net_backward(d, B, S, disc_ids, types, mask);
    electra_net_set_dropout(d, 0, 0);
    stats->loss = stats->gen_loss + st->pc.disc_weight * stats->disc_loss;
    return T5E_OK;
}

t5e_status electra_pretrain_step(electra_pretrain *st, int B, int S,
                                 const int32_t *ids, const int32_t *types,
                                 const int32_t *mask, rng_state *rng,
                                 float scale, electra_pretrain_stats *stats,
                                 t5e_err *err) {
    size_t BS = (size_t)B * S;
    memset(stats, 0, sizeof *stats);
    t5e_status s = electra_net_prepare(&st->disc, B, S, ids, types, mask,
                                       err);
    if (!s)
        s = reserve_buf(st, BS, err);
    if (s)
        return s;
    int32_t *gen_ids = st->buf, *labels = gen_ids + BS;
    int32_t *disc_ids = labels + BS, *dl = disc_ids + BS;
    if (electra_pretrain_mask(&st->pc, B, S, ids, mask, rng, gen_ids,
                              labels) < 0)
        return err_set(err, T5E_ERR_NOMEM, "electra pretraining: out of "
                       "memory");
    memcpy(disc_ids, ids, BS * sizeof *ids);
    s = gen_half(st, B, S, types, mask, gen_ids, labels, rng, disc_ids,
                 scale, stats, err);
    return s ? s : disc_half(st, B, S, ids, types, mask, disc_ids, dl, scale,
                             stats, err);
}

t5e_status electra_pretrain_step_fixed(electra_pretrain *st, int B, int S,
                                       const int32_t *ids,
                                       const int32_t *types,
                                       const int32_t *mask,
                                       const int32_t *gen_ids,
                                       const int32_t *gen_labels,
                                       const int32_t *disc_ids,
                                       electra_pretrain_stats *stats,
                                       t5e_err *err) {
    size_t BS = (size_t)B * S;
    memset(stats, 0, sizeof *stats);
    t5e_status s = electra_net_prepare(&st->disc, B, S, ids, types, mask,
                                       err);
    if (!s)
        s = reserve_buf(st, BS, err);
    if (!s)
        s = gen_half(st, B, S, types, mask, gen_ids, gen_labels, NULL, NULL,
                     1.0f, stats, err);
    return s ? s : disc_half(st, B, S, ids, types, mask, disc_ids,
                             st->buf + 3 * BS, 1.0f, stats, err);
}

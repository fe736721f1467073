/*
 * test_electra_grad.c - ELECTRA gradients against the transformers
 * goldens: the discriminator, generator and classifier fixtures (loss
 * and every grad.* tensor) and one full pre-training step with tied
 * embeddings (electra-tiny-pretraining-step), plus save / load round
 * trips and the random init.
 *
 * Gradients pass when |c-g| <= 1e-3 |g| + 1e-4 grad_scale elementwise
 * (testdata README); the near-zero ones get the absolute term only.  Each
 * fixture prints its worst error as a fraction of that bound.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "model/electra_train.h"
#include "train/electra_pretrain.h"
#include "train/electra_task.h"
#include "train/optim.h"

#define DISC "electra-tiny-discriminator"
#define GEN "electra-tiny-generator"
#define CLS "electra-tiny-classifier"
#define STEP "electra-tiny-pretraining-step"

/* golden.json's gradient notes. */
typedef struct {
    cJSON *root;
    double grad_scale;
    const cJSON *near_zero;
} notes;

static void notes_open(notes *n, const char *dir) {
    char rel[256], *text;
    size_t len;
    t5e_err err = {0};
    snprintf(rel, sizeof rel, "%s/golden.json", dir);
    if (file_read_all(data_path(rel), &text, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    n->root = cJSON_Parse(text);
    free(text);
    const cJSON *g = cJSON_GetObjectItem(n->root, "gradient_notes");
    n->grad_scale = cJSON_GetObjectItem(g, "grad_scale")->valuedouble;
    n->near_zero = cJSON_GetObjectItem(g, "near_zero_gradients");
}

static int is_near_zero(const notes *n, const char *golden_name) {
    const cJSON *it;
    cJSON_ArrayForEach(it, n->near_zero)
        if (!strcmp(it->valuestring, golden_name))
            return 1;
    return 0;
}

/*
 * Compares one gradient with the README rule; returns the worst
 * |c-g| / bound and counts a failure when it exceeds 1.
 */
static double grad_check(const notes *n, const char *golden_name,
                         const float *got, const float *want, int64_t cnt) {
    double atol = 1e-4 * n->grad_scale, worst = 0;
    double rtol = is_near_zero(n, golden_name) ? 0.0 : 1e-3;
    int64_t at = -1;
    for (int64_t i = 0; i < cnt; i++) {
        double e = fabs((double)got[i] - want[i]);
        double r = e / (rtol * fabs(want[i]) + atol);
        if (r > worst || isnan(e)) {
            worst = isnan(e) ? INFINITY : r;
            at = i;
        }
    }
    CHECK(worst <= 1.0, "%s: worst error %.3g of the bound at [%lld]: "
          "got %.8g want %.8g", golden_name, worst, (long long)at,
          at >= 0 ? got[at] : 0.0, at >= 0 ? want[at] : 0.0);
    return worst;
}

/*
 * padding_idx: the lookup never sends gradient to the pad row, so where
 * the golden row is zero ours must be exactly zero.  (A generator's tied
 * output layer does give that row a gradient, through the softmax.)
 */
static void pad_row_check(const char *name, const float *got,
                          const float *want, int pad_id, int64_t E) {
    int zero = 1;
    for (int64_t k = 0; k < E; k++)
        zero &= want[(size_t)pad_id * E + k] == 0.0f;
    for (int64_t k = 0; zero && k < E; k++)
        CHECK(got[(size_t)pad_id * E + k] == 0.0f, "%s: pad row not zero "
              "at %lld: %g", name, (long long)k, got[(size_t)pad_id * E + k]);
}

/* Every parameter's gradient against golden "grad.<name>". */
static double grads_check(const notes *n, const st_file *g,
                          const param_set *ps, int pad_id) {
    double worst = 0;
    int matched = 0;
    for (int i = 0; i < ps->n; i++) {
        const param *p = &ps->p[i];
        char name[300];
        int64_t cnt;
        snprintf(name, sizeof name, "grad.%s", p->name);
        float *want = golden_f32(g, name, &cnt);
        CHECK(cnt == (int64_t)p->numel, "%s: %lld values, want %zu", name,
              (long long)cnt, p->numel);
        const float *got = param_grad(ps, i);
        double w = grad_check(n, name, got, want, cnt);
        worst = w > worst ? w : worst;
        matched++;
        if (strstr(p->name, "word_embeddings"))
            pad_row_check(name, got, want, pad_id, p->shape[1]);
        free(want);
    }
    /* every golden gradient must have been compared */
    int golden = 0;
    for (int i = 0; i < g->n; i++)
        golden += !strncmp(g->tensors[i].name, "grad.", 5);
    CHECK(golden == matched, "%d golden gradients, %d parameters", golden,
          matched);
    return worst;
}

static void check_loss(const char *what, double got, const st_file *g,
                       const char *name) {
    int64_t n;
    float *want = golden_f32(g, name, &n);
    double rel = fabs(got - want[0]) / fabs(want[0]);
    CHECK(rel <= 1e-5, "%s: loss %.8g, want %.8g (rel %.2g)", what, got,
          want[0], rel);
    fprintf(stderr, "  %s loss %.7f (golden %.7f, rel %.1e)\n", what, got,
            want[0], rel);
    free(want);
}

static void load_trainable(electra_trainable *t, const char *dir) {
    t5e_err err = {0};
    if (electra_trainable_load(t, data_path(dir), &err)) {
        fprintf(stderr, "cannot load %s: %s\n", dir, err.msg);
        exit(2);
    }
}

/* One fixture: load, step with the golden batch, compare. */
static void fixture_grads(const char *dir) {
    char rel[256];
    int64_t n;
    st_file g;
    notes nt;
    electra_trainable t;
    t5e_err err = {0};
    snprintf(rel, sizeof rel, "%s/golden.safetensors", dir);
    golden_open(rel, &g);
    notes_open(&nt, dir);
    load_trainable(&t, dir);
    const st_tensor *shape = golden_tensor(&g, "input_ids");
    int B = (int)shape->shape[0], S = (int)shape->shape[1];
    int32_t *ids = golden_i32(&g, "input_ids", &n);
    int32_t *types = golden_i32(&g, "token_type_ids", &n);
    int32_t *mask = golden_i32(&g, "attention_mask", &n);
    int32_t *labels = golden_i32(&g, "labels", &n);
    double loss = 0;
    CHECK_OK(electra_trainable_step(&t, B, S, ids, types, mask, labels, NULL,
                                    1.0f, &loss, &err), &err);
    check_loss(dir, loss, &g, "loss");
    double worst = grads_check(&nt, &g, &t.ps,
                               t.net.model.cfg.pad_token_id);
    fprintf(stderr, "  %s: %d gradients, worst error %.3f of the "
            "bound\n", dir, t.ps.n, worst);
    free(ids);
    free(types);
    free(mask);
    free(labels);
    electra_trainable_free(&t);
    cJSON_Delete(nt.root);
    st_close(&g);
}

static void test_discriminator_grads(void) { fixture_grads(DISC); }
static void test_generator_grads(void) { fixture_grads(GEN); }
static void test_classifier_grads(void) { fixture_grads(CLS); }

/* The pre-training step with the golden's masks and samples. */
static void test_pretraining_step(void) {
    st_file g;
    notes nt;
    int64_t n;
    electra_pretrain st;
    t5e_err err = {0};
    electra_pretrain_config pc;
    electra_pretrain_config_default(&pc);
    pc.mask_id = 6;
    golden_open(STEP "/golden.safetensors", &g);
    notes_open(&nt, STEP);
    char gen_dir[4096];
    snprintf(gen_dir, sizeof gen_dir, "%s", data_path(GEN));
    CHECK_OK(electra_pretrain_load(&st, data_path(DISC), gen_dir, &pc, &err),
             &err);
    if (err.msg[0])
        return;
    const st_tensor *shape = golden_tensor(&g, "input_ids");
    int B = (int)shape->shape[0], S = (int)shape->shape[1];
    int32_t *ids = golden_i32(&g, "input_ids", &n);
    int32_t *types = golden_i32(&g, "token_type_ids", &n);
    int32_t *mask = golden_i32(&g, "attention_mask", &n);
    int32_t *gen_ids = golden_i32(&g, "generator_input_ids", &n);
    int32_t *gen_labels = golden_i32(&g, "generator_labels", &n);
    int32_t *disc_ids = golden_i32(&g, "sampled_token_ids", &n);
    electra_pretrain_stats stats;
    CHECK_OK(electra_pretrain_step_fixed(&st, B, S, ids, types, mask,
                                         gen_ids, gen_labels, disc_ids,
                                         &stats, &err), &err);
    check_loss("generator", stats.gen_loss, &g, "generator_loss");
    check_loss("discriminator", stats.disc_loss, &g, "discriminator_loss");
    check_loss("total", stats.loss, &g, "total_loss");
    double worst = grads_check(&nt, &g, &st.ps, st.disc.model.cfg.pad_token_id);
    fprintf(stderr, "  %s: %d gradients, worst error %.3f of the bound\n",
            STEP, st.ps.n, worst);
    free(ids);
    free(types);
    free(mask);
    free(gen_ids);
    free(gen_labels);
    free(disc_ids);
    electra_pretrain_free(&st);
    cJSON_Delete(nt.root);
    st_close(&g);
}


/* ---- saving, loading, init, masking, the sampled step ------------- */

/* The tensor names of a safetensors file, as a set, equal another's. */
static void same_names(const char *a_path, const char *b_path) {
    st_file a, b;
    t5e_err err = {0};
    CHECK_OK(st_open(a_path, &a, &err), &err);
    CHECK_OK(st_open(b_path, &b, &err), &err);
    CHECK(a.n == b.n, "%s has %d tensors, %s %d", a_path, a.n, b_path, b.n);
    for (int i = 0; i < a.n; i++) {
        int found = 0;
        for (int j = 0; j < b.n && !found; j++)
            found = !strcmp(a.tensors[i].name, b.tensors[j].name);
        CHECK(found, "%s: %s is not in %s", a_path, a.tensors[i].name,
              b_path);
    }
    st_close(&a);
    st_close(&b);
}

/* Save a loaded discriminator, reload it, and compare logits. */
static void test_save_load_roundtrip(void) {
    electra_trainable t;
    t5e_err err = {0};
    char dir[] = "/tmp/t5e_electra_rt_XXXXXX", path[512];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    load_trainable(&t, DISC);
    CHECK_OK(electra_trainable_save(&t, dir, &err), &err);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    same_names(path, data_path(DISC "/model.safetensors"));

    t5e_electra *m = NULL;
    CHECK_OK(t5e_electra_load(dir, NULL, &m, &err), &err);
    int32_t ids[2 * 6] = {4, 424, 456, 5, 0, 0, 4, 19, 284, 95, 29, 5};
    int32_t mask[2 * 6] = {1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1};
    float want[12], got[12];
    /* the trainable's own model runs the inference code on its values */
    CHECK_OK(t5e_electra_detect(&t.net.model, 2, 6, ids, NULL, mask, want,
                                &err), &err);
    if (m)
        CHECK_OK(t5e_electra_detect(m, 2, 6, ids, NULL, mask, got, &err),
                 &err);
    /* the loaded model stacks q, k, v into one product where the
     * trainable's view runs three: the same sums in another order, so
     * equal up to float32 rounding (the values themselves are compared
     * bit for bit below) */
    float mx = 0;
    for (int i = 0; i < 12; i++)
        mx = fmaxf(mx, fabsf(want[i]));
    for (int i = 0; m && i < 12; i++)
        CHECK(fabsf(got[i] - want[i]) <= 1e-6f * mx, "logit %d: %.9g vs "
              "%.9g", i, got[i], want[i]);
    /* every saved tensor holds the trainable's values exactly */
    st_file saved;
    CHECK_OK(st_open(path, &saved, &err), &err);
    for (int i = 0; !err.msg[0] && i < t.ps.n; i++) {
        const st_tensor *x = st_find(&saved, t.ps.p[i].name);
        CHECK(x && x->dtype == ST_F32 &&
              x->nbytes == t.ps.p[i].numel * sizeof(float) &&
              !memcmp(x->data, param_data(&t.ps, i), x->nbytes),
              "%s: saved values differ", t.ps.p[i].name);
    }
    if (!err.msg[0])
        st_close(&saved);
    t5e_electra_free(m);
    electra_trainable_free(&t);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    CHECK(system(path) == 0, "cleanup");
}

/* The pre-training pair saves two folders with the reference names. */
static void test_pretrain_save(void) {
    electra_pretrain st;
    electra_pretrain_config pc;
    t5e_err err = {0};
    char dir[] = "/tmp/t5e_electra_pt_XXXXXX", d[512], g[512], p[600];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    electra_pretrain_config_default(&pc);
    char gen_dir[4096];
    snprintf(gen_dir, sizeof gen_dir, "%s", data_path(GEN));
    CHECK_OK(electra_pretrain_load(&st, data_path(DISC), gen_dir, &pc,
                                   &err), &err);
    snprintf(d, sizeof d, "%s/disc", dir);
    snprintf(g, sizeof g, "%s/gen", dir);
    CHECK_OK(electra_pretrain_save(&st, d, g, &err), &err);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    same_names(p, data_path(DISC "/model.safetensors"));
    snprintf(p, sizeof p, "%s/model.safetensors", g);
    same_names(p, data_path(GEN "/model.safetensors"));
    /* the saved generator holds the discriminator's (shared) embeddings */
    t5e_electra *gm = NULL;
    CHECK_OK(t5e_electra_load(g, NULL, &gm, &err), &err);
    int w = param_find(&st.ps, "disc.electra.embeddings.word_embeddings."
                       "weight");
    if (gm && w >= 0)
        CHECK(!memcmp(gm->p.word, param_data(&st.ps, w),
                      st.ps.p[w].numel * sizeof(float)),
              "generator word embeddings differ from the shared ones");
    t5e_electra_free(gm);
    electra_pretrain_free(&st);
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    CHECK(system(p) == 0, "cleanup");
}

/* _init_weights: N(0, 0.02), pad row 0, LayerNorm 1 / 0, biases 0. */
static void test_init_random(void) {
    electra_trainable t;
    load_trainable(&t, CLS);
    electra_trainable_init_random(&t, 42);
    for (int i = 0; i < t.ps.n; i++) {
        const param *p = &t.ps.p[i];
        const float *v = param_data(&t.ps, i);
        double ss = 0;
        for (size_t k = 0; k < p->numel; k++)
            ss += (double)v[k] * v[k];
        double sd = sqrt(ss / p->numel);
        if (strstr(p->name, "LayerNorm.weight"))
            CHECK(sd == 1.0, "%s: not all ones", p->name);
        else if (strstr(p->name, ".bias") || strstr(p->name, "LayerNorm"))
            CHECK(ss == 0.0, "%s: not zero", p->name);
        else if (p->numel >= 1000)
            CHECK(fabs(sd - 0.02) < 0.002, "%s: sd %g, want 0.02", p->name,
                  sd);
        if (strstr(p->name, "word_embeddings"))
            for (int64_t k = 0; k < p->shape[1]; k++)
                CHECK(v[k] == 0.0f, "pad row not zero"); /* pad id 0 */
    }
    electra_trainable_free(&t);
}

/* Masking: counts, candidates and the 85% [MASK] share. */
static void test_mask_rules(void) {
    enum { B = 64, S = 40 };
    static int32_t ids[B * S], mask[B * S], gen[B * S], lab[B * S];
    electra_pretrain_config pc;
    electra_pretrain_config_default(&pc);
    rng_state r;
    rng_seed(&r, 3);
    for (int b = 0; b < B; b++) {
        int len = 3 + b % (S - 2);
        for (int s = 0; s < S; s++) {
            int t = b * S + s;
            ids[t] = s == 0 ? pc.cls_id : s == len - 1 ? pc.sep_id
                     : s < len ? 1000 + (int)(rng_next(&r) % 500) : 0;
            mask[t] = s < len;
        }
    }
    int total = electra_pretrain_mask(&pc, B, S, ids, mask, &r, gen, lab);
    int N = (int)((pc.mask_prob + 0.005) * S), masked = 0, sum = 0;
    for (int b = 0; b < B; b++) {
        int tokens = 0, sel = 0, cand = 0;
        for (int s = 0; s < S; s++) {
            int t = b * S + s;
            tokens += mask[t];
            cand += mask[t] && ids[t] != pc.cls_id && ids[t] != pc.sep_id;
            if (lab[t] == -100) {
                CHECK(gen[t] == ids[t], "unselected position changed");
                continue;
            }
            sel++;
            CHECK(mask[t] && ids[t] != pc.cls_id && ids[t] != pc.sep_id,
                  "selected a special or padded position (%d, %d)", b, s);
            CHECK(lab[t] == ids[t], "label is not the original id");
            CHECK(gen[t] == ids[t] || gen[t] == pc.mask_id,
                  "random replacement at (%d, %d)", b, s);
            masked += gen[t] == pc.mask_id;
        }
        int k = (int)nearbyintf((float)tokens * 0.15f); /* as TF */
        k = k < N ? k : N;
        k = k > 1 ? k : 1;
        k = k < cand ? k : cand;
        CHECK(sel == k, "row %d: %d selected, want %d", b, sel, k);
        sum += sel;
    }
    CHECK(total == sum, "returned %d, counted %d", total, sum);
    double share = (double)masked / sum;
    CHECK(share > 0.75 && share < 0.95, "[MASK] share %.3f, want ~0.85",
          share);
}

/* The sampled step on the tiny pair: deterministic, and AdamW lowers
 * the loss on a repeated batch. */
static void test_pretrain_step_trains(void) {
    electra_pretrain st;
    electra_pretrain_config pc;
    t5e_err err = {0};
    st_file g;
    int64_t n;
    electra_pretrain_config_default(&pc);
    pc.mask_id = 6, pc.cls_id = 4, pc.sep_id = 5, pc.pad_id = 0;
    char gen_dir[4096];
    snprintf(gen_dir, sizeof gen_dir, "%s", data_path(GEN));
    CHECK_OK(electra_pretrain_load(&st, data_path(DISC), gen_dir, &pc,
                                   &err), &err);
    golden_open(STEP "/golden.safetensors", &g);
    const st_tensor *shape = golden_tensor(&g, "input_ids");
    int B = (int)shape->shape[0], S = (int)shape->shape[1];
    int32_t *ids = golden_i32(&g, "input_ids", &n);
    int32_t *types = golden_i32(&g, "token_type_ids", &n);
    int32_t *mask = golden_i32(&g, "attention_mask", &n);
    electra_pretrain_stats s1, s2, last;
    rng_state r1, r2;
    rng_seed(&r1, 9);
    rng_seed(&r2, 9);
    CHECK_OK(electra_pretrain_step(&st, B, S, ids, types, mask, &r1, 1.0f,
                                   &s1, &err), &err);
    param_zero_grad(&st.ps);
    CHECK_OK(electra_pretrain_step(&st, B, S, ids, types, mask, &r2, 1.0f,
                                   &s2, &err), &err);
    CHECK(s1.loss == s2.loss && s1.n_replaced == s2.n_replaced,
          "same seed, different step: %g vs %g", s1.loss, s2.loss);
    CHECK(s1.n_masked > 0 && s1.n_tokens == 73, "masked %d tokens %d",
          s1.n_masked, s1.n_tokens);
    optimizer opt;
    optim_config oc;
    optim_config_default(&oc, OPTIM_ADAMW);
    CHECK_OK(optim_init(&opt, &oc, &st.ps, &err), &err);
    for (int i = 0; i < 30; i++) {
        rng_seed(&r1, 9); /* the same masks and samples every time */
        param_zero_grad(&st.ps);
        CHECK_OK(electra_pretrain_step(&st, B, S, ids, types, mask, &r1,
                                       1.0f, &last, &err), &err);
        optim_clip_grad_norm(&st.ps, 1.0f);
        optim_step(&opt, 1e-3f);
    }
    fprintf(stderr, "  30 AdamW steps: loss %.3f -> %.3f\n", s1.loss,
            last.loss);
    CHECK(last.loss < 0.8 * s1.loss, "loss %g -> %g", s1.loss, last.loss);
    optim_free(&opt);
    free(ids);
    free(types);
    free(mask);
    st_close(&g);
    electra_pretrain_free(&st);
}

/* A smaller batch after a larger one reuses the activations correctly:
 * the same loss and gradients as a fresh model. */
static void test_shape_change(void) {
    electra_trainable a, b;
    st_file g;
    int64_t n;
    t5e_err err = {0};
    golden_open(DISC "/golden.safetensors", &g);
    int32_t *ids = golden_i32(&g, "input_ids", &n);
    int32_t *types = golden_i32(&g, "token_type_ids", &n);
    int32_t *mask = golden_i32(&g, "attention_mask", &n);
    int32_t *labels = golden_i32(&g, "labels", &n);
    int S = (int)golden_tensor(&g, "input_ids")->shape[1], S2 = 12;
    int32_t ids2[2 * 12], types2[2 * 12], mask2[2 * 12], lab2[2 * 12];
    for (int b2 = 0; b2 < 2; b2++) /* rows 1 and 3, first 12 tokens */
        for (int s = 0; s < S2; s++) {
            int src = (1 + 2 * b2) * S + s, dst = b2 * S2 + s;
            ids2[dst] = ids[src], types2[dst] = types[src];
            mask2[dst] = mask[src], lab2[dst] = labels[src];
        }
    load_trainable(&a, DISC);
    load_trainable(&b, DISC);
    double la, lb;
    CHECK_OK(electra_trainable_step(&a, 4, S, ids, types, mask, labels,
                                    NULL, 1.0f, &la, &err), &err);
    param_zero_grad(&a.ps);
    CHECK_OK(electra_trainable_step(&a, 2, S2, ids2, types2, mask2, lab2,
                                    NULL, 1.0f, &la, &err), &err);
    CHECK_OK(electra_trainable_step(&b, 2, S2, ids2, types2, mask2, lab2,
                                    NULL, 1.0f, &lb, &err), &err);
    CHECK(la == lb, "loss %.9g after a larger batch, %.9g fresh", la, lb);
    CHECK(!memcmp(a.ps.grad, b.ps.grad, a.ps.total * sizeof(float)),
          "gradients differ after a larger batch");
    free(ids), free(types), free(mask), free(labels);
    electra_trainable_free(&a);
    electra_trainable_free(&b);
    st_close(&g);
}

/* The training forward (with its vectorized GELU) against the golden
 * logits, with the forward rule |c-g| <= 1e-4 (|g| + max_abs). */
static void test_train_forward_logits(void) {
    electra_trainable t;
    st_file g;
    int64_t n;
    t5e_err err = {0};
    golden_open(DISC "/golden.safetensors", &g);
    load_trainable(&t, DISC);
    int B = (int)golden_tensor(&g, "input_ids")->shape[0];
    int S = (int)golden_tensor(&g, "input_ids")->shape[1];
    int32_t *ids = golden_i32(&g, "input_ids", &n);
    int32_t *types = golden_i32(&g, "token_type_ids", &n);
    int32_t *mask = golden_i32(&g, "attention_mask", &n);
    int32_t *labels = golden_i32(&g, "labels", &n);
    float *want = golden_f32(&g, "logits", &n);
    float *got = calloc((size_t)n, sizeof *got);
    CHECK_OK(electra_net_prepare(&t.net, B, S, ids, types, mask, &err),
             &err);
    electra_net_forward(&t.net, B, S, ids, types, mask);
    electra_disc_head(&t.net, B, S, labels, mask, 1.0f, got, NULL);
    CHECK(check_close("train forward logits", got, want, n, 1e-4, -1),
          "logits");
    free(ids), free(types), free(mask), free(labels), free(want), free(got);
    electra_trainable_free(&t);
    st_close(&g);
}

/* ---- the pretraining step at a training shape -------------------- */

/* The fixtures are a few tokens long, below the sizes where products
 * split over threads and attention takes its blocked paths; here a
 * 96-token batch of a tiny-named model (2 layers, 2000 pieces) meets
 * them.  Batch of 3 rows of different lengths, fixed masks and
 * replacements. */
typedef struct {
    int B, S;
    int32_t *ids, *types, *mask, *gen_ids, *gen_labels, *disc_ids;
} fixed_batch;

static void fixed_batch_make(fixed_batch *f, const electra_pretrain_config *pc,
                             int V, rng_state *r) {
    f->B = 3, f->S = 96;
    size_t BS = (size_t)f->B * f->S;
    int32_t **bufs[] = {&f->ids, &f->types, &f->mask, &f->gen_ids,
                        &f->gen_labels, &f->disc_ids};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        *bufs[i] = calloc(BS, sizeof(int32_t));
    for (int b = 0; b < f->B; b++) {
        int len = f->S - 29 * b;
        for (int s = 0; s < f->S; s++) {
            size_t t = (size_t)b * f->S + s;
            f->mask[t] = s < len;
            f->types[t] = s > len / 2 && s < len;
            f->ids[t] = s == 0 ? pc->cls_id : s == len - 1 ? pc->sep_id
                      : s >= len ? pc->pad_id
                      : 110 + (int32_t)(rng_next(r) % (uint64_t)(V - 110));
        }
    }
    electra_pretrain_mask(pc, f->B, f->S, f->ids, f->mask, r, f->gen_ids,
                          f->gen_labels);
    memcpy(f->disc_ids, f->ids, BS * sizeof *f->ids);
    for (size_t t = 0; t < BS; t++)
        if (f->gen_labels[t] != -100 && rng_next(r) % 2)
            f->disc_ids[t] = 110 + (int32_t)(rng_next(r) % (uint64_t)(V - 110));
}

static void fixed_batch_free(fixed_batch *f) {
    free(f->ids), free(f->types), free(f->mask);
    free(f->gen_ids), free(f->gen_labels), free(f->disc_ids);
}

static double fixed_loss(electra_pretrain *st, const fixed_batch *f) {
    electra_pretrain_stats s;
    t5e_err err = {0};
    param_zero_grad(&st->ps);
    CHECK_OK(electra_pretrain_step_fixed(st, f->B, f->S, f->ids, f->types,
                                         f->mask, f->gen_ids, f->gen_labels,
                                         f->disc_ids, &s, &err), &err);
    return s.loss;
}

/* Every parameter's gradient against a central difference along a
 * random direction, and 1 thread against 2.  With `dropout` the step
 * runs in train mode (the config's 0.1 everywhere) with a fixed key, so
 * the loss is a deterministic function of the weights and the check
 * covers the masks' backward. */
static void pretrain_grads_case(int dropout, t5e_position_embedding pos) {
    t5e_electra_config dc, gc;
    electra_task_named_config("tiny", 2000, 128, &dc, &gc);
    dc.num_hidden_layers = gc.num_hidden_layers = 2;
    dc.position_embedding_type = gc.position_embedding_type = pos;
    electra_pretrain_config pc;
    electra_pretrain_config_default(&pc);
    electra_pretrain st;
    t5e_err err = {0};
    CHECK_OK(electra_pretrain_init(&st, &dc, &gc, &pc, &err), &err);
    if (err.msg[0])
        return;
    electra_pretrain_init_random(&st, 3);
    /* At N(0, 0.02) attention is nearly uniform and the query and key
     * gradients are ~100x smaller than the others, near the float32
     * noise floor of the check below; weights 10x larger give sharp
     * attention, so an error in the softmax backward cannot hide. */
    for (int i = 0; i < st.ps.n; i++)
        if (strstr(st.ps.p[i].name, "query.weight") ||
            strstr(st.ps.p[i].name, "key.weight") ||
            strstr(st.ps.p[i].name, "distance_embedding")) {
            float *w = param_data(&st.ps, i);
            for (size_t k = 0; k < st.ps.p[i].numel; k++)
                w[k] *= 10.0f;
        }
    st.drop_on = dropout;
    st.drop_key = 0x5eedULL;
    rng_state r;
    rng_seed(&r, 11);
    fixed_batch f;
    fixed_batch_make(&f, &pc, dc.vocab_size, &r);

    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    double loss = fixed_loss(&st, &f);
    float *g1 = malloc(st.ps.total * sizeof *g1);
    memcpy(g1, st.ps.grad, st.ps.total * sizeof *g1);
    omp_set_num_threads(2);
    double loss2 = fixed_loss(&st, &f);
    CHECK(fabs(loss - loss2) <= 1e-6 * fabs(loss), "loss %.9g with 1 "
          "thread, %.9g with 2", loss, loss2);
    /* key biases get zero gradients up to rounding (softmax ignores a
     * shift along a row): an absolute floor keeps them out */
    double floor = 0;
    for (size_t k = 0; k < st.ps.total; k++)
        floor = fmax(floor, 1e-7 * fabs(g1[k]));
    for (int i = 0; i < st.ps.n; i++) {
        const param *p = &st.ps.p[i];
        double worst = 0, big = 1e-30;
        for (size_t k = 0; k < p->numel; k++) {
            worst = fmax(worst, fabs(g1[p->offset + k] -
                                     st.ps.grad[p->offset + k]));
            big = fmax(big, fabs(g1[p->offset + k]));
        }
        CHECK(worst <= 1e-5 * big + floor, "%s%s: 1 and 2 threads differ by "
              "%.3g (largest gradient %.3g)", dropout ? "dropout: " : "",
              p->name, worst, big);
    }

    /* Float32 activations leave about 1e-8 of noise on a loss near 40;
     * the bound allows 5e-8 * |loss| / h of it beside 2% of the slope. */
    int fails = 0;
    for (int i = 0; i < st.ps.n && fails < 5; i++) {
        const param *p = &st.ps.p[i];
        float *w = param_data(&st.ps, i);
        float *w0 = malloc(p->numel * sizeof *w0);
        float *dir = malloc(p->numel * sizeof *dir);
        memcpy(w0, w, p->numel * sizeof *w0);
        double slope = 0;
        for (size_t k = 0; k < p->numel; k++) {
            dir[k] = (float)rng_uniform(&r) - 0.5f;
            slope += (double)g1[p->offset + k] * dir[k];
        }
        double h = 1.7e-3;
        for (size_t k = 0; k < p->numel; k++)
            w[k] = w0[k] + (float)h * dir[k];
        double up = fixed_loss(&st, &f);
        for (size_t k = 0; k < p->numel; k++)
            w[k] = w0[k] - (float)h * dir[k];
        double down = fixed_loss(&st, &f);
        memcpy(w, w0, p->numel * sizeof *w0);
        double fd = (up - down) / (2 * h);
        double bound = 2e-2 * fabs(slope) + 5e-8 * fabs(loss) / h;
        if (fabs(fd - slope) > bound)
            fails++;
        CHECK(fabs(fd - slope) <= bound, "%s%s: finite difference %.6g, "
              "gradient %.6g", dropout ? "dropout: " : "", p->name, fd,
              slope);
        free(w0);
        free(dir);
    }
    omp_set_num_threads(saved);
    free(g1);
    fixed_batch_free(&f);
    electra_pretrain_free(&st);
}

static void test_pretrain_grads_training_shape(void) {
    pretrain_grads_case(0, T5E_POSITION_ABSOLUTE);
}

static void test_pretrain_grads_dropout(void) {
    pretrain_grads_case(1, T5E_POSITION_ABSOLUTE);
}

/* position_embedding_type relative_key(_query): the distance tables'
 * gradients (and their share of q and k) at a length below
 * max_position_embeddings, so only a window of each table is used. */
static void test_pretrain_grads_relative(void) {
    pretrain_grads_case(0, T5E_POSITION_RELATIVE_KEY);
    pretrain_grads_case(1, T5E_POSITION_RELATIVE_KEY_QUERY);
}

/* The training forward with relative positions against the inference
 * forward of the saved model (t5e_electra_load), and its tables in the
 * reference's names and shapes. */
static void test_relative_train_matches_inference(void) {
    t5e_electra_config dc, gc;
    electra_task_named_config("tiny", 2000, 128, &dc, &gc);
    dc.num_hidden_layers = gc.num_hidden_layers = 2;
    dc.position_embedding_type = gc.position_embedding_type =
        T5E_POSITION_RELATIVE_KEY_QUERY;
    electra_pretrain_config pc;
    electra_pretrain_config_default(&pc);
    electra_pretrain st;
    t5e_err err = {0};
    CHECK_OK(electra_pretrain_init(&st, &dc, &gc, &pc, &err), &err);
    if (err.msg[0])
        return;
    electra_pretrain_init_random(&st, 4);
    for (int i = 0; i < st.ps.n; i++)
        if (strstr(st.ps.p[i].name, "distance_embedding")) {
            /* [2P - 1, head size]: 64 in the discriminator, 32 in the
             * quarter-width generator */
            long hd = strncmp(st.ps.p[i].name, "gen.", 4) ? 64 : 32;
            CHECK(st.ps.p[i].shape[0] == 255 && st.ps.p[i].shape[1] == hd,
                  "%s: [%ld, %ld], want [255, %ld]", st.ps.p[i].name,
                  (long)st.ps.p[i].shape[0], (long)st.ps.p[i].shape[1], hd);
            float *w = param_data(&st.ps, i);
            for (size_t k = 0; k < st.ps.p[i].numel; k++)
                w[k] *= 10.0f; /* positions that matter */
        }
    rng_state r;
    rng_seed(&r, 12);
    fixed_batch f;
    fixed_batch_make(&f, &pc, dc.vocab_size, &r);
    size_t BS = (size_t)f.B * f.S;
    float *train = calloc(BS, sizeof *train), *infer = calloc(BS, sizeof *infer);
    CHECK_OK(electra_net_prepare(&st.disc, f.B, f.S, f.ids, f.types, f.mask,
                                 &err), &err);
    electra_net_forward(&st.disc, f.B, f.S, f.ids, f.types, f.mask);
    int32_t *zeros = calloc(BS, sizeof *zeros);
    electra_disc_head(&st.disc, f.B, f.S, zeros, f.mask, 1.0f, train, NULL);

    char dir[] = "/tmp/t5e_electra_rel_XXXXXX", d[512], g[512];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(d, sizeof d, "%s/disc", dir);
    snprintf(g, sizeof g, "%s/gen", dir);
    CHECK_OK(electra_pretrain_save(&st, d, g, &err), &err);
    t5e_electra *m = NULL;
    CHECK_OK(t5e_electra_load(d, NULL, &m, &err), &err);
    if (m) {
        CHECK(m->cfg.position_embedding_type ==
                  T5E_POSITION_RELATIVE_KEY_QUERY,
              "saved config lost position_embedding_type");
        CHECK_OK(t5e_electra_detect(m, f.B, f.S, f.ids, f.types, f.mask,
                                    infer, &err), &err);
        CHECK(check_close("relative_key_query train vs inference", train,
                          infer, (int64_t)BS, 1e-5, -1), "logits");
    }
    t5e_electra_free(m);
    free(train), free(infer), free(zeros);
    fixed_batch_free(&f);
    electra_pretrain_free(&st);
    snprintf(d, sizeof d, "rm -rf '%s'", dir);
    CHECK(system(d) == 0, "cleanup");
}

/* The classification head's two dropouts (and the encoder's) in train
 * mode with a fixed key: every parameter against a central difference
 * along a random direction. */
/*
 * Where each head of a network looks after the local-attention init:
 * the layer's query bias as every query (what the prior rests on), keys
 * 0, value j at key j, so a head's output at query i is the mean key
 * position it attends to; sq = 1 squares the values (j * j).
 */
static void attended_positions(const electra_net *n, const param_set *ps,
                               const char *pre, int layer, int S, int sq,
                               float *ctx) {
    const t5e_electra_config *c = &n->model.cfg;
    int H = c->hidden_size;
    char name[160];
    snprintf(name, sizeof name,
             "%selectra.encoder.layer.%d.attention.self.query.bias", pre,
             layer);
    const float *qb = param_data(ps, param_find(ps, name));
    snprintf(name, sizeof name, "%selectra.encoder.layer.%d.attention."
             "self.distance_embedding.weight", pre, layer);
    const float *rel = param_data(ps, param_find(ps, name));
    size_t n_x = (size_t)S * H;
    float *q = malloc(n_x * sizeof *q), *k = calloc(n_x, sizeof *k);
    float *v = malloc(n_x * sizeof *v);
    float *scratch = malloc(electra_attn_scratch(c, S) * sizeof *scratch);
    for (int i = 0; i < S; i++)
        for (int h = 0; h < H; h++) {
            q[(size_t)i * H + h] = qb[h];
            v[(size_t)i * H + h] = sq ? (float)i * i : (float)i;
        }
    electra_attention(&n->model, 1, S, NULL, q, k, v, rel, ctx, scratch);
    free(q);
    free(k);
    free(v);
    free(scratch);
}

/* --local-attention-init: discriminator head 0 reads the previous token,
 * head 1 the next; the one-head generator both neighbours. */
static void test_local_attention_init(void) {
    t5e_electra_config dc, gc;
    electra_task_named_config("tiny", 500, 64, &dc, &gc);
    dc.position_embedding_type = gc.position_embedding_type =
        T5E_POSITION_RELATIVE_KEY_QUERY;
    electra_pretrain_config pc;
    electra_pretrain_config_default(&pc);
    electra_pretrain st;
    t5e_err err = {0};
    CHECK_OK(electra_pretrain_init(&st, &dc, &gc, &pc, &err), &err);
    if (err.msg[0])
        return;
    electra_pretrain_init_random(&st, 3);
    enum { S = 16 };
    float ctx[S * 128];
    /* without the prior attention is near uniform: the mean position is
     * near the middle, not the neighbour's */
    attended_positions(&st.disc, &st.ps, "disc.", 0, S, 0, ctx);
    CHECK(fabsf(ctx[5 * 128] - 4.0f) > 2, "random init already local: %g",
          ctx[5 * 128]);
    electra_pretrain_init_local_attention(&st, 12.0f, 0);
    attended_positions(&st.disc, &st.ps, "disc.", 0, S, 0, ctx);
    double worst = 0;
    for (int i = 1; i < S - 1; i++) {
        worst = fmax(worst, fabs(ctx[i * 128] - (i - 1)));       /* head 0 */
        worst = fmax(worst, fabs(ctx[i * 128 + 64] - (i + 1)));  /* head 1 */
    }
    CHECK(worst < 0.05, "discriminator heads miss their neighbour by %g",
          worst);
    /* generator: one head of 32; E[j] = i and E[j^2] = i^2 + 1 when it
     * splits between i - 1 and i + 1 */
    float ctx2[S * 32];
    attended_positions(&st.gen, &st.ps, "gen.", 0, S, 0, ctx);
    attended_positions(&st.gen, &st.ps, "gen.", 0, S, 1, ctx2);
    worst = 0;
    for (int i = 1; i < S - 1; i++) {
        worst = fmax(worst, fabs(ctx[i * 32] - i));
        worst = fmax(worst, fabs(ctx2[i * 32] - ((double)i * i + 1)));
    }
    CHECK(worst < 0.05, "generator head misses its neighbours by %g", worst);
    /* one pinned head per layer: head 0 alternates previous / next by
     * layer, head 1 stays as initialised (near uniform) */
    electra_pretrain_init_random(&st, 3);
    electra_pretrain_init_local_attention(&st, 12.0f, 1);
    for (int l = 0; l < 2; l++) {
        attended_positions(&st.disc, &st.ps, "disc.", l, S, 0, ctx);
        worst = 0;
        for (int i = 1; i < S - 1; i++)
            worst = fmax(worst, fabs(ctx[i * 128] - (l ? i + 1 : i - 1)));
        CHECK(worst < 0.05, "layer %d head 0 misses its neighbour by %g", l,
              worst);
        CHECK(fabsf(ctx[5 * 128 + 64] - 7.5f) < 2, "layer %d head 1 pinned "
              "too: mean position %g", l, ctx[5 * 128 + 64]);
    }
    electra_pretrain_free(&st);
}

static double cls_loss(electra_trainable *t, int B, int S,
                       const int32_t *ids, const int32_t *labels) {
    double loss = 0;
    t5e_err err = {0};
    param_zero_grad(&t->ps);
    electra_net_set_dropout(&t->net, 1, 0xd20bULL);
    CHECK_OK(electra_trainable_step(t, B, S, ids, NULL, NULL, labels, NULL,
                                    1.0f, &loss, &err), &err);
    electra_net_set_dropout(&t->net, 0, 0);
    return loss;
}

static void test_classifier_grads_dropout(void) {
    t5e_electra_config dc, gc;
    electra_task_named_config("tiny", 500, 64, &dc, &gc);
    dc.num_hidden_layers = 2;
    dc.head = T5E_ELECTRA_CLASSIFIER;
    dc.num_labels = 3;
    dc.classifier_dropout = 0.3f; /* its own rate, as the config allows */
    electra_trainable t;
    t5e_err err = {0};
    CHECK_OK(electra_trainable_init(&t, &dc, 0, &err), &err);
    if (err.msg[0])
        return;
    electra_trainable_init_random(&t, 5);
    enum { B = 6, S = 24 };
    int32_t ids[B * S], labels[B];
    rng_state r;
    rng_seed(&r, 21);
    for (int i = 0; i < B * S; i++)
        ids[i] = 110 + (int32_t)(rng_next(&r) % 390);
    for (int b = 0; b < B; b++)
        labels[b] = b % 3;
    double loss = cls_loss(&t, B, S, ids, labels);
    float *g = malloc(t.ps.total * sizeof *g);
    memcpy(g, t.ps.grad, t.ps.total * sizeof *g);
    for (int i = 0; i < t.ps.n; i++) {
        const param *p = &t.ps.p[i];
        float *w = param_data(&t.ps, i);
        float *w0 = malloc(p->numel * sizeof *w0);
        float *dir = malloc(p->numel * sizeof *dir);
        memcpy(w0, w, p->numel * sizeof *w0);
        double slope = 0, h = 1e-3;
        for (size_t k = 0; k < p->numel; k++) {
            dir[k] = (float)rng_uniform(&r) - 0.5f;
            slope += (double)g[p->offset + k] * dir[k];
        }
        for (size_t k = 0; k < p->numel; k++)
            w[k] = w0[k] + (float)h * dir[k];
        double up = cls_loss(&t, B, S, ids, labels);
        for (size_t k = 0; k < p->numel; k++)
            w[k] = w0[k] - (float)h * dir[k];
        double down = cls_loss(&t, B, S, ids, labels);
        memcpy(w, w0, p->numel * sizeof *w0);
        double fd = (up - down) / (2 * h);
        double bound = 2e-2 * fabs(slope) + 5e-8 * fabs(loss) / h;
        CHECK(fabs(fd - slope) <= bound, "%s: finite difference %.6g, "
              "gradient %.6g", p->name, fd, slope);
        free(w0);
        free(dir);
    }
    free(g);
    electra_trainable_free(&t);
}

int main(void) {
    RUN(test_discriminator_grads);
    RUN(test_generator_grads);
    RUN(test_classifier_grads);
    RUN(test_pretraining_step);
    RUN(test_train_forward_logits);
    RUN(test_shape_change);
    RUN(test_save_load_roundtrip);
    RUN(test_pretrain_save);
    RUN(test_init_random);
    RUN(test_mask_rules);
    RUN(test_pretrain_step_trains);
    RUN(test_pretrain_grads_training_shape);
    RUN(test_pretrain_grads_dropout);
    RUN(test_pretrain_grads_relative);
    RUN(test_relative_train_matches_inference);
    RUN(test_local_attention_init);
    RUN(test_classifier_grads_dropout);
    return harness_finish();
}

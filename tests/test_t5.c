/* test_t5.c - the T5 forward pass against the reference's goldens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/t5.h"
#include "ops/ops.h"

static const char *const models[] = {"t5-tiny-v1.0", "t5-tiny-v1.1"};

static t5e_t5 *load(const char *name) {
    t5e_err err = {0};
    t5e_t5 *m = NULL;
    if (t5e_t5_load(data_path(name), NULL, &m, &err)) {
        fprintf(stderr, "load %s: %s\n", name, err.msg);
        exit(2);
    }
    return m;
}

static void golden(const char *model, st_file *g) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/golden.safetensors", model);
    golden_open(rel, g);
}

static void test_relative_buckets(void) {
    for (int k = 0; k < 2; k++) {
        t5e_t5 *m = load(models[k]);
        st_file g;
        golden(models[k], &g);
        int64_t n;
        int32_t *rel = golden_i32(&g, "relpos.relative_position", &n);
        int32_t *bi = golden_i32(&g, "relpos.bucket_bidirectional", NULL);
        int32_t *uni = golden_i32(&g, "relpos.bucket_unidirectional", NULL);
        int32_t *got_bi = malloc(n * sizeof *got_bi);
        int32_t *got_uni = malloc(n * sizeof *got_uni);
        const t5e_t5_config *c = t5e_t5_get_config(m);
        for (int64_t i = 0; i < n; i++) {
            got_bi[i] = t5_relative_bucket(rel[i], 1,
                c->relative_attention_num_buckets,
                c->relative_attention_max_distance);
            got_uni[i] = t5_relative_bucket(rel[i], 0,
                c->relative_attention_num_buckets,
                c->relative_attention_max_distance);
        }
        check_ids("bidirectional buckets", got_bi, bi, n);
        check_ids("unidirectional buckets", got_uni, uni, n);
        free(rel), free(bi), free(uni), free(got_bi), free(got_uni);
        st_close(&g);
        t5e_t5_free(m);
    }
}

static void test_position_bias(void) {
    for (int k = 0; k < 2; k++) {
        t5e_t5 *m = load(models[k]);
        st_file g;
        golden(models[k], &g);
        int64_t n;
        const st_tensor *te = golden_tensor(&g, "batch.encoder_position_bias");
        const st_tensor *td = golden_tensor(&g, "batch.decoder_position_bias");
        int S = (int)te->shape[2], T = (int)td->shape[2];
        float *want = golden_f32(&g, "batch.encoder_position_bias", &n);
        float *got = malloc(n * sizeof *got);
        t5_position_bias(m, 0, S, 0, S, got);
        check_close("encoder position bias", got, want, n, 1e-4, -1);
        free(want), free(got);
        want = golden_f32(&g, "batch.decoder_position_bias", &n);
        got = malloc(n * sizeof *got);
        t5_position_bias(m, 1, T, 0, T, got);
        check_close("decoder position bias", got, want, n, 1e-4, -1);
        free(want), free(got);
        st_close(&g);
        t5e_t5_free(m);
    }
}

/* Mean cross-entropy over labels != -100, as the reference's loss. */
static double label_loss(const float *logits, const int32_t *labels,
                         int64_t M, int V) {
    double sum = 0;
    int count = 0;
    float *lp = malloc(V * sizeof *lp);
    for (int64_t i = 0; i < M; i++) {
        if (labels[i] == -100)
            continue;
        op_log_softmax(lp, logits + i * V, V);
        sum -= lp[labels[i]];
        count++;
    }
    free(lp);
    return sum / count;
}

static void check_states(const char *what, const st_file *g,
                         const char *prefix, int n_states,
                         const float *states, int64_t per) {
    char name[128];
    for (int i = 0; i < n_states; i++) {
        snprintf(name, sizeof name, "%s.%d", prefix, i);
        int64_t n;
        float *want = golden_f32(g, name, &n);
        CHECK(n == per, "%s: %lld values, want %lld", name, (long long)n,
              (long long)per);
        if (n == per) {
            char label[160];
            snprintf(label, sizeof label, "%s %s", what, name);
            check_close(label, states + i * per, want, n, 1e-4, -1);
        }
        free(want);
    }
}

/* Encoder states, decoder states, logits and loss of the padded batch. */
static void test_batch_forward(void) {
    for (int k = 0; k < 2; k++) {
        t5e_t5 *m = load(models[k]);
        const t5e_t5_config *c = t5e_t5_get_config(m);
        st_file g;
        golden(models[k], &g);
        const st_tensor *ti = golden_tensor(&g, "batch.input_ids");
        const st_tensor *td = golden_tensor(&g, "batch.decoder_input_ids");
        int B = (int)ti->shape[0], S = (int)ti->shape[1];
        int T = (int)td->shape[1], D = c->d_model, V = c->vocab_size;
        int32_t *ids = golden_i32(&g, "batch.input_ids", NULL);
        int32_t *mask = golden_i32(&g, "batch.attention_mask", NULL);
        int32_t *dec = golden_i32(&g, "batch.decoder_input_ids", NULL);
        int32_t *labels = golden_i32(&g, "batch.labels", NULL);
        int64_t per_e = (int64_t)B * S * D, per_d = (int64_t)B * T * D;
        float *enc = malloc(per_e * sizeof *enc);
        float *es = malloc((c->num_layers + 1) * per_e * sizeof *es);
        float *ds = malloc((c->num_decoder_layers + 1) * per_d * sizeof *ds);
        float *logits = malloc((size_t)B * T * V * sizeof *logits);
        t5e_err err = {0};
        CHECK_OK(t5_encoder_forward(m, B, S, ids, mask, enc, es, &err),
                 &err);
        check_states(models[k], &g, "batch.encoder_hidden_states",
                     c->num_layers + 1, es, per_e);
        CHECK_OK(t5_decoder_forward(m, B, S, enc, mask, T, dec, logits, ds,
                                    &err), &err);
        check_states(models[k], &g, "batch.decoder_hidden_states",
                     c->num_decoder_layers + 1, ds, per_d);
        int64_t n;
        float *want = golden_f32(&g, "batch.logits", &n);
        check_close("batch logits", logits, want, n, 1e-4, -1);
        float *loss = golden_f32(&g, "batch.loss", NULL);
        double got = label_loss(logits, labels, (int64_t)B * T, V);
        CHECK(fabs(got - loss[0]) <= 1e-5 * fabs(loss[0]),
              "%s loss %.9g want %.9g", models[k], got, loss[0]);
        free(ids), free(mask), free(dec), free(labels), free(enc);
        free(es), free(ds), free(logits), free(want), free(loss);
        st_close(&g);
        t5e_t5_free(m);
    }
}

/* Unpadded single inputs through the public API. */
static void test_single_forward(void) {
    for (int k = 0; k < 2; k++) {
        t5e_t5 *m = load(models[k]);
        const t5e_t5_config *c = t5e_t5_get_config(m);
        st_file g;
        golden(models[k], &g);
        for (int s = 0; s < 2; s++) {
            char name[64];
            int64_t S, T, n;
            snprintf(name, sizeof name, "single%d.input_ids", s);
            int32_t *ids = golden_i32(&g, name, &S);
            snprintf(name, sizeof name, "single%d.decoder_input_ids", s);
            int32_t *dec = golden_i32(&g, name, &T);
            snprintf(name, sizeof name, "single%d.labels", s);
            int32_t *labels = golden_i32(&g, name, NULL);
            float *enc = malloc(S * c->d_model * sizeof *enc);
            float *logits = malloc(T * c->vocab_size * sizeof *logits);
            t5e_err err = {0};
            CHECK_OK(t5e_t5_encode(m, 1, (int)S, ids, NULL, enc, &err), &err);
            snprintf(name, sizeof name, "single%d.encoder_last_hidden_state",
                     s);
            float *want = golden_f32(&g, name, &n);
            check_close(name, enc, want, n, 1e-4, -1);
            free(want);
            CHECK_OK(t5e_t5_forward(m, 1, (int)S, ids, NULL, (int)T, dec,
                                    logits, &err), &err);
            snprintf(name, sizeof name, "single%d.logits", s);
            want = golden_f32(&g, name, &n);
            check_close(name, logits, want, n, 1e-4, -1);
            snprintf(name, sizeof name, "single%d.loss", s);
            float *loss = golden_f32(&g, name, NULL);
            double got = label_loss(logits, labels, T, c->vocab_size);
            CHECK(fabs(got - loss[0]) <= 1e-5 * fabs(loss[0]),
                  "%s loss %.9g want %.9g", name, got, loss[0]);
            free(ids), free(dec), free(labels), free(enc), free(logits);
            free(want), free(loss);
        }
        st_close(&g);
        t5e_t5_free(m);
    }
}

/* Each row of a padded batch equals the same input run alone. */
static void test_padding_invariance(void) {
    t5e_t5 *m = load("t5-tiny-v1.1");
    const t5e_t5_config *c = t5e_t5_get_config(m);
    st_file g;
    golden("t5-tiny-v1.1", &g);
    const st_tensor *ti = golden_tensor(&g, "batch.input_ids");
    int B = (int)ti->shape[0], S = (int)ti->shape[1], D = c->d_model;
    int32_t *ids = golden_i32(&g, "batch.input_ids", NULL);
    int32_t *mask = golden_i32(&g, "batch.attention_mask", NULL);
    float *enc = malloc((size_t)B * S * D * sizeof *enc);
    float *one = malloc((size_t)S * D * sizeof *one);
    t5e_err err = {0};
    CHECK_OK(t5e_t5_encode(m, B, S, ids, mask, enc, &err), &err);
    for (int b = 0; b < B; b++) {
        int len = 0;
        while (len < S && mask[b * S + len])
            len++;
        CHECK_OK(t5e_t5_encode(m, 1, len, ids + b * S, NULL, one, &err),
                 &err);
        check_close("padded row vs alone", enc + (size_t)b * S * D, one,
                    (int64_t)len * D, 1e-5, -1);
    }
    free(ids), free(mask), free(enc), free(one);
    st_close(&g);
    t5e_t5_free(m);
}

int main(void) {
    RUN(test_relative_buckets);
    RUN(test_position_bias);
    RUN(test_batch_forward);
    RUN(test_single_forward);
    RUN(test_padding_invariance);
    return harness_finish();
}

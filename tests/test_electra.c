/*
 * test_electra.c - ELECTRA inference against the transformers goldens
 * (tests/data/electra-tiny-*), plus padding invariance, the fast
 * attention against op_attention, losses rebuilt from our logits, and the
 * errors of bad configs, bad weights and bad inputs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "model/electra.h"

#define DISC "electra-tiny-discriminator"
#define GEN "electra-tiny-generator"
#define CLS "electra-tiny-classifier"

/* The fixture inputs of one folder: [B, S] each. */
typedef struct {
    st_file g;
    int B, S;
    int32_t *ids, *types, *mask;
} fixture;

static void fixture_open(fixture *f, const char *dir) {
    char rel[256];
    int64_t n;
    snprintf(rel, sizeof rel, "%s/golden.safetensors", dir);
    golden_open(rel, &f->g);
    const st_tensor *t = golden_tensor(&f->g, "input_ids");
    f->B = (int)t->shape[0];
    f->S = (int)t->shape[1];
    f->ids = golden_i32(&f->g, "input_ids", &n);
    f->types = golden_i32(&f->g, "token_type_ids", &n);
    f->mask = golden_i32(&f->g, "attention_mask", &n);
}

static void fixture_close(fixture *f) {
    free(f->ids);
    free(f->types);
    free(f->mask);
    st_close(&f->g);
}

static t5e_electra *load(const char *dir) {
    t5e_err err = {0};
    t5e_electra *m = NULL;
    t5e_status s = t5e_electra_load(data_path(dir), NULL, &m, &err);
    if (s) {
        fprintf(stderr, "cannot load %s: %s\n", dir, err.msg);
        exit(2);
    }
    return m;
}

/* Compares with the fixture rule and prints the worst relative error. */
static void check_golden(const fixture *f, const char *name,
                         const float *got) {
    int64_t n;
    float *want = golden_f32(&f->g, name, &n);
    double mx = 0, worst = 0;
    for (int64_t i = 0; i < n; i++)
        mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / (fabs(want[i]) + mx);
        worst = e > worst ? e : worst;
    }
    printf("     %-22s max |c-g|/(|g|+max_abs) = %.2e\n", name, worst);
    check_close(name, got, want, n, 1e-4, -1);
    free(want);
}

static double golden_scalar(const fixture *f, const char *name) {
    float *v = golden_f32(&f->g, name, NULL);
    double r = v[0];
    free(v);
    return r;
}

/* Shows an expected error, so the log shows what a user would read. */
static void note(const t5e_err *err) {
    printf("     error: %s\n", err->msg);
}

static void check_loss(const char *what, double got, double want) {
    double rel = fabs(got - want) / fabs(want);
    printf("     %-22s %.9g vs golden %.9g (rel %.1e)\n", what, got, want,
           rel);
    CHECK(rel <= 1e-5, "%s: %.9g vs %.9g", what, got, want);
}

/* Cross-entropy of one row of n logits against class y, in double. */
static double cross_entropy(const float *z, int n, int y) {
    double mx = z[0], sum = 0;
    for (int i = 1; i < n; i++)
        mx = z[i] > mx ? z[i] : mx;
    for (int i = 0; i < n; i++)
        sum += exp(z[i] - mx);
    return mx + log(sum) - z[y];
}

/* ------------------------------------------------------------------ */

static void test_discriminator_golden(void) {
    fixture f;
    fixture_open(&f, DISC);
    t5e_electra *m = load(DISC);
    const t5e_electra_config *c = t5e_electra_get_config(m);
    int B = f.B, S = f.S, NL = c->num_hidden_layers;
    size_t nH = (size_t)B * S * c->hidden_size;
    CHECK(c->head == T5E_ELECTRA_DISCRIMINATOR, "head %d", c->head);
    CHECK(m->p.proj_w != NULL, "E != H needs embeddings_project");

    float *emb = malloc((size_t)B * S * c->embedding_size * sizeof *emb);
    float *hs[16];
    for (int i = 0; i <= NL; i++)
        hs[i] = malloc(nH * sizeof(float));
    t5e_err err = {0};
    CHECK_OK(electra_forward_trace(m, B, S, f.ids, f.types, f.mask, emb, hs,
                                   &err), &err);
    check_golden(&f, "embeddings_output", emb);
    for (int i = 0; i <= NL; i++) {
        char name[32];
        snprintf(name, sizeof name, "hidden_states.%d", i);
        check_golden(&f, name, hs[i]);
    }

    float *logits = malloc((size_t)B * S * sizeof *logits);
    CHECK_OK(t5e_electra_detect(m, B, S, f.ids, f.types, f.mask, logits,
                                &err), &err);
    check_golden(&f, "logits", logits);

    /* BCE with logits, averaged over attention_mask == 1 only. */
    int32_t *labels = golden_i32(&f.g, "labels", NULL);
    double sum = 0;
    int count = 0;
    for (int i = 0; i < B * S; i++) {
        if (!f.mask[i])
            continue;
        double x = logits[i];
        sum += fmax(x, 0) - x * labels[i] + log1p(exp(-fabs(x)));
        count++;
    }
    check_loss("discriminator loss", sum / count, golden_scalar(&f, "loss"));

    free(labels);
    free(logits);
    free(emb);
    for (int i = 0; i <= NL; i++)
        free(hs[i]);
    t5e_electra_free(m);
    fixture_close(&f);
}

static void test_generator_golden(void) {
    fixture f;
    fixture_open(&f, GEN);
    t5e_electra *m = load(GEN);
    const t5e_electra_config *c = t5e_electra_get_config(m);
    int B = f.B, S = f.S, V = c->vocab_size, NL = c->num_hidden_layers;
    size_t nH = (size_t)B * S * c->hidden_size;
    CHECK(c->head == T5E_ELECTRA_GENERATOR, "head %d", c->head);
    CHECK(m->p.proj_w == NULL, "E == H: no embeddings_project");

    float *hs[16];
    for (int i = 0; i <= NL; i++)
        hs[i] = malloc(nH * sizeof(float));
    t5e_err err = {0};
    CHECK_OK(electra_forward_trace(m, B, S, f.ids, f.types, f.mask, NULL,
                                   hs, &err), &err);
    for (int i = 0; i <= NL; i++) {
        char name[32];
        snprintf(name, sizeof name, "hidden_states.%d", i);
        check_golden(&f, name, hs[i]);
    }

    float *logits = malloc((size_t)B * S * V * sizeof *logits);
    CHECK_OK(t5e_electra_mlm(m, B, S, f.ids, f.types, f.mask, logits, &err),
             &err);
    check_golden(&f, "logits", logits);

    /* MLM cross-entropy over labels != -100. */
    int32_t *labels = golden_i32(&f.g, "labels", NULL);
    double sum = 0;
    int count = 0;
    for (int i = 0; i < B * S; i++)
        if (labels[i] != -100) {
            sum += cross_entropy(logits + (size_t)i * V, V, labels[i]);
            count++;
        }
    CHECK(count > 0, "no masked labels");
    check_loss("generator loss", sum / count, golden_scalar(&f, "loss"));

    free(labels);
    free(logits);
    for (int i = 0; i <= NL; i++)
        free(hs[i]);
    t5e_electra_free(m);
    fixture_close(&f);
}

static void test_classifier_golden(void) {
    fixture f;
    fixture_open(&f, CLS);
    t5e_electra *m = load(CLS);
    const t5e_electra_config *c = t5e_electra_get_config(m);
    int B = f.B, L = c->num_labels;
    CHECK(c->head == T5E_ELECTRA_CLASSIFIER, "head %d", c->head);
    CHECK(L == 3, "num_labels %d", L);
    CHECK(!strcmp(t5e_electra_label_name(m, 2), "LABEL_2"), "%s",
          t5e_electra_label_name(m, 2));
    CHECK(!strcmp(t5e_electra_label_name(m, 3), "?"), "out of range");

    float *logits = malloc((size_t)B * L * sizeof *logits);
    t5e_err err = {0};
    CHECK_OK(t5e_electra_classify(m, B, f.S, f.ids, f.types, f.mask, logits,
                                  &err), &err);
    check_golden(&f, "logits", logits);

    int32_t *labels = golden_i32(&f.g, "labels", NULL);
    double sum = 0;
    for (int b = 0; b < B; b++)
        sum += cross_entropy(logits + (size_t)b * L, L, labels[b]);
    check_loss("classifier loss", sum / B, golden_scalar(&f, "loss"));

    free(labels);
    free(logits);
    t5e_electra_free(m);
    fixture_close(&f);
}

/* ------------------------------------------------------------------ */
/* A padded batch row equals the same input run alone                  */
/* ------------------------------------------------------------------ */

/* Runs the model's head over [B, S]; returns per-row output width. */
static int run_head(t5e_electra *m, int B, int S, const int32_t *ids,
                    const int32_t *types, const int32_t *mask, float *out,
                    t5e_err *err, t5e_status *s) {
    const t5e_electra_config *c = t5e_electra_get_config(m);
    switch (c->head) {
    case T5E_ELECTRA_DISCRIMINATOR:
        *s = t5e_electra_detect(m, B, S, ids, types, mask, out, err);
        return 1;
    case T5E_ELECTRA_GENERATOR:
        *s = t5e_electra_mlm(m, B, S, ids, types, mask, out, err);
        return c->vocab_size;
    case T5E_ELECTRA_CLASSIFIER:
        *s = t5e_electra_classify(m, B, S, ids, types, mask, out, err);
        return -c->num_labels; /* per row, not per token */
    default:
        *s = t5e_electra_hidden(m, B, S, ids, types, mask, out, err);
        return c->hidden_size;
    }
}

static void padding_invariance(const char *dir) {
    fixture f;
    fixture_open(&f, dir);
    t5e_electra *m = load(dir);
    int B = f.B, S = f.S;
    size_t cap = (size_t)B * S * 1000 + 4096;
    float *batch = malloc(cap * sizeof(float));
    float *alone = malloc(cap * sizeof(float));
    t5e_err err = {0};
    t5e_status s;
    int w = run_head(m, B, S, f.ids, f.types, f.mask, batch, &err, &s);
    CHECK(s == T5E_OK, "%s", err.msg);
    for (int b = 0; b < B; b++) {
        int len = 0;
        while (len < S && f.mask[(size_t)b * S + len])
            len++;
        size_t o = (size_t)b * S;
        run_head(m, 1, len, f.ids + o, f.types + o, NULL, alone, &err, &s);
        CHECK(s == T5E_OK, "%s", err.msg);
        char what[96];
        snprintf(what, sizeof what, "%s row %d (len %d) alone", dir, b, len);
        if (w < 0)
            check_close(what, batch + (size_t)b * -w, alone, -w, 1e-5, -1);
        else
            check_close(what, batch + o * w, alone, (int64_t)len * w, 1e-5,
                        -1);
    }
    free(batch);
    free(alone);
    t5e_electra_free(m);
    fixture_close(&f);
}

static void test_padding_invariance(void) {
    padding_invariance(DISC);
    padding_invariance(GEN);
    padding_invariance(CLS);
}

/* ------------------------------------------------------------------ */
/* Fast attention against the reference kernel                         */
/* ------------------------------------------------------------------ */

static float frand(unsigned *st) {
    *st = *st * 1664525u + 1013904223u;
    return (float)((*st >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/*
 * Weights converted at load (F16, BF16, I8) run through the stacked q/k/v
 * product in their own type: the discriminator's logits against the
 * float32 goldens, within the rounding each type adds.  bf16 keeps 8
 * mantissa bits (about 0.4% per weight), f16 11, int8 moves a weight by up
 * to 1/254 of its row's largest; the bounds (of max |logit|) are a few
 * times what the fixture measured when written and catch a wrong scale,
 * row or stacking order, which give errors of order 1.
 */
static void test_low_precision(void) {
    static const struct {
        t5e_dtype dt;
        const char *name;
        double bound;
    } types[] = {{T5E_DTYPE_F16, "f16", 0.004},
                 {T5E_DTYPE_BF16, "bf16", 0.02},
                 {T5E_DTYPE_I8, "int8", 0.1}};
    fixture f;
    fixture_open(&f, DISC);
    int64_t n;
    float *want = golden_f32(&f.g, "logits", &n);
    float *got = malloc((size_t)n * sizeof *got);
    double mx = 0;
    for (int64_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(want[i]));
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        t5e_load_options o;
        t5e_load_options_default(&o);
        o.dtype = types[k].dt;
        t5e_electra *m = NULL;
        t5e_err err = {0};
        CHECK_OK(t5e_electra_load(data_path(DISC), &o, &m, &err), &err);
        if (!m)
            continue;
        CHECK_OK(t5e_electra_detect(m, f.B, f.S, f.ids, f.types, f.mask,
                                    got, &err), &err);
        double worst = 0;
        for (int64_t i = 0; i < n; i++)
            worst = fmax(worst, fabs(got[i] - want[i]) / mx);
        printf("     %-5s max |logit - golden| = %.4f of max |golden|\n",
               types[k].name, worst);
        CHECK(worst < types[k].bound, "%s: logits off by %.4f of max",
              types[k].name, worst);
        t5e_electra_free(m);
    }
    free(want);
    free(got);
    fixture_close(&f);
}

/* The fast attention (BLAS per head, relative terms through a window
 * of the table) against op_attention with the relative terms summed
 * plainly as a bias, for each position_embedding_type. */
static void test_attention_matches_reference(void) {
    t5e_electra *m = load(DISC);
    int B = 3, S = 37, H = m->cfg.hidden_size;
    int HD = H / m->cfg.num_attention_heads;
    int P = m->cfg.max_position_embeddings;
    size_t n = (size_t)B * S * H, nrel = (size_t)(2 * P - 1) * HD;
    float *q = malloc(n * sizeof *q), *k = malloc(n * sizeof *k);
    float *v = malloc(n * sizeof *v), *fast = malloc(n * sizeof *fast);
    float *ref = malloc(n * sizeof *ref), *rel = malloc(nrel * sizeof *rel);
    m->cfg.position_embedding_type = T5E_POSITION_RELATIVE_KEY_QUERY;
    float *scratch = malloc(electra_attn_scratch(&m->cfg, S) *
                            sizeof *scratch);
    int32_t mask[3 * 37];
    unsigned st = 7;
    for (size_t i = 0; i < n; i++) {
        q[i] = 3 * frand(&st);
        k[i] = frand(&st);
        v[i] = frand(&st);
    }
    for (size_t i = 0; i < nrel; i++)
        rel[i] = 2 * frand(&st);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < S; j++)
            mask[b * S + j] = j < S - 11 * b;
    static const t5e_position_embedding kinds[] = {
        T5E_POSITION_ABSOLUTE, T5E_POSITION_RELATIVE_KEY,
        T5E_POSITION_RELATIVE_KEY_QUERY};
    for (int t = 0; t < 3; t++) {
        const float *r = t ? rel : NULL;
        m->cfg.position_embedding_type = kinds[t];
        electra_attention(m, B, S, mask, q, k, v, r, fast, scratch);
        electra_attention_ref(m, B, S, mask, q, k, v, r, ref);
        printf("     %s:\n", electra_position_name(kinds[t]));
        check_close("attention masked", fast, ref, (int64_t)n, 1e-5, -1);
        electra_attention(m, B, S, NULL, q, k, v, r, fast, scratch);
        electra_attention_ref(m, B, S, NULL, q, k, v, r, ref);
        check_close("attention unmasked", fast, ref, (int64_t)n, 1e-5, -1);
    }
    /* the relative terms must matter: the absolute result differs */
    m->cfg.position_embedding_type = T5E_POSITION_ABSOLUTE;
    electra_attention(m, B, S, NULL, q, k, v, NULL, ref, scratch);
    double moved = 0;
    for (size_t i = 0; i < n; i++)
        moved = fmax(moved, fabs(fast[i] - ref[i]));
    CHECK(moved > 1e-2, "relative terms changed the output by only %g",
          moved);
    free(q);
    free(k);
    free(v);
    free(fast);
    free(ref);
    free(rel);
    free(scratch);
    t5e_electra_free(m);
}

/* ------------------------------------------------------------------ */
/* Bad inputs                                                          */
/* ------------------------------------------------------------------ */

static void test_wrong_head(void) {
    t5e_electra *m = load(GEN);
    int32_t ids[4] = {4, 20, 30, 5};
    float out[4 * 1000];
    t5e_err err = {0};
    t5e_status s = t5e_electra_detect(m, 1, 4, ids, NULL, NULL, out, &err);
    CHECK(s == T5E_ERR_ARG, "status %d", s);
    CHECK(strstr(err.msg, "discriminator") && strstr(err.msg, "generator"),
          "%s", err.msg);
    note(&err);
    s = t5e_electra_classify(m, 1, 4, ids, NULL, NULL, out, &err);
    CHECK(s == T5E_ERR_ARG && strstr(err.msg, "classifier"), "%s", err.msg);
    CHECK_OK(t5e_electra_mlm(m, 1, 4, ids, NULL, NULL, out, &err), &err);
    CHECK_OK(t5e_electra_hidden(m, 1, 4, ids, NULL, NULL, out, &err), &err);
    t5e_electra_free(m);
}

static void test_bad_inputs(void) {
    t5e_electra *m = load(DISC);
    const t5e_electra_config *c = t5e_electra_get_config(m);
    int P = c->max_position_embeddings, S = P + 1;
    int32_t *ids = calloc((size_t)S, sizeof *ids);
    float *out = malloc((size_t)S * sizeof *out);
    t5e_err err = {0};
    char limit[32];
    snprintf(limit, sizeof limit, "%d", P);

    t5e_status s = t5e_electra_detect(m, 1, S, ids, NULL, NULL, out, &err);
    CHECK(s == T5E_ERR_ARG && strstr(err.msg, limit) &&
          strstr(err.msg, "max_position_embeddings"), "%s", err.msg);
    note(&err);
    CHECK_OK(t5e_electra_detect(m, 1, P, ids, NULL, NULL, out, &err), &err);

    ids[3] = c->vocab_size;
    s = t5e_electra_detect(m, 1, 8, ids, NULL, NULL, out, &err);
    CHECK(s == T5E_ERR_ARG && strstr(err.msg, "vocab_size"), "%s", err.msg);
    note(&err);
    ids[3] = -1;
    s = t5e_electra_detect(m, 1, 8, ids, NULL, NULL, out, &err);
    CHECK(s == T5E_ERR_ARG, "negative id accepted");
    ids[3] = 7;
    int32_t types[8] = {0, 0, 0, 0, 2, 1, 1, 1};
    s = t5e_electra_detect(m, 1, 8, ids, types, NULL, out, &err);
    CHECK(s == T5E_ERR_ARG && strstr(err.msg, "type_vocab_size"), "%s",
          err.msg);
    s = t5e_electra_detect(m, 0, 8, ids, NULL, NULL, out, &err);
    CHECK(s == T5E_ERR_ARG, "B = 0 accepted");
    s = t5e_electra_detect(m, 1, 0, ids, NULL, NULL, out, &err);
    CHECK(s == T5E_ERR_ARG, "S = 0 accepted");
    free(ids);
    free(out);
    t5e_electra_free(m);
}

/* ------------------------------------------------------------------ */
/* Variants of a fixture folder written to a temporary directory       */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *drop;        /* tensor to leave out, or NULL */
    int strip_prefix;        /* rename "electra.X" to "X", drop heads */
    const char *set_key;     /* config key to set, or NULL */
    const char *set_value;   /* its JSON value; "-" deletes the key */
} variant;

static void write_config(const char *src, const char *dst, const variant *v) {
    char *text;
    size_t len;
    t5e_err err = {0};
    if (file_read_all(src, &text, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (v->set_key) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, v->set_key);
        if (strcmp(v->set_value, "-"))
            cJSON_AddItemToObject(root, v->set_key,
                                  cJSON_Parse(v->set_value));
    }
    char *out = cJSON_Print(root);
    FILE *fp = fopen(dst, "w");
    fputs(out, fp);
    fclose(fp);
    free(out);
    cJSON_Delete(root);
}

static void write_weights(const char *src, const char *dst,
                          const variant *v) {
    st_file f;
    t5e_err err = {0};
    if (st_open(src, &f, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    st_item *items = calloc((size_t)f.n, sizeof *items);
    int n = 0;
    for (int i = 0; i < f.n; i++) {
        const st_tensor *t = &f.tensors[i];
        const char *name = t->name;
        if (v->drop && !strcmp(name, v->drop))
            continue;
        if (v->strip_prefix) {
            if (strncmp(name, "electra.", 8))
                continue;
            name += 8;
        }
        st_item *it = &items[n++];
        it->name = name;
        it->dtype = t->dtype;
        it->ndim = t->ndim;
        memcpy(it->shape, t->shape, sizeof it->shape);
        it->data = t->data;
    }
    if (st_write(dst, items, n, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    free(items);
    st_close(&f);
}

/* Makes a copy of fixture `dir` changed by `v` in tmp; returns tmp. */
static char *make_variant(const char *dir, const variant *v, char *tmp) {
    char src[512], dst[512];
    strcpy(tmp, "/tmp/t5e_electra_XXXXXX");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(src, sizeof src, "%s/config.json", data_path(dir));
    snprintf(dst, sizeof dst, "%s/config.json", tmp);
    write_config(src, dst, v);
    snprintf(src, sizeof src, "%s/model.safetensors", data_path(dir));
    snprintf(dst, sizeof dst, "%s/model.safetensors", tmp);
    write_weights(src, dst, v);
    return tmp;
}

static void remove_variant(const char *tmp) {
    char p[512];
    snprintf(p, sizeof p, "%s/config.json", tmp);
    unlink(p);
    snprintf(p, sizeof p, "%s/model.safetensors", tmp);
    unlink(p);
    rmdir(tmp);
}

/* Loads a variant; returns its status and leaves the message in err. */
static t5e_status load_variant(const char *dir, const variant *v,
                               t5e_electra **m, t5e_err *err) {
    char tmp[64];
    make_variant(dir, v, tmp);
    *m = NULL;
    t5e_status s = t5e_electra_load(tmp, NULL, m, err);
    remove_variant(tmp);
    return s;
}

static void test_missing_tensor(void) {
    const char *name = "electra.encoder.layer.1.attention.self.key.weight";
    variant v = {name, 0, NULL, NULL};
    t5e_electra *m;
    t5e_err err = {0};
    t5e_status s = load_variant(DISC, &v, &m, &err);
    CHECK(s == T5E_ERR_SHAPE && strstr(err.msg, name) &&
          strstr(err.msg, "missing"), "%d: %s", s, err.msg);
    note(&err);
    CHECK(m == NULL, "model returned on failure");

    variant head = {"generator_lm_head.bias", 0, NULL, NULL};
    s = load_variant(GEN, &head, &m, &err);
    CHECK(s == T5E_ERR_SHAPE && strstr(err.msg, "generator_lm_head.bias"),
          "%s", err.msg);

    err.msg[0] = 0;
    s = t5e_electra_load("/nonexistent/electra", NULL, &m, &err);
    CHECK(s == T5E_ERR_IO && strstr(err.msg, "/nonexistent/electra"), "%s",
          err.msg);
}

static void test_bad_config(void) {
    t5e_electra *m;
    t5e_err err = {0};
    variant pos = {NULL, 0, "position_embedding_type", "\"rotary\""};
    t5e_status s = load_variant(DISC, &pos, &m, &err);
    CHECK(s == T5E_ERR_UNSUPPORTED && strstr(err.msg, "rotary"),
          "%s", err.msg);
    note(&err);
    /* a relative type needs each layer's distance table */
    variant rel = {NULL, 0, "position_embedding_type", "\"relative_key\""};
    s = load_variant(DISC, &rel, &m, &err);
    CHECK(s == T5E_ERR_SHAPE && strstr(err.msg, "distance_embedding"),
          "%s", err.msg);
    note(&err);
    variant act = {NULL, 0, "hidden_act", "\"mish2\""};
    s = load_variant(DISC, &act, &m, &err);
    CHECK(s == T5E_ERR_UNSUPPORTED && strstr(err.msg, "mish2"), "%s",
          err.msg);
    variant heads = {NULL, 0, "num_attention_heads", "5"};
    s = load_variant(DISC, &heads, &m, &err);
    CHECK(s == T5E_ERR_CONFIG && strstr(err.msg, "num_attention_heads"),
          "%s", err.msg);
    variant shape = {NULL, 0, "intermediate_size", "100"};
    s = load_variant(DISC, &shape, &m, &err);
    CHECK(s == T5E_ERR_SHAPE && strstr(err.msg, "intermediate.dense"),
          "%s", err.msg);
    note(&err);
}

/* Without "architectures" the head comes from the tensors present. */
static void test_head_inferred(void) {
    const char *dirs[] = {DISC, GEN, CLS};
    t5e_electra_head want[] = {T5E_ELECTRA_DISCRIMINATOR,
                               T5E_ELECTRA_GENERATOR, T5E_ELECTRA_CLASSIFIER};
    for (int i = 0; i < 3; i++) {
        variant v = {NULL, 0, "architectures", "-"};
        t5e_electra *m;
        t5e_err err = {0};
        CHECK_OK(load_variant(dirs[i], &v, &m, &err), &err);
        if (m)
            CHECK(m->cfg.head == want[i], "%s: head %d", dirs[i],
                  m->cfg.head);
        t5e_electra_free(m);
    }
}

/* An ElectraModel checkpoint without the "electra." prefix. */
static void test_bare_encoder(void) {
    fixture f;
    fixture_open(&f, DISC);
    variant v = {NULL, 1, "architectures", "[\"ElectraModel\"]"};
    t5e_electra *m;
    t5e_err err = {0};
    CHECK_OK(load_variant(DISC, &v, &m, &err), &err);
    if (!m) {
        fixture_close(&f);
        return;
    }
    CHECK(m->cfg.head == T5E_ELECTRA_BASE, "head %d", m->cfg.head);
    size_t n = (size_t)f.B * f.S * m->cfg.hidden_size;
    float *hidden = malloc(n * sizeof *hidden);
    CHECK_OK(t5e_electra_hidden(m, f.B, f.S, f.ids, f.types, f.mask,
                                hidden, &err), &err);
    char last[32];
    snprintf(last, sizeof last, "hidden_states.%d",
             m->cfg.num_hidden_layers);
    check_golden(&f, last, hidden);
    float logit;
    t5e_status s = t5e_electra_detect(m, 1, 1, f.ids, NULL, NULL, &logit,
                                      &err);
    CHECK(s == T5E_ERR_ARG && strstr(err.msg, "ElectraModel"), "%s",
          err.msg);
    free(hidden);
    t5e_electra_free(m);
    fixture_close(&f);
}

/* Another hidden_act changes the layers and the discriminator head only:
 * the output must differ from the gelu golden, and still be finite. */
static void test_hidden_act_used(void) {
    fixture f;
    fixture_open(&f, DISC);
    variant v = {NULL, 0, "hidden_act", "\"relu\""};
    t5e_electra *m;
    t5e_err err = {0};
    CHECK_OK(load_variant(DISC, &v, &m, &err), &err);
    if (!m) {
        fixture_close(&f);
        return;
    }
    CHECK(m->cfg.hidden_act == T5E_ACT_RELU, "act %d", m->cfg.hidden_act);
    float *logits = malloc((size_t)f.B * f.S * sizeof *logits);
    float *want = golden_f32(&f.g, "logits", NULL);
    CHECK_OK(t5e_electra_detect(m, f.B, f.S, f.ids, f.types, f.mask,
                                logits, &err), &err);
    double diff = 0;
    for (int i = 0; i < f.B * f.S; i++) {
        CHECK(isfinite(logits[i]), "logit %d not finite", i);
        diff = fmax(diff, fabs(logits[i] - want[i]));
    }
    CHECK(diff > 1e-3, "relu gave the gelu logits (diff %g)", diff);
    free(want);
    free(logits);
    t5e_electra_free(m);
    fixture_close(&f);
}

int main(void) {
    RUN(test_discriminator_golden);
    RUN(test_generator_golden);
    RUN(test_classifier_golden);
    RUN(test_padding_invariance);
    RUN(test_low_precision);
    RUN(test_attention_matches_reference);
    RUN(test_wrong_head);
    RUN(test_bad_inputs);
    RUN(test_missing_tensor);
    RUN(test_bad_config);
    RUN(test_head_inferred);
    RUN(test_bare_encoder);
    RUN(test_hidden_act_used);
    return harness_finish();
}

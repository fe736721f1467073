/*
 * test_t5_load.c - loading T5 folders: other dtypes, shards, and every
 * kind of bad input, each with a clear error instead of a crash.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "io/convert.h"
#include "model/t5.h"

static char tmp_root[256];

static void make_tmp_root(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/t5e-test-load-XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        exit(2);
    }
}

static void rm_rf(const char *path) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

/* A new folder under tmp_root holding config text and tensors. */
static const char *make_model(const char *name, const char *config,
                              const st_item *items, int n) {
    static char dir[512];
    char path[600];
    snprintf(dir, sizeof dir, "%s/%s", tmp_root, name);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_text(path, config);
    if (items) {
        t5e_err err = {0};
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (st_write(path, items, n, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(2);
        }
    }
    return dir;
}

static char *fixture_config(const char *model) {
    char *text;
    size_t len;
    t5e_err err = {0};
    char rel[256];
    snprintf(rel, sizeof rel, "%s/config.json", model);
    if (file_read_all(data_path(rel), &text, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    return text;
}

/* The fixture's tensors as items (pointing into the open file). */
static st_item *fixture_items(const st_file *f) {
    st_item *items = calloc(f->n, sizeof *items);
    for (int i = 0; i < f->n; i++) {
        const st_tensor *t = &f->tensors[i];
        items[i].name = t->name;
        items[i].dtype = t->dtype;
        items[i].ndim = t->ndim;
        memcpy(items[i].shape, t->shape, sizeof t->shape);
        items[i].data = t->data;
    }
    return items;
}

static void open_fixture(const char *model, st_file *f) {
    char rel[256];
    snprintf(rel, sizeof rel, "%s/model.safetensors", model);
    golden_open(rel, f);
}

/* Round to nearest even into IEEE half / bfloat16 bits. */
static uint16_t to_half(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    uint32_t sign = (b >> 16) & 0x8000;
    int32_t exp = (int32_t)((b >> 23) & 0xff) - 127 + 15;
    uint32_t man = b & 0x7fffff;
    if (exp <= 0) { /* subnormal half */
        if (exp < -10)
            return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - exp;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (uint32_t)exp << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    if (h >= 0x7c00)
        h = 0x7c00;
    return (uint16_t)(sign | h);
}

static uint16_t to_bf16(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    b += 0x7fff + ((b >> 16) & 1);
    return (uint16_t)(b >> 16);
}

static float logits_as(const char *dir, t5e_dtype dtype, int S,
                       const int32_t *ids, int T, const int32_t *dec,
                       float *out, t5e_err *err) {
    t5e_t5 *m = NULL;
    t5e_load_options lo;
    t5e_load_options_default(&lo);
    lo.dtype = dtype;
    if (t5e_t5_load(dir, &lo, &m, err))
        return -1;
    t5e_status s = t5e_t5_forward(m, 1, S, ids, NULL, T, dec, out, err);
    t5e_t5_free(m);
    return s ? -1 : 0;
}

static float logits_of(const char *dir, int S, const int32_t *ids, int T,
                       const int32_t *dec, float *out, t5e_err *err) {
    return logits_as(dir, T5E_DTYPE_F32, S, ids, T, dec, out, err);
}

/*
 * Weights stored as F16 or BF16 give, converted to float32 at load, the
 * same logits as F32 weights holding the same rounded values (so the
 * conversion is exact), and stay near the float32 goldens.  Used in place
 * (dtype AUTO), they give those logits up to float32 summation order.
 */
static void test_half_dtypes(void) {
    const char *model = "t5-tiny-v1.1";
    st_file f, g;
    open_fixture(model, &f);
    char rel[256];
    snprintf(rel, sizeof rel, "%s/golden.safetensors", model);
    golden_open(rel, &g);
    int64_t S, T, n;
    int32_t *ids = golden_i32(&g, "single0.input_ids", &S);
    int32_t *dec = golden_i32(&g, "single0.decoder_input_ids", &T);
    float *want = golden_f32(&g, "single0.logits", &n);
    char *config = fixture_config(model);
    for (int kind = 0; kind < 2; kind++) {
        st_item *half = fixture_items(&f), *rounded = fixture_items(&f);
        void **bufs = calloc(2 * f.n, sizeof *bufs);
        for (int i = 0; i < f.n; i++) {
            int64_t k = f.tensors[i].numel;
            float *src = malloc(k * 4), *r = malloc(k * 4);
            uint16_t *h = malloc(k * 2);
            st_to_f32(&f.tensors[i], src, NULL);
            for (int64_t j = 0; j < k; j++) {
                h[j] = kind ? to_bf16(src[j]) : to_half(src[j]);
                uint32_t bits = (uint32_t)h[j] << 16;
                if (kind)
                    memcpy(&r[j], &bits, 4);
            }
            half[i].dtype = kind ? ST_BF16 : ST_F16;
            half[i].data = h;
            st_tensor t = f.tensors[i];
            if (!kind) { /* decode the half values through the reader */
                t.dtype = ST_F16;
                t.data = (const uint8_t *)h;
                st_to_f32(&t, r, NULL);
            }
            rounded[i].data = r;
            bufs[2 * i] = h;
            bufs[2 * i + 1] = r;
            free(src);
        }
        char d1[600], d2[600];
        snprintf(d1, sizeof d1, "%s", make_model(kind ? "bf16" : "f16",
                                                 config, half, f.n));
        snprintf(d2, sizeof d2, "%s", make_model(kind ? "bf16r" : "f16r",
                                                 config, rounded, f.n));
        float *a = malloc(n * 4), *b = malloc(n * 4);
        t5e_err err = {0};
        CHECK(logits_of(d1, (int)S, ids, (int)T, dec, a, &err) == 0, "%s",
              err.msg);
        CHECK(logits_of(d2, (int)S, ids, (int)T, dec, b, &err) == 0, "%s",
              err.msg);
        CHECK(memcmp(a, b, n * 4) == 0, "%s on disk differs from the same "
              "values in F32", kind ? "BF16" : "F16");
        CHECK(logits_as(d1, T5E_DTYPE_AUTO, (int)S, ids, (int)T, dec, a,
                        &err) == 0, "%s", err.msg);
        check_close(kind ? "bf16 in place" : "f16 in place", a, b, n, 1e-5,
                    -1);
        /* F16 keeps 11 bits, BF16 8: the logits move by about that much */
        check_close(kind ? "bf16 vs golden" : "f16 vs golden", a, want, n,
                    kind ? 5e-2 : 1e-2, -1);
        for (int i = 0; i < 2 * f.n; i++)
            free(bufs[i]);
        free(bufs), free(half), free(rounded), free(a), free(b);
    }
    free(config), free(ids), free(dec), free(want);
    st_close(&f);
    st_close(&g);
}

/* max |a - b| / max |b|: the fixtures' scale of a logit error. */
static double rel_max_diff(const float *a, const float *b, int64_t n) {
    double d = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / (m > 0 ? m : 1);
}

/*
 * int8: quantized at load or by `t5e quantize` (st_convert to I8), the
 * same logits bit for bit; the cost against the float32 goldens is
 * measured (printed) and bounded by INT8_LOGIT_TOL of max |logit|.  int8
 * moves each weight by up to 1/254 of its row's largest, about 1% of a
 * typical weight, five times bf16's rounding; through the fixtures'
 * random, untrained layers that measured 0.067 (v1.0) and 0.173 (v1.1)
 * of max |logit| when written.  The bound catches a broken quantizer
 * (wrong scale or rounding gives errors of order 1); the quality that
 * matters, on a trained model, is measured by bench/bench_t5 --dtype.
 */
#define INT8_LOGIT_TOL 0.25
static void test_int8(void) {
    const char *models[] = {"t5-tiny-v1.0", "t5-tiny-v1.1"};
    for (int k = 0; k < 2; k++) {
        char rel[256], src[700], dir[700], path[800];
        snprintf(rel, sizeof rel, "%s/golden.safetensors", models[k]);
        st_file g;
        golden_open(rel, &g);
        int64_t S, T, n;
        int32_t *ids = golden_i32(&g, "single0.input_ids", &S);
        int32_t *dec = golden_i32(&g, "single0.decoder_input_ids", &T);
        float *want = golden_f32(&g, "single0.logits", &n);
        float *a = malloc(n * 4), *b = malloc(n * 4);
        snprintf(src, sizeof src, "%s/model.safetensors", models[k]);
        snprintf(src, sizeof src, "%s", data_path(src));
        char *config = fixture_config(models[k]);
        snprintf(dir, sizeof dir, "%s", make_model(k ? "int8-11" : "int8-10",
                                                   config, NULL, 0));
        free(config);
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        t5e_err err = {0};
        CHECK(st_convert(src, path, ST_I8, &err) == 0, "%s", err.msg);
        snprintf(rel, sizeof rel, "%s", data_path(models[k]));
        CHECK(logits_as(rel, T5E_DTYPE_I8, (int)S, ids, (int)T, dec, a,
                        &err) == 0, "%s", err.msg);
        CHECK(logits_as(dir, T5E_DTYPE_AUTO, (int)S, ids, (int)T, dec, b,
                        &err) == 0, "%s", err.msg);
        CHECK(memcmp(a, b, n * 4) == 0, "%s: int8 at load and from the "
              "quantized file differ", models[k]);
        double e = rel_max_diff(a, want, n);
        fprintf(stderr, "  %s int8: max |logit - golden| = %.4f of max "
                "|golden|\n", models[k], e);
        CHECK(e < INT8_LOGIT_TOL, "%s int8 logits off by %.4f", models[k], e);
        /* the int8 file read as float32 is its dequantized values */
        CHECK(logits_as(dir, T5E_DTYPE_F32, (int)S, ids, (int)T, dec, b,
                        &err) == 0, "%s", err.msg);
        CHECK(rel_max_diff(a, b, n) < 1e-5, "%s: int8 kernels differ from "
              "float32 on the dequantized weights", models[k]);
        free(a), free(b), free(ids), free(dec), free(want);
        st_close(&g);
    }
}

/* Two shards and an index give the same model as one file. */
static void test_sharded(void) {
    const char *model = "t5-tiny-v1.0";
    st_file f;
    open_fixture(model, &f);
    st_item *items = fixture_items(&f);
    char *config = fixture_config(model);
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s", make_model("sharded", config, NULL, 0));
    int half = f.n / 2;
    t5e_err err = {0};
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    CHECK_OK(st_write(path, items, half, &err), &err);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    CHECK_OK(st_write(path, items + half, f.n - half, &err), &err);
    FILE *idx;
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    idx = fopen(path, "w");
    fprintf(idx, "{\"metadata\": {}, \"weight_map\": {");
    for (int i = 0; i < f.n; i++)
        fprintf(idx, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"",
                i ? ", " : "", items[i].name, i < half ? 1 : 2);
    fprintf(idx, "}}");
    fclose(idx);
    int32_t ids[] = {3, 507, 36, 162, 1}, dec[] = {0, 5, 9};
    int V = 1152;
    float *a = malloc(3 * V * 4), *b = malloc(3 * V * 4);
    CHECK(logits_of(dir, 5, ids, 3, dec, a, &err) == 0, "%s", err.msg);
    CHECK(logits_of(data_path(model), 5, ids, 3, dec, b, &err) == 0, "%s",
          err.msg);
    CHECK(memcmp(a, b, 3 * V * 4) == 0, "sharded logits differ");
    free(a), free(b), free(items), free(config);
    st_close(&f);
}

/* Loading `dir` fails with `status` and a message containing `needle`. */
static void expect_load_error(const char *dir, t5e_status status,
                              const char *needle) {
    t5e_t5 *m = NULL;
    t5e_err err = {0};
    t5e_status s = t5e_t5_load(dir, NULL, &m, &err);
    CHECK(s == status, "load %s: status %d (%s), want %d", dir, s, err.msg,
          status);
    CHECK(m == NULL, "model returned on error");
    CHECK(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"",
          err.msg, needle);
    CHECK(strchr(err.msg, '\n') == NULL, "message is not one line");
    t5e_t5_free(m);
}

static void test_bad_folders(void) {
    const char *model = "t5-tiny-v1.0";
    st_file f;
    open_fixture(model, &f);
    st_item *items = fixture_items(&f);
    char *config = fixture_config(model);
    expect_load_error("/nonexistent/t5", T5E_ERR_IO, "/nonexistent/t5");
    const char *d = make_model("no-weights", config, NULL, 0);
    expect_load_error(d, T5E_ERR_IO, "model.safetensors");
    /* a missing tensor is named */
    int drop = -1;
    for (int i = 0; i < f.n; i++)
        if (!strcmp(items[i].name, "decoder.block.1.layer.2.DenseReluDense"
                    ".wo.weight"))
            drop = i;
    st_item keep = items[drop];
    items[drop] = items[f.n - 1];
    d = make_model("missing-tensor", config, items, f.n - 1);
    expect_load_error(d, T5E_ERR_SHAPE, "decoder.block.1.layer.2."
                      "DenseReluDense.wo.weight is missing");
    items[drop] = keep;
    /* a config that disagrees with the tensors names the tensor */
    char *cfg = strdup(config), *p = strstr(cfg, "\"d_ff\": 128");
    memcpy(p, "\"d_ff\": 100", 11);
    d = make_model("wrong-shape", cfg, items, f.n);
    expect_load_error(d, T5E_ERR_SHAPE, "has shape [128, 64]");
    free(cfg);
    cfg = strdup(config);
    p = strstr(cfg, "\"feed_forward_proj\": \"relu\"");
    memcpy(p, "\"feed_forward_proj\": \"lulu\"", 27);
    d = make_model("bad-act", cfg, items, f.n);
    expect_load_error(d, T5E_ERR_CONFIG, "\"lulu\"");
    free(cfg);
    d = make_model("bad-json", "{\"d_model\": 64,", items, f.n);
    expect_load_error(d, T5E_ERR_FORMAT, "config.json");
    d = make_model("bad-value", "{\"d_model\": -3}", items, f.n);
    expect_load_error(d, T5E_ERR_CONFIG, "d_model");
    /* an int8 tensor without its per-row scales is named */
    size_t n8 = (size_t)f.tensors[drop].numel;
    int8_t *q = calloc(n8, 1);
    items[drop].dtype = ST_I8, items[drop].data = q;
    d = make_model("int8-no-scale", config, items, f.n);
    expect_load_error(d, T5E_ERR_SHAPE, "DenseReluDense.wo.weight has no "
                      "per-row scales");
    free(q);
    items[drop] = keep;
    free(items), free(config);
    st_close(&f);
}

/* Copies the fixture's weights, cut or damaged, into a folder. */
static const char *damaged_copy(const char *name, size_t keep,
                                const void *patch, size_t patch_at,
                                size_t patch_len) {
    char *data, path[700];
    size_t len;
    t5e_err err = {0};
    file_read_all(data_path("t5-tiny-v1.0/model.safetensors"), &data, &len,
                  &err);
    char *config = fixture_config("t5-tiny-v1.0");
    const char *d = make_model(name, config, NULL, 0);
    if (patch)
        memcpy(data + patch_at, patch, patch_len);
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, keep < len ? keep : len, f);
    fclose(f);
    free(data), free(config);
    return d;
}

static void test_corrupt_safetensors(void) {
    expect_load_error(damaged_copy("trunc-data", 500000, NULL, 0, 0),
                      T5E_ERR_FORMAT, "truncated");
    expect_load_error(damaged_copy("trunc-header", 100, NULL, 0, 0),
                      T5E_ERR_FORMAT, "header length");
    expect_load_error(damaged_copy("tiny", 5, NULL, 0, 0), T5E_ERR_FORMAT,
                      "too short");
    expect_load_error(damaged_copy("empty", 0, NULL, 0, 0), T5E_ERR_FORMAT,
                      "empty");
    uint8_t huge[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    expect_load_error(damaged_copy("huge-header", 1u << 30, huge, 0, 8),
                      T5E_ERR_FORMAT, "header length");
    expect_load_error(damaged_copy("bad-json", 1u << 30, "}}}}", 8, 4),
                      T5E_ERR_FORMAT, "JSON");
    /* the header's first F32 becomes an unknown dtype */
    char *data;
    size_t len;
    t5e_err err = {0};
    file_read_all(data_path("t5-tiny-v1.0/model.safetensors"), &data, &len,
                  &err);
    size_t at = (size_t)(strstr(data + 8, "\"F32\"") - data) + 1;
    free(data);
    expect_load_error(damaged_copy("bad-dtype", 1u << 30, "X32", at, 3),
                      T5E_ERR_FORMAT, "unknown dtype X32");
    uint8_t big[8] = {0, 0, 0, 0, 0, 0, 0, 1}; /* 2^56: past any file */
    expect_load_error(damaged_copy("len-overflow", 1u << 30, big, 0, 8),
                      T5E_ERR_FORMAT, "header length");
}

/* Inputs beyond the limit and ids outside the vocabulary are refused. */
static void test_bad_inputs(void) {
    t5e_t5 *m = NULL;
    t5e_err err = {0};
    CHECK_OK(t5e_t5_load(data_path("t5-tiny-v1.0"), NULL, &m, &err), &err);
    int S = T5_MAX_LEN + 1;
    int32_t *ids = calloc(S, sizeof *ids);
    float *out = malloc(64 * sizeof *out);
    CHECK(t5e_t5_encode(m, 1, S, ids, NULL, out, &err) == T5E_ERR_ARG,
          "over-long input accepted");
    CHECK(strstr(err.msg, "16384") != NULL, "limit not named: %s", err.msg);
    ids[0] = -5;
    CHECK(t5e_t5_encode(m, 1, 1, ids, NULL, out, &err) == T5E_ERR_ARG,
          "negative id accepted");
    free(ids), free(out);
    t5e_t5_free(m);
}

int main(void) {
    make_tmp_root();
    RUN(test_half_dtypes);
    RUN(test_int8);
    RUN(test_sharded);
    RUN(test_bad_folders);
    RUN(test_corrupt_safetensors);
    RUN(test_bad_inputs);
    rm_rf(tmp_root);
    return harness_finish();
}

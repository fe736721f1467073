/*
 * test_attention.c - the BLAS-backed attention kernels equal the plain
 * loops they replace, forward and backward, for every option: scale,
 * position bias, key mask, causal masking with an offset, strided heads,
 * one query row and many (split over threads, and longer than a chunk).
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/ops_backward.h"

static uint64_t seed = 12345;

static float frand(void) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((seed >> 40) / 16777216.0) * 2.0f - 1.0f;
}

static float *rnd(size_t n) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = frand();
    return x;
}

typedef struct {
    int Tq, Tk, H, dk, extra; /* extra: padding columns in each row */
    int use_bias, use_mask, causal, q0;
    float scale;
} case_def;

static void run_case(const case_def *c) {
    int HD = c->H * c->dk, st = HD + c->extra;
    attn_shape a = {
        .Tq = c->Tq, .Tk = c->Tk, .H = c->H, .dk = c->dk,
        .q_stride = st, .kv_stride = st, .o_stride = st, .scale = c->scale,
        .bias_h = (long)c->Tq * c->Tk, .bias_q = c->Tk,
        .causal = c->causal, .q_pos0 = c->q0,
    };
    size_t nq = (size_t)c->Tq * st, nk = (size_t)c->Tk * st;
    size_t np = (size_t)c->H * c->Tq * c->Tk;
    float *q = rnd(nq), *k = rnd(nk), *v = rnd(nk), *dout = rnd(nq);
    float *bias = rnd(np);
    int32_t *mask = malloc(c->Tk * sizeof *mask);
    for (int j = 0; j < c->Tk; j++)
        mask[j] = j % 5 != 3;
    a.bias = c->use_bias ? bias : NULL;
    a.key_mask = c->use_mask ? mask : NULL;
    float *o1 = calloc(nq, 4), *o2 = calloc(nq, 4), *o3 = calloc(nq, 4);
    float *p1 = calloc(np, 4), *p2 = calloc(np, 4);
    op_attention_probs(o1, p1, q, k, v, &a);
    op_attention_probs_ref(o2, p2, q, k, v, &a);
    op_attention(o3, q, k, v, &a);
    check_close("probs", p1, p2, (int64_t)np, 1e-5, -1);
    check_close("out", o1, o2, (int64_t)nq, 1e-5, -1);
    check_close("op_attention", o3, o2, (int64_t)nq, 1e-5, -1);
    /* one row takes the plain loops (split over threads, or in chunks
     * of keys for long rows): the same arithmetic, the same bits */
    if (c->Tq == 1)
        CHECK(memcmp(o3, o2, nq * sizeof *o3) == 0, "one row of %d keys: "
              "op_attention differs from the reference loops", c->Tk);
    float *dq1 = calloc(nq, 4), *dq2 = calloc(nq, 4);
    float *dk1 = calloc(nk, 4), *dk2 = calloc(nk, 4);
    float *dv1 = calloc(nk, 4), *dv2 = calloc(nk, 4);
    float *db1 = calloc(np, 4), *db2 = calloc(np, 4);
    op_attention_backward(dq1, dk1, dv1, db1, dout, p2, q, k, v, &a);
    op_attention_backward_ref(dq2, dk2, dv2, db2, dout, p2, q, k, v, &a);
    /* only the head columns carry gradients; padding stays as it was */
    check_close("dq", dq1, dq2, (int64_t)nq, 1e-4, -1);
    check_close("dk", dk1, dk2, (int64_t)nk, 1e-4, -1);
    check_close("dv", dv1, dv2, (int64_t)nk, 1e-4, -1);
    check_close("dbias", db1, db2, (int64_t)np, 1e-4, -1);
    free(q), free(k), free(v), free(dout), free(bias), free(mask);
    free(o1), free(o2), free(o3), free(p1), free(p2);
    free(dq1), free(dq2), free(dk1), free(dk2), free(dv1), free(dv2);
    free(db1), free(db2);
}

static void test_self_attention(void) {
    case_def c = {17, 17, 4, 8, 0, 1, 1, 0, 0, 1.0f};
    run_case(&c);
}

static void test_causal_and_strides(void) {
    case_def c = {9, 9, 3, 16, 5, 1, 0, 1, 0, 1.0f};
    run_case(&c);
}

static void test_cross_attention_scaled(void) {
    case_def c = {6, 23, 2, 32, 0, 0, 1, 0, 0, 0.17677669f};
    run_case(&c);
}

/* Decoding: one query at position q0 of a causal cache. */
static void test_one_row(void) {
    case_def c = {1, 12, 4, 8, 0, 1, 0, 1, 11, 1.0f};
    run_case(&c);
}

/* A decoding step of t5-base's shape: heads split over threads. */
static void test_one_row_threads(void) {
    case_def c = {1, 300, 12, 64, 0, 1, 1, 0, 0, 1.0f};
    run_case(&c);
}

/* Rows longer than the stack buffer are done in chunks of keys. */
static void test_one_row_long(void) {
    case_def c = {1, 9000, 2, 8, 3, 1, 1, 1, 8990, 0.5f};
    run_case(&c);
}

int main(void) {
    RUN(test_self_attention);
    RUN(test_causal_and_strides);
    RUN(test_cross_attention_scaled);
    RUN(test_one_row);
    RUN(test_one_row_threads);
    RUN(test_one_row_long);
    return harness_finish();
}

/*
 * test_ops_grad.c - every backward of src/ops/backward.c against central
 * finite differences.
 *
 * Each check draws small random inputs, takes the scalar
 * L = sum_j w_j y_j (w random, so dy = w), and compares the analytic
 * d L / d input with (L(x + h) - L(x - h)) / 2h, L summed in double over
 * float32 forwards.  float32 forwards make the differences noisy, so the
 * bound is |fd - g| <= 1e-2 |g| + 1e-3 max|g|; test_fd_detects_errors
 * shows that a gradient 2% off fails it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops/ops_backward.h"

#define FD_H 1e-3f

static uint64_t seed = 0x5eed;

static float urand(void) { /* uniform [-1, 1) */
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(seed >> 40) / 8388608.0f - 1.0f;
}

static float *rand_vec(size_t n, float scale) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = urand() * scale;
    return x;
}

static float *zeros(size_t n) { return calloc(n, sizeof(float)); }

/* The scalar whose gradient is checked: a forward over the inputs. */
typedef double (*loss_fn)(void *ctx);

/*
 * Compares grad [n] of the loss with respect to x [n] (an input inside
 * ctx) with central differences; returns the worst error as a fraction
 * of the bound, and 1e9 when a value is NaN.
 */
static double fd_worst(loss_fn f, void *ctx, float *x, const float *grad,
                       size_t n) {
    double gmax = 0, worst = 0;
    for (size_t i = 0; i < n; i++)
        gmax = fmax(gmax, fabs(grad[i]));
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + FD_H;
        double lp = f(ctx);
        x[i] = keep - FD_H;
        double lm = f(ctx);
        x[i] = keep;
        /* the step actually taken, after float rounding */
        double h2 = (double)(keep + FD_H) - (double)(keep - FD_H);
        double fd = (lp - lm) / h2;
        double bound = 1e-2 * fabs(grad[i]) + 1e-3 * gmax + 1e-6;
        double r = fabs(fd - grad[i]) / bound;
        worst = isnan(r) ? 1e9 : fmax(worst, r);
    }
    return worst;
}

static void fd_check(const char *what, loss_fn f, void *ctx, float *x,
                     const float *grad, size_t n) {
    double w = fd_worst(f, ctx, x, grad, n);
    CHECK(w <= 1.0, "%s: finite differences disagree (worst %.3g of the "
          "bound)", what, w);
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* ---- linear -------------------------------------------------------- */

typedef struct {
    int M, K, N;
    float *x, *w, *b, *y, *dy;
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    op_linear(c->y, c->x, c->w, c->b, c->M, c->K, c->N);
    return dot(c->y, c->dy, (size_t)c->M * c->N);
}

static void test_linear(void) {
    lin_ctx c = {5, 7, 3, NULL, NULL, NULL, NULL, NULL};
    size_t nx = (size_t)c.M * c.K, nw = (size_t)c.N * c.K;
    c.x = rand_vec(nx, 1);
    c.w = rand_vec(nw, 1);
    c.b = rand_vec(c.N, 1);
    c.y = zeros((size_t)c.M * c.N);
    c.dy = rand_vec((size_t)c.M * c.N, 1);
    float *dx = zeros(nx), *dw = zeros(nw), *db = zeros(c.N);
    op_linear_backward(dx, dw, db, c.dy, c.x, c.w, c.M, c.K, c.N);
    fd_check("linear dx", lin_loss, &c, c.x, dx, nx);
    fd_check("linear dw", lin_loss, &c, c.w, dw, nw);
    fd_check("linear db", lin_loss, &c, c.b, db, c.N);

    /* _acc adds dx to what is there; dw and db always accumulate */
    float *dx2 = rand_vec(nx, 1), *dw2 = zeros(nw), *db2 = zeros(c.N);
    float *base = malloc(nx * sizeof *base);
    memcpy(base, dx2, nx * sizeof *base);
    op_linear_backward_acc(dx2, dw2, db2, c.dy, c.x, c.w, c.M, c.K, c.N);
    op_linear_backward_acc(dx2, dw2, db2, c.dy, c.x, c.w, c.M, c.K, c.N);
    for (size_t i = 0; i < nx; i++)
        dx2[i] = (dx2[i] - base[i]) * 0.5f;
    for (size_t i = 0; i < nw; i++)
        dw2[i] *= 0.5f;
    fd_check("linear_acc dx", lin_loss, &c, c.x, dx2, nx);
    fd_check("linear_acc dw (twice, halved)", lin_loss, &c, c.w, dw2, nw);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.dy);
    free(dx), free(dw), free(db), free(dx2), free(dw2), free(db2);
    free(base);
}

/* ---- norms --------------------------------------------------------- */

typedef struct {
    int M, D, rms;
    float *x, *w, *b, *y, *dy;
} norm_ctx;

static double norm_loss(void *p) {
    norm_ctx *c = p;
    if (c->rms)
        op_rmsnorm(c->y, c->x, c->w, c->M, c->D, 1e-6f);
    else
        op_layernorm(c->y, c->x, c->w, c->b, c->M, c->D, 1e-12f);
    return dot(c->y, c->dy, (size_t)c->M * c->D);
}

static void norm_case(int rms) {
    norm_ctx c = {4, 9, rms, NULL, NULL, NULL, NULL, NULL};
    size_t n = (size_t)c.M * c.D;
    c.x = rand_vec(n, 2);
    c.w = rand_vec(c.D, 1);
    c.b = rand_vec(c.D, 1);
    c.y = zeros(n);
    c.dy = rand_vec(n, 1);
    float *dx = zeros(n), *dw = zeros(c.D), *db = zeros(c.D);
    if (rms)
        op_rmsnorm_backward(dx, dw, c.dy, c.x, c.w, c.M, c.D, 1e-6f);
    else
        op_layernorm_backward(dx, dw, db, c.dy, c.x, c.w, c.M, c.D, 1e-12f);
    fd_check(rms ? "rmsnorm dx" : "layernorm dx", norm_loss, &c, c.x, dx, n);
    fd_check(rms ? "rmsnorm dw" : "layernorm dw", norm_loss, &c, c.w, dw,
             c.D);
    if (!rms)
        fd_check("layernorm db", norm_loss, &c, c.b, db, c.D);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.dy);
    free(dx), free(dw), free(db);
}

static void test_rmsnorm(void) { norm_case(1); }
static void test_layernorm(void) { norm_case(0); }

/* ---- activations --------------------------------------------------- */

typedef struct {
    size_t n;
    t5e_activation act;
    float *x, *y, *dy;
} act_ctx;

static double act_loss(void *p) {
    act_ctx *c = p;
    memcpy(c->y, c->x, c->n * sizeof *c->y);
    op_activate(c->y, c->n, c->act);
    return dot(c->y, c->dy, c->n);
}

static void test_activations(void) {
    static const char *const names[] = {"relu", "gelu", "gelu_new",
        "gelu_fast", "quick_gelu", "silu", "tanh", "sigmoid", "linear"};
    act_ctx c = {64, T5E_ACT_RELU, NULL, NULL, NULL};
    c.x = rand_vec(c.n, 4);
    for (size_t i = 0; i < c.n; i++) /* keep off ReLU's kink */
        if (fabsf(c.x[i]) < 0.05f)
            c.x[i] += 0.1f;
    c.y = zeros(c.n);
    c.dy = rand_vec(c.n, 1);
    float *dx = zeros(c.n);
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        CHECK(op_activation_from_name(names[k], &c.act), "%s", names[k]);
        op_activate_backward(dx, c.dy, c.x, c.n, c.act);
        char what[64];
        snprintf(what, sizeof what, "activation %s", names[k]);
        fd_check(what, act_loss, &c, c.x, dx, c.n);
        /* the single-value derivative agrees with the vector one */
        for (size_t i = 0; i < c.n; i++)
            CHECK(dx[i] == c.dy[i] * op_activate_grad1(c.x[i], c.act),
                  "%s grad1 at %zu", names[k], i);
    }
    free(c.x), free(c.y), free(c.dy), free(dx);
}

/* ---- attention ----------------------------------------------------- */

typedef struct {
    attn_shape a;
    float *q, *k, *v, *bias, *out, *dout, *pbuf;
    size_t nq, nkv, no;
} att_ctx;

/* With dropout, the training forward (op_attention never drops). */
static double att_loss(void *p) {
    att_ctx *c = p;
    if (c->a.drop_p > 0.0f)
        op_attention_probs(c->out, c->pbuf, c->q, c->k, c->v, &c->a);
    else
        op_attention(c->out, c->q, c->k, c->v, &c->a);
    return dot(c->out, c->dout, c->no);
}

/* One configuration: Tq queries over Tk keys, H heads of dk; drop > 0
 * adds dropout on the probabilities (and checks the plain-loop backward
 * against the blocked one). */
static void att_case_drop(const char *what, int Tq, int Tk, int causal,
                          int with_mask, int with_bias, float scale,
                          float drop) {
    att_ctx c;
    memset(&c, 0, sizeof c);
    int H = 2, dk = 4, wide = H * dk + 3; /* strides wider than H*dk */
    c.a.Tq = Tq, c.a.Tk = Tk, c.a.H = H, c.a.dk = dk;
    c.a.q_stride = wide, c.a.kv_stride = wide + 1, c.a.o_stride = wide;
    c.a.scale = scale;
    c.a.causal = causal;
    c.a.q_pos0 = causal ? Tk - Tq : 0;
    int32_t key_mask[16];
    for (int j = 0; j < Tk; j++)
        key_mask[j] = j != 1; /* key 1 is padding */
    c.a.key_mask = with_mask ? key_mask : NULL;
    c.nq = (size_t)Tq * wide, c.nkv = (size_t)Tk * (wide + 1), c.no = c.nq;
    c.q = rand_vec(c.nq, 1), c.k = rand_vec(c.nkv, 1);
    c.v = rand_vec(c.nkv, 1);
    size_t nb = (size_t)H * Tq * Tk;
    if (with_bias) {
        c.bias = rand_vec(nb, 1);
        c.a.bias = c.bias, c.a.bias_h = (long)Tq * Tk, c.a.bias_q = Tk;
    }
    c.out = zeros(c.no), c.dout = rand_vec(c.no, 1);
    float *p = zeros(nb), *out2 = zeros(c.no);
    float *dq = zeros(c.nq), *dk_ = zeros(c.nkv), *dv = zeros(c.nkv);
    float *dbias = with_bias ? zeros(nb) : NULL;
    if (drop > 0.0f) {
        c.a.drop_p = drop, c.a.drop_key = 77, c.a.drop_first = 11;
        c.a.drop_buf = zeros(nb);
        c.pbuf = zeros(nb);
    }

    op_attention_probs(out2, p, c.q, c.k, c.v, &c.a);
    att_loss(&c);
    for (int i = 0; i < Tq; i++)
        for (int d = 0; d < H * dk; d++)
            CHECK(fabsf(out2[i * wide + d] - c.out[i * wide + d]) < 1e-5f,
                  "%s: probs forward differs at %d,%d", what, i, d);
    op_attention_backward(dq, dk_, dv, dbias, c.dout, p, c.q, c.k, c.v,
                          &c.a);
    if (drop > 0.0f) { /* the plain loops, used when scratch runs out */
        float *rq = zeros(c.nq), *rk = zeros(c.nkv), *rv = zeros(c.nkv);
        float *rb = with_bias ? zeros(nb) : NULL;
        op_attention_backward_ref(rq, rk, rv, rb, c.dout, p, c.q, c.k, c.v,
                                  &c.a);
        double worst = 0;
        for (size_t i = 0; i < c.nq; i++)
            worst = fmax(worst, fabs(rq[i] - dq[i]));
        for (size_t i = 0; i < c.nkv; i++)
            worst = fmax(worst, fmax(fabs(rk[i] - dk_[i]),
                                     fabs(rv[i] - dv[i])));
        CHECK(worst < 1e-5, "%s: plain backward differs by %g", what,
              worst);
        free(rq), free(rk), free(rv), free(rb);
    }
    char w[128];
    snprintf(w, sizeof w, "%s dq", what);
    fd_check(w, att_loss, &c, c.q, dq, c.nq);
    snprintf(w, sizeof w, "%s dk", what);
    fd_check(w, att_loss, &c, c.k, dk_, c.nkv);
    snprintf(w, sizeof w, "%s dv", what);
    fd_check(w, att_loss, &c, c.v, dv, c.nkv);
    if (with_bias) {
        snprintf(w, sizeof w, "%s dbias", what);
        fd_check(w, att_loss, &c, c.bias, dbias, nb);
    }
    free(c.q), free(c.k), free(c.v), free(c.bias), free(c.out);
    free(c.dout), free(p), free(out2), free(dq), free(dk_), free(dv);
    free(dbias), free(c.a.drop_buf), free(c.pbuf);
}

static void att_case(const char *what, int Tq, int Tk, int causal,
                     int with_mask, int with_bias, float scale) {
    att_case_drop(what, Tq, Tk, causal, with_mask, with_bias, scale, 0.0f);
}

static void test_attention(void) {
    att_case("attention plain", 4, 4, 0, 0, 0, 1.0f);
    att_case("attention scaled + key mask", 4, 5, 0, 1, 0, 0.5f);
    att_case("attention bias (T5)", 3, 5, 0, 1, 1, 1.0f);
    att_case("attention causal + bias", 5, 5, 1, 0, 1, 1.0f);
    att_case("attention causal, offset queries", 2, 6, 1, 1, 0, 0.35f);
    att_case_drop("attention dropout 0.3, bias", 3, 5, 0, 1, 1, 1.0f, 0.3f);
    att_case_drop("attention dropout 0.5, causal", 5, 5, 1, 0, 1, 1.0f,
                  0.5f);
}

/* ---- cross-entropy ------------------------------------------------- */

typedef struct {
    int M, V;
    float smoothing, scale;
    float *logits, *work;
    int32_t *labels;
} ce_ctx;

static double ce_loss(void *p) {
    ce_ctx *c = p;
    int n;
    return c->scale * op_cross_entropy(c->work, c->logits, c->labels, c->M,
                                       c->V, -100, c->smoothing, c->scale,
                                       &n);
}

static void test_cross_entropy(void) {
    int32_t labels[5] = {3, -100, 0, 6, 2};
    ce_ctx c = {5, 7, 0.0f, 1.0f, NULL, NULL, labels};
    size_t n = (size_t)c.M * c.V;
    c.logits = rand_vec(n, 3);
    c.work = zeros(n);
    float *d = zeros(n);
    const float smooth[] = {0.0f, 0.1f, 0.3f};
    for (int k = 0; k < 3; k++) {
        int cnt;
        c.smoothing = smooth[k];
        c.scale = k == 2 ? 2.5f : 1.0f;
        op_cross_entropy(d, c.logits, labels, c.M, c.V, -100, c.smoothing,
                         c.scale, &cnt);
        CHECK(cnt == 4, "counted %d rows, want 4", cnt);
        char w[64];
        snprintf(w, sizeof w, "cross-entropy smoothing %.1f scale %.1f",
                 c.smoothing, c.scale);
        fd_check(w, ce_loss, &c, c.logits, d, n);
        for (int j = 0; j < c.V; j++) /* the ignored row has no gradient */
            CHECK(d[c.V + j] == 0.0f, "ignored row gradient at %d", j);
    }
    free(c.logits), free(c.work), free(d);
}

/* The checker must reject a gradient that is slightly wrong. */
static void test_fd_detects_errors(void) {
    lin_ctx c = {5, 7, 3, NULL, NULL, NULL, NULL, NULL};
    size_t nx = (size_t)c.M * c.K, nw = (size_t)c.N * c.K;
    c.x = rand_vec(nx, 1), c.w = rand_vec(nw, 1), c.b = rand_vec(c.N, 1);
    c.y = zeros((size_t)c.M * c.N), c.dy = rand_vec((size_t)c.M * c.N, 1);
    float *dx = zeros(nx), *dw = zeros(nw);
    op_linear_backward(dx, dw, NULL, c.dy, c.x, c.w, c.M, c.K, c.N);
    CHECK(fd_worst(lin_loss, &c, c.x, dx, nx) <= 1.0, "exact gradient");
    for (size_t i = 0; i < nx; i++)
        dx[i] *= 1.02f;
    CHECK(fd_worst(lin_loss, &c, c.x, dx, nx) > 1.0,
          "a gradient 2%% too large passed");
    for (size_t i = 0; i < nx; i++)
        dx[i] /= 1.02f;
    dx[3] += 0.05f; /* one wrong element */
    CHECK(fd_worst(lin_loss, &c, c.x, dx, nx) > 1.0,
          "a gradient with one wrong element passed");
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.dy);
    free(dx), free(dw);
}

/*
 * op_activate (vector lanes through libmvec, threads over long arrays)
 * against op_activate1 (libm) element by element: libmvec is within 4
 * ulp, so 1e-6 of |y| + |x|: the GELUs' 1 + erf(x) and 1 + tanh(x)
 * cancel for negative x, leaving both results x times a few ulp of 1.
 */
static void test_activate_vector(void) {
    const t5e_activation acts[] = {
        T5E_ACT_RELU, T5E_ACT_GELU, T5E_ACT_GELU_NEW, T5E_ACT_GELU_FAST,
        T5E_ACT_QUICK_GELU, T5E_ACT_SILU, T5E_ACT_TANH, T5E_ACT_SIGMOID,
        T5E_ACT_LINEAR};
    const size_t sizes[] = {1, 15, 17, 33, 40000, 600000}; /* 600000: threads */
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k], bad = 0;
            float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            for (size_t i = 0; i < n; i++) /* -12 .. 12, and 0 */
                x[i] = y[i] = i == 3 ? 0.0f : (float)((i * 7919) % 24001) /
                                                  1000.0f - 12.0f;
            op_activate(y, n, acts[a]);
            for (size_t i = 0; i < n; i++) {
                float want = op_activate1(x[i], acts[a]);
                bad += !(fabsf(y[i] - want) <=
                         1e-6f * (fabsf(want) + fabsf(x[i])) + 1e-7f);
            }
            CHECK(bad == 0, "activation %d, n %zu: %zu values differ",
                  (int)acts[a], n, bad);
            free(x), free(y);
        }
}

/* Dropout: the share dropped is p, kept values are x / (1 - p) exactly,
 * the mask depends on (key, position) only (a tensor done in two pieces
 * equals it done whole; in place equals a copy), other keys give other
 * masks, and p = 0 copies. */
static void test_dropout(void) {
    enum { N = 1 << 20 };
    float *x = rand_vec(N, 1.0f), *y = zeros(N), *z = zeros(N);
    static const float ps[] = {0.1f, 0.5f};
    for (int c = 0; c < 2; c++) {
        float p = ps[c];
        op_dropout(y, x, N, 0, p, 42);
        long dropped = 0, wrong = 0;
        for (long i = 0; i < N; i++) {
            if (y[i] == 0.0f && x[i] != 0.0f)
                dropped++;
            else if (y[i] != x[i] * (1.0f / (1.0f - p)))
                wrong++;
        }
        double share = (double)dropped / N;
        /* binomial sd is under 0.0005 at N = 2^20 */
        CHECK(fabs(share - p) < 0.003, "p %.1f: %.4f dropped", (double)p,
              share);
        CHECK(wrong == 0, "p %.1f: %ld kept values not x / (1 - p)",
              (double)p, wrong);
        op_dropout(z, x, 1000, 0, p, 42);
        op_dropout(z + 1000, x + 1000, N - 1000, 1000, p, 42);
        CHECK(!memcmp(y, z, N * sizeof *y), "p %.1f: pieces differ",
              (double)p);
        memcpy(z, x, N * sizeof *z);
        op_dropout(z, z, N, 0, p, 42);
        CHECK(!memcmp(y, z, N * sizeof *y), "p %.1f: in place differs",
              (double)p);
        op_dropout(z, x, N, 0, p, op_dropout_site(42, 1));
        long both = 0;
        for (long i = 0; i < N; i++)
            both += y[i] == 0.0f && z[i] == 0.0f;
        /* independent masks drop both with probability p^2 */
        CHECK(fabs((double)both / N - (double)p * p) < 0.003,
              "p %.1f: masks of two keys overlap %.4f", (double)p,
              (double)both / N);
    }
    op_dropout(y, x, N, 7, 0.0f, 42);
    CHECK(!memcmp(x, y, N * sizeof *y), "p 0 is not a copy");
    free(x), free(y), free(z);
}

int main(void) {
    RUN(test_activate_vector);
    RUN(test_linear);
    RUN(test_rmsnorm);
    RUN(test_layernorm);
    RUN(test_activations);
    RUN(test_attention);
    RUN(test_cross_entropy);
    RUN(test_fd_detects_errors);
    RUN(test_dropout);
    return harness_finish();
}

/*
 * test_optim.c - the optimizers and schedules against the update rules
 * they claim, recomputed here in double from their definitions:
 * PyTorch's AdamW, the original ELECTRA AdamWeightDecayOptimizer, and
 * the reference's Adafactor (relative_step off, scale_parameter off and
 * on), over three steps of a matrix (factored), a vector and a no-decay
 * vector; then the learning-rate schedules at chosen steps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "train/optim.h"

enum { R = 2, C = 3, NV = 4, STEPS = 3 };

/* A matrix [R, C], a vector [NV] and a no-decay vector [NV]. */
typedef struct {
    double w[3][R * C];
} ref_params;

static const int numel[3] = {R * C, NV, NV};

static void make_params(param_set *ps) {
    t5e_err err = {0};
    memset(ps, 0, sizeof *ps);
    param_add(ps, "m.weight", 2, R, C, 0);
    param_add(ps, "v.weight", 1, NV, 0, 0);
    param_add(ps, "v.bias", 1, NV, 0, 1);
    CHECK_OK(param_alloc(ps, &err), &err);
}

static double init_value(int p, int k) {
    /* spread magnitudes so the parameter scales differ */
    return (p == 0 ? 0.5 : p == 1 ? 2.0 : 0.01) * sin(1.3 * k + p + 0.4);
}

static double grad_value(int step, int p, int k) {
    return cos(0.7 * k + 1.9 * p + 2.3 * step) * (1 + step) *
           (k == 0 ? 5.0 : 1.0);
}

static void set_grads(param_set *ps, int step) {
    for (int p = 0; p < 3; p++)
        for (int k = 0; k < numel[p]; k++)
            param_grad(ps, p)[k] = (float)grad_value(step, p, k);
}

/* Runs the optimizer STEPS times at learning rate lr; the largest
 * relative difference from ref. */
static double run_and_compare(const optim_config *oc, float lr,
                              const ref_params *ref) {
    param_set ps;
    make_params(&ps);
    for (int p = 0; p < 3; p++)
        for (int k = 0; k < numel[p]; k++)
            param_data(&ps, p)[k] = (float)init_value(p, k);
    optimizer o;
    t5e_err err = {0};
    CHECK_OK(optim_init(&o, oc, &ps, &err), &err);
    for (int t = 0; t < STEPS; t++) {
        set_grads(&ps, t);
        optim_step(&o, lr);
    }
    double worst = 0;
    for (int p = 0; p < 3; p++)
        for (int k = 0; k < numel[p]; k++) {
            double want = ref->w[p][k], got = param_data(&ps, p)[k];
            double moved = fabs(want - init_value(p, k));
            /* relative to how far the value moved (a step is about
             * lr / 3 or more, so 1e-3 is below any step and above the
             * float32 rounding of a value near 2) */
            worst = fmax(worst, fabs(got - want) / fmax(moved, 1e-3));
        }
    optim_free(&o);
    param_free(&ps);
    return worst;
}

/* ------------------------------------------------------------------ */
/* Adam                                                                */
/* ------------------------------------------------------------------ */

static void adam_reference(int electra, double lr, double wd, double eps,
                           ref_params *out) {
    const double b1 = 0.9, b2 = 0.999;
    for (int p = 0; p < 3; p++) {
        double m[R * C] = {0}, v[R * C] = {0};
        double decay = p == 2 ? 0 : wd;
        for (int k = 0; k < numel[p]; k++)
            out->w[p][k] = init_value(p, k);
        for (int t = 0; t < STEPS; t++)
            for (int k = 0; k < numel[p]; k++) {
                double g = grad_value(t, p, k), *w = &out->w[p][k];
                m[k] = b1 * m[k] + (1 - b1) * g;
                v[k] = b2 * v[k] + (1 - b2) * g * g;
                if (electra) {
                    /* AdamWeightDecayOptimizer: no bias correction,
                     * decay added to the update */
                    *w -= lr * (m[k] / (sqrt(v[k]) + eps) + decay * *w);
                } else {
                    /* torch.optim.AdamW: decay first, then the
                     * bias-corrected step */
                    double mh = m[k] / (1 - pow(b1, t + 1));
                    double vh = v[k] / (1 - pow(b2, t + 1));
                    *w *= 1 - lr * decay;
                    *w -= lr * mh / (sqrt(vh) + eps);
                }
            }
    }
}

static void test_adamw(void) {
    optim_config oc;
    optim_config_default(&oc, OPTIM_ADAMW);
    oc.weight_decay = 0.1f;
    ref_params ref;
    adam_reference(0, 0.01, 0.1, 1e-8, &ref);
    double e = run_and_compare(&oc, 0.01f, &ref);
    CHECK(e < 1e-3, "AdamW differs from torch's rule by %g of the step", e);
}

static void test_adamw_electra(void) {
    optim_config oc;
    optim_config_default(&oc, OPTIM_ADAMW_ELECTRA);
    CHECK(fabsf(oc.eps - 1e-6f) < 1e-12f && fabsf(oc.weight_decay - 0.01f)
          < 1e-9f, "ELECTRA defaults: eps %g, decay %g", oc.eps,
          oc.weight_decay);
    oc.weight_decay = 0.1f;
    ref_params ref;
    adam_reference(1, 0.01, 0.1, 1e-6, &ref);
    double e = run_and_compare(&oc, 0.01f, &ref);
    CHECK(e < 1e-3, "ELECTRA Adam differs from its rule by %g of the step",
          e);
    /* and the two forms really differ: bias correction matters early */
    adam_reference(0, 0.01, 0.1, 1e-6, &ref);
    e = run_and_compare(&oc, 0.01f, &ref);
    CHECK(e > 0.1, "ELECTRA Adam equals AdamW (%g)", e);
}

/* ------------------------------------------------------------------ */
/* Adafactor                                                           */
/* ------------------------------------------------------------------ */

static double rms(const double *x, int n) {
    double s = 0;
    for (int k = 0; k < n; k++)
        s += x[k] * x[k];
    return sqrt(s / n);
}

/* The reference's Adafactor step rule for parameter p over STEPS steps. */
static void adafactor_reference_param(int p, double lr, double wd,
                                      int scale_parameter, double *w) {
    const double eps1 = 1e-30, eps2 = 1e-3;
    double row[R] = {0}, col[C] = {0}, v[NV] = {0};
    for (int k = 0; k < numel[p]; k++)
        w[k] = init_value(p, k);
    for (int t = 0; t < STEPS; t++) {
        double beta2t = 1 - pow(t + 1, -0.8), u[R * C];
        if (p == 0) {
            for (int r = 0; r < R; r++) {
                double s = 0;
                for (int c = 0; c < C; c++)
                    s += pow(grad_value(t, p, r * C + c), 2) + eps1;
                row[r] = beta2t * row[r] + (1 - beta2t) * s / C;
            }
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int r = 0; r < R; r++)
                    s += pow(grad_value(t, p, r * C + c), 2) + eps1;
                col[c] = beta2t * col[c] + (1 - beta2t) * s / R;
            }
            double mean = (row[0] + row[1]) / R;
            for (int r = 0; r < R; r++)
                for (int c = 0; c < C; c++)
                    u[r * C + c] = grad_value(t, p, r * C + c) /
                                   sqrt(row[r] / mean) / sqrt(col[c]);
        } else {
            for (int k = 0; k < NV; k++) {
                double g = grad_value(t, p, k);
                v[k] = beta2t * v[k] + (1 - beta2t) * (g * g + eps1);
                u[k] = g / sqrt(v[k]);
            }
        }
        double clip = fmax(1.0, rms(u, numel[p]) / 1.0);
        double step_lr = lr * (scale_parameter ? fmax(eps2, rms(w, numel[p]))
                                               : 1.0);
        double decay = p == 2 ? 0 : wd;
        for (int k = 0; k < numel[p]; k++) {
            w[k] -= decay * step_lr * w[k];
            w[k] -= step_lr * u[k] / clip;
        }
    }
}

static void adafactor_case(int scale_parameter, double wd) {
    optim_config oc;
    optim_config_default(&oc, OPTIM_ADAFACTOR);
    oc.weight_decay = (float)wd;
    oc.scale_parameter = scale_parameter;
    ref_params ref;
    for (int p = 0; p < 3; p++)
        adafactor_reference_param(p, 0.01, wd, scale_parameter, ref.w[p]);
    double e = run_and_compare(&oc, 0.01f, &ref);
    CHECK(e < 1e-3, "Adafactor (scale_parameter %d, decay %g) differs from "
          "the rule by %g of the step", scale_parameter, wd, e);
}

static void test_adafactor(void) {
    adafactor_case(0, 0.0);
    adafactor_case(0, 0.1);
}

/* T5's pretraining form: each step scaled by the parameter's RMS (the
 * three parameters have RMS about 0.35, 1.4 and 0.007, the last below
 * eps2 = 1e-3 only if tiny: it checks the floor is a max, not a min). */
static void test_adafactor_scale_parameter(void) {
    adafactor_case(1, 0.0);
    adafactor_case(1, 0.1);
    /* the scaled and unscaled rules must differ on these parameters */
    optim_config oc;
    optim_config_default(&oc, OPTIM_ADAFACTOR);
    ref_params ref;
    for (int p = 0; p < 3; p++)
        adafactor_reference_param(p, 0.01, 0, 0, ref.w[p]);
    oc.scale_parameter = 1;
    double e = run_and_compare(&oc, 0.01f, &ref);
    CHECK(e > 0.1, "scale_parameter changed nothing (%g)", e);
}

/* ------------------------------------------------------------------ */
/* Schedules                                                           */
/* ------------------------------------------------------------------ */

static void check_lr(sched_kind kind, long warmup, long total, long t,
                     double want) {
    schedule s = {kind, 0.01f, warmup, total};
    double got = schedule_lr(&s, t);
    CHECK(fabs(got - want) <= 1e-6 * fabs(want) + 1e-12,
          "schedule %d, warmup %ld, total %ld, step %ld: %g, want %g",
          (int)kind, warmup, total, t, got, want);
}

static void test_schedules(void) {
    check_lr(SCHED_CONSTANT, 0, 100, 50, 0.01);
    check_lr(SCHED_CONSTANT, 10, 100, 5, 0.005);
    check_lr(SCHED_LINEAR, 10, 110, 5, 0.005);
    check_lr(SCHED_LINEAR, 10, 110, 60, 0.005);
    check_lr(SCHED_LINEAR, 10, 110, 110, 0.0);
    /* ELECTRA: polynomial decay over all steps times the warmup ramp */
    check_lr(SCHED_ELECTRA, 10, 100, 5, 0.01 * 0.95 * 0.5);
    check_lr(SCHED_ELECTRA, 10, 100, 50, 0.005);
    /* T5: constant for the first `warmup` steps, then 1 / sqrt(t) */
    check_lr(SCHED_INV_SQRT, 10000, 100000, 5, 0.01);
    check_lr(SCHED_INV_SQRT, 10000, 100000, 40000, 0.005);
}

int main(void) {
    RUN(test_adamw);
    RUN(test_adamw_electra);
    RUN(test_adafactor);
    RUN(test_adafactor_scale_parameter);
    RUN(test_schedules);
    return harness_finish();
}

/* progress.c - see progress.h. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "train/progress.h"

t5e_status progress_open(progress *p, const char *log_path,
                         long total_steps, long first_step, t5e_err *err) {
    memset(p, 0, sizeof *p);
    p->total_steps = total_steps;
    p->first_step = first_step;
    p->t0 = time_now();
    p->live = isatty(2);
    if (log_path && !(p->log = fopen(log_path, "a")))
        return err_set(err, T5E_ERR_IO, "%s: cannot open: %s", log_path,
                       strerror(errno));
    return T5E_OK;
}

void progress_close(progress *p) {
    if (p->live)
        fputc('\n', stderr);
    if (p->log)
        fclose(p->log);
    p->log = NULL;
}

static void format_duration(char *buf, size_t n, double s) {
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s >= 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
}

static void write_json(FILE *f, long step, const char *event, double t,
                       int n, const char *const *keys, const double *vals) {
    fprintf(f, "{\"step\": %ld, \"time\": %.3f", step, t);
    if (event)
        fprintf(f, ", \"event\": \"%s\"", event);
    for (int i = 0; i < n; i++) {
        if (isfinite(vals[i]))
            fprintf(f, ", \"%s\": %.6g", keys[i], vals[i]);
        else
            fprintf(f, ", \"%s\": null", keys[i]);
    }
    fputs("}\n", f);
    fflush(f);
}

void progress_step(progress *p, long step, double tokens, int n,
                   const char *const *keys, const double *vals, int log_it) {
    p->tokens += tokens;
    double t = time_now() - p->t0, done = (double)(step - p->first_step);
    double rate = t > 0 ? p->tokens / t : 0;
    double left = done > 0 ? t / done * (double)(p->total_steps - step) : NAN;
    if (p->max_time > 0 && !(left < p->max_time - t)) /* time budget */
        left = p->max_time - t;
    char eta[32];
    format_duration(eta, sizeof eta, left);
    if (p->live || log_it) {
        fprintf(stderr, "%sstep %ld/%ld", p->live ? "\r\033[K" : "", step,
                p->total_steps);
        for (int i = 0; i < n; i++)
            fprintf(stderr, " %s %.4g", keys[i], vals[i]);
        fprintf(stderr, " | %.0f tok/s | %s left%s", rate, eta,
                p->live ? "" : "\n");
        fflush(stderr);
    }
    if (log_it && p->log) {
        const char *k2[64];
        double v2[64];
        int m = n < 62 ? n : 62;
        memcpy(k2, keys, (size_t)m * sizeof *keys);
        memcpy(v2, vals, (size_t)m * sizeof *vals);
        k2[m] = "tokens_per_s", v2[m] = rate;
        write_json(p->log, step, NULL, t, m + 1, k2, v2);
    }
}

void progress_event(progress *p, long step, const char *event, int n,
                    const char *const *keys, const double *vals) {
    if (p->log)
        write_json(p->log, step, event, time_now() - p->t0, n, keys, vals);
    if (p->live)
        fputc('\n', stderr);
    fprintf(stderr, "step %ld %s:", step, event);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %s %.4f", keys[i], vals[i]);
    fputc('\n', stderr);
}

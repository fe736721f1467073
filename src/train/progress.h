/*
 * progress.h - what a training run shows and records: one live line on
 * stderr (step, metrics, tokens/s, time left) and the same facts appended
 * to a JSON-lines log, one object per logged step.
 */
#ifndef T5E_PROGRESS_H
#define T5E_PROGRESS_H

#include <stdio.h>

#include "core/core.h"

typedef struct {
    FILE *log;          /* metrics.jsonl, appended */
    long total_steps;
    long first_step;    /* where this run started (resume) */
    double t0;          /* when it started */
    double tokens;      /* tokens processed by this run */
    int live;           /* stderr is a terminal: redraw one line */
    double max_time;    /* seconds this run may take (0: no limit) */
} progress;

t5e_status progress_open(progress *p, const char *log_path,
                         long total_steps, long first_step, t5e_err *err);
void progress_close(progress *p);

/*
 * Reports step `step` (1-based, done) after `tokens` more tokens, with n
 * named values.  Prints the live line; appends a JSON line when log_it.
 */
void progress_step(progress *p, long step, double tokens, int n,
                   const char *const *keys, const double *vals, int log_it);

/* Appends one JSON line {"step": step, "event": event, keys...}. */
void progress_event(progress *p, long step, const char *event, int n,
                    const char *const *keys, const double *vals);

#endif

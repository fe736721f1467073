/*
 * plot.h - line charts as SVG, written by hand: one polyline per series,
 * axes with round tick values, grid, legend and title.  Used by
 * `t5e plot` to draw training logs.
 */
#ifndef T5E_PLOT_H
#define T5E_PLOT_H

#include <stddef.h>

#include "core/core.h"

/* One line of the chart.  A NAN y (or, with log_y, a y <= 0) is a gap:
 * the line stops there and goes on at the next point. */
typedef struct {
    const char *label;   /* legend text */
    const double *x, *y; /* (n) */
    int n;
} plot_series;

typedef struct {
    const char *title;   /* NULL: none */
    const char *x_label; /* under the x axis; NULL: none */
    const char *y_label; /* beside the y axis; NULL: none */
    int log_y;           /* logarithmic y axis */
    const plot_series *series;
    int n_series;
} plot_chart;

/*
 * Round tick values in [lo, hi]: the step is the smallest of 1, 2, 5
 * times a power of ten that gives at most `target` intervals over
 * hi - lo.  Writes at most `max` ticks, returns their count; *step gets
 * the step.  lo < hi, target >= 1.
 */
int plot_ticks_nice(double lo, double hi, int target, double *ticks,
                    int max, double *step);

/*
 * Renders the chart into a malloc'd NUL-terminated SVG document (*svg,
 * *len bytes).  T5E_ERR_ARG when no series has a point that can be
 * drawn.
 */
t5e_status plot_render_svg(const plot_chart *chart, char **svg, size_t *len,
                           t5e_err *err);

#endif

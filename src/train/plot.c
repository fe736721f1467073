/*
 * plot.c - SVG line charts (see plot.h).
 *
 * Layout: a fixed-size plot area, the y tick labels and axis name to its
 * left, the x ones below, the title above and the legend in a column to
 * its right, so that no text can overlap a line.  Text widths are
 * estimated (CHAR_W per character) since SVG gives no metrics up front.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/plot.h"

#define AREA_W 560.0   /* plot area, pixels */
#define AREA_H 340.0
#define CHAR_W 7.0     /* a 12 px sans-serif character, on average */
#define TITLE_CHAR_W 9.5 /* the same for the 16 px bold title */
#define LEGEND_ROW 18.0
#define MAX_TICKS 64
#define MARKER_MAX 40  /* series with at most this many points get dots */

static const char *const palette[] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define N_COLORS (int)(sizeof palette / sizeof palette[0])

/* ------------------------------------------------------------------ */
/* A growing string                                                    */
/* ------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;  /* an allocation failed: everything after is dropped */
} sbuf;

static void sb_grow(sbuf *b, size_t need) {
    if (b->oom || b->len + need < b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (b->len + need >= cap)
        cap *= 2;
    char *g = realloc(b->buf, cap);
    if (!g) {
        b->oom = 1;
        return;
    }
    b->buf = g;
    b->cap = cap;
}

static void sb_printf(sbuf *b, const char *fmt, ...) T5E_PRINTF(2, 3);

static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sb_grow(b, (size_t)n + 1);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends s with the XML special characters escaped. */
static void sb_text(sbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_printf(b, "&amp;"); break;
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default: sb_printf(b, "%c", *s);
        }
    }
}

/* Characters (UTF-8 code points) in s, for width estimates. */
static int text_chars(const char *s) {
    int n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* ------------------------------------------------------------------ */
/* Axes                                                                */
/* ------------------------------------------------------------------ */

int plot_ticks_nice(double lo, double hi, int target, double *ticks,
                    int max, double *step) {
    static const double mult[] = {1, 2, 5, 10};
    double mag = pow(10.0, floor(log10((hi - lo) / target)));
    double s = 10.0 * mag;
    for (int i = 0; i < 4; i++) {
        if ((hi - lo) / (mult[i] * mag) <= target * (1 + 1e-9)) {
            s = mult[i] * mag;
            break;
        }
    }
    *step = s;
    int n = 0;
    /* + 0.0 turns a -0 (ceil of a small negative) into 0 */
    for (double k = ceil(lo / s - 1e-9); k * s <= hi + s * 1e-9 && n < max;
         k++)
        ticks[n++] = k * s + 0.0;
    return n;
}

/* One axis: its domain (in log10 units when log) mapped onto pixels
 * p0..p1, and the tick values (data units) to label. */
typedef struct {
    double lo, hi, p0, p1, step;
    int log, n_ticks;
    double ticks[MAX_TICKS];
} axis;

/* A linear axis over [lo, hi] widened to whole steps, so the frame
 * starts and ends on a labelled tick. */
static void axis_linear(axis *a, double lo, double hi) {
    if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) {
        double pad = lo != 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    }
    plot_ticks_nice(lo, hi, 6, a->ticks, MAX_TICKS, &a->step);
    double k0 = floor(lo / a->step + 1e-9), k1 = ceil(hi / a->step - 1e-9);
    a->log = 0;
    a->lo = k0 * a->step;
    a->hi = k1 * a->step;
    a->n_ticks = 0;
    for (double k = k0; k <= k1 && a->n_ticks < MAX_TICKS; k++)
        a->ticks[a->n_ticks++] = k * a->step + 0.0;
}

/* A log10 axis over whole decades; 2x and 5x ticks too when it spans
 * at most two decades, fewer decade ticks when it spans many. */
static void axis_log(axis *a, double lo, double hi) {
    a->log = 1;
    a->step = 1;
    a->lo = floor(log10(lo));
    a->hi = ceil(log10(hi));
    if (a->hi <= a->lo)
        a->hi = a->lo + 1;
    int decades = (int)(a->hi - a->lo);
    int stride = decades > 8 ? (decades + 7) / 8 : 1;
    a->n_ticks = 0;
    for (int d = (int)a->lo; d <= (int)a->hi; d += stride) {
        a->ticks[a->n_ticks++] = pow(10.0, d);
        if (decades <= 2 && d < (int)a->hi) {
            a->ticks[a->n_ticks++] = 2 * pow(10.0, d);
            a->ticks[a->n_ticks++] = 5 * pow(10.0, d);
        }
    }
}

static double axis_map(const axis *a, double v) {
    if (a->log)
        v = log10(v);
    return a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
}

/* A tick label with as many decimals as the step needs. */
static void tick_label(const axis *a, double v, char *buf, size_t n) {
    if (a->log || fabs(v) >= 1e6 || a->step < 1e-5) {
        snprintf(buf, n, "%g", v);
        return;
    }
    int dec = a->step >= 1 ? 0 : (int)ceil(-log10(a->step) - 1e-9);
    snprintf(buf, n, "%.*f", dec, v);
}

/* ------------------------------------------------------------------ */
/* Chart                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
    double width, height;
    double left, top;     /* of the plot area */
    double legend_x;
    int legend_chars;
} layout;

static int point_ok(const plot_chart *c, double x, double y) {
    return isfinite(x) && isfinite(y) && (!c->log_y || y > 0);
}

/* The data's bounding box; returns the number of drawable points. */
static long data_bounds(const plot_chart *c, double *x0, double *x1,
                        double *y0, double *y1) {
    long count = 0;
    *x0 = *y0 = INFINITY;
    *x1 = *y1 = -INFINITY;
    for (int s = 0; s < c->n_series; s++) {
        const plot_series *ps = &c->series[s];
        for (int i = 0; i < ps->n; i++) {
            if (!point_ok(c, ps->x[i], ps->y[i]))
                continue;
            *x0 = fmin(*x0, ps->x[i]);
            *x1 = fmax(*x1, ps->x[i]);
            *y0 = fmin(*y0, ps->y[i]);
            *y1 = fmax(*y1, ps->y[i]);
            count++;
        }
    }
    return count;
}

static void layout_compute(const plot_chart *c, const axis *y,
                           layout *l) {
    int y_chars = 0;
    char buf[64];
    for (int i = 0; i < y->n_ticks; i++) {
        tick_label(y, y->ticks[i], buf, sizeof buf);
        y_chars = y_chars > text_chars(buf) ? y_chars : text_chars(buf);
    }
    l->legend_chars = 0;
    for (int s = 0; s < c->n_series; s++) {
        int n = text_chars(c->series[s].label);
        l->legend_chars = l->legend_chars > n ? l->legend_chars : n;
    }
    l->left = (c->y_label ? 30 : 10) + y_chars * CHAR_W + 8;
    l->top = c->title ? 44 : 16;
    l->legend_x = l->left + AREA_W + 20;
    l->width = l->legend_x + 30 + l->legend_chars * CHAR_W + 12;
    double title_w = text_chars(c->title) * TITLE_CHAR_W + 16;
    l->width = fmax(l->width, title_w);
    double legend_h = c->n_series * LEGEND_ROW + 8;
    l->height = l->top + fmax(AREA_H, legend_h) + 50;
}

static void draw_grid_and_ticks(sbuf *b, const layout *l, const axis *x,
                                const axis *y) {
    char buf[64];
    double bottom = l->top + AREA_H;
    sb_printf(b, "<g stroke=\"#e3e3e3\">\n");
    for (int i = 0; i < x->n_ticks; i++) {
        double px = axis_map(x, x->ticks[i]);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                  "y2=\"%.1f\"/>\n", px, l->top, px, bottom);
    }
    for (int i = 0; i < y->n_ticks; i++) {
        double py = axis_map(y, y->ticks[i]);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                  "y2=\"%.1f\"/>\n", l->left, py, l->left + AREA_W, py);
    }
    sb_printf(b, "</g>\n<g fill=\"#333\">\n");
    for (int i = 0; i < x->n_ticks; i++) {
        tick_label(x, x->ticks[i], buf, sizeof buf);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                  "%s</text>\n", axis_map(x, x->ticks[i]), bottom + 17,
                  buf);
    }
    for (int i = 0; i < y->n_ticks; i++) {
        tick_label(y, y->ticks[i], buf, sizeof buf);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">"
                  "%s</text>\n", l->left - 6, axis_map(y, y->ticks[i]) + 4,
                  buf);
    }
    sb_printf(b, "</g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
              "height=\"%.1f\" fill=\"none\" stroke=\"#555\"/>\n",
              l->left, l->top, AREA_W, AREA_H);
}

static void draw_labels(sbuf *b, const plot_chart *c, const layout *l) {
    if (c->title) {
        /* centred on the plot area unless that would cut it on the left */
        double half = text_chars(c->title) * TITLE_CHAR_W / 2;
        double cx = fmax(l->left + AREA_W / 2, half + 8);
        sb_printf(b, "<text x=\"%.1f\" y=\"28\" text-anchor=\"middle\" "
                  "font-size=\"16\" font-weight=\"bold\">", cx);
        sb_text(b, c->title);
        sb_printf(b, "</text>\n");
    }
    if (c->x_label) {
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                  l->left + AREA_W / 2, l->top + AREA_H + 38);
        sb_text(b, c->x_label);
        sb_printf(b, "</text>\n");
    }
    if (c->y_label) {
        double cy = l->top + AREA_H / 2;
        sb_printf(b, "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" "
                  "transform=\"rotate(-90 16 %.1f)\">", cy, cy);
        sb_text(b, c->y_label);
        sb_printf(b, "</text>\n");
    }
}

/*
 * One series: a polyline per run of drawable points (a gap ends a run),
 * a dot per point when the series is short, or when a point stands alone
 * and would otherwise not show.
 * TODO: every point is written; a run of 1e5+ steps makes a large file,
 * which a per-pixel-column min/max reduction would keep small.
 */
static void draw_series(sbuf *b, const plot_chart *c, int s, const axis *x,
                        const axis *y) {
    const plot_series *ps = &c->series[s];
    const char *color = palette[s % N_COLORS];
    int dots = ps->n <= MARKER_MAX;
    sb_printf(b, "<g stroke=\"%s\" fill=\"%s\">\n", color, color);
    for (int i = 0; i < ps->n;) {
        if (!point_ok(c, ps->x[i], ps->y[i])) {
            i++;
            continue;
        }
        int j = i;
        while (j < ps->n && point_ok(c, ps->x[j], ps->y[j]))
            j++;
        if (j - i > 1) {
            sb_printf(b, "<polyline fill=\"none\" stroke-width=\"1.6\" "
                      "points=\"");
            for (int k = i; k < j; k++)
                sb_printf(b, "%s%.1f,%.1f", k > i ? " " : "",
                          axis_map(x, ps->x[k]), axis_map(y, ps->y[k]));
            sb_printf(b, "\"/>\n");
        }
        for (int k = i; k < j && (dots || j - i == 1); k++)
            sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>\n",
                      axis_map(x, ps->x[k]), axis_map(y, ps->y[k]));
        i = j;
    }
    sb_printf(b, "</g>\n");
}

static void draw_legend(sbuf *b, const plot_chart *c, const layout *l) {
    for (int s = 0; s < c->n_series; s++) {
        double ry = l->top + 12 + s * LEGEND_ROW;
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                  "stroke=\"%s\" stroke-width=\"2.5\"/>\n", l->legend_x,
                  ry - 4, l->legend_x + 22, ry - 4,
                  palette[s % N_COLORS]);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", l->legend_x + 28, ry);
        sb_text(b, c->series[s].label ? c->series[s].label : "");
        sb_printf(b, "</text>\n");
    }
}

t5e_status plot_render_svg(const plot_chart *c, char **svg, size_t *len,
                           t5e_err *err) {
    double x0, x1, y0, y1;
    if (data_bounds(c, &x0, &x1, &y0, &y1) == 0)
        return err_set(err, T5E_ERR_ARG, "nothing to plot: no series has "
                       "a finite%s value", c->log_y ? ", positive" : "");
    axis x, y;
    axis_linear(&x, x0, x1);
    if (c->log_y)
        axis_log(&y, y0, y1);
    else
        axis_linear(&y, y0, y1);
    layout l;
    layout_compute(c, &y, &l);
    x.p0 = l.left;
    x.p1 = l.left + AREA_W;
    y.p0 = l.top + AREA_H;  /* y grows upwards */
    y.p1 = l.top;

    sbuf b = {0};
    sb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
              "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
              "font-family=\"sans-serif\" font-size=\"12\">\n"
              "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
              l.width, l.height, l.width, l.height);
    draw_grid_and_ticks(&b, &l, &x, &y);
    draw_labels(&b, c, &l);
    for (int s = 0; s < c->n_series; s++)
        draw_series(&b, c, s, &x, &y);
    draw_legend(&b, c, &l);
    sb_printf(&b, "</svg>\n");
    if (b.oom) {
        free(b.buf);
        return err_set(err, T5E_ERR_NOMEM, "out of memory rendering a "
                       "chart of %d series", c->n_series);
    }
    *svg = b.buf;
    *len = b.len;
    return T5E_OK;
}

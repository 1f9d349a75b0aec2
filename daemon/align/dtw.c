/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dtw.c: the aligner's warping, sized for hour-long stories. A full
 * n x m cost matrix of a 3-minute story at 10 ms frames is 400 M cells;
 * instead the frames are averaged pairwise until both sides fit a full
 * pass of at most top_max frames, and each finer level only searches a
 * band of +-radius frames around the path projected from the coarser one
 * (FastDTW's scheme). Only two rows of costs are live; the path is kept as
 * 2-bit back-pointers per band cell, so a level costs a quarter byte per
 * cell. The reference (synthesized speech) must be matched whole; the query
 * (the story audio) may have a head and tail that nothing matches, so a
 * music intro or a station ID is skipped rather than stretched over. */
#include "dtw.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

enum { MOVE_DIAG, MOVE_UP, MOVE_LEFT, MOVE_START };

static inline void bp_set(uint8_t *bp, size_t c, unsigned mv) {
        bp[c >> 2] |= (uint8_t)(mv << ((c & 3) * 2));
}

static inline unsigned bp_get(const uint8_t *bp, size_t c) {
        return (bp[c >> 2] >> ((c & 3) * 2)) & 3;
}

static bool band_valid(size_t n, const int32_t *lo, const int32_t *hi) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (lo[i] < 0 || hi[i] < lo[i])
                        return false;
                if (i > 0 && (lo[i] < lo[i - 1] || hi[i] < hi[i - 1] || lo[i] > hi[i - 1] + 1))
                        return false;
        }
        return true;
}

/* Rows the path may jump from, kept after the two live rows move on. */
#define JUMP_SLOTS 3

struct saved_row {
        int64_t row; /* -1: free */
        int32_t lo, hi;
        double *cost;
};

struct band_ctx {
        size_t n;
        const int32_t *lo, *hi;
        dtw_dist_fn dist;
        void *ud;
        const struct dtw_costs *c;
        uint8_t *bp;
        struct saved_row slot[JUMP_SLOTS];
};

static const struct saved_row *saved_get(const struct band_ctx *b, int64_t row) {
        for (size_t k = 0; k < JUMP_SLOTS; k++)
                if (b->slot[k].row == row)
                        return &b->slot[k];
        return NULL;
}

/* Keeps row I's costs in the slot holding the oldest row. */
static void saved_put(struct band_ctx *b, size_t i, const double *cost) {
        struct saved_row *s = &b->slot[0];

        for (size_t k = 1; k < JUMP_SLOTS; k++)
                if (b->slot[k].row < s->row)
                        s = &b->slot[k];
        s->row = (int64_t)i;
        s->lo = b->lo[i];
        s->hi = b->hi[i];
        memcpy(s->cost, cost, sizeof(double) * (size_t)(b->hi[i] - b->lo[i] + 1));
}

/* Cost of the cheapest way into (i, j), whose local distance is D:
 * diagonal, then up, then left on ties. A left step (the query advancing
 * alone) pays at most c->gap on the gap rows: audio nothing in the text
 * matches (music, a soundbite) is passed over at a fixed price instead of
 * being matched by whichever words cost least there. */
static double best_step(const struct band_ctx *b, size_t i, int32_t j, const double *prev, const double *cur,
                        double d, unsigned *ret_mv) {
        const int32_t *lo = b->lo, *hi = b->hi;
        const struct dtw_costs *c = b->c;
        bool capped = c->gap > 0 && (!c->gap_rows || c->gap_rows[i]);
        double best = INFINITY, left = capped ? MIN(d, (double)c->gap) : d;

        if (i > 0 && j - 1 >= lo[i - 1] && j - 1 <= hi[i - 1] && prev[j - 1 - lo[i - 1]] + d < best) {
                best = prev[j - 1 - lo[i - 1]] + d;
                *ret_mv = MOVE_DIAG;
        }
        if (i > 0 && j >= lo[i - 1] && j <= hi[i - 1] && prev[j - lo[i - 1]] + c->up_penalty + d < best) {
                best = prev[j - lo[i - 1]] + c->up_penalty + d;
                *ret_mv = MOVE_UP;
        }
        if (j > lo[i] && cur[j - 1 - lo[i]] + left < best) {
                best = cur[j - 1 - lo[i]] + left;
                *ret_mv = MOVE_LEFT;
        }
        return best;
}

/* The jump into (i, j) from (jump_from[i], j - 1) over rows the query
 * lacks, if cheaper than BEST: recorded as MOVE_START, which only row 0
 * uses otherwise. */
static double best_jump(const struct band_ctx *b, size_t i, int32_t j, double d, double best,
                        unsigned *ret_mv) {
        const struct saved_row *s;
        int64_t r;
        double v;

        if (!b->c->jump_from || i == 0 || (r = b->c->jump_from[i]) < 0 || !(s = saved_get(b, r)))
                return best;
        if (j - 1 < s->lo || j - 1 > s->hi)
                return best;
        v = s->cost[j - 1 - s->lo] + (double)b->c->jump * (double)((int64_t)i - r - 1) + d;
        if (v < best) {
                *ret_mv = MOVE_START;
                return v;
        }
        return best;
}

static void fill_row(const struct band_ctx *b, size_t i, const double *prev, double *cur, size_t off) {
        const struct dtw_costs *c = b->c;

        for (int32_t j = b->lo[i]; j <= b->hi[i]; j++) {
                double d = b->dist(b->ud, i, (size_t)j);
                unsigned mv = MOVE_START;

                if (i == 0 && (c->open_begin || j == b->lo[0]))
                        cur[j - b->lo[i]] = (c->open_begin ? (double)c->skip_begin * j : 0) + d;
                else if (i == 0)
                        cur[j - b->lo[i]] = best_step(b, i, j, prev, cur, d, &mv);
                else
                        cur[j - b->lo[i]] =
                                best_jump(b, i, j, d, best_step(b, i, j, prev, cur, d, &mv), &mv);
                bp_set(b->bp, off + (size_t)(j - b->lo[i]), mv);
        }
}

static void backtrack(const struct band_ctx *b, const size_t *off, int32_t j, int32_t *ret_first,
                      int32_t *ret_last) {
        size_t i = b->n - 1;

        ret_last[i] = j;
        for (;;) {
                unsigned mv = bp_get(b->bp, off[i] + (size_t)(j - b->lo[i]));

                ret_first[i] = j;
                if (mv == MOVE_START && i > 0) { /* a jump: rows left out */
                        size_t r = (size_t)b->c->jump_from[i];

                        for (size_t q = r + 1; q < i; q++)
                                ret_first[q] = ret_last[q] = j;
                        i = r;
                        ret_last[i] = --j;
                        continue;
                }
                if (mv == MOVE_START)
                        break;
                if (mv != MOVE_LEFT) {
                        i--;
                        ret_last[i] = mv == MOVE_DIAG ? j - 1 : j;
                }
                if (mv != MOVE_UP)
                        j--;
        }
}

int dtw_band(size_t n, const int32_t *lo, const int32_t *hi, dtw_dist_fn dist, void *userdata,
             bool open_begin, bool open_end, int32_t *ret_first, int32_t *ret_last, double *ret_total) {
        return dtw_band_penalized(n, lo, hi, dist, userdata, open_begin, open_end, 0.0f, 0.0f, ret_first,
                                  ret_last, ret_total);
}

int dtw_band_penalized(size_t n, const int32_t *lo, const int32_t *hi, dtw_dist_fn dist, void *userdata,
                       bool open_begin, bool open_end, float up_penalty, float skip_cost, int32_t *ret_first,
                       int32_t *ret_last, double *ret_total) {
        struct dtw_costs c = {open_begin, open_end, up_penalty, skip_cost, skip_cost, 0, NULL, NULL, 0};

        return dtw_band_costs(n, lo, hi, dist, userdata, &c, ret_first, ret_last, ret_total);
}

/* The end cell: the last row's cheapest, counting what skipping the
 * columns after it costs. */
static int32_t best_end(size_t n, const int32_t *lo, const int32_t *hi, const double *last,
                        const struct dtw_costs *c) {
        int32_t end = hi[n - 1];

        if (c->open_end)
                for (int32_t j = lo[n - 1]; j <= hi[n - 1]; j++)
                        if (last[j - lo[n - 1]] + (double)c->skip_end * (hi[n - 1] - j) <
                            last[end - lo[n - 1]] + (double)c->skip_end * (hi[n - 1] - end))
                                end = j;
        return end;
}

static bool jumps_valid(size_t n, const int32_t *jump_from) {
        for (size_t i = 0; jump_from && i < n; i++)
                if (jump_from[i] >= 0 && (size_t)jump_from[i] + 1 >= i)
                        return false;
        return true;
}

/* Which rows are jumped from: their costs must outlive the two live rows. */
static uint8_t *jump_sources(size_t n, const int32_t *jump_from) {
        uint8_t *src = calloc(n, 1);

        for (size_t i = 0; src && jump_from && i < n; i++)
                if (jump_from[i] >= 0)
                        src[jump_from[i]] = 1;
        return src;
}

static void band_ctx_done(struct band_ctx *b) {
        for (size_t k = 0; k < JUMP_SLOTS; k++)
                free(b->slot[k].cost);
        free(b->bp);
}

static int band_ctx_init(struct band_ctx *b, size_t cells, size_t width) {
        b->bp = calloc(cells / 4 + 1, 1);
        if (!b->bp)
                return -ENOMEM;
        for (size_t k = 0; k < JUMP_SLOTS; k++) {
                b->slot[k].row = -1;
                if (b->c->jump_from && !(b->slot[k].cost = malloc(sizeof(double) * width)))
                        return -ENOMEM;
        }
        return 0;
}

static int band_run(struct band_ctx *b, const size_t *off, size_t width, int32_t *ret_first,
                    int32_t *ret_last, double *ret_total) {
        _cleanup_free_ double *prev = malloc(sizeof(double) * width), *cur = malloc(sizeof(double) * width);
        _cleanup_free_ uint8_t *src = jump_sources(b->n, b->c->jump_from);
        size_t n = b->n;
        int32_t end;

        if (!prev || !cur || !src)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                double *t;

                fill_row(b, i, prev, cur, off[i]);
                if (src[i])
                        saved_put(b, i, cur);
                t = prev, prev = cur, cur = t;
        }
        /* prev now holds the last row. */
        end = best_end(n, b->lo, b->hi, prev, b->c);
        if (!isfinite(prev[end - b->lo[n - 1]]))
                return -EINVAL;
        backtrack(b, off, end, ret_first, ret_last);
        if (ret_total)
                *ret_total = prev[end - b->lo[n - 1]];
        return 0;
}

int dtw_band_costs(size_t n, const int32_t *lo, const int32_t *hi, dtw_dist_fn dist, void *userdata,
                   const struct dtw_costs *c, int32_t *ret_first, int32_t *ret_last, double *ret_total) {
        _cleanup_free_ size_t *off = NULL;
        struct band_ctx b = {n, lo, hi, dist, userdata, c, NULL, {}};
        size_t cells = 0, width = 0;
        int r;

        if (!band_valid(n, lo, hi) || !jumps_valid(n, c->jump_from))
                return -EINVAL;
        off = malloc(sizeof(size_t) * n);
        if (!off)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                off[i] = cells;
                cells += (size_t)(hi[i] - lo[i] + 1);
                width = MAX(width, (size_t)(hi[i] - lo[i] + 1));
        }
        r = band_ctx_init(&b, cells, width);
        if (r >= 0)
                r = band_run(&b, off, width, ret_first, ret_last, ret_total);
        band_ctx_done(&b);
        return r;
}

struct feats {
        const float *a, *b;
        size_t dim;
};

static float euclid(void *userdata, size_t i, size_t j) {
        const struct feats *f = userdata;
        const float *x = f->a + i * f->dim, *y = f->b + j * f->dim;
        float s = 0;

        for (size_t d = 0; d < f->dim; d++)
                s += (x[d] - y[d]) * (x[d] - y[d]);
        return sqrtf(s);
}

/* Pairwise averages: n frames -> (n+1)/2. */
static float *halve(const float *f, size_t n, size_t dim) {
        size_t m = (n + 1) / 2;
        float *h = malloc(sizeof(float) * m * dim);

        if (!h)
                return NULL;
        for (size_t i = 0; i < m; i++)
                for (size_t d = 0; d < dim; d++)
                        h[i * dim + d] = 2 * i + 1 < n
                                                 ? 0.5f * (f[2 * i * dim + d] + f[(2 * i + 1) * dim + d])
                                                 : f[2 * i * dim + d];
        return h;
}

/* The band of a level from the path one level coarser: each coarse row
 * covers two fine rows, each coarse column two fine columns. */
static void project_band(const int32_t *cfirst, const int32_t *clast, size_t n_coarse, size_t n, size_t m,
                         int radius, int32_t *lo, int32_t *hi) {
        for (size_t i = 0; i < n; i++) {
                size_t c = MIN(i / 2, n_coarse - 1);
                int64_t l = 2 * (int64_t)cfirst[c] - radius, h = 2 * (int64_t)clast[c] + 1 + radius;

                lo[i] = (int32_t)MAX(l, 0);
                hi[i] = (int32_t)MIN(h, (int64_t)m - 1);
                if (i > 0) { /* clipping keeps monotony; be explicit anyway */
                        lo[i] = MAX(lo[i], lo[i - 1]);
                        hi[i] = MAX(hi[i], hi[i - 1]);
                }
        }
}

#define DTW_MAX_LEVELS 32
#define SKIP_SAMPLES 512

struct pyramid {
        const float *a[DTW_MAX_LEVELS], *b[DTW_MAX_LEVELS];
        size_t na[DTW_MAX_LEVELS], nb[DTW_MAX_LEVELS];
        int top;
        size_t dim;
};

static void pyramid_done(struct pyramid *p) {
        for (int k = 1; k <= p->top; k++) {
                free((float *)p->a[k]);
                free((float *)p->b[k]);
        }
}

static int pyramid_build(struct pyramid *p, size_t top_max, size_t dim) {
        while (MAX(p->na[p->top], p->nb[p->top]) > top_max && p->top + 1 < DTW_MAX_LEVELS) {
                int k = p->top + 1;

                p->a[k] = halve(p->a[k - 1], p->na[k - 1], dim);
                p->b[k] = halve(p->b[k - 1], p->nb[k - 1], dim);
                p->na[k] = (p->na[k - 1] + 1) / 2;
                p->nb[k] = (p->nb[k - 1] + 1) / 2;
                p->top = k;
                if (!p->a[k] || !p->b[k])
                        return -ENOMEM;
        }
        return 0;
}

/* The mean distance of frames that have nothing to do with each other
 * (fixed pseudo-random pairs): the scale of "no match" at this level,
 * which shrinks as frames are averaged. */
static float unrelated_dist(void *f, size_t n, size_t m) {
        uint64_t x = 0x9E3779B97F4A7C15ull;
        double sum = 0;

        for (int k = 0; k < SKIP_SAMPLES; k++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                sum += euclid(f, (size_t)(x >> 33) % n, (size_t)(x >> 11) % m);
        }
        return (float)(sum / SKIP_SAMPLES);
}

/* The segments at level k (rows halved k times): gap rows on each
 * segment's last row, and a jump over each inner segment from the row
 * before it to the row after it. Segments averaged into one another at a
 * coarse level lose their jump there. */
static int level_segments(const struct dtw_opts *o, int k, size_t n, uint8_t **ret_gap, int32_t **ret_jump) {
        _cleanup_free_ uint8_t *gap = NULL;
        _cleanup_free_ int32_t *jump = NULL;

        if (!o->seg_start || o->n_seg < 2 || (o->seg_max_level >= 0 && k > o->seg_max_level))
                return 0;
        gap = calloc(n, 1);
        jump = malloc(sizeof(int32_t) * n);
        if (!gap || !jump)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                jump[i] = -1;
        for (size_t s = 1; s < o->n_seg; s++) {
                size_t a = o->seg_start[s] >> k, b = s + 1 < o->n_seg ? o->seg_start[s + 1] >> k : n;

                if (o->seg_start[s] == 0 || a > n)
                        continue;
                /* The row holding the segment's last frame: where a
                 * boundary falls inside a row, the row that straddles it. */
                gap[(o->seg_start[s] - 1) >> k] = 1;
                if (o->jump_ratio > 0 && s + 1 < o->n_seg && b < n && b > a && jump[b] < 0)
                        jump[b] = (int32_t)a - 1;
        }
        *ret_gap = TAKE_PTR(gap);
        *ret_jump = TAKE_PTR(jump);
        return 0;
}

/* Runs level k in the band lo/hi; replaces first and last with its path. */
static int run_level(const struct pyramid *p, int k, size_t dim, const struct dtw_opts *o, int32_t *lo,
                     int32_t *hi, int32_t **first, int32_t **last) {
        struct feats f = {p->a[k], p->b[k], dim};
        _cleanup_free_ uint8_t *gap = NULL;
        _cleanup_free_ int32_t *jump = NULL;
        int32_t *nf = malloc(sizeof(int32_t) * p->na[k]), *nl = malloc(sizeof(int32_t) * p->na[k]);
        float u = unrelated_dist(&f, p->na[k], p->nb[k]);
        struct dtw_costs c = {o->open_begin,     o->open_end,      o->up_penalty, o->skip_ratio * u,
                              o->skip_ratio * u, o->gap_ratio * u, NULL,          NULL,
                              o->jump_ratio * u};
        int r;

        r = level_segments(o, k, p->na[k], &gap, &jump);
        if (r < 0 || !nf || !nl) {
                free(nf);
                free(nl);
                return -ENOMEM;
        }
        c.gap_rows = gap;
        c.jump_from = jump;
        r = dtw_band_costs(p->na[k], lo, hi, euclid, &f, &c, nf, nl, NULL);
        free(*first);
        free(*last);
        *first = nf;
        *last = nl;
        return r;
}

/* A bounded open begin and end: in the full top pass the path may start
 * only within max_skip query frames of the start and end as near the end.
 * An hour of speech averaged into second-long frames all looks alike, and
 * an unbounded open begin would then happily skip minutes of it. */
static void limit_skip(const struct pyramid *p, const struct dtw_opts *o, int32_t *lo, int32_t *hi) {
        size_t n = p->na[p->top], m = p->nb[p->top], skip;

        if (o->max_skip == 0)
                return;
        skip = MIN((o->max_skip >> p->top) + 1, m - 1);
        if (o->open_begin)
                hi[0] = (int32_t)skip;
        if (o->open_end && n > 1)
                lo[n - 1] = (int32_t)(m - 1 - skip);
}

/* An edge search matches the reference's first (last) minute, at frames of
 * 80 ms: as coarse as the top level of a 3-minute story, where an open
 * begin is known to pass a music intro over rather than match it, yet
 * fine enough that one stretch of speech does not look like another. */
#define EDGE_REF 6000
#define EDGE_LEVEL 3

struct edge {
        struct feats f;
        size_t n, m;
        bool rev; /* both sequences read backwards: the tail as a head */
};

static float edge_dist(void *userdata, size_t i, size_t j) {
        struct edge *e = userdata;

        return e->rev ? euclid(&e->f, e->n - 1 - i, e->m - 1 - j) : euclid(&e->f, i, j);
}

/* Where the reference's first minute begins in the query (rev: where its
 * last minute ends), searched at level L in the first max_skip + 2 minutes
 * of the query: the path's begin open at skip_ratio per frame skipped, its
 * end free (that cut is ours); the column where it leaves row 0.
 * At the top level an hour averaged into 2.5 s frames is all alike, and a
 * story whose opening recurs later (a repeat, a promo) lost its first
 * minute to a skip there. Returns the query column at level L, or -errno. */
static int64_t edge_search(const struct pyramid *p, int L, const struct dtw_opts *o, bool rev) {
        struct edge e = {{p->a[L], p->b[L], 0}, p->na[L], p->nb[L], rev};
        size_t rows = MIN((size_t)EDGE_REF >> L, e.n), cols = MIN((o->max_skip + 3 * EDGE_REF) >> L, e.m);
        _cleanup_free_ int32_t *lo = malloc(sizeof(int32_t) * rows), *hi = malloc(sizeof(int32_t) * rows);
        _cleanup_free_ int32_t *first = malloc(sizeof(int32_t) * rows),
                               *last = malloc(sizeof(int32_t) * rows);
        struct dtw_costs c = {true, true, o->up_penalty, 0, 0, 0, NULL, NULL, 0};
        int r;

        if (!lo || !hi || !first || !last)
                return -ENOMEM;
        e.f.dim = p->dim;
        c.skip_begin = o->skip_ratio * unrelated_dist(&e.f, e.n, e.m);
        for (size_t i = 0; i < rows; i++) {
                lo[i] = 0;
                hi[i] = (int32_t)cols - 1;
        }
        r = dtw_band_costs(rows, lo, hi, edge_dist, &e, &c, first, last, NULL);
        if (r < 0)
                return r;
        return rev ? (int64_t)e.m - 1 - last[0] : last[0];
}

/* Pins the top level's path to begin within a frame of column H and end
 * within a frame of T (top-level columns), keeping the band well formed.
 * False when the two contradict each other (then nothing is changed). */
static bool pin_edges(size_t n, size_t m, int64_t h, int64_t t, int32_t *lo, int32_t *hi) {
        if (n < 2 || h < 0 || t < 0 || h > t)
                return false;
        for (size_t i = 0; i < n; i++) {
                lo[i] = (int32_t)MAX(h - 1, 0);
                hi[i] = (int32_t)MIN(t + 1, (int64_t)m - 1);
        }
        hi[0] = (int32_t)MIN(h + 1, (int64_t)hi[0]);
        lo[n - 1] = (int32_t)MAX(t - 1, (int64_t)lo[n - 1]);
        return true;
}

/* The top level's band: the whole matrix, its open ends narrowed by edge
 * searches one level above the finest (or, without them, by max_skip). */
static int top_band(const struct pyramid *p, const struct dtw_opts *o, int32_t *lo, int32_t *hi) {
        size_t n = p->na[p->top], m = p->nb[p->top];
        int L = MIN(p->top, EDGE_LEVEL), shift = p->top - L;
        int64_t h = 0, t = (int64_t)m - 1;

        for (size_t i = 0; i < n; i++) {
                lo[i] = 0;
                hi[i] = (int32_t)m - 1;
        }
        if (p->top == 0 || o->max_skip == 0) {
                limit_skip(p, o, lo, hi);
                return 0;
        }
        if (o->open_begin)
                h = edge_search(p, L, o, false);
        if (h >= 0 && o->open_end)
                t = edge_search(p, L, o, true);
        if (h == -ENOMEM || t == -ENOMEM)
                return -ENOMEM;
        if (h < 0 || t < 0 || !pin_edges(n, m, h >> shift, t >> shift, lo, hi))
                limit_skip(p, o, lo, hi);
        return 0;
}

static int align_levels(struct pyramid *p, size_t dim, const struct dtw_opts *o, int32_t **ret_first) {
        _cleanup_free_ int32_t *first = NULL, *last = NULL, *lo = NULL, *hi = NULL;
        int r;

        lo = malloc(sizeof(int32_t) * p->na[0]);
        hi = malloc(sizeof(int32_t) * p->na[0]);
        if (!lo || !hi)
                return -ENOMEM;
        r = top_band(p, o, lo, hi);
        if (r >= 0)
                r = run_level(p, p->top, dim, o, lo, hi, &first, &last);
        for (int k = p->top - 1; r >= 0 && k >= 0; k--) {
                project_band(first, last, p->na[k + 1], p->na[k], p->nb[k], o->radius, lo, hi);
                r = run_level(p, k, dim, o, lo, hi, &first, &last);
        }
        if (r < 0)
                return r;
        *ret_first = TAKE_PTR(first);
        return 0;
}

/* The segment start nearest to T within [lo, hi] (rows), or T. */
static int64_t snap_seg(const size_t *seg, size_t n_seg, int64_t t, int64_t lo, int64_t hi) {
        int64_t best = t, d = INT64_MAX;

        for (size_t s = 0; seg && s < n_seg; s++) {
                int64_t v = (int64_t)seg[s];

                if (v >= lo && v <= hi && llabs(v - t) < d) {
                        best = v;
                        d = llabs(v - t);
                }
        }
        return best;
}

int dtw_plan_windows(size_t n_ref, const size_t *seg_start, size_t n_seg, size_t win, size_t overlap,
                     struct dtw_window **ret) {
        int64_t n = (int64_t)n_ref, step = (int64_t)win - (int64_t)overlap, ov = (int64_t)overlap;
        size_t k;
        struct dtw_window *w;

        if (n_ref == 0 || win <= overlap)
                return -EINVAL;
        k = MAX((size_t)((n + step / 2) / step), (size_t)1);
        w = calloc(k, sizeof(*w));
        if (!w)
                return -ENOMEM;
        for (size_t j = 0; j < k; j++) {
                int64_t t = n * (int64_t)(j + 1) / (int64_t)k;

                /* Owned ranges meet at a sentence start within a quarter step. */
                w[j].own0 = j == 0 ? 0 : w[j - 1].own1;
                w[j].own1 = j + 1 == k ? n_ref
                                       : (size_t)snap_seg(seg_start, n_seg, t, t - step / 4, t + step / 4);
        }
        for (size_t j = 0; j < k; j++) {
                int64_t a = (int64_t)w[j].own0, b = (int64_t)w[j].own1;

                w[j].r0 = j == 0 ? 0
                                 : (size_t)MAX(snap_seg(seg_start, n_seg, a - ov / 2, a - ov * 3 / 4,
                                                        a - ov / 4),
                                               (int64_t)0);
                w[j].r1 = j + 1 == k ? n_ref
                                     : (size_t)MIN(snap_seg(seg_start, n_seg, b + ov / 2, b + ov / 4,
                                                            b + ov * 3 / 4),
                                                   n);
        }
        *ret = w;
        return (int)k;
}

/* The whole of ref against the whole of qry, level by level. */
static int align_plain(const float *ref, size_t n_ref, const float *qry, size_t n_qry, size_t dim,
                       const struct dtw_opts *o, int32_t **ret_map) {
        struct pyramid p = {.a = {ref}, .b = {qry}, .na = {n_ref}, .nb = {n_qry}, .dim = dim};
        int r;

        r = pyramid_build(&p, MAX(o->top_max, (size_t)2), dim);
        if (r >= 0)
                r = align_levels(&p, dim, o, ret_map);
        pyramid_done(&p);
        return r;
}

/* Copies rows [a, b) of F and gives each dimension mean 0 and variance 1
 * over them, as a short story's features are over the story alone. */
static float *normalized(const float *f, size_t a, size_t b, size_t dim) {
        size_t n = b - a;
        float *c = malloc(sizeof(float) * n * dim);

        if (!c)
                return NULL;
        memcpy(c, f + a * dim, sizeof(float) * n * dim);
        for (size_t d = 0; d < dim; d++) {
                double s = 0, s2 = 0, mean, sd;

                for (size_t i = 0; i < n; i++) {
                        s += c[i * dim + d];
                        s2 += (double)c[i * dim + d] * c[i * dim + d];
                }
                mean = s / (double)n;
                sd = sqrt(MAX(s2 / (double)n - mean * mean, 0.0));
                for (size_t i = 0; i < n; i++)
                        c[i * dim + d] = sd > 1e-9 ? (float)((c[i * dim + d] - mean) / sd) : 0.0f;
        }
        return c;
}

/* Window W of the reference against the query around where MAP (the
 * first pass) puts it: its own segments, open ends over the margin.
 * ret_map: per row of the window, a query frame (whole-query numbering). */
static int align_window(const float *ref, const float *qry, size_t n_qry, size_t dim,
                        const struct dtw_opts *o, const struct dtw_window *w, const int32_t *map,
                        int32_t **ret_map) {
        size_t n = w->r1 - w->r0, n_seg = 0;
        int64_t q0 = MAX((int64_t)map[w->r0] - (int64_t)o->win_margin, (int64_t)0);
        int64_t q1 = MIN((int64_t)map[w->r1 - 1] + 1 + (int64_t)o->win_margin, (int64_t)n_qry);
        _cleanup_free_ size_t *seg = malloc(sizeof(size_t) * (o->n_seg + 1));
        struct dtw_opts sub = *o;
        int32_t *m = NULL;
        int r;

        if (!seg)
                return -ENOMEM;
        for (size_t s = 0; o->seg_start && s < o->n_seg; s++)
                if (o->seg_start[s] > w->r0 && o->seg_start[s] < w->r1)
                        seg[n_seg++] = o->seg_start[s] - w->r0;
        /* The window's first segment starts at its first row, whole or not. */
        memmove(seg + 1, seg, sizeof(size_t) * n_seg++);
        seg[0] = 0;
        sub.seg_start = o->seg_start ? seg : NULL;
        sub.n_seg = n_seg;
        sub.win = 0;
        /* No coarser than the levels that know the sentences: above them a
         * music intro between two stories looks like speech, and the finer
         * bands cannot move the path by its length. */
        if (o->seg_start && o->seg_max_level >= 0)
                sub.top_max = MAX(o->top_max, (MAX(n, (size_t)(q1 - q0)) >> o->seg_max_level) + 1);
        if (o->win_normalize) {
                _cleanup_free_ float *a = normalized(ref, w->r0, w->r1, dim);
                _cleanup_free_ float *b = normalized(qry, (size_t)q0, (size_t)q1, dim);

                r = a && b ? align_plain(a, n, b, (size_t)(q1 - q0), dim, &sub, &m) : -ENOMEM;
        } else
                r = align_plain(ref + w->r0 * dim, n, qry + (size_t)q0 * dim, (size_t)(q1 - q0), dim, &sub,
                                &m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                m[i] += (int32_t)q0;
        *ret_map = m;
        return 0;
}

/* Where two overlapping windows hand over: the row of their overlap,
 * within the middle half of it, where their maps agree best (nearest the
 * planned boundary on ties): a cross-check that moves the seam off a
 * stretch one of them got wrong. PREV covers rows from P0, CUR from C0. */
static size_t handover(const struct dtw_window *pw, const int32_t *prev, const struct dtw_window *cw,
                       const int32_t *cur) {
        size_t a = cw->r0, b = MIN(pw->r1, cw->r1), best = cw->own0;
        int64_t bd = INT64_MAX;

        if (b <= a)
                return best;
        for (size_t i = a + (b - a) / 4; i < a + (b - a) * 3 / 4; i++) {
                int64_t d = llabs((int64_t)prev[i - pw->r0] - cur[i - cw->r0]);

                if (d < bd || (d == bd && llabs((int64_t)i - (int64_t)cw->own0) <
                                                  llabs((int64_t)best - (int64_t)cw->own0))) {
                        bd = d;
                        best = i;
                }
        }
        return best;
}

/* Refines MAP (the first pass over the whole) window by window; each
 * window's map is written from its seam with the one before on. */
static int align_windows(const float *ref, size_t n_ref, const float *qry, size_t n_qry, size_t dim,
                         const struct dtw_opts *o, int32_t *map) {
        _cleanup_free_ struct dtw_window *w = NULL;
        _cleanup_free_ int32_t *out = malloc(sizeof(int32_t) * n_ref);
        int32_t *prev = NULL, *cur = NULL;
        int k, r = 0;

        k = dtw_plan_windows(n_ref, o->seg_start, o->n_seg, o->win, o->win_overlap, &w);
        if (k < 0 || !out)
                return k < 0 ? k : -ENOMEM;
        for (int j = 0; j < k && r >= 0; j++) {
                size_t from = 0;

                r = align_window(ref, qry, n_qry, dim, o, &w[j], map, &cur);
                if (r < 0)
                        break;
                if (j > 0)
                        from = handover(&w[j - 1], prev, &w[j], cur);
                for (size_t i = from; i < w[j].r1; i++)
                        out[i] = cur[i - w[j].r0];
                free(prev);
                prev = TAKE_PTR(cur);
        }
        free(prev);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_ref; i++)
                map[i] = i > 0 ? MAX(out[i], map[i - 1]) : out[i];
        return 0;
}

int dtw_align(const float *ref, size_t n_ref, const float *qry, size_t n_qry, size_t dim,
              const struct dtw_opts *o, int32_t **ret_map, float **ret_cost) {
        _cleanup_free_ int32_t *map = NULL;
        int r;

        if (n_ref == 0 || n_qry == 0 || dim == 0 || n_qry > INT32_MAX)
                return -EINVAL;
        r = align_plain(ref, n_ref, qry, n_qry, dim, o, &map);
        if (r >= 0 && o->win > o->win_overlap && n_ref > o->win * 2)
                r = align_windows(ref, n_ref, qry, n_qry, dim, o, map);
        if (r < 0)
                return r;
        if (ret_cost) {
                struct feats f = {ref, qry, dim};
                float *cost = malloc(sizeof(float) * n_ref);

                if (!cost)
                        return -ENOMEM;
                for (size_t i = 0; i < n_ref; i++)
                        cost[i] = euclid(&f, i, (size_t)map[i]);
                *ret_cost = cost;
        }
        *ret_map = TAKE_PTR(map);
        return 0;
}

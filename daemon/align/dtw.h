/* SPDX-License-Identifier: GPL-3.0-or-later */
/* dtw.h: dynamic time warping of a reference sequence (every frame must be
 * matched) against a query (its head and tail may be skipped: open begin
 * and end). Multi-resolution: a full pass on averaged frames, then passes
 * in a band around the path projected from the level above, with 2-bit
 * back-pointers. Pure; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Local distance between reference row i and query column j. */
typedef float (*dtw_dist_fn)(void *userdata, size_t i, size_t j);

/* One banded pass. Row i may use columns lo[i]..hi[i] (inclusive; lo and hi
 * non-decreasing, lo[i] <= hi[i-1] + 1). Steps: (i-1,j-1), (i-1,j), (i,j-1),
 * each adding the local distance of the cell entered. open_begin: the path
 * may start at any cell of row 0, else at (0, lo[0]); open_end: it may end
 * at any cell of the last row, else at (n-1, hi[n-1]). Fills, per row, the
 * first and last column the optimal path visits (ret_first/ret_last, n
 * entries each) and returns the path's total cost via ret_total (optional).
 * 0, -EINVAL (empty or malformed band), -ENOMEM. */
int dtw_band(size_t n, const int32_t *lo, const int32_t *hi, dtw_dist_fn dist, void *userdata,
             bool open_begin, bool open_end, int32_t *ret_first, int32_t *ret_last, double *ret_total);

/* dtw_band with a cost added to every step (i-1,j) -> (i,j), where the
 * reference advances while the query stands still. Without it, an open end
 * lets a path squeeze the rest of the reference onto one query frame and
 * skip the rest of the query for free whenever that query is hard to
 * match (a music bed, a long pause). */
/* SKIP_COST: what each query frame skipped by the open begin or end costs
 * (0: nothing); with it a path does not shorten itself by skipping query
 * it could match merely passably. */
int dtw_band_penalized(size_t n, const int32_t *lo, const int32_t *hi, dtw_dist_fn dist, void *userdata,
                       bool open_begin, bool open_end, float up_penalty, float skip_cost, int32_t *ret_first,
                       int32_t *ret_last, double *ret_total);

/* The general form: separate costs per query frame skipped before the
 * path (skip_begin) and after it (skip_end). An edge search sets the one
 * at a cut it made itself to 0, so that only the real skip is paid for. */
/* gap (0: none): the most a step (i,j-1) -> (i,j) pays, however far
 * query frame j is from reference frame i, so that audio the reference
 * lacks is passed over at a price rather than matched by the cheapest
 * reference frames. */
/* gap_rows (NULL: every row): the rows where that cap applies; a caller
 * that knows where its reference may have audio inserted (between
 * sentences) allows it only there, so a hard-to-match sentence is not
 * passed over instead of matched.
 * jump_from (NULL: none): per row i, -1 or a row r < i - 1 from which the
 * path may go straight to (i, j) from (r, j-1), leaving rows r+1..i-1 (a
 * sentence the query lacks) unmatched for jump per row left out. At most
 * three source rows may be pending (jumped from by a row not yet reached)
 * at any row. Left-out rows report the target cell's column as first and last. */
struct dtw_costs {
        bool open_begin, open_end;
        float up_penalty, skip_begin, skip_end, gap;
        const uint8_t *gap_rows;
        const int32_t *jump_from;
        float jump;
};
int dtw_band_costs(size_t n, const int32_t *lo, const int32_t *hi, dtw_dist_fn dist, void *userdata,
                   const struct dtw_costs *c, int32_t *ret_first, int32_t *ret_last, double *ret_total);

struct dtw_opts {
        size_t top_max; /* the full pass runs on at most this many frames per side */
        int radius;     /* band half-width added around the projected path, frames */
        bool open_begin, open_end;
        float up_penalty; /* see dtw_band_penalized */
        size_t max_skip;  /* open begin/end skip at most this many query frames, 0: any */
        float skip_ratio; /* skip cost per frame: this share of the mean distance of unrelated frames */
        float gap_ratio;  /* dtw_costs.gap as such a share, 0: none (0.5-1.0 on every
                           * row passed mid-story music over but misplaced sentences
                           * after room noise: hence segments) */
        /* Segments of the reference (sentences): seg_start[0..n_seg-1], the
         * first row of each, ascending. With them the gap applies only on
         * each segment's last row (audio inserted between sentences; on an
         * averaged level, the row holding that frame), and a
         * whole segment other than the first and last may be jumped over at
         * jump_ratio per row left out (0: not). NULL: one segment. */
        const size_t *seg_start;
        size_t n_seg;
        float jump_ratio;
        /* Gap and jump only on levels whose frames average at most
         * 2^seg_max_level frames (-1: all): frames of a second or more
         * all look alike, and there a cheap gap passed whole sentences over. */
        int seg_max_level;
        /* Windows (0: none): a reference longer than 2 win rows is
         * aligned in windows of about win rows overlapping by win_overlap,
         * each searched in the query within win_margin frames of where a
         * first pass over the whole put it (see dtw_plan_windows). */
        size_t win, win_overlap, win_margin;
        /* Each window's frames, both sides, normalised to mean 0 and
         * variance 1 per dimension on their own (an hour's pieces differ in
         * voice, channel and noise). */
        bool win_normalize;
};
#define DTW_OPTS_DEFAULT                                                                                    \
        ((struct dtw_opts){2500, 16, true, true, 1.0f, 6000, 0.6f, 0.0f, NULL, 0, 0.0f, -1, 0, 0, 0, false})

/* One window of the reference: rows [r0, r1) are aligned together, and
 * the window decides the map of rows [own0, own1), away from its edges.
 * The owned ranges of a plan tile 0..n_ref in order. */
struct dtw_window {
        size_t r0, r1, own0, own1;
};

/* Cuts n_ref rows into windows of about WIN rows whose owned ranges meet
 * at segment starts (seg_start, n_seg ascending; NULL: anywhere) near
 * every WIN - OVERLAP rows, each window reaching about OVERLAP / 2 rows
 * past its owned range on either side (to a segment start when one is
 * near). Returns the count >= 1 and a malloc'd array, -EINVAL (n_ref 0,
 * or win <= overlap), -ENOMEM. Pure. */
int dtw_plan_windows(size_t n_ref, const size_t *seg_start, size_t n_seg, size_t win, size_t overlap,
                     struct dtw_window **ret);

/* Aligns ref (n_ref x dim) to qry (n_qry x dim) by Euclidean distance.
 * ret_map (n_ref entries, malloc'd): for each ref frame the first query
 * frame on the path; ret_cost (optional, n_ref, malloc'd): the local
 * distance at that cell. 0, -EINVAL (an empty side), -ENOMEM. */
int dtw_align(const float *ref, size_t n_ref, const float *qry, size_t n_qry, size_t dim,
              const struct dtw_opts *o, int32_t **ret_map, float **ret_cost);

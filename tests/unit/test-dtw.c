/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-dtw.c: banded DTW on small sequences with known optimal paths:
 * identity, stretches both ways, open begin and end skipping a head and
 * tail that match nothing (and closed ends forced through them), malformed
 * bands refused, and the multi-level search finding the exact warp of a
 * long sequence with a tiny top level and narrow band; gaps capped only on
 * the rows allowed them; jumps over a sentence the query lacks; and the
 * multi-level search passing over inserted audio and a missing segment;
 * window plans, and windowed alignment of a text read twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dtw.h"

struct seqs {
        const float *a, *b;
};

static float absdist(void *ud, size_t i, size_t j) {
        const struct seqs *s = ud;
        return fabsf(s->a[i] - s->b[j]);
}

static void full_band(size_t n, size_t m, int32_t *lo, int32_t *hi) {
        for (size_t i = 0; i < n; i++) {
                lo[i] = 0;
                hi[i] = (int32_t)m - 1;
        }
}

static void run(const float *a, size_t n, const float *b, size_t m, bool open, int32_t *first, int32_t *last,
                double *total) {
        struct seqs s = {a, b};
        int32_t lo[64], hi[64];

        full_band(n, m, lo, hi);
        assert_int_equal(dtw_band(n, lo, hi, absdist, &s, open, open, first, last, total), 0);
}

static void test_identity(void **state) {
        const float a[] = {0, 1, 2, 3, 4};
        int32_t first[5], last[5];
        double total;

        run(a, 5, a, 5, false, first, last, &total);
        for (int i = 0; i < 5; i++) {
                assert_int_equal(first[i], i);
                assert_int_equal(last[i], i);
        }
        assert_float_equal(total, 0.0, 1e-9);
}

static void test_stretch(void **state) {
        const float a[] = {0, 1, 2, 3}, b[] = {0, 0, 1, 2, 2, 2, 3};
        const int32_t want_first[] = {0, 2, 3, 6}, want_last[] = {1, 2, 5, 6};
        const float c[] = {0, 0, 0, 1, 9, 9}, d[] = {0, 1, 9};
        int32_t first[6], last[6];
        double total;

        run(a, 4, b, 7, false, first, last, &total); /* query slower */
        assert_memory_equal(first, want_first, sizeof(want_first));
        assert_memory_equal(last, want_last, sizeof(want_last));
        assert_float_equal(total, 0.0, 1e-9);
        run(c, 6, d, 3, false, first, last, &total); /* reference slower: rows share columns */
        for (int i = 0; i < 6; i++)
                assert_int_equal(first[i], i < 3 ? 0 : i == 3 ? 1 : 2);
}

static void test_open_ends(void **state) {
        const float a[] = {5, 6, 7}, b[] = {0, 0, 0, 5, 6, 7, 9, 9};
        int32_t first[3], last[3];
        double total;

        run(a, 3, b, 8, true, first, last, &total);
        assert_int_equal(first[0], 3);
        assert_int_equal(first[1], 4);
        assert_int_equal(first[2], 5);
        assert_int_equal(last[2], 5);
        assert_float_equal(total, 0.0, 1e-9);
        /* closed: row 0 must take the head (0,0,0 then 5), the last row the tail */
        run(a, 3, b, 8, false, first, last, &total);
        assert_int_equal(first[0], 0);
        assert_int_equal(last[0], 3);
        assert_int_equal(first[2], 5);
        assert_int_equal(last[2], 7);
        assert_float_equal(total, 5 + 5 + 5 + 2 + 2, 1e-9);
}

static void test_band_limits(void **state) {
        const float a[] = {0, 1, 2}, b[] = {0, 1, 2};
        struct seqs s = {a, b};
        int32_t first[3], last[3];
        int32_t lo[] = {0, 2, 2}, hi[] = {0, 2, 2};   /* gap between rows 0 and 1 */
        int32_t lo2[] = {1, 0, 0}, hi2[] = {2, 2, 2}; /* lo decreasing */
        int32_t lo3[] = {0, 1, 2}, hi3[] = {0, 1, 2}; /* a one-cell diagonal band */

        assert_int_equal(dtw_band(3, lo, hi, absdist, &s, false, false, first, last, NULL), -EINVAL);
        assert_int_equal(dtw_band(3, lo2, hi2, absdist, &s, false, false, first, last, NULL), -EINVAL);
        assert_int_equal(dtw_band(0, lo3, hi3, absdist, &s, false, false, first, last, NULL), -EINVAL);
        assert_int_equal(dtw_band(3, lo3, hi3, absdist, &s, false, false, first, last, NULL), 0);
        assert_int_equal(first[2], 2);
}

/* A 2000-frame random walk, warped (frames doubled or dropped) behind a
 * head of 300 frames that match nothing: every level must keep the path. */
static void test_multilevel(void **state) {
        enum { N = 2000, HEAD = 300 };
        float *ref = malloc(sizeof(float) * N * 2), *qry = malloc(sizeof(float) * (HEAD + 2 * N) * 2);
        int32_t *want = malloc(sizeof(int32_t) * N), *map = NULL;
        struct dtw_opts o = {.top_max = 40, .radius = 6, .open_begin = true, .open_end = true};
        size_t m = 0;
        unsigned seed = 7;
        float x = 0, y = 0;

        for (size_t i = 0; i < N; i++) {
                x += (float)(rand_r(&seed) % 200 - 100) / 20.0f;
                y += (float)(rand_r(&seed) % 200 - 100) / 20.0f;
                ref[2 * i] = x, ref[2 * i + 1] = y;
        }
        for (size_t h = 0; h < HEAD; h++, m++)
                qry[2 * m] = 1000.0f, qry[2 * m + 1] = -1000.0f;
        for (size_t i = 0; i < N; i++) {
                int copies = 1 + (i % 7 == 3);
                want[i] = (int32_t)m;
                for (int c = 0; c < copies; c++, m++)
                        qry[2 * m] = ref[2 * i], qry[2 * m + 1] = ref[2 * i + 1];
        }
        assert_int_equal(dtw_align(ref, N, qry, m, 2, &o, &map, NULL), 0);
        assert_memory_equal(map, want, sizeof(int32_t) * N);
        assert_int_equal(dtw_align(ref, 0, qry, m, 2, &o, &map, NULL), -EINVAL);
        free(map);
        free(ref);
        free(qry);
        free(want);
}

/* Skip costs: a head of 3 query frames that match the reference only
 * passably is skipped when skipping is cheap and matched when it is dear;
 * skip_end prices the tail alone. The gap caps what a left step pays. */
static void test_skip_costs(void **state) {
        const float a[] = {5, 6, 7}, b[] = {4, 4, 4, 5, 6, 7, 9, 9};
        struct seqs s = {a, b};
        int32_t lo[3], hi[3], first[3], last[3];
        struct dtw_costs c = {
                .open_begin = true, .open_end = true, .up_penalty = 1.0f}; /* up steps cost: no squeezing */
        double total;

        full_band(3, 8, lo, hi);
        assert_int_equal(dtw_band_costs(3, lo, hi, absdist, &s, &c, first, last, &total), 0);
        assert_int_equal(first[0], 3);
        assert_float_equal(total, 0.0, 1e-9);
        /* Row 0 cells are all starts (no left steps there): skipping 3
         * frames at 2.5 costs 7.5, the diagonal 5-4, 6-4, 7-4 only 6. */
        c.skip_begin = 2.5f;
        assert_int_equal(dtw_band_costs(3, lo, hi, absdist, &s, &c, first, last, &total), 0);
        assert_int_equal(first[0], 0);
        assert_int_equal(last[0], 0);
        assert_int_equal(last[2], 2); /* skip_end 0: the rest stays unmatched */
        assert_float_equal(total, 6.0, 1e-9);
        c.skip_begin = 0.5f; /* skipping: 1.5 < 3 */
        assert_int_equal(dtw_band_costs(3, lo, hi, absdist, &s, &c, first, last, &total), 0);
        assert_int_equal(first[0], 3);
        assert_float_equal(total, 1.5, 1e-9);
        c.skip_end = 3.0f; /* 2 tail frames at 3 each > matching them at 2 each */
        assert_int_equal(dtw_band_costs(3, lo, hi, absdist, &s, &c, first, last, &total), 0);
        assert_int_equal(last[2], 7);
        assert_float_equal(total, 1.5 + 4.0, 1e-9);
        c.gap = 0.25f; /* left steps over the 9s now cost 0.25 each */
        assert_int_equal(dtw_band_costs(3, lo, hi, absdist, &s, &c, first, last, &total), 0);
        assert_int_equal(last[2], 7);
        assert_float_equal(total, 1.5 + 0.5, 1e-9);
}

/* A story whose opening recurs later: the edge search keeps the path on
 * the first copy even though a coarse top level sees both alike. */
static void test_repeated_opening(void **state) {
        enum { N = 3000 };
        float *ref = malloc(sizeof(float) * N), *qry = malloc(sizeof(float) * 2 * N);
        struct dtw_opts o = DTW_OPTS_DEFAULT;
        int32_t *map = NULL;
        unsigned seed = 3;

        o.top_max = 100;
        for (size_t i = 0; i < N; i++)
                ref[i] = (float)(rand_r(&seed) % 1000) / 100.0f;
        for (size_t i = 0; i < N; i++)
                qry[i] = ref[i], qry[N + i] = ref[i] + 0.5f; /* the repeat, a little off */
        assert_int_equal(dtw_align(ref, N, qry, 2 * N, 1, &o, &map, NULL), 0);
        assert_int_equal(map[0], 0);
        assert_int_equal(map[N / 2], N / 2);
        free(map);
        free(ref);
        free(qry);
}

/* Audio inserted between two sentences (the 50s) is passed over at the
 * gap price on the first sentence's last row, and only there. */
static void test_gap_rows(void **state) {
        const float a[] = {1, 2, 3, 7, 8, 9}, b[] = {1, 2, 3, 50, 50, 50, 50, 7, 8, 9};
        const uint8_t at_end[] = {0, 0, 1, 0, 0, 0}, elsewhere[] = {0, 0, 0, 0, 1, 0};
        struct seqs s = {a, b};
        int32_t lo[6], hi[6], first[6], last[6];
        struct dtw_costs c = {.up_penalty = 1.0f, .gap = 0.5f, .gap_rows = at_end};
        double total;

        full_band(6, 10, lo, hi);
        assert_int_equal(dtw_band_costs(6, lo, hi, absdist, &s, &c, first, last, &total), 0);
        assert_float_equal(total, 4 * 0.5, 1e-9);
        assert_int_equal(first[2], 2);
        assert_int_equal(last[2], 6);
        assert_int_equal(first[3], 7);
        assert_int_equal(last[5], 9);
        c.gap_rows = elsewhere; /* the cap only on row 4: the 50s cost more */
        assert_int_equal(dtw_band_costs(6, lo, hi, absdist, &s, &c, first, last, &total), 0);
        assert_true(total > 3.0);
        assert_int_not_equal(last[2], 6);
}

/* A sentence (20 21 22 0) the query lacks is jumped over from the pause
 * before it to the first row after it, at the jump price per row; too
 * dear a jump is not taken. */
static void test_jump(void **state) {
        const float a[] = {1, 2, 3, 0, 20, 21, 22, 0, 7, 8, 9}, b[] = {1, 2, 3, 0, 7, 8, 9};
        int32_t jump_from[11], lo[11], hi[11], first[11], last[11];
        struct seqs s = {a, b};
        struct dtw_costs c = {.up_penalty = 1.0f, .jump = 1.0f, .jump_from = jump_from};
        double total, plain;

        for (size_t i = 0; i < 11; i++)
                jump_from[i] = -1;
        jump_from[8] = 3;
        full_band(11, 7, lo, hi);
        assert_int_equal(dtw_band_costs(11, lo, hi, absdist, &s, &c, first, last, &total), 0);
        assert_float_equal(total, 4 * 1.0, 1e-9);
        assert_int_equal(last[3], 3);
        for (size_t i = 4; i < 8; i++) {
                assert_int_equal(first[i], 4);
                assert_int_equal(last[i], 4);
        }
        assert_int_equal(first[8], 4);
        assert_int_equal(last[10], 6);
        c.jump_from = NULL;
        assert_int_equal(dtw_band_costs(11, lo, hi, absdist, &s, &c, first, last, &plain), 0);
        assert_true(plain > 4.0);
        c.jump_from = jump_from;
        c.jump = 100.0f; /* dearer than matching it: not taken */
        assert_int_equal(dtw_band_costs(11, lo, hi, absdist, &s, &c, first, last, &total), 0);
        assert_float_equal(total, plain, 1e-9);
        jump_from[8] = 7; /* not over a row: malformed */
        assert_int_equal(dtw_band_costs(11, lo, hi, absdist, &s, &c, first, last, &total), -EINVAL);
}

/* The multi-level search with segments: three sentences of random
 * 4-dimensional frames with pauses; the query lacks the middle sentence
 * and has audio nothing matches inserted after the first pause. The
 * middle sentence is squeezed out of the way, the others land exactly. */
static void test_align_segments(void **state) {
        enum { S = 400, P = 20, N = 3 * S + 2 * P, INS = 300, D = 4 };
        float *ref = malloc(sizeof(float) * N * D), *qry = malloc(sizeof(float) * (N + INS) * D);
        size_t seg[3] = {0, S + P, 2 * (S + P)}, m = 0;
        struct dtw_opts o = DTW_OPTS_DEFAULT;
        int32_t *map = NULL;
        unsigned seed = 11;

        for (size_t i = 0; i < N * D; i++) /* sentences of random values 1..10, pauses at 0 */
                ref[i] = (i / D % (S + P)) < S ? 1.0f + (float)(rand_r(&seed) % 900) / 100.0f : 0.0f;
        for (size_t i = 0; i < (S + P) * D; i++) /* sentence 0 and its pause */
                qry[m++] = ref[i];
        for (size_t i = 0; i < INS * D; i++) /* inserted audio */
                qry[m++] = 30.0f + (float)(i % 7);
        for (size_t i = 2 * (S + P) * D; i < N * D; i++) /* sentence 2: 1 is missing */
                qry[m++] = ref[i];
        m /= D;
        o.top_max = 200;
        o.seg_start = seg;
        o.n_seg = 3;
        o.gap_ratio = 0.6f;
        o.jump_ratio = 0.6f;
        assert_int_equal(dtw_align(ref, N, qry, m, D, &o, &map, NULL), 0);
        assert_int_equal(map[0], 0);
        assert_int_equal(map[S / 2], S / 2);
        assert_true(map[seg[2] - 1] - map[seg[1]] <= 2 * P);    /* sentence 1: not stretched */
        assert_true(abs(map[seg[2]] - (S + P + INS)) <= 2 * P); /* not dragged into the insert */
        assert_int_equal(map[N - 1], (int32_t)m - 1);
        free(map);
        free(ref);
        free(qry);
}

/* Window plans: owned ranges tile the rows in order, meet at segment
 * starts near every win - overlap rows, and each window reaches past its
 * owned range into its neighbours'; short references get one window. */
static void test_plan_windows(void **state) {
        size_t seg[40];
        struct dtw_window *w = NULL;
        int k;

        for (size_t s = 0; s < 40; s++) /* sentences every 700 rows */
                seg[s] = s * 700;
        k = dtw_plan_windows(28000, seg, 40, 1200 * 10, 4000, &w);
        assert_int_equal(k, 4); /* 28000 rows in steps of 8000 */
        assert_int_equal(w[0].own0, 0);
        assert_int_equal(w[0].r0, 0);
        assert_int_equal(w[k - 1].own1, 28000);
        assert_int_equal(w[k - 1].r1, 28000);
        for (int j = 0; j < k; j++) {
                assert_true(w[j].r0 <= w[j].own0 && w[j].own0 < w[j].own1 && w[j].own1 <= w[j].r1);
                if (j == 0)
                        continue;
                assert_int_equal(w[j].own0, w[j - 1].own1);
                assert_int_equal(w[j].own0 % 700, 0); /* at a sentence start */
                assert_true(labs((long)w[j].own0 - 7000L * j) <= 350);
                assert_true(w[j].own0 - w[j].r0 >= 1000 && w[j].own0 - w[j].r0 <= 3000);
                assert_true(w[j - 1].r1 - w[j - 1].own1 >= 1000 && w[j - 1].r1 - w[j - 1].own1 <= 3000);
                assert_int_equal(w[j].r0 % 700, 0);
        }
        free(w);
        assert_int_equal(dtw_plan_windows(5000, NULL, 0, 12000, 4000, &w), 1);
        assert_int_equal(w[0].r0, 0);
        assert_int_equal(w[0].r1, 5000);
        free(w);
        assert_int_equal(dtw_plan_windows(5000, NULL, 0, 4000, 4000, &w), -EINVAL);
        assert_int_equal(dtw_plan_windows(0, NULL, 0, 12000, 4000, &w), -EINVAL);
}

/* Windowed alignment of a long reference whose query repeats the same
 * text twice, with "music" (frames nothing matches) between and before
 * them: every row lands exactly on its own copy, across the window seams
 * (the sentence before the break too: a window starting off the levels'
 * frame grid once put its end 48 frames late), and the repeat is not
 * skipped. */
static void test_align_windows(void **state) {
        enum { S = 300, NS = 12, D = 4, M = 150, HALF = S * NS, N = 2 * HALF };
        size_t m = 0, seg[2 * NS];
        float *ref = malloc(sizeof(float) * N * D), *qry = malloc(sizeof(float) * (N + 2 * M) * D);
        struct dtw_opts o = DTW_OPTS_DEFAULT;
        int32_t *map = NULL;
        unsigned seed = 5;

        for (size_t i = 0; i < HALF * D; i++) /* the text, read twice */
                ref[i] = ref[HALF * D + i] =
                        (i / D % S) < S - 20 ? 1.0f + (float)(rand_r(&seed) % 900) / 100.0f : 0.0f;
        for (size_t s = 0; s < 2 * NS; s++)
                seg[s] = s * S;
        for (int half = 0; half < 2; half++) {
                for (size_t i = 0; i < M * D; i++)
                        qry[m++] = 30.0f + (float)(i % 5);
                memcpy(qry + m, ref, sizeof(float) * HALF * D);
                m += HALF * D;
        }
        m /= D;
        o.top_max = 200;
        o.seg_start = seg;
        o.n_seg = 2 * NS;
        o.gap_ratio = 0.6f;
        o.seg_max_level = 3;
        o.win = 1500;
        o.win_overlap = 500;
        o.win_margin = 200;
        o.win_normalize = true;
        assert_int_equal(dtw_align(ref, N, qry, m, D, &o, &map, NULL), 0);
        for (size_t i = 0; i < N; i++) {
                int32_t want = (int32_t)(i < HALF ? M + i : 2 * M + i);

                if (i % S < S - 20) /* sentence rows: exactly on their own copy */
                        assert_int_equal(map[i], want);
                if (i > 0)
                        assert_true(map[i] >= map[i - 1]);
        }
        assert_int_equal(map[HALF], 2 * M + HALF); /* the repeat starts on time */
        free(map);
        free(ref);
        free(qry);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_identity),
                cmocka_unit_test(test_stretch),
                cmocka_unit_test(test_open_ends),
                cmocka_unit_test(test_band_limits),
                cmocka_unit_test(test_multilevel),
                cmocka_unit_test(test_skip_costs),
                cmocka_unit_test(test_repeated_opening),
                cmocka_unit_test(test_gap_rows),
                cmocka_unit_test(test_jump),
                cmocka_unit_test(test_align_segments),
                cmocka_unit_test(test_plan_windows),
                cmocka_unit_test(test_align_windows),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

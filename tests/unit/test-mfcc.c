/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-mfcc.c: the cepstra of a two-tone frame equal the ones worked out
 * here from the definitions (a naive DFT, HTK mel triangles, log, DCT-II),
 * silence gives the known floor, streaming in odd chunks gives the same
 * frames as one feed, frame energy is a sine's A^2/2, and CMVN normalises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mfcc.h"

#define RATE 16000
#define FFT 512
#define WIN 400
#define HOP 160
#define MELS 26
#define CEPS 13

static const struct mfcc_opts opts = {RATE, FFT, WIN, HOP, MELS, CEPS, 100.0, 7000.0};

static double mel(double f) {
        return 2595.0 / M_LN10 * log(1.0 + f / 700.0); /* HTK: 2595 log10(1 + f/700) */
}

/* The reference: straight from the formulas, in double, O(N^2). */
static void reference_ceps(const float *x, double *ret) {
        double power[FFT / 2 + 1], logmel[MELS];
        double lo = mel(100.0), hi = mel(7000.0);

        for (int k = 0; k <= FFT / 2; k++) {
                double re = 0, im = 0;
                for (int n = 0; n < WIN; n++) {
                        double w = sin(M_PI * n / WIN) * sin(M_PI * n / WIN); /* periodic Hann */
                        re += x[n] * w * cos(2 * M_PI * k * n / FFT);
                        im -= x[n] * w * sin(2 * M_PI * k * n / FFT);
                }
                power[k] = re * re + im * im;
        }
        for (int b = 0; b < MELS; b++) {
                double ml = lo + (hi - lo) * b / (MELS + 1), mc = lo + (hi - lo) * (b + 1) / (MELS + 1),
                       mr = lo + (hi - lo) * (b + 2) / (MELS + 1), e = 0;
                for (int k = 0; k <= FFT / 2; k++) {
                        /* triangle weights are linear in Hz, not mel: convert back */
                        double f = (double)k * RATE / FFT, fl = 700 * (exp(ml * M_LN10 / 2595.0) - 1),
                               fc = 700 * (exp(mc * M_LN10 / 2595.0) - 1),
                               fr = 700 * (exp(mr * M_LN10 / 2595.0) - 1);
                        if (f > fl && f <= fc)
                                e += power[k] * (f - fl) / (fc - fl);
                        else if (f > fc && f < fr)
                                e += power[k] * (fr - f) / (fr - fc);
                }
                logmel[b] = log(e + 1e-10);
        }
        for (int n = 0; n < CEPS; n++) {
                double c = 0;
                for (int m = 0; m < MELS; m++)
                        c += logmel[m] * cos(M_PI * n * (m + 0.5) / MELS);
                ret[n] = c * sqrt((n == 0 ? 1.0 : 2.0) / MELS);
        }
}

static void test_matches_formula(void **state) {
        struct mfcc *m = NULL;
        float x[WIN], got[CEPS];
        double want[CEPS];

        for (int n = 0; n < WIN; n++)
                x[n] = (float)(0.5 * sin(2 * M_PI * 1000.0 * n / RATE) +
                               0.25 * cos(2 * M_PI * 3100.0 * n / RATE + 0.3));
        assert_int_equal(mfcc_new(&opts, &m), 0);
        mfcc_frame(m, x, got);
        reference_ceps(x, want);
        for (int n = 0; n < CEPS; n++)
                assert_float_equal(got[n], want[n], 1e-3 * fmax(1.0, fabs(want[n])));
        mfcc_free(m);
}

static void test_silence_floor(void **state) {
        struct mfcc *m = NULL;
        float x[WIN] = {}, got[CEPS];

        assert_int_equal(mfcc_new(&opts, &m), 0);
        mfcc_frame(m, x, got);
        /* every log-mel is log(1e-10): c0 = sqrt(M) * log(1e-10), the rest 0 */
        assert_float_equal(got[0], sqrt(MELS) * log(1e-10), 1e-2);
        for (int n = 1; n < CEPS; n++)
                assert_float_equal(got[n], 0.0, 1e-3);
        mfcc_free(m);
}

static void test_streaming_and_energy(void **state) {
        enum { N = 4000 };
        struct mfcc *one = NULL, *chunked = NULL;
        int16_t *pcm = malloc(sizeof(int16_t) * N);
        const float *f1, *f2, *energy;
        size_t n1, n2, pos = 0, step = 1;

        for (int i = 0; i < N; i++) /* 1 kHz: 16 samples a period, 25 periods a window */
                pcm[i] = (int16_t)lrint(16384.0 * sin(2 * M_PI * 1000.0 * i / RATE));
        assert_int_equal(mfcc_new(&opts, &one), 0);
        assert_int_equal(mfcc_new(&opts, &chunked), 0);
        assert_int_equal(mfcc_feed(one, pcm, N), 0);
        while (pos < N) {
                size_t k = step < N - pos ? step : N - pos;
                assert_int_equal(mfcc_feed(chunked, pcm + pos, k), 0);
                pos += k;
                step = step * 3 + 1;
        }
        f1 = mfcc_frames(one, &n1, &energy);
        f2 = mfcc_frames(chunked, &n2, NULL);
        assert_int_equal(n1, 1 + (N - WIN) / HOP);
        assert_int_equal(n2, n1);
        assert_memory_equal(f1, f2, sizeof(float) * n1 * CEPS);
        for (size_t i = 0; i < n1; i++) /* mean square of 0.5 sin = 0.125 */
                assert_float_equal(energy[i], log10(0.125), 1e-3);
        mfcc_free(one);
        mfcc_free(chunked);
        free(pcm);
}

static void test_cmvn(void **state) {
        float f[5 * 2] = {1, 7, 2, 7, 3, 7, 4, 7, 5, 7};
        double s = 0, sq = 0;

        mfcc_cmvn(f, 5, 2);
        for (int i = 0; i < 5; i++) {
                s += f[i * 2];
                sq += f[i * 2] * f[i * 2];
                assert_float_equal(f[i * 2 + 1], 0.0, 1e-6); /* constant dimension */
        }
        assert_float_equal(s / 5, 0.0, 1e-6);
        assert_float_equal(sq / 5, 1.0, 1e-5);
        assert_float_equal(f[0], -2.0 / sqrt(2.0), 1e-5); /* (1-3)/sqrt(2) */
}

static void test_bad_options(void **state) {
        struct mfcc_opts o = opts;
        struct mfcc *m = NULL;

        o.win = FFT + 1; /* window longer than the FFT */
        assert_int_equal(mfcc_new(&o, &m), -EINVAL);
        o = opts;
        o.fft_size = 500; /* not a power of two */
        assert_int_equal(mfcc_new(&o, &m), -EINVAL);
        o = opts;
        o.fmax = RATE; /* above Nyquist */
        assert_int_equal(mfcc_new(&o, &m), -EINVAL);
        assert_null(m);
        assert_null(mfcc_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_matches_formula),      cmocka_unit_test(test_silence_floor),
                cmocka_unit_test(test_streaming_and_energy), cmocka_unit_test(test_cmvn),
                cmocka_unit_test(test_bad_options),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

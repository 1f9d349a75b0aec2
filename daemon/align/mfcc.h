/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mfcc.h: streaming mel-frequency cepstral coefficients (FFTW real FFT,
 * Hann window no longer than the FFT, triangular HTK mel filterbank,
 * orthonormal DCT-II) and per-file cepstral mean/variance normalisation.
 * One handle belongs to one thread; handles may live on several threads
 * (plan creation is serialised inside). No I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct mfcc_opts {
        int rate;          /* samples per second of the input */
        int fft_size;      /* power of two, >= win */
        int win;           /* analysis window (Hann), samples */
        int hop;           /* samples between frame starts */
        int n_mels;        /* triangular filters */
        int n_ceps;        /* coefficients kept, c0..c(n_ceps-1) */
        double fmin, fmax; /* filterbank edges, Hz; fmax <= rate/2 */
};
/* 20 ms Hann in a 512-point FFT, 10 ms hop, 40 mels 60..7600 Hz, 13 ceps. */
struct mfcc_opts mfcc_opts_default(int rate);

struct mfcc;

/* -EINVAL for inconsistent options, -ENOMEM. */
int mfcc_new(const struct mfcc_opts *o, struct mfcc **ret);
struct mfcc *mfcc_free(struct mfcc *m);

/* Appends samples; computes every frame whose window is complete (frame i
 * covers samples [i*hop, i*hop+win)). 0 or -ENOMEM. */
int mfcc_feed(struct mfcc *m, const int16_t *pcm, size_t n);

/* Frames so far: n_frames x n_ceps floats, row-major; valid until the next
 * feed. With ret_energy, also each frame's log10 mean square (window-free). */
const float *mfcc_frames(const struct mfcc *m, size_t *ret_n, const float **ret_energy);

/* Hands the frame array (and, with ret_energy, the energy array) to the
 * caller (free()); the handle forgets them. */
float *mfcc_steal(struct mfcc *m, size_t *ret_n, float **ret_energy);

/* Cepstra of one window of exactly o->win samples (float, full scale 1.0)
 * into ret (n_ceps floats). For tests and one-off use. */
void mfcc_frame(struct mfcc *m, const float *x, float *ret);

/* Noise-floor matching: a story with room noise or a music bed never
 * falls to the digital silence of synthesized speech. mfcc_floor gives,
 * per mel band, the Q-quantile (0..1) of the band power over the frames
 * fed so far (from a histogram of 1/4 neper steps: no frames kept);
 * mfcc_set_floor adds such powers (n_mels values, copied; NULL: none) to
 * every later frame's band powers before the log, so the reference sounds
 * as if it were read over the same floor. */
void mfcc_floor(const struct mfcc *m, double q, float *ret);
void mfcc_set_floor(struct mfcc *m, const float *floor);

/* Per-dimension mean 0 and variance 1 over the n rows (a constant
 * dimension becomes 0). Pure. */
void mfcc_cmvn(float *feat, size_t n, size_t dim);

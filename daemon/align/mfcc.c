/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mfcc.c: the features the aligner compares, computed while the audio
 * streams in so neither the decoded story nor the synthesized speech is
 * ever held whole (a 60-minute story would be 150 MB of samples; its
 * frames are 20 MB). Each frame: Hann window, FFTW r2c, power spectrum,
 * HTK mel triangles, natural log with a floor, orthonormal DCT-II.
 *
 * FFTW's planner is not thread-safe ("the only thread-safe routine in FFTW
 * is fftw_execute"), so plan creation and destruction hold a lock; the
 * aligner may run on a worker while tests or other workers do too. */
#include "mfcc.h"

#include <errno.h>
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

#define LOG_FLOOR 1e-10 /* power floor: silence gives a finite, equal log */
#define HIST_LO (-24.0) /* log band power histogram: ln(1e-10) and up */
#define HIST_STEP 0.25
#define HIST_BINS 160

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

struct mfcc {
        struct mfcc_opts o;
        double *in;        /* fft_size, FFTW-aligned */
        fftw_complex *out; /* fft_size/2+1 */
        fftw_plan plan;
        float *window;          /* win */
        float *fbank;           /* n_mels x n_bins weights */
        int *band_lo, *band_hi; /* per mel: the bins with nonzero weight, [lo, hi) */
        float *dct;             /* n_ceps x n_mels */
        float *logmel;          /* n_mels scratch */
        float *floor;           /* n_mels powers added before the log, or NULL */
        uint32_t *hist;         /* n_mels x HIST_BINS counts of log band power */
        float *frame;           /* win scratch */
        int16_t *buf;           /* pending samples, < win + hop */
        size_t n_buf;
        float *feat;   /* n_frames x n_ceps */
        float *energy; /* n_frames */
        size_t n_frames, cap;
};

struct mfcc_opts mfcc_opts_default(int rate) {
        int fft = 512;

        while (fft < rate / 50)
                fft *= 2;
        return (struct mfcc_opts){
                .rate = rate,
                .fft_size = fft,
                .win = rate / 50,
                .hop = rate / 100,
                .n_mels = 40,
                .n_ceps = 13,
                .fmin = 60,
                .fmax = MIN(7600.0, rate / 2.0),
        };
}

static double hz_to_mel(double f) {
        return 2595.0 * log10(1.0 + f / 700.0);
}

static double mel_to_hz(double m) {
        return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
}

/* Triangles with peaks equally spaced on the mel scale, weights evaluated
 * at each bin's frequency (not rounded to bins, so narrow low filters
 * never vanish at small FFT sizes). */
static void build_fbank(struct mfcc *m) {
        int n_bins = m->o.fft_size / 2 + 1;
        double lo = hz_to_mel(m->o.fmin), hi = hz_to_mel(m->o.fmax);

        for (int b = 0; b < m->o.n_mels; b++) {
                double l = mel_to_hz(lo + (hi - lo) * b / (m->o.n_mels + 1));
                double c = mel_to_hz(lo + (hi - lo) * (b + 1) / (m->o.n_mels + 1));
                double r = mel_to_hz(lo + (hi - lo) * (b + 2) / (m->o.n_mels + 1));

                for (int k = 0; k < n_bins; k++) {
                        double f = (double)k * m->o.rate / m->o.fft_size, w = 0;

                        if (f > l && f <= c)
                                w = (f - l) / (c - l);
                        else if (f > c && f < r)
                                w = (r - f) / (r - c);
                        m->fbank[(size_t)b * n_bins + k] = (float)w;
                        if (w > 0 && m->band_hi[b] == 0)
                                m->band_lo[b] = k;
                        if (w > 0)
                                m->band_hi[b] = k + 1;
                }
        }
}

static void build_tables(struct mfcc *m) {
        int M = m->o.n_mels;

        for (int i = 0; i < m->o.win; i++) /* periodic Hann */
                m->window[i] = (float)(0.5 - 0.5 * cos(2 * M_PI * i / m->o.win));
        build_fbank(m);
        for (int n = 0; n < m->o.n_ceps; n++)
                for (int j = 0; j < M; j++)
                        m->dct[n * M + j] =
                                (float)(sqrt((n == 0 ? 1.0 : 2.0) / M) * cos(M_PI * n * (j + 0.5) / M));
}

static bool opts_valid(const struct mfcc_opts *o) {
        return o->rate > 0 && o->fft_size >= 16 && (o->fft_size & (o->fft_size - 1)) == 0 && o->win > 0 &&
               o->win <= o->fft_size && o->hop > 0 && o->hop <= o->win && o->n_mels > 0 && o->n_ceps > 0 &&
               o->n_ceps <= o->n_mels && o->fmin >= 0 && o->fmax > o->fmin && o->fmax <= o->rate / 2.0;
}

int mfcc_new(const struct mfcc_opts *o, struct mfcc **ret) {
        struct mfcc *m;
        int n_bins = o->fft_size / 2 + 1;

        if (!opts_valid(o))
                return -EINVAL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->o = *o;
        m->in = fftw_alloc_real(o->fft_size);
        m->out = fftw_alloc_complex(n_bins);
        m->window = malloc(sizeof(float) * o->win);
        m->frame = malloc(sizeof(float) * o->win);
        m->fbank = malloc(sizeof(float) * o->n_mels * n_bins);
        m->dct = malloc(sizeof(float) * o->n_ceps * o->n_mels);
        m->logmel = malloc(sizeof(float) * o->n_mels);
        m->band_lo = calloc(o->n_mels, sizeof(int));
        m->band_hi = calloc(o->n_mels, sizeof(int));
        m->hist = calloc((size_t)o->n_mels * HIST_BINS, sizeof(uint32_t));
        m->buf = malloc(sizeof(int16_t) * (o->win + o->hop));
        if (!m->in || !m->out || !m->window || !m->frame || !m->fbank || !m->dct || !m->logmel || !m->buf ||
            !m->band_lo || !m->band_hi || !m->hist) {
                mfcc_free(m);
                return -ENOMEM;
        }
        pthread_mutex_lock(&plan_lock);
        m->plan = fftw_plan_dft_r2c_1d(o->fft_size, m->in, m->out, FFTW_ESTIMATE);
        pthread_mutex_unlock(&plan_lock);
        if (!m->plan) {
                mfcc_free(m);
                return -ENOMEM;
        }
        build_tables(m);
        *ret = m;
        return 0;
}

struct mfcc *mfcc_free(struct mfcc *m) {
        if (!m)
                return NULL;
        if (m->plan) {
                pthread_mutex_lock(&plan_lock);
                fftw_destroy_plan(m->plan);
                pthread_mutex_unlock(&plan_lock);
        }
        fftw_free(m->in);
        fftw_free(m->out);
        free(m->window);
        free(m->frame);
        free(m->fbank);
        free(m->dct);
        free(m->logmel);
        free(m->band_lo);
        free(m->band_hi);
        free(m->hist);
        free(m->floor);
        free(m->buf);
        free(m->feat);
        free(m->energy);
        free(m);
        return NULL;
}

void mfcc_frame(struct mfcc *m, const float *x, float *ret) {
        int n_bins = m->o.fft_size / 2 + 1;

        for (int i = 0; i < m->o.win; i++)
                m->in[i] = x[i] * m->window[i];
        for (int i = m->o.win; i < m->o.fft_size; i++)
                m->in[i] = 0;
        fftw_execute(m->plan);
        for (int b = 0; b < m->o.n_mels; b++) {
                const float *w = m->fbank + (size_t)b * n_bins;
                double e = 0;

                for (int k = m->band_lo[b]; k < m->band_hi[b]; k++)
                        e += w[k] * (m->out[k][0] * m->out[k][0] + m->out[k][1] * m->out[k][1]);
                if (m->floor)
                        e += m->floor[b];
                m->logmel[b] = (float)log(e + LOG_FLOOR);
        }
        for (int n = 0; n < m->o.n_ceps; n++) {
                double c = 0;

                for (int j = 0; j < m->o.n_mels; j++)
                        c += m->dct[n * m->o.n_mels + j] * m->logmel[j];
                ret[n] = (float)c;
        }
}

static int grow(struct mfcc *m) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        float *f, *e;

        f = realloc(m->feat, sizeof(float) * cap * m->o.n_ceps);
        if (!f)
                return -ENOMEM;
        m->feat = f;
        e = realloc(m->energy, sizeof(float) * cap);
        if (!e)
                return -ENOMEM;
        m->energy = e;
        m->cap = cap;
        return 0;
}

static int emit_frame(struct mfcc *m) {
        double sq = 0;
        int r;

        if (m->n_frames == m->cap && (r = grow(m)) < 0)
                return r;
        for (int i = 0; i < m->o.win; i++) {
                m->frame[i] = m->buf[i] / 32768.0f;
                sq += (double)m->frame[i] * m->frame[i];
        }
        mfcc_frame(m, m->frame, m->feat + m->n_frames * m->o.n_ceps);
        for (int b = 0; b < m->o.n_mels; b++) {
                int k = (int)floor((m->logmel[b] - HIST_LO) / HIST_STEP);

                m->hist[(size_t)b * HIST_BINS + MIN(MAX(k, 0), HIST_BINS - 1)]++;
        }
        m->energy[m->n_frames] = (float)log10(sq / m->o.win + LOG_FLOOR);
        m->n_frames++;
        return 0;
}

int mfcc_feed(struct mfcc *m, const int16_t *pcm, size_t n) {
        size_t room = (size_t)(m->o.win + m->o.hop);
        int r;

        while (n > 0) {
                size_t k = MIN(n, room - m->n_buf);

                memcpy(m->buf + m->n_buf, pcm, k * sizeof(int16_t));
                m->n_buf += k;
                pcm += k;
                n -= k;
                while (m->n_buf >= (size_t)m->o.win) {
                        r = emit_frame(m);
                        if (r < 0)
                                return r;
                        m->n_buf -= m->o.hop;
                        memmove(m->buf, m->buf + m->o.hop, m->n_buf * sizeof(int16_t));
                }
        }
        return 0;
}

const float *mfcc_frames(const struct mfcc *m, size_t *ret_n, const float **ret_energy) {
        *ret_n = m->n_frames;
        if (ret_energy)
                *ret_energy = m->energy;
        return m->feat;
}

float *mfcc_steal(struct mfcc *m, size_t *ret_n, float **ret_energy) {
        *ret_n = m->n_frames;
        m->n_frames = m->cap = 0;
        if (ret_energy)
                *ret_energy = TAKE_PTR(m->energy);
        free(m->energy);
        m->energy = NULL;
        return TAKE_PTR(m->feat);
}

void mfcc_floor(const struct mfcc *m, double q, float *ret) {
        for (int b = 0; b < m->o.n_mels; b++) {
                const uint32_t *h = m->hist + (size_t)b * HIST_BINS;
                uint64_t total = 0, seen = 0;
                int k = 0;

                for (int i = 0; i < HIST_BINS; i++)
                        total += h[i];
                for (; k < HIST_BINS - 1; k++) {
                        seen += h[k];
                        if ((double)seen > q * (double)total)
                                break;
                }
                /* The bin's middle, as a power; an empty or silent floor adds nothing. */
                ret[b] = total == 0 || k == 0 ? 0.0f : (float)exp(HIST_LO + (k + 0.5) * HIST_STEP);
        }
}

void mfcc_set_floor(struct mfcc *m, const float *floor) {
        free(m->floor);
        m->floor = NULL;
        if (!floor)
                return;
        m->floor = malloc(sizeof(float) * m->o.n_mels);
        if (m->floor) /* without memory the floor is simply not matched */
                memcpy(m->floor, floor, sizeof(float) * m->o.n_mels);
}

void mfcc_cmvn(float *feat, size_t n, size_t dim) {
        for (size_t d = 0; d < dim; d++) {
                double s = 0, sq = 0, mean, sd;

                if (n == 0)
                        return;
                for (size_t i = 0; i < n; i++)
                        s += feat[i * dim + d];
                mean = s / n;
                for (size_t i = 0; i < n; i++) {
                        double v = feat[i * dim + d] - mean;
                        sq += v * v;
                }
                sd = sqrt(sq / n);
                for (size_t i = 0; i < n; i++)
                        feat[i * dim + d] = sd > 1e-9 ? (float)((feat[i * dim + d] - mean) / sd) : 0.0f;
        }
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* align.c: the engines' common ground, and align_cues choosing between
 * them. Both engines stream the story through a 2 ms envelope (wave and
 * highs) while they decode it (align-espeak.c, align-acoustic.c); here the
 * cue starts they find are checked (too few trusted cues: the text and the
 * audio disagree), the untrusted ones placed between trusted neighbours,
 * and every start moved to the nearest speech onset within snap_ms: a
 * start from a path or a decoder is only as sharp as a 10 ms frame, an
 * onset (10 ms level rising through a threshold after a pause) is sharper.
 * Over noise an onset moves back to where its highs rise: an "f" or "h"
 * under a music bed. */
#include "align.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "align-internal.h"
#include "asr.h"
#include "cleanup.h"
#include "log.h"
#include "mfcc.h"
#include "segment.h"

#define WIN_BLOCKS 5          /* 10 ms level window, in blocks */
#define GAP_BLOCKS 20         /* 40 ms below threshold before an onset */
#define NOISE_OVER 8.0f       /* onset threshold over the noise floor: 9 dB */
#define RISE_BLOCKS 20        /* an onset over noise moves back at most 40 ms, */
#define HF_BACK 60            /* or where its highs begin, at most 120 ms */
#define HF_SPAN 100           /* the highs' floor: the 200 ms before that reach */
#define HF_OVER 10.0f         /* highs this much over their floor: 10 dB */
#define HINT_PAUSE_BLOCKS 100 /* 200 ms: a sentence pause before an untrusted cue's decoded start */
#define FORWARD_MS 1500       /* a start in a pause moves at most this far to the next onset */
#define CHARS_PER_S 12        /* reading pace for the audio length bound (espeak-ng: ~18) */
#define MAX_AUDIO_FACTOR 4
#define MAX_AUDIO_EXTRA_S 600
#define STRETCH_EXTRA_S                                                                                     \
        2 /* untrusted cues: audio between neighbours this much over 1.5x synthesis holds more than speech  \
           */

void aligner_done(struct aligner *al) {
        mfcc_free(al->ma);
        mfcc_free(al->ms);
        free(al->env);
        free(al->env_hf);
        free(al->cue_synth);
        free(al->cue_synth_end);
        free(al->seg_start);
}

static int env_grow(struct aligner *al) {
        size_t cap = al->cap_env ? al->cap_env * 2 : 4096;
        float *p = realloc(al->env, sizeof(float) * cap), *q;

        if (!p)
                return -ENOMEM;
        al->env = p;
        q = realloc(al->env_hf, sizeof(float) * cap);
        if (!q)
                return -ENOMEM;
        al->env_hf = q;
        al->cap_env = cap;
        return 0;
}

/* Two envelopes per ENV_MS block: the wave's and its second difference's
 * (x[n] - 2x[n-1] + x[n-2]: +12 dB per octave, -22 dB at 1 kHz at
 * 22 kHz), in which an "f" or "h" stands 20 dB or more over a music bed
 * that hides it in the first. */
int aligner_env_push(struct aligner *al, const int16_t *pcm, size_t n) {
        const double scale = 32768.0 * 32768.0 * al->block;

        for (size_t i = 0; i < n; i++) {
                int32_t hf = pcm[i] - 2 * al->x1 + al->x2;

                al->x2 = al->x1;
                al->x1 = pcm[i];
                al->block_sum += (double)pcm[i] * pcm[i];
                al->block_sum_hf += (double)hf * hf;
                if (++al->block_fill < al->block)
                        continue;
                if (al->n_env == al->cap_env && env_grow(al) < 0)
                        return -ENOMEM;
                al->env[al->n_env] = (float)(al->block_sum / scale);
                al->env_hf[al->n_env++] = (float)(al->block_sum_hf / scale);
                al->block_sum = al->block_sum_hf = 0;
                al->block_fill = 0;
        }
        return 0;
}

static int cmp_float(const void *a, const void *b) {
        float x = *(const float *)a, y = *(const float *)b;

        return (x > y) - (x < y);
}

static float level10(const struct aligner *al, size_t p) {
        float s = 0;

        for (size_t q = p; q < p + WIN_BLOCKS && q < al->n_env; q++)
                s += al->env[q];
        return s / WIN_BLOCKS;
}

/* Onset threshold: 33 dB under the loud end of the speech (the 95th
 * percentile of 10 ms levels), but clear of a noise floor (its 10th
 * percentile: the pauses) by 9 dB, so that room noise or a music bed does
 * not make onsets of its own. For clean speech levelled to -20 dBFS that is
 * the -45 dBFS at which a word is audible; over noise a word crosses it a
 * little late, so there an onset is walked back down its rise. */
static float onset_threshold(struct aligner *al) {
        size_t n = al->n_env / WIN_BLOCKS;
        _cleanup_free_ float *lv = malloc(sizeof(float) * (n + 1));
        float hi, lo;

        if (!lv || n == 0)
                return INFINITY;
        for (size_t i = 0; i < n; i++)
                lv[i] = level10(al, i * WIN_BLOCKS);
        qsort(lv, n, sizeof(float), cmp_float);
        hi = lv[n * 95 / 100];
        lo = lv[n / 10];
        al->rise_floor = lo * NOISE_OVER > hi * 5e-4f ? lo * 2.0f : INFINITY;
        return MAX(hi * 5e-4f, lo * NOISE_OVER);
}

/* The highs' floor before block B: the median block of the HF_SPAN
 * blocks before it (0: too few). */
static float hf_floor(const struct aligner *al, int64_t b) {
        float v[HF_SPAN];
        size_t n = 0;

        for (int64_t q = MAX(b - HF_SPAN, (int64_t)0); q < b; q++)
                v[n++] = al->env_hf[q];
        if (n < HF_SPAN / 2)
                return 0;
        qsort(v, n, sizeof(float), cmp_float);
        return v[n / 2];
}

/* Over noise, a word that opens on a fricative or an aspiration ("f",
 * "h") crosses the threshold only at its vowel, 50-80 ms late, while its
 * highs rise over the noise's at once: the onset at block P moves back
 * while the highs stay HF_OVER over their floor before (one block's dip
 * allowed), if they fall back to it within HF_BACK: highs that go on
 * further back are the tail of something else (a plucked note of the bed). */
static int64_t hf_start(const struct aligner *al, int64_t p) {
        int64_t stop = MAX(p - HF_BACK, (int64_t)1), q = p;
        float thr = hf_floor(al, stop) * HF_OVER;

        if (!(thr > 0))
                return p;
        while (q > stop && (al->env_hf[q - 1] > thr || al->env_hf[q - 2] > thr))
                q--;
        if (q == stop)
                return p;
        while (q < p && al->env_hf[q] <= thr) /* not onto a dip */
                q++;
        return q;
}

/* Over noise: the onset at block P moves back while the level still falls
 * going back and stays 3 dB over the noise floor, at most RISE_BLOCKS,
 * then to where its highs begin. */
static int64_t rise_start(const struct aligner *al, int64_t p) {
        if (!isfinite(al->rise_floor))
                return p;
        for (int k = 0; k < RISE_BLOCKS && p > 0; k++, p--) {
                float prev = level10(al, (size_t)p - 1);

                if (!(prev > al->rise_floor) || prev >= level10(al, (size_t)p))
                        break;
        }
        return MIN(p, hf_start(al, p));
}

/* The speech onset nearest to audio sample S within snap_ms, or S. */
static int64_t snap_onset(const struct aligner *al, int64_t s, float thr, bool *ret_moved) {
        int64_t b = s / al->block, w = al->o->snap_ms / ENV_MS, best = -1;
        int64_t from = MAX(b - w - GAP_BLOCKS, (int64_t)0), to = MIN(b + w, (int64_t)al->n_env - 1);
        int64_t quiet = from == 0 ? GAP_BLOCKS : 0;

        for (int64_t p = from; p <= to; p++) {
                bool loud = level10(al, (size_t)p) >= thr;

                if (loud && quiet >= GAP_BLOCKS && p >= b - w &&
                    (best < 0 || llabs(p - b) < llabs(best - b)))
                        best = p;
                quiet = loud ? 0 : quiet + 1;
        }
        *ret_moved = best >= 0;
        return best >= 0 ? rise_start(al, best) * al->block : s;
}

/* A start the path puts in a pause (the 10 ms there under the threshold)
 * is early: the words cannot have begun in silence. It moves to the next
 * onset, at most FORWARD_MS on and never past LIMIT (the next cue's path
 * start). 1: moved, 0: not in a pause or no onset in reach. */
static int forward_onset(const struct aligner *al, int64_t *s, int64_t limit, float thr) {
        int64_t b = *s / al->block, to = MIN((b * ENV_MS + FORWARD_MS) / ENV_MS, limit / al->block);

        to = MIN(to, (int64_t)al->n_env - 1);
        if (b >= (int64_t)al->n_env || level10(al, (size_t)b) >= thr)
                return 0;
        for (int64_t p = b + 1; p <= to; p++)
                if (level10(al, (size_t)p) >= thr) {
                        *s = rise_start(al, p) * al->block;
                        return 1;
                }
        return 0;
}

/* Trusted neighbours AUDIO samples apart whose words are SYNTH apart in
 * synthesis: far more audio than a slow reader needs. */
static bool stretched(int64_t audio, int64_t synth, int rate) {
        return audio > synth * 3 / 2 + (int64_t)STRETCH_EXTRA_S * rate;
}

/* An untrusted cue's own start from the acoustic decoder (HINT, -1:
 * none; only cues that open a sentence have one) is kept when it lies
 * after the cue before and before the next trusted one, and a speech
 * onset after a sentence pause (HINT_PAUSE_BLOCKS of quiet, longer than
 * the gaps between words) is within snap_ms of it:
 * a sentence opening on a short function word after a pause ("The job")
 * scores badly and makes its cue untrusted although the decoder placed it
 * right, and the interpolated start then lands inside its words, too far
 * from the onset to snap back. Where the text lacks audio between the
 * neighbours, or no onset is near, the cue is interpolated. */
static bool keep_hint(const struct aligner *al, int64_t hint, int64_t after, int64_t before, float thr) {
        bool moved = false;
        int64_t ob;

        if (hint <= after || hint >= before)
                return false;
        ob = snap_onset(al, hint, thr, &moved) / al->block;
        if (!moved || ob < HINT_PAUSE_BLOCKS)
                return false;
        for (int64_t p = ob - HINT_PAUSE_BLOCKS; p < ob - WIN_BLOCKS; p++)
                if (level10(al, (size_t)p) >= thr)
                        return false;
        return true;
}

/* Untrusted cues: placed between the trusted neighbours in proportion to
 * synthesized time (a cue without words counts as at its predecessor),
 * unless HINT (NULL: none) holds a start keep_hint() accepts. */
static size_t interpolate(const struct aligner *al, size_t n, const double *conf, int64_t *start,
                          const int64_t *hint, float thr) {
        size_t fixed = 0;

        for (size_t k = 0; k < n; k++) {
                int64_t a = -1, b = -1, sk, sa, sb;

                if (conf[k] >= TRUST_MIN)
                        continue;
                for (size_t q = k; q-- > 0;)
                        if (conf[q] >= TRUST_MIN) {
                                a = (int64_t)q;
                                break;
                        }
                for (size_t q = k + 1; q < n; q++)
                        if (conf[q] >= TRUST_MIN) {
                                b = (int64_t)q;
                                break;
                        }
                sk = al->cue_synth[k];
                for (size_t q = k; sk < 0 && q-- > 0;)
                        sk = al->cue_synth[q];
                sk = MAX(sk, (int64_t)0);
                sa = a >= 0 ? al->cue_synth[a] : 0;
                sb = b >= 0 ? al->cue_synth[b] : 0;
                if (hint && hint[k] >= 0 && al->cue_synth[k] >= 0 &&
                    !(a >= 0 && b >= 0 && sb > sa && stretched(start[b] - start[a], sb - sa, al->rate)) &&
                    keep_hint(al, hint[k], k > 0 ? start[k - 1] : 0, b >= 0 ? start[b] : INT64_MAX, thr))
                        start[k] = hint[k];
                else if (a >= 0 && b >= 0 && sb > sa && stretched(start[b] - start[a], sb - sa, al->rate))
                        /* Audio the text lacks (a music intro) lies between:
                         * the cue keeps its synthesized distance to the
                         * nearer neighbour rather than drifting into it. */
                        start[k] = sk - sa <= sb - sk ? start[a] + (sk - sa)
                                                      : MAX(start[b] - (sb - sk), start[a]);
                else if (a >= 0 && b >= 0 && sb > sa)
                        start[k] = start[a] + (start[b] - start[a]) * (sk - sa) / (sb - sa);
                else if (a >= 0)
                        start[k] = start[a] + (sk - sa);
                else if (b >= 0)
                        start[k] = MAX(start[b] - (sb - sk), (int64_t)0);
                fixed++;
        }
        return fixed;
}

/* The mean confidence of the cues with words. Text in another language
 * (or another story) still gets a path, and a few of its cues match by
 * chance, but on the whole it matches hardly better there than shifted:
 * measured 0.17 for Spanish over an English story, 0.85 or more for
 * every story of its own text, a missing sentence included. */
static double mean_confidence(const struct aligner *al, size_t n, const double *conf) {
        double s = 0;
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                if (al->cue_synth[i] >= 0) {
                        s += conf[i];
                        k++;
                }
        return k ? s / (double)k : 0.0;
}

/* Starts from the path, the untrusted ones interpolated, then all
 * snapped to onsets. */
int aligner_place_cues(struct aligner *al, size_t n, const double *conf, double mean_min, int64_t *start,
                       const int64_t *hint, struct align_report *rep) {
        _cleanup_free_ int64_t *path = malloc(sizeof(int64_t) * n);
        float thr = onset_threshold(al);
        size_t trusted = 0;

        if (!path)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++)
                trusted += conf[k] >= TRUST_MIN;
        if (trusted == 0 || (double)trusted < al->o->min_trusted * (double)n)
                return log_warning_errno(EBADMSG,
                                         "align: only %zu of %zu cues match the audio: "
                                         "the text and the audio disagree",
                                         trusted, n);
        rep->mean_confidence = mean_confidence(al, n, conf);
        if (rep->mean_confidence < mean_min)
                return log_warning_errno(
                        EBADMSG,
                        "align: the text matches the audio hardly better than "
                        "shifted (mean confidence %.2f): another language or another story?",
                        mean_confidence(al, n, conf));
        rep->n_interpolated = interpolate(al, n, conf, start, hint, thr);
        memcpy(path, start, sizeof(int64_t) * n);
        for (size_t k = 0; k < n; k++) {
                bool moved = false;

                int64_t raw = start[k];

                if (forward_onset(al, &start[k], k + 1 < n ? path[k + 1] : INT64_MAX, thr))
                        moved = true;
                else
                        start[k] = snap_onset(al, raw, thr, &moved);
                rep->n_snapped += moved;
                log_debug("align: cue %zu: path %" PRIi64 " ms, start %" PRIi64 " ms, confidence %.2f", k,
                          raw * 1000 / al->rate, start[k] * 1000 / al->rate, conf[k]);
                if (k > 0)
                        start[k] = MAX(start[k], start[k - 1]);
        }
        return 0;
}

/* The longest story this text can belong to: MAX_AUDIO_FACTOR times its
 * reading time at a brisk CHARS_PER_S, plus MAX_AUDIO_EXTRA_S of music and
 * pauses. A 3-hour file under a one-minute text is not decoded to its end. */
int64_t align_max_story_samples(const struct cue_list *cues, int rate) {
        size_t chars = 0;

        for (size_t k = 0; k < cues->n_cues; k++)
                chars += cues->cues[k].spoken ? strlen(cues->cues[k].spoken) + 1 : 0;
        return ((int64_t)chars * MAX_AUDIO_FACTOR / CHARS_PER_S + MAX_AUDIO_EXTRA_S) * rate;
}

/* Digital silence or close to it (under -70 dBFS throughout). */
int aligner_check_length(const struct aligner *al, int64_t decoded, const char *path) {
        if (decoded <= al->max_samples)
                return 0;
        return log_warning_errno(EBADMSG,
                                 "align: '%s' runs far longer than its text can be read (over %" PRIi64
                                 " s): not aligning",
                                 path, al->max_samples / al->rate);
}

bool aligner_is_silent(const struct aligner *al) {
        for (size_t i = 0; i < al->n_env; i++)
                if (al->env[i] > 1e-7f)
                        return false;
        return true;
}

void align_report_done(struct align_report *r) {
        free(r->confidence);
        free(r->words);
        r->confidence = NULL;
        r->words = NULL;
}

static bool english(const char *voice) {
        return voice && (strncmp(voice, "en", 2) == 0) &&
               (voice[2] == '\0' || voice[2] == '-' || voice[2] == '+');
}

int align_cues(struct cue_list *cues, const char *audio_path, const struct align_opts *o,
               struct align_report *ret) {
        struct align_opts opts = o ? *o : ALIGN_OPTS_DEFAULT;
        struct align_report rep = {};
        int r;

        if (cues->n_cues == 0)
                return -EINVAL;
        if (opts.engine == ALIGN_ENGINE_ACOUSTIC ||
            (opts.engine == ALIGN_ENGINE_AUTO && english(opts.voice))) {
                r = align_acoustic(cues, audio_path, &opts, ret);
                if (r != -ENOENT || opts.engine == ALIGN_ENGINE_ACOUSTIC)
                        return r;
                log_info("align: no acoustic model in '%s': timing with espeak-ng", asr_model_dir());
        }
        r = align_espeak(cues, audio_path, &opts, &rep);
        if (r < 0)
                return r;
        {
                /* Word times: spread over each cue. */
                struct story_tokens st = {};

                rep.engine = "espeak";
                r = story_tokens(cues, &st);
                if (r >= 0)
                        r = align_fill_words(cues, &st, NULL, rep.confidence, &rep);
                story_tokens_done(&st);
                if (r == -EINVAL)
                        r = 0;
        }
        if (r < 0) {
                align_report_done(&rep);
                return r;
        }
        if (ret)
                *ret = rep;
        else
                align_report_done(&rep);
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* align.c: cue times from the audio itself. The story is decoded at the
 * synthesizer's own rate (mpg123 resamples), so both waves share one MFCC
 * configuration and no resampler is needed; both are turned into features
 * while they stream, so memory grows with frames (13 floats per 10 ms), not
 * with samples. espeak-ng reads the text one sentence per call, as a
 * newsreader would phrase it, and reports where each of our tokens starts
 * in its output; the DTW path carries those positions onto the story.
 *
 * A word's start from the path alone is only as sharp as a 10 ms frame and
 * the path's wobble, so a cue start is then moved to the nearest speech
 * onset (10 ms level rising through a threshold after a pause) within
 * snap_ms, measured on a 2 ms envelope of the story (over noise, back to
 * where its highs rise: an "f" or "h" under a music bed). The local DTW
 * distance around each cue's first words gives its confidence; cues that
 * match badly (a sentence missing from the audio, noise) are placed
 * between trusted neighbours by synthesized time instead of being dragged
 * along. The DTW knows the sentences: audio between two of them that the
 * text lacks is passed over at a price, and a sentence the audio lacks is
 * jumped over (its cues then count as untrusted). A cue starts where its synthesized
 * voice does, not at the lead-in silence espeak-ng reports it at. */
#include "align.h"

#include "asr.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "decoder.h"
#include "dtw.h"
#include "log.h"
#include "mfcc.h"
#include "segment.h"
#include "tts.h"

#define ENV_MS 2        /* envelope block */
#define WIN_BLOCKS 5    /* 10 ms level window, in blocks */
#define GAP_BLOCKS 20   /* 40 ms below threshold before an onset */
#define CONF_FRAMES 30  /* confidence: the cue's first 300 ms of synthesis */
#define CONF_SHIFT 30   /* frames: the path is compared with itself shifted this far */
#define CONF_MARGIN 0.3 /* path distance this much under the shifted one: full confidence */
#define FEAT_DIM 13
#define TRUST_MIN 0.25        /* below: interpolated */
#define NOISE_OVER 8.0f       /* onset threshold over the noise floor: 9 dB */
#define RISE_BLOCKS 20        /* an onset over noise moves back at most 40 ms, */
#define HF_BACK 60            /* or where its highs begin, at most 120 ms */
#define HF_SPAN 100           /* the highs' floor: the 200 ms before that reach */
#define HF_OVER 10.0f         /* highs this much over their floor: 10 dB */
#define HINT_PAUSE_BLOCKS 100 /* 200 ms: a sentence pause before an untrusted cue's decoded start */
#define FORWARD_MS 1500       /* a start in a pause moves at most this far to the next onset */
#define FLOOR_MELS 40         /* mfcc_opts_default's n_mels */
#define FLOOR_QUANTILE 0.1    /* the story's pauses: at least a tenth of its frames */
#define VOICE_WAIT_MS 500     /* a word's sound starts at most this long after its event */
#define CHARS_PER_S 12        /* reading pace for the audio length bound (espeak-ng: ~18) */
#define MAX_AUDIO_FACTOR 4
#define MAX_AUDIO_EXTRA_S 600
#define SKIP_RATIO 0.4f   /* open begin/end, per frame: under what a word costs on music */
#define SEG_MAX_LEVEL 3   /* gap and jump on frames of up to 80 ms */
#define GAP_RATIO 0.45f   /* audio between sentences passed over, per frame (dtw_opts) */
#define JUMP_RATIO 0.6f   /* a sentence the audio lacks left out, per frame */
#define MEAN_CONF_MIN 0.5 /* under it the whole alignment is untrusted: the estimate is used */
#define STRETCH_EXTRA_S                                                                                     \
        2 /* untrusted cues: audio between neighbours this much over 1.5x synthesis holds more than speech  \
           */
#define WIN_FRAMES 12000 /* long stories: aligned in windows of 2 minutes of synthesis, */
#define WIN_OVERLAP 4000 /* overlapping by 40 s, */
#define WIN_MARGIN 2000  /* each searched 20 s either side of where the whole-story pass put it */

struct aligner {
        struct align_opts o;
        int rate, hop, block;
        struct mfcc *ma, *ms;
        float *env;    /* story: mean square per ENV_MS block */
        float *env_hf; /* the same of its second difference (the highs) */
        size_t n_env, cap_env;
        double block_sum, block_sum_hf;
        int32_t x1, x2; /* the two samples before: the second difference */
        int block_fill;
        int64_t *cue_synth;     /* per cue: synth sample of its first word, -1: none */
        int64_t *cue_synth_end; /* per cue: synth sample where its sentence ends, -1: mid-sentence */
        int64_t synth_pos;
        size_t *seg_start; /* per sentence synthesized: its first synth frame */
        size_t n_seg;
        int64_t max_samples; /* story samples decoded at most: the text's reading time, generously */
        float rise_floor;    /* onsets in noise: walk back down the rise to this level */
};

static void aligner_done(struct aligner *al) {
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
static int env_push(struct aligner *al, const int16_t *pcm, size_t n) {
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

static int decode_audio(struct aligner *al, const char *path) {
        _cleanup_free_ int16_t *pcm = malloc(sizeof(int16_t) * 8192);
        struct decoder *d = NULL;
        ssize_t n;
        int r;

        if (!pcm)
                return -ENOMEM;
        r = decoder_open(path, al->rate, 1, &d);
        if (r < 0)
                return r;
        while ((n = decoder_read(d, pcm, 8192)) > 0) {
                if ((int64_t)al->n_env * al->block > al->max_samples) {
                        r = log_warning_errno(
                                EBADMSG,
                                "align: '%s' runs far longer than its text can be read (over %" PRIi64
                                " s): not aligning",
                                path, al->max_samples / al->rate);
                        break;
                }
                r = mfcc_feed(al->ma, pcm, (size_t)n);
                if (r >= 0)
                        r = env_push(al, pcm, (size_t)n);
                if (r < 0)
                        break;
        }
        decoder_free(d);
        if (r < 0)
                return r;
        return n < 0 ? (int)n : 0;
}

static int synth_audio(void *userdata, const int16_t *pcm, size_t n) {
        struct aligner *al = userdata;

        return mfcc_feed(al->ms, pcm, n) < 0;
}

/* The cues [c0, c1) of one sentence joined by spaces; ret_off[k]: byte
 * offset of cue c0+k in the result. */
static char *join_sentence(const struct cue_list *cues, size_t c0, size_t c1, size_t *ret_off) {
        size_t len = 1, pos = 0;
        char *s;

        for (size_t k = c0; k < c1; k++)
                len += strlen(cues->cues[k].spoken ? cues->cues[k].spoken : "") + 1;
        s = malloc(len);
        if (!s)
                return NULL;
        for (size_t k = c0; k < c1; k++) {
                const char *t = cues->cues[k].spoken ? cues->cues[k].spoken : "";

                ret_off[k - c0] = pos;
                memcpy(s + pos, t, strlen(t));
                pos += strlen(t);
                s[pos++] = ' ';
        }
        s[pos ? pos - 1 : 0] = '\0';
        return s;
}

/* Synthesizes one sentence and records where each of its cues starts. */
static int synth_sentence(struct aligner *al, const struct cue_list *cues, size_t c0, size_t c1) {
        _cleanup_free_ size_t *off = malloc(sizeof(size_t) * (c1 - c0 + 1));
        _cleanup_free_ struct tts_token *tok = NULL;
        _cleanup_free_ int64_t *starts = NULL;
        _cleanup_free_ char *text = NULL;
        struct tts_opts to = {al->o.voice, al->o.wpm};
        int64_t samples = 0;
        size_t t = 0;
        int n, r;

        if (!off || !(text = join_sentence(cues, c0, c1, off)))
                return -ENOMEM;
        off[c1 - c0] = strlen(text) + 1;
        n = tts_tokenize(text, &tok);
        if (n <= 0)
                return n; /* no words: cues stay untimed (-1) */
        starts = malloc(sizeof(int64_t) * n);
        if (!starts)
                return -ENOMEM;
        al->seg_start[al->n_seg++] = (size_t)(al->synth_pos / al->hop);
        r = tts_synth(text, &to, synth_audio, al, tok, (size_t)n, starts, &samples);
        if (r < 0)
                return r;
        for (size_t k = c0; k < c1; k++) {
                while (t < (size_t)n && tok[t].byte_start < off[k - c0])
                        t++;
                if (t < (size_t)n && tok[t].byte_start < off[k - c0 + 1])
                        al->cue_synth[k] = al->synth_pos + starts[t];
        }
        al->cue_synth_end[c1 - 1] = al->synth_pos + samples;
        al->synth_pos += samples;
        return 0;
}

static int synth_cues(struct aligner *al, const struct cue_list *cues) {
        size_t c0 = 0;
        int r;

        for (size_t k = 0; k < cues->n_cues; k++)
                al->cue_synth[k] = al->cue_synth_end[k] = -1;
        for (size_t k = 1; k <= cues->n_cues; k++) {
                if (k < cues->n_cues && cues->cues[k].sentence == cues->cues[c0].sentence)
                        continue;
                r = synth_sentence(al, cues, c0, k);
                if (r < 0)
                        return r;
                c0 = k;
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
        int64_t b = s / al->block, w = al->o.snap_ms / ENV_MS, best = -1;
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

/* Synth sample -> story sample through the path (same rate, same hop). */
static int64_t map_sample(const struct aligner *al, const int32_t *map, size_t n_s, int64_t s) {
        size_t i = MIN((size_t)(s / al->hop), n_s - 1);

        return (int64_t)map[i] * al->hop + MIN(s - (int64_t)i * al->hop, (int64_t)al->hop);
}

struct feats {
        const float *s, *a; /* synth and story frames, FEAT_DIM each */
        size_t n_s, n_a;
};

static float frame_dist(const struct feats *f, size_t i, int64_t j) {
        const float *x = f->s + i * FEAT_DIM, *y;
        float d = 0;

        j = MIN(MAX(j, (int64_t)0), (int64_t)f->n_a - 1);
        y = f->a + (size_t)j * FEAT_DIM;
        for (size_t q = 0; q < FEAT_DIM; q++)
                d += (x[q] - y[q]) * (x[q] - y[q]);
        return sqrtf(d);
}

/* Per cue: how much better its first words match where the path put them
 * than a few hundred ms off (both ways). The ratio, not the distance: a
 * voice far from the synthesizer's raises every distance of a turn alike,
 * while text the audio lacks (or noise) matches no better on the path than
 * beside it. 1: clearly distinct, 0: no better than shifted. */
static void cue_confidence(const struct aligner *al, const struct feats *f, const int32_t *map,
                           size_t n_cues, double *conf) {
        static const int shifts[] = {-CONF_SHIFT, -CONF_SHIFT / 2, CONF_SHIFT / 2, CONF_SHIFT};

        for (size_t k = 0; k < n_cues; k++) {
                double on = 0, off = 0;
                size_t i0, i1;

                conf[k] = 0;
                if (al->cue_synth[k] < 0)
                        continue;
                i0 = MIN((size_t)(al->cue_synth[k] / al->hop), f->n_s - 1);
                i1 = MIN(i0 + CONF_FRAMES, f->n_s);
                for (size_t i = i0; i < i1; i++) {
                        on += frame_dist(f, i, map[i]);
                        for (size_t q = 0; q < ELEMENTSOF(shifts); q++)
                                off += frame_dist(f, i, (int64_t)map[i] + shifts[q]) / ELEMENTSOF(shifts);
                }
                conf[k] = off > 0 ? MIN(MAX((1.0 - on / off) / CONF_MARGIN, 0.0), 1.0) : 0.0;
        }
}

/* A sentence the DTW jumped over (the audio lacks it: all its frames on
 * one story frame) has nothing to trust: its cues are interpolated. */
static void distrust_skipped(const struct aligner *al, const int32_t *map, size_t n_s, size_t n,
                             double *conf) {
        size_t s = 0;

        for (size_t k = 0; k < n; k++) {
                size_t i, end;

                if (al->cue_synth[k] < 0)
                        continue;
                i = (size_t)(al->cue_synth[k] / al->hop);
                while (s + 1 < al->n_seg && al->seg_start[s + 1] <= i)
                        s++;
                end = MIN(s + 1 < al->n_seg ? al->seg_start[s + 1] : n_s, n_s);
                if (end > al->seg_start[s] + 1 && map[al->seg_start[s]] == map[end - 1]) {
                        log_debug("align: cue %zu: its sentence is not in the audio", k);
                        conf[k] = 0;
                }
        }
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

static float max_energy(const float *es, size_t n_s) {
        float m = -INFINITY;

        for (size_t i = 0; i < n_s; i++)
                m = MAX(m, es[i]);
        return m;
}

/* espeak-ng reports a sentence's first word where its output begins, the
 * lead-in silence included; mapped through the path, that silence lands
 * anywhere in the story's pause or in the music before the words. A cue
 * starts where its synthesized voice does (at most VOICE_WAIT_MS on). */
static void voice_starts(struct aligner *al, const float *es, size_t n_s, size_t n) {
        float quiet = max_energy(es, n_s) - 3.5f; /* 35 dB under the loudest frame */

        for (size_t k = 0; k < n; k++) {
                size_t i, to;

                if (al->cue_synth[k] < 0)
                        continue;
                i = MIN((size_t)(al->cue_synth[k] / al->hop), n_s - 1);
                to = MIN(i + (size_t)(VOICE_WAIT_MS * al->rate / 1000 / al->hop), n_s - 1);
                while (i < to && es[i] < quiet)
                        i++;
                if (i < to && (int64_t)i * al->hop > al->cue_synth[k])
                        al->cue_synth[k] = (int64_t)i * al->hop;
        }
}

/* Where the synthesized sentence ending at sample S stops sounding. */
static int64_t synth_voice_end(const struct aligner *al, const float *es, size_t n_s, float es_max,
                               int64_t s) {
        size_t i = MIN((size_t)(s / al->hop), n_s - 1);

        while (i > 0 && es[i] < es_max - 3.5f) /* 35 dB under the loudest frame */
                i--;
        return (int64_t)(i + 1) * al->hop + al->hop;
}

static void write_times(const struct aligner *al, struct cue_list *cues, const int64_t *start,
                        const int32_t *map, const float *es, size_t n_s) {
        size_t n = cues->n_cues;
        float es_max = -INFINITY;

        for (size_t i = 0; i < n_s; i++)
                es_max = MAX(es_max, es[i]);
        for (size_t k = 0; k < n; k++) {
                int64_t s = start[k] * 1000 / al->rate, e;

                if (k + 1 < n && al->cue_synth_end[k] < 0)
                        e = start[k + 1] * 1000 / al->rate;
                else {
                        e = map_sample(
                                al, map, n_s,
                                synth_voice_end(al, es, n_s, es_max, MAX(al->cue_synth_end[k], (int64_t)0)));
                        e = e * 1000 / al->rate;
                        if (k + 1 < n)
                                e = MIN(e, start[k + 1] * 1000 / al->rate);
                }
                cues->cues[k].start_ms = s;
                cues->cues[k].end_ms = MAX(e, s + 1);
        }
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
static int place_cues(struct aligner *al, size_t n, const double *conf, double mean_min, int64_t *start,
                      const int64_t *hint, struct align_report *rep) {
        _cleanup_free_ int64_t *path = malloc(sizeof(int64_t) * n);
        float thr = onset_threshold(al);
        size_t trusted = 0;

        if (!path)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++)
                trusted += conf[k] >= TRUST_MIN;
        if (trusted == 0 || (double)trusted < al->o.min_trusted * (double)n)
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
static int64_t max_story_samples(const struct cue_list *cues, int rate) {
        size_t chars = 0;

        for (size_t k = 0; k < cues->n_cues; k++)
                chars += cues->cues[k].spoken ? strlen(cues->cues[k].spoken) + 1 : 0;
        return ((int64_t)chars * MAX_AUDIO_FACTOR / CHARS_PER_S + MAX_AUDIO_EXTRA_S) * rate;
}

static int aligner_init(struct aligner *al, const struct align_opts *o, const struct cue_list *cues) {
        size_t n_cues = cues->n_cues;
        struct mfcc_opts mo;
        int r;

        al->o = o ? *o : ALIGN_OPTS_DEFAULT;
        al->rate = tts_rate();
        if (al->rate < 0)
                return al->rate;
        mo = mfcc_opts_default(al->rate);
        al->hop = mo.hop;
        al->block = al->rate * ENV_MS / 1000;
        r = mfcc_new(&mo, &al->ma);
        if (r >= 0)
                r = mfcc_new(&mo, &al->ms);
        if (r < 0)
                return r;
        al->cue_synth = malloc(sizeof(int64_t) * n_cues);
        al->cue_synth_end = malloc(sizeof(int64_t) * n_cues);
        al->seg_start = malloc(sizeof(size_t) * n_cues);
        al->max_samples = max_story_samples(cues, al->rate);
        return al->cue_synth && al->cue_synth_end && al->seg_start ? 0 : -ENOMEM;
}

/* Digital silence or close to it (under -70 dBFS throughout). */
static bool is_silent(const struct aligner *al) {
        for (size_t i = 0; i < al->n_env; i++)
                if (al->env[i] > 1e-7f)
                        return false;
        return true;
}

/* The synthesized speech is read over the story's own noise floor (its
 * quietest band powers), so pauses under a music bed or room noise look
 * like the synthesizer's pauses rather than like nothing it ever says. */
static void match_floor(struct aligner *al) {
        float floor[FLOOR_MELS];

        mfcc_floor(al->ma, FLOOR_QUANTILE, floor);
        mfcc_set_floor(al->ms, floor);
}

/* Features of both waves, normalised; the synth energy for cue ends. */
static int extract(struct aligner *al, struct cue_list *cues, const char *path, float **fa, size_t *n_a,
                   float **fs, size_t *n_s, float **es) {
        int r;

        r = decode_audio(al, path);
        if (r < 0)
                return r;
        if (is_silent(al))
                return log_warning_errno(EINVAL, "align: '%s' is silent: nothing to align", path);
        match_floor(al);
        r = synth_cues(al, cues);
        if (r < 0)
                return r;
        *fa = mfcc_steal(al->ma, n_a, NULL);
        *fs = mfcc_steal(al->ms, n_s, es);
        if (*n_a == 0 || *n_s == 0)
                return -EINVAL;
        /* Read at half the synthesizer's pace even a slow speaker would be
         * twice as slow as anyone on air: the audio cannot hold this text. */
        if (*n_a * 2 < *n_s)
                return log_warning_errno(
                        EBADMSG, "align: '%s' is far too short for its text (%zu s for %zu s of reading)",
                        path, *n_a / 100, *n_s / 100);
        mfcc_cmvn(*fa, *n_a, FEAT_DIM);
        mfcc_cmvn(*fs, *n_s, FEAT_DIM);
        return 0;
}

static int align_espeak(struct cue_list *cues, const char *audio_path, const struct align_opts *o,
                        struct align_report *ret) {
        _cleanup_free_ float *fa = NULL, *fs = NULL, *es = NULL;
        _cleanup_free_ int32_t *map = NULL;
        _cleanup_free_ int64_t *start = NULL;
        _cleanup_free_ double *conf = NULL;
        struct align_report rep = {.n_cues = cues->n_cues};
        struct aligner al = {};
        struct dtw_opts dop = DTW_OPTS_DEFAULT;
        size_t n_a = 0, n_s = 0;
        int r;

        if (cues->n_cues == 0)
                return -EINVAL;
        r = aligner_init(&al, o, cues);
        if (r >= 0)
                r = extract(&al, cues, audio_path, &fa, &n_a, &fs, &n_s, &es);
        dop.skip_ratio = SKIP_RATIO;
        dop.seg_start = al.seg_start;
        dop.n_seg = al.n_seg;
        dop.gap_ratio = GAP_RATIO;
        dop.jump_ratio = JUMP_RATIO;
        dop.seg_max_level = SEG_MAX_LEVEL;
        dop.win = WIN_FRAMES;
        dop.win_overlap = WIN_OVERLAP;
        dop.win_margin = WIN_MARGIN;
        /* Not renormalised per window: a window's story side holds music
         * intros and beds its synthesized side lacks, and its own statistics
         * then moved a sentence before an intro 8 s into it (long-60min). */
        dop.win_normalize = false;
        if (r >= 0)
                r = dtw_align(fs, n_s, fa, n_a, FEAT_DIM, &dop, &map, NULL);
        conf = malloc(sizeof(double) * cues->n_cues);
        start = malloc(sizeof(int64_t) * cues->n_cues);
        if (r >= 0 && (!conf || !start))
                r = -ENOMEM;
        if (r >= 0) {
                struct feats f = {fs, fa, n_s, n_a};

                voice_starts(&al, es, n_s, cues->n_cues);
                cue_confidence(&al, &f, map, cues->n_cues, conf);
                distrust_skipped(&al, map, n_s, cues->n_cues, conf);
                for (size_t k = 0; k < cues->n_cues; k++)
                        start[k] = al.cue_synth[k] < 0 ? 0 : map_sample(&al, map, n_s, al.cue_synth[k]);
                r = place_cues(&al, cues->n_cues, conf, MEAN_CONF_MIN, start, NULL, &rep);
        }
        if (r >= 0)
                write_times(&al, cues, start, map, es, n_s);
        rep.audio_s = (double)al.n_env * ENV_MS / 1000.0;
        aligner_done(&al);
        if (r < 0)
                return r;
        rep.confidence = TAKE_PTR(conf);
        if (ret)
                *ret = rep;
        else
                free(rep.confidence);
        return 0;
}

/* ---- The acoustic engine (asr.h) ---- */

#define ACOUSTIC_GOOD (-25.0) /* per-frame score of a word matched well (recorded speech: -10 to -20) */
#define ACOUSTIC_BAD (-45.0)  /* and of words forced onto audio that is not them (-45 and under) */
#define ACOUSTIC_CONF_WORDS 4 /* a cue's confidence: its first words */
#define ACOUSTIC_MEAN_MIN 0.4 /* mean cue confidence under which the story does not match its audio */
/* Reading pace for placing untrusted cues. */
#define READ_CHARS_PER_S 15
/* A word longer than this per phone swallowed audio that is not it; then
 * it starts this long per phone before the next word. */
#define PHONE_MAX_MS 250
#define PHONE_TYPICAL_MS 80
/* A sentence's first word this far ahead of the next stands in the intro. */
#define FIRST_GAP_MAX_MS 350
#define PROGRESS_S 5 /* report progress every this many seconds of audio */

struct story_tokens {
        char **tok; /* n_tok malloc'd strings */
        size_t n_tok;
        size_t *cue_first;  /* n_cues + 1: first token of each cue */
        size_t *sent_first; /* first token of each sentence with words */
        size_t n_sent;
        struct tts_token *at; /* n_tok: where each token lies in its cue's spoken text */
};

static void story_tokens_done(struct story_tokens *st) {
        for (size_t i = 0; st->tok && i < st->n_tok; i++)
                free(st->tok[i]);
        free(st->tok);
        free(st->cue_first);
        free(st->sent_first);
        free(st->at);
}

static int story_tokens(const struct cue_list *cues, struct story_tokens *st) {
        size_t cap = 0, prev_sentence = SIZE_MAX;

        st->cue_first = malloc(sizeof(size_t) * (cues->n_cues + 1));
        st->sent_first = malloc(sizeof(size_t) * (cues->n_cues + 1));
        if (!st->cue_first || !st->sent_first)
                return -ENOMEM;
        for (size_t k = 0; k < cues->n_cues; k++) {
                const char *sp = cues->cues[k].spoken ? cues->cues[k].spoken : "";
                _cleanup_free_ struct tts_token *tk = NULL;
                int n = tts_tokenize(sp, &tk);

                if (n < 0)
                        return n;
                st->cue_first[k] = st->n_tok;
                if (n > 0 && cues->cues[k].sentence != prev_sentence) {
                        st->sent_first[st->n_sent++] = st->n_tok;
                        prev_sentence = cues->cues[k].sentence;
                }
                if (st->n_tok + (size_t)n > cap) {
                        size_t c = MAX(cap * 2, st->n_tok + (size_t)n + 64);
                        char **t = realloc(st->tok, sizeof(char *) * c);
                        struct tts_token *a;

                        if (!t)
                                return -ENOMEM;
                        st->tok = t;
                        a = realloc(st->at, sizeof(struct tts_token) * c);
                        if (!a)
                                return -ENOMEM;
                        st->at = a;
                        cap = c;
                }
                for (int i = 0; i < n; i++) {
                        st->tok[st->n_tok] =
                                strndup(sp + tk[i].byte_start, tk[i].byte_end - tk[i].byte_start);
                        if (!st->tok[st->n_tok])
                                return -ENOMEM;
                        st->at[st->n_tok++] = tk[i];
                }
        }
        st->cue_first[cues->n_cues] = st->n_tok;
        return st->n_tok > 0 ? 0 : -EINVAL;
}

/* A long story is decoded in chunks of whole sentences of about
 * CHUNK_TOKENS words, each searched in its own window of audio: from the
 * end of the chunk before to its reading time at a slow pace plus
 * CHUNK_SLACK_S on (the last: to the end). The audio after a chunk's words
 * is passed over by the fillers of its grammar's end. The FSG search costs
 * time per grammar state per frame, so one grammar over an hour's text
 * would be quadratic; chunks keep it linear, and keep memory to one window
 * of samples. */
#define CHUNK_TOKENS 150
#define CHUNK_SLOW_CHARS_PER_S 9
#define CHUNK_SLACK_S 30

struct chunker {
        struct aligner *al;
        struct asr *a;
        const struct story_tokens *st;
        struct asr_word *w; /* n_tok, story ms */
        size_t *chunk_sent; /* n_chunks + 1: first sentence of each chunk */
        size_t n_chunks, next;
        int16_t *buf; /* story samples [base, base + n_buf) */
        size_t n_buf, cap_buf;
        int64_t base, from; /* from: where the next chunk's window starts */
};

static size_t sent_tok(const struct story_tokens *st, size_t s) {
        return s < st->n_sent ? st->sent_first[s] : st->n_tok;
}

static int plan_chunks(struct chunker *c) {
        const struct story_tokens *st = c->st;
        size_t s = 0;

        c->chunk_sent = malloc(sizeof(size_t) * (st->n_sent + 2));
        if (!c->chunk_sent)
                return -ENOMEM;
        c->chunk_sent[c->n_chunks++] = 0;
        while (s < st->n_sent) {
                size_t e = s + 1;

                while (e < st->n_sent && sent_tok(st, e) - sent_tok(st, s) < CHUNK_TOKENS)
                        e++;
                /* A short rest joins this chunk. */
                if (e < st->n_sent && st->n_tok - sent_tok(st, e) < CHUNK_TOKENS / 2)
                        e = st->n_sent;
                if (e < st->n_sent)
                        c->chunk_sent[c->n_chunks++] = e;
                s = e;
        }
        c->chunk_sent[c->n_chunks] = st->n_sent;
        return 0;
}

static size_t chunk_chars(const struct chunker *c, size_t k) {
        size_t n = 0;

        for (size_t t = sent_tok(c->st, c->chunk_sent[k]); t < sent_tok(c->st, c->chunk_sent[k + 1]); t++)
                n += strlen(c->st->tok[t]) + 1;
        return n;
}

/* The sample where chunk K's window ends (INT64_MAX: the end of the audio). */
static int64_t chunk_end(const struct chunker *c, size_t k) {
        if (k + 1 >= c->n_chunks)
                return INT64_MAX;
        return c->from +
               ((int64_t)(chunk_chars(c, k) / CHUNK_SLOW_CHARS_PER_S) + CHUNK_SLACK_S) * c->al->rate;
}

/* Decodes chunk NEXT over the buffered samples [from, end). */
static int run_chunk(struct chunker *c, int64_t end) {
        const struct story_tokens *st = c->st;
        size_t k = c->next++, s0 = c->chunk_sent[k], s1 = c->chunk_sent[k + 1];
        size_t t0 = sent_tok(st, s0), t1 = sent_tok(st, s1), n_s = s1 - s0;
        _cleanup_free_ size_t *sf = malloc(sizeof(size_t) * (n_s + 1));
        int64_t off_ms = c->from * 1000 / c->al->rate, last_end = -1;
        size_t p = (size_t)(c->from - c->base),
               q = (size_t)(MIN(end, c->base + (int64_t)c->n_buf) - c->base);
        int r;

        if (!sf)
                return -ENOMEM;
        for (size_t i = 0; i < n_s; i++)
                sf[i] = st->sent_first[s0 + i] - t0;
        r = asr_set_words(c->a, (const char *const *)st->tok + t0, t1 - t0, sf, n_s, k + 1 < c->n_chunks);
        if (r < 0)
                return r;
        if (q < p + (size_t)c->al->rate) /* under a second of audio left: nothing to search */
                r = -EBADMSG;
        for (; r == 0 && p < q; p += MIN(q - p, (size_t)8192))
                r = asr_feed(c->a, c->buf + p, MIN(q - p, (size_t)8192));
        if (r >= 0) /* > 0: the chunk's words are behind, the rest is the next chunk's */
                r = asr_finish(c->a, c->w + t0);
        if (r == -EBADMSG || r == -EIO) {
                log_warning("align: words %zu-%zu: no path through them in %.0f-%.0f s: placed between "
                            "neighbours",
                            t0, t1, (double)c->from / c->al->rate,
                            (double)(c->base + (int64_t)q) / c->al->rate);
                r = 0;
        }
        if (r < 0)
                return r;
        log_debug("align: chunk %zu: words %zu-%zu in %.1f-%.1f s (first at +%" PRIi64 " ms)", k, t0, t1,
                  (double)c->from / c->al->rate, (double)(c->base + (int64_t)q) / c->al->rate,
                  c->w[t0].start_ms);
        for (size_t t = t0; t < t1; t++)
                if (c->w[t].start_ms >= 0) {
                        c->w[t].start_ms += off_ms;
                        c->w[t].end_ms += off_ms;
                        last_end = c->w[t].end_ms;
                }
        /* The next chunk starts where this one's words end (or its reading
         * time on, when none of them matched). */
        if (last_end >= 0)
                c->from = MAX(c->from, last_end * c->al->rate / 1000);
        else
                c->from += (int64_t)(chunk_chars(c, k) / READ_CHARS_PER_S) * c->al->rate;
        c->from = MIN(c->from, c->base + (int64_t)c->n_buf);
        /* Drop what no later chunk reads. */
        if (c->from > c->base) {
                size_t drop = (size_t)(c->from - c->base);

                memmove(c->buf, c->buf + drop, sizeof(int16_t) * (c->n_buf - drop));
                c->n_buf -= drop;
                c->base = c->from;
        }
        return 0;
}

static int buffer_push(struct chunker *c, const int16_t *pcm, size_t n) {
        if (c->n_buf + n > c->cap_buf) {
                size_t cap = MAX(c->cap_buf * 2, c->n_buf + n + 65536);
                int16_t *b = realloc(c->buf, sizeof(int16_t) * cap);

                if (!b)
                        return -ENOMEM;
                c->buf = b;
                c->cap_buf = cap;
        }
        memcpy(c->buf + c->n_buf, pcm, sizeof(int16_t) * n);
        c->n_buf += n;
        return 0;
}

/* Streams the story at ASR_RATE through the envelope and, chunk by chunk,
 * the decoder; fills W (story ms). */
static int decode_acoustic(struct aligner *al, struct asr *a, const struct story_tokens *st,
                           const char *path, struct asr_word *w) {
        _cleanup_free_ int16_t *pcm = malloc(sizeof(int16_t) * 8192);
        struct chunker c = {.al = al, .a = a, .st = st, .w = w};
        struct decoder *d = NULL;
        int64_t next_report = (int64_t)PROGRESS_S * al->rate, done = 0;
        ssize_t n;
        int r;

        if (!pcm)
                return -ENOMEM;
        for (size_t t = 0; t < st->n_tok; t++)
                w[t] = (struct asr_word){-1, -1, 0, 0};
        r = plan_chunks(&c);
        if (r >= 0)
                r = decoder_open(path, al->rate, 1, &d);
        if (r < 0) {
                free(c.chunk_sent);
                return r;
        }
        log_debug("align: %zu words in %zu chunks", st->n_tok, c.n_chunks);
        while ((n = decoder_read(d, pcm, 8192)) > 0) {
                if (done > al->max_samples) {
                        r = log_warning_errno(
                                EBADMSG,
                                "align: '%s' runs far longer than its text can be read (over %" PRIi64
                                " s): not aligning",
                                path, al->max_samples / al->rate);
                        break;
                }
                r = env_push(al, pcm, (size_t)n);
                if (r >= 0)
                        r = buffer_push(&c, pcm, (size_t)n);
                if (r < 0)
                        break;
                done += n;
                while (r >= 0 && c.next < c.n_chunks && chunk_end(&c, c.next) <= done)
                        r = run_chunk(&c, chunk_end(&c, c.next));
                if (r < 0)
                        break;
                if (al->o.progress && done >= next_report) {
                        al->o.progress(al->o.progress_userdata, (double)done / al->rate);
                        next_report += (int64_t)PROGRESS_S * al->rate;
                }
        }
        decoder_free(d);
        if (r >= 0 && n < 0)
                r = (int)n;
        while (r >= 0 && c.next < c.n_chunks)
                r = run_chunk(&c, INT64_MAX);
        free(c.buf);
        free(c.chunk_sent);
        return r;
}

/* Word T (not a cue's last) is astray: it lasts far longer than its
 * phones can, or stands ahead of the next word by a long gap that no
 * punctuation explains. Then the decoder matched it in an intro or
 * noise. (A bad score alone is no sign: a soft telephone-band "f"
 * scores badly where it stands.) */
static bool word_astray(const struct story_tokens *st, const struct asr_word *w, size_t t) {
        const struct asr_word *a = &w[t], *b = &w[t + 1];
        const char *tok = st->tok[t];
        char last = tok[strlen(tok) - 1];
        bool pause_mark = last == ',' || last == ';' || last == ':' || last == '.' || last == '-';

        if (a->start_ms < 0 || b->start_ms < 0 || a->n_phones <= 0)
                return false;
        return a->end_ms - a->start_ms > (int64_t)a->n_phones * PHONE_MAX_MS + 200 ||
               (!pause_mark && b->start_ms - a->end_ms > FIRST_GAP_MAX_MS);
}

/* Among a cue's first words: the word after the last astray one (T0 when
 * none is astray). */
static size_t first_anchor(const struct story_tokens *st, const struct asr_word *w, size_t t0, size_t t1) {
        size_t anchor = t0;

        for (size_t t = t0; t + 1 < t1 && t < t0 + ACOUSTIC_CONF_WORDS; t++)
                if (word_astray(st, w, t))
                        anchor = t + 1;
        return anchor;
}

static double word_conf(const struct asr_word *w) {
        if (w->start_ms < 0)
                return 0;
        return MIN(MAX((w->score - ACOUSTIC_BAD) / (ACOUSTIC_GOOD - ACOUSTIC_BAD), 0.0), 1.0);
}

/* Per cue: the mean confidence of its first words (a word the grammar
 * passed over counts 0); its start from its first word, also in HINT
 * (-1: the grammar passed it over), which outlives interpolation. */
static void acoustic_cues(struct aligner *al, const struct story_tokens *st, struct asr_word *w, size_t n,
                          double *conf, int64_t *start, int64_t *hint) {
        size_t chars = 0;

        for (size_t k = 0; k < n; k++) {
                size_t t0 = st->cue_first[k], t1 = st->cue_first[k + 1],
                       m = MIN(t1 - t0, (size_t)ACOUSTIC_CONF_WORDS);
                double c = 0;

                al->cue_synth[k] = t1 > t0 ? (int64_t)chars * al->rate / READ_CHARS_PER_S : -1;
                for (size_t t = t0; t < t1; t++)
                        chars += strlen(st->tok[t]) + 1;
                al->cue_synth_end[k] = (int64_t)chars * al->rate / READ_CHARS_PER_S;
                start[k] = 0;
                hint[k] = -1;
                conf[k] = 0;
                if (m == 0)
                        continue;
                for (size_t t = t0; t < t0 + m; t++)
                        c += word_conf(&w[t]);
                {
                        size_t an = first_anchor(st, w, t0, t1);
                        int64_t at = w[an].start_ms;

                        /* The words before the anchor were matched in an intro
                         * or noise: they are placed back from it at a typical
                         * pace. Snapping finds the onset. */
                        for (size_t t = an; t-- > t0;) {
                                w[t].end_ms = at;
                                w[t].start_ms = at - (int64_t)MAX(w[t].n_phones, 1) * PHONE_TYPICAL_MS;
                                at = w[t].start_ms;
                                log_debug("align: cue %zu: '%s' placed back from '%s'", k, st->tok[t],
                                          st->tok[an]);
                        }
                }
                conf[k] = w[t0].start_ms >= 0 ? c / (double)m : 0;
                start[k] = w[t0].start_ms >= 0 ? w[t0].start_ms * al->rate / 1000 : 0;
                hint[k] = w[t0].start_ms >= 0 ? start[k] : -1;
                log_debug("align: cue %zu: '%s' at %" PRIi64 " ms, score %.1f, confidence %.2f", k,
                          st->tok[t0], w[t0].start_ms, w[t0].score, conf[k]);
        }
}

/* Cue ends: at the next cue's start inside a sentence, else where its last
 * aligned word ends (an untrusted cue: its reading time on, at most the
 * next start). */
static void acoustic_ends(const struct aligner *al, struct cue_list *cues, const struct story_tokens *st,
                          const struct asr_word *w, const double *conf, const int64_t *start) {
        size_t n = cues->n_cues;

        for (size_t k = 0; k < n; k++) {
                int64_t s = start[k] * 1000 / al->rate, e = -1;
                bool sentence_end = k + 1 == n || cues->cues[k + 1].sentence != cues->cues[k].sentence;

                if (!sentence_end)
                        e = start[k + 1] * 1000 / al->rate;
                else {
                        size_t t0 = st->cue_first[k], t1 = st->cue_first[k + 1];

                        if (conf[k] >= TRUST_MIN)
                                for (size_t t = t1; t-- > t0;)
                                        if (w[t].end_ms >= 0) {
                                                e = w[t].end_ms;
                                                break;
                                        }
                        if (e < 0 && al->cue_synth[k] >= 0)
                                e = s + (al->cue_synth_end[k] - al->cue_synth[k]) * 1000 / al->rate;
                        if (k + 1 < n)
                                e = MIN(e, start[k + 1] * 1000 / al->rate);
                }
                cues->cues[k].start_ms = s;
                cues->cues[k].end_ms = MAX(e, s + 1);
        }
}

/* Word times inside each cue: aligned words of a trusted cue keep their
 * times (kept in order and inside the cue), the rest are spread over what
 * is left by length. */
static int fill_words(const struct cue_list *cues, const struct story_tokens *st, const struct asr_word *w,
                      const double *conf, struct align_report *rep) {
        rep->words = calloc(st->n_tok ? st->n_tok : 1, sizeof(struct align_word));
        if (!rep->words)
                return -ENOMEM;
        rep->n_words = st->n_tok;
        for (size_t k = 0; k < cues->n_cues; k++) {
                size_t t0 = st->cue_first[k], t1 = st->cue_first[k + 1];
                int64_t cs = cues->cues[k].start_ms, ce = cues->cues[k].end_ms, at = cs;

                for (size_t t = t0; t < t1; t++) {
                        struct align_word *o = &rep->words[t];
                        bool use = w && conf[k] >= TRUST_MIN && w[t].start_ms >= 0;

                        o->cue = k;
                        o->byte_start = st->at[t].byte_start;
                        o->byte_end = st->at[t].byte_end;
                        if (use) {
                                o->start_ms = t == t0 ? cs : MIN(MAX(w[t].start_ms, at), ce);
                                o->end_ms = MIN(MAX(w[t].end_ms, o->start_ms + 1), MAX(ce, o->start_ms + 1));
                                o->aligned = true;
                        } else {
                                /* Spread: this word's share of the rest of the cue by characters. */
                                size_t left = 0, mine = st->at[t].char_end - st->at[t].char_start + 1;

                                for (size_t q = t; q < t1; q++)
                                        left += st->at[q].char_end - st->at[q].char_start + 1;
                                o->start_ms = at;
                                o->end_ms =
                                        at + MAX((ce - at) * (int64_t)mine / (int64_t)MAX(left, (size_t)1),
                                                 (int64_t)1);
                        }
                        at = o->end_ms;
                }
        }
        return 0;
}

static int align_acoustic(struct cue_list *cues, const char *audio_path, const struct align_opts *o,
                          struct align_report *ret) {
        _cleanup_free_ struct asr_word *w = NULL;
        _cleanup_free_ int64_t *start = NULL, *hint = NULL;
        _cleanup_free_ double *conf = NULL;
        struct align_report rep = {.n_cues = cues->n_cues, .engine = "acoustic"};
        struct story_tokens st = {};
        struct aligner al = {};
        struct asr *a = NULL;
        size_t n = cues->n_cues;
        int r;

        al.o = o ? *o : ALIGN_OPTS_DEFAULT;
        al.rate = ASR_RATE;
        al.hop = ASR_RATE / 100;
        al.block = al.rate * ENV_MS / 1000;
        al.max_samples = max_story_samples(cues, al.rate);
        al.cue_synth = malloc(sizeof(int64_t) * n);
        al.cue_synth_end = malloc(sizeof(int64_t) * n);
        conf = malloc(sizeof(double) * n);
        start = malloc(sizeof(int64_t) * n);
        hint = malloc(sizeof(int64_t) * n);
        r = al.cue_synth && al.cue_synth_end && conf && start && hint ? 0 : -ENOMEM;
        if (r >= 0)
                r = story_tokens(cues, &st);
        if (r >= 0)
                r = asr_open(&a);
        if (r >= 0 && !(w = malloc(sizeof(struct asr_word) * st.n_tok)))
                r = -ENOMEM;
        if (r >= 0)
                r = decode_acoustic(&al, a, &st, audio_path, w);
        if (r >= 0 && is_silent(&al))
                r = log_warning_errno(EINVAL, "align: '%s' is silent: nothing to align", audio_path);
        if (r >= 0) {
                acoustic_cues(&al, &st, w, n, conf, start, hint);
                for (size_t k = 1; k < n; k++) /* inside a sentence no pause marks a start */
                        if (cues->cues[k].sentence == cues->cues[k - 1].sentence)
                                hint[k] = -1;
                r = place_cues(&al, n, conf, ACOUSTIC_MEAN_MIN, start, hint, &rep);
        }
        if (r >= 0) {
                acoustic_ends(&al, cues, &st, w, conf, start);
                r = fill_words(cues, &st, w, conf, &rep);
        }
        rep.audio_s = (double)al.n_env * ENV_MS / 1000.0;
        asr_free(a);
        story_tokens_done(&st);
        aligner_done(&al);
        if (r < 0) {
                free(rep.words);
                return r;
        }
        rep.confidence = TAKE_PTR(conf);
        if (ret)
                *ret = rep;
        else
                align_report_done(&rep);
        return 0;
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
                        r = fill_words(cues, &st, NULL, rep.confidence, &rep);
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

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* align-espeak.c: the espeak engine (align.h). The story is decoded at the
 * synthesizer's own rate (mpg123 resamples), so both waves share one MFCC
 * configuration and no resampler is needed; both are turned into features
 * while they stream, so memory grows with frames (13 floats per 10 ms), not
 * with samples. espeak-ng reads the text one sentence per call, as a
 * newsreader would phrase it, and reports where each of our tokens starts
 * in its output; the DTW path carries those positions onto the story.
 * The local DTW distance around each cue's first words gives its
 * confidence; cues that match badly (a sentence missing from the audio,
 * noise) are placed between trusted neighbours by synthesized time instead
 * of being dragged along (align.c). The DTW knows the sentences: audio
 * between two of them that the text lacks is passed over at a price, and a
 * sentence the audio lacks is jumped over (its cues then count as
 * untrusted). A cue starts where its synthesized voice does, not at the
 * lead-in silence espeak-ng reports it at. */
#include "align.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "align-internal.h"
#include "cleanup.h"
#include "decoder.h"
#include "dtw.h"
#include "log.h"
#include "mfcc.h"
#include "segment.h"
#include "tts.h"

#define CONF_FRAMES 30  /* confidence: the cue's first 300 ms of synthesis */
#define CONF_SHIFT 30   /* frames: the path is compared with itself shifted this far */
#define CONF_MARGIN 0.3 /* path distance this much under the shifted one: full confidence */
#define FEAT_DIM 13
#define FLOOR_MELS 40      /* mfcc_opts_default's n_mels */
#define FLOOR_QUANTILE 0.1 /* the story's pauses: at least a tenth of its frames */
#define VOICE_WAIT_MS 500  /* a word's sound starts at most this long after its event */
#define SKIP_RATIO 0.4f    /* open begin/end, per frame: under what a word costs on music */
#define SEG_MAX_LEVEL 3    /* gap and jump on frames of up to 80 ms */
#define GAP_RATIO 0.45f    /* audio between sentences passed over, per frame (dtw_opts) */
#define JUMP_RATIO 0.6f    /* a sentence the audio lacks left out, per frame */
#define MEAN_CONF_MIN 0.5  /* under it the whole alignment is untrusted: the estimate is used */
#define WIN_FRAMES 12000   /* long stories: aligned in windows of 2 minutes of synthesis, */
#define WIN_OVERLAP 4000   /* overlapping by 40 s, */
#define WIN_MARGIN 2000    /* each searched 20 s either side of where the whole-story pass put it */

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
                r = aligner_check_length(al, (int64_t)al->n_env * al->block, path);
                if (r >= 0)
                        r = mfcc_feed(al->ma, pcm, (size_t)n);
                if (r >= 0)
                        r = aligner_env_push(al, pcm, (size_t)n);
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
        struct tts_opts to = {al->o->voice, al->o->wpm};
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

static int aligner_init(struct aligner *al, const struct align_opts *o, const struct cue_list *cues) {
        size_t n_cues = cues->n_cues;
        struct mfcc_opts mo;
        int r;

        al->o = o;
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
        al->max_samples = align_max_story_samples(cues, al->rate);
        return al->cue_synth && al->cue_synth_end && al->seg_start ? 0 : -ENOMEM;
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
        if (aligner_is_silent(al))
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

int align_espeak(struct cue_list *cues, const char *audio_path, const struct align_opts *o,
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
                r = aligner_place_cues(&al, cues->n_cues, conf, MEAN_CONF_MIN, start, NULL, &rep);
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

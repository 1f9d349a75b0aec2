/* SPDX-License-Identifier: GPL-3.0-or-later */
/* align-internal.h: what the two engines of align.h share, inside
 * daemon/align only. align.c holds the common ground (envelope, onsets,
 * placing cues) and align_cues; align-espeak.c and align-acoustic.c the
 * engines. Everything here runs on the caller's thread (a worker). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct align_opts;
struct align_report;
struct cue_list;
struct mfcc;
struct tts_token;
struct asr_word;

#define ENV_MS 2       /* envelope block */
#define TRUST_MIN 0.25 /* cue confidence below which a cue is interpolated */

struct aligner {
        const struct align_opts *o; /* the caller's, never NULL */
        int rate, hop, block;
        struct mfcc *ma, *ms; /* espeak engine: story and synth features */
        float *env;           /* story: mean square per ENV_MS block */
        float *env_hf;        /* the same of its second difference (the highs) */
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

/* The cues' words, as tts_tokenize splits them. */
struct story_tokens {
        char **tok; /* n_tok malloc'd strings */
        size_t n_tok;
        size_t *cue_first;  /* n_cues + 1: first token of each cue */
        size_t *sent_first; /* first token of each sentence with words */
        size_t n_sent;
        struct tts_token *at; /* n_tok: where each token lies in its cue's spoken text */
};

/* Frees what AL holds (a half-built one too). */
void aligner_done(struct aligner *al);

/* Adds N story samples to the envelopes. 0 or -ENOMEM. */
int aligner_env_push(struct aligner *al, const int16_t *pcm, size_t n);

/* DECODED samples of the story at PATH so far: 0, or -EBADMSG (logged)
 * when past max_samples, far more audio than the text can be read in. */
int aligner_check_length(const struct aligner *al, int64_t decoded, const char *path);

/* Digital silence or close to it (under -70 dBFS throughout). */
bool aligner_is_silent(const struct aligner *al);

/* The longest story (in samples at RATE) the text of CUES can belong to. */
int64_t align_max_story_samples(const struct cue_list *cues, int rate);

/* Checks the N cues' confidences CONF (too few trusted, or a mean under
 * MEAN_MIN: -EBADMSG, logged), interpolates the untrusted START (story
 * samples; HINT: decoded starts or NULL) and snaps all to onsets; fills
 * REP's mean_confidence, n_interpolated and n_snapped. */
int aligner_place_cues(struct aligner *al, size_t n, const double *conf, double mean_min, int64_t *start,
                       const int64_t *hint, struct align_report *rep);

/* The engines: align_cues' contract, the options resolved (O not NULL). */
int align_espeak(struct cue_list *cues, const char *audio_path, const struct align_opts *o,
                 struct align_report *ret);
int align_acoustic(struct cue_list *cues, const char *audio_path, const struct align_opts *o,
                   struct align_report *ret);

/* Tokenizes every cue's spoken text. 0, -EINVAL (no words), -ENOMEM;
 * story_tokens_done frees ST either way. */
int story_tokens(const struct cue_list *cues, struct story_tokens *st);
void story_tokens_done(struct story_tokens *st);

/* Fills REP's words from the cue times: W (per token, story ms; NULL:
 * none) where its cue is trusted, else spread over the cue by length. */
int align_fill_words(const struct cue_list *cues, const struct story_tokens *st, const struct asr_word *w,
                     const double *conf, struct align_report *rep);

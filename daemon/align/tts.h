/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tts.h: libespeak-ng speech synthesis of text whose word positions we need:
 * the samples stream to a callback, and each of our tokens (whitespace
 * separated, holding a letter or digit) gets the sample where espeak-ng
 * starts saying it. espeak-ng is one process-wide engine: synthesis calls
 * are serialised inside, any thread may call. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct tts_token {
        size_t byte_start, byte_end; /* in the text */
        size_t char_start, char_end; /* in characters (what espeak-ng counts), 0-based */
};

/* Whitespace-separated tokens that hold a letter or digit ("$400,000",
 * "U.S.-Russia", "Kremlin." are one token each; a lone "-" is none).
 * Returns the count >= 0 and a malloc'd array (NULL when 0), or -ENOMEM. */
int tts_tokenize(const char *text, struct tts_token **ret);

/* A word-start event from the engine: character position (0-based) in the
 * synthesized text and the sample it starts at. */
struct tts_event {
        size_t char_pos;
        int64_t sample;
};

/* Maps events onto tokens monotonically: a token gets the first event that
 * falls inside it (or in the gap before it); events that go backwards in the
 * text are ignored; a token without an event (spoken together with the one
 * before, e.g. "at a") shares the previous token's start. ret: n_tok samples,
 * non-decreasing. Pure. */
void tts_map_events(const struct tts_event *ev, size_t n_ev, const struct tts_token *tok, size_t n_tok,
                    int64_t *ret);

struct tts_opts {
        const char *voice; /* espeak-ng voice name, e.g. "en-us" */
        int wpm;           /* speaking rate, 80..450 */
};
#define TTS_OPTS_DEFAULT ((struct tts_opts){"en-us", 170})

/* Receives synthesized samples (mono, tts_rate()); nonzero stops synthesis. */
typedef int (*tts_audio_fn)(void *userdata, const int16_t *pcm, size_t n);

/* Initialises the engine on first use. Returns the output sample rate
 * (> 0), or -ENOENT when libespeak-ng or its data is unusable. */
int tts_rate(void);

/* Synthesizes TEXT in one call with options O, streaming samples to AUDIO,
 * and fills ret_starts (one per token of tts_tokenize(TEXT), counted from
 * the first sample of this call) and *ret_samples (samples produced).
 * 0, -ENOENT (no engine or voice), -EIO (synthesis failed), -ECANCELED
 * (AUDIO asked to stop), -ENOMEM. */
int tts_synth(const char *text, const struct tts_opts *o, tts_audio_fn audio, void *userdata,
              const struct tts_token *tok, size_t n_tok, int64_t *ret_starts, int64_t *ret_samples);

/* espeak-ng's phoneme mnemonics for TEXT read by VOICE (what `espeak-ng
 * -x` prints; words separated by spaces) as a malloc'd string in *ret.
 * 0, -ENOENT (no engine or voice), -ENOMEM. */
int tts_phonemes(const char *text, const char *voice, char **ret);

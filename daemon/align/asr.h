/* SPDX-License-Identifier: GPL-3.0-or-later */
/* asr.h: forced alignment of a word sequence to recorded speech with
 * pocketsphinx's acoustic model of American English (Debian
 * pocketsphinx-en-us: an HMM trained on recorded people, plus CMUdict).
 * The decoder searches a finite-state grammar of the words in order, with
 * silence and noise fillers allowed between any two (audio the text lacks:
 * music, breaths, pauses) and a sentence the audio lacks may be passed over
 * at a price. Words CMUdict lacks (names, numbers, URLs) are pronounced
 * from espeak-ng's phonemes mapped to CMU phones. One handle belongs to one
 * thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ASR_RATE 16000 /* samples per second asr_feed takes (mono) */

struct asr;

struct asr_word {
        int64_t start_ms, end_ms; /* -1: not aligned (its sentence was passed over) */
        double score;             /* mean acoustic log-likelihood per 10 ms frame (higher: better match) */
        int n_phones;             /* in its pronunciation */
};

/* The model folder in use: $NEXTUP_ASR_MODEL, else the Debian one. */
const char *asr_model_dir(void);

/* CMU phones (space separated, e.g. "T IH L ER S AH N") for espeak-ng
 * phoneme mnemonics (espeak-ng -x), stress and syllable marks dropped.
 * Returns the count of phones >= 0 and a malloc'd string, or -ENOMEM. Pure. */
int asr_espeak_to_cmu(const char *espeak, char **ret);

/* The dictionary form of a token ("Kremlin." -> "kremlin", "Putin's" ->
 * "putin's", curly apostrophes straightened): a malloc'd string, NULL on
 * ENOMEM; "" when the token holds no letter or digit. Pure. */
char *asr_word_form(const char *token);

/* Loads the model and CMUdict, adds pronunciations for the N_TOK tokens
 * (tok[i]: a whitespace-free token as in tts_tokenize) missing from it and
 * sets up the grammar; sent_first[0..n_sent-1]: the first token of each
 * sentence, ascending. 0, -ENOENT (no model), -EINVAL (no tokens),
 * -ENOMEM, -EIO (pocketsphinx refused). */
int asr_new(const char *const *tok, size_t n_tok, const size_t *sent_first, size_t n_sent, struct asr **ret);
struct asr *asr_free(struct asr *a);

/* asr_new in two steps: load the model once (0, -ENOENT, -EIO, -ENOMEM),
 * then set the words to align next (as asr_new; an utterance under way is
 * dropped); OPEN_END: speech may follow the words (a loop of phones at
 * the end passes it over: the next chunk's). A long story is aligned in chunks of sentences, each with a
 * grammar of its own: the FSG search costs time per grammar state and
 * frame. */
int asr_open(struct asr **ret);
int asr_set_words(struct asr *a, const char *const *tok, size_t n_tok, const size_t *sent_first,
                  size_t n_sent, bool open_end);

/* The pronunciation the handle uses for token I (malloc'd CMU phones). */
char *asr_pronunciation(struct asr *a, size_t i);

/* Writes the grammar (sphinxbase FSG text format) to F: for tests. */
void asr_write_grammar(struct asr *a, FILE *f);

/* Streams ASR_RATE mono samples through the decoder. 0, 1 (the words
 * were set OPEN_END and the best path has left them for the audio after:
 * feed no more, asr_finish), or -EIO. */
int asr_feed(struct asr *a, const int16_t *pcm, size_t n);

/* Ends the utterance and fills ret (n_tok entries of the words set) with
 * each token's times from the first sample fed since they were set. 0, -EBADMSG (no path through the grammar
 * reached), -EIO. */
int asr_finish(struct asr *a, struct asr_word *ret);

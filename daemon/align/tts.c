/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tts.c: the reference voice of the aligner. espeak-ng reads the text in
 * synchronous mode; its synth callback hands us the samples (fed straight to
 * the feature extractor, never stored) and WORD events carrying a character
 * position in the text and a sample count. We map those events onto our own
 * tokens rather than trusting a one-to-one count: espeak-ng says "$400,000"
 * as three words, spells "U.S." out, and says "at a" as one word, so event
 * k is not token k. WORD events are used instead of SSML marks because
 * espeak-ng drops a mark that follows an abbreviation such as "U.S.".
 *
 * DESIGN: espeak-ng keeps one global engine (voice, rate, callback), so a
 * mutex covers configuring and running a synthesis, and the callback finds
 * its context through a static pointer valid only while the mutex is held. */
#include "tts.h"

#include <errno.h>
#include <espeak-ng/speak_lib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

static pthread_mutex_t tts_lock = PTHREAD_MUTEX_INITIALIZER;
static int tts_engine_rate; /* 0: not tried, < 0: failed */

struct synth_ctx {
        tts_audio_fn audio;
        void *userdata;
        struct tts_event *ev;
        size_t n_ev, cap_ev;
        int64_t samples;
        int error;
};
static struct synth_ctx *current; /* valid while tts_lock is held */

/* Code point at s (advancing *len), 0xFFFD for a malformed byte. */
static uint32_t utf8_next(const unsigned char *s, size_t *len) {
        uint32_t c = s[0];
        size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;

        if (n == 0) {
                *len = 1;
                return 0xFFFD;
        }
        if (n > 1)
                c &= 0x3F >> (n - 1);
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80) {
                        *len = i;
                        return 0xFFFD;
                }
                c = (c << 6) | (s[i] & 0x3F);
        }
        *len = n;
        return c;
}

/* Letters and digits: ASCII alnum, Latin-1 letters, and anything beyond
 * except the punctuation and symbol blocks (dashes, quotes, arrows...). */
static bool is_wordy(uint32_t c) {
        if (c < 0x80)
                return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
        if (c < 0xC0 || c == 0xD7 || c == 0xF7 || c == 0xFFFD)
                return false;
        return !(c >= 0x2000 && c <= 0x2BFF) && !(c >= 0x3000 && c <= 0x303F);
}

static bool is_space(uint32_t c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xA0;
}

int tts_tokenize(const char *text, struct tts_token **ret) {
        const unsigned char *s = (const unsigned char *)text;
        _cleanup_free_ struct tts_token *tok = NULL;
        size_t n = 0, cap = 0, i = 0, chars = 0;

        while (s[i]) {
                struct tts_token t = {.byte_start = i, .char_start = chars};
                bool wordy = false;
                size_t len;

                while (s[i] && is_space(utf8_next(s + i, &len)))
                        i += len, chars++;
                t.byte_start = i, t.char_start = chars;
                while (s[i]) {
                        uint32_t c = utf8_next(s + i, &len);
                        if (is_space(c))
                                break;
                        wordy |= is_wordy(c);
                        i += len, chars++;
                }
                t.byte_end = i, t.char_end = chars;
                if (!wordy)
                        continue;
                if (n == cap) {
                        struct tts_token *p = realloc(tok, sizeof(*tok) * (cap = cap ? cap * 2 : 16));
                        if (!p)
                                return -ENOMEM;
                        tok = p;
                }
                tok[n++] = t;
        }
        *ret = TAKE_PTR(tok);
        return (int)MIN(n, (size_t)INT32_MAX);
}

void tts_map_events(const struct tts_event *ev, size_t n_ev, const struct tts_token *tok, size_t n_tok,
                    int64_t *ret) {
        size_t t = 0, last_pos = 0;

        for (size_t k = 0; k < n_tok; k++)
                ret[k] = -1;
        for (size_t e = 0; e < n_ev && t < n_tok; e++) {
                if (ev[e].char_pos < last_pos)
                        continue; /* espeak-ng went back: ignore */
                last_pos = ev[e].char_pos;
                while (t < n_tok && tok[t].char_end <= ev[e].char_pos)
                        t++;
                if (t < n_tok && ret[t] < 0)
                        ret[t] = ev[e].sample;
        }
        for (size_t k = 0; k < n_tok; k++) {
                int64_t prev = k > 0 ? ret[k - 1] : 0;

                if (ret[k] < prev) /* no event, or out of order */
                        ret[k] = prev;
        }
}

static int push_event(struct synth_ctx *c, const espeak_EVENT *e) {
        if (e->text_position < 1)
                return 0; /* no position: useless to us */
        if (c->n_ev == c->cap_ev) {
                size_t cap = c->cap_ev ? c->cap_ev * 2 : 64;
                struct tts_event *p = realloc(c->ev, sizeof(*p) * cap);

                if (!p)
                        return -ENOMEM;
                c->ev = p;
                c->cap_ev = cap;
        }
        /* text_position counts characters from 1. */
        c->ev[c->n_ev++] = (struct tts_event){(size_t)e->text_position - 1, e->sample};
        return 0;
}

static int synth_callback(short *wav, int n, espeak_EVENT *events) {
        struct synth_ctx *c = current;
        int r;

        for (espeak_EVENT *e = events; e && e->type != espeakEVENT_LIST_TERMINATED; e++)
                if (e->type == espeakEVENT_WORD && (r = push_event(c, e)) < 0) {
                        c->error = r;
                        return 1;
                }
        if (wav && n > 0) {
                if (c->audio(c->userdata, wav, (size_t)n) != 0) {
                        c->error = -ECANCELED;
                        return 1;
                }
                c->samples += n;
        }
        return 0;
}

/* Called with tts_lock held. */
static int engine_init(void) {
        if (tts_engine_rate == 0) {
                /* Without DONT_EXIT, espeak-ng calls exit() when its data is missing. */
                int r = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 100, NULL, espeakINITIALIZE_DONT_EXIT);

                tts_engine_rate = r > 0 ? r : -ENOENT;
                if (r > 0)
                        espeak_SetSynthCallback(synth_callback);
        }
        return tts_engine_rate;
}

int tts_rate(void) {
        int r;

        pthread_mutex_lock(&tts_lock);
        r = engine_init();
        pthread_mutex_unlock(&tts_lock);
        return r;
}

static int synth_locked(const char *text, const struct tts_opts *o, struct synth_ctx *c) {
        espeak_ERROR e;
        int r = engine_init();

        if (r < 0)
                return r;
        if (espeak_SetVoiceByName(o->voice) != EE_OK)
                return -ENOENT;
        if (espeak_SetParameter(espeakRATE, o->wpm, 0) != EE_OK)
                return -EINVAL;
        current = c;
        e = espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8 | espeakENDPAUSE,
                         NULL, NULL);
        current = NULL;
        if (c->error < 0)
                return c->error;
        return e == EE_OK ? 0 : -EIO;
}

int tts_synth(const char *text, const struct tts_opts *o, tts_audio_fn audio, void *userdata,
              const struct tts_token *tok, size_t n_tok, int64_t *ret_starts, int64_t *ret_samples) {
        struct synth_ctx c = {.audio = audio, .userdata = userdata};
        int r;

        pthread_mutex_lock(&tts_lock);
        r = synth_locked(text, o, &c);
        pthread_mutex_unlock(&tts_lock);
        if (r >= 0) {
                tts_map_events(c.ev, c.n_ev, tok, n_tok, ret_starts);
                *ret_samples = c.samples;
        }
        free(c.ev);
        return r;
}

int tts_phonemes(const char *text, const char *voice, char **ret) {
        const void *p = text;
        char *out = NULL;
        size_t len = 0;
        int r;

        pthread_mutex_lock(&tts_lock);
        r = engine_init();
        if (r >= 0 && espeak_SetVoiceByName(voice) != EE_OK)
                r = -ENOENT;
        /* Clause by clause: the engine moves p on, to NULL at the end. */
        while (r >= 0 && p) {
                const char *ph = espeak_TextToPhonemes(&p, espeakCHARS_UTF8, 0);
                size_t l = ph ? strlen(ph) : 0;
                char *n = realloc(out, len + l + 2);

                if (!n) {
                        r = -ENOMEM;
                        break;
                }
                out = n;
                if (len && l)
                        out[len++] = ' ';
                memcpy(out + len, ph ? ph : "", l + 1);
                len += l;
        }
        pthread_mutex_unlock(&tts_lock);
        if (r < 0) {
                free(out);
                return r;
        }
        *ret = out;
        return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* align-acoustic.c: the acoustic engine (align.h, asr.h). pocketsphinx
 * decodes the story at ASR_RATE constrained to the cues' words in order,
 * chunk by chunk; a cue starts at its first word, its confidence is the
 * score of its first words, and words matched in an intro or noise are
 * placed back from the first trusted one. The tokens of the story (also
 * used for the espeak engine's word times) and the word times of the
 * report are made here. */
#include "align.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "align-internal.h"
#include "asr.h"
#include "cleanup.h"
#include "decoder.h"
#include "log.h"
#include "segment.h"
#include "tts.h"

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

void story_tokens_done(struct story_tokens *st) {
        for (size_t i = 0; st->tok && i < st->n_tok; i++)
                free(st->tok[i]);
        free(st->tok);
        free(st->cue_first);
        free(st->sent_first);
        free(st->at);
}

int story_tokens(const struct cue_list *cues, struct story_tokens *st) {
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
                r = aligner_check_length(al, done, path);
                if (r >= 0)
                        r = aligner_env_push(al, pcm, (size_t)n);
                if (r >= 0)
                        r = buffer_push(&c, pcm, (size_t)n);
                if (r < 0)
                        break;
                done += n;
                while (r >= 0 && c.next < c.n_chunks && chunk_end(&c, c.next) <= done)
                        r = run_chunk(&c, chunk_end(&c, c.next));
                if (r < 0)
                        break;
                if (al->o->progress && done >= next_report) {
                        al->o->progress(al->o->progress_userdata, (double)done / al->rate);
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
int align_fill_words(const struct cue_list *cues, const struct story_tokens *st, const struct asr_word *w,
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

int align_acoustic(struct cue_list *cues, const char *audio_path, const struct align_opts *o,
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

        al.o = o;
        al.rate = ASR_RATE;
        al.hop = ASR_RATE / 100;
        al.block = al.rate * ENV_MS / 1000;
        al.max_samples = align_max_story_samples(cues, al.rate);
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
        if (r >= 0 && aligner_is_silent(&al))
                r = log_warning_errno(EINVAL, "align: '%s' is silent: nothing to align", audio_path);
        if (r >= 0) {
                acoustic_cues(&al, &st, w, n, conf, start, hint);
                for (size_t k = 1; k < n; k++) /* inside a sentence no pause marks a start */
                        if (cues->cues[k].sentence == cues->cues[k - 1].sentence)
                                hint[k] = -1;
                r = aligner_place_cues(&al, n, conf, ACOUSTIC_MEAN_MIN, start, hint, &rep);
        }
        if (r >= 0) {
                acoustic_ends(&al, cues, &st, w, conf, start);
                r = align_fill_words(cues, &st, w, conf, &rep);
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

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* asr.c: pocketsphinx (5prealpha, Debian 12) forced alignment. The
 * grammar is built as an FSG in memory: state i is "before token i", token
 * i is the arc i -> i+1, the FSG search adds silence and filler self-loops
 * on every state (audio the text lacks is absorbed there, at a price per
 * filler entered, not per frame), and null arcs from a sentence's first
 * state to the first state of the sentence after it (and the one after
 * that) let a sentence the audio lacks be passed over. Null arcs are not
 * closed transitively: the FSG search follows one per step, so at most two
 * sentences in a row can be passed over, and the arc count stays linear.
 *
 * The frontend runs with live cepstral mean normalisation (the model's
 * cmninit to start from) so that the audio streams through in blocks and
 * no utterance-long buffer is kept; -remove_silence is off, or the VAD
 * would drop the pauses and every time after the first would be early. */
#include "asr.h"

#include <errno.h>
#include <pocketsphinx.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "log.h"
#include "tts.h"

#define MODEL_DIR "/usr/share/pocketsphinx/model/en-us"
#define FILLPROB "1e-8"
#define SILPROB "0.005"
#define SKIP_SENTENCE_PROB 1e-80 /* passing a sentence over: far worse than any word matched badly */
#define BEAM "1e-120"
#define WBEAM "1e-100"

struct asr {
        ps_decoder_t *ps;
        fsg_model_t *fsg;
        char **word; /* per token: its dictionary entry */
        size_t n_tok;
        size_t *sent_first; /* per sentence: its first token */
        size_t n_sent;
        unsigned generation; /* grammars set so far */
        bool started;
        bool open_end;
        int next_check; /* frame at which asr_feed next looks whether the words are behind */
};

const char *asr_model_dir(void) {
        const char *e = getenv("NEXTUP_ASR_MODEL");

        return e && *e ? e : MODEL_DIR;
}

/* espeak-ng English mnemonics -> CMU phones, longest first. */
static const struct {
        const char *es, *cmu;
} phone_map[] = {
        {"aI@", "AY ER"}, {"aU@", "AW ER"}, {"aI3", "AY ER"}, {"i@3", "IH R"}, {"A@", "AA R"},
        {"e@", "EH R"},   {"i@", "IY AH"},  {"O@", "AO R"},   {"o@", "AO R"},  {"U@", "UH R"},
        {"@L", "AH L"},   {"3:", "ER"},     {"a#", "AH"},     {"aI", "AY"},    {"aU", "AW"},
        {"aa", "AE"},     {"A:", "AA"},     {"eI", "EY"},     {"i:", "IY"},    {"O:", "AO"},
        {"OI", "OY"},     {"oU", "OW"},     {"u:", "UW"},     {"tS", "CH"},    {"dZ", "JH"},
        {"n-", "N"},      {"l-", "L"},      {"m-", "M"},      {"r-", "R"},     {"@", "AH"},
        {"3", "ER"},      {"a", "AE"},      {"A", "AA"},      {"e", "EH"},     {"E", "EH"},
        {"i", "IY"},      {"I", "IH"},      {"0", "AA"},      {"O", "AO"},     {"o", "OW"},
        {"U", "UH"},      {"u", "UW"},      {"V", "AH"},      {"T", "TH"},     {"D", "DH"},
        {"S", "SH"},      {"Z", "ZH"},      {"N", "NG"},      {"h", "HH"},     {"j", "Y"},
        {"x", "K"},       {"p", "P"},       {"b", "B"},       {"t", "T"},      {"d", "D"},
        {"k", "K"},       {"g", "G"},       {"f", "F"},       {"v", "V"},      {"s", "S"},
        {"z", "Z"},       {"m", "M"},       {"n", "N"},       {"l", "L"},      {"r", "R"},
        {"w", "W"},
};

int asr_espeak_to_cmu(const char *es, char **ret) {
        size_t len = strlen(es), pos = 0;
        char *out = malloc(len * 6 + 1);
        int n = 0;

        if (!out)
                return -ENOMEM;
        for (const char *p = es; *p;) {
                size_t best = 0, k = 0;

                for (size_t i = 0; i < ELEMENTSOF(phone_map); i++) {
                        size_t l = strlen(phone_map[i].es);

                        if (l > best && strncmp(p, phone_map[i].es, l) == 0) {
                                best = l;
                                k = i;
                        }
                }
                if (best == 0) { /* stress, syllable, pause and unknown marks */
                        p++;
                        continue;
                }
                p += best;
                while (*p == '#' || *p == '2' || *p == '5') /* variants of the same phone */
                        p++;
                if (pos > 0)
                        out[pos++] = ' ';
                memcpy(out + pos, phone_map[k].cmu, strlen(phone_map[k].cmu));
                pos += strlen(phone_map[k].cmu);
                n += 1 + (strchr(phone_map[k].cmu, ' ') != NULL);
        }
        out[pos] = '\0';
        *ret = out;
        return n;
}

static bool is_alnum_ascii(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

char *asr_word_form(const char *token) {
        size_t len = strlen(token), a = 0, b, pos = 0;
        char *out = malloc(len + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < len;) {
                unsigned char c = (unsigned char)token[i];

                if (c == 0xe2 && (unsigned char)token[i + 1] == 0x80 &&
                    (unsigned char)token[i + 2] >= 0x98 && (unsigned char)token[i + 2] <= 0x9d) {
                        /* ‘ ’ -> ', “ ” -> " */
                        out[pos++] = (unsigned char)token[i + 2] <= 0x99 ? '\'' : '"';
                        i += 3;
                        continue;
                }
                out[pos++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
                i++;
        }
        out[pos] = '\0';
        /* Trim what is not a letter or digit at both ends, keeping a final
         * "." of an abbreviation with inner dots ("u.s."). */
        while (out[a] && !is_alnum_ascii((unsigned char)out[a]))
                a++;
        b = pos;
        while (b > a && !is_alnum_ascii((unsigned char)out[b - 1]))
                b--;
        if (b < pos && out[b] == '.' && memchr(out + a, '.', b - a))
                b++;
        memmove(out, out + a, b - a);
        out[b - a] = '\0';
        return out;
}

static char *lookup(ps_decoder_t *ps, const char *w) {
        return *w ? ps_lookup_word(ps, w) : NULL;
}

/* CMU phones for W from espeak-ng (NULL: none). */
static char *espeak_pron(const char *w) {
        _cleanup_free_ char *ph = NULL;
        char *cmu = NULL;

        if (tts_phonemes(w, "en-us", &ph) < 0 || !ph)
                return NULL;
        if (asr_espeak_to_cmu(ph, &cmu) <= 0) {
                free(cmu);
                return NULL;
        }
        return cmu;
}

/* A pronunciation for dictionary form W: CMUdict, CMUdict without dots,
 * its hyphen/slash parts from CMUdict (or espeak-ng), else espeak-ng for
 * the whole. malloc'd, NULL when there is none. */
static char *pronounce(ps_decoder_t *ps, const char *w) {
        _cleanup_free_ char *nodot = strdup(w), *copy = strdup(w);
        char *p, *q, *save = NULL, *out = NULL;
        size_t len = 0;

        if (!nodot || !copy)
                return NULL;
        if ((p = lookup(ps, w)))
                return p;
        for (p = q = nodot; *p; p++)
                if (*p != '.')
                        *q++ = *p;
        *q = '\0';
        if ((p = lookup(ps, nodot)))
                return p;
        if (strpbrk(w, "-/")) {
                for (char *part = strtok_r(copy, "-/", &save); part; part = strtok_r(NULL, "-/", &save)) {
                        _cleanup_free_ char *form = asr_word_form(part);
                        _cleanup_free_ char *pp = NULL;
                        char *n;

                        if (!form || !*form)
                                continue;
                        pp = lookup(ps, form);
                        if (!pp)
                                pp = espeak_pron(form);
                        if (!pp)
                                continue;
                        n = realloc(out, len + strlen(pp) + 2);
                        if (!n) {
                                free(out);
                                return NULL;
                        }
                        out = n;
                        if (len)
                                out[len++] = ' ';
                        memcpy(out + len, pp, strlen(pp) + 1);
                        len += strlen(pp);
                }
                if (out)
                        return out;
        }
        return espeak_pron(w);
}

static int add_token(struct asr *a, size_t i, const char *token) {
        _cleanup_free_ char *form = asr_word_form(token);
        _cleanup_free_ char *pron = NULL;
        char *p;

        if (!form)
                return -ENOMEM;
        if (!*form) {
                free(form);
                form = strdup("<sil>"); /* nothing to say: a pause */
                if (!form)
                        return -ENOMEM;
        } else if (!(p = lookup(a->ps, form))) {
                pron = pronounce(a->ps, form);
                if (!pron || !*pron) {
                        log_debug("asr: no pronunciation for '%s': a pause stands in", token);
                        free(form);
                        form = strdup("<sil>");
                        if (!form)
                                return -ENOMEM;
                } else if (ps_add_word(a->ps, form, pron, false) < 0)
                        return log_debug_errno(EIO, "asr: pocketsphinx refused '%s' /%s/", form, pron);
                else
                        log_debug("asr: '%s' pronounced /%s/", form, pron);
        } else
                free(p);
        a->word[i] = TAKE_PTR(form);
        return 0;
}

/* States 0..n_tok: before token i (n_tok: the end). A sentence passed
 * over lands on a state of its own, x(k) = n_tok + 1 + k, whose only way
 * on is the first word of sentence k, with no filler loop there: a pass
 * cannot be chained through fillers into another, so no path skips the
 * text wholesale, and at most two sentences in a row are passed over. */
/* CI phones of the model: a loop of them stands for speech the text lacks
 * (the next chunk's words after this chunk's end). */
static const char *const ci_phones[] = {"AA", "AE", "AH", "AO", "AW", "AY", "B",  "CH", "D",  "DH",
                                        "EH", "ER", "EY", "F",  "G",  "HH", "IH", "IY", "JH", "K",
                                        "L",  "M",  "N",  "NG", "OW", "OY", "P",  "R",  "S",  "SH",
                                        "T",  "TH", "UH", "UW", "V",  "W",  "Y",  "Z",  "ZH"};
#define PHONE_LOOP_PROB 0.02
/* An open-ended chunk stops taking audio once its best path has spent this
 * many phones in the loop past its words (checked every second): the rest
 * is the next chunk's, and decoding it here too would cost a second pass. */
#define SETTLED_PHONES 40
#define SETTLE_CHECK_FRAMES 100

static int build_fsg(struct asr *a, const size_t *sent_first, size_t n_sent, bool open_end) {
        logmath_t *lm = ps_get_logmath(a->ps);
        int32 skip = logmath_log(lm, SKIP_SENTENCE_PROB);
        int32 n_state = (int32)(a->n_tok + 1 + n_sent);

        a->fsg = fsg_model_init("align", lm, 1.0f, n_state);
        if (!a->fsg)
                return -ENOMEM;
        a->fsg->start_state = 0;
        a->fsg->final_state = (int32)a->n_tok;
        for (size_t i = 0; i < a->n_tok; i++) {
                int wid = fsg_model_word_add(a->fsg, a->word[i]);

                if (strcmp(a->word[i], "<sil>") == 0)
                        fsg_model_null_trans_add(a->fsg, (int32)i, (int32)i + 1, 0);
                else
                        fsg_model_trans_add(a->fsg, (int32)i, (int32)i + 1, 0, wid);
        }
        /* Pauses and noise (music, breaths) on every word state, at a price per entry. */
        for (size_t i = 0; i <= a->n_tok; i++) {
                fsg_model_add_silence(a->fsg, "<sil>", (int)i, (float)atof(SILPROB));
                fsg_model_add_silence(a->fsg, "[NOISE]", (int)i, (float)atof(FILLPROB));
                fsg_model_add_silence(a->fsg, "[SPEECH]", (int)i, (float)atof(FILLPROB));
        }
        for (size_t k = 1; k < n_sent; k++) {
                int32 x = (int32)(a->n_tok + 1 + k), f = (int32)sent_first[k];

                if (strcmp(a->word[f], "<sil>") == 0)
                        fsg_model_null_trans_add(a->fsg, x, f + 1, 0);
                else
                        fsg_model_trans_add(a->fsg, x, f + 1, 0, fsg_model_word_id(a->fsg, a->word[f]));
                fsg_model_null_trans_add(a->fsg, (int32)sent_first[k - 1], x, skip);
                if (k >= 2)
                        fsg_model_null_trans_add(a->fsg, (int32)sent_first[k - 2], x, skip * 2);
        }
        if (open_end) {
                int32 lp = logmath_log(lm, PHONE_LOOP_PROB);

                for (size_t i = 0; i < ELEMENTSOF(ci_phones); i++) {
                        char name[16];

                        snprintf(name, sizeof(name), "phn_%s", ci_phones[i]);
                        fsg_model_trans_add(a->fsg, (int32)a->n_tok, (int32)a->n_tok, lp,
                                            fsg_model_word_add(a->fsg, name));
                }
        }
        if (n_sent >= 2) /* the last sentence missing */
                fsg_model_null_trans_add(a->fsg, (int32)sent_first[n_sent - 1], (int32)a->n_tok, skip);
        return 0;
}

int asr_open(struct asr **ret) {
        _cleanup_free_ char *hmm = NULL, *dict = NULL;
        const char *dir = asr_model_dir();
        struct asr *a;
        cmd_ln_t *cfg;
        struct stat st;

        if (asprintf(&hmm, "%s/en-us", dir) < 0 || asprintf(&dict, "%s/cmudict-en-us.dict", dir) < 0)
                return -ENOMEM;
        if (stat(hmm, &st) < 0 || stat(dict, &st) < 0)
                return log_debug_errno(ENOENT, "asr: no acoustic model in '%s'", dir);
        cfg = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-dict", dict, "-logfn", "/dev/null",
                          "-remove_silence", "no", "-cmn", "live", "-beam", BEAM, "-pbeam", BEAM, "-wbeam",
                          WBEAM, "-topn", "2", "-fillprob", FILLPROB, "-silprob", SILPROB, NULL);
        if (!cfg)
                return log_debug_errno(EIO, "asr: pocketsphinx rejected its options");
        a = calloc(1, sizeof(*a));
        if (!a) {
                cmd_ln_free_r(cfg);
                return -ENOMEM;
        }
        a->ps = ps_init(cfg);
        cmd_ln_free_r(cfg);
        if (!a->ps) {
                free(a);
                return log_debug_errno(EIO, "asr: cannot load the model in '%s'", dir);
        }
        for (size_t i = 0; i < ELEMENTSOF(ci_phones); i++) {
                char name[16];

                snprintf(name, sizeof(name), "phn_%s", ci_phones[i]);
                if (ps_add_word(a->ps, name, ci_phones[i], FALSE) < 0) {
                        asr_free(a);
                        return log_debug_errno(EIO, "asr: the model has no phone %s", ci_phones[i]);
                }
        }
        *ret = a;
        return 0;
}

static void drop_words(struct asr *a) {
        for (size_t i = 0; a->word && i < a->n_tok; i++)
                free(a->word[i]);
        free(a->word);
        free(a->sent_first);
        a->word = NULL;
        a->sent_first = NULL;
        a->n_tok = a->n_sent = 0;
}

int asr_set_words(struct asr *a, const char *const *tok, size_t n_tok, const size_t *sent_first,
                  size_t n_sent, bool open_end) {
        static const char *names[] = {"align0", "align1"};
        const char *name = names[a->generation % 2];
        int r = 0;

        if (n_tok == 0)
                return -EINVAL;
        if (a->started) {
                ps_end_utt(a->ps);
                a->started = false;
        }
        drop_words(a);
        a->fsg = NULL;
        a->n_tok = n_tok;
        a->word = calloc(n_tok, sizeof(char *));
        a->sent_first = malloc(sizeof(size_t) * (n_sent + 1));
        a->n_sent = n_sent;
        if (!a->word || !a->sent_first)
                return -ENOMEM;
        memcpy(a->sent_first, sent_first, sizeof(size_t) * n_sent);
        for (size_t i = 0; i < n_tok && r >= 0; i++)
                r = add_token(a, i, tok[i]);
        if (r >= 0)
                r = build_fsg(a, sent_first, n_sent, open_end);
        if (r < 0) {
                if (a->fsg)
                        fsg_model_free(a->fsg);
                a->fsg = NULL;
                return r;
        }
        /* The search takes a reference of its own; ours is dropped, and
         * a->fsg stays valid while the search lives (asr_write_grammar). */
        r = ps_set_fsg(a->ps, name, a->fsg);
        fsg_model_free(a->fsg);
        if (r < 0 || ps_set_search(a->ps, name) < 0) {
                a->fsg = NULL;
                return log_debug_errno(EIO, "asr: pocketsphinx refused the grammar");
        }
        if (a->generation > 0)
                ps_unset_search(a->ps, names[(a->generation + 1) % 2]);
        a->generation++;
        a->open_end = open_end;
        return 0;
}

int asr_new(const char *const *tok, size_t n_tok, const size_t *sent_first, size_t n_sent,
            struct asr **ret) {
        struct asr *a = NULL;
        int r;

        if (n_tok == 0)
                return -EINVAL;
        r = asr_open(&a);
        if (r < 0)
                return r;
        r = asr_set_words(a, tok, n_tok, sent_first, n_sent, false);
        if (r < 0) {
                asr_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

struct asr *asr_free(struct asr *a) {
        if (!a)
                return NULL;
        if (a->ps)
                ps_free(a->ps); /* frees the grammars it was given */
        drop_words(a);
        free(a);
        return NULL;
}

char *asr_pronunciation(struct asr *a, size_t i) {
        return i < a->n_tok ? ps_lookup_word(a->ps, a->word[i]) : NULL;
}

void asr_write_grammar(struct asr *a, FILE *f) {
        fsg_model_write(a->fsg, f);
}

/* The best path so far has left the words: it ends in at least
 * SETTLED_PHONES phones of the loop past the grammar's end. */
static bool words_behind(struct asr *a) {
        const char *hyp = ps_get_hyp(a->ps, NULL), *p;
        int n = 0;

        if (!hyp)
                return false;
        for (p = hyp + strlen(hyp); p > hyp && n < SETTLED_PHONES;) {
                const char *w = p;

                while (w > hyp && w[-1] != ' ')
                        w--;
                if (strncmp(w, "phn_", 4) != 0)
                        return false;
                n++;
                p = w > hyp ? w - 1 : w;
        }
        return n >= SETTLED_PHONES;
}

int asr_feed(struct asr *a, const int16_t *pcm, size_t n) {
        if (!a->started) {
                /* Segment frames count from the stream's start: each chunk is a stream of its own. */
                if (ps_start_stream(a->ps) < 0 || ps_start_utt(a->ps) < 0)
                        return -EIO;
                a->started = true;
                a->next_check = SETTLE_CHECK_FRAMES;
        }
        if (ps_process_raw(a->ps, pcm, n, FALSE, FALSE) < 0)
                return -EIO;
        if (a->open_end && ps_get_n_frames(a->ps) >= a->next_check) {
                a->next_check = ps_get_n_frames(a->ps) + SETTLE_CHECK_FRAMES;
                if (words_behind(a))
                        return 1;
        }
        return 0;
}

/* W names token T's word, or one of its alternative pronunciations ("will(2)"). */
static bool same_word(const char *word, const char *w) {
        size_t l = strlen(word);

        return strncmp(word, w, l) == 0 && (w[l] == '\0' || w[l] == '(');
}

static bool is_pause(const struct asr *a, size_t t) {
        return strcmp(a->word[t], "<sil>") == 0;
}

/* The token the decoder's next word W stands for, from token T on: T
 * itself (pause tokens passed), or the first word of one of the next two
 * sentences (the grammar passed a sentence over), or n_tok. */
static size_t next_token(const struct asr *a, size_t t, const char *w) {
        size_t s = 0;

        while (t < a->n_tok && is_pause(a, t))
                t++;
        if (t == a->n_tok || same_word(a->word[t], w))
                return t;
        while (s + 1 < a->n_sent && a->sent_first[s + 1] <= t)
                s++;
        for (size_t k = s + 1; k <= s + 2 && k < a->n_sent; k++) {
                size_t u = a->sent_first[k];

                while (u < a->n_tok && is_pause(a, u))
                        u++;
                if (u < a->n_tok && same_word(a->word[u], w))
                        return u;
        }
        while (t < a->n_tok && !same_word(a->word[t], w))
                t++;
        return t;
}

static int phone_count(struct asr *a, size_t t) {
        _cleanup_free_ char *p = ps_lookup_word(a->ps, a->word[t]);
        int n = 0;

        for (const char *q = p; q && *q; q++)
                n += (q == p || q[-1] == ' ') && *q != ' ';
        return n;
}

int asr_finish(struct asr *a, struct asr_word *ret) {
        size_t t = 0;
        int32 score;

        for (size_t i = 0; i < a->n_tok; i++)
                ret[i] = (struct asr_word){-1, -1, 0, 0};
        if (!a->started || ps_end_utt(a->ps) < 0)
                return -EIO;
        a->started = false;
        if (!ps_get_hyp(a->ps, &score))
                return log_debug_errno(EBADMSG, "asr: no path through the grammar");
        for (ps_seg_t *seg = ps_seg_iter(a->ps); seg; seg = ps_seg_next(seg)) {
                const char *w = ps_seg_word(seg);
                int sf, ef;
                int32 ascr, lscr, lback;

                if (!w || w[0] == '(') /* "(NULL)": a null arc, a sentence passed over */
                        continue;
                if (w[0] == '<' || w[0] == '[' || w[0] == '+' || strncmp(w, "phn_", 4) == 0)
                        continue; /* silence and fillers */
                t = next_token(a, t, w);
                if (t == a->n_tok)
                        break;
                ps_seg_frames(seg, &sf, &ef);
                ps_seg_prob(seg, &ascr, &lscr, &lback);
                ret[t].start_ms = (int64_t)sf * 10;
                ret[t].end_ms = (int64_t)(ef + 1) * 10;
                ret[t].score = (double)ascr / (double)(ef - sf + 1);
                ret[t].n_phones = phone_count(a, t);
                t++;
        }
        return 0;
}

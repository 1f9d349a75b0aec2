/* SPDX-License-Identifier: GPL-3.0-or-later */
/* segment.c: spoken turns -> sentences -> caption cues a person can read.
 * A cue never spans sentences, holds at most max_lines lines of max_chars
 * characters (UTF-8 characters, not bytes) and is cut where a reader would
 * pause: fewest cues first, then clause boundaries (after , ; : or a dash,
 * before "and", "but", ...), then balanced lengths, avoiding one-word
 * orphans and breaks right after "the", "of", "Mr.". Both the cue split and
 * the line split are small dynamic programmes over the words with that
 * cost, so the choice is global rather than greedy. */
#include "segment.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "transcript.h"

#define COST_INF 1e300

/* Abbreviations after which a period does not end a sentence. */
static const char *const abbreviations[] = {
        "Mr",  "Mrs", "Ms",  "Dr",   "St",   "Jr",     "Sr",   "vs",   "Prof", "Gen",
        "Sen", "Rep", "Gov", "Lt",   "Col",  "Sgt",    "Capt", "Cmdr", "Adm",  "Rev",
        "Mt",  "Ft",  "Hon", "Pres", "Supt", "Messrs", "Mme",  "Sra",
};

/* A break before these reads as a clause boundary. */
static const char *const conjunctions[] = {
        "and",      "but",    "or",   "nor",    "so",    "yet",   "because",
        "which",    "who",    "whom", "whose",  "where", "when",  "while",
        "although", "though", "if",   "unless", "until", "since", "whether",
};

/* A break right after these strands them from their word. */
static const char *const weak_words[] = {
        "a",   "an",    "the", "of",   "to",   "in",   "on",    "at",    "for", "with",
        "by",  "from",  "Mr.", "Mrs.", "Ms.",  "Dr.",  "St.",   "my",    "his", "her",
        "our", "their", "its", "your", "this", "that", "these", "those",
};

/* Penalties as fractions of a full unit's squared capacity. */
#define PEN_CLAUSE 0.05
#define PEN_CONJ 0.15
#define PEN_WORD 0.30
#define PEN_BEFORE_DASH 0.50
#define PEN_WEAK 0.60
#define PEN_ORPHAN 0.40        /* a lone word dangling at the end of a cue */
#define PEN_ORPHAN_FINAL 0.20  /* ... that ends the sentence */
#define PEN_ORPHAN_LEAD 0.15   /* a lone word leading the next line */
#define PEN_ORPHAN_CLAUSE 0.05 /* a lone lead-in such as "Yesterday," */
#define PEN_NAME 0.50

struct word {
        const char *s;
        size_t len;  /* bytes */
        int chars;   /* display width in characters, with the mark prefix */
        bool mark;   /* the speaker mark standing alone */
        bool prefix; /* the speaker mark and a space come before this word */
};

static int utf8_chars(const char *s, size_t len) {
        int n = 0;

        for (size_t i = 0; i < len; i++)
                n += ((unsigned char)s[i] & 0xc0) != 0x80;
        return n;
}

static bool is_utf8(const char *s, const char *seq) {
        return strncmp(s, seq, strlen(seq)) == 0;
}

/* ---- sentences ---- */

static bool is_closer(const char *s, size_t *ret_len) {
        if (*s == '"' || *s == '\'' || *s == ')' || *s == ']') {
                *ret_len = 1;
                return true;
        }
        if (is_utf8(s, "\xe2\x80\x9d") || is_utf8(s, "\xe2\x80\x99")) { /* ” ’ */
                *ret_len = 3;
                return true;
        }
        return false;
}

static bool starts_sentence(const char *s) {
        const unsigned char u = (unsigned char)*s;

        if (isupper(u) || isdigit(u) || *s == '"' || *s == '\'' || *s == '$')
                return true;
        if (is_utf8(s, "\xe2\x80\x9c") || is_utf8(s, "\xe2\x80\x98")) /* “ ‘ */
                return true;
        return u == 0xc3 && (unsigned char)s[1] >= 0x80 && (unsigned char)s[1] <= 0x9e;
}

/* Is the period at text[i] part of an abbreviation or a dotted initial? */
static bool is_abbreviation(const char *text, size_t i) {
        size_t b = i;

        while (b > 0 && isalpha((unsigned char)text[b - 1]))
                b--;
        if (i - b == 1 && (b == 0 || !isalnum((unsigned char)text[b - 1])))
                return true; /* "J." and the "S." of "U.S." */
        for (size_t k = 0; k < ELEMENTSOF(abbreviations); k++)
                if (strlen(abbreviations[k]) == i - b && strncmp(text + b, abbreviations[k], i - b) == 0)
                        return true;
        return false;
}

/* Quote state: inside a "..." or “...” span that closes later in the text.
 * An unclosed quote (a quotation running on to the next paragraph) is
 * ignored, else it would glue the rest of the turn into one sentence. */
/* Where the next closing quote of each kind is, as found last; NULL
 * after a search found none (no later one will, either). The searches
 * then cost linear time in all, where unclosed “ repeated a thousand
 * times would scan the rest of the text a thousand times. */
struct quote_memo {
        const char *straight, *curly;
        bool straight_none, curly_none;
};

static const char *next_closer(const char *from, const char *what, const char **memo, bool *none) {
        if (*none)
                return NULL;
        if (!*memo || *memo < from) {
                *memo = strstr(from, what);
                *none = !*memo;
        }
        return *memo;
}

static const char *quote_update(const char *s, const char *quote_end, struct quote_memo *q) {
        if (quote_end)
                return s >= quote_end ? NULL : quote_end;
        if (*s == '"')
                return next_closer(s + 1, "\"", &q->straight, &q->straight_none);
        if (is_utf8(s, "\xe2\x80\x9c"))
                return next_closer(s + 3, "\xe2\x80\x9d", &q->curly, &q->curly_none);
        return NULL;
}

/* Returns the length of the first sentence of text (at least 1 byte when
 * text is not empty). */
static size_t sentence_length(const char *text, struct quote_memo *q) {
        const char *quote_end = NULL;

        for (size_t i = 0; text[i]; i++) {
                size_t j = i, cl, run_end;

                quote_end = quote_update(text + i, quote_end, q);
                if (!strchr(".?!", text[i]))
                        continue;
                if (text[i] == '.' && is_abbreviation(text, i))
                        continue;
                while (text[j + 1] && strchr(".?!", text[j + 1]))
                        j++;
                /* a run of stops is looked at once, not once per stop
                 * (linear time on "......") */
                run_end = j;
                j++;
                while (is_closer(text + j, &cl))
                        j += cl;
                /* Inside quotes unless the closers just consumed end them. */
                if ((quote_end && text + j <= quote_end) || text[j] != ' ') {
                        i = run_end;
                        continue;
                }
                if (starts_sentence(text + j + strspn(text + j, " ")))
                        return j;
                i = run_end;
        }
        return strlen(text);
}

static void strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

int segment_sentences(const char *text, char ***ret) {
        struct quote_memo q = {0};
        char **v = NULL;
        size_t n = 0, alloc = 1;

        v = calloc(1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (const char *s = text; *(s += strspn(s, " \t\n"));) {
                size_t l = sentence_length(s, &q), t = l;

                while (t > 0 && isspace((unsigned char)s[t - 1]))
                        t--;
                if (n + 2 > alloc) {
                        char **nv = reallocarray(v, alloc * 2 + 2, sizeof(char *));

                        if (!nv)
                                goto oom;
                        v = nv;
                        alloc = alloc * 2 + 2;
                }
                v[n] = strndup(s, t);
                if (!v[n])
                        goto oom;
                v[++n] = NULL;
                s += l;
        }
        *ret = v;
        return (int)n;
oom:
        strv_free(v);
        return -ENOMEM;
}

/* ---- words and break costs ---- */

static bool word_is(const struct word *w, const char *const *list, size_t n, bool ci) {
        for (size_t k = 0; k < n; k++)
                if (strlen(list[k]) == w->len &&
                    (ci ? strncasecmp(w->s, list[k], w->len) : strncmp(w->s, list[k], w->len)) == 0)
                        return true;
        return false;
}

static bool is_dash_word(const struct word *w) {
        return (w->len == 1 && w->s[0] == '-') || (w->len == 2 && w->s[0] == '-' && w->s[1] == '-') ||
               (w->len == 3 && (is_utf8(w->s, "\xe2\x80\x94") || is_utf8(w->s, "\xe2\x80\x93")));
}

static bool ends_clause(const struct word *w) {
        size_t l = w->len, cl;

        while (l > 0 && (w->s[l - 1] == '"' || w->s[l - 1] == ')' ||
                         (l >= 3 && is_closer(w->s + l - 3, &cl) && cl == 3)))
                l -= w->s[l - 1] == '"' || w->s[l - 1] == ')' ? 1 : 3;
        if (l > 0 && strchr(",;:", w->s[l - 1]))
                return true;
        return is_dash_word(w) || (l >= 3 && is_utf8(w->s + l - 3, "\xe2\x80\x94"));
}

/* Cost of breaking between words[j-1] and words[j], as a fraction. */
static double break_penalty(const struct word *w, size_t n, size_t j) {
        if (j >= n)
                return 0;
        if (w[j - 1].mark)
                return PEN_WEAK;
        if (ends_clause(&w[j - 1]))
                return PEN_CLAUSE;
        if (is_dash_word(&w[j]))
                return PEN_BEFORE_DASH;
        if (word_is(&w[j - 1], weak_words, ELEMENTSOF(weak_words), true))
                return PEN_WEAK;
        /* "White House", "Vladimir Putin": keep a run of capitals together. */
        if (isupper((unsigned char)w[j - 1].s[0]) && isupper((unsigned char)w[j].s[0]))
                return PEN_NAME;
        if (word_is(&w[j], conjunctions, ELEMENTSOF(conjunctions), false))
                return PEN_CONJ;
        return PEN_WORD;
}

/* Fewest lines words[a..b) take at max_chars (greedy is optimal for that);
 * a word wider than a line sits on a line of its own. */
static int lines_needed(const struct word *w, size_t a, size_t b, int max_chars) {
        int lines = 1, cur = 0;

        for (size_t k = a; k < b; k++) {
                if (cur == 0)
                        cur = w[k].chars;
                else if (cur + 1 + w[k].chars <= max_chars)
                        cur += 1 + w[k].chars;
                else {
                        lines++;
                        cur = w[k].chars;
                }
        }
        return lines;
}

static size_t real_words(const struct word *w, size_t a, size_t b) {
        size_t n = 0;

        for (size_t k = a; k < b; k++)
                n += !w[k].mark;
        return n;
}

/* A line or cue of one word reads as a stray. Worst when it dangles at
 * the end of a cue with the sentence going on; a lead-in ("Yesterday,")
 * or a first line of one long word is barely a problem. */
static double orphan_penalty(const struct word *w, size_t a, size_t b, size_t n_words, bool last) {
        const struct word *o;
        char end;

        if (n_words <= 1 || b - a > 2 || real_words(w, a, b) != 1) /* one word and the mark at most */
                return 0;
        o = w[a].mark ? &w[a + 1] : &w[a];
        if (ends_clause(o))
                return PEN_ORPHAN_CLAUSE;
        if (!last)
                return PEN_ORPHAN_LEAD;
        end = o->s[o->len - 1];
        return strchr(".?!\"')", end) ? PEN_ORPHAN_FINAL : PEN_ORPHAN;
}

/* Cuts the sentence's words into cue-sized chunks: ends[] gets the end
 * index of each chunk. Cost per chunk: a full capacity squared (so fewer
 * cues win), its width squared (balance), the break penalty. */
static int choose_chunks(const struct word *w, size_t n, const struct segment_opts *o, size_t **ret_ends,
                         size_t *ret_n) {
        _cleanup_free_ double *best = calloc(n + 1, sizeof(double));
        _cleanup_free_ size_t *prev = calloc(n + 1, sizeof(size_t));
        double cap = (double)o->max_lines * o->max_chars, cap2 = cap * cap;
        size_t *ends, k = 0, n_real = real_words(w, 0, n);

        if (!best || !prev)
                return -ENOMEM;
        /* Linear in n: the inner loop stops once a span needs more than
         * max_lines lines, so it sees at most max_lines * max_chars / 2 + 2
         * words, and nothing in it scans the whole sentence (issue 8: the
         * real_words(w, 0, n) once here made 150 KB take 9 s). */
        for (size_t j = 1; j <= n; j++) {
                int lines = 1, cur = 0, width_ij = 0;
                double pen = break_penalty(w, n, j) * cap2; /* the same for every i */

                best[j] = COST_INF;
                for (size_t i = j; i-- > 0;) {
                        double width, cost;

                        /* lines_needed(w, i, j) kept up as the span grows to the left:
                         * greedy from the right needs as few lines as from the left */
                        if (cur == 0)
                                cur = w[i].chars;
                        else if (cur + 1 + w[i].chars <= o->max_chars)
                                cur += 1 + w[i].chars;
                        else {
                                lines++;
                                cur = w[i].chars;
                        }
                        width_ij += w[i].chars + (i + 1 < j);
                        if (j - i > 1 && lines > o->max_lines)
                                break;
                        if (j - i <= 2 && real_words(w, i, j) == 0)
                                continue; /* only the mark, which is one word at most */
                        width = width_ij;
                        cost = best[i] + cap2 + width * width + pen;
                        cost += orphan_penalty(w, i, j, n_real, true) * cap2;
                        if (cost < best[j]) {
                                best[j] = cost;
                                prev[j] = i;
                        }
                }
        }
        ends = calloc(n, sizeof(size_t));
        if (!ends)
                return -ENOMEM;
        for (size_t j = n; j > 0; j = prev[j])
                ends[k++] = j;
        for (size_t a = 0, b = k - 1; a < b; a++, b--) {
                size_t t = ends[a];
                ends[a] = ends[b];
                ends[b] = t;
        }
        *ret_ends = ends;
        *ret_n = k;
        return 0;
}

/* Splits words[a..b) into the fewest lines possible, balanced: breaks[]
 * gets the index where each line after the first starts. */
static int choose_lines(const struct word *w, size_t a, size_t b, int max_chars, size_t *breaks,
                        int *ret_lines) {
        int lines = lines_needed(w, a, b, max_chars);
        size_t n = b - a, n_real = real_words(w, a, b);
        double m2 = (double)max_chars * max_chars;
        _cleanup_free_ double *f = calloc((size_t)(lines + 1) * (n + 1), sizeof(double));
        _cleanup_free_ size_t *from = calloc((size_t)(lines + 1) * (n + 1), sizeof(size_t));

        if (!f || !from)
                return -ENOMEM;
#define F(l, j) f[(size_t)(l) * (n + 1) + (j)]
#define FROM(l, j) from[(size_t)(l) * (n + 1) + (j)]
        for (size_t j = 0; j <= n; j++)
                F(0, j) = j == 0 ? 0 : COST_INF;
        for (int l = 1; l <= lines; l++)
                for (size_t j = 0; j <= n; j++) {
                        double pen = j > 0 ? break_penalty(w + a, n, j) * m2 : 0;

                        int width_ij = 0; /* span_width(w, a + i, a + j), kept up as i goes left */

                        F(l, j) = COST_INF;
                        for (size_t i = j; i-- > 0;) {
                                double width, cost;

                                width_ij += w[a + i].chars + (i + 1 < j);
                                width = width_ij;
                                if (j - i > 1 && width > max_chars)
                                        break;
                                if (F(l - 1, i) >= COST_INF)
                                        continue;
                                cost = F(l - 1, i) + width * width + pen +
                                       (n > (size_t)lines
                                                ? orphan_penalty(w, a + i, a + j, n_real, l == lines) * m2
                                                : 0);
                                if (cost < F(l, j)) {
                                        F(l, j) = cost;
                                        FROM(l, j) = i;
                                }
                        }
                }
        for (size_t j = n, l = lines; l > 1; l--) {
                j = FROM(l, j);
                breaks[l - 2] = a + j;
        }
#undef F
#undef FROM
        *ret_lines = lines;
        return 0;
}

/* ---- cues ---- */

static int cue_list_push(struct cue_list *l, size_t *alloc, struct cue *c) {
        if (l->n_cues == *alloc) {
                size_t n = *alloc ? *alloc * 2 : 32;
                struct cue *a = reallocarray(l->cues, n, sizeof *a);

                if (!a)
                        return -ENOMEM;
                l->cues = a;
                *alloc = n;
        }
        l->cues[l->n_cues++] = *c;
        return 0;
}

/* Renders words[a..b) with newlines before breaks[]; *spoken without. */
static int render(const struct word *w, size_t a, size_t b, const size_t *breaks, int lines,
                  const char *mark, char **ret_text, char **ret_spoken) {
        size_t cap = strlen(mark) + 2;
        char *text, *spoken;
        size_t t = 0, s = 0;
        int next = 0;

        for (size_t k = a; k < b; k++)
                cap += w[k].len + 1;
        text = malloc(cap + strlen(mark) + 2);
        spoken = malloc(cap);
        if (!text || !spoken) {
                free(text);
                free(spoken);
                return -ENOMEM;
        }
        for (size_t k = a; k < b; k++) {
                if (k > a)
                        text[t++] = next < lines - 1 && breaks[next] == k ? (next++, '\n') : ' ';
                if (w[k].prefix || w[k].mark)
                        t += (size_t)sprintf(text + t, w[k].prefix ? "%s " : "%s", mark);
                if (w[k].mark)
                        continue;
                memcpy(text + t, w[k].s, w[k].len);
                t += w[k].len;
                if (s > 0)
                        spoken[s++] = ' ';
                memcpy(spoken + s, w[k].s, w[k].len);
                s += w[k].len;
        }
        text[t] = spoken[s] = '\0';
        *ret_text = text;
        *ret_spoken = spoken;
        return 0;
}

/* The words of a sentence; with a mark, it is glued to the first word
 * unless that makes an overlong line out of a word that fits alone. */
static int split_words(const char *sentence, const char *mark, int max_chars, struct word **ret,
                       size_t *ret_n) {
        struct word *w = calloc(strlen(sentence) / 2 + 3, sizeof *w);
        size_t n = 0;

        if (!w)
                return -ENOMEM;
        if (*mark)
                w[n++] = (struct word){.s = mark,
                                       .len = strlen(mark),
                                       .chars = utf8_chars(mark, strlen(mark)),
                                       .mark = true};
        for (const char *s = sentence; *(s += strspn(s, " \t\n"));) {
                size_t l = strcspn(s, " \t\n");

                w[n++] = (struct word){.s = s, .len = l, .chars = utf8_chars(s, l)};
                s += l;
        }
        if (*mark && n > 1 && w[0].chars + 1 + w[1].chars <= max_chars) {
                w[1].prefix = true;
                w[1].chars += w[0].chars + 1;
                memmove(w, w + 1, --n * sizeof *w);
        }
        *ret = w;
        *ret_n = n;
        return 0;
}

void cue_words_clear(struct cue *c) {
        for (size_t i = 0; i < c->n_words; i++)
                free(c->words[i].text);
        free(c->words);
        c->words = NULL;
        c->n_words = 0;
}

static void cue_done(struct cue *c) {
        cue_words_clear(c);
        free(c->text);
        free(c->spoken);
        free(c->speaker);
}

/* Appends the cues of one sentence; the mark goes on its first cue. */
static int segment_sentence(struct cue_list *l, size_t *alloc, const char *sentence, const char *speaker,
                            bool change, const struct segment_opts *o) {
        const char *mark = change ? o->speaker_mark : "";
        _cleanup_free_ struct word *w = NULL;
        _cleanup_free_ size_t *ends = NULL, *breaks = NULL;
        size_t n, n_chunks;
        int r;

        r = split_words(sentence, mark, o->max_chars, &w, &n);
        if (r < 0)
                return r;
        if (real_words(w, 0, n) == 0)
                return 0;
        r = choose_chunks(w, n, o, &ends, &n_chunks);
        if (r < 0)
                return r;
        breaks = calloc(n + 1, sizeof(size_t));
        if (!breaks)
                return -ENOMEM;
        for (size_t c = 0, a = 0; c < n_chunks; a = ends[c++]) {
                struct cue cue = {.sentence = l->n_sentences,
                                  .start_ms = -1,
                                  .end_ms = -1,
                                  .speaker_change = change && c == 0};
                int lines;

                r = choose_lines(w, a, ends[c], o->max_chars, breaks, &lines);
                if (r >= 0)
                        r = render(w, a, ends[c], breaks, lines, mark, &cue.text, &cue.spoken);
                if (r >= 0 && speaker && !(cue.speaker = strdup(speaker)))
                        r = -ENOMEM;
                if (r >= 0)
                        r = cue_list_push(l, alloc, &cue);
                if (r < 0) {
                        cue_done(&cue);
                        return r;
                }
        }
        l->n_sentences++;
        return 0;
}

/* A timed turn's span is shared by its cues in proportion to their length. */
static void share_span(struct cue *c, size_t n, int64_t start, int64_t end) {
        int64_t total = 0, acc = 0;

        for (size_t i = 0; i < n; i++)
                total += utf8_chars(c[i].spoken, strlen(c[i].spoken));
        for (size_t i = 0; i < n; i++) {
                c[i].start_ms = total > 0 ? start + (end - start) * acc / total : start;
                acc += utf8_chars(c[i].spoken, strlen(c[i].spoken));
                c[i].end_ms = i + 1 == n || total == 0 ? end : start + (end - start) * acc / total;
        }
}

static bool same_speaker(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static int segment_turn(struct cue_list *l, size_t *alloc, const struct transcript_turn *turn, bool change,
                        const struct segment_opts *o) {
        char **sentences = NULL;
        size_t first = l->n_cues;
        int n, r = 0;

        n = segment_sentences(turn->text, &sentences);
        if (n < 0)
                return n;
        for (int i = 0; i < n && r >= 0; i++) {
                r = segment_sentence(l, alloc, sentences[i], turn->speaker, change, o);
                change = change && l->n_cues == first;
        }
        strv_free(sentences);
        if (r >= 0 && turn->start_ms >= 0 && turn->end_ms >= turn->start_ms)
                share_span(l->cues + first, l->n_cues - first, turn->start_ms, turn->end_ms);
        return r;
}

int segment_transcript(const struct transcript *t, const struct segment_opts *o, struct cue_list **ret) {
        struct segment_opts opts = o ? *o : SEGMENT_OPTS_DEFAULT;
        struct cue_list *l;
        const char *prev = NULL;
        bool have_prev = false;
        size_t alloc = 0;

        if (opts.max_chars < 1 || opts.max_lines < 1)
                return -EINVAL;
        if (!opts.speaker_mark)
                opts.speaker_mark = "";
        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_turns; i++) {
                const struct transcript_turn *turn = &t->turns[i];
                size_t before = l->n_cues;
                int r;

                r = segment_turn(l, &alloc, turn, have_prev && !same_speaker(prev, turn->speaker), &opts);
                if (r < 0) {
                        cue_list_free(l);
                        return r;
                }
                if (l->n_cues > before) {
                        prev = turn->speaker;
                        have_prev = true;
                }
                if (l->n_cues > SEGMENT_CUES_MAX) {
                        cue_list_free(l);
                        return -E2BIG;
                }
        }
        if (l->n_cues == 0) {
                cue_list_free(l);
                return -EINVAL;
        }
        *ret = l;
        return 0;
}

const char *segment_strerror(int r) {
        switch (r) {
        case -EINVAL:
                return "no spoken text";
        case -E2BIG:
                return "more than 10000 captions (SEGMENT_CUES_MAX): too long for one story";
        default:
                return strerror(-r);
        }
}

struct cue_list *cue_list_free(struct cue_list *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_cues; i++)
                cue_done(&l->cues[i]);
        free(l->cues);
        free(l);
        return NULL;
}

static int dup_words(const struct cue *c, struct cue *n) {
        n->words = calloc(c->n_words, sizeof *n->words);
        if (!n->words)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_words; i++) {
                n->words[i] = c->words[i];
                n->words[i].text = strdup(c->words[i].text);
                n->n_words = i + 1;
                if (!n->words[i].text)
                        return -ENOMEM;
        }
        return 0;
}

int cue_list_dup(const struct cue_list *l, struct cue_list **ret) {
        struct cue_list *d = calloc(1, sizeof *d);

        if (!d)
                return -ENOMEM;
        d->cues = calloc(l->n_cues ? l->n_cues : 1, sizeof *d->cues);
        if (!d->cues) {
                free(d);
                return -ENOMEM;
        }
        d->n_sentences = l->n_sentences;
        for (size_t i = 0; i < l->n_cues; i++) {
                const struct cue *c = &l->cues[i];
                struct cue *n = &d->cues[i];

                *n = *c;
                n->text = strdup(c->text);
                n->spoken = strdup(c->spoken);
                n->speaker = c->speaker ? strdup(c->speaker) : NULL;
                n->words = NULL;
                n->n_words = 0;
                d->n_cues = i + 1;
                if (c->n_words && dup_words(c, n) < 0) {
                        cue_list_free(d);
                        return -ENOMEM;
                }
                if (!n->text || !n->spoken || (c->speaker && !n->speaker)) {
                        cue_list_free(d);
                        return -ENOMEM;
                }
        }
        *ret = d;
        return 0;
}

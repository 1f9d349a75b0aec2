/* SPDX-License-Identifier: GPL-3.0-or-later */
/* transcript.c: turns a story transcript into what is actually spoken.
 * Three inputs are told apart by content: WebVTT ("WEBVTT" first), SRT (a
 * number, then a "-->" line) and everything else, read as an NPR story page
 * copy or plain text. On a page, only the body between the title and the
 * "Transcript provided by NPR" trailer is spoken; page chrome, NAME: labels
 * and (SOUNDBITE ...) production notes are not, because a caption that shows
 * words nobody says teaches a deaf reader to distrust the captions. Timed
 * inputs keep their cue times as given. */
#include "transcript.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"

#define LABEL_MAX_BYTES 80

struct parser {
        const char *name;
        char **error;
        struct transcript *t;
        size_t n_alloc;
        char **lines; /* normalised, NUL-terminated, trailing blanks cut */
        size_t n_lines;
};

/* Whole lines of web page furniture that a copy-paste drags along. */
static const char *const chrome_lines[] = {
        "play live radio",
        "next up",
        "available on air stations",
        "listen",
        "listen live",
        "listen now",
        "live radio",
        "download",
        "embed",
        "transcript",
        "sponsor message",
        "hide caption",
        "toggle caption",
        "enlarge this image",
        "copyright",
        "share",
        "facebook",
        "twitter",
        "flipboard",
        "email",
        "donate",
        "sign in",
        "close",
        "playlist",
        "npr",
        "npr.org",
        "more stories",
        "related stories",
        "audio will be available later today.",
};

/* Prefixes of lines that are chrome whatever follows ("Listen · 4:12"). */
static const char *const chrome_prefixes[] = {
        "listen \xc2\xb7", "embed <iframe", "<iframe", "copyright ", "\xc2\xa9", "enlarge this image",
};

/* Where the spoken body of an NPR page ends; the earliest match wins. */
static const char *const trailer_markers[] = {
        "Transcript provided by NPR",
        "Copyright NPR",
        "Copyright \xc2\xa9",
};

/* Lower-case or single-word notes that are never spoken. */
static const char *const note_words[] = {
        "inaudible",
        "unintelligible",
        "laughter",
        "laughing",
        "laughs",
        "crosstalk",
        "applause",
        "music",
        "cheering",
        "sighs",
        "silence",
        "soundbite",
        "foreign language",
        "speaking foreign",
        "non-english",
        "singing",
        "chanting",
        "booing",
        "bleep",
        "beep",
        "gunfire",
        "background noise",
        "sound of",
};

static int parser_fail(struct parser *p, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int parser_fail(struct parser *p, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (p->error) {
                r = line > 0 ? asprintf(p->error, "%s:%u: %s", p->name, line, msg)
                             : asprintf(p->error, "%s: %s", p->name, msg);
                if (r < 0) {
                        *p->error = NULL;
                        return -ENOMEM;
                }
        }
        return -EINVAL;
}

static bool is_blank(const char *s) {
        return s[strspn(s, " \t")] == '\0';
}

static const char *skip_space(const char *s) {
        return s + strspn(s, " \t");
}

static bool starts_with_ci(const char *s, const char *prefix) {
        return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* Length of the UTF-8 sequence at s[0..n), or 0 when it is not valid
 * (overlong, surrogate, past U+10FFFF, cut short). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
        unsigned char c = s[0];
        uint32_t cp, min;
        size_t len;

        if (c < 0x80)
                return 1;
        if ((c & 0xE0) == 0xC0)
                len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
                len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
                len = 4, cp = c & 0x07, min = 0x10000;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t k = 1; k < len; k++) {
                if ((s[k] & 0xC0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
        return len;
}

/* The caps and the encoding, in one linear pass before any parsing: text
 * that is not UTF-8 (a Latin-1 file) would otherwise reach replies, events
 * and sinks as bytes that are not text. */
static int check_input(struct parser *p, const char *text, size_t len) {
        const unsigned char *u = (const unsigned char *)text;
        size_t line_start = 0, word = 0;
        unsigned line = 1;

        if (len > TRANSCRIPT_MAX_BYTES)
                return parser_fail(p, 0, "%zu bytes, more than a transcript may have (%u)", len,
                                   TRANSCRIPT_MAX_BYTES);
        for (size_t i = 0; i < len;) {
                size_t n = utf8_seq(u + i, len - i);

                if (n == 0)
                        return parser_fail(p, line,
                                           "not UTF-8 text (byte 0x%02X at column %zu); save the transcript "
                                           "as UTF-8",
                                           u[i], i - line_start + 1);
                if (u[i] == '\n' || u[i] == '\r') {
                        if (u[i] == '\n' || i + 1 >= len || u[i + 1] != '\n')
                                line++;
                        line_start = i + 1;
                        word = 0;
                } else if (i - line_start >= TRANSCRIPT_LINE_MAX)
                        return parser_fail(p, line, "line longer than %u bytes", TRANSCRIPT_LINE_MAX);
                else if (u[i] == ' ' || u[i] == '\t')
                        word = 0;
                else if ((word += n) > TRANSCRIPT_WORD_MAX)
                        return parser_fail(p, line, "a word longer than %u bytes at column %zu",
                                           TRANSCRIPT_WORD_MAX, i - line_start + 1);
                i += n;
        }
        return 0;
}

/* Copies the input with CRLF/CR turned into LF, a UTF-8 BOM dropped, NUL
 * bytes and no-break spaces made plain spaces, then cuts it into lines. */
static int parser_split_lines(struct parser *p, const char *text, size_t len, char **ret_buf) {
        _cleanup_free_ char *buf = malloc(len + 1);
        size_t i = 0, o = 0, n = 1;

        if (!buf)
                return -ENOMEM;
        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                i = 3;
        for (; i < len; i++) {
                char c = text[i];

                if (c == '\r') {
                        if (i + 1 < len && text[i + 1] == '\n')
                                i++;
                        c = '\n';
                } else if (c == '\0' || c == '\t')
                        c = ' ';
                else if ((unsigned char)c == 0xc2 && i + 1 < len && (unsigned char)text[i + 1] == 0xa0) {
                        i++;
                        c = ' ';
                }
                n += c == '\n';
                buf[o++] = c;
        }
        buf[o] = '\0';

        p->lines = calloc(n, sizeof(char *));
        if (!p->lines)
                return -ENOMEM;
        for (char *s = buf; s;) {
                char *nl = strchr(s, '\n');
                size_t l;

                if (nl)
                        *nl = '\0';
                l = strlen(s);
                while (l > 0 && s[l - 1] == ' ')
                        s[--l] = '\0';
                p->lines[p->n_lines++] = s;
                s = nl ? nl + 1 : NULL;
        }
        *ret_buf = TAKE_PTR(buf);
        return 0;
}

static bool is_chrome(const char *line) {
        _cleanup_free_ char *s = strdup(skip_space(line));
        size_t l;

        if (!s)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(chrome_prefixes); i++)
                if (starts_with_ci(s, chrome_prefixes[i]))
                        return true;
        l = strlen(s);
        while (l > 0 && (s[l - 1] == ':' || s[l - 1] == ' '))
                s[--l] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(chrome_lines); i++)
                if (strcasecmp(s, chrome_lines[i]) == 0)
                        return true;
        return false;
}

static int transcript_add_turn(struct parser *p, const char *speaker, char *text, int64_t start_ms,
                               int64_t end_ms) {
        struct transcript *t = p->t;
        _cleanup_free_ char *sp = NULL;

        if (speaker) {
                sp = strdup(speaker);
                if (!sp)
                        return -ENOMEM;
        }
        if (t->n_turns == p->n_alloc) {
                size_t n = p->n_alloc ? p->n_alloc * 2 : 16;
                struct transcript_turn *a = reallocarray(t->turns, n, sizeof *a);

                if (!a)
                        return -ENOMEM;
                t->turns = a;
                p->n_alloc = n;
        }
        t->turns[t->n_turns++] = (struct transcript_turn){
                .speaker = TAKE_PTR(sp),
                .text = text,
                .start_ms = start_ms,
                .end_ms = end_ms,
        };
        return 0;
}

/* ---- production notes and labels ---- */

static bool is_note(const char *s, size_t len) {
        bool upper = false, lower = false, space = false;

        for (size_t i = 0; i < len; i++) {
                upper |= isupper((unsigned char)s[i]) != 0;
                lower |= islower((unsigned char)s[i]) != 0;
                space |= s[i] == ' ';
        }
        /* "(SOUNDBITE OF ARCHIVED BROADCAST)" is a note, "(EPA)" is spoken. */
        if (upper && !lower && space)
                return true;
        while (len > 0 && *s == ' ')
                s++, len--;
        for (size_t i = 0; i < ELEMENTSOF(note_words); i++) {
                size_t l = strlen(note_words[i]);

                if (len >= l && strncasecmp(s, note_words[i], l) == 0 &&
                    (len == l || !isalpha((unsigned char)s[l])))
                        return true;
        }
        return false;
}

/* For every OPEN bracket in s[0..n), the distance to the CLOSE that
 * balances it (0: unbalanced) into dist[]. One pass with a stack, where
 * scanning ahead from each bracket took quadratic time on "[[[[...". */
static int match_brackets(const char *s, size_t n, char open, char close, size_t *dist) {
        _cleanup_free_ size_t *stack = malloc((n + 1) * sizeof *stack);
        size_t depth = 0;

        if (!stack)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                dist[i] = 0;
                if (s[i] == open)
                        stack[depth++] = i;
                else if (s[i] == close && depth > 0) {
                        depth--;
                        dist[stack[depth]] = i - stack[depth];
                }
        }
        return 0;
}

/* Returns a copy of s without [notes] and (NOTES), whitespace collapsed. */
static char *clean_text(const char *s) {
        size_t n = strlen(s), o = 0;
        _cleanup_free_ size_t *square = malloc((n + 1) * sizeof *square);
        _cleanup_free_ size_t *round = malloc((n + 1) * sizeof *round);
        char *out = malloc(n + 1);

        if (!out || !square || !round || match_brackets(s, n, '[', ']', square) < 0 ||
            match_brackets(s, n, '(', ')', round) < 0) {
                free(out);
                return NULL;
        }
        for (size_t i = 0; s[i]; i++) {
                char c = s[i];
                size_t close;

                if (c == '[' && (close = square[i]) > 0) {
                        i += close;
                        c = ' ';
                } else if (c == '(' && (close = round[i]) > 0 && is_note(s + i + 1, close - 1)) {
                        i += close;
                        c = ' ';
                }
                if (isspace((unsigned char)c)) {
                        if (o > 0 && out[o - 1] != ' ')
                                out[o++] = ' ';
                        continue;
                }
                out[o++] = c;
        }
        while (o > 0 && out[o - 1] == ' ')
                o--;
        out[o] = '\0';
        return out;
}

/* Length of the character at s allowed in a capitals label, or 0. Upper-case
 * Latin-1 letters (U+00C0..U+00DE) and the curly apostrophe pass too. */
static size_t label_char(const char *s) {
        const unsigned char *u = (const unsigned char *)s;

        if (isupper(u[0]) || isdigit(u[0]) || strchr(" .'-#&", u[0]) != NULL)
                return u[0] ? 1 : 0;
        if (u[0] == 0xc3 && u[1] >= 0x80 && u[1] <= 0x9e && u[1] != 0x97)
                return 2;
        if (u[0] == 0xe2 && u[1] == 0x80 && u[2] == 0x99)
                return 3;
        return 0;
}

/* Recognises "NAME:" or "NAME, ROLE:" at the start of s. Returns the
 * length of the label including the colon and following space (0 when
 * there is none) and the name in *ret_name. */
static size_t parse_label(const char *s, char **ret_name) {
        size_t i = 0, name_end = 0, k;
        bool letter = false;

        if (!isupper((unsigned char)s[0]) && label_char(s) < 2)
                return 0;
        for (; (k = label_char(s + i)) > 0 || s[i] == ','; i += k ? k : 1) {
                if (s[i] == ',') {
                        if (name_end || s[i + 1] != ' ')
                                return 0;
                        name_end = i;
                }
                letter |= k > 1 || isupper((unsigned char)s[i]);
                if (i > LABEL_MAX_BYTES)
                        return 0;
        }
        if (!letter || s[i] != ':' || (s[i + 1] != ' ' && s[i + 1] != '\0'))
                return 0;
        if (!name_end)
                name_end = i;
        while (name_end > 0 && s[name_end - 1] == ' ')
                name_end--;
        *ret_name = strndup(s, name_end);
        if (!*ret_name)
                return 0;
        return i + 1 + (s[i + 1] == ' ');
}

/* ---- NPR page / plain text ---- */

static bool ends_sentence(const char *line) {
        size_t l = strlen(line);

        return l > 0 && strchr(".?!:;,\"')]", line[l - 1]) != NULL;
}

static bool ends_with_utf8_punct(const char *line) {
        size_t l = strlen(line);

        /* ” ’ … — as the last character */
        return l >= 3 && (unsigned char)line[l - 3] == 0xe2 && (unsigned char)line[l - 2] == 0x80 &&
               strchr("\x9d\x99\xa6\x94", line[l - 1]) != NULL;
}

static size_t find_trailer(const char *line) {
        const char *best = NULL;

        for (size_t i = 0; i < ELEMENTSOF(trailer_markers); i++) {
                const char *m = strcasestr(line, trailer_markers[i]);

                if (m && (!best || m < best))
                        best = m;
        }
        return best ? (size_t)(best - line) + 1 : 0;
}

/* The title: the first line after the chrome. Without chrome it must look
 * like a headline: no terminal punctuation, a blank line after it, text
 * further on. */
static bool is_title(struct parser *p, size_t i, size_t end, bool had_chrome) {
        _cleanup_free_ char *name = NULL;
        const char *line = p->lines[i];

        if (parse_label(skip_space(line), &name) > 0)
                return false;
        if (had_chrome)
                return true;
        if (ends_sentence(line) || ends_with_utf8_punct(line))
                return false;
        if (i + 1 >= end || !is_blank(p->lines[i + 1]))
                return false;
        for (size_t k = i + 2; k < end; k++)
                if (!is_blank(p->lines[k]))
                        return true;
        return false;
}

/* Handles one paragraph: a label switches the speaker, notes go, and
 * what remains is a turn of the current speaker. */
static int parse_paragraph(struct parser *p, const char *para, char **speaker) {
        _cleanup_free_ char *text = clean_text(para);
        _cleanup_free_ char *name = NULL;
        size_t label;
        char *spoken;
        int r;

        if (!text)
                return -ENOMEM;
        label = parse_label(text, &name);
        if (label > 0) {
                free(*speaker);
                *speaker = TAKE_PTR(name);
        }
        if (text[label] == '\0')
                return 0;
        spoken = strdup(text + label);
        if (!spoken)
                return -ENOMEM;
        r = transcript_add_turn(p, *speaker, spoken, -1, -1);
        if (r < 0)
                free(spoken);
        return r;
}

/* Lines [a, b) joined by single spaces, in linear time (appending one
 * line at a time to a copy was quadratic in hard-wrapped text). */
static char *join_lines(struct parser *p, size_t a, size_t b) {
        size_t len = 0, o = 0;
        char *out;

        for (size_t k = a; k < b; k++)
                len += strlen(p->lines[k]) + 1;
        out = malloc(len + 1);
        if (!out)
                return NULL;
        for (size_t k = a; k < b; k++) {
                size_t l = strlen(p->lines[k]);

                if (k > a)
                        out[o++] = ' ';
                memcpy(out + o, p->lines[k], l);
                o += l;
        }
        out[o] = '\0';
        return out;
}

/* A paragraph is a line; a line without closing punctuation continues on
 * the next one unless that starts a new label (hard-wrapped text). */
static int parse_body(struct parser *p, size_t i, size_t end) {
        _cleanup_free_ char *speaker = NULL;
        int r;

        while (i < end) {
                _cleanup_free_ char *para = NULL, *dummy = NULL;
                size_t k = i;

                if (is_blank(p->lines[i])) {
                        i++;
                        continue;
                }
                while (k + 1 < end && !is_blank(p->lines[k + 1]) && !ends_sentence(p->lines[k]) &&
                       !ends_with_utf8_punct(p->lines[k]) &&
                       parse_label(skip_space(p->lines[k + 1]), &dummy) == 0)
                        k++;
                para = join_lines(p, i, k + 1);
                if (!para)
                        return -ENOMEM;
                r = parse_paragraph(p, para, &speaker);
                if (r < 0)
                        return r;
                i = k + 1;
        }
        return 0;
}

static int parse_page(struct parser *p) {
        size_t i = 0, end = p->n_lines, cut = 0;
        bool had_chrome = false;

        for (; i < end && (is_blank(p->lines[i]) || is_chrome(p->lines[i])); i++)
                had_chrome |= !is_blank(p->lines[i]);

        for (size_t k = i; k < end && !cut; k++) {
                cut = find_trailer(p->lines[k]);
                if (cut) {
                        p->lines[k][cut - 1] = '\0';
                        end = k + 1;
                }
        }
        if (!cut)
                while (end > i && (is_blank(p->lines[end - 1]) || is_chrome(p->lines[end - 1])))
                        end--;

        if (i < end && is_title(p, i, end, had_chrome)) {
                p->t->title = clean_text(p->lines[i]);
                if (!p->t->title)
                        return -ENOMEM;
                i++;
        }
        return parse_body(p, i, end);
}

/* ---- WebVTT and SRT ---- */

static int parse_digits(const char **s, int min, int max, int64_t *ret) {
        int64_t v = 0;
        int n = 0;

        for (; isdigit((unsigned char)**s) && n < 12; (*s)++, n++)
                v = v * 10 + (**s - '0');
        if (n < min || n > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* [HH:]MM:SS.mmm (WebVTT) or HH:MM:SS,mmm (SRT, '.' tolerated). */
static int parse_timestamp(const char **s, bool srt, int64_t *ret) {
        int64_t a, b, c = 0, ms;
        bool three;

        if (parse_digits(s, srt ? 1 : 2, 10, &a) < 0 || *(*s)++ != ':' || parse_digits(s, 2, 2, &b) < 0)
                return -EINVAL;
        three = **s == ':';
        if (three && ((*s)++, parse_digits(s, 2, 2, &c) < 0))
                return -EINVAL;
        if (srt && !three)
                return -EINVAL;
        if (**s != '.' && !(srt && **s == ','))
                return -EINVAL;
        (*s)++;
        if (parse_digits(s, 3, 3, &ms) < 0)
                return -EINVAL;
        if (three ? (b > 59 || c > 59) : (a > 59 || b > 59))
                return -EINVAL;
        *ret = three ? ((a * 60 + b) * 60 + c) * 1000 + ms : (a * 60 + b) * 1000 + ms;
        return 0;
}

static int parse_timing_line(struct parser *p, size_t l, bool srt, int64_t *start, int64_t *end) {
        const char *s = skip_space(p->lines[l]);

        if (parse_timestamp(&s, srt, start) < 0)
                return parser_fail(p, l + 1, "malformed cue start time in '%s'", p->lines[l]);
        s = skip_space(s);
        if (strncmp(s, "-->", 3) != 0)
                return parser_fail(p, l + 1, "expected '-->' in '%s'", p->lines[l]);
        s = skip_space(s + 3);
        if (parse_timestamp(&s, srt, end) < 0)
                return parser_fail(p, l + 1, "malformed cue end time in '%s'", p->lines[l]);
        if (*s != '\0' && *s != ' ')
                return parser_fail(p, l + 1, "malformed cue end time in '%s'", p->lines[l]);
        if (*end < *start)
                return parser_fail(p, l + 1, "cue ends before it starts");
        return 0;
}

static const struct {
        const char *name;
        const char *text;
} entities[] = {
        {"&amp;", "&"},   {"&lt;", "<"},   {"&gt;", ">"}, {"&nbsp;", " "},
        {"&quot;", "\""}, {"&apos;", "'"}, {"&lrm;", ""}, {"&rlm;", ""},
};

/* Drops <tags> and {\ass} codes, decodes the usual entities; the first
 * WebVTT voice tag <v[.class] Name> gives *ret_voice. */
static char *strip_markup(const char *s, char **ret_voice) {
        char *out = malloc(strlen(s) + 1);
        size_t o = 0;

        if (!out)
                return NULL;
        while (*s) {
                const char *close = *s == '<' ? strchr(s, '>') : *s == '{' ? strchr(s, '}') : NULL;
                size_t e;

                if (close) {
                        if (s[0] == '<' && s[1] == 'v' && (s[2] == ' ' || s[2] == '.') && !*ret_voice) {
                                const char *n = memchr(s, ' ', close - s);

                                if (n)
                                        *ret_voice = strndup(skip_space(n), close - skip_space(n));
                        }
                        s = close + 1;
                        continue;
                }
                for (e = 0; e < ELEMENTSOF(entities); e++)
                        if (strncmp(s, entities[e].name, strlen(entities[e].name)) == 0)
                                break;
                if (e < ELEMENTSOF(entities)) {
                        strcpy(out + o, entities[e].text);
                        o += strlen(entities[e].text);
                        s += strlen(entities[e].name);
                } else
                        out[o++] = *s++;
        }
        out[o] = '\0';
        return out;
}

/* One cue's payload -> one turn. Speaker: the voice tag, else a NAME:
 * label (after an optional ">>"), else ">>" alone means an unnamed new
 * speaker (NULL), else the previous cue's speaker goes on. */
static int add_timed_cue(struct parser *p, const char *payload, int64_t start, int64_t end, char **speaker) {
        _cleanup_free_ char *voice = NULL, *plain = NULL, *text = NULL, *name = NULL;
        const char *body;
        size_t label;
        char *spoken;
        int r;

        plain = strip_markup(payload, &voice);
        if (!plain)
                return -ENOMEM;
        text = clean_text(plain);
        if (!text)
                return -ENOMEM;
        body = text;
        if (strncmp(body, ">>", 2) == 0) {
                body = skip_space(body + 2);
                free(*speaker);
                *speaker = NULL;
        }
        label = parse_label(body, &name);
        body += label;
        if (voice && *voice)
                free(name), name = TAKE_PTR(voice);
        if (name) {
                free(*speaker);
                *speaker = TAKE_PTR(name);
        }
        if (*body == '\0')
                return 0;
        spoken = strdup(body);
        if (!spoken)
                return -ENOMEM;
        r = transcript_add_turn(p, *speaker, spoken, start, end);
        if (r < 0)
                free(spoken);
        return r;
}

/* Collects payload lines from l up to the next blank line, joined by spaces. */
static int collect_payload(struct parser *p, size_t *l, char **ret) {
        size_t a = *l;
        char *acc;

        while (*l < p->n_lines && !is_blank(p->lines[*l]))
                (*l)++;
        acc = join_lines(p, a, *l);
        if (!acc)
                return -ENOMEM;
        *ret = acc;
        return 0;
}

static bool is_vtt_meta_block(const char *line) {
        return (strncmp(line, "NOTE", 4) == 0 && (line[4] == '\0' || line[4] == ' ')) ||
               strcmp(line, "STYLE") == 0 || strcmp(line, "REGION") == 0;
}

/* Cue blocks from line l on: [id or number]\nTIMES\npayload...\n\n */
static int parse_timed_blocks(struct parser *p, size_t l, bool srt) {
        _cleanup_free_ char *speaker = NULL;
        int r;

        p->t->timed = true;
        while (l < p->n_lines) {
                _cleanup_free_ char *payload = NULL;
                int64_t start, end;

                if (is_blank(p->lines[l])) {
                        l++;
                        continue;
                }
                if (!srt && is_vtt_meta_block(p->lines[l])) {
                        while (l < p->n_lines && !is_blank(p->lines[l]))
                                l++;
                        continue;
                }
                if (!strstr(p->lines[l], "-->")) {
                        if (l + 1 >= p->n_lines || !strstr(p->lines[l + 1], "-->"))
                                return parser_fail(p, l + 2 > p->n_lines ? l + 1 : l + 2,
                                                   "expected cue timings after '%s'", p->lines[l]);
                        l++;
                }
                r = parse_timing_line(p, l, srt, &start, &end);
                if (r < 0)
                        return r;
                l++;
                r = collect_payload(p, &l, &payload);
                if (r < 0)
                        return r;
                r = add_timed_cue(p, payload, start, end, &speaker);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool is_srt(struct parser *p) {
        size_t l = 0;

        while (l < p->n_lines && is_blank(p->lines[l]))
                l++;
        if (l + 1 >= p->n_lines)
                return false;
        const char *s = skip_space(p->lines[l]);
        if (!isdigit((unsigned char)*s) || s[strspn(s, "0123456789")] != '\0')
                return false;
        return strstr(p->lines[l + 1], "-->") != NULL;
}

static int parse_vtt(struct parser *p) {
        const char *h = p->lines[0];
        size_t l = 1;

        if (h[6] != '\0' && h[6] != ' ')
                return parser_fail(p, 1, "malformed WEBVTT header");
        while (l < p->n_lines && !is_blank(p->lines[l]))
                l++;
        return parse_timed_blocks(p, l, false);
}

struct transcript *transcript_free(struct transcript *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_turns; i++) {
                free(t->turns[i].speaker);
                free(t->turns[i].text);
        }
        free(t->turns);
        free(t->title);
        free(t);
        return NULL;
}

int transcript_parse(const char *text, size_t len, const char *name, struct transcript **ret,
                     char **ret_error) {
        _cleanup_free_ char *buf = NULL;
        struct parser p = {.name = name ? name : "transcript", .error = ret_error};
        int r;

        if (ret_error)
                *ret_error = NULL;
        p.t = calloc(1, sizeof *p.t);
        if (!p.t)
                return -ENOMEM;
        r = check_input(&p, text ? text : "", text ? len : 0);
        if (r >= 0)
                r = parser_split_lines(&p, text ? text : "", text ? len : 0, &buf);
        if (r >= 0) {
                if (strncmp(p.lines[0], "WEBVTT", 6) == 0)
                        r = parse_vtt(&p);
                else if (is_srt(&p))
                        r = parse_timed_blocks(&p, 0, true);
                else
                        r = parse_page(&p);
        }
        if (r >= 0 && p.t->n_turns == 0)
                r = parser_fail(&p, 0, "no spoken text");
        free(p.lines);
        if (r < 0) {
                transcript_free(p.t);
                return r;
        }
        *ret = p.t;
        return 0;
}

int transcript_load(const char *path, struct transcript **ret, char **ret_error) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *data = NULL;
        size_t len = 0, alloc = 0;
        int r;

        if (ret_error)
                *ret_error = NULL;
        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                goto fail;
        }
        for (;;) {
                size_t n;

                if (alloc - len < 65536) {
                        char *d;

                        if (alloc > TRANSCRIPT_MAX_BYTES) {
                                r = -EFBIG;
                                goto fail;
                        }
                        alloc = alloc ? alloc * 2 : 65536;
                        d = realloc(data, alloc);
                        if (!d)
                                return -ENOMEM;
                        data = d;
                }
                errno = 0;
                n = fread(data + len, 1, alloc - len, f);
                len += n;
                if (n == 0)
                        break;
        }
        if (ferror(f)) {
                r = errno > 0 ? -errno : -EIO; /* e.g. EISDIR */
                goto fail;
        }
        return transcript_parse(data, len, path, ret, ret_error);
fail:
        if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                *ret_error = NULL;
        return r;
}

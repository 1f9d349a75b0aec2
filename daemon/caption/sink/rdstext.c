/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rdstext.c: text for receivers that do not speak UTF-8. RDS RadioText is
 * 64 characters of the RDS set (IEC 62106 annex E, the "EBU Latin" table
 * shared with DAB): ASCII letters, digits and most punctuation where ASCII
 * has them, accented Latin letters in 0x80..0xFE. A listener's display
 * shows those bytes as they come, so raw UTF-8 would print as two or
 * three wrong glyphs: every character is mapped, to itself where the set
 * has it, to its unaccented letter or plain punctuation where not, and to
 * '?' when nothing fits (emoji, CJK).
 *
 * UECP framing follows EBU SPB 490 / IEC 62106 part 2: the frame body
 * (address, sequence, length, message, CRC) is byte-stuffed so that 0xFE
 * (start) and 0xFF (stop) only ever mark frame edges. */
#include "rdstext.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Code points of the RDS set's bytes 0x80..0xFE (IEC 62106 table E.1);
 * 0 where the set has no character. */
static const uint16_t rds_high[0x7f] = {
        /* 0x80 */ 0x00E1, 0x00E0, 0x00E9, 0x00E8, 0x00ED, 0x00EC, 0x00F3, 0x00F2,
        /* 0x88 */ 0x00FA, 0x00F9, 0x00D1, 0x00C7, 0x015E, 0x00DF, 0x00A1, 0x0132,
        /* 0x90 */ 0x00E2, 0x00E4, 0x00EA, 0x00EB, 0x00EE, 0x00EF, 0x00F4, 0x00F6,
        /* 0x98 */ 0x00FB, 0x00FC, 0x00F1, 0x00E7, 0x015F, 0x011F, 0x0131, 0x0133,
        /* 0xA0 */ 0x00AA, 0x03B1, 0x00A9, 0x2030, 0x011E, 0x011B, 0x0148, 0x0151,
        /* 0xA8 */ 0x03C0, 0x20AC, 0x00A3, 0x0024, 0x2190, 0x2191, 0x2192, 0x2193,
        /* 0xB0 */ 0x00BA, 0x00B9, 0x00B2, 0x00B3, 0x00B1, 0x0130, 0x0144, 0x0171,
        /* 0xB8 */ 0x00B5, 0x00BF, 0x00F7, 0x00B0, 0x00BC, 0x00BD, 0x00BE, 0x00A7,
        /* 0xC0 */ 0x00C1, 0x00C0, 0x00C9, 0x00C8, 0x00CD, 0x00CC, 0x00D3, 0x00D2,
        /* 0xC8 */ 0x00DA, 0x00D9, 0x0158, 0x010C, 0x0160, 0x017D, 0x00D0, 0x013F,
        /* 0xD0 */ 0x00C2, 0x00C4, 0x00CA, 0x00CB, 0x00CE, 0x00CF, 0x00D4, 0x00D6,
        /* 0xD8 */ 0x00DB, 0x00DC, 0x0159, 0x010D, 0x0161, 0x017E, 0x0000, 0x0140,
        /* 0xE0 */ 0x00C3, 0x00C5, 0x00C6, 0x0152, 0x0177, 0x00DD, 0x00D5, 0x00D8,
        /* 0xE8 */ 0x00DE, 0x014A, 0x0154, 0x0106, 0x015A, 0x0179, 0x0166, 0x00F0,
        /* 0xF0 */ 0x00E3, 0x00E5, 0x00E6, 0x0153, 0x0175, 0x00FD, 0x00F5, 0x00F8,
        /* 0xF8 */ 0x00FE, 0x014B, 0x0155, 0x0107, 0x015B, 0x017A, 0x0167,
};

/* Base letters of U+00C0..U+017F, for the ASCII fallback. */
static const char fold_latin1[] = "AAAAAAACEEEEIIIIDNOOOOOxOUUUUYTsaaaaaaaceeeeiiiidnooooo/ouuuuyty";
static const char fold_latin_ext_a[] =
        "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkkLlLlLlLlLlNnNnNn"
        "nNnOoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

/* Decodes one UTF-8 character at *P (advancing it); invalid input gives
 * 0xFFFD and skips one byte. */
static uint32_t utf8_next(const unsigned char **p) {
        const unsigned char *s = *p;
        uint32_t c;
        int n;

        if (s[0] < 0x80) {
                *p = s + 1;
                return s[0];
        }
        if ((s[0] & 0xE0) == 0xC0)
                c = s[0] & 0x1F, n = 1;
        else if ((s[0] & 0xF0) == 0xE0)
                c = s[0] & 0x0F, n = 2;
        else if ((s[0] & 0xF8) == 0xF0)
                c = s[0] & 0x07, n = 3;
        else {
                *p = s + 1;
                return 0xFFFD;
        }
        for (int i = 1; i <= n; i++) {
                if ((s[i] & 0xC0) != 0x80) {
                        *p = s + 1;
                        return 0xFFFD;
                }
                c = c << 6 | (s[i] & 0x3F);
        }
        *p = s + n + 1;
        if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) || (n == 3 && c < 0x10000) || c > 0x10FFFF ||
            (c >= 0xD800 && c <= 0xDFFF))
                return 0xFFFD;
        return c;
}

static bool is_space(uint32_t c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0x00A0 ||
               (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
               c == 0x3000;
}

/* Characters that carry no glyph of their own. */
static bool is_invisible(uint32_t c) {
        return (c >= 0x0300 && c <= 0x036F) || /* combining marks */
               (c >= 0x200B && c <= 0x200F) || c == 0x2060 || c == 0xFEFF || (c >= 0xFE00 && c <= 0xFE0F) ||
               (c >= 0x1F3FB && c <= 0x1F3FF) || c == 0xAD || c < 0x20 || c == 0x7F;
}

/* Plain forms of typographic punctuation: a string of ASCII, or NULL. */
static const char *plain_punct(uint32_t c) {
        switch (c) {
        case 0x2018:
        case 0x2019:
        case 0x201A:
        case 0x201B:
        case 0x2032:
        case 0x00B4:
                return "'";
        case 0x201C:
        case 0x201D:
        case 0x201E:
        case 0x201F:
        case 0x2033:
        case 0x00AB:
        case 0x00BB:
                return "\"";
        case 0x2010:
        case 0x2011:
        case 0x2012:
        case 0x2013:
        case 0x2014:
        case 0x2015:
        case 0x2212:
                return "-";
        case 0x2026:
                return "...";
        case 0x2022:
        case 0x00B7:
                return "-";
        case 0x00D7:
                return "x";
        }
        return NULL;
}

static char fold_letter(uint32_t c) {
        if (c >= 0xC0 && c <= 0xFF)
                return fold_latin1[c - 0xC0];
        if (c >= 0x100 && c <= 0x17F)
                return fold_latin_ext_a[c - 0x100];
        return 0;
}

/* The RDS byte of code point C, or 0. */
static unsigned char rds_byte(uint32_t c) {
        if (c == '$')
                return 0xAB;
        if (c == 0xA4)
                return 0x24;
        if (c == 0x2015)
                return 0x5E;
        if (c == 0x2551)
                return 0x60;
        if (c == 0xAF)
                return 0x7E;
        if (c >= 0x20 && c < 0x7F)
                return c == '^' || c == '`' || c == '~' ? 0 : (unsigned char)c;
        for (size_t i = 0; i < sizeof rds_high / sizeof *rds_high; i++)
                if (rds_high[i] == c)
                        return (unsigned char)(0x80 + i);
        return 0;
}

/* Appends the mapping of C to OUT (room for 3 more bytes). */
static size_t map_char(uint32_t c, bool ascii, char *out) {
        const char *punct;
        unsigned char b;
        char f;

        if (ascii && c >= 0x20 && c < 0x7F) {
                out[0] = (char)c;
                return 1;
        }
        if (!ascii && (b = rds_byte(c)) != 0) {
                out[0] = (char)b;
                return 1;
        }
        if ((f = fold_letter(c)) != 0) {
                out[0] = ascii ? f : (char)rds_byte((unsigned char)f);
                return 1;
        }
        if (c == '`' || c == '^' || c == '~') { /* ASCII the RDS set lacks */
                out[0] = c == '`' ? '\'' : c == '^' ? '?' : '-';
                return 1;
        }
        punct = plain_punct(c);
        if (punct) {
                size_t n = strlen(punct);

                memcpy(out, punct, n);
                return n;
        }
        out[0] = '?';
        return 1;
}

char *rds_text_encode(const char *text, bool ascii) {
        const unsigned char *p = (const unsigned char *)text;
        size_t n = 0, cap = strlen(text) * 3 + 1;
        bool space = false;
        char *out = malloc(cap);

        if (!out)
                return NULL;
        while (*p) {
                uint32_t c = utf8_next(&p);

                if (is_space(c)) {
                        space = n > 0;
                        continue;
                }
                if (is_invisible(c))
                        continue;
                if (space) {
                        out[n++] = ' ';
                        space = false;
                }
                n += map_char(c, ascii, out + n);
        }
        out[n] = '\0';
        return out;
}

char *rds_text_to_utf8(const char *rds) {
        char *out = malloc(strlen(rds) * 3 + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *)rds; *p; p++) {
                uint32_t c = *p;

                if (c == 0x24)
                        c = 0xA4;
                else if (c == 0x5E)
                        c = 0x2015;
                else if (c == 0x60)
                        c = 0x2551;
                else if (c == 0x7E)
                        c = 0xAF;
                else if (c >= 0x80)
                        c = c < 0xFF && rds_high[c - 0x80] ? rds_high[c - 0x80] : '?';
                if (c < 0x80)
                        *o++ = (char)c;
                else if (c < 0x800) {
                        *o++ = (char)(0xC0 | c >> 6);
                        *o++ = (char)(0x80 | (c & 0x3F));
                } else {
                        *o++ = (char)(0xE0 | c >> 12);
                        *o++ = (char)(0x80 | (c >> 6 & 0x3F));
                        *o++ = (char)(0x80 | (c & 0x3F));
                }
        }
        *o = '\0';
        return out;
}

/* The first MAX bytes of S, ending on a word (trailing spaces dropped); a
 * word longer than MAX is cut hard, in UTF8 at a character boundary.
 * RET_NEXT: where the rest begins, spaces skipped. */
static size_t cut_at_word(const char *s, size_t max, bool utf8, const char **ret_next) {
        size_t len = strlen(s), cut;

        if (len <= max)
                cut = len;
        else {
                cut = max;
                /* s[max] a space: the first MAX bytes end a word */
                if (s[max] != ' ') {
                        while (cut > 0 && s[cut - 1] != ' ')
                                cut--;
                        if (cut == 0) { /* one word longer than MAX */
                                cut = max;
                                while (utf8 && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
                                        cut--;
                        }
                }
        }
        while (cut > 0 && s[cut - 1] == ' ')
                cut--;
        if (ret_next) {
                const char *n = s + cut;

                while (*n == ' ')
                        n++;
                *ret_next = n;
        }
        return cut;
}

size_t rds_text_cut(const char *s, size_t max, const char **ret_next) {
        return cut_at_word(s, max, false, ret_next);
}

size_t rds_utf8_cut(const char *s, size_t max_bytes, const char **ret_next) {
        return cut_at_word(s, max_bytes, true, ret_next);
}

size_t rds_utf8_chars(const char *s, size_t n) {
        size_t chars = 0;

        for (size_t i = 0; i < n && s[i]; i++)
                if (((unsigned char)s[i] & 0xC0) != 0x80)
                        chars++;
        return chars;
}

uint16_t uecp_crc(const uint8_t *p, size_t n) {
        uint16_t crc = 0xFFFF;

        for (size_t i = 0; i < n; i++) {
                crc ^= (uint16_t)(p[i] << 8);
                for (int b = 0; b < 8; b++)
                        crc = crc & 0x8000 ? (uint16_t)(crc << 1 ^ 0x1021) : (uint16_t)(crc << 1);
        }
        return (uint16_t)~crc;
}

ssize_t uecp_frame(unsigned site, unsigned encoder, uint8_t seq, const uint8_t *msg, size_t len,
                   uint8_t *out, size_t size) {
        uint8_t body[4 + 255 + 2];
        uint16_t addr, crc;
        size_t n = 0, o = 0;

        if (site > 0x3FF || encoder > 0x3F || len > 255)
                return -EINVAL;
        addr = (uint16_t)(site << 6 | encoder);
        body[n++] = (uint8_t)(addr >> 8);
        body[n++] = (uint8_t)(addr & 0xFF);
        body[n++] = seq;
        body[n++] = (uint8_t)len;
        memcpy(body + n, msg, len);
        n += len;
        crc = uecp_crc(body, n);
        body[n++] = (uint8_t)(crc >> 8);
        body[n++] = (uint8_t)(crc & 0xFF);

        if (size < 2)
                return -ENOBUFS;
        out[o++] = 0xFE;
        for (size_t i = 0; i < n; i++) {
                if (o + 3 > size) /* room for a stuffed pair and STP */
                        return -ENOBUFS;
                if (body[i] >= 0xFD) {
                        out[o++] = 0xFD;
                        out[o++] = (uint8_t)(body[i] - 0xFD);
                } else
                        out[o++] = body[i];
        }
        out[o++] = 0xFF;
        return (ssize_t)o;
}

size_t uecp_rt_element(uint8_t dsn, uint8_t psn, bool ab, const char *text, size_t len, uint8_t *out) {
        size_t n = 0;

        len = len > RDS_RT_MAX ? RDS_RT_MAX : len;
        out[n++] = 0x0A;
        out[n++] = dsn;
        out[n++] = psn;
        out[n++] = (uint8_t)(1 + len); /* MEL: the flags byte and the text */
        /* bits 6-5 buffer configuration 00 (flush, replace); bits 4-1 number
         * of transmissions 0 (until replaced); bit 0 the A/B flag */
        out[n++] = ab ? 1 : 0;
        memcpy(out + n, text, len);
        return n + len;
}

size_t uecp_rtplus_element(const struct rtplus *t, uint8_t *out) {
        unsigned len0 = t->len[0] > 0 ? t->len[0] - 1u : 0, len1 = t->len[1] > 0 ? t->len[1] - 1u : 0;
        uint64_t bits = 0; /* 37 bits: toggle, running, 6+6+6 tag 1, 6+6+5 tag 2 */

        bits = (uint64_t)t->toggle << 36 | (uint64_t)t->running << 35 | (uint64_t)(t->type[0] & 0x3F) << 29 |
               (uint64_t)(t->start[0] & 0x3F) << 23 | (uint64_t)(len0 & 0x3F) << 17 |
               (uint64_t)(t->type[1] & 0x3F) << 11 | (uint64_t)(t->start[1] & 0x3F) << 5 | (len1 & 0x1F);
        out[0] = 0x46;
        out[1] = 8; /* MEL: AID, configuration, 5 bytes of group data */
        out[2] = 0x4B;
        out[3] = 0xD7;
        out[4] = 0;
        for (int i = 0; i < 5; i++)
                out[5 + i] = (uint8_t)(bits >> (8 * (4 - i)));
        return 10;
}

int rtplus_fifo_line(const struct rtplus *t, char *buf, size_t size) {
        return snprintf(buf, size, "RTP %u,%u,%u,%u,%u,%u\n", t->type[0], t->start[0],
                        t->len[0] > 0 ? t->len[0] - 1u : 0, t->type[1], t->start[1],
                        t->len[1] > 0 ? t->len[1] - 1u : 0);
}

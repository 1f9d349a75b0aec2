/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-rdstext: the pure half of the RDS/DAB sinks. UECP frames against
 * golden bytes computed independently (Python's binascii.crc_hqx, which is
 * CRC-CCITT: crc_hqx(body, 0xFFFF) ^ 0xFFFF, and the stuffing rule written
 * out by hand), the CRC against the catalogue check value of CRC-16/GENIBUS
 * (the same parameters), the RT+ bit layout as receivers decode it, the
 * character-set mapping, and the word-boundary cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rdstext.h"

static void assert_bytes(const uint8_t *got, size_t n_got, const uint8_t *want, size_t n_want) {
        assert_int_equal(n_got, n_want);
        assert_memory_equal(got, want, n_want);
}

static void test_crc(void **state) {
        /* CRC-16/GENIBUS: poly 0x1021, init 0xFFFF, xorout 0xFFFF, check 0xD64E */
        assert_int_equal(uecp_crc((const uint8_t *)"123456789", 9), 0xD64E);
        assert_int_equal(uecp_crc(NULL, 0), 0x0000);
}

static void test_rt_frame(void **state) {
        static const uint8_t want[] = {0xfe, 0x00, 0x00, 0x01, 0x0a, 0x0a, 0x00, 0x00, 0x06,
                                       0x00, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0xa9, 0xef, 0xff};
        uint8_t msg[80], out[300];
        size_t n = uecp_rt_element(0, 0, false, "Hello", 5, msg);
        ssize_t f = uecp_frame(0, 0, 1, msg, n, out, sizeof out);

        assert_true(f > 0);
        assert_bytes(out, (size_t)f, want, sizeof want);
}

/* Address 0xFFFF, sequence 0xFD, DSN 0xFE, PSN 0xFF and a text byte 0xFD:
 * every one stuffed, and the frame holds 0xFE/0xFF only at its edges. */
static void test_stuffing(void **state) {
        static const uint8_t want[] = {0xfe, 0xfd, 0x02, 0xfd, 0x02, 0xfd, 0x00, 0x0b, 0x0a,
                                       0xfd, 0x01, 0xfd, 0x02, 0x07, 0x01, 0x43, 0x61, 0x66,
                                       0x82, 0x20, 0xfd, 0x00, 0x89, 0x90, 0xff};
        static const char text[] = {0x43, 0x61, 0x66, (char)0x82, 0x20, (char)0xfd};
        uint8_t msg[80], out[300];
        size_t n = uecp_rt_element(0xFE, 0xFF, true, text, sizeof text, msg);
        ssize_t f = uecp_frame(0x3FF, 0x3F, 0xFD, msg, n, out, sizeof out);

        assert_true(f > 0);
        assert_bytes(out, (size_t)f, want, sizeof want);
        for (ssize_t i = 1; i < f - 1; i++)
                assert_true(out[i] != 0xFE && out[i] != 0xFF);
        /* too small a buffer, bad addresses */
        assert_int_equal(uecp_frame(0x3FF, 0x3F, 0xFD, msg, n, out, 10), -ENOBUFS);
        assert_int_equal(uecp_frame(0x400, 0, 0, msg, n, out, sizeof out), -EINVAL);
        assert_int_equal(uecp_frame(0, 0x40, 0, msg, n, out, sizeof out), -EINVAL);
}

static void test_rtplus(void **state) {
        /* title "Hello" at 0 (5 chars), artist at 8 (4 chars), toggle and running */
        static const uint8_t want_el[] = {0x46, 0x08, 0x4b, 0xd7, 0x00, 0x18, 0x20, 0x08, 0x21, 0x03};
        static const uint8_t want_frame[] = {0xfe, 0x01, 0x42, 0x07, 0x0a, 0x46, 0x08, 0x4b, 0xd7,
                                             0x00, 0x18, 0x20, 0x08, 0x21, 0x03, 0x3a, 0xb7, 0xff};
        struct rtplus t = {.running = true, .toggle = true, .type = {1, 4}, .start = {0, 8}, .len = {5, 4}};
        uint8_t el[16], out[64];
        unsigned type1, start1, len1, type2, start2, len2;
        char line[64];
        ssize_t f;

        assert_int_equal(uecp_rtplus_element(&t, el), 10);
        assert_bytes(el, 10, want_el, sizeof want_el);
        /* decoded the way receivers do it (ETSI TS 102 980 / RT+ group 11A) */
        type1 = (0x38 & el[5] << 3) | el[6] >> 5;
        start1 = (0x3e & el[6] << 1) | el[7] >> 7;
        len1 = 0x3f & el[7] >> 1;
        type2 = (0x20 & el[7] << 5) | el[8] >> 3;
        start2 = (0x38 & el[8] << 3) | el[9] >> 5;
        len2 = 0x1f & el[9];
        assert_int_equal(type1, 1);
        assert_int_equal(start1, 0);
        assert_int_equal(len1, 4); /* length marker: characters - 1 */
        assert_int_equal(type2, 4);
        assert_int_equal(start2, 8);
        assert_int_equal(len2, 3);
        assert_true(el[5] & 0x10); /* toggle */
        assert_true(el[5] & 0x08); /* running */
        f = uecp_frame(5, 2, 7, el, 10, out, sizeof out);
        assert_bytes(out, (size_t)f, want_frame, sizeof want_frame);

        rtplus_fifo_line(&t, line, sizeof line);
        assert_string_equal(line, "RTP 1,0,4,4,8,3\n");
}

static void assert_encodes(const char *utf8, bool ascii, const char *want) {
        char *got = rds_text_encode(utf8, ascii);

        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
}

static void test_charset(void **state) {
        /* accents the RDS set has are kept, at their annex E codes */
        assert_encodes("é", false, "\x82");
        assert_encodes("ñ", false, "\x9a");
        assert_encodes("ü", false, "\x99");
        assert_encodes("Ü É Ç ß", false, "\xd9 \xc2 \x8b \x8d");
        assert_encodes("Café Müller", false, "Caf\x82 M\x99ller");
        /* typographic quotes and dashes: plain forms */
        assert_encodes("“Hi” — ‘ok’ – …", false, "\"Hi\" - 'ok' - ...");
        /* emoji and CJK: the replacement; a skin-tone modifier and a
         * variation selector vanish with their emoji */
        assert_encodes("Go 🎉!", false, "Go ?!");
        assert_encodes("👍🏽 ok ❤️", false, "? ok ?");
        assert_encodes("東京", false, "??");
        /* letters the set lacks fall back to their base letter */
        assert_encodes("Łódź", false,
                       "L\x86"
                       "d\xfd");
        assert_encodes("ą", false, "a");
        /* '$' lives at 0xAB, 0x24 is the currency sign */
        assert_encodes("$5 ¤", false,
                       "\xab"
                       "5 $");
        /* ASCII the set lacks */
        assert_encodes("a^b`c~d", false, "a?b'c-d");
        /* white space runs become one space; ends trimmed; combining marks
         * and zero-width characters vanish */
        assert_encodes("  two\n\tlines \u00a0 here ", false, "two lines here");
        assert_encodes("e\u0301x\u200by", false, "exy");
        /* invalid UTF-8: a replacement per bad byte, never raw bytes */
        assert_encodes("a\xff\xc3z", false, "a??z");
        /* ASCII mode */
        assert_encodes("Café Müller, Łódź, “x” $", true, "Cafe Muller, Lodz, \"x\" $");
        /* never a control byte or 0xFF in the output */
        {
                char all[0x800 * 3 + 1], *p = all, *got;

                for (unsigned c = 1; c < 0x800; c++) {
                        if (c < 0x80)
                                *p++ = (char)c;
                        else {
                                *p++ = (char)(0xC0 | c >> 6);
                                *p++ = (char)(0x80 | (c & 0x3F));
                        }
                }
                *p = '\0';
                got = rds_text_encode(all, false);
                for (const unsigned char *q = (const unsigned char *)got; *q; q++)
                        assert_true(*q >= 0x20 && *q != 0xFF);
                free(got);
        }
}

static void test_to_utf8(void **state) {
        char *enc = rds_text_encode("Café Müller $ ¤ ―", false), *back;

        back = rds_text_to_utf8(enc);
        assert_string_equal(back, "Café Müller $ ¤ ―");
        free(enc);
        free(back);
}

static void assert_cut(const char *s, size_t max, const char *want, const char *want_rest) {
        const char *rest;
        size_t n = rds_text_cut(s, max, &rest);

        assert_int_equal(n, strlen(want));
        assert_memory_equal(s, want, n);
        assert_string_equal(rest, want_rest);
}

static void test_cut(void **state) {
        static const char s64[] = "The city library will stay open late on Saturdays. Readers asked";
        char long_word[80];

        assert_int_equal(strlen(s64), 64);
        assert_cut(s64, 64, s64, "");
        /* character 65 is a space: the first 64 end a word */
        assert_cut("The city library will stay open late on Saturdays. Readers asked for it.", 64, s64,
                   "for it.");
        /* one more character: back to the last space */
        assert_cut("The city library will stay open late on Saturdays. Readers askedd for it.", 64,
                   "The city library will stay open late on Saturdays. Readers", "askedd for it.");
        /* the limit falls right after a word */
        assert_cut("abc def ghi", 7, "abc def", "ghi");
        assert_cut("abc def ghi", 6, "abc", "def ghi");
        /* a word longer than the limit is cut hard */
        memset(long_word, 'x', 70);
        long_word[70] = '\0';
        {
                const char *rest;

                assert_int_equal(rds_text_cut(long_word, 64, &rest), 64);
                assert_int_equal(strlen(rest), 6);
        }
        assert_cut("", 64, "", "");
        /* UTF-8 cut by bytes, never inside a character */
        {
                const char *rest;
                size_t n = rds_utf8_cut("ééééé", 5, &rest); /* 10 bytes, no space */

                assert_int_equal(n, 4);
                assert_string_equal(rest, "ééé");
                assert_int_equal(rds_utf8_chars("aéb", 4), 3);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crc),      cmocka_unit_test(test_rt_frame),
                cmocka_unit_test(test_stuffing), cmocka_unit_test(test_rtplus),
                cmocka_unit_test(test_charset),  cmocka_unit_test(test_to_utf8),
                cmocka_unit_test(test_cut),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

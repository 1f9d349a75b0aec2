/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rdstext.h: the pure half of the RDS and DAB text sinks: UTF-8 to the
 * RDS character set, cutting on word boundaries, UECP frames (IEC 62106 /
 * EBU SPB 490) with their RadioText and RT+ message elements, and the
 * DL Plus parameter block ODR-PadEnc reads. No I/O, no state; any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RDS_RT_MAX 64 /* RadioText characters */
#define DLS_MAX 128   /* DAB dynamic label bytes */

/* RT+ / DL Plus content types (ETSI TS 102 980 table 1; RT+ uses the same) */
#define RTPLUS_DUMMY 0
#define RTPLUS_ITEM_TITLE 1
#define RTPLUS_ITEM_ARTIST 4
#define RTPLUS_PROGRAMME_NOW 33
#define RTPLUS_PROGRAMME_NEXT 34

/* Maps UTF-8 TEXT to single-byte characters: with ASCII false the RDS set
 * (IEC 62106 annex E, "EBU Latin": é, ñ, ü... kept; '$' is 0xAB there),
 * else printable ASCII with accents dropped (é -> e). Typographic quotes
 * and dashes become their plain forms, runs of white space (newlines too)
 * one space, zero-width and combining marks vanish, anything else
 * (emoji, CJK, invalid UTF-8) becomes '?'. Leading and trailing spaces are
 * trimmed. Never emits bytes below 0x20 or 0xFF. Returns a malloc'd NUL-
 * terminated string, or NULL on -ENOMEM. */
char *rds_text_encode(const char *text, bool ascii);

/* RDS-set text back to UTF-8 (for DAB, whose encoders take UTF-8 and map
 * it to the same set): malloc'd, NULL on -ENOMEM. */
char *rds_text_to_utf8(const char *rds);

/* The length of the longest prefix of single-byte text S that fits MAX
 * characters and ends at a word boundary (a word longer than MAX is cut
 * hard), without trailing spaces. *RET_NEXT (may be NULL) points past it
 * and the spaces after it. */
size_t rds_text_cut(const char *s, size_t max, const char **ret_next);

/* The same on UTF-8 text, counting at most MAX_BYTES bytes, never
 * splitting a character: for DLS, whose limit is in bytes. */
size_t rds_utf8_cut(const char *s, size_t max_bytes, const char **ret_next);
/* Characters (code points) in the first N bytes of UTF-8 S. */
size_t rds_utf8_chars(const char *s, size_t n);

/* CRC-16-CCITT as UECP uses it: polynomial 0x1021, initial 0xFFFF, result
 * inverted. */
uint16_t uecp_crc(const uint8_t *p, size_t n);

/* One UECP frame holding message MSG (LEN <= 255 bytes) for SITE (0..1023)
 * and ENCODER (0..63) with sequence counter SEQ: STA 0xFE, then address,
 * SEQ, length, MSG and the CRC over those, with 0xFD/0xFE/0xFF inside
 * stuffed as 0xFD 0x00/0x01/0x02, then STP 0xFF. Writes at most SIZE bytes
 * to OUT; returns the frame length, -EINVAL on bad arguments, -ENOBUFS. */
ssize_t uecp_frame(unsigned site, unsigned encoder, uint8_t seq, const uint8_t *msg, size_t len,
                   uint8_t *out, size_t size);

/* The RadioText message element (MEC 0x0A) for data set DSN and
 * programme service PSN: TEXT (LEN <= 64 RDS characters), A/B flag AB,
 * buffer flushed, sent until replaced. OUT holds at least 5 + 64 bytes.
 * Returns its length. */
size_t uecp_rt_element(uint8_t dsn, uint8_t psn, bool ab, const char *text, size_t len, uint8_t *out);

struct rtplus {
        bool running, toggle;
        uint8_t type[2];  /* content types; RTPLUS_DUMMY: unused */
        uint8_t start[2]; /* first character in the RadioText, 0..63 */
        uint8_t len[2];   /* characters, 1..64 (tag 2: 1..32); 0 with DUMMY */
};

/* The RT+ tags as the ODA data element (MEC 0x46) for AID 0x4BD7: MEC,
 * MEL 8, AID, a configuration byte 0, and the 37 bits of group 11A's
 * blocks B (low 5 bits), C and D. OUT holds at least 10 bytes. Returns its
 * length. */
size_t uecp_rtplus_element(const struct rtplus *t, uint8_t *out);

/* The MiniRDS control-FIFO tag line, "RTP t1,s1,l1,t2,s2,l2\n" (lengths as
 * RT+ length markers, characters - 1). Returns what snprintf does. */
int rtplus_fifo_line(const struct rtplus *t, char *buf, size_t size);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control-proto.h: the control protocol's text (control-proto.c): a
 * request line to a JSON object, replies, request fields, UTF-8. Included
 * by control.h, so handlers see it there. Pure, any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* How every line leaves: plain, no escaped slashes (json-c flags). */
#define CONTROL_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Strict UTF-8 of the N bytes at S: no NUL, no overlong forms, no
 * surrogates, nothing past U+10FFFF. */
bool control_utf8_is_valid(const unsigned char *s, size_t n);
/* TEXT (LEN bytes) with every byte that is not UTF-8 made U+FFFD: NULL
 * when TEXT is valid already (or out of memory), else a new string. */
char *control_utf8_repair(const char *text, size_t len);

/* One request line (LEN bytes, NUL at LINE[LEN], no newline) -> a JSON
 * object with a "cmd" string in *RET (caller puts it): 0; or -EINVAL and
 * the error reply in *RET_ERROR (not UTF-8, not JSON, text after the
 * value, not an object, no "cmd"). Pure; the fuzzers' way in. */
int control_parse_request(const char *line, size_t len, struct json_object **ret,
                          struct json_object **ret_error);

/* Helper for handlers: {"ok": false, "error": MESSAGE}. */
struct json_object *control_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* {"ok": true} */
struct json_object *control_ok(void);

/* The largest id or position a request may carry: 2^53 - 1, exact in
 * every JSON reader (a JavaScript client's too). */
#define CONTROL_UINT_MAX ((uint64_t)9007199254740991)
/* Field KEY of REQ as an exact integer in [0, MAX] (MAX <= CONTROL_UINT_MAX).
 * 0 and *RET set; -ENOENT missing; -EINVAL not an integer ("7", 7.5, 1e99);
 * -ERANGE negative or over MAX (2^64 included: json-c saturates it). On
 * failure *RET_WHY (static) says why, for "'remove': \"id\" %s". */
int control_get_uint(struct json_object *req, const char *key, uint64_t max, uint64_t *ret,
                     const char **ret_why);

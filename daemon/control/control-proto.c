/* SPDX-License-Identifier: GPL-3.0-or-later */
/* control-proto.c: the control protocol's text, apart from the transport
 * (control.c): a request line to a JSON object, the reply builders, the
 * field getter, and the UTF-8 check both directions go through. Pure, no
 * I/O, any thread; what the fuzzer and the unit tests drive directly. */
#include "control-proto.h"

#include <assert.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

struct json_object *control_error(const char *fmt, ...) {
        struct json_object *o = json_object_new_object();
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                msg = NULL;
        json_object_object_add(o, "ok", json_object_new_boolean(0));
        json_object_object_add(o, "error", json_object_new_string(msg ? msg : "out of memory"));
        return o;
}

struct json_object *control_ok(void) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "ok", json_object_new_boolean(1));
        return o;
}

int control_get_uint(struct json_object *req, const char *key, uint64_t max, uint64_t *ret,
                     const char **ret_why) {
        struct json_object *v;

        assert(max <= CONTROL_UINT_MAX);
        if (!json_object_object_get_ex(req, key, &v) || !v) {
                *ret_why = "is missing: a non-negative integer is needed";
                return -ENOENT;
        }
        if (!json_object_is_type(v, json_type_int)) {
                *ret_why = "must be an exact integer (not a string, a fraction or an exponent)";
                return -EINVAL;
        }
        if (json_object_get_int64(v) < 0) {
                *ret_why = "must not be negative";
                return -ERANGE;
        }
        if (json_object_get_uint64(v) > max) {
                *ret_why = "is out of range";
                return -ERANGE;
        }
        *ret = json_object_get_uint64(v);
        return 0;
}

/* Strict UTF-8: no NUL, no overlong forms, no surrogates, nothing past
 * U+10FFFF. json-c would otherwise pass such bytes on to the handler. */
bool control_utf8_is_valid(const unsigned char *s, size_t n) {
        size_t i = 0;

        while (i < n) {
                unsigned char c = s[i];
                uint32_t cp, min;
                size_t len;

                if (c == 0)
                        return false;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if ((c & 0xE0) == 0xC0)
                        len = 2, cp = c & 0x1F, min = 0x80;
                else if ((c & 0xF0) == 0xE0)
                        len = 3, cp = c & 0x0F, min = 0x800;
                else if ((c & 0xF8) == 0xF0)
                        len = 4, cp = c & 0x07, min = 0x10000;
                else
                        return false;
                if (n - i < len)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xC0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + k] & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                i += len;
        }
        return true;
}

/* json-c escapes control characters but passes any other byte through,
 * so a file name or title that is not UTF-8 would make a reply that is not
 * JSON text (issue 8). Every line that leaves is checked here, at the
 * edge, and a byte that is not UTF-8 becomes U+FFFD. NULL when TEXT is
 * valid already (the common case costs one scan), else a new string. */
char *control_utf8_repair(const char *text, size_t len) {
        const unsigned char *s = (const unsigned char *)text;
        char *out, *o;
        size_t i = 0;

        if (control_utf8_is_valid(s, len))
                return NULL;
        out = malloc(len * 3 + 1);
        if (!out)
                return NULL;
        o = out;
        while (i < len) {
                size_t n = 1;

                while (n <= 4 && i + n <= len && !control_utf8_is_valid(s + i, n))
                        n++;
                if (n <= 4 && i + n <= len) {
                        memcpy(o, s + i, n);
                        o += n;
                        i += n;
                } else {
                        memcpy(o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                }
        }
        *o = '\0';
        return out;
}

/* Parses one complete JSON value; trailing non-blank text is an error
 * (json_tokener_parse_verbose() would silently ignore it). */
static struct json_object *parse_request(const char *line, size_t len, const char **ret_error) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o;
        size_t end;

        if (!tok) {
                *ret_error = "out of memory";
                return NULL;
        }
        /* len + 1 hands the tokener the NUL too, which ends the input. */
        o = json_tokener_parse_ex(tok, line, (int)len + 1);
        if (!o)
                *ret_error = json_tokener_error_desc(json_tokener_get_error(tok));
        else {
                end = json_tokener_get_parse_end(tok);
                if (end < len && line[end + strspn(line + end, " \t\r")] != '\0') {
                        json_object_put(o);
                        o = NULL;
                        *ret_error = "unexpected text after the JSON value";
                }
        }
        json_tokener_free(tok);
        return o;
}

int control_parse_request(const char *line, size_t len, struct json_object **ret,
                          struct json_object **ret_error) {
        struct json_object *req, *cmd;
        const char *error = NULL;

        if (!control_utf8_is_valid((const unsigned char *)line, len)) {
                *ret_error = control_error("request is not valid UTF-8 text");
                return -EINVAL;
        }
        req = parse_request(line, len, &error);
        if (!req) {
                *ret_error = control_error("invalid JSON: %s", error);
                return -EINVAL;
        }
        if (!json_object_is_type(req, json_type_object))
                *ret_error = control_error("request is not a JSON object");
        else if (!json_object_object_get_ex(req, "cmd", &cmd) || !json_object_is_type(cmd, json_type_string))
                *ret_error = control_error("request has no \"cmd\" string");
        else {
                *ret = req;
                return 0;
        }
        json_object_put(req);
        return -EINVAL;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-control: the control protocol's edge, request line -> command: the
 * UTF-8 and JSON checks (control_parse_request), the integer fields
 * (control_get_uint) and `at` times (schedule_parse_at), and the replies
 * they make serialised as the socket would send them. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const keys[] = {"id", "position", "event", "wait_s", "since", "until"};
        struct json_object *req = NULL, *err = NULL, *v;
        char *line = malloc(size + 1);

        if (!line)
                return 0;
        memcpy(line, data, size);
        line[size] = '\0';
        if (control_parse_request(line, size, &req, &err) == 0) {
                for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
                        const char *why = NULL;
                        uint64_t n = 0;

                        if (control_get_uint(req, keys[i], CONTROL_UINT_MAX, &n, &why) == 0
                                    ? n > CONTROL_UINT_MAX
                                    : !why)
                                abort();
                }
                if (json_object_object_get_ex(req, "time", &v) && json_object_is_type(v, json_type_string)) {
                        char *error = NULL;
                        time_t t = 0;

                        if (schedule_parse_at(json_object_get_string(v), 1764000000, &t, &error) == 0) {
                                if (t <= 1764000000 || t >= SCHEDULE_AT_MAX)
                                        abort();
                        } else if (!error)
                                abort();
                        free(error);
                }
                (void)json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
                json_object_put(req);
        } else {
                if (!err || !json_object_to_json_string(err))
                        abort();
                json_object_put(err);
        }
        free(line);
        return 0;
}

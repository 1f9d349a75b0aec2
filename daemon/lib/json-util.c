/* SPDX-License-Identifier: GPL-3.0-or-later */
/* json-util.c: see json-util.h. */
#include "json-util.h"

#include <errno.h>

struct json_object *json_get_typed(struct json_object *o, const char *key, json_type type) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

const char *json_get_str(struct json_object *o, const char *key) {
        struct json_object *v = json_get_typed(o, key, json_type_string);

        return v ? json_object_get_string(v) : NULL;
}

int json_get_int(struct json_object *o, const char *key, int64_t *ret) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v)
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return -EINVAL;
        *ret = json_object_get_int64(v);
        return 1;
}

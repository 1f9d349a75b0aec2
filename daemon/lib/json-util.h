/* SPDX-License-Identifier: GPL-3.0-or-later */
/* json-util.h: json-c helpers used across the daemon and nextupctl: the
 * scope cleanup for a reference and typed field getters that treat a
 * missing field and a wrong type apart where the caller cares. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)

/* KEY's value in O when it is of TYPE, else NULL (absent, null, other type). */
struct json_object *json_get_typed(struct json_object *o, const char *key, json_type type);
/* KEY's string, or NULL when absent or not a string. Borrowed from O. */
const char *json_get_str(struct json_object *o, const char *key);
/* KEY's integer into *RET: 1 found, 0 absent or null (*RET untouched),
 * -EINVAL of another type. */
int json_get_int(struct json_object *o, const char *key, int64_t *ret);

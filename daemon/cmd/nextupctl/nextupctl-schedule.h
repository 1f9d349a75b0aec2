/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-schedule.h: `nextupctl at`, `schedule` and `unschedule`
 * (clock events), kept apart from nextupctl.c since `at` has options of
 * its own. One request each, sent with nextupctl.c's exchange. */
#pragma once

#include <stdbool.h>

struct json_object;

/* Sends REQ as one line to the socket at PATH, *RET_REPLY the reply line
 * (caller frees); < 0 when the daemon could not be reached (said why). */
typedef int (*schedule_exchange_fn)(const char *path, struct json_object *req, char **ret_reply);

/* True when the command on ARGV (the first operand) is one of ours. */
bool schedule_wanted(int argc, char **argv);
/* The whole command: returns nextupctl's exit status. */
int schedule_main(int argc, char **argv, schedule_exchange_fn exchange);

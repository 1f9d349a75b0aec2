/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-events.h: `nextupctl asrun` (the as-run log, as a table, CSV or
 * JSON) and `nextupctl subscribe` (alias `events`: the daemon's event
 * stream until interrupted), kept apart from nextupctl.c's one-request
 * commands since they page through replies or read a stream. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* True when the command on ARGV (the first operand) is one of ours. */
bool events_wanted(int argc, char **argv);
/* The whole command: returns nextupctl's exit status. */
int events_main(int argc, char **argv);
/* WHEN for --since/--until: epoch ms ("1700000000000"), relative ("-30s",
 * "-15m", "-1h", "-2d"), ISO 8601 local or UTC ("2026-11-27T10:00",
 * "2026-11-27 10:00:00", "2026-11-27T09:00Z", "...+01:00", "2026-11-27"),
 * or a time today ("10:00", "10:00:30"). NOW_MS anchors the relative and
 * today forms. 0 or -EINVAL. */
int events_parse_when(const char *s, int64_t now_ms, int64_t *ret);

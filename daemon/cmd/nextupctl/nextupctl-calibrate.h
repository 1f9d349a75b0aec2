/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-calibrate.h: `nextupctl calibrate`, the output latency
 * measurement, kept apart from nextupctl.c's one-request commands since it
 * runs a recorder and a conversation with the daemon. */
#pragma once

#include <stdbool.h>

/* True when the command on ARGV (the first operand) is "calibrate". */
bool calibrate_wanted(int argc, char **argv);
/* The whole command: returns nextupctl's exit status (0 measured, 1 the
 * measurement failed, 2 usage error or daemon unreachable). */
int calibrate_main(int argc, char **argv);
/* Its usage on stdout, with the default marker this nextupctl finds. */
void calibrate_help(void);

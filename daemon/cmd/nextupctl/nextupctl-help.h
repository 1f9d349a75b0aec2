/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-help.h: `nextupctl help [COMMAND]` and `nextupctl COMMAND
 * --help`: each command's own usage, exit 0 (2 for an unknown command). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

/* True when ARGV asks for help: the command is "help", or a known command
 * is followed by --help or -h (before "--"). Not for calibrate, whose own
 * --help also names its installed marker. */
bool help_wanted(int argc, char **argv);
/* Prints what was asked for; GLOBAL_USAGE prints the whole help. Returns
 * nextupctl's exit status. */
int help_main(int argc, char **argv, void (*global_usage)(FILE *f));

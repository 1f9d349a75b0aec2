/* SPDX-License-Identifier: GPL-3.0-or-later */
/* nextupctl-schedule.h: `nextupctl at`, `schedule` and `unschedule`
 * (clock events), kept apart from nextupctl.c since `at` has options of
 * its own. One request each (ctl_exchange). */
#pragma once

#include <stdbool.h>

/* True when the command on ARGV (the first operand) is one of ours. */
bool schedule_wanted(int argc, char **argv);
/* The whole command: returns nextupctl's exit status. */
int schedule_main(int argc, char **argv);

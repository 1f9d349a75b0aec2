/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager.h: the sd-event loop and the wiring of every module: queue,
 * playout thread, captions, control socket, ingest worker, sd_notify,
 * signals and reload. Main thread only. */
#pragma once

#include <stdbool.h>

struct nextup_config;
struct manager;

/* Takes ownership of CONFIG. Opens the output, starts the playout thread,
 * the control socket and the caption sinks, queues the start-up stories.
 * EXIT_IDLE: leave the loop once nothing is on air or queued. */
int manager_new(struct nextup_config *config, bool exit_idle, struct manager **ret);
/* Runs the loop until SIGTERM/SIGINT; returns 0 or -errno. */
int manager_run(struct manager *m);
struct manager *manager_free(struct manager *m);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-ingest.h: stories from their files into the queue, and the
 * worker jobs that scan and align them (manager-ingest.c). Below the
 * schedule (which builds its stories here) and the commands; above the
 * state file and the event stream.
 * Loop thread only. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct manager;
struct story;

/* Builds a story from its files and queues it at INDEX (clamped); returns
 * the index, or -errno with *ret_error naming the file. */
int manager_enqueue(struct manager *m, const char *audio, const char *transcript, size_t index,
                    struct story **ret, char **ret_error);
/* manager_enqueue, but saved before it returns, and refused (-errno,
 * *ret_error) when the state cannot be saved: for control commands, whose
 * reply acknowledges the change. */
int manager_enqueue_durable(struct manager *m, const char *audio, const char *transcript, size_t index,
                            struct story **ret, char **ret_error);
/* Queues a story saved by the last run at the end of the queue, keeping
 * its id and start frame; -errno with *ret_error (a
 * manager_persist_restore_fn). */
int manager_enqueue_restored(struct manager *m, const char *audio, const char *transcript, uint64_t id,
                             int64_t start_frame, char **ret_error);
/* Builds a story from its files, with the next story id and its ingest
 * started, but not queued (a clock event's story, held until its time);
 * -errno with *ret_error. */
int manager_story_new(struct manager *m, const char *audio, const char *transcript, struct story **ret,
                      char **ret_error);
/* The workers' done() callback (worker_new): a scan or alignment ended. */
void manager_ingest_done(void *job, void *userdata);

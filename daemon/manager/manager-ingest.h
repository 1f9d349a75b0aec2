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

/* Builds a story from its files and queues it at INDEX (clamped), saved
 * as soon as the disk allows (the dropbox: no client waits); SCAN, when
 * not NULL, is the audio's scan at the output rate (the dropbox decoded
 * it to check it), so the worker does not decode it again. Returns the
 * index, or -errno with *ret_error naming the file. */
struct audio_scan;
int manager_enqueue(struct manager *m, const char *audio, const char *transcript, size_t index,
                    const struct audio_scan *scan, struct story **ret, char **ret_error);
/* A control command's story checked on the worker before the command
 * replies (issue 10 item 7): its files under media_roots, regular, the
 * transcript's text and caps, the audio decoded whole (decodable, its
 * length) and the transcript plausible for it. CHECKED runs on the loop
 * with the story (owned by it), or with NULL and ERROR (a reply's words)
 * when refused; it replies on CONN (referenced meanwhile; the handler
 * returns CONTROL_REPLY_LATER). The story it keeps (queued, with its id)
 * is returned and goes on to its alignment; NULL when it kept none. Not
 * called at shutdown. -ENOMEM, -ESHUTDOWN. */
struct control_conn;
struct json_object;
typedef struct story *(*manager_checked_fn)(struct manager *m, struct control_conn *conn,
                                            struct json_object *req, struct story *s, const char *error);
int manager_check_story(struct manager *m, struct control_conn *conn, struct json_object *req,
                        const char *audio, const char *transcript, manager_checked_fn checked);
/* Queues a checked story S (taken, freed on failure) at INDEX (clamped)
 * with a new id, not saved yet and not cued: the caller saves
 * (manager_persist_save_then), then cues or takes it back. The index, or
 * -errno. */
int manager_enqueue_checked(struct manager *m, struct story *s, size_t index);
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

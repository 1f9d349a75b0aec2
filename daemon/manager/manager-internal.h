/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-internal.h: what the files of the loop share. struct manager
 * holds the loop's own state (config, the modules it wires, the story on
 * air, the air state); each part keeps its own in a struct of its own
 * that only its file sees (manager_events, manager_persist,
 * manager_schedule, manager_filler). The parts:
 *   manager.c           set-up, playout events, sd_notify, reload, signals
 *   manager-cue.c       what is cued next, and taking a story that started
 *   manager-ingest.c    stories from files into the queue; worker jobs
 *   manager-commands.c  the control protocol
 *   manager-events.c    the as-run log and the event stream
 *   manager-persist.c   the state on disk
 *   manager-schedule.c  clock events
 *   manager-filler.c    filler when the queue is empty
 *   manager-http.c      the HTTP server: status, WebVTT and metrics
 * Loop thread only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "playout.h"

struct json_object;
struct story;
struct control_conn;
struct playout_event;

enum air_state {
        AIR_IDLE,
        AIR_PLAYING,
        AIR_PAUSED,
};

struct manager {
        sd_event *event;
        struct nextup_config *config;
        bool exit_idle;

        struct aclock *clock;
        struct playout *playout;
        struct captions *captions;      /* serves the story on air */
        struct captions *captions_next; /* after a reload: takes over at the next story */
        struct control *control;
        struct worker *worker;       /* scans (manager-ingest.c) */
        struct worker *align_worker; /* alignment helpers (manager-ingest.c) */
        struct queue *queue;
        struct dropbox *dropbox; /* the watched folders (manager.c); NULL when none */

        struct story *on_air; /* owned; taken from its owner on STARTED (manager_cue_take) */
        uint64_t cued_id;     /* what the playout thread has cued (manager-cue.c) */
        enum air_state state;
        const char *output_driver;
        bool output_down;      /* PLAYOUT_OUTPUT_DOWN until PLAYOUT_OUTPUT_UP */
        int64_t ended_down_ms; /* the ENDED being handled: its time dropped while the output was
                                  down; taken by manager_events_off_air */
        uint64_t started_ns;   /* CLOCK_MONOTONIC at manager_new, for the uptime in status */
        char *last_alert;      /* "what: message" of the last alert, for status */
        int64_t last_alert_ms; /* its wall-clock time */

        sd_event_source *playout_source;
        sd_event_source *watchdog_source;
        sd_event_source *status_source;
        uint64_t watchdog_usec;
        uint64_t last_heartbeat;
        char *last_status;

        struct manager_events *events; /* manager-events.c: as-run log, event stream */
        /* the client whose request is being handled (queue_changed says who), else NULL */
        const struct control_peer *peer;

        struct manager_persist *persist; /* manager-persist.c: the state on disk */

        struct manager_schedule *sched; /* manager-schedule.c: clock events */
        struct manager_filler *filler;  /* manager-filler.c: no dead air */
        struct manager_http *http;      /* manager-http.c: page, feeds, metrics */

        /* manager-commands.c: pause, resume and skip are answered once the
         * playout thread has acted (its PAUSED/RESUMED/ENDED event) */
        struct manager_ack *acks;
        bool paused_target; /* paused once the commands sent so far are applied */
};

/* manager-cue.c: keeps what plays next (the queue's front, else filler)
 * cued in the playout thread; call after any change of the queue. */
void manager_update_cue(struct manager *m);
/* The story EV (STARTED, or ENDED with an error) names, taken from its
 * owner (the queue, a clock event's prepared story, the filler's next
 * item): the caller owns it. NULL when none holds it (removed meanwhile). */
struct story *manager_cue_take(struct manager *m, const struct playout_event *ev);

/* manager.c */
void manager_update_status(struct manager *m);
int64_t manager_position_ms(struct manager *m);
/* Reopens the caption sinks' files (logrotate): SIGHUP, `reopen`. Returns
 * how many sinks failed (each logged, each keeps its old file). */
size_t manager_reopen(struct manager *m);
void manager_format_mmss(int64_t ms, char *buf, size_t n);
struct story *manager_find_story(struct manager *m, uint64_t id);
const char *manager_state_name(enum air_state s);

/* manager-ingest.c: builds a story from its files and queues it at INDEX
 * (clamped); returns the index, or -errno with *ret_error naming the file. */
int manager_enqueue(struct manager *m, const char *audio, const char *transcript, size_t index,
                    struct story **ret, char **ret_error);
void manager_ingest_done(void *job, void *userdata);

/* manager-ingest.c: a control command's story checked on the worker
 * before the command replies (issue 10 item 7): its files under
 * media_roots, regular, the transcript's text and caps, the audio decoded
 * whole (decodable, its length) and the transcript plausible for it.
 * CHECKED runs on the loop with the story (owned by it), or with NULL and
 * ERROR (a reply's words) when refused; it replies on CONN (referenced
 * meanwhile; the handler returns CONTROL_REPLY_LATER). The story it keeps
 * (queued, with its id) is returned and goes on to its alignment; NULL
 * when it kept none. Not called at shutdown. -ENOMEM, -ESHUTDOWN. */
typedef struct story *(*manager_checked_fn)(struct manager *m, struct control_conn *conn,
                                            struct json_object *req, struct story *s, const char *error);
int manager_check_story(struct manager *m, struct control_conn *conn, struct json_object *req,
                        const char *audio, const char *transcript, manager_checked_fn checked);
/* manager-ingest.c: queues a checked story S (taken, freed on failure)
 * at INDEX (clamped) with a new id, not saved yet and not cued: the
 * caller saves (manager_persist_save_then), then cues or takes it back.
 * The index, or -errno. */
int manager_enqueue_checked(struct manager *m, struct story *s, size_t index);
/* manager-ingest.c: queues a story saved by the last run at the end of
 * the queue, keeping its id and start frame; -errno with *ret_error. */
int manager_enqueue_restored(struct manager *m, const char *audio, const char *transcript, uint64_t id,
                             int64_t start_frame, char **ret_error);

/* manager-commands.c */
struct json_object *manager_handle_request(struct control_conn *conn, struct json_object *req,
                                           void *userdata);
/* The reply of the status command (a new reference; NULL on ENOMEM). */
struct json_object *manager_status_json(struct manager *m);

/* manager-ingest.c: builds a story from its files, with the next story id
 * and its ingest started, but not queued (a clock event's story, held
 * until its time); -errno with *ret_error. */
int manager_story_new(struct manager *m, const char *audio, const char *transcript, struct story **ret,
                      char **ret_error);

/* manager-schedule.c: clock events (the config's schedule section and
 * `at`). start: before manager_persist_start (manager_schedule_state is
 * its getter); restore: after it (the saved one-off events); stop: after
 * manager_persist_stop. playout_event: called for every playout event
 * before the manager handles it (wait mode's watches). find: a prepared
 * story. */
int manager_schedule_start(struct manager *m);
void manager_schedule_restore(struct manager *m);
void manager_schedule_reload(struct manager *m);
void manager_schedule_stop(struct manager *m);
void manager_schedule_playout_event(struct manager *m, const struct playout_event *ev);
struct story *manager_schedule_find(struct manager *m, uint64_t story_id);
/* The prepared story STORY_ID (it started, or failed), the caller's now;
 * the next hard event goes to the playout thread. NULL when not ours. */
struct story *manager_schedule_take(struct manager *m, uint64_t story_id);
struct json_object *manager_schedule_state(void *userdata); /* a manager_persist_schedule_fn */
struct json_object *manager_cmd_at(struct manager *m, struct control_conn *conn, struct json_object *req);
struct json_object *manager_cmd_schedule(struct manager *m, struct json_object *req);
struct json_object *manager_cmd_unschedule(struct manager *m, struct json_object *req);

/* manager-filler.c: filler when the queue is empty. start (after the
 * queue is restored) and reload read the filler folder and cue filler if
 * the queue is empty; cue: called by manager_update_cue with the queue's
 * front: returns what to cue (FRONT, or with no FRONT a filler story held
 * by the filler, NULL for nothing) and makes filler on air give way (a
 * fade) when FRONT is a story; playout_event: called for every playout
 * event before the manager handles it (failures in a row, giving way). */
int manager_filler_start(struct manager *m);
void manager_filler_reload(struct manager *m);
void manager_filler_stop(struct manager *m);
struct story *manager_filler_cue(struct manager *m, struct story *front);
void manager_filler_playout_event(struct manager *m, const struct playout_event *ev);

/* manager-http.c: the HTTP server (config http { }) and its metrics.
 * start: before the captions (their sinks feed it); it always allocates
 * the counters (-ENOMEM), a server that cannot listen is logged and left
 * out. stop: after the captions are freed. sink: the SSE sink to add to
 * a new captions (*ret NULL when no server). watch: C records its cue
 * lateness into the metrics. off_air/count: counters. */
struct sink;
struct captions;
int manager_http_start(struct manager *m);
void manager_http_stop(struct manager *m);
int manager_http_sink(struct manager *m, int latency_ms, struct sink **ret);
void manager_http_watch(struct manager *m, struct captions *c);
void manager_http_off_air(struct manager *m, const struct story *s, enum playout_end_reason reason,
                          int64_t played_ms);
void manager_http_count(struct manager *m, const char *what); /* "silence", "dead_air", "alert" */
/* The cued filler item EV names (it started, or failed), the caller's
 * now, its length taken from a STARTED; NULL when not ours. */
struct story *manager_filler_take(struct manager *m, const struct playout_event *ev);

/* manager-commands.c: the replies owed for pause, resume and skip. EVENT
 * answers those it completes; expire answers those older than 2 s with an
 * error (the playout thread did not act); free drops them unanswered. */
void manager_acks_playout_event(struct manager *m, const struct playout_event *ev);
void manager_acks_expire(struct manager *m);
void manager_acks_free(struct manager *m);

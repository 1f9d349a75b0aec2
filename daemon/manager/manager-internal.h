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
        struct worker *worker;
        struct queue *queue;
        struct dropbox *dropbox; /* the watched folders (manager.c); NULL when none */

        struct story *on_air; /* owned; taken from its owner on STARTED (manager_cue_take) */
        uint64_t cued_id;     /* what the playout thread has cued (manager-cue.c) */
        enum air_state state;
        const char *output_driver;

        sd_event_source *playout_source;
        sd_event_source *watchdog_source;
        sd_event_source *status_source;
        uint64_t watchdog_usec;
        uint64_t last_heartbeat;
        char *last_status;

        struct manager_events *events; /* manager-events.c: as-run log, event stream */

        struct manager_persist *persist; /* manager-persist.c: the state on disk */

        struct manager_schedule *sched; /* manager-schedule.c: clock events */
        struct manager_filler *filler;  /* manager-filler.c: no dead air */
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
void manager_format_mmss(int64_t ms, char *buf, size_t n);
struct story *manager_find_story(struct manager *m, uint64_t id);
const char *manager_state_name(enum air_state s);

/* manager-ingest.c: builds a story from its files and queues it at INDEX
 * (clamped); returns the index, or -errno with *ret_error naming the file. */
int manager_enqueue(struct manager *m, const char *audio, const char *transcript, size_t index,
                    struct story **ret, char **ret_error);
void manager_ingest_done(void *job, void *userdata);

/* manager-persist.c. Every change a client asks for (control commands,
 * also the schedule's `at`) calls manager_persist_save after changing the
 * state in memory and before answering; when that fails it undoes the
 * change and answers with *ret_error (caller frees): nothing acknowledged
 * is lost. Changes no client waits for (a story starts, ends, fails; the
 * dropbox; startup items) call manager_persist_changed, which saves now
 * or, when the disk refuses, every second until it works. */
/* SCHEDULE_GET(USERDATA) returns, at every save, a new JSON value of the
 * schedule's one-off events to save with the queue. */
typedef struct json_object *(*manager_persist_schedule_fn)(void *userdata);
/* 1 restored, 0 no saved state; -ENOMEM */
int manager_persist_start(struct manager *m, manager_persist_schedule_fn schedule_get, void *userdata);
int manager_persist_save(struct manager *m, char **ret_error);
/* manager_persist_save with the story on air (ID) saved as gone (skipped,
 * removed: not resumed after a crash); on failure it stays as it was. */
int manager_persist_save_leaving(struct manager *m, uint64_t id, char **ret_error);
void manager_persist_changed(struct manager *m);
void manager_persist_stop(struct manager *m); /* final checkpoint, frees */
/* What the last run saved of the schedule (borrowed), NULL when nothing. */
struct json_object *manager_persist_schedule_restored(struct manager *m);

/* manager-ingest.c: manager_enqueue, but saved before it returns, and
 * refused (-errno, *ret_error) when the state cannot be saved: for
 * control commands, whose reply acknowledges the change. */
int manager_enqueue_durable(struct manager *m, const char *audio, const char *transcript, size_t index,
                            struct story **ret, char **ret_error);
/* manager-ingest.c: queues a story saved by the last run at the end of
 * the queue, keeping its id and start frame; -errno with *ret_error. */
int manager_enqueue_restored(struct manager *m, const char *audio, const char *transcript, uint64_t id,
                             int64_t start_frame, char **ret_error);

/* manager-commands.c */
struct json_object *manager_handle_request(struct control_conn *conn, struct json_object *req,
                                           void *userdata);

/* manager-events.c: the as-run log and the control socket's event stream.
 * manager_event takes EV ({"event": NAME, ...}), adds "time_ms" (wall
 * clock) and sends it to every subscriber. manager_alert sends
 * {"event":"alert","what":WHAT,"message":...} (the caller logs). */
int manager_events_start(struct manager *m);   /* opens the as-run log; -ENOMEM */
void manager_events_stop(struct manager *m);   /* the story on air ends with "shutdown" */
void manager_events_free(struct manager *m);   /* after playout_stop: closes the as-run log */
void manager_events_reload(struct manager *m); /* the as-run path may have changed */
void manager_event(struct manager *m, struct json_object *ev);
void manager_alert(struct manager *m, const char *what, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* STORY went on air (its frame 0 handed at EV->mono_ns). */
void manager_events_on_air(struct manager *m, struct story *story, const struct playout_event *ev);
/* STORY left the air (or failed before it): the as-run record and the
 * off_air event; PLAYED_MS of it played, ended at END_MONO_NS (0: now). */
void manager_events_off_air(struct manager *m, const struct story *story, enum playout_end_reason reason,
                            int64_t played_ms, uint64_t end_mono_ns);
/* After any change of the queue: next_up and queue_changed events, sinks
 * told of the new next up. Cheap when nothing changed. */
void manager_events_queue(struct manager *m);
struct json_object *manager_cmd_asrun(struct manager *m, struct json_object *req);

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
struct json_object *manager_cmd_at(struct manager *m, struct json_object *req);
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
/* The cued filler item EV names (it started, or failed), the caller's
 * now, its length taken from a STARTED; NULL when not ours. */
struct story *manager_filler_take(struct manager *m, const struct playout_event *ev);

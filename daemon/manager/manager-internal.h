/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-internal.h: the Manager's state, shared by the files that make
 * it up (manager.c: set-up, playout events, sd_notify, reload;
 * manager-ingest.c: stories from files, worker jobs; manager-commands.c:
 * the control protocol). Loop thread only. */
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

        struct story *on_air; /* owned; left the queue on STARTED */
        uint64_t cued_id;     /* what the playout thread has cued */
        enum air_state state;
        const char *output_driver;

        sd_event_source *playout_source;
        sd_event_source *watchdog_source;
        sd_event_source *status_source;
        uint64_t watchdog_usec;
        uint64_t last_heartbeat;
        char *last_status;

        /* manager-events.c: as-run log, next-up and queue events */
        struct asrun *asrun;
        uint64_t next_up_id; /* the story last announced as next up, 0 nothing */
        /* the client whose request is being handled (queue_changed says who), else NULL */
        const struct control_peer *peer;
        uint64_t queue_signature; /* hash of the queue's ids when last announced */

        /* manager-persist.c: the state on disk */
        struct persist *persist;
        sd_event_source *checkpoint_source;
        bool persist_failing;        /* the last save failed: logged once per episode */
        uint64_t persist_leaving_id; /* on air but skipped/removed: not resumed after a crash */
        uint64_t persist_started_id; /* the story whose air start time is below */
        int64_t persist_started_wall_ms;
        /* The schedule's one-off events: GET returns a new JSON value to
         * save (called at every save); RESTORED is what the last run saved
         * (owned by the manager, NULL when nothing), set before
         * manager_persist_start returns. */
        struct json_object *(*persist_schedule_get)(void *userdata);
        void *persist_schedule_userdata;
        struct json_object *persist_schedule_restored;

        struct manager_schedule *sched; /* manager-schedule.c: clock events */
        struct manager_filler *filler;  /* manager-filler.c: no dead air */
};

/* manager.c */
void manager_update_status(struct manager *m);
void manager_update_cue(struct manager *m);
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
int manager_persist_start(struct manager *m); /* 1 restored, 0 no saved state; -ENOMEM */
int manager_persist_save(struct manager *m, char **ret_error);
void manager_persist_changed(struct manager *m);
void manager_persist_stop(struct manager *m); /* final checkpoint, frees */

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
struct json_object *story_to_json(const struct story *s);

/* manager-events.c: the as-run log and the control socket's event stream.
 * manager_event takes EV ({"event": NAME, ...}), adds "time_ms" (wall
 * clock) and sends it to every subscriber. manager_alert sends
 * {"event":"alert","what":WHAT,"message":...} (the caller logs). */
int manager_events_start(struct manager *m);   /* opens the as-run log; -ENOMEM */
void manager_events_stop(struct manager *m);   /* the story on air ends with "shutdown" */
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
 * `at`). start: before manager_persist_start (it provides the
 * persist_schedule_get hook); restore: after it (the saved one-off
 * events); stop: after manager_persist_stop. playout_event: called for
 * every playout event before the manager handles it (a scheduled story
 * enters the queue just before its STARTED). find: a prepared story. */
int manager_schedule_start(struct manager *m);
void manager_schedule_restore(struct manager *m);
void manager_schedule_reload(struct manager *m);
void manager_schedule_stop(struct manager *m);
void manager_schedule_playout_event(struct manager *m, const struct playout_event *ev);
struct story *manager_schedule_find(struct manager *m, uint64_t story_id);
struct json_object *manager_cmd_at(struct manager *m, struct json_object *req);
struct json_object *manager_cmd_schedule(struct manager *m, struct json_object *req);
struct json_object *manager_cmd_unschedule(struct manager *m, struct json_object *req);

/* manager-filler.c: filler when the queue is empty. start (after the
 * queue is restored) and reload read the filler folder and cue filler if
 * the queue is empty; cue: called by manager_update_cue with the queue's
 * front: returns what to cue (FRONT, or with no FRONT a filler story held
 * by the filler, NULL for nothing) and makes filler on air give way (a
 * fade) when FRONT is a story; playout_event: called for every playout
 * event before the manager handles it (the filler story enters the queue
 * just before its STARTED or failed ENDED). */
int manager_filler_start(struct manager *m);
void manager_filler_reload(struct manager *m);
void manager_filler_stop(struct manager *m);
struct story *manager_filler_cue(struct manager *m, struct story *front);
void manager_filler_playout_event(struct manager *m, const struct playout_event *ev);

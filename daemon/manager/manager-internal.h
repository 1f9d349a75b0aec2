/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-internal.h: what the files of the loop share, and nothing else:
 * struct manager (the config, the modules it wires, the story on air, the
 * air state) and the loop-wide helpers below. Each part keeps its own
 * state in a struct only its file sees and has a header of its own; the
 * parts form layers (docs/architecture.md), each including only the
 * headers of the parts below it:
 *   manager.c           the loop: set-up, playout events, sd_notify,
 *                       reload, signals
 *   manager-commands.c  the control protocol
 *   manager-cue.c       what the playout thread holds next (cued item, hard
 *                       start), and taking a story that started
 *   manager-schedule.c  clock events
 *   manager-filler.c    filler when the queue is empty
 *   manager-ingest.c    stories from files into the queue; worker jobs
 *   manager-persist.c   the state on disk
 *   manager-events.c    the as-run log and the event stream
 *   manager-http.c      the HTTP server: status, WebVTT and metrics
 *   manager-acks.c      replies that wait for the playout thread
 *   manager-internal.c  the helpers below
 * A part that must make the loop act (re-cue, STATUS=, find a story in
 * whichever part holds it) calls the loop's hooks below, which manager.c
 * sets before any part starts: no part calls a part above it.
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

        struct story *on_air;    /* owned; taken from its owner on STARTED (manager_cue_take) */
        struct manager_cue *cue; /* manager-cue.c: what the playout thread holds next */
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

        /* manager-acks.c: pause, resume and skip are answered once the
         * playout thread has acted (its PAUSED/RESUMED/ENDED event) */
        struct manager_ack *acks;
        bool paused_target; /* manager-commands.c: paused once the commands sent so far are applied */
        /* manager-commands.c: remove, move, clear and skip waiting for their
         * save, oldest first (all answered by manager_persist_stop) */
        struct manager_change *changes;

        /* The loop's hooks (manager.c sets them in manager_new, before any
         * part starts; call them through the functions below). */
        void (*update_cue)(struct manager *m);
        void (*update_hard)(struct manager *m);
        void (*update_status)(struct manager *m);
        struct story *(*find_story)(struct manager *m, uint64_t id);
};

/* After any change of the queue or of what may play: keeps what plays
 * next cued in the playout thread and announces next_up/queue_changed. */
static inline void manager_update_cue(struct manager *m) {
        m->update_cue(m);
}
/* After any change of the clock events' hard starts (prepared, fired,
 * dropped, re-timed): keeps the playout thread's pending hard start the
 * one the schedule wants. */
static inline void manager_update_hard(struct manager *m) {
        m->update_hard(m);
}
/* After any change STATUS= shows (sd_notify; cheap when unchanged). */
static inline void manager_update_status(struct manager *m) {
        m->update_status(m);
}
/* The story ID wherever it is held (on air, queued, a clock event's
 * prepared story), borrowed; NULL when none. */
static inline struct story *manager_find_story(struct manager *m, uint64_t id) {
        return m->find_story(m, id);
}

/* manager-internal.c. The position of the story on air by the audio clock
 * (0 when nothing is on air or the clock names another item). */
int64_t manager_position_ms(struct manager *m);
void manager_format_mmss(int64_t ms, char *buf, size_t n);
/* Reopens the caption sinks' files (logrotate): SIGHUP, `reopen`. Returns
 * how many sinks failed (each logged, each keeps its old file). */
size_t manager_reopen(struct manager *m);

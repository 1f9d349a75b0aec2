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

struct json_object;
struct story;

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
        struct captions *captions;       /* serves the story on air */
        struct captions *captions_next;  /* after a reload: takes over at the next story */
        struct control *control;
        struct worker *worker;
        struct queue *queue;

        struct story *on_air;            /* owned; left the queue on STARTED */
        uint64_t cued_id;                /* what the playout thread has cued */
        enum air_state state;
        const char *output_driver;

        sd_event_source *playout_source;
        sd_event_source *watchdog_source;
        sd_event_source *status_source;
        uint64_t watchdog_usec;
        uint64_t last_heartbeat;
        char *last_status;
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

/* manager-commands.c */
struct json_object *manager_handle_request(struct json_object *req, void *userdata);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* playout-internal.h: the playout thread's state, shared by its interface
 * (playout.c: queues, opener thread, start/stop) and the thread itself
 * (playout-loop.c). Private to daemon/player. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "playout-event.h"

struct aclock;
struct item;
struct output;

enum command_type { CMD_CUE, CMD_SKIP, CMD_PAUSE, CMD_RESUME, CMD_HARD, CMD_END, CMD_OPTIONS };

struct command {
        enum command_type type;
        uint64_t id;
        char *path;
        int64_t start_frame;                  /* CUE */
        uint64_t at_ns;                       /* HARD */
        int fade_ms;                          /* HARD, END */
        enum playout_end_reason reason;       /* END */
        int gap_ms, silence_dbfs, silence_ms; /* OPTIONS */
        struct item *item;                    /* CUE, HARD: opened by the opener thread */
        struct command *next;
};

struct event_node {
        struct playout_event ev;
        struct event_node *next;
};

struct playout {
        pthread_t thread;
        struct output *out;
        struct aclock *clock;
        int rate;
        int channels;
        int event_fd;
        atomic_uint_fast64_t heartbeat;

        pthread_t opener;
        bool opener_started;

        pthread_mutex_t lock; /* guards the members below */
        pthread_cond_t cond;
        struct command *cmd_head, *cmd_tail;
        pthread_cond_t open_cond;              /* opener thread: work queued */
        struct command *open_head, *open_tail; /* waiting for the opener, in order */
        bool opener_busy;                      /* it holds one command now */
        struct event_node *ev_head, *ev_tail;
        bool stop;

        /* Playout thread only. */
        struct item *current, *cued;
        bool paused;
        bool restart_pace;
        bool output_down; /* output_play failed; reopened at retry_ns */
        uint64_t output_retry_ns;
        int16_t *buf;
        size_t buf_frames;
        uint64_t last_hand_ns; /* when the previous buffer had been handed */

        struct item *hard; /* pending hard start, opened and pre-decoded */
        uint64_t hard_at_ns;
        int64_t hard_fade; /* frames */

        uint64_t end_id; /* playout_end in progress on this item, 0 none */
        enum playout_end_reason end_reason;
        int64_t end_left; /* frames from the coming buffer to the cut */
        int64_t end_fade;

        int64_t gap_frames;     /* options */
        int64_t gap_left;       /* zeros still to hand before the next item */
        int64_t silence_frames; /* 0: detector off */
        double silence_sq;      /* mean square of a sample at the silence level */
        int64_t silent_run;     /* frames in a row below it */
};

/* Queues EV for the loop thread and makes the event fd readable. Any
 * thread; never blocks but on the queue lock (held for a list append). */
void playout_post(struct playout *p, const struct playout_event *ev);

/* Queues an event of TYPE for item ID, timed now. */
void playout_post_simple(struct playout *p, enum playout_event_type type, uint64_t id);

/* Frees a list of commands with their paths and items. */
void playout_commands_free(struct command *c);

/* The playout thread's body (pthread_create's, USERDATA a struct playout). */
void *playout_loop(void *userdata);

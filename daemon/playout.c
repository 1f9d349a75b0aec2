/* SPDX-License-Identifier: GPL-3.0-or-later */
/* playout.c: the playout thread, see playout.h.
 *
 * DESIGN: the thread owns the decoders and the output; nothing else touches
 * them. The loop thread talks to it through a command queue (mutex +
 * condition variable) and hears back through an event queue whose eventfd
 * is readable exactly while events are pending (both changed under the
 * same mutex). Neither lock is ever held across decoder_read or
 * output_play.
 *
 * Each turn: apply commands -> fill one ~20 ms buffer -> output_play ->
 * publish the audio clock -> post the events of that buffer. A cued item
 * is opened (and its length scanned) when it is cued, so when the current
 * item runs dry mid-buffer the cued one fills the rest of the very same
 * buffer: no gap, no padding. Event times follow the clock: an item's
 * frame 0 was handed at (publish time - its frames in the buffer / rate),
 * which is what aclock_media_to_mono(sample, 0, 0) says too. */
#include "playout.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>

#include "aclock.h"
#include "cleanup.h"
#include "decoder.h"
#include "log.h"
#include "output.h"

#define NSEC_PER_SEC 1000000000LL
#define IDLE_WAIT_NS (100 * 1000000LL)

enum command_type { CMD_CUE, CMD_SKIP, CMD_PAUSE, CMD_RESUME };

struct command {
        enum command_type type;
        uint64_t id;
        char *path;
        struct command *next;
};

struct event_node {
        struct playout_event ev;
        struct event_node *next;
};

struct item {
        uint64_t id;
        char *path;
        struct decoder *dec;   /* NULL when opening failed */
        int error;             /* -errno of the failed open */
        int64_t length;        /* frames, -1 unknown */
        int64_t frames;        /* handed to the output */
        bool started;          /* STARTED posted */
};

struct playout {
        pthread_t thread;
        bool thread_running;
        struct output *out;
        struct aclock *clock;
        int rate;
        int channels;
        int event_fd;
        atomic_uint_fast64_t heartbeat;

        pthread_mutex_t lock;          /* guards the members below */
        pthread_cond_t cond;
        struct command *cmd_head, *cmd_tail;
        struct event_node *ev_head, *ev_tail;
        bool stop;

        /* Playout thread only. */
        struct item *current, *cued;
        bool paused;
        bool restart_pace;
        int16_t *buf;
        size_t buf_frames;
};

const char *playout_end_reason_to_string(enum playout_end_reason r) {
        switch (r) {
        case PLAYOUT_END_COMPLETE: return "complete";
        case PLAYOUT_END_SKIPPED:  return "skipped";
        case PLAYOUT_END_ERROR:    return "error";
        case PLAYOUT_END_REMOVED:  return "removed";
        case PLAYOUT_END_SHUTDOWN: return "shutdown";
        }
        return "unknown";
}

static struct item *item_free(struct item *it) {
        if (!it)
                return NULL;
        decoder_free(it->dec);
        free(it->path);
        free(it);
        return NULL;
}

/* ---- event queue (playout thread posts, loop thread pops) ---- */

static void event_post(struct playout *p, const struct playout_event *ev) {
        struct event_node *n = calloc(1, sizeof *n);
        uint64_t one = 1;

        if (!n) {
                log_error("Out of memory, dropping playout event %d of item %" PRIu64, ev->type, ev->item_id);
                return;
        }
        n->ev = *ev;
        pthread_mutex_lock(&p->lock);
        if (p->ev_tail)
                p->ev_tail->next = n;
        else
                p->ev_head = n;
        p->ev_tail = n;
        /* Non-blocking eventfd write: cheap, and done under the lock so the
         * fd is readable exactly while the queue is non-empty. */
        if (write(p->event_fd, &one, sizeof one) < 0)
                log_debug_errno(-errno, "eventfd write failed, ignoring: %m");
        pthread_mutex_unlock(&p->lock);
}

int playout_next_event(struct playout *p, struct playout_event *ret) {
        struct event_node *n;
        uint64_t v;

        pthread_mutex_lock(&p->lock);
        n = p->ev_head;
        if (n) {
                p->ev_head = n->next;
                if (!p->ev_head)
                        p->ev_tail = NULL;
        }
        if (!p->ev_head)
                (void) !read(p->event_fd, &v, sizeof v);   /* EAGAIN when already clear */
        pthread_mutex_unlock(&p->lock);

        if (!n)
                return 0;
        *ret = n->ev;
        free(n);
        return 1;
}

int playout_event_fd(struct playout *p) {
        return p->event_fd;
}

uint64_t playout_heartbeat(struct playout *p) {
        return atomic_load(&p->heartbeat);
}

static void post_simple(struct playout *p, enum playout_event_type type, uint64_t id) {
        struct playout_event ev = { .type = type, .item_id = id, .mono_ns = aclock_now_ns() };

        event_post(p, &ev);
}

static void post_ended(struct playout *p, const struct item *it, enum playout_end_reason reason,
                       int error, uint64_t mono_ns) {
        struct playout_event ev = {
                .type = PLAYOUT_ENDED,
                .item_id = it->id,
                .reason = reason,
                .frames = it->frames,
                .mono_ns = mono_ns,
                .error = error,
        };

        if (reason == PLAYOUT_END_ERROR)
                snprintf(ev.message, sizeof ev.message, "'%s': %s", it->path,
                         error == -EINVAL ? "not an MPEG audio file" : strerror(-error));
        event_post(p, &ev);
}

/* ---- command queue (loop thread pushes, playout thread drains) ---- */

static int command_push(struct playout *p, enum command_type type, uint64_t id, const char *path) {
        struct command *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        c->type = type;
        c->id = id;
        if (path) {
                c->path = strdup(path);
                if (!c->path) {
                        free(c);
                        return -ENOMEM;
                }
        }
        pthread_mutex_lock(&p->lock);
        if (p->cmd_tail)
                p->cmd_tail->next = c;
        else
                p->cmd_head = c;
        p->cmd_tail = c;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

int playout_cue(struct playout *p, uint64_t id, const char *audio_path) {
        return command_push(p, CMD_CUE, id, id != 0 ? audio_path : NULL);
}

int playout_skip(struct playout *p) {
        return command_push(p, CMD_SKIP, 0, NULL);
}

int playout_pause(struct playout *p) {
        return command_push(p, CMD_PAUSE, 0, NULL);
}

int playout_resume(struct playout *p) {
        return command_push(p, CMD_RESUME, 0, NULL);
}

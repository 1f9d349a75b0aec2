/* SPDX-License-Identifier: GPL-3.0-or-later */
/* playout.c: the playout thread's interface (playout.h): its command and
 * event queues, the opener thread, start and stop. The thread itself is in
 * playout-loop.c.
 *
 * DESIGN: the thread owns the decoders and the output; nothing else touches
 * them. The loop thread talks to it through a command queue (mutex +
 * condition variable) and hears back through an event queue whose eventfd
 * is readable exactly while events are pending (both changed under the
 * same mutex). Neither lock is ever held across decoder_read or
 * output_play. A cued item is opened (and its length scanned) when it is
 * cued, by the opener thread (a normal thread: an open or a scan may wait
 * on the disk, which the SCHED_FIFO thread never does), and handed over
 * with its command, in order with the other commands. */
#include "playout.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "aclock.h"
#include "cleanup.h"
#include "log.h"
#include "output.h"
#include "playout-internal.h"
#include "playout-item.h"

/* ---- event queue (playout thread posts, loop thread pops) ---- */

void playout_post(struct playout *p, const struct playout_event *ev) {
        struct event_node *n = calloc(1, sizeof *n);
        uint64_t one = 1;

        if (!n) {
                log_error("Out of memory, dropping playout event %d of item %" PRIu64, ev->type,
                          ev->item_id);
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
                (void)!read(p->event_fd, &v, sizeof v); /* EAGAIN when already clear */
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

void playout_post_simple(struct playout *p, enum playout_event_type type, uint64_t id) {
        struct playout_event ev = {.type = type, .item_id = id, .mono_ns = aclock_now_ns()};

        playout_post(p, &ev);
}

/* ---- command queue (loop thread pushes, playout thread drains) ---- */

static void command_append(struct command **head, struct command **tail, struct command *c) {
        c->next = NULL;
        if (*tail)
                (*tail)->next = c;
        else
                *head = c;
        *tail = c;
}

/* Queues a copy of TMPL (with a copy of PATH). A command with a path goes
 * to the opener thread first, which opens and scans the file (slow, and
 * never on the SCHED_FIFO thread) and passes it on with its item. */
static int command_push(struct playout *p, const struct command *tmpl, const char *path) {
        struct command *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        *c = *tmpl;
        c->next = NULL;
        c->path = NULL;
        if (path) {
                c->path = strdup(path);
                if (!c->path) {
                        free(c);
                        return -ENOMEM;
                }
        }
        pthread_mutex_lock(&p->lock);
        /* Commands reach the playout thread in the order they were given:
         * one that needs no file passes the opener only when nothing is
         * waiting there. */
        if (c->path || p->open_head || p->opener_busy) {
                command_append(&p->open_head, &p->open_tail, c);
                pthread_cond_signal(&p->open_cond);
        } else {
                command_append(&p->cmd_head, &p->cmd_tail, c);
                pthread_cond_signal(&p->cond);
        }
        pthread_mutex_unlock(&p->lock);
        return 0;
}

int playout_cue_from(struct playout *p, uint64_t id, const char *audio_path, int64_t start_frame) {
        struct command c = {.type = CMD_CUE, .id = id, .start_frame = MAX(start_frame, 0)};

        return command_push(p, &c, id != 0 ? audio_path : NULL);
}

int playout_hard_start(struct playout *p, uint64_t id, const char *audio_path, uint64_t at_mono_ns,
                       int fade_ms) {
        struct command c = {.type = CMD_HARD, .id = id, .at_ns = at_mono_ns, .fade_ms = MAX(fade_ms, 0)};

        return command_push(p, &c, id != 0 ? audio_path : NULL);
}

int playout_end(struct playout *p, enum playout_end_reason reason, int fade_ms) {
        struct command c = {.type = CMD_END, .reason = reason, .fade_ms = MAX(fade_ms, 0)};

        return command_push(p, &c, NULL);
}

int playout_set_options(struct playout *p, int gap_ms, int silence_dbfs, int silence_ms) {
        struct command c = {.type = CMD_OPTIONS,
                            .gap_ms = MAX(gap_ms, 0),
                            .silence_dbfs = silence_dbfs,
                            .silence_ms = MAX(silence_ms, 0)};

        return command_push(p, &c, NULL);
}

int playout_skip(struct playout *p) {
        return command_push(p, &(struct command){.type = CMD_SKIP}, NULL);
}

int playout_pause(struct playout *p) {
        return command_push(p, &(struct command){.type = CMD_PAUSE}, NULL);
}

int playout_resume(struct playout *p) {
        return command_push(p, &(struct command){.type = CMD_RESUME}, NULL);
}

void playout_commands_free(struct command *c) {
        while (c) {
                struct command *next = c->next;

                free(c->path);
                item_free(c->item);
                free(c);
                c = next;
        }
}

/* ---- the opener thread: files are opened and scanned here ---- */

/* Pops the next command to open; NULL when asked to stop. */
static struct command *opener_take(struct playout *p) {
        struct command *c;

        pthread_mutex_lock(&p->lock);
        p->opener_busy = false;
        while (!p->open_head && !p->stop)
                pthread_cond_wait(&p->open_cond, &p->lock);
        c = p->stop ? NULL : p->open_head;
        if (c) {
                p->open_head = c->next;
                if (!p->open_head)
                        p->open_tail = NULL;
                p->opener_busy = true;
        }
        pthread_mutex_unlock(&p->lock);
        return c;
}

static void *opener_thread(void *userdata) {
        struct playout *p = userdata;
        struct command *c;

        (void)pthread_setname_np(pthread_self(), "nextupd-opener");
        while ((c = opener_take(p))) {
                if (c->path)
                        c->item =
                                item_open(c->id, TAKE_PTR(c->path), c->type == CMD_CUE ? c->start_frame : 0,
                                          p->rate, p->channels, c->type == CMD_HARD ? p->buf_frames : 0);
                pthread_mutex_lock(&p->lock);
                command_append(&p->cmd_head, &p->cmd_tail, c);
                pthread_cond_signal(&p->cond);
                pthread_mutex_unlock(&p->lock);
        }
        return NULL;
}

static void playout_free(struct playout *p) {
        struct event_node *e;

        playout_commands_free(p->cmd_head);
        playout_commands_free(p->open_head);
        while ((e = p->ev_head)) {
                p->ev_head = e->next;
                free(e);
        }
        item_free(p->current);
        item_free(p->cued);
        item_free(p->hard);
        output_free(p->out);
        closep(&p->event_fd);
        pthread_cond_destroy(&p->cond);
        pthread_cond_destroy(&p->open_cond);
        pthread_mutex_destroy(&p->lock);
        free(p->buf);
        free(p);
}

static void playout_stop_opener(struct playout *p) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_broadcast(&p->open_cond);
        pthread_mutex_unlock(&p->lock);
        if (p->opener_started)
                pthread_join(p->opener, NULL);
        p->opener_started = false;
}

static int playout_init(struct playout *p) {
        pthread_condattr_t attr;

        pthread_mutex_init(&p->lock, NULL);
        /* Timed waits measure against CLOCK_MONOTONIC, like everything else. */
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cond, &attr);
        pthread_condattr_destroy(&attr);
        pthread_cond_init(&p->open_cond, NULL);
        p->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->event_fd < 0)
                return -errno;
        p->buf_frames = (size_t)MAX(p->rate / 50, 1); /* 20 ms */
        p->buf = calloc(p->buf_frames * (size_t)p->channels, sizeof(int16_t));
        if (!p->buf)
                return -ENOMEM;
        return 0;
}

/* The thread starts with every signal blocked, so that signals reach the
 * loop thread (sd-event signal sources need them blocked everywhere). */
static int thread_spawn(struct playout *p) {
        sigset_t all, old;
        int r;

        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&p->opener, NULL, opener_thread, p);
        p->opener_started = r == 0;
        if (r == 0)
                r = -pthread_create(&p->thread, NULL, playout_loop, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return r;
}

int playout_start(struct output *out, struct aclock *clock, int rate, int channels, struct playout **ret) {
        struct playout *p;
        int r;

        if (!out || !clock || rate <= 0 || channels < 1 || channels > 2)
                return -EINVAL;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->out = out;
        p->clock = clock;
        p->rate = rate;
        p->channels = channels;
        p->event_fd = -1;
        p->restart_pace = true;

        r = playout_init(p);
        if (r >= 0)
                r = thread_spawn(p);
        if (r < 0) {
                p->out = NULL; /* on failure OUT stays the caller's */
                playout_stop_opener(p);
                playout_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

struct playout *playout_stop(struct playout *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        playout_stop_opener(p); /* after its current open, if any */
        pthread_join(p->thread, NULL);
        playout_free(p);
        return NULL;
}

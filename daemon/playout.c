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

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
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
        case PLAYOUT_END_CUT:      return "cut";
        case PLAYOUT_END_SILENCE:  return "silence";
        case PLAYOUT_END_FADED:    return "faded";
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

/* ---- the playout thread ---- */

/* An event still to be timed: it happened at buffer offset OFFSET. */
struct pending {
        struct playout_event ev;
        size_t offset;
};

#define MAX_PENDING 8

static struct playout_event ended_event(const struct item *it, enum playout_end_reason reason, int error) {
        struct playout_event ev = {
                .type = PLAYOUT_ENDED,
                .item_id = it->id,
                .reason = reason,
                .frames = it->frames,
                .error = reason == PLAYOUT_END_ERROR ? error : 0,
        };

        if (reason == PLAYOUT_END_ERROR)
                snprintf(ev.message, sizeof ev.message, "'%s': %s", it->path,
                         error == -EINVAL ? "no MPEG audio found, not an MP3 file" : strerror(-error));
        return ev;
}

static void post_now(struct playout *p, struct playout_event ev) {
        ev.mono_ns = aclock_now_ns();
        event_post(p, &ev);
}

static void publish(struct playout *p, uint64_t mono_ns, bool playing) {
        struct aclock_sample s = {
                .item_id = p->current ? p->current->id : 0,
                .frames = p->current ? p->current->frames : 0,
                .mono_ns = mono_ns,
                .rate = p->rate,
                .playing = playing && p->current,
        };

        aclock_publish(p->clock, &s);
}

/* Opens a cued item right away, in this thread (which owns all decoders),
 * so that starting it later costs nothing. Takes PATH. */
static struct item *item_new(struct playout *p, uint64_t id, char *path) {
        struct item *it = calloc(1, sizeof *it);
        int r;

        if (!it) {
                log_error("Out of memory, cannot cue '%s'", path);
                free(path);
                return NULL;
        }
        it->id = id;
        it->path = path;
        it->length = -1;
        r = decoder_open(path, p->rate, p->channels, &it->dec);
        if (r < 0) {
                it->error = r;
                if (r == -EINVAL)
                        log_warning("'%s' holds no MPEG audio, it will end with an error", path);
                else
                        log_warning_errno(r, "Cannot open '%s', it will end with an error: %m", path);
                return it;
        }
        it->length = decoder_length(it->dec);
        if (it->length < 0)
                it->length = -1;
        return it;
}

/* Makes the cued item current. One that could not be opened ends here
 * and then: returns true with its ENDED event in *ret_failed. */
static bool promote(struct playout *p, struct playout_event *ret_failed) {
        struct item *it = TAKE_PTR(p->cued);

        if (!it)
                return false;
        if (!it->dec) {
                *ret_failed = ended_event(it, PLAYOUT_END_ERROR, it->error);
                item_free(it);
                return true;
        }
        p->current = it;
        return false;
}

/* Outside a buffer (skip, cue while idle): the next item takes over now. */
static void advance_now(struct playout *p) {
        struct playout_event failed;

        if (promote(p, &failed))
                post_now(p, failed);
        if (!p->current) {
                publish(p, aclock_now_ns(), false);
                post_simple(p, PLAYOUT_IDLE, 0);
                p->restart_pace = true;
        }
}

static void apply_command(struct playout *p, struct command *c) {
        switch (c->type) {
        case CMD_CUE:
                p->cued = item_free(p->cued);
                if (c->id != 0)
                        p->cued = item_new(p, c->id, TAKE_PTR(c->path));
                if (!p->current && p->cued)
                        advance_now(p);
                break;
        case CMD_SKIP:
                if (!p->current)
                        break;
                post_now(p, ended_event(p->current, PLAYOUT_END_SKIPPED, 0));
                p->current = item_free(p->current);
                advance_now(p);
                break;
        case CMD_PAUSE:
                if (p->paused)
                        break;
                p->paused = true;
                /* Clock first: whoever hears PAUSED reads a paused clock. */
                publish(p, aclock_now_ns(), false);
                post_simple(p, PLAYOUT_PAUSED, p->current ? p->current->id : 0);
                break;
        case CMD_RESUME:
                if (!p->paused)
                        break;
                p->paused = false;
                p->restart_pace = true;
                /* Clock first, as for pause: whoever hears RESUMED must read a
                 * playing clock or it would plan nothing. */
                publish(p, aclock_now_ns(), true);
                post_simple(p, PLAYOUT_RESUMED, p->current ? p->current->id : 0);
                break;
        }
}

static void pending_add(struct pending *pend, size_t *n_pend, struct playout_event ev, size_t offset) {
        assert(*n_pend < MAX_PENDING);
        pend[(*n_pend)++] = (struct pending) { .ev = ev, .offset = offset };
}

/* Fills p->buf from the current item and, when it runs dry, from the next
 * one: the join is gapless. Returns the frames in the buffer; the events
 * of the transitions go to PEND with their offsets in the buffer. */
static size_t fill(struct playout *p, struct pending *pend, size_t *n_pend) {
        size_t n = 0;

        while (n < p->buf_frames && p->current) {
                struct item *cur = p->current;
                struct playout_event failed;
                ssize_t r;

                if (!cur->started) {
                        struct playout_event ev = { .type = PLAYOUT_STARTED, .item_id = cur->id,
                                                    .frames = cur->length };
                        pending_add(pend, n_pend, ev, n);
                        cur->started = true;
                }
                r = decoder_read(cur->dec, p->buf + n * (size_t) p->channels, p->buf_frames - n);
                if (r > 0) {
                        n += (size_t) r;
                        cur->frames += r;
                        continue;
                }
                /* r < 0: decoder_read logged why; the item ends with ERROR. */
                pending_add(pend, n_pend, ended_event(cur, r < 0 ? PLAYOUT_END_ERROR : PLAYOUT_END_COMPLETE,
                                                      (int) r), n);
                p->current = item_free(cur);
                if (promote(p, &failed))
                        pending_add(pend, n_pend, failed, n);
        }
        if (!p->current && *n_pend > 0)
                pending_add(pend, n_pend, (struct playout_event) { .type = PLAYOUT_IDLE }, n);
        return n;
}

static uint64_t frames_to_ns(struct playout *p, size_t frames) {
        return (uint64_t) frames * NSEC_PER_SEC / (uint64_t) p->rate;
}

/* Hands the buffer to the output. A failing device must not spin the
 * thread: wait as long as the buffer would have played. */
static int hand_over(struct playout *p, size_t n) {
        int r;

        if (p->restart_pace) {
                output_reset_pace(p->out);
                p->restart_pace = false;
        }
        r = output_play(p->out, p->buf, n);
        if (r < 0) {
                struct timespec ts = { .tv_nsec = (long) frames_to_ns(p, n) };

                log_error_errno(r, "Output '%s' failed, dropping %zu frames: %m", output_driver_name(p->out), n);
                nanosleep(&ts, NULL);
        }
        return r;
}

static void play_one_buffer(struct playout *p) {
        struct pending pend[MAX_PENDING];
        size_t n_pend = 0, n;
        uint64_t t;
        int r = 0;

        n = fill(p, pend, &n_pend);
        if (n > 0)
                r = hand_over(p, n);
        /* All N frames have now been handed: the clock sample, then the
         * events, each at the moment its frame went out. After a device
         * failure the clock keeps its last good sample (it stops
         * advancing, which is what the watchdog looks for), but the
         * transitions are still reported. */
        t = aclock_now_ns();
        if (r >= 0)
                publish(p, t, !p->paused);
        for (size_t i = 0; i < n_pend; i++) {
                pend[i].ev.mono_ns = t - frames_to_ns(p, n - pend[i].offset);
                event_post(p, &pend[i].ev);
        }
        if (!p->current) {
                if (r < 0)
                        publish(p, t, false);
                p->restart_pace = true;
        }
}

/* Idle or paused: sleep until a command comes, or 100 ms for the heartbeat. */
static void wait_for_command(struct playout *p) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += IDLE_WAIT_NS;
        if (ts.tv_nsec >= NSEC_PER_SEC) {
                ts.tv_sec++;
                ts.tv_nsec -= NSEC_PER_SEC;
        }
        pthread_mutex_lock(&p->lock);
        while (!p->cmd_head && !p->stop)
                if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&p->lock);
}

/* Takes the queued commands; returns true when asked to stop. */
static bool take_commands(struct playout *p, struct command **ret) {
        bool stop;

        pthread_mutex_lock(&p->lock);
        *ret = p->cmd_head;
        p->cmd_head = p->cmd_tail = NULL;
        stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        return stop;
}

static void commands_free(struct command *c) {
        while (c) {
                struct command *next = c->next;

                free(c->path);
                free(c);
                c = next;
        }
}

static void *playout_thread(void *userdata) {
        struct playout *p = userdata;

        /* A name for top -H, perf and bench/playout, which splits CPU by thread. */
        (void) pthread_setname_np(pthread_self(), "nextupd-playout");
        publish(p, aclock_now_ns(), false);     /* idle, but with our rate */
        for (;;) {
                struct command *cmds;
                bool stop;

                atomic_fetch_add(&p->heartbeat, 1);
                stop = take_commands(p, &cmds);
                for (struct command *c = cmds; c && !stop; c = c->next)
                        apply_command(p, c);
                commands_free(cmds);
                if (stop)
                        break;
                if (p->current && !p->paused)
                        play_one_buffer(p);
                else
                        wait_for_command(p);
        }

        if (p->current)
                post_now(p, ended_event(p->current, PLAYOUT_END_SHUTDOWN, 0));
        p->current = item_free(p->current);
        p->cued = item_free(p->cued);
        publish(p, aclock_now_ns(), false);
        return NULL;
}

static void playout_free(struct playout *p) {
        struct event_node *e;

        commands_free(p->cmd_head);
        while ((e = p->ev_head)) {
                p->ev_head = e->next;
                free(e);
        }
        item_free(p->current);
        item_free(p->cued);
        output_free(p->out);
        closep(&p->event_fd);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p->buf);
        free(p);
}

static int playout_init(struct playout *p) {
        pthread_condattr_t attr;

        pthread_mutex_init(&p->lock, NULL);
        /* Timed waits measure against CLOCK_MONOTONIC, like everything else. */
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cond, &attr);
        pthread_condattr_destroy(&attr);
        p->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->event_fd < 0)
                return -errno;
        p->buf_frames = (size_t) MAX(p->rate / 50, 1);     /* 20 ms */
        p->buf = calloc(p->buf_frames * (size_t) p->channels, sizeof(int16_t));
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
        r = -pthread_create(&p->thread, NULL, playout_thread, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return r;
}

int playout_start(struct output *out, struct aclock *clock, int rate, int channels,
                  struct playout **ret) {
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
                p->out = NULL;  /* on failure OUT stays the caller's */
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
        pthread_join(p->thread, NULL);
        playout_free(p);
        return NULL;
}

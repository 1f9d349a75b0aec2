/* SPDX-License-Identifier: GPL-3.0-or-later */
/* playout-loop.c: the playout thread (playout.c starts it, and queues its
 * commands and events; playout-internal.h).
 *
 * Each turn: apply commands -> fill one ~20 ms buffer -> shape it (fades)
 * -> silence detector -> output_play -> publish the audio clock -> post the
 * events of that buffer. Items come opened by the opener thread, so when
 * the current item runs dry mid-buffer the cued one fills the rest of the
 * very same buffer: no gap, no padding (unless a gap is set: then that many
 * frames of zeros, belonging to no item). Event times follow the clock: an
 * item's frame 0 was handed at (publish time - its frames in the buffer /
 * rate), which is what aclock_media_to_mono(sample, 0, 0) says too.
 *
 * Cuts (hard starts, playout_end) are placed on a frame of a buffer: a
 * hard start converts its time to a frame offset in the coming buffer
 * from the time its first frame counts as handed (a paced output's own
 * timeline, exact; for a live device, which blocks in ao_play, the
 * previous buffer's hand-over time). Fill stops at the cut, the item ends
 * there and the next fills the rest. The fade-out before a cut is a gain
 * that depends only on the distance to the cut, applied after filling, so
 * it spans buffers without state and lands at zero exactly on the cut. */
#include "playout.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "aclock.h"
#include "cleanup.h"
#include "decoder.h"
#include "log.h"
#include "output.h"
#include "playout-internal.h"
#include "playout-item.h"
#include "timeutil.h"

#define IDLE_WAIT_NS (100 * 1000000LL)
/* Idle before a hard start: the condition wait ends this early, the rest
 * is one clock_nanosleep to the exact time (commands still get through
 * until then). */
#define HARD_SPIN_NS (3 * 1000000LL)
/* SCHED_FIFO priority of the thread when allowed: low, above every normal
 * thread, below audio servers and IRQ threads. */
#define PLAYOUT_RT_PRIORITY 10
#define PLAYOUT_NICE (-10)
/* How often a failed output is reopened. */
#define OUTPUT_RETRY_NS (1000 * 1000000LL)
#define NO_CUT INT64_MAX

/* A cut in the coming buffer: at frame offset AT (NO_CUT: none), after a
 * fade of FADE frames; the fade stops at STOP (the faded item ended). */
struct cut {
        int64_t at, fade, stop;
};

/* ---- the playout thread: items ---- */

/* An event still to be timed: it happened at buffer offset OFFSET. */
struct pending {
        struct playout_event ev;
        size_t offset;
};

/* Per buffer at most: an end, a start, a failed cued item, for the item
 * playing, a hard start and the cued item, a silence, an idle. */
#define MAX_PENDING 16

static int64_t ms_to_frames(const struct playout *p, int ms) {
        return (int64_t)ms * p->rate / 1000;
}

static uint64_t frames_to_ns(const struct playout *p, size_t frames) {
        return (uint64_t)frames * NSEC_PER_SEC / (uint64_t)p->rate;
}

/* NS (signed) in frames, rounded to the nearest. */
static int64_t ns_to_frames(const struct playout *p, int64_t ns) {
        __int128 x = (__int128)ns * p->rate;

        return (int64_t)((x >= 0 ? x + NSEC_PER_SEC / 2 : x - NSEC_PER_SEC / 2) / NSEC_PER_SEC);
}

static void post_now(struct playout *p, struct playout_event ev) {
        ev.mono_ns = aclock_now_ns();
        playout_post(p, &ev);
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

/* Makes the cued item current. One that could not be opened ends here
 * and then: returns true with its ENDED event in *ret_failed. */
static bool promote(struct playout *p, struct playout_event *ret_failed) {
        struct item *it = TAKE_PTR(p->cued);

        if (!it)
                return false;
        if (!it->dec) {
                *ret_failed = item_ended_event(it, PLAYOUT_END_ERROR, it->error);
                item_free(it);
                return true;
        }
        p->current = it;
        return false;
}

/* The current item has ended (p->current is NULL): the cued one follows,
 * after the gap when one is set and there is something to follow. */
static bool follow(struct playout *p, struct playout_event *ret_failed) {
        if (p->cued && p->gap_frames > 0) {
                p->gap_left = p->gap_frames;
                return false;
        }
        return promote(p, ret_failed);
}

/* Outside a buffer (skip, end, cue while idle): the next item takes over
 * now, after the gap if GAP. */
static void advance_now(struct playout *p, bool gap) {
        struct playout_event failed;

        if (gap ? follow(p, &failed) : promote(p, &failed))
                post_now(p, failed);
        if (!p->current && p->gap_left == 0) {
                publish(p, aclock_now_ns(), false);
                playout_post_simple(p, PLAYOUT_IDLE, 0);
                p->restart_pace = true;
        }
}

/* Ends the current item now, between buffers. */
static void end_now(struct playout *p, enum playout_end_reason reason) {
        post_now(p, item_ended_event(p->current, reason, 0));
        p->current = item_free(p->current);
        p->end_id = 0;
        advance_now(p, true);
}

/* ---- the playout thread: commands ---- */

static void set_hard(struct playout *p, struct command *c) {
        p->hard = item_free(p->hard);
        if (c->id == 0)
                return;
        p->hard = TAKE_PTR(c->item);
        if (!p->hard)
                return;
        p->hard_at_ns = c->at_ns;
        p->hard_fade = ms_to_frames(p, c->fade_ms);
        log_debug("Hard start of #%" PRIu64 " set for %" PRId64 " ms from now, fade %d ms", c->id,
                  ((int64_t)(c->at_ns - aclock_now_ns())) / 1000000, c->fade_ms);
}

static void set_end(struct playout *p, struct command *c) {
        if (!p->current)
                return;
        if (c->fade_ms == 0) {
                end_now(p, c->reason);
                return;
        }
        p->end_id = p->current->id;
        p->end_reason = c->reason;
        p->end_left = p->end_fade = MAX(ms_to_frames(p, c->fade_ms), 1);
}

static void set_options(struct playout *p, const struct command *c) {
        double level = 32768.0 * pow(10.0, c->silence_dbfs / 20.0);

        p->gap_frames = ms_to_frames(p, c->gap_ms);
        p->silence_frames = c->silence_ms > 0 ? MAX(ms_to_frames(p, c->silence_ms), 1) : 0;
        p->silence_sq = level * level;
        log_debug("Playout options: gap %d ms, silence %s%d dBFS for %d ms", c->gap_ms,
                  c->silence_ms > 0 ? "below " : "detector off, ", c->silence_dbfs, c->silence_ms);
}

static void set_paused(struct playout *p, bool paused) {
        if (p->paused == paused)
                return;
        p->paused = paused;
        if (!paused)
                p->restart_pace = true;
        /* Clock first: whoever hears PAUSED reads a paused clock, and
         * whoever hears RESUMED a playing one (or it would plan nothing). */
        publish(p, aclock_now_ns(), !paused);
        playout_post_simple(p, paused ? PLAYOUT_PAUSED : PLAYOUT_RESUMED, p->current ? p->current->id : 0);
}

static void apply_command(struct playout *p, struct command *c) {
        switch (c->type) {
        case CMD_CUE:
                p->cued = item_free(p->cued);
                if (c->id != 0)
                        p->cued = TAKE_PTR(c->item);
                if (!p->current && p->gap_left == 0 && p->cued)
                        advance_now(p, false);
                break;
        case CMD_SKIP:
                if (p->current)
                        end_now(p, PLAYOUT_END_SKIPPED);
                break;
        case CMD_HARD:
                set_hard(p, c);
                break;
        case CMD_END:
                set_end(p, c);
                break;
        case CMD_OPTIONS:
                set_options(p, c);
                break;
        case CMD_PAUSE:
        case CMD_RESUME:
                set_paused(p, c->type == CMD_PAUSE);
                break;
        }
}

/* ---- the playout thread: one buffer ---- */

static void pending_add(struct pending *pend, size_t *n_pend, struct playout_event ev, size_t offset) {
        assert(*n_pend < MAX_PENDING);
        pend[(*n_pend)++] = (struct pending){.ev = ev, .offset = offset};
}

/* When the coming buffer's first frame counts as handed: on a paced
 * output's timeline exactly; for a live device when the previous buffer
 * had been handed (ao_play blocks until the device took it); now when
 * the output (re)starts. */
static uint64_t next_frame_ns(struct playout *p) {
        uint64_t t;

        if (p->restart_pace || p->last_hand_ns == 0)
                return aclock_now_ns();
        if (output_next_frame_ns(p->out, &t))
                return t;
        return p->last_hand_ns;
}

static struct cut hard_cut(struct playout *p) {
        int64_t at;

        if (!p->hard)
                return (struct cut){.at = NO_CUT, .stop = NO_CUT};
        at = ns_to_frames(p, (int64_t)(p->hard_at_ns - next_frame_ns(p)));
        if (at < 0)
                log_warning("Hard start of #%" PRIu64 " is %" PRId64 " ms late", p->hard->id,
                            -at * 1000 / p->rate);
        /* One that cannot play cuts nothing: it just fails at its time. */
        return (struct cut){.at = MAX(at, 0), .fade = p->hard->dec ? p->hard_fade : 0, .stop = NO_CUT};
}

static struct cut end_cut(struct playout *p) {
        if (!p->end_id)
                return (struct cut){.at = NO_CUT, .stop = NO_CUT};
        return (struct cut){.at = p->end_left, .fade = p->end_fade, .stop = NO_CUT};
}

/* The hard start's time is at offset N: whatever plays is cut, the hard
 * item takes over (the cued one stays cued). */
static void take_hard(struct playout *p, struct pending *pend, size_t *n_pend, size_t n) {
        struct item *it = TAKE_PTR(p->hard);

        if (!it->dec) {
                pending_add(pend, n_pend, item_ended_event(it, PLAYOUT_END_ERROR, it->error), n);
                item_free(it);
                return;
        }
        if (p->current) {
                pending_add(pend, n_pend, item_ended_event(p->current, PLAYOUT_END_CUT, 0), n);
                p->current = item_free(p->current);
        }
        p->end_id = 0;
        p->gap_left = 0;
        p->current = it;
}

/* Reads from the current item into the buffer up to LIMIT; at its end
 * the next one follows. */
static void fill_item(struct playout *p, size_t *n, size_t limit, struct cut *end, struct pending *pend,
                      size_t *n_pend) {
        struct item *cur = p->current;
        struct playout_event failed;
        ssize_t r;

        if (!cur->started) {
                struct playout_event ev = {.type = PLAYOUT_STARTED,
                                           .item_id = cur->id,
                                           .frames = cur->length,
                                           .start_frame = cur->start_frame};
                pending_add(pend, n_pend, ev, *n);
                cur->started = true;
                p->silent_run = 0;
        }
        r = item_read(cur, p->channels, p->buf + *n * (size_t)p->channels, limit - *n);
        if (r > 0) {
                *n += (size_t)r;
                cur->frames += r;
                return;
        }
        /* r < 0: decoder_read logged why; the item ends with ERROR. */
        pending_add(pend, n_pend,
                    item_ended_event(cur, r < 0 ? PLAYOUT_END_ERROR : PLAYOUT_END_COMPLETE, (int)r), *n);
        if (p->end_id == cur->id) {
                p->end_id = 0; /* it ended by itself: its fade stops here */
                end->stop = (int64_t)*n;
        }
        p->current = item_free(cur);
        if (follow(p, &failed))
                pending_add(pend, n_pend, failed, *n);
}

static void fill_gap(struct playout *p, size_t *n, size_t limit, struct pending *pend, size_t *n_pend) {
        size_t k = MIN(limit - *n, (size_t)p->gap_left);
        struct playout_event failed;

        memset(p->buf + *n * (size_t)p->channels, 0, k * (size_t)p->channels * sizeof(int16_t));
        *n += k;
        p->gap_left -= (int64_t)k;
        if (p->gap_left == 0 && promote(p, &failed))
                pending_add(pend, n_pend, failed, *n);
}

/* Fills p->buf from the current item and, when it ends, from the next
 * one (after the gap): the join is gapless. Stops at the cuts. Returns the
 * frames in the buffer; the events of the transitions go to PEND with
 * their offsets in the buffer. */
static size_t fill(struct playout *p, struct cut *hard, struct cut *end, struct pending *pend,
                   size_t *n_pend) {
        bool busy = p->current || p->gap_left > 0;
        size_t n = 0;

        while (n < p->buf_frames) {
                int64_t hard_at = p->hard ? hard->at : NO_CUT, end_at = p->end_id ? end->at : NO_CUT;
                size_t limit = (size_t)MIN((int64_t)p->buf_frames, MIN(hard_at, end_at));

                if ((int64_t)n >= hard_at)
                        take_hard(p, pend, n_pend, n);
                else if ((int64_t)n >= end_at) {
                        struct playout_event failed;

                        pending_add(pend, n_pend, item_ended_event(p->current, p->end_reason, 0), n);
                        p->current = item_free(p->current);
                        p->end_id = 0;
                        if (follow(p, &failed))
                                pending_add(pend, n_pend, failed, n);
                } else if (p->current)
                        fill_item(p, &n, limit, end, pend, n_pend);
                else if (p->gap_left > 0)
                        fill_gap(p, &n, limit, pend, n_pend);
                else
                        break;
        }
        if (busy && !p->current && p->gap_left == 0)
                pending_add(pend, n_pend, (struct playout_event){.type = PLAYOUT_IDLE}, n);
        return n;
}

/* Raised cosine: 1 at FADE frames before the cut, 0 at the cut. */
static double fade_gain(int64_t before_cut, int64_t fade) {
        if (before_cut >= fade)
                return 1.0;
        return 0.5 * (1.0 - cos(M_PI * (double)before_cut / (double)fade));
}

static void apply_fade(struct playout *p, const struct cut *c, size_t n) {
        int64_t from, to;

        if (c->at == NO_CUT || c->fade <= 0)
                return;
        from = MAX(c->at - c->fade, 0);
        to = MIN(MIN(c->at, c->stop), (int64_t)n);
        for (int64_t i = from; i < to; i++) {
                double g = fade_gain(c->at - i, c->fade);

                for (int k = 0; k < p->channels; k++) {
                        int16_t *s = &p->buf[i * p->channels + k];

                        *s = (int16_t)lrint(*s * g);
                }
        }
}

/* The silence detector: RMS of each buffer as it goes out; SILENCE once
 * per item when the run of quiet buffers reaches the set length. */
static void detect_silence(struct playout *p, size_t n, struct pending *pend, size_t *n_pend) {
        size_t samples = n * (size_t)p->channels;
        double sum = 0;

        if (p->silence_frames <= 0 || n == 0)
                return;
        for (size_t i = 0; i < samples; i++)
                sum += (double)p->buf[i] * p->buf[i];
        if (sum >= p->silence_sq * (double)samples) {
                p->silent_run = 0;
                return;
        }
        p->silent_run += (int64_t)n;
        if (p->silent_run >= p->silence_frames && p->current && !p->current->silence_posted) {
                p->current->silence_posted = true;
                pending_add(pend, n_pend,
                            (struct playout_event){.type = PLAYOUT_SILENCE, .item_id = p->current->id}, n);
        }
}

/* While the output is down: reopen it once per OUTPUT_RETRY_NS. */
static void output_retry(struct playout *p) {
        uint64_t now = aclock_now_ns();

        if (now < p->output_retry_ns)
                return;
        if (output_reopen(p->out) < 0) {
                p->output_retry_ns = now + OUTPUT_RETRY_NS;
                return;
        }
        p->output_down = false;
        p->restart_pace = true;
        log_notice("Output '%s' is back", output_driver_name(p->out));
        post_now(p, (struct playout_event){.type = PLAYOUT_OUTPUT_UP});
}

/* Hands the buffer to the output. A failed device is said once (an
 * OUTPUT_DOWN event) and then retried; meanwhile the items go on in real
 * time, their buffers dropped and counted, so the programme keeps its
 * clock and the as-run log can say what nobody heard. The thread must not
 * spin: it waits as long as the buffer would have played. */
static int hand_over(struct playout *p, size_t n) {
        int r = -EIO;

        if (p->output_down)
                output_retry(p);
        if (p->restart_pace) {
                output_reset_pace(p->out);
                p->restart_pace = false;
        }
        if (!p->output_down)
                r = output_play(p->out, p->buf, n);
        if (r < 0) {
                struct timespec ts = {.tv_nsec = (long)frames_to_ns(p, n)};

                if (!p->output_down) {
                        struct playout_event ev = {.type = PLAYOUT_OUTPUT_DOWN};

                        snprintf(ev.message, sizeof ev.message, "output '%s' failed: %s",
                                 output_driver_name(p->out), strerror(-r));
                        p->output_down = true;
                        p->output_retry_ns = aclock_now_ns() + OUTPUT_RETRY_NS;
                        post_now(p, ev);
                }
                if (p->current)
                        p->current->down_frames += (int64_t)n;
                nanosleep(&ts, NULL);
        }
        return r;
}

static void play_one_buffer(struct playout *p) {
        struct pending pend[MAX_PENDING];
        struct cut hard = hard_cut(p), end = end_cut(p);
        size_t n_pend = 0, n;
        uint64_t t;
        int r = 0;

        n = fill(p, &hard, &end, pend, &n_pend);
        apply_fade(p, &hard, n);
        apply_fade(p, &end, n);
        detect_silence(p, n, pend, &n_pend);
        if (p->end_id)
                p->end_left -= (int64_t)n;
        if (n > 0)
                r = hand_over(p, n);
        /* All N frames have now been handed: the clock sample, then the
         * events, each at the moment its frame went out. After a device
         * failure the clock keeps its last good sample (it stops
         * advancing, which is what the watchdog looks for), but the
         * transitions are still reported. */
        t = aclock_now_ns();
        p->last_hand_ns = t;
        if (r >= 0)
                publish(p, t, !p->paused);
        for (size_t i = 0; i < n_pend; i++) {
                pend[i].ev.mono_ns = t - frames_to_ns(p, n - pend[i].offset);
                playout_post(p, &pend[i].ev);
        }
        if (!p->current && p->gap_left == 0) {
                if (r < 0)
                        publish(p, t, false);
                p->restart_pace = true;
        }
}

/* Idle, nothing playing, at the hard start's time: it starts now. */
static void start_hard_now(struct playout *p) {
        struct item *it = TAKE_PTR(p->hard);

        if (!it->dec) {
                post_now(p, item_ended_event(it, PLAYOUT_END_ERROR, it->error));
                item_free(it);
                return;
        }
        p->current = it;
        p->restart_pace = true;
}

static void sleep_until_ns(uint64_t t) {
        struct timespec ts = {.tv_sec = (time_t)(t / NSEC_PER_SEC), .tv_nsec = (long)(t % NSEC_PER_SEC)};

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

/* Idle or paused: sleep until a command comes, or 100 ms for the
 * heartbeat. A hard start due sooner is slept to exactly: the condition
 * wait ends a little early (commands still get through), then one
 * absolute clock_nanosleep to its time. */
static void wait_for_command(struct playout *p) {
        uint64_t deadline = aclock_now_ns() + IDLE_WAIT_NS;
        bool exact = false, woken;
        struct timespec ts;

        if (!p->paused && p->hard && p->hard_at_ns < deadline + HARD_SPIN_NS) {
                deadline = p->hard_at_ns > (uint64_t)HARD_SPIN_NS ? p->hard_at_ns - HARD_SPIN_NS : 0;
                exact = true;
        }
        ts = (struct timespec){.tv_sec = (time_t)(deadline / NSEC_PER_SEC),
                               .tv_nsec = (long)(deadline % NSEC_PER_SEC)};
        pthread_mutex_lock(&p->lock);
        while (!p->cmd_head && !p->stop)
                if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT)
                        break;
        woken = p->cmd_head || p->stop;
        pthread_mutex_unlock(&p->lock);
        if (exact && !woken)
                sleep_until_ns(p->hard_at_ns);
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

/* A playout thread starved by a busy machine underruns the device (an
 * air-chain test saw PulseAudio underrun under CPU load). SCHED_FIFO at a
 * low priority when we may, else a better nice value, else as we are. */
static void raise_priority(void) {
        struct sched_param sp = {.sched_priority = PLAYOUT_RT_PRIORITY};
        int r;

        r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
        if (r == 0) {
                log_debug("Playout thread runs SCHED_FIFO, priority %d", PLAYOUT_RT_PRIORITY);
                return;
        }
        if (setpriority(PRIO_PROCESS, (id_t)gettid(), PLAYOUT_NICE) == 0) {
                log_debug("Playout thread runs at nice %d (SCHED_FIFO refused: %s)", PLAYOUT_NICE,
                          strerror(r));
                return;
        }
        log_debug_errno(-errno,
                        "Cannot raise the playout thread's priority (%m), running at normal priority");
}

void *playout_loop(void *userdata) {
        struct playout *p = userdata;

        /* A name for top -H, perf and bench/playout, which splits CPU by thread. */
        (void)pthread_setname_np(pthread_self(), "nextupd-playout");
        raise_priority();
        publish(p, aclock_now_ns(), false); /* idle, but with our rate */
        for (;;) {
                struct command *cmds;
                bool stop;

                atomic_fetch_add(&p->heartbeat, 1);
                stop = take_commands(p, &cmds);
                for (struct command *c = cmds; c && !stop; c = c->next)
                        apply_command(p, c);
                playout_commands_free(cmds);
                if (stop)
                        break;
                if (!p->paused && (p->current || p->gap_left > 0))
                        play_one_buffer(p);
                else if (!p->paused && p->hard && aclock_now_ns() >= p->hard_at_ns)
                        start_hard_now(p);
                else {
                        if (p->output_down)
                                output_retry(p); /* idle too: the status should say it is back */
                        wait_for_command(p);
                }
        }

        if (p->current)
                post_now(p, item_ended_event(p->current, PLAYOUT_END_SHUTDOWN, 0));
        p->current = item_free(p->current);
        p->cued = item_free(p->cued);
        p->hard = item_free(p->hard);
        publish(p, aclock_now_ns(), false);
        return NULL;
}

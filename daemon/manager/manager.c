/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager.c: the Manager owns the sd-event loop and wires the modules.
 *
 * DESIGN (docs/architecture.md): this thread, the loop, owns the
 * configuration, the Next Up queue, the schedule, the story on air, the
 * caption timers, the control socket and sd_notify, and never blocks. The
 * playout thread owns the decoders and the device; we give it commands
 * (playout_cue_from/hard_start/end/skip/pause/resume) and read its events
 * from an eventfd. The ingest worker thread scans audio and aligns (in a
 * nextup-caption child) off the loop; its results come back as done()
 * callbacks on this thread. Shared between threads: the audio clock
 * (aclock), the playout thread's command and event lists (its lock), the
 * heartbeat counter and the log level.
 *
 * What plays next (the front of the queue, else filler) is always "cued"
 * in the playout thread, so when the story on air ends the next one starts
 * in the same buffer (gapless). A story leaves the queue when the playout
 * thread reports it STARTED. */
#include "manager.h"
#include "manager-acks.h"
#include "manager-commands.h"
#include "manager-cue.h"
#include "manager-events.h"
#include "manager-filler.h"
#include "manager-http.h"
#include "manager-ingest.h"
#include "manager-internal.h"
#include "manager-persist.h"
#include "manager-schedule.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "aclock.h"
#include "asrun.h"
#include "align.h"
#include "cache.h"
#include "captions.h"
#include "cleanup.h"
#include "config.h"
#include "control.h"
#include "decoder.h"
#include "dropbox.h"
#include "fileio.h"
#include "log.h"
#include "output.h"
#include "playout.h"
#include "queue.h"
#include "segment.h"
#include "sink.h"
#include "timing.h"
#include "transcript.h"
#include "worker.h"

/* ---- the loop's hooks (manager-internal.h) ---------------------------- */

/* The cue decides what plays next, the loop announces it (next_up,
 * queue_changed), then the cue cues it: the cue never calls the event
 * stream, and the order is the one the single step had. */
static void update_cue(struct manager *m) {
        struct story *next = manager_cue_next(m);

        manager_events_queue(m); /* next_up, queue_changed */
        manager_cue_set(m, next);
}

static void update_status(struct manager *m);

/* ---- playout --------------------------------------------------------- */

static void maybe_exit_idle(struct manager *m) {
        if (m->exit_idle && !m->on_air && queue_size(m->queue) == 0) {
                log_info("Nothing on air or queued, exiting");
                sd_event_exit(m->event, 0);
        }
}

static void on_started(struct manager *m, const struct playout_event *ev) {
        struct story *s = manager_cue_take(m, ev);

        if (!s) {
                /* Removed from the queue just as it went on air. */
                log_notice("Story #%llu was removed as it started, skipping",
                           (unsigned long long)ev->item_id);
                playout_skip(m->playout);
                manager_update_cue(m);
                return;
        }
        if (m->captions_next) {
                captions_free(m->captions);
                m->captions = TAKE_PTR(m->captions_next);
        }
        story_free(m->on_air);
        m->on_air = s;
        m->state = AIR_PLAYING;
        log_info("On air: #%llu '%s'%s", (unsigned long long)s->id, s->title,
                 s->timing == TIMING_NONE ? " (captions wait for the audio scan)" : "");
        captions_story_started(m->captions, s);
        manager_events_on_air(m, s, ev);
        manager_update_cue(m);
        manager_update_status(m);
}

static void on_ended(struct manager *m, const struct playout_event *ev) {
        struct story *s;

        m->ended_down_ms = ev->down_frames * 1000 / m->config->rate;
        if (m->on_air && m->on_air->id == ev->item_id) {
                captions_story_ended(m->captions, m->on_air);
                log_info("Off air: #%llu '%s' (%s, %lld ms played, %zu cues emitted, %zu dropped)",
                         (unsigned long long)ev->item_id, m->on_air->title,
                         playout_end_reason_to_string(ev->reason),
                         (long long)(ev->frames * 1000 / m->config->rate), captions_emitted(m->captions),
                         captions_dropped(m->captions));
                manager_events_off_air(m, m->on_air, ev->reason, ev->frames * 1000 / m->config->rate,
                                       ev->mono_ns);
                m->on_air = story_free(m->on_air);
        } else if (ev->reason == PLAYOUT_END_ERROR && (s = manager_cue_take(m, ev))) {
                /* Failed before its first frame: it leaves the queue. */
                manager_events_off_air(m, s, ev->reason, 0, ev->mono_ns);
                story_free(s);
        }
        if (ev->reason == PLAYOUT_END_ERROR) {
                log_warning("Skipping story #%llu: %s", (unsigned long long)ev->item_id, ev->message);
                manager_alert(m, "decode_error", "story #%llu: %s", (unsigned long long)ev->item_id,
                              ev->message);
        }
        manager_update_cue(m);
        manager_update_status(m);
}

/* The silence detector fired: dead air is worse than a skipped story. */
static void on_silence(struct manager *m, const struct playout_event *ev) {
        const char *title = m->on_air && m->on_air->id == ev->item_id ? m->on_air->title : "?";

        manager_http_count(m, "silence");
        log_warning("Silence on air for %d ms in #%llu '%s', skipping to the next item",
                    m->config->silence_ms, (unsigned long long)ev->item_id, title);
        manager_alert(m, "silence", "#%llu '%s': below %d dBFS for %d ms, skipped",
                      (unsigned long long)ev->item_id, title, m->config->silence_dbfs,
                      m->config->silence_ms);
        if (m->on_air && m->on_air->id == ev->item_id && playout_end(m->playout, PLAYOUT_END_SILENCE, 0) < 0)
                log_error("Cannot skip the silent item (out of memory)");
}

/* The output failed or came back: dead air must be seen, not believed
 * away. An alert, the STATUS= line, and as-run records (output_down_ms). */
static void on_output(struct manager *m, const struct playout_event *ev) {
        m->output_down = ev->type == PLAYOUT_OUTPUT_DOWN;
        if (m->output_down) {
                log_error("Output down: %s; reopening it every second, what plays meanwhile is not heard",
                          ev->message);
                manager_alert(m, "output_down", "%s; reopening it every second", ev->message);
        } else
                manager_alert(m, "output_up", "output '%s' is back", m->output_driver);
        manager_update_status(m);
}

/* gap and silence detector options from the configuration. */
static void set_playout_options(struct manager *m) {
        const struct nextup_config *c = m->config;

        if (playout_set_options(m->playout, c->gap_ms, c->silence_dbfs,
                                c->silence_enabled ? c->silence_ms : 0) < 0)
                log_error("Cannot set the playout options (out of memory), keeping the old ones");
}

static int on_playout_event(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        struct playout_event ev;

        while (playout_next_event(m->playout, &ev) > 0) {
                manager_schedule_playout_event(m, &ev); /* wait-mode watches */
                manager_filler_playout_event(m, &ev);   /* failures, giving way */
                switch (ev.type) {
                case PLAYOUT_STARTED:
                        on_started(m, &ev);
                        break;
                case PLAYOUT_ENDED:
                        on_ended(m, &ev);
                        break;
                case PLAYOUT_PAUSED:
                        m->state = AIR_PAUSED;
                        captions_replan(m->captions);
                        manager_update_status(m);
                        break;
                case PLAYOUT_RESUMED:
                        m->state = m->on_air ? AIR_PLAYING : AIR_IDLE;
                        captions_replan(m->captions);
                        manager_update_status(m);
                        break;
                case PLAYOUT_SILENCE:
                        on_silence(m, &ev);
                        break;
                case PLAYOUT_OUTPUT_DOWN:
                case PLAYOUT_OUTPUT_UP:
                        on_output(m, &ev);
                        break;
                case PLAYOUT_IDLE:
                        if (m->state == AIR_PLAYING)
                                manager_http_count(m, "dead_air"); /* was playing, now nothing */
                        if (m->state != AIR_PAUSED)
                                m->state = AIR_IDLE;
                        manager_update_status(m);
                        maybe_exit_idle(m);
                        break;
                }
                manager_acks_playout_event(m, &ev);
        }
        manager_persist_changed(m); /* a story started, ended or failed */
        return 0;
}

/* ---- sd_notify: status, watchdog ------------------------------------- */

static void update_status(struct manager *m) {
        struct story *next = queue_get(m->queue, 0);
        _cleanup_free_ char *status = NULL;
        char pos[32], dur[32];
        int n;

        if (m->on_air) {
                manager_format_mmss(manager_position_ms(m), pos, sizeof pos);
                manager_format_mmss(m->on_air->duration_ms, dur, sizeof dur);
                n = asprintf(&status, "%s: %s %s/%s%s",
                             m->state == AIR_PAUSED ? "Paused"
                             : m->on_air->filler    ? "Filler"
                                                    : "On air",
                             m->on_air->title, pos, m->on_air->duration_ms >= 0 ? dur : "--:--",
                             m->on_air->filler                      ? ""
                             : m->on_air->timing == TIMING_NONE     ? " (captions not timed yet)"
                             : m->on_air->timing == TIMING_ESTIMATE ? " (captions: estimated timing)"
                                                                    : "");
        } else
                n = asprintf(&status, "Idle");
        if (n < 0)
                return;
        if (m->output_down) {
                char *s;
                if (asprintf(&s, "OUTPUT DOWN (%s) · %s", m->output_driver, status) < 0)
                        return;
                free(status);
                status = s;
        }
        if (next) {
                char *s;
                if (asprintf(&s, "%s · Next up: %s", status, next->title) < 0)
                        return;
                free(status);
                status = s;
        }
        if (manager_events_recent_alert(m)) {
                char *s;
                if (asprintf(&s, "%s · Alert: %s", status, manager_events_recent_alert(m)) < 0)
                        return;
                free(status);
                status = s;
        }
        if (m->last_status && strcmp(m->last_status, status) == 0)
                return;
        sd_notifyf(false, "STATUS=%s", status);
        free(m->last_status);
        m->last_status = TAKE_PTR(status);
}

static int on_status_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;

        manager_update_status(m);
        manager_acks_expire(m);
        (void)log_flush(); /* log lines that waited for a slow stderr */
        sd_event_source_set_time(s, usec + 1000000);
        return 0;
}

/* WATCHDOG=1 only while the playout thread's loop turns: a hung device or
 * decoder lets systemd restart us. */
static int on_watchdog_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        uint64_t hb = playout_heartbeat(m->playout);

        if (hb != m->last_heartbeat)
                sd_notify(false, "WATCHDOG=1");
        else
                log_warning("Playout thread made no progress for %llu ms",
                            (unsigned long long)(m->watchdog_usec / 2000));
        m->last_heartbeat = hb;
        sd_event_source_set_time(s, usec + m->watchdog_usec / 2);
        return 0;
}

/* ---- signals and reload ---------------------------------------------- */

/* The config's sinks, and the HTTP server's SSE sink last when it runs. */
static int make_sinks(struct manager *m, const struct nextup_config *c, struct sink ***ret, size_t *ret_n) {
        struct sink **sinks = calloc(c->n_sinks + 1, sizeof *sinks);
        struct sink *sse = NULL;
        int r;

        if (!sinks)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_sinks; i++) {
                r = sink_new(m->event, &c->sinks[i], &sinks[i]);
                if (r < 0) {
                        const struct sink_config *sc = &c->sinks[i];

                        log_error_errno(r, "Cannot open caption sink %zu ('%s'): %m", i,
                                        sc->path          ? sc->path
                                        : sc->credentials ? sc->credentials
                                        : sc->connect     ? sc->connect
                                        : sc->udp         ? sc->udp
                                        : sc->device      ? sc->device
                                                          : "terminal");
                        for (size_t k = 0; k < i; k++)
                                sink_free(sinks[k]);
                        free(sinks);
                        return r;
                }
        }
        r = manager_http_sink(m, c->http_latency_ms, &sse);
        if (r < 0) {
                for (size_t k = 0; k < c->n_sinks; k++)
                        sink_free(sinks[k]);
                free(sinks);
                log_error_errno(r, "Cannot create the SSE caption feed: %m");
                return r;
        }
        if (sse)
                sinks[c->n_sinks] = sse;
        *ret = sinks;
        *ret_n = c->n_sinks + (sse ? 1 : 0);
        return 0;
}

static int make_captions(struct manager *m, const struct nextup_config *c, struct captions **ret) {
        struct sink **sinks;
        size_t n;
        int r;

        r = make_sinks(m, c, &sinks, &n);
        if (r < 0)
                return r;
        r = captions_new(m->event, m->clock, sinks, n, ret);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        sink_free(sinks[i]);
                free(sinks);
                return r;
        }
        manager_http_watch(m, *ret);
        return r;
}

static bool str_eq(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* ---- dropbox --------------------------------------------------------- */

/* A story from a watched folder, already moved to its accepted/ folder. */
static int dropbox_take(const char *audio, const char *transcript, int position,
                        const struct audio_scan *scan, char **ret_error, void *userdata) {
        struct manager *m = userdata;
        struct story *s;
        int r;

        r = manager_enqueue(m, audio, transcript, position < 0 ? queue_size(m->queue) : (size_t)position,
                            scan, &s, ret_error);
        /* Queued, even when the state cannot be saved right now: no client
         * waits for an answer here, the files have left the folder, and the
         * checkpoint timer retries the save (the audio goes on). */
        if (r >= 0)
                manager_persist_changed(m);
        return r;
}

static int make_dropbox(struct manager *m, const struct nextup_config *c, struct dropbox **ret) {
        /* its check segments as build() in manager-ingest.c does */
        struct segment_opts seg = {
                .max_chars = c->max_chars,
                .max_lines = c->max_lines,
                .speaker_mark = c->speaker_mark,
        };
        int r;

        *ret = NULL;
        if (c->n_dropboxes == 0)
                return 0;
        r = dropbox_new(m->event, c->dropboxes, c->n_dropboxes, c->rate, &seg, dropbox_take, m, ret);
        if (r < 0)
                return log_error_errno(r, "Cannot watch the dropbox folders: %m, going on without them");
        return 0;
}

static bool dropboxes_equal(const struct nextup_config *a, const struct nextup_config *b) {
        if (a->n_dropboxes != b->n_dropboxes || a->rate != b->rate || a->max_chars != b->max_chars ||
            a->max_lines != b->max_lines || !str_eq(a->speaker_mark, b->speaker_mark))
                return false;
        for (size_t i = 0; i < a->n_dropboxes; i++) {
                const struct dropbox_config *x = &a->dropboxes[i], *y = &b->dropboxes[i];

                if (!str_eq(x->path, y->path) || x->position != y->position ||
                    x->settle_ms != y->settle_ms || !str_eq(x->quarantine, y->quarantine))
                        return false;
        }
        return true;
}

/* A changed list (or changed caption settings, which its check segments
 * with) re-creates the watches: checks in flight are dropped and their
 * files, still in the folders, are found again by the new scan. */
static void reload_dropbox(struct manager *m, const struct nextup_config *c) {
        if (dropboxes_equal(m->config, c))
                return;
        m->dropbox = dropbox_free(m->dropbox);
        if (make_dropbox(m, c, &m->dropbox) >= 0)
                log_info("Dropbox folders reloaded (%zu)", c->n_dropboxes);
}

static struct control_options control_options_of(const struct nextup_config *c) {
        return (struct control_options){
                .path = c->control_socket,
                .mode = c->control_mode,
                .idle_timeout_usec = (uint64_t)c->control_idle_timeout_s * 1000000u,
                .max_connections = (unsigned)c->control_max_connections,
                .allow_uids = c->control_allow_uids,
                .n_allow_uids = c->n_control_allow_uids,
                .allow_gids = c->control_allow_gids,
                .n_allow_gids = c->n_control_allow_gids,
        };
}

static void reload(struct manager *m) {
        _cleanup_free_ char *errors = NULL;
        struct control_options control_opts;
        struct nextup_config *c = NULL;
        struct captions *caps = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)(aclock_now_ns() / 1000));
        log_info("Reloading '%s'", m->config->path);
        f = open_memstream(&errors, &size);
        r = f ? config_load(m->config->path, f, &c) : -ENOMEM;
        if (f)
                fclose(f);
        if (r >= 0)
                r = make_captions(m, c, &caps);
        if (r < 0) {
                for (char *l = errors, *e; l && *l; l = e + 1) {
                        e = strchrnul(l, '\n');
                        log_error("%.*s", (int)(e - l), l);
                        if (!*e)
                                break;
                }
                log_error("Reload failed, keeping the old configuration");
                config_free(c);
                goto done;
        }
        if (!str_eq(c->output_driver, m->config->output_driver) ||
            !str_eq(c->output_file, m->config->output_file) || c->rate != m->config->rate ||
            c->channels != m->config->channels || !str_eq(c->control_socket, m->config->control_socket) ||
            !str_eq(c->http_listen, m->config->http_listen) ||
            c->http_max_clients != m->config->http_max_clients)
                log_notice("Output, control socket and http changes take effect at the next restart");
        log_set_max_level(c->log_level);
        /* The story on air keeps its sinks; the new ones take over at the next story. */
        captions_free(m->captions_next);
        m->captions_next = caps;
        if (!m->on_air) {
                captions_free(m->captions);
                m->captions = TAKE_PTR(m->captions_next);
        }
        reload_dropbox(m, c);
        control_opts = control_options_of(c);
        if (m->control && control_set_options(m->control, &control_opts) < 0)
                log_warning("Out of memory: the control socket keeps its old limits and allow-list");
        if (m->control && c->control_gid != m->config->control_gid) {
                /* control.group left out: the socket goes back to our own group */
                gid_t gid = c->control_gid != (gid_t)-1 ? c->control_gid : getegid();

                if (control_set_group(m->control, gid) > 0)
                        log_info("Control socket '%s' given to group %u", c->control_socket, (unsigned)gid);
        }
        config_free(m->config);
        m->config = c;
        manager_schedule_reload(m);
        set_playout_options(m);
        manager_filler_reload(m);
        manager_events_reload(m);
        log_info("Configuration reloaded");
done:
        sd_notify(false, "READY=1");
        free(m->last_status);
        m->last_status = NULL;
        manager_update_status(m);
}

/* SIGHUP is also logrotate's postrotate: the sinks serving the story on
 * air keep their files until the story ends, so they reopen them now. */
static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;

        if (si->ssi_signo == SIGHUP) {
                reload(m);
                (void)manager_reopen(m);
                return 0;
        }
        log_info("Received %s, stopping", strsignal((int)si->ssi_signo));
        sd_notify(false, "STOPPING=1");
        return sd_event_exit(m->event, 0);
}

/* ---- set-up ---------------------------------------------------------- */

static int open_output(struct manager *m, struct output **ret) {
        struct output_spec spec = {
                .driver = m->config->output_driver,
                .file = m->config->output_file,
                .options = m->config->output_options,
                .n_options = m->config->n_output_options,
                .rate = m->config->rate,
                .channels = m->config->channels,
                .fallback_null = m->config->output_fallback_null,
        };
        int r = output_open(&spec, ret);

        if (r < 0)
                return log_error_errno(r, "Cannot open the audio output '%s': %m", spec.driver);
        m->output_driver = output_driver_name(*ret);
        log_info("Output: %s%s, %d Hz, %d channel%s", m->output_driver,
                 output_is_paced(*ret) ? " (paced)" : "", spec.rate, spec.channels,
                 spec.channels > 1 ? "s" : "");
        return 0;
}

static void queue_startup(struct manager *m) {
        for (size_t i = 0; i < m->config->n_startup; i++) {
                _cleanup_free_ char *error = NULL;
                struct story *s;

                if (manager_enqueue(m, m->config->startup[i].audio, m->config->startup[i].transcript,
                                    queue_size(m->queue), NULL, &s, &error) < 0)
                        log_error("%s:startup[%zu]: %s, skipping", m->config->path, i,
                                  error ? error : "out of memory");
        }
}

static int add_sources(struct manager *m) {
        uint64_t now;
        int r;

        r = sd_event_add_io(m->event, &m->playout_source, playout_event_fd(m->playout), EPOLLIN,
                            on_playout_event, m);
        if (r < 0)
                return r;
        for (int sig = SIGHUP; sig <= SIGTERM; sig++)
                if (sig == SIGHUP || sig == SIGINT || sig == SIGTERM) {
                        r = sd_event_add_signal(m->event, NULL, sig, on_signal, m);
                        if (r < 0)
                                return r;
                }
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        r = sd_event_add_time(m->event, &m->status_source, CLOCK_MONOTONIC, now + 1000000, 10000,
                              on_status_timer, m);
        if (r < 0)
                return r;
        sd_event_source_set_enabled(m->status_source, SD_EVENT_ON);
        if (sd_watchdog_enabled(false, &m->watchdog_usec) > 0) {
                r = sd_event_add_time(m->event, &m->watchdog_source, CLOCK_MONOTONIC,
                                      now + m->watchdog_usec / 2, m->watchdog_usec / 20, on_watchdog_timer,
                                      m);
                if (r < 0)
                        return r;
                sd_event_source_set_enabled(m->watchdog_source, SD_EVENT_ON);
        }
        return 0;
}

int manager_new(struct nextup_config *config, bool exit_idle, struct manager **ret) {
        struct manager *m = calloc(1, sizeof *m);
        struct control_options control_opts;
        struct output *out = NULL;
        int r;

        if (!m) {
                config_free(config);
                return -ENOMEM;
        }
        m->update_cue = update_cue;
        m->update_hard = manager_cue_sync_hard;
        m->update_status = update_status;
        m->find_story = manager_cue_find;
        m->config = config;
        m->exit_idle = exit_idle;
        m->started_ns = aclock_now_ns();
        r = fileio_mkdir_p(config->state_dir, 0755);
        if (r < 0)
                log_warning_errno(r,
                                  "Cannot create the state directory '%s': %m, "
                                  "the queue, timing cache and as-run log cannot be saved",
                                  config->state_dir);

        r = manager_cue_start(m);
        if (r < 0)
                goto fail;
        r = sd_event_default(&m->event);
        if (r < 0)
                goto fail;
        r = queue_new(&m->queue);
        if (r < 0)
                goto fail;
        r = aclock_new(&m->clock);
        if (r < 0)
                goto fail;
        r = manager_http_start(m, manager_status_json); /* before the captions: the SSE sink feeds it */
        if (r < 0)
                goto fail;
        r = make_captions(m, config, &m->captions);
        if (r < 0)
                goto fail;
        r = open_output(m, &out);
        if (r < 0)
                goto fail;
        r = playout_start(out, m->clock, config->rate, config->channels, &m->playout);
        if (r < 0) {
                output_free(out);
                goto fail;
        }
        set_playout_options(m);
        r = worker_new(m->event, manager_ingest_done, m, &m->worker);
        if (r < 0)
                goto fail;
        /* Alignments on their own threads: a slow or stuck one (bounded by
         * its timeout) holds up neither scans nor the next alignment. */
        r = worker_new_pool(m->event, 2, manager_ingest_done, m, &m->align_worker);
        if (r < 0)
                goto fail;
        (void)make_dropbox(m, config, &m->dropbox); /* the air does not depend on it */
        control_opts = control_options_of(config);
        r = control_new(m->event, &control_opts, manager_handle_request, m, &m->control);
        if (r < 0)
                goto fail; /* control_new said why */
        r = control_set_group(m->control, config->control_gid);
        if (r < 0)
                goto fail;
        r = manager_events_start(m);
        if (r < 0)
                goto fail;
        r = add_sources(m);
        if (r < 0)
                goto fail;
        r = manager_schedule_start(m); /* before the state's restore: it saves the schedule */
        if (r < 0)
                goto fail;
        r = manager_persist_start(m, manager_enqueue_restored, manager_schedule_state, m);
        if (r < 0)
                goto fail;
        manager_schedule_restore(m);
        if (r == 0)
                queue_startup(m);    /* only on a first start: else the saved queue is the truth */
        r = manager_filler_start(m); /* after the queue: filler only when it is empty */
        if (r < 0)
                goto fail;
        *ret = m;
        return 0;
fail:
        manager_free(m);
        return r;
}

int manager_run(struct manager *m) {
        manager_update_status(m);
        /* Honest READY=1: the device is open and the playout thread runs. */
        sd_notify(false, "READY=1");
        log_info("nextupd ready, control socket '%s'", m->config->control_socket);
        maybe_exit_idle(m);
        return sd_event_loop(m->event);
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        manager_persist_stop(m);  /* first: the last checkpoint reads the clock */
        manager_events_stop(m);   /* the on-air story's as-run record: playout_stop drops its ENDED */
        manager_schedule_stop(m); /* after the last checkpoint, which saves the schedule */
        m->playout_source = sd_event_source_unref(m->playout_source);
        m->watchdog_source = sd_event_source_unref(m->watchdog_source);
        m->status_source = sd_event_source_unref(m->status_source);
        m->dropbox = dropbox_free(m->dropbox); /* before the queue: no take() from here on */
        manager_acks_free(m);                  /* unanswered: the clients see the socket close */
        m->control = control_free(m->control); /* NULL: checks finishing below answer no one */
        worker_free(m->worker);                /* its done() may still queue alignments... */
        worker_free(m->align_worker);          /* ...which are cancelled here, helpers killed */
        m->playout = playout_stop(m->playout);
        manager_filler_stop(m);
        if (m->on_air && m->captions)
                captions_story_ended(m->captions, m->on_air);
        story_free(m->on_air);
        captions_free(m->captions);
        captions_free(m->captions_next);
        manager_http_stop(m); /* after the captions: their SSE sink points at it */
        queue_free(m->queue);
        manager_events_free(m);
        aclock_free(m->clock);
        sd_event_unref(m->event);
        manager_cue_stop(m);
        config_free(m->config);
        free(m->last_status);
        free(m->last_alert);
        free(m);
        return NULL;
}

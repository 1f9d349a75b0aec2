/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-commands.c: the control protocol's commands (docs/interfaces.md),
 * each a function from a request to a reply. */
#include "manager-commands.h"
#include "manager-acks.h"
#include "manager-events.h"
#include "manager-ingest.h"
#include "manager-internal.h"
#include "manager-persist.h"
#include "manager-schedule.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "aclock.h"
#include "align.h"
#include "cache.h"
#include "captions.h"
#include "cleanup.h"
#include "config.h"
#include "control.h"
#include "decoder.h"
#include "json-util.h"
#include "log.h"
#include "output.h"
#include "playout.h"
#include "queue.h"
#include "segment.h"
#include "sink.h"
#include "timing.h"
#include "transcript.h"
#include "worker.h"

/* ---- control commands ------------------------------------------------ */

/* An id or position of a request: an exact integer in range, or an error
 * reply saying which field and why (issue 8: "7x", 1e99, -1, 2^64). */
static struct json_object *get_index(struct json_object *req, const char *cmd, const char *key,
                                     int64_t *ret) {
        const char *why;
        uint64_t v;

        if (control_get_uint(req, key, CONTROL_UINT_MAX, &v, &why) < 0)
                return control_error("'%s': \"%s\" %s (0..%" PRIu64 ")", cmd, key, why, CONTROL_UINT_MAX);
        *ret = (int64_t)v;
        return NULL;
}

/* P as the as-run log keeps it. */
static void story_peer_set(struct story_peer *ret, const struct control_peer *p) {
        *ret = (struct story_peer){.known = true, .uid = (unsigned)p->uid, .pid = (int)p->pid};
        snprintf(ret->user, sizeof ret->user, "%s", p->user);
}

/* Who changed the air, with the id of what changed (NULL: none). */
static void log_change(const char *cmd, struct json_object *id, const struct control_peer *peer) {
        /* only integers: a string from the client could forge a log line */
        if (id && !json_object_is_type(id, json_type_int))
                id = NULL;
        log_info("Control: '%s'%s%s by user %s (uid %u, pid %d)", cmd, id ? " #" : "",
                 id ? json_object_get_string(id) : "", peer->user, (unsigned)peer->uid, (int)peer->pid);
}

/* An add or insert whose story is queued, waiting for its save. */
struct add_pending {
        struct control_conn *conn; /* referenced */
        struct json_object *reply; /* sent once saved */
        const char *cmd;           /* static */
        uint64_t id;
};

/* The save of a queued story is done: it airs and the client hears "ok";
 * or it is taken back out and the client hears why. (Taken back only
 * when still queued: on a save that failed as it went on air it stays
 * there, unsaved, and the checkpoint timer saves it when the disk lets.) */
static void add_saved(struct manager *m, int r, const char *error, void *userdata) {
        struct add_pending *a = userdata;
        struct story *s = queue_find(m->queue, a->id, NULL);
        struct json_object *reply = TAKE_PTR(a->reply);

        if (r < 0) {
                if (s)
                        story_free(queue_take(m->queue, a->id));
                json_object_put(reply);
                reply = control_error("%s", error);
        } else {
                if (s)
                        log_info("Queued #%llu '%s'", (unsigned long long)s->id, s->title);
                log_change(a->cmd, json_object_object_get(reply, "id"), control_conn_peer(a->conn));
        }
        m->peer = control_conn_peer(a->conn); /* queue_changed says who */
        manager_update_cue(m);
        manager_update_status(m);
        m->peer = NULL;
        control_conn_reply(a->conn, reply); /* last: it may let the client's next request in */
        control_conn_unref(a->conn);
        free(a);
}

/* add/insert, once the worker has checked the story: queued, saved on
 * the saver thread (the loop never waits on the disk), then answered
 * (the position of insert is taken now, against the queue as it is). */
static struct story *add_checked(struct manager *m, struct control_conn *conn, struct json_object *req,
                                 struct story *s, const char *why) {
        _cleanup_free_ char *error = NULL;
        const char *cmd = json_get_str(req, "cmd");
        struct add_pending *a;
        int64_t pos = (int64_t)queue_size(m->queue);
        uint64_t id;
        int r;

        if (!s) {
                control_conn_reply(conn, control_error("%s", why));
                return NULL;
        }
        if (strcmp(cmd, "insert") == 0)
                (void)get_index(req, "insert", "position", &pos); /* checked before */
        a = calloc(1, sizeof *a);
        if (!a) {
                story_free(s);
                control_conn_reply(conn, control_error("'%s' failed: %s", cmd, strerror(ENOMEM)));
                return NULL;
        }
        story_peer_set(&s->queued_by, control_conn_peer(conn));
        r = manager_enqueue_checked(m, s, (size_t)pos);
        if (r < 0) {
                free(a);
                control_conn_reply(conn, control_error("'%s' failed: %s", cmd, strerror(-r)));
                return NULL;
        }
        id = s->id;
        *a = (struct add_pending){.conn = control_conn_ref(conn),
                                  .reply = control_ok(),
                                  .cmd = strcmp(cmd, "insert") == 0 ? "insert" : "add",
                                  .id = id};
        json_object_object_add(a->reply, "id", json_object_new_int64((int64_t)id));
        json_object_object_add(a->reply, "title", json_object_new_string(s->title));
        json_object_object_add(a->reply, "position", json_object_new_int64(r));
        if (manager_persist_save_then(m, add_saved, a, &error) < 0) {
                story_free(queue_take(m->queue, id));
                control_conn_reply(conn, control_error("%s", error ? error : strerror(ENOMEM)));
                json_object_put(a->reply);
                control_conn_unref(a->conn);
                free(a);
                return NULL;
        }
        return manager_find_story(m, id);
}

/* The story is checked on the worker (its files, a full decode, its
 * transcript against its length) and the reply waits for that: a client
 * learns at once why a story cannot air, and the loop never waits. */
static struct json_object *cmd_add(struct manager *m, struct control_conn *conn, struct json_object *req,
                                   bool insert) {
        const char *audio = json_get_str(req, "audio"), *transcript = json_get_str(req, "transcript");
        struct json_object *bad;
        int64_t pos = 0;
        int r;

        if (!audio || !transcript)
                return control_error("'%s' needs string fields \"audio\" and \"transcript\"",
                                     insert ? "insert" : "add");
        if (insert && (bad = get_index(req, "insert", "position", &pos)))
                return bad;
        if (audio[0] != '/' || transcript[0] != '/')
                return control_error("audio and transcript must be absolute paths");
        r = manager_check_story(m, conn, req, audio, transcript, add_checked);
        if (r < 0)
                return control_error("'%s' failed: %s", insert ? "insert" : "add", strerror(-r));
        return CONTROL_REPLY_LATER;
}

/* ---- remove, move, clear, skip: changed, saved, then answered --------
 *
 * The change is made in memory at once, saved on the saver thread
 * (manager_persist_save_then: the loop never waits on the disk) and
 * answered once it is on disk; when the save fails it is undone and the
 * client hears why. Meanwhile anything may happen on the loop: other
 * clients' changes (each saved in turn after this one), a story ending,
 * shutdown (-ECANCELED). So the undo only puts back what is still ours:
 * removed and cleared stories are held here, out of reach, until the
 * save is done, and go back near where they were; a move is moved back
 * only while the story is still queued, and a later move of it still
 * being saved inherits the place to go back to (so that two refused
 * moves end where the first began); a skip goes to the playout thread
 * only once the story is saved as gone, and only while it is on air. */
struct manager_change {
        struct manager_change *next; /* m->changes, oldest first */
        struct control_conn *conn;   /* referenced */
        const char *cmd;             /* static */
        bool log_id;                 /* the change is logged with ID */
        uint64_t id;                 /* remove, move, skip: the story */
        size_t index;                /* remove, move: where the story was */
        struct story **taken;        /* remove, clear: held until saved */
        size_t n_taken;
};

static struct manager_change *change_new(struct manager *m, struct control_conn *conn, const char *cmd) {
        struct manager_change *c = calloc(1, sizeof *c), **tail = &m->changes;

        if (!c)
                return NULL;
        while (*tail)
                tail = &(*tail)->next;
        *c = (struct manager_change){.conn = control_conn_ref(conn), .cmd = cmd};
        *tail = c;
        return c;
}

static void change_free(struct manager *m, struct manager_change *c) {
        for (struct manager_change **p = &m->changes; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        for (size_t i = 0; i < c->n_taken; i++)
                story_free(c->taken[i]);
        free(c->taken);
        control_conn_unref(c->conn);
        free(c);
}

/* Asks for C's save: SAVED answers it later. When the save cannot even
 * be asked for, SAVED undoes C and frees it now, and the refusal is the
 * reply (the connection is not held yet: nothing could be sent to it). */
static struct json_object *change_save(struct manager *m, struct manager_change *c, manager_saved_fn saved,
                                       uint64_t leaving_id) {
        _cleanup_free_ char *error = NULL;
        const char *why;
        int r;

        if (leaving_id)
                r = manager_persist_leave_then(m, leaving_id, saved, c, &error);
        else
                r = manager_persist_save_then(m, saved, c, &error);
        if (r >= 0)
                return CONTROL_REPLY_LATER;
        why = error ? error : "cannot save the state; nothing was changed";
        control_conn_unref(TAKE_PTR(c->conn));
        saved(m, r, why, c);
        return control_error("%s", why);
}

/* The stories C holds go back into the queue from INDEX on, in order. */
static void put_back(struct manager *m, struct manager_change *c, size_t index) {
        for (size_t i = 0; i < c->n_taken; i++) {
                struct story *s = c->taken[i];
                size_t at = MIN(index + i, queue_size(m->queue));

                if (queue_insert_with_id(m->queue, at, s) < 0) {
                        log_error("Cannot put #%llu '%s' back in the queue (out of memory), dropping it",
                                  (unsigned long long)s->id, s->title);
                        story_free(s);
                }
        }
        c->n_taken = 0;
}

/* The end of C: refused with ERROR when R < 0, else logged with who gave
 * it and answered with REPLY (CONTROL_REPLY_LATER: an ack answers); the
 * air re-cued either way, with the client as the one who changed it. */
static void change_done(struct manager *m, struct manager_change *c, int r, const char *error,
                        struct json_object *reply) {
        const struct control_peer *peer = c->conn ? control_conn_peer(c->conn) : NULL;

        if (r < 0) {
                json_object_put(reply);
                reply = control_error("%s", error);
        } else if (peer) {
                struct json_object *id = c->log_id ? json_object_new_int64((int64_t)c->id) : NULL;

                log_change(c->cmd, id, peer);
                json_object_put(id);
        }
        m->peer = peer; /* queue_changed says who */
        manager_update_cue(m);
        manager_update_status(m);
        m->peer = NULL;
        if (reply == CONTROL_REPLY_LATER)
                ;
        else if (c->conn)
                control_conn_reply(c->conn, reply); /* it may let the client's next request in */
        else
                json_object_put(reply); /* refused at once: change_save answers */
        change_free(m, c);
}

static void remove_saved(struct manager *m, int r, const char *error, void *userdata) {
        struct manager_change *c = userdata;

        if (r < 0)
                put_back(m, c, c->index);
        else
                log_info("Removed #%llu '%s' from the queue", (unsigned long long)c->id, c->taken[0]->title);
        change_done(m, c, r, error, control_ok());
}

/* Saved as gone: now the playout thread ends it, and the client hears
 * "ok" when it has (its ENDED); it may have ended by itself meanwhile.
 * A story another skip is ending already (ended_by set) is not skipped
 * again: the second skip would end the story after it. */
static void leave_saved(struct manager *m, int r, const char *error, void *userdata) {
        struct manager_change *c = userdata;
        struct json_object *reply = NULL;

        if (r >= 0 && c->conn && m->on_air && m->on_air->id == c->id) {
                int k = m->on_air->ended_by.known ? 0 : playout_skip(m->playout);

                if (k < 0) /* saved as gone all the same: it is not resumed */
                        reply = control_error("'%s' failed: %s", c->cmd, strerror(-k));
                else {
                        if (!m->on_air->ended_by.known)
                                story_peer_set(&m->on_air->ended_by, control_conn_peer(c->conn));
                        reply = manager_ack_later(m, c->conn, MANAGER_ACK_SKIP, c->id);
                }
        }
        change_done(m, c, r, error, reply ? reply : control_ok());
}

/* Skip or remove the story on air: saved as gone first, so that a crash
 * right after the reply cannot bring it back. */
static struct json_object *end_on_air(struct manager *m, struct control_conn *conn, const char *cmd,
                                      bool log_id) {
        struct manager_change *c = change_new(m, conn, cmd);

        if (!c)
                return control_error("'%s' failed: %s", cmd, strerror(ENOMEM));
        c->id = m->on_air->id;
        c->log_id = log_id;
        return change_save(m, c, leave_saved, c->id);
}

static struct json_object *cmd_remove(struct manager *m, struct control_conn *conn,
                                      struct json_object *req) {
        struct manager_change *c;
        struct json_object *bad;
        int64_t id = 0;
        size_t index;

        if ((bad = get_index(req, "remove", "id", &id)))
                return bad;
        if (m->on_air && m->on_air->id == (uint64_t)id)
                return end_on_air(m, conn, "remove", true);
        if (!queue_find(m->queue, (uint64_t)id, &index))
                return control_error("no story #%lld in the queue", (long long)id);
        c = change_new(m, conn, "remove");
        if (c)
                c->taken = calloc(1, sizeof *c->taken);
        if (!c || !c->taken) {
                if (c)
                        change_free(m, c);
                return control_error("'remove' failed: %s", strerror(ENOMEM));
        }
        c->id = (uint64_t)id;
        c->log_id = true;
        c->index = index;
        c->taken[0] = queue_take(m->queue, (uint64_t)id);
        c->n_taken = 1;
        manager_update_cue(m); /* not started while its removal is being saved */
        return change_save(m, c, remove_saved, 0);
}

/* A later move of the same story still being saved, or NULL. */
static struct manager_change *later_move(struct manager_change *c) {
        for (struct manager_change *o = c->next; o; o = o->next)
                if (o->id == c->id && strcmp(o->cmd, "move") == 0)
                        return o;
        return NULL;
}

static void move_saved(struct manager *m, int r, const char *error, void *userdata) {
        struct manager_change *c = userdata, *later;

        if (r < 0) {
                if ((later = later_move(c)))
                        later->index = c->index; /* it goes back to where this one began */
                else
                        (void)queue_move(m->queue, c->id, c->index); /* -ENOENT: aired or removed since */
        }
        change_done(m, c, r, error, control_ok());
}

static struct json_object *cmd_move(struct manager *m, struct control_conn *conn, struct json_object *req) {
        struct manager_change *c;
        struct json_object *bad;
        int64_t id = 0, pos = 0;
        size_t from = 0;
        int r;

        if ((bad = get_index(req, "move", "id", &id)) || (bad = get_index(req, "move", "position", &pos)))
                return bad;
        if (!queue_find(m->queue, (uint64_t)id, &from))
                return control_error("no story #%lld in the queue", (long long)id);
        c = change_new(m, conn, "move");
        if (!c)
                return control_error("'move' failed: %s", strerror(ENOMEM));
        r = queue_move(m->queue, (uint64_t)id, (size_t)pos);
        if (r < 0) {
                change_free(m, c);
                return control_error("cannot move #%lld: %s", (long long)id, strerror(-r));
        }
        c->id = (uint64_t)id;
        c->log_id = true;
        c->index = from;
        /* Not re-cued for the move until it is saved (anything else that
         * re-cues meanwhile sees the queue as moved). */
        return change_save(m, c, move_saved, 0);
}

static struct json_object *cmd_list(struct manager *m) {
        struct json_object *reply = control_ok(), *arr = json_object_new_array();

        json_object_object_add(reply, "on_air", m->on_air ? story_to_json(m->on_air) : NULL);
        for (size_t i = 0; i < queue_size(m->queue); i++)
                json_object_array_add(arr, story_to_json(queue_get(m->queue, i)));
        json_object_object_add(reply, "queue", arr);
        return reply;
}

static const char *state_name(enum air_state s) {
        return s == AIR_PLAYING ? "playing" : s == AIR_PAUSED ? "paused" : "idle";
}

/* When frame 0 of the story on air was handed to the device (CLOCK_MONOTONIC
 * µs, as on_air_mono_us in the jsonl sink), or -1: what `nextupctl
 * calibrate` compares with the moment its marker is heard. */
static int64_t on_air_mono_us(struct manager *m) {
        struct aclock_sample s;

        if (!m->on_air)
                return -1;
        aclock_read(m->clock, &s);
        if (s.item_id != m->on_air->id || s.rate <= 0)
                return -1;
        return (int64_t)(aclock_media_to_mono(&s, 0, 0) / 1000);
}

#ifndef NEXTUP_VERSION
#define NEXTUP_VERSION "unknown"
#endif

/* Wall-clock ms when what is on air and queued would have played out, or
 * -1 when a length is not known yet. Paused: as if resumed now. */
static int64_t queue_end_ms(struct manager *m) {
        struct timespec ts;
        int64_t left = 0;

        if (m->on_air) {
                if (m->on_air->duration_ms < 0)
                        return -1;
                left = MAX(m->on_air->duration_ms - manager_position_ms(m), 0);
        }
        for (size_t i = 0; i < queue_size(m->queue); i++) {
                const struct story *s = queue_get(m->queue, i);

                if (s->duration_ms < 0)
                        return -1;
                left += s->duration_ms + m->config->gap_ms;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + left;
}

/* The daemon's own state for `nextupctl status`: version, uptime, the
 * output and the last alert. */
static void status_add_daemon(struct manager *m, struct json_object *reply) {
        struct json_object *alert = NULL;
        int64_t end = queue_end_ms(m);

        json_object_object_add(reply, "version", json_object_new_string(NEXTUP_VERSION));
        json_object_object_add(
                reply, "uptime_ms",
                json_object_new_int64((int64_t)((aclock_now_ns() - m->started_ns) / 1000000)));
        json_object_object_add(reply, "queue_end_ms", end >= 0 ? json_object_new_int64(end) : NULL);
        json_object_object_add(reply, "output_state",
                               json_object_new_string(m->output_down ? "down" : "up"));
        if (m->last_alert) {
                alert = json_object_new_object();
                json_object_object_add(alert, "message", json_object_new_string(m->last_alert));
                json_object_object_add(alert, "time_ms", json_object_new_int64(m->last_alert_ms));
        }
        json_object_object_add(reply, "last_alert", alert);
}

struct json_object *manager_status_json(struct manager *m) {
        struct json_object *reply = control_ok();
        struct story *next = queue_get(m->queue, 0);

        json_object_object_add(reply, "state", json_object_new_string(state_name(m->state)));
        json_object_object_add(reply, "on_air", m->on_air ? story_to_json(m->on_air) : NULL);
        json_object_object_add(reply, "position_ms", json_object_new_int64(manager_position_ms(m)));
        json_object_object_add(reply, "next", next ? story_to_json(next) : NULL);
        json_object_object_add(reply, "queue_length", json_object_new_int64((int64_t)queue_size(m->queue)));
        json_object_object_add(reply, "output", json_object_new_string(m->output_driver));
        json_object_object_add(reply, "on_air_mono_us", json_object_new_int64(on_air_mono_us(m)));
        status_add_daemon(m, reply);
        return reply;
}

static void clear_saved(struct manager *m, int r, const char *error, void *userdata) {
        struct manager_change *c = userdata;

        if (r < 0)
                put_back(m, c, 0); /* ahead of what came in since: they were first */
        else
                log_info("Queue cleared");
        change_done(m, c, r, error, control_ok());
}

/* All or nothing: the stories are held until the empty queue is saved. */
static struct json_object *cmd_clear(struct manager *m, struct control_conn *conn) {
        struct manager_change *c = change_new(m, conn, "clear");
        size_t n = queue_size(m->queue);

        if (c)
                c->taken = calloc(n ? n : 1, sizeof *c->taken);
        if (!c || !c->taken) {
                if (c)
                        change_free(m, c);
                return control_error("'clear' failed: %s", strerror(ENOMEM));
        }
        for (size_t i = 0; i < n; i++)
                c->taken[i] = queue_pop(m->queue);
        c->n_taken = n;
        manager_update_cue(m); /* none of them starts while the clear is being saved */
        return change_save(m, c, clear_saved, 0);
}

static struct json_object *simple_cmd(struct manager *m, struct control_conn *conn, const char *cmd) {
        bool pause = strcmp(cmd, "pause") == 0;
        int r;

        if (strcmp(cmd, "skip") == 0) {
                if (!m->on_air)
                        return control_error("nothing on air to skip");
                return end_on_air(m, conn, "skip", false);
        }
        if (strcmp(cmd, "clear") == 0)
                return cmd_clear(m, conn);
        if (strcmp(cmd, "reopen") == 0) {
                size_t failed = manager_reopen(m);

                if (failed > 0)
                        return control_error("%zu caption sink(s) could not reopen their files, see the "
                                             "daemon's log",
                                             failed);
                return control_ok();
        }
        if (!pause && strcmp(cmd, "resume") != 0)
                return NULL;
        r = pause ? playout_pause(m->playout) : playout_resume(m->playout);
        if (r < 0)
                return control_error("'%s' failed: %s", cmd, strerror(-r));
        if (pause == m->paused_target)
                return control_ok(); /* already so: the thread will post nothing */
        m->paused_target = pause;
        return manager_ack_later(m, conn, pause ? MANAGER_ACK_PAUSE : MANAGER_ACK_RESUME, 0);
}

static struct json_object *dispatch(struct manager *m, struct control_conn *conn, struct json_object *req,
                                    const char *cmd) {
        struct json_object *reply;

        if (strcmp(cmd, "add") == 0)
                return cmd_add(m, conn, req, false);
        if (strcmp(cmd, "insert") == 0)
                return cmd_add(m, conn, req, true);
        if (strcmp(cmd, "remove") == 0)
                return cmd_remove(m, conn, req);
        if (strcmp(cmd, "move") == 0)
                return cmd_move(m, conn, req);
        if (strcmp(cmd, "list") == 0)
                return cmd_list(m);
        if (strcmp(cmd, "status") == 0)
                return manager_status_json(m);
        if (strcmp(cmd, "asrun") == 0)
                return manager_cmd_asrun(m, req);
        if (strcmp(cmd, "at") == 0)
                return manager_cmd_at(m, conn, req);
        if (strcmp(cmd, "schedule") == 0)
                return manager_cmd_schedule(m, req);
        if (strcmp(cmd, "unschedule") == 0)
                return manager_cmd_unschedule(m, conn, req);
        if (strcmp(cmd, "subscribe") == 0) {
                control_conn_subscribe(conn);
                return control_ok();
        }
        reply = simple_cmd(m, conn, cmd);
        if (reply)
                return reply;
        return control_error("unknown command '%.64s' (add, insert, remove, move, list, status, skip, "
                             "pause, resume, clear, reopen, asrun, subscribe, at, schedule, unschedule)",
                             cmd);
}

/* Who changed the air: every accepted request that changes the queue, the
 * schedule or the playout is logged with the peer's user (SO_PEERCRED).
 * Those answered once saved (add, insert and at also once checked) are
 * logged when they are. */
static bool changes_air(const char *cmd) {
        static const char *const v[] = {"add",   "insert", "remove", "move", "skip",
                                        "pause", "resume", "clear",  "at",   "unschedule"};

        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                if (strcmp(cmd, v[i]) == 0)
                        return true;
        return false;
}

/* Answered once checked and saved: logged then, by whoever answers. */
static bool logged_later(const char *cmd) {
        static const char *const v[] = {"add",  "insert", "at",   "remove",
                                        "move", "clear",  "skip", "unschedule"};

        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                if (strcmp(cmd, v[i]) == 0)
                        return true;
        return false;
}

struct json_object *manager_handle_request(struct control_conn *conn, struct json_object *req,
                                           void *userdata) {
        struct manager *m = userdata;
        const struct control_peer *peer = control_conn_peer(conn);
        const char *cmd = json_get_str(req, "cmd");
        struct json_object *reply, *ok, *id = NULL;
        bool later;

        if (!cmd)
                return control_error("request needs a string \"cmd\"");
        m->peer = peer;
        reply = dispatch(m, conn, req, cmd);
        m->peer = NULL;
        /* CONTROL_REPLY_LATER is no JSON value: the command was accepted
         * (pause, resume handed to the playout) and is logged as such. */
        later = reply == CONTROL_REPLY_LATER;
        if (later && logged_later(cmd))
                return reply;
        if (changes_air(cmd) &&
            (later || (json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok)))) {
                if (later)
                        (void)json_object_object_get_ex(req, "id", &id);
                else if (!json_object_object_get_ex(reply, "id", &id) &&
                         !json_object_object_get_ex(req, "id", &id))
                        (void)json_object_object_get_ex(reply, "event", &id);
                log_change(cmd, id, peer);
        }
        return reply;
}

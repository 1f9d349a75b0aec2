/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-commands.c: the control protocol's commands (docs/interfaces.md),
 * each a function from a request to a reply. */
#include "manager-internal.h"
#include "manager-events.h"
#include "manager-persist.h"

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

/* A queue index: -EINVAL absent or not an integer, -ERANGE negative. */
static int json_get_index(struct json_object *req, const char *key, int64_t *ret) {
        int64_t v;

        if (json_get_int(req, key, &v) <= 0)
                return -EINVAL;
        if (v < 0)
                return -ERANGE;
        *ret = v;
        return 0;
}

static struct json_object *cmd_add(struct manager *m, struct json_object *req, bool insert) {
        _cleanup_free_ char *error = NULL;
        const char *audio = json_get_str(req, "audio"), *transcript = json_get_str(req, "transcript");
        struct json_object *reply;
        struct story *s;
        int64_t pos = (int64_t)queue_size(m->queue);
        int r;

        if (!audio || !transcript)
                return control_error("'%s' needs string fields \"audio\" and \"transcript\"",
                                     insert ? "insert" : "add");
        if (insert && json_get_index(req, "position", &pos) < 0)
                return control_error("'insert' needs \"position\": a non-negative integer (0 = next up)");
        r = manager_enqueue_durable(m, audio, transcript, (size_t)pos, &s, &error);
        if (r < 0)
                return control_error("%s", error ? error : strerror(-r));
        reply = control_ok();
        json_object_object_add(reply, "id", json_object_new_int64((int64_t)s->id));
        json_object_object_add(reply, "title", json_object_new_string(s->title));
        json_object_object_add(reply, "position", json_object_new_int64(r));
        return reply;
}

/* The reply when a change could not be saved (it has been undone). */
static struct json_object *not_saved(const char *error) {
        return control_error("%s", error ? error : "cannot save the state; nothing was changed");
}

/* Skip or remove the story on air: saved as gone first, so that a crash
 * right after the reply cannot bring it back. */
static struct json_object *end_on_air(struct manager *m) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (manager_persist_save_leaving(m, m->on_air->id, &error) < 0)
                return not_saved(error);
        r = playout_skip(m->playout);
        return r < 0 ? control_error("'skip' failed: %s", strerror(-r)) : control_ok();
}

static struct json_object *cmd_remove(struct manager *m, struct json_object *req) {
        _cleanup_free_ char *error = NULL;
        int64_t id;
        size_t index;
        struct story *s;

        if (json_get_index(req, "id", &id) < 0)
                return control_error("'remove' needs \"id\": a story id");
        if (m->on_air && m->on_air->id == (uint64_t)id)
                return end_on_air(m);
        if (!queue_find(m->queue, (uint64_t)id, &index))
                return control_error("no story #%lld in the queue", (long long)id);
        s = queue_take(m->queue, (uint64_t)id);
        if (manager_persist_save(m, &error) < 0) {
                (void)queue_insert_with_id(m->queue, index, s); /* its slot is still allocated */
                return not_saved(error);
        }
        log_info("Removed #%lld '%s' from the queue", (long long)id, s->title);
        story_free(s);
        manager_update_cue(m);
        manager_update_status(m);
        return control_ok();
}

static struct json_object *cmd_move(struct manager *m, struct json_object *req) {
        _cleanup_free_ char *error = NULL;
        int64_t id, pos;
        size_t from = 0;
        int r;

        if (json_get_index(req, "id", &id) < 0 || json_get_index(req, "position", &pos) < 0)
                return control_error("'move' needs \"id\" and \"position\": non-negative integers");
        (void)queue_find(m->queue, (uint64_t)id, &from);
        r = queue_move(m->queue, (uint64_t)id, (size_t)pos);
        if (r == -ENOENT)
                return control_error("no story #%lld in the queue", (long long)id);
        if (r < 0)
                return control_error("cannot move #%lld: %s", (long long)id, strerror(-r));
        if (manager_persist_save(m, &error) < 0) {
                (void)queue_move(m->queue, (uint64_t)id, from);
                return not_saved(error);
        }
        manager_update_cue(m);
        manager_update_status(m);
        return control_ok();
}

static struct json_object *cmd_list(struct manager *m) {
        struct json_object *reply = control_ok(), *arr = json_object_new_array();

        json_object_object_add(reply, "on_air", m->on_air ? story_to_json(m->on_air) : NULL);
        for (size_t i = 0; i < queue_size(m->queue); i++)
                json_object_array_add(arr, story_to_json(queue_get(m->queue, i)));
        json_object_object_add(reply, "queue", arr);
        return reply;
}

const char *manager_state_name(enum air_state s) {
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

static struct json_object *cmd_status(struct manager *m) {
        struct json_object *reply = control_ok();
        struct story *next = queue_get(m->queue, 0);

        json_object_object_add(reply, "state", json_object_new_string(manager_state_name(m->state)));
        json_object_object_add(reply, "on_air", m->on_air ? story_to_json(m->on_air) : NULL);
        json_object_object_add(reply, "position_ms", json_object_new_int64(manager_position_ms(m)));
        json_object_object_add(reply, "next", next ? story_to_json(next) : NULL);
        json_object_object_add(reply, "queue_length", json_object_new_int64((int64_t)queue_size(m->queue)));
        json_object_object_add(reply, "output", json_object_new_string(m->output_driver));
        json_object_object_add(reply, "on_air_mono_us", json_object_new_int64(on_air_mono_us(m)));
        return reply;
}

/* All or nothing: the stories are held until the empty queue is saved. */
static struct json_object *cmd_clear(struct manager *m) {
        _cleanup_free_ char *error = NULL;
        _cleanup_free_ struct story **taken = NULL;
        size_t n = queue_size(m->queue);

        taken = calloc(n ? n : 1, sizeof *taken);
        if (!taken)
                return control_error("'clear' failed: %s", strerror(ENOMEM));
        for (size_t i = 0; i < n; i++)
                taken[i] = queue_pop(m->queue);
        if (manager_persist_save(m, &error) < 0) {
                for (size_t i = 0; i < n; i++)
                        (void)queue_insert_with_id(m->queue, i, taken[i]);
                return not_saved(error);
        }
        for (size_t i = 0; i < n; i++)
                story_free(taken[i]);
        manager_update_cue(m);
        manager_update_status(m);
        log_info("Queue cleared");
        return control_ok();
}

static struct json_object *simple_cmd(struct manager *m, const char *cmd) {
        int r = 0;

        if (strcmp(cmd, "skip") == 0) {
                if (!m->on_air)
                        return control_error("nothing on air to skip");
                return end_on_air(m);
        } else if (strcmp(cmd, "pause") == 0)
                r = playout_pause(m->playout);
        else if (strcmp(cmd, "resume") == 0)
                r = playout_resume(m->playout);
        else if (strcmp(cmd, "clear") == 0)
                return cmd_clear(m);
        else
                return NULL;
        if (r < 0)
                return control_error("'%s' failed: %s", cmd, strerror(-r));
        return control_ok();
}

struct json_object *manager_handle_request(struct control_conn *conn, struct json_object *req,
                                           void *userdata) {
        struct manager *m = userdata;
        const char *cmd = json_get_str(req, "cmd");
        struct json_object *reply;

        if (!cmd)
                return control_error("request needs a string \"cmd\"");
        if (strcmp(cmd, "add") == 0)
                return cmd_add(m, req, false);
        if (strcmp(cmd, "insert") == 0)
                return cmd_add(m, req, true);
        if (strcmp(cmd, "remove") == 0)
                return cmd_remove(m, req);
        if (strcmp(cmd, "move") == 0)
                return cmd_move(m, req);
        if (strcmp(cmd, "list") == 0)
                return cmd_list(m);
        if (strcmp(cmd, "status") == 0)
                return cmd_status(m);
        if (strcmp(cmd, "asrun") == 0)
                return manager_cmd_asrun(m, req);
        if (strcmp(cmd, "at") == 0)
                return manager_cmd_at(m, req);
        if (strcmp(cmd, "schedule") == 0)
                return manager_cmd_schedule(m, req);
        if (strcmp(cmd, "unschedule") == 0)
                return manager_cmd_unschedule(m, req);
        if (strcmp(cmd, "subscribe") == 0) {
                control_conn_subscribe(conn);
                return control_ok();
        }
        reply = simple_cmd(m, cmd);
        if (reply)
                return reply;
        return control_error("unknown command '%.64s' (add, insert, remove, move, list, status, skip, "
                             "pause, resume, clear, asrun, subscribe, at, schedule, unschedule)",
                             cmd);
}

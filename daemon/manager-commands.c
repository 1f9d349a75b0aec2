/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-commands.c: the control protocol's commands (docs/interfaces.md),
 * each a function from a request to a reply. */
#include "manager.h"
#include "manager-internal.h"

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
#include "log.h"
#include "output.h"
#include "playout.h"
#include "queue.h"
#include "segment.h"
#include "sink.h"
#include "timing.h"
#include "transcript.h"
#include "worker.h"

static struct json_object *story_to_json(const struct story *s) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "id", json_object_new_int64((int64_t) s->id));
        json_object_object_add(o, "title", json_object_new_string(s->title));
        json_object_object_add(o, "audio", json_object_new_string(s->audio_path));
        json_object_object_add(o, "transcript", json_object_new_string(s->transcript_path));
        json_object_object_add(o, "duration_ms", json_object_new_int64(s->duration_ms));
        json_object_object_add(o, "timing", json_object_new_string(timing_source_to_string(s->timing)));
        json_object_object_add(o, "cues", json_object_new_int64(s->cues ? (int64_t) s->cues->n_cues : 0));
        return o;
}

/* ---- control commands ------------------------------------------------ */

static int json_get_index(struct json_object *req, const char *key, int64_t *ret) {
        struct json_object *v;

        if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_int))
                return -EINVAL;
        if (json_object_get_int64(v) < 0)
                return -ERANGE;
        *ret = json_object_get_int64(v);
        return 0;
}

static const char *json_get_string(struct json_object *req, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(req, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static struct json_object *cmd_add(struct manager *m, struct json_object *req, bool insert) {
        _cleanup_free_ char *error = NULL;
        const char *audio = json_get_string(req, "audio"), *transcript = json_get_string(req, "transcript");
        struct json_object *reply;
        struct story *s;
        int64_t pos = (int64_t) queue_size(m->queue);
        int r;

        if (!audio || !transcript)
                return control_error("'%s' needs string fields \"audio\" and \"transcript\"",
                                     insert ? "insert" : "add");
        if (insert && json_get_index(req, "position", &pos) < 0)
                return control_error("'insert' needs \"position\": a non-negative integer (0 = next up)");
        r = manager_enqueue(m, audio, transcript, (size_t) pos, &s, &error);
        if (r < 0)
                return control_error("%s", error ? error : strerror(-r));
        reply = control_ok();
        json_object_object_add(reply, "id", json_object_new_int64((int64_t) s->id));
        json_object_object_add(reply, "title", json_object_new_string(s->title));
        json_object_object_add(reply, "position", json_object_new_int64(r));
        return reply;
}

static struct json_object *cmd_remove(struct manager *m, struct json_object *req) {
        int64_t id;
        struct story *s;

        if (json_get_index(req, "id", &id) < 0)
                return control_error("'remove' needs \"id\": a story id");
        if (m->on_air && m->on_air->id == (uint64_t) id) {
                playout_skip(m->playout);
                return control_ok();
        }
        s = queue_take(m->queue, (uint64_t) id);
        if (!s)
                return control_error("no story #%lld in the queue", (long long) id);
        log_info("Removed #%lld '%s' from the queue", (long long) id, s->title);
        story_free(s);
        manager_update_cue(m);
        manager_update_status(m);
        return control_ok();
}

static struct json_object *cmd_move(struct manager *m, struct json_object *req) {
        int64_t id, pos;
        int r;

        if (json_get_index(req, "id", &id) < 0 || json_get_index(req, "position", &pos) < 0)
                return control_error("'move' needs \"id\" and \"position\": non-negative integers");
        r = queue_move(m->queue, (uint64_t) id, (size_t) pos);
        if (r == -ENOENT)
                return control_error("no story #%lld in the queue", (long long) id);
        if (r < 0)
                return control_error("cannot move #%lld: %s", (long long) id, strerror(-r));
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

static struct json_object *cmd_status(struct manager *m) {
        struct json_object *reply = control_ok();
        struct story *next = queue_get(m->queue, 0);

        json_object_object_add(reply, "state", json_object_new_string(manager_state_name(m->state)));
        json_object_object_add(reply, "on_air", m->on_air ? story_to_json(m->on_air) : NULL);
        json_object_object_add(reply, "position_ms", json_object_new_int64(manager_position_ms(m)));
        json_object_object_add(reply, "next", next ? story_to_json(next) : NULL);
        json_object_object_add(reply, "queue_length", json_object_new_int64((int64_t) queue_size(m->queue)));
        json_object_object_add(reply, "output", json_object_new_string(m->output_driver));
        return reply;
}

static struct json_object *simple_cmd(struct manager *m, const char *cmd) {
        int r = 0;

        if (strcmp(cmd, "skip") == 0) {
                if (!m->on_air)
                        return control_error("nothing on air to skip");
                r = playout_skip(m->playout);
        } else if (strcmp(cmd, "pause") == 0)
                r = playout_pause(m->playout);
        else if (strcmp(cmd, "resume") == 0)
                r = playout_resume(m->playout);
        else if (strcmp(cmd, "clear") == 0) {
                queue_clear(m->queue);
                manager_update_cue(m);
                manager_update_status(m);
                log_info("Queue cleared");
        } else
                return NULL;
        if (r < 0)
                return control_error("'%s' failed: %s", cmd, strerror(-r));
        return control_ok();
}

struct json_object *manager_handle_request(struct json_object *req, void *userdata) {
        struct manager *m = userdata;
        const char *cmd = json_get_string(req, "cmd");
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
        reply = simple_cmd(m, cmd);
        if (reply)
                return reply;
        return control_error("unknown command '%.64s' (add, insert, remove, move, list, status, skip, "
                             "pause, resume, clear)", cmd);
}

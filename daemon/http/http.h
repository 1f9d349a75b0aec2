/* SPDX-License-Identifier: GPL-3.0-or-later */
/* http.h: the daemon's HTTP server (libmicrohttpd driven by the loop's
 * sd-event: never the playout thread): the caption page, the SSE caption
 * feed, /status, /stories/ID.vtt and /metrics. Loop thread only. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-event.h>

struct json_object;
struct sink;
struct sink_config;

/* What the server asks its owner for. */
struct http_handlers {
        /* The reply of `nextupctl status` (a new reference), NULL on ENOMEM. */
        struct json_object *(*status)(void *userdata);
        /* Writes the WebVTT of story ID; -ENOENT when no such story is known. */
        int (*story_vtt)(void *userdata, uint64_t id, FILE *f);
        /* Writes the owner's metrics in Prometheus text format, ending with the
         * HELP/TYPE of nextup_feed_clients and its samples: the server adds
         * its feed="sse" sample right after. */
        int (*metrics)(void *userdata, FILE *f);
        void *userdata;
};

struct http_server;

/* Listens on LISTEN ("HOST:PORT", see netaddr.h) with at most MAX_CLIENTS
 * connections. -EINVAL bad address, -errno from bind/listen (the caller
 * logs with the address). */
int http_server_new(sd_event *event, const char *listen, int max_clients, const struct http_handlers *h,
                    struct http_server **ret);
/* Closes every connection. The server's sinks must be freed first. */
struct http_server *http_server_free(struct http_server *s);

/* A caption sink that feeds the SSE stream (SC: its latency). The server
 * must outlive it. */
int http_server_sink_new(struct http_server *s, const struct sink_config *sc, struct sink **ret);

/* Connected SSE clients, and SSE clients dropped (too slow, gone) so far. */
size_t http_server_sse_clients(const struct http_server *s);
uint64_t http_server_sse_dropped(const struct http_server *s);

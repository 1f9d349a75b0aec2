/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sink.h: a caption output. Every call comes from the loop thread and
 * must not block (files are written with buffered appends; the terminal
 * is stdout). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

struct cue;
struct story;
struct sink_config;

struct cue_emit {
        size_t index;        /* cue index within the story */
        uint64_t due_ns;     /* CLOCK_MONOTONIC the cue was due (audio clock + latency) */
        uint64_t emitted_ns; /* CLOCK_MONOTONIC at emission */
        int64_t lateness_us; /* emitted - due */
};

struct sink;

struct sink_ops {
        const char *type;
        int (*story_start)(struct sink *s, const struct story *st);
        int (*cue)(struct sink *s, const struct story *st, const struct cue *c, const struct cue_emit *e);
        int (*story_end)(struct sink *s, const struct story *st);
        void (*free)(struct sink *s); /* releases s->data only; sink_free does the rest */
        /* Optional (NULL: ignored): the story next up changed to NEXT
         * (NULL: nothing queued) at CLOCK_MONOTONIC MONO_NS. */
        int (*next_up)(struct sink *s, const struct story *next, uint64_t mono_ns);
        /* Optional: an alert was raised (WHAT: a short kind such as
         * "silence", MESSAGE: for people) at CLOCK_MONOTONIC MONO_NS. */
        int (*alert)(struct sink *s, const char *what, const char *message, uint64_t mono_ns);
        /* Optional: reopen the sink's files (logrotate moved them away):
         * SIGHUP and `nextupctl reopen`. On failure the old file stays. */
        int (*reopen)(struct sink *s);
};

struct sink {
        const struct sink_ops *ops;
        char *name; /* "terminal", "jsonl:'/path'" ... for logs */
        int64_t latency_ms;
        void *data;
};

/* Creates a sink from its config entry. EVENT is the loop's sd-event, for
 * sinks that serve sockets or timers of their own (they add their sources
 * to it and remove them in ops->free). -EINVAL unknown type, -errno on
 * open failure (message logged by caller with the path). */
int sink_new(sd_event *event, const struct sink_config *sc, struct sink **ret);
struct sink *sink_free(struct sink *s);

/* For sink implementations: a sink with OPS, a copy of NAME, SC's latency
 * and DATA. On success the sink owns DATA (ops->free releases it); on
 * -ENOMEM the caller still does. */
int sink_alloc(const struct sink_ops *ops, const char *name, const struct sink_config *sc, void *data,
               struct sink **ret);

/* CLOCK_MONOTONIC MONO_NS as wall-clock µs since the epoch (through the
 * current offset between the two clocks). */
int64_t sink_mono_to_wall_us(uint64_t mono_ns);
/* Writes wall-clock µs WALL_US as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) to BUF
 * (at least 32 bytes); returns BUF. */
char *sink_format_wall(int64_t wall_us, char *buf, size_t size);

/* terminal: stdout, never blocking; EVENT (may be NULL) for the retry
 * timer of lines that wait for a slow reader. */
int sink_terminal_new(sd_event *event, const struct sink_config *sc, struct sink **ret);
int sink_jsonl_new(const struct sink_config *sc, struct sink **ret);
int sink_webvtt_new(const struct sink_config *sc, struct sink **ret);
int sink_rds_new(sd_event *event, const struct sink_config *sc, struct sink **ret);
int sink_dls_new(const struct sink_config *sc, struct sink **ret);
int sink_icecast_new(sd_event *event, const struct sink_config *sc, struct sink **ret);
/* tcp: JSON lines (feed.h) to every client of sc->listen; sources on EVENT. */
int sink_tcp_new(sd_event *event, const struct sink_config *sc, struct sink **ret);
/* Clients connected to S when it is a tcp sink, else 0 (for metrics). */
size_t sink_tcp_clients(const struct sink *s);

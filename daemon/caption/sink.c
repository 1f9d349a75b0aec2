/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sink.c: the generic half of a caption output. sink_new picks the
 * implementation from the config entry's type; every implementation
 * builds its struct sink through sink_alloc so that sink_free can tear
 * any of them down the same way. */
#include "sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"

int sink_alloc(const struct sink_ops *ops, const char *name, const struct sink_config *sc, void *data,
               struct sink **ret) {
        struct sink *s;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->name = strdup(name);
        if (!s->name) {
                free(s);
                return -ENOMEM;
        }
        s->ops = ops;
        s->latency_ms = sc->latency_ms;
        s->data = data;
        *ret = s;
        return 0;
}

int sink_new(sd_event *event, const struct sink_config *sc, struct sink **ret) {
        switch (sc->type) {
        case SINK_TERMINAL:
                return sink_terminal_new(event, sc, ret);
        case SINK_JSONL:
                return sink_jsonl_new(sc, ret);
        case SINK_WEBVTT:
                return sink_webvtt_new(sc, ret);
        case SINK_RDS:
                return sink_rds_new(event, sc, ret);
        case SINK_DLS:
                return sink_dls_new(sc, ret);
        case SINK_ICECAST:
                return sink_icecast_new(event, sc, ret);
        case SINK_TCP:
                return sink_tcp_new(event, sc, ret);
        }
        return -EINVAL;
}

struct sink *sink_free(struct sink *s) {
        if (!s)
                return NULL;
        if (s->ops && s->ops->free)
                s->ops->free(s);
        free(s->name);
        free(s);
        return NULL;
}

int64_t sink_mono_to_wall_us(uint64_t mono_ns) {
        struct timespec mono, real;

        clock_gettime(CLOCK_MONOTONIC, &mono);
        clock_gettime(CLOCK_REALTIME, &real);
        return (int64_t)real.tv_sec * 1000000 + real.tv_nsec / 1000 -
               (((int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec) - (int64_t)mono_ns) / 1000;
}

char *sink_format_wall(int64_t wall_us, char *buf, size_t size) {
        time_t t = (time_t)(wall_us / 1000000);
        struct tm tm;
        size_t n;

        if (!gmtime_r(&t, &tm) || (n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
                snprintf(buf, size, "?");
                return buf;
        }
        snprintf(buf + n, size - n, ".%03dZ", (int)(wall_us / 1000 % 1000));
        return buf;
}

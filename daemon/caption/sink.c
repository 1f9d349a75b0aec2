/* SPDX-License-Identifier: GPL-3.0-or-later */
/* sink.c: the generic half of a caption output. sink_new picks the
 * implementation from the config entry's type; every implementation
 * builds its struct sink through sink_alloc so that sink_free can tear
 * any of them down the same way. */
#include "sink.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
                return sink_terminal_new(sc, ret);
        case SINK_JSONL:
                return sink_jsonl_new(sc, ret);
        case SINK_WEBVTT:
                return sink_webvtt_new(sc, ret);
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

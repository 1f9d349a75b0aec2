/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-http.c: what the HTTP server (daemon/http) serves from the
 * Manager's state: /status (the control socket's status reply),
 * /stories/ID.vtt (a story queued, on air, or aired today: the cues of
 * aired stories are kept, at most AIRED_MAX of them, until local
 * midnight) and /metrics (the counters below, Prometheus text format).
 * Loop thread only, like the rest of the Manager. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asrun.h"
#include "capfmt.h"
#include "captions.h"
#include "cleanup.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "manager-internal.h"
#include "manager-http.h"
#include "queue.h"
#include "segment.h"
#include "sink.h"

#define AIRED_MAX 256
#define N_REASONS (PLAYOUT_END_FADED + 1)

struct aired {
        uint64_t id;
        int yday, year; /* local day it left the air */
        struct cue_list *cues;
};

struct manager_http {
        struct http_server *server;
        struct aired aired[AIRED_MAX]; /* ring */
        size_t n_aired;
        uint64_t ended[N_REASONS];
        uint64_t silence, dead_air, alerts;
        int64_t played_ms; /* by stories that left the air */
        struct captions_lateness lateness;
        manager_http_status_fn status; /* the status reply, served as /status */
};

static void local_day(int *yday, int *year) {
        time_t t = time(NULL);
        struct tm tm;

        localtime_r(&t, &tm);
        *yday = tm.tm_yday;
        *year = tm.tm_year;
}

static int story_vtt(void *userdata, uint64_t id, FILE *f) {
        struct manager *m = userdata;
        struct manager_http *h = m->http;
        struct story *s = manager_find_story(m, id);
        int yday, year;

        if (s && s->cues)
                return capfmt_vtt(f, s->cues);
        local_day(&yday, &year);
        for (size_t i = 0; i < MIN(h->n_aired, (size_t)AIRED_MAX); i++) {
                const struct aired *a = &h->aired[i];

                if (a->id == id && a->cues && a->yday == yday && a->year == year)
                        return capfmt_vtt(f, a->cues);
        }
        return -ENOENT;
}

static struct json_object *status(void *userdata) {
        struct manager *m = userdata;

        return m->http->status(m);
}

static void metric_head(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP nextup_%s %s\n# TYPE nextup_%s %s\n", name, help, name, type);
}

static int metrics(void *userdata, FILE *f) {
        struct manager *m = userdata;
        struct manager_http *h = m->http;
        const struct captions_lateness *l = &h->lateness;
        int64_t on_air_ms = h->played_ms;
        size_t tcp = 0;

        if (m->on_air)
                on_air_ms += MAX(manager_position_ms(m) - m->on_air->aired_from_ms, 0);
        metric_head(f, "items_aired_total", "counter", "Items that left the air, by end reason.");
        for (int r = 0; r < N_REASONS; r++)
                fprintf(f, "nextup_items_aired_total{reason=\"%s\"} %" PRIu64 "\n",
                        playout_end_reason_to_string((enum playout_end_reason)r), h->ended[r]);
        metric_head(f, "silence_events_total", "counter", "Items skipped by the silence detector.");
        fprintf(f, "nextup_silence_events_total %" PRIu64 "\n", h->silence);
        metric_head(f, "dead_air_events_total", "counter", "Times the output ran out of items to play.");
        fprintf(f, "nextup_dead_air_events_total %" PRIu64 "\n", h->dead_air);
        metric_head(f, "alerts_total", "counter", "Alerts raised (silence, decode errors, schedule).");
        fprintf(f, "nextup_alerts_total %" PRIu64 "\n", h->alerts);
        metric_head(f, "queue_length", "gauge", "Stories waiting in the queue.");
        fprintf(f, "nextup_queue_length %zu\n", queue_size(m->queue));
        metric_head(f, "on_air_seconds_total", "counter", "Seconds of items played since start.");
        fprintf(f, "nextup_on_air_seconds_total %.3f\n", (double)on_air_ms / 1000.0);
        metric_head(f, "cue_lateness_seconds", "histogram",
                    "Caption cue emission lateness behind the audio clock, every sink.");
        for (size_t i = 0; i < CAPTIONS_LATENESS_BUCKETS; i++)
                fprintf(f, "nextup_cue_lateness_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                        (double)captions_lateness_bounds_us[i] / 1e6, l->le[i]);
        fprintf(f, "nextup_cue_lateness_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", l->count);
        fprintf(f, "nextup_cue_lateness_seconds_sum %.6f\n", (double)l->sum_us / 1e6);
        fprintf(f, "nextup_cue_lateness_seconds_count %" PRIu64 "\n", l->count);
        if (m->captions)
                for (size_t i = 0; i < captions_n_sinks(m->captions); i++)
                        tcp += sink_tcp_clients(captions_sink(m->captions, i));
        /* last: the http server appends its feed="sse" line to this family */
        metric_head(f, "feed_clients", "gauge", "Clients connected to a caption feed.");
        fprintf(f, "nextup_feed_clients{feed=\"tcp\"} %zu\n", tcp);
        return 0;
}

int manager_http_start(struct manager *m, manager_http_status_fn status_fn) {
        const struct nextup_config *c = m->config;
        struct http_handlers handlers = {
                .status = status,
                .story_vtt = story_vtt,
                .metrics = metrics,
                .userdata = m,
        };
        int r;

        m->http = calloc(1, sizeof *m->http);
        if (!m->http)
                return -ENOMEM;
        m->http->status = status_fn;
        if (!c->http_listen)
                return 0;
        r = http_server_new(m->event, c->http_listen, c->http_max_clients, &handlers, &m->http->server);
        if (r < 0)
                log_error_errno(r, "Cannot serve HTTP on '%s': %m, going on without the caption page",
                                c->http_listen);
        return 0;
}

/* After the captions (whose sinks feed the server) are gone. */
void manager_http_stop(struct manager *m) {
        if (!m->http)
                return;
        http_server_free(m->http->server);
        for (size_t i = 0; i < AIRED_MAX; i++)
                cue_list_free(m->http->aired[i].cues);
        free(m->http);
        m->http = NULL;
}

/* LATENCY_MS from the config being built (a reload's, not yet m->config). */
int manager_http_sink(struct manager *m, int latency_ms, struct sink **ret) {
        struct sink_config sc = {.latency_ms = latency_ms};

        *ret = NULL;
        if (!m->http || !m->http->server)
                return 0;
        return http_server_sink_new(m->http->server, &sc, ret);
}

void manager_http_watch(struct manager *m, struct captions *c) {
        if (m->http && c)
                captions_set_lateness(c, &m->http->lateness);
}

void manager_http_off_air(struct manager *m, const struct story *s, enum playout_end_reason reason,
                          int64_t played_ms) {
        struct manager_http *h = m->http;
        struct aired *a;

        if (!h)
                return;
        if ((unsigned)reason < N_REASONS)
                h->ended[reason]++;
        h->played_ms += MAX(played_ms, 0);
        if (!s->cues || s->aired_ms <= 0)
                return;
        a = &h->aired[h->n_aired++ % AIRED_MAX];
        a->cues = cue_list_free(a->cues);
        if (cue_list_dup(s->cues, &a->cues) < 0) {
                a->cues = NULL; /* /stories/ID.vtt answers 404 for it */
                return;
        }
        a->id = s->id;
        local_day(&a->yday, &a->year);
}

void manager_http_count(struct manager *m, const char *what) {
        if (!m->http)
                return;
        if (strcmp(what, "silence") == 0)
                m->http->silence++;
        else if (strcmp(what, "dead_air") == 0)
                m->http->dead_air++;
        else if (strcmp(what, "alert") == 0)
                m->http->alerts++;
}

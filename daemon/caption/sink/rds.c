/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rds.c: RadioText for FM receivers, through the encoder's own protocol.
 * What goes out is chosen by the policy: "now_next" shows the story's
 * title (with the speaker who opens it as RT+ artist when both fit) and, when
 * something is queued, "Next: TITLE" in turn; "captions" shows the title,
 * then the captions cut into 64-character chunks on word boundaries.
 *
 * Every text stays up at least dwell_ms (a timer on the loop, never a
 * sleep), because a car radio needs seconds to show 64 characters and
 * RT+ receivers need the tags to settle. Speech runs faster than that, so
 * in the captions policy at most RDS_QUEUE chunks wait and the oldest is
 * skipped when another arrives: the display stays with what is being said.
 * The A/B flag toggles whenever the text changes, so receivers clear the
 * old one. When a stream connection is (re)made the current text is sent
 * again at once.
 *
 * Dialects:
 *   fifo: "RT <text>\n" (PiFmRds, MiniRDS control pipe) and, with rt_plus,
 *         MiniRDS's "RTP t1,s1,l1,t2,s2,l2\n" (PiFmRds ignores it);
 *   line: the config's template with {text} and {ab} ("A"/"B");
 *   uecp: an RT frame (MEC 0x0A), with rt_plus followed by an ODA data
 *         frame (MEC 0x46, AID 0x4BD7) carrying the RT+ tags. The encoder
 *         must already be set up to send RT+ (ODA group 11A for AID
 *         0x4BD7); that configuration is the station's, not ours.
 * Loop thread only; all I/O through outlink, which never blocks.
 *
 * The encoder's side of the state (the connection, the A/B flag, the RT+
 * item toggle, the UECP sequence, the text on air and when it went out)
 * is a port shared by every rds sink with the same target and dialect: a
 * reload builds new sinks while the old ones finish the story on air, and
 * the encoder must see one connection and a toggle that goes on, not a
 * second connection and a restart. The ports are a list owned by the loop
 * thread (sinks are made and freed there only). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "outlink.h"
#include "queue.h"
#include "rdstext.h"
#include "segment.h"
#include "sink.h"

#define RDS_QUEUE 2
#define USEC_PER_MSEC UINT64_C(1000)

struct rds_text {
        char text[RDS_RT_MAX + 1];
        size_t len;
        bool tagged; /* tags hold RT+ tags for this text */
        struct rtplus tags;
};

struct rds;

struct rds_port {
        struct rds_port *next; /* in ports */
        char *key;             /* dialect, kind, baud, target */
        unsigned n_ref;
        struct outlink *link;
        struct rds *users;       /* the sinks sharing it (rds.port_next) */
        struct rds *last;        /* the one that sent last: it resends on reconnect */
        struct rds_text current; /* what the encoder was last given */
        uint64_t last_sent_usec; /* 0: nothing sent yet */
        bool ab, item_toggle;
        uint8_t seq; /* UECP */
};

static struct rds_port *ports; /* loop thread only */

struct rds {
        char *name;
        enum rds_dialect dialect;
        enum rds_policy policy;
        bool ascii, rt_plus;
        uint64_t dwell_usec;
        char *template;
        unsigned site, encoder;
        uint8_t dsn, psn, seq;

        sd_event *event;
        struct rds_port *port;
        struct rds *port_next; /* in port->users */
        sd_event_source *timer;
        bool running;

        /* now_next */
        struct rds_text now, next;
        bool have_now, have_next;
        /* captions */
        struct rds_text queue[RDS_QUEUE];
        size_t q_head, q_len;
        unsigned long skipped;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* TEXT (UTF-8) as RDS characters cut to 64 on a word boundary. */
static int text_set(struct rds *r, struct rds_text *t, const char *utf8) {
        _cleanup_free_ char *enc = rds_text_encode(utf8, r->ascii);

        if (!enc)
                return -ENOMEM;
        *t = (struct rds_text){0};
        t->len = rds_text_cut(enc, RDS_RT_MAX, NULL);
        memcpy(t->text, enc, t->len);
        t->text[t->len] = '\0';
        return 0;
}

static void text_tag(struct rds *r, struct rds_text *t, int i, uint8_t type, size_t start, size_t len) {
        size_t max = i == 0 ? 64 : 32;

        if (start >= t->len || len == 0)
                return;
        t->tagged = true;
        t->tags.type[i] = type;
        t->tags.start[i] = (uint8_t)start;
        t->tags.len[i] = (uint8_t)MIN(MIN(len, t->len - start), max);
}

/* ---- the dialects ---- */

/* The line template with {text} and {ab} filled in. */
static int build_line(struct rds *r, const struct rds_text *t, char *out, size_t size) {
        size_t n = 0;

        for (const char *p = r->template; *p; p++) {
                const char *add = NULL;
                char one[2] = {*p, 0};

                if (strncmp(p, "{text}", 6) == 0)
                        add = t->text, p += 5;
                else if (strncmp(p, "{ab}", 4) == 0)
                        add = r->port->ab ? "B" : "A", p += 3;
                else
                        add = one;
                if (n + strlen(add) >= size)
                        return -ENOBUFS;
                memcpy(out + n, add, strlen(add));
                n += strlen(add);
        }
        return (int)n;
}

static int build_uecp(struct rds *r, const struct rds_text *t, uint8_t *out, size_t size) {
        uint8_t msg[16 + RDS_RT_MAX];
        ssize_t n, m = 0;
        size_t len;

        len = uecp_rt_element(r->dsn, r->psn, r->port->ab, t->text, t->len, msg);
        r->port->seq = r->port->seq == 255 ? 1 : r->port->seq + 1;
        n = uecp_frame(r->site, r->encoder, r->port->seq, msg, len, out, size);
        if (n < 0)
                return (int)n;
        if (r->rt_plus && t->tagged) {
                struct rtplus tags = t->tags;

                tags.running = r->running;
                tags.toggle = r->port->item_toggle;
                len = uecp_rtplus_element(&tags, msg);
                r->port->seq = r->port->seq == 255 ? 1 : r->port->seq + 1;
                m = uecp_frame(r->site, r->encoder, r->port->seq, msg, len, out + n, size - (size_t)n);
                if (m < 0)
                        return (int)m;
        }
        return (int)(n + m);
}

static int build_fifo(struct rds *r, const struct rds_text *t, char *out, size_t size) {
        int n = snprintf(out, size, "RT %s\n", t->text), m = 0;

        if (n < 0 || (size_t)n >= size)
                return -ENOBUFS;
        if (r->rt_plus && t->tagged) {
                m = rtplus_fifo_line(&t->tags, out + n, size - (size_t)n);
                if (m < 0 || (size_t)m >= size - (size_t)n)
                        return -ENOBUFS;
        }
        return n + m;
}

/* Hands T to the encoder in its dialect. Failures are logged by outlink. */
static void rds_emit(struct rds *r, const struct rds_text *t) {
        uint8_t buf[512];
        int n;

        switch (r->dialect) {
        case RDS_DIALECT_FIFO:
                n = build_fifo(r, t, (char *)buf, sizeof buf);
                break;
        case RDS_DIALECT_LINE:
                n = build_line(r, t, (char *)buf, sizeof buf);
                break;
        case RDS_DIALECT_UECP:
                n = build_uecp(r, t, buf, sizeof buf);
                break;
        default:
                n = -EINVAL;
        }
        if (n < 0) {
                log_warning_errno(n, "%s: cannot build the message: %m, ignoring", r->name);
                return;
        }
        r->port->last = r;
        (void)outlink_send(r->port->link, buf, (size_t)n);
}

/* ---- what to show, and when ---- */

static bool text_eq(const struct rds_text *a, const struct rds_text *b) {
        return a->len == b->len && memcmp(a->text, b->text, a->len) == 0 && a->tagged == b->tagged &&
               memcmp(&a->tags, &b->tags, sizeof a->tags) == 0;
}

/* The next text to show, or NULL when nothing new is due. */
static const struct rds_text *rds_pick(struct rds *r) {
        if (r->policy == RDS_POLICY_CAPTIONS && r->q_len > 0) {
                const struct rds_text *t = &r->queue[r->q_head];

                r->q_head = (r->q_head + 1) % RDS_QUEUE;
                r->q_len--;
                return t;
        }
        if (r->policy == RDS_POLICY_CAPTIONS && r->running)
                return NULL;             /* between chunks the last one stays */
        if (r->have_now && r->have_next) /* in turn: whichever is not up */
                return text_eq(&r->port->current, &r->now) ? &r->next : &r->now;
        if (r->have_now && !text_eq(&r->now, &r->port->current))
                return &r->now;
        if (r->have_next && !text_eq(&r->next, &r->port->current))
                return &r->next;
        return NULL;
}

static bool rds_more(const struct rds *r) {
        return r->q_len > 0 || (r->policy == RDS_POLICY_NOW_NEXT && r->have_now && r->have_next);
}

static void rds_arm(struct rds *r, uint64_t at) {
        int k = sd_event_source_set_time(r->timer, at);

        if (k >= 0)
                k = sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
        if (k < 0)
                log_error_errno(k, "%s: cannot arm the dwell timer: %m, RadioText stalls", r->name);
}

/* Sends the next text if the current one has stood long enough, and
 * arms the timer for whatever follows. */
static void rds_pump(struct rds *r) {
        uint64_t now = now_usec();
        const struct rds_text *t;

        if (r->port->last_sent_usec > 0 && now < r->port->last_sent_usec + r->dwell_usec) {
                rds_arm(r, r->port->last_sent_usec + r->dwell_usec);
                return;
        }
        t = rds_pick(r);
        if (!t) {
                (void)sd_event_source_set_enabled(r->timer, SD_EVENT_OFF);
                return;
        }
        if (t->len != r->port->current.len || memcmp(t->text, r->port->current.text, t->len) != 0)
                r->port->ab = !r->port->ab; /* new text: receivers clear the old */
        r->port->current = *t;
        r->port->last_sent_usec = now;
        rds_emit(r, &r->port->current);
        log_debug("%s: RadioText \"%s\"", r->name, r->port->current.text);
        if (rds_more(r))
                rds_arm(r, now + r->dwell_usec);
        else
                (void)sd_event_source_set_enabled(r->timer, SD_EVENT_OFF);
}

static int on_dwell(sd_event_source *s, uint64_t usec, void *userdata) {
        rds_pump(userdata);
        return 0;
}

/* A (re)made connection gets the current text again, same A/B flag. */
static void on_connect(void *userdata) {
        struct rds_port *p = userdata;
        struct rds *r = p->last ? p->last : p->users;

        if (p->link && r && p->last_sent_usec > 0) /* p->link: not from inside outlink_new */
                rds_emit(r, &p->current);
}

/* The port of KEY, shared (a reference more) or new (connecting). */
static int port_get(sd_event *event, enum outlink_kind kind, const char *target, int baud, const char *key,
                    const char *name, struct rds_port **ret) {
        struct rds_port *p;
        int k;

        for (p = ports; p; p = p->next)
                if (strcmp(p->key, key) == 0) {
                        p->n_ref++;
                        *ret = p;
                        return 0;
                }
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->key = strdup(key);
        if (!p->key) {
                free(p);
                return -ENOMEM;
        }
        k = outlink_new(event, kind, target, baud, name, on_connect, p, &p->link);
        if (k < 0) {
                free(p->key);
                free(p);
                return k;
        }
        p->n_ref = 1;
        p->next = ports;
        ports = p;
        *ret = p;
        return 0;
}

static void port_leave(struct rds *r) {
        struct rds_port *p = r->port;

        if (!p)
                return;
        for (struct rds **u = &p->users; *u; u = &(*u)->port_next)
                if (*u == r) {
                        *u = r->port_next;
                        break;
                }
        if (p->last == r)
                p->last = NULL;
        r->port = NULL;
        if (--p->n_ref > 0)
                return;
        for (struct rds_port **q = &ports; *q; q = &(*q)->next)
                if (*q == p) {
                        *q = p->next;
                        break;
                }
        outlink_free(p->link);
        free(p->key);
        free(p);
}

static void queue_push(struct rds *r, const struct rds_text *t) {
        if (r->q_len == RDS_QUEUE) { /* behind the speech: skip the oldest */
                r->q_head = (r->q_head + 1) % RDS_QUEUE;
                r->q_len--;
                r->skipped++;
        }
        r->queue[(r->q_head + r->q_len) % RDS_QUEUE] = *t;
        r->q_len++;
}

/* "TITLE - SPEAKER" with RT+ title and artist when the first cue names
 * its speaker and it all fits, else TITLE tagged as the title. */
static int set_now(struct rds *r, const struct story *st) {
        const char *speaker = NULL;
        _cleanup_free_ char *both = NULL;
        struct rds_text title;
        int k;

        if (st->cues && st->cues->n_cues > 0) /* who opens the story, if the transcript says */
                speaker = st->cues->cues[0].speaker;
        k = text_set(r, &title, st->title && *st->title ? st->title : "(untitled)");
        if (k < 0)
                return k;
        r->now = title;
        text_tag(r, &r->now, 0, RTPLUS_ITEM_TITLE, 0, title.len);
        if (speaker && asprintf(&both, "%s - %s", st->title ? st->title : "", speaker) >= 0) {
                struct rds_text t;

                if (text_set(r, &t, both) >= 0 && t.len > title.len + 3 &&
                    memcmp(t.text, title.text, title.len) == 0 && strlen(both) <= RDS_RT_MAX &&
                    t.len - title.len - 3 <= 32) {
                        r->now = t;
                        text_tag(r, &r->now, 0, RTPLUS_ITEM_TITLE, 0, title.len);
                        text_tag(r, &r->now, 1, RTPLUS_ITEM_ARTIST, title.len + 3, t.len - title.len - 3);
                }
        }
        r->have_now = true;
        return 0;
}

/* ---- sink ops ---- */

static int rds_story_start(struct sink *s, const struct story *st) {
        struct rds *r = s->data;
        int k;

        r->running = true;
        r->port->item_toggle = !r->port->item_toggle;
        r->q_len = 0;
        r->skipped = 0;
        k = set_now(r, st);
        if (k < 0)
                return k;
        if (r->policy == RDS_POLICY_CAPTIONS)
                queue_push(r, &r->now);
        rds_pump(r); /* after the last text's dwell, like any other */
        return 0;
}

static int rds_cue(struct sink *s, const struct story *st, const struct cue *c, const struct cue_emit *e) {
        struct rds *r = s->data;
        _cleanup_free_ char *enc = NULL;
        const char *p;

        if (r->policy != RDS_POLICY_CAPTIONS)
                return 0;
        enc = rds_text_encode(c->text, r->ascii);
        if (!enc)
                return -ENOMEM;
        for (p = enc; *p;) {
                struct rds_text t = {0};
                const char *next;

                t.len = rds_text_cut(p, RDS_RT_MAX, &next);
                memcpy(t.text, p, t.len);
                queue_push(r, &t);
                p = next;
        }
        rds_pump(r);
        return 0;
}

static int rds_story_end(struct sink *s, const struct story *st) {
        struct rds *r = s->data;

        if (r->skipped > 0)
                log_info("%s: %lu caption chunks skipped to keep up with the speech (dwell %llu ms)",
                         r->name, r->skipped, (unsigned long long)(r->dwell_usec / USEC_PER_MSEC));
        r->running = false;
        r->have_now = false;
        r->q_len = 0;
        rds_pump(r);
        return 0;
}

static int rds_next_up(struct sink *s, const struct story *next, uint64_t mono_ns) {
        struct rds *r = s->data;
        _cleanup_free_ char *line = NULL;
        int k;

        r->have_next = false;
        if (!next)
                return 0;
        if (asprintf(&line, "Next: %s", next->title && *next->title ? next->title : "(untitled)") < 0)
                return -ENOMEM;
        k = text_set(r, &r->next, line);
        if (k < 0)
                return k;
        text_tag(r, &r->next, 0, RTPLUS_PROGRAMME_NEXT, 6, r->next.len - MIN(r->next.len, 6));
        r->have_next = true;
        rds_pump(r);
        return 0;
}

static void rds_free(struct sink *s) {
        struct rds *r = s->data;

        if (!r)
                return;
        port_leave(r);
        sd_event_source_disable_unref(r->timer);
        sd_event_unref(r->event);
        free(r->template);
        free(r->name);
        free(r);
}

static const struct sink_ops rds_ops = {
        .type = "rds",
        .story_start = rds_story_start,
        .cue = rds_cue,
        .story_end = rds_story_end,
        .free = rds_free,
        .next_up = rds_next_up,
};

int sink_rds_new(sd_event *event, const struct sink_config *sc, struct sink **ret) {
        enum outlink_kind kind;
        const char *target;
        _cleanup_free_ char *key = NULL;
        struct rds *r;
        int k;

        if (!event)
                return -EINVAL;
        if (sc->path)
                kind = OUTLINK_PATH, target = sc->path;
        else if (sc->connect)
                kind = OUTLINK_TCP, target = sc->connect;
        else if (sc->udp)
                kind = OUTLINK_UDP, target = sc->udp;
        else if (sc->device)
                kind = OUTLINK_SERIAL, target = sc->device;
        else
                return -EINVAL;
        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->dialect = sc->dialect;
        r->policy = sc->policy;
        r->ascii = sc->ascii;
        r->rt_plus = sc->rt_plus;
        r->dwell_usec = (uint64_t)sc->dwell_ms * USEC_PER_MSEC;
        r->site = (unsigned)sc->site_address;
        r->encoder = (unsigned)sc->encoder_address;
        r->dsn = (uint8_t)sc->data_set;
        r->psn = (uint8_t)sc->programme_service;
        r->event = sd_event_ref(event);
        r->template = strdup(sc->template ? sc->template : "RT={text}\r\n");
        if (!r->template || asprintf(&r->name, "rds:'%s'", target) < 0) {
                r->name = NULL;
                rds_free(&(struct sink){.data = r});
                return -ENOMEM;
        }
        k = sd_event_add_time(event, &r->timer, CLOCK_MONOTONIC, 0, 10000, on_dwell, r);
        if (k >= 0)
                k = sd_event_source_set_enabled(r->timer, SD_EVENT_OFF);
        if (k >= 0 && asprintf(&key, "%d %d %d %s", (int)sc->dialect, (int)kind, sc->baud, target) < 0) {
                key = NULL;
                k = -ENOMEM;
        }
        if (k >= 0)
                k = port_get(event, kind, target, sc->baud, key, r->name, &r->port);
        if (k >= 0) {
                r->port_next = r->port->users;
                r->port->users = r;
                if (r->port->n_ref > 1)
                        log_debug("%s: shares the encoder connection of the sink it replaces", r->name);
                k = sink_alloc(&rds_ops, r->name, sc, r, ret);
        }
        if (k < 0)
                rds_free(&(struct sink){.data = r});
        return k;
}

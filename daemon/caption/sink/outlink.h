/* SPDX-License-Identifier: GPL-3.0-or-later */
/* outlink.h: a non-blocking way out for sinks that talk to devices (RDS
 * encoders): a file or FIFO, a TCP connection, UDP datagrams, a serial
 * line. Messages go whole or not at all: at most OUTLINK_BUFFER bytes wait
 * for a slow peer; one that does not fit is dropped, logged, and the
 * connection that stopped reading is closed and made again with backoff
 * (1 s doubling to 60 s). Nothing here ever blocks the loop. Loop thread
 * only. */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

#define OUTLINK_BUFFER 8192

enum outlink_kind {
        OUTLINK_PATH,   /* a FIFO (opened O_NONBLOCK; no reader: dropped) or a regular file (holds the
                           latest message) or a character device */
        OUTLINK_TCP,    /* "host:port", numeric (name lookups would block) */
        OUTLINK_UDP,    /* "host:port", one datagram per message */
        OUTLINK_SERIAL, /* a tty, raw 8N1 at BAUD */
};

struct outlink;

/* NAME prefixes log lines ("rds:'...'"). ON_CONNECT (may be NULL) is
 * called each time a stream connection is (re)made, so the sink can send
 * its current state again. Connecting starts at once, on the loop.
 * -EINVAL bad target, -ENOMEM. */
int outlink_new(sd_event *event, enum outlink_kind kind, const char *target, int baud, const char *name,
                void (*on_connect)(void *userdata), void *userdata, struct outlink **ret);
struct outlink *outlink_free(struct outlink *l);

/* Sends MSG whole: 0 written or queued; -ENOTCONN not connected (no
 * reader, connection down), -ENOBUFS the peer is not reading (the
 * connection is dropped and made again), -errno a write error. Failures
 * are logged here, once per episode; the caller just counts them. */
int outlink_send(struct outlink *l, const void *msg, size_t len);

/* Messages dropped so far (not connected, peer too slow, write errors). */
unsigned long outlink_dropped(const struct outlink *l);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* timeutil.h: time units and the wall clock, one definition for all. */
#pragma once

#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC INT64_C(1000000000)
#define NSEC_PER_MSEC INT64_C(1000000)

/* CLOCK_REALTIME now, in ns and in ms since the epoch. */
static inline int64_t wall_now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static inline int64_t wall_now_ms(void) {
        return wall_now_ns() / NSEC_PER_MSEC;
}

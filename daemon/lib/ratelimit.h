/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ratelimit.h: at most BURST log lines per INTERVAL, so that a thousand
 * clients dropped at once are a few lines and a count, not a flood. One
 * owner thread per struct. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
        uint64_t interval_ns;
        unsigned burst;
        uint64_t begin_ns;   /* start of the current interval */
        unsigned n;          /* lines let through in it */
        unsigned suppressed; /* lines held back since the last one let through */
};

#define RATELIMIT_INIT(interval_ms, b)                                                                      \
        ((struct ratelimit){.interval_ns = (interval_ms)*UINT64_C(1000000), .burst = (b)})

/* True when a line may be logged now; then *RET_SUPPRESSED says how many
 * were held back before it (to append "(N similar suppressed)"). */
bool ratelimit_ok(struct ratelimit *rl, uint64_t now_ns, unsigned *ret_suppressed);

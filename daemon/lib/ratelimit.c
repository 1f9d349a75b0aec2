/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ratelimit.c: fixed windows; the first line of a new window reports
 * what the last one held back. */
#include "ratelimit.h"

bool ratelimit_ok(struct ratelimit *rl, uint64_t now_ns, unsigned *ret_suppressed) {
        if (rl->begin_ns == 0 || now_ns - rl->begin_ns >= rl->interval_ns) {
                rl->begin_ns = now_ns;
                rl->n = 0;
        }
        if (rl->n >= rl->burst) {
                rl->suppressed++;
                return false;
        }
        rl->n++;
        *ret_suppressed = rl->suppressed;
        rl->suppressed = 0;
        return true;
}

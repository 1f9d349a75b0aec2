/* SPDX-License-Identifier: GPL-3.0-or-later */
/* manager-internal.c: the loop-wide helpers of manager-internal.h, which
 * only read struct manager and the modules it holds: every part of the
 * Manager may call them. Loop thread only. */
#include "manager-internal.h"

#include <stdio.h>

#include "aclock.h"
#include "captions.h"
#include "cleanup.h"
#include "log.h"
#include "queue.h"

int64_t manager_position_ms(struct manager *m) {
        struct aclock_sample s;

        if (!m->on_air)
                return 0;
        aclock_read(m->clock, &s);
        if (s.item_id != m->on_air->id)
                return 0;
        return MAX(aclock_position_ms(&s, aclock_now_ns()), 0);
}

void manager_format_mmss(int64_t ms, char *buf, size_t n) {
        int64_t s = ms < 0 ? 0 : ms / 1000;

        snprintf(buf, n, "%02lld:%02lld", (long long)(s / 60), (long long)(s % 60));
}

size_t manager_reopen(struct manager *m) {
        size_t failed = captions_reopen(m->captions) + captions_reopen(m->captions_next);

        log_info("Caption files reopened%s", failed ? " (some failed, see above)" : "");
        return failed;
}

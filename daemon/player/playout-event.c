/* SPDX-License-Identifier: GPL-3.0-or-later */
/* playout-event.c: the one name of each end reason, as the as-run log,
 * the events stream, /metrics and the daemon's log all write it. */
#include "playout-event.h"

#include "cleanup.h"

static const char *const end_reasons[] = {
        [PLAYOUT_END_COMPLETE] = "complete",
        [PLAYOUT_END_SKIPPED] = "skipped",
        [PLAYOUT_END_ERROR] = "decode_error",
        [PLAYOUT_END_SHUTDOWN] = "shutdown",
        [PLAYOUT_END_CUT] = "cut",
        [PLAYOUT_END_SILENCE] = "silence",
        [PLAYOUT_END_FADED] = "faded",
};

const char *playout_end_reason_to_string(enum playout_end_reason r) {
        return (size_t)r < ELEMENTSOF(end_reasons) && end_reasons[r] ? end_reasons[r] : "unknown";
}

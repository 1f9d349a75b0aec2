/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-persist: the state-file loader (persist_state_from_json), and the
 * round trip of what it accepts: saved again and loaded again, it must
 * load. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct persist_state st, again;
        char *error = NULL, *text = NULL;

        memset(&st, 0, sizeof st);
        if (persist_state_from_json((const char *)data, size, &st, &error) == 0) {
                if (persist_state_to_json(&st, &text) == 0) {
                        memset(&again, 0, sizeof again);
                        if (persist_state_from_json(text, strlen(text), &again, NULL) != 0)
                                abort();
                        persist_state_done(&again);
                        free(text);
                }
                persist_state_done(&st);
        }
        free(error);
        return 0;
}

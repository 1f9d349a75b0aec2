/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-transcript: the transcript parser (story page, plain text, WebVTT,
 * SRT, detected from content) and the segmenter on what it returns. The
 * first byte picks the segmenter's line length and lines per cue. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct segment_opts o = SEGMENT_OPTS_DEFAULT;
        struct transcript *t = NULL;
        struct cue_list *cues = NULL;
        char *error = NULL;

        if (size > 0) {
                o.max_chars = 10 + data[0] % 60;
                o.max_lines = 1 + (data[0] >> 6);
                o.speaker_mark = data[0] & 1 ? ">>" : "";
                data++, size--;
        }
        if (transcript_parse((const char *)data, size, "fuzz", &t, &error) == 0) {
                if (segment_transcript(t, &o, &cues) == 0) {
                        for (size_t i = 0; i < cues->n_cues; i++)
                                if (!cues->cues[i].text || !cues->cues[i].spoken)
                                        abort();
                        cue_list_free(cues);
                }
                transcript_free(t);
        } else if (!error)
                abort(); /* every refusal says why */
        free(error);
        return 0;
}

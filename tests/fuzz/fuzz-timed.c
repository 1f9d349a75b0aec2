/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fuzz-timed: WebVTT and SRT input. The first byte picks the header put
 * in front ("WEBVTT" or an SRT cue number and timing line), so that the
 * fuzzer spends its time inside the timed parsers, then the segmenter
 * shares each turn's span among its cues (times must stay ordered). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const heads[] = {"WEBVTT\n\n", "1\n00:00:00,000 --> 00:00:01,000\n",
                                            "WEBVTT\n\n00:00.000 --> 00:01.000\n"};
        const char *head;
        struct transcript *t = NULL;
        struct cue_list *cues = NULL;
        char *error = NULL, *text;
        size_t hl;

        if (size == 0)
                return 0;
        head = heads[data[0] % 3];
        hl = strlen(head);
        text = malloc(hl + size);
        if (!text)
                return 0;
        memcpy(text, head, hl);
        memcpy(text + hl, data + 1, size - 1);
        if (transcript_parse(text, hl + size - 1, "fuzz.vtt", &t, &error) == 0) {
                if (segment_transcript(t, NULL, &cues) == 0) {
                        for (size_t i = 0; i < cues->n_cues; i++)
                                if (t->timed && cues->cues[i].start_ms >= 0 &&
                                    cues->cues[i].end_ms < cues->cues[i].start_ms)
                                        abort();
                        cue_list_free(cues);
                }
                transcript_free(t);
        } else if (!error)
                abort();
        free(error);
        free(text);
        return 0;
}

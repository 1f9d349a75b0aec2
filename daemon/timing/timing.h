/* SPDX-License-Identifier: GPL-3.0-or-later */
/* timing.h: the seam where cues get their times: the forced aligner
 * (timing_align, timing-align.c) or, when it cannot run, an estimate
 * proportional to spoken length between the first and last non-silent
 * frames (timing_assign, pure). */
#pragma once

#include <stdint.h>

#include "decoder.h"

struct cue_list;

enum timing_source {
        TIMING_NONE,     /* not timed yet */
        TIMING_GIVEN,    /* WebVTT/SRT input */
        TIMING_ESTIMATE, /* proportional to spoken length */
        TIMING_ALIGNED,  /* forced alignment to the audio (align.h) */
};
const char *timing_source_to_string(enum timing_source s);

/* Gives every cue start_ms/end_ms (story time). Cues already timed
 * (given) are left alone and TIMING_GIVEN returned. Returns the source
 * used (>= 0), -EINVAL when the audio has no non-silent frame. */
int timing_assign(struct cue_list *cues, const struct audio_scan *scan);

/* Like timing_assign, but first tries the forced aligner (align_cues) on
 * the audio at AUDIO_PATH; when it cannot run or fails (no espeak-ng, text
 * and audio disagree) the estimate from SCAN is used, with a warning.
 * Returns TIMING_ALIGNED, TIMING_ESTIMATE or TIMING_GIVEN, or timing_assign's
 * errors. Slow (about 1 s per 3 min of audio): call it off the event loop. */
int timing_align(struct cue_list *cues, const char *audio_path, const struct audio_scan *scan);

struct align_opts;
struct align_report;

/* timing_align with the aligner's options O, and its report in *ret when
 * it aligned (ret may be NULL; free with align_report_done). SCAN with
 * frames < 0 holds only its rate: the file is then scanned (a full decode,
 * filling *SCAN) only when the estimate needs it, since the aligner decodes
 * the file itself; a scan error is returned. */
int timing_align_report(struct cue_list *cues, const char *audio_path, struct audio_scan *scan,
                        const struct align_opts *o, struct align_report *ret);

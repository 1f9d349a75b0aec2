/* SPDX-License-Identifier: GPL-3.0-or-later */
/* timing-align.c: the seam's choice between the forced aligner and the
 * proportional estimate. Kept apart from timing.c so the pure estimate
 * (and its tests) link without espeak-ng, FFTW and the decoder. */
#include "timing.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "align.h"
#include "log.h"
#include "segment.h"

static bool all_timed(const struct cue_list *l) {
        for (size_t i = 0; i < l->n_cues; i++)
                if (l->cues[i].start_ms < 0 || l->cues[i].end_ms < 0)
                        return false;
        return l->n_cues > 0;
}

int timing_align(struct cue_list *cues, const char *audio_path, const struct audio_scan *scan) {
        struct align_opts o = ALIGN_OPTS_DEFAULT;
        struct audio_scan s = *scan;

        return timing_align_report(cues, audio_path, &s, &o, NULL);
}

/* The estimate's scan, made now if the caller left it to us (frames < 0). */
static int estimate(struct cue_list *cues, const char *audio_path, struct audio_scan *scan) {
        int r;

        if (scan->frames < 0 && !all_timed(cues)) {
                r = decoder_scan(audio_path, scan->rate, scan);
                if (r < 0)
                        return r;
        }
        return timing_assign(cues, scan);
}

int timing_align_report(struct cue_list *cues, const char *audio_path, struct audio_scan *scan,
                        const struct align_opts *o, struct align_report *ret) {
        struct align_report rep = {};
        int r;

        if (all_timed(cues) || cues->n_cues == 0)
                return estimate(cues, audio_path, scan);
        r = align_cues(cues, audio_path, o, &rep);
        if (r < 0) {
                log_warning_errno(r, "Forced alignment of '%s' failed (%m), using the proportional estimate",
                                  audio_path);
                return estimate(cues, audio_path, scan);
        }
        log_debug(
                "Aligned '%s' (%s): %zu cues, %zu interpolated, %zu snapped to onsets, mean confidence %.2f",
                audio_path, rep.engine, rep.n_cues, rep.n_interpolated, rep.n_snapped, rep.mean_confidence);
        if (ret)
                *ret = rep;
        else
                align_report_done(&rep);
        return TIMING_ALIGNED;
}

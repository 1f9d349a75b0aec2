/* SPDX-License-Identifier: GPL-3.0-or-later */
/* decoder.h: audio files (MP3 through libmpg123; WAV, FLAC, AIFF, AU, Ogg
 * through libsndfile) in one output format: signed 16-bit, interleaved,
 * RATE/CHANNELS, resampled by libsoxr where the file's rate differs;
 * gapless, exact frame counts. A handle belongs to one thread at a time.
 * mpg123_init() must have run (main). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What a full decode of a file found: its exact length and where sound
 * starts and ends (the estimate and the aligner start from it). */
struct audio_scan {
        int rate;             /* frames per second of the scan */
        int64_t frames;       /* exact decoded length */
        int64_t first_voiced; /* first frame of the first non-silent 10 ms window, -1 if all silent */
        int64_t last_voiced;  /* last frame of the last non-silent window */
};

struct decoder;

/* Opens PATH. -ENOENT/-EACCES..., -EINVAL (not decodable: neither an MPEG
 * frame nor a format libsndfile reads). */
int decoder_open(const char *path, long rate, int channels, struct decoder **ret);

/* Decodes up to max_frames frames into pcm (max_frames*channels samples).
 * Returns frames (> 0), 0 at the end, -EIO on a fatal error. Damaged
 * frames are logged and skipped; MPG123_NEW_FORMAT is not an end. */
ssize_t decoder_read(struct decoder *d, int16_t *pcm, size_t max_frames);

/* Positions at FRAME (output frames). */
int decoder_seek(struct decoder *d, int64_t frame);

/* Exact length in output frames (scans the file once), or -errno. */
int64_t decoder_length(struct decoder *d);

struct decoder *decoder_free(struct decoder *d);

/* Decodes the whole file at RATE, mono-mixed for the level measure, and
 * fills *ret: exact frames and first/last frame of non-silent 10 ms windows
 * (RMS >= -45 dBFS). Any thread (its own handle). -errno on failure, with
 * nothing decodable -EINVAL. */
int decoder_scan(const char *path, long rate, struct audio_scan *ret);

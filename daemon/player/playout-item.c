/* SPDX-License-Identifier: GPL-3.0-or-later */
/* playout-item.c: see playout-item.h. */
#include "playout-item.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "decoder.h"
#include "log.h"

struct item *item_free(struct item *it) {
        if (!it)
                return NULL;
        decoder_free(it->dec);
        free(it->pre);
        free(it->path);
        free(it);
        return NULL;
}

struct playout_event item_ended_event(const struct item *it, enum playout_end_reason reason, int error) {
        struct playout_event ev = {
                .type = PLAYOUT_ENDED,
                .item_id = it->id,
                .reason = reason,
                .frames = it->frames - it->start_frame,
                .down_frames = it->down_frames,
                .error = reason == PLAYOUT_END_ERROR ? error : 0,
        };

        if (reason == PLAYOUT_END_ERROR)
                snprintf(ev.message, sizeof ev.message, "'%s': %s", it->path,
                         error == -EINVAL ? "not audio nextup can decode (MP3, WAV, FLAC, Ogg, AIFF)"
                                          : strerror(-error));
        return ev;
}

/* Positions a new item at START_FRAME; a failure makes it an item that
 * ends with an error. */
static void item_seek(struct item *it, int64_t start_frame) {
        int r;

        if (it->length >= 0)
                start_frame = MIN(start_frame, it->length);
        r = decoder_seek(it->dec, start_frame);
        if (r < 0) {
                log_warning_errno(r, "Cannot seek '%s' to frame %" PRId64 ", it will end with an error: %m",
                                  it->path, start_frame);
                it->dec = decoder_free(it->dec);
                it->error = r;
                return;
        }
        it->start_frame = it->frames = start_frame;
}

/* A hard start's first buffer is decoded when it is set, so nothing but a
 * memcpy stands between its time and its first frame. Without memory it
 * is decoded when due instead. */
static void item_predecode(struct item *it, int channels, size_t frames) {
        ssize_t r;

        if (!it->dec || frames == 0)
                return;
        it->pre = malloc(frames * (size_t)channels * sizeof(int16_t));
        if (!it->pre)
                return;
        r = decoder_read(it->dec, it->pre, frames);
        if (r < 0) {
                it->dec = decoder_free(it->dec);
                it->error = (int)r;
                return;
        }
        it->pre_frames = (size_t)r;
}

struct item *item_open(uint64_t id, char *path, int64_t start_frame, long rate, int channels,
                       size_t predecode) {
        struct item *it = calloc(1, sizeof *it);
        int r;

        if (!it) {
                log_error("Out of memory, cannot cue '%s'", path);
                free(path);
                return NULL;
        }
        it->id = id;
        it->path = path;
        it->length = -1;
        r = decoder_open(path, rate, channels, &it->dec);
        if (r < 0) {
                it->error = r;
                if (r == -EINVAL)
                        log_warning("'%s' is not audio nextup can decode, it will end with an error", path);
                else
                        log_warning_errno(r, "Cannot open '%s', it will end with an error: %m", path);
                return it;
        }
        it->length = decoder_length(it->dec);
        if (it->length < 0)
                it->length = -1;
        if (start_frame > 0)
                item_seek(it, start_frame);
        item_predecode(it, channels, predecode);
        return it;
}

ssize_t item_read(struct item *it, int channels, int16_t *pcm, size_t max_frames) {
        if (it->pre_pos < it->pre_frames) {
                size_t k = MIN(max_frames, it->pre_frames - it->pre_pos);

                memcpy(pcm, it->pre + it->pre_pos * (size_t)channels, k * (size_t)channels * sizeof *pcm);
                it->pre_pos += k;
                return (ssize_t)k;
        }
        return decoder_read(it->dec, pcm, max_frames);
}

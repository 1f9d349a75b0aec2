/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cache.h: the timing cache. A story's cue times are kept in the state
 * directory under a key made from its content: the audio bytes, the
 * cues' spoken text and a salt naming the aligner version and output rate.
 * A restart or a second airing of the same story then costs one read.
 * Any thread (the ingest worker uses it); files are written atomically
 * (temporary file, fsync, rename). */
#pragma once

#include "timing.h"

struct cue_list;

#define CACHE_KEY_LEN 32 /* hex digits of a 128-bit XXH3 hash */

/* Hashes the file at AUDIO_PATH, every cue's spoken text and SALT into
 * RET (CACHE_KEY_LEN + 1 bytes). -errno when the audio cannot be read. */
int cache_key(const char *audio_path, const struct cue_list *cues, const char *salt, char *ret);

/* The cue list as segmented, into RET (CACHE_KEY_LEN + 1 bytes): every
 * cue's display text (speaker marks and line breaks included), spoken text
 * and sentence index. Two processes that cut the same transcript with the
 * same options get the same digest; the alignment helper checks it.
 * 0 or -ENOMEM. */
int cache_cues_digest(const struct cue_list *cues, char *ret);

/* Fills the cues' times and *ret_scan from DIR/KEY.json. Returns the
 * timing source stored (> 0), -ENOENT when there is no entry, -EBADMSG when
 * the entry does not fit (it is then ignored). Cues are untouched on error. */
int cache_load(const char *dir, const char *key, struct cue_list *cues, struct audio_scan *ret_scan);

/* Stores the cues' times, SCAN and SOURCE under KEY; creates DIR. */
int cache_store(const char *dir, const char *key, const struct cue_list *cues, const struct audio_scan *scan,
                enum timing_source source);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* capfmt.h: timed cues as WebVTT, SRT or the nextup JSON. Pure. */
#pragma once

#include <stdint.h>
#include <stdio.h>

struct cue;
struct cue_list;

/* "HH:MM:SS.mmm" (vtt, sep '.') or "HH:MM:SS,mmm" (srt, sep ','). BUF >= 16. */
void capfmt_timestamp(int64_t ms, char sep, char *buf);

/* Writes one WebVTT cue block (blank-line terminated). */
int capfmt_vtt_cue(FILE *f, const struct cue *c);
int capfmt_vtt(FILE *f, const struct cue_list *l); /* with the WEBVTT header */
int capfmt_srt(FILE *f, const struct cue_list *l);
/* {"title": str|null, "duration_ms": int, "cues": [{"start_ms","end_ms","speaker","text"}]} */
int capfmt_json(FILE *f, const char *title, int64_t duration_ms, const struct cue_list *l);

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* decoder.c: libmpg123 pinned to the daemon's one output format.
 *
 * The format table of every handle holds exactly one entry (RATE, CHANNELS,
 * signed 16 bit), so whatever the file is, mpg123 duplicates or mixes the
 * channels and resamples to that format (2:1 or NtoM as it sees fit;
 * MPG123_FORCE_RATE for a rate that is no MPEG rate). "Trusting mpg123's first output format" is still not
 * done: every MPG123_NEW_FORMAT is checked against the table. Gapless decoding (LAME/Xing encoder delay and
 * padding) is on so frame counts are exact.
 *
 * We open the file ourselves and hand mpg123 the fd: the error a caller
 * sees for a missing or unreadable file is a plain -errno, and a file that
 * holds no MPEG frame fails at decoder_open with -EINVAL because the first
 * frame is probed there. */
#include "decoder.h"

#include <fcntl.h>
#include <math.h>
#include <mpg123.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "fileio.h"
#include "log.h"

/* Consecutive MPG123_ERR returns we ride out before calling a file broken. */
#define DECODER_MAX_ERRORS 16

struct decoder {
        mpg123_handle *mh;
        int fd;
        long rate;
        int channels;
        unsigned n_errors;
        char *path;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(mpg123_handle *, mpg123_delete);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct decoder *, decoder_free);

/* Is RATE one of the native MPEG rates mpg123 knows without NtoM? */
static bool rate_is_native(long rate) {
        const long *list;
        size_t n;

        mpg123_rates(&list, &n);
        for (size_t i = 0; i < n; i++)
                if (list[i] == rate)
                        return true;
        return false;
}

static int handle_new(long rate, int channels, mpg123_handle **ret) {
        _cleanup_(mpg123_deletep) mpg123_handle *mh = NULL;
        int err = MPG123_OK;
        long flags;

        mh = mpg123_new(NULL, &err);
        if (!mh)
                return err == MPG123_OUT_OF_MEM ? -ENOMEM : -EIO;

        /* Quiet: damaged frames are reported by us, once, through log.h. */
        flags = MPG123_GAPLESS | MPG123_QUIET | (channels == 1 ? MPG123_MONO_MIX : MPG123_FORCE_STEREO);
        if (mpg123_param(mh, MPG123_ADD_FLAGS, flags, 0) != MPG123_OK)
                return -EIO;
        /* A native rate needs no forcing: mpg123 picks the 2:1/4:1 or NtoM
         * path from the table. An odd rate (say 44000) must be forced. */
        if (!rate_is_native(rate) && mpg123_param(mh, MPG123_FORCE_RATE, rate, 0) != MPG123_OK)
                return -EINVAL;
        if (mpg123_format_none(mh) != MPG123_OK ||
            mpg123_format(mh, rate, channels == 1 ? MPG123_MONO : MPG123_STEREO, MPG123_ENC_SIGNED_16) !=
                    MPG123_OK)
                return -EINVAL;

        *ret = TAKE_PTR(mh);
        return 0;
}

/* Never blocks on a FIFO; only a regular file will do (mpg123_scan and
 * seeking want one), not one of /proc. */
static int open_readable(const char *path, int *ret_fd) {
        return fileio_open_regular(path, 0, ret_fd, NULL);
}

/* mpg123 hunts for a frame sync anywhere in the first KiB and PCM is full
 * of false syncs: a WAV file would "decode" to loud noise. So files that
 * announce another format by their magic are refused before mpg123 sees
 * them; MPEG audio in a RIFF WAVE (format tag 0x55) is still allowed. */
static int sniff_container(int fd) {
        static const char *const magics[] = {"fLaC", "OggS", "FORM", ".snd", "\x1a\x45\xdf\xa3"};
        unsigned char h[24] = {};
        ssize_t n;

        n = pread(fd, h, sizeof h, 0);
        if (n < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(magics); i++)
                if ((size_t)n >= 4 && memcmp(h, magics[i], 4) == 0)
                        return -EINVAL;
        if (n >= 8 && memcmp(h + 4, "ftyp", 4) == 0)
                return -EINVAL; /* MP4/M4A */
        if (n >= 4 && memcmp(h, "RIFF", 4) == 0) {
                if (n < 22 || memcmp(h + 8, "WAVE", 4) != 0 || memcmp(h + 12, "fmt ", 4) != 0)
                        return -EINVAL;
                if ((h[20] | h[21] << 8) != 0x0055)
                        return -EINVAL; /* PCM or another codec */
        }
        return 0;
}

/* Reads the first frame's header: no MPEG frame, no decoder. */
static int probe_format(struct decoder *d) {
        long rate;
        int channels, enc;

        if (mpg123_getformat(d->mh, &rate, &channels, &enc) != MPG123_OK)
                return -EINVAL;
        if (rate != d->rate || channels != d->channels || enc != MPG123_ENC_SIGNED_16)
                return -EINVAL;
        return 0;
}

int decoder_open(const char *path, long rate, int channels, struct decoder **ret) {
        _cleanup_(decoder_freep) struct decoder *d = NULL;
        int r;

        if (!path || !ret || rate <= 0 || channels < 1 || channels > 2)
                return -EINVAL;

        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->fd = -1;
        d->rate = rate;
        d->channels = channels;
        d->path = strdup(path);
        if (!d->path)
                return -ENOMEM;

        r = open_readable(path, &d->fd);
        if (r < 0)
                return r;
        r = sniff_container(d->fd);
        if (r < 0)
                return r;
        r = handle_new(rate, channels, &d->mh);
        if (r < 0)
                return r;
        if (mpg123_open_fd(d->mh, d->fd) != MPG123_OK)
                return -EINVAL;
        r = probe_format(d);
        if (r < 0)
                return r;
        /* Scan every frame header now (a few ms for a long story): the
         * length is exact, seeks are indexed, and since mpg123 drops LAME
         * gapless info that disagrees with the file (truncated files),
         * the frames decoded are the same whether or not anyone asked for
         * the length first. */
        if (mpg123_scan(d->mh) != MPG123_OK)
                log_warning("'%s': cannot scan the file, its length is an estimate: %s", path,
                            mpg123_strerror(d->mh));

        *ret = TAKE_PTR(d);
        return 0;
}

/* Errors mpg123 cannot get past by reading on. */
static bool error_is_fatal(int code) {
        return code == MPG123_ERR_READER || code == MPG123_OUT_OF_MEM || code == MPG123_NO_READER ||
               code == MPG123_BAD_HANDLE;
}

/* One MPG123_ERR: warn and go on, unless it cannot be recovered from or
 * the file keeps failing. */
static int handle_error(struct decoder *d) {
        int code = mpg123_errcode(d->mh);

        if (error_is_fatal(code) || ++d->n_errors > DECODER_MAX_ERRORS) {
                log_error("'%s': decoding failed: %s", d->path, mpg123_plain_strerror(code));
                return code == MPG123_OUT_OF_MEM ? -ENOMEM : -EIO;
        }
        log_warning("'%s': damaged audio, %s, skipping ahead", d->path, mpg123_plain_strerror(code));
        return 0;
}

ssize_t decoder_read(struct decoder *d, int16_t *pcm, size_t max_frames) {
        size_t frame_bytes = (size_t)d->channels * sizeof(int16_t);

        for (;;) {
                size_t done = 0;
                int r, err;

                err = mpg123_read(d->mh, pcm, max_frames * frame_bytes, &done);
                switch (err) {
                case MPG123_OK:
                        d->n_errors = 0;
                        break;
                case MPG123_NEW_FORMAT:
                        /* Not an end: a format change mid-file. Ours? */
                        r = probe_format(d);
                        if (r < 0)
                                return log_error_errno(-EIO, "'%s': output format changed, stopping",
                                                       d->path);
                        break;
                case MPG123_DONE:
                case MPG123_NEED_MORE:
                        return (ssize_t)(done / frame_bytes);
                default:
                        r = handle_error(d);
                        if (r < 0)
                                return r;
                        break;
                }
                if (done > 0)
                        return (ssize_t)(done / frame_bytes);
        }
}

int decoder_seek(struct decoder *d, int64_t frame) {
        off_t r;

        if (frame < 0)
                return -EINVAL;
        r = mpg123_seek(d->mh, (off_t)frame, SEEK_SET);
        if (r < 0)
                return -EIO;
        return 0;
}

int64_t decoder_length(struct decoder *d) {
        /* Exact: decoder_open ran mpg123_scan. In output samples. */
        off_t n = mpg123_length(d->mh);

        if (n < 0)
                return -EIO;
        return (int64_t)n;
}

struct decoder *decoder_free(struct decoder *d) {
        if (!d)
                return NULL;
        if (d->mh) {
                mpg123_close(d->mh);
                mpg123_delete(d->mh);
        }
        closep(&d->fd);
        free(d->path);
        free(d);
        return NULL;
}

/* The level scan: 10 ms windows, mono, RMS against -45 dBFS. */
struct level_scan {
        int64_t window;      /* frames per window */
        int64_t frames;      /* frames seen so far */
        int64_t in_window;   /* frames in the current window */
        double sum_sq;       /* of the current window */
        double threshold_sq; /* mean square at -45 dBFS */
        int64_t first_voiced;
        int64_t last_voiced;
};

static void level_scan_close_window(struct level_scan *s) {
        if (s->in_window == 0)
                return;
        if (s->sum_sq >= s->threshold_sq * (double)s->in_window) {
                int64_t start = s->frames - s->in_window;

                if (s->first_voiced < 0)
                        s->first_voiced = start;
                s->last_voiced = s->frames - 1;
        }
        s->in_window = 0;
        s->sum_sq = 0;
}

static void level_scan_feed(struct level_scan *s, const int16_t *pcm, size_t n) {
        for (size_t i = 0; i < n; i++) {
                double x = pcm[i];

                s->sum_sq += x * x;
                s->frames++;
                if (++s->in_window == s->window)
                        level_scan_close_window(s);
        }
}

int decoder_scan(const char *path, long rate, struct audio_scan *ret) {
        _cleanup_(decoder_freep) struct decoder *d = NULL;
        _cleanup_free_ int16_t *buf = NULL;
        const size_t buf_frames = 32768;
        double full = 32768.0 * pow(10.0, -45.0 / 20.0);
        struct level_scan s = {
                .window = MAX(rate / 100, 1),
                .threshold_sq = full * full,
                .first_voiced = -1,
                .last_voiced = -1,
        };
        int r;

        r = decoder_open(path, rate, 1, &d);
        if (r < 0)
                return r;
        buf = malloc(buf_frames * sizeof(int16_t));
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = decoder_read(d, buf, buf_frames);

                if (n < 0)
                        return (int)n;
                if (n == 0)
                        break;
                level_scan_feed(&s, buf, (size_t)n);
        }
        level_scan_close_window(&s);
        if (s.frames == 0)
                return -EINVAL;

        *ret = (struct audio_scan){
                .rate = (int)rate,
                .frames = s.frames,
                .first_voiced = s.first_voiced,
                .last_voiced = s.last_voiced,
        };
        return 0;
}

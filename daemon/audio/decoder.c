/* SPDX-License-Identifier: GPL-3.0-or-later */
/* decoder.c: audio files to the daemon's one output format.
 *
 * Two back ends decode at the file's own rate, with the output's channel
 * count, signed 16 bit: libmpg123 for MPEG audio (gapless: LAME/Xing
 * encoder delay and padding are honoured, so frame counts are exact) and
 * libsndfile for WAV, FLAC, AIFF, AU and Ogg. Where the file's rate is not
 * the output's, libsoxr resamples (high quality, no dither), in place of
 * libmpg123's own NtoM resampler and FORCE_RATE, which alias and cannot
 * serve the other formats. The length in output frames is the file's
 * length scaled to the output rate, rounded; decoder_read hands exactly
 * that many frames (the resampler's last frame or two of rounding are cut
 * or padded), so the playout's arithmetic and the scan agree.
 *
 * We open the file ourselves and hand the library the fd: the error a
 * caller sees for a missing or unreadable file is a plain -errno. Which
 * back end reads a file is decided by its magic, not its name; a file
 * neither can read fails at decoder_open with -EINVAL.
 *
 * "Trusting mpg123's first output format" is still not done: every
 * MPG123_NEW_FORMAT is checked against the format of the first frame. */
#include "decoder.h"

#include <fcntl.h>
#include <math.h>
#include <mpg123.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "log.h"

/* Consecutive MPG123_ERR returns we ride out before calling a file broken. */
#define DECODER_MAX_ERRORS 16
/* Frames decoded at a time ahead of the resampler, and per libsndfile read. */
#define CHUNK_FRAMES 4096

enum backend {
        BACKEND_MPG123,
        BACKEND_SNDFILE,
};

struct decoder {
        enum backend backend;
        mpg123_handle *mh;
        SNDFILE *sf;
        int sf_channels; /* the file's channels (libsndfile) */
        int16_t *sf_buf; /* CHUNK_FRAMES at sf_channels, when they differ from ours */
        int fd;
        long rate;    /* output */
        long in_rate; /* the file's */
        int channels;
        unsigned n_errors;
        char *path;
        int64_t length;  /* output frames, -1 unknown */
        int64_t pos;     /* output frames handed (from the last seek) */
        soxr_t rs;       /* NULL when the file is at the output rate */
        int16_t *in_buf; /* decoded at in_rate, not yet resampled */
        size_t in_n, in_off;
        bool in_eof;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(mpg123_handle *, mpg123_delete);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct decoder *, decoder_free);

/* ---- libmpg123 ----------------------------------------------------------- */

/* Any MPEG rate, our channel count, signed 16 bit: mpg123 mixes or
 * duplicates channels but never resamples (the first frame's rate is in
 * the table). */
static int mpg_handle_new(int channels, mpg123_handle **ret) {
        _cleanup_(mpg123_deletep) mpg123_handle *mh = NULL;
        int err = MPG123_OK, enc = channels == 1 ? MPG123_MONO : MPG123_STEREO;
        const long *rates;
        size_t n_rates;
        long flags;

        mh = mpg123_new(NULL, &err);
        if (!mh)
                return err == MPG123_OUT_OF_MEM ? -ENOMEM : -EIO;
        /* Quiet: damaged frames are reported by us, once, through log.h. */
        flags = MPG123_GAPLESS | MPG123_QUIET | (channels == 1 ? MPG123_MONO_MIX : MPG123_FORCE_STEREO);
        if (mpg123_param(mh, MPG123_ADD_FLAGS, flags, 0) != MPG123_OK)
                return -EIO;
        if (mpg123_format_none(mh) != MPG123_OK)
                return -EINVAL;
        mpg123_rates(&rates, &n_rates);
        for (size_t i = 0; i < n_rates; i++)
                if (mpg123_format(mh, rates[i], enc, MPG123_ENC_SIGNED_16) != MPG123_OK)
                        return -EINVAL;
        *ret = TAKE_PTR(mh);
        return 0;
}

/* The first frame's format (no MPEG frame, no decoder); later format
 * changes must keep its rate. */
static int mpg_probe_format(struct decoder *d) {
        long rate;
        int channels, enc;

        if (mpg123_getformat(d->mh, &rate, &channels, &enc) != MPG123_OK)
                return -EINVAL;
        if ((d->in_rate && rate != d->in_rate) || channels != d->channels || enc != MPG123_ENC_SIGNED_16)
                return -EINVAL;
        d->in_rate = rate;
        return 0;
}

static int mpg_open(struct decoder *d) {
        off_t n;
        int r;

        r = mpg_handle_new(d->channels, &d->mh);
        if (r < 0)
                return r;
        if (mpg123_open_fd(d->mh, d->fd) != MPG123_OK)
                return -EINVAL;
        r = mpg_probe_format(d);
        if (r < 0)
                return r;
        /* Scan every frame header now (a few ms for a long story): the
         * length is exact, seeks are indexed, and since mpg123 drops LAME
         * gapless info that disagrees with the file (truncated files),
         * the frames decoded are the same whether or not anyone asked for
         * the length first. */
        if (mpg123_scan(d->mh) != MPG123_OK)
                log_warning("'%s': cannot scan the file, its length is an estimate: %s", d->path,
                            mpg123_strerror(d->mh));
        n = mpg123_length(d->mh);
        if (n < 0)
                return -EIO;
        d->length = n;
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

static ssize_t mpg_read(struct decoder *d, int16_t *pcm, size_t max_frames) {
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
                        r = mpg_probe_format(d);
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

/* ---- libsndfile ---------------------------------------------------------- */

static int sndfile_open(struct decoder *d) {
        SF_INFO info = {};

        d->sf = sf_open_fd(d->fd, SFM_READ, &info, SF_FALSE);
        if (!d->sf) {
                log_debug("'%s': libsndfile: %s", d->path, sf_strerror(NULL));
                return -EINVAL;
        }
        if (info.channels < 1 || info.samplerate <= 0 || info.frames <= 0)
                return -EINVAL;
        /* Float files: full scale is 1.0, not the largest value found. */
        sf_command(d->sf, SFC_SET_SCALE_FLOAT_INT_READ, NULL, SF_TRUE);
        d->sf_channels = info.channels;
        d->in_rate = info.samplerate;
        d->length = info.frames;
        if (d->sf_channels != d->channels) {
                d->sf_buf = malloc((size_t)CHUNK_FRAMES * (size_t)d->sf_channels * sizeof(int16_t));
                if (!d->sf_buf)
                        return -ENOMEM;
        }
        return 0;
}

/* The file's channels to ours: mono is their mean; stereo from mono is
 * the channel twice, from more than two the first two (front left/right
 * in every WAV and FLAC channel order). */
static void mix_channels(const int16_t *in, int in_ch, int16_t *out, int out_ch, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const int16_t *f = in + i * (size_t)in_ch;

                if (out_ch == 1) {
                        int32_t sum = 0;

                        for (int c = 0; c < in_ch; c++)
                                sum += f[c];
                        out[i] = (int16_t)(sum / in_ch);
                } else {
                        out[2 * i] = f[0];
                        out[2 * i + 1] = in_ch == 1 ? f[0] : f[1];
                }
        }
}

static ssize_t sndfile_read(struct decoder *d, int16_t *pcm, size_t max_frames) {
        sf_count_t n;

        if (!d->sf_buf)
                n = sf_readf_short(d->sf, pcm, (sf_count_t)max_frames);
        else {
                n = sf_readf_short(d->sf, d->sf_buf, (sf_count_t)MIN(max_frames, (size_t)CHUNK_FRAMES));
                if (n > 0)
                        mix_channels(d->sf_buf, d->sf_channels, pcm, d->channels, (size_t)n);
        }
        if (n == 0 && sf_error(d->sf) != SF_ERR_NO_ERROR) {
                log_error("'%s': decoding failed: %s", d->path, sf_strerror(d->sf));
                return -EIO;
        }
        return (ssize_t)n;
}

/* ---- common -------------------------------------------------------------- */

static ssize_t backend_read(struct decoder *d, int16_t *pcm, size_t max_frames) {
        return d->backend == BACKEND_MPG123 ? mpg_read(d, pcm, max_frames)
                                            : sndfile_read(d, pcm, max_frames);
}

static int open_readable(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EINVAL; /* scanning and seeking want a regular file */

        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Which back end reads the file, by its magic. mpg123 hunts for a frame
 * sync anywhere in the first KiB and PCM is full of false syncs, so a
 * WAV file must never reach it: it would "decode" to loud noise. MPEG
 * audio in a RIFF WAVE (format tag 0x55) is mpg123's; files of formats
 * neither reads (MP4, Matroska) are refused here. */
static int sniff_container(int fd) {
        static const char *const sndfile_magics[] = {"fLaC", "OggS", "FORM", ".snd"};
        unsigned char h[24] = {};
        ssize_t n;

        n = pread(fd, h, sizeof h, 0);
        if (n < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(sndfile_magics); i++)
                if ((size_t)n >= 4 && memcmp(h, sndfile_magics[i], 4) == 0)
                        return BACKEND_SNDFILE;
        if (n >= 4 && memcmp(h, "\x1a\x45\xdf\xa3", 4) == 0)
                return -EINVAL; /* Matroska/WebM */
        if (n >= 8 && memcmp(h + 4, "ftyp", 4) == 0)
                return -EINVAL; /* MP4/M4A */
        if (n >= 4 && memcmp(h, "RIFF", 4) == 0) {
                if (n < 22 || memcmp(h + 8, "WAVE", 4) != 0 || memcmp(h + 12, "fmt ", 4) != 0)
                        return -EINVAL;
                return (h[20] | h[21] << 8) == 0x0055 ? BACKEND_MPG123 : BACKEND_SNDFILE;
        }
        return BACKEND_MPG123;
}

/* The resampler, when the file's rate is not ours. */
static int resampler_new(struct decoder *d) {
        soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        soxr_error_t err = NULL;

        if (d->in_rate == d->rate)
                return 0;
        io.flags |= SOXR_NO_DITHER; /* silence stays digital silence */
        d->rs = soxr_create((double)d->in_rate, (double)d->rate, (unsigned)d->channels, &err, &io, &q, NULL);
        if (!d->rs)
                return log_error_errno(-ENOMEM, "'%s': cannot resample %ld Hz to %ld Hz: %s", d->path,
                                       d->in_rate, d->rate, err ? err : "?");
        d->in_buf = malloc((size_t)CHUNK_FRAMES * (size_t)d->channels * sizeof(int16_t));
        return d->in_buf ? 0 : -ENOMEM;
}

/* Input frames to output frames, rounded. */
static int64_t to_output_frames(const struct decoder *d, int64_t n) {
        return (int64_t)(((__int128)n * d->rate + d->in_rate / 2) / d->in_rate);
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
        d->length = -1;
        d->path = strdup(path);
        if (!d->path)
                return -ENOMEM;

        r = open_readable(path, &d->fd);
        if (r < 0)
                return r;
        r = sniff_container(d->fd);
        if (r < 0)
                return r;
        d->backend = (enum backend)r;
        r = d->backend == BACKEND_MPG123 ? mpg_open(d) : sndfile_open(d);
        if (r < 0)
                return r;
        r = resampler_new(d);
        if (r < 0)
                return r;
        d->length = to_output_frames(d, d->length);

        *ret = TAKE_PTR(d);
        return 0;
}

/* Through the resampler: decode ahead in chunks, feed, flush at the end. */
static ssize_t resample_read(struct decoder *d, int16_t *pcm, size_t max_frames) {
        for (;;) {
                size_t idone = 0, odone = 0;
                soxr_error_t err;

                if (d->in_off == d->in_n && !d->in_eof) {
                        ssize_t n = backend_read(d, d->in_buf, CHUNK_FRAMES);

                        if (n < 0)
                                return n;
                        d->in_n = (size_t)n;
                        d->in_off = 0;
                        d->in_eof = n == 0;
                }
                /* No input (NULL) tells soxr the input has ended: it flushes. */
                err = soxr_process(d->rs, d->in_eof ? NULL : d->in_buf + d->in_off * (size_t)d->channels,
                                   d->in_eof ? 0 : d->in_n - d->in_off, &idone, pcm, max_frames, &odone);
                if (err)
                        return log_error_errno(-EIO, "'%s': resampling failed: %s", d->path, err);
                d->in_off += idone;
                if (odone > 0)
                        return (ssize_t)odone;
                if (d->in_eof)
                        return 0;
        }
}

ssize_t decoder_read(struct decoder *d, int16_t *pcm, size_t max_frames) {
        int64_t left = d->length - d->pos;
        ssize_t n;

        if (!d->rs)
                n = backend_read(d, pcm, max_frames);
        else {
                /* The resampler's flush may round a frame or two past the
                 * length, or short of it: cut or pad those, so that what is
                 * read is exactly decoder_length. (A file that ends early,
                 * damaged or truncated, just ends.) */
                n = resample_read(d, pcm, max_frames);
                if (n > 0 && d->in_eof && d->pos + n > d->length)
                        n = (ssize_t)MAX(left, 0);
                else if (n == 0 && left > 0 && left <= 4) {
                        n = (ssize_t)MIN((int64_t)max_frames, left);
                        memset(pcm, 0, (size_t)n * (size_t)d->channels * sizeof(int16_t));
                }
        }
        if (n > 0)
                d->pos += n;
        return n;
}

int decoder_seek(struct decoder *d, int64_t frame) {
        int64_t in = frame;

        if (frame < 0)
                return -EINVAL;
        if (d->rs) /* the output frame's place in the file */
                in = (int64_t)(((__int128)frame * d->in_rate + d->rate / 2) / d->rate);
        if (d->backend == BACKEND_MPG123 ? mpg123_seek(d->mh, (off_t)in, SEEK_SET) < 0
                                         : sf_seek(d->sf, (sf_count_t)in, SEEK_SET) < 0)
                return -EIO;
        if (d->rs) {
                soxr_clear(d->rs);
                d->in_n = d->in_off = 0;
                d->in_eof = false;
        }
        d->pos = frame;
        return 0;
}

int64_t decoder_length(struct decoder *d) {
        /* Exact for MPEG (decoder_open ran mpg123_scan) and for the
         * formats libsndfile reads, scaled to the output rate. */
        return d->length;
}

struct decoder *decoder_free(struct decoder *d) {
        if (!d)
                return NULL;
        if (d->mh) {
                mpg123_close(d->mh);
                mpg123_delete(d->mh);
        }
        if (d->sf)
                sf_close(d->sf);
        if (d->rs)
                soxr_delete(d->rs);
        free(d->in_buf);
        free(d->sf_buf);
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

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* output.c: the libao device, see output.h.
 *
 * Real devices block in ao_play at the pace of the sound card. The null
 * driver and the file drivers (wav, raw, au) take data as fast as we give
 * it, so for them we pace ourselves: after handing N frames since the pace
 * started at t0, sleep (absolute, CLOCK_MONOTONIC) until t0 + N/rate. The
 * frames handed thus never run more than one buffer ahead of real time,
 * which is what the audio clock and the captions expect of a device.
 *
 * "default" means libao's default driver. When there is none, or the
 * device cannot be opened, that is an error: a station must not believe it
 * is on air when it is not. Only output.fallback = "null" (spec
 * fallback_null) asks for a paced null output instead, e.g. to run the
 * clock and captions on a server with no sound card.
 *
 * A device that fails on air (unplugged, the sound server gone) is closed
 * and reopened by output_reopen(), called by the playout thread at its own
 * pace; the options it was opened with are kept for that. */
#include "output.h"

#include <alsa/asoundlib.h>
#include <ao/ao.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aclock.h"
#include "cleanup.h"
#include "log.h"
#include "timeutil.h"

/* Further behind than this, a paced output restarts its pace rather than
 * rush the backlog out, as a real device would after an underrun. */
#define PACE_MAX_LAG_NS (200 * 1000000LL)

struct output {
        ao_device *dev; /* NULL while down (between a failure and a reopen) */
        int id;         /* libao driver id, for output_reopen */
        ao_option *opts;
        char *driver;
        bool paced;
        int rate;
        int channels;
        uint64_t pace_start_ns;
        int64_t pace_frames; /* frames handed since pace_start_ns; 0 = restart */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct output *, output_free);

static const char *ao_error_to_string(int e) {
        switch (e) {
        case AO_ENODRIVER:
                return "no driver with that id";
        case AO_ENOTFILE:
                return "driver is not a file output";
        case AO_ENOTLIVE:
                return "driver is not a live output";
        case AO_EBADOPTION:
                return "bad option value";
        case AO_EOPENDEVICE:
                return "cannot open the device";
        case AO_EOPENFILE:
                return "cannot open the file";
        case AO_EFILEEXISTS:
                return "file exists";
        case AO_EBADFORMAT:
                return "sample format not supported";
        default:
                return "unknown libao failure";
        }
}

static void ao_free_optionsp(ao_option **o) {
        ao_free_options(*o);
}

static int options_build(const struct output_spec *spec, ao_option **ret) {
        ao_option *opts = NULL;

        for (size_t i = 0; i < spec->n_options; i++)
                if (!ao_append_option(&opts, spec->options[i].key, spec->options[i].value)) {
                        ao_free_options(opts);
                        return -ENOMEM;
                }
        *ret = opts;
        return 0;
}

/* Opens driver ID as the spec says: live, or a file driver onto spec->file.
 * Why libao failed is logged at LOG_LEVEL (a warning when we fall back). */
static int device_open(const struct output_spec *spec, int id, ao_option *opts, int log_level,
                       ao_device **ret) {
        ao_sample_format fmt = {
                .bits = 16,
                .rate = spec->rate,
                .channels = spec->channels,
                .byte_format = AO_FMT_NATIVE,
                .matrix = spec->channels == 1 ? (char *)"M" : (char *)"L,R",
        };
        ao_info *info = ao_driver_info(id);
        ao_device *dev;

        if (!info)
                return -ENODEV;
        if (info->type == AO_TYPE_FILE) {
                if (!spec->file)
                        return log_error_errno(-EINVAL,
                                               "Output driver '%s' writes a file, but no file is set",
                                               info->short_name);
                dev = ao_open_file(id, spec->file, 1, &fmt, opts);
        } else
                dev = ao_open_live(id, &fmt, opts);
        if (!dev) {
                int e = errno;

                log_full_errno(log_level, 0, "Failed to open output driver '%s'%s%s%s: %s", info->short_name,
                               spec->file && info->type == AO_TYPE_FILE ? " onto '" : "",
                               spec->file && info->type == AO_TYPE_FILE ? spec->file : "",
                               spec->file && info->type == AO_TYPE_FILE ? "'" : "", ao_error_to_string(e));
                return e == AO_ENODRIVER ? -ENODEV : -EIO;
        }
        *ret = dev;
        return 0;
}

__attribute__((format(printf, 5, 6))) static void
alsa_error(const char *file, int line, const char *function, int err, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (err)
                log_debug("ALSA: %s: %s: %s", function, msg, snd_strerror(err));
        else
                log_debug("ALSA: %s: %s", function, msg);
}

void output_log_alsa(void) {
        /* The handler is process-wide: libao's alsa plugin, loaded later,
         * uses the same libasound. */
        (void)snd_lib_error_set_handler(alsa_error);
}

int output_driver_known(const char *name) {
        if (!name || strcmp(name, "default") == 0)
                return 1;
        if (ao_driver_id("null") < 0) /* built into libao: not initialised yet */
                return -EAGAIN;
        return ao_driver_id(name) >= 0;
}

/* Resolves spec->driver to a libao id: -ENODEV when there is none. */
static int driver_resolve(const char *name) {
        int id;

        if (name && strcmp(name, "default") != 0) {
                id = ao_driver_id(name);
                if (id < 0)
                        return log_error_errno(-ENODEV, "Unknown output driver '%s'", name);
                return id;
        }
        id = ao_default_driver_id();
        return id < 0 ? -ENODEV : id; /* no device at all: the caller says so */
}

/* The open that failed: output.fallback = "null" takes a paced null
 * output, saying so; otherwise the caller reports the error. */
static int open_fallback(const struct output_spec *spec, int r, int *id, ao_device **dev) {
        if (!spec->fallback_null || r == -ENOMEM)
                return r;
        if (*id >= 0 && ao_driver_info(*id)->type == AO_TYPE_FILE)
                return r; /* a file that cannot be written is not a missing device */
        log_warning("Output device unavailable, using a paced 'null' output instead (output.fallback)");
        *id = ao_driver_id("null");
        if (*id < 0)
                return -ENODEV;
        return device_open(spec, *id, NULL, LOG_ERR, dev);
}

int output_open(const struct output_spec *spec, struct output **ret) {
        _cleanup_(output_freep) struct output *o = NULL;
        _cleanup_(ao_free_optionsp) ao_option *opts = NULL;
        ao_device *dev = NULL;
        int id, r;

        if (spec->rate <= 0 || spec->channels < 1 || spec->channels > 2)
                return -EINVAL;
        r = options_build(spec, &opts);
        if (r < 0)
                return r;
        id = driver_resolve(spec->driver);
        r = id < 0 ? id : device_open(spec, id, opts, spec->fallback_null ? LOG_WARNING : LOG_ERR, &dev);
        if (r < 0)
                r = open_fallback(spec, r, &id, &dev);
        if (r < 0)
                return r;

        o = calloc(1, sizeof *o);
        if (!o) {
                ao_close(dev);
                return -ENOMEM;
        }
        o->dev = dev;
        o->id = id;
        o->rate = spec->rate;
        o->channels = spec->channels;
        o->driver = strdup(ao_driver_info(id)->short_name);
        if (!o->driver)
                return -ENOMEM;
        o->opts = TAKE_PTR(opts);
        o->paced = strcmp(o->driver, "null") == 0 || ao_driver_info(id)->type == AO_TYPE_FILE;
        *ret = TAKE_PTR(o);
        return 0;
}

int output_reopen(struct output *o) {
        struct output_spec spec = {.rate = o->rate, .channels = o->channels};
        ao_device *dev = NULL;
        int r;

        if (ao_driver_info(o->id)->type == AO_TYPE_FILE)
                return -EIO; /* a file driver's file would be truncated */
        if (o->dev) {
                ao_close(o->dev);
                o->dev = NULL;
        }
        r = device_open(&spec, o->id, o->opts, LOG_DEBUG, &dev);
        if (r < 0)
                return -EIO;
        o->dev = dev;
        o->pace_frames = 0;
        return 0;
}

static void sleep_until_ns(uint64_t t) {
        struct timespec ts = {
                .tv_sec = (time_t)(t / NSEC_PER_SEC),
                .tv_nsec = (long)(t % NSEC_PER_SEC),
        };

        /* EINTR: just sleep again towards the same absolute time. */
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

/* After FRAMES more were handed: sleep until real time has caught up. */
static void pace(struct output *o, size_t frames) {
        uint64_t now = aclock_now_ns(), due;

        if (o->pace_frames == 0)
                o->pace_start_ns = now;
        o->pace_frames += (int64_t)frames;
        due = o->pace_start_ns + (uint64_t)((__int128)o->pace_frames * NSEC_PER_SEC / o->rate);
        if (due + PACE_MAX_LAG_NS < now) {
                log_debug("Paced output %lld ms behind, restarting its pace",
                          (long long)((now - due) / 1000000));
                o->pace_start_ns = now;
                o->pace_frames = (int64_t)frames;
                due = now + (uint64_t)((__int128)frames * NSEC_PER_SEC / o->rate);
        }
        sleep_until_ns(due);
}

int output_play(struct output *o, const int16_t *pcm, size_t frames) {
        size_t bytes = frames * (size_t)o->channels * sizeof(int16_t);

        if (frames == 0)
                return 0;
        if (!o->dev)
                return -EIO;
        /* ao_play wants a non-const buffer but does not write to it. */
        if (ao_play(o->dev, (char *)(uintptr_t)pcm, (uint_32)bytes) == 0)
                return -EIO;
        if (o->paced)
                pace(o, frames);
        return 0;
}

void output_reset_pace(struct output *o) {
        o->pace_frames = 0;
}

bool output_next_frame_ns(const struct output *o, uint64_t *ret_ns) {
        if (!o->paced || o->pace_frames == 0)
                return false;
        *ret_ns = o->pace_start_ns + (uint64_t)((__int128)o->pace_frames * NSEC_PER_SEC / o->rate);
        return true;
}

bool output_is_paced(const struct output *o) {
        return o->paced;
}

const char *output_driver_name(const struct output *o) {
        return o->driver;
}

struct output *output_free(struct output *o) {
        if (!o)
                return NULL;
        /* For file drivers ao_close also writes the final header sizes. */
        if (o->dev)
                ao_close(o->dev);
        ao_free_options(o->opts);
        free(o->driver);
        free(o);
        return NULL;
}

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
 * "default" means libao's default driver; when there is none, or it cannot
 * be opened (a server with no sound card), we fall back to a paced null
 * output with a warning, so the daemon still airs its clock and captions. */
#include "output.h"

#include <ao/ao.h>
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
        ao_device *dev;
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
static int device_open(const struct output_spec *spec, int id, int log_level, ao_device **ret) {
        _cleanup_(ao_free_optionsp) ao_option *opts = NULL;
        ao_sample_format fmt = {
                .bits = 16,
                .rate = spec->rate,
                .channels = spec->channels,
                .byte_format = AO_FMT_NATIVE,
                .matrix = spec->channels == 1 ? (char *)"M" : (char *)"L,R",
        };
        ao_info *info = ao_driver_info(id);
        ao_device *dev;
        int r;

        if (!info)
                return -ENODEV;
        r = options_build(spec, &opts);
        if (r < 0)
                return r;
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

/* Resolves spec->driver to a libao id; "default" may fall back to null. */
static int driver_resolve(const char *name, bool *ret_is_default) {
        int id;

        *ret_is_default = !name || strcmp(name, "default") == 0;
        if (!*ret_is_default) {
                id = ao_driver_id(name);
                if (id < 0)
                        return log_error_errno(-ENODEV, "Unknown output driver '%s'", name);
                return id;
        }
        id = ao_default_driver_id();
        if (id < 0) {
                log_warning("No default libao output device, using a paced 'null' output instead");
                id = ao_driver_id("null");
        }
        return id < 0 ? -ENODEV : id;
}

int output_open(const struct output_spec *spec, struct output **ret) {
        _cleanup_(output_freep) struct output *o = NULL;
        ao_device *dev = NULL;
        bool is_default;
        int id, r;

        if (spec->rate <= 0 || spec->channels < 1 || spec->channels > 2)
                return -EINVAL;
        id = driver_resolve(spec->driver, &is_default);
        if (id < 0)
                return id;
        r = device_open(spec, id, is_default ? LOG_WARNING : LOG_ERR, &dev);
        if (r < 0 && is_default && r != -ENOMEM) {
                log_warning("Default output device unavailable, using a paced 'null' output instead");
                id = ao_driver_id("null");
                if (id < 0)
                        return -ENODEV;
                r = device_open(spec, id, LOG_ERR, &dev);
        }
        if (r < 0)
                return r;

        o = calloc(1, sizeof *o);
        if (!o) {
                ao_close(dev);
                return -ENOMEM;
        }
        o->dev = dev;
        o->rate = spec->rate;
        o->channels = spec->channels;
        o->driver = strdup(ao_driver_info(id)->short_name);
        if (!o->driver)
                return -ENOMEM;
        o->paced = strcmp(o->driver, "null") == 0 || ao_driver_info(id)->type == AO_TYPE_FILE;
        *ret = TAKE_PTR(o);
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
        free(o->driver);
        free(o);
        return NULL;
}

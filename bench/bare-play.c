/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bare-play.c: bench-bare-play FILE [DRIVER]
 *
 * The CPU baseline for the playout benchmark: the least a player can do.
 * libmpg123 decodes FILE to the daemon's format (44.1 kHz, stereo, s16,
 * gapless) in 20 ms buffers and libao plays them (driver "null" unless
 * DRIVER names a live one). The null driver is paced as the daemon paces
 * it: an absolute CLOCK_MONOTONIC sleep after every buffer. At the end it
 * prints frames, wall time and CPU time (user + system) on stdout. */
#include <ao/ao.h>
#include <errno.h>
#include <mpg123.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define RATE 44100
#define CHANNELS 2
#define BUF_FRAMES (RATE / 50)

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t) {
        struct timespec ts = {.tv_sec = (time_t)(t / 1000000000ULL), .tv_nsec = (long)(t % 1000000000ULL)};

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

static mpg123_handle *decoder_open(const char *path) {
        mpg123_handle *mh = mpg123_new(NULL, NULL);

        if (!mh)
                return NULL;
        mpg123_param(mh, MPG123_ADD_FLAGS, MPG123_GAPLESS | MPG123_QUIET | MPG123_FORCE_STEREO, 0);
        mpg123_format_none(mh);
        if (mpg123_format(mh, RATE, MPG123_STEREO, MPG123_ENC_SIGNED_16) != MPG123_OK ||
            mpg123_open(mh, path) != MPG123_OK) {
                fprintf(stderr, "'%s': %s\n", path, mpg123_strerror(mh));
                mpg123_delete(mh);
                return NULL;
        }
        return mh;
}

static ao_device *device_open(const char *driver, int *ret_paced) {
        ao_sample_format fmt = {
                .bits = 16,
                .rate = RATE,
                .channels = CHANNELS,
                .byte_format = AO_FMT_NATIVE,
                .matrix = (char *)"L,R",
        };
        int id = ao_driver_id(driver);
        ao_device *dev;

        if (id < 0 || ao_driver_info(id)->type != AO_TYPE_LIVE) {
                fprintf(stderr, "'%s': no such live libao driver\n", driver);
                return NULL;
        }
        dev = ao_open_live(id, &fmt, NULL);
        if (!dev)
                fprintf(stderr, "'%s': cannot open (libao error %d)\n", driver, errno);
        *ret_paced = strcmp(driver, "null") == 0;
        return dev;
}

/* Decode -> play -> (pace) until the end; returns frames played or -1. */
static long long play(mpg123_handle *mh, ao_device *dev, int paced) {
        static int16_t buf[BUF_FRAMES * CHANNELS];
        uint64_t t0 = now_ns();
        long long frames = 0;
        int errors = 0;

        for (;;) {
                size_t done = 0;
                int err = mpg123_read(mh, buf, sizeof buf, &done);

                /* Damaged data: mpg123 resyncs on the next read. */
                if (err == MPG123_ERR && ++errors <= 16)
                        continue;
                if (err != MPG123_OK && err != MPG123_NEW_FORMAT && err != MPG123_DONE) {
                        fprintf(stderr, "decoding failed: %s\n", mpg123_strerror(mh));
                        return -1;
                }
                errors = 0;
                if (done > 0) {
                        if (!ao_play(dev, (char *)buf, (uint_32)done)) {
                                fprintf(stderr, "ao_play failed\n");
                                return -1;
                        }
                        frames += (long long)(done / (CHANNELS * sizeof(int16_t)));
                        if (paced)
                                sleep_until(t0 + (uint64_t)frames * 1000000000ULL / RATE);
                }
                if (err == MPG123_DONE)
                        return frames;
        }
}

int main(int argc, char **argv) {
        mpg123_handle *mh = NULL;
        ao_device *dev = NULL;
        struct rusage ru;
        uint64_t t0;
        long long frames;
        int paced = 0, r = 1;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: %s FILE [DRIVER]\n", argv[0]);
                return 2;
        }
        mpg123_init();
        ao_initialize();
        mh = decoder_open(argv[1]);
        if (mh)
                dev = device_open(argc > 2 ? argv[2] : "null", &paced);
        if (dev) {
                t0 = now_ns();
                frames = play(mh, dev, paced);
                getrusage(RUSAGE_SELF, &ru);
                if (frames >= 0) {
                        printf("frames %lld wall_s %.3f cpu_s %.3f\n", frames, (double)(now_ns() - t0) / 1e9,
                               (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
                        r = 0;
                }
                ao_close(dev);
        }
        if (mh)
                mpg123_delete(mh);
        ao_shutdown();
        mpg123_exit();
        return r;
}

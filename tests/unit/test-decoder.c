/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-decoder.c: the decoder on small carried MP3s (exact gapless
 * lengths, resampling, channel conversion, level scan, bad input), and the
 * playout thread on top of it writing a WAV file: consecutive items join
 * without gap or padding, events and frame counts add up.
 *
 * Fixtures (tests/fixtures/), made with sox + lame 3.100 (LAME tag kept,
 * so mpg123 knows encoder delay and padding):
 *   tone-1s.mp3       44.1 kHz mono: 0.25 s silence, 0.5 s 440 Hz at -6 dBFS, 0.25 s silence
 *   tone-1s-22050.mp3 22.05 kHz mono, 1 s 440 Hz      (lame -b 56 --resample 22.05)
 *   tone-0.5s-48000-stereo.mp3 48 kHz stereo, 0.5 s     (lame -b 64 --resample 48)
 *   tone-0.2s.mp3     44.1 kHz mono, 0.2 s 880 Hz       (lame -b 64) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ao/ao.h>
#include <fcntl.h>
#include <math.h>
#include <mpg123.h>
#include <poll.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aclock.h"
#include "cleanup.h"
#include "decoder.h"
#include "output.h"
#include "playout.h"
#include "playout-fixture.h"

static void write_file(const char *path, const void *data, size_t n) {
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
}

/* The first N bytes of a fixture: a truncated MP3. */
static void write_head_of(const char *src, const char *dst, size_t n) {
        char buf[16384];
        FILE *f = fopen(src, "re");
        size_t got;

        assert_non_null(f);
        got = fread(buf, 1, MIN(n, sizeof buf), f);
        fclose(f);
        assert_true(got > 0);
        write_file(dst, buf, got);
}

/* Decodes to the end; returns the frame count; *ret_peak the max |sample|
 * between frames [from, to). */
static int64_t decode_all(struct decoder *d, int channels, int64_t from, int64_t to, int *ret_peak,
                          bool *ret_lr_equal) {
        int16_t buf[4096 * 2];
        int64_t total = 0;
        ssize_t n;
        int peak = 0;
        bool equal = true;

        while ((n = decoder_read(d, buf, 4096)) > 0) {
                for (ssize_t i = 0; i < n; i++) {
                        int64_t f = total + i;

                        if (channels == 2 && buf[2 * i] != buf[2 * i + 1])
                                equal = false;
                        if (f >= from && f < to && abs(buf[i * channels]) > peak)
                                peak = abs(buf[i * channels]);
                }
                total += n;
        }
        assert_int_equal(n, 0); /* a clean end, not an error */
        if (ret_peak)
                *ret_peak = peak;
        if (ret_lr_equal)
                *ret_lr_equal = equal;
        return total;
}

static void test_exact_length(void **state) {
        struct decoder *d = NULL;
        int peak_silence, peak_tone;
        bool lr_equal;

        /* Mono 44.1 kHz file, stereo output: gapless length exact, the mono
         * channel duplicated, silence silent, tone at about -6 dBFS. */
        assert_int_equal(decoder_open(fixture("tone-1s.mp3"), RATE, 2, &d), 0);
        assert_int_equal(decoder_length(d), 44100);
        assert_int_equal(decode_all(d, 2, 0, 9000, &peak_silence, &lr_equal), 44100);
        assert_true(lr_equal);
        assert_true(peak_silence < 100);
        decoder_free(d);

        assert_int_equal(decoder_open(fixture("tone-1s.mp3"), RATE, 2, &d), 0);
        assert_int_equal(decode_all(d, 2, 15000, 30000, &peak_tone, NULL), 44100);
        assert_true(peak_tone > 14000 && peak_tone < 19000);
        assert_null(decoder_free(d));
        assert_null(decoder_free(NULL));
}

static void test_resample(void **state) {
        struct decoder *d = NULL;
        int64_t n;

        /* 22050 -> 44100 doubles the frames (1 s). */
        assert_int_equal(decoder_open(fixture("tone-1s-22050.mp3"), RATE, 2, &d), 0);
        n = decode_all(d, 2, 0, 0, NULL, NULL);
        assert_true(llabs(n - 44100) <= 2);
        assert_int_equal(decoder_length(d), n);
        decoder_free(d);

        /* 48000 stereo -> 44100 mono: 0.5 s -> 22050 frames. */
        assert_int_equal(decoder_open(fixture("tone-0.5s-48000-stereo.mp3"), RATE, 1, &d), 0);
        assert_int_equal(decoder_length(d), 22050);
        assert_int_equal(decode_all(d, 1, 0, 0, NULL, NULL), 22050);
        decoder_free(d);

        /* A rate that is no MPEG rate at all: resampled too. */
        assert_int_equal(decoder_open(fixture("tone-1s.mp3"), 44000, 2, &d), 0);
        n = decode_all(d, 2, 0, 0, NULL, NULL);
        assert_true(llabs(n - 44000) <= 2);
        decoder_free(d);
}

static void test_seek(void **state) {
        struct decoder *d = NULL;

        assert_int_equal(decoder_open(fixture("tone-1s.mp3"), RATE, 2, &d), 0);
        assert_int_equal(decoder_seek(d, 22050), 0);
        assert_int_equal(decode_all(d, 2, 0, 0, NULL, NULL), 22050);
        assert_int_equal(decoder_seek(d, -1), -EINVAL);
        decoder_free(d);
}

static void test_scan(void **state) {
        struct audio_scan s;

        assert_int_equal(decoder_scan(fixture("tone-1s.mp3"), RATE, &s), 0);
        assert_int_equal(s.rate, RATE);
        assert_int_equal(s.frames, 44100);
        /* Tone from 0.25 s to 0.75 s; windows are 441 frames. */
        assert_true(llabs(s.first_voiced - 11025) <= 441);
        assert_true(llabs(s.last_voiced - 33074) <= 441);
        assert_true(s.first_voiced < s.last_voiced);

        assert_int_equal(decoder_scan(fixture("tone-1s-22050.mp3"), 22050, &s), 0);
        assert_int_equal(s.frames, 22050);
        assert_int_equal(s.rate, 22050);

        assert_int_equal(decoder_scan(tmpfile_path("missing.mp3"), RATE, &s), -ENOENT);
}

static void test_scan_silence(void **state) {
        /* Only silence: no voiced window. The first 0.25 s of tone-1s is
         * digital silence, so scan a truncated copy holding only that. */
        struct audio_scan s;
        const char *p = tmpfile_path("silent.mp3");

        write_head_of(fixture("tone-1s.mp3"), p, 1500); /* ~0.17 s of frames */
        assert_int_equal(decoder_scan(p, RATE, &s), 0);
        assert_true(s.frames > 0 && s.frames < 11025);
        assert_int_equal(s.first_voiced, -1);
}

static void test_bad_input(void **state) {
        struct decoder *d = NULL;
        unsigned char junk[20000];
        struct audio_scan s;
        uint32_t x = 12345;

        write_file(tmpfile_path("zero.mp3"), "", 0);
        assert_int_equal(decoder_open(tmpfile_path("zero.mp3"), RATE, 2, &d), -EINVAL);
        assert_int_equal(decoder_scan(tmpfile_path("zero.mp3"), RATE, &s), -EINVAL);

        for (size_t i = 0; i < sizeof junk; i++) { /* fixed-seed xorshift */
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                junk[i] = (unsigned char)x;
        }
        write_file(tmpfile_path("garbage.mp3"), junk, sizeof junk);
        assert_int_equal(decoder_open(tmpfile_path("garbage.mp3"), RATE, 2, &d), -EINVAL);

        write_file(tmpfile_path("text.mp3"), "Play Live Radio\nNext Up:\n", 25);
        assert_int_equal(decoder_open(tmpfile_path("text.mp3"), RATE, 2, &d), -EINVAL);

        assert_int_equal(decoder_open(tmpfile_path("missing.mp3"), RATE, 2, &d), -ENOENT);
        assert_int_equal(decoder_open(tmpdir, RATE, 2, &d), -EISDIR);
        assert_null(d);
}

/* Writes SECONDS of a FREQ Hz sine at RATE (every channel the same) with
 * libsndfile in FORMAT. */
static void write_tone(const char *path, int format, int rate, int channels, double freq, double seconds) {
        SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
        int64_t n = (int64_t)(rate * seconds);
        int16_t *pcm = calloc((size_t)(n * channels), sizeof *pcm);
        SNDFILE *sf;

        assert_non_null(pcm);
        for (int64_t i = 0; i < n; i++)
                for (int c = 0; c < channels; c++)
                        pcm[i * channels + c] = (int16_t)(16000 * sin(2 * M_PI * freq * (double)i / rate));
        sf = sf_open(path, SFM_WRITE, &info);
        assert_non_null(sf);
        assert_int_equal(sf_writef_short(sf, pcm, n), n);
        assert_int_equal(sf_close(sf), 0);
        free(pcm);
}

/* Decodes all of D (mono): frames, peak, and upward zero crossings. */
static int64_t decode_tone(struct decoder *d, int *ret_peak, int *ret_crossings) {
        int16_t buf[4096], prev = 0;
        int64_t total = 0;
        int peak = 0, crossings = 0;
        ssize_t n;

        while ((n = decoder_read(d, buf, ELEMENTSOF(buf))) > 0) {
                for (ssize_t i = 0; i < n; i++) {
                        peak = MAX(peak, abs(buf[i]));
                        crossings += prev < 0 && buf[i] >= 0;
                        prev = buf[i];
                }
                total += n;
        }
        assert_int_equal(n, 0);
        *ret_peak = peak;
        *ret_crossings = crossings;
        return total;
}

/* A PCM WAV at the output rate plays bit for bit (mpg123, which would
 * find false syncs in it and play noise, never sees it). */
static void test_wav(void **state) {
        const char *p = tmpfile_path("tone.wav");
        struct decoder *d = NULL;
        int16_t buf[2 * 4096];
        int64_t i = 0;
        ssize_t n;

        write_tone(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, RATE, 1, 440, 1.0);
        assert_int_equal(decoder_open(p, RATE, 2, &d), 0);
        assert_int_equal(decoder_length(d), RATE);
        while ((n = decoder_read(d, buf, 4096)) > 0)
                for (ssize_t k = 0; k < n; k++, i++) {
                        int16_t want = (int16_t)(16000 * sin(2 * M_PI * 440 * (double)i / RATE));

                        assert_int_equal(buf[2 * k], want);
                        assert_int_equal(buf[2 * k + 1], want);
                }
        assert_int_equal(n, 0);
        assert_int_equal(i, RATE);
        decoder_free(d);
}

/* FLAC at other rates goes through the resampler: exact lengths at the
 * output rate, the pitch kept (zero crossings), the level kept, seeks. */
static void test_flac_resampled(void **state) {
        const char *p48 = tmpfile_path("tone-48k.flac"), *p22 = tmpfile_path("tone-22k.flac");
        struct decoder *d = NULL;
        int peak, crossings;

        write_tone(p48, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 2, 1000, 1.0);
        assert_int_equal(decoder_open(p48, RATE, 1, &d), 0);
        assert_int_equal(decoder_length(d), RATE);
        assert_int_equal(decode_tone(d, &peak, &crossings), RATE);
        assert_true(abs(crossings - 1000) <= 1);
        assert_true(peak > 15500 && peak < 16500);
        decoder_free(d);

        write_tone(p22, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 1, 440, 1.0);
        assert_int_equal(decoder_open(p22, RATE, 1, &d), 0);
        assert_int_equal(decoder_length(d), RATE);
        assert_int_equal(decoder_seek(d, RATE / 2), 0);
        assert_int_equal(decode_tone(d, &peak, &crossings), RATE / 2);
        assert_true(abs(crossings - 220) <= 1);
        assert_true(peak > 15500 && peak < 16500);
        decoder_free(d);

        /* A file that claims to be FLAC but is not: refused at open. */
        write_file(tmpfile_path("fake.flac"), "fLaC and then nothing", 21);
        assert_int_equal(decoder_open(tmpfile_path("fake.flac"), RATE, 2, &d), -EINVAL);
}

static void test_unreadable(void **state) {
        struct decoder *d = NULL;
        const char *p = tmpfile_path("secret.mp3");

        if (geteuid() == 0)
                skip(); /* root reads anything */
        write_head_of(fixture("tone-1s.mp3"), p, 8567);
        assert_int_equal(chmod(p, 0), 0);
        assert_int_equal(decoder_open(p, RATE, 2, &d), -EACCES);
}

static void test_truncated(void **state) {
        struct decoder *d = NULL;
        const char *p = tmpfile_path("truncated.mp3");
        int64_t n;

        /* 3000 of 8567 bytes: plays what it has, then a clean end. */
        write_head_of(fixture("tone-1s.mp3"), p, 3000);
        assert_int_equal(decoder_open(p, RATE, 2, &d), 0);
        n = decode_all(d, 2, 0, 0, NULL, NULL);
        assert_true(n > 10000 && n < 44100);
        assert_int_equal(decoder_read(d, (int16_t[2]){}, 1), 0); /* stays at the end */
        decoder_free(d);

        /* The length agrees with what is decoded. */
        assert_int_equal(decoder_open(p, RATE, 2, &d), 0);
        assert_int_equal(decoder_length(d), n);
        assert_int_equal(decode_all(d, 2, 0, 0, NULL, NULL), n);
        decoder_free(d);
}

static void test_damaged_middle(void **state) {
        char buf[8567];
        FILE *f = fopen(fixture("tone-1s.mp3"), "re");
        struct decoder *d = NULL;
        int64_t n;

        /* 3 KB of junk in the middle: mpg123 resyncs, we warn and go on. */
        assert_non_null(f);
        assert_int_equal(fread(buf, 1, sizeof buf, f), sizeof buf);
        fclose(f);
        memset(buf + 2000, 'x', 3000);
        write_file(tmpfile_path("damaged.mp3"), buf, sizeof buf);
        assert_int_equal(decoder_open(tmpfile_path("damaged.mp3"), RATE, 2, &d), 0);
        n = decode_all(d, 2, 0, 0, NULL, NULL);
        assert_true(n > 15000 && n < 44100);
        decoder_free(d);
}

/* ---- the playout thread writing a WAV file ---- */

/* The WAV data chunk size, found by walking the chunks. */
static long wav_data_bytes(const char *path) {
        unsigned char h[12];
        FILE *f = fopen(path, "re");
        long r = -1;

        assert_non_null(f);
        assert_int_equal(fread(h, 1, 12, f), 12);
        while (fread(h, 1, 8, f) == 8) {
                uint32_t size = h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24;

                if (memcmp(h, "data", 4) == 0) {
                        r = (long)size;
                        break;
                }
                fseek(f, size, SEEK_CUR);
        }
        fclose(f);
        return r;
}

static void test_playout_gapless_wav(void **state) {
        const char *wav = tmpfile_path("air.wav");
        struct playout_event started1, ended1, started2, ended2, failed;
        struct aclock *clock = NULL;
        struct aclock_sample s;
        struct playout *p;

        p = start_playout("wav", wav, &clock);
        /* Cued while idle: starts at once; the second joins it gaplessly. */
        assert_int_equal(playout_cue_from(p, 1, fixture("tone-0.2s.mp3"), 0), 0);
        assert_int_equal(playout_cue_from(p, 2, fixture("tone-0.5s-48000-stereo.mp3"), 0), 0);
        expect_event(p, PLAYOUT_STARTED, 1, &started1);
        assert_int_equal(started1.frames, 8820);
        expect_event(p, PLAYOUT_ENDED, 1, &ended1);
        assert_int_equal(ended1.reason, PLAYOUT_END_COMPLETE);
        assert_int_equal(ended1.frames, 8820);
        expect_event(p, PLAYOUT_STARTED, 2, &started2);
        assert_int_equal(started2.frames, 22050);
        /* Frame 0 of item 2 went out right where item 1's last did. */
        assert_int_equal(started2.mono_ns, ended1.mono_ns);
        /* 0.2 s apart, give or take scheduling jitter. */
        assert_true(llabs((long long)(ended1.mono_ns - started1.mono_ns) - 200000000LL) < 3 * WAKE_SLACK_NS);

        /* The loop cues the next (missing) file while 2 plays. */
        assert_int_equal(playout_cue_from(p, 3, tmpfile_path("missing.mp3"), 0), 0);
        aclock_read(clock, &s);
        assert_int_equal(s.item_id, 2);
        assert_true(s.playing);
        assert_int_equal(started2.mono_ns, aclock_media_to_mono(&s, 0, 0));
        expect_event(p, PLAYOUT_ENDED, 2, &ended2);
        assert_int_equal(ended2.reason, PLAYOUT_END_COMPLETE);
        assert_int_equal(ended2.frames, 22050);
        expect_event(p, PLAYOUT_ENDED, 3, &failed);
        assert_int_equal(failed.reason, PLAYOUT_END_ERROR);
        assert_int_equal(failed.error, -ENOENT);
        assert_non_null(strstr(failed.message, "missing.mp3"));
        assert_int_equal(failed.frames, 0);
        expect_event(p, PLAYOUT_IDLE, 0, NULL);
        /* Paced like a device: 0.7 s of audio took about 0.7 s. */
        assert_true(ended2.mono_ns - started1.mono_ns > 650000000ULL);
        aclock_read(clock, &s);
        assert_int_equal(s.item_id, 0);
        assert_false(s.playing);

        assert_null(playout_stop(p));
        aclock_free(clock);
        /* No gap, no padding: the file holds exactly both items. */
        assert_int_equal(wav_data_bytes(wav), (8820 + 22050) * 4);
}

static void test_playout_pause_skip(void **state) {
        struct aclock *clock = NULL;
        struct playout_event ev;
        struct aclock_sample a, b;
        struct playout *p;
        uint64_t hb;

        p = start_playout("null", NULL, &clock);
        assert_int_equal(playout_cue_from(p, 5, fixture("tone-1s.mp3"), 0), 0);
        expect_event(p, PLAYOUT_STARTED, 5, NULL);
        assert_int_equal(playout_pause(p), 0);
        expect_event(p, PLAYOUT_PAUSED, 5, NULL);
        aclock_read(clock, &a);
        assert_false(a.playing);
        hb = playout_heartbeat(p);
        usleep(300000);
        /* Paused: the heartbeat goes on, the frames do not. */
        assert_true(playout_heartbeat(p) >= hb + 2);
        aclock_read(clock, &b);
        assert_int_equal(b.frames, a.frames);
        assert_int_equal(aclock_position_ms(&b, aclock_now_ns()), aclock_position_ms(&a, a.mono_ns));

        assert_int_equal(playout_resume(p), 0);
        expect_event(p, PLAYOUT_RESUMED, 5, NULL);
        usleep(60000);
        aclock_read(clock, &b);
        assert_true(b.playing);
        assert_true(b.frames > a.frames);
        assert_int_equal(playout_skip(p), 0);
        expect_event(p, PLAYOUT_ENDED, 5, &ev);
        assert_int_equal(ev.reason, PLAYOUT_END_SKIPPED);
        assert_true(ev.frames >= b.frames && ev.frames < 44100);
        expect_event(p, PLAYOUT_IDLE, 0, NULL);

        /* A garbage file cued while idle ends at once with the reason. */
        write_file(tmpfile_path("text2.mp3"), "not audio at all\n", 17);
        assert_int_equal(playout_cue_from(p, 6, tmpfile_path("text2.mp3"), 0), 0);
        expect_event(p, PLAYOUT_ENDED, 6, &ev);
        assert_int_equal(ev.reason, PLAYOUT_END_ERROR);
        assert_int_equal(ev.error, -EINVAL);
        expect_event(p, PLAYOUT_IDLE, 0, NULL);
        assert_int_equal(wait_event(p, &ev, 100), 0); /* and nothing more */

        /* Idle: the heartbeat still turns. */
        hb = playout_heartbeat(p);
        usleep(300000);
        assert_true(playout_heartbeat(p) >= hb + 2);
        assert_null(playout_stop(p));
        aclock_free(clock);
}

static int setup(void **state) {
        return tmpdir_setup("test-decoder");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exact_length),
                cmocka_unit_test(test_resample),
                cmocka_unit_test(test_seek),
                cmocka_unit_test(test_scan),
                cmocka_unit_test(test_scan_silence),
                cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_wav),
                cmocka_unit_test(test_flac_resampled),
                cmocka_unit_test(test_unreadable),
                cmocka_unit_test(test_truncated),
                cmocka_unit_test(test_damaged_middle),
                cmocka_unit_test(test_playout_gapless_wav),
                cmocka_unit_test(test_playout_pause_skip),
        };
        int r;

        mpg123_init();
        ao_initialize();
        r = cmocka_run_group_tests_name("decoder", tests, setup, tmpdir_teardown);
        ao_shutdown();
        return r;
}

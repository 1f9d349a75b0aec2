/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-config.c: config_load against the shipped example, a file setting
 * every key, and the golden bad-*.conf files in tests/config, whose
 * .expected files hold the exact error text with @DIR@ standing for the
 * folder of the .conf (so the test runs from any checkout). */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static const char *source_dir(void) {
        const char *d = getenv("NEXTUP_SOURCE_DIR");

        return d && d[0] ? d : ".";
}

static char *test_path(const char *rel) {
        char *p;

        assert_true(asprintf(&p, "%s/%s", source_dir(), rel) > 0);
        return p;
}

/* An absolute source dir, so that resolved paths can be predicted. */
static char *abs_path(const char *rel) {
        char *src = realpath(source_dir(), NULL), *p;

        assert_non_null(src);
        assert_true(asprintf(&p, "%s/%s", src, rel) > 0);
        free(src);
        return p;
}

/* Runs config_load(PATH) with its error stream captured. */
static int load(const char *path, struct nextup_config **ret, char **ret_errs) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        int r;

        assert_non_null(f);
        r = config_load(path, f, ret);
        assert_int_equal(fclose(f), 0);
        *ret_errs = buf;
        return r;
}

static char *read_all(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf;
        long n;

        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        rewind(f);
        buf = calloc(1, (size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        return buf;
}

/* TEXT with every "@DIR@" replaced by DIR. */
static char *substitute(const char *text, const char *dir) {
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        const char *p;

        assert_non_null(f);
        while ((p = strstr(text, "@DIR@"))) {
                fwrite(text, 1, (size_t)(p - text), f);
                fputs(dir, f);
                text = p + strlen("@DIR@");
        }
        fputs(text, f);
        fclose(f);
        return out;
}

/* playout, filler, silence, schedule and dropbox as when not in the file */
static void assert_new_defaults(const struct nextup_config *c) {
        assert_int_equal(c->gap_ms, 0);
        assert_int_equal(c->fade_ms, 250);
        assert_int_equal(c->resume, RESUME_AUTO);
        assert_int_equal(c->resume_min_s, 300);
        assert_int_equal(c->stale_s, 3600);
        assert_null(c->filler_path);
        assert_int_equal(c->filler_mode, FILLER_SHUFFLE);
        assert_true(c->silence_enabled);
        assert_int_equal(c->silence_dbfs, -50);
        assert_int_equal(c->silence_ms, 10000);
        assert_int_equal(c->n_schedule, 0);
        assert_null(c->schedule);
        assert_int_equal(c->n_dropboxes, 0);
        assert_null(c->dropboxes);
}

static void test_example(void **state) {
        char *path = test_path("config/nextupd.conf"), *errs;
        struct nextup_config *c = NULL;

        assert_int_equal(load(path, &c, &errs), 0);
        assert_string_equal(errs, "");
        assert_non_null(c);
        assert_string_equal(c->path, path);
        assert_string_equal(c->output_driver, "default");
        assert_null(c->output_file);
        assert_int_equal(c->n_output_options, 0);
        assert_int_equal(c->rate, 44100);
        assert_int_equal(c->channels, 2);
        assert_string_equal(c->control_socket, "/run/nextup/control.sock");
        assert_int_equal(c->control_mode, 0660);
        assert_int_equal(c->control_idle_timeout_s, 60);
        assert_int_equal(c->control_max_connections, 64);
        assert_int_equal(c->n_control_allow_uids, 0);
        /* the group "nextup" when the system has one */
        assert_int_equal(c->n_control_allow_gids, getgrnam("nextup") ? 1 : 0);
        assert_string_equal(c->state_dir, "/var/lib/nextup");
        assert_int_equal(c->log_level, LOG_INFO);
        assert_int_equal(c->max_chars, 37);
        assert_int_equal(c->max_lines, 2);
        assert_string_equal(c->speaker_mark, ">>");
        assert_int_equal(c->n_sinks, 3);
        /* off: the packaged unit has no network (nextupd.service) */
        assert_null(c->http_listen);
        assert_int_equal(c->http_latency_ms, 0);
        assert_int_equal(c->http_max_clients, 2000);
        assert_int_equal(c->sinks[0].type, SINK_TERMINAL);
        assert_null(c->sinks[0].path);
        assert_true(c->sinks[0].show_speaker);
        assert_int_equal(c->sinks[1].type, SINK_JSONL);
        assert_string_equal(c->sinks[1].path, "/var/lib/nextup/captions.jsonl");
        assert_int_equal(c->sinks[2].type, SINK_WEBVTT);
        assert_string_equal(c->sinks[2].path, "/var/lib/nextup/archive");
        for (size_t i = 0; i < c->n_sinks; i++)
                assert_int_equal(c->sinks[i].latency_ms, 0);
        assert_int_equal(c->n_startup, 0);
        assert_new_defaults(c);
        assert_string_equal(c->asrun_path, "/var/lib/nextup/asrun.jsonl");
        config_free(c);
        free(errs);
        free(path);
}

static void assert_str_abs(const char *got, const char *rel) {
        char *want = abs_path(rel);

        assert_string_equal(got, want);
        free(want);
}

/* good-all.conf's playout, filler, silence, asrun, schedule and dropbox. */
static void assert_good_all_issue4(const struct nextup_config *c) {
        const struct schedule_config *s = c->schedule;
        const struct dropbox_config *d = c->dropboxes;

        assert_int_equal(c->gap_ms, 40);
        assert_int_equal(c->fade_ms, 0);
        assert_int_equal(c->resume, RESUME_AUTO);
        assert_int_equal(c->resume_min_s, 60);
        assert_int_equal(c->stale_s, 604800);
        assert_str_abs(c->filler_path, "tests/config/filler");
        assert_int_equal(c->filler_mode, FILLER_LOOP);
        assert_false(c->silence_enabled);
        assert_int_equal(c->silence_dbfs, -96);
        assert_int_equal(c->silence_ms, 500);
        assert_str_abs(c->asrun_path, "tests/config/log/asrun.jsonl");

        assert_int_equal(c->n_schedule, 4);
        assert_string_equal(s[0].name, "news");
        assert_int_equal(s[0].hour, 7);
        assert_int_equal(s[0].minute, 0);
        assert_int_equal(s[0].second, 0);
        assert_int_equal(s[0].days, 0x3e); /* Monday..Friday */
        assert_int_equal(s[0].mode, SCHEDULE_HARD);
        assert_int_equal(s[0].wait_s, 30);
        assert_str_abs(s[0].audio, "tests/config/news/top.mp3");
        assert_str_abs(s[0].transcript, "tests/config/news/top.txt");
        assert_string_equal(s[1].name, "schedule[1]");
        assert_int_equal(s[1].hour, 23);
        assert_int_equal(s[1].minute, 59);
        assert_int_equal(s[1].second, 59);
        assert_int_equal(s[1].days, 1u << 0 | 1u << 6 | 1u << 3); /* "Sun, sat,WED" */
        assert_int_equal(s[1].mode, SCHEDULE_WAIT);
        assert_int_equal(s[1].wait_s, 3600);
        assert_string_equal(s[1].audio, "/abs/late.mp3");
        assert_string_equal(s[1].transcript, "/abs/late.txt");
        assert_string_equal(s[2].name, "weekend");
        assert_int_equal(s[2].hour, 0);
        assert_int_equal(s[2].days, 0x41); /* Saturday and Sunday */
        assert_int_equal(s[2].mode, SCHEDULE_SOFT);
        assert_string_equal(s[3].name, "schedule[3]");
        assert_int_equal(s[3].hour, 12);
        assert_int_equal(s[3].minute, 30);
        assert_int_equal(s[3].days, 1u << 1);       /* Monday */
        assert_int_equal(s[3].mode, SCHEDULE_SOFT); /* the default */

        assert_int_equal(c->n_dropboxes, 3);
        assert_str_abs(d[0].path, "tests/config/drop/news");
        assert_int_equal(d[0].position, 0);
        assert_int_equal(d[0].settle_ms, 0);
        assert_string_equal(d[0].quarantine, "/srv/quarantine");
        assert_string_equal(d[1].path, "/srv/drop/features");
        assert_int_equal(d[1].position, 1000);
        assert_int_equal(d[1].settle_ms, 600000);
        assert_string_equal(d[1].quarantine, "/srv/drop/features/quarantine");
        assert_string_equal(d[2].path, "/srv/drop/promos");
        assert_int_equal(d[2].position, -1);
        assert_int_equal(d[2].settle_ms, 2000);
        assert_string_equal(d[2].quarantine, "/srv/drop/promos/quarantine");
}

/* Every key set to a value other than its default; relative paths come
 * back joined to the folder of the file. */
static void test_good_all(void **state) {
        char *path = abs_path("tests/config/good-all.conf"), *errs;
        char *air = abs_path("tests/config/out/air.wav"), *vtt = abs_path("tests/config/vtt");
        char *a_mp3 = abs_path("tests/config/stories/a.mp3");
        char *a_txt = abs_path("tests/config/stories/a.txt");
        struct nextup_config *c = NULL;

        assert_int_equal(load(path, &c, &errs), 0);
        assert_string_equal(errs, "");
        assert_string_equal(c->output_driver, "wav");
        assert_string_equal(c->output_file, air);
        assert_int_equal(c->n_output_options, 2);
        assert_string_equal(c->output_options[0].key, "dev");
        assert_string_equal(c->output_options[0].value, "hw:1,0");
        assert_string_equal(c->output_options[1].key, "buffer_time");
        assert_string_equal(c->output_options[1].value, "500");
        assert_int_equal(c->rate, 48000);
        assert_int_equal(c->channels, 1);
        assert_string_equal(c->control_socket, "/tmp/nextup-test.sock");
        assert_int_equal(c->control_mode, 0600);
        assert_int_equal(c->control_idle_timeout_s, 5);
        assert_int_equal(c->control_max_connections, 8);
        assert_int_equal(c->n_control_allow_uids, 2);
        assert_int_equal(c->control_allow_uids[0], 65534);
        assert_int_equal(c->control_allow_uids[1], 1234);
        assert_int_equal(c->n_control_allow_gids, 1);
        assert_int_equal(c->control_allow_gids[0], 0);
        assert_string_equal(c->state_dir, "/srv/nextup");
        assert_int_equal(c->log_level, LOG_DEBUG);
        assert_int_equal(c->max_chars, 32);
        assert_int_equal(c->max_lines, 3);
        assert_string_equal(c->speaker_mark, "");
        assert_int_equal(c->n_sinks, 3);
        assert_int_equal(c->sinks[0].type, SINK_TERMINAL);
        assert_int_equal(c->sinks[0].latency_ms, 250);
        assert_false(c->sinks[0].show_speaker);
        assert_int_equal(c->sinks[1].type, SINK_JSONL);
        assert_string_equal(c->sinks[1].path, "/srv/nextup/captions.jsonl");
        assert_int_equal(c->sinks[1].latency_ms, 10000);
        assert_int_equal(c->sinks[2].type, SINK_WEBVTT);
        assert_string_equal(c->sinks[2].path, vtt);
        assert_int_equal(c->sinks[2].latency_ms, 0);
        assert_int_equal(c->n_startup, 2);
        assert_string_equal(c->startup[0].audio, a_mp3);
        assert_string_equal(c->startup[0].transcript, a_txt);
        assert_string_equal(c->startup[1].audio, "/abs/b.mp3");
        assert_string_equal(c->startup[1].transcript, "/abs/b.txt");
        assert_good_all_issue4(c);
        config_free(c);
        free(errs);
        free(path);
        free(air);
        free(vtt);
        free(a_mp3);
        free(a_txt);
}

/* Writes TEXT to NAME in a new temporary folder; returns the folder. */
static char *write_temp(const char *name, const char *text) {
        char *dir = strdup("/tmp/test-config-XXXXXX"), *path;
        FILE *f;

        assert_non_null(dir);
        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        free(path);
        return dir;
}

static void remove_temp(char *dir, const char *name) {
        char *path;

        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
        free(path);
        free(dir);
}

/* An empty file is valid: every default, one terminal sink. */
static void test_defaults(void **state) {
        char *dir = write_temp("empty.conf", ""), *path, *errs;
        struct nextup_config *c = NULL;

        assert_true(asprintf(&path, "%s/empty.conf", dir) > 0);
        assert_int_equal(load(path, &c, &errs), 0);
        assert_string_equal(errs, "");
        assert_string_equal(c->output_driver, "default");
        assert_null(c->output_file);
        assert_int_equal(c->rate, 44100);
        assert_int_equal(c->channels, 2);
        assert_string_equal(c->control_socket, "/run/nextup/control.sock");
        assert_int_equal(c->control_mode, 0660);
        assert_string_equal(c->state_dir, "/var/lib/nextup");
        assert_int_equal(c->log_level, LOG_INFO);
        assert_int_equal(c->max_chars, 37);
        assert_int_equal(c->max_lines, 2);
        assert_string_equal(c->speaker_mark, ">>");
        assert_int_equal(c->n_sinks, 1);
        assert_int_equal(c->sinks[0].type, SINK_TERMINAL);
        assert_int_equal(c->sinks[0].latency_ms, 0);
        assert_true(c->sinks[0].show_speaker);
        assert_int_equal(c->n_startup, 0);
        assert_new_defaults(c);
        assert_string_equal(c->asrun_path, "/var/lib/nextup/asrun.jsonl");
        config_free(c);
        free(errs);
        free(path);
        remove_temp(dir, "empty.conf");
}

/* "sinks = ();" is a deliberate "no caption output", not the default. */
static void test_no_sinks(void **state) {
        char *dir = write_temp("n.conf", "captions = { sinks = (); };\n"), *path, *errs;
        struct nextup_config *c = NULL;

        assert_true(asprintf(&path, "%s/n.conf", dir) > 0);
        assert_int_equal(load(path, &c, &errs), 0);
        assert_string_equal(errs, "");
        assert_int_equal(c->n_sinks, 0);
        config_free(c);
        free(errs);
        free(path);
        remove_temp(dir, "n.conf");
}

/* Loads TEXT from a temporary file; returns config_load's result. */
static int load_text(const char *text, struct nextup_config **ret, char **ret_errs) {
        char *dir = write_temp("t.conf", text), *path;
        int r;

        assert_true(asprintf(&path, "%s/t.conf", dir) > 0);
        r = load(path, ret, ret_errs);
        free(path);
        remove_temp(dir, "t.conf");
        return r;
}

/* media_roots: the config's own folders by default; a list replaces them;
 * an empty list or a non-string is an error at its line. */
static void test_media_roots(void **state) {
        struct nextup_config *c = NULL;
        char *errs;

        (void)state;
        assert_int_equal(load_text("state_dir = \"/st\";\n"
                                   "startup = ( { audio = \"/a/x.mp3\"; transcript = \"/t/x.txt\"; } );\n"
                                   "dropbox = ( { path = \"/box\"; } );\n",
                                   &c, &errs),
                         0);
        assert_string_equal(errs, "");
        assert_int_equal(c->n_media_roots, 4);
        assert_string_equal(c->media_roots[0], "/st");
        assert_string_equal(c->media_roots[1], "/box");
        assert_string_equal(c->media_roots[2], "/a");
        assert_string_equal(c->media_roots[3], "/t");
        config_free(c);
        free(errs);

        assert_int_equal(load_text("media_roots = ( \"/srv/audio\" );\n", &c, &errs), 0);
        assert_int_equal(c->n_media_roots, 1);
        assert_string_equal(c->media_roots[0], "/srv/audio");
        config_free(c);
        free(errs);

        assert_true(load_text("media_roots = ( );\n", &c, &errs) < 0);
        assert_non_null(strstr(errs, "t.conf:1: media_roots: at least one folder"));
        free(errs);
        assert_true(load_text("media_roots = ( 3 );\n", &c, &errs) < 0);
        assert_non_null(strstr(errs, "t.conf:1:"));
        free(errs);
}

/* The feed sinks with every key, and their defaults. */
static void test_feed_sinks(void **state) {
        struct nextup_config *c = NULL;
        char *errs = NULL;
        const struct sink_config *s;

        assert_int_equal(
                load_text(
                        "captions = { sinks = (\n"
                        "  { type = \"rds\"; dialect = \"fifo\"; path = \"/run/rds\"; },\n"
                        "  { type = \"rds\"; dialect = \"line\"; udp = \"[::1]:9000\"; template = "
                        "\"TEXT={text}{ab}\\r\\n\";\n"
                        "    charset = \"ascii\"; policy = \"captions\"; dwell_ms = 6000; rt_plus = false; "
                        "},\n"
                        "  { type = \"rds\"; dialect = \"uecp\"; device = \"/dev/ttyUSB0\"; baud = 19200;\n"
                        "    site_address = 1023; encoder_address = 63; data_set = 2; programme_service = "
                        "3; },\n"
                        "  { type = \"rds\"; dialect = \"uecp\"; connect = \"10.0.0.5:9100\"; latency_ms = "
                        "300; },\n"
                        "  { type = \"dls\"; path = \"/run/dls.txt\"; dl_plus = false; },\n"
                        "  { type = \"icecast\"; connect = \"127.0.0.1:8000\"; mount = \"/live.mp3\";\n"
                        "    credentials = \"/etc/nextup/icecast\"; }\n"
                        "); };\n",
                        &c, &errs),
                0);
        assert_string_equal(errs, "");
        assert_int_equal(c->n_sinks, 6);
        s = &c->sinks[0];
        assert_int_equal(s->type, SINK_RDS);
        assert_int_equal(s->dialect, RDS_DIALECT_FIFO);
        assert_string_equal(s->path, "/run/rds");
        assert_int_equal(s->policy, RDS_POLICY_NOW_NEXT);
        assert_false(s->ascii);
        assert_int_equal(s->dwell_ms, 4000);
        assert_true(s->rt_plus);
        assert_null(s->template);
        s = &c->sinks[1];
        assert_int_equal(s->dialect, RDS_DIALECT_LINE);
        assert_string_equal(s->udp, "[::1]:9000");
        assert_string_equal(s->template, "TEXT={text}{ab}\r\n");
        assert_true(s->ascii);
        assert_int_equal(s->policy, RDS_POLICY_CAPTIONS);
        assert_int_equal(s->dwell_ms, 6000);
        assert_false(s->rt_plus);
        s = &c->sinks[2];
        assert_int_equal(s->dialect, RDS_DIALECT_UECP);
        assert_string_equal(s->device, "/dev/ttyUSB0");
        assert_int_equal(s->baud, 19200);
        assert_int_equal(s->site_address, 1023);
        assert_int_equal(s->encoder_address, 63);
        assert_int_equal(s->data_set, 2);
        assert_int_equal(s->programme_service, 3);
        s = &c->sinks[3];
        assert_string_equal(s->connect, "10.0.0.5:9100");
        assert_int_equal(s->latency_ms, 300);
        assert_int_equal(s->site_address, 0);
        s = &c->sinks[4];
        assert_int_equal(s->type, SINK_DLS);
        assert_string_equal(s->path, "/run/dls.txt");
        assert_false(s->dl_plus);
        s = &c->sinks[5];
        assert_int_equal(s->type, SINK_ICECAST);
        assert_string_equal(s->connect, "127.0.0.1:8000");
        assert_string_equal(s->mount, "/live.mp3");
        assert_string_equal(s->credentials, "/etc/nextup/icecast");
        config_free(c);
        free(errs);
}

/* The other resume policies, with the keys that go with them. */
static void test_resume_policies(void **state) {
        static const struct {
                const char *name;
                enum resume_policy policy;
        } v[] = {
                {"position", RESUME_POSITION},
                {"restart", RESUME_RESTART},
                {"drop", RESUME_DROP},
        };

        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                struct nextup_config *c = NULL;
                char *text, *errs;

                assert_true(asprintf(&text,
                                     "playout = { resume = \"%s\"; stale_s = 0; };\n"
                                     "state_dir = \"/x\";\n",
                                     v[i].name) > 0);
                assert_int_equal(load_text(text, &c, &errs), 0);
                assert_string_equal(errs, "");
                assert_int_equal(c->resume, v[i].policy);
                assert_int_equal(c->stale_s, 0);
                assert_int_equal(c->resume_min_s, 300);
                assert_string_equal(c->asrun_path, "/x/asrun.jsonl");
                config_free(c);
                free(errs);
                free(text);
        }
}

/* Day lists: any case, any order, blanks after commas; "daily" is all. */
static void test_days(void **state) {
        static const struct {
                const char *days;
                unsigned mask;
        } v[] = {
                {"daily", 0x7f},
                {"DAILY", 0x7f},
                {"Weekdays", 0x3e},
                {"weekends", 0x41},
                {"sun", 0x01},
                {"sat", 0x40},
                {"fri,thu, wed , tue,mon", 0x3e},
                {"mon,tue,wed,thu,fri,sat,sun", 0x7f},
        };

        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                struct nextup_config *c = NULL;
                char *text, *errs;

                assert_true(asprintf(&text,
                                     "schedule = ( { time = \"10:00\"; days = \"%s\"; "
                                     "audio = \"a.mp3\"; transcript = \"a.txt\"; } );\n",
                                     v[i].days) > 0);
                assert_int_equal(load_text(text, &c, &errs), 0);
                assert_string_equal(errs, "");
                assert_int_equal(c->n_schedule, 1);
                assert_int_equal(c->schedule[0].days, v[i].mask);
                assert_int_equal(c->schedule[0].hour, 10);
                config_free(c);
                free(errs);
                free(text);
        }
}

/* Empty lists are valid and mean none. */
static void test_empty_lists(void **state) {
        struct nextup_config *c = NULL;
        char *errs;

        assert_int_equal(load_text("schedule = ( );\ndropbox = ( );\nfiller = { };\n", &c, &errs), 0);
        assert_string_equal(errs, "");
        assert_int_equal(c->n_schedule, 0);
        assert_int_equal(c->n_dropboxes, 0);
        assert_null(c->http_listen); /* no http group: no server */
        assert_null(c->filler_path);
        config_free(c);
        free(errs);
}

/* A config named relative to the working directory resolves against it. */
static void test_relative_config_path(void **state) {
        char *dir =
                write_temp("r.conf", "state_dir = \"state\";\n"
                                     "startup = ( { audio = \"../a.mp3\"; transcript = \"t/a.txt\"; } );\n");
        char *old = getcwd(NULL, 0), *errs, *expect;
        struct nextup_config *c = NULL;

        assert_non_null(old);
        assert_int_equal(chdir(dir), 0);
        assert_int_equal(load("r.conf", &c, &errs), 0);
        assert_int_equal(chdir(old), 0);
        assert_string_equal(errs, "");
        assert_string_equal(c->path, "r.conf");
        assert_true(asprintf(&expect, "%s/state", dir) > 0);
        assert_string_equal(c->state_dir, expect);
        free(expect);
        assert_true(asprintf(&expect, "%s/state/asrun.jsonl", dir) > 0);
        assert_string_equal(c->asrun_path, expect);
        free(expect);
        assert_true(asprintf(&expect, "%s/../a.mp3", dir) > 0);
        assert_string_equal(c->startup[0].audio, expect);
        free(expect);
        assert_true(asprintf(&expect, "%s/t/a.txt", dir) > 0);
        assert_string_equal(c->startup[0].transcript, expect);
        free(expect);
        config_free(c);
        free(errs);
        free(old);
        remove_temp(dir, "r.conf");
}

static void test_unreadable(void **state) {
        struct nextup_config *c = NULL;
        char *errs;

        assert_int_equal(load("/nonexistent/nextupd.conf", &c, &errs), -ENOENT);
        assert_null(c);
        assert_string_equal(errs, "/nonexistent/nextupd.conf: cannot read: No such file or directory\n");
        free(errs);

        assert_int_equal(load("/", &c, &errs), -EISDIR);
        assert_null(c);
        assert_string_equal(errs, "/: cannot read: Is a directory\n");
        free(errs);
}

/* tests/config/NAME.conf must fail with exactly NAME.expected. */
static void test_bad(void **state) {
        const char *name = *state;
        char *dir = test_path("tests/config"), *conf, *golden, *expect, *errs, *text;
        struct nextup_config *c = NULL;

        assert_true(asprintf(&conf, "%s/%s.conf", dir, name) > 0);
        assert_true(asprintf(&golden, "%s/%s.expected", dir, name) > 0);
        text = read_all(golden);
        expect = substitute(text, dir);

        assert_int_equal(load(conf, &c, &errs), -EINVAL);
        assert_null(c);
        assert_string_equal(errs, expect);

        free(errs);
        free(expect);
        free(text);
        free(golden);
        free(conf);
        free(dir);
}

/* named after the file, so that a failure says which golden broke */
#define BAD(n)                                                                                              \
        { .name = (n), .test_func = test_bad, .initial_state = (void *)(n) }

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_example),
                cmocka_unit_test(test_good_all),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_no_sinks),
                cmocka_unit_test(test_feed_sinks),
                cmocka_unit_test(test_relative_config_path),
                cmocka_unit_test(test_resume_policies),
                cmocka_unit_test(test_days),
                cmocka_unit_test(test_empty_lists),
                cmocka_unit_test(test_unreadable),
                cmocka_unit_test(test_media_roots),
                BAD("bad-syntax"),
                BAD("bad-duplicate"),
                BAD("bad-unknown-top"),
                BAD("bad-unknown-nested"),
                BAD("bad-type"),
                BAD("bad-range"),
                BAD("bad-enum"),
                BAD("bad-driver"),
                BAD("bad-mode"),
                BAD("bad-control"),
                BAD("bad-output"),
                BAD("bad-wav-file"),
                BAD("bad-sink-path"),
                BAD("bad-startup"),
                BAD("bad-multiple"),
                BAD("bad-playout"),
                BAD("bad-resume"),
                BAD("bad-schedule"),
                BAD("bad-dropbox"),
                BAD("bad-rds"),
                BAD("bad-feeds"),
        };

        return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

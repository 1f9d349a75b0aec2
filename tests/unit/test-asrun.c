/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-asrun: the as-run log against real files. Records are written and
 * read back field by field; a full disk is /dev/full (every write fails
 * with ENOSPC), a missing directory stands for a file system that comes
 * back; the backlog must keep order, stay bounded, catch up on a path
 * switch and by its retry timer, and queries must filter, page and include
 * what is still in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "asrun.h"

struct fixture {
        char dir[64];
        char path[128];
        sd_event *e;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof *f);

        strcpy(f->dir, "/tmp/test-asrun-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof f->path, "%s/asrun.jsonl", f->dir);
        assert_int_equal(sd_event_new(&f->e), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        assert_int_equal(system(cmd), 0);
        sd_event_unref(f->e);
        free(f);
        return 0;
}

static struct asrun_record record(uint64_t id, int64_t start_ms) {
        return (struct asrun_record){
                .id = id,
                .title = "Harbor \"Pier\"",
                .audio = "/s/a.mp3",
                .transcript = "/s/a.txt",
                .kind = "story",
                .scheduled_ms = 0,
                .start_ms = start_ms,
                .end_ms = start_ms + 5000,
                .planned_ms = 6000,
                .played_ms = 5000,
                .reason = PLAYOUT_END_SKIPPED,
                .cues_emitted = 3,
                .cues_dropped = 2,
                .timing = TIMING_ALIGNED,
        };
}

/* The file's lines, parsed; asserts each is a whole JSON object. */
static size_t read_records(const char *path, struct json_object **ret, size_t max) {
        FILE *f = fopen(path, "re");
        char *line = NULL;
        size_t size = 0, n = 0;
        ssize_t len;

        if (!f)
                return 0;
        while ((len = getline(&line, &size, f)) > 0) {
                assert_int_equal(line[len - 1], '\n');
                assert_true(n < max);
                ret[n] = json_tokener_parse(line);
                assert_non_null(ret[n]);
                assert_true(json_object_is_type(ret[n], json_type_object));
                n++;
        }
        free(line);
        fclose(f);
        return n;
}

static void put_all(struct json_object **o, size_t n) {
        for (size_t i = 0; i < n; i++)
                json_object_put(o[i]);
}

static int64_t get_i(struct json_object *o, const char *k) {
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, k, &v));
        assert_true(json_object_is_type(v, json_type_int));
        return json_object_get_int64(v);
}

static const char *get_s(struct json_object *o, const char *k) {
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, k, &v));
        assert_true(json_object_is_type(v, json_type_string));
        return json_object_get_string(v);
}

static bool is_null(struct json_object *o, const char *k) {
        struct json_object *v;

        return json_object_object_get_ex(o, k, &v) && v == NULL;
}

static void test_reasons(void **state) {
        static const struct {
                enum playout_end_reason r;
                const char *s;
        } t[] = {
                {PLAYOUT_END_COMPLETE, "complete"},
                {PLAYOUT_END_SKIPPED, "skipped"},
                {PLAYOUT_END_ERROR, "decode_error"},
                {PLAYOUT_END_SHUTDOWN, "shutdown"},
                {PLAYOUT_END_CUT, "cut"},
                {PLAYOUT_END_SILENCE, "silence"},
                {PLAYOUT_END_FADED, "faded"},
        };

        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
                assert_string_equal(playout_end_reason_to_string(t[i].r), t[i].s);
}

static void test_fields(void **state) {
        struct fixture *f = *state;
        struct asrun_record r1 = record(7, 1700000000123), r2 = record(8, 1700000005123);
        struct json_object *o[4];
        struct asrun *a;
        char head[32];
        FILE *fp;

        r2.kind = "scheduled";
        r2.scheduled_ms = 1700000005000;
        r2.planned_ms = -1;
        r2.reason = PLAYOUT_END_COMPLETE;
        r2.timing = TIMING_ESTIMATE;
        r2.title = NULL;
        assert_int_equal(asrun_new(f->e, f->path, 0, &a), 0);
        assert_int_equal(asrun_append(a, &r1), 0);
        assert_int_equal(asrun_append(a, &r2), 0);
        assert_int_equal(asrun_backlog(a), 0);
        asrun_free(a);

        /* start_ms leads, so queries can skip lines without parsing them. */
        fp = fopen(f->path, "re");
        assert_non_null(fgets(head, sizeof head, fp));
        fclose(fp);
        assert_memory_equal(head, "{\"start_ms\":1700000000123,", 26);

        assert_int_equal(read_records(f->path, o, 4), 2);
        assert_int_equal(get_i(o[0], "id"), 7);
        assert_string_equal(get_s(o[0], "title"), "Harbor \"Pier\"");
        assert_string_equal(get_s(o[0], "audio"), "/s/a.mp3");
        assert_string_equal(get_s(o[0], "transcript"), "/s/a.txt");
        assert_string_equal(get_s(o[0], "kind"), "story");
        assert_true(is_null(o[0], "scheduled_ms"));
        assert_int_equal(get_i(o[0], "end_ms"), 1700000005123);
        assert_int_equal(get_i(o[0], "planned_ms"), 6000);
        assert_int_equal(get_i(o[0], "played_ms"), 5000);
        assert_string_equal(get_s(o[0], "reason"), "skipped");
        assert_int_equal(get_i(o[0], "cues_emitted"), 3);
        assert_int_equal(get_i(o[0], "cues_dropped"), 2);
        assert_string_equal(get_s(o[0], "timing"), "aligned");

        assert_string_equal(get_s(o[1], "kind"), "scheduled");
        assert_int_equal(get_i(o[1], "scheduled_ms"), 1700000005000);
        assert_true(is_null(o[1], "planned_ms"));
        assert_true(is_null(o[1], "title"));
        assert_string_equal(get_s(o[1], "reason"), "complete");
        assert_string_equal(get_s(o[1], "timing"), "estimate");
        put_all(o, 2);
}

/* /dev/full: every write is ENOSPC. Records wait in order, the air goes
 * on, and switching to a writable file writes them all. */
static void test_full_disk_then_switch(void **state) {
        struct fixture *f = *state;
        struct json_object *o[8], *arr;
        struct asrun *a;
        int64_t next;

        assert_int_equal(asrun_new(f->e, "/dev/full", 0, &a), 0);
        for (int i = 0; i < 5; i++) {
                struct asrun_record r = record((uint64_t)i + 1, 1000 * (i + 1));

                assert_int_equal(asrun_append(a, &r), 1);
        }
        assert_int_equal(asrun_backlog(a), 5);
        assert_int_equal(asrun_flush(a), -ENOSPC);

        /* What aired is still visible while the disk is full. */
        assert_int_equal(asrun_query(a, 2000, 4000, 0, 1 << 20, &arr, &next), 0);
        assert_int_equal(next, -1);
        assert_int_equal(json_object_array_length(arr), 2);
        assert_int_equal(get_i(json_object_array_get_idx(arr, 0), "id"), 2);
        json_object_put(arr);

        assert_int_equal(asrun_set_path(a, f->path), 0);
        assert_int_equal(asrun_backlog(a), 0);
        assert_int_equal(read_records(f->path, o, 8), 5);
        for (int i = 0; i < 5; i++)
                assert_int_equal(get_i(o[i], "id"), i + 1);
        put_all(o, 5);
        {
                struct asrun_record r = record(6, 6000);

                assert_int_equal(asrun_append(a, &r), 0);
        }
        asrun_free(a);
        assert_int_equal(read_records(f->path, o, 8), 6);
        assert_int_equal(get_i(o[5], "id"), 6);
        put_all(o, 6);
}

/* The directory is missing (a file system not mounted yet): the retry
 * timer writes the backlog once it is back, without another append. */
static void test_timer_catch_up(void **state) {
        struct fixture *f = *state;
        char sub[96], path[160];
        struct json_object *o[4];
        struct asrun *a;
        struct timespec t0, t;

        snprintf(sub, sizeof sub, "%s/later", f->dir);
        snprintf(path, sizeof path, "%s/asrun.jsonl", sub);
        assert_int_equal(asrun_new(f->e, path, 20000, &a), 0);
        {
                struct asrun_record r1 = record(1, 1000), r2 = record(2, 2000);

                assert_int_equal(asrun_append(a, &r1), 1);
                assert_int_equal(asrun_append(a, &r2), 1);
        }
        assert_int_equal(asrun_flush(a), -ENOENT);
        assert_int_equal(mkdir(sub, 0755), 0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (asrun_backlog(a) > 0) {
                assert_true(sd_event_run(f->e, 100000) >= 0);
                clock_gettime(CLOCK_MONOTONIC, &t);
                assert_true(t.tv_sec - t0.tv_sec < 2);
        }
        assert_int_equal(read_records(path, o, 4), 2);
        assert_int_equal(get_i(o[0], "id"), 1);
        assert_int_equal(get_i(o[1], "id"), 2);
        put_all(o, 2);
        asrun_free(a);
}

/* Bounded: past ASRUN_BACKLOG_MAX the oldest records go, and are counted. */
static void test_backlog_bound(void **state) {
        struct fixture *f = *state;
        struct asrun *a;
        FILE *fp;
        char *line = NULL;
        size_t size = 0, n = 0;
        struct json_object *first = NULL;

        assert_int_equal(asrun_new(f->e, "/dev/full", 0, &a), 0);
        for (unsigned i = 0; i < ASRUN_BACKLOG_MAX + 5; i++) {
                struct asrun_record r = record(i + 1, 1000 + i);

                assert_int_equal(asrun_append(a, &r), 1);
        }
        assert_int_equal(asrun_backlog(a), ASRUN_BACKLOG_MAX);
        assert_int_equal(asrun_lost(a), 5);
        assert_int_equal(asrun_set_path(a, f->path), 0);
        assert_int_equal(asrun_backlog(a), 0);
        asrun_free(a);
        fp = fopen(f->path, "re");
        assert_non_null(fp);
        while (getline(&line, &size, fp) > 0) {
                if (n++ == 0)
                        first = json_tokener_parse(line);
        }
        free(line);
        fclose(fp);
        assert_int_equal(n, ASRUN_BACKLOG_MAX);
        assert_int_equal(get_i(first, "id"), 6);
        json_object_put(first);
}

/* A record cut short by a crash is closed off, and skipped by queries. */
static void test_torn_line(void **state) {
        struct fixture *f = *state;
        struct asrun_record r = record(9, 5000);
        struct json_object *arr;
        struct asrun *a;
        FILE *fp = fopen(f->path, "we");
        int64_t next;

        fputs("{\"start_ms\":4000,\"end_ms\":40", fp);
        fclose(fp);
        assert_int_equal(asrun_new(f->e, f->path, 0, &a), 0);
        assert_int_equal(asrun_append(a, &r), 0);
        assert_int_equal(asrun_query(a, INT64_MIN, INT64_MAX, 0, 1 << 20, &arr, &next), 0);
        assert_int_equal(json_object_array_length(arr), 1);
        assert_int_equal(get_i(json_object_array_get_idx(arr, 0), "id"), 9);
        json_object_put(arr);
        asrun_free(a);
}

static void test_query_filter_and_pages(void **state) {
        struct fixture *f = *state;
        struct json_object *arr, *all = json_object_new_array();
        struct asrun *a;
        int64_t next = 0;
        int pages = 0;
        FILE *fp;

        assert_int_equal(asrun_new(f->e, f->path, 0, &a), 0);
        for (int i = 0; i < 10; i++) {
                struct asrun_record r = record((uint64_t)i + 1, 1000 * (i + 1));

                assert_int_equal(asrun_append(a, &r), 0);
                if (i == 4) { /* a foreign line in the middle */
                        fp = fopen(f->path, "ae");
                        fputs("not json\n{\"other\":1}\n", fp);
                        fclose(fp);
                }
        }
        assert_int_equal(asrun_query(a, 3000, 6000, 0, 1 << 20, &arr, &next), 0);
        assert_int_equal(next, -1);
        assert_int_equal(json_object_array_length(arr), 3);
        assert_int_equal(get_i(json_object_array_get_idx(arr, 0), "start_ms"), 3000);
        assert_int_equal(get_i(json_object_array_get_idx(arr, 2), "start_ms"), 5000);
        json_object_put(arr);

        /* Pages of about one record each, joined, give every record once. */
        next = 0;
        do {
                assert_int_equal(asrun_query(a, INT64_MIN, INT64_MAX, next, 10, &arr, &next), 0);
                for (size_t i = 0; i < json_object_array_length(arr); i++)
                        json_object_array_add(all, json_object_get(json_object_array_get_idx(arr, i)));
                json_object_put(arr);
                assert_true(++pages < 20);
        } while (next >= 0);
        assert_int_equal(json_object_array_length(all), 10);
        for (int i = 0; i < 10; i++)
                assert_int_equal(get_i(json_object_array_get_idx(all, (size_t)i), "id"), i + 1);
        json_object_put(all);
        asrun_free(a);
}

static void test_off(void **state) {
        struct fixture *f = *state;
        struct asrun_record r = record(1, 1);
        struct json_object *arr;
        struct asrun *a;
        int64_t next;

        assert_int_equal(asrun_new(f->e, NULL, 0, &a), 0);
        assert_int_equal(asrun_append(a, &r), 0);
        assert_int_equal(asrun_backlog(a), 0);
        assert_int_equal(asrun_query(a, INT64_MIN, INT64_MAX, 0, 1 << 20, &arr, &next), 0);
        assert_int_equal(json_object_array_length(arr), 0);
        json_object_put(arr);
        asrun_free(a);
        assert_int_equal(access(f->path, F_OK), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reasons),
                cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_disk_then_switch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timer_catch_up, setup, teardown),
                cmocka_unit_test_setup_teardown(test_backlog_bound, setup, teardown),
                cmocka_unit_test_setup_teardown(test_torn_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_query_filter_and_pages, setup, teardown),
                cmocka_unit_test_setup_teardown(test_off, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

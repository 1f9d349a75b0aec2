/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-persist: the state file. Round trip of every field, the atomic
 * write (a torn temp file is never read, a failed write leaves the old
 * state whole), corrupt files (a clear error naming the file and where,
 * the file moved aside, the next load starts empty), and the queue's
 * id-keeping insert used to restore it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "persist.h"
#include "queue.h"

static char *dup_or_die(const char *s) {
        char *d = strdup(s);

        assert_non_null(d);
        return d;
}

static void make_state(struct persist_state *st) {
        static const uint64_t ids[] = {7, 3, 12};

        memset(st, 0, sizeof *st);
        st->next_id = 13;
        st->rate = 48000;
        st->n_queue = 3;
        st->queue = calloc(3, sizeof *st->queue);
        assert_non_null(st->queue);
        for (size_t i = 0; i < 3; i++) {
                char a[64], t[64];

                snprintf(a, sizeof a, "/srv/news/%zu \"quoted\"/audio.mp3", i);
                snprintf(t, sizeof t, "/srv/news/%zu/transcript.txt", i);
                st->queue[i].id = ids[i];
                st->queue[i].audio = dup_or_die(a);
                st->queue[i].transcript = dup_or_die(t);
        }
        st->queue[1].start_frame = 4410;
        st->has_on_air = true;
        st->on_air.story.id = 5;
        st->on_air.story.audio = dup_or_die("/srv/news/onair.mp3");
        st->on_air.story.transcript = dup_or_die("/srv/news/onair.txt");
        st->on_air.story.start_frame = 100;
        st->on_air.frames = 123456789;
        st->on_air.duration_ms = 600000;
        st->on_air.started_wall_ms = 1700000000000;
        st->on_air.checkpoint_wall_ms = 1700000002800;
        st->schedule = json_tokener_parse("[{\"time\":\"12:00\",\"mode\":\"hard\"}]");
        assert_non_null(st->schedule);
}

static void assert_same_story(const struct persist_story *a, const struct persist_story *b) {
        assert_int_equal(a->id, b->id);
        assert_string_equal(a->audio, b->audio);
        assert_string_equal(a->transcript, b->transcript);
        assert_int_equal(a->start_frame, b->start_frame);
}

static void assert_same_state(const struct persist_state *a, const struct persist_state *b) {
        assert_int_equal(a->next_id, b->next_id);
        assert_int_equal(a->rate, b->rate);
        assert_int_equal(a->n_queue, b->n_queue);
        for (size_t i = 0; i < a->n_queue; i++)
                assert_same_story(&a->queue[i], &b->queue[i]);
        assert_int_equal(a->has_on_air, b->has_on_air);
        if (a->has_on_air) {
                assert_same_story(&a->on_air.story, &b->on_air.story);
                assert_int_equal(a->on_air.frames, b->on_air.frames);
                assert_int_equal(a->on_air.duration_ms, b->on_air.duration_ms);
                assert_int_equal(a->on_air.started_wall_ms, b->on_air.started_wall_ms);
                assert_int_equal(a->on_air.checkpoint_wall_ms, b->on_air.checkpoint_wall_ms);
        }
        assert_int_equal(!!a->schedule, !!b->schedule);
        if (a->schedule)
                assert_true(json_object_equal(a->schedule, b->schedule));
}

static void test_round_trip(void **state) {
        struct persist_state st, back;
        char *text, *error = NULL;

        make_state(&st);
        assert_int_equal(persist_state_to_json(&st, &text), 0);
        assert_int_equal(persist_state_from_json(text, strlen(text), &back, &error), 0);
        assert_null(error);
        assert_same_state(&st, &back);
        free(text);
        persist_state_done(&back);

        /* Nothing on air, empty queue, no schedule. */
        persist_state_done(&st);
        st.next_id = 1;
        st.rate = 44100;
        assert_int_equal(persist_state_to_json(&st, &text), 0);
        assert_int_equal(persist_state_from_json(text, strlen(text), &back, &error), 0);
        assert_same_state(&st, &back);
        free(text);
        persist_state_done(&back);
}

static void expect_bad(const char *text, const char *message) {
        struct persist_state st;
        char *error = NULL;

        assert_int_equal(persist_state_from_json(text, strlen(text), &st, &error), -EBADMSG);
        assert_non_null(error);
        if (!strstr(error, message))
                fail_msg("error '%s' lacks '%s'", error, message);
        assert_int_equal(st.n_queue, 0);
        assert_null(st.queue);
        free(error);
}

static void test_bad_text(void **state) {
        expect_bad("", "1:1 (offset 0): the file is empty");
        expect_bad("{\"version\":1,\n\"next_id\":", "2:11 (offset 24): unexpected end of data");
        expect_bad("{\"version\":1,\n  \"next_id\" 5}", "2:13 (offset 26)");
        expect_bad("[]", "top level: not an object");
        expect_bad("{\"version\":2,\"next_id\":1,\"rate\":44100,\"queue\":[]}", "version: 2 is not 1");
        expect_bad("{\"version\":1,\"next_id\":1,\"rate\":44100,\"queue\":[]} x", "data after the end");
        expect_bad("{\"version\":1,\"next_id\":1,\"rate\":44100}", "queue: missing");
        expect_bad("{\"version\":1,\"next_id\":3,\"rate\":44100,\"queue\":[{\"id\":1,\"start_frame\":0,"
                   "\"audio\":\"/a\",\"transcript\":\"/b\"},{\"id\":2,\"start_frame\":0,\"audio\":5,"
                   "\"transcript\":\"/b\"}]}",
                   "queue[1].audio: not a string");
        expect_bad("{\"version\":1,\"next_id\":3,\"rate\":44100,\"queue\":[{\"id\":1,\"start_frame\":0,"
                   "\"audio\":\"a.mp3\",\"transcript\":\"/b\"}]}",
                   "queue[0].audio: not an absolute path");
        expect_bad("{\"version\":1,\"next_id\":3,\"rate\":44100,\"queue\":[{\"id\":1,\"start_frame\":0,"
                   "\"audio\":\"/a\",\"transcript\":\"/b\"},{\"id\":1,\"start_frame\":0,\"audio\":\"/a\","
                   "\"transcript\":\"/b\"}]}",
                   "queue[1]: id 1 appears twice");
        expect_bad("{\"version\":1,\"next_id\":3,\"rate\":44100,\"queue\":[],\"on_air\":{\"id\":1,"
                   "\"start_frame\":0,\"audio\":\"/a\",\"transcript\":\"/b\",\"frames\":-4}}",
                   "on_air.frames: -4 is below 0");
}

/* ---- files ----------------------------------------------------------- */

struct fixture {
        char dir[64];
        char path[128];
        char tmp[128];
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof *f);

        if (!f)
                return -1;
        strcpy(f->dir, "/tmp/test-persist.XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        snprintf(f->path, sizeof f->path, "%s/state.json", f->dir);
        snprintf(f->tmp, sizeof f->tmp, "%s/state.json.tmp", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        DIR *d = opendir(f->dir);
        struct dirent *e;

        while (d && (e = readdir(d))) {
                char p[512];

                if (e->d_name[0] == '.' && (!e->d_name[1] || e->d_name[1] == '.'))
                        continue;
                snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
                if (unlink(p) < 0)
                        rmdir(p);
        }
        if (d)
                closedir(d);
        rmdir(f->dir);
        free(f);
        return 0;
}

static void write_file(const char *path, const char *text) {
        FILE *fp = fopen(path, "w");

        assert_non_null(fp);
        fputs(text, fp);
        assert_int_equal(fclose(fp), 0);
}

static size_t count_entries(const char *dir, const char *prefix) {
        DIR *d = opendir(dir);
        struct dirent *e;
        size_t n = 0;

        assert_non_null(d);
        while ((e = readdir(d)))
                n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
        closedir(d);
        return n;
}

static void test_save_load(void **state) {
        struct fixture *f = *state;
        struct persist *p, *p2;
        struct persist_state st, back;
        char *error = NULL;

        assert_int_equal(persist_new(f->dir, &p), 0);
        assert_string_equal(persist_path(p), f->path);
        assert_int_equal(persist_load(p, &back, &error), 0); /* first start: nothing */
        make_state(&st);
        assert_int_equal(persist_save(p, &st), 1);
        assert_int_equal(access(f->tmp, F_OK), -1); /* no temp left behind */

        assert_int_equal(persist_new(f->dir, &p2), 0);
        assert_int_equal(persist_load(p2, &back, &error), 1);
        assert_same_state(&st, &back);
        persist_state_done(&back);

        /* The same state again is not rewritten (the inode would change). */
        {
                struct stat a, b;

                assert_int_equal(stat(f->path, &a), 0);
                assert_int_equal(persist_save(p, &st), 0);
                assert_int_equal(stat(f->path, &b), 0);
                assert_int_equal(a.st_ino, b.st_ino);
                st.queue[0].start_frame = 1;
                assert_int_equal(persist_save(p, &st), 1);
                assert_int_equal(stat(f->path, &b), 0);
                assert_int_not_equal(a.st_ino, b.st_ino);
        }
        persist_state_done(&st);
        persist_free(p);
        persist_free(p2);
}

/* A write prepared on the loop and done on another thread: the state is
 * on disk when persist_write returns; an older prepared text written
 * after a newer one does not put the older state back, and reports the
 * newer write's outcome. */
static void test_prepared_write(void **state) {
        struct fixture *f = *state;
        struct persist *p, *p2;
        struct persist_write *w1, *w2;
        struct persist_state st, back;
        char *error = NULL;

        assert_int_equal(persist_new(f->dir, &p), 0);
        make_state(&st);
        assert_int_equal(persist_prepare(p, &st, &w1), 0);
        st.queue[0].start_frame = 7;
        assert_int_equal(persist_prepare(p, &st, &w2), 0);
        assert_int_equal(access(f->path, F_OK), -1); /* nothing written on the loop */
        assert_int_equal(persist_write(p, w2), 0);
        assert_int_equal(persist_write(p, w1), 0); /* older: skipped, w2 holds its changes */

        assert_int_equal(persist_new(f->dir, &p2), 0);
        assert_int_equal(persist_load(p2, &back, &error), 1);
        assert_same_state(&st, &back);
        assert_int_equal(back.queue[0].start_frame, 7);
        persist_state_done(&back);
        persist_write_free(w1);
        persist_write_free(w2);
        persist_state_done(&st);
        persist_free(p);
        persist_free(p2);
}

static void test_torn_temp_ignored(void **state) {
        struct fixture *f = *state;
        struct persist *p;
        struct persist_state st, back;
        char *error = NULL;

        assert_int_equal(persist_new(f->dir, &p), 0);
        make_state(&st);
        assert_int_equal(persist_save(p, &st), 1);
        persist_free(p);

        /* A crash mid-write leaves half a temp file: never read, removed. */
        write_file(f->tmp, "{\"version\":1,\"next_id\":99,\"queue\":[{\"id\":");
        assert_int_equal(persist_new(f->dir, &p), 0);
        assert_int_equal(persist_load(p, &back, &error), 1);
        assert_same_state(&st, &back);
        assert_int_equal(access(f->tmp, F_OK), -1);
        persist_state_done(&back);
        persist_state_done(&st);
        persist_free(p);

        /* A torn temp file and no state yet: a first start. */
        assert_int_equal(unlink(f->path), 0);
        write_file(f->tmp, "{\"vers");
        assert_int_equal(persist_new(f->dir, &p), 0);
        assert_int_equal(persist_load(p, &back, &error), 0);
        persist_free(p);
}

static void test_failed_write_keeps_old_state(void **state) {
        struct fixture *f = *state;
        struct persist *p;
        struct persist_state st, back;
        char *error = NULL;

        assert_int_equal(persist_new(f->dir, &p), 0);
        make_state(&st);
        assert_int_equal(persist_save(p, &st), 1);

        /* The temp file cannot be created (a directory is in the way). */
        assert_int_equal(mkdir(f->tmp, 0755), 0);
        st.next_id = 50;
        assert_int_equal(persist_save(p, &st), -EISDIR);
        assert_int_equal(rmdir(f->tmp), 0);
        {
                struct persist *p2;

                assert_int_equal(persist_new(f->dir, &p2), 0);
                assert_int_equal(persist_load(p2, &back, &error), 1);
                assert_int_equal(back.next_id, 13); /* the old state, whole */
                persist_state_done(&back);
                persist_free(p2);
        }
        /* It catches up once writing works again. */
        assert_int_equal(persist_save(p, &st), 1);
        assert_int_equal(persist_load(p, &back, &error), 1);
        assert_int_equal(back.next_id, 50);
        persist_state_done(&back);
        persist_state_done(&st);
        persist_free(p);
}

static void test_corrupt_moved_aside(void **state) {
        struct fixture *f = *state;
        struct persist *p;
        struct persist_state back;
        char *error = NULL;

        write_file(f->path, "{\n  \"version\": 1,\n  \"next_id\": 4,\n  \"queue\": [ {\"id\": 1, \"au");
        assert_int_equal(persist_new(f->dir, &p), 0);
        assert_int_equal(persist_load(p, &back, &error), -EBADMSG);
        assert_non_null(error);
        assert_non_null(strstr(error, f->path));
        assert_non_null(strstr(error, "4:")); /* the line */
        assert_non_null(strstr(error, "offset"));
        assert_non_null(strstr(error, "moved it to"));
        free(error);
        assert_int_equal(access(f->path, F_OK), -1);
        assert_int_equal(count_entries(f->dir, "state.json.corrupt-"), 1);
        /* The next start is a first start. */
        assert_int_equal(persist_load(p, &back, &error), 0);
        persist_free(p);
}

static void test_bad_field_moved_aside(void **state) {
        struct fixture *f = *state;
        struct persist *p;
        struct persist_state back;
        char *error = NULL;

        write_file(f->path, "{\"version\":1,\"next_id\":2,\"rate\":44100,\"queue\":[{\"id\":\"x\"}]}");
        assert_int_equal(persist_new(f->dir, &p), 0);
        assert_int_equal(persist_load(p, &back, &error), -EBADMSG);
        assert_non_null(strstr(error, "queue[0].id: not an integer"));
        free(error);
        assert_int_equal(count_entries(f->dir, "state.json.corrupt-"), 1);
        persist_free(p);
}

/* ---- queue ids ------------------------------------------------------- */

static struct story *new_story(uint64_t id) {
        struct story *s = calloc(1, sizeof *s);

        assert_non_null(s);
        s->id = id;
        return s;
}

static void test_queue_keeps_ids(void **state) {
        struct queue *q;
        struct story *s;

        assert_int_equal(queue_new(&q), 0);
        assert_int_equal(queue_insert_with_id(q, 0, new_story(7)), 0);
        assert_int_equal(queue_insert_with_id(q, 0, new_story(3)), 0); /* order as given */
        assert_int_equal(queue_next_id(q), 8);
        s = new_story(7);
        assert_int_equal(queue_insert_with_id(q, 1, s), -EEXIST);
        s->id = 0;
        assert_int_equal(queue_insert_with_id(q, 1, s), -EINVAL);
        assert_int_equal(queue_insert_with_id(q, 5, s = (s->id = 9, s)), -ERANGE);
        story_free(s);
        queue_set_next_id(q, 20);
        queue_set_next_id(q, 10); /* never goes back */
        s = new_story(0);
        assert_int_equal(queue_insert(q, 2, s), 0);
        assert_int_equal(s->id, 20);
        assert_int_equal(queue_get(q, 0)->id, 3);
        assert_int_equal(queue_get(q, 1)->id, 7);
        assert_int_equal(queue_get(q, 2)->id, 20);
        queue_free(q);
}

/* The per-second position goes to its own small record, not the state
 * file; load takes it when it is for the story on air and newer, and
 * ignores a torn one. Async saves land by persist_free at the latest, and
 * an older async save never replaces a newer synchronous one. */
static void test_position_record(void **state) {
        struct fixture *f = *state;
        struct persist *p, *p2;
        struct persist_state st, back;
        struct persist_on_air pos;
        char *error = NULL, posfile[160];
        struct stat before, after;

        make_state(&st);
        assert_int_equal(persist_new(f->dir, &p), 0);
        assert_int_equal(persist_save_async(p, &st), 1);
        pos = st.on_air;
        pos.frames = 200000000;
        pos.checkpoint_wall_ms += 5000;
        persist_free(p); /* drains the writer */

        assert_int_equal(stat(f->path, &before), 0);
        assert_int_equal(persist_new(f->dir, &p), 0);
        assert_int_equal(persist_checkpoint(p, &pos), 0);
        persist_free(p);
        assert_int_equal(stat(f->path, &after), 0);
        assert_int_equal(before.st_ino, after.st_ino); /* the state file was not rewritten */

        assert_int_equal(persist_new(f->dir, &p2), 0);
        assert_int_equal(persist_load(p2, &back, &error), 1);
        assert_int_equal(back.on_air.frames, 200000000);
        assert_int_equal(back.on_air.checkpoint_wall_ms, st.on_air.checkpoint_wall_ms + 5000);
        persist_state_done(&back);
        persist_free(p2);

        /* A torn record (one byte changed) is ignored. */
        snprintf(posfile, sizeof posfile, "%s/position", f->dir);
        {
                int fd = open(posfile, O_WRONLY);

                assert_true(fd >= 0);
                assert_int_equal(pwrite(fd, "X", 1, 20), 1);
                close(fd);
        }
        assert_int_equal(persist_new(f->dir, &p2), 0);
        assert_int_equal(persist_load(p2, &back, &error), 1);
        assert_int_equal(back.on_air.frames, st.on_air.frames);
        persist_state_done(&back);
        persist_free(p2);

        /* Another story on air: the record is not its position. */
        assert_int_equal(persist_new(f->dir, &p), 0);
        assert_int_equal(persist_checkpoint(p, &pos), 0);
        st.on_air.story.id = 6;
        assert_int_equal(persist_save(p, &st), 1);
        assert_int_equal(persist_async_error(p), 0);
        persist_free(p);
        assert_int_equal(persist_new(f->dir, &p2), 0);
        assert_int_equal(persist_load(p2, &back, &error), 1);
        assert_int_equal(back.on_air.story.id, 6);
        assert_int_equal(back.on_air.frames, st.on_air.frames);
        persist_state_done(&back);
        persist_free(p2);
        persist_state_done(&st);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_bad_text),
                cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepared_write, setup, teardown),
                cmocka_unit_test_setup_teardown(test_torn_temp_ignored, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failed_write_keeps_old_state, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_moved_aside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_field_moved_aside, setup, teardown),
                cmocka_unit_test(test_queue_keeps_ids),
                cmocka_unit_test_setup_teardown(test_position_record, setup, teardown),
        };

        return cmocka_run_group_tests_name("persist", tests, NULL, NULL);
}

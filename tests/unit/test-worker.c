/* SPDX-License-Identifier: GPL-3.0-or-later */
/* test-worker.c: jobs run on another thread, done() comes back on the loop
 * thread in submission order, and worker_free() reports every submitted job
 * once: finished ones with their result, unrun ones untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

#define N_JOBS 50

struct job {
        int index;
        int result; /* -ECANCELED until work() ran */
        pthread_t ran_on;
        sem_t *started; /* posted when work() begins, if set */
        unsigned delay_ms;
};

struct record {
        int order[N_JOBS];
        int n_done;
        pthread_t loop_thread;
        bool wrong_thread;
};

static void job_work(void *p) {
        struct job *j = p;

        if (j->started)
                sem_post(j->started);
        if (j->delay_ms > 0)
                nanosleep(&(struct timespec){0, (long)j->delay_ms * 1000000L}, NULL);
        j->ran_on = pthread_self();
        j->result = j->index * 2;
}

static void job_done(void *p, void *userdata) {
        struct job *j = p;
        struct record *rec = userdata;

        if (!pthread_equal(pthread_self(), rec->loop_thread))
                rec->wrong_thread = true;
        assert_true(rec->n_done < N_JOBS);
        rec->order[rec->n_done++] = j->index;
}

static void init_jobs(struct job *jobs, int n) {
        for (int i = 0; i < n; i++)
                jobs[i] = (struct job){.index = i, .result = -ECANCELED};
}

static void test_jobs_run_in_order(void **state) {
        struct record rec = {.loop_thread = pthread_self()};
        struct job jobs[N_JOBS];
        struct worker *w = NULL;
        sd_event *e = NULL;

        init_jobs(jobs, N_JOBS);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(worker_new(e, job_done, &rec, &w), 0);
        for (int i = 0; i < N_JOBS; i++)
                assert_int_equal(worker_submit(w, job_work, &jobs[i]), 0);

        for (int spins = 0; rec.n_done < N_JOBS && spins < 1000; spins++)
                assert_true(sd_event_run(e, 10000) >= 0);

        assert_int_equal(rec.n_done, N_JOBS);
        assert_false(rec.wrong_thread);
        for (int i = 0; i < N_JOBS; i++) {
                assert_int_equal(rec.order[i], i);
                assert_int_equal(jobs[i].result, i * 2);
                assert_false(pthread_equal(jobs[i].ran_on, rec.loop_thread));
        }
        assert_null(worker_free(w));
        assert_int_equal(rec.n_done, N_JOBS); /* nothing reported twice */
        sd_event_unref(e);
}

/* done() may submit more work: the list is taken before callbacks run. */
static struct worker *resubmit_worker;
static struct job resubmit_jobs[2];

static void resubmit_done(void *p, void *userdata) {
        struct job *j = p;

        job_done(p, userdata);
        if (j->index == 0)
                assert_int_equal(worker_submit(resubmit_worker, job_work, &resubmit_jobs[1]), 0);
}

static void test_done_may_submit(void **state) {
        struct record rec = {.loop_thread = pthread_self()};
        sd_event *e = NULL;

        init_jobs(resubmit_jobs, 2);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(worker_new(e, resubmit_done, &rec, &resubmit_worker), 0);
        assert_int_equal(worker_submit(resubmit_worker, job_work, &resubmit_jobs[0]), 0);
        for (int spins = 0; rec.n_done < 2 && spins < 500; spins++)
                assert_true(sd_event_run(e, 10000) >= 0);
        assert_int_equal(rec.n_done, 2);
        assert_int_equal(resubmit_jobs[1].result, 2);
        resubmit_worker = worker_free(resubmit_worker);
        sd_event_unref(e);
}

/* Free while job 0 runs: it finishes, jobs 1..4 are reported unrun, all
 * in order, and none of them is run after free returns. */
static void test_free_with_pending(void **state) {
        struct record rec = {.loop_thread = pthread_self()};
        struct job jobs[5];
        struct worker *w = NULL;
        sd_event *e = NULL;
        sem_t started;

        init_jobs(jobs, 5);
        sem_init(&started, 0, 0);
        jobs[0].started = &started;
        jobs[0].delay_ms = 100;
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(worker_new(e, job_done, &rec, &w), 0);
        for (int i = 0; i < 5; i++)
                assert_int_equal(worker_submit(w, job_work, &jobs[i]), 0);
        sem_wait(&started);

        assert_null(worker_free(w));

        assert_int_equal(rec.n_done, 5);
        assert_false(rec.wrong_thread);
        for (int i = 0; i < 5; i++)
                assert_int_equal(rec.order[i], i);
        assert_int_equal(jobs[0].result, 0);
        for (int i = 1; i < 5; i++)
                assert_int_equal(jobs[i].result, -ECANCELED);
        sem_destroy(&started);
        sd_event_unref(e);
}

/* Finished but not yet collected by the loop: free still reports them. */
static void test_free_reports_uncollected(void **state) {
        struct record rec = {.loop_thread = pthread_self()};
        struct job jobs[3];
        struct worker *w = NULL;
        sd_event *e = NULL;
        sem_t started;

        init_jobs(jobs, 3);
        sem_init(&started, 0, 0);
        jobs[2].started = &started;
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(worker_new(e, job_done, &rec, &w), 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(worker_submit(w, job_work, &jobs[i]), 0);
        sem_wait(&started); /* jobs 0 and 1 are done by now */

        assert_null(worker_free(w));
        assert_int_equal(rec.n_done, 3);
        for (int i = 0; i < 3; i++)
                assert_int_equal(rec.order[i], i);
        assert_int_equal(jobs[0].result, 0);
        assert_int_equal(jobs[1].result, 2);
        assert_int_equal(jobs[2].result, 4); /* was running: finished */
        sem_destroy(&started);
        sd_event_unref(e);
}

static void test_free_null_and_idle(void **state) {
        struct record rec = {.loop_thread = pthread_self()};
        struct worker *w = NULL;
        sd_event *e = NULL;

        assert_null(worker_free(NULL));
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(worker_new(e, job_done, &rec, &w), 0);
        assert_null(worker_free(w));
        assert_int_equal(rec.n_done, 0);
        sd_event_unref(e);
}

/* A pool: a job stuck until cancelled does not hold up the next one, and
 * worker_free() makes the cancel fd readable so the stuck job can end. */
static struct worker *pool;

static void stuck_work(void *p) {
        struct job *j = p;
        struct pollfd pfd = {.fd = worker_cancel_fd(pool), .events = POLLIN};

        sem_post(j->started);
        j->result = poll(&pfd, 1, 10000) == 1 ? -EINTR : -ETIMEDOUT;
}

static void test_pool_stuck_job(void **state) {
        struct record rec = {.loop_thread = pthread_self()};
        struct job jobs[3];
        sd_event *e = NULL;
        sem_t started;
        struct timespec t0, t1;

        init_jobs(jobs, 3);
        sem_init(&started, 0, 0);
        jobs[0].started = &started;
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(worker_new_pool(e, 2, job_done, &rec, &pool), 0);
        assert_int_equal(worker_submit(pool, stuck_work, &jobs[0]), 0);
        sem_wait(&started);
        assert_int_equal(worker_submit(pool, job_work, &jobs[1]), 0);
        assert_int_equal(worker_submit(pool, job_work, &jobs[2]), 0);
        for (int spins = 0; rec.n_done < 2 && spins < 500; spins++)
                assert_true(sd_event_run(e, 10000) >= 0);
        /* 1 and 2, while 0 is stuck (its result is not read here: the worker
         * still owns job 0 and writes it once cancelled) */
        assert_int_equal(rec.n_done, 2);
        assert_true(rec.order[0] != 0 && rec.order[1] != 0);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        pool = worker_free(pool);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_true(t1.tv_sec - t0.tv_sec < 2);
        assert_int_equal(jobs[0].result, -EINTR);
        assert_int_equal(rec.n_done, 3);
        assert_int_equal(rec.order[2], 0);
        sem_destroy(&started);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_jobs_run_in_order),  cmocka_unit_test(test_done_may_submit),
                cmocka_unit_test(test_free_with_pending),  cmocka_unit_test(test_free_reports_uncollected),
                cmocka_unit_test(test_free_null_and_idle), cmocka_unit_test(test_pool_stuck_job),
        };

        return cmocka_run_group_tests_name("worker", tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* worker.c: threads for slow ingest work (see worker.h).
 *
 * DESIGN: the loop thread appends jobs to `queue` under `lock` and signals
 * `wake`; a worker thread pops one, runs work() with the lock released,
 * appends it to `done` and writes the eventfd. The loop watches the
 * eventfd, takes the whole done list under the lock and calls done() with
 * the lock released, in submission order with one thread (FIFO both
 * ways), in completion order with several. So done() may submit new jobs.
 * worker_free() sets `stop`, writes `cancel_efd` (so a job blocked in a
 * child process gives up), joins the threads after their current job and reports the never-run jobs through
 * done() too: callers tell them apart by a result field that work() fills and that they initialise to "not
 * run" (e.g. -ECANCELED). */
#include "worker.h"

#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

#define WORKER_MAX_THREADS 16

struct worker_item {
        struct worker_item *next;
        worker_work_t work;
        void *job;
};

/* Singly linked FIFO with a tail pointer. */
struct worker_list {
        struct worker_item *head, *tail;
};

struct worker {
        worker_done_t done;
        void *userdata;
        int efd;
        sd_event_source *source;
        int cancel_efd; /* written once by worker_free() */
        pthread_t threads[WORKER_MAX_THREADS];
        unsigned n_started;

        pthread_mutex_t lock; /* guards queue, done_list, stop */
        pthread_cond_t wake;
        struct worker_list queue;
        struct worker_list done_list;
        bool stop;
};

static void list_push(struct worker_list *l, struct worker_item *it) {
        it->next = NULL;
        if (l->tail)
                l->tail->next = it;
        else
                l->head = it;
        l->tail = it;
}

static struct worker_item *list_pop(struct worker_list *l) {
        struct worker_item *it = l->head;

        if (it) {
                l->head = it->next;
                if (!l->head)
                        l->tail = NULL;
        }
        return it;
}

/* Appends all of SRC to DST and empties SRC. */
static void list_splice(struct worker_list *dst, struct worker_list *src) {
        if (!src->head)
                return;
        if (dst->tail)
                dst->tail->next = src->head;
        else
                dst->head = src->head;
        dst->tail = src->tail;
        src->head = src->tail = NULL;
}

static void *worker_thread(void *arg) {
        struct worker *w = arg;
        const uint64_t one = 1;

        /* Ingest and alignment are batch work: they must never take CPU
         * from the playout thread or the loop on a busy air-chain machine.
         * Linux applies a thread's nice value to that thread only. */
        if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10) < 0)
                log_debug_errno(-errno, "Cannot lower the worker's priority: %m, ignoring");
        pthread_setname_np(pthread_self(), "nextupd-worker");

        for (;;) {
                struct worker_item *it;

                pthread_mutex_lock(&w->lock);
                while (!w->stop && !w->queue.head)
                        pthread_cond_wait(&w->wake, &w->lock);
                it = w->stop ? NULL : list_pop(&w->queue);
                pthread_mutex_unlock(&w->lock);
                if (!it)
                        return NULL;

                it->work(it->job);

                pthread_mutex_lock(&w->lock);
                list_push(&w->done_list, it);
                pthread_mutex_unlock(&w->lock);
                /* Only fails with EAGAIN when the counter is about to
                 * overflow, and then the loop has a wakeup pending anyway. */
                (void)!write(w->efd, &one, sizeof one);
        }
}

/* Loop thread: calls done() for every item of LIST in order, frees them. */
static void worker_report(struct worker *w, struct worker_list *list) {
        struct worker_item *it;

        while ((it = list_pop(list))) {
                void *job = it->job;

                free(it);
                w->done(job, w->userdata);
        }
}

static int worker_on_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct worker *w = userdata;
        struct worker_list finished = {NULL, NULL};
        uint64_t n;

        if (read(w->efd, &n, sizeof n) < 0 && errno != EAGAIN && errno != EINTR)
                return log_error_errno(errno, "Failed to read worker eventfd: %m");
        pthread_mutex_lock(&w->lock);
        list_splice(&finished, &w->done_list);
        pthread_mutex_unlock(&w->lock);
        worker_report(w, &finished);
        return 0;
}

/* The thread blocks every signal so they reach the loop's signalfd (sd-event
 * needs them blocked in all threads). */
static int worker_start_thread(struct worker *w) {
        sigset_t all, old;
        int r;

        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&w->threads[w->n_started], NULL, worker_thread, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                return r;
        w->n_started++;
        return 0;
}

int worker_new(sd_event *e, worker_done_t done, void *userdata, struct worker **ret) {
        return worker_new_pool(e, 1, done, userdata, ret);
}

int worker_cancel_fd(const struct worker *w) {
        return w->cancel_efd;
}

int worker_new_pool(sd_event *e, unsigned n_threads, worker_done_t done, void *userdata,
                    struct worker **ret) {
        struct worker *w;
        int r;

        assert(e && done && ret);
        if (n_threads < 1 || n_threads > WORKER_MAX_THREADS)
                return -EINVAL;
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->done = done;
        w->userdata = userdata;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->wake, NULL);
        w->cancel_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->efd < 0 || w->cancel_efd < 0)
                r = -errno;
        else
                r = sd_event_add_io(e, &w->source, w->efd, EPOLLIN, worker_on_event, w);
        for (unsigned i = 0; r >= 0 && i < n_threads; i++)
                r = worker_start_thread(w);
        if (r < 0) {
                worker_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int worker_submit(struct worker *w, worker_work_t work, void *job) {
        struct worker_item *it;

        assert(w && work);
        it = malloc(sizeof *it);
        if (!it)
                return -ENOMEM;
        it->work = work;
        it->job = job;
        pthread_mutex_lock(&w->lock);
        if (w->stop) {
                /* From a done() called by worker_free: nothing runs any more,
                 * the caller keeps (and frees) its job. */
                pthread_mutex_unlock(&w->lock);
                free(it);
                return -ESHUTDOWN;
        }
        list_push(&w->queue, it);
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        return 0;
}

struct worker *worker_free(struct worker *w) {
        struct worker_list rest = {NULL, NULL};

        if (!w)
                return NULL;
        if (w->n_started > 0) {
                const uint64_t one = 1;

                pthread_mutex_lock(&w->lock);
                w->stop = true;
                pthread_cond_broadcast(&w->wake);
                pthread_mutex_unlock(&w->lock);
                (void)!write(w->cancel_efd, &one, sizeof one);
                for (unsigned i = 0; i < w->n_started; i++)
                        pthread_join(w->threads[i], NULL);
        }
        /* The thread is gone: no lock needed. Finished jobs first, then the
         * never-run ones, which keeps submission order. */
        list_splice(&rest, &w->done_list);
        list_splice(&rest, &w->queue);
        worker_report(w, &rest);

        sd_event_source_disable_unref(w->source);
        closep(&w->efd);
        closep(&w->cancel_efd);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}

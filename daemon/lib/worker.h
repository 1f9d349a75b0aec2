/* SPDX-License-Identifier: GPL-3.0-or-later */
/* worker.h: threads for slow ingest work (audio scans, alignment) so
 * the loop and the air never wait on it. work() runs on a worker thread;
 * done() runs later on the loop thread (via an eventfd watched by
 * sd-event). With one thread, jobs run and report in submission order;
 * with several (worker_new_pool), a slow job does not hold up the next one
 * and done() comes in completion order. */
#pragma once

#include <systemd/sd-event.h>

struct worker;

typedef void (*worker_work_t)(void *job);
typedef void (*worker_done_t)(void *job, void *userdata);

int worker_new(sd_event *e, worker_done_t done, void *userdata, struct worker **ret);
/* Like worker_new with N_THREADS (1..16) threads sharing one queue. */
int worker_new_pool(sd_event *e, unsigned n_threads, worker_done_t done, void *userdata,
                    struct worker **ret);
/* An fd that becomes readable (and stays so) once worker_free() has begun:
 * a job waiting on something slow (a child process) polls it to stop early.
 * Valid until worker_free() returns; any thread. */
int worker_cancel_fd(const struct worker *w);
/* Loop thread. JOB is owned by the caller until done() is called for it.
 * -ESHUTDOWN once worker_free() has begun (the caller keeps JOB). */
int worker_submit(struct worker *w, worker_work_t work, void *job);
/* Makes the cancel fd readable, waits for the running jobs, drops queued ones (done() is called for
 * them too so they can be freed), joins the thread. */
struct worker *worker_free(struct worker *w);

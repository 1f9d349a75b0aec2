/* SPDX-License-Identifier: GPL-3.0-or-later */
/* worker.h: one thread for slow ingest work (audio scans, alignment) so
 * the loop and the air never wait on it. work() runs on the
 * worker thread; done() runs later on the loop thread (via an eventfd
 * watched by sd-event). Jobs run in submission order. */
#pragma once

#include <systemd/sd-event.h>

struct worker;

typedef void (*worker_work_t)(void *job);
typedef void (*worker_done_t)(void *job, void *userdata);

int worker_new(sd_event *e, worker_done_t done, void *userdata, struct worker **ret);
/* Loop thread. JOB is owned by the caller until done() is called for it.
 * -ESHUTDOWN once worker_free() has begun (the caller keeps JOB). */
int worker_submit(struct worker *w, worker_work_t work, void *job);
/* Waits for the running job, drops queued ones (done() is called for
 * them too so they can be freed), joins the thread. */
struct worker *worker_free(struct worker *w);

/*
 * Off-loop execution. A worker is one thread (or a few, tb_worker_start_n,
 * taking jobs from the same queue) with a bounded job queue; the
 * event loop submits jobs, the thread runs them (they may block: driver calls
 * into a TEE, name resolution), and finished jobs come back to the loop
 * thread, which the worker wakes with lws_cancel_service() -- the only lws
 * call that is safe from another thread. tb_worker_reap() then runs each
 * job's done() on the loop thread.
 *
 * The queue, lock and condition the thread uses live in a separately
 * allocated core that the owner's struct tb_worker and the thread each hold a
 * reference to. A thread stuck in a job when its owner stops it is left
 * behind with its own reference: the owner (and whatever embeds the struct
 * tb_worker) may then be freed, and when the job finally returns the thread
 * only drops its reference and exits.
 */
#ifndef TB_WORKER_H
#define TB_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct lws_context;
struct tb_worker_core;

#define TB_WORKER_MAX_THREADS 64

struct tb_job {
	struct tb_job *next;
	void (*run)(struct tb_job *job);  /* on the worker thread */
	void (*done)(struct tb_job *job); /* on the loop thread; may free job */
	atomic_int cancelled;             /* tb_job_cancel(): run() may stop early */
};

struct tb_worker {
	struct tb_worker_core *core; /* NULL: not started, or released */
	pthread_t threads[TB_WORKER_MAX_THREADS];
	unsigned n_threads;
	int started; /* the threads run and are neither joined nor detached */
};

/* Start the thread. max_queued bounds jobs waiting (not counting the one
 * running). */
int tb_worker_start(struct tb_worker *w, size_t max_queued);
/* Start n_threads (1..TB_WORKER_MAX_THREADS) threads that run up to that
 * many jobs at once; max_queued bounds jobs waiting (not those running). */
int tb_worker_start_n(struct tb_worker *w, size_t max_queued, unsigned n_threads);
/* The job the calling thread is running inside its run(), or NULL (not a
 * worker thread, or between jobs). */
struct tb_job *tb_worker_current(void);
/* Any thread: ask a queued or running job to stop early. Only a flag its
 * run() may read (tb_job_cancelled); the job still comes back to done(). */
void tb_job_cancel(struct tb_job *job);
int tb_job_cancelled(const struct tb_job *job);
/* Tell the worker which loop to wake (set once the lws context exists; NULL
 * before it is destroyed: once this returns, the thread no longer uses the
 * previous one). */
void tb_worker_set_wake(struct tb_worker *w, struct lws_context *ctx);
/* Queue a job. TB_ERR_TOOBIG when the queue is full, TB_ERR_STATE when
 * stopping. 'urgent' jobs (cleanup) bypass the bound so that releasing
 * resources can never be refused. */
int tb_worker_submit(struct tb_worker *w, struct tb_job *job, int urgent);
/* Take back a job that is still queued: TB_OK, and it will neither run nor
 * come back to done(); TB_ERR_NOTFOUND when it runs or has run. */
int tb_worker_cancel(struct tb_worker *w, struct tb_job *job);
/* Loop thread: run done() of every finished job; how many there were. */
size_t tb_worker_reap(struct tb_worker *w);
/* Number of jobs queued or running (on all threads). */
size_t tb_worker_pending(struct tb_worker *w);
/* Block until a finished job waits for tb_worker_reap(), or no job is queued
 * or running, or deadline_ms (tb_now_ms() clock) has passed: 1 in the first
 * two cases, 0 on the deadline. */
int tb_worker_wait(struct tb_worker *w, uint64_t deadline_ms);
/*
 * Stop: the thread finishes the queue, then exits. Waits until deadline_ms
 * (tb_now_ms() clock, CLOCK_MONOTONIC) for it; returns TB_OK if it was
 * joined, TB_ERR_TEE if it is still stuck in a job. The stuck thread is then
 * detached and abandoned: it runs none of the jobs still queued, and when the
 * job it is in returns it exits without touching that job, the owner or the
 * struct tb_worker (whose memory may be gone by then).
 */
int tb_worker_stop_until(struct tb_worker *w, uint64_t deadline_ms);
/* The same with a deadline timeout_ms from now. */
int tb_worker_stop(struct tb_worker *w, unsigned timeout_ms);
/* Drop the owner's reference, after tb_worker_stop*() and the last
 * tb_worker_reap(): the core is freed now, or by an abandoned thread when
 * its job returns. Jobs still queued or finished and not reaped are left as
 * they are (the owner knows how to free them). */
void tb_worker_free(struct tb_worker *w);

#endif

/*
 * Off-loop execution. A worker is one thread with a bounded job queue; the
 * event loop submits jobs, the thread runs them (they may block: driver calls
 * into a TEE, name resolution), and finished jobs come back to the loop
 * thread, which the worker wakes with lws_cancel_service() -- the only lws
 * call that is safe from another thread. tb_worker_reap() then runs each
 * job's done() on the loop thread.
 */
#ifndef TB_WORKER_H
#define TB_WORKER_H

#include <pthread.h>
#include <stddef.h>

struct lws_context;

struct tb_job {
	struct tb_job *next;
	void (*run)(struct tb_job *job);  /* on the worker thread */
	void (*done)(struct tb_job *job); /* on the loop thread; may free job */
};

struct tb_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tb_job *queue_head, *queue_tail;
	size_t queued, max_queued;
	struct tb_job *done_head, *done_tail;
	struct tb_job *running; /* job being run, NULL when idle */
	int stop;
	int started;
	int joined;               /* stopped and joined: tb_worker_free() may release it */
	struct lws_context *wake; /* NULL until the loop exists */
};

/* Start the thread. max_queued bounds jobs waiting (not counting the one
 * running). */
int tb_worker_start(struct tb_worker *w, size_t max_queued);
/* Tell the worker which loop to wake (set once the lws context exists). */
void tb_worker_set_wake(struct tb_worker *w, struct lws_context *ctx);
/* Queue a job. TB_ERR_TOOBIG when the queue is full, TB_ERR_STATE when
 * stopping. 'urgent' jobs (cleanup) bypass the bound so that releasing
 * resources can never be refused. */
int tb_worker_submit(struct tb_worker *w, struct tb_job *job, int urgent);
/* Loop thread: run done() of every finished job. */
void tb_worker_reap(struct tb_worker *w);
/* Number of jobs queued or running. */
size_t tb_worker_pending(struct tb_worker *w);
/*
 * Stop: the thread finishes the queue, then exits. Waits up to timeout_ms for
 * it; returns TB_OK if it was joined, TB_ERR_TEE if it is still stuck in a
 * job (the thread is then detached and left alone).
 */
int tb_worker_stop(struct tb_worker *w, unsigned timeout_ms);
/* Release the lock and condition of a worker stopped with TB_OK, after the
 * last tb_worker_reap(). */
void tb_worker_free(struct tb_worker *w);

#endif

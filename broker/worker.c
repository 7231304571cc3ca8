#include "config.h"
#include "worker.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <teep-broker/driver.h>
#include <time.h>

/* What the thread and the owner share; see worker.h. */
struct tb_worker_core {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	struct tb_job *queue_head, *queue_tail;
	size_t queued, max_queued;
	struct tb_job *done_head, *done_tail;
	unsigned running; /* jobs being run, 0 when idle */
	int stop;
	int abandoned;            /* the owner has gone: run nothing more */
	unsigned refs;            /* the owner's and each thread's */
	struct lws_context *wake; /* NULL until the loop exists */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void core_destroy(struct tb_worker_core *k)
{
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/* Drop one reference; k->lock is held and released here. */
static void core_unref_unlock(struct tb_worker_core *k)
{
	int last = --k->refs == 0;

	pthread_mutex_unlock(&k->lock);
	if (last)
		core_destroy(k);
}

/* Wait on k->cond until deadline_ms; 0 once it has passed. */
static int wait_until(struct tb_worker_core *k, uint64_t deadline_ms)
{
	if (mono_ms() >= deadline_ms)
		return 0;
	struct timespec ts = {.tv_sec = (time_t)(deadline_ms / 1000),
	                      .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
	pthread_cond_timedwait(&k->cond, &k->lock, &ts);
	return 1;
}

/* The job this thread runs (tb_worker_current). */
static _Thread_local struct tb_job *current_job;

struct tb_job *tb_worker_current(void)
{
	return current_job;
}

void tb_job_cancel(struct tb_job *job)
{
	atomic_store(&job->cancelled, 1);
}

int tb_job_cancelled(const struct tb_job *job)
{
	return atomic_load(&((struct tb_job *)job)->cancelled);
}

static void *worker_main(void *arg)
{
	struct tb_worker_core *k = arg;

	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (!k->queue_head && !k->stop && !k->abandoned)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->abandoned || !k->queue_head)
			break; /* abandoned, or stop requested and the queue is drained */
		struct tb_job *job = k->queue_head;
		k->queue_head = job->next;
		if (!k->queue_head)
			k->queue_tail = NULL;
		k->queued--;
		k->running++;
		pthread_mutex_unlock(&k->lock);

		job->next = NULL;
		current_job = job;
		job->run(job);
		current_job = NULL;

		pthread_mutex_lock(&k->lock);
		k->running--;
		if (k->abandoned)
			break;             /* the job and its owner may be gone: leave them be */
		int first = !k->done_head; /* else the loop has a wake-up coming */
		if (k->done_tail)
			k->done_tail->next = job;
		else
			k->done_head = job;
		k->done_tail = job;
		/* under the lock, so that tb_worker_set_wake(NULL) returning
		 * means the context is no longer used; one wake-up for the jobs
		 * that finish before the loop reaps them all */
		if (k->wake && first)
			lws_cancel_service(k->wake);
		pthread_cond_broadcast(&k->cond);
	}
	core_unref_unlock(k);
	return NULL;
}

int tb_worker_start(struct tb_worker *w, size_t max_queued)
{
	return tb_worker_start_n(w, max_queued, 1);
}

int tb_worker_start_n(struct tb_worker *w, size_t max_queued, unsigned n_threads)
{
	pthread_condattr_t ca;
	struct tb_worker_core *k;

	memset(w, 0, sizeof(*w));
	if (n_threads < 1 || n_threads > TB_WORKER_MAX_THREADS)
		return TB_ERR_INVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return TB_ERR_NOMEM;
	k->max_queued = max_queued;
	k->refs = 1 + n_threads; /* the owner's and each thread's */
	if (pthread_mutex_init(&k->lock, NULL)) {
		free(k);
		return TB_ERR_NOMEM;
	}
	if (pthread_condattr_init(&ca)) {
		pthread_mutex_destroy(&k->lock);
		free(k);
		return TB_ERR_NOMEM;
	}
	int bad =
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) || pthread_cond_init(&k->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (bad) {
		pthread_mutex_destroy(&k->lock);
		free(k);
		return TB_ERR_NOMEM;
	}
	for (unsigned i = 0; i < n_threads; i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, k) == 0)
			continue;
		/* the threads started so far leave once told to stop */
		pthread_mutex_lock(&k->lock);
		k->refs -= n_threads - i;
		k->stop = 1;
		pthread_cond_broadcast(&k->cond);
		pthread_mutex_unlock(&k->lock);
		for (unsigned j = 0; j < i; j++)
			pthread_join(w->threads[j], NULL);
		core_destroy(k);
		return TB_ERR_NOMEM;
	}
	w->n_threads = n_threads;
	w->core = k;
	w->started = 1;
	return TB_OK;
}

void tb_worker_set_wake(struct tb_worker *w, struct lws_context *ctx)
{
	struct tb_worker_core *k = w->core;

	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->wake = ctx;
	pthread_mutex_unlock(&k->lock);
}

int tb_worker_submit(struct tb_worker *w, struct tb_job *job, int urgent)
{
	struct tb_worker_core *k = w->core;
	int rc = TB_OK;

	if (!k || !w->started)
		return TB_ERR_STATE;
	job->next = NULL;
	pthread_mutex_lock(&k->lock);
	if (k->stop)
		rc = TB_ERR_STATE;
	else if (!urgent && k->queued >= k->max_queued)
		rc = TB_ERR_TOOBIG;
	if (rc == TB_OK) {
		if (k->queue_tail)
			k->queue_tail->next = job;
		else
			k->queue_head = job;
		k->queue_tail = job;
		k->queued++;
		pthread_cond_broadcast(&k->cond);
	}
	pthread_mutex_unlock(&k->lock);
	return rc;
}

int tb_worker_cancel(struct tb_worker *w, struct tb_job *job)
{
	struct tb_worker_core *k = w->core;
	int rc = TB_ERR_NOTFOUND;

	if (!k)
		return rc;
	pthread_mutex_lock(&k->lock);
	struct tb_job *prev = NULL;
	for (struct tb_job *j = k->queue_head; j; prev = j, j = j->next) {
		if (j != job)
			continue;
		if (prev)
			prev->next = j->next;
		else
			k->queue_head = j->next;
		if (k->queue_tail == j)
			k->queue_tail = prev;
		k->queued--;
		j->next = NULL;
		rc = TB_OK;
		break;
	}
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return rc;
}

size_t tb_worker_reap(struct tb_worker *w)
{
	struct tb_worker_core *k = w->core;
	size_t n = 0;

	if (!k)
		return 0;
	pthread_mutex_lock(&k->lock);
	struct tb_job *job = k->done_head;
	k->done_head = k->done_tail = NULL;
	pthread_mutex_unlock(&k->lock);

	while (job) {
		struct tb_job *next = job->next;
		job->next = NULL;
		job->done(job);
		job = next;
		n++;
	}
	return n;
}

size_t tb_worker_pending(struct tb_worker *w)
{
	struct tb_worker_core *k = w->core;

	if (!k)
		return 0;
	pthread_mutex_lock(&k->lock);
	size_t n = k->queued + k->running;
	pthread_mutex_unlock(&k->lock);
	return n;
}

int tb_worker_wait(struct tb_worker *w, uint64_t deadline_ms)
{
	struct tb_worker_core *k = w->core;

	if (!k)
		return 1;
	pthread_mutex_lock(&k->lock);
	while (!k->done_head && (k->queue_head || k->running) && wait_until(k, deadline_ms))
		;
	int ready = k->done_head || !(k->queue_head || k->running);
	pthread_mutex_unlock(&k->lock);
	return ready;
}

int tb_worker_stop_until(struct tb_worker *w, uint64_t deadline_ms)
{
	struct tb_worker_core *k = w->core;

	if (!k || !w->started)
		return TB_OK;
	pthread_mutex_lock(&k->lock);
	k->stop = 1;
	k->wake = NULL; /* the loop is going away */
	pthread_cond_broadcast(&k->cond);
	while ((k->queue_head || k->running) && wait_until(k, deadline_ms))
		;
	int stuck = k->queue_head || k->running;
	if (stuck)
		k->abandoned = 1;
	pthread_mutex_unlock(&k->lock);

	w->started = 0;
	if (stuck) {
		/* the idle ones leave at once, the stuck ones when their job
		 * returns */
		for (unsigned i = 0; i < w->n_threads; i++)
			pthread_detach(w->threads[i]);
		return TB_ERR_TEE;
	}
	for (unsigned i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	return TB_OK;
}

int tb_worker_stop(struct tb_worker *w, unsigned timeout_ms)
{
	return tb_worker_stop_until(w, mono_ms() + timeout_ms);
}

void tb_worker_free(struct tb_worker *w)
{
	struct tb_worker_core *k = w->core;

	if (!k || w->started)
		return; /* never started, already released, or still running */
	w->core = NULL;
	pthread_mutex_lock(&k->lock);
	core_unref_unlock(k);
}

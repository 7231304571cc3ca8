#include "config.h"
#include "worker.h"

#include <errno.h>
#include <libwebsockets.h>
#include <teep-broker/driver.h>
#include <time.h>

static void *worker_main(void *arg)
{
	struct tb_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->queue_head && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->queue_head)
			break; /* stop requested and the queue is drained */
		struct tb_job *job = w->queue_head;
		w->queue_head = job->next;
		if (!w->queue_head)
			w->queue_tail = NULL;
		w->queued--;
		w->running = job;
		pthread_mutex_unlock(&w->lock);

		job->next = NULL;
		job->run(job);

		pthread_mutex_lock(&w->lock);
		w->running = NULL;
		if (w->done_tail)
			w->done_tail->next = job;
		else
			w->done_head = job;
		w->done_tail = job;
		struct lws_context *wake = w->wake;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		if (wake)
			lws_cancel_service(wake);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int tb_worker_start(struct tb_worker *w, size_t max_queued)
{
	memset(w, 0, sizeof(*w));
	w->max_queued = max_queued;
	if (pthread_mutex_init(&w->lock, NULL))
		return TB_ERR_NOMEM;
	if (pthread_cond_init(&w->cond, NULL)) {
		pthread_mutex_destroy(&w->lock);
		return TB_ERR_NOMEM;
	}
	if (pthread_create(&w->thread, NULL, worker_main, w)) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		return TB_ERR_NOMEM;
	}
	w->started = 1;
	w->joined = 0;
	return TB_OK;
}

void tb_worker_set_wake(struct tb_worker *w, struct lws_context *ctx)
{
	pthread_mutex_lock(&w->lock);
	w->wake = ctx;
	pthread_mutex_unlock(&w->lock);
}

int tb_worker_submit(struct tb_worker *w, struct tb_job *job, int urgent)
{
	int rc = TB_OK;

	job->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->stop)
		rc = TB_ERR_STATE;
	else if (!urgent && w->queued >= w->max_queued)
		rc = TB_ERR_TOOBIG;
	if (rc == TB_OK) {
		if (w->queue_tail)
			w->queue_tail->next = job;
		else
			w->queue_head = job;
		w->queue_tail = job;
		w->queued++;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

void tb_worker_reap(struct tb_worker *w)
{
	pthread_mutex_lock(&w->lock);
	struct tb_job *job = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);

	while (job) {
		struct tb_job *next = job->next;
		job->next = NULL;
		job->done(job);
		job = next;
	}
}

size_t tb_worker_pending(struct tb_worker *w)
{
	pthread_mutex_lock(&w->lock);
	size_t n = w->queued + (w->running ? 1 : 0);
	pthread_mutex_unlock(&w->lock);
	return n;
}

int tb_worker_stop(struct tb_worker *w, unsigned timeout_ms)
{
	if (!w->started)
		return TB_OK;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	w->wake = NULL; /* the loop is going away */
	pthread_cond_broadcast(&w->cond);
	int rc = 0;
	while ((w->queue_head || w->running) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
	int stuck = w->queue_head || w->running;
	pthread_mutex_unlock(&w->lock);

	w->started = 0;
	if (stuck) {
		pthread_detach(w->thread);
		return TB_ERR_TEE;
	}
	pthread_join(w->thread, NULL);
	w->joined = 1;
	return TB_OK;
}

void tb_worker_free(struct tb_worker *w)
{
	if (!w->joined)
		return; /* never started, or a thread may still use it */
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	w->joined = 0;
}

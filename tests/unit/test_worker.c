/* The off-loop worker: bounded queue, results back on the caller's thread,
 * cancelling queued jobs, stop with a job stuck inside a driver. The tests
 * synchronise on state (a gate the jobs wait at, counts they signal), never
 * on time. */
#include "config.h"
#include "worker.h"

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <teep-broker/driver.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define WAIT_MS 5000 /* bound of every wait for a state */

/* Jobs given a gate wait at it until it opens, and count themselves in and
 * out. */
struct gate {
	pthread_mutex_t m;
	pthread_cond_t c;
	int open;
	int started, finished;
};

struct test_job {
	struct tb_job job;
	struct gate *gate;
	pthread_t ran_on;
	pthread_t done_on;
	int runs, dones;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void gate_init(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->m, NULL);
	pthread_cond_init(&g->c, NULL);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->m);
	g->open = 1;
	pthread_cond_broadcast(&g->c);
	pthread_mutex_unlock(&g->m);
}

/* Until *count reaches n, at most WAIT_MS; the count then. */
static int gate_wait(struct gate *g, const int *count, int n)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&g->m);
	while (*count < n && pthread_cond_timedwait(&g->c, &g->m, &ts) == 0)
		;
	int got = *count;
	pthread_mutex_unlock(&g->m);
	return got;
}

static void job_run(struct tb_job *j)
{
	struct test_job *t = (struct test_job *)j;
	struct gate *g = t->gate;

	if (g) {
		pthread_mutex_lock(&g->m);
		g->started++;
		pthread_cond_broadcast(&g->c);
		while (!g->open)
			pthread_cond_wait(&g->c, &g->m);
		pthread_mutex_unlock(&g->m);
	}
	t->ran_on = pthread_self();
	t->runs++;
	if (g) {
		pthread_mutex_lock(&g->m);
		g->finished++;
		pthread_cond_broadcast(&g->c);
		pthread_mutex_unlock(&g->m);
	}
}

static void job_done(struct tb_job *j)
{
	struct test_job *t = (struct test_job *)j;
	t->done_on = pthread_self();
	t->dones++;
}

static void init_job(struct test_job *t, struct gate *gate)
{
	memset(t, 0, sizeof(*t));
	t->job.run = job_run;
	t->job.done = job_done;
	t->gate = gate;
}

static void wait_idle(struct tb_worker *w)
{
	for (int i = 0; i < WAIT_MS && tb_worker_pending(w); i++)
		usleep(1000);
	assert_int_equal(tb_worker_pending(w), 0);
}

/* Threads of this process. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Until no more than n threads run, at most WAIT_MS. */
static void wait_threads(int n)
{
	for (int i = 0; i < WAIT_MS && count_threads() > n; i++)
		usleep(1000);
	assert_int_equal(count_threads(), n);
}

/* Each test's worker, gate and jobs; the teardown opens the gate and stops
 * the worker even when the test failed half-way, so that no thread is left
 * running on memory the next test reuses. */
struct fixture {
	struct tb_worker w;
	struct gate g;
	struct test_job jobs[4];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	gate_init(&f->g);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gate_open(&f->g);
	if (tb_worker_stop(&f->w, WAIT_MS) != TB_OK)
		return -1; /* a thread still uses f: leave it */
	tb_worker_reap(&f->w);
	tb_worker_free(&f->w);
	pthread_cond_destroy(&f->g.c);
	pthread_mutex_destroy(&f->g.m);
	free(f);
	return 0;
}

static void worker__runs_off_thread_and_completes_on_reaper(void **state)
{
	struct fixture *f = *state;
	struct test_job *a = &f->jobs[0];
	assert_int_equal(tb_worker_start(&f->w, 4), TB_OK);
	init_job(a, NULL);
	assert_int_equal(tb_worker_submit(&f->w, &a->job, 0), TB_OK);
	wait_idle(&f->w);
	assert_int_equal(a->runs, 1);
	assert_int_equal(a->dones, 0); /* not until reaped */
	assert_false(pthread_equal(a->ran_on, pthread_self()));
	tb_worker_reap(&f->w);
	assert_int_equal(a->dones, 1);
	assert_true(pthread_equal(a->done_on, pthread_self()));
}

static void worker__full_queue__refuses_but_urgent_passes(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(tb_worker_start(&f->w, 2), TB_OK);
	for (int i = 0; i < 4; i++)
		init_job(&f->jobs[i], &f->g);
	assert_int_equal(tb_worker_submit(&f->w, &f->jobs[0].job, 0), TB_OK);
	/* the first job runs (and waits at the gate): the queue is empty */
	assert_int_equal(gate_wait(&f->g, &f->g.started, 1), 1);
	assert_int_equal(tb_worker_submit(&f->w, &f->jobs[1].job, 0), TB_OK);
	assert_int_equal(tb_worker_submit(&f->w, &f->jobs[2].job, 0), TB_OK);
	assert_int_equal(tb_worker_submit(&f->w, &f->jobs[3].job, 0), TB_ERR_TOOBIG);
	assert_int_equal(tb_worker_submit(&f->w, &f->jobs[3].job, 1), TB_OK);
	gate_open(&f->g);
	wait_idle(&f->w);
	tb_worker_reap(&f->w);
	for (int i = 0; i < 4; i++)
		assert_int_equal(f->jobs[i].dones, 1);
}

static void worker__cancel__takes_back_a_queued_job_only(void **state)
{
	struct fixture *f = *state;
	struct test_job *a = &f->jobs[0], *b = &f->jobs[1];
	assert_int_equal(tb_worker_start(&f->w, 4), TB_OK);
	init_job(a, &f->g);
	init_job(b, &f->g);
	assert_int_equal(tb_worker_submit(&f->w, &a->job, 0), TB_OK);
	assert_int_equal(gate_wait(&f->g, &f->g.started, 1), 1);
	assert_int_equal(tb_worker_submit(&f->w, &b->job, 0), TB_OK);
	assert_int_equal(tb_worker_pending(&f->w), 2);
	assert_int_equal(tb_worker_cancel(&f->w, &a->job), TB_ERR_NOTFOUND); /* running */
	assert_int_equal(tb_worker_cancel(&f->w, &b->job), TB_OK);
	assert_int_equal(tb_worker_cancel(&f->w, &b->job), TB_ERR_NOTFOUND);
	assert_int_equal(tb_worker_pending(&f->w), 1);
	gate_open(&f->g);
	wait_idle(&f->w);
	tb_worker_reap(&f->w);
	assert_int_equal(a->dones, 1);
	assert_int_equal(b->runs, 0);
	assert_int_equal(b->dones, 0);
}

static void worker__wait__until_a_result_or_the_deadline(void **state)
{
	struct fixture *f = *state;
	struct test_job *a = &f->jobs[0];
	assert_int_equal(tb_worker_wait(&f->w, now_ms()), 1); /* not started: idle */
	assert_int_equal(tb_worker_start(&f->w, 4), TB_OK);
	assert_int_equal(tb_worker_wait(&f->w, now_ms()), 1); /* idle */
	init_job(a, &f->g);
	assert_int_equal(tb_worker_submit(&f->w, &a->job, 0), TB_OK);
	assert_int_equal(gate_wait(&f->g, &f->g.started, 1), 1);
	uint64_t t0 = now_ms();
	assert_int_equal(tb_worker_wait(&f->w, t0 + 30), 0);
	assert_true(now_ms() >= t0 + 30);
	gate_open(&f->g);
	assert_int_equal(tb_worker_wait(&f->w, now_ms() + WAIT_MS), 1);
	tb_worker_reap(&f->w);
	assert_int_equal(a->dones, 1);
}

static void worker__stop__past_the_deadline__stops_on_time(void **state)
{
	struct fixture *f = *state;
	struct test_job *a = &f->jobs[0];
	int threads = count_threads();
	assert_int_equal(tb_worker_start(&f->w, 4), TB_OK);
	init_job(a, &f->g);
	assert_int_equal(tb_worker_submit(&f->w, &a->job, 0), TB_OK);
	assert_int_equal(gate_wait(&f->g, &f->g.started, 1), 1);
	/* a deadline already passed: no waiting at all */
	uint64_t t0 = now_ms();
	assert_int_equal(tb_worker_stop_until(&f->w, t0 - 1), TB_ERR_TEE);
	assert_true(now_ms() - t0 < 1000);
	tb_worker_free(&f->w);
	gate_open(&f->g);
	/* the fixture is not freed while the thread may still be using its
	 * job and gate: wait for the abandoned thread to be gone */
	wait_threads(threads);
	assert_int_equal(a->runs, 1);
	assert_int_equal(a->dones, 0);
}

/*
 * The owner stops a worker whose job is stuck, releases it and frees the
 * memory the struct tb_worker was in (as the broker frees itself with a TEE
 * call stuck at exit). When the job returns, the abandoned thread must exit
 * without touching that memory, without running the job queued behind it
 * and without handing the job back.
 */
static void worker__abandoned_thread__leaves_the_freed_owner_alone(void **state)
{
	static struct gate g;
	static struct test_job a, b; /* the thread's job outlives the test */
	long pg = sysconf(_SC_PAGESIZE);
	struct tb_worker *w;

	(void)state;
	gate_init(&g);
	init_job(&a, &g);
	init_job(&b, NULL);
	int threads = count_threads();
	w = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(w != MAP_FAILED);
	assert_int_equal(tb_worker_start(w, 2), TB_OK);
	assert_int_equal(tb_worker_submit(w, &a.job, 0), TB_OK);
	assert_int_equal(gate_wait(&g, &g.started, 1), 1);
	assert_int_equal(tb_worker_submit(w, &b.job, 0), TB_OK);
	assert_int_equal(tb_worker_stop(w, 50), TB_ERR_TEE);
	tb_worker_free(w);
	/* the owner's memory is gone: any touch of it faults */
	assert_int_equal(munmap(w, (size_t)pg), 0);
	gate_open(&g);
	assert_int_equal(gate_wait(&g, &g.finished, 1), 1);
	wait_threads(threads); /* the thread has exited */
	assert_int_equal(a.runs, 1);
	assert_int_equal(a.dones, 0);
	assert_int_equal(b.runs, 0); /* the queue died with its owner */
}

static void worker__submit_after_stop__refused(void **state)
{
	struct fixture *f = *state;
	struct test_job *a = &f->jobs[0];
	assert_int_equal(tb_worker_start(&f->w, 2), TB_OK);
	init_job(a, NULL);
	assert_int_equal(tb_worker_stop(&f->w, WAIT_MS), TB_OK);
	assert_int_equal(tb_worker_submit(&f->w, &a->job, 1), TB_ERR_STATE);
	assert_int_equal(a->runs, 0);
}

/* Two threads: two jobs run at once (both are inside run() while the gate is
 * shut), a third waits; each thread knows its job (tb_worker_current), which
 * sees a cancel; all come back, and stop joins every thread. */
static void worker__two_threads__run_two_jobs_at_once(void **state)
{
	struct fixture *f = *state;
	int threads = count_threads();

	assert_int_equal(tb_worker_start_n(&f->w, 4, 2), TB_OK);
	wait_threads(threads + 2);
	for (int i = 0; i < 3; i++) {
		init_job(&f->jobs[i], &f->g);
		assert_int_equal(tb_worker_submit(&f->w, &f->jobs[i].job, 0), TB_OK);
	}
	assert_int_equal(gate_wait(&f->g, &f->g.started, 2), 2);
	assert_int_equal(tb_worker_pending(&f->w), 3);
	assert_null(tb_worker_current()); /* not a worker thread */
	tb_job_cancel(&f->jobs[0].job);
	assert_true(tb_job_cancelled(&f->jobs[0].job));
	assert_false(tb_job_cancelled(&f->jobs[1].job));
	gate_open(&f->g);
	assert_int_equal(gate_wait(&f->g, &f->g.finished, 3), 3);
	wait_idle(&f->w);
	assert_int_equal(tb_worker_reap(&f->w), 3);
	assert_int_equal(tb_worker_stop(&f->w, WAIT_MS), TB_OK);
	wait_threads(threads);
	tb_worker_free(&f->w);
	assert_int_equal(tb_worker_start_n(&f->w, 4, 0), TB_ERR_INVAL);
	assert_int_equal(tb_worker_start_n(&f->w, 4, TB_WORKER_MAX_THREADS + 1), TB_ERR_INVAL);
}

static void current_run(struct tb_job *j)
{
	struct test_job *t = (struct test_job *)j;
	t->runs = tb_worker_current() == j ? 1 : -1;
}

static void worker__current__is_the_job_in_run(void **state)
{
	struct fixture *f = *state;
	struct test_job *a = &f->jobs[0];

	init_job(a, NULL);
	a->job.run = current_run;
	assert_int_equal(tb_worker_start(&f->w, 2), TB_OK);
	assert_int_equal(tb_worker_submit(&f->w, &a->job, 0), TB_OK);
	wait_idle(&f->w);
	assert_int_equal(a->runs, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(worker__runs_off_thread_and_completes_on_reaper, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(worker__full_queue__refuses_but_urgent_passes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(worker__cancel__takes_back_a_queued_job_only, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(worker__wait__until_a_result_or_the_deadline, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(worker__stop__past_the_deadline__stops_on_time, setup,
	                                    teardown),
	    cmocka_unit_test(worker__abandoned_thread__leaves_the_freed_owner_alone),
	    cmocka_unit_test_setup_teardown(worker__submit_after_stop__refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(worker__two_threads__run_two_jobs_at_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(worker__current__is_the_job_in_run, setup, teardown),
	};
	return cmocka_run_group_tests_name("worker", tests, NULL, NULL);
}

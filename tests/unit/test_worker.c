/* The off-loop worker: bounded queue, results back on the caller's thread,
 * stop with a job stuck inside a driver. */
#include "config.h"
#include "worker.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <teep-broker/driver.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct test_job {
	struct tb_job job;
	pthread_t ran_on;
	pthread_t done_on;
	int runs, dones;
	volatile int *gate; /* the job waits while *gate == 0 */
};

static void job_run(struct tb_job *j)
{
	struct test_job *t = (struct test_job *)j;
	while (t->gate && !*t->gate)
		usleep(1000);
	t->ran_on = pthread_self();
	t->runs++;
}

static void job_done(struct tb_job *j)
{
	struct test_job *t = (struct test_job *)j;
	t->done_on = pthread_self();
	t->dones++;
}

static void init_job(struct test_job *t, volatile int *gate)
{
	memset(t, 0, sizeof(*t));
	t->job.run = job_run;
	t->job.done = job_done;
	t->gate = gate;
}

static void wait_idle(struct tb_worker *w)
{
	for (int i = 0; i < 5000 && tb_worker_pending(w); i++)
		usleep(1000);
	assert_int_equal(tb_worker_pending(w), 0);
}

static void worker__runs_off_thread_and_completes_on_reaper(void **state)
{
	struct tb_worker w;
	struct test_job a;
	assert_int_equal(tb_worker_start(&w, 4), TB_OK);
	init_job(&a, NULL);
	assert_int_equal(tb_worker_submit(&w, &a.job, 0), TB_OK);
	wait_idle(&w);
	assert_int_equal(a.runs, 1);
	assert_int_equal(a.dones, 0); /* not until reaped */
	assert_false(pthread_equal(a.ran_on, pthread_self()));
	tb_worker_reap(&w);
	assert_int_equal(a.dones, 1);
	assert_true(pthread_equal(a.done_on, pthread_self()));
	assert_int_equal(tb_worker_stop(&w, 1000), TB_OK);
	tb_worker_free(&w);
}

static void worker__full_queue__refuses_but_urgent_passes(void **state)
{
	struct tb_worker w;
	struct test_job jobs[4];
	volatile int gate = 0;
	assert_int_equal(tb_worker_start(&w, 2), TB_OK);
	for (int i = 0; i < 4; i++)
		init_job(&jobs[i], &gate);
	assert_int_equal(tb_worker_submit(&w, &jobs[0].job, 0), TB_OK); /* may start running */
	usleep(20000);
	assert_int_equal(tb_worker_submit(&w, &jobs[1].job, 0), TB_OK);
	assert_int_equal(tb_worker_submit(&w, &jobs[2].job, 0), TB_OK);
	assert_int_equal(tb_worker_submit(&w, &jobs[3].job, 0), TB_ERR_TOOBIG);
	assert_int_equal(tb_worker_submit(&w, &jobs[3].job, 1), TB_OK);
	gate = 1;
	wait_idle(&w);
	tb_worker_reap(&w);
	for (int i = 0; i < 4; i++)
		assert_int_equal(jobs[i].dones, 1);
	assert_int_equal(tb_worker_stop(&w, 1000), TB_OK);
	tb_worker_free(&w);
}

static void worker__stop_with_stuck_job__reports_and_detaches(void **state)
{
	static struct tb_worker w; /* the stuck thread keeps using it */
	static struct test_job a;
	static volatile int gate = 0;
	assert_int_equal(tb_worker_start(&w, 2), TB_OK);
	init_job(&a, &gate);
	assert_int_equal(tb_worker_submit(&w, &a.job, 0), TB_OK);
	usleep(20000);
	assert_int_equal(tb_worker_stop(&w, 100), TB_ERR_TEE);
	gate = 1; /* let the detached thread finish */
	usleep(50000);
	assert_int_equal(a.runs, 1);
}

static void worker__submit_after_stop__refused(void **state)
{
	struct tb_worker w;
	struct test_job a;
	assert_int_equal(tb_worker_start(&w, 2), TB_OK);
	init_job(&a, NULL);
	w.stop = 1;
	assert_int_equal(tb_worker_submit(&w, &a.job, 1), TB_ERR_STATE);
	w.stop = 0;
	assert_int_equal(tb_worker_stop(&w, 1000), TB_OK);
	tb_worker_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(worker__runs_off_thread_and_completes_on_reaper),
	    cmocka_unit_test(worker__full_queue__refuses_but_urgent_passes),
	    cmocka_unit_test(worker__stop_with_stuck_job__reports_and_detaches),
	    cmocka_unit_test(worker__submit_after_stop__refused),
	};
	return cmocka_run_group_tests_name("worker", tests, NULL, NULL);
}

/* Deficit Round Robin across app flows. */
#include "config.h"
#include "fairq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <teep-broker/driver.h>

#include <cmocka.h>

#define NFLOWS 3

struct job {
	struct tb_fq_item item; /* embedded, as the broker's objects will */
	int flow;
	int seq;
	int dropped;
};

static struct job *job_of(struct tb_fq_item *it)
{
	return it ? (struct job *)(void *)((char *)it - offsetof(struct job, item)) : NULL;
}

static void job_set(struct job *j, int flow, int seq, uint32_t cost)
{
	memset(j, 0, sizeof(*j));
	j->flow = flow;
	j->seq = seq;
	j->item.cost = cost;
}

/* Push n jobs of cost into flows[f], from jobs[0..n). */
static void fill(struct tb_fq *fq, struct tb_fq_flow *flow, struct job *jobs, int f, int n,
                 uint32_t cost)
{
	for (int i = 0; i < n; i++) {
		job_set(&jobs[i], f, i, cost);
		assert_int_equal(tb_fq_push(fq, flow, &jobs[i].item), TB_OK);
	}
}

static void fairq__bad_arguments__are_invalid(void **state)
{
	struct tb_fq fq;
	struct tb_fq_flow flow;
	struct job j;

	assert_int_equal(tb_fq_init(&fq, 0), TB_ERR_INVAL);
	assert_int_equal(tb_fq_flow_init(&flow, 0), TB_ERR_INVAL);
	assert_int_equal(tb_fq_init(&fq, 1), TB_OK);
	assert_int_equal(tb_fq_flow_init(&flow, 1), TB_OK);
	assert_null(tb_fq_pop(&fq));
	assert_int_equal(tb_fq_push(&fq, &flow, NULL), TB_ERR_INVAL);
	job_set(&j, 0, 0, 1);
	assert_int_equal(tb_fq_push(&fq, NULL, &j.item), TB_ERR_INVAL);
	assert_int_equal(tb_fq_total(&fq), 0);
}

/* One app floods, another sends one request and waits for its answer before
 * sending the next. The polite request is served within one round: at most
 * one quantum's worth of the flood goes first. */
static void fairq__flooding_flow__does_not_delay_polite_flow_beyond_a_round(void **state)
{
	static const struct {
		uint32_t quantum, flood_cost, polite_cost;
		unsigned max_pops; /* pops until the polite item, inclusive */
	} rows[] = {
	    {1, 1, 1, 2},
	    {4, 1, 1, 5},
	    {1500, 500, 100, 4},
	    {4096, 4096, 1, 2},
	};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct tb_fq fq;
		struct tb_fq_flow flood, polite;
		struct job *fj = calloc(1000, sizeof(*fj));
		struct job pj;
		unsigned served_polite = 0;

		assert_non_null(fj);
		assert_int_equal(tb_fq_init(&fq, rows[r].quantum), TB_OK);
		assert_int_equal(tb_fq_flow_init(&flood, 1000), TB_OK);
		assert_int_equal(tb_fq_flow_init(&polite, 1), TB_OK);
		fill(&fq, &flood, fj, 0, 1000, rows[r].flood_cost);
		/* pop some of the flood first, so the flood is mid-round */
		for (int i = 0; i < 3; i++)
			assert_int_equal(job_of(tb_fq_pop(&fq))->flow, 0);
		while (tb_fq_len(&flood) > rows[r].max_pops) {
			unsigned pops = 0;
			struct job *j;

			job_set(&pj, 1, (int)served_polite, rows[r].polite_cost);
			assert_int_equal(tb_fq_push(&fq, &polite, &pj.item), TB_OK);
			do {
				j = job_of(tb_fq_pop(&fq));
				assert_non_null(j);
				pops++;
			} while (j->flow != 1);
			if (pops > rows[r].max_pops)
				fail_msg("row %zu: polite item %u waited %u pops", r, served_polite,
				         pops);
			served_polite++;
		}
		assert_true(served_polite > 100);
		free(fj);
	}
}

static void fairq__equal_costs__are_served_one_to_one(void **state)
{
	static const struct {
		uint32_t quantum, cost;
	} rows[] = {{1, 1}, {3, 1}, {100, 100}, {250, 100}};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct tb_fq fq;
		struct tb_fq_flow flows[NFLOWS];
		struct job *jobs = calloc(NFLOWS * 1000, sizeof(*jobs));
		unsigned served[NFLOWS] = {0};
		uint32_t per_round = rows[r].quantum / rows[r].cost + 1;

		assert_non_null(jobs);
		assert_int_equal(tb_fq_init(&fq, rows[r].quantum), TB_OK);
		for (int f = 0; f < NFLOWS; f++) {
			assert_int_equal(tb_fq_flow_init(&flows[f], 1000), TB_OK);
			fill(&fq, &flows[f], jobs + f * 1000, f, 1000, rows[r].cost);
		}
		for (int i = 0; i < 1500; i++)
			served[job_of(tb_fq_pop(&fq))->flow]++;
		for (int f = 0; f < NFLOWS; f++) {
			/* 500 each, give or take the round in progress */
			if (served[f] + per_round < 500 || served[f] > 500 + per_round)
				fail_msg("row %zu: flow %d served %u of 1500", r, f, served[f]);
		}
		assert_int_equal(tb_fq_total(&fq), NFLOWS * 1000 - 1500);
		free(jobs);
	}
}

static void fairq__unequal_costs__share_by_cost_not_by_count(void **state)
{
	static const struct {
		uint32_t quantum, cost_a, cost_b;
	} rows[] = {{300, 100, 300}, {300, 1, 300}, {500, 200, 450}, {100, 250, 10}};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct tb_fq fq;
		struct tb_fq_flow a, b;
		struct job *ja = calloc(2000, sizeof(*ja)), *jb = calloc(2000, sizeof(*jb));
		uint64_t cost[2] = {0, 0};
		uint32_t biggest =
		    rows[r].cost_a > rows[r].cost_b ? rows[r].cost_a : rows[r].cost_b;

		assert_non_null(ja);
		assert_non_null(jb);
		assert_int_equal(tb_fq_init(&fq, rows[r].quantum), TB_OK);
		assert_int_equal(tb_fq_flow_init(&a, 2000), TB_OK);
		assert_int_equal(tb_fq_flow_init(&b, 2000), TB_OK);
		fill(&fq, &a, ja, 0, 2000, rows[r].cost_a);
		fill(&fq, &b, jb, 1, 2000, rows[r].cost_b);
		/* stop while both flows still have work */
		while (tb_fq_len(&a) > 100 && tb_fq_len(&b) > 100) {
			struct job *j = job_of(tb_fq_pop(&fq));
			cost[j->flow] += j->item.cost;
		}
		/* equal service in cost units, within a quantum plus an item */
		uint64_t diff = cost[0] > cost[1] ? cost[0] - cost[1] : cost[1] - cost[0];
		if (diff > rows[r].quantum + biggest)
			fail_msg("row %zu: served %llu vs %llu", r, (unsigned long long)cost[0],
			         (unsigned long long)cost[1]);
		free(ja);
		free(jb);
	}
}

static void fairq__item_costlier_than_quantum__waits_for_its_deficit(void **state)
{
	struct tb_fq fq;
	struct tb_fq_flow a, b;
	struct job big, small[4];
	const int want[][2] = {{1, 0}, {1, 1}, {0, 0}, {1, 2}, {1, 3}};

	assert_int_equal(tb_fq_init(&fq, 100), TB_OK);
	assert_int_equal(tb_fq_flow_init(&a, 4), TB_OK);
	assert_int_equal(tb_fq_flow_init(&b, 4), TB_OK);
	job_set(&big, 0, 0, 250);
	assert_int_equal(tb_fq_push(&fq, &a, &big.item), TB_OK);
	fill(&fq, &b, small, 1, 4, 100);
	/* a earns 100 per round and needs 250: it goes third */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct job *j = job_of(tb_fq_pop(&fq));
		assert_non_null(j);
		assert_int_equal(j->flow, want[i][0]);
		assert_int_equal(j->seq, want[i][1]);
	}
	assert_null(tb_fq_pop(&fq));
	assert_int_equal(tb_fq_total(&fq), 0);
}

static void fairq__emptied_flow__leaves_and_forgets_its_deficit(void **state)
{
	struct tb_fq fq;
	struct tb_fq_flow a;
	struct job j[2];

	assert_int_equal(tb_fq_init(&fq, 10), TB_OK);
	assert_int_equal(tb_fq_flow_init(&a, 4), TB_OK);
	job_set(&j[0], 0, 0, 1);
	assert_int_equal(tb_fq_push(&fq, &a, &j[0].item), TB_OK);
	assert_int_equal(a.deficit, 10);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &j[0]);
	/* 9 units unspent are not saved up for later */
	assert_int_equal(a.deficit, 0);
	assert_false(a.active);
	assert_null(fq.head);
	job_set(&j[1], 0, 1, 1);
	assert_int_equal(tb_fq_push(&fq, &a, &j[1].item), TB_OK);
	assert_int_equal(a.deficit, 10);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &j[1]);
}

static void fairq__flow_bound__returns_toobig(void **state)
{
	struct tb_fq fq;
	struct tb_fq_flow a, b;
	struct job ja[4], jb;

	assert_int_equal(tb_fq_init(&fq, 1), TB_OK);
	assert_int_equal(tb_fq_flow_init(&a, 3), TB_OK);
	assert_int_equal(tb_fq_flow_init(&b, 3), TB_OK);
	fill(&fq, &a, ja, 0, 3, 1);
	job_set(&ja[3], 0, 3, 1);
	assert_int_equal(tb_fq_push(&fq, &a, &ja[3].item), TB_ERR_TOOBIG);
	assert_int_equal(tb_fq_len(&a), 3);
	/* the bound is per flow */
	job_set(&jb, 1, 0, 1);
	assert_int_equal(tb_fq_push(&fq, &b, &jb.item), TB_OK);
	assert_int_equal(tb_fq_total(&fq), 4);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &ja[0]);
	assert_int_equal(tb_fq_push(&fq, &a, &ja[3].item), TB_OK);
	assert_int_equal(tb_fq_len(&a), 3);
}

struct drop_log {
	int seen[16];
	int order[16];
	int n;
	struct tb_fq *fq;
	struct tb_fq_flow *requeue; /* push dropped items here, if set */
};

static void drop_record(struct tb_fq_item *it, void *arg)
{
	struct drop_log *log = arg;
	struct job *j = job_of(it);

	assert_null(it->next);
	log->seen[j->seq]++;
	log->order[log->n++] = j->seq;
	j->dropped++;
	if (log->requeue)
		assert_int_equal(tb_fq_push(log->fq, log->requeue, it), TB_OK);
}

static void fairq__removed_flow__hands_back_every_item_exactly_once(void **state)
{
	struct tb_fq fq;
	struct tb_fq_flow a, b;
	struct job ja[6], jb[3];
	struct drop_log log;

	memset(&log, 0, sizeof(log));
	assert_int_equal(tb_fq_init(&fq, 1), TB_OK);
	assert_int_equal(tb_fq_flow_init(&a, 8), TB_OK);
	assert_int_equal(tb_fq_flow_init(&b, 8), TB_OK);
	fill(&fq, &a, ja, 0, 6, 1);
	fill(&fq, &b, jb, 1, 3, 1);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &ja[0]);
	tb_fq_flow_remove(&fq, &a, drop_record, &log);
	assert_int_equal(log.n, 5);
	for (int i = 1; i < 6; i++) {
		assert_int_equal(log.seen[i], 1);
		assert_int_equal(log.order[i - 1], i);
	}
	assert_int_equal(ja[0].dropped, 0);
	assert_int_equal(tb_fq_len(&a), 0);
	assert_int_equal(tb_fq_total(&fq), 3);
	for (int i = 0; i < 3; i++)
		assert_ptr_equal(job_of(tb_fq_pop(&fq)), &jb[i]);
	assert_null(tb_fq_pop(&fq));
	/* an empty flow: nothing to hand back; the flow can be used again */
	tb_fq_flow_remove(&fq, &a, drop_record, &log);
	assert_int_equal(log.n, 5);
	tb_fq_flow_remove(&fq, &a, NULL, NULL);
	job_set(&ja[0], 0, 0, 1);
	assert_int_equal(tb_fq_push(&fq, &a, &ja[0].item), TB_OK);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &ja[0]);
}

static void fairq__drop_callback__may_queue_the_item_elsewhere(void **state)
{
	struct tb_fq fq;
	struct tb_fq_flow a, b;
	struct job ja[4];
	struct drop_log log;

	memset(&log, 0, sizeof(log));
	assert_int_equal(tb_fq_init(&fq, 1), TB_OK);
	assert_int_equal(tb_fq_flow_init(&a, 4), TB_OK);
	assert_int_equal(tb_fq_flow_init(&b, 4), TB_OK);
	fill(&fq, &a, ja, 0, 4, 1);
	log.fq = &fq;
	log.requeue = &b;
	tb_fq_flow_remove(&fq, &a, drop_record, &log);
	assert_int_equal(log.n, 4);
	assert_int_equal(tb_fq_len(&b), 4);
	assert_int_equal(tb_fq_total(&fq), 4);
	for (int i = 0; i < 4; i++)
		assert_ptr_equal(job_of(tb_fq_pop(&fq)), &ja[i]);
	assert_null(tb_fq_pop(&fq));
}

static void fairq__zero_cost_items__take_no_deficit(void **state)
{
	struct tb_fq fq;
	struct tb_fq_flow a, b;
	struct job ja[2], jb[2];

	assert_int_equal(tb_fq_init(&fq, 1), TB_OK);
	assert_int_equal(tb_fq_flow_init(&a, 4), TB_OK);
	assert_int_equal(tb_fq_flow_init(&b, 4), TB_OK);
	fill(&fq, &a, ja, 0, 2, 0);
	fill(&fq, &b, jb, 1, 2, 1);
	/* a flow keeps its turn while its deficit covers the head */
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &ja[0]);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &ja[1]);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &jb[0]);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &jb[1]);
	assert_null(tb_fq_pop(&fq));
}

/* An item that ends while waiting leaves its flow; the others keep their
 * order, and a flow emptied that way leaves the round. */
static void fairq__removed_item__leaves_the_rest_in_order(void **state)
{
	struct tb_fq fq;
	struct tb_fq_flow a, b;
	struct job ja[4], jb[1];

	(void)state;
	assert_int_equal(tb_fq_init(&fq, 1), TB_OK);
	assert_int_equal(tb_fq_flow_init(&a, 8), TB_OK);
	assert_int_equal(tb_fq_flow_init(&b, 8), TB_OK);
	fill(&fq, &a, ja, 0, 4, 1);
	fill(&fq, &b, jb, 1, 1, 1);
	assert_int_equal(tb_fq_remove(&fq, &a, &ja[1].item), TB_OK);
	assert_int_equal(tb_fq_remove(&fq, &a, &ja[3].item), TB_OK); /* the tail */
	assert_int_equal(tb_fq_remove(&fq, &a, &ja[3].item), TB_ERR_NOTFOUND);
	assert_int_equal(tb_fq_remove(&fq, &b, &ja[0].item), TB_ERR_NOTFOUND);
	assert_int_equal(tb_fq_total(&fq), 3);
	assert_int_equal(tb_fq_remove(&fq, &b, &jb[0].item), TB_OK);
	assert_false(b.active);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &ja[0]);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &ja[2]);
	assert_null(tb_fq_pop(&fq));
	/* a tail removed, then a push: it lands after the new tail */
	fill(&fq, &a, ja, 0, 2, 1);
	assert_int_equal(tb_fq_remove(&fq, &a, &ja[1].item), TB_OK);
	job_set(&ja[2], 0, 2, 1);
	assert_int_equal(tb_fq_push(&fq, &a, &ja[2].item), TB_OK);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &ja[0]);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &ja[2]);
	assert_int_equal(tb_fq_total(&fq), 0);
}

/* max_running: a flow whose app has that much work started is passed over
 * (the others are served, in order), and served again once some ends; with
 * every active flow at its bound, nothing is popped. */
static void fairq__flow_at_max_running__is_passed_over_until_work_ends(void **state)
{
	struct tb_fq fq;
	struct tb_fq_flow rogue, polite;
	struct job jr[4], jp[2];

	(void)state;
	assert_int_equal(tb_fq_init(&fq, 1), TB_OK);
	assert_int_equal(tb_fq_flow_init(&rogue, 8), TB_OK);
	assert_int_equal(tb_fq_flow_init(&polite, 8), TB_OK);
	rogue.max_running = 2;
	fill(&fq, &rogue, jr, 0, 4, 1);
	/* the rogue starts two, then is at its bound */
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &jr[0]);
	rogue.running++;
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &jr[1]);
	rogue.running++;
	assert_null(tb_fq_pop(&fq));
	/* a polite app arriving now is served at once, both of its items */
	fill(&fq, &polite, jp, 1, 2, 1);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &jp[0]);
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &jp[1]);
	assert_null(tb_fq_pop(&fq));
	assert_int_equal(tb_fq_total(&fq), 2);
	/* one of the rogue's ends: one more of its own starts */
	rogue.running--;
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &jr[2]);
	rogue.running++;
	assert_null(tb_fq_pop(&fq));
	/* no bound (0): served as before */
	rogue.max_running = 0;
	assert_ptr_equal(job_of(tb_fq_pop(&fq)), &jr[3]);
	assert_int_equal(tb_fq_total(&fq), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fairq__bad_arguments__are_invalid),
	    cmocka_unit_test(fairq__flooding_flow__does_not_delay_polite_flow_beyond_a_round),
	    cmocka_unit_test(fairq__equal_costs__are_served_one_to_one),
	    cmocka_unit_test(fairq__unequal_costs__share_by_cost_not_by_count),
	    cmocka_unit_test(fairq__item_costlier_than_quantum__waits_for_its_deficit),
	    cmocka_unit_test(fairq__emptied_flow__leaves_and_forgets_its_deficit),
	    cmocka_unit_test(fairq__flow_bound__returns_toobig),
	    cmocka_unit_test(fairq__removed_flow__hands_back_every_item_exactly_once),
	    cmocka_unit_test(fairq__drop_callback__may_queue_the_item_elsewhere),
	    cmocka_unit_test(fairq__zero_cost_items__take_no_deficit),
	    cmocka_unit_test(fairq__removed_item__leaves_the_rest_in_order),
	    cmocka_unit_test(fairq__flow_at_max_running__is_passed_over_until_work_ends),
	};
	return cmocka_run_group_tests_name("fairq", tests, NULL, NULL);
}

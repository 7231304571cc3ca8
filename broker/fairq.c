#include "config.h"
#include "fairq.h"

#include <string.h>
#include <teep-broker/driver.h>

int tb_fq_init(struct tb_fq *fq, uint32_t quantum)
{
	if (!fq || quantum == 0)
		return TB_ERR_INVAL;
	memset(fq, 0, sizeof(*fq));
	fq->quantum = quantum;
	return TB_OK;
}

int tb_fq_flow_init(struct tb_fq_flow *flow, uint32_t max_items)
{
	if (!flow || max_items == 0)
		return TB_ERR_INVAL;
	memset(flow, 0, sizeof(*flow));
	flow->max_items = max_items;
	return TB_OK;
}

static void active_append(struct tb_fq *fq, struct tb_fq_flow *flow)
{
	flow->next = NULL;
	flow->prev = fq->tail;
	if (fq->tail)
		fq->tail->next = flow;
	else
		fq->head = flow;
	fq->tail = flow;
	flow->active = 1;
	fq->n_active++;
}

static void active_unlink(struct tb_fq *fq, struct tb_fq_flow *flow)
{
	if (!flow->active)
		return;
	if (flow->prev)
		flow->prev->next = flow->next;
	else
		fq->head = flow->next;
	if (flow->next)
		flow->next->prev = flow->prev;
	else
		fq->tail = flow->prev;
	flow->prev = flow->next = NULL;
	flow->active = 0;
	fq->n_active--;
}

/* A flow whose app has max_running pieces of work started: it keeps its
 * place and earns nothing until one ends. */
static int blocked(const struct tb_fq_flow *flow)
{
	return flow->max_running && flow->running >= flow->max_running;
}

int tb_fq_push(struct tb_fq *fq, struct tb_fq_flow *flow, struct tb_fq_item *item)
{
	if (!fq || !flow || !item)
		return TB_ERR_INVAL;
	if (flow->len >= flow->max_items)
		return TB_ERR_TOOBIG;
	item->next = NULL;
	if (flow->tail)
		flow->tail->next = item;
	else
		flow->head = item;
	flow->tail = item;
	flow->len++;
	fq->total++;
	if (!flow->active) {
		/* as sch_drr: a flow joining the round may spend one quantum at
		 * once, so a polite app waits at most one round */
		flow->deficit = fq->quantum;
		active_append(fq, flow);
	}
	return TB_OK;
}

static struct tb_fq_item *take_head(struct tb_fq *fq, struct tb_fq_flow *flow)
{
	struct tb_fq_item *item = flow->head;

	flow->head = item->next;
	if (!flow->head)
		flow->tail = NULL;
	item->next = NULL;
	flow->len--;
	fq->total--;
	flow->deficit -= item->cost;
	if (!flow->head) {
		/* no saving up: credit is only for work that is waiting */
		active_unlink(fq, flow);
		flow->deficit = 0;
	}
	return item;
}

/* DRR; with bounded set, flows at their max_running are passed over. */
static struct tb_fq_item *pop(struct tb_fq *fq, int bounded)
{
	struct tb_fq_flow *flow;

	if (!fq)
		return NULL;
	/* an open flow takes at most two visits (quantum >= cost: credit,
	 * then the item); a blocked one is passed over. So 2n + 1 visits
	 * find an open flow when there is one among n. */
	for (size_t visits = 2 * fq->n_active + 1; visits && (flow = fq->head) != NULL; visits--) {
		int shut = bounded && blocked(flow);
		if (!shut && flow->head->cost <= flow->deficit)
			return take_head(fq, flow);
		if (!shut)
			flow->deficit += fq->quantum;
		if (flow != fq->tail) {
			active_unlink(fq, flow);
			active_append(fq, flow);
		}
	}
	return NULL;
}

struct tb_fq_item *tb_fq_pop(struct tb_fq *fq)
{
	return pop(fq, 1);
}

struct tb_fq_item *tb_fq_pop_any(struct tb_fq *fq)
{
	return pop(fq, 0);
}

void tb_fq_flow_remove(struct tb_fq *fq, struct tb_fq_flow *flow,
                       void (*drop)(struct tb_fq_item *, void *), void *arg)
{
	struct tb_fq_item *item;

	if (!fq || !flow)
		return;
	item = flow->head;
	/* detach everything first: drop() may free items or push again */
	active_unlink(fq, flow);
	fq->total -= flow->len;
	flow->head = flow->tail = NULL;
	flow->len = 0;
	flow->deficit = 0;
	while (item) {
		struct tb_fq_item *next = item->next;
		item->next = NULL;
		if (drop)
			drop(item, arg);
		item = next;
	}
}

int tb_fq_remove(struct tb_fq *fq, struct tb_fq_flow *flow, struct tb_fq_item *item)
{
	struct tb_fq_item **pp, *prev = NULL;

	if (!fq || !flow || !item)
		return TB_ERR_INVAL;
	for (pp = &flow->head; *pp && *pp != item; pp = &(*pp)->next)
		prev = *pp;
	if (!*pp)
		return TB_ERR_NOTFOUND;
	*pp = item->next;
	if (flow->tail == item)
		flow->tail = prev;
	item->next = NULL;
	flow->len--;
	fq->total--;
	if (!flow->head) {
		active_unlink(fq, flow);
		flow->deficit = 0;
	}
	return TB_OK;
}

uint32_t tb_fq_len(const struct tb_fq_flow *flow)
{
	return flow->len;
}

size_t tb_fq_total(const struct tb_fq *fq)
{
	return fq->total;
}

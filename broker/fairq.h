/*
 * Fair queueing of work across apps: Deficit Round Robin, as Linux sch_drr
 * does it for packets. One flow per app connection; an item is one unit of
 * work (a request for a TEE) with a cost (its size, or 1 for "count
 * requests").
 *
 * Flows with queued work sit on an active list. tb_fq_pop() looks at the
 * flow at the head: if its first item costs no more than the flow's deficit,
 * that item is taken and its cost subtracted; otherwise the flow earns one
 * quantum and moves to the tail. A flow that joins the list starts with one
 * quantum (so it is served as soon as its turn comes); a flow that empties
 * leaves the list and its deficit returns to 0, so an idle app cannot save up
 * credit. With quantum >= the largest cost, every flow gets at least one item
 * per round and one pop visits at most two rounds of flows.
 *
 * Items and flows are intrusive: the caller embeds them in its own objects;
 * nothing here allocates. Single-threaded.
 */
#ifndef TB_FAIRQ_H
#define TB_FAIRQ_H

#include <stddef.h>
#include <stdint.h>

struct tb_fq_item {
	struct tb_fq_item *next;
	uint32_t cost;
};

struct tb_fq_flow {
	struct tb_fq_item *head, *tail;
	struct tb_fq_flow *prev, *next; /* active list */
	uint64_t deficit;
	uint32_t len, max_items;
	/* work taken from this flow and still running (the caller counts it),
	 * and how much of it may run at once (0: no bound): a flow at its
	 * bound is passed over by tb_fq_pop() until some of it ends */
	uint32_t running, max_running;
	int active;
};

struct tb_fq {
	struct tb_fq_flow *head, *tail; /* active flows, head served next */
	size_t n_active;
	uint32_t quantum;
	size_t total;
};

/* quantum: credit a flow earns per round; make it at least the largest item
 * cost (a pop gives up, returning NULL, after two rounds otherwise).
 * Returns: TB_OK, TB_ERR_INVAL (quantum 0). */
int tb_fq_init(struct tb_fq *fq, uint32_t quantum);

/* An empty flow holding at most max_items (>= 1). Returns: TB_OK,
 * TB_ERR_INVAL. */
int tb_fq_flow_init(struct tb_fq_flow *flow, uint32_t max_items);

/*
 * Function: tb_fq_push
 * Queue item (cost set by the caller) at the tail of flow.
 * Ownership: item stays the caller's; it is linked until popped or handed
 * back by tb_fq_flow_remove().
 * Returns: TB_OK, TB_ERR_TOOBIG when the flow holds max_items already (answer
 * "busy"), TB_ERR_INVAL.
 */
int tb_fq_push(struct tb_fq *fq, struct tb_fq_flow *flow, struct tb_fq_item *item);

/* The next item by DRR, unlinked; NULL when nothing is queued, or every
 * flow with work queued is at its max_running. O(active flows). */
struct tb_fq_item *tb_fq_pop(struct tb_fq *fq);
/* The same, whatever max_running says: for answering what waits (the broker
 * stops, the TEE is down), not for starting it. */
struct tb_fq_item *tb_fq_pop_any(struct tb_fq *fq);

/*
 * Function: tb_fq_flow_remove
 * Take flow out of the scheduler (its app has gone) and hand every queued item,
 * in order, to drop(item, arg), which may free it. drop may be NULL. The flow
 * is left empty and may be used again; drop may even push to it.
 */
void tb_fq_flow_remove(struct tb_fq *fq, struct tb_fq_flow *flow,
                       void (*drop)(struct tb_fq_item *, void *), void *arg);

/* Unlink one queued item of flow (its request ended while waiting): O(length
 * of the flow). A flow left empty leaves the round with no credit. Returns
 * TB_OK, TB_ERR_NOTFOUND (not queued in flow). */
int tb_fq_remove(struct tb_fq *fq, struct tb_fq_flow *flow, struct tb_fq_item *item);

uint32_t tb_fq_len(const struct tb_fq_flow *flow);
size_t tb_fq_total(const struct tb_fq *fq);

#endif

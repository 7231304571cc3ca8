/*
 * Deadlines of one fixed length, in O(1).
 *
 * libwebsockets keeps its timers in one sorted list and walks it to insert
 * each one: a timer per request costs a walk over every pending timer.
 * Deadlines of one length, set in time order, expire in that same order, so
 * a list of them needs no sorting: a deadline is set by appending it, cleared
 * by unlinking it, and only the list's head needs a libwebsockets timer.
 *
 * One tb_dl_list per length (a TEE's call_timeout, a TAM's response
 * timeout, ...); each object with a deadline embeds a tb_dl. The list's
 * timer is armed for its head when it has none, and when it fires it expires
 * every deadline due and re-arms for the next one. Clearing a deadline does
 * not touch the timer: it may fire early and find nothing due, and then
 * re-arms. With deadlines set and cleared at any rate, the timer is armed
 * about once per length of time, not once per deadline.
 *
 * Loop thread only. Times are tb_obs_now_us() (CLOCK_MONOTONIC, us).
 */
#ifndef TB_DEADLINE_H
#define TB_DEADLINE_H

#include <libwebsockets.h>
#include <stdint.h>

struct tb_dl_list;

struct tb_dl {
	struct tb_dl *prev, *next;
	struct tb_dl_list *list; /* NULL: not set */
	uint64_t due_us;
};

/* Called for each deadline that has passed; it is already cleared, and may
 * be set again (on this list or another). */
typedef void (*tb_dl_expired_fn)(struct tb_dl *d);

struct tb_dl_list {
	struct tb_dl *head, *tail;
	uint64_t len_us;
	tb_dl_expired_fn expired;
	struct lws_context *ctx; /* NULL: no timer; the owner calls tb_dl_run() */
	lws_sorted_usec_list_t sul;
	uint64_t armed_us;   /* when the timer fires; 0: not armed */
	uint64_t timer_sets; /* libwebsockets timer insertions so far */
};

/* An empty list of deadlines len_us after they are set. */
void tb_dl_list_init(struct tb_dl_list *l, struct lws_context *ctx, uint64_t len_us,
                     tb_dl_expired_fn expired);
/* Cancel the timer, for good (before the lws context goes); the deadlines
 * still set stay linked (their owners are freed apart). */
void tb_dl_list_fini(struct tb_dl_list *l);

/* CLOCK_MONOTONIC in microseconds. */
uint64_t tb_dl_now(void);
/* Set d to now_us + the list's length (clearing it first if set, on any
 * list). O(1) when now_us does not go backwards. */
void tb_dl_set_at(struct tb_dl_list *l, struct tb_dl *d, uint64_t now_us);
/* The same, now. */
void tb_dl_set(struct tb_dl_list *l, struct tb_dl *d);
/* Clear d if set. O(1). */
void tb_dl_clear(struct tb_dl *d);
static inline int tb_dl_is_set(const struct tb_dl *d)
{
	return d->list != NULL;
}

/* The timer has fired: expire every deadline due at now_us, in order, then
 * arm the timer for the next one. Tests call it for a list without ctx. */
void tb_dl_run(struct tb_dl_list *l, uint64_t now_us);

#endif

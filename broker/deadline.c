#include "config.h"
#include "deadline.h"

#include <string.h>
#include <time.h>

uint64_t tb_dl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_timer(lws_sorted_usec_list_t *sul)
{
	struct tb_dl_list *l = lws_container_of(sul, struct tb_dl_list, sul);

	tb_dl_run(l, tb_dl_now());
}

/* The timer fires at due_us (one libwebsockets insertion). */
static void arm(struct tb_dl_list *l, uint64_t due_us, uint64_t now)
{
	l->armed_us = due_us ? due_us : 1;
	l->timer_sets++;
	if (l->ctx)
		lws_sul_schedule(l->ctx, 0, &l->sul, on_timer,
		                 (lws_usec_t)(due_us > now ? due_us - now : 0));
}

void tb_dl_list_init(struct tb_dl_list *l, struct lws_context *ctx, uint64_t len_us,
                     tb_dl_expired_fn expired)
{
	memset(l, 0, sizeof(*l));
	l->ctx = ctx;
	l->len_us = len_us;
	l->expired = expired;
}

void tb_dl_list_fini(struct tb_dl_list *l)
{
	if (l->ctx && l->armed_us)
		lws_sul_cancel(&l->sul);
	l->armed_us = 0;
	l->ctx = NULL; /* no timer from now on */
}

void tb_dl_clear(struct tb_dl *d)
{
	struct tb_dl_list *l = d->list;

	if (!l)
		return;
	if (d->prev)
		d->prev->next = d->next;
	else
		l->head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		l->tail = d->prev;
	d->prev = d->next = NULL;
	d->list = NULL;
}

void tb_dl_set_at(struct tb_dl_list *l, struct tb_dl *d, uint64_t now)
{
	struct tb_dl *after;

	tb_dl_clear(d);
	d->due_us = now + l->len_us;
	d->list = l;
	/* after the last one due no later: the tail, unless the clock was
	 * read out of order */
	for (after = l->tail; after && after->due_us > d->due_us; after = after->prev)
		;
	d->prev = after;
	d->next = after ? after->next : l->head;
	if (d->next)
		d->next->prev = d;
	else
		l->tail = d;
	if (after)
		after->next = d;
	else
		l->head = d;
	/* the timer is needed only if it is off, or set for later */
	if (!l->armed_us || l->armed_us > d->due_us)
		arm(l, d->due_us, now);
}

void tb_dl_set(struct tb_dl_list *l, struct tb_dl *d)
{
	tb_dl_set_at(l, d, tb_dl_now());
}

void tb_dl_run(struct tb_dl_list *l, uint64_t now)
{
	struct tb_dl *d;

	l->armed_us = 0;
	while ((d = l->head) != NULL && d->due_us <= now) {
		tb_dl_clear(d);
		l->expired(d); /* may set and clear deadlines, this one too */
	}
	/* (an expiry may have armed the timer for a new head already) */
	if (l->head && (!l->armed_us || l->armed_us > l->head->due_us))
		arm(l, l->head->due_us, now);
}

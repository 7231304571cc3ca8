/*
 * The service manager's notification protocol (sd_notify(3), notify.c):
 * READY=1, STOPPING=1, RELOADING=1, a STATUS= line with live counts, and the watchdog.
 *
 * The messages go to $NOTIFY_SOCKET over a datagram socket that never
 * blocks the loop (a message the manager's queue has no room for is
 * dropped). One loop timer sends STATUS= when the counts changed, at most
 * once a second, and WATCHDOG=1 at half of $WATCHDOG_USEC when the
 * watchdog is on (and $WATCHDOG_PID, if set, is this process): a loop that
 * stalls stops pinging, and the manager restarts the service.
 */
#ifndef TB_NOTIFY_H
#define TB_NOTIFY_H

#include <stdint.h>

struct tb_broker;
struct tb_notify;

/* From the environment; NULL when there is no $NOTIFY_SOCKET (every
 * function below then does nothing). */
struct tb_notify *tb_notify_new(void);
/* The broker is ready: READY=1 and its status, and the timer starts on
 * b->ctx. */
void tb_notify_ready(struct tb_notify *n, struct tb_broker *b);
/* STOPPING=1, and the time the stop may take from now. */
void tb_notify_stopping(struct tb_notify *n, uint64_t extend_usec);
/* A configuration reload starts (SIGHUP): RELOADING=1 and MONOTONIC_USEC,
 * which a Type=notify-reload unit and `systemctl reload` wait on. */
void tb_notify_reloading(struct tb_notify *n);
/* It is over, applied or refused: READY=1 and outcome as the STATUS=. */
void tb_notify_reloaded(struct tb_notify *n, const char *outcome);
/* Cancels the timer (before the loop's context goes) and frees. */
void tb_notify_free(struct tb_notify *n);

#endif

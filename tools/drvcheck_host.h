/*
 * The host teep-driver-check gives a driver under test: struct tb_host with
 * an allocator that remembers every buffer it handed out, so the checker can
 * tell a buffer from host->alloc() from any other pointer, and count what is
 * never freed.
 *
 * host->alloc and host->free take no context (driver.h), so the table of
 * allocations is one per process: the checker runs each check in a process
 * of its own and resets it there.
 */
#ifndef DRVCHECK_HOST_H
#define DRVCHECK_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <teep-broker/driver.h>

struct dc_host {
	struct tb_host host; /* first: what the driver is given */
	int verbose;         /* print the driver's log lines on standard error */
	char last_err[512];  /* the last line it logged at TB_LOG_ERR or WARN */
	_Atomic int down;    /* the driver reported its TEE down (set_health), from any thread */
};

/*
 * The current call of a worker thread (driver.h: "the current call"), as the
 * checker sets it up around each operation: what the 1.1 services answer
 * during it, and what the driver asked of them.
 */
struct dc_call {
	uint64_t start, end; /* now_ms() when it was made and when it returned */
	uint64_t deadline;   /* call_deadline_ms() */
	uint64_t cancel_at;  /* call_cancelled() nonzero from then on; 0: only
	                      * from the deadline on */
	int cleanup;         /* process_error, session_close: never cancelled */
	unsigned asked_deadline, asked_cancelled; /* calls of the services */
	uint64_t saw_cancel;                      /* when call_cancelled() first said so */
	int err_status;                           /* set_error(), the last one */
	char err_reason[201];
};

struct dc_alloc_stats {
	size_t live;       /* buffers from host->alloc not freed yet */
	size_t live_bytes; /* their bytes */
	size_t allocs;     /* host->alloc calls that succeeded */
	size_t bad_frees;  /* host->free of a pointer that was not live */
	void *bad_free;    /* the first such pointer */
};

void dc_host_init(struct dc_host *h, int verbose);

/* The calling thread's current call: call (kept by the caller) from begin
 * to end; none outside. */
void dc_call_begin(struct dc_call *call);
void dc_call_end(void);
uint64_t dc_now_ms(void);

/* Forget every allocation (in a fresh child: the table is per process). */
void dc_alloc_reset(void);
/* Is p a live buffer from host->alloc? Its size in *size. */
int dc_alloc_owned(const void *p, size_t *size);
/* Free a buffer the driver handed over, as the broker does. Returns 0, or
 * -1 when p is not a live buffer from host->alloc: then it is not freed. */
int dc_alloc_release(void *p);
void dc_alloc_stats(struct dc_alloc_stats *st);

#endif

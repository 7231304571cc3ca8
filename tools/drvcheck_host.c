/*
 * The tracking host of teep-driver-check (drvcheck_host.h): a table of the
 * live buffers of host->alloc, open addressing keyed by address, grown by
 * doubling; a mutex, as a driver may call the host from any thread. The
 * services of ABI 1.1 answer for the calling thread's current call.
 */
#include "config.h"
#include "drvcheck_host.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
	void *p; /* NULL: empty; TOMB: deleted */
	size_t size;
};

static char tomb_mark;
#define TOMB ((void *)&tomb_mark)

/* One table per process: alloc(size) and free(ptr) carry no context. */
static struct {
	pthread_mutex_t lock;
	struct slot *slots;
	size_t cap, used; /* used counts tombstones too */
	struct dc_alloc_stats st;
} tab = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t hash(const void *p, size_t cap)
{
	uint64_t x = (uint64_t)(uintptr_t)p;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (size_t)x & (cap - 1);
}

static struct slot *find(const void *p)
{
	if (!tab.cap)
		return NULL;
	for (size_t i = hash(p, tab.cap), n = 0; n < tab.cap; i = (i + 1) & (tab.cap - 1), n++) {
		if (tab.slots[i].p == p)
			return &tab.slots[i];
		if (!tab.slots[i].p)
			return NULL;
	}
	return NULL;
}

static int grow(void)
{
	size_t ncap = tab.cap ? tab.cap * 2 : 256;
	struct slot *ns;

	if (ncap > SIZE_MAX / sizeof(*ns) / 2)
		return -1;
	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -1;
	for (size_t i = 0; i < tab.cap; i++) {
		void *p = tab.slots[i].p;
		if (!p || p == TOMB)
			continue;
		size_t j = hash(p, ncap);
		while (ns[j].p)
			j = (j + 1) & (ncap - 1);
		ns[j] = tab.slots[i];
	}
	free(tab.slots);
	tab.slots = ns;
	tab.cap = ncap;
	tab.used = tab.st.live;
	return 0;
}

static int insert(void *p, size_t size)
{
	if ((tab.used + 1) * 2 > tab.cap && grow())
		return -1;
	size_t i = hash(p, tab.cap);
	while (tab.slots[i].p && tab.slots[i].p != TOMB)
		i = (i + 1) & (tab.cap - 1);
	if (!tab.slots[i].p)
		tab.used++;
	tab.slots[i].p = p;
	tab.slots[i].size = size;
	tab.st.live++;
	tab.st.live_bytes += size;
	tab.st.allocs++;
	return 0;
}

/* Remove p if live; 0 on success. Called with the lock held. */
static int remove_live(void *p)
{
	struct slot *s = find(p);
	if (!s)
		return -1;
	tab.st.live--;
	tab.st.live_bytes -= s->size;
	s->p = TOMB;
	s->size = 0;
	return 0;
}

static void *host_alloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		return NULL;
	pthread_mutex_lock(&tab.lock);
	if (insert(p, size)) {
		free(p);
		p = NULL;
	}
	pthread_mutex_unlock(&tab.lock);
	return p;
}

static void host_free(void *p)
{
	int rc;

	if (!p)
		return;
	pthread_mutex_lock(&tab.lock);
	rc = remove_live(p);
	if (rc) {
		/* Not ours, or freed twice: remembered, never passed to free(). */
		if (!tab.st.bad_frees++)
			tab.st.bad_free = p;
	}
	pthread_mutex_unlock(&tab.lock);
	if (!rc)
		free(p);
}

uint64_t dc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The calling worker's current call (driver.h: each service answers for
 * the operation the calling thread runs). */
static _Thread_local struct dc_call *current;

void dc_call_begin(struct dc_call *call)
{
	current = call;
}

void dc_call_end(void)
{
	current = NULL;
}

static uint64_t host_call_deadline_ms(const struct tb_host *host)
{
	(void)host;
	if (!current)
		return 0;
	current->asked_deadline++;
	return current->deadline;
}

/* Cancelled from cancel_at on, or once the deadline has passed, as the
 * broker does; a cleanup call never. */
static int host_call_cancelled(const struct tb_host *host)
{
	uint64_t now = dc_now_ms();

	(void)host;
	if (!current)
		return 0;
	current->asked_cancelled++;
	if (current->cleanup ||
	    (now < current->deadline && (!current->cancel_at || now < current->cancel_at)))
		return 0;
	if (!current->saw_cancel)
		current->saw_cancel = now;
	return 1;
}

static void host_set_error(const struct tb_host *host, int status, uint32_t retry_after_ms,
                           const char *reason)
{
	(void)host, (void)retry_after_ms;
	if (!current)
		return;
	current->err_status = status;
	snprintf(current->err_reason, sizeof(current->err_reason), "%s", reason ? reason : "");
}

static void host_set_health(const struct tb_host *host, int up, const char *reason)
{
	struct dc_host *h = (struct dc_host *)host;

	h->down = !up;
	if (h->verbose)
		fprintf(stderr, "  driver health: %s%s%s\n", up ? "up" : "down",
		        reason && !up ? ": " : "", reason && !up ? reason : "");
}

static void host_log(const struct tb_host *host, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_log(const struct tb_host *host, int level, const char *fmt, ...)
{
	static const char *const names[] = {"err", "warn", "notice", "info", "debug"};
	struct dc_host *h = (struct dc_host *)host;
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (level <= TB_LOG_WARN)
		snprintf(h->last_err, sizeof(h->last_err), "%s", line);
	if (h->verbose)
		fprintf(stderr, "  driver %s: %s\n",
		        level >= 0 && level <= TB_LOG_DEBUG ? names[level] : "?", line);
}

void dc_host_init(struct dc_host *h, int verbose)
{
	memset(h, 0, sizeof(*h));
	h->host.struct_size = sizeof(h->host);
	h->host.log = host_log;
	h->host.alloc = host_alloc;
	h->host.free = host_free;
	h->host.now_ms = dc_now_ms;
	h->host.call_deadline_ms = host_call_deadline_ms;
	h->host.call_cancelled = host_call_cancelled;
	h->host.set_error = host_set_error;
	h->host.set_health = host_set_health;
	h->verbose = verbose;
}

void dc_alloc_reset(void)
{
	pthread_mutex_lock(&tab.lock);
	free(tab.slots);
	tab.slots = NULL;
	tab.cap = tab.used = 0;
	memset(&tab.st, 0, sizeof(tab.st));
	pthread_mutex_unlock(&tab.lock);
}

int dc_alloc_owned(const void *p, size_t *size)
{
	struct slot *s;

	pthread_mutex_lock(&tab.lock);
	s = p ? find(p) : NULL;
	if (s && size)
		*size = s->size;
	pthread_mutex_unlock(&tab.lock);
	return s != NULL;
}

int dc_alloc_release(void *p)
{
	int rc;

	pthread_mutex_lock(&tab.lock);
	rc = remove_live(p);
	pthread_mutex_unlock(&tab.lock);
	if (!rc)
		free(p);
	return rc;
}

void dc_alloc_stats(struct dc_alloc_stats *st)
{
	pthread_mutex_lock(&tab.lock);
	*st = tab.st;
	pthread_mutex_unlock(&tab.lock);
}

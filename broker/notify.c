/*
 * sd_notify(3) for the broker, without blocking the loop (notify.h).
 */
#include "config.h"
#include "notify.h"
#include "broker.h"
#include "tb_log.h"
#include "tb_util.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define STATUS_EVERY_MS 1000

struct tb_notify {
	int fd;
	struct sockaddr_un addr;
	socklen_t addr_len;
	uint64_t watchdog_usec; /* 0: off */
	struct tb_broker *b;
	lws_sorted_usec_list_t timer;
	int timer_on;
	uint64_t status_ms; /* when STATUS= was last sent */
	char status[160];   /* what it said */
};

/* A plain decimal number, as the service manager writes them. */
static int parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (*s < '0' || *s > '9')
		return TB_ERR_INVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > (UINT64_MAX - 9) / 10)
			return TB_ERR_INVAL;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (*s)
		return TB_ERR_INVAL;
	*v = x;
	return TB_OK;
}

struct tb_notify *tb_notify_new(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len = path ? strlen(path) : 0;
	struct tb_notify *n;

	if (!len)
		return NULL;
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(n->addr.sun_path)) {
		tb_log(TB_LOG_WARN, "NOTIFY_SOCKET %s: not a unix socket path; not notifying",
		       path);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd < 0) {
		tb_log(TB_LOG_WARN, "NOTIFY_SOCKET: %s; not notifying", strerror(errno));
		free(n);
		return NULL;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@')
		n->addr.sun_path[0] = 0; /* the abstract namespace */
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);

	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	uint64_t v = 0, p = 0;
	if (usec && parse_u64(usec, &v) == TB_OK && v > 0 &&
	    (!pid || (parse_u64(pid, &p) == TB_OK && p == (uint64_t)getpid())))
		n->watchdog_usec = v;
	return n;
}

static void send_msg(struct tb_notify *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void send_msg(struct tb_notify *n, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(msg))
		return;
	/* never waits: a full queue drops this one, the next tick tries again */
	(void)sendto(n->fd, msg, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL,
	             (const struct sockaddr *)&n->addr, n->addr_len);
}

static void status_text(const struct tb_broker *b, char *out, size_t len)
{
	snprintf(out, len, "%s%u connection(s), %u exchange(s), %zu TEE(s)",
	         b->stopping ? "stopping: " : "", b->n_conns, b->n_sessions, b->n_tees);
}

static uint64_t tick_usec(const struct tb_notify *n)
{
	uint64_t t = (uint64_t)STATUS_EVERY_MS * 1000;

	if (n->watchdog_usec && n->watchdog_usec / 2 < t)
		t = n->watchdog_usec / 2;
	return t < 10000 ? 10000 : t;
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct tb_notify *n = lws_container_of(sul, struct tb_notify, timer);
	uint64_t now = tb_now_ms();
	char text[sizeof(n->status)];

	if (n->watchdog_usec)
		send_msg(n, "WATCHDOG=1");
	status_text(n->b, text, sizeof(text));
	if (now - n->status_ms >= STATUS_EVERY_MS && strcmp(text, n->status)) {
		send_msg(n, "STATUS=%s", text);
		memcpy(n->status, text, sizeof(text));
		n->status_ms = now;
	}
	lws_sul_schedule(n->b->ctx, 0, &n->timer, on_tick, (lws_usec_t)tick_usec(n));
}

void tb_notify_ready(struct tb_notify *n, struct tb_broker *b)
{
	if (!n)
		return;
	n->b = b;
	status_text(b, n->status, sizeof(n->status));
	n->status_ms = tb_now_ms();
	send_msg(n, "READY=1\nSTATUS=%s", n->status);
	if (n->watchdog_usec)
		tb_log(TB_LOG_INFO, "watchdog: pinging every %llu ms",
		       (unsigned long long)(tick_usec(n) / 1000));
	n->timer_on = 1;
	lws_sul_schedule(b->ctx, 0, &n->timer, on_tick, (lws_usec_t)tick_usec(n));
}

void tb_notify_stopping(struct tb_notify *n, uint64_t extend_usec)
{
	if (n)
		send_msg(n, "STOPPING=1\nEXTEND_TIMEOUT_USEC=%llu",
		         (unsigned long long)extend_usec);
}

void tb_notify_free(struct tb_notify *n)
{
	if (!n)
		return;
	if (n->timer_on)
		lws_sul_cancel(&n->timer);
	close(n->fd);
	free(n);
}

void tb_notify_reloading(struct tb_notify *n)
{
	struct timespec ts;

	if (!n)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	send_msg(n, "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ull +
	             (unsigned long long)ts.tv_nsec / 1000);
}

void tb_notify_reloaded(struct tb_notify *n, const char *outcome)
{
	if (n)
		send_msg(n, "READY=1\nSTATUS=%s", outcome);
}

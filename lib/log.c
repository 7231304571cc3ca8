/*
 * Logging to stderr or syslog, never blocking the caller.
 *
 * The settings live in one static struct: logging is the single piece of
 * process-wide state the project allows, because every module, driver and
 * libwebsockets itself write to the same destination. tb_log_setup() may be
 * called again (e.g. after the configuration is read) and takes a lock, so
 * it is safe even while other threads log.
 *
 * A caller formats its line and, when nothing is queued before it, writes
 * it to standard error itself without blocking (a descriptor of its own in
 * non-blocking mode, or send(MSG_DONTWAIT) on a socket such as journald's),
 * so that a line is out before the caller goes on, as a reader expects.
 * Whatever cannot go out at once, and every syslog line, is copied into a
 * bounded ring of TB_LOG_QUEUE_BYTES; one writer thread, started by the
 * first line, writes the ring and is the only one to block in write() or to
 * call syslog(). Standard error may be a pipe whose reader
 * stalls (journald, a pager, a stopped process): then the writer waits, the
 * ring fills, and further lines are dropped and counted rather than making
 * the event loop wait. The writer reports "N log line(s) dropped" where the
 * gap is, once it catches up. tb_log_shutdown() (also run at exit) writes
 * what is queued within a short deadline.
 */
#include "tb_log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX      1024
#define IDENT_MAX         64
#define BATCH_BYTES       (32 * 1024) /* taken from the ring per pass */
#define FLUSH_AT_EXIT_MS  500
#define DROP_NOTICE_BYTES 128

/* One line in the ring: this header, then len bytes of text. */
struct entry {
	uint32_t len;
	uint8_t level;
	uint8_t to_syslog; /* else stderr, text prefixed and '\n'-terminated */
	uint8_t pad[2];
	uint64_t dropped_before; /* lines lost just before this one */
};

enum writer_state { W_NONE, W_RUNNING, W_STOPPED, W_FAILED };

/* How a caller writes a line itself without blocking. */
enum direct_mode {
	D_NONE, /* never: everything goes through the ring */
	D_FD,   /* write() on direct_fd, a non-blocking descriptor of its own
	           (a regular file, or a pipe, FIFO or terminal reopened) */
	D_SOCK  /* send(MSG_DONTWAIT) on standard error, a socket */
};

static struct {
	pthread_mutex_t lock;
	char ident[IDENT_MAX];
	unsigned ident_gen; /* bumped by tb_log_setup: the writer reopens syslog */
	struct tb_log_conf conf;
	atomic_int level; /* conf.level, read without the lock (tb_log_enabled) */

	/* the ring: head and tail only grow; used = head - tail */
	unsigned char ring[TB_LOG_QUEUE_BYTES];
	uint64_t head, tail;
	uint64_t pending_drops; /* dropped since the last queued line */
	uint64_t dropped;       /* in all */

	enum writer_state state;
	enum direct_mode direct;
	int direct_fd;
	int direct_own;     /* direct_fd was opened here */
	dev_t direct_dev;   /* what standard error was when it was set up: */
	ino_t direct_ino;   /* a descriptor moved onto it (dup2) changes it */
	int writer_waiting; /* asleep on wake */
	int writer_busy;    /* writing lines it took out of the ring */
	int stop;
	pthread_t thread;
	pthread_cond_t wake; /* lines queued, or stop */
	pthread_cond_t idle; /* the ring is empty and written (monotonic clock) */
} log_state = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .ident = "teep-broker",
    .conf = {.level = TB_LOG_NOTICE, .to_syslog = 0, .timestamps = 0},
    .level = TB_LOG_NOTICE,
};

static const char *const level_names[] = {"err", "warn", "notice", "info", "debug"};

void tb_log_setup(const char *ident, const struct tb_log_conf *conf)
{
	pthread_mutex_lock(&log_state.lock);
	if (ident)
		snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
	if (conf) {
		log_state.conf = *conf;
		atomic_store_explicit(&log_state.level, conf->level, memory_order_relaxed);
	}
	log_state.ident_gen++;
	pthread_mutex_unlock(&log_state.lock);
}

static int clamp_level(int level)
{
	if (level < TB_LOG_ERR)
		return TB_LOG_ERR;
	if (level > TB_LOG_DEBUG)
		return TB_LOG_DEBUG;
	return level;
}

static int syslog_priority(int level)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
	return prio[level];
}

/* Under the lock (reads the settings). */
static size_t format_prefix(char *line, size_t cap, int level)
{
	size_t n = 0;
	int w;

	if (log_state.conf.timestamps) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = strftime(line, cap, "%Y-%m-%d %H:%M:%S", &tm);
		w = snprintf(line + n, cap - n, ".%03ld ", ts.tv_nsec / 1000000L);
		if (w > 0)
			n += (size_t)w;
	}
	w = snprintf(line + n, cap - n, "%s: %s: ", log_state.ident, level_names[level]);
	if (w > 0)
		n += (size_t)w;
	return n < cap ? n : cap - 1;
}

/* Only the writer thread (or, if it could not start, the caller) writes. */
static void write_all(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* someone made stderr non-blocking: only this thread waits */
			struct pollfd pfd = {.fd = STDERR_FILENO, .events = POLLOUT};
			poll(&pfd, 1, 1000);
			continue;
		}
		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
}

static void ring_put(uint64_t at, const void *src, size_t n)
{
	size_t off = (size_t)(at % TB_LOG_QUEUE_BYTES), first = TB_LOG_QUEUE_BYTES - off;

	if (first > n)
		first = n;
	memcpy(log_state.ring + off, src, first);
	memcpy(log_state.ring, (const unsigned char *)src + first, n - first);
}

static void ring_get(uint64_t at, void *dst, size_t n)
{
	size_t off = (size_t)(at % TB_LOG_QUEUE_BYTES), first = TB_LOG_QUEUE_BYTES - off;

	if (first > n)
		first = n;
	memcpy(dst, log_state.ring + off, first);
	memcpy((unsigned char *)dst + first, log_state.ring, n - first);
}

/* The writer: takes up to BATCH_BYTES of lines at a time, writes them
 * without the lock. It owns the syslog connection. */
static char syslog_ident[IDENT_MAX]; /* openlog keeps the pointer */

static void syslog_line(unsigned *gen, int level, const char *text)
{
	unsigned want;

	pthread_mutex_lock(&log_state.lock);
	want = log_state.ident_gen;
	if (*gen != want)
		snprintf(syslog_ident, sizeof(syslog_ident), "%s", log_state.ident);
	pthread_mutex_unlock(&log_state.lock);
	if (*gen != want) {
		closelog();
		openlog(syslog_ident, LOG_PID, LOG_DAEMON);
		*gen = want;
	}
	syslog(syslog_priority(level), "%s", text);
}

struct out_buf {
	char data[BATCH_BYTES + DROP_NOTICE_BYTES];
	size_t len;
};

static void out_flush(struct out_buf *o)
{
	write_all(o->data, o->len);
	o->len = 0;
}

static void report_drops(struct out_buf *o, unsigned *gen, uint64_t n, int to_syslog)
{
	char msg[DROP_NOTICE_BYTES];

	snprintf(msg, sizeof(msg), "%llu log line(s) dropped (the log reader was too slow)",
	         (unsigned long long)n);
	if (to_syslog) {
		out_flush(o);
		syslog_line(gen, TB_LOG_WARN, msg);
		return;
	}
	char line[DROP_NOTICE_BYTES + IDENT_MAX + 48];
	pthread_mutex_lock(&log_state.lock);
	size_t p = format_prefix(line, sizeof(line), TB_LOG_WARN);
	pthread_mutex_unlock(&log_state.lock);
	int w = snprintf(line + p, sizeof(line) - p, "%s\n", msg);
	if (w > 0)
		p += (size_t)w < sizeof(line) - p ? (size_t)w : sizeof(line) - p - 1;
	if (o->len + p > sizeof(o->data))
		out_flush(o);
	memcpy(o->data + o->len, line, p);
	o->len += p;
}

static void *writer_main(void *arg)
{
	static unsigned char batch[BATCH_BYTES];
	static struct out_buf out;
	unsigned gen = 0;
	(void)arg;

	pthread_mutex_lock(&log_state.lock);
	for (;;) {
		while (log_state.head == log_state.tail && !log_state.pending_drops &&
		       !log_state.stop) {
			pthread_cond_broadcast(&log_state.idle);
			log_state.writer_waiting = 1;
			pthread_cond_wait(&log_state.wake, &log_state.lock);
			log_state.writer_waiting = 0;
		}
		if (log_state.head == log_state.tail && !log_state.pending_drops)
			break; /* stopping, all written */

		/* whole entries, as many as fit in the batch */
		size_t n = 0;
		while (log_state.head != log_state.tail) {
			struct entry e;
			ring_get(log_state.tail, &e, sizeof(e));
			if (n + sizeof(e) + e.len > sizeof(batch))
				break;
			ring_get(log_state.tail, batch + n, sizeof(e) + e.len);
			log_state.tail += sizeof(e) + e.len;
			n += sizeof(e) + e.len;
		}
		uint64_t trailing = 0;
		int trailing_syslog = log_state.conf.to_syslog;
		if (log_state.head == log_state.tail) {
			/* caught up: drops with no line after them yet */
			trailing = log_state.pending_drops;
			log_state.pending_drops = 0;
		}
		log_state.writer_busy = 1;
		pthread_mutex_unlock(&log_state.lock);

		for (size_t at = 0; at < n;) {
			struct entry e;
			memcpy(&e, batch + at, sizeof(e));
			char *text = (char *)batch + at + sizeof(e);
			at += sizeof(e) + e.len;
			if (e.dropped_before)
				report_drops(&out, &gen, e.dropped_before, e.to_syslog);
			if (e.to_syslog) {
				out_flush(&out);
				text[e.len - 1] = '\0'; /* queued with its terminator */
				syslog_line(&gen, e.level, text);
			} else {
				if (out.len + e.len > sizeof(out.data))
					out_flush(&out); /* drop notices took room */
				memcpy(out.data + out.len, text, e.len);
				out.len += e.len;
			}
		}
		if (trailing)
			report_drops(&out, &gen, trailing, trailing_syslog);
		out_flush(&out);

		pthread_mutex_lock(&log_state.lock);
		log_state.writer_busy = 0;
	}
	pthread_cond_broadcast(&log_state.idle);
	pthread_mutex_unlock(&log_state.lock);
	if (gen)
		closelog();
	return NULL;
}

static void flush_at_exit(void)
{
	tb_log_shutdown(FLUSH_AT_EXIT_MS);
}

/* Under the lock, with the writer: how callers may write standard error
 * themselves without ever blocking. O_NONBLOCK on standard error itself
 * would change it for every process sharing it; a pipe, FIFO or terminal
 * is opened again through /proc for a description of its own. */
static void setup_direct(const struct stat *st_now)
{
	struct stat st;

	if (log_state.direct_own)
		close(log_state.direct_fd);
	log_state.direct = D_NONE;
	log_state.direct_fd = -1;
	log_state.direct_own = 0;
	if (st_now)
		st = *st_now;
	else if (fstat(STDERR_FILENO, &st))
		return;
	log_state.direct_dev = st.st_dev;
	log_state.direct_ino = st.st_ino;
	if (S_ISSOCK(st.st_mode)) {
		log_state.direct = D_SOCK;
	} else if (S_ISREG(st.st_mode)) {
		log_state.direct_fd = STDERR_FILENO;
		log_state.direct = D_FD;
	} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			log_state.direct_fd = fd;
			log_state.direct_own = 1;
			log_state.direct = D_FD;
		}
	}
}

/* Under the lock: write text now if it can go without waiting and nothing
 * is queued or being written before it. Returns how many bytes went out;
 * the rest must be queued. */
static size_t write_direct(const char *text, size_t len)
{
	struct stat st;
	ssize_t w;

	if (log_state.head != log_state.tail || log_state.pending_drops || log_state.writer_busy)
		return 0;
	if (fstat(STDERR_FILENO, &st))
		return 0;
	if (st.st_dev != log_state.direct_dev || st.st_ino != log_state.direct_ino)
		setup_direct(&st); /* standard error was replaced */
	if (log_state.direct == D_NONE)
		return 0;
	do {
		if (log_state.direct == D_SOCK)
			w = send(STDERR_FILENO, text, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			w = write(log_state.direct_fd, text, len);
	} while (w < 0 && errno == EINTR);
	return w > 0 ? (size_t)w : 0;
}

/* Under the lock: start the writer with the first line. Every signal is
 * blocked in it, so that signals meant for the program (a signalfd) never
 * land there. */
static void start_writer(void)
{
	pthread_condattr_t ca;
	sigset_t all, old;

	pthread_cond_init(&log_state.wake, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&log_state.idle, &ca);
	pthread_condattr_destroy(&ca);

	setup_direct(NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&log_state.thread, NULL, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		log_state.state = W_FAILED; /* lines are written by their callers */
		return;
	}
	log_state.state = W_RUNNING;
	atexit(flush_at_exit);
}

/* Under the lock: queue one line, or count it as dropped. */
static void enqueue(int level, int to_syslog, const char *text, size_t len)
{
	struct entry e;
	uint64_t used = log_state.head - log_state.tail;

	if (log_state.state != W_RUNNING || used + sizeof(e) + len > (uint64_t)TB_LOG_QUEUE_BYTES) {
		log_state.pending_drops++;
		log_state.dropped++;
		return;
	}
	memset(&e, 0, sizeof(e));
	e.len = (uint32_t)len;
	e.level = (uint8_t)level;
	e.to_syslog = (uint8_t)to_syslog;
	e.dropped_before = log_state.pending_drops;
	log_state.pending_drops = 0;
	ring_put(log_state.head, &e, sizeof(e));
	ring_put(log_state.head + sizeof(e), text, len);
	log_state.head += sizeof(e) + len;
	if (log_state.writer_waiting)
		pthread_cond_signal(&log_state.wake);
}

/* The attribute lets the compiler check the format passed through. */
int tb_log_enabled(int level)
{
	/* a relaxed read: the level changes only at setup and on a reload,
	 * and a line decided by the old level then is harmless */
	return clamp_level(level) <= atomic_load_explicit(&log_state.level, memory_order_relaxed);
}

void tb_vlog(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

void tb_vlog(int level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = 0;
	int w, to_syslog;

	level = clamp_level(level);
	if (!tb_log_enabled(level))
		return; /* without the lock: most debug and info lines end here */
	pthread_mutex_lock(&log_state.lock);
	if (level > log_state.conf.level) {
		pthread_mutex_unlock(&log_state.lock);
		return;
	}
	if (log_state.state == W_NONE)
		start_writer();
	to_syslog = log_state.conf.to_syslog;
	if (!to_syslog)
		n = format_prefix(line, sizeof(line) - 1, level);
	w = vsnprintf(line + n, sizeof(line) - 1 - n, fmt, ap);
	if (w < 0)
		w = 0;
	n += (size_t)w;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* truncated message */
	/* stderr lines end with '\n', syslog ones with the '\0' syslog wants */
	line[n++] = to_syslog ? '\0' : '\n';
	if (log_state.state == W_RUNNING && !to_syslog) {
		size_t done = write_direct(line, n);
		if (done < n)
			enqueue(level, to_syslog, line + done, n - done);
		pthread_mutex_unlock(&log_state.lock);
		return;
	}
	if (log_state.state != W_FAILED) {
		enqueue(level, to_syslog, line, n);
		pthread_mutex_unlock(&log_state.lock);
		return;
	}
	pthread_mutex_unlock(&log_state.lock);
	if (to_syslog)
		syslog(syslog_priority(level), "%s", line);
	else
		write_all(line, n);
}

void tb_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tb_vlog(level, fmt, ap);
	va_end(ap);
}

uint64_t tb_log_dropped(void)
{
	uint64_t n;

	pthread_mutex_lock(&log_state.lock);
	n = log_state.dropped;
	pthread_mutex_unlock(&log_state.lock);
	return n;
}

/* Under the lock: wait until the writer is idle with nothing queued. */
static int wait_idle(unsigned timeout_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (log_state.head != log_state.tail || log_state.pending_drops ||
	       log_state.writer_busy) {
		if (pthread_cond_timedwait(&log_state.idle, &log_state.lock, &until) == ETIMEDOUT)
			return -1;
	}
	return 0;
}

int tb_log_flush(unsigned timeout_ms)
{
	int rc = 0;

	pthread_mutex_lock(&log_state.lock);
	if (log_state.state == W_RUNNING)
		rc = wait_idle(timeout_ms);
	pthread_mutex_unlock(&log_state.lock);
	return rc;
}

int tb_log_shutdown(unsigned timeout_ms)
{
	int rc;

	pthread_mutex_lock(&log_state.lock);
	if (log_state.state != W_RUNNING) {
		log_state.state = W_STOPPED;
		pthread_mutex_unlock(&log_state.lock);
		return 0;
	}
	rc = wait_idle(timeout_ms);
	log_state.stop = 1;
	log_state.state = W_STOPPED; /* from now on lines are dropped */
	pthread_cond_signal(&log_state.wake);
	pthread_mutex_unlock(&log_state.lock);
	if (rc == 0)
		pthread_join(log_state.thread, NULL);
	else
		pthread_detach(log_state.thread); /* stuck in write(): exit regardless */
	return rc;
}

int tb_log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} aliases[] = {{"error", TB_LOG_ERR}, {"warning", TB_LOG_WARN}};

	if (!s)
		return -1;
	for (int i = 0; i <= TB_LOG_DEBUG; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcasecmp(s, aliases[i].name) == 0)
			return aliases[i].level;
	return -1;
}

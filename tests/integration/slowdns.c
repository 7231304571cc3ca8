/*
 * A slow name server for the integration tests (tam_slow_dns.sh), built for
 * the tests only and preloaded into teep-brokerd (LD_PRELOAD). It wraps
 * getaddrinfo(): a lookup of the name in SLOWDNS_NAME appends one line to
 * the file SLOWDNS_COUNT_FILE, takes SLOWDNS_DELAY_MS milliseconds and
 * answers what a lookup of 127.0.0.1 answers. Any other name goes to the
 * real getaddrinfo() unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

static void count_call(void)
{
	const char *path = getenv("SLOWDNS_COUNT_FILE");
	if (!path)
		return;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	/* one write of a whole line: concurrent lookups do not mix lines */
	ssize_t n = write(fd, "lookup\n", 7);
	(void)n;
	close(fd);
}

static void delay(void)
{
	const char *s = getenv("SLOWDNS_DELAY_MS");
	long ms = s ? strtol(s, NULL, 10) : 0;
	if (ms <= 0 || ms > 600000)
		return;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	gai_fn real = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	const char *name = getenv("SLOWDNS_NAME");

	if (!real)
		return EAI_SYSTEM;
	if (name && node && !strcasecmp(node, name)) {
		count_call();
		delay();
		node = "127.0.0.1";
	}
	return real(node, service, hints, res);
}

/* Small helpers shared by every program of the project. */
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int read_all(int fd, size_t max, uint8_t **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap + 1);

	if (!buf)
		return TB_ERR_NOMEM;
	for (;;) {
		if (n == cap) {
			/* Grow geometrically but never beyond max + 1, which is
			 * enough to notice an oversized file. n <= max here, so
			 * the buffer always grows. */
			size_t ncap = cap > SIZE_MAX / 4 ? SIZE_MAX / 2 : cap * 2;
			uint8_t *nb;

			if (ncap > max + 1)
				ncap = max + 1;
			nb = realloc(buf, ncap + 1);
			if (!nb) {
				free(buf);
				return TB_ERR_NOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return TB_ERR_IO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			free(buf);
			return TB_ERR_TOOBIG;
		}
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return TB_OK;
}

int tb_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	int fd, rc;

	if (!path || !out || !len || max == SIZE_MAX)
		return TB_ERR_INVAL;
	*out = NULL;
	*len = 0;
	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? TB_ERR_NOTFOUND : TB_ERR_IO;
	rc = read_all(fd, max, out, len);
	close(fd);
	return rc;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return TB_ERR_IO;
		}
		buf += w;
		len -= (size_t)w;
	}
	return TB_OK;
}

/* A fresh file next to path, "path.XXXXXXXXXXXX.tmp" (random, so a name
 * cannot be planted in advance), created by us: never through a link or
 * over a file that exists. */
static int open_temp(const char *path, char **tmp_out)
{
	static const char hex[] = "0123456789abcdef";
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 18);

	if (!tmp)
		return -ENOMEM;
	for (int attempt = 0; attempt < 16; attempt++) {
		uint8_t r[6];
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
			/* no entropy yet: still unique, only less unpredictable */
			uint64_t v =
			    (uint64_t)getpid() << 24 ^ (uint64_t)tb_now_ms() ^ (uint64_t)attempt;
			for (size_t i = 0; i < sizeof(r); i++)
				r[i] = (uint8_t)(v >> (8 * i));
		}
		memcpy(tmp, path, plen);
		tmp[plen] = '.';
		for (size_t i = 0; i < sizeof(r); i++) {
			tmp[plen + 1 + 2 * i] = hex[r[i] >> 4];
			tmp[plen + 2 + 2 * i] = hex[r[i] & 15];
		}
		memcpy(tmp + plen + 13, ".tmp", 5);
		/* 0600: these files may hold keys or Trusted Components. */
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			*tmp_out = tmp;
			return fd;
		}
		if (errno != EEXIST)
			break;
	}
	int e = errno;
	free(tmp);
	return -e;
}

int tb_write_file(const char *path, const uint8_t *buf, size_t len)
{
	char *tmp = NULL;
	int fd, rc, e = 0;

	if (!path || (!buf && len))
		return TB_ERR_INVAL;
	if (strlen(path) > PATH_MAX)
		return TB_ERR_INVAL;
	fd = open_temp(path, &tmp);
	if (fd < 0) {
		errno = -fd;
		return fd == -ENOMEM ? TB_ERR_NOMEM : TB_ERR_IO;
	}
	rc = write_all(fd, buf, len);
	if (rc == TB_OK && fsync(fd) != 0)
		rc = TB_ERR_IO;
	if (rc != TB_OK)
		e = errno;
	if (close(fd) != 0 && rc == TB_OK) {
		rc = TB_ERR_IO;
		e = errno;
	}
	/* rename() replaces what is at path, a link included, and never
	 * writes through it */
	if (rc == TB_OK && rename(tmp, path) != 0) {
		rc = TB_ERR_IO;
		e = errno;
	}
	if (rc != TB_OK)
		unlink(tmp);
	free(tmp);
	errno = e;
	return rc;
}

int tb_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tb_hex_decode(const char *hex, size_t hexlen, uint8_t **out, size_t *len)
{
	size_t n = 0, digits = 0;
	uint8_t *buf;
	int hi = -1;

	if (!hex || !out || !len)
		return TB_ERR_INVAL;
	*out = NULL;
	*len = 0;
	for (size_t i = 0; i < hexlen; i++) {
		unsigned char c = (unsigned char)hex[i];
		if (isspace(c))
			continue;
		if (tb_hex_digit(c) < 0)
			return TB_ERR_PARSE;
		digits++;
	}
	if (digits % 2)
		return TB_ERR_PARSE;
	/* One extra byte so an empty result is still a valid allocation. */
	buf = malloc(digits / 2 + 1);
	if (!buf)
		return TB_ERR_NOMEM;
	for (size_t i = 0; i < hexlen; i++) {
		unsigned char c = (unsigned char)hex[i];
		if (isspace(c))
			continue;
		if (hi < 0) {
			hi = tb_hex_digit(c);
		} else {
			buf[n++] = (uint8_t)(hi << 4 | tb_hex_digit(c));
			hi = -1;
		}
	}
	*out = buf;
	*len = n;
	return TB_OK;
}

void tb_hex_encode(const uint8_t *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[buf[i] >> 4];
		out[2 * i + 1] = digits[buf[i] & 0xf];
	}
	out[2 * len] = 0;
}

uint64_t tb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Leading decimal number, then the unit suffix in *rest. Refuses signs,
 * spaces and overflow, which strtoull would silently accept. */
static int parse_number(const char *s, uint64_t *v, const char **rest)
{
	uint64_t n = 0;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return TB_ERR_INVAL;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return TB_ERR_INVAL;
		n = n * 10 + d;
		p++;
	}
	*v = n;
	*rest = p;
	return TB_OK;
}

static int scale(uint64_t v, uint64_t factor, uint64_t *out)
{
	if (factor && v > UINT64_MAX / factor)
		return TB_ERR_INVAL;
	*out = v * factor;
	return TB_OK;
}

int tb_parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t factor;
	} units[] = {{"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60000}, {"h", 3600000}};
	const char *rest;
	uint64_t v;

	if (!ms || parse_number(s, &v, &rest) != TB_OK)
		return TB_ERR_INVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(rest, units[i].suffix) == 0)
			return scale(v, units[i].factor, ms);
	return TB_ERR_INVAL;
}

int tb_parse_size(const char *s, uint64_t *bytes)
{
	const char *rest;
	uint64_t v, factor;

	if (!bytes || parse_number(s, &v, &rest) != TB_OK)
		return TB_ERR_INVAL;
	switch (*rest) {
	case 0:
		factor = 1;
		break;
	case 'k':
	case 'K':
		factor = 1024;
		break;
	case 'm':
	case 'M':
		factor = 1024 * 1024;
		break;
	case 'g':
	case 'G':
		factor = 1024 * 1024 * 1024;
		break;
	default:
		return TB_ERR_INVAL;
	}
	if (*rest && rest[1])
		return TB_ERR_INVAL;
	return scale(v, factor, bytes);
}

int tb_err(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

uint64_t tb_raise_nofile(uint64_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur >= want)
		return rl.rlim_cur;
	if (rl.rlim_max < want) {
		struct rlimit up = {.rlim_cur = want, .rlim_max = want};
		if (!setrlimit(RLIMIT_NOFILE, &up))
			return want;
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
	return getrlimit(RLIMIT_NOFILE, &rl) ? 0 : rl.rlim_cur;
}

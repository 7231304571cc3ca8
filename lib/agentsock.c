/*
 * Sockets of the Agent protocol (tb_agentsock.h): AF_UNIX paths and AF_VSOCK
 * addresses, for the agent driver (client) and teep-agentd (server).
 */
#include "tb_agentsock.h"
#include "tb_agentproto.h"
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int tb_as_parse(const char *s, struct tb_as_addr *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (!s)
		return tb_err(err, errlen, TB_ERR_INVAL, "no address");
	if (strncmp(s, "unix:", 5) == 0) {
		size_t n = strlen(s + 5);

		if (n < 1 || n >= sizeof(a->path))
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "a unix socket path must be 1..%zu bytes",
			              sizeof(a->path) - 1);
		if (s[5] != '/')
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "a unix socket path must be absolute");
		a->family = TB_AS_UNIX;
		memcpy(a->path, s + 5, n + 1);
		return TB_OK;
	}
	if (strncmp(s, "vsock:", 6) == 0) {
		const char *cid = s + 6, *colon = strchr(cid, ':');
		char buf[16];
		size_t n;

		if (!colon || (n = (size_t)(colon - cid)) == 0 || n >= sizeof(buf))
			return tb_err(err, errlen, TB_ERR_INVAL, "vsock address: vsock:CID:PORT");
		memcpy(buf, cid, n);
		buf[n] = 0;
		a->family = TB_AS_VSOCK;
		if (strcmp(buf, "any") == 0)
			a->cid = TB_AS_CID_ANY;
		else if (strcmp(buf, "local") == 0)
			a->cid = VMADDR_CID_LOCAL;
		else if (strcmp(buf, "host") == 0)
			a->cid = VMADDR_CID_HOST;
		else if (parse_u32(buf, &a->cid) != 0)
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "vsock CID must be a number, any, local or host");
		if (parse_u32(colon + 1, &a->port) != 0 || a->port == VMADDR_PORT_ANY)
			return tb_err(err, errlen, TB_ERR_INVAL,
			              "vsock port must be a number below 4294967295");
		return TB_OK;
	}
	return tb_err(err, errlen, TB_ERR_INVAL, "address must be unix:PATH or vsock:CID:PORT");
}

void tb_as_format(const struct tb_as_addr *a, char *out, size_t outlen)
{
	if (a->family == TB_AS_UNIX)
		snprintf(out, outlen, "unix:%s", a->path);
	else if (a->cid == TB_AS_CID_ANY)
		snprintf(out, outlen, "vsock:any:%" PRIu32, a->port);
	else
		snprintf(out, outlen, "vsock:%" PRIu32 ":%" PRIu32, a->cid, a->port);
}

/* The sockaddr of an address; returns its length. */
static socklen_t to_sockaddr(const struct tb_as_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == TB_AS_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;

		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, a->path, strlen(a->path) + 1);
		return (socklen_t)sizeof(*un);
	}
	struct sockaddr_vm *vm = (struct sockaddr_vm *)ss;

	vm->svm_family = AF_VSOCK;
	vm->svm_cid = a->cid;
	vm->svm_port = a->port;
	return (socklen_t)sizeof(*vm);
}

static int new_socket(const struct tb_as_addr *a)
{
	return socket(a->family == TB_AS_UNIX ? AF_UNIX : AF_VSOCK,
	              SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

int tb_as_connect(const struct tb_as_addr *a, uint64_t timeout_ms, int *fd, char *err,
                  size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(a, &ss);
	uint64_t deadline = tb_now_ms() + timeout_ms;
	int s, e = 0;
	socklen_t el = sizeof(e);

	*fd = -1;
	s = new_socket(a);
	if (s < 0)
		return tb_err(err, errlen, TB_ERR_TEE, "socket: %s", strerror(errno));
	if (connect(s, (struct sockaddr *)&ss, sl) == 0)
		goto done;
	if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR) {
		e = errno;
		goto fail;
	}
	/* A unix socket whose backlog is full says EAGAIN and has no
	 * completion to wait for: retry until the deadline. */
	for (;;) {
		struct pollfd p = {.fd = s, .events = POLLOUT};
		uint64_t now = tb_now_ms();
		int r;

		if (now >= deadline) {
			e = ETIMEDOUT;
			goto fail;
		}
		r = poll(&p, 1, (int)(deadline - now > 100 ? 100 : deadline - now));
		if (r < 0 && errno != EINTR) {
			e = errno;
			goto fail;
		}
		if (r <= 0)
			continue;
		if (getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
			e = errno;
		if (e == EAGAIN && a->family == TB_AS_UNIX) {
			if (connect(s, (struct sockaddr *)&ss, sl) == 0)
				goto done;
			if (errno == EAGAIN || errno == EINPROGRESS)
				continue;
			e = errno;
		}
		if (e)
			goto fail;
		break;
	}
done:
	*fd = s;
	return TB_OK;
fail:
	close(s);
	{
		char where[160];

		tb_as_format(a, where, sizeof(where));
		return tb_err(err, errlen, TB_ERR_TEE, "connect %s: %s", where, strerror(e));
	}
}

/* A unix path that exists: replace it only if it is a socket that nobody
 * listens on any more (left behind by a crash). */
static int clear_stale(const struct tb_as_addr *a, char *err, size_t errlen)
{
	struct stat st;
	int fd;
	char why[128];

	if (lstat(a->path, &st) != 0)
		return TB_OK;
	if (!S_ISSOCK(st.st_mode))
		return tb_err(err, errlen, TB_ERR_IO, "%s exists and is not a socket", a->path);
	if (tb_as_connect(a, 200, &fd, why, sizeof(why)) == TB_OK) {
		close(fd);
		return tb_err(err, errlen, TB_ERR_IO, "%s: another process listens there", a->path);
	}
	if (unlink(a->path) != 0)
		return tb_err(err, errlen, TB_ERR_IO, "unlink %s: %s", a->path, strerror(errno));
	return TB_OK;
}

int tb_as_listen(const struct tb_as_addr *a, unsigned mode, int backlog, int *fd, char *err,
                 size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(a, &ss);
	char where[160];
	int s, rc;

	*fd = -1;
	tb_as_format(a, where, sizeof(where));
	if (a->family == TB_AS_UNIX) {
		rc = clear_stale(a, err, errlen);
		if (rc != TB_OK)
			return rc;
	}
	s = new_socket(a);
	if (s < 0)
		return tb_err(err, errlen, TB_ERR_IO, "socket for %s: %s", where, strerror(errno));
	if (bind(s, (struct sockaddr *)&ss, sl) != 0) {
		rc = tb_err(err, errlen, TB_ERR_IO, "bind %s: %s", where, strerror(errno));
		close(s);
		return rc;
	}
	if (a->family == TB_AS_UNIX && chmod(a->path, mode) != 0) {
		rc = tb_err(err, errlen, TB_ERR_IO, "chmod %s: %s", a->path, strerror(errno));
		close(s);
		return rc;
	}
	if (listen(s, backlog) != 0) {
		rc = tb_err(err, errlen, TB_ERR_IO, "listen %s: %s", where, strerror(errno));
		close(s);
		return rc;
	}
	*fd = s;
	return TB_OK;
}

/* Wait for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		uint64_t now = tb_now_ms();
		int r;

		if (now >= deadline_ms)
			return 0;
		r = poll(&p, 1, deadline_ms - now > 1000 ? 1000 : (int)(deadline_ms - now));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int tb_as_send(int fd, const uint8_t *buf, size_t len, uint64_t deadline_ms, char *err,
               size_t errlen)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = wait_fd(fd, POLLOUT, deadline_ms);
			if (r == 0)
				return tb_err(err, errlen, TB_ERR_IO,
				              "timed out sending (the Agent does not read)");
			if (r < 0)
				return tb_err(err, errlen, TB_ERR_TEE, "poll: %s", strerror(errno));
			continue;
		}
		return tb_err(err, errlen, TB_ERR_TEE, "send: %s",
		              n < 0 ? strerror(errno) : "nothing written");
	}
	return TB_OK;
}

int tb_as_recv_frame(int fd, struct tb_ap_reader *r, uint64_t deadline_ms, uint8_t **frame,
                     size_t *frame_len, char *err, size_t errlen)
{
	uint8_t buf[4096];

	*frame = NULL;
	*frame_len = 0;
	for (;;) {
		/* One byte at a time past a frame would be slow; reading a
		 * bounded chunk could swallow the start of the next frame, so
		 * read at most what the current frame still needs. */
		size_t want = sizeof(buf);
		ssize_t n;
		size_t used;
		int rc;

		if (r->hdr_got < TB_AP_HDR_LEN)
			want = TB_AP_HDR_LEN - r->hdr_got;
		else if (r->len - r->got < want)
			want = r->len - r->got;
		n = recv(fd, buf, want, 0);
		if (n == 0)
			return tb_err(err, errlen, TB_ERR_TEE, "the Agent closed the connection");
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return tb_err(err, errlen, TB_ERR_TEE, "recv: %s", strerror(errno));
			rc = wait_fd(fd, POLLIN, deadline_ms);
			if (rc == 0)
				return tb_err(err, errlen, TB_ERR_IO,
				              "timed out waiting for the Agent");
			if (rc < 0)
				return tb_err(err, errlen, TB_ERR_TEE, "poll: %s", strerror(errno));
			continue;
		}
		rc = tb_ap_reader_feed(r, buf, (size_t)n, &used, frame, frame_len);
		if (rc == TB_AP_FRAME)
			return TB_OK;
		if (rc == TB_ERR_TOOBIG)
			return tb_err(err, errlen, TB_ERR_TOOBIG,
			              "the Agent sent a frame of length 0 or over %zu bytes",
			              r->max_frame);
		if (rc != TB_AP_MORE)
			return tb_err(err, errlen, TB_ERR_NOMEM, "out of memory for a frame");
	}
}

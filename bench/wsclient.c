/* A websocket client in plain sockets for the load generators (wsclient.h). */
#include "config.h"

#include "wsclient.h"

#include "tb_uaproto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t ws_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int ws_parse_url(const char *url, struct ws_target *t)
{
	const char *h = url + 5, *colon;
	char *slash;

	if (strncmp(url, "ws://", 5) || !(colon = strchr(h, ':')) ||
	    (size_t)(colon - h) >= sizeof(t->host))
		return -1;
	memcpy(t->host, h, (size_t)(colon - h));
	t->host[colon - h] = 0;
	memset(&t->addr, 0, sizeof(t->addr));
	t->addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, t->host, &t->addr.sin_addr) != 1 ||
	    (ntohl(t->addr.sin_addr.s_addr) >> 24) != 127)
		return -1;
	unsigned long port = strtoul(colon + 1, &slash, 10);
	if (!port || port > 65535 || (*slash && *slash != '/'))
		return -1;
	t->addr.sin_port = htons((uint16_t)port);
	snprintf(t->path, sizeof(t->path), "%s", *slash ? slash : "/");
	return 0;
}

size_t ws_header(uint8_t *h, int opcode, size_t len)
{
	size_t n = 0;

	h[n++] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		h[n++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		h[n++] = 0x80 | 126;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else {
		h[n++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			h[n++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	memset(h + n, 0, 4);
	return n + 4;
}

long ws_parse(const uint8_t *buf, size_t len, size_t max_payload, int *op, const uint8_t **payload,
              size_t *plen)
{
	size_t hl = 2;
	uint64_t pl;

	if (len < 2)
		return 0;
	if (!(buf[0] & 0x80) || (buf[1] & 0x80))
		return -1; /* fragmented, or masked: the broker does neither */
	pl = buf[1] & 0x7f;
	if (pl == 126) {
		if (len < 4)
			return 0;
		pl = (uint64_t)buf[2] << 8 | buf[3];
		hl = 4;
	} else if (pl == 127) {
		if (len < 10)
			return 0;
		pl = 0;
		for (int i = 0; i < 8; i++)
			pl = pl << 8 | buf[2 + i];
		hl = 10;
	}
	if (pl > max_payload)
		return -1;
	if (len < hl + pl)
		return 0;
	*op = buf[0] & 0x0f;
	*payload = buf + hl;
	*plen = (size_t)pl;
	return (long)(hl + pl);
}

int ws_handshake_request(const struct ws_target *t, char *out, size_t cap)
{
	return snprintf(out, cap,
	                "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
	                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " TB_UA_SUBPROTOCOL
	                "\r\n\r\n",
	                t->path, t->host, (unsigned)ntohs(t->addr.sin_port));
}

size_t ws_http_end(const uint8_t *buf, size_t len)
{
	for (size_t i = 3; i < len; i++)
		if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' &&
		    buf[i] == '\n')
			return i + 1;
	return 0;
}

int ws_socket(const char *src, const struct ws_target *t, int nonblock)
{
	struct sockaddr_in a;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src) {
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		inet_pton(AF_INET, src, &a.sin_addr);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (const struct sockaddr *)&t->addr, sizeof(t->addr)) &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Sockets of the Agent protocol: the address forms "unix:PATH" and
 * "vsock:CID:PORT", a connect with a timeout for clients, and a listening
 * socket for teep-agentd. Every socket returned is non-blocking and
 * close-on-exec.
 */
#ifndef TB_AGENTSOCK_H
#define TB_AGENTSOCK_H

#include <stddef.h>
#include <stdint.h>

#define TB_AS_PATH_MAX 108         /* sizeof(sockaddr_un.sun_path) */
#define TB_AS_CID_ANY  0xffffffffu /* VMADDR_CID_ANY: listen on every CID */

enum tb_as_family { TB_AS_UNIX = 1, TB_AS_VSOCK };

struct tb_as_addr {
	enum tb_as_family family;
	char path[TB_AS_PATH_MAX]; /* unix */
	uint32_t cid, port;        /* vsock */
};

/*
 * Parse "unix:/path" or "vsock:CID:PORT" (CID a number, or "any" for
 * VMADDR_CID_ANY, "local" for VMADDR_CID_LOCAL, "host" for VMADDR_CID_HOST).
 * Returns TB_OK or TB_ERR_INVAL with a reason in err.
 */
int tb_as_parse(const char *s, struct tb_as_addr *a, char *err, size_t errlen);
/* The address back as text, for logs. */
void tb_as_format(const struct tb_as_addr *a, char *out, size_t outlen);

/* Connect within timeout_ms. Returns TB_OK and *fd, or TB_ERR_TEE with a
 * reason in err (refused, no such path, timed out, ...). */
int tb_as_connect(const struct tb_as_addr *a, uint64_t timeout_ms, int *fd, char *err,
                  size_t errlen);

/* Bind and listen. A unix path that holds a stale socket (nobody listens on
 * it) is replaced; any other existing file is an error. mode: the unix
 * socket's permissions. Returns TB_OK and *fd, or TB_ERR_IO with a reason. */
int tb_as_listen(const struct tb_as_addr *a, unsigned mode, int backlog, int *fd, char *err,
                 size_t errlen);

/*
 * Blocking-with-deadline helpers for clients, over a non-blocking socket.
 * deadline_ms is on the tb_now_ms() clock. tb_as_send writes all of buf;
 * tb_as_recv_frame feeds the reader until it holds a whole frame (returned
 * malloc()ed). Both return TB_OK, or TB_ERR_TEE with a reason in err: the
 * peer closed, a socket error, TB_ERR_TOOBIG for a frame over the reader's
 * bound, or TB_ERR_IO ("timed out") when the deadline passed.
 */
struct tb_ap_reader;
int tb_as_send(int fd, const uint8_t *buf, size_t len, uint64_t deadline_ms, char *err,
               size_t errlen);
int tb_as_recv_frame(int fd, struct tb_ap_reader *r, uint64_t deadline_ms, uint8_t **frame,
                     size_t *frame_len, char *err, size_t errlen);

#endif

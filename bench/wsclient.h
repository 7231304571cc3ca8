/*
 * A websocket client in plain sockets, for the load generators of bench/
 * (teep-flood, teep-load): frames built and parsed in place, no library
 * between the generator and the socket, so that the generator costs little
 * next to the server it measures. Loopback only.
 *
 * Client frames carry a masking key of zero. RFC 6455 wants it
 * unpredictable (against proxy cache poisoning, not a concern on loopback)
 * and a server cannot tell.
 */
#ifndef TB_BENCH_WSCLIENT_H
#define TB_BENCH_WSCLIENT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct ws_target {
	struct sockaddr_in addr;
	char host[64];
	char path[256];
};

uint64_t ws_now_us(void);

/* ws://A.B.C.D:PORT/PATH, with A.B.C.D in 127.0.0.0/8: 0, else -1. */
int ws_parse_url(const char *url, struct ws_target *t);

/* A client frame header (FIN set, zero masking key) for len payload bytes;
 * h has room for 14 bytes. Returns the header's length. */
size_t ws_header(uint8_t *h, int opcode, size_t len);

/* One server frame at buf[0..len): 0 if incomplete, -1 if not acceptable
 * (fragmented, masked, or a payload over max_payload), else its size, with
 * its opcode and payload. */
long ws_parse(const uint8_t *buf, size_t len, size_t max_payload, int *op, const uint8_t **payload,
              size_t *plen);

/* The handshake request for the broker's subprotocol into out[0..cap). */
int ws_handshake_request(const struct ws_target *t, char *out, size_t cap);

/* The end of the HTTP answer in buf[0..len): offset after it, 0 if not yet. */
size_t ws_http_end(const uint8_t *buf, size_t len);

/* A TCP socket bound to the source address src (NULL: any) and connecting
 * to t (TCP_NODELAY). nonblock: the connect may still be in progress. */
int ws_socket(const char *src, const struct ws_target *t, int nonblock);

#endif

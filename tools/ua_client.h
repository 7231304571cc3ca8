/*
 * Small helpers shared by the clients of the app API (teep-ua, and
 * teep-tam --via-broker): the broker's URL, and the bearer token in the
 * websocket handshake.
 */
#ifndef UA_CLIENT_H
#define UA_CLIENT_H

#include <libwebsockets.h>

#define UA_TOKEN_MAX 1024

/* Where to connect, cut out of a copy of a ws:// or wss:// URL. */
struct ua_target {
	char url_copy[512];
	char path[512];
	const char *host;
	int port;
	int tls;
};

/* 0, or -1 for a URL that is not ws://HOST[:PORT][/PATH] or wss://... */
int ua_target_parse(struct ua_target *t, const char *url);

/* Fill a client connect info for t with the app API's subprotocol. */
void ua_target_connect_info(const struct ua_target *t, struct lws_context *ctx, struct lws **pwsi,
                            struct lws_client_connect_info *i);

/* In LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER (in, len as given): add
 * "Authorization: Bearer TOKEN". 0, or -1 when it does not fit. */
int ua_add_bearer(struct lws *wsi, const char *token, void *in, size_t len);

/* Is t a token the broker may accept (RFC 6750 b64token)? */
int ua_token_ok(const char *t);

#endif

/*
 * Helpers shared by the app API's clients (ua_client.h).
 */
#include "ua_client.h"
#include "tb_uaproto.h"

#include <stdio.h>
#include <string.h>

int ua_target_parse(struct ua_target *t, const char *url)
{
	const char *prot, *ads, *path;

	if (strlen(url) >= sizeof(t->url_copy))
		return -1;
	strcpy(t->url_copy, url);
	if (lws_parse_uri(t->url_copy, &prot, &ads, &t->port, &path))
		return -1;
	if (strcmp(prot, "ws") == 0)
		t->tls = 0;
	else if (strcmp(prot, "wss") == 0)
		t->tls = 1;
	else
		return -1;
	if (!*ads)
		return -1;
	/* lws_parse_uri drops the path's leading '/' */
	snprintf(t->path, sizeof(t->path), "/%s", path);
	t->host = ads;
	return 0;
}

void ua_target_connect_info(const struct ua_target *t, struct lws_context *ctx, struct lws **pwsi,
                            struct lws_client_connect_info *i)
{
	memset(i, 0, sizeof(*i));
	i->context = ctx;
	i->address = t->host;
	i->port = t->port;
	i->path = t->path;
	i->host = t->host;
	i->origin = NULL; /* a native app sends no Origin; callers may set one */
	i->ssl_connection = t->tls ? LCCSCF_USE_SSL : 0;
	i->protocol = TB_UA_SUBPROTOCOL;
	i->local_protocol_name = TB_UA_SUBPROTOCOL;
	i->pwsi = pwsi;
}

int ua_add_bearer(struct lws *wsi, const char *token, void *in, size_t len)
{
	unsigned char **p = in, *end = *p + len;
	char value[UA_TOKEN_MAX + 16];
	int n = snprintf(value, sizeof(value), "Bearer %s", token);

	if (n < 0 || (size_t)n >= sizeof(value))
		return -1;
	return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
	                                    (const unsigned char *)value, n, p, end)
	           ? -1
	           : 0;
}

/* A token goes into an HTTP header: printable ASCII without spaces. */
int ua_token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n < 1 || n > UA_TOKEN_MAX)
		return 0;
	for (; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return 0;
	return 1;
}

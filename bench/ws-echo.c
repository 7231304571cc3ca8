/*
 * ws-echo: the floor the broker is measured against. A websocket server on
 * libwebsockets with the broker's subprotocol and per-connection receive
 * buffer, on one poll loop, that sends every binary message back as it
 * came: what the broker costs for a request it answers on its loop, with
 * nothing of the broker in it (bench/suite.sh).
 *
 *   ws-echo [--port N] [--port-file FILE] [--max-message BYTES]
 *
 * Listens on 127.0.0.1 (port 0: any free one, written to --port-file once
 * listening). Messages over --max-message (default 65536) close the
 * connection. SIGTERM or SIGINT stops it.
 */
#include "config.h"

#include "tb_uaproto.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct echo_conn {
	uint8_t *buf; /* LWS_PRE, then the message */
	size_t len, cap;
	int ready; /* a whole message waits to be sent back */
};

static size_t max_message = 65536;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct echo_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_RECEIVE:
		if (c->ready || len > max_message - c->len)
			return -1; /* one message at a time, bounded */
		if (LWS_PRE + c->len + len > c->cap) {
			size_t cap = LWS_PRE + c->len + len;
			uint8_t *p = realloc(c->buf, cap);
			if (!p)
				return -1;
			c->buf = p;
			c->cap = cap;
		}
		memcpy(c->buf + LWS_PRE + c->len, in, len);
		c->len += len;
		if (lws_is_final_fragment(wsi)) {
			c->ready = 1;
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!c->ready)
			break;
		if (lws_write(wsi, c->buf + LWS_PRE, c->len, LWS_WRITE_BINARY) < (int)c->len)
			return -1;
		c->len = 0;
		c->ready = 0;
		break;
	case LWS_CALLBACK_CLOSED:
		free(c->buf);
		c->buf = NULL;
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
    {.name = TB_UA_SUBPROTOCOL,
     .callback = cb,
     .per_session_data_size = sizeof(struct echo_conn),
     .rx_buffer_size = 512},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	int port = 0;
	const char *port_file = NULL;

	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--port"))
			port = atoi(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--port-file"))
			port_file = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--max-message"))
			max_message = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: ws-echo [--port N] [--port-file FILE] "
			                "[--max-message BYTES]\n");
			return 2;
		}
	}
	if (port < 0 || port > 65535 || max_message < 1 || max_message > (64u << 20)) {
		fprintf(stderr, "ws-echo: bad option value\n");
		return 2;
	}

	/* as many connections as the broker's bench takes (bench/suite.sh
	 * idle: 20000), more when the process may raise its hard limit */
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_max < 32768) {
		struct rlimit up = {.rlim_cur = 32768, .rlim_max = 32768};
		if (setrlimit(RLIMIT_NOFILE, &up))
			getrlimit(RLIMIT_NOFILE, &rl);
		else
			rl = up;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	lws_set_log_level(LLL_ERR, NULL);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.iface = "127.0.0.1";
	info.port = port;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.fd_limit_per_thread = (unsigned)(rl.rlim_cur > 100000 ? 100000 : rl.rlim_cur);
	struct lws_context *ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "ws-echo: cannot listen\n");
		return 1;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
	int bound = vh ? lws_get_vhost_listen_port(vh) : port;
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		if (!f || fprintf(f, "%d\n", bound) < 0 || fclose(f)) {
			fprintf(stderr, "ws-echo: cannot write %s\n", port_file);
			return 1;
		}
	}
	while (!stop && lws_service(ctx, 0) >= 0)
		;
	lws_context_destroy(ctx);
	return 0;
}

/*
 * teep-agentd: the software TEEP Agent as a process, serving the Agent
 * protocol (docs/agent-protocol.md) to the broker's "agent" driver. See
 * agentd.h for the structure.
 *
 *   teep-agentd [-c FILE] [-l ADDR] [-o KEY=VALUE]... [--log-level LEVEL]
 *   teep-agentd --check-config [-c FILE] ...
 *   teep-agentd --ping ADDR [--timeout SECONDS]
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "agentd.h"
#include "tb_log.h"
#include "tb_tsm.h"
#include "tb_util.h"

/* The Agent hosted: the sim driver's descriptor, linked in. */
extern const struct tb_driver tb_driver_entry;

static void host_log(const struct tb_host *host, int level, const char *fmt, ...)
{
	va_list ap;

	(void)host;
	va_start(ap, fmt);
	tb_vlog(level, fmt, ap);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: teep-agentd [-c FILE] [-l ADDR] [-o KEY=VALUE]... [--log-level LEVEL]\n"
	       "       teep-agentd --check-config [-c FILE] [...]\n"
	       "       teep-agentd --ping ADDR [--timeout SECONDS]\n"
	       "  -c, --config FILE        configuration ([agentd] and [agent] sections)\n"
	       "  -l, --listen ADDR        unix:PATH or vsock:CID:PORT (CID any to listen on all)\n"
	       "  -o, --agent-option K=V   an option of the software Agent (as in [agent])\n"
	       "      --log-level LEVEL    err, warn, notice, info or debug\n"
	       "      --check-config       read the configuration and start the Agent, then exit\n"
	       "      --ping ADDR          say hello to a teep-agentd and print its welcome\n"
	       "      --timeout SECONDS    for --ping (default 5)\n");
}

static int run(struct ad_conf *c, int check_only)
{
	const struct tb_driver *drv = &tb_driver_entry;
	struct tb_host host = {.struct_size = sizeof(host),
	                       .log = host_log,
	                       .alloc = malloc,
	                       .free = free,
	                       .now_ms = tb_now_ms};
	struct tb_as_addr addr;
	struct ad_exec *x = NULL;
	void *inst = NULL;
	int notify[2] = {-1, -1};
	int lfd = -1, status = 1;
	char err[256];

	if (tb_as_parse(c->listen, &addr, err, sizeof(err)) != TB_OK) {
		tb_log(TB_LOG_ERR, "listen: %s", err);
		return 2;
	}
	if (drv->init(&host, c->agent_opts, c->n_agent_opts, &inst) != TB_OK) {
		tb_log(TB_LOG_ERR, "the Agent did not start (see above)");
		return 2;
	}
	if (check_only) {
		drv->fini(inst);
		printf("configuration ok\n");
		return 0;
	}
	if (pipe2(notify, O_CLOEXEC | O_NONBLOCK) != 0) {
		tb_log(TB_LOG_ERR, "pipe: %s", strerror(errno));
		goto out;
	}
	if (tb_as_listen(&addr, c->socket_mode, 16, &lfd, err, sizeof(err)) != TB_OK) {
		tb_log(TB_LOG_ERR, "%s", err);
		goto out;
	}
	if (ad_exec_start(drv, inst, &host, c->max_sessions, notify[1], &x) != TB_OK) {
		tb_log(TB_LOG_ERR, "cannot start the executor thread");
		goto out;
	}
	tb_log(TB_LOG_NOTICE, "listening on %s (protocol version %d, max_frame %zu)", c->listen,
	       TB_AP_VERSION, c->max_frame);
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif
	status = ad_serve(c, drv, x, notify[0], lfd);
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	ad_exec_stop(x);
out:
	if (lfd >= 0) {
		close(lfd);
		if (addr.family == TB_AS_UNIX)
			unlink(addr.path);
	}
	if (notify[0] >= 0) {
		close(notify[0]);
		close(notify[1]);
	}
	drv->fini(inst);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"listen", required_argument, NULL, 'l'},
	    {"agent-option", required_argument, NULL, 'o'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"ping", required_argument, NULL, 'P'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct tb_log_conf lc = {.level = TB_LOG_NOTICE};
	struct ad_conf c;
	const char *conf_path = NULL, *listen = NULL, *ping = NULL;
	uint64_t timeout_ms = 5000;
	int opt, check_only = 0, level = -1, status;
	/* -o options apply after the file, so collect them first */
	const char *opts[AD_MAX_AGENT_OPTS];
	size_t n_opts = 0;

	tb_log_setup("teep-agentd", &lc);
	while ((opt = getopt_long(argc, argv, "c:l:o:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf_path = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'o':
			if (n_opts == AD_MAX_AGENT_OPTS) {
				fprintf(stderr, "teep-agentd: too many -o options\n");
				return 2;
			}
			opts[n_opts++] = optarg;
			break;
		case 'L':
			level = tb_log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "teep-agentd: bad log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'C':
			check_only = 1;
			break;
		case 'P':
			ping = optarg;
			break;
		case 'T':
			if (tb_parse_duration_ms(optarg, &timeout_ms) != TB_OK || !timeout_ms) {
				fprintf(stderr, "teep-agentd: bad timeout '%s'\n", optarg);
				return 2;
			}
			if (!strpbrk(optarg, "smh"))
				timeout_ms *= 1000; /* a bare number is seconds here */
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("teep-agentd %s (Agent protocol version %d)\n", PACKAGE_VERSION,
			       TB_AP_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (ping)
		return ad_ping(ping, timeout_ms);

	ad_conf_defaults(&c);
	status = ad_conf_set_listen(&c, AD_DEFAULT_SOCKET);
	/* inside a confidential VM guest the Evidence carries a hardware
	 * report; the configuration or -o tsm_report=... replaces this */
	if (status == TB_OK)
		status = ad_conf_agent_opt(&c, "tsm_report=" TB_TSM_DEFAULT_PATH);
	if (status == TB_OK && conf_path)
		status = ad_conf_load(&c, conf_path);
	if (status == TB_OK && listen)
		status = ad_conf_set_listen(&c, listen);
	for (size_t i = 0; i < n_opts && status == TB_OK; i++)
		status = ad_conf_agent_opt(&c, opts[i]);
	if (status != TB_OK) {
		ad_conf_free(&c);
		return 2;
	}
	lc.level = level >= 0 ? level : c.log_level;
	tb_log_setup(NULL, &lc);
	status = run(&c, check_only);
	ad_conf_free(&c);
	return status;
}

/*
 * teep-brokerd: the TEEP Broker daemon.
 *
 * One libwebsockets context owns every socket and timer: the app listener,
 * the HTTP client connections to TAMs, the signal descriptor. Driver calls run
 * on one worker thread per TEE and come back through lws_cancel_service().
 */
#include "config.h"
#include "broker.h"
#include "checkconf.h"
#include "notify.h"
#include "privdrop.h"
#include "reload.h"
#include "tb_log.h"
#include "tb_util.h"
#include "resolver.h"
#include "tls.h"
#include "tls_listener.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_CONF SYSCONFDIR "/teep-broker/teep-broker.conf"

/* exit codes */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_CONFIG = 3,
	EXIT_DRIVER = 4,
	EXIT_LISTEN = 5
};

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: teep-brokerd [-c FILE] [-f] [--check-config] [--version] [-h]\n"
	        "TEEP Broker: relays TEEP between Trusted Application Managers (HTTP) and\n"
	        "TEE drivers, on behalf of apps connecting over websockets.\n\n"
	        "  -c, --config FILE   configuration file (default %s)\n"
	        "  -f, --foreground    log to stderr even if the config says syslog\n"
	        "      --check-config  check the configuration as the start would (drivers,\n"
	        "                      plugins, keys, certificates, directories), then exit\n"
	        "  -v, --verbose       log at info level; -vv debug; -vvv also libwebsockets'\n"
	        "                      own info and debug lines\n"
	        "      --version       print the version and exit\n"
	        "  -h, --help          this text\n\n"
	        "Exit status: 0 stopped cleanly (or the configuration is good), 1 runtime\n"
	        "failure, 2 usage, 3 configuration error (a key, file, directory or user),\n"
	        "4 a driver or plugin could not be loaded or initialised, 5 cannot listen.\n",
	        DEFAULT_CONF);
}

void tb_broker_maybe_exit(struct tb_broker *b)
{
	if (!b->stopping || b->exit_loop || !b->ctx)
		return;
	if (b->n_sessions == 0 && b->n_apptams == 0 && tb_ua_pending_tx(b) == 0) {
		b->exit_loop = 1;
		lws_cancel_service(b->ctx);
	}
}

/* shutdown_grace is over: what still runs is answered "shutdown"; then
 * TB_STOP_FLUSH_MS for the answers to be written, and the loop ends. */
static void stop_timeout(lws_sorted_usec_list_t *sul)
{
	struct tb_broker *b = lws_container_of(sul, struct tb_broker, stop_timer);

	if (b->stopping == 2) {
		/* timers run before the loop waits: wake it, or it waits on */
		b->exit_loop = 1;
		lws_cancel_service(b->ctx);
		return;
	}
	if (b->n_sessions) {
		tb_log(TB_LOG_WARN, "grace period over: failing %u exchange(s) still running",
		       b->n_sessions);
		tb_session_abort_all(b, TB_UA_E_SHUTDOWN, "the broker is stopping");
	}
	tb_apptam_abort_all(b);
	if (!b->exit_loop && tb_ua_pending_tx(b) == 0 && b->n_sessions == 0 && b->n_apptams == 0) {
		b->exit_loop = 1;
		lws_cancel_service(b->ctx);
		return;
	}
	b->stopping = 2;
	lws_sul_schedule(b->ctx, 0, &b->stop_timer, stop_timeout,
	                 (lws_usec_t)TB_STOP_FLUSH_MS * LWS_US_PER_MS);
}

static void begin_stop(struct tb_broker *b, const char *why)
{
	if (b->stopping)
		return;
	tb_log(TB_LOG_NOTICE, "%s: stopping (%u exchange(s) in flight, grace %llu ms)", why,
	       b->n_sessions, (unsigned long long)b->conf.shutdown_grace_ms);
	/* one deadline for every step of the shutdown */
	b->stop_deadline_ms = tb_now_ms() + b->conf.shutdown_grace_ms;
	b->stopping = 1;
	tb_ua_stopping(b);
	tb_apptam_stopping(b);
	tb_session_stopping(b);
	/* the service manager waits as long as the shutdown may take (its
	 * TimeoutStopSec may be shorter), with room for the drivers' fini() */
	tb_notify_stopping(b->notify,
	                   (b->conf.shutdown_grace_ms + TB_STOP_MARGIN_MS + 5000) * 1000ull);
	lws_sul_schedule(b->ctx, 0, &b->stop_timer, stop_timeout,
	                 (lws_usec_t)b->conf.shutdown_grace_ms * LWS_US_PER_MS);
	tb_broker_maybe_exit(b);
}

static void log_counters(const struct tb_broker *b)
{
	const struct tb_counters *k = &b->counters;
	tb_log(TB_LOG_NOTICE,
	       "counters: conns %llu accepted, refused %llu stopping %llu global %llu per-ip "
	       "%llu banned %llu origin; frames %llu in %llu rejected %llu slow; requests %llu; "
	       "answers %llu "
	       "done "
	       "%llu error %llu busy; progress dropped %llu; unread stops %llu; tam posts %llu "
	       "failures %llu; tam connections %llu reused %llu, tls handshakes %llu resumed %llu; "
	       "tee calls %llu (answered on the loop %llu) timeouts %llu; coalesced %llu, busy "
	       "sessions %llu waiters %llu; "
	       "tam not allowed %llu, refused from the agent %llu; "
	       "queued %llu, busy queue %llu, queue timeouts %llu; "
	       "rate limited %llu delayed %llu dry-run %llu; bans %llu; "
	       "app-tam sessions %llu refused %llu, dropped-forged %llu; tam pre-check "
	       "failures %llu; reloads %llu ok %llu refused; answers dropped %llu (app gone)",
	       (unsigned long long)k->conns_accepted, (unsigned long long)k->refused_stopping,
	       (unsigned long long)k->refused_global, (unsigned long long)k->refused_per_ip,
	       (unsigned long long)k->refused_banned, (unsigned long long)k->refused_origin,
	       (unsigned long long)k->frames_in, (unsigned long long)k->frames_rejected,
	       (unsigned long long)k->frames_slow, (unsigned long long)k->requests,
	       (unsigned long long)k->answers_done, (unsigned long long)k->answers_error,
	       (unsigned long long)k->answers_busy, (unsigned long long)k->progress_dropped,
	       (unsigned long long)k->tx_throttled, (unsigned long long)k->tam_posts,
	       (unsigned long long)k->tam_failures, (unsigned long long)k->tam_connections,
	       (unsigned long long)k->tam_reused, (unsigned long long)k->tam_tls_handshakes,
	       (unsigned long long)k->tam_tls_resumed, (unsigned long long)k->tee_calls,
	       (unsigned long long)k->tee_now, (unsigned long long)k->tee_timeouts,
	       (unsigned long long)k->coalesced, (unsigned long long)k->busy_sessions,
	       (unsigned long long)k->busy_waiters, (unsigned long long)k->tam_not_allowed,
	       (unsigned long long)k->tam_uri_refused, (unsigned long long)k->queued,
	       (unsigned long long)k->busy_queue, (unsigned long long)k->queue_timeouts,
	       (unsigned long long)k->rate_limited, (unsigned long long)k->rate_delayed,
	       (unsigned long long)k->rate_dryrun, (unsigned long long)k->bans,
	       (unsigned long long)k->app_tam_sessions, (unsigned long long)k->app_tam_refused,
	       (unsigned long long)k->dropped_forged, (unsigned long long)k->tam_precheck_failed,
	       (unsigned long long)k->reloads_ok, (unsigned long long)k->reloads_refused,
	       (unsigned long long)k->answers_dropped_gone);
	if (b->n_plugins)
		tb_log(TB_LOG_NOTICE,
		       "plugins: handshakes refused %llu unauthorized %llu forbidden %llu bad "
		       "request; opened %llu authenticated %llu anonymous; requests forbidden %llu",
		       (unsigned long long)k->refused_unauthorized,
		       (unsigned long long)k->refused_plugin,
		       (unsigned long long)k->refused_bad_request,
		       (unsigned long long)k->authenticated, (unsigned long long)k->anonymous,
		       (unsigned long long)k->forbidden);
	if (b->resolver) {
		struct tb_resolver_stats rs;
		tb_resolver_get_stats(b->resolver, &rs);
		tb_log(TB_LOG_NOTICE,
		       "resolver: lookups %llu failed %llu; requests answered from the cache %llu, "
		       "joined a lookup %llu, timed out %llu, refused (full) %llu",
		       (unsigned long long)rs.lookups, (unsigned long long)rs.failures,
		       (unsigned long long)rs.hits, (unsigned long long)rs.joined,
		       (unsigned long long)rs.timeouts, (unsigned long long)rs.refused);
	}
	tb_def_log_counters(b);
	tb_log(TB_LOG_NOTICE, "counters: log lines dropped %llu",
	       (unsigned long long)tb_log_dropped());
}

static void on_signal(struct tb_broker *b)
{
	struct signalfd_siginfo si;
	while (read(b->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
			begin_stop(b, "SIGTERM");
			break;
		case SIGINT:
			begin_stop(b, "SIGINT");
			break;
		case SIGHUP:
			tb_reload_request(b);
			break;
		case SIGUSR1:
			log_counters(b);
			break;
		}
	}
}

static int system_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct tb_broker *b = ctx ? lws_context_user(ctx) : NULL;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (b) {
			tb_tee_reap_all(b);
			if (b->resolver)
				tb_resolver_reap(b->resolver);
			tb_reload_poll(b);
		}
		break;
	case LWS_CALLBACK_RAW_RX_FILE:
		if (b)
			on_signal(b);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols system_protocol = {
    .name = "tb-system",
    .callback = system_cb,
};

static const struct lws_protocols *ua_protocols[] = {&tb_ua_protocol, &system_protocol, NULL};
static const struct lws_protocols *tam_protocols[] = {&tb_tamclient_protocol, NULL};

static int setup_signals(struct tb_broker *b)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	signal(SIGPIPE, SIG_IGN);
	b->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return b->sig_fd < 0 ? -1 : 0;
}

static int write_port_file(const char *path, int port)
{
	char text[16];
	int n = snprintf(text, sizeof(text), "%d\n", port);
	return tb_write_file(path, (const uint8_t *)text, (size_t)n);
}

static int create_context(struct tb_broker *b)
{
	struct lws_context_creation_info info;
	const struct tb_conf_listener *l = &b->conf.listener;

	/* One fd per app connection, per TAM connection, plus a margin. */
	unsigned want = l->max_connections + b->conf.max_sessions + 64;
	uint64_t got = tb_raise_nofile(want);
	if (got < want)
		tb_log(TB_LOG_WARN,
		       "open files limited to %llu, below the %u that max_connections = %u needs: "
		       "raise the limit (LimitNOFILE) or lower max_connections",
		       (unsigned long long)got, want, l->max_connections);

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = b;
	info.timeout_secs = (unsigned)((l->handshake_timeout_ms + 999) / 1000);
	info.connect_timeout_secs = 0;
	info.fd_limit_per_thread = want;
	/* the loop's one read buffer: raw reads of TAM answers take up to this
	 * much per recv() (lws' default, 4 KiB, made a 16 MiB answer 4096
	 * reads); one buffer for the whole loop, not one per connection */
	info.pt_serv_buf_size = 64 * 1024;
	b->ctx = lws_create_context(&info);
	if (!b->ctx)
		return -1;

	/* the app listener */
	memset(&info, 0, sizeof(info));
	info.vhost_name = "ua";
	info.iface = strcmp(l->address, "*") ? l->address : NULL;
	info.port = l->port;
	info.pprotocols = ua_protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	if (info.iface && strchr(info.iface, ':'))
		info.options = 0;
	info.timeout_secs = (unsigned)((l->handshake_timeout_ms + 999) / 1000);
	if (l->tls_cert)
		/* wss://: lws makes the SSL_CTX, tls_listener.c fills it */
		info.options |=
		    LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX;
	b->ua_vhost = lws_create_vhost(b->ctx, &info);
	if (!b->ua_vhost)
		return -2;
	if (l->tls_cert) {
		char why[512];
		enum tb_ltls_key which;
		if (tb_listener_tls_setup(b, why, sizeof(why), &which)) {
			int line = which == TB_LTLS_CERT  ? b->conf.lines.tls_cert
			           : which == TB_LTLS_KEY ? b->conf.lines.tls_key
			           : which == TB_LTLS_CA  ? b->conf.lines.tls_ca
			                                  : 0;
			tb_log(TB_LOG_ERR, "%s:%d: [listener] %s", b->conf_path, line, why);
			return -7;
		}
	}
	b->listen_port = lws_get_vhost_listen_port(b->ua_vhost);
	/* the monitoring listener, when [admin] enabled (admin.c) */
	if (tb_admin_setup(b))
		return -6;

	lws_sock_file_fd_type fd = {.filefd = b->sig_fd};
	if (!lws_adopt_descriptor_vhost(b->ua_vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
	                                system_protocol.name, NULL))
		return -4;
	return 0;
}

/* Once the drivers are loaded: one client vhost per TEE, carrying its TAM's
 * TLS trust. */
static int create_tam_vhosts(struct tb_broker *b)
{
	struct lws_context_creation_info info;

	for (size_t i = 0; i < b->n_tees; i++) {
		struct tb_tee *t = &b->tees[i];
		snprintf(t->vhost_name, sizeof(t->vhost_name), "tam-%s", t->conf->name);
		memset(&info, 0, sizeof(info));
		info.vhost_name = t->vhost_name;
		info.port = CONTEXT_PORT_NO_LISTEN;
		info.pprotocols = tam_protocols;
		info.connect_timeout_secs = (unsigned)((t->tam->connect_timeout_ms + 999) / 1000);
		t->tam_vhost = lws_create_vhost(b->ctx, &info);
		if (!t->tam_vhost)
			return -3;
		/* https is ours (broker/tls.c): ca_file replaces the system's
		 * CA store rather than adding to it */
		char why[256];
		t->tls = tb_tls_ctx_new(t->tam->ca_file, t->tam->tls_insecure,
		                        t->tam->tls_pin_sha256, why, sizeof(why));
		if (!t->tls) {
			tb_log(TB_LOG_ERR, "tam %s: %s", t->tam->name, why);
			return -5;
		}
		if (t->tam->tls_insecure)
			tb_log(TB_LOG_WARN,
			       "tam %s: TLS certificate checks are OFF (tls_insecure): "
			       "anyone on the path can impersonate the TAM",
			       t->tam->name);
		tb_worker_set_wake(&t->worker, b->ctx);
	}
	tb_resolver_set_loop(b->resolver, b->ctx);
	return 0;
}

/* libwebsockets says only "(-1 98)" when it cannot bind: the same bind,
 * tried again, tells why (an interface name is not tried). */
static const char *listen_failure(const char *address, int port)
{
	struct addrinfo hints, *ai;
	const char *why = "see the libwebsockets lines above";
	char service[16];
	int on = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (!strcmp(address, "*"))
		hints.ai_family = AF_INET; /* the listener is IPv4 then */
	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(strcmp(address, "*") ? address : NULL, service, &hints, &ai))
		return why;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen))
			why = strerror(errno);
		close(fd);
	}
	freeaddrinfo(ai);
	return why;
}

static int load_config(struct tb_broker *b, const char *path)
{
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	size_t n = 0;
	int rc = tb_conf_load(path, &b->conf, errs, &n);
	if (rc) {
		for (size_t i = 0; i < n; i++) {
			if (errs[i].line > 0)
				fprintf(stderr, "teep-brokerd: %s:%d: %s\n", path, errs[i].line,
				        errs[i].msg);
			else
				fprintf(stderr, "teep-brokerd: %s: %s\n", path, errs[i].msg);
		}
		if (!n)
			fprintf(stderr, "teep-brokerd: %s: cannot read the configuration\n", path);
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *conf_path = DEFAULT_CONF;
	int foreground = 0, check_only = 0, verbose = 0, opt;

	while ((opt = getopt_long(argc, argv, "c:fvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'C':
			check_only = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("teep-brokerd %s (driver ABI %d.%d, plugin ABI %d.%d, libwebsockets "
			       "%s)\n",
			       PACKAGE_VERSION, TB_DRIVER_ABI_MAJOR, TB_DRIVER_ABI_MINOR,
			       TB_PLUGIN_ABI_MAJOR, TB_PLUGIN_ABI_MINOR, lws_get_library_version());
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}

	struct tb_broker *b = calloc(1, sizeof(*b));
	if (!b)
		return EXIT_FAIL;
	b->sig_fd = -1;
	b->conf_path = conf_path;
	if (load_config(b, conf_path)) {
		tb_conf_free(&b->conf);
		free(b);
		return EXIT_CONFIG;
	}
	if (check_only) {
		/* what the drivers and plugins say goes to standard error */
		struct tb_log_conf clc = {.level = verbose ? TB_LOG_INFO : TB_LOG_WARN};
		tb_log_setup("teep-brokerd", &clc);
		enum tb_check_result cr = tb_check_config(b);
		if (cr == TB_CHECK_OK)
			printf("%s: configuration OK (%zu TEE(s), %zu TAM(s), %zu plugin(s))\n",
			       conf_path, b->conf.n_drivers, b->conf.n_tams, b->conf.n_plugins);
		tb_conf_free(&b->conf);
		free(b);
		tb_log_shutdown(1000);
		return cr == TB_CHECK_OK       ? EXIT_OK
		       : cr == TB_CHECK_DRIVER ? EXIT_DRIVER
		                               : EXIT_CONFIG;
	}

	/* -v info, -vv debug; libwebsockets' errors and warnings, its notices
	 * with -v, and its own info and debug (a flood) only with -vvv */
	int level = b->conf.log_level;
	int want = verbose >= 2 ? TB_LOG_DEBUG : verbose ? TB_LOG_INFO : level;
	if (want > level)
		level = want;
	struct tb_log_conf lc = {
	    .level = level, .to_syslog = b->conf.log_syslog && !foreground, .timestamps = 0};
	tb_log_setup("teep-brokerd", &lc);
	tb_log_bridge_lws(verbose >= 3 ? level : verbose ? TB_LOG_NOTICE : TB_LOG_WARN);

	int rc = EXIT_OK, pid_written = 0;
	struct tb_priv priv;
	char why[768];
	if (tb_priv_resolve(&b->conf, &priv, why, sizeof(why)) ||
	    (priv.mismatch &&
	     snprintf(why, sizeof(why), "[broker] user = %s, but not started as root nor as %s",
	              priv.user, priv.user))) {
		tb_log(TB_LOG_ERR, "%s:%d: %s", conf_path,
		       b->conf.lines.group && strstr(why, "group") ? b->conf.lines.group
		                                                   : b->conf.lines.user,
		       why);
		rc = EXIT_CONFIG;
		goto out;
	}
	b->notify = tb_notify_new();
	if (setup_signals(b)) {
		tb_log(TB_LOG_ERR, "cannot set up signal handling: %s", strerror(errno));
		rc = EXIT_FAIL;
		goto out;
	}

	/* the listener first: it may need root (a port below 1024), nothing
	 * after it does */
	int cr = create_context(b);
	if (cr) {
		if (cr == -2)
			tb_log(TB_LOG_ERR, "cannot listen on %s port %d: %s",
			       b->conf.listener.address, b->conf.listener.port,
			       listen_failure(b->conf.listener.address, b->conf.listener.port));
		else if (cr != -6 && cr != -7) /* admin.c, tls_listener.c said why */
			tb_log(TB_LOG_ERR, "cannot create the network context (%d)", cr);
		rc = cr == -2 || cr == -6 ? EXIT_LISTEN : cr == -7 ? EXIT_CONFIG : EXIT_FAIL;
		goto out;
	}
	if (priv.drop) {
		if (tb_priv_prepare_dir(&priv, b->conf.state_dir, why, sizeof(why)) ||
		    tb_priv_drop(&priv, why, sizeof(why))) {
			tb_log(TB_LOG_ERR, "cannot run as user %s: %s", priv.user, why);
			rc = EXIT_FAIL;
			goto out;
		}
		tb_log(TB_LOG_NOTICE, "running as user %s (uid %lu, gid %lu)", priv.user,
		       (unsigned long)priv.uid, (unsigned long)priv.gid);
	}

	b->resolver = tb_resolver_new(&b->conf.resolver, NULL);
	if (!b->resolver) {
		tb_log(TB_LOG_ERR, "cannot start the resolver threads");
		rc = EXIT_FAIL;
		goto out;
	}
	for (size_t i = 0; i < b->conf.n_drivers; i++) {
		char err[768];
		if (tb_tee_setup(b, &b->tees[i], &b->conf.drivers[i], err, sizeof(err))) {
			tb_log(TB_LOG_ERR, "%s", err);
			rc = EXIT_DRIVER;
			goto out;
		}
		b->n_tees++;
	}

	if (tb_plugins_setup(b, why, sizeof(why))) {
		tb_log(TB_LOG_ERR, "%s", why);
		rc = EXIT_DRIVER;
		goto out;
	}
	if (tb_def_setup(b, why, sizeof(why))) {
		tb_log(TB_LOG_ERR, "%s", why);
		rc = EXIT_FAIL;
		goto out;
	}
	if (tb_reload_setup(b)) {
		tb_log(TB_LOG_ERR, "out of memory");
		rc = EXIT_FAIL;
		goto out;
	}
	if (tb_apptam_setup(b, why, sizeof(why))) {
		tb_log(TB_LOG_ERR, "%s", why);
		rc = EXIT_CONFIG;
		goto out;
	}

	cr = create_tam_vhosts(b);
	if (cr) {
		if (cr != -5)
			tb_log(TB_LOG_ERR, "cannot create the network context (%d)", cr);
		rc = cr == -5 ? EXIT_CONFIG : EXIT_FAIL;
		goto out;
	}
	if (b->conf.listener.port_file &&
	    write_port_file(b->conf.listener.port_file, b->listen_port)) {
		tb_log(TB_LOG_ERR, "cannot write port_file %s: %s", b->conf.listener.port_file,
		       strerror(errno));
		rc = EXIT_FAIL;
		goto out;
	}
	if (b->conf.pid_file) {
		char pid[24];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (tb_write_file(b->conf.pid_file, (const uint8_t *)pid, (size_t)n)) {
			tb_log(TB_LOG_ERR, "cannot write pid_file %s: %s", b->conf.pid_file,
			       strerror(errno));
			rc = EXIT_FAIL;
			goto out;
		}
		pid_written = 1;
	}
	tb_tee_start_policy_timers(b);
	tb_log(TB_LOG_NOTICE, "teep-brokerd %s listening on %s port %d (%zu TEE(s))",
	       PACKAGE_VERSION, b->conf.listener.address, b->listen_port, b->n_tees);
	tb_notify_ready(b->notify, b);

	while (!b->exit_loop && lws_service(b->ctx, 0) >= 0)
		;

	tb_log(TB_LOG_NOTICE, "stopped");
	log_counters(b);

out:;
	/* the end of the shutdown: its deadline plus the margin (or, when the
	 * loop ends otherwise, the margin from now) */
	uint64_t deadline = (b->stopping ? b->stop_deadline_ms : tb_now_ms()) + TB_STOP_MARGIN_MS;
	/* a reload still reading wakes the loop when it is done: before the
	 * context goes, and before the plugins' fini() (it may hold their
	 * prepared states) */
	tb_reload_free(b);
	if (b->ctx) {
		if (!b->stopping)
			b->stopping = 1; /* nothing starts while the rest is aborted */
		tb_session_abort_all(b, TB_UA_E_SHUTDOWN, "the broker is stopping");
		tb_apptam_abort_all(b);
		/* no thread may wake the loop while it goes away */
		for (size_t i = 0; i < b->n_tees; i++) {
			tb_worker_set_wake(&b->tees[i].worker, NULL);
			/* its timers live in the context's list: off it first */
			lws_sul_cancel(&b->tees[i].policy_timer);
			tb_tee_timers_fini(&b->tees[i]);
		}
		if (b->resolver)
			tb_resolver_set_loop(b->resolver, NULL);
		tb_notify_free(b->notify); /* its timer is the loop's */
		b->notify = NULL;
		lws_context_destroy(b->ctx);
		b->ctx = NULL;
	}
	tb_listener_tls_free(b);
	tb_admin_free(b);
	/* finishes the sessions waiting on it; a lookup stuck in getaddrinfo
	 * gets at most a second of the deadline, the TEEs need the rest */
	uint64_t now = tb_now_ms();
	uint64_t left = deadline > now ? deadline - now : 0;
	if (tb_resolver_free(b->resolver, left < 1000 ? (unsigned)left : 1000))
		tb_log(TB_LOG_WARN, "a name resolution did not finish; not waiting for it");
	int stuck = 0;
	for (size_t i = b->n_tees; i-- > 0;) {
		stuck |= tb_tee_teardown(&b->tees[i], deadline);
		tb_tls_ctx_free(b->tees[i].tls);
	}
	if (stuck) {
		/* A thread stuck in a driver call may still write its call and read
		 * its TEE and the broker's keys when the call returns: nothing of
		 * the broker is freed under it; the process exits now. The pointer
		 * is kept where leak checkers see it. */
		static struct tb_broker *volatile kept_for_stuck_calls;
		kept_for_stuck_calls = b;
		(void)kept_for_stuck_calls;
		if (pid_written)
			unlink(b->conf.pid_file);
		tb_log_shutdown(1000);
		return rc;
	}
	/* sessions whose last call came back during teardown */
	tb_session_free_all(b);
	tb_apptam_free_all(b);
	tb_apptam_teardown(b);
	tb_plugins_teardown(b);
	tb_def_teardown(b);
	if (pid_written)
		unlink(b->conf.pid_file); /* only ours: not another instance's */
	tb_notify_free(b->notify);
	if (b->sig_fd >= 0)
		close(b->sig_fd);
	tb_conf_free(&b->conf);
	free(b);
	tb_log_shutdown(1000); /* bounded: the reader of stderr may be stuck */
	return rc;
}

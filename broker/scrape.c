/*
 * What /metrics shows (docs/operations.md): the broker's counters and
 * state, read on the loop thread into the Prometheus text exposition
 * (metrics.h), and the observations the hot paths record for it (latency
 * histograms, error answers by code).
 *
 * A scrape is bounded work: a fixed set of families, each with at most one
 * sample per configured TEE, TAM, [limit:NAME] zone or error code, and one
 * read of /proc/self/status.
 */
#include "config.h"
#include "broker.h"
#include "resolver.h"
#include "tb_log.h"
#include "tb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* seconds: from a fast TAM on loopback to the longest response_timeout */
static const double tam_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                    1,     2.5,  5,     10,   30,  60,   300};
/* seconds: from a software Agent's sub-millisecond calls to call_timeout */
static const double call_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                     0.05,   0.1,     0.25,   0.5,   1,      5,     10,   60};

uint64_t tb_obs_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The histogram, with its bounds set on first use. */
static struct tb_histogram *hist(struct tb_histogram *h, const double *bounds, size_t n)
{
	if (!h->bounds)
		tb_hist_init(h, bounds, n);
	return h;
}

static struct tb_histogram *tam_hist(struct tb_broker *b, size_t i)
{
	return hist(&b->obs.tam_seconds[i], tam_bounds, COUNT(tam_bounds));
}

static struct tb_histogram *call_hist(struct tb_broker *b, size_t i)
{
	return hist(&b->obs.call_seconds[i], call_bounds, COUNT(call_bounds));
}

void tb_metrics_observe_tam(struct tb_broker *b, const struct tb_conf_tam *tam, double seconds)
{
	size_t i = (size_t)(tam - b->conf.tams);

	if (i < b->conf.n_tams && i < TB_CONF_MAX_TAMS)
		tb_hist_observe(tam_hist(b, i), seconds);
}

void tb_metrics_observe_call(struct tb_tee *t, double seconds)
{
	if (t->index < TB_CONF_MAX_DRIVERS)
		tb_hist_observe(call_hist(t->b, t->index), seconds);
}

void tb_metrics_count_error(struct tb_broker *b, int code)
{
	b->obs.errors_by_code[code > 0 && code <= TB_OBS_MAX_CODE ? code : 0]++;
}

/* VmRSS of /proc/self/status in bytes; 0 when it cannot be read. */
static uint64_t resident_bytes(void)
{
	char text[4096];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = 0;
	const char *p = strstr(text, "\nVmRSS:");
	if (!p)
		return 0;
	unsigned long long kb = strtoull(p + 7, NULL, 10);
	return (uint64_t)kb * 1024u;
}

/* ---- families ----------------------------------------------------------- */

struct reason {
	const char *value;
	uint64_t n;
};

/* A counter family with one label, one sample per reason. */
static void by_label(struct tb_expo *e, const char *name, const char *help, const char *label,
                     const struct reason *r, size_t n)
{
	tb_expo_family(e, name, TB_METRIC_COUNTER, help);
	for (size_t i = 0; i < n; i++) {
		struct tb_label l = {label, r[i].value};
		tb_expo_u64(e, &l, 1, r[i].n);
	}
}

static void build_info(struct tb_expo *e, struct tb_broker *b)
{
	char drv[16], plg[16];
	snprintf(drv, sizeof(drv), "%d.%d", TB_DRIVER_ABI_MAJOR, TB_DRIVER_ABI_MINOR);
	snprintf(plg, sizeof(plg), "%d.%d", TB_PLUGIN_ABI_MAJOR, TB_PLUGIN_ABI_MINOR);
	struct tb_label l[4] = {{"version", PACKAGE_VERSION},
	                        {"libwebsockets", lws_get_library_version()},
	                        {"driver_abi", drv},
	                        {"plugin_abi", plg}};
	tb_expo_family(e, "teep_build_info", TB_METRIC_GAUGE,
	               "Always 1; the labels name the broker's version, its libwebsockets and "
	               "the driver and plugin ABIs it implements.");
	tb_expo_u64(e, l, 4, 1);
	tb_expo_family(e, "teep_uptime_seconds", TB_METRIC_GAUGE,
	               "Seconds since the broker started listening.");
	tb_expo_double(e, NULL, 0, (double)(tb_now_ms() - b->obs.started_ms) / 1000);
	uint64_t rss = resident_bytes();
	if (rss)
		tb_expo_one(e, "process_resident_memory_bytes", TB_METRIC_GAUGE,
		            "Resident memory of the broker process (VmRSS).", rss);
	tb_expo_one(e, "teep_stopping", TB_METRIC_GAUGE,
	            "1 while the broker stops (SIGTERM), else 0.", b->stopping ? 1 : 0);
}

static void connections(struct tb_expo *e, struct tb_broker *b)
{
	const struct tb_counters *k = &b->counters;
	const struct reason refused[] = {
	    {"stopping", k->refused_stopping},
	    {"max_connections", k->refused_global},
	    {"max_connections_per_ip", k->refused_per_ip},
	    {"banned", k->refused_banned},
	    {"origin", k->refused_origin},
	    {"plugin", k->refused_plugin},
	    {"unauthorized", k->refused_unauthorized},
	    {"bad_request", k->refused_bad_request},
	};
	const struct reason opened[] = {
	    {"authenticated", k->authenticated},
	    {"anonymous", k->anonymous},
	};

	tb_expo_one(e, "teep_connections_open", TB_METRIC_GAUGE, "App connections open now.",
	            b->n_conns);
	tb_expo_one(e, "teep_connections_accepted_total", TB_METRIC_COUNTER,
	            "App connections accepted.", k->conns_accepted);
	by_label(e, "teep_connections_refused_total", "App connections refused, by reason.",
	         "reason", refused, COUNT(refused));
	by_label(e, "teep_connections_identified_total",
	         "App connections opened with plugins configured, with an identity or without.",
	         "identity", opened, COUNT(opened));
	tb_expo_one(e, "teep_addresses_open", TB_METRIC_GAUGE,
	            "Addresses with app connections open now.",
	            b->def.per_ip_ready ? b->def.per_ip.count : 0);
}

static void frames_and_answers(struct tb_expo *e, struct tb_broker *b)
{
	const struct tb_counters *k = &b->counters;
	const struct reason answers[] = {
	    {"done", k->answers_done},
	    {"error", k->answers_error},
	    {"busy", k->answers_busy},
	    {"dropped", k->answers_dropped_gone},
	};
	const struct reason busy[] = {
	    {"max_sessions", k->busy_sessions},
	    {"max_waiters", k->busy_waiters},
	    {"queue_full", k->busy_queue},
	};
	const struct reason refused[] = {
	    {"tam_not_allowed", k->tam_not_allowed},
	    {"forbidden", k->forbidden},
	    {"app_tam_not_allowed", k->app_tam_refused},
	};

	tb_expo_one(e, "teep_frames_received_total", TB_METRIC_COUNTER,
	            "Websocket messages received from apps.", k->frames_in);
	tb_expo_one(e, "teep_frames_rejected_total", TB_METRIC_COUNTER,
	            "App messages refused: malformed, too large or text.", k->frames_rejected);
	tb_expo_one(e, "teep_frame_timeouts_total", TB_METRIC_COUNTER,
	            "App connections closed: a message took over frame_timeout.", k->frames_slow);
	tb_expo_one(e, "teep_requests_total", TB_METRIC_COUNTER, "App requests accepted.",
	            k->requests);
	by_label(e, "teep_answers_total",
	         "Final answers to app requests, by kind (dropped: the app had gone).", "kind",
	         answers, COUNT(answers));

	tb_expo_family(e, "teep_answer_errors_total", TB_METRIC_COUNTER,
	               "Error answers written to apps, by error code (docs/ua-api.md).");
	for (int code = 0; code <= TB_OBS_MAX_CODE; code++) {
		const char *name = code ? tb_ua_code_name(code) : "other";
		uint64_t n = b->obs.errors_by_code[code];
		char num[8];
		/* every known code, so that rates start at 0; others when seen */
		if (!n && (code == 0 || strcmp(name, "unknown") == 0))
			continue;
		snprintf(num, sizeof(num), "%d", code);
		struct tb_label l[2] = {{"code", num}, {"name", name}};
		tb_expo_u64(e, l, 2, n);
	}
	by_label(e, "teep_busy_total", "Requests answered busy, by the bound that was reached.",
	         "reason", busy, COUNT(busy));
	by_label(e, "teep_requests_refused_total", "Requests refused by policy, by reason.",
	         "reason", refused, COUNT(refused));
	const struct reason reloads[] = {
	    {"ok", k->reloads_ok},
	    {"refused", k->reloads_refused},
	};
	by_label(e, "teep_config_reloads_total",
	         "Configuration reloads (SIGHUP), by outcome: applied, or refused with the "
	         "configuration in use kept.",
	         "outcome", reloads, COUNT(reloads));
	tb_expo_one(e, "teep_progress_dropped_total", TB_METRIC_COUNTER,
	            "Progress events not queued for a slow app.", k->progress_dropped);
	tb_expo_one(e, "teep_reading_paused_total", TB_METRIC_COUNTER,
	            "Times an app's reading stopped: too many answers unread.", k->tx_throttled);
}

static void exchanges(struct tb_expo *e, struct tb_broker *b)
{
	const struct tb_counters *k = &b->counters;

	tb_expo_one(e, "teep_exchanges_in_progress", TB_METRIC_GAUGE,
	            "Exchanges (a TEE call and the TAM POSTs it leads to) in progress.",
	            b->n_sessions);
	tb_expo_one(e, "teep_exchanges_total", TB_METRIC_COUNTER, "Exchanges started.",
	            b->next_session_id);
	tb_expo_one(e, "teep_coalesced_total", TB_METRIC_COUNTER,
	            "Requests that joined an identical exchange in progress.", k->coalesced);
	tb_expo_one(e, "teep_queued_total", TB_METRIC_COUNTER,
	            "Requests that waited in a TEE's fair queue.", k->queued);
	tb_expo_one(e, "teep_queue_timeouts_total", TB_METRIC_COUNTER,
	            "Requests that waited call_timeout without reaching their TEE.",
	            k->queue_timeouts);
	tb_expo_one(e, "teep_app_tam_sessions_open", TB_METRIC_GAUGE,
	            "tam-sessions (apps acting as their own TAM) open now.", b->n_apptams);
	tb_expo_one(e, "teep_app_tam_sessions_total", TB_METRIC_COUNTER, "tam-sessions started.",
	            k->app_tam_sessions);

	tb_expo_one(e, "teep_tam_posts_total", TB_METRIC_COUNTER, "HTTP POSTs to TAMs.",
	            k->tam_posts);
	tb_expo_one(e, "teep_tam_connections_total", TB_METRIC_COUNTER,
	            "TCP connections opened to TAMs.", k->tam_connections);
	tb_expo_one(e, "teep_tam_connections_reused_total", TB_METRIC_COUNTER,
	            "HTTP POSTs to TAMs sent on a connection kept from the exchange's POST before.",
	            k->tam_reused);
	tb_expo_one(e, "teep_tam_tls_handshakes_total", TB_METRIC_COUNTER,
	            "TLS handshakes with TAMs completed.", k->tam_tls_handshakes);
	tb_expo_one(e, "teep_tam_tls_resumed_total", TB_METRIC_COUNTER,
	            "TLS handshakes with TAMs that resumed a kept session.", k->tam_tls_resumed);
	tb_expo_one(e, "teep_tam_failures_total", TB_METRIC_COUNTER,
	            "Exchanges that failed on the TAM's side: unreachable, HTTP error, bad answer, "
	            "timeout.",
	            k->tam_failures);
	tb_expo_one(e, "teep_tam_uri_refused_total", TB_METRIC_COUNTER,
	            "Exchanges stopped: the Agent named a TAM that is not allowed.",
	            k->tam_uri_refused);
	const struct reason forged[] = {
	    {"tam", k->tam_precheck_failed},
	    {"app", k->dropped_forged},
	};
	by_label(e, "teep_precheck_failed_total",
	         "TAM messages that failed the broker's pre-check, by where they came from.",
	         "source", forged, COUNT(forged));
	tb_expo_family(e, "teep_tam_sessions", TB_METRIC_GAUGE,
	               "Exchanges in progress with each [tam] (its max_sessions).");
	for (size_t i = 0; i < b->conf.n_tams; i++) {
		struct tb_label l = {"tam", b->conf.tams[i].name};
		tb_expo_u64(e, &l, 1, b->tam_sessions[i]);
	}
	tb_expo_family(e, "teep_tam_request_duration_seconds", TB_METRIC_HISTOGRAM,
	               "Time from the start of a POST to a TAM (name resolution and connection "
	               "included) to its outcome.");
	for (size_t i = 0; i < b->conf.n_tams && i < TB_CONF_MAX_TAMS; i++) {
		struct tb_label l = {"tam", b->conf.tams[i].name};
		tb_expo_hist(e, &l, 1, tam_hist(b, i));
	}
}

static void tees(struct tb_expo *e, struct tb_broker *b)
{
	const struct tb_counters *k = &b->counters;

	tb_expo_family(e, "teep_tee_up", TB_METRIC_GAUGE, "1 when the TEE's driver can serve.");
	for (size_t i = 0; i < b->n_tees; i++) {
		struct tb_label l = {"tee", b->tees[i].conf->name};
		tb_expo_u64(e, &l, 1, (uint64_t)tb_tee_is_up(&b->tees[i]));
	}
	tb_expo_family(e, "teep_tee_queue_length", TB_METRIC_GAUGE,
	               "Requests waiting in the TEE's fair queue.");
	for (size_t i = 0; i < b->n_tees; i++) {
		struct tb_label l = {"tee", b->tees[i].conf->name};
		tb_expo_u64(e, &l, 1, tb_fq_total(&b->tees[i].fq));
	}
	tb_expo_family(e, "teep_tee_calls_pending", TB_METRIC_GAUGE,
	               "Driver calls queued for or running on the TEE's worker.");
	for (size_t i = 0; i < b->n_tees; i++) {
		struct tb_label l = {"tee", b->tees[i].conf->name};
		tb_expo_u64(e, &l, 1, tb_worker_pending(&b->tees[i].worker));
	}
	tb_expo_one(e, "teep_tee_calls_total", TB_METRIC_COUNTER,
	            "Driver calls submitted, over all TEEs.", k->tee_calls);
	tb_expo_one(e, "teep_tee_calls_answered_now_total", TB_METRIC_COUNTER,
	            "Of those, requests the driver answered on the event loop (answer_now).",
	            k->tee_now);
	tb_expo_one(e, "teep_tee_timeouts_total", TB_METRIC_COUNTER,
	            "Driver calls that took over call_timeout (the request was answered).",
	            k->tee_timeouts);
	tb_expo_family(e, "teep_tee_call_duration_seconds", TB_METRIC_HISTOGRAM,
	               "Time the TEE's worker spent on one driver call, counted when it returns.");
	for (size_t i = 0; i < b->n_tees && i < TB_CONF_MAX_DRIVERS; i++) {
		struct tb_label l = {"tee", b->tees[i].conf->name};
		tb_expo_hist(e, &l, 1, call_hist(b, i));
	}
}

static void defences(struct tb_expo *e, struct tb_broker *b)
{
	const struct tb_counters *k = &b->counters;
	const struct tb_defences *d = &b->def;
	const struct reason limited[] = {
	    {"refused", k->rate_limited},
	    {"delayed", k->rate_delayed},
	    {"dry_run", k->rate_dryrun},
	};

	by_label(e, "teep_rate_limited_total",
	         "App messages and requests a [limit:NAME] zone acted on, by what it did.",
	         "action", limited, COUNT(limited));
	tb_expo_family(e, "teep_limit_requests_total", TB_METRIC_COUNTER,
	               "Requests accounted in each [limit:NAME] zone, by verdict.");
	for (size_t i = 0; i < d->n_zones; i++) {
		struct tb_rl_counters c;
		tb_rl_counters(d->zones[i].rl, &c);
		const struct reason v[] = {
		    {"passed", c.passed},
		    {"delayed", c.delayed},
		    {"rejected", c.rejected},
		    {"dry_run_rejected", c.dry_run_rejected},
		    {"dry_run_delayed", c.dry_run_delayed},
		};
		for (size_t j = 0; j < COUNT(v); j++) {
			struct tb_label l[2] = {{"zone", d->zones[i].conf->name},
			                        {"verdict", v[j].value}};
			tb_expo_u64(e, l, 2, v[j].n);
		}
	}
	tb_expo_family(e, "teep_limit_table_events_total", TB_METRIC_COUNTER,
	               "Key table events of each [limit:NAME] zone.");
	for (size_t i = 0; i < d->n_zones; i++) {
		struct tb_rl_counters c;
		tb_rl_counters(d->zones[i].rl, &c);
		const struct reason v[] = {
		    {"table_full", c.table_full},
		    {"evicted", c.evicted},
		    {"expired", c.expired},
		};
		for (size_t j = 0; j < COUNT(v); j++) {
			struct tb_label l[2] = {{"zone", d->zones[i].conf->name},
			                        {"event", v[j].value}};
			tb_expo_u64(e, l, 2, v[j].n);
		}
	}
	tb_expo_family(e, "teep_limit_keys", TB_METRIC_GAUGE,
	               "Keys each [limit:NAME] zone remembers now.");
	for (size_t i = 0; i < d->n_zones; i++) {
		struct tb_rl_counters c;
		tb_rl_counters(d->zones[i].rl, &c);
		struct tb_label l = {"zone", d->zones[i].conf->name};
		tb_expo_u64(e, &l, 1, c.keys);
	}

	struct tb_ban_counters bc;
	memset(&bc, 0, sizeof(bc));
	if (d->bans)
		tb_ban_counters(d->bans, &bc);
	tb_expo_one(e, "teep_bans_total", TB_METRIC_COUNTER, "Bans of app addresses started.",
	            k->bans);
	const struct reason ban_events[] = {
	    {"scored", bc.scored},           {"banned_refusal", bc.banned_refusals},
	    {"allowlisted", bc.allowlisted}, {"table_full", bc.table_full},
	    {"evicted", bc.evicted},         {"expired", bc.expired},
	};
	by_label(e, "teep_ban_events_total", "Events of the [ban] table, by kind.", "event",
	         ban_events, COUNT(ban_events));
	tb_expo_one(e, "teep_ban_keys", TB_METRIC_GAUGE, "Addresses the [ban] table remembers now.",
	            bc.keys);
}

static void resolver_and_log(struct tb_expo *e, struct tb_broker *b)
{
	struct tb_resolver_stats rs;

	memset(&rs, 0, sizeof(rs));
	if (b->resolver)
		tb_resolver_get_stats(b->resolver, &rs);
	tb_expo_one(e, "teep_resolver_lookups_total", TB_METRIC_COUNTER,
	            "TAM host name lookups started.", rs.lookups);
	tb_expo_one(e, "teep_resolver_lookup_failures_total", TB_METRIC_COUNTER,
	            "TAM host name lookups that failed.", rs.failures);
	const struct reason r[] = {
	    {"cached", rs.hits},
	    {"joined", rs.joined},
	    {"timeout", rs.timeouts},
	    {"refused", rs.refused},
	};
	by_label(e, "teep_resolver_requests_total",
	         "Name requests of exchanges not served by a lookup of their own, by outcome.",
	         "outcome", r, COUNT(r));
	tb_expo_one(e, "teep_log_lines_dropped_total", TB_METRIC_COUNTER,
	            "Log lines dropped while the log reader was too slow.", tb_log_dropped());
}

int tb_metrics_scrape(struct tb_broker *b, char *buf, size_t cap, size_t *len)
{
	/* the family names take 8 kB: not on the loop's stack */
	struct tb_expo *e = malloc(sizeof(*e));
	int rc;

	if (!e)
		return TB_ERR_NOMEM;
	tb_expo_init(e, buf, cap);
	build_info(e, b);
	connections(e, b);
	frames_and_answers(e, b);
	exchanges(e, b);
	tees(e, b);
	defences(e, b);
	resolver_and_log(e, b);
	rc = tb_expo_finish(e);
	*len = e->len;
	free(e);
	return rc;
}

/*
 * teep-brokerd configuration: an INI file read with libinih and checked
 * against one schema table.
 *
 * libinih splits lines into key and value; everything else happens here.
 * The lines reach libinih through our own reader (ini_parse_stream), which
 * is what lets us
 *   - know the line number of every key (the handler gets none),
 *   - refuse lines longer than libinih's fixed line buffer, which it would
 *     otherwise cut silently into two "lines",
 *   - see section headers, so that a section given twice, or one without
 *     keys, is noticed,
 *   - strip leading whitespace, which turns off libinih's multi-line values
 *     (an indented line would silently continue the previous value).
 *
 * Each key has one row in conf_cmds (section, key, type, offset, bounds,
 * default), as in nginx's command tables: the defaults go through the same
 * setters as the file, so a default can never be out of its own bounds.
 */
#include "conf.h"
#include "banscore.h"
#include "keytable.h"
#include "ratelimit.h"
#include "tamuri.h"
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef PKGLIBDIR
#define PKGLIBDIR "/usr/lib/teep-broker"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

#define CONF_FILE_MAX (1024 * 1024) /* no sane configuration is larger */
#define CONF_NAME_MAX 64            /* [tam:NAME], [driver:NAME]: a TEE name */
#define CONF_PATH_MAX 4096
#define CONF_URI_MAX  512
#define CONF_CIDR_MAX 64 /* one allow entry: an IPv6 address and "/128" fit */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum sect_kind {
	SECT_NONE,
	SECT_BROKER,
	SECT_LISTENER,
	SECT_TAM,
	SECT_DRIVER,
	SECT_LIMIT,
	SECT_BAN,
	SECT_QUEUE,
	SECT_RESOLVER,
	SECT_PLUGIN,
	SECT_APP_TAM,
	SECT_ADMIN,
	SECT_SKIP
};

enum conf_type {
	CT_INT,        /* int, decimal */
	CT_UINT,       /* uint32_t, decimal */
	CT_SIZE,       /* uint64_t bytes: "4096", "64k", "1M" */
	CT_DURATION,   /* uint64_t ms: "10s", "500ms", "5m"; a bare number is seconds */
	CT_BOOL,       /* int 0/1 */
	CT_STRING,     /* char *, 1..max bytes, no control characters */
	CT_URI,        /* char *, http:// or https:// */
	CT_NAME,       /* char *, 1..max bytes of [A-Za-z0-9_-] */
	CT_MEDIA_LIST, /* char *, media types "type/subtype" separated by commas */
	CT_ENUM,       /* int-sized enum, one of the names in `enums` */
	CT_RATE,       /* uint32_t requests/s x1000: "10r/s", "600r/m" (tb_rl_parse_rate) */
	CT_CIDR_LIST,  /* char *, CIDRs separated by commas, or "none" */
	CT_URI_LIST    /* char *, http(s) URIs separated by spaces or commas; the key
	                  may be repeated, each line adds to the list */
};

struct conf_enum {
	const char *name;
	int value;
};

struct conf_cmd {
	enum sect_kind sect;
	const char *key;
	enum conf_type type;
	size_t offset;     /* in the section's struct */
	uint64_t min, max; /* numbers: the range; texts: max is the length */
	const char *def;   /* default in file syntax, or NULL */
	const struct conf_enum *enums;
	int required;
};

static const struct conf_enum log_levels[] = {
    {"err", TB_LOG_ERR},   {"warn", TB_LOG_WARN},   {"notice", TB_LOG_NOTICE},
    {"info", TB_LOG_INFO}, {"debug", TB_LOG_DEBUG}, {NULL, 0},
};

static const struct conf_enum numberings[] = {
    {"draft-26", TB_NUM_DRAFT26},
    {"pre-26", TB_NUM_PRE26},
    {NULL, 0},
};

static const struct conf_enum tls_verifies[] = {
    {"none", TB_TLS_VERIFY_NONE},
    {"optional", TB_TLS_VERIFY_OPTIONAL},
    {"required", TB_TLS_VERIFY_REQUIRED},
    {NULL, 0},
};

static const struct conf_enum limit_applies[] = {
    {"messages", TB_LIMIT_MESSAGES},
    {"tee-calls", TB_LIMIT_TEE_CALLS},
    {NULL, 0},
};

static const struct conf_enum limit_keys[] = {
    {"address", TB_LIMIT_KEY_ADDRESS},
    {"app", TB_LIMIT_KEY_APP},
    {"tee", TB_LIMIT_KEY_TEE},
    {"tam", TB_LIMIT_KEY_TAM},
    {"all", TB_LIMIT_KEY_ALL},
    {"connection", TB_LIMIT_KEY_CONNECTION},
    {NULL, 0},
};

/* CT_ENUM stores through an int. */
_Static_assert(sizeof(enum tb_numbering) == sizeof(int), "enum tb_numbering is not int-sized");

#define MS_DAY (24 * 3600 * UINT64_C(1000))
#define KEY(s, k, t, st, f, lo, hi, d)                                                             \
	{                                                                                          \
		.sect = s, .key = k, .type = t, .offset = offsetof(st, f), .min = lo, .max = hi,   \
		.def = d                                                                           \
	}
#define B(k, t, f, lo, hi, d) KEY(SECT_BROKER, k, t, struct tb_conf, f, lo, hi, d)
#define L(k, t, f, lo, hi, d) KEY(SECT_LISTENER, k, t, struct tb_conf_listener, f, lo, hi, d)
#define T(k, t, f, lo, hi, d) KEY(SECT_TAM, k, t, struct tb_conf_tam, f, lo, hi, d)
#define D(k, t, f, lo, hi, d) KEY(SECT_DRIVER, k, t, struct tb_conf_driver, f, lo, hi, d)
#define R(k, t, f, lo, hi, d) KEY(SECT_LIMIT, k, t, struct tb_conf_limit, f, lo, hi, d)
#define N(k, t, f, lo, hi, d) KEY(SECT_BAN, k, t, struct tb_conf_ban, f, lo, hi, d)
#define Q(k, t, f, lo, hi, d) KEY(SECT_QUEUE, k, t, struct tb_conf_queue, f, lo, hi, d)
#define V(k, t, f, lo, hi, d) KEY(SECT_RESOLVER, k, t, struct tb_conf_resolver, f, lo, hi, d)
#define A(k, t, f, lo, hi, d) KEY(SECT_APP_TAM, k, t, struct tb_conf_app_tam, f, lo, hi, d)
#define M(k, t, f, lo, hi, d) KEY(SECT_ADMIN, k, t, struct tb_conf_admin, f, lo, hi, d)

/* Keep conf/teep-broker.conf and the comments of conf.h in step with this. */
static const struct conf_cmd conf_cmds[] = {
    B("pid_file", CT_STRING, pid_file, 1, CONF_PATH_MAX, NULL),
    {.sect = SECT_BROKER,
     .key = "log_level",
     .type = CT_ENUM,
     .offset = offsetof(struct tb_conf, log_level),
     .def = "notice",
     .enums = log_levels},
    B("log_syslog", CT_BOOL, log_syslog, 0, 1, "no"),
    B("driver_dir", CT_STRING, driver_dir, 1, CONF_PATH_MAX, PKGLIBDIR "/drivers"),
    B("plugin_dir", CT_STRING, plugin_dir, 1, CONF_PATH_MAX, PKGLIBDIR "/plugins"),
    B("shutdown_grace", CT_DURATION, shutdown_grace_ms, 0, 3600 * 1000, "10s"),
    B("max_sessions", CT_UINT, max_sessions, 1, 1000000, "256"),
    B("coalesce", CT_BOOL, coalesce, 0, 1, "yes"),
    B("max_waiters", CT_UINT, max_waiters, 1, 65536, "64"),
    B("state_dir", CT_STRING, state_dir, 1, CONF_PATH_MAX, LOCALSTATEDIR "/lib/teep-broker"),
    B("user", CT_STRING, user, 1, 64, NULL),
    B("group", CT_STRING, group, 1, 64, NULL),

    L("address", CT_STRING, address, 1, 255, "127.0.0.1"),
    L("port", CT_INT, port, 0, 65535, "8470"),
    L("port_file", CT_STRING, port_file, 1, CONF_PATH_MAX, NULL),
    L("max_connections", CT_UINT, max_connections, 1, 1000000, "10000"),
    L("max_message_size", CT_SIZE, max_message_size, 128, 1024 * 1024, "4096"),
    L("max_requests_per_connection", CT_UINT, max_requests_per_connection, 1, 1024, "8"),
    L("max_queued_answers", CT_UINT, max_queued_answers, 1, 65536, "64"),
    L("handshake_timeout", CT_DURATION, handshake_timeout_ms, 100, 600 * 1000, "5s"),
    L("idle_timeout", CT_DURATION, idle_timeout_ms, 0, MS_DAY, "0"),
    L("frame_timeout", CT_DURATION, frame_timeout_ms, 1000, 600 * 1000, "10s"),
    L("refused_pause", CT_DURATION, refused_pause_ms, 0, 10 * 1000, "1s"),
    L("max_connections_per_ip", CT_UINT, max_connections_per_ip, 1, 1000000, "64"),
    L("allow_origins", CT_URI_LIST, allow_origins, 1, 8192, NULL),
    L("tls_cert", CT_STRING, tls_cert, 1, CONF_PATH_MAX, NULL),
    L("tls_key", CT_STRING, tls_key, 1, CONF_PATH_MAX, NULL),
    L("tls_ca", CT_STRING, tls_ca, 1, CONF_PATH_MAX, NULL),
    {.sect = SECT_LISTENER,
     .key = "tls_verify_client",
     .type = CT_ENUM,
     .offset = offsetof(struct tb_conf_listener, tls_verify_client),
     .def = "none",
     .enums = tls_verifies},

    {.sect = SECT_TAM,
     .key = "uri",
     .type = CT_URI,
     .offset = offsetof(struct tb_conf_tam, uri),
     .max = CONF_URI_MAX,
     .required = 1},
    {.sect = SECT_TAM,
     .key = "numbering",
     .type = CT_ENUM,
     .offset = offsetof(struct tb_conf_tam, numbering),
     .def = "draft-26",
     .enums = numberings},
    T("connect_timeout", CT_DURATION, connect_timeout_ms, 100, 600 * 1000, "10s"),
    T("response_timeout", CT_DURATION, response_timeout_ms, 100, 3600 * 1000, "30s"),
    T("max_response_size", CT_SIZE, max_response_size, 1024, 64 * 1024 * 1024, "1M"),
    T("max_sessions", CT_UINT, max_sessions, 1, 1000000, "64"),
    T("ca_file", CT_STRING, ca_file, 1, CONF_PATH_MAX, NULL),
    T("tls_insecure", CT_BOOL, tls_insecure, 0, 1, "no"),
    T("keepalive", CT_BOOL, keepalive, 0, 1, "yes"),
    T("accept_media_types", CT_MEDIA_LIST, accept_media_types, 1, 255, NULL),
    T("allow_app_uris", CT_URI_LIST, allow_app_uris, 1, 8192, NULL),
    T("precheck", CT_BOOL, precheck, 0, 1, "no"),
    T("trust_anchor", CT_STRING, trust_anchor, 1, CONF_PATH_MAX, NULL),
    T("tls_pin_sha256", CT_STRING, tls_pin_sha256, 1, 1024, NULL),

    {.sect = SECT_DRIVER,
     .key = "path",
     .type = CT_STRING,
     .offset = offsetof(struct tb_conf_driver, path),
     .min = 1,
     .max = CONF_PATH_MAX,
     .required = 1},
    D("tam", CT_NAME, tam, 1, CONF_NAME_MAX, "default"),
    D("queue_size", CT_UINT, queue_size, 1, 65536, "64"),
    D("max_in_flight", CT_UINT, max_in_flight, 1, 1024, "2"),
    Q("max_per_app", CT_UINT, max_per_app, 1, 65536, "16"),
    Q("max_exchanges_per_app", CT_UINT, max_exchanges_per_app, 1, 65536, "2"),
    Q("quantum", CT_UINT, quantum, 1, 1024, "1"),
    D("call_timeout", CT_DURATION, call_timeout_ms, 100, 3600 * 1000, "60s"),
    D("policy_check_interval", CT_DURATION, policy_check_interval_ms, 0, 30 * MS_DAY, "0"),

    {.sect = SECT_LIMIT,
     .key = "rate",
     .type = CT_RATE,
     .offset = offsetof(struct tb_conf_limit, rate_milli),
     .required = 1},
    /* burst and delay are bounded so that the longest delay, burst * 1000 /
     * the smallest rate (1r/m), stays far inside a timer's range */
    R("burst", CT_UINT, burst, 0, 1000000, "0"),
    R("delay", CT_UINT, delay, 0, 1000000, "0"),
    R("nodelay", CT_BOOL, nodelay, 0, 1, "no"),
    R("dry_run", CT_BOOL, dry_run, 0, 1, "no"),
    {.sect = SECT_LIMIT,
     .key = "applies_to",
     .type = CT_ENUM,
     .offset = offsetof(struct tb_conf_limit, applies_to),
     .enums = limit_applies,
     .required = 1},
    {.sect = SECT_LIMIT,
     .key = "key",
     .type = CT_ENUM,
     .offset = offsetof(struct tb_conf_limit, key),
     .def = "address",
     .enums = limit_keys},
    R("max_keys", CT_UINT, max_keys, 1, TB_KT_MAX_KEYS, "65536"),

    N("enabled", CT_BOOL, enabled, 0, 1, "yes"),
    N("threshold", CT_UINT, threshold, 1, UINT32_MAX, "100"),
    /* the ban table keeps the half-life in 32 bits of milliseconds */
    N("half_life", CT_DURATION, half_life_ms, 1, 1000 * 3600 * UINT64_C(1000), "60s"),
    N("ban_time", CT_DURATION, ban_time_ms, 1, 365 * MS_DAY, "60s"),
    N("ban_time_max", CT_DURATION, ban_time_max_ms, 1, 365 * MS_DAY, "1h"),
    N("memory", CT_DURATION, memory_ms, 0, 365 * MS_DAY, "24h"),
    N("allow", CT_CIDR_LIST, allow, 1, 4096, "127.0.0.0/8, ::1/128"),
    N("max_keys", CT_UINT, max_keys, 1, TB_KT_MAX_KEYS, "65536"),
    N("weight_malformed", CT_UINT, weight_malformed, 0, UINT32_MAX, "10"),
    N("weight_oversize", CT_UINT, weight_oversize, 0, UINT32_MAX, "20"),
    N("weight_text_frame", CT_UINT, weight_text_frame, 0, UINT32_MAX, "10"),
    N("weight_rate_limited", CT_UINT, weight_rate_limited, 0, UINT32_MAX, "1"),
    N("weight_unknown_tee", CT_UINT, weight_unknown_tee, 0, UINT32_MAX, "5"),
    N("weight_tam_not_allowed", CT_UINT, weight_tam_not_allowed, 0, UINT32_MAX, "10"),
    N("weight_forbidden", CT_UINT, weight_forbidden, 0, UINT32_MAX, "10"),
    N("weight_unauthorized", CT_UINT, weight_unauthorized, 0, UINT32_MAX, "10"),
    N("weight_forged", CT_UINT, weight_forged, 0, UINT32_MAX, "20"),

    V("threads", CT_UINT, threads, 1, 64, "4"),
    V("queue_size", CT_UINT, queue_size, 1, 65536, "64"),
    V("cache_size", CT_UINT, cache_size, 1, 4096, "64"),
    V("ttl", CT_DURATION, ttl_ms, 0, MS_DAY, "30s"),
    V("negative_ttl", CT_DURATION, negative_ttl_ms, 0, MS_DAY, "5s"),
    V("timeout", CT_DURATION, timeout_ms, 100, 600 * 1000, "10s"),

    {.sect = SECT_PLUGIN,
     .key = "path",
     .type = CT_STRING,
     .offset = offsetof(struct tb_conf_plugin, path),
     .min = 1,
     .max = CONF_PATH_MAX,
     .required = 1},

    {.sect = SECT_APP_TAM,
     .key = "key",
     .type = CT_STRING,
     .offset = offsetof(struct tb_conf_app_tam, key),
     .min = 1,
     .max = CONF_PATH_MAX,
     .required = 1},
    A("tee", CT_NAME, tee, 1, CONF_NAME_MAX, NULL),
    {.sect = SECT_APP_TAM,
     .key = "numbering",
     .type = CT_ENUM,
     .offset = offsetof(struct tb_conf_app_tam, numbering),
     .def = "draft-26",
     .enums = numberings},
    A("max_messages", CT_UINT, max_messages, 1, 1024, "16"),
    A("idle_timeout", CT_DURATION, idle_timeout_ms, 100, 3600 * 1000, "30s"),

    M("enabled", CT_BOOL, enabled, 0, 1, "no"),
    M("address", CT_STRING, address, 1, 255, "127.0.0.1"),
    M("port", CT_INT, port, 0, 65535, "8471"),
    M("port_file", CT_STRING, port_file, 1, CONF_PATH_MAX, NULL),
    M("allow", CT_CIDR_LIST, allow, 1, 4096, "127.0.0.0/8, ::1/128"),
    M("max_connections", CT_UINT, max_connections, 1, 1024, "16"),
};

#define N_CMDS COUNT(conf_cmds)

/* Where each key of one section instance was set (0: not set). */
struct seen {
	int line[N_CMDS];
};

struct parser {
	struct tb_conf *conf;
	struct tb_conf_error *errs;
	size_t errs_cap;
	size_t n_errs;
	int failed;
	int nomem;

	/* input, handed to libinih a line at a time */
	const char *pos;
	const char *end;
	int line;

	/* the section being read */
	enum sect_kind kind;
	void *base;
	struct seen *seen;
	char sect_name[CONF_NAME_MAX + 16];

	/* where each section began (0: absent), and its keys */
	int broker_line, listener_line, ban_line, queue_line, resolver_line, admin_line;
	int tam_line[TB_CONF_MAX_TAMS];
	int driver_line[TB_CONF_MAX_DRIVERS];
	int limit_line[TB_CONF_MAX_LIMITS];
	int plugin_line[TB_CONF_MAX_PLUGINS];
	int app_tam_line[TB_CONF_MAX_APP_TAMS];
	int opt_line[TB_CONF_MAX_DRIVERS][TB_CONF_MAX_OPTS];
	int plugin_opt_line[TB_CONF_MAX_PLUGINS][TB_CONF_MAX_OPTS];
	struct seen seen_broker, seen_listener, seen_ban, seen_queue, seen_resolver, seen_admin;
	struct seen seen_tam[TB_CONF_MAX_TAMS];
	struct seen seen_driver[TB_CONF_MAX_DRIVERS];
	struct seen seen_limit[TB_CONF_MAX_LIMITS];
	struct seen seen_plugin[TB_CONF_MAX_PLUGINS];
	struct seen seen_app_tam[TB_CONF_MAX_APP_TAMS];
};

static void conf_error(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conf_error(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	p->failed = 1;
	if (p->n_errs >= p->errs_cap)
		return;
	p->errs[p->n_errs].line = line;
	va_start(ap, fmt);
	vsnprintf(p->errs[p->n_errs].msg, sizeof(p->errs[p->n_errs].msg), fmt, ap);
	va_end(ap);
	p->n_errs++;
}

/* ---- value setters ----------------------------------------------------- */

/* Plain decimal: no sign, no spaces, no base prefixes, which strtoul would
 * all accept quietly. */
static int parse_decimal(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return TB_ERR_INVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return TB_ERR_INVAL;
		n = n * 10 + d;
	}
	if (*s)
		return TB_ERR_INVAL;
	*v = n;
	return TB_OK;
}

static int parse_bool(const char *s, uint64_t *v)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < COUNT(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = 1;
			return TB_OK;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = 0;
			return TB_OK;
		}
	}
	return TB_ERR_INVAL;
}

static int text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n < 1 || n > max)
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int uri_ok(const char *s)
{
	size_t scheme;

	if (strncasecmp(s, "https://", 8) == 0)
		scheme = 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		scheme = 7;
	else
		return 0;
	return s[scheme] && s[scheme] != '/' && !strpbrk(s, " \t");
}

/* RFC 6838 restricted-name characters */
static int media_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$&^_.+-", c) != NULL);
}

static int media_list_ok(const char *s)
{
	for (;;) {
		while (*s == ' ')
			s++;
		size_t type = 0, sub = 0;
		while (media_char(s[type]))
			type++;
		if (!type || s[type] != '/')
			return 0;
		s += type + 1;
		while (media_char(s[sub]))
			sub++;
		if (!sub)
			return 0;
		s += sub;
		while (*s == ' ')
			s++;
		if (!*s)
			return 1;
		if (*s++ != ',')
			return 0;
	}
}

/*
 * "192.0.2.0/24, ::1/128, 10.0.0.1": CIDRs (or single addresses) separated
 * by commas, at most TB_BAN_MAX_ALLOW; "none" is the empty list. out (may be
 * NULL: check only) gets the entries.
 */
int tb_conf_parse_cidrs(const char *s, struct tb_cidr *out, size_t cap, size_t *n)
{
	struct tb_cidr one;
	char entry[CONF_CIDR_MAX];

	*n = 0;
	if (strcmp(s, "none") == 0)
		return TB_OK;
	for (;;) {
		size_t len;

		while (*s == ' ' || *s == '\t')
			s++;
		len = strcspn(s, ", \t");
		if (len == 0 || len >= sizeof(entry) || *n >= cap)
			return TB_ERR_INVAL;
		memcpy(entry, s, len);
		entry[len] = 0;
		if (tb_ban_parse_cidr(entry, out ? &out[*n] : &one) != TB_OK)
			return TB_ERR_INVAL;
		(*n)++;
		s += len;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			return TB_OK;
		if (*s++ != ',')
			return TB_ERR_INVAL;
	}
}

static int set_number(const struct conf_cmd *cmd, void *field, const char *value, char *why,
                      size_t whylen)
{
	uint64_t v;
	int rc;

	switch (cmd->type) {
	case CT_SIZE:
		rc = tb_parse_size(value, &v);
		break;
	case CT_DURATION:
		rc = tb_parse_duration_ms(value, &v);
		break;
	case CT_BOOL:
		rc = parse_bool(value, &v);
		break;
	default:
		rc = parse_decimal(value, &v);
		break;
	}
	if (rc != TB_OK) {
		static const char *const expect[] = {
		    [CT_INT] = "a decimal number",
		    [CT_UINT] = "a decimal number",
		    [CT_SIZE] = "a size such as 4096, 64k or 1M",
		    [CT_DURATION] = "a duration such as 10s, 500ms or 5m",
		    [CT_BOOL] = "yes or no",
		};
		snprintf(why, whylen, "\"%.48s\" is not %s", value, expect[cmd->type]);
		return TB_ERR_INVAL;
	}
	if (v < cmd->min || v > cmd->max) {
		if (cmd->type == CT_DURATION)
			snprintf(why, whylen, "\"%.48s\" is not within %llums..%llums", value,
			         (unsigned long long)cmd->min, (unsigned long long)cmd->max);
		else
			snprintf(why, whylen, "\"%.48s\" is not within %llu..%llu", value,
			         (unsigned long long)cmd->min, (unsigned long long)cmd->max);
		return TB_ERR_INVAL;
	}
	switch (cmd->type) {
	case CT_INT:
	case CT_BOOL:
		*(int *)field = (int)v;
		break;
	case CT_UINT:
		*(uint32_t *)field = (uint32_t)v;
		break;
	default:
		*(uint64_t *)field = v;
		break;
	}
	return TB_OK;
}

static int set_text(const struct conf_cmd *cmd, char **field, const char *value, char *why,
                    size_t whylen)
{
	size_t n = strlen(value);
	char *copy;

	if (n < 1 || n > cmd->max) {
		snprintf(why, whylen, "must be 1..%llu bytes long", (unsigned long long)cmd->max);
		return TB_ERR_INVAL;
	}
	if (!text_ok(value)) {
		snprintf(why, whylen, "holds a control character");
		return TB_ERR_INVAL;
	}
	if (cmd->type == CT_URI && !uri_ok(value)) {
		snprintf(why, whylen, "\"%.48s\" is not an http:// or https:// URI with a host",
		         value);
		return TB_ERR_INVAL;
	}
	if (cmd->type == CT_MEDIA_LIST && !media_list_ok(value)) {
		snprintf(why, whylen, "\"%.48s\" is not a comma-separated list of media types",
		         value);
		return TB_ERR_INVAL;
	}
	if (cmd->type == CT_CIDR_LIST) {
		size_t entries;
		/* tb_ban_parse_cidr refuses bits beyond the prefix: likely typos */
		if (tb_conf_parse_cidrs(value, NULL, TB_BAN_MAX_ALLOW, &entries) != TB_OK) {
			snprintf(why, whylen,
			         "\"%.40s\" is not \"none\" or up to %u CIDRs such as "
			         "192.0.2.0/24, comma separated",
			         value, TB_BAN_MAX_ALLOW);
			return TB_ERR_INVAL;
		}
	}
	if (cmd->type == CT_URI_LIST) {
		size_t entries;
		if (tb_tamuri_list_check(value, &entries) != TB_OK) {
			snprintf(why, whylen,
			         "\"%.40s\" is not a list of http:// or https:// URIs with a "
			         "host (no user@), separated by spaces or commas",
			         value);
			return TB_ERR_INVAL;
		}
	}
	if (cmd->type == CT_NAME && !name_ok(value, cmd->max)) {
		snprintf(why, whylen, "\"%.48s\" may only hold A-Z a-z 0-9 _ -", value);
		return TB_ERR_INVAL;
	}
	if (cmd->type == CT_URI_LIST && *field) {
		/* a repeated key: the entries add up, within the same bound */
		size_t have = strlen(*field);
		if (have + 1 + n > cmd->max) {
			snprintf(why, whylen, "the list grows beyond %llu bytes",
			         (unsigned long long)cmd->max);
			return TB_ERR_INVAL;
		}
		copy = malloc(have + 1 + n + 1);
		if (copy) {
			memcpy(copy, *field, have);
			copy[have] = ' ';
			memcpy(copy + have + 1, value, n + 1);
		}
	} else {
		copy = strdup(value);
	}
	if (!copy) {
		snprintf(why, whylen, "out of memory");
		return TB_ERR_NOMEM;
	}
	free(*field);
	*field = copy;
	return TB_OK;
}

static int set_enum(const struct conf_cmd *cmd, void *field, const char *value, char *why,
                    size_t whylen)
{
	size_t o = 0;

	for (const struct conf_enum *e = cmd->enums; e->name; e++) {
		if (strcmp(value, e->name) == 0) {
			memcpy(field, &e->value, sizeof(int));
			return TB_OK;
		}
	}
	o += (size_t)snprintf(why, whylen, "\"%.32s\" is not one of", value);
	for (const struct conf_enum *e = cmd->enums; e->name && o < whylen; e++)
		o += (size_t)snprintf(why + o, whylen - o, " %s", e->name);
	return TB_ERR_INVAL;
}

static int conf_set(const struct conf_cmd *cmd, void *base, const char *value, char *why,
                    size_t whylen)
{
	void *field = (char *)base + cmd->offset;

	if (!*value) {
		snprintf(why, whylen, "empty value (comment the line out to get the default)");
		return TB_ERR_INVAL;
	}
	switch (cmd->type) {
	case CT_STRING:
	case CT_URI:
	case CT_NAME:
	case CT_MEDIA_LIST:
		return set_text(cmd, field, value, why, whylen);
	case CT_CIDR_LIST:
	case CT_URI_LIST:
		return set_text(cmd, field, value, why, whylen);
	case CT_ENUM:
		return set_enum(cmd, field, value, why, whylen);
	case CT_RATE:
		if (tb_rl_parse_rate(value, (uint32_t *)field) != TB_OK) {
			snprintf(why, whylen,
			         "\"%.48s\" is not a rate such as 10r/s or 600r/m (at least 1r/m)",
			         value);
			return TB_ERR_INVAL;
		}
		return TB_OK;
	default:
		return set_number(cmd, field, value, why, whylen);
	}
}

/* Defaults of one section. Only strdup can fail here: the table's own
 * defaults are checked by the unit tests. */
static int apply_defaults(enum sect_kind kind, void *base)
{
	char why[128];

	for (size_t i = 0; i < N_CMDS; i++) {
		const struct conf_cmd *cmd = &conf_cmds[i];
		if (cmd->sect == kind && cmd->def &&
		    conf_set(cmd, base, cmd->def, why, sizeof(why)) != TB_OK)
			return TB_ERR_NOMEM;
	}
	return TB_OK;
}

static const struct conf_cmd *find_cmd(enum sect_kind kind, const char *key)
{
	for (size_t i = 0; i < N_CMDS; i++)
		if (conf_cmds[i].sect == kind && strcmp(conf_cmds[i].key, key) == 0)
			return &conf_cmds[i];
	return NULL;
}

/* ---- sections ---------------------------------------------------------- */

static void enter(struct parser *p, enum sect_kind kind, void *base, struct seen *seen)
{
	p->kind = kind;
	p->base = base;
	p->seen = seen;
}

static void open_tam(struct parser *p, const char *name)
{
	struct tb_conf *c = p->conf;

	for (size_t i = 0; i < c->n_tams; i++) {
		if (strcmp(c->tams[i].name, name) == 0) {
			conf_error(p, p->line, "duplicate section [%s] (first on line %d)",
			           p->sect_name, p->tam_line[i]);
			return;
		}
	}
	if (c->n_tams == TB_CONF_MAX_TAMS) {
		conf_error(p, p->line, "too many TAM sections (at most %d)", TB_CONF_MAX_TAMS);
		return;
	}
	struct tb_conf_tam *t = &c->tams[c->n_tams];
	t->name = strdup(name);
	if (!t->name || apply_defaults(SECT_TAM, t) != TB_OK) {
		p->nomem = 1;
		c->n_tams++; /* so that tb_conf_free() sees what was allocated */
		return;
	}
	p->tam_line[c->n_tams] = p->line;
	enter(p, SECT_TAM, t, &p->seen_tam[c->n_tams]);
	c->n_tams++;
}

static void open_driver(struct parser *p, const char *name)
{
	struct tb_conf *c = p->conf;

	for (size_t i = 0; i < c->n_drivers; i++) {
		if (strcmp(c->drivers[i].name, name) == 0) {
			conf_error(p, p->line, "duplicate section [%s] (first on line %d)",
			           p->sect_name, p->driver_line[i]);
			return;
		}
	}
	if (c->n_drivers == TB_CONF_MAX_DRIVERS) {
		conf_error(p, p->line, "too many driver sections (at most %d)",
		           TB_CONF_MAX_DRIVERS);
		return;
	}
	struct tb_conf_driver *d = &c->drivers[c->n_drivers];
	d->name = strdup(name);
	if (!d->name || apply_defaults(SECT_DRIVER, d) != TB_OK) {
		p->nomem = 1;
		c->n_drivers++;
		return;
	}
	p->driver_line[c->n_drivers] = p->line;
	enter(p, SECT_DRIVER, d, &p->seen_driver[c->n_drivers]);
	c->n_drivers++;
}

static void open_limit(struct parser *p, const char *name)
{
	struct tb_conf *c = p->conf;

	for (size_t i = 0; i < c->n_limits; i++) {
		if (strcmp(c->limits[i].name, name) == 0) {
			conf_error(p, p->line, "duplicate section [%s] (first on line %d)",
			           p->sect_name, p->limit_line[i]);
			return;
		}
	}
	if (c->n_limits == TB_CONF_MAX_LIMITS) {
		conf_error(p, p->line, "too many limit sections (at most %d)", TB_CONF_MAX_LIMITS);
		return;
	}
	struct tb_conf_limit *l = &c->limits[c->n_limits];
	l->name = strdup(name);
	if (!l->name || apply_defaults(SECT_LIMIT, l) != TB_OK) {
		p->nomem = 1;
		c->n_limits++;
		return;
	}
	p->limit_line[c->n_limits] = p->line;
	enter(p, SECT_LIMIT, l, &p->seen_limit[c->n_limits]);
	c->n_limits++;
}

static void open_plugin(struct parser *p, const char *name)
{
	struct tb_conf *c = p->conf;

	for (size_t i = 0; i < c->n_plugins; i++) {
		if (strcmp(c->plugins[i].name, name) == 0) {
			conf_error(p, p->line, "duplicate section [%s] (first on line %d)",
			           p->sect_name, p->plugin_line[i]);
			return;
		}
	}
	if (c->n_plugins == TB_CONF_MAX_PLUGINS) {
		conf_error(p, p->line, "too many plugin sections (at most %d)",
		           TB_CONF_MAX_PLUGINS);
		return;
	}
	struct tb_conf_plugin *pl = &c->plugins[c->n_plugins];
	pl->name = strdup(name);
	if (!pl->name || apply_defaults(SECT_PLUGIN, pl) != TB_OK) {
		p->nomem = 1;
		c->n_plugins++;
		return;
	}
	p->plugin_line[c->n_plugins] = p->line;
	enter(p, SECT_PLUGIN, pl, &p->seen_plugin[c->n_plugins]);
	c->n_plugins++;
}

/* An app identity, as plugins give them: A-Z a-z 0-9 . _ - @ : */
static int identity_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return 0;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == '@' || c == ':'))
			return 0;
	}
	return 1;
}

static void open_app_tam(struct parser *p, const char *identity)
{
	struct tb_conf *c = p->conf;

	for (size_t i = 0; i < c->n_app_tams; i++) {
		if (strcmp(c->app_tams[i].identity, identity) == 0) {
			conf_error(p, p->line, "duplicate section [%s] (first on line %d)",
			           p->sect_name, p->app_tam_line[i]);
			return;
		}
	}
	if (c->n_app_tams == TB_CONF_MAX_APP_TAMS) {
		conf_error(p, p->line, "too many app-tam sections (at most %d)",
		           TB_CONF_MAX_APP_TAMS);
		return;
	}
	struct tb_conf_app_tam *a = &c->app_tams[c->n_app_tams];
	a->identity = strdup(identity);
	if (!a->identity || apply_defaults(SECT_APP_TAM, a) != TB_OK) {
		p->nomem = 1;
		c->n_app_tams++;
		return;
	}
	p->app_tam_line[c->n_app_tams] = p->line;
	enter(p, SECT_APP_TAM, a, &p->seen_app_tam[c->n_app_tams]);
	c->n_app_tams++;
}

static void open_single(struct parser *p, int *first_line, enum sect_kind kind, void *base,
                        struct seen *seen)
{
	if (*first_line) {
		conf_error(p, p->line, "duplicate section [%s] (first on line %d)", p->sect_name,
		           *first_line);
		return;
	}
	*first_line = p->line;
	enter(p, kind, base, seen);
}

/* Is name "prefix:NAME"? Returns NAME or NULL. */
static const char *named(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(name, prefix, n) == 0 && name[n] == ':')
		return name + n + 1;
	return NULL;
}

/* name: the text between '[' and ']'. */
static void open_section(struct parser *p, const char *name)
{
	const char *arg;

	/* Until the section proves valid, its keys are skipped: one mistake
	 * in a header should give one error, not one per key below it. */
	p->kind = SECT_SKIP;
	snprintf(p->sect_name, sizeof(p->sect_name), "%s", name);
	if (strcmp(name, "broker") == 0) {
		open_single(p, &p->broker_line, SECT_BROKER, p->conf, &p->seen_broker);
	} else if (strcmp(name, "listener") == 0) {
		open_single(p, &p->listener_line, SECT_LISTENER, &p->conf->listener,
		            &p->seen_listener);
	} else if (strcmp(name, "tam") == 0) {
		open_tam(p, "default");
	} else if ((arg = named(name, "tam")) != NULL) {
		if (name_ok(arg, CONF_NAME_MAX))
			open_tam(p, arg);
		else
			conf_error(p, p->line, "bad TAM name in [%s]: 1..%d of A-Z a-z 0-9 _ -",
			           p->sect_name, CONF_NAME_MAX);
	} else if ((arg = named(name, "driver")) != NULL) {
		if (name_ok(arg, CONF_NAME_MAX))
			open_driver(p, arg);
		else
			conf_error(p, p->line, "bad TEE name in [%s]: 1..%d of A-Z a-z 0-9 _ -",
			           p->sect_name, CONF_NAME_MAX);
	} else if (strcmp(name, "driver") == 0) {
		conf_error(p, p->line, "[driver] needs a name: [driver:NAME]");
	} else if ((arg = named(name, "limit")) != NULL) {
		if (name_ok(arg, CONF_NAME_MAX))
			open_limit(p, arg);
		else
			conf_error(p, p->line, "bad zone name in [%s]: 1..%d of A-Z a-z 0-9 _ -",
			           p->sect_name, CONF_NAME_MAX);
	} else if (strcmp(name, "limit") == 0) {
		conf_error(p, p->line, "[limit] needs a name: [limit:NAME]");
	} else if ((arg = named(name, "plugin")) != NULL) {
		if (name_ok(arg, CONF_NAME_MAX))
			open_plugin(p, arg);
		else
			conf_error(p, p->line, "bad plugin name in [%s]: 1..%d of A-Z a-z 0-9 _ -",
			           p->sect_name, CONF_NAME_MAX);
	} else if (strcmp(name, "plugin") == 0) {
		conf_error(p, p->line, "[plugin] needs a name: [plugin:NAME]");
	} else if ((arg = named(name, "app-tam")) != NULL) {
		if (identity_ok(arg))
			open_app_tam(p, arg);
		else
			conf_error(
			    p, p->line,
			    "bad identity in [%s]: 1..64 of A-Z a-z 0-9 . _ - @ :", p->sect_name);
	} else if (strcmp(name, "app-tam") == 0) {
		conf_error(p, p->line, "[app-tam] needs an app identity: [app-tam:IDENTITY]");
	} else if (strcmp(name, "ban") == 0) {
		open_single(p, &p->ban_line, SECT_BAN, &p->conf->ban, &p->seen_ban);
	} else if (strcmp(name, "queue") == 0) {
		open_single(p, &p->queue_line, SECT_QUEUE, &p->conf->queue, &p->seen_queue);
	} else if (strcmp(name, "resolver") == 0) {
		open_single(p, &p->resolver_line, SECT_RESOLVER, &p->conf->resolver,
		            &p->seen_resolver);
	} else if (strcmp(name, "admin") == 0) {
		open_single(p, &p->admin_line, SECT_ADMIN, &p->conf->admin, &p->seen_admin);
	} else {
		conf_error(p, p->line, "unknown section [%s]", p->sect_name);
	}
}

/* A header line "[name]" with nothing but whitespace or a comment after. */
static void header_line(struct parser *p, char *s)
{
	char *close = strchr(s, ']');
	char *rest;

	if (!close) {
		p->kind = SECT_SKIP;
		conf_error(p, p->line, "section header without ']'");
		return;
	}
	*close = 0;
	rest = close + 1;
	rest += strspn(rest, " \t");
	if (*rest && *rest != ';' && *rest != '#') {
		p->kind = SECT_SKIP;
		conf_error(p, p->line, "text after the section header");
		return;
	}
	open_section(p, s + 1);
	*close = ']';
}

/* ---- keys -------------------------------------------------------------- */

/* A key a driver or a plugin section does not define itself: an option for
 * the module's init(). A key may repeat: every line is passed on, in order,
 * for the module to take as a list (or the last one). */
static int module_opt(struct parser *p, const char *what, struct tb_conf_kv *opts, size_t *n_opts,
                      int *lines, const char *key, const char *value)
{
	struct tb_conf_kv *kv;

	if (*n_opts == TB_CONF_MAX_OPTS) {
		conf_error(p, p->line, "too many %s options in [%s] (at most %d)", what,
		           p->sect_name, TB_CONF_MAX_OPTS);
		return 0;
	}
	if (!text_ok(value)) {
		conf_error(p, p->line, "[%s] %.48s: holds a control character", p->sect_name, key);
		return 0;
	}
	kv = &opts[*n_opts];
	kv->key = strdup(key);
	kv->value = strdup(value);
	lines[*n_opts] = p->line;
	(*n_opts)++; /* counted even if half allocated, for tb_conf_free() */
	if (!kv->key || !kv->value) {
		p->nomem = 1;
		return 0;
	}
	return 1;
}

static int driver_opt(struct parser *p, const char *key, const char *value)
{
	struct tb_conf_driver *d = p->base;
	size_t di = (size_t)(d - p->conf->drivers);

	return module_opt(p, "driver", d->opts, &d->n_opts, p->opt_line[di], key, value);
}

static int plugin_opt(struct parser *p, const char *key, const char *value)
{
	struct tb_conf_plugin *pl = p->base;
	size_t pi = (size_t)(pl - p->conf->plugins);

	return module_opt(p, "plugin", pl->opts, &pl->n_opts, p->plugin_opt_line[pi], key, value);
}

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	const struct conf_cmd *cmd;
	char why[160];
	size_t idx;

	(void)section; /* the reader tracks sections itself */
	if (p->kind == SECT_SKIP)
		return 1;
	if (p->kind == SECT_NONE) {
		conf_error(p, p->line, "key \"%.48s\" before any [section]", name);
		return 0;
	}
	cmd = find_cmd(p->kind, name);
	if (!cmd) {
		if (p->kind == SECT_DRIVER)
			return driver_opt(p, name, value);
		if (p->kind == SECT_PLUGIN)
			return plugin_opt(p, name, value);
		conf_error(p, p->line, "unknown key \"%.48s\" in [%s]", name, p->sect_name);
		return 0;
	}
	idx = (size_t)(cmd - conf_cmds);
	/* a list of URIs may take several lines: each adds to it */
	if (p->seen->line[idx] && cmd->type != CT_URI_LIST) {
		conf_error(p, p->line, "duplicate key \"%s\" in [%s] (first on line %d)", name,
		           p->sect_name, p->seen->line[idx]);
		return 0;
	}
	if (!p->seen->line[idx])
		p->seen->line[idx] = p->line;
	switch (conf_set(cmd, p->base, value, why, sizeof(why))) {
	case TB_OK:
		return 1;
	case TB_ERR_NOMEM:
		p->nomem = 1;
		return 0;
	default:
		conf_error(p, p->line, "[%s] %s: %s", p->sect_name, name, why);
		return 0;
	}
}

/* ---- the line reader --------------------------------------------------- */

/* A module option on a line longer than libinih's buffer (a certificate, a
 * list): split here as libinih would ("key = value", an inline comment
 * after " ;" dropped) and handed on. Only options: a key of the broker's
 * own is refused as too long, as in any other section. */
static void long_option(struct parser *p, const char *s, size_t len, int num)
{
	char *buf = malloc(len + 1), *key, *val, *end, *c;

	if (!buf) {
		p->nomem = 1;
		return;
	}
	memcpy(buf, s, len);
	buf[len] = 0;
	val = buf + strcspn(buf, "=:");
	if (!*val) {
		conf_error(p, p->line, "expected \"key = value\"");
		free(buf);
		return;
	}
	*val++ = 0;
	for (c = val; *c; c++)
		if (*c == ';' && c > val && isspace((unsigned char)c[-1])) {
			*c = 0;
			break;
		}
	key = buf;
	for (end = val + strlen(val); end > val && isspace((unsigned char)end[-1]);)
		*--end = 0;
	while (isspace((unsigned char)*val))
		val++;
	for (end = key + strlen(key); end > key && isspace((unsigned char)end[-1]);)
		*--end = 0;
	if (find_cmd(p->kind, key))
		conf_error(p, p->line, "line too long (more than %d bytes)", num - 1);
	else
		conf_handler(p, NULL, key, val);
	free(buf);
}

/* Does a key line hold a '=' or ':' before any inline comment? The same
 * rule libinih applies; checking here gives the error its line. */
static int has_separator(const char *s)
{
	for (const char *c = s; *c; c++) {
		if (*c == '=' || *c == ':')
			return 1;
		if (*c == ';' && c > s && isspace((unsigned char)c[-1]))
			return 0;
	}
	return 0;
}

/*
 * libinih's fgets-style reader. One call hands over exactly one physical
 * line, so libinih's line count and ours agree. A line we refuse is
 * reported here and passed on as an empty line.
 */
static char *conf_reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	const char *s = p->pos, *eol;
	size_t len;

	/* Out of memory: stop, there is nothing useful left to report. */
	if (p->pos >= p->end || num < 2 || p->nomem)
		return NULL;
	eol = memchr(s, '\n', (size_t)(p->end - s));
	len = eol ? (size_t)(eol - s) : (size_t)(p->end - s);
	p->pos = eol ? eol + 1 : p->end;
	p->line++;
	if (len && s[len - 1] == '\r')
		len--;
	if (p->line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
		s += 3;
		len -= 3;
	}
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	str[0] = 0;
	if (len && *s == '[' && (memchr(s, 0, len) || len > (size_t)num - 1))
		p->kind = SECT_SKIP; /* its keys would land in the section before */
	if (memchr(s, 0, len)) {
		conf_error(p, p->line, "NUL byte in the line");
		return str;
	}
	if (len > (size_t)num - 1) {
		if ((p->kind == SECT_DRIVER || p->kind == SECT_PLUGIN) && *s != '[' && *s != ';' &&
		    *s != '#' && len <= TB_CONF_MAX_OPT_LINE)
			long_option(p, s, len, num);
		else
			conf_error(p, p->line, "line too long (more than %d bytes)", num - 1);
		return str;
	}
	memcpy(str, s, len);
	str[len] = 0;
	if (len == 0 || *str == ';' || *str == '#')
		return str;
	if (*str == '[') {
		header_line(p, str);
		return str;
	}
	if (!has_separator(str)) {
		conf_error(p, p->line, "expected \"key = value\"");
		str[0] = 0;
	}
	return str;
}

/* ---- whole-file checks ------------------------------------------------- */

static void check_required(struct parser *p, enum sect_kind kind, const struct seen *seen, int line,
                           const char *what)
{
	for (size_t i = 0; i < N_CMDS; i++) {
		const struct conf_cmd *cmd = &conf_cmds[i];
		if (cmd->sect == kind && cmd->required && !seen->line[i])
			conf_error(p, line, "%s has no %s", what, cmd->key);
	}
}

/* The line of a key in one section instance, or else the section's line. */
static int key_line(const struct seen *seen, enum sect_kind kind, const char *key, int sect_line)
{
	const struct conf_cmd *cmd = find_cmd(kind, key);
	int line = cmd ? seen->line[cmd - conf_cmds] : 0;

	return line ? line : sect_line;
}

static void check_limits_and_ban(struct parser *p)
{
	struct tb_conf *c = p->conf;
	char what[CONF_NAME_MAX + 16];

	for (size_t i = 0; i < c->n_limits; i++) {
		const struct tb_conf_limit *l = &c->limits[i];
		const struct seen *seen = &p->seen_limit[i];
		size_t delay_idx = (size_t)(find_cmd(SECT_LIMIT, "delay") - conf_cmds);

		snprintf(what, sizeof(what), "[limit:%s]", l->name);
		check_required(p, SECT_LIMIT, seen, p->limit_line[i], what);
		if ((l->key == TB_LIMIT_KEY_TEE || l->key == TB_LIMIT_KEY_TAM) &&
		    l->applies_to != TB_LIMIT_TEE_CALLS)
			conf_error(p, key_line(seen, SECT_LIMIT, "key", p->limit_line[i]),
			           "%s: key = tee and key = tam need applies_to = tee-calls", what);
		/* nginx refuses "delay=N nodelay" too: which one was meant? */
		if (l->nodelay && seen->line[delay_idx])
			conf_error(p, key_line(seen, SECT_LIMIT, "nodelay", p->limit_line[i]),
			           "%s has both delay and nodelay = yes: keep one", what);
	}
	if (c->ban.ban_time_max_ms < c->ban.ban_time_ms)
		conf_error(p, key_line(&p->seen_ban, SECT_BAN, "ban_time_max", p->ban_line),
		           "[ban] ban_time_max is shorter than ban_time");
}

static void check_sections(struct parser *p)
{
	struct tb_conf *c = p->conf;
	char what[CONF_NAME_MAX + 16];

	for (size_t i = 0; i < c->n_tams; i++) {
		if (strcmp(c->tams[i].name, "default") == 0)
			snprintf(what, sizeof(what), "[tam]");
		else
			snprintf(what, sizeof(what), "[tam:%s]", c->tams[i].name);
		check_required(p, SECT_TAM, &p->seen_tam[i], p->tam_line[i], what);
		if (c->tams[i].precheck && !c->tams[i].trust_anchor)
			conf_error(
			    p, key_line(&p->seen_tam[i], SECT_TAM, "precheck", p->tam_line[i]),
			    "%s: precheck = yes needs trust_anchor (the TAM's public key)", what);
	}
	{
		const struct tb_conf_listener *l = &c->listener;
		int ln = p->listener_line;
		if (!l->tls_cert != !l->tls_key)
			conf_error(p,
			           key_line(&p->seen_listener, SECT_LISTENER,
			                    l->tls_cert ? "tls_cert" : "tls_key", ln),
			           "[listener] %s is set without %s (wss:// needs both)",
			           l->tls_cert ? "tls_cert" : "tls_key",
			           l->tls_cert ? "tls_key" : "tls_cert");
		else if (!l->tls_cert && (l->tls_ca || l->tls_verify_client))
			conf_error(p,
			           key_line(&p->seen_listener, SECT_LISTENER,
			                    l->tls_ca ? "tls_ca" : "tls_verify_client", ln),
			           "[listener] %s needs tls_cert and tls_key (wss://)",
			           l->tls_ca ? "tls_ca" : "tls_verify_client");
		else if (l->tls_verify_client && !l->tls_ca)
			conf_error(
			    p, key_line(&p->seen_listener, SECT_LISTENER, "tls_verify_client", ln),
			    "[listener] tls_verify_client needs tls_ca (the CAs that sign "
			    "client certificates)");
	}
	for (size_t i = 0; i < c->n_drivers; i++) {
		const struct tb_conf_driver *d = &c->drivers[i];
		size_t tam_idx = (size_t)(find_cmd(SECT_DRIVER, "tam") - conf_cmds);
		int tam_line = p->seen_driver[i].line[tam_idx];

		snprintf(what, sizeof(what), "[driver:%s]", d->name);
		check_required(p, SECT_DRIVER, &p->seen_driver[i], p->driver_line[i], what);
		if (d->tam && !tb_conf_find_tam(c, d->tam))
			conf_error(p, tam_line ? tam_line : p->driver_line[i],
			           "%s talks to TAM \"%s\", but there is no [%s%s] section", what,
			           d->tam, strcmp(d->tam, "default") ? "tam:" : "tam",
			           strcmp(d->tam, "default") ? d->tam : "");
	}
	for (size_t i = 0; i < c->n_plugins; i++) {
		snprintf(what, sizeof(what), "[plugin:%s]", c->plugins[i].name);
		check_required(p, SECT_PLUGIN, &p->seen_plugin[i], p->plugin_line[i], what);
	}
	for (size_t i = 0; i < c->n_app_tams; i++) {
		const struct tb_conf_app_tam *a = &c->app_tams[i];
		int found = !a->tee;

		snprintf(what, sizeof(what), "[app-tam:%s]", a->identity);
		check_required(p, SECT_APP_TAM, &p->seen_app_tam[i], p->app_tam_line[i], what);
		for (size_t d = 0; a->tee && d < c->n_drivers; d++)
			found |= strcmp(c->drivers[d].name, a->tee) == 0;
		if (!found)
			conf_error(
			    p,
			    key_line(&p->seen_app_tam[i], SECT_APP_TAM, "tee", p->app_tam_line[i]),
			    "%s names TEE \"%s\", but there is no [driver:%s] section", what,
			    a->tee, a->tee);
	}
	if (c->n_drivers == 0)
		conf_error(p, 0, "no [driver:NAME] section: the broker needs at least one TEE");
	if (c->group && !c->user)
		conf_error(p, key_line(&p->seen_broker, SECT_BROKER, "group", p->broker_line),
		           "[broker] group is set without user");
	if (c->admin.enabled && c->admin.port && c->admin.port == c->listener.port &&
	    (!strcmp(c->admin.address, c->listener.address) || !strcmp(c->admin.address, "*") ||
	     !strcmp(c->listener.address, "*")))
		conf_error(p, key_line(&p->seen_admin, SECT_ADMIN, "port", p->admin_line),
		           "[admin] port %d is the [listener] port", c->admin.port);
	check_limits_and_ban(p);
}

/* Where the sections and the keys naming files were, for the messages of
 * checks made after reading (checkconf.c). */
static void record_lines(struct parser *p)
{
	struct tb_conf *c = p->conf;

	c->lines.pid_file = key_line(&p->seen_broker, SECT_BROKER, "pid_file", 0);
	c->lines.state_dir = key_line(&p->seen_broker, SECT_BROKER, "state_dir", 0);
	c->lines.user = key_line(&p->seen_broker, SECT_BROKER, "user", 0);
	c->lines.group = key_line(&p->seen_broker, SECT_BROKER, "group", 0);
	c->lines.port_file = key_line(&p->seen_listener, SECT_LISTENER, "port_file", 0);
	c->lines.broker = p->broker_line;
	c->lines.listener = p->listener_line;
	c->lines.address = key_line(&p->seen_listener, SECT_LISTENER, "address", p->listener_line);
	c->lines.port = key_line(&p->seen_listener, SECT_LISTENER, "port", p->listener_line);
	c->lines.handshake_timeout =
	    key_line(&p->seen_listener, SECT_LISTENER, "handshake_timeout", p->listener_line);
	c->lines.max_connections =
	    key_line(&p->seen_listener, SECT_LISTENER, "max_connections", p->listener_line);
	c->lines.max_sessions =
	    key_line(&p->seen_broker, SECT_BROKER, "max_sessions", p->broker_line);
	c->lines.log_level = key_line(&p->seen_broker, SECT_BROKER, "log_level", p->broker_line);
	c->lines.log_syslog = key_line(&p->seen_broker, SECT_BROKER, "log_syslog", p->broker_line);
	c->lines.driver_dir = key_line(&p->seen_broker, SECT_BROKER, "driver_dir", p->broker_line);
	c->lines.plugin_dir = key_line(&p->seen_broker, SECT_BROKER, "plugin_dir", p->broker_line);
	c->lines.ban = p->ban_line;
	c->lines.ban_enabled = key_line(&p->seen_ban, SECT_BAN, "enabled", p->ban_line);
	c->lines.ban_max_keys = key_line(&p->seen_ban, SECT_BAN, "max_keys", p->ban_line);
	c->lines.resolver = p->resolver_line;
	c->lines.admin = p->admin_line;
	c->lines.tls_cert = key_line(&p->seen_listener, SECT_LISTENER, "tls_cert", 0);
	c->lines.tls_key = key_line(&p->seen_listener, SECT_LISTENER, "tls_key", 0);
	c->lines.tls_ca = key_line(&p->seen_listener, SECT_LISTENER, "tls_ca", 0);
	for (size_t i = 0; i < c->n_tams && i < TB_CONF_MAX_TAMS; i++) {
		c->tams[i].line = p->tam_line[i];
		c->tams[i].ca_file_line = key_line(&p->seen_tam[i], SECT_TAM, "ca_file", 0);
		c->tams[i].trust_anchor_line =
		    key_line(&p->seen_tam[i], SECT_TAM, "trust_anchor", 0);
		c->tams[i].tls_pin_line = key_line(&p->seen_tam[i], SECT_TAM, "tls_pin_sha256", 0);
	}
	for (size_t i = 0; i < c->n_drivers && i < TB_CONF_MAX_DRIVERS; i++)
		c->drivers[i].line = p->driver_line[i];
	for (size_t i = 0; i < c->n_plugins && i < TB_CONF_MAX_PLUGINS; i++)
		c->plugins[i].line = p->plugin_line[i];
	for (size_t i = 0; i < c->n_app_tams && i < TB_CONF_MAX_APP_TAMS; i++) {
		c->app_tams[i].line = p->app_tam_line[i];
		c->app_tams[i].key_line =
		    key_line(&p->seen_app_tam[i], SECT_APP_TAM, "key", p->app_tam_line[i]);
	}
}

/* Errors in line order; those about the file as a whole (line 0) last. */
static void sort_errors(struct tb_conf_error *errs, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct tb_conf_error e = errs[i];
		unsigned key = e.line ? (unsigned)e.line : ~0u;
		size_t j = i;

		while (j > 0 && (errs[j - 1].line ? (unsigned)errs[j - 1].line : ~0u) > key) {
			errs[j] = errs[j - 1];
			j--;
		}
		errs[j] = e;
	}
}

static int error_on_line(const struct parser *p, int line)
{
	for (size_t i = 0; i < p->n_errs; i++)
		if (p->errs[i].line == line)
			return 1;
	return 0;
}

static int parse_text(const char *text, size_t len, struct tb_conf *conf,
                      struct tb_conf_error *errs, size_t *n_errs)
{
	struct parser *p = calloc(1, sizeof(*p));
	int r, rc;

	if (!p)
		return TB_ERR_NOMEM;
	p->conf = conf;
	p->errs = errs;
	p->errs_cap = errs ? TB_CONF_MAX_ERRORS : 0;
	p->pos = text;
	p->end = text + len;

	r = ini_parse_stream(conf_reader, p, conf_handler, p);
	if (r == -2)
		p->nomem = 1;
	else if (r > 0 && !error_on_line(p, r) && !p->nomem)
		conf_error(p, r, "syntax error");
	if (!p->nomem) {
		check_sections(p);
		record_lines(p);
	}

	if (p->nomem)
		rc = TB_ERR_NOMEM;
	else
		rc = p->failed ? TB_ERR_INVAL : TB_OK;
	sort_errors(p->errs, p->n_errs);
	if (n_errs)
		*n_errs = p->n_errs;
	free(p);
	return rc;
}

/* ---- public functions -------------------------------------------------- */

void tb_conf_defaults(struct tb_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	/* On allocation failure a string default stays NULL; the loaders
	 * notice it. */
	apply_defaults(SECT_BROKER, conf);
	apply_defaults(SECT_LISTENER, &conf->listener);
	apply_defaults(SECT_BAN, &conf->ban);
	apply_defaults(SECT_QUEUE, &conf->queue);
	apply_defaults(SECT_RESOLVER, &conf->resolver);
	apply_defaults(SECT_ADMIN, &conf->admin);
}

static int load_text(const char *text, size_t len, struct tb_conf *conf, struct tb_conf_error *errs,
                     size_t *n_errs)
{
	int rc;

	if (n_errs)
		*n_errs = 0;
	tb_conf_defaults(conf);
	if (!conf->driver_dir || !conf->plugin_dir || !conf->state_dir || !conf->listener.address ||
	    !conf->ban.allow || !conf->admin.address || !conf->admin.allow)
		rc = TB_ERR_NOMEM;
	else
		rc = parse_text(text, len, conf, errs, n_errs);
	if (rc == TB_ERR_NOMEM && errs && n_errs && *n_errs < TB_CONF_MAX_ERRORS) {
		errs[*n_errs].line = 0;
		snprintf(errs[*n_errs].msg, sizeof(errs[*n_errs].msg), "out of memory");
		(*n_errs)++;
	}
	/* A half-read configuration is of no use to anyone: free it here so
	 * that no caller can start with it by mistake. */
	if (rc != TB_OK)
		tb_conf_free(conf);
	return rc;
}

int tb_conf_load_string(const char *text, struct tb_conf *conf, struct tb_conf_error *errs,
                        size_t *n_errs)
{
	if (!text || !conf)
		return TB_ERR_INVAL;
	return load_text(text, strlen(text), conf, errs, n_errs);
}

int tb_conf_load(const char *path, struct tb_conf *conf, struct tb_conf_error *errs, size_t *n_errs)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (!path || !conf)
		return TB_ERR_INVAL;
	memset(conf, 0, sizeof(*conf));
	if (n_errs)
		*n_errs = 0;
	rc = tb_read_file(path, CONF_FILE_MAX, &buf, &len);
	if (rc != TB_OK) {
		if (errs && n_errs) {
			errs[0].line = 0;
			snprintf(errs[0].msg, sizeof(errs[0].msg), "cannot read the file: %s",
			         rc == TB_ERR_NOTFOUND ? "no such file"
			         : rc == TB_ERR_TOOBIG ? "larger than 1 MiB"
			         : rc == TB_ERR_NOMEM  ? "out of memory"
			                               : "I/O error");
			*n_errs = 1;
		}
		return rc == TB_ERR_NOMEM ? TB_ERR_NOMEM : TB_ERR_IO;
	}
	rc = load_text((const char *)buf, len, conf, errs, n_errs);
	free(buf);
	return rc;
}

static void free_tam(struct tb_conf_tam *t)
{
	free(t->name);
	free(t->uri);
	free(t->ca_file);
	free(t->tls_pin_sha256);
	free(t->accept_media_types);
	free(t->allow_app_uris);
	free(t->trust_anchor);
}

static void free_opts(struct tb_conf_kv *opts, size_t n)
{
	for (size_t i = 0; i < n && i < TB_CONF_MAX_OPTS; i++) {
		free(opts[i].key);
		free(opts[i].value);
	}
}

static void free_driver(struct tb_conf_driver *d)
{
	free(d->name);
	free(d->path);
	free(d->tam);
	free_opts(d->opts, d->n_opts);
}

void tb_conf_free(struct tb_conf *conf)
{
	if (!conf)
		return;
	free(conf->pid_file);
	free(conf->driver_dir);
	free(conf->plugin_dir);
	free(conf->state_dir);
	free(conf->user);
	free(conf->group);
	free(conf->listener.address);
	free(conf->listener.port_file);
	free(conf->listener.allow_origins);
	free(conf->listener.tls_cert);
	free(conf->listener.tls_key);
	free(conf->listener.tls_ca);
	for (size_t i = 0; i < conf->n_tams && i < TB_CONF_MAX_TAMS; i++)
		free_tam(&conf->tams[i]);
	for (size_t i = 0; i < conf->n_drivers && i < TB_CONF_MAX_DRIVERS; i++)
		free_driver(&conf->drivers[i]);
	for (size_t i = 0; i < conf->n_limits && i < TB_CONF_MAX_LIMITS; i++)
		free(conf->limits[i].name);
	for (size_t i = 0; i < conf->n_plugins && i < TB_CONF_MAX_PLUGINS; i++) {
		free(conf->plugins[i].name);
		free(conf->plugins[i].path);
		free_opts(conf->plugins[i].opts, conf->plugins[i].n_opts);
	}
	for (size_t i = 0; i < conf->n_app_tams && i < TB_CONF_MAX_APP_TAMS; i++) {
		free(conf->app_tams[i].identity);
		free(conf->app_tams[i].key);
		free(conf->app_tams[i].tee);
	}
	free(conf->ban.allow);
	free(conf->admin.address);
	free(conf->admin.port_file);
	free(conf->admin.allow);
	/* Zeroed, so that a second call (or one after a failed load) is
	 * harmless. */
	memset(conf, 0, sizeof(*conf));
}

const struct tb_conf_tam *tb_conf_find_tam(const struct tb_conf *conf, const char *name)
{
	if (!conf)
		return NULL;
	if (!name)
		name = "default";
	for (size_t i = 0; i < conf->n_tams; i++)
		if (conf->tams[i].name && strcmp(conf->tams[i].name, name) == 0)
			return &conf->tams[i];
	return NULL;
}

const struct tb_conf_app_tam *tb_conf_find_app_tam(const struct tb_conf *conf, const char *identity)
{
	if (!conf || !identity || !*identity)
		return NULL;
	for (size_t i = 0; i < conf->n_app_tams; i++)
		if (conf->app_tams[i].identity && strcmp(conf->app_tams[i].identity, identity) == 0)
			return &conf->app_tams[i];
	return NULL;
}

/*
 * teep-brokerd configuration: an INI file read with libinih and checked
 * against one schema table (conf.c). Every queue, buffer and timeout bound of
 * the daemon lives here, with its default.
 */
#ifndef TB_CONF_H
#define TB_CONF_H

#include "tb_teep.h"
#include <stddef.h>
#include <stdint.h>

#define TB_CONF_MAX_TAMS    16
#define TB_CONF_MAX_DRIVERS 8
#define TB_CONF_MAX_OPTS    32 /* extra key = value lines per driver */
#define TB_CONF_MAX_ERRORS  16

struct tb_conf_kv {
	char *key;
	char *value;
};

/* [listener] */
struct tb_conf_listener {
	char *address;                        /* "127.0.0.1"; "*" = all; default 127.0.0.1 */
	int port;                             /* 0 = ephemeral (tests); default 8470 */
	char *port_file;                      /* write the bound port here once listening */
	uint32_t max_connections;             /* default 10000 */
	uint64_t max_message_size;            /* bytes of one app frame; default 4096 */
	uint32_t max_requests_per_connection; /* in flight; default 8 */
	uint32_t max_queued_answers;          /* answers waiting to be written; default 64 */
	uint64_t handshake_timeout_ms;        /* default 5000 */
	uint64_t idle_timeout_ms;             /* 0 = none; default 0 */
};

/* [tam] or [tam:NAME] */
struct tb_conf_tam {
	char *name;                   /* "default" for [tam] */
	char *uri;                    /* the TAM URI, http:// or https:// */
	enum tb_numbering numbering;  /* "draft-26" (default) or "pre-26" */
	uint64_t connect_timeout_ms;  /* default 10000 */
	uint64_t response_timeout_ms; /* per HTTP exchange; default 30000 */
	uint64_t max_response_size;   /* bytes of one TAM answer; default 1M */
	uint32_t max_sessions;        /* concurrent exchanges; default 64 */
	char *ca_file;                /* CA bundle for https; NULL = system */
	int tls_insecure;             /* skip certificate checks; default 0 */
	char *accept_media_types;     /* media types accepted in answers besides
	                                 application/teep+cbor (older TAMs use
	                                 other +cbor/+cose types); NULL: none */
};

/* [driver:NAME] */
struct tb_conf_driver {
	char *name;                               /* the TEE's name, as apps select it */
	char *path;                               /* .so path; a bare name is looked up in
	                                             the driver directory */
	char *tam;                                /* name of the [tam] it talks to (default) */
	uint32_t queue_size;                      /* pending calls to this TEE; default 64 */
	uint64_t call_timeout_ms;                 /* one driver call; default 60000 */
	uint64_t policy_check_interval_ms;        /* 0 = off; default 0 */
	struct tb_conf_kv opts[TB_CONF_MAX_OPTS]; /* every other key */
	size_t n_opts;
};

/* [broker] */
struct tb_conf {
	char *pid_file;             /* NULL: none */
	int log_level;              /* TB_LOG_*; default notice */
	int log_syslog;             /* default 0: stderr */
	char *driver_dir;           /* default PKGLIBDIR "/drivers" */
	uint64_t shutdown_grace_ms; /* default 10000 */
	uint32_t max_sessions;      /* all TAM exchanges; default 256 */

	struct tb_conf_listener listener;
	struct tb_conf_tam tams[TB_CONF_MAX_TAMS];
	size_t n_tams;
	struct tb_conf_driver drivers[TB_CONF_MAX_DRIVERS];
	size_t n_drivers;
};

/* One problem found while reading: line 0 means "the file as a whole". */
struct tb_conf_error {
	int line;
	char msg[192];
};

/*
 * Read path into conf (which the function initialises with defaults first).
 * Returns TB_OK, or TB_ERR_INVAL/TB_ERR_IO with up to TB_CONF_MAX_ERRORS
 * problems in errs (each with its line number) and their count in *n_errs.
 * Checks the whole file before returning: unknown sections and keys, bad
 * values, out-of-range numbers, missing required keys ([driver:*] path,
 * [tam] uri), a driver naming an unknown TAM, no driver at all.
 */
int tb_conf_load(const char *path, struct tb_conf *conf, struct tb_conf_error *errs,
                 size_t *n_errs);
/* The same from a string (tests, fuzzing); name is used in messages. */
int tb_conf_load_string(const char *text, struct tb_conf *conf, struct tb_conf_error *errs,
                        size_t *n_errs);
void tb_conf_defaults(struct tb_conf *conf);
void tb_conf_free(struct tb_conf *conf);
const struct tb_conf_tam *tb_conf_find_tam(const struct tb_conf *conf, const char *name);

#endif

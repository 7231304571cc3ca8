/*
 * teep-agentd: a TEEP Agent as a process. It hosts the software TEEP Agent
 * (drivers/sim, linked in through its driver descriptor) and serves it to
 * the broker's "agent" driver over the Agent protocol
 * (docs/agent-protocol.md) on an AF_UNIX or AF_VSOCK socket, typically
 * inside a confidential VM.
 *
 * Threads: the main thread runs a poll() loop (server.c) that accepts,
 * reads, decodes and queues calls and writes answers; one executor thread
 * (exec.c) runs the Agent's operations one at a time, since the Agent is not
 * thread-safe, and owns the table that maps the opaque session handles of
 * the protocol to the Agent's sessions. They meet in exec.c's two queues.
 */
#ifndef AGENTD_H
#define AGENTD_H

#include <stddef.h>
#include <stdint.h>

#include <teep-broker/driver.h>

#include "tb_agentproto.h"
#include "tb_agentsock.h"

#define AD_MAX_AGENT_OPTS 32
#define AD_DEFAULT_SOCKET "unix:/run/teep-agentd/agentd.sock"

/* [agentd] and [agent] of the configuration file (conf.c). */
struct ad_conf {
	char *listen;         /* unix:PATH or vsock:CID:PORT */
	unsigned socket_mode; /* of a unix socket */
	size_t max_frame;     /* bytes of one frame, either way */
	size_t max_connections;
	size_t max_calls;  /* queued or running calls per connection */
	size_t queue_size; /* queued or running calls in all */
	size_t max_sessions;
	uint64_t hello_timeout_ms;
	int log_level;
	/* [agent]: options of the software Agent, as the sim driver takes them */
	struct tb_kv agent_opts[AD_MAX_AGENT_OPTS];
	size_t n_agent_opts;
};

void ad_conf_defaults(struct ad_conf *c);
/* Read a configuration file; logs the reason of a failure. */
int ad_conf_load(struct ad_conf *c, const char *path);
/* One "key=value" Agent option (command line); logs a failure. */
int ad_conf_agent_opt(struct ad_conf *c, const char *kv);
int ad_conf_set_listen(struct ad_conf *c, const char *addr);
void ad_conf_free(struct ad_conf *c);

/* One unit of work for the executor: a call, or the end of a connection
 * (whose sessions it closes). Owned by whoever holds it. */
struct ad_job {
	struct ad_job *next;
	uint64_t conn;   /* the connection's serial number */
	int conn_closed; /* the end of a connection, not a call */
	struct tb_ap_msg call;
	uint8_t *answer; /* the encoded answer frame, once done */
	size_t answer_len;
};

struct ad_exec;

/*
 * Start the executor thread around a driver instance; notify_fd gets a byte
 * written whenever a job is done. max_sessions bounds the session table.
 */
int ad_exec_start(const struct tb_driver *drv, void *inst, const struct tb_host *host,
                  size_t max_sessions, int notify_fd, struct ad_exec **out);
/* Queue a job (never fails: the caller bounds what it queues). */
void ad_exec_submit(struct ad_exec *x, struct ad_job *job);
/* Take the list of finished jobs (oldest first), or NULL. */
struct ad_job *ad_exec_take_done(struct ad_exec *x);
/* Stop: queued calls are answered "shutdown", every session is closed. */
void ad_exec_stop(struct ad_exec *x);
void ad_job_free(struct ad_job *job);

/* An error answer frame for a call id (or none); NULL if out of memory. */
uint8_t *ad_error_frame(int has_id, uint64_t id, int code, const char *reason,
                        uint64_t retry_after_ms, size_t *len);

/* The server loop; returns the process exit status after SIGTERM/SIGINT. */
int ad_serve(const struct ad_conf *c, const struct tb_driver *drv, struct ad_exec *x, int notify_fd,
             int listen_fd);

/* --ping: connect, handshake, print the welcome. Exit status. */
int ad_ping(const char *addr, uint64_t timeout_ms);

#endif

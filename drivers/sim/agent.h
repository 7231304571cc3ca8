/*
 * The software TEEP Agent behind the "sim" driver.
 *
 * This is NOT a TEE. It speaks the TEEP protocol (draft-ietf-teep-protocol-26,
 * or the older numbering) exactly as an Agent inside a TEE would, but its key
 * and the Trusted Components it "installs" are plain files in a state
 * directory that anyone with access to that directory can read or change.
 * It exists for demos and tests.
 *
 * Thread model: the broker calls every operation of one instance on that
 * instance's worker thread, one call at a time, and create/destroy on the
 * main thread while no operation runs (see driver.h). An agent therefore
 * needs no locking; two instances share nothing but read-only files.
 */
#ifndef SIM_AGENT_H
#define SIM_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include <teep-broker/driver.h>

#include "tb_teep.h"

#define SIM_MAX_COMPONENTS_LIMIT   1024 /* installed components, hard cap */
#define SIM_DEFAULT_MAX_COMPONENTS 256
#define SIM_DEFAULT_MAX_MESSAGE    (1024u * 1024u)
#define SIM_MAX_KEYS               16         /* tam_key / tc_signer entries */
#define SIM_SEGMENT_MAX            100        /* bytes of one component-id segment */
#define SIM_TEE_KIND               "software" /* the driver's tee_kind, Evidence hwmodel */
/* Text form of a component id: 8 segments of "0x" + 200 hex digits. */
#define SIM_CID_TEXT_MAX (TB_TEEP_MAX_SEGMENTS * (2 + 2 * SIM_SEGMENT_MAX + 1))

/* The configuration, already split into fields; strings are borrowed. */
struct sim_conf {
	const char *state_dir;   /* required */
	const char *agent_key;   /* NULL: <state_dir>/agent.pem, generated if missing */
	const char *decrypt_key; /* NULL: the agent key decrypts SUIT payloads */
	/* signs Evidence; NULL: <state_dir>/attestation.pem, generated if missing */
	const char *attestation_key;
	const char *tam_key;   /* required, comma-separated PEM paths */
	const char *tc_signer; /* required, comma-separated PEM paths */
	const char *tam_uri;   /* NULL: none */
	/* configfs-tsm report directory: Evidence carries a hardware report
	 * when it exists (NULL or "off": never) */
	const char *tsm_report;
	enum tb_numbering numbering;
	size_t max_components;  /* 1..SIM_MAX_COMPONENTS_LIMIT */
	size_t max_message;     /* bytes */
	uint64_t call_delay_ms; /* every Agent API call first sleeps this long */
	int call_delay_stuck;   /* ... and does not stop when the call is cancelled */
};

enum sim_session_kind { SIM_SESSION_REQUEST, SIM_SESSION_UNREQUEST, SIM_SESSION_POLICY };

enum sim_session_state {
	SIM_STATE_STARTED, /* handed to the broker, nothing received yet */
	SIM_STATE_QUERIED, /* answered a QueryRequest */
	SIM_STATE_UPDATED, /* answered an Update with Success */
	SIM_STATE_FAILED   /* answered with an Error, or the transport failed */
};

struct sim_agent;
struct sim_session;

/* Create an agent: state directory, keys, installed set. Logs the reason of
 * a failure through host->log. */
int agent__create(const struct tb_host *host, const struct sim_conf *conf, struct sim_agent **out);
void agent__destroy(struct sim_agent *a);
/* The configured call_delay: sleep it (on the calling worker thread);
 * with a driver ABI 1.1 host, only until the call is cancelled, and then
 * TB_ERR_TEE (the call is to fail at once), else TB_OK. */
int agent__call_delay(const struct sim_agent *a);

/*
 * The Agent API of RFC 9397 section 6.2.1. out follows the rules of struct
 * tb_agent_out: everything it gets is allocated with host->alloc() and
 * belongs to the broker afterwards. cid is borrowed.
 */
/* Driver ABI 1.2 answer_now: TB_OK when request_ta (op TB_OP_REQUEST_TA) or
 * unrequest_ta (TB_OP_UNREQUEST_TA) would do nothing -- the component is
 * installed, or not -- having done what that call does then; TB_ERR_AGAIN
 * when the full call is needed. A lookup among the installed components: no
 * I/O, no cryptography. */
/* sim.c: the Agent of a driver instance (for the unit tests). */
struct sim_agent *sim__agent(void *instance);
int agent__answer_now(struct sim_agent *a, int op, const struct tb_component_id *cid);
int agent__request_ta(struct sim_agent *a, const struct tb_component_id *cid, const char *hint,
                      struct tb_agent_out *out);
int agent__unrequest_ta(struct sim_agent *a, const struct tb_component_id *cid, const char *hint,
                        struct tb_agent_out *out);
int agent__policy_check(struct sim_agent *a, struct tb_agent_out *out);
int agent__process_message(struct sim_agent *a, struct sim_session *s, const char *media_type,
                           const uint8_t *msg, size_t len, struct tb_agent_out *out);
void agent__process_error(struct sim_agent *a, struct sim_session *s);
void agent__session_free(struct sim_agent *a, struct sim_session *s);

/* Introspection, for logs and tests. */
size_t agent__installed_count(const struct sim_agent *a);
int agent__is_installed(const struct sim_agent *a, const struct tb_component_id *cid);
enum sim_session_state agent__session_state(const struct sim_session *s);

/*
 * The text form used for directory names, info files and logs: segments
 * joined by '/'; a segment made of [A-Za-z0-9._-] is written as is unless it
 * could be mistaken for something else (".", "..", a leading "0x", one of
 * the file names of a component directory), every other segment as "0x" and
 * lowercase hex. The mapping is one-to-one, so the text parses back.
 * agent__cid_to_text returns TB_OK or TB_ERR_TOOBIG (segment or buffer too
 * long, or no segment at all).
 */
int agent__cid_to_text(const struct tb_component_id *c, char *out, size_t outlen);
int agent__cid_from_text(const char *text, struct tb_component_id *out);

#endif

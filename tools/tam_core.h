/*
 * The logic of the bundled reference TAM (teep-tam), without any I/O on the
 * network: it answers TEEP/HTTP "ProcessConnect" and "ProcessTeepMessage"
 * (draft-ietf-teep-otrp-over-http-15 section 6) with signed TEEP messages.
 *
 * This is a development and test TAM. It knows a fixed set of Trusted
 * Components (SUIT envelopes in a catalog directory) and a fixed set of
 * trusted TEEP Agent keys, and it keeps all state in memory. It is NOT meant
 * for production use.
 *
 * One struct tam_core per process; everything it needs is passed in at
 * creation, nothing is global. Not thread-safe: call it from one thread.
 */
#ifndef TAM_CORE_H
#define TAM_CORE_H

#include "tam_appraise.h"
#include "tb_cose.h"
#include "tb_teep.h"
#include <stddef.h>
#include <stdint.h>
#include <teep-broker/driver.h> /* TB_OK, TB_ERR_* */

#define TAM_TOKEN_LEN            16
#define TAM_DEFAULT_MAX_BODY     (1024u * 1024u)
#define TAM_DEFAULT_MAX_MANIFEST (1024u * 1024u)
#define TAM_DEFAULT_MAX_TOKENS   1024u
/* The draft recommends "several hours": an Update may take that long. */
#define TAM_DEFAULT_TOKEN_LIFETIME_MS (6ull * 3600u * 1000u)
#define TAM_MAX_CATALOG               1024u /* envelopes indexed at most */
#define TAM_MAX_TOKENS                (1024u * 1024u)
#define TAM_MAX_UPDATE                (64u * 1024u * 1024u) /* envelope bytes per Update */

/* How the first QueryRequest of a session is signed. The draft wants a
 * COSE_Sign with one signature per offered cipher suite when the TAM does
 * not know the Agent's; a COSE_Sign1 is allowed when it does. */
enum tam_first_message {
	TAM_FIRST_COSE_SIGN1 = 0, /* default: COSE_Sign1, like every other message */
	TAM_FIRST_COSE_SIGN = 1,  /* COSE_Sign (tag 98), ESP256/ES256 signer only */
};

struct tam_core_conf {
	/* The TAM's signing key (private part required). Borrowed: it must
	 * outlive the core. */
	const struct tb_key *signing_key;
	/* Public keys of the TEEP Agents we accept messages from (1..N).
	 * Borrowed, like signing_key. */
	const struct tb_key *const *agent_keys;
	size_t n_agent_keys;
	/* Directory of *.suit SUIT envelopes, indexed once at creation. */
	const char *catalog_dir;
	enum tb_numbering numbering;
	enum tam_first_message first_message;
	size_t max_body;            /* 0: TAM_DEFAULT_MAX_BODY */
	size_t max_manifest;        /* catalog file cap; 0: TAM_DEFAULT_MAX_MANIFEST */
	size_t max_tokens;          /* outstanding tokens; 0: TAM_DEFAULT_MAX_TOKENS */
	uint64_t token_lifetime_ms; /* 0: TAM_DEFAULT_TOKEN_LIFETIME_MS */
	/* Monotonic clock in milliseconds; NULL: tb_now_ms. Tests set it to
	 * make token expiry deterministic. */
	uint64_t (*now_ms)(void *arg);
	void *now_arg;
	/* Components to install whether the Agent requested them or not, when
	 * its QueryResponse does not list them installed (a TAM that pushes:
	 * an app delivering its own personalization data). Borrowed. */
	const struct tb_component_id *push;
	size_t n_push;
	/* QueryRequests and Updates carry no token (as some TAMs send them),
	 * and answers without one are taken as answering the last message of
	 * their kind; answers with a token are still checked against the
	 * table. For interoperability tests. */
	int no_token;
	/* Remote attestation (NULL: off): QueryRequests ask for attestation
	 * with a fresh challenge and no token (draft-26 section 4.3), the
	 * Evidence is appraised against this policy, and only an Agent whose
	 * Attestation Result is affirming gets an Update. Borrowed. */
	const struct tam_attest_policy *attest;
	/* With attest: an Agent whose result is not affirming gets no answer
	 * at all (tam_core_message() returns none) instead of an Update
	 * carrying only err-code; tam_core_last_attestation() says why. For
	 * a TAM that ends the session itself (--via-broker). */
	int attest_no_refusal;
	/* With attest: a directory where each device's latest signed EAR is
	 * kept, as UEID-IN-HEX.ear, replaced atomically (NULL: none). Only
	 * Evidence that verified names a device. Borrowed. */
	const char *ear_dir;
};

/* What happened to the messages we received, for the operator and tests. */
struct tam_counters {
	uint64_t connects;           /* QueryRequests issued */
	uint64_t query_responses;    /* accepted QueryResponses */
	uint64_t updates;            /* Updates sent */
	uint64_t successes;          /* accepted Success messages */
	uint64_t errors;             /* accepted Error messages */
	uint64_t unknown_components; /* requested but not in the catalog */
	uint64_t attest_affirming;   /* Attestation Results affirming */
	uint64_t attest_refused;     /* not affirming: no Update */
	/* dropped messages, by reason */
	uint64_t drop_too_big;
	uint64_t drop_bad_cose;      /* not a COSE_Sign1/COSE_Sign we can process */
	uint64_t drop_bad_signature; /* no trusted agent key verifies it */
	uint64_t drop_bad_message;   /* signed, but not a valid TEEP message */
	uint64_t drop_unknown_token; /* missing, never issued, used or expired */
	uint64_t drop_unexpected;    /* a type the TAM does not accept here */
	/* token table */
	uint64_t tokens_evicted; /* pushed out because the table was full */
	uint64_t tokens_expired; /* timed out unanswered */
};

struct tam_core;

/*
 * Create a core: check the configuration, compute the key thumbprint and
 * index the catalog. On failure returns a TB_ERR_* code and writes a reason
 * into err.
 */
int tam_core_create(const struct tam_core_conf *conf, struct tam_core **out, char *err,
                    size_t errlen);
void tam_core_free(struct tam_core *tam);

/*
 * ProcessConnect: start a session. *out gets a malloc()ed, signed
 * QueryRequest (a COSE_Sign1, or a COSE_Sign with TAM_FIRST_COSE_SIGN)
 * carrying a fresh token. Returns TB_OK or a TB_ERR_* code when the TAM
 * cannot produce it (HTTP 500).
 */
int tam_core_connect(struct tam_core *tam, uint8_t **out, size_t *out_len);

/*
 * ProcessTeepMessage: handle one message from an Agent. Returns TB_OK with
 * *out set to a malloc()ed signed answer, or TB_OK with *out == NULL when
 * there is nothing to answer (HTTP 204) -- which is also what happens to
 * messages the TAM drops as invalid. Any other return means the TAM could
 * not produce a result (HTTP 500).
 */
int tam_core_message(struct tam_core *tam, const uint8_t *body, size_t len, uint8_t **out,
                     size_t *out_len);

const struct tam_counters *tam_core_counters(const struct tam_core *tam);
/* The ear_status of the last appraisal (TB_EAR_NONE: none yet); why gets
 * the reason it is not affirming ("" when it is). */
int tam_core_last_attestation(const struct tam_core *tam, char *why, size_t whylen);
size_t tam_core_catalog_count(const struct tam_core *tam);
size_t tam_core_outstanding_tokens(struct tam_core *tam); /* after expiry */

/* "draft-26" / "pre-26" (also "26", "pre26"). Returns TB_OK or TB_ERR_INVAL. */
int tam_numbering_parse(const char *s, enum tb_numbering *out);
const char *tam_numbering_name(enum tb_numbering num);
/* "cose-sign1" / "cose-sign". Returns TB_OK or TB_ERR_INVAL. */
int tam_first_message_parse(const char *s, enum tam_first_message *out);
const char *tam_first_message_name(enum tam_first_message first);

#endif

/*
 * The app API: what Untrusted Applications speak to teep-brokerd over a
 * websocket (subprotocol "teep-broker.v1"), one CBOR map per binary frame.
 * docs/ua-api.md is the specification, with CDDL; this module encodes and
 * decodes it for the broker and for clients such as teep-ua.
 */
#ifndef TB_UAPROTO_H
#define TB_UAPROTO_H

#include "tb_teep.h"
#include <stdint.h>

#define TB_UA_SUBPROTOCOL "teep-broker.v1"
#define TB_UA_MAX_URI     512 /* bytes of a TAM URI hint */
#define TB_UA_MAX_NAME    64  /* bytes of a TEE name */
#define TB_UA_MAX_TEXT    256 /* bytes of any reason/detail text */
/* bytes of a TEEP message in "msg" (the broker's frame size bounds it more) */
#define TB_UA_MAX_MSG (1024 * 1024)

enum tb_ua_op {
	TB_UA_OP_NONE = 0,
	TB_UA_OP_REQUEST_TA,   /* "request-ta" */
	TB_UA_OP_UNREQUEST_TA, /* "unrequest-ta" */
	TB_UA_OP_POLICY_CHECK, /* "policy-check" */
	TB_UA_OP_TAM_SESSION,  /* "tam-session": the app acts as a TAM */
	TB_UA_OP_TAM_MESSAGE,  /* "tam-message": one TAM message for the Agent */
	TB_UA_OP_TAM_END       /* "tam-end": close the tam-session */
};

/* Error codes in "error" answers (stable; documented in docs/ua-api.md). */
enum tb_ua_code {
	TB_UA_E_MALFORMED = 1,        /* frame is not a valid request */
	TB_UA_E_UNSUPPORTED = 2,      /* unknown op, text frame, ... */
	TB_UA_E_DUPLICATE_ID = 3,     /* id already in use on this connection */
	TB_UA_E_NO_TEE = 4,           /* no such TEE */
	TB_UA_E_TEE = 5,              /* the TEE driver failed */
	TB_UA_E_TAM_UNREACHABLE = 6,  /* connect/transport error towards the TAM */
	TB_UA_E_TAM_HTTP = 7,         /* the TAM answered with an HTTP error */
	TB_UA_E_TAM_PROTOCOL = 8,     /* bad answer from the TAM (type, size, ...) */
	TB_UA_E_TIMEOUT = 9,          /* TAM or TEE did not answer in time */
	TB_UA_E_SHUTDOWN = 10,        /* broker is stopping */
	TB_UA_E_TOO_LARGE = 11,       /* frame over the configured size */
	TB_UA_E_AGENT_ERROR = 12,     /* exchange ended with a TEEP Error from the Agent */
	TB_UA_E_INTERNAL = 13,        /* out of memory or a bug */
	TB_UA_E_TAM_NOT_ALLOWED = 14, /* a TAM URI the operator does not allow */
	TB_UA_E_FORBIDDEN = 15,       /* the broker's policy refused the request */
	TB_UA_E_NO_SESSION = 16,      /* tam-message/tam-end: no such open tam-session */
	TB_UA_E_REJECTED = 17,        /* a TAM message failed the broker's pre-check */
	TB_UA_E_SESSION_LIMIT = 18    /* a tam-session reached its message cap */
};

/* A decoded request; strings are NUL-terminated copies owned by the struct. */
struct tb_ua_request {
	uint64_t id;
	enum tb_ua_op op;
	struct tb_component_id component; /* n == 0 for policy-check */
	char *tam_uri;                    /* NULL if absent */
	char *tee;                        /* NULL: the default TEE */
	uint64_t session;                 /* tam-message, tam-end: the tam-session's id */
	uint8_t *msg;                     /* tam-message: the TEEP message (owned) */
	size_t msg_len;
};

enum tb_ua_event { TB_UA_EV_PROGRESS = 1, TB_UA_EV_DONE, TB_UA_EV_ERROR, TB_UA_EV_BUSY };

/* A decoded or to-be-encoded answer. */
struct tb_ua_answer {
	int has_id; /* 0 for an error about a frame without a usable id */
	uint64_t id;
	enum tb_ua_event event;
	const char *step;        /* progress: "tee", "tam-connect", "query-request", ... */
	const char *detail;      /* progress/done: optional free text */
	const char *result;      /* done: "installed", "removed", "no-change", "completed" */
	int code;                /* error */
	const char *reason;      /* error */
	uint64_t retry_after_ms; /* busy */
	const uint8_t *msg;      /* done of a tam-message: the Agent's answer, or NULL */
	size_t msg_len;
};

/*
 * Decode one request frame. On failure returns TB_ERR_PARSE/TB_ERR_INVAL with
 * a reason in err; if an id could be read it is stored in *id_out and
 * *has_id set, so the error answer can name it. An unknown op returns
 * TB_ERR_UNSUP (answer TB_UA_E_UNSUPPORTED rather than TB_UA_E_MALFORMED).
 */
int tb_ua_request_decode(const uint8_t *buf, size_t len, struct tb_ua_request *req, int *has_id,
                         uint64_t *id_out, char *err, size_t errlen);
void tb_ua_request_clear(struct tb_ua_request *req);
int tb_ua_request_encode(const struct tb_ua_request *req, uint8_t **out, size_t *out_len);

/* Encode an answer into out[0..cap); returns bytes written or a negative
 * status. Answers are small: TB_UA_ANSWER_MAX bytes always suffice, plus
 * msg_len for a done answer that carries a msg. */
#define TB_UA_ANSWER_MAX 1024
int tb_ua_answer_encode(const struct tb_ua_answer *a, uint8_t *out, size_t cap);
/* Decode an answer (clients). Strings, and a "msg", are copied into the
 * caller's arena. */
int tb_ua_answer_decode(const uint8_t *buf, size_t len, struct tb_ua_answer *a, char *arena,
                        size_t arena_len);

const char *tb_ua_op_name(enum tb_ua_op op);
const char *tb_ua_code_name(int code);

#endif

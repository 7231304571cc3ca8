/*
 * The Agent protocol: what the broker's "agent" driver and teep-agentd (a
 * TEEP Agent as a process, e.g. inside a confidential VM) speak over a
 * stream socket (AF_UNIX or AF_VSOCK). docs/agent-protocol.md is the
 * specification, with CDDL; this module encodes and decodes it for both
 * ends.
 *
 * A frame is a 4-byte big-endian length N (1..max_frame) followed by N bytes
 * holding one CBOR map. The client opens with "hello" (the versions it
 * speaks), the server answers "welcome" (the version it chose) or an error
 * answer and closes. Then the client sends "call"s, each with an id, and the
 * server answers each with an "answer" carrying the same id, in any order.
 */
#ifndef TB_AGENTPROTO_H
#define TB_AGENTPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "tb_teep.h"

#define TB_AP_VERSION      1 /* the only version so far */
#define TB_AP_MAX_VERSIONS 16
/* Frame sizes: the default and the range an operator may configure. */
#define TB_AP_DEFAULT_MAX_FRAME (2u * 1024 * 1024)
#define TB_AP_MIN_MAX_FRAME     4096u
#define TB_AP_MAX_MAX_FRAME     (64u * 1024 * 1024)
#define TB_AP_HDR_LEN           4
/* Member bounds (bytes). */
#define TB_AP_MAX_SEGMENT 256  /* one component id segment */
#define TB_AP_MAX_URI     2048 /* a TAM URI */
#define TB_AP_MAX_NAME    256  /* app id, client and agent descriptions */
#define TB_AP_MAX_MEDIA   128  /* a media type */
#define TB_AP_MAX_TEXT    512  /* a reason */

enum tb_ap_type { TB_AP_NONE = 0, TB_AP_HELLO, TB_AP_WELCOME, TB_AP_CALL, TB_AP_ANSWER };

enum tb_ap_op {
	TB_AP_OP_NONE = 0,
	TB_AP_OP_REQUEST_TA,      /* "request-ta" */
	TB_AP_OP_UNREQUEST_TA,    /* "unrequest-ta" */
	TB_AP_OP_POLICY_CHECK,    /* "policy-check" */
	TB_AP_OP_PROCESS_MESSAGE, /* "process-teep-message" */
	TB_AP_OP_PROCESS_ERROR,   /* "process-error" */
	TB_AP_OP_SESSION_CLOSE    /* "session-close" */
};

/* Error codes of answers (stable; docs/agent-protocol.md). 0 is "ok". */
enum tb_ap_code {
	TB_AP_OK = 0,
	TB_AP_E_MALFORMED = 1,    /* not a valid frame or message */
	TB_AP_E_UNSUPPORTED = 2,  /* unknown type, op, or no common version */
	TB_AP_E_TOO_LARGE = 3,    /* frame over max_frame */
	TB_AP_E_BUSY = 4,         /* queue full: retry later */
	TB_AP_E_NO_SESSION = 5,   /* a session handle this connection does not hold */
	TB_AP_E_DUPLICATE_ID = 6, /* a call id still in progress */
	TB_AP_E_AGENT = 7,        /* the Agent returned an error ("tee-status") */
	TB_AP_E_INTERNAL = 8,     /* out of memory or a bug */
	TB_AP_E_HANDSHAKE = 9,    /* a call before hello, a second hello */
	TB_AP_E_SHUTDOWN = 10     /* the server is stopping */
};
#define TB_AP_CODE_MAX TB_AP_E_SHUTDOWN

/*
 * One message. Which members mean something depends on type (and op);
 * pointers are owned by the struct and released by tb_ap_msg_clear() after
 * a decode. For an encode, the caller's pointers are only read.
 */
struct tb_ap_msg {
	enum tb_ap_type type;

	/* hello */
	uint64_t versions[TB_AP_MAX_VERSIONS];
	size_t n_versions;
	char *client; /* optional description of the client */

	/* welcome */
	uint64_t version;
	char *agent; /* description of the Agent */
	uint64_t max_frame;
	uint64_t max_calls; /* calls the server queues per connection */

	/* call and answer */
	int has_id; /* an answer about a frame without a usable id has none */
	uint64_t id;

	/* call */
	enum tb_ap_op op;
	struct tb_component_id component; /* request-ta, unrequest-ta */
	char *app_id;                     /* request-ta, unrequest-ta: optional */

	/* call (hint, request-ta and unrequest-ta) and answer (the TAM to use) */
	char *tam_uri;
	/* call: process-teep-message, process-error, session-close; answer:
	 * a new session of request-ta, unrequest-ta, policy-check */
	int has_session;
	uint64_t session; /* nonzero */
	/* call: process-teep-message; answer: the message for the TAM */
	char *media_type; /* NULL: application/teep+cbor */
	uint8_t *msg;
	size_t msg_len;

	/* answer */
	int code;     /* enum tb_ap_code; TB_AP_OK means status "ok" */
	char *reason; /* errors: required */
	int has_retry;
	uint64_t retry_after_ms; /* errors: worth retrying after this long */
	int tee_status;          /* TB_AP_E_AGENT: the Agent's enum tb_status, < 0 */
};

/*
 * Decode one frame's payload (without the length prefix). On failure the
 * struct is cleared except type, has_id and id when they could be read (so
 * an error answer can name the call), *code gets the answer code to send
 * (TB_AP_E_MALFORMED or TB_AP_E_UNSUPPORTED) and err a reason. Returns
 * TB_OK, TB_ERR_PARSE, TB_ERR_INVAL, TB_ERR_UNSUP or TB_ERR_NOMEM.
 */
int tb_ap_decode(const uint8_t *buf, size_t len, struct tb_ap_msg *m, int *code, char *err,
                 size_t errlen);
void tb_ap_msg_clear(struct tb_ap_msg *m);

/*
 * Encode a message as a whole frame, length prefix included, into a new
 * malloc()ed buffer. The encoder checks what the decoder checks, so it never
 * produces a message the other end must refuse. Returns TB_OK, TB_ERR_INVAL
 * or TB_ERR_NOMEM.
 */
int tb_ap_encode(const struct tb_ap_msg *m, uint8_t **frame, size_t *frame_len);

/*
 * Incremental frame reader: bytes in, whole frames out. It allocates a
 * frame's buffer only once the length prefix is known to be within
 * max_frame, so one reader holds at most max_frame + 4 bytes.
 */
struct tb_ap_reader {
	size_t max_frame;
	uint8_t hdr[TB_AP_HDR_LEN];
	size_t hdr_got;
	uint8_t *buf;
	size_t len, got;
};

#define TB_AP_MORE  0 /* all bytes consumed, no whole frame yet */
#define TB_AP_FRAME 1 /* *frame holds one frame's payload (caller frees) */

void tb_ap_reader_init(struct tb_ap_reader *r, size_t max_frame);
/*
 * Consume bytes from data[0..len). Returns TB_AP_FRAME (stops right after
 * the frame; *consumed says how far), TB_AP_MORE, TB_ERR_TOOBIG (a length of
 * 0 or above max_frame: the stream cannot be resynchronised) or
 * TB_ERR_NOMEM.
 */
int tb_ap_reader_feed(struct tb_ap_reader *r, const uint8_t *data, size_t len, size_t *consumed,
                      uint8_t **frame, size_t *frame_len);
/* Bytes of a partial frame held (0 between frames). */
size_t tb_ap_reader_pending(const struct tb_ap_reader *r);
void tb_ap_reader_clear(struct tb_ap_reader *r);

const char *tb_ap_op_name(enum tb_ap_op op);
const char *tb_ap_type_name(enum tb_ap_type type);
const char *tb_ap_code_name(int code);

#endif

/*
 * The TEEP-over-HTTP client loop of draft-ietf-teep-otrp-over-http-15 §5 for
 * one exchange, as a state machine without I/O: events in, one action out.
 * The session module performs the actions (HTTP POSTs through lws, Agent calls
 * through the TEE worker) and feeds their outcomes back.
 *
 *   Agent result (uri, msg?)     -> POST msg (or an empty body) to uri
 *   HTTP 2xx with a body         -> ProcessTeepMessage(body)
 *   HTTP 2xx empty (204)         -> finish: ok
 *   HTTP non-2xx, transport error, timeout, bad media type, oversize,
 *   a truncated or unreadable answer
 *                                -> ProcessError, then finish: failed
 *   Agent answers a message      -> POST it to the same uri (after
 *                                   TAMSM_MAX_ROUND_TRIPS answers of the
 *                                   TAM: ProcessError, then finish: failed)
 *   Agent answers nothing        -> finish: ok
 *   Agent call failed            -> finish: failed (nothing is sent)
 */
#ifndef TB_TAMSM_H
#define TB_TAMSM_H

#include <stddef.h>

/* TAM answers in one exchange; an Agent that still has something to say
 * after that many ends it failed (a TAM and an Agent could otherwise talk
 * for ever). */
#define TAMSM_MAX_ROUND_TRIPS 32

enum tamsm_state {
	TAMSM_IDLE = 0, /* waiting for the first Agent result */
	TAMSM_POSTING,  /* an HTTP request is outstanding */
	TAMSM_AGENT,    /* ProcessTeepMessage is outstanding */
	TAMSM_ERRORING, /* ProcessError is outstanding */
	TAMSM_DONE
};

enum tamsm_action {
	TAMSM_A_NONE = 0,
	TAMSM_A_POST,          /* POST the Agent's message (or nothing) */
	TAMSM_A_AGENT_MESSAGE, /* give the TAM's body to ProcessTeepMessage */
	TAMSM_A_AGENT_ERROR,   /* call ProcessError */
	TAMSM_A_FINISH         /* the exchange is over; see result/fail */
};

/* Why an exchange failed (maps onto the app API's error codes). */
enum tamsm_fail {
	TAMSM_F_NONE = 0,
	TAMSM_F_TRANSPORT, /* connect/DNS/TLS/reset */
	TAMSM_F_HTTP,      /* non-2xx (including 3xx: redirects are not followed) */
	TAMSM_F_PROTOCOL,  /* an unacceptable answer or exchange: see tamsm_cause */
	TAMSM_F_TIMEOUT,   /* no answer in time */
	TAMSM_F_AGENT      /* the Agent (driver) call failed */
};

/* What exactly made an exchange fail, beyond tamsm_fail: the words of the
 * app's reason. */
enum tamsm_cause {
	TAMSM_C_NONE = 0,
	TAMSM_C_MEDIA_TYPE,  /* a 2xx answer of a media type not accepted */
	TAMSM_C_TOO_LARGE,   /* the answer is over a bound */
	TAMSM_C_MALFORMED,   /* not an HTTP/1.1 answer we can read */
	TAMSM_C_TRUNCATED,   /* the connection ended before the answer did */
	TAMSM_C_MESSAGE_CAP, /* TAMSM_MAX_ROUND_TRIPS reached */
};

enum tamsm_http_outcome {
	TAMSM_HTTP_OK = 0,    /* a complete response arrived */
	TAMSM_HTTP_TRANSPORT, /* lower-layer failure */
	TAMSM_HTTP_TIMEOUT,   /* connect or response timeout */
	TAMSM_HTTP_TOO_LARGE, /* body exceeded the configured cap */
	TAMSM_HTTP_MALFORMED, /* not an HTTP/1.1 answer we can read */
	TAMSM_HTTP_TRUNCATED  /* the connection ended before the answer did */
};

struct tamsm {
	enum tamsm_state state;
	enum tamsm_fail fail;
	enum tamsm_cause cause;
	int http_status; /* last HTTP status seen, 0 if none */
	unsigned round_trips;
};

void tamsm_init(struct tamsm *sm);

/* The first Agent call returned. has_uri: a TAM URI was returned; ok: the
 * call itself succeeded. */
enum tamsm_action tamsm_agent_started(struct tamsm *sm, int ok, int has_uri);

/*
 * An HTTP exchange ended. For TAMSM_HTTP_OK pass the status, whether the
 * Content-Type is acceptable, and the body length.
 */
enum tamsm_action tamsm_http_done(struct tamsm *sm, enum tamsm_http_outcome outcome, int status,
                                  int media_type_ok, size_t body_len);

/* ProcessTeepMessage returned: ok, and whether it produced a message. */
enum tamsm_action tamsm_agent_answered(struct tamsm *sm, int ok, int has_msg);

/* The TAM's body did not reach the Agent: the broker's pre-check refused it
 * instead of ProcessTeepMessage. The Agent hears of it through ProcessError
 * and the exchange fails as a protocol error, as for a malformed answer. */
enum tamsm_action tamsm_agent_refused(struct tamsm *sm);
/* ProcessError returned. */
enum tamsm_action tamsm_agent_errored(struct tamsm *sm);

/* The exchange must end now (broker stopping, app gone for good...). If an
 * HTTP request is outstanding the Agent is told with ProcessError. */
enum tamsm_action tamsm_abort(struct tamsm *sm, enum tamsm_fail why);

const char *tamsm_fail_name(enum tamsm_fail f);

#endif

#include "config.h"
#include "tamsm.h"

void tamsm_init(struct tamsm *sm)
{
	sm->state = TAMSM_IDLE;
	sm->fail = TAMSM_F_NONE;
	sm->cause = TAMSM_C_NONE;
	sm->http_status = 0;
	sm->round_trips = 0;
}

static enum tamsm_action finish(struct tamsm *sm, enum tamsm_fail why)
{
	sm->state = TAMSM_DONE;
	sm->fail = why;
	return TAMSM_A_FINISH;
}

/* A delivery failure: the Agent hears of it through ProcessError first. */
static enum tamsm_action delivery_failed(struct tamsm *sm, enum tamsm_fail why)
{
	sm->state = TAMSM_ERRORING;
	sm->fail = why;
	return TAMSM_A_AGENT_ERROR;
}

static enum tamsm_action protocol_failed(struct tamsm *sm, enum tamsm_cause cause)
{
	sm->cause = cause;
	return delivery_failed(sm, TAMSM_F_PROTOCOL);
}

enum tamsm_action tamsm_agent_started(struct tamsm *sm, int ok, int has_uri)
{
	if (sm->state != TAMSM_IDLE)
		return TAMSM_A_NONE;
	if (!ok)
		return finish(sm, TAMSM_F_AGENT);
	if (!has_uri)
		return finish(sm, TAMSM_F_NONE);
	sm->state = TAMSM_POSTING;
	return TAMSM_A_POST;
}

enum tamsm_action tamsm_http_done(struct tamsm *sm, enum tamsm_http_outcome outcome, int status,
                                  int media_type_ok, size_t body_len)
{
	if (sm->state != TAMSM_POSTING)
		return TAMSM_A_NONE;
	sm->round_trips++;
	switch (outcome) {
	case TAMSM_HTTP_TRANSPORT:
		return delivery_failed(sm, TAMSM_F_TRANSPORT);
	case TAMSM_HTTP_TIMEOUT:
		return delivery_failed(sm, TAMSM_F_TIMEOUT);
	case TAMSM_HTTP_TOO_LARGE:
		return protocol_failed(sm, TAMSM_C_TOO_LARGE);
	case TAMSM_HTTP_MALFORMED:
		return protocol_failed(sm, TAMSM_C_MALFORMED);
	case TAMSM_HTTP_TRUNCATED:
		return protocol_failed(sm, TAMSM_C_TRUNCATED);
	case TAMSM_HTTP_OK:
		break;
	}
	sm->http_status = status;
	if (status < 200 || status > 299)
		return delivery_failed(sm, TAMSM_F_HTTP);
	if (body_len == 0)
		return finish(sm, TAMSM_F_NONE);
	if (!media_type_ok)
		return protocol_failed(sm, TAMSM_C_MEDIA_TYPE);
	sm->state = TAMSM_AGENT;
	return TAMSM_A_AGENT_MESSAGE;
}

enum tamsm_action tamsm_agent_answered(struct tamsm *sm, int ok, int has_msg)
{
	if (sm->state != TAMSM_AGENT)
		return TAMSM_A_NONE;
	if (!ok)
		return finish(sm, TAMSM_F_AGENT);
	if (!has_msg)
		return finish(sm, TAMSM_F_NONE);
	if (sm->round_trips >= TAMSM_MAX_ROUND_TRIPS)
		/* the Agent's message is not sent: it learns so */
		return protocol_failed(sm, TAMSM_C_MESSAGE_CAP);
	sm->state = TAMSM_POSTING;
	return TAMSM_A_POST;
}

enum tamsm_action tamsm_agent_refused(struct tamsm *sm)
{
	if (sm->state != TAMSM_AGENT)
		return TAMSM_A_NONE;
	return delivery_failed(sm, TAMSM_F_PROTOCOL);
}

enum tamsm_action tamsm_agent_errored(struct tamsm *sm)
{
	if (sm->state != TAMSM_ERRORING)
		return TAMSM_A_NONE;
	sm->state = TAMSM_DONE;
	return TAMSM_A_FINISH;
}

enum tamsm_action tamsm_abort(struct tamsm *sm, enum tamsm_fail why)
{
	switch (sm->state) {
	case TAMSM_POSTING:
		return delivery_failed(sm, why);
	case TAMSM_DONE:
		return TAMSM_A_NONE;
	default:
		/* An Agent call is outstanding (or none started): its result
		 * will be ignored; nothing was lost in transit. */
		return finish(sm, why);
	}
}

const char *tamsm_fail_name(enum tamsm_fail f)
{
	switch (f) {
	case TAMSM_F_NONE:
		return "none";
	case TAMSM_F_TRANSPORT:
		return "transport";
	case TAMSM_F_HTTP:
		return "http";
	case TAMSM_F_PROTOCOL:
		return "protocol";
	case TAMSM_F_TIMEOUT:
		return "timeout";
	case TAMSM_F_AGENT:
		return "agent";
	}
	return "?";
}

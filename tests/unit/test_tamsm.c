/* The TEEP-over-HTTP client loop (draft -15 §5), event by event. */
#include "config.h"
#include "tamsm.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static void tamsm__agent_returns_nothing__finishes_ok_without_http(void **state)
{
	struct tamsm sm;
	tamsm_init(&sm);
	assert_int_equal(tamsm_agent_started(&sm, 1, 0), TAMSM_A_FINISH);
	assert_int_equal(sm.fail, TAMSM_F_NONE);
	assert_int_equal(sm.round_trips, 0);
}

static void tamsm__full_install_exchange__ends_on_204(void **state)
{
	struct tamsm sm;
	tamsm_init(&sm);
	/* RequestTA -> URI; empty POST */
	assert_int_equal(tamsm_agent_started(&sm, 1, 1), TAMSM_A_POST);
	/* QueryRequest */
	assert_int_equal(tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 1, 120), TAMSM_A_AGENT_MESSAGE);
	/* QueryResponse */
	assert_int_equal(tamsm_agent_answered(&sm, 1, 1), TAMSM_A_POST);
	/* Update */
	assert_int_equal(tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 1, 500), TAMSM_A_AGENT_MESSAGE);
	/* Success */
	assert_int_equal(tamsm_agent_answered(&sm, 1, 1), TAMSM_A_POST);
	/* 204 */
	assert_int_equal(tamsm_http_done(&sm, TAMSM_HTTP_OK, 204, 0, 0), TAMSM_A_FINISH);
	assert_int_equal(sm.fail, TAMSM_F_NONE);
	assert_int_equal(sm.round_trips, 3);
	assert_int_equal(sm.state, TAMSM_DONE);
}

static void tamsm__empty_200__also_ends(void **state)
{
	struct tamsm sm;
	tamsm_init(&sm);
	tamsm_agent_started(&sm, 1, 1);
	assert_int_equal(tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 0, 0), TAMSM_A_FINISH);
	assert_int_equal(sm.fail, TAMSM_F_NONE);
}

static void tamsm__agent_has_no_answer__finishes_ok(void **state)
{
	struct tamsm sm;
	tamsm_init(&sm);
	tamsm_agent_started(&sm, 1, 1);
	tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 1, 10);
	assert_int_equal(tamsm_agent_answered(&sm, 1, 0), TAMSM_A_FINISH);
	assert_int_equal(sm.fail, TAMSM_F_NONE);
}

static void expect_delivery_failure(enum tamsm_http_outcome o, int status, int media_ok, size_t len,
                                    enum tamsm_fail why)
{
	struct tamsm sm;
	tamsm_init(&sm);
	tamsm_agent_started(&sm, 1, 1);
	assert_int_equal(tamsm_http_done(&sm, o, status, media_ok, len), TAMSM_A_AGENT_ERROR);
	assert_int_equal(sm.state, TAMSM_ERRORING);
	/* nothing else may happen until ProcessError returns */
	assert_int_equal(tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 1, 5), TAMSM_A_NONE);
	assert_int_equal(tamsm_agent_answered(&sm, 1, 1), TAMSM_A_NONE);
	assert_int_equal(tamsm_agent_errored(&sm), TAMSM_A_FINISH);
	assert_int_equal(sm.fail, why);
}

static void tamsm__http_500__process_error_then_fail(void **state)
{
	expect_delivery_failure(TAMSM_HTTP_OK, 500, 1, 10, TAMSM_F_HTTP);
}

static void tamsm__redirect__is_an_error(void **state)
{
	expect_delivery_failure(TAMSM_HTTP_OK, 302, 0, 0, TAMSM_F_HTTP);
}

static void tamsm__informational__is_an_error(void **state)
{
	expect_delivery_failure(TAMSM_HTTP_OK, 199, 1, 10, TAMSM_F_HTTP);
}

static void tamsm__wrong_media_type__is_an_error(void **state)
{
	expect_delivery_failure(TAMSM_HTTP_OK, 200, 0, 10, TAMSM_F_PROTOCOL);
}

static void tamsm__transport_error__process_error_then_fail(void **state)
{
	expect_delivery_failure(TAMSM_HTTP_TRANSPORT, 0, 0, 0, TAMSM_F_TRANSPORT);
}

static void tamsm__timeout__process_error_then_fail(void **state)
{
	expect_delivery_failure(TAMSM_HTTP_TIMEOUT, 0, 0, 0, TAMSM_F_TIMEOUT);
}

static void tamsm__oversize_body__process_error_then_fail(void **state)
{
	expect_delivery_failure(TAMSM_HTTP_TOO_LARGE, 200, 1, 0, TAMSM_F_PROTOCOL);
}

/* A refused answer says which way it was refused; the exchange fails the
 * same way (ProcessError, then tam-protocol). */
static void expect_cause(enum tamsm_http_outcome o, int media_ok, enum tamsm_cause cause)
{
	struct tamsm sm;
	tamsm_init(&sm);
	tamsm_agent_started(&sm, 1, 1);
	assert_int_equal(tamsm_http_done(&sm, o, 200, media_ok, 10), TAMSM_A_AGENT_ERROR);
	assert_int_equal(sm.fail, TAMSM_F_PROTOCOL);
	assert_int_equal(sm.cause, cause);
	assert_int_equal(tamsm_agent_errored(&sm), TAMSM_A_FINISH);
	assert_int_equal(sm.cause, cause);
}

static void tamsm__refused_answers__name_their_cause(void **state)
{
	expect_cause(TAMSM_HTTP_OK, 0, TAMSM_C_MEDIA_TYPE);
	expect_cause(TAMSM_HTTP_TOO_LARGE, 1, TAMSM_C_TOO_LARGE);
	expect_cause(TAMSM_HTTP_MALFORMED, 1, TAMSM_C_MALFORMED);
	expect_cause(TAMSM_HTTP_TRUNCATED, 1, TAMSM_C_TRUNCATED);
}

/* An exchange that never ends by itself (a TAM answering every message with
 * another QueryRequest) stops at the cap: the Agent's next message is not
 * sent, the Agent hears of it, and the cause is the cap, not the answer. */
static void tamsm__message_cap__ends_with_its_own_cause(void **state)
{
	struct tamsm sm;
	tamsm_init(&sm);
	assert_int_equal(tamsm_agent_started(&sm, 1, 1), TAMSM_A_POST);
	for (unsigned i = 0; i < TAMSM_MAX_ROUND_TRIPS; i++) {
		assert_int_equal(tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 1, 10),
		                 TAMSM_A_AGENT_MESSAGE);
		if (i + 1 < TAMSM_MAX_ROUND_TRIPS)
			assert_int_equal(tamsm_agent_answered(&sm, 1, 1), TAMSM_A_POST);
	}
	assert_int_equal(sm.round_trips, TAMSM_MAX_ROUND_TRIPS);
	assert_int_equal(tamsm_agent_answered(&sm, 1, 1), TAMSM_A_AGENT_ERROR);
	assert_int_equal(sm.fail, TAMSM_F_PROTOCOL);
	assert_int_equal(sm.cause, TAMSM_C_MESSAGE_CAP);
	assert_int_equal(tamsm_agent_errored(&sm), TAMSM_A_FINISH);

	/* at the cap, an Agent with nothing more to say still ends well */
	tamsm_init(&sm);
	tamsm_agent_started(&sm, 1, 1);
	for (unsigned i = 0; i < TAMSM_MAX_ROUND_TRIPS; i++) {
		tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 1, 10);
		if (i + 1 < TAMSM_MAX_ROUND_TRIPS)
			tamsm_agent_answered(&sm, 1, 1);
	}
	assert_int_equal(tamsm_agent_answered(&sm, 1, 0), TAMSM_A_FINISH);
	assert_int_equal(sm.fail, TAMSM_F_NONE);
}

static void tamsm__agent_call_fails__no_process_error(void **state)
{
	struct tamsm sm;
	tamsm_init(&sm);
	assert_int_equal(tamsm_agent_started(&sm, 0, 0), TAMSM_A_FINISH);
	assert_int_equal(sm.fail, TAMSM_F_AGENT);

	tamsm_init(&sm);
	tamsm_agent_started(&sm, 1, 1);
	tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 1, 10);
	assert_int_equal(tamsm_agent_answered(&sm, 0, 0), TAMSM_A_FINISH);
	assert_int_equal(sm.fail, TAMSM_F_AGENT);
}

static void tamsm__answer_refused_by_precheck__process_error_then_fail(void **state)
{
	struct tamsm sm;
	tamsm_init(&sm);
	tamsm_agent_started(&sm, 1, 1);
	assert_int_equal(tamsm_agent_refused(&sm), TAMSM_A_NONE); /* not in the Agent yet */
	assert_int_equal(tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 1, 10), TAMSM_A_AGENT_MESSAGE);
	assert_int_equal(tamsm_agent_refused(&sm), TAMSM_A_AGENT_ERROR);
	assert_int_equal(sm.fail, TAMSM_F_PROTOCOL);
	assert_int_equal(tamsm_agent_answered(&sm, 1, 1), TAMSM_A_NONE);
	assert_int_equal(tamsm_agent_errored(&sm), TAMSM_A_FINISH);
	assert_int_equal(sm.fail, TAMSM_F_PROTOCOL);
}

static void tamsm__abort_while_posting__tells_the_agent(void **state)
{
	struct tamsm sm;
	tamsm_init(&sm);
	tamsm_agent_started(&sm, 1, 1);
	assert_int_equal(tamsm_abort(&sm, TAMSM_F_TIMEOUT), TAMSM_A_AGENT_ERROR);
	assert_int_equal(tamsm_agent_errored(&sm), TAMSM_A_FINISH);
	assert_int_equal(sm.fail, TAMSM_F_TIMEOUT);
	assert_int_equal(tamsm_abort(&sm, TAMSM_F_TIMEOUT), TAMSM_A_NONE);
}

static void tamsm__abort_while_agent_busy__finishes(void **state)
{
	struct tamsm sm;
	tamsm_init(&sm);
	tamsm_agent_started(&sm, 1, 1);
	tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 1, 10);
	assert_int_equal(tamsm_abort(&sm, TAMSM_F_TIMEOUT), TAMSM_A_FINISH);
	/* the late Agent answer is ignored */
	assert_int_equal(tamsm_agent_answered(&sm, 1, 1), TAMSM_A_NONE);
}

static void tamsm__events_out_of_order__ignored(void **state)
{
	struct tamsm sm;
	tamsm_init(&sm);
	assert_int_equal(tamsm_http_done(&sm, TAMSM_HTTP_OK, 200, 1, 10), TAMSM_A_NONE);
	assert_int_equal(tamsm_agent_answered(&sm, 1, 1), TAMSM_A_NONE);
	assert_int_equal(tamsm_agent_errored(&sm), TAMSM_A_NONE);
	assert_int_equal(sm.state, TAMSM_IDLE);
	assert_int_equal(tamsm_agent_started(&sm, 1, 1), TAMSM_A_POST);
	assert_int_equal(tamsm_agent_started(&sm, 1, 1), TAMSM_A_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tamsm__agent_returns_nothing__finishes_ok_without_http),
	    cmocka_unit_test(tamsm__full_install_exchange__ends_on_204),
	    cmocka_unit_test(tamsm__empty_200__also_ends),
	    cmocka_unit_test(tamsm__agent_has_no_answer__finishes_ok),
	    cmocka_unit_test(tamsm__http_500__process_error_then_fail),
	    cmocka_unit_test(tamsm__redirect__is_an_error),
	    cmocka_unit_test(tamsm__informational__is_an_error),
	    cmocka_unit_test(tamsm__wrong_media_type__is_an_error),
	    cmocka_unit_test(tamsm__transport_error__process_error_then_fail),
	    cmocka_unit_test(tamsm__timeout__process_error_then_fail),
	    cmocka_unit_test(tamsm__oversize_body__process_error_then_fail),
	    cmocka_unit_test(tamsm__answer_refused_by_precheck__process_error_then_fail),
	    cmocka_unit_test(tamsm__refused_answers__name_their_cause),
	    cmocka_unit_test(tamsm__message_cap__ends_with_its_own_cause),
	    cmocka_unit_test(tamsm__agent_call_fails__no_process_error),
	    cmocka_unit_test(tamsm__abort_while_posting__tells_the_agent),
	    cmocka_unit_test(tamsm__abort_while_agent_busy__finishes),
	    cmocka_unit_test(tamsm__events_out_of_order__ignored),
	};
	return cmocka_run_group_tests_name("tamsm", tests, NULL, NULL);
}

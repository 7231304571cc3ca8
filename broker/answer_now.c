/*
 * Requests a TEE driver answers at once, on the event loop (driver ABI 1.2
 * answer_now): a request-ta of a component the Agent has installed, an
 * unrequest-ta of one it has not. Such a request needs no exchange, so it
 * gets no session, no place in the fair queue and no worker thread: the
 * driver is asked right after the request's checks, and the app gets the
 * step "tee" and its final answer together.
 */
#include "config.h"
#include "broker.h"
#include "tb_log.h"

static int op_of(const struct tb_ua_request *req)
{
	return req->op == TB_UA_OP_REQUEST_TA     ? TB_OP_REQUEST_TA
	       : req->op == TB_UA_OP_UNREQUEST_TA ? TB_OP_UNREQUEST_TA
	                                          : 0;
}

int tb_answer_now_may(const struct tb_broker *b, const struct tb_ua_request *req,
                      const struct tb_tee *tee)
{
	return op_of(req) && tee->ld.ops.answer_now && !b->stopping && req->component.n > 0 &&
	       req->component.n <= TB_TEEP_MAX_SEGMENTS && tb_tee_is_up(tee);
}

int tb_answer_now(struct tb_broker *b, struct tb_ua_conn *conn, const struct tb_ua_request *req,
                  struct tb_tee *tee)
{
	struct tb_bytes segs[TB_TEEP_MAX_SEGMENTS];

	/* the caller asked tb_answer_now_may(): n is within the bound */
	for (size_t i = 0; i < req->component.n; i++)
		segs[i] = (struct tb_bytes){req->component.seg[i].ptr, req->component.seg[i].len};
	struct tb_ta_request tr = {
	    .struct_size = sizeof(tr),
	    .component_id = segs,
	    .n_segments = req->component.n,
	    .tam_uri = req->tam_uri,
	    .app_id = conn->identity[0] ? conn->identity : conn->addr_text,
	};
	if (!tb_tee_answer_now(tee, op_of(req), &tr))
		return 0;

	struct tb_ua_answer a = {.has_id = 1,
	                         .id = req->id,
	                         .event = TB_UA_EV_PROGRESS,
	                         .step = "tee",
	                         .detail = tee->conf->name};
	tb_ua_answer(conn, &a);
	a = (struct tb_ua_answer){.has_id = 1,
	                          .id = req->id,
	                          .event = TB_UA_EV_DONE,
	                          .result = "no-change",
	                          .detail = "the Agent had nothing to do"};
	tb_ua_answer(conn, &a);
	b->counters.requests++;
	b->counters.answers_done++;
	if (tb_log_enabled(TB_LOG_NOTICE)) {
		char what[160] = "";
		tb_component_id_format(&req->component, what, sizeof(what));
		tb_log(TB_LOG_NOTICE,
		       "app %s: request %llu: %s %s answered at once by tee %s: no-change",
		       conn->peer, (unsigned long long)req->id, tb_ua_op_name(req->op), what,
		       tee->conf->name);
	}
	return 1;
}

/*
 * libFuzzer target for the app API codec (lib/uaproto.c).
 *
 * Every input is decoded both as a request and as an answer. Whatever
 * decodes must survive a round trip: encoding it again succeeds and decodes
 * to the same thing. An abort() here is a finding.
 */
#include "tb_uaproto.h"

#include <teep-broker/driver.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static int same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void request_round_trip(const uint8_t *data, size_t size)
{
	struct tb_ua_request req, again;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t id;
	int has_id;
	char err[256];

	if (tb_ua_request_decode(data, size, &req, &has_id, &id, err, sizeof(err)) != TB_OK) {
		/* a rejected frame always explains itself */
		check(err[0] != 0);
		return;
	}
	check(has_id && id == req.id);
	check(tb_ua_request_encode(&req, &buf, &len) == TB_OK);
	check(tb_ua_request_decode(buf, len, &again, &has_id, &id, err, sizeof(err)) == TB_OK);
	check(again.id == req.id && again.op == req.op);
	check(again.component.n == req.component.n);
	for (size_t i = 0; i < req.component.n; i++)
		check(again.component.seg[i].len == req.component.seg[i].len &&
		      memcmp(again.component.seg[i].ptr, req.component.seg[i].ptr,
		             req.component.seg[i].len) == 0);
	check(same_text(again.tam_uri, req.tam_uri) && same_text(again.tee, req.tee));
	check(again.session == req.session && again.msg_len == req.msg_len);
	check(!req.msg || memcmp(again.msg, req.msg, req.msg_len) == 0);
	free(buf);
	tb_ua_request_clear(&again);
	tb_ua_request_clear(&req);
}

static void answer_round_trip(const uint8_t *data, size_t size)
{
	struct tb_ua_answer a, again;
	char arena[2048], arena2[2048];
	/* a done answer may carry a msg as large as the arena */
	uint8_t buf[TB_UA_ANSWER_MAX + sizeof(arena)];
	int n;

	if (tb_ua_answer_decode(data, size, &a, arena, sizeof(arena)) != TB_OK)
		return;
	n = tb_ua_answer_encode(&a, buf, sizeof(buf));
	check(n > 0 && (size_t)n <= TB_UA_ANSWER_MAX + a.msg_len);
	check(tb_ua_answer_decode(buf, (size_t)n, &again, arena2, sizeof(arena2)) == TB_OK);
	check(again.event == a.event && again.has_id == a.has_id && again.id == a.id);
	switch (a.event) {
	case TB_UA_EV_PROGRESS:
		check(same_text(again.step, a.step) && same_text(again.detail, a.detail));
		break;
	case TB_UA_EV_DONE:
		check(same_text(again.result, a.result) && same_text(again.detail, a.detail));
		check(again.msg_len == a.msg_len &&
		      (!a.msg || memcmp(again.msg, a.msg, a.msg_len) == 0));
		break;
	case TB_UA_EV_ERROR:
		check(again.code == a.code);
		break;
	case TB_UA_EV_BUSY:
		check(again.retry_after_ms == a.retry_after_ms);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	request_round_trip(data, size);
	answer_round_trip(data, size);
	return 0;
}

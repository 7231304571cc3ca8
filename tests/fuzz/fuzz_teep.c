/*
 * libFuzzer target: TEEP message decoding in both numberings, and the
 * streaming peeks (COSE payload, TEEP type) that must agree with it.
 *
 * A message that decodes and re-encodes must decode again to the same
 * type, and every component id it holds must survive its text form.
 */
#include "tb_cose.h"
#include "tb_teep.h"
#include <teep-broker/driver.h>

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_id_text(const struct tb_component_id *ids, size_t n)
{
	static char text[TB_TEEP_MAX_SEGMENTS * (2 + 2 * 512) + 1];

	for (size_t i = 0; i < n; i++) {
		struct tb_component_id back;
		size_t len = tb_component_id_format(&ids[i], text, sizeof(text));

		if (len == sizeof(text) - 1)
			continue; /* truncated: nothing to compare */
		if (tb_component_id_parse(text, &back) != TB_OK)
			abort();
		if (!tb_component_id_equal(&ids[i], &back))
			abort();
		tb_component_id_clear(&back);
	}
}

static void round_trip(const struct tb_teep_msg *m, enum tb_numbering num)
{
	struct tb_teep_msg again;
	uint8_t *out;
	size_t len;
	char err[128];

	if (tb_teep_encode(m, num, &out, &len) != TB_OK)
		return;
	if (tb_teep_decode(out, len, num, &again, err, sizeof(err)) != TB_OK)
		abort();
	if (again.type != m->type || again.n_tc_list != m->n_tc_list ||
	    again.n_manifest_list != m->n_manifest_list || again.err_code != m->err_code)
		abort();
	tb_teep_msg_clear(&again);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum tb_numbering nums[] = {TB_NUM_DRAFT26, TB_NUM_PRE26};

	const uint8_t *payload;
	size_t plen;

	/* the streaming COSE walk: a payload inside the input, or nothing */
	if (tb_cose_payload_span(data, size, &payload, &plen) == TB_OK &&
	    (payload < data || plen > size || payload + plen > data + size))
		abort();
	for (size_t i = 0; i < 2; i++) {
		struct tb_teep_msg m;
		char err[256];

		(void)tb_teep_peek_type(data, size, nums[i]);
		if (tb_teep_decode(data, size, nums[i], &m, err, sizeof(err)) != TB_OK) {
			if (err[0] == 0)
				abort(); /* a rejection always names the field */
			continue;
		}
		/* the streaming peek agrees with the full decode */
		if (tb_teep_peek_payload_type(data, size, nums[i]) != m.type)
			abort();
		check_id_text(m.tc_list, m.n_tc_list);
		check_id_text(m.requested_tc_list, m.n_requested_tc_list);
		check_id_text(m.unneeded_manifest_list, m.n_unneeded_manifest_list);
		round_trip(&m, nums[i]);
		tb_teep_msg_clear(&m);
	}
	return 0;
}

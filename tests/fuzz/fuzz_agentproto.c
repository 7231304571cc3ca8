/*
 * libFuzzer target for teep-agentd's frame decoding (lib/agentproto.c): the
 * input is a byte stream as a hostile peer would write it, fed to the frame
 * reader in chunks whose sizes the first byte chooses; every whole frame is
 * decoded, and what decodes must encode again and decode to the same type.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <teep-broker/driver.h>

#include "tb_agentproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_frame(const uint8_t *f, size_t len)
{
	struct tb_ap_msg m, again;
	uint8_t *enc;
	size_t elen;
	char err[200];
	int code;

	if (tb_ap_decode(f, len, &m, &code, err, sizeof(err)) != TB_OK) {
		if (code == TB_AP_OK || !err[0])
			abort(); /* a refusal always has a code and a reason */
		return;
	}
	if (tb_ap_encode(&m, &enc, &elen) != TB_OK)
		abort();
	if (tb_ap_decode(enc + TB_AP_HDR_LEN, elen - TB_AP_HDR_LEN, &again, &code, NULL, 0) !=
	        TB_OK ||
	    again.type != m.type || again.op != m.op || again.id != m.id)
		abort();
	tb_ap_msg_clear(&again);
	free(enc);
	tb_ap_msg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tb_ap_reader r;
	size_t chunk, off = 1;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] + 1;
	tb_ap_reader_init(&r, TB_AP_MIN_MAX_FRAME * 4);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk, used = 0;

		while (used < n) {
			uint8_t *frame;
			size_t flen, u;
			int rc =
			    tb_ap_reader_feed(&r, data + off + used, n - used, &u, &frame, &flen);

			used += u;
			if (rc == TB_AP_FRAME) {
				one_frame(frame, flen);
				free(frame);
			} else if (rc != TB_AP_MORE) {
				tb_ap_reader_clear(&r);
				return 0; /* the stream cannot be resynchronised */
			}
		}
		off += n;
	}
	tb_ap_reader_clear(&r);
	return 0;
}

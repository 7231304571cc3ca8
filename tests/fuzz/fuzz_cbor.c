/*
 * libFuzzer target: the bounded CBOR walker and loader.
 *
 * Whatever tb_cbor_check() accepts must load (libcbor refuses only the
 * unassigned simple values 0..19), and what loads must serialize back to
 * something the walker accepts.
 */
#include "tb_cbor.h"
#include <teep-broker/driver.h>

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	cbor_item_t *item;
	uint8_t *out;
	size_t out_len;

	if (tb_cbor_check(data, size, TB_CBOR_MAX_DEPTH, &why) != TB_OK) {
		if (!why)
			abort(); /* every rejection names its reason */
		if (tb_cbor_load(data, size, NULL))
			abort(); /* the loader must not accept what the walker refused */
		return 0;
	}
	item = tb_cbor_load(data, size, &why);
	if (!item)
		return 0;
	if (tb_cbor_serialize(item, &out, &out_len) == TB_OK) {
		if (tb_cbor_check(out, out_len, TB_CBOR_MAX_DEPTH, NULL) != TB_OK)
			abort();
		free(out);
	}
	cbor_decref(&item);
	return 0;
}

/*
 * libFuzzer target: the bounded CBOR walker and loader.
 *
 * Whatever tb_cbor_check() accepts must load (libcbor refuses only the
 * unassigned simple values 0..19), and what loads must serialize back to
 * something the walker accepts. The borrowed decode (byte strings left in
 * the input) accepts exactly what the copying one does, to the same
 * serialization.
 */
#include "tb_cbor.h"
#include <teep-broker/driver.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	cbor_item_t *item, *borrowed = NULL;
	uint8_t *out, *out2;
	size_t out_len, out2_len;
	int brc;

	if (tb_cbor_check(data, size, TB_CBOR_MAX_DEPTH, &why) != TB_OK) {
		if (!why)
			abort(); /* every rejection names its reason */
		if (tb_cbor_load(data, size, NULL))
			abort(); /* the loader must not accept what the walker refused */
		return 0;
	}
	item = tb_cbor_load(data, size, &why);
	brc = tb_cbor_decode_borrowed(data, size, &borrowed, NULL);
	if ((brc == TB_OK) != (item != NULL))
		abort();
	if (!item)
		return 0;
	if (tb_cbor_serialize(item, &out, &out_len) == TB_OK) {
		if (tb_cbor_check(out, out_len, TB_CBOR_MAX_DEPTH, NULL) != TB_OK)
			abort();
		if (tb_cbor_serialize(borrowed, &out2, &out2_len) == TB_OK) {
			if (out2_len != out_len || memcmp(out, out2, out_len) != 0)
				abort();
			free(out2);
		}
		free(out);
	}
	tb_cbor_borrowed_free(&borrowed, data, size);
	cbor_decref(&item);
	return 0;
}

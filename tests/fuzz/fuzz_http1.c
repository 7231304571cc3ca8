/* libFuzzer target: the broker's HTTP/1.1 response parser, fed in two
 * pieces split where the input's first byte says. */
#include "http1.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tb_http1_response r;
	if (!size)
		return 0;
	size_t split = data[0] % size;
	tb_http1_response_init(&r, 4096, 65536);
	enum tb_http1_result res = tb_http1_response_feed(&r, data + 1, split ? split - 1 : 0);
	if (res == TB_HTTP1_MORE)
		res = tb_http1_response_feed(&r, data + split, size - split);
	if (res == TB_HTTP1_MORE)
		res = tb_http1_response_eof(&r);
	if (res == TB_HTTP1_COMPLETE && (r.status < 100 || r.status > 999 || r.body_len > 65536))
		abort();
	tb_http1_response_free(&r);
	return 0;
}

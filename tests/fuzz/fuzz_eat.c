/*
 * libFuzzer target: the Evidence claims-set decoder and the EAR decoder,
 * on the same bytes, plus the verifying paths with a fixed key (the input
 * then also exercises the COSE_Sign1 parsing in front of them).
 */
#include "tb_cose.h"
#include "tb_ear.h"
#include "tb_eat.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tb_key *key;
	struct tb_eat_claims c;
	struct tb_ear e;
	char err[160];

	if (!key && tb_key_generate(&key) != 0)
		return 0;
	tb_eat_decode(data, size, &c, err, sizeof(err));
	tb_ear_decode(data, size, &e, err, sizeof(err));
	tb_eat_verify(data, size, &key, 1, &c, NULL, err, sizeof(err));
	tb_ear_verify(data, size, key, &e, err, sizeof(err));
	return 0;
}

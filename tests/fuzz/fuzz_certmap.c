/*
 * libFuzzer target for the auth-token plugin's certificate map parser
 * (plugins/auth-token/certmap.c). A file the parser accepts must give a
 * consistent map; lookups with pieces of the input stay within it.
 */
#include "certmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tb_certmap *m = NULL;
	char err[256], piece[TB_CERTMAP_SUBJECT_MAX + 2];
	int line = -1, rc;

	rc = tb_certmap_parse((const char *)data, size, &m, &line, err, sizeof(err));
	if (rc != 0) {
		check(m == NULL && line >= 0 && memchr(err, 0, sizeof(err)));
		return 0;
	}
	check(m != NULL);
	size_t n = tb_certmap_n(m);
	check(n <= TB_CERTMAP_ENTRIES_MAX);
	for (size_t i = 0; i < n; i++) {
		int l = 0;
		const char *id = tb_certmap_identity(m, i, &l);
		check(id && strlen(id) >= 1 && strlen(id) <= TB_CERTMAP_ID_MAX);
		check(l >= 1 && l <= TB_CERTMAP_LINES_MAX);
	}
	/* lookups with pieces of the input, as subject and as fingerprint */
	for (size_t len = 0; len <= size && len < sizeof(piece); len += 13) {
		memcpy(piece, data, len);
		piece[len] = 0;
		const char *id = tb_certmap_lookup(m, piece, piece);
		check(!id || strlen(id) <= TB_CERTMAP_ID_MAX);
	}
	tb_certmap_free(m);
	return 0;
}

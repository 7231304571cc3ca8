/*
 * libFuzzer target for the auth-token plugin's token file parser
 * (plugins/auth-token/tokens.c). A file the parser accepts must give a
 * consistent table; every lookup on it must stay within it.
 */
#include "tokens.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_list(const struct tb_tok_list *l)
{
	check(!(l->any && l->n));
	check(l->n <= TB_TOK_LIST_MAX);
	for (size_t i = 0; i < l->n; i++) {
		const uint8_t *c = l->comp[i];
		size_t o = 1;
		check(c[0] >= 1 && c[0] <= TB_TOK_SEGMENTS_MAX);
		for (unsigned s = 0; s < c[0]; s++) {
			check(o < l->comp_len[i]);
			check(c[o] >= 1 && c[o] <= TB_TOK_SEGMENT_MAX);
			o += 1u + c[o];
		}
		check(o == l->comp_len[i]);
	}
}

static void check_accepted(const struct tb_tokens *t, const uint8_t *data, size_t size)
{
	size_t n = tb_tokens_n_entries(t), anonymous = 0, tokens = 0;

	check(n <= TB_TOK_ENTRIES_MAX);
	check(tb_tokens_n_tokens(t) <= TB_TOK_TOKENS_MAX);
	for (size_t i = 0; i < n; i++) {
		const struct tb_tok_entry *e = tb_tokens_entry(t, i);
		size_t len = strlen(e->identity);
		check(len >= 1 && len <= TB_TOK_IDENTITY_MAX);
		check(e->line >= 1 && e->line <= TB_TOK_LINES_MAX);
		if (e->anonymous) {
			anonymous++;
			check(strcmp(e->identity, "-") == 0 && e->n_tokens == 0);
			check(tb_tokens_anonymous(t) == e);
		} else {
			/* no token: an app known otherwise (a client
			 * certificate, cert_map), never "-" */
			check(e->n_tokens <= TB_TOK_PER_LINE_MAX);
			check(e->n_tokens || strcmp(e->identity, "-") != 0);
			check(tb_tokens_by_identity(t, e->identity) == e);
		}
		tokens += e->n_tokens;
		check_list(&e->request);
		check_list(&e->unrequest);
	}
	check(anonymous <= 1 && (anonymous == 1) == (tb_tokens_anonymous(t) != NULL));
	check(tokens == tb_tokens_n_tokens(t));
	/* lookups with pieces of the input: whatever they find is an entry */
	for (size_t len = 1; len <= size && len <= TB_TOK_TOKEN_MAX + 1; len += 7) {
		const struct tb_tok_entry *e = tb_tokens_lookup(t, (const char *)data, len);
		check(!e || (e >= tb_tokens_entry(t, 0) && e <= tb_tokens_entry(t, n - 1)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tb_tokens *t = NULL;
	char err[256];
	int line = -1, rc;

	rc = tb_tokens_parse((const char *)data, size, &t, &line, err, sizeof(err));
	if (rc == TB_OK) {
		check(t != NULL && line == 0);
		check_accepted(t, data, size);
		tb_tokens_free(t);
	} else {
		check(t == NULL && line >= 0 && line <= TB_TOK_LINES_MAX + 1);
		check(memchr(err, 0, sizeof(err)) != NULL && err[0]);
	}
	return 0;
}

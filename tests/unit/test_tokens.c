/*
 * The auth-token plugin's token file (plugins/auth-token/tokens.c): the
 * parser, table-driven over good and malformed files; the bounds on size,
 * lines and entries; token lookup; the component lists; the Authorization
 * header; and the component syntax, checked against teep-ua's own parser.
 */
#include "config.h"
#include "tb_teep.h"
#include "tokens.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define T16  "abcdefghijklmnop" /* the shortest token */
#define TOK1 "c2VjcmV0LXRva2VuLW9mLW5hdg"
#define TOK2 "dG9rZW4tb2YtdGhlLW1hcC1hcHA="
#define TOK3 "another.token_with~all+kinds/of-chars"
#define UUID "8d82573a-926d-4754-9353-32dc29997f74"

static const uint8_t uuid_bytes[16] = {0x8d, 0x82, 0x57, 0x3a, 0x92, 0x6d, 0x47, 0x54,
                                       0x93, 0x53, 0x32, 0xdc, 0x29, 0x99, 0x7f, 0x74};

static struct tb_tokens *parse_ok(const char *text)
{
	struct tb_tokens *t = NULL;
	char err[256] = "";
	int line = -1;
	int rc = tb_tokens_parse(text, strlen(text), &t, &line, err, sizeof(err));

	if (rc != TB_OK)
		fail_msg("refused (%d) on line %d: %s\n---\n%s", rc, line, err, text);
	assert_int_equal(line, 0);
	assert_non_null(t);
	return t;
}

/* ---- the parser, table-driven ------------------------------------------ */

struct good_case {
	const char *text;
	size_t entries, tokens;
	int anonymous;
};

static void tokens__good_files__parsed(void **state)
{
	static const struct good_case cases[] = {
	    {"", 0, 0, 0},
	    {"\n\n   \n\t\n", 0, 0, 0},
	    {"# only a comment\n  # indented comment\n", 0, 0, 0},
	    {TOK1 " nav " UUID " -\n", 1, 1, 0},
	    /* no final newline, tabs and runs of blanks between fields */
	    {TOK1 "\tnav\t\t" UUID "   *", 1, 1, 0},
	    /* leading and trailing blanks */
	    {"   " TOK1 " nav - -   \n", 1, 1, 0},
	    /* several tokens, identity characters, lists of every kind */
	    {TOK1 "," TOK2 "," TOK3 " app-1.x_y@z:9 " UUID ",TEEP-Device/0x0102/ta,a * \n", 1, 3,
	     0},
	    {TOK1 " a * *\n" TOK2 " b - -\n- - " UUID " -\n# end\n", 3, 2, 1},
	    /* four tokens on a line; the longest token */
	    {T16 "," T16 "1," T16 "2," T16 "3 a - -\n", 1, 4, 0},
	    {"x23456789012345678901234567890123456789012345678901234567890123456789012345678901234"
	     "56789012345678901234567890123456789012345678 a - -\n",
	     1, 1, 0},
	    /* padding */
	    {"abcdefghijklmno== a - -\n", 1, 1, 0},
	    /* eight segments of 64 bytes, hex and text; segments with odd text */
	    {T16 " a "
	         "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	         "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f/b/c/d/e/f/g/"
	         "1234567890123456789012345678901234567890123456789012345678901234 -\n",
	     1, 1, 0},
	    {T16 " a 0X12/#x/;/'\"/()/[]/{}/0xABcd -\n", 1, 1, 0},
	    /* an app without a token (known by its certificate), and the
	     * anonymous line */
	    {"- map " UUID " -\n- - - -\n", 2, 0, 1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tb_tokens *t = parse_ok(cases[i].text);
		if (tb_tokens_n_entries(t) != cases[i].entries ||
		    tb_tokens_n_tokens(t) != cases[i].tokens ||
		    !!tb_tokens_anonymous(t) != cases[i].anonymous)
			fail_msg("case %zu: %zu entries %zu tokens", i, tb_tokens_n_entries(t),
			         tb_tokens_n_tokens(t));
		tb_tokens_free(t);
	}
}

struct bad_case {
	const char *text;
	int line;
	const char *needle;
};

static void tokens__malformed_files__refused_with_their_line(void **state)
{
	static const struct bad_case cases[] = {
	    /* fields */
	    {TOK1 " a -\n", 1, "expected 4 fields"},
	    {"# c\n" TOK1 " a - - -\n", 2, "expected 4 fields"},
	    {TOK1 "\n", 1, "expected 4 fields"},
	    {TOK1 " a - - # a comment is a whole line\n", 1, "expected 4 fields"},
	    /* tokens */
	    {"abcdefghijklmno a - -\n", 1, "16..128 characters"},
	    {"x2345678901234567890123456789012345678901234567890123456789012345678901234567890123"
	     "4567890123456789012345678901234567890123456789 a - -\n",
	     1, "16..128 characters"},
	    {"abcdefghijklmnop! a - -\n", 1, "a token is made of"},
	    {"abcdefgh=ijklmnop a - -\n", 1, "a token is made of"},
	    {"================ a - -\n", 1, "a token is made of"},
	    {T16 ",," T16 "1 a - -\n", 1, "a token is made of"},
	    {T16 ", a - -\n", 1, "a token is made of"},
	    {T16 "," T16 "1," T16 "2," T16 "3," T16 "4 a - -\n", 1, "more than 4 tokens"},
	    /* identities */
	    {T16 " a/b - -\n", 1, "identity may only hold"},
	    {T16 " 12345678901234567890123456789012345678901234567890123456789012345 - -\n", 1,
	     "1..64 characters"},
	    {T16 " - - -\n", 1, "only for the line with token \"-\""},
	    {"- anon - -\n- anon - -\n", 2, "identity"},
	    /* lists */
	    {T16 " a *," UUID " -\n", 1, "REQUEST: \"*\" must stand alone"},
	    {T16 " a - " UUID ",-\n", 1, "UNREQUEST: \"-\" must stand alone"},
	    {T16 " a " UUID ", -\n", 1, "REQUEST: component 2 is not"},
	    {T16 " a " UUID ",,x -\n", 1, "REQUEST: component 2 is not"},
	    {T16 " a x, -\n", 1, "REQUEST: component 2 is not"},
	    {T16 " a a//b -\n", 1, "component 1 is not"},
	    {T16 " a a/ -\n", 1, "component 1 is not"},
	    {T16 " a /a -\n", 1, "component 1 is not"},
	    {T16 " a 0x -\n", 1, "component 1 is not"},
	    {T16 " a 0x123 -\n", 1, "component 1 is not"},
	    {T16 " a 0xzz -\n", 1, "component 1 is not"},
	    {T16 " a a/b/c/d/e/f/g/h/i -\n", 1, "component 1 is not"},
	    {T16 " a 12345678901234567890123456789012345678901234567890123456789012345 -\n", 1,
	     "component 1 is not"},
	    {T16 " a - a,b,a\n", 1, "UNREQUEST: component 3 is listed twice"},
	    {T16 " a " UUID ",TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f74/ta -\n", 1,
	     "component 2 is listed twice"},
	    /* bytes */
	    {T16 " a - -\r\n", 1, "carriage return"},
	    {"# ok\n" T16 " a\x01 - -\n", 2, "control character"},
	    {"# caf\xc3\xa9\n", 1, "not ASCII"},
	    {"# \x7f\n", 1, "not ASCII"},
	    /* the whole file */
	    {T16 " a - -\n" T16 "1 b - -\n" T16 "2 a - -\n", 3, "the same identity as line 1"},
	    {T16 " a - -\n" T16 "1 b - -\n" T16 ",x234567890123456 c - -\n", 3,
	     "the same token as line 1"},
	    {T16 "," T16 " a - -\n", 1, "the same token twice on this line"},
	    {"- - - -\n" T16 " a - -\n- - * *\n", 3, "a second line with token \"-\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tb_tokens *t = (void *)1;
		char err[256] = "";
		int line = -1;
		int rc = tb_tokens_parse(cases[i].text, strlen(cases[i].text), &t, &line, err,
		                         sizeof(err));
		if (rc == TB_OK)
			fail_msg("case %zu accepted:\n%s", i, cases[i].text);
		assert_null(t);
		if (line != cases[i].line || !strstr(err, cases[i].needle))
			fail_msg("case %zu: line %d '%s', expected line %d '%s'", i, line, err,
			         cases[i].line, cases[i].needle);
		/* messages never quote the file: it holds secrets */
		assert_null(strstr(err, T16));
		assert_null(strstr(err, TOK1));
	}
}

static void tokens__a_uuid_sized_text_segment__is_not_a_uuid(void **state)
{
	/* a UUID is a whole component, not a segment: x/UUID is two text
	 * segments, the second 36 bytes of text */
	static const uint8_t text[] = UUID;
	const struct tb_bytes segs[] = {{(const uint8_t *)"x", 1}, {text, 36}};
	const struct tb_bytes tc[] = {{(const uint8_t *)"TEEP-Device", 11},
	                              {(const uint8_t *)"SecureFS", 8},
	                              {uuid_bytes, 16},
	                              {(const uint8_t *)"ta", 2}};
	struct tb_tokens *t = parse_ok(T16 " a x/" UUID " -\n");
	const struct tb_tok_entry *e = tb_tokens_by_identity(t, "a");

	assert_true(tb_tokens_allows(e, TB_TOK_REQUEST, segs, 2));
	assert_false(tb_tokens_allows(e, TB_TOK_REQUEST, tc, 4));
	tb_tokens_free(t);
}

/* ---- bounds ------------------------------------------------------------ */

static char *repeat(const char *line, size_t times, size_t *len)
{
	size_t n = strlen(line);
	char *buf = malloc(n * times + 1);

	assert_non_null(buf);
	for (size_t i = 0; i < times; i++)
		memcpy(buf + i * n, line, n);
	buf[n * times] = 0;
	*len = n * times;
	return buf;
}

static void expect_bound(const char *text, size_t len, int rc, int line, const char *needle)
{
	struct tb_tokens *t = NULL;
	char err[256] = "";
	int l = -1;

	assert_int_equal(tb_tokens_parse(text, len, &t, &l, err, sizeof(err)), rc);
	assert_null(t);
	if (l != line || !strstr(err, needle))
		fail_msg("line %d '%s', expected line %d '%s'", l, err, line, needle);
}

static void tokens__oversize_file__refused(void **state)
{
	size_t len;
	/* 1 MiB + 1 of comments: refused before anything is read */
	char *text = repeat("#234567\n", TB_TOK_FILE_MAX / 8, &len);
	char *more = realloc(text, len + 2);

	assert_non_null(more);
	more[len] = '\n';
	more[len + 1] = 0;
	expect_bound(more, len + 1, TB_ERR_TOOBIG, 0, "larger than 1048576 bytes");
	/* exactly 1 MiB is read, and fails on its line count */
	expect_bound(more, len, TB_ERR_TOOBIG, TB_TOK_LINES_MAX + 1, "more than 16384 lines");
	free(more);
}

static void tokens__line_bounds__enforced(void **state)
{
	size_t len;
	char *text = repeat("\n", TB_TOK_LINES_MAX, &len);
	struct tb_tokens *t = parse_ok(text);

	tb_tokens_free(t);
	free(text);
	text = repeat("\n", TB_TOK_LINES_MAX + 1, &len);
	expect_bound(text, len, TB_ERR_TOOBIG, TB_TOK_LINES_MAX + 1, "more than 16384 lines");
	free(text);

	/* a line of 4096 bytes is fine, one of 4097 is not */
	text = repeat("#", TB_TOK_LINE_MAX, &len);
	t = parse_ok(text);
	tb_tokens_free(t);
	free(text);
	text = repeat("#", TB_TOK_LINE_MAX + 1, &len);
	expect_bound(text, len, TB_ERR_PARSE, 1, "longer than 4096 bytes");
	free(text);
}

static void tokens__entry_and_token_bounds__enforced(void **state)
{
	size_t cap = (TB_TOK_ENTRIES_MAX + 2) * 64, o = 0;
	char *text = malloc(cap);
	struct tb_tokens *t;

	/* 4096 apps: fine; the 4097th is refused */
	assert_non_null(text);
	for (unsigned i = 0; i < TB_TOK_ENTRIES_MAX; i++)
		o += (size_t)snprintf(text + o, cap - o, "token-%010u app%u - -\n", i, i);
	t = parse_ok(text);
	assert_int_equal(tb_tokens_n_entries(t), TB_TOK_ENTRIES_MAX);
	assert_non_null(tb_tokens_by_identity(t, "app4095"));
	assert_ptr_equal(tb_tokens_lookup(t, "token-0000004095", 16),
	                 tb_tokens_by_identity(t, "app4095"));
	tb_tokens_free(t);
	o += (size_t)snprintf(text + o, cap - o, "token-x000004096 extra - -\n");
	expect_bound(text, o, TB_ERR_TOOBIG, TB_TOK_ENTRIES_MAX + 1, "more than 4096 app lines");

	/* 4096 tokens in all: four per line on 1024 lines, then one more */
	o = 0;
	for (unsigned i = 0; i < TB_TOK_TOKENS_MAX / 4; i++)
		o += (size_t)snprintf(text + o, cap - o,
		                      "tok-%012u,tok-%012u,tok-%012u,tok-%012u a%u - -\n", 4 * i,
		                      4 * i + 1, 4 * i + 2, 4 * i + 3, i);
	t = parse_ok(text);
	assert_int_equal(tb_tokens_n_tokens(t), TB_TOK_TOKENS_MAX);
	tb_tokens_free(t);
	o += (size_t)snprintf(text + o, cap - o, "tok-x00000000000 last - -\n");
	expect_bound(text, o, TB_ERR_TOOBIG, TB_TOK_TOKENS_MAX / 4 + 1, "more than 4096 tokens");
	free(text);
}

/* ---- lookups ----------------------------------------------------------- */

static void tokens__lookup__exact_token_only(void **state)
{
	struct tb_tokens *t =
	    parse_ok("# apps\n" TOK1 "," TOK2 " nav * -\n" TOK3 " map - -\n- - - -\n");
	const struct tb_tok_entry *nav = tb_tokens_by_identity(t, "nav");
	const struct tb_tok_entry *map = tb_tokens_by_identity(t, "map");
	char tok[TB_TOK_TOKEN_MAX + 2];

	assert_non_null(nav);
	assert_non_null(map);
	assert_int_equal(nav->line, 2);
	assert_int_equal(nav->n_tokens, 2);
	assert_ptr_equal(tb_tokens_lookup(t, TOK1, strlen(TOK1)), nav);
	assert_ptr_equal(tb_tokens_lookup(t, TOK2, strlen(TOK2)), nav);
	assert_ptr_equal(tb_tokens_lookup(t, TOK3, strlen(TOK3)), map);
	/* shorter, longer, one byte off, empty, over the bound */
	assert_null(tb_tokens_lookup(t, TOK1, strlen(TOK1) - 1));
	snprintf(tok, sizeof(tok), "%sx", TOK1);
	assert_null(tb_tokens_lookup(t, tok, strlen(tok)));
	snprintf(tok, sizeof(tok), "%s", TOK1);
	tok[5] ^= 1;
	assert_null(tb_tokens_lookup(t, tok, strlen(tok)));
	assert_null(tb_tokens_lookup(t, "", 0));
	memset(tok, 'a', sizeof(tok));
	assert_null(tb_tokens_lookup(t, tok, TB_TOK_TOKEN_MAX + 1));
	/* a stored token followed by NUL bytes is not that token */
	memset(tok, 0, sizeof(tok));
	memcpy(tok, TOK3, strlen(TOK3));
	assert_null(tb_tokens_lookup(t, tok, strlen(TOK3) + 1));
	/* "-" is no token; the anonymous line has no identity to find */
	assert_null(tb_tokens_lookup(t, "-", 1));
	assert_null(tb_tokens_by_identity(t, "-"));
	assert_non_null(tb_tokens_anonymous(t));
	assert_string_equal(tb_tokens_anonymous(t)->identity, "-");
	assert_null(tb_tokens_by_identity(t, "na"));
	assert_null(tb_tokens_by_identity(t, "nav2"));
	tb_tokens_free(t);
}

static void tokens__anonymous_line__found_after_the_table_grew(void **state)
{
	/* the "-" line first, then enough apps to move the table in memory
	 * (found by the fuzz target) */
	char text[4096];
	size_t o = (size_t)snprintf(text, sizeof(text), "- - * -\n");
	struct tb_tokens *t;

	for (unsigned i = 0; i < 40; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "token-%010u a%u - -\n", i, i);
	o += (size_t)snprintf(text + o, sizeof(text) - o, "- - - -\n");
	expect_bound(text, o, TB_ERR_PARSE, 42,
	             "a second line with token \"-\" (the first is on line 1)");
	text[o - 8] = 0;
	t = parse_ok(text);
	assert_non_null(tb_tokens_anonymous(t));
	assert_int_equal(tb_tokens_anonymous(t)->line, 1);
	assert_true(tb_tokens_anonymous(t)->request.any);
	tb_tokens_free(t);
}

static void tokens__bearer_header__strict(void **state)
{
	static const struct {
		const char *header;
		const char *token; /* NULL: refused */
	} cases[] = {
	    {"Bearer " TOK1, TOK1},     {"bearer " TOK1, TOK1},
	    {"BEARER    " TOK2, TOK2},  {"Bearer abc==", "abc=="},
	    {"Bearer", NULL},           {"Bearer ", NULL},
	    {"Bearer  ", NULL},         {"Bearer" TOK1, NULL},
	    {"Bearer\t" TOK1, NULL},    {"Basic dXNlcjpwYXNz", NULL},
	    {"Bearer " TOK1 " ", NULL}, {"Bearer " TOK1 " x", NULL},
	    {"Bearer ab=c", NULL},      {"Bearer =abc", NULL},
	    {" Bearer " TOK1, NULL},    {"", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *tok = NULL;
		size_t len = 0;
		int rc = tb_tokens_bearer(cases[i].header, &tok, &len);
		if (!cases[i].token) {
			if (rc == 0)
				fail_msg("case %zu accepted: '%s'", i, cases[i].header);
			continue;
		}
		if (rc != 0 || len != strlen(cases[i].token) ||
		    memcmp(tok, cases[i].token, len) != 0)
			fail_msg("case %zu: '%s'", i, cases[i].header);
	}
	assert_int_equal(tb_tokens_bearer(NULL, NULL, NULL), -1);
}

/* A header in the Bearer scheme presents a token, well formed or not: with
 * anonymous = yes the plugin still refuses it unless the token is known. */
static void tokens__bearer_scheme__presented(void **state)
{
	static const struct {
		const char *header;
		int bearer;
	} cases[] = {
	    {"Bearer " TOK1, 1},  {"bearer " TOK1, 1},
	    {"BEARER    x", 1},   {"Bearer", 1},
	    {"Bearer ", 1},       {"Bearer\t" TOK1, 1},
	    {"Bearer ab=c", 1},   {"Bearer " TOK1 " x", 1},
	    {" Bearer " TOK1, 1}, {"Basic dXNlcjpwYXNz", 0},
	    {"Bearer" TOK1, 0},   {"Bearerx", 0},
	    {"Bear", 0},          {"", 0},
	    {"Digest Bearer", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (tb_tokens_is_bearer(cases[i].header) != cases[i].bearer)
			fail_msg("case %zu: '%s'", i, cases[i].header);
	assert_int_equal(tb_tokens_is_bearer(NULL), 0);
}

/* ---- component lists, table-driven ------------------------------------- */

#define SEG(s)                                                                                     \
	{                                                                                          \
		(const uint8_t *)(s), sizeof(s) - 1                                                \
	}
#define SEGB(b, n)                                                                                 \
	{                                                                                          \
		(b), (n)                                                                           \
	}

static void tokens__component_lists__match_exactly(void **state)
{
	static const uint8_t two[2] = {1, 2};
	static uint8_t big[65];
	const struct tb_bytes tc[] = {SEG("TEEP-Device"), SEG("SecureFS"), SEGB(uuid_bytes, 16),
	                              SEG("ta")};
	const struct tb_bytes tc_upper[] = {SEG("TEEP-Device"), SEG("SecureFS"),
	                                    SEGB(uuid_bytes, 16), SEG("TA")};
	const struct tb_bytes a12[] = {SEG("a"), SEGB(two, 2)};
	const struct tb_bytes a12x[] = {SEG("a"), SEGB(two, 2), SEG("x")};
	const struct tb_bytes a[] = {SEG("a")};
	const struct tb_bytes b[] = {SEG("b")};
	const struct tb_bytes empty_seg[] = {SEGB(two, 0)};
	const struct tb_bytes big_seg[] = {SEGB(big, 65)};
	struct tb_tokens *t =
	    parse_ok(T16 " nav " UUID ",a/0x0102 *\n" T16 "x any * a\n" T16 "y none - -\n");
	const struct tb_tok_entry *nav = tb_tokens_by_identity(t, "nav");
	const struct tb_tok_entry *any = tb_tokens_by_identity(t, "any");
	const struct tb_tok_entry *none = tb_tokens_by_identity(t, "none");
	const struct {
		const struct tb_tok_entry *e;
		enum tb_tok_op op;
		const struct tb_bytes *segs;
		size_t n;
		int allowed;
	} cases[] = {
	    {nav, TB_TOK_REQUEST, tc, 4, 1},
	    {nav, TB_TOK_REQUEST, a12, 2, 1},
	    {nav, TB_TOK_REQUEST, a12x, 3, 0}, /* no prefix matching */
	    {nav, TB_TOK_REQUEST, a, 1, 0},
	    {nav, TB_TOK_REQUEST, tc, 3, 0},
	    {nav, TB_TOK_REQUEST, tc_upper, 4, 0}, /* bytes, not case-folded */
	    {nav, TB_TOK_UNREQUEST, a12x, 3, 1},   /* "*" */
	    {nav, TB_TOK_POLICY_CHECK, NULL, 0, 1},
	    {any, TB_TOK_REQUEST, b, 1, 1},
	    {any, TB_TOK_UNREQUEST, a, 1, 1},
	    {any, TB_TOK_UNREQUEST, b, 1, 0},
	    {any, TB_TOK_UNREQUEST, tc, 4, 0},
	    {none, TB_TOK_REQUEST, tc, 4, 0},
	    {none, TB_TOK_UNREQUEST, tc, 4, 0},
	    {none, TB_TOK_POLICY_CHECK, NULL, 0, 1},
	    {NULL, TB_TOK_REQUEST, tc, 4, 0},
	    {NULL, TB_TOK_POLICY_CHECK, NULL, 0, 1},
	    /* components no request can carry never match */
	    {nav, TB_TOK_REQUEST, NULL, 0, 0},
	    {nav, TB_TOK_REQUEST, empty_seg, 1, 0},
	    {nav, TB_TOK_REQUEST, big_seg, 1, 0},
	    {nav, TB_TOK_REQUEST, tc, 9, 0},
	    {nav, (enum tb_tok_op)0, tc, 4, 0},
	};

	assert_non_null(nav);
	assert_non_null(any);
	assert_non_null(none);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (tb_tokens_allows(cases[i].e, cases[i].op, cases[i].segs, cases[i].n) !=
		    cases[i].allowed)
			fail_msg("case %zu: expected %s", i,
			         cases[i].allowed ? "allowed" : "refused");
	tb_tokens_free(t);
}

/* The syntax is teep-ua's: what tb_component_id_parse reads from a string
 * is exactly what the token file's list means by it. */
static void tokens__component_syntax__same_as_teep_ua(void **state)
{
	static const char *const texts[] = {
	    UUID,
	    "8D82573A-926D-4754-9353-32DC29997F74",
	    "TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f74/ta",
	    "a",
	    "0x00",
	    "0xFFfe/x/0X12",
	    "a/b/c/d/e/f/g/h",
	    "with-dash/with.dot/with_under/#hash/(paren)",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct tb_component_id id;
		struct tb_bytes segs[TB_TEEP_MAX_SEGMENTS];
		char line[256];
		struct tb_tokens *t;

		assert_int_equal(tb_component_id_parse(texts[i], &id), TB_OK);
		for (size_t j = 0; j < id.n; j++) {
			segs[j].ptr = id.seg[j].ptr;
			segs[j].len = id.seg[j].len;
		}
		snprintf(line, sizeof(line), T16 " a %s -\n", texts[i]);
		t = parse_ok(line);
		if (!tb_tokens_allows(tb_tokens_by_identity(t, "a"), TB_TOK_REQUEST, segs, id.n))
			fail_msg("'%s' means something else to teep-ua", texts[i]);
		tb_tokens_free(t);
		tb_component_id_clear(&id);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tokens__good_files__parsed),
	    cmocka_unit_test(tokens__malformed_files__refused_with_their_line),
	    cmocka_unit_test(tokens__a_uuid_sized_text_segment__is_not_a_uuid),
	    cmocka_unit_test(tokens__oversize_file__refused),
	    cmocka_unit_test(tokens__line_bounds__enforced),
	    cmocka_unit_test(tokens__entry_and_token_bounds__enforced),
	    cmocka_unit_test(tokens__lookup__exact_token_only),
	    cmocka_unit_test(tokens__anonymous_line__found_after_the_table_grew),
	    cmocka_unit_test(tokens__bearer_header__strict),
	    cmocka_unit_test(tokens__bearer_scheme__presented),
	    cmocka_unit_test(tokens__component_lists__match_exactly),
	    cmocka_unit_test(tokens__component_syntax__same_as_teep_ua),
	};
	return cmocka_run_group_tests_name("tokens", tests, NULL, NULL);
}

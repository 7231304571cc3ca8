/*
 * The auth-token plugin's certificate map (plugins/auth-token/certmap.c):
 * good and malformed files with their lines, and lookups by fingerprint
 * (any case) and by exact subject.
 */
#include "config.h"
#include "certmap.h"

#include <teep-broker/driver.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FP1 "9493bb9ee6dbf65b5ba52c9dd2c7f8069382d539affc8f59759d3636ea00d503"
#define FP2 "1ab2151e53ec76e8963fdaa035f78ded92b3583186d1d2365ecdc5f24f63f352"

static int parse(const char *text, struct tb_certmap **m, int *line, char *err, size_t errlen)
{
	return tb_certmap_parse(text, strlen(text), m, line, err, errlen);
}

static void certmap__good_file__looked_up(void **state)
{
	static const char text[] = "# IDENTITY CERTIFICATE\n"
	                           "\n"
	                           "nav  CN=nav,O=Example  \n"
	                           "map\tsha256:" FP1 "\n"
	                           "  spaced CN=a b,O=Example Org\n"
	                           "upper SHA256:" FP2;
	struct tb_certmap *m = NULL;
	char err[256];
	int line = -1;
	(void)state;

	assert_int_equal(parse(text, &m, &line, err, sizeof(err)), TB_OK);
	assert_int_equal(tb_certmap_n(m), 4);
	assert_string_equal(tb_certmap_identity(m, 0, &line), "nav");
	assert_int_equal(line, 3);
	/* subjects match exactly (trailing blanks of the line dropped) */
	assert_string_equal(tb_certmap_lookup(m, "CN=nav,O=Example", NULL), "nav");
	assert_null(tb_certmap_lookup(m, "CN=nav,O=Exampl", NULL));
	assert_null(tb_certmap_lookup(m, "cn=nav,O=Example", NULL));
	assert_string_equal(tb_certmap_lookup(m, "CN=a b,O=Example Org", NULL), "spaced");
	/* fingerprints in any case, before the subject */
	assert_string_equal(tb_certmap_lookup(m, "CN=nav,O=Example", FP1), "map");
	assert_string_equal(
	    tb_certmap_lookup(m, NULL,
	                      "1AB2151E53EC76E8963FDAA035F78DED92B3583186D1D2365ECDC5F24F63F352"),
	    "upper");
	/* an unknown fingerprint falls back to the subject */
	assert_string_equal(tb_certmap_lookup(m, "CN=nav,O=Example", FP2 "0"), "nav");
	assert_null(tb_certmap_lookup(m, "CN=other", "00"));
	assert_null(tb_certmap_lookup(NULL, "CN=nav,O=Example", FP1));
	tb_certmap_free(m);
}

static void certmap__malformed_files__refused_with_their_line(void **state)
{
	static const struct {
		const char *text;
		int line;
		const char *msg;
	} cases[] = {
	    {"nav\n", 1, "expected IDENTITY"},
	    {"# c\nnav   \n", 2, "expected IDENTITY"},
	    {"na/v CN=nav\n", 1, "identity may only hold"},
	    {"nav sha256:abc\n", 1, "64 hex digits"},
	    {"nav sha256:" FP1 "0\n", 1, "64 hex digits"},
	    {"nav sha256:"
	     "z" FP1 "\n",
	     1, "64 hex digits"},
	    {"nav just-a-name\n", 1, "sha256:HEX or a subject"},
	    {"nav CN=\x01x\n", 1, "control character"},
	    {"nav CN=nav\nmap CN=nav\n", 2, "the same certificate as line 1"},
	    {"a sha256:" FP1 "\nb SHA256:" FP1 "\n", 2, "the same certificate as line 1"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tb_certmap *m = NULL;
		char err[256] = "";
		int line = -1;
		int rc = parse(cases[i].text, &m, &line, err, sizeof(err));
		if (rc == TB_OK || m || line != cases[i].line || !strstr(err, cases[i].msg))
			fail_msg("case %zu: rc %d line %d: %s", i, rc, line, err);
	}
}

static void certmap__bounds__enforced(void **state)
{
	size_t n = TB_CERTMAP_ENTRIES_MAX + 1, len = 0;
	char *text = malloc(n * 32 + TB_CERTMAP_SUBJECT_MAX + 64);
	struct tb_certmap *m = NULL;
	char err[256];
	int line;
	(void)state;

	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "a%zu CN=%zu\n", i, i);
	assert_int_equal(tb_certmap_parse(text, len, &m, &line, err, sizeof(err)), TB_ERR_PARSE);
	assert_int_equal(line, (int)n);
	assert_non_null(strstr(err, "more than"));
	/* a subject of 512 bytes */
	len = (size_t)sprintf(text, "a CN=");
	memset(text + len, 'x', TB_CERTMAP_SUBJECT_MAX - 2);
	len += TB_CERTMAP_SUBJECT_MAX - 2;
	assert_int_equal(tb_certmap_parse(text, len, &m, &line, err, sizeof(err)), TB_ERR_PARSE);
	assert_non_null(strstr(err, "at most"));
	/* 511 pass */
	len--;
	assert_int_equal(tb_certmap_parse(text, len, &m, &line, err, sizeof(err)), TB_OK);
	tb_certmap_free(m);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(certmap__good_file__looked_up),
	    cmocka_unit_test(certmap__malformed_files__refused_with_their_line),
	    cmocka_unit_test(certmap__bounds__enforced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

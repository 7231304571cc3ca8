/* TAM URIs: the normalisation and the allowlist match of [tam]
 * allow_app_uris. */
#include "config.h"
#include "tamuri.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <teep-broker/driver.h>

#include <cmocka.h>

static void expect_norm(const char *in, const char *want)
{
	char out[TB_TAMURI_MAX];
	int rc = tb_tamuri_normalise(in, out, sizeof(out));

	if (rc != TB_OK)
		fail_msg("\"%s\": refused (%d), want \"%s\"", in, rc, want);
	if (strcmp(out, want) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", in, out, want);
}

static void expect_refused(const char *in)
{
	char out[TB_TAMURI_MAX];
	int rc = tb_tamuri_normalise(in, out, sizeof(out));

	if (rc != TB_ERR_INVAL)
		fail_msg("\"%s\": got %d (\"%s\"), want TB_ERR_INVAL", in, rc, out);
	assert_string_equal(out, "");
}

static void tamuri__normalise__lowers_scheme_and_host_only(void **state)
{
	(void)state;
	expect_norm("http://tam.example/tam", "http://tam.example/tam");
	expect_norm("HTTPS://TAM.Example.NET/TAM/Path?Q=A#F",
	            "https://tam.example.net/TAM/Path?Q=A#F");
	expect_norm("HtTp://127.0.0.1:8480/tam", "http://127.0.0.1:8480/tam");
	expect_norm("http://[2001:DB8::1]:8443/x", "http://[2001:db8::1]:8443/x");
	/* percent-encoding and dot segments are compared as written */
	expect_norm("http://h/a%2fb/../c", "http://h/a%2fb/../c");
}

static void tamuri__normalise__drops_default_ports_and_fills_the_path(void **state)
{
	(void)state;
	expect_norm("http://h:80/tam", "http://h/tam");
	expect_norm("https://h:443/tam", "https://h/tam");
	expect_norm("http://h:443/tam", "http://h:443/tam");
	expect_norm("https://h:80/tam", "https://h:80/tam");
	expect_norm("http://h:0080/tam", "http://h/tam");
	expect_norm("http://h:08480/tam", "http://h:8480/tam");
	expect_norm("http://h:/tam", "http://h/tam");
	expect_norm("http://h", "http://h/");
	expect_norm("http://h:8080", "http://h:8080/");
	expect_norm("http://h?x", "http://h/?x");
	expect_norm("http://h#f", "http://h/#f");
	expect_norm("https://[::1]", "https://[::1]/");
	expect_norm("https://[::1]:443/t", "https://[::1]/t");
}

static void tamuri__normalise__refuses_what_is_no_tam_uri(void **state)
{
	(void)state;
	expect_refused("");
	expect_refused("ftp://h/tam");
	expect_refused("http:/h/tam");
	expect_refused("http:///tam");
	expect_refused("http://:8080/tam");
	expect_refused("http://h:0/tam");
	expect_refused("http://h:65536/tam");
	expect_refused("http://h:99999999999999999999/tam");
	expect_refused("http://h:8o/tam");
	expect_refused("http://h:80:81/tam");
	expect_refused("http://a:b:c/tam");
	expect_refused("http://[::1/tam");
	expect_refused("http://[]/tam");
	expect_refused("http://[::1]x/tam");
	/* user information: "trusted@evil" is evil */
	expect_refused("http://tam.example@evil.example/tam");
	expect_refused("http://u:p@h/tam");
	expect_refused("http://h/t am");
	expect_refused("http://h/t\tam");
	expect_refused("http://h/t\x7f");
	expect_refused("http://h/t\xc3\xa9");
	/* an '@' after the authority is part of the path */
	expect_norm("http://h/a@b", "http://h/a@b");
}

static void tamuri__normalise__bounds_its_output(void **state)
{
	char out[16];
	char longuri[TB_TAMURI_MAX + 16];

	(void)state;
	assert_int_equal(tb_tamuri_normalise("http://h/tam", out, 13), TB_OK);
	assert_string_equal(out, "http://h/tam");
	assert_int_equal(tb_tamuri_normalise("http://h/tam", out, 12), TB_ERR_TOOBIG);
	assert_string_equal(out, "");
	assert_int_equal(tb_tamuri_normalise("http://h", out, 9), TB_ERR_TOOBIG);
	memset(longuri, 'a', sizeof(longuri) - 1);
	longuri[sizeof(longuri) - 1] = 0;
	memcpy(longuri, "http://h/", 9);
	char big[TB_TAMURI_MAX];
	assert_int_equal(tb_tamuri_normalise(longuri, big, sizeof(big)), TB_ERR_TOOBIG);
	assert_int_equal(tb_tamuri_normalise(NULL, out, sizeof(out)), TB_ERR_INVAL);
}

static void tamuri__list_check__counts_entries_and_refuses_bad_ones(void **state)
{
	size_t n = 99;

	(void)state;
	assert_int_equal(tb_tamuri_list_check("http://a/tam", &n), TB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(tb_tamuri_list_check(" http://a/tam,https://b/tam \thttp://c ,, ", &n),
	                 TB_OK);
	assert_int_equal(n, 3);
	assert_int_equal(tb_tamuri_list_check("http://a/tam ftp://b/", &n), TB_ERR_INVAL);
	assert_int_equal(tb_tamuri_list_check("http://a/tam http://u@b/", &n), TB_ERR_INVAL);
	assert_int_equal(tb_tamuri_list_check("", &n), TB_ERR_INVAL);
	assert_int_equal(n, 0);
	assert_int_equal(tb_tamuri_list_check(" , ", &n), TB_ERR_INVAL);
	assert_int_equal(tb_tamuri_list_check(NULL, &n), TB_ERR_INVAL);
}

static void tamuri__in_list__matches_after_normalising_both(void **state)
{
	const char *list = "http://TAM.example/tam, https://other.example:443/t?x=1";

	(void)state;
	assert_true(tb_tamuri_in_list("http://tam.example/tam", list));
	assert_true(tb_tamuri_in_list("HTTP://tam.EXAMPLE:80/tam", list));
	assert_true(tb_tamuri_in_list("https://other.example/t?x=1", list));
	/* the path, the query, the scheme and the port count */
	assert_false(tb_tamuri_in_list("http://tam.example/TAM", list));
	assert_false(tb_tamuri_in_list("http://tam.example/tam/", list));
	assert_false(tb_tamuri_in_list("https://tam.example/tam", list));
	assert_false(tb_tamuri_in_list("http://tam.example:8080/tam", list));
	assert_false(tb_tamuri_in_list("https://other.example/t?x=2", list));
	assert_false(tb_tamuri_in_list("http://tam.example.evil/tam", list));
	assert_false(tb_tamuri_in_list("http://tam.example@evil/tam", list));
	/* no list: nothing is allowed */
	assert_false(tb_tamuri_in_list("http://tam.example/tam", NULL));
	assert_false(tb_tamuri_in_list(NULL, list));
}

static void tamuri__equal__compares_normal_forms(void **state)
{
	(void)state;
	assert_true(tb_tamuri_equal("http://h/tam", "HTTP://H:80/tam"));
	assert_true(tb_tamuri_equal("https://h", "https://h:443/"));
	assert_false(tb_tamuri_equal("http://h/tam", "https://h/tam"));
	assert_false(tb_tamuri_equal("http://h/tam", "ftp://h/tam"));
	assert_false(tb_tamuri_equal("ftp://h/tam", "ftp://h/tam"));
	assert_false(tb_tamuri_equal(NULL, "http://h/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tamuri__normalise__lowers_scheme_and_host_only),
	    cmocka_unit_test(tamuri__normalise__drops_default_ports_and_fills_the_path),
	    cmocka_unit_test(tamuri__normalise__refuses_what_is_no_tam_uri),
	    cmocka_unit_test(tamuri__normalise__bounds_its_output),
	    cmocka_unit_test(tamuri__list_check__counts_entries_and_refuses_bad_ones),
	    cmocka_unit_test(tamuri__in_list__matches_after_normalising_both),
	    cmocka_unit_test(tamuri__equal__compares_normal_forms),
	};
	return cmocka_run_group_tests_name("tamuri", tests, NULL, NULL);
}

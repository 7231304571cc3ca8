/* The broker's HTTP/1.1 request head and response parser. */
#include "config.h"
#include "http1.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_HEAD 4096
#define MAX_BODY 1000

/* Feed text whole, or one byte at a time; return the final result. */
static enum tb_http1_result run(const char *text, size_t len, int bytewise, int eof,
                                struct tb_http1_response *r)
{
	enum tb_http1_result res = TB_HTTP1_MORE;
	tb_http1_response_init(r, MAX_HEAD, MAX_BODY);
	if (bytewise) {
		for (size_t i = 0; i < len && res == TB_HTTP1_MORE; i++)
			res = tb_http1_response_feed(r, (const uint8_t *)text + i, 1);
	} else {
		res = tb_http1_response_feed(r, (const uint8_t *)text, len);
	}
	if (res == TB_HTTP1_MORE && eof)
		res = tb_http1_response_eof(r);
	return res;
}

struct good_case {
	const char *name;
	const char *text;
	int eof;
	int status;
	const char *ctype;
	const char *body;
};

static const struct good_case good[] = {
    {"content-length",
     "HTTP/1.1 200 OK\r\nContent-Type: application/teep+cbor\r\nContent-Length: 5\r\n\r\nhello", 0,
     200, "application/teep+cbor", "hello"},
    {"204 has no body", "HTTP/1.1 204 \r\nContent-Length: 7\r\n\r\n", 0, 204, "", ""},
    {"bare LF line ends", "HTTP/1.0 200 OK\nContent-Length: 2\n\nok", 0, 200, "", "ok"},
    {"chunked with extension and trailer",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/teep+cbor; "
     "x=y\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n",
     0, 200, "application/teep+cbor", "abcde"},
    {"close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\n\r\nuntil close", 1, 200, "a/b",
     "until close"},
    {"interim 100 then 200",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, 200, "", "x"},
    {"redirect is just a status", "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
     0, 302, "", ""},
    {"same Content-Length twice",
     "HTTP/1.1 500 x\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nz", 0, 500, "", "z"},
};

static void http1__good_responses__parsed_whole_and_bytewise(void **state)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			struct tb_http1_response r;
			enum tb_http1_result res =
			    run(good[i].text, strlen(good[i].text), bytewise, good[i].eof, &r);
			if (res != TB_HTTP1_COMPLETE)
				fail_msg("%s (bytewise %d): result %d (%s)", good[i].name, bytewise,
				         res, r.why ? r.why : "");
			assert_int_equal(r.status, good[i].status);
			assert_string_equal(r.content_type, good[i].ctype);
			size_t n;
			uint8_t *body = tb_http1_response_take_body(&r, &n);
			assert_int_equal(n, strlen(good[i].body));
			if (n)
				assert_memory_equal(body, good[i].body, n);
			free(body);
			tb_http1_response_free(&r);
		}
	}
}

struct bad_case {
	const char *name;
	const char *text;
	int eof;
	enum tb_http1_result res;
	enum tb_http1_error error; /* what the app's reason will say */
};

static const struct bad_case bad[] = {
    {"not http", "SSH-2.0-OpenSSH\r\n", 0, TB_HTTP1_BAD, TB_HTTP1_E_STATUS_LINE},
    {"garbage bytes", "\x82\x01\xff\r\n", 0, TB_HTTP1_BAD, TB_HTTP1_E_STATUS_LINE},
    {"status too short", "HTTP/1.1 20\r\n\r\n", 0, TB_HTTP1_BAD, TB_HTTP1_E_STATUS_LINE},
    {"folded header", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", 0, TB_HTTP1_BAD, TB_HTTP1_E_HEADER},
    {"no colon", "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", 0, TB_HTTP1_BAD, TB_HTTP1_E_HEADER},
    {"space in name", "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", 0, TB_HTTP1_BAD, TB_HTTP1_E_HEADER},
    {"content-length not a number", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", 0,
     TB_HTTP1_BAD, TB_HTTP1_E_HEADER},
    {"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0,
     TB_HTTP1_BAD, TB_HTTP1_E_HEADER},
    {"length and chunked",
     "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, TB_HTTP1_BAD,
     TB_HTTP1_E_HEADER},
    {"gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, TB_HTTP1_BAD,
     TB_HTTP1_E_HEADER},
    {"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0,
     TB_HTTP1_BAD, TB_HTTP1_E_FRAMING},
    {"chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX\r\n", 0,
     TB_HTTP1_BAD, TB_HTTP1_E_FRAMING},
    {"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1, TB_HTTP1_BAD,
     TB_HTTP1_E_TRUNCATED},
    {"truncated head", "HTTP/1.1 200 OK\r\nContent-", 1, TB_HTTP1_BAD, TB_HTTP1_E_TRUNCATED},
    {"truncated chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 1,
     TB_HTTP1_BAD, TB_HTTP1_E_TRUNCATED},
    {"no answer at all", "", 1, TB_HTTP1_BAD, TB_HTTP1_E_TRUNCATED},
    {"content-length over the cap", "HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n", 0,
     TB_HTTP1_TOO_LARGE, TB_HTTP1_E_TOO_LARGE},
    {"huge content-length", "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n", 0,
     TB_HTTP1_TOO_LARGE, TB_HTTP1_E_TOO_LARGE},
    {"chunk over the cap", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", 0,
     TB_HTTP1_TOO_LARGE, TB_HTTP1_E_TOO_LARGE},
    {"chunk size overflow",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 0,
     TB_HTTP1_TOO_LARGE, TB_HTTP1_E_TOO_LARGE},
};

static void http1__bad_responses__refused_whole_and_bytewise(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			struct tb_http1_response r;
			enum tb_http1_result res =
			    run(bad[i].text, strlen(bad[i].text), bytewise, bad[i].eof, &r);
			if (res != bad[i].res)
				fail_msg("%s (bytewise %d): result %d, expected %d", bad[i].name,
				         bytewise, res, bad[i].res);
			assert_non_null(r.why);
			if (r.error != bad[i].error)
				fail_msg("%s (bytewise %d): error kind %d, expected %d (%s)",
				         bad[i].name, bytewise, r.error, bad[i].error, r.why);
			/* once failed, it stays failed */
			assert_int_equal(tb_http1_response_feed(&r, (const uint8_t *)"x", 1),
			                 TB_HTTP1_BAD);
			tb_http1_response_free(&r);
		}
	}
}

/* Each failure in its own words: a status line, a NUL, a body cut short
 * are not the same thing and are not described alike. */
static void http1__errors__described_precisely(void **state)
{
	static const char nul_status[] = "HTTP/1.1 200\0 OK\r\n\r\n";
	static const char nul_header[] =
	    "HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n";
	static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
	struct tb_http1_response r;
	char why[160];

	assert_int_equal(run(nul_status, sizeof(nul_status) - 1, 0, 0, &r), TB_HTTP1_BAD);
	assert_int_equal(r.error, TB_HTTP1_E_STATUS_LINE);
	assert_string_equal(tb_http1_describe_error(&r, why, sizeof(why)),
	                    "NUL byte in the status line");
	tb_http1_response_free(&r);

	assert_int_equal(run(nul_header, sizeof(nul_header) - 1, 1, 0, &r), TB_HTTP1_BAD);
	assert_int_equal(r.error, TB_HTTP1_E_HEADER);
	assert_string_equal(tb_http1_describe_error(&r, why, sizeof(why)),
	                    "NUL byte in a header line");
	tb_http1_response_free(&r);

	assert_int_equal(run("HTTP/1.1 2OO OK\r\n\r\n", 19, 0, 0, &r), TB_HTTP1_BAD);
	assert_non_null(
	    strstr(tb_http1_describe_error(&r, why, sizeof(why)), "malformed status line"));
	tb_http1_response_free(&r);

	assert_int_equal(run(cut, sizeof(cut) - 1, 0, 1, &r), TB_HTTP1_BAD);
	assert_int_equal(r.error, TB_HTTP1_E_TRUNCATED);
	assert_string_equal(tb_http1_describe_error(&r, why, sizeof(why)),
	                    "the connection closed before the end of the body (10 of 100 bytes)");
	tb_http1_response_free(&r);
}

/* Over TLS a close-delimited body ends only with close_notify: a bare TCP
 * close (tb_http1_response_eof_unclean) is a truncation. Bodies with a
 * length are not affected; an incomplete one is a truncation either way. */
static void http1__unclean_close__truncates_a_close_delimited_body(void **state)
{
	static const char open_body[] = "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\n\r\nuntil close";
	static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc";
	struct tb_http1_response r;
	char why[160];

	assert_int_equal(run(open_body, sizeof(open_body) - 1, 0, 0, &r), TB_HTTP1_MORE);
	assert_int_equal(tb_http1_response_eof_unclean(&r), TB_HTTP1_BAD);
	assert_int_equal(r.error, TB_HTTP1_E_TRUNCATED);
	assert_non_null(strstr(tb_http1_describe_error(&r, why, sizeof(why)), "close_notify"));
	assert_non_null(strstr(why, "after 11 body bytes"));
	tb_http1_response_free(&r);

	/* the same bytes, closed cleanly: complete */
	assert_int_equal(run(open_body, sizeof(open_body) - 1, 0, 0, &r), TB_HTTP1_MORE);
	assert_int_equal(tb_http1_response_eof(&r), TB_HTTP1_COMPLETE);
	tb_http1_response_free(&r);

	assert_int_equal(run(cut, sizeof(cut) - 1, 0, 0, &r), TB_HTTP1_MORE);
	assert_int_equal(tb_http1_response_eof_unclean(&r), TB_HTTP1_BAD);
	assert_int_equal(r.error, TB_HTTP1_E_TRUNCATED);
	assert_non_null(strstr(tb_http1_describe_error(&r, why, sizeof(why)), "3 of 100 bytes"));
	tb_http1_response_free(&r);
}

static void http1__body_over_the_cap_without_length__refused(void **state)
{
	static char text[2000];
	struct tb_http1_response r;
	int n = snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n\r\n");
	memset(text + n, 'a', 1001);
	assert_int_equal(run(text, (size_t)n + 1001, 0, 0, &r), TB_HTTP1_TOO_LARGE);
	assert_true(r.body_len <= MAX_BODY);
	tb_http1_response_free(&r);
}

static void http1__long_line_or_head__refused(void **state)
{
	static char text[8192];
	struct tb_http1_response r;
	int n = snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\nX: ");
	memset(text + n, 'a', 2000);
	assert_int_equal(run(text, (size_t)n + 2000, 0, 0, &r), TB_HTTP1_TOO_LARGE);
	tb_http1_response_free(&r);

	n = snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n");
	while (n < 5000)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "X-Filler: %040d\r\n", n);
	assert_int_equal(run(text, (size_t)n, 0, 0, &r), TB_HTTP1_TOO_LARGE);
	tb_http1_response_free(&r);
}

static void http1__request_head__exact_bytes(void **state)
{
	char out[512];
	int n = tb_http1_request_head(out, sizeof(out), "/tam", "127.0.0.1", 8480, 0,
	                              "application/teep+cbor", 0, 0);
	assert_true(n > 0);
	assert_string_equal(out, "POST /tam HTTP/1.1\r\n"
	                         "Host: 127.0.0.1:8480\r\n"
	                         "User-Agent: teep-brokerd/" PACKAGE_VERSION "\r\n"
	                         "Accept: application/teep+cbor\r\n"
	                         "Content-Type: application/teep+cbor\r\n"
	                         "Content-Length: 0\r\n"
	                         "Connection: close\r\n"
	                         "\r\n");
	assert_null(strstr(out, "Cache-Control"));
	assert_null(strstr(out, "Pragma"));
	assert_null(strstr(out, "Cookie"));
}

/* A connection that may carry the exchange's next POST: no
 * "Connection: close" in the request, and the response's own say. */
static void http1__request_head__keep_alive(void **state)
{
	char out[512];
	(void)state;
	assert_true(tb_http1_request_head(out, sizeof(out), "/tam", "h", 80, 0, "a/b", 3, 1) > 0);
	assert_null(strstr(out, "Connection"));
	assert_non_null(strstr(out, "Content-Length: 3\r\n\r\n"));
}

static void http1__response__reusable(void **state)
{
	static const struct {
		const char *text;
		int eof;
		int reusable;
	} cases[] = {
	    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab", 0, 1},
	    {"HTTP/1.1 204 No Content\r\n\r\n", 0, 1},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", 0, 1},
	    {"HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 0,
	     1},
	    {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nab", 0, 0},
	    {"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", 0, 0},
	    {"HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n", 0, 1},
	    {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nab", 0, 0},
	    {"HTTP/1.1 200 OK\r\n\r\nab", 1, 0}, /* ended by the close */
	    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1", 0, 0}, /* trailing */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tb_http1_response r;
		assert_int_equal(run(cases[i].text, strlen(cases[i].text), 0, cases[i].eof, &r),
		                 TB_HTTP1_COMPLETE);
		if (tb_http1_response_reusable(&r) != cases[i].reusable)
			fail_msg("case %zu: reusable %d", i, !cases[i].reusable);
		tb_http1_response_free(&r);
		if (strstr(cases[i].text, "abHTTP"))
			continue; /* bytewise, the extra bytes are never fed */
		assert_int_equal(run(cases[i].text, strlen(cases[i].text), 1, cases[i].eof, &r),
		                 TB_HTTP1_COMPLETE);
		assert_int_equal(tb_http1_response_reusable(&r), cases[i].reusable);
		tb_http1_response_free(&r);
	}
}

static void http1__request_head__host_forms(void **state)
{
	char out[512];
	assert_true(
	    tb_http1_request_head(out, sizeof(out), "/", "tam.example", 443, 1, "a/b", 9, 0) > 0);
	assert_non_null(strstr(out, "Host: tam.example\r\n"));
	assert_non_null(strstr(out, "Content-Length: 9\r\n"));
	assert_true(tb_http1_request_head(out, sizeof(out), "/", "::1", 8080, 0, "a/b", 0, 0) > 0);
	assert_non_null(strstr(out, "Host: [::1]:8080\r\n"));
	assert_true(tb_http1_request_head(out, sizeof(out), "/", "h", 80, 0, "a/b", 0, 0) > 0);
	assert_non_null(strstr(out, "Host: h\r\n"));
}

static void http1__request_head__injection_refused(void **state)
{
	char out[512];
	assert_int_equal(tb_http1_request_head(out, sizeof(out), "/a b", "h", 80, 0, "a/b", 0, 0),
	                 -1);
	assert_int_equal(
	    tb_http1_request_head(out, sizeof(out), "/a\r\nX: y", "h", 80, 0, "a/b", 0, 0), -1);
	assert_int_equal(tb_http1_request_head(out, sizeof(out), "tam", "h", 80, 0, "a/b", 0, 0),
	                 -1);
	assert_int_equal(tb_http1_request_head(out, sizeof(out), "/", "h/x", 80, 0, "a/b", 0, 0),
	                 -1);
	assert_int_equal(tb_http1_request_head(out, sizeof(out), "/", "h\r\n", 80, 0, "a/b", 0, 0),
	                 -1);
	assert_int_equal(tb_http1_request_head(out, 20, "/", "h", 80, 0, "a/b", 0, 0), -1);
}

/* A body with Content-Length is read into one buffer of exactly its size,
 * allocated once, however it arrives (not max_body, not a doubling). */
static void http1__body_of_known_length__one_buffer_of_its_size(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 900\r\n\r\n";
	struct tb_http1_response r;
	uint8_t body[900];
	(void)state;

	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)i;
	for (int step = 1; step <= 300; step *= 300) {
		tb_http1_response_init(&r, MAX_HEAD, MAX_BODY);
		assert_int_equal(
		    tb_http1_response_feed(&r, (const uint8_t *)head, sizeof(head) - 1),
		    TB_HTTP1_MORE);
		enum tb_http1_result res = TB_HTTP1_MORE;
		uint8_t *first = NULL;
		for (size_t off = 0; off < sizeof(body); off += (size_t)step) {
			res = tb_http1_response_feed(&r, body + off, (size_t)step);
			if (!first)
				first = r.body;
			/* allocated once: the buffer never moves */
			assert_ptr_equal(r.body, first);
			assert_int_equal(r.body_cap, sizeof(body));
		}
		assert_int_equal(res, TB_HTTP1_COMPLETE);
		assert_int_equal(r.body_len, sizeof(body));
		assert_memory_equal(r.body, body, sizeof(body));
		tb_http1_response_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(http1__good_responses__parsed_whole_and_bytewise),
	    cmocka_unit_test(http1__bad_responses__refused_whole_and_bytewise),
	    cmocka_unit_test(http1__errors__described_precisely),
	    cmocka_unit_test(http1__unclean_close__truncates_a_close_delimited_body),
	    cmocka_unit_test(http1__body_over_the_cap_without_length__refused),
	    cmocka_unit_test(http1__body_of_known_length__one_buffer_of_its_size),
	    cmocka_unit_test(http1__long_line_or_head__refused),
	    cmocka_unit_test(http1__request_head__exact_bytes),
	    cmocka_unit_test(http1__request_head__host_forms),
	    cmocka_unit_test(http1__request_head__keep_alive),
	    cmocka_unit_test(http1__response__reusable),
	    cmocka_unit_test(http1__request_head__injection_refused),
	};
	return cmocka_run_group_tests_name("http1", tests, NULL, NULL);
}

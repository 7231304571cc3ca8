/* Unit tests of lib/util.c: hex, durations, sizes, files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tb_util.h"
#include <teep-broker/driver.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void util__hex_decode__ignores_whitespace(void **state)
{
	static const uint8_t want[] = {0xa0, 0xa1, 0x0f, 0x10};
	uint8_t *out;
	size_t len;

	(void)state;
	assert_int_equal(tb_hex_decode("A0a1\n 0F\t10", 11, &out, &len), TB_OK);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	free(out);
}

static void util__hex_decode__rejects_odd_and_bad_digits(void **state)
{
	uint8_t *out = (uint8_t *)"x";
	size_t len;

	(void)state;
	assert_int_equal(tb_hex_decode("abc", 3, &out, &len), TB_ERR_PARSE);
	assert_null(out);
	assert_int_equal(tb_hex_decode("zz", 2, &out, &len), TB_ERR_PARSE);
	assert_int_equal(tb_hex_decode("", 0, &out, &len), TB_OK);
	assert_int_equal(len, 0);
	free(out);
}

static void util__hex_encode__lowercase(void **state)
{
	static const uint8_t in[] = {0xde, 0xad, 0x00, 0x7f};
	char out[9];

	(void)state;
	tb_hex_encode(in, sizeof(in), out);
	assert_string_equal(out, "dead007f");
}

static void util__parse_duration__units(void **state)
{
	uint64_t ms;

	(void)state;
	assert_int_equal(tb_parse_duration_ms("10", &ms), TB_OK);
	assert_int_equal(ms, 10000);
	assert_int_equal(tb_parse_duration_ms("10s", &ms), TB_OK);
	assert_int_equal(ms, 10000);
	assert_int_equal(tb_parse_duration_ms("500ms", &ms), TB_OK);
	assert_int_equal(ms, 500);
	assert_int_equal(tb_parse_duration_ms("5m", &ms), TB_OK);
	assert_int_equal(ms, 300000);
	assert_int_equal(tb_parse_duration_ms("1h", &ms), TB_OK);
	assert_int_equal(ms, 3600000);
	assert_int_equal(tb_parse_duration_ms("0", &ms), TB_OK);
	assert_int_equal(ms, 0);
}

static void util__parse_duration__rejects_garbage(void **state)
{
	uint64_t ms;

	(void)state;
	assert_int_equal(tb_parse_duration_ms("", &ms), TB_ERR_INVAL);
	assert_int_equal(tb_parse_duration_ms("-1", &ms), TB_ERR_INVAL);
	assert_int_equal(tb_parse_duration_ms(" 5", &ms), TB_ERR_INVAL);
	assert_int_equal(tb_parse_duration_ms("5 s", &ms), TB_ERR_INVAL);
	assert_int_equal(tb_parse_duration_ms("5d", &ms), TB_ERR_INVAL);
	assert_int_equal(tb_parse_duration_ms("99999999999999999999", &ms), TB_ERR_INVAL);
	assert_int_equal(tb_parse_duration_ms("18446744073709551h", &ms), TB_ERR_INVAL);
	assert_int_equal(tb_parse_duration_ms(NULL, &ms), TB_ERR_INVAL);
}

static void util__parse_size__units(void **state)
{
	uint64_t b;

	(void)state;
	assert_int_equal(tb_parse_size("4096", &b), TB_OK);
	assert_int_equal(b, 4096);
	assert_int_equal(tb_parse_size("64k", &b), TB_OK);
	assert_int_equal(b, 65536);
	assert_int_equal(tb_parse_size("1M", &b), TB_OK);
	assert_int_equal(b, 1048576);
	assert_int_equal(tb_parse_size("2G", &b), TB_OK);
	assert_int_equal(b, 2147483648u);
	assert_int_equal(tb_parse_size("1kb", &b), TB_ERR_INVAL);
	assert_int_equal(tb_parse_size("k", &b), TB_ERR_INVAL);
	assert_int_equal(tb_parse_size("1T", &b), TB_ERR_INVAL);
	assert_int_equal(tb_parse_size("18446744073709551615k", &b), TB_ERR_INVAL);
}

/* A link planted where the temporary file used to be created ("f.tmp"), or
 * at the file's own name, is never written through. */
static void util__write__planted_links__not_followed(void **state)
{
	char dir[] = "/tmp/tb-util-XXXXXX";
	char path[PATH_MAX], tmp[PATH_MAX + 8], victim[PATH_MAX];
	uint8_t *out;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	assert_int_equal(tb_write_file(victim, (const uint8_t *)"precious", 8), TB_OK);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(tb_write_file(path, (const uint8_t *)"new", 3), TB_OK);
	assert_int_equal(tb_read_file(victim, 64, &out, &len), TB_OK);
	assert_int_equal(len, 8);
	assert_memory_equal(out, "precious", 8);
	free(out);
	/* the link at path was replaced by the file */
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(tb_read_file(path, 64, &out, &len), TB_OK);
	assert_int_equal(len, 3);
	free(out);
	unlink(tmp);
	unlink(path);
	unlink(victim);
	assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
}

static void util__write_then_read__round_trip(void **state)
{
	char dir[] = "/tmp/tb-util-XXXXXX";
	char path[PATH_MAX];
	static const uint8_t data[] = "some\0bytes";
	struct stat st;
	uint8_t *out;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(tb_write_file(path, data, sizeof(data)), TB_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tb_read_file(path, 1024, &out, &len), TB_OK);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(out, data, sizeof(data));
	assert_int_equal(out[len], 0);
	free(out);
	/* The size limit is exact: one byte less is refused. */
	assert_int_equal(tb_read_file(path, sizeof(data) - 1, &out, &len), TB_ERR_TOOBIG);
	assert_int_equal(tb_read_file(path, sizeof(data), &out, &len), TB_OK);
	free(out);
	unlink(path);
	assert_int_equal(tb_read_file(path, 1024, &out, &len), TB_ERR_NOTFOUND);
	rmdir(dir);
}

static void util__now_ms__monotonic(void **state)
{
	uint64_t a = tb_now_ms(), b = tb_now_ms();

	(void)state;
	assert_true(b >= a);
	assert_true(a > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(util__hex_decode__ignores_whitespace),
	    cmocka_unit_test(util__hex_decode__rejects_odd_and_bad_digits),
	    cmocka_unit_test(util__hex_encode__lowercase),
	    cmocka_unit_test(util__parse_duration__units),
	    cmocka_unit_test(util__parse_duration__rejects_garbage),
	    cmocka_unit_test(util__parse_size__units),
	    cmocka_unit_test(util__write_then_read__round_trip),
	    cmocka_unit_test(util__write__planted_links__not_followed),
	    cmocka_unit_test(util__now_ms__monotonic),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}

/*
 * configfs-tsm reports (lib/tsm.c) against a fake report directory: the
 * kernel's side is a thread behind FIFOs, which sees the inblob written,
 * bumps the generation and serves an outblob built from that inblob, as
 * the kernel does; plain files stand for an entry nobody serves.
 */
#define _GNU_SOURCE
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tb_tsm.h"
#include <teep-broker/driver.h>

#define SNP_REPORT_LEN 1184

struct fake {
	char dir[64];       /* the report directory */
	char entry[128];    /* its teep-agent entry */
	int rounds;         /* requests to serve */
	int bump;           /* generation step per request (1: no race) */
	size_t outblob_len; /* bytes served */
	unsigned long long gen;
	pthread_t thread;
};

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[256], tmp[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s", dir, name);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void *kernel(void *arg)
{
	struct fake *k = arg;
	char path[256], num[32];
	uint8_t inblob[64], *out = calloc(1, k->outblob_len);

	for (int i = 0; out && i < k->rounds; i++) {
		size_t n = 0;
		ssize_t r;
		int fd;

		snprintf(path, sizeof(path), "%s/inblob", k->entry);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			break;
		while ((r = read(fd, inblob + n, sizeof(inblob) - n)) > 0 && n < sizeof(inblob))
			n += (size_t)r;
		close(fd);
		k->gen += (unsigned long long)k->bump;
		snprintf(num, sizeof(num), "%llu\n", k->gen);
		put_file(k->entry, "generation", num);
		/* an SEV-SNP-shaped report: REPORT_DATA at 0x50 */
		memset(out, 0xee, k->outblob_len);
		if (k->outblob_len >= 0x50 + 64)
			memcpy(out + 0x50, inblob, 64);
		snprintf(path, sizeof(path), "%s/outblob", k->entry);
		fd = open(path, O_WRONLY);
		if (fd < 0)
			break;
		if (write(fd, out, k->outblob_len) < 0) {
			close(fd);
			break;
		}
		close(fd);
	}
	free(out);
	return NULL;
}

static void fake_dir(struct fake *k, int fifos)
{
	char path[256];

	snprintf(k->dir, sizeof(k->dir), "/tmp/test_tsm.XXXXXX");
	assert_non_null(mkdtemp(k->dir));
	snprintf(k->entry, sizeof(k->entry), "%s/%s", k->dir, TB_TSM_ENTRY);
	assert_int_equal(mkdir(k->entry, 0700), 0);
	put_file(k->entry, "provider", "sev_guest\n");
	k->gen = 41;
	put_file(k->entry, "generation", "41\n");
	snprintf(path, sizeof(path), "%s/inblob", k->entry);
	assert_int_equal(fifos ? mkfifo(path, 0600) : close(open(path, O_CREAT | O_WRONLY, 0600)),
	                 0);
	snprintf(path, sizeof(path), "%s/outblob", k->entry);
	if (fifos) {
		assert_int_equal(mkfifo(path, 0600), 0);
	} else {
		put_file(k->entry, "outblob", "a report nobody bound to our inblob");
	}
}

static void fake_start(struct fake *k, int rounds, int bump, size_t outblob_len)
{
	fake_dir(k, 1);
	k->rounds = rounds;
	k->bump = bump;
	k->outblob_len = outblob_len;
	assert_int_equal(pthread_create(&k->thread, NULL, kernel, k), 0);
}

static void fake_remove(struct fake *k)
{
	static const char *names[] = {"provider", "generation", "inblob", "outblob"};
	char path[256];

	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", k->entry, names[i]);
		unlink(path);
	}
	rmdir(k->entry);
	rmdir(k->dir);
}

static void inblob_is_sha512_of_the_nonce(void **state)
{
	/* SHA-512("abc"), FIPS 180-2 */
	static const uint8_t abc[64] = {
	    0xdd, 0xaf, 0x35, 0xa1, 0x93, 0x61, 0x7a, 0xba, 0xcc, 0x41, 0x73, 0x49, 0xae,
	    0x20, 0x41, 0x31, 0x12, 0xe6, 0xfa, 0x4e, 0x89, 0xa9, 0x7e, 0xa2, 0x0a, 0x9e,
	    0xee, 0xe6, 0x4b, 0x55, 0xd3, 0x9a, 0x21, 0x92, 0x99, 0x2a, 0x27, 0x4f, 0xc1,
	    0xa8, 0x36, 0xba, 0x3c, 0x23, 0xa3, 0xfe, 0xeb, 0xbd, 0x45, 0x4d, 0x44, 0x23,
	    0x64, 0x3c, 0xe8, 0x0e, 0x2a, 0x9a, 0xc9, 0x4f, 0xa5, 0x4c, 0xa4, 0x9f};
	uint8_t out[64];

	(void)state;
	assert_int_equal(tb_tsm_inblob((const uint8_t *)"abc", 3, out), TB_OK);
	assert_memory_equal(out, abc, 64);
	assert_int_equal(tb_tsm_inblob(NULL, 0, out), TB_ERR_INVAL);
	assert_int_equal(tb_tsm_report_data_offset("sev_guest"), 0x50);
	assert_int_equal(tb_tsm_report_data_offset("tdx_guest"), 568);
	assert_int_equal(tb_tsm_report_data_offset("arm_cca_guest"), -1);
}

static void no_configfs_tsm_is_not_found(void **state)
{
	static struct tb_tsm_report r;
	uint8_t inblob[64] = {0};
	char err[160];

	(void)state;
	assert_int_equal(tb_tsm_report("/nonexistent/tsm/report", inblob, &r, err, sizeof(err)),
	                 TB_ERR_NOTFOUND);
	assert_non_null(strstr(err, "no configfs-tsm"));
}

static void a_report_bound_to_the_inblob(void **state)
{
	static struct fake k;
	static struct tb_tsm_report r;
	uint8_t inblob[64];
	char err[160] = "";

	(void)state;
	assert_int_equal(tb_tsm_inblob((const uint8_t *)"0123456789abcdef", 16, inblob), TB_OK);
	fake_start(&k, 1, 1, SNP_REPORT_LEN);
	assert_int_equal(tb_tsm_report(k.dir, inblob, &r, err, sizeof(err)), TB_OK);
	assert_int_equal(pthread_join(k.thread, NULL), 0);
	assert_string_equal(r.provider, "sev_guest");
	assert_int_equal(r.generation, 42);
	assert_int_equal(r.outblob_len, SNP_REPORT_LEN);
	assert_memory_equal(r.outblob + 0x50, inblob, 64);
	assert_memory_equal(r.inblob, inblob, 64);
	fake_remove(&k);
}

/* Another writer between our write and our read (the generation moved by
 * two): the report may be bound to its inblob; tried again, then given up. */
static void a_concurrent_writer_is_detected_and_retried(void **state)
{
	static struct fake k;
	static struct tb_tsm_report r;
	uint8_t inblob[64] = {1};
	char err[160] = "";

	(void)state;
	fake_start(&k, TB_TSM_TRIES, 2, SNP_REPORT_LEN);
	assert_int_equal(tb_tsm_report(k.dir, inblob, &r, err, sizeof(err)), TB_ERR_BUSY);
	assert_int_equal(pthread_join(k.thread, NULL), 0);
	assert_non_null(strstr(err, "another writer"));
	assert_int_equal(k.gen, 41 + 2 * TB_TSM_TRIES); /* every try was served */
	assert_int_equal(r.outblob_len, 0);
	fake_remove(&k);
}

/* An entry whose generation never moves (nobody serves it): no report. */
static void an_unchanged_generation_is_no_report(void **state)
{
	static struct fake k;
	static struct tb_tsm_report r;
	uint8_t inblob[64] = {2};
	char err[160] = "";

	(void)state;
	fake_dir(&k, 0);
	assert_int_equal(tb_tsm_report(k.dir, inblob, &r, err, sizeof(err)), TB_ERR_BUSY);
	assert_non_null(strstr(err, "from 41 to 41"));
	fake_remove(&k);
}

static void an_outblob_too_large_is_refused(void **state)
{
	static struct fake k;
	static struct tb_tsm_report r;
	uint8_t inblob[64] = {3};
	char err[160] = "";

	(void)state;
	fake_start(&k, 1, 1, TB_TSM_OUTBLOB_MAX + 1);
	assert_int_equal(tb_tsm_report(k.dir, inblob, &r, err, sizeof(err)), TB_ERR_TOOBIG);
	assert_int_equal(pthread_join(k.thread, NULL), 0);
	assert_int_equal(r.outblob_len, 0);
	fake_remove(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(inblob_is_sha512_of_the_nonce),
	    cmocka_unit_test(no_configfs_tsm_is_not_found),
	    cmocka_unit_test(a_report_bound_to_the_inblob),
	    cmocka_unit_test(a_concurrent_writer_is_detected_and_retried),
	    cmocka_unit_test(an_unchanged_generation_is_no_report),
	    cmocka_unit_test(an_outblob_too_large_is_refused),
	};

	signal(SIGPIPE, SIG_IGN); /* the reader may close a FIFO early */
	return cmocka_run_group_tests(tests, NULL, NULL);
}

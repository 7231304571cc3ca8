/*
 * libFuzzer target: SUIT envelopes.
 *
 * An input starting with 0x00 is taken as a manifest: the harness signs it
 * with a key of its own and wraps it in an envelope with an integrated
 * payload "#tc", so that the command interpreter behind the signature check
 * is reached. Any other input is an envelope, read and processed against
 * the draft's Appendix E key, and as a SUIT Report. A failure recorded
 * while processing must make a report that decodes to the same facts.
 */
#include "tb_cbor.h"
#include "tb_suit.h"
#include "tb_suit_report.h"
#include <teep-broker/driver.h>

#include <mbedtls/sha256.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char appendix_e_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEhJaBGq4LqqvSYVcYnuzaJr6qi/Eb\n"
    "bz/m4rVlnIXbwK07HypLbAmBMcCjbazR14vTgdzfsJwFLbM5kdtzOLSolg==\n"
    "-----END PUBLIC KEY-----\n";

/* The device key Appendix E example 3 is encrypted for (test data). */
static const char device_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIGD+bdbYXVdApTSbb5EmfurFuoG4y1PuJJ5LTrECxHazoAoGCCqGSM49\n"
    "AwEHoUQDQgAEWIbNYd2HWGLlqqgg56FSdMloqbyWBI3crOMvUMNlG6Oe7YEl6TLN\n"
    "YMDq02UNCkhc9ybTeNGwFu1CmLKWHiWPGw==\n"
    "-----END EC PRIVATE KEY-----\n";

/* Read-only after initialization; the harness runs one input at a time. */
static struct tb_key *appendix_e_key;
static struct tb_key *harness_key;
static struct tb_key *device_key;

/* Dependencies: "installed" when the digest's first byte is even, so both
 * outcomes are reached. */
static int dependency(void *arg, const struct tb_component_id *prefix, const uint8_t digest[32])
{
	(void)arg;
	if (prefix->n > TB_TEEP_MAX_SEGMENTS)
		abort();
	return digest[0] % 2 ? TB_ERR_NOTFOUND : TB_OK;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	if (tb_key_load_pem((const uint8_t *)appendix_e_pem, strlen(appendix_e_pem),
	                    &appendix_e_key, err, sizeof(err)) != TB_OK ||
	    tb_key_load_pem((const uint8_t *)device_pem, strlen(device_pem), &device_key, err,
	                    sizeof(err)) != TB_OK ||
	    tb_key_generate(&harness_key) != TB_OK)
		abort();
	return 0;
}

static void process(const uint8_t *env, size_t len, struct tb_key *key)
{
	struct tb_suit_failure failure = {0};
	struct tb_suit_opts o = {.anchors = &key,
	                         .n_anchors = 1,
	                         .decrypt_key = device_key,
	                         .dependency = dependency,
	                         .failure = &failure};
	struct tb_suit_install out;
	struct tb_suit_info info;
	struct tb_suit_report r, back;
	uint8_t *rep;
	size_t rlen;
	char err[256];

	if (tb_suit_info(env, len, &info, err, sizeof(err)) == TB_OK)
		tb_suit_info_clear(&info);
	if (tb_suit_process_ex(env, len, &o, &out, err, sizeof(err)) == TB_OK) {
		if (!out.image.ptr)
			abort();
		tb_suit_install_clear(&out);
	} else if (out.image.ptr || err[0] == 0) {
		abort();
	}
	if (failure.set) {
		tb_suit_report_of_failure(&failure, &r);
		if (tb_suit_report_encode(&r, &rep, &rlen) != TB_OK)
			abort();
		if (tb_suit_report_decode(rep, rlen, &back) != TB_OK || back.ok ||
		    back.result_code != r.result_code || back.section != r.section ||
		    back.offset != r.offset || strcmp(back.uri, r.uri) != 0)
			abort();
		free(rep);
	}
}

static cbor_item_t *bytes_of(cbor_item_t *item)
{
	cbor_item_t *b = NULL;
	uint8_t *buf;
	size_t n;

	if (item && tb_cbor_serialize(item, &buf, &n) == TB_OK) {
		b = tb_cbor_bytes(buf, n);
		free(buf);
	}
	if (item)
		cbor_decref(&item);
	return b;
}

/* [bstr([-16, SHA-256(bstr(manifest))]), bstr(COSE_Sign1 detached)] */
static cbor_item_t *auth_wrapper(const uint8_t *manifest, size_t len)
{
	cbor_item_t *bstr = tb_cbor_bytes(manifest, len), *digest, *arr;
	uint8_t *wrapped, *dbytes, *sig, md[32];
	size_t wlen, dlen, slen;

	if (!bstr || tb_cbor_serialize(bstr, &wrapped, &wlen) != TB_OK)
		abort();
	cbor_decref(&bstr);
	mbedtls_sha256_ret(wrapped, wlen, md, 0);
	free(wrapped);
	digest = cbor_new_definite_array(2);
	tb_cbor_array_push(digest, tb_cbor_int(-16));
	tb_cbor_array_push(digest, tb_cbor_bytes(md, sizeof(md)));
	if (tb_cbor_serialize(digest, &dbytes, &dlen) != TB_OK)
		abort();
	cbor_decref(&digest);
	if (tb_cose_sign1(harness_key, TB_COSE_ALG_ESP256, dbytes, dlen, 1, NULL, 0, &sig, &slen) !=
	    TB_OK)
		abort();
	arr = cbor_new_definite_array(2);
	tb_cbor_array_push(arr, tb_cbor_bytes(dbytes, dlen));
	tb_cbor_array_push(arr, tb_cbor_bytes(sig, slen));
	free(dbytes);
	free(sig);
	return bytes_of(arr);
}

static void signed_manifest(const uint8_t *manifest, size_t len)
{
	static const char hello[] = "Hello, Secure World!";
	cbor_item_t *env = cbor_new_definite_map(3);
	uint8_t *buf;
	size_t n;

	tb_cbor_map_put(env, tb_cbor_int(2), auth_wrapper(manifest, len));
	tb_cbor_map_put(env, tb_cbor_int(3), tb_cbor_bytes(manifest, len));
	tb_cbor_map_put(env, tb_cbor_text("#tc", 3),
	                tb_cbor_bytes((const uint8_t *)hello, sizeof(hello) - 1));
	if (tb_cbor_serialize(env, &buf, &n) != TB_OK)
		abort();
	cbor_decref(&env);
	process(buf, n, harness_key);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 0x00)
		signed_manifest(data + 1, size - 1);
	else
		process(data, size, appendix_e_key);
	{
		struct tb_suit_report r;
		tb_suit_report_decode(data, size, &r);
	}
	return 0;
}

/* Unit tests of lib/suit.c against the draft's Appendix E envelopes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tb_suit.h"
#include "tb_cose_key.h"
#include "tb_cbor.h"
#include "tb_util.h"
#include <teep-broker/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELLO     "Hello, Secure World!"
#define TC_TEXT   "TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f74/ta"
#define SUIT_TEXT "TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f74/suit"

static uint8_t *load_hex(const char *rel, size_t *len)
{
	char path[512];
	uint8_t *text, *bin;
	size_t tlen;

	snprintf(path, sizeof(path), "%s/vectors/%s", TEST_DATA_DIR, rel);
	assert_int_equal(tb_read_file(path, 1 << 20, &text, &tlen), TB_OK);
	assert_int_equal(tb_hex_decode((const char *)text, tlen, &bin, len), TB_OK);
	free(text);
	return bin;
}

static struct tb_key *load_key(const char *rel)
{
	char path[512], err[256];
	struct tb_key *key = NULL;

	snprintf(path, sizeof(path), "%s/vectors/%s", TEST_DATA_DIR, rel);
	assert_int_equal(tb_key_load_file(path, &key, err, sizeof(err)), TB_OK);
	return key;
}

static struct tb_key *appendix_e_key(void)
{
	return load_key("suit/appendixE_signer_public_key.pem");
}

static void assert_id_text(const struct tb_component_id *c, const char *want)
{
	char text[256];

	tb_component_id_format(c, text, sizeof(text));
	assert_string_equal(text, want);
}

static size_t find(const uint8_t *buf, size_t len, const void *needle, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			return i;
	fail_msg("pattern not found");
	return 0;
}

static void suit__info__appendix_e_envelopes(void **state)
{
	static const struct {
		const char *file;
		const char *component;
		const char *manifest_id;
	} v[] = {
	    {"suit/suit_integrated.hex", TC_TEXT, SUIT_TEXT},
	    {"suit/suit_uri.hex", TC_TEXT, SUIT_TEXT},
	    {"suit/suit_personalization.hex", "TEEP-Device/SecureFS/config.json",
	     "TEEP-Device/SecureFS/config.suit"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct tb_suit_info info;
		char err[256] = "";
		size_t len;
		uint8_t *env = load_hex(v[i].file, &len);

		assert_int_equal(tb_suit_info(env, len, &info, err, sizeof(err)), TB_OK);
		assert_int_equal(info.sequence_number, 3);
		assert_id_text(&info.component, v[i].component);
		assert_id_text(&info.manifest_component_id, v[i].manifest_id);
		tb_suit_info_clear(&info);
		free(env);
	}
}

static void suit__integrated__installs_hello_world(void **state)
{
	struct tb_key *key = appendix_e_key();
	struct tb_suit_install out;
	char err[256] = "";
	size_t len;
	uint8_t *env = load_hex("suit/suit_integrated.hex", &len);

	(void)state;
	if (tb_suit_process(env, len, &key, 1, &out, err, sizeof(err)) != TB_OK)
		fail_msg("%s", err);
	assert_int_equal(out.image.len, 20);
	assert_memory_equal(out.image.ptr, HELLO, 20);
	/* the integrated payload where it is in the envelope, not a copy */
	if (tb_cbor_borrows()) {
		assert_true(out.image_borrowed);
		assert_true(out.image.ptr >= env && out.image.ptr + 20 <= env + len);
	}
	assert_int_equal(out.info.sequence_number, 3);
	assert_id_text(&out.info.component, TC_TEXT);
	tb_suit_install_clear(&out);
	free(env);
	tb_key_free(key);
}

static void suit__integrated_other_key__signature_fails(void **state)
{
	struct tb_key *keys[2] = {load_key("libteep-signed/tam_prime256v1_pub.pem"),
	                          load_key("libteep-signed/teep_agent_prime256v1_pub.pem")};
	struct tb_suit_install out;
	char err[256] = "";
	size_t len;
	uint8_t *env = load_hex("suit/suit_integrated.hex", &len);

	(void)state;
	assert_int_equal(tb_suit_process(env, len, keys, 2, &out, err, sizeof(err)), TB_ERR_SIG);
	assert_non_null(strstr(err, "no trust anchor"));
	assert_null(out.image.ptr);
	assert_int_equal(tb_suit_process(env, len, keys, 0, &out, err, sizeof(err)), TB_ERR_SIG);
	free(env);
	tb_key_free(keys[0]);
	tb_key_free(keys[1]);
}

static void suit__second_anchor__verifies(void **state)
{
	struct tb_key *keys[2] = {load_key("libteep-signed/tam_prime256v1_pub.pem"),
	                          appendix_e_key()};
	struct tb_suit_install out;
	size_t len;
	uint8_t *env = load_hex("suit/suit_integrated.hex", &len);

	(void)state;
	assert_int_equal(tb_suit_process(env, len, keys, 2, &out, NULL, 0), TB_OK);
	tb_suit_install_clear(&out);
	free(env);
	tb_key_free(keys[0]);
	tb_key_free(keys[1]);
}

static void suit__uri__fetch_unsupported(void **state)
{
	struct tb_key *key = appendix_e_key();
	struct tb_suit_install out;
	char err[256] = "";
	size_t len;
	uint8_t *env = load_hex("suit/suit_uri.hex", &len);

	(void)state;
	assert_int_equal(tb_suit_process(env, len, &key, 1, &out, err, sizeof(err)), TB_ERR_UNSUP);
	assert_string_equal(
	    err, "cannot fetch https://example.org/8d82573a-926d-4754-9353-32dc29997f74.ta");
	free(env);
	tb_key_free(key);
}

static void suit__personalization__dependencies_unsupported(void **state)
{
	struct tb_key *key = appendix_e_key();
	struct tb_suit_install out;
	char err[256] = "";
	size_t len;
	uint8_t *env = load_hex("suit/suit_personalization.hex", &len);

	(void)state;
	/* it verifies, then asks for what this processor does not do */
	assert_int_equal(tb_suit_process(env, len, &key, 1, &out, err, sizeof(err)), TB_ERR_UNSUP);
	assert_non_null(strstr(err, "dependencies"));
	free(env);
	tb_key_free(key);
}

/* The installed set the dependency lookup answers from: example 1's
 * manifest (suit_uri.hex) when present. */
struct installed {
	int present;
	int calls;
	struct tb_suit_info info;
};

static int dep_lookup(void *arg, const struct tb_component_id *prefix, const uint8_t digest[32])
{
	struct installed *in = arg;

	in->calls++;
	if (!in->present || memcmp(digest, in->info.manifest_digest, 32) != 0)
		return TB_ERR_NOTFOUND;
	if (prefix->n && !tb_component_id_equal(prefix, &in->info.manifest_component_id))
		return TB_ERR_NOTFOUND;
	return TB_OK;
}

static int run_example3(struct installed *in, const struct tb_key *device,
                        struct tb_suit_install *out, char *err, size_t errlen)
{
	struct tb_key *key = appendix_e_key();
	struct tb_suit_opts o = {.anchors = &key,
	                         .n_anchors = 1,
	                         .decrypt_key = device,
	                         .dependency = dep_lookup,
	                         .arg = in};
	size_t len, ulen;
	uint8_t *env = load_hex("suit/suit_personalization.hex", &len);
	uint8_t *uri = load_hex("suit/suit_uri.hex", &ulen);
	int rc;

	assert_int_equal(tb_suit_info(uri, ulen, &in->info, err, errlen), TB_OK);
	rc = tb_suit_process_ex(env, len, &o, out, err, errlen);
	tb_suit_info_clear(&in->info);
	free(env);
	free(uri);
	tb_key_free(key);
	return rc;
}

static void suit__personalization__decrypts_with_dependency(void **state)
{
	static const char want[] =
	    "{\"name\":\"FOO Bar\",\"secret\":\"0123456789abfcdef0123456789abcd\"}";
	struct tb_key *device = load_key("suit/appendixE_device_esdh_private_key.pem");
	struct installed in = {.present = 1};
	struct tb_suit_install out;
	char err[256] = "";

	(void)state;
	if (run_example3(&in, device, &out, err, sizeof(err)) != TB_OK)
		fail_msg("example 3: %s", err);
	assert_int_equal(out.image.len, strlen(want));
	assert_memory_equal(out.image.ptr, want, out.image.len);
	assert_id_text(&out.info.component, "TEEP-Device/SecureFS/config.json");
	assert_id_text(&out.info.manifest_component_id, "TEEP-Device/SecureFS/config.suit");
	/* dependency-resolution resolves it; process-dependency finds it done */
	assert_int_equal(in.calls, 1);
	tb_suit_install_clear(&out);
	tb_key_free(device);
}

static void suit__personalization__missing_dependency(void **state)
{
	struct tb_key *device = load_key("suit/appendixE_device_esdh_private_key.pem");
	struct installed in = {.present = 0};
	struct tb_suit_install out;
	char err[256] = "";

	(void)state;
	assert_int_equal(run_example3(&in, device, &out, err, sizeof(err)), TB_ERR_NOTFOUND);
	assert_non_null(
	    strstr(err, "dependency TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f74/suit"));
	tb_key_free(device);
}

static void suit__personalization__wrong_or_no_device_key(void **state)
{
	struct tb_key *other = NULL;
	struct installed in = {.present = 1};
	struct tb_suit_install out;
	char err[256] = "";

	(void)state;
	assert_int_equal(tb_key_generate(&other), TB_OK);
	assert_int_equal(run_example3(&in, other, &out, err, sizeof(err)), TB_ERR_SIG);
	assert_non_null(strstr(err, "encrypted payload"));
	assert_int_equal(run_example3(&in, NULL, &out, err, sizeof(err)), TB_ERR_UNSUP);
	assert_non_null(strstr(err, "no decryption key"));
	tb_key_free(other);
}

/* A personalization envelope built like example 3 (encrypted for a device
 * key, depending on the TA's manifest) installs where that manifest is
 * installed, and only there. */
static void suit__build_content__encrypted_with_dependency(void **state)
{
	static const uint8_t data[] = "{\"vehicle\":\"KA-01\",\"secret\":\"s3cr3t\"}";
	struct tb_component_id cfg, cfg_mid;
	struct tb_key *signer = NULL, *device = NULL;
	struct installed in = {.present = 1};
	struct tb_suit_opts o = {.n_anchors = 1, .dependency = dep_lookup, .arg = &in};
	struct tb_suit_install out;
	struct tb_suit_info info;
	char err[256] = "";
	size_t len, ulen;
	uint8_t *env, *uri = load_hex("suit/suit_uri.hex", &ulen);

	(void)state;
	assert_int_equal(tb_key_generate(&signer), TB_OK);
	assert_int_equal(tb_key_generate(&device), TB_OK);
	assert_int_equal(tb_suit_info(uri, ulen, &in.info, NULL, 0), TB_OK);
	assert_int_equal(tb_component_id_parse("TEEP-Device/SecureFS/config.json", &cfg), TB_OK);
	assert_int_equal(tb_component_id_parse("TEEP-Device/SecureFS/config.suit", &cfg_mid),
	                 TB_OK);
	{
		struct tb_suit_content c = {.component = &cfg,
		                            .manifest_id = &cfg_mid,
		                            .sequence_number = 2,
		                            .data = data,
		                            .data_len = sizeof(data) - 1,
		                            .recipient = device,
		                            .dependency = &in.info.manifest_component_id,
		                            .dependency_digest = in.info.manifest_digest};
		assert_int_equal(tb_suit_build_content(signer, &c, &env, &len), TB_OK);
	}
	/* the plaintext is not in the envelope */
	for (size_t i = 0; i + 6 <= len; i++)
		assert_memory_not_equal(env + i, "s3cr3t", 6);
	assert_int_equal(tb_suit_info(env, len, &info, NULL, 0), TB_OK);
	assert_id_text(&info.dependency, SUIT_TEXT);
	assert_id_text(&info.manifest_component_id, "TEEP-Device/SecureFS/config.suit");
	tb_suit_info_clear(&info);
	o.anchors = &signer;
	o.decrypt_key = device;
	if (tb_suit_process_ex(env, len, &o, &out, err, sizeof(err)) != TB_OK)
		fail_msg("%s", err);
	assert_int_equal(out.image.len, sizeof(data) - 1);
	assert_memory_equal(out.image.ptr, data, out.image.len);
	tb_suit_install_clear(&out);
	in.present = 0;
	assert_int_equal(tb_suit_process_ex(env, len, &o, &out, err, sizeof(err)), TB_ERR_NOTFOUND);
	tb_suit_info_clear(&in.info);
	tb_component_id_clear(&cfg);
	tb_component_id_clear(&cfg_mid);
	free(env);
	free(uri);
	tb_key_free(signer);
	tb_key_free(device);
}

static void suit__tampered_manifest__digest_fails(void **state)
{
	/* {1: 1, 2: 3, ...}: the start of the manifest; make it sequence 4 */
	static const uint8_t head[] = {0xa6, 0x01, 0x01, 0x02, 0x03};
	struct tb_key *key = appendix_e_key();
	struct tb_suit_install out;
	char err[256] = "";
	size_t len, at;
	uint8_t *env = load_hex("suit/suit_integrated.hex", &len);

	(void)state;
	at = find(env, len, head, sizeof(head));
	env[at + 4] = 0x04;
	assert_int_equal(tb_suit_process(env, len, &key, 1, &out, err, sizeof(err)), TB_ERR_INVAL);
	assert_non_null(strstr(err, "manifest digest mismatch"));
	free(env);
	tb_key_free(key);
}

static void suit__tampered_signature__fails(void **state)
{
	static const uint8_t sig_start[] = {0x6a, 0x9f, 0x4d, 0x3d};
	struct tb_key *key = appendix_e_key();
	struct tb_suit_install out;
	size_t len;
	uint8_t *env = load_hex("suit/suit_integrated.hex", &len);

	(void)state;
	env[find(env, len, sig_start, sizeof(sig_start)) + 1] ^= 0x01;
	assert_int_equal(tb_suit_process(env, len, &key, 1, &out, NULL, 0), TB_ERR_SIG);
	free(env);
	tb_key_free(key);
}

static void suit__tampered_payload__image_match_fails(void **state)
{
	struct tb_key *key = appendix_e_key();
	struct tb_suit_install out;
	char err[256] = "";
	size_t len;
	uint8_t *env = load_hex("suit/suit_integrated.hex", &len);

	(void)state;
	/* the integrated payload is outside the signed manifest ... */
	env[find(env, len, HELLO, 20)] = 'J';
	/* ... but its digest is inside */
	assert_int_equal(tb_suit_process(env, len, &key, 1, &out, err, sizeof(err)), TB_ERR_INVAL);
	assert_string_equal(err, "image-match: digest mismatch");
	free(env);
	tb_key_free(key);
}

static void suit__envelope_tag_107__accepted(void **state)
{
	struct tb_key *key = appendix_e_key();
	struct tb_suit_install out;
	size_t len;
	uint8_t *env = load_hex("suit/suit_integrated.hex", &len);
	uint8_t *tagged = malloc(len + 2);

	(void)state;
	tagged[0] = 0xd8;
	tagged[1] = 0x6b;
	memcpy(tagged + 2, env, len);
	assert_int_equal(tb_suit_process(tagged, len + 2, &key, 1, &out, NULL, 0), TB_OK);
	assert_int_equal(out.image.len, 20);
	tb_suit_install_clear(&out);
	tagged[1] = 0x6c; /* another tag */
	assert_int_equal(tb_suit_process(tagged, len + 2, &key, 1, &out, NULL, 0), TB_ERR_PARSE);
	free(tagged);
	free(env);
	tb_key_free(key);
}

static void suit__truncated_envelope__parse_error(void **state)
{
	struct tb_key *key = appendix_e_key();
	struct tb_suit_install out;
	struct tb_suit_info info;
	size_t len;
	uint8_t *env = load_hex("suit/suit_integrated.hex", &len);

	(void)state;
	assert_int_equal(tb_suit_process(env, len - 1, &key, 1, &out, NULL, 0), TB_ERR_PARSE);
	assert_int_equal(tb_suit_info(env, len - 1, &info, NULL, 0), TB_ERR_PARSE);
	free(env);
	tb_key_free(key);
}

static void suit__build_integrated__round_trips(void **state)
{
	static const uint8_t payload[] = "a trusted component";
	struct tb_component_id comp, mid;
	struct tb_key *signer, *other = appendix_e_key();
	struct tb_suit_install out;
	struct tb_suit_info info;
	char err[256] = "";
	uint8_t *env;
	size_t len;

	(void)state;
	assert_int_equal(tb_key_generate(&signer), TB_OK);
	assert_int_equal(tb_component_id_parse("8d82573a-926d-4754-9353-32dc29997f74", &comp),
	                 TB_OK);
	assert_int_equal(tb_component_id_parse(SUIT_TEXT, &mid), TB_OK);
	assert_int_equal(
	    tb_suit_build_integrated(signer, &comp, &mid, 42, payload, sizeof(payload), &env, &len),
	    TB_OK);
	/* the same shape as the Appendix E example: {2: .., 3: .., "#tc": ..} */
	assert_int_equal(env[0], 0xa3);
	assert_int_equal(tb_suit_info(env, len, &info, err, sizeof(err)), TB_OK);
	assert_int_equal(info.sequence_number, 42);
	assert_true(tb_component_id_equal(&info.component, &comp));
	assert_true(tb_component_id_equal(&info.manifest_component_id, &mid));
	tb_suit_info_clear(&info);
	if (tb_suit_process(env, len, &signer, 1, &out, err, sizeof(err)) != TB_OK)
		fail_msg("%s", err);
	assert_int_equal(out.image.len, sizeof(payload));
	assert_memory_equal(out.image.ptr, payload, sizeof(payload));
	tb_suit_install_clear(&out);
	assert_int_equal(tb_suit_process(env, len, &other, 1, &out, NULL, 0), TB_ERR_SIG);
	free(env);
	/* only a private key can sign */
	assert_int_equal(
	    tb_suit_build_integrated(other, &comp, &mid, 1, payload, sizeof(payload), &env, &len),
	    TB_ERR_INVAL);
	tb_component_id_clear(&comp);
	tb_component_id_clear(&mid);
	tb_key_free(signer);
	tb_key_free(other);
}

/* A kid in the authentication block's COSE_Sign1 unprotected header: the
 * envelope still verifies, the manifest is the same, the kid is there. */
static void suit__set_kid__signature_carries_kid_and_still_verifies(void **state)
{
	static const uint8_t payload[] = "a trusted component";
	struct tb_component_id comp, mid;
	struct tb_key *signer;
	struct tb_suit_install out;
	struct tb_suit_info a, b;
	uint8_t tp[32], *env, *with;
	size_t len, wlen;
	cbor_item_t *e, *auth, *sig, *arr, *kid;
	const uint8_t *p;
	size_t n;

	(void)state;
	assert_int_equal(tb_key_generate(&signer), TB_OK);
	assert_int_equal(tb_cose_key_thumbprint(signer, tp), TB_OK);
	assert_int_equal(tb_component_id_parse("8d82573a-926d-4754-9353-32dc29997f74", &comp),
	                 TB_OK);
	assert_int_equal(tb_component_id_parse(SUIT_TEXT, &mid), TB_OK);
	assert_int_equal(
	    tb_suit_build_integrated(signer, &comp, &mid, 7, payload, sizeof(payload), &env, &len),
	    TB_OK);
	assert_int_equal(tb_suit_set_kid(env, len, tp, sizeof(tp), &with, &wlen), TB_OK);
	assert_int_equal(tb_suit_process(with, wlen, &signer, 1, &out, NULL, 0), TB_OK);
	tb_suit_install_clear(&out);
	assert_int_equal(tb_suit_info(env, len, &a, NULL, 0), TB_OK);
	assert_int_equal(tb_suit_info(with, wlen, &b, NULL, 0), TB_OK);
	assert_memory_equal(a.manifest_digest, b.manifest_digest, 32);
	tb_suit_info_clear(&a);
	tb_suit_info_clear(&b);
	/* {2: << [digest, << 18([prot, {4: kid}, nil, sig]) >>] >>, ...} */
	e = tb_cbor_load(with, wlen, NULL);
	assert_non_null(e);
	assert_int_equal(tb_cbor_get_bytes(tb_cbor_map_get_int(e, 2), &p, &n), TB_OK);
	auth = tb_cbor_load(p, n, NULL);
	assert_non_null(auth);
	assert_int_equal(tb_cbor_get_bytes(cbor_array_handle(auth)[1], &p, &n), TB_OK);
	sig = tb_cbor_load(p, n, NULL);
	assert_non_null(sig);
	assert_true(cbor_isa_tag(sig));
	arr = cbor_tag_item(sig);
	kid = tb_cbor_map_get_int(cbor_array_handle(arr)[1], 4);
	assert_non_null(kid);
	assert_int_equal(tb_cbor_get_bytes(kid, &p, &n), TB_OK);
	assert_int_equal(n, 32);
	assert_memory_equal(p, tp, 32);
	cbor_decref(&arr);
	cbor_decref(&sig);
	cbor_decref(&auth);
	cbor_decref(&e);
	free(with);
	/* not an envelope, no kid, a kid too long */
	assert_int_equal(tb_suit_set_kid(payload, sizeof(payload), tp, 32, &with, &wlen),
	                 TB_ERR_PARSE);
	assert_int_equal(tb_suit_set_kid(env, len, tp, 0, &with, &wlen), TB_ERR_INVAL);
	assert_int_equal(tb_suit_set_kid(env, len, tp, 65, &with, &wlen), TB_ERR_INVAL);
	free(env);
	tb_component_id_clear(&comp);
	tb_component_id_clear(&mid);
	tb_key_free(signer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(suit__info__appendix_e_envelopes),
	    cmocka_unit_test(suit__integrated__installs_hello_world),
	    cmocka_unit_test(suit__integrated_other_key__signature_fails),
	    cmocka_unit_test(suit__second_anchor__verifies),
	    cmocka_unit_test(suit__uri__fetch_unsupported),
	    cmocka_unit_test(suit__personalization__dependencies_unsupported),
	    cmocka_unit_test(suit__personalization__decrypts_with_dependency),
	    cmocka_unit_test(suit__personalization__missing_dependency),
	    cmocka_unit_test(suit__personalization__wrong_or_no_device_key),
	    cmocka_unit_test(suit__build_content__encrypted_with_dependency),
	    cmocka_unit_test(suit__tampered_manifest__digest_fails),
	    cmocka_unit_test(suit__tampered_signature__fails),
	    cmocka_unit_test(suit__tampered_payload__image_match_fails),
	    cmocka_unit_test(suit__envelope_tag_107__accepted),
	    cmocka_unit_test(suit__truncated_envelope__parse_error),
	    cmocka_unit_test(suit__build_integrated__round_trips),
	    cmocka_unit_test(suit__set_kid__signature_carries_kid_and_still_verifies),
	};
	return cmocka_run_group_tests_name("suit", tests, NULL, NULL);
}

/*
 * Evidence (lib/eat.c), Attestation Results (lib/ear.c), the RFC 9679
 * thumbprint (lib/cose_key.c) and the TAM's appraisal (tools/tam_appraise.c).
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

#include "tam_appraise.h"
#include "tb_cose_key.h"
#include "tb_ear.h"
#include "tb_eat.h"

#include <teep-broker/driver.h>

static const uint8_t chal[16] = "0123456789abcdef";
static const uint8_t meas_ok[32] = {1, 2, 3, 4, 5};

struct fx {
	struct tb_key *attest, *other, *agent;
	/* outstanding challenges of the fake TAM: one slot, used once */
	uint8_t outstanding[16];
	int has_outstanding;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(tb_key_generate(&f->attest), TB_OK);
	assert_int_equal(tb_key_generate(&f->other), TB_OK);
	assert_int_equal(tb_key_generate(&f->agent), TB_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tb_key_free(f->attest);
	tb_key_free(f->other);
	tb_key_free(f->agent);
	free(f);
	return 0;
}

static void claims(struct fx *f, struct tb_eat_claims *c, int alg)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->nonce, chal, sizeof(chal));
	c->nonce_len = sizeof(chal);
	c->ueid[0] = 0x01;
	assert_int_equal(tb_cose_key_thumbprint(f->attest, c->ueid + 1), TB_OK);
	c->ueid_len = 33;
	memset(c->oemid, 0xab, 16);
	c->oemid_len = 16;
	memcpy(c->hwmodel, "software", 8);
	c->hwmodel_len = 8;
	snprintf(c->hwversion, sizeof(c->hwversion), "1.0");
	snprintf(c->meas[0].name, sizeof(c->meas[0].name), "sim.so");
	memcpy(c->meas[0].sha256, meas_ok, 32);
	c->n_meas = 1;
	memset(c->manifests[0], 0x5a, 32);
	c->n_manifests = 1;
	c->has_cnf = 1;
	c->cnf_alg = alg;
	assert_int_equal(tb_key_public_xy(f->agent, c->cnf_x, c->cnf_y), TB_OK);
	c->iat = 1700000000;
}

static int take(void *arg, const uint8_t *n, size_t len)
{
	struct fx *f = arg;

	if (!f->has_outstanding || len != sizeof(f->outstanding) ||
	    memcmp(n, f->outstanding, len) != 0)
		return 0;
	f->has_outstanding = 0;
	return 1;
}

static void token(struct fx *f, const struct tb_key *key, int alg, uint8_t **out, size_t *len)
{
	struct tb_eat_claims c;

	claims(f, &c, alg);
	assert_int_equal(tb_eat_sign(key, alg, &c, out, len), TB_OK);
}

static int appraise(struct fx *f, const uint8_t *tok, size_t len, const uint8_t (*expect)[32],
                    size_t n_expect, const char *tee, struct tb_ear *ear)
{
	struct tb_key *keys[] = {f->other, f->attest};
	const char *allowed[] = {tee};
	struct tam_attest_policy p = {keys, 2, expect, n_expect, allowed, tee ? 1 : 0, 0};
	char why[160];

	assert_int_equal(
	    tam_appraise(&p, TB_EAT_MEDIA_TYPE, tok, len, take, f, 1, NULL, ear, why, sizeof(why)),
	    TB_OK);
	return ear->status;
}

/* RFC 9679 section 6 example: the P-256 key of RFC 9052 C.7.1. */
static void cose_key__rfc9679_example_thumbprint(void **state)
{
	static const char xh[] = "65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d";
	static const char yh[] = "1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c";
	static const char th[] = "496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec";
	uint8_t x[32], y[32], want[32], got[32];

	(void)state;
	for (int i = 0; i < 32; i++) {
		assert_int_equal(sscanf(xh + 2 * i, "%2hhx", &x[i]), 1);
		assert_int_equal(sscanf(yh + 2 * i, "%2hhx", &y[i]), 1);
		assert_int_equal(sscanf(th + 2 * i, "%2hhx", &want[i]), 1);
	}
	assert_int_equal(tb_cose_key_thumbprint_xy(x, y, got), TB_OK);
	assert_memory_equal(got, want, 32);
}

static void eat__round_trip_both_algorithms(void **state)
{
	struct fx *f = *state;
	const int algs[] = {TB_COSE_ALG_ESP256, TB_COSE_ALG_ES256}; /* draft-26, pre-26 */

	for (size_t i = 0; i < 2; i++) {
		struct tb_eat_claims c, d;
		uint8_t *tok = NULL;
		size_t len = 0, which = 9;
		char err[160];

		claims(f, &c, algs[i]);
		assert_int_equal(tb_eat_sign(f->attest, algs[i], &c, &tok, &len), TB_OK);
		assert_int_equal(
		    tb_eat_verify(tok, len, &f->attest, 1, &d, &which, err, sizeof(err)), TB_OK);
		assert_int_equal(which, 0);
		assert_memory_equal(d.nonce, c.nonce, c.nonce_len);
		assert_memory_equal(d.ueid, c.ueid, 33);
		assert_int_equal(d.oemid_len, 16);
		assert_int_equal(d.hwmodel_len, 8);
		assert_string_equal(d.hwversion, "1.0");
		assert_int_equal(d.n_meas, 1);
		assert_string_equal(d.meas[0].name, "sim.so");
		assert_memory_equal(d.meas[0].sha256, meas_ok, 32);
		assert_int_equal(d.n_manifests, 1);
		assert_memory_equal(d.manifests[0], c.manifests[0], 32);
		assert_int_equal(d.cnf_alg, algs[i]);
		assert_memory_equal(d.cnf_x, c.cnf_x, 32);
		assert_int_equal(d.iat, 1700000000);
		free(tok);
	}
}

static void eat__missing_required_claim_is_refused(void **state)
{
	struct fx *f = *state;
	struct tb_eat_claims c;
	uint8_t *buf = NULL;
	size_t len = 0;

	claims(f, &c, TB_COSE_ALG_ESP256);
	c.has_cnf = 0;
	assert_int_equal(tb_eat_encode(&c, &buf, &len), TB_ERR_INVAL);
	claims(f, &c, TB_COSE_ALG_ESP256);
	c.nonce_len = 4;
	assert_int_equal(tb_eat_encode(&c, &buf, &len), TB_ERR_INVAL);
}

static void eat__truncated_and_bit_flipped_tokens_are_refused(void **state)
{
	struct fx *f = *state;
	struct tb_eat_claims d;
	uint8_t *tok = NULL, kid[32];
	const uint8_t *kid_at;
	size_t len = 0;
	char err[160];

	token(f, f->attest, TB_COSE_ALG_ESP256, &tok, &len);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(
		    tb_eat_verify(tok, cut, &f->attest, 1, &d, NULL, err, sizeof(err)), TB_OK);
	/* every bit that is signed: all but the unprotected header {4: kid}
	 * (a1 04 58 20 + 32 bytes), which RFC 9052 leaves outside the
	 * signature */
	assert_int_equal(tb_cose_key_thumbprint(f->attest, kid), TB_OK);
	kid_at = (const uint8_t *)memmem(tok, len, kid, sizeof(kid));
	assert_non_null(kid_at);
	for (size_t i = 0; i < len; i++) {
		if (tok + i >= kid_at - 4 && tok + i < kid_at + sizeof(kid))
			continue;
		for (int bit = 0; bit < 8; bit += 3) {
			tok[i] ^= (uint8_t)(1u << bit);
			if (tb_eat_verify(tok, len, &f->attest, 1, &d, NULL, err, sizeof(err)) ==
			    TB_OK)
				fail_msg("flip of bit %d of byte %zu/%zu (0x%02x) verifies", bit, i,
				         len, tok[i]);
			tok[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(tb_eat_verify(tok, len, &f->attest, 1, &d, NULL, err, sizeof(err)), TB_OK);
	free(tok);
}

static void appraise__affirming_then_replay_refused(void **state)
{
	struct fx *f = *state;
	uint8_t *tok = NULL;
	size_t len = 0;
	struct tb_ear ear;

	memcpy(f->outstanding, chal, 16);
	f->has_outstanding = 1;
	token(f, f->attest, TB_COSE_ALG_ESP256, &tok, &len);
	assert_int_equal(appraise(f, tok, len, &meas_ok, 1, "software", &ear), TB_EAR_AFFIRMING);
	assert_int_equal(ear.tv[TB_TV_INSTANCE_IDENTITY], TB_AR4SI_TRUSTWORTHY_INSTANCE);
	assert_int_equal(ear.tv[TB_TV_EXECUTABLES], TB_AR4SI_APPROVED_RUNTIME);
	assert_int_equal(ear.nonce_len, 16);
	/* the same Evidence again: its nonce is used up */
	assert_int_equal(appraise(f, tok, len, &meas_ok, 1, "software", &ear),
	                 TB_EAR_CONTRAINDICATED);
	assert_int_equal(ear.tv[TB_TV_INSTANCE_IDENTITY], TB_AR4SI_UNTRUSTWORTHY_INSTANCE);
	free(tok);
}

static void appraise__wrong_nonce_refused(void **state)
{
	struct fx *f = *state;
	uint8_t *tok = NULL;
	size_t len = 0;
	struct tb_ear ear;

	memcpy(f->outstanding, "another challeng", 16);
	f->has_outstanding = 1;
	token(f, f->attest, TB_COSE_ALG_ES256, &tok, &len);
	assert_int_equal(appraise(f, tok, len, NULL, 0, NULL, &ear), TB_EAR_CONTRAINDICATED);
	assert_true(f->has_outstanding); /* not ours: the real one is still there */
	free(tok);
}

static void appraise__unknown_key_refused_and_keeps_the_challenge(void **state)
{
	struct fx *f = *state;
	struct tb_key *stranger = NULL;
	uint8_t *tok = NULL;
	size_t len = 0;
	struct tb_ear ear;

	assert_int_equal(tb_key_generate(&stranger), TB_OK);
	memcpy(f->outstanding, chal, 16);
	f->has_outstanding = 1;
	token(f, stranger, TB_COSE_ALG_ESP256, &tok, &len);
	assert_int_equal(appraise(f, tok, len, NULL, 0, NULL, &ear), TB_EAR_CONTRAINDICATED);
	assert_int_equal(ear.tv[TB_TV_INSTANCE_IDENTITY], TB_AR4SI_UNRECOGNIZED_INSTANCE);
	assert_true(f->has_outstanding);
	free(tok);
	tb_key_free(stranger);
}

static void appraise__unexpected_measurement_and_tee_kind_not_affirming(void **state)
{
	struct fx *f = *state;
	static const uint8_t other[1][32] = {{9, 9, 9}};
	uint8_t *tok = NULL;
	size_t len = 0;
	struct tb_ear ear;

	token(f, f->attest, TB_COSE_ALG_ESP256, &tok, &len);
	memcpy(f->outstanding, chal, 16);
	f->has_outstanding = 1;
	assert_int_equal(appraise(f, tok, len, other, 1, "software", &ear), TB_EAR_WARNING);
	assert_int_equal(ear.tv[TB_TV_EXECUTABLES], TB_AR4SI_UNRECOGNIZED_RUNTIME);
	memcpy(f->outstanding, chal, 16);
	f->has_outstanding = 1;
	assert_int_equal(appraise(f, tok, len, &meas_ok, 1, "sgx", &ear), TB_EAR_CONTRAINDICATED);
	assert_int_equal(ear.tv[TB_TV_HARDWARE], TB_AR4SI_UNRECOGNIZED_HARDWARE);
	free(tok);
}

static void appraise__no_evidence_or_other_format(void **state)
{
	struct fx *f = *state;
	struct tb_key *keys[] = {f->attest};
	struct tam_attest_policy p = {keys, 1, NULL, 0, NULL, 0, 0};
	struct tb_ear ear;
	char why[160];

	assert_int_equal(tam_appraise(&p, NULL, NULL, 0, take, f, 1, NULL, &ear, why, sizeof(why)),
	                 TB_OK);
	assert_int_equal(ear.status, TB_EAR_CONTRAINDICATED);
	assert_int_equal(tam_appraise(&p, "application/psa-attestation-token", (const uint8_t *)"x",
	                              1, take, f, 1, NULL, &ear, why, sizeof(why)),
	                 TB_OK);
	assert_int_equal(ear.status, TB_EAR_CONTRAINDICATED);
	assert_true(tb_eat_format_ok("Application/EAT+CWT; eat_profile=\"x\""));
	assert_false(tb_eat_format_ok("application/eat+cwtx"));
}

static void ear__sign_verify_round_trip_and_tamper(void **state)
{
	struct fx *f = *state;
	struct tb_ear e = {0}, d;
	uint8_t *tok = NULL;
	size_t len = 0;
	char err[160];

	e.iat = 1700000001;
	snprintf(e.developer, sizeof(e.developer), "dev");
	snprintf(e.build, sizeof(e.build), "1");
	snprintf(e.submod, sizeof(e.submod), "teep-agent");
	snprintf(e.policy_id, sizeof(e.policy_id), "p");
	e.tv[TB_TV_INSTANCE_IDENTITY] = 2;
	e.tv[TB_TV_EXECUTABLES] = 33;
	e.status = tb_ear_status_of(e.tv);
	assert_int_equal(e.status, TB_EAR_WARNING);
	memcpy(e.nonce, chal, 16);
	e.nonce_len = 16;
	assert_int_equal(tb_ear_sign(f->other, TB_COSE_ALG_ESP256, &e, &tok, &len), TB_OK);
	assert_int_equal(tb_ear_verify(tok, len, f->other, &d, err, sizeof(err)), TB_OK);
	assert_int_equal(d.status, TB_EAR_WARNING);
	assert_int_equal(d.tv[TB_TV_EXECUTABLES], 33);
	assert_string_equal(d.submod, "teep-agent");
	assert_int_equal(d.iat, 1700000001);
	assert_memory_equal(d.nonce, chal, 16);
	assert_int_not_equal(tb_ear_verify(tok, len, f->attest, &d, err, sizeof(err)), TB_OK);
	tok[len - 1] ^= 1;
	assert_int_not_equal(tb_ear_verify(tok, len, f->other, &d, err, sizeof(err)), TB_OK);
	free(tok);
}

/* The appraisal names the device: the ueid of the Evidence is in the EAR
 * (teep-tam --ear-dir files it under that name). */
static void appraise__ear_carries_the_ueid(void **state)
{
	struct fx *f = *state;
	struct tb_ear ear, d;
	struct tb_eat_claims c;
	uint8_t *tok = NULL, *ear_tok = NULL;
	size_t len = 0, ear_len = 0;
	char err[160];

	token(f, f->attest, TB_COSE_ALG_ESP256, &tok, &len);
	claims(f, &c, TB_COSE_ALG_ESP256);
	memcpy(f->outstanding, chal, 16);
	f->has_outstanding = 1;
	assert_int_equal(appraise(f, tok, len, NULL, 0, NULL, &ear), TB_EAR_AFFIRMING);
	assert_int_equal(ear.ueid_len, 33);
	assert_memory_equal(ear.ueid, c.ueid, 33);
	assert_int_equal(tb_ear_sign(f->other, TB_COSE_ALG_ESP256, &ear, &ear_tok, &ear_len),
	                 TB_OK);
	assert_int_equal(tb_ear_verify(ear_tok, ear_len, f->other, &d, err, sizeof(err)), TB_OK);
	assert_int_equal(d.ueid_len, 33);
	assert_memory_equal(d.ueid, c.ueid, 33);
	free(ear_tok);
	free(tok);
}

/* A Relying Party's check: signature, then freshness within the bounds. */
static void ear__check_signature_and_freshness(void **state)
{
	struct fx *f = *state;
	struct tb_ear e = {0}, d;
	uint8_t *tok = NULL;
	size_t len = 0;
	char err[160];

	e.iat = 1700000000;
	snprintf(e.developer, sizeof(e.developer), "dev");
	snprintf(e.build, sizeof(e.build), "1");
	snprintf(e.submod, sizeof(e.submod), "teep-agent");
	snprintf(e.policy_id, sizeof(e.policy_id), "p");
	e.tv[TB_TV_INSTANCE_IDENTITY] = 2;
	e.status = tb_ear_status_of(e.tv);
	assert_int_equal(tb_ear_sign(f->other, TB_COSE_ALG_ESP256, &e, &tok, &len), TB_OK);
	/* fresh: 100 s old with a bound of 3600 */
	assert_int_equal(
	    tb_ear_check(tok, len, f->other, 1700000100, 3600, 60, &d, err, sizeof(err)), TB_OK);
	assert_int_equal(d.status, TB_EAR_AFFIRMING);
	/* exactly at the bound still passes, one second past it does not */
	assert_int_equal(
	    tb_ear_check(tok, len, f->other, 1700003600, 3600, 60, &d, err, sizeof(err)), TB_OK);
	assert_int_equal(
	    tb_ear_check(tok, len, f->other, 1700003601, 3600, 60, &d, err, sizeof(err)),
	    TB_ERR_STATE);
	assert_non_null(strstr(err, "old"));
	/* from the future beyond the skew */
	assert_int_equal(
	    tb_ear_check(tok, len, f->other, 1699999900, 3600, 60, &d, err, sizeof(err)),
	    TB_ERR_STATE);
	assert_non_null(strstr(err, "future"));
	/* another key, or a flipped bit: not verified */
	assert_int_equal(
	    tb_ear_check(tok, len, f->attest, 1700000100, 3600, 60, &d, err, sizeof(err)),
	    TB_ERR_SIG);
	tok[len - 1] ^= 1;
	assert_int_equal(
	    tb_ear_check(tok, len, f->other, 1700000100, 3600, 60, &d, err, sizeof(err)),
	    TB_ERR_SIG);
	/* not a COSE_Sign1 at all */
	assert_int_equal(tb_ear_check((const uint8_t *)"\xa0", 1, f->other, 1700000100, 3600, 60,
	                              &d, err, sizeof(err)),
	                 TB_ERR_PARSE);
	free(tok);
}

/* Evidence with a configfs-tsm report, SEV-SNP shaped: REPORT_DATA at 0x50
 * is SHA-512 of the nonce; corrupt selects what is wrong with it. */
static int appraise_tsm(struct fx *f, int with_report, int corrupt, int require, struct tb_ear *ear,
                        char *why, size_t whylen)
{
	static struct tb_eat_claims c, d;
	struct tb_key *keys[] = {f->attest};
	struct tam_attest_policy p = {keys, 1, NULL, 0, NULL, 0, require};
	uint8_t *tok = NULL;
	size_t len = 0;

	claims(f, &c, TB_COSE_ALG_ESP256);
	if (with_report) {
		c.has_tsm = 1;
		snprintf(c.tsm.provider, sizeof(c.tsm.provider), "sev_guest");
		c.tsm.generation = 7;
		assert_int_equal(tb_tsm_inblob(c.nonce, c.nonce_len, c.tsm.inblob), TB_OK);
		c.tsm.outblob_len = 1184;
		memset(c.tsm.outblob, 0xee, c.tsm.outblob_len);
		memcpy(c.tsm.outblob + 0x50, c.tsm.inblob, 64);
		if (corrupt == 1)
			c.tsm.inblob[0] ^= 1; /* bound to another nonce */
		if (corrupt == 2)
			c.tsm.outblob[0x50] ^= 1; /* the report holds other data */
	}
	assert_int_equal(tb_eat_sign(f->attest, TB_COSE_ALG_ESP256, &c, &tok, &len), TB_OK);
	/* the claim survives the round trip */
	assert_int_equal(tb_eat_verify(tok, len, keys, 1, &d, NULL, NULL, 0), TB_OK);
	assert_int_equal(d.has_tsm, with_report);
	if (with_report) {
		assert_string_equal(d.tsm.provider, "sev_guest");
		assert_int_equal(d.tsm.generation, 7);
		assert_int_equal(d.tsm.outblob_len, 1184);
		assert_memory_equal(d.tsm.outblob, c.tsm.outblob, 1184);
	}
	memcpy(f->outstanding, chal, 16);
	f->has_outstanding = 1;
	assert_int_equal(
	    tam_appraise(&p, TB_EAT_MEDIA_TYPE, tok, len, take, f, 1, NULL, ear, why, whylen),
	    TB_OK);
	free(tok);
	return ear->status;
}

static void appraise__hardware_report_presence_and_binding(void **state)
{
	struct fx *f = *state;
	struct tb_ear ear;
	char why[160];

	assert_int_equal(appraise_tsm(f, 1, 0, 1, &ear, why, sizeof(why)), TB_EAR_AFFIRMING);
	assert_int_equal(ear.tv[TB_TV_HARDWARE], TB_AR4SI_GENUINE_HARDWARE);
	/* not required, not there: as before */
	assert_int_equal(appraise_tsm(f, 0, 0, 0, &ear, why, sizeof(why)), TB_EAR_AFFIRMING);
	/* required, not there */
	assert_int_equal(appraise_tsm(f, 0, 0, 1, &ear, why, sizeof(why)), TB_EAR_CONTRAINDICATED);
	assert_int_equal(ear.tv[TB_TV_HARDWARE], TB_AR4SI_UNRECOGNIZED_HARDWARE);
	assert_non_null(strstr(why, "no hardware report"));
	/* there, but bound to another nonce: refused even when not required */
	assert_int_equal(appraise_tsm(f, 1, 1, 0, &ear, why, sizeof(why)), TB_EAR_CONTRAINDICATED);
	assert_int_equal(ear.tv[TB_TV_HARDWARE], TB_AR4SI_CONTRAINDICATED_HARDWARE);
	assert_non_null(strstr(why, "inblob is not SHA-512"));
	/* the report's own report data is not the inblob */
	assert_int_equal(appraise_tsm(f, 1, 2, 1, &ear, why, sizeof(why)), TB_EAR_CONTRAINDICATED);
	assert_non_null(strstr(why, "report data is not its inblob"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cose_key__rfc9679_example_thumbprint),
	    cmocka_unit_test_setup_teardown(eat__round_trip_both_algorithms, setup, teardown),
	    cmocka_unit_test_setup_teardown(eat__missing_required_claim_is_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(eat__truncated_and_bit_flipped_tokens_are_refused,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(appraise__affirming_then_replay_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(appraise__wrong_nonce_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(appraise__unknown_key_refused_and_keeps_the_challenge,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        appraise__unexpected_measurement_and_tee_kind_not_affirming, setup, teardown),
	    cmocka_unit_test_setup_teardown(appraise__no_evidence_or_other_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(appraise__ear_carries_the_ueid, setup, teardown),
	    cmocka_unit_test_setup_teardown(appraise__hardware_report_presence_and_binding, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(ear__check_signature_and_freshness, setup, teardown),
	    cmocka_unit_test_setup_teardown(ear__sign_verify_round_trip_and_tamper, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

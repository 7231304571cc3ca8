/*
 * Unit tests of the "sim" driver. The test plays the TAM: it holds a TAM key
 * and a Trusted Component signer key, builds and signs TEEP messages and
 * SUIT envelopes, and drives the Agent through the driver's own ops table
 * (tb_driver_entry), in a temporary state directory.
 */
#include <config.h>

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <mbedtls/sha256.h>

#include <teep-broker/driver.h>

#include "agent.h"
#include "tb_cbor.h"
#include "tb_cose.h"
#include "tb_cose_key.h"
#include "tb_eat.h"
#include "tb_suit.h"
#include "tb_suit_report.h"
#include "tb_teep.h"
#include "tb_util.h"

extern const struct tb_driver tb_driver_entry;

#define UUID_HEX      "8d82573a926d4754935332dc29997f74"
#define TC_TEXT       "TEEP-Device/SecureFS/0x" UUID_HEX "/ta"
#define MANIFEST_TEXT "TEEP-Device/SecureFS/0x" UUID_HEX "/suit"
#define TAM_URI       "https://tam.example/tam"
#define LOG_CAP       65536

static const uint8_t token16[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                    0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
static const uint8_t payload_v3[] = "first image";
static const uint8_t payload_v4[] = "second image, longer";

/* The test host: tb_host first, so the log callback finds the fixture. */
struct fx {
	struct tb_host host;
	char log[LOG_CAP];
	size_t log_len;
	char root[256];
	char state[300];
	char tam_pub[300];
	char signer_pub[300];
	char other_pub[300];
	struct tb_key *tam;
	struct tb_key *signer;
	struct tb_key *agent_pub;
	enum tb_numbering num;
	void *inst;
};

static void host_log(const struct tb_host *h, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void host_log(const struct tb_host *h, int level, const char *fmt, ...)
{
	struct fx *f = (struct fx *)h;
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (getenv("TEST_SIM_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, line);
	if (f->log_len + strlen(line) + 2 < LOG_CAP) {
		memcpy(f->log + f->log_len, line, strlen(line));
		f->log_len += strlen(line);
		f->log[f->log_len++] = '\n';
		f->log[f->log_len] = 0;
	}
}

static void *host_alloc(size_t n)
{
	return malloc(n);
}

static void host_free(void *p)
{
	free(p);
}

/* ------------------------------------------------------------------------ */
/* Fixture                                                                  */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void write_pub(const struct tb_key *key, const char *path)
{
	char *pem = NULL;

	assert_int_equal(tb_key_to_pem(key, 0, &pem), TB_OK);
	assert_int_equal(tb_write_file(path, (const uint8_t *)pem, strlen(pem)), TB_OK);
	free(pem);
}

static void driver_stop(struct fx *f)
{
	if (f->inst)
		tb_driver_entry.fini(f->inst);
	f->inst = NULL;
}

static int driver_start(struct fx *f, const struct tb_kv *extra, size_t n_extra, int with_uri)
{
	struct tb_kv kv[16];
	size_t n = 0;
	char pub[400];
	int rc;

	driver_stop(f);
	kv[n++] = (struct tb_kv){"state_dir", f->state};
	kv[n++] = (struct tb_kv){"tam_key", f->tam_pub};
	kv[n++] = (struct tb_kv){"tc_signer", f->signer_pub};
	kv[n++] = (struct tb_kv){"numbering", f->num == TB_NUM_PRE26 ? "pre-26" : "draft-26"};
	if (with_uri)
		kv[n++] = (struct tb_kv){"tam_uri", TAM_URI};
	for (size_t i = 0; i < n_extra && n < 16; i++)
		kv[n++] = extra[i];
	rc = tb_driver_entry.init(&f->host, kv, n, &f->inst);
	if (rc != TB_OK)
		return rc;
	tb_key_free(f->agent_pub);
	f->agent_pub = NULL;
	snprintf(pub, sizeof(pub), "%s/agent_pub.pem", f->state);
	assert_int_equal(tb_key_load_file(pub, &f->agent_pub, NULL, 0), TB_OK);
	return TB_OK;
}

static int setup_common(void **state, enum tb_numbering num)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	struct tb_key *other = NULL;

	assert_non_null(f);
	f->host.struct_size = sizeof(f->host);
	f->host.log = host_log;
	f->host.alloc = host_alloc;
	f->host.free = host_free;
	f->host.now_ms = tb_now_ms;
	f->num = num;
	snprintf(f->root, sizeof(f->root), "%s/test_sim.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	snprintf(f->tam_pub, sizeof(f->tam_pub), "%s/tam_pub.pem", f->root);
	snprintf(f->signer_pub, sizeof(f->signer_pub), "%s/signer_pub.pem", f->root);
	snprintf(f->other_pub, sizeof(f->other_pub), "%s/other_pub.pem", f->root);
	assert_int_equal(tb_key_generate(&f->tam), TB_OK);
	assert_int_equal(tb_key_generate(&f->signer), TB_OK);
	assert_int_equal(tb_key_generate(&other), TB_OK);
	write_pub(f->tam, f->tam_pub);
	write_pub(f->signer, f->signer_pub);
	write_pub(other, f->other_pub);
	tb_key_free(other);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	if (setup_common(state, TB_NUM_DRAFT26))
		return -1;
	return driver_start(*state, NULL, 0, 1) == TB_OK ? 0 : -1;
}

static int setup_pre26(void **state)
{
	if (setup_common(state, TB_NUM_PRE26))
		return -1;
	return driver_start(*state, NULL, 0, 1) == TB_OK ? 0 : -1;
}

/* For tests that start the driver themselves. */
static int setup_stopped(void **state)
{
	return setup_common(state, TB_NUM_DRAFT26);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	driver_stop(f);
	tb_key_free(f->tam);
	tb_key_free(f->signer);
	tb_key_free(f->agent_pub);
	nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Playing the TAM                                                          */

static void cid_make(struct tb_component_id *c, const char *last)
{
	uint8_t *uuid = NULL;
	size_t len = 0;

	memset(c, 0, sizeof(*c));
	assert_int_equal(tb_hex_decode(UUID_HEX, strlen(UUID_HEX), &uuid, &len), TB_OK);
	c->seg[0].ptr = (uint8_t *)strdup("TEEP-Device");
	c->seg[0].len = 11;
	c->seg[1].ptr = (uint8_t *)strdup("SecureFS");
	c->seg[1].len = 8;
	c->seg[2].ptr = uuid;
	c->seg[2].len = len;
	c->seg[3].ptr = (uint8_t *)strdup(last);
	c->seg[3].len = strlen(last);
	c->n = 4;
}

static void tc_dir(const struct fx *f, char *out, size_t len)
{
	snprintf(out, len, "%s/tc/" TC_TEXT, f->state);
}

/* Encode and sign as the TAM (or as another key). */
static void tam_sign(const struct fx *f, const struct tb_key *key, const struct tb_teep_msg *m,
                     uint8_t **out, size_t *out_len)
{
	uint8_t *payload = NULL;
	size_t plen = 0;

	assert_int_equal(tb_teep_encode(m, f->num, &payload, &plen), TB_OK);
	assert_int_equal(
	    tb_cose_sign1(key, f->num == TB_NUM_PRE26 ? TB_COSE_ALG_ES256 : TB_COSE_ALG_ESP256,
	                  payload, plen, 0, NULL, 0, out, out_len),
	    TB_OK);
	free(payload);
}

/* Hand bytes to the Agent; the answer must be a message signed by the
 * Agent's key. It is decoded into *answer. */
static void agent_answer_raw(struct fx *f, void *session, const uint8_t *msg, size_t len,
                             struct tb_teep_msg *answer, uint8_t **raw, size_t *raw_len)
{
	struct tb_agent_out out = {0};
	uint8_t *payload = NULL;
	size_t plen = 0;
	char err[128] = "";

	assert_int_equal(tb_driver_entry.process_teep_message(
	                     f->inst, session, "application/teep+cbor", msg, len, &out),
	                 TB_OK);
	assert_non_null(out.msg);
	assert_null(out.tam_uri);
	assert_int_equal(
	    tb_cose_sign1_verify(out.msg, out.msg_len, f->agent_pub, NULL, 0, &payload, &plen),
	    TB_OK);
	memset(answer, 0, sizeof(*answer));
	assert_int_equal(tb_teep_decode(payload, plen, f->num, answer, err, sizeof(err)), TB_OK);
	free(payload);
	if (raw) {
		*raw = out.msg;
		*raw_len = out.msg_len;
	} else {
		f->host.free(out.msg);
	}
}

static void agent_answer(struct fx *f, void *session, const struct tb_teep_msg *m,
                         struct tb_teep_msg *answer)
{
	uint8_t *cose = NULL;
	size_t len = 0;

	tam_sign(f, f->tam, m, &cose, &len);
	agent_answer_raw(f, session, cose, len, answer, NULL, NULL);
	free(cose);
}

static void query_request(struct tb_teep_msg *m, int with_token, uint64_t items)
{
	memset(m, 0, sizeof(*m));
	m->type = TB_TEEP_QUERY_REQUEST;
	m->data_item_requested = items;
	if (with_token) {
		m->token.ptr = malloc(sizeof(token16));
		assert_non_null(m->token.ptr);
		memcpy(m->token.ptr, token16, sizeof(token16));
		m->token.len = sizeof(token16);
	}
}

static void build_manifest(const struct fx *f, const struct tb_key *signer, uint64_t seq,
                           const uint8_t *payload, size_t plen, struct tb_buf *env)
{
	struct tb_component_id tc, mid;

	cid_make(&tc, "ta");
	cid_make(&mid, "suit");
	(void)f;
	assert_int_equal(
	    tb_suit_build_integrated(signer, &tc, &mid, seq, payload, plen, &env->ptr, &env->len),
	    TB_OK);
	tb_component_id_clear(&tc);
	tb_component_id_clear(&mid);
}

/* An Update holding one envelope (taken over) and/or one unneeded id. */
static void update_msg(struct tb_teep_msg *m, struct tb_buf *env, int unneeded)
{
	memset(m, 0, sizeof(*m));
	m->type = TB_TEEP_UPDATE;
	m->token.ptr = malloc(sizeof(token16));
	assert_non_null(m->token.ptr);
	memcpy(m->token.ptr, token16, sizeof(token16));
	m->token.len = sizeof(token16);
	if (env) {
		m->manifest_list = calloc(1, sizeof(*m->manifest_list));
		assert_non_null(m->manifest_list);
		m->manifest_list[0] = *env;
		m->n_manifest_list = 1;
		memset(env, 0, sizeof(*env));
	}
	if (unneeded) {
		m->unneeded_manifest_list = calloc(1, sizeof(*m->unneeded_manifest_list));
		assert_non_null(m->unneeded_manifest_list);
		cid_make(&m->unneeded_manifest_list[0], "suit");
		m->n_unneeded_manifest_list = 1;
	}
}

static void assert_cid_text(const struct tb_component_id *c, const char *text)
{
	char buf[SIM_CID_TEXT_MAX + 1];

	assert_int_equal(agent__cid_to_text(c, buf, sizeof(buf)), TB_OK);
	assert_string_equal(buf, text);
}

/* request_ta / unrequest_ta for the draft's Trusted Component. */
static int call_ta(struct fx *f, int unrequest, const char *hint, struct tb_agent_out *out)
{
	struct tb_component_id c;
	struct tb_bytes segs[TB_TEEP_MAX_SEGMENTS];
	struct tb_ta_request req = {0};
	int rc;

	cid_make(&c, "ta");
	for (size_t i = 0; i < c.n; i++)
		segs[i] = (struct tb_bytes){c.seg[i].ptr, c.seg[i].len};
	req.struct_size = sizeof(req);
	req.component_id = segs;
	req.n_segments = c.n;
	req.tam_uri = hint;
	req.app_id = "test";
	memset(out, 0, sizeof(*out));
	rc = unrequest ? tb_driver_entry.unrequest_ta(f->inst, &req, out)
	               : tb_driver_entry.request_ta(f->inst, &req, out);
	tb_component_id_clear(&c);
	return rc;
}

static void out_release(struct fx *f, struct tb_agent_out *out)
{
	f->host.free(out->tam_uri);
	f->host.free(out->msg);
	if (out->session)
		tb_driver_entry.session_close(f->inst, out->session);
	memset(out, 0, sizeof(*out));
}

/* The end of a policy round as the broker drives it: the next
 * RequestPolicyCheck answers nothing, then the exchange closes. */
static void end_round(struct fx *f, struct tb_agent_out *out)
{
	struct tb_agent_out end = {0};

	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &end), TB_OK);
	assert_null(end.session);
	assert_null(end.tam_uri);
	out_release(f, out);
}

/* A complete install of the draft's TC with the given sequence number;
 * returns the error code of the answer (0 for Success). */
static uint64_t install(struct fx *f, const struct tb_key *signer, uint64_t seq,
                        const uint8_t *payload, size_t plen)
{
	struct tb_agent_out out = {0};
	struct tb_teep_msg up, ans;
	struct tb_buf env = {0};
	uint64_t code;

	/* A policy-check session: installs need no RequestTA first. */
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	assert_non_null(out.session);
	build_manifest(f, signer, seq, payload, plen, &env);
	update_msg(&up, &env, 0);
	agent_answer(f, out.session, &up, &ans);
	code = ans.type == TB_TEEP_SUCCESS ? 0 : ans.err_code;
	assert_true(ans.type == TB_TEEP_SUCCESS || ans.type == TB_TEEP_ERROR);
	assert_int_equal(ans.token.len, sizeof(token16));
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	end_round(f, &out);
	return code;
}

static void assert_image(const struct fx *f, const uint8_t *want, size_t want_len)
{
	char dir[600], path[700];
	uint8_t *buf = NULL;
	size_t len = 0;

	tc_dir(f, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/image", dir);
	assert_int_equal(tb_read_file(path, 1 << 20, &buf, &len), TB_OK);
	assert_int_equal(len, want_len);
	assert_memory_equal(buf, want, want_len);
	free(buf);
}

static int path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

static void sim__descriptor__is_software_and_says_not_a_tee(void **state)
{
	(void)state;
	assert_int_equal(tb_driver_entry.magic, TB_DRIVER_MAGIC);
	assert_int_equal(tb_driver_entry.abi_major, TB_DRIVER_ABI_MAJOR);
	assert_string_equal(tb_driver_entry.name, "sim");
	assert_string_equal(tb_driver_entry.tee_kind, "software");
	assert_non_null(strstr(tb_driver_entry.description, "NOT a TEE"));
	assert_non_null(tb_driver_entry.session_close);
}

static void sim__init__generates_private_key_0600_and_public_key(void **state)
{
	struct fx *f = *state;
	char path[400];
	struct stat st;

	snprintf(path, sizeof(path), "%s/agent.pem", f->state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(f->state, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/agent_pub.pem", f->state);
	assert_true(path_exists(path));
	assert_non_null(strstr(f->log, "NOT a TEE"));
	assert_non_null(strstr(f->log, "agent_pub.pem"));
	assert_null(strstr(f->log, "PRIVATE"));
}

static void sim__init__keeps_the_agent_key_across_restarts(void **state)
{
	struct fx *f = *state;
	uint8_t a[32], b[32];

	assert_int_equal(tb_key_thumbprint(f->agent_pub, a), TB_OK);
	driver_stop(f);
	assert_int_equal(driver_start(f, NULL, 0, 1), TB_OK);
	assert_int_equal(tb_key_thumbprint(f->agent_pub, b), TB_OK);
	assert_memory_equal(a, b, sizeof(a));
}

static void sim__init__refuses_missing_required_options(void **state)
{
	struct fx *f = *state;
	struct tb_kv no_signer[] = {{"state_dir", f->state}, {"tam_key", f->tam_pub}};
	struct tb_kv no_state[] = {{"tam_key", f->tam_pub}, {"tc_signer", f->signer_pub}};
	struct tb_kv bad_num[] = {{"state_dir", f->state},
	                          {"tam_key", f->tam_pub},
	                          {"tc_signer", f->signer_pub},
	                          {"numbering", "draft-99"}};
	struct tb_kv missing_key[] = {{"state_dir", f->state},
	                              {"tam_key", f->tam_pub},
	                              {"tc_signer", f->signer_pub},
	                              {"agent_key", "/nonexistent/agent.pem"}};
	void *inst = NULL;

	assert_int_equal(tb_driver_entry.init(&f->host, no_signer, 2, &inst), TB_ERR_INVAL);
	assert_int_equal(tb_driver_entry.init(&f->host, no_state, 2, &inst), TB_ERR_INVAL);
	assert_int_equal(tb_driver_entry.init(&f->host, bad_num, 4, &inst), TB_ERR_INVAL);
	assert_int_not_equal(tb_driver_entry.init(&f->host, missing_key, 4, &inst), TB_OK);
	assert_null(inst);
}

static void sim__init__warns_about_unknown_options_and_starts(void **state)
{
	struct fx *f = *state;
	struct tb_kv extra[] = {{"colour", "blue"}};

	assert_int_equal(driver_start(f, extra, 1, 1), TB_OK);
	assert_non_null(strstr(f->log, "unknown option 'colour'"));
}

static void sim__request_ta__returns_configured_uri_and_session(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;

	assert_int_equal(call_ta(f, 0, "https://other.example/tam", &out), TB_OK);
	assert_non_null(out.tam_uri);
	assert_string_equal(out.tam_uri, TAM_URI);
	assert_non_null(out.session);
	assert_null(out.msg);
	out_release(f, &out);
}

static void sim__request_ta__without_any_uri_is_inval(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;

	assert_int_equal(driver_start(f, NULL, 0, 0), TB_OK);
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_ERR_INVAL);
	assert_null(out.session);
	assert_null(out.tam_uri);
	/* The app's hint is used when nothing is configured. */
	assert_int_equal(call_ta(f, 0, "https://app.example/tam", &out), TB_OK);
	assert_string_equal(out.tam_uri, "https://app.example/tam");
	out_release(f, &out);
}

/* With a challenge, the QueryResponse carries Evidence: an EAT signed with
 * the attestation key (not the TEEP key), eat_nonce = the challenge, cnf =
 * the Agent's TEEP key with the suite's algorithm; no token (draft-26
 * section 4.3), and the Agent's kid is the RFC 9679 thumbprint. */
static void sim__query_request_with_challenge__answers_evidence(void **state)
{
	static const uint8_t chal[16] = "challenge-0123ab";
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, ans;
	struct tb_eat_claims c;
	struct tb_key *att = NULL;
	char path[400], err[160];
	uint8_t x[32], y[32], tp[32], *raw = NULL;
	size_t raw_len = 0, which = 9;
	cbor_item_t *cose;

	snprintf(path, sizeof(path), "%s/attestation_pub.pem", f->state);
	assert_int_equal(tb_key_load_file(path, &att, err, sizeof(err)), TB_OK);
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 0, TB_TEEP_DIR_ATTESTATION | TB_TEEP_DIR_TRUSTED_COMPONENTS);
	qr.challenge.ptr = malloc(sizeof(chal));
	assert_non_null(qr.challenge.ptr);
	memcpy(qr.challenge.ptr, chal, sizeof(chal));
	qr.challenge.len = sizeof(chal);
	{
		uint8_t *cs = NULL;
		size_t cl = 0;
		tam_sign(f, f->tam, &qr, &cs, &cl);
		agent_answer_raw(f, out.session, cs, cl, &ans, &raw, &raw_len);
		free(cs);
	}
	assert_int_equal(ans.type, TB_TEEP_QUERY_RESPONSE);
	assert_int_equal(ans.token.len, 0);
	assert_non_null(ans.attestation_payload_format);
	assert_string_equal(ans.attestation_payload_format, TB_EAT_MEDIA_TYPE);
	/* signed by the attestation key, not by the TEEP key */
	assert_int_equal(tb_eat_verify(ans.attestation_payload.ptr, ans.attestation_payload.len,
	                               &f->agent_pub, 1, &c, NULL, err, sizeof(err)),
	                 TB_ERR_SIG);
	assert_int_equal(tb_eat_verify(ans.attestation_payload.ptr, ans.attestation_payload.len,
	                               &att, 1, &c, &which, err, sizeof(err)),
	                 TB_OK);
	assert_int_equal(which, 0);
	assert_int_equal(c.nonce_len, sizeof(chal));
	assert_memory_equal(c.nonce, chal, sizeof(chal));
	assert_int_equal(c.hwmodel_len, strlen(SIM_TEE_KIND));
	assert_memory_equal(c.hwmodel, SIM_TEE_KIND, c.hwmodel_len);
	assert_int_equal(c.n_meas, 1);
	assert_true(c.has_cnf);
	assert_int_equal(c.cnf_alg,
	                 f->num == TB_NUM_PRE26 ? TB_COSE_ALG_ES256 : TB_COSE_ALG_ESP256);
	assert_int_equal(tb_key_public_xy(f->agent_pub, x, y), TB_OK);
	assert_memory_equal(c.cnf_x, x, 32);
	assert_memory_equal(c.cnf_y, y, 32);
	/* the TEEP message's kid (unprotected header, label 4) */
	assert_int_equal(tb_cose_key_thumbprint(f->agent_pub, tp), TB_OK);
	cose = tb_cbor_load(raw, raw_len, NULL);
	assert_non_null(cose);
	{
		cbor_item_t *arr = cbor_isa_tag(cose) ? cbor_tag_item(cose) : cbor_incref(cose);
		cbor_item_t *kid = tb_cbor_map_get_int(cbor_array_handle(arr)[1], 4);
		const uint8_t *kp;
		size_t kl;
		assert_non_null(kid);
		assert_int_equal(tb_cbor_get_bytes(kid, &kp, &kl), TB_OK);
		assert_int_equal(kl, 32);
		assert_memory_equal(kp, tp, 32);
		cbor_decref(&arr);
	}
	cbor_decref(&cose);
	f->host.free(raw);
	tb_key_free(att);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

static void sim__query_request__answers_signed_response_listing_requested(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, ans;

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 1, TB_TEEP_DIR_ATTESTATION | TB_TEEP_DIR_TRUSTED_COMPONENTS);
	agent_answer(f, out.session, &qr, &ans);
	assert_int_equal(ans.type, TB_TEEP_QUERY_RESPONSE);
	assert_int_equal(ans.token.len, sizeof(token16));
	assert_memory_equal(ans.token.ptr, token16, sizeof(token16));
	assert_int_equal(ans.n_requested_tc_list, 1);
	assert_cid_text(&ans.requested_tc_list[0], TC_TEXT);
	assert_int_equal(ans.n_tc_list, 0);
	assert_int_equal(ans.n_unneeded_manifest_list, 0);
	assert_non_null(strstr(f->log, "requested=" TC_TEXT));
	/* attestation asked for without a challenge: nothing to bind an EAT to */
	assert_non_null(strstr(f->log, "attestation requested with no challenge: no Evidence"));
	assert_int_equal(ans.attestation_payload.len, 0);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

static void sim__query_request__without_token__answers_without_token(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, ans;

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 0, TB_TEEP_DIR_TRUSTED_COMPONENTS);
	agent_answer(f, out.session, &qr, &ans);
	assert_int_equal(ans.type, TB_TEEP_QUERY_RESPONSE);
	assert_int_equal(ans.token.len, 0);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

/* A TAM that sends a token AND a challenge (the example of draft-26
 * Appendix D does): the QueryResponse carrying the Evidence has no token,
 * its eat_nonce ties it to the request (draft-26 section 4.2: the token is
 * there only when attestation is not asked for). */
static void sim__query_request_with_token_and_challenge__answers_without_token(void **state)
{
	static const uint8_t chal[16] = "challenge-4567cd";
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, ans;

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 1, TB_TEEP_DIR_ATTESTATION | TB_TEEP_DIR_TRUSTED_COMPONENTS);
	qr.challenge.ptr = malloc(sizeof(chal));
	assert_non_null(qr.challenge.ptr);
	memcpy(qr.challenge.ptr, chal, sizeof(chal));
	qr.challenge.len = sizeof(chal);
	agent_answer(f, out.session, &qr, &ans);
	assert_int_equal(ans.type, TB_TEEP_QUERY_RESPONSE);
	assert_int_equal(ans.token.len, 0);
	assert_true(ans.attestation_payload.len > 0);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

static void set_raw(struct tb_buf *b, const uint8_t *p, size_t n)
{
	b->ptr = malloc(n);
	assert_non_null(b->ptr);
	memcpy(b->ptr, p, n);
	b->len = n;
}

/* The QueryRequest's offer decides: the first usable suite is taken and
 * the answers are signed with its identifier; no usable suite, or no
 * supported version, is an Error saying what the Agent supports. */
static void sim__query_request__cipher_suites_and_versions_negotiated(void **state)
{
	/* [[[18, -19]], [[18, -7]]]: Ed25519 first (not possible), then ES256 */
	static const uint8_t es256_second[] = {0x82, 0x81, 0x82, 0x12, 0x32,
	                                       0x81, 0x82, 0x12, 0x26};
	/* [[[18, -19]]] and [[[18, -9], [96, 1]]]: nothing usable */
	static const uint8_t ed_only[] = {0x81, 0x81, 0x82, 0x12, 0x32};
	static const uint8_t with_encrypt[] = {0x81, 0x82, 0x82, 0x12, 0x28,
	                                       0x82, 0x18, 0x60, 0x01};
	/* the protected header {1: alg} right after the COSE_Sign1 tag and array head */
	static const uint8_t prot_es256[] = {0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26};
	struct fx *f = *state;
	struct tb_agent_out out = {0};
	struct tb_teep_msg qr, ans;
	uint8_t *cose = NULL, *raw = NULL;
	size_t len = 0, raw_len = 0;

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
	set_raw(&qr.cipher_suites_cbor, es256_second, sizeof(es256_second));
	tam_sign(f, f->tam, &qr, &cose, &len);
	agent_answer_raw(f, out.session, cose, len, &ans, &raw, &raw_len);
	assert_int_equal(ans.type, TB_TEEP_QUERY_RESPONSE);
	assert_memory_equal(raw, prot_es256, sizeof(prot_es256));
	f->host.free(raw);
	free(cose);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);

	for (int i = 0; i < 2; i++) {
		assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
		query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
		if (i == 0)
			set_raw(&qr.cipher_suites_cbor, ed_only, sizeof(ed_only));
		else
			set_raw(&qr.cipher_suites_cbor, with_encrypt, sizeof(with_encrypt));
		agent_answer(f, out.session, &qr, &ans);
		assert_int_equal(ans.type, TB_TEEP_ERROR);
		assert_int_equal(ans.err_code, TB_TEEP_ERR_UNSUPPORTED_CIPHER_SUITES);
		assert_int_equal(ans.token.len, sizeof(token16));
		assert_true(ans.cipher_suites_cbor.len > 0);
		tb_teep_msg_clear(&qr);
		tb_teep_msg_clear(&ans);
		out_release(f, &out);
	}

	/* versions [1]: the encoder writes [0] (3: [0] in the options), patch it */
	{
		static const uint8_t v0[] = {0x03, 0x81, 0x00};
		uint8_t *payload = NULL;
		size_t plen = 0, at;

		assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
		query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
		assert_int_equal(tb_teep_encode(&qr, f->num, &payload, &plen), TB_OK);
		for (at = 0; at + sizeof(v0) <= plen && memcmp(payload + at, v0, sizeof(v0)); at++)
			;
		assert_true(at + sizeof(v0) <= plen);
		payload[at + 2] = 0x01;
		assert_int_equal(tb_cose_sign1(f->tam, TB_COSE_ALG_ESP256, payload, plen, 0, NULL,
		                               0, &cose, &len),
		                 TB_OK);
		agent_answer_raw(f, out.session, cose, len, &ans, NULL, NULL);
		assert_int_equal(ans.type, TB_TEEP_ERROR);
		assert_int_equal(ans.err_code, TB_TEEP_ERR_UNSUPPORTED_MSG_VERSION);
		assert_true(ans.has_versions);
		free(payload);
		free(cose);
		tb_teep_msg_clear(&qr);
		tb_teep_msg_clear(&ans);
		out_release(f, &out);
	}
}

/* bstr .cbor item (consumed) */
static cbor_item_t *wrap_item(cbor_item_t *item)
{
	uint8_t *b = NULL;
	size_t n = 0;
	cbor_item_t *r;

	assert_int_equal(tb_cbor_serialize(item, &b, &n), TB_OK);
	r = tb_cbor_bytes(b, n);
	free(b);
	cbor_decref(&item);
	return r;
}

static cbor_item_t *cid_item(const struct tb_component_id *c)
{
	cbor_item_t *a = cbor_new_definite_array(c->n);

	for (size_t i = 0; i < c->n; i++)
		assert_int_equal(tb_cbor_array_push(a, tb_cbor_bytes(c->seg[i].ptr, c->seg[i].len)),
		                 TB_OK);
	return a;
}

static cbor_item_t *digest_item(const uint8_t d[32])
{
	cbor_item_t *a = cbor_new_definite_array(2);

	assert_int_equal(tb_cbor_array_push(a, tb_cbor_int(-16)), TB_OK);
	assert_int_equal(tb_cbor_array_push(a, tb_cbor_bytes(d, 32)), TB_OK);
	return a;
}

/* An envelope as TAMs in the field send: the payload fetched from uri in
 * suit-payload-fetch (16), no suit-install, signed by f->signer:
 * {2: auth, 3: << {1: 1, 2: 1, 3: << {2: [tc], 4: << [20, {3: digest,
 *  14: size}] >>} >>, 5: mid, 16: << [20, {21: uri}, 21, 15, 3, 15] >>} >>} */
static void build_uri_fetch_manifest(const struct fx *f, const char *uri, struct tb_buf *env)
{
	struct tb_component_id tc, mid;
	uint8_t pd[32], md[32], *mbytes = NULL, *dbytes = NULL, *sig = NULL, *wrapped = NULL;
	size_t mlen, dlen, slen, wlen;
	cbor_item_t *par = cbor_new_definite_map(2), *shared = cbor_new_definite_array(2);
	cbor_item_t *common = cbor_new_definite_map(2), *comps = cbor_new_definite_array(1);
	cbor_item_t *fpar = cbor_new_definite_map(1), *fetch = cbor_new_definite_array(6);
	cbor_item_t *man = cbor_new_definite_map(5), *auth = cbor_new_definite_array(2);
	cbor_item_t *e = cbor_new_definite_map(2), *mb;

	cid_make(&tc, "ta");
	cid_make(&mid, "suit");
	assert_int_equal(mbedtls_sha256_ret(payload_v3, sizeof(payload_v3), pd, 0), 0);
	assert_int_equal(tb_cbor_map_put(par, tb_cbor_int(3), wrap_item(digest_item(pd))), TB_OK);
	assert_int_equal(tb_cbor_map_put(par, tb_cbor_int(14), tb_cbor_int(sizeof(payload_v3))),
	                 TB_OK);
	assert_int_equal(tb_cbor_array_push(shared, tb_cbor_int(20)), TB_OK);
	assert_int_equal(tb_cbor_array_push(shared, par), TB_OK);
	assert_int_equal(tb_cbor_array_push(comps, cid_item(&tc)), TB_OK);
	assert_int_equal(tb_cbor_map_put(common, tb_cbor_int(2), comps), TB_OK);
	assert_int_equal(tb_cbor_map_put(common, tb_cbor_int(4), wrap_item(shared)), TB_OK);
	assert_int_equal(tb_cbor_map_put(fpar, tb_cbor_int(21), tb_cbor_text(uri, strlen(uri))),
	                 TB_OK);
	assert_int_equal(tb_cbor_array_push(fetch, tb_cbor_int(20)), TB_OK);
	assert_int_equal(tb_cbor_array_push(fetch, fpar), TB_OK);
	assert_int_equal(tb_cbor_array_push(fetch, tb_cbor_int(21)), TB_OK);
	assert_int_equal(tb_cbor_array_push(fetch, tb_cbor_int(15)), TB_OK);
	assert_int_equal(tb_cbor_array_push(fetch, tb_cbor_int(3)), TB_OK);
	assert_int_equal(tb_cbor_array_push(fetch, tb_cbor_int(15)), TB_OK);
	assert_int_equal(tb_cbor_map_put(man, tb_cbor_int(1), tb_cbor_int(1)), TB_OK);
	assert_int_equal(tb_cbor_map_put(man, tb_cbor_int(2), tb_cbor_int(1)), TB_OK);
	assert_int_equal(tb_cbor_map_put(man, tb_cbor_int(3), wrap_item(common)), TB_OK);
	assert_int_equal(tb_cbor_map_put(man, tb_cbor_int(5), cid_item(&mid)), TB_OK);
	assert_int_equal(tb_cbor_map_put(man, tb_cbor_int(16), wrap_item(fetch)), TB_OK);
	assert_int_equal(tb_cbor_serialize(man, &mbytes, &mlen), TB_OK);
	cbor_decref(&man);
	/* the manifest digest is over the bstr-wrapped manifest */
	mb = tb_cbor_bytes(mbytes, mlen);
	assert_int_equal(tb_cbor_serialize(mb, &wrapped, &wlen), TB_OK);
	cbor_decref(&mb);
	assert_int_equal(mbedtls_sha256_ret(wrapped, wlen, md, 0), 0);
	free(wrapped);
	mb = digest_item(md);
	assert_int_equal(tb_cbor_serialize(mb, &dbytes, &dlen), TB_OK);
	cbor_decref(&mb);
	assert_int_equal(
	    tb_cose_sign1(f->signer, TB_COSE_ALG_ESP256, dbytes, dlen, 1, NULL, 0, &sig, &slen),
	    TB_OK);
	assert_int_equal(tb_cbor_array_push(auth, tb_cbor_bytes(dbytes, dlen)), TB_OK);
	assert_int_equal(tb_cbor_array_push(auth, tb_cbor_bytes(sig, slen)), TB_OK);
	assert_int_equal(tb_cbor_map_put(e, tb_cbor_int(2), wrap_item(auth)), TB_OK);
	assert_int_equal(tb_cbor_map_put(e, tb_cbor_int(3), tb_cbor_bytes(mbytes, mlen)), TB_OK);
	assert_int_equal(tb_cbor_serialize(e, &env->ptr, &env->len), TB_OK);
	cbor_decref(&e);
	free(mbytes);
	free(dbytes);
	free(sig);
	tb_component_id_clear(&tc);
	tb_component_id_clear(&mid);
}

/* A Success carries a SUIT Report per installed manifest: its reference
 * is the manifest digest, its nonce the Update's token, its record the
 * image's digest and size. */
static void sim__update__success_carries_suit_report(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, up, ans;
	struct tb_buf env = {0};
	struct tb_suit_info info;
	struct tb_suit_report rep;
	uint8_t pd[32];

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
	agent_answer(f, out.session, &qr, &ans);
	tb_teep_msg_clear(&ans);
	build_manifest(f, f->signer, 3, payload_v3, sizeof(payload_v3), &env);
	assert_int_equal(tb_suit_info(env.ptr, env.len, &info, NULL, 0), TB_OK);
	update_msg(&up, &env, 0);
	agent_answer(f, out.session, &up, &ans);
	assert_int_equal(ans.type, TB_TEEP_SUCCESS);
	assert_int_equal(ans.n_suit_reports, 1);
	assert_int_equal(
	    tb_suit_report_decode(ans.suit_reports[0].ptr, ans.suit_reports[0].len, &rep), TB_OK);
	assert_true(rep.ok);
	assert_memory_equal(rep.manifest_digest, info.manifest_digest, 32);
	assert_int_equal(rep.nonce_len, sizeof(token16));
	assert_memory_equal(rep.nonce, token16, sizeof(token16));
	assert_true(rep.has_image);
	assert_int_equal(mbedtls_sha256_ret(payload_v3, sizeof(payload_v3), pd, 0), 0);
	assert_memory_equal(rep.image_digest, pd, 32);
	assert_int_equal(rep.image_size, sizeof(payload_v3));
	tb_suit_info_clear(&info);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

/* A manifest whose payload is fetched from a URI (suit-payload-fetch, no
 * suit-install) is refused clearly: an Error ERR_MANIFEST_PROCESSING_FAILED
 * whose SUIT Report names the command (21, directive-fetch), where it is
 * (section 16, its second command), the component (index 0 of the
 * manifest the reference names) and the URI. Nothing is installed. */
static void sim__update_uri_fetch__error_with_suit_report(void **state)
{
	static const char uri[] = "https://tam.example/8d82573a.ta";
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, up, ans;
	struct tb_buf env = {0};
	struct tb_suit_info info;
	struct tb_suit_report rep;
	char path[700];

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
	agent_answer(f, out.session, &qr, &ans);
	tb_teep_msg_clear(&ans);
	build_uri_fetch_manifest(f, uri, &env);
	assert_int_equal(tb_suit_info(env.ptr, env.len, &info, NULL, 0), TB_OK);
	update_msg(&up, &env, 0);
	agent_answer(f, out.session, &up, &ans);
	assert_int_equal(ans.type, TB_TEEP_ERROR);
	assert_int_equal(ans.err_code, TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED);
	assert_non_null(strstr(ans.err_msg, "cannot fetch"));
	assert_int_equal(ans.n_suit_reports, 1);
	assert_int_equal(
	    tb_suit_report_decode(ans.suit_reports[0].ptr, ans.suit_reports[0].len, &rep), TB_OK);
	assert_false(rep.ok);
	assert_memory_equal(rep.manifest_digest, info.manifest_digest, 32);
	assert_int_equal(rep.result_code, 21);
	assert_int_equal(rep.reason, TB_SUIT_REASON_COMMAND_UNSUPPORTED);
	assert_int_equal(rep.section, 16);
	assert_int_equal(rep.offset, 1);
	assert_int_equal(rep.component_index, 0);
	assert_string_equal(rep.uri, uri);
	assert_int_equal(rep.nonce_len, sizeof(token16));
	tc_dir(f, path, sizeof(path));
	assert_false(path_exists(path));
	tb_suit_info_clear(&info);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

static void sim__request_update_unrequest__installs_then_removes(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, up, ans;
	struct tb_buf env = {0};
	char dir[600], path[700];
	uint8_t *info = NULL;
	size_t len = 0;

	/* RequestTA: QueryRequest, then Update with the manifest. */
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
	agent_answer(f, out.session, &qr, &ans);
	tb_teep_msg_clear(&ans);
	build_manifest(f, f->signer, 3, payload_v3, sizeof(payload_v3), &env);
	update_msg(&up, &env, 0);
	agent_answer(f, out.session, &up, &ans);
	assert_int_equal(ans.type, TB_TEEP_SUCCESS);
	assert_int_equal(ans.token.len, sizeof(token16));
	assert_memory_equal(ans.token.ptr, token16, sizeof(token16));
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
	assert_image(f, payload_v3, sizeof(payload_v3));
	tc_dir(f, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/manifest.suit", dir);
	assert_true(path_exists(path));
	snprintf(path, sizeof(path), "%s/info", dir);
	assert_int_equal(tb_read_file(path, 8192, &info, &len), TB_OK);
	assert_non_null(strstr((char *)info, "manifest-component-id = " MANIFEST_TEXT "\n"));
	assert_non_null(strstr((char *)info, "sequence-number = 3\n"));
	free(info);
	assert_non_null(strstr(f->log, "installed " TC_TEXT " seq 3"));

	/* Installed: RequestTA has nothing to do. */
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	assert_null(out.session);
	assert_null(out.tam_uri);
	assert_null(out.msg);

	/* The QueryResponse of a policy check lists it in tc-list. */
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	agent_answer(f, out.session, &qr, &ans);
	assert_int_equal(ans.n_tc_list, 1);
	assert_cid_text(&ans.tc_list[0], TC_TEXT);
	assert_int_equal(ans.n_requested_tc_list, 0);
	tb_teep_msg_clear(&ans);
	end_round(f, &out);

	/* UnrequestTA: the manifest id goes into unneeded-manifest-list. */
	assert_int_equal(call_ta(f, 1, NULL, &out), TB_OK);
	assert_string_equal(out.tam_uri, TAM_URI);
	assert_non_null(out.session);
	agent_answer(f, out.session, &qr, &ans);
	assert_int_equal(ans.type, TB_TEEP_QUERY_RESPONSE);
	assert_int_equal(ans.n_unneeded_manifest_list, 1);
	assert_cid_text(&ans.unneeded_manifest_list[0], MANIFEST_TEXT);
	assert_int_equal(ans.n_requested_tc_list, 0);
	tb_teep_msg_clear(&ans);
	update_msg(&up, NULL, 1);
	agent_answer(f, out.session, &up, &ans);
	assert_int_equal(ans.type, TB_TEEP_SUCCESS);
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
	assert_false(path_exists(dir));
	snprintf(path, sizeof(path), "%s/tc/TEEP-Device", f->state);
	assert_false(path_exists(path));
	snprintf(path, sizeof(path), "%s/tc", f->state);
	assert_true(path_exists(path));

	/* Gone: UnrequestTA has nothing to do, RequestTA starts again. */
	assert_int_equal(call_ta(f, 1, NULL, &out), TB_OK);
	assert_null(out.session);
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	assert_non_null(out.session);
	out_release(f, &out);
	tb_teep_msg_clear(&qr);
}

static void sim__message_signed_by_another_key__answers_error_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg up, ans;
	struct tb_buf env = {0};
	struct tb_key *impostor = NULL;
	uint8_t *cose = NULL;
	size_t len = 0;
	char dir[600];

	assert_int_equal(tb_key_generate(&impostor), TB_OK);
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	build_manifest(f, f->signer, 3, payload_v3, sizeof(payload_v3), &env);
	update_msg(&up, &env, 0);
	tam_sign(f, impostor, &up, &cose, &len);
	agent_answer_raw(f, out.session, cose, len, &ans, NULL, NULL);
	assert_int_equal(ans.type, TB_TEEP_ERROR);
	assert_int_equal(ans.err_code, TB_TEEP_ERR_PERMANENT);
	assert_non_null(ans.err_msg);
	assert_int_equal(ans.token.len, 0); /* an unverified token is not echoed */
	tc_dir(f, dir, sizeof(dir));
	assert_false(path_exists(dir));
	assert_int_equal(agent__installed_count(sim__agent(f->inst)), 0);
	assert_int_equal(agent__session_state(out.session), SIM_STATE_FAILED);
	free(cose);
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	tb_key_free(impostor);
	out_release(f, &out);
}

static void sim__query_request_from_unknown_tam__answers_error(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, ans;
	struct tb_key *impostor = NULL;
	uint8_t *cose = NULL;
	size_t len = 0;

	assert_int_equal(tb_key_generate(&impostor), TB_OK);
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
	tam_sign(f, impostor, &qr, &cose, &len);
	agent_answer_raw(f, out.session, cose, len, &ans, NULL, NULL);
	assert_int_equal(ans.type, TB_TEEP_ERROR);
	assert_int_equal(ans.err_code, TB_TEEP_ERR_PERMANENT);
	free(cose);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&ans);
	tb_key_free(impostor);
	out_release(f, &out);
}

/* The draft's first QueryRequest: a COSE_Sign with one signature per
 * cipher suite. A signer the Agent does not trust comes first here; the
 * TAM's own signature after it is enough. */
static void sim__query_request_as_cose_sign__accepted(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, ans;
	struct tb_key *signers[2] = {NULL, f->tam};
	const int algs[2] = {TB_COSE_ALG_ESP256, TB_COSE_ALG_ESP256};
	uint8_t *payload = NULL, *cose = NULL;
	size_t plen = 0, len = 0;

	assert_int_equal(tb_key_generate(&signers[0]), TB_OK);
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
	assert_int_equal(tb_teep_encode(&qr, f->num, &payload, &plen), TB_OK);
	assert_int_equal(tb_cose_sign_multi(signers, algs, 2, payload, plen, &cose, &len), TB_OK);
	assert_memory_equal(cose, "\xd8\x62", 2); /* tag 98 */
	agent_answer_raw(f, out.session, cose, len, &ans, NULL, NULL);
	assert_int_equal(ans.type, TB_TEEP_QUERY_RESPONSE);
	assert_int_equal(ans.token.len, sizeof(token16));
	assert_memory_equal(ans.token.ptr, token16, sizeof(token16));
	assert_int_equal(ans.n_requested_tc_list, 1);
	assert_cid_text(&ans.requested_tc_list[0], TC_TEXT);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
	free(cose);

	/* signed by the stranger alone: an Error, as for a COSE_Sign1 */
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	assert_int_equal(tb_cose_sign_multi(signers, algs, 1, payload, plen, &cose, &len), TB_OK);
	agent_answer_raw(f, out.session, cose, len, &ans, NULL, NULL);
	assert_int_equal(ans.type, TB_TEEP_ERROR);
	assert_int_equal(ans.err_code, TB_TEEP_ERR_PERMANENT);
	assert_int_equal(ans.token.len, 0);
	assert_non_null(ans.err_msg);
	assert_non_null(strstr(ans.err_msg, "does not verify"));
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
	free(cose);
	free(payload);
	tb_teep_msg_clear(&qr);
	tb_key_free(signers[0]);
}

static void sim__several_tam_keys__any_of_them_verifies(void **state)
{
	struct fx *f = *state;
	char list[700];
	struct tb_kv extra[] = {{"tam_key", list}};
	struct tb_agent_out out;
	struct tb_teep_msg qr, ans;

	/* The real TAM key second in the list. */
	snprintf(list, sizeof(list), "%s, %s", f->other_pub, f->tam_pub);
	assert_int_equal(driver_start(f, extra, 1, 1), TB_OK);
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	query_request(&qr, 1, 0);
	agent_answer(f, out.session, &qr, &ans);
	assert_int_equal(ans.type, TB_TEEP_QUERY_RESPONSE);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

static void sim__update_with_unknown_manifest_signer__answers_error_installs_nothing(void **state)
{
	struct fx *f = *state;
	struct tb_key *rogue = NULL;
	char dir[600];

	assert_int_equal(tb_key_generate(&rogue), TB_OK);
	assert_int_equal(install(f, rogue, 3, payload_v3, sizeof(payload_v3)),
	                 TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED);
	tb_key_free(rogue);
	tc_dir(f, dir, sizeof(dir));
	assert_false(path_exists(dir));
	assert_int_equal(agent__installed_count(sim__agent(f->inst)), 0);
}

static void sim__update_with_lower_or_equal_sequence__is_refused_as_rollback(void **state)
{
	struct fx *f = *state;

	assert_int_equal(install(f, f->signer, 3, payload_v3, sizeof(payload_v3)), 0);
	assert_int_equal(install(f, f->signer, 3, payload_v4, sizeof(payload_v4)),
	                 TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED);
	assert_non_null(strstr(f->log, "rollback"));
	assert_int_equal(install(f, f->signer, 2, payload_v4, sizeof(payload_v4)),
	                 TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED);
	assert_image(f, payload_v3, sizeof(payload_v3));
	/* A higher sequence number upgrades. */
	assert_int_equal(install(f, f->signer, 4, payload_v4, sizeof(payload_v4)), 0);
	assert_image(f, payload_v4, sizeof(payload_v4));
	assert_int_equal(agent__installed_count(sim__agent(f->inst)), 1);
}

static void sim__garbage_input__answers_error_without_crashing(void **state)
{
	struct fx *f = *state;
	/* A map that declares 2^32 entries in 6 bytes; a COSE_Sign1 tag
	 * around an array declaring 2^64-1 items; a truncated tag. */
	static const uint8_t huge_map[] = {0xba, 0xff, 0xff, 0xff, 0xff, 0x00};
	static const uint8_t huge_arr[] = {0xd2, 0x9b, 0xff, 0xff, 0xff, 0xff,
	                                   0xff, 0xff, 0xff, 0xff, 0x01};
	static const uint8_t short_tag[] = {0xd8};
	struct {
		const uint8_t *p;
		size_t len;
	} cases[5] = {{huge_map, sizeof(huge_map)},
	              {huge_arr, sizeof(huge_arr)},
	              {short_tag, sizeof(short_tag)}};
	struct tb_agent_out out;
	struct tb_teep_msg ans;
	uint8_t *noise = malloc(4096), *big = calloc(1, SIM_DEFAULT_MAX_MESSAGE + 1);
	unsigned seed = 12345;

	assert_non_null(noise);
	assert_non_null(big);
	for (size_t i = 0; i < 4096; i++) {
		seed = seed * 1103515245u + 12345u;
		noise[i] = (uint8_t)(seed >> 16);
	}
	cases[3].p = noise;
	cases[3].len = 4096;
	cases[4].p = big;
	cases[4].len = SIM_DEFAULT_MAX_MESSAGE + 1;
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	for (size_t i = 0; i < 5; i++) {
		out_release(f, &out); /* an exchange ends with its first Error */
		assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
		agent_answer_raw(f, out.session, cases[i].p, cases[i].len, &ans, NULL, NULL);
		assert_int_equal(ans.type, TB_TEEP_ERROR);
		assert_int_equal(ans.err_code, TB_TEEP_ERR_PERMANENT);
		tb_teep_msg_clear(&ans);
	}
	/* Every prefix of a valid message is rejected too. */
	{
		struct tb_teep_msg qr;
		uint8_t *cose = NULL;
		size_t len = 0;

		query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
		tam_sign(f, f->tam, &qr, &cose, &len);
		for (size_t cut = 1; cut < len; cut++) {
			out_release(f, &out); /* an exchange ends with its first Error */
			assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
			agent_answer_raw(f, out.session, cose, cut, &ans, NULL, NULL);
			assert_int_equal(ans.type, TB_TEEP_ERROR);
			tb_teep_msg_clear(&ans);
		}
		free(cose);
		tb_teep_msg_clear(&qr);
	}
	assert_non_null(strstr(f->log, "over max_message"));
	free(noise);
	free(big);
	out_release(f, &out);
}

/* Validly signed by the TAM but with a damaged payload: this reaches the
 * TEEP decoder and the SUIT processor with hostile bytes. */
static void sim__signed_mutated_payloads__answer_without_crashing(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg up, ans;
	struct tb_buf env = {0};
	uint8_t *payload = NULL, *cose = NULL;
	size_t plen = 0, len = 0;
	unsigned seed = 777;

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	build_manifest(f, f->signer, 9, payload_v3, sizeof(payload_v3), &env);
	update_msg(&up, &env, 1);
	assert_int_equal(tb_teep_encode(&up, f->num, &payload, &plen), TB_OK);
	for (int i = 0; i < 120; i++) {
		size_t at;
		uint8_t saved;

		seed = seed * 1103515245u + 12345u;
		at = (seed >> 8) % plen;
		saved = payload[at];
		payload[at] ^= (uint8_t)(1u << (seed % 8)) | (uint8_t)(i & 0x40 ? 0xff : 0);
		assert_int_equal(tb_cose_sign1(f->tam, TB_COSE_ALG_ESP256, payload, plen, 0, NULL,
		                               0, &cose, &len),
		                 TB_OK);
		agent_answer_raw(f, out.session, cose, len, &ans, NULL, NULL);
		assert_true(ans.type == TB_TEEP_ERROR || ans.type == TB_TEEP_SUCCESS ||
		            ans.type == TB_TEEP_QUERY_RESPONSE);
		if (ans.type == TB_TEEP_ERROR) {
			/* an exchange ends with its first Error: start another
			 * (an unrequest once a mutation happened to install) */
			out_release(f, &out);
			assert_int_equal(
			    call_ta(f, agent__installed_count(sim__agent(f->inst)) ? 1 : 0, NULL,
			            &out),
			    TB_OK);
			assert_non_null(out.session);
		}
		tb_teep_msg_clear(&ans);
		free(cose);
		payload[at] = saved;
	}
	free(payload);
	tb_teep_msg_clear(&up);
	out_release(f, &out);
}

/* After the Agent answered an Error, the exchange is over: a TAM that keeps
 * sending gets no answer, which ends the exchange at the broker. */
static void sim__after_an_error__the_exchange_ends(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out, ans_out = {0};
	static const uint8_t junk[] = {0xff, 0x00};

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	assert_int_equal(tb_driver_entry.process_teep_message(f->inst, out.session,
	                                                      "application/teep+cbor", junk,
	                                                      sizeof(junk), &ans_out),
	                 TB_OK);
	assert_non_null(ans_out.msg); /* the Error */
	f->host.free(ans_out.msg);
	memset(&ans_out, 0, sizeof(ans_out));
	assert_int_equal(tb_driver_entry.process_teep_message(f->inst, out.session,
	                                                      "application/teep+cbor", junk,
	                                                      sizeof(junk), &ans_out),
	                 TB_OK);
	assert_null(ans_out.msg);
	out_release(f, &out);
}

static void sim__unexpected_message_type__answers_error_with_token(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg m = {0}, ans;

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	m.type = TB_TEEP_SUCCESS;
	m.token.ptr = malloc(sizeof(token16));
	assert_non_null(m.token.ptr);
	memcpy(m.token.ptr, token16, sizeof(token16));
	m.token.len = sizeof(token16);
	agent_answer(f, out.session, &m, &ans);
	assert_int_equal(ans.type, TB_TEEP_ERROR);
	assert_int_equal(ans.err_code, TB_TEEP_ERR_PERMANENT);
	assert_int_equal(ans.token.len, sizeof(token16));
	tb_teep_msg_clear(&m);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

static void sim__wrong_media_type__answers_error(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out, ans_out = {0};
	static const uint8_t one[] = {0x01};

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	assert_int_equal(tb_driver_entry.process_teep_message(f->inst, out.session, "text/html",
	                                                      one, 1, &ans_out),
	                 TB_OK);
	assert_non_null(ans_out.msg);
	assert_non_null(strstr(f->log, "unsupported media type"));
	f->host.free(ans_out.msg);
	out_release(f, &out);
}

/* An Update that only carries the TAM's error (the TAM refuses to go on,
 * e.g. after an Attestation Result that is not affirming) is answered with
 * an Error quoting it, so that the failure is visible to whoever relays. */
static void sim__update_with_tam_error_only__answers_error(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg up = {0}, ans;

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	up.type = TB_TEEP_UPDATE;
	up.err_code = TB_TEEP_ERR_PERMANENT;
	up.err_msg = strdup("no such component");
	agent_answer(f, out.session, &up, &ans);
	assert_int_equal(ans.type, TB_TEEP_ERROR);
	assert_int_equal(ans.err_code, TB_TEEP_ERR_PERMANENT);
	assert_non_null(ans.err_msg);
	assert_non_null(strstr(ans.err_msg, "no such component"));
	assert_non_null(strstr(f->log, "no such component"));
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

static void sim__appendix_e_vector__installs_hello_secure_world(void **state)
{
	struct fx *f = *state;
	char signer[400], vec[400];
	struct tb_kv extra[] = {{"tc_signer", signer}};
	struct tb_agent_out out;
	struct tb_teep_msg up, ans;
	uint8_t *hex = NULL;
	size_t hexlen = 0;
	struct tb_buf env = {0};
	static const char hello[] = "Hello, Secure World!";

	snprintf(signer, sizeof(signer), "%s/vectors/suit/appendixE_signer_public_key.pem",
	         TEST_DATA_DIR);
	snprintf(vec, sizeof(vec), "%s/vectors/suit/suit_integrated.hex", TEST_DATA_DIR);
	assert_int_equal(driver_start(f, extra, 1, 1), TB_OK);
	assert_int_equal(tb_read_file(vec, 1 << 16, &hex, &hexlen), TB_OK);
	assert_int_equal(tb_hex_decode((char *)hex, hexlen, &env.ptr, &env.len), TB_OK);
	free(hex);
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	update_msg(&up, &env, 0);
	agent_answer(f, out.session, &up, &ans);
	assert_int_equal(ans.type, TB_TEEP_SUCCESS);
	assert_image(f, (const uint8_t *)hello, strlen(hello));
	assert_non_null(strstr(f->log, "installed " TC_TEXT " seq 3 (20 bytes)"));
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

static uint8_t *vector(const char *rel, size_t *len)
{
	char path[400];
	uint8_t *hex = NULL, *bin = NULL;
	size_t hexlen = 0;

	snprintf(path, sizeof(path), "%s/vectors/suit/%s", TEST_DATA_DIR, rel);
	assert_int_equal(tb_read_file(path, 1 << 16, &hex, &hexlen), TB_OK);
	assert_int_equal(tb_hex_decode((char *)hex, hexlen, &bin, len), TB_OK);
	free(hex);
	return bin;
}

static void write_text(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[700];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(tb_write_file(path, buf, len), TB_OK);
}

/* Example 3 depends on example 1, whose payload is fetched from a URI the
 * Agent cannot reach. Put example 1 in place as the Agent would have stored
 * it after that fetch (its manifest, the "Hello, Secure World!" binary it
 * names, an info file), restart, and deliver example 3: the Agent resolves
 * the dependency by manifest digest and decrypts config.json with the
 * device key the draft's example was encrypted for. */
static void sim__appendix_e_example3__installs_decrypted_config(void **state)
{
	static const char want[] =
	    "{\"name\":\"FOO Bar\",\"secret\":\"0123456789abfcdef0123456789abcd\"}";
	struct fx *f = *state;
	char signer[400], device[400], dir[600], info[1024], sha[65], path[700];
	struct tb_kv extra[] = {{"tc_signer", signer}, {"decrypt_key", device}};
	struct tb_agent_out out = {0};
	struct tb_teep_msg up, ans;
	struct tb_buf env = {0};
	size_t ulen, blen;
	uint8_t *uri = vector("suit_uri.hex", &ulen),
	        *bin = vector("tc_binary_8d82573a-926d-4754-9353-32dc29997f74.ta.rawhex", &blen);
	uint8_t digest[32], *img = NULL;
	size_t img_len = 0;

	snprintf(signer, sizeof(signer), "%s/vectors/suit/appendixE_signer_public_key.pem",
	         TEST_DATA_DIR);
	snprintf(device, sizeof(device), "%s/vectors/suit/appendixE_device_esdh_private_key.pem",
	         TEST_DATA_DIR);
	tc_dir(f, dir, sizeof(dir));
	snprintf(path, sizeof(path), "mkdir -p '%s'", dir);
	assert_int_equal(system(path), 0);
	assert_int_equal(mbedtls_sha256_ret(bin, blen, digest, 0), 0);
	tb_hex_encode(digest, 32, sha);
	snprintf(info, sizeof(info),
	         "component-id = " TC_TEXT "\nmanifest-component-id = " MANIFEST_TEXT
	         "\nsequence-number = 3\nimage-size = %zu\nimage-sha256 = %s\n",
	         blen, sha);
	write_text(dir, "image", bin, blen);
	write_text(dir, "manifest.suit", uri, ulen);
	write_text(dir, "info", info, strlen(info));
	assert_int_equal(driver_start(f, extra, 2, 1), TB_OK);
	assert_int_equal(agent__installed_count(sim__agent(f->inst)), 1);

	env.ptr = vector("suit_personalization.hex", &env.len);
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	update_msg(&up, &env, 0);
	agent_answer(f, out.session, &up, &ans);
	if (ans.type != TB_TEEP_SUCCESS)
		fail_msg("example 3: %s", ans.err_msg ? ans.err_msg : "(no message)");
	snprintf(path, sizeof(path), "%s/tc/TEEP-Device/SecureFS/config.json/image", f->state);
	assert_int_equal(tb_read_file(path, 4096, &img, &img_len), TB_OK);
	assert_int_equal(img_len, strlen(want));
	assert_memory_equal(img, want, img_len);
	assert_int_equal(agent__installed_count(sim__agent(f->inst)), 2);
	free(img);
	free(uri);
	free(bin);
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

/* Personalization data built by the TAM's tools, encrypted for this
 * Agent's own key and depending on the TA: alone it is refused (the TA is
 * not there); listed before the TA in one Update, it waits for it. */
static void sim__dependent_content__waits_for_its_dependency(void **state)
{
	static const uint8_t data[] = "{\"car\":\"KA-01\"}";
	struct fx *f = *state;
	struct tb_component_id cfg, cfg_mid;
	struct tb_suit_info ta;
	struct tb_agent_out out = {0};
	struct tb_teep_msg up, ans;
	struct tb_buf ta_env = {0}, cfg_env = {0}, copy;
	char path[700];
	uint8_t *img = NULL;
	size_t img_len = 0;

	assert_int_equal(driver_start(f, NULL, 0, 1), TB_OK);
	build_manifest(f, f->signer, 1, payload_v3, sizeof(payload_v3), &ta_env);
	assert_int_equal(tb_suit_info(ta_env.ptr, ta_env.len, &ta, NULL, 0), TB_OK);
	assert_int_equal(tb_component_id_parse("TEEP-Device/SecureFS/config.json", &cfg), TB_OK);
	assert_int_equal(tb_component_id_parse("TEEP-Device/SecureFS/config.suit", &cfg_mid),
	                 TB_OK);
	{
		struct tb_suit_content c = {.component = &cfg,
		                            .manifest_id = &cfg_mid,
		                            .sequence_number = 1,
		                            .data = data,
		                            .data_len = sizeof(data) - 1,
		                            .recipient = f->agent_pub,
		                            .dependency = &ta.manifest_component_id,
		                            .dependency_digest = ta.manifest_digest};
		assert_int_equal(tb_suit_build_content(f->signer, &c, &cfg_env.ptr, &cfg_env.len),
		                 TB_OK);
	}

	/* alone: refused, nothing installed */
	copy.ptr = malloc(cfg_env.len);
	assert_non_null(copy.ptr);
	memcpy(copy.ptr, cfg_env.ptr, cfg_env.len);
	copy.len = cfg_env.len;
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	update_msg(&up, &copy, 0);
	agent_answer(f, out.session, &up, &ans);
	assert_int_equal(ans.type, TB_TEEP_ERROR);
	assert_non_null(strstr(ans.err_msg, "dependency"));
	assert_int_equal(agent__installed_count(sim__agent(f->inst)), 0);
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	end_round(f, &out);

	/* [config, TA]: the TA first, then config */
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	update_msg(&up, &cfg_env, 0);
	up.manifest_list = realloc(up.manifest_list, 2 * sizeof(*up.manifest_list));
	assert_non_null(up.manifest_list);
	up.manifest_list[1] = ta_env;
	up.n_manifest_list = 2;
	memset(&ta_env, 0, sizeof(ta_env));
	agent_answer(f, out.session, &up, &ans);
	if (ans.type != TB_TEEP_SUCCESS)
		fail_msg("Update: %s", ans.err_msg ? ans.err_msg : "(no message)");
	assert_int_equal(agent__installed_count(sim__agent(f->inst)), 2);
	snprintf(path, sizeof(path), "%s/tc/TEEP-Device/SecureFS/config.json/image", f->state);
	assert_int_equal(tb_read_file(path, 4096, &img, &img_len), TB_OK);
	assert_int_equal(img_len, sizeof(data) - 1);
	assert_memory_equal(img, data, img_len);
	free(img);
	tb_teep_msg_clear(&up);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
	tb_suit_info_clear(&ta);
	tb_component_id_clear(&cfg);
	tb_component_id_clear(&cfg_mid);
}

static void sim__installed_set__survives_fini_and_init(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, ans;
	struct tb_component_id c;

	assert_int_equal(install(f, f->signer, 5, payload_v3, sizeof(payload_v3)), 0);
	driver_stop(f);
	assert_int_equal(driver_start(f, NULL, 0, 1), TB_OK);
	cid_make(&c, "ta");
	assert_true(agent__is_installed(sim__agent(f->inst), &c));
	tb_component_id_clear(&c);
	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	assert_null(out.session);
	/* The reloaded sequence number still guards against rollback. */
	assert_int_equal(install(f, f->signer, 5, payload_v4, sizeof(payload_v4)),
	                 TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED);
	/* And the reloaded manifest id still unrequests it. */
	assert_int_equal(call_ta(f, 1, NULL, &out), TB_OK);
	query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
	agent_answer(f, out.session, &qr, &ans);
	assert_int_equal(ans.n_tc_list, 1);
	assert_int_equal(ans.n_unneeded_manifest_list, 1);
	assert_cid_text(&ans.unneeded_manifest_list[0], MANIFEST_TEXT);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

static void sim__reload__ignores_tampered_components(void **state)
{
	struct fx *f = *state;
	char dir[600], path[700];
	static const uint8_t junk[] = "tampered image, other size";

	assert_int_equal(install(f, f->signer, 1, payload_v3, sizeof(payload_v3)), 0);
	driver_stop(f);
	tc_dir(f, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/image", dir);
	assert_int_equal(tb_write_file(path, junk, sizeof(junk)), TB_OK);
	/* A directory that spells no canonical component id. */
	snprintf(path, sizeof(path), "%s/tc/0xABCD", f->state);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/tc/0xABCD/info", f->state);
	assert_int_equal(tb_write_file(path, (const uint8_t *)"x", 1), TB_OK);
	assert_int_equal(driver_start(f, NULL, 0, 1), TB_OK);
	assert_int_equal(agent__installed_count(sim__agent(f->inst)), 0);
	assert_non_null(strstr(f->log, "image missing or of the wrong size"));
	assert_non_null(strstr(f->log, "not a component id"));
}

static void sim__policy_check__gives_uri_then_nothing_each_round(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out = {0};

	for (int round = 0; round < 2; round++) {
		struct tb_agent_out first = {0};

		assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &first), TB_OK);
		assert_non_null(first.tam_uri);
		assert_string_equal(first.tam_uri, TAM_URI);
		assert_non_null(first.session);
		/* as the broker does: the next call, then the exchange closes */
		assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
		assert_null(out.tam_uri);
		assert_null(out.session);
		out_release(f, &first);
	}
	/* Without a configured TAM there is nobody to ask. */
	assert_int_equal(driver_start(f, NULL, 0, 0), TB_OK);
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	assert_null(out.tam_uri);
	assert_null(out.session);
}

/* An exchange that fails ends its round: the broker does not ask again after
 * it, so the next policy check must reach the TAM, not close a stale round. */
static void sim__policy_check__failed_exchange_closes_the_round(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out = {0}, again = {0};

	/* ProcessError (TAM unreachable, HTTP error, timeout, message cap...) */
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	assert_non_null(out.session);
	tb_driver_entry.process_error(f->inst, out.session);
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &again), TB_OK);
	assert_non_null(again.tam_uri);
	assert_non_null(again.session);
	out_release(f, &out);
	/* the exchange closed without ProcessError (a failed Agent call) */
	out_release(f, &again);
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	assert_non_null(out.tam_uri);
	assert_non_null(out.session);
	/* and a round that ends normally still ends with nothing */
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &again), TB_OK);
	assert_null(again.tam_uri);
	assert_null(again.session);
	out_release(f, &out);
}

static void sim__process_error__marks_the_session_failed(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;

	assert_int_equal(call_ta(f, 0, NULL, &out), TB_OK);
	assert_int_equal(agent__session_state(out.session), SIM_STATE_STARTED);
	tb_driver_entry.process_error(f->inst, out.session);
	assert_int_equal(agent__session_state(out.session), SIM_STATE_FAILED);
	out_release(f, &out);
}

static void sim__pre26__answers_in_old_numbering_signed_es256(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out;
	struct tb_teep_msg qr, ans;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	/* Protected header << {1: -7} >> right after the tag and array head. */
	static const uint8_t es256_head[] = {0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26};

	assert_int_equal(install(f, f->signer, 1, payload_v3, sizeof(payload_v3)), 0);
	assert_int_equal(call_ta(f, 1, NULL, &out), TB_OK);
	query_request(&qr, 1, TB_TEEP_DIR_TRUSTED_COMPONENTS);
	agent_answer_raw(f, out.session, NULL, 0, &ans, NULL, NULL);
	assert_int_equal(ans.type, TB_TEEP_ERROR); /* empty message */
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
	assert_int_equal(call_ta(f, 1, NULL, &out), TB_OK);
	{
		uint8_t *cose = NULL;
		size_t len = 0;

		tam_sign(f, f->tam, &qr, &cose, &len);
		agent_answer_raw(f, out.session, cose, len, &ans, &raw, &raw_len);
		free(cose);
	}
	assert_int_equal(ans.type, TB_TEEP_QUERY_RESPONSE);
	assert_int_equal(ans.n_unneeded_manifest_list, 1);
	assert_true(raw_len > sizeof(es256_head));
	assert_memory_equal(raw, es256_head, sizeof(es256_head));
	f->host.free(raw);
	tb_teep_msg_clear(&qr);
	tb_teep_msg_clear(&ans);
	out_release(f, &out);
}

static void sim__cid_text__maps_unsafe_segments_to_hex_one_to_one(void **state)
{
	static const struct {
		const char *seg;
		size_t len;
		const char *text;
	} cases[] = {
	    {"TEEP-Device", 11, "TEEP-Device"},
	    {"..", 2, "0x2e2e"},
	    {".", 1, "0x2e"},
	    {"a/b", 3, "0x612f62"},
	    {"0xab", 4, "0x30786162"},
	    {"image", 5, "0x696d616765"},
	    {"x.tmp", 5, "0x782e746d70"},
	    {"", 0, "0x"},
	};
	char text[SIM_CID_TEXT_MAX + 1];
	struct tb_component_id c, back;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.n = 1;
		c.seg[0].ptr = (uint8_t *)cases[i].seg;
		c.seg[0].len = cases[i].len;
		assert_int_equal(agent__cid_to_text(&c, text, sizeof(text)), TB_OK);
		assert_string_equal(text, cases[i].text);
		assert_int_equal(agent__cid_from_text(text, &back), TB_OK);
		assert_true(tb_component_id_equal(&c, &back));
		tb_component_id_clear(&back);
	}
	/* Only the canonical spelling parses. */
	assert_int_not_equal(agent__cid_from_text("0xABCD", &back), TB_OK);
	assert_int_not_equal(agent__cid_from_text("0x6162", &back), TB_OK); /* is "ab" */
	assert_int_not_equal(agent__cid_from_text("a//b", &back), TB_OK);
	assert_int_not_equal(agent__cid_from_text("0x1", &back), TB_OK);
	assert_int_not_equal(agent__cid_from_text("1/2/3/4/5/6/7/8/9", &back), TB_OK);
	assert_int_equal(agent__cid_from_text(TC_TEXT, &back), TB_OK);
	assert_int_equal(back.n, 4);
	assert_int_equal(back.seg[2].len, 16);
	tb_component_id_clear(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sim__descriptor__is_software_and_says_not_a_tee),
	    cmocka_unit_test_setup_teardown(sim__query_request_with_challenge__answers_evidence,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__query_request_with_challenge__answers_evidence,
	                                    setup_pre26, teardown),
	    cmocka_unit_test(sim__cid_text__maps_unsafe_segments_to_hex_one_to_one),
	    cmocka_unit_test_setup_teardown(sim__init__generates_private_key_0600_and_public_key,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__init__keeps_the_agent_key_across_restarts, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__init__refuses_missing_required_options,
	                                    setup_stopped, teardown),
	    cmocka_unit_test_setup_teardown(sim__init__warns_about_unknown_options_and_starts,
	                                    setup_stopped, teardown),
	    cmocka_unit_test_setup_teardown(sim__request_ta__returns_configured_uri_and_session,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__request_ta__without_any_uri_is_inval,
	                                    setup_stopped, teardown),
	    cmocka_unit_test_setup_teardown(
	        sim__query_request__answers_signed_response_listing_requested, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        sim__query_request__without_token__answers_without_token, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        sim__query_request_with_token_and_challenge__answers_without_token, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        sim__query_request_with_token_and_challenge__answers_without_token, setup_pre26,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        sim__query_request__cipher_suites_and_versions_negotiated, setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__update__success_carries_suit_report, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__update__success_carries_suit_report, setup_pre26,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__update_uri_fetch__error_with_suit_report, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__update_uri_fetch__error_with_suit_report,
	                                    setup_pre26, teardown),
	    cmocka_unit_test_setup_teardown(sim__request_update_unrequest__installs_then_removes,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        sim__message_signed_by_another_key__answers_error_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__query_request_from_unknown_tam__answers_error,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__query_request_as_cose_sign__accepted, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__several_tam_keys__any_of_them_verifies,
	                                    setup_stopped, teardown),
	    cmocka_unit_test_setup_teardown(
	        sim__update_with_unknown_manifest_signer__answers_error_installs_nothing, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        sim__update_with_lower_or_equal_sequence__is_refused_as_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__garbage_input__answers_error_without_crashing,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__signed_mutated_payloads__answer_without_crashing,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__after_an_error__the_exchange_ends, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__unexpected_message_type__answers_error_with_token,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__wrong_media_type__answers_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__update_with_tam_error_only__answers_error, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__appendix_e_example3__installs_decrypted_config,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__dependent_content__waits_for_its_dependency, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__appendix_e_vector__installs_hello_secure_world,
	                                    setup_stopped, teardown),
	    cmocka_unit_test_setup_teardown(sim__installed_set__survives_fini_and_init, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__reload__ignores_tampered_components, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__policy_check__gives_uri_then_nothing_each_round,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__policy_check__failed_exchange_closes_the_round,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(sim__process_error__marks_the_session_failed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(sim__pre26__answers_in_old_numbering_signed_es256,
	                                    setup_pre26, teardown),
	};

	return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}

/*
 * Unit tests of the reference TAM logic (tools/tam_core.c): sessions,
 * tokens, the catalog and the answers to an Agent's messages. The Agent's
 * side is played here with tb_teep_encode + tb_cose_sign1 and generated
 * keys; the catalog is a temporary directory of envelopes built with
 * tb_suit_build_integrated.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../tools/tam_core.h"

#include "tb_cose.h"
#include "tb_suit.h"
#include "tb_teep.h"
#include "tb_util.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TC_UUID     "8d82573a-926d-4754-9353-32dc29997f74"
#define TC_MANIFEST "TEEP-Device/SecureFS/0x8d82573a926d4754935332dc29997f74/suit"
#define OTHER_TC    "TEEP-Device/SecureFS/0x0102030405060708090a0b0c0d0e0f10/ta"
#define TC_PAYLOAD  "a Trusted Component for the tests"

struct fixture {
	char dir[PATH_MAX];
	struct tb_key *tam_key;    /* the TAM's key pair */
	struct tb_key *tam_pub;    /* its public half, as an Agent holds it */
	struct tb_key *agent_key;  /* the Agent's key pair */
	struct tb_key *agent_pub;  /* its public half, as the TAM holds it */
	struct tb_key *second_key; /* a second trusted Agent */
	struct tb_key *second_pub;
	struct tb_key *stranger_key; /* an Agent the TAM does not trust */
	struct tb_component_id tc;   /* the catalog component */
	struct tb_component_id tc_manifest;
	uint8_t *envelope; /* the catalog file's bytes */
	size_t envelope_len;
	uint64_t now; /* the TAM's clock */
	enum tb_numbering num;
	enum tam_first_message first;
	int push_tc; /* push the catalog component (--push) */
	struct tam_core *tam;
	struct tam_attest_policy attest; /* with attestation: its policy */
	struct tb_key *attest_keys[1];
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static uint64_t fake_now(void *arg)
{
	return ((struct fixture *)arg)->now;
}

static struct tb_key *public_half(const struct tb_key *key)
{
	struct tb_key *pub = NULL;
	char *pem = NULL;
	char err[128];

	assert_int_equal(tb_key_to_pem(key, 0, &pem), TB_OK);
	assert_int_equal(tb_key_load_pem((const uint8_t *)pem, strlen(pem), &pub, err, sizeof(err)),
	                 TB_OK);
	free(pem);
	assert_false(tb_key_has_private(pub));
	return pub;
}

static void write_in_dir(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[PATH_MAX + 64];

	assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path));
	assert_int_equal(tb_write_file(path, buf, len), TB_OK);
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void make_temp_dir(char *out, size_t outlen)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(out, outlen, "%s/test_tam.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(out));
}

/* An envelope for component c with manifest id m, signed by a TC signer. */
static void build_envelope(const struct tb_component_id *c, const struct tb_component_id *m,
                           uint64_t seq, uint8_t **out, size_t *out_len)
{
	struct tb_key *signer = NULL;

	assert_int_equal(tb_key_generate(&signer), TB_OK);
	assert_int_equal(tb_suit_build_integrated(signer, c, m, seq, (const uint8_t *)TC_PAYLOAD,
	                                          strlen(TC_PAYLOAD), out, out_len),
	                 TB_OK);
	tb_key_free(signer);
}

static int create_tam(struct fixture *f, size_t max_tokens, uint64_t lifetime_ms)
{
	const struct tb_key *agents[2] = {f->agent_pub, f->second_pub};
	struct tam_core_conf conf = {0};
	char err[256] = "";
	int rc;

	tam_core_free(f->tam);
	f->tam = NULL;
	conf.signing_key = f->tam_key;
	conf.agent_keys = agents;
	conf.n_agent_keys = 2;
	conf.catalog_dir = f->dir;
	conf.numbering = f->num;
	conf.first_message = f->first;
	conf.max_body = 64 * 1024;
	conf.max_manifest = 16 * 1024;
	conf.max_tokens = max_tokens;
	conf.token_lifetime_ms = lifetime_ms;
	conf.now_ms = fake_now;
	conf.now_arg = f;
	conf.push = f->push_tc ? &f->tc : NULL;
	conf.n_push = f->push_tc ? 1 : 0;
	rc = tam_core_create(&conf, &f->tam, err, sizeof(err));
	if (rc != TB_OK)
		print_message("tam_core_create: %s\n", err);
	return rc;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = 1000;
	f->num = TB_NUM_DRAFT26;
	make_temp_dir(f->dir, sizeof(f->dir));
	assert_int_equal(tb_key_generate(&f->tam_key), TB_OK);
	assert_int_equal(tb_key_generate(&f->agent_key), TB_OK);
	assert_int_equal(tb_key_generate(&f->second_key), TB_OK);
	assert_int_equal(tb_key_generate(&f->stranger_key), TB_OK);
	f->second_pub = public_half(f->second_key);
	f->tam_pub = public_half(f->tam_key);
	f->agent_pub = public_half(f->agent_key);
	assert_int_equal(tb_component_id_parse(TC_UUID, &f->tc), TB_OK);
	assert_int_equal(tb_component_id_parse(TC_MANIFEST, &f->tc_manifest), TB_OK);
	build_envelope(&f->tc, &f->tc_manifest, 1, &f->envelope, &f->envelope_len);
	write_in_dir(f->dir, "tc.suit", f->envelope, f->envelope_len);
	*state = f;
	return 0;
}

static int setup_tam(void **state)
{
	struct fixture *f;

	setup(state);
	f = *state;
	assert_int_equal(create_tam(f, 0, 0), TB_OK);
	return 0;
}

static int setup_tam_pre26(void **state)
{
	struct fixture *f;

	setup(state);
	f = *state;
	f->num = TB_NUM_PRE26;
	assert_int_equal(create_tam(f, 0, 0), TB_OK);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tam_core_free(f->tam);
	remove_dir(f->dir);
	tb_key_free(f->tam_key);
	tb_key_free(f->tam_pub);
	tb_key_free(f->agent_key);
	tb_key_free(f->agent_pub);
	tb_key_free(f->second_key);
	tb_key_free(f->second_pub);
	tb_key_free(f->stranger_key);
	tb_component_id_clear(&f->tc);
	tb_component_id_clear(&f->tc_manifest);
	free(f->envelope);
	free(f);
	return 0;
}

/* Verify a TAM answer with the TAM's public key, as an Agent would, and
 * decode it. */
static void open_tam_message(struct fixture *f, const uint8_t *msg, size_t len,
                             struct tb_teep_msg *m)
{
	uint8_t *payload = NULL;
	size_t plen = 0;
	char err[160] = "";

	assert_non_null(msg);
	assert_int_equal(tb_cose_sign1_verify(msg, len, f->tam_pub, NULL, 0, &payload, &plen),
	                 TB_OK);
	assert_int_equal(tb_teep_decode(payload, plen, f->num, m, err, sizeof(err)), TB_OK);
	free(payload);
}

/* Start a session; returns the QueryRequest's token (16 bytes). */
static void connect_session(struct fixture *f, uint8_t token[TAM_TOKEN_LEN])
{
	struct tb_teep_msg qr = {0};
	uint8_t *out = NULL;
	size_t out_len = 0;

	assert_int_equal(tam_core_connect(f->tam, &out, &out_len), TB_OK);
	open_tam_message(f, out, out_len, &qr);
	assert_int_equal(qr.type, TB_TEEP_QUERY_REQUEST);
	assert_int_equal(qr.token.len, TAM_TOKEN_LEN);
	memcpy(token, qr.token.ptr, TAM_TOKEN_LEN);
	tb_teep_msg_clear(&qr);
	free(out);
}

/* Sign an Agent message (type, token and the lists of m) with key. */
static void agent_message(struct fixture *f, const struct tb_key *key, struct tb_teep_msg *m,
                          const uint8_t *token, uint8_t **out, size_t *out_len)
{
	uint8_t *payload = NULL;
	size_t plen = 0;
	int alg = f->num == TB_NUM_PRE26 ? TB_COSE_ALG_ES256 : TB_COSE_ALG_ESP256;

	if (token) {
		m->token.ptr = malloc(TAM_TOKEN_LEN);
		assert_non_null(m->token.ptr);
		memcpy(m->token.ptr, token, TAM_TOKEN_LEN);
		m->token.len = TAM_TOKEN_LEN;
	}
	assert_int_equal(tb_teep_encode(m, f->num, &payload, &plen), TB_OK);
	assert_int_equal(tb_cose_sign1(key, alg, payload, plen, 0, NULL, 0, out, out_len), TB_OK);
	free(payload);
	tb_teep_msg_clear(m);
}

/* A QueryResponse asking for `requested` and/or giving up `unneeded`. */
static void query_response(struct fixture *f, const struct tb_key *key, const uint8_t *token,
                           const struct tb_component_id *requested,
                           const struct tb_component_id *unneeded, uint8_t **out, size_t *out_len)
{
	struct tb_teep_msg m = {0};

	m.type = TB_TEEP_QUERY_RESPONSE;
	if (requested) {
		m.requested_tc_list = calloc(1, sizeof(*m.requested_tc_list));
		assert_non_null(m.requested_tc_list);
		assert_int_equal(tb_component_id_copy(&m.requested_tc_list[0], requested), TB_OK);
		m.n_requested_tc_list = 1;
	}
	if (unneeded) {
		m.unneeded_manifest_list = calloc(1, sizeof(*m.unneeded_manifest_list));
		assert_non_null(m.unneeded_manifest_list);
		assert_int_equal(tb_component_id_copy(&m.unneeded_manifest_list[0], unneeded),
		                 TB_OK);
		m.n_unneeded_manifest_list = 1;
	}
	agent_message(f, key, &m, token, out, out_len);
}

/* Hand a message to the TAM; returns its answer (NULL: nothing). */
static uint8_t *deliver(struct fixture *f, const uint8_t *msg, size_t len, size_t *out_len)
{
	uint8_t *out = (uint8_t *)"not set";

	*out_len = 12345;
	assert_int_equal(tam_core_message(f->tam, msg, len, &out, out_len), TB_OK);
	if (!out)
		assert_int_equal(*out_len, 0);
	return out;
}

/* Run a whole QueryRequest -> QueryResponse -> Update exchange for the
 * catalog component; returns the Update's token. */
static void get_update(struct fixture *f, uint8_t update_token[TAM_TOKEN_LEN])
{
	uint8_t token[TAM_TOKEN_LEN];
	struct tb_teep_msg upd = {0};
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	query_response(f, f->agent_key, token, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	open_tam_message(f, out, out_len, &upd);
	assert_int_equal(upd.type, TB_TEEP_UPDATE);
	assert_int_equal(upd.token.len, TAM_TOKEN_LEN);
	memcpy(update_token, upd.token.ptr, TAM_TOKEN_LEN);
	tb_teep_msg_clear(&upd);
	free(out);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void tam__connect__gives_query_request_signed_by_tam(void **state)
{
	struct fixture *f = *state;
	struct tb_teep_msg qr = {0};
	uint8_t *out = NULL;
	size_t out_len = 0;

	assert_int_equal(tam_core_connect(f->tam, &out, &out_len), TB_OK);
	/* draft-26: COSE_Sign1 tag, protected header {1: -9 (ESP256)} */
	assert_true(out_len > 6);
	assert_memory_equal(out, "\xd2\x84\x43\xa1\x01\x28", 6);
	/* only the TAM key verifies it */
	assert_int_equal(tb_cose_sign1_verify(out, out_len, f->agent_pub, NULL, 0, NULL, NULL),
	                 TB_ERR_SIG);
	open_tam_message(f, out, out_len, &qr);
	assert_int_equal(qr.type, TB_TEEP_QUERY_REQUEST);
	assert_int_equal(qr.token.len, 16);
	assert_int_equal(qr.data_item_requested, TB_TEEP_DIR_TRUSTED_COMPONENTS);
	assert_true(qr.cipher_suites_cbor.len > 0);
	assert_int_equal(tam_core_counters(f->tam)->connects, 1);
	assert_int_equal(tam_core_outstanding_tokens(f->tam), 1);
	tb_teep_msg_clear(&qr);
	free(out);
}

static void tam__connect_twice__tokens_differ(void **state)
{
	struct fixture *f = *state;
	uint8_t a[TAM_TOKEN_LEN], b[TAM_TOKEN_LEN];

	connect_session(f, a);
	connect_session(f, b);
	assert_memory_not_equal(a, b, TAM_TOKEN_LEN);
	assert_int_equal(tam_core_outstanding_tokens(f->tam), 2);
}

static void tam__query_response_for_catalog_component__answers_update_with_envelope(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	struct tb_teep_msg upd = {0};
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	query_response(f, f->agent_key, token, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_non_null(out);
	open_tam_message(f, out, out_len, &upd);
	assert_int_equal(upd.type, TB_TEEP_UPDATE);
	assert_int_equal(upd.n_manifest_list, 1);
	assert_int_equal(upd.manifest_list[0].len, f->envelope_len);
	assert_memory_equal(upd.manifest_list[0].ptr, f->envelope, f->envelope_len);
	assert_int_equal(upd.n_unneeded_manifest_list, 0);
	/* a new token for the Update, not the QueryRequest's */
	assert_int_equal(upd.token.len, TAM_TOKEN_LEN);
	assert_memory_not_equal(upd.token.ptr, token, TAM_TOKEN_LEN);
	assert_int_equal(tam_core_counters(f->tam)->query_responses, 1);
	assert_int_equal(tam_core_counters(f->tam)->updates, 1);
	tb_teep_msg_clear(&upd);
	free(out);
}

static void tam__same_token_twice__second_response_dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	query_response(f, f->agent_key, token, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	assert_non_null(out);
	free(out);
	/* the very same bytes again: a replay */
	out = deliver(f, msg, len, &out_len);
	assert_null(out);
	free(msg);
	assert_int_equal(tam_core_counters(f->tam)->drop_unknown_token, 1);
	assert_int_equal(tam_core_counters(f->tam)->updates, 1);
}

static void tam__response_signed_by_untrusted_key__dropped_and_token_kept(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	query_response(f, f->stranger_key, token, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->drop_bad_signature, 1);
	assert_int_equal(tam_core_counters(f->tam)->query_responses, 0);

	/* a forgery must not burn the real Agent's token */
	query_response(f, f->agent_key, token, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_non_null(out);
	free(out);
}

static void tam__response_signed_by_second_trusted_key__accepted(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	query_response(f, f->second_key, token, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_non_null(out);
	free(out);
	assert_int_equal(tam_core_counters(f->tam)->drop_bad_signature, 0);
	assert_int_equal(tam_core_counters(f->tam)->updates, 1);
}

static void tam__unknown_or_missing_token__dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN], forged[TAM_TOKEN_LEN];
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	memcpy(forged, token, sizeof(forged));
	forged[0] ^= 0x01;
	query_response(f, f->agent_key, forged, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);

	query_response(f, f->agent_key, NULL, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->drop_unknown_token, 2);
	assert_int_equal(tam_core_counters(f->tam)->updates, 0);
	/* the real token is still outstanding */
	assert_int_equal(tam_core_outstanding_tokens(f->tam), 1);
}

static void tam__nothing_requested__answers_nothing(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	query_response(f, f->agent_key, token, NULL, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->query_responses, 1);
	assert_int_equal(tam_core_counters(f->tam)->updates, 0);
	assert_int_equal(tam_core_outstanding_tokens(f->tam), 0);
}

/* A TAM that pushes the catalog component sends it unrequested, and not
 * again once the Agent lists it installed. */
static void tam__pushed_component__sent_unless_installed(void **state)
{
	struct fixture *f = *state;
	struct tb_teep_msg upd = {0}, m = {0};
	uint8_t token[TAM_TOKEN_LEN];
	uint8_t *msg, *out;
	size_t len, out_len;

	f->push_tc = 1;
	assert_int_equal(create_tam(f, 0, 0), TB_OK);
	connect_session(f, token);
	query_response(f, f->agent_key, token, NULL, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	open_tam_message(f, out, out_len, &upd);
	assert_int_equal(upd.type, TB_TEEP_UPDATE);
	assert_int_equal(upd.n_manifest_list, 1);
	assert_int_equal(upd.manifest_list[0].len, f->envelope_len);
	assert_memory_equal(upd.manifest_list[0].ptr, f->envelope, f->envelope_len);
	tb_teep_msg_clear(&upd);
	free(out);

	connect_session(f, token);
	m.type = TB_TEEP_QUERY_RESPONSE;
	m.tc_list = calloc(1, sizeof(*m.tc_list));
	assert_non_null(m.tc_list);
	assert_int_equal(tb_component_id_copy(&m.tc_list[0], &f->tc), TB_OK);
	m.n_tc_list = 1;
	agent_message(f, f->agent_key, &m, token, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->updates, 1);
}

static void tam__unknown_component_requested__left_out(void **state)
{
	struct fixture *f = *state;
	struct tb_component_id other;
	uint8_t token[TAM_TOKEN_LEN];
	uint8_t *msg, *out;
	size_t len, out_len;

	assert_int_equal(tb_component_id_parse(OTHER_TC, &other), TB_OK);
	connect_session(f, token);
	query_response(f, f->agent_key, token, &other, NULL, &msg, &len);
	tb_component_id_clear(&other);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->unknown_components, 1);
	assert_int_equal(tam_core_counters(f->tam)->updates, 0);
}

static void tam__unneeded_manifest__update_lists_it(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	struct tb_teep_msg upd = {0};
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	query_response(f, f->agent_key, token, NULL, &f->tc_manifest, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	open_tam_message(f, out, out_len, &upd);
	assert_int_equal(upd.type, TB_TEEP_UPDATE);
	assert_int_equal(upd.n_manifest_list, 0);
	assert_int_equal(upd.n_unneeded_manifest_list, 1);
	assert_true(tb_component_id_equal(&upd.unneeded_manifest_list[0], &f->tc_manifest));
	tb_teep_msg_clear(&upd);
	free(out);
}

/* Personalization data that depends on the catalog TA: the TA comes along,
 * first, unless the Agent's tc-list says it is installed. */
static void dependent_update(struct fixture *f, const struct tb_component_id *cfg, int ta_listed,
                             struct tb_teep_msg *upd)
{
	uint8_t token[TAM_TOKEN_LEN];
	struct tb_teep_msg m = {0};
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	m.type = TB_TEEP_QUERY_RESPONSE;
	m.requested_tc_list = calloc(1, sizeof(*m.requested_tc_list));
	assert_non_null(m.requested_tc_list);
	assert_int_equal(tb_component_id_copy(&m.requested_tc_list[0], cfg), TB_OK);
	m.n_requested_tc_list = 1;
	if (ta_listed) {
		m.tc_list = calloc(1, sizeof(*m.tc_list));
		assert_non_null(m.tc_list);
		assert_int_equal(tb_component_id_copy(&m.tc_list[0], &f->tc), TB_OK);
		m.n_tc_list = 1;
	}
	agent_message(f, f->agent_key, &m, token, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	open_tam_message(f, out, out_len, upd);
	free(out);
}

static void tam__dependent_manifest__brings_its_dependency_first(void **state)
{
	struct fixture *f = *state;
	struct tb_component_id cfg, cfg_mid;
	struct tb_suit_info ta;
	struct tb_key *signer = NULL;
	struct tb_teep_msg upd = {0};
	uint8_t *env;
	size_t len;

	assert_int_equal(tb_component_id_parse("TEEP-Device/SecureFS/config.json", &cfg), TB_OK);
	assert_int_equal(tb_component_id_parse("TEEP-Device/SecureFS/config.suit", &cfg_mid),
	                 TB_OK);
	assert_int_equal(tb_suit_info(f->envelope, f->envelope_len, &ta, NULL, 0), TB_OK);
	assert_int_equal(tb_key_generate(&signer), TB_OK);
	{
		struct tb_suit_content c = {.component = &cfg,
		                            .manifest_id = &cfg_mid,
		                            .sequence_number = 1,
		                            .data = (const uint8_t *)"{}",
		                            .data_len = 2,
		                            .recipient = f->agent_pub,
		                            .dependency = &ta.manifest_component_id,
		                            .dependency_digest = ta.manifest_digest};
		assert_int_equal(tb_suit_build_content(signer, &c, &env, &len), TB_OK);
	}
	write_in_dir(f->dir, "config.suit", env, len);
	assert_int_equal(create_tam(f, 0, 0), TB_OK);

	dependent_update(f, &cfg, 0, &upd);
	assert_int_equal(upd.type, TB_TEEP_UPDATE);
	assert_int_equal(upd.n_manifest_list, 2);
	assert_memory_equal(upd.manifest_list[0].ptr, f->envelope, f->envelope_len);
	assert_int_equal(upd.manifest_list[1].len, len);
	assert_memory_equal(upd.manifest_list[1].ptr, env, len);
	tb_teep_msg_clear(&upd);

	dependent_update(f, &cfg, 1, &upd);
	assert_int_equal(upd.n_manifest_list, 1);
	assert_memory_equal(upd.manifest_list[0].ptr, env, len);
	tb_teep_msg_clear(&upd);

	tb_suit_info_clear(&ta);
	tb_component_id_clear(&cfg);
	tb_component_id_clear(&cfg_mid);
	tb_key_free(signer);
	free(env);
}

static void tam__success_for_update__answers_nothing(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	struct tb_teep_msg m = {0};
	uint8_t *msg, *out;
	size_t len, out_len;

	get_update(f, token);
	m.type = TB_TEEP_SUCCESS;
	agent_message(f, f->agent_key, &m, token, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->successes, 1);
	assert_int_equal(tam_core_outstanding_tokens(f->tam), 0);
}

static void tam__error_for_update__answers_nothing(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	struct tb_teep_msg m = {0};
	uint8_t *msg, *out;
	size_t len, out_len;

	get_update(f, token);
	m.type = TB_TEEP_ERROR;
	m.err_code = TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED;
	m.err_msg = strdup("install failed\n\"quoted\"");
	assert_non_null(m.err_msg);
	agent_message(f, f->agent_key, &m, token, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->errors, 1);
	assert_int_equal(tam_core_counters(f->tam)->successes, 0);
}

static void tam__success_with_query_request_token__dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	struct tb_teep_msg m = {0};
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	m.type = TB_TEEP_SUCCESS;
	agent_message(f, f->agent_key, &m, token, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->successes, 0);
	assert_int_equal(tam_core_counters(f->tam)->drop_unexpected, 1);
}

static void tam__query_request_from_agent__dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	struct tb_teep_msg m = {0};
	uint8_t *msg, *out;
	size_t len, out_len;

	connect_session(f, token);
	m.type = TB_TEEP_QUERY_REQUEST;
	m.data_item_requested = TB_TEEP_DIR_TRUSTED_COMPONENTS;
	agent_message(f, f->agent_key, &m, token, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->drop_unexpected, 1);
	/* not an answer: the session's token is untouched */
	assert_int_equal(tam_core_outstanding_tokens(f->tam), 1);
}

static void tam__garbage_and_oversized_bodies__dropped(void **state)
{
	struct fixture *f = *state;
	static const uint8_t garbage[] = {0xff, 0x01, 0x02, 0x03};
	uint8_t *big, *out;
	size_t out_len;

	out = deliver(f, garbage, sizeof(garbage), &out_len);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->drop_bad_cose, 1);

	big = calloc(1, 64 * 1024 + 1);
	assert_non_null(big);
	out = deliver(f, big, 64 * 1024 + 1, &out_len);
	free(big);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->drop_too_big, 1);
}

static void tam__signed_non_teep_payload__dropped(void **state)
{
	struct fixture *f = *state;
	static const uint8_t not_teep[] = {0xa1, 0x01, 0x02}; /* {1: 2} */
	uint8_t *msg, *out;
	size_t len, out_len;

	assert_int_equal(tb_cose_sign1(f->agent_key, TB_COSE_ALG_ESP256, not_teep, sizeof(not_teep),
	                               0, NULL, 0, &msg, &len),
	                 TB_OK);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->drop_bad_message, 1);
}

/* A TAM that asks for attestation; the stranger key is the Agent's
 * attestation key. Returns the QueryRequest's challenge. */
static void connect_attest(struct fixture *f, uint8_t chal[TAM_TOKEN_LEN])
{
	const struct tb_key *agents[1] = {f->agent_pub};
	struct tam_core_conf conf = {0};
	struct tb_teep_msg qr = {0};
	uint8_t *out = NULL;
	size_t out_len = 0;
	char err[256] = "";

	f->attest_keys[0] = f->stranger_key;
	f->attest.keys = f->attest_keys;
	f->attest.n_keys = 1;
	tam_core_free(f->tam);
	f->tam = NULL;
	conf.signing_key = f->tam_key;
	conf.agent_keys = agents;
	conf.n_agent_keys = 1;
	conf.catalog_dir = f->dir;
	conf.numbering = f->num;
	conf.max_body = 64 * 1024;
	conf.max_manifest = 16 * 1024;
	conf.now_ms = fake_now;
	conf.now_arg = f;
	conf.attest = &f->attest;
	assert_int_equal(tam_core_create(&conf, &f->tam, err, sizeof(err)), TB_OK);
	assert_int_equal(tam_core_connect(f->tam, &out, &out_len), TB_OK);
	open_tam_message(f, out, out_len, &qr);
	assert_int_equal(qr.type, TB_TEEP_QUERY_REQUEST);
	assert_true(qr.data_item_requested & TB_TEEP_DIR_ATTESTATION);
	assert_int_equal(qr.challenge.len, TAM_TOKEN_LEN);
	memcpy(chal, qr.challenge.ptr, TAM_TOKEN_LEN);
	tb_teep_msg_clear(&qr);
	free(out);
}

/* The TAM's answer to a QueryResponse (no token) requesting the catalog
 * component, with Evidence whose cnf is the Agent's key with cnf_alg
 * (with_evidence 0: none at all). */
static void attest_answer(struct fixture *f, int with_evidence, int cnf_alg,
                          struct tb_teep_msg *upd)
{
	struct tb_eat_claims c = {0};
	struct tb_teep_msg m = {0};
	uint8_t chal[TAM_TOKEN_LEN], *msg, *out;
	size_t len, out_len;
	int alg = f->num == TB_NUM_PRE26 ? TB_COSE_ALG_ES256 : TB_COSE_ALG_ESP256;

	connect_attest(f, chal);
	m.type = TB_TEEP_QUERY_RESPONSE;
	m.requested_tc_list = calloc(1, sizeof(*m.requested_tc_list));
	assert_non_null(m.requested_tc_list);
	assert_int_equal(tb_component_id_copy(&m.requested_tc_list[0], &f->tc), TB_OK);
	m.n_requested_tc_list = 1;
	if (with_evidence) {
		memcpy(c.nonce, chal, sizeof(chal));
		c.nonce_len = sizeof(chal);
		memset(c.ueid, 0x01, 33);
		c.ueid_len = 33;
		memset(c.oemid, 0xa5, 16);
		c.oemid_len = 16;
		memcpy(c.hwmodel, "software", 8);
		c.hwmodel_len = 8;
		snprintf(c.hwversion, sizeof(c.hwversion), "1");
		c.has_cnf = 1;
		c.cnf_alg = cnf_alg;
		assert_int_equal(tb_key_public_xy(f->agent_pub, c.cnf_x, c.cnf_y), TB_OK);
		c.iat = 1;
		assert_int_equal(tb_eat_sign(f->stranger_key, alg, &c, &m.attestation_payload.ptr,
		                             &m.attestation_payload.len),
		                 TB_OK);
		m.attestation_payload_format = strdup(TB_EAT_MEDIA_TYPE);
		assert_non_null(m.attestation_payload_format);
	}
	agent_message(f, f->agent_key, &m, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	open_tam_message(f, out, out_len, upd);
	assert_int_equal(upd->type, TB_TEEP_UPDATE);
	free(out);
}

/* The Evidence's cnf is the Agent's COSE_Key including its alg (draft-26
 * section 5), the alg the QueryResponse is signed with: without it, or
 * with another, the TAM refuses with an err-code-only Update. */
static void tam__attest_cnf_alg__must_be_the_signing_alg(void **state)
{
	struct fixture *f = *state;
	int alg = f->num == TB_NUM_PRE26 ? TB_COSE_ALG_ES256 : TB_COSE_ALG_ESP256;
	int other = f->num == TB_NUM_PRE26 ? TB_COSE_ALG_ESP256 : TB_COSE_ALG_ES256;
	struct tb_teep_msg upd = {0};
	char why[160];

	attest_answer(f, 1, alg, &upd);
	assert_int_equal(upd.err_code, 0);
	assert_int_equal(upd.n_manifest_list, 1);
	tb_teep_msg_clear(&upd);

	attest_answer(f, 1, 0, &upd);
	assert_int_equal(upd.err_code, TB_TEEP_ERR_PERMANENT);
	assert_int_equal(upd.n_manifest_list, 0);
	tb_teep_msg_clear(&upd);
	tam_core_last_attestation(f->tam, why, sizeof(why));
	assert_non_null(strstr(why, "cnf has no alg"));

	attest_answer(f, 1, other, &upd);
	assert_int_equal(upd.err_code, TB_TEEP_ERR_PERMANENT);
	assert_int_equal(upd.n_manifest_list, 0);
	tb_teep_msg_clear(&upd);
	tam_core_last_attestation(f->tam, why, sizeof(why));
	assert_non_null(strstr(why, "alg"));
}

/* A QueryResponse without attestation-payload although attestation was
 * asked for (draft-26 section 4.3: it MUST be there) is answered with an
 * error: an Update with err-code ERR_ATTESTATION_REQUIRED only. */
static void tam__attest_no_evidence__answers_attestation_required(void **state)
{
	struct fixture *f = *state;
	struct tb_teep_msg upd = {0};

	attest_answer(f, 0, 0, &upd);
	assert_int_equal(upd.err_code, TB_TEEP_ERR_ATTESTATION_REQUIRED);
	assert_non_null(upd.err_msg);
	assert_int_equal(upd.n_manifest_list, 0);
	assert_int_equal(upd.n_unneeded_manifest_list, 0);
	tb_teep_msg_clear(&upd);
}

static void tam__pre26_numbering__full_exchange(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	struct tb_teep_msg m = {0};
	uint8_t *out, *msg;
	size_t out_len, len;

	/* the QueryRequest is signed with ES256 (-7) for old peers */
	assert_int_equal(tam_core_connect(f->tam, &out, &out_len), TB_OK);
	assert_memory_equal(out, "\xd2\x84\x43\xa1\x01\x26", 6);
	free(out);

	get_update(f, token); /* decodes the Update with the pre-26 numbering */
	m.type = TB_TEEP_SUCCESS;
	agent_message(f, f->agent_key, &m, token, &msg, &len);
	/* wire type 5 is Success in pre-26 (Error in draft-26) */
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->successes, 1);
	assert_int_equal(tam_core_counters(f->tam)->errors, 0);
}

static void tam__token_table_full__oldest_token_forgotten(void **state)
{
	struct fixture *f = *state;
	uint8_t t1[TAM_TOKEN_LEN], t2[TAM_TOKEN_LEN], t3[TAM_TOKEN_LEN];
	uint8_t *msg, *out;
	size_t len, out_len;

	assert_int_equal(create_tam(f, 2, 0), TB_OK);
	connect_session(f, t1);
	f->now += 10;
	connect_session(f, t2);
	f->now += 10;
	connect_session(f, t3);
	assert_int_equal(tam_core_outstanding_tokens(f->tam), 2);
	assert_int_equal(tam_core_counters(f->tam)->tokens_evicted, 1);

	query_response(f, f->agent_key, t1, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->drop_unknown_token, 1);

	query_response(f, f->agent_key, t3, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_non_null(out);
	free(out);
	/* t2 remains, plus the Update's token; still within the bound */
	assert_int_equal(tam_core_outstanding_tokens(f->tam), 2);
}

static void tam__token_past_lifetime__dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	uint8_t *msg, *out;
	size_t len, out_len;

	assert_int_equal(create_tam(f, 0, 5000), TB_OK);
	connect_session(f, token);
	f->now += 4999;
	assert_int_equal(tam_core_outstanding_tokens(f->tam), 1);
	f->now += 1;
	query_response(f, f->agent_key, token, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->tokens_expired, 1);
	assert_int_equal(tam_core_counters(f->tam)->drop_unknown_token, 1);
}

static void tam__catalog__indexes_only_usable_envelopes(void **state)
{
	struct fixture *f = *state;
	static const uint8_t junk[] = "not a SUIT envelope";
	uint8_t *big;

	write_in_dir(f->dir, "junk.suit", junk, sizeof(junk));
	write_in_dir(f->dir, "readme.txt", junk, sizeof(junk));
	/* over the 16 KiB cap create_tam() sets */
	big = calloc(1, 16 * 1024 + 1);
	assert_non_null(big);
	write_in_dir(f->dir, "big.suit", big, 16 * 1024 + 1);
	free(big);
	assert_int_equal(create_tam(f, 0, 0), TB_OK);
	assert_int_equal(tam_core_catalog_count(f->tam), 1);
}

/* Two envelopes for one component: the higher sequence number is served,
 * whichever file the directory lists first. */
static void check_newer_envelope_wins(struct fixture *f, const char *newer_name)
{
	struct tb_teep_msg upd = {0};
	uint8_t token[TAM_TOKEN_LEN];
	uint8_t *env2, *msg, *out;
	size_t env2_len, len, out_len;

	build_envelope(&f->tc, &f->tc_manifest, 2, &env2, &env2_len);
	write_in_dir(f->dir, newer_name, env2, env2_len);
	assert_int_equal(create_tam(f, 0, 0), TB_OK);
	assert_int_equal(tam_core_catalog_count(f->tam), 1);

	connect_session(f, token);
	query_response(f, f->agent_key, token, &f->tc, NULL, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	open_tam_message(f, out, out_len, &upd);
	assert_int_equal(upd.n_manifest_list, 1);
	assert_int_equal(upd.manifest_list[0].len, env2_len);
	assert_memory_equal(upd.manifest_list[0].ptr, env2, env2_len);
	tb_teep_msg_clear(&upd);
	free(out);
	free(env2);
}

static void tam__catalog_newer_envelope_listed_first__served(void **state)
{
	check_newer_envelope_wins(*state, "a-newer.suit"); /* sorts before tc.suit */
}

static void tam__catalog_newer_envelope_listed_last__served(void **state)
{
	check_newer_envelope_wins(*state, "z-newer.suit"); /* sorts after tc.suit */
}

static void tam__create__refuses_bad_configuration(void **state)
{
	struct fixture *f = *state;
	const struct tb_key *agents[1] = {f->agent_pub};
	struct tam_core_conf conf = {0};
	struct tam_core *tam = (struct tam_core *)"not set";
	char err[256];

	conf.agent_keys = agents;
	conf.n_agent_keys = 1;
	conf.catalog_dir = f->dir;
	/* a public key cannot sign */
	conf.signing_key = f->tam_pub;
	assert_int_equal(tam_core_create(&conf, &tam, err, sizeof(err)), TB_ERR_INVAL);
	assert_null(tam);
	/* no trusted agent */
	conf.signing_key = f->tam_key;
	conf.n_agent_keys = 0;
	assert_int_equal(tam_core_create(&conf, &tam, err, sizeof(err)), TB_ERR_INVAL);
	/* no catalog directory */
	conf.n_agent_keys = 1;
	conf.catalog_dir = "/nonexistent/teep-tam-catalog";
	assert_int_equal(tam_core_create(&conf, &tam, err, sizeof(err)), TB_ERR_IO);
	assert_null(tam);
	assert_non_null(strstr(err, "catalog"));
}

static void tam__numbering_names__parse(void **state)
{
	enum tb_numbering n;

	(void)state;
	assert_int_equal(tam_numbering_parse("draft-26", &n), TB_OK);
	assert_int_equal(n, TB_NUM_DRAFT26);
	assert_int_equal(tam_numbering_parse("pre-26", &n), TB_OK);
	assert_int_equal(n, TB_NUM_PRE26);
	assert_int_equal(tam_numbering_parse("draft-25", &n), TB_ERR_INVAL);
	assert_string_equal(tam_numbering_name(TB_NUM_PRE26), "pre-26");
}

/* The same bytes an Agent signed as a COSE_Sign1, re-signed by key as a
 * COSE_Sign with one signer. */
static void resign_as_cose_sign(struct fixture *f, struct tb_key *key, uint8_t **msg, size_t *len)
{
	struct tb_key *const signers[1] = {key};
	const int alg = f->num == TB_NUM_PRE26 ? TB_COSE_ALG_ES256 : TB_COSE_ALG_ESP256;
	uint8_t *payload = NULL;
	size_t plen = 0;

	assert_int_equal(tb_cose_verify_any(*msg, *len, &key, 1, &payload, &plen), TB_OK);
	free(*msg);
	assert_int_equal(tb_cose_sign_multi(signers, &alg, 1, payload, plen, msg, len), TB_OK);
	free(payload);
}

/* Connect with first_message = cose-sign; checks the COSE_Sign with one
 * signer in alg_byte and returns the QueryRequest's token. */
static void connect_cose_sign(struct fixture *f, uint8_t alg_byte, uint8_t token[TAM_TOKEN_LEN])
{
	struct tb_key *const tam_pub[1] = {f->tam_pub};
	struct tb_key *const agent_pub[1] = {f->agent_pub};
	const uint8_t signer_head[] = {0x81,     0x83, 0x43, 0xa1, 0x01,
	                               alg_byte, 0xa1, 0x04, 0x58, 0x20};
	struct tb_teep_msg qr = {0};
	uint8_t *out = NULL, *payload = NULL;
	size_t out_len = 0, plen = 0, at;
	char err[160] = "";

	assert_int_equal(tam_core_connect(f->tam, &out, &out_len), TB_OK);
	/* 98([h'', {}, h'<QueryRequest>', [[h'{1: alg}', {4: kid}, sig]]]) */
	assert_memory_equal(out, "\xd8\x62\x84\x40\xa0", 5);
	assert_int_equal(tb_cose_sign1_verify(out, out_len, f->tam_pub, NULL, 0, NULL, NULL),
	                 TB_ERR_PARSE);
	assert_int_equal(tb_cose_verify_any(out, out_len, agent_pub, 1, NULL, NULL), TB_ERR_SIG);
	assert_int_equal(tb_cose_verify_any(out, out_len, tam_pub, 1, &payload, &plen), TB_OK);
	at = 5 + (plen < 24 ? 1 : plen < 256 ? 2 : 3) + plen;
	assert_true(out_len > at + sizeof(signer_head));
	assert_memory_equal(out + at, signer_head, sizeof(signer_head));
	assert_int_equal(tb_teep_decode(payload, plen, f->num, &qr, err, sizeof(err)), TB_OK);
	assert_int_equal(qr.type, TB_TEEP_QUERY_REQUEST);
	assert_int_equal(qr.token.len, TAM_TOKEN_LEN);
	memcpy(token, qr.token.ptr, TAM_TOKEN_LEN);
	tb_teep_msg_clear(&qr);
	free(payload);
	free(out);
}

/* --first-message cose-sign: the first QueryRequest is a COSE_Sign, what
 * follows is a COSE_Sign1 again, and the TAM takes an Agent's answer in
 * either form. */
static void tam__first_message_cose_sign__query_request_then_sign1(void **state)
{
	struct fixture *f = *state;
	uint8_t token[TAM_TOKEN_LEN];
	struct tb_teep_msg upd = {0};
	uint8_t *msg, *out;
	size_t len, out_len;

	f->first = (enum tam_first_message)2;
	assert_int_equal(create_tam(f, 0, 0), TB_ERR_INVAL);
	f->first = TAM_FIRST_COSE_SIGN;
	assert_int_equal(create_tam(f, 0, 0), TB_OK);
	connect_cose_sign(f, 0x28, token); /* ESP256 */
	query_response(f, f->agent_key, token, &f->tc, NULL, &msg, &len);
	resign_as_cose_sign(f, f->agent_key, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_non_null(out);
	assert_memory_equal(out, "\xd2\x84\x43\xa1\x01\x28", 6);
	open_tam_message(f, out, out_len, &upd);
	assert_int_equal(upd.type, TB_TEEP_UPDATE);
	assert_int_equal(upd.n_manifest_list, 1);
	tb_teep_msg_clear(&upd);
	free(out);

	/* an Agent's COSE_Sign by a key the TAM does not trust is dropped */
	connect_cose_sign(f, 0x28, token);
	query_response(f, f->stranger_key, token, &f->tc, NULL, &msg, &len);
	resign_as_cose_sign(f, f->stranger_key, &msg, &len);
	out = deliver(f, msg, len, &out_len);
	free(msg);
	assert_null(out);
	assert_int_equal(tam_core_counters(f->tam)->drop_bad_signature, 1);

	/* pre-26: the one signer uses ES256 */
	f->num = TB_NUM_PRE26;
	assert_int_equal(create_tam(f, 0, 0), TB_OK);
	connect_cose_sign(f, 0x26, token);
}

static void tam__first_message_names__parse(void **state)
{
	enum tam_first_message m = TAM_FIRST_COSE_SIGN;

	(void)state;
	assert_int_equal(tam_first_message_parse("cose-sign1", &m), TB_OK);
	assert_int_equal(m, TAM_FIRST_COSE_SIGN1);
	assert_int_equal(tam_first_message_parse("cose-sign", &m), TB_OK);
	assert_int_equal(m, TAM_FIRST_COSE_SIGN);
	assert_int_equal(tam_first_message_parse("sign", &m), TB_ERR_INVAL);
	assert_string_equal(tam_first_message_name(TAM_FIRST_COSE_SIGN), "cose-sign");
	assert_string_equal(tam_first_message_name(TAM_FIRST_COSE_SIGN1), "cose-sign1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(tam__connect__gives_query_request_signed_by_tam,
	                                    setup_tam, teardown),
	    cmocka_unit_test_setup_teardown(tam__connect_twice__tokens_differ, setup_tam, teardown),
	    cmocka_unit_test_setup_teardown(
	        tam__query_response_for_catalog_component__answers_update_with_envelope, setup_tam,
	        teardown),
	    cmocka_unit_test_setup_teardown(tam__same_token_twice__second_response_dropped,
	                                    setup_tam, teardown),
	    cmocka_unit_test_setup_teardown(
	        tam__response_signed_by_untrusted_key__dropped_and_token_kept, setup_tam, teardown),
	    cmocka_unit_test_setup_teardown(tam__response_signed_by_second_trusted_key__accepted,
	                                    setup_tam, teardown),
	    cmocka_unit_test_setup_teardown(tam__unknown_or_missing_token__dropped, setup_tam,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__pushed_component__sent_unless_installed, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__nothing_requested__answers_nothing, setup_tam,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__unknown_component_requested__left_out, setup_tam,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__dependent_manifest__brings_its_dependency_first,
	                                    setup_tam, teardown),
	    cmocka_unit_test_setup_teardown(tam__unneeded_manifest__update_lists_it, setup_tam,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__success_for_update__answers_nothing, setup_tam,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__error_for_update__answers_nothing, setup_tam,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__success_with_query_request_token__dropped,
	                                    setup_tam, teardown),
	    cmocka_unit_test_setup_teardown(tam__query_request_from_agent__dropped, setup_tam,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__garbage_and_oversized_bodies__dropped, setup_tam,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__signed_non_teep_payload__dropped, setup_tam,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__attest_cnf_alg__must_be_the_signing_alg, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__attest_cnf_alg__must_be_the_signing_alg,
	                                    setup_tam_pre26, teardown),
	    cmocka_unit_test_setup_teardown(tam__attest_no_evidence__answers_attestation_required,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(tam__attest_no_evidence__answers_attestation_required,
	                                    setup_tam_pre26, teardown),
	    cmocka_unit_test_setup_teardown(tam__pre26_numbering__full_exchange, setup_tam_pre26,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__token_table_full__oldest_token_forgotten, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__token_past_lifetime__dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(tam__catalog__indexes_only_usable_envelopes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__catalog_newer_envelope_listed_first__served, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__catalog_newer_envelope_listed_last__served, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tam__create__refuses_bad_configuration, setup,
	                                    teardown),
	    cmocka_unit_test(tam__numbering_names__parse),
	    cmocka_unit_test_setup_teardown(tam__first_message_cose_sign__query_request_then_sign1,
	                                    setup, teardown),
	    cmocka_unit_test(tam__first_message_names__parse),
	};

	return cmocka_run_group_tests_name("tam", tests, NULL, NULL);
}

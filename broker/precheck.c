/*
 * Pre-check of TAM messages before they reach a TEE (precheck.h).
 */
#include "precheck.h"
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <stdlib.h>

const char *tb_precheck_reason(enum tb_precheck r)
{
	switch (r) {
	case TB_PRECHECK_OK:
		return "ok";
	case TB_PRECHECK_SIZE:
		return "empty or too large";
	case TB_PRECHECK_NOT_COSE:
		return "not a COSE_Sign1 or COSE_Sign with a payload";
	case TB_PRECHECK_NOT_TEEP:
		return "the payload is not a TEEP message in the configured numbering";
	case TB_PRECHECK_TYPE:
		return "a TEEP message type a TAM does not send";
	case TB_PRECHECK_ALGORITHM:
		return "no signature in an algorithm the broker can verify";
	case TB_PRECHECK_SIGNATURE:
		return "no signature verifies with the TAM's key";
	case TB_PRECHECK_NOMEM:
		return "out of memory";
	}
	return "?";
}

/* The payload's TEEP type, from its first items (no tree): a type a TAM
 * may send. */
static enum tb_precheck check_type(const uint8_t *payload, size_t len, enum tb_numbering num,
                                   enum tb_teep_type *type_out)
{
	enum tb_teep_type t = tb_teep_peek_payload_type(payload, len, num);

	if (t == TB_TEEP_NONE)
		return TB_PRECHECK_NOT_TEEP;
	*type_out = t;
	if (t != TB_TEEP_QUERY_REQUEST && t != TB_TEEP_UPDATE)
		return TB_PRECHECK_TYPE;
	return TB_PRECHECK_OK;
}

enum tb_precheck tb_precheck_shape(const uint8_t *msg, size_t len, size_t max_len,
                                   enum tb_numbering num, enum tb_teep_type *type_out)
{
	enum tb_teep_type dummy;
	const uint8_t *payload;
	size_t plen;

	if (!type_out)
		type_out = &dummy;
	*type_out = TB_TEEP_NONE;
	if (!msg || len == 0 || len > max_len)
		return TB_PRECHECK_SIZE;
	if (tb_cose_payload_span(msg, len, &payload, &plen) != TB_OK)
		return TB_PRECHECK_NOT_COSE;
	return check_type(payload, plen, num, type_out);
}

/* The whole payload as a TEEP message (a tree: only once signed). */
static enum tb_precheck check_payload(const uint8_t *payload, size_t len, enum tb_numbering num)
{
	struct tb_teep_msg m = {0};
	char why[128];
	int rc = tb_teep_decode(payload, len, num, &m, why, sizeof(why));

	tb_teep_msg_clear(&m);
	if (rc == TB_ERR_NOMEM)
		return TB_PRECHECK_NOMEM;
	if (rc != TB_OK)
		return TB_PRECHECK_NOT_TEEP;
	return TB_PRECHECK_OK;
}

enum tb_precheck tb_precheck_tam_message(const uint8_t *msg, size_t len, size_t max_len,
                                         struct tb_key *const *keys, size_t n_keys,
                                         enum tb_numbering num, enum tb_teep_type *type_out)
{
	const uint8_t *payload = NULL;
	size_t plen = 0;
	enum tb_precheck r;
	int rc;

	/* the structure and the type first: they cost no signature check
	 * and build no tree */
	r = tb_precheck_shape(msg, len, max_len, num, type_out);
	if (r != TB_PRECHECK_OK)
		return r;
	if (!keys || n_keys == 0)
		return TB_PRECHECK_SIGNATURE;
	rc = tb_cose_verify_any(msg, len, keys, n_keys, NULL, NULL);
	switch (rc) {
	case TB_OK:
		break;
	case TB_ERR_NOMEM:
		return TB_PRECHECK_NOMEM;
	case TB_ERR_UNSUP:
		return TB_PRECHECK_ALGORITHM;
	case TB_ERR_SIG:
		return TB_PRECHECK_SIGNATURE;
	default:
		return TB_PRECHECK_NOT_COSE;
	}
	/* signed by the TAM: now the payload may cost a full decode */
	if (tb_cose_payload_span(msg, len, &payload, &plen) != TB_OK)
		return TB_PRECHECK_NOT_COSE;
	return check_payload(payload, plen, num);
}

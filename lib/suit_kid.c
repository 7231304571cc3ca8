/*
 * A key id in the signatures of a SUIT envelope: the unprotected header of
 * each COSE_Sign1 in the authentication wrapper gets {4: kid}. The
 * unprotected header is not signed, so the signatures stay valid and the
 * manifest's bytes are untouched.
 */
#include "tb_suit.h"
#include "tb_cbor.h"

#include <teep-broker/driver.h>

#define ENV_AUTH        2
#define COSE_HDR_KID    4
#define COSE_SIGN1_TAG  18
#define KID_MAX         64
#define AUTH_BLOCKS_MAX 8

static cbor_item_t *unwrap(const cbor_item_t *bstr)
{
	const uint8_t *p;
	size_t n;

	if (!bstr || tb_cbor_get_bytes(bstr, &p, &n) != TB_OK)
		return NULL;
	return tb_cbor_load(p, n, NULL);
}

/* One authentication block (a bstr-wrapped COSE_Sign1) with the kid set. */
static cbor_item_t *block_with_kid(const cbor_item_t *block, const uint8_t *kid, size_t kid_len,
                                   int *rc)
{
	cbor_item_t *sig = unwrap(block), *arr, *hdr;

	if (!sig) {
		*rc = TB_ERR_PARSE;
		return NULL;
	}
	arr = cbor_isa_tag(sig) ? cbor_tag_item(sig) : cbor_incref(sig);
	if (!arr || !cbor_isa_array(arr) || cbor_array_size(arr) != 4) {
		*rc = TB_ERR_PARSE;
		goto out;
	}
	hdr = cbor_new_definite_map(1);
	if (!hdr ||
	    tb_cbor_map_put(hdr, tb_cbor_int(COSE_HDR_KID), tb_cbor_bytes(kid, kid_len)) != TB_OK) {
		if (hdr)
			cbor_decref(&hdr);
		*rc = TB_ERR_NOMEM;
		goto out;
	}
	if (!cbor_array_replace(arr, 1, hdr)) {
		cbor_decref(&hdr);
		*rc = TB_ERR_NOMEM;
		goto out;
	}
	cbor_decref(&hdr);
	if (arr)
		cbor_decref(&arr);
	return tb_cbor_bstr_of(sig);
out:
	if (arr)
		cbor_decref(&arr);
	cbor_decref(&sig);
	return NULL;
}

static cbor_item_t *auth_with_kid(const cbor_item_t *auth, const uint8_t *kid, size_t kid_len,
                                  int *rc)
{
	cbor_item_t *a = unwrap(auth), *n = NULL;
	size_t count;

	*rc = TB_ERR_PARSE;
	if (!a || !cbor_isa_array(a) || (count = cbor_array_size(a)) < 2 ||
	    count > AUTH_BLOCKS_MAX + 1)
		goto out;
	n = cbor_new_definite_array(count);
	*rc = n ? TB_OK : TB_ERR_NOMEM;
	for (size_t i = 0; *rc == TB_OK && i < count; i++) {
		cbor_item_t *v = i ? block_with_kid(cbor_array_handle(a)[i], kid, kid_len, rc)
		                   : cbor_incref(cbor_array_handle(a)[0]);
		if (*rc == TB_OK)
			*rc = v ? tb_cbor_array_push(n, v) : TB_ERR_NOMEM;
	}
	if (*rc != TB_OK && n)
		cbor_decref(&n);
out:
	if (a)
		cbor_decref(&a);
	return *rc == TB_OK ? tb_cbor_bstr_of(n) : NULL;
}

int tb_suit_set_kid(const uint8_t *env, size_t len, const uint8_t *kid, size_t kid_len,
                    uint8_t **out, size_t *out_len)
{
	cbor_item_t *e, *n = NULL;
	struct cbor_pair *pairs;
	int64_t key;
	int rc = TB_ERR_PARSE, seen = 0;

	if (!env || !kid || !kid_len || kid_len > KID_MAX || !out || !out_len)
		return TB_ERR_INVAL;
	e = tb_cbor_load(env, len, NULL);
	if (!e || !cbor_isa_map(e))
		goto out;
	n = cbor_new_definite_map(cbor_map_size(e));
	rc = n ? TB_OK : TB_ERR_NOMEM;
	pairs = cbor_map_handle(e);
	for (size_t i = 0; rc == TB_OK && i < cbor_map_size(e); i++) {
		cbor_item_t *v;
		if (tb_cbor_get_int(pairs[i].key, &key) == TB_OK && key == ENV_AUTH) {
			v = auth_with_kid(pairs[i].value, kid, kid_len, &rc);
			seen = 1;
		} else {
			v = cbor_incref(pairs[i].value);
		}
		if (rc == TB_OK)
			rc = v ? tb_cbor_map_put(n, cbor_incref(pairs[i].key), v) : TB_ERR_NOMEM;
	}
	if (rc == TB_OK && !seen)
		rc = TB_ERR_PARSE;
	if (rc == TB_OK)
		rc = tb_cbor_serialize(n, out, out_len);
out:
	if (n)
		cbor_decref(&n);
	if (e)
		cbor_decref(&e);
	return rc;
}

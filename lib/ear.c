/*
 * EAT Attestation Results (draft-ietf-rats-ear-03): encoding, decoding,
 * signing, verifying.
 */
#include "tb_ear.h"
#include "tb_cbor.h"
#include "tb_cose_key.h"
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VID_DEVELOPER 0
#define VID_BUILD     1

enum tb_ear_tier tb_ear_tier_of(int claim)
{
	if (claim >= -1 && claim <= 1)
		return TB_EAR_NONE;
	if (claim >= 2 && claim <= 31)
		return TB_EAR_AFFIRMING;
	if (claim >= 32 && claim <= 95)
		return TB_EAR_WARNING;
	return TB_EAR_CONTRAINDICATED;
}

enum tb_ear_tier tb_ear_status_of(const int8_t tv[TB_TV_COUNT])
{
	enum tb_ear_tier worst = TB_EAR_NONE;

	for (int i = 0; i < TB_TV_COUNT; i++) {
		enum tb_ear_tier t = tb_ear_tier_of(tv[i]);
		if (t > worst)
			worst = t;
	}
	return worst;
}

const char *tb_ear_tier_name(int tier)
{
	switch (tier) {
	case TB_EAR_NONE:
		return "none";
	case TB_EAR_AFFIRMING:
		return "affirming";
	case TB_EAR_WARNING:
		return "warning";
	case TB_EAR_CONTRAINDICATED:
		return "contraindicated";
	default:
		return "unknown";
	}
}

static int text_ok(const char *s)
{
	size_t n = strnlen(s, TB_EAR_TEXT_MAX + 1);
	return n >= 1 && n <= TB_EAR_TEXT_MAX;
}

static int put(cbor_item_t *map, int64_t k, cbor_item_t *v)
{
	return v ? tb_cbor_map_put(map, tb_cbor_int(k), v) : TB_ERR_NOMEM;
}

static cbor_item_t *text(const char *s)
{
	return tb_cbor_text(s, strlen(s));
}

static cbor_item_t *appraisal(const struct tb_ear *e)
{
	size_t ntv = 0;
	cbor_item_t *a = cbor_new_definite_map(e->nonce_len ? 4 : 3), *tv, *ids;
	int rc = a ? TB_OK : TB_ERR_NOMEM;

	for (int i = 0; i < TB_TV_COUNT; i++)
		ntv += e->tv[i] != 0;
	tv = cbor_new_definite_map(ntv);
	for (int i = 0; tv && i < TB_TV_COUNT; i++)
		if (e->tv[i] && put(tv, i, tb_cbor_int(e->tv[i])) != TB_OK)
			cbor_decref(&tv);
	ids = cbor_new_definite_array(1);
	if (ids && tb_cbor_array_push(ids, text(e->policy_id)) != TB_OK)
		cbor_decref(&ids);
	if (rc == TB_OK)
		rc = put(a, TB_EAR_CLAIM_STATUS, tb_cbor_int(e->status));
	if (rc == TB_OK) {
		rc = put(a, TB_EAR_CLAIM_TV, tv);
		tv = NULL;
	}
	if (rc == TB_OK) {
		rc = put(a, TB_EAR_CLAIM_POLICY_IDS, ids);
		ids = NULL;
	}
	if (rc == TB_OK && e->nonce_len)
		rc = put(a, TB_EAT_CLAIM_NONCE, tb_cbor_bytes(e->nonce, e->nonce_len));
	if (tv)
		cbor_decref(&tv);
	if (ids)
		cbor_decref(&ids);
	if (rc != TB_OK && a)
		cbor_decref(&a);
	return a;
}

int tb_ear_encode(const struct tb_ear *e, uint8_t **out, size_t *out_len)
{
	cbor_item_t *top, *vid, *sub;
	int rc;

	if (!e || !out || !out_len || !text_ok(e->developer) || !text_ok(e->build) ||
	    !text_ok(e->submod) || !text_ok(e->policy_id) || e->nonce_len > TB_EAT_NONCE_MAX ||
	    (e->nonce_len && e->nonce_len < TB_EAT_NONCE_MIN) || e->ueid_len > TB_EAT_UEID_MAX)
		return TB_ERR_INVAL;
	top = cbor_new_definite_map(e->ueid_len ? 5 : 4);
	if (!top)
		return TB_ERR_NOMEM;
	vid = cbor_new_definite_map(2);
	if (vid && (put(vid, VID_DEVELOPER, text(e->developer)) != TB_OK ||
	            put(vid, VID_BUILD, text(e->build)) != TB_OK))
		cbor_decref(&vid);
	sub = cbor_new_definite_map(1);
	if (sub && tb_cbor_map_put(sub, text(e->submod), appraisal(e)) != TB_OK)
		cbor_decref(&sub);
	rc = put(top, TB_EAR_CLAIM_PROFILE, text(TB_EAR_PROFILE));
	if (rc == TB_OK)
		rc = put(top, TB_EAT_CLAIM_IAT, tb_cbor_int(e->iat));
	if (rc == TB_OK) {
		rc = put(top, TB_EAR_CLAIM_VERIFIER_ID, vid);
		vid = NULL;
	}
	if (rc == TB_OK) {
		rc = put(top, TB_EAR_CLAIM_SUBMODS, sub);
		sub = NULL;
	}
	if (rc == TB_OK && e->ueid_len)
		rc = put(top, TB_EAT_CLAIM_UEID, tb_cbor_bytes(e->ueid, e->ueid_len));
	if (vid)
		cbor_decref(&vid);
	if (sub)
		cbor_decref(&sub);
	if (rc == TB_OK)
		rc = tb_cbor_serialize(top, out, out_len);
	cbor_decref(&top);
	return rc;
}

static int get_text(const cbor_item_t *v, char out[TB_EAR_TEXT_MAX + 1])
{
	const char *p;
	size_t n;

	if (!v || tb_cbor_get_text(v, &p, &n) != TB_OK || n < 1 || n > TB_EAR_TEXT_MAX ||
	    memchr(p, 0, n))
		return TB_ERR_PARSE;
	memcpy(out, p, n);
	out[n] = 0;
	return TB_OK;
}

static int dec_appraisal(const cbor_item_t *a, struct tb_ear *e, char *err, size_t errlen)
{
	cbor_item_t *v;
	int64_t x;

	if (!cbor_isa_map(a))
		return tb_err(err, errlen, TB_ERR_PARSE, "submods: appraisal is not a map");
	v = tb_cbor_map_get_int(a, TB_EAR_CLAIM_STATUS);
	if (!v || tb_cbor_get_int(v, &x) != TB_OK ||
	    (x != TB_EAR_NONE && x != TB_EAR_AFFIRMING && x != TB_EAR_WARNING &&
	     x != TB_EAR_CONTRAINDICATED))
		return tb_err(err, errlen, TB_ERR_PARSE, "ear_status: missing or not a tier");
	e->status = (int)x;
	v = tb_cbor_map_get_int(a, TB_EAR_CLAIM_TV);
	if (v) {
		if (!cbor_isa_map(v))
			return tb_err(err, errlen, TB_ERR_PARSE,
			              "ear_trustworthiness_vector: not a map");
		for (int i = 0; i < TB_TV_COUNT; i++) {
			cbor_item_t *c = tb_cbor_map_get_int(v, i);
			if (c && (tb_cbor_get_int(c, &x) != TB_OK || x < -128 || x > 127))
				return tb_err(err, errlen, TB_ERR_PARSE,
				              "ear_trustworthiness_vector[%d]: not -128..127", i);
			e->tv[i] = c ? (int8_t)x : 0;
		}
	}
	v = tb_cbor_map_get_int(a, TB_EAR_CLAIM_POLICY_IDS);
	if (v && (!cbor_isa_array(v) || cbor_array_size(v) < 1 ||
	          get_text(cbor_array_handle(v)[0], e->policy_id) != TB_OK))
		return tb_err(err, errlen, TB_ERR_PARSE, "ear_appraisal_policy_ids: malformed");
	v = tb_cbor_map_get_int(a, TB_EAT_CLAIM_NONCE);
	if (v) {
		const uint8_t *p;
		size_t n;
		if (tb_cbor_get_bytes(v, &p, &n) != TB_OK || n < TB_EAT_NONCE_MIN ||
		    n > TB_EAT_NONCE_MAX)
			return tb_err(err, errlen, TB_ERR_PARSE, "eat_nonce: not bstr 8..64");
		memcpy(e->nonce, p, n);
		e->nonce_len = n;
	}
	return TB_OK;
}

static int dec_ear(const cbor_item_t *top, struct tb_ear *e, char *err, size_t errlen)
{
	cbor_item_t *v;
	char profile[TB_EAR_TEXT_MAX + 1];
	struct cbor_pair *pairs;
	const char *p;
	size_t n;

	if (!cbor_isa_map(top))
		return tb_err(err, errlen, TB_ERR_PARSE, "EAR: expected a map");
	if (get_text(tb_cbor_map_get_int(top, TB_EAR_CLAIM_PROFILE), profile) != TB_OK ||
	    strcmp(profile, TB_EAR_PROFILE) != 0)
		return tb_err(err, errlen, TB_ERR_PARSE, "eat_profile: missing or not %s",
		              TB_EAR_PROFILE);
	v = tb_cbor_map_get_int(top, TB_EAT_CLAIM_IAT);
	if (!v || tb_cbor_get_int(v, &e->iat) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "iat: missing or not an integer");
	v = tb_cbor_map_get_int(top, TB_EAR_CLAIM_VERIFIER_ID);
	if (!v || !cbor_isa_map(v) ||
	    get_text(tb_cbor_map_get_int(v, VID_DEVELOPER), e->developer) != TB_OK ||
	    get_text(tb_cbor_map_get_int(v, VID_BUILD), e->build) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "ear_verifier_id: missing or malformed");
	v = tb_cbor_map_get_int(top, TB_EAT_CLAIM_UEID);
	if (v) {
		const uint8_t *u;
		if (tb_cbor_get_bytes(v, &u, &n) != TB_OK || n < 1 || n > TB_EAT_UEID_MAX)
			return tb_err(err, errlen, TB_ERR_PARSE, "ueid: not bstr 1..%d",
			              TB_EAT_UEID_MAX);
		memcpy(e->ueid, u, n);
		e->ueid_len = n;
	}
	v = tb_cbor_map_get_int(top, TB_EAR_CLAIM_SUBMODS);
	/* this decoder reads Results with one appraisal, the kind we make */
	if (!v || !cbor_isa_map(v) || !cbor_map_is_definite(v) || cbor_map_size(v) != 1)
		return tb_err(err, errlen, TB_ERR_PARSE, "submods: not a map of one appraisal");
	pairs = cbor_map_handle(v);
	if (tb_cbor_get_text(pairs[0].key, &p, &n) != TB_OK || n < 1 || n > TB_EAR_TEXT_MAX ||
	    memchr(p, 0, n))
		return tb_err(err, errlen, TB_ERR_PARSE, "submods: label is not a text 1..%d",
		              TB_EAR_TEXT_MAX);
	memcpy(e->submod, p, n);
	e->submod[n] = 0;
	return dec_appraisal(pairs[0].value, e, err, errlen);
}

int tb_ear_decode(const uint8_t *buf, size_t len, struct tb_ear *e, char *err, size_t errlen)
{
	const char *why = NULL;
	cbor_item_t *top;
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (!buf || !e)
		return TB_ERR_INVAL;
	memset(e, 0, sizeof(*e));
	if (len > TB_EAT_MAX_TOKEN)
		return tb_err(err, errlen, TB_ERR_TOOBIG, "EAR: larger than %u bytes",
		              TB_EAT_MAX_TOKEN);
	top = tb_cbor_load(buf, len, &why);
	if (!top)
		return tb_err(err, errlen, TB_ERR_PARSE, "EAR: not CBOR (%s)", why ? why : "?");
	rc = dec_ear(top, e, err, errlen);
	cbor_decref(&top);
	if (rc != TB_OK)
		memset(e, 0, sizeof(*e));
	return rc;
}

int tb_ear_sign(const struct tb_key *key, int alg, const struct tb_ear *e, uint8_t **out,
                size_t *out_len)
{
	uint8_t kid[32], *payload = NULL;
	size_t plen = 0;
	int rc = tb_cose_key_thumbprint(key, kid);

	if (rc == TB_OK)
		rc = tb_ear_encode(e, &payload, &plen);
	if (rc == TB_OK)
		rc = tb_cose_sign1(key, alg, payload, plen, 0, kid, sizeof(kid), out, out_len);
	free(payload);
	return rc;
}

int tb_ear_verify(const uint8_t *token, size_t len, const struct tb_key *key, struct tb_ear *e,
                  char *err, size_t errlen)
{
	uint8_t *payload = NULL;
	size_t plen = 0;
	int rc;

	if (!token || !key || !e)
		return TB_ERR_INVAL;
	memset(e, 0, sizeof(*e));
	if (len > TB_EAT_MAX_TOKEN)
		return tb_err(err, errlen, TB_ERR_TOOBIG, "EAR: larger than %u bytes",
		              TB_EAT_MAX_TOKEN);
	rc = tb_cose_sign1_verify(token, len, key, NULL, 0, &payload, &plen);
	if (rc != TB_OK)
		return tb_err(err, errlen, rc, "EAR: signature does not verify (%d)", rc);
	rc = tb_ear_decode(payload, plen, e, err, errlen);
	free(payload);
	return rc;
}

int tb_ear_check(const uint8_t *token, size_t len, const struct tb_key *key, int64_t now,
                 int64_t max_age_s, int64_t skew_s, struct tb_ear *e, char *err, size_t errlen)
{
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (max_age_s < 0 || skew_s < 0)
		return TB_ERR_INVAL;
	rc = tb_ear_verify(token, len, key, e, err, errlen);
	if (rc == TB_ERR_TOOBIG)
		rc = TB_ERR_PARSE;
	if (rc == TB_ERR_UNSUP)
		rc = TB_ERR_SIG; /* an algorithm we cannot check: not verified */
	if (rc != TB_OK)
		return rc;
	if (e->iat > now + skew_s)
		return tb_err(err, errlen, TB_ERR_STATE, "iat is %lld s in the future",
		              (long long)(e->iat - now));
	if (now - e->iat > max_age_s)
		return tb_err(err, errlen, TB_ERR_STATE, "iat is %lld s old (at most %lld)",
		              (long long)(now - e->iat), (long long)max_age_s);
	return TB_OK;
}

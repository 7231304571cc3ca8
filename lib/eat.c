/*
 * The EAT claims set of a TEEP Agent's Evidence: encoding, decoding with
 * bounds, signing and verifying (RFC 9711, RFC 8392, RFC 8747).
 */
#include "tb_eat.h"
#include "tb_cbor.h"
#include "tb_cose_key.h"
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* CoSWID (RFC 9393) indices of the minimal tag that carries a measurement. */
#define SWID_TAG_ID           0
#define SWID_SOFTWARE_NAME    1
#define SWID_ENTITY           2
#define SWID_EVIDENCE         3
#define SWID_HASH             7
#define SWID_TAG_VERSION      12
#define SWID_FILE             17
#define SWID_FS_NAME          24
#define SWID_ENTITY_NAME      31
#define SWID_ROLE             33
#define SWID_ROLE_TAG_CREATOR 1
#define SWID_ENTITY_TEXT      "teep-broker"

/* ---- encoding ---- */

struct builder {
	cbor_item_t *map;
	int rc;
};

static void add(struct builder *b, int64_t label, cbor_item_t *v)
{
	if (b->rc != TB_OK) {
		if (v)
			cbor_decref(&v);
		return;
	}
	if (!v) {
		b->rc = TB_ERR_NOMEM;
		return;
	}
	b->rc = tb_cbor_map_put(b->map, tb_cbor_int(label), v);
}

static cbor_item_t *pair(int64_t ct, cbor_item_t *body)
{
	cbor_item_t *a = body ? cbor_new_definite_array(2) : NULL;

	if (!a) {
		if (body)
			cbor_decref(&body);
		return NULL;
	}
	if (tb_cbor_array_push(a, tb_cbor_int(ct)) != TB_OK || tb_cbor_array_push(a, body) != TB_OK)
		cbor_decref(&a);
	return a;
}

static cbor_item_t *suit_digest(const uint8_t d[32])
{
	cbor_item_t *a = cbor_new_definite_array(2);

	if (a && (tb_cbor_array_push(a, tb_cbor_int(TB_SUIT_DIGEST_SHA256)) != TB_OK ||
	          tb_cbor_array_push(a, tb_cbor_bytes(d, 32)) != TB_OK))
		cbor_decref(&a);
	return a;
}

/* {0: name, 12: 0, 1: name, 2: {31: "teep-broker", 33: 1},
 *  3: {17: {24: name, 7: [1, digest]}}} */
static cbor_item_t *coswid(const struct tb_eat_measurement *m)
{
	struct builder tag = {cbor_new_definite_map(5), TB_OK};
	struct builder ent = {cbor_new_definite_map(2), TB_OK};
	struct builder ev = {cbor_new_definite_map(1), TB_OK};
	struct builder file = {cbor_new_definite_map(2), TB_OK};
	cbor_item_t *hash = cbor_new_definite_array(2);
	size_t n = strlen(m->name);

	if (!tag.map || !ent.map || !ev.map || !file.map || !hash) {
		cbor_item_t *all[] = {tag.map, ent.map, ev.map, file.map, hash};
		for (size_t i = 0; i < 5; i++)
			if (all[i])
				cbor_decref(&all[i]);
		return NULL;
	}
	if (tb_cbor_array_push(hash, tb_cbor_int(TB_EAT_HASH_SHA256)) != TB_OK ||
	    tb_cbor_array_push(hash, tb_cbor_bytes(m->sha256, 32)) != TB_OK) {
		cbor_decref(&hash);
		hash = NULL;
	}
	add(&file, SWID_FS_NAME, tb_cbor_text(m->name, n));
	add(&file, SWID_HASH, hash);
	if (file.rc != TB_OK)
		cbor_decref(&file.map);
	add(&ev, SWID_FILE, file.map);
	if (ev.rc != TB_OK)
		cbor_decref(&ev.map);
	add(&ent, SWID_ENTITY_NAME, tb_cbor_text(SWID_ENTITY_TEXT, strlen(SWID_ENTITY_TEXT)));
	add(&ent, SWID_ROLE, tb_cbor_int(SWID_ROLE_TAG_CREATOR));
	if (ent.rc != TB_OK)
		cbor_decref(&ent.map);
	add(&tag, SWID_TAG_ID, tb_cbor_text(m->name, n));
	add(&tag, SWID_TAG_VERSION, tb_cbor_int(0));
	add(&tag, SWID_SOFTWARE_NAME, tb_cbor_text(m->name, n));
	add(&tag, SWID_ENTITY, ent.map);
	add(&tag, SWID_EVIDENCE, ev.map);
	if (tag.rc != TB_OK)
		cbor_decref(&tag.map);
	return tag.map;
}

/* {1: provider, 2: generation, 3: inblob, 4: outblob} */
static cbor_item_t *tsm_report(const struct tb_tsm_report *r)
{
	struct builder t = {cbor_new_definite_map(4), TB_OK};

	if (!t.map)
		return NULL;
	add(&t, TB_EAT_TSM_PROVIDER, tb_cbor_text(r->provider, strlen(r->provider)));
	add(&t, TB_EAT_TSM_GENERATION, cbor_build_uint64(r->generation));
	add(&t, TB_EAT_TSM_INBLOB, tb_cbor_bytes(r->inblob, TB_TSM_INBLOB_LEN));
	add(&t, TB_EAT_TSM_OUTBLOB, tb_cbor_bytes(r->outblob, r->outblob_len));
	if (t.rc != TB_OK)
		cbor_decref(&t.map);
	return t.map;
}

static int text_ok(const char *s)
{
	size_t n = strnlen(s, TB_EAT_TEXT_MAX + 1);
	return n >= 1 && n <= TB_EAT_TEXT_MAX;
}

static int claims_ok(const struct tb_eat_claims *c)
{
	if (c->nonce_len < TB_EAT_NONCE_MIN || c->nonce_len > TB_EAT_NONCE_MAX)
		return 0;
	if (c->ueid_len < 7 || c->ueid_len > TB_EAT_UEID_MAX)
		return 0;
	if (!c->has_oemid_pen && c->oemid_len != 3 && c->oemid_len != 16)
		return 0;
	if (c->hwmodel_len < 1 || c->hwmodel_len > TB_EAT_HWMODEL_MAX || !text_ok(c->hwversion))
		return 0;
	if (c->n_meas > TB_EAT_MAX_MEAS || c->n_manifests > TB_EAT_MAX_MANIFESTS || !c->has_cnf)
		return 0;
	for (size_t i = 0; i < c->n_meas; i++)
		if (!text_ok(c->meas[i].name))
			return 0;
	if (c->has_tsm && (!c->tsm.provider[0] || strlen(c->tsm.provider) > TB_TSM_PROVIDER_MAX ||
	                   !c->tsm.outblob_len || c->tsm.outblob_len > TB_TSM_OUTBLOB_MAX))
		return 0;
	return 1;
}

int tb_eat_encode(const struct tb_eat_claims *c, uint8_t **out, size_t *out_len)
{
	struct builder b = {NULL, TB_OK};
	cbor_item_t *cnf, *hwv, *list;
	int rc;

	if (!c || !out || !out_len || !claims_ok(c))
		return TB_ERR_INVAL;
	b.map = cbor_new_definite_map(12);
	if (!b.map)
		return TB_ERR_NOMEM;
	add(&b, TB_EAT_CLAIM_NONCE, tb_cbor_bytes(c->nonce, c->nonce_len));
	add(&b, TB_EAT_CLAIM_UEID, tb_cbor_bytes(c->ueid, c->ueid_len));
	add(&b, TB_EAT_CLAIM_OEMID,
	    c->has_oemid_pen ? tb_cbor_int(c->oemid_pen) : tb_cbor_bytes(c->oemid, c->oemid_len));
	add(&b, TB_EAT_CLAIM_HWMODEL, tb_cbor_bytes(c->hwmodel, c->hwmodel_len));
	hwv = cbor_new_definite_array(1);
	if (hwv &&
	    tb_cbor_array_push(hwv, tb_cbor_text(c->hwversion, strlen(c->hwversion))) != TB_OK)
		cbor_decref(&hwv);
	add(&b, TB_EAT_CLAIM_HWVERSION, hwv);
	if (c->n_manifests) {
		list = cbor_new_definite_array(c->n_manifests);
		for (size_t i = 0; list && i < c->n_manifests; i++)
			if (tb_cbor_array_push(
			        list, pair(TB_EAT_CT_CBOR,
			                   tb_cbor_bstr_of(suit_digest(c->manifests[i])))) != TB_OK)
				cbor_decref(&list);
		add(&b, TB_EAT_CLAIM_MANIFESTS, list);
	}
	if (c->n_meas) {
		list = cbor_new_definite_array(c->n_meas);
		for (size_t i = 0; list && i < c->n_meas; i++)
			if (tb_cbor_array_push(list, pair(TB_EAT_CT_COSWID,
			                                  tb_cbor_bstr_of(coswid(&c->meas[i])))) !=
			    TB_OK)
				cbor_decref(&list);
		add(&b, TB_EAT_CLAIM_MEASUREMENTS, list);
	}
	cnf = cbor_new_definite_map(1);
	if (cnf && tb_cbor_map_put(cnf, tb_cbor_int(TB_CNF_COSE_KEY),
	                           tb_cose_key_build(c->cnf_x, c->cnf_y, c->cnf_alg)) != TB_OK)
		cbor_decref(&cnf);
	add(&b, TB_EAT_CLAIM_CNF, cnf);
	add(&b, TB_EAT_CLAIM_IAT, tb_cbor_int(c->iat));
	if (c->has_tsm)
		add(&b, TB_EAT_CLAIM_TSM_REPORT, tsm_report(&c->tsm));
	rc = b.rc;
	if (rc == TB_OK)
		rc = tb_cbor_serialize(b.map, out, out_len);
	cbor_decref(&b.map);
	return rc;
}

/* ---- decoding ---- */

static int get_bstr(const cbor_item_t *map, int64_t label, size_t min, size_t max, uint8_t *out,
                    size_t *len)
{
	cbor_item_t *v = tb_cbor_map_get_int(map, label);
	const uint8_t *p;
	size_t n;

	if (!v || tb_cbor_get_bytes(v, &p, &n) != TB_OK || n < min || n > max)
		return TB_ERR_PARSE;
	memcpy(out, p, n);
	*len = n;
	return TB_OK;
}

static int get_text(const cbor_item_t *v, char out[TB_EAT_TEXT_MAX + 1])
{
	const char *p;
	size_t n;

	if (!v || tb_cbor_get_text(v, &p, &n) != TB_OK || n < 1 || n > TB_EAT_TEXT_MAX ||
	    memchr(p, 0, n))
		return TB_ERR_PARSE;
	memcpy(out, p, n);
	out[n] = 0;
	return TB_OK;
}

/* [content-type, bstr] with the content-type we expect; the body parsed. */
static cbor_item_t *entry_body(const cbor_item_t *e, int64_t ct)
{
	const uint8_t *p;
	size_t n;
	int64_t got;

	if (!cbor_isa_array(e) || cbor_array_size(e) != 2 ||
	    tb_cbor_get_int(cbor_array_handle(e)[0], &got) != TB_OK || got != ct ||
	    tb_cbor_get_bytes(cbor_array_handle(e)[1], &p, &n) != TB_OK)
		return NULL;
	return tb_cbor_load(p, n, NULL);
}

static int dec_manifest(const cbor_item_t *e, uint8_t out[32])
{
	cbor_item_t *d = entry_body(e, TB_EAT_CT_CBOR);
	const uint8_t *p;
	size_t n;
	int64_t alg;
	int rc = TB_ERR_PARSE;

	if (d && cbor_isa_array(d) && cbor_array_size(d) == 2 &&
	    tb_cbor_get_int(cbor_array_handle(d)[0], &alg) == TB_OK &&
	    alg == TB_SUIT_DIGEST_SHA256 &&
	    tb_cbor_get_bytes(cbor_array_handle(d)[1], &p, &n) == TB_OK && n == 32) {
		memcpy(out, p, 32);
		rc = TB_OK;
	}
	if (d)
		cbor_decref(&d);
	return rc;
}

static int dec_measurement(const cbor_item_t *e, struct tb_eat_measurement *m)
{
	cbor_item_t *tag = entry_body(e, TB_EAT_CT_COSWID);
	cbor_item_t *ev, *file, *hash;
	const uint8_t *p;
	size_t n;
	int64_t alg;
	int rc = TB_ERR_PARSE;

	if (!tag)
		return rc;
	ev = cbor_isa_map(tag) ? tb_cbor_map_get_int(tag, SWID_EVIDENCE) : NULL;
	file = ev && cbor_isa_map(ev) ? tb_cbor_map_get_int(ev, SWID_FILE) : NULL;
	hash = file && cbor_isa_map(file) ? tb_cbor_map_get_int(file, SWID_HASH) : NULL;
	if (hash && get_text(tb_cbor_map_get_int(file, SWID_FS_NAME), m->name) == TB_OK &&
	    cbor_isa_array(hash) && cbor_array_size(hash) == 2 &&
	    tb_cbor_get_int(cbor_array_handle(hash)[0], &alg) == TB_OK &&
	    alg == TB_EAT_HASH_SHA256 &&
	    tb_cbor_get_bytes(cbor_array_handle(hash)[1], &p, &n) == TB_OK && n == 32) {
		memcpy(m->sha256, p, 32);
		rc = TB_OK;
	}
	cbor_decref(&tag);
	return rc;
}

static int dec_tsm(const cbor_item_t *m, struct tb_tsm_report *r)
{
	cbor_item_t *v;
	const char *t;
	const uint8_t *p;
	size_t n;
	int64_t g;

	if (!cbor_isa_map(m))
		return TB_ERR_PARSE;
	v = tb_cbor_map_get_int(m, TB_EAT_TSM_PROVIDER);
	if (!v || tb_cbor_get_text(v, &t, &n) != TB_OK || n < 1 || n > TB_TSM_PROVIDER_MAX ||
	    memchr(t, 0, n))
		return TB_ERR_PARSE;
	memcpy(r->provider, t, n);
	r->provider[n] = 0;
	v = tb_cbor_map_get_int(m, TB_EAT_TSM_GENERATION);
	if (!v || tb_cbor_get_int(v, &g) != TB_OK || g < 0)
		return TB_ERR_PARSE;
	r->generation = (uint64_t)g;
	v = tb_cbor_map_get_int(m, TB_EAT_TSM_INBLOB);
	if (!v || tb_cbor_get_bytes(v, &p, &n) != TB_OK || n != TB_TSM_INBLOB_LEN)
		return TB_ERR_PARSE;
	memcpy(r->inblob, p, n);
	v = tb_cbor_map_get_int(m, TB_EAT_TSM_OUTBLOB);
	if (!v || tb_cbor_get_bytes(v, &p, &n) != TB_OK || n < 1 || n > TB_TSM_OUTBLOB_MAX)
		return TB_ERR_PARSE;
	memcpy(r->outblob, p, n);
	r->outblob_len = n;
	return TB_OK;
}

static int dec_claims(const cbor_item_t *map, struct tb_eat_claims *c, char *err, size_t errlen)
{
	cbor_item_t *v;
	size_t n;

	if (!cbor_isa_map(map))
		return tb_err(err, errlen, TB_ERR_PARSE, "claims set: expected a map");
	if (get_bstr(map, TB_EAT_CLAIM_NONCE, TB_EAT_NONCE_MIN, TB_EAT_NONCE_MAX, c->nonce,
	             &c->nonce_len) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "eat_nonce: missing or not bstr 8..64");
	if (get_bstr(map, TB_EAT_CLAIM_UEID, 7, TB_EAT_UEID_MAX, c->ueid, &c->ueid_len) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "ueid: missing or not bstr 7..33");
	v = tb_cbor_map_get_int(map, TB_EAT_CLAIM_OEMID);
	if (v && tb_cbor_get_int(v, &c->oemid_pen) == TB_OK)
		c->has_oemid_pen = 1;
	else if (get_bstr(map, TB_EAT_CLAIM_OEMID, 3, 16, c->oemid, &c->oemid_len) != TB_OK ||
	         (c->oemid_len != 3 && c->oemid_len != 16))
		return tb_err(err, errlen, TB_ERR_PARSE, "oemid: missing or malformed");
	if (get_bstr(map, TB_EAT_CLAIM_HWMODEL, 1, TB_EAT_HWMODEL_MAX, c->hwmodel,
	             &c->hwmodel_len) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "hwmodel: missing or not bstr 1..32");
	v = tb_cbor_map_get_int(map, TB_EAT_CLAIM_HWVERSION);
	if (!v || !cbor_isa_array(v) || cbor_array_size(v) < 1 || cbor_array_size(v) > 2 ||
	    get_text(cbor_array_handle(v)[0], c->hwversion) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "hwversion: missing or malformed");
	v = tb_cbor_map_get_int(map, TB_EAT_CLAIM_MANIFESTS);
	if (v) {
		if (!cbor_isa_array(v) || (n = cbor_array_size(v)) == 0 || n > TB_EAT_MAX_MANIFESTS)
			return tb_err(err, errlen, TB_ERR_PARSE, "manifests: not an array of 1..%d",
			              TB_EAT_MAX_MANIFESTS);
		for (size_t i = 0; i < n; i++)
			if (dec_manifest(cbor_array_handle(v)[i], c->manifests[i]) != TB_OK)
				return tb_err(err, errlen, TB_ERR_PARSE,
				              "manifests[%zu]: malformed", i);
		c->n_manifests = n;
	}
	v = tb_cbor_map_get_int(map, TB_EAT_CLAIM_MEASUREMENTS);
	if (v) {
		if (!cbor_isa_array(v) || (n = cbor_array_size(v)) == 0 || n > TB_EAT_MAX_MEAS)
			return tb_err(err, errlen, TB_ERR_PARSE,
			              "measurements: not an array of 1..%d", TB_EAT_MAX_MEAS);
		for (size_t i = 0; i < n; i++)
			if (dec_measurement(cbor_array_handle(v)[i], &c->meas[i]) != TB_OK)
				return tb_err(err, errlen, TB_ERR_PARSE,
				              "measurements[%zu]: malformed", i);
		c->n_meas = n;
	}
	v = tb_cbor_map_get_int(map, TB_EAT_CLAIM_CNF);
	if (!v || !cbor_isa_map(v) ||
	    tb_cose_key_parse(tb_cbor_map_get_int(v, TB_CNF_COSE_KEY), c->cnf_x, c->cnf_y,
	                      &c->cnf_alg) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "cnf: missing or not a P-256 COSE_Key");
	c->has_cnf = 1;
	v = tb_cbor_map_get_int(map, TB_EAT_CLAIM_IAT);
	if (v && tb_cbor_get_int(v, &c->iat) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "iat: not an integer");
	v = tb_cbor_map_get_int(map, TB_EAT_CLAIM_TSM_REPORT);
	if (v) {
		if (dec_tsm(v, &c->tsm) != TB_OK)
			return tb_err(err, errlen, TB_ERR_PARSE, "tsm-report: malformed");
		c->has_tsm = 1;
	}
	return TB_OK;
}

int tb_eat_decode(const uint8_t *buf, size_t len, struct tb_eat_claims *c, char *err, size_t errlen)
{
	const char *why = NULL;
	cbor_item_t *top;
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (!buf || !c)
		return TB_ERR_INVAL;
	memset(c, 0, sizeof(*c));
	if (len > TB_EAT_MAX_TOKEN)
		return tb_err(err, errlen, TB_ERR_TOOBIG, "claims set: larger than %u bytes",
		              TB_EAT_MAX_TOKEN);
	top = tb_cbor_load(buf, len, &why);
	if (!top)
		return tb_err(err, errlen, TB_ERR_PARSE, "claims set: not CBOR (%s)",
		              why ? why : "?");
	rc = dec_claims(top, c, err, errlen);
	cbor_decref(&top);
	if (rc != TB_OK)
		memset(c, 0, sizeof(*c));
	return rc;
}

int tb_eat_sign(const struct tb_key *key, int alg, const struct tb_eat_claims *c, uint8_t **out,
                size_t *out_len)
{
	uint8_t kid[32], *payload = NULL;
	size_t plen = 0;
	int rc = tb_cose_key_thumbprint(key, kid);

	if (rc == TB_OK)
		rc = tb_eat_encode(c, &payload, &plen);
	if (rc == TB_OK)
		rc = tb_cose_sign1(key, alg, payload, plen, 0, kid, sizeof(kid), out, out_len);
	free(payload);
	return rc;
}

int tb_eat_verify(const uint8_t *token, size_t len, struct tb_key *const *keys, size_t n,
                  struct tb_eat_claims *c, size_t *which, char *err, size_t errlen)
{
	uint8_t *payload = NULL;
	size_t plen = 0;
	int rc = TB_ERR_SIG;

	if (err && errlen)
		err[0] = 0;
	if (!token || !c || (!keys && n))
		return TB_ERR_INVAL;
	memset(c, 0, sizeof(*c));
	if (len > TB_EAT_MAX_TOKEN)
		return tb_err(err, errlen, TB_ERR_TOOBIG, "token: larger than %u bytes",
		              TB_EAT_MAX_TOKEN);
	for (size_t i = 0; i < n; i++) {
		rc = tb_cose_sign1_verify(token, len, keys[i], NULL, 0, &payload, &plen);
		if (rc == TB_OK) {
			if (which)
				*which = i;
			break;
		}
		if (rc != TB_ERR_SIG)
			break; /* not a COSE_Sign1 we can check: no key will do */
	}
	if (rc == TB_ERR_SIG)
		return tb_err(err, errlen, rc, "token: no trusted attestation key verifies it");
	if (rc != TB_OK)
		return tb_err(err, errlen, rc == TB_ERR_NOMEM ? rc : TB_ERR_PARSE,
		              "token: not a COSE_Sign1 (%d)", rc);
	rc = tb_eat_decode(payload, plen, c, err, errlen);
	free(payload);
	return rc;
}

int tb_eat_format_ok(const char *format)
{
	size_t n = strlen(TB_EAT_MEDIA_TYPE);

	if (!format)
		return 1;
	if (strncasecmp(format, TB_EAT_MEDIA_TYPE, n) != 0)
		return 0;
	return format[n] == 0 || format[n] == ';' || format[n] == ' ' || format[n] == '\t';
}

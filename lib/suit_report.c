/*
 * SUIT Reports (draft-ietf-suit-report): encoding and bounded decoding of
 * the form lib/tb_suit_report.h describes.
 */
#include "tb_suit_report.h"
#include "tb_cbor.h"

#include <teep-broker/driver.h>

#include <string.h>

#define R_REFERENCE     99
#define R_NONCE         2
#define R_RECORDS       3
#define R_RESULT        4
#define R_RESULT_CODE   5
#define R_RESULT_REC    6
#define R_RESULT_WHY    7
#define P_IMAGE_DIGEST  3
#define P_IMAGE_SIZE    14
#define P_URI           21
#define SHA256_ALG      (-16)
#define SECTION_INSTALL 20
#define RECORDS_MAX     8

int64_t tb_suit_report_reason(int status)
{
	switch (status) {
	case TB_ERR_UNSUP:
		return TB_SUIT_REASON_COMMAND_UNSUPPORTED;
	case TB_ERR_PARSE:
		return TB_SUIT_REASON_CBOR_PARSE;
	case TB_ERR_SIG:
		return TB_SUIT_REASON_UNAUTHORISED;
	case TB_ERR_INVAL:
		return TB_SUIT_REASON_CONDITION_FAILED;
	default:
		return TB_SUIT_REASON_OPERATION_FAILED;
	}
}

void tb_suit_report_of_failure(const struct tb_suit_failure *f, struct tb_suit_report *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->manifest_digest, f->manifest_digest, 32);
	r->result_code = f->command;
	r->reason = tb_suit_report_reason(f->status);
	r->section = f->section;
	r->offset = f->command_index;
	r->component_index = f->component_index;
	memcpy(r->uri, f->uri, sizeof(r->uri));
}

/* ---- encoding: each builder consumes what it is given ---- */

static int put(cbor_item_t *map, int64_t k, cbor_item_t *v)
{
	return tb_cbor_map_put(map, tb_cbor_int(k), v);
}

static cbor_item_t *digest(const uint8_t d[32])
{
	cbor_item_t *a = cbor_new_definite_array(2);

	if (a && (tb_cbor_array_push(a, tb_cbor_int(SHA256_ALG)) != TB_OK ||
	          tb_cbor_array_push(a, tb_cbor_bytes(d, 32)) != TB_OK))
		cbor_decref(&a);
	return a;
}

/* [[], section, offset, component-index, params] */
static cbor_item_t *record(int64_t section, uint64_t offset, uint64_t comp, cbor_item_t *params)
{
	cbor_item_t *a = params ? cbor_new_definite_array(5) : NULL;
	int rc = a ? TB_OK : TB_ERR_NOMEM;

	if (rc == TB_OK)
		rc = tb_cbor_array_push(a, cbor_new_definite_array(0));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(a, tb_cbor_int(section));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(a, cbor_build_uint64(offset));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(a, cbor_build_uint64(comp));
	if (rc == TB_OK) {
		rc = tb_cbor_array_push(a, params);
		params = NULL;
	}
	if (params)
		cbor_decref(&params);
	if (rc != TB_OK && a)
		cbor_decref(&a);
	return rc == TB_OK ? a : NULL;
}

int tb_suit_report_encode(const struct tb_suit_report *r, uint8_t **out, size_t *out_len)
{
	cbor_item_t *m, *ref, *recs, *params, *res;
	size_t ulen;
	int rc;

	if (!r || !out || !out_len || r->nonce_len > TB_SUIT_REPORT_NONCE_MAX)
		return TB_ERR_INVAL;
	ulen = strnlen(r->uri, sizeof(r->uri));
	m = cbor_new_definite_map(r->nonce_len ? 4 : 3);
	ref = cbor_new_definite_array(2);
	recs = cbor_new_definite_array(r->ok && r->has_image ? 1 : 0);
	rc = m && ref && recs ? TB_OK : TB_ERR_NOMEM;
	if (rc == TB_OK)
		rc = tb_cbor_array_push(ref, tb_cbor_text("", 0));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(ref, digest(r->manifest_digest));
	if (rc == TB_OK) {
		rc = put(m, R_REFERENCE, ref);
		ref = NULL;
	}
	if (rc == TB_OK && r->nonce_len)
		rc = put(m, R_NONCE, tb_cbor_bytes(r->nonce, r->nonce_len));
	if (rc == TB_OK && r->ok && r->has_image) {
		params = cbor_new_definite_map(2);
		if (params &&
		    (put(params, P_IMAGE_DIGEST, tb_cbor_bstr_of(digest(r->image_digest))) !=
		         TB_OK ||
		     put(params, P_IMAGE_SIZE, cbor_build_uint64(r->image_size)) != TB_OK))
			cbor_decref(&params);
		rc = tb_cbor_array_push(recs, record(SECTION_INSTALL, 0, 0, params));
	}
	if (rc == TB_OK) {
		rc = put(m, R_RECORDS, recs);
		recs = NULL;
	}
	if (rc == TB_OK && r->ok) {
		rc = put(m, R_RESULT, cbor_build_bool(true));
	} else if (rc == TB_OK) {
		res = cbor_new_definite_map(3);
		params = cbor_new_definite_map(ulen ? 1 : 0);
		if (params && ulen && put(params, P_URI, tb_cbor_text(r->uri, ulen)) != TB_OK)
			cbor_decref(&params);
		rc = res ? TB_OK : TB_ERR_NOMEM;
		if (rc == TB_OK)
			rc = put(res, R_RESULT_CODE, tb_cbor_int(r->result_code));
		if (rc == TB_OK) {
			rc = put(res, R_RESULT_REC,
			         record(r->section, r->offset, r->component_index, params));
			params = NULL;
		}
		if (rc == TB_OK)
			rc = put(res, R_RESULT_WHY, tb_cbor_int(r->reason));
		if (params)
			cbor_decref(&params);
		if (rc == TB_OK)
			rc = put(m, R_RESULT, res);
		else if (res)
			cbor_decref(&res);
	}
	if (rc == TB_OK)
		rc = tb_cbor_serialize(m, out, out_len);
	if (ref)
		cbor_decref(&ref);
	if (recs)
		cbor_decref(&recs);
	if (m)
		cbor_decref(&m);
	return rc;
}

/* ---- decoding ---- */

static int get_digest(const cbor_item_t *v, uint8_t out[32])
{
	const uint8_t *p;
	size_t n;
	int64_t alg;

	if (!v || !cbor_isa_array(v) || cbor_array_size(v) != 2 ||
	    tb_cbor_get_int(cbor_array_handle(v)[0], &alg) != TB_OK || alg != SHA256_ALG ||
	    tb_cbor_get_bytes(cbor_array_handle(v)[1], &p, &n) != TB_OK || n != 32)
		return TB_ERR_PARSE;
	memcpy(out, p, 32);
	return TB_OK;
}

static int get_uint(const cbor_item_t *v, uint64_t *out)
{
	return v ? tb_cbor_get_uint(v, out) : TB_ERR_PARSE;
}

/* A record: its section, offset, component and the parameters we know. */
static int dec_record(const cbor_item_t *rec, struct tb_suit_report *r, int result)
{
	cbor_item_t **e, *v;
	const uint8_t *p;
	const char *t;
	size_t n;

	if (!cbor_isa_array(rec) || cbor_array_size(rec) != 5)
		return TB_ERR_PARSE;
	e = cbor_array_handle(rec);
	if (!cbor_isa_array(e[0]) || !cbor_isa_map(e[4]))
		return TB_ERR_PARSE;
	if (result &&
	    (tb_cbor_get_int(e[1], &r->section) != TB_OK || get_uint(e[2], &r->offset) != TB_OK ||
	     get_uint(e[3], &r->component_index) != TB_OK))
		return TB_ERR_PARSE;
	if (result && (v = tb_cbor_map_get_int(e[4], P_URI)) &&
	    tb_cbor_get_text(v, &t, &n) == TB_OK && n <= TB_SUIT_FAIL_URI_MAX && !memchr(t, 0, n)) {
		memcpy(r->uri, t, n);
		r->uri[n] = 0;
	}
	if (!result && (v = tb_cbor_map_get_int(e[4], P_IMAGE_DIGEST)) &&
	    tb_cbor_get_bytes(v, &p, &n) == TB_OK) {
		cbor_item_t *d = tb_cbor_load(p, n, NULL);
		if (d && get_digest(d, r->image_digest) == TB_OK &&
		    get_uint(tb_cbor_map_get_int(e[4], P_IMAGE_SIZE), &r->image_size) == TB_OK)
			r->has_image = 1;
		if (d)
			cbor_decref(&d);
	}
	return TB_OK;
}

static int dec_report(const cbor_item_t *m, struct tb_suit_report *r)
{
	cbor_item_t *v, *recs, *res;
	const uint8_t *p;
	size_t n;
	int64_t i;

	if (!cbor_isa_map(m))
		return TB_ERR_PARSE;
	v = tb_cbor_map_get_int(m, R_REFERENCE);
	if (!v || !cbor_isa_array(v) || cbor_array_size(v) != 2 ||
	    !cbor_isa_string(cbor_array_handle(v)[0]) ||
	    get_digest(cbor_array_handle(v)[1], r->manifest_digest) != TB_OK)
		return TB_ERR_PARSE;
	if ((v = tb_cbor_map_get_int(m, R_NONCE))) {
		if (tb_cbor_get_bytes(v, &p, &n) != TB_OK || n > TB_SUIT_REPORT_NONCE_MAX)
			return TB_ERR_PARSE;
		memcpy(r->nonce, p, n);
		r->nonce_len = n;
	}
	recs = tb_cbor_map_get_int(m, R_RECORDS);
	res = tb_cbor_map_get_int(m, R_RESULT);
	if (!recs || !cbor_isa_array(recs) || !res)
		return TB_ERR_PARSE;
	if (cbor_isa_float_ctrl(res) && cbor_is_bool(res)) {
		r->ok = cbor_get_bool(res);
		if (!r->ok)
			return TB_ERR_PARSE;
		for (size_t k = 0; k < cbor_array_size(recs) && k < RECORDS_MAX && !r->has_image;
		     k++)
			if (dec_record(cbor_array_handle(recs)[k], r, 0) != TB_OK)
				return TB_ERR_PARSE;
		return TB_OK;
	}
	if (!cbor_isa_map(res) || tb_cbor_get_int(tb_cbor_map_get_int(res, R_RESULT_CODE), &i) ||
	    !tb_cbor_map_get_int(res, R_RESULT_REC))
		return TB_ERR_PARSE;
	r->result_code = i;
	if (tb_cbor_get_int(tb_cbor_map_get_int(res, R_RESULT_WHY), &r->reason) != TB_OK)
		return TB_ERR_PARSE;
	return dec_record(tb_cbor_map_get_int(res, R_RESULT_REC), r, 1);
}

int tb_suit_report_decode(const uint8_t *buf, size_t len, struct tb_suit_report *r)
{
	cbor_item_t *m;
	int rc;

	if (!buf || !r)
		return TB_ERR_INVAL;
	memset(r, 0, sizeof(*r));
	if (len > TB_SUIT_REPORT_MAX)
		return TB_ERR_TOOBIG;
	if (tb_cbor_check(buf, len, TB_CBOR_MAX_DEPTH, NULL) != TB_OK)
		return TB_ERR_PARSE;
	m = tb_cbor_load(buf, len, NULL);
	if (!m)
		return TB_ERR_PARSE;
	rc = dec_report(m, r);
	cbor_decref(&m);
	return rc;
}

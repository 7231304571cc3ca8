/*
 * COSE_Key for P-256 public keys and their RFC 9679 thumbprints.
 */
#include "tb_cose_key.h"
#include "tb_cbor.h"

#include <teep-broker/driver.h>

#include <mbedtls/sha256.h>
#include <string.h>

int tb_cose_key_thumbprint_xy(const uint8_t x[32], const uint8_t y[32], uint8_t out[32])
{
	/* Deterministic encoding (RFC 8949 section 4.2.1): the keys 1, -1,
	 * -2, -3 encode as 01, 20, 21, 22, which is their order. */
	uint8_t buf[8 + 32 + 3 + 32];
	size_t n = 0;

	if (!x || !y || !out)
		return TB_ERR_INVAL;
	buf[n++] = 0xa4;             /* map(4) */
	buf[n++] = 0x01;             /* kty */
	buf[n++] = TB_COSE_KTY_EC2;  /* EC2 */
	buf[n++] = 0x20;             /* crv (-1) */
	buf[n++] = TB_COSE_CRV_P256; /* P-256 */
	buf[n++] = 0x21;             /* x (-2) */
	buf[n++] = 0x58;             /* bstr, one-byte length */
	buf[n++] = 32;
	memcpy(buf + n, x, 32);
	n += 32;
	buf[n++] = 0x22; /* y (-3) */
	buf[n++] = 0x58;
	buf[n++] = 32;
	memcpy(buf + n, y, 32);
	n += 32;
	if (mbedtls_sha256_ret(buf, n, out, 0) != 0)
		return TB_ERR_INVAL;
	return TB_OK;
}

int tb_cose_key_thumbprint(const struct tb_key *key, uint8_t out[32])
{
	uint8_t x[32], y[32];
	int rc = tb_key_public_xy(key, x, y);

	return rc == TB_OK ? tb_cose_key_thumbprint_xy(x, y, out) : rc;
}

cbor_item_t *tb_cose_key_build(const uint8_t x[32], const uint8_t y[32], int alg)
{
	cbor_item_t *m = cbor_new_definite_map(alg ? 5 : 4);
	int rc = m ? TB_OK : TB_ERR_NOMEM;

	if (rc == TB_OK)
		rc = tb_cbor_map_put(m, tb_cbor_int(TB_COSE_KEY_KTY), tb_cbor_int(TB_COSE_KTY_EC2));
	if (rc == TB_OK && alg)
		rc = tb_cbor_map_put(m, tb_cbor_int(TB_COSE_KEY_ALG), tb_cbor_int(alg));
	if (rc == TB_OK)
		rc =
		    tb_cbor_map_put(m, tb_cbor_int(TB_COSE_KEY_CRV), tb_cbor_int(TB_COSE_CRV_P256));
	if (rc == TB_OK)
		rc = tb_cbor_map_put(m, tb_cbor_int(TB_COSE_KEY_X), tb_cbor_bytes(x, 32));
	if (rc == TB_OK)
		rc = tb_cbor_map_put(m, tb_cbor_int(TB_COSE_KEY_Y), tb_cbor_bytes(y, 32));
	if (rc != TB_OK && m)
		cbor_decref(&m);
	return m;
}

static int get_bytes32(const cbor_item_t *map, int64_t label, uint8_t out[32])
{
	cbor_item_t *v = tb_cbor_map_get_int(map, label);
	const uint8_t *p;
	size_t n;

	if (!v || tb_cbor_get_bytes(v, &p, &n) != TB_OK || n != 32)
		return TB_ERR_PARSE;
	memcpy(out, p, 32);
	return TB_OK;
}

int tb_cose_key_parse(const cbor_item_t *map, uint8_t x[32], uint8_t y[32], int *alg)
{
	cbor_item_t *v;
	int64_t kty, crv, a = 0;

	if (!map || !cbor_isa_map(map))
		return TB_ERR_PARSE;
	v = tb_cbor_map_get_int(map, TB_COSE_KEY_KTY);
	if (!v || tb_cbor_get_int(v, &kty) != TB_OK || kty != TB_COSE_KTY_EC2)
		return TB_ERR_PARSE;
	v = tb_cbor_map_get_int(map, TB_COSE_KEY_CRV);
	if (!v || tb_cbor_get_int(v, &crv) != TB_OK || crv != TB_COSE_CRV_P256)
		return TB_ERR_PARSE;
	v = tb_cbor_map_get_int(map, TB_COSE_KEY_ALG);
	if (v && (tb_cbor_get_int(v, &a) != TB_OK || a < -65536 || a > 65535))
		return TB_ERR_PARSE;
	if (get_bytes32(map, TB_COSE_KEY_X, x) != TB_OK ||
	    get_bytes32(map, TB_COSE_KEY_Y, y) != TB_OK)
		return TB_ERR_PARSE;
	if (alg)
		*alg = (int)a;
	return TB_OK;
}

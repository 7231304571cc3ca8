/*
 * COSE_Encrypt with a detached ciphertext: ECDH-ES + A128KW recipients,
 * A128CTR or A128GCM content. See tb_cose_encrypt.h.
 */
#include "tb_cose_encrypt.h"
#include "tb_cbor.h"
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <mbedtls/aes.h>
#include <mbedtls/gcm.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_ALG       1
#define HDR_IV        5
#define HDR_EPHEMERAL (-1)
#define KEY_KTY       1
#define KEY_CRV       (-1)
#define KEY_X         (-2)
#define KEY_Y         (-3)
#define KTY_EC2       2
#define CRV_P256      1
#define P256_BYTES    32
#define CEK_BYTES     16
#define WRAPPED_CEK   (CEK_BYTES + 8)
#define CTR_IV_BYTES  16
#define GCM_IV_BYTES  12
#define GCM_TAG       16
#define PROT_MAX      64 /* a recipient's protected header we put in a KDF context */
#define OTHER_MAX     64 /* SuppPubInfo.other */
#define CTX_MAX       (32 + PROT_MAX + OTHER_MAX)

static const uint8_t KW_IV[8] = {0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6};
/* {1: -29}: the only recipient protected header we write */
static const uint8_t RECIPIENT_PROT[] = {0xA1, 0x01, 0x38, 0x1C};
/* {1: 1}: A128GCM in the protected header, as the GCM examples do */
static const uint8_t GCM_PROT[] = {0xA1, 0x01, 0x01};

/* ---- AES key wrap (RFC 3394), over mbedtls' AES block function ---- */

static int kw_check(const uint8_t *kek, const uint8_t *in, size_t n, const uint8_t *out)
{
	return kek && in && out && n >= 16 && n <= 64 && n % 8 == 0 ? TB_OK : TB_ERR_INVAL;
}

int tb_aes_kw_wrap(const uint8_t kek[16], const uint8_t *in, size_t n, uint8_t *out)
{
	mbedtls_aes_context aes;
	uint8_t a[8], b[16];
	size_t blocks = n / 8;
	int rc = kw_check(kek, in, n, out);

	if (rc != TB_OK)
		return rc;
	mbedtls_aes_init(&aes);
	if (mbedtls_aes_setkey_enc(&aes, kek, 128) != 0)
		rc = TB_ERR_INVAL;
	memcpy(a, KW_IV, 8);
	memmove(out + 8, in, n);
	for (unsigned j = 0; rc == TB_OK && j < 6; j++) {
		for (size_t i = 1; rc == TB_OK && i <= blocks; i++) {
			uint64_t t = (uint64_t)blocks * j + i;

			memcpy(b, a, 8);
			memcpy(b + 8, out + 8 * i, 8);
			if (mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_ENCRYPT, b, b) != 0)
				rc = TB_ERR_INVAL;
			for (int k = 0; k < 8; k++)
				a[k] = b[k] ^ (uint8_t)(t >> (56 - 8 * k));
			memcpy(out + 8 * i, b + 8, 8);
		}
	}
	memcpy(out, a, 8);
	mbedtls_platform_zeroize(b, sizeof(b));
	mbedtls_aes_free(&aes);
	return rc;
}

int tb_aes_kw_unwrap(const uint8_t kek[16], const uint8_t *in, size_t n, uint8_t *out)
{
	mbedtls_aes_context aes;
	uint8_t a[8], b[16], r[64];
	size_t blocks = (n - 8) / 8;
	int rc = kw_check(kek, in, n > 8 ? n - 8 : 0, out);
	unsigned diff = 0;

	if (rc != TB_OK || n < 24)
		return TB_ERR_INVAL;
	mbedtls_aes_init(&aes);
	if (mbedtls_aes_setkey_dec(&aes, kek, 128) != 0)
		rc = TB_ERR_INVAL;
	memcpy(a, in, 8);
	memcpy(r, in + 8, n - 8);
	for (int j = 5; rc == TB_OK && j >= 0; j--) {
		for (size_t i = blocks; rc == TB_OK && i >= 1; i--) {
			uint64_t t = (uint64_t)blocks * (unsigned)j + i;

			for (int k = 0; k < 8; k++)
				b[k] = a[k] ^ (uint8_t)(t >> (56 - 8 * k));
			memcpy(b + 8, r + 8 * (i - 1), 8);
			if (mbedtls_aes_crypt_ecb(&aes, MBEDTLS_AES_DECRYPT, b, b) != 0)
				rc = TB_ERR_INVAL;
			memcpy(a, b, 8);
			memcpy(r + 8 * (i - 1), b + 8, 8);
		}
	}
	for (int k = 0; k < 8; k++)
		diff |= (unsigned)(a[k] ^ KW_IV[k]);
	if (rc == TB_OK && diff != 0)
		rc = TB_ERR_SIG;
	if (rc == TB_OK)
		memcpy(out, r, n - 8);
	mbedtls_platform_zeroize(r, sizeof(r));
	mbedtls_platform_zeroize(b, sizeof(b));
	mbedtls_aes_free(&aes);
	return rc;
}

/* ---- KDF ---- */

static size_t put_bstr(uint8_t *p, uint8_t major, const uint8_t *s, size_t n)
{
	size_t h;

	if (n < 24) {
		p[0] = (uint8_t)(major | n);
		h = 1;
	} else {
		p[0] = (uint8_t)(major | 24);
		p[1] = (uint8_t)n;
		h = 2;
	}
	memcpy(p + h, s, n);
	return h + n;
}

/*
 * COSE_KDF_Context = [AlgorithmID -3 (A128KW), PartyUInfo [nil, nil, nil],
 * PartyVInfo [nil, nil, nil], SuppPubInfo [128, protected, ? other]],
 * then KEK = HKDF-SHA-256(salt none, IKM Z, info context, 16 bytes).
 */
static int derive_kek(const uint8_t z[P256_BYTES], const uint8_t *prot, size_t prot_len,
                      const char *other, uint8_t kek[CEK_BYTES])
{
	static const uint8_t head[] = {0x84, 0x22, 0x83, 0xF6, 0xF6, 0xF6, 0x83, 0xF6, 0xF6, 0xF6};
	uint8_t ctx[CTX_MAX];
	size_t n = 0, other_len = other ? strlen(other) : 0;

	if (prot_len > PROT_MAX || other_len > OTHER_MAX)
		return TB_ERR_TOOBIG;
	memcpy(ctx, head, sizeof(head));
	n = sizeof(head);
	ctx[n++] = other ? 0x83 : 0x82;
	ctx[n++] = 0x18; /* keyDataLength 128 */
	ctx[n++] = 0x80;
	n += put_bstr(ctx + n, 0x40, prot, prot_len);
	if (other)
		n += put_bstr(ctx + n, 0x40, (const uint8_t *)other, other_len);
	if (mbedtls_hkdf(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), NULL, 0, z, P256_BYTES, ctx,
	                 n, kek, CEK_BYTES) != 0)
		return TB_ERR_INVAL;
	return TB_OK;
}

/* ---- decryption ---- */

/* A header's integer value from the decoded protected map or the
 * unprotected map; 0 when absent from both. */
static int header_int(const cbor_item_t *prot, const cbor_item_t *unprot, int64_t label,
                      int64_t *out)
{
	cbor_item_t *v = prot ? tb_cbor_map_get_int(prot, label) : NULL;

	if (!v)
		v = tb_cbor_map_get_int(unprot, label);
	if (!v)
		return 0;
	return tb_cbor_get_int(v, out) == TB_OK ? 1 : -1;
}

/* A protected header: h'' or a serialized map. *map is NULL for h''. */
static int load_protected(const cbor_item_t *item, const uint8_t **p, size_t *n, cbor_item_t **map)
{
	*map = NULL;
	if (tb_cbor_get_bytes(item, p, n) != TB_OK)
		return TB_ERR_PARSE;
	if (*n == 0)
		return TB_OK;
	*map = tb_cbor_load(*p, *n, NULL);
	if (!*map || !cbor_isa_map(*map)) {
		if (*map)
			cbor_decref(map);
		return TB_ERR_PARSE;
	}
	return TB_OK;
}

static int read_ephemeral(const cbor_item_t *unprot, uint8_t x[P256_BYTES], uint8_t y[P256_BYTES])
{
	cbor_item_t *k = tb_cbor_map_get_int(unprot, HDR_EPHEMERAL), *v;
	const uint8_t *p;
	size_t n;
	int64_t i;

	if (!k || !cbor_isa_map(k))
		return TB_ERR_PARSE;
	v = tb_cbor_map_get_int(k, KEY_KTY);
	if (!v || tb_cbor_get_int(v, &i) != TB_OK || i != KTY_EC2)
		return TB_ERR_UNSUP;
	v = tb_cbor_map_get_int(k, KEY_CRV);
	if (!v || tb_cbor_get_int(v, &i) != TB_OK || i != CRV_P256)
		return TB_ERR_UNSUP;
	v = tb_cbor_map_get_int(k, KEY_X);
	if (!v || tb_cbor_get_bytes(v, &p, &n) != TB_OK || n != P256_BYTES)
		return TB_ERR_PARSE;
	memcpy(x, p, P256_BYTES);
	v = tb_cbor_map_get_int(k, KEY_Y);
	/* A boolean y is a compressed point: not supported. */
	if (!v || tb_cbor_get_bytes(v, &p, &n) != TB_OK || n != P256_BYTES)
		return v && cbor_isa_float_ctrl(v) ? TB_ERR_UNSUP : TB_ERR_PARSE;
	memcpy(y, p, P256_BYTES);
	return TB_OK;
}

static int recipient_unwrap(const cbor_item_t *r, const struct tb_key *key, const char *other,
                            uint8_t cek[CEK_BYTES], char *err, size_t errlen)
{
	uint8_t x[P256_BYTES], y[P256_BYTES], z[P256_BYTES], kek[CEK_BYTES];
	const uint8_t *prot, *wrapped;
	size_t prot_len, wrapped_len;
	cbor_item_t *pmap = NULL, *unprot;
	int64_t alg = 0;
	int rc;

	if (!cbor_isa_array(r) || cbor_array_size(r) < 3)
		return tb_err(err, errlen, TB_ERR_PARSE,
		              "recipient: expected [protected, "
		              "unprotected, ciphertext]");
	if (cbor_array_size(r) > 3)
		return tb_err(err, errlen, TB_ERR_UNSUP, "recipient: nested recipients");
	if (load_protected(cbor_array_handle(r)[0], &prot, &prot_len, &pmap) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "recipient: bad protected header");
	unprot = cbor_array_handle(r)[1];
	rc = cbor_isa_map(unprot)
	         ? TB_OK
	         : tb_err(err, errlen, TB_ERR_PARSE, "recipient: unprotected header is not a map");
	if (rc == TB_OK && header_int(pmap, unprot, HDR_ALG, &alg) != 1)
		rc = tb_err(err, errlen, TB_ERR_PARSE, "recipient: no algorithm");
	else if (rc == TB_OK && alg != TB_COSE_ALG_ECDH_ES_A128KW)
		rc = tb_err(err, errlen, TB_ERR_UNSUP,
		            "recipient algorithm %lld is not supported (only ECDH-ES+A128KW, -29)",
		            (long long)alg);
	if (rc == TB_OK && (rc = read_ephemeral(unprot, x, y)) != TB_OK)
		tb_err(err, errlen, rc, "recipient: %s ephemeral key",
		       rc == TB_ERR_UNSUP ? "unsupported (only EC2 P-256, uncompressed)"
		                          : "missing or malformed");
	if (rc == TB_OK &&
	    (tb_cbor_get_bytes(cbor_array_handle(r)[2], &wrapped, &wrapped_len) != TB_OK ||
	     wrapped_len != WRAPPED_CEK))
		rc = tb_err(err, errlen, TB_ERR_PARSE, "recipient: wrapped key is not %d bytes",
		            WRAPPED_CEK);
	if (rc == TB_OK && tb_key_ecdh(key, x, y, z) != TB_OK)
		rc = tb_err(err, errlen, TB_ERR_INVAL, "recipient: ephemeral key not on P-256");
	if (rc == TB_OK && (rc = derive_kek(z, prot, prot_len, other, kek)) != TB_OK)
		tb_err(err, errlen, rc, "recipient: protected header over %d bytes", PROT_MAX);
	if (rc == TB_OK && tb_aes_kw_unwrap(kek, wrapped, wrapped_len, cek) != TB_OK)
		rc = tb_err(err, errlen, TB_ERR_SIG,
		            "recipient: key unwrap failed (not for this key)");
	mbedtls_platform_zeroize(z, sizeof(z));
	mbedtls_platform_zeroize(kek, sizeof(kek));
	if (pmap)
		cbor_decref(&pmap);
	return rc;
}

/* Enc_structure ["Encrypt", protected, external_aad h''] for GCM's AAD. */
static size_t enc_structure(const uint8_t *prot, size_t prot_len, uint8_t *out)
{
	static const uint8_t head[] = {0x83, 0x67, 'E', 'n', 'c', 'r', 'y', 'p', 't'};
	size_t n = sizeof(head);

	memcpy(out, head, n);
	n += put_bstr(out + n, 0x40, prot, prot_len);
	out[n++] = 0x40;
	return n;
}

static int content_crypt(int64_t alg, int encrypt, const uint8_t cek[CEK_BYTES], const uint8_t *iv,
                         size_t iv_len, const uint8_t *prot, size_t prot_len, const uint8_t *in,
                         size_t in_len, uint8_t *out)
{
	int ret;

	if (alg == TB_COSE_ALG_A128CTR) {
		mbedtls_aes_context aes;
		uint8_t nonce[16], stream[16];
		size_t off = 0;

		if (iv_len != CTR_IV_BYTES)
			return TB_ERR_PARSE;
		memcpy(nonce, iv, sizeof(nonce));
		mbedtls_aes_init(&aes);
		ret = mbedtls_aes_setkey_enc(&aes, cek, 128);
		if (ret == 0 && in_len)
			ret = mbedtls_aes_crypt_ctr(&aes, in_len, &off, nonce, stream, in, out);
		mbedtls_aes_free(&aes);
		mbedtls_platform_zeroize(stream, sizeof(stream));
		return ret == 0 ? TB_OK : TB_ERR_INVAL;
	} else {
		mbedtls_gcm_context gcm;
		uint8_t aad[16 + PROT_MAX];
		size_t aad_len, body;

		if (iv_len != GCM_IV_BYTES || prot_len > PROT_MAX)
			return TB_ERR_PARSE;
		aad_len = enc_structure(prot, prot_len, aad);
		mbedtls_gcm_init(&gcm);
		ret = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, cek, 128);
		if (ret == 0 && encrypt) {
			ret =
			    mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, in_len, iv, iv_len,
			                              aad, aad_len, in, out, GCM_TAG, out + in_len);
		} else if (ret == 0) {
			if (in_len < GCM_TAG) {
				mbedtls_gcm_free(&gcm);
				return TB_ERR_PARSE;
			}
			body = in_len - GCM_TAG;
			ret = mbedtls_gcm_auth_decrypt(&gcm, body, iv, iv_len, aad, aad_len,
			                               in + body, GCM_TAG, in, out);
			if (ret == MBEDTLS_ERR_GCM_AUTH_FAILED) {
				mbedtls_gcm_free(&gcm);
				return TB_ERR_SIG;
			}
		}
		mbedtls_gcm_free(&gcm);
		return ret == 0 ? TB_OK : TB_ERR_INVAL;
	}
}

struct encrypt_parts {
	cbor_item_t *top;  /* owned */
	cbor_item_t *pmap; /* owned, NULL for h'' */
	const uint8_t *prot;
	size_t prot_len;
	int64_t alg;
	const uint8_t *iv;
	size_t iv_len;
	cbor_item_t *recipients; /* borrowed from top */
};

static void parts_free(struct encrypt_parts *p)
{
	if (p->pmap)
		cbor_decref(&p->pmap);
	if (p->top)
		cbor_decref(&p->top);
}

static int split_encrypt(const uint8_t *info, size_t len, struct encrypt_parts *p, char *err,
                         size_t errlen)
{
	cbor_item_t *top = tb_cbor_load(info, len, NULL), *arr, *unprot, *v;

	if (!top)
		return tb_err(err, errlen, TB_ERR_PARSE, "encryption info: bad CBOR");
	if (cbor_isa_tag(top)) {
		if (cbor_tag_value(top) != TB_COSE_ENCRYPT_TAG) {
			cbor_decref(&top);
			return tb_err(err, errlen, TB_ERR_PARSE,
			              "encryption info: tag is not COSE_Encrypt (96)");
		}
		arr = cbor_tag_item(top);
		cbor_decref(&top);
		top = arr;
	}
	p->top = top;
	if (!cbor_isa_array(top) || cbor_array_size(top) != 4)
		return tb_err(err, errlen, TB_ERR_PARSE,
		              "encryption info: expected a COSE_Encrypt of four elements");
	if (load_protected(cbor_array_handle(top)[0], &p->prot, &p->prot_len, &p->pmap) != TB_OK)
		return tb_err(err, errlen, TB_ERR_PARSE, "encryption info: bad protected header");
	unprot = cbor_array_handle(top)[1];
	if (!cbor_isa_map(unprot))
		return tb_err(err, errlen, TB_ERR_PARSE,
		              "encryption info: unprotected header is not a map");
	if (!tb_cbor_is_null(cbor_array_handle(top)[2]))
		return tb_err(err, errlen, TB_ERR_UNSUP,
		              "encryption info: attached ciphertext (expected detached, nil)");
	p->recipients = cbor_array_handle(top)[3];
	if (!cbor_isa_array(p->recipients) || cbor_array_size(p->recipients) < 1)
		return tb_err(err, errlen, TB_ERR_PARSE, "encryption info: no recipients");
	if (cbor_array_size(p->recipients) > TB_COSE_MAX_RECIPIENTS)
		return tb_err(err, errlen, TB_ERR_TOOBIG,
		              "encryption info: more than %d recipients", TB_COSE_MAX_RECIPIENTS);
	if (header_int(p->pmap, unprot, HDR_ALG, &p->alg) != 1)
		return tb_err(err, errlen, TB_ERR_PARSE, "encryption info: no content algorithm");
	if (p->alg != TB_COSE_ALG_A128CTR && p->alg != TB_COSE_ALG_A128GCM)
		return tb_err(err, errlen, TB_ERR_UNSUP,
		              "content algorithm %lld is not supported (A128CTR, A128GCM)",
		              (long long)p->alg);
	v = p->pmap ? tb_cbor_map_get_int(p->pmap, HDR_IV) : NULL;
	if (!v)
		v = tb_cbor_map_get_int(unprot, HDR_IV);
	if (!v || tb_cbor_get_bytes(v, &p->iv, &p->iv_len) != TB_OK ||
	    p->iv_len != (p->alg == TB_COSE_ALG_A128CTR ? CTR_IV_BYTES : GCM_IV_BYTES))
		return tb_err(err, errlen, TB_ERR_PARSE,
		              "encryption info: IV missing or of the wrong size");
	return TB_OK;
}

int tb_cose_decrypt_detached(const uint8_t *info, size_t info_len, const struct tb_key *key,
                             const char *kdf_other, const uint8_t *ct, size_t ct_len, uint8_t **pt,
                             size_t *pt_len, char *err, size_t errlen)
{
	struct encrypt_parts p = {0};
	uint8_t cek[CEK_BYTES];
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rc;

	if (!info || !key || (!ct && ct_len) || !pt || !pt_len)
		return tb_err(err, errlen, TB_ERR_INVAL, "decrypt: bad arguments");
	*pt = NULL;
	*pt_len = 0;
	if (!tb_key_has_private(key))
		return tb_err(err, errlen, TB_ERR_INVAL, "decrypt: no private key");
	rc = split_encrypt(info, info_len, &p, err, errlen);
	/* Try each recipient; the last reason is kept. */
	if (rc == TB_OK) {
		rc = TB_ERR_SIG;
		for (size_t i = 0; rc != TB_OK && i < cbor_array_size(p.recipients); i++)
			rc = recipient_unwrap(cbor_array_handle(p.recipients)[i], key, kdf_other,
			                      cek, err, errlen);
	}
	if (rc == TB_OK) {
		out_len = p.alg == TB_COSE_ALG_A128GCM ? (ct_len >= GCM_TAG ? ct_len - GCM_TAG : 0)
		                                       : ct_len;
		out = malloc(out_len ? out_len : 1);
		if (!out)
			rc = tb_err(err, errlen, TB_ERR_NOMEM, "decrypt: out of memory");
	}
	if (rc == TB_OK) {
		rc = content_crypt(p.alg, 0, cek, p.iv, p.iv_len, p.prot, p.prot_len, ct, ct_len,
		                   out);
		if (rc != TB_OK)
			tb_err(err, errlen, rc, "decrypt: %s",
			       rc == TB_ERR_SIG ? "authentication tag mismatch" : "bad ciphertext");
	}
	mbedtls_platform_zeroize(cek, sizeof(cek));
	parts_free(&p);
	if (rc != TB_OK) {
		free(out);
		return rc;
	}
	*pt = out;
	*pt_len = out_len;
	return TB_OK;
}

/* ---- encryption ---- */

static cbor_item_t *build_recipient(const uint8_t ex[P256_BYTES], const uint8_t ey[P256_BYTES],
                                    const uint8_t wrapped[WRAPPED_CEK])
{
	cbor_item_t *r = cbor_new_definite_array(3), *unprot = cbor_new_definite_map(1),
	            *k = cbor_new_definite_map(4);
	int rc = r && unprot && k ? TB_OK : TB_ERR_NOMEM;

	if (rc == TB_OK)
		rc = tb_cbor_map_put(k, tb_cbor_int(KEY_KTY), tb_cbor_int(KTY_EC2));
	if (rc == TB_OK)
		rc = tb_cbor_map_put(k, tb_cbor_int(KEY_CRV), tb_cbor_int(CRV_P256));
	if (rc == TB_OK)
		rc = tb_cbor_map_put(k, tb_cbor_int(KEY_X), tb_cbor_bytes(ex, P256_BYTES));
	if (rc == TB_OK)
		rc = tb_cbor_map_put(k, tb_cbor_int(KEY_Y), tb_cbor_bytes(ey, P256_BYTES));
	if (rc == TB_OK) {
		rc = tb_cbor_map_put(unprot, tb_cbor_int(HDR_EPHEMERAL), k);
		k = NULL;
	}
	if (rc == TB_OK)
		rc = tb_cbor_array_push(r, tb_cbor_bytes(RECIPIENT_PROT, sizeof(RECIPIENT_PROT)));
	if (rc == TB_OK) {
		rc = tb_cbor_array_push(r, unprot);
		unprot = NULL;
	}
	if (rc == TB_OK)
		rc = tb_cbor_array_push(r, tb_cbor_bytes(wrapped, WRAPPED_CEK));
	if (k)
		cbor_decref(&k);
	if (unprot)
		cbor_decref(&unprot);
	if (rc != TB_OK && r)
		cbor_decref(&r);
	return rc == TB_OK ? r : NULL;
}

static int build_encrypt(int alg, const uint8_t *iv, size_t iv_len, cbor_item_t *recipient,
                         uint8_t **out, size_t *out_len)
{
	cbor_item_t *arr = cbor_new_definite_array(4), *unprot = cbor_new_definite_map(2),
	            *rs = cbor_new_definite_array(1), *tag;
	int gcm = alg == TB_COSE_ALG_A128GCM;
	int rc = arr && unprot && rs ? TB_OK : TB_ERR_NOMEM;

	if (rc == TB_OK) {
		rc = tb_cbor_array_push(rs, recipient);
		recipient = NULL;
	}
	if (rc == TB_OK && !gcm)
		rc = tb_cbor_map_put(unprot, tb_cbor_int(HDR_ALG), tb_cbor_int(alg));
	if (rc == TB_OK)
		rc = tb_cbor_map_put(unprot, tb_cbor_int(HDR_IV), tb_cbor_bytes(iv, iv_len));
	if (rc == TB_OK)
		rc = tb_cbor_array_push(arr, gcm ? tb_cbor_bytes(GCM_PROT, sizeof(GCM_PROT))
		                                 : tb_cbor_bytes(NULL, 0));
	if (rc == TB_OK) {
		rc = tb_cbor_array_push(arr, unprot);
		unprot = NULL;
	}
	if (rc == TB_OK)
		rc = tb_cbor_array_push(arr, cbor_new_null());
	if (rc == TB_OK) {
		rc = tb_cbor_array_push(arr, rs);
		rs = NULL;
	}
	if (recipient)
		cbor_decref(&recipient);
	if (unprot)
		cbor_decref(&unprot);
	if (rs)
		cbor_decref(&rs);
	if (rc != TB_OK) {
		if (arr)
			cbor_decref(&arr);
		return rc;
	}
	tag = cbor_new_tag(TB_COSE_ENCRYPT_TAG);
	if (!tag) {
		cbor_decref(&arr);
		return TB_ERR_NOMEM;
	}
	cbor_tag_set_item(tag, arr);
	cbor_decref(&arr);
	rc = tb_cbor_serialize(tag, out, out_len);
	cbor_decref(&tag);
	return rc;
}

int tb_cose_encrypt_detached(const struct tb_key *recipient, int content_alg, const char *kdf_other,
                             const uint8_t *pt, size_t pt_len, uint8_t **info, size_t *info_len,
                             uint8_t **ct, size_t *ct_len)
{
	uint8_t rx[P256_BYTES], ry[P256_BYTES], ex[P256_BYTES], ey[P256_BYTES], z[P256_BYTES];
	uint8_t kek[CEK_BYTES], cek[CEK_BYTES], wrapped[WRAPPED_CEK], iv[CTR_IV_BYTES];
	size_t iv_len = content_alg == TB_COSE_ALG_A128GCM ? GCM_IV_BYTES : CTR_IV_BYTES;
	size_t out_len = pt_len + (content_alg == TB_COSE_ALG_A128GCM ? GCM_TAG : 0);
	struct tb_key *eph = NULL;
	cbor_item_t *r;
	uint8_t *out = NULL;
	int rc;

	if (!recipient || (!pt && pt_len) || !info || !info_len || !ct || !ct_len)
		return TB_ERR_INVAL;
	if (content_alg != TB_COSE_ALG_A128CTR && content_alg != TB_COSE_ALG_A128GCM)
		return TB_ERR_UNSUP;
	*info = *ct = NULL;
	rc = tb_key_public_xy(recipient, rx, ry);
	if (rc == TB_OK)
		rc = tb_key_generate(&eph);
	if (rc == TB_OK)
		rc = tb_key_public_xy(eph, ex, ey);
	if (rc == TB_OK)
		rc = tb_key_ecdh(eph, rx, ry, z);
	if (rc == TB_OK)
		rc = derive_kek(z, RECIPIENT_PROT, sizeof(RECIPIENT_PROT), kdf_other, kek);
	if (rc == TB_OK)
		rc = tb_random(cek, sizeof(cek));
	if (rc == TB_OK)
		rc = tb_random(iv, iv_len);
	if (rc == TB_OK)
		rc = tb_aes_kw_wrap(kek, cek, sizeof(cek), wrapped);
	if (rc == TB_OK && !(out = malloc(out_len ? out_len : 1)))
		rc = TB_ERR_NOMEM;
	if (rc == TB_OK)
		rc = content_crypt(content_alg, 1, cek, iv, iv_len,
		                   content_alg == TB_COSE_ALG_A128GCM ? GCM_PROT : NULL,
		                   content_alg == TB_COSE_ALG_A128GCM ? sizeof(GCM_PROT) : 0, pt,
		                   pt_len, out);
	if (rc == TB_OK) {
		r = build_recipient(ex, ey, wrapped);
		rc = r ? build_encrypt(content_alg, iv, iv_len, r, info, info_len) : TB_ERR_NOMEM;
	}
	mbedtls_platform_zeroize(z, sizeof(z));
	mbedtls_platform_zeroize(kek, sizeof(kek));
	mbedtls_platform_zeroize(cek, sizeof(cek));
	tb_key_free(eph);
	if (rc != TB_OK) {
		free(out);
		return rc;
	}
	*ct = out;
	*ct_len = out_len;
	return TB_OK;
}

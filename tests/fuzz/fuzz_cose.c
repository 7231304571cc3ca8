/*
 * libFuzzer target: COSE_Sign1 verification, COSE_Sign1/COSE_Sign
 * verification with a list of keys, and payload peeking, against a fixed
 * P-256 public key (the one that signed the libteep TAM messages).
 */
#include "tb_cose.h"
#include "tb_cose_encrypt.h"
#include <teep-broker/driver.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char tam_pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEDpCKqPBm2x8ITgw2UsY5Ur2Z8qW9\n"
    "si+eATZ6rQOrpot32hvYrE8MtJC6IQZIv3mrFk1JrTVR1x0xSydJ7kLSmg==\n"
    "-----END PUBLIC KEY-----\n";

/* Read-only after initialization; the harness runs one input at a time. */
static struct tb_key *key;
static struct tb_key *device; /* a private key for COSE_Encrypt inputs */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	if (tb_key_load_pem((const uint8_t *)tam_pub_pem, strlen(tam_pub_pem), &key, err,
	                    sizeof(err)) != TB_OK ||
	    tb_key_generate(&device) != TB_OK)
		abort();
	return 0;
}

/* Either COSE form, the key listed twice so the key loop runs as well. */
static void check_verify_any(const uint8_t *data, size_t size)
{
	struct tb_key *const keys[2] = {key, key};
	uint8_t *payload = NULL, *peeked = NULL;
	size_t plen = 0, peeked_len = 0;

	if (tb_cose_verify_any(data, size, keys, 2, &payload, &plen) == TB_OK) {
		if (tb_cose_peek_payload(data, size, &peeked, &peeked_len) != TB_OK ||
		    peeked_len != plen || memcmp(peeked, payload, plen) != 0)
			abort();
		free(peeked);
	} else if (payload || plen) {
		abort();
	}
	free(payload);
}

/* The input as a SUIT_Encryption_Info (COSE_Encrypt) for a ciphertext of
 * its own length. */
static void check_decrypt(const uint8_t *data, size_t size)
{
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	char err[160] = "";

	if (tb_cose_decrypt_detached(data, size, device, TB_SUIT_KDF_OTHER, data, size, &pt,
	                             &pt_len, err, sizeof(err)) == TB_OK) {
		if (!pt || pt_len > size)
			abort();
		free(pt);
	} else if (pt || err[0] == 0) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *payload = NULL, *peeked = NULL;
	size_t plen = 0, peeked_len = 0;
	int rc;

	rc = tb_cose_sign1_verify(data, size, key, NULL, 0, &payload, &plen);
	if (rc == TB_OK) {
		/* a verified attached payload is what peeking shows too */
		if (tb_cose_peek_payload(data, size, &peeked, &peeked_len) != TB_OK ||
		    peeked_len != plen || memcmp(peeked, payload, plen) != 0)
			abort();
		free(peeked);
	} else if (payload) {
		abort(); /* nothing is handed out on failure */
	}
	free(payload);
	/* with a detached payload of the input itself */
	(void)tb_cose_sign1_verify(data, size, key, data, size / 2, NULL, NULL);
	if (tb_cose_peek_payload(data, size, &peeked, &peeked_len) == TB_OK)
		free(peeked);
	check_verify_any(data, size);
	check_decrypt(data, size);
	return 0;
}

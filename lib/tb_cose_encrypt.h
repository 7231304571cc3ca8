/*
 * COSE_Encrypt (RFC 9052 section 5.1) with a detached ciphertext, as SUIT
 * carries encrypted payloads (draft-ietf-suit-firmware-encryption): the
 * SUIT_Encryption_Info parameter holds the COSE_Encrypt, the ciphertext
 * travels in the content parameter or an integrated payload.
 *
 * Supported, which is what TEEP's SUIT cipher suites name:
 *   content:   A128CTR (-65534), A128GCM (1)
 *   recipient: ECDH-ES + A128KW (-29) on P-256, an ephemeral sender key in
 *              the recipient's unprotected header (label -1), the KEK from
 *              HKDF-SHA-256 over the COSE_KDF_Context (RFC 9053 section 5.2)
 *              with SuppPubInfo.other set by the caller.
 * Anything else is TB_ERR_UNSUP with a reason.
 *
 * A128CTR has no integrity of its own: a SUIT manifest that uses it must
 * check the plaintext's digest (condition-image-match), as the draft's
 * Appendix E example 3 does.
 */
#ifndef TB_COSE_ENCRYPT_H
#define TB_COSE_ENCRYPT_H

#include "tb_cose.h"

#include <stddef.h>
#include <stdint.h>

#define TB_COSE_ENCRYPT_TAG        96
#define TB_COSE_ALG_A128GCM        1
#define TB_COSE_ALG_A128KW         (-3)
#define TB_COSE_ALG_ECDH_ES_A128KW (-29)
#define TB_COSE_ALG_A128CTR        (-65534)
/* Recipients tried per COSE_Encrypt: each costs an ECDH. */
#define TB_COSE_MAX_RECIPIENTS 4
/* SuppPubInfo.other of the KDF context for SUIT payloads. */
#define TB_SUIT_KDF_OTHER "SUIT Payload Encryption"

/*
 * Decrypt ciphertext ct with the COSE_Encrypt in info (tag 96 or untagged,
 * payload nil), using key (a P-256 private key) for the recipient.
 * kdf_other is the KDF context's SuppPubInfo.other (NULL: absent).
 * On success *pt is a malloc()ed plaintext of *pt_len bytes.
 * Returns TB_OK, TB_ERR_PARSE (not a COSE_Encrypt), TB_ERR_UNSUP
 * (algorithm), TB_ERR_SIG (no recipient unwraps with key, or a GCM tag
 * mismatch), TB_ERR_TOOBIG, TB_ERR_NOMEM. err gets a reason.
 */
int tb_cose_decrypt_detached(const uint8_t *info, size_t info_len, const struct tb_key *key,
                             const char *kdf_other, const uint8_t *ct, size_t ct_len, uint8_t **pt,
                             size_t *pt_len, char *err, size_t errlen);

/*
 * Encrypt pt for recipient (a P-256 public key) with content_alg
 * (TB_COSE_ALG_A128CTR or TB_COSE_ALG_A128GCM): a fresh CEK, IV and
 * ephemeral key. *info gets the tagged COSE_Encrypt (payload nil), *ct the
 * ciphertext (with the 16-byte tag appended for GCM); both malloc()ed.
 */
int tb_cose_encrypt_detached(const struct tb_key *recipient, int content_alg, const char *kdf_other,
                             const uint8_t *pt, size_t pt_len, uint8_t **info, size_t *info_len,
                             uint8_t **ct, size_t *ct_len);

/* RFC 3394 AES key wrap with a 128-bit KEK; n is the key size (a multiple
 * of 8, 16..64). out has n + 8 bytes for wrap, n - 8 for unwrap; unwrap
 * returns TB_ERR_SIG when the integrity check fails. */
int tb_aes_kw_wrap(const uint8_t kek[16], const uint8_t *in, size_t n, uint8_t *out);
int tb_aes_kw_unwrap(const uint8_t kek[16], const uint8_t *in, size_t n, uint8_t *out);

#endif

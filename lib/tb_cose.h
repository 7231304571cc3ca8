/*
 * P-256 keys, COSE_Sign1 and COSE_Sign (RFC 9052) with mbedtls.
 *
 * Signing uses ECDSA P-256 with SHA-256 and a raw r||s signature. The
 * algorithm identifier in the protected header is ESP256 (-9) or, for peers
 * speaking older drafts, ES256 (-7); both verify on the same code path.
 * EdDSA (-8, -19) is refused with TB_ERR_UNSUP: mbedtls 2.28 has no Ed25519.
 */
#ifndef TB_COSE_H
#define TB_COSE_H

#include <stddef.h>
#include <stdint.h>

#define TB_COSE_ALG_ES256   (-7)
#define TB_COSE_ALG_EDDSA   (-8)
#define TB_COSE_ALG_ESP256  (-9)
#define TB_COSE_ALG_ED25519 (-19)
#define TB_COSE_SIGN1_TAG   18
#define TB_COSE_SIGN_TAG    98
/* Signers of a COSE_Sign, made or accepted. TEEP defines two cipher
 * suites, so a TAM's first QueryRequest carries two signatures; the bound
 * keeps what a hostile message can make us verify small. */
#define TB_COSE_MAX_SIGNERS 8

struct tb_key; /* a P-256 key pair or public key */

/* Load a PEM private or public key. err gets a readable reason. */
int tb_key_load_pem(const uint8_t *pem, size_t len, struct tb_key **out, char *err, size_t errlen);
int tb_key_load_file(const char *path, struct tb_key **out, char *err, size_t errlen);
/* len bytes from a CTR-DRBG seeded from the system's entropy. */
int tb_random(uint8_t *buf, size_t len);
/* Generate a new P-256 key pair. */
int tb_key_generate(struct tb_key **out);
/* PEM text (malloc()ed, NUL-terminated) of the private or public part. */
int tb_key_to_pem(const struct tb_key *key, int private_part, char **pem_out);
int tb_key_has_private(const struct tb_key *key);
/* SHA-256 over the DER SubjectPublicKeyInfo: the kid we put in headers. */
int tb_key_thumbprint(const struct tb_key *key, uint8_t out[32]);
void tb_key_free(struct tb_key *key);
/* The public point's affine coordinates, big-endian. */
int tb_key_public_xy(const struct tb_key *key, uint8_t x[32], uint8_t y[32]);
/* ECDH on P-256: z = the x-coordinate of key's private scalar times the
 * peer point (x, y). The peer point is checked to be on the curve
 * (TB_ERR_INVAL otherwise). key must hold the private part. */
int tb_key_ecdh(const struct tb_key *key, const uint8_t x[32], const uint8_t y[32], uint8_t z[32]);

/*
 * Build a tagged COSE_Sign1 over payload with key (which must hold the
 * private part). alg is TB_COSE_ALG_ESP256 or TB_COSE_ALG_ES256. When
 * detached is non-zero the payload is signed but carried as nil. kid
 * (optional) goes into the unprotected header (label 4). *out is malloc()ed.
 */
int tb_cose_sign1(const struct tb_key *key, int alg, const uint8_t *payload, size_t payload_len,
                  int detached, const uint8_t *kid, size_t kid_len, uint8_t **out, size_t *out_len);

/*
 * Verify a COSE_Sign1 (tag 18 or untagged) against one public key. For a
 * detached payload pass it in detached/detached_len, else pass NULL. On
 * success, if payload_out is not NULL, *payload_out gets a malloc()ed copy of
 * the (attached) payload. Returns TB_OK, TB_ERR_SIG (bad signature),
 * TB_ERR_PARSE (not a COSE_Sign1), TB_ERR_UNSUP (algorithm), ...
 */
int tb_cose_sign1_verify(const uint8_t *msg, size_t len, const struct tb_key *key,
                         const uint8_t *detached, size_t detached_len, uint8_t **payload_out,
                         size_t *payload_len);

/*
 * Build a tagged COSE_Sign (tag 98) over payload with one signature per key,
 * as a TAM signs a first QueryRequest when it does not know which cipher
 * suite the Agent has: [h'', {}, payload, [+ [h'{1: alg}', {4: kid},
 * signature]]], each kid the key's thumbprint, each signature over the
 * Sig_structure "Signature" (RFC 9052 section 4.4). keys[i] must hold the
 * private part; algs[i] is TB_COSE_ALG_ESP256 or TB_COSE_ALG_ES256. n is
 * 1..TB_COSE_MAX_SIGNERS (TB_ERR_TOOBIG above). *out is malloc()ed.
 */
int tb_cose_sign_multi(struct tb_key *const *keys, const int *algs, size_t n,
                       const uint8_t *payload, size_t len, uint8_t **out, size_t *out_len);

/*
 * Verify a COSE_Sign1 (tag 18 or untagged) or a COSE_Sign (tag 98, or an
 * untagged 4-element array whose fourth element is the array of signers)
 * with an attached payload. It succeeds when one signature verifies with
 * one of the n keys. Signatures in algorithms we cannot verify (EdDSA -8,
 * Ed25519 -19, ...) are skipped as long as another one verifies. Returns
 * TB_OK (and, if payload_out is not NULL, a malloc()ed copy of the payload),
 * TB_ERR_SIG when no signature verifies, TB_ERR_UNSUP when every signature
 * uses an algorithm we cannot do (or a critical header), TB_ERR_PARSE for
 * anything that is not one of those structures (a detached payload
 * included), TB_ERR_TOOBIG for more than TB_COSE_MAX_SIGNERS signers.
 */
int tb_cose_verify_any(const uint8_t *msg, size_t len, struct tb_key *const *keys, size_t n,
                       uint8_t **payload_out, size_t *payload_len);
/* The same, without copying the payload: *payload points into msg (valid
 * while msg is), or, for a payload in chunks (indefinite length), to a
 * malloc()ed copy also given in *owned for the caller to free (else *owned
 * is NULL). */
int tb_cose_verify_any_borrowed(const uint8_t *msg, size_t len, struct tb_key *const *keys,
                                size_t n, const uint8_t **payload, size_t *payload_len,
                                uint8_t **owned);

/*
 * Extract the attached payload of a COSE_Sign1 or COSE_Sign (tagged or not)
 * WITHOUT verifying anything: for logging and progress reports only.
 */
int tb_cose_peek_payload(const uint8_t *msg, size_t len, uint8_t **payload_out,
                         size_t *payload_len);
/*
 * The same without a copy or a tree: *payload points into msg. A streaming
 * walk checks msg is one well-formed item shaped as a COSE_Sign1/COSE_Sign
 * (tag 18 or 98, or none; an array of four, the third a byte string, the
 * others of at most a thousand items); the payload's bytes are not looked
 * at, so the work is bounded whatever len, and nothing is allocated. TB_ERR_NOTFOUND: the
 * payload is detached (nil); TB_ERR_PARSE: not such a structure.
 */
int tb_cose_payload_span(const uint8_t *msg, size_t len, const uint8_t **payload,
                         size_t *payload_len);

#endif

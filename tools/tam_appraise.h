/*
 * The reference TAM as a RATS Verifier (RFC 9334): appraisal of a TEEP
 * Agent's Evidence (an EAT, lib/tb_eat.h) against reference values, with
 * an Attestation Result in the EAR format (lib/tb_ear.h) as the outcome.
 */
#ifndef TAM_APPRAISE_H
#define TAM_APPRAISE_H

#include "tb_ear.h"
#include "tb_eat.h"
#include <stddef.h>
#include <stdint.h>

#define TAM_MAX_ATTEST_KEYS 16
#define TAM_MAX_EXPECT      16
#define TAM_MAX_ALLOWED_TEE 16
#define TAM_EAR_SUBMOD      "teep-agent"
#define TAM_EAR_POLICY      "teep-tam:reference-values"

/* Reference values and trust anchors; everything borrowed. */
struct tam_attest_policy {
	struct tb_key *const *keys; /* trusted attestation keys (1..) */
	size_t n_keys;
	const uint8_t (*expect)[32]; /* acceptable measurement digests; none: not checked */
	size_t n_expect;
	const char *const *allowed_tee; /* hwmodel values accepted; none: any */
	size_t n_allowed_tee;
	/* the Evidence must carry a configfs-tsm hardware report (its
	 * binding is checked whenever there is one) */
	int require_tsm;
};

/* Consume the challenge the nonce names: 1 when it was outstanding (and is
 * used up now), 0 when it is unknown, used or expired. */
typedef int (*tam_take_nonce_fn)(void *arg, const uint8_t *nonce, size_t len);

/*
 * Appraise Evidence (format and payload of a QueryResponse; payload NULL or
 * empty: none). Checks, in order: a format we read, a signature by a
 * trusted key, the claims set, the nonce (a challenge we sent, used once),
 * the TEE kind (hwmodel), the hardware report (tsm-report: bound to the
 * nonce; required with require_tsm) and the measurements. ear gets the result, its
 * status the worst tier of its trustworthiness vector; why the first
 * reason it is not affirming. claims (may be NULL) gets the claims when the
 * signature verified. Returns TB_OK, or TB_ERR_NOMEM.
 */
int tam_appraise(const struct tam_attest_policy *p, const char *format, const uint8_t *ev,
                 size_t len, tam_take_nonce_fn take, void *arg, int64_t now,
                 struct tb_eat_claims *claims, struct tb_ear *ear, char *why, size_t whylen);

#endif

/*
 * Appraisal of Evidence by the reference TAM: each check sets one claim of
 * the AR4SI trustworthiness vector, and the status is the worst of them.
 *
 *   no Evidence, unknown format, no trusted key, bad claims set,
 *   nonce not an outstanding challenge   -> instance-identity 96/97
 *   hwmodel not an allowed TEE kind      -> hardware 97 (unrecognized)
 *   no hardware report, one required     -> hardware 97 (unrecognized)
 *   a hardware report not bound to the
 *   nonce (inblob, or the report data of
 *   a provider whose layout we know)     -> hardware 96 (contraindicated)
 *   a measurement not among the expected -> executables 33 (unrecognized)
 */
#include <config.h>

#include "tam_appraise.h"

#include <teep-broker/driver.h>

#include <stdio.h>
#include <string.h>

static void reason(char *why, size_t whylen, const char *text)
{
	if (why && whylen && !why[0])
		snprintf(why, whylen, "%s", text);
}

static int tee_allowed(const struct tam_attest_policy *p, const struct tb_eat_claims *c)
{
	if (!p->n_allowed_tee)
		return 1;
	for (size_t i = 0; i < p->n_allowed_tee; i++)
		if (strlen(p->allowed_tee[i]) == c->hwmodel_len &&
		    memcmp(p->allowed_tee[i], c->hwmodel, c->hwmodel_len) == 0)
			return 1;
	return 0;
}

static int measurement_expected(const struct tam_attest_policy *p, const uint8_t d[32])
{
	for (size_t i = 0; i < p->n_expect; i++)
		if (memcmp(p->expect[i], d, 32) == 0)
			return 1;
	return 0;
}

/* The configfs-tsm report is bound to this Evidence: its inblob is
 * SHA-512(eat_nonce), and where the provider's layout is known the report
 * data inside outblob is that inblob. The report's own signature (vendor
 * certificate chains) is not checked here. */
static int tsm_bound(const struct tb_eat_claims *c, const char **why)
{
	uint8_t want[TB_TSM_INBLOB_LEN];
	long off;

	if (tb_tsm_inblob(c->nonce, c->nonce_len, want) != TB_OK ||
	    memcmp(want, c->tsm.inblob, sizeof(want)) != 0) {
		*why = "the hardware report's inblob is not SHA-512 of eat_nonce";
		return 0;
	}
	off = tb_tsm_report_data_offset(c->tsm.provider);
	if (off >= 0 && (c->tsm.outblob_len < (size_t)off + TB_TSM_INBLOB_LEN ||
	                 memcmp(c->tsm.outblob + off, want, sizeof(want)) != 0)) {
		*why = "the hardware report's report data is not its inblob";
		return 0;
	}
	return 1;
}

int tam_appraise(const struct tam_attest_policy *p, const char *format, const uint8_t *ev,
                 size_t len, tam_take_nonce_fn take, void *arg, int64_t now,
                 struct tb_eat_claims *claims, struct tb_ear *ear, char *why, size_t whylen)
{
	struct tb_eat_claims c;
	char err[160];
	int rc;

	if (why && whylen)
		why[0] = 0;
	memset(ear, 0, sizeof(*ear));
	ear->iat = now;
	snprintf(ear->developer, sizeof(ear->developer), "%s", "teep-broker teep-tam");
	snprintf(ear->build, sizeof(ear->build), "%s", PACKAGE_VERSION);
	snprintf(ear->submod, sizeof(ear->submod), "%s", TAM_EAR_SUBMOD);
	snprintf(ear->policy_id, sizeof(ear->policy_id), "%s", TAM_EAR_POLICY);
	if (claims)
		memset(claims, 0, sizeof(*claims));

	if (!ev || !len) {
		ear->tv[TB_TV_INSTANCE_IDENTITY] = TB_AR4SI_UNRECOGNIZED_INSTANCE;
		reason(why, whylen, "no Evidence in the QueryResponse");
	} else if (!tb_eat_format_ok(format)) {
		ear->tv[TB_TV_INSTANCE_IDENTITY] = TB_AR4SI_UNRECOGNIZED_INSTANCE;
		reason(why, whylen, "Evidence in a format this Verifier does not read");
	} else {
		rc = tb_eat_verify(ev, len, p->keys, p->n_keys, &c, NULL, err, sizeof(err));
		if (rc == TB_ERR_NOMEM)
			return rc;
		if (rc != TB_OK) {
			ear->tv[TB_TV_INSTANCE_IDENTITY] = rc == TB_ERR_SIG
			                                       ? TB_AR4SI_UNRECOGNIZED_INSTANCE
			                                       : TB_AR4SI_UNTRUSTWORTHY_INSTANCE;
			reason(why, whylen, err[0] ? err : "Evidence does not verify");
		} else {
			if (claims)
				*claims = c;
			memcpy(ear->nonce, c.nonce, c.nonce_len);
			ear->nonce_len = c.nonce_len;
			memcpy(ear->ueid, c.ueid, c.ueid_len);
			ear->ueid_len = c.ueid_len;
			/* the nonce last among the identity checks: a token
			 * that does not verify does not use a challenge up */
			if (!take || !take(arg, c.nonce, c.nonce_len)) {
				ear->tv[TB_TV_INSTANCE_IDENTITY] = TB_AR4SI_UNTRUSTWORTHY_INSTANCE;
				reason(why, whylen,
				       "eat_nonce is no outstanding challenge (unknown, replayed "
				       "or expired)");
			} else {
				ear->tv[TB_TV_INSTANCE_IDENTITY] = TB_AR4SI_TRUSTWORTHY_INSTANCE;
			}
			const char *tsm_why = NULL;
			if (tee_allowed(p, &c)) {
				ear->tv[TB_TV_HARDWARE] = TB_AR4SI_GENUINE_HARDWARE;
			} else {
				ear->tv[TB_TV_HARDWARE] = TB_AR4SI_UNRECOGNIZED_HARDWARE;
				reason(why, whylen, "hwmodel is not an allowed TEE kind");
			}
			if (c.has_tsm && !tsm_bound(&c, &tsm_why)) {
				ear->tv[TB_TV_HARDWARE] = TB_AR4SI_CONTRAINDICATED_HARDWARE;
				reason(why, whylen, tsm_why);
			} else if (!c.has_tsm && p->require_tsm) {
				ear->tv[TB_TV_HARDWARE] = TB_AR4SI_UNRECOGNIZED_HARDWARE;
				reason(why, whylen,
				       "no hardware report (configfs-tsm) in the Evidence");
			}
			if (p->n_expect) {
				ear->tv[TB_TV_EXECUTABLES] = c.n_meas
				                                 ? TB_AR4SI_APPROVED_RUNTIME
				                                 : TB_AR4SI_UNRECOGNIZED_RUNTIME;
				if (!c.n_meas)
					reason(why, whylen, "no measurements to compare");
				for (size_t i = 0; i < c.n_meas; i++)
					if (!measurement_expected(p, c.meas[i].sha256)) {
						ear->tv[TB_TV_EXECUTABLES] =
						    TB_AR4SI_UNRECOGNIZED_RUNTIME;
						reason(why, whylen,
						       "a measurement is not among the expected");
					}
			}
		}
	}
	ear->status = tb_ear_status_of(ear->tv);
	return TB_OK;
}

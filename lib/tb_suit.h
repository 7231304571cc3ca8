/*
 * SUIT envelopes (draft-ietf-suit-manifest) as far as TEEP needs them: the
 * software Agent installs Trusted Components from them, the reference TAM
 * reads them from its catalog and builds new ones.
 */
#ifndef TB_SUIT_H
#define TB_SUIT_H

#include "tb_cose.h"
#include "tb_teep.h"

/* Facts read from an envelope without verifying it (for a TAM catalog). */
struct tb_suit_info {
	uint64_t sequence_number;
	struct tb_component_id manifest_component_id; /* key 5; n == 0 if absent */
	struct tb_component_id component;             /* first of common/components */
	uint8_t manifest_digest[32];                  /* SHA-256 of the bstr-wrapped manifest */
	/* dependency-prefix of the first entry of common/dependencies (a
	 * manifest component id); n == 0: no dependency or no prefix */
	struct tb_component_id dependency;
};

int tb_suit_info(const uint8_t *env, size_t len, struct tb_suit_info *info, char *err,
                 size_t errlen);
void tb_suit_info_clear(struct tb_suit_info *info);

/* Result of processing an envelope for installation. */
struct tb_suit_install {
	struct tb_suit_info info;
	struct tb_buf image; /* the verified payload to install */
	/* 1: image is an integrated payload where it lies in the envelope
	 * given to tb_suit_process (no copy): valid while that is, read only */
	int image_borrowed;
};

/*
 * Verify and run an envelope: the SUIT_Digest over the bstr-wrapped manifest,
 * the detached COSE_Sign1 of the authentication wrapper against one of the
 * trust anchors, then the common shared-sequence and the install sequence
 * (override-parameters, fetch of an integrated payload "#name",
 * in the payload-fetch sequence too,
 * condition-image-match on digest and size, write of a content parameter).
 * Returns TB_OK, TB_ERR_SIG (no anchor verifies), TB_ERR_PARSE, TB_ERR_UNSUP
 * (e.g. a URI it cannot fetch), TB_ERR_INVAL (digest or size mismatch).
 */
int tb_suit_process(const uint8_t *env, size_t len, struct tb_key *const *anchors, size_t n_anchors,
                    struct tb_suit_install *out, char *err, size_t errlen);
void tb_suit_install_clear(struct tb_suit_install *in);

/* Where processing of an authenticated manifest stopped, for a SUIT Report
 * (lib/tb_suit_report.h). */
#define TB_SUIT_FAIL_URI_MAX 128
struct tb_suit_failure {
	int set;                     /* 0: nothing recorded */
	uint8_t manifest_digest[32]; /* of the manifest that failed */
	int64_t section;             /* the manifest member: 16 payload-fetch, 20 install, ... */
	uint64_t command_index;      /* the command's position in that sequence (0, 1, ...) */
	int64_t command;             /* its code, e.g. 21 directive-fetch */
	uint64_t component_index;
	int status;                         /* the TB_ERR_* it failed with */
	char uri[TB_SUIT_FAIL_URI_MAX + 1]; /* parameter-uri then, "" if none */
};

/* What processing may use beyond the signers' trust anchors. */
struct tb_suit_opts {
	struct tb_key *const *anchors; /* SUIT signers; at least one */
	size_t n_anchors;
	/* The device's P-256 private key for encrypted payloads
	 * (SUIT_Encryption_Info: COSE_Encrypt, ECDH-ES+A128KW, A128CTR or
	 * A128GCM). NULL: an encrypted payload is TB_ERR_UNSUP. */
	const struct tb_key *decrypt_key;
	/* A dependency (common/dependencies, process-dependency, a fetch into
	 * a dependency's index) is resolved by asking: is a manifest whose
	 * manifest-component-id is prefix (prefix->n == 0: none was given) and
	 * whose manifest digest is digest installed and verified? TB_OK, or
	 * TB_ERR_NOTFOUND (processing fails with TB_ERR_NOTFOUND, so a caller
	 * can retry once the dependency is in). Nothing is fetched: the uri
	 * parameter of a dependency is ignored. NULL: dependencies are
	 * TB_ERR_UNSUP. Called on the caller's thread, during processing. */
	int (*dependency)(void *arg, const struct tb_component_id *prefix,
	                  const uint8_t digest[32]);
	void *arg;
	/* Filled (if not NULL) when a command of an authenticated manifest
	 * fails. */
	struct tb_suit_failure *failure;
};

/* tb_suit_process with encrypted payloads and dependencies. The install
 * runs dependency-resolution, install, then validate. */
int tb_suit_process_ex(const uint8_t *env, size_t len, const struct tb_suit_opts *opts,
                       struct tb_suit_install *out, char *err, size_t errlen);

/*
 * Build a signed envelope that installs payload (integrated as "#tc") into
 * component, with manifest id manifest_id (usually component with its last
 * segment replaced by "suit") and the given sequence number. Signed with
 * signer (ESP256). *out is malloc()ed.
 */
int tb_suit_build_integrated(const struct tb_key *signer, const struct tb_component_id *component,
                             const struct tb_component_id *manifest_id, uint64_t sequence_number,
                             const uint8_t *payload, size_t payload_len, uint8_t **out,
                             size_t *out_len);

/*
 * The same, but the payload is not integrated: it is fetched from uri
 * (1..1024 bytes) in a payload-fetch sequence, with no install sequence (as
 * TAMs in the field send). payload gives its digest and size only.
 */
int tb_suit_build_uri_fetch(const struct tb_key *signer, const struct tb_component_id *component,
                            const struct tb_component_id *manifest_id, uint64_t sequence_number,
                            const uint8_t *payload, size_t payload_len, const char *uri,
                            uint8_t **out, size_t *out_len);

/*
 * Build a signed envelope that writes content into component, in the
 * manner of the draft's Appendix E example 3 (personalization data):
 *  - recipient given: the content is encrypted for that P-256 public key
 *    (COSE_Encrypt, ECDH-ES+A128KW, A128CTR) and travels in the content
 *    parameter with the encryption-info parameter beside it;
 *  - dependency given (a manifest component id and the manifest digest of
 *    that manifest, tb_suit_info's manifest_digest): the manifest depends
 *    on it (common/dependencies at index 1, dependency-resolution and
 *    process-dependency), so an Agent installs it only where that exact
 *    manifest is installed;
 *  - validate checks the plaintext's SHA-256 digest and size.
 * Signed with signer (ESP256). *out is malloc()ed.
 */
struct tb_suit_content {
	const struct tb_component_id *component;
	const struct tb_component_id *manifest_id;
	uint64_t sequence_number;
	const uint8_t *data; /* plaintext */
	size_t data_len;
	const struct tb_key *recipient;           /* NULL: not encrypted */
	const struct tb_component_id *dependency; /* NULL: none */
	const uint8_t *dependency_digest;         /* 32 bytes, with dependency */
};

int tb_suit_build_content(const struct tb_key *signer, const struct tb_suit_content *c,
                          uint8_t **out, size_t *out_len);

/*
 * A copy of an envelope whose authentication block(s) carry kid (1..64
 * bytes, e.g. the signer's RFC 9679 COSE Key Thumbprint) in the unprotected
 * header of their COSE_Sign1 (label 4), replacing what was there. The
 * signatures and the manifest are unchanged. TB_ERR_PARSE: no envelope with
 * an authentication wrapper. *out is malloc()ed.
 */
int tb_suit_set_kid(const uint8_t *env, size_t len, const uint8_t *kid, size_t kid_len,
                    uint8_t **out, size_t *out_len);

#endif

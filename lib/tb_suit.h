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
};

int tb_suit_info(const uint8_t *env, size_t len, struct tb_suit_info *info, char *err,
                 size_t errlen);
void tb_suit_info_clear(struct tb_suit_info *info);

/* Result of processing an envelope for installation. */
struct tb_suit_install {
	struct tb_suit_info info;
	struct tb_buf image; /* the verified payload to install */
};

/*
 * Verify and run an envelope: the SUIT_Digest over the bstr-wrapped manifest,
 * the detached COSE_Sign1 of the authentication wrapper against one of the
 * trust anchors, then the common shared-sequence and the install sequence
 * (override-parameters, fetch of an integrated payload "#name",
 * condition-image-match on digest and size, write of a content parameter).
 * Returns TB_OK, TB_ERR_SIG (no anchor verifies), TB_ERR_PARSE, TB_ERR_UNSUP
 * (e.g. a URI it cannot fetch), TB_ERR_INVAL (digest or size mismatch).
 */
int tb_suit_process(const uint8_t *env, size_t len, struct tb_key *const *anchors, size_t n_anchors,
                    struct tb_suit_install *out, char *err, size_t errlen);
void tb_suit_install_clear(struct tb_suit_install *in);

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

#endif

/*
 * TEEP protocol messages (draft-ietf-teep-protocol-26): the unprotected CBOR
 * arrays that travel as COSE_Sign1 payloads.
 *
 * Two registry numberings exist: draft-26 (the IANA registry) and the one of
 * drafts up to -25, still spoken by deployed TAMs and by libteep. Callers
 * always say which one a peer uses; it is never guessed from the bytes
 * (message types 4 and 5 mean different things in the two).
 */
#ifndef TB_TEEP_H
#define TB_TEEP_H

#include <stddef.h>
#include <stdint.h>

enum tb_numbering { TB_NUM_DRAFT26 = 0, TB_NUM_PRE26 = 1 };

/* Logical message types (draft-26 values). */
enum tb_teep_type {
	TB_TEEP_NONE = 0,
	TB_TEEP_QUERY_REQUEST = 1,
	TB_TEEP_QUERY_RESPONSE = 2,
	TB_TEEP_UPDATE = 3,
	TB_TEEP_SUCCESS = 4,
	TB_TEEP_ERROR = 5
};

/* Error codes (draft-26 values; only MANIFEST_PROCESSING_FAILED differs). */
enum tb_teep_err {
	TB_TEEP_ERR_PERMANENT = 1,
	TB_TEEP_ERR_UNSUPPORTED_EXTENSION = 2,
	TB_TEEP_ERR_UNSUPPORTED_FRESHNESS = 3,
	TB_TEEP_ERR_UNSUPPORTED_MSG_VERSION = 4,
	TB_TEEP_ERR_UNSUPPORTED_CIPHER_SUITES = 5,
	TB_TEEP_ERR_BAD_CERTIFICATE = 6,
	TB_TEEP_ERR_ATTESTATION_REQUIRED = 7,
	TB_TEEP_ERR_UNSUPPORTED_SUIT_REPORT = 8,
	TB_TEEP_ERR_CERTIFICATE_EXPIRED = 9,
	TB_TEEP_ERR_TEMPORARY = 10,
	TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED = 11
};

/* data-item-requested bits */
#define TB_TEEP_DIR_ATTESTATION        0x01u
#define TB_TEEP_DIR_TRUSTED_COMPONENTS 0x02u
#define TB_TEEP_DIR_EXTENSIONS         0x04u
#define TB_TEEP_DIR_SUIT_REPORTS       0x08u

#define TB_TEEP_MAX_SEGMENTS 8  /* segments of one component id */
#define TB_TEEP_MAX_LIST     64 /* entries in any list we decode */
#define TB_TEEP_TOKEN_MIN    8
#define TB_TEEP_TOKEN_MAX    64
#define TB_TEEP_MSG_MAX      128 /* msg / err-msg, bytes */
#define TB_TEEP_FORMAT_MAX   256 /* attestation-payload-format, bytes */

/* An owned byte string (malloc()ed). */
struct tb_buf {
	uint8_t *ptr;
	size_t len;
};

/* SUIT_Component_Identifier: an array of byte strings. */
struct tb_component_id {
	size_t n;
	struct tb_buf seg[TB_TEEP_MAX_SEGMENTS];
};

/*
 * One decoded or to-be-encoded message. Which members mean something
 * depends on type; everything is owned by the struct and released by
 * tb_teep_msg_clear(). Lists hold at most TB_TEEP_MAX_LIST entries.
 */
struct tb_teep_msg {
	enum tb_teep_type type;
	struct tb_buf token; /* len 0: absent */

	/* QueryRequest */
	struct tb_buf challenge; /* len 0: absent */
	uint64_t data_item_requested;
	/* cipher suites offered, as the raw CBOR of element 3 (encode: NULL
	 * means [[[18,-9]],[[18,-19]]] for draft-26, [[[18,-7]],[[18,-8]]] for
	 * the older numbering) */
	struct tb_buf cipher_suites_cbor;
	/* supported-suit-cose-profiles, raw CBOR of element 4 (encode: NULL
	 * means [[-16,-9,-29,-65534]] in both numberings). Error messages carry
	 * both lists as options 1 and 4 when set. */
	struct tb_buf suit_cose_profiles_cbor;
	/* versions (QueryRequest; Error with ERR_UNSUPPORTED_MSG_VERSION):
	 * has_versions set when the option is present, bit v of versions_mask
	 * for each version v < 64 offered. Encoding writes [0], the only
	 * version, whenever has_versions is set. */
	int has_versions;
	uint64_t versions_mask;

	/* QueryResponse */
	struct tb_component_id *tc_list; /* installed components */
	size_t n_tc_list;
	struct tb_component_id *requested_tc_list;
	size_t n_requested_tc_list;
	struct tb_component_id *unneeded_manifest_list; /* also in Update */
	size_t n_unneeded_manifest_list;

	/* Update */
	struct tb_buf *manifest_list; /* each a SUIT_Envelope */
	size_t n_manifest_list;
	/* tb_teep_decode_borrowed()'s input: manifest_list entries inside it
	 * are not copies (not freed by tb_teep_msg_clear) */
	const uint8_t *borrowed;
	size_t borrowed_len;

	/* QueryResponse (Evidence) and Update (an Attestation Result):
	 * attestation-payload and its attestation-payload-format, a media
	 * type (NUL-terminated, at most TB_TEEP_FORMAT_MAX bytes; NULL:
	 * absent). */
	struct tb_buf attestation_payload; /* len 0: absent */
	char *attestation_payload_format;

	/* Success and Error: suit-reports, each the bytes of a SUIT_Report
	 * (draft-ietf-suit-report), at most TB_TEEP_MAX_LIST. */
	struct tb_buf *suit_reports;
	size_t n_suit_reports;

	/* Success (msg), Error and Update (err_code, err_msg) */
	uint64_t err_code; /* 0: absent (Error requires it) */
	char *msg;         /* NUL-terminated or NULL */
	char *err_msg;     /* NUL-terminated or NULL */
};

/* Wire value of a logical type under a numbering, and back (0 if unknown). */
int tb_teep_type_to_wire(enum tb_numbering num, enum tb_teep_type type);
/* An error code as the wire carries it in that numbering (decoded messages
 * hold draft-26 codes: ERR_MANIFEST_PROCESSING_FAILED is 17 in pre-26). */
uint64_t tb_teep_err_code_to_wire(enum tb_numbering num, uint64_t code);
enum tb_teep_type tb_teep_type_from_wire(enum tb_numbering num, uint64_t wire);
const char *tb_teep_type_name(enum tb_teep_type type);

/*
 * Decode and validate an unprotected TEEP message. Unknown option labels are
 * ignored, as the draft requires. On failure returns TB_ERR_PARSE (or
 * TB_ERR_TOOBIG) and writes a reason naming the field into err.
 */
int tb_teep_decode(const uint8_t *buf, size_t len, enum tb_numbering num, struct tb_teep_msg *m,
                   char *err, size_t errlen);

/* The same, but the manifest-list entries (a large component's envelope)
 * point into buf instead of being copies: buf must outlive m, and nothing
 * may write through them. */
int tb_teep_decode_borrowed(const uint8_t *buf, size_t len, enum tb_numbering num,
                            struct tb_teep_msg *m, char *err, size_t errlen);

/* Encode m (type and its members) into a malloc()ed buffer. */
int tb_teep_encode(const struct tb_teep_msg *m, enum tb_numbering num, uint8_t **out,
                   size_t *out_len);

void tb_teep_msg_clear(struct tb_teep_msg *m);

/*
 * Type of the TEEP message inside a COSE_Sign1/COSE_Sign, without verifying
 * the signature: for traces and progress reports only. TB_TEEP_NONE if it
 * cannot be told.
 */
enum tb_teep_type tb_teep_peek_type(const uint8_t *cose, size_t len, enum tb_numbering num);
/* The same for an unprotected TEEP message: its first items only (an array
 * of the length its type has, the type first), streaming, no allocation;
 * the rest of the message is not looked at. */
enum tb_teep_type tb_teep_peek_payload_type(const uint8_t *buf, size_t len, enum tb_numbering num);

/* Component id helpers. */
int tb_component_id_copy(struct tb_component_id *dst, const struct tb_component_id *src);
void tb_component_id_clear(struct tb_component_id *c);
int tb_component_id_equal(const struct tb_component_id *a, const struct tb_component_id *b);
/* Text form for logs and file names: segments joined by '/', printable
 * ASCII segments as is, others as lowercase hex. Returns the length written
 * (truncated to outlen - 1). */
size_t tb_component_id_format(const struct tb_component_id *c, char *out, size_t outlen);
/* Parse that text form back ("TEEP-Device/SecureFS/0x8d82...f74/ta"): a
 * segment starting with "0x" is hex, others are taken as bytes. A bare UUID
 * "8d82573a-926d-4754-9353-32dc29997f74" expands to the Trusted Component id
 * ['TEEP-Device', 'SecureFS', h'UUID', 'ta'] used by the draft's examples. */
int tb_component_id_parse(const char *text, struct tb_component_id *out);

#endif

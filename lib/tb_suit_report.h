/*
 * SUIT Reports (draft-ietf-suit-report) as the software Agent sends them in
 * the suit-reports of a TEEP Success or Error, and as a TAM reads them:
 *
 *   SUIT_Report = {
 *     99: [manifest-uri tstr, manifest-digest [-16, bstr]],  suit-reference
 *     ? 2: nonce bstr,                                        suit-report-nonce
 *     3: [* SUIT_Record],                                     suit-report-records
 *     4: true / {5: code int, 6: SUIT_Record, 7: reason int}  suit-report-result
 *   }
 *   SUIT_Record = [manifest-id [* uint], manifest-section int,
 *                  section-offset uint, component-index uint, SUIT_Parameters]
 *
 * Unprotected (the TEEP message around it is signed). On success one record
 * says what was installed: parameter-image-digest (3) and image-size (14) of
 * component 0. On failure the result record names the manifest section,
 * the failing command's position in it (section-offset is that index, not a
 * byte offset), the component index and, if one was set, parameter-uri
 * (21); result-code is the command's SUIT code (21: directive-fetch).
 */
#ifndef TB_SUIT_REPORT_H
#define TB_SUIT_REPORT_H

#include "tb_suit.h"

#include <stddef.h>
#include <stdint.h>

/* SUIT_Report_Reasons */
#define TB_SUIT_REASON_OK                  0
#define TB_SUIT_REASON_CBOR_PARSE          1
#define TB_SUIT_REASON_UNAUTHORISED        4
#define TB_SUIT_REASON_COMMAND_UNSUPPORTED 5
#define TB_SUIT_REASON_CONDITION_FAILED    10
#define TB_SUIT_REASON_OPERATION_FAILED    11

#define TB_SUIT_REPORT_MAX       4096 /* bytes of a report we read */
#define TB_SUIT_REPORT_NONCE_MAX 64

struct tb_suit_report {
	uint8_t manifest_digest[32];
	uint8_t nonce[TB_SUIT_REPORT_NONCE_MAX];
	size_t nonce_len; /* 0: none */
	int ok;
	/* ok: what was installed (has_image 0: not said) */
	int has_image;
	uint8_t image_digest[32];
	uint64_t image_size;
	/* !ok: where it failed */
	int64_t result_code; /* the command */
	int64_t reason;      /* TB_SUIT_REASON_* */
	int64_t section;
	uint64_t offset; /* the command's position in the section */
	uint64_t component_index;
	char uri[TB_SUIT_FAIL_URI_MAX + 1];
};

/* The reason for a failure's TB_ERR_* status. */
int64_t tb_suit_report_reason(int status);
/* A report for a failure recorded by tb_suit_process_ex. */
void tb_suit_report_of_failure(const struct tb_suit_failure *f, struct tb_suit_report *r);

int tb_suit_report_encode(const struct tb_suit_report *r, uint8_t **out, size_t *out_len);
/* Decode one report (at most TB_SUIT_REPORT_MAX bytes); unknown members
 * are ignored. TB_ERR_PARSE when it is not one. */
int tb_suit_report_decode(const uint8_t *buf, size_t len, struct tb_suit_report *r);

#endif

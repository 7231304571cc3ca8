/*
 * The broker's own check of a TEEP message that claims to come from a TAM,
 * before any TEE sees it (docs/defences.md section 8): an app acting as its
 * own TAM hands the broker messages for the Agent, and a forged one should
 * cost the app its score, not the TEE its time.
 *
 * In order, cheapest first: the size; a COSE_Sign1 or COSE_Sign with an
 * attached payload (tagged 18 or 98, or untagged); a payload that starts as
 * a TEEP message of a type a TAM may send (QueryRequest or Update) in the
 * configured numbering; a signature that verifies with one of the keys given
 * for that TAM; and, once signed, a payload that decodes as a TEEP message.
 * No I/O, no logging: the caller logs the reason, never the message.
 *
 * The first checks (tb_precheck_shape) are streaming walks over the bytes:
 * linear, without allocation, fit for the event loop. The whole check
 * verifies a signature and decodes the payload: it runs on a TEE's worker
 * thread, inside the call that hands the message to the Agent (tee.c).
 */
#ifndef TB_PRECHECK_H
#define TB_PRECHECK_H

#include "tb_cose.h"
#include "tb_teep.h"

#include <stddef.h>
#include <stdint.h>

enum tb_precheck {
	TB_PRECHECK_OK = 0,
	TB_PRECHECK_SIZE,      /* empty, or larger than the bound */
	TB_PRECHECK_NOT_COSE,  /* not a COSE_Sign1/COSE_Sign with an attached payload */
	TB_PRECHECK_NOT_TEEP,  /* the payload is no TEEP message in this numbering */
	TB_PRECHECK_TYPE,      /* a TEEP message a TAM does not send */
	TB_PRECHECK_ALGORITHM, /* no signature in an algorithm the broker verifies */
	TB_PRECHECK_SIGNATURE, /* no signature verifies with the TAM's keys */
	TB_PRECHECK_NOMEM      /* out of memory: not the sender's fault */
};

/*
 * Check msg[0..len) as a message from the TAM whose public keys are
 * keys[0..n_keys). max_len bounds len. *type_out (may be NULL) gets the
 * message's type once it is known, else TB_TEEP_NONE.
 */
enum tb_precheck tb_precheck_tam_message(const uint8_t *msg, size_t len, size_t max_len,
                                         struct tb_key *const *keys, size_t n_keys,
                                         enum tb_numbering num, enum tb_teep_type *type_out);

/* The checks before the signature: size, COSE structure, TEEP type. */
enum tb_precheck tb_precheck_shape(const uint8_t *msg, size_t len, size_t max_len,
                                   enum tb_numbering num, enum tb_teep_type *type_out);

/* A short reason for logs and answers ("bad signature", ...). */
const char *tb_precheck_reason(enum tb_precheck r);

#endif

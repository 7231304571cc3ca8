/*
 * configfs-tsm (Linux 6.7+, Documentation/ABI/testing/configfs-tsm): the
 * kernel's common interface to the attestation reports of confidential VM
 * guests (AMD SEV-SNP "sev_guest", Intel TDX "tdx_guest", Arm CCA
 * "arm_cca_guest"). A report entry is a directory under
 * /sys/kernel/config/tsm/report; writing its inblob (the 64-byte report
 * data) and reading its outblob yields a hardware report bound to inblob.
 *
 * The Agent binds the report to its Evidence: inblob = SHA-512(eat_nonce),
 * 64 bytes, exactly what every provider takes as report data.
 *
 * One call (tb_tsm_report) does what the ABI asks of a careful user:
 *   mkdir DIR/teep-agent (an existing entry is reused), read generation,
 *   write inblob, read outblob, read provider, read generation again: it
 *   must be one more than before (our write), or someone else wrote to the
 *   entry between our write and our read, and the report may be bound to
 *   their inblob. Then it starts again, at most TB_TSM_TRIES times.
 * The entry is left in place (another Agent in the guest may share it).
 *
 * Blocking file I/O: call it from a thread that may block (the Agent's).
 */
#ifndef TB_TSM_H
#define TB_TSM_H

#include <stddef.h>
#include <stdint.h>

#define TB_TSM_DEFAULT_PATH "/sys/kernel/config/tsm/report"
#define TB_TSM_ENTRY        "teep-agent"
#define TB_TSM_INBLOB_LEN   64
#define TB_TSM_OUTBLOB_MAX  (16u * 1024u) /* an SNP report is 1184 bytes, a TDX quote ~5k */
#define TB_TSM_PROVIDER_MAX 32
#define TB_TSM_TRIES        3

struct tb_tsm_report {
	char provider[TB_TSM_PROVIDER_MAX + 1];
	uint64_t generation; /* after our write */
	uint8_t inblob[TB_TSM_INBLOB_LEN];
	uint8_t outblob[TB_TSM_OUTBLOB_MAX];
	size_t outblob_len;
};

/* inblob for a nonce: SHA-512(nonce). TB_OK or TB_ERR_INVAL. */
int tb_tsm_inblob(const uint8_t *nonce, size_t len, uint8_t out[TB_TSM_INBLOB_LEN]);

/*
 * Ask the configfs-tsm report directory dir for a report bound to inblob.
 * TB_OK with *r filled; TB_ERR_NOTFOUND when dir does not exist (no
 * configfs-tsm: not a confidential VM guest, or an older kernel);
 * TB_ERR_BUSY when the generation showed a concurrent writer every time;
 * TB_ERR_TOOBIG when outblob is larger than TB_TSM_OUTBLOB_MAX;
 * TB_ERR_IO otherwise (err says what failed).
 */
int tb_tsm_report(const char *dir, const uint8_t inblob[TB_TSM_INBLOB_LEN], struct tb_tsm_report *r,
                  char *err, size_t errlen);

/*
 * Where the provider's report keeps its 64 bytes of report data (the
 * inblob) in outblob, from the vendors' report layouts: sev_guest
 * (ATTESTATION_REPORT, REPORT_DATA at 0x50), tdx_guest (a quote v4:
 * 48-byte header, REPORTDATA at 520 of the TD quote body). -1 for any
 * other provider (arm_cca_guest's is a CBOR token: not located here).
 * Neither layout was tried on hardware.
 */
long tb_tsm_report_data_offset(const char *provider);

#endif

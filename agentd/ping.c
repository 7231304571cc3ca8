/*
 * teep-agentd --ping ADDR: connect to a teep-agentd (or any server of the
 * Agent protocol), say hello and print what it answers. For operators who
 * check that the host reaches the Agent, and for tests that probe a
 * transport (vsock loopback) before they rely on it.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agentd.h"
#include "tb_util.h"

int ad_ping(const char *addr, uint64_t timeout_ms)
{
	struct tb_ap_msg hello = {.type = TB_AP_HELLO,
	                          .versions = {TB_AP_VERSION},
	                          .n_versions = 1,
	                          .client = "teep-agentd --ping"};
	struct tb_ap_msg m;
	struct tb_ap_reader rd;
	struct tb_as_addr a;
	uint64_t deadline = tb_now_ms() + timeout_ms;
	uint8_t *f = NULL;
	size_t len;
	char err[256];
	int fd = -1, rc, code, status = 1;

	tb_ap_reader_init(&rd, TB_AP_MAX_MAX_FRAME);
	if (tb_as_parse(addr, &a, err, sizeof(err)) != TB_OK ||
	    tb_as_connect(&a, timeout_ms, &fd, err, sizeof(err)) != TB_OK) {
		fprintf(stderr, "teep-agentd: %s\n", err);
		return 1;
	}
	rc = tb_ap_encode(&hello, &f, &len);
	if (rc == TB_OK)
		rc = tb_as_send(fd, f, len, deadline, err, sizeof(err));
	free(f);
	f = NULL;
	if (rc == TB_OK)
		rc = tb_as_recv_frame(fd, &rd, deadline, &f, &len, err, sizeof(err));
	if (rc == TB_OK)
		rc = tb_ap_decode(f, len, &m, &code, err, sizeof(err));
	if (rc != TB_OK) {
		fprintf(stderr, "teep-agentd: %s: %s\n", addr, err);
	} else if (m.type == TB_AP_WELCOME) {
		printf("%s: protocol version %llu, %s, max-frame %llu, max-calls %llu\n", addr,
		       (unsigned long long)m.version, m.agent, (unsigned long long)m.max_frame,
		       (unsigned long long)m.max_calls);
		status = m.version == TB_AP_VERSION ? 0 : 1;
	} else if (m.type == TB_AP_ANSWER && m.code != TB_AP_OK) {
		fprintf(stderr, "teep-agentd: %s refused: %s: %s\n", addr, tb_ap_code_name(m.code),
		        m.reason);
	} else {
		fprintf(stderr, "teep-agentd: %s answered a %s, not a welcome\n", addr,
		        tb_ap_type_name(m.type));
	}
	if (rc == TB_OK)
		tb_ap_msg_clear(&m);
	free(f);
	tb_ap_reader_clear(&rd);
	close(fd);
	return status;
}

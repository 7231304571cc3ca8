/*
 * Apps acting as their own TAM (apptam.c): the tam-session, tam-message and
 * tam-end ops of the app API.
 */
#ifndef TB_APPTAM_H
#define TB_APPTAM_H

#include <stddef.h>
#include <stdint.h>

struct tb_broker;
struct tb_ua_conn;
struct tb_ua_request;
struct tb_call;
struct tb_apptam;

enum tb_apptam_verdict {
	TB_APPTAM_ANSWERED, /* answered, or started: nothing more to do */
	TB_APPTAM_CHARGE    /* it passed its checks and would call the TEE: charge the
	                       "tee-calls" zones, then call again with charged = 1 */
};

/* One tam op of c. charged: the "tee-calls" zones have been charged for it
 * (its checks, the pre-check included, already ran in an earlier call). */
enum tb_apptam_verdict tb_apptam_request(struct tb_ua_conn *c, const struct tb_ua_request *req,
                                         int charged);
/* Is id the open tam-session of c, or its tam-message in the TEE? */
int tb_apptam_id_in_use(const struct tb_ua_conn *c, uint64_t id);
/* A call of a tam-session is back from the TEE (tee.c). */
void tb_apptam_call_done(struct tb_call *c);
/* c is closing: its tam-session ends (the Agent session is closed). */
void tb_apptam_conn_closed(struct tb_ua_conn *c);
/* The broker begins to stop: tam-sessions without a call in the TEE end
 * now with "shutdown", the others once the call is back. */
void tb_apptam_stopping(struct tb_broker *b);
/* The grace period is over: every tam-session ends now. */
void tb_apptam_abort_all(struct tb_broker *b);
/* At exit, after the loop and the TEEs: free what is left. */
void tb_apptam_free_all(struct tb_broker *b);
/* Load the [app-tam:IDENTITY] keys. */
int tb_apptam_setup(struct tb_broker *b, char *err, size_t errlen);
void tb_apptam_teardown(struct tb_broker *b);

#endif

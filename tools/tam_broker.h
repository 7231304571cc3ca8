/*
 * teep-tam --via-broker: the reference TAM speaking to a TEEP Broker's app
 * API as an app acting as its own TAM (tam_broker.c).
 */
#ifndef TAM_BROKER_H
#define TAM_BROKER_H

#include "tam_core.h"

struct tam_broker_opts {
	const char *url;   /* ws://HOST:PORT/ */
	const char *token; /* bearer token, or NULL */
	const char *tee;   /* or NULL: the broker's choice */
	enum tb_numbering numbering;
	unsigned timeout_s;
};

/* Run one tam-session through the broker; returns the exit status
 * (0 completed, 1 error answer, 2 usage, 3 connection, 4 busy, 5 timeout,
 * 6 attestation not affirming: no Update was sent). */
int tam_via_broker(struct tam_core *core, const struct tam_broker_opts *o);

#endif

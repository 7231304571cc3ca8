/*
 * Whether a TEE can serve, for /metrics (teep_tee_up) and /healthz.
 *
 * Drivers of ABI 1.0 report no health: a TEE whose driver was set up is
 * taken as up.
 */
#include "config.h"
#include "broker.h"

int tb_tee_is_up(const struct tb_tee *t)
{
	(void)t;
	return 1;
}

/*
 * Driver objects for the loader tests and the daemon's startup tests: one
 * source, built several times with different defects (see tests/broker.mk).
 */
#include <stdlib.h>
#include <teep-broker/driver.h>

#ifndef FAKE_MAGIC
#define FAKE_MAGIC TB_DRIVER_MAGIC
#endif
#ifndef FAKE_MAJOR
#define FAKE_MAJOR TB_DRIVER_ABI_MAJOR
#endif
#ifndef FAKE_MINOR
#define FAKE_MINOR TB_DRIVER_ABI_MINOR
#endif
#ifndef FAKE_SIZE
#define FAKE_SIZE sizeof(struct tb_driver)
#endif

__attribute__((unused)) static int fake_init(const struct tb_host *host, const struct tb_kv *opts,
                                             size_t n, void **inst)
{
	*inst = NULL;
#ifdef FAKE_INIT_FAILS
	host->log(host, TB_LOG_ERR, "fake driver refuses to start");
	return TB_ERR_INVAL;
#else
	return TB_OK;
#endif
}

static void fake_fini(void *inst)
{
}

static int fake_request(void *inst, const struct tb_ta_request *req, struct tb_agent_out *out)
{
	return TB_OK;
}

static int fake_policy(void *inst, struct tb_agent_out *out)
{
	return TB_OK;
}

static int fake_msg(void *inst, void *s, const char *mt, const uint8_t *m, size_t n,
                    struct tb_agent_out *out)
{
	return TB_OK;
}

static void fake_error(void *inst, void *s)
{
}

#ifndef FAKE_NO_ENTRY
__attribute__((visibility("default"))) const struct tb_driver tb_driver_entry = {
    .magic = FAKE_MAGIC,
    .abi_major = FAKE_MAJOR,
    .abi_minor = FAKE_MINOR,
    .struct_size = FAKE_SIZE,
    .name = "fake",
    .version = "0",
    .tee_kind = "none",
#ifndef FAKE_NO_INIT
    .init = fake_init,
#endif
    .fini = fake_fini,
    .request_ta = fake_request,
    .unrequest_ta = fake_request,
    .request_policy_check = fake_policy,
    .process_teep_message = fake_msg,
    .process_error = fake_error,
};
#else
/* Keeps the operations referenced so the object builds without warnings. */
__attribute__((visibility("default"))) const void *not_a_driver[] = {
    (const void *)fake_init,   (const void *)fake_fini, (const void *)fake_request,
    (const void *)fake_policy, (const void *)fake_msg,  (const void *)fake_error};
#endif

/*
 * An emulated OP-TEE for tests: the real optee driver (drivers/optee) linked
 * with a stand-in for the Linux TEE subsystem (dev.c: open, ioctl and close
 * of /dev/teeN wrapped at link time, shared memory as memfds) whose TEEP
 * Agent TA (ta.c) is the software Agent of drivers/sim, reached through the
 * command ids and parameter layout of docs/optee-driver.md exactly. Built as
 * the test-only driver module tests/unit/optee_emul.la, which
 * teep-driver-check runs (tests/integration/driver_check.sh).
 *
 * The TA checks every call against the documented interface and aborts the
 * process, with the reason in the driver's log, on the first breach: a
 * driver that gets the interface wrong cannot pass the checks.
 */
#ifndef OPTEE_EMUL_H
#define OPTEE_EMUL_H

#include <stddef.h>
#include <stdint.h>

#include <linux/tee.h>
#include <teep-broker/driver.h>

/* The TA's configuration: the sim Agent's options (drivers/sim), owned. */
struct emul_ta_conf {
	const struct tb_host *log_host; /* the driver's host: the TA logs through it */
	struct tb_kv *opts;
	size_t n_opts;
};

struct emul_ta;

/* A TA instance for one TEE session (TEE_IOC_OPEN_SESSION): TEEC_SUCCESS
 * or a TEE error. */
uint32_t emul_ta_open(const struct emul_ta_conf *conf, struct emul_ta **out);
/* TEE_IOC_CLOSE_SESSION: every exchange must have been closed (command 6). */
void emul_ta_close(struct emul_ta *ta);

/* One TEE_IOC_INVOKE: func and the four parameters as the driver passed
 * them; mem(id, offset, size) gives the bytes of a memref, NULL when they
 * are not inside a shared memory object. Updates params as OP-TEE does and
 * returns the TEE result. */
typedef uint8_t *(*emul_mem_fn)(uint64_t shm_id, uint64_t offset, uint64_t size);
uint32_t emul_ta_invoke(struct emul_ta *ta, uint32_t func, uint32_t num_params,
                        struct tee_ioctl_param *params, emul_mem_fn mem);

/* A breach of the documented interface: logged, then abort(). */
void emul_breach(const struct tb_host *log_host, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif

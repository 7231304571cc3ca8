/*
 * The Linux TEE subsystem's ioctls (<linux/tee.h>) for the optee driver.
 * Five system calls reach the kernel: open, ioctl, mmap, munmap and close;
 * the unit test replaces exactly these (tests/unit/test_optee.c).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <teep-broker/driver.h>

#include "teec.h"
#include "tb_util.h"

int teec_open(const char *path, struct teec_dev *dev, char *err, size_t errlen)
{
	struct tee_ioctl_version_data v;
	int fd, e;

	dev->fd = -1;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		if (e == ENOENT || e == ENODEV || e == ENXIO)
			return tb_err(err, errlen, TB_ERR_NOTFOUND,
			              "no TEE device at %s: %s (is the OP-TEE driver loaded?)",
			              path, strerror(e));
		return tb_err(err, errlen, TB_ERR_IO, "cannot open the TEE device %s: %s", path,
		              strerror(e));
	}
	memset(&v, 0, sizeof(v));
	if (ioctl(fd, TEE_IOC_VERSION, &v) != 0) {
		e = errno;
		close(fd);
		return tb_err(err, errlen, TB_ERR_UNSUP,
		              "%s does not answer TEE_IOC_VERSION (%s): not a TEE device", path,
		              strerror(e));
	}
	if (v.impl_id != TEE_IMPL_ID_OPTEE) {
		close(fd);
		return tb_err(err, errlen, TB_ERR_UNSUP, "%s is not OP-TEE: implementation id %u%s",
		              path, v.impl_id, v.impl_id == TEE_IMPL_ID_AMDTEE ? " (AMD-TEE)" : "");
	}
	if (v.gen_caps & TEE_GEN_CAP_PRIVILEGED) {
		close(fd);
		return tb_err(err, errlen, TB_ERR_UNSUP,
		              "%s is the privileged device of tee-supplicant; use /dev/teeN", path);
	}
	if (!(v.gen_caps & TEE_GEN_CAP_GP)) {
		close(fd);
		return tb_err(err, errlen, TB_ERR_UNSUP,
		              "%s is OP-TEE but does not offer the GlobalPlatform interface "
		              "(capabilities 0x%x)",
		              path, v.gen_caps);
	}
	dev->fd = fd;
	dev->impl_id = v.impl_id;
	dev->impl_caps = v.impl_caps;
	dev->gen_caps = v.gen_caps;
	return TB_OK;
}

void teec_close(struct teec_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = -1;
}

int teec_open_session(struct teec_dev *dev, const uint8_t uuid[TEE_IOCTL_UUID_LEN],
                      uint32_t *session, struct teec_result *res, char *err, size_t errlen)
{
	union {
		struct tee_ioctl_open_session_arg arg;
		uint8_t raw[sizeof(struct tee_ioctl_open_session_arg) +
		            TEEC_NUM_PARAMS * sizeof(struct tee_ioctl_param)];
	} u;
	struct tee_ioctl_buf_data buf = {.buf_ptr = (uintptr_t)&u, .buf_len = sizeof(u)};

	memset(&u, 0, sizeof(u));
	memcpy(u.arg.uuid, uuid, TEE_IOCTL_UUID_LEN);
	u.arg.clnt_login = TEE_IOCTL_LOGIN_PUBLIC;
	u.arg.num_params = TEEC_NUM_PARAMS; /* all TEE_IOCTL_PARAM_ATTR_TYPE_NONE */
	res->ret = TEEC_ERROR_COMMUNICATION;
	res->origin = TEEC_ORIGIN_COMMS;
	if (ioctl(dev->fd, TEE_IOC_OPEN_SESSION, &buf) != 0)
		return tb_err(err, errlen, TB_ERR_IO, "TEE_IOC_OPEN_SESSION: %s", strerror(errno));
	res->ret = u.arg.ret;
	res->origin = u.arg.ret_origin;
	if (u.arg.ret != TEEC_SUCCESS)
		return tb_err(err, errlen, TB_ERR_TEE, "%s (0x%08x) from %s",
		              teec_result_name(u.arg.ret), u.arg.ret,
		              teec_origin_name(u.arg.ret_origin));
	*session = u.arg.session;
	return TB_OK;
}

void teec_close_session(struct teec_dev *dev, uint32_t session)
{
	struct tee_ioctl_close_session_arg arg = {.session = session};

	if (dev->fd >= 0)
		(void)ioctl(dev->fd, TEE_IOC_CLOSE_SESSION, &arg);
}

int teec_shm_alloc(struct teec_dev *dev, size_t size, struct teec_shm *shm, char *err,
                   size_t errlen)
{
	struct tee_ioctl_shm_alloc_data data = {.size = size};
	void *p;
	int fd, e;

	shm->fd = -1;
	shm->ptr = NULL;
	if (size == 0)
		return tb_err(err, errlen, TB_ERR_INVAL, "shared memory of 0 bytes");
	fd = ioctl(dev->fd, TEE_IOC_SHM_ALLOC, &data);
	if (fd < 0)
		return tb_err(err, errlen, TB_ERR_NOMEM, "TEE_IOC_SHM_ALLOC of %zu bytes: %s", size,
		              strerror(errno));
	if (data.size < size) {
		close(fd);
		return tb_err(err, errlen, TB_ERR_TEE,
		              "TEE_IOC_SHM_ALLOC gave %llu bytes for %zu asked",
		              (unsigned long long)data.size, size);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		e = errno;
		close(fd);
		return tb_err(err, errlen, TB_ERR_NOMEM,
		              "cannot map %zu bytes of TEE shared memory: %s", size, strerror(e));
	}
	shm->fd = fd;
	shm->id = data.id;
	shm->ptr = p;
	shm->size = size;
	return TB_OK;
}

void teec_shm_free(struct teec_shm *shm)
{
	if (shm->ptr)
		munmap(shm->ptr, shm->size);
	if (shm->fd >= 0)
		close(shm->fd);
	shm->ptr = NULL;
	shm->fd = -1;
}

int teec_invoke(struct teec_dev *dev, uint32_t session, uint32_t func,
                struct tee_ioctl_param params[TEEC_NUM_PARAMS], struct teec_result *res, char *err,
                size_t errlen)
{
	union {
		struct tee_ioctl_invoke_arg arg;
		uint8_t raw[sizeof(struct tee_ioctl_invoke_arg) +
		            TEEC_NUM_PARAMS * sizeof(struct tee_ioctl_param)];
	} u;
	struct tee_ioctl_buf_data buf = {.buf_ptr = (uintptr_t)&u, .buf_len = sizeof(u)};

	memset(&u, 0, sizeof(u));
	u.arg.func = func;
	u.arg.session = session;
	u.arg.num_params = TEEC_NUM_PARAMS;
	memcpy(u.arg.params, params, TEEC_NUM_PARAMS * sizeof(*params));
	res->ret = TEEC_ERROR_COMMUNICATION;
	res->origin = TEEC_ORIGIN_COMMS;
	if (ioctl(dev->fd, TEE_IOC_INVOKE, &buf) != 0)
		return tb_err(err, errlen, TB_ERR_IO, "TEE_IOC_INVOKE: %s", strerror(errno));
	memcpy(params, u.arg.params, TEEC_NUM_PARAMS * sizeof(*params));
	res->ret = u.arg.ret;
	res->origin = u.arg.ret_origin;
	return TB_OK;
}

const char *teec_result_name(uint32_t ret)
{
	switch (ret) {
	case TEEC_SUCCESS:
		return "success";
	case TEEC_ERROR_GENERIC:
		return "generic error";
	case TEEC_ERROR_ACCESS_DENIED:
		return "access denied";
	case TEEC_ERROR_CANCEL:
		return "cancelled";
	case TEEC_ERROR_ACCESS_CONFLICT:
		return "access conflict";
	case TEEC_ERROR_EXCESS_DATA:
		return "excess data";
	case TEEC_ERROR_BAD_FORMAT:
		return "bad format";
	case TEEC_ERROR_BAD_PARAMETERS:
		return "bad parameters";
	case TEEC_ERROR_BAD_STATE:
		return "bad state";
	case TEEC_ERROR_ITEM_NOT_FOUND:
		return "item not found";
	case TEEC_ERROR_NOT_IMPLEMENTED:
		return "not implemented";
	case TEEC_ERROR_NOT_SUPPORTED:
		return "not supported";
	case TEEC_ERROR_NO_DATA:
		return "no data";
	case TEEC_ERROR_OUT_OF_MEMORY:
		return "out of memory";
	case TEEC_ERROR_BUSY:
		return "busy";
	case TEEC_ERROR_COMMUNICATION:
		return "communication error";
	case TEEC_ERROR_SECURITY:
		return "security error";
	case TEEC_ERROR_SHORT_BUFFER:
		return "short buffer";
	case TEEC_ERROR_TARGET_DEAD:
		return "target dead";
	case TEE_ERROR_SIGNATURE_INVALID:
		return "signature invalid";
	default:
		return "unknown result";
	}
}

const char *teec_origin_name(uint32_t origin)
{
	switch (origin) {
	case TEEC_ORIGIN_API:
		return "the client API";
	case TEEC_ORIGIN_COMMS:
		return "the communication stack";
	case TEEC_ORIGIN_TEE:
		return "the TEE";
	case TEEC_ORIGIN_TRUSTED_APP:
		return "the Trusted Application";
	default:
		return "an unknown origin";
	}
}

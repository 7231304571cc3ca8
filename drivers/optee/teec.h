/*
 * The Linux TEE subsystem's user interface (<linux/tee.h>), the small part
 * the optee driver needs: open a device and check it is OP-TEE, open and
 * close a session to a Trusted Application, allocate shared memory, invoke
 * a command. Only the kernel's ioctls: no libteec.
 */
#ifndef OPTEE_TEEC_H
#define OPTEE_TEEC_H

#include <stddef.h>
#include <stdint.h>

#include <linux/tee.h>

/* GlobalPlatform TEE Client API result codes (TEEC_*) the driver names. */
#define TEEC_SUCCESS                0x00000000u
#define TEEC_ERROR_GENERIC          0xFFFF0000u
#define TEEC_ERROR_ACCESS_DENIED    0xFFFF0001u
#define TEEC_ERROR_CANCEL           0xFFFF0002u
#define TEEC_ERROR_ACCESS_CONFLICT  0xFFFF0003u
#define TEEC_ERROR_EXCESS_DATA      0xFFFF0004u
#define TEEC_ERROR_BAD_FORMAT       0xFFFF0005u
#define TEEC_ERROR_BAD_PARAMETERS   0xFFFF0006u
#define TEEC_ERROR_BAD_STATE        0xFFFF0007u
#define TEEC_ERROR_ITEM_NOT_FOUND   0xFFFF0008u
#define TEEC_ERROR_NOT_IMPLEMENTED  0xFFFF0009u
#define TEEC_ERROR_NOT_SUPPORTED    0xFFFF000Au
#define TEEC_ERROR_NO_DATA          0xFFFF000Bu
#define TEEC_ERROR_OUT_OF_MEMORY    0xFFFF000Cu
#define TEEC_ERROR_BUSY             0xFFFF000Du
#define TEEC_ERROR_COMMUNICATION    0xFFFF000Eu
#define TEEC_ERROR_SECURITY         0xFFFF000Fu
#define TEEC_ERROR_SHORT_BUFFER     0xFFFF0010u
#define TEEC_ERROR_TARGET_DEAD      0xFFFF3024u
#define TEE_ERROR_SIGNATURE_INVALID 0xFFFF3072u

/* Where a result code came from (TEEC_ORIGIN_*). */
#define TEEC_ORIGIN_API         1u
#define TEEC_ORIGIN_COMMS       2u
#define TEEC_ORIGIN_TEE         3u
#define TEEC_ORIGIN_TRUSTED_APP 4u

/* Parameters per call: the GlobalPlatform Client API's four. */
#define TEEC_NUM_PARAMS 4

struct teec_dev {
	int fd;
	uint32_t impl_id, impl_caps, gen_caps;
};

/* Shared memory from TEE_IOC_SHM_ALLOC, mapped into the process. */
struct teec_shm {
	int fd;
	int32_t id;
	uint8_t *ptr;
	size_t size;
};

/* What the TEE answered to an open-session or an invoke. */
struct teec_result {
	uint32_t ret;
	uint32_t origin;
};

/*
 * Open the device and check it is OP-TEE, GlobalPlatform compliant and not
 * the supplicant's device. On failure err says why in words; the return is
 * TB_ERR_NOTFOUND when there is no device at path, TB_ERR_IO when it cannot
 * be opened, TB_ERR_UNSUP when it is not what the driver can use.
 */
int teec_open(const char *path, struct teec_dev *dev, char *err, size_t errlen);
void teec_close(struct teec_dev *dev);

/* Open a session with public login. TB_OK with *session set; TB_ERR_TEE
 * with *res set when the TEE refused; TB_ERR_IO when the ioctl failed. */
int teec_open_session(struct teec_dev *dev, const uint8_t uuid[TEE_IOCTL_UUID_LEN],
                      uint32_t *session, struct teec_result *res, char *err, size_t errlen);
void teec_close_session(struct teec_dev *dev, uint32_t session);

/* Allocate and map at least size bytes (size > 0). */
int teec_shm_alloc(struct teec_dev *dev, size_t size, struct teec_shm *shm, char *err,
                   size_t errlen);
void teec_shm_free(struct teec_shm *shm);

/* Invoke func with TEEC_NUM_PARAMS params, updated in place from the TEE's
 * answer. TB_OK when the ioctl succeeded (then *res holds the TEE's result,
 * which may be an error); TB_ERR_IO when it did not. */
int teec_invoke(struct teec_dev *dev, uint32_t session, uint32_t func,
                struct tee_ioctl_param params[TEEC_NUM_PARAMS], struct teec_result *res, char *err,
                size_t errlen);

/* Words for a result code and an origin. */
const char *teec_result_name(uint32_t ret);
const char *teec_origin_name(uint32_t origin);

#endif

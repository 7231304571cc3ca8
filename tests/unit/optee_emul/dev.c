/*
 * The emulated Linux TEE subsystem of the optee_emul test driver (emul.h):
 * open, ioctl and close are wrapped at link time (-Wl,--wrap), so the optee
 * driver's own teec.c runs unchanged. An open of /dev/teeN while the module
 * initialises an instance gets a device of its own (a descriptor of
 * /dev/null, so the number is the process's); TEE_IOC_SHM_ALLOC hands out a
 * memfd, which the driver maps as it would the kernel's; TEE_IOC_INVOKE goes
 * to the instance's TA (ta.c). Every other descriptor and ioctl passes
 * through.
 *
 * A system call carries no context, so the devices, sessions and shared
 * memory objects are one table per process, under one lock (held during an
 * invoke too: OP-TEE serves one call of a single-instance TA at a time; a
 * recursive one, as the TA's own files are opened and closed meanwhile).
 *
 * The module's descriptor is the optee driver's (optee.c is built with
 * -Dtb_driver_entry=optee_driver_entry) with init and fini wrapped: init
 * keeps the driver's own options (device, ta_uuid, max_message) for it and
 * hands the others, the sim Agent's, to the TA.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emul.h"
#include "teec.h"

/* optee.c's descriptor, renamed at build time */
extern const struct tb_driver optee_driver_entry;
#undef tb_driver_entry

#define MAX_DEVS     4
#define MAX_SESSIONS 8
#define MAX_SHM      16

struct emul_inst {
	void *optee;
	struct emul_ta_conf conf;
	uint8_t uuid[TEE_IOCTL_UUID_LEN]; /* the only TA this device has */
};

static struct {
	pthread_mutex_t lock;
	const struct emul_inst *initialising; /* main thread, during init */
	struct {
		int fd; /* -1: free */
		const struct emul_inst *inst;
	} dev[MAX_DEVS];
	struct {
		uint32_t id; /* 0: free */
		int dev_fd;
		struct emul_ta *ta;
	} sess[MAX_SESSIONS];
	struct {
		int fd; /* -1: free */
		int32_t id;
		uint8_t *ptr; /* our own mapping */
		size_t size;
	} shm[MAX_SHM];
	uint32_t next_session;
	int32_t next_shm;
	bool ready;
} k;

static pthread_once_t k_once = PTHREAD_ONCE_INIT;

static void lock_init(void)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&k.lock, &a);
	pthread_mutexattr_destroy(&a);
}

static void k_lock(void)
{
	pthread_once(&k_once, lock_init);
	pthread_mutex_lock(&k.lock);
}

static void tables_init(void)
{
	if (k.ready)
		return;
	for (int i = 0; i < MAX_DEVS; i++)
		k.dev[i].fd = -1;
	for (int i = 0; i < MAX_SHM; i++)
		k.shm[i].fd = -1;
	k.next_session = 1;
	k.next_shm = 1;
	k.ready = true;
}

void emul_breach(const struct tb_host *log_host, const char *fmt, ...)
{
	char line[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_host)
		log_host->log(log_host, TB_LOG_ERR,
		              "emulated OP-TEE: the driver broke the TA "
		              "interface (docs/optee-driver.md): %s",
		              line);
	fprintf(stderr, "emulated OP-TEE: the driver broke the TA interface: %s\n", line);
	abort();
}

/* The slot of a descriptor, or of a free slot for -1. */
static int dev_index(int fd)
{
	for (int i = 0; i < MAX_DEVS; i++)
		if (k.dev[i].fd == fd)
			return i;
	return -1;
}

static int shm_index_fd(int fd)
{
	for (int i = 0; i < MAX_SHM; i++)
		if (k.shm[i].fd == fd)
			return i;
	return -1;
}

/* The bytes of a memref, inside one shared memory object, or NULL. */
static uint8_t *mem(uint64_t id, uint64_t off, uint64_t size)
{
	for (int i = 0; i < MAX_SHM; i++)
		if (k.shm[i].fd >= 0 && (uint64_t)k.shm[i].id == id)
			return off <= k.shm[i].size && size <= k.shm[i].size - off
			           ? k.shm[i].ptr + off
			           : NULL;
	return NULL;
}

/* ---- the wrapped system calls ------------------------------------------ */

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __real_close(int fd);
int __wrap_close(int fd);
int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	va_start(ap, flags);
	if (flags & O_CREAT)
		mode = va_arg(ap, mode_t);
	va_end(ap);
	if (strncmp(path, "/dev/tee", 8) != 0 || !k.initialising)
		return __real_open(path, flags, mode);
	k_lock();
	tables_init();
	int slot = dev_index(-1);
	int fd = slot < 0 ? -1 : __real_open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		k.dev[slot].fd = fd;
		k.dev[slot].inst = k.initialising;
	} else if (slot < 0) {
		errno = EMFILE;
	}
	pthread_mutex_unlock(&k.lock);
	return fd;
}

int __wrap_close(int fd)
{
	k_lock();
	tables_init();
	int d = fd < 0 ? -1 : dev_index(fd), s = fd < 0 ? -1 : shm_index_fd(fd);
	if (d >= 0) {
		/* the kernel closes the sessions left on the device */
		for (int i = 0; i < MAX_SESSIONS; i++) {
			if (k.sess[i].id && k.sess[i].dev_fd == fd) {
				emul_ta_close(k.sess[i].ta);
				k.sess[i].id = 0;
			}
		}
		k.dev[d].fd = -1;
	} else if (s >= 0) {
		munmap(k.shm[s].ptr, k.shm[s].size);
		k.shm[s].fd = -1;
	}
	pthread_mutex_unlock(&k.lock);
	return __real_close(fd);
}

static int open_session(int d, struct tee_ioctl_buf_data *b)
{
	const struct emul_inst *in = k.dev[d].inst;
	struct tee_ioctl_open_session_arg *a = (void *)(uintptr_t)b->buf_ptr;
	int slot = -1;

	if (b->buf_len != sizeof(*a) + TEEC_NUM_PARAMS * sizeof(struct tee_ioctl_param))
		emul_breach(in->conf.log_host, "TEE_IOC_OPEN_SESSION with %llu bytes",
		            (unsigned long long)b->buf_len);
	if (a->clnt_login != TEE_IOCTL_LOGIN_PUBLIC)
		emul_breach(in->conf.log_host, "open session with login %u, not public",
		            a->clnt_login);
	for (unsigned i = 0; i < a->num_params && i < TEEC_NUM_PARAMS; i++)
		if (a->params[i].attr != TEE_IOCTL_PARAM_ATTR_TYPE_NONE)
			emul_breach(in->conf.log_host, "open session with parameter %u", i);
	a->ret_origin = TEEC_ORIGIN_TEE;
	a->session = 0;
	if (memcmp(a->uuid, in->uuid, sizeof(in->uuid)) != 0) {
		a->ret = TEEC_ERROR_ITEM_NOT_FOUND;
		return 0;
	}
	for (int i = 0; i < MAX_SESSIONS && slot < 0; i++)
		if (!k.sess[i].id)
			slot = i;
	if (slot < 0) {
		a->ret = TEEC_ERROR_OUT_OF_MEMORY;
		return 0;
	}
	a->ret = emul_ta_open(&in->conf, &k.sess[slot].ta);
	a->ret_origin = TEEC_ORIGIN_TRUSTED_APP;
	if (a->ret == TEEC_SUCCESS) {
		k.sess[slot].id = k.next_session++;
		k.sess[slot].dev_fd = k.dev[d].fd;
		a->session = k.sess[slot].id;
	}
	return 0;
}

static int session_index(int d, uint32_t id)
{
	for (int i = 0; id && i < MAX_SESSIONS; i++)
		if (k.sess[i].id == id && k.sess[i].dev_fd == k.dev[d].fd)
			return i;
	return -1;
}

static int shm_alloc(int d, struct tee_ioctl_shm_alloc_data *data)
{
	const struct tb_host *h = k.dev[d].inst->conf.log_host;
	int slot = shm_index_fd(-1), fd;
	void *p;

	if (data->flags != 0 || data->size == 0 || data->size > 256u * 1024 * 1024)
		emul_breach(h, "TEE_IOC_SHM_ALLOC of %llu bytes, flags 0x%x",
		            (unsigned long long)data->size, data->flags);
	if (slot < 0) {
		errno = ENOMEM;
		return -1;
	}
	fd = memfd_create("tee-shm", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)data->size) != 0 ||
	    (p = mmap(NULL, data->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		int e = errno;
		__real_close(fd);
		errno = e;
		return -1;
	}
	memset(p, 0x5a, data->size); /* the driver must not trust it */
	k.shm[slot].fd = fd;
	k.shm[slot].id = k.next_shm++;
	k.shm[slot].ptr = p;
	k.shm[slot].size = data->size;
	data->id = k.shm[slot].id;
	return fd;
}

static int invoke(int d, struct tee_ioctl_buf_data *b)
{
	const struct tb_host *h = k.dev[d].inst->conf.log_host;
	struct tee_ioctl_invoke_arg *a = (void *)(uintptr_t)b->buf_ptr;
	int s;

	if (b->buf_len != sizeof(*a) + TEEC_NUM_PARAMS * sizeof(struct tee_ioctl_param))
		emul_breach(h, "TEE_IOC_INVOKE with %llu bytes", (unsigned long long)b->buf_len);
	s = session_index(d, a->session);
	if (s < 0) {
		a->ret = TEEC_ERROR_BAD_PARAMETERS;
		a->ret_origin = TEEC_ORIGIN_COMMS;
		return 0;
	}
	a->ret = emul_ta_invoke(k.sess[s].ta, a->func, a->num_params, a->params, mem);
	a->ret_origin = TEEC_ORIGIN_TRUSTED_APP;
	return 0;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *argp;
	int rc = 0, d;

	va_start(ap, req);
	argp = va_arg(ap, void *);
	va_end(ap);
	k_lock();
	tables_init();
	d = fd < 0 ? -1 : dev_index(fd);
	if (d < 0) {
		pthread_mutex_unlock(&k.lock);
		return __real_ioctl(fd, req, argp);
	}
	switch (req) {
	case TEE_IOC_VERSION: {
		struct tee_ioctl_version_data *v = argp;
		v->impl_id = TEE_IMPL_ID_OPTEE;
		v->impl_caps = TEE_OPTEE_CAP_TZ;
		v->gen_caps = TEE_GEN_CAP_GP | TEE_GEN_CAP_REG_MEM;
		break;
	}
	case TEE_IOC_OPEN_SESSION:
		rc = open_session(d, argp);
		break;
	case TEE_IOC_CLOSE_SESSION: {
		int s = session_index(d, ((struct tee_ioctl_close_session_arg *)argp)->session);
		if (s < 0) {
			errno = EINVAL;
			rc = -1;
		} else {
			emul_ta_close(k.sess[s].ta);
			k.sess[s].id = 0;
		}
		break;
	}
	case TEE_IOC_SHM_ALLOC:
		rc = shm_alloc(d, argp);
		break;
	case TEE_IOC_INVOKE:
		rc = invoke(d, argp);
		break;
	default:
		errno = ENOTTY;
		rc = -1;
	}
	pthread_mutex_unlock(&k.lock);
	return rc;
}

/* ---- the module's descriptor: optee's, init and fini wrapped ------------ */

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9'   ? ch - '0'
	       : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
	                                : -1;
}

static void parse_uuid(const char *s, uint8_t out[TEE_IOCTL_UUID_LEN])
{
	size_t n = 0;

	for (; *s && s[1] && n < TEE_IOCTL_UUID_LEN; s++) {
		if (*s == '-')
			continue;
		if (hexval(s[0]) < 0 || hexval(s[1]) < 0)
			break;
		out[n++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
		s++;
	}
}

static void conf_free(struct emul_inst *e)
{
	for (size_t i = 0; i < e->conf.n_opts; i++) {
		free((char *)e->conf.opts[i].key);
		free((char *)e->conf.opts[i].value);
	}
	free(e->conf.opts);
	free(e);
}

static int emul_init(const struct tb_host *host, const struct tb_kv *opts, size_t n,
                     void **instance)
{
	struct emul_inst *e = calloc(1, sizeof(*e));
	struct tb_kv *drv = calloc(n + 1, sizeof(*drv));
	size_t n_drv = 0;
	int rc = TB_ERR_NOMEM;

	if (!e || !drv || !(e->conf.opts = calloc(n + 1, sizeof(*e->conf.opts))))
		goto out;
	e->conf.log_host = host;
	for (size_t i = 0; i < n; i++) {
		const char *key = opts[i].key;
		if (!strcmp(key, "device") || !strcmp(key, "ta_uuid") ||
		    !strcmp(key, "max_message")) {
			drv[n_drv++] = opts[i];
			if (!strcmp(key, "ta_uuid"))
				parse_uuid(opts[i].value, e->uuid);
			continue;
		}
		struct tb_kv *kv = &e->conf.opts[e->conf.n_opts];
		kv->key = strdup(key);
		kv->value = strdup(opts[i].value);
		e->conf.n_opts++;
		if (!kv->key || !kv->value)
			goto out;
	}
	if (optee_driver_entry.max_concurrency > 1)
		host->log(host, TB_LOG_WARN,
		          "the optee driver takes %u calls at once; this module declares one",
		          optee_driver_entry.max_concurrency);
	k.initialising = e;
	rc = optee_driver_entry.init(host, drv, n_drv, &e->optee);
	k.initialising = NULL;
out:
	free(drv);
	if (rc != TB_OK) {
		if (e)
			conf_free(e);
		return rc;
	}
	*instance = e;
	return TB_OK;
}

static void emul_fini(void *instance)
{
	struct emul_inst *e = instance;

	optee_driver_entry.fini(e->optee);
	conf_free(e);
}

static int emul_request_ta(void *instance, const struct tb_ta_request *req,
                           struct tb_agent_out *out)
{
	return optee_driver_entry.request_ta(((struct emul_inst *)instance)->optee, req, out);
}

static int emul_unrequest_ta(void *instance, const struct tb_ta_request *req,
                             struct tb_agent_out *out)
{
	return optee_driver_entry.unrequest_ta(((struct emul_inst *)instance)->optee, req, out);
}

static int emul_policy_check(void *instance, struct tb_agent_out *out)
{
	return optee_driver_entry.request_policy_check(((struct emul_inst *)instance)->optee, out);
}

static int emul_process_message(void *instance, void *session, const char *media_type,
                                const uint8_t *msg, size_t len, struct tb_agent_out *out)
{
	return optee_driver_entry.process_teep_message(((struct emul_inst *)instance)->optee,
	                                               session, media_type, msg, len, out);
}

static void emul_process_error(void *instance, void *session)
{
	optee_driver_entry.process_error(((struct emul_inst *)instance)->optee, session);
}

static void emul_session_close(void *instance, void *session)
{
	optee_driver_entry.session_close(((struct emul_inst *)instance)->optee, session);
}

__attribute__((visibility("default"))) const struct tb_driver tb_driver_entry = {
    .magic = TB_DRIVER_MAGIC,
    .abi_major = TB_DRIVER_ABI_MAJOR,
    .abi_minor = TB_DRIVER_ABI_MINOR,
    .struct_size = sizeof(struct tb_driver),
    .name = "optee",
    .version = "emulated",
    .tee_kind = "optee",
    .description = "the optee driver on an emulated OP-TEE whose TEEP Agent TA is the "
                   "software Agent (tests only)",
    .init = emul_init,
    .fini = emul_fini,
    .request_ta = emul_request_ta,
    .unrequest_ta = emul_unrequest_ta,
    .request_policy_check = emul_policy_check,
    .process_teep_message = emul_process_message,
    .process_error = emul_process_error,
    .session_close = emul_session_close,
    /* as the optee driver declares: one call at a time */
    .max_concurrency = 0,
};

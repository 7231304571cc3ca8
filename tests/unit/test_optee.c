/*
 * Unit tests of the "optee" driver through a mocked kernel: the test is
 * linked with -Wl,--wrap for open, close, ioctl, mmap and munmap, so the
 * driver's system calls on the TEE device land here. The mock records them
 * as one line of events (checked exactly), plays the Linux TEE subsystem
 * (version, sessions, shared memory) and hands each TEE_IOC_INVOKE to the
 * test's stand-in for the TEEP Agent TA.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#include <cmocka.h>

#include <teep-broker/driver.h>

#include "teec.h"
#include "teep_agent_ta.h"

extern const struct tb_driver tb_driver_entry;

#define TA_UUID    "8d82573a-926d-4754-9353-32dc29997f74"
#define DEV_FD     901
#define SHM_FD0    950
#define MAX_SHM    8
#define MAX_CALLS  8
#define EVENTS_CAP 4096
#define LOG_CAP    8192

/* ---- the mocked kernel ------------------------------------------------- */

struct shm {
	bool live;
	int fd;
	int32_t id;
	size_t size;
	uint8_t *buf;
};

/* One TEE_IOC_INVOKE as the TA saw it. */
struct call {
	uint32_t func, session, num_params;
	struct tee_ioctl_param p[TEEC_NUM_PARAMS]; /* as passed in */
	uint8_t in[256];
	size_t in_len;
	char text[256]; /* the string in the URI slot */
};

typedef uint32_t (*ta_fn)(struct call *c, struct tee_ioctl_param *p, int n);

static struct mock {
	int open_errno;
	int open_flags;
	struct tee_ioctl_version_data version;
	int version_errno;
	uint32_t open_ret, open_origin;
	uint8_t open_uuid[TEE_IOCTL_UUID_LEN];
	uint32_t open_login, open_num_params;
	uint32_t next_session;
	int invoke_errno;
	uint32_t invoke_origin;
	ta_fn ta;
	int n_calls;
	struct call calls[MAX_CALLS];
	struct shm shm[MAX_SHM];
	int32_t next_shm_id;
	char events[EVENTS_CAP];
} mk;

static void event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void event(const char *fmt, ...)
{
	size_t len = strlen(mk.events);
	va_list ap;

	if (len && len + 1 < EVENTS_CAP)
		mk.events[len++] = ' ';
	va_start(ap, fmt);
	vsnprintf(mk.events + len, EVENTS_CAP - len, fmt, ap);
	va_end(ap);
}

static struct shm *shm_by_id(uint64_t id)
{
	for (int i = 0; i < MAX_SHM; i++)
		if (mk.shm[i].live && (uint64_t)mk.shm[i].id == id)
			return &mk.shm[i];
	return NULL;
}

static struct shm *shm_by_fd(int fd)
{
	for (int i = 0; i < MAX_SHM; i++)
		if (mk.shm[i].live && mk.shm[i].fd == fd)
			return &mk.shm[i];
	return NULL;
}

/* The bytes a memref parameter points at, checked against its object. */
static uint8_t *memref(const struct tee_ioctl_param *p)
{
	struct shm *s = shm_by_id(p->c);

	assert_non_null(s);
	assert_true(p->a <= s->size && p->b <= s->size - p->a);
	return s->buf + p->a;
}

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __real_close(int fd);
int __wrap_close(int fd);
int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
int __wrap_munmap(void *addr, size_t len);

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (strncmp(path, "/dev/tee", 8) == 0) {
		event("open(%s)", path);
		mk.open_flags = flags;
		if (mk.open_errno) {
			errno = mk.open_errno;
			return -1;
		}
		return DEV_FD;
	}
	va_start(ap, flags);
	if (flags & O_CREAT)
		mode = va_arg(ap, mode_t);
	va_end(ap);
	return __real_open(path, flags, mode);
}

int __wrap_close(int fd)
{
	struct shm *s = shm_by_fd(fd);

	if (fd == DEV_FD) {
		event("close(dev)");
		return 0;
	}
	if (s) {
		event("close(shm%d)", s->id);
		s->live = false;
		free(s->buf);
		s->buf = NULL;
		return 0;
	}
	return __real_close(fd);
}

static int ioctl_shm_alloc(struct tee_ioctl_shm_alloc_data *d)
{
	for (int i = 0; i < MAX_SHM; i++) {
		struct shm *s = &mk.shm[i];

		if (s->live)
			continue;
		event("shm_alloc(%llu)", (unsigned long long)d->size);
		assert_int_equal(d->flags, 0);
		s->live = true;
		s->id = mk.next_shm_id++;
		s->fd = SHM_FD0 + i;
		s->size = d->size;
		s->buf = calloc(1, d->size);
		assert_non_null(s->buf);
		memset(s->buf, 0x5a, d->size); /* the driver must not trust it */
		d->id = s->id;
		return s->fd;
	}
	fail_msg("more shared memory than the mock holds");
	return -1;
}

static int ioctl_invoke(struct tee_ioctl_buf_data *b)
{
	struct tee_ioctl_invoke_arg *arg = (struct tee_ioctl_invoke_arg *)(uintptr_t)b->buf_ptr;
	struct call *c;

	assert_int_equal(b->buf_len, sizeof(*arg) + TEEC_NUM_PARAMS * sizeof(arg->params[0]));
	event("invoke(%u)", arg->func);
	if (mk.invoke_errno) {
		errno = mk.invoke_errno;
		return -1;
	}
	assert_true(mk.n_calls < MAX_CALLS);
	c = &mk.calls[mk.n_calls++];
	c->func = arg->func;
	c->session = arg->session;
	c->num_params = arg->num_params;
	memcpy(c->p, arg->params, sizeof(c->p));
	if ((arg->params[1].attr & TEE_IOCTL_PARAM_ATTR_TYPE_MASK) ==
	    TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT) {
		c->in_len = arg->params[1].b < sizeof(c->in) ? arg->params[1].b : sizeof(c->in);
		memcpy(c->in, memref(&arg->params[1]), c->in_len);
	}
	if ((arg->params[3].attr & TEE_IOCTL_PARAM_ATTR_TYPE_MASK) ==
	    TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT) {
		const char *t = (const char *)memref(&arg->params[3]);

		assert_non_null(memchr(t, 0, arg->params[3].b));
		snprintf(c->text, sizeof(c->text), "%s", t);
	}
	arg->ret = mk.ta ? mk.ta(c, arg->params, mk.n_calls) : TEEC_SUCCESS;
	arg->ret_origin = mk.invoke_origin ? mk.invoke_origin : TEEC_ORIGIN_TRUSTED_APP;
	return 0;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *argp;

	va_start(ap, req);
	argp = va_arg(ap, void *);
	va_end(ap);
	if (fd != DEV_FD)
		return __real_ioctl(fd, req, argp);
	switch (req) {
	case TEE_IOC_VERSION:
		event("version");
		if (mk.version_errno) {
			errno = mk.version_errno;
			return -1;
		}
		memcpy(argp, &mk.version, sizeof(mk.version));
		return 0;
	case TEE_IOC_OPEN_SESSION: {
		struct tee_ioctl_buf_data *b = argp;
		struct tee_ioctl_open_session_arg *a =
		    (struct tee_ioctl_open_session_arg *)(uintptr_t)b->buf_ptr;

		event("open_session");
		assert_int_equal(b->buf_len,
		                 sizeof(*a) + TEEC_NUM_PARAMS * sizeof(struct tee_ioctl_param));
		memcpy(mk.open_uuid, a->uuid, sizeof(mk.open_uuid));
		mk.open_login = a->clnt_login;
		mk.open_num_params = a->num_params;
		for (unsigned i = 0; i < a->num_params; i++)
			assert_int_equal(a->params[i].attr, TEE_IOCTL_PARAM_ATTR_TYPE_NONE);
		a->ret = mk.open_ret;
		a->ret_origin = mk.open_origin;
		a->session = mk.open_ret == TEEC_SUCCESS ? mk.next_session++ : 0;
		return 0;
	}
	case TEE_IOC_CLOSE_SESSION:
		event("close_session(%u)", ((struct tee_ioctl_close_session_arg *)argp)->session);
		return 0;
	case TEE_IOC_SHM_ALLOC:
		return ioctl_shm_alloc(argp);
	case TEE_IOC_INVOKE:
		return ioctl_invoke(argp);
	default:
		fail_msg("unexpected ioctl 0x%lx", req);
		return -1;
	}
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct shm *s = shm_by_fd(fd);

	if (!s)
		return __real_mmap(addr, len, prot, flags, fd, off);
	event("mmap(%zu)", len);
	assert_int_equal(prot, PROT_READ | PROT_WRITE);
	assert_int_equal(flags, MAP_SHARED);
	assert_int_equal(off, 0);
	assert_true(len <= s->size);
	return s->buf;
}

int __wrap_munmap(void *addr, size_t len)
{
	for (int i = 0; i < MAX_SHM; i++) {
		if (mk.shm[i].live && mk.shm[i].buf == addr) {
			event("munmap");
			return 0;
		}
	}
	return __real_munmap(addr, len);
}

/* ---- the host ---------------------------------------------------------- */

struct fx {
	struct tb_host host;
	char log[LOG_CAP];
	void *inst;
};

static void host_log(const struct tb_host *h, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void host_log(const struct tb_host *h, int level, const char *fmt, ...)
{
	struct fx *f = (struct fx *)h;
	size_t len = strlen(f->log);
	va_list ap;

	if (getenv("TEST_OPTEE_VERBOSE")) {
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	if (len + 2 >= LOG_CAP)
		return;
	va_start(ap, fmt);
	vsnprintf(f->log + len, LOG_CAP - len - 1, fmt, ap);
	va_end(ap);
	strcat(f->log, "\n");
}

static void *host_alloc(size_t n)
{
	return malloc(n);
}

static void host_free(void *p)
{
	free(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->host.struct_size = sizeof(f->host);
	f->host.log = host_log;
	f->host.alloc = host_alloc;
	f->host.free = host_free;
	memset(&mk, 0, sizeof(mk));
	mk.version.impl_id = TEE_IMPL_ID_OPTEE;
	mk.version.impl_caps = TEE_OPTEE_CAP_TZ;
	mk.version.gen_caps = TEE_GEN_CAP_GP | TEE_GEN_CAP_REG_MEM;
	mk.open_origin = TEEC_ORIGIN_TRUSTED_APP;
	mk.next_session = 77;
	mk.next_shm_id = 3;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->inst)
		tb_driver_entry.fini(f->inst);
	for (int i = 0; i < MAX_SHM; i++)
		assert_false(mk.shm[i].live); /* every shared memory given back */
	free(f);
	return 0;
}

static int init_with(struct fx *f, const struct tb_kv *kv, size_t n)
{
	return tb_driver_entry.init(&f->host, kv, n, &f->inst);
}

static void start(struct fx *f)
{
	const struct tb_kv kv[] = {{"ta_uuid", TA_UUID}};

	assert_int_equal(init_with(f, kv, 1), TB_OK);
	assert_non_null(f->inst);
	mk.events[0] = 0;
}

static void assert_log(const struct fx *f, const char *words)
{
	if (!strstr(f->log, words))
		fail_msg("the log lacks \"%s\":\n%s", words, f->log);
}

static void assert_events(const char *want)
{
	if (strcmp(mk.events, want) != 0)
		fail_msg("events\n  got:  %s\n  want: %s", mk.events, want);
}

static uint32_t attr(const struct tee_ioctl_param *p)
{
	return (uint32_t)(p->attr & TEE_IOCTL_PARAM_ATTR_TYPE_MASK);
}

/* The TA writes into an output memref and sets its size. */
static void put(struct tee_ioctl_param *p, const void *data, size_t len)
{
	assert_true(len <= p->b);
	if (len)
		memcpy(memref(p), data, len);
	p->b = len;
}

/* ---- init -------------------------------------------------------------- */

static void init__opens_device_checks_version_opens_session(void **state)
{
	struct fx *f = *state;
	const struct tb_kv kv[] = {{"ta_uuid", TA_UUID}};
	const uint8_t uuid[16] = {0x8d, 0x82, 0x57, 0x3a, 0x92, 0x6d, 0x47, 0x54,
	                          0x93, 0x53, 0x32, 0xdc, 0x29, 0x99, 0x7f, 0x74};

	assert_int_equal(init_with(f, kv, 1), TB_OK);
	assert_events("open(/dev/tee0) version open_session");
	assert_int_equal(mk.open_flags & O_ACCMODE, O_RDWR);
	assert_true(mk.open_flags & O_CLOEXEC);
	assert_memory_equal(mk.open_uuid, uuid, 16);
	assert_int_equal(mk.open_login, TEE_IOCTL_LOGIN_PUBLIC);
	assert_int_equal(mk.open_num_params, TEEC_NUM_PARAMS);
	assert_log(f, "session 77 to the TEEP Agent TA " TA_UUID);
	mk.events[0] = 0;
	tb_driver_entry.fini(f->inst);
	f->inst = NULL;
	assert_events("close_session(77) close(dev)");
}

static void init__device_option(void **state)
{
	struct fx *f = *state;
	const struct tb_kv kv[] = {{"device", "/dev/tee3"}, {"ta_uuid", TA_UUID}};

	assert_int_equal(init_with(f, kv, 2), TB_OK);
	assert_events("open(/dev/tee3) version open_session");
}

static void init__no_device_is_a_clear_error(void **state)
{
	struct fx *f = *state;
	const struct tb_kv kv[] = {{"ta_uuid", TA_UUID}};

	mk.open_errno = ENOENT;
	assert_int_not_equal(init_with(f, kv, 1), TB_OK);
	assert_null(f->inst);
	assert_events("open(/dev/tee0)");
	assert_log(f, "no TEE device at /dev/tee0: No such file or directory (is the OP-TEE "
	              "driver loaded?)");
}

static void init__unopenable_device(void **state)
{
	struct fx *f = *state;
	const struct tb_kv kv[] = {{"ta_uuid", TA_UUID}};

	mk.open_errno = EACCES;
	assert_int_equal(init_with(f, kv, 1), TB_ERR_IO);
	assert_log(f, "cannot open the TEE device /dev/tee0: Permission denied");
}

static void init__refuses_what_is_not_optee(void **state)
{
	struct fx *f = *state;
	const struct tb_kv kv[] = {{"ta_uuid", TA_UUID}};

	mk.version.impl_id = TEE_IMPL_ID_AMDTEE;
	assert_int_equal(init_with(f, kv, 1), TB_ERR_UNSUP);
	assert_events("open(/dev/tee0) version close(dev)");
	assert_log(f, "/dev/tee0 is not OP-TEE: implementation id 2 (AMD-TEE)");

	f->log[0] = mk.events[0] = 0;
	mk.version.impl_id = TEE_IMPL_ID_OPTEE;
	mk.version.gen_caps = TEE_GEN_CAP_GP | TEE_GEN_CAP_PRIVILEGED;
	assert_int_equal(init_with(f, kv, 1), TB_ERR_UNSUP);
	assert_events("open(/dev/tee0) version close(dev)");
	assert_log(f, "privileged device of tee-supplicant");

	f->log[0] = mk.events[0] = 0;
	mk.version.gen_caps = TEE_GEN_CAP_REG_MEM;
	assert_int_equal(init_with(f, kv, 1), TB_ERR_UNSUP);
	assert_events("open(/dev/tee0) version close(dev)");
	assert_log(f, "does not offer the GlobalPlatform interface");

	f->log[0] = mk.events[0] = 0;
	mk.version_errno = ENOTTY;
	assert_int_equal(init_with(f, kv, 1), TB_ERR_UNSUP);
	assert_events("open(/dev/tee0) version close(dev)");
	assert_log(f, "does not answer TEE_IOC_VERSION");
	assert_null(f->inst);
}

static void init__open_session_fails_with_result_and_origin(void **state)
{
	struct fx *f = *state;
	const struct tb_kv kv[] = {{"ta_uuid", TA_UUID}};

	mk.open_ret = TEEC_ERROR_ITEM_NOT_FOUND;
	mk.open_origin = TEEC_ORIGIN_TEE;
	assert_int_equal(init_with(f, kv, 1), TB_ERR_TEE);
	assert_null(f->inst);
	assert_events("open(/dev/tee0) version open_session close(dev)");
	assert_log(f, "cannot open a session to the TEEP Agent TA " TA_UUID
	              " on /dev/tee0: item not found (0xffff0008) from the TEE (is the TA "
	              "installed?)");

	f->log[0] = mk.events[0] = 0;
	mk.open_ret = TEEC_ERROR_ACCESS_DENIED;
	mk.open_origin = TEEC_ORIGIN_TRUSTED_APP;
	assert_int_equal(init_with(f, kv, 1), TB_ERR_TEE);
	assert_log(f, "access denied (0xffff0001) from the Trusted Application");
}

static void init__options_checked_before_the_device(void **state)
{
	struct fx *f = *state;
	const struct tb_kv none[] = {{"device", "/dev/tee0"}};
	const struct tb_kv bad_uuid[] = {{"ta_uuid", "8d82573a-926d-4754-9353-32dc29997f7"}};
	const struct tb_kv bad_uuid2[] = {{"ta_uuid", "8d82573a0926d-4754-9353-32dc29997f74"}};
	const struct tb_kv bad_max[] = {{"ta_uuid", TA_UUID}, {"max_message", "1k"}};
	const struct tb_kv huge_max[] = {{"ta_uuid", TA_UUID}, {"max_message", "1G"}};

	assert_int_equal(init_with(f, none, 1), TB_ERR_INVAL);
	assert_log(f, "the option ta_uuid (the TEEP Agent TA's UUID) is required");
	assert_int_equal(init_with(f, bad_uuid, 1), TB_ERR_INVAL);
	assert_int_equal(init_with(f, bad_uuid2, 1), TB_ERR_INVAL);
	assert_log(f, "bad value for ta_uuid");
	assert_int_equal(init_with(f, bad_max, 2), TB_ERR_INVAL);
	assert_int_equal(init_with(f, huge_max, 2), TB_ERR_INVAL);
	assert_log(f, "bad value for max_message: '1G'");
	assert_events("");
	assert_null(f->inst);
}

/* ---- calls ------------------------------------------------------------- */

static const char MSG_OUT[] = "a TEEP QueryResponse";
static const char URI_OUT[] = "https://tam.example/tam";

/* request-ta: a message for a TAM and exchange 5; process-teep-message:
 * nothing more to say. */
static uint32_t ta_exchange(struct call *c, struct tee_ioctl_param *p, int n)
{
	switch (c->func) {
	case TEEP_AGENT_CMD_REQUEST_TA:
		put(&p[2], MSG_OUT, strlen(MSG_OUT));
		put(&p[3], URI_OUT, strlen(URI_OUT));
		p[0].a = 5;
		break;
	case TEEP_AGENT_CMD_PROCESS_TEEP_MESSAGE:
		put(&p[2], "", 0);
		put(&p[3], "", 0);
		p[0].a = 0;
		break;
	default:
		break;
	}
	p[0].b = 0;
	return TEEC_SUCCESS;
}

static void calls__request_ta_then_the_exchange(void **state)
{
	struct fx *f = *state;
	const uint8_t seg0[] = "TEEP-Device", seg1[] = {0x01, 0x02};
	const struct tb_bytes cid[] = {{seg0, 11}, {seg1, 2}};
	const struct tb_ta_request req = {.struct_size = sizeof(req),
	                                  .component_id = cid,
	                                  .n_segments = 2,
	                                  .tam_uri = "https://hint.example/tam"};
	/* [h'TEEP-Device', h'0102'] */
	const uint8_t cbor[] = {0x82, 0x4b, 'T', 'E', 'E', 'P',  '-',  'D',
	                        'e',  'v',  'i', 'c', 'e', 0x42, 0x01, 0x02};
	struct tb_agent_out out = {0}, out2 = {0};
	struct call *c;

	start(f);
	mk.ta = ta_exchange;
	assert_int_equal(tb_driver_entry.request_ta(f->inst, &req, &out), TB_OK);
	/* one shared memory: input, 16 KiB for the message, 1 KiB for the URI */
	assert_events("shm_alloc(17424) mmap(17424) invoke(1) munmap close(shm3)");
	c = &mk.calls[0];
	assert_int_equal(c->session, 77);
	assert_int_equal(c->num_params, TEEC_NUM_PARAMS);
	assert_int_equal(attr(&c->p[0]), TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT);
	assert_int_equal(c->p[0].a, 0);
	assert_int_equal(attr(&c->p[1]), TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT);
	assert_int_equal(c->p[1].a, 0);
	assert_int_equal(c->p[1].b, sizeof(cbor));
	assert_int_equal(c->p[1].c, 3);
	assert_memory_equal(c->in, cbor, sizeof(cbor));
	assert_int_equal(attr(&c->p[2]), TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT);
	assert_int_equal(c->p[2].a, sizeof(cbor));
	assert_int_equal(c->p[2].b, 16384);
	assert_int_equal(attr(&c->p[3]), TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT);
	assert_int_equal(c->p[3].a, sizeof(cbor) + 16384);
	assert_int_equal(c->p[3].b, 1024);
	assert_string_equal(c->text, "https://hint.example/tam");
	assert_string_equal(out.tam_uri, URI_OUT);
	assert_int_equal(out.msg_len, strlen(MSG_OUT));
	assert_memory_equal(out.msg, MSG_OUT, strlen(MSG_OUT));
	assert_null(out.media_type);
	assert_non_null(out.session);

	mk.events[0] = 0;
	assert_int_equal(
	    tb_driver_entry.process_teep_message(f->inst, out.session, "application/teep+cbor",
	                                         (const uint8_t *)"\xd2\x84", 2, &out2),
	    TB_OK);
	assert_events("shm_alloc(17410) mmap(17410) invoke(4) munmap close(shm4)");
	c = &mk.calls[1];
	assert_int_equal(c->p[0].a, 5);
	assert_int_equal(c->in_len, 2);
	assert_memory_equal(c->in, "\xd2\x84", 2);
	assert_string_equal(c->text, "application/teep+cbor");
	assert_null(out2.msg);
	assert_null(out2.tam_uri);
	assert_null(out2.session);

	/* process-error and session-close: the handle only, no memory */
	mk.events[0] = 0;
	tb_driver_entry.process_error(f->inst, out.session);
	tb_driver_entry.session_close(f->inst, out.session);
	assert_events("invoke(5) invoke(6)");
	for (int i = 2; i < 4; i++) {
		c = &mk.calls[i];
		assert_int_equal(attr(&c->p[0]), TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT);
		assert_int_equal(c->p[0].a, 5);
		for (int j = 1; j < 4; j++)
			assert_int_equal(attr(&c->p[j]), TEE_IOCTL_PARAM_ATTR_TYPE_NONE);
	}
	free(out.tam_uri);
	free(out.msg);
}

/* Nothing to do: both output sizes 0. */
static uint32_t ta_nothing(struct call *c, struct tee_ioctl_param *p, int n)
{
	p[2].b = 0;
	p[3].b = 0;
	p[0].a = 0;
	p[0].b = 0;
	return TEEC_SUCCESS;
}

static void calls__policy_check_nothing_to_do(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out = {0};

	start(f);
	mk.ta = ta_nothing;
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	assert_events("shm_alloc(17408) mmap(17408) invoke(3) munmap close(shm3)");
	assert_int_equal(attr(&mk.calls[0].p[1]), TEE_IOCTL_PARAM_ATTR_TYPE_NONE);
	assert_string_equal(mk.calls[0].text, "");
	assert_null(out.msg);
	assert_null(out.tam_uri);
	assert_null(out.session);
}

static uint32_t ta_fails(struct call *c, struct tee_ioctl_param *p, int n)
{
	return TEEC_ERROR_SECURITY;
}

static void calls__invoke_fails(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out = {0};

	start(f);
	mk.ta = ta_fails;
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_ERR_SIG);
	assert_log(f, "request-policy-check: the TEEP Agent TA failed: security error (0xffff000f) "
	              "from the Trusted Application");
	assert_null(out.tam_uri);

	/* the ioctl itself fails */
	f->log[0] = mk.events[0] = 0;
	mk.invoke_errno = EIO;
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_ERR_TEE);
	assert_events("shm_alloc(17408) mmap(17408) invoke(3) munmap close(shm4)");
	assert_log(f, "request-policy-check: TEE_IOC_INVOKE: Input/output error");
}

static uint32_t ta_status(struct call *c, struct tee_ioctl_param *p, int n)
{
	p[0].b = (uint32_t)TB_ERR_PARSE;
	return TEEC_SUCCESS;
}

static void calls__agent_status_in_the_value(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out = {0};

	start(f);
	mk.ta = ta_status;
	assert_int_equal(tb_driver_entry.process_teep_message(
	                     f->inst, NULL, "application/teep+cbor", (const uint8_t *)"x", 1, &out),
	                 TB_ERR_PARSE);
	assert_log(f, "process-teep-message: the TEEP Agent TA refused with status -3");
	assert_null(out.msg);
}

/* First call: too short, it asks for 40000 bytes; second: writes them. */
static uint32_t ta_short_once(struct call *c, struct tee_ioctl_param *p, int n)
{
	static uint8_t big[40000];

	if (c->func == TEEP_AGENT_CMD_SESSION_CLOSE)
		return TEEC_SUCCESS;
	if (n == 1) {
		p[2].b = sizeof(big);
		return TEEC_ERROR_SHORT_BUFFER;
	}
	assert_int_equal(p[2].b, sizeof(big));
	memset(big, 0xab, sizeof(big));
	put(&p[2], big, sizeof(big));
	put(&p[3], URI_OUT, strlen(URI_OUT));
	p[0].a = 9;
	p[0].b = 0;
	return TEEC_SUCCESS;
}

static void calls__short_buffer_retried_once_with_the_size_asked(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out = {0};

	start(f);
	mk.ta = ta_short_once;
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	assert_events("shm_alloc(17408) mmap(17408) invoke(3) munmap close(shm3) "
	              "shm_alloc(41024) mmap(41024) invoke(3) munmap close(shm4)");
	assert_int_equal(mk.calls[1].p[2].b, 40000);
	assert_int_equal(out.msg_len, 40000);
	assert_int_equal(out.msg[39999], 0xab);
	assert_string_equal(out.tam_uri, URI_OUT);
	free(out.msg);
	free(out.tam_uri);
	tb_driver_entry.session_close(f->inst, out.session);
	assert_int_equal(mk.calls[2].func, TEEP_AGENT_CMD_SESSION_CLOSE);
	assert_int_equal(mk.calls[2].p[0].a, 9);
}

/* The TAM URI slot too short: 3000 bytes asked. */
static uint32_t ta_short_uri(struct call *c, struct tee_ioctl_param *p, int n)
{
	char uri[3000];

	if (n == 1) {
		p[3].b = sizeof(uri);
		return TEEC_ERROR_SHORT_BUFFER;
	}
	memset(uri, 'u', sizeof(uri));
	memcpy(uri, "https://", 8);
	put(&p[3], uri, sizeof(uri));
	p[2].b = 0;
	p[0].a = 0;
	p[0].b = 0;
	return TEEC_SUCCESS;
}

static void calls__short_uri_retried(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out = {0};

	start(f);
	mk.ta = ta_short_uri;
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_OK);
	assert_int_equal(mk.n_calls, 2);
	assert_int_equal(mk.calls[1].p[3].b, 3000);
	assert_int_equal(strlen(out.tam_uri), 3000);
	free(out.tam_uri);
}

static uint32_t ta_always_short(struct call *c, struct tee_ioctl_param *p, int n)
{
	p[2].b = 20000 * (uint64_t)n;
	return TEEC_ERROR_SHORT_BUFFER;
}

static void calls__short_buffer_twice_fails(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out = {0};

	start(f);
	mk.ta = ta_always_short;
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_ERR_TOOBIG);
	assert_int_equal(mk.n_calls, 2);
	assert_log(f, "the TA answered short buffer twice (it asks for 40000 bytes");
	assert_null(out.msg);
}

static uint32_t ta_huge(struct call *c, struct tee_ioctl_param *p, int n)
{
	p[2].b = 100000;
	return TEEC_ERROR_SHORT_BUFFER;
}

static void calls__oversize_refused(void **state)
{
	struct fx *f = *state;
	const struct tb_kv kv[] = {{"ta_uuid", TA_UUID}, {"max_message", "64k"}};
	struct tb_agent_out out = {0};
	uint8_t *big;

	assert_int_equal(init_with(f, kv, 2), TB_OK);
	mk.events[0] = 0;
	mk.ta = ta_huge;
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_ERR_TOOBIG);
	assert_int_equal(mk.n_calls, 1);
	assert_log(f, "the Agent's message needs 100000 bytes, over max_message 65536");

	/* a TAM message over max_message never reaches the TEE */
	big = calloc(1, 65537);
	assert_non_null(big);
	mk.events[0] = 0;
	assert_int_equal(tb_driver_entry.process_teep_message(
	                     f->inst, NULL, "application/teep+cbor", big, 65537, &out),
	                 TB_ERR_TOOBIG);
	assert_events("");
	free(big);
}

/* A short buffer that asks for nothing more is an error, not a loop. */
static uint32_t ta_short_same(struct call *c, struct tee_ioctl_param *p, int n)
{
	return TEEC_ERROR_SHORT_BUFFER; /* sizes unchanged */
}

static void calls__short_buffer_without_a_size(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out = {0};

	start(f);
	mk.ta = ta_short_same;
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_ERR_TEE);
	assert_int_equal(mk.n_calls, 1);
	assert_log(f, "short buffer without asking for more");
}

static uint32_t ta_msg_no_uri(struct call *c, struct tee_ioctl_param *p, int n)
{
	if (c->func == TEEP_AGENT_CMD_REQUEST_POLICY_CHECK) {
		put(&p[2], MSG_OUT, strlen(MSG_OUT));
		p[3].b = 0;
		p[0].a = 12;
	}
	p[0].b = 0;
	return TEEC_SUCCESS;
}

static void calls__message_without_uri_closes_the_exchange(void **state)
{
	struct fx *f = *state;
	struct tb_agent_out out = {0};

	start(f);
	mk.ta = ta_msg_no_uri;
	assert_int_equal(tb_driver_entry.request_policy_check(f->inst, &out), TB_ERR_TEE);
	assert_log(f, "a message without a TAM URI");
	assert_int_equal(mk.n_calls, 2);
	assert_int_equal(mk.calls[1].func, TEEP_AGENT_CMD_SESSION_CLOSE);
	assert_int_equal(mk.calls[1].p[0].a, 12);
	assert_null(out.msg);
	assert_null(out.session);
}

/* The TA panics on its first call; later calls succeed. */
static uint32_t ta_dies_once(struct call *c, struct tee_ioctl_param *p, int n)
{
	if (n == 2)
		return TEEC_ERROR_TARGET_DEAD;
	return ta_exchange(c, p, n);
}

static void calls__dead_ta_reopens_the_session(void **state)
{
	struct fx *f = *state;
	const uint8_t seg[] = {0x01};
	const struct tb_bytes cid[] = {{seg, 1}};
	const struct tb_ta_request req = {
	    .struct_size = sizeof(req), .component_id = cid, .n_segments = 1};
	struct tb_agent_out out = {0}, out2 = {0};

	start(f);
	mk.ta = ta_dies_once;
	assert_int_equal(tb_driver_entry.request_ta(f->inst, &req, &out), TB_OK);
	assert_string_equal(mk.calls[0].text, "");
	mk.invoke_origin = TEEC_ORIGIN_TEE;
	assert_int_equal(tb_driver_entry.process_teep_message(f->inst, out.session, "x",
	                                                      (const uint8_t *)"m", 1, &out2),
	                 TB_ERR_TEE);
	assert_log(f, "target dead (0xffff3024) from the TEE");
	assert_log(f, "the next call opens a new session");
	/* the exchange died with the TA: no call reaches the new instance */
	mk.events[0] = 0;
	assert_int_equal(tb_driver_entry.process_teep_message(f->inst, out.session, "x",
	                                                      (const uint8_t *)"m", 1, &out2),
	                 TB_ERR_STATE);
	tb_driver_entry.session_close(f->inst, out.session);
	assert_events("");
	free(out.tam_uri);
	free(out.msg);

	/* the next call opens a new session and goes there */
	memset(&out, 0, sizeof(out));
	assert_int_equal(tb_driver_entry.request_ta(f->inst, &req, &out), TB_OK);
	assert_events("open_session shm_alloc(17411) mmap(17411) invoke(1) munmap close(shm5)");
	assert_int_equal(mk.calls[2].session, 78);
	free(out.tam_uri);
	free(out.msg);
	tb_driver_entry.session_close(f->inst, out.session);
	assert_int_equal(mk.calls[3].func, TEEP_AGENT_CMD_SESSION_CLOSE);
	assert_int_equal(mk.calls[3].session, 78);
}

static void calls__bad_component_ids_refused(void **state)
{
	struct fx *f = *state;
	const struct tb_bytes nul[] = {{NULL, 3}};
	struct tb_ta_request req = {
	    .struct_size = sizeof(req), .component_id = nul, .n_segments = 1};
	struct tb_agent_out out = {0};

	start(f);
	assert_int_equal(tb_driver_entry.request_ta(f->inst, &req, &out), TB_ERR_INVAL);
	req.n_segments = 0;
	assert_int_equal(tb_driver_entry.unrequest_ta(f->inst, &req, &out), TB_ERR_INVAL);
	assert_events("");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(init__opens_device_checks_version_opens_session),
	    T(init__device_option),
	    T(init__no_device_is_a_clear_error),
	    T(init__unopenable_device),
	    T(init__refuses_what_is_not_optee),
	    T(init__open_session_fails_with_result_and_origin),
	    T(init__options_checked_before_the_device),
	    T(calls__request_ta_then_the_exchange),
	    T(calls__policy_check_nothing_to_do),
	    T(calls__invoke_fails),
	    T(calls__agent_status_in_the_value),
	    T(calls__short_buffer_retried_once_with_the_size_asked),
	    T(calls__short_uri_retried),
	    T(calls__short_buffer_twice_fails),
	    T(calls__oversize_refused),
	    T(calls__short_buffer_without_a_size),
	    T(calls__message_without_uri_closes_the_exchange),
	    T(calls__dead_ta_reopens_the_session),
	    T(calls__bad_component_ids_refused),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

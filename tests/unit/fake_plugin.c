/*
 * Plugin objects for the loader tests and the daemon's startup tests: one
 * source, built several times with different defects (see tests/broker.mk).
 */
#include <stdlib.h>
#include <teep-broker/plugin.h>

#ifndef FAKE_MAGIC
#define FAKE_MAGIC TB_PLUGIN_MAGIC
#endif
#ifndef FAKE_MAJOR
#define FAKE_MAJOR TB_PLUGIN_ABI_MAJOR
#endif
#ifndef FAKE_MINOR
#define FAKE_MINOR TB_PLUGIN_ABI_MINOR
#endif
#ifndef FAKE_SIZE
#define FAKE_SIZE sizeof(struct tb_plugin)
#endif

__attribute__((unused)) static int fake_init(const struct tb_host *host, const struct tb_kv *opts,
                                             size_t n, void **inst)
{
	*inst = NULL;
#ifdef FAKE_INIT_FAILS
	host->log(host, TB_LOG_ERR, "fake plugin refuses to start");
	return TB_ERR_INVAL;
#else
	return TB_OK;
#endif
}

__attribute__((unused)) static void fake_fini(void *inst)
{
}

#ifdef FAKE_TRACE
/*
 * The tracing plugin of the integration tests: it logs every hook with what
 * the broker passed, and abstains, except that option "refuse" = "connect"
 * refuses every handshake (403) and "refuse" = "policy-check" every
 * policy-check. With "on_op" = "ban" or "close", app_op uses the host
 * service of plugin ABI 1.1 on the app's address (and abstains).
 */
#include <string.h>

struct trace {
	const struct tb_host *host;
	char refuse[32];
	char on_op[16];
};

static int trace_init(const struct tb_host *host, const struct tb_kv *opts, size_t n, void **inst)
{
	struct trace *t = calloc(1, sizeof(*t));

	if (!t)
		return TB_ERR_NOMEM;
	t->host = host;
	for (size_t i = 0; i < n; i++) {
		host->log(host, TB_LOG_NOTICE, "trace: option %s = %s", opts[i].key, opts[i].value);
		if (!strcmp(opts[i].key, "refuse"))
			strncpy(t->refuse, opts[i].value, sizeof(t->refuse) - 1);
		if (!strcmp(opts[i].key, "on_op"))
			strncpy(t->on_op, opts[i].value, sizeof(t->on_op) - 1);
	}
	*inst = t;
	return TB_OK;
}

static void trace_fini(void *inst)
{
	struct trace *t = inst;
	t->host->log(t->host, TB_LOG_NOTICE, "trace: fini");
	free(t);
}

static int trace_connect(void *inst, const struct tb_plugin_conn *c, char *reason, size_t len)
{
	struct trace *t = inst;
	t->host->log(t->host, TB_LOG_NOTICE,
	             "trace: app_connect id %llu address %s path %s origin %s identity %s",
	             (unsigned long long)c->id, c->address, c->path ? c->path : "-",
	             c->origin ? c->origin : "-", c->identity ? c->identity : "-");
	if (strcmp(t->refuse, "connect"))
		return TB_PLUGIN_ABSTAIN;
	strncpy(reason, "the trace plugin refuses every app", len - 1);
	return TB_PLUGIN_DENY;
}

static int trace_authenticate(void *inst, const struct tb_plugin_conn *c, char *identity,
                              size_t identity_len, char *reason, size_t len)
{
	struct trace *t = inst;
	t->host->log(
	    t->host, TB_LOG_NOTICE, "trace: authenticate id %llu authorization %s identity_len %zu",
	    (unsigned long long)c->id, c->authorization ? "present" : "absent", identity_len);
	return TB_PLUGIN_ABSTAIN;
}

static int trace_op(void *inst, const struct tb_plugin_conn *c, const struct tb_plugin_op *op,
                    char *reason, size_t len)
{
	struct trace *t = inst;
	t->host->log(t->host, TB_LOG_NOTICE,
	             "trace: app_op id %llu identity %s kind %u request %llu segments %zu tee %s "
	             "path %s",
	             (unsigned long long)c->id, c->identity ? c->identity : "-", op->kind,
	             (unsigned long long)op->request_id, op->n_segments, op->tee,
	             c->path ? c->path : "-");
	if (!strcmp(t->on_op, "ban") && TB_HOST_HAS(t->host, ban_address))
		t->host->log(t->host, TB_LOG_NOTICE, "trace: ban_address %s: %d", c->address,
		             t->host->ban_address(t->host, c->address, "trace bans on app_op"));
	if (!strcmp(t->on_op, "close") && TB_HOST_HAS(t->host, close_address))
		t->host->log(t->host, TB_LOG_NOTICE, "trace: close_address %s: %d", c->address,
		             t->host->close_address(t->host, c->address));
	if (strcmp(t->refuse, "policy-check") || op->kind != TB_PLUGIN_OP_POLICY_CHECK)
		return TB_PLUGIN_ABSTAIN;
	strncpy(reason, "no policy checks\ttoday\n", len - 1);
	return TB_PLUGIN_DENY;
}

static void trace_close(void *inst, const struct tb_plugin_conn *c)
{
	struct trace *t = inst;
	t->host->log(t->host, TB_LOG_NOTICE, "trace: app_close id %llu identity %s",
	             (unsigned long long)c->id, c->identity ? c->identity : "-");
}

static void trace_ban(void *inst, const struct tb_plugin_ban *b)
{
	struct trace *t = inst;
	t->host->log(t->host, TB_LOG_NOTICE,
	             "trace: ban address %s duration %llu ms score %llu threshold %llu reason %s",
	             b->address, (unsigned long long)b->duration_ms, (unsigned long long)b->score,
	             (unsigned long long)b->threshold, b->reason);
}

TB_PLUGIN_DECLARE(.name = "trace", .version = "0", .init = trace_init, .fini = trace_fini,
                  .app_connect = trace_connect, .authenticate = trace_authenticate,
                  .app_op = trace_op, .app_close = trace_close, .ban = trace_ban);
#define FAKE_NO_ENTRY_DECLARED
#endif

#ifdef FAKE_HALF_RELOAD
/* ABI 1.2: reload_prepare without reload_commit and reload_abort */
static int half_prepare(void *instance, const struct tb_kv *opts, size_t n, void **prepared)
{
	(void)instance;
	(void)opts;
	(void)n;
	*prepared = NULL;
	return TB_OK;
}
#endif

#if defined(FAKE_NO_ENTRY_DECLARED)
/* declared above */
#elif !defined(FAKE_NO_ENTRY)
__attribute__((visibility("default"))) const struct tb_plugin tb_plugin_entry = {
    .magic = FAKE_MAGIC,
    .abi_major = FAKE_MAJOR,
    .abi_minor = FAKE_MINOR,
    .struct_size = FAKE_SIZE,
    .name = "fake",
    .version = "0",
    .init = fake_init,
#ifndef FAKE_NO_FINI
    .fini = fake_fini,
#endif
#ifdef FAKE_HALF_RELOAD
    .reload_prepare = half_prepare,
#endif
};
#else
/* Keeps the hooks referenced so the object builds without warnings. */
__attribute__((visibility("default")))
const void *not_a_plugin[] = {(const void *)fake_init, (const void *)fake_fini};
#endif

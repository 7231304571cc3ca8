/*
 * Loading modules: TEE drivers (include/teep-broker/driver.h) and broker
 * plugins (include/teep-broker/plugin.h). Both descriptors start with the
 * same frozen header (magic, ABI major and minor, struct_size, flags, name),
 * so one set of rules checks both; only the magic, the versions, the entry
 * symbol and the list of required operations differ.
 */
#include "config.h"
#include "loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* The header both descriptors start with. */
struct module_head {
	uint32_t magic;
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t struct_size;
	uint32_t flags;
	const char *name;
};

#define SAME_HEAD(T)                                                                               \
	_Static_assert(offsetof(T, magic) == offsetof(struct module_head, magic) &&                \
	                   offsetof(T, abi_major) == offsetof(struct module_head, abi_major) &&    \
	                   offsetof(T, abi_minor) == offsetof(struct module_head, abi_minor) &&    \
	                   offsetof(T, struct_size) ==                                             \
	                       offsetof(struct module_head, struct_size) &&                        \
	                   offsetof(T, flags) == offsetof(struct module_head, flags) &&            \
	                   offsetof(T, name) == offsetof(struct module_head, name),                \
	               #T " does not start with the module header")
SAME_HEAD(struct tb_driver);
SAME_HEAD(struct tb_plugin);

struct required_op {
	size_t off;
	const char *what;
};

/* What one kind of module looks like. */
struct module_kind {
	const char *what; /* "driver", "plugin": for the operator's sentences */
	const char *symbol;
	uint32_t magic;
	unsigned abi_major, abi_minor;
	size_t min_size;
	const struct required_op *required;
	size_t n_required;
};

static const struct required_op driver_ops[] = {
    {offsetof(struct tb_driver, init), "init"},
    {offsetof(struct tb_driver, fini), "fini"},
    {offsetof(struct tb_driver, request_ta), "request_ta"},
    {offsetof(struct tb_driver, unrequest_ta), "unrequest_ta"},
    {offsetof(struct tb_driver, request_policy_check), "request_policy_check"},
    {offsetof(struct tb_driver, process_teep_message), "process_teep_message"},
    {offsetof(struct tb_driver, process_error), "process_error"},
};

static const struct required_op plugin_ops[] = {
    {offsetof(struct tb_plugin, init), "init"},
    {offsetof(struct tb_plugin, fini), "fini"},
};

static const struct module_kind driver_kind = {
    .what = "driver",
    .symbol = TB_DRIVER_ENTRY_SYMBOL,
    .magic = TB_DRIVER_MAGIC,
    .abi_major = TB_DRIVER_ABI_MAJOR,
    .abi_minor = TB_DRIVER_ABI_MINOR,
    .min_size = TB_DRIVER_MIN_SIZE,
    .required = driver_ops,
    .n_required = sizeof(driver_ops) / sizeof(driver_ops[0]),
};

static const struct module_kind plugin_kind = {
    .what = "plugin",
    .symbol = TB_PLUGIN_ENTRY_SYMBOL,
    .magic = TB_PLUGIN_MAGIC,
    .abi_major = TB_PLUGIN_ABI_MAJOR,
    .abi_minor = TB_PLUGIN_ABI_MINOR,
    .min_size = TB_PLUGIN_MIN_SIZE,
    .required = plugin_ops,
    .n_required = sizeof(plugin_ops) / sizeof(plugin_ops[0]),
};

static int check(const struct module_kind *k, const void *desc, size_t avail_size, char *err,
                 size_t errlen)
{
	const struct module_head *h = desc;

	if (h->magic != k->magic) {
		snprintf(err, errlen, "bad magic 0x%08x (not a teep-broker %s)", h->magic, k->what);
		return TB_ERR_INVAL;
	}
	if (h->abi_major != k->abi_major) {
		snprintf(err, errlen, "%s ABI %u.%u, broker ABI %u.%u: major versions differ",
		         k->what, h->abi_major, h->abi_minor, k->abi_major, k->abi_minor);
		return TB_ERR_UNSUP;
	}
	if (h->abi_minor > k->abi_minor) {
		snprintf(err, errlen, "%s ABI %u.%u is newer than the broker's %u.%u", k->what,
		         h->abi_major, h->abi_minor, k->abi_major, k->abi_minor);
		return TB_ERR_UNSUP;
	}
	if (h->struct_size < k->min_size || h->struct_size > avail_size) {
		snprintf(err, errlen, "descriptor size %u is not within %zu..%zu", h->struct_size,
		         k->min_size, avail_size);
		return TB_ERR_INVAL;
	}
	if (!h->name || !h->name[0]) {
		snprintf(err, errlen, "descriptor has no name");
		return TB_ERR_INVAL;
	}
	for (size_t i = 0; i < k->n_required; i++) {
		void *fn;
		memcpy(&fn, (const char *)desc + k->required[i].off, sizeof(fn));
		if (!fn) {
			snprintf(err, errlen, "%s '%s' lacks the required operation %s", k->what,
			         h->name, k->required[i].what);
			return TB_ERR_INVAL;
		}
	}
	return TB_OK;
}

static int resolve_path(const char *name, const char *dir, char *out, size_t outlen)
{
	int n;
	if (strchr(name, '/'))
		n = snprintf(out, outlen, "%s", name);
	else
		n = snprintf(out, outlen, "%s/%s.so", dir, name);
	return (n < 0 || (size_t)n >= outlen) ? TB_ERR_TOOBIG : TB_OK;
}

/*
 * dlopen path and check the descriptor it exports. avail_size is the size of
 * the descriptor type the broker was built with. On success *handle and
 * *desc are set; on failure the object is closed and err says why.
 */
static int open_module(const struct module_kind *k, const char *name, const char *dir,
                       size_t avail_size, char *path, size_t pathlen, void **handle,
                       const void **desc, char *err, size_t errlen)
{
	*handle = NULL;
	*desc = NULL;
	if (resolve_path(name, dir, path, pathlen)) {
		snprintf(err, errlen, "%s path too long", k->what);
		return TB_ERR_TOOBIG;
	}

	dlerror();
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, errlen, "cannot load %s: %s", path, why ? why : "unknown error");
		return TB_ERR_IO;
	}
	dlerror();
	const void *d = dlsym(h, k->symbol);
	if (!d) {
		snprintf(err, errlen, "%s does not export %s: not a teep-broker %s", path,
		         k->symbol, k->what);
		dlclose(h);
		return TB_ERR_INVAL;
	}
	char why[256];
	/* Only the header is known to be there before struct_size is checked. */
	int rc = check(k, d, avail_size, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s: %s", path, why);
		dlclose(h);
		return rc;
	}
	*handle = h;
	*desc = d;
	return TB_OK;
}

/* ---- drivers ----------------------------------------------------------- */

int tb_loader_check(const struct tb_driver *drv, size_t avail_size, char *err, size_t errlen)
{
	return check(&driver_kind, drv, avail_size, err, errlen);
}

int tb_loader_open(const char *name, const char *dir, struct tb_loaded_driver *out, char *err,
                   size_t errlen)
{
	const void *desc;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = open_module(&driver_kind, name, dir, sizeof(struct tb_driver), out->path,
	                 sizeof(out->path), &out->handle, &desc, err, errlen);
	if (rc)
		return rc;
	out->drv = desc;
	memcpy(&out->ops, out->drv, out->drv->struct_size);
	return TB_OK;
}

void tb_loader_close(struct tb_loaded_driver *ld)
{
	if (ld->handle)
		dlclose(ld->handle);
	memset(ld, 0, sizeof(*ld));
}

/* ---- plugins ----------------------------------------------------------- */

int tb_plugin_check(const struct tb_plugin *pl, size_t avail_size, char *err, size_t errlen)
{
	return check(&plugin_kind, pl, avail_size, err, errlen);
}

int tb_plugin_open(const char *name, const char *dir, struct tb_loaded_plugin *out, char *err,
                   size_t errlen)
{
	const void *desc;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = open_module(&plugin_kind, name, dir, sizeof(struct tb_plugin), out->path,
	                 sizeof(out->path), &out->handle, &desc, err, errlen);
	if (rc)
		return rc;
	out->pl = desc;
	memcpy(&out->ops, out->pl, out->pl->struct_size);
	/* ABI 1.2 reload hooks: all three or none; a plugin built for an older
	 * minor had zeros in their place */
	if (out->pl->abi_minor < 2) {
		out->ops.reload_prepare = NULL;
		out->ops.reload_commit = NULL;
		out->ops.reload_abort = NULL;
	} else if (!out->ops.reload_prepare != !out->ops.reload_commit ||
	           !out->ops.reload_prepare != !out->ops.reload_abort) {
		snprintf(err, errlen,
		         "plugin '%s' has some of reload_prepare, reload_commit and reload_abort "
		         "but not all three",
		         out->pl->name);
		tb_plugin_close(out);
		return TB_ERR_INVAL;
	}
	return TB_OK;
}

void tb_plugin_close(struct tb_loaded_plugin *lp)
{
	if (lp->handle)
		dlclose(lp->handle);
	memset(lp, 0, sizeof(*lp));
}

#include "config.h"
#include "loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int tb_loader_check(const struct tb_driver *drv, size_t avail_size, char *err, size_t errlen)
{
	if (drv->magic != TB_DRIVER_MAGIC) {
		snprintf(err, errlen, "bad magic 0x%08x (not a teep-broker driver)", drv->magic);
		return TB_ERR_INVAL;
	}
	if (drv->abi_major != TB_DRIVER_ABI_MAJOR) {
		snprintf(err, errlen, "driver ABI %u.%u, broker ABI %u.%u: major versions differ",
		         drv->abi_major, drv->abi_minor, TB_DRIVER_ABI_MAJOR, TB_DRIVER_ABI_MINOR);
		return TB_ERR_UNSUP;
	}
	if (drv->abi_minor > TB_DRIVER_ABI_MINOR) {
		snprintf(err, errlen, "driver ABI %u.%u is newer than the broker's %u.%u",
		         drv->abi_major, drv->abi_minor, TB_DRIVER_ABI_MAJOR, TB_DRIVER_ABI_MINOR);
		return TB_ERR_UNSUP;
	}
	if (drv->struct_size < TB_DRIVER_MIN_SIZE || drv->struct_size > avail_size) {
		snprintf(err, errlen, "descriptor size %u is not within %zu..%zu", drv->struct_size,
		         (size_t)TB_DRIVER_MIN_SIZE, avail_size);
		return TB_ERR_INVAL;
	}
	if (!drv->name || !drv->name[0]) {
		snprintf(err, errlen, "descriptor has no name");
		return TB_ERR_INVAL;
	}
	static const struct {
		size_t off;
		const char *what;
	} required[] = {
	    {offsetof(struct tb_driver, init), "init"},
	    {offsetof(struct tb_driver, fini), "fini"},
	    {offsetof(struct tb_driver, request_ta), "request_ta"},
	    {offsetof(struct tb_driver, unrequest_ta), "unrequest_ta"},
	    {offsetof(struct tb_driver, request_policy_check), "request_policy_check"},
	    {offsetof(struct tb_driver, process_teep_message), "process_teep_message"},
	    {offsetof(struct tb_driver, process_error), "process_error"},
	};
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		void *fn;
		memcpy(&fn, (const char *)drv + required[i].off, sizeof(fn));
		if (!fn) {
			snprintf(err, errlen, "driver '%s' lacks the required operation %s",
			         drv->name, required[i].what);
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

int tb_loader_open(const char *name, const char *dir, struct tb_loaded_driver *out, char *err,
                   size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (resolve_path(name, dir, out->path, sizeof(out->path))) {
		snprintf(err, errlen, "driver path too long");
		return TB_ERR_TOOBIG;
	}

	dlerror();
	void *h = dlopen(out->path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, errlen, "cannot load %s: %s", out->path, why ? why : "unknown error");
		return TB_ERR_IO;
	}
	dlerror();
	const struct tb_driver *drv = dlsym(h, TB_DRIVER_ENTRY_SYMBOL);
	if (!drv) {
		snprintf(err, errlen, "%s does not export %s: not a teep-broker driver", out->path,
		         TB_DRIVER_ENTRY_SYMBOL);
		dlclose(h);
		return TB_ERR_INVAL;
	}
	char why[256];
	/* Only the header is known to be there before struct_size is checked. */
	int rc = tb_loader_check(drv, sizeof(struct tb_driver), why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s: %s", out->path, why);
		dlclose(h);
		return rc;
	}
	out->handle = h;
	out->drv = drv;
	memset(&out->ops, 0, sizeof(out->ops));
	memcpy(&out->ops, drv, drv->struct_size);
	return TB_OK;
}

void tb_loader_close(struct tb_loaded_driver *ld)
{
	if (ld->handle)
		dlclose(ld->handle);
	memset(ld, 0, sizeof(*ld));
}

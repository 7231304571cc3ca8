/*
 * Loading TEE drivers (include/teep-broker/driver.h) and broker plugins
 * (include/teep-broker/plugin.h): the same rules for both.
 */
#ifndef TB_LOADER_H
#define TB_LOADER_H

#include <stddef.h>
#include <teep-broker/driver.h>
#include <teep-broker/plugin.h>

struct tb_loaded_driver {
	void *handle;                /* dlopen handle */
	const struct tb_driver *drv; /* the descriptor inside it */
	/* A copy of the descriptor with every op beyond drv->struct_size NULL,
	 * so callers never read past what the driver was built with. */
	struct tb_driver ops;
	char path[512];
};

/*
 * Resolve name against dir (a name without '/' becomes DIR/NAME.so), then
 * dlopen(RTLD_NOW | RTLD_LOCAL) and check the descriptor: magic, ABI major,
 * ABI minor not newer than ours, struct_size at least TB_DRIVER_MIN_SIZE,
 * name and the REQUIRED operations present. On failure returns an error and
 * writes a sentence for the operator into err; the object is closed.
 */
int tb_loader_open(const char *name, const char *dir, struct tb_loaded_driver *out, char *err,
                   size_t errlen);
/* Check a descriptor without loading anything (the loader's rules; tests). */
int tb_loader_check(const struct tb_driver *drv, size_t avail_size, char *err, size_t errlen);
void tb_loader_close(struct tb_loaded_driver *ld);

struct tb_loaded_plugin {
	void *handle;
	const struct tb_plugin *pl;
	/* A copy of the descriptor with every hook beyond pl->struct_size NULL. */
	struct tb_plugin ops;
	char path[512];
};

/* The same for plugins: TB_PLUGIN_MAGIC, TB_PLUGIN_ABI_*, TB_PLUGIN_MIN_SIZE,
 * the symbol tb_plugin_entry, init and fini required. */
int tb_plugin_open(const char *name, const char *dir, struct tb_loaded_plugin *out, char *err,
                   size_t errlen);
int tb_plugin_check(const struct tb_plugin *pl, size_t avail_size, char *err, size_t errlen);
void tb_plugin_close(struct tb_loaded_plugin *lp);

#endif

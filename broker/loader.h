/* Loading TEE driver shared objects (include/teep-broker/driver.h). */
#ifndef TB_LOADER_H
#define TB_LOADER_H

#include <stddef.h>
#include <teep-broker/driver.h>

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

#endif

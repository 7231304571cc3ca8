/*
 * What a configuration reload may change (confdiff.c): the keys of a new
 * configuration compared with those of the one in use, and every change that
 * the running broker cannot take without a restart.
 *
 * Pure: no I/O, no broker state; the reload (reload.c) and the unit tests
 * call it. docs/operations.md lists the keys that reload and those that need
 * a restart.
 */
#ifndef TB_CONFDIFF_H
#define TB_CONFDIFF_H

#include "conf.h"

#include <stddef.h>
#include <stdint.h>

/* What the broker sized at its start, that a reload may lower and raise
 * again but not beyond (the tables are not resized while apps use them). */
struct tb_conf_caps {
	uint32_t max_connections; /* [listener] max_connections at the start */
	uint32_t max_sessions;    /* [broker] max_sessions at the start */
};

/*
 * Compare cur (in use) with next (just read). Every change that needs a
 * restart is one problem in errs[0..cap) ("[listener] port: 8470 -> 8471:
 * needs a restart", with the line of the key in next, or of its section, or
 * 0); *n is how many were stored. plugin_reloadable[i] says whether plugin i
 * of cur takes new options on a reload (plugin ABI 1.2 reload hooks); NULL:
 * none does. Returns how many changes need a restart (may exceed cap): 0 means
 * the reload may go ahead.
 */
size_t tb_conf_diff(const struct tb_conf *cur, const struct tb_conf *next,
                    const struct tb_conf_caps *caps, const int *plugin_reloadable,
                    struct tb_conf_error *errs, size_t cap, size_t *n);

#endif

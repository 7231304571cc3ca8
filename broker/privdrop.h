/*
 * Running as an unprivileged user: [broker] user and group (privdrop.c).
 *
 * Started as root with `user` set, the broker binds its listener, makes the
 * state root ([broker] state_dir) the user's, and drops to the user, its
 * group and its supplementary groups before any driver or plugin is loaded,
 * so that no loaded code and no parser of untrusted input ever runs as
 * root. Under systemd the unit's User= does it instead, and `user` (if set)
 * must then name the user the unit runs as.
 */
#ifndef TB_PRIVDROP_H
#define TB_PRIVDROP_H

#include "conf.h"

#include <stddef.h>
#include <sys/types.h>

struct tb_priv {
	int drop;     /* started as root with `user` set: drop */
	int mismatch; /* not root, and not `user` either: cannot become it */
	uid_t uid;
	gid_t gid;
	char user[65];
};

/* Look up `user` and `group`. Returns 0 (p->drop and p->mismatch tell
 * what applies), or -1 with a reason in why (no such user or group). */
int tb_priv_resolve(const struct tb_conf *c, struct tb_priv *p, char *why, size_t whylen);

/* As root, before dropping: dir exists (it is created, mode 0700, if not;
 * its parent must exist), is a directory and not a link, and belongs to
 * the user and group (chown). Not recursive: what the drivers made in it
 * as root before stays root's. 0, or -1 with a reason. */
int tb_priv_prepare_dir(const struct tb_priv *p, const char *dir, char *why, size_t whylen);

/* Become the user for good: supplementary groups (initgroups), gid, uid;
 * then check that root cannot be regained. 0, or -1 with a reason. */
int tb_priv_drop(const struct tb_priv *p, char *why, size_t whylen);

#endif

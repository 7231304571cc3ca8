/*
 * [broker] user and group: dropping root (privdrop.h).
 */
#include "config.h"
#include "privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tb_priv_resolve(const struct tb_conf *c, struct tb_priv *p, char *why, size_t whylen)
{
	struct passwd *pw;

	memset(p, 0, sizeof(*p));
	if (!c->user)
		return 0;
	errno = 0;
	pw = getpwnam(c->user);
	if (!pw) {
		if (errno)
			snprintf(why, whylen, "[broker] user: cannot look up \"%s\": %s", c->user,
			         strerror(errno));
		else
			snprintf(why, whylen, "[broker] user: no such user \"%s\"", c->user);
		return -1;
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->user, sizeof(p->user), "%s", c->user);
	if (c->group) {
		struct group *gr;
		errno = 0;
		gr = getgrnam(c->group);
		if (!gr) {
			if (errno)
				snprintf(why, whylen, "[broker] group: cannot look up \"%s\": %s",
				         c->group, strerror(errno));
			else
				snprintf(why, whylen, "[broker] group: no such group \"%s\"",
				         c->group);
			return -1;
		}
		p->gid = gr->gr_gid;
	}
	if (p->uid == 0) {
		snprintf(why, whylen, "[broker] user: \"%s\" is root (uid 0): nothing to drop",
		         c->user);
		return -1;
	}
	if (geteuid() == 0)
		p->drop = 1;
	else if (geteuid() != p->uid)
		p->mismatch = 1;
	return 0;
}

int tb_priv_prepare_dir(const struct tb_priv *p, const char *dir, char *why, size_t whylen)
{
	struct stat st;
	int fd;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	/* not through a link: the chown is root's, the directory may not be */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s", dir,
		         errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 ||
	    ((st.st_uid != p->uid || st.st_gid != p->gid) && fchown(fd, p->uid, p->gid) != 0)) {
		snprintf(why, whylen, "cannot give %s to %s: %s", dir, p->user, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int tb_priv_drop(const struct tb_priv *p, char *why, size_t whylen)
{
	/* the user's supplementary groups: a TEE device (/dev/tee0) is
	 * reached through them */
	if (initgroups(p->user, p->gid) != 0) {
		snprintf(why, whylen, "initgroups(%s): %s", p->user, strerror(errno));
		return -1;
	}
	if (setresgid(p->gid, p->gid, p->gid) != 0) {
		snprintf(why, whylen, "setresgid(%lu): %s", (unsigned long)p->gid, strerror(errno));
		return -1;
	}
	if (setresuid(p->uid, p->uid, p->uid) != 0) {
		snprintf(why, whylen, "setresuid(%lu): %s", (unsigned long)p->uid, strerror(errno));
		return -1;
	}
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != p->uid ||
	    eu != p->uid || su != p->uid || rg != p->gid || eg != p->gid || sg != p->gid) {
		snprintf(why, whylen, "the user and group ids did not all change");
		return -1;
	}
	/* none of the saved ids is root any more: this must fail */
	if (setuid(0) == 0 || seteuid(0) == 0 || (p->gid != 0 && setgid(0) == 0)) {
		snprintf(why, whylen, "root could be regained after dropping to %s", p->user);
		return -1;
	}
	return 0;
}

/*
 * A hardware attestation report through configfs-tsm (lib/tb_tsm.h).
 */
#include "tb_tsm.h"
#include "tb_util.h"

#include <teep-broker/driver.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha512.h>

int tb_tsm_inblob(const uint8_t *nonce, size_t len, uint8_t out[TB_TSM_INBLOB_LEN])
{
	if (!nonce || !len || !out)
		return TB_ERR_INVAL;
	return mbedtls_sha512_ret(nonce, len, out, 0) == 0 ? TB_OK : TB_ERR_INVAL;
}

/* Read an attribute: at most max bytes; one more means too big. */
static int read_attr(const char *path, uint8_t *buf, size_t max, size_t *len)
{
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return TB_ERR_IO;
	for (;;) {
		uint8_t extra;
		ssize_t r = n < max ? read(fd, buf + n, max - n) : read(fd, &extra, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return TB_ERR_IO;
		}
		if (r == 0)
			break;
		if (n >= max) {
			close(fd);
			return TB_ERR_TOOBIG;
		}
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return TB_OK;
}

static int write_attr(const char *path, const uint8_t *buf, size_t len)
{
	size_t done = 0;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return TB_ERR_IO;
	while (done < len) {
		ssize_t w = write(fd, buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return TB_ERR_IO;
		}
		done += (size_t)w;
	}
	return close(fd) == 0 ? TB_OK : TB_ERR_IO;
}

static int read_generation(const char *path, uint64_t *out)
{
	char text[32], *end;
	size_t n = 0;
	unsigned long long v;

	if (read_attr(path, (uint8_t *)text, sizeof(text) - 1, &n) != TB_OK)
		return TB_ERR_IO;
	text[n] = 0;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || (*end && *end != '\n'))
		return TB_ERR_IO;
	*out = v;
	return TB_OK;
}

/* entry/name into buf (the caller checked that entry leaves room). */
static const char *attr(char *buf, size_t size, const char *entry, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", entry, name);

	return n > 0 && (size_t)n < size ? buf : "";
}

/* One attempt: TB_OK, TB_ERR_BUSY (a concurrent writer) or a failure. */
static int attempt(const char *entry, const uint8_t inblob[TB_TSM_INBLOB_LEN],
                   struct tb_tsm_report *r, char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint64_t g0, g1;
	size_t n = 0;
	int rc;

#define ATTR(name) attr(path, sizeof(path), entry, name)
	if (read_generation(ATTR("generation"), &g0) != TB_OK)
		return tb_err(err, errlen, TB_ERR_IO, "cannot read %s", path);
	if (write_attr(ATTR("inblob"), inblob, TB_TSM_INBLOB_LEN) != TB_OK)
		return tb_err(err, errlen, TB_ERR_IO, "cannot write %s: %s", path, strerror(errno));
	rc = read_attr(ATTR("outblob"), r->outblob, sizeof(r->outblob), &r->outblob_len);
	if (rc == TB_ERR_TOOBIG)
		return tb_err(err, errlen, rc, "%s: larger than %u bytes", path,
		              TB_TSM_OUTBLOB_MAX);
	if (rc != TB_OK || !r->outblob_len)
		return tb_err(err, errlen, TB_ERR_IO, "cannot read %s: %s", path,
		              rc != TB_OK ? strerror(errno) : "empty");
	if (read_attr(ATTR("provider"), (uint8_t *)r->provider, TB_TSM_PROVIDER_MAX, &n) != TB_OK ||
	    !n)
		return tb_err(err, errlen, TB_ERR_IO, "cannot read %s", path);
	r->provider[n] = 0;
	if (r->provider[n - 1] == '\n')
		r->provider[n - 1] = 0;
	if (!r->provider[0] || strlen(r->provider) != strcspn(r->provider, "\n"))
		return tb_err(err, errlen, TB_ERR_IO, "%s: not one line", path);
	if (read_generation(ATTR("generation"), &g1) != TB_OK)
		return tb_err(err, errlen, TB_ERR_IO, "cannot read %s", path);
#undef ATTR
	if (g1 != g0 + 1)
		return tb_err(err, errlen, TB_ERR_BUSY,
		              "generation went from %" PRIu64 " to %" PRIu64
		              " around our write: another writer",
		              g0, g1);
	r->generation = g1;
	memcpy(r->inblob, inblob, TB_TSM_INBLOB_LEN);
	return TB_OK;
}

int tb_tsm_report(const char *dir, const uint8_t inblob[TB_TSM_INBLOB_LEN], struct tb_tsm_report *r,
                  char *err, size_t errlen)
{
	char entry[PATH_MAX];
	struct stat st;
	int n, rc = TB_ERR_IO;

	if (err && errlen)
		err[0] = 0;
	if (!dir || !inblob || !r)
		return TB_ERR_INVAL;
	memset(r, 0, sizeof(*r));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return tb_err(err, errlen, TB_ERR_NOTFOUND, "no configfs-tsm report directory %s",
		              dir);
	n = snprintf(entry, sizeof(entry), "%s/%s", dir, TB_TSM_ENTRY);
	if (n < 0 || (size_t)n >= sizeof(entry) - 16)
		return tb_err(err, errlen, TB_ERR_INVAL, "%s: path too long", dir);
	if (mkdir(entry, 0700) != 0 && errno != EEXIST)
		return tb_err(err, errlen, TB_ERR_IO, "cannot create %s: %s", entry,
		              strerror(errno));
	for (int i = 0; i < TB_TSM_TRIES; i++) {
		rc = attempt(entry, inblob, r, err, errlen);
		if (rc != TB_ERR_BUSY)
			break;
	}
	if (rc != TB_OK)
		memset(r, 0, sizeof(*r));
	return rc;
}

long tb_tsm_report_data_offset(const char *provider)
{
	if (!provider)
		return -1;
	if (strcmp(provider, "sev_guest") == 0)
		return 0x50; /* SEV-SNP ABI, ATTESTATION_REPORT: REPORT_DATA */
	if (strcmp(provider, "tdx_guest") == 0)
		return 48 + 520; /* quote v4 header, then the TD quote body's REPORTDATA */
	return -1;
}

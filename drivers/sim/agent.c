/*
 * The software TEEP Agent of the "sim" driver. NOT a TEE: see agent.h.
 *
 * Every message from the TAM arrives through the untrusted broker from the
 * network, so it is bounded by max_message, verified against the configured
 * TAM keys before it is decoded, and every manifest is verified against the
 * configured Trusted Component signers before anything touches the disk.
 *
 * No locking anywhere in this file: the broker serialises the operations of
 * one instance on one worker thread (see agent.h).
 */
#include <config.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <time.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "agent.h"
#include "tb_cbor.h"
#include "tb_cose.h"
#include "tb_cose_key.h"
#include "tb_eat.h"
#include "tb_suit.h"
#include "tb_suit_report.h"
#include "tb_util.h"

#define SIM_SESSION_MAGIC    0x53494d53u /* "SIMS": catches a foreign pointer */
#define SIM_PATH_MAX         4096
#define SIM_STATE_DIR_MAX    1024 /* leaves room for the tc/... part below it */
#define SIM_INFO_MAX         8192
#define SIM_SCAN_MAX_ENTRIES 65536 /* directory entries looked at on init */
#define SIM_URI_MAX          2048
#define SIM_ERR_MSG_MAX      TB_TEEP_MSG_MAX
#define SIM_NOT_FOUND        ((size_t)-1)

#define TEEP_MEDIA_TYPE "application/teep+cbor"

/* File names inside a component directory. A segment that spells one of them
 * (or a temporary name of tb_write_file) is hex-encoded, so a child
 * component's directory never collides with its parent's files. */
#define F_IMAGE    "image"
#define F_MANIFEST "manifest.suit"
#define F_INFO     "info"
static const char *const component_files[] = {F_IMAGE, F_MANIFEST, F_INFO};
#define N_COMPONENT_FILES (sizeof(component_files) / sizeof(component_files[0]))

#define SIM_LOG(a, level, ...) (a)->host->log((a)->host, (level), __VA_ARGS__)

/* One installed Trusted Component, mirrored from its info file. */
struct sim_tc {
	struct tb_component_id cid;
	struct tb_component_id manifest_id;
	uint64_t seq;
	uint64_t image_size;
	uint8_t sha256[32];
};

struct sim_session {
	uint32_t magic;
	enum sim_session_kind kind;
	enum sim_session_state state;
	struct tb_component_id cid;         /* REQUEST, UNREQUEST */
	struct tb_component_id manifest_id; /* UNREQUEST: what to call unneeded */
	struct tb_buf last_token;           /* of the last verified TAM message */
	int alg; /* signature algorithm of the suite chosen; 0: the default */
};

struct sim_agent {
	const struct tb_host *host;
	char *state_dir;
	char *tc_dir;
	char *tam_uri; /* NULL: none configured */
	char *tsm_dir; /* configfs-tsm reports; NULL: none */
	enum tb_numbering num;
	int alg;
	size_t max_components;
	size_t max_message;
	uint64_t call_delay_ms;
	int call_delay_stuck;

	struct tb_key *key;
	struct tb_key *decrypt_key; /* NULL: key decrypts */
	uint8_t kid[32];            /* RFC 9679 thumbprint of key */
	struct tb_key *attest_key;  /* signs Evidence; never the TEEP key */
	/* What the Evidence reports the Agent runs: the object file holding
	 * this code (n_meas 0: it could not be read) */
	struct tb_eat_measurement meas[1];
	size_t n_meas;
	struct tb_key *tam_keys[SIM_MAX_KEYS];
	size_t n_tam_keys;
	struct tb_key *signers[SIM_MAX_KEYS];
	size_t n_signers;

	struct sim_tc *tc; /* max_components slots */
	size_t n_tc;

	/* Components asked for by apps and not installed yet; a policy check
	 * asks the TAM for them again. */
	struct tb_component_id requested[TB_TEEP_MAX_LIST];
	size_t n_requested;

	/* The exchange of the policy round in progress (RequestPolicyCheck
	 * hands out the TAM, the next call answers nothing), NULL when none.
	 * Whatever way that exchange ends closes the round: the broker asks
	 * again only after one that ended normally, so a round left open by
	 * a failed exchange would swallow the next policy check. */
	struct sim_session *policy_round;

	/* exchanges handed to the broker and closed by it (session_close) */
	size_t sessions_opened, sessions_closed;
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static int path_join(char *out, size_t outlen, const char *dir, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= outlen ? TB_ERR_TOOBIG : TB_OK;
}

static int buf_copy(struct tb_buf *dst, const uint8_t *p, size_t len)
{
	/* One extra byte so an empty string is still a real allocation. */
	dst->ptr = malloc(len + 1);
	if (!dst->ptr)
		return TB_ERR_NOMEM;
	if (len)
		memcpy(dst->ptr, p, len);
	dst->len = len;
	return TB_OK;
}

static void buf_clear(struct tb_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = 0;
}

static char *host_strdup(const struct sim_agent *a, const char *s)
{
	size_t len = strlen(s);
	char *p = a->host->alloc(len + 1);

	if (p)
		memcpy(p, s, len + 1);
	return p;
}

/* err-msg is 1..128 bytes of text: keep printable ASCII, cut at the limit.
 * Reasons may quote decoder messages about attacker-chosen bytes. */
static char *err_msg_dup(const char *why)
{
	size_t len = why ? strlen(why) : 0;
	char *p;

	if (len == 0) {
		why = "error";
		len = 5;
	}
	if (len > SIM_ERR_MSG_MAX)
		len = SIM_ERR_MSG_MAX;
	p = malloc(len + 1);
	if (!p)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)why[i];
		p[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	p[len] = 0;
	return p;
}

static bool uri_acceptable(const char *uri)
{
	size_t len = strlen(uri);

	if (len > SIM_URI_MAX)
		return false;
	if (strncasecmp(uri, "http://", 7) != 0 && strncasecmp(uri, "https://", 8) != 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)uri[i] <= 0x20 || (unsigned char)uri[i] >= 0x7f)
			return false;
	return true;
}

/* ------------------------------------------------------------------------ */
/* Component ids as text and as directory names                             */

static bool is_name_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool segment_is_plain(const uint8_t *p, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(p[i]))
			return false;
	if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	/* Names starting with "0x" are hex by definition. */
	if (len >= 2 && p[0] == '0' && p[1] == 'x')
		return false;
	if (len >= 4 && memcmp(p + len - 4, ".tmp", 4) == 0)
		return false;
	for (size_t i = 0; i < N_COMPONENT_FILES; i++)
		if (len == strlen(component_files[i]) && memcmp(p, component_files[i], len) == 0)
			return false;
	return true;
}

int agent__cid_to_text(const struct tb_component_id *c, char *out, size_t outlen)
{
	size_t pos = 0;

	if (!c || !out || c->n == 0 || c->n > TB_TEEP_MAX_SEGMENTS || outlen == 0)
		return TB_ERR_TOOBIG;
	for (size_t i = 0; i < c->n; i++) {
		const struct tb_buf *s = &c->seg[i];
		bool plain = segment_is_plain(s->ptr, s->len);
		size_t need = (i ? 1 : 0) + (plain ? s->len : 2 + 2 * s->len);

		if (s->len > SIM_SEGMENT_MAX || pos + need + 1 > outlen)
			return TB_ERR_TOOBIG;
		if (i)
			out[pos++] = '/';
		if (plain) {
			memcpy(out + pos, s->ptr, s->len);
		} else {
			out[pos] = '0';
			out[pos + 1] = 'x';
			tb_hex_encode(s->ptr, s->len, out + pos + 2);
		}
		pos += need - (i ? 1 : 0);
	}
	out[pos] = 0;
	return TB_OK;
}

static int lower_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int segment_from_text(const char *p, size_t len, struct tb_buf *seg)
{
	if (len >= 2 && p[0] == '0' && p[1] == 'x') {
		size_t n = (len - 2) / 2;

		if ((len - 2) % 2 || n > SIM_SEGMENT_MAX)
			return TB_ERR_PARSE;
		seg->ptr = malloc(n + 1);
		if (!seg->ptr)
			return TB_ERR_NOMEM;
		for (size_t i = 0; i < n; i++) {
			int hi = lower_hex(p[2 + 2 * i]), lo = lower_hex(p[3 + 2 * i]);
			if (hi < 0 || lo < 0) {
				buf_clear(seg);
				return TB_ERR_PARSE;
			}
			seg->ptr[i] = (uint8_t)(hi << 4 | lo);
		}
		seg->len = n;
		return TB_OK;
	}
	if (len == 0 || len > SIM_SEGMENT_MAX)
		return TB_ERR_PARSE;
	return buf_copy(seg, (const uint8_t *)p, len);
}

int agent__cid_from_text(const char *text, struct tb_component_id *out)
{
	char check[SIM_CID_TEXT_MAX + 1];
	const char *p = text;
	int rc = TB_OK;

	if (!text || !out)
		return TB_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (strlen(text) > SIM_CID_TEXT_MAX)
		return TB_ERR_PARSE;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (out->n == TB_TEEP_MAX_SEGMENTS) {
			rc = TB_ERR_PARSE;
			break;
		}
		rc = segment_from_text(p, len, &out->seg[out->n]);
		if (rc != TB_OK)
			break;
		out->n++;
		if (!slash)
			break;
		p = slash + 1;
	}
	/* Accept only the canonical spelling: the text must be exactly what
	 * agent__cid_to_text writes, so one component has one directory. */
	if (rc == TB_OK &&
	    (agent__cid_to_text(out, check, sizeof(check)) != TB_OK || strcmp(check, text) != 0))
		rc = TB_ERR_PARSE;
	if (rc != TB_OK)
		tb_component_id_clear(out);
	return rc;
}

static bool cid_storable(const struct tb_component_id *c)
{
	char text[SIM_CID_TEXT_MAX + 1];

	return agent__cid_to_text(c, text, sizeof(text)) == TB_OK;
}

/* Directory of a component: <state_dir>/tc/<text form>. */
static int component_dir(const struct sim_agent *a, const struct tb_component_id *c, char *out,
                         size_t outlen)
{
	char text[SIM_CID_TEXT_MAX + 1];
	int rc = agent__cid_to_text(c, text, sizeof(text));

	return rc != TB_OK ? rc : path_join(out, outlen, a->tc_dir, text);
}

/* For log lines: never fails, marks what it cannot show. */
static const char *cid_log(const struct tb_component_id *c, char *buf, size_t len)
{
	if (agent__cid_to_text(c, buf, len) != TB_OK)
		snprintf(buf, len, "(unprintable component id)");
	return buf;
}

/* ------------------------------------------------------------------------ */
/* Files and directories                                                    */

/* mkdir -p with the given mode for every directory it creates. */
static int make_dirs(const char *path, mode_t mode)
{
	char buf[SIM_PATH_MAX];
	size_t len = strlen(path);
	struct stat st;

	if (len == 0 || len >= sizeof(buf))
		return TB_ERR_TOOBIG;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if ((buf[i] != '/' && buf[i] != 0) || buf[i - 1] == '/')
			continue;
		buf[i] = 0;
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return TB_ERR_IO;
		buf[i] = i < len ? '/' : 0;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return TB_ERR_IO;
	return TB_OK;
}

static int write_in_dir(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[SIM_PATH_MAX];
	int rc = path_join(path, sizeof(path), dir, name);

	return rc != TB_OK ? rc : tb_write_file(path, buf, len);
}

/* Remove a component's files, then its directory and every parent that has
 * become empty, up to tc/. A child component below keeps its own files. */
static int remove_component_files(const struct sim_agent *a, const struct tb_component_id *c)
{
	char dir[SIM_PATH_MAX], path[SIM_PATH_MAX];
	size_t tc_len = strlen(a->tc_dir);
	int rc = component_dir(a, c, dir, sizeof(dir));

	if (rc != TB_OK)
		return rc;
	for (size_t i = 0; i < N_COMPONENT_FILES; i++) {
		if (path_join(path, sizeof(path), dir, component_files[i]) != TB_OK)
			return TB_ERR_TOOBIG;
		if (unlink(path) != 0 && errno != ENOENT)
			rc = TB_ERR_IO;
	}
	if (rc != TB_OK)
		return rc;
	while (strlen(dir) > tc_len) {
		char *slash = strrchr(dir, '/');

		if (rmdir(dir) != 0)
			break; /* not empty (a child component) or gone: fine */
		if (!slash)
			break;
		*slash = 0;
	}
	return TB_OK;
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                     */

static void free_keys(struct tb_key **keys, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		tb_key_free(keys[i]);
	*n = 0;
}

/* A comma-separated list of PEM files; at least one, at most SIM_MAX_KEYS. */
static int load_key_list(struct sim_agent *a, const char *what, const char *list,
                         struct tb_key **keys, size_t *n)
{
	char *copy = strdup(list), *save = NULL;
	int rc = TB_OK;

	if (!copy)
		return TB_ERR_NOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char err[160] = "";
		char *end = tok + strlen(tok);

		while (*tok == ' ' || *tok == '\t')
			tok++;
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = 0;
		if (*tok == 0)
			continue;
		if (*n == SIM_MAX_KEYS) {
			SIM_LOG(a, TB_LOG_ERR, "%s: more than %d keys", what, SIM_MAX_KEYS);
			rc = TB_ERR_TOOBIG;
			break;
		}
		rc = tb_key_load_file(tok, &keys[*n], err, sizeof(err));
		if (rc != TB_OK) {
			SIM_LOG(a, TB_LOG_ERR, "%s %s: %s", what, tok, err);
			break;
		}
		(*n)++;
	}
	free(copy);
	if (rc == TB_OK && *n == 0) {
		SIM_LOG(a, TB_LOG_ERR, "%s: no key file given", what);
		rc = TB_ERR_INVAL;
	}
	if (rc != TB_OK)
		free_keys(keys, n);
	return rc;
}

static int generate_key(struct sim_agent *a, const char *what, const char *path,
                        struct tb_key **dst)
{
	char *pem = NULL;
	int rc = tb_key_generate(dst);

	if (rc == TB_OK)
		rc = tb_key_to_pem(*dst, 1, &pem);
	if (rc == TB_OK) {
		size_t len = strlen(pem);

		rc = tb_write_file(path, (const uint8_t *)pem, len);
		/* tb_write_file creates 0600 already; keep it so even if a
		 * stale temporary file had looser bits. */
		if (rc == TB_OK && chmod(path, 0600) != 0)
			rc = TB_ERR_IO;
		mbedtls_platform_zeroize(pem, len);
		free(pem);
	}
	if (rc != TB_OK) {
		SIM_LOG(a, TB_LOG_ERR, "cannot create the %s %s", what, path);
		return rc;
	}
	SIM_LOG(a, TB_LOG_NOTICE, "generated a new %s in %s", what, path);
	return TB_OK;
}

static int write_public_key(struct sim_agent *a, const struct tb_key *key, const char *name)
{
	char path[SIM_PATH_MAX];
	char *pem = NULL;
	int rc = path_join(path, sizeof(path), a->state_dir, name);

	if (rc == TB_OK)
		rc = tb_key_to_pem(key, 0, &pem);
	if (rc == TB_OK)
		rc = tb_write_file(path, (const uint8_t *)pem, strlen(pem));
	free(pem);
	if (rc != TB_OK) {
		SIM_LOG(a, TB_LOG_WARN, "cannot write the public key to %s", path);
		return rc;
	}
	SIM_LOG(a, TB_LOG_NOTICE, "public key (give it to the TAM): %s", path);
	return TB_OK;
}

/* The configured key, else <state_dir>/agent.pem, generated on first use.
 * A configured key that does not exist is an error: generating one in its
 * place would hide a typo behind a key no TAM knows. */
static int load_key(struct sim_agent *a, const char *what, const char *configured, const char *dflt,
                    struct tb_key **dst)
{
	char path[SIM_PATH_MAX], err[160] = "";
	struct stat st;
	int rc;

	if (configured) {
		if (strlen(configured) >= sizeof(path))
			return TB_ERR_TOOBIG;
		strcpy(path, configured);
	} else if (path_join(path, sizeof(path), a->state_dir, dflt) != TB_OK) {
		return TB_ERR_TOOBIG;
	}
	if (stat(path, &st) != 0) {
		if (errno != ENOENT || configured) {
			SIM_LOG(a, TB_LOG_ERR, "%s %s: %s", what, path, strerror(errno));
			return TB_ERR_IO;
		}
		rc = generate_key(a, what, path, dst);
	} else {
		rc = tb_key_load_file(path, dst, err, sizeof(err));
		if (rc != TB_OK)
			SIM_LOG(a, TB_LOG_ERR, "%s %s: %s", what, path, err);
		else if (!tb_key_has_private(*dst)) {
			SIM_LOG(a, TB_LOG_ERR, "%s %s holds no private key", what, path);
			rc = TB_ERR_INVAL;
		}
	}
	return rc;
}

/* The Agent's TEEP key. Its kid is the RFC 9679 COSE Key Thumbprint, the
 * identifier TAMs look Agents up by. The public key is rewritten on every
 * start so it always matches the key in use; a failure only costs the
 * operator a convenience. */
static int load_agent_key(struct sim_agent *a, const char *configured)
{
	int rc = load_key(a, "agent_key", configured, "agent.pem", &a->key);

	if (rc == TB_OK)
		rc = tb_cose_key_thumbprint(a->key, a->kid);
	if (rc == TB_OK)
		write_public_key(a, a->key, "agent_pub.pem");
	return rc;
}

/* The attestation key signs Evidence only; it is a key of its own so that
 * a Verifier's trust in it says nothing about the TEEP key and back. */
static int load_attestation_key(struct sim_agent *a, const char *configured)
{
	int rc = load_key(a, "attestation_key", configured, "attestation.pem", &a->attest_key);

	if (rc == TB_OK)
		write_public_key(a, a->attest_key, "attestation_pub.pem");
	return rc;
}

/* SHA-256 of the object file that holds the Agent's code (the sim driver's
 * shared object, or the program it is linked into): what the Evidence's
 * measurements claim reports. Read in bounded chunks; no measurement when
 * it cannot be read. */
#define SIM_MEASURE_MAX (512u * 1024u * 1024u)
static void measure_self(struct sim_agent *a)
{
	mbedtls_sha256_context ctx;
	uint8_t chunk[16384];
	Dl_info info;
	size_t total = 0, n;
	const char *base;
	FILE *f;
	int ok = 0;

	if (dladdr((void *)(uintptr_t)&agent__create, &info) == 0 || !info.dli_fname)
		return;
	f = fopen(info.dli_fname, "rb");
	if (!f) {
		SIM_LOG(a, TB_LOG_WARN, "cannot measure %s: %s", info.dli_fname, strerror(errno));
		return;
	}
	mbedtls_sha256_init(&ctx);
	if (mbedtls_sha256_starts_ret(&ctx, 0) == 0) {
		ok = 1;
		while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
			total += n;
			ok = total <= SIM_MEASURE_MAX &&
			     mbedtls_sha256_update_ret(&ctx, chunk, n) == 0;
		}
		ok = ok && !ferror(f) && mbedtls_sha256_finish_ret(&ctx, a->meas[0].sha256) == 0;
	}
	mbedtls_sha256_free(&ctx);
	fclose(f);
	if (!ok)
		return;
	base = strrchr(info.dli_fname, '/');
	snprintf(a->meas[0].name, sizeof(a->meas[0].name), "%s", base ? base + 1 : info.dli_fname);
	a->n_meas = 1;
	SIM_LOG(a, TB_LOG_INFO, "measured %s", info.dli_fname);
}

static int load_decrypt_key(struct sim_agent *a, const char *path)
{
	char err[160] = "";
	int rc = tb_key_load_file(path, &a->decrypt_key, err, sizeof(err));

	if (rc != TB_OK) {
		SIM_LOG(a, TB_LOG_ERR, "decrypt_key %s", err);
		return rc;
	}
	if (!tb_key_has_private(a->decrypt_key)) {
		SIM_LOG(a, TB_LOG_ERR, "decrypt_key %s holds no private key", path);
		return TB_ERR_INVAL;
	}
	return TB_OK;
}

/* ------------------------------------------------------------------------ */
/* The installed set                                                        */

static void tc_clear(struct sim_tc *t)
{
	tb_component_id_clear(&t->cid);
	tb_component_id_clear(&t->manifest_id);
	memset(t, 0, sizeof(*t));
}

static size_t find_tc(const struct sim_agent *a, const struct tb_component_id *cid)
{
	for (size_t i = 0; i < a->n_tc; i++)
		if (tb_component_id_equal(&a->tc[i].cid, cid))
			return i;
	return SIM_NOT_FOUND;
}

static size_t find_tc_by_manifest(const struct sim_agent *a, const struct tb_component_id *mid)
{
	for (size_t i = 0; i < a->n_tc; i++)
		if (tb_component_id_equal(&a->tc[i].manifest_id, mid))
			return i;
	return SIM_NOT_FOUND;
}

static int info_format(const struct sim_tc *t, char *out, size_t outlen)
{
	char cid[SIM_CID_TEXT_MAX + 1], mid[SIM_CID_TEXT_MAX + 1], sha[65];
	int n;

	if (agent__cid_to_text(&t->cid, cid, sizeof(cid)) != TB_OK ||
	    agent__cid_to_text(&t->manifest_id, mid, sizeof(mid)) != TB_OK)
		return TB_ERR_TOOBIG;
	tb_hex_encode(t->sha256, sizeof(t->sha256), sha);
	n = snprintf(out, outlen,
	             "# Installed by the sim driver: a plain file, NOT protected by a TEE.\n"
	             "component-id = %s\n"
	             "manifest-component-id = %s\n"
	             "sequence-number = %" PRIu64 "\n"
	             "image-size = %" PRIu64 "\n"
	             "image-sha256 = %s\n",
	             cid, mid, t->seq, t->image_size, sha);
	return n < 0 || (size_t)n >= outlen ? TB_ERR_TOOBIG : TB_OK;
}

static int parse_u64(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (*s == 0)
		return TB_ERR_PARSE;
	for (; *s; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return TB_ERR_PARSE;
		d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return TB_ERR_PARSE;
		n = n * 10 + d;
	}
	*v = n;
	return TB_OK;
}

static int parse_sha256(const char *s, uint8_t out[32])
{
	if (strlen(s) != 64)
		return TB_ERR_PARSE;
	for (size_t i = 0; i < 32; i++) {
		int hi = lower_hex(s[2 * i]), lo = lower_hex(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return TB_ERR_PARSE;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return TB_OK;
}

/* One "key = value" line of an info file (modified in place). */
static int info_line(char *line, const char *rel, struct sim_tc *t, unsigned *seen)
{
	char *eq = strchr(line, '='), *key = line, *val, *end;

	if (*line == '#' || *line == 0)
		return TB_OK;
	if (!eq)
		return TB_ERR_PARSE;
	*eq = 0;
	val = eq + 1;
	for (end = eq; end > key && end[-1] == ' '; end--)
		end[-1] = 0;
	while (*val == ' ')
		val++;
	for (end = val + strlen(val); end > val && end[-1] == ' '; end--)
		end[-1] = 0;
	if (strcmp(key, "component-id") == 0) {
		*seen |= 1;
		/* The directory is the truth; the line must agree with it. */
		return strcmp(val, rel) == 0 ? TB_OK : TB_ERR_PARSE;
	}
	if (strcmp(key, "manifest-component-id") == 0 && !(*seen & 2)) {
		*seen |= 2;
		return agent__cid_from_text(val, &t->manifest_id);
	}
	if (strcmp(key, "sequence-number") == 0) {
		*seen |= 4;
		return parse_u64(val, &t->seq);
	}
	if (strcmp(key, "image-size") == 0) {
		*seen |= 8;
		return parse_u64(val, &t->image_size);
	}
	if (strcmp(key, "image-sha256") == 0) {
		*seen |= 16;
		return parse_sha256(val, t->sha256);
	}
	return TB_OK; /* unknown keys: written by a newer version */
}

static int info_parse(char *text, const char *rel, struct sim_tc *t)
{
	unsigned seen = 0;
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (info_line(line, rel, t, &seen) != TB_OK)
			return TB_ERR_PARSE;
	return seen == 31 ? TB_OK : TB_ERR_PARSE;
}

/* Load the component whose directory is dir (rel: its path below tc/). */
static void load_component(struct sim_agent *a, const char *dir, const char *rel)
{
	char path[SIM_PATH_MAX];
	struct sim_tc t = {0};
	uint8_t *text = NULL;
	size_t len = 0;
	struct stat st;
	const char *why = NULL;

	if (agent__cid_from_text(rel, &t.cid) != TB_OK)
		why = "directory name is not a component id";
	else if (path_join(path, sizeof(path), dir, F_INFO) != TB_OK ||
	         tb_read_file(path, SIM_INFO_MAX, &text, &len) != TB_OK)
		why = "unreadable info file";
	else if (info_parse((char *)text, rel, &t) != TB_OK)
		why = "malformed info file";
	else if (path_join(path, sizeof(path), dir, F_IMAGE) != TB_OK || lstat(path, &st) != 0 ||
	         !S_ISREG(st.st_mode) || (uint64_t)st.st_size != t.image_size)
		why = "image missing or of the wrong size";
	else if (find_tc(a, &t.cid) != SIM_NOT_FOUND)
		why = "duplicate";
	else if (a->n_tc == a->max_components)
		why = "max_components reached";
	free(text);
	if (why) {
		SIM_LOG(a, TB_LOG_WARN, "ignoring installed component at %s: %s", dir, why);
		tc_clear(&t);
		return;
	}
	a->tc[a->n_tc++] = t;
}

static bool is_component_file(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < N_COMPONENT_FILES; i++)
		if (strcmp(name, component_files[i]) == 0)
			return true;
	return len >= 4 && strcmp(name + len - 4, ".tmp") == 0;
}

/* Walk tc/ depth first. path is a SIM_PATH_MAX buffer extended in place;
 * the walk is bounded in depth, entries and components. */
static void scan_dir(struct sim_agent *a, char *path, size_t rel_off, unsigned depth,
                     size_t *budget)
{
	size_t plen = strlen(path);
	struct dirent *de;
	DIR *d;

	if (depth > 0) {
		struct stat st;
		char info[SIM_PATH_MAX];

		if (path_join(info, sizeof(info), path, F_INFO) == TB_OK && lstat(info, &st) == 0)
			load_component(a, path, path + rel_off);
	}
	if (depth == TB_TEEP_MAX_SEGMENTS)
		return;
	d = opendir(path);
	if (!d) {
		SIM_LOG(a, TB_LOG_WARN, "cannot read %s: %s", path, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    is_component_file(de->d_name))
			continue;
		if (*budget == 0)
			break;
		if (a->n_tc == a->max_components) {
			SIM_LOG(a, TB_LOG_WARN, "max_components (%zu) reached: stopped scanning %s",
			        a->max_components, a->tc_dir);
			*budget = 0;
			break;
		}
		if (--*budget == 0)
			SIM_LOG(a, TB_LOG_WARN, "%s: too many entries, stopped scanning",
			        a->tc_dir);
		if (plen + 1 + strlen(de->d_name) + 1 > SIM_PATH_MAX)
			continue;
		path[plen] = '/';
		strcpy(path + plen + 1, de->d_name);
		/* lstat: a symlink is never followed out of the state dir. */
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			scan_dir(a, path, rel_off, depth + 1, budget);
		path[plen] = 0;
	}
	closedir(d);
}

static void load_installed(struct sim_agent *a)
{
	char path[SIM_PATH_MAX];
	size_t budget = SIM_SCAN_MAX_ENTRIES;

	if (strlen(a->tc_dir) >= sizeof(path))
		return;
	strcpy(path, a->tc_dir);
	scan_dir(a, path, strlen(a->tc_dir) + 1, 0, &budget);
}

/* Write image, manifest and (last, as the commit mark for reloading) info. */
static int store_component(struct sim_agent *a, const struct sim_tc *t, const struct tb_buf *image,
                           const struct tb_buf *envelope, char *dir, size_t dirlen)
{
	char info[2 * SIM_CID_TEXT_MAX + 512];
	int rc = component_dir(a, &t->cid, dir, dirlen);

	if (rc == TB_OK)
		rc = info_format(t, info, sizeof(info));
	if (rc == TB_OK)
		rc = make_dirs(dir, 0700);
	if (rc == TB_OK)
		rc = write_in_dir(dir, F_IMAGE, image->ptr, image->len);
	if (rc == TB_OK)
		rc = write_in_dir(dir, F_MANIFEST, envelope->ptr, envelope->len);
	if (rc == TB_OK)
		rc = write_in_dir(dir, F_INFO, (const uint8_t *)info, strlen(info));
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Requested components                                                     */

static bool is_requested(const struct sim_agent *a, const struct tb_component_id *cid)
{
	for (size_t i = 0; i < a->n_requested; i++)
		if (tb_component_id_equal(&a->requested[i], cid))
			return true;
	return false;
}

static void requested_add(struct sim_agent *a, const struct tb_component_id *cid)
{
	char text[SIM_CID_TEXT_MAX + 1];

	if (is_requested(a, cid))
		return;
	if (a->n_requested == TB_TEEP_MAX_LIST ||
	    tb_component_id_copy(&a->requested[a->n_requested], cid) != TB_OK) {
		SIM_LOG(a, TB_LOG_WARN, "not remembering the request for %s",
		        cid_log(cid, text, sizeof(text)));
		return;
	}
	a->n_requested++;
}

static void requested_remove(struct sim_agent *a, const struct tb_component_id *cid)
{
	for (size_t i = 0; i < a->n_requested; i++) {
		if (!tb_component_id_equal(&a->requested[i], cid))
			continue;
		tb_component_id_clear(&a->requested[i]);
		a->requested[i] = a->requested[--a->n_requested];
		memset(&a->requested[a->n_requested], 0, sizeof(a->requested[0]));
		return;
	}
}

/* ------------------------------------------------------------------------ */
/* Sessions and outputs                                                     */

static struct sim_session *session_new(enum sim_session_kind kind,
                                       const struct tb_component_id *cid,
                                       const struct tb_component_id *manifest_id)
{
	struct sim_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->magic = SIM_SESSION_MAGIC;
	s->kind = kind;
	s->state = SIM_STATE_STARTED;
	if ((cid && tb_component_id_copy(&s->cid, cid) != TB_OK) ||
	    (manifest_id && tb_component_id_copy(&s->manifest_id, manifest_id) != TB_OK)) {
		tb_component_id_clear(&s->cid);
		tb_component_id_clear(&s->manifest_id);
		free(s);
		return NULL;
	}
	return s;
}

static void session_free(struct sim_session *s)
{
	tb_component_id_clear(&s->cid);
	tb_component_id_clear(&s->manifest_id);
	buf_clear(&s->last_token);
	s->magic = 0;
	free(s);
}

static bool session_ok(const struct sim_session *s)
{
	return s && s->magic == SIM_SESSION_MAGIC;
}

static const char *kind_name(enum sim_session_kind k)
{
	switch (k) {
	case SIM_SESSION_REQUEST:
		return "RequestTA";
	case SIM_SESSION_UNREQUEST:
		return "UnrequestTA";
	case SIM_SESSION_POLICY:
		return "RequestPolicyCheck";
	}
	return "?";
}

/* Hand the broker a URI and a new session (no message: it POSTs empty). */
static int start_exchange(struct sim_agent *a, enum sim_session_kind kind,
                          const struct tb_component_id *cid,
                          const struct tb_component_id *manifest_id, const char *uri,
                          struct tb_agent_out *out)
{
	struct sim_session *s = session_new(kind, cid, manifest_id);
	char *u;

	if (!s)
		return TB_ERR_NOMEM;
	u = host_strdup(a, uri);
	if (!u) {
		session_free(s);
		return TB_ERR_NOMEM;
	}
	out->tam_uri = u;
	out->session = s;
	a->sessions_opened++;
	return TB_OK;
}

/* The Agent decides (RFC 9397, TEEP/HTTP 5.1): its own configuration wins
 * over what an app suggests, and an app's hint is only taken when nothing
 * is configured. */
static const char *choose_uri(struct sim_agent *a, const char *hint)
{
	if (a->tam_uri) {
		if (hint && strcmp(hint, a->tam_uri) != 0)
			SIM_LOG(a, TB_LOG_INFO, "app suggested TAM %.256s; using the configured %s",
			        hint, a->tam_uri);
		return a->tam_uri;
	}
	if (hint && uri_acceptable(hint))
		return hint;
	if (hint)
		SIM_LOG(a, TB_LOG_WARN, "ignoring the app's TAM URI: not an http(s) URI");
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Answers                                                                  */

/* Encode, sign with the Agent key, copy into host memory. */
static int send_msg(struct sim_agent *a, const struct sim_session *s, const struct tb_teep_msg *m,
                    struct tb_agent_out *out)
{
	uint8_t *payload = NULL, *cose = NULL;
	size_t plen = 0, clen = 0;
	int rc = tb_teep_encode(m, a->num, &payload, &plen);

	if (rc == TB_OK)
		rc = tb_cose_sign1(a->key, s && s->alg ? s->alg : a->alg, payload, plen, 0, a->kid,
		                   sizeof(a->kid), &cose, &clen);
	free(payload);
	if (rc != TB_OK) {
		SIM_LOG(a, TB_LOG_ERR, "cannot build the %s message (%d)",
		        tb_teep_type_name(m->type), rc);
		return rc;
	}
	out->msg = a->host->alloc(clen);
	if (!out->msg) {
		free(cose);
		return TB_ERR_NOMEM;
	}
	memcpy(out->msg, cose, clen);
	out->msg_len = clen;
	out->media_type = NULL;
	free(cose);
	return TB_OK;
}

static int set_token(struct tb_teep_msg *m, const struct tb_buf *token)
{
	if (!token || token->len == 0)
		return TB_OK;
	return buf_copy(&m->token, token->ptr, token->len);
}

/* Answer an Error, with n SUIT Reports (borrowed). in names what is
 * answered, for the log. */
static int send_error_reports(struct sim_agent *a, struct sim_session *s, const char *in,
                              const struct tb_buf *token, enum tb_teep_err code, const char *why,
                              struct tb_buf *reports, size_t n, struct tb_agent_out *out)
{
	struct tb_teep_msg m = {0};
	int rc;

	s->state = SIM_STATE_FAILED;
	SIM_LOG(a, TB_LOG_NOTICE, "%s (%s) -> Error %d: %s", in, kind_name(s->kind), (int)code,
	        why);
	m.type = TB_TEEP_ERROR;
	m.err_code = code;
	m.err_msg = err_msg_dup(why);
	rc = m.err_msg ? set_token(&m, token) : TB_ERR_NOMEM;
	m.suit_reports = reports;
	m.n_suit_reports = n;
	if (rc == TB_OK)
		rc = send_msg(a, s, &m, out);
	m.suit_reports = NULL;
	m.n_suit_reports = 0;
	tb_teep_msg_clear(&m);
	return rc;
}

static int send_error(struct sim_agent *a, struct sim_session *s, const char *in,
                      const struct tb_buf *token, enum tb_teep_err code, const char *why,
                      struct tb_agent_out *out)
{
	return send_error_reports(a, s, in, token, code, why, NULL, 0, out);
}

/* dst gets copies of src[0..n) (none: left empty). */
static int copy_cid_list(struct tb_component_id **dst, size_t *n_dst,
                         const struct tb_component_id *const *src, size_t n)
{
	if (n == 0)
		return TB_OK;
	*dst = calloc(n, sizeof(**dst));
	if (!*dst)
		return TB_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (tb_component_id_copy(&(*dst)[i], src[i]) != TB_OK)
			return TB_ERR_NOMEM; /* tb_teep_msg_clear frees what was copied */
		*n_dst = i + 1;
	}
	return TB_OK;
}

/* tc-list: every installed component. The message format caps lists at
 * TB_TEEP_MAX_LIST entries; beyond that the TAM sees only the first ones. */
static int fill_tc_list(struct sim_agent *a, struct tb_teep_msg *m)
{
	const struct tb_component_id *src[TB_TEEP_MAX_LIST];
	size_t n = a->n_tc < TB_TEEP_MAX_LIST ? a->n_tc : TB_TEEP_MAX_LIST;

	if (a->n_tc > n)
		SIM_LOG(a, TB_LOG_WARN, "tc-list holds only %zu of %zu installed components", n,
		        a->n_tc);
	for (size_t i = 0; i < n; i++)
		src[i] = &a->tc[i].cid;
	return copy_cid_list(&m->tc_list, &m->n_tc_list, src, n);
}

/* requested-tc-list: the session's component (RequestTA), or every
 * remembered request (policy check); never one already installed. */
static int fill_requested(struct sim_agent *a, const struct sim_session *s, struct tb_teep_msg *m)
{
	const struct tb_component_id *src[TB_TEEP_MAX_LIST];
	size_t n = 0;

	if (s->kind == SIM_SESSION_REQUEST && find_tc(a, &s->cid) == SIM_NOT_FOUND)
		src[n++] = &s->cid;
	if (s->kind == SIM_SESSION_POLICY)
		for (size_t i = 0; i < a->n_requested; i++)
			if (find_tc(a, &a->requested[i]) == SIM_NOT_FOUND)
				src[n++] = &a->requested[i];
	return copy_cid_list(&m->requested_tc_list, &m->n_requested_tc_list, src, n);
}

static int fill_unneeded(struct sim_agent *a, const struct sim_session *s, struct tb_teep_msg *m)
{
	const struct tb_component_id *src[1];
	size_t n = 0;

	if (s->kind == SIM_SESSION_UNREQUEST &&
	    find_tc_by_manifest(a, &s->manifest_id) != SIM_NOT_FOUND)
		src[n++] = &s->manifest_id;
	return copy_cid_list(&m->unneeded_manifest_list, &m->n_unneeded_manifest_list, src, n);
}

#define COSE_SIGN1_TYPE 18
#define COSE_SIGN_TYPE  98

/* The signature algorithm of one suite, or 0 when the Agent cannot use it.
 * A suite is a list of [COSE type, algorithm] operations; the Agent can
 * sign (COSE_Sign1, or COSE_Sign with one signer) with ECDSA P-256, under
 * either identifier, and do no encryption or MAC at the TEEP-message
 * level. */
static int suite_alg(const cbor_item_t *suite)
{
	int64_t alg = 0;

	if (!cbor_isa_array(suite) || cbor_array_size(suite) == 0)
		return 0;
	for (size_t j = 0; j < cbor_array_size(suite); j++) {
		cbor_item_t *op = cbor_array_handle(suite)[j];
		int64_t type, a2;

		if (!cbor_isa_array(op) || cbor_array_size(op) != 2 ||
		    tb_cbor_get_int(cbor_array_handle(op)[0], &type) != TB_OK ||
		    tb_cbor_get_int(cbor_array_handle(op)[1], &a2) != TB_OK ||
		    (type != COSE_SIGN1_TYPE && type != COSE_SIGN_TYPE) ||
		    (a2 != TB_COSE_ALG_ESP256 && a2 != TB_COSE_ALG_ES256) || (alg && a2 != alg))
			return 0;
		alg = a2;
	}
	return (int)alg;
}

/* The first offered suite the Agent can use (the TAM lists them in its
 * order of preference): its algorithm, or 0. The answers of the exchange
 * are signed with that identifier, ESP256 (-9) or ES256 (-7): the same
 * ECDSA either way, but cipher suites compare the integers. */
static int pick_suite(const struct tb_buf *suites)
{
	cbor_item_t *top = tb_cbor_load(suites->ptr, suites->len, NULL);
	int alg = 0;

	if (!top)
		return 0;
	for (size_t i = 0; cbor_isa_array(top) && !alg && i < cbor_array_size(top); i++)
		alg = suite_alg(cbor_array_handle(top)[i]);
	cbor_decref(&top);
	return alg;
}

/* Error for a QueryRequest the Agent cannot answer: what it supports goes
 * into the Error, as the draft asks. */
static int refuse_query(struct sim_agent *a, struct sim_session *s, const struct tb_teep_msg *req,
                        enum tb_teep_err code, const char *why, struct tb_agent_out *out)
{
	/* [[[18, -9]], [[18, -7]]]: COSE_Sign1 with ESP256, or with ES256 */
	static const uint8_t suite[] = {
	    0x82, 0x81, 0x82, COSE_SIGN1_TYPE, 0x28, 0x81, 0x82, COSE_SIGN1_TYPE, 0x26};
	struct tb_teep_msg m = {0};
	int rc;

	s->state = SIM_STATE_FAILED;
	SIM_LOG(a, TB_LOG_NOTICE, "QueryRequest (%s) -> Error %d: %s", kind_name(s->kind),
	        (int)code, why);
	m.type = TB_TEEP_ERROR;
	m.err_code = code;
	m.err_msg = err_msg_dup(why);
	if (code == TB_TEEP_ERR_UNSUPPORTED_MSG_VERSION)
		m.has_versions = 1;
	rc = m.err_msg ? set_token(&m, &req->token) : TB_ERR_NOMEM;
	if (rc == TB_OK && code == TB_TEEP_ERR_UNSUPPORTED_CIPHER_SUITES) {
		m.cipher_suites_cbor.ptr = malloc(sizeof(suite));
		rc = m.cipher_suites_cbor.ptr ? TB_OK : TB_ERR_NOMEM;
		if (rc == TB_OK) {
			memcpy(m.cipher_suites_cbor.ptr, suite, sizeof(suite));
			m.cipher_suites_cbor.len = sizeof(suite);
		}
	}
	if (rc == TB_OK)
		rc = send_msg(a, s, &m, out);
	tb_teep_msg_clear(&m);
	return rc;
}

/* The manifest digest of an installed component, from its stored
 * envelope. */
static int manifest_digest(struct sim_agent *a, const struct sim_tc *t, uint8_t out[32])
{
	char dir[SIM_PATH_MAX], path[SIM_PATH_MAX];
	struct tb_suit_info info;
	uint8_t *env = NULL;
	size_t len = 0;
	int rc = component_dir(a, &t->cid, dir, sizeof(dir));

	if (rc == TB_OK)
		rc = path_join(path, sizeof(path), dir, F_MANIFEST);
	if (rc == TB_OK)
		rc = tb_read_file(path, a->max_message, &env, &len);
	if (rc == TB_OK) {
		rc = tb_suit_info(env, len, &info, NULL, 0);
		if (rc == TB_OK) {
			memcpy(out, info.manifest_digest, 32);
			tb_suit_info_clear(&info);
		}
	}
	free(env);
	return rc;
}

/* Inside a confidential VM guest: a hardware report bound to the same
 * nonce (inblob = SHA-512(eat_nonce)) from configfs-tsm. Without one the
 * Evidence goes without it; the Verifier decides what that means. */
static void fill_tsm(struct sim_agent *a, struct tb_eat_claims *c)
{
	uint8_t inblob[TB_TSM_INBLOB_LEN];
	char err[160];
	int rc;

	if (!a->tsm_dir || tb_tsm_inblob(c->nonce, c->nonce_len, inblob) != TB_OK)
		return;
	rc = tb_tsm_report(a->tsm_dir, inblob, &c->tsm, err, sizeof(err));
	if (rc == TB_OK) {
		c->has_tsm = 1;
		SIM_LOG(a, TB_LOG_INFO, "hardware report: %s, %zu bytes, generation %llu",
		        c->tsm.provider, c->tsm.outblob_len, (unsigned long long)c->tsm.generation);
	} else {
		SIM_LOG(a, rc == TB_ERR_NOTFOUND ? TB_LOG_INFO : TB_LOG_WARN,
		        "Evidence without a hardware report: %s", err);
	}
}

/* Evidence for a QueryRequest that asks for attestation (draft-26 section
 * 5): an EAT bound to the challenge, signed with the attestation key. */
static int fill_evidence(struct sim_agent *a, const struct sim_session *s,
                         const struct tb_teep_msg *req, struct tb_teep_msg *m)
{
	static const char oem[] = "teep-broker sim Agent";
	struct tb_eat_claims c = {0};
	uint8_t oemd[32], *tok = NULL;
	size_t tlen = 0;
	int rc;

	if (req->challenge.len < TB_EAT_NONCE_MIN || req->challenge.len > TB_EAT_NONCE_MAX) {
		SIM_LOG(a, TB_LOG_NOTICE,
		        "attestation requested with %s challenge: no Evidence (eat_nonce holds "
		        "8..64 bytes)",
		        req->challenge.len ? "a longer" : "no");
		return TB_OK;
	}
	memcpy(c.nonce, req->challenge.ptr, req->challenge.len);
	c.nonce_len = req->challenge.len;
	c.ueid[0] = 0x01; /* RAND: the attestation key's RFC 9679 thumbprint */
	rc = tb_cose_key_thumbprint(a->attest_key, c.ueid + 1);
	c.ueid_len = 33;
	if (rc == TB_OK && mbedtls_sha256_ret((const uint8_t *)oem, strlen(oem), oemd, 0) != 0)
		rc = TB_ERR_INVAL;
	memcpy(c.oemid, oemd, 16); /* oemid-random */
	c.oemid_len = 16;
	c.hwmodel_len = strlen(SIM_TEE_KIND);
	memcpy(c.hwmodel, SIM_TEE_KIND, c.hwmodel_len);
	snprintf(c.hwversion, sizeof(c.hwversion), "%s", PACKAGE_VERSION);
	memcpy(c.meas, a->meas, sizeof(a->meas));
	c.n_meas = a->n_meas;
	for (size_t i = 0; rc == TB_OK && i < a->n_tc && c.n_manifests < TB_EAT_MAX_MANIFESTS; i++)
		if (manifest_digest(a, &a->tc[i], c.manifests[c.n_manifests]) == TB_OK)
			c.n_manifests++;
	c.has_cnf = 1;
	c.cnf_alg = s->alg ? s->alg : a->alg;
	if (rc == TB_OK)
		rc = tb_key_public_xy(a->key, c.cnf_x, c.cnf_y);
	c.iat = (int64_t)time(NULL);
	if (rc == TB_OK)
		fill_tsm(a, &c);
	if (rc == TB_OK)
		rc = tb_eat_sign(a->attest_key, c.cnf_alg, &c, &tok, &tlen);
	if (rc == TB_OK) {
		m->attestation_payload.ptr = tok;
		m->attestation_payload.len = tlen;
		m->attestation_payload_format = strdup(TB_EAT_MEDIA_TYPE);
		rc = m->attestation_payload_format ? TB_OK : TB_ERR_NOMEM;
	} else {
		SIM_LOG(a, TB_LOG_ERR, "cannot build the Evidence (%d)", rc);
	}
	if (rc == TB_OK)
		SIM_LOG(a, TB_LOG_INFO,
		        "Evidence: %zu bytes, %zu manifest(s), %zu measurement(s)%s", tlen,
		        c.n_manifests, c.n_meas, c.has_tsm ? ", a hardware report" : "");
	return rc;
}

static int on_query_request(struct sim_agent *a, struct sim_session *s,
                            const struct tb_teep_msg *req, struct tb_agent_out *out)
{
	char req_text[SIM_CID_TEXT_MAX + 1] = "-", unn_text[SIM_CID_TEXT_MAX + 1] = "-";
	struct tb_teep_msg m = {0};
	int rc;

	if (req->has_versions && !(req->versions_mask & 1))
		return refuse_query(a, s, req, TB_TEEP_ERR_UNSUPPORTED_MSG_VERSION,
		                    "no supported version offered (this Agent speaks version 0)",
		                    out);
	s->alg = pick_suite(&req->cipher_suites_cbor);
	if (!s->alg)
		return refuse_query(a, s, req, TB_TEEP_ERR_UNSUPPORTED_CIPHER_SUITES,
		                    "no offered cipher suite signs with ESP256 (-9) or ES256 (-7)",
		                    out);

	if (req->data_item_requested & (TB_TEEP_DIR_EXTENSIONS | TB_TEEP_DIR_SUIT_REPORTS))
		SIM_LOG(a, TB_LOG_DEBUG, "extensions or SUIT reports requested: none to give");
	m.type = TB_TEEP_QUERY_RESPONSE;
	/* The answer to a challenge carries no token, even if the TAM sent
	 * one: the eat_nonce ties it to the request (draft-26 section 4.2,
	 * as TAMs in the field require). */
	if (req->challenge.len && (req->data_item_requested & TB_TEEP_DIR_ATTESTATION))
		rc = TB_OK;
	else
		rc = set_token(&m, &req->token);
	if (rc == TB_OK && (req->data_item_requested & TB_TEEP_DIR_TRUSTED_COMPONENTS))
		rc = fill_tc_list(a, &m);
	if (rc == TB_OK)
		rc = fill_requested(a, s, &m);
	if (rc == TB_OK)
		rc = fill_unneeded(a, s, &m);
	if (rc == TB_OK && (req->data_item_requested & TB_TEEP_DIR_ATTESTATION))
		rc = fill_evidence(a, s, req, &m);
	if (rc == TB_OK) {
		if (m.n_requested_tc_list)
			cid_log(&m.requested_tc_list[0], req_text, sizeof(req_text));
		if (m.n_unneeded_manifest_list)
			cid_log(&m.unneeded_manifest_list[0], unn_text, sizeof(unn_text));
		SIM_LOG(a, TB_LOG_INFO,
		        "QueryRequest -> QueryResponse requested=%s%s unneeded=%s tc-list=%zu",
		        req_text, m.n_requested_tc_list > 1 ? ",..." : "", unn_text, m.n_tc_list);
		rc = send_msg(a, s, &m, out);
	}
	if (rc == TB_OK)
		s->state = SIM_STATE_QUERIED;
	tb_teep_msg_clear(&m);
	return rc;
}

/* The outcome of an Update: the first failure decides the Error. */
struct update_result {
	enum tb_teep_err code; /* 0: all went well */
	char why[SIM_ERR_MSG_MAX + 1];
	/* a SUIT Report per manifest installed or failed (draft-ietf-suit-
	 * report), its nonce the Update's token */
	const struct tb_buf *token;
	struct tb_buf reports[TB_TEEP_MAX_LIST];
	size_t n_reports;
};

/* Add a report; one that cannot be built is left out (logged). */
static void add_report(struct sim_agent *a, struct update_result *r, struct tb_suit_report *rep)
{
	struct tb_buf *b;

	if (r->n_reports >= TB_TEEP_MAX_LIST)
		return;
	if (r->token && r->token->len <= sizeof(rep->nonce)) {
		memcpy(rep->nonce, r->token->ptr, r->token->len);
		rep->nonce_len = r->token->len;
	}
	b = &r->reports[r->n_reports];
	if (tb_suit_report_encode(rep, &b->ptr, &b->len) == TB_OK)
		r->n_reports++;
	else
		SIM_LOG(a, TB_LOG_WARN, "cannot build a SUIT report");
}

static void reports_clear(struct update_result *r)
{
	for (size_t i = 0; i < r->n_reports; i++)
		buf_clear(&r->reports[i]);
	r->n_reports = 0;
}

static void update_fail(struct update_result *r, enum tb_teep_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void update_fail(struct update_result *r, enum tb_teep_err code, const char *fmt, ...)
{
	va_list ap;

	if (r->code)
		return;
	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static void unlink_manifest(struct sim_agent *a, const struct tb_component_id *mid,
                            struct update_result *r)
{
	char text[SIM_CID_TEXT_MAX + 1];
	size_t i = find_tc_by_manifest(a, mid);

	cid_log(mid, text, sizeof(text));
	if (i == SIM_NOT_FOUND) {
		/* Already gone: unlinking is idempotent. */
		SIM_LOG(a, TB_LOG_INFO, "unneeded manifest %s is not installed", text);
		return;
	}
	if (remove_component_files(a, &a->tc[i].cid) != TB_OK) {
		SIM_LOG(a, TB_LOG_ERR, "cannot remove the files of %s", text);
		update_fail(r, TB_TEEP_ERR_TEMPORARY, "cannot remove a component");
		return;
	}
	cid_log(&a->tc[i].cid, text, sizeof(text));
	SIM_LOG(a, TB_LOG_NOTICE, "removed %s", text);
	tc_clear(&a->tc[i]);
	memmove(&a->tc[i], &a->tc[i + 1], (a->n_tc - i - 1) * sizeof(a->tc[0]));
	a->n_tc--;
	memset(&a->tc[a->n_tc], 0, sizeof(a->tc[0]));
}

/* Checks after the SUIT processing: storable id, no rollback, room. */
static bool install_allowed(struct sim_agent *a, const struct tb_suit_install *in, size_t idx,
                            struct update_result *r)
{
	const struct tb_component_id *cid = &in->info.component;

	if (!cid_storable(cid) ||
	    (in->info.manifest_component_id.n && !cid_storable(&in->info.manifest_component_id))) {
		update_fail(r, TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED,
		            "component id too long to store");
		return false;
	}
	if (idx != SIM_NOT_FOUND && in->info.sequence_number <= a->tc[idx].seq) {
		update_fail(r, TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED,
		            "rollback: sequence number %" PRIu64 " not above installed %" PRIu64,
		            in->info.sequence_number, a->tc[idx].seq);
		return false;
	}
	if (idx == SIM_NOT_FOUND && a->n_tc == a->max_components) {
		update_fail(r, TB_TEEP_ERR_TEMPORARY, "max_components reached");
		return false;
	}
	return true;
}

/* Is a manifest with this manifest component id (any, when prefix->n is 0)
 * and manifest digest installed? The digest is taken from the envelope as
 * stored, so it is the one that was verified when it was installed. */
static int dependency_installed(void *arg, const struct tb_component_id *prefix,
                                const uint8_t digest[32])
{
	struct sim_agent *a = arg;

	for (size_t i = 0; i < a->n_tc; i++) {
		char dir[SIM_PATH_MAX], path[SIM_PATH_MAX];
		struct tb_suit_info info;
		uint8_t *env;
		size_t len;
		bool same = false;

		if (prefix->n && !tb_component_id_equal(prefix, &a->tc[i].manifest_id))
			continue;
		if (component_dir(a, &a->tc[i].cid, dir, sizeof(dir)) != TB_OK ||
		    path_join(path, sizeof(path), dir, F_MANIFEST) != TB_OK ||
		    tb_read_file(path, a->max_message, &env, &len) != TB_OK)
			continue;
		if (tb_suit_info(env, len, &info, NULL, 0) == TB_OK) {
			same = memcmp(info.manifest_digest, digest, 32) == 0;
			tb_suit_info_clear(&info);
		}
		free(env);
		if (same)
			return TB_OK;
	}
	return TB_ERR_NOTFOUND;
}

/* Returns TB_ERR_NOTFOUND, having changed nothing, when a dependency is
 * missing and defer is set: the caller retries after the other manifests. */
static int install_envelope(struct sim_agent *a, const struct tb_buf *env, size_t nr, bool defer,
                            struct update_result *r)
{
	struct tb_suit_opts o = {.anchors = a->signers,
	                         .n_anchors = a->n_signers,
	                         .decrypt_key = a->decrypt_key ? a->decrypt_key : a->key,
	                         .dependency = dependency_installed,
	                         .arg = a};
	struct tb_suit_install in = {0};
	struct tb_suit_failure failure = {0};
	struct tb_suit_report rep;
	char err[128] = "", dir[SIM_PATH_MAX], text[SIM_CID_TEXT_MAX + 1];
	struct sim_tc t = {0};
	size_t idx;
	int rc;

	o.failure = &failure;
	rc = tb_suit_process_ex(env->ptr, env->len, &o, &in, err, sizeof(err));

	if (rc == TB_ERR_NOTFOUND && defer) {
		SIM_LOG(a, TB_LOG_INFO, "manifest %zu waits for a dependency: %s", nr, err);
		return rc;
	}
	if (rc != TB_OK) {
		SIM_LOG(a, TB_LOG_NOTICE, "manifest %zu rejected: %s", nr, err);
		if (failure.set) {
			tb_suit_report_of_failure(&failure, &rep);
			add_report(a, r, &rep);
			SIM_LOG(a, TB_LOG_INFO,
			        "SUIT report: command %lld at %llu of section %lld, component "
			        "%llu, reason %lld",
			        (long long)rep.result_code, (unsigned long long)rep.offset,
			        (long long)rep.section, (unsigned long long)rep.component_index,
			        (long long)rep.reason);
		}
		update_fail(r,
		            rc == TB_ERR_NOMEM ? TB_TEEP_ERR_TEMPORARY
		                               : TB_TEEP_ERR_MANIFEST_PROCESSING_FAILED,
		            "manifest %zu: %s", nr, err[0] ? err : "rejected");
		goto out;
	}
	idx = find_tc(a, &in.info.component);
	cid_log(&in.info.component, text, sizeof(text));
	if (!install_allowed(a, &in, idx, r)) {
		SIM_LOG(a, TB_LOG_NOTICE, "manifest %zu for %s refused: %s", nr, text, r->why);
		goto out;
	}
	/* Without a manifest component id the TC's own id stands in, so the
	 * component can still be named in unneeded-manifest-list. */
	rc = tb_component_id_copy(&t.cid, &in.info.component);
	if (rc == TB_OK)
		rc = tb_component_id_copy(&t.manifest_id, in.info.manifest_component_id.n
		                                              ? &in.info.manifest_component_id
		                                              : &in.info.component);
	t.seq = in.info.sequence_number;
	t.image_size = in.image.len;
	if (rc == TB_OK && mbedtls_sha256_ret(in.image.ptr, in.image.len, t.sha256, 0) != 0)
		rc = TB_ERR_INVAL;
	if (rc == TB_OK)
		rc = store_component(a, &t, &in.image, env, dir, sizeof(dir));
	if (rc != TB_OK) {
		SIM_LOG(a, TB_LOG_ERR, "cannot store %s (%d)", text, rc);
		update_fail(r, TB_TEEP_ERR_TEMPORARY, "cannot store the component");
		if (idx == SIM_NOT_FOUND)
			remove_component_files(a, &t.cid);
		tc_clear(&t);
		goto out;
	}
	if (idx == SIM_NOT_FOUND) {
		idx = a->n_tc++;
	} else {
		tc_clear(&a->tc[idx]);
	}
	a->tc[idx] = t;
	requested_remove(a, &t.cid);
	SIM_LOG(a, TB_LOG_NOTICE, "installed %s seq %" PRIu64 " (%zu bytes) at %s", text, t.seq,
	        in.image.len, dir);
	memset(&rep, 0, sizeof(rep));
	rep.ok = 1;
	memcpy(rep.manifest_digest, in.info.manifest_digest, 32);
	rep.has_image = 1;
	memcpy(rep.image_digest, a->tc[idx].sha256, 32);
	rep.image_size = in.image.len;
	add_report(a, r, &rep);
out:
	if (in.image.ptr && !in.image_borrowed) /* else it is the TAM's message */
		mbedtls_platform_zeroize(in.image.ptr, in.image.len);
	tb_suit_install_clear(&in);
	return TB_OK;
}

/* Manifests in list order; one whose dependency is later in the list is
 * retried after the others (a pass per level, at most n passes), and a
 * dependency still missing after that fails the Update. */
static void install_all(struct sim_agent *a, const struct tb_teep_msg *req, struct update_result *r)
{
	bool pending[TB_TEEP_MAX_LIST] = {false};
	size_t left = req->n_manifest_list;

	for (size_t i = 0; i < req->n_manifest_list; i++)
		pending[i] = true;
	for (size_t pass = 0; left && pass < req->n_manifest_list; pass++) {
		size_t before = left;

		for (size_t i = 0; i < req->n_manifest_list; i++) {
			if (!pending[i])
				continue;
			if (install_envelope(a, &req->manifest_list[i], i, true, r) == TB_OK) {
				pending[i] = false;
				left--;
			}
		}
		if (left == before)
			break;
	}
	for (size_t i = 0; left && i < req->n_manifest_list; i++)
		if (pending[i])
			install_envelope(a, &req->manifest_list[i], i, false, r);
}

static int on_update(struct sim_agent *a, struct sim_session *s, const struct tb_teep_msg *req,
                     struct tb_agent_out *out)
{
	struct update_result r = {.token = &req->token};
	struct tb_teep_msg m = {0};
	int rc;

	if (req->err_code) {
		SIM_LOG(a, TB_LOG_WARN, "TAM reported error %" PRIu64 ": %.128s", req->err_code,
		        req->err_msg ? req->err_msg : "");
		if (req->n_unneeded_manifest_list == 0 && req->n_manifest_list == 0) {
			/* The TAM refuses to go on (an Attestation Result that is
			 * not affirming, for one): say so with an Error, so that
			 * whoever relays the exchange sees it failed. */
			char why[TB_TEEP_MSG_MAX + 1];
			snprintf(why, sizeof(why), "TAM error %" PRIu64 ": %.100s", req->err_code,
			         req->err_msg ? req->err_msg : "");
			return send_error(a, s, "Update", &req->token, TB_TEEP_ERR_PERMANENT, why,
			                  out);
		}
	}
	for (size_t i = 0; i < req->n_unneeded_manifest_list; i++)
		unlink_manifest(a, &req->unneeded_manifest_list[i], &r);
	install_all(a, req, &r);
	if (r.code) {
		rc = send_error_reports(a, s, "Update", &req->token, r.code, r.why, r.reports,
		                        r.n_reports, out);
		reports_clear(&r);
		return rc;
	}
	SIM_LOG(a, TB_LOG_INFO,
	        "Update (%zu unneeded, %zu manifests) -> Success (%zu SUIT report%s)",
	        req->n_unneeded_manifest_list, req->n_manifest_list, r.n_reports,
	        r.n_reports == 1 ? "" : "s");
	m.type = TB_TEEP_SUCCESS;
	rc = set_token(&m, &req->token);
	m.suit_reports = r.reports;
	m.n_suit_reports = r.n_reports;
	if (rc == TB_OK)
		rc = send_msg(a, s, &m, out);
	m.suit_reports = NULL;
	m.n_suit_reports = 0;
	tb_teep_msg_clear(&m);
	reports_clear(&r);
	if (rc == TB_OK)
		s->state = SIM_STATE_UPDATED;
	return rc;
}

/* "application/teep+cbor", case-insensitively, parameters ignored; NULL is
 * the broker saying "the default". */
static bool media_type_ok(const char *mt)
{
	size_t n = strlen(TEEP_MEDIA_TYPE);

	if (!mt)
		return true;
	while (*mt == ' ')
		mt++;
	if (strncasecmp(mt, TEEP_MEDIA_TYPE, n) != 0)
		return false;
	mt += n;
	while (*mt == ' ')
		mt++;
	return *mt == 0 || *mt == ';';
}

/* A COSE_Sign1, or a COSE_Sign such as a TAM's first QueryRequest, that
 * one tam_key verifies; *why names the failure. */
static int verify_from_tam(struct sim_agent *a, const uint8_t *msg, size_t len,
                           const uint8_t **payload, size_t *plen, uint8_t **owned, const char **why)
{
	int rc =
	    tb_cose_verify_any_borrowed(msg, len, a->tam_keys, a->n_tam_keys, payload, plen, owned);

	switch (rc) {
	case TB_OK:
	case TB_ERR_NOMEM:
		break;
	case TB_ERR_PARSE:
		*why = "not a COSE_Sign1 or COSE_Sign message";
		break;
	case TB_ERR_UNSUP:
		*why = "unsupported COSE algorithm or header";
		break;
	case TB_ERR_TOOBIG:
		*why = "too many COSE signatures";
		break;
	default:
		*why = "signature does not verify with any tam_key";
		break;
	}
	return rc;
}

static int dispatch(struct sim_agent *a, struct sim_session *s, const uint8_t *payload, size_t plen,
                    struct tb_agent_out *out)
{
	struct tb_teep_msg req = {0};
	char err[128] = "", why[SIM_ERR_MSG_MAX + 1];
	/* the manifests stay where they are in the message (a large
	 * component is not copied before it is verified and stored) */
	int rc = tb_teep_decode_borrowed(payload, plen, a->num, &req, err, sizeof(err));

	if (rc != TB_OK) {
		tb_teep_msg_clear(&req);
		if (rc == TB_ERR_NOMEM)
			return send_error(a, s, "TAM message", NULL, TB_TEEP_ERR_TEMPORARY,
			                  "out of memory", out);
		snprintf(why, sizeof(why), "malformed TEEP message: %s", err);
		return send_error(a, s, "TAM message", NULL, TB_TEEP_ERR_PERMANENT, why, out);
	}
	buf_clear(&s->last_token);
	if (req.token.len && buf_copy(&s->last_token, req.token.ptr, req.token.len) != TB_OK) {
		tb_teep_msg_clear(&req);
		return TB_ERR_NOMEM;
	}
	switch (req.type) {
	case TB_TEEP_QUERY_REQUEST:
		rc = on_query_request(a, s, &req, out);
		break;
	case TB_TEEP_UPDATE:
		rc = on_update(a, s, &req, out);
		break;
	default:
		snprintf(why, sizeof(why), "unexpected %s message", tb_teep_type_name(req.type));
		rc = send_error(a, s, tb_teep_type_name(req.type), &req.token,
		                TB_TEEP_ERR_PERMANENT, why, out);
		break;
	}
	tb_teep_msg_clear(&req);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The Agent API                                                            */

int agent__process_message(struct sim_agent *a, struct sim_session *s, const char *media_type,
                           const uint8_t *msg, size_t len, struct tb_agent_out *out)
{
	const uint8_t *payload = NULL;
	uint8_t *owned = NULL;
	size_t plen = 0;
	const char *why;
	int rc;

	if (!a || !session_ok(s) || !out || (!msg && len))
		return TB_ERR_INVAL;
	if (s->state == SIM_STATE_FAILED) {
		/* This exchange already ended in an Error: a TAM that keeps
		 * talking gets no more answers, which ends the exchange. */
		SIM_LOG(a, TB_LOG_NOTICE, "%s: message after the exchange failed; not answering",
		        kind_name(s->kind));
		return TB_OK;
	}
	if (!media_type_ok(media_type))
		return send_error(a, s, "TAM message", NULL, TB_TEEP_ERR_PERMANENT,
		                  "unsupported media type", out);
	if (len == 0)
		return send_error(a, s, "TAM message", NULL, TB_TEEP_ERR_PERMANENT, "empty message",
		                  out);
	if (len > a->max_message) {
		SIM_LOG(a, TB_LOG_NOTICE, "message of %zu bytes over max_message %zu", len,
		        a->max_message);
		return send_error(a, s, "TAM message", NULL, TB_TEEP_ERR_PERMANENT,
		                  "message too large", out);
	}
	rc = verify_from_tam(a, msg, len, &payload, &plen, &owned, &why);
	if (rc == TB_ERR_NOMEM)
		return send_error(a, s, "TAM message", NULL, TB_TEEP_ERR_TEMPORARY, "out of memory",
		                  out);
	if (rc != TB_OK)
		return send_error(a, s, "TAM message", NULL, TB_TEEP_ERR_PERMANENT, why, out);
	rc = dispatch(a, s, payload, plen, out);
	free(owned);
	return rc;
}

int agent__request_ta(struct sim_agent *a, const struct tb_component_id *cid, const char *hint,
                      struct tb_agent_out *out)
{
	char text[SIM_CID_TEXT_MAX + 1];
	const char *uri;
	int rc;

	if (!a || !cid || !out || !cid_storable(cid))
		return TB_ERR_INVAL;
	cid_log(cid, text, sizeof(text));
	if (find_tc(a, cid) != SIM_NOT_FOUND) {
		SIM_LOG(a, TB_LOG_INFO, "RequestTA %s: already installed", text);
		return TB_OK;
	}
	uri = choose_uri(a, hint);
	if (!uri) {
		SIM_LOG(a, TB_LOG_WARN, "RequestTA %s: no TAM URI (configure tam_uri)", text);
		return TB_ERR_INVAL;
	}
	rc = start_exchange(a, SIM_SESSION_REQUEST, cid, NULL, uri, out);
	if (rc != TB_OK)
		return rc;
	requested_add(a, cid);
	SIM_LOG(a, TB_LOG_INFO, "RequestTA %s -> TAM %s", text, uri);
	return TB_OK;
}

int agent__answer_now(struct sim_agent *a, int op, const struct tb_component_id *cid)
{
	/* no log line here: the broker logs the answered request */
	if (!a || !cid || !cid_storable(cid) || a->call_delay_ms)
		return TB_ERR_AGAIN; /* the full call says what is wrong, or sleeps */
	size_t idx = find_tc(a, cid);
	if (op == TB_OP_REQUEST_TA && idx != SIM_NOT_FOUND)
		return TB_OK;
	if (op == TB_OP_UNREQUEST_TA && idx == SIM_NOT_FOUND) {
		requested_remove(a, cid);
		return TB_OK;
	}
	return TB_ERR_AGAIN;
}

int agent__unrequest_ta(struct sim_agent *a, const struct tb_component_id *cid, const char *hint,
                        struct tb_agent_out *out)
{
	char text[SIM_CID_TEXT_MAX + 1];
	const char *uri;
	size_t idx;
	int rc;

	if (!a || !cid || !out || !cid_storable(cid))
		return TB_ERR_INVAL;
	cid_log(cid, text, sizeof(text));
	requested_remove(a, cid);
	idx = find_tc(a, cid);
	if (idx == SIM_NOT_FOUND) {
		SIM_LOG(a, TB_LOG_INFO, "UnrequestTA %s: not installed", text);
		return TB_OK;
	}
	uri = choose_uri(a, hint);
	if (!uri) {
		SIM_LOG(a, TB_LOG_WARN, "UnrequestTA %s: no TAM URI (configure tam_uri)", text);
		return TB_ERR_INVAL;
	}
	rc = start_exchange(a, SIM_SESSION_UNREQUEST, cid, &a->tc[idx].manifest_id, uri, out);
	if (rc == TB_OK)
		SIM_LOG(a, TB_LOG_INFO, "UnrequestTA %s -> TAM %s", text, uri);
	return rc;
}

/* Rounds of two calls: the configured TAM, then nothing (the broker calls
 * until nothing). With a single TAM there is nothing else to hand out. */
int agent__policy_check(struct sim_agent *a, struct tb_agent_out *out)
{
	int rc;

	if (!a || !out)
		return TB_ERR_INVAL;
	if (!a->tam_uri || a->policy_round) {
		a->policy_round = NULL;
		return TB_OK;
	}
	rc = start_exchange(a, SIM_SESSION_POLICY, NULL, NULL, a->tam_uri, out);
	if (rc == TB_OK) {
		a->policy_round = out->session;
		SIM_LOG(a, TB_LOG_INFO, "RequestPolicyCheck -> TAM %s", a->tam_uri);
	}
	return rc;
}

void agent__process_error(struct sim_agent *a, struct sim_session *s)
{
	if (!a || !session_ok(s))
		return;
	s->state = SIM_STATE_FAILED;
	if (a->policy_round == s)
		a->policy_round = NULL; /* the broker will not ask again */
	SIM_LOG(a, TB_LOG_NOTICE, "%s exchange failed in transport", kind_name(s->kind));
}

void agent__session_free(struct sim_agent *a, struct sim_session *s)
{
	if (!session_ok(s))
		return;
	if (a && a->policy_round == s)
		a->policy_round = NULL;
	session_free(s);
	if (a)
		a->sessions_closed++;
}

size_t agent__installed_count(const struct sim_agent *a)
{
	return a ? a->n_tc : 0;
}

int agent__is_installed(const struct sim_agent *a, const struct tb_component_id *cid)
{
	return a && cid && find_tc(a, cid) != SIM_NOT_FOUND;
}

enum sim_session_state agent__session_state(const struct sim_session *s)
{
	return session_ok(s) ? s->state : SIM_STATE_FAILED;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                 */

static int check_conf(const struct tb_host *host, const struct sim_conf *c)
{
	const char *why = NULL;

	if (!c->state_dir || !*c->state_dir)
		why = "state_dir is required";
	else if (strlen(c->state_dir) > SIM_STATE_DIR_MAX)
		why = "state_dir is too long";
	else if (!c->tam_key)
		why = "tam_key is required";
	else if (!c->tc_signer)
		why = "tc_signer is required";
	else if (c->tam_uri && !uri_acceptable(c->tam_uri))
		why = "tam_uri must be an http:// or https:// URI";
	else if (c->max_components == 0 || c->max_components > SIM_MAX_COMPONENTS_LIMIT)
		why = "max_components must be 1..1024";
	else if (c->max_message == 0)
		why = "max_message must not be 0";
	if (why)
		host->log(host, TB_LOG_ERR, "%s", why);
	return why ? TB_ERR_INVAL : TB_OK;
}

static int prepare_state_dir(struct sim_agent *a)
{
	struct stat st;
	int n;

	if (make_dirs(a->state_dir, 0700) != TB_OK || stat(a->state_dir, &st) != 0) {
		SIM_LOG(a, TB_LOG_ERR, "cannot create state_dir %s", a->state_dir);
		return TB_ERR_IO;
	}
	if (st.st_mode & 077)
		SIM_LOG(a, TB_LOG_WARN, "state_dir %s is accessible to other users (mode %03o)",
		        a->state_dir, (unsigned)(st.st_mode & 0777));
	n = asprintf(&a->tc_dir, "%s/tc", a->state_dir);
	if (n < 0) {
		a->tc_dir = NULL;
		return TB_ERR_NOMEM;
	}
	if (make_dirs(a->tc_dir, 0700) != TB_OK) {
		SIM_LOG(a, TB_LOG_ERR, "cannot create %s", a->tc_dir);
		return TB_ERR_IO;
	}
	return TB_OK;
}

int agent__create(const struct tb_host *host, const struct sim_conf *conf, struct sim_agent **out)
{
	struct sim_agent *a;
	size_t len;
	int rc;

	if (!host || !conf || !out)
		return TB_ERR_INVAL;
	*out = NULL;
	rc = check_conf(host, conf);
	if (rc != TB_OK)
		return rc;
	a = calloc(1, sizeof(*a));
	if (!a)
		return TB_ERR_NOMEM;
	a->host = host;
	a->num = conf->numbering;
	a->alg = conf->numbering == TB_NUM_PRE26 ? TB_COSE_ALG_ES256 : TB_COSE_ALG_ESP256;
	a->max_components = conf->max_components;
	a->max_message = conf->max_message;
	a->call_delay_ms = conf->call_delay_ms;
	a->call_delay_stuck = conf->call_delay_stuck;
	a->state_dir = strdup(conf->state_dir);
	a->tam_uri = conf->tam_uri ? strdup(conf->tam_uri) : NULL;
	if (conf->tsm_report && strcmp(conf->tsm_report, "off") != 0)
		a->tsm_dir = strdup(conf->tsm_report);
	a->tc = calloc(a->max_components, sizeof(*a->tc));
	if (!a->state_dir || !a->tc || (conf->tam_uri && !a->tam_uri) ||
	    (conf->tsm_report && strcmp(conf->tsm_report, "off") != 0 && !a->tsm_dir)) {
		rc = TB_ERR_NOMEM;
		goto fail;
	}
	/* "dir/" and "dir" are the same place; keep paths in logs tidy. */
	len = strlen(a->state_dir);
	while (len > 1 && a->state_dir[len - 1] == '/')
		a->state_dir[--len] = 0;
	SIM_LOG(a, TB_LOG_WARN,
	        "this driver is NOT a TEE: its key and the Trusted Components it installs are "
	        "plain files in %s",
	        a->state_dir);
	rc = prepare_state_dir(a);
	if (rc == TB_OK)
		rc = load_agent_key(a, conf->agent_key);
	if (rc == TB_OK)
		rc = load_attestation_key(a, conf->attestation_key);
	if (rc == TB_OK && conf->decrypt_key)
		rc = load_decrypt_key(a, conf->decrypt_key);
	if (rc == TB_OK)
		rc = load_key_list(a, "tam_key", conf->tam_key, a->tam_keys, &a->n_tam_keys);
	if (rc == TB_OK)
		rc = load_key_list(a, "tc_signer", conf->tc_signer, a->signers, &a->n_signers);
	if (rc != TB_OK)
		goto fail;
	load_installed(a);
	measure_self(a);
	SIM_LOG(a, TB_LOG_NOTICE, "ready: %zu installed component(s), numbering %s, TAM %s",
	        a->n_tc, a->num == TB_NUM_PRE26 ? "pre-26" : "draft-26",
	        a->tam_uri ? a->tam_uri : "(none configured)");
	*out = a;
	return TB_OK;
fail:
	agent__destroy(a);
	return rc;
}

int agent__call_delay(const struct sim_agent *a)
{
	const struct tb_host *h = a ? a->host : NULL;
	struct timespec ts;

	if (!a || !a->call_delay_ms)
		return TB_OK;
	if (!TB_HOST_HAS(h, call_cancelled) || !h->now_ms || a->call_delay_stuck) {
		/* a 1.0 broker, or a TEE that cannot be interrupted: just sleep */
		ts.tv_sec = (time_t)(a->call_delay_ms / 1000);
		ts.tv_nsec = (long)(a->call_delay_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		return TB_OK;
	}
	/* driver ABI 1.1: a slow TEE that stops when its call is no longer
	 * wanted (the app left, the deadline passed, the broker stops) */
	uint64_t end = h->now_ms() + a->call_delay_ms;
	for (uint64_t now = h->now_ms(); now < end; now = h->now_ms()) {
		if (h->call_cancelled(h)) {
			SIM_LOG(a, TB_LOG_INFO, "call cancelled during call_delay");
			return TB_ERR_TEE;
		}
		uint64_t step = end - now < 10 ? end - now : 10;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)step * 1000000L;
		nanosleep(&ts, NULL);
	}
	return TB_OK;
}

void agent__destroy(struct sim_agent *a)
{
	if (!a)
		return;
	/* the driver ABI: session_close() once for each session, before fini */
	if (a->host && a->sessions_opened)
		SIM_LOG(a, a->sessions_closed == a->sessions_opened ? TB_LOG_INFO : TB_LOG_WARN,
		        "fini: %zu Agent session(s) opened, %zu closed", a->sessions_opened,
		        a->sessions_closed);
	if (a->tc)
		for (size_t i = 0; i < a->n_tc; i++)
			tc_clear(&a->tc[i]);
	for (size_t i = 0; i < a->n_requested; i++)
		tb_component_id_clear(&a->requested[i]);
	tb_key_free(a->key);
	tb_key_free(a->decrypt_key);
	tb_key_free(a->attest_key);
	free_keys(a->tam_keys, &a->n_tam_keys);
	free_keys(a->signers, &a->n_signers);
	free(a->tc);
	free(a->tc_dir);
	free(a->tam_uri);
	free(a->tsm_dir);
	free(a->state_dir);
	free(a);
}

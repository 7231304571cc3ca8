/*
 * SUIT envelopes: reading, verifying and running the small subset of the
 * SUIT manifest format that a TEEP Trusted Component install needs, and
 * building integrated-payload envelopes for a TAM.
 */
#include "tb_suit.h"
#include "tb_cbor.h"
#include "tb_cose_encrypt.h"

#include <teep-broker/driver.h>

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUIT_ENVELOPE_TAG 107

/* SUIT_Envelope and SUIT_Manifest keys */
#define ENV_AUTH          2
#define ENV_MANIFEST      3
#define MAN_VERSION       1
#define MAN_SEQUENCE      2
#define MAN_COMMON        3
#define MAN_COMPONENT_ID  5
#define MAN_VALIDATE      7
#define MAN_DEP_RESOLVE   15
#define MAN_PAYLOAD_FETCH 16
#define MAN_INSTALL       20
#define MAN_UNINSTALL     24
#define COMMON_DEPS       1
#define COMMON_COMPONENTS 2
#define COMMON_SHARED     4

/* Commands */
#define CMD_VENDOR_ID     1
#define CMD_CLASS_ID      2
#define CMD_IMAGE_MATCH   3
#define CMD_ABORT         14
#define CMD_SET_COMPONENT 12
#define CMD_WRITE         18
#define CMD_SET_PARAMS    19
#define CMD_OVERRIDE      20
#define CMD_FETCH         21
#define CMD_UNLINK        33
#define CMD_PROCESS_DEP   11

/* Parameters */
#define PAR_VENDOR_ID    1
#define PAR_CLASS_ID     2
#define PAR_IMAGE_DIGEST 3
#define PAR_IMAGE_SIZE   14
#define PAR_CONTENT      18
#define PAR_ENCRYPTION   19
#define PAR_URI          21

#define SUIT_ALG_SHA256   (-16)
#define SHA256_LEN        32
#define REPORT_POLICY_ALL 15 /* the reporting policy the examples use */
#define MANIFEST_VERSION  1
#define INTEGRATED_NAME   "#tc"
#define SUIT_URI_MAX      1024
#define DEP_PREFIX        1 /* SUIT_Dependency_Metadata: dependency-prefix */
/* Component indices a manifest may use: its component and dependencies. */
#define MAX_INDEX 4

/* Everything the processing of one envelope refers to. Items are owned. */
struct envelope {
	cbor_item_t *env;      /* the envelope map */
	cbor_item_t *manifest; /* the decoded manifest map */
	cbor_item_t *common;   /* the decoded common map, or NULL */
	const uint8_t *manifest_bytes;
	size_t manifest_len;
	char *err;
	size_t errlen;
	const uint8_t *src; /* the envelope's bytes: env's byte strings are in it */
	size_t src_len;
};

static int fail(struct envelope *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct envelope *e, int rc, const char *fmt, ...)
{
	va_list ap;

	if (e->err && e->errlen) {
		va_start(ap, fmt);
		vsnprintf(e->err, e->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void envelope_free(struct envelope *e)
{
	if (e->env)
		tb_cbor_borrowed_free(&e->env, e->src, e->src_len);
	if (e->manifest)
		cbor_decref(&e->manifest);
	if (e->common)
		cbor_decref(&e->common);
}

/* Decode the CBOR inside a byte string member (bstr .cbor X). */
static cbor_item_t *load_wrapped(struct envelope *e, const cbor_item_t *item, const char *name,
                                 int *rc)
{
	const uint8_t *p;
	size_t n;
	const char *why = NULL;
	cbor_item_t *inner;

	if (tb_cbor_get_bytes(item, &p, &n) != TB_OK) {
		*rc = fail(e, TB_ERR_PARSE, "%s: expected a byte string", name);
		return NULL;
	}
	inner = tb_cbor_load(p, n, &why);
	if (!inner)
		*rc = fail(e, TB_ERR_PARSE, "%s: %s", name, why ? why : "bad CBOR");
	return inner;
}

static int envelope_open(struct envelope *e, const uint8_t *buf, size_t len)
{
	const char *why = NULL;
	cbor_item_t *top, *m;
	int rc = TB_OK;

	if (!buf)
		return fail(e, TB_ERR_INVAL, "envelope: no input");
	/* the byte strings (an integrated payload) stay in buf */
	if (tb_cbor_decode_borrowed(buf, len, &top, &why) != TB_OK)
		return fail(e, TB_ERR_PARSE, "envelope: %s", why ? why : "bad CBOR");
	e->src = buf;
	e->src_len = len;
	if (cbor_isa_tag(top)) {
		if (cbor_tag_value(top) != SUIT_ENVELOPE_TAG) {
			tb_cbor_borrowed_free(&top, buf, len);
			return fail(e, TB_ERR_PARSE, "envelope: unexpected tag");
		}
		e->env = cbor_tag_item(top);
		cbor_decref(&top); /* the tag alone: env holds its item */
	} else {
		e->env = top;
	}
	if (!cbor_isa_map(e->env))
		return fail(e, TB_ERR_PARSE, "envelope: expected a map");
	m = tb_cbor_map_get_int(e->env, ENV_MANIFEST);
	if (!m || tb_cbor_get_bytes(m, &e->manifest_bytes, &e->manifest_len) != TB_OK)
		return fail(e, TB_ERR_PARSE, "envelope: no manifest (key 3)");
	e->manifest = load_wrapped(e, m, "manifest", &rc);
	if (!e->manifest)
		return rc;
	if (!cbor_isa_map(e->manifest))
		return fail(e, TB_ERR_PARSE, "manifest: expected a map");
	m = tb_cbor_map_get_int(e->manifest, MAN_COMMON);
	if (m) {
		e->common = load_wrapped(e, m, "common", &rc);
		if (!e->common)
			return rc;
		if (!cbor_isa_map(e->common))
			return fail(e, TB_ERR_PARSE, "common: expected a map");
	}
	return TB_OK;
}

static int read_component_id(const cbor_item_t *item, struct tb_component_id *out)
{
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!item || !cbor_isa_array(item))
		return TB_ERR_PARSE;
	n = cbor_array_size(item);
	if (n < 1 || n > TB_TEEP_MAX_SEGMENTS)
		return TB_ERR_TOOBIG;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p;
		size_t len;

		if (tb_cbor_get_bytes(cbor_array_handle(item)[i], &p, &len) != TB_OK) {
			tb_component_id_clear(out);
			return TB_ERR_PARSE;
		}
		out->seg[i].ptr = malloc(len ? len : 1);
		if (!out->seg[i].ptr) {
			tb_component_id_clear(out);
			return TB_ERR_NOMEM;
		}
		if (len)
			memcpy(out->seg[i].ptr, p, len);
		out->seg[i].len = len;
		out->n = i + 1;
	}
	return TB_OK;
}

static int sha256_bstr_wrapped(const uint8_t *p, size_t len, uint8_t out[SHA256_LEN]);

static int read_info(struct envelope *e, struct tb_suit_info *info)
{
	cbor_item_t *v;
	int64_t version;
	int rc;

	memset(info, 0, sizeof(*info));
	v = tb_cbor_map_get_int(e->manifest, MAN_VERSION);
	if (!v || tb_cbor_get_int(v, &version) != TB_OK || version != MANIFEST_VERSION)
		return fail(e, TB_ERR_PARSE, "manifest: version must be %d", MANIFEST_VERSION);
	v = tb_cbor_map_get_int(e->manifest, MAN_SEQUENCE);
	if (!v || tb_cbor_get_uint(v, &info->sequence_number) != TB_OK)
		return fail(e, TB_ERR_PARSE, "manifest: sequence number missing or not a uint");
	v = tb_cbor_map_get_int(e->manifest, MAN_COMPONENT_ID);
	if (v && (rc = read_component_id(v, &info->manifest_component_id)) != TB_OK)
		return fail(e, rc, "manifest: bad manifest-component-id");
	v = e->common ? tb_cbor_map_get_int(e->common, COMMON_COMPONENTS) : NULL;
	if (!v || !cbor_isa_array(v) || cbor_array_size(v) < 1) {
		tb_suit_info_clear(info);
		return fail(e, TB_ERR_PARSE, "common: no components");
	}
	rc = read_component_id(cbor_array_handle(v)[0], &info->component);
	v = tb_cbor_map_get_int(e->common, COMMON_DEPS);
	if (rc == TB_OK && v && cbor_isa_map(v) && cbor_map_size(v) > 0 &&
	    cbor_isa_map(cbor_map_handle(v)[0].value) &&
	    (v = tb_cbor_map_get_int(cbor_map_handle(v)[0].value, DEP_PREFIX)) != NULL)
		rc = read_component_id(v, &info->dependency);
	if (rc == TB_OK)
		rc = sha256_bstr_wrapped(e->manifest_bytes, e->manifest_len, info->manifest_digest);
	if (rc != TB_OK) {
		tb_suit_info_clear(info);
		return fail(e, rc, "common: bad component id");
	}
	return TB_OK;
}

int tb_suit_info(const uint8_t *env, size_t len, struct tb_suit_info *info, char *err,
                 size_t errlen)
{
	struct envelope e = {.err = err, .errlen = errlen};
	int rc;

	if (!info)
		return TB_ERR_INVAL;
	memset(info, 0, sizeof(*info));
	rc = envelope_open(&e, env, len);
	if (rc == TB_OK)
		rc = read_info(&e, info);
	envelope_free(&e);
	return rc;
}

void tb_suit_info_clear(struct tb_suit_info *info)
{
	if (!info)
		return;
	tb_component_id_clear(&info->manifest_component_id);
	tb_component_id_clear(&info->component);
	tb_component_id_clear(&info->dependency);
	info->sequence_number = 0;
}

/* ---- authentication ---- */

/* A CBOR byte string head for len, as a canonical encoder writes it. */
static size_t bstr_head(uint64_t len, uint8_t out[9])
{
	size_t n;

	if (len < 24) {
		out[0] = (uint8_t)(0x40 | len);
		return 1;
	}
	n = len <= UINT8_MAX ? 1 : len <= UINT16_MAX ? 2 : len <= UINT32_MAX ? 4 : 8;
	out[0] = (uint8_t)(0x40 | (n == 1 ? 24 : n == 2 ? 25 : n == 4 ? 26 : 27));
	for (size_t i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
	return n + 1;
}

/* SHA-256 over a bstr-wrapped item: head then content. libcbor gives only
 * the content, so the head is re-encoded; a non-canonical head in the
 * envelope therefore fails the digest, never passes it wrongly. */
static int sha256_bstr_wrapped(const uint8_t *p, size_t len, uint8_t out[SHA256_LEN])
{
	mbedtls_sha256_context sha;
	uint8_t head[9];
	size_t hn = bstr_head(len, head);
	int bad;

	mbedtls_sha256_init(&sha);
	bad = mbedtls_sha256_starts_ret(&sha, 0) != 0 ||
	      mbedtls_sha256_update_ret(&sha, head, hn) != 0 ||
	      (len && mbedtls_sha256_update_ret(&sha, p, len) != 0) ||
	      mbedtls_sha256_finish_ret(&sha, out) != 0;
	mbedtls_sha256_free(&sha);
	return bad ? TB_ERR_INVAL : TB_OK;
}

/* SUIT_Digest [alg, bytes]: SHA-256 only. */
static int read_digest(const cbor_item_t *d, const uint8_t **bytes)
{
	int64_t alg;
	size_t n;

	if (!cbor_isa_array(d) || cbor_array_size(d) < 2)
		return TB_ERR_PARSE;
	if (tb_cbor_get_int(cbor_array_handle(d)[0], &alg) != TB_OK)
		return TB_ERR_PARSE;
	if (alg != SUIT_ALG_SHA256)
		return TB_ERR_UNSUP;
	if (tb_cbor_get_bytes(cbor_array_handle(d)[1], bytes, &n) != TB_OK || n != SHA256_LEN)
		return TB_ERR_PARSE;
	return TB_OK;
}

static int check_manifest_digest(struct envelope *e, const cbor_item_t *digest_bstr)
{
	uint8_t want[SHA256_LEN];
	const uint8_t *got;
	cbor_item_t *d;
	int rc = TB_OK;

	d = load_wrapped(e, digest_bstr, "authentication wrapper digest", &rc);
	if (!d)
		return rc;
	rc = read_digest(d, &got);
	if (rc == TB_OK)
		rc = sha256_bstr_wrapped(e->manifest_bytes, e->manifest_len, want);
	if (rc == TB_OK && memcmp(want, got, SHA256_LEN) != 0)
		rc = fail(e, TB_ERR_INVAL, "authentication wrapper: manifest digest mismatch");
	else if (rc == TB_ERR_UNSUP)
		rc = fail(e, rc, "authentication wrapper: digest algorithm is not SHA-256");
	else if (rc != TB_OK)
		rc = fail(e, rc, "authentication wrapper: bad SUIT_Digest");
	cbor_decref(&d);
	return rc;
}

/* Any authentication block verified by any anchor will do. */
static int check_signatures(struct envelope *e, cbor_item_t **blocks, size_t n,
                            const uint8_t *digest, size_t digest_len, struct tb_key *const *anchors,
                            size_t n_anchors)
{
	int last = TB_ERR_SIG;

	for (size_t i = 1; i < n; i++) {
		const uint8_t *p;
		size_t len;

		if (tb_cbor_get_bytes(blocks[i], &p, &len) != TB_OK)
			return fail(e, TB_ERR_PARSE, "authentication block %zu: not a byte string",
			            i);
		for (size_t k = 0; k < n_anchors; k++) {
			int rc = tb_cose_sign1_verify(p, len, anchors[k], digest, digest_len, NULL,
			                              NULL);
			if (rc == TB_OK)
				return TB_OK;
			if (rc != TB_ERR_SIG)
				last = rc;
		}
	}
	if (last == TB_ERR_UNSUP)
		return fail(e, TB_ERR_UNSUP, "authentication: unsupported signature algorithm");
	if (last == TB_ERR_PARSE)
		return fail(e, TB_ERR_PARSE, "authentication: not a COSE_Sign1");
	return fail(e, TB_ERR_SIG, "authentication: no trust anchor verifies the manifest");
}

static int authenticate(struct envelope *e, struct tb_key *const *anchors, size_t n_anchors)
{
	cbor_item_t *auth = tb_cbor_map_get_int(e->env, ENV_AUTH), *arr;
	const uint8_t *digest;
	size_t digest_len;
	int rc = TB_OK;

	if (!auth)
		return fail(e, TB_ERR_SIG, "envelope: no authentication wrapper (key 2)");
	arr = load_wrapped(e, auth, "authentication wrapper", &rc);
	if (!arr)
		return rc;
	if (!cbor_isa_array(arr) || cbor_array_size(arr) < 2 ||
	    tb_cbor_get_bytes(cbor_array_handle(arr)[0], &digest, &digest_len) != TB_OK) {
		cbor_decref(&arr);
		return fail(e, TB_ERR_PARSE,
		            "authentication wrapper: expected [digest, signature, ...]");
	}
	rc = check_manifest_digest(e, cbor_array_handle(arr)[0]);
	if (rc == TB_OK)
		rc = check_signatures(e, cbor_array_handle(arr), cbor_array_size(arr), digest,
		                      digest_len, anchors, n_anchors);
	cbor_decref(&arr);
	return rc;
}

/* ---- command interpreter ---- */

struct params {
	int have_digest;
	uint8_t digest[SHA256_LEN];
	int have_size;
	uint64_t size;
	const uint8_t *content; /* borrowed from the manifest */
	size_t content_len;
	int have_content;
	const char *uri; /* borrowed, not NUL-terminated */
	size_t uri_len;
	const uint8_t *encryption; /* borrowed SUIT_Encryption_Info, or NULL */
	size_t encryption_len;
};

/* A dependency: a component index that names another manifest. */
struct dependency {
	int used;
	int resolved;
	struct tb_component_id prefix; /* n == 0: none given */
};

struct runner {
	struct envelope *e;
	const struct tb_suit_opts *opts;
	size_t n_components; /* indices 0..n-1 are components */
	size_t cur;          /* current component index */
	struct params par_of[MAX_INDEX];
	struct params par; /* of cur: copied in and out around each command */
	struct dependency dep[MAX_INDEX];
	struct tb_buf image; /* component 0's content so far */
	int have_image;
	int image_borrowed; /* image is an integrated payload, in the envelope's input */
	int64_t section;    /* the manifest member being run */
};

static int set_image(struct runner *r, const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);

	if (!c)
		return fail(r->e, TB_ERR_NOMEM, "out of memory");
	if (n)
		memcpy(c, p, n);
	if (!r->image_borrowed)
		free(r->image.ptr);
	r->image.ptr = c;
	r->image.len = n;
	r->have_image = 1;
	r->image_borrowed = 0;
	return TB_OK;
}

/* An integrated payload needs no copy: it is in the envelope's input,
 * which outlives the result (tb_suit_install.image_borrowed). */
static int set_image_in_input(struct runner *r, const uint8_t *p, size_t n)
{
	if (!r->e->src || p < r->e->src || n > r->e->src_len || p > r->e->src + (r->e->src_len - n))
		return set_image(r, p, n);
	if (!r->image_borrowed)
		free(r->image.ptr);
	r->image.ptr = (uint8_t *)p;
	r->image.len = n;
	r->have_image = 1;
	r->image_borrowed = 1;
	return TB_OK;
}

static int param_digest(struct runner *r, const cbor_item_t *v)
{
	const uint8_t *bytes;
	cbor_item_t *d;
	int rc = TB_OK;

	d = load_wrapped(r->e, v, "parameter image-digest", &rc);
	if (!d)
		return rc;
	rc = read_digest(d, &bytes);
	if (rc == TB_OK) {
		memcpy(r->par.digest, bytes, SHA256_LEN);
		r->par.have_digest = 1;
	} else {
		rc = fail(r->e, rc, "parameter image-digest: %s",
		          rc == TB_ERR_UNSUP ? "only SHA-256 is supported" : "bad SUIT_Digest");
	}
	cbor_decref(&d);
	return rc;
}

static int param_set_one(struct runner *r, int64_t key, const cbor_item_t *v)
{
	switch (key) {
	case PAR_VENDOR_ID:
	case PAR_CLASS_ID:
		return TB_OK; /* checked by the conditions, which accept any value */
	case PAR_IMAGE_DIGEST:
		return param_digest(r, v);
	case PAR_IMAGE_SIZE:
		if (tb_cbor_get_uint(v, &r->par.size) != TB_OK)
			return fail(r->e, TB_ERR_PARSE, "parameter image-size: expected a uint");
		r->par.have_size = 1;
		return TB_OK;
	case PAR_CONTENT:
		if (tb_cbor_get_bytes(v, &r->par.content, &r->par.content_len) != TB_OK)
			return fail(r->e, TB_ERR_PARSE, "parameter content: expected bytes");
		r->par.have_content = 1;
		return TB_OK;
	case PAR_ENCRYPTION:
		if (tb_cbor_get_bytes(v, &r->par.encryption, &r->par.encryption_len) != TB_OK)
			return fail(r->e, TB_ERR_PARSE,
			            "parameter encryption-info: expected bytes");
		return TB_OK;
	case PAR_URI:
		if (tb_cbor_get_text(v, &r->par.uri, &r->par.uri_len) != TB_OK)
			return fail(r->e, TB_ERR_PARSE, "parameter uri: expected text");
		return TB_OK;
	default:
		return TB_OK; /* parameters no command of ours reads */
	}
}

static int param_is_set(const struct runner *r, int64_t key)
{
	switch (key) {
	case PAR_IMAGE_DIGEST:
		return r->par.have_digest;
	case PAR_IMAGE_SIZE:
		return r->par.have_size;
	case PAR_CONTENT:
		return r->par.have_content;
	case PAR_URI:
		return r->par.uri != NULL;
	case PAR_ENCRYPTION:
		return r->par.encryption != NULL;
	default:
		return 0;
	}
}

static int cmd_params(struct runner *r, const cbor_item_t *arg, int override)
{
	struct cbor_pair *pairs;

	if (!cbor_isa_map(arg))
		return fail(r->e, TB_ERR_PARSE, "set/override-parameters: expected a map");
	pairs = cbor_map_handle(arg);
	for (size_t i = 0; i < cbor_map_size(arg); i++) {
		int64_t key;
		int rc;

		if (tb_cbor_get_int(pairs[i].key, &key) != TB_OK)
			return fail(r->e, TB_ERR_PARSE, "parameters: key is not an integer");
		if (!override && param_is_set(r, key))
			continue;
		rc = param_set_one(r, key, pairs[i].value);
		if (rc != TB_OK)
			return rc;
	}
	return TB_OK;
}

static int cmd_set_component(struct runner *r, const cbor_item_t *arg)
{
	uint64_t idx;
	int all;

	if (tb_cbor_get_bool(arg, &all) == TB_OK && all) {
		if (r->n_components != 1)
			return fail(r->e, TB_ERR_UNSUP,
			            "set-component-index true: only one component");
		idx = 0;
	} else if (tb_cbor_get_uint(arg, &idx) != TB_OK) {
		return fail(r->e, TB_ERR_PARSE, "set-component-index: expected a uint or true");
	}
	if (idx >= MAX_INDEX || (idx >= r->n_components && !r->dep[idx].used))
		return fail(r->e, TB_ERR_PARSE, "set-component-index %llu: no such component",
		            (unsigned long long)idx);
	r->cur = (size_t)idx;
	return TB_OK;
}

static int is_dependency(const struct runner *r)
{
	return r->dep[r->cur].used;
}

/* A dependency is resolved by the caller's lookup of an installed manifest
 * with that digest (and prefix): nothing is fetched. */
static int resolve_dependency(struct runner *r)
{
	struct dependency *d = &r->dep[r->cur];
	char text[160];
	int rc;

	if (d->resolved)
		return TB_OK;
	if (!r->par.have_digest)
		return fail(r->e, TB_ERR_PARSE, "dependency %zu: no image-digest parameter",
		            r->cur);
	if (!r->opts->dependency)
		return fail(r->e, TB_ERR_UNSUP, "dependencies are not supported here");
	rc = r->opts->dependency(r->opts->arg, &d->prefix, r->par.digest);
	if (rc == TB_OK) {
		d->resolved = 1;
		return TB_OK;
	}
	if (d->prefix.n)
		tb_component_id_format(&d->prefix, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "(index %zu)", r->cur);
	return fail(r->e, rc == TB_ERR_NOTFOUND ? TB_ERR_NOTFOUND : rc,
	            "dependency %s is not installed with the required digest", text);
}

static int cmd_process_dependency(struct runner *r)
{
	if (!is_dependency(r))
		return fail(r->e, TB_ERR_PARSE,
		            "process-dependency: component %zu is not a "
		            "dependency",
		            r->cur);
	return resolve_dependency(r);
}

static int cmd_fetch(struct runner *r)
{
	const uint8_t *p;
	size_t n;
	cbor_item_t *payload;
	char name[128];

	if (is_dependency(r))
		return resolve_dependency(r);
	if (!r->par.uri)
		return fail(r->e, TB_ERR_PARSE, "fetch: no uri parameter");
	if (r->par.uri_len >= sizeof(name))
		return fail(r->e, TB_ERR_UNSUP, "cannot fetch %.64s...", r->par.uri);
	memcpy(name, r->par.uri, r->par.uri_len);
	name[r->par.uri_len] = 0;
	if (name[0] != '#' || strlen(name) != r->par.uri_len)
		return fail(r->e, TB_ERR_UNSUP, "cannot fetch %s", name);
	payload = tb_cbor_map_get_str(r->e->env, name);
	if (!payload)
		return fail(r->e, TB_ERR_NOTFOUND, "fetch: no integrated payload %s", name);
	if (tb_cbor_get_bytes(payload, &p, &n) != TB_OK)
		return fail(r->e, TB_ERR_PARSE, "integrated payload %s: expected bytes", name);
	return set_image_in_input(r, p, n);
}

static int cmd_write(struct runner *r)
{
	uint8_t *plain;
	size_t plain_len;
	char why[128] = "";
	int rc;

	if (is_dependency(r))
		return fail(r->e, TB_ERR_UNSUP, "write: not into a dependency");
	if (!r->par.have_content)
		return fail(r->e, TB_ERR_PARSE, "write: no content parameter");
	if (!r->par.encryption)
		return set_image(r, r->par.content, r->par.content_len);
	if (!r->opts->decrypt_key)
		return fail(r->e, TB_ERR_UNSUP, "encrypted payload: no decryption key configured");
	rc = tb_cose_decrypt_detached(r->par.encryption, r->par.encryption_len,
	                              r->opts->decrypt_key, TB_SUIT_KDF_OTHER, r->par.content,
	                              r->par.content_len, &plain, &plain_len, why, sizeof(why));
	if (rc != TB_OK)
		return fail(r->e, rc, "encrypted payload: %s", why);
	rc = set_image(r, plain, plain_len);
	mbedtls_platform_zeroize(plain, plain_len);
	free(plain);
	return rc;
}

static int cmd_image_match(struct runner *r)
{
	uint8_t got[SHA256_LEN];

	if (is_dependency(r))
		return fail(r->e, TB_ERR_UNSUP, "image-match on a dependency");
	if (!r->par.have_digest)
		return fail(r->e, TB_ERR_PARSE, "image-match: no image-digest parameter");
	if (!r->have_image)
		return fail(r->e, TB_ERR_INVAL, "image-match: no image to check");
	if (r->par.have_size && r->par.size != r->image.len)
		return fail(r->e, TB_ERR_INVAL, "image-match: size %zu, expected %llu",
		            r->image.len, (unsigned long long)r->par.size);
	if (mbedtls_sha256_ret(r->image.ptr, r->image.len, got, 0) != 0)
		return fail(r->e, TB_ERR_INVAL, "image-match: cannot hash");
	if (memcmp(got, r->par.digest, SHA256_LEN) != 0)
		return fail(r->e, TB_ERR_INVAL, "image-match: digest mismatch");
	return TB_OK;
}

static int run_command(struct runner *r, int64_t code, const cbor_item_t *arg)
{
	switch (code) {
	case CMD_OVERRIDE:
		return cmd_params(r, arg, 1);
	case CMD_SET_PARAMS:
		return cmd_params(r, arg, 0);
	case CMD_SET_COMPONENT:
		return cmd_set_component(r, arg);
	case CMD_VENDOR_ID:
	case CMD_CLASS_ID:
		/* Accepted: matching them against the device is not done yet. */
		return TB_OK;
	case CMD_IMAGE_MATCH:
		return cmd_image_match(r);
	case CMD_FETCH:
		return cmd_fetch(r);
	case CMD_WRITE:
		return cmd_write(r);
	case CMD_ABORT:
		return fail(r->e, TB_ERR_INVAL, "manifest aborted (condition-abort)");
	case CMD_PROCESS_DEP:
		return cmd_process_dependency(r);
	default:
		return fail(r->e, TB_ERR_UNSUP, "SUIT command %lld is not supported",
		            (long long)code);
	}
}

/* The first failing command (the innermost, for nested sequences). */
static void record_failure(struct runner *r, int64_t code, size_t idx, int rc)
{
	struct tb_suit_failure *f = r->opts->failure;
	size_t n;

	if (!f || f->set)
		return;
	f->set = 1;
	f->section = r->section;
	f->command_index = idx;
	f->command = code;
	f->component_index = r->cur;
	f->status = rc;
	n = r->par.uri && r->par.uri_len <= TB_SUIT_FAIL_URI_MAX ? r->par.uri_len : 0;
	if (n)
		memcpy(f->uri, r->par.uri, n);
	f->uri[n] = 0;
	sha256_bstr_wrapped(r->e->manifest_bytes, r->e->manifest_len, f->manifest_digest);
}

static int run_sequence(struct runner *r, const cbor_item_t *bstr, const char *name)
{
	cbor_item_t *seq, **items;
	size_t n;
	int rc = TB_OK;

	seq = load_wrapped(r->e, bstr, name, &rc);
	if (!seq)
		return rc;
	if (!cbor_isa_array(seq) || cbor_array_size(seq) % 2) {
		cbor_decref(&seq);
		return fail(r->e, TB_ERR_PARSE, "%s: expected [command, argument, ...]", name);
	}
	items = cbor_array_handle(seq);
	n = cbor_array_size(seq);
	for (size_t i = 0; rc == TB_OK && i < n; i += 2) {
		int64_t code;

		if (tb_cbor_get_int(items[i], &code) != TB_OK) {
			rc = fail(r->e, TB_ERR_PARSE, "%s: command code is not an integer", name);
		} else {
			r->par = r->par_of[r->cur];
			rc = run_command(r, code, items[i + 1]);
			if (rc != TB_OK)
				record_failure(r, code, i / 2, rc);
			/* set-component-index moved cur: the parameters stay with
			 * the index they were set for. */
			if (code != CMD_SET_COMPONENT)
				r->par_of[r->cur] = r->par;
		}
	}
	cbor_decref(&seq);
	return rc;
}

/* The shared sequence runs before each command sequence with fresh
 * parameters; the component's content carries over. */
static int run_with_shared(struct runner *r, const cbor_item_t *seq, const char *name)
{
	cbor_item_t *shared =
	    r->e->common ? tb_cbor_map_get_int(r->e->common, COMMON_SHARED) : NULL;
	int rc = TB_OK;

	memset(&r->par, 0, sizeof(r->par));
	memset(r->par_of, 0, sizeof(r->par_of));
	r->cur = 0;
	if (shared)
		rc = run_sequence(r, shared, "shared-sequence");
	if (rc == TB_OK)
		rc = run_sequence(r, seq, name);
	return rc;
}

/* common: one component (index 0) and dependencies at indices 1.. */
static int read_layout(struct runner *r)
{
	struct envelope *e = r->e;
	cbor_item_t *v = e->common ? tb_cbor_map_get_int(e->common, COMMON_COMPONENTS) : NULL;
	struct cbor_pair *pairs;

	if (v && cbor_isa_array(v) && cbor_array_size(v) > 1)
		return fail(e, TB_ERR_UNSUP, "manifests with several components are not supported");
	r->n_components = 1;
	v = e->common ? tb_cbor_map_get_int(e->common, COMMON_DEPS) : NULL;
	if (!v)
		return TB_OK;
	if (!cbor_isa_map(v))
		return fail(e, TB_ERR_PARSE, "common: dependencies must be a map");
	pairs = cbor_map_handle(v);
	for (size_t i = 0; i < cbor_map_size(v); i++) {
		cbor_item_t *prefix;
		uint64_t idx;
		int rc;

		if (tb_cbor_get_uint(pairs[i].key, &idx) != TB_OK || idx < r->n_components ||
		    idx >= MAX_INDEX || r->dep[idx].used || !cbor_isa_map(pairs[i].value))
			return fail(e, TB_ERR_PARSE,
			            "common: dependency index must be %zu..%d, once, with a map",
			            r->n_components, MAX_INDEX - 1);
		r->dep[idx].used = 1;
		prefix = tb_cbor_map_get_int(pairs[i].value, DEP_PREFIX);
		if (prefix && (rc = read_component_id(prefix, &r->dep[idx].prefix)) != TB_OK)
			return fail(e, rc, "common: bad dependency-prefix");
	}
	return TB_OK;
}

static void runner_free(struct runner *r)
{
	for (size_t i = 0; i < MAX_INDEX; i++)
		tb_component_id_clear(&r->dep[i].prefix);
}

/* dependency-resolution, install, validate: the order of a SUIT update
 * (payload-fetch is not needed: payloads are integrated or in content). */
static int run_manifest(struct envelope *e, const struct tb_suit_opts *opts,
                        struct tb_suit_install *out)
{
	struct runner r = {.e = e, .opts = opts};
	cbor_item_t *install = tb_cbor_map_get_int(e->manifest, MAN_INSTALL);
	cbor_item_t *validate = tb_cbor_map_get_int(e->manifest, MAN_VALIDATE);
	cbor_item_t *resolve = tb_cbor_map_get_int(e->manifest, MAN_DEP_RESOLVE);
	cbor_item_t *fetch = tb_cbor_map_get_int(e->manifest, MAN_PAYLOAD_FETCH);
	int rc = read_layout(&r);

	if (rc == TB_OK && (!install || !cbor_isa_bytestring(install)) &&
	    (!fetch || !cbor_isa_bytestring(fetch)))
		rc = fail(e, TB_ERR_PARSE, "manifest: no install sequence (key 20)");
	if (rc == TB_OK && resolve) {
		r.section = MAN_DEP_RESOLVE;
		rc = run_with_shared(&r, resolve, "dependency-resolution");
	}
	/* payload-fetch: only integrated payloads can be fetched ("#name");
	 * a URI is refused with the command and the component named in the
	 * failure (docs/teep-support.md says why) */
	if (rc == TB_OK && fetch) {
		r.section = MAN_PAYLOAD_FETCH;
		rc = run_with_shared(&r, fetch, "payload-fetch");
	}
	if (rc == TB_OK && install) {
		r.section = MAN_INSTALL;
		rc = run_with_shared(&r, install, "install");
	}
	if (rc == TB_OK && validate) {
		r.section = MAN_VALIDATE;
		rc = run_with_shared(&r, validate, "validate");
	}
	if (rc == TB_OK && !r.have_image)
		rc = fail(e, TB_ERR_PARSE, "install: no image was fetched or written");
	for (size_t i = 0; rc == TB_OK && i < MAX_INDEX; i++)
		if (r.dep[i].used && !r.dep[i].resolved)
			rc = fail(e, TB_ERR_PARSE, "dependency %zu was never processed", i);
	runner_free(&r);
	if (rc != TB_OK) {
		if (r.image.ptr && !r.image_borrowed) {
			mbedtls_platform_zeroize(r.image.ptr, r.image.len);
			free(r.image.ptr);
		}
		return rc;
	}
	out->image = r.image;
	out->image_borrowed = r.image_borrowed;
	return TB_OK;
}

int tb_suit_process(const uint8_t *env, size_t len, struct tb_key *const *anchors, size_t n_anchors,
                    struct tb_suit_install *out, char *err, size_t errlen)
{
	struct tb_suit_opts o = {.anchors = anchors, .n_anchors = n_anchors};

	return tb_suit_process_ex(env, len, &o, out, err, errlen);
}

int tb_suit_process_ex(const uint8_t *env, size_t len, const struct tb_suit_opts *opts,
                       struct tb_suit_install *out, char *err, size_t errlen)
{
	struct envelope e = {.err = err, .errlen = errlen};
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (!out || !opts || (!opts->anchors && opts->n_anchors))
		return TB_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	if (opts->n_anchors == 0)
		return fail(&e, TB_ERR_SIG, "no trust anchor configured");
	rc = envelope_open(&e, env, len);
	if (rc == TB_OK)
		rc = authenticate(&e, opts->anchors, opts->n_anchors);
	if (rc == TB_OK)
		rc = read_info(&e, &out->info);
	if (rc == TB_OK)
		rc = run_manifest(&e, opts, out);
	envelope_free(&e);
	if (rc != TB_OK)
		tb_suit_install_clear(out);
	return rc;
}

void tb_suit_install_clear(struct tb_suit_install *in)
{
	if (!in)
		return;
	tb_suit_info_clear(&in->info);
	if (!in->image_borrowed)
		free(in->image.ptr);
	in->image.ptr = NULL;
	in->image.len = 0;
	in->image_borrowed = 0;
}

/* ---- building ---- */

/*
 * The builders below chain: each takes ownership of the items passed in
 * and returns NULL on failure having released them, so a NULL anywhere
 * propagates to the top without leaks.
 */
static cbor_item_t *arr_of(size_t n, cbor_item_t **items)
{
	cbor_item_t *arr = cbor_new_definite_array(n);
	int ok = arr != NULL;

	for (size_t i = 0; i < n; i++) {
		if (ok && tb_cbor_array_push(arr, items[i]) != TB_OK)
			ok = 0;
		else if (!ok && items[i])
			cbor_decref(&items[i]);
	}
	if (!ok && arr)
		cbor_decref(&arr);
	return ok ? arr : NULL;
}

static cbor_item_t *map_of(size_t n, const int64_t *keys, cbor_item_t **values)
{
	cbor_item_t *map = cbor_new_definite_map(n);
	int ok = map != NULL;

	for (size_t i = 0; i < n; i++) {
		if (ok && tb_cbor_map_put(map, tb_cbor_int(keys[i]), values[i]) != TB_OK)
			ok = 0;
		else if (!ok && values[i])
			cbor_decref(&values[i]);
	}
	if (!ok && map)
		cbor_decref(&map);
	return ok ? map : NULL;
}

static cbor_item_t *build_component_id(const struct tb_component_id *c)
{
	cbor_item_t *segs[TB_TEEP_MAX_SEGMENTS];

	if (!c || c->n < 1 || c->n > TB_TEEP_MAX_SEGMENTS)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		segs[i] = tb_cbor_bytes(c->seg[i].ptr, c->seg[i].len);
	return arr_of(c->n, segs);
}

static cbor_item_t *build_digest(const uint8_t digest[SHA256_LEN])
{
	cbor_item_t *d[2] = {tb_cbor_int(SUIT_ALG_SHA256), tb_cbor_bytes(digest, SHA256_LEN)};

	return arr_of(2, d);
}

static cbor_item_t *build_common(const struct tb_component_id *component,
                                 const uint8_t digest[SHA256_LEN], size_t size)
{
	static const int64_t par_keys[] = {PAR_IMAGE_DIGEST, PAR_IMAGE_SIZE};
	static const int64_t keys[] = {COMMON_COMPONENTS, COMMON_SHARED};
	cbor_item_t *par[2] = {tb_cbor_bstr_of(build_digest(digest)), tb_cbor_int((int64_t)size)};
	cbor_item_t *shared[2] = {tb_cbor_int(CMD_OVERRIDE), map_of(2, par_keys, par)};
	cbor_item_t *comp = build_component_id(component);
	cbor_item_t *v[2] = {arr_of(1, &comp), tb_cbor_bstr_of(arr_of(2, shared))};

	return map_of(2, keys, v);
}

static cbor_item_t *build_install(void)
{
	static const int64_t uri_key[] = {PAR_URI};
	cbor_item_t *uri[1] = {tb_cbor_text(INTEGRATED_NAME, strlen(INTEGRATED_NAME))};
	cbor_item_t *seq[6] = {tb_cbor_int(CMD_OVERRIDE),    map_of(1, uri_key, uri),
	                       tb_cbor_int(CMD_FETCH),       tb_cbor_int(REPORT_POLICY_ALL),
	                       tb_cbor_int(CMD_IMAGE_MATCH), tb_cbor_int(REPORT_POLICY_ALL)};

	return arr_of(6, seq);
}

static cbor_item_t *build_uninstall(void)
{
	cbor_item_t *seq[2] = {tb_cbor_int(CMD_UNLINK), tb_cbor_int(REPORT_POLICY_ALL)};

	return arr_of(2, seq);
}

static int build_manifest(const struct tb_component_id *component,
                          const struct tb_component_id *manifest_id, uint64_t seq,
                          const uint8_t *payload, size_t payload_len, cbor_item_t **out)
{
	static const int64_t keys[] = {MAN_VERSION,      MAN_SEQUENCE, MAN_COMMON,
	                               MAN_COMPONENT_ID, MAN_INSTALL,  MAN_UNINSTALL};
	uint8_t digest[SHA256_LEN];
	cbor_item_t *v[6];

	if (seq > INT64_MAX)
		return TB_ERR_INVAL;
	if (mbedtls_sha256_ret(payload, payload_len, digest, 0) != 0)
		return TB_ERR_INVAL;
	v[0] = tb_cbor_int(MANIFEST_VERSION);
	v[1] = tb_cbor_int((int64_t)seq);
	v[2] = tb_cbor_bstr_of(build_common(component, digest, payload_len));
	v[3] = build_component_id(manifest_id);
	v[4] = tb_cbor_bstr_of(build_install());
	v[5] = tb_cbor_bstr_of(build_uninstall());
	*out = map_of(6, keys, v);
	return *out ? TB_OK : TB_ERR_NOMEM;
}

/* [bstr(SUIT_Digest of the wrapped manifest), bstr(COSE_Sign1)] */
static cbor_item_t *build_auth(const struct tb_key *signer, const uint8_t *manifest,
                               size_t manifest_len, int *rc)
{
	uint8_t md[SHA256_LEN], *digest_bytes = NULL, *sig = NULL;
	size_t digest_len, sig_len;
	cbor_item_t *items[2];

	*rc = sha256_bstr_wrapped(manifest, manifest_len, md);
	if (*rc == TB_OK) {
		cbor_item_t *d = build_digest(md);
		*rc = d ? tb_cbor_serialize(d, &digest_bytes, &digest_len) : TB_ERR_NOMEM;
		if (d)
			cbor_decref(&d);
	}
	if (*rc == TB_OK)
		*rc = tb_cose_sign1(signer, TB_COSE_ALG_ESP256, digest_bytes, digest_len, 1, NULL,
		                    0, &sig, &sig_len);
	if (*rc != TB_OK) {
		free(digest_bytes);
		return NULL;
	}
	items[0] = tb_cbor_bytes(digest_bytes, digest_len);
	items[1] = tb_cbor_bytes(sig, sig_len);
	free(digest_bytes);
	free(sig);
	return tb_cbor_bstr_of(arr_of(2, items));
}

/* {auth, manifest, (INTEGRATED_NAME: payload when integrated)}; auth is
 * consumed. */
static cbor_item_t *build_envelope(cbor_item_t *auth, const uint8_t *manifest, size_t manifest_len,
                                   int integrated, const uint8_t *payload, size_t payload_len)
{
	cbor_item_t *env = cbor_new_definite_map(integrated ? 3 : 2);
	cbor_item_t *m = tb_cbor_bytes(manifest, manifest_len);
	cbor_item_t *name =
	    integrated ? tb_cbor_text(INTEGRATED_NAME, strlen(INTEGRATED_NAME)) : NULL;
	cbor_item_t *p = integrated ? tb_cbor_bytes(payload, payload_len) : NULL;
	int rc = env ? TB_OK : TB_ERR_NOMEM;

	if (rc == TB_OK)
		rc = tb_cbor_map_put(env, tb_cbor_int(ENV_AUTH), auth);
	else if (auth)
		cbor_decref(&auth);
	if (rc == TB_OK)
		rc = tb_cbor_map_put(env, tb_cbor_int(ENV_MANIFEST), m);
	else if (m)
		cbor_decref(&m);
	if (rc == TB_OK && integrated)
		rc = tb_cbor_map_put(env, name, p);
	else {
		if (name)
			cbor_decref(&name);
		if (p)
			cbor_decref(&p);
	}
	if (rc != TB_OK && env)
		cbor_decref(&env);
	return rc == TB_OK ? env : NULL;
}

/* A serialized manifest signed with signer, in its envelope (with the
 * payload integrated or not), serialized into *out. */
static int sign_envelope(const struct tb_key *signer, const uint8_t *manifest, size_t manifest_len,
                         int integrated, const uint8_t *payload, size_t payload_len, uint8_t **out,
                         size_t *out_len)
{
	int rc = TB_OK;
	cbor_item_t *auth = build_auth(signer, manifest, manifest_len, &rc);

	if (!auth)
		return rc != TB_OK ? rc : TB_ERR_NOMEM;
	cbor_item_t *env =
	    build_envelope(auth, manifest, manifest_len, integrated, payload, payload_len);
	if (!env)
		return TB_ERR_NOMEM;
	rc = tb_cbor_serialize(env, out, out_len);
	cbor_decref(&env);
	return rc;
}

int tb_suit_build_integrated(const struct tb_key *signer, const struct tb_component_id *component,
                             const struct tb_component_id *manifest_id, uint64_t sequence_number,
                             const uint8_t *payload, size_t payload_len, uint8_t **out,
                             size_t *out_len)
{
	uint8_t *manifest = NULL;
	size_t manifest_len;
	cbor_item_t *man = NULL;
	int rc;

	if (!signer || !component || !manifest_id || (!payload && payload_len) || !out ||
	    !out_len || component->n < 1 || manifest_id->n < 1)
		return TB_ERR_INVAL;
	if (!tb_key_has_private(signer))
		return TB_ERR_INVAL;
	rc = build_manifest(component, manifest_id, sequence_number, payload, payload_len, &man);
	if (rc == TB_OK)
		rc = tb_cbor_serialize(man, &manifest, &manifest_len);
	if (man)
		cbor_decref(&man);
	if (rc != TB_OK)
		return rc;
	rc = sign_envelope(signer, manifest, manifest_len, 1, payload, payload_len, out, out_len);
	free(manifest);
	return rc;
}

/* A manifest whose payload is fetched from a URI, as TAMs in the field
 * send them: payload-fetch [override {uri}, fetch, image-match], no
 * install, no integrated payload. */
int tb_suit_build_uri_fetch(const struct tb_key *signer, const struct tb_component_id *component,
                            const struct tb_component_id *manifest_id, uint64_t sequence_number,
                            const uint8_t *payload, size_t payload_len, const char *uri,
                            uint8_t **out, size_t *out_len)
{
	static const int64_t keys[] = {MAN_VERSION,      MAN_SEQUENCE,      MAN_COMMON,
	                               MAN_COMPONENT_ID, MAN_PAYLOAD_FETCH, MAN_UNINSTALL};
	static const int64_t uri_key[] = {PAR_URI};
	uint8_t digest[SHA256_LEN], *manifest = NULL;
	size_t manifest_len, ulen = uri ? strnlen(uri, SUIT_URI_MAX + 1) : 0;
	cbor_item_t *v[6], *u[1], *fseq[6], *man;
	int rc;

	if (!signer || !component || !manifest_id || (!payload && payload_len) || !out ||
	    !out_len || component->n < 1 || manifest_id->n < 1 || !ulen || ulen > SUIT_URI_MAX ||
	    sequence_number > INT64_MAX || !tb_key_has_private(signer))
		return TB_ERR_INVAL;
	if (mbedtls_sha256_ret(payload, payload_len, digest, 0) != 0)
		return TB_ERR_INVAL;
	u[0] = tb_cbor_text(uri, ulen);
	fseq[0] = tb_cbor_int(CMD_OVERRIDE);
	fseq[1] = map_of(1, uri_key, u);
	fseq[2] = tb_cbor_int(CMD_FETCH);
	fseq[3] = tb_cbor_int(REPORT_POLICY_ALL);
	fseq[4] = tb_cbor_int(CMD_IMAGE_MATCH);
	fseq[5] = tb_cbor_int(REPORT_POLICY_ALL);
	v[0] = tb_cbor_int(MANIFEST_VERSION);
	v[1] = tb_cbor_int((int64_t)sequence_number);
	v[2] = tb_cbor_bstr_of(build_common(component, digest, payload_len));
	v[3] = build_component_id(manifest_id);
	v[4] = tb_cbor_bstr_of(arr_of(6, fseq));
	v[5] = tb_cbor_bstr_of(build_uninstall());
	man = map_of(6, keys, v);
	if (!man)
		return TB_ERR_NOMEM;
	rc = tb_cbor_serialize(man, &manifest, &manifest_len);
	cbor_decref(&man);
	if (rc != TB_OK)
		return rc;
	rc = sign_envelope(signer, manifest, manifest_len, 0, NULL, 0, out, out_len);
	free(manifest);
	return rc;
}

/* ---- content (personalization data) envelopes ---- */

static cbor_item_t *seq_of(size_t n, cbor_item_t **items)
{
	return tb_cbor_bstr_of(arr_of(n, items));
}

/* common: {dependencies {1: {1: prefix}}?, components [[component]],
 * shared-sequence [set-component-index 0]} */
static cbor_item_t *build_content_common(const struct tb_suit_content *c)
{
	static const int64_t dep_keys[] = {DEP_PREFIX};
	static const int64_t idx_keys[] = {1};
	static const int64_t keys3[] = {COMMON_DEPS, COMMON_COMPONENTS, COMMON_SHARED};
	cbor_item_t *comp = build_component_id(c->component);
	cbor_item_t *shared[2] = {tb_cbor_int(CMD_SET_COMPONENT), tb_cbor_int(0)};
	cbor_item_t *v[3];

	v[1] = arr_of(1, &comp);
	v[2] = seq_of(2, shared);
	if (!c->dependency)
		return map_of(2, keys3 + 1, v + 1);
	v[0] = build_component_id(c->dependency);
	v[0] = map_of(1, dep_keys, &v[0]);
	v[0] = map_of(1, idx_keys, &v[0]);
	return map_of(3, keys3, v);
}

static cbor_item_t *build_content_validate(const uint8_t digest[SHA256_LEN], size_t size)
{
	static const int64_t par_keys[] = {PAR_IMAGE_DIGEST, PAR_IMAGE_SIZE};
	cbor_item_t *par[2] = {tb_cbor_bstr_of(build_digest(digest)), tb_cbor_int((int64_t)size)};
	cbor_item_t *seq[6] = {tb_cbor_int(CMD_SET_COMPONENT), tb_cbor_int(0),
	                       tb_cbor_int(CMD_OVERRIDE),      map_of(2, par_keys, par),
	                       tb_cbor_int(CMD_IMAGE_MATCH),   tb_cbor_int(REPORT_POLICY_ALL)};

	return seq_of(6, seq);
}

static cbor_item_t *build_content_resolve(const uint8_t *dep_digest)
{
	static const int64_t par_keys[] = {PAR_IMAGE_DIGEST};
	cbor_item_t *par[1] = {tb_cbor_bstr_of(build_digest(dep_digest))};
	cbor_item_t *seq[6] = {tb_cbor_int(CMD_SET_COMPONENT), tb_cbor_int(1),
	                       tb_cbor_int(CMD_OVERRIDE),      map_of(1, par_keys, par),
	                       tb_cbor_int(CMD_FETCH),         tb_cbor_int(REPORT_POLICY_ALL)};

	return seq_of(6, seq);
}

static cbor_item_t *build_content_install(int has_dep, const uint8_t *content, size_t len,
                                          const uint8_t *enc, size_t enc_len)
{
	static const int64_t par_keys[] = {PAR_CONTENT, PAR_ENCRYPTION};
	cbor_item_t *par[2] = {tb_cbor_bytes(content, len),
	                       enc ? tb_cbor_bytes(enc, enc_len) : NULL};
	cbor_item_t *seq[10];
	size_t n = 0;

	if (has_dep) {
		seq[n++] = tb_cbor_int(CMD_SET_COMPONENT);
		seq[n++] = tb_cbor_int(1);
		seq[n++] = tb_cbor_int(CMD_PROCESS_DEP);
		seq[n++] = tb_cbor_int(0);
	}
	seq[n++] = tb_cbor_int(CMD_SET_COMPONENT);
	seq[n++] = tb_cbor_int(0);
	seq[n++] = tb_cbor_int(CMD_OVERRIDE);
	seq[n++] = map_of(enc ? 2 : 1, par_keys, par);
	seq[n++] = tb_cbor_int(CMD_WRITE);
	seq[n++] = tb_cbor_int(REPORT_POLICY_ALL);
	return seq_of(n, seq);
}

static cbor_item_t *build_content_uninstall(void)
{
	cbor_item_t *seq[4] = {tb_cbor_int(CMD_SET_COMPONENT), tb_cbor_int(0),
	                       tb_cbor_int(CMD_UNLINK), tb_cbor_int(REPORT_POLICY_ALL)};

	return seq_of(4, seq);
}

static int build_content_manifest(const struct tb_suit_content *c, const uint8_t *content,
                                  size_t content_len, const uint8_t *enc, size_t enc_len,
                                  uint8_t **out, size_t *out_len)
{
	int64_t keys[8] = {MAN_VERSION, MAN_SEQUENCE, MAN_COMMON, MAN_COMPONENT_ID, MAN_VALIDATE};
	uint8_t digest[SHA256_LEN];
	cbor_item_t *v[8], *man;
	size_t n = 5;
	int rc;

	if (c->sequence_number > INT64_MAX ||
	    mbedtls_sha256_ret(c->data, c->data_len, digest, 0) != 0)
		return TB_ERR_INVAL;
	v[0] = tb_cbor_int(MANIFEST_VERSION);
	v[1] = tb_cbor_int((int64_t)c->sequence_number);
	v[2] = tb_cbor_bstr_of(build_content_common(c));
	v[3] = build_component_id(c->manifest_id);
	v[4] = build_content_validate(digest, c->data_len);
	if (c->dependency) {
		keys[n] = MAN_DEP_RESOLVE;
		v[n++] = build_content_resolve(c->dependency_digest);
	}
	keys[n] = MAN_INSTALL;
	v[n++] = build_content_install(c->dependency != NULL, content, content_len, enc, enc_len);
	keys[n] = MAN_UNINSTALL;
	v[n++] = build_content_uninstall();
	man = map_of(n, keys, v);
	if (!man)
		return TB_ERR_NOMEM;
	rc = tb_cbor_serialize(man, out, out_len);
	cbor_decref(&man);
	return rc;
}

int tb_suit_build_content(const struct tb_key *signer, const struct tb_suit_content *c,
                          uint8_t **out, size_t *out_len)
{
	uint8_t *enc = NULL, *ct = NULL, *manifest = NULL;
	size_t enc_len = 0, ct_len = 0, manifest_len = 0;
	int rc = TB_OK;

	if (!signer || !c || !c->component || !c->manifest_id || (!c->data && c->data_len) ||
	    !out || !out_len || c->component->n < 1 || c->manifest_id->n < 1 ||
	    (c->dependency && (c->dependency->n < 1 || !c->dependency_digest)) ||
	    !tb_key_has_private(signer))
		return TB_ERR_INVAL;
	if (c->recipient)
		rc = tb_cose_encrypt_detached(c->recipient, TB_COSE_ALG_A128CTR, TB_SUIT_KDF_OTHER,
		                              c->data, c->data_len, &enc, &enc_len, &ct, &ct_len);
	if (rc == TB_OK)
		rc = build_content_manifest(c, c->recipient ? ct : c->data,
		                            c->recipient ? ct_len : c->data_len, enc, enc_len,
		                            &manifest, &manifest_len);
	free(enc);
	free(ct);
	if (rc != TB_OK)
		return rc;
	rc = sign_envelope(signer, manifest, manifest_len, 0, NULL, 0, out, out_len);
	free(manifest);
	return rc;
}

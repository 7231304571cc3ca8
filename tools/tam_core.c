/*
 * Reference TAM logic: sessions, tokens, the catalog and the answers to an
 * Agent's messages. No networking here; teep-tam.c puts HTTP around it and
 * the unit tests call it directly.
 *
 * A development and test TAM, not a production one: it has no device
 * database, no policy beyond "give the Agent what it asks for if we have it",
 * and no attestation.
 */
#include "config.h"

#include "tam_core.h"
#include "tb_cbor.h"
#include "tb_suit_report.h"

#include "tb_log.h"
#include "tb_suit.h"
#include "tb_util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

/* What a token was issued for, so that an answer of the wrong kind is
 * noticed: a QueryRequest is answered by a QueryResponse (or an Error), an
 * Update by a Success (or an Error). */
enum tam_token_kind { TOKEN_FREE = 0, TOKEN_QUERY = 1, TOKEN_UPDATE = 2, TOKEN_CHALLENGE = 3 };

struct tam_token {
	uint8_t id[TAM_TOKEN_LEN];
	uint64_t issued_ms;
	enum tam_token_kind kind;
};

/* One catalog envelope, kept in memory for the lifetime of the core. */
struct tam_entry {
	char *file; /* base name, for logs */
	uint8_t *env;
	size_t env_len;
	struct tb_suit_info info;
};

struct tam_core {
	const struct tb_key *key;
	const struct tb_key **agent_keys;
	size_t n_agent_keys;
	uint8_t kid[32];
	enum tb_numbering num;
	enum tam_first_message first;
	size_t max_body;
	size_t max_manifest;
	uint64_t lifetime_ms;
	uint64_t (*now_ms)(void *arg);
	void *now_arg;
	const struct tb_component_id *push;
	size_t n_push;
	int no_token;
	const struct tam_attest_policy *attest;
	int attest_no_refusal;
	const char *ear_dir;
	int last_status; /* of the last appraisal; TB_EAR_NONE: none */
	char last_why[160];

	struct tam_entry *catalog;
	size_t n_catalog;

	struct tam_token *tokens;
	size_t max_tokens;

	struct tam_counters cnt;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static uint64_t default_now(void *arg)
{
	(void)arg;
	return tb_now_ms();
}

static uint64_t core_now(const struct tam_core *tam)
{
	return tam->now_ms(tam->now_arg);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The token source: the draft requires a cryptographically secure one. */
static int random_bytes(uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom(buf + done, len - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return TB_ERR_IO;
		}
		done += (size_t)n;
	}
	return TB_OK;
}

/* A short token prefix for traces: enough to follow one exchange. */
static void token_trace(const uint8_t *tok, size_t len, char out[16])
{
	size_t n = len < 4 ? len : 4;

	tb_hex_encode(tok, n, out);
	strcat(out, "..");
}

/* Agent-supplied text goes into our logs: keep it printable and short. */
static void sanitize_text(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	if (!outlen)
		return;
	for (; in && *in && o + 1 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		out[o++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
	}
	out[o] = '\0';
}

/* "[a, b, ...]" for a trace line; truncated with "..." when too long. */
static void format_ids(const struct tb_component_id *ids, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	char one[256];

	if (outlen < 8) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	out[o++] = '[';
	for (size_t i = 0; i < n; i++) {
		size_t l = tb_component_id_format(&ids[i], one, sizeof(one));
		size_t need = l + (i ? 2 : 0);

		/* keep room for "...]" and the terminator */
		if (o + need + 5 > outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (i) {
			out[o++] = ',';
			out[o++] = ' ';
		}
		memcpy(out + o, one, l);
		o += l;
	}
	out[o++] = ']';
	out[o] = '\0';
}

int tam_numbering_parse(const char *s, enum tb_numbering *out)
{
	if (!s)
		return TB_ERR_INVAL;
	if (!strcmp(s, "draft-26") || !strcmp(s, "26")) {
		*out = TB_NUM_DRAFT26;
		return TB_OK;
	}
	if (!strcmp(s, "pre-26") || !strcmp(s, "pre26")) {
		*out = TB_NUM_PRE26;
		return TB_OK;
	}
	return TB_ERR_INVAL;
}

const char *tam_numbering_name(enum tb_numbering num)
{
	return num == TB_NUM_PRE26 ? "pre-26" : "draft-26";
}

int tam_first_message_parse(const char *s, enum tam_first_message *out)
{
	if (!s)
		return TB_ERR_INVAL;
	if (!strcmp(s, "cose-sign1")) {
		*out = TAM_FIRST_COSE_SIGN1;
		return TB_OK;
	}
	if (!strcmp(s, "cose-sign")) {
		*out = TAM_FIRST_COSE_SIGN;
		return TB_OK;
	}
	return TB_ERR_INVAL;
}

const char *tam_first_message_name(enum tam_first_message first)
{
	return first == TAM_FIRST_COSE_SIGN ? "cose-sign" : "cose-sign1";
}

/* The COSE API takes key lists without const (its other callers own
 * theirs); it only reads the keys. */
static struct tb_key *const *key_list(const struct tb_key *const *keys)
{
	return (struct tb_key *const *)keys;
}

/* ------------------------------------------------------------------ */
/* Token table                                                         */
/* ------------------------------------------------------------------ */

/* The draft requires token state to be bounded by a timeout. */
static void tokens_expire(struct tam_core *tam)
{
	uint64_t now = core_now(tam);

	for (size_t i = 0; i < tam->max_tokens; i++) {
		struct tam_token *t = &tam->tokens[i];

		if (t->kind != TOKEN_FREE && now >= t->issued_ms &&
		    now - t->issued_ms >= tam->lifetime_ms) {
			t->kind = TOKEN_FREE;
			tam->cnt.tokens_expired++;
		}
	}
}

/* Remember a token we sent. When the table is full the oldest one goes:
 * memory stays bounded whatever the Agents do, and a session that old is
 * the least likely to still be answered. */
static void token_remember(struct tam_core *tam, const uint8_t id[TAM_TOKEN_LEN],
                           enum tam_token_kind kind)
{
	struct tam_token *slot = NULL;

	tokens_expire(tam);
	for (size_t i = 0; i < tam->max_tokens; i++) {
		struct tam_token *t = &tam->tokens[i];

		if (t->kind == TOKEN_FREE) {
			slot = t;
			break;
		}
		if (!slot || t->issued_ms < slot->issued_ms)
			slot = t;
	}
	if (slot->kind != TOKEN_FREE) {
		tam->cnt.tokens_evicted++;
		tb_log(TB_LOG_DEBUG, "tam: token table full (%zu), oldest token forgotten",
		       tam->max_tokens);
	}
	memcpy(slot->id, id, TAM_TOKEN_LEN);
	slot->issued_ms = core_now(tam);
	slot->kind = kind;
}

/* Take a token out of the table: one validly signed answer per token.
 * Returns what it was issued for, TOKEN_FREE if it is not ours. */
static enum tam_token_kind token_take(struct tam_core *tam, const struct tb_buf *tok)
{
	tokens_expire(tam);
	if (tok->len != TAM_TOKEN_LEN)
		return TOKEN_FREE;
	for (size_t i = 0; i < tam->max_tokens; i++) {
		struct tam_token *t = &tam->tokens[i];

		if (t->kind != TOKEN_FREE && !memcmp(t->id, tok->ptr, TAM_TOKEN_LEN)) {
			enum tam_token_kind kind = t->kind;

			t->kind = TOKEN_FREE;
			return kind;
		}
	}
	return TOKEN_FREE;
}

size_t tam_core_outstanding_tokens(struct tam_core *tam)
{
	size_t n = 0;

	tokens_expire(tam);
	for (size_t i = 0; i < tam->max_tokens; i++)
		n += tam->tokens[i].kind != TOKEN_FREE;
	return n;
}

/* ------------------------------------------------------------------ */
/* Catalog                                                             */
/* ------------------------------------------------------------------ */

static void entry_clear(struct tam_entry *e)
{
	free(e->file);
	free(e->env);
	tb_suit_info_clear(&e->info);
	memset(e, 0, sizeof(*e));
}

static int suit_name_filter(const struct dirent *d)
{
	size_t l = strlen(d->d_name);

	return d->d_name[0] != '.' && l > 5 && !strcmp(d->d_name + l - 5, ".suit");
}

static struct tam_entry *catalog_find_component(struct tam_core *tam,
                                                const struct tb_component_id *c)
{
	for (size_t i = 0; i < tam->n_catalog; i++)
		if (tam->catalog[i].info.component.n &&
		    tb_component_id_equal(&tam->catalog[i].info.component, c))
			return &tam->catalog[i];
	return NULL;
}

static struct tam_entry *catalog_find_manifest(struct tam_core *tam,
                                               const struct tb_component_id *c)
{
	for (size_t i = 0; i < tam->n_catalog; i++)
		if (tam->catalog[i].info.manifest_component_id.n &&
		    tb_component_id_equal(&tam->catalog[i].info.manifest_component_id, c))
			return &tam->catalog[i];
	return NULL;
}

/* An envelope that names the same component or manifest as one already
 * indexed: keep the higher sequence number, as an Agent would. */
static struct tam_entry *catalog_find_clash(struct tam_core *tam, const struct tb_suit_info *info)
{
	struct tam_entry *e = NULL;

	if (info->component.n)
		e = catalog_find_component(tam, &info->component);
	if (!e && info->manifest_component_id.n)
		e = catalog_find_manifest(tam, &info->manifest_component_id);
	return e;
}

/* Read and index one file. A file that cannot be used is skipped with a
 * warning rather than failing the whole TAM: the catalog is a test fixture
 * and one bad file should not hide the others. Only running out of memory
 * is fatal. */
static int catalog_add_file(struct tam_core *tam, const char *dir, const char *name)
{
	char path[PATH_MAX], why[160], comp[256], man[256];
	struct tam_entry e = {0};
	struct tam_entry *clash;
	struct stat st;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		tb_log(TB_LOG_WARN, "tam: catalog: %s: path too long, skipped", name);
		return TB_OK;
	}
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		tb_log(TB_LOG_WARN, "tam: catalog: %s: not a readable regular file, skipped", name);
		return TB_OK;
	}
	/* refuse before reading: the cap is what bounds our memory */
	if ((uint64_t)st.st_size > tam->max_manifest) {
		tb_log(TB_LOG_WARN, "tam: catalog: %s: %lld bytes, over the %zu-byte cap, refused",
		       name, (long long)st.st_size, tam->max_manifest);
		return TB_OK;
	}
	rc = tb_read_file(path, tam->max_manifest, &e.env, &e.env_len);
	if (rc == TB_ERR_NOMEM)
		return rc;
	if (rc != TB_OK) {
		tb_log(TB_LOG_WARN, "tam: catalog: %s: cannot read (%d), skipped", name, rc);
		return TB_OK;
	}
	why[0] = '\0';
	rc = tb_suit_info(e.env, e.env_len, &e.info, why, sizeof(why));
	if (rc == TB_ERR_NOMEM) {
		entry_clear(&e);
		return rc;
	}
	if (rc != TB_OK || (!e.info.component.n && !e.info.manifest_component_id.n)) {
		tb_log(TB_LOG_WARN, "tam: catalog: %s: not a usable SUIT envelope (%s), skipped",
		       name, rc != TB_OK ? why : "no component id");
		entry_clear(&e);
		return TB_OK;
	}
	e.file = strdup(name);
	if (!e.file) {
		entry_clear(&e);
		return TB_ERR_NOMEM;
	}
	tb_component_id_format(&e.info.component, comp, sizeof(comp));
	tb_component_id_format(&e.info.manifest_component_id, man, sizeof(man));

	clash = catalog_find_clash(tam, &e.info);
	if (clash) {
		struct tam_entry *loser = &e;

		if (e.info.sequence_number > clash->info.sequence_number) {
			struct tam_entry tmp = *clash;

			*clash = e;
			e = tmp;
		}
		tb_log(TB_LOG_WARN,
		       "tam: catalog: %s and %s name the same component; keeping %s (seq %llu)",
		       clash->file, loser->file, clash->file,
		       (unsigned long long)clash->info.sequence_number);
		entry_clear(&e);
		return TB_OK;
	}
	if (tam->n_catalog >= TAM_MAX_CATALOG) {
		tb_log(TB_LOG_WARN, "tam: catalog: more than %u envelopes, %s skipped",
		       TAM_MAX_CATALOG, name);
		entry_clear(&e);
		return TB_OK;
	}
	tb_log(TB_LOG_INFO, "tam: catalog: %s component=%s manifest=%s seq=%llu size=%zu", name,
	       e.info.component.n ? comp : "-", e.info.manifest_component_id.n ? man : "-",
	       (unsigned long long)e.info.sequence_number, e.env_len);
	tam->catalog[tam->n_catalog++] = e;
	return TB_OK;
}

static int catalog_load(struct tam_core *tam, const char *dir, char *err, size_t errlen)
{
	struct dirent **names = NULL;
	int n, rc = TB_OK;

	n = scandir(dir, &names, suit_name_filter, alphasort);
	if (n < 0) {
		set_err(err, errlen, "catalog %s: %s", dir, strerror(errno));
		return TB_ERR_IO;
	}
	/* the table never grows past the cap, whatever the directory holds */
	tam->catalog = calloc(n < (int)TAM_MAX_CATALOG ? (size_t)n + 1 : TAM_MAX_CATALOG,
	                      sizeof(*tam->catalog));
	if (!tam->catalog) {
		rc = TB_ERR_NOMEM;
		set_err(err, errlen, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		if (rc == TB_OK) {
			rc = catalog_add_file(tam, dir, names[i]->d_name);
			if (rc != TB_OK)
				set_err(err, errlen, "catalog %s: out of memory", dir);
		}
		free(names[i]);
	}
	free(names);
	if (rc == TB_OK && !tam->n_catalog)
		tb_log(TB_LOG_WARN, "tam: catalog %s holds no usable *.suit envelope", dir);
	return rc;
}

int tam_core_last_attestation(const struct tam_core *tam, char *why, size_t whylen)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", tam->last_why);
	return tam->last_status;
}

size_t tam_core_catalog_count(const struct tam_core *tam)
{
	return tam->n_catalog;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */
/* ------------------------------------------------------------------ */

static int check_conf(const struct tam_core_conf *conf, char *err, size_t errlen)
{
	if (!conf || !conf->signing_key || !conf->catalog_dir) {
		set_err(err, errlen, "signing key and catalog directory are required");
		return TB_ERR_INVAL;
	}
	if (!tb_key_has_private(conf->signing_key)) {
		set_err(err, errlen, "the TAM signing key has no private part");
		return TB_ERR_INVAL;
	}
	if (!conf->n_agent_keys || !conf->agent_keys) {
		set_err(err, errlen, "at least one trusted agent key is required");
		return TB_ERR_INVAL;
	}
	for (size_t i = 0; i < conf->n_agent_keys; i++) {
		if (!conf->agent_keys[i]) {
			set_err(err, errlen, "agent key %zu is missing", i + 1);
			return TB_ERR_INVAL;
		}
	}
	if (conf->numbering != TB_NUM_DRAFT26 && conf->numbering != TB_NUM_PRE26) {
		set_err(err, errlen, "unknown numbering");
		return TB_ERR_INVAL;
	}
	if (conf->first_message != TAM_FIRST_COSE_SIGN1 &&
	    conf->first_message != TAM_FIRST_COSE_SIGN) {
		set_err(err, errlen, "unknown first-message form");
		return TB_ERR_INVAL;
	}
	if (conf->max_tokens > TAM_MAX_TOKENS) {
		set_err(err, errlen, "max tokens %zu over the limit %u", conf->max_tokens,
		        TAM_MAX_TOKENS);
		return TB_ERR_INVAL;
	}
	return TB_OK;
}

int tam_core_create(const struct tam_core_conf *conf, struct tam_core **out, char *err,
                    size_t errlen)
{
	struct tam_core *tam;
	int rc;

	*out = NULL;
	rc = check_conf(conf, err, errlen);
	if (rc != TB_OK)
		return rc;
	tam = calloc(1, sizeof(*tam));
	if (!tam)
		goto nomem;
	tam->key = conf->signing_key;
	tam->num = conf->numbering;
	tam->first = conf->first_message;
	tam->push = conf->push;
	tam->n_push = conf->n_push;
	tam->no_token = conf->no_token;
	tam->attest = conf->attest;
	tam->attest_no_refusal = conf->attest_no_refusal;
	tam->ear_dir = conf->ear_dir;
	tam->max_body = conf->max_body ? conf->max_body : TAM_DEFAULT_MAX_BODY;
	tam->max_manifest = conf->max_manifest ? conf->max_manifest : TAM_DEFAULT_MAX_MANIFEST;
	tam->max_tokens = conf->max_tokens ? conf->max_tokens : TAM_DEFAULT_MAX_TOKENS;
	tam->lifetime_ms =
	    conf->token_lifetime_ms ? conf->token_lifetime_ms : TAM_DEFAULT_TOKEN_LIFETIME_MS;
	tam->now_ms = conf->now_ms ? conf->now_ms : default_now;
	tam->now_arg = conf->now_arg;

	tam->agent_keys = calloc(conf->n_agent_keys, sizeof(*tam->agent_keys));
	tam->tokens = calloc(tam->max_tokens, sizeof(*tam->tokens));
	if (!tam->agent_keys || !tam->tokens)
		goto nomem;
	memcpy(tam->agent_keys, conf->agent_keys, conf->n_agent_keys * sizeof(*tam->agent_keys));
	tam->n_agent_keys = conf->n_agent_keys;

	rc = tb_key_thumbprint(tam->key, tam->kid);
	if (rc != TB_OK) {
		set_err(err, errlen, "cannot compute the key thumbprint (%d)", rc);
		tam_core_free(tam);
		return rc;
	}
	rc = catalog_load(tam, conf->catalog_dir, err, errlen);
	if (rc != TB_OK) {
		tam_core_free(tam);
		return rc;
	}
	tb_log(TB_LOG_INFO,
	       "tam: ready: %zu catalog envelope(s), %zu agent key(s), numbering %s, "
	       "first message %s",
	       tam->n_catalog, tam->n_agent_keys, tam_numbering_name(tam->num),
	       tam_first_message_name(tam->first));
	*out = tam;
	return TB_OK;

nomem:
	tam_core_free(tam);
	set_err(err, errlen, "out of memory");
	return TB_ERR_NOMEM;
}

void tam_core_free(struct tam_core *tam)
{
	if (!tam)
		return;
	for (size_t i = 0; i < tam->n_catalog; i++)
		entry_clear(&tam->catalog[i]);
	free(tam->catalog);
	free(tam->tokens);
	free(tam->agent_keys);
	free(tam);
}

const struct tam_counters *tam_core_counters(const struct tam_core *tam)
{
	return &tam->cnt;
}

/* ------------------------------------------------------------------ */
/* Outgoing messages                                                   */
/* ------------------------------------------------------------------ */

/* Encode m and sign it with the TAM key: a COSE_Sign1, or a COSE_Sign when
 * multi is set. The algorithm identifier follows the numbering: peers of
 * the older drafts expect ES256, draft-26 ESP256.
 *
 * The draft wants the COSE_Sign of a first QueryRequest to carry one
 * signature per cipher suite the QueryRequest offers (ESP256 and Ed25519).
 * mbedtls 2.28 has no Ed25519, so ours carries the ESP256 (or ES256)
 * signature only: an Agent with Ed25519 alone cannot verify it. */
static int sign_message(const struct tam_core *tam, const struct tb_teep_msg *m, int multi,
                        uint8_t **out, size_t *out_len)
{
	int alg = tam->num == TB_NUM_PRE26 ? TB_COSE_ALG_ES256 : TB_COSE_ALG_ESP256;
	const struct tb_key *signer = tam->key;
	uint8_t *payload = NULL;
	size_t plen = 0;
	int rc;

	rc = tb_teep_encode(m, tam->num, &payload, &plen);
	if (rc != TB_OK) {
		tb_log(TB_LOG_ERR, "tam: cannot encode %s (%d)", tb_teep_type_name(m->type), rc);
		return rc;
	}
	if (multi)
		rc = tb_cose_sign_multi(key_list(&signer), &alg, 1, payload, plen, out, out_len);
	else
		rc = tb_cose_sign1(tam->key, alg, payload, plen, 0, tam->kid, sizeof(tam->kid), out,
		                   out_len);
	free(payload);
	if (rc != TB_OK)
		tb_log(TB_LOG_ERR, "tam: cannot sign %s (%d)", tb_teep_type_name(m->type), rc);
	return rc;
}

/* A fresh token, copied into m (which owns it from then on). */
static int new_token(struct tb_teep_msg *m, uint8_t id[TAM_TOKEN_LEN])
{
	int rc = random_bytes(id, TAM_TOKEN_LEN);

	if (rc != TB_OK) {
		tb_log(TB_LOG_ERR, "tam: no random bytes for a token: %s", strerror(errno));
		return rc;
	}
	m->token.ptr = malloc(TAM_TOKEN_LEN);
	if (!m->token.ptr)
		return TB_ERR_NOMEM;
	memcpy(m->token.ptr, id, TAM_TOKEN_LEN);
	m->token.len = TAM_TOKEN_LEN;
	return TB_OK;
}

int tam_core_connect(struct tam_core *tam, uint8_t **out, size_t *out_len)
{
	struct tb_teep_msg m = {0};
	uint8_t id[TAM_TOKEN_LEN];
	char tr[16];
	int rc;

	*out = NULL;
	*out_len = 0;
	m.type = TB_TEEP_QUERY_REQUEST;
	m.data_item_requested = TB_TEEP_DIR_TRUSTED_COMPONENTS;
	/* cipher_suites_cbor left empty: the encoder offers the default suites */
	if (tam->attest) {
		/* a challenge instead of a token: the Evidence's eat_nonce
		 * ties the QueryResponse to this request */
		m.data_item_requested |= TB_TEEP_DIR_ATTESTATION;
		rc = new_token(&m, id);
		m.challenge = m.token;
		m.token.ptr = NULL;
		m.token.len = 0;
	} else {
		rc = tam->no_token ? TB_OK : new_token(&m, id);
	}
	if (rc == TB_OK)
		rc = sign_message(tam, &m, tam->first == TAM_FIRST_COSE_SIGN, out, out_len);
	tb_teep_msg_clear(&m);
	if (rc != TB_OK)
		return rc;
	/* remembered only once it is sure to be sent */
	if (tam->attest)
		token_remember(tam, id, TOKEN_CHALLENGE);
	else if (!tam->no_token)
		token_remember(tam, id, TOKEN_QUERY);
	tam->cnt.connects++;
	if (tam->attest) {
		token_trace(id, sizeof(id), tr);
		tb_log(TB_LOG_NOTICE, "tam: -> QueryRequest challenge=%s (attestation)%s", tr,
		       tam->first == TAM_FIRST_COSE_SIGN ? " (COSE_Sign)" : "");
		return TB_OK;
	}
	if (tam->no_token)
		snprintf(tr, sizeof(tr), "none");
	else
		token_trace(id, sizeof(id), tr);
	tb_log(TB_LOG_NOTICE, "tam: -> QueryRequest token=%s%s", tr,
	       tam->first == TAM_FIRST_COSE_SIGN ? " (COSE_Sign)" : "");
	return TB_OK;
}

/* ------------------------------------------------------------------ */
/* Incoming messages                                                   */
/* ------------------------------------------------------------------ */

/* Collect the catalog entries an Update must carry. Each entry at most once,
 * whatever the Agent repeats. */
struct update_plan {
	struct tam_entry *install[TB_TEEP_MAX_LIST];
	size_t n_install;
	size_t install_bytes;
	struct tam_entry *unlink[TB_TEEP_MAX_LIST];
	size_t n_unlink;
};

static int plan_has(struct tam_entry *const *list, size_t n, const struct tam_entry *e)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == e)
			return 1;
	return 0;
}

static int plan_add(struct update_plan *p, struct tam_entry *e)
{
	if (plan_has(p->install, p->n_install, e))
		return 1;
	if (p->n_install >= TB_TEEP_MAX_LIST)
		return 0;
	/* the Update is built in memory: keep it bounded */
	if (e->env_len > TAM_MAX_UPDATE - p->install_bytes) {
		tb_log(TB_LOG_NOTICE, "tam: %s left out: the Update would exceed %u bytes", e->file,
		       TAM_MAX_UPDATE);
		return 0;
	}
	p->install[p->n_install++] = e;
	p->install_bytes += e->env_len;
	return 1;
}

static int in_tc_list(const struct tb_teep_msg *qr, const struct tb_component_id *c)
{
	for (size_t i = 0; i < qr->n_tc_list; i++)
		if (tb_component_id_equal(&qr->tc_list[i], c))
			return 1;
	return 0;
}

/* A manifest that depends on another (personalization data on its TA)
 * brings that one along, ahead of it, unless the Agent reports the
 * dependency's component installed. One level: the catalog's dependencies
 * have no dependencies of their own (others are logged and left to the
 * Agent to refuse). */
static void plan_dependency(struct tam_core *tam, const struct tb_teep_msg *qr,
                            struct update_plan *p, const struct tam_entry *e)
{
	struct tam_entry *d;
	char name[256];

	if (!e->info.dependency.n)
		return;
	d = catalog_find_manifest(tam, &e->info.dependency);
	if (!d) {
		tb_component_id_format(&e->info.dependency, name, sizeof(name));
		tb_log(TB_LOG_NOTICE, "tam: %s depends on %s, which is not in the catalog", e->file,
		       name);
		return;
	}
	if (in_tc_list(qr, &d->info.component))
		return;
	if (d->info.dependency.n)
		tb_log(TB_LOG_NOTICE, "tam: %s: dependencies of dependencies are not sent",
		       d->file);
	if (plan_add(p, d))
		tb_log(TB_LOG_INFO, "tam: %s added as the dependency of %s", d->file, e->file);
}

static void plan_update(struct tam_core *tam, const struct tb_teep_msg *qr, struct update_plan *p)
{
	char name[256];

	for (size_t i = 0; i < qr->n_requested_tc_list; i++) {
		struct tam_entry *e = catalog_find_component(tam, &qr->requested_tc_list[i]);

		if (!e) {
			tb_component_id_format(&qr->requested_tc_list[i], name, sizeof(name));
			tb_log(TB_LOG_NOTICE, "tam: requested component %s is not in the catalog",
			       name);
			tam->cnt.unknown_components++;
			continue;
		}
		plan_dependency(tam, qr, p, e);
		plan_add(p, e);
	}
	for (size_t i = 0; i < tam->n_push; i++) {
		struct tam_entry *e = catalog_find_component(tam, &tam->push[i]);

		tb_component_id_format(&tam->push[i], name, sizeof(name));
		if (!e) {
			tb_log(TB_LOG_NOTICE, "tam: pushed component %s is not in the catalog",
			       name);
			tam->cnt.unknown_components++;
			continue;
		}
		if (in_tc_list(qr, &e->info.component))
			continue;
		plan_dependency(tam, qr, p, e);
		if (plan_add(p, e))
			tb_log(TB_LOG_INFO, "tam: %s pushed (%s)", e->file, name);
	}
	for (size_t i = 0; i < qr->n_unneeded_manifest_list; i++) {
		struct tam_entry *e = catalog_find_manifest(tam, &qr->unneeded_manifest_list[i]);

		if (!e) {
			tb_component_id_format(&qr->unneeded_manifest_list[i], name, sizeof(name));
			tb_log(TB_LOG_NOTICE, "tam: unneeded manifest %s is not in the catalog",
			       name);
			continue;
		}
		if (!plan_has(p->unlink, p->n_unlink, e) && p->n_unlink < TB_TEEP_MAX_LIST)
			p->unlink[p->n_unlink++] = e;
	}
}

/* Fill an Update from the plan. The message owns copies of everything, so
 * tb_teep_msg_clear() releases it on every path. */
static int build_update(const struct update_plan *p, struct tb_teep_msg *m)
{
	m->type = TB_TEEP_UPDATE;
	if (p->n_install) {
		m->manifest_list = calloc(p->n_install, sizeof(*m->manifest_list));
		if (!m->manifest_list)
			return TB_ERR_NOMEM;
		for (size_t i = 0; i < p->n_install; i++) {
			struct tb_buf *b = &m->manifest_list[i];

			b->ptr = malloc(p->install[i]->env_len);
			if (!b->ptr)
				return TB_ERR_NOMEM;
			memcpy(b->ptr, p->install[i]->env, p->install[i]->env_len);
			b->len = p->install[i]->env_len;
			m->n_manifest_list++;
		}
	}
	if (p->n_unlink) {
		m->unneeded_manifest_list = calloc(p->n_unlink, sizeof(*m->unneeded_manifest_list));
		if (!m->unneeded_manifest_list)
			return TB_ERR_NOMEM;
		for (size_t i = 0; i < p->n_unlink; i++) {
			int rc = tb_component_id_copy(&m->unneeded_manifest_list[i],
			                              &p->unlink[i]->info.manifest_component_id);
			if (rc != TB_OK)
				return rc;
			m->n_unneeded_manifest_list++;
		}
	}
	return TB_OK;
}

static int take_challenge(void *arg, const uint8_t *nonce, size_t len)
{
	struct tam_core *tam = arg;
	struct tb_buf b = {(uint8_t *)(uintptr_t)nonce, len};

	return token_take(tam, &b) == TOKEN_CHALLENGE;
}

/* Whether alg is the algorithm in the protected header {1: alg} of a
 * signature of a COSE_Sign1 or COSE_Sign (tagged or not). The message was
 * verified before; anything unreadable is no match. */
static int alg_in_protected(const cbor_item_t *bstr, int64_t alg)
{
	const uint8_t *p;
	size_t n;
	int64_t got;
	cbor_item_t *h, *v;
	int ok = 0;

	if (tb_cbor_get_bytes(bstr, &p, &n) != TB_OK || !n)
		return 0;
	h = tb_cbor_load(p, n, NULL);
	if (h && cbor_isa_map(h) && (v = tb_cbor_map_get_int(h, 1)) &&
	    tb_cbor_get_int(v, &got) == TB_OK)
		ok = got == alg;
	if (h)
		cbor_decref(&h);
	return ok;
}

static int signed_with_alg(const uint8_t *body, size_t len, int64_t alg)
{
	cbor_item_t *top = tb_cbor_load(body, len, NULL), *arr, *sigs;
	int ok = 0;

	if (!top)
		return 0;
	arr = cbor_isa_tag(top) ? cbor_tag_item(top) : cbor_incref(top);
	if (arr && cbor_isa_array(arr) && cbor_array_size(arr) == 4) {
		sigs = cbor_array_handle(arr)[3];
		if (cbor_isa_bytestring(sigs)) {
			ok = alg_in_protected(cbor_array_handle(arr)[0], alg);
		} else if (cbor_isa_array(sigs)) {
			for (size_t i = 0; !ok && i < cbor_array_size(sigs); i++) {
				cbor_item_t *sg = cbor_array_handle(sigs)[i];
				ok = cbor_isa_array(sg) && cbor_array_size(sg) == 3 &&
				     alg_in_protected(cbor_array_handle(sg)[0], alg);
			}
		}
	}
	if (arr)
		cbor_decref(&arr);
	cbor_decref(&top);
	return ok;
}

/* The cnf of the Evidence must be the key that signed the QueryResponse,
 * with the algorithm it signed with (draft-26 section 5: the COSE_Key
 * includes its alg): otherwise Evidence from one Agent could vouch for
 * another. Returns NULL when it is, else why not. */
static const char *cnf_signed(struct tam_core *tam, const struct tb_eat_claims *c,
                              const uint8_t *body, size_t len)
{
	uint8_t x[32], y[32];

	if (!c->cnf_alg)
		return "cnf has no alg";
	for (size_t i = 0; i < tam->n_agent_keys; i++) {
		struct tb_key *k = (struct tb_key *)(uintptr_t)tam->agent_keys[i];
		if (tb_key_public_xy(k, x, y) == TB_OK && memcmp(x, c->cnf_x, 32) == 0 &&
		    memcmp(y, c->cnf_y, 32) == 0) {
			if (tb_cose_verify_any(body, len, &k, 1, NULL, NULL) != TB_OK)
				break;
			return signed_with_alg(body, len, c->cnf_alg)
			           ? NULL
			           : "cnf's alg is not the one the QueryResponse is signed with";
		}
	}
	return "cnf is not the key that signed the QueryResponse";
}

/* Keep the device's latest signed EAR in the ear_dir, named by its ueid,
 * for a Relying Party (docs/reference-tam.md). A failure is logged only:
 * the exchange with the Agent goes on. */
static void keep_ear(struct tam_core *tam, const struct tb_ear *ear, const uint8_t *tok, size_t len)
{
	char id[2 * TB_EAT_UEID_MAX + 1], path[PATH_MAX];
	int n;

	if (!tam->ear_dir || !ear->ueid_len)
		return;
	tb_hex_encode(ear->ueid, ear->ueid_len, id);
	n = snprintf(path, sizeof(path), "%s/%s.ear", tam->ear_dir, id);
	if (n < 0 || (size_t)n >= sizeof(path) || tb_write_file(path, tok, len) != TB_OK) {
		tb_log(TB_LOG_WARN, "tam: cannot write the attestation result %s/%s.ear",
		       tam->ear_dir, id);
		return;
	}
	tb_log(TB_LOG_NOTICE, "tam: attestation result of device %s kept in %s", id, path);
}

/* Appraise the Evidence of a QueryResponse; the signed EAR goes into the
 * answer. Returns TB_OK with *affirming set, or an error. */
static int appraise(struct tam_core *tam, const struct tb_teep_msg *qr, const uint8_t *body,
                    size_t len, struct tb_teep_msg *answer, int *affirming)
{
	int alg = tam->num == TB_NUM_PRE26 ? TB_COSE_ALG_ES256 : TB_COSE_ALG_ESP256;
	struct tb_eat_claims c;
	struct tb_ear ear;
	const char *cnf_why;
	char why[160];
	uint8_t *tok = NULL;
	size_t tlen = 0;
	int rc;

	rc = tam_appraise(tam->attest, qr->attestation_payload_format, qr->attestation_payload.ptr,
	                  qr->attestation_payload.len, take_challenge, tam, (int64_t)time(NULL), &c,
	                  &ear, why, sizeof(why));
	if (rc != TB_OK)
		return rc;
	if (c.has_cnf && ear.tv[TB_TV_INSTANCE_IDENTITY] == TB_AR4SI_TRUSTWORTHY_INSTANCE &&
	    (cnf_why = cnf_signed(tam, &c, body, len))) {
		ear.tv[TB_TV_INSTANCE_IDENTITY] = TB_AR4SI_UNTRUSTWORTHY_INSTANCE;
		ear.status = tb_ear_status_of(ear.tv);
		snprintf(why, sizeof(why), "%s", cnf_why);
	}
	*affirming = ear.status == TB_EAR_AFFIRMING;
	tb_log(TB_LOG_NOTICE,
	       "tam: attestation result: %s (instance-identity=%d hardware=%d executables=%d)%s%s",
	       tb_ear_tier_name(ear.status), ear.tv[TB_TV_INSTANCE_IDENTITY],
	       ear.tv[TB_TV_HARDWARE], ear.tv[TB_TV_EXECUTABLES], why[0] ? ": " : "", why);
	tam->last_status = ear.status;
	snprintf(tam->last_why, sizeof(tam->last_why), "%s", why);
	rc = tb_ear_sign(tam->key, alg, &ear, &tok, &tlen);
	if (rc != TB_OK)
		return rc;
	/* kept only for an instance the Evidence identified: signed by a
	 * trusted key, bound to a challenge of this TAM, the cnf its own. A
	 * replayed or forged token names a device it cannot speak for, and
	 * must not replace that device's result. */
	if (ear.tv[TB_TV_INSTANCE_IDENTITY] == TB_AR4SI_TRUSTWORTHY_INSTANCE)
		keep_ear(tam, &ear, tok, tlen);
	answer->attestation_payload.ptr = tok;
	answer->attestation_payload.len = tlen;
	answer->attestation_payload_format = strdup(TB_EAR_FORMAT);
	if (!answer->attestation_payload_format)
		return TB_ERR_NOMEM;
	if (!*affirming) {
		char msg[TB_TEEP_MSG_MAX + 1];
		snprintf(msg, sizeof(msg), "attestation %s: %.90s", tb_ear_tier_name(ear.status),
		         why[0] ? why : "not affirming");
		answer->err_msg = strdup(msg);
		answer->err_code = qr->attestation_payload.len ? TB_TEEP_ERR_PERMANENT
		                                               : TB_TEEP_ERR_ATTESTATION_REQUIRED;
		if (!answer->err_msg)
			return TB_ERR_NOMEM;
	}
	return TB_OK;
}

static int on_query_response(struct tam_core *tam, const struct tb_teep_msg *qr,
                             const uint8_t *body, size_t len, uint8_t **out, size_t *out_len)
{
	struct update_plan plan = {0};
	struct tb_teep_msg upd = {0};
	uint8_t id[TAM_TOKEN_LEN];
	char req[512], unneeded[512], tr[16];
	int rc, affirming = 1;

	tam->cnt.query_responses++;
	format_ids(qr->requested_tc_list, qr->n_requested_tc_list, req, sizeof(req));
	format_ids(qr->unneeded_manifest_list, qr->n_unneeded_manifest_list, unneeded,
	           sizeof(unneeded));
	tb_log(TB_LOG_NOTICE,
	       "tam: <- QueryResponse requested=%s unneeded=%s installed=%zu evidence=%zu", req,
	       unneeded, qr->n_tc_list, qr->attestation_payload.len);

	if (tam->attest) {
		upd.type = TB_TEEP_UPDATE;
		rc = appraise(tam, qr, body, len, &upd, &affirming);
		if (rc != TB_OK) {
			tb_teep_msg_clear(&upd);
			return rc;
		}
		tam->cnt.attest_affirming += affirming;
		tam->cnt.attest_refused += !affirming;
	}
	if (!affirming && tam->attest_no_refusal) {
		tb_log(TB_LOG_NOTICE, "tam: no Update: the attestation result is not affirming");
		tb_teep_msg_clear(&upd);
		return TB_OK;
	}
	if (affirming)
		plan_update(tam, qr, &plan);
	if (affirming && !plan.n_install && !plan.n_unlink) {
		tb_log(TB_LOG_NOTICE, "tam: nothing to update");
		tb_teep_msg_clear(&upd);
		return TB_OK;
	}
	/* not affirming: an Update with err-code and no manifest, so the
	 * Agent learns why nothing comes (draft-26 section 4.4) */
	rc = build_update(&plan, &upd);
	if (rc == TB_OK && !tam->no_token)
		rc = new_token(&upd, id);
	if (rc == TB_OK)
		rc = sign_message(tam, &upd, 0, out, out_len);
	tb_teep_msg_clear(&upd);
	if (rc != TB_OK)
		return rc;
	if (!tam->no_token)
		token_remember(tam, id, TOKEN_UPDATE);
	tam->cnt.updates++;
	if (tam->no_token)
		snprintf(tr, sizeof(tr), "none");
	else
		token_trace(id, sizeof(id), tr);
	tb_log(TB_LOG_NOTICE, "tam: -> Update manifests=%zu unneeded=%zu token=%s%s",
	       plan.n_install, plan.n_unlink, tr, affirming ? "" : " (refused: err-code only)");
	return TB_OK;
}

/* The SUIT Reports of a Success or an Error say what the Agent installed,
 * or where a manifest failed (lib/tb_suit_report.h); logged, at most
 * TAM_REPORTS_LOGGED of them. */
#define TAM_REPORTS_LOGGED 16
static void log_reports(struct tam_core *tam, const struct tb_teep_msg *m)
{
	char digest[17], image[17], comp[256], uri[TB_SUIT_FAIL_URI_MAX + 1];
	struct tb_suit_report r;

	for (size_t i = 0; i < m->n_suit_reports && i < TAM_REPORTS_LOGGED; i++) {
		const struct tam_entry *e = NULL;

		if (tb_suit_report_decode(m->suit_reports[i].ptr, m->suit_reports[i].len, &r) !=
		    TB_OK) {
			tb_log(TB_LOG_NOTICE, "tam: <- SUIT report %zu: not one this TAM reads", i);
			continue;
		}
		for (size_t k = 0; k < tam->n_catalog && !e; k++)
			if (memcmp(tam->catalog[k].info.manifest_digest, r.manifest_digest, 32) ==
			    0)
				e = &tam->catalog[k];
		if (e)
			tb_component_id_format(&e->info.component, comp, sizeof(comp));
		else
			snprintf(comp, sizeof(comp), "%s", "(not in the catalog)");
		tb_hex_encode(r.manifest_digest, 8, digest);
		if (r.ok) {
			if (r.has_image)
				tb_hex_encode(r.image_digest, 8, image);
			else
				snprintf(image, sizeof(image), "%s", "-");
			tb_log(TB_LOG_NOTICE,
			       "tam: <- SUIT report: installed %s manifest=%s.. image=%s.. "
			       "size=%llu",
			       comp, digest, image, (unsigned long long)r.image_size);
		} else {
			sanitize_text(r.uri, uri, sizeof(uri));
			tb_log(TB_LOG_NOTICE,
			       "tam: <- SUIT report: failed %s manifest=%s.. command=%lld "
			       "section=%lld offset=%llu component-index=%llu reason=%lld%s%s",
			       comp, digest, (long long)r.result_code, (long long)r.section,
			       (unsigned long long)r.offset, (unsigned long long)r.component_index,
			       (long long)r.reason, uri[0] ? " uri=" : "", uri);
		}
	}
}

static void on_success(struct tam_core *tam, const struct tb_teep_msg *m)
{
	char text[TB_TEEP_MSG_MAX + 1];

	tam->cnt.successes++;
	if (m->msg) {
		sanitize_text(m->msg, text, sizeof(text));
		tb_log(TB_LOG_NOTICE, "tam: <- Success msg=\"%s\"", text);
	} else {
		tb_log(TB_LOG_NOTICE, "tam: <- Success");
	}
	log_reports(tam, m);
}

static void on_error(struct tam_core *tam, const struct tb_teep_msg *m)
{
	char text[TB_TEEP_MSG_MAX + 1];

	tam->cnt.errors++;
	sanitize_text(m->err_msg ? m->err_msg : "", text, sizeof(text));
	tb_log(TB_LOG_NOTICE, "tam: <- Error err-code=%llu err-msg=\"%s\"",
	       (unsigned long long)m->err_code, text);
	log_reports(tam, m);
}

/* A COSE_Sign1 or COSE_Sign that one trusted Agent key verifies. TB_OK
 * with the payload, TB_ERR_NOMEM, or another code meaning "drop it"
 * (reason in why). */
static int verify_any(struct tam_core *tam, const uint8_t *body, size_t len, uint8_t **payload,
                      size_t *plen, const char **why)
{
	int rc = tb_cose_verify_any(body, len, key_list(tam->agent_keys), tam->n_agent_keys,
	                            payload, plen);

	if (rc == TB_OK || rc == TB_ERR_NOMEM)
		return rc;
	if (rc == TB_ERR_SIG) {
		*why = "no trusted agent key verifies the signature";
		tam->cnt.drop_bad_signature++;
		return rc;
	}
	*why = rc == TB_ERR_UNSUP    ? "unsupported COSE algorithm"
	       : rc == TB_ERR_TOOBIG ? "too many COSE signatures"
	                             : "not a COSE_Sign1 or COSE_Sign";
	tam->cnt.drop_bad_cose++;
	return rc;
}

/* Which message types may answer a token of this kind. */
static int answers_kind(enum tb_teep_type type, enum tam_token_kind kind)
{
	switch (type) {
	case TB_TEEP_QUERY_RESPONSE:
		return kind == TOKEN_QUERY;
	case TB_TEEP_SUCCESS:
		return kind == TOKEN_UPDATE;
	case TB_TEEP_ERROR:
		return kind == TOKEN_QUERY || kind == TOKEN_UPDATE;
	default:
		return 0;
	}
}

static void drop(const char *what, const char *why)
{
	tb_log(TB_LOG_WARN, "tam: drop %s: %s", what, why);
}

int tam_core_message(struct tam_core *tam, const uint8_t *body, size_t len, uint8_t **out,
                     size_t *out_len)
{
	struct tb_teep_msg m = {0};
	enum tam_token_kind kind;
	uint8_t *payload = NULL;
	size_t plen = 0;
	const char *why = "";
	char reason[160];
	const char *name;
	int rc;

	*out = NULL;
	*out_len = 0;
	if (len > tam->max_body) {
		tam->cnt.drop_too_big++;
		drop("message", "larger than the body limit");
		return TB_OK;
	}
	/* signature first: nothing of an unverified message is trusted */
	rc = verify_any(tam, body, len, &payload, &plen, &why);
	if (rc == TB_ERR_NOMEM)
		return rc;
	if (rc != TB_OK) {
		drop("message", why);
		return TB_OK;
	}
	reason[0] = '\0';
	rc = tb_teep_decode(payload, plen, tam->num, &m, reason, sizeof(reason));
	free(payload);
	if (rc == TB_ERR_NOMEM) {
		tb_teep_msg_clear(&m);
		return rc;
	}
	if (rc != TB_OK) {
		tam->cnt.drop_bad_message++;
		drop("signed message", reason[0] ? reason : "not a valid TEEP message");
		tb_teep_msg_clear(&m);
		return TB_OK;
	}
	name = tb_teep_type_name(m.type);
	if (m.type != TB_TEEP_QUERY_RESPONSE && m.type != TB_TEEP_SUCCESS &&
	    m.type != TB_TEEP_ERROR) {
		tam->cnt.drop_unexpected++;
		drop(name, "a TAM does not accept this message type");
		tb_teep_msg_clear(&m);
		return TB_OK;
	}
	/* The token is retired by the first validly signed message carrying
	 * it, whatever follows: a replay of it is then always dropped. */
	if (tam->attest && !m.token.len && m.type == TB_TEEP_QUERY_RESPONSE)
		/* matched by its Evidence's nonce during the appraisal */
		kind = TOKEN_QUERY;
	else if (tam->no_token && !m.token.len)
		/* nothing to match: the type says what it answers */
		kind = m.type == TB_TEEP_SUCCESS ? TOKEN_UPDATE : TOKEN_QUERY;
	else
		kind = token_take(tam, &m.token);
	if (kind == TOKEN_FREE) {
		tam->cnt.drop_unknown_token++;
		drop(name, m.token.len ? "token unknown, already used or expired"
		                       : "no token (the TAM always sends one)");
		tb_teep_msg_clear(&m);
		return TB_OK;
	}
	if (!answers_kind(m.type, kind)) {
		tam->cnt.drop_unexpected++;
		drop(name, kind == TOKEN_QUERY ? "token belongs to a QueryRequest"
		                               : "token belongs to an Update");
		tb_teep_msg_clear(&m);
		return TB_OK;
	}
	rc = TB_OK;
	switch (m.type) {
	case TB_TEEP_QUERY_RESPONSE:
		rc = on_query_response(tam, &m, body, len, out, out_len);
		break;
	case TB_TEEP_SUCCESS:
		on_success(tam, &m);
		break;
	default:
		on_error(tam, &m);
		break;
	}
	tb_teep_msg_clear(&m);
	return rc;
}

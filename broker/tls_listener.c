/*
 * wss:// on the app listener (tls_listener.h).
 */
#include "config.h"
#include "tls_listener.h"
#include "broker.h"
#include "tb_log.h"

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TLS 1.2: forward secrecy and AEAD only (TLS 1.3's own suites are all of
 * that kind and keep OpenSSL's defaults). */
#define TB_LTLS_CIPHERS                                                                            \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tb_listener_tls {
	SSL_CTX *ctx; /* the vhost's: lws owns it */
	/* what the next handshake gets (the certificate callback) */
	X509 *cert;
	STACK_OF(X509) * chain;
	EVP_PKEY *key;
	char fingerprint[65];
};

/* One load of the files, before it is used. */
struct material {
	X509 *cert;
	STACK_OF(X509) * chain;
	EVP_PKEY *key;
	X509_STORE *store;              /* tls_ca; NULL without */
	STACK_OF(X509_NAME) * ca_names; /* sent in the CertificateRequest */
};

static void material_free(struct material *m)
{
	X509_free(m->cert);
	sk_X509_pop_free(m->chain, X509_free);
	EVP_PKEY_free(m->key);
	X509_STORE_free(m->store);
	sk_X509_NAME_pop_free(m->ca_names, X509_NAME_free);
	memset(m, 0, sizeof(*m));
}

static int fail(char *err, size_t errlen, enum tb_ltls_key *which, enum tb_ltls_key key,
                const char *path, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[160] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s%s%s", path, what, e ? " (" : "", e ? buf : "");
	if (e && strlen(err) + 2 <= errlen)
		strcat(err, ")");
	ERR_clear_error();
	if (which)
		*which = key;
	return -1;
}

static int load_chain(const char *path, struct material *m, char *err, size_t errlen,
                      enum tb_ltls_key *which)
{
	BIO *bio = BIO_new_file(path, "r");
	if (!bio)
		return fail(err, errlen, which, TB_LTLS_CERT, path, "cannot read tls_cert");
	m->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (!m->cert) {
		BIO_free(bio);
		return fail(err, errlen, which, TB_LTLS_CERT, path,
		            "tls_cert holds no PEM certificate");
	}
	m->chain = sk_X509_new_null();
	if (!m->chain) {
		BIO_free(bio);
		return fail(err, errlen, which, TB_LTLS_CERT, path, "out of memory");
	}
	/* the rest of the file: the intermediate CAs, in order (bounded: a
	 * chain longer than this is a mistake) */
	for (int i = 0; i < 16; i++) {
		X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (!x)
			break;
		if (!sk_X509_push(m->chain, x)) {
			X509_free(x);
			BIO_free(bio);
			return fail(err, errlen, which, TB_LTLS_CERT, path, "out of memory");
		}
	}
	BIO_free(bio);
	ERR_clear_error(); /* the end of the file reads as "no start line" */
	return 0;
}

static int load_material(const struct tb_conf_listener *l, struct material *m, char *err,
                         size_t errlen, enum tb_ltls_key *which)
{
	memset(m, 0, sizeof(*m));
	ERR_clear_error();
	if (load_chain(l->tls_cert, m, err, errlen, which))
		goto bad;
	BIO *bio = BIO_new_file(l->tls_key, "r");
	if (!bio) {
		fail(err, errlen, which, TB_LTLS_KEY, l->tls_key, "cannot read tls_key");
		goto bad;
	}
	m->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!m->key) {
		fail(err, errlen, which, TB_LTLS_KEY, l->tls_key,
		     "tls_key holds no PEM private key");
		goto bad;
	}
	if (X509_check_private_key(m->cert, m->key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: tls_key is not the key of the certificate in %s",
		         l->tls_key, l->tls_cert);
		if (which)
			*which = TB_LTLS_KEY;
		goto bad;
	}
	if (l->tls_ca) {
		m->store = X509_STORE_new();
		if (!m->store) {
			fail(err, errlen, which, TB_LTLS_CA, l->tls_ca, "out of memory");
			goto bad;
		}
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
		int ok = X509_STORE_load_file(m->store, l->tls_ca);
#else
		int ok = X509_STORE_load_locations(m->store, l->tls_ca, NULL);
#endif
		if (ok != 1) {
			fail(err, errlen, which, TB_LTLS_CA, l->tls_ca,
			     "cannot load the CAs of tls_ca");
			goto bad;
		}
		m->ca_names = SSL_load_client_CA_file(l->tls_ca);
		if (!m->ca_names) {
			fail(err, errlen, which, TB_LTLS_CA, l->tls_ca,
			     "tls_ca holds no PEM certificate");
			goto bad;
		}
	}
	return 0;
bad:
	material_free(m);
	return -1;
}

int tb_listener_tls_check(const struct tb_conf_listener *l, char *err, size_t errlen,
                          enum tb_ltls_key *which)
{
	struct material m;
	if (!l->tls_cert)
		return 0;
	if (load_material(l, &m, err, errlen, which))
		return -1;
	material_free(&m);
	return 0;
}

/* Each handshake gets the certificate loaded last. */
static int cert_cb(SSL *ssl, void *arg)
{
	struct tb_listener_tls *t = arg;
	if (!t->cert || SSL_use_certificate(ssl, t->cert) != 1 ||
	    SSL_use_PrivateKey(ssl, t->key) != 1 || SSL_set1_chain(ssl, t->chain) != 1)
		return 0; /* the handshake fails */
	return 1;
}

static void install(struct tb_listener_tls *t, struct material *m)
{
	unsigned char md[32];
	unsigned int n = 0;

	X509_free(t->cert);
	sk_X509_pop_free(t->chain, X509_free);
	EVP_PKEY_free(t->key);
	t->cert = m->cert;
	t->chain = m->chain;
	t->key = m->key;
	m->cert = NULL;
	m->chain = NULL;
	m->key = NULL;
	t->fingerprint[0] = '\0';
	if (X509_digest(t->cert, EVP_sha256(), md, &n) == 1)
		for (unsigned i = 0; i < n && i < 32; i++)
			snprintf(t->fingerprint + 2 * i, 3, "%02x", md[i]);
	if (m->store) {
		SSL_CTX_set_cert_store(t->ctx, m->store); /* frees the one before */
		SSL_CTX_set_client_CA_list(t->ctx, m->ca_names);
		m->store = NULL;
		m->ca_names = NULL;
	}
	material_free(m);
}

int tb_listener_tls_on_ctx(struct tb_broker *b, void *ssl_ctx)
{
	if (!b->conf.listener.tls_cert || b->ua_tls)
		return 0;
	b->ua_tls = calloc(1, sizeof(*b->ua_tls));
	if (b->ua_tls)
		b->ua_tls->ctx = ssl_ctx;
	return 0;
}

int tb_listener_tls_setup(struct tb_broker *b, char *err, size_t errlen, enum tb_ltls_key *which)
{
	const struct tb_conf_listener *l = &b->conf.listener;
	struct tb_listener_tls *t = b->ua_tls;
	struct material m;
	static const int modes[] = {
	    [TB_TLS_VERIFY_NONE] = SSL_VERIFY_NONE,
	    [TB_TLS_VERIFY_OPTIONAL] = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE,
	    [TB_TLS_VERIFY_REQUIRED] =
	        SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE,
	};

	*which = TB_LTLS_NONE;
	if (!l->tls_cert)
		return 0;
	if (!t || !t->ctx) {
		snprintf(err, errlen, "libwebsockets made no TLS context for the listener");
		return -1;
	}
	if (load_material(l, &m, err, errlen, which))
		return -1;
	SSL_CTX *c = t->ctx;
	if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(c, TB_LTLS_CIPHERS) != 1) {
		material_free(&m);
		return fail(err, errlen, which, TB_LTLS_NONE, "[listener]",
		            "cannot set the TLS versions and ciphers");
	}
	SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                           SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(c, 0);
	SSL_CTX_set_verify(c, modes[l->tls_verify_client], NULL);
	SSL_CTX_set_verify_depth(c, 8);
	SSL_CTX_set_cert_cb(c, cert_cb, t);
	install(t, &m);
	tb_log(TB_LOG_NOTICE, "listener: wss:// with %s (sha256 %s)%s%s", l->tls_cert,
	       t->fingerprint,
	       l->tls_verify_client == TB_TLS_VERIFY_REQUIRED   ? ", client certificates required"
	       : l->tls_verify_client == TB_TLS_VERIFY_OPTIONAL ? ", client certificates optional"
	                                                        : "",
	       "");
	return 0;
}

struct tb_ltls_material {
	struct material m;
};

int tb_listener_tls_load(const struct tb_conf_listener *l, struct tb_ltls_material **out, char *err,
                         size_t errlen)
{
	struct tb_ltls_material *lm;

	*out = NULL;
	if (!l->tls_cert)
		return 0;
	lm = calloc(1, sizeof(*lm));
	if (!lm) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (load_material(l, &lm->m, err, errlen, NULL)) {
		free(lm);
		return -1;
	}
	*out = lm;
	return 0;
}

void tb_listener_tls_install(struct tb_broker *b, struct tb_ltls_material *lm)
{
	if (!lm)
		return;
	if (b->ua_tls)
		install(b->ua_tls, &lm->m);
	else
		material_free(&lm->m);
	free(lm);
}

void tb_listener_tls_material_free(struct tb_ltls_material *lm)
{
	if (!lm)
		return;
	material_free(&lm->m);
	free(lm);
}

const char *tb_listener_tls_fingerprint(const struct tb_broker *b)
{
	return b->ua_tls ? b->ua_tls->fingerprint : "";
}

int tb_listener_tls_peer(struct lws *wsi, char *subject, size_t subject_len, char *sha256,
                         size_t sha256_len)
{
	SSL *ssl = lws_get_ssl(wsi);
	unsigned char md[32];
	unsigned int n = 0;
	int ok = 0;

	if (subject_len)
		subject[0] = '\0';
	if (sha256_len)
		sha256[0] = '\0';
	if (!ssl)
		return 0;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	X509 *x = SSL_get0_peer_certificate(ssl);
#else
	X509 *x = SSL_get_peer_certificate(ssl);
#endif
	if (x && SSL_get_verify_result(ssl) == X509_V_OK && subject_len && sha256_len >= 65) {
		BIO *bio = BIO_new(BIO_s_mem());
		if (bio &&
		    X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
			/* a subject that does not fit is not given at all: cut,
			 * it could equal another certificate's */
			size_t whole = BIO_ctrl_pending(bio);
			int len = whole < subject_len ? BIO_read(bio, subject, (int)whole) : 0;
			subject[len > 0 ? len : 0] = '\0';
			ok = 1;
		}
		BIO_free(bio);
		if (ok && X509_digest(x, EVP_sha256(), md, &n) == 1 && n == 32)
			for (unsigned i = 0; i < n; i++)
				snprintf(sha256 + 2 * i, 3, "%02x", md[i]);
		else
			ok = 0;
	}
#if OPENSSL_VERSION_NUMBER < 0x30000000L
	X509_free(x);
#endif
	if (!ok && subject_len)
		subject[0] = '\0';
	ERR_clear_error();
	return ok;
}

void tb_listener_tls_free(struct tb_broker *b)
{
	struct tb_listener_tls *t = b->ua_tls;
	if (!t)
		return;
	X509_free(t->cert);
	sk_X509_pop_free(t->chain, X509_free);
	EVP_PKEY_free(t->key);
	free(t);
	b->ua_tls = NULL;
}

#include "config.h"
#include "tls.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tb_tls_ctx {
	SSL_CTX *ssl;
	int insecure;
	uint8_t pins[TB_TLS_MAX_PINS][32];
	size_t n_pins;
	/* the last session a server of host gave: offered to the next
	 * connection to the same host (resumption: no full handshake) */
	SSL_SESSION *sess;
	char sess_host[256];
};

struct tb_tls {
	const struct tb_tls_ctx *ctx;
	char host[256];
	SSL *ssl;
	BIO *in;  /* socket -> OpenSSL */
	BIO *out; /* OpenSSL -> socket */
	char why[200];
};

static void ssl_reason(char *out, size_t len, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(out, len, "%s%s%s", what, e ? ": " : "", buf);
	ERR_clear_error();
}

/* "sha256/BASE64" or "BASE64", separated by spaces or commas. */
static int parse_pins(struct tb_tls_ctx *c, const char *pins, char *err, size_t errlen)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = pins;

	while (*p) {
		uint8_t raw[36];
		p += strspn(p, " \t,");
		if (!*p)
			break;
		size_t n = strcspn(p, " \t,");
		const char *v = p;
		size_t vn = n;
		if (vn > 7 && !strncmp(v, "sha256/", 7)) {
			v += 7;
			vn -= 7;
		}
		/* 32 bytes are 44 base64 characters, the last one '=' */
		if (vn != 44 || v[43] != '=' || strspn(v, b64) != 43 ||
		    EVP_DecodeBlock(raw, (const unsigned char *)v, 44) != 33) {
			snprintf(err, errlen,
			         "tls_pin_sha256: \"%.*s\" is not a base64 SHA-256 (44 characters, "
			         "the last one '=')",
			         (int)(n > 60 ? 60 : n), p);
			return -1;
		}
		if (c->n_pins == TB_TLS_MAX_PINS) {
			snprintf(err, errlen, "tls_pin_sha256: more than %d pins", TB_TLS_MAX_PINS);
			return -1;
		}
		memcpy(c->pins[c->n_pins++], raw, 32);
		p += n;
	}
	if (!c->n_pins) {
		snprintf(err, errlen, "tls_pin_sha256: no pin");
		return -1;
	}
	return 0;
}

/* OpenSSL's "new session" callback (after a handshake, or a TLS 1.3
 * ticket): the context keeps it for its host. 1: the reference is ours. */
static int keep_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tb_tls_ctx *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const struct tb_tls *t = SSL_get_app_data(ssl);

	if (!c || !t)
		return 0;
	SSL_SESSION_free(c->sess);
	c->sess = sess;
	memcpy(c->sess_host, t->host, sizeof(c->sess_host));
	return 1;
}

struct tb_tls_ctx *tb_tls_ctx_new(const char *ca_file, int insecure, const char *pins, char *err,
                                  size_t errlen)
{
	struct tb_tls_ctx *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (pins && parse_pins(c, pins, err, errlen)) {
		free(c);
		return NULL;
	}
	c->insecure = insecure;
	c->ssl = SSL_CTX_new(TLS_client_method());
	if (!c->ssl) {
		ssl_reason(err, errlen, "cannot create a TLS context");
		free(c);
		return NULL;
	}
	/* BCP 195: TLS 1.2 at least */
	SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
	int ok = ca_file ? SSL_CTX_load_verify_locations(c->ssl, ca_file, NULL)
	                 : SSL_CTX_set_default_verify_paths(c->ssl);
	if (ok != 1) {
		ssl_reason(err, errlen,
		           ca_file ? "cannot load ca_file" : "cannot load the system CAs");
		SSL_CTX_free(c->ssl);
		free(c);
		return NULL;
	}
	SSL_CTX_set_verify(c->ssl, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	/* sessions kept here, one per context, for its TAM's host */
	SSL_CTX_set_app_data(c->ssl, c);
	SSL_CTX_set_session_cache_mode(c->ssl,
	                               SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c->ssl, keep_session);
	return c;
}

void tb_tls_ctx_free(struct tb_tls_ctx *c)
{
	if (!c)
		return;
	SSL_SESSION_free(c->sess);
	SSL_CTX_free(c->ssl);
	free(c);
}

struct tb_tls *tb_tls_new(struct tb_tls_ctx *c, const char *host)
{
	struct tb_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ctx = c;
	t->ssl = SSL_new(c->ssl);
	t->in = BIO_new(BIO_s_mem());
	t->out = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->in || !t->out) {
		SSL_free(t->ssl);
		BIO_free(t->in);
		BIO_free(t->out);
		free(t);
		return NULL;
	}
	BIO_set_mem_eof_return(t->in, -1);  /* "no data yet", not end of stream */
	SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both BIOs now */
	SSL_set_connect_state(t->ssl);
	SSL_set_app_data(t->ssl, t);
	snprintf(t->host, sizeof(t->host), "%s", host);
	/* the same host as the kept session's: offer it (the server may
	 * resume it, or do a full handshake) */
	if (c->sess && !strcmp(c->sess_host, t->host) && SSL_set_session(t->ssl, c->sess) != 1)
		ERR_clear_error();

	unsigned char bin[16];
	int is_ip = inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1;
	int ok = 1;
	if (!is_ip)
		ok = SSL_set_tlsext_host_name(t->ssl, host) == 1; /* SNI is for names only */
	if (ok && !c->insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) == 1
		           : X509_VERIFY_PARAM_set1_host(vp, host, 0) == 1;
	}
	if (!ok) {
		tb_tls_free(t);
		return NULL;
	}
	return t;
}

void tb_tls_free(struct tb_tls *t)
{
	if (!t)
		return;
	/* A connection the TAM closed without close_notify (or that we drop)
	 * would make OpenSSL mark its session not resumable; since TLS 1.1 an
	 * unclean close need not forbid resumption (RFC 5246, 7.2.1), and the
	 * TAM closes after its answer as HTTP lets it. */
	if (SSL_is_init_finished(t->ssl))
		SSL_set_shutdown(t->ssl, SSL_get_shutdown(t->ssl) | SSL_SENT_SHUTDOWN);
	SSL_free(t->ssl); /* frees the BIOs */
	free(t);
}

int tb_tls_feed(struct tb_tls *t, const uint8_t *in, size_t len)
{
	while (len) {
		int chunk = len > 65536 ? 65536 : (int)len;
		int n = BIO_write(t->in, in, chunk);
		if (n <= 0) {
			snprintf(t->why, sizeof(t->why), "cannot buffer received data");
			return -1;
		}
		in += n;
		len -= (size_t)n;
	}
	return 0;
}

static int failed(struct tb_tls *t, int rc, const char *what)
{
	int e = SSL_get_error(t->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	long v = SSL_get_verify_result(t->ssl);
	if (v != X509_V_OK)
		snprintf(t->why, sizeof(t->why), "%s: certificate verification failed: %s", what,
		         X509_verify_cert_error_string(v));
	else if (e == SSL_ERROR_ZERO_RETURN)
		snprintf(t->why, sizeof(t->why), "%s: the server closed the TLS session", what);
	else
		ssl_reason(t->why, sizeof(t->why), what);
	ERR_clear_error();
	return -1;
}

/* The server's public key against the pins: 0 when one matches. */
static int check_pins(struct tb_tls *t)
{
	const struct tb_tls_ctx *c = t->ctx;
	unsigned char *der = NULL, md[32], b64[48];
	unsigned int mdlen = 0;
	int len, ok = 0;

	if (!c->n_pins)
		return 0;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	X509 *x = SSL_get0_peer_certificate(t->ssl);
#else
	X509 *x = SSL_get_peer_certificate(t->ssl);
#endif
	if (!x) {
		snprintf(t->why, sizeof(t->why),
		         "TLS handshake: the server sent no certificate to check tls_pin_sha256 "
		         "against");
		return -1;
	}
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (len > 0 && EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == 32)
		for (size_t i = 0; i < c->n_pins && !ok; i++)
			ok = CRYPTO_memcmp(md, c->pins[i], 32) == 0;
	OPENSSL_free(der);
#if OPENSSL_VERSION_NUMBER < 0x30000000L
	X509_free(x);
#endif
	if (ok)
		return 0;
	if (mdlen == 32) {
		EVP_EncodeBlock(b64, md, 32);
		snprintf(t->why, sizeof(t->why),
		         "TLS handshake: the server's public key (sha256/%s) matches no "
		         "tls_pin_sha256",
		         b64);
	} else {
		ssl_reason(t->why, sizeof(t->why), "TLS handshake: cannot hash the server's key");
	}
	ERR_clear_error();
	return -1;
}

int tb_tls_handshake(struct tb_tls *t)
{
	int rc = SSL_do_handshake(t->ssl);
	if (rc == 1) {
		if (!check_pins(t))
			return 1;
		/* not this server's session to resume */
		struct tb_tls_ctx *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(t->ssl));
		if (c && c->sess) {
			SSL_SESSION_free(c->sess);
			c->sess = NULL;
		}
		return -1;
	}
	return failed(t, rc, "TLS handshake");
}

int tb_tls_resumed(const struct tb_tls *t)
{
	return SSL_session_reused(t->ssl) == 1;
}

int tb_tls_write(struct tb_tls *t, const uint8_t *buf, size_t len)
{
	while (len) {
		int chunk = len > 65536 ? 65536 : (int)len;
		int n = SSL_write(t->ssl, buf, chunk);
		if (n <= 0) {
			failed(t, n, "TLS write");
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int tb_tls_read(struct tb_tls *t, uint8_t *buf, size_t cap)
{
	int n = SSL_read(t->ssl, buf, cap > 65536 ? 65536 : (int)cap);
	if (n > 0)
		return n;
	if (SSL_get_error(t->ssl, n) == SSL_ERROR_ZERO_RETURN)
		return -2;
	return failed(t, n, "TLS read");
}

int tb_tls_take_output(struct tb_tls *t, uint8_t **out, size_t *len)
{
	size_t pending = BIO_ctrl_pending(t->out);
	if (!pending)
		return 0;
	uint8_t *nb = realloc(*out, *len + pending);
	if (!nb)
		return -1;
	*out = nb;
	int n = BIO_read(t->out, nb + *len, (int)pending);
	if (n > 0)
		*len += (size_t)n;
	return 0;
}

int tb_tls_has_input(const struct tb_tls *t)
{
	return SSL_pending(t->ssl) > 0 || BIO_ctrl_pending(t->in) > 0;
}

const char *tb_tls_error(const struct tb_tls *t)
{
	return t->why[0] ? t->why : "TLS error";
}

#include "config.h"
#include "tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tb_tls_ctx {
	SSL_CTX *ssl;
	int insecure;
};

struct tb_tls {
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

struct tb_tls_ctx *tb_tls_ctx_new(const char *ca_file, int insecure, char *err, size_t errlen)
{
	struct tb_tls_ctx *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
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
	return c;
}

void tb_tls_ctx_free(struct tb_tls_ctx *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ssl);
	free(c);
}

struct tb_tls *tb_tls_new(struct tb_tls_ctx *c, const char *host)
{
	struct tb_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
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

int tb_tls_handshake(struct tb_tls *t)
{
	int rc = SSL_do_handshake(t->ssl);
	if (rc == 1)
		return 1;
	return failed(t, rc, "TLS handshake");
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

const char *tb_tls_error(const struct tb_tls *t)
{
	return t->why[0] ? t->why : "TLS error";
}

/*
 * wss:// on the app listener: the [listener] tls_cert, tls_key, tls_ca and
 * tls_verify_client keys applied to the listener vhost's OpenSSL context,
 * and reloaded into it while the broker runs.
 *
 * libwebsockets 4.1 creates the vhost's SSL_CTX (the option
 * LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX, with no certificate of its own) and
 * hands it over in LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS; from
 * then on everything about it is set here: TLS 1.2 at least, ECDHE AEAD
 * ciphers only for TLS 1.2, no session resumption (every handshake checks
 * the client certificate afresh), and the client certificate check.
 *
 * The server's certificate is never loaded into the SSL_CTX: a certificate
 * callback gives each new handshake the certificate, chain and key loaded
 * last. A reload therefore swaps what the next handshakes get; a connection
 * already open keeps the TLS session it has. The CAs of tls_ca live in the
 * SSL_CTX's store, replaced as a whole on reload (verification is done
 * within a handshake step, on the loop thread, as the reload is).
 */
#ifndef TB_TLS_LISTENER_H
#define TB_TLS_LISTENER_H

#include <stddef.h>

struct tb_broker;
struct tb_conf_listener;
struct lws;

/* Which [listener] key a failure is about, for the line of its message. */
enum tb_ltls_key { TB_LTLS_NONE = 0, TB_LTLS_CERT, TB_LTLS_KEY, TB_LTLS_CA };

/* Load and check the files of l without using them: unreadable or not PEM,
 * a key that is not the certificate's, unreadable CAs. 0, or -1 with the
 * reason in err and the key it is about in *which (--check-config). */
int tb_listener_tls_check(const struct tb_conf_listener *l, char *err, size_t errlen,
                          enum tb_ltls_key *which);

/* LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS on the app vhost: the
 * vhost's SSL_CTX. Returns 0 (lws' convention). */
int tb_listener_tls_on_ctx(struct tb_broker *b, void *ssl_ctx);

/* Once the vhost exists: the policy and the files of b->conf.listener
 * applied to its SSL_CTX. 0, or -1 with the reason and key as above. */
int tb_listener_tls_setup(struct tb_broker *b, char *err, size_t errlen, enum tb_ltls_key *which);

/*
 * A reload of the certificate, key and CAs (reload.c), all or nothing, in
 * two halves: the files of l read and checked off the loop into *out (NULL
 * when l has no TLS), 0 or -1 with the reason in err and nothing changed;
 * then, on the loop, installed (taking m: every handshake from now on gets
 * them, connections already open are not touched) or freed.
 */
struct tb_ltls_material;
int tb_listener_tls_load(const struct tb_conf_listener *l, struct tb_ltls_material **out, char *err,
                         size_t errlen);
void tb_listener_tls_install(struct tb_broker *b, struct tb_ltls_material *m);
void tb_listener_tls_material_free(struct tb_ltls_material *m);

/* The certificate handshakes get now, as its SHA-256 fingerprint in hex
 * (65 bytes) for logs; "" when none. */
const char *tb_listener_tls_fingerprint(const struct tb_broker *b);

/*
 * The verified client certificate of an app connection: its subject as an
 * RFC 4514 string into subject ("" when it does not fit: never cut) and its
 * SHA-256 fingerprint in lower-case hex into sha256 (65 bytes). 1 when there
 * is one, 0 when the connection is not TLS or the app sent no certificate.
 */
int tb_listener_tls_peer(struct lws *wsi, char *subject, size_t subject_len, char *sha256,
                         size_t sha256_len);

void tb_listener_tls_free(struct tb_broker *b);

#endif

/*
 * TLS for the broker's connections to TAMs, run over a plain libwebsockets
 * raw socket with OpenSSL memory BIOs (the library lws itself uses).
 *
 * Why not lws's own client TLS: the HTTP/1.1 requests are ours (http1.h, so
 * that no Cache-Control goes out), which needs a raw connection, and lws
 * 4.1.6 starts TLS on a raw client connection before its socket exists.
 *
 * The server's identity is checked as RFC 9110 §4.3.4 asks: the chain against
 * the TAM's CA file (or the system's store), and the URI's host against the
 * certificate (DNS names, or IP addresses for a literal). Only
 * `tls_insecure` switches both off.
 *
 * Pinning (`tls_pin_sha256`), on top of those checks: the SHA-256 of the
 * server certificate's SubjectPublicKeyInfo (as HPKP, RFC 7469, computed
 * it) must be one of the pins, else the handshake fails.
 */
#ifndef TB_TLS_H
#define TB_TLS_H

#include <stddef.h>
#include <stdint.h>

struct tb_tls_ctx; /* per TAM: trust settings */
struct tb_tls;     /* per connection */

#define TB_TLS_MAX_PINS 8

/* ca_file NULL: the system's CA store. pins: NULL, or base64 SHA-256 pins
 * (each optionally prefixed "sha256/") separated by spaces or commas.
 * Returns NULL with a reason in err. */
struct tb_tls_ctx *tb_tls_ctx_new(const char *ca_file, int insecure, const char *pins, char *err,
                                  size_t errlen);
void tb_tls_ctx_free(struct tb_tls_ctx *c);

/* A client connection to host (a name or an IP literal). */
struct tb_tls *tb_tls_new(struct tb_tls_ctx *c, const char *host);
void tb_tls_free(struct tb_tls *t);

/* Bytes that arrived from the socket. */
int tb_tls_feed(struct tb_tls *t, const uint8_t *in, size_t len);
/* Drive the handshake: 1 done (and verified), 0 needs more bytes, -1 failed. */
int tb_tls_handshake(struct tb_tls *t);
/* After the handshake: 1 when it resumed a kept session (no certificate
 * exchange; the server was verified when the session began). */
int tb_tls_resumed(const struct tb_tls *t);
/* Queue plaintext for sending (after the handshake). 0 or -1. */
int tb_tls_write(struct tb_tls *t, const uint8_t *buf, size_t len);
/* Plaintext received: >0 bytes, 0 none for now, -1 error, -2 closed by peer. */
int tb_tls_read(struct tb_tls *t, uint8_t *buf, size_t cap);
/* Move the ciphertext waiting for the socket into out (malloc()ed, appended
 * at *len). 0, or -1 when out of memory. */
int tb_tls_take_output(struct tb_tls *t, uint8_t **out, size_t *len);
/* Why the last call failed, for the log. */
const char *tb_tls_error(const struct tb_tls *t);
/* Bytes received and not read yet: decrypted in OpenSSL, or still
 * encrypted in its input (a connection kept for another request must have
 * none: they could only be taken for that request's answer). */
int tb_tls_has_input(const struct tb_tls *t);

#endif

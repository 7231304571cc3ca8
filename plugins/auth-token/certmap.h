/*
 * The certificate map of the auth-token plugin (docs/defences.md, section
 * 6.6): which app identity a verified TLS client certificate stands for. One
 * certificate per line, the identity first, then the certificate as its
 * SHA-256 fingerprint or its subject:
 *
 *   # IDENTITY  CERTIFICATE
 *   nav         sha256:9493bb9ee6dbf65b5ba52c9dd2c7f8069382d539affc8f59759d3636ea00d503
 *   map         CN=map,OU=apps,O=Example
 *
 * A subject is the rest of the line, in RFC 4514 form as the broker gives it
 * (`openssl x509 -noout -subject -nameopt RFC2253` prints it). This module
 * parses the file and answers lookups; it does no I/O and knows nothing of
 * the broker.
 */
#ifndef TB_AUTH_CERTMAP_H
#define TB_AUTH_CERTMAP_H

#include <stddef.h>

#define TB_CERTMAP_FILE_MAX    (1024 * 1024) /* bytes of the file */
#define TB_CERTMAP_LINES_MAX   16384         /* lines, comments included */
#define TB_CERTMAP_ENTRIES_MAX 4096          /* certificate lines */
#define TB_CERTMAP_SUBJECT_MAX 511           /* bytes of one subject */
#define TB_CERTMAP_ID_MAX      64            /* bytes of one identity */

struct tb_certmap;

/* Parse a whole file (text, len bytes). TB_OK and a new map in *out, or
 * TB_ERR_PARSE (TB_ERR_NOMEM) with the line of the first problem in
 * *err_line (0: the file as a whole) and what it is in err. */
int tb_certmap_parse(const char *text, size_t len, struct tb_certmap **out, int *err_line,
                     char *err, size_t errlen);
void tb_certmap_free(struct tb_certmap *m);

size_t tb_certmap_n(const struct tb_certmap *m);
/* The identity of line i of the map (in file order), and its line number. */
const char *tb_certmap_identity(const struct tb_certmap *m, size_t i, int *line);

/* The identity of a certificate: by its fingerprint (64 hex digits, any
 * case) first, then by its subject (exact). NULL when neither is mapped;
 * either argument may be NULL. */
const char *tb_certmap_lookup(const struct tb_certmap *m, const char *subject, const char *sha256);

#endif

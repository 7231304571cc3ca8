/*
 * teep-tool: developer tool for the project's keys, SUIT manifests and TEEP
 * messages.
 *
 *   teep-tool keygen PRIVATE.pem [PUBLIC.pem]
 *   teep-tool manifest --component ID --payload FILE --key SIGNER.pem
 *                      [--seq N] [--manifest-id ID] [-o OUT.suit]
 *   teep-tool dump [--pre26] [--diag] FILE|-
 *   teep-tool verify --key PUB.pem FILE|-
 *   teep-tool ear-check --key VERIFIER_PUB.pem [--max-age T] [--ueid HEX] FILE|-
 *   teep-tool cert ca CA_KEY.pem CA_CERT.pem [--cn NAME] [--days N]
 *   teep-tool cert server CA_KEY.pem CA_CERT.pem KEY.pem CERT.pem --cn NAME
 *                         [--san DNS:NAME,IP:ADDR,...] [--days N]
 *
 * Exit status: 0 success, 1 failure, 2 usage error; ear-check also 3 (the
 * Attestation Result says warning) and 4 (contraindicated or none).
 */
#include "config.h"

#include "tb_cbor.h"
#include "tb_cose.h"
#include "tb_cose_key.h"
#include "tb_ear.h"
#include "tb_suit.h"
#include "tb_teep.h"
#include "tb_util.h"
#include <teep-broker/driver.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#define EXIT_USAGE   2
#define INPUT_MAX    (64u * 1024 * 1024)
#define ID_TEXT_MAX  512
#define DIAG_MAX_HEX 64 /* bytes of a byte string shown before eliding */

static const char *prog = "teep-tool";

static const char usage_main[] =
    "usage: teep-tool COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  keygen PRIVATE.pem [PUBLIC.pem]   generate a P-256 key pair\n"
    "  manifest --component ID --payload FILE --key SIGNER.pem [--seq N]\n"
    "           [--manifest-id ID] [-o OUT.suit]\n"
    "                                    build a signed SUIT envelope with an\n"
    "                                    integrated payload\n"
    "  dump [--pre26] [--diag] FILE|-    describe a COSE object, TEEP message or\n"
    "                                    SUIT envelope (binary or hex input)\n"
    "  verify --key PUB.pem FILE|-       verify a COSE_Sign1 (exit 0 valid, 1 not)\n"
    "  ear-check --key VERIFIER_PUB.pem [--max-age T] [--skew T] [--ueid HEX] FILE|-\n"
    "                                    check a signed Attestation Result (EAR)\n"
    "                                    as a Relying Party: exit 0 affirming,\n"
    "                                    3 warning, 4 contraindicated or none,\n"
    "                                    1 not verified, stale or unreadable\n"
    "  cert ca CA_KEY.pem CA_CERT.pem [--cn NAME] [--days N]\n"
    "  cert server CA_KEY.pem CA_CERT.pem KEY.pem CERT.pem --cn NAME\n"
    "       [--san DNS:NAME,IP:ADDR,...] [--days N]\n"
    "                                    make a test CA, or a TLS server\n"
    "                                    certificate it signs (for teep-tam)\n"
    "\n"
    "`teep-tool COMMAND --help` describes a command.\n";

static const char usage_keygen[] =
    "usage: teep-tool keygen PRIVATE.pem [PUBLIC.pem]\n"
    "\n"
    "Generate a P-256 key pair. The private key is written as PEM with mode\n"
    "0600; the public key, if a second file is named, as a PEM SubjectPublicKeyInfo.\n"
    "Existing files are replaced.\n";

static const char usage_manifest[] =
    "usage: teep-tool manifest --component ID --payload FILE --key SIGNER.pem\n"
    "                          [--seq N] [--manifest-id ID] [--kid KID]\n"
    "                          [--fetch-uri URI] [-o OUT.suit]\n"
    "       teep-tool manifest --component ID --data FILE --key SIGNER.pem\n"
    "                          [--encrypt-for DEVICE_PUB.pem] [--depends-on DEP.suit]\n"
    "                          [--seq N] [--manifest-id ID] [--kid KID] [-o OUT.suit]\n"
    "\n"
    "Build a SUIT envelope that installs FILE (integrated as \"#tc\") into the\n"
    "component ID, signed with SIGNER.pem (ESP256). With --data instead, FILE is\n"
    "personalization data written by the manifest itself (as in the TEEP draft's\n"
    "Appendix E example 3): --encrypt-for encrypts it for a device's P-256 key\n"
    "(COSE_Encrypt, ECDH-ES+A128KW, A128CTR), --depends-on makes the manifest\n"
    "depend on the manifest in DEP.suit (its manifest id and exact digest).\n"
    "\n"
    "  --component ID      component id: segments joined by '/', \"0x...\" for hex;\n"
    "                      a bare UUID means TEEP-Device/SecureFS/0xUUID/ta\n"
    "  --payload FILE      the Trusted Component binary\n"
    "  --data FILE         personalization data (instead of --payload)\n"
    "  --encrypt-for PUB   encrypt --data for this device public key\n"
    "  --depends-on FILE   the envelope this one depends on\n"
    "  --key SIGNER.pem    the signer's private key (P-256)\n"
    "  --seq N             manifest sequence number (default 1)\n"
    "  --manifest-id ID    manifest component id (default: the component id with\n"
    "                      its last segment replaced by \"suit\")\n"
    "  --fetch-uri URI     do not integrate the payload: the manifest fetches it\n"
    "                      from URI in suit-payload-fetch (FILE gives its digest\n"
    "                      and size only)\n"
    "  --kid KID           a key id in the signature's unprotected header (label\n"
    "                      4): \"thumbprint\" for the RFC 9679 COSE Key Thumbprint\n"
    "                      of SIGNER.pem, or 1 to 64 bytes in hex\n"
    "  -o, --output FILE   output file (default: standard output)\n";

static const char usage_dump[] =
    "usage: teep-tool dump [--pre26] [--diag] FILE|-\n"
    "\n"
    "Describe a COSE_Sign1/COSE_Sign, a TEEP message (signed or bare) or a SUIT\n"
    "envelope. Input may be binary or hex text; '-' reads standard input.\n"
    "\n"
    "  --pre26   read TEEP messages in the numbering of drafts up to -25\n"
    "  --diag    also print the whole item in CBOR diagnostic notation\n";

static const char usage_verify[] =
    "usage: teep-tool verify --key PUB.pem FILE|-\n"
    "\n"
    "Verify a COSE_Sign1 (tagged or not) with a P-256 public (or private) key.\n"
    "Exit status 0 if the signature is valid, 1 otherwise.\n";

static const char usage_ear_check[] =
    "usage: teep-tool ear-check --key VERIFIER_PUB.pem [--max-age T] [--skew T]\n"
    "                           [--ueid HEX] FILE|-\n"
    "\n"
    "Check an Attestation Result in the EAR format (draft-ietf-rats-ear-03,\n"
    "a COSE_Sign1), such as teep-tam --ear-dir keeps per device: the signature\n"
    "by the Verifier's key, freshness (iat at most --max-age old, default 24h,\n"
    "and at most --skew in the future, default 60s) and, with --ueid, the\n"
    "device it is about. Prints the result; exit status 0 affirming,\n"
    "3 warning, 4 contraindicated or none, 1 not verified, stale, of another\n"
    "device or unreadable, 2 usage.\n";

static const char usage_cert[] =
    "usage: teep-tool cert ca CA_KEY.pem CA_CERT.pem [--cn NAME] [--days N]\n"
    "       teep-tool cert server CA_KEY.pem CA_CERT.pem KEY.pem CERT.pem --cn NAME\n"
    "                             [--san DNS:NAME,IP:ADDR,...] [--days N]\n"
    "\n"
    "A small PKI for testing HTTPS between teep-brokerd and a TAM (teep-tam\n"
    "--tls-cert/--tls-key, the broker's [tam] ca_file). Keys are P-256,\n"
    "signatures ECDSA with SHA-256. Not for production use.\n"
    "\n"
    "  ca       generate a key (CA_KEY.pem, mode 0600) and a self-signed CA\n"
    "           certificate (CA_CERT.pem): basicConstraints CA:TRUE (critical),\n"
    "           keyUsage keyCertSign and cRLSign\n"
    "  server   generate a key (KEY.pem, mode 0600) and a certificate (CERT.pem)\n"
    "           for it, signed with the CA's key: basicConstraints CA:FALSE,\n"
    "           keyUsage digitalSignature, extendedKeyUsage serverAuth and a\n"
    "           subjectAltName; it is checked against the CA before it is written\n"
    "\n"
    "  --cn NAME     subject common name (ca: default \"teep-broker test CA\";\n"
    "                server: required); at most 64 printable characters, none of\n"
    "                , = + \\ \" < > ; #\n"
    "  --san LIST    server: comma-separated subjectAltName entries, each DNS:NAME\n"
    "                or IP:ADDR (IPv4 or IPv6), at most 16. Default: the common\n"
    "                name, as IP: if it is an address, else as DNS:. TLS clients\n"
    "                check the host of the URI against these entries only.\n"
    "  --days N      validity in days from now (default 365, at most 36500); the\n"
    "                certificate is valid from an hour ago, for small clock skew\n"
    "\n"
    "Existing files are replaced. Inspect the result with\n"
    "`openssl x509 -in CERT.pem -noout -text`.\n";

static int usage_error(const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	return EXIT_USAGE;
}

static const char *status_name(int rc)
{
	switch (rc) {
	case TB_OK:
		return "ok";
	case TB_ERR_NOMEM:
		return "out of memory";
	case TB_ERR_INVAL:
		return "invalid";
	case TB_ERR_PARSE:
		return "malformed";
	case TB_ERR_SIG:
		return "bad signature";
	case TB_ERR_UNSUP:
		return "not supported";
	case TB_ERR_TOOBIG:
		return "too large";
	case TB_ERR_IO:
		return "I/O error";
	case TB_ERR_NOTFOUND:
		return "not found";
	default:
		return "error";
	}
}

/* ---- input ---- */

static int is_hex_text(const uint8_t *p, size_t n)
{
	size_t digits = 0;

	for (size_t i = 0; i < n; i++) {
		if (isxdigit(p[i]))
			digits++;
		else if (!isspace(p[i]))
			return 0;
	}
	return digits > 0 && digits % 2 == 0;
}

/* Read FILE or stdin; hex text is decoded, anything else taken as is. */
static int read_input(const char *path, uint8_t **out, size_t *len)
{
	uint8_t *raw, *bin;
	size_t rlen, blen;
	int rc = tb_read_file(path, INPUT_MAX, &raw, &rlen);

	if (rc != TB_OK) {
		fprintf(stderr, "%s: %s: cannot read (%s)\n", prog, path, status_name(rc));
		return rc;
	}
	if (!is_hex_text(raw, rlen)) {
		*out = raw;
		*len = rlen;
		return TB_OK;
	}
	rc = tb_hex_decode((const char *)raw, rlen, &bin, &blen);
	free(raw);
	if (rc != TB_OK) {
		fprintf(stderr, "%s: %s: bad hex (%s)\n", prog, path, status_name(rc));
		return rc;
	}
	*out = bin;
	*len = blen;
	return TB_OK;
}

static int write_output(const char *path, const uint8_t *buf, size_t len)
{
	if (!path || strcmp(path, "-") == 0) {
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
			fprintf(stderr, "%s: cannot write to standard output\n", prog);
			return TB_ERR_IO;
		}
		return TB_OK;
	}
	if (tb_write_file(path, buf, len) != TB_OK) {
		fprintf(stderr, "%s: %s: cannot write\n", prog, path);
		return TB_ERR_IO;
	}
	return TB_OK;
}

static int load_key(const char *path, struct tb_key **key)
{
	char err[256] = "";
	int rc = tb_key_load_file(path, key, err, sizeof(err));

	if (rc != TB_OK)
		fprintf(stderr, "%s: %s\n", prog, err);
	return rc;
}

/* ---- keygen ---- */

static int write_pem(const char *path, const struct tb_key *key, int private_part)
{
	char *pem;
	int rc = tb_key_to_pem(key, private_part, &pem);

	if (rc != TB_OK) {
		fprintf(stderr, "%s: cannot encode the key (%s)\n", prog, status_name(rc));
		return rc;
	}
	rc = tb_write_file(path, (const uint8_t *)pem, strlen(pem));
	/* tb_write_file creates files 0600; a public key may be read by all */
	if (rc == TB_OK && !private_part)
		chmod(path, 0644);
	if (rc != TB_OK)
		fprintf(stderr, "%s: %s: cannot write\n", prog, path);
	free(pem);
	return rc;
}

static int cmd_keygen(int argc, char **argv)
{
	struct tb_key *key;
	uint8_t thumb[32];
	char hex[65];
	int rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_keygen, stdout);
		return 0;
	}
	if (argc < 2 || argc > 3 || argv[1][0] == '-')
		return usage_error(usage_keygen, "%s", "keygen needs PRIVATE.pem [PUBLIC.pem]");
	rc = tb_key_generate(&key);
	if (rc != TB_OK) {
		fprintf(stderr, "%s: key generation failed (%s)\n", prog, status_name(rc));
		return 1;
	}
	rc = write_pem(argv[1], key, 1);
	if (rc == TB_OK && argc == 3)
		rc = write_pem(argv[2], key, 0);
	if (rc == TB_OK && tb_key_thumbprint(key, thumb) == TB_OK) {
		tb_hex_encode(thumb, sizeof(thumb), hex);
		printf("P-256 key written to %s%s%s\nSHA-256 thumbprint: %s\n", argv[1],
		       argc == 3 ? ", public key to " : "", argc == 3 ? argv[2] : "", hex);
	}
	tb_key_free(key);
	return rc == TB_OK ? 0 : 1;
}

/* ---- manifest ---- */

struct manifest_opts {
	const char *component;
	const char *payload;
	const char *key;
	const char *manifest_id;
	const char *output;
	const char *data;
	const char *encrypt_for;
	const char *depends_on;
	const char *kid;
	const char *fetch_uri;
	uint64_t seq;
};

static int parse_manifest_opts(int argc, char **argv, struct manifest_opts *o)
{
	static const struct option longopts[] = {
	    {"component", required_argument, NULL, 'c'},
	    {"payload", required_argument, NULL, 'p'},
	    {"key", required_argument, NULL, 'k'},
	    {"seq", required_argument, NULL, 's'},
	    {"manifest-id", required_argument, NULL, 'm'},
	    {"output", required_argument, NULL, 'o'},
	    {"data", required_argument, NULL, 'd'},
	    {"encrypt-for", required_argument, NULL, 'e'},
	    {"depends-on", required_argument, NULL, 'D'},
	    {"kid", required_argument, NULL, 'K'},
	    {"fetch-uri", required_argument, NULL, 'U'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	o->seq = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'c':
			o->component = optarg;
			break;
		case 'p':
			o->payload = optarg;
			break;
		case 'k':
			o->key = optarg;
			break;
		case 'm':
			o->manifest_id = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'd':
			o->data = optarg;
			break;
		case 'e':
			o->encrypt_for = optarg;
			break;
		case 'D':
			o->depends_on = optarg;
			break;
		case 'K':
			o->kid = optarg;
			break;
		case 'U':
			o->fetch_uri = optarg;
			break;
		case 's':
			o->seq = strtoull(optarg, &end, 10);
			if (!isdigit((unsigned char)optarg[0]) || *end || o->seq > INT64_MAX)
				return usage_error(usage_manifest, "bad --seq %s", optarg);
			break;
		case 'h':
			fputs(usage_manifest, stdout);
			return -1;
		default:
			fputs(usage_manifest, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return usage_error(usage_manifest, "unexpected argument %s", argv[optind]);
	if (!o->component || !o->key || !o->payload == !o->data)
		return usage_error(
		    usage_manifest, "%s",
		    "manifest needs --component, --key and one of --payload, --data");
	if (o->fetch_uri && !o->payload)
		return usage_error(usage_manifest, "%s", "--fetch-uri goes with --payload");
	if (o->payload && (o->encrypt_for || o->depends_on))
		return usage_error(usage_manifest, "%s",
		                   "--encrypt-for and --depends-on go with --data");
	return 0;
}

/* The component id with its last segment replaced by "suit", or, when
 * that segment is a file name "NAME.EXT", by "NAME.suit" (the draft's
 * examples: .../ta -> .../suit, config.json -> config.suit). */
static int default_manifest_id(const struct tb_component_id *comp, struct tb_component_id *mid)
{
	int rc = tb_component_id_copy(mid, comp);
	struct tb_buf *last;
	const uint8_t *dot;
	size_t keep = 0;

	if (rc != TB_OK)
		return rc;
	last = &mid->seg[mid->n - 1];
	dot = last->len > 1 ? memchr(last->ptr + 1, '.', last->len - 1) : NULL;
	if (dot)
		keep = (size_t)(dot - last->ptr) + 1;
	if (keep + 4 > 64) {
		tb_component_id_clear(mid);
		return TB_ERR_TOOBIG;
	}
	{
		uint8_t *seg = malloc(keep + 4);

		if (!seg) {
			tb_component_id_clear(mid);
			return TB_ERR_NOMEM;
		}
		memcpy(seg, last->ptr, keep);
		memcpy(seg + keep, "suit", 4);
		free(last->ptr);
		last->ptr = seg;
		last->len = keep + 4;
	}
	return TB_OK;
}

/* --data: a content envelope, encrypted and with a dependency on request. */
static int build_content(const struct manifest_opts *o, const struct tb_key *key,
                         const struct tb_component_id *comp, const struct tb_component_id *mid,
                         const uint8_t *data, size_t len, uint8_t **env, size_t *elen)
{
	struct tb_suit_content c = {.component = comp,
	                            .manifest_id = mid,
	                            .sequence_number = o->seq,
	                            .data = data,
	                            .data_len = len};
	struct tb_key *recipient = NULL;
	struct tb_suit_info dep = {0};
	char err[256] = "";
	uint8_t *d = NULL;
	size_t dlen;
	int rc = TB_OK;

	if (o->encrypt_for && (rc = load_key(o->encrypt_for, &recipient)) == TB_OK)
		c.recipient = recipient;
	if (rc == TB_OK && o->depends_on) {
		rc = tb_read_file(o->depends_on, INPUT_MAX, &d, &dlen);
		if (rc != TB_OK)
			fprintf(stderr, "%s: %s: cannot read (%s)\n", prog, o->depends_on,
			        status_name(rc));
		else if ((rc = tb_suit_info(d, dlen, &dep, err, sizeof(err))) != TB_OK)
			fprintf(stderr, "%s: %s: %s\n", prog, o->depends_on, err);
		else if (dep.manifest_component_id.n == 0) {
			fprintf(stderr, "%s: %s: no manifest component id to depend on\n", prog,
			        o->depends_on);
			rc = TB_ERR_INVAL;
		}
		c.dependency = &dep.manifest_component_id;
		c.dependency_digest = dep.manifest_digest;
	}
	if (rc == TB_OK)
		rc = tb_suit_build_content(key, &c, env, elen);
	tb_suit_info_clear(&dep);
	tb_key_free(recipient);
	free(d);
	return rc;
}

/* --kid: the signer's RFC 9679 thumbprint, or the bytes given in hex; the
 * envelope in *env is replaced by one with the kid. */
static int add_kid(const char *kid, const struct tb_key *key, uint8_t **env, size_t *elen)
{
	uint8_t tp[32], *bytes = NULL, *with = NULL;
	size_t blen = 0, wlen = 0;
	int rc;

	if (strcmp(kid, "thumbprint") == 0) {
		rc = tb_cose_key_thumbprint(key, tp);
		if (rc == TB_OK)
			rc = tb_suit_set_kid(*env, *elen, tp, sizeof(tp), &with, &wlen);
	} else {
		rc = tb_hex_decode(kid, strlen(kid), &bytes, &blen);
		if (rc != TB_OK || !blen || blen > 64) {
			fprintf(stderr,
			        "%s: --kid %s: not \"thumbprint\" nor 1 to 64 bytes in hex\n", prog,
			        kid);
			free(bytes);
			return TB_ERR_INVAL;
		}
		rc = tb_suit_set_kid(*env, *elen, bytes, blen, &with, &wlen);
		free(bytes);
	}
	if (rc != TB_OK)
		return rc;
	free(*env);
	*env = with;
	*elen = wlen;
	return TB_OK;
}

static int build_manifest(const struct manifest_opts *o, const struct tb_component_id *comp,
                          const struct tb_component_id *mid)
{
	const char *input = o->payload ? o->payload : o->data;
	struct tb_key *key = NULL;
	uint8_t *payload = NULL, *env = NULL;
	size_t plen, elen;
	int rc = tb_read_file(input, INPUT_MAX, &payload, &plen);

	if (rc != TB_OK) {
		fprintf(stderr, "%s: %s: cannot read (%s)\n", prog, input, status_name(rc));
		return 1;
	}
	rc = load_key(o->key, &key);
	if (rc == TB_OK && !tb_key_has_private(key)) {
		fprintf(stderr, "%s: %s: not a private key\n", prog, o->key);
		rc = TB_ERR_INVAL;
	}
	if (rc == TB_OK) {
		if (o->fetch_uri)
			rc = tb_suit_build_uri_fetch(key, comp, mid, o->seq, payload, plen,
			                             o->fetch_uri, &env, &elen);
		else
			rc = o->payload
			         ? tb_suit_build_integrated(key, comp, mid, o->seq, payload, plen,
			                                    &env, &elen)
			         : build_content(o, key, comp, mid, payload, plen, &env, &elen);
		if (rc == TB_OK && o->kid)
			rc = add_kid(o->kid, key, &env, &elen);
		if (rc != TB_OK)
			fprintf(stderr, "%s: cannot build the envelope (%s)\n", prog,
			        status_name(rc));
	}
	if (rc == TB_OK)
		rc = write_output(o->output, env, elen);
	if (rc == TB_OK && o->output && strcmp(o->output, "-") != 0) {
		char c[ID_TEXT_MAX], m[ID_TEXT_MAX];
		tb_component_id_format(comp, c, sizeof(c));
		tb_component_id_format(mid, m, sizeof(m));
		printf("%s: %zu bytes, component %s, manifest %s, sequence %" PRIu64
		       ", %s %zu bytes%s%s%s\n",
		       o->output, elen, c, m, o->seq, o->payload ? "payload" : "data", plen,
		       o->encrypt_for ? ", encrypted" : "", o->depends_on ? ", depends on " : "",
		       o->depends_on ? o->depends_on : "");
	}
	free(env);
	free(payload);
	tb_key_free(key);
	return rc == TB_OK ? 0 : 1;
}

static int cmd_manifest(int argc, char **argv)
{
	struct manifest_opts o = {0};
	struct tb_component_id comp, mid;
	int rc = parse_manifest_opts(argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (tb_component_id_parse(o.component, &comp) != TB_OK)
		return usage_error(usage_manifest, "bad component id %s", o.component);
	rc = o.manifest_id ? tb_component_id_parse(o.manifest_id, &mid)
	                   : default_manifest_id(&comp, &mid);
	if (rc != TB_OK) {
		tb_component_id_clear(&comp);
		return usage_error(usage_manifest, "bad manifest id %s",
		                   o.manifest_id ? o.manifest_id : o.component);
	}
	rc = build_manifest(&o, &comp, &mid);
	tb_component_id_clear(&comp);
	tb_component_id_clear(&mid);
	return rc;
}

/* ---- CBOR diagnostic notation ---- */

static void diag(FILE *f, const cbor_item_t *item, int indent);

static void print_hex(FILE *f, const uint8_t *p, size_t n, size_t max)
{
	for (size_t i = 0; i < n && i < max; i++)
		fprintf(f, "%02x", p[i]);
	if (n > max)
		fprintf(f, "...");
}

static void diag_bytes(FILE *f, const cbor_item_t *item, int indent)
{
	const uint8_t *p;
	size_t n;
	cbor_item_t *inner;

	if (tb_cbor_get_bytes(item, &p, &n) != TB_OK) {
		fprintf(f, "(_ indefinite byte string)");
		return;
	}
	/* Show nested CBOR (bstr .cbor) when it is a container. */
	if (n > 1 && ((p[0] >> 5) == 4 || (p[0] >> 5) == 5 || (p[0] >> 5) == 6) &&
	    (inner = tb_cbor_load(p, n, NULL)) != NULL) {
		fprintf(f, "<< ");
		diag(f, inner, indent);
		fprintf(f, " >>");
		cbor_decref(&inner);
		return;
	}
	fprintf(f, "h'");
	print_hex(f, p, n, DIAG_MAX_HEX);
	fprintf(f, "'");
	if (n > DIAG_MAX_HEX)
		fprintf(f, " / %zu bytes /", n);
}

static void diag_text(FILE *f, const cbor_item_t *item)
{
	const char *p;
	size_t n;

	if (tb_cbor_get_text(item, &p, &n) != TB_OK) {
		fprintf(f, "(_ indefinite text)");
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Containers narrower than this print on one line. */
#define DIAG_INLINE_WIDTH 60

/* Rough printed width of an item, saturating at DIAG_INLINE_WIDTH + 1. */
static size_t diag_width(const cbor_item_t *item)
{
	size_t w = 2, n;

	switch (cbor_typeof(item)) {
	case CBOR_TYPE_BYTESTRING:
		n = cbor_bytestring_is_definite(item) ? cbor_bytestring_length(item) : 0;
		/* nested CBOR is shown expanded, never inline */
		return n > 16 ? DIAG_INLINE_WIDTH + 1 : 3 + 2 * n;
	case CBOR_TYPE_STRING:
		return 2 + (cbor_string_is_definite(item) ? cbor_string_length(item) : 8);
	case CBOR_TYPE_ARRAY:
		n = cbor_array_size(item);
		for (size_t i = 0; i < n && w <= DIAG_INLINE_WIDTH; i++)
			w += diag_width(cbor_array_handle(item)[i]) + 2;
		return w;
	case CBOR_TYPE_MAP:
		n = cbor_map_size(item);
		for (size_t i = 0; i < n && w <= DIAG_INLINE_WIDTH; i++)
			w += diag_width(cbor_map_handle(item)[i].key) +
			     diag_width(cbor_map_handle(item)[i].value) + 4;
		return w;
	case CBOR_TYPE_TAG:
		return DIAG_INLINE_WIDTH + 1;
	default:
		return 8;
	}
}

/* indent < 0: everything on one line */
static void newline(FILE *f, int indent)
{
	if (indent < 0)
		fputc(' ', f);
	else
		fprintf(f, "\n%*s", indent * 2, "");
}

static int child_indent(int indent)
{
	return indent < 0 ? -1 : indent + 1;
}

static void diag_array(FILE *f, const cbor_item_t *item, int indent)
{
	size_t n = cbor_array_size(item);

	if (indent >= 0 && diag_width(item) <= DIAG_INLINE_WIDTH)
		indent = -1;
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		newline(f, child_indent(indent));
		diag(f, cbor_array_handle(item)[i], child_indent(indent));
		if (i + 1 < n)
			fputc(',', f);
	}
	if (n)
		newline(f, indent);
	fputc(']', f);
}

static void diag_map(FILE *f, const cbor_item_t *item, int indent)
{
	size_t n = cbor_map_size(item);
	struct cbor_pair *pairs = cbor_map_handle(item);

	if (indent >= 0 && diag_width(item) <= DIAG_INLINE_WIDTH)
		indent = -1;
	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		newline(f, child_indent(indent));
		diag(f, pairs[i].key, child_indent(indent));
		fprintf(f, ": ");
		diag(f, pairs[i].value, child_indent(indent));
		if (i + 1 < n)
			fputc(',', f);
	}
	if (n)
		newline(f, indent);
	fputc('}', f);
}

static void diag_simple(FILE *f, const cbor_item_t *item)
{
	if (!cbor_float_ctrl_is_ctrl(item)) {
		fprintf(f, "%g", cbor_float_get_float(item));
		return;
	}
	switch (cbor_ctrl_value(item)) {
	case CBOR_CTRL_FALSE:
		fprintf(f, "false");
		break;
	case CBOR_CTRL_TRUE:
		fprintf(f, "true");
		break;
	case CBOR_CTRL_NULL:
		fprintf(f, "null");
		break;
	case CBOR_CTRL_UNDEF:
		fprintf(f, "undefined");
		break;
	default:
		fprintf(f, "simple(%u)", cbor_ctrl_value(item));
	}
}

static void diag(FILE *f, const cbor_item_t *item, int indent)
{
	int64_t v;
	uint64_t u;

	switch (cbor_typeof(item)) {
	case CBOR_TYPE_UINT:
		tb_cbor_get_uint(item, &u);
		fprintf(f, "%" PRIu64, u);
		break;
	case CBOR_TYPE_NEGINT:
		if (tb_cbor_get_int(item, &v) == TB_OK)
			fprintf(f, "%" PRId64, v);
		else
			fprintf(f, "-1-%" PRIu64, cbor_get_int(item));
		break;
	case CBOR_TYPE_BYTESTRING:
		diag_bytes(f, item, indent);
		break;
	case CBOR_TYPE_STRING:
		diag_text(f, item);
		break;
	case CBOR_TYPE_ARRAY:
		diag_array(f, item, indent);
		break;
	case CBOR_TYPE_MAP:
		diag_map(f, item, indent);
		break;
	case CBOR_TYPE_TAG: {
		cbor_item_t *inner = cbor_tag_item(item);
		fprintf(f, "%" PRIu64 "(", cbor_tag_value(item));
		diag(f, inner, indent);
		fputc(')', f);
		cbor_decref(&inner);
		break;
	}
	default:
		diag_simple(f, item);
	}
}

/* ---- dump ---- */

struct dump_opts {
	enum tb_numbering num;
	int diag;
};

static void print_id_list(const char *name, const struct tb_component_id *ids, size_t n)
{
	char text[ID_TEXT_MAX];

	printf("  %s: %zu\n", name, n);
	for (size_t i = 0; i < n; i++) {
		tb_component_id_format(&ids[i], text, sizeof(text));
		printf("    %s\n", text);
	}
}

static void print_raw(const char *name, const struct tb_buf *b)
{
	cbor_item_t *item;

	if (!b->len)
		return;
	item = tb_cbor_load(b->ptr, b->len, NULL);
	if (!item)
		return;
	printf("  %s: ", name);
	diag(stdout, item, 1);
	printf("\n");
	cbor_decref(&item);
}

static void print_suit_summary(const uint8_t *env, size_t len, const char *prefix)
{
	struct tb_suit_info info;
	char err[256] = "", c[ID_TEXT_MAX], m[ID_TEXT_MAX];

	if (tb_suit_info(env, len, &info, err, sizeof(err)) != TB_OK) {
		printf("%snot a usable SUIT envelope: %s\n", prefix, err);
		return;
	}
	tb_component_id_format(&info.component, c, sizeof(c));
	tb_component_id_format(&info.manifest_component_id, m, sizeof(m));
	printf("%ssequence number: %" PRIu64 "\n", prefix, info.sequence_number);
	printf("%scomponent: %s\n", prefix, c);
	printf("%smanifest id: %s\n", prefix, info.manifest_component_id.n ? m : "(none)");
	if (info.dependency.n) {
		tb_component_id_format(&info.dependency, m, sizeof(m));
		printf("%sdepends on: %s\n", prefix, m);
	}
	tb_suit_info_clear(&info);
}

static const char *err_code_name(uint64_t code)
{
	static const char *const names[] = {
	    NULL,
	    "ERR_PERMANENT_ERROR",
	    "ERR_UNSUPPORTED_EXTENSION",
	    "ERR_UNSUPPORTED_FRESHNESS_MECHANISMS",
	    "ERR_UNSUPPORTED_MSG_VERSION",
	    "ERR_UNSUPPORTED_CIPHER_SUITES",
	    "ERR_BAD_CERTIFICATE",
	    "ERR_ATTESTATION_REQUIRED",
	    "ERR_UNSUPPORTED_SUIT_REPORT",
	    "ERR_CERTIFICATE_EXPIRED",
	    "ERR_TEMPORARY_ERROR",
	    "ERR_MANIFEST_PROCESSING_FAILED",
	};

	return code < sizeof(names) / sizeof(names[0]) && names[code] ? names[code] : "unknown";
}

static void print_teep_fields(const struct tb_teep_msg *m, enum tb_numbering num)
{
	if (m->token.len) {
		printf("  token: ");
		print_hex(stdout, m->token.ptr, m->token.len, m->token.len);
		printf("\n");
	}
	if (m->challenge.len) {
		printf("  challenge: ");
		print_hex(stdout, m->challenge.ptr, m->challenge.len, DIAG_MAX_HEX);
		printf(" (%zu bytes)\n", m->challenge.len);
	}
	if (m->type == TB_TEEP_QUERY_REQUEST)
		printf("  data-item-requested: 0x%" PRIx64 "%s%s%s%s\n", m->data_item_requested,
		       m->data_item_requested & TB_TEEP_DIR_ATTESTATION ? " attestation" : "",
		       m->data_item_requested & TB_TEEP_DIR_TRUSTED_COMPONENTS
		           ? " trusted-components"
		           : "",
		       m->data_item_requested & TB_TEEP_DIR_EXTENSIONS ? " extensions" : "",
		       m->data_item_requested & TB_TEEP_DIR_SUIT_REPORTS ? " suit-reports" : "");
	print_raw("supported-teep-cipher-suites", &m->cipher_suites_cbor);
	print_raw("supported-suit-cose-profiles", &m->suit_cose_profiles_cbor);
	if (m->type == TB_TEEP_QUERY_RESPONSE) {
		print_id_list("tc-list", m->tc_list, m->n_tc_list);
		print_id_list("requested-tc-list", m->requested_tc_list, m->n_requested_tc_list);
	}
	if (m->n_unneeded_manifest_list || m->type == TB_TEEP_QUERY_RESPONSE)
		print_id_list("unneeded-manifest-list", m->unneeded_manifest_list,
		              m->n_unneeded_manifest_list);
	if (m->type == TB_TEEP_UPDATE) {
		printf("  manifest-list: %zu\n", m->n_manifest_list);
		for (size_t i = 0; i < m->n_manifest_list; i++) {
			printf("    [%zu] SUIT envelope, %zu bytes\n", i, m->manifest_list[i].len);
			print_suit_summary(m->manifest_list[i].ptr, m->manifest_list[i].len,
			                   "        ");
		}
	}
	if (m->err_code) {
		/* what the wire says; the name is the code's meaning */
		uint64_t wire = tb_teep_err_code_to_wire(num, m->err_code);
		printf("  err-code: %" PRIu64 " (%s", wire, err_code_name(m->err_code));
		if (wire != m->err_code)
			printf(", %" PRIu64 " in draft-26", m->err_code);
		printf(")\n");
	}
	if (m->err_msg)
		printf("  err-msg: \"%s\"\n", m->err_msg);
	if (m->msg)
		printf("  msg: \"%s\"\n", m->msg);
}

static int dump_teep(const uint8_t *buf, size_t len, const struct dump_opts *o)
{
	struct tb_teep_msg m;
	char err[256] = "";
	const char *numbering = o->num == TB_NUM_PRE26 ? "pre-26" : "draft-26";

	if (tb_teep_decode(buf, len, o->num, &m, err, sizeof(err)) != TB_OK) {
		printf("TEEP message (%s numbering): cannot decode: %s\n", numbering, err);
		if (o->num == TB_NUM_DRAFT26)
			printf("  (a peer of an older draft? try --pre26)\n");
		return 1;
	}
	printf("TEEP %s (wire type %d, %s numbering)\n", tb_teep_type_name(m.type),
	       tb_teep_type_to_wire(o->num, m.type), numbering);
	print_teep_fields(&m, o->num);
	tb_teep_msg_clear(&m);
	return 0;
}

static void print_headers(const cbor_item_t *arr)
{
	const uint8_t *prot;
	size_t plen;
	cbor_item_t *ph;

	if (tb_cbor_get_bytes(cbor_array_handle(arr)[0], &prot, &plen) == TB_OK && plen &&
	    (ph = tb_cbor_load(prot, plen, NULL)) != NULL) {
		printf("  protected: ");
		diag(stdout, ph, 1);
		printf("\n");
		cbor_decref(&ph);
	} else {
		printf("  protected: (empty)\n");
	}
	printf("  unprotected: ");
	diag(stdout, cbor_array_handle(arr)[1], 1);
	printf("\n");
}

static int dump_cose(const cbor_item_t *arr, const char *kind, const struct dump_opts *o)
{
	const cbor_item_t *payload = cbor_array_handle(arr)[2];
	const uint8_t *p;
	size_t n;

	printf("%s\n", kind);
	print_headers(arr);
	if (strcmp(kind, "COSE_Sign") == 0) {
		const cbor_item_t *sigs = cbor_array_handle(arr)[3];
		printf("  signatures: %zu\n", cbor_isa_array(sigs) ? cbor_array_size(sigs) : 0);
	} else if (tb_cbor_get_bytes(cbor_array_handle(arr)[3], &p, &n) == TB_OK) {
		printf("  signature: %zu bytes\n", n);
	}
	if (tb_cbor_is_null(payload)) {
		printf("  payload: detached\n");
		return 0;
	}
	if (tb_cbor_get_bytes(payload, &p, &n) != TB_OK) {
		printf("  payload: not a byte string\n");
		return 1;
	}
	printf("  payload: %zu bytes\n", n);
	return dump_teep(p, n, o);
}

static int is_cose_array(const cbor_item_t *item)
{
	return cbor_isa_array(item) && cbor_array_size(item) == 4 &&
	       cbor_isa_bytestring(cbor_array_handle(item)[0]) &&
	       cbor_isa_map(cbor_array_handle(item)[1]);
}

static void print_envelope_members(const cbor_item_t *env)
{
	struct cbor_pair *pairs = cbor_map_handle(env);

	for (size_t i = 0; i < cbor_map_size(env); i++) {
		const char *name;
		size_t nlen, blen;
		const uint8_t *b;

		if (tb_cbor_get_text(pairs[i].key, &name, &nlen) == TB_OK &&
		    tb_cbor_get_bytes(pairs[i].value, &b, &blen) == TB_OK)
			printf("  integrated payload \"%.*s\": %zu bytes\n", (int)nlen, name, blen);
	}
}

static int dump_item(const uint8_t *buf, size_t len, const cbor_item_t *item,
                     const struct dump_opts *o)
{
	const cbor_item_t *body = item;
	cbor_item_t *inner = NULL;
	uint64_t tag = 0;
	int rc;

	if (cbor_isa_tag(item)) {
		tag = cbor_tag_value(item);
		body = inner = cbor_tag_item(item);
	}
	if ((tag == TB_COSE_SIGN1_TAG || tag == 0) && is_cose_array(body)) {
		rc = dump_cose(
		    body, tag ? "COSE_Sign1 (tagged)" : "COSE_Sign1 (untagged, or COSE_Sign)", o);
	} else if (tag == TB_COSE_SIGN_TAG && is_cose_array(body)) {
		rc = dump_cose(body, "COSE_Sign", o);
	} else if ((tag == 0 || tag == 107) && cbor_isa_map(body) && tb_cbor_map_get_int(body, 3)) {
		printf("SUIT envelope%s, %zu bytes\n", tag ? " (tagged)" : "", len);
		print_suit_summary(buf, len, "  ");
		print_envelope_members(body);
		rc = 0;
	} else if (tag == 0 && cbor_isa_array(body)) {
		rc = dump_teep(buf, len, o);
	} else {
		printf("CBOR item, %zu bytes (not a COSE object, TEEP message or SUIT envelope)\n",
		       len);
		rc = o->diag ? 0 : 1;
	}
	if (inner)
		cbor_decref(&inner);
	return rc;
}

static int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"pre26", no_argument, NULL, 'p'},
	    {"diag", no_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct dump_opts o = {TB_NUM_DRAFT26, 0};
	const char *why = NULL;
	cbor_item_t *item;
	uint8_t *buf;
	size_t len;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'p') {
			o.num = TB_NUM_PRE26;
		} else if (c == 'd') {
			o.diag = 1;
		} else if (c == 'h') {
			fputs(usage_dump, stdout);
			return 0;
		} else {
			fputs(usage_dump, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return usage_error(usage_dump, "%s", "dump needs one FILE (or - for stdin)");
	if (read_input(argv[optind], &buf, &len) != TB_OK)
		return 1;
	rc = tb_cbor_check(buf, len, TB_CBOR_MAX_DEPTH, &why);
	item = rc == TB_OK ? tb_cbor_load(buf, len, &why) : NULL;
	if (!item) {
		printf("not well-formed CBOR (%zu bytes): %s\n", len, why ? why : "?");
		free(buf);
		return 1;
	}
	rc = dump_item(buf, len, item, &o);
	if (o.diag) {
		printf("\n");
		diag(stdout, item, 0);
		printf("\n");
	}
	cbor_decref(&item);
	free(buf);
	return rc;
}

/* ---- verify ---- */

static int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *keyfile = NULL;
	struct tb_key *key;
	uint8_t *buf, *payload = NULL;
	size_t len, plen = 0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:h", longopts, NULL)) != -1) {
		if (c == 'k') {
			keyfile = optarg;
		} else if (c == 'h') {
			fputs(usage_verify, stdout);
			return 0;
		} else {
			fputs(usage_verify, stderr);
			return EXIT_USAGE;
		}
	}
	if (!keyfile || optind != argc - 1)
		return usage_error(usage_verify, "%s", "verify needs --key PUB.pem and one FILE");
	if (load_key(keyfile, &key) != TB_OK)
		return 1;
	if (read_input(argv[optind], &buf, &len) != TB_OK) {
		tb_key_free(key);
		return 1;
	}
	rc = tb_cose_sign1_verify(buf, len, key, NULL, 0, &payload, &plen);
	if (rc == TB_OK)
		printf("signature valid (payload %zu bytes)\n", plen);
	else if (rc == TB_ERR_INVAL)
		printf("signature not checked: detached payload\n");
	else
		printf("signature NOT valid: %s\n", status_name(rc));
	free(payload);
	free(buf);
	tb_key_free(key);
	return rc == TB_OK ? 0 : 1;
}

/* ---- ear-check: the Network User as a Relying Party ---- */

#define EAR_EXIT_BAD             1
#define EAR_EXIT_WARNING         3
#define EAR_EXIT_CONTRAINDICATED 4
#define EAR_DEFAULT_MAX_AGE_MS   (24ull * 3600u * 1000u)
#define EAR_DEFAULT_SKEW_MS      (60ull * 1000u)

static void print_ear(const struct tb_ear *e, int64_t now)
{
	static const char *const tv_names[TB_TV_COUNT] = {
	    "instance-identity", "configuration",  "executables",    "file-system",
	    "hardware",          "runtime-opaque", "storage-opaque", "sourced-data",
	};
	char hex[2 * TB_EAT_UEID_MAX + 1];

	printf("status: %s\n", tb_ear_tier_name(e->status));
	if (e->ueid_len) {
		tb_hex_encode(e->ueid, e->ueid_len, hex);
		printf("ueid: %s\n", hex);
	}
	printf("iat: %lld (%lld s ago)\n", (long long)e->iat, (long long)(now - e->iat));
	printf("verifier: %s %s\n", e->developer, e->build);
	printf("submod: %s\n", e->submod);
	for (int i = 0; i < TB_TV_COUNT; i++)
		if (e->tv[i])
			printf("  %s: %d (%s)\n", tv_names[i], e->tv[i],
			       tb_ear_tier_name(tb_ear_tier_of(e->tv[i])));
	if (e->policy_id[0])
		printf("policy: %s\n", e->policy_id);
}

static int cmd_ear_check(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"key", required_argument, NULL, 'k'},  {"max-age", required_argument, NULL, 'a'},
	    {"skew", required_argument, NULL, 's'}, {"ueid", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	const char *keyfile = NULL, *ueid_hex = NULL;
	uint64_t max_age_ms = EAR_DEFAULT_MAX_AGE_MS, skew_ms = EAR_DEFAULT_SKEW_MS;
	uint8_t *buf = NULL, *ueid = NULL;
	size_t len, ueid_len = 0;
	struct tb_key *key;
	struct tb_ear e;
	char err[160] = "";
	int64_t now = (int64_t)time(NULL);
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keyfile = optarg;
			break;
		case 'a':
			if (tb_parse_duration_ms(optarg, &max_age_ms) != TB_OK)
				return usage_error(usage_ear_check, "bad --max-age %s", optarg);
			break;
		case 's':
			if (tb_parse_duration_ms(optarg, &skew_ms) != TB_OK)
				return usage_error(usage_ear_check, "bad --skew %s", optarg);
			break;
		case 'u':
			ueid_hex = optarg;
			break;
		case 'h':
			fputs(usage_ear_check, stdout);
			return 0;
		default:
			fputs(usage_ear_check, stderr);
			return EXIT_USAGE;
		}
	}
	if (!keyfile || optind != argc - 1)
		return usage_error(usage_ear_check, "%s",
		                   "ear-check needs --key VERIFIER_PUB.pem and one FILE");
	if (ueid_hex && (tb_hex_decode(ueid_hex, strlen(ueid_hex), &ueid, &ueid_len) != TB_OK ||
	                 !ueid_len || ueid_len > TB_EAT_UEID_MAX)) {
		free(ueid);
		return usage_error(usage_ear_check, "bad --ueid %s (1 to %d bytes in hex)",
		                   ueid_hex, TB_EAT_UEID_MAX);
	}
	if (load_key(keyfile, &key) != TB_OK) {
		free(ueid);
		return EAR_EXIT_BAD;
	}
	if (read_input(argv[optind], &buf, &len) != TB_OK) {
		tb_key_free(key);
		free(ueid);
		return EAR_EXIT_BAD;
	}
	rc = tb_ear_check(buf, len, key, now, (int64_t)(max_age_ms / 1000),
	                  (int64_t)(skew_ms / 1000), &e, err, sizeof(err));
	free(buf);
	tb_key_free(key);
	if (rc == TB_OK && ueid && (e.ueid_len != ueid_len || memcmp(e.ueid, ueid, ueid_len))) {
		snprintf(err, sizeof(err), "%s",
		         e.ueid_len ? "it is about another device (ueid)" : "it names no device");
		rc = TB_ERR_NOTFOUND;
	}
	free(ueid);
	if (rc != TB_OK) {
		printf("%s: %s: %s\n",
		       rc == TB_ERR_SIG        ? "NOT verified"
		       : rc == TB_ERR_STATE    ? "stale"
		       : rc == TB_ERR_NOTFOUND ? "wrong device"
		                               : "not an EAR",
		       argv[optind], err[0] ? err : status_name(rc));
		return EAR_EXIT_BAD;
	}
	print_ear(&e, now);
	if (e.status == TB_EAR_AFFIRMING)
		return 0;
	return e.status == TB_EAR_WARNING ? EAR_EXIT_WARNING : EAR_EXIT_CONTRAINDICATED;
}

/* ---- cert: a test PKI for HTTPS between the broker and a TAM ---- */

#define CERT_CN_MAX     64 /* RFC 5280 ub-common-name */
#define CERT_DAYS_MAX   36500
#define CERT_DAYS_DEF   365
#define CERT_SAN_MAX    16
#define CERT_DNS_MAX    253 /* longest DNS name in text form */
#define CERT_SAN_DER    (CERT_SAN_MAX * (CERT_DNS_MAX + 4) + 8)
#define CERT_PEM_MAX    4096 /* a P-256 key or certificate in PEM is far smaller */
#define CERT_SERIAL_LEN 16

/* One GeneralName of a subjectAltName (RFC 5280 section 4.2.1.6). */
struct san_entry {
	unsigned char tag; /* context tag: 2 dNSName, 7 iPAddress */
	size_t len;
	unsigned char data[CERT_DNS_MAX];
};

struct cert_opts {
	int server; /* "server" rather than "ca" */
	const char *cn;
	const char *san; /* NULL: derived from the common name */
	long days;
	const char *ca_key, *ca_cert, *key, *cert;
};

struct cert_rng {
	mbedtls_entropy_context ent;
	mbedtls_ctr_drbg_context drbg;
};

/* Report an mbedtls failure; 0 stays 0, anything else becomes -1. */
static int mbed_check(int ret, const char *what)
{
	char msg[128];

	if (ret == 0)
		return 0;
	mbedtls_strerror(ret, msg, sizeof(msg));
	fprintf(stderr, "%s: %s: %s\n", prog, what, msg);
	return -1;
}

/* The name goes into a "CN=..." string that mbedtls parses, so nothing it
 * would read as a separator or escape may appear in it. */
static int cn_ok(const char *cn)
{
	size_t n = strlen(cn);

	if (n == 0 || n > CERT_CN_MAX || cn[0] == ' ' || cn[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (cn[i] < 0x20 || cn[i] > 0x7e || strchr(",=+\\\"<>;#", cn[i]))
			return 0;
	return 1;
}

/* A DNS name of letters, digits, '-' and '.', optionally "*." first. */
static int dns_name_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || n > CERT_DNS_MAX)
		return 0;
	if (n > 2 && s[0] == '*' && s[1] == '.')
		i = 2;
	for (; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return 0;
	return s[0] != '.' && s[n - 1] != '.';
}

/* An IPv4 or IPv6 literal as the 4 or 16 bytes of an iPAddress. */
static int san_ip(const char *text, struct san_entry *e)
{
	e->tag = MBEDTLS_X509_SAN_IP_ADDRESS;
	if (inet_pton(AF_INET, text, e->data) == 1) {
		e->len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, e->data) == 1) {
		e->len = 16;
		return 0;
	}
	return -1;
}

static int san_dns(const char *text, struct san_entry *e)
{
	size_t n = strlen(text);

	if (!dns_name_ok(text, n))
		return -1;
	e->tag = MBEDTLS_X509_SAN_DNS_NAME;
	memcpy(e->data, text, n);
	e->len = n;
	return 0;
}

/* "DNS:a,IP:b,..." into entries; on error, the offending item is named. */
static int san_parse(const char *list, struct san_entry *e, size_t *n)
{
	const char *s = list;

	*n = 0;
	for (;;) {
		size_t len = strcspn(s, ",");
		char item[CERT_DNS_MAX + 8];
		int bad;

		if (*n == CERT_SAN_MAX) {
			fprintf(stderr, "%s: --san: at most %d entries\n", prog, CERT_SAN_MAX);
			return -1;
		}
		if (len >= sizeof(item)) {
			fprintf(stderr, "%s: --san: entry too long\n", prog);
			return -1;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		if (!strncasecmp(item, "DNS:", 4))
			bad = san_dns(item + 4, &e[*n]);
		else if (!strncasecmp(item, "IP:", 3))
			bad = san_ip(item + 3, &e[*n]);
		else
			bad = 1;
		if (bad) {
			fprintf(stderr, "%s: --san: bad entry '%s' (DNS:NAME or IP:ADDR)\n", prog,
			        item);
			return -1;
		}
		(*n)++;
		if (!s[len])
			return 0;
		s += len + 1;
	}
}

/* Without --san the common name is the one entry: clients no longer look at
 * the common name, only at subjectAltName. */
static int san_from_cn(const char *cn, struct san_entry *e, size_t *n)
{
	if (san_ip(cn, e) && san_dns(cn, e)) {
		fprintf(stderr, "%s: --cn %s is neither a DNS name nor an address: give --san\n",
		        prog, cn);
		return -1;
	}
	*n = 1;
	return 0;
}

/* GeneralNames ::= SEQUENCE OF GeneralName, each an implicitly tagged
 * [2] IA5String or [7] OCTET STRING. The asn1 writers fill buf from its end
 * towards its start, so the entries are written last first. */
static int san_der(const struct san_entry *e, size_t n, unsigned char *buf, size_t size,
                   unsigned char **out, size_t *out_len)
{
	unsigned char *p = buf + size;
	size_t len = 0;
	int ret;

	for (size_t i = n; i-- > 0;) {
		size_t one = 0;

		MBEDTLS_ASN1_CHK_ADD(one,
		                     mbedtls_asn1_write_raw_buffer(&p, buf, e[i].data, e[i].len));
		MBEDTLS_ASN1_CHK_ADD(one, mbedtls_asn1_write_len(&p, buf, one));
		MBEDTLS_ASN1_CHK_ADD(
		    one, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | e[i].tag));
		len += one;
	}
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(
	    len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	*out = p;
	*out_len = len;
	return 0;
}

/* ExtKeyUsageSyntax ::= SEQUENCE OF KeyPurposeId, here id-kp-serverAuth
 * only: mbedtls 2.28 has no writer for it. */
static int eku_server_der(unsigned char *buf, size_t size, unsigned char **out, size_t *out_len)
{
	unsigned char *p = buf + size;
	size_t len = 0;
	int ret;

	MBEDTLS_ASN1_CHK_ADD(len,
	                     mbedtls_asn1_write_oid(&p, buf, MBEDTLS_OID_SERVER_AUTH,
	                                            MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(
	    len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	*out = p;
	*out_len = len;
	return 0;
}

static int rng_init(struct cert_rng *r)
{
	static const unsigned char pers[] = "teep-tool cert";

	mbedtls_entropy_init(&r->ent);
	mbedtls_ctr_drbg_init(&r->drbg);
	return mbed_check(
	    mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->ent, pers, sizeof(pers) - 1),
	    "random generator");
}

static void rng_free(struct cert_rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->ent);
}

static int gen_key(mbedtls_pk_context *pk, struct cert_rng *r)
{
	if (mbed_check(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)),
	               "key setup"))
		return -1;
	return mbed_check(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
	                                      mbedtls_ctr_drbg_random, &r->drbg),
	                  "key generation");
}

/* YYYYMMDDhhmmss in UTC, what mbedtls_x509write_crt_set_validity takes */
static int utc_stamp(time_t t, char out[16])
{
	struct tm tm;

	return gmtime_r(&t, &tm) && strftime(out, 16, "%Y%m%d%H%M%S", &tm) == 14 ? 0 : -1;
}

/* What both kinds share: serial, validity, keys, SHA-256, key ids. */
static int cert_base(mbedtls_x509write_cert *crt, mbedtls_pk_context *subject_key,
                     mbedtls_pk_context *issuer_key, long days, struct cert_rng *r)
{
	unsigned char serial_bytes[CERT_SERIAL_LEN];
	char from[16], to[16];
	time_t now = time(NULL);
	mbedtls_mpi serial;
	int rc;

	/* an hour back: a peer whose clock lags a little still accepts it */
	if (utc_stamp(now - 3600, from) || utc_stamp(now + (time_t)days * 86400, to)) {
		fprintf(stderr, "%s: cannot format the validity period\n", prog);
		return -1;
	}
	if (mbed_check(mbedtls_ctr_drbg_random(&r->drbg, serial_bytes, sizeof(serial_bytes)),
	               "serial number"))
		return -1;
	/* positive (RFC 5280 4.1.2.2) and always the full 16 bytes */
	serial_bytes[0] = (unsigned char)((serial_bytes[0] & 0x7f) | 0x40);
	mbedtls_mpi_init(&serial);
	rc = mbed_check(mbedtls_mpi_read_binary(&serial, serial_bytes, sizeof(serial_bytes)),
	                "serial number");
	if (!rc)
		rc = mbed_check(mbedtls_x509write_crt_set_serial(crt, &serial), "serial number");
	mbedtls_mpi_free(&serial);
	if (rc)
		return -1;
	mbedtls_x509write_crt_set_version(crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(crt, subject_key);
	mbedtls_x509write_crt_set_issuer_key(crt, issuer_key);
	if (mbed_check(mbedtls_x509write_crt_set_validity(crt, from, to), "validity") ||
	    mbed_check(mbedtls_x509write_crt_set_subject_key_identifier(crt), "key id") ||
	    mbed_check(mbedtls_x509write_crt_set_authority_key_identifier(crt), "key id"))
		return -1;
	return 0;
}

/* "CN=name" as the subject, and as the issuer too for a self-signed one */
static int set_cn(mbedtls_x509write_cert *crt, const char *cn, int self_signed)
{
	char name[CERT_CN_MAX + 4];

	snprintf(name, sizeof(name), "CN=%s", cn);
	if (mbed_check(mbedtls_x509write_crt_set_subject_name(crt, name), "subject name"))
		return -1;
	if (self_signed)
		return mbed_check(mbedtls_x509write_crt_set_issuer_name(crt, name), "issuer name");
	return 0;
}

/* The issuer of a certificate is its CA's subject, attribute by attribute
 * and with the same string types, so that name chaining compares equal.
 * mbedtls keeps a name as a list in the reverse of its DER order and
 * mbedtls_asn1_store_named_data prepends, so walking the CA's subject in
 * order rebuilds that list. Storing merges attributes of the same type,
 * hence such names (and multi-valued RDNs) are refused. */
static int issuer_from_ca(mbedtls_x509write_cert *crt, const mbedtls_x509_name *subject)
{
	for (const mbedtls_x509_name *n = subject; n; n = n->next) {
		mbedtls_asn1_named_data *d;

		if (n->next_merged ||
		    mbedtls_asn1_find_named_data(crt->issuer, (const char *)n->oid.p, n->oid.len)) {
			fprintf(stderr, "%s: the CA's subject name has a form not supported here\n",
			        prog);
			return -1;
		}
		d = mbedtls_asn1_store_named_data(&crt->issuer, (const char *)n->oid.p, n->oid.len,
		                                  n->val.p, n->val.len);
		if (!d) {
			fprintf(stderr, "%s: out of memory\n", prog);
			return -1;
		}
		d->val.tag = n->val.tag;
	}
	return 0;
}

static int add_extension(mbedtls_x509write_cert *crt, const char *oid, size_t oid_len,
                         const unsigned char *der, size_t len, const char *what)
{
	return mbed_check(mbedtls_x509write_crt_set_extension(crt, oid, oid_len, 0, der, len),
	                  what);
}

static int server_extensions(mbedtls_x509write_cert *crt, const struct san_entry *san, size_t n_san)
{
	unsigned char buf[CERT_SAN_DER], *der = NULL;
	size_t len = 0;

	if (mbed_check(mbedtls_x509write_crt_set_basic_constraints(crt, 0, -1), "extensions") ||
	    mbed_check(mbedtls_x509write_crt_set_key_usage(crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE),
	               "extensions"))
		return -1;
	if (mbed_check(eku_server_der(buf, sizeof(buf), &der, &len), "extendedKeyUsage") ||
	    add_extension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
	                  MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), der, len,
	                  "extendedKeyUsage"))
		return -1;
	if (mbed_check(san_der(san, n_san, buf, sizeof(buf), &der, &len), "subjectAltName") ||
	    add_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
	                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), der, len,
	                  "subjectAltName"))
		return -1;
	return 0;
}

/* Does the new certificate chain to trust (NULL: to itself, a new CA)? A last
 * check before anything is written, so that a broken certificate never
 * reaches a test. */
static int self_check(const unsigned char *pem, mbedtls_x509_crt *trust)
{
	mbedtls_x509_crt crt;
	uint32_t flags = 0;
	char why[256];
	int rc;

	mbedtls_x509_crt_init(&crt);
	rc = mbed_check(mbedtls_x509_crt_parse(&crt, pem, strlen((const char *)pem) + 1),
	                "the new certificate does not parse");
	if (!rc &&
	    mbedtls_x509_crt_verify(&crt, trust ? trust : &crt, NULL, NULL, &flags, NULL, NULL)) {
		mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags);
		fprintf(stderr, "%s: the new certificate does not verify: %s", prog, why);
		rc = -1;
	}
	mbedtls_x509_crt_free(&crt);
	return rc;
}

static int write_key_pem(const char *path, mbedtls_pk_context *pk)
{
	unsigned char pem[CERT_PEM_MAX];
	int rc = mbed_check(mbedtls_pk_write_key_pem(pk, pem, sizeof(pem)), "key encoding");

	/* tb_write_file creates the file with mode 0600 */
	if (!rc && tb_write_file(path, pem, strlen((const char *)pem)) != TB_OK) {
		fprintf(stderr, "%s: %s: cannot write\n", prog, path);
		rc = -1;
	}
	mbedtls_platform_zeroize(pem, sizeof(pem));
	return rc;
}

static int write_cert_pem(const char *path, const unsigned char *pem)
{
	if (tb_write_file(path, pem, strlen((const char *)pem)) != TB_OK) {
		fprintf(stderr, "%s: %s: cannot write\n", prog, path);
		return -1;
	}
	/* a certificate is public */
	chmod(path, 0644);
	return 0;
}

/* Sign, check, then write the key and the certificate. */
static int finish(mbedtls_x509write_cert *crt, mbedtls_pk_context *key, mbedtls_x509_crt *trust,
                  const char *key_path, const char *cert_path, struct cert_rng *r)
{
	unsigned char pem[CERT_PEM_MAX];

	if (mbed_check(
	        mbedtls_x509write_crt_pem(crt, pem, sizeof(pem), mbedtls_ctr_drbg_random, &r->drbg),
	        "signing the certificate") ||
	    self_check(pem, trust) || write_key_pem(key_path, key) ||
	    write_cert_pem(cert_path, pem))
		return -1;
	printf("certificate written to %s, its key to %s\n", cert_path, key_path);
	return 0;
}

static int make_ca(const struct cert_opts *o, struct cert_rng *r)
{
	mbedtls_x509write_cert crt;
	mbedtls_pk_context key;
	int rc;

	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&crt);
	rc = gen_key(&key, r) || cert_base(&crt, &key, &key, o->days, r) ||
	     set_cn(&crt, o->cn, 1) ||
	     mbed_check(mbedtls_x509write_crt_set_basic_constraints(&crt, 1, -1), "extensions") ||
	     mbed_check(mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_KEY_CERT_SIGN |
	                                                              MBEDTLS_X509_KU_CRL_SIGN),
	                "extensions") ||
	     finish(&crt, &key, NULL, o->ca_key, o->ca_cert, r);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&key);
	return rc ? -1 : 0;
}

/* The CA's key and certificate, which must belong together and be a CA. */
static int load_ca(const struct cert_opts *o, mbedtls_pk_context *key, mbedtls_x509_crt *crt)
{
	if (mbed_check(mbedtls_pk_parse_keyfile(key, o->ca_key, NULL), o->ca_key) ||
	    mbed_check(mbedtls_x509_crt_parse_file(crt, o->ca_cert), o->ca_cert))
		return -1;
	if (!crt->ca_istrue) {
		fprintf(stderr, "%s: %s: not a CA certificate\n", prog, o->ca_cert);
		return -1;
	}
	return mbed_check(mbedtls_pk_check_pair(&crt->pk, key),
	                  "the CA key does not match its certificate");
}

static int make_server(const struct cert_opts *o, const struct san_entry *san, size_t n_san,
                       struct cert_rng *r)
{
	mbedtls_pk_context ca_key, key;
	mbedtls_x509write_cert crt;
	mbedtls_x509_crt ca;
	int rc;

	mbedtls_pk_init(&ca_key);
	mbedtls_pk_init(&key);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509write_crt_init(&crt);
	rc = load_ca(o, &ca_key, &ca) || gen_key(&key, r) ||
	     cert_base(&crt, &key, &ca_key, o->days, r) || set_cn(&crt, o->cn, 0) ||
	     issuer_from_ca(&crt, &ca.subject) || server_extensions(&crt, san, n_san) ||
	     finish(&crt, &key, &ca, o->key, o->cert, r);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
	mbedtls_pk_free(&key);
	mbedtls_pk_free(&ca_key);
	return rc ? -1 : 0;
}

/* argv[0] is "ca" or "server"; 0 to run, -1 after --help, else EXIT_USAGE */
static int parse_cert_opts(int argc, char **argv, struct cert_opts *o)
{
	static const struct option longopts[] = {
	    {"cn", required_argument, NULL, 'c'},
	    {"san", required_argument, NULL, 's'},
	    {"days", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, want;

	o->days = CERT_DAYS_DEF;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'c':
			o->cn = optarg;
			break;
		case 's':
			o->san = optarg;
			break;
		case 'd':
			o->days = strtol(optarg, &end, 10);
			if (!isdigit((unsigned char)optarg[0]) || *end || o->days < 1 ||
			    o->days > CERT_DAYS_MAX)
				return usage_error(usage_cert, "bad --days %s (1 to %d)", optarg,
				                   CERT_DAYS_MAX);
			break;
		case 'h':
			fputs(usage_cert, stdout);
			return -1;
		default:
			fputs(usage_cert, stderr);
			return EXIT_USAGE;
		}
	}
	want = o->server ? 4 : 2;
	if (argc - optind != want)
		return usage_error(usage_cert, "cert %s needs %d files", argv[0], want);
	o->ca_key = argv[optind];
	o->ca_cert = argv[optind + 1];
	if (o->server) {
		o->key = argv[optind + 2];
		o->cert = argv[optind + 3];
		if (!o->cn)
			return usage_error(usage_cert, "%s", "cert server needs --cn");
	} else {
		if (o->san)
			return usage_error(usage_cert, "%s", "--san is for cert server");
		if (!o->cn)
			o->cn = "teep-broker test CA";
	}
	if (!cn_ok(o->cn))
		return usage_error(usage_cert, "bad --cn '%s'", o->cn);
	return 0;
}

static int cmd_cert(int argc, char **argv)
{
	struct cert_opts o = {0};
	struct san_entry san[CERT_SAN_MAX];
	struct cert_rng r;
	size_t n_san = 0;
	int rc;

	if (argc < 2)
		return usage_error(usage_cert, "%s", "cert needs ca or server");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_cert, stdout);
		return 0;
	}
	if (strcmp(argv[1], "ca") && strcmp(argv[1], "server"))
		return usage_error(usage_cert, "unknown kind %s (ca or server)", argv[1]);
	o.server = !strcmp(argv[1], "server");
	rc = parse_cert_opts(argc - 1, argv + 1, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.server && (o.san ? san_parse(o.san, san, &n_san) : san_from_cn(o.cn, san, &n_san)))
		return EXIT_USAGE;
	if (rng_init(&r)) {
		rng_free(&r);
		return 1;
	}
	rc = o.server ? make_server(&o, san, n_san, &r) : make_ca(&o, &r);
	rng_free(&r);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} commands[] = {
	    {"keygen", cmd_keygen}, {"manifest", cmd_manifest}, {"dump", cmd_dump},
	    {"verify", cmd_verify}, {"cert", cmd_cert},         {"ear-check", cmd_ear_check},
	};

	if (argc < 2)
		return usage_error(usage_main, "%s", "no command");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("teep-tool (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	return usage_error(usage_main, "unknown command %s", argv[1]);
}

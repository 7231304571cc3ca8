/*
 * TAM URIs compared the way the broker's allowlist does it ([tam]
 * allow_app_uris, docs/defences.md section 4): after a light normalisation,
 * byte for byte.
 *
 * Normalising lowers the case of the scheme and of the host, drops a port
 * that is the scheme's default (80 for http, 443 for https) and leading
 * zeros of any other, and writes an empty path as "/". Nothing else changes:
 * the path, the query and the fragment are compared exactly (no
 * percent-decoding, no dot-segment removal). A URI with user information
 * ("user@host") is refused: the broker never sends credentials in a URI, and
 * "trusted@evil" is a classic way to make a URI look like another.
 *
 * Pure functions, no allocation.
 */
#ifndef TB_TAMURI_H
#define TB_TAMURI_H

#include <stddef.h>

#define TB_TAMURI_MAX 1024 /* bytes of a normalised URI, with its NUL */

/*
 * Function: tb_tamuri_normalise
 * Normalise an http:// or https:// URI into out[0..cap).
 * Returns: TB_OK; TB_ERR_INVAL if uri is not an http(s) URI with a host
 * (another scheme, no host, user information, a bad port, a space or a
 * control character, an unclosed "[" of an IPv6 literal); TB_ERR_TOOBIG if
 * it does not fit in cap.
 */
int tb_tamuri_normalise(const char *uri, char *out, size_t cap);

/*
 * Function: tb_tamuri_list_check
 * Is list a valid allowlist: URIs separated by commas, spaces or tabs, each
 * one that tb_tamuri_normalise() accepts? *n gets the number of entries.
 * Returns: TB_OK or TB_ERR_INVAL (an empty list is invalid).
 */
int tb_tamuri_list_check(const char *list, size_t *n);

/*
 * Function: tb_tamuri_in_list
 * 1 if uri, normalised, equals an entry of list, normalised; else 0 (also
 * when uri or list is NULL, or uri cannot be normalised).
 */
int tb_tamuri_in_list(const char *uri, const char *list);

/* 1 if a and b normalise to the same URI; 0 otherwise (also on NULL). */
int tb_tamuri_equal(const char *a, const char *b);

#endif

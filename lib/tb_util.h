/* Small helpers shared by every program of the project. */
#ifndef TB_UTIL_H
#define TB_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Read a whole file, refusing files larger than max. *out is malloc()ed and
 * NUL-terminated (the terminator is not counted in *len). */
int tb_read_file(const char *path, size_t max, uint8_t **out, size_t *len);
/* Write atomically: a new file of a random name next to path (created with
 * O_EXCL | O_NOFOLLOW, mode 0600, ending in ".tmp"), fsync, rename over
 * path. A link planted at path is replaced, never written through. On
 * TB_ERR_IO errno says why. */
int tb_write_file(const char *path, const uint8_t *buf, size_t len);
/* Hex: decode ignoring whitespace (malloc()ed); encode lowercase. */
int tb_hex_decode(const char *hex, size_t hexlen, uint8_t **out, size_t *len);
/* The value of one hex digit, -1 if c is not one. */
int tb_hex_digit(int c);
void tb_hex_encode(const uint8_t *buf, size_t len, char *out /* 2*len+1 */);
uint64_t tb_now_ms(void); /* CLOCK_MONOTONIC */
/* Format a reason into err (when err and errlen allow) and return rc. */
int tb_err(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Parse "10", "10s", "500ms", "5m", "1h" into milliseconds. */
int tb_parse_duration_ms(const char *s, uint64_t *ms);
/* Parse "4096", "64k", "1M" into bytes. */
int tb_parse_size(const char *s, uint64_t *bytes);
/* Let the process open `want` files: the soft RLIMIT_NOFILE goes up to it,
 * the hard one too when the process may raise it (CAP_SYS_RESOURCE), else
 * the soft one stops at the hard one. Never lowers either. Returns the soft
 * limit in force after. */
uint64_t tb_raise_nofile(uint64_t want);

#endif

/*
 * A bounded CBOR writer over a caller's buffer. Once a write does not fit,
 * the buffer is marked full and every later write is a no-op: an encoder
 * writes a whole message without checking each step and learns once, at
 * the end, whether it fitted (w.full). Inline: it is on the answer path.
 */
#ifndef TB_CBOR_WRITER_H
#define TB_CBOR_WRITER_H

#include <cbor.h>
#include <stdint.h>
#include <string.h>

struct tb_cw {
	uint8_t *p; /* the buffer (not owned) */
	size_t cap; /* its size */
	size_t len; /* bytes written */
	int full;   /* a write did not fit: the output is incomplete */
};

static inline void tb_cw_advance(struct tb_cw *w, size_t n)
{
	if (n == 0)
		w->full = 1;
	else
		w->len += n;
}

static inline void tb_cw_uint(struct tb_cw *w, uint64_t v)
{
	if (!w->full)
		tb_cw_advance(w, cbor_encode_uint(v, w->p + w->len, w->cap - w->len));
}

static inline void tb_cw_int(struct tb_cw *w, int64_t v)
{
	if (w->full)
		return;
	if (v >= 0)
		tb_cw_advance(w, cbor_encode_uint((uint64_t)v, w->p + w->len, w->cap - w->len));
	else
		tb_cw_advance(
		    w, cbor_encode_negint((uint64_t)(-(v + 1)), w->p + w->len, w->cap - w->len));
}

static inline void tb_cw_map(struct tb_cw *w, size_t n)
{
	if (!w->full)
		tb_cw_advance(w, cbor_encode_map_start(n, w->p + w->len, w->cap - w->len));
}

static inline void tb_cw_array(struct tb_cw *w, size_t n)
{
	if (!w->full)
		tb_cw_advance(w, cbor_encode_array_start(n, w->p + w->len, w->cap - w->len));
}

static inline void tb_cw_null(struct tb_cw *w)
{
	if (!w->full)
		tb_cw_advance(w, cbor_encode_null(w->p + w->len, w->cap - w->len));
}

/* n bytes as they are (an already encoded item, or a string's content) */
static inline void tb_cw_raw(struct tb_cw *w, const void *src, size_t n)
{
	if (w->full)
		return;
	if (n > w->cap - w->len) {
		w->full = 1;
		return;
	}
	if (n)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static inline void tb_cw_text(struct tb_cw *w, const char *s, size_t n)
{
	if (!w->full)
		tb_cw_advance(w, cbor_encode_string_start(n, w->p + w->len, w->cap - w->len));
	tb_cw_raw(w, s, n);
}

/* a NUL-terminated string as CBOR text */
static inline void tb_cw_cstr(struct tb_cw *w, const char *s)
{
	tb_cw_text(w, s, strlen(s));
}

static inline void tb_cw_bytes(struct tb_cw *w, const uint8_t *s, size_t n)
{
	if (!w->full)
		tb_cw_advance(w, cbor_encode_bytestring_start(n, w->p + w->len, w->cap - w->len));
	tb_cw_raw(w, s, n);
}

#endif

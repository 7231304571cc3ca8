/*
 * CBOR decoding whose definite-length byte strings stay in the input: a
 * TEEP Update of a large component holds the component in a byte string
 * (COSE payload, manifest-list entry, integrated payload), and each
 * cbor_load() of a layer would copy it once more.
 *
 * This is cbor_load()'s loop over libcbor 0.8's own builder callbacks,
 * with one callback changed: a definite-length byte string gets a handle
 * into the input instead of a copy. The one-byte heads of tags 6..20,
 * which libcbor 0.8 refuses (see cbor.c), are given to its tag callback
 * here, so no rewritten copy of the input is needed either.
 *
 * Where libcbor's internal headers are not installed, the decode is
 * tb_cbor_decode() (copies), which every caller also handles.
 */
#include "config.h"

#include "tb_cbor.h"

#include <teep-broker/driver.h>

#ifdef HAVE_CBOR_INTERNAL_BUILDER_CALLBACKS_H
#include <cbor/internal/builder_callbacks.h>
#include <cbor/internal/stack.h>

/* libcbor 0.8 exports its builder's append step without declaring it in
 * builder_callbacks.h */
void _cbor_builder_append(cbor_item_t *item, struct _cbor_decoder_context *ctx);

static void borrow_byte_string(void *context, cbor_data data, size_t length)
{
	struct _cbor_decoder_context *ctx = context;
	cbor_item_t *item;

	/* a chunk of an indefinite-length string: libcbor's copy */
	if (ctx->stack->size > 0 && cbor_isa_bytestring(ctx->stack->top->item)) {
		cbor_builder_byte_string_callback(context, data, length);
		return;
	}
	item = cbor_new_definite_bytestring();
	if (!item) {
		ctx->creation_failed = true;
		return;
	}
	cbor_bytestring_set_handle(item, (cbor_mutable_data)data, length);
	/* our own reference, so that a failed append cannot free() the
	 * borrowed handle */
	cbor_incref(item);
	_cbor_builder_append(item, ctx);
	if (ctx->creation_failed || ctx->syntax_error)
		cbor_bytestring_set_handle(item, NULL, 0);
	cbor_decref(&item);
}

static int in_range(const void *p, const uint8_t *lo, const uint8_t *hi)
{
	return (const uint8_t *)p >= lo && (const uint8_t *)p <= hi;
}

/* Take the borrowed handles out of item, so that freeing it frees none.
 * The recursion is as deep as the item, which tb_cbor_check() bounded
 * (tags count as a level there too). */
static void detach(cbor_item_t *item, const uint8_t *lo, const uint8_t *hi)
{
	if (!item)
		return;
	switch (cbor_typeof(item)) {
	case CBOR_TYPE_BYTESTRING:
		if (cbor_bytestring_is_definite(item) &&
		    in_range(cbor_bytestring_handle(item), lo, hi))
			cbor_bytestring_set_handle(item, NULL, 0);
		break;
	case CBOR_TYPE_ARRAY:
		for (size_t i = 0; i < cbor_array_size(item); i++)
			detach(cbor_array_handle(item)[i], lo, hi);
		break;
	case CBOR_TYPE_MAP:
		for (size_t i = 0; i < cbor_map_size(item); i++) {
			detach(cbor_map_handle(item)[i].key, lo, hi);
			detach(cbor_map_handle(item)[i].value, lo, hi);
		}
		break;
	case CBOR_TYPE_TAG:
		/* not cbor_tag_item(): a tag still on the decoder's stack has
		 * no item yet */
		detach(item->metadata.tag_metadata.tagged_item, lo, hi);
		break;
	default:
		break;
	}
}

void tb_cbor_borrowed_free(cbor_item_t **item, const uint8_t *buf, size_t len)
{
	if (!item || !*item)
		return;
	detach(*item, buf, buf + len);
	cbor_decref(item);
}

static const struct cbor_callbacks borrow_callbacks = {
    .uint8 = cbor_builder_uint8_callback,
    .uint16 = cbor_builder_uint16_callback,
    .uint32 = cbor_builder_uint32_callback,
    .uint64 = cbor_builder_uint64_callback,
    .negint8 = cbor_builder_negint8_callback,
    .negint16 = cbor_builder_negint16_callback,
    .negint32 = cbor_builder_negint32_callback,
    .negint64 = cbor_builder_negint64_callback,
    .byte_string_start = cbor_builder_byte_string_start_callback,
    .byte_string = borrow_byte_string,
    .string = cbor_builder_string_callback,
    .string_start = cbor_builder_string_start_callback,
    .indef_array_start = cbor_builder_indef_array_start_callback,
    .array_start = cbor_builder_array_start_callback,
    .indef_map_start = cbor_builder_indef_map_start_callback,
    .map_start = cbor_builder_map_start_callback,
    .tag = cbor_builder_tag_callback,
    .float2 = cbor_builder_float2_callback,
    .float4 = cbor_builder_float4_callback,
    .float8 = cbor_builder_float8_callback,
    .undefined = cbor_builder_undefined_callback,
    .null = cbor_builder_null_callback,
    .boolean = cbor_builder_boolean_callback,
    .indef_break = cbor_builder_indef_break_callback,
};

int tb_cbor_decode_borrowed(const uint8_t *buf, size_t len, cbor_item_t **out, const char **why)
{
	struct _cbor_stack stack = _cbor_stack_init();
	struct _cbor_decoder_context ctx = {.stack = &stack};
	struct cbor_decoder_result r;
	size_t read = 0;
	int rc;

	*out = NULL;
	rc = tb_cbor_check(buf, len, TB_CBOR_MAX_DEPTH, why);
	if (rc != TB_OK)
		return rc;
	if (why)
		*why = NULL;
	do {
		if (read >= len) {
			rc = TB_ERR_PARSE; /* tb_cbor_check saw one whole item */
			break;
		}
		if (buf[read] >= 0xc6 && buf[read] <= 0xd4) {
			cbor_builder_tag_callback(&ctx, buf[read] - 0xc0u);
			read++;
		} else {
			r = cbor_stream_decode(buf + read, len - read, &borrow_callbacks, &ctx);
			if (r.status != CBOR_DECODER_FINISHED) {
				rc = TB_ERR_UNSUP;
				break;
			}
			read += r.read;
		}
		if (ctx.creation_failed) {
			rc = TB_ERR_NOMEM;
			break;
		}
		if (ctx.syntax_error) {
			rc = TB_ERR_UNSUP;
			break;
		}
	} while (stack.size > 0);
	if (rc == TB_OK && (read != len || !ctx.root))
		rc = TB_ERR_UNSUP;
	if (rc != TB_OK) {
		while (stack.size > 0) {
			detach(stack.top->item, buf, buf + len);
			cbor_decref(&stack.top->item);
			_cbor_stack_pop(&stack);
		}
		if (ctx.root)
			tb_cbor_borrowed_free(&ctx.root, buf, len);
		if (why)
			*why = rc == TB_ERR_NOMEM
			           ? "out of memory"
			           : "libcbor refused the item (unassigned simple value "
			             "or invalid UTF-8?)";
		return rc;
	}
	*out = ctx.root;
	return TB_OK;
}

int tb_cbor_borrows(void)
{
	return 1;
}

#else

int tb_cbor_decode_borrowed(const uint8_t *buf, size_t len, cbor_item_t **out, const char **why)
{
	return tb_cbor_decode(buf, len, out, why);
}

void tb_cbor_borrowed_free(cbor_item_t **item, const uint8_t *buf, size_t len)
{
	(void)buf;
	(void)len;
	if (item && *item)
		cbor_decref(item);
}

int tb_cbor_borrows(void)
{
	return 0;
}

#endif

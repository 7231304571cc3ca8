/*
 * Single flight: the table of exchanges that identical requests may join
 * (flight.h).
 */
#include "config.h"
#include "flight.h"

#include <teep-broker/driver.h>

#include <stdlib.h>
#include <string.h>

static struct tb_flight *flight_of(struct tb_kt_node *n)
{
	return (struct tb_flight *)(void *)n;
}

int tb_flight_key(uint8_t *out, size_t cap, size_t *len, unsigned tee, unsigned op,
                  const struct tb_component_id *component, const char *tam)
{
	size_t n_segs = component ? component->n : 0;
	size_t tam_len = tam ? strlen(tam) : 0;
	size_t need = 3 + 2 + tam_len, o = 0;

	*len = 0;
	if (tee > 255 || op > 255 || n_segs > 255 || tam_len > 65535)
		return TB_ERR_INVAL;
	for (size_t i = 0; i < n_segs; i++) {
		if (component->seg[i].len > 255)
			return TB_ERR_INVAL;
		need += 1 + component->seg[i].len;
	}
	if (need > cap)
		return TB_ERR_TOOBIG;
	out[o++] = (uint8_t)tee;
	out[o++] = (uint8_t)op;
	out[o++] = (uint8_t)n_segs;
	for (size_t i = 0; i < n_segs; i++) {
		out[o++] = (uint8_t)component->seg[i].len;
		if (component->seg[i].len)
			memcpy(out + o, component->seg[i].ptr, component->seg[i].len);
		o += component->seg[i].len;
	}
	/* 0: no TAM; a URI is never empty */
	out[o++] = (uint8_t)(tam_len >> 8);
	out[o++] = (uint8_t)tam_len;
	if (tam_len)
		memcpy(out + o, tam, tam_len);
	o += tam_len;
	*len = o;
	return TB_OK;
}

int tb_flights_init(struct tb_flights *f, uint32_t max, const uint8_t seed[TB_KT_SEED_LEN])
{
	int rc;

	memset(f, 0, sizeof(*f));
	rc = tb_kt_init(&f->kt, max, seed);
	if (rc != TB_OK)
		return rc;
	f->max = max;
	f->ready = 1;
	return TB_OK;
}

static void release(struct tb_kt_node *n, void *arg)
{
	(void)arg;
	free(flight_of(n));
}

void tb_flights_fini(struct tb_flights *f)
{
	if (f->ready)
		tb_kt_fini(&f->kt, release, NULL);
	memset(f, 0, sizeof(*f));
}

struct tb_flight *tb_flight_find(const struct tb_flights *f, const uint8_t *key, size_t len)
{
	struct tb_kt_node *n;

	if (!f->ready || len > TB_FLIGHT_KEY_MAX)
		return NULL;
	n = tb_kt_find(&f->kt, key, len, tb_kt_hash(&f->kt, key, len));
	return n ? flight_of(n) : NULL;
}

int tb_flight_open(struct tb_flights *f, const uint8_t *key, size_t len, void *owner,
                   struct tb_flight **out)
{
	struct tb_flight *fl;

	*out = NULL;
	if (!f->ready || !len || len > TB_FLIGHT_KEY_MAX)
		return TB_ERR_INVAL;
	if (tb_flight_find(f, key, len))
		return TB_ERR_STATE;
	if (f->kt.count >= f->max)
		return TB_ERR_TOOBIG;
	fl = calloc(1, sizeof(*fl) + len);
	if (!fl)
		return TB_ERR_NOMEM;
	memcpy(fl->key, key, len);
	fl->keylen = (uint32_t)len;
	fl->owner = owner;
	fl->waiters = 1;
	fl->node.key = fl->key;
	fl->node.keylen = (uint32_t)len;
	fl->node.hash = tb_kt_hash(&f->kt, key, len);
	tb_kt_insert(&f->kt, &fl->node);
	/* flights are never evicted: off the LRU list */
	tb_kt_lru_unlink(&f->kt, &fl->node);
	*out = fl;
	return TB_OK;
}

int tb_flight_join(struct tb_flight *fl, uint32_t max_waiters)
{
	if (fl->waiters >= max_waiters)
		return TB_ERR_TOOBIG;
	fl->waiters++;
	return TB_OK;
}

void tb_flight_close(struct tb_flights *f, struct tb_flight *fl)
{
	if (!fl)
		return;
	tb_kt_remove(&f->kt, &fl->node);
	free(fl);
}

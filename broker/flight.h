/*
 * Single flight (docs/defences.md section 5): the exchanges in flight that
 * an identical request may join instead of starting its own, keyed by what
 * makes requests identical (the TEE, the op, the component id, the TAM the
 * app suggests).
 *
 * A flight belongs to its owner (the broker's session) from tb_flight_open()
 * to tb_flight_close(); it counts the requests waiting on it, the first
 * included, and refuses joins beyond a bound. The table has a fixed size,
 * set at init; a full table opens no more flights (the owner then runs
 * alone). Keys come from apps, so the table hashes them with a keyed
 * SipHash (keytable.h).
 *
 * Single-threaded: the caller serialises every call on one table.
 */
#ifndef TB_FLIGHT_H
#define TB_FLIGHT_H

#include "keytable.h"
#include "tb_teep.h"

#include <stddef.h>
#include <stdint.h>

/* The largest key: TEE, op, 8 segments of 64 bytes, a 1 KiB TAM URI. */
#define TB_FLIGHT_KEY_MAX 2048

struct tb_flight {
	struct tb_kt_node node; /* first: a node pointer is a flight pointer */
	void *owner;
	uint32_t waiters; /* requests waiting on it, the first included */
	uint32_t keylen;
	uint8_t key[];
};

struct tb_flights {
	struct tb_kt kt;
	uint32_t max;
	int ready;
};

/*
 * Function: tb_flight_key
 * The key of a request into out[0..cap): tee (an index), op, the component
 * id (n == 0: none), the TAM URI as the app gave it, normalised (NULL:
 * none). Every field is length-prefixed, so two different requests never
 * share a key.
 * Returns: TB_OK, TB_ERR_INVAL (tee or op over 255, a segment over 255
 * bytes), TB_ERR_TOOBIG (cap too small).
 */
int tb_flight_key(uint8_t *out, size_t cap, size_t *len, unsigned tee, unsigned op,
                  const struct tb_component_id *component, const char *tam);

/* Room for max flights (1..TB_KT_MAX_KEYS). TB_OK, TB_ERR_INVAL, TB_ERR_NOMEM. */
int tb_flights_init(struct tb_flights *f, uint32_t max, const uint8_t seed[TB_KT_SEED_LEN]);
/* Free the flights still open, then the table. */
void tb_flights_fini(struct tb_flights *f);

/* The flight with this key, or NULL. */
struct tb_flight *tb_flight_find(const struct tb_flights *f, const uint8_t *key, size_t len);

/*
 * Function: tb_flight_open
 * A new flight for owner, with one waiter (the owner's request).
 * Returns: TB_OK (*out set), TB_ERR_STATE (the key has a flight already),
 * TB_ERR_TOOBIG (the table is full), TB_ERR_NOMEM, TB_ERR_INVAL.
 */
int tb_flight_open(struct tb_flights *f, const uint8_t *key, size_t len, void *owner,
                   struct tb_flight **out);

/*
 * Function: tb_flight_join
 * One more request waits on fl, if fewer than max_waiters do already.
 * Returns: TB_OK, or TB_ERR_TOOBIG (full; nothing counted).
 */
int tb_flight_join(struct tb_flight *fl, uint32_t max_waiters);

/* The flight ends: nobody may join it any more. Frees fl. */
void tb_flight_close(struct tb_flights *f, struct tb_flight *fl);

#endif

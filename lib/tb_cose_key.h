/*
 * COSE_Key (RFC 9052 section 7) for P-256 public keys, and the COSE Key
 * Thumbprint of RFC 9679: SHA-256 over the deterministic CBOR encoding of
 * the required members of an EC2 key, {1: 2, -1: 1, -2: x, -3: y}, in
 * that (bytewise lexicographic) order.
 */
#ifndef TB_COSE_KEY_H
#define TB_COSE_KEY_H

#include <cbor.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_cose.h"

#define TB_COSE_KEY_KTY  1
#define TB_COSE_KEY_ALG  3
#define TB_COSE_KEY_CRV  (-1)
#define TB_COSE_KEY_X    (-2)
#define TB_COSE_KEY_Y    (-3)
#define TB_COSE_KTY_EC2  2
#define TB_COSE_CRV_P256 1

/* RFC 9679 thumbprint of the P-256 public key (x, y). */
int tb_cose_key_thumbprint_xy(const uint8_t x[32], const uint8_t y[32], uint8_t out[32]);
/* The same for a key: the kid the sim Agent puts in its COSE headers. */
int tb_cose_key_thumbprint(const struct tb_key *key, uint8_t out[32]);

/* {1: 2, 3: alg, -1: 1, -2: x, -3: y} as a new libcbor item (NULL: out of
 * memory). alg 0: no alg member. */
cbor_item_t *tb_cose_key_build(const uint8_t x[32], const uint8_t y[32], int alg);
/* Read an EC2 P-256 COSE_Key map: TB_OK, or TB_ERR_PARSE naming nothing
 * (the caller says where it was). *alg gets 0 when the map has none. */
int tb_cose_key_parse(const cbor_item_t *map, uint8_t x[32], uint8_t y[32], int *alg);

#endif

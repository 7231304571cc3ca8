/*
 * libFuzzer target for the configuration reader (broker/conf.c), through
 * tb_conf_load_string() on a NUL-terminated copy of the input. A file the
 * reader accepts must hold a consistent configuration.
 */
#include "conf.h"

#include <teep-broker/driver.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_accepted(const struct tb_conf *c)
{
	check(c->n_drivers >= 1 && c->n_drivers <= TB_CONF_MAX_DRIVERS);
	check(c->n_tams <= TB_CONF_MAX_TAMS);
	check(c->listener.address && c->driver_dir);
	for (size_t i = 0; i < c->n_tams; i++)
		check(c->tams[i].name && c->tams[i].uri);
	for (size_t i = 0; i < c->n_drivers; i++) {
		check(c->drivers[i].name && c->drivers[i].path);
		check(tb_conf_find_tam(c, c->drivers[i].tam) != NULL);
		check(c->drivers[i].n_opts <= TB_CONF_MAX_OPTS);
	}
	check(c->n_limits <= TB_CONF_MAX_LIMITS);
	for (size_t i = 0; i < c->n_limits; i++) {
		const struct tb_conf_limit *l = &c->limits[i];
		check(l->name && l->rate_milli > 0 && l->max_keys > 0);
		check(l->applies_to == TB_LIMIT_MESSAGES || l->applies_to == TB_LIMIT_TEE_CALLS);
		check(!(l->nodelay && l->delay));
		check(l->key >= TB_LIMIT_KEY_ADDRESS && l->key <= TB_LIMIT_KEY_CONNECTION);
		/* a key per TEE or per TAM counts TEE calls only */
		check(l->applies_to == TB_LIMIT_TEE_CALLS ||
		      (l->key != TB_LIMIT_KEY_TEE && l->key != TB_LIMIT_KEY_TAM));
	}
	check(c->plugin_dir && c->n_plugins <= TB_CONF_MAX_PLUGINS);
	for (size_t i = 0; i < c->n_plugins; i++)
		check(c->plugins[i].name && c->plugins[i].path &&
		      c->plugins[i].n_opts <= TB_CONF_MAX_OPTS);
	check(c->ban.allow && c->ban.threshold > 0 && c->ban.half_life_ms > 0);
	check(c->ban.ban_time_ms > 0 && c->ban.ban_time_max_ms >= c->ban.ban_time_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tb_conf_error errs[TB_CONF_MAX_ERRORS];
	struct tb_conf conf;
	size_t n = 0;
	char *text;
	int rc;

	if (size > 256 * 1024)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	rc = tb_conf_load_string(text, &conf, errs, &n);
	check(n <= TB_CONF_MAX_ERRORS);
	if (rc == TB_OK) {
		check(n == 0);
		check_accepted(&conf);
	} else {
		check(n > 0);
		for (size_t i = 0; i < n; i++)
			check(errs[i].line >= 0 && memchr(errs[i].msg, 0, sizeof(errs[i].msg)));
	}
	tb_conf_free(&conf);
	free(text);
	return 0;
}

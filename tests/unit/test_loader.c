/* The loader refuses every malformed driver and plugin with a clear sentence. */
#include "config.h"
#include "loader.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void expect_refusal(const char *module, int status, const char *words)
{
	struct tb_loaded_driver ld;
	char err[512] = "";
	int rc = tb_loader_open(module, TEST_MODULE_DIR, &ld, err, sizeof(err));
	assert_int_equal(rc, status);
	if (!strstr(err, words))
		fail_msg("message '%s' lacks '%s'", err, words);
	assert_null(ld.handle);
}

static void loader__good_driver__loads(void **state)
{
	struct tb_loaded_driver ld;
	char err[512] = "";
	assert_int_equal(tb_loader_open("drv_good", TEST_MODULE_DIR, &ld, err, sizeof(err)), TB_OK);
	assert_non_null(ld.handle);
	assert_string_equal(ld.drv->name, "fake");
	assert_non_null(ld.ops.init);
	tb_loader_close(&ld);
	assert_null(ld.handle);
}

/* A driver built against ABI 1.0 loads into a 1.1 broker: what 1.1 appended
 * to the descriptor reads as absent (one call at a time). */
static void loader__abi_1_0_driver__loads(void **state)
{
	struct tb_loaded_driver ld;
	char err[512] = "";
	assert_int_equal(tb_loader_open("drv_abi10", TEST_MODULE_DIR, &ld, err, sizeof(err)),
	                 TB_OK);
	assert_int_equal(ld.drv->abi_minor, 0);
	assert_true(ld.drv->struct_size < sizeof(struct tb_driver));
	assert_int_equal(ld.ops.max_concurrency, 0);
	assert_non_null(ld.ops.process_error);
	tb_loader_close(&ld);
}

/* A 1.1 driver loads, with what it declares past 1.0. */
static void loader__abi_1_1_driver__loads(void **state)
{
	struct tb_loaded_driver ld;
	char err[512] = "";
	assert_int_equal(tb_loader_open("drv11", TEST_MODULE_DIR, &ld, err, sizeof(err)), TB_OK);
	assert_int_equal(ld.drv->abi_minor, 1);
	assert_int_equal(ld.ops.max_concurrency, 2);
	tb_loader_close(&ld);
}

static void loader__bad_magic__refused(void **state)
{
	expect_refusal("drv_badmagic", TB_ERR_INVAL, "bad magic");
}

static void loader__wrong_major__refused(void **state)
{
	expect_refusal("drv_major", TB_ERR_UNSUP, "major versions differ");
}

static void loader__newer_minor__refused(void **state)
{
	expect_refusal("drv_minor", TB_ERR_UNSUP, "newer than the broker");
}

static void loader__short_struct__refused(void **state)
{
	expect_refusal("drv_short", TB_ERR_INVAL, "descriptor size");
}

static void loader__missing_symbol__refused(void **state)
{
	expect_refusal("drv_noentry", TB_ERR_INVAL, "does not export tb_driver_entry");
}

static void loader__missing_required_op__refused(void **state)
{
	expect_refusal("drv_noinit", TB_ERR_INVAL, "lacks the required operation init");
}

static void loader__missing_file__refused(void **state)
{
	expect_refusal("drv_does_not_exist", TB_ERR_IO, "cannot load");
}

static void loader__not_a_shared_object__refused(void **state)
{
	expect_refusal(TEST_DATA_DIR "/vectors/teep.cddl", TB_ERR_IO, "cannot load");
}

static void loader__check_descriptor_in_memory(void **state)
{
	struct tb_driver d = {0};
	char err[256];
	d.magic = TB_DRIVER_MAGIC;
	d.abi_major = TB_DRIVER_ABI_MAJOR;
	d.struct_size = sizeof(d);
	assert_int_equal(tb_loader_check(&d, sizeof(d), err, sizeof(err)), TB_ERR_INVAL);
	assert_non_null(strstr(err, "no name"));
	d.name = "x";
	assert_int_equal(tb_loader_check(&d, sizeof(d), err, sizeof(err)), TB_ERR_INVAL);
	assert_non_null(strstr(err, "required operation init"));
}

/* ---- plugins: the same rules ------------------------------------------- */

static void expect_plugin_refusal(const char *module, int status, const char *words)
{
	struct tb_loaded_plugin lp;
	char err[512] = "";
	int rc = tb_plugin_open(module, TEST_MODULE_DIR, &lp, err, sizeof(err));
	assert_int_equal(rc, status);
	if (!strstr(err, words))
		fail_msg("message '%s' lacks '%s'", err, words);
	assert_null(lp.handle);
}

static void loader__good_plugin__loads_with_absent_hooks_null(void **state)
{
	struct tb_loaded_plugin lp;
	char err[512] = "";
	assert_int_equal(tb_plugin_open("plg_good", TEST_MODULE_DIR, &lp, err, sizeof(err)), TB_OK);
	assert_non_null(lp.handle);
	assert_string_equal(lp.pl->name, "fake");
	assert_non_null(lp.ops.init);
	assert_non_null(lp.ops.fini);
	assert_null(lp.ops.authenticate);
	assert_null(lp.ops.app_op);
	tb_plugin_close(&lp);
	assert_null(lp.handle);
}

static void loader__bad_plugins__refused(void **state)
{
	expect_plugin_refusal("plg_badmagic", TB_ERR_INVAL,
	                      "bad magic 0x12345678 (not a teep-broker plugin)");
	expect_plugin_refusal("plg_major", TB_ERR_UNSUP,
	                      "plugin ABI 99.2, broker ABI 1.2: major versions differ");
	expect_plugin_refusal("plg_minor", TB_ERR_UNSUP,
	                      "plugin ABI 1.77 is newer than the broker's 1.2");
	expect_plugin_refusal("plg_short", TB_ERR_INVAL, "descriptor size 16");
	expect_plugin_refusal("plg_noentry", TB_ERR_INVAL,
	                      "does not export tb_plugin_entry: not a teep-broker plugin");
	expect_plugin_refusal("plg_nofini", TB_ERR_INVAL,
	                      "plugin 'fake' lacks the required operation fini");
	expect_plugin_refusal("plg_does_not_exist", TB_ERR_IO, "cannot load");
}

static void loader__driver_and_plugin__not_mistaken_for_each_other(void **state)
{
	struct tb_loaded_driver ld;
	char err[512] = "";

	expect_plugin_refusal("drv_good", TB_ERR_INVAL, "does not export tb_plugin_entry");
	assert_int_equal(tb_loader_open("plg_good", TEST_MODULE_DIR, &ld, err, sizeof(err)),
	                 TB_ERR_INVAL);
	assert_non_null(strstr(err, "does not export tb_driver_entry"));
}

static void loader__check_plugin_descriptor_in_memory(void **state)
{
	struct tb_plugin p = {0};
	struct tb_driver d = {0};
	char err[256];

	p.magic = TB_PLUGIN_MAGIC;
	p.abi_major = TB_PLUGIN_ABI_MAJOR;
	p.struct_size = sizeof(p);
	p.name = "x";
	assert_int_equal(tb_plugin_check(&p, sizeof(p), err, sizeof(err)), TB_ERR_INVAL);
	assert_non_null(strstr(err, "required operation init"));
	/* a descriptor from a later minor is accepted up to what we know */
	p.struct_size = sizeof(p) + 64;
	assert_int_equal(tb_plugin_check(&p, sizeof(p), err, sizeof(err)), TB_ERR_INVAL);
	assert_non_null(strstr(err, "descriptor size"));
	/* a driver's magic is no plugin's */
	d.magic = TB_DRIVER_MAGIC;
	assert_int_equal(tb_plugin_check((const struct tb_plugin *)(const void *)&d, sizeof(p), err,
	                                 sizeof(err)),
	                 TB_ERR_INVAL);
	assert_non_null(strstr(err, "not a teep-broker plugin"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(loader__good_driver__loads),
	    cmocka_unit_test(loader__abi_1_0_driver__loads),
	    cmocka_unit_test(loader__abi_1_1_driver__loads),
	    cmocka_unit_test(loader__bad_magic__refused),
	    cmocka_unit_test(loader__wrong_major__refused),
	    cmocka_unit_test(loader__newer_minor__refused),
	    cmocka_unit_test(loader__short_struct__refused),
	    cmocka_unit_test(loader__missing_symbol__refused),
	    cmocka_unit_test(loader__missing_required_op__refused),
	    cmocka_unit_test(loader__missing_file__refused),
	    cmocka_unit_test(loader__not_a_shared_object__refused),
	    cmocka_unit_test(loader__check_descriptor_in_memory),
	    cmocka_unit_test(loader__good_plugin__loads_with_absent_hooks_null),
	    cmocka_unit_test(loader__bad_plugins__refused),
	    cmocka_unit_test(loader__driver_and_plugin__not_mistaken_for_each_other),
	    cmocka_unit_test(loader__check_plugin_descriptor_in_memory),
	};
	return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}

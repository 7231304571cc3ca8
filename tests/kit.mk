# The kit for driver and plugin authors: the skeletons built out of tree
# against an installed tree, and teep-driver-check against the shipped
# drivers and against drivers with one defect each.
BROKEN_DRV_LDFLAGS = -module -avoid-version -shared -rpath /nowhere $(SANITIZE_CFLAGS)
BROKEN_DRV_SRC = tests/unit/broken_drivers/broken.c
check_LTLIBRARIES += tests/unit/broken_drivers/brk_good.la \
	tests/unit/broken_drivers/brk_magic.la tests/unit/broken_drivers/brk_no_op.la \
	tests/unit/broken_drivers/brk_foreign.la tests/unit/broken_drivers/brk_err_out.la \
	tests/unit/broken_drivers/brk_loop.la tests/unit/broken_drivers/brk_crash.la \
	tests/unit/broken_drivers/brk_leak.la tests/unit/broken_drivers/brk_deaf.la \
	tests/unit/broken_drivers/brk_hang.la tests/unit/broken_drivers/brk_race.la \
	tests/unit/broken_drivers/brk_now.la
tests_unit_broken_drivers_brk_good_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_good_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_magic_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_magic_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_MAGIC
tests_unit_broken_drivers_brk_magic_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_no_op_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_no_op_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_NO_OP
tests_unit_broken_drivers_brk_no_op_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_foreign_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_foreign_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_FOREIGN
tests_unit_broken_drivers_brk_foreign_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_err_out_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_err_out_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_ERR_OUT
tests_unit_broken_drivers_brk_err_out_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_loop_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_loop_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_LOOP
tests_unit_broken_drivers_brk_loop_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_crash_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_crash_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_CRASH
tests_unit_broken_drivers_brk_crash_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_leak_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_leak_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_LEAK
tests_unit_broken_drivers_brk_leak_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_deaf_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_deaf_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_DEAF
tests_unit_broken_drivers_brk_deaf_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_hang_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_hang_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_HANG
tests_unit_broken_drivers_brk_hang_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_race_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_race_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_RACE
tests_unit_broken_drivers_brk_race_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)
tests_unit_broken_drivers_brk_now_la_SOURCES = $(BROKEN_DRV_SRC)
tests_unit_broken_drivers_brk_now_la_CFLAGS = $(AM_CFLAGS) -DBROKEN_NOW
tests_unit_broken_drivers_brk_now_la_LDFLAGS = $(BROKEN_DRV_LDFLAGS)

# The optee driver on an emulated OP-TEE, for teep-driver-check: its own
# code, teec.c included, with open, ioctl and close of /dev/teeN wrapped, and
# a TEEP Agent TA that is the software Agent behind the documented TA
# interface (tests/unit/optee_emul/emul.h).
check_LTLIBRARIES += tests/unit/optee_emul.la
tests_unit_optee_emul_la_SOURCES = tests/unit/optee_emul/emul.h tests/unit/optee_emul/dev.c \
	tests/unit/optee_emul/ta.c drivers/optee/optee.c drivers/optee/teec.c \
	drivers/optee/teec.h drivers/optee/teep_agent_ta.h drivers/sim/agent.c drivers/sim/agent.h
tests_unit_optee_emul_la_CFLAGS = $(AM_CFLAGS) $(CBOR_CFLAGS) -I$(top_srcdir)/drivers/optee \
	-I$(top_srcdir)/drivers/sim -Dtb_driver_entry=optee_driver_entry
tests_unit_optee_emul_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere \
	$(SANITIZE_CFLAGS) -Wl,--wrap=open -Wl,--wrap=close -Wl,--wrap=ioctl
tests_unit_optee_emul_la_LIBADD = libtbcommon.la $(CBOR_LIBS) $(MBEDTLS_LIBS)

KIT_TESTS = tests/integration/kit_out_of_tree.sh tests/integration/driver_check.sh
TESTS += $(KIT_TESTS)
EXTRA_DIST += $(KIT_TESTS)

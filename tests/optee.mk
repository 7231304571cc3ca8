# The "optee" driver: unit tests through a mocked kernel (the driver's
# system calls wrapped at link time, see tests/unit/test_optee.c), and the
# broker's refusal to start without a TEE device.
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_optee
TESTS += tests/unit/test_optee
tests_unit_test_optee_SOURCES = tests/unit/test_optee.c drivers/optee/optee.c \
	drivers/optee/teec.c drivers/optee/teec.h drivers/optee/teep_agent_ta.h
tests_unit_test_optee_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/drivers/optee
tests_unit_test_optee_LDFLAGS = -Wl,--wrap=open -Wl,--wrap=close -Wl,--wrap=ioctl \
	-Wl,--wrap=mmap -Wl,--wrap=munmap
tests_unit_test_optee_LDADD = $(UNIT_LDADD)
endif

OPTEE_INTEGRATION_TESTS = tests/integration/optee_missing.sh
TESTS += $(OPTEE_INTEGRATION_TESTS)
EXTRA_DIST += $(OPTEE_INTEGRATION_TESTS)

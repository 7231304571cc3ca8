# Unit tests of the software TEE driver "sim": the test plays the TAM and
# drives the Agent through the driver's own ops table.
if ENABLE_UNIT_TESTS
check_PROGRAMS += tests/unit/test_sim
TESTS += tests/unit/test_sim
tests_unit_test_sim_SOURCES = tests/unit/test_sim.c drivers/sim/sim.c drivers/sim/agent.c \
	drivers/sim/agent.h
tests_unit_test_sim_CFLAGS = $(UNIT_CFLAGS) -I$(top_srcdir)/drivers/sim
tests_unit_test_sim_LDADD = $(UNIT_LDADD)
endif

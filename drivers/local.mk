# Software TEE driver: a TEEP Agent in software. NOT a TEE.
driver_LTLIBRARIES += sim.la
sim_la_SOURCES = drivers/sim/sim.c drivers/sim/agent.c drivers/sim/agent.h
sim_la_CFLAGS = $(AM_CFLAGS) $(CBOR_CFLAGS) -fvisibility=hidden
sim_la_LDFLAGS = $(MODULE_LDFLAGS) -export-symbols-regex '^tb_driver_entry$$'
sim_la_LIBADD = libtbcommon.la $(CBOR_LIBS) $(MBEDTLS_LIBS)

# The "agent" driver: a TEEP Agent in another process (teep-agentd) over the
# Agent protocol on a unix socket or vsock.
driver_LTLIBRARIES += agent.la
agent_la_SOURCES = drivers/agent/agent_drv.c
agent_la_CFLAGS = $(AM_CFLAGS) $(CBOR_CFLAGS) -fvisibility=hidden
agent_la_LDFLAGS = $(MODULE_LDFLAGS) -export-symbols-regex '^tb_driver_entry$$'
agent_la_LIBADD = libtbcommon.la $(CBOR_LIBS) $(MBEDTLS_LIBS)

# The "optee" driver: a TEEP Agent TA in OP-TEE through the Linux TEE
# subsystem (/dev/teeN, <linux/tee.h> ioctls only).
driver_LTLIBRARIES += optee.la
optee_la_SOURCES = drivers/optee/optee.c drivers/optee/teec.c drivers/optee/teec.h \
	drivers/optee/teep_agent_ta.h
optee_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
optee_la_LDFLAGS = $(MODULE_LDFLAGS) -export-symbols-regex '^tb_driver_entry$$'
optee_la_LIBADD = libtbcommon.la $(CBOR_LIBS) $(MBEDTLS_LIBS)
dist_doc_DATA += docs/optee-driver.md

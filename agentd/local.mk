# teep-agentd: the software TEEP Agent (drivers/sim) as a process, serving
# the Agent protocol (docs/agent-protocol.md) on AF_UNIX or AF_VSOCK. It links
# the sim driver's sources and hosts its descriptor.
sbin_PROGRAMS += teep-agentd
teep_agentd_SOURCES = \
	agentd/main.c agentd/agentd.h \
	agentd/conf.c \
	agentd/exec.c \
	agentd/server.c \
	agentd/ping.c \
	drivers/sim/sim.c drivers/sim/agent.c drivers/sim/agent.h
teep_agentd_CFLAGS = $(AM_CFLAGS) $(CBOR_CFLAGS) $(INIH_CFLAGS) $(SYSTEMD_CFLAGS)
teep_agentd_LDADD = libtbcommon.la $(CBOR_LIBS) $(MBEDTLS_LIBS) $(INIH_LIBS) \
	$(SYSTEMD_LIBS) $(PTHREAD_LIBS)

# teep-driver-check: the conformance checker for TEE driver authors. It
# loads a driver with the broker's own loader (broker/loader.c).
bin_PROGRAMS += teep-driver-check
teep_driver_check_SOURCES = tools/teep-driver-check.c \
	tools/drvcheck_host.c tools/drvcheck_host.h \
	broker/loader.c broker/loader.h
teep_driver_check_CFLAGS = $(AM_CFLAGS) -I$(top_srcdir)/broker
teep_driver_check_LDADD = libtbcommon.la $(PTHREAD_LIBS) $(LIBS)

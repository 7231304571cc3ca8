sbin_PROGRAMS += teep-brokerd
teep_brokerd_SOURCES = \
	broker/main.c \
	broker/broker.h \
	broker/conf.c broker/conf.h \
	broker/loader.c broker/loader.h \
	broker/worker.c broker/worker.h \
	broker/resolver.c broker/resolver.h \
	broker/tamsm.c broker/tamsm.h \
	broker/http1.c broker/http1.h \
	broker/tls.c broker/tls.h \
	broker/tls_listener.c broker/tls_listener.h \
	broker/tee.c \
	broker/session.c \
	broker/answer_now.c \
	broker/ua.c \
	broker/defence.c \
	broker/plugin.c \
	broker/ratelimit.c broker/ratelimit.h \
	broker/banscore.c broker/banscore.h \
	broker/keytable.c broker/keytable.h \
	broker/flight.c broker/flight.h \
	broker/tamuri.c broker/tamuri.h \
	broker/fairq.c broker/fairq.h \
	broker/deadline.c broker/deadline.h \
	broker/precheck.c broker/precheck.h \
	broker/apptam.c broker/apptam.h \
	broker/checkconf.c broker/checkconf.h \
	broker/confdiff.c broker/confdiff.h \
	broker/reload.c broker/reload.h \
	broker/privdrop.c broker/privdrop.h \
	broker/notify.c broker/notify.h \
	broker/metrics.c broker/metrics.h \
	broker/scrape.c \
	broker/admin.c \
	$(LWS_LOG_SRC)
teep_brokerd_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(LWS_CFLAGS) $(CBOR_CFLAGS) $(INIH_CFLAGS) $(SYSTEMD_CFLAGS)
teep_brokerd_LDADD = libtbcommon.la $(OPENSSL_LIBS) $(LWS_LIBS) $(INIH_LIBS) $(SYSTEMD_LIBS) $(PTHREAD_LIBS) $(LIBS)

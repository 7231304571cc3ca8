# teep-tam: the bundled reference TAM (a development and test tool, not a
# production TAM). tam_core.c holds the TEEP logic, teep-tam.c the HTTP server.
bin_PROGRAMS += teep-tam
teep_tam_SOURCES = \
	tools/teep-tam.c \
	tools/tam_core.c tools/tam_core.h tools/tam_appraise.c tools/tam_appraise.h \
	tools/tam_broker.c tools/tam_broker.h \
	tools/ua_client.c tools/ua_client.h \
	$(LWS_LOG_SRC)
teep_tam_CFLAGS = $(AM_CFLAGS) $(LWS_CFLAGS) $(CBOR_CFLAGS)
teep_tam_LDADD = libtbcommon.la $(LWS_LIBS) $(CBOR_LIBS) $(MBEDTLS_LIBS) $(LIBS)
dist_doc_DATA += docs/reference-tam.md

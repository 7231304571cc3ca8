# teep-ua: the command-line client of the app API (docs/ua-api.md)
bin_PROGRAMS += teep-ua
teep_ua_SOURCES = tools/teep-ua.c tools/ua_client.c tools/ua_client.h $(LWS_LOG_SRC)
teep_ua_CFLAGS = $(AM_CFLAGS) $(LWS_CFLAGS) $(CBOR_CFLAGS)
teep_ua_LDADD = libtbcommon.la $(LWS_LIBS)

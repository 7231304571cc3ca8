# Shared code: CBOR, COSE, TEEP messages, SUIT, the app API codec, the Agent
# protocol codec and its sockets, logging.
noinst_LTLIBRARIES += libtbcommon.la
libtbcommon_la_SOURCES = \
	lib/cbor.c lib/cbor_borrow.c lib/tb_cbor.h lib/tb_cbor_writer.h \
	lib/cose.c lib/tb_cose.h \
	lib/cose_encrypt.c lib/tb_cose_encrypt.h \
	lib/cose_key.c lib/tb_cose_key.h \
	lib/eat.c lib/tb_eat.h \
	lib/ear.c lib/tb_ear.h \
	lib/tsm.c lib/tb_tsm.h \
	lib/teep.c lib/tb_teep.h \
	lib/suit.c lib/tb_suit.h \
	lib/suit_kid.c \
	lib/suit_report.c lib/tb_suit_report.h \
	lib/uaproto.c lib/tb_uaproto.h \
	lib/agentproto.c lib/tb_agentproto.h \
	lib/agentsock.c lib/tb_agentsock.h \
	lib/util.c lib/tb_util.h \
	lib/log.c lib/tb_log.h
libtbcommon_la_CFLAGS = $(AM_CFLAGS) $(CBOR_CFLAGS)
libtbcommon_la_LIBADD = $(CBOR_LIBS) $(MBEDTLS_LIBS)

# libwebsockets log bridge, for the programs that use lws
LWS_LOG_SRC = lib/log_lws.c

# teep-tool: keys, SUIT manifests and message dumps for developers.
bin_PROGRAMS += teep-tool
teep_tool_SOURCES = tools/teep-tool.c
teep_tool_CFLAGS = $(AM_CFLAGS) $(CBOR_CFLAGS)
teep_tool_LDADD = libtbcommon.la $(CBOR_LIBS) $(MBEDTLS_LIBS)

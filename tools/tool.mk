# teep-tool: keys, SUIT manifests and message dumps for developers.
bin_PROGRAMS += teep-tool
teep_tool_SOURCES = tools/teep-tool.c
teep_tool_CFLAGS = $(AM_CFLAGS) $(CBOR_CFLAGS)
# libmbedx509 writes the certificates of `teep-tool cert`
teep_tool_LDADD = libtbcommon.la $(CBOR_LIBS) $(MBEDX509_LIBS) $(MBEDTLS_LIBS)

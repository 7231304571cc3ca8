# Broker plugins (include/teep-broker/plugin.h, docs/plugin-abi.md), installed
# in $(pkglibdir)/plugins; each exports only tb_plugin_entry.
plugindir = $(pkglibdir)/plugins
plugin_LTLIBRARIES = auth-token.la

# auth-token: app identities from bearer tokens (docs/defences.md, section 6)
auth_token_la_SOURCES = plugins/auth-token/auth-token.c \
	plugins/auth-token/tokens.c plugins/auth-token/tokens.h \
	plugins/auth-token/certmap.c plugins/auth-token/certmap.h
auth_token_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
auth_token_la_LDFLAGS = $(MODULE_LDFLAGS) -export-symbols-regex '^tb_plugin_entry$$'

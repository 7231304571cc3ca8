dist_sysconf_DATA =
pkgsysconfdir = $(sysconfdir)/teep-broker
dist_pkgsysconf_DATA = conf/teep-broker.conf conf/teep-agentd.conf
EXTRA_DIST += conf/teep-brokerd.service conf/teep-agentd.service
dist_doc_DATA += docs/ua-api.md docs/driver-abi.md docs/plugin-abi.md docs/defences.md \
	docs/performance.md docs/agent-protocol.md

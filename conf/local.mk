# Configuration, systemd unit and manual pages.
#
# The configuration is an operator's file: `make install` puts the shipped
# one in place only where none exists, and otherwise leaves the operator's
# alone and installs the shipped one beside it as teep-broker.conf.dist (as
# Debian does with a changed conffile). `make uninstall` removes it only
# when it is still the shipped one.
pkgsysconfdir = $(sysconfdir)/teep-broker
EXTRA_DIST += conf/teep-broker.conf conf/teep-brokerd.service.in conf/sysusers.d/teep-broker.conf
# teep-agentd runs in a confidential VM guest, not beside the broker: its
# configuration and unit are examples for the guest's image
exampledir = $(docdir)/examples
dist_example_DATA = conf/teep-agentd.conf conf/teep-agentd.service
dist_doc_DATA += README.md docs/ua-api.md docs/driver-abi.md docs/plugin-abi.md \
	docs/defences.md docs/performance.md docs/teep-support.md docs/agent-protocol.md docs/deployment.md \
	docs/operations.md docs/attestation.md

install-data-local: install-conf
uninstall-local: uninstall-conf

install-conf:
	$(MKDIR_P) '$(DESTDIR)$(pkgsysconfdir)'
	@dst='$(DESTDIR)$(pkgsysconfdir)/teep-broker.conf'; \
	if test -e "$$dst" && ! cmp -s '$(srcdir)/conf/teep-broker.conf' "$$dst"; then \
	  echo "  keeping $$dst (changed); the shipped one is $$dst.dist"; \
	  $(INSTALL_DATA) '$(srcdir)/conf/teep-broker.conf' "$$dst.dist"; \
	else \
	  echo " $(INSTALL_DATA) conf/teep-broker.conf $$dst"; \
	  $(INSTALL_DATA) '$(srcdir)/conf/teep-broker.conf' "$$dst"; \
	  rm -f "$$dst.dist"; \
	fi

uninstall-conf:
	@dst='$(DESTDIR)$(pkgsysconfdir)/teep-broker.conf'; \
	rm -f "$$dst.dist"; \
	if test -e "$$dst" && cmp -s '$(srcdir)/conf/teep-broker.conf' "$$dst"; then \
	  echo " rm -f $$dst"; rm -f "$$dst"; \
	elif test -e "$$dst"; then \
	  echo "  keeping $$dst (changed)"; \
	fi

.PHONY: install-conf uninstall-conf

# The unit names the installed paths: made from its .in at build time.
edit_unit = sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@pkgsysconfdir[@]|$(pkgsysconfdir)|g' \
	-e 's|@docdir[@]|$(docdir)|g'
conf/teep-brokerd.service: conf/teep-brokerd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) conf && $(edit_unit) '$(srcdir)/conf/teep-brokerd.service.in' >$@.tmp && mv $@.tmp $@
CLEANFILES += conf/teep-brokerd.service
if INSTALL_SYSTEMD_UNIT
systemdsystemunit_DATA = conf/teep-brokerd.service
# its user, for systemd-sysusers (the Debian package creates it itself)
sysusersdir = $(prefix)/lib/sysusers.d
sysusers_DATA = conf/sysusers.d/teep-broker.conf
else
noinst_DATA = conf/teep-brokerd.service
endif

dist_man_MANS = man/teep-brokerd.8 man/teep-broker.conf.5 man/teep-ua.1 man/teep-tam.1 \
	man/teep-tool.1
# for TEE driver authors (docs/driver-abi.md, Kit)
dist_man_MANS += man/teep-driver-check.1 man/teep-agentd.8

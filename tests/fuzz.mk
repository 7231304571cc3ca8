# libFuzzer targets, one per parser (`make fuzz` builds them with clang,
# `make fuzz-check` runs each for FUZZ_SECONDS on a copy of its seed corpus).
FUZZ_TARGETS = cbor teep cose suit uaproto conf http1 tokens certmap agentproto eat
FUZZ_SECONDS = 20
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_LIB_SRC = $(top_srcdir)/lib/cbor.c $(top_srcdir)/lib/cbor_borrow.c $(top_srcdir)/lib/cose.c $(top_srcdir)/lib/cose_encrypt.c $(top_srcdir)/lib/teep.c \
	$(top_srcdir)/lib/cose_key.c $(top_srcdir)/lib/eat.c $(top_srcdir)/lib/ear.c \
	$(top_srcdir)/lib/suit.c $(top_srcdir)/lib/suit_report.c $(top_srcdir)/lib/uaproto.c $(top_srcdir)/lib/agentproto.c \
	$(top_srcdir)/lib/util.c \
	$(top_srcdir)/lib/log.c $(top_srcdir)/broker/conf.c $(top_srcdir)/broker/http1.c \
	$(top_srcdir)/broker/ratelimit.c $(top_srcdir)/broker/banscore.c \
	$(top_srcdir)/broker/keytable.c $(top_srcdir)/broker/tamuri.c \
	$(top_srcdir)/plugins/auth-token/tokens.c $(top_srcdir)/plugins/auth-token/certmap.c
FUZZ_BINS = $(FUZZ_TARGETS:%=tests/fuzz/fuzz_%)
EXTRA_DIST += tests/fuzz
CLEANFILES += $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
$(FUZZ_BINS): tests/fuzz/fuzz_%: $(top_srcdir)/tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRC)
	@test -n "$(FUZZ_CC)" || { echo "clang is needed for the fuzz targets"; exit 1; }
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_FLAGS) -I$(top_builddir) -I$(top_srcdir)/include \
		-I$(top_srcdir)/lib -I$(top_srcdir)/broker -I$(top_srcdir)/plugins/auth-token \
		-DPACKAGE_VERSION='"$(PACKAGE_VERSION)"' $(CBOR_CFLAGS) $(INIH_CFLAGS) \
		-o $@ $< $(FUZZ_LIB_SRC) $(CBOR_LIBS) $(INIH_LIBS) $(MBEDTLS_LIBS)

fuzz-check: $(FUZZ_BINS)
	@pass=0; fail=0; \
	for t in $(FUZZ_TARGETS); do \
		rm -rf tests/fuzz/run-$$t; $(MKDIR_P) tests/fuzz/run-$$t; \
		cp $(top_srcdir)/tests/fuzz/corpus/$$t/* tests/fuzz/run-$$t/ 2>/dev/null; \
		if tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -max_len=65536 -artifact_prefix=tests/fuzz/crash-$$t- \
			tests/fuzz/run-$$t >tests/fuzz/fuzz_$$t.log 2>&1; then \
			echo "PASS: fuzz_$$t"; pass=$$((pass + 1)); \
		else \
			echo "FAIL: fuzz_$$t (see tests/fuzz/fuzz_$$t.log)"; fail=$$((fail + 1)); \
			tail -n 30 tests/fuzz/fuzz_$$t.log; \
		fi; \
	done; \
	printf '# PASS: %d\n# FAIL: %d\n' $$pass $$fail >fuzz-suite.log; \
	test $$fail = 0
.PHONY: fuzz fuzz-check

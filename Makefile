# anycst: one non-recursive Makefile.  `make help` lists the targets.
#
# Sources are found by wildcard, so adding a module needs no edit here:
#   util/ dns/ net/        -> $(BUILD)/libanycst.a   (shared by both daemons)
#   primary/ api/          -> $(BUILD)/libprimary.a  (+ primary/main.c)
#   secondary/             -> $(BUILD)/libsecondary.a (+ secondary/main.c)
#   tests/unit/test_X.c    -> $(BUILD)/tests/test_X   (cmocka, linked with all three)
#   tests/fuzz/fuzz_X.c    -> $(BUILD)/fuzz/fuzz_X    (clang libFuzzer) and a gcc replayer
# BUILD and BIN may be overridden so that several builds share one tree.

ifeq ($(SAN),1)
BUILD    ?= build-san
BIN      ?= bin-san
else
BUILD    ?= build
BIN      ?= bin
endif
CC       ?= cc
FUZZ_CC  ?= clang
FUZZ_TIME ?= 60
PYTHON   := /usr/bin/python3
PREFIX   ?= /usr/local

PKGS     := sqlite3 libpq libmicrohttpd jansson libidn2 libngtcp2 libngtcp2_crypto_gnutls gnutls liburcu-qsbr
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wvla -Wformat=2 -Wimplicit-fallthrough -Wundef \
            -fstack-protector-strong -MMD -MP
CPPFLAGS += -D_GNU_SOURCE -I. -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)
ifeq ($(SAN),1)
CFLAGS   += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
else
CPPFLAGS += -D_FORTIFY_SOURCE=2
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC  := $(wildcard util/*.c dns/*.c net/*.c)
PRI_SRC  := $(filter-out primary/main.c,$(wildcard primary/*.c api/*.c))
SEC_SRC  := $(filter-out secondary/main.c,$(wildcard secondary/*.c))
CTL_SRC  := $(wildcard ctl/*.c)
SCHEMA   := $(sort $(wildcard schema/sqlite/*.sql))
PG_SCHEMA := $(sort $(wildcard schema/pg/*.sql))
# bin/ holds only what is installed (the daemons, anycstc, and anycst-sqlite2pg,
# the operators' SQLite -> PostgreSQL copier); test and bench helpers (tools/)
# go to TOOLBIN.
SHIPPED_TOOLS := anycst-sqlite2pg
TOOLBIN  ?= $(BUILD)/tools-bin
TOOLS    := $(patsubst tools/%.c,$(TOOLBIN)/%,$(filter-out $(SHIPPED_TOOLS:%=tools/%.c),$(wildcard tools/*.c))) \
            $(SHIPPED_TOOLS:%=$(BIN)/%)
TESTS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
FUZZERS  := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UI_FILES := $(sort $(wildcard ui/*))
PRI_OBJ  := $(PRI_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/schema.o $(BUILD)/gen/schema_pg.o $(BUILD)/gen/openapi.o $(BUILD)/gen/ui.o
SEC_OBJ  := $(SEC_SRC:%.c=$(BUILD)/%.o)
ALL_LIBS := $(BUILD)/libsecondary.a $(BUILD)/libprimary.a $(BUILD)/libanycst.a

.PHONY: all deps run test unit replay e2e e2e-pg check fuzz bench install man deb test-systemd clean help fmt
all: $(BIN)/anycst-primary $(BIN)/anycst-secondary $(BIN)/anycstc $(TOOLS)
	@rm -f $(patsubst tools/%.c,$(BIN)/%,$(filter-out $(SHIPPED_TOOLS:%=tools/%.c),$(wildcard tools/*.c)))

help:
	@echo "make deps | all | run | test [SAN=1] | unit | e2e | e2e-pg | check | fuzz [FUZZ_TIME=60] | bench | install [PREFIX= DESTDIR=] | deb | test-systemd | clean"

deps:
	@sh scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# schema/sqlite/NNNN_*.sql and schema/pg/NNNN_*.sql, embedded in order as C strings.
$(BUILD)/gen/schema.c: $(SCHEMA) scripts/embed-schema.sh
	@mkdir -p $(dir $@)
	$(Q)sh scripts/embed-schema.sh schema $(SCHEMA) > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/schema_pg.c: $(PG_SCHEMA) scripts/embed-schema.sh
	@mkdir -p $(dir $@)
	$(Q)sh scripts/embed-schema.sh pg_schema $(PG_SCHEMA) > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/schema.o: $(BUILD)/gen/schema.c
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<
$(BUILD)/gen/schema_pg.o: $(BUILD)/gen/schema_pg.c
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<
# docs/openapi.json, served at /api/docs (api/servers.c).
$(BUILD)/gen/openapi.c: docs/openapi.json scripts/embed-text.sh
	@mkdir -p $(dir $@)
	$(Q)sh scripts/embed-text.sh api_openapi_json docs/openapi.json > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/openapi.o: $(BUILD)/gen/openapi.c
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -Wno-overlength-strings -c -o $@ $<

# ui/*, the status page, embedded as C strings (api/ui.c serves them).
$(BUILD)/gen/ui.c: $(UI_FILES) scripts/embed-ui.sh
	@mkdir -p $(dir $@)
	$(Q)sh scripts/embed-ui.sh $(UI_FILES) > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/ui.o: $(BUILD)/gen/ui.c
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/libanycst.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^
$(BUILD)/libprimary.a: $(PRI_OBJ) | $(BUILD)/gen/qids.ok
	$(Q)rm -f $@ && ar rcs $@ $^
# Every query id of primary/db.h has SQL in both backends, or the build stops.
$(BUILD)/gen/qids.ok: primary/db.h primary/db_sql.c primary/db_sqlite.c primary/db_pg.c scripts/check-qids.sh
	@mkdir -p $(dir $@)
	$(Q)sh scripts/check-qids.sh primary/db.h primary/db_sql.c primary/db_sqlite.c primary/db_pg.c && touch $@
$(BUILD)/libsecondary.a: $(SEC_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN)/anycst-primary: $(BUILD)/primary/main.o $(BUILD)/libprimary.a $(BUILD)/libanycst.a
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/anycst-secondary: $(BUILD)/secondary/main.o $(BUILD)/libsecondary.a $(BUILD)/libanycst.a
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# anycstc, the control tool: ctl/ over libanycst (the zone text parser) and libcurl.
CTL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null)
$(BIN)/anycstc: $(CTL_SRC:%.c=$(BUILD)/%.o) $(BUILD)/libanycst.a
	@mkdir -p $(BIN)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(CTL_LIBS)

# tools/NAME.c: test and bench helpers (zone checker, load generator) linked with
# everything, into $(TOOLBIN) (not bin/: nothing there but what is installed).
$(TOOLBIN)/%: $(BUILD)/tools/%.o $(ALL_LIBS)
	@mkdir -p $(TOOLBIN)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LDLIBS)
$(BIN)/anycst-sqlite2pg: $(BUILD)/tools/anycst-sqlite2pg.o $(ALL_LIBS)
	@mkdir -p $(BIN)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LDLIBS)
$(BUILD)/tools/%.o: tools/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# Unit tests: test_answer wraps malloc to prove the query path allocates nothing.
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $(if $(filter test_answer,$*),-Wl$(,)--wrap=malloc -Wl$(,)--wrap=calloc -Wl$(,)--wrap=realloc) \
		-o $@ $< $(ALL_LIBS) $(LDLIBS) $(TEST_LIBS)
$(BUILD)/tests/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -c -o $@ $<
, := ,
.SECONDARY:

# Corpus replay under gcc: every fuzz target runs over its committed seeds.
$(BUILD)/replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< tests/fuzz/replay.c \
		$(ALL_LIBS) $(LDLIBS)

# The tests that open a store (they include tests/unit/store_db.h) run a second
# time on PostgreSQL: scripts/with-pg.sh starts a throwaway server for them.
PG_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(shell grep -l '"store_db.h"' tests/unit/test_*.c))
unit: all $(TESTS)
	@fail=0; for t in $(TESTS); do echo "== $$t"; $$t || fail=1; done; \
	sh scripts/with-pg.sh sh -c 'fail=0; for t in $(PG_TESTS); do \
		echo "== $$t (PostgreSQL)"; $$t || fail=1; done; exit $$fail' || fail=1; exit $$fail

replay: $(FUZZERS:%=$(BUILD)/replay/%)
	@fail=0; for f in $(FUZZERS); do \
		$(BUILD)/replay/$$f tests/fuzz/corpus/$${f#fuzz_} || fail=1; done; exit $$fail

# The e2e files run on E2E_JOBS pytest-xdist workers (whole files per worker:
# module fixtures stay on one; each worker hands out ports from its own
# slice, tests/e2e/anycst_e2e/core.py).  Most of an e2e test's time is waiting
# for daemons, so two workers on two cores take about half the time.
# E2E_JOBS=1 runs them one after another.
E2E_JOBS ?= 2
E2E_PAR = $(shell [ "$(E2E_JOBS)" -gt 1 ] 2>/dev/null && $(PYTHON) -c 'import xdist' 2>/dev/null \
	&& echo "-n $(E2E_JOBS) --dist loadfile")
e2e: all
	@if ls tests/e2e/test_*.py >/dev/null 2>&1; then \
		ANYCST_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -q $(E2E_PAR) tests/e2e; \
	else echo "e2e: no tests"; fi

# E2e files once more with every Primary on PostgreSQL (ANYCST_DB=pg:
# tests/e2e/anycst_e2e/pg.py starts a throwaway server).  `make e2e-pg` (and
# `make test`) runs a representative subset (kept short for make test's 15
# minutes): test_api_pg.py, durability, transfers with NOTIFY, DNS UPDATE with
# its update_policy, DNSSEC signing (test_sqlite2pg.py
# runs in `make e2e`); E2E_PG_ALL=1 runs every file that can (README lists
# those that cannot).
E2E_PG := tests/e2e/test_api_pg.py tests/e2e/test_api_durability.py tests/e2e/test_xfr_notify.py \
          tests/e2e/test_dns_update_policy.py tests/e2e/test_dnssec_sign.py
E2E_PG_FULL := $(wildcard tests/e2e/test_api*.py) tests/e2e/test_xfr_dig.py tests/e2e/test_xfr_knot.py \
          tests/e2e/test_dns_update.py \
          tests/e2e/test_xfr_notify.py tests/e2e/test_xfr_bad.py tests/e2e/test_secondary_primary.py \
          tests/e2e/test_secondary_ixfr_primary.py tests/e2e/test_mesh_api.py \
          tests/e2e/test_dns_update.py tests/e2e/test_dns_update_policy.py \
          tests/e2e/test_dnssec_sign.py tests/e2e/test_dnssec_ksk_rollover.py \
          tests/e2e/test_dnssec_background.py
e2e-pg: all
	ANYCST_DB=pg ANYCST_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -q \
		$(if $(E2E_PG_ALL),$(E2E_PG_FULL),$(E2E_PG))

test: deps
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory replay
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory e2e-pg

check:
	$(MAKE) test
	$(MAKE) test SAN=1
	cppcheck --quiet --error-exitcode=1 --enable=warning -I. util dns net primary api secondary

# libFuzzer: every source compiled once with clang into $(BUILD)/fuzz/lib.a,
# then each target links against it.
FUZZ_CFLAGS := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -std=c11 \
               -D_GNU_SOURCE -I. -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_OBJ := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRC) $(PRI_SRC) $(SEC_SRC)) \
            $(BUILD)/fuzz/obj/gen/schema.o $(BUILD)/fuzz/obj/gen/schema_pg.o \
            $(BUILD)/fuzz/obj/gen/openapi.o $(BUILD)/fuzz/obj/gen/ui.o
$(BUILD)/fuzz/obj/gen/schema.o: $(BUILD)/gen/schema.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(BUILD)/fuzz/obj/gen/schema_pg.o: $(BUILD)/gen/schema_pg.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(BUILD)/fuzz/obj/gen/openapi.o: $(BUILD)/gen/openapi.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(BUILD)/fuzz/obj/gen/ui.o: $(BUILD)/gen/ui.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
$(BUILD)/fuzz/lib.a: $(FUZZ_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzz/lib.a
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/fuzz/lib.a $(LDLIBS)
fuzz: $(FUZZERS:%=$(BUILD)/fuzz/%)
	@fail=0; for f in $(FUZZERS); do \
		c=tests/fuzz/corpus/$${f#fuzz_}; mkdir -p $(BUILD)/fuzz/work-$$f; \
		echo "== $$f ($(FUZZ_TIME) s)"; \
		$(BUILD)/fuzz/$$f -max_total_time=$(FUZZ_TIME) -print_final_stats=0 \
			-artifact_prefix=$(BUILD)/fuzz/$$f- $(BUILD)/fuzz/work-$$f $$c 2>$(BUILD)/fuzz/$$f.log \
			|| { fail=1; tail -40 $(BUILD)/fuzz/$$f.log; }; done; exit $$fail

bench: all
	@sh bench/run.sh

run: deps all
	@sh scripts/run-demo.sh

# Installed files: daemons (sbin), anycstc, man pages (the daemons' option
# lists rendered from their --help), systemd units (paths from PREFIX), sample
# configs (dist/*.conf), the BIRD example and bash completion, and
# anycst-sqlite2pg (sbin: moving a primary from SQLite to PostgreSQL).  Test-only
# programs are not installed.
BINDIR    ?= $(PREFIX)/bin
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
DOCDIR    ?= $(PREFIX)/share/doc/anycst
UNITDIR   ?= $(PREFIX)/lib/systemd/system
COMPDIR   ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR ?= /etc
VERSION   := 0.1.0
MAN_GEN   := $(BUILD)/man/anycst-primary.8 $(BUILD)/man/anycst-secondary.8 \
             $(BUILD)/man/anycst-primary.conf.5 $(BUILD)/man/anycst-secondary.conf.5
UNITS     := $(BUILD)/dist/anycst-primary.service $(BUILD)/dist/anycst-secondary.service

$(BUILD)/man/anycst-%.8: man/anycst-%.8.in $(BIN)/anycst-% scripts/man-options.sh
	@mkdir -p $(dir $@)
	$(Q)sh scripts/man-options.sh flags $(BIN)/anycst-$* > $@.opts
	$(Q)sed -e 's/@VERSION@/$(VERSION)/' -e '/@OPTIONS@/{r $@.opts' -e 'd}' $< > $@ && rm -f $@.opts
$(BUILD)/man/anycst-%.conf.5: man/anycst-%.conf.5.in $(BIN)/anycst-% scripts/man-options.sh
	@mkdir -p $(dir $@)
	$(Q)sh scripts/man-options.sh conf $(BIN)/anycst-$* > $@.opts
	$(Q)sed -e 's/@VERSION@/$(VERSION)/' -e '/@OPTIONS@/{r $@.opts' -e 'd}' $< > $@ && rm -f $@.opts
$(BUILD)/dist/%.service: dist/%.service.in
	@mkdir -p $(dir $@)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' $< > $@

man: $(MAN_GEN)

install: all $(MAN_GEN) $(UNITS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(COMPDIR) $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/anycst
	install -m 755 $(BIN)/anycst-primary $(BIN)/anycst-secondary $(BIN)/anycst-sqlite2pg \
		$(DESTDIR)$(SBINDIR)/
	install -m 755 $(BIN)/anycstc $(DESTDIR)$(BINDIR)/
	install -m 644 man/anycstc.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/anycstc.conf.5 $(filter %.5,$(MAN_GEN)) $(DESTDIR)$(MANDIR)/man5/
	install -m 644 $(filter %.8,$(MAN_GEN)) $(DESTDIR)$(MANDIR)/man8/
	install -m 644 $(UNITS) $(DESTDIR)$(UNITDIR)/
	install -m 644 dist/anycstc.bash-completion $(DESTDIR)$(COMPDIR)/anycstc
	install -m 644 dist/bird-pop.conf dist/anycst-secondary-bird.conf $(DESTDIR)$(DOCDIR)/examples/
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/
	for f in $(wildcard dist/*.conf); do case $$f in */bird-pop.conf|*/anycst-secondary-bird.conf) ;; \
		*) install -m 644 $$f $(DESTDIR)$(SYSCONFDIR)/anycst/ ;; esac; done

# The Debian package (debian/): binary only, unsigned, built in a copy of the
# tree under $(BUILD)/deb (dpkg-buildpackage writes to the parent directory),
# checked with lintian; the .deb is copied here and checked by tests/e2e/test_deb.py
# (control data, contents, unpacked into a throwaway root, systemd-analyze verify).
DEB_TREE := $(BUILD)/deb/anycst-$(VERSION)
deb:
	@sh scripts/deps.sh deb
	rm -rf $(BUILD)/deb && mkdir -p $(DEB_TREE)
	tar -cf - --exclude=./build --exclude='./build-*' --exclude=./bin --exclude='./bin-*' \
		--exclude=./.git --exclude='./anycst_*' --exclude=./run . | tar -xf - -C $(DEB_TREE)
	cd $(DEB_TREE) && dpkg-buildpackage -us -uc -b
	lintian --fail-on error $(BUILD)/deb/anycst_*.changes
	cp $(BUILD)/deb/anycst_*.deb .
	@ls -1 anycst_*.deb
	ANYCST_DEB=$$(ls -t anycst_*.deb | head -1) $(PYTHON) -m pytest -q tests/e2e/test_deb.py

# The package on a fresh Debian 12 whose PID 1 is systemd (issue 17's
# acceptance): scripts/try-deb-systemd.sh boots a cached debootstrap root
# with systemd-nspawn, apt-installs the newest anycst_*.deb (`make deb` first
# when there is none), starts both units, imports a 100,000-record zone with
# anycstc, checks anycstc status, dig and man.  Root and the Debian mirror
# needed; ~40 s with a warm cache (the first run debootstraps, minutes).
test-systemd:
	@sh scripts/deps.sh systemd
	@ls anycst_*.deb >/dev/null 2>&1 || $(MAKE) --no-print-directory deb
	sh scripts/try-deb-systemd.sh $$(ls -t anycst_*.deb | head -1)

fmt:
	clang-format -i $(wildcard */*.c */*.h)

clean:
	rm -rf build build-* bin bin-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# conenatd — plain GNU make. `make` builds into $(BUILD)/; see README.md for the targets.
# SPDX-License-Identifier: GPL-2.0-or-later
# The one version of both binaries (--version), passed to the compiler as CONENAT_VERSION.
VERSION := 0.1.0
# `make install` (DESTDIR for staging, e.g. a package build): see the install target.
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CXX     ?= g++
PKG_CONFIG ?= pkg-config
ifeq ($(origin CXX),default)
CXX := g++
endif
OPT      ?= -O2
CXXFLAGS ?= $(OPT) -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Wshadow -Wno-missing-field-initializers -Iinclude -Isrc -MMD -MP
CXXFLAGS += -DCONENAT_VERSION='"$(VERSION)"'
CXXFLAGS += $(EXTRA_CXXFLAGS)
LDFLAGS  += $(EXTRA_LDFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

# The pure translation core: no syscalls, no kernel or netfilter headers, no Boost.
CORE_SRC := $(wildcard src/core/*/*.cpp)
CORE_OBJ := $(CORE_SRC:%.cpp=$(BUILD)/obj/%.o)
CORE_LIB := $(BUILD)/libconenat_core.a

# Pure utilities (text parsers, Result), linked by the unit tests and the daemon.
UTIL_OBJ   := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard src/util/*.cpp))
# I/O adapters (libmnl, libnetfilter_*, libnftnl), engines and the daemon.
IO_OBJ     := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard src/io/*.cpp))
ENGINE_OBJ := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard src/engine/*/*.cpp))
DAEMON_OBJ := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard src/daemon/*.cpp))
SYS_LIBS   := $(shell $(PKG_CONFIG) --libs libmnl libnetfilter_conntrack libnetfilter_queue libnftnl 2>/dev/null) \
              -lboost_program_options -pthread
DAEMON_BIN := $(BUILD)/conenatd
# conenatctl: a thin client of the control socket (src/ctl), its request parser shared (util).
CTL_OBJ    := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard src/ctl/*.cpp)) $(BUILD)/obj/src/io/unix_socket.o \
              $(BUILD)/obj/src/io/fd.o
CTL_BIN    := $(BUILD)/conenatctl
IO_LIB     := $(BUILD)/libconenat_io.a

ENGINE_LIB := $(BUILD)/libconenat_engine.a

TEST_SUPPORT_SRC := $(wildcard tests/support/*.cpp)
UNIT_SRC := $(wildcard tests/unit/*.cpp) $(TEST_SUPPORT_SRC)
UNIT_OBJ := $(UNIT_SRC:%.cpp=$(BUILD)/obj/%.o)
UNIT_BIN := $(BUILD)/unit_tests

# Root-only adapter tests against the real kernel (run inside a namespace by tests/e2e/).
IO_TEST_OBJ := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(wildcard tests/io/*.cpp)) $(BUILD)/obj/tests/unit/main.o \
               $(BUILD)/obj/src/engine/conntrack/rules.o $(BUILD)/obj/src/engine/common/installed_rules.o \
               $(BUILD)/obj/src/engine/common/router_watch.o
IO_TEST_BIN := $(BUILD)/io_tests

BENCH_SRC := $(wildcard bench/core/*.cpp) tests/support/packet_builder.cpp
BENCH_OBJ := $(BENCH_SRC:%.cpp=$(BUILD)/obj/%.o)
BENCH_BIN := $(BUILD)/core_bench
# conenatctl's listing of 100 k mappings: the copy, the text table, the JSON.
CTL_BENCH_OBJ := $(BUILD)/obj/bench/ctl/listing_bench.o $(BUILD)/obj/src/daemon/control_tables.o \
                 $(BUILD)/obj/src/daemon/control_render.o
CTL_BENCH_BIN := $(BUILD)/ctl_bench

.PHONY: all examples unit test deps sanitize fuzz regress bench bench-e2e demo check-core clean install uninstall soak
# Tests and benchmarks include their support code rooted at the tree: "tests/support/...".
$(BUILD)/obj/tests/%.o $(BUILD)/obj/bench/%.o: CXXFLAGS += -I.
# Fuzz targets, and per target a plain (no libFuzzer) runner of its regression inputs and seeds.
FUZZ_TARGETS := $(patsubst tests/fuzz/%.cpp,%,$(wildcard tests/fuzz/fuzz_*.cpp))
REGRESS_BINS := $(FUZZ_TARGETS:%=$(BUILD)/regress_%)
all: $(CORE_LIB) $(UNIT_BIN) $(BENCH_BIN) $(CTL_BENCH_BIN) $(DAEMON_BIN) $(CTL_BIN) $(IO_TEST_BIN) $(REGRESS_BINS)

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX     $<")
	$(Q)$(CXX) $(CXXFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# The examples that name their options ("# options: ...") are --print-rules output: their
# header up to that line is kept, the rest regenerated (tests/e2e/rule_sets.sh checks them).
# Root: conenatd checks that the WAN interface exists, so it runs in a namespace that has one.
examples: $(DAEMON_BIN)
	@ns=cnexamples$$$$; ip netns add $$ns && ip -n $$ns link add wan0 type veth peer name wan0p || exit 1; \
	for f in examples/nftables-*.nft; do \
	  opts=$$(sed -n 's/^# options: //p' $$f); [ -n "$$opts" ] || continue; \
	  { sed '/^# options:/q' $$f; ip netns exec $$ns $(DAEMON_BIN) $$opts --print-rules; } > $$f.new && \
	    mv $$f.new $$f && echo "  GEN     $$f" || { rm -f $$f.new; echo "$$f: conenatd $$opts failed"; }; \
	done; ip netns del $$ns

# The unit tests link the engines, io and the core as archives: each test pulls in only the
# objects it uses (the core's purity is check-core's to prove).
$(UNIT_BIN): $(UNIT_OBJ) $(ENGINE_LIB) $(IO_LIB) $(UTIL_OBJ) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(CXXFLAGS) $(LDFLAGS) $(UNIT_OBJ) $(ENGINE_LIB) $(IO_LIB) $(UTIL_OBJ) $(CORE_LIB) $(SYS_LIBS) -o $@

$(ENGINE_LIB): $(ENGINE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(DAEMON_BIN): $(DAEMON_OBJ) $(ENGINE_OBJ) $(IO_OBJ) $(UTIL_OBJ) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(CXXFLAGS) $(LDFLAGS) $^ $(SYS_LIBS) -o $@

$(CTL_BIN): $(CTL_OBJ) $(UTIL_OBJ) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(CXXFLAGS) $(LDFLAGS) $^ -o $@

$(IO_TEST_BIN): $(IO_TEST_OBJ) $(IO_OBJ) $(UTIL_OBJ) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(CXXFLAGS) $(LDFLAGS) $^ $(SYS_LIBS) -o $@

$(BENCH_BIN): $(BENCH_OBJ) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(CXXFLAGS) $(LDFLAGS) $(BENCH_OBJ) $(CORE_LIB) -o $@

deps:
	$(Q)scripts/deps.sh test

# Unit tests only (no root needed).
unit: $(UNIT_BIN) check-core
	$(Q)$(UNIT_BIN)

# Everything: installs missing Debian packages (as root), builds, runs unit + end-to-end tests.
test: deps
	$(Q)$(MAKE) --no-print-directory -j$(shell nproc) all
	$(Q)scripts/run-tests.sh $(BUILD)

# Proves the core is pure: no forbidden include, and no undefined symbol that is a syscall,
# a clock read, or from libmnl / libnetfilter_* / libnftnl / Boost.
check-core: $(CORE_LIB)
	$(Q)scripts/check-core.sh $(CORE_LIB)

# Unit tests and the fuzz regression inputs under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize:
	$(Q)$(MAKE) --no-print-directory -j$(shell nproc) BUILD=$(BUILD)/sanitize OPT=-O1 \
	  EXTRA_CXXFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" unit regress

# libFuzzer over every parser and the translator, FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
fuzz:
	$(Q)scripts/deps.sh dev
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz CXX=clang++-14 OPT=-O1 \
	  EXTRA_CXXFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
	  $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
	$(Q)for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/corpus/$$t; \
	  echo "  FUZZ    $$t ($(FUZZ_SECONDS) s)"; \
	  $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$t- \
	    $(BUILD)/fuzz/corpus/$$t $$(ls -d tests/fuzz/seeds/$$t tests/fuzz/regress/$$t 2>/dev/null) 2>$(BUILD)/fuzz/$$t.log \
	    || { tail -50 $(BUILD)/fuzz/$$t.log; exit 1; }; \
	  grep -E "^#[0-9]+.*DONE|stat::number_of_executed_units" $(BUILD)/fuzz/$$t.log | tail -2; \
	done

# Runs inside the sub-make above, where $(BUILD) already ends in /fuzz.
$(BUILD)/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(UTIL_OBJ) $(IO_LIB) $(CORE_LIB) $(BUILD)/obj/tests/support/packet_builder.o
	$(Q)$(CXX) $(CXXFLAGS) -fsanitize=fuzzer,address,undefined $^ $(SYS_LIBS) -o $@

# Every input that ever crashed a target or tripped its oracle (tests/fuzz/regress/<target>/),
# and its seeds, through the target's entry point, built by the plain compiler.
$(BUILD)/regress_%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/regress_main.o $(UTIL_OBJ) $(IO_LIB) $(CORE_LIB) \
    $(BUILD)/obj/tests/support/packet_builder.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(CXXFLAGS) $(LDFLAGS) $^ $(SYS_LIBS) -o $@

.SECONDARY: $(FUZZ_TARGETS:%=$(BUILD)/obj/tests/fuzz/%.o) $(BUILD)/obj/tests/fuzz/regress_main.o
regress: $(REGRESS_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do $(BUILD)/regress_$$t tests/fuzz/regress/$$t tests/fuzz/seeds/$$t || exit 1; done

$(IO_LIB): $(IO_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

bench: $(BENCH_BIN) $(CTL_BENCH_BIN)
	$(Q)$(BENCH_BIN)
	$(Q)$(CTL_BENCH_BIN)

$(CTL_BENCH_BIN): $(CTL_BENCH_OBJ) $(UTIL_OBJ) $(CORE_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(CXXFLAGS) $(LDFLAGS) $^ -o $@

# The README's "run it" command: a namespace lab, each NAT type in turn, what the classifiers saw
# (ENGINE=queue or ENGINE=tun: the same with a software engine).
ENGINE ?= conntrack
demo: deps
	$(Q)$(MAKE) --no-print-directory -j$(shell nproc) $(DAEMON_BIN)
	$(Q)BUILD=$(BUILD) DEMO_ENGINE=$(ENGINE) scripts/demo.sh

# End to end, same namespace path, alternating per round: kernel MASQUERADE, the NFQUEUE
# ceiling (accept-all pass-through), the queue, conntrack and tun engines; BENCH_ARGS="--previous
# OLD_BINARY" adds each engine of another build. BENCH_ROUNDS, BENCH_ENGINES, ...: bench/e2e/bench.sh --help.
# The pass-through links only the adapter it uses (NfQueue and its netlink socket).
NFQ_PASS_BIN := $(BUILD)/nfq_passthrough
$(NFQ_PASS_BIN): $(BUILD)/obj/bench/e2e/nfq_passthrough.o $(BUILD)/obj/src/io/nfqueue.o $(BUILD)/obj/src/io/netlink.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CXX) $(CXXFLAGS) $(LDFLAGS) $^ $(SYS_LIBS) -o $@

bench-e2e: deps
	$(Q)$(MAKE) --no-print-directory -j$(shell nproc) $(DAEMON_BIN) $(NFQ_PASS_BIN)
	$(Q)BUILD=$(BUILD) bench/e2e/bench.sh --nat-type full-cone $(BENCH_ARGS)

# The churn soak of tests/e2e/soak.sh (root; `make test` runs it too): SOAK_SECONDS per engine.
SOAK_SECONDS ?= 60
soak: deps
	$(Q)$(MAKE) --no-print-directory -j$(shell nproc) $(DAEMON_BIN)
	$(Q)BUILD=$(BUILD) SOAK_SECONDS=$(SOAK_SECONDS) bash tests/e2e/soak.sh

# Installs only what runs: the binaries, the systemd unit (its paths substituted), the example
# config (only when none is there: a user's config is never overwritten), man pages and docs.
# INSTALL_STRIP=-s strips the binaries. `make uninstall` removes what install put there, except
# a config that differs from the example (the user changed it: kept, and said so).
SBINDIR        ?= $(PREFIX)/sbin
SYSCONFDIR     ?= $(PREFIX)/etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/conenatd
INSTALL        ?= install
INSTALL_STRIP  ?=
CTL_BIN        ?= $(BUILD)/conenatctl
MAN_PAGES      := $(wildcard man/*.[1-8])
DOC_FILES      := README.md ARCHITECTURE.md LICENSE
UNIT_SED       := -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

# conenatctl: installed once its sources are in the tree.
INSTALL_CTL    := $(if $(wildcard src/ctl/main.cpp),$(CTL_BIN))

install: $(DAEMON_BIN) $(INSTALL_CTL)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(DOCDIR)
	$(INSTALL) $(INSTALL_STRIP) -m 0755 $(DAEMON_BIN) $(DESTDIR)$(SBINDIR)/conenatd
	$(if $(INSTALL_CTL),$(INSTALL) $(INSTALL_STRIP) -m 0755 $(CTL_BIN) $(DESTDIR)$(SBINDIR)/conenatctl)
	sed $(UNIT_SED) systemd/conenatd.service > $(DESTDIR)$(SYSTEMDUNITDIR)/conenatd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/conenatd.service
	$(INSTALL) -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	$(Q)for m in $(MAN_PAGES); do s=$${m##*.}; \
	  $(INSTALL) -d $(DESTDIR)$(MANDIR)/man$$s && $(INSTALL) -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done
	$(Q)if [ -e $(DESTDIR)$(SYSCONFDIR)/conenatd.conf ]; then \
	  echo "  KEEP    $(DESTDIR)$(SYSCONFDIR)/conenatd.conf (exists)"; \
	else $(INSTALL) -m 0644 examples/conenatd.conf $(DESTDIR)$(SYSCONFDIR)/conenatd.conf; fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/conenatd $(DESTDIR)$(SBINDIR)/conenatctl $(DESTDIR)$(SYSTEMDUNITDIR)/conenatd.service
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES)))
	$(Q)for m in $(MAN_PAGES); do rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}; done
	$(Q)if cmp -s examples/conenatd.conf $(DESTDIR)$(SYSCONFDIR)/conenatd.conf; then \
	  rm -f $(DESTDIR)$(SYSCONFDIR)/conenatd.conf; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/conenatd.conf ]; then \
	  echo "  KEEP    $(DESTDIR)$(SYSCONFDIR)/conenatd.conf (changed from the example)"; fi
	-$(Q)rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# xdp-canary: line-rate canary splitter (XDP data plane + userspace tools).
# `make` builds everything into $(BUILD); `make help` lists the targets.

BUILD    ?= build
PREFIX   ?= /usr/local
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= gcc
V        ?= 0

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
# Keep the BPF objects and skeletons that pattern rules produce along the way.
.SECONDARY:
.DEFAULT_GOAL := all

PKGS        := libbpf libxdp yaml-0.1 json-c libmicrohttpd libcurl
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# The BPF objects see no libc: -nostdinc, then clang's own freestanding headers
# (stdbool.h) and a staged tree holding only the kernel UAPI (linux/, asm/,
# asm-generic/) and libbpf's bpf/. A header that reaches for glibc (as <linux/icmp.h>
# does through <linux/if.h>) fails here as it would on a machine without 32-bit libc
# stubs, instead of only there.
# Debian's multiarch triplet (where asm/ lives), whichever compiler builds userspace.
MULTIARCH   := $(shell gcc -print-multiarch 2>/dev/null)
CLANG_RES   := $(shell $(CLANG) -print-resource-dir 2>/dev/null)
BPF_SYSINC  := $(BUILD)/bpf-include
BPF_CFLAGS  := -g -O2 -Wall -Werror -target bpf -mcpu=v3 -nostdinc \
	       -isystem $(CLANG_RES)/include -isystem $(BPF_SYSINC) -Ibpf
# CFLAGS and LDFLAGS are the user's (make CFLAGS='-O0 -g3' replaces them whole); what
# the build needs is in XCFLAGS. SANITIZE=address,undefined builds with sanitizers
# (make asan does, into $(BUILD)/asan).
CFLAGS      ?= -O2 -g
LDFLAGS     ?=
SANITIZE    ?=
# FUZZ=1 (make fuzz, with CC=clang) also instruments everything for libFuzzer.
FUZZ        ?=
SAN_FLAGS   := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer) \
	       $(if $(FUZZ),-fsanitize=fuzzer-no-link)
XCFLAGS     := -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	       -Wno-missing-field-initializers -D_GNU_SOURCE \
	       -Ibpf -Iuserspace/lib -I$(BUILD) $(PKG_CFLAGS) $(SAN_FLAGS)
XLDFLAGS    := $(SAN_FLAGS) $(LDFLAGS)
LDLIBS      := $(PKG_LIBS) -lelf -lz -lm -pthread

BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS       := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS    := $(wildcard bpf/*.h)

# userspace/lib/ is layered (docs/ARCHITECTURE.md; tests/build/layers.sh checks the
# includes): base/ and logic/ need no kernel and link without libbpf, as liblogic.a,
# which the pure-logic unit tests use alone; libcanary.a holds every folder.
LIB_SRCS    := $(wildcard userspace/lib/*/*.c)
LIB_OBJS    := $(patsubst userspace/lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRCS))
LIB_HDRS    := $(wildcard userspace/lib/*/*.h)
LIBCANARY   := $(BUILD)/libcanary.a
LOGIC_OBJS  := $(filter $(BUILD)/lib/base/% $(BUILD)/lib/logic/%,$(LIB_OBJS))
LIBLOGIC    := $(BUILD)/liblogic.a
LOGIC_LIBS  := $(shell pkg-config --libs yaml-0.1 json-c 2>/dev/null) -lm
# Unit tests of the pure logic: linked with liblogic.a and no libbpf, libxdp or libcurl.
PURE_TESTS  := test_analysis test_config test_fleetsum test_hll test_maglev test_plan test_rollout

# A program is one file, userspace/NAME.c, or a folder of files, userspace/NAME/ (canaryd),
# whose objects go to $(BUILD)/obj/NAME/.
PROG_SRCS   := $(wildcard userspace/*.c)
MULTI_DIRS  := $(filter-out lib,$(patsubst userspace/%/,%,$(wildcard userspace/*/)))
MULTI_PROGS := $(addprefix $(BUILD)/,$(MULTI_DIRS))
MULTI_HDRS  := $(foreach d,$(MULTI_DIRS),$(wildcard userspace/$(d)/*.h))
multi_objs   = $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(wildcard userspace/$(1)/*.c))
PROGS       := $(patsubst userspace/%.c,$(BUILD)/%,$(PROG_SRCS)) $(MULTI_PROGS)

TEST_SRCS   := $(wildcard tests/unit/*.c)
TEST_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
# Test and demo tools, never installed. evkit.c is the event loop canary-backend and
# canary-client share, not a program.
TOOL_SRCS   := $(filter-out tests/tools/evkit.c,$(wildcard tests/tools/*.c))
TOOL_BINS   := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))
EVKIT_OBJ   := $(BUILD)/tools/evkit.o
FUZZ_SRCS   := $(wildcard tests/fuzz/*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 120
BENCH_SRCS  := $(wildcard tests/bench/*.c)
BENCH_BINS  := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

INSTALL_PROGS := canary-loader canaryctl canaryd
# Man pages, written in scdoc (man/*.scd), rendered into $(BUILD)/man/ by make man.
MAN_SRCS    := $(wildcard man/*.scd)
MAN_PAGES   := $(patsubst man/%.scd,$(BUILD)/man/%,$(MAN_SRCS))
DOCDIR      := $(PREFIX)/share/doc/xdp-canary
# systemd reads units from /usr/local/lib/systemd/system as well as /lib/systemd/system;
# bash-completion loads share/bash-completion/completions/COMMAND from both prefixes.
UNITDIR     := $(PREFIX)/lib/systemd/system
COMPLETIONDIR := $(PREFIX)/share/bash-completion/completions
UNITS       := xdp-canary-dataplane.service canaryd.service

.PHONY: all deps test unit integration bench bench-scale bench-peers bench-fleet sim demo install man deb deb-check clean help format \
	fresh-check asan asan-build fuzz fuzz-build fuzz-bins fuzz-dataplane soak

# The previous ABI's data plane, for the upgrade test (tests/fixtures/abi2/README.md).
ABI2_OBJ    := $(BUILD)/fixtures/abi2.bpf.o

all: $(PROGS) $(TEST_BINS) $(BENCH_BINS) $(TOOL_BINS) $(ABI2_OBJ)

help:
	@echo 'Targets:'
	@echo '  all       build the BPF objects, skeletons, tools and test programs (default)'
	@echo '  test      run unit and integration tests as root (installs missing deps)'
	@echo '  unit      run only the unit tests'
	@echo '  bench     run the data-plane benchmark (prints ratio tables)'
	@echo '  bench-scale  per-packet cost as flows, services and backends grow: tables'
	@echo '            and SVG charts in docs/bench/ (needs the bench group: gnuplot)'
	@echo '  bench-peers  xdp-canary against nftables DNAT, nginx, HAProxy and plain'
	@echo '            routing: splitter CPU, packet rate, wrk, live cost (root, about'
	@echo '            8 minutes; BENCH_PEERS_ARGS="--rounds N --duration S")'
	@echo '  bench-fleet  the fleet'"'"'s delays (apply, rollback, takeover) over'
	@echo '            BENCH_FLEET_RUNS runs of the fleet tests on a real etcd (root)'
	@echo '  sim       run the full analysis simulation'
	@echo '  demo      build, run the namespace demo end to end, tear down'
	@echo '  fresh-check  build a Debian 12 chroot (debootstrap), install only what'
	@echo '            install-deps.sh names, run make and the unit tests in it (root)'
	@echo '  asan      build with ASan+UBSan into $(BUILD)/asan and run the unit tests and'
	@echo '            the input-handling integration tests (make test does this too)'
	@echo '  fuzz      libFuzzer targets (services file, plan, state file, Prometheus'
	@echo '            answer, fleet store values) for FUZZ_SECONDS each (default $(FUZZ_SECONDS))'
	@echo '  soak      long runs: steady load with weight changes and rollbacks, kill -9'
	@echo '            of canaryd mid-rollout, a SYN flood into a full table (root)'
	@echo '  fuzz-dataplane  the data plane against its reference classifier for'
	@echo '            DP_FUZZ_COUNT mutated packets (default 10,000,000; root)'
	@echo '  man       render the man pages (man/*.scd, scdoc) into $(BUILD)/man'
	@echo '  install   install $(INSTALL_PROGS) into $(PREFIX)/sbin, the man pages, and'
	@echo '            contrib/ (alerting rules, Grafana dashboard, Argo and Flagger examples) into $(DOCDIR),'
	@echo '            the systemd units into $(UNITDIR), bash completion into $(COMPLETIONDIR)'
	@echo '  deb       build $(BUILD)/xdp-canary_VERSION_ARCH.deb (dpkg-deb): the programs,'
	@echo '            man pages, systemd units, bash completion and contrib/ (scripts/mkdeb.sh)'
	@echo '  deb-check  install the package in a debootstrapped Debian 12 root with apt-get,'
	@echo '            run the programs from /usr/sbin, purge it (root, needs the mirror)'
	@echo '  clean     remove $(BUILD)'
	@echo 'Variables: V=1 for full commands, BUILD=dir, PREFIX=dir'

$(BUILD) $(BUILD)/tests $(BUILD)/bench $(BUILD)/tools:
	$(Q)mkdir -p $@

$(BPF_SYSINC)/.stamp: | $(BUILD)
	$(call msg,STAGE,$(BPF_SYSINC))
	$(Q)rm -rf $(BPF_SYSINC) && mkdir -p $(BPF_SYSINC)
	$(Q)for d in /usr/include/linux /usr/include/asm-generic /usr/include/bpf \
		/usr/include/$(MULTIARCH)/asm; do \
		[ -d $$d ] || { echo "missing $$d: run scripts/install-deps.sh" >&2; exit 1; }; \
		ln -s $$d $(BPF_SYSINC)/; done
	$(Q)touch $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BPF_SYSINC)/.stamp | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(ABI2_OBJ): tests/fixtures/abi2/xdp_canary.bpf.c $(wildcard tests/fixtures/abi2/*.h) \
	     $(BPF_SYSINC)/.stamp
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(BUILD)/lib/%.o: userspace/lib/%.c $(LIB_HDRS) $(BPF_HDRS) $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) -c $< -o $@

$(LIBCANARY): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBLOGIC): $(LOGIC_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/%: userspace/%.c $(LIBCANARY) $(LIB_HDRS) $(BPF_HDRS) $(SKELS) | $(BUILD)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) $< $(LIBCANARY) $(LDLIBS) -o $@

$(BUILD)/obj/%.o: userspace/%.c $(MULTI_HDRS) $(LIB_HDRS) $(BPF_HDRS) $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) -c $< -o $@

$(foreach d,$(MULTI_DIRS),$(eval $(BUILD)/$(d): $(call multi_objs,$(d))))

# canaryd's dashboard: the files under userspace/canaryd/web/, compiled into the binary.
WEB_FILES   := $(wildcard userspace/canaryd/web/*)
$(BUILD)/gen/web.c: $(WEB_FILES) scripts/embed-web.sh
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)scripts/embed-web.sh $(WEB_FILES) > $@
$(BUILD)/obj/canaryd/web.o: $(BUILD)/gen/web.c userspace/canaryd/web.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) -Iuserspace/canaryd -c $< -o $@
$(BUILD)/canaryd: $(BUILD)/obj/canaryd/web.o
$(MULTI_PROGS): $(LIBCANARY) | $(BUILD)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) $(filter %.o,$^) $(LIBCANARY) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/lib/*.h $(LIBCANARY) $(LIB_HDRS) $(BPF_HDRS) $(SKELS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) -Itests/lib $< $(LIBCANARY) $(LDLIBS) -o $@

# The pure-logic tests link without libbpf: a call from logic/ into the maps fails here.
$(addprefix $(BUILD)/tests/,$(PURE_TESTS)): $(BUILD)/tests/%: tests/unit/%.c tests/lib/*.h \
		$(LIBLOGIC) $(LIB_HDRS) $(BPF_HDRS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) -Itests/lib $< $(LIBLOGIC) $(LOGIC_LIBS) -o $@

$(BUILD)/bench/%: tests/bench/%.c tests/lib/*.h $(LIBCANARY) $(LIB_HDRS) $(BPF_HDRS) $(SKELS) | $(BUILD)/bench
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) -Itests/lib $< $(LIBCANARY) $(LDLIBS) -o $@

# Built only in the fuzz tree (make fuzz-build: BUILD=$(BUILD)/fuzz, clang, FUZZ=1).
$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIBCANARY) $(LIB_HDRS) $(BPF_HDRS) $(SKELS) | $(BUILD)
	$(call msg,FUZZ,$@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) -fsanitize=fuzzer $< $(LIBCANARY) $(LDLIBS) -o $@

$(EVKIT_OBJ): tests/tools/evkit.c tests/tools/evkit.h $(LIB_HDRS) | $(BUILD)/tools
	$(call msg,CC,$@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) -c $< -o $@

# The tools take their options through cli/params.o, which needs only base/.
PARAMS_OBJ  := $(BUILD)/lib/cli/params.o
$(BUILD)/tools/%: tests/tools/%.c $(EVKIT_OBJ) $(PARAMS_OBJ) $(LIBLOGIC) tests/tools/evkit.h \
		$(LIB_HDRS) $(BPF_HDRS) | $(BUILD)/tools
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(XCFLAGS) $(CFLAGS) $(XLDFLAGS) -Itests/tools $< $(EVKIT_OBJ) $(PARAMS_OBJ) \
		$(LIBLOGIC) $(LDLIBS) -o $@

deps:
	$(Q)scripts/install-deps.sh --if-missing

# make test: everything, then the sanitizer pass (unit tests and the tests that feed
# hostile input, built with ASan+UBSan) and a short run of each fuzz target over its
# seeds; one closing line for all of it.
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory asan-build fuzz-build
	$(Q)BUILD=$(BUILD) ASAN_BUILD=$(BUILD)/asan FUZZ_BUILD=$(BUILD)/fuzz tests/run.sh all

asan-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SANITIZE=address,undefined all

asan: asan-build
	$(Q)BUILD=$(BUILD) ASAN_BUILD=$(BUILD)/asan tests/run.sh asan

# Long runs (docs/RELIABILITY.md): SOAK_SECONDS of steady load with 1000 weight changes
# and 10 rollbacks, 20 kill -9 of canaryd mid-rollout, a SYN flood into a full table.
SOAK_SECONDS ?= 600
soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/soak.sh all $(SOAK_SECONDS) 2>&1 | \
		awk '/^ok - /{p++} /^not ok - /{f++} {print; fflush()} \
		     END {print ""; print p+0 " passed, " f+0 " failed"; exit f > 0}'

# The data plane's differential fuzzer (tests/unit/test_dpfuzz.c; make test runs 200,000).
DP_FUZZ_COUNT ?= 10000000
DP_FUZZ_SEED  ?= $(shell date +%s)
fuzz-dataplane: all
	$(Q)$(BUILD)/tests/test_dpfuzz --count $(DP_FUZZ_COUNT) --seed $(DP_FUZZ_SEED)

fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz CC=$(CLANG) SANITIZE=address,undefined \
		FUZZ=1 fuzz-bins

fuzz-bins: $(FUZZ_BINS)

# Each target runs FUZZ_SECONDS on a working corpus seeded from the tests' inputs
# (scripts/fuzz.sh); findings stay in $(BUILD)/fuzz/findings-NAME/.
fuzz: fuzz-build
	$(Q)scripts/fuzz.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

unit: all
	$(Q)BUILD=$(BUILD) tests/run.sh unit

integration: all
	$(Q)BUILD=$(BUILD) tests/run.sh integration

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(BUILD)/bench/canary_bench
	$(Q)BUILD=$(BUILD) scripts/bench-agent.sh

# Not part of make test or make bench: about 2 minutes, writes docs/bench/scale-*.{md,svg}.
bench-scale: deps
	$(Q)scripts/install-deps.sh --if-missing --group bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/bench-scale.sh
# Not part of make test: timings, with ratios against peers measured in the same run
# (docs/BENCHMARKS.md, "Peers" and "Live cost"). Writes docs/bench/peers.md and SVGs.
BENCH_PEERS_ARGS ?=
bench-peers: deps
	$(Q)scripts/install-deps.sh --if-missing --group bench
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/bench-peers.sh $(BENCH_PEERS_ARGS)

# Not part of make test: the fleet's delays over BENCH_FLEET_RUNS runs of the fleet
# tests (docs/BENCHMARKS.md, "Fleet"), about 5 minutes a run.
BENCH_FLEET_RUNS ?= 3
bench-fleet: all
	$(Q)BUILD=$(BUILD) scripts/bench-fleet.sh $(BENCH_FLEET_RUNS)

sim: all
	$(Q)$(BUILD)/canary-sim --full

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/demo.sh

fresh-check:
	$(Q)scripts/install-deps.sh --if-missing --group fresh-check
	$(Q)scripts/fresh-check.sh

$(BUILD)/man/%: man/%.scd
	$(call msg,SCDOC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)scdoc < $< > $@

man: $(MAN_PAGES)

install: all man
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(DOCDIR)/contrib/prometheus \
		$(DESTDIR)$(DOCDIR)/contrib/grafana $(DESTDIR)$(DOCDIR)/contrib/argo \
		$(DESTDIR)$(DOCDIR)/contrib/flagger
	install -m 0755 $(addprefix $(BUILD)/,$(INSTALL_PROGS)) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 $(filter %.5,$(MAN_PAGES)) $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 $(filter %.8,$(MAN_PAGES)) $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 contrib/prometheus/*.yml $(DESTDIR)$(DOCDIR)/contrib/prometheus/
	install -m 0644 contrib/grafana/*.json $(DESTDIR)$(DOCDIR)/contrib/grafana/
	install -m 0644 contrib/argo/*.yaml $(DESTDIR)$(DOCDIR)/contrib/argo/
	install -m 0644 contrib/flagger/*.yaml $(DESTDIR)$(DOCDIR)/contrib/flagger/
	install -m 0644 scripts/dataplane.conf $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(COMPLETIONDIR)
	for u in $(UNITS); do \
		sed -e 's|/usr/local/sbin/|$(PREFIX)/sbin/|g' -e 's|/usr/local/share/doc/|$(PREFIX)/share/doc/|g' \
			scripts/$$u >$(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 scripts/completion/xdp-canary.bash $(DESTDIR)$(COMPLETIONDIR)/canaryctl
	ln -sf canaryctl $(DESTDIR)$(COMPLETIONDIR)/canary-loader
	ln -sf canaryctl $(DESTDIR)$(COMPLETIONDIR)/canaryd

deb: all man
	$(Q)scripts/mkdeb.sh $(BUILD) $(BUILD)

deb-check: all man
	$(Q)scripts/install-deps.sh --if-missing --group fresh-check
	$(Q)scripts/deb-check.sh $$(scripts/mkdeb.sh $(BUILD) $(BUILD))

# `make print-VAR` prints a variable (the build tests read the BPF flags this way).
print-%:
	@echo '$($*)'

format:
	clang-format -i bpf/*.[ch] userspace/*.c userspace/*/*.[ch] userspace/lib/*/*.[ch] \
		tests/unit/*.c tests/lib/*.h tests/tools/*.[ch]

clean:
	rm -rf $(BUILD)

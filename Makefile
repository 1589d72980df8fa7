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
MULTIARCH   := $(shell $(CC) -dumpmachine)
CLANG_RES   := $(shell $(CLANG) -print-resource-dir 2>/dev/null)
BPF_SYSINC  := $(BUILD)/bpf-include
BPF_CFLAGS  := -g -O2 -Wall -Werror -target bpf -mcpu=v3 -nostdinc \
	       -isystem $(CLANG_RES)/include -isystem $(BPF_SYSINC) -Ibpf
CFLAGS      ?= -O2 -g
CFLAGS      += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	       -Wno-missing-field-initializers -D_GNU_SOURCE \
	       -Ibpf -Iuserspace/lib -I$(BUILD) $(PKG_CFLAGS)
LDLIBS      := $(PKG_LIBS) -lelf -lz -lm -pthread

BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS       := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS    := $(wildcard bpf/*.h)

LIB_SRCS    := $(wildcard userspace/lib/*.c)
LIB_OBJS    := $(patsubst userspace/lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRCS))
LIB_HDRS    := $(wildcard userspace/lib/*.h)
LIBCANARY   := $(BUILD)/libcanary.a

PROG_SRCS   := $(wildcard userspace/*.c)
PROGS       := $(patsubst userspace/%.c,$(BUILD)/%,$(PROG_SRCS))

TEST_SRCS   := $(wildcard tests/unit/*.c)
TEST_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TOOL_SRCS   := $(wildcard tests/tools/*.c)
TOOL_BINS   := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))
BENCH_SRCS  := $(wildcard tests/bench/*.c)
BENCH_BINS  := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

INSTALL_PROGS := canary-loader canaryctl canaryd

.PHONY: all deps test unit integration bench sim demo install clean help format fresh-check

all: $(PROGS) $(TEST_BINS) $(BENCH_BINS) $(TOOL_BINS)

help:
	@echo 'Targets:'
	@echo '  all       build the BPF objects, skeletons, tools and test programs (default)'
	@echo '  test      run unit and integration tests as root (installs missing deps)'
	@echo '  unit      run only the unit tests'
	@echo '  bench     run the data-plane benchmark (prints ratio tables)'
	@echo '  sim       run the full analysis simulation'
	@echo '  demo      build, run the namespace demo end to end, tear down'
	@echo '  fresh-check  build a Debian 12 chroot (debootstrap), install only what'
	@echo '            install-deps.sh names, run make and the unit tests in it (root)'
	@echo '  install   install $(INSTALL_PROGS) into $(PREFIX)/sbin'
	@echo '  clean     remove $(BUILD)'
	@echo 'Variables: V=1 for full commands, BUILD=dir, PREFIX=dir'

$(BUILD) $(BUILD)/lib $(BUILD)/tests $(BUILD)/bench $(BUILD)/tools:
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

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(BUILD)/lib/%.o: userspace/lib/%.c $(LIB_HDRS) $(BPF_HDRS) $(SKELS) | $(BUILD)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIBCANARY): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BUILD)/%: userspace/%.c $(LIBCANARY) $(LIB_HDRS) $(BPF_HDRS) $(SKELS) | $(BUILD)
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LIBCANARY) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/lib/*.h $(LIBCANARY) $(LIB_HDRS) $(BPF_HDRS) $(SKELS) | $(BUILD)/tests
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/lib $< $(LIBCANARY) $(LDLIBS) -o $@

$(BUILD)/bench/%: tests/bench/%.c tests/lib/*.h $(LIBCANARY) $(LIB_HDRS) $(BPF_HDRS) $(SKELS) | $(BUILD)/bench
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/lib $< $(LIBCANARY) $(LDLIBS) -o $@

$(BUILD)/tools/%: tests/tools/%.c | $(BUILD)/tools
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(CFLAGS) $< $(LDLIBS) -o $@

deps:
	$(Q)scripts/install-deps.sh --if-missing

test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tests/run.sh all

unit: all
	$(Q)BUILD=$(BUILD) tests/run.sh unit

integration: all
	$(Q)BUILD=$(BUILD) tests/run.sh integration

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(BUILD)/bench/canary_bench
	$(Q)BUILD=$(BUILD) scripts/bench-agent.sh

sim: all
	$(Q)$(BUILD)/canary-sim --full

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) scripts/demo.sh

fresh-check:
	$(Q)scripts/install-deps.sh --if-missing --group fresh-check
	$(Q)scripts/fresh-check.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(addprefix $(BUILD)/,$(INSTALL_PROGS)) $(DESTDIR)$(PREFIX)/sbin/

# `make print-VAR` prints a variable (the build tests read the BPF flags this way).
print-%:
	@echo '$($*)'

format:
	clang-format -i bpf/*.[ch] userspace/*.c userspace/lib/*.[ch] tests/unit/*.c tests/lib/*.h

clean:
	rm -rf $(BUILD)

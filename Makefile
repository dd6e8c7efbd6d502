# pinwall: build, demo, check, bench, install.
# `make` builds into build/; skeletons and vmlinux.h are generated there.

PREFIX   ?= /usr/local
DESTDIR  ?=
# systemd reads units from $(PREFIX)/lib/systemd/system for /usr and /usr/local
UNITDIR  ?= $(PREFIX)/lib/systemd/system
# fail2ban reads its actions from /etc/fail2ban/action.d whatever PREFIX is
SYSCONFDIR ?= /etc
BUILD    ?= build

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-format-truncation -Iinclude -Ilib -I$(BUILD)
LDLIBS   += -lbpf -lelf -lz -ljson-c -lcap -lpcap -lm -lmicrohttpd -lcurl
BPFFLAGS := -target bpf -g -O2 -D__TARGET_ARCH_$(ARCH) -Wall -Wextra -Werror \
            -Iinclude -Ibpf -I$(BUILD)

LIB_SRC  := $(wildcard lib/*.c)
CLI_SRC  := $(wildcard src/*.c)
LIB_OBJ  := $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o)
CLI_OBJ  := $(CLI_SRC:src/%.c=$(BUILD)/src/%.o)
SKELS    := $(BUILD)/pinwall.skel.h $(BUILD)/meta.skel.h $(BUILD)/merge.skel.h $(BUILD)/ct_egress.skel.h
TEST_OBJS := $(patsubst tests/objs/%.bpf.c,$(BUILD)/objs/%.o,$(wildcard tests/objs/*.bpf.c))
HDRS     := $(wildcard include/pinwall/*.h lib/*.h src/*.h)

.SECONDARY:
.PHONY: all deps demo check test unit integration bench install deb clean
all: $(BUILD)/pinwall $(BUILD)/pwgen $(BUILD)/udpsink

deps:
	@bash scripts/deps.sh

$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/*.h include/pinwall/abi.h $(BUILD)/vmlinux.h
	$(CLANG) $(BPFFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp && mv $@.tmp $@

# variants include a base file (tutorial.bpf.c, flows.bpf.c, the built-in program)
$(BUILD)/objs/%.o: tests/objs/%.bpf.c tests/objs/*.bpf.c bpf/*.bpf.c bpf/*.h include/pinwall/abi.h \
		   $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPFFLAGS) -c $< -o $@

$(BUILD)/lib/%.o: lib/%.c $(HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/src/%.o: src/%.c $(HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libpinwall.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/pinwall: $(CLI_OBJ) $(BUILD)/libpinwall.a
	$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The test build: the same sources with the test hooks (PW_TEST_HOOKS: kill
# at a step, the bpf_link attachment of earlier versions); never installed.
HOOK_OBJ := $(LIB_OBJ:$(BUILD)/%=$(BUILD)/test-hooks/%) $(CLI_OBJ:$(BUILD)/%=$(BUILD)/test-hooks/%)

$(BUILD)/test-hooks/lib/%.o: lib/%.c $(HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DPW_TEST_HOOKS -c $< -o $@

$(BUILD)/test-hooks/src/%.o: src/%.c $(HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DPW_TEST_HOOKS -c $< -o $@

$(BUILD)/pinwall-test: $(HOOK_OBJ)
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/pwgen: tools/pwgen.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

# The receiving application of the steering test and bench.
$(BUILD)/udpsink: tools/udpsink.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< -o $@

# BPF unit tests: BPF_PROG_TEST_RUN on packet tables, through the skeleton.
$(BUILD)/test_prog: tests/unit/test_prog.c tests/unit/pktbuild.h tests/unit/skelrules.h $(SKELS)
	$(CC) $(CFLAGS) -Itests/unit $< -lbpf -lelf -lz -lcmocka -o $@

# Steering (bpf/steer.h): redirect, fallback, symmetry, through the skeleton.
$(BUILD)/test_steer: tests/unit/test_steer.c tests/unit/pktbuild.h tests/unit/skelrules.h $(SKELS)
	$(CC) $(CFLAGS) -Itests/unit $< -lbpf -lelf -lz -lcmocka -o $@

# Rule tests: the packet path against the reference classifier in libpinwall.
$(BUILD)/test_rules: tests/unit/test_rules.c tests/unit/randpkt.h tests/unit/ruleharness.h tests/unit/pktbuild.h tests/unit/scratchroot.h tests/unit/skelrules.h $(BUILD)/libpinwall.a $(SKELS)
	$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libpinwall.a $(LDLIBS) -lcmocka -o $@

# Ordered rules and sets: the packet path against the reference classifier.
$(BUILD)/test_ordered: tests/unit/test_ordered.c tests/unit/randpkt.h tests/unit/ruleharness.h tests/unit/pktbuild.h tests/unit/scratchroot.h tests/unit/skelrules.h $(BUILD)/libpinwall.a $(SKELS)
	$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libpinwall.a $(LDLIBS) -lcmocka -o $@

# Fail-closed fuzz: random edge frames against the reference parser and classifier.
$(BUILD)/test_fuzz: tests/unit/test_fuzz.c tests/unit/pktbuild.h tests/unit/refparse.h tests/unit/scratchroot.h tests/unit/skelrules.h $(BUILD)/libpinwall.a $(SKELS)
	$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libpinwall.a $(LDLIBS) -lcmocka -o $@

# Migration tests: BTF layouts, the reuse decision, copy and merge on real maps.
$(BUILD)/test_migrate: tests/unit/test_migrate.c $(BUILD)/libpinwall.a $(SKELS)
	$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libpinwall.a $(LDLIBS) -lcmocka -o $@

# The frame summary of `pinwall drops` (no kernel needed).
$(BUILD)/test_framesum: tests/unit/test_framesum.c $(BUILD)/libpinwall.a
	$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libpinwall.a $(LDLIBS) -lcmocka -o $@

# The CrowdSec stream parser and decisions table (no kernel, no HTTP).
$(BUILD)/test_crowdsec: tests/unit/test_crowdsec.c $(BUILD)/libpinwall.a
	$(CC) $(CFLAGS) -Itests/unit $< $(BUILD)/libpinwall.a $(LDLIBS) -lcmocka -o $@

# Benchmarks: bench/NAME.c (+ optional bench/NAME.bpf.c, as a skeleton).
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(filter-out %.bpf.c,$(wildcard bench/*.c)))
BENCH_SKELS := $(patsubst bench/%.bpf.c,$(BUILD)/bench/%.skel.h,$(wildcard bench/*.bpf.c))

# (a bench object may include the built-in program: bench/capture_base.bpf.c)
$(BUILD)/bench/%.bpf.o: bench/%.bpf.c bpf/*.bpf.c bpf/*.h include/pinwall/abi.h $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPFFLAGS) -c $< -o $@

$(BUILD)/bench/%.skel.h: $(BUILD)/bench/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp && mv $@.tmp $@

$(BUILD)/bench/%: bench/%.c tests/unit/*.h $(BUILD)/libpinwall.a $(SKELS) $(BENCH_SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -I$(BUILD)/bench -Itests/unit $< $(BUILD)/libpinwall.a $(LDLIBS) -o $@

# The two set-up commands of the README: each installs and builds what it needs.
demo: deps all
	bash scripts/demo.sh

check: deps all $(BUILD)/pinwall-test $(BUILD)/test_prog $(BUILD)/test_rules $(BUILD)/test_ordered $(BUILD)/test_fuzz $(BUILD)/test_migrate $(BUILD)/test_framesum $(BUILD)/test_steer $(BUILD)/test_crowdsec $(TEST_OBJS)
	bash tests/run.sh

test: check

bench: deps all $(BENCH_BIN) $(TEST_OBJS)
	bash bench/run.sh

# PREFIX=/usr for a package; DESTDIR stages the files elsewhere.
install: all
	install -D -m 0755 $(BUILD)/pinwall $(DESTDIR)$(PREFIX)/sbin/pinwall
	install -D -m 0644 docs/man/pinwall.8 $(DESTDIR)$(PREFIX)/share/man/man8/pinwall.8
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' systemd/pinwall.service.in > $(BUILD)/pinwall.service
	install -D -m 0644 $(BUILD)/pinwall.service $(DESTDIR)$(UNITDIR)/pinwall.service
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' systemd/pinwall-crowdsec.service.in > $(BUILD)/pinwall-crowdsec.service
	install -D -m 0644 $(BUILD)/pinwall-crowdsec.service $(DESTDIR)$(UNITDIR)/pinwall-crowdsec.service
	install -D -m 0644 completion/pinwall \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/pinwall
	install -D -m 0644 fail2ban/action.d/pinwall.conf \
		$(DESTDIR)$(SYSCONFDIR)/fail2ban/action.d/pinwall.conf

# The Debian package, built by dpkg-buildpackage in a copy of the tree, then
# lintian (slow: a whole build; not part of check).
deb:
	bash scripts/deb.sh

clean:
	rm -rf $(BUILD)

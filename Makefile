# kq - one non-recursive Makefile.  `make` builds bin/kq-*; `make test` runs
# every test; `make asan` runs them against sanitizer builds in build/asan.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions

O ?= build
BIN ?= bin
CC ?= cc
CFLAGS ?= -O2 -g
WERROR ?= 1

override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wformat=2 -Wshadow \
	-Wstrict-prototypes -Wno-unused-parameter -MMD -MP -pthread
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif
ifdef SANITIZE
override CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

PKGS := libevent_core libevent_pthreads
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -levent_core -levent_pthreads)
override CFLAGS += $(PKG_CFLAGS)
LIBS := $(PKG_LIBS) -lz -llz4 -lzstd -lsnappy -lpthread -lm

ifeq ($(V),1)
Q :=
QCC =
QLD =
else
Q := @
QCC = @echo "  CC      $@";
QLD = @echo "  LD      $@";
endif

MODULES := base proto log net cli group
PROGRAMS := kq-broker kq-produce kq-consume kq-topics kq-groups

mod_srcs = $(wildcard common/$(1)/*.c)
mod_lib = $(O)/libkq_$(1).a
# link order: a module before the modules it uses
LIBORDER := cli net group log proto base
ALL_LIBS := $(foreach m,$(LIBORDER),$(call mod_lib,$(m)))

all: $(addprefix $(BIN)/,$(PROGRAMS))

define MODULE_RULES
$(call mod_lib,$(1)): $(patsubst %.c,$(O)/%.o,$(call mod_srcs,$(1)))
	$$(QLD)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call MODULE_RULES,$(m))))

define PROGRAM_RULES
$(BIN)/$(1): $(patsubst %.c,$(O)/%.o,$(wildcard cmd/$(1)/*.c)) $(ALL_LIBS)
	@mkdir -p $$(@D)
	$$(QLD)$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(ALL_LIBS) $$(LIBS_$(1)) $$(LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_RULES,$(p))))
# Only the broker speaks to ZooKeeper; the CLIs stay free of it.
LIBS_kq-broker := -lzookeeper_mt -ljansson

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(QCC)$(CC) $(CFLAGS) -c -o $@ $<

# Unit tests: tests/unit/test-NAME.c links only the modules it needs, so a
# module under construction does not stop the others' tests.
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))
unit_mods = $(or $(UNIT_MODS_$(1)),$(LIBORDER))
UNIT_MODS_base := base
UNIT_MODS_proto := proto base
UNIT_MODS_batch := proto base
UNIT_MODS_msgset := proto base
UNIT_MODS_log := log proto base
UNIT_MODS_group := group proto base
unit_libs = $(foreach m,$(call unit_mods,$(1)),$(call mod_lib,$(m)))
define UNIT_RULES
$(O)/tests/test-$(1): $(O)/tests/unit/test-$(1).o $(call unit_libs,$(1))
	@mkdir -p $$(@D)
	$$(QLD)$$(CC) $$(LDFLAGS) -o $$@ $$< $(call unit_libs,$(1)) $$(LIBS)
endef
$(foreach t,$(patsubst tests/unit/test-%.c,%,$(UNIT_SRCS)),$(eval $(call UNIT_RULES,$(t))))

unit-bins: $(UNIT_BINS)

# `make bench [QUICK=1]`: kq against its peers (tests/bench/run.sh); not part of `make test`.
$(O)/bench/kq-perf: $(O)/tests/bench/kq-perf.o $(ALL_LIBS)
	@mkdir -p $(@D)
	$(QLD)$(CC) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LIBS)

bench: deps-bench all $(O)/bench/kq-perf
	@QUICK=$(QUICK) sh tests/bench/run.sh $(O) $(BIN)

# Single-module conveniences while developing: `make lib-log`.
lib-%: $(O)/libkq_%.a ;

# Protocol code is generated from the schemas; the output is committed.
SCHEMAS ?= ../shared/spec/kafka-messages
gen:
	/usr/bin/python3 common/proto/gen.py $(SCHEMAS) common/proto

deps:
	@sh share/deps.sh build

run: deps all
	$(BIN)/kq-broker --listen 127.0.0.1:9092 --data-dir ./kq-data

test: deps-test all unit-bins
	@sh tests/run.sh $(O) $(BIN)

deps-test:
	@sh share/deps.sh test

deps-bench:
	@sh share/deps.sh bench

deps-lint:
	@sh share/deps.sh lint

unit: all unit-bins
	@sh tests/run.sh $(O) $(BIN) unit

e2e: all
	@sh tests/run.sh $(O) $(BIN) e2e

asan: deps-test
	$(MAKE) O=build/asan BIN=build/asan/bin SANITIZE=address,undefined CFLAGS="-O1 -g" all unit-bins
	@ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		sh tests/run.sh build/asan build/asan/bin

lint: deps-lint
	mandoc -Tlint -Wwarning man/*.[0-9]
	shellcheck -s bash completions/kq.bash

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 755 $(addprefix $(BIN)/,$(PROGRAMS)) $(DESTDIR)$(BINDIR)
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/*.7 $(DESTDIR)$(MANDIR)/man7
	install -m 644 man/*.8 $(DESTDIR)$(MANDIR)/man8
	for p in $(PROGRAMS); do install -m 644 completions/kq.bash $(DESTDIR)$(BASHCOMPDIR)/$$p; done
	install -m 644 completions/_kq $(DESTDIR)$(ZSHCOMPDIR)/_kq

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGRAMS)) $(DESTDIR)$(ZSHCOMPDIR)/_kq
	rm -f $(addprefix $(DESTDIR)$(BASHCOMPDIR)/,$(PROGRAMS))
	rm -f $(DESTDIR)$(MANDIR)/man1/kq-*.1 $(DESTDIR)$(MANDIR)/man7/kq.7 $(DESTDIR)$(MANDIR)/man8/kq-broker.8

clean:
	rm -rf build bin

.PHONY: all gen deps deps-test deps-bench deps-lint run test unit e2e asan lint install uninstall clean unit-bins bench
.DELETE_ON_ERROR:

-include $(shell find $(O) -name '*.d' 2>/dev/null)

# Fuzzing (clang libFuzzer; not part of `make test`): `make fuzz FUZZ_SECONDS=60`.
FUZZ_SECONDS ?= 60
fuzz:
	@sh share/deps.sh fuzz
	sh tests/fuzz/run.sh $(FUZZ_SECONDS)
.PHONY: fuzz

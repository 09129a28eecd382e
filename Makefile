# molt — see README.md. `make`, `make check`, `make check-slow`, `make asan`,
# `make fuzz`, `make bench`, `make install PREFIX=/usr/local`, `make clean`.

B        ?= build
CC       ?= cc
PREFIX   ?= /usr/local
PKGS     := libseccomp libcap libmnl libarchive jansson libcrypto libcurl
# libdeflate and libzstd: the gzip members and zstd frames of exported layers
# (layers/compress_blocks.c); libdeflate is ~3x faster than zlib.
PKGS     += libdeflate libzstd
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.0.0-dev)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libarchive, libcurl and libcrypto are compiled against but not linked: layers/lazy_*.c
# dlopen them on first use, by the SONAME of the library found here,
# so that every molt start does not pay ~25 ms for them and their dependencies.
LINK_PKGS  := $(filter-out libarchive libcurl libcrypto,$(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null || echo -lseccomp -lcap -lmnl -ljansson -ldeflate -lzstd)
soname      = $(or $(shell objdump -p $$($(CC) -print-file-name=$(1).so) 2>/dev/null | \
                sed -n 's/^ *SONAME *//p'),$(error cannot read the SONAME of $(1).so: is its -dev package installed?))

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wimplicit-fallthrough
OPT      ?= -O2 -D_FORTIFY_SOURCE=3 -fstack-protector-strong
CFLAGS   ?=
MOLT_CFLAGS := -std=gnu17 $(WARN) $(OPT) -fPIE -g -D_GNU_SOURCE \
            -DMOLT_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS  ?=
MOLT_LDFLAGS := -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(LDFLAGS)

MODULE_SRC := $(sort $(wildcard lib/*.c layers/*.c sandbox/*.c runner/*.c runner/*/*.c))
LIB_SRC    := $(filter-out runner/cli/main.c,$(MODULE_SRC))
LIB_OBJ    := $(LIB_SRC:%.c=$(B)/obj/%.o)
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(B)/helpers/%)
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all check check-slow asan fuzz bench install clean demo unit docs
all: $(B)/molt $(UNIT_BIN) $(HELPER_BIN) docs

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo '  CC      $<'
	@$(CC) $(MOLT_CFLAGS) -MMD -MP -c $< -o $@

$(B)/libmolt.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(B)/molt: $(B)/obj/runner/cli/main.o $(B)/libmolt.a
	@echo '  LD      $@'
	@$(CC) $(MOLT_CFLAGS) $(MOLT_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

$(B)/tests/%: tests/unit/%.c tests/unit/tap.h $(B)/libmolt.a
	@mkdir -p $(dir $@)
	@echo '  TEST    $@'
	@$(CC) $(MOLT_CFLAGS) $(MOLT_LDFLAGS) -MMD -MP -o $@ $< $(B)/libmolt.a $(PKG_LIBS) -lpthread

# Small probes run inside sandboxes by the hostile tests: static, no libc surprises.
# The seccomp filters, compiled to BPF once at build time (sandbox/seccomp.c says why).
# The generator links only the libseccomp builders and lib/, not libmolt (which needs
# its output).
SECCOMP_GEN := $(B)/gen/seccomp_gen
SECCOMP_BPF := $(B)/gen/seccomp_bpf.h
$(SECCOMP_GEN): sandbox/gen/seccomp_gen.c $(B)/obj/sandbox/seccomp_profile.o \
		$(filter $(B)/obj/lib/%,$(LIB_OBJ))
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	@$(CC) $(MOLT_CFLAGS) $(MOLT_LDFLAGS) -MMD -MP -o $@ $^ $(PKG_LIBS)

$(SECCOMP_BPF): $(SECCOMP_GEN)
	@echo '  GEN     $@'
	@$(SECCOMP_GEN) >$@.tmp && mv -f $@.tmp $@

$(B)/obj/layers/lazy_archive.o: private MOLT_CFLAGS += -DMOLT_LIBARCHIVE_SONAME='"$(call soname,libarchive)"'
$(B)/obj/layers/lazy_crypto.o: private MOLT_CFLAGS += -DMOLT_LIBCRYPTO_SONAME='"$(call soname,libcrypto)"'
$(B)/obj/layers/lazy_curl.o: private MOLT_CFLAGS += -DMOLT_LIBCURL_SONAME='"$(call soname,libcurl)"'

$(B)/obj/sandbox/seccomp.o: $(SECCOMP_BPF)
$(B)/obj/sandbox/seccomp.o: private MOLT_CFLAGS += -DMOLT_SECCOMP_BPF_H='"$(abspath $(SECCOMP_BPF))"'

$(B)/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	@echo '  PROBE   $@'
	@$(CC) -std=gnu17 -O1 -Wall -Werror -static -o $@ $<

# The man pages and the bash completion, written from the option tables the commands
# parse with (runner/cli/gen/docs_gen.c), so that they cannot drift from molt.
DOCS_GEN := $(B)/gen/docs_gen
$(DOCS_GEN): runner/cli/gen/docs_gen.c $(B)/libmolt.a
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	@$(CC) $(MOLT_CFLAGS) $(MOLT_LDFLAGS) -MMD -MP -o $@ $< $(B)/libmolt.a $(PKG_LIBS) -lpthread

$(B)/man/molt.1: $(DOCS_GEN)
	@echo '  GEN     $(B)/man'
	@rm -rf $(B)/man && mkdir -p $(B)/man.tmp && $(DOCS_GEN) man $(B)/man.tmp && mv $(B)/man.tmp $(B)/man

$(B)/completion/molt: $(DOCS_GEN)
	@mkdir -p $(dir $@)
	@echo '  GEN     $@'
	@$(DOCS_GEN) bash >$@.tmp && mv -f $@.tmp $@

docs: $(B)/man/molt.1 $(B)/completion/molt

unit: $(UNIT_BIN)

check: all
	B=$(B) MOLT=$(abspath $(B)/molt) tests/run-tests.sh

check-slow: all
	B=$(B) MOLT=$(abspath $(B)/molt) MOLT_SLOW=1 tests/run-tests.sh

# ASan + UBSan build in its own directory, then the same test run.
asan:
	$(MAKE) B=build-asan OPT='-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined' \
		LDFLAGS='-fsanitize=address,undefined' check

FUZZ_TIME ?= 600
fuzz:
	B=$(B) FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run-fuzz.sh

bench: all
	B=$(B) MOLT=$(abspath $(B)/molt) tests/bench/run.sh

demo:
	scripts/demo.sh

install: $(B)/molt docs
	install -D -m 0755 $(B)/molt $(DESTDIR)$(PREFIX)/bin/molt
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 $(B)/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -D -m 0644 $(B)/completion/molt \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/molt

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(B)/obj/runner/cli/main.d $(UNIT_BIN:%=%.d) $(SECCOMP_GEN).d $(DOCS_GEN).d

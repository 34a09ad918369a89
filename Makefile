# Pretnum. `make` builds bin/pretnum; `make run` and `make check` are the two commands
# the README promises; `make fuzz`, `make bench`, `make format` are for developers.

CC      ?= gcc
PKGS     = libmicrohttpd libpq libsodium libzip zlib jansson libxml-2.0 libavformat libavcodec \
           libavutil libswresample libswscale libcurl libcrypto
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
           -Wno-missing-field-initializers
CPPFLAGS = -Iinclude -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS))
LDLIBS   = $(shell pkg-config --libs $(PKGS)) -lpthread -lm

# SANITIZE=1 is the `make check` build: ASan + UBSan, no recovery, warnings are errors.
ifeq ($(SANITIZE),1)
BUILD   ?= build/san
CFLAGS  ?= -std=c11 -O1 -g -fno-omit-frame-pointer $(WARN) -Werror \
           -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS ?= -fsanitize=address,undefined
else
BUILD   ?= build/rel
CFLAGS  ?= -std=c11 -O2 -g $(WARN)
LDFLAGS ?=
endif

SRC      = $(wildcard server/*.c lending/*.c media/*.c) $(filter-out cli/main.c,$(wildcard cli/*.c))
OBJ      = $(SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o
LIB      = $(BUILD)/libpretnum.a
TESTS    = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(filter-out tests/unit/testlib.c,$(wildcard tests/unit/test_*.c)))
FUZZ     = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz-replay/%,$(filter-out tests/fuzz/replay.c,$(wildcard tests/fuzz/fuzz_*.c)))
MIGRATIONS = $(sort $(wildcard migrations/*.sql))

.PHONY: all run check test-bins fuzz bench format clean deps
all: bin/pretnum

deps:
	@./scripts/install-deps.sh

bin/pretnum: $(BUILD)/pretnum
	@mkdir -p bin
	cp $< $@

$(BUILD)/pretnum: $(BUILD)/cli/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(OBJ)
	@rm -f $@
	ar rcs $@ $^

# Every header counts: the public ones and each module's private ones (server/internal.h, ...).
$(BUILD)/%.o: %.c $(wildcard include/pretnum/*.h server/*.h lending/*.h media/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Migrations are compiled into the binary, so a deployed pretnum needs no source tree.
$(BUILD)/gen/migrations.c: $(MIGRATIONS) scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	./scripts/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testlib.c tests/unit/testlib.h tests/unit/testdb.c tests/unit/testdb.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) -o $@ $< tests/unit/testlib.c tests/unit/testdb.c $(LIB) \
	    $(LDLIBS) -lcmocka

$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(wildcard tests/fuzz/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB) $(LDLIBS)

# A command-line face of lending/paseto.c for the cross-check with the npm package.
$(BUILD)/tests/paseto_cli: tests/js/paseto_cli.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

test-bins: $(BUILD)/pretnum $(TESTS) $(FUZZ) $(BUILD)/tests/paseto_cli

run: deps
	$(MAKE) bin/pretnum
	./scripts/run.sh

check: deps
	$(MAKE) SANITIZE=1 test-bins
	./scripts/check.sh build/san

# libFuzzer builds with clang; each target runs for FUZZ_SECONDS on a copy of its
# committed corpus (tests/fuzz/corpus/NAME), with its dictionary when there is one.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(MAKE) CC=clang BUILD=build/fuzz \
	    CFLAGS="-std=c11 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined $(WARN)" \
	    LDFLAGS="-fsanitize=address,undefined" build/fuzz/libpretnum.a
	./scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_ONLY)

bench:
	@./scripts/install-deps.sh bench
	$(MAKE) bin/pretnum
	./bench/run.sh

format:
	clang-format -i $(wildcard include/pretnum/*.h server/*.c lending/*.c media/*.c cli/*.c tests/unit/*.[ch] tests/fuzz/*.c)

clean:
	rm -rf build bin

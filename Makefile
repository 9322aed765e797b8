# coconut — build, test, benchmark, install.
#
#   make            libcoconut.a/.so and the coconut binary (installs missing Debian packages first)
#   make test       build and run every test; last line "N passed, N failed"
#   make sanitize   C tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench      benchmarks (GEMM, ...), ratios against reference runs
#   make install    PREFIX=/usr/local
#
# Dependencies are Debian packages; `make deps` (run by every target) installs
# the missing ones with apt-get (through sudo when not root).

PREFIX   ?= /usr/local
CC       ?= cc
BUILD    ?= build
OPT      ?= -O3 -march=native
DEBS     := liblua5.4-dev libblis-dev libcsv-dev gnuplot-nox libjansson-dev libpcre2-dev libcmocka-dev pkg-config

PKGS       := lua5.4 jansson libpcre2-8
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS_ALL  = -std=gnu11 -D_GNU_SOURCE $(OPT) -g -fopenmp -fPIC -fno-math-errno -Wall -Wextra -Wno-unused-parameter \
              -Wno-sign-compare -Icore $(PKG_CFLAGS) $(CFLAGS)
LIBS_ALL    = $(PKG_LIBS) -lcsv -lblis -lm -ldl -lpthread -fopenmp $(LIBS_EXTRA)

LIB_SRC  := $(sort $(wildcard core/*.c))
LIB_SRC  := $(filter-out core/main.c,$(LIB_SRC))
LUA_SRC  := $(sort $(wildcard core/lua/*.c))
LIB_OBJ  := $(LIB_SRC:core/%.c=$(BUILD)/obj/%.o)
LUA_OBJ  := $(LUA_SRC:core/lua/%.c=$(BUILD)/obj/lua/%.o)
HEADERS  := $(wildcard core/coconut/*.h) $(wildcard core/*.h)
CTEST_SRC := $(sort $(wildcard tests/c/test_*.c))
CTESTS   := $(CTEST_SRC:tests/c/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCHES  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# The binary links libcoconut whole and exports it, so plugins loaded with
# dlopen resolve coco_* against the running program.
WHOLE    = -Wl,--whole-archive $(BUILD)/libcoconut.a -Wl,--no-whole-archive -Wl,--export-dynamic

.PHONY: all deps test ctest sanitize bench install uninstall clean run
all: deps $(BUILD)/libcoconut.a $(BUILD)/libcoconut.so $(BUILD)/coconut

deps:
	@missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
	  for p in $(DEBS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	  done; \
	else echo "deps: not a Debian system; make sure these are installed: $(DEBS)"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing || exit 1; \
	fi

$(BUILD)/obj/%.o: core/%.c $(HEADERS) Makefile | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libcoconut.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libcoconut.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LIBS_ALL)

$(BUILD)/coconut: $(BUILD)/obj/main.o $(LUA_OBJ) $(BUILD)/libcoconut.a
	$(CC) -o $@ $(BUILD)/obj/main.o $(LUA_OBJ) $(WHOLE) $(LIBS_ALL)

# ---------------------------------------------------------------- tests
$(BUILD)/tests/%: tests/c/%.c tests/c/testutil.h $(BUILD)/libcoconut.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/c $< -o $@ $(WHOLE) $(LIBS_ALL) -lcmocka

ctest: all $(CTESTS)
	@sh tests/run_tests.sh c $(CTESTS)

test: all $(CTESTS)
	@sh tests/run_tests.sh all $(CTESTS)

# Sanitizer build: separate object tree, same tests.
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
sanitize: deps
	$(MAKE) BUILD=$(BUILD)/san OPT="-O1 -march=native $(SAN_FLAGS)" LIBS_EXTRA="$(SAN_FLAGS)" san-run

san-run: $(CTESTS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  sh tests/run_tests.sh c $(CTESTS)

# ---------------------------------------------------------------- benchmarks
$(BUILD)/bench/%: bench/%.c $(BUILD)/libcoconut.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< -o $@ $(WHOLE) $(LIBS_ALL)

bench: all $(BENCHES)
	@sh bench/run_bench.sh $(BUILD)

# ---------------------------------------------------------------- install
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/coconut
	install -m 755 $(BUILD)/coconut $(DESTDIR)$(PREFIX)/bin/coconut
	install -m 644 $(BUILD)/libcoconut.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libcoconut.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 core/coconut/*.h $(DESTDIR)$(PREFIX)/include/coconut/

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/coconut $(DESTDIR)$(PREFIX)/lib/libcoconut.* $(DESTDIR)$(PREFIX)/include/coconut

clean:
	rm -rf $(BUILD)

# coconut — build, test, benchmark, install.
#
#   make            libcoconut.a/.so and the coconut binary (installs missing Debian packages first)
#   make test       build and run every test; last line "N passed, N failed"; fuzzes each
#                   harness for FUZZ_TEST_SECONDS (default 20, 0: skip); installs OpenMPI
#                   for the 2-rank tests (tests/lua/test_mpi.lua)
#   make sanitize   C tests, the Lua suite, the bad-input table and a quick experiment under
#                   AddressSanitizer (leaks included) + UndefinedBehaviorSanitizer
#   make fuzz       libFuzzer harnesses (tests/fuzz/) under ASan + UBSan, FUZZ_SECONDS each (default 20);
#                   installs clang and libfuzzer-14-dev
#   make bench      benchmarks (GEMM, ...), ratios against reference runs
#   make run        the default experiment: build/coconut run experiments/prosqa_k6.lua $(ARGS)
#   make figures    RUN=<results dir>: the paper's figures and Table 1 from its CSVs (experiments/figures/paper.lua)
#   make install    PREFIX=/usr/local (DESTDIR respected): the program, libcoconut, headers,
#                   coconut.pc, plugins, scripts and the plugin templates
#   make plugins    the built-in plugins: plugins/<kind>/<name>.c -> build/plugins/<kind>/<name>.so
#
# Dependencies are Debian packages; `make deps` (run by every target) installs
# the missing ones with apt-get (through sudo when not root).
#
# Options:
#   PORTABLE=1      one binary for a cluster of mixed CPUs: -march=x86-64-v2 (SSE4.2,
#                   any x86-64 CPU since ~2009) instead of -march=native, whose binary
#                   may die with SIGILL on an older node. BLIS picks its kernels at run
#                   time either way. OPT="-O3 -march=x86-64-v3" picks another level.
#   MPI=0           build without MPI even when OpenMPI's development files are there
#                   (by default core/mpi.c uses them when `pkg-config ompi-c` finds them;
#                   without them the program is single-process, see coconut/mpi.h)

PREFIX   ?= /usr/local
CC       ?= cc
BUILD    ?= build
ifeq ($(PORTABLE),1)
OPT      ?= -O3 -march=x86-64-v2 -mtune=generic -Wno-psabi
else
OPT      ?= -O3 -march=native
endif
DEBS     := liblua5.4-dev libblis-dev libcsv-dev gnuplot-nox libjansson-dev libpcre2-dev libcmocka-dev pkg-config

PKGS       := lua5.4 jansson libpcre2-8
PKG_CFLAGS  = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS_ALL  = -std=gnu11 -D_GNU_SOURCE $(OPT) -g -fopenmp -fPIC -fno-math-errno -Wall -Wextra -Wno-unused-parameter \
              -Wno-sign-compare -Icore $(PKG_CFLAGS) $(CFLAGS)
LIBS_ALL    = $(PKG_LIBS) -lcsv -lblis -lm -ldl -lpthread -fopenmp $(MPI_LIBS) $(LIBS_EXTRA)

# MPI (issue 18), optional. Recursive variables: evaluated when a recipe runs,
# so after `make test` has installed the packages. Only core/mpi.c sees the
# define and the headers; $(BUILD)/mpi.stamp records the choice, so a build
# made before OpenMPI was installed recompiles that one file and relinks.
MPI        ?= auto
MPI_DEBS   := libopenmpi-dev openmpi-bin
MPI_FOUND   = $(if $(filter 0,$(MPI)),,$(shell pkg-config --exists ompi-c 2>/dev/null && echo 1))
MPI_CFLAGS  = $(if $(MPI_FOUND),-DCOCO_HAVE_MPI $(shell pkg-config --cflags ompi-c 2>/dev/null))
MPI_LIBS    = $(if $(MPI_FOUND),$(shell pkg-config --libs ompi-c 2>/dev/null))

LIB_SRC  := $(sort $(wildcard core/*.c))
LIB_SRC  := $(filter-out core/main.c,$(LIB_SRC))
LUA_SRC  := $(sort $(wildcard core/lua/*.c))
LIB_OBJ  := $(LIB_SRC:core/%.c=$(BUILD)/obj/%.o)
LUA_OBJ  := $(LUA_SRC:core/lua/%.c=$(BUILD)/obj/lua/%.o)
HEADERS  := $(wildcard core/coconut/*.h) $(wildcard core/*.h)
CTEST_SRC := $(sort $(wildcard tests/c/test_*.c))
CTESTS   := $(CTEST_SRC:tests/c/%.c=$(BUILD)/tests/%)
# Fuzz harnesses (tests/fuzz/fuzz_*.c): replayed over their seeds and kept
# reproducers by `make test` (built with $(CC) and tests/fuzz/replay.c), run
# under libFuzzer by `make fuzz` (built with clang, see below).
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCHES  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# Plugins: one C file (or Lua file) per plugin, plugins/<kind>/<name>.c.
# plugins/templates/ holds starting points for new plugins; they are built as
# test plugins (build/tests/plugins/templates/) but not installed as built-ins.
PLUGIN_KINDS := dataset curriculum eot probe
PLUGIN_SRC   := $(sort $(foreach k,$(PLUGIN_KINDS),$(wildcard plugins/$(k)/*.c)))
PLUGINS      := $(PLUGIN_SRC:plugins/%.c=$(BUILD)/plugins/%.so)
PLUGIN_LUA   := $(sort $(foreach k,$(PLUGIN_KINDS),$(wildcard plugins/$(k)/*.lua)))
TEMPLATE_SRC := $(sort $(wildcard plugins/templates/*.c))
TPLUGIN_SRC  := $(sort $(wildcard tests/plugins/*.c))
TEST_PLUGINS := $(TPLUGIN_SRC:tests/plugins/%.c=$(BUILD)/tests/plugins/%.so) \
                $(TEMPLATE_SRC:plugins/templates/%.c=$(BUILD)/tests/plugins/templates/%.so)
PUB_HEADERS  := $(wildcard core/coconut/*.h)
# A plugin is compiled against the headers only; its coco_* symbols resolve
# against the program that loads it (WHOLE below). Built-ins hide everything
# but the two plugin symbols (plugin.h marks those visible), so two plugins can
# never interpose each other's helpers. They may link what they use beyond
# libcoconut (ProsQA: jansson).
PLUGIN_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(OPT) -g -fPIC -fvisibility=hidden -fno-math-errno -Wall -Wextra \
                -Wno-unused-parameter -Wno-sign-compare -Icore $(shell pkg-config --cflags jansson 2>/dev/null) $(CFLAGS)
PLUGIN_LIBS   = $(shell pkg-config --libs jansson 2>/dev/null) -lm $(LIBS_EXTRA)

# The binary links libcoconut whole and exports it, so plugins loaded with
# dlopen resolve coco_* against the running program.
WHOLE    = -Wl,--whole-archive $(BUILD)/libcoconut.a -Wl,--no-whole-archive -Wl,--export-dynamic

PHONY_EXTRA := bench-deps
.PHONY: all deps bench-deps fuzz-deps mpi-deps test ctest FORCE sanitize san-run fuzz bench install uninstall clean run plugins test-plugins figures
all: deps $(BUILD)/libcoconut.a $(BUILD)/libcoconut.so $(BUILD)/coconut $(PLUGINS)

plugins: $(PLUGINS)
test-plugins: $(TEST_PLUGINS)

# The default experiment (README quick start): ProsQA, preset small, all methods.
# Extra options: make run ARGS="--preset quick".
run: all
	$(BUILD)/coconut run experiments/prosqa_k6.lua $(ARGS)

# The paper's figures (Fig 3, 5, 7-9) and Table 1, re-drawn from the CSV files of
# a run, an experiment or the whole results tree: make figures RUN=results/prosqa_analysis/cpu
figures: all
	@if [ -z "$(RUN)" ]; then echo "usage: make figures RUN=<results directory>" >&2; exit 2; fi
	$(BUILD)/coconut run experiments/figures/paper.lua $(RUN)

# Installs the Debian packages in $(1) that are missing. Debian's libblis4
# registers BLIS as the system libblas.so.3 with priority 80, which would take
# over numpy's and PyTorch's BLAS when nothing faster is installed (on a CPU BLIS
# 0.9 does not know, that is its single-threaded reference kernels). So the
# libblas.so.3 alternative is read before installing and, if the install moved
# it, set back to what it was: the user's other tools stay as they were.
define install_debs
	@missing=""; \
	if command -v dpkg-query >/dev/null 2>&1; then \
	  for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	  done; \
	else echo "deps: not a Debian system; make sure these are installed: $(1)"; fi; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  alt=libblas.so.3-$$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu); \
	  before=$$(update-alternatives --query $$alt 2>/dev/null | sed -n 's/^Value: //p'); \
	  $$SUDO apt-get update && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing || exit 1; \
	  after=$$(update-alternatives --query $$alt 2>/dev/null | sed -n 's/^Value: //p'); \
	  if [ -n "$$before" ] && [ "$$before" != "$$after" ] && [ -e "$$before" ]; then \
	    case "$$after" in *blis*) \
	      echo "deps: the install made $$after the system BLAS; restoring $$before (update-alternatives)"; \
	      $$SUDO update-alternatives --set $$alt "$$before" >/dev/null;; \
	    esac; \
	  fi; \
	fi
endef

deps:
	$(call install_debs,$(DEBS))

# OpenMPI, for `make test` (the 2-rank tests) and for MPI builds
mpi-deps:
	$(call install_debs,$(MPI_DEBS))

# `make bench` compares against PyTorch on OpenBLAS (pthread build), installed for it.
BENCH_DEBS := python3-torch libopenblas0-pthread
bench-deps:
	$(call install_debs,$(BENCH_DEBS))

$(BUILD)/obj/%.o: core/%.c $(HEADERS) Makefile | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# rewritten only when the MPI choice changes (then mpi.o rebuilds)
$(BUILD)/mpi.stamp: FORCE | deps
	@mkdir -p $(dir $@)
	@echo 'MPI: $(MPI_CFLAGS) | $(MPI_LIBS)' | cmp -s - $@ || echo 'MPI: $(MPI_CFLAGS) | $(MPI_LIBS)' >$@

$(BUILD)/obj/mpi.o: core/mpi.c $(HEADERS) Makefile $(BUILD)/mpi.stamp | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(MPI_CFLAGS) -c $< -o $@

$(BUILD)/libcoconut.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libcoconut.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LIBS_ALL)

$(BUILD)/coconut: $(BUILD)/obj/main.o $(LUA_OBJ) $(BUILD)/libcoconut.a $(BUILD)/mpi.stamp
	$(CC) -o $@ $(BUILD)/obj/main.o $(LUA_OBJ) $(WHOLE) $(LIBS_ALL)

# ---------------------------------------------------------------- plugins
$(BUILD)/plugins/%.so: plugins/%.c $(PUB_HEADERS) Makefile | deps
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -shared $< -o $@ $(PLUGIN_LIBS)

$(BUILD)/tests/plugins/templates/%.so: plugins/templates/%.c $(PUB_HEADERS) Makefile | deps
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -shared $< -o $@ $(PLUGIN_LIBS)

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c $(PUB_HEADERS) Makefile | deps
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -shared $< -o $@ $(PLUGIN_LIBS)

# ---------------------------------------------------------------- tests
# COCO_BUILD_DIR tells tests where this build's plugins live (build/ or build/san/).
# C tests that #include a plugin's source to test it directly rebuild with it
$(foreach t,$(CTEST_SRC),$(eval $(t:tests/c/%.c=$(BUILD)/tests/%): $(shell sed -n 's|^#include "\.\./\.\./\(plugins/[^"]*\.c\)"|\1|p' $(t))))
$(BUILD)/tests/%: tests/c/%.c tests/c/testutil.h tests/c/testplugins.h $(BUILD)/libcoconut.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DCOCO_BUILD_DIR='"$(BUILD)"' -Itests/c $< -o $@ $(WHOLE) $(LIBS_ALL) -lcmocka

# A fuzz harness replayed without libFuzzer; those that #include a plugin's
# source rebuild with it, like the C tests.
$(foreach t,$(FUZZ_SRC),$(eval $(t:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%): $(shell sed -n 's|^#include "\.\./\.\./\(plugins/[^"]*\.c\)"|\1|p' $(t))))
$(BUILD)/tests/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c tests/fuzz/fuzz.h tests/fuzz/fuzz_dataset.h $(LUA_OBJ) $(BUILD)/libcoconut.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/fuzz $< tests/fuzz/replay.c -o $@ $(LUA_OBJ) $(WHOLE) $(LIBS_ALL)

ctest: all $(CTESTS) $(TEST_PLUGINS) $(FUZZ_REPLAY)
	@COCONUT_BIN=$(BUILD)/coconut sh tests/run_tests.sh c $(CTESTS) $(FUZZ_REPLAY)

# `make test` also fuzzes every harness for FUZZ_TEST_SECONDS (default 20;
# 0 skips it, counted as skipped) under libFuzzer, one TAP test per harness
# (tests/run_tests.sh); the fuzz build and its packages come with it.
# (The fuzz binaries are added to test's prerequisites in the fuzzing section.)
FUZZ_TEST_SECONDS ?= 20
# `make test` also runs the 2-rank MPI tests: OpenMPI is installed before the
# build looks for it (the MPI variables are expanded when a recipe runs, and
# the MPI choice, $(BUILD)/mpi.stamp, waits for mpi-deps when test is a goal).
test: mpi-deps
$(BUILD)/mpi.stamp: | $(if $(filter test,$(MAKECMDGOALS)),mpi-deps)
test: all $(CTESTS) $(TEST_PLUGINS) $(FUZZ_REPLAY)
	@COCONUT_BIN=$(BUILD)/coconut FUZZ_TEST_SECONDS=$(FUZZ_TEST_SECONDS) FUZZ_DIR=$(FUZZ_DIR) \
	  FUZZ_TARGETS="$(FUZZ_TARGETS)" sh tests/run_tests.sh all $(CTESTS) $(FUZZ_REPLAY)

# Sanitizer build: separate object tree, same tests.
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
sanitize: deps
	$(MAKE) BUILD=$(BUILD)/san OPT="-O1 -march=native $(SAN_FLAGS)" LIBS_EXTRA="$(SAN_FLAGS)" san-run

# Everything `all` builds, in the sanitizer tree: the plugin test installs it.
# The Lua suite, the bad-input table and a quick prosqa_k6 run use the
# sanitized coconut (every coconut the tests start is that binary): a leak
# makes a process exit with LeakSanitizer's status, so it fails its test.
# COCONUT_SANITIZED tells tests that measure RSS that ASan's quarantine holds
# freed memory.
# The Lua plugins (plugins/<kind>/*.lua), which an in-tree binary finds in
# <exe>/../plugins, are linked into the sanitized tree's plugin directory:
# <exe>/../plugins is build/plugins for build/san/coconut.
$(BUILD)/plugins/%.lua: plugins/%.lua
	@mkdir -p $(dir $@)
	ln -sf $(CURDIR)/$< $@

san-run: $(BUILD)/libcoconut.a $(BUILD)/libcoconut.so $(BUILD)/coconut $(PLUGINS) $(TEST_PLUGINS) $(CTESTS) $(FUZZ_REPLAY) \
         $(PLUGIN_LUA:plugins/%=$(BUILD)/plugins/%)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  COCONUT_SANITIZED=1 COCONUT_BIN=$(BUILD)/coconut COCONUT_QUICK_EXPERIMENT=1 sh tests/run_tests.sh all $(CTESTS) $(FUZZ_REPLAY)

# ---------------------------------------------------------------- fuzzing
# libFuzzer harnesses under AddressSanitizer + UndefinedBehaviorSanitizer:
#   make fuzz [FUZZ_SECONDS=20] [FUZZ_TARGETS="fuzz_csv fuzz_prosqa"]
# libcoconut and the Lua bindings are compiled again with clang and coverage
# instrumentation into $(BUILD)/fuzz/ (OpenMP through GCC's libgomp, as the
# rest of the build). tests/fuzz/run.sh seeds each corpus (tests/fuzz/corpus/,
# plus real files found at run time: the fixtures, ../shared/data), runs each
# harness, prints executions and findings per harness, and copies every
# finding into tests/fuzz/regress/<harness>/ for `make test` to replay.
FUZZ_SECONDS ?= 20
FUZZ_TARGETS ?= $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_DEBS  := clang libfuzzer-14-dev
FUZZ_CC    ?= clang
FUZZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -O1 -g -fopenmp=libgomp -fPIC -Icore $(PKG_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_DIR    = $(BUILD)/fuzz
FUZZ_OBJ    = $(LIB_SRC:core/%.c=$(FUZZ_DIR)/obj/%.o) $(LUA_SRC:core/lua/%.c=$(FUZZ_DIR)/obj/lua/%.o)

fuzz-deps:
	$(call install_debs,$(FUZZ_DEBS))

# the instrumented objects are intermediates of the harness rule: keep them
.SECONDARY: $(FUZZ_OBJ)

$(FUZZ_DIR)/obj/%.o: core/%.c $(HEADERS) Makefile | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(foreach t,$(FUZZ_SRC),$(eval $(t:tests/fuzz/%.c=$(FUZZ_DIR)/%): $(shell sed -n 's|^#include "\.\./\.\./\(plugins/[^"]*\.c\)"|\1|p' $(t))))
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h tests/fuzz/fuzz_dataset.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests/fuzz -fsanitize=fuzzer $< -o $@ -Wl,--export-dynamic $(FUZZ_OBJ) \
	  $(PKG_LIBS) -lcsv -lblis -lm -ldl -lpthread

fuzz: fuzz-deps all $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
	@sh tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

ifneq ($(FUZZ_TEST_SECONDS),0)
test: fuzz-deps $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
endif

# ---------------------------------------------------------------- benchmarks
$(BUILD)/bench/%: bench/%.c bench/bench_util.h $(BUILD)/libcoconut.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $< -o $@ $(WHOLE) $(LIBS_ALL)

bench: all bench-deps $(BENCHES)
	@sh bench/run_bench.sh $(BUILD)

# ---------------------------------------------------------------- install
# Layout under $(PREFIX) (staged under $(DESTDIR) when set):
#   bin/coconut  lib/libcoconut.{a,so}  include/coconut/*.h  lib/pkgconfig/coconut.pc
#   lib/coconut/plugins/<kind>/<name>.{so,lua}      (the built-in plugins)
#   share/coconut/scripts/**.lua                     (Lua modules of scripts/)
#   share/coconut/plugins/README.md, share/coconut/plugins/templates/*   (to copy from)
# The .pc file names PREFIX (never DESTDIR): an out-of-tree plugin builds with
#   cc -shared -fPIC $$(pkg-config --cflags coconut) myprobe.c -o myprobe.so
# libcoconut needs jansson and PCRE2 (public pkg-config names), libcsv, BLIS,
# libm, libdl and OpenMP (libgomp): Requires.private / Libs.private, used only
# for static linking.
VERSION   := $(shell sed -n 's/^\#define COCONUT_VERSION_STRING "\(.*\)"/\1/p' core/coconut/base.h)
LIBDIR     = $(PREFIX)/lib
PLUGINDIR  = $(LIBDIR)/coconut/plugins
SHAREDIR   = $(PREFIX)/share/coconut

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include/coconut
	install -m 755 $(BUILD)/coconut $(DESTDIR)$(PREFIX)/bin/coconut
	install -m 644 $(BUILD)/libcoconut.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/libcoconut.so $(DESTDIR)$(LIBDIR)/
	install -m 644 core/coconut/*.h $(DESTDIR)$(PREFIX)/include/coconut/
	@echo "write $(DESTDIR)$(LIBDIR)/pkgconfig/coconut.pc"
	@printf '%s\n' \
	  'prefix=$(PREFIX)' \
	  'exec_prefix=$${prefix}' \
	  'libdir=$${exec_prefix}/lib' \
	  'includedir=$${prefix}/include' \
	  'plugindir=$${libdir}/coconut/plugins' \
	  '' \
	  'Name: coconut' \
	  'Description: Coconut (Chain of Continuous Thought) on GPT-2 for CPUs: core library and plugin ABI' \
	  'Version: $(VERSION)' \
	  'Requires.private: jansson libpcre2-8' \
	  'Cflags: -I$${includedir}' \
	  'Libs: -L$${libdir} -lcoconut' \
	  'Libs.private: -lcsv -lblis -lm -ldl -lpthread -lgomp $(MPI_LIBS)' >$(DESTDIR)$(LIBDIR)/pkgconfig/coconut.pc
	@chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/coconut.pc
	@set -e; for k in $(PLUGIN_KINDS); do install -d $(DESTDIR)$(PLUGINDIR)/$$k; done
	@set -e; for f in $(patsubst $(BUILD)/plugins/%,%,$(PLUGINS)) $(patsubst plugins/%,%,$(PLUGIN_LUA)); do \
	  case $$f in *.so) src=$(BUILD)/plugins/$$f; mode=755;; *) src=plugins/$$f; mode=644;; esac; \
	  echo "install -m $$mode $$src $(DESTDIR)$(PLUGINDIR)/$$f"; install -m $$mode $$src $(DESTDIR)$(PLUGINDIR)/$$f; \
	done
	install -d $(DESTDIR)$(SHAREDIR)/scripts $(DESTDIR)$(SHAREDIR)/plugins/templates
	@set -e; if [ -d scripts ]; then find scripts -name '*.lua' -type f | sort | while read -r f; do \
	  d=$(DESTDIR)$(SHAREDIR)/$$(dirname "$$f"); install -d "$$d"; \
	  echo "install -m 644 $$f $$d/"; install -m 644 "$$f" "$$d/"; done; fi
	install -m 644 plugins/README.md $(DESTDIR)$(SHAREDIR)/plugins/README.md
	install -m 644 $(TEMPLATE_SRC) $(wildcard plugins/probe/template.c plugins/probe/template.lua) \
	  $(DESTDIR)$(SHAREDIR)/plugins/templates/

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/coconut $(DESTDIR)$(LIBDIR)/libcoconut.* $(DESTDIR)$(PREFIX)/include/coconut \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/coconut.pc $(DESTDIR)$(LIBDIR)/coconut $(DESTDIR)$(SHAREDIR)

clean:
	rm -rf $(BUILD)

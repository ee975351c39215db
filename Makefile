# ipfs-kit build. `make demo` and `make test` first install what is missing (scripts/bootstrap).
# Variants: build/rel (optimised, -fPIC) and build/asan (AddressSanitizer + UBSan).
# CI=true (as CI sets it) turns warnings into errors.

CC ?= cc
CLANG ?= clang
BUILD := build
PY := .venv/bin/python

WARN := -Wall -Wextra -Wpedantic -Wconversion -Wshadow
ifeq ($(CI),true)
WARN += -Werror
endif
ifneq ($(WERROR),)
WARN += -Werror
endif

GEN := $(BUILD)/gen
CPPFLAGS := -Iinclude -Ilib -I$(GEN) -D_GNU_SOURCE -MMD -MP
BASE_CFLAGS := -std=c11 $(WARN)
REL_CFLAGS := $(BASE_CFLAGS) -O2 -g -fPIC
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all
LDLIBS := -lsqlite3 -ljansson -llz4 -lzstd -lm -lpthread
# The command line links its libraries statically where their archives are installed (the -dev
# packages ship them): a process then maps two libraries, not six, and resolves no symbol of
# theirs at start (`pin list --cid X` 1.55 -> 1.27 ms at best, bench/results/segments.md).
CLI_STATIC := sqlite3 jansson lz4 zstd
CLI_STATIC_OK := $(strip $(foreach l,$(CLI_STATIC),$(if $(filter /%,$(shell $(CC) -print-file-name=lib$(l).a)),,$(l))))
CLI_LDFLAGS := -Wl,-O1 -Wl,--as-needed -Wl,--hash-style=gnu
CLI_LDLIBS := $(if $(CLI_STATIC_OK),$(LDLIBS),-Wl,-Bstatic $(addprefix -l,$(CLI_STATIC)) -Wl,-Bdynamic -lm -lpthread)
FLIGHT_LDLIBS := -lgrpc -lgpr -lprotobuf-c
DAEMON_LDLIBS := $(LDLIBS) -lmicrohttpd -lwslay -lgnutls -lz $(FLIGHT_LDLIBS)

# lib/flight (Arrow Flight over gRPC) is its own archive, libipfskit-flight.a, so libipfskit.a,
# libipfskit.so and the Python binding need no gRPC; its messages are compiled from
# lib/flight/flight.proto by protoc-c into build/gen.
FLIGHT_SRC := $(sort $(wildcard lib/flight/*.c))
FLIGHT_GEN := $(GEN)/flight.pb-c.c
LIB_SRC := $(filter-out lib/flight/%,$(sort $(wildcard lib/*/*.c)))
# two programs: ipfs-kit (the command line) and ipfs-kitd (the daemon it executes, which alone
# links the servers' libraries; see daemon/main.c). ipfs-kitd also holds the command line with
# the commands that need gRPC (peers_cmd.c), which ipfs-kit hands over to it (cli/entry.c).
CLI_SRC := $(filter-out cli/peers_cmd.c,$(sort $(wildcard cli/*.c)))
DAEMON_SRC := $(filter-out cli/entry.c,$(sort $(wildcard cli/*.c))) \
	$(sort $(wildcard daemon/*.c daemon/*/*.c))
BIN_SRC := $(sort $(CLI_SRC) $(DAEMON_SRC))
TEST_SRC := $(sort $(wildcard tests/*.c))
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst fuzz/%.c,%,$(FUZZ_SRC))
FUZZ_TIME ?= 60
FUZZ_DIFF_EXAMPLES ?= 20000

obj = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

REL_LIB_OBJ := $(call obj,rel,$(LIB_SRC))
ASAN_LIB_OBJ := $(call obj,asan,$(LIB_SRC))
REL_FLIGHT_OBJ := $(call obj,rel,$(FLIGHT_SRC) $(FLIGHT_GEN))
ASAN_FLIGHT_OBJ := $(call obj,asan,$(FLIGHT_SRC) $(FLIGHT_GEN))

.SECONDARY:

.PHONY: all demo test test-run test-c test-asan test-corpus test-py asan lint fuzz bench bench-check \
	clean bootstrap bootstrap-test soak wheels

all: $(BUILD)/libipfskit.a $(BUILD)/libipfskit.so $(BUILD)/ipfs-kit

# ---- the two README commands -------------------------------------------------------------
demo:
	@scripts/bootstrap
	@$(MAKE) --no-print-directory all
	@scripts/demo

test:
	@scripts/bootstrap --test
	@$(MAKE) --no-print-directory test-run

test-run: test-c test-asan test-corpus test-py

# ---- objects -----------------------------------------------------------------------------
$(BUILD)/rel/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(REL_CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ASAN_CFLAGS) -c $< -o $@

$(BUILD)/libipfskit.a: $(REL_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/asan/libipfskit.a: $(ASAN_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(GEN)/flight.pb-c.c $(GEN)/flight.pb-c.h &: lib/flight/flight.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=lib/flight --c_out=$(GEN) lib/flight/flight.proto

# everything that includes flight/flight.h needs the generated header first
$(REL_FLIGHT_OBJ) $(ASAN_FLIGHT_OBJ) $(call obj,rel,$(BIN_SRC) $(TEST_SRC) $(FUZZ_SRC)) \
	$(call obj,asan,$(BIN_SRC) $(TEST_SRC) $(FUZZ_SRC)): | $(GEN)/flight.pb-c.h

$(BUILD)/libipfskit-flight.a: $(REL_FLIGHT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/asan/libipfskit-flight.a: $(ASAN_FLIGHT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libipfskit.so: $(REL_LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

# ipfs-kit runs ipfs-kitd from its own directory: building one builds both
$(BUILD)/ipfs-kit: $(call obj,rel,$(CLI_SRC)) $(BUILD)/libipfskit.a | $(BUILD)/ipfs-kitd
	$(CC) $(CLI_LDFLAGS) -o $@ $^ $(CLI_LDLIBS)

$(BUILD)/ipfs-kitd: $(call obj,rel,$(DAEMON_SRC)) $(BUILD)/libipfskit-flight.a $(BUILD)/libipfskit.a
	$(CC) -o $@ $^ $(DAEMON_LDLIBS)

$(BUILD)/asan/ipfs-kit: $(call obj,asan,$(CLI_SRC)) $(BUILD)/asan/libipfskit.a | $(BUILD)/asan/ipfs-kitd
	$(CC) -fsanitize=address,undefined -o $@ $^ $(LDLIBS)

$(BUILD)/asan/ipfs-kitd: $(call obj,asan,$(DAEMON_SRC)) $(BUILD)/asan/libipfskit-flight.a \
		$(BUILD)/asan/libipfskit.a
	$(CC) -fsanitize=address,undefined -o $@ $^ $(DAEMON_LDLIBS)

$(BUILD)/test-runner: $(call obj,rel,$(TEST_SRC)) $(BUILD)/libipfskit-flight.a $(BUILD)/libipfskit.a
	$(CC) -o $@ $^ $(LDLIBS) $(FLIGHT_LDLIBS)

$(BUILD)/asan/test-runner: $(call obj,asan,$(TEST_SRC)) $(BUILD)/asan/libipfskit-flight.a \
		$(BUILD)/asan/libipfskit.a
	$(CC) -fsanitize=address,undefined -o $@ $^ $(LDLIBS) $(FLIGHT_LDLIBS)

# Fuzz targets replayed over their corpus by our own driver (fuzz/replay.c), under ASan+UBSan.
$(BUILD)/asan/replay-%: $(BUILD)/asan/fuzz/%.o $(BUILD)/asan/fuzz/replay.o \
		$(BUILD)/asan/libipfskit-flight.a $(BUILD)/asan/libipfskit.a
	$(CC) -fsanitize=address,undefined -o $@ $^ $(LDLIBS) $(FLIGHT_LDLIBS)

# libFuzzer builds (clang).
$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz_common.h fuzz/fuzz_import.h $(LIB_SRC) $(FLIGHT_SRC) $(FLIGHT_GEN)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(LIB_SRC) $(FLIGHT_SRC) $(FLIGHT_GEN) $(LDLIBS) $(FLIGHT_LDLIBS)

asan: $(BUILD)/asan/test-runner $(BUILD)/asan/ipfs-kit

# ---- tests -------------------------------------------------------------------------------
test-c: $(BUILD)/test-runner
	$(BUILD)/test-runner

test-asan: $(BUILD)/asan/test-runner
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/asan/test-runner

test-corpus: $(addprefix $(BUILD)/asan/replay-,$(FUZZ_NAMES))
	@for t in $(FUZZ_NAMES); do \
		echo "replaying fuzz/corpus/$$t under ASan+UBSan"; \
		ASAN_OPTIONS=detect_leaks=1 $(BUILD)/asan/replay-$$t fuzz/corpus/$$t || exit 1; \
	done

# The binding (python/, imported by python/tests/test_binding_*.py) is (re)installed into
# .venv by scripts/bootstrap --test when its sources or the library's changed. The daemon tests
# (python/tests/test_daemon_*.py) run the ASan+UBSan daemon and check its log
# (IPFS_KIT_DAEMON_ASAN=1); the soak test in it runs for 20 s here (make soak: longer).
test-py: all $(BUILD)/asan/ipfs-kit
	@scripts/bootstrap --test
	@scripts/kubo >/dev/null # the sync tests' kubo: built once (~5 min of CPU), then cached
	IPFS_KIT_BIN=$(CURDIR)/$(BUILD)/ipfs-kit IPFS_KIT_ASAN_BIN=$(CURDIR)/$(BUILD)/asan/ipfs-kit \
		IPFS_KIT_DAEMON_ASAN=1 SOAK_SECONDS=20 $(PY) -m pytest -q -p no:cacheprovider python/tests

# The soak test alone, longer: SOAK_SECONDS (default 600) against the ASan daemon.
SOAK_SECONDS ?= 600
soak: all $(BUILD)/asan/ipfs-kit
	@scripts/bootstrap --test
	SOAK_SECONDS=$(SOAK_SECONDS) IPFS_KIT_BIN=$(CURDIR)/$(BUILD)/ipfs-kit \
		IPFS_KIT_ASAN_BIN=$(CURDIR)/$(BUILD)/asan/ipfs-kit \
		$(PY) -m pytest -q -s -p no:cacheprovider python/tests/test_daemon_soak.py

# ---- fuzzing, lint, bench ----------------------------------------------------------------
fuzz:
	@scripts/bootstrap --dev
	@$(MAKE) --no-print-directory $(addprefix $(BUILD)/fuzz/,$(FUZZ_NAMES))
	@for t in $(FUZZ_NAMES); do \
		mkdir -p $(BUILD)/fuzz-corpus/$$t fuzz/artifacts; \
		echo "fuzzing $$t for $(FUZZ_TIME)s"; \
		$(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_TIME) -max_len=1048576 -rss_limit_mb=2048 -timeout=10 \
			-artifact_prefix=fuzz/artifacts/$$t- $(BUILD)/fuzz-corpus/$$t fuzz/corpus/$$t \
			|| exit 1; \
	done
	@echo "differential fuzzing of validate against pyarrow ($(FUZZ_DIFF_EXAMPLES) mutants)"
	IPFS_KIT_BIN=$(CURDIR)/$(BUILD)/ipfs-kit ARROW_DIFF_EXAMPLES=$(FUZZ_DIFF_EXAMPLES) \
		ARROW_DIFF_RANDOM=1 $(PY) -m pytest -q -p no:cacheprovider python/tests/test_arrow_differential.py

lint:
	@scripts/bootstrap --dev
	python3 scripts/check_layers.py
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--std=c11 -Iinclude -Ilib --suppress=missingIncludeSystem lib cli daemon tests fuzz
	$(MAKE) --no-print-directory WERROR=1 all $(BUILD)/test-runner

# make bench: every path at 100, 10k, 1M and 10M pins (10M when memory and disk allow;
# BENCH_PINS=100,10000 picks counts, BENCH_QUICK=1 is short) against the floors and the
# alternatives; tables in bench/results/latest.md, plots beside it.
# make bench-check: which of the issues' targets the newest results meet (STRICT=1 to fail).
bench:
	@scripts/bootstrap --bench
	@$(MAKE) --no-print-directory all $(BUILD)/bench-arrow $(BUILD)/bench-daemon $(BUILD)/bench-changes \
		$(BUILD)/bench-soak
	$(PY) bench/run.py
	IPFS_KIT_BIN=$(CURDIR)/$(BUILD)/ipfs-kit $(PY) bench/bench_sync.py
	@$(MAKE) --no-print-directory $(BUILD)/bench-ws-sub
	IPFS_KIT_BIN=$(CURDIR)/$(BUILD)/ipfs-kit $(PY) bench/bench_ws.py
	@$(MAKE) --no-print-directory $(BUILD)/bench-http-load
	$(PY) bench/bench_http.py
	$(PY) bench/bench_flight.py

bench-check:
	@$(PY) bench/check.py

$(BUILD)/bench-arrow: $(call obj,rel,bench/bench_arrow.c) $(BUILD)/libipfskit.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/bench-store: $(call obj,rel,bench/bench_store.c) $(BUILD)/libipfskit.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/bench-daemon: $(call obj,rel,bench/bench_daemon.c) $(BUILD)/libipfskit.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/bench-snapshot: $(call obj,rel,bench/bench_snapshot.c) $(BUILD)/libipfskit.a
	$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/bench-changes: $(call obj,rel,bench/bench_changes.c) $(BUILD)/libipfskit.a
	$(CC) -o $@ $^ $(LDLIBS)

# make wheels: one manylinux wheel per CPython 3.9-3.13 found here, each built from the sdist
# alone and proven by a query from a fresh venv (scripts/build-wheels; into dist/).
wheels:
	scripts/build-wheels dist

$(BUILD)/bench-http-load: $(call obj,rel,bench/bench_http_load.c)
	$(CC) -o $@ $^

# bench/bench_ws.py's subscribers (wslay, as the daemon's hub)
$(BUILD)/bench-ws-sub: $(call obj,rel,bench/bench_ws_sub.c)
	$(CC) -o $@ $^ -lwslay

$(BUILD)/bench-soak: $(call obj,rel,bench/bench_soak.c) $(BUILD)/libipfskit.a
	$(CC) -o $@ $^ $(LDLIBS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

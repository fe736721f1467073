# t5e build.  `make` builds the library (static and shared) and the CLI;
# `make tests`, `make bench`, `make fuzz` build the rest.  MODE=asan builds
# everything with AddressSanitizer and UBSan into build-asan/.
#
# Dependencies (Debian): libopenblas-openmp-dev libcjson-dev
# libutf8proc-dev; scripts/deps.sh installs them.

CC      ?= cc
MODE    ?= release
OPENMP  ?= 1
BLASDIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
BLASINC ?= /usr/include/x86_64-linux-gnu/openblas-openmp

WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wno-unused-parameter
CFLAGS  := -std=c11 $(WARN) -Iinclude -Isrc -I$(BLASINC) -fPIC \
           -D_GNU_SOURCE -g
LDLIBS  := -L$(BLASDIR) -Wl,-rpath,$(BLASDIR) -lopenblas -lcjson \
           -lutf8proc -lmvec -lm -lpthread

ifeq ($(MODE),release)
  BUILD   ?= build
  CFLAGS  += -O3 -march=native -ffp-contract=off
else ifeq ($(MODE),asan)
  BUILD   ?= build-asan
  SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
  CFLAGS  += -O1 -fno-omit-frame-pointer $(SAN)
  LDFLAGS += $(SAN)
else
  BUILD   ?= build-debug
  CFLAGS  += -O0
endif

ifeq ($(OPENMP),1)
  CFLAGS  += -fopenmp
  LDFLAGS += -fopenmp
endif

LIB_SRC   := $(shell find src -name '*.c' | sort)
CLI_SRC   := $(wildcard cli/*.c)
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_LIB  := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
BENCH_SRC := $(wildcard bench/*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TLIB_OBJ  := $(TEST_LIB:%.c=$(BUILD)/obj/%.o)
TESTS     := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all lib cli tests bench fuzz clean
.SECONDARY:
all: lib cli
lib: $(BUILD)/libt5e.a $(BUILD)/libt5e.so
cli: $(BUILD)/t5e
tests: $(TESTS) cli
bench: $(BENCHES)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libt5e.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libt5e.so: $(LIB_OBJ)
	$(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/t5e: $(CLI_OBJ) $(BUILD)/libt5e.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TLIB_OBJ) $(BUILD)/libt5e.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libt5e.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer targets: clang, ASan + UBSan.  The library is instrumented and
# archived, so each target links only the objects it uses.
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_OBJ  := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
FUZZ_SAN  := -fsanitize=address,undefined
FUZZ_CFLAGS := -std=c11 -Iinclude -Isrc -I$(BLASINC) -D_GNU_SOURCE -g -O1 \
               -fno-omit-frame-pointer
fuzz: $(FUZZ_BIN)
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@
build-fuzz/libt5e.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
build-fuzz/%: fuzz/%.c build-fuzz/libt5e.a
	clang $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

clean:
	rm -rf build build-asan build-debug build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

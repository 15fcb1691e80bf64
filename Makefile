# SPDX-License-Identifier: MIT
# fp4 - header-only FP4 quantization kernels. Targets:
#   make test            compile matrix, link test, every tests/test_*.c (strict and FMA-contracted builds)
#   make test-sanitize   every tests/test_*.c under ASan + UBSan
#   make fuzz            build the libFuzzer harnesses (fuzz/, clang) and run each for FUZZ_SECONDS (60)
#   make valgrind        VALGRIND_TESTS (tests/test_hostile.c) under Valgrind
#   make demo            the recipe table (examples/demo.c)
#   make examples        build every examples/*.c (and examples/*.cu, as build/examples/<name>_cu, with nvcc)
#   make bench           build the benchmarks (bench/*.c; bench/*.cu with nvcc)
#   make cuda            the CUDA header for sm_90a, sm_100a, sm_120a; CUDA tests, benchmarks, examples for sm_90a
#   make test-cuda       build and run tests/test_*.cu (needs a GPU)
#   make install         headers, pkg-config and CMake files into $(DESTDIR)$(PREFIX); make uninstall
CC      ?= cc
NVCC    ?= nvcc
PREFIX  ?= /usr/local
BUILD   ?= build
CFLAGS  ?= -O2
BENCH_CFLAGS ?= -O3 -march=native
# CUDA_ARCHS: the programs (tests, benchmarks, examples) are built for Hopper; the header itself is
# compile-checked for every architecture in CUDA_HEADER_ARCHS (tests/cuda_header.cu).
# NVCC_OPT: extra nvcc flags; CI sets "-Xcicc -O1 -Xptxas -O1" to compile-check quickly (devices run -O3 builds).
CUDA_ARCHS ?= 90a
CUDA_HEADER_ARCHS ?= 90a 100a 120a
NVCC_OPT ?=
NVCC_GENCODE = $(foreach a,$(CUDA_ARCHS),-gencode=arch=compute_$(a),code=sm_$(a))
NVCC_FLAGS ?= -O3 -std=c++17 -Werror all-warnings -Xcompiler -Wall,-Wextra
HAVE_NVCC := $(shell command -v $(NVCC) >/dev/null 2>&1 && echo 1)

VERSION := $(shell sed -n 's/^\#define FP4_VERSION_MAJOR //p' fp4.h).$(shell sed -n 's/^\#define FP4_VERSION_MINOR //p' fp4.h).$(shell sed -n 's/^\#define FP4_VERSION_PATCH //p' fp4.h)
HEADERS := $(wildcard fp4.h fp4_cpu.h fp4_cuda.cuh fp4_*.inl)
# per-file flags: a line "// FP4_TEST_FLAGS: ..." in the source
fileflags = $(shell sed -n 's,^// FP4_TEST_FLAGS: *,,p' $(1) | head -n 1)

EXAMPLES_C  := $(wildcard examples/*.c)
EXAMPLES_CU := $(wildcard examples/*.cu)
BENCH_C     := $(wildcard bench/*.c)
BENCH_CU    := $(wildcard bench/*.cu)
TESTS_CU    := $(wildcard tests/test_*.cu)

.PHONY: all test test-sanitize demo examples bench cuda cuda-header test-cuda install uninstall clean

all: examples

test:
	BUILD=$(BUILD) CC=$(CC) bash tests/run.sh

test-sanitize:
	BUILD=$(BUILD) bash tests/run.sh --sanitize

# libFuzzer harnesses (fuzz/README.md): new inputs go to fuzz/corpus-run/<name> (ignored by git), the
# seed corpus fuzz/corpus/<name> is only read.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?= -g -O1 -march=native -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_RUN_FLAGS ?= -timeout=20 -rss_limit_mb=2048 -print_final_stats=1
FUZZERS      := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
VALGRIND_TESTS ?= test_hostile
.PHONY: fuzz fuzz-build valgrind

$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz.h $(HEADERS) $(wildcard examples/quantize_safetensors.c)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Wall -Wextra -I. $< -o $@ -lm

fuzz-build: $(FUZZERS:%=$(BUILD)/fuzz/%)

fuzz: fuzz-build
	@set -e; for h in $(FUZZERS); do \
	  mkdir -p fuzz/corpus-run/$$h fuzz/corpus/$$h; echo "=== $$h: $(FUZZ_SECONDS) s"; \
	  ./$(BUILD)/fuzz/$$h -max_total_time=$(FUZZ_SECONDS) $(FUZZ_RUN_FLAGS) fuzz/corpus-run/$$h fuzz/corpus/$$h; \
	done

$(BUILD)/valgrind/%: tests/%.c tests/harness.h $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O1 -g -I. -Itests $(call fileflags,$<) $< -o $@ -lm

valgrind: $(VALGRIND_TESTS:%=$(BUILD)/valgrind/%)
	@set -e; for t in $^; do \
	  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite ./$$t; done

$(BUILD)/examples/%: examples/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) -std=c99 $(CFLAGS) -Wall -Wextra -Wpedantic -Werror -I. $(call fileflags,$<) $< -o $@ -lm

$(BUILD)/examples/%_cu: examples/%.cu $(HEADERS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) $(NVCC_OPT) $(NVCC_GENCODE) -I. $(call fileflags,$<) $< -o $@

examples: $(EXAMPLES_C:examples/%.c=$(BUILD)/examples/%) $(if $(HAVE_NVCC),$(EXAMPLES_CU:examples/%.cu=$(BUILD)/examples/%_cu))

demo: $(BUILD)/examples/demo
	./$(BUILD)/examples/demo

$(BUILD)/bench/%: bench/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(BENCH_CFLAGS) -I. $(call fileflags,$<) $< -o $@ -lm

$(BUILD)/bench/%: bench/%.cu $(HEADERS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) $(NVCC_OPT) $(NVCC_GENCODE) -I. $(call fileflags,$<) $< -o $@ -lcublas

bench: $(BENCH_C:bench/%.c=$(BUILD)/bench/%) $(if $(HAVE_NVCC),$(BENCH_CU:bench/%.cu=$(BUILD)/bench/%))

$(BUILD)/tests/%: tests/%.cu $(HEADERS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) $(NVCC_OPT) $(NVCC_GENCODE) -I. -Itests $(call fileflags,$<) $< -o $@

# two-translation-unit link test of the CUDA header (-rdc=true: no host or device symbol may clash)
$(BUILD)/tests/cuda_link: tests/cuda_link_a.cu tests/cuda_link_b.cu tests/cuda_link.h $(HEADERS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) $(NVCC_OPT) -gencode=arch=compute_90a,code=sm_90a -rdc=true -I. tests/cuda_link_a.cu tests/cuda_link_b.cu -o $@
	$(abspath $@)

# the whole CUDA header compiled for every architecture in CUDA_HEADER_ARCHS
$(BUILD)/tests/cuda_header.o: tests/cuda_header.cu $(HEADERS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) $(NVCC_OPT) $(foreach a,$(CUDA_HEADER_ARCHS),-gencode=arch=compute_$(a),code=sm_$(a)) -I. -c $< -o $@

cuda-header: $(BUILD)/tests/cuda_header.o

cuda: $(BUILD)/tests/cuda_header.o $(TESTS_CU:tests/%.cu=$(BUILD)/tests/%) $(BENCH_CU:bench/%.cu=$(BUILD)/bench/%) $(EXAMPLES_CU:examples/%.cu=$(BUILD)/examples/%_cu) $(BUILD)/tests/cuda_link

test-cuda: $(TESTS_CU:tests/%.cu=$(BUILD)/tests/%)
	@set -e; for t in $^; do ./$$t; done

# install: the headers, fp4.pc (only Cflags) and the find_package(fp4) files (target fp4::fp4), from the
# templates fp4.pc.in and cmake/*.in that CMakeLists.txt uses too; paths are absolute (without DESTDIR).
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(PREFIX)/share/pkgconfig
CMAKEDIR     ?= $(PREFIX)/share/cmake/fp4
FP4_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
                -e 's|@VERSION_MAJOR@|$(firstword $(subst ., ,$(VERSION)))|g'
CMAKE_FILES := fp4Config.cmake fp4ConfigVersion.cmake fp4Targets.cmake
INSTALL_HEADERS := $(HEADERS)

install:
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	install -m 644 $(INSTALL_HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	$(FP4_SUBST) fp4.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/fp4.pc
	@set -e; for f in $(CMAKE_FILES); do $(FP4_SUBST) cmake/$$f.in > $(DESTDIR)$(CMAKEDIR)/$$f; done
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/fp4.pc $(addprefix $(DESTDIR)$(CMAKEDIR)/,$(CMAKE_FILES))

uninstall:
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/,fp4.h fp4_cpu.h fp4_cuda.cuh $(notdir $(INSTALL_HEADERS))) $(DESTDIR)$(PKGCONFIGDIR)/fp4.pc
	rm -f $(addprefix $(DESTDIR)$(CMAKEDIR)/,$(CMAKE_FILES))
	-rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null

clean:
	rm -rf $(BUILD)

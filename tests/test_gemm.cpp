// Claims about the SIMD GEMM: every SIMD path (avx2, avx512) matches the scalar reference on odd
// sizes and every transpose variant, and 1 and 2 threads give bitwise identical results. A path
// the CPU lacks fails these tests (tests/simd_check.h; FW_TEST_ALLOW_MISSING_SIMD=1 skips it).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/kernels/kernels.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "tests/simd_check.h"

using namespace fw;

namespace {

struct GemmCase {
    int64_t M, N, K;
};

// Sizes: 1, primes, tails that are not multiples of any register tile (6/12/8 rows, 16/32/48
// columns), and sizes above the cache blocks (KC = 1024 / 160 on AVX-512, 256 on AVX2; MC = 192 /
// 144 rows at K = KC, more for a shorter K) so every loop wraps (401 x 1030 is the smallest
// case that takes AVX-512's many-rows path). M = 40 (a multiple of 8, padded by 20% to 12-row
// tiles) and M = 288 with K = 32 take the AVX-512 8 x 48 tile with its padded edges. N = 3001
// and 1031 make groups of several column panels (up to 4: the driver packs B for a group at
// once) with a short last group. A long K with a small C is cut into K chunks (at least 64 K
// blocks): 40 x 100 x 10301 (8 x 48 tiles, KC = 160; AVX2's 6 x 16, KC = 256, does not cut it)
// and 13 x 45 x 66000 (12 x 32 tiles, KC = 1024; AVX2 cuts it too), chunks of uneven length.
const GemmCase kCases[] = {{1, 1, 1},   {1, 17, 3},    {7, 1, 5},    {13, 31, 29},  {12, 32, 8},
                           {6, 16, 1},  {37, 67, 300}, {200, 45, 7}, {97, 211, 53}, {250, 40, 520},
                           {40, 100, 170}, {29, 50, 700}, {19, 3001, 37}, {203, 1031, 19},
                           {13, 45, 1100}, {203, 67, 1031}, {401, 37, 1030}, {288, 101, 32},
                           {40, 100, 10301}, {13, 45, 66000}};

// Sets (or, with nullptr, unsets) an environment variable for one scope, then restores it.
class EnvGuard {
public:
    EnvGuard(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        value ? ::setenv(name, value, 1) : ::unsetenv(name);
    }
    ~EnvGuard() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }
    EnvGuard(const EnvGuard&) = delete;
    EnvGuard& operator=(const EnvGuard&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

std::vector<float> random_vec(int64_t n, Generator& g) {
    std::vector<float> v(n);
    g.uniform(v.data(), n, -1.0f, 1.0f);
    return v;
}

}  // namespace

TEST_CASE("SIMD GEMM matches the scalar reference for every path, transpose and beta") {
    Generator g(11);
    for (CpuPath path : fw::test::simd_paths_under_test()) {
        const Kernels& fast = cpu_kernels(path);
        for (const GemmCase& c : kCases)
            for (int ta = 0; ta < 2; ++ta)
                for (int tb = 0; tb < 2; ++tb)
                    for (float beta : {0.0f, 1.0f, 0.5f}) {
                        // A stored (M,K) or (K,M); B stored (K,N) or (N,K); C with a wider leading dim.
                        const int64_t lda = ta ? c.M : c.K, ldb = tb ? c.K : c.N, ldc = c.N + 3;
                        std::vector<float> A = random_vec(c.M * c.K, g), B = random_vec(c.K * c.N, g);
                        std::vector<float> C0 = random_vec(c.M * ldc, g), C1 = C0;
                        if (beta == 0.0f) C0[0] = C1[0] = NAN;  // beta = 0 must overwrite, even NaN
                        reference_kernels().gemm(ta, tb, c.M, c.N, c.K, A.data(), lda, B.data(), ldb, beta, C0.data(), ldc);
                        fast.gemm(ta, tb, c.M, c.N, c.K, A.data(), lda, B.data(), ldb, beta, C1.data(), ldc);
                        // Tolerance: both sum K products of values in [-1, 1] in float, in a different
                        // association (FMA, blocked k); the error bound of a float dot product is
                        // K * 2^-24 * sum |a||b| <= K * 6e-8 * K, so atol = 1e-6 * K covers it with ~4x
                        // margin at K = 520 (typical errors are ~sqrt(K) smaller still).
                        fw::test::Mismatch m = fw::test::compare(C1.data(), C0.data(), c.M * ldc, 1e-6 * c.K + 1e-6, 1e-5);
                        INFO(cpu_path_name(path) << " M=" << c.M << " N=" << c.N << " K=" << c.K << " ta=" << ta
                                                 << " tb=" << tb << " beta=" << beta << ": " << m.first);
                        CHECK(m.count == 0);
                    }
    }
}

TEST_CASE("SIMD GEMM is bitwise identical for 1 and 2 threads") {
    Generator g(12);
    const int before = num_threads();
    const std::vector<CpuPath> paths = fw::test::simd_paths_under_test(/*with_scalar=*/true);
    // several tiles, blocks and tails in every direction: the 12 x 32 and (AVX-512) the 8 x 48
    // tile; and a long K cut into chunks (AVX-512 and AVX2)
    for (const GemmCase& c : {GemmCase{131, 517, 301}, GemmCase{56, 517, 301}, GemmCase{40, 100, 17000}})
    for (bool tb : {true, false})    // B packed first, or by the packing micro-kernel
    for (CpuPath path : paths) {
        const int64_t M = c.M, N = c.N, K = c.K;
        std::vector<float> A = random_vec(M * K, g), B = random_vec(K * N, g);
        std::vector<float> C1(M * N), C2(M * N);
        const int64_t ldb = tb ? K : N;
        set_num_threads(1);
        cpu_kernels(path).gemm(false, tb, M, N, K, A.data(), K, B.data(), ldb, 0.0f, C1.data(), N);
        set_num_threads(2);
        cpu_kernels(path).gemm(false, tb, M, N, K, A.data(), K, B.data(), ldb, 0.0f, C2.data(), N);
        INFO(cpu_path_name(path) << " M=" << M << " N=" << N << " K=" << K << " tb=" << tb);
        CHECK(std::memcmp(C1.data(), C2.data(), sizeof(float) * M * N) == 0);
    }
    set_num_threads(before);
}

TEST_CASE("FW_SIMD paths: the best supported path is in use unless forced, and forcing checks support") {
    CHECK(cpu_path_supported(CpuPath::Scalar));
    const CpuPath before = cpu_path();
    set_cpu_path(CpuPath::Scalar);
    CHECK(std::string(kernels_for(Device::CPU).name) == "scalar reference");
    set_cpu_path(before);
    CHECK(std::string(kernels_for(Device::CPU).name) == std::string(cpu_kernels(before).name));
}

// tests/simd_check.h: a SIMD test on a CPU without its path must fail, not pass having checked
// nothing. FW_TEST_HIDE_SIMD makes this CPU look like one without AVX-512.
TEST_CASE("a SIMD test whose path the CPU lacks is told to fail, naming the path and the CPU's features") {
    EnvGuard hide("FW_TEST_HIDE_SIMD", "avx512"), strict("FW_TEST_ALLOW_MISSING_SIMD", nullptr);
    const fw::test::SimdPlan plan = fw::test::plan_simd_paths(/*with_scalar=*/false);
    CHECK(std::find(plan.paths.begin(), plan.paths.end(), CpuPath::Avx512) == plan.paths.end());
    REQUIRE(plan.failures.size() == 1);
    CHECK(plan.skips.empty());
    INFO(plan.failures[0]);
    CHECK(plan.failures[0].find("claims the avx512 path") != std::string::npos);
    CHECK(plan.failures[0].find("avx512f ") != std::string::npos);  // the CPU's features
    CHECK(plan.failures[0].find("FW_TEST_ALLOW_MISSING_SIMD=1") != std::string::npos);
}

TEST_CASE("with FW_TEST_ALLOW_MISSING_SIMD=1 a path the CPU lacks is a skip with a message, not a failure") {
    EnvGuard hide("FW_TEST_HIDE_SIMD", "avx2,avx512"), allow("FW_TEST_ALLOW_MISSING_SIMD", "1");
    const fw::test::SimdPlan plan = fw::test::plan_simd_paths(/*with_scalar=*/true);
    CHECK(plan.paths == std::vector<CpuPath>{CpuPath::Scalar});
    CHECK(plan.failures.empty());
    REQUIRE(plan.skips.size() == 2);
    CHECK(plan.skips[1].find("skipped the avx512 path") != std::string::npos);
}

TEST_CASE("an unknown FW_TEST_HIDE_SIMD value is a failure, not ignored") {
    EnvGuard hide("FW_TEST_HIDE_SIMD", "avx1024"), strict("FW_TEST_ALLOW_MISSING_SIMD", nullptr);
    const fw::test::SimdPlan plan = fw::test::plan_simd_paths(false);
    REQUIRE(!plan.failures.empty());
    CHECK(plan.failures[0].find("unknown path 'avx1024'") != std::string::npos);
}

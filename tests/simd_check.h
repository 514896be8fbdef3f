// Helpers for the SIMD-vs-reference tests:
//
//   * simd_paths_under_test(): the SIMD paths a test checks. Every such test claims both of this
//     library's SIMD paths (avx2, avx512); on a CPU that lacks one, the test must not pass having
//     checked nothing on it. So for each path the CPU lacks, the calling test case gets a FAILED
//     check naming the path and the CPU's features, unless FW_TEST_ALLOW_MISSING_SIMD=1, which
//     turns the failure into a printed MESSAGE ("skipped: this CPU has no AVX-512 ..."). The paths
//     the CPU has are returned and checked as usual.
//     FW_TEST_HIDE_SIMD=avx512 (or avx2, or avx2,avx512) makes the helper treat those paths as
//     missing: to see the failure (and the skip) on a CPU that has them. plan_simd_paths() is the
//     decision alone, without reporting it, for testing the helper itself.
//   * compare(): a fast kernel against its scalar reference, |fast - ref| <= atol + rtol |ref|,
//     with the first mismatches printed.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "core/cpu.h"

namespace fw::test {

// The CPUID features the SIMD paths need (core/cpu.cpp): "avx2 yes, fma yes, avx512f no, ...".
inline std::string cpu_simd_features() {
    std::ostringstream os;
    auto yes = [](bool b) { return b ? " yes" : " no"; };
    os << "avx2" << yes(__builtin_cpu_supports("avx2")) << ", fma" << yes(__builtin_cpu_supports("fma"))
       << ", avx512f" << yes(__builtin_cpu_supports("avx512f")) << ", avx512vl"
       << yes(__builtin_cpu_supports("avx512vl")) << ", avx512dq" << yes(__builtin_cpu_supports("avx512dq"));
    return os.str();
}

// What the CPU and the environment say about the SIMD paths: the paths to check, and one line
// per missing path, worded as a failure or (FW_TEST_ALLOW_MISSING_SIMD=1) as a skip.
struct SimdPlan {
    std::vector<CpuPath> paths;
    std::vector<std::string> failures, skips;
};

inline SimdPlan plan_simd_paths(bool with_scalar) {
    SimdPlan plan;
    if (with_scalar) plan.paths.push_back(CpuPath::Scalar);
    const char* allow = std::getenv("FW_TEST_ALLOW_MISSING_SIMD");
    const bool allow_missing = allow && std::strcmp(allow, "1") == 0;
    std::vector<std::string> hidden;  // FW_TEST_HIDE_SIMD, a comma-separated list of path names
    if (const char* env = std::getenv("FW_TEST_HIDE_SIMD")) {
        std::stringstream list(env);
        for (std::string name; std::getline(list, name, ',');) {
            if (name != "avx2" && name != "avx512")
                plan.failures.push_back(std::string("FW_TEST_HIDE_SIMD=") + env + ": unknown path '" + name +
                                        "'; allowed: avx2, avx512");
            hidden.push_back(name);
        }
    }
    for (CpuPath p : {CpuPath::Avx2, CpuPath::Avx512}) {
        const std::string path = cpu_path_name(p), needs = p == CpuPath::Avx2 ? "AVX2+FMA" : "AVX-512";
        const bool is_hidden = std::find(hidden.begin(), hidden.end(), path) != hidden.end();
        if (cpu_path_supported(p) && !is_hidden) {
            plan.paths.push_back(p);
            continue;
        }
        const std::string why = is_hidden ? "FW_TEST_HIDE_SIMD hides it (this CPU: " + cpu_simd_features() + ")"
                                          : "this CPU has no " + needs + " (" + cpu_simd_features() + ")";
        if (allow_missing)
            plan.skips.push_back("skipped the " + path + " path: " + why + " (FW_TEST_ALLOW_MISSING_SIMD=1)");
        else
            plan.failures.push_back("this test claims the " + path + " path, but " + why +
                                    ": it would check nothing there. Run it on a CPU with " + needs +
                                    ", or set FW_TEST_ALLOW_MISSING_SIMD=1 to skip the path");
    }
    return plan;
}

// The SIMD paths to check (scalar first when with_scalar, e.g. for "1 and 2 threads agree"
// claims that also hold for the reference); see the top of this file for a missing path.
inline std::vector<CpuPath> simd_paths_under_test(bool with_scalar = false) {
    const SimdPlan plan = plan_simd_paths(with_scalar);
    for (const std::string& f : plan.failures) FAIL_CHECK(f);  // std::string: doctest prints a char* as a pointer
    for (const std::string& s : plan.skips) MESSAGE(s);
    return plan.paths;
}

struct Mismatch {
    int64_t count = 0;
    std::string first;  // up to 3 "index i: fast a, ref b"
};

inline Mismatch compare(const float* fast, const float* ref, int64_t n, double atol, double rtol) {
    Mismatch m;
    std::ostringstream os;
    for (int64_t i = 0; i < n; ++i) {
        double d = std::fabs((double)fast[i] - ref[i]);
        if (!(d <= atol + rtol * std::fabs(ref[i]))) {  // NaN counts as a mismatch
            if (m.count < 3) os << "index " << i << ": fast " << fast[i] << ", ref " << ref[i] << "; ";
            ++m.count;
        }
    }
    m.first = os.str();
    return m;
}

}  // namespace fw::test

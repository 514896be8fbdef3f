#include "core/cpu.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"

namespace fw {

const char* cpu_path_name(CpuPath p) {
    switch (p) {
        case CpuPath::Scalar: return "scalar";
        case CpuPath::Avx2: return "avx2";
        case CpuPath::Avx512: return "avx512";
    }
    return "?";
}

bool cpu_path_supported(CpuPath p) {
    switch (p) {
        case CpuPath::Scalar: return true;
        case CpuPath::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case CpuPath::Avx512:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma");
    }
    return false;
}

std::vector<CpuPath> supported_cpu_paths() {
    std::vector<CpuPath> r;
    for (CpuPath p : {CpuPath::Scalar, CpuPath::Avx2, CpuPath::Avx512})
        if (cpu_path_supported(p)) r.push_back(p);
    return r;
}

static CpuPath initial_path() {
    const char* env = std::getenv("FW_SIMD");
    if (!env || !*env) return supported_cpu_paths().back();  // the best one
    for (CpuPath p : {CpuPath::Scalar, CpuPath::Avx2, CpuPath::Avx512}) {
        if (std::strcmp(env, cpu_path_name(p)) == 0) {
            if (!cpu_path_supported(p)) fail("FW_SIMD=", env, ": this CPU does not support it");
            return p;
        }
    }
    fail("FW_SIMD=", env, ": unknown value; allowed: scalar, avx2, avx512");
}

static CpuPath& current() {
    static CpuPath p = initial_path();
    return p;
}

CpuPath cpu_path() { return current(); }

void set_cpu_path(CpuPath p) {
    if (!cpu_path_supported(p)) fail("set_cpu_path: this CPU does not support ", cpu_path_name(p));
    current() = p;
}

}  // namespace fw

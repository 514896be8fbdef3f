// Which CPU kernel path runs: the scalar references, AVX2+FMA, or AVX-512.
//
// At start-up the best path the CPU supports is chosen from CPUID. The environment variable
// FW_SIMD=scalar|avx2|avx512 forces one (an unsupported or unknown value is an error that lists
// the allowed values); tests and benchmarks can also switch with set_cpu_path().
#pragma once

#include <vector>

namespace fw {

enum class CpuPath { Scalar, Avx2, Avx512 };

const char* cpu_path_name(CpuPath p);          // "scalar", "avx2", "avx512"
bool cpu_path_supported(CpuPath p);            // from CPUID
std::vector<CpuPath> supported_cpu_paths();    // scalar first
CpuPath cpu_path();                            // the path in use now
void set_cpu_path(CpuPath p);                  // throws if the CPU lacks it

}  // namespace fw

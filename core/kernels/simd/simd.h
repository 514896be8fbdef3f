// The SIMD kernels, one namespace per instruction set. Each lives in a file compiled with that
// instruction set's flags (see the Makefile), and is only called after CPUID said it can run.
//
// Scalar reference: none of its own (declarations); the kernels built on it are tested against theirs
// by tests/test_*_simd.cpp, tests/test_gemm.cpp and tests/test_winograd_ref.cpp.
#pragma once

#include <cstdint>

#include "core/kernels/kernel_note.h"
#include "core/kernels/kernels.h"

namespace fw {
struct GemmBlocking;  // core/kernels/simd/gemm_blocked.h
}  // namespace fw

namespace fw::avx512 {
#include "core/kernels/simd/simd_decls.inc"
}  // namespace fw::avx512

namespace fw::avx2 {
#include "core/kernels/simd/simd_decls.inc"
}  // namespace fw::avx2

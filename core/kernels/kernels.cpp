#include "core/kernels/kernels.h"

#include "core/cpu.h"
#include "core/cuda/backend.h"
#include "core/error.h"
#include "core/kernels/simd/conv_gemm.h"
#include "core/kernels/ref/ref.h"
#include "core/kernels/rng_blocks.h"
#include "core/kernels/simd/simd.h"

namespace fw {

const Kernels& reference_kernels() {
    static const Kernels k = [] {
        Kernels t{};
        t.name = "scalar reference";
        t.exp_forward = ref::exp_forward;         t.exp_backward = ref::exp_backward;
        t.log_forward = ref::log_forward;         t.log_backward = ref::log_backward;
        t.sqrt_forward = ref::sqrt_forward;       t.sqrt_backward = ref::sqrt_backward;
        t.square_forward = ref::square_forward;   t.square_backward = ref::square_backward;
        t.sigmoid_forward = ref::sigmoid_forward; t.sigmoid_backward = ref::sigmoid_backward;
        t.tanh_forward = ref::tanh_forward;       t.tanh_backward = ref::tanh_backward;
        t.relu_forward = ref::relu_forward;       t.relu_backward = ref::relu_backward;
        t.silu_forward = ref::silu_forward;       t.silu_backward = ref::silu_backward;
        t.sin_forward = ref::sin_forward;
        t.cos_forward = ref::cos_forward;
        t.pow_forward = ref::pow_forward;         t.pow_backward = ref::pow_backward;
        t.scale = ref::scale;
        t.add_scalar = ref::add_scalar;
        t.axpy = ref::axpy;
        t.clamp = ref::clamp;
        t.add_forward = ref::add_forward;         t.add_backward = ref::add_backward;
        t.sub_forward = ref::sub_forward;         t.sub_backward = ref::sub_backward;
        t.mul_forward = ref::mul_forward;         t.mul_backward = ref::mul_backward;
        t.div_forward = ref::div_forward;         t.div_backward = ref::div_backward;
        t.gather = ref::gather;
        t.scatter_add = ref::scatter_add;
        t.gemm = ref::gemm;
        t.conv2d_forward = ref::conv2d_forward;   t.conv2d_backward = ref::conv2d_backward;
        t.conv2d_forward_add = ref::conv2d_forward_add;
        t.group_norm_forward = ref::group_norm_forward;
        t.group_norm_backward = ref::group_norm_backward;
        t.group_norm_silu_forward = ref::group_norm_silu_forward;
        t.group_norm_silu_backward = ref::group_norm_silu_backward;
        t.copy_axis_range = ref::copy_axis_range;
        t.upsample2x_forward = ref::upsample2x_forward;
        t.upsample2x_backward = ref::upsample2x_backward;
        t.avg_pool2d_forward = ref::avg_pool2d_forward;
        t.avg_pool2d_backward = ref::avg_pool2d_backward;
        t.log_softmax_forward = ref::log_softmax_forward;
        t.log_softmax_backward = ref::log_softmax_backward;
        t.nll_loss_forward = ref::nll_loss_forward;
        t.nll_loss_backward = ref::nll_loss_backward;
        t.mse_loss_forward = ref::mse_loss_forward;
        t.mse_loss_backward = ref::mse_loss_backward;
        t.adam_update = ref::adam_update;
        t.ema_update = ref::ema_update;
        t.sum_squares = ref::sum_squares;
        t.philox_uniform = ref::philox_uniform;
        t.philox_normal = ref::philox_normal;
        return t;
    }();
    return k;
}

namespace avx2 {
#include "core/kernels/simd/simd_table.inc"
}  // namespace avx2

namespace avx512 {
#include "core/kernels/simd/simd_table.inc"
}  // namespace avx512

const Kernels& cpu_kernels(CpuPath path) {
    static const Kernels avx2 = avx2::simd_table("avx2"), avx512 = avx512::simd_table("avx512");
    switch (path) {
        case CpuPath::Avx2: return avx2;
        case CpuPath::Avx512: return avx512;
        case CpuPath::Scalar: break;
    }
    return reference_kernels();
}

const Kernels& kernels_for(Device d) {
    if (d == Device::CPU) return cpu_kernels(cpu_path());
    return cuda_kernels();  // throws with the reason when there is no usable GPU
}

}  // namespace fw

#include "core/kernels/kernels.h"

#include "core/cpu.h"
#include "core/error.h"
#include "core/kernels/conv_gemm.h"
#include "core/kernels/ref.h"
#include "core/kernels/simd.h"

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
        t.add_forward = ref::add_forward;         t.add_backward = ref::add_backward;
        t.sub_forward = ref::sub_forward;         t.sub_backward = ref::sub_backward;
        t.mul_forward = ref::mul_forward;         t.mul_backward = ref::mul_backward;
        t.div_forward = ref::div_forward;         t.div_backward = ref::div_backward;
        t.gather = ref::gather;
        t.scatter_add = ref::scatter_add;
        t.gemm = ref::gemm;
        t.conv2d_forward = ref::conv2d_forward;   t.conv2d_backward = ref::conv2d_backward;
        t.group_norm_forward = ref::group_norm_forward;
        t.group_norm_backward = ref::group_norm_backward;
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
        return t;
    }();
    return k;
}

// conv2d on each path's GEMM (core/kernels/conv_gemm.h).
namespace avx2 {
static void conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s) {
    conv2d_forward_gemm(gemm, y, x, w, b, s);
}
static void conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                            const ConvShape& s) {
    conv2d_backward_gemm(gemm, dx, dw, db, dy, x, w, s);
}
}  // namespace avx2
namespace avx512 {
static void conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s) {
    conv2d_forward_gemm(gemm, y, x, w, b, s);
}
static void conv2d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                            const ConvShape& s) {
    conv2d_backward_gemm(gemm, dx, dw, db, dy, x, w, s);
}
}  // namespace avx512

// The SIMD tables: the reference table with the kernels that have a SIMD twin replaced.
static Kernels avx2_kernels() {
    Kernels t = reference_kernels();
    t.name = "avx2";
    t.gemm = avx2::gemm;
    t.conv2d_forward = avx2::conv2d_forward;
    t.conv2d_backward = avx2::conv2d_backward;
    t.exp_forward = avx2::exp_forward;         t.exp_backward = avx2::exp_backward;
    t.log_backward = avx2::log_backward;
    t.sqrt_forward = avx2::sqrt_forward;       t.sqrt_backward = avx2::sqrt_backward;
    t.square_forward = avx2::square_forward;   t.square_backward = avx2::square_backward;
    t.sigmoid_forward = avx2::sigmoid_forward; t.sigmoid_backward = avx2::sigmoid_backward;
    t.tanh_forward = avx2::tanh_forward;       t.tanh_backward = avx2::tanh_backward;
    t.relu_forward = avx2::relu_forward;       t.relu_backward = avx2::relu_backward;
    t.silu_forward = avx2::silu_forward;       t.silu_backward = avx2::silu_backward;
    t.scale = avx2::scale;
    t.add_scalar = avx2::add_scalar;
    t.axpy = avx2::axpy;
    t.add_forward = avx2::add_forward;         t.add_backward = avx2::add_backward;
    t.sub_forward = avx2::sub_forward;         t.sub_backward = avx2::sub_backward;
    t.mul_forward = avx2::mul_forward;         t.mul_backward = avx2::mul_backward;
    t.div_forward = avx2::div_forward;         t.div_backward = avx2::div_backward;
    t.group_norm_forward = avx2::group_norm_forward;
    t.group_norm_backward = avx2::group_norm_backward;
    return t;
}

static Kernels avx512_kernels() {
    Kernels t = reference_kernels();
    t.name = "avx512";
    t.gemm = avx512::gemm;
    t.conv2d_forward = avx512::conv2d_forward;
    t.conv2d_backward = avx512::conv2d_backward;
    t.exp_forward = avx512::exp_forward;         t.exp_backward = avx512::exp_backward;
    t.log_backward = avx512::log_backward;
    t.sqrt_forward = avx512::sqrt_forward;       t.sqrt_backward = avx512::sqrt_backward;
    t.square_forward = avx512::square_forward;   t.square_backward = avx512::square_backward;
    t.sigmoid_forward = avx512::sigmoid_forward; t.sigmoid_backward = avx512::sigmoid_backward;
    t.tanh_forward = avx512::tanh_forward;       t.tanh_backward = avx512::tanh_backward;
    t.relu_forward = avx512::relu_forward;       t.relu_backward = avx512::relu_backward;
    t.silu_forward = avx512::silu_forward;       t.silu_backward = avx512::silu_backward;
    t.scale = avx512::scale;
    t.add_scalar = avx512::add_scalar;
    t.axpy = avx512::axpy;
    t.add_forward = avx512::add_forward;         t.add_backward = avx512::add_backward;
    t.sub_forward = avx512::sub_forward;         t.sub_backward = avx512::sub_backward;
    t.mul_forward = avx512::mul_forward;         t.mul_backward = avx512::mul_backward;
    t.div_forward = avx512::div_forward;         t.div_backward = avx512::div_backward;
    t.group_norm_forward = avx512::group_norm_forward;
    t.group_norm_backward = avx512::group_norm_backward;
    return t;
}

const Kernels& cpu_kernels(CpuPath path) {
    static const Kernels avx2 = avx2_kernels(), avx512 = avx512_kernels();
    switch (path) {
        case CpuPath::Avx2: return avx2;
        case CpuPath::Avx512: return avx512;
        case CpuPath::Scalar: break;
    }
    return reference_kernels();
}

const Kernels& kernels_for(Device d) {
    if (d == Device::CPU) return cpu_kernels(cpu_path());
    fail("kernels: device '", device_name(d), "' is not built in (build with USE_CUDA=1)");
}

}  // namespace fw

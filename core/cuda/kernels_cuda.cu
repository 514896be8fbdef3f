// The Kernels table of the CUDA backend: every entry of core/kernels/kernels.h points at its
// CUDA twin (core/cuda/*_cuda.cu, GEMM and conv2d in gemm_cuda.h). kernels_for(Device::CUDA)
// returns it; tests/test_cuda_kernels.cpp checks that no entry is null.
#include "core/cuda/backend.h"
#include "core/cuda/gemm_cuda.h"
#include "core/cuda/kernels_cuda.h"
#include "core/error.h"

namespace fw {
namespace cuda {

Kernels make_cuda_table() {
    Kernels t{};
    t.name = "cuda";
    t.exp_forward = exp_forward;         t.exp_backward = exp_backward;
    t.log_forward = log_forward;         t.log_backward = log_backward;
    t.sqrt_forward = sqrt_forward;       t.sqrt_backward = sqrt_backward;
    t.square_forward = square_forward;   t.square_backward = square_backward;
    t.sigmoid_forward = sigmoid_forward; t.sigmoid_backward = sigmoid_backward;
    t.tanh_forward = tanh_forward;       t.tanh_backward = tanh_backward;
    t.relu_forward = relu_forward;       t.relu_backward = relu_backward;
    t.silu_forward = silu_forward;       t.silu_backward = silu_backward;
    t.sin_forward = sin_forward;
    t.cos_forward = cos_forward;
    t.pow_forward = pow_forward;         t.pow_backward = pow_backward;
    t.scale = scale;
    t.add_scalar = add_scalar;
    t.axpy = axpy;
    t.clamp = clamp;
    t.add_forward = add_forward;         t.add_backward = add_backward;
    t.sub_forward = sub_forward;         t.sub_backward = sub_backward;
    t.mul_forward = mul_forward;         t.mul_backward = mul_backward;
    t.div_forward = div_forward;         t.div_backward = div_backward;
    t.gather = gather;
    t.scatter_add = scatter_add;
    t.gemm = gemm;
    t.conv2d_forward = conv2d_forward;   t.conv2d_backward = conv2d_backward;
    t.conv2d_forward_add = conv2d_forward_add;
    t.group_norm_forward = group_norm_forward;
    t.group_norm_backward = group_norm_backward;
    t.group_norm_silu_forward = group_norm_silu_forward;
    t.group_norm_silu_backward = group_norm_silu_backward;
    t.copy_axis_range = copy_axis_range;
    t.upsample2x_forward = upsample2x_forward;
    t.upsample2x_backward = upsample2x_backward;
    t.avg_pool2d_forward = avg_pool2d_forward;
    t.avg_pool2d_backward = avg_pool2d_backward;
    t.log_softmax_forward = log_softmax_forward;
    t.log_softmax_backward = log_softmax_backward;
    t.nll_loss_forward = nll_loss_forward;
    t.nll_loss_backward = nll_loss_backward;
    t.mse_loss_forward = mse_loss_forward;
    t.mse_loss_backward = mse_loss_backward;
    t.adam_update = adam_update;
    t.ema_update = ema_update;
    t.sum_squares = sum_squares;
    t.philox_uniform = philox_uniform;
    t.philox_normal = philox_normal;
    return t;
}

}  // namespace cuda

const Kernels& cuda_kernel_table() {
    static const Kernels table = cuda::make_cuda_table();  // function pointers only: no device needed
    return table;
}

const Kernels& cuda_kernels() {
    if (!cuda_available()) fail("CUDA kernels: ", cuda_unavailable_reason());
    return cuda_kernel_table();
}

}  // namespace fw

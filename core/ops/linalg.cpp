// matmul and linear, both on the GEMM kernel C = op(A) op(B) + beta C.
#include "core/autograd.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/ops.h"
#include "core/watch.h"

namespace fw {

// --- matmul: C = A B, A (M,K), B (K,N), C (M,N); batched: (Bt,M,K) @ (Bt,K,N) -----------------
// Backward (per batch):  dA += dC B^T   (M,N)@(N,K);   dB += A^T dC   (K,M)@(M,N)
struct MatmulBackward final : Node {
    MatmulBackward() : Node("matmul") {}
    int64_t batch = 1, M = 0, K = 0, N = 0;
    void backward(const float* dC, float* const* dx) override {
        const Kernels& k = kernels_for(inputs[0].device());
        const float* A = inputs[0].data();
        const float* B = inputs[1].data();
        for (int64_t i = 0; i < batch; ++i) {
            const float* dCi = dC + i * M * N;
            if (dx[0]) k.gemm(false, true, M, K, N, dCi, N, B + i * K * N, N, 1.0f, dx[0] + i * M * K, K);
            if (dx[1]) k.gemm(true, false, K, N, M, A + i * M * K, K, dCi, N, 1.0f, dx[1] + i * K * N, N);
        }
    }
};

Tensor matmul(const Tensor& a, const Tensor& b) {
    check_defined(a, "matmul", "a");
    check_defined(b, "matmul", "b");
    check_same_device(a, b, "matmul");
    const Shape &sa = a.shape(), &sb = b.shape();
    bool ok2 = sa.size() == 2 && sb.size() == 2 && sa[1] == sb[0];
    bool ok3 = sa.size() == 3 && sb.size() == 3 && sa[0] == sb[0] && sa[2] == sb[1];
    if (!ok2 && !ok3)
        fail("matmul: shapes ", to_string(sa), " and ", to_string(sb),
             " do not match (need (M,K)@(K,N) or (B,M,K)@(B,K,N))");
    const int64_t batch = ok3 ? sa[0] : 1, M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
    Tensor c = Tensor::empty(ok3 ? Shape{batch, M, N} : Shape{M, N}, a.device());
    const Kernels& k = kernels_for(a.device());
    run_op("matmul", {&a, &b}, c, [&] {
        for (int64_t i = 0; i < batch; ++i)
            k.gemm(false, false, M, N, K, a.data() + i * M * K, K, b.data() + i * K * N, N, 0.0f, c.data() + i * M * N, N);
    });
    if (auto* node = record<MatmulBackward>(c, {a, b})) {
        node->batch = batch;
        node->M = M;
        node->K = K;
        node->N = N;
    }
    return c;
}

// --- linear: y = x W^T + b;  x (N,in), W (out,in), b (out), y (N,out) ------------------------
// Backward:  dx += g W   (N,out)@(out,in);   dW += g^T x   (out,N)@(N,in);   db += sum_n g[n,:]
struct LinearBackward final : Node {
    LinearBackward() : Node("linear") {}
    int64_t N = 0, in = 0, out = 0;
    BroadcastMap bias_map;  // y's index -> b's index
    void backward(const float* g, float* const* dx) override {
        const Kernels& k = kernels_for(inputs[0].device());
        if (dx[0]) k.gemm(false, false, N, in, out, g, out, inputs[1].data(), in, 1.0f, dx[0], in);
        if (dx[1]) k.gemm(true, false, out, in, N, g, out, inputs[0].data(), in, 1.0f, dx[1], in);
        if (inputs.size() > 2 && dx[2]) k.scatter_add(dx[2], g, bias_map);
    }
};

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
    check_defined(x, "linear", "x");
    check_defined(w, "linear", "weight");
    check_same_device(x, w, "linear");
    if (x.dim() != 2 || w.dim() != 2 || x.shape()[1] != w.shape()[1])
        fail("linear: input ", to_string(x.shape()), " and weight ", to_string(w.shape()),
             " do not match (need x (N,in), weight (out,in))");
    const int64_t N = x.shape()[0], in = x.shape()[1], out = w.shape()[0];
    if (b.defined()) check_same_device(x, b, "linear");
    if (b.defined() && b.shape() != Shape{out})
        fail("linear: bias ", to_string(b.shape()), " does not match weight ", to_string(w.shape()), " (need (", out, "))");
    const Kernels& k = kernels_for(x.device());
    Tensor y;
    BroadcastMap bias_map;
    if (b.defined()) bias_map = make_broadcast_map({out}, {N, out});
    run_op("linear", {&x, &w, &b}, y, [&] {
        y = Tensor::zeros({N, out}, x.device());
        if (b.defined()) k.gather(y.data(), b.data(), bias_map);  // y[n, o] = b[o]
        k.gemm(false, true, N, out, in, x.data(), in, w.data(), in, 1.0f, y.data(), out);  // y += x W^T
    });
    std::vector<Tensor> inputs = {x, w};
    if (b.defined()) inputs.push_back(b);
    if (auto* node = record<LinearBackward>(y, inputs)) {
        node->N = N;
        node->in = in;
        node->out = out;
        node->bias_map = bias_map;
    }
    return y;
}

}  // namespace fw

// Every CUDA kernel against its scalar reference (core/kernels/*_ref.cpp), on odd sizes: 1,
// primes, a block's size +- 1, and sizes that need many blocks. Each comparison is
// |cuda - ref| <= atol + rtol |ref|, with the reason for its tolerance beside it. Backward
// kernels are checked as accumulating (the gradient buffers start non-zero). Needs a GPU.
#include <functional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/cuda/backend.h"
#include "core/kernels/kernels.h"
#include "tests/cuda_test_util.h"
#include "tests/simd_check.h"

using namespace fw;
using fw::test::cuda_only;
using fw::test::on_gpu;
using fw::test::random_values;

namespace {

const int64_t kSizes[] = {1, 7, 255, 256, 257, 1031, 70001};

struct Tol {
    double atol, rtol;
};

void expect_close(const Tensor& gpu, const std::vector<float>& ref, Tol tol, const std::string& what) {
    std::vector<float> got = gpu.to_vector();
    REQUIRE(got.size() == ref.size());
    fw::test::Mismatch m = fw::test::compare(got.data(), ref.data(), (int64_t)ref.size(), tol.atol, tol.rtol);
    INFO(what << ": " << m.count << " mismatches; " << m.first);
    CHECK(m.count == 0);
}

const Kernels& ref() { return reference_kernels(); }
const Kernels& gpu() { return cuda_kernels(); }

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("CUDA unary kernels match the reference, forward and (accumulating) backward" * cuda_only()) {
    struct Unary {
        const char* name;
        UnaryFwd Kernels::*fwd;
        UnaryBwd Kernels::*bwd;  // null: no backward
        bool saved_is_y;
        float lo, hi;  // input range (log, sqrt need x > 0)
    };
    const Unary ops[] = {
        {"exp", &Kernels::exp_forward, &Kernels::exp_backward, true, -5, 5},
        {"log", &Kernels::log_forward, &Kernels::log_backward, false, 0.01f, 10},
        {"sqrt", &Kernels::sqrt_forward, &Kernels::sqrt_backward, true, 0.01f, 10},
        {"square", &Kernels::square_forward, &Kernels::square_backward, false, -3, 3},
        {"sigmoid", &Kernels::sigmoid_forward, &Kernels::sigmoid_backward, true, -20, 20},
        {"tanh", &Kernels::tanh_forward, &Kernels::tanh_backward, true, -5, 5},
        {"relu", &Kernels::relu_forward, &Kernels::relu_backward, false, -3, 3},
        {"silu", &Kernels::silu_forward, &Kernels::silu_backward, false, -20, 20},
        {"sin", &Kernels::sin_forward, nullptr, false, -10, 10},
        {"cos", &Kernels::cos_forward, nullptr, false, -10, 10},
    };
    // CUDA's expf/logf/tanhf/sinf/cosf are within 2 ulp (sinf/cosf 2 ulp over this range) of
    // glibc's, and nvcc may fuse a*b+c into an FMA: a few float ulps, 1e-6 relative covers them.
    const Tol tol{1e-6, 2e-6};
    for (const Unary& op : ops)
        for (int64_t n : kSizes) {
            std::vector<float> x = random_values(n, 1, op.lo, op.hi), y(n), dy = random_values(n, 2);
            Tensor xg = on_gpu(x), yg = on_gpu(std::vector<float>(n));
            (ref().*op.fwd)(y.data(), x.data(), n);
            (gpu().*op.fwd)(yg.data(), xg.data(), n);
            expect_close(yg, y, tol, std::string(op.name) + " forward, n " + std::to_string(n));
            if (!op.bwd) continue;
            std::vector<float> dx = random_values(n, 3);  // accumulate onto non-zero values
            Tensor dxg = on_gpu(dx), dyg = on_gpu(dy);
            const std::vector<float>& saved = op.saved_is_y ? y : x;
            (ref().*op.bwd)(dx.data(), dy.data(), saved.data(), n);
            (gpu().*op.bwd)(dxg.data(), dyg.data(), on_gpu(saved).data(), n);
            expect_close(dxg, dx, tol, std::string(op.name) + " backward, n " + std::to_string(n));
        }
}

TEST_CASE("CUDA pow, scale, add_scalar and axpy match the reference" * cuda_only()) {
    const Tol tol{1e-6, 2e-6};  // powf within 2 ulp; the rest exact up to FMA contraction
    for (int64_t n : kSizes) {
        std::vector<float> x = random_values(n, 4, 0.1f, 3.0f), dy = random_values(n, 5);
        std::vector<float> y(n), dx = random_values(n, 6);
        Tensor xg = on_gpu(x), yg = on_gpu(y), dxg = on_gpu(dx);
        ref().pow_forward(y.data(), x.data(), 2.5f, n);
        gpu().pow_forward(yg.data(), xg.data(), 2.5f, n);
        expect_close(yg, y, tol, "pow forward");
        ref().pow_backward(dx.data(), dy.data(), x.data(), 2.5f, n);
        gpu().pow_backward(dxg.data(), on_gpu(dy).data(), xg.data(), 2.5f, n);
        expect_close(dxg, dx, tol, "pow backward");
        ref().scale(y.data(), x.data(), -1.7f, n);
        gpu().scale(yg.data(), xg.data(), -1.7f, n);
        expect_close(yg, y, {0, 0}, "scale (one rounding, exact)");
        ref().add_scalar(y.data(), x.data(), 0.3f, n);
        gpu().add_scalar(yg.data(), xg.data(), 0.3f, n);
        expect_close(yg, y, {0, 0}, "add_scalar (exact)");
        ref().axpy(y.data(), x.data(), 0.7f, n);
        gpu().axpy(yg.data(), xg.data(), 0.7f, n);
        expect_close(yg, y, tol, "axpy (FMA or not)");
    }
}

TEST_CASE("CUDA broadcasting binary ops, gather and scatter_add match the reference" * cuda_only()) {
    struct Case {
        Shape a, b;
    };
    const Case cases[] = {{{1}, {1}}, {{257}, {257}}, {{3, 1, 5}, {1, 4, 1}}, {{2, 7, 1, 1}, {2, 7, 9, 11}},
                          {{70001}, {1}}, {{5, 1}, {5, 300}}};
    struct Binary {
        const char* name;
        BinaryFwd Kernels::*fwd;
        BinaryBwd Kernels::*bwd;
    };
    const Binary ops[] = {{"add", &Kernels::add_forward, &Kernels::add_backward},
                          {"sub", &Kernels::sub_forward, &Kernels::sub_backward},
                          {"mul", &Kernels::mul_forward, &Kernels::mul_backward},
                          {"div", &Kernels::div_forward, &Kernels::div_backward}};
    for (const Case& c : cases) {
        const Shape out = broadcast_shapes(c.a, c.b, "test");
        const BroadcastMap ma = make_broadcast_map(c.a, out), mb = make_broadcast_map(c.b, out);
        std::vector<float> a = random_values(numel(c.a), 7, 0.5f, 2.0f), b = random_values(numel(c.b), 8, 0.5f, 2.0f);
        std::vector<float> dy = random_values(numel(out), 9);
        for (const Binary& op : ops) {
            std::vector<float> y(numel(out)), da = random_values(numel(c.a), 10), db = random_values(numel(c.b), 11);
            Tensor yg = on_gpu(y), dag = on_gpu(da), dbg = on_gpu(db), ag = on_gpu(a), bg = on_gpu(b);
            (ref().*op.fwd)(y.data(), a.data(), ma, b.data(), mb);
            (gpu().*op.fwd)(yg.data(), ag.data(), ma, bg.data(), mb);
            const std::string what = std::string(op.name) + " " + to_string(c.a) + " with " + to_string(c.b);
            expect_close(yg, y, {0, 2e-7}, what + " forward (one rounding; div may differ by an ulp)");
            (ref().*op.bwd)(da.data(), ma, db.data(), mb, dy.data(), a.data(), b.data());
            (gpu().*op.bwd)(dag.data(), ma, dbg.data(), mb, on_gpu(dy).data(), ag.data(), bg.data());
            // a broadcast input's gradient sums up to 70001 terms, atomically in any order:
            // float rounding of such a sum is ~n * 6e-8 * (sum of |terms|)
            expect_close(dag, da, {1e-2, 1e-4}, what + " backward da");
            expect_close(dbg, db, {1e-2, 1e-4}, what + " backward db");
        }
        // gather (read through the map, no sums: exact) and scatter_add (sums: as above)
        std::vector<float> g = random_values(numel(out), 12), s = random_values(numel(c.a), 13);
        Tensor gg = on_gpu(g), sg = on_gpu(s);
        ref().gather(g.data(), a.data(), ma);
        gpu().gather(gg.data(), on_gpu(a).data(), ma);
        expect_close(gg, g, {0, 0}, "gather " + to_string(c.a));
        ref().scatter_add(s.data(), dy.data(), ma);
        gpu().scatter_add(sg.data(), on_gpu(dy).data(), ma);
        expect_close(sg, s, {1e-2, 1e-4}, "scatter_add " + to_string(c.a));
        // into b's shape: {1} takes every element (sum() of a whole tensor: a two-pass sum in
        // doubles, the same bits every run); the others sum over their broadcast axes
        std::vector<float> sb = random_values(numel(c.b), 14);
        Tensor sbg = on_gpu(sb), sbg2 = on_gpu(sb), dyg = on_gpu(dy);
        ref().scatter_add(sb.data(), dy.data(), mb);
        gpu().scatter_add(sbg.data(), dyg.data(), mb);
        gpu().scatter_add(sbg2.data(), dyg.data(), mb);
        expect_close(sbg, sb, {1e-2, 1e-4}, "scatter_add into " + to_string(c.b));
        if (numel(c.b) == 1) CHECK(sbg.to_vector() == sbg2.to_vector());
    }
}

TEST_CASE("CUDA gemm matches the reference for every transpose, beta and odd sizes" * cuda_only()) {
    const int64_t dims[][3] = {{1, 1, 1}, {7, 3, 5}, {33, 65, 17}, {130, 1, 257}, {64, 129, 300}};
    for (auto& d : dims)
        for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb)
                for (float beta : {0.0f, 1.0f}) {
                    const int64_t M = d[0], N = d[1], K = d[2];
                    const int64_t lda = ta ? M + 1 : K + 2, ldb = tb ? K + 3 : N + 1, ldc = N + 2;  // padded rows
                    std::vector<float> A = random_values((ta ? K : M) * lda, 14), B = random_values((tb ? N : K) * ldb, 15);
                    std::vector<float> C = random_values(M * ldc, 16);
                    Tensor Cg = on_gpu(C);
                    ref().gemm(ta, tb, M, N, K, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
                    gpu().gemm(ta, tb, M, N, K, on_gpu(A).data(), lda, on_gpu(B).data(), ldb, beta, Cg.data(), ldc);
                    // K products of values in [-2, 2] summed in another order / with FMA:
                    // error ~ K * 6e-8 * 4 <= 1e-4 for K = 300
                    INFO("M " << M << " N " << N << " K " << K << " trans " << ta << tb << " beta " << beta);
                    expect_close(Cg, C, {2e-4, 1e-5}, "gemm");
                }
}

TEST_CASE("CUDA conv2d forward and both backward passes match the reference" * cuda_only()) {
    // N, Cin, H, W, Cout, KH, KW, stride, pad
    const int64_t shapes[][9] = {{1, 1, 1, 1, 1, 1, 1, 1, 0}, {2, 3, 7, 5, 4, 3, 3, 1, 1},
                                 {1, 5, 9, 11, 3, 3, 3, 2, 1}, {3, 2, 6, 6, 7, 1, 1, 1, 0}, {1, 4, 13, 8, 2, 5, 3, 2, 2}};
    for (auto& v : shapes) {
        ConvShape s{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], 0, 0};
        s.OH = (s.H + 2 * s.pad - s.KH) / s.stride + 1;
        s.OW = (s.W + 2 * s.pad - s.KW) / s.stride + 1;
        std::vector<float> x = random_values(s.N * s.Cin * s.H * s.W, 17), w = random_values(s.Cout * s.Cin * s.KH * s.KW, 18);
        std::vector<float> b = random_values(s.Cout, 19), y(s.N * s.Cout * s.OH * s.OW);
        std::vector<float> dy = random_values((int64_t)y.size(), 20);
        std::vector<float> dx = random_values((int64_t)x.size(), 21), dw = random_values((int64_t)w.size(), 22),
                           db = random_values(s.Cout, 23);
        Tensor xg = on_gpu(x), wg = on_gpu(w), yg = on_gpu(y), dxg = on_gpu(dx), dwg = on_gpu(dw), dbg = on_gpu(db);
        ref().conv2d_forward(y.data(), x.data(), w.data(), b.data(), s);
        gpu().conv2d_forward(yg.data(), xg.data(), wg.data(), on_gpu(b).data(), s);
        INFO("conv N " << s.N << " Cin " << s.Cin << " " << s.H << "x" << s.W << " Cout " << s.Cout << " k " << s.KH
                       << "x" << s.KW << " stride " << s.stride << " pad " << s.pad);
        // sums of up to Cin*KH*KW (forward), N*OH*OW (dw) products of values in [-2, 2]
        expect_close(yg, y, {1e-4, 1e-5}, "conv2d forward");
        // conv2d_forward_add: the same y plus r (within the same tolerance)
        const std::vector<float> r = random_values((int64_t)y.size(), 24);
        std::vector<float> yr(y.size());
        Tensor yrg = on_gpu(yr);
        ref().conv2d_forward_add(yr.data(), x.data(), w.data(), b.data(), r.data(), s);
        gpu().conv2d_forward_add(yrg.data(), xg.data(), wg.data(), on_gpu(b).data(), on_gpu(r).data(), s);
        expect_close(yrg, yr, {1e-4, 1e-5}, "conv2d forward + r");
        ref().conv2d_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), s, GradWrite::Add);
        gpu().conv2d_backward(dxg.data(), dwg.data(), dbg.data(), on_gpu(dy).data(), xg.data(), wg.data(), s, GradWrite::Add);
        expect_close(dxg, dx, {1e-4, 1e-5}, "conv2d backward dx");
        expect_close(dwg, dw, {1e-4, 1e-5}, "conv2d backward dw");
        expect_close(dbg, db, {1e-4, 1e-5}, "conv2d backward db");
    }
}

TEST_CASE("CUDA group_norm forward and backward match the reference" * cuda_only()) {
    // N, C, HW, G: one group, groups of one channel, a group larger than a block (M = 4 * 787)
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {2, 6, 35, 3}, {3, 8, 787, 2}, {1, 32, 49, 32}};
    for (auto& v : shapes) {
        GroupNormShape s{v[0], v[1], v[2], v[3], 1e-5f};
        const int64_t n = s.N * s.C * s.HW;
        std::vector<float> x = random_values(n, 24, -3, 5), w = random_values(s.C, 25), b = random_values(s.C, 26);
        std::vector<float> y(n), mean(s.N * s.G), rstd(s.N * s.G), dy = random_values(n, 27);
        std::vector<float> dx = random_values(n, 28), dw = random_values(s.C, 29), db = random_values(s.C, 30);
        Tensor xg = on_gpu(x), wg = on_gpu(w), yg = on_gpu(y), mg = on_gpu(mean), rg = on_gpu(rstd);
        Tensor dxg = on_gpu(dx), dwg = on_gpu(dw), dbg = on_gpu(db);
        ref().group_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), s);
        gpu().group_norm_forward(yg.data(), mg.data(), rg.data(), xg.data(), wg.data(), on_gpu(b).data(), s);
        INFO("group_norm N " << s.N << " C " << s.C << " HW " << s.HW << " G " << s.G);
        // statistics in double (any order): equal to float rounding; y = xhat w + b may be fused
        expect_close(mg, mean, {1e-6, 1e-6}, "mean");
        expect_close(rg, rstd, {1e-6, 1e-6}, "rstd");
        expect_close(yg, y, {1e-5, 1e-5}, "group_norm forward");
        ref().group_norm_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), mean.data(), rstd.data(),
                                  w.data(), s);
        gpu().group_norm_backward(dxg.data(), dwg.data(), dbg.data(), on_gpu(dy).data(), xg.data(), mg.data(), rg.data(),
                                  wg.data(), s);
        // dw, db: the reference sums in float (order n, hw), the GPU in double: ~M * 6e-8 relative
        expect_close(dxg, dx, {1e-4, 1e-4}, "group_norm backward dx");
        expect_close(dwg, dw, {1e-3, 1e-4}, "group_norm backward dw");
        expect_close(dbg, db, {1e-3, 1e-4}, "group_norm backward db");
    }
}

TEST_CASE("CUDA group_norm_silu (fused) forward and backward match the reference" * cuda_only()) {
    const int64_t shapes[][4] = {{1, 1, 1, 1}, {2, 6, 35, 3}, {3, 8, 787, 2}, {2, 64, 49, 8}};  // N, C, HW, G
    for (auto& v : shapes)
        for (bool shifted : {false, true}) {
            GroupNormShape s{v[0], v[1], v[2], v[3], 1e-5f};
            const int64_t n = s.N * s.C * s.HW;
            std::vector<float> x = random_values(n, 40, -3, 5), w = random_values(s.C, 41), b = random_values(s.C, 42);
            std::vector<float> y(n), mean(s.N * s.G), rstd(s.N * s.G), dy = random_values(n, 43);
            std::vector<float> dx = random_values(n, 44), dw = random_values(s.C, 45), db = random_values(s.C, 46);
            Tensor xg = on_gpu(x), wg = on_gpu(w), bg = on_gpu(b), yg = on_gpu(y), mg = on_gpu(mean), rg = on_gpu(rstd);
            Tensor dxg = on_gpu(dx), dwg = on_gpu(dw), dbg = on_gpu(db);
            // shifted: a shift (N, C) added first, and its gradient accumulated
            std::vector<float> shift = random_values(s.N * s.C, 47), dshift = random_values(s.N * s.C, 48);
            Tensor shg = on_gpu(shift), dshg = on_gpu(dshift);
            const float* sh = shifted ? shift.data() : nullptr;
            const float* shd = shifted ? shg.data() : nullptr;
            ref().group_norm_silu_forward(y.data(), mean.data(), rstd.data(), x.data(), sh, w.data(), b.data(), s);
            gpu().group_norm_silu_forward(yg.data(), mg.data(), rg.data(), xg.data(), shd, wg.data(), bg.data(), s);
            INFO("group_norm_silu N " << s.N << " C " << s.C << " HW " << s.HW << " G " << s.G << (shifted ? " shifted" : ""));
            // group_norm's tolerances (above), then silu: |silu'| <= 1.1 and expf within 2 ulp on both sides
            expect_close(yg, y, {2e-5, 2e-5}, "group_norm_silu forward");
            ref().group_norm_silu_backward(dx.data(), shifted ? dshift.data() : nullptr, dw.data(), db.data(), dy.data(),
                                           x.data(), sh, mean.data(), rstd.data(), w.data(), b.data(), s, GradWrite::Add);
            gpu().group_norm_silu_backward(dxg.data(), shifted ? dshg.data() : nullptr, dwg.data(), dbg.data(),
                                           on_gpu(dy).data(), xg.data(), shd, mg.data(), rg.data(), wg.data(), bg.data(), s,
                                           GradWrite::Add);
            // as group_norm's backward: dw, db sum M terms in float on the CPU, in double on the GPU
            expect_close(dxg, dx, {1e-4, 1e-4}, "group_norm_silu backward dx");
            expect_close(dwg, dw, {1e-3, 1e-4}, "group_norm_silu backward dw");
            expect_close(dbg, db, {1e-3, 1e-4}, "group_norm_silu backward db");
            // dshift: HW of the dx values above summed (in double on both sides)
            expect_close(dshg, dshift, {1e-4 * (double)s.HW, 1e-4}, "group_norm_silu backward dshift");
        }
}

TEST_CASE("CUDA concat/slice ranges, upsample and avg_pool match the reference exactly" * cuda_only()) {
    // one thread per output element, sums in the reference's order: bitwise equal
    for (bool acc : {false, true}) {
        const int64_t outer = 3, inner = 37, src_axis = 5, dst_axis = 9, len = 4;
        std::vector<float> src = random_values(outer * src_axis * inner, 31), dst = random_values(outer * dst_axis * inner, 32);
        Tensor dg = on_gpu(dst);
        ref().copy_axis_range(dst.data(), dst_axis, 2, src.data(), src_axis, 1, len, outer, inner, acc);
        gpu().copy_axis_range(dg.data(), dst_axis, 2, on_gpu(src).data(), src_axis, 1, len, outer, inner, acc);
        expect_close(dg, dst, {0, 0}, acc ? "copy_axis_range accumulate" : "copy_axis_range");
    }
    const int64_t dims[][3] = {{1, 1, 1}, {6, 7, 5}, {3, 28, 28}};  // planes, H, W
    for (auto& d : dims) {
        const int64_t P = d[0], H = d[1], W = d[2];
        std::vector<float> x = random_values(P * H * W, 33), y(P * 4 * H * W), dy = random_values(P * 4 * H * W, 34);
        std::vector<float> dx = random_values(P * H * W, 35);
        Tensor yg = on_gpu(y), dxg = on_gpu(dx);
        ref().upsample2x_forward(y.data(), x.data(), P, H, W);
        gpu().upsample2x_forward(yg.data(), on_gpu(x).data(), P, H, W);
        expect_close(yg, y, {0, 0}, "upsample2x forward");
        ref().upsample2x_backward(dx.data(), dy.data(), P, H, W);
        gpu().upsample2x_backward(dxg.data(), on_gpu(dy).data(), P, H, W);
        expect_close(dxg, dx, {0, 0}, "upsample2x backward");
        for (int64_t k : {1, 2, 3}) {
            if (H < k || W < k) continue;
            std::vector<float> p((H / k) * (W / k) * P), dp = random_values((int64_t)p.size(), 36);
            std::vector<float> dxp = random_values(P * H * W, 37);
            Tensor pg = on_gpu(p), dxpg = on_gpu(dxp);
            ref().avg_pool2d_forward(p.data(), x.data(), P, H, W, k);
            gpu().avg_pool2d_forward(pg.data(), on_gpu(x).data(), P, H, W, k);
            expect_close(pg, p, {0, 0}, "avg_pool2d forward k " + std::to_string(k));
            ref().avg_pool2d_backward(dxp.data(), dp.data(), P, H, W, k);
            gpu().avg_pool2d_backward(dxpg.data(), on_gpu(dp).data(), P, H, W, k);
            expect_close(dxpg, dxp, {0, 0}, "avg_pool2d backward k " + std::to_string(k));
        }
    }
}

TEST_CASE("CUDA losses match the reference: log_softmax, nll, mse" * cuda_only()) {
    for (int64_t rows : {1, 7, 300}) {
        const int64_t cols = 10;
        std::vector<float> x = random_values(rows * cols, 38, -5, 5), y(rows * cols), dy = random_values(rows * cols, 39);
        std::vector<float> dx = random_values(rows * cols, 40);
        Tensor yg = on_gpu(y), dxg = on_gpu(dx);
        ref().log_softmax_forward(y.data(), x.data(), rows, cols);
        gpu().log_softmax_forward(yg.data(), on_gpu(x).data(), rows, cols);
        expect_close(yg, y, {1e-6, 1e-6}, "log_softmax forward (device exp/log: ulps)");
        ref().log_softmax_backward(dx.data(), dy.data(), y.data(), rows, cols);
        gpu().log_softmax_backward(dxg.data(), on_gpu(dy).data(), yg.data(), rows, cols);
        expect_close(dxg, dx, {1e-5, 1e-5}, "log_softmax backward");
        std::vector<int> labels(rows);
        for (int64_t r = 0; r < rows; ++r) labels[r] = (int)((r * 7 + 3) % cols);
        // nll: the same double sum in the same order: exact
        CHECK(gpu().nll_loss_forward(yg.data(), labels.data(), rows, cols) ==
              ref().nll_loss_forward(yg.to_vector().data(), labels.data(), rows, cols));
        std::vector<float> dl = random_values(rows * cols, 41);
        Tensor dlg = on_gpu(dl);
        ref().nll_loss_backward(dl.data(), 0.7f, labels.data(), rows, cols);
        gpu().nll_loss_backward(dlg.data(), 0.7f, labels.data(), rows, cols);
        expect_close(dlg, dl, {0, 0}, "nll_loss backward");
    }
    for (int64_t n : kSizes) {
        std::vector<float> a = random_values(n, 42), b = random_values(n, 43);
        Tensor ag = on_gpu(a), bg = on_gpu(b);
        // a double sum in another order, rounded to float: equal to 1 float ulp
        const float lr = ref().mse_loss_forward(a.data(), b.data(), n), lg = gpu().mse_loss_forward(ag.data(), bg.data(), n);
        CHECK(std::fabs(lg - lr) <= 1.2e-7f * std::fabs(lr));
        std::vector<float> da = random_values(n, 44), db = random_values(n, 45);
        Tensor dag = on_gpu(da), dbg = on_gpu(db);
        ref().mse_loss_backward(da.data(), db.data(), 0.9f, a.data(), b.data(), n);
        gpu().mse_loss_backward(dag.data(), dbg.data(), 0.9f, ag.data(), bg.data(), n);
        expect_close(dag, da, {1e-7, 1e-6}, "mse backward da");
        expect_close(dbg, db, {1e-7, 1e-6}, "mse backward db");
    }
}

TEST_CASE("CUDA Adam/AdamW, EMA and sum of squares match the reference" * cuda_only()) {
    // The updates take a list of tensors: here n floats cut into 45 consecutive slices (more
    // than one launch's 40; some empty when n < 45), the same slices of the host and GPU copies.
    constexpr int kCount = 45;
    auto slices = [](auto* base, int64_t n) {
        std::vector<decltype(base)> out;
        for (int j = 0; j < kCount; ++j) out.push_back(base + n * j / kCount);
        return out;
    };
    std::vector<int64_t> lens(kCount);
    for (int64_t n : kSizes) {
        for (int j = 0; j < kCount; ++j) lens[j] = n * (j + 1) / kCount - n * j / kCount;
        for (bool decoupled : {false, true})
            for (float wd : {0.0f, 0.05f}) {
                AdamStep s{1e-3f, wd, 1e-8f, 0.9f, 0.999f, 1e-3f / 0.19f, 0.0447f, decoupled};
                std::vector<float> p = random_values(n, 46), g = random_values(n, 47), m = random_values(n, 48, -0.1f, 0.1f);
                std::vector<float> v = random_values(n, 49, 0.0f, 0.1f);
                Tensor pg = on_gpu(p), gg = on_gpu(g), mg = on_gpu(m), vg = on_gpu(v);
                ref().adam_update(slices(p.data(), n).data(), slices((const float*)g.data(), n).data(),
                                  slices(m.data(), n).data(), slices(v.data(), n).data(), lens.data(), kCount, s);
                gpu().adam_update(slices(pg.data(), n).data(), slices((const float*)gg.data(), n).data(),
                                  slices(mg.data(), n).data(), slices(vg.data(), n).data(), lens.data(), kCount, s);
                // the same float operations; nvcc may fuse b m + (1-b) g into FMAs: a few ulps
                expect_close(mg, m, {1e-8, 1e-6}, "adam m");
                expect_close(vg, v, {1e-8, 1e-6}, "adam v");
                expect_close(pg, p, {1e-7, 1e-6}, "adam p");
            }
    }
    for (int64_t n : kSizes) {
        for (int j = 0; j < kCount; ++j) lens[j] = n * (j + 1) / kCount - n * j / kCount;
        std::vector<float> sh = random_values(n, 50), p = random_values(n, 51);
        Tensor shg = on_gpu(sh), pg1 = on_gpu(p);
        ref().ema_update(slices(sh.data(), n).data(), slices((const float*)p.data(), n).data(), lens.data(), kCount,
                         0.999f);
        gpu().ema_update(slices(shg.data(), n).data(), slices((const float*)pg1.data(), n).data(), lens.data(), kCount,
                         0.999f);
        expect_close(shg, sh, {1e-7, 1e-6}, "ema");
        // a double sum in another order: equal to double rounding
        // over three tensors (one empty) in one call
        Tensor pg = on_gpu(p), shg0 = on_gpu(sh);
        const float* host[] = {p.data(), sh.data(), p.data()};
        const float* dev[] = {pg.data(), shg0.data(), pg.data()};
        const int64_t ns[] = {n, n, 0};
        const double sr = ref().sum_squares(host, ns, 3), sg = gpu().sum_squares(dev, ns, 3);
        CHECK(std::fabs(sg - sr) <= 1e-12 * sr);
    }
}

}  // TEST_SUITE

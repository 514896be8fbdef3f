// Claims about the CUDA GEMM and conv2d (core/cuda/gemm_cuda.h).
//
// Without a GPU (always run): the SGEMM kernel's pieces (core/cuda/sgemm_tile.h), run on the CPU
// block by block and thread by thread, compute the reference GEMM; the im2col / col2im index
// math (core/cuda/conv_index.h) reproduces the reference conv; chunks stay in their budget; a
// batch whose entries share one C is refused.
// With a GPU (skipped otherwise): gemm and conv2d forward/backward match the scalar references
// on odd sizes, every transpose and layout, the GPU GEMM equals its CPU emulation bit for bit,
// and batches / row counts past the grid's 65535 limit run as several correct launches.
//
// Tolerance, everywhere: |gpu - ref| <= 1e-6 * L + 1e-5 |ref|, L = the length of the sum behind
// the element (K for the GEMM; Cin*KH*KW, Cout*KH*KW, N*OH*OW for y, dx, dw/db). Inputs are in
// [-1, 1]. The GEMM adds in the reference's k order and differs only by FMA (one rounding fewer
// per step); the convs add bias, images and kernel taps in other orders. Each float addition
// rounds by at most 2^-24 |partial sum| <= 6e-8 L, so a worst case is ~6e-8 L^2 and a typical
// (random-sign) error ~6e-8 L sqrt(L); 1e-6 L is above the typical by >10x for L up to ~250 and
// is the tolerance of the SIMD tests (tests/test_conv_simd.cpp).
#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "core/cuda/conv_index.h"
#include "core/cuda/gemm_cuda.h"
#include "core/cuda/runtime.h"
#include "core/cuda/sgemm_tile.h"
#include "core/error.h"
#include "core/kernels/kernels.h"
#include "core/rng.h"
#include "tests/cuda_test_util.h"
#include "tests/simd_check.h"

using namespace fw;

namespace {

std::vector<float> random_vec(int64_t n, Generator& g) {
    std::vector<float> v(n);
    g.uniform(v.data(), n, -1.0f, 1.0f);
    return v;
}

// A device copy of a host vector (RAII). The kernels run on fw::cuda::stream(), which need not
// be ordered with cudaMemcpy's stream: synchronise the device around every copy.
struct DeviceBuffer {
    float* p = nullptr;
    size_t n = 0;
    explicit DeviceBuffer(const std::vector<float>& host) : n(host.size()) {
        FW_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(float)));
        FW_CUDA_CHECK(cudaMemcpy(p, host.data(), n * sizeof(float), cudaMemcpyHostToDevice));
        FW_CUDA_CHECK(cudaDeviceSynchronize());
    }
    std::vector<float> download() const {
        std::vector<float> host(n);
        FW_CUDA_CHECK(cudaDeviceSynchronize());
        FW_CUDA_CHECK(cudaMemcpy(host.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost));
        return host;
    }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() { cudaFree(p); }
};

// ---------------------------------------------------------------------------------------------
// GEMM cases: sizes, transposes, beta and one of three layouts of every matrix:
//   tight    ld = row length, no offset (float4 only where the row length is a multiple of 4)
//   padded   ld = row length rounded up to a multiple of 4, plus 4: float4 with gaps between rows
//   shifted  ld = row length + 3 and the matrix starts 1 float into its buffer: never 16-byte
//            aligned, so the kernel must take its scalar path
enum Layout { kTight, kPadded, kShifted };

struct GemmCase {
    bool ta, tb;
    int64_t M, N, K;
    float beta;
    Layout layout;
};

struct Matrix {  // a rows x cols matrix inside a host buffer
    int64_t rows, cols, ld, offset;
    std::vector<float> buf;
};

Matrix make_matrix(int64_t rows, int64_t cols, Layout layout, Generator& g) {
    Matrix m{rows, cols, cols, 0, {}};
    if (layout == kPadded) m.ld = (cols + 3) / 4 * 4 + 4;
    if (layout == kShifted) m.ld = cols + 3, m.offset = 1;
    m.buf = random_vec(m.offset + rows * m.ld, g);
    return m;
}

// The window of C (M x N) as a contiguous vector.
std::vector<float> window(const Matrix& c) {
    std::vector<float> w(c.rows * c.cols);
    for (int64_t i = 0; i < c.rows; ++i)
        for (int64_t j = 0; j < c.cols; ++j) w[i * c.cols + j] = c.buf[c.offset + i * c.ld + j];
    return w;
}

// Elements of buf outside the window that differ bitwise from before (the kernel may not touch them).
int64_t touched_outside(const Matrix& c, const std::vector<float>& before, const std::vector<float>& after) {
    int64_t bad = 0;
    for (int64_t i = 0; i < (int64_t)after.size(); ++i) {
        const int64_t r = (i - c.offset) / c.ld, col = (i - c.offset) % c.ld;
        const bool inside = i >= c.offset && r < c.rows && col < c.cols;
        if (!inside && std::memcmp(&before[i], &after[i], sizeof(float)) != 0) ++bad;
    }
    return bad;
}

struct GemmData {
    Matrix A, B, C;
};

GemmData make_gemm_data(const GemmCase& c, Generator& g) {
    GemmData d{make_matrix(c.ta ? c.K : c.M, c.ta ? c.M : c.K, c.layout, g),
               make_matrix(c.tb ? c.N : c.K, c.tb ? c.K : c.N, c.layout, g), make_matrix(c.M, c.N, c.layout, g)};
    if (c.beta == 0.0f)  // beta = 0 must not read C: fill it (and its padding) with NaN
        for (float& v : d.C.buf) v = std::numeric_limits<float>::quiet_NaN();
    return d;
}

// The whole case list: every (M, N) pair of kSizes, K cycling through kSizes, all transposes,
// beta 0 and 1, layouts rotating.
std::vector<GemmCase> gemm_cases(const std::vector<int64_t>& sizes, const std::vector<int64_t>& ks) {
    std::vector<GemmCase> cases;
    int count = 0;
    for (size_t i = 0; i < sizes.size(); ++i)
        for (size_t j = 0; j < sizes.size(); ++j)
            for (int t = 0; t < 4; ++t)
                for (float beta : {0.0f, 1.0f}) {
                    const int64_t K = ks[(i + 3 * j + t) % ks.size()];
                    cases.push_back({(t & 1) != 0, (t & 2) != 0, sizes[i], sizes[j], K, beta, Layout(count++ % 3)});
                }
    return cases;
}

const std::vector<int64_t> kSizes = {1, 3, 17, 31, 64, 127, 129, 257};
// The CPU emulation computes whole tiles, so it gets a smaller set: both tile heights (M <= 64
// and > 64), ragged edges in M, N and K, one full and one partial k slice.
const std::vector<int64_t> kEmuSizes = {1, 17, 64, 129};
const std::vector<int64_t> kEmuKs = {3, 16, 31, 257};

// Runs sgemm_kernel<TA, TB, BM> (core/cuda/gemm_cuda.cu) on the CPU: the same pieces in the same
// order, every thread of a block in turn between two __syncthreads. Batch entries via p.stride_*.
void emulate_sgemm(bool ta, bool tb, const cuda::sgemm::Params& p, int64_t batch) {
    using namespace cuda::sgemm;
    const int bm = block_rows_for(p.M), threads = block_threads(bm);
    struct Thread {
        float acc[TM][TN];
        float4 ra[kMaxLoads], rb[kMaxLoads];
    };
    std::vector<Thread> th(threads);
    alignas(16) static float As[BK * (128 + PAD)], Bs[BK * (BN + PAD)];
    for (int64_t z = 0; z < batch; ++z)
        for (int64_t m0 = 0; m0 < p.M; m0 += bm)
            for (int64_t n0 = 0; n0 < p.N; n0 += BN) {
                const Panel a = panel_a(p, ta, z), b = panel_b(p, tb, z);
                for (int t = 0; t < threads; ++t) {
                    std::memset(th[t].acc, 0, sizeof(th[t].acc));
                    load_tile(th[t].ra, a, bm, threads, t, m0, 0);
                    load_tile(th[t].rb, b, BN, threads, t, n0, 0);
                }
                for (int64_t k0 = 0; k0 < p.K; k0 += BK) {
                    for (int t = 0; t < threads; ++t) {
                        store_tile(As, th[t].ra, a.along_k, bm, threads, t);
                        store_tile(Bs, th[t].rb, b.along_k, BN, threads, t);
                    }
                    // __syncthreads()
                    for (int t = 0; t < threads; ++t) {
                        if (k0 + BK < p.K) {
                            load_tile(th[t].ra, a, bm, threads, t, m0, k0 + BK);
                            load_tile(th[t].rb, b, BN, threads, t, n0, k0 + BK);
                        }
                        multiply_tile(th[t].acc, As, Bs, bm, t);
                    }
                    // __syncthreads()
                }
                for (int t = 0; t < threads; ++t) store_result(p, p.C + z * p.stride_c, th[t].acc, bm, t, m0, n0);
            }
}

cuda::sgemm::Params params_for(const GemmCase& c, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                               int64_t ldc) {
    return cuda::sgemm::make_params(c.M, c.N, c.K, A, lda, 0, B, ldb, 0, c.beta, C, ldc, 0, nullptr);
}

std::string describe(const GemmCase& c) {
    static const char* names[] = {"tight", "padded", "shifted"};
    std::ostringstream os;
    os << "M=" << c.M << " N=" << c.N << " K=" << c.K << " trans_a=" << c.ta << " trans_b=" << c.tb
       << " beta=" << c.beta << " layout " << names[c.layout];
    return os.str();
}

// ---------------------------------------------------------------------------------------------
// Conv shapes: 3x3 pad 1 at stride 1 and 2 (even and odd sizes, odd channel counts), 1x1 (the
// pointwise path without im2col), a 1x1 stride 2 (im2col that skips pixels), an asymmetric
// unpadded kernel, a single pixel, UNet-sized layers (32->64 down at 28x28, 64->64 at 14x14,
// 128->64 at 7x7), and 20 images of 128 channels at 28x28, whose 3.6 MB of columns per image
// need two chunks of the 64 MiB workspace.
ConvShape make_conv(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t KH, int64_t KW,
                    int64_t stride, int64_t pad) {
    return {N, Cin, H, W, Cout, KH, KW, stride, pad, (H + 2 * pad - KH) / stride + 1, (W + 2 * pad - KW) / stride + 1};
}

const ConvShape kConvShapes[] = {
    make_conv(3, 3, 7, 6, 5, 3, 3, 1, 1),     make_conv(1, 5, 9, 9, 3, 3, 3, 2, 1),
    make_conv(3, 5, 4, 4, 7, 1, 1, 1, 0),     make_conv(3, 7, 9, 8, 5, 1, 1, 2, 0),
    make_conv(1, 1, 6, 5, 2, 2, 3, 1, 0),     make_conv(1, 1, 1, 1, 1, 3, 3, 1, 1),
    make_conv(3, 13, 9, 11, 17, 3, 3, 1, 1),  make_conv(2, 32, 28, 28, 64, 3, 3, 2, 1),
    make_conv(3, 64, 14, 14, 64, 3, 3, 1, 1), make_conv(3, 128, 7, 7, 64, 3, 3, 1, 1),
    make_conv(3, 64, 28, 28, 33, 1, 1, 1, 0), make_conv(20, 128, 28, 28, 3, 3, 3, 1, 1),
};

struct ConvData {
    std::vector<float> x, w, b, dy, y, dx, dw, db;
};

ConvData conv_inputs(const ConvShape& s, uint64_t seed) {
    Generator g(seed);
    ConvData d;
    d.x = random_vec(s.N * s.Cin * s.H * s.W, g);
    d.w = random_vec(s.Cout * s.Cin * s.KH * s.KW, g);
    d.b = random_vec(s.Cout, g);
    d.dy = random_vec(s.N * s.Cout * s.OH * s.OW, g);
    d.y.assign(d.dy.size(), std::numeric_limits<float>::quiet_NaN());  // forward must overwrite y
    d.dx = random_vec(d.x.size(), g);  // non-zero: backward must ACCUMULATE
    d.dw = random_vec(d.w.size(), g);
    d.db = random_vec(d.b.size(), g);
    return d;
}

std::string describe(const ConvShape& s) {
    std::ostringstream os;
    os << "N=" << s.N << " Cin=" << s.Cin << " " << s.H << "x" << s.W << " Cout=" << s.Cout << " k=" << s.KH << "x"
       << s.KW << " stride " << s.stride << " pad " << s.pad;
    return os.str();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Without a GPU

TEST_SUITE("cuda") {  // with the other CUDA tests: `run_tests -ts='cuda*'` runs them all

TEST_CASE("the SGEMM kernel's pieces, run on the CPU, compute the reference GEMM") {
    Generator g(7);
    for (const GemmCase& c : gemm_cases(kEmuSizes, kEmuKs)) {
        GemmData d = make_gemm_data(c, g);
        std::vector<float> ref = d.C.buf, before = d.C.buf;
        reference_kernels().gemm(c.ta, c.tb, c.M, c.N, c.K, d.A.buf.data() + d.A.offset, d.A.ld,
                                 d.B.buf.data() + d.B.offset, d.B.ld, c.beta, ref.data() + d.C.offset, d.C.ld);
        emulate_sgemm(c.ta, c.tb,
                      params_for(c, d.A.buf.data() + d.A.offset, d.A.ld, d.B.buf.data() + d.B.offset, d.B.ld,
                                 d.C.buf.data() + d.C.offset, d.C.ld),
                      1);
        Matrix r = d.C;
        r.buf = ref;
        const std::vector<float> got = window(d.C), want = window(r);
        auto m = test::compare(got.data(), want.data(), (int64_t)got.size(), 1e-6 * c.K, 1e-5);
        INFO(describe(c) << ": " << m.first);
        CHECK(m.count == 0);
        CHECK(touched_outside(d.C, before, d.C.buf) == 0);
    }
}

TEST_CASE("the batched SGEMM pieces with a row bias compute one reference GEMM per batch entry") {
    // The conv forward's use: C_z = A (shared, stride 0) B_z + bias, batch entries back to back.
    Generator g(8);
    const int64_t M = 37, N = 50, K = 29, batch = 3;
    const std::vector<float> A = random_vec(M * K, g), B = random_vec(batch * K * N, g), bias = random_vec(M, g);
    std::vector<float> C(batch * M * N, std::numeric_limits<float>::quiet_NaN()), ref(C.size());
    emulate_sgemm(false, false,
                  cuda::sgemm::make_params(M, N, K, A.data(), K, 0, B.data(), N, K * N, 0.0f, C.data(), N, M * N,
                                           bias.data()),
                  batch);
    for (int64_t z = 0; z < batch; ++z) {
        for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) ref[(z * M + m) * N + n] = bias[m];
        reference_kernels().gemm(false, false, M, N, K, A.data(), K, B.data() + z * K * N, N, 1.0f,
                                 ref.data() + z * M * N, N);
    }
    auto m = test::compare(C.data(), ref.data(), (int64_t)C.size(), 1e-6 * K, 1e-5);
    INFO(m.first);
    CHECK(m.count == 0);
}

TEST_CASE("im2col and col2im index math with the reference GEMM reproduces the reference conv") {
    for (const ConvShape& s : kConvShapes) {
        if (s.N * s.Cout * s.Cin * s.H * s.W > 5000000) continue;  // the big chunking shape: GPU only
        ConvData d = conv_inputs(s, 5);
        const int64_t K = s.Cin * s.KH * s.KW, P = s.OH * s.OW, image = s.Cin * s.H * s.W;
        std::vector<float> y(d.y.size()), col(K * P), dx(d.dx.size(), 0.0f), dcol(K * P);
        for (int64_t n = 0; n < s.N; ++n) {
            for (int64_t k = 0; k < K; ++k)  // col_n = im2col(x_n)
                for (int64_t p = 0; p < P; ++p) {
                    const int src = cuda::im2col_source(s, (int)k, (int)p);
                    col[k * P + p] = src < 0 ? 0.0f : d.x[n * image + src];
                }
            for (int64_t o = 0; o < s.Cout; ++o)  // y_n = W col_n + b
                for (int64_t p = 0; p < P; ++p) y[(n * s.Cout + o) * P + p] = d.b[o];
            reference_kernels().gemm(false, false, s.Cout, P, K, d.w.data(), K, col.data(), P, 1.0f,
                                     y.data() + n * s.Cout * P, P);
            // dcol_n = W^T dy_n, dx_n = col2im(dcol_n)
            reference_kernels().gemm(true, false, K, P, s.Cout, d.w.data(), K, d.dy.data() + n * s.Cout * P, P, 0.0f,
                                     dcol.data(), P);
            for (int64_t c = 0; c < s.Cin; ++c)
                for (int64_t ih = 0; ih < s.H; ++ih)
                    for (int64_t iw = 0; iw < s.W; ++iw)
                        dx[n * image + (c * s.H + ih) * s.W + iw] =
                            cuda::col2im_gather(s, dcol.data(), (int)c, (int)ih, (int)iw);
        }
        std::vector<float> y_ref(d.y.size()), dx_ref(d.dx.size(), 0.0f);
        reference_kernels().conv2d_forward(y_ref.data(), d.x.data(), d.w.data(), d.b.data(), s);
        reference_kernels().conv2d_backward(dx_ref.data(), nullptr, nullptr, d.dy.data(), d.x.data(), d.w.data(), s, GradWrite::Add);
        auto my = test::compare(y.data(), y_ref.data(), (int64_t)y.size(), 1e-6 * K, 1e-5);
        auto mdx = test::compare(dx.data(), dx_ref.data(), (int64_t)dx.size(), 1e-6 * s.Cout * s.KH * s.KW, 1e-5);
        INFO(describe(s) << " y: " << my.first << " dx: " << mdx.first);
        CHECK(my.count == 0);
        CHECK(mdx.count == 0);
    }
}

TEST_CASE("conv chunks cover the batch within the workspace budget") {
    const int64_t budget = int64_t(64) << 20;
    CHECK(cuda::images_per_chunk(256, 1152 * 784, budget) == budget / (1152 * 784 * 4));  // 18 images
    CHECK(cuda::images_per_chunk(3, 1152 * 784, budget) == 3);                            // all of a small batch
    CHECK(cuda::images_per_chunk(5, int64_t(1) << 26, budget) == 1);  // one image over budget: one at a time
    CHECK(cuda::images_per_chunk(100000, 1, budget) == 65535);        // grid.z
    CHECK(cuda::images_per_chunk(7, 0, budget) == 7);                 // no scratch needed
}

TEST_CASE("CUDA gemm refuses batch entries that share one C (checked before any CUDA call)") {
    // every entry would write (and with beta != 0 read) the same C at once
    CHECK_THROWS_WITH_AS(cuda::gemm_strided_batched(false, false, 2, 2, 2, nullptr, 2, 4, nullptr, 2, 4, 0.0f, nullptr,
                                                    2, 0, 3, nullptr),
                         doctest::Contains("batch=3 entries share one C (stride_c = 0)"), Error);
}

// ---------------------------------------------------------------------------------------------
// On the GPU

TEST_CASE("CUDA gemm matches the reference GEMM: sizes, transposes, layouts, beta 0 on NaN" *
          fw::test::cuda_only()) {
    Generator g(9);
    for (const GemmCase& c : gemm_cases(kSizes, kSizes)) {
        GemmData d = make_gemm_data(c, g);
        std::vector<float> ref = d.C.buf;
        reference_kernels().gemm(c.ta, c.tb, c.M, c.N, c.K, d.A.buf.data() + d.A.offset, d.A.ld,
                                 d.B.buf.data() + d.B.offset, d.B.ld, c.beta, ref.data() + d.C.offset, d.C.ld);
        DeviceBuffer A(d.A.buf), B(d.B.buf), C(d.C.buf);
        cuda::gemm(c.ta, c.tb, c.M, c.N, c.K, A.p + d.A.offset, d.A.ld, B.p + d.B.offset, d.B.ld, c.beta,
                   C.p + d.C.offset, d.C.ld);
        Matrix got = d.C, want = d.C;
        got.buf = C.download();
        want.buf = ref;
        const std::vector<float> gw = window(got), rw = window(want);
        auto m = test::compare(gw.data(), rw.data(), (int64_t)gw.size(), 1e-6 * c.K, 1e-5);
        INFO(describe(c) << ": " << m.first);
        CHECK(m.count == 0);
        CHECK(touched_outside(d.C, d.C.buf, got.buf) == 0);
    }
}

TEST_CASE("CUDA gemm equals its CPU emulation bit for bit" * fw::test::cuda_only()) {
    // Same fmaf chain in the same k order on both sides: any difference is an indexing bug.
    Generator g(10);
    for (const GemmCase& c : gemm_cases(kEmuSizes, kEmuKs)) {
        GemmData d = make_gemm_data(c, g);
        DeviceBuffer A(d.A.buf), B(d.B.buf), C(d.C.buf);
        cuda::gemm(c.ta, c.tb, c.M, c.N, c.K, A.p + d.A.offset, d.A.ld, B.p + d.B.offset, d.B.ld, c.beta,
                   C.p + d.C.offset, d.C.ld);
        // (float4 or scalar loads read the same values, so the host buffers' alignment does not matter)
        emulate_sgemm(c.ta, c.tb,
                      params_for(c, d.A.buf.data() + d.A.offset, d.A.ld, d.B.buf.data() + d.B.offset, d.B.ld,
                                 d.C.buf.data() + d.C.offset, d.C.ld),
                      1);
        const std::vector<float> got = C.download();
        int64_t differ = 0;
        for (size_t i = 0; i < got.size(); ++i) differ += std::memcmp(&got[i], &d.C.buf[i], sizeof(float)) != 0;
        INFO(describe(c));
        CHECK(differ == 0);
    }
}

TEST_CASE("CUDA conv2d forward and backward match the reference conv" * fw::test::cuda_only()) {
    for (const ConvShape& s : kConvShapes) {
        ConvData ref = conv_inputs(s, 3);
        DeviceBuffer x(ref.x), w(ref.w), b(ref.b), dy(ref.dy), y(ref.y), dx(ref.dx), dw(ref.dw), db(ref.db);
        cuda::conv2d_forward(y.p, x.p, w.p, b.p, s);
        cuda::conv2d_backward(dx.p, dw.p, db.p, dy.p, x.p, w.p, s, GradWrite::Add);
        reference_kernels().conv2d_forward(ref.y.data(), ref.x.data(), ref.w.data(), ref.b.data(), s);
        reference_kernels().conv2d_backward(ref.dx.data(), ref.dw.data(), ref.db.data(), ref.dy.data(), ref.x.data(),
                                            ref.w.data(), s, GradWrite::Add);
        const std::vector<float> gy = y.download(), gdx = dx.download(), gdw = dw.download(), gdb = db.download();
        const double Ly = s.Cin * s.KH * s.KW, Ldx = s.Cout * s.KH * s.KW, Ldw = s.N * s.OH * s.OW;
        auto my = test::compare(gy.data(), ref.y.data(), (int64_t)gy.size(), 1e-6 * Ly, 1e-5);
        auto mdx = test::compare(gdx.data(), ref.dx.data(), (int64_t)gdx.size(), 1e-6 * Ldx, 1e-5);
        auto mdw = test::compare(gdw.data(), ref.dw.data(), (int64_t)gdw.size(), 1e-6 * Ldw, 1e-5);
        auto mdb = test::compare(gdb.data(), ref.db.data(), (int64_t)gdb.size(), 1e-6 * Ldw, 1e-5);
        INFO(describe(s));
        INFO("y: " << my.first << " dx: " << mdx.first << " dw: " << mdw.first << " db: " << mdb.first);
        CHECK(my.count == 0);
        CHECK(mdx.count == 0);
        CHECK(mdw.count == 0);
        CHECK(mdb.count == 0);
    }
}

TEST_CASE("CUDA conv2d backward with null gradients computes only the others" * fw::test::cuda_only()) {
    const ConvShape s = make_conv(3, 5, 9, 8, 7, 3, 3, 2, 1);
    const ConvData ref0 = conv_inputs(s, 4);
    ConvData ref = ref0;
    reference_kernels().conv2d_backward(ref.dx.data(), ref.dw.data(), ref.db.data(), ref.dy.data(), ref.x.data(),
                                        ref.w.data(), s, GradWrite::Add);
    DeviceBuffer x(ref0.x), w(ref0.w), dy(ref0.dy);
    for (int which = 0; which < 3; ++which) {  // only dx, only dw, only db
        DeviceBuffer dx(ref0.dx), dw(ref0.dw), db(ref0.db);
        cuda::conv2d_backward(which == 0 ? dx.p : nullptr, which == 1 ? dw.p : nullptr, which == 2 ? db.p : nullptr,
                              dy.p, x.p, w.p, s, GradWrite::Add);
        const std::vector<float>& want = which == 0 ? ref.dx : which == 1 ? ref.dw : ref.db;
        const std::vector<float> got = (which == 0 ? dx : which == 1 ? dw : db).download();
        const double L = which == 0 ? s.Cout * s.KH * s.KW : s.N * s.OH * s.OW;
        auto m = test::compare(got.data(), want.data(), (int64_t)got.size(), 1e-6 * L, 1e-5);
        INFO("only " << (which == 0 ? "dx" : which == 1 ? "dw" : "db") << ": " << m.first);
        CHECK(m.count == 0);
        // the two gradients not asked for are untouched
        CHECK((which == 0 || dx.download() == ref0.dx));
        CHECK((which == 1 || dw.download() == ref0.dw));
        CHECK((which == 2 || db.download() == ref0.db));
    }
}

TEST_CASE("CUDA gemm runs batches and row counts past the grid's 65535 limit as several launches" *
          fw::test::cuda_only()) {
    // 1 x 1 x 1 products, so the sizes that cross the limit stay small: entry z (or row m) of C
    // is a_z b_z + bias, exact in float (small integers). Batch: 65535 + 2 entries = two launches
    // along grid.z. Rows: 65535 x 128 + 3 rows of one column (blocks of 128 rows) = two along grid.y.
    {
        const int64_t batch = 65535 + 2;
        std::vector<float> a(batch), b(batch), bias = {0.5f};
        for (int64_t z = 0; z < batch; ++z) a[z] = float(z % 97), b[z] = float(z % 89 - 44);
        DeviceBuffer A(a), B(b), C(std::vector<float>(batch, -1.0f)), Bias(bias);
        cuda::gemm_strided_batched(false, false, 1, 1, 1, A.p, 1, 1, B.p, 1, 1, 0.0f, C.p, 1, 1, batch, Bias.p);
        const std::vector<float> c = C.download();
        int64_t wrong = 0;
        for (int64_t z = 0; z < batch; ++z) wrong += c[z] != a[z] * b[z] + 0.5f;
        CHECK(wrong == 0);
    }
    {
        const int64_t M = 65535 * 128 + 3;  // ~34 MB per buffer
        std::vector<float> a(M), bias(M);
        for (int64_t m = 0; m < M; ++m) a[m] = float(m % 101), bias[m] = float(m % 7);
        DeviceBuffer A(a), B(std::vector<float>{3.0f}), C(std::vector<float>(M, 1.0f)), Bias(bias);
        // C = A B + bias + 2 C, A (M, 1) row-major
        cuda::gemm_strided_batched(false, false, M, 1, 1, A.p, 1, 0, B.p, 1, 0, 2.0f, C.p, 1, 0, 1, Bias.p);
        const std::vector<float> c = C.download();
        int64_t wrong = 0;
        for (int64_t m = 0; m < M; ++m) wrong += c[m] != 3.0f * a[m] + bias[m] + 2.0f;
        CHECK(wrong == 0);
    }
}

}  // TEST_SUITE

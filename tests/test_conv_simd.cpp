// Claims about conv2d on the SIMD paths (implicit GEMM, Winograd, im2col + GEMM): forward, dX,
// dW and db match the scalar reference on odd shapes, and 1 and 2 threads give bitwise
// identical results.
// Both SIMD paths (avx2, avx512) are claimed: one the CPU lacks fails each test case here, unless
// FW_TEST_ALLOW_MISSING_SIMD=1 (tests/simd_check.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/kernels/kernels.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "tests/simd_check.h"

using namespace fw;

namespace {

ConvShape make(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t KH, int64_t KW, int64_t stride,
               int64_t pad) {
    return {N, Cin, H, W, Cout, KH, KW, stride, pad, (H + 2 * pad - KH) / stride + 1, (W + 2 * pad - KW) / stride + 1};
}

// 3x3 pad 1 at stride 1 and 2 (even and odd sizes), 1x1 (the pointwise shortcut), an
// asymmetric kernel without padding, a single pixel, a UNet-like 32->32 layer, and a same conv
// with K = 40*9 = 360 (several K blocks of the implicit GEMM) and 14 filters (two MR panels).
// Same convs on 10 images (two dW chunks of 8) with P = 49 and P = 17*19 = 323: the two dW paths
// (chunks packed into gapless rows for P <= 256, image by image above). 24 -> 24 channels on
// 12 x 13: the forward and dX tiles that the micro-kernel writes straight into y / dx (M a
// multiple of both MR = 8 and 6, panels inside one image) beside ones that cross images.
// Winograd F(4x4, 3x3) (3x3 same convs with >= 16 channels in and out): 28 x 28 (two rows of
// tiles per vector on AVX-512), 7 x 7 on 5 images (several rows of tiles per strip vector, a
// half-empty last panel, 40 outputs = two output blocks), 6 x 37 with 270 inputs and 17 outputs
// (K in two KC blocks on both paths, padded output rows; on AVX2 rows of tiles longer than a
// vector), 3 x 70 (18 tiles per row: longer than a vector on AVX-512 too), 5 x 2 (one tile per
// row: the most runs per strip) and a single pixel. Winograd dW (F(4x4, 3x3)) needs >= 16 panels
// of tiles (else the direct dW runs): 16 images of 27 x 25 (odd: part-empty tiles at the bottom
// and right) and 700 of 7 x 5 (on AVX-512 two rows of tiles per strip vector; 15 chunks, more
// than the 4 partial sums, so a partial sum takes several). Stride 2 (3x3 pad 1: the direct tiles
// of rows of at most 14 or 6 pixels (AVX-512 / AVX2) and 32 or 16 channels, and the direct dW in
// chunks of images) on 5 x 5, 9 x 37 and 7 x 9 (odd widths: the last pixel's right tap lies outside
// x; rows of 19 in runs of 9 + 10, or 4 runs of ~5), 14 x 14 (UNet-like), 40 x 36 on 10 images
// (rows of 18: 9 + 9; dW: 4 channel groups of 2 of its 5 channels, the last one empty), 40 channels
// of 28 x 28 on 5 images (dW: 4 channel groups of 10), 28 x 28 on 10 images, 27 x 27 on 9 with 40
// outputs (dW: two chunks of images, 5 + 4; output tiles of 2 vectors and a last one of 1), 3 to 6
// outputs in one padded channel tile, 3 -> 40 on 54 x 53 on 7 images (dW: 7 chunks of one image on
// AVX-512, 2 + 2 + 2 + 1 on AVX2, each task transposing its own chunk's dy), and 8 -> 40 on 13 x 30
// (two channel tiles, the second mostly padding on AVX-512, three on AVX2; rows of 15 in runs of
// 7 + 8 or 5 + 5 + 5; the last output row's bottom taps below x; for dX, input rows of 30 in runs
// of 14 + 14 + 2 or five of 6). The im2col path: a 1x1 at stride 2 and a 5x5 same conv (more taps
// than the implicit GEMM takes). The direct forward, dW and dX (out_conv's forward on the flipped
// weights) of 3x3 same convs of one input channel (conv_in): 28 x 28 -> 32 (UNet-S), 9 x 37 -> 13
// on 10 images (three vectors a row on AVX-512, five on AVX2, a tail of 5; outputs not a multiple
// of the 8 or 4 channels the forward sums at once, nor of the dW's 2; two dW chunks of 8 images), 5
// x 17 -> 3 (a tail of 1) and the single pixel above. The direct forward of one output channel
// (out_conv), its dX as the forward of one input channel on the flipped weights and its dW as that
// conv's dW with x and dy swapped: 32 x 28 x 28 -> 1 (UNet-S: 49 vectors, 7 blocks of 7 on
// AVX-512), 5 x 9 x 37 -> 1 (a last block of fewer vectors, a tail of 13 or 5 lanes) and 3 channels
// of a single pixel. 1x1 convs whose whole panels the packing micro-kernel packs: 170 -> 9 on 12 x
// 13 (two K blocks on AVX-512, a padded output panel, panels crossing images beside whole ones; on
// AVX2 the direct 1x1 below). 1x1 convs of images of >= 12 vectors run as direct sums (direct_1x1,
// forward and dX): 96 -> 32 on 28 x 28 (UNet-S's dec2 skip), 13 -> 11 on 17 x 15 (255 pixels: 15
// vectors and a part one, or 31 and a part one; 11 outputs and, for dX, 13: not multiples of the 8
// or 4 channels of a tile) and 5 -> 20 on 16 x 16 (whole vectors, a last one outside the tiles of 3
// on AVX-512).
const ConvShape kShapes[] = {make(2, 3, 7, 6, 4, 3, 3, 1, 1),    make(1, 2, 5, 5, 3, 3, 3, 2, 1),
                             make(3, 5, 4, 4, 7, 1, 1, 1, 0),    make(1, 1, 6, 5, 2, 2, 3, 1, 0),
                             make(1, 1, 1, 1, 1, 3, 3, 1, 1),    make(2, 32, 14, 14, 32, 3, 3, 2, 1),
                             make(2, 13, 9, 11, 17, 3, 3, 1, 1), make(3, 40, 5, 6, 14, 3, 3, 1, 1),
                             make(10, 6, 7, 7, 9, 3, 3, 1, 1),   make(10, 5, 17, 19, 6, 3, 3, 1, 1),
                             make(3, 24, 12, 13, 24, 3, 3, 1, 1), make(2, 16, 28, 28, 16, 3, 3, 1, 1),
                             make(5, 20, 7, 7, 40, 3, 3, 1, 1),   make(1, 270, 6, 37, 17, 3, 3, 1, 1),
                             make(4, 16, 5, 2, 16, 3, 3, 1, 1),   make(3, 16, 1, 1, 19, 3, 3, 1, 1),
                             make(16, 16, 27, 25, 17, 3, 3, 1, 1), make(700, 16, 7, 5, 16, 3, 3, 1, 1),
                             make(2, 16, 3, 70, 16, 3, 3, 1, 1), make(2, 3, 9, 37, 5, 3, 3, 2, 1),
                             make(3, 7, 7, 9, 5, 3, 3, 2, 1),    make(10, 5, 40, 36, 6, 3, 3, 2, 1),
                             make(2, 4, 6, 7, 3, 1, 1, 2, 0),    make(2, 3, 7, 6, 4, 5, 5, 1, 2),
                             make(2, 1, 28, 28, 32, 3, 3, 1, 1), make(10, 1, 9, 37, 13, 3, 3, 1, 1),
                             make(2, 1, 5, 17, 3, 3, 3, 1, 1),   make(3, 32, 28, 28, 1, 3, 3, 1, 1),
                             make(2, 5, 9, 37, 1, 3, 3, 1, 1),   make(2, 3, 1, 1, 1, 3, 3, 1, 1),
                             make(5, 40, 28, 28, 3, 3, 3, 2, 1), make(10, 6, 28, 28, 5, 3, 3, 2, 1),
                             make(9, 5, 27, 27, 40, 3, 3, 2, 1),   make(2, 170, 12, 13, 9, 1, 1, 1, 0),
                             make(2, 96, 28, 28, 32, 1, 1, 1, 0), make(2, 8, 13, 30, 40, 3, 3, 2, 1),
                             make(3, 13, 17, 15, 11, 1, 1, 1, 0), make(2, 5, 16, 16, 20, 1, 1, 1, 0),
                             make(7, 3, 54, 53, 40, 3, 3, 2, 1)};

std::vector<float> random_vec(int64_t n, Generator& g) {
    std::vector<float> v(n);
    g.uniform(v.data(), n, -1.0f, 1.0f);
    return v;
}

struct ConvData {
    std::vector<float> x, w, b, dy, y, dx, dw, db;
};

ConvData run(const Kernels& k, const ConvShape& s, uint64_t seed) {
    Generator g(seed);
    ConvData d;
    d.x = random_vec(s.N * s.Cin * s.H * s.W, g);
    d.w = random_vec(s.Cout * s.Cin * s.KH * s.KW, g);
    d.b = random_vec(s.Cout, g);
    d.dy = random_vec(s.N * s.Cout * s.OH * s.OW, g);
    d.y.assign(d.dy.size(), 0.0f);
    d.dx = random_vec(d.x.size(), g);  // non-zero: backward must ACCUMULATE
    d.dw = random_vec(d.w.size(), g);
    d.db = random_vec(d.b.size(), g);
    k.conv2d_forward(d.y.data(), d.x.data(), d.w.data(), d.b.data(), s);
    k.conv2d_backward(d.dx.data(), d.dw.data(), d.db.data(), d.dy.data(), d.x.data(), d.w.data(), s, GradWrite::Add);
    return d;
}

}  // namespace

TEST_CASE("SIMD conv2d forward and backward match the scalar reference") {
    for (CpuPath path : fw::test::simd_paths_under_test()) {
        for (const ConvShape& s : kShapes) {
            ConvData ref = run(reference_kernels(), s, 3), fast = run(cpu_kernels(path), s, 3);
            // Each output is a float sum of L products of values in [-1, 1], summed in another
            // order: |error| <= L * 2^-24 * L. Sum lengths: y: Cin*KH*KW, dx: Cout*KH*KW,
            // dw and db: N*OH*OW. atol = 1e-6 * L leaves a wide margin.
            // y and dx of the Winograd convs (3x3 same, >= 16 channels in and out) get 4x that:
            // F(4x4, 3x3) weighs its terms by up to 5 (B^T) and 8 (A^T) in each direction
            // (winograd_simd.inc), so its roundings are ~10x those of the direct sum. Measured
            // here at most 0.49 of 1e-6 * L (y: 16 -> 17 on 27 x 25), and 0.87 of it on the
            // UNet-S 64 -> 64 14 x 14 layer at batch 64 (dx, 5.0e-4); 4x leaves 4.6x of margin.
            const bool winograd = s.KH == 3 && s.KW == 3 && s.pad == 1 && s.stride == 1 && s.Cin >= 16 && s.Cout >= 16;
            const double Ly = s.Cin * s.KH * s.KW, Ldx = s.Cout * s.KH * s.KW, Ldw = s.N * s.OH * s.OW;
            const double a = winograd ? 4e-6 : 1e-6;
            auto y = fw::test::compare(fast.y.data(), ref.y.data(), ref.y.size(), a * Ly, 1e-5);
            auto dx = fw::test::compare(fast.dx.data(), ref.dx.data(), ref.dx.size(), a * Ldx, 1e-5);
            auto dw = fw::test::compare(fast.dw.data(), ref.dw.data(), ref.dw.size(), 1e-6 * Ldw, 1e-5);
            auto db = fw::test::compare(fast.db.data(), ref.db.data(), ref.db.size(), 1e-6 * Ldw, 1e-5);
            INFO(cpu_path_name(path) << " N=" << s.N << " Cin=" << s.Cin << " " << s.H << "x" << s.W << " Cout=" << s.Cout
                                     << " k=" << s.KH << "x" << s.KW << " stride " << s.stride << " pad " << s.pad);
            INFO("y: " << y.first << " dx: " << dx.first << " dw: " << dw.first << " db: " << db.first);
            CHECK(y.count == 0);
            CHECK(dx.count == 0);
            CHECK(dw.count == 0);
            CHECK(db.count == 0);
        }
    }
}

// GradWrite::Overwrite: dx = its gradient, whatever dx held (NaN here: one read of it would show),
// the same values as adding into zeros, on every path (each writes every dx element once);
// dw and db still add.
TEST_CASE("conv2d backward with GradWrite::Overwrite writes dx as adding into zeros does") {
    for (CpuPath path : fw::test::simd_paths_under_test(/*with_scalar=*/true))
        for (const ConvShape& s : kShapes) {
            const Kernels& k = cpu_kernels(path);
            Generator g(7);
            const std::vector<float> x = random_vec(s.N * s.Cin * s.H * s.W, g),
                                     w = random_vec(s.Cout * s.Cin * s.KH * s.KW, g),
                                     dy = random_vec(s.N * s.Cout * s.OH * s.OW, g);
            std::vector<float> zero(x.size(), 0.0f), nan(x.size(), std::nanf(""));
            std::vector<float> dw_a(w.size(), 0.0f), dw_o(w.size(), 0.0f), db_a(s.Cout, 0.0f), db_o(s.Cout, 0.0f);
            k.conv2d_backward(zero.data(), dw_a.data(), db_a.data(), dy.data(), x.data(), w.data(), s, GradWrite::Add);
            k.conv2d_backward(nan.data(), dw_o.data(), db_o.data(), dy.data(), x.data(), w.data(), s,
                              GradWrite::Overwrite);
            INFO(cpu_path_name(path) << " N=" << s.N << " Cin=" << s.Cin << " " << s.H << "x" << s.W << " Cout=" << s.Cout
                                     << " k=" << s.KH << "x" << s.KW << " stride " << s.stride);
            CHECK(nan == zero);  // (float ==: +0 and -0 are equal)
            CHECK(dw_o == dw_a);
            CHECK(db_o == db_a);
        }
}

// conv2d_forward_add (y = conv + r): the same bits as conv2d_forward followed by y[i] += r[i], on
// every path (the Winograd output transform adds r itself; the others add it after), with 1 and 2
// threads; and as the reference's on the scalar path. Both outputs have the same alignment, 64
// bytes (as a Tensor's) or one float past it: some paths stream whole aligned vectors instead,
// and their sums may then round differently (1x1: see the streamed-stores test below).
TEST_CASE("conv2d_forward_add gives conv2d_forward's y plus r, bit for bit") {
    const int before = num_threads();
    for (CpuPath path : fw::test::simd_paths_under_test(/*with_scalar=*/true))
        for (const ConvShape& s : kShapes)
            for (int64_t misalign : {0, 1})
                for (int threads : {1, 2}) {
                    set_num_threads(threads);
                    const Kernels& k = cpu_kernels(path);
                    Generator g(13);
                    const std::vector<float> x = random_vec(s.N * s.Cin * s.H * s.W, g),
                                             w = random_vec(s.Cout * s.Cin * s.KH * s.KW, g),
                                             b = random_vec(s.Cout, g), r = random_vec(s.N * s.Cout * s.OH * s.OW, g);
                    const int64_t n = (int64_t)r.size();
                    std::vector<float> fused_buf(n + 32, std::nanf("")), plain_buf(n + 32, std::nanf(""));
                    auto at = [misalign](std::vector<float>& v) {  // 64-byte aligned + misalign floats
                        const uintptr_t p = reinterpret_cast<uintptr_t>(v.data());
                        return reinterpret_cast<float*>((p + 63) / 64 * 64) + misalign;
                    };
                    float *fused = at(fused_buf), *plain = at(plain_buf);
                    k.conv2d_forward_add(fused, x.data(), w.data(), b.data(), r.data(), s);
                    k.conv2d_forward(plain, x.data(), w.data(), b.data(), s);
                    for (int64_t i = 0; i < n; ++i) plain[i] += r[i];
                    INFO(std::string(cpu_path_name(path)) << " " << threads << " threads, misaligned by " << misalign
                                                          << ", N=" << s.N << " Cin=" << s.Cin << " " << s.H << "x"
                                                          << s.W << " Cout=" << s.Cout << " k=" << s.KH << "x" << s.KW
                                                          << " stride " << s.stride);
                    CHECK(std::equal(fused, fused + n, plain));
                }
    set_num_threads(before);
}

// The direct forward of one input channel streams y (non-temporal stores) when y is vector-aligned
// and P a whole number of vectors, as a Tensor's 64-byte aligned storage is for 28 x 28; the
// buffers of run() above are std::vector's (16-byte aligned), so this runs that path: the same
// bits as the unaligned y (the same sums), and the reference's values.
TEST_CASE("conv_in's forward into a 64-byte aligned y (streamed stores) matches the unaligned one") {
    for (const ConvShape& s : {make(3, 1, 28, 28, 32, 3, 3, 1, 1), make(2, 1, 8, 8, 13, 3, 3, 1, 1)})
        for (CpuPath path : fw::test::simd_paths_under_test()) {
            const Kernels& k = cpu_kernels(path);
            Generator g(9);
            const Tensor x = rand_uniform({s.N, 1, s.H, s.W}, g, -1, 1), w = rand_uniform({s.Cout, 1, 3, 3}, g, -1, 1),
                         b = rand_uniform({s.Cout}, g, -1, 1);
            Tensor y = Tensor::full({s.N, s.Cout, s.H, s.W}, std::nanf(""));  // storage: 64-byte aligned
            std::vector<float> y_vec(y.numel() + 1), y_ref(y.numel());
            float* y_unaligned = y_vec.data() + 1;  // 4 bytes past an allocation: never vector-aligned
            k.conv2d_forward(y.data(), x.data(), w.data(), b.data(), s);
            k.conv2d_forward(y_unaligned, x.data(), w.data(), b.data(), s);
            reference_kernels().conv2d_forward(y_ref.data(), x.data(), w.data(), b.data(), s);
            INFO(cpu_path_name(path) << " " << s.H << "x" << s.W << " -> " << s.Cout);
            CHECK(std::equal(y_unaligned, y_unaligned + y.numel(), y.data()));
            auto c = fw::test::compare(y.data(), y_ref.data(), y_ref.size(), 1e-6 * 9, 1e-5);
            INFO(c.first);
            CHECK(c.count == 0);
        }
}

// A 1x1 conv whose y (or dx, overwritten) is 64-byte aligned with rows of whole vectors streams
// its results past the caches; the tests above use unaligned std::vectors. The direct 1x1
// (direct_1x1) on 96 -> 32 on 28 x 28 (UNet-S's dec2 skip) and 5 -> 20 on 16 x 16 (the channels
// past 20 streamed to the spare plane; dX: past 5); the implicit GEMM, each panel of whole
// columns from T with the bias added on the way (same_conv_panels), on 40 -> 24 on 8 x 8 on 3
// images (on AVX-512 two whole panels of 4) and 3 -> 5 on 4 x 4 (every
// panel whole on AVX2, none on AVX-512). With and without a bias; outputs start as NaN, so one
// left unwritten shows.
TEST_CASE("1x1 convs into 64-byte aligned outputs (streamed stores) match the scalar reference") {
    for (const ConvShape& s : {make(2, 96, 28, 28, 32, 1, 1, 1, 0), make(2, 5, 16, 16, 20, 1, 1, 1, 0),
                               make(3, 40, 8, 8, 24, 1, 1, 1, 0), make(2, 3, 4, 4, 5, 1, 1, 1, 0)})
        for (bool with_bias : {true, false})
            for (CpuPath path : fw::test::simd_paths_under_test()) {
                const Kernels& k = cpu_kernels(path);
                Generator g(11);
                const Tensor x = rand_uniform({s.N, s.Cin, s.H, s.W}, g, -1, 1),
                             w = rand_uniform({s.Cout, s.Cin, 1, 1}, g, -1, 1), b = rand_uniform({s.Cout}, g, -1, 1),
                             dy = rand_uniform({s.N, s.Cout, s.H, s.W}, g, -1, 1);
                const float* bias = with_bias ? b.data() : nullptr;
                // storage: 64-byte aligned
                Tensor y = Tensor::full({s.N, s.Cout, s.H, s.W}, std::nanf(""));
                Tensor dx = Tensor::full(x.shape(), std::nanf(""));
                std::vector<float> y_ref(y.numel()), dx_ref(dx.numel(), 0.0f);
                k.conv2d_forward(y.data(), x.data(), w.data(), bias, s);
                k.conv2d_backward(dx.data(), nullptr, nullptr, dy.data(), x.data(), w.data(), s, GradWrite::Overwrite);
                reference_kernels().conv2d_forward(y_ref.data(), x.data(), w.data(), bias, s);
                reference_kernels().conv2d_backward(dx_ref.data(), nullptr, nullptr, dy.data(), x.data(), w.data(), s,
                                                    GradWrite::Add);
                // sums of Cin (y) or Cout (dx) products of values in [-1, 1], as in the first test
                auto cy = fw::test::compare(y.data(), y_ref.data(), y_ref.size(), 1e-6 * s.Cin, 1e-5);
                auto cdx = fw::test::compare(dx.data(), dx_ref.data(), dx_ref.size(), 1e-6 * s.Cout, 1e-5);
                INFO(cpu_path_name(path) << " " << s.Cin << " -> " << s.Cout << " on " << s.H << "x" << s.W
                                         << (with_bias ? "" : ", no bias"));
                INFO("y: " << cy.first << " dx: " << cdx.first);
                CHECK(cy.count == 0);
                CHECK(cdx.count == 0);
            }
}

TEST_CASE("SIMD conv2d is bitwise identical for 1 and 2 threads") {
    const int before = num_threads();
    const std::vector<CpuPath> paths = fw::test::simd_paths_under_test(/*with_scalar=*/true);
    for (const ConvShape& s : {make(3, 13, 9, 11, 17, 3, 3, 1, 1), make(10, 5, 17, 19, 6, 3, 3, 1, 1),
                               make(5, 20, 7, 7, 40, 3, 3, 1, 1), make(1, 270, 6, 37, 17, 3, 3, 1, 1),
                               make(16, 16, 27, 25, 17, 3, 3, 1, 1), make(2, 16, 3, 70, 16, 3, 3, 1, 1),
                               make(10, 5, 40, 36, 6, 3, 3, 2, 1), make(12, 32, 14, 14, 32, 3, 3, 2, 1),
                               make(9, 5, 27, 27, 40, 3, 3, 2, 1), make(7, 3, 54, 53, 40, 3, 3, 2, 1),
                               make(11, 1, 9, 37, 13, 3, 3, 1, 1), make(3, 13, 17, 15, 11, 1, 1, 1, 0),
                               make(10, 5, 9, 37, 1, 3, 3, 1, 1)})
        for (CpuPath path : paths) {
            set_num_threads(1);
            ConvData one = run(cpu_kernels(path), s, 5);
            set_num_threads(2);
            ConvData two = run(cpu_kernels(path), s, 5);
            INFO(cpu_path_name(path) << " N=" << s.N << " " << s.H << "x" << s.W);
            CHECK(one.y == two.y);
            CHECK(one.dx == two.dx);
            CHECK(one.dw == two.dw);
            CHECK(one.db == two.db);
        }
    set_num_threads(before);
}

// Winograd keeps the transformed filters of recent calls and reuses them when w (same address)
// still holds the same bits (winograd_simd.inc). A weight changed in place must be seen, by the
// forward and by dX (the flipped filters), and a reuse must give the bits of a fresh transform.
TEST_CASE("SIMD conv2d sees weights changed in place (Winograd's filter cache)") {
    const ConvShape s = make(2, 16, 9, 9, 17, 3, 3, 1, 1);
    for (CpuPath path : fw::test::simd_paths_under_test()) {
        const Kernels& k = cpu_kernels(path);
        Generator g(11);
        std::vector<float> x = random_vec(s.N * s.Cin * s.H * s.W, g), w = random_vec(s.Cout * s.Cin * 9, g),
                           b = random_vec(s.Cout, g), dy = random_vec(s.N * s.Cout * s.H * s.W, g);
        auto forward = [&](const std::vector<float>& wv) {
            std::vector<float> y(dy.size());
            k.conv2d_forward(y.data(), x.data(), wv.data(), b.data(), s);
            return y;
        };
        auto dx_of = [&](const Kernels& kk, const std::vector<float>& wv) {
            std::vector<float> dx(x.size(), 0.0f);
            kk.conv2d_backward(dx.data(), nullptr, nullptr, dy.data(), x.data(), wv.data(), s, GradWrite::Add);
            return dx;
        };
        INFO(cpu_path_name(path));
        const std::vector<float> y_before = forward(w), dx_before = dx_of(k, w);
        CHECK(forward(w) == y_before);  // reused: the same bits
        CHECK(dx_of(k, w) == dx_before);
        w[5 * 9 + 4] += 0.75f;  // filter (0, 5), its centre tap; same address
        const std::vector<float> y_after = forward(w), dx_after = dx_of(k, w);
        CHECK(y_after != y_before);
        CHECK(dx_after != dx_before);
        const std::vector<float> w_elsewhere = w;  // another address: a fresh transform
        CHECK(forward(w_elsewhere) == y_after);
        CHECK(dx_of(k, w_elsewhere) == dx_after);
        std::vector<float> y_ref(dy.size());
        reference_kernels().conv2d_forward(y_ref.data(), x.data(), w.data(), b.data(), s);
        const std::vector<float> dx_ref = dx_of(reference_kernels(), w);
        // tolerances as in the first test case (Winograd: 4e-6 per term of the sum)
        CHECK(fw::test::compare(y_after.data(), y_ref.data(), y_ref.size(), 4e-6 * s.Cin * 9, 1e-5).count == 0);
        CHECK(fw::test::compare(dx_after.data(), dx_ref.data(), dx_ref.size(), 4e-6 * s.Cout * 9, 1e-5).count == 0);
    }
}

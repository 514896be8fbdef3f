// Claims about the scalar reference Winograd conv (core/kernels/ref/winograd_ref.cpp): its
// forward (F(4x4, 3x3)), dX (F(4x4, 3x3) on the flipped filters) and dW (the adjoint of
// F(4x4, 3x3)) compute the same convolution as the direct sum of conv_ref.cpp on every image size
// (1 pixel, primes, non-multiples of the tile), accumulate like every backward kernel, and agree
// with the SIMD Winograd kernels (core/kernels/simd/winograd_simd.inc, winograd_dw_simd.inc) that
// run in training.
//
// Tolerances (every value in [-1, 1]; u = 2^-24, float's unit roundoff).
// y and dx, F(4x4, 3x3): |winograd - direct| <= 6e-5 sqrt(K) (about 1000 u sqrt(K)), K the
//   channels summed (Cin for y, Cout for dx). Why sqrt(K) and not the direct sum's L = 9 K: the
//   error is dominated by roundings of the transformed tile, of numbers far larger than the terms.
//   B^T d B has entries up to 10 x 10 max|x| and A^T weighs the 36 products by up to 8 x 8; a
//   rounding of one product m_ab moves output (i, j) by A^T_ia A^T_jb u |m_ab|. With x, w uniform
//   (E[V_ab^2] = |B^T_a|^2 |B^T_b|^2 / 3, E[U_ab^2] = |G_a|^2 |G_b|^2 / 3, rows of B^T, G) one
//   rounding stage of one channel gives an RMS error of
//     u/3 sqrt(F_i F_j),  F_i = sum_a (A^T_ia)^2 |B^T_a|^2 |G_a|^2 = 9.0, 8.6, 17.3, 94.3 (i = 0..3)
//   i.e. 31 u at the tile's last output (i = j = 3), 8 u averaged over the tile; channels add in
//   quadrature (sqrt(K)), and the ~4 stages (B^T d B, U (.) V, the channel sum, A^T M A) make it
//   ~62 u sqrt(K) at worst, ~16 u sqrt(K) on average. Measured against a double-precision conv
//   (K = 1 .. 256): RMS 15-50 u sqrt(K), max 120-480 u sqrt(K) for this file and for the SIMD
//   kernels alike, where the direct float sum is at most 75 u sqrt(K). So 1000 u sqrt(K) is ~16
//   standard deviations at the worst output position (~11 for the difference of two Winograds),
//   2x the largest error seen (K = 256, not tested here); in this file the worst |winograd_ref -
//   direct| is 0.27 of it and the worst |SIMD - winograd_ref| 0.42. A wrong matrix entry, tap or
//   edge tile is off by O(|y|) ~ sqrt(9 K) / 3, >= 1000x more.
//   (The worst case, every rounding of one sign, is 2304 K u max|w| max|x|: no test could use it.)
// dw, adjoint of F(4x4, 3x3): 1e-6 L, L = N H W, the direct dW's tolerance (16.8 u L: a running
//   sum of ~sqrt(L) terms rounds by ~u sqrt(L) per step), as tests/test_conv_simd.cpp allows.
//   Each tile's 36 products carry the roundings of the transforms, of numbers up to ~100 max|x|
//   (B^T d B) and ~200 max|dy| (A dy A^T) that G^T's 1/4, 1/6, 1/24 bring back down, as in y;
//   but here they are summed over the N H W / 16 tiles, one long float sum per entry of S, as the
//   direct dW sums its N H W products. Measured against a double-precision direct dW (every
//   shape of these tests and of UNet-S's 3x3 layers, values in [-1, 1]): this file 0.04-0.41 of
//   1e-6 L (one running sum over all tiles), the SIMD kernels 0.002-0.18, the direct float sum
//   0.007-0.06: F(4x4) costs ~5x the direct sum's error and still leaves 2.4x of margin. (The SIMD
//   dW as outer products in chunks of one panel, UNet-S's 3x3 layers at batch 64 with the 7 x 7
//   ones now Winograd too: 0.02-0.05; the dot products it replaced: 0.005-0.03 there.)
// Winograd (this file) vs Winograd (SIMD): the same algorithm in another order of operations,
//   the two errors independent: the same tolerances (the MESSAGE lines, with -s, print the worst
//   error in units of its tolerance).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/error.h"
#include "core/kernels/kernel_note.h"
#include "core/kernels/kernels.h"
#include "core/kernels/ref/ref.h"
#include "core/rng.h"
#include "tests/simd_check.h"

using namespace fw;

namespace {

ConvShape same3x3(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout) {
    return {N, Cin, H, W, Cout, 3, 3, 1, 1, H, W};
}

std::vector<float> random_vec(int64_t n, Generator& g) {
    std::vector<float> v(n);
    g.uniform(v.data(), n, -1.0f, 1.0f);
    return v;
}

// A conv's inputs and its outputs by one implementation: y, and dx, dw, db accumulated onto the
// random values they start from (dx0, dw0, db0), so a kernel that overwrote would be caught.
struct ConvRun {
    std::vector<float> x, w, b, dy, dx0, dw0, db0;
    std::vector<float> y, dx, dw, db;
};

ConvRun inputs(const ConvShape& s, uint64_t seed) {
    Generator g(seed);
    ConvRun r;
    r.x = random_vec(s.N * s.Cin * s.H * s.W, g);
    r.w = random_vec(s.Cout * s.Cin * 9, g);
    r.b = random_vec(s.Cout, g);
    r.dy = random_vec(s.N * s.Cout * s.H * s.W, g);
    r.dx0 = random_vec(r.x.size(), g);
    r.dw0 = random_vec(r.w.size(), g);
    r.db0 = random_vec(r.b.size(), g);
    return r;
}

using Forward = void (*)(float*, const float*, const float*, const float*, const ConvShape&);
using Backward = void (*)(float*, float*, float*, const float*, const float*, const float*, const ConvShape&, GradWrite);

ConvRun run(Forward fwd, Backward bwd, const ConvShape& s, uint64_t seed) {
    ConvRun r = inputs(s, seed);
    r.y.assign(r.dy.size(), 0.0f);
    r.dx = r.dx0;
    r.dw = r.dw0;
    r.db = r.db0;
    fwd(r.y.data(), r.x.data(), r.w.data(), r.b.data(), s);
    bwd(r.dx.data(), r.dw.data(), r.db.data(), r.dy.data(), r.x.data(), r.w.data(), s, GradWrite::Add);
    return r;
}

// max_i |a[i] - b[i]| / scale: the worst error in units of scale
double worst(const std::vector<float>& a, const std::vector<float>& b, double scale) {
    double m = 0.0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs((double)a[i] - b[i]) / scale);
    return m;
}

// The absolute tolerances of the top of this file for one shape.
struct Tolerances {
    double y, dx, dw;
};
Tolerances tolerances(const ConvShape& s) {
    return {6e-5 * std::sqrt((double)s.Cin), 6e-5 * std::sqrt((double)s.Cout), 1e-6 * (double)(s.N * s.H * s.W)};
}

}  // namespace

TEST_CASE("winograd_ref: forward, dX and dW match the direct convolution on odd sizes") {
    // every pair of sizes from a list with 1-pixel sides, primes and non-multiples of 4 (and of 2:
    // dW's tiles), with N cycling 1..3 and Cin, Cout through 1, 3, 5, 7
    const int64_t sizes[] = {1, 2, 3, 5, 7, 9, 13, 17};
    const int64_t channels[] = {1, 3, 5, 7};
    double worst_y = 0, worst_dx = 0, worst_dw = 0;  // in units of the tolerance
    int idx = 0;
    for (int64_t H : sizes)
        for (int64_t W : sizes) {
            const ConvShape s = same3x3(1 + idx % 3, channels[idx % 4], H, W, channels[(idx / 4 + idx) % 4]);
            ++idx;
            const ConvRun direct = run(ref::conv2d_forward, ref::conv2d_backward, s, 100 + idx);
            const ConvRun wino = run(ref::winograd_conv2d_forward, ref::winograd_conv2d_backward, s, 100 + idx);
            const Tolerances t = tolerances(s);
            // db: the same plain sum in both (tolerance as for dw)
            auto y = test::compare(wino.y.data(), direct.y.data(), direct.y.size(), t.y, 0.0);
            auto dx = test::compare(wino.dx.data(), direct.dx.data(), direct.dx.size(), t.dx, 0.0);
            auto dw = test::compare(wino.dw.data(), direct.dw.data(), direct.dw.size(), t.dw, 1e-5);
            auto db = test::compare(wino.db.data(), direct.db.data(), direct.db.size(), t.dw, 1e-5);
            worst_y = std::max(worst_y, worst(wino.y, direct.y, t.y));
            worst_dx = std::max(worst_dx, worst(wino.dx, direct.dx, t.dx));
            worst_dw = std::max(worst_dw, worst(wino.dw, direct.dw, t.dw));
            INFO("N=" << s.N << " Cin=" << s.Cin << " " << H << "x" << W << " Cout=" << s.Cout);
            INFO("y: " << y.first << " dx: " << dx.first << " dw: " << dw.first << " db: " << db.first);
            CHECK(y.count == 0);
            CHECK(dx.count == 0);
            CHECK(dw.count == 0);
            CHECK(db.count == 0);
        }
    CHECK(idx == 64);
    MESSAGE("winograd_ref vs direct, worst |error| / tolerance: y " << worst_y << ", dx " << worst_dx << ", dw "
                                                                     << worst_dw);
}

TEST_CASE("winograd_ref: backward accumulates into dx, dw, db and skips the null ones") {
    const ConvShape s = same3x3(2, 3, 5, 7, 4);
    const ConvRun r = inputs(s, 9);
    // dx and dw each alone, from 0: the increments (the other gradients null: not computed)
    std::vector<float> dx(r.x.size(), 0.0f), dw(r.w.size(), 0.0f);
    ref::winograd_conv2d_backward(dx.data(), nullptr, nullptr, r.dy.data(), r.x.data(), r.w.data(), s, GradWrite::Add);
    ref::winograd_conv2d_backward(nullptr, dw.data(), nullptr, r.dy.data(), r.x.data(), r.w.data(), s, GradWrite::Add);
    // all three at once, onto random values: dx and dw are their start plus the same increment, to
    // the bit (each element gets its final sum added once: start + increment, one float addition)
    std::vector<float> dx2 = r.dx0, dw2 = r.dw0, db2 = r.db0;
    ref::winograd_conv2d_backward(dx2.data(), dw2.data(), db2.data(), r.dy.data(), r.x.data(), r.w.data(), s, GradWrite::Add);
    for (size_t i = 0; i < dx.size(); ++i) dx[i] += r.dx0[i];
    for (size_t i = 0; i < dw.size(); ++i) dw[i] += r.dw0[i];
    CHECK(dx2 == dx);
    CHECK(dw2 == dw);
    // db adds dy term by term (db[o] += dy[n, o, i, j], as conv_ref.cpp): from the same start, the
    // same bits as the direct reference's
    std::vector<float> db_direct = r.db0;
    ref::conv2d_backward(nullptr, nullptr, db_direct.data(), r.dy.data(), r.x.data(), r.w.data(), s, GradWrite::Add);
    CHECK(db2 == db_direct);
    CHECK(db2 != r.db0);
    // and the split entry points are the same computation
    std::vector<float> dx3 = r.dx0, dw3 = r.dw0;
    ref::winograd_conv2d_backward_data(dx3.data(), r.dy.data(), r.w.data(), s);
    ref::winograd_conv2d_backward_weights(dw3.data(), r.dy.data(), r.x.data(), s);
    CHECK(dx3 == dx2);
    CHECK(dw3 == dw2);
}

// A number that can be checked by hand: x and w all ones, no bias, so y[i, j] = Cin times the
// number of the 3 x 3 neighbours inside the image (4 in a corner, 6 on an edge, 9 inside; 1 for
// a 1-pixel image). Only the transforms' rounding separates Winograd from these integers.
TEST_CASE("winograd_ref: all-ones input and filters count the neighbours inside the image") {
    for (const ConvShape& s : {same3x3(1, 2, 6, 5, 1), same3x3(1, 1, 1, 1, 1), same3x3(1, 3, 1, 6, 2)}) {
        std::vector<float> x(s.N * s.Cin * s.H * s.W, 1.0f), w(s.Cout * s.Cin * 9, 1.0f), y(s.N * s.Cout * s.H * s.W);
        ref::winograd_conv2d_forward(y.data(), x.data(), w.data(), nullptr, s);
        int64_t bad = 0;
        for (int64_t o = 0; o < s.Cout; ++o)
            for (int64_t i = 0; i < s.H; ++i)
                for (int64_t j = 0; j < s.W; ++j) {
                    auto inside = [](int64_t k, int64_t n) { return (k > 0) + 1 + (k + 1 < n); };  // rows/cols kept
                    const double want = (double)s.Cin * inside(i, s.H) * inside(j, s.W);
                    // 6e-5 sqrt(Cin): the tolerance of the top of this file
                    if (std::fabs(y[(o * s.H + i) * s.W + j] - want) > 6e-5 * std::sqrt((double)s.Cin)) ++bad;
                }
        INFO("Cin=" << s.Cin << " " << s.H << "x" << s.W << " y[0]=" << y[0] << " y[last]=" << y.back());
        CHECK(bad == 0);
    }
}

TEST_CASE("winograd_ref: refuses convs that are not 3x3, stride 1, pad 1") {
    std::vector<float> buf(4 * 9 * 9, 0.0f);
    const ConvShape strided = {1, 1, 9, 9, 1, 3, 3, 2, 1, 5, 5}, one_by_one = {1, 1, 9, 9, 1, 1, 1, 1, 0, 9, 9};
    CHECK_THROWS_AS(ref::winograd_conv2d_forward(buf.data(), buf.data(), buf.data(), nullptr, strided), Error);
    CHECK_THROWS_AS(ref::winograd_conv2d_backward_data(buf.data(), buf.data(), buf.data(), one_by_one), Error);
    CHECK_THROWS_AS(ref::winograd_conv2d_backward_weights(buf.data(), buf.data(), buf.data(), strided), Error);
}

// The SIMD conv takes Winograd only for 3x3 same convs with >= 16 channels in and out (forward,
// dX), and dW only with >= 16 panels of 4 x 4 tiles (winograd_dw_simd.inc); each case checks, through
// the kernel's note (core/kernels/kernel_note.h), that the SIMD side really ran Winograd.
// Forward and dX: odd channel counts (17, 19), sizes that are not multiples of 4, a 1-pixel
// image, a prime-by-prime one. dW: 16 images of 27 x 25 (one run per strip vector; 19 panels: a
// last chunk of 3) and 200 of 7 x 5 (17 inputs; two tiles a row: several runs per strip vector).
TEST_CASE("winograd_ref: forward and dX match the SIMD Winograd F(4x4, 3x3)") {
    for (CpuPath path : test::simd_paths_under_test()) {
        const Kernels& k = cpu_kernels(path);
        double worst_y = 0, worst_dx = 0;
        for (const ConvShape& s : {same3x3(2, 16, 7, 9, 17), same3x3(1, 19, 13, 11, 16), same3x3(3, 16, 1, 1, 16),
                                   same3x3(1, 17, 5, 2, 18), same3x3(2, 16, 17, 17, 16)}) {
            ConvRun r = inputs(s, 21);
            std::vector<float> y_ref(r.dy.size()), y_simd(r.dy.size());
            ref::winograd_conv2d_forward(y_ref.data(), r.x.data(), r.w.data(), r.b.data(), s);
            clear_kernel_notes();
            k.conv2d_forward(y_simd.data(), r.x.data(), r.w.data(), r.b.data(), s);
            const std::string forward_note = kernel_notes();
            std::vector<float> dx_ref = r.dx0, dx_simd = r.dx0;
            ref::winograd_conv2d_backward_data(dx_ref.data(), r.dy.data(), r.w.data(), s);
            clear_kernel_notes();
            k.conv2d_backward(dx_simd.data(), nullptr, nullptr, r.dy.data(), r.x.data(), r.w.data(), s, GradWrite::Add);
            const std::string backward_note = kernel_notes();
            const Tolerances t = tolerances(s);
            auto y = test::compare(y_simd.data(), y_ref.data(), y_ref.size(), t.y, 0.0);
            auto dx = test::compare(dx_simd.data(), dx_ref.data(), dx_ref.size(), t.dx, 0.0);
            worst_y = std::max(worst_y, worst(y_simd, y_ref, t.y));
            worst_dx = std::max(worst_dx, worst(dx_simd, dx_ref, t.dx));
            INFO(cpu_path_name(path) << " N=" << s.N << " Cin=" << s.Cin << " " << s.H << "x" << s.W
                                     << " Cout=" << s.Cout << "; notes: " << forward_note << " / " << backward_note);
            INFO("y: " << y.first << " dx: " << dx.first);
            CHECK(forward_note == "winograd F(4x4,3x3)");
            CHECK(backward_note == "dX winograd F(4x4,3x3)");
            CHECK(y.count == 0);
            CHECK(dx.count == 0);
        }
        MESSAGE(std::string(cpu_path_name(path)) << " vs winograd_ref, worst |error| / tolerance: y " << worst_y << ", dx "
                                    << worst_dx);
    }
}

TEST_CASE("winograd_ref: dW matches the SIMD Winograd dW (adjoint of F(4x4, 3x3))") {
    for (CpuPath path : test::simd_paths_under_test()) {
        const Kernels& k = cpu_kernels(path);
        double worst_dw = 0;
        for (const ConvShape& s : {same3x3(16, 16, 27, 25, 17), same3x3(200, 17, 7, 5, 16)}) {
            ConvRun r = inputs(s, 23);
            std::vector<float> dw_ref = r.dw0, dw_simd = r.dw0;
            ref::winograd_conv2d_backward_weights(dw_ref.data(), r.dy.data(), r.x.data(), s);
            clear_kernel_notes();
            k.conv2d_backward(nullptr, dw_simd.data(), nullptr, r.dy.data(), r.x.data(), r.w.data(), s, GradWrite::Add);
            const std::string note = kernel_notes();
            const Tolerances t = tolerances(s);
            auto dw = test::compare(dw_simd.data(), dw_ref.data(), dw_ref.size(), t.dw, 1e-5);
            worst_dw = std::max(worst_dw, worst(dw_simd, dw_ref, t.dw));
            INFO(cpu_path_name(path) << " N=" << s.N << " Cin=" << s.Cin << " " << s.H << "x" << s.W
                                     << " Cout=" << s.Cout << "; note: " << note << "; dw: " << dw.first);
            CHECK(note == "dW winograd F(4x4,3x3)");
            CHECK(dw.count == 0);
        }
        MESSAGE(std::string(cpu_path_name(path)) << " vs winograd_ref, worst |error| / tolerance: dw " << worst_dw);
    }
}

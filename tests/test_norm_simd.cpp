// Claims about the SIMD group_norm and group_norm + SiLU (core/kernels/simd/norm_simd.inc): forward (y, mean, rstd) and
// backward (dx, dw, db and group_norm_silu's dshift, accumulated) match the scalar reference on
// odd shapes, with and without group_norm_silu's shift, the backward honours null gradients, and
// 1 and 2 threads give bitwise identical results.
// Both SIMD paths (avx2, avx512) are claimed: one the CPU lacks fails each test case here, unless
// FW_TEST_ALLOW_MISSING_SIMD=1 (tests/simd_check.h).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/kernels/kernels.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "tests/simd_check.h"

using namespace fw;

namespace {

// HW = 1 (a 1x1 feature map), HW under one vector, odd HW with tails, one channel per group,
// one group, and a UNet-like 32 channels in 8 groups on 14x14.
const GroupNormShape kShapes[] = {{2, 6, 1, 3, 1e-5f},  {2, 4, 7, 2, 1e-5f},   {3, 8, 17, 4, 1e-5f},
                                  {1, 5, 33, 5, 1e-5f}, {2, 3, 97, 1, 1e-5f},  {2, 32, 196, 8, 1e-5f}};

std::vector<float> random_vec(int64_t n, Generator& g, float lo, float hi) {
    std::vector<float> v(n);
    g.uniform(v.data(), n, lo, hi);
    return v;
}

struct NormData {
    std::vector<float> y, mean, rstd, dx, dw, db, dshift;
};

enum class Op { GroupNorm, GroupNormSilu };  // group_norm, or group_norm followed by SiLU (fused)

// x has mean ~2 and std ~0.6 per group, so xhat = (x - mu) rstd is not just x. shifted (group_norm_silu
// only): a shift (N, C) in [-1, 1), and its gradient accumulated (null when !grads).
NormData run(const Kernels& k, const GroupNormShape& s, uint64_t seed, bool grads = true, Op op = Op::GroupNorm,
             bool shifted = false) {
    Generator g(seed);
    const int64_t n = s.N * s.C * s.HW;
    std::vector<float> x = random_vec(n, g, 1, 3), w = random_vec(s.C, g, -2, 2), b = random_vec(s.C, g, -1, 1);
    std::vector<float> dy = random_vec(n, g, -1, 1);
    const std::vector<float> shift = random_vec(s.N * s.C, g, -1, 1);
    const float* sh = shifted ? shift.data() : nullptr;
    NormData d;
    d.y.assign(n, 0.0f);
    d.mean.assign(s.N * s.G, 0.0f);
    d.rstd.assign(s.N * s.G, 0.0f);
    d.dx = random_vec(n, g, -1, 1);  // non-zero: backward must ACCUMULATE
    d.dw = random_vec(s.C, g, -1, 1);
    d.db = random_vec(s.C, g, -1, 1);
    d.dshift = random_vec(s.N * s.C, g, -1, 1);
    // both paths' backward reads the reference's mean and rstd, so it is compared alone
    std::vector<float> mean(s.N * s.G), rstd(s.N * s.G), y(n);
    if (op == Op::GroupNorm) {
        k.group_norm_forward(d.y.data(), d.mean.data(), d.rstd.data(), x.data(), w.data(), b.data(), s);
        reference_kernels().group_norm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), s);
    } else {
        k.group_norm_silu_forward(d.y.data(), d.mean.data(), d.rstd.data(), x.data(), sh, w.data(), b.data(), s);
        reference_kernels().group_norm_silu_forward(y.data(), mean.data(), rstd.data(), x.data(), sh, w.data(),
                                                    b.data(), s);
    }
    float* dw = grads ? d.dw.data() : nullptr;
    float* db = grads ? d.db.data() : nullptr;
    float* dshift = grads && shifted ? d.dshift.data() : nullptr;
    if (op == Op::GroupNorm)
        k.group_norm_backward(d.dx.data(), dw, db, dy.data(), x.data(), mean.data(), rstd.data(), w.data(), s);
    else
        k.group_norm_silu_backward(d.dx.data(), dshift, dw, db, dy.data(), x.data(), sh, mean.data(), rstd.data(),
                                   w.data(), b.data(), s, GradWrite::Add);
    return d;
}

// f against the reference r: mean and rstd to 1 ulp, y and dx to the given atol, dw and db to
// 1e-6 per summed term, dshift to dx's atol per summed term (see the tolerances at each call).
// With null dw, db (and dshift) both sides leave them as they were.
void check_against_reference(const NormData& f, const NormData& r, const GroupNormShape& s, CpuPath path, bool grads,
                             double y_atol, double dx_atol) {
    const double L = (double)(s.N * s.HW);
    auto mean = fw::test::compare(f.mean.data(), r.mean.data(), r.mean.size(), 0, 1.2e-7);
    auto rstd = fw::test::compare(f.rstd.data(), r.rstd.data(), r.rstd.size(), 0, 1.2e-7);
    auto y = fw::test::compare(f.y.data(), r.y.data(), r.y.size(), y_atol, 0);
    auto dx = fw::test::compare(f.dx.data(), r.dx.data(), r.dx.size(), dx_atol, 0);
    auto dw = fw::test::compare(f.dw.data(), r.dw.data(), r.dw.size(), 1e-6 * L, 1e-6);
    auto db = fw::test::compare(f.db.data(), r.db.data(), r.db.size(), 1e-6 * L, 1e-6);
    auto dshift = fw::test::compare(f.dshift.data(), r.dshift.data(), r.dshift.size(), dx_atol * (double)s.HW, 0);
    INFO(std::string(cpu_path_name(path)) << " N=" << s.N << " C=" << s.C << " HW=" << s.HW << " G=" << s.G
                                          << std::string(grads ? "" : " (dw, db null)"));
    INFO("mean: " << mean.first << " rstd: " << rstd.first << " y: " << y.first);
    INFO("dx: " << dx.first << " dw: " << dw.first << " db: " << db.first << " dshift: " << dshift.first);
    CHECK(mean.count == 0);
    CHECK(rstd.count == 0);
    CHECK(y.count == 0);
    CHECK(dx.count == 0);
    CHECK(dw.count == 0);
    CHECK(db.count == 0);
    CHECK(dshift.count == 0);
}

}  // namespace

TEST_CASE("SIMD group_norm forward and backward match the scalar reference") {
    for (CpuPath path : fw::test::simd_paths_under_test()) {
        for (const GroupNormShape& s : kShapes)
            for (bool grads : {true, false}) {
                NormData r = run(reference_kernels(), s, 3, grads), f = run(cpu_kernels(path), s, 3, grads);
                // mean, rstd: both from double sums in another order (1e-16 apart), then rounded
                //   to float: equal or 1 ulp apart (rtol 1.2e-7).
                // y: the reference forms xhat in double, ours in float from mu as two floats
                //   (hi + lo): xhat within ~3 ulp even when rstd is large (HW = 1: two values per
                //   group); |xhat| <= ~2, |w| <= 2, |b| <= 1: w xhat + b within ~2e-6: atol 4e-6.
                // dx: rstd (gh - mean(gh) - xhat mean(gh xhat)) with |gh| <= 2, rstd ~ 2: a few
                //   float roundings of values <= 8, times rstd: atol 1e-5.
                // dw, db: sums of N HW terms (|term| <= 2), the reference in float in sequence,
                //   ours in double: the reference's own error, atol 1e-6 N HW, rtol 1e-6.
                check_against_reference(f, r, s, path, grads, 4e-6, 1e-5);
            }
    }
}

TEST_CASE("SIMD group_norm is bitwise identical for 1 and 2 threads") {
    const int before = num_threads();
    const GroupNormShape s = {3, 16, 49, 4, 1e-5f};
    for (CpuPath path : fw::test::simd_paths_under_test(/*with_scalar=*/true)) {
        set_num_threads(1);
        NormData one = run(cpu_kernels(path), s, 8);
        set_num_threads(2);
        NormData two = run(cpu_kernels(path), s, 8);
        INFO(cpu_path_name(path));
        CHECK(one.y == two.y);
        CHECK(one.mean == two.mean);
        CHECK(one.rstd == two.rstd);
        CHECK(one.dx == two.dx);
        CHECK(one.dw == two.dw);
        CHECK(one.db == two.db);
    }
    set_num_threads(before);
}

// group_norm + SiLU fused (group_norm_silu_forward / _backward): the same claims.

TEST_CASE("SIMD group_norm_silu forward and backward match the scalar reference") {
    for (CpuPath path : fw::test::simd_paths_under_test()) {
        for (const GroupNormShape& s : kShapes)
            for (bool grads : {true, false})
                for (bool shifted : {false, true}) {
                    NormData r = run(reference_kernels(), s, 4, grads, Op::GroupNormSilu, shifted),
                             f = run(cpu_kernels(path), s, 4, grads, Op::GroupNormSilu, shifted);
                    INFO(std::string(shifted ? "with" : "without") << " a shift");
                    // Tolerances as for group_norm, plus silu: |z| <= ~5 here, silu(z) within 3 ulp
                    // of the reference's (vsigmoid's bound) on top of z's own 4e-6: atol 1e-5.
                    // dx: gz = g s (1 + z (1 - s)) has |gz| <= ~1.1 |g| and is a few roundings from
                    //   the reference's; then group_norm's dx as above: atol 2e-5.
                    // dshift: a sum of HW of those dx values (ours in float lanes, the reference in
                    //   double): each term within dx's 2e-5, so the sum within 2e-5 HW.
                    check_against_reference(f, r, s, path, grads, 1e-5, 2e-5);
                }
    }
}

TEST_CASE("SIMD group_norm_silu is bitwise identical for 1 and 2 threads") {
    const int before = num_threads();
    const GroupNormShape s = {3, 16, 49, 4, 1e-5f};
    for (CpuPath path : fw::test::simd_paths_under_test(/*with_scalar=*/true)) {
        for (bool shifted : {false, true}) {
            set_num_threads(1);
            NormData one = run(cpu_kernels(path), s, 9, true, Op::GroupNormSilu, shifted);
            set_num_threads(2);
            NormData two = run(cpu_kernels(path), s, 9, true, Op::GroupNormSilu, shifted);
            INFO(cpu_path_name(path) << (shifted ? " with a shift" : ""));
            CHECK(one.y == two.y);
            CHECK(one.dx == two.dx);
            CHECK(one.dw == two.dw);
            CHECK(one.db == two.db);
            CHECK(one.dshift == two.dshift);
        }
    }
    set_num_threads(before);
}

// GradWrite::Overwrite: dx = its gradient whatever dx held (NaN here), the same values as adding
// into zeros; dw and db still add.
TEST_CASE("group_norm_silu backward with GradWrite::Overwrite writes dx as adding into zeros does") {
    for (CpuPath path : fw::test::simd_paths_under_test(/*with_scalar=*/true))
        for (const GroupNormShape& s : kShapes) {
            const Kernels& k = cpu_kernels(path);
            Generator g(12);
            const int64_t n = s.N * s.C * s.HW;
            const std::vector<float> x = random_vec(n, g, 1, 3), w = random_vec(s.C, g, -2, 2),
                                     b = random_vec(s.C, g, -1, 1), dy = random_vec(n, g, -1, 1);
            std::vector<float> y(n), mean(s.N * s.G), rstd(s.N * s.G);
            k.group_norm_silu_forward(y.data(), mean.data(), rstd.data(), x.data(), nullptr, w.data(), b.data(), s);
            std::vector<float> zero(n, 0.0f), nan(n, std::nanf("")), dw_a(s.C, 0.0f), dw_o(s.C, 0.0f),
                db_a(s.C, 0.0f), db_o(s.C, 0.0f);
            k.group_norm_silu_backward(zero.data(), nullptr, dw_a.data(), db_a.data(), dy.data(), x.data(), nullptr,
                                       mean.data(), rstd.data(), w.data(), b.data(), s, GradWrite::Add);
            k.group_norm_silu_backward(nan.data(), nullptr, dw_o.data(), db_o.data(), dy.data(), x.data(), nullptr,
                                       mean.data(), rstd.data(), w.data(), b.data(), s, GradWrite::Overwrite);
            INFO(cpu_path_name(path) << " N=" << s.N << " C=" << s.C << " HW=" << s.HW << " G=" << s.G);
            CHECK(nan == zero);  // (float ==: +0 and -0 are equal)
            CHECK(dw_o == dw_a);
            CHECK(db_o == db_a);
        }
}

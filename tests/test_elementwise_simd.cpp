// Claims about the SIMD elementwise kernels (core/kernels/simd/elementwise_simd.inc): vexp, tanh and
// sigmoid are within a stated number of ulp of the C library; every unary and binary kernel
// matches its scalar reference on odd sizes (tails of every length, several thread chunks);
// backward kernels accumulate; 1 and 2 threads give bitwise identical results.
// Both SIMD paths (avx2, avx512) are claimed: one the CPU lacks fails each test case here, unless
// FW_TEST_ALLOW_MISSING_SIMD=1 (tests/simd_check.h).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/cpu.h"
#include "core/kernels/kernels.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/shape.h"
#include "tests/simd_check.h"

using namespace fw;

namespace {

// 1, tails of every kind around 8 and 16 lanes, and 65537 = 4 chunks of 16384 + 1.
const int64_t kSizes[] = {1, 7, 15, 16, 17, 31, 33, 97, 1000, 65537};

std::vector<float> random_vec(int64_t n, Generator& g, float lo, float hi) {
    std::vector<float> v(n);
    g.uniform(v.data(), n, lo, hi);
    return v;
}

// distance in ulp between two finite floats of the same sign (0 when equal)
int64_t ulp_distance(float a, float b) {
    int32_t ia, ib;
    std::memcpy(&ia, &a, 4);
    std::memcpy(&ib, &b, 4);
    if (ia < 0) ia = INT32_MIN - ia;  // map negative floats below the positive ones, in order
    if (ib < 0) ib = INT32_MIN - ib;
    return std::llabs((int64_t)ia - (int64_t)ib);
}

// The largest ulp distance of fast(x) from the correctly rounded truth(x) over x.
template <typename Truth>
int64_t max_ulp(UnaryFwd fast, const std::vector<float>& x, Truth truth, float* worst_x) {
    std::vector<float> y(x.size());
    fast(y.data(), x.data(), (int64_t)x.size());
    int64_t worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        int64_t d = ulp_distance(y[i], (float)truth((double)x[i]));
        if (d > worst) worst = d, *worst_x = x[i];
    }
    return worst;
}

std::vector<float> sweep(float lo, float hi, float step) {
    std::vector<float> x;
    for (double v = lo; v <= hi; v += step) x.push_back((float)v);
    return x;
}

}  // namespace

TEST_CASE("vexp is within 1 ulp of exp over [-87, 88] and handles the special values") {
    const std::vector<float> x = sweep(-87.0f, 88.0f, 1.0f / 4096);  // 716,800 points
    for (CpuPath path : fw::test::simd_paths_under_test()) {
        const Kernels& k = cpu_kernels(path);
        float worst_x = 0;
        int64_t u = max_ulp(k.exp_forward, x, [](double v) { return std::exp(v); }, &worst_x);
        INFO(cpu_path_name(path) << ": max " << u << " ulp at x = " << worst_x);
        CHECK(u <= 1);  // the claim in vec_avx512.h / vec_avx2.h

        const float inf = std::numeric_limits<float>::infinity();
        const float in[] = {-inf, inf, NAN, -100.0f, -87.5f, 88.7f, 88.73f, 100.0f, 0.0f, -0.0f};
        float out[10];
        k.exp_forward(out, in, 10);
        CHECK(out[0] == 0.0f);
        CHECK(out[1] == inf);
        CHECK(std::isnan(out[2]));
        CHECK(out[3] <= 1e-43f);  // e^-100 = 3.7e-44: a denormal (or 0)
        CHECK(std::fabs(out[4] - std::exp(-87.5f)) <= 1.5e-45f);  // denormal range: within 1 denormal ulp
        CHECK(ulp_distance(out[5], std::exp(88.7f)) <= 1);       // just below FLT_MAX = e^88.72
        CHECK(out[6] == inf);
        CHECK(out[7] == inf);
        CHECK(out[8] == 1.0f);
        CHECK(out[9] == 1.0f);
    }
}

TEST_CASE("SIMD tanh is within 2 ulp and sigmoid within 3 ulp of the exact values") {
    const std::vector<float> x = sweep(-20.0f, 20.0f, 1.0f / 1024);
    for (CpuPath path : fw::test::simd_paths_under_test()) {
        const Kernels& k = cpu_kernels(path);
        float wt = 0, ws = 0;
        int64_t ut = max_ulp(k.tanh_forward, x, [](double v) { return std::tanh(v); }, &wt);
        int64_t us = max_ulp(k.sigmoid_forward, x, [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, &ws);
        INFO(cpu_path_name(path) << ": tanh max " << ut << " ulp at " << wt << ", sigmoid max " << us << " ulp at " << ws);
        CHECK(ut <= 2);  // vtanh: measured 1 ulp
        CHECK(us <= 3);  // vsigmoid: measured 2 ulp

        const float inf = std::numeric_limits<float>::infinity();
        const float in[] = {-inf, inf, NAN, 0.0f};
        float t[4], s[4];
        k.tanh_forward(t, in, 4);
        k.sigmoid_forward(s, in, 4);
        CHECK(t[0] == -1.0f);
        CHECK(t[1] == 1.0f);
        CHECK(std::isnan(t[2]));
        CHECK(t[3] == 0.0f);
        CHECK(s[0] == 0.0f);
        CHECK(s[1] == 1.0f);
        CHECK(std::isnan(s[2]));
        CHECK(s[3] == 0.5f);
    }
}

namespace {

// One unary kernel pair and how close it must be to the reference.
struct UnaryCase {
    const char* name;
    UnaryFwd Kernels::*fwd;  // null: no forward to compare (log: the forward is the reference)
    UnaryBwd Kernels::*bwd;
    bool saved_is_y;          // the backward's `saved` is y (else x)
    float lo, hi;             // input range
    double atol, rtol;        // |fast - ref| <= atol + rtol |ref|, forward and backward
};

// Tolerances, each with its reason:
//   exact (0, 0): the same IEEE operations in the same order as the reference (sqrt is
//     correctly rounded on both sides): bitwise equal.
//   exp 2.5e-7: vexp <= 1 ulp, std::exp <= 0.5 ulp: 1.5 ulp = 1.8e-7 relative.
//   sigmoid, tanh 4e-7: vs std:: (<= 1 ulp) + ours (<= 2 ulp, the sweeps above); their backwards
//     use y: exact.
//   silu 1e-6 forward; backward: 1 - s near s = 1 turns 3 ulp of s into ~1e-6 relative of
//     x (1 - s); with dx in [-1, 1] added, atol 2e-6.
const UnaryCase kUnary[] = {
    {"exp", &Kernels::exp_forward, &Kernels::exp_backward, true, -8, 8, 0, 2.5e-7},
    {"log", nullptr, &Kernels::log_backward, false, 0.1f, 4, 0, 0},
    {"sqrt", &Kernels::sqrt_forward, &Kernels::sqrt_backward, true, 0.1f, 4, 0, 0},
    {"square", &Kernels::square_forward, &Kernels::square_backward, false, -4, 4, 0, 0},
    {"sigmoid", &Kernels::sigmoid_forward, &Kernels::sigmoid_backward, true, -8, 8, 0, 4e-7},
    {"tanh", &Kernels::tanh_forward, &Kernels::tanh_backward, true, -4, 4, 0, 4e-7},
    {"relu", &Kernels::relu_forward, &Kernels::relu_backward, false, -4, 4, 0, 0},
    {"silu", &Kernels::silu_forward, &Kernels::silu_backward, false, -8, 8, 2e-6, 1e-6},
};

}  // namespace

TEST_CASE("SIMD unary kernels match the scalar reference; backward accumulates") {
    const Kernels& ref = reference_kernels();
    for (CpuPath path : fw::test::simd_paths_under_test()) {
        const Kernels& fast = cpu_kernels(path);
        for (const UnaryCase& c : kUnary)
            for (int64_t n : kSizes) {
                Generator g(7 + n);
                std::vector<float> x = random_vec(n, g, c.lo, c.hi), dy = random_vec(n, g, -1, 1);
                std::vector<float> dx0 = random_vec(n, g, -1, 1);  // non-zero: backward must ACCUMULATE
                std::vector<float> y_ref(n), y_fast(n), dx_ref = dx0, dx_fast = dx0;
                INFO(cpu_path_name(path) << " " << c.name << " n=" << n);
                if (c.fwd) {
                    (ref.*c.fwd)(y_ref.data(), x.data(), n);
                    (fast.*c.fwd)(y_fast.data(), x.data(), n);
                    auto m = fw::test::compare(y_fast.data(), y_ref.data(), n, c.atol, c.rtol);
                    INFO("forward: " << m.first);
                    CHECK(m.count == 0);
                } else {
                    ref.log_forward(y_ref.data(), x.data(), n);
                }
                const float* saved = c.saved_is_y ? y_ref.data() : x.data();  // the same saved input for both
                (ref.*c.bwd)(dx_ref.data(), dy.data(), saved, n);
                (fast.*c.bwd)(dx_fast.data(), dy.data(), saved, n);
                auto m = fw::test::compare(dx_fast.data(), dx_ref.data(), n, c.atol, c.rtol);
                INFO("backward: " << m.first);
                CHECK(m.count == 0);
            }
    }
}

TEST_CASE("SIMD scale, add_scalar and axpy are bitwise equal to the reference") {
    const Kernels& ref = reference_kernels();
    for (CpuPath path : fw::test::simd_paths_under_test()) {
        const Kernels& fast = cpu_kernels(path);
        for (int64_t n : kSizes) {
            Generator g(100 + n);
            std::vector<float> x = random_vec(n, g, -3, 3), y0 = random_vec(n, g, -1, 1);
            std::vector<float> r1(n), f1(n), r2(n), f2(n), r3 = y0, f3 = y0;
            ref.scale(r1.data(), x.data(), -0.37f, n);
            fast.scale(f1.data(), x.data(), -0.37f, n);
            ref.add_scalar(r2.data(), x.data(), 1.25f, n);
            fast.add_scalar(f2.data(), x.data(), 1.25f, n);
            ref.axpy(r3.data(), x.data(), 0.3f, n);  // y += s x: accumulates into y0
            fast.axpy(f3.data(), x.data(), 0.3f, n);
            INFO(cpu_path_name(path) << " n=" << n);
            CHECK(r1 == f1);
            CHECK(r2 == f2);
            CHECK(r3 == f3);
        }
    }
}

namespace {

struct BinaryCase {
    Shape a, b;
};

// same shapes (odd sizes), a bias under (N, C, H, W), a bias under (N, C), a scalar, b the
// bigger one, both broadcast ((3,1,17) with (1,5,1): both maps scatter in the backward), and
// an odd map (broadcast over a middle axis with a last axis of 3 < one vector: the reference).
const BinaryCase kBinary[] = {
    {{1}, {1}},           {{97}, {97}},               {{65537}, {65537}},      {{2, 5, 7, 7}, {1, 5, 1, 1}},
    {{3, 4, 9, 9}, {3, 4, 1, 1}}, {{6, 33}, {33}},      {{1000}, {1}},           {{5, 1, 1}, {5, 4, 17}},
    {{3, 1, 17}, {1, 5, 1}}, {{4, 1, 3}, {4, 5, 3}},  {{2, 3, 4100}, {1, 3, 1}},
};

struct BinaryOp {
    const char* name;
    BinaryFwd Kernels::*fwd;
    BinaryBwd Kernels::*bwd;
};
const BinaryOp kOps[] = {{"add", &Kernels::add_forward, &Kernels::add_backward},
                         {"sub", &Kernels::sub_forward, &Kernels::sub_backward},
                         {"mul", &Kernels::mul_forward, &Kernels::mul_backward},
                         {"div", &Kernels::div_forward, &Kernels::div_backward}};

struct BinaryData {
    std::vector<float> y, da, db;
};

BinaryData run_binary(const Kernels& k, const BinaryOp& op, const BinaryCase& c, uint64_t seed) {
    Shape out = broadcast_shapes(c.a, c.b, op.name);
    BroadcastMap ma = make_broadcast_map(c.a, out), mb = make_broadcast_map(c.b, out);
    Generator g(seed);
    std::vector<float> a = random_vec(numel(c.a), g, -2, 2), b = random_vec(numel(c.b), g, 0.5f, 2);  // b: a divisor
    std::vector<float> dy = random_vec(numel(out), g, -1, 1);
    BinaryData d;
    d.y.assign(numel(out), 0.0f);
    d.da = random_vec(a.size(), g, -1, 1);  // non-zero: backward must ACCUMULATE
    d.db = random_vec(b.size(), g, -1, 1);
    (k.*op.fwd)(d.y.data(), a.data(), ma, b.data(), mb);
    (k.*op.bwd)(d.da.data(), ma, d.db.data(), mb, dy.data(), a.data(), b.data());
    return d;
}

}  // namespace

TEST_CASE("SIMD binary kernels match the scalar reference for identity and broadcast maps") {
    for (CpuPath path : fw::test::simd_paths_under_test())
        for (const BinaryOp& op : kOps)
            for (const BinaryCase& c : kBinary) {
                BinaryData r = run_binary(reference_kernels(), op, c, 21), f = run_binary(cpu_kernels(path), op, c, 21);
                // y: one IEEE operation on the same values: exact. da, db: an element that was
                // read by L outputs sums L terms (|term| <= 8), the reference in sequence, the
                // SIMD kernel in vector lanes; both round about sqrt(L) times a partial sum of
                // size ~sqrt(L) at 2^-24: atol 1e-6 L (L = numel(out) / numel(input)) is a wide
                // margin, as in the conv test. For L = 1 the arithmetic is the reference's: exact.
                const double n = (double)numel(broadcast_shapes(c.a, c.b, op.name));
                const double La = n / (double)numel(c.a), Lb = n / (double)numel(c.b);
                auto tol = [](double L) { return L == 1 ? 0.0 : 1e-6 * L; };
                auto y = fw::test::compare(f.y.data(), r.y.data(), r.y.size(), 0, 0);
                auto da = fw::test::compare(f.da.data(), r.da.data(), r.da.size(), tol(La), tol(La));
                auto db = fw::test::compare(f.db.data(), r.db.data(), r.db.size(), tol(Lb), tol(Lb));
                INFO(std::string(cpu_path_name(path)) << " " << op.name << " " << to_string(c.a) << " with " << to_string(c.b));
                INFO("y: " << y.first << " da: " << da.first << " db: " << db.first);
                CHECK(y.count == 0);
                CHECK(da.count == 0);
                CHECK(db.count == 0);
            }
}

TEST_CASE("SIMD elementwise kernels are bitwise identical for 1 and 2 threads") {
    const int before = num_threads();
    const int64_t n = 3 * 16384 + 5;  // 4 chunks
    Generator g(5);
    std::vector<float> x = random_vec(n, g, -6, 6), dy = random_vec(n, g, -1, 1);
    for (CpuPath path : fw::test::simd_paths_under_test()) {
        const Kernels& k = cpu_kernels(path);
        std::vector<float> y[2], dx[2];
        BinaryData bin[2];
        for (int t = 0; t < 2; ++t) {
            set_num_threads(t + 1);
            y[t].assign(n, 0.0f);
            dx[t] = dy;
            k.silu_forward(y[t].data(), x.data(), n);
            k.silu_backward(dx[t].data(), dy.data(), x.data(), n);
            bin[t] = run_binary(k, kOps[3], BinaryCase{{2, 3, 9000}, {2, 3, 1}}, 9);  // div, scatter into b
        }
        INFO(cpu_path_name(path));
        CHECK(y[0] == y[1]);
        CHECK(dx[0] == dx[1]);
        CHECK(bin[0].y == bin[1].y);
        CHECK(bin[0].da == bin[1].da);
        CHECK(bin[0].db == bin[1].db);
    }
    set_num_threads(before);
}

// The concat/slice copies and nearest upsampling only move (and, backward, add in the reference's
// order) floats: every SIMD path must give the reference's bits, with 1 thread and with 2.
TEST_CASE("SIMD copy_axis_range and upsample2x are bitwise equal to the reference for 1 and 2 threads") {
    const int before = num_threads();
    const Kernels& ref = cpu_kernels(CpuPath::Scalar);
    Generator g(11);
    for (CpuPath path : fw::test::simd_paths_under_test())
        for (int threads = 1; threads <= 2; ++threads) {
            set_num_threads(threads);
            const Kernels& k = cpu_kernels(path);
            // dst (outer, 7, inner) rows 2..4 (+)= src (outer, 5, inner) rows 1..3; inner 1 and tails
            for (int64_t inner : {1, 5, 17, 49})
                for (bool acc : {false, true}) {
                    const int64_t outer = 3;
                    std::vector<float> src = random_vec(outer * 5 * inner, g, -1, 1);
                    std::vector<float> want = random_vec(outer * 7 * inner, g, -1, 1), got = want;
                    ref.copy_axis_range(want.data(), 7, 2, src.data(), 5, 1, 3, outer, inner, acc);
                    k.copy_axis_range(got.data(), 7, 2, src.data(), 5, 1, 3, outer, inner, acc);
                    INFO(cpu_path_name(path) << ", " << threads << " threads, inner " << inner << ", accumulate " << acc);
                    CHECK(got == want);
                }
            for (auto [H, W] : {std::pair<int64_t, int64_t>{1, 1}, {3, 5}, {7, 7}, {14, 9}}) {
                const int64_t planes = 3;
                std::vector<float> x = random_vec(planes * H * W, g, -1, 1);
                std::vector<float> dy = random_vec(planes * 4 * H * W, g, -1, 1);
                std::vector<float> y_want(planes * 4 * H * W), y_got(planes * 4 * H * W, 7.0f);
                std::vector<float> dx_want = random_vec(planes * H * W, g, -1, 1), dx_got = dx_want;
                ref.upsample2x_forward(y_want.data(), x.data(), planes, H, W);
                k.upsample2x_forward(y_got.data(), x.data(), planes, H, W);
                ref.upsample2x_backward(dx_want.data(), dy.data(), planes, H, W);
                k.upsample2x_backward(dx_got.data(), dy.data(), planes, H, W);
                INFO(cpu_path_name(path) << ", " << threads << " threads, " << H << " x " << W);
                CHECK(y_got == y_want);
                CHECK(dx_got == dx_want);
            }
        }
    set_num_threads(before);
}

// Adam and EMA do the reference's float operations in its order, lane by lane: bitwise equal to it,
// with 1 thread and with 2, for every weight-decay mode. sum_squares adds in another order (in
// double): within 1e-12 relative of the reference, and the same bits for 1 and 2 threads.
TEST_CASE("SIMD Adam and EMA updates are bitwise equal to the reference; sum_squares is within 1e-12") {
    const int before = num_threads();
    const Kernels& ref = cpu_kernels(CpuPath::Scalar);
    Generator g(12);
    const int64_t sizes[] = {1, 7, 17, 1000, 16384, 3 * 16384 + 5};  // tails, one block, blocks + a tail
    for (CpuPath path : fw::test::simd_paths_under_test())
        for (int64_t n : sizes) {
            std::vector<float> p0 = random_vec(n, g, -1, 1), grad = random_vec(n, g, -0.1f, 0.1f);
            std::vector<float> m0 = random_vec(n, g, -0.01f, 0.01f), v0 = random_vec(n, g, 0.0f, 1e-4f);
            double sums[2] = {};
            for (int threads = 1; threads <= 2; ++threads) {
                set_num_threads(threads);
                const Kernels& k = cpu_kernels(path);
                INFO(cpu_path_name(path) << ", " << threads << " threads, n = " << n);
                // step 7 of Adam (lr 1e-3): plain, with L2 weight decay, and AdamW
                for (auto [wd, decoupled] : {std::pair<float, bool>{0.0f, false}, {0.01f, false}, {0.01f, true}}) {
                    const AdamStep s{1e-3f, wd, 1e-8f, 0.9f, 0.999f, 1e-3f / (1.0f - std::pow(0.9f, 7.0f)),
                                     std::sqrt(1.0f - std::pow(0.999f, 7.0f)), decoupled};
                    std::vector<float> pw = p0, mw = m0, vw = v0, pg = p0, mg = m0, vg = v0;
                    // as two tensors in one call: [0, h) and [h, n)
                    const int64_t h = n / 2, ns[] = {h, n - h};
                    const float* g2[] = {grad.data(), grad.data() + h};
                    float* pw2[] = {pw.data(), pw.data() + h};
                    float* mw2[] = {mw.data(), mw.data() + h};
                    float* vw2[] = {vw.data(), vw.data() + h};
                    float* pg2[] = {pg.data(), pg.data() + h};
                    float* mg2[] = {mg.data(), mg.data() + h};
                    float* vg2[] = {vg.data(), vg.data() + h};
                    ref.adam_update(pw2, g2, mw2, vw2, ns, 2, s);
                    k.adam_update(pg2, g2, mg2, vg2, ns, 2, s);
                    INFO("weight decay " << wd << (decoupled ? " (AdamW)" : ""));
                    CHECK(pg == pw);
                    CHECK(mg == mw);
                    CHECK(vg == vw);
                }
                std::vector<float> sw = m0, sg = m0;
                const int64_t h = n / 2, ns[] = {h, n - h};
                const float* p2[] = {p0.data(), p0.data() + h};
                float* sw2[] = {sw.data(), sw.data() + h};
                float* sg2[] = {sg.data(), sg.data() + h};
                ref.ema_update(sw2, p2, ns, 2, 0.999f);
                k.ema_update(sg2, p2, ns, 2, 0.999f);
                CHECK(sg == sw);
                const float* xs[] = {grad.data(), p0.data(), m0.data()};  // three tensors, in order
                const int64_t ns3[] = {n, n, std::min<int64_t>(n, 5)};
                const double want = ref.sum_squares(xs, ns3, 3);
                sums[threads - 1] = k.sum_squares(xs, ns3, 3);
                CHECK(std::fabs(sums[threads - 1] - want) <= 1e-12 * want);
            }
            CHECK(sums[0] == sums[1]);
        }
    set_num_threads(before);
}

// conv2d: ours (scalar reference, AVX2, AVX-512 kernel tables, called directly with a ConvShape)
// beside oneDNN's direct convolution, on the UNet-S convolution layers at batch 64, 1 and 2 threads.
// Counters: GFLOP/s (2 flops per multiply-add; the forward is N Cout OH OW Cin KH KW multiply-adds,
// the backward dX + dW twice that; biases not counted). These are the direct sum's FLOPs whatever
// the algorithm: our Winograd layers (3x3, >= 16 channels) do 4x fewer multiplies in the forward
// and dX (F(4x4, 3x3)) and in dW (its adjoint), so their "GFLOP/s" is the speed of
// the same convolution, not of the FMA units, and may pass the peak.
//
// Layers (nn/unet.h; N = 64):
//   conv_in   1 -> 32   28x28 3x3          enc0     32 -> 32  28x28 3x3
//   down0    32 -> 32   28x28 3x3 stride 2 enc1.c2  64 -> 64  14x14 3x3
//   dec0.c1 128 -> 64    7x7  3x3          dec2.c1  96 -> 32  28x28 3x3
//   dec2.skip 96 -> 32  28x28 1x1 (the shortcut)   out_conv 32 -> 1   28x28 3x3
//
// oneDNN runs at its best: src, weights and dst in the layouts it picks (format_tag::any, blocked
// nChw16c-style); the reorders from our NCHW into those layouts are NOT timed. Our kernels read
// and write plain NCHW. oneDNN runs twice: "onednn" with its direct algorithm, "onednn_auto"
// with convolution_auto, where it picks its own Winograd (F(4x4, 3x3)) for the 3x3 stride-1
// layers. Neither is best everywhere (auto runs conv_in ~8x slower than direct), so the summary
// compares with the faster of the two. The scalar reference (~1 GFLOP/s) runs on conv_in only.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <dnnl.hpp>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/kernels/kernels.h"
#include "core/parallel.h"
#include "core/rng.h"

using namespace fw;

namespace {

struct Layer {
    const char* name;
    int64_t Cin, Cout, H, W, K, stride, pad;
};

const Layer kLayers[] = {
    {"conv_in", 1, 32, 28, 28, 3, 1, 1},   {"enc0", 32, 32, 28, 28, 3, 1, 1},
    {"down0", 32, 32, 28, 28, 3, 2, 1},    {"enc1_c2", 64, 64, 14, 14, 3, 1, 1},
    {"dec0_c1", 128, 64, 7, 7, 3, 1, 1},   {"dec2_c1", 96, 32, 28, 28, 3, 1, 1},
    {"dec2_skip", 96, 32, 28, 28, 1, 1, 0}, {"out_conv", 32, 1, 28, 28, 3, 1, 1},
};
constexpr int64_t kBatch = 64;

ConvShape conv_shape(const Layer& l) {
    const int64_t OH = (l.H + 2 * l.pad - l.K) / l.stride + 1, OW = (l.W + 2 * l.pad - l.K) / l.stride + 1;
    return ConvShape{kBatch, l.Cin, l.H, l.W, l.Cout, l.K, l.K, l.stride, l.pad, OH, OW};
}

double forward_flops(const ConvShape& s) { return 2.0 * s.N * s.Cout * s.OH * s.OW * s.Cin * s.KH * s.KW; }

enum Impl { kScalar, kAvx2, kAvx512, kOneDnn, kOneDnnAuto };
const char* kImplNames[] = {"scalar", "avx2", "avx512", "onednn", "onednn_auto"};
enum Pass { kForward, kBackward };
const char* kPassNames[] = {"fwd", "bwd_dx_dw"};

std::vector<float> random_floats(int64_t n, uint64_t seed) {
    std::vector<float> v((size_t)n);
    Generator g(seed);
    g.uniform(v.data(), n, -1, 1);
    return v;
}

void set_threads(int threads) {
    set_num_threads(threads);
    omp_set_num_threads(threads);
}

void finish(benchmark::State& state, double flops) {
    state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// Ours: the kernel table of one CPU path, on NCHW buffers allocated as a Tensor's storage is
// (64-byte aligned). The backward writes dx (GradWrite::Overwrite, as a training step does for a
// gradient buffer it starts, and as oneDNN's backward_data does) and adds to dw, db.
void run_ours(benchmark::State& state, const Layer& l, CpuPath path, Pass pass, int threads) {
    const ConvShape s = conv_shape(l);
    Generator g(1);
    const Tensor x = rand_uniform({s.N, s.Cin, s.H, s.W}, g, -1, 1), w = rand_uniform({s.Cout, s.Cin, s.KH, s.KW}, g, -1, 1),
                 b = rand_uniform({s.Cout}, g, -1, 1), dy = rand_uniform({s.N, s.Cout, s.OH, s.OW}, g, -1, 1);
    Tensor y = Tensor::empty(dy.shape()), dx = Tensor::empty(x.shape()), dw = Tensor::zeros(w.shape()),
           db = Tensor::zeros(b.shape());
    const Kernels& k = cpu_kernels(path);
    set_threads(threads);
    for (auto _ : state) {
        if (pass == kForward) {
            k.conv2d_forward(y.data(), x.data(), w.data(), b.data(), s);
            benchmark::DoNotOptimize(y.data());
        } else {
            k.conv2d_backward(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), s, GradWrite::Overwrite);
            benchmark::DoNotOptimize(dx.data());
            benchmark::DoNotOptimize(dw.data());
        }
        benchmark::ClobberMemory();
    }
    finish(state, (pass == kForward ? 1 : 2) * forward_flops(s));
}

// oneDNN: forward_training, backward_data + backward_weights (with bias), with algorithm alg
// (convolution_direct or convolution_auto).
void run_onednn(benchmark::State& state, const Layer& l, Pass pass, int threads, dnnl::algorithm alg) {
    using namespace dnnl;
    using tag = memory::format_tag;
    using dt = memory::data_type;
    const ConvShape s = conv_shape(l);
    set_threads(threads);
    engine eng(engine::kind::cpu, 0);
    stream strm(eng);
    const memory::dims src_dims = {s.N, s.Cin, s.H, s.W}, wei_dims = {s.Cout, s.Cin, s.KH, s.KW},
                       bia_dims = {s.Cout}, dst_dims = {s.N, s.Cout, s.OH, s.OW}, strides = {s.stride, s.stride},
                       pads = {s.pad, s.pad};
    const memory::desc src_any(src_dims, dt::f32, tag::any), wei_any(wei_dims, dt::f32, tag::any),
        bia_md(bia_dims, dt::f32, tag::x), dst_any(dst_dims, dt::f32, tag::any);
    convolution_forward::primitive_desc fwd_pd(
        convolution_forward::desc(prop_kind::forward_training, alg, src_any, wei_any, bia_md, dst_any, strides, pads,
                                  pads),
        eng);
    // Memory in the layout each primitive wants, filled with data (reorders into it: not timed).
    auto filled = [&](const memory::desc& md, uint64_t seed) {
        memory m(md, eng);
        std::vector<float> v = random_floats((int64_t)(md.get_size() / sizeof(float)), seed);
        std::copy(v.begin(), v.end(), static_cast<float*>(m.get_data_handle()));
        return m;
    };
    if (pass == kForward) {
        memory src = filled(fwd_pd.src_desc(), 1), wei = filled(fwd_pd.weights_desc(), 2), bia = filled(bia_md, 3),
               dst = filled(fwd_pd.dst_desc(), 4);
        convolution_forward conv(fwd_pd);
        for (auto _ : state) {
            conv.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_BIAS, bia}, {DNNL_ARG_DST, dst}});
            strm.wait();
        }
    } else {
        convolution_backward_data::primitive_desc bd_pd(
            convolution_backward_data::desc(alg, src_any, wei_any, dst_any, strides, pads, pads),
            eng, fwd_pd);
        convolution_backward_weights::primitive_desc bw_pd(
            convolution_backward_weights::desc(alg, src_any, wei_any, bia_md, dst_any, strides, pads, pads),
            eng, fwd_pd);
        memory d_src = filled(bd_pd.diff_src_desc(), 5), wei = filled(bd_pd.weights_desc(), 2),
               d_dst = filled(bd_pd.diff_dst_desc(), 4);
        memory src_w = filled(bw_pd.src_desc(), 1), d_dst_w = filled(bw_pd.diff_dst_desc(), 4),
               d_wei = filled(bw_pd.diff_weights_desc(), 6), d_bia = filled(bw_pd.diff_bias_desc(), 7);
        convolution_backward_data bd(bd_pd);
        convolution_backward_weights bw(bw_pd);
        for (auto _ : state) {
            bd.execute(strm, {{DNNL_ARG_DIFF_DST, d_dst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, d_src}});
            bw.execute(strm, {{DNNL_ARG_SRC, src_w}, {DNNL_ARG_DIFF_DST, d_dst_w}, {DNNL_ARG_DIFF_WEIGHTS, d_wei},
                              {DNNL_ARG_DIFF_BIAS, d_bia}});
            strm.wait();
        }
    }
    finish(state, (pass == kForward ? 1 : 2) * forward_flops(s));
}

void register_all() {
    for (int threads : {1, 2})
        for (const Layer& l : kLayers)
            for (Pass pass : {kForward, kBackward})
                for (Impl impl : {kScalar, kAvx2, kAvx512, kOneDnn, kOneDnnAuto}) {
                    if (impl == kScalar && (threads == 2 || std::string(l.name) != "conv_in")) continue;  // ~1 GFLOP/s
                    if (impl == kAvx2 && !cpu_path_supported(CpuPath::Avx2)) continue;
                    if (impl == kAvx512 && !cpu_path_supported(CpuPath::Avx512)) continue;
                    std::string name = std::string("conv/") + l.name + "/" + kPassNames[pass] + "/" + kImplNames[impl] +
                                       "/threads:" + std::to_string(threads);
                    benchmark::RegisterBenchmark(name.c_str(),
                                                 [l, impl, pass, threads](benchmark::State& st) {
                                                     if (impl == kOneDnn || impl == kOneDnnAuto)
                                                         return run_onednn(st, l, pass, threads,
                                                                           impl == kOneDnn
                                                                               ? dnnl::algorithm::convolution_direct
                                                                               : dnnl::algorithm::convolution_auto);
                                                     CpuPath p = impl == kScalar ? CpuPath::Scalar
                                                                 : impl == kAvx2 ? CpuPath::Avx2
                                                                                 : CpuPath::Avx512;
                                                     run_ours(st, l, p, pass, threads);
                                                 })
                        ->UseRealTime()
                        ->Unit(benchmark::kMillisecond);
                }
}

}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}

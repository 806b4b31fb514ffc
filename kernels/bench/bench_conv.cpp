// Conv2d layer benchmarks at the study's shapes (bench_conv_shapes.h): forward with the
// fused bias + ReLU epilogue, backward-data and backward-filter (+ dbias), each for the
// melgrad kernels and for cuDNN, registered side by side:
//   conv_forward/<config>/T<width>/L<layer> ...      /melgrad | /cudnn
// FLOP/s counts 2 N O Ho Wo C kh kw per pass (the useful multiply-adds). GPU only. cuDNN runs
// its fastest algorithms (deterministic = false: what cudnnFind* measures), the peer our
// kernels are held against; training uses its deterministic ones by default.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kernels/bench/bench_conv_shapes.h"
#include "kernels/conv.h"

namespace melgrad::kernels::bench {
namespace {

enum class Pass { forward, backward_data, backward_filter };

void run_conv(benchmark::State& state, const StudyLayer& l, Pass pass, DnnImpl impl) {
  if (!gpu_ready(state, impl, l)) return;
  Conv2dShape s{l.N, l.C, l.H, l.W, l.O, 3, 3, 1, 1, 1, 1};
  const std::size_t nx = static_cast<std::size_t>(s.N * s.C * s.H * s.W),
                    nw = static_cast<std::size_t>(s.O * s.C * 9),
                    ny = static_cast<std::size_t>(s.N * s.O * s.out_h() * s.out_w());
  DeviceBuffer<float> x(bench_inputs(nx, 1)), w(bench_inputs(nw, 2, -0.3f, 0.3f)),
      b(bench_inputs(static_cast<std::size_t>(s.O), 3)), dy(bench_inputs(ny, 4)), y(ny), dx(nx),
      dw(nw), db(static_cast<std::size_t>(s.O));
  const double flops = 2.0 * static_cast<double>(ny) * static_cast<double>(s.C * 9);
  switch (pass) {
    case Pass::forward: {
      Conv2dForwardParams p;
      p.x = x.data(), p.weight = w.data(), p.bias = b.data(), p.y = y.data(), p.shape = s,
      p.relu = true;
      p.impl = impl, p.deterministic = false;
      time_launches(state, impl, flops, 4.0 * (nx + nw + ny), [&] { conv2d_forward(p); });
      break;
    }
    case Pass::backward_data: {
      Conv2dBackwardDataParams p;
      p.dy = dy.data(), p.weight = w.data(), p.dx = dx.data(), p.shape = s, p.impl = impl;
      p.deterministic = false;
      time_launches(state, impl, flops, 4.0 * (nx + nw + ny), [&] { conv2d_backward_data(p); });
      break;
    }
    case Pass::backward_filter: {
      Conv2dBackwardFilterParams p;
      p.x = x.data(), p.dy = dy.data(), p.dweight = dw.data(), p.dbias = db.data(), p.shape = s,
      p.impl = impl, p.deterministic = false;
      DeviceBuffer<float> ws(conv2d_backward_filter_workspace_bytes(p) / sizeof(float) + 1);
      p.workspace = ws.data(), p.workspace_bytes = ws.size() * sizeof(float);
      time_launches(state, impl, flops, 4.0 * (nx + nw + ny), [&] { conv2d_backward_filter(p); });
      break;
    }
  }
}

const bool registered = [] {
  const std::pair<Pass, const char*> passes[] = {{Pass::forward, "conv_forward_bias_relu"},
                                                 {Pass::backward_data, "conv_backward_data"},
                                                 {Pass::backward_filter, "conv_backward_filter"}};
  for (const auto& [pass, pass_name] : passes) {
    std::vector<StudyLayer> layers = study_layers();
    layers.push_back(emulator_layer());
    for (const StudyLayer& l : layers) {
      for (DnnImpl impl : {DnnImpl::melgrad, DnnImpl::cudnn}) {
        if (l.emulator_sized && impl == DnnImpl::cudnn) continue;
        // The first layer's input needs no gradient in the study: no backward-data there.
        if (pass == Pass::backward_data && l.C == 1) continue;
        const std::string name = std::string(pass_name) + "/" + l.name + "/" + dnn_impl_name(impl);
        benchmark::RegisterBenchmark(
            name.c_str(), [l, pass, impl](benchmark::State& st) { run_conv(st, l, pass, impl); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace melgrad::kernels::bench

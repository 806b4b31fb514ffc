// MaxPool2d benchmarks at the study's shapes (bench_conv_shapes.h): after every conv layer,
// max-pool p x p (stride p) over the conv's output [32, O, H, W], forward and backward, for
// the melgrad kernels (with argmax) and cuDNN (no indices: its backward re-reads x and y):
//   max_pool_forward/<config>/T<width>/L<layer> ...  /melgrad | /cudnn
// B/s counts the bytes each implementation must move. GPU only.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kernels/bench/bench_conv_shapes.h"
#include "kernels/pool.h"

namespace melgrad::kernels::bench {
namespace {

void run_pool(benchmark::State& state, const StudyLayer& l, bool backward, DnnImpl impl) {
  if (!gpu_ready(state, impl, l)) return;
  Pool2dShape s;
  s.N = l.N, s.C = l.O, s.H = l.H, s.W = l.W, s.kh = s.kw = s.stride_h = s.stride_w = l.pool;
  const std::size_t nx = static_cast<std::size_t>(s.N * s.C * s.H * s.W),
                    ny = static_cast<std::size_t>(s.N * s.C * s.out_h() * s.out_w());
  DeviceBuffer<float> x(bench_inputs(nx, 1)), y(ny), dy(bench_inputs(ny, 2)), dx(nx);
  DeviceBuffer<int64_t> argmax(ny);
  const bool melgrad = impl == DnnImpl::melgrad;
  MaxPool2dForwardParams f{x.data(), y.data(), melgrad ? argmax.data() : nullptr, s, impl};
  if (!backward) {
    time_launches(state, impl, 0.0, 4.0 * (nx + ny) + (melgrad ? 8.0 * ny : 0.0),
                  [&] { max_pool2d_forward(f); });
    return;
  }
  max_pool2d_forward(f);
  MaxPool2dBackwardParams b;
  b.dy = dy.data(), b.dx = dx.data(), b.shape = s, b.impl = impl;
  if (melgrad) {
    b.argmax = argmax.data();
  } else {
    b.x = x.data(), b.y = y.data();
  }
  time_launches(state, impl, 0.0, melgrad ? 4.0 * (nx + ny) + 8.0 * ny : 4.0 * (2 * nx + 2 * ny),
                [&] { max_pool2d_backward(b); });
}

const bool registered = [] {
  for (bool backward : {false, true}) {
    std::vector<StudyLayer> layers = study_layers();
    layers.push_back(emulator_layer());
    for (const StudyLayer& l : layers) {
      if (l.H < l.pool || l.W < l.pool) continue;  // the last c16-p3 layer at T = 40 is 4 x 1
      for (DnnImpl impl : {DnnImpl::melgrad, DnnImpl::cudnn}) {
        if (l.emulator_sized && impl == DnnImpl::cudnn) continue;
        const std::string name =
            std::string(backward ? "max_pool_backward/" : "max_pool_forward/") + l.name + " pool " +
            std::to_string(l.pool) + "/" + dnn_impl_name(impl);
        benchmark::RegisterBenchmark(
            name.c_str(),
            [l, backward, impl](benchmark::State& st) { run_pool(st, l, backward, impl); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace melgrad::kernels::bench
